/*
 * What a Salesforce answer means for the operation that caused it (see classify.h and
 * reference/salesforce-telephony-api.md §5.1).
 */
#include "scv/classify.h"

enum scv_verdict
scv_classify(const struct scv_http_resp *resp)
{
	int s = resp->status;

	/* No complete answer (timeout, refused, reset, TLS failure, client closing): the
	 * operation stays in the outbox and goes again later. */
	if (s == 0)
		return SCV_RETRY;
	if (s >= 200 && s <= 299)
		return SCV_DONE;
	if (s == 429 || (s >= 500 && s <= 599))
		return SCV_RETRY;
	if (s == 401 || s == 403)
		return SCV_AUTH;
	return SCV_PERMANENT;
}

const char *
scv_verdict_name(enum scv_verdict v)
{
	switch (v) {
	case SCV_DONE:
		return "done";
	case SCV_RETRY:
		return "retry";
	case SCV_AUTH:
		return "auth";
	case SCV_PERMANENT:
		return "permanent";
	}
	return "unknown";
}
