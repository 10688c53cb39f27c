/*
 * libwebsockets' log, shared by every lws context of the daemon (the setting is process-wide):
 * errors and warnings only, one line each, into our log. Private to scv/.
 */
#ifndef SCVB_SCV_LWS_LOG_H
#define SCVB_SCV_LWS_LOG_H

void scv_lws_log_setup(void);

#endif
