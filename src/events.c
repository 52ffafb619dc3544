#include "events.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alipay.h"
#include "buf.h"
#include "money.h"
#include "snowflake.h"

#define EVENT_BODY_MAX 4096

static json_object *parse_object(const char *body, size_t len)
{
    if (body == NULL || len == 0 || len > EVENT_BODY_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(4);
    if (tok == NULL)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    if (o && (json_tokener_get_error(tok) != json_tokener_success ||
              !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* An id carried as a decimal string ("123"); null/absent gives 0 when optional. */
static int get_id(json_object *o, const char *key, int optional, int64_t *out)
{
    json_object *v = json_object_object_get(o, key);
    *out = 0;
    if (v == NULL || json_object_is_type(v, json_type_null))
        return optional ? 0 : -1;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    return snowflake_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), out);
}

void event_put_id(json_object *o, const char *key, int64_t id)
{
    char s[SNOWFLAKE_STR_MAX];
    if (id == 0) {
        json_object_object_add(o, key, NULL);
        return;
    }
    snowflake_format(id, s);
    json_object_object_add(o, key, json_object_new_string(s));
}

static int finish(json_object *o, struct buf *out)
{
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    int rc = s ? buf_append(out, s, len) : -1;
    json_object_put(o);
    return rc;
}

int event_cancel_parse(const char *body, size_t len, struct cancel_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    json_object *n = json_object_object_get(o, "goods_number");
    json_object *m = json_object_object_get(o, "money_paid");
    json_object *r = json_object_object_get(o, "reason");
    if (get_id(o, "order_id", 0, &out->order_id) || get_id(o, "user_id", 0, &out->user_id) ||
        get_id(o, "goods_id", 0, &out->goods_id) || get_id(o, "coupon_id", 1, &out->coupon_id))
        goto out;
    if (n == NULL || !json_object_is_type(n, json_type_int) || json_object_get_int64(n) < 1)
        goto out;
    out->goods_number = json_object_get_int64(n);
    if (m == NULL || !json_object_is_type(m, json_type_string) ||
        money_parse_str(json_object_get_string(m), MONEY_NON_NEGATIVE, &out->money_paid) != 0)
        goto out;
    if (r && json_object_is_type(r, json_type_string))
        snprintf(out->reason, sizeof out->reason, "%s", json_object_get_string(r));
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_cancel_build(const struct cancel_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    event_put_id(o, "order_id", ev->order_id);
    event_put_id(o, "user_id", ev->user_id);
    event_put_id(o, "goods_id", ev->goods_id);
    json_object_object_add(o, "goods_number", json_object_new_int64(ev->goods_number));
    event_put_id(o, "coupon_id", ev->coupon_id);
    money_json_add(o, "money_paid", ev->money_paid);
    json_object_object_add(o, "reason", json_object_new_string(ev->reason));
    return finish(o, out);
}

int event_timeout_parse(const char *body, size_t len, struct timeout_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    json_object *k = json_object_object_get(o, "kind");
    if (get_id(o, "order_id", 0, &out->order_id) || k == NULL ||
        !json_object_is_type(k, json_type_string))
        goto out;
    const char *kind = json_object_get_string(k);
    if (strcmp(kind, "preorder") != 0 && strcmp(kind, "unpaid") != 0)
        goto out;
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_timeout_build(const struct timeout_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    event_put_id(o, "order_id", ev->order_id);
    json_object_object_add(o, "kind", json_object_new_string(ev->kind));
    return finish(o, out);
}

/* 1 when s is one of the NULL-terminated words. */
static int one_of(const char *s, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strcmp(s, *words) == 0)
            return 1;
    return 0;
}

/* One of the NULL-terminated words of `allowed` at o[key] into out (cap
 * bytes). 0 or -1. */
static int get_word(json_object *o, const char *key, const char *const *allowed, char *out,
                    size_t cap)
{
    json_object *v = json_object_object_get(o, key);
    if (v == NULL || !json_object_is_type(v, json_type_string))
        return -1;
    const char *s = json_object_get_string(v);
    if (!one_of(s, allowed) || strlen(s) >= cap)
        return -1;
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int event_query_parse(const char *body, size_t len, struct query_event *out)
{
    static const char *const KINDS[] = {"check", "expiry", NULL};
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    json_object *a = json_object_object_get(o, "attempt");
    if (get_id(o, "order_id", 0, &out->order_id) ||
        get_word(o, "kind", KINDS, out->kind, sizeof out->kind) || a == NULL ||
        !json_object_is_type(a, json_type_int))
        goto out;
    int64_t n = json_object_get_int64(a);
    if (n < 0 || n > EVENT_QUERY_ATTEMPT_MAX)
        goto out;
    out->attempt = (int)n;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_query_build(const struct query_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    event_put_id(o, "order_id", ev->order_id);
    json_object_object_add(o, "kind", json_object_new_string(ev->kind));
    json_object_object_add(o, "attempt", json_object_new_int(ev->attempt));
    return finish(o, out);
}

/* ------------------------------------------------------------- paying */

/* A string field of 1..cap printable ASCII characters (no space) into out;
 * optional: absent or null gives "". */
static int get_token(json_object *o, const char *key, int optional, char *out, size_t cap)
{
    json_object *v = json_object_object_get(o, key);
    out[0] = '\0';
    if (v == NULL || json_object_is_type(v, json_type_null))
        return optional ? 0 : -1;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    const char *s = json_object_get_string(v);
    size_t n = strlen(s);
    if (n == 0 || n > cap)
        return optional && n == 0 ? 0 : -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return -1;
    memcpy(out, s, n + 1);
    return 0;
}

static int get_money(json_object *o, const char *key, int64_t *out)
{
    json_object *v = json_object_object_get(o, key);
    if (v == NULL || !json_object_is_type(v, json_type_string))
        return -1;
    return money_parse_str(json_object_get_string(v), MONEY_NON_NEGATIVE, out);
}

int event_provider_time_ok(const char *s)
{
    time_t t;
    return alipay_timestamp_parse(s, 0, &t) == 0 && t >= EVENT_PROVIDER_TIME_MIN &&
           t < EVENT_PROVIDER_TIME_END;
}

int event_pay_notify_parse(const char *body, size_t len, struct pay_notify_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    if (get_token(o, "provider", 0, out->provider, sizeof out->provider - 1) ||
        get_id(o, "out_trade_no", 0, &out->order_id) ||
        get_token(o, "trade_no", 0, out->trade_no, EVENT_TRADE_NO_MAX) ||
        get_money(o, "total_amount", &out->total_amount) ||
        get_token(o, "notify_id", 1, out->notify_id, EVENT_NOTIFY_ID_MAX) ||
        get_token(o, "trade_status", 0, out->trade_status, sizeof out->trade_status - 1))
        goto out;
    json_object *g = json_object_object_get(o, "gmt_payment");
    if (g != NULL && json_object_is_type(g, json_type_string) &&
        json_object_get_string_len(g) > 0) {
        if (!event_provider_time_ok(json_object_get_string(g)))
            goto out;
        snprintf(out->gmt_payment, sizeof out->gmt_payment, "%s", json_object_get_string(g));
    }
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_pay_notify_build(const struct pay_notify_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    json_object_object_add(o, "provider", json_object_new_string(ev->provider));
    event_put_id(o, "out_trade_no", ev->order_id);
    json_object_object_add(o, "trade_no", json_object_new_string(ev->trade_no));
    money_json_add(o, "total_amount", ev->total_amount);
    json_object_object_add(o, "gmt_payment", json_object_new_string(ev->gmt_payment));
    json_object_object_add(o, "notify_id", json_object_new_string(ev->notify_id));
    json_object_object_add(o, "trade_status", json_object_new_string(ev->trade_status));
    return finish(o, out);
}

int event_paid_parse(const char *body, size_t len, struct paid_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    if (get_id(o, "order_id", 0, &out->order_id) || get_id(o, "user_id", 0, &out->user_id) ||
        get_id(o, "pay_id", 1, &out->pay_id) || get_money(o, "pay_amount", &out->pay_amount) ||
        get_token(o, "trade_no", 0, out->trade_no, EVENT_TRADE_NO_MAX) ||
        get_token(o, "paid_time", 1, out->paid_time, sizeof out->paid_time - 1))
        goto out;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_paid_build(const struct paid_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    event_put_id(o, "order_id", ev->order_id);
    event_put_id(o, "user_id", ev->user_id);
    event_put_id(o, "pay_id", ev->pay_id);
    money_json_add(o, "pay_amount", ev->pay_amount);
    json_object_object_add(o, "trade_no", json_object_new_string(ev->trade_no));
    json_object_object_add(o, "paid_time", json_object_new_string(ev->paid_time));
    return finish(o, out);
}

int event_pay_mismatch_parse(const char *body, size_t len, struct pay_mismatch_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    json_object *e = json_object_object_get(o, "expected_amount");
    if (get_id(o, "order_id", 0, &out->order_id) ||
        get_token(o, "trade_no", 0, out->trade_no, EVENT_TRADE_NO_MAX) ||
        get_money(o, "notify_amount", &out->notify_amount) ||
        get_token(o, "reason", 0, out->reason, sizeof out->reason - 1))
        goto out;
    out->expected_amount = -1;
    if (e != NULL && !json_object_is_type(e, json_type_null) &&
        get_money(o, "expected_amount", &out->expected_amount) != 0)
        goto out;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_pay_mismatch_build(const struct pay_mismatch_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    event_put_id(o, "order_id", ev->order_id);
    json_object_object_add(o, "trade_no", json_object_new_string(ev->trade_no));
    money_json_add(o, "notify_amount", ev->notify_amount);
    if (ev->expected_amount >= 0)
        money_json_add(o, "expected_amount", ev->expected_amount);
    else
        json_object_object_add(o, "expected_amount", NULL);
    json_object_object_add(o, "reason", json_object_new_string(ev->reason));
    return finish(o, out);
}

int event_provider_step_parse(const char *body, size_t len, struct provider_step_event *out)
{
    static const char *const BY[] = {"query", "expiry", "cancel", NULL};
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    if (get_id(o, "order_id", 0, &out->order_id) ||
        get_word(o, "by", BY, out->by, sizeof out->by) ||
        get_token(o, "trade_status", 1, out->trade_status, sizeof out->trade_status - 1))
        goto out;
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_provider_step_build(const struct provider_step_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    event_put_id(o, "order_id", ev->order_id);
    json_object_object_add(o, "by", json_object_new_string(ev->by));
    json_object_object_add(o, "trade_status", json_object_new_string(ev->trade_status));
    return finish(o, out);
}

/* ------------------------------------------------------------ refunds */

/* A string field of at most cap bytes (any text, "" allowed) into out
 * (cap + 1 bytes); absent or null gives "". */
static int get_text(json_object *o, const char *key, char *out, size_t cap)
{
    json_object *v = json_object_object_get(o, key);
    out[0] = '\0';
    if (v == NULL || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) > cap)
        return -1;
    memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
    return 0;
}

static const char *const REFUND_REASONS[] = {"late", "second", "buyer", NULL};
static const char *const REFUND_STATUSES[] = {"requested", "approved", "rejected", "sent",
                                              "succeeded", "failed",   NULL};

int event_refund_parse(const char *body, size_t len, struct refund_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    json_object *a = json_object_object_get(o, "attempts");
    if (get_id(o, "refund_id", 0, &out->refund_id) || get_id(o, "order_id", 0, &out->order_id) ||
        get_id(o, "user_id", 0, &out->user_id) || get_id(o, "pay_id", 1, &out->pay_id) ||
        get_token(o, "trade_no", 0, out->trade_no, EVENT_TRADE_NO_MAX) ||
        get_money(o, "refund_amount", &out->refund_amount) || out->refund_amount <= 0 ||
        get_word(o, "reason", REFUND_REASONS, out->reason, sizeof out->reason) ||
        get_word(o, "refund_status", REFUND_STATUSES, out->refund_status,
                 sizeof out->refund_status) ||
        a == NULL || !json_object_is_type(a, json_type_int) || json_object_get_int64(a) < 0 ||
        get_text(o, "note", out->note, sizeof out->note - 1) ||
        get_text(o, "last_error", out->last_error, sizeof out->last_error - 1))
        goto out;
    out->attempts = json_object_get_int64(a);
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_refund_build(const struct refund_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    event_put_id(o, "refund_id", ev->refund_id);
    event_put_id(o, "order_id", ev->order_id);
    event_put_id(o, "user_id", ev->user_id);
    event_put_id(o, "pay_id", ev->pay_id);
    json_object_object_add(o, "trade_no", json_object_new_string(ev->trade_no));
    money_json_add(o, "refund_amount", ev->refund_amount);
    json_object_object_add(o, "reason", json_object_new_string(ev->reason));
    json_object_object_add(o, "refund_status", json_object_new_string(ev->refund_status));
    json_object_object_add(o, "attempts", json_object_new_int64(ev->attempts));
    json_object_object_add(o, "note", json_object_new_string(ev->note));
    json_object_object_add(o, "last_error", json_object_new_string(ev->last_error));
    return finish(o, out);
}

int event_refund_message_id(const char *routing_key, const struct refund_event *ev, char *out,
                            size_t outsz)
{
    static const char *const once[] = {EV_REFUND_REQUESTED, EV_REFUND_REJECTED, EV_REFUND_SUCCEEDED,
                                       NULL};
    static const char *const per_attempt[] = {EV_REFUND_APPROVED, EV_REFUND_SENT, EV_REFUND_FAILED,
                                              NULL};
    int n;
    if (one_of(routing_key, once))
        n = snprintf(out, outsz, "%s:%" PRId64, routing_key, ev->refund_id);
    else if (one_of(routing_key, per_attempt))
        n = snprintf(out, outsz, "%s:%" PRId64 ":%" PRId64, routing_key, ev->refund_id,
                     ev->attempts);
    else
        return -1;
    return n > 0 && (size_t)n < outsz ? 0 : -1;
}
