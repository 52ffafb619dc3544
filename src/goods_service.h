/* goods_service: the goods service owns trade_goods and
 * trade_goods_number_log. This is the only module with SQL on them. */
#ifndef SHOP_GOODS_SERVICE_H
#define SHOP_GOODS_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"

#define GOODS_NAME_MAX 256
#define GOODS_DESC_MAX 1024
#define GOODS_LIST_MAX 500 /* the catalogue page shows at most this many */

struct goods {
    int64_t goods_id;
    char goods_name[GOODS_NAME_MAX];
    int64_t goods_number;      /* stock */
    int64_t goods_price;       /* cents */
    char goods_desc[GOODS_DESC_MAX];
    char add_time[32];         /* ISO 8601 UTC, "" when unknown */
};

/* All goods ordered by id, at most GOODS_LIST_MAX. On SHOP_SUCCESS *out is a
 * calloc'd array of *n goods the caller frees. SHOP_DB_UNAVAILABLE when the
 * database does not answer. */
enum shop_code goods_list(db_conn *db, struct goods **out, size_t *n);

/* One goods by id: SHOP_SUCCESS, SHOP_GOODS_NO_EXIST or SHOP_DB_UNAVAILABLE. */
enum shop_code goods_get(db_conn *db, int64_t goods_id, struct goods *out);

/* Saga step 3, its own transaction: refuse (SHOP_REDUCE_GOODS_NUM_FAIL) when
 * the goods consumer already reversed this order (consumer log
 * "goods"/"order.cancel"/order_id); one conditional UPDATE ... SET
 * goods_number = goods_number - n WHERE goods_id = ? AND goods_number >= n,
 * plus the log row (direction 1, goods_number -n). SHOP_GOODS_NUM_NOT_ENOUGH
 * when the stock is short, SHOP_GOODS_NO_EXIST, SHOP_DB_UNAVAILABLE. Never
 * read-then-write. */
enum shop_code goods_reduce_stock(db_conn *db, int64_t goods_id, int64_t order_id, int64_t n);

/* Reversal, inside the caller's transaction: if the order's reduce row
 * (direction 1) exists and no restore row (direction 2), add the stock back
 * and insert the restore row. Returns 1 restored, 0 nothing to reverse, or a
 * negative enum db_status. */
int goods_restore_stock_tx(db_conn *db, int64_t goods_id, int64_t order_id);

struct json_object;
/* A new JSON object with the table's column names; money as "12.50", ids as
 * strings. The caller puts the reference. */
struct json_object *goods_to_json(const struct goods *g);

/* "2026-11-26 05:40:01.123" (DATETIME) -> "2026-11-26T05:40:01Z" into out. */
void db_time_to_iso(const char *dbtime, char *out, size_t outsz);

#endif
