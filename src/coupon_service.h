/* coupon_service: the coupon service owns trade_coupon. */
#ifndef SHOP_COUPON_SERVICE_H
#define SHOP_COUPON_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"
#include "mq.h"

struct coupon {
    int64_t coupon_id;
    int64_t coupon_price; /* cents */
    int64_t user_id;
    int64_t order_id;   /* 0 when unused */
    int is_used;        /* 0 unused, 1 used */
    char used_time[32]; /* ISO 8601 UTC, "" when unused */
};

/* This thread's connection to the coupon service's own database
 * (db_for(DB_COUPON): coupon_db_name, or the main database when it has none);
 * NULL when it is down. Only this service's functions, and the modules
 * that are part of it, use it. */
db_conn *coupon_db(void);

/* SHOP_SUCCESS, SHOP_COUPON_NO_EXIST, SHOP_DB_UNAVAILABLE. */
enum shop_code coupon_get(db_conn *db, int64_t coupon_id, struct coupon *out);

/* Where a page of a user's coupons starts: after the coupon (is_used,
 * coupon_id) in the list's order; {0, 0} for the first page. */
struct coupon_key {
    int64_t is_used, coupon_id;
};

/* One page of the user's coupons, unused first, then by id: those after
 * `after`, at most limit (1..PAGING_LIMIT_MAX), a keyset query on (user_id,
 * is_used, coupon_id). On SHOP_SUCCESS *out is calloc'd (caller frees) with
 * *n coupons and *more is 1 when a next page exists. */
enum shop_code coupon_page(db_conn *db, int64_t user_id, struct coupon_key after, size_t limit,
                           struct coupon **out, size_t *n, int *more);

/* Saga step 4, its own transaction on db (the coupon database): refuse
 * (SHOP_COUPON_USE_FAIL) when the coupon consumer already reversed this
 * order (consumer log "coupon"/"order.cancel"/order_id, a locking read);
 * UPDATE trade_coupon SET is_used = 1, order_id = ?, used_time = now WHERE
 * coupon_id = ? AND user_id = ? AND is_used = 0. No row changed:
 * SHOP_COUPON_INVALIED when this user's coupon is used, SHOP_COUPON_NO_EXIST
 * when it does not exist or is another user's (answered alike, so that a
 * coupon id does not tell whether it exists). A deadlock retries the whole transaction (up to 3
 * times, then SHOP_COUPON_USE_FAIL); SHOP_DB_UNAVAILABLE. */
enum shop_code coupon_use(db_conn *db, int64_t coupon_id, int64_t user_id, int64_t order_id);

/* The coupon consumer (queue shop.coupon). order.cancel: in one transaction
 * on coupon_db(), the consumer-log row (also the tombstone that makes
 * a later coupon_use of the order refuse) and, when the event names a
 * coupon, the coupon freed (only a coupon used by this very order, with
 * is_used = 0, order_id and used_time NULL again). A redelivery acks without effect; a body that is
 * not an order.cancel is parked (MQ_REJECT); a database failure retries. Other routing keys are
 * acked. ud is unused. */
enum mq_verdict coupon_on_event(const struct mq_message *m, void *ud);

struct json_object;
/* {coupon_id, coupon_price "10.00", user_id, order_id (null when unused),
 * is_used (0/1), used_time (ISO 8601 UTC or null)}; ids as strings. A new
 * reference the caller puts. */
/* The operators' console: a new unused coupon worth cents for user_id (an
 * existing user, checked by the caller), its id in *coupon_id. */
enum shop_code coupon_issue(db_conn *db, int64_t user_id, int64_t cents, int64_t *coupon_id);

struct json_object *coupon_to_json(const struct coupon *c);

#endif
