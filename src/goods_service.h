/* goods_service: the goods service owns trade_goods and
 * trade_goods_number_log. This is the only module with SQL on them. */
#ifndef SHOP_GOODS_SERVICE_H
#define SHOP_GOODS_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"
#include "mq.h"

#define GOODS_NAME_MAX 256
#define GOODS_DESC_MAX 1024

struct goods {
    int64_t goods_id;
    char goods_name[GOODS_NAME_MAX];
    int64_t goods_number; /* stock */
    int64_t goods_price;  /* cents */
    char goods_desc[GOODS_DESC_MAX];
    char add_time[32]; /* ISO 8601 UTC, "" when unknown */
};

/* This thread's connection to the goods service's own database
 * (db_for(DB_GOODS): goods_db_name, or the main database when it has none);
 * NULL when it is down. Only this service's functions, and the modules
 * that are part of it, use it. */
db_conn *goods_db(void);

/* One page of the catalogue, by id: the goods after goods id `after` (0:
 * from the first), at most limit (1..PAGING_LIMIT_MAX); with q (NULL or "":
 * all goods) only those whose name or description has every word of q (a
 * word may be the start of a longer one: "lam" finds "lamp"), through the
 * FULLTEXT index on both. A keyset query on the primary key, never OFFSET.
 * On SHOP_SUCCESS *out is a calloc'd array of *n goods the caller frees and
 * *more is 1 when a next page exists. SHOP_SEARCH_INVALID when q is longer
 * than PAGING_SEARCH_MAX; SHOP_DB_UNAVAILABLE when the database does not
 * answer. */
enum shop_code goods_page(db_conn *db, const char *q, int64_t after, size_t limit,
                          struct goods **out, size_t *n, int *more);

/* One goods by id: SHOP_SUCCESS, SHOP_GOODS_NO_EXIST or SHOP_DB_UNAVAILABLE. */
enum shop_code goods_get(db_conn *db, int64_t goods_id, struct goods *out);

/* Saga step 3, its own transaction on db (the goods database): refuse
 * (SHOP_REDUCE_GOODS_NUM_FAIL) when the goods consumer already reversed this
 * order (consumer log "goods"/"order.cancel"/order_id, a locking read) or
 * when this order already reduced this goods; one conditional UPDATE ... SET
 * goods_number = goods_number - n WHERE goods_id = ? AND goods_number >= n,
 * plus the log row (direction 1, goods_number n: the schema keeps it
 * positive, the direction says which way). SHOP_GOODS_NUM_NOT_ENOUGH when
 * the stock is short (buying the last unit is allowed), SHOP_GOODS_NO_EXIST,
 * SHOP_REQUEST_PARAMETER_VALID when n < 1, SHOP_DB_UNAVAILABLE. A deadlock
 * retries the whole transaction (up to 3 times). Never read-then-write. */
enum shop_code goods_reduce_stock(db_conn *db, int64_t goods_id, int64_t order_id, int64_t n);

/* The goods consumer (queue shop.goods). order.cancel: in one transaction
 * on goods_db(), the consumer-log row (also the tombstone that makes a
 * later goods_reduce_stock of the order refuse) and the stock restore, if
 * the stock was reduced. A redelivery acks without effect; a body that is
 * not an order.cancel is parked (MQ_REJECT); a database failure retries.
 * Other routing keys are acked. ud is unused. */
enum mq_verdict goods_on_event(const struct mq_message *m, void *ud);

/* The operators' console. goods_create: a new goods of g's name, stock,
 * price and description (checked by the caller), its id in *goods_id.
 * goods_edit: g's name, description and price for g->goods_id
 * (SHOP_GOODS_NO_EXIST). goods_adjust_stock: stock += delta (refused with
 * SHOP_GOODS_NUM_NOT_ENOUGH below 0) and a trade_goods_stock_adjust row with
 * the reason and the operator, in one transaction; the stock after it in
 * *stock_after. goods_adjustments_json: the last 20 of those rows, newest
 * first, as a JSON array of text columns (new reference). */
struct json_object;
enum shop_code goods_create(db_conn *db, const struct goods *g, int64_t *goods_id);
enum shop_code goods_edit(db_conn *db, const struct goods *g);
enum shop_code goods_adjust_stock(db_conn *db, int64_t goods_id, int64_t delta, const char *reason,
                                  const char *operator_name, int64_t *stock_after);
enum shop_code goods_adjustments_json(db_conn *db, int64_t goods_id, struct json_object **out);

/* A new JSON object with the table's column names; money as "12.50", ids as
 * strings. The caller puts the reference. */
struct json_object *goods_to_json(const struct goods *g);

#endif
