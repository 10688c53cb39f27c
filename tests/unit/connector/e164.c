#include "connector/e164.c"

#include "tests/unit/test.h"

#include <errno.h>

/* Normalizes in with cc and checks the result, or the error when want starts with '-'. */
#define NORM(in, cc, want)                                                                         \
	do {                                                                                       \
		char out_[32] = "untouched";                                                       \
		int rc_ = e164_normalize((in), (cc), out_, sizeof out_);                           \
		CHECK_INT(rc_, 0);                                                                 \
		CHECK_STR(out_, (want));                                                           \
	} while (0)

#define REFUSED(in, cc)                                                                            \
	do {                                                                                       \
		char out_[32] = "untouched";                                                       \
		CHECK_INT(e164_normalize((in), (cc), out_, sizeof out_), -EINVAL);                 \
		CHECK_STR(out_, "untouched");                                                      \
	} while (0)

TEST(valid)
{
	CHECK(e164_valid("+15550100000"));
	CHECK(e164_valid("+1234567"));         /* 7 digits: the shortest */
	CHECK(e164_valid("+123456789012345")); /* 15 digits: the longest */
	CHECK(e164_valid("+442079460000"));

	CHECK(!e164_valid(NULL));
	CHECK(!e164_valid(""));
	CHECK(!e164_valid("+"));
	CHECK(!e164_valid("+123456"));           /* 6 digits */
	CHECK(!e164_valid("+1234567890123456")); /* 16 digits */
	CHECK(!e164_valid("+05550100000"));      /* leading zero after "+" */
	CHECK(!e164_valid("15550100000"));       /* no "+" */
	CHECK(!e164_valid("++15550100000"));
	CHECK(!e164_valid("+1 555 0100000"));
	CHECK(!e164_valid("+1-555-0100000"));
	CHECK(!e164_valid("+1555010000a"));
	CHECK(!e164_valid("+15550100000;x=y"));
	CHECK(!e164_valid(" +15550100000"));
	CHECK(!e164_valid("+15550100000 "));
}

TEST(plus_kept)
{
	NORM("+15550100000", NULL, "+15550100000");
	NORM("+15550100000", "44", "+15550100000"); /* the default cc plays no part */
	NORM("+1234567", NULL, "+1234567");
	NORM("+123456789012345", NULL, "+123456789012345");
}

TEST(separators_and_params_dropped)
{
	NORM("+1 (555) 010-0000", NULL, "+15550100000");
	NORM("+1.555.010.0000", NULL, "+15550100000");
	NORM("  +15550100000  ", NULL, "+15550100000");
	NORM("(+44) 20 7946 0000", NULL, "+442079460000");
	NORM("+15550100000;user=phone", NULL, "+15550100000");
	NORM("+15550100000;anything-after=the semicolon;x", NULL, "+15550100000");
	NORM("0044 20-7946-0000", NULL, "+442079460000");
}

TEST(tel_prefix)
{
	NORM("tel:+1-555-010-0000", NULL, "+15550100000");
	NORM("TEL:+15550100000", NULL, "+15550100000");
	NORM("tel:+1-555-010-0000;phone-context=example.com", NULL, "+15550100000");
	NORM("tel:020 7946 0000", "44", "+442079460000");
	REFUSED("tel:", NULL);
	REFUSED("tel:tel:+15550100000", NULL);
	REFUSED("sip:+15550100000", NULL); /* the user part is the caller's job */
}

TEST(international_prefix)
{
	NORM("0015550100000", NULL, "+15550100000");
	NORM("00442079460000", "1", "+442079460000"); /* "00" wins over the trunk "0" */
	REFUSED("00", "1");
	REFUSED("000442079460000", NULL);    /* "+0..." */
	REFUSED("00123456", NULL);           /* 6 digits after "00" */
	REFUSED("001234567890123456", NULL); /* 16 digits after "00" */
}

TEST(trunk_zero_with_cc)
{
	NORM("02079460000", "44", "+442079460000");
	NORM("0 20 7946 0000", "44", "+442079460000");
	NORM("0612345678", "33", "+33612345678");
	/* Without a default cc, "0..." is neither international nor national. */
	REFUSED("02079460000", NULL);
	REFUSED("02079460000", "");
	REFUSED("0", "44");                /* "+44": too short */
	REFUSED("0123", "44");             /* "+44123": too short */
	REFUSED("0123456789012345", "44"); /* too long once the cc is added */
}

TEST(eleven_to_fifteen_digits)
{
	NORM("15550100000", NULL, "+15550100000");         /* 11 */
	NORM("15550100000", "44", "+15550100000");         /* cc not added at 11+ digits */
	NORM("123456789012345", NULL, "+123456789012345"); /* 15 */
	REFUSED("1234567890123456", NULL);                 /* 16 */
	REFUSED("1234567890123456", "1");
}

TEST(short_with_cc)
{
	NORM("5550100000", "1", "+15550100000"); /* 10 digits */
	NORM("555-010-0000", "1", "+15550100000");
	NORM("555010", "1", "+1555010"); /* 7 digits in all */
	NORM("5550100", "353", "+3535550100");
	REFUSED("5550100000", NULL);
	REFUSED("12345", "1"); /* "+112345": 6 digits */
	REFUSED("1234", "1");  /* short extension */
	REFUSED("7000", NULL);
}

TEST(bad_default_cc)
{
	REFUSED("5550100000", "0");
	REFUSED("5550100000", "01");
	REFUSED("5550100000", "1234");
	REFUSED("5550100000", "+1");
	REFUSED("5550100000", "1a");
	/* even when the number would not need it */
	REFUSED("+15550100000", "abc");
}

TEST(rejects)
{
	REFUSED(NULL, "1");
	REFUSED("", NULL);
	REFUSED("", "1");
	REFUSED("+", NULL);
	REFUSED("anonymous", NULL);
	REFUSED("anonymous", "1");
	REFUSED("Anonymous;tag=1", "1");
	REFUSED("+1555abc0000", NULL);
	REFUSED("++15550100000", NULL);
	REFUSED("+1+5550100000", NULL);
	REFUSED("1+5550100000", NULL);
	REFUSED("+05550100000", NULL);
	REFUSED("+123456", NULL);
	REFUSED("+1234567890123456", NULL);
	REFUSED("+1555\t0100000", NULL); /* a tab is not a visual separator */
	REFUSED("+1555/0100000", NULL);
	REFUSED("*97", "1");
	REFUSED("#123", "1");
	REFUSED(";user=phone", "1");
	REFUSED("12345678901234567890123456789012345678901234567890", NULL);
}

TEST(output_space)
{
	char out[13] = "untouched";

	CHECK_INT(e164_normalize("+15550100000", NULL, out, 12), -ENOSPC);
	CHECK_STR(out, "untouched");
	CHECK_INT(e164_normalize("+15550100000", NULL, out, 13), 0);
	CHECK_STR(out, "+15550100000");
	CHECK_INT(e164_normalize("+15550100000", NULL, out, 0), -ENOSPC);
	/* A refused number reports -EINVAL even when out is too small. */
	CHECK_INT(e164_normalize("anonymous", NULL, out, 1), -EINVAL);
}

TEST(normalized_is_valid)
{
	static const char *const inputs[] = {"+15550100000", "0015550100000",
	                                     "02079460000",  "15550100000",
	                                     "5550100000",   "tel:+44-20-7946-0000"};
	char out[32];

	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		REQUIRE(e164_normalize(inputs[i], "44", out, sizeof out) == 0);
		CHECK(e164_valid(out));
	}
}

int
main(void)
{
	RUN(valid);
	RUN(plus_kept);
	RUN(separators_and_params_dropped);
	RUN(tel_prefix);
	RUN(international_prefix);
	RUN(trunk_zero_with_cc);
	RUN(eleven_to_fifteen_digits);
	RUN(short_with_cc);
	RUN(bad_default_cc);
	RUN(rejects);
	RUN(output_space);
	RUN(normalized_is_valid);
	return test_summary();
}
