#include "gateway.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alipay.h"
#include "buf.h"
#include "cashier.h"
#include "deliver.h"
#include "http.h"
#include "log.h"
#include "money.h"
#include "openapi.h"
#include "page.h"
#include "routes.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

#define SUBJECT_MAX   256
#define OUT_TRADE_MAX 64
#define BIZ_DEPTH     4 /* biz_content nesting */

/* A method of the provider's API: params are verified (merchant, charset,
 * RSA2 signature); biz is biz_content, a JSON object. A page method answers
 * the buyer's browser with a page (page); the others answer the merchant's
 * server with the signed JSON answer that answer returns. */
struct method {
    const char *name;
    void (*page)(struct route_ctx *c, const struct alipay_params *ps, json_object *biz);
    json_object *(*answer)(json_object *biz);
};

static void page_pay(struct route_ctx *c, const struct alipay_params *ps, json_object *biz);

static const struct method METHODS[] = {
    {"alipay.trade.page.pay", page_pay, NULL},
    {"alipay.trade.query", NULL, openapi_trade_query},
    {"alipay.trade.close", NULL, openapi_trade_close},
    {"alipay.trade.refund", NULL, openapi_trade_refund},
    {"alipay.trade.fastpay.refund.query", NULL, openapi_refund_query},
};

static const struct method *find_method(const char *name)
{
    for (size_t i = 0; name && i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (strcmp(METHODS[i].name, name) == 0)
            return &METHODS[i];
    return NULL;
}

/* The fields of a page-pay request, checked. Strings point into ps / biz. */
struct page_pay {
    const char *out_trade_no, *subject, *notify_url, *return_url, *time_expire;
    int64_t cents;
};

/* 0 when biz's time_expire is absent or a time to come ("YYYY-MM-DD
 * HH:MM:SS", UTC here), else -1 after an error page. */
static int check_time_expire(struct route_ctx *c, struct page_pay *pp, json_object *biz)
{
    time_t until;
    pp->time_expire = store_str(biz, "time_expire");
    if (pp->time_expire == NULL)
        return 0;
    if (alipay_timestamp_parse(pp->time_expire, 0, &until) != 0) {
        routes_bad_request(c, "Bad time_expire",
                           "time_expire must be \"YYYY-MM-DD HH:MM:SS\" (UTC).");
        return -1;
    }
    if (until <= time(NULL)) {
        page_message(c->res, 409, "error", "Payment time is over",
                     "The time to pay this order has run out; nothing was charged. Go back to "
                     "the merchant to order again.",
                     pp->return_url);
        return -1;
    }
    return 0;
}

static int check_page_pay(struct route_ctx *c, const struct alipay_params *ps, json_object *biz,
                          struct page_pay *pp)
{
    char origin[300];
    const char *amount = store_str(biz, "total_amount");
    const char *product = store_str(biz, "product_code");
    pp->out_trade_no = store_str(biz, "out_trade_no");
    pp->subject = store_str(biz, "subject");
    pp->notify_url = alipay_params_get(ps, "notify_url");
    pp->return_url = alipay_params_get(ps, "return_url");
    if (pp->out_trade_no == NULL || pp->out_trade_no[0] == '\0' ||
        strlen(pp->out_trade_no) > OUT_TRADE_MAX) {
        routes_bad_request(c, "Bad out_trade_no", "out_trade_no must be 1 to 64 characters.");
    } else if (pp->subject == NULL || pp->subject[0] == '\0' || strlen(pp->subject) > SUBJECT_MAX) {
        routes_bad_request(c, "Bad subject", "subject must be 1 to 256 bytes.");
    } else if (amount == NULL || money_parse_str(amount, MONEY_NON_NEGATIVE, &pp->cents) != 0 ||
               pp->cents <= 0) {
        routes_bad_request(c, "Bad total_amount",
                           "total_amount must be a string amount between 0.01 and 99999999.99.");
    } else if (product == NULL || strcmp(product, "FAST_INSTANT_TRADE_PAY") != 0) {
        routes_bad_request(c, "Bad product_code", "product_code must be FAST_INSTANT_TRADE_PAY.");
    } else if (pp->notify_url && pp->notify_url[0] && !deliver_url_ok(pp->notify_url)) {
        routes_bad_request(c, "Bad notify_url",
                           "notify_url must be a plain http:// URL (the sandbox does not speak "
                           "TLS).");
    } else if (pp->return_url && pp->return_url[0] &&
               (alipay_url_origin(pp->return_url, origin, sizeof origin) != 0 ||
                strpbrk(pp->return_url, " \t\r\n") != NULL)) {
        routes_bad_request(c, "Bad return_url", "return_url must be an http:// or https:// URL.");
    } else {
        return check_time_expire(c, pp, biz);
    }
    return -1;
}

/* A new trade for pp, saved as the open one of its out_trade_no. NULL when
 * it could not be stored. The caller holds the store's lock. */
static json_object *open_trade(const struct page_pay *pp, char id[TRADE_ID_LEN + 1])
{
    char ts[ALIPAY_TIMESTAMP_LEN], amount[MONEY_STR_MAX];
    if (trade_new_id(id) != 0)
        return NULL;
    alipay_timestamp(time(NULL), 0, ts);
    money_format(pp->cents, amount);
    json_object *t = json_object_new_object();
    json_object_object_add(t, "trade_id", json_object_new_string(id));
    json_object_object_add(t, "app_id", json_object_new_string(settings.app_id));
    json_object_object_add(t, "out_trade_no", json_object_new_string(pp->out_trade_no));
    json_object_object_add(t, "subject", json_object_new_string(pp->subject));
    json_object_object_add(t, "total_amount", json_object_new_string(amount));
    json_object_object_add(t, "notify_url",
                           json_object_new_string(pp->notify_url ? pp->notify_url : ""));
    json_object_object_add(t, "return_url",
                           json_object_new_string(pp->return_url ? pp->return_url : ""));
    json_object_object_add(t, "status", json_object_new_string("WAIT_BUYER_PAY"));
    json_object_object_add(t, "gmt_create", json_object_new_string(ts));
    if (pp->time_expire != NULL)
        json_object_object_add(t, "time_expire", json_object_new_string(pp->time_expire));
    if (trade_give_trade_no(t, id) != 0 || trade_save(id, t) != 0 ||
        trade_mark_open(settings.app_id, pp->out_trade_no, id) != 0) {
        json_object_put(t);
        return NULL;
    }
    log_info("gateway: trade %s out_trade_no=%s amount=%s opened", id, pp->out_trade_no, amount);
    return t;
}

/* The open trade of pp's out_trade_no when it is still waiting for the same
 * amount (a new reference; id filled), else NULL; *closed set when it is
 * closed (Alipay never opens an out_trade_no again then). The caller holds
 * the lock. */
static json_object *reuse_trade(const struct page_pay *pp, char id[TRADE_ID_LEN + 1], int *closed)
{
    int64_t cents = -1;
    trade_open_by(settings.app_id, pp->out_trade_no, id);
    json_object *t = id[0] != '\0' ? trade_load(id) : NULL;
    const char *status = t != NULL ? trade_status(t, time(NULL)) : NULL;
    *closed = status != NULL && strcmp(status, "TRADE_CLOSED") == 0;
    const char *amount = t != NULL ? store_str(t, "total_amount") : NULL;
    if (status != NULL && strcmp(status, "WAIT_BUYER_PAY") == 0 && amount != NULL &&
        money_parse_str(amount, MONEY_NON_NEGATIVE, &cents) == 0 && cents == pp->cents)
        return t;
    json_object_put(t);
    return NULL;
}

/* alipay.trade.page.pay: the cashier for the out_trade_no's open trade (a
 * new one the first time), unless it is paid already. */
static void page_pay(struct route_ctx *c, const struct alipay_params *ps, json_object *biz)
{
    struct page_pay pp;
    char by[TRADE_ID_LEN + 1], id[TRADE_ID_LEN + 1];
    json_object *t = NULL;
    int closed = 0;
    if (check_page_pay(c, ps, biz, &pp) != 0)
        return;
    store_lock();
    trade_paid_by(settings.app_id, pp.out_trade_no, by);
    if (by[0] == '\0' && (t = reuse_trade(&pp, id, &closed)) == NULL && !closed)
        t = open_trade(&pp, id);
    store_unlock();
    if (closed) {
        log_info("gateway: out_trade_no=%s is closed: refused", pp.out_trade_no);
        page_message(c->res, 409, "error", "Trade closed",
                     "This merchant order's trade was closed; it cannot be paid any more. "
                     "Nothing was charged: go back to the merchant to order again.",
                     pp.return_url);
        return;
    }
    if (by[0] != '\0') {
        log_info("gateway: out_trade_no=%s already paid (trade %s)", pp.out_trade_no, by);
        page_message(c->res, 409, "error", "Already paid",
                     "This merchant order has already been paid; it cannot be paid twice.",
                     pp.return_url);
        return;
    }
    if (t == NULL) {
        page_message(c->res, 500, "error", "Sandbox error",
                     "The sandbox could not store the trade; see its log.", NULL);
        return;
    }
    if (pp.return_url != NULL)
        alipay_url_origin(pp.return_url, c->form_origin, sizeof c->form_origin);
    cashier_page(c, id, t);
    json_object_put(t);
}

/* Why a request is refused: a page's title and detail for a browser, the
 * error_response's sub_code for a server. */
struct refusal {
    const char *title, *sub_code;
    char detail[256];
};

static int refuse(struct refusal *why, const char *title, const char *sub_code, const char *detail)
{
    why->title = title;
    why->sub_code = sub_code;
    snprintf(why->detail, sizeof why->detail, "%s", detail);
    return 0;
}

/* 1 when the request's timestamp is within settings.request_max_age of now
 * (either way: a signed URL is not a voucher to replay later), else 0 with
 * why filled. */
static int check_timestamp(const struct alipay_params *ps, struct refusal *why)
{
    time_t at;
    const char *v = alipay_params_get(ps, "timestamp");
    if (v == NULL || alipay_timestamp_parse(v, 0, &at) != 0)
        return refuse(why, "Bad timestamp", "isv.invalid-timestamp",
                      "The request's timestamp must be \"YYYY-MM-DD HH:MM:SS\" (UTC).");
    double off = difftime(time(NULL), at);
    if (off > settings.request_max_age || -off > settings.request_max_age) {
        refuse(why, "Payment link expired", "isv.invalid-timestamp", "");
        snprintf(why->detail, sizeof why->detail,
                 "This payment link was made at %s UTC, more than %.0f seconds from now, and "
                 "can no longer be used. Nothing was charged: go back to the shop and start "
                 "the payment again.",
                 v, settings.request_max_age);
        return 0;
    }
    return 1;
}

/* The common checks of every method; its row, or NULL with why filled. */
static const struct method *check_common(const struct alipay_params *ps, struct refusal *why)
{
    const char *v = alipay_params_get(ps, "app_id");
    const struct method *m = find_method(alipay_params_get(ps, "method"));
    if (v == NULL || strcmp(v, settings.app_id) != 0) {
        refuse(why, "Unknown merchant", "isv.invalid-app-id", "");
        snprintf(why->detail, sizeof why->detail,
                 "app_id \"%.64s\" is not the sandbox's merchant (%s).", v ? v : "",
                 settings.app_id);
    } else if (m == NULL) {
        refuse(why, "Unsupported method", "isv.invalid-method",
               "This gateway serves alipay.trade.page.pay, alipay.trade.query, "
               "alipay.trade.close, alipay.trade.refund and alipay.trade.fastpay.refund.query.");
    } else if ((v = alipay_params_get(ps, "charset")) != NULL && strcasecmp(v, "utf-8") != 0) {
        refuse(why, "Unsupported charset", "isv.invalid-charset",
               "Only charset=utf-8 is supported.");
    } else if ((v = alipay_params_get(ps, "sign_type")) == NULL || strcmp(v, "RSA2") != 0) {
        refuse(why, "Unsupported sign_type", "isv.invalid-signature-type",
               "Requests must be signed with sign_type=RSA2.");
    } else if (!alipay_verify_request(settings.merchant_pub, ps)) {
        refuse(why, "Invalid signature", "isv.invalid-signature",
               "The request's signature does not verify with the merchant's public key. "
               "Nothing was charged.");
    } else if (check_timestamp(ps, why)) {
        return m;
    }
    return NULL;
}

/* biz_content as a JSON object (a new reference), or NULL with why filled. */
static json_object *parse_biz(const struct alipay_params *ps, struct refusal *why)
{
    const char *bc = alipay_params_get(ps, "biz_content");
    json_tokener *tok = json_tokener_new_ex(BIZ_DEPTH);
    if (bc == NULL || tok == NULL) {
        json_tokener_free(tok);
        refuse(why, "Missing biz_content", "isv.missing-biz-content",
               "The request has no biz_content.");
        return NULL;
    }
    json_object *biz = json_tokener_parse_ex(tok, bc, (int)strlen(bc));
    if (biz == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(biz, json_type_object)) {
        json_object_put(biz);
        biz = NULL;
        refuse(why, "Bad biz_content", "isv.invalid-biz-content",
               "biz_content is not a JSON object.");
    }
    json_tokener_free(tok);
    return biz;
}

/* Answer the signed JSON answer of method (a = {"code":...}, taken). */
static void send_answer(struct route_ctx *c, const char *method, json_object *a)
{
    struct buf out;
    buf_init(&out, ALIPAY_RESPONSE_MAX);
    c->res->status = 200;
    c->res->content_type = "application/json;charset=utf-8";
    buf_reset(&c->res->body);
    if (a == NULL || alipay_response_build(settings.provider_priv, method, a, &out) != 0 ||
        buf_append(&c->res->body, out.data, out.len) != 0) {
        log_error("gateway: %s: cannot build the answer", method);
        c->res->status = 500;
        c->res->content_type = "text/plain; charset=utf-8";
        buf_reset(&c->res->body);
        buf_puts(&c->res->body, "The sandbox could not sign its answer.\n");
    }
    buf_free(&out);
    json_object_put(a);
}

/* A refused request: a page for a browser (a page method, or a GET), else
 * Alipay's signed error_response {40002 Invalid Arguments, sub_code}. */
static void send_refusal(struct route_ctx *c, const struct method *m, const struct refusal *why)
{
    if ((m != NULL && m->page != NULL) || (m == NULL && c->req->method != HTTP_POST)) {
        routes_bad_request(c, why->title, why->detail);
        return;
    }
    log_warn("refused: %s (%s)", why->title, why->detail);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "code", json_object_new_string("40002"));
    json_object_object_add(a, "msg", json_object_new_string("Invalid Arguments"));
    json_object_object_add(a, "sub_code", json_object_new_string(why->sub_code));
    json_object_object_add(a, "sub_msg", json_object_new_string(why->detail));
    send_answer(c, "error", a);
}

/* The query's parameters and, for a POST, the form body's, into ps. */
static int read_params(const struct http_request *r, struct alipay_params *ps)
{
    int rc = alipay_params_parse_form(r->query, strlen(r->query), ps);
    if (rc == ALIPAY_OK && r->method == HTTP_POST) {
        struct alipay_params body;
        alipay_params_init(&body);
        rc = alipay_params_parse_form(buf_str(&r->body), r->body.len, &body);
        for (size_t i = 0; rc == ALIPAY_OK && i < body.n; i++)
            rc = alipay_params_add(ps, body.p[i].key, body.p[i].value);
        alipay_params_free(&body);
    }
    return rc;
}

void gateway_handle(struct route_ctx *c)
{
    struct alipay_params ps;
    struct refusal why;
    json_object *biz = NULL;
    const struct method *m = NULL;
    alipay_params_init(&ps);
    int rc = read_params(c->req, &ps);
    if (rc != ALIPAY_OK) {
        refuse(&why, "Malformed request", "isv.invalid-parameter", alipay_status_text(rc));
        send_refusal(c, find_method(alipay_params_get(&ps, "method")), &why);
        goto out;
    }
    if ((m = check_common(&ps, &why)) == NULL || (biz = parse_biz(&ps, &why)) == NULL) {
        send_refusal(c, m != NULL ? m : find_method(alipay_params_get(&ps, "method")), &why);
        goto out;
    }
    if (m->page != NULL)
        m->page(c, &ps, biz);
    else
        send_answer(c, m->name, m->answer(biz));
out:
    json_object_put(biz);
    alipay_params_free(&ps);
}
