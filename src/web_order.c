/* Orders: POST /api/orders (the confirm-order saga, with Idempotency-Key),
 * the buyer's orders as JSON, the buyer's cancel, and the orders pages. The goods page's form
 * (POST /orders) is answered in web_goods.c, next to the page it shows
 * again on a refusal. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "goods_service.h"
#include "log.h"
#include "money.h"
#include "events.h"
#include "order_log.h"
#include "order_saga.h"
#include "order_service.h"
#include "pay_check.h"
#include "refund_service.h"
#include "snowflake.h"
#include "web_internal.h"

/* ----------------------------------------------------------------- API */

/* {"success":false,"code","message"[,"order_id"]} with status. */
static void json_refusal(struct web_ctx *c, int status, enum shop_code code, const char *message,
                         int64_t order_id)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "code", json_object_new_string(shop_code_name(code)));
    json_object_object_add(o, "message",
                           json_object_new_string(message ? message : shop_code_message(code)));
    if (order_id != 0) {
        char id[SNOWFLAKE_STR_MAX];
        snowflake_format(order_id, id);
        json_object_object_add(o, "order_id", json_object_new_string(id));
    }
    http_json(&c->res, status, o);
    json_object_put(o);
}

/* 1..ORDER_IDEM_KEY_MAX characters of [A-Za-z0-9_.:-]. */
static int idem_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > ORDER_IDEM_KEY_MAX)
        return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == ':'))
            return 0;
    return 1;
}

/* The stored first answer of an Idempotency-Key. */
static void replay(struct web_ctx *c, int status, const char *body)
{
    c->res.status = status;
    c->res.content_type = "application/json";
    buf_reset(&c->res.body);
    buf_puts(&c->res.body, body);
    http_header_add(&c->res, "Idempotent-Replayed", "true");
}

void web_api_order_create(struct web_ctx *c)
{
    const char *key = c->req.idempotency_key != NULL ? c->req.idempotency_key : "";
    int64_t user = c->session.user_id;
    json_object *body = NULL;
    struct order_saga_request req;
    struct order o;
    char msg[256];

    if (key[0] != '\0' && !idem_key_ok(key)) {
        http_json_error(&c->res, SHOP_REQUEST_PARAMETER_VALID,
                        "Idempotency-Key must be 1 to 128 characters of letters, digits, "
                        "'_', '-', '.' and ':'.");
        return;
    }
    enum shop_code rc = web_json_body(c, &body);
    if (rc != SHOP_SUCCESS) {
        http_json_error(&c->res, rc,
                        rc == SHOP_REQUEST_PARAMETER_VALID ? "The body must be one JSON object."
                                                           : NULL);
        return;
    }
    rc = order_saga_request_from_json(body, &req, msg, sizeof msg);
    json_object_put(body);
    if (rc != SHOP_SUCCESS) {
        http_json_error(&c->res, rc, msg);
        return;
    }

    db_conn *odb = order_db();
    if (key[0] != '\0') {
        int status;
        char *first = NULL;
        int k = order_idem_claim(odb, user, key, &status, &first);
        if (k < 0) {
            web_error(c, SHOP_DB_UNAVAILABLE);
            return;
        }
        if (k == 0) {
            if (status == 0 || first == NULL)
                json_refusal(c, 409, SHOP_ORDER_INVALID,
                             "An order with this Idempotency-Key is being processed; ask again "
                             "in a moment.",
                             0);
            else
                replay(c, status, first);
            free(first);
            return;
        }
    }

    rc = order_saga_confirm(web_thread_mq(c->app), c->app->notify_pipe, user, &req,
                            c->app->cfg->fault_inject, &o);
    if (rc == SHOP_SUCCESS)
        web_json_success(c, 201, "order", order_to_json(&o));
    else
        json_refusal(c, shop_code_status(rc), rc, NULL, o.order_id);

    if (key[0] != '\0') {
        /* Our own failure before anything was written: let a retry run. */
        int stored = c->res.status >= 500 && o.order_id == 0
                         ? order_idem_release(odb, user, key)
                         : order_idem_finish(odb, user, key, c->res.status, buf_str(&c->res.body));
        if (stored != 0)
            log_error("Idempotency-Key %s of user %" PRId64 ": answer not stored", key, user);
    }
}

/* One page of the user's orders as the request asks (?limit, ?after); next
 * is the next (older) page's cursor ("" on the last page). */
static enum shop_code orders_page(struct web_ctx *c, struct web_list *l, struct order **list,
                                  size_t *n, char next[PAGING_CURSOR_MAX])
{
    int64_t before = 0;
    int more = 0;
    *list = NULL;
    *n = 0;
    next[0] = '\0';
    enum shop_code rc = web_list_args(c, l);
    if (rc != SHOP_SUCCESS)
        return rc;
    if (l->after[0] != '\0' && paging_cursor_parse(l->after, &before, 1) != 0)
        return SHOP_LIST_CURSOR_INVALID;
    rc = order_page(order_db(), c->session.user_id, before, l->limit, list, n, &more);
    if (rc == SHOP_SUCCESS && more)
        paging_cursor_format(&(*list)[*n - 1].order_id, 1, next);
    return rc;
}

void web_api_orders(struct web_ctx *c)
{
    struct web_list l;
    struct order *list = NULL;
    size_t n = 0;
    char next[PAGING_CURSOR_MAX];
    enum shop_code rc = orders_page(c, &l, &list, &n, next);
    if (rc != SHOP_SUCCESS) {
        free(list);
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, order_to_json(&list[i]));
    free(list);
    web_json_page(c, "orders", arr, next[0] ? next : NULL);
}

void web_api_order_get(struct web_ctx *c)
{
    struct order o;
    enum shop_code rc = order_get(order_db(), c->session.user_id, c->ids[0], &o);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_json_success(c, 200, "order", order_to_json(&o));
}

/* The buyer's cancel of the order of the path (pay_check_cancel). */
static enum shop_code cancel(struct web_ctx *c, struct order *o)
{
    return pay_check_cancel(order_db(), web_thread_mq(c->app), c->app->cfg, c->session.user_id,
                            c->ids[0], o);
}

void web_api_order_cancel(struct web_ctx *c)
{
    struct order o;
    enum shop_code rc = cancel(c, &o);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_json_success(c, 200, "order", order_to_json(&o));
}

void web_form_order_cancel(struct web_ctx *c)
{
    struct order o;
    enum shop_code rc = cancel(c, &o);
    /* Paid after all: the order page says so. */
    if (rc != SHOP_SUCCESS && rc != SHOP_ORDER_PAID) {
        web_error(c, rc);
        return;
    }
    char back[48], id[SNOWFLAKE_STR_MAX];
    snprintf(back, sizeof back, "/orders/%s", snowflake_format(c->ids[0], id));
    web_redirect(c, back);
}

/* ------------------------------------------------------------- refunds */

/* The buyer's words about a refund: at most this many bytes of UTF-8 (the
 * column takes 255 characters; longer is cut at a character). */
#define REFUND_NOTE_MAX 1020

/* The buyer asks for a refund of order c->ids[0] with note. */
static enum shop_code ask_refund(struct web_ctx *c, const char *note, struct refund *out)
{
    return refund_request(order_db(), web_thread_mq(c->app), c->session.user_id, c->ids[0], note,
                          out);
}

/* POST /api/orders/{id}/refund {reason?}: 202 refund. */
void web_api_refund_request(struct web_ctx *c)
{
    json_object *body = NULL, *why = NULL;
    char note[REFUND_NOTE_MAX + 1] = "";
    struct refund r;
    enum shop_code rc = c->req.body.len > 0 ? web_json_body(c, &body) : SHOP_SUCCESS;
    if (rc == SHOP_SUCCESS && body != NULL && json_object_object_get_ex(body, "reason", &why) &&
        !json_object_is_type(why, json_type_null)) {
        if (!json_object_is_type(why, json_type_string) ||
            json_object_get_string_len(why) > REFUND_NOTE_MAX)
            rc = SHOP_REQUEST_PARAMETER_VALID;
        else
            snprintf(note, sizeof note, "%s", json_object_get_string(why));
    }
    json_object_put(body);
    if (rc != SHOP_SUCCESS) {
        http_json_error(&c->res, rc, "The body must be a JSON object {\"reason\": text}.");
        return;
    }
    rc = ask_refund(c, note, &r);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_json_success(c, 202, "refund", refund_to_json(&r));
}

/* GET /api/orders/{id}/refunds: the refunds of my order. */
void web_api_refunds(struct web_ctx *c)
{
    struct order o;
    struct refund *list = NULL;
    size_t n = 0;
    enum shop_code rc = order_get(order_db(), c->session.user_id, c->ids[0], &o);
    if (rc == SHOP_SUCCESS)
        rc = refund_list(order_db(), o.order_id, &list, &n);
    if (rc != SHOP_SUCCESS) {
        free(list);
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, refund_to_json(&list[i]));
    free(list);
    web_json_success(c, 200, "refunds", arr);
}

/* POST /orders/{id}/refund (the order page's button): back to the page. */
void web_form_refund(struct web_ctx *c)
{
    char note[REFUND_NOTE_MAX + 1], back[48], id[SNOWFLAKE_STR_MAX];
    struct refund r;
    if (web_form_text(c, "reason", note, sizeof note) != 0) {
        web_error(c, SHOP_REQUEST_PARAMETER_VALID);
        return;
    }
    enum shop_code rc = ask_refund(c, note, &r);
    if (rc != SHOP_SUCCESS && rc != SHOP_REFUND_EXISTS) {
        web_error(c, rc);
        return;
    }
    snprintf(back, sizeof back, "/orders/%s", snowflake_format(c->ids[0], id));
    web_redirect(c, back);
}

/* --------------------------------------------------------------- pages */

static const char *const STATUS_TEXT[] = {"Unconfirmed", "Confirmed", "Cancelled", "Invalid",
                                          "Refund"};
static const char *const STATUS_CLASS[] = {"unconfirmed", "confirmed", "cancelled", "invalid",
                                           "refund"};
static const char *const PAY_TEXT[] = {"Unpaid", "Paying", "Paid"};
static const char *const PAY_CLASS[] = {"unpaid", "paying", "paid"};

#define IN(tbl, i) ((i) >= 0 && (size_t)(i) < sizeof tbl / sizeof tbl[0])

/* "2026-11-26T05:40:01Z" -> "2026-11-26 05:40 UTC" */
static void time_display(const char *iso, char *out, size_t outsz)
{
    if (strlen(iso) < 16)
        snprintf(out, outsz, "%s", iso);
    else
        snprintf(out, outsz, "%.10s %.5s UTC", iso, iso + 11);
}

void web_add_time(json_object *o, const char *key, const char *iso)
{
    char shown[40], k[48];
    if (iso[0] == '\0')
        return;
    web_add_str(o, key, iso);
    time_display(iso, shown, sizeof shown);
    snprintf(k, sizeof k, "%s_display", key);
    web_add_str(o, k, shown);
}

/* An order for the templates: the JSON of the API plus words and names. */
json_object *web_order_view(const struct order *o, const char *goods_name)
{
    json_object *v = order_to_json(o);
    web_add_str(v, "goods_name", goods_name ? goods_name : "");
    web_add_str(v, "status_text",
                IN(STATUS_TEXT, o->order_status) ? STATUS_TEXT[o->order_status] : "?");
    web_add_str(v, "status_class",
                IN(STATUS_CLASS, o->order_status) ? STATUS_CLASS[o->order_status] : "invalid");
    web_add_str(v, "pay_text", IN(PAY_TEXT, o->pay_status) ? PAY_TEXT[o->pay_status] : "?");
    web_add_str(v, "pay_class", IN(PAY_CLASS, o->pay_status) ? PAY_CLASS[o->pay_status] : "unpaid");
    web_add_time(v, "add_time", o->add_time);
    web_add_time(v, "confirm_time", o->confirm_time);
    web_add_time(v, "pay_time", o->pay_time);
    json_object_object_add(v, "has_coupon", json_object_new_boolean(o->coupon_id != 0));
    json_object_object_add(v, "has_balance", json_object_new_boolean(o->money_paid > 0));
    json_object_object_add(v, "is_cancelled",
                           json_object_new_boolean(o->order_status == ORDER_CANCELLED));
    json_object_object_add(v, "is_unconfirmed",
                           json_object_new_boolean(o->order_status == ORDER_UNCONFIRMED));
    json_object_object_add(v, "can_pay",
                           json_object_new_boolean(o->order_status == ORDER_CONFIRMED &&
                                                   o->pay_status != PAY_PAID && o->pay_amount > 0));
    json_object_object_add(
        v, "can_cancel",
        json_object_new_boolean(o->order_status == ORDER_CONFIRMED && o->pay_status != PAY_PAID));
    json_object_object_add(v, "is_paid", json_object_new_boolean(o->pay_status == PAY_PAID));
    json_object_object_add(v, "is_refund",
                           json_object_new_boolean(o->order_status == ORDER_REFUND));
    return v;
}

static void history_add(json_object *arr, const char *what, const char *iso)
{
    json_object *e = json_object_new_object();
    web_add_str(e, "what", what);
    web_add_time(e, "time", iso);
    json_object_array_add(arr, e);
}

static int logged(const struct order_log_entry *log, size_t n, const char *event)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(log[i].event, event) == 0)
            return 1;
    return 0;
}

/* The order's history, oldest first: placed and confirmed from the times the
 * order keeps, then what the log service wrote (trade_order_log), then what
 * the order's state shows but the log does not have (yet). */
json_object *web_order_history(const struct order *o, const struct order_log_entry *log, size_t n)
{
    json_object *arr = json_object_new_array();
    history_add(arr, "Placed", o->add_time);
    if (o->confirm_time[0] != '\0')
        history_add(arr, "Confirmed", o->confirm_time);
    for (size_t i = 0; i < n; i++)
        history_add(arr, log[i].detail, log[i].created_at);
    if (o->pay_time[0] != '\0' && !logged(log, n, EV_ORDER_PAID))
        history_add(arr, "Paid", o->pay_time);
    if (o->order_status == ORDER_CANCELLED && !logged(log, n, EV_ORDER_CANCEL))
        history_add(arr, "Cancelled; stock, coupon and balance given back", "");
    if (o->order_status == ORDER_REFUND && !logged(log, n, EV_ORDER_REFUND))
        history_add(arr, "Marked for refund", "");
    return arr;
}

/* The order's refunds for the page (the refunds only: the page still shows
 * the order without them), and whether the buyer may ask for one. */
static void refunds_view(json_object *v, const struct order *o)
{
    static const char *const STATUS[][2] = {
        {"requested", "Requested: an operator looks at it"},
        {"approved", "Approved: on its way to the payment provider"},
        {"rejected", "Rejected"},
        {"sent", "Sent to the payment provider"},
        {"succeeded", "Refunded"},
        {"failed", "Refused by the payment provider; an operator tries again"},
    };
    static const char *const REASON[][2] = {
        {"late", "Payment after the order was cancelled"},
        {"second", "Second payment of this order"},
        {"buyer", "You asked for it"},
    };
    struct refund *list = NULL;
    size_t n = 0;
    int asked = 0;
    if (refund_list(order_db(), o->order_id, &list, &n) != SHOP_SUCCESS)
        log_warn("order page: refunds of %" PRId64 " not available", o->order_id);
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        json_object *r = refund_to_json(&list[i]);
        for (size_t k = 0; k < sizeof STATUS / sizeof STATUS[0]; k++)
            if (strcmp(list[i].ev.refund_status, STATUS[k][0]) == 0)
                web_add_str(r, "status_text", STATUS[k][1]);
        for (size_t k = 0; k < sizeof REASON / sizeof REASON[0]; k++)
            if (strcmp(list[i].ev.reason, REASON[k][0]) == 0)
                web_add_str(r, "reason_text", REASON[k][1]);
        web_add_time(r, "create_time", list[i].create_time);
        asked = asked || strcmp(list[i].ev.reason, "buyer") == 0;
        json_object_array_add(arr, r);
    }
    free(list);
    json_object_object_add(v, "has_refunds", json_object_new_boolean(n > 0));
    json_object_object_add(v, "refunds", arr);
    json_object_object_add(v, "buyer_refunded", json_object_new_boolean(asked));
    json_object_object_add(v, "can_refund",
                           json_object_new_boolean(!asked && o->order_status == ORDER_CONFIRMED &&
                                                   o->pay_status == PAY_PAID &&
                                                   o->shipping_status == 0 && o->pay_amount > 0));
}

void web_page_orders(struct web_ctx *c)
{
    struct web_list l;
    struct order *list = NULL;
    size_t n = 0;
    char next[PAGING_CURSOR_MAX];
    enum shop_code rc = orders_page(c, &l, &list, &n, next);
    if (rc != SHOP_SUCCESS) {
        free(list);
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        /* The name only: the page still shows the order without it. */
        struct goods g;
        int named = goods_get(goods_db(), list[i].goods_id, &g) == SHOP_SUCCESS;
        json_object_array_add(arr, web_order_view(&list[i], named ? g.goods_name : NULL));
    }
    free(list);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "orders", arr);
    json_object_object_add(d, "order_count", json_object_new_int64((int64_t)n));
    json_object_object_add(d, "later_page", json_object_new_boolean(l.after[0] != '\0'));
    web_list_next_link(d, "/orders", &l, next[0] ? next : NULL);
    web_render_page(c, 200, "orders", d);
}

void web_page_order(struct web_ctx *c)
{
    struct order o;
    struct goods g;
    enum shop_code rc = order_get(order_db(), c->session.user_id, c->ids[0], &o);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    int have_goods = goods_get(goods_db(), o.goods_id, &g) == SHOP_SUCCESS;
    struct order_log_entry *log = NULL;
    size_t nlog = 0;
    /* The history only: the page still shows the order without it. */
    if (order_log_list(order_db(), o.order_id, &log, &nlog) != SHOP_SUCCESS)
        log_warn("order page: history of %" PRId64 " not available", o.order_id);
    json_object *v = web_order_view(&o, have_goods ? g.goods_name : NULL);
    json_object_object_add(v, "history", web_order_history(&o, log, nlog));
    free(log);
    refunds_view(v, &o);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "order", v);
    web_render_page(c, 200, "order", d);
}
