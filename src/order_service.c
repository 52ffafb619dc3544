/* order_service: trade_order, and the order consumer that cancels orders. */
#include "order_service.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alipay.h"
#include "buf.h"
#include "consumer_log.h"
#include "events.h"
#include "goods_service.h"
#include "log.h"
#include "money.h"
#include "paging.h"
#include "outbox.h"
#include "refund_service.h"
#include "snowflake.h"

db_conn *order_db(void)
{
    return db_for(DB_ORDER);
}

#define ORDER_COLUMNS                                                                              \
    "order_id, user_id, order_status, pay_status, shipping_status, address, consignee, "           \
    "goods_id, goods_number, goods_price, goods_amount, shipping_fee, order_amount, coupon_id, "   \
    "coupon_paid, money_paid, pay_amount, add_time, confirm_time, pay_time"

static const char SQL_INSERT[] =
    "INSERT INTO trade_order (order_id, user_id, order_status, pay_status, shipping_status, "
    "address, consignee, goods_id, goods_number, goods_price, goods_amount, shipping_fee, "
    "order_amount, coupon_id, coupon_paid, money_paid, pay_amount, add_time) "
    "VALUES (?, ?, 0, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))";
static const char SQL_CONFIRM[] =
    "UPDATE trade_order SET order_status = 1, pay_status = 0, confirm_time = UTC_TIMESTAMP(3) "
    "WHERE order_id = ? AND order_status = 0";
static const char SQL_CONFIRM_PAID[] =
    "UPDATE trade_order SET order_status = 1, pay_status = 2, confirm_time = UTC_TIMESTAMP(3), "
    "pay_time = UTC_TIMESTAMP(3) WHERE order_id = ? AND order_status = 0";
static const char SQL_CANCEL[] = "UPDATE trade_order SET order_status = 2 WHERE order_id = ? "
                                 "AND (order_status = 0 OR (order_status = 1 AND pay_status <> 2))";
static const char SQL_GET[] =
    "SELECT " ORDER_COLUMNS " FROM trade_order WHERE order_id = ? AND user_id = ?";
static const char SQL_GET_ANY[] = "SELECT " ORDER_COLUMNS " FROM trade_order WHERE order_id = ?";
static const char SQL_PAGE[] = "SELECT " ORDER_COLUMNS " FROM trade_order "
                               "WHERE user_id = ? AND order_id < ? ORDER BY order_id DESC LIMIT ?";

/* The operators' search (order_search): every filter is always bound, the
 * ones not asked for as values that match every row. */
static const char SQL_SEARCH[] =
    "SELECT " ORDER_COLUMNS " FROM trade_order WHERE order_id < ? AND (? = 0 OR order_id = ?) "
    "AND (? = 0 OR user_id = ?) AND (? < 0 OR order_status = ?) "
    "AND add_time >= ? AND add_time < ? + INTERVAL 1 DAY ORDER BY order_id DESC LIMIT ?";

static int money_col(const db_result *r, size_t row, size_t col, int64_t *out)
{
    const char *s = db_result_get(r, row, col);
    return s != NULL && money_parse_str(s, MONEY_NON_NEGATIVE, out) == 0 ? 0 : -1;
}

static int row_to_order(const db_result *r, size_t row, void *elem)
{
    struct order *o = elem;
    memset(o, 0, sizeof *o);
    o->order_id = db_result_i64(r, row, 0, 0);
    o->user_id = db_result_i64(r, row, 1, 0);
    o->order_status = (int)db_result_i64(r, row, 2, 0);
    o->pay_status = (int)db_result_i64(r, row, 3, 0);
    o->shipping_status = (int)db_result_i64(r, row, 4, 0);
    db_result_text(r, row, 5, o->address, sizeof o->address);
    db_result_text(r, row, 6, o->consignee, sizeof o->consignee);
    o->goods_id = db_result_i64(r, row, 7, 0);
    o->goods_number = db_result_i64(r, row, 8, 0);
    o->coupon_id = db_result_i64(r, row, 13, 0);
    if (money_col(r, row, 9, &o->goods_price) || money_col(r, row, 10, &o->goods_amount) ||
        money_col(r, row, 11, &o->shipping_fee) || money_col(r, row, 12, &o->order_amount) ||
        money_col(r, row, 14, &o->coupon_paid) || money_col(r, row, 15, &o->money_paid) ||
        money_col(r, row, 16, &o->pay_amount)) {
        log_error("order %" PRId64 ": bad amount in database", o->order_id);
        return -1;
    }
    db_time_to_iso(db_result_get(r, row, 17), o->add_time, sizeof o->add_time);
    db_time_to_iso(db_result_get(r, row, 18), o->confirm_time, sizeof o->confirm_time);
    db_time_to_iso(db_result_get(r, row, 19), o->pay_time, sizeof o->pay_time);
    return 0;
}

enum shop_code order_save_preorder_tx(db_conn *db, const struct order *o)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    char price[MONEY_STR_MAX], amount[MONEY_STR_MAX], ship[MONEY_STR_MAX], total[MONEY_STR_MAX];
    char coupon[MONEY_STR_MAX], money[MONEY_STR_MAX], pay[MONEY_STR_MAX];
    struct db_val p[] = {
        DB_I64(o->order_id),
        DB_I64(o->user_id),
        DB_TEXT(o->address),
        DB_TEXT(o->consignee),
        DB_I64(o->goods_id),
        DB_I64(o->goods_number),
        DB_TEXT(money_format(o->goods_price, price)),
        DB_TEXT(money_format(o->goods_amount, amount)),
        DB_TEXT(money_format(o->shipping_fee, ship)),
        DB_TEXT(money_format(o->order_amount, total)),
        o->coupon_id != 0 ? DB_I64(o->coupon_id) : DB_NULLV,
        DB_TEXT(money_format(o->coupon_paid, coupon)),
        DB_TEXT(money_format(o->money_paid, money)),
        DB_TEXT(money_format(o->pay_amount, pay)),
    };
    enum db_status st = db_exec(db, SQL_INSERT, p, sizeof p / sizeof p[0], NULL);
    if (st == DB_OK)
        return SHOP_SUCCESS;
    log_error("order %" PRId64 ": pre-order not saved: %s", o->order_id, db_error(db));
    return st == DB_GONE ? SHOP_DB_UNAVAILABLE : SHOP_ORDER_SAVE_ERROR;
}

enum shop_code order_confirm_tx(db_conn *db, int64_t order_id, int paid_on_confirm)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    struct db_val id = DB_I64(order_id);
    uint64_t affected = 0;
    enum db_status st =
        db_exec(db, paid_on_confirm ? SQL_CONFIRM_PAID : SQL_CONFIRM, &id, 1, &affected);
    if (st != DB_OK)
        return db_shop_code(st);
    return affected == 1 ? SHOP_SUCCESS : SHOP_ORDER_CONFIRM_FAIL;
}

/* Reversal, inside the caller's transaction: set order_status 2 when the
 * order is unconfirmed or confirmed-and-not-paid. Returns 1 cancelled,
 * 0 nothing to do (already cancelled, or paid), or a negative enum db_status. */
static int order_cancel_tx(db_conn *db, int64_t order_id)
{
    struct db_val id = DB_I64(order_id);
    uint64_t affected = 0;
    enum db_status st = db_exec(db, SQL_CANCEL, &id, 1, &affected);
    if (st != DB_OK)
        return (int)st;
    return affected > 0 ? 1 : 0;
}

static enum shop_code get_one(db_conn *db, const char *sql, const struct db_val *p, size_t n,
                              struct order *out)
{
    db_result *r = NULL;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, sql, p, n, 1, &r);
    enum shop_code rc;
    if (st != DB_OK)
        rc = db_shop_code(st);
    else if (db_result_rows(r) == 0)
        rc = SHOP_ORDER_NOT_FOUND;
    else
        rc = row_to_order(r, 0, out) == 0 ? SHOP_SUCCESS : SHOP_INTERNAL_ERROR;
    db_result_free(r);
    return rc;
}

enum shop_code order_get(db_conn *db, int64_t user_id, int64_t order_id, struct order *out)
{
    struct db_val p[] = {DB_I64(order_id), DB_I64(user_id)};
    return get_one(db, SQL_GET, p, 2, out);
}

enum shop_code order_get_any(db_conn *db, int64_t order_id, struct order *out)
{
    struct db_val p = DB_I64(order_id);
    return get_one(db, SQL_GET_ANY, &p, 1, out);
}

enum shop_code order_page(db_conn *db, int64_t user_id, int64_t before, size_t limit,
                          struct order **out, size_t *n, int *more)
{
    void *list = NULL;
    *more = 0;
    if (limit < 1 || limit > PAGING_LIMIT_MAX) {
        *out = NULL;
        *n = 0;
        return SHOP_LIST_LIMIT_INVALID;
    }
    struct db_val p[] = {DB_I64(user_id), DB_I64(before > 0 ? before : INT64_MAX),
                         DB_I64(limit + 1)};
    enum shop_code rc =
        db_query_list(db, SQL_PAGE, p, 3, limit + 1, sizeof **out, row_to_order, &list, n);
    *out = list;
    if (rc == SHOP_SUCCESS)
        *more = paging_trim(n, limit);
    return rc;
}

enum shop_code order_search(db_conn *db, const struct order_filter *f, int64_t before, size_t limit,
                            struct order **out, size_t *n, int *more)
{
    void *list = NULL;
    *out = NULL;
    *n = 0;
    *more = 0;
    if (limit < 1 || limit > PAGING_LIMIT_MAX)
        return SHOP_LIST_LIMIT_INVALID;
    struct db_val p[] = {
        DB_I64(before > 0 ? before : INT64_MAX),
        DB_I64(f->order_id),
        DB_I64(f->order_id),
        DB_I64(f->user_id),
        DB_I64(f->user_id),
        DB_I64(f->status),
        DB_I64(f->status),
        DB_TEXT(f->from[0] ? f->from : "1000-01-01"),
        DB_TEXT(f->to[0] ? f->to : "9999-12-30"),
        DB_I64(limit + 1),
    };
    enum shop_code rc = db_query_list(db, SQL_SEARCH, p, sizeof p / sizeof p[0], limit + 1,
                                      sizeof **out, row_to_order, &list, n);
    *out = list;
    if (rc == SHOP_SUCCESS)
        *more = paging_trim(n, limit);
    return rc;
}

static void put_time(json_object *o, const char *key, const char *iso)
{
    json_object_object_add(o, key, iso[0] ? json_object_new_string(iso) : NULL);
}

struct json_object *order_to_json(const struct order *o)
{
    json_object *j = json_object_new_object();
    if (j == NULL)
        return NULL;
    event_put_id(j, "order_id", o->order_id);
    event_put_id(j, "user_id", o->user_id);
    json_object_object_add(j, "order_status", json_object_new_int(o->order_status));
    json_object_object_add(j, "pay_status", json_object_new_int(o->pay_status));
    json_object_object_add(j, "shipping_status", json_object_new_int(o->shipping_status));
    json_object_object_add(j, "address", json_object_new_string(o->address));
    json_object_object_add(j, "consignee", json_object_new_string(o->consignee));
    event_put_id(j, "goods_id", o->goods_id);
    json_object_object_add(j, "goods_number", json_object_new_int64(o->goods_number));
    money_json_add(j, "goods_price", o->goods_price);
    money_json_add(j, "goods_amount", o->goods_amount);
    money_json_add(j, "shipping_fee", o->shipping_fee);
    money_json_add(j, "order_amount", o->order_amount);
    event_put_id(j, "coupon_id", o->coupon_id);
    money_json_add(j, "coupon_paid", o->coupon_paid);
    money_json_add(j, "money_paid", o->money_paid);
    money_json_add(j, "pay_amount", o->pay_amount);
    put_time(j, "add_time", o->add_time);
    put_time(j, "confirm_time", o->confirm_time);
    put_time(j, "pay_time", o->pay_time);
    return j;
}

/* --------------------------------------------------------- idempotency */

static const char SQL_IDEM_CLAIM[] =
    "INSERT INTO trade_idempotency (user_id, idem_key, status, response, created_at) "
    "VALUES (?, ?, 0, NULL, UTC_TIMESTAMP(3))";
static const char SQL_IDEM_GET[] =
    "SELECT status, response FROM trade_idempotency WHERE user_id = ? AND idem_key = ?";
static const char SQL_IDEM_FINISH[] = "UPDATE trade_idempotency SET status = ?, response = ? "
                                      "WHERE user_id = ? AND idem_key = ? AND status = 0";
static const char SQL_IDEM_RELEASE[] =
    "DELETE FROM trade_idempotency WHERE user_id = ? AND idem_key = ? AND status = 0";

int order_idem_claim(db_conn *db, int64_t user_id, const char *key, int *status, char **response)
{
    *status = 0;
    *response = NULL;
    if (db == NULL)
        return -1;
    struct db_val p[] = {DB_I64(user_id), DB_TEXT(key)};
    enum db_status st = db_exec(db, SQL_IDEM_CLAIM, p, 2, NULL);
    if (st == DB_OK)
        return 1;
    if (st != DB_DUPLICATE)
        return -1;
    db_result *r = NULL;
    if (db_query(db, SQL_IDEM_GET, p, 2, 1, &r) != DB_OK)
        return -1;
    int rc = 0;
    if (db_result_rows(r) == 0) {
        rc = -1; /* released meanwhile: let the caller answer "try again" */
    } else {
        *status = (int)db_result_i64(r, 0, 0, 0);
        const char *body = db_result_get(r, 0, 1);
        if (*status != 0 && body != NULL && (*response = strdup(body)) == NULL)
            rc = -1;
    }
    db_result_free(r);
    return rc;
}

int order_idem_finish(db_conn *db, int64_t user_id, const char *key, int status,
                      const char *response)
{
    if (db == NULL)
        return -1;
    struct db_val p[] = {DB_I64(status), DB_TEXT(response), DB_I64(user_id), DB_TEXT(key)};
    return db_exec(db, SQL_IDEM_FINISH, p, 4, NULL) == DB_OK ? 0 : -1;
}

int order_idem_release(db_conn *db, int64_t user_id, const char *key)
{
    if (db == NULL)
        return -1;
    struct db_val p[] = {DB_I64(user_id), DB_TEXT(key)};
    return db_exec(db, SQL_IDEM_RELEASE, p, 2, NULL) == DB_OK ? 0 : -1;
}

/* ------------------------------------------------------------ consumer */

static int cancel_effect(db_conn *db, void *ctx)
{
    const struct cancel_event *ev = ctx;
    return order_cancel_tx(db, ev->order_id);
}

static enum mq_verdict on_cancel(const struct mq_message *m)
{
    struct cancel_event ev;
    if (event_cancel_parse(m->body, m->body_len, &ev) != 0) {
        log_error("order: malformed order.cancel %s: parked", m->message_id);
        return MQ_REJECT;
    }
    char key[SNOWFLAKE_STR_MAX];
    snowflake_format(ev.order_id, key);
    int done;
    enum consumer_outcome o =
        consumer_apply_once(order_db(), GROUP_ORDER, key, m, cancel_effect, &ev, &done);
    if (o == CONSUMER_APPLIED && done)
        log_info("order: %s cancelled (%s)", key, ev.reason);
    else if (o == CONSUMER_APPLIED)
        log_info("order: %s not cancelled (already cancelled, paid or unknown)", key);
    return consumer_verdict(o);
}

/* The order.cancel of o with reason, built into body, its message id into
 * id (64 bytes) and its key into key. 0 or -1. */
static int cancel_message(const struct order *o, enum shop_code reason, struct buf *body,
                          char id[64], char key[SNOWFLAKE_STR_MAX])
{
    struct cancel_event cev = {.order_id = o->order_id,
                               .user_id = o->user_id,
                               .goods_id = o->goods_id,
                               .goods_number = o->goods_number,
                               .coupon_id = o->coupon_id,
                               .money_paid = o->money_paid};
    snprintf(cev.reason, sizeof cev.reason, "%s", shop_code_name(reason));
    snowflake_format(o->order_id, key);
    snprintf(id, 64, EV_ORDER_CANCEL ":%s", key);
    return event_cancel_build(&cev, body);
}

enum shop_code order_cancel_emit(db_conn *db, mq_conn *pub, const struct order *o,
                                 enum shop_code reason)
{
    struct buf body;
    char id[64], key[SNOWFLAKE_STR_MAX];
    enum shop_code rc = SHOP_INTERNAL_ERROR;
    buf_init(&body, 4096);
    if (cancel_message(o, reason, &body, id, key) == 0)
        rc = outbox_emit(db, pub, EV_ORDER_CANCEL, id, key, buf_str(&body));
    buf_free(&body);
    return rc;
}

/* A paying order expired: the query consumer asks the provider first
 * (pay.query, kind "expiry"); this consumer runs in batch transactions and
 * never waits for the provider. */
static enum mq_verdict ask_before_expiry(db_conn *db, mq_conn *pub, const struct order *o)
{
    struct query_event q = {.order_id = o->order_id, .attempt = 0};
    struct buf body;
    char id[80], key[SNOWFLAKE_STR_MAX];
    enum mq_verdict v = MQ_RETRY;
    snprintf(q.kind, sizeof q.kind, "expiry");
    snowflake_format(o->order_id, key);
    snprintf(id, sizeof id, EV_PAY_QUERY ":%s:expiry:0", key);
    buf_init(&body, 4096);
    if (event_query_build(&q, &body) == 0 &&
        outbox_emit(db, pub, EV_PAY_QUERY, id, key, buf_str(&body)) == SHOP_SUCCESS) {
        log_info("order: %s expired while paying: the provider is asked first", key);
        v = MQ_ACK;
    }
    buf_free(&body);
    return v;
}

static enum mq_verdict on_timeout(const struct mq_message *m, mq_conn *pub)
{
    struct timeout_event ev;
    if (event_timeout_parse(m->body, m->body_len, &ev) != 0) {
        log_error("order: malformed order.timeout %s: parked", m->message_id);
        return MQ_REJECT;
    }
    db_conn *db = order_db();
    if (db == NULL)
        return MQ_RETRY;
    struct order o;
    enum shop_code rc = order_get_any(db, ev.order_id, &o);
    if (rc == SHOP_ORDER_NOT_FOUND) {
        log_info("order: timeout of unknown order %" PRId64 ": nothing to do", ev.order_id);
        return MQ_ACK;
    }
    if (rc != SHOP_SUCCESS)
        return MQ_RETRY;
    int preorder = strcmp(ev.kind, "preorder") == 0;
    int expired = preorder ? o.order_status == ORDER_UNCONFIRMED
                           : o.order_status == ORDER_CONFIRMED && o.pay_status != PAY_PAID;
    if (!expired) {
        log_info("order: %" PRId64 " %s check: status %d/%d, nothing to do", o.order_id, ev.kind,
                 o.order_status, o.pay_status);
        return MQ_ACK;
    }
    if (!preorder && o.pay_status == PAY_PAYING)
        return ask_before_expiry(db, pub, &o);
    if (order_cancel_emit(db, pub, &o, SHOP_ORDER_INVALID) != SHOP_SUCCESS)
        return MQ_RETRY;
    log_info("order: %" PRId64 " %s expired: cancel emitted", o.order_id,
             preorder ? "pre-order" : "unpaid order");
    return MQ_ACK;
}

static enum mq_verdict on_paid(const struct mq_message *m, mq_conn *pub);

enum mq_verdict order_on_event(const struct mq_message *m, void *ud)
{
    const struct consumer_ctx *ctx = ud;
    if (strcmp(m->routing_key, EV_ORDER_CANCEL) == 0)
        return on_cancel(m);
    if (strcmp(m->routing_key, EV_ORDER_TIMEOUT) == 0)
        return on_timeout(m, ctx != NULL ? ctx->pub : NULL);
    if (strcmp(m->routing_key, EV_ORDER_PAID) == 0)
        return on_paid(m, ctx != NULL ? ctx->pub : NULL);
    log_warn("order: unexpected routing key '%s' (%s): ignored", m->routing_key, m->message_id);
    return MQ_ACK;
}

/* -------------------------------------------------------------- paying */

static const char SQL_GET_FOR_PAY[] =
    "SELECT " ORDER_COLUMNS " FROM trade_order WHERE order_id = ? AND user_id = ? FOR UPDATE";
static const char SQL_SET_PAYING[] = "UPDATE trade_order SET pay_status = 1 "
                                     "WHERE order_id = ? AND order_status = 1 AND pay_status = 0";
static const char SQL_LOCK_STATUS[] =
    "SELECT order_status, pay_status FROM trade_order WHERE order_id = ? FOR UPDATE";
static const char SQL_SET_PAID[] =
    "UPDATE trade_order SET pay_status = 2, pay_time = COALESCE(?, UTC_TIMESTAMP(3)) "
    "WHERE order_id = ? AND order_status = 1 AND pay_status <> 2";
static const char SQL_SET_REFUND[] =
    "UPDATE trade_order SET order_status = 4, pay_status = 2, "
    "pay_time = COALESCE(?, UTC_TIMESTAMP(3)) WHERE order_id = ? AND order_status <> 4";
/* Whether the order's order.cancel was emitted (by the saga or the expiry
 * check): it is on its way to the goods, coupon and user consumers, which
 * give everything back whatever this consumer does. */
static const char SQL_CANCEL_EMITTED[] = "SELECT 1 FROM trade_mq_producer_temp WHERE id = ?";

enum shop_code order_pay_begin_tx(db_conn *db, int64_t user_id, int64_t order_id, struct order *out)
{
    struct db_val p[] = {DB_I64(order_id), DB_I64(user_id)};
    enum shop_code rc = get_one(db, SQL_GET_FOR_PAY, p, 2, out);
    if (rc != SHOP_SUCCESS)
        return rc;
    if (out->pay_status == PAY_PAID)
        return SHOP_PAYMENT_IS_PAID;
    if (out->order_status != ORDER_CONFIRMED || out->pay_amount <= 0)
        return SHOP_ORDER_STATUS_UPDATE_FAIL;
    if (out->pay_status == PAY_UNPAID) {
        enum db_status st = db_exec(db, SQL_SET_PAYING, p, 1, NULL);
        if (st != DB_OK)
            return db_shop_code(st);
        out->pay_status = PAY_PAYING;
    }
    return SHOP_SUCCESS;
}

/* ------------------------------------------------------------- refunds */

static const char SQL_SET_REFUNDED[] = "UPDATE trade_order SET order_status = 4 "
                                       "WHERE order_id = ? AND order_status = 1 AND pay_status = 2";

enum shop_code order_refund_check_tx(db_conn *db, int64_t user_id, int64_t order_id,
                                     struct order *out)
{
    struct db_val p[] = {DB_I64(order_id), DB_I64(user_id)};
    enum shop_code rc = get_one(db, SQL_GET_FOR_PAY, p, 2, out);
    if (rc != SHOP_SUCCESS)
        return rc;
    if (out->order_status == ORDER_REFUND)
        return SHOP_ORDER_REFUNDED;
    if (out->order_status != ORDER_CONFIRMED || out->pay_status != PAY_PAID || out->pay_amount <= 0)
        return SHOP_REFUND_NOT_PAID;
    return out->shipping_status != 0 ? SHOP_ORDER_SHIPPED : SHOP_SUCCESS;
}

int order_refunded_tx(db_conn *db, int64_t order_id, struct order *out)
{
    struct db_val id = DB_I64(order_id);
    uint64_t affected = 0;
    enum db_status st = db_exec(db, SQL_SET_REFUNDED, &id, 1, &affected);
    if (st != DB_OK)
        return (int)st;
    if (affected == 0)
        return 0;
    enum shop_code rc = get_one(db, SQL_GET_ANY, &id, 1, out);
    return rc == SHOP_SUCCESS ? 1 : (int)DB_ERR;
}

/* The approved refund of a payment that arrived for a cancelled order,
 * inside on_paid's transaction. */
static enum db_status late_refund_tx(db_conn *db, const struct paid_event *ev,
                                     struct refund_emits *em)
{
    struct refund r;
    struct refund_event re = {.order_id = ev->order_id,
                              .user_id = ev->user_id,
                              .pay_id = ev->pay_id,
                              .refund_amount = ev->pay_amount,
                              .reason = "late",
                              .refund_status = "approved"};
    snprintf(re.trade_no, sizeof re.trade_no, "%s", ev->trade_no);
    if (re.refund_amount <= 0)
        return DB_OK; /* nothing came through the provider */
    enum db_status st = refund_create_tx(db, &re, em, &r);
    return st == DB_DUPLICATE ? DB_OK : st;
}

/* "2026-01-02T03:04:05Z" -> "2026-01-02 03:04:05" into out (20 bytes);
 * 0, or -1 when iso is not that shape. */
static int iso_to_db(const char *iso, char out[20])
{
    static const char shape[] = "0000-00-00T00:00:00Z";
    if (strlen(iso) != sizeof shape - 1)
        return -1;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == '0' ? (iso[i] < '0' || iso[i] > '9') : iso[i] != shape[i])
            return -1;
    snprintf(out, 20, "%.10s %.8s", iso, iso + 11);
    return 0;
}

static enum mq_verdict on_paid(const struct mq_message *m, mq_conn *pub)
{
    struct paid_event ev;
    if (event_paid_parse(m->body, m->body_len, &ev) != 0) {
        log_error("order: malformed order.paid %s: parked", m->message_id);
        return MQ_REJECT;
    }
    db_conn *db = order_db();
    if (db == NULL)
        return MQ_RETRY;
    char key[SNOWFLAKE_STR_MAX], when[20], id[64];
    struct buf body;
    struct refund_emits em;
    db_result *r = NULL;
    int refund = 0;
    buf_init(&body, 4096);
    refund_emits_init(&em);
    snowflake_format(ev.order_id, key);
    snprintf(id, sizeof id, EV_ORDER_REFUND ":%s", key);
    struct db_val p[] = {iso_to_db(ev.paid_time, when) == 0 ? DB_TEXT(when) : DB_NULLV,
                         DB_I64(ev.order_id)};
    if (db_begin(db) != DB_OK)
        goto retry_nodb;
    enum db_status st = consumer_log_insert(db, GROUP_ORDER, EV_ORDER_PAID, key, m->message_id,
                                            m->body, m->body_len);
    if (st == DB_DUPLICATE) {
        db_rollback(db);
        buf_free(&body);
        log_info("order: order.paid of %s handled before: no-op", key);
        return MQ_ACK;
    }
    if (st != DB_OK || db_query(db, SQL_LOCK_STATUS, &p[1], 1, 1, &r) != DB_OK)
        goto retry;
    if (db_result_rows(r) == 0) {
        /* The pay service only pays rows of existing orders: worth a look. */
        log_error("order: order.paid for unknown order %s (trade %s): recorded, nothing changed",
                  key, ev.trade_no);
    } else {
        int status = (int)db_result_i64(r, 0, 0, -1);
        uint64_t affected = 0;
        if (status == ORDER_CONFIRMED) {
            /* Expired and cancelled, the cancel not consumed here yet: the
             * payment is late all the same (refund), or the order would be
             * paid with its stock, coupon and balance given back. */
            char cancel_id[64];
            db_result *c = NULL;
            snprintf(cancel_id, sizeof cancel_id, EV_ORDER_CANCEL ":%s", key);
            struct db_val cid = DB_TEXT(cancel_id);
            if (db_query(db, SQL_CANCEL_EMITTED, &cid, 1, 1, &c) != DB_OK)
                goto retry;
            if (db_result_rows(c) > 0)
                status = ORDER_CANCELLED;
            db_result_free(c);
        }
        if (status == ORDER_CONFIRMED) {
            if (db_exec(db, SQL_SET_PAID, p, 2, &affected) != DB_OK)
                goto retry;
        } else if (status == ORDER_UNCONFIRMED || status == ORDER_CANCELLED ||
                   status == ORDER_INVALID) {
            if (db_exec(db, SQL_SET_REFUND, p, 2, &affected) != DB_OK)
                goto retry;
            refund = affected > 0;
            if (refund) {
                if (event_paid_build(&ev, &body) != 0)
                    goto retry;
                st = outbox_add_tx(db, MQ_EXCHANGE, EV_ORDER_REFUND, id, key, buf_str(&body));
                if (st != DB_OK && st != DB_DUPLICATE)
                    goto retry;
                if (late_refund_tx(db, &ev, &em) != DB_OK)
                    goto retry;
            }
        }
        if (affected == 0 && !refund)
            log_info("order: %s paid (trade %s) but its status is %d/%d: nothing to change", key,
                     ev.trade_no, status, (int)db_result_i64(r, 0, 1, -1));
    }
    db_result_free(r);
    r = NULL;
    if (db_commit(db) != DB_OK)
        goto retry;
    if (refund) {
        log_warn("order: %s was paid (trade %s) after it was cancelled: marked for refund", key,
                 ev.trade_no);
        outbox_send(db, pub, MQ_EXCHANGE, EV_ORDER_REFUND, id, buf_str(&body));
        refund_emits_send(&em, db, pub);
    } else {
        log_info("order: %s paid (trade %s)", key, ev.trade_no);
    }
    buf_free(&body);
    return MQ_ACK;
retry:
    db_result_free(r);
    db_rollback(db);
    refund_emits_free(&em);
retry_nodb:
    buf_free(&body);
    log_warn("order: order.paid of %s failed (%s); retrying later", key, db_error(db));
    return MQ_RETRY;
}

/* A batch of order.paid only (the notifications' common case), with
 * PAID_ROWS orders a statement (the last one repeated): the log rows in one
 * statement, the orders locked by one read, the emitted cancels looked up
 * by one, then each order marked paid. Anything but a confirmed order
 * without a cancel sends the batch one by one (on_paid decides). */
#define PAID_ROWS 16
static const char SQL_LOCK_STATUS_MANY[] =
    "SELECT order_id, order_status FROM trade_order WHERE order_id IN "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) FOR UPDATE";
static const char SQL_CANCEL_EMITTED_MANY[] =
    "SELECT 1 FROM trade_mq_producer_temp WHERE id IN "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) LIMIT 1";

struct paid_msg {
    struct paid_event ev;
    char key[SNOWFLAKE_STR_MAX];
    char cancel_id[64];
};

/* 1 when every order of ps[from, to) is confirmed and none has its cancel
 * emitted (they are locked now), 0 when not, or a negative enum db_status. */
static int paid_plain_tx(db_conn *db, const struct paid_msg *ps, size_t from, size_t to)
{
    struct db_val ids[PAID_ROWS], cids[PAID_ROWS];
    for (size_t j = 0; j < PAID_ROWS; j++) {
        const struct paid_msg *p = &ps[from + j < to ? from + j : to - 1];
        ids[j] = DB_I64(p->ev.order_id);
        cids[j] = DB_TEXT(p->cancel_id);
    }
    db_result *r = NULL;
    enum db_status st = db_query(db, SQL_LOCK_STATUS_MANY, ids, PAID_ROWS, PAID_ROWS, &r);
    if (st != DB_OK)
        return (int)st;
    int plain = 1;
    for (size_t i = from; i < to && plain; i++) {
        int found = 0;
        for (size_t k = 0; k < db_result_rows(r); k++)
            if (db_result_i64(r, k, 0, 0) == ps[i].ev.order_id)
                found = db_result_i64(r, k, 1, -1) == ORDER_CONFIRMED;
        plain = found;
    }
    db_result_free(r);
    r = NULL;
    if (!plain)
        return 0;
    st = db_query(db, SQL_CANCEL_EMITTED_MANY, cids, PAID_ROWS, 1, &r);
    plain = st == DB_OK && db_result_rows(r) == 0;
    db_result_free(r);
    return st != DB_OK ? (int)st : plain;
}

/* The orders of a chunk marked paid at once (the last one repeated):
 * ELT(FIELD(order_id, ids), times) is the payment time of the row's order. */
#define Q16 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
static const char SQL_SET_PAID_MANY[] =
    "UPDATE trade_order SET pay_status = 2, pay_time = COALESCE(ELT(FIELD(order_id, " Q16 "), " Q16
    "), UTC_TIMESTAMP(3)) WHERE order_id IN (" Q16 ") AND order_status = 1 AND pay_status <> 2";

/* Mark the orders of ps[from, to) paid (confirmed and locked): one statement. */
static enum db_status paid_mark_tx(db_conn *db, const struct paid_msg *ps, size_t from, size_t to)
{
    struct db_val p[3 * PAID_ROWS];
    char when[PAID_ROWS][20];
    for (size_t j = 0; j < PAID_ROWS; j++) {
        const struct paid_msg *m = &ps[from + j < to ? from + j : to - 1];
        p[j] = p[2 * PAID_ROWS + j] = DB_I64(m->ev.order_id);
        p[PAID_ROWS + j] = iso_to_db(m->ev.paid_time, when[j]) == 0 ? DB_TEXT(when[j]) : DB_NULLV;
    }
    uint64_t affected = 0;
    enum db_status st = db_exec(db, SQL_SET_PAID_MANY, p, 3 * PAID_ROWS, &affected);
    if (st != DB_OK)
        return st;
    for (size_t i = from; i < to; i++)
        log_info("order: %s paid (trade %s)", ps[i].key, ps[i].ev.trade_no);
    if (affected < to - from)
        log_info("order: %zu of these orders were paid already: nothing changed for them",
                 (size_t)(to - from - affected));
    return DB_OK;
}

/* Mark the fresh orders of ps paid; 0, or -1 to go one by one. */
static int paid_apply_tx(db_conn *db, const struct paid_msg *ps, size_t n)
{
    for (size_t j = 0; j < n; j += PAID_ROWS) {
        size_t to = j + PAID_ROWS < n ? j + PAID_ROWS : n;
        if (paid_plain_tx(db, ps, j, to) != 1 || paid_mark_tx(db, ps, j, to) != DB_OK)
            return -1;
    }
    return 0;
}

/* The batch of order.paid: parse, claim the log rows, apply the fresh. */
static int paid_batch(db_conn *db, const struct mq_message *const *ms, size_t n,
                      enum mq_verdict *verdicts)
{
    struct paid_claim *cs = calloc(n, sizeof *cs);
    struct paid_msg *ps = calloc(n, sizeof *ps);
    size_t fresh = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        verdicts[i] = MQ_ACK;
    if (cs == NULL || ps == NULL ||
        consumer_log_claim_paid(db, GROUP_ORDER, ms, n, cs, &fresh) != 0)
        goto out;
    for (size_t i = 0; i < fresh; i++) {
        ps[i].ev = cs[i].ev;
        memcpy(ps[i].key, cs[i].key, sizeof ps[i].key);
        snprintf(ps[i].cancel_id, sizeof ps[i].cancel_id, EV_ORDER_CANCEL ":%s", ps[i].key);
    }
    rc = paid_apply_tx(db, ps, fresh);
out:
    free(ps);
    free(cs);
    return rc;
}

int order_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts,
                   void *ud)
{
    return consumer_paid_batch(order_db(), ms, n, verdicts, ud, paid_batch, order_on_event);
}

/* ------------------------------------------------------ the buyer cancels */

int order_expiry(const struct order *o, int unpaid_timeout_s, time_t *out)
{
    char when[20];
    time_t t;
    if (iso_to_db(o->confirm_time, when) != 0 || alipay_timestamp_parse(when, 0, &t) != 0)
        return -1;
    *out = t + unpaid_timeout_s;
    return 0;
}

/* Inside the transaction: what the buyer's cancel may do with o (locked). */
static enum shop_code buyer_may_cancel(const struct order *o, int closed)
{
    if (o->pay_status == PAY_PAID || o->order_status == ORDER_REFUND)
        return SHOP_ORDER_PAID;
    if (o->order_status == ORDER_CANCELLED)
        return SHOP_SUCCESS;
    if (o->order_status != ORDER_CONFIRMED || (o->pay_status == PAY_PAYING && !closed))
        return SHOP_ORDER_STATUS_UPDATE_FAIL;
    return SHOP_SUCCESS;
}

enum shop_code order_cancel_by_buyer(db_conn *db, mq_conn *mq, int64_t user_id, int64_t order_id,
                                     int closed, struct order *out)
{
    struct db_val p[] = {DB_I64(order_id), DB_I64(user_id)};
    struct buf body;
    char id[64], key[SNOWFLAKE_STR_MAX];
    int sent = 0;
    enum shop_code rc;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    buf_init(&body, 4096);
    enum db_status st = db_begin(db);
    if (st != DB_OK) {
        rc = db_shop_code(st);
        goto out;
    }
    rc = get_one(db, SQL_GET_FOR_PAY, p, 2, out);
    if (rc == SHOP_SUCCESS)
        rc = buyer_may_cancel(out, closed);
    if (rc == SHOP_SUCCESS && out->order_status == ORDER_CONFIRMED) {
        if (cancel_message(out, SHOP_ORDER_CANCELLED, &body, id, key) != 0)
            rc = SHOP_INTERNAL_ERROR;
        else if ((st = db_exec(db, SQL_CANCEL, p, 1, NULL)) != DB_OK ||
                 ((st = outbox_add_tx(db, MQ_EXCHANGE, EV_ORDER_CANCEL, id, key, buf_str(&body))) !=
                      DB_OK &&
                  st != DB_DUPLICATE))
            rc = db_shop_code(st);
        sent = rc == SHOP_SUCCESS;
    }
    if (rc != SHOP_SUCCESS || (st = db_commit(db)) != DB_OK) {
        if (rc == SHOP_SUCCESS)
            rc = db_shop_code(st);
        db_rollback(db);
        goto out;
    }
    if (sent) {
        out->order_status = ORDER_CANCELLED;
        log_info("order: %s cancelled by the buyer", key);
        outbox_send(db, mq, MQ_EXCHANGE, EV_ORDER_CANCEL, id, buf_str(&body));
    }
out:
    buf_free(&body);
    return rc;
}
