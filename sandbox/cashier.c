#include "cashier.h"

#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "alipay.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "money.h"
#include "notify.h"
#include "page.h"
#include "routes.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

static const char CASHIER[] =
    "<h1>Sandbox cashier</h1>\n<p class=\"muted\">{{subject}}</p>\n"
    "<p class=\"amount\"><small>CNY</small>{{amount}}</p>\n<dl>\n"
    "<dt>Merchant app id</dt><dd>{{app_id}}</dd>\n"
    "<dt>Seller id</dt><dd>{{seller_id}}</dd>\n"
    "<dt>Subject</dt><dd>{{subject}}</dd>\n"
    "<dt>Amount</dt><dd>{{amount}}</dd>\n"
    "<dt>Merchant order</dt><dd>{{out_trade_no}}</dd>\n"
    "<dt>Trade no</dt><dd>{{trade_no}}</dd>\n"
    "{{#time_expire}}<dt>Pay before</dt><dd>{{time_expire}} UTC</dd>\n{{/time_expire}}"
    "</dl>\n<div class=\"actions\">\n"
    "<form method=\"post\" action=\"/pay\"><input type=\"hidden\" name=\"trade\" "
    "value=\"{{trade_id}}\"><button class=\"pay\" type=\"submit\">Pay {{amount}}</button>"
    "</form>\n"
    "<form method=\"post\" action=\"/cancel\"><input type=\"hidden\" name=\"trade\" "
    "value=\"{{trade_id}}\"><button class=\"cancel\" type=\"submit\">Cancel</button></form>\n"
    "</div>\n<div class=\"actions test\">\n"
    "<form method=\"post\" action=\"/pay\"><input type=\"hidden\" name=\"trade\" "
    "value=\"{{trade_id}}\"><input type=\"hidden\" name=\"notify\" value=\"0\">"
    "<button class=\"lose\" type=\"submit\">Pay, but lose the notification</button></form>\n"
    "</div>\n<p class=\"muted hint\">Test only: the last button takes the money and returns you "
    "to the merchant, but the merchant is never notified.</p>\n";

static void add(json_object *d, const char *key, const char *value)
{
    json_object_object_add(d, key, json_object_new_string(value ? value : ""));
}

void cashier_page(struct route_ctx *c, const char *trade_id, json_object *t)
{
    char amount[MONEY_STR_MAX];
    int64_t cents = 0;
    const char *total = store_str(t, "total_amount");
    if (total == NULL || money_parse_str(total, MONEY_NON_NEGATIVE, &cents) != 0)
        cents = 0;
    money_format(cents, amount);
    json_object *d = json_object_new_object();
    add(d, "subject", store_str(t, "subject"));
    add(d, "amount", amount);
    add(d, "app_id", store_str(t, "app_id"));
    add(d, "seller_id", settings.seller_id);
    add(d, "out_trade_no", store_str(t, "out_trade_no"));
    add(d, "trade_id", trade_id);
    add(d, "trade_no", store_str(t, "trade_no"));
    if (store_str(t, "time_expire") != NULL)
        add(d, "time_expire", store_str(t, "time_expire"));
    page_render(c->res, 200, "Cashier", "cashier", CASHIER, d);
    json_object_put(d);
}

/* The form's trade id and the trade, or an error page (NULL). */
static json_object *posted_trade(struct route_ctx *c, char id[TRADE_ID_LEN + 1])
{
    const struct http_request *r = c->req;
    if (http_form_get(buf_str(&r->body), r->body.len, "trade", id, TRADE_ID_LEN + 1) != 1 ||
        !trade_is_id(id)) {
        routes_bad_request(c, "Unknown trade", "The form carries no valid trade id.");
        return NULL;
    }
    json_object *t = trade_load(id);
    if (t == NULL) {
        log_warn("no trade %s", id);
        page_message(c->res, 404, "error", "Unknown trade",
                     "This trade does not exist (any more) in the sandbox.", NULL);
    }
    return t;
}

/* 303 to return_url plus a query (may be ""), or a page when there is none. */
static void back_to_merchant(struct route_ctx *c, json_object *t, const char *query,
                             const char *title, const char *message)
{
    const char *ret = store_str(t, "return_url");
    struct buf loc;
    if (ret == NULL || ret[0] == '\0') {
        page_message(c->res, 200, "ok", title, message, NULL);
        return;
    }
    buf_init(&loc, HTTP_HEADER_MAX);
    buf_puts(&loc, ret);
    if (query[0] != '\0') {
        buf_putc(&loc, strchr(ret, '?') ? '&' : '?');
        buf_puts(&loc, query);
    }
    if (http_header_add(c->res, "Location", buf_str(&loc)) != 0) {
        page_message(c->res, 200, "ok", title, message, ret);
    } else {
        c->res->status = 303;
        buf_reset(&c->res->body);
        buf_puts(&c->res->body, "<!doctype html><title>Redirecting</title>"
                                "<p>Back to the merchant…</p>\n");
    }
    buf_free(&loc);
}

static int trade_complete(json_object *t)
{
    return store_str(t, "status") && store_str(t, "out_trade_no") && store_str(t, "app_id") &&
           store_str(t, "subject") && store_str(t, "total_amount") && store_str(t, "gmt_create");
}

int cashier_settle(const char *id, json_object *t, int flags)
{
    char by[TRADE_ID_LEN + 1], ts[ALIPAY_TIMESTAMP_LEN];
    const char *app_id = store_str(t, "app_id"), *out_trade_no = store_str(t, "out_trade_no");
    trade_paid_by(app_id, out_trade_no, by);
    if (by[0] != '\0' && !(flags & CASHIER_AGAIN))
        return 1;
    if (trade_give_trade_no(t, id) != 0)
        return -1;
    alipay_timestamp(time(NULL), 0, ts);
    json_object_object_add(t, "gmt_payment", json_object_new_string(ts));
    json_object_object_add(t, "status", json_object_new_string("TRADE_SUCCESS"));
    json_object_object_add(t, "notified", json_object_new_boolean(flags & CASHIER_NOTIFY));
    if (((flags & CASHIER_NOTIFY) && notify_queue(t) != 0) || trade_save(id, t) != 0 ||
        (by[0] == '\0' && trade_mark_paid(app_id, out_trade_no, id) != 0) ||
        trade_add_payment(app_id, out_trade_no, id) != 0)
        return -1;
    log_info("pay: trade %s out_trade_no=%s trade_no=%s amount=%s paid%s%s", id, out_trade_no,
             store_str(t, "trade_no"), store_str(t, "total_amount"),
             by[0] != '\0' ? " (a second payment)" : "",
             flags & CASHIER_NOTIFY ? "" : " (no notification)");
    return 0;
}

/* The flags of the posted Pay button: notify=0 is "lose the notification". */
static int pay_flags(const struct http_request *r)
{
    char v[4];
    int rc = http_form_get(buf_str(&r->body), r->body.len, "notify", v, sizeof v);
    return rc == 1 && strcmp(v, "0") == 0 ? 0 : CASHIER_NOTIFY;
}

/* Pay t unless it is paid (back to the merchant) or closed (rc 2). */
static int pay_open(const char *id, json_object *t, int flags)
{
    const char *status = trade_status(t, time(NULL));
    if (strcmp(status, "TRADE_CLOSED") == 0)
        return 2;
    if (strcmp(status, "TRADE_SUCCESS") != 0)
        return cashier_settle(id, t, flags);
    log_info("pay: trade %s out_trade_no=%s was already paid: back to the merchant", id,
             store_str(t, "out_trade_no"));
    return 0;
}

void cashier_pay(struct route_ctx *c)
{
    char id[TRADE_ID_LEN + 1];
    struct buf q;
    int rc = 0;
    buf_init(&q, ALIPAY_FORM_MAX);
    store_lock(); /* one payment at a time: no double pay */
    json_object *t = posted_trade(c, id);
    if (t == NULL)
        goto out;
    if (!trade_complete(t)) {
        page_message(c->res, 500, "error", "Sandbox error", "The trade file is damaged.", NULL);
        goto out;
    }
    rc = pay_open(id, t, pay_flags(c->req));
    if (rc == 2)
        page_message(c->res, 409, "error", "Trade closed",
                     "This trade was closed (by the merchant, or its time to pay ran out); "
                     "nothing was charged. Go back to the merchant to order again.",
                     store_str(t, "return_url"));
    else if (rc == 1)
        page_message(c->res, 409, "error", "Already paid",
                     "This merchant order has already been paid; it cannot be paid twice.",
                     store_str(t, "return_url"));
    else if (rc != 0 || notify_return_query(t, &q) != 0)
        page_message(c->res, 500, "error", "Sandbox error",
                     "The sandbox could not record the payment; see its log.", NULL);
    else
        back_to_merchant(c, t, buf_str(&q), "Payment complete",
                         pay_flags(c->req) ? "The sandbox has paid this trade and notifies the "
                                             "merchant."
                                           : "The sandbox has paid this trade; the merchant is "
                                             "not notified.");
out:
    store_unlock();
    json_object_put(t);
    buf_free(&q);
}

void cashier_cancel(struct route_ctx *c)
{
    char id[TRADE_ID_LEN + 1];
    store_lock();
    json_object *t = posted_trade(c, id);
    store_unlock();
    if (t == NULL)
        return;
    log_info("cancel: trade %s out_trade_no=%s: back to the merchant unpaid", id,
             store_str(t, "out_trade_no") ? store_str(t, "out_trade_no") : "?");
    back_to_merchant(c, t, "", "Payment cancelled", "Nothing was charged.");
    json_object_put(t);
}
