#include "openapi.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alipay.h"
#include "hooks.h"
#include "log.h"
#include "money.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

#define NO_MAX 64 /* out_trade_no, trade_no, out_request_no */

static void add(json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

static json_object *answer(const char *code, const char *msg)
{
    json_object *a = json_object_new_object();
    add(a, "code", code);
    add(a, "msg", msg);
    return a;
}

static json_object *success(void)
{
    return answer("10000", "Success");
}

json_object *openapi_failed(const char *sub_code, const char *sub_msg)
{
    json_object *a = answer("40004", "Business Failed");
    add(a, "sub_code", sub_code);
    add(a, "sub_msg", sub_msg);
    return a;
}

static json_object *unavailable(void)
{
    json_object *a = answer("20000", "Service Currently Unavailable");
    add(a, "sub_code", "isp.unknow-error");
    add(a, "sub_msg", "The sandbox could not store this; see its log.");
    return a;
}

/* A string field of biz of 1..NO_MAX characters, or NULL. */
static const char *biz_no(json_object *biz, const char *key)
{
    const char *v = store_str(biz, key);
    return v != NULL && v[0] != '\0' && strlen(v) <= NO_MAX ? v : NULL;
}

/* The trade biz names (id filled): by trade_no when given (it must belong to
 * out_trade_no when that is given too), else the one that paid out_trade_no,
 * else its open one. NULL when there is none. Store locked. */
static json_object *find_trade(json_object *biz, char id[TRADE_ID_LEN + 1])
{
    const char *out_trade_no = biz_no(biz, "out_trade_no"), *trade_no = biz_no(biz, "trade_no");
    id[0] = '\0';
    if (trade_no != NULL)
        trade_by_trade_no(trade_no, id);
    else if (out_trade_no != NULL) {
        trade_paid_by(settings.app_id, out_trade_no, id);
        if (id[0] == '\0')
            trade_open_by(settings.app_id, out_trade_no, id);
    }
    json_object *t = id[0] != '\0' ? trade_load(id) : NULL;
    const char *owner = t != NULL ? store_str(t, "out_trade_no") : NULL;
    if (t != NULL && (owner == NULL || (out_trade_no && strcmp(owner, out_trade_no) != 0))) {
        json_object_put(t);
        t = NULL;
    }
    return t;
}

static json_object *not_exist(void)
{
    return openapi_failed("ACQ.TRADE_NOT_EXIST", "交易不存在");
}

static json_object *bad_parameter(const char *what)
{
    return openapi_failed("ACQ.INVALID_PARAMETER", what);
}

static int names_trade(json_object *biz)
{
    return biz_no(biz, "out_trade_no") != NULL || biz_no(biz, "trade_no") != NULL;
}

json_object *openapi_trade_query(json_object *biz)
{
    char id[TRADE_ID_LEN + 1];
    if (!names_trade(biz))
        return bad_parameter("out_trade_no or trade_no is required");
    store_lock();
    json_object *t = find_trade(biz, id);
    store_unlock();
    if (t == NULL)
        return not_exist();
    const char *status = trade_status(t, time(NULL));
    json_object *a = success();
    if (store_str(t, "trade_no") != NULL)
        add(a, "trade_no", store_str(t, "trade_no"));
    add(a, "out_trade_no", store_str(t, "out_trade_no"));
    add(a, "buyer_logon_id", TRADE_BUYER_LOGON_ID);
    add(a, "trade_status", status);
    add(a, "total_amount", store_str(t, "total_amount"));
    if (trade_status_paid(status))
        add(a, "send_pay_date", store_str(t, "gmt_payment"));
    json_object_put(t);
    return a;
}

/* Close trade id t when it waits. The answer. Store locked. */
static json_object *close_trade(const char *id, json_object *t)
{
    const char *status = trade_status(t, time(NULL));
    if (trade_status_paid(status))
        return openapi_failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法: the trade is paid");
    if (status == NULL)
        return unavailable();
    if (strcmp(status, "TRADE_CLOSED") != 0 || strcmp(store_str(t, "status"), "TRADE_CLOSED")) {
        json_object_object_add(t, "status", json_object_new_string("TRADE_CLOSED"));
        if (trade_save(id, t) != 0)
            return unavailable();
        log_info("close: trade %s out_trade_no=%s closed", id, store_str(t, "out_trade_no"));
    }
    json_object *a = success();
    if (store_str(t, "trade_no") != NULL)
        add(a, "trade_no", store_str(t, "trade_no"));
    add(a, "out_trade_no", store_str(t, "out_trade_no"));
    return a;
}

json_object *openapi_trade_close(json_object *biz)
{
    char id[TRADE_ID_LEN + 1];
    if (!names_trade(biz))
        return bad_parameter("out_trade_no or trade_no is required");
    store_lock();
    json_object *t = find_trade(biz, id);
    json_object *a = t != NULL ? close_trade(id, t) : not_exist();
    store_unlock();
    json_object_put(t);
    return a;
}

/* A refund request, checked. */
struct refund_req {
    const char *out_request_no, *reason;
    int64_t cents;
};

/* The answer of a refund that is done (new or the same one again). */
static json_object *refund_done(json_object *t, json_object *r)
{
    char total[MONEY_STR_MAX];
    json_object *a = success();
    add(a, "trade_no", store_str(t, "trade_no"));
    add(a, "out_trade_no", store_str(t, "out_trade_no"));
    add(a, "buyer_logon_id", TRADE_BUYER_LOGON_ID);
    add(a, "fund_change", "Y");
    add(a, "refund_fee", money_format(trade_refunded(t), total));
    add(a, "gmt_refund_pay", store_str(r, "gmt_refund_pay"));
    return a;
}

/* Record refund q of paid trade id t, or refuse it. Store locked. */
static json_object *refund_trade(const char *id, json_object *t, const struct refund_req *q)
{
    char amount[MONEY_STR_MAX], ts[ALIPAY_TIMESTAMP_LEN];
    int64_t total = 0, had;
    json_object *r = trade_refund_find(t, q->out_request_no), *list;
    const char *a = r != NULL ? store_str(r, "refund_amount") : NULL;
    if (r != NULL)
        return a != NULL && money_parse_str(a, MONEY_NON_NEGATIVE, &had) == 0 && had == q->cents
                   ? refund_done(t, r)
                   : openapi_failed("ACQ.DISCORDANT_REPEAT_REQUEST",
                                    "请求信息不一致: this out_request_no was refunded with "
                                    "another amount");
    if (money_parse_str(store_str(t, "total_amount"), MONEY_NON_NEGATIVE, &total) != 0)
        return unavailable();
    if (trade_refunded(t) + q->cents > total)
        return openapi_failed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                              "退款金额超限: the refunds would exceed the amount paid");
    alipay_timestamp(time(NULL), 0, ts);
    r = json_object_new_object();
    add(r, "out_request_no", q->out_request_no);
    add(r, "refund_amount", money_format(q->cents, amount));
    add(r, "gmt_refund_pay", ts);
    add(r, "refund_reason", q->reason);
    if (!json_object_object_get_ex(t, "refunds", &list)) {
        list = json_object_new_array();
        json_object_object_add(t, "refunds", list);
    }
    json_object_array_add(list, r);
    if (trade_save(id, t) != 0)
        return unavailable();
    log_info("refund: trade %s out_trade_no=%s out_request_no=%s amount=%s refunded", id,
             store_str(t, "out_trade_no"), q->out_request_no, amount);
    return refund_done(t, r);
}

json_object *openapi_trade_refund(json_object *biz)
{
    char id[TRADE_ID_LEN + 1], sub_code[HOOKS_SUB_CODE_MAX];
    struct refund_req q = {.out_request_no = biz_no(biz, "out_request_no"),
                           .reason = store_str(biz, "refund_reason")};
    const char *amount = store_str(biz, "refund_amount");
    if (q.out_request_no == NULL)
        q.out_request_no = biz_no(biz, "out_trade_no");
    if (!names_trade(biz) || q.out_request_no == NULL)
        return bad_parameter("out_trade_no or trade_no is required");
    if (amount == NULL || money_parse_str(amount, MONEY_NON_NEGATIVE, &q.cents) != 0 ||
        q.cents <= 0)
        return bad_parameter("refund_amount must be an amount over 0.00");
    if (q.reason != NULL && strlen(q.reason) > 256)
        return bad_parameter("refund_reason is over 256 bytes");
    if (hooks_take_refund_failure(sub_code)) {
        log_info("refund: out_request_no=%s refused by the test hook: %s", q.out_request_no,
                 sub_code);
        return openapi_failed(sub_code, "Refused by the sandbox's test hook; nothing refunded.");
    }
    store_lock();
    json_object *t = find_trade(biz, id), *a;
    if (t == NULL)
        a = not_exist();
    else if (!trade_status_paid(trade_status(t, time(NULL))))
        a = openapi_failed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法: the trade is not paid");
    else
        a = refund_trade(id, t, &q);
    store_unlock();
    json_object_put(t);
    return a;
}

/* The refund out_request_no of the trades biz names (t and r set, t a new
 * reference), or 0 when none has it; -1 when there is no such trade. */
static int find_refund(json_object *biz, const char *out_request_no, json_object **t,
                       json_object **r)
{
    char ids[TRADE_PAYMENTS_MAX][TRADE_ID_LEN + 1];
    const char *out_trade_no = biz_no(biz, "out_trade_no");
    json_object *one = find_trade(biz, ids[0]);
    int n = 1; /* a trade_no names one trade; an out_trade_no every one that paid it */
    if (one == NULL)
        return -1;
    json_object_put(one);
    if (biz_no(biz, "trade_no") == NULL)
        n = trade_payments(settings.app_id, out_trade_no, ids, TRADE_PAYMENTS_MAX);
    for (int i = 0; i < n; i++) {
        *t = trade_load(ids[i]);
        if (*t != NULL && (*r = trade_refund_find(*t, out_request_no)) != NULL)
            return 1;
        json_object_put(*t);
    }
    *t = *r = NULL;
    return 0;
}

json_object *openapi_refund_query(json_object *biz)
{
    json_object *t = NULL, *r = NULL, *a;
    const char *out_request_no = biz_no(biz, "out_request_no");
    if (!names_trade(biz) || out_request_no == NULL)
        return bad_parameter("out_trade_no or trade_no, and out_request_no are required");
    store_lock();
    int found = find_refund(biz, out_request_no, &t, &r);
    store_unlock();
    if (found < 0)
        return not_exist();
    a = success();
    if (found) {
        add(a, "trade_no", store_str(t, "trade_no"));
        add(a, "out_trade_no", store_str(t, "out_trade_no"));
        add(a, "out_request_no", out_request_no);
        add(a, "total_amount", store_str(t, "total_amount"));
        add(a, "refund_amount", store_str(r, "refund_amount"));
        add(a, "refund_status", "REFUND_SUCCESS");
        add(a, "gmt_refund_pay", store_str(r, "gmt_refund_pay"));
    } else {
        add(a, "out_trade_no", store_str(biz, "out_trade_no"));
        add(a, "out_request_no", out_request_no);
    }
    json_object_put(t);
    return a;
}
