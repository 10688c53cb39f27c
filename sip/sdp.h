/*
 * The one thing the signalling-only bridge reads in SDP: whether an offer puts the call on
 * hold. Internal to sip/ (a pure function, no sofia types).
 */
#ifndef SCVB_SIP_SDP_H
#define SCVB_SIP_SDP_H

#include <stddef.h>

/*
 * 1 when the offer holds the call: every active media stream (port != 0) is sendonly or
 * inactive (media-level attribute, else the session-level one), or its connection address is
 * 0.0.0.0 (the RFC 2543 way, still sent by some PBXs). 0 otherwise (sendrecv, recvonly, no
 * direction, no active stream). Bounded: reads at most len bytes, lines of any length.
 */
int sip_sdp_is_hold(const char *sdp, size_t len);

#endif
