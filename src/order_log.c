/* order_log: trade_order_log and the log consumer. */
#include "order_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer_log.h"
#include "events.h"
#include "goods_service.h" /* db_time_to_iso */
#include "log.h"
#include "money.h"
#include "order_service.h"
#include "snowflake.h"
#include "utf8.h"

static const char SQL_INSERT[] =
    "INSERT INTO trade_order_log (log_id, order_id, event, detail, created_at) "
    "VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3))";
#define LOG_ROW   "(?, ?, ?, ?, UTC_TIMESTAMP(3))"
#define LOG_ROWS4 LOG_ROW ", " LOG_ROW ", " LOG_ROW ", " LOG_ROW
#define LOG_ROWS  16 /* rows a statement */
static const char SQL_INSERT_MANY[] =
    "INSERT IGNORE INTO trade_order_log (log_id, order_id, event, detail, created_at) "
    "VALUES " LOG_ROWS4 ", " LOG_ROWS4 ", " LOG_ROWS4 ", " LOG_ROWS4;
static const char SQL_LIST[] = "SELECT log_id, order_id, event, detail, created_at "
                               "FROM trade_order_log WHERE order_id = ? "
                               "ORDER BY created_at, log_id LIMIT ?";

/* Inside the caller's transaction (or alone): one row for (order_id, event)
 * with a new snowflake log_id and the time now. DB_OK; DB_DUPLICATE when the
 * order has this event already; another db_status on failure. detail is cut
 * to ORDER_LOG_DETAIL_MAX bytes at a character boundary. */
static enum db_status order_log_add_tx(db_conn *db, int64_t order_id, const char *event,
                                       const char *detail)
{
    if (db == NULL)
        return DB_GONE;
    struct db_val p[] = {DB_I64(snowflake_next(&shop_ids)), DB_I64(order_id), DB_TEXT(event),
                         DB_TEXTN(detail, utf8_cut(detail, ORDER_LOG_DETAIL_MAX))};
    return db_exec(db, SQL_INSERT, p, sizeof p / sizeof p[0], NULL);
}

enum shop_code order_log_operator(db_conn *db, int64_t order_id, const char *operator_name,
                                  const char *what)
{
    char event[ORDER_LOG_EVENT_MAX + 1], detail[ORDER_LOG_DETAIL_MAX * 4 + 1];
    int64_t id = snowflake_next(&shop_ids);
    snprintf(event, sizeof event, "admin.%" PRId64, id);
    snprintf(detail, sizeof detail, "%s (by operator %s)", what, operator_name);
    enum db_status st = order_log_add_tx(db, order_id, event, detail);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

static int row_to_entry(const db_result *r, size_t i, void *elem)
{
    struct order_log_entry *e = elem;
    e->log_id = db_result_i64(r, i, 0, 0);
    e->order_id = db_result_i64(r, i, 1, 0);
    db_result_text(r, i, 2, e->event, sizeof e->event);
    db_result_text(r, i, 3, e->detail, sizeof e->detail);
    db_time_to_iso(db_result_get(r, i, 4), e->created_at, sizeof e->created_at);
    return 0;
}

enum shop_code order_log_list(db_conn *db, int64_t order_id, struct order_log_entry **out,
                              size_t *n)
{
    struct db_val p[] = {DB_I64(order_id), DB_I64(ORDER_LOG_LIST_MAX)};
    void *list;
    enum shop_code rc =
        db_query_list(db, SQL_LIST, p, 2, ORDER_LOG_LIST_MAX, sizeof **out, row_to_entry, &list, n);
    *out = list;
    return rc;
}

/* The message of a SHOP_ code given by name, or NULL. */
static const char *code_message(const char *name)
{
    for (int c = 0; c < SHOP_CODE_COUNT; c++)
        if (strcmp(shop_code_name((enum shop_code)c), name) == 0)
            return shop_code_message((enum shop_code)c);
    return NULL;
}

/* The provider's answer in words. */
static const char *trade_words(const char *trade_status)
{
    if (trade_status[0] == '\0')
        return "no payment was started there";
    if (strcmp(trade_status, "TRADE_SUCCESS") == 0 || strcmp(trade_status, "TRADE_FINISHED") == 0)
        return "paid";
    if (strcmp(trade_status, "WAIT_BUYER_PAY") == 0)
        return "not paid";
    if (strcmp(trade_status, "TRADE_CLOSED") == 0)
        return "closed, not paid";
    return "unknown state";
}

/* pay.asked and pay.closed (order_log_describe). Each is logged once per
 * order (the history keeps one row per order and event): the shop emits
 * them only for an answer it acts on, which happens once. */
static int describe_provider_step(const char *routing_key, const char *body, size_t len,
                                  int64_t *order_id, char *out, size_t outsz)
{
    struct provider_step_event ev;
    if (event_provider_step_parse(body, len, &ev) != 0)
        return -1;
    *order_id = ev.order_id;
    const char *why = strcmp(ev.by, "cancel") == 0   ? "You asked to cancel; "
                      : strcmp(ev.by, "expiry") == 0 ? "Time to pay ran out; "
                                                     : "";
    if (strcmp(routing_key, EV_PAY_CLOSED) == 0)
        snprintf(out, outsz,
                 "Closed at the payment provider: no payment can be taken for this order any "
                 "more.");
    else
        snprintf(out, outsz, "%s%ssked the payment provider: %s%s%s%s.", why, why[0] ? "a" : "A",
                 trade_words(ev.trade_status), ev.trade_status[0] ? " (" : "", ev.trade_status,
                 ev.trade_status[0] ? ")" : "");
    return 1;
}

/* The line of a refund.* step (order_log_describe). */
static int refund_describe(const char *routing_key, const char *body, size_t len, int64_t *order_id,
                           char *out, size_t outsz)
{
    struct refund_event ev;
    char a[MONEY_STR_MAX];
    if (event_refund_parse(body, len, &ev) != 0)
        return -1;
    *order_id = ev.order_id;
    money_format(ev.refund_amount, a);
    const char *why = strcmp(ev.reason, "late") == 0     ? "a payment after the cancel"
                      : strcmp(ev.reason, "second") == 0 ? "a second payment"
                                                         : "asked for by the buyer";
    if (strcmp(routing_key, EV_REFUND_REQUESTED) == 0)
        snprintf(out, outsz, "Refund of %s requested; an operator looks at it.", a);
    else if (strcmp(routing_key, EV_REFUND_APPROVED) == 0)
        snprintf(out, outsz, "Refund of %s approved (%s).", a, why);
    else if (strcmp(routing_key, EV_REFUND_REJECTED) == 0)
        snprintf(out, outsz, "Refund of %s rejected.", a);
    else if (strcmp(routing_key, EV_REFUND_SENT) == 0)
        snprintf(out, outsz, "Refund of %s sent to the payment provider.", a);
    else if (strcmp(routing_key, EV_REFUND_SUCCEEDED) == 0)
        snprintf(out, outsz, "Refund of %s succeeded: the money is back with the buyer.", a);
    else if (strcmp(routing_key, EV_REFUND_FAILED) == 0)
        snprintf(out, outsz, "Refund of %s failed: the payment provider refused it (%.*s).", a,
                 (int)utf8_cut(ev.last_error, 200), ev.last_error);
    else
        return 0;
    return 1;
}

/* The line of an event for the buyer into out (outsz bytes), from the routing
 * key and the body; *order_id is the order it belongs to. 1 when the event
 * belongs in the history, 0 when it does not (order.timeout: only its cancel
 * does), -1 when the body is not that event. */
static int order_log_describe(const char *routing_key, const char *body, size_t len,
                              int64_t *order_id, char *out, size_t outsz)
{
    char a[MONEY_STR_MAX];
    *order_id = 0;
    out[0] = '\0';
    if (strcmp(routing_key, EV_ORDER_CANCEL) == 0) {
        struct cancel_event ev;
        if (event_cancel_parse(body, len, &ev) != 0)
            return -1;
        *order_id = ev.order_id;
        if (strcmp(ev.reason, shop_code_name(SHOP_ORDER_CANCELLED)) == 0) {
            snprintf(out, outsz, "Cancelled by you. Stock, coupon and balance are given back.");
        } else if (strcmp(ev.reason, shop_code_name(SHOP_ORDER_REFUNDED)) == 0) {
            snprintf(out, outsz, "Refunded: stock, coupon and balance are given back.");
        } else if (strcmp(ev.reason, shop_code_name(SHOP_ORDER_INVALID)) == 0) {
            snprintf(out, outsz,
                     "Cancelled: not confirmed or not paid in time. Stock, coupon "
                     "and balance are given back.");
        } else {
            const char *why = code_message(ev.reason);
            snprintf(out, outsz, "Cancelled (%s%s%s). Stock, coupon and balance are given back.",
                     ev.reason[0] ? ev.reason : "no reason given", why ? ": " : "", why ? why : "");
        }
        return 1;
    }
    if (strcmp(routing_key, EV_PAY_NOTIFY) == 0) {
        struct pay_notify_event ev;
        if (event_pay_notify_parse(body, len, &ev) != 0)
            return -1;
        *order_id = ev.order_id;
        snprintf(out, outsz, "The payment provider reported a payment of %s (trade %s).",
                 money_format(ev.total_amount, a), ev.trade_no);
        return 1;
    }
    if (strcmp(routing_key, EV_ORDER_PAID) == 0 || strcmp(routing_key, EV_ORDER_REFUND) == 0) {
        struct paid_event ev;
        if (event_paid_parse(body, len, &ev) != 0)
            return -1;
        *order_id = ev.order_id;
        if (strcmp(routing_key, EV_ORDER_PAID) == 0)
            snprintf(out, outsz, "Payment of %s received (trade %s).",
                     money_format(ev.pay_amount, a), ev.trade_no);
        else
            snprintf(out, outsz,
                     "The payment of %s (trade %s) is marked for refund; the points it earned "
                     "are taken back.",
                     money_format(ev.pay_amount, a), ev.trade_no);
        return 1;
    }
    if (strncmp(routing_key, "refund.", 7) == 0)
        return refund_describe(routing_key, body, len, order_id, out, outsz);
    if (strcmp(routing_key, EV_PAY_MISMATCH) == 0) {
        struct pay_mismatch_event ev;
        if (event_pay_mismatch_parse(body, len, &ev) != 0)
            return -1;
        *order_id = ev.order_id;
        if (strcmp(ev.reason, "amount") == 0) {
            char b[MONEY_STR_MAX];
            snprintf(out, outsz,
                     "A payment of %s (trade %s) does not match the amount due %s; it was not "
                     "applied and an operator checks it.",
                     money_format(ev.notify_amount, a), ev.trade_no,
                     ev.expected_amount >= 0 ? money_format(ev.expected_amount, b) : "?");
        } else if (strcmp(ev.reason, "duplicate") == 0) {
            snprintf(out, outsz,
                     "A second payment of %s (trade %s) arrived for this paid order; an operator "
                     "refunds it.",
                     money_format(ev.notify_amount, a), ev.trade_no);
        } else {
            snprintf(out, outsz,
                     "A payment of %s (trade %s) arrived without a payment started here; an "
                     "operator checks it.",
                     money_format(ev.notify_amount, a), ev.trade_no);
        }
        return 1;
    }
    if (strcmp(routing_key, EV_PAY_ASKED) == 0 || strcmp(routing_key, EV_PAY_CLOSED) == 0)
        return describe_provider_step(routing_key, body, len, order_id, out, outsz);
    return 0; /* order.timeout and pay.query (what they cause is logged), and anything new */
}

/* One message of a batch, described. */
struct log_item {
    int64_t log_id, order_id;
    char key[SNOWFLAKE_STR_MAX];
    char detail[ORDER_LOG_DETAIL_MAX * 2];
    const struct mq_message *m;
};

static enum db_status log_rows_insert(db_conn *db, const struct log_item *it, size_t n)
{
    struct db_val p[LOG_ROWS * 4];
    for (size_t done = 0; done < n; done += LOG_ROWS) {
        for (size_t j = 0; j < LOG_ROWS; j++) {
            /* A short last chunk repeats its last row: the copy is ignored. */
            const struct log_item *x = &it[done + j < n ? done + j : n - 1];
            p[j * 4 + 0] = DB_I64(x->log_id);
            p[j * 4 + 1] = DB_I64(x->order_id);
            p[j * 4 + 2] = DB_TEXT(x->m->routing_key);
            p[j * 4 + 3] = DB_TEXTN(x->detail, utf8_cut(x->detail, ORDER_LOG_DETAIL_MAX));
        }
        enum db_status st = db_exec(db, SQL_INSERT_MANY, p, sizeof p / sizeof p[0], NULL);
        if (st != DB_OK)
            return st;
    }
    return DB_OK;
}

int order_log_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts,
                       void *ud)
{
    (void)ud;
    db_conn *db = order_db();
    struct log_item *it = calloc(n, sizeof *it);
    struct consumer_log_row *rows = calloc(n, sizeof *rows);
    int rc = -1;
    if (db == NULL || it == NULL || rows == NULL)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mq_message *m = ms[i];
        struct log_item *x = &it[k];
        int d = order_log_describe(m->routing_key, m->body, m->body_len, &x->order_id, x->detail,
                                   sizeof x->detail);
        verdicts[i] = d < 0 ? MQ_REJECT : MQ_ACK;
        if (d < 0)
            log_error("log: malformed %s %s: parked", m->routing_key, m->message_id);
        if (d <= 0)
            continue;
        x->m = m;
        x->log_id = snowflake_next(&shop_ids);
        snowflake_format(x->order_id, x->key);
        rows[k] = (struct consumer_log_row){.group = GROUP_LOG,
                                            .tag = m->routing_key,
                                            .key = x->key,
                                            .msg_id = m->message_id,
                                            .body = m->body,
                                            .body_len = m->body_len};
        k++;
    }
    enum db_status st = consumer_log_insert_many(db, rows, k);
    if (st == DB_OK)
        st = log_rows_insert(db, it, k);
    if (st != DB_OK) {
        log_warn("log: a batch of %zu failed (%s); handled again one by one", n, db_error(db));
        goto out;
    }
    for (size_t i = 0; i < k; i++)
        log_info("log: order %s: %s", it[i].key, it[i].detail);
    rc = 0;
out:
    free(rows);
    free(it);
    return rc;
}

enum mq_verdict order_log_on_event(const struct mq_message *m, void *ud)
{
    (void)ud;
    char detail[ORDER_LOG_DETAIL_MAX * 2], key[SNOWFLAKE_STR_MAX];
    int64_t order_id = 0;
    int d =
        order_log_describe(m->routing_key, m->body, m->body_len, &order_id, detail, sizeof detail);
    if (d < 0) {
        log_error("log: malformed %s %s: parked", m->routing_key, m->message_id);
        return MQ_REJECT;
    }
    if (d == 0)
        return MQ_ACK;
    db_conn *db = order_db();
    if (db == NULL)
        return MQ_RETRY;
    snowflake_format(order_id, key);
    if (db_begin(db) != DB_OK)
        return MQ_RETRY;
    enum db_status st = consumer_log_insert(db, GROUP_LOG, m->routing_key, key, m->message_id,
                                            m->body, m->body_len);
    if (st == DB_DUPLICATE) {
        db_rollback(db);
        log_info("log: %s of order %s logged before: no-op", m->routing_key, key);
        return MQ_ACK;
    }
    if (st == DB_OK) {
        st = order_log_add_tx(db, order_id, m->routing_key, detail);
        if (st == DB_DUPLICATE) /* the row is there (written before the consumer log) */
            st = DB_OK;
    }
    if (st != DB_OK || db_commit(db) != DB_OK) {
        db_rollback(db);
        log_warn("log: %s of order %s failed (%s); retrying later", m->routing_key, key,
                 db_error(db));
        return MQ_RETRY;
    }
    log_info("log: order %s: %s", key, detail);
    return MQ_ACK;
}
