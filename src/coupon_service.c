/* coupon_service: trade_coupon, the only module with SQL on it. */
#include "coupon_service.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer_log.h"
#include "events.h"
#include "log.h"
#include "money.h"
#include "paging.h"
#include "snowflake.h"

db_conn *coupon_db(void)
{
    return db_for(DB_COUPON);
}

#define COUPON_COLUMNS "coupon_id, coupon_price, user_id, order_id, is_used, used_time"

static const char SQL_GET[] = "SELECT " COUPON_COLUMNS " FROM trade_coupon WHERE coupon_id = ?";
static const char SQL_PAGE[] =
    "SELECT " COUPON_COLUMNS " FROM trade_coupon WHERE user_id = ? "
    "AND (is_used > ? OR (is_used = ? AND coupon_id > ?)) ORDER BY is_used, coupon_id LIMIT ?";
static const char SQL_MINE[] = "SELECT 1 FROM trade_coupon WHERE coupon_id = ? AND user_id = ?";
static const char SQL_USE[] =
    "UPDATE trade_coupon SET is_used = 1, order_id = ?, used_time = UTC_TIMESTAMP(3) "
    "WHERE coupon_id = ? AND user_id = ? AND is_used = 0";
static const char SQL_RELEASE[] =
    "UPDATE trade_coupon SET is_used = 0, order_id = NULL, used_time = NULL "
    "WHERE coupon_id = ? AND order_id = ? AND is_used = 1";

static int row_to_coupon(const db_result *r, size_t row, void *elem)
{
    struct coupon *c = elem;
    memset(c, 0, sizeof *c);
    c->coupon_id = db_result_i64(r, row, 0, 0);
    const char *price = db_result_get(r, row, 1);
    if (price == NULL || money_parse_str(price, MONEY_NON_NEGATIVE, &c->coupon_price) != 0) {
        log_error("coupon %" PRId64 ": bad price in database", c->coupon_id);
        return -1;
    }
    c->user_id = db_result_i64(r, row, 2, 0);
    c->order_id = db_result_i64(r, row, 3, 0);
    c->is_used = db_result_i64(r, row, 4, 0) != 0;
    db_time_to_iso(db_result_get(r, row, 5), c->used_time, sizeof c->used_time);
    return 0;
}

enum shop_code coupon_get(db_conn *db, int64_t coupon_id, struct coupon *out)
{
    db_result *r = NULL;
    enum shop_code rc = SHOP_INTERNAL_ERROR;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    struct db_val id = DB_I64(coupon_id);
    enum db_status st = db_query(db, SQL_GET, &id, 1, 1, &r);
    if (st != DB_OK) {
        rc = db_shop_code(st);
        goto out;
    }
    if (db_result_rows(r) == 0) {
        rc = SHOP_COUPON_NO_EXIST;
        goto out;
    }
    if (row_to_coupon(r, 0, out) == 0)
        rc = SHOP_SUCCESS;
out:
    db_result_free(r);
    return rc;
}

enum shop_code coupon_page(db_conn *db, int64_t user_id, struct coupon_key after, size_t limit,
                           struct coupon **out, size_t *n, int *more)
{
    void *list = NULL;
    *more = 0;
    if (limit < 1 || limit > PAGING_LIMIT_MAX) {
        *out = NULL;
        *n = 0;
        return SHOP_LIST_LIMIT_INVALID;
    }
    struct db_val p[] = {DB_I64(user_id), DB_I64(after.is_used), DB_I64(after.is_used),
                         DB_I64(after.coupon_id), DB_I64(limit + 1)};
    enum shop_code rc =
        db_query_list(db, SQL_PAGE, p, 5, limit + 1, sizeof **out, row_to_coupon, &list, n);
    *out = list;
    if (rc == SHOP_SUCCESS)
        *more = paging_trim(n, limit);
    return rc;
}

struct use_ctx {
    int64_t coupon_id, user_id, order_id;
};

/* The coupon step's effect: a conditional update (unused, this user's). */
static enum shop_code use_effect(db_conn *db, void *ctx, enum db_status *st)
{
    const struct use_ctx *u = ctx;
    uint64_t changed = 0;
    struct db_val up[] = {DB_I64(u->order_id), DB_I64(u->coupon_id), DB_I64(u->user_id)};
    if ((*st = db_exec(db, SQL_USE, up, 3, &changed)) != DB_OK)
        return SHOP_COUPON_USE_FAIL;
    if (changed == 0) {
        db_result *r = NULL;
        struct db_val mine[] = {DB_I64(u->coupon_id), DB_I64(u->user_id)};
        if ((*st = db_query(db, SQL_MINE, mine, 2, 1, &r)) != DB_OK)
            return SHOP_COUPON_USE_FAIL;
        enum shop_code rc = db_result_rows(r) == 0 ? SHOP_COUPON_NO_EXIST : SHOP_COUPON_INVALIED;
        db_result_free(r);
        return rc;
    }
    log_info("coupon: coupon %" PRId64 " used by order %" PRId64, u->coupon_id, u->order_id);
    return SHOP_SUCCESS;
}

enum shop_code coupon_use(db_conn *db, int64_t coupon_id, int64_t user_id, int64_t order_id)
{
    struct use_ctx u = {.coupon_id = coupon_id, .user_id = user_id, .order_id = order_id};
    return consumer_forward_step(db, GROUP_COUPON, order_id, "using the coupon",
                                 SHOP_COUPON_USE_FAIL, use_effect, &u);
}

/* Reversal, inside the caller's transaction: UPDATE ... SET is_used = 0,
 * order_id = NULL, used_time = NULL WHERE coupon_id = ? AND order_id = ? AND
 * is_used = 1. Returns 1 freed, 0 nothing to reverse, or a negative
 * enum db_status. */
static int coupon_release_tx(db_conn *db, int64_t coupon_id, int64_t order_id)
{
    uint64_t changed = 0;
    if (db == NULL)
        return DB_GONE;
    struct db_val p[] = {DB_I64(coupon_id), DB_I64(order_id)};
    enum db_status st = db_exec(db, SQL_RELEASE, p, 2, &changed);
    if (st != DB_OK)
        return st;
    return changed > 0;
}

static int release_effect(db_conn *db, void *ctx)
{
    const struct cancel_event *ev = ctx;
    return ev->coupon_id != 0 ? coupon_release_tx(db, ev->coupon_id, ev->order_id) : 0;
}

static enum mq_verdict on_cancel(const struct mq_message *m)
{
    struct cancel_event ev;
    char key[SNOWFLAKE_STR_MAX];
    if (event_cancel_parse(m->body, m->body_len, &ev) != 0) {
        log_warn("coupon: message %s is not an order.cancel: parked", m->message_id);
        return MQ_REJECT;
    }
    snowflake_format(ev.order_id, key);
    int freed;
    enum consumer_outcome o =
        consumer_apply_once(coupon_db(), GROUP_COUPON, key, m, release_effect, &ev, &freed);
    if (o != CONSUMER_APPLIED)
        return consumer_verdict(o);
    if (ev.coupon_id == 0)
        log_info("coupon: order %s had no coupon: nothing to free", key);
    else if (freed)
        log_info("coupon: freed coupon %" PRId64 " of order %s", ev.coupon_id, key);
    else
        log_info("coupon: coupon %" PRId64 " is not used by order %s: nothing to free",
                 ev.coupon_id, key);
    return MQ_ACK;
}

enum mq_verdict coupon_on_event(const struct mq_message *m, void *ud)
{
    (void)ud;
    if (strcmp(m->routing_key, EV_ORDER_CANCEL) == 0)
        return on_cancel(m);
    log_debug("coupon: %s %s is not for the coupon service: acked", m->routing_key, m->message_id);
    return MQ_ACK;
}

struct json_object *coupon_to_json(const struct coupon *c)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return NULL;
    event_put_id(o, "coupon_id", c->coupon_id);
    money_json_add(o, "coupon_price", c->coupon_price);
    event_put_id(o, "user_id", c->user_id);
    event_put_id(o, "order_id", c->is_used ? c->order_id : 0);
    json_object_object_add(o, "is_used", json_object_new_int(c->is_used));
    json_object_object_add(o, "used_time",
                           c->used_time[0] ? json_object_new_string(c->used_time) : NULL);
    return o;
}

static const char SQL_ISSUE[] = "INSERT INTO trade_coupon (coupon_id, coupon_price, user_id, "
                                "is_used) VALUES (?, CAST(? AS DECIMAL(10,2)), ?, 0)";

enum shop_code coupon_issue(db_conn *db, int64_t user_id, int64_t cents, int64_t *coupon_id)
{
    char price[MONEY_STR_MAX];
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    *coupon_id = snowflake_next(&shop_ids);
    struct db_val p[] = {DB_I64(*coupon_id), DB_TEXT(money_format(cents, price)), DB_I64(user_id)};
    enum db_status st = db_exec(db, SQL_ISSUE, p, 3, NULL);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}
