/* pay_check: asking the provider before acting (pay_check.h). */
#include "pay_check.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "consumer_log.h"
#include "events.h"
#include "log.h"
#include "outbox.h"
#include "pay_service.h"
#include "provider.h"
#include "snowflake.h"

#define BODY_MAX   4096
#define QUEUE_MAX  64
#define MSG_ID_MAX 96

/* What the provider said, as far as the shop acts on it. */
enum answer {
    ANSWER_PAID,   /* the money is taken: its pay.notify is emitted */
    ANSWER_UNPAID, /* not paid (waiting, closed, or no trade) */
    ANSWER_NONE,   /* no usable answer (or the answer could not be recorded): try later */
};

int64_t pay_check_delay_ms(const struct shop_config *cfg, int attempt)
{
    if (attempt < 0 || attempt > EVENT_QUERY_ATTEMPT_MAX)
        return -1;
    int64_t ms = (int64_t)cfg->pay_query_after_s * 1000;
    for (int i = 0; i < attempt && ms <= INT_MAX; i++)
        ms *= 2;
    return ms <= INT_MAX ? ms : -1;
}

/* ------------------------------------------------------------ scheduling */

/* Inside the caller's transaction: pay.query (kind, attempt) into the delay
 * queue of delay_ms. 1 added, 0 there already, -1 database failure. */
static int add_query_tx(db_conn *db, int64_t order_id, const char *kind, int attempt,
                        int64_t delay_ms, char queue[QUEUE_MAX], char msg_id[MSG_ID_MAX],
                        struct buf *body)
{
    struct query_event q = {.order_id = order_id, .attempt = attempt};
    char key[SNOWFLAKE_STR_MAX];
    snprintf(q.kind, sizeof q.kind, "%s", kind);
    snowflake_format(order_id, key);
    snprintf(queue, QUEUE_MAX, "shop.delay.query.%" PRId64, delay_ms);
    snprintf(msg_id, MSG_ID_MAX, EV_PAY_QUERY ":%s:%s:%d", key, kind, attempt);
    buf_reset(body);
    if (event_query_build(&q, body) != 0)
        return -1;
    enum db_status st = outbox_add_tx(db, "", queue, msg_id, key, buf_str(body));
    return st == DB_OK ? 1 : st == DB_DUPLICATE ? 0 : -1;
}

int pay_check_schedule_tx(db_conn *db, const struct shop_config *cfg, const struct order *o,
                          int attempt, time_t now, char queue[64], char msg_id[96],
                          struct buf *body)
{
    time_t expiry;
    int64_t ms = pay_check_delay_ms(cfg, attempt);
    if (ms < 0 || order_expiry(o, cfg->unpaid_timeout_s, &expiry) != 0 ||
        (int64_t)now + ms / 1000 >= (int64_t)expiry)
        return 0; /* the expiry asks */
    return add_query_tx(db, o->order_id, "check", attempt, ms, queue, msg_id, body);
}

void pay_check_send(db_conn *db, mq_conn *mq, const char *queue, const char *msg_id,
                    const struct buf *body, int64_t delay_ms)
{
    if (mq == NULL)
        return; /* the relay */
    if (outbox_send(db, mq, "", queue, msg_id, buf_str(body)) != MQ_ERR)
        return;
    if (mq_declare_delay_queue(mq, queue, (int)delay_ms, MQ_EXCHANGE, EV_PAY_QUERY) == MQ_OK)
        outbox_send(db, mq, "", queue, msg_id, buf_str(body));
}

/* In a transaction of its own: pay.query (kind, attempt) after delay_ms,
 * published on pub. MQ_ACK once it is durable, else MQ_RETRY. */
static enum mq_verdict schedule(db_conn *db, mq_conn *pub, int64_t order_id, const char *kind,
                                int attempt, int64_t delay_ms)
{
    char queue[QUEUE_MAX], msg_id[MSG_ID_MAX];
    struct buf body;
    enum mq_verdict v = MQ_RETRY;
    buf_init(&body, BODY_MAX);
    if (db_begin(db) != DB_OK)
        goto out;
    int added = add_query_tx(db, order_id, kind, attempt, delay_ms, queue, msg_id, &body);
    if (added < 0 || db_commit(db) != DB_OK) {
        db_rollback(db);
        goto out;
    }
    if (added)
        pay_check_send(db, pub, queue, msg_id, &body, delay_ms);
    v = MQ_ACK;
out:
    buf_free(&body);
    return v;
}

/* ------------------------------------------------------------ the answers */

/* The paid answer t of order_id as the pay.notify a notification would be. */
static enum shop_code emit_notify(db_conn *db, mq_conn *pub, int64_t order_id,
                                  const struct provider_trade *t)
{
    struct pay_notify_event ev = {.order_id = order_id, .total_amount = t->total_amount};
    char id[128], key[SNOWFLAKE_STR_MAX];
    struct buf body;
    snprintf(ev.provider, sizeof ev.provider, PAY_PROVIDER_ALIPAY);
    snprintf(ev.trade_no, sizeof ev.trade_no, "%s", t->trade_no);
    snprintf(ev.trade_status, sizeof ev.trade_status, "%s", t->trade_status);
    if (event_provider_time_ok(t->send_pay_date))
        snprintf(ev.gmt_payment, sizeof ev.gmt_payment, "%s", t->send_pay_date);
    snprintf(ev.notify_id, sizeof ev.notify_id, "query:%.58s", t->trade_no);
    pay_notify_message_id(&ev, id);
    snowflake_format(order_id, key);
    buf_init(&body, BODY_MAX);
    enum shop_code rc = event_pay_notify_build(&ev, &body) == 0
                            ? outbox_emit(db, pub, EV_PAY_NOTIFY, id, key, buf_str(&body))
                            : SHOP_INTERNAL_ERROR;
    buf_free(&body);
    if (rc == SHOP_SUCCESS)
        log_info("pay: order %s: paid at the provider (trade %s): applied as a notification", key,
                 t->trade_no);
    return rc;
}

/* pay.asked or pay.closed of order_id (once per order and `by`). */
static enum shop_code emit_step(db_conn *db, mq_conn *pub, const char *routing_key,
                                int64_t order_id, const char *by, const char *trade_status)
{
    struct provider_step_event ev = {.order_id = order_id};
    char id[MSG_ID_MAX], key[SNOWFLAKE_STR_MAX];
    struct buf body;
    snprintf(ev.by, sizeof ev.by, "%s", by);
    snprintf(ev.trade_status, sizeof ev.trade_status, "%s", trade_status);
    snowflake_format(order_id, key);
    snprintf(id, sizeof id, "%s:%s:%s", routing_key, key, by);
    buf_init(&body, BODY_MAX);
    enum shop_code rc = event_provider_step_build(&ev, &body) == 0
                            ? outbox_emit(db, pub, routing_key, id, key, buf_str(&body))
                            : SHOP_INTERNAL_ERROR;
    buf_free(&body);
    return rc;
}

/* alipay.trade.query of order_id. A paid answer becomes its pay.notify;
 * record: the answer goes into the history (pay.asked) even when it is not
 * paid (a paid one always does). */
static enum answer ask(const struct shop_config *cfg, db_conn *db, mq_conn *pub, int64_t order_id,
                       const char *by, int record, struct provider_trade *t)
{
    enum provider_status st = provider_trade_query(cfg, order_id, t);
    if (st != PROVIDER_OK) {
        log_warn("pay: order %" PRId64 ": asking the provider (%s): %s", order_id, by,
                 provider_status_text(st));
        return ANSWER_NONE;
    }
    int paid = provider_trade_paid(t);
    log_info("pay: order %" PRId64 ": the provider says %s (%s)", order_id,
             t->trade_status[0] ? t->trade_status : "no such trade", by);
    if ((paid || record) &&
        emit_step(db, pub, EV_PAY_ASKED, order_id, by, t->trade_status) != SHOP_SUCCESS)
        return ANSWER_NONE;
    if (paid && emit_notify(db, pub, order_id, t) != SHOP_SUCCESS)
        return ANSWER_NONE;
    return paid ? ANSWER_PAID : ANSWER_UNPAID;
}

/* Before a paying order is cancelled: ask; not paid -> close the trade at
 * the provider. ANSWER_UNPAID: closed there (or never opened), the order may
 * be cancelled; ANSWER_PAID: its pay.notify is emitted; ANSWER_NONE: leave
 * it as it is. */
static enum answer settle(const struct shop_config *cfg, db_conn *db, mq_conn *pub,
                          int64_t order_id, const char *by)
{
    struct provider_trade t;
    char sub_code[64] = "";
    enum answer a = ask(cfg, db, pub, order_id, by, 1, &t);
    if (a != ANSWER_UNPAID)
        return a;
    enum provider_status st = provider_trade_close(cfg, order_id, sub_code);
    if (st == PROVIDER_REFUSED) {
        /* Paid meanwhile, or closed already: the provider tells which. */
        a = ask(cfg, db, pub, order_id, by, 0, &t);
        if (a != ANSWER_UNPAID)
            return a;
        if (strcmp(t.trade_status, "TRADE_CLOSED") != 0) {
            log_warn("pay: order %" PRId64 ": the provider refused to close it (%s)", order_id,
                     sub_code);
            return ANSWER_NONE;
        }
    } else if (st != PROVIDER_OK) {
        log_warn("pay: order %" PRId64 ": closing at the provider: %s", order_id,
                 provider_status_text(st));
        return ANSWER_NONE;
    }
    log_info("pay: order %" PRId64 ": closed at the provider (%s)", order_id, by);
    return emit_step(db, pub, EV_PAY_CLOSED, order_id, by, "") == SHOP_SUCCESS ? ANSWER_UNPAID
                                                                               : ANSWER_NONE;
}

/* ------------------------------------------------------------ the buyer */

enum shop_code pay_check_cancel(db_conn *db, mq_conn *mq, const struct shop_config *cfg,
                                int64_t user_id, int64_t order_id, struct order *out)
{
    int closed = 0;
    for (;;) {
        enum shop_code rc = order_cancel_by_buyer(db, mq, user_id, order_id, closed, out);
        if (rc != SHOP_ORDER_STATUS_UPDATE_FAIL || out->pay_status != PAY_PAYING || closed)
            return rc;
        enum answer a = settle(cfg, db, mq, order_id, "cancel");
        if (a == ANSWER_PAID)
            return SHOP_ORDER_PAID;
        if (a == ANSWER_NONE)
            return SHOP_PROVIDER_UNAVAILABLE;
        closed = 1;
    }
}

/* ------------------------------------------------------------ the consumer */

/* The periodic check: paid -> applied; else the next attempt, unless the
 * order expires first. */
static enum mq_verdict on_check(const struct shop_config *cfg, db_conn *db, mq_conn *pub,
                                const struct order *o, int attempt)
{
    struct provider_trade t;
    if (ask(cfg, db, pub, o->order_id, "query", 0, &t) == ANSWER_PAID)
        return MQ_ACK;
    char queue[QUEUE_MAX], msg_id[MSG_ID_MAX];
    struct buf body;
    enum mq_verdict v = MQ_RETRY;
    buf_init(&body, BODY_MAX);
    if (attempt >= EVENT_QUERY_ATTEMPT_MAX) {
        v = MQ_ACK;
        goto out;
    }
    if (db_begin(db) != DB_OK)
        goto out;
    int added = pay_check_schedule_tx(db, cfg, o, attempt + 1, time(NULL), queue, msg_id, &body);
    if (added < 0 || db_commit(db) != DB_OK) {
        db_rollback(db);
        goto out;
    }
    if (added > 0)
        pay_check_send(db, pub, queue, msg_id, &body, pay_check_delay_ms(cfg, attempt + 1));
    v = MQ_ACK;
out:
    buf_free(&body);
    return v;
}

/* The expiry of a paying order: settle, then cancel or leave it paid; no
 * answer -> ask again after pay_query_after_s. */
static enum mq_verdict on_expiry(const struct shop_config *cfg, db_conn *db, mq_conn *pub,
                                 const struct order *o, int attempt)
{
    switch (settle(cfg, db, pub, o->order_id, "expiry")) {
    case ANSWER_PAID:
        return MQ_ACK;
    case ANSWER_UNPAID:
        if (order_cancel_emit(db, pub, o, SHOP_ORDER_INVALID) != SHOP_SUCCESS)
            return MQ_RETRY;
        log_info("pay: order %" PRId64 " expired unpaid: closed at the provider, cancel emitted",
                 o->order_id);
        return MQ_ACK;
    case ANSWER_NONE:
        break;
    }
    if (attempt >= EVENT_QUERY_ATTEMPT_MAX)
        return MQ_RETRY; /* parked after its tries: an operator looks */
    log_warn("pay: order %" PRId64 " expired but the provider did not answer: asked again later",
             o->order_id);
    return schedule(db, pub, o->order_id, "expiry", attempt + 1, pay_check_delay_ms(cfg, 0));
}

enum mq_verdict pay_check_on_event(const struct mq_message *m, void *ud)
{
    const struct consumer_ctx *ctx = ud;
    struct query_event q;
    struct order o;
    if (strcmp(m->routing_key, EV_PAY_QUERY) != 0)
        return MQ_ACK;
    if (event_query_parse(m->body, m->body_len, &q) != 0) {
        log_error("pay: malformed pay.query %s: parked", m->message_id);
        return MQ_REJECT;
    }
    db_conn *db = order_db();
    if (ctx == NULL || ctx->cfg == NULL || db == NULL)
        return MQ_RETRY;
    enum shop_code rc = order_get_any(db, q.order_id, &o);
    if (rc == SHOP_ORDER_NOT_FOUND)
        return MQ_ACK;
    if (rc != SHOP_SUCCESS)
        return MQ_RETRY;
    if (o.order_status != ORDER_CONFIRMED || o.pay_status != PAY_PAYING) {
        log_info("pay: order %" PRId64 " %s: status %d/%d, nothing to ask", o.order_id, q.kind,
                 o.order_status, o.pay_status);
        return MQ_ACK;
    }
    if (strcmp(q.kind, "expiry") == 0)
        return on_expiry(ctx->cfg, db, ctx->pub, &o, q.attempt);
    return on_check(ctx->cfg, db, ctx->pub, &o, q.attempt);
}
