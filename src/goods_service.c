#include "goods_service.h"

#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "consumer_log.h"
#include "events.h"
#include "log.h"
#include "money.h"
#include "paging.h"
#include "snowflake.h"

db_conn *goods_db(void)
{
    return db_for(DB_GOODS);
}

#define GOODS_COLUMNS "goods_id, goods_name, goods_number, goods_price, goods_desc, add_time"

static const char SQL_PAGE[] = "SELECT " GOODS_COLUMNS " FROM trade_goods WHERE goods_id > ? "
                               "ORDER BY goods_id LIMIT ?";
static const char SQL_SEARCH[] =
    "SELECT " GOODS_COLUMNS " FROM trade_goods "
    "WHERE MATCH (goods_name, goods_desc) AGAINST (? IN BOOLEAN MODE) AND goods_id > ? "
    "ORDER BY goods_id LIMIT ?";
static const char SQL_GET[] = "SELECT " GOODS_COLUMNS " FROM trade_goods WHERE goods_id = ?";
static const char SQL_EXISTS[] = "SELECT 1 FROM trade_goods WHERE goods_id = ?";
static const char SQL_REDUCE[] = "UPDATE trade_goods SET goods_number = goods_number - ? "
                                 "WHERE goods_id = ? AND goods_number >= ?";
static const char SQL_ADD[] =
    "UPDATE trade_goods SET goods_number = goods_number + ? WHERE goods_id = ?";
static const char SQL_LOG_INSERT[] =
    "INSERT INTO trade_goods_number_log (goods_id, order_id, direction, goods_number, log_time) "
    "VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3))";
static const char SQL_LOG_REDUCED[] =
    "SELECT goods_number FROM trade_goods_number_log "
    "WHERE goods_id = ? AND order_id = ? AND direction = 1 FOR UPDATE";

enum { DIRECTION_REDUCE = 1, DIRECTION_RESTORE = 2 };

/* The operators' console. */
static const char SQL_CREATE[] =
    "INSERT INTO trade_goods (goods_id, goods_name, goods_number, goods_price, goods_desc, "
    "add_time) VALUES (?, ?, ?, CAST(? AS DECIMAL(10,2)), ?, UTC_TIMESTAMP(3))";
static const char SQL_EDIT[] = "UPDATE trade_goods SET goods_name = ?, goods_desc = ?, "
                               "goods_price = CAST(? AS DECIMAL(10,2)) WHERE goods_id = ?";
static const char SQL_ADJUST[] = "UPDATE trade_goods SET goods_number = goods_number + ? "
                                 "WHERE goods_id = ? AND goods_number + ? >= 0";
static const char SQL_STOCK[] = "SELECT goods_number FROM trade_goods WHERE goods_id = ?";
static const char SQL_ADJUST_LOG[] =
    "INSERT INTO trade_goods_stock_adjust (adjust_id, goods_id, delta, stock_after, reason, "
    "operator_name, created_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))";
static const char SQL_ADJUST_LIST[] =
    "SELECT CAST(adjust_id AS CHAR) AS adjust_id, delta, stock_after, reason, operator_name, "
    "created_at FROM trade_goods_stock_adjust WHERE goods_id = ? ORDER BY adjust_id DESC LIMIT 20";

static int row_to_goods(const db_result *r, size_t row, void *elem)
{
    struct goods *g = elem;
    memset(g, 0, sizeof *g);
    g->goods_id = db_result_i64(r, row, 0, 0);
    db_result_text(r, row, 1, g->goods_name, sizeof g->goods_name);
    g->goods_number = db_result_i64(r, row, 2, 0);
    const char *price = db_result_get(r, row, 3);
    if (price == NULL || money_parse_str(price, MONEY_NON_NEGATIVE, &g->goods_price) != 0) {
        log_error("goods %" PRId64 ": bad price in database", g->goods_id);
        return -1;
    }
    db_result_text(r, row, 4, g->goods_desc, sizeof g->goods_desc);
    db_time_to_iso(db_result_get(r, row, 5), g->add_time, sizeof g->add_time);
    return 0;
}

/* A search as a boolean-mode FULLTEXT query: each word of q (a run of
 * letters, digits or non-ASCII bytes; everything else separates words, so no
 * operator of the query language comes from the buyer) as "+word*": every
 * word must match, as a word or the start of one. Returns the number of
 * words (0: q has none, list everything). */
static size_t search_words(const char *q, struct buf *out)
{
    size_t words = 0;
    const unsigned char *p = (const unsigned char *)q;
    while (*p) {
        if (!isalnum(*p) && *p < 0x80) {
            p++;
            continue;
        }
        buf_puts(out, words++ ? " +" : "+");
        while (*p && (isalnum(*p) || *p >= 0x80))
            buf_putc(out, (char)*p++);
        buf_putc(out, '*');
    }
    return words;
}

enum shop_code goods_page(db_conn *db, const char *q, int64_t after, size_t limit,
                          struct goods **out, size_t *n, int *more)
{
    struct buf words;
    void *list = NULL;
    *out = NULL;
    *n = 0;
    *more = 0;
    if (q != NULL && strlen(q) > PAGING_SEARCH_MAX)
        return SHOP_SEARCH_INVALID;
    if (limit < 1 || limit > PAGING_LIMIT_MAX)
        return SHOP_LIST_LIMIT_INVALID;
    buf_init(&words, PAGING_SEARCH_MAX * 3 + 1);
    enum shop_code rc;
    if (q != NULL && search_words(q, &words) > 0) {
        struct db_val p[] = {DB_TEXTN(buf_str(&words), words.len), DB_I64(after),
                             DB_I64(limit + 1)};
        rc = db_query_list(db, SQL_SEARCH, p, 3, limit + 1, sizeof **out, row_to_goods, &list, n);
    } else {
        struct db_val p[] = {DB_I64(after), DB_I64(limit + 1)};
        rc = db_query_list(db, SQL_PAGE, p, 2, limit + 1, sizeof **out, row_to_goods, &list, n);
    }
    buf_free(&words);
    *out = list;
    if (rc == SHOP_SUCCESS)
        *more = paging_trim(n, limit);
    return rc;
}

enum shop_code goods_get(db_conn *db, int64_t goods_id, struct goods *out)
{
    db_result *r = NULL;
    enum shop_code rc = SHOP_INTERNAL_ERROR;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    struct db_val id = DB_I64(goods_id);
    enum db_status st = db_query(db, SQL_GET, &id, 1, 1, &r);
    if (st != DB_OK) {
        rc = db_shop_code(st);
        goto out;
    }
    if (db_result_rows(r) == 0) {
        rc = SHOP_GOODS_NO_EXIST;
        goto out;
    }
    if (row_to_goods(r, 0, out) == 0)
        rc = SHOP_SUCCESS;
out:
    db_result_free(r);
    return rc;
}

struct json_object *goods_to_json(const struct goods *g)
{
    char id[SNOWFLAKE_STR_MAX];
    snowflake_format(g->goods_id, id);
    json_object *o = json_object_new_object();
    if (o == NULL)
        return NULL;
    json_object_object_add(o, "goods_id", json_object_new_string(id));
    json_object_object_add(o, "goods_name", json_object_new_string(g->goods_name));
    json_object_object_add(o, "goods_number", json_object_new_int64(g->goods_number));
    money_json_add(o, "goods_price", g->goods_price);
    json_object_object_add(o, "goods_desc", json_object_new_string(g->goods_desc));
    json_object_object_add(o, "add_time",
                           g->add_time[0] ? json_object_new_string(g->add_time) : NULL);
    return o;
}

struct reduce_ctx {
    int64_t goods_id, order_id, n;
};

/* The stock step's effect: a conditional update (never below zero) and the
 * goods log row the reversal gives back by. */
static enum shop_code reduce_effect(db_conn *db, void *ctx, enum db_status *st)
{
    const struct reduce_ctx *g = ctx;
    uint64_t changed = 0;
    struct db_val up[] = {DB_I64(g->n), DB_I64(g->goods_id), DB_I64(g->n)};
    if ((*st = db_exec(db, SQL_REDUCE, up, 3, &changed)) != DB_OK)
        return SHOP_REDUCE_GOODS_NUM_FAIL;
    if (changed == 0) {
        db_result *r = NULL;
        struct db_val id = DB_I64(g->goods_id);
        if ((*st = db_query(db, SQL_EXISTS, &id, 1, 1, &r)) != DB_OK)
            return SHOP_REDUCE_GOODS_NUM_FAIL;
        enum shop_code rc =
            db_result_rows(r) == 0 ? SHOP_GOODS_NO_EXIST : SHOP_GOODS_NUM_NOT_ENOUGH;
        db_result_free(r);
        return rc;
    }
    struct db_val row[] = {DB_I64(g->goods_id), DB_I64(g->order_id), DB_I64(DIRECTION_REDUCE),
                           DB_I64(g->n)};
    enum db_status ls = db_exec(db, SQL_LOG_INSERT, row, 4, NULL);
    if (ls == DB_DUPLICATE) {
        log_warn("goods: order %" PRId64 " already reduced goods %" PRId64 ": refused", g->order_id,
                 g->goods_id);
        return SHOP_REDUCE_GOODS_NUM_FAIL;
    }
    if ((*st = ls) != DB_OK)
        return SHOP_REDUCE_GOODS_NUM_FAIL;
    log_info("goods: reduced %" PRId64 " of goods %" PRId64 " for order %" PRId64, g->n,
             g->goods_id, g->order_id);
    return SHOP_SUCCESS;
}

enum shop_code goods_reduce_stock(db_conn *db, int64_t goods_id, int64_t order_id, int64_t n)
{
    if (n < 1)
        return SHOP_REQUEST_PARAMETER_VALID;
    struct reduce_ctx g = {.goods_id = goods_id, .order_id = order_id, .n = n};
    return consumer_forward_step(db, GROUP_GOODS, order_id, "reducing the stock",
                                 SHOP_REDUCE_GOODS_NUM_FAIL, reduce_effect, &g);
}

/* Reversal, inside the caller's transaction: if the order's reduce row
 * (direction 1) exists and no restore row (direction 2), add the stock back
 * and insert the restore row; *restored is how many units came back.
 * Returns 1 restored, 0 nothing to reverse, or a negative enum db_status. */
static int restore_stock_tx(db_conn *db, int64_t goods_id, int64_t order_id, int64_t *restored)
{
    db_result *r = NULL;
    uint64_t changed = 0;
    *restored = 0;
    struct db_val key[] = {DB_I64(goods_id), DB_I64(order_id)};
    enum db_status st = db_query(db, SQL_LOG_REDUCED, key, 2, 1, &r);
    if (st != DB_OK)
        return st;
    int64_t n = db_result_rows(r) ? db_result_i64(r, 0, 0, 0) : 0;
    int found = db_result_rows(r) > 0;
    db_result_free(r);
    if (!found)
        return 0;
    if (n < 1) {
        log_error("goods: reduce row of goods %" PRId64 " order %" PRId64 " has %" PRId64 " units",
                  goods_id, order_id, n);
        return DB_ERR;
    }
    struct db_val row[] = {DB_I64(goods_id), DB_I64(order_id), DB_I64(DIRECTION_RESTORE),
                           DB_I64(n)};
    st = db_exec(db, SQL_LOG_INSERT, row, 4, NULL);
    if (st == DB_DUPLICATE)
        return 0;
    if (st != DB_OK)
        return st;
    struct db_val add[] = {DB_I64(n), DB_I64(goods_id)};
    st = db_exec(db, SQL_ADD, add, 2, &changed);
    if (st != DB_OK)
        return st;
    if (changed == 0) {
        /* The goods was deleted after the order reduced it: an operator's case. */
        log_error("goods: goods %" PRId64 " is gone: cannot restore order %" PRId64, goods_id,
                  order_id);
        return DB_ERR;
    }
    *restored = n;
    return 1;
}

struct restore_ctx {
    const struct cancel_event *ev;
    int64_t restored;
};

static int restore_effect(db_conn *db, void *ctx)
{
    struct restore_ctx *rc = ctx;
    return restore_stock_tx(db, rc->ev->goods_id, rc->ev->order_id, &rc->restored);
}

static enum mq_verdict on_cancel(const struct mq_message *m)
{
    struct cancel_event ev;
    char key[SNOWFLAKE_STR_MAX];
    if (event_cancel_parse(m->body, m->body_len, &ev) != 0) {
        log_warn("goods: message %s is not an order.cancel: parked", m->message_id);
        return MQ_REJECT;
    }
    snowflake_format(ev.order_id, key);
    struct restore_ctx ctx = {.ev = &ev};
    int done;
    enum consumer_outcome o =
        consumer_apply_once(goods_db(), GROUP_GOODS, key, m, restore_effect, &ctx, &done);
    if (o == CONSUMER_APPLIED && done)
        log_info("goods: restored %" PRId64 " of goods %" PRId64 " for order %s", ctx.restored,
                 ev.goods_id, key);
    else if (o == CONSUMER_APPLIED)
        log_info("goods: order %s did not reduce goods %" PRId64 ": nothing to restore", key,
                 ev.goods_id);
    return consumer_verdict(o);
}

enum mq_verdict goods_on_event(const struct mq_message *m, void *ud)
{
    (void)ud;
    if (strcmp(m->routing_key, EV_ORDER_CANCEL) == 0)
        return on_cancel(m);
    log_debug("goods: %s %s is not for the goods service: acked", m->routing_key, m->message_id);
    return MQ_ACK;
}

/* ------------------------------------------------------ operators' console */

/* 1 when the goods exists, 0 when not, -1 when the database failed. */
static int goods_exists(db_conn *db, int64_t goods_id)
{
    db_result *r = NULL;
    struct db_val id = DB_I64(goods_id);
    if (db_query(db, SQL_EXISTS, &id, 1, 1, &r) != DB_OK)
        return -1;
    int found = db_result_rows(r) > 0;
    db_result_free(r);
    return found;
}

enum shop_code goods_create(db_conn *db, const struct goods *g, int64_t *goods_id)
{
    char price[MONEY_STR_MAX];
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    *goods_id = snowflake_next(&shop_ids);
    struct db_val p[] = {DB_I64(*goods_id), DB_TEXT(g->goods_name), DB_I64(g->goods_number),
                         DB_TEXT(money_format(g->goods_price, price)), DB_TEXT(g->goods_desc)};
    enum db_status st = db_exec(db, SQL_CREATE, p, sizeof p / sizeof p[0], NULL);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

enum shop_code goods_edit(db_conn *db, const struct goods *g)
{
    char price[MONEY_STR_MAX];
    uint64_t n = 0;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    struct db_val p[] = {DB_TEXT(g->goods_name), DB_TEXT(g->goods_desc),
                         DB_TEXT(money_format(g->goods_price, price)), DB_I64(g->goods_id)};
    enum db_status st = db_exec(db, SQL_EDIT, p, sizeof p / sizeof p[0], &n);
    if (st != DB_OK)
        return db_shop_code(st);
    /* 0 rows: no such goods, or nothing changed (MariaDB counts changes). */
    return n == 1 || goods_exists(db, g->goods_id) == 1 ? SHOP_SUCCESS : SHOP_GOODS_NO_EXIST;
}

/* Inside the transaction: the change and its log row. */
static enum shop_code adjust_tx(db_conn *db, int64_t goods_id, int64_t delta, const char *reason,
                                const char *operator_name, int64_t *stock_after)
{
    struct db_val up[] = {DB_I64(delta), DB_I64(goods_id), DB_I64(delta)};
    struct db_val id = DB_I64(goods_id);
    uint64_t n = 0;
    db_result *r = NULL;
    enum db_status st = db_exec(db, SQL_ADJUST, up, 3, &n);
    if (st != DB_OK)
        return db_shop_code(st);
    if (n != 1)
        return goods_exists(db, goods_id) == 1 ? SHOP_GOODS_NUM_NOT_ENOUGH : SHOP_GOODS_NO_EXIST;
    if ((st = db_query(db, SQL_STOCK, &id, 1, 1, &r)) != DB_OK)
        return db_shop_code(st);
    *stock_after = db_result_i64(r, 0, 0, 0);
    db_result_free(r);
    struct db_val p[] = {DB_I64(snowflake_next(&shop_ids)),
                         DB_I64(goods_id),
                         DB_I64(delta),
                         DB_I64(*stock_after),
                         DB_TEXT(reason),
                         DB_TEXT(operator_name)};
    st = db_exec(db, SQL_ADJUST_LOG, p, sizeof p / sizeof p[0], NULL);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

enum shop_code goods_adjust_stock(db_conn *db, int64_t goods_id, int64_t delta, const char *reason,
                                  const char *operator_name, int64_t *stock_after)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_begin(db);
    if (st != DB_OK)
        return db_shop_code(st);
    enum shop_code rc = adjust_tx(db, goods_id, delta, reason, operator_name, stock_after);
    if (rc != SHOP_SUCCESS) {
        db_rollback(db);
        return rc;
    }
    st = db_commit(db);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

enum shop_code goods_adjustments_json(db_conn *db, int64_t goods_id, struct json_object **out)
{
    db_result *r = NULL;
    struct db_val id = DB_I64(goods_id);
    *out = NULL;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, SQL_ADJUST_LIST, &id, 1, 20, &r);
    if (st == DB_OK)
        *out = db_result_json(r);
    db_result_free(r);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}
