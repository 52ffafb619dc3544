/* Paying: starting a payment (API and the order page's pay button), the
 * provider's asynchronous notification, and the page the buyer returns to.
 *
 * The notification handler does exactly what the contract allows before it
 * answers: verify, publish with a confirm (or, with the broker down, one
 * outbox commit), reply. Everything else happens in the consumers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alipay.h"
#include "db.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "mq_pipe.h"
#include "order_service.h"
#include "outbox.h"
#include "pay_service.h"
#include "snowflake.h"
#include "web_internal.h"

/* ------------------------------------------------------- starting to pay */

/* pay_start for the logged-in user and the order of the path. */
static enum shop_code start(struct web_ctx *c, struct pay_started *ps, struct buf *url)
{
    return pay_start(order_db(), web_thread_mq(c->app), c->app->cfg, c->session.user_id, c->ids[0],
                     ps, url);
}

void web_api_payment_start(struct web_ctx *c)
{
    struct pay_started ps;
    struct buf url;
    buf_init(&url, PAY_URL_MAX);
    enum shop_code rc = start(c, &ps, &url);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        buf_free(&url);
        return;
    }
    char id[SNOWFLAKE_STR_MAX];
    snowflake_format(ps.pay_id, id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "pay_id", json_object_new_string(id));
    money_json_add(o, "pay_amount", ps.pay_amount);
    json_object_object_add(o, "redirect_url", json_object_new_string(buf_str(&url)));
    http_json(&c->res, 200, o);
    json_object_put(o);
    buf_free(&url);
}

void web_form_pay(struct web_ctx *c)
{
    struct pay_started ps;
    struct buf url;
    buf_init(&url, PAY_URL_MAX);
    enum shop_code rc = start(c, &ps, &url);
    if (rc == SHOP_PAYMENT_IS_PAID) {
        /* Paid meanwhile (another tab): the order page says so. */
        char back[48], id[SNOWFLAKE_STR_MAX];
        snprintf(back, sizeof back, "/orders/%s", snowflake_format(c->ids[0], id));
        web_redirect(c, back);
    } else if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
    } else {
        /* To the provider's cashier: another origin, which every page's CSP
         * form-action allows (web_app.provider_origin). */
        c->res.status = 303;
        buf_reset(&c->res.body);
        if (http_header_add(&c->res, "Location", buf_str(&url)) != 0) {
            log_error("pay: cashier URL of order %" PRId64 " not usable as Location", c->ids[0]);
            web_error(c, SHOP_PAYMENT_PAY_ERROR);
        }
    }
    buf_free(&url);
}

/* -------------------------------------------------- the provider's notify */

/* Answer the provider ("success" or "fail") and count the notification by
 * what became of it (shop_notify_total{result}). */
static void reply(struct web_ctx *c, const char *word, const char *result)
{
    char labels[METRICS_LABELS_MAX];
    if (metrics_labels(labels, sizeof labels, "result", result, METRICS_END) == 0)
        metrics_count(METRIC_NOTIFY, labels, 1);
    c->res.status = 200;
    c->res.content_type = "text/plain; charset=utf-8";
    buf_reset(&c->res.body);
    buf_puts(&c->res.body, word);
}

static int is_form(const char *content_type)
{
    static const char FORM[] = "application/x-www-form-urlencoded";
    size_t n = strcspn(content_type, "; \t");
    return n == sizeof FORM - 1 && strncasecmp(content_type, FORM, n) == 0;
}

void web_pay_notify_alipay(struct web_ctx *c)
{
    struct pay_notify_event ev;
    char why[200], msg_id[128], key[SNOWFLAKE_STR_MAX];
    if (!is_form(c->req.content_type)) {
        log_warn("notify: refused: content type '%.64s' is not a form", c->req.content_type);
        reply(c, "fail", "refused");
        return;
    }
    /* While the signature is checked, the publishing round waits for this
     * notification to join it (one bundle for those that come together). */
    mq_pipe_announce(c->app->notify_pipe);
    enum pay_notify_verdict v =
        pay_notify_check(c->app->cfg, buf_str(&c->req.body), c->req.body.len, &ev, why, sizeof why);
    mq_pipe_withdraw(c->app->notify_pipe);
    if (v == PAY_NOTIFY_OTHER) {
        log_info("notify: order %" PRId64 " trade %s: %s; acknowledged, nothing published",
                 ev.order_id, ev.trade_no, why);
        reply(c, "success", "ignored");
        return;
    }
    if (v != PAY_NOTIFY_PAID) {
        log_warn("notify: refused (%s) from %s", why,
                 c->req.remote_addr ? c->req.remote_addr : "-");
        reply(c, "fail", "refused");
        return;
    }

    struct buf body;
    buf_init(&body, 4096);
    pay_notify_message_id(&ev, msg_id);
    snowflake_format(ev.order_id, key);
    if (event_pay_notify_build(&ev, &body) != 0) {
        log_error("notify: order %s: event not built", key);
        reply(c, "fail", "failed");
        goto out;
    }
    /* Through the shared publisher: the confirm of this message comes with
     * those of the notifications being answered at the same moment. */
    enum mq_status ms = mq_pipe_publish(c->app->notify_pipe, MQ_EXCHANGE, EV_PAY_NOTIFY, msg_id,
                                        body.data, body.len);
    if (ms == MQ_OK) {
        log_info("notify: order %s trade %s published (%s)", key, ev.trade_no, msg_id);
        reply(c, "success", "published");
        goto out;
    }
    /* The broker did not confirm: one commit in the outbox, relayed later. */
    if (outbox_emit(order_db(), NULL, EV_PAY_NOTIFY, msg_id, key, buf_str(&body)) == SHOP_SUCCESS) {
        log_warn("notify: order %s trade %s: broker did not confirm (%d); kept in the outbox", key,
                 ev.trade_no, (int)ms);
        reply(c, "success", "outbox");
    } else {
        log_error("notify: order %s trade %s: neither broker nor database; the provider "
                  "retries",
                  key, ev.trade_no);
        reply(c, "fail", "failed");
    }
out:
    buf_free(&body);
}

/* ------------------------------------------------------ the return page */

/* The order id of a verified synchronous return, or 0 (absent, unsigned,
 * forged, another app). *had_params: the provider sent anything at all. */
static int64_t verified_return(struct web_ctx *c, int *had_params)
{
    struct alipay_params ps;
    int64_t id = 0;
    const char *q = c->req.query != NULL ? c->req.query : "";
    *had_params = 0;
    alipay_params_init(&ps);
    if (q[0] == '\0' || alipay_params_parse_form(q, strlen(q), &ps) != ALIPAY_OK)
        goto out;
    const char *otn = alipay_params_get(&ps, "out_trade_no");
    if (otn == NULL)
        goto out;
    *had_params = 1;
    EVP_PKEY *pub = pay_provider_key(c->app->cfg);
    const char *app_id = alipay_params_get(&ps, "app_id");
    if (pub == NULL || !alipay_verify(pub, &ps) || app_id == NULL ||
        strcmp(app_id, c->app->cfg->alipay_app_id) != 0) {
        log_warn("return: parameters for out_trade_no %.64s not verified; not used", otn);
        goto out;
    }
    char *end;
    long long n = strtoll(otn, &end, 10);
    if (*otn >= '1' && *otn <= '9' && *end == '\0' && n > 0)
        id = n;
out:
    alipay_params_free(&ps);
    return id;
}

void web_page_pay_return(struct web_ctx *c)
{
    int had_params;
    int64_t order_id = verified_return(c, &had_params);
    json_object *d = json_object_new_object();
    const char *state = "unverified";
    if (!had_params) {
        state = "cancelled";
    } else if (order_id != 0) {
        char id[SNOWFLAKE_STR_MAX];
        snowflake_format(order_id, id);
        json_object_object_add(d, "order_id", json_object_new_string(id));
        state = "confirming";
        struct order o;
        if (c->logged_in &&
            order_get(order_db(), c->session.user_id, order_id, &o) == SHOP_SUCCESS) {
            money_json_add(d, "pay_amount", o.pay_amount);
            if (o.pay_status == PAY_PAID)
                state = o.order_status == ORDER_REFUND ? "refund" : "paid";
            else
                json_object_object_add(d, "poll", json_object_new_boolean(1));
        }
    }
    json_object_object_add(d, state, json_object_new_boolean(1));
    json_object_object_add(d, "state", json_object_new_string(state));
    web_render_page(c, 200, "pay_return", d);
}
