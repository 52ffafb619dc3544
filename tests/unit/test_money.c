#define SUITE_NAME "money"
#include "testmain.h"

#include "money.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <string.h>

struct accept_case {
    const char *in;
    int64_t cents;
};

static void test_parse_accepts(void)
{
    static const struct accept_case cases[] = {
        {"12", 1200},
        {"12.3", 1230},
        {"12.30", 1230},
        {"0", 0},
        {"0.05", 5},
        {"0.5", 50},
        {"00012.30", 1230},
        {"000000000000000000001.01", 101},
        {"99999999.99", MONEY_MAX_CENTS},
        {"5000.00", 500000},
        {"1.01", 101},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = -1;
        CU_ASSERT_EQUAL_FATAL(money_parse_str(cases[i].in, MONEY_NON_NEGATIVE, &v), 0);
        CU_ASSERT_EQUAL(v, cases[i].cents);
    }
}

static void test_parse_rejects(void)
{
    static const char *const bad[] = {
        "",      "1e3",       "-0.5",         "-0",        "-0.00", "+1",    " 1",   "1 ",
        "1.234", ".5",        "5.",           "1,5",       "NaN",   "inf",   "0x10", "-",
        ".",     "1..2",      "100000000.00", "100000000", "1.2.3", "12a",   "1 .5", "1. 5",
        "--1",   "123456789", "99999999.999", "\xd9\xa1",  "1\n",   "0.0.0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 4242;
        int rc = money_parse_str(bad[i], MONEY_NON_NEGATIVE, &v);
        if (rc != -1)
            fprintf(stderr, "accepted bad input \"%s\"\n", bad[i]);
        CU_ASSERT_EQUAL(rc, -1);
        /* A refusal leaves the output untouched. */
        CU_ASSERT_EQUAL(v, 4242);
    }
    int64_t v = 0;
    CU_ASSERT_EQUAL(money_parse_str(NULL, MONEY_NON_NEGATIVE, &v), -1);
}

static void test_parse_negative(void)
{
    int64_t v = 0;
    CU_ASSERT_EQUAL(money_parse_str("-0.5", MONEY_ALLOW_NEGATIVE, &v), 0);
    CU_ASSERT_EQUAL(v, -50);
    CU_ASSERT_EQUAL(money_parse_str("-99999999.99", MONEY_ALLOW_NEGATIVE, &v), 0);
    CU_ASSERT_EQUAL(v, -MONEY_MAX_CENTS);
    CU_ASSERT_EQUAL(money_parse_str("-0", MONEY_ALLOW_NEGATIVE, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(money_parse_str("-100000000", MONEY_ALLOW_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse_str("--1", MONEY_ALLOW_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse_str("-", MONEY_ALLOW_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse_str("-.5", MONEY_ALLOW_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse_str("+1", MONEY_ALLOW_NEGATIVE, &v), -1);
}

static void test_parse_long_digits(void)
{
    /* Far more digits than int64_t holds: refused, and no overflow (UBSan
     * would report one). */
    char s[512];
    memset(s, '9', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    int64_t v = 7;
    CU_ASSERT_EQUAL(money_parse_str(s, MONEY_NON_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(v, 7);
    CU_ASSERT_EQUAL(money_parse_str("18446744073709551616", MONEY_NON_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse_str("9223372036854775807", MONEY_NON_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse_str("0.000000000000000000001", MONEY_NON_NEGATIVE, &v), -1);
}

static void test_parse_len(void)
{
    /* Only `len` bytes count: a JSON parser hands out slices. */
    int64_t v = 0;
    CU_ASSERT_EQUAL(money_parse("12.30xyz", 5, MONEY_NON_NEGATIVE, &v), 0);
    CU_ASSERT_EQUAL(v, 1230);
    CU_ASSERT_EQUAL(money_parse("12.345", 4, MONEY_NON_NEGATIVE, &v), 0);
    CU_ASSERT_EQUAL(v, 1230);
    CU_ASSERT_EQUAL(money_parse("12.30xyz", 6, MONEY_NON_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse("12", 0, MONEY_NON_NEGATIVE, &v), -1);
    CU_ASSERT_EQUAL(money_parse("7\0"
                                "5",
                                3, MONEY_NON_NEGATIVE, &v),
                    -1);
}

static void test_format(void)
{
    char out[MONEY_STR_MAX];
    CU_ASSERT_STRING_EQUAL(money_format(-5, out), "-0.05");
    CU_ASSERT_STRING_EQUAL(money_format(123450, out), "1234.50");
    CU_ASSERT_STRING_EQUAL(money_format(0, out), "0.00");
    CU_ASSERT_STRING_EQUAL(money_format(5, out), "0.05");
    CU_ASSERT_STRING_EQUAL(money_format(100, out), "1.00");
    CU_ASSERT_STRING_EQUAL(money_format(-100, out), "-1.00");
    CU_ASSERT_STRING_EQUAL(money_format(MONEY_MAX_CENTS, out), "99999999.99");
    CU_ASSERT_STRING_EQUAL(money_format(-MONEY_MAX_CENTS, out), "-99999999.99");
    /* Even amounts outside DECIMAL(10,2) format without overflow. */
    CU_ASSERT_STRING_EQUAL(money_format(INT64_MIN, out), "-92233720368547758.08");
    CU_ASSERT_STRING_EQUAL(money_format(INT64_MAX, out), "92233720368547758.07");
    CU_ASSERT_PTR_EQUAL(money_format(1, out), out);
}

static void test_round_trip(void)
{
    static const int64_t values[] = {0, 1, 9, 10, 99, 100, 101, 123456, 999999, MONEY_MAX_CENTS};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char out[MONEY_STR_MAX];
        int64_t back = -1;
        money_format(values[i], out);
        CU_ASSERT_EQUAL(money_parse_str(out, MONEY_NON_NEGATIVE, &back), 0);
        CU_ASSERT_EQUAL(back, values[i]);
        money_format(-values[i], out);
        CU_ASSERT_EQUAL(money_parse_str(out, MONEY_ALLOW_NEGATIVE, &back), 0);
        CU_ASSERT_EQUAL(back, -values[i]);
    }
}

static void test_mul(void)
{
    int64_t r = 0;
    CU_ASSERT_EQUAL(money_mul(1999, 3, &r), 0);
    CU_ASSERT_EQUAL(r, 5997);
    CU_ASSERT_EQUAL(money_mul(-250, 4, &r), 0);
    CU_ASSERT_EQUAL(r, -1000);
    CU_ASSERT_EQUAL(money_mul(250, -4, &r), 0);
    CU_ASSERT_EQUAL(r, -1000);
    CU_ASSERT_EQUAL(money_mul(-250, -4, &r), 0);
    CU_ASSERT_EQUAL(r, 1000);
    CU_ASSERT_EQUAL(money_mul(0, INT64_MAX, &r), 0);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_EQUAL(money_mul(MONEY_MAX_CENTS, 0, &r), 0);
    CU_ASSERT_EQUAL(r, 0);
    /* Exactly at the bound, and one past it. */
    CU_ASSERT_EQUAL(money_mul(MONEY_MAX_CENTS, 1, &r), 0);
    CU_ASSERT_EQUAL(r, MONEY_MAX_CENTS);
    CU_ASSERT_EQUAL(money_mul(MONEY_MAX_CENTS, -1, &r), 0);
    CU_ASSERT_EQUAL(r, -MONEY_MAX_CENTS);
    CU_ASSERT_EQUAL(money_mul(3, 3333333333, &r), 0);
    CU_ASSERT_EQUAL(r, 9999999999);
    r = 77;
    CU_ASSERT_EQUAL(money_mul(3, 3333333334, &r), -1);
    CU_ASSERT_EQUAL(r, 77);
    CU_ASSERT_EQUAL(money_mul(MONEY_MAX_CENTS, 2, &r), -1);
    CU_ASSERT_EQUAL(money_mul(1, INT64_MAX, &r), -1);
    CU_ASSERT_EQUAL(money_mul(1, INT64_MIN, &r), -1);
    CU_ASSERT_EQUAL(money_mul(-1, INT64_MIN, &r), -1);
    CU_ASSERT_EQUAL(money_mul(INT64_MAX, 1, &r), -1);
    CU_ASSERT_EQUAL(money_mul(INT64_MIN, 1, &r), -1);
    CU_ASSERT_EQUAL(money_mul(MONEY_MAX_CENTS + 1, 1, &r), -1);
    CU_ASSERT_EQUAL(r, 77);
}

static void test_add(void)
{
    int64_t r = 0;
    CU_ASSERT_EQUAL(money_add(1050, 1000, &r), 0);
    CU_ASSERT_EQUAL(r, 2050);
    CU_ASSERT_EQUAL(money_add(1000, -1050, &r), 0);
    CU_ASSERT_EQUAL(r, -50);
    CU_ASSERT_EQUAL(money_add(MONEY_MAX_CENTS - 1, 1, &r), 0);
    CU_ASSERT_EQUAL(r, MONEY_MAX_CENTS);
    CU_ASSERT_EQUAL(money_add(MONEY_MAX_CENTS, -MONEY_MAX_CENTS, &r), 0);
    CU_ASSERT_EQUAL(r, 0);
    CU_ASSERT_EQUAL(money_add(-MONEY_MAX_CENTS + 1, -1, &r), 0);
    CU_ASSERT_EQUAL(r, -MONEY_MAX_CENTS);
    r = 77;
    CU_ASSERT_EQUAL(money_add(MONEY_MAX_CENTS, 1, &r), -1);
    CU_ASSERT_EQUAL(money_add(-MONEY_MAX_CENTS, -1, &r), -1);
    CU_ASSERT_EQUAL(money_add(MONEY_MAX_CENTS, MONEY_MAX_CENTS, &r), -1);
    CU_ASSERT_EQUAL(money_add(INT64_MAX, INT64_MAX, &r), -1);
    CU_ASSERT_EQUAL(money_add(INT64_MIN, -1, &r), -1);
    /* An input outside the bounds is refused even if the sum would fit. */
    CU_ASSERT_EQUAL(money_add(MONEY_MAX_CENTS + 1, -2, &r), -1);
    CU_ASSERT_EQUAL(r, 77);
}

/* Money in JSON is the contract's string with two decimals. */
static void test_json_add(void)
{
    json_object *o = json_object_new_object();
    money_json_add(o, "price", 123450);
    money_json_add(o, "zero", 0);
    money_json_add(o, "refund", -5);
    CU_ASSERT_STRING_EQUAL(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                           "{\"price\":\"1234.50\",\"zero\":\"0.00\",\"refund\":\"-0.05\"}");
    json_object_put(o);
}

static const struct test_case TESTS[] = {
    {"parse accepts the contract's forms", test_parse_accepts},
    {"parse rejects malformed input", test_parse_rejects},
    {"parse negative amounts when allowed", test_parse_negative},
    {"parse refuses long digit strings", test_parse_long_digits},
    {"parse reads exactly len bytes", test_parse_len},
    {"format", test_format},
    {"format and parse round-trip", test_round_trip},
    {"mul with overflow bounds", test_mul},
    {"add with overflow bounds", test_add},
    {"JSON money is a string with two decimals", test_json_add},
    {NULL, NULL},
};

#include "testmain.h"
