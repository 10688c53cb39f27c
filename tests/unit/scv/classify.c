/*
 * scv/classify.c: every class of answer, including the transport errors.
 */
#include "scv/classify.c"

#include <errno.h>

#include "tests/unit/test.h"

static enum scv_verdict
status(int s)
{
	struct scv_http_resp r = {.status = s, .retry_after_s = -1};
	return scv_classify(&r);
}

static enum scv_verdict
failure(int error, int maybe_sent)
{
	struct scv_http_resp r = {
	        .status = 0, .error = error, .maybe_sent = maybe_sent, .retry_after_s = -1};
	return scv_classify(&r);
}

TEST(success)
{
	CHECK_INT(status(200), SCV_DONE);
	CHECK_INT(status(201), SCV_DONE);
	CHECK_INT(status(202), SCV_DONE);
	CHECK_INT(status(204), SCV_DONE);
	CHECK_INT(status(299), SCV_DONE);
}

TEST(retry)
{
	CHECK_INT(status(429), SCV_RETRY);
	CHECK_INT(status(500), SCV_RETRY);
	CHECK_INT(status(502), SCV_RETRY);
	CHECK_INT(status(503), SCV_RETRY);
	CHECK_INT(status(504), SCV_RETRY);
	CHECK_INT(status(599), SCV_RETRY);
	CHECK_INT(failure(-ETIMEDOUT, 0), SCV_RETRY);
	CHECK_INT(failure(-ETIMEDOUT, 1), SCV_RETRY);
	CHECK_INT(failure(-ECONNREFUSED, 0), SCV_RETRY);
	CHECK_INT(failure(-ECONNRESET, 1), SCV_RETRY);
	CHECK_INT(failure(-EPROTO, 0), SCV_RETRY);
	CHECK_INT(failure(-EHOSTUNREACH, 0), SCV_RETRY);
	CHECK_INT(failure(-ECANCELED, 0), SCV_RETRY);
	CHECK_INT(failure(-EMSGSIZE, 1), SCV_RETRY);
}

TEST(oversized_answer_keeps_its_status)
{
	/* http.c keeps the status of an answer whose body was too large */
	struct scv_http_resp r = {.status = 200, .error = -EMSGSIZE, .maybe_sent = 1};

	CHECK_INT(scv_classify(&r), SCV_DONE);
	r.status = 503;
	CHECK_INT(scv_classify(&r), SCV_RETRY);
}

TEST(auth)
{
	CHECK_INT(status(401), SCV_AUTH);
	CHECK_INT(status(403), SCV_AUTH);
}

TEST(permanent)
{
	CHECK_INT(status(400), SCV_PERMANENT);
	CHECK_INT(status(402), SCV_PERMANENT);
	CHECK_INT(status(404), SCV_PERMANENT);
	CHECK_INT(status(405), SCV_PERMANENT);
	CHECK_INT(status(409), SCV_PERMANENT);
	CHECK_INT(status(413), SCV_PERMANENT);
	CHECK_INT(status(422), SCV_PERMANENT);
	CHECK_INT(status(499), SCV_PERMANENT);
	/* anything that is not a 2xx/4xx/5xx answer */
	CHECK_INT(status(100), SCV_PERMANENT);
	CHECK_INT(status(301), SCV_PERMANENT);
	CHECK_INT(status(304), SCV_PERMANENT);
	CHECK_INT(status(600), SCV_PERMANENT);
	CHECK_INT(status(999), SCV_PERMANENT);
	CHECK_INT(status(-1), SCV_PERMANENT);
}

TEST(names)
{
	CHECK_STR(scv_verdict_name(SCV_DONE), "done");
	CHECK_STR(scv_verdict_name(SCV_RETRY), "retry");
	CHECK_STR(scv_verdict_name(SCV_AUTH), "auth");
	CHECK_STR(scv_verdict_name(SCV_PERMANENT), "permanent");
	CHECK_STR(scv_verdict_name((enum scv_verdict)42), "unknown");
}

int
main(void)
{
	RUN(success);
	RUN(retry);
	RUN(oversized_answer_keeps_its_status);
	RUN(auth);
	RUN(permanent);
	RUN(names);
	return test_summary();
}
