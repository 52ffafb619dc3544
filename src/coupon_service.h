/* coupon_service: the coupon service owns trade_coupon. */
#ifndef SHOP_COUPON_SERVICE_H
#define SHOP_COUPON_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"

struct coupon {
    int64_t coupon_id;
    int64_t coupon_price; /* cents */
    int64_t user_id;
    int64_t order_id;     /* 0 when unused */
    int is_used;          /* 0 unused, 1 used */
    char used_time[32];   /* ISO 8601 UTC, "" when unused */
};

#define COUPON_LIST_MAX 200

/* SHOP_SUCCESS, SHOP_COUPON_NO_EXIST, SHOP_DB_UNAVAILABLE. */
enum shop_code coupon_get(db_conn *db, int64_t coupon_id, struct coupon *out);

/* The user's coupons, unused first. *out is calloc'd (caller frees). */
enum shop_code coupon_list_for_user(db_conn *db, int64_t user_id, struct coupon **out,
                                    size_t *n);

/* Saga step 4, its own transaction: refuse (SHOP_COUPON_USE_FAIL) when the
 * coupon consumer already reversed this order (consumer log
 * "coupon"/"order.cancel"/order_id); UPDATE trade_coupon SET is_used = 1,
 * order_id = ?, used_time = now WHERE coupon_id = ? AND user_id = ? AND
 * is_used = 0. No row changed: SHOP_COUPON_INVALIED (used, or another
 * user's), SHOP_COUPON_NO_EXIST when it does not exist. */
enum shop_code coupon_use(db_conn *db, int64_t coupon_id, int64_t user_id, int64_t order_id);

/* Reversal, inside the caller's transaction: UPDATE ... SET is_used = 0,
 * order_id = NULL, used_time = NULL WHERE coupon_id = ? AND order_id = ? AND
 * is_used = 1. Returns 1 freed, 0 nothing to reverse, or a negative
 * enum db_status. */
int coupon_release_tx(db_conn *db, int64_t coupon_id, int64_t order_id);

struct json_object;
/* {coupon_id, coupon_price "10.00", user_id, order_id (null when unused),
 * is_used, used_time}. New reference. */
struct json_object *coupon_to_json(const struct coupon *c);

#endif
