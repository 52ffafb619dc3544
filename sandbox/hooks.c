#include "hooks.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cashier.h"
#include "http.h"
#include "log.h"
#include "routes.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

#define OUT_TRADE_MAX 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char refund_failure[HOOKS_SUB_CODE_MAX]; /* "" = none armed */

int hooks_take_refund_failure(char sub_code[HOOKS_SUB_CODE_MAX])
{
    pthread_mutex_lock(&lock);
    int armed = refund_failure[0] != '\0';
    memcpy(sub_code, refund_failure, HOOKS_SUB_CODE_MAX);
    refund_failure[0] = '\0';
    pthread_mutex_unlock(&lock);
    return armed;
}

/* Answer status with o (taken) as JSON. */
static void send_json(struct route_ctx *c, int status, json_object *o)
{
    c->res->status = status;
    c->res->content_type = "application/json; charset=utf-8";
    buf_reset(&c->res->body);
    buf_puts(&c->res->body, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE));
    buf_putc(&c->res->body, '\n');
    json_object_put(o);
}

static void send_error(struct route_ctx *c, int status, const char *error)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "error", json_object_new_string(error));
    log_warn("test hook %s: %s", c->req->path, error);
    send_json(c, status, o);
}

/* Form (or query) field name into out; 1 found, else 0. */
static int field(const char *form, size_t len, const char *name, char *out, size_t outsz)
{
    return http_form_get(form, len, name, out, outsz) == 1 && out[0] != '\0';
}

static int body_field(struct route_ctx *c, const char *name, char *out, size_t outsz)
{
    return field(buf_str(&c->req->body), c->req->body.len, name, out, outsz);
}

void hooks_next_refund_fails(struct route_ctx *c)
{
    char sub[HOOKS_SUB_CODE_MAX];
    if (!body_field(c, "sub_code", sub, sizeof sub))
        snprintf(sub, sizeof sub, "ACQ.SELLER_BALANCE_NOT_ENOUGH");
    pthread_mutex_lock(&lock);
    memcpy(refund_failure, sub, sizeof sub);
    pthread_mutex_unlock(&lock);
    log_info("test hook: the next refund fails with %s", sub);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    json_object_object_add(o, "sub_code", json_object_new_string(sub));
    send_json(c, 200, o);
}

/* The paid answer {"ok":true,"trade_no":...,"out_trade_no":...}. */
static void send_paid(struct route_ctx *c, json_object *t)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(1));
    json_object_object_add(o, "trade_no", json_object_new_string(store_str(t, "trade_no")));
    json_object_object_add(o, "out_trade_no", json_object_new_string(store_str(t, "out_trade_no")));
    send_json(c, 200, o);
}

/* The posted out_trade_no and notify flag; 0, or -1 after an error answer. */
static int pay_form(struct route_ctx *c, char out_trade_no[OUT_TRADE_MAX + 1], int *flags)
{
    char v[4];
    if (!body_field(c, "out_trade_no", out_trade_no, OUT_TRADE_MAX + 1)) {
        send_error(c, 400, "out_trade_no is required (1 to 64 characters)");
        return -1;
    }
    *flags = body_field(c, "notify", v, sizeof v) && strcmp(v, "1") == 0 ? CASHIER_NOTIFY : 0;
    return 0;
}

void hooks_pay(struct route_ctx *c)
{
    char no[OUT_TRADE_MAX + 1], id[TRADE_ID_LEN + 1], by[TRADE_ID_LEN + 1];
    int flags, rc = -1;
    if (pay_form(c, no, &flags) != 0)
        return;
    store_lock();
    trade_paid_by(settings.app_id, no, by);
    trade_open_by(settings.app_id, no, id);
    json_object *t = by[0] == '\0' && id[0] != '\0' ? trade_load(id) : NULL;
    if (t != NULL)
        rc = cashier_settle(id, t, flags);
    store_unlock();
    if (by[0] != '\0')
        send_error(c, 409, "this out_trade_no is paid already (see /test/pay-again)");
    else if (t == NULL)
        send_error(c, 404, "no trade was opened for this out_trade_no");
    else if (rc != 0)
        send_error(c, 500, "the payment could not be recorded; see the log");
    else
        send_paid(c, t);
    json_object_put(t);
}

/* A new trade copying paid trade t's order fields, saved as id. NULL on
 * failure. Store locked. */
static json_object *copy_trade(json_object *t, char id[TRADE_ID_LEN + 1])
{
    static const char *const keys[] = {"app_id",     "out_trade_no", "subject", "total_amount",
                                       "notify_url", "return_url",   "status",  "gmt_create"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (store_str(t, keys[i]) == NULL)
            return NULL;
    if (trade_new_id(id) != 0)
        return NULL;
    json_object *n = json_object_new_object();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        json_object_object_add(n, keys[i], json_object_new_string(store_str(t, keys[i])));
    return n;
}

void hooks_pay_again(struct route_ctx *c)
{
    char no[OUT_TRADE_MAX + 1], id[TRADE_ID_LEN + 1], by[TRADE_ID_LEN + 1];
    int flags, rc = -1;
    json_object *n = NULL;
    if (pay_form(c, no, &flags) != 0)
        return;
    store_lock();
    trade_paid_by(settings.app_id, no, by);
    json_object *t = by[0] != '\0' ? trade_load(by) : NULL;
    if (t != NULL && (n = copy_trade(t, id)) != NULL)
        rc = cashier_settle(id, n, flags | CASHIER_AGAIN);
    store_unlock();
    if (t == NULL)
        send_error(c, 409, "this out_trade_no is not paid yet (see /test/pay)");
    else if (rc != 0)
        send_error(c, 500, "the second payment could not be recorded; see the log");
    else
        send_paid(c, n);
    json_object_put(t);
    json_object_put(n);
}

/* The refunds of trade id onto list. */
static void add_refunds(const char *id, json_object *list)
{
    json_object *t = trade_load(id), *rs;
    if (t == NULL || !json_object_object_get_ex(t, "refunds", &rs) ||
        !json_object_is_type(rs, json_type_array)) {
        json_object_put(t);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(rs); i++) {
        json_object *r = json_object_array_get_idx(rs, i), *o = json_object_new_object();
        json_object_object_add(o, "trade_no", json_object_new_string(store_str(t, "trade_no")));
        json_object_object_add(o, "out_request_no",
                               json_object_new_string(store_str(r, "out_request_no")));
        json_object_object_add(o, "amount", json_object_new_string(store_str(r, "refund_amount")));
        json_object_object_add(o, "time", json_object_new_string(store_str(r, "gmt_refund_pay")));
        json_object_array_add(list, o);
    }
    json_object_put(t);
}

void hooks_refunds(struct route_ctx *c)
{
    char no[OUT_TRADE_MAX + 1], ids[TRADE_PAYMENTS_MAX][TRADE_ID_LEN + 1];
    const char *q = c->req->query;
    if (!field(q, strlen(q), "out_trade_no", no, sizeof no)) {
        send_error(c, 400, "out_trade_no is required (1 to 64 characters)");
        return;
    }
    json_object *list = json_object_new_array();
    store_lock();
    int n = trade_payments(settings.app_id, no, ids, TRADE_PAYMENTS_MAX);
    for (int i = 0; i < n; i++)
        add_refunds(ids[i], list);
    store_unlock();
    send_json(c, 200, list);
}
