#define SUITE_NAME "paging"
#include "testmain.h"

#include "paging.h"

#include <CUnit/CUnit.h>
#include <stdint.h>

static void test_limit(void)
{
    size_t n = 0;
    CU_ASSERT_EQUAL(paging_limit_parse("1", &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(paging_limit_parse("100", &n), 0);
    CU_ASSERT_EQUAL(n, 100);
    static const char *const bad[] = {
        "", "0", "101", "-1", "+5", "5 ", "1e2", "99999999999999999999", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(paging_limit_parse(bad[i], &n), -1);
    CU_ASSERT_EQUAL(n, 100); /* untouched by a refusal */
}

static void test_cursor_round_trip(void)
{
    char s[PAGING_CURSOR_MAX];
    int64_t one = 1234567890123456789, two[2] = {1, INT64_MAX}, back[2];
    CU_ASSERT_STRING_EQUAL(paging_cursor_format(&one, 1, s), "1234567890123456789");
    CU_ASSERT_EQUAL(paging_cursor_parse(s, back, 1), 0);
    CU_ASSERT_EQUAL(back[0], one);
    CU_ASSERT_STRING_EQUAL(paging_cursor_format(two, 2, s), "1.9223372036854775807");
    CU_ASSERT_EQUAL(paging_cursor_parse(s, back, 2), 0);
    CU_ASSERT_EQUAL(back[0], 1);
    CU_ASSERT_EQUAL(back[1], INT64_MAX);
    CU_ASSERT_EQUAL(paging_cursor_parse("0", back, 1), 0);
    CU_ASSERT_EQUAL(back[0], 0);
}

static void test_cursor_rejects(void)
{
    int64_t k[2];
    static const char *const one[] = {
        "", "-1", "+1", "01", "1.2", "1 ", " 1", "a", "9223372036854775808", "1x", "0x10"};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        CU_ASSERT_EQUAL(paging_cursor_parse(one[i], k, 1), -1);
    static const char *const two[] = {"1", "1.", ".1", "1.2.3", "1..2", "1.-2", "1.02"};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        CU_ASSERT_EQUAL(paging_cursor_parse(two[i], k, 2), -1);
    CU_ASSERT_EQUAL(paging_cursor_parse("1", k, 0), -1);
    CU_ASSERT_EQUAL(paging_cursor_parse("1.2.3", k, 3), -1);
}

static void test_trim(void)
{
    size_t n = 21;
    CU_ASSERT_EQUAL(paging_trim(&n, 20), 1);
    CU_ASSERT_EQUAL(n, 20);
    CU_ASSERT_EQUAL(paging_trim(&n, 20), 0);
    CU_ASSERT_EQUAL(n, 20);
    n = 0;
    CU_ASSERT_EQUAL(paging_trim(&n, 20), 0);
    CU_ASSERT_EQUAL(n, 0);
}

static const struct test_case TESTS[] = {
    {"limit: 1..100, digits only", test_limit},
    {"cursor: format and parse round-trip", test_cursor_round_trip},
    {"cursor: anything else is refused", test_cursor_rejects},
    {"trim: the extra row says a next page exists", test_trim},
    {NULL, NULL},
};

#include "testmain.h"
