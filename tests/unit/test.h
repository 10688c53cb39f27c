/*
 * A minimal unit-test harness. Each test binary defines test functions with TEST(name),
 * lists them in main() with RUN(name), and ends with `return test_summary();`.
 *
 * Output, one line per test, read by tests/run.sh:
 *   PASS <binary>/<test>
 *   FAIL <binary>/<test>: <file>:<line>: <what>
 * The exit status is non-zero when any test failed.
 */
#ifndef SCVB_TEST_H
#define SCVB_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_count;
static int test_passed_count;
static int test_cur_failed;
static const char *test_cur_name;

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                                  \
	do {                                                                                       \
		test_cur_failed = 0;                                                               \
		test_cur_name = #name;                                                             \
		test_##name();                                                                     \
		if (test_cur_failed)                                                               \
			test_failed_count++;                                                       \
		else {                                                                             \
			test_passed_count++;                                                       \
			printf("PASS %s/%s\n", test_binary_name(), #name);                         \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

static inline const char *
test_binary_name(void)
{
	extern char *program_invocation_short_name;
	return program_invocation_short_name;
}

static inline void
test_fail(const char *file, int line, const char *what)
{
	if (!test_cur_failed)
		printf("FAIL %s/%s: %s:%d: %s\n", test_binary_name(), test_cur_name, file, line,
		       what);
	else
		printf("     also: %s:%d: %s\n", file, line, what);
	test_cur_failed = 1;
}

/* Continue after a failed check so one run shows every broken expectation of a test. */
#define CHECK(expr)                                                                                \
	do {                                                                                       \
		if (!(expr))                                                                       \
			test_fail(__FILE__, __LINE__, "CHECK(" #expr ")");                         \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long va_ = (long long)(a), vb_ = (long long)(b);                              \
		if (va_ != vb_) {                                                                  \
			char m_[512];                                                              \
			snprintf(m_, sizeof m_, "%s == %s: got %lld, want %lld", #a, #b, va_,      \
			         vb_);                                                             \
			test_fail(__FILE__, __LINE__, m_);                                         \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *sa_ = (a), *sb_ = (b);                                                 \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                       \
			char m_[1024];                                                             \
			snprintf(m_, sizeof m_,                                                    \
			         "%.200s == %.200s: got \"%.250s\", want \"%.250s\"", #a, #b,      \
			         sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                      \
			test_fail(__FILE__, __LINE__, m_);                                         \
		}                                                                                  \
	} while (0)

/* Stops the current test: for preconditions whose failure makes the rest meaningless. */
#define REQUIRE(expr)                                                                              \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			test_fail(__FILE__, __LINE__, "REQUIRE(" #expr ")");                       \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static inline int
test_summary(void)
{
	return test_failed_count ? 1 : 0;
}

#endif
