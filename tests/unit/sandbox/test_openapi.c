/* sandbox/openapi.c and trade.c: the open API's answers from the store
 * (query, close, refund, refund query) and the trade indexes under them. */
#define SUITE_NAME "sandbox_openapi"
#include "testmain.h"

#include "cashier.h"
#include "hooks.h"
#include "openapi.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char dir[] = "/tmp/test_openapi.XXXXXX";

static int setup(void)
{
    static const char *const subs[] = {TRADE_TRADES,   TRADE_PAID,      TRADE_OPEN,
                                       TRADE_PAYMENTS, TRADE_TRADE_NOS, NULL};
    if (mkdtemp(dir) == NULL)
        return 1;
    char state[PATH_MAX];
    snprintf(state, sizeof state, "%s/state", dir);
    return store_open(state, subs) == 0 ? 0 : 1;
}

static int cleanup(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}

/* An open trade of out_trade_no for amount, as the gateway opens it. */
static void open_trade(const char *out_trade_no, const char *amount, const char *time_expire,
                       char id[TRADE_ID_LEN + 1])
{
    json_object *t = json_object_new_object();
    const char *kv[][2] = {{"app_id", settings.app_id},  {"out_trade_no", out_trade_no},
                           {"subject", "tea"},           {"total_amount", amount},
                           {"notify_url", ""},           {"return_url", ""},
                           {"status", "WAIT_BUYER_PAY"}, {"gmt_create", "2026-01-01 00:00:00"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        json_object_object_add(t, kv[i][0], json_object_new_string(kv[i][1]));
    if (time_expire)
        json_object_object_add(t, "time_expire", json_object_new_string(time_expire));
    CU_ASSERT_EQUAL_FATAL(trade_new_id(id), 0);
    CU_ASSERT_EQUAL(trade_give_trade_no(t, id), 0);
    CU_ASSERT_EQUAL(trade_save(id, t), 0);
    CU_ASSERT_EQUAL(trade_mark_open(settings.app_id, out_trade_no, id), 0);
    json_object_put(t);
}

/* Open and pay (no notification). */
static void paid_trade(const char *out_trade_no, const char *amount, char id[TRADE_ID_LEN + 1])
{
    open_trade(out_trade_no, amount, NULL, id);
    json_object *t = trade_load(id);
    CU_ASSERT_EQUAL(cashier_settle(id, t, 0), 0);
    json_object_put(t);
}

static json_object *biz(const char *json)
{
    return json_tokener_parse(json);
}

/* Call fn with biz text; the answer's field key ("" when absent). */
static char got[128];
static const char *call(json_object *(*fn)(json_object *), const char *json, const char *key)
{
    json_object *b = biz(json), *a = fn(b);
    const char *v = store_str(a, key);
    snprintf(got, sizeof got, "%s", v ? v : "");
    json_object_put(a);
    json_object_put(b);
    return got;
}

static void test_query_says_what_the_trade_is(void)
{
    char id[TRADE_ID_LEN + 1];
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"q0\"}", "sub_code"),
                           "ACQ.TRADE_NOT_EXIST");
    open_trade("q1", "88.00", NULL, id);
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"q1\"}", "code"), "10000");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"q1\"}", "trade_status"),
                           "WAIT_BUYER_PAY");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"q1\"}", "send_pay_date"),
                           "");
    paid_trade("q2", "12.34", id);
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"q2\"}", "trade_status"),
                           "TRADE_SUCCESS");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"q2\"}", "total_amount"),
                           "12.34");
    CU_ASSERT_EQUAL(strlen(call(openapi_trade_query, "{\"out_trade_no\":\"q2\"}", "send_pay_date")),
                    19);
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{}", "sub_code"), "ACQ.INVALID_PARAMETER");
}

static void test_time_expire_closes(void)
{
    char id[TRADE_ID_LEN + 1];
    open_trade("e1", "1.00", "2020-01-01 00:00:00", id);
    json_object *t = trade_load(id);
    CU_ASSERT_STRING_EQUAL(trade_status(t, time(NULL)), "TRADE_CLOSED");
    CU_ASSERT_STRING_EQUAL(trade_status(t, 1500000000), "WAIT_BUYER_PAY"); /* 2017: before it */
    json_object_put(t);
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"e1\"}", "trade_status"),
                           "TRADE_CLOSED");
}

static void test_close(void)
{
    char id[TRADE_ID_LEN + 1];
    open_trade("c1", "5.00", NULL, id);
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_close, "{\"out_trade_no\":\"c1\"}", "code"), "10000");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_close, "{\"out_trade_no\":\"c1\"}", "code"), "10000");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_query, "{\"out_trade_no\":\"c1\"}", "trade_status"),
                           "TRADE_CLOSED");
    paid_trade("c2", "5.00", id);
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_close, "{\"out_trade_no\":\"c2\"}", "sub_code"),
                           "ACQ.TRADE_STATUS_ERROR");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_close, "{\"out_trade_no\":\"c0\"}", "sub_code"),
                           "ACQ.TRADE_NOT_EXIST");
}

#define REFUND(no, amount)                                                                         \
    "{\"out_trade_no\":\"r1\",\"refund_amount\":\"" amount "\",\"out_request_no\":\"" no "\"}"

static void test_refunds_once_per_request_up_to_the_amount(void)
{
    char id[TRADE_ID_LEN + 1];
    paid_trade("r1", "10.00", id);
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, REFUND("a", "4.00"), "refund_fee"), "4.00");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, REFUND("a", "4.00"), "refund_fee"), "4.00");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, REFUND("a", "4.00"), "fund_change"), "Y");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, REFUND("a", "5.00"), "sub_code"),
                           "ACQ.DISCORDANT_REPEAT_REQUEST");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, REFUND("b", "6.01"), "sub_code"),
                           "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, REFUND("b", "6.00"), "refund_fee"), "10.00");
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, REFUND("c", "0.00"), "sub_code"),
                           "ACQ.INVALID_PARAMETER");
    json_object *t = trade_load(id);
    CU_ASSERT_EQUAL(trade_refunded(t), 1000);
    CU_ASSERT_PTR_NOT_NULL(trade_refund_find(t, "b"));
    CU_ASSERT_PTR_NULL(trade_refund_find(t, "c"));
    json_object_put(t);
    CU_ASSERT_STRING_EQUAL(call(openapi_refund_query,
                                "{\"out_trade_no\":\"r1\",\"out_request_no\":\"a\"}",
                                "refund_status"),
                           "REFUND_SUCCESS");
    CU_ASSERT_STRING_EQUAL(call(openapi_refund_query,
                                "{\"out_trade_no\":\"r1\",\"out_request_no\":\"b\"}",
                                "refund_amount"),
                           "6.00");
    CU_ASSERT_STRING_EQUAL(
        call(openapi_refund_query, "{\"out_trade_no\":\"r1\",\"out_request_no\":\"z\"}", "code"),
        "10000");
    CU_ASSERT_STRING_EQUAL(call(openapi_refund_query,
                                "{\"out_trade_no\":\"r1\",\"out_request_no\":\"z\"}",
                                "refund_status"),
                           "");
}

static void test_refund_refusals(void)
{
    char id[TRADE_ID_LEN + 1];
    open_trade("u1", "3.00", NULL, id);
    CU_ASSERT_STRING_EQUAL(
        call(openapi_trade_refund,
             "{\"out_trade_no\":\"u1\",\"refund_amount\":\"1.00\",\"out_request_no\":\"x\"}",
             "sub_code"),
        "ACQ.TRADE_STATUS_ERROR");
    CU_ASSERT_STRING_EQUAL(
        call(openapi_trade_refund,
             "{\"out_trade_no\":\"u0\",\"refund_amount\":\"1.00\",\"out_request_no\":\"x\"}",
             "sub_code"),
        "ACQ.TRADE_NOT_EXIST");
}

static void test_second_payment_is_its_own_trade(void)
{
    char id[TRADE_ID_LEN + 1], id2[TRADE_ID_LEN + 1], ids[TRADE_PAYMENTS_MAX][TRADE_ID_LEN + 1];
    paid_trade("p1", "2.00", id);
    CU_ASSERT_EQUAL(trade_payments(settings.app_id, "p1", ids, TRADE_PAYMENTS_MAX), 1);
    open_trade("p1", "2.00", NULL, id2);
    json_object *t = trade_load(id2);
    CU_ASSERT_EQUAL(cashier_settle(id2, t, 0), 1); /* paid already */
    CU_ASSERT_EQUAL(cashier_settle(id2, t, CASHIER_AGAIN), 0);
    CU_ASSERT_EQUAL(trade_payments(settings.app_id, "p1", ids, TRADE_PAYMENTS_MAX), 2);
    CU_ASSERT_STRING_EQUAL(ids[0], id);
    CU_ASSERT_STRING_EQUAL(ids[1], id2);
    char body[256], by[TRADE_ID_LEN + 1];
    trade_by_trade_no(store_str(t, "trade_no"), by);
    CU_ASSERT_STRING_EQUAL(by, id2);
    snprintf(body, sizeof body,
             "{\"out_trade_no\":\"p1\",\"trade_no\":\"%s\",\"refund_amount\":\"2.00\","
             "\"out_request_no\":\"s\"}",
             store_str(t, "trade_no"));
    CU_ASSERT_STRING_EQUAL(call(openapi_trade_refund, body, "trade_no"), store_str(t, "trade_no"));
    CU_ASSERT_STRING_EQUAL(call(openapi_refund_query,
                                "{\"out_trade_no\":\"p1\",\"out_request_no\":\"s\"}", "trade_no"),
                           store_str(t, "trade_no"));
    json_object_put(t);
}

static void test_trade_no_index_refuses_junk(void)
{
    char by[TRADE_ID_LEN + 1];
    trade_by_trade_no("../paid/x", by);
    CU_ASSERT_STRING_EQUAL(by, "");
    trade_by_trade_no("", by);
    CU_ASSERT_STRING_EQUAL(by, "");
    trade_by_trade_no("2026010122001000000000000000", by);
    CU_ASSERT_STRING_EQUAL(by, "");
}

#define SUITE_INIT    setup
#define SUITE_CLEANUP cleanup

static const struct test_case TESTS[] = {
    {"query: unknown, waiting, paid (send_pay_date), no out_trade_no",
     test_query_says_what_the_trade_is},
    {"a trade past its time_expire is TRADE_CLOSED", test_time_expire_closes},
    {"close: waiting closes (twice fine), paid is refused, unknown", test_close},
    {"refund: idempotent per out_request_no, capped, queried",
     test_refunds_once_per_request_up_to_the_amount},
    {"refund: an unpaid or unknown trade is refused", test_refund_refusals},
    {"a second payment is a trade of its own, refundable by its trade_no",
     test_second_payment_is_its_own_trade},
    {"the trade_no index takes only digits", test_trade_no_index_refuses_junk},
    {NULL, NULL},
};

#include "testmain.h"
