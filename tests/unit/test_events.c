#define SUITE_NAME "events"
#include "testmain.h"

#include "buf.h"
#include "events.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char GOOD_CANCEL[] =
    "{\"order_id\":\"7300000000000000001\",\"user_id\":\"2001\",\"goods_id\":\"1001\","
    "\"goods_number\":2,\"coupon_id\":\"3001\",\"money_paid\":\"12.30\","
    "\"reason\":\"SHOP_GOODS_NUM_NOT_ENOUGH\"}";

static int parse_cancel(const char *body, struct cancel_event *ev)
{
    return event_cancel_parse(body, strlen(body), ev);
}

static void test_cancel_parse(void)
{
    struct cancel_event ev;
    CU_ASSERT_EQUAL_FATAL(parse_cancel(GOOD_CANCEL, &ev), 0);
    CU_ASSERT_EQUAL(ev.order_id, INT64_C(7300000000000000001));
    CU_ASSERT_EQUAL(ev.user_id, 2001);
    CU_ASSERT_EQUAL(ev.goods_id, 1001);
    CU_ASSERT_EQUAL(ev.goods_number, 2);
    CU_ASSERT_EQUAL(ev.coupon_id, 3001);
    CU_ASSERT_EQUAL(ev.money_paid, 1230);
    CU_ASSERT_STRING_EQUAL(ev.reason, "SHOP_GOODS_NUM_NOT_ENOUGH");
}

static void test_cancel_round_trip(void)
{
    struct cancel_event in = {
        .order_id = INT64_C(9223372036854775807),
        .user_id = 2002,
        .goods_id = 1005,
        .goods_number = 3,
        .coupon_id = 3003,
        .money_paid = 999999999, /* 9999999.99 */
        .reason = "SHOP_USER_MONEY_REDUCE_FAIL",
    };
    struct buf b;
    buf_init(&b, 4096);
    CU_ASSERT_EQUAL_FATAL(event_cancel_build(&in, &b), 0);
    /* Ids travel as strings, money as a two-decimal string. */
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"order_id\":\"9223372036854775807\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"money_paid\":\"9999999.99\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"goods_number\":3"));
    struct cancel_event out;
    CU_ASSERT_EQUAL_FATAL(event_cancel_parse(b.data, b.len, &out), 0);
    CU_ASSERT_EQUAL(out.order_id, in.order_id);
    CU_ASSERT_EQUAL(out.user_id, in.user_id);
    CU_ASSERT_EQUAL(out.goods_id, in.goods_id);
    CU_ASSERT_EQUAL(out.goods_number, in.goods_number);
    CU_ASSERT_EQUAL(out.coupon_id, in.coupon_id);
    CU_ASSERT_EQUAL(out.money_paid, in.money_paid);
    CU_ASSERT_STRING_EQUAL(out.reason, in.reason);
    buf_free(&b);
}

static void test_cancel_without_coupon(void)
{
    struct cancel_event in = {.order_id = 11, .user_id = 12, .goods_id = 13, .goods_number = 1};
    struct buf b;
    buf_init(&b, 4096);
    CU_ASSERT_EQUAL_FATAL(event_cancel_build(&in, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"coupon_id\":null"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"money_paid\":\"0.00\""));
    struct cancel_event out;
    CU_ASSERT_EQUAL_FATAL(event_cancel_parse(b.data, b.len, &out), 0);
    CU_ASSERT_EQUAL(out.coupon_id, 0);
    CU_ASSERT_EQUAL(out.money_paid, 0);
    buf_free(&b);

    /* coupon_id absent is the same as null. */
    static const char absent[] = "{\"order_id\":\"1\",\"user_id\":\"2\",\"goods_id\":\"3\","
                                 "\"goods_number\":1,\"money_paid\":\"0\"}";
    CU_ASSERT_EQUAL_FATAL(parse_cancel(absent, &out), 0);
    CU_ASSERT_EQUAL(out.coupon_id, 0);
    CU_ASSERT_STRING_EQUAL(out.reason, "");
}

/* GOOD_CANCEL with one member replaced (value NULL: removed). */
static char *cancel_with(const char *key, const char *value_json)
{
    json_object *o = json_tokener_parse(GOOD_CANCEL);
    if (o == NULL)
        return NULL;
    json_object_object_del(o, key);
    if (value_json != NULL)
        json_object_object_add(o, key, json_tokener_parse(value_json));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

struct refusal {
    const char *key;
    const char *value; /* JSON; NULL removes the member */
};

static void test_cancel_refusals(void)
{
    static const struct refusal cases[] = {
        {"order_id", NULL},        {"order_id", "123"},         {"order_id", "\"\""},
        {"order_id", "\"0\""},     {"order_id", "\"-5\""},      {"order_id", "\"12x\""},
        {"order_id", "null"},      {"user_id", NULL},           {"user_id", "2001"},
        {"goods_id", NULL},        {"goods_id", "true"},        {"coupon_id", "3001"},
        {"goods_number", "0"},     {"goods_number", "-1"},      {"goods_number", "\"2\""},
        {"goods_number", "2.5"},   {"goods_number", NULL},      {"money_paid", "\"1.234\""},
        {"money_paid", "-1"},      {"money_paid", "\"-1.00\""}, {"money_paid", "12.3"},
        {"money_paid", "\"1e3\""}, {"money_paid", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body = cancel_with(cases[i].key, cases[i].value);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        struct cancel_event ev;
        int rc = parse_cancel(body, &ev);
        if (rc != -1)
            fprintf(stderr, "accepted bad order.cancel %s\n", body);
        CU_ASSERT_EQUAL(rc, -1);
        free(body);
    }
}

static void test_cancel_not_json(void)
{
    static const char *const bad[] = {"", "null", "[]", "\"x\"", "{", "{\"order_id\":\"1\"", "{}"};
    struct cancel_event ev;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(parse_cancel(bad[i], &ev), -1);
    CU_ASSERT_EQUAL(event_cancel_parse(NULL, 0, &ev), -1);
    /* Only len bytes count: a valid body cut short is refused. */
    CU_ASSERT_EQUAL(event_cancel_parse(GOOD_CANCEL, strlen(GOOD_CANCEL) - 1, &ev), -1);
    /* Too deep to be an event. */
    CU_ASSERT_EQUAL(parse_cancel("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}", &ev), -1);
}

static void test_timeout_round_trip(void)
{
    static const char *const kinds[] = {"preorder", "unpaid"};
    for (size_t i = 0; i < 2; i++) {
        struct timeout_event in = {.order_id = INT64_C(7300000000000000042)};
        snprintf(in.kind, sizeof in.kind, "%s", kinds[i]);
        struct buf b;
        buf_init(&b, 1024);
        CU_ASSERT_EQUAL_FATAL(event_timeout_build(&in, &b), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"order_id\":\"7300000000000000042\""));
        struct timeout_event out;
        CU_ASSERT_EQUAL_FATAL(event_timeout_parse(b.data, b.len, &out), 0);
        CU_ASSERT_EQUAL(out.order_id, in.order_id);
        CU_ASSERT_STRING_EQUAL(out.kind, kinds[i]);
        buf_free(&b);
    }
}

static void test_timeout_refusals(void)
{
    static const char *const bad[] = {
        "{\"kind\":\"unpaid\"}",
        "{\"order_id\":5,\"kind\":\"unpaid\"}",
        "{\"order_id\":\"5\"}",
        "{\"order_id\":\"5\",\"kind\":\"paid\"}",
        "{\"order_id\":\"5\",\"kind\":1}",
        "{\"order_id\":\"5\",\"kind\":\"UNPAID\"}",
        "{\"order_id\":\"0\",\"kind\":\"unpaid\"}",
        "[\"5\",\"unpaid\"]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct timeout_event ev;
        CU_ASSERT_EQUAL(event_timeout_parse(bad[i], strlen(bad[i]), &ev), -1);
    }
}

static void test_query_round_trip(void)
{
    static const char *const kinds[] = {"check", "expiry"};
    for (size_t i = 0; i < 2; i++) {
        struct query_event in = {.order_id = INT64_C(7300000000000000042), .attempt = (int)i * 3};
        snprintf(in.kind, sizeof in.kind, "%s", kinds[i]);
        struct buf b;
        buf_init(&b, 1024);
        CU_ASSERT_EQUAL_FATAL(event_query_build(&in, &b), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"order_id\":\"7300000000000000042\""));
        struct query_event out;
        CU_ASSERT_EQUAL_FATAL(event_query_parse(b.data, b.len, &out), 0);
        CU_ASSERT_EQUAL(out.order_id, in.order_id);
        CU_ASSERT_STRING_EQUAL(out.kind, kinds[i]);
        CU_ASSERT_EQUAL(out.attempt, in.attempt);
        buf_free(&b);
    }
}

static void test_query_refusals(void)
{
    static const char *const bad[] = {
        "{\"kind\":\"check\",\"attempt\":0}",
        "{\"order_id\":\"5\",\"attempt\":0}",
        "{\"order_id\":\"5\",\"kind\":\"check\"}",
        "{\"order_id\":\"5\",\"kind\":\"paid\",\"attempt\":0}",
        "{\"order_id\":\"5\",\"kind\":\"check\",\"attempt\":-1}",
        "{\"order_id\":\"5\",\"kind\":\"check\",\"attempt\":31}",
        "{\"order_id\":\"5\",\"kind\":\"check\",\"attempt\":\"1\"}",
        "{\"order_id\":\"5\",\"kind\":\"check\",\"attempt\":1.5}",
        "{\"order_id\":\"0\",\"kind\":\"expiry\",\"attempt\":0}",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct query_event ev;
        CU_ASSERT_EQUAL(event_query_parse(bad[i], strlen(bad[i]), &ev), -1);
    }
}

static void test_provider_step_round_trip(void)
{
    static const char *const by[] = {"query", "expiry", "cancel"};
    static const char *const status[] = {"TRADE_SUCCESS", "WAIT_BUYER_PAY", ""};
    for (size_t i = 0; i < 3; i++) {
        struct provider_step_event in = {.order_id = INT64_C(7300000000000000042)};
        snprintf(in.by, sizeof in.by, "%s", by[i]);
        snprintf(in.trade_status, sizeof in.trade_status, "%s", status[i]);
        struct buf b;
        buf_init(&b, 1024);
        CU_ASSERT_EQUAL_FATAL(event_provider_step_build(&in, &b), 0);
        struct provider_step_event out;
        CU_ASSERT_EQUAL_FATAL(event_provider_step_parse(b.data, b.len, &out), 0);
        CU_ASSERT_EQUAL(out.order_id, in.order_id);
        CU_ASSERT_STRING_EQUAL(out.by, by[i]);
        CU_ASSERT_STRING_EQUAL(out.trade_status, status[i]);
        buf_free(&b);
    }
}

static void test_provider_step_refusals(void)
{
    static const char *const bad[] = {
        "{\"by\":\"query\",\"trade_status\":\"\"}",
        "{\"order_id\":\"5\",\"trade_status\":\"\"}",
        "{\"order_id\":\"5\",\"by\":\"someone\",\"trade_status\":\"\"}",
        "{\"order_id\":\"5\",\"by\":\"query\",\"trade_status\":\"A B\"}",
        "{\"order_id\":\"5\",\"by\":\"query\",\"trade_status\":3}",
        "{\"order_id\":\"5\",\"by\":\"query\",\"trade_status\":"
        "\"TRADE_STATUS_THAT_IS_FAR_TOO_LONG_X\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct provider_step_event ev;
        CU_ASSERT_EQUAL(event_provider_step_parse(bad[i], strlen(bad[i]), &ev), -1);
    }
}

static void test_pay_notify_round_trip(void)
{
    struct pay_notify_event in = {
        .provider = "alipay",
        .order_id = INT64_C(384233263771684864),
        .trade_no = "2026112622001019434333197356",
        .total_amount = 1990,
        .gmt_payment = "2026-11-26 06:45:51",
        .notify_id = "ab12cd34",
        .trade_status = "TRADE_SUCCESS",
    };
    struct buf b;
    buf_init(&b, 4096);
    CU_ASSERT_EQUAL_FATAL(event_pay_notify_build(&in, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"out_trade_no\":\"384233263771684864\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"total_amount\":\"19.90\""));
    struct pay_notify_event out;
    CU_ASSERT_EQUAL_FATAL(event_pay_notify_parse(b.data, b.len, &out), 0);
    CU_ASSERT_STRING_EQUAL(out.provider, in.provider);
    CU_ASSERT_EQUAL(out.order_id, in.order_id);
    CU_ASSERT_STRING_EQUAL(out.trade_no, in.trade_no);
    CU_ASSERT_EQUAL(out.total_amount, in.total_amount);
    CU_ASSERT_STRING_EQUAL(out.gmt_payment, in.gmt_payment);
    CU_ASSERT_STRING_EQUAL(out.notify_id, in.notify_id);
    CU_ASSERT_STRING_EQUAL(out.trade_status, in.trade_status);
    buf_free(&b);

    /* gmt_payment and notify_id may be empty. */
    static const char minimal[] =
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"T1\","
        "\"total_amount\":\"0.01\",\"gmt_payment\":\"\",\"trade_status\":\"TRADE_FINISHED\"}";
    CU_ASSERT_EQUAL_FATAL(event_pay_notify_parse(minimal, strlen(minimal), &out), 0);
    CU_ASSERT_EQUAL(out.order_id, 7);
    CU_ASSERT_EQUAL(out.total_amount, 1);
    CU_ASSERT_STRING_EQUAL(out.gmt_payment, "");
    CU_ASSERT_STRING_EQUAL(out.notify_id, "");
}

static void test_pay_notify_refusals(void)
{
    static const char *const bad[] = {
        /* no provider */
        "{\"out_trade_no\":\"7\",\"trade_no\":\"T\",\"total_amount\":\"1.00\","
        "\"trade_status\":\"TRADE_SUCCESS\"}",
        /* out_trade_no not an id */
        "{\"provider\":\"alipay\",\"out_trade_no\":\"A7\",\"trade_no\":\"T\","
        "\"total_amount\":\"1.00\",\"trade_status\":\"TRADE_SUCCESS\"}",
        /* trade_no with a space */
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"T 1\","
        "\"total_amount\":\"1.00\",\"trade_status\":\"TRADE_SUCCESS\"}",
        /* trade_no over 64 */
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"0123456789012345678901234"
        "5678901234567890123456789012345678901234567890\",\"total_amount\":\"1.00\","
        "\"trade_status\":\"TRADE_SUCCESS\"}",
        /* money as a number, three decimals, negative */
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"T\",\"total_amount\":1,"
        "\"trade_status\":\"TRADE_SUCCESS\"}",
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"T\","
        "\"total_amount\":\"1.001\",\"trade_status\":\"TRADE_SUCCESS\"}",
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"T\","
        "\"total_amount\":\"-1.00\",\"trade_status\":\"TRADE_SUCCESS\"}",
        /* a payment time of another shape */
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"T\","
        "\"total_amount\":\"1.00\",\"gmt_payment\":\"2026-11-26T06:45:51Z\","
        "\"trade_status\":\"TRADE_SUCCESS\"}",
        /* no status */
        "{\"provider\":\"alipay\",\"out_trade_no\":\"7\",\"trade_no\":\"T\","
        "\"total_amount\":\"1.00\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pay_notify_event ev;
        CU_ASSERT_EQUAL(event_pay_notify_parse(bad[i], strlen(bad[i]), &ev), -1);
    }
}

/* Finding 6 of issue 10: a time of the right shape is not yet a time. */
static void test_provider_time(void)
{
    static const char *const good[] = {
        "2026-11-26 06:45:51", "2000-01-01 00:00:00", "2028-02-29 23:59:59",
        "2000-02-29 12:00:00", "2199-12-31 23:59:59", "2026-04-30 10:00:00",
    };
    static const char *const bad[] = {
        "2026-99-99 99:99:99",
        "2026-00-10 10:00:00",
        "2026-13-01 10:00:00",
        "2026-01-00 10:00:00",
        "2026-01-32 10:00:00",
        "2026-02-29 10:00:00",
        "2100-02-29 10:00:00",
        "2026-04-31 10:00:00",
        "2026-11-26 24:00:00",
        "2026-11-26 23:60:00",
        "2026-11-26 23:59:60",
        "1999-12-31 23:59:59",
        "0000-00-00 00:00:00",
        "9999-12-31 23:59:59",
        "2026-11-26T06:45:51",
        "2026-11-26 06:45:5",
        "",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT_EQUAL(event_provider_time_ok(good[i]), 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_EQUAL(event_provider_time_ok(bad[i]), 0);
}

static void test_paid_round_trip(void)
{
    struct paid_event in = {
        .order_id = 11,
        .user_id = 22,
        .pay_id = 33,
        .pay_amount = 9888,
        .trade_no = "2026T",
        .paid_time = "2026-11-26T06:45:51Z",
    };
    struct buf b;
    buf_init(&b, 4096);
    CU_ASSERT_EQUAL_FATAL(event_paid_build(&in, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"pay_amount\":\"98.88\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"user_id\":\"22\""));
    struct paid_event out;
    CU_ASSERT_EQUAL_FATAL(event_paid_parse(b.data, b.len, &out), 0);
    CU_ASSERT_EQUAL(out.order_id, in.order_id);
    CU_ASSERT_EQUAL(out.user_id, in.user_id);
    CU_ASSERT_EQUAL(out.pay_id, in.pay_id);
    CU_ASSERT_EQUAL(out.pay_amount, in.pay_amount);
    CU_ASSERT_STRING_EQUAL(out.trade_no, in.trade_no);
    CU_ASSERT_STRING_EQUAL(out.paid_time, in.paid_time);
    buf_free(&b);
    static const char no_user[] =
        "{\"order_id\":\"11\",\"pay_amount\":\"1.00\",\"trade_no\":\"T\",\"paid_time\":\"\"}";
    CU_ASSERT_EQUAL(event_paid_parse(no_user, strlen(no_user), &out), -1);
}

static void test_pay_mismatch_round_trip(void)
{
    struct pay_mismatch_event in = {.order_id = 5,
                                    .trade_no = "T9",
                                    .notify_amount = 60,
                                    .expected_amount = 6000,
                                    .reason = "amount"};
    struct pay_mismatch_event out;
    struct buf b;
    buf_init(&b, 4096);
    CU_ASSERT_EQUAL_FATAL(event_pay_mismatch_build(&in, &b), 0);
    CU_ASSERT_EQUAL_FATAL(event_pay_mismatch_parse(b.data, b.len, &out), 0);
    CU_ASSERT_EQUAL(out.order_id, in.order_id);
    CU_ASSERT_STRING_EQUAL(out.trade_no, in.trade_no);
    CU_ASSERT_EQUAL(out.notify_amount, in.notify_amount);
    CU_ASSERT_EQUAL(out.expected_amount, in.expected_amount);
    CU_ASSERT_STRING_EQUAL(out.reason, in.reason);
    /* No payment row: expected_amount null. */
    buf_reset(&b);
    in.expected_amount = -1;
    snprintf(in.reason, sizeof in.reason, "unknown");
    CU_ASSERT_EQUAL_FATAL(event_pay_mismatch_build(&in, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"expected_amount\":null"));
    CU_ASSERT_EQUAL_FATAL(event_pay_mismatch_parse(b.data, b.len, &out), 0);
    CU_ASSERT_EQUAL(out.expected_amount, -1);
    CU_ASSERT_STRING_EQUAL(out.reason, "unknown");
    buf_free(&b);
}

static const struct refund_event REFUND = {.refund_id = INT64_C(7300000000000000009),
                                           .order_id = INT64_C(7300000000000000001),
                                           .user_id = 2001,
                                           .pay_id = 4001,
                                           .trade_no = "2026112822001400000001",
                                           .refund_amount = 8800,
                                           .reason = "buyer",
                                           .refund_status = "failed",
                                           .attempts = 2,
                                           .note = "too late \"for\" me \xc3\xa9",
                                           .last_error = "ACQ.SYSTEM_ERROR: try again"};

static void test_refund_round_trip(void)
{
    struct refund_event out;
    struct buf b;
    buf_init(&b, 8192);
    CU_ASSERT_EQUAL_FATAL(event_refund_build(&REFUND, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"refund_id\":\"7300000000000000009\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"refund_amount\":\"88.00\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"attempts\":2"));
    CU_ASSERT_EQUAL_FATAL(event_refund_parse(b.data, b.len, &out), 0);
    CU_ASSERT_EQUAL(out.refund_id, REFUND.refund_id);
    CU_ASSERT_EQUAL(out.order_id, REFUND.order_id);
    CU_ASSERT_EQUAL(out.user_id, REFUND.user_id);
    CU_ASSERT_EQUAL(out.pay_id, REFUND.pay_id);
    CU_ASSERT_STRING_EQUAL(out.trade_no, REFUND.trade_no);
    CU_ASSERT_EQUAL(out.refund_amount, REFUND.refund_amount);
    CU_ASSERT_STRING_EQUAL(out.reason, REFUND.reason);
    CU_ASSERT_STRING_EQUAL(out.refund_status, REFUND.refund_status);
    CU_ASSERT_EQUAL(out.attempts, 2);
    CU_ASSERT_STRING_EQUAL(out.note, REFUND.note);
    CU_ASSERT_STRING_EQUAL(out.last_error, REFUND.last_error);
    /* No payment row: pay_id null; empty note and error. */
    struct refund_event in = REFUND;
    in.pay_id = 0;
    in.note[0] = in.last_error[0] = '\0';
    buf_reset(&b);
    CU_ASSERT_EQUAL_FATAL(event_refund_build(&in, &b), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&b), "\"pay_id\":null"));
    CU_ASSERT_EQUAL_FATAL(event_refund_parse(b.data, b.len, &out), 0);
    CU_ASSERT_EQUAL(out.pay_id, 0);
    CU_ASSERT_STRING_EQUAL(out.note, "");
    buf_free(&b);
}

/* The good body with one field replaced (value NULL: removed). */
static int refund_with(const char *key, const char *value)
{
    struct buf b;
    struct refund_event out;
    buf_init(&b, 8192);
    if (event_refund_build(&REFUND, &b) != 0)
        return 0;
    json_object *o = json_tokener_parse(buf_str(&b));
    if (value == NULL)
        json_object_object_del(o, key);
    else
        json_object_object_add(o, key, json_tokener_parse(value));
    const char *s = json_object_to_json_string(o);
    int rc = event_refund_parse(s, strlen(s), &out);
    json_object_put(o);
    buf_free(&b);
    return rc;
}

static void test_refund_refusals(void)
{
    static const char *const bad[][2] = {
        {"refund_id", NULL},
        {"refund_id", "\"0\""},
        {"order_id", "123"},
        {"user_id", NULL},
        {"trade_no", "\"\""},
        {"trade_no", "\"a b\""},
        {"refund_amount", NULL},
        {"refund_amount", "\"0.00\""},
        {"refund_amount", "\"1.234\""},
        {"refund_amount", "1.5"},
        {"reason", "\"other\""},
        {"reason", NULL},
        {"refund_status", "\"done\""},
        {"attempts", "-1"},
        {"attempts", "\"1\""},
        {"attempts", NULL},
        {"note", "7"},
    };
    CU_ASSERT_EQUAL(refund_with("note", "\"\""), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = refund_with(bad[i][0], bad[i][1]);
        if (rc != -1)
            printf("\n  accepted %s = %s\n", bad[i][0], bad[i][1] ? bad[i][1] : "(absent)");
        CU_ASSERT_EQUAL(rc, -1);
    }
    char big[1200];
    memset(big, 'x', sizeof big);
    big[0] = '"';
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    CU_ASSERT_EQUAL(refund_with("last_error", big), -1);
}

static void test_refund_message_ids(void)
{
    char id[128];
    CU_ASSERT_EQUAL(event_refund_message_id(EV_REFUND_REQUESTED, &REFUND, id, sizeof id), 0);
    CU_ASSERT_STRING_EQUAL(id, "refund.requested:7300000000000000009");
    CU_ASSERT_EQUAL(event_refund_message_id(EV_REFUND_SUCCEEDED, &REFUND, id, sizeof id), 0);
    CU_ASSERT_STRING_EQUAL(id, "refund.succeeded:7300000000000000009");
    /* A retry repeats approved, sent and failed: the attempt tells them apart. */
    CU_ASSERT_EQUAL(event_refund_message_id(EV_REFUND_APPROVED, &REFUND, id, sizeof id), 0);
    CU_ASSERT_STRING_EQUAL(id, "refund.approved:7300000000000000009:2");
    CU_ASSERT_EQUAL(event_refund_message_id(EV_REFUND_FAILED, &REFUND, id, sizeof id), 0);
    CU_ASSERT_STRING_EQUAL(id, "refund.failed:7300000000000000009:2");
    CU_ASSERT_EQUAL(event_refund_message_id(EV_ORDER_PAID, &REFUND, id, sizeof id), -1);
    CU_ASSERT_EQUAL(event_refund_message_id(EV_REFUND_SENT, &REFUND, id, 10), -1);
}

static const struct test_case TESTS[] = {
    {"order.cancel parses every field", test_cancel_parse},
    {"order.cancel build/parse round trip", test_cancel_round_trip},
    {"order.cancel without coupon: coupon_id null", test_cancel_without_coupon},
    {"order.cancel refusals", test_cancel_refusals},
    {"order.cancel: not JSON, cut short, too deep", test_cancel_not_json},
    {"order.timeout build/parse round trip", test_timeout_round_trip},
    {"order.timeout refusals", test_timeout_refusals},
    {"pay.query build/parse round trip", test_query_round_trip},
    {"pay.query refusals", test_query_refusals},
    {"pay.asked and pay.closed build/parse round trip", test_provider_step_round_trip},
    {"pay.asked and pay.closed refusals", test_provider_step_refusals},
    {"pay.notify build/parse round trip", test_pay_notify_round_trip},
    {"pay.notify refusals", test_pay_notify_refusals},
    {"provider time: calendar, time of day and range", test_provider_time},
    {"order.paid build/parse round trip", test_paid_round_trip},
    {"pay.mismatch build/parse round trip", test_pay_mismatch_round_trip},
    {"refund.* build/parse round trip", test_refund_round_trip},
    {"refund.* refusals", test_refund_refusals},
    {"refund.* message ids: once, or once per attempt", test_refund_message_ids},
    {NULL, NULL},
};

#include "testmain.h"
