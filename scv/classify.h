/*
 * What a Salesforce answer means for the operation that caused it.
 */
#ifndef SCVB_SCV_CLASSIFY_H
#define SCVB_SCV_CLASSIFY_H

#include "scv/http.h"

enum scv_verdict {
	SCV_DONE = 0,  /* 2xx: accepted */
	SCV_RETRY,     /* 429, 5xx, timeouts, connection errors: retry later (honour Retry-After) */
	SCV_AUTH,      /* 401, 403: key or clock problem, not the record's fault: pause, alert */
	SCV_PERMANENT, /* other 4xx (and other statuses): will not succeed by retrying */
};

enum scv_verdict scv_classify(const struct scv_http_resp *resp);
const char *scv_verdict_name(enum scv_verdict v);

#endif
