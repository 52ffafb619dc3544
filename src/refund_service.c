/* refund_service: trade_refund and the refund consumer (see the header). */
#include "refund_service.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "consumer_log.h"
#include "log.h"
#include "money.h"
#include "order_log.h"
#include "order_service.h"
#include "outbox.h"
#include "pay_service.h"
#include "provider.h"
#include "snowflake.h"
#include "paging.h"
#include "utf8.h"

#define REFUND_COLUMNS                                                                             \
    "refund_id, order_id, pay_id, user_id, trade_no, refund_amount, reason, refund_status, note, " \
    "last_error, attempts, create_time, update_time, refund_time"

static const char SQL_INSERT[] =
    "INSERT INTO trade_refund (refund_id, dedupe_key, order_id, pay_id, user_id, trade_no, "
    "refund_amount, reason, refund_status, note, create_time, update_time) VALUES "
    "(?, ?, ?, ?, ?, ?, CAST(? AS DECIMAL(10,2)), ?, ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))";
static const char SQL_BY_KEY[] = "SELECT " REFUND_COLUMNS " FROM trade_refund WHERE dedupe_key = ?";
static const char SQL_GET[] = "SELECT " REFUND_COLUMNS " FROM trade_refund WHERE refund_id = ?";
static const char SQL_LOCK[] =
    "SELECT " REFUND_COLUMNS " FROM trade_refund WHERE refund_id = ? FOR UPDATE";
static const char SQL_LIST[] = "SELECT " REFUND_COLUMNS " FROM trade_refund WHERE order_id = ? "
                               "ORDER BY create_time, refund_id LIMIT ?";
static const char SQL_PAGE[] =
    "SELECT " REFUND_COLUMNS " FROM trade_refund WHERE (? = 0 OR refund_id < ?) "
    "AND (? = '' OR refund_status = ?) ORDER BY refund_id DESC LIMIT ?";
/* A step: from one status to the next, with what the step changes. */
static const char SQL_MOVE[] =
    "UPDATE trade_refund SET refund_status = ?, note = ?, last_error = ?, attempts = ?, "
    "refund_time = IF(? = 'succeeded', UTC_TIMESTAMP(3), refund_time), "
    "update_time = UTC_TIMESTAMP(3) WHERE refund_id = ? AND refund_status = ?";

/* ------------------------------------------------------------- emits */

void refund_emits_init(struct refund_emits *em)
{
    em->n = 0;
}

enum db_status refund_emits_add_tx(struct refund_emits *em, db_conn *db, const char *routing_key,
                                   const char *message_id, int64_t order_id, const char *body)
{
    char key[SNOWFLAKE_STR_MAX];
    if (em->n == REFUND_EMITS_MAX)
        return DB_ERR;
    enum db_status st = outbox_add_tx(db, MQ_EXCHANGE, routing_key, message_id,
                                      snowflake_format(order_id, key), body);
    if (st == DB_DUPLICATE) /* committed before: the outbox or the relay sends it */
        return DB_OK;
    if (st != DB_OK)
        return st;
    struct refund_emit *e = &em->e[em->n];
    e->routing_key = routing_key;
    snprintf(e->message_id, sizeof e->message_id, "%s", message_id);
    buf_init(&e->body, 16384);
    if (buf_puts(&e->body, body) != 0) {
        buf_free(&e->body);
        return DB_ERR;
    }
    em->n++;
    return DB_OK;
}

void refund_emits_send(struct refund_emits *em, db_conn *db, mq_conn *mq)
{
    for (size_t i = 0; i < em->n; i++)
        outbox_send(db, mq, MQ_EXCHANGE, em->e[i].routing_key, em->e[i].message_id,
                    buf_str(&em->e[i].body));
    refund_emits_free(em);
}

void refund_emits_free(struct refund_emits *em)
{
    for (size_t i = 0; i < em->n; i++)
        buf_free(&em->e[i].body);
    em->n = 0;
}

/* The step routing_key of ev into the outbox and em. */
static enum db_status emit_step_tx(struct refund_emits *em, db_conn *db, const char *routing_key,
                                   const struct refund_event *ev)
{
    char id[128];
    struct buf body;
    buf_init(&body, 16384);
    enum db_status st = DB_ERR;
    if (event_refund_message_id(routing_key, ev, id, sizeof id) == 0 &&
        event_refund_build(ev, &body) == 0)
        st = refund_emits_add_tx(em, db, routing_key, id, ev->order_id, buf_str(&body));
    buf_free(&body);
    return st;
}

/* -------------------------------------------------------------- rows */

static int row_to_refund(const db_result *r, size_t row, void *elem)
{
    struct refund *x = elem;
    memset(x, 0, sizeof *x);
    x->ev.refund_id = db_result_i64(r, row, 0, 0);
    x->ev.order_id = db_result_i64(r, row, 1, 0);
    x->ev.pay_id = db_result_i64(r, row, 2, 0);
    x->ev.user_id = db_result_i64(r, row, 3, 0);
    db_result_text(r, row, 4, x->ev.trade_no, sizeof x->ev.trade_no);
    const char *amount = db_result_get(r, row, 5);
    db_result_text(r, row, 6, x->ev.reason, sizeof x->ev.reason);
    db_result_text(r, row, 7, x->ev.refund_status, sizeof x->ev.refund_status);
    db_result_text(r, row, 8, x->ev.note, sizeof x->ev.note);
    db_result_text(r, row, 9, x->ev.last_error, sizeof x->ev.last_error);
    x->ev.attempts = db_result_i64(r, row, 10, 0);
    db_time_to_iso(db_result_get(r, row, 11), x->create_time, sizeof x->create_time);
    db_time_to_iso(db_result_get(r, row, 12), x->update_time, sizeof x->update_time);
    db_time_to_iso(db_result_get(r, row, 13), x->refund_time, sizeof x->refund_time);
    if (amount == NULL || money_parse_str(amount, MONEY_NON_NEGATIVE, &x->ev.refund_amount) != 0) {
        log_error("refund %" PRId64 ": bad amount in database", x->ev.refund_id);
        return -1;
    }
    return 0;
}

/* One row by sql and its one parameter: DB_OK, DB_ERR when there is none
 * (*found 0), or the failure. */
static enum db_status get_row(db_conn *db, const char *sql, struct db_val p, struct refund *out,
                              int *found)
{
    db_result *r = NULL;
    *found = 0;
    enum db_status st = db_query(db, sql, &p, 1, 1, &r);
    if (st == DB_OK && db_result_rows(r) > 0) {
        *found = 1;
        if (row_to_refund(r, 0, out) != 0)
            st = DB_ERR;
    }
    db_result_free(r);
    return st;
}

enum shop_code refund_get(db_conn *db, int64_t refund_id, struct refund *out)
{
    int found;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = get_row(db, SQL_GET, DB_I64(refund_id), out, &found);
    if (st != DB_OK)
        return db_shop_code(st);
    return found ? SHOP_SUCCESS : SHOP_REFUND_NOT_FOUND;
}

enum shop_code refund_list(db_conn *db, int64_t order_id, struct refund **out, size_t *n)
{
    struct db_val p[] = {DB_I64(order_id), DB_I64(REFUND_LIST_MAX)};
    void *list = NULL;
    *n = 0;
    enum shop_code rc =
        db_query_list(db, SQL_LIST, p, 2, REFUND_LIST_MAX, sizeof **out, row_to_refund, &list, n);
    *out = list;
    return rc;
}

enum shop_code refund_page(db_conn *db, const char *status, int64_t before, size_t limit,
                           struct refund **out, size_t *n, int *more)
{
    struct db_val p[] = {DB_I64(before), DB_I64(before), DB_TEXT(status), DB_TEXT(status),
                         DB_I64((int64_t)limit + 1)};
    void *list = NULL;
    *n = 0;
    *more = 0;
    enum shop_code rc = db_query_list(db, SQL_PAGE, p, sizeof p / sizeof p[0], limit + 1,
                                      sizeof **out, row_to_refund, &list, n);
    *out = list;
    if (rc == SHOP_SUCCESS)
        *more = paging_trim(n, limit);
    return rc;
}

/* The dedupe key of a new refund (sql/order/0005_refunds.sql). */
static void dedupe_key(const struct refund_event *ev, char out[128])
{
    if (strcmp(ev->reason, "buyer") == 0)
        snprintf(out, 128, "buyer:%" PRId64, ev->order_id);
    else
        snprintf(out, 128, "%s:%" PRId64 ":%s", ev->reason, ev->order_id, ev->trade_no);
}

enum db_status refund_create_tx(db_conn *db, const struct refund_event *ev, struct refund_emits *em,
                                struct refund *out)
{
    char key[128], amount[MONEY_STR_MAX];
    int found = 0;
    dedupe_key(ev, key);
    int64_t id = snowflake_next(&shop_ids);
    struct db_val p[] = {DB_I64(id),
                         DB_TEXT(key),
                         DB_I64(ev->order_id),
                         DB_I64(ev->pay_id),
                         DB_I64(ev->user_id),
                         DB_TEXT(ev->trade_no),
                         DB_TEXT(money_format(ev->refund_amount, amount)),
                         DB_TEXT(ev->reason),
                         DB_TEXT(ev->refund_status),
                         DB_TEXT(ev->note)};
    enum db_status st = db_exec(db, SQL_INSERT, p, sizeof p / sizeof p[0], NULL);
    if (st != DB_OK && st != DB_DUPLICATE)
        return st;
    enum db_status got = get_row(db, SQL_BY_KEY, DB_TEXT(key), out, &found);
    if (got != DB_OK || !found)
        return got != DB_OK ? got : DB_ERR;
    if (st == DB_DUPLICATE)
        return DB_DUPLICATE;
    const char *step =
        strcmp(ev->refund_status, "approved") == 0 ? EV_REFUND_APPROVED : EV_REFUND_REQUESTED;
    st = emit_step_tx(em, db, step, &out->ev);
    if (st == DB_OK)
        log_info("refund %" PRId64 ": %s refund of %s for order %" PRId64 " (trade %s), %s",
                 out->ev.refund_id, out->ev.reason, amount, out->ev.order_id, out->ev.trade_no,
                 out->ev.refund_status);
    return st;
}

/* Inside the caller's transaction: the locked row r, in status `from`,
 * becomes what the caller set in r->ev (status, note, last_error, attempts);
 * the step's event (routing_key) goes to the outbox and em; r is read again
 * (its times). */
static enum db_status move_tx(db_conn *db, struct refund *r, const char *from,
                              const char *routing_key, struct refund_emits *em)
{
    uint64_t n = 0;
    int found;
    struct db_val p[] = {DB_TEXT(r->ev.refund_status),
                         DB_TEXT(r->ev.note),
                         DB_TEXT(r->ev.last_error),
                         DB_I64(r->ev.attempts),
                         DB_TEXT(r->ev.refund_status),
                         DB_I64(r->ev.refund_id),
                         DB_TEXT(from)};
    enum db_status st = db_exec(db, SQL_MOVE, p, sizeof p / sizeof p[0], &n);
    if (st != DB_OK)
        return st;
    if (n != 1) /* the row is locked in `from`: cannot happen */
        return DB_ERR;
    if ((st = get_row(db, SQL_GET, DB_I64(r->ev.refund_id), r, &found)) != DB_OK)
        return st;
    return emit_step_tx(em, db, routing_key, &r->ev);
}

/* Lock the refund (inside a transaction): DB_OK with *found, or why not. */
static enum db_status lock_row(db_conn *db, int64_t refund_id, struct refund *out, int *found)
{
    return get_row(db, SQL_LOCK, DB_I64(refund_id), out, found);
}

/* Commit, then publish em; on any failure roll back and forget em. */
static enum shop_code commit_send(db_conn *db, mq_conn *mq, struct refund_emits *em,
                                  enum db_status st)
{
    if (st == DB_OK && (st = db_commit(db)) == DB_OK) {
        refund_emits_send(em, db, mq);
        return SHOP_SUCCESS;
    }
    db_rollback(db);
    refund_emits_free(em);
    return db_shop_code(st);
}

/* ----------------------------------------------------- the buyer's ask */

enum shop_code refund_request(db_conn *db, mq_conn *mq, int64_t user_id, int64_t order_id,
                              const char *note, struct refund *out)
{
    struct refund_emits em;
    struct order o;
    struct refund_event ev = {.order_id = order_id, .user_id = user_id};
    refund_emits_init(&em);
    if (db == NULL || db_begin(db) != DB_OK)
        return SHOP_DB_UNAVAILABLE;
    enum shop_code rc = order_refund_check_tx(db, user_id, order_id, &o);
    if (rc != SHOP_SUCCESS) {
        db_rollback(db);
        return rc;
    }
    int paid = pay_paid_get_tx(db, order_id, &ev.pay_id, ev.trade_no);
    if (paid <= 0) {
        db_rollback(db);
        if (paid == 0)
            log_error("refund: order %" PRId64 " is paid but has no paid trade_pay", order_id);
        return paid == 0 ? SHOP_REFUND_NOT_PAID : db_shop_code((enum db_status)paid);
    }
    ev.refund_amount = o.pay_amount;
    snprintf(ev.reason, sizeof ev.reason, "buyer");
    snprintf(ev.refund_status, sizeof ev.refund_status, "requested");
    snprintf(ev.note, sizeof ev.note, "%.*s", (int)utf8_cut(note, EVENT_REFUND_TEXT_MAX), note);
    enum db_status st = refund_create_tx(db, &ev, &em, out);
    if (st == DB_DUPLICATE) {
        db_rollback(db);
        return SHOP_REFUND_EXISTS;
    }
    return commit_send(db, mq, &em, st);
}

/* ------------------------------------------------- operators' actions */

int refund_action_parse(const char *word)
{
    static const char *const words[] = {
        [REFUND_APPROVE] = "approve", [REFUND_REJECT] = "reject", [REFUND_RETRY] = "retry"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(word, words[i]) == 0)
            return (int)i;
    return -1;
}

/* What each action needs, makes and says on the order's timeline. */
static const struct {
    const char *from, *to, *event, *done;
} STEPS[] = {
    [REFUND_APPROVE] = {"requested", "approved", EV_REFUND_APPROVED, "approved"},
    [REFUND_REJECT] = {"requested", "rejected", EV_REFUND_REJECTED, "rejected"},
    [REFUND_RETRY] = {"failed", "approved", EV_REFUND_APPROVED, "retried"},
};

/* Inside the transaction: the decision's line on the order's timeline,
 * "Refund <id> approved: <note> (by operator <name>)" (order_log owns it). */
static enum shop_code log_decision_tx(db_conn *db, const struct refund *r, enum refund_action a,
                                      const char *note, const char *operator_name)
{
    char what[512];
    snprintf(what, sizeof what, "Refund %" PRId64 " %s%s%s", r->ev.refund_id, STEPS[a].done,
             note[0] ? ": " : "", note);
    return order_log_operator(db, r->ev.order_id, operator_name, what);
}

/* Inside the transaction: lock the refund, move it, log the decision. */
static enum shop_code act_tx(db_conn *db, enum refund_action a, int64_t refund_id, const char *note,
                             const char *operator_name, struct refund_emits *em, struct refund *out)
{
    int found = 0;
    enum db_status st = lock_row(db, refund_id, out, &found);
    if (st != DB_OK)
        return db_shop_code(st);
    if (!found)
        return SHOP_REFUND_NOT_FOUND;
    if (strcmp(out->ev.refund_status, STEPS[a].from) != 0)
        return SHOP_REFUND_STATE;
    snprintf(out->ev.refund_status, sizeof out->ev.refund_status, "%s", STEPS[a].to);
    if (note[0] != '\0')
        snprintf(out->ev.note, sizeof out->ev.note, "%s", note);
    if ((st = move_tx(db, out, STEPS[a].from, STEPS[a].event, em)) != DB_OK)
        return db_shop_code(st);
    return log_decision_tx(db, out, a, note, operator_name);
}

enum shop_code refund_act(db_conn *db, mq_conn *mq, enum refund_action a, int64_t refund_id,
                          const char *note, const char *operator_name, struct refund *out)
{
    struct refund_emits em;
    refund_emits_init(&em);
    if (db == NULL || db_begin(db) != DB_OK)
        return SHOP_DB_UNAVAILABLE;
    enum shop_code rc = act_tx(db, a, refund_id, note != NULL ? note : "", operator_name, &em, out);
    if (rc != SHOP_SUCCESS) {
        db_rollback(db);
        refund_emits_free(&em);
        return rc;
    }
    rc = commit_send(db, mq, &em, DB_OK);
    if (rc == SHOP_SUCCESS)
        log_info("refund %" PRId64 ": %s -> %s by operator %s", refund_id, STEPS[a].from,
                 STEPS[a].to, operator_name);
    return rc;
}

/* ---------------------------------------------------------------- JSON */

static void put_time(json_object *o, const char *key, const char *iso)
{
    json_object_object_add(o, key, iso[0] ? json_object_new_string(iso) : NULL);
}

struct json_object *refund_to_json(const struct refund *r)
{
    json_object *j = json_object_new_object();
    if (j == NULL)
        return NULL;
    event_put_id(j, "refund_id", r->ev.refund_id);
    event_put_id(j, "order_id", r->ev.order_id);
    event_put_id(j, "pay_id", r->ev.pay_id);
    json_object_object_add(j, "trade_no", json_object_new_string(r->ev.trade_no));
    money_json_add(j, "refund_amount", r->ev.refund_amount);
    json_object_object_add(j, "reason", json_object_new_string(r->ev.reason));
    json_object_object_add(j, "refund_status", json_object_new_string(r->ev.refund_status));
    json_object_object_add(j, "note", json_object_new_string(r->ev.note));
    json_object_object_add(j, "last_error", json_object_new_string(r->ev.last_error));
    json_object_object_add(j, "attempts", json_object_new_int64(r->ev.attempts));
    put_time(j, "create_time", r->create_time);
    put_time(j, "update_time", r->update_time);
    put_time(j, "refund_time", r->refund_time);
    return j;
}

/* ------------------------------------------------------------ consumer */

/* Tests only: die here as SIGKILL would kill us. */
static void fault_point(const struct shop_config *cfg, const char *name)
{
    if (strcmp(cfg->fault_inject, name) == 0) {
        log_warn("refund: fault_inject %s: killing myself", name);
        raise(SIGKILL);
    }
}

/* Take the refund: approved -> sent (attempts + 1) and committed; a row
 * already sent goes on as it is. 1 go on (*fresh: it was approved now),
 * 0 nothing to do (another state), -1 retry later. */
static int take(db_conn *db, mq_conn *pub, int64_t refund_id, struct refund *r, int *fresh)
{
    struct refund_emits em;
    int found = 0;
    *fresh = 0;
    refund_emits_init(&em);
    if (db_begin(db) != DB_OK)
        return -1;
    enum db_status st = lock_row(db, refund_id, r, &found);
    if (st != DB_OK || !found || strcmp(r->ev.refund_status, "sent") == 0) {
        db_rollback(db);
        if (st == DB_OK && !found)
            log_error("refund: refund.approved of unknown refund %" PRId64 ": dropped", refund_id);
        return st != DB_OK ? -1 : found;
    }
    if (strcmp(r->ev.refund_status, "approved") != 0) {
        db_rollback(db);
        log_info("refund %" PRId64 ": %s, nothing to do", refund_id, r->ev.refund_status);
        return 0;
    }
    snprintf(r->ev.refund_status, sizeof r->ev.refund_status, "sent");
    r->ev.attempts++;
    r->ev.last_error[0] = '\0';
    st = move_tx(db, r, "approved", EV_REFUND_SENT, &em);
    if (commit_send(db, pub, &em, st) != SHOP_SUCCESS)
        return -1;
    *fresh = 1;
    return 1;
}

/* The effects of a succeeded buyer's refund on the order, inside the
 * transaction: order_status 4, order.cancel (stock, coupon, balance back
 * through the reversal consumers, once per order as for any cancel) and
 * order.refund (its points taken back by the user consumer, once). */
static enum db_status order_effects_tx(db_conn *db, const struct refund *r, struct refund_emits *em)
{
    struct order o;
    char id[64];
    struct buf body;
    int changed = order_refunded_tx(db, r->ev.order_id, &o);
    if (changed <= 0)
        return changed < 0 ? (enum db_status)changed : DB_OK;
    struct cancel_event ce = {.order_id = o.order_id,
                              .user_id = o.user_id,
                              .goods_id = o.goods_id,
                              .goods_number = o.goods_number,
                              .coupon_id = o.coupon_id,
                              .money_paid = o.money_paid};
    snprintf(ce.reason, sizeof ce.reason, "%s", shop_code_name(SHOP_ORDER_REFUNDED));
    struct paid_event pe = {.order_id = o.order_id,
                            .user_id = o.user_id,
                            .pay_id = r->ev.pay_id,
                            .pay_amount = o.pay_amount};
    snprintf(pe.trade_no, sizeof pe.trade_no, "%s", r->ev.trade_no);
    snprintf(pe.paid_time, sizeof pe.paid_time, "%s", o.pay_time);
    buf_init(&body, 4096);
    enum db_status st = DB_ERR;
    snprintf(id, sizeof id, EV_ORDER_CANCEL ":%" PRId64, o.order_id);
    if (event_cancel_build(&ce, &body) == 0)
        st = refund_emits_add_tx(em, db, EV_ORDER_CANCEL, id, o.order_id, buf_str(&body));
    buf_reset(&body);
    snprintf(id, sizeof id, EV_ORDER_REFUND ":%" PRId64, o.order_id);
    if (st == DB_OK)
        st = event_paid_build(&pe, &body) == 0
                 ? refund_emits_add_tx(em, db, EV_ORDER_REFUND, id, o.order_id, buf_str(&body))
                 : DB_ERR;
    buf_free(&body);
    return st;
}

/* The row sent -> to (succeeded or failed, with last_error), with the
 * effects of a succeeded buyer's refund; committed and published. */
static enum mq_verdict settle(db_conn *db, mq_conn *pub, struct refund *r, const char *to,
                              const char *error)
{
    struct refund_emits em;
    int found = 0;
    int ok = strcmp(to, "succeeded") == 0;
    refund_emits_init(&em);
    if (db_begin(db) != DB_OK)
        return MQ_RETRY;
    enum db_status st = lock_row(db, r->ev.refund_id, r, &found);
    if (st == DB_OK && (!found || strcmp(r->ev.refund_status, "sent") != 0)) {
        db_rollback(db); /* settled meanwhile (a competing consumer) */
        return MQ_ACK;
    }
    snprintf(r->ev.refund_status, sizeof r->ev.refund_status, "%s", to);
    snprintf(r->ev.last_error, sizeof r->ev.last_error, "%.*s",
             (int)utf8_cut(error, EVENT_REFUND_TEXT_MAX), error);
    if (st == DB_OK)
        st = move_tx(db, r, "sent", ok ? EV_REFUND_SUCCEEDED : EV_REFUND_FAILED, &em);
    if (st == DB_OK && ok && strcmp(r->ev.reason, "buyer") == 0)
        st = order_effects_tx(db, r, &em);
    if (commit_send(db, pub, &em, st) != SHOP_SUCCESS)
        return MQ_RETRY;
    if (ok) {
        char amount[MONEY_STR_MAX];
        log_info("refund %" PRId64 ": %s refunded for order %" PRId64 " (trade %s)",
                 r->ev.refund_id, money_format(r->ev.refund_amount, amount), r->ev.order_id,
                 r->ev.trade_no);
    } else {
        log_warn("refund %" PRId64 ": refused by the provider: %s", r->ev.refund_id, error);
    }
    return MQ_ACK;
}

static const char *reason_text(const char *reason)
{
    if (strcmp(reason, "late") == 0)
        return "payment after the order was cancelled";
    if (strcmp(reason, "second") == 0)
        return "second payment of the order";
    return "refund asked for by the buyer";
}

/* The provider's part, outside any transaction: ask first when the refund
 * may have been sent before, send it (the same out_request_no), confirm. */
static enum mq_verdict to_provider(db_conn *db, const struct consumer_ctx *ctx, struct refund *r,
                                   int fresh)
{
    char req[SNOWFLAKE_STR_MAX];
    struct provider_refund pr;
    const struct refund_event *ev = &r->ev;
    snowflake_format(ev->refund_id, req);
    enum provider_status ps;
    if (!fresh) {
        ps = provider_refund_query(ctx->cfg, ev->order_id, ev->trade_no, req, &pr);
        if (ps == PROVIDER_OK && pr.succeeded)
            return settle(db, ctx->pub, r, "succeeded", "");
        if (ps != PROVIDER_OK)
            goto later;
        log_info("refund %s: sent before, unknown to the provider: sending it again", req);
    }
    ps = provider_trade_refund(ctx->cfg, ev->order_id, ev->trade_no, ev->refund_amount, req,
                               reason_text(ev->reason), &pr);
    if (ps == PROVIDER_REFUSED) {
        char why[sizeof pr.sub_code + sizeof pr.sub_msg + 2];
        snprintf(why, sizeof why, "%s: %s", pr.sub_code, pr.sub_msg);
        return settle(db, ctx->pub, r, "failed", why);
    }
    if (ps != PROVIDER_OK)
        goto later;
    if (fresh)
        fault_point(ctx->cfg, "refund_after_provider");
    ps = provider_refund_query(ctx->cfg, ev->order_id, ev->trade_no, req, &pr);
    if (ps == PROVIDER_OK && pr.succeeded)
        return settle(db, ctx->pub, r, "succeeded", "");
    if (ps == PROVIDER_OK)
        log_warn("refund %s: accepted, but the provider's query does not confirm it yet", req);
later:
    log_warn("refund %s: provider %s (%s); asking again later", req, provider_status_text(ps),
             pr.sub_msg);
    return MQ_RETRY;
}

enum mq_verdict refund_on_event(const struct mq_message *m, void *ud)
{
    const struct consumer_ctx *ctx = ud;
    struct refund_event ev;
    struct refund r;
    int fresh;
    if (strcmp(m->routing_key, EV_REFUND_APPROVED) != 0) {
        log_warn("refund: unexpected routing key '%s' (%s): ignored", m->routing_key,
                 m->message_id);
        return MQ_ACK;
    }
    if (event_refund_parse(m->body, m->body_len, &ev) != 0) {
        log_error("refund: malformed refund.approved %s: parked", m->message_id);
        return MQ_REJECT;
    }
    db_conn *db = order_db();
    if (ctx == NULL || ctx->cfg == NULL || db == NULL)
        return MQ_RETRY;
    int go = take(db, ctx->pub, ev.refund_id, &r, &fresh);
    if (go <= 0)
        return go == 0 ? MQ_ACK : MQ_RETRY;
    if (fresh)
        fault_point(ctx->cfg, "refund_after_sent");
    return to_provider(db, ctx, &r, fresh);
}
