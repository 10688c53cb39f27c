/* tests sip/sdp.c: hold detection in SDP offers */
#include "sip/sdp.c"

#include "tests/unit/test.h"

static int
hold(const char *sdp)
{
	return sip_sdp_is_hold(sdp, strlen(sdp));
}

#define HEAD  "v=0\r\no=a 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
#define AUDIO "m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n"

TEST(active_offers)
{
	CHECK_INT(hold(HEAD AUDIO), 0);
	CHECK_INT(hold(HEAD AUDIO "a=sendrecv\r\n"), 0);
	CHECK_INT(hold(HEAD AUDIO "a=recvonly\r\n"), 0);
	CHECK_INT(hold(HEAD "a=sendrecv\r\n" AUDIO), 0);
	/* LF-only line ends */
	CHECK_INT(hold("v=0\nc=IN IP4 10.0.0.1\nm=audio 4000 RTP/AVP 0\na=sendrecv\n"), 0);
	/* no active stream: not a hold */
	CHECK_INT(hold(HEAD "m=audio 0 RTP/AVP 0\r\na=sendonly\r\n"), 0);
	CHECK_INT(hold(""), 0);
	CHECK_INT(hold("garbage without lines"), 0);
}

TEST(hold_offers)
{
	CHECK_INT(hold(HEAD AUDIO "a=sendonly\r\n"), 1);
	CHECK_INT(hold(HEAD AUDIO "a=inactive\r\n"), 1);
	/* session-level direction applies to streams without their own */
	CHECK_INT(hold(HEAD "a=sendonly\r\n" AUDIO), 1);
	/* media-level wins over session-level */
	CHECK_INT(hold(HEAD "a=sendonly\r\n" AUDIO "a=sendrecv\r\n"), 0);
	/* RFC 2543 style */
	CHECK_INT(hold("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n"), 1);
	CHECK_INT(hold(HEAD "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n"), 1);
	CHECK_INT(hold("v=0\r\nc=IN IP6 ::\r\nm=audio 4000 RTP/AVP 0\r\n"), 1);
}

TEST(several_streams)
{
	/* audio held, video active: not every stream is held */
	CHECK_INT(hold(HEAD AUDIO "a=sendonly\r\nm=video 5000 RTP/AVP 96\r\na=sendrecv\r\n"), 0);
	CHECK_INT(hold(HEAD AUDIO "a=sendonly\r\nm=video 5000 RTP/AVP 96\r\na=inactive\r\n"), 1);
	/* a disabled stream does not count */
	CHECK_INT(hold(HEAD AUDIO "a=inactive\r\nm=video 0 RTP/AVP 96\r\n"), 1);
}

TEST(bounded_by_len)
{
	const char *sdp = HEAD AUDIO "a=sendonly\r\n";
	/* the direction line is outside the given length */
	CHECK_INT(sip_sdp_is_hold(sdp, strlen(HEAD AUDIO)), 0);
	CHECK_INT(sip_sdp_is_hold(sdp, strlen(sdp)), 1);
	/* not a prefix match on longer attribute names */
	CHECK_INT(hold(HEAD AUDIO "a=sendonlyx\r\n"), 0);
}

int
main(void)
{
	RUN(active_offers);
	RUN(hold_offers);
	RUN(several_streams);
	RUN(bounded_by_len);
	return test_summary();
}
