/* order_service: the order service owns trade_order (and the outbox and
 * idempotency tables it writes with them). */
#ifndef SHOP_ORDER_SERVICE_H
#define SHOP_ORDER_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"

enum order_status {
    ORDER_UNCONFIRMED = 0,
    ORDER_CONFIRMED = 1,
    ORDER_CANCELLED = 2,
    ORDER_INVALID = 3,
    ORDER_REFUND = 4,
};
enum pay_status { PAY_UNPAID = 0, PAY_PAYING = 1, PAY_PAID = 2 };

#define ORDER_ADDRESS_MAX   255
#define ORDER_CONSIGNEE_MAX 64
#define ORDER_LIST_MAX      200

struct order {
    int64_t order_id;
    int64_t user_id;
    int order_status;
    int pay_status;
    int shipping_status;
    char address[ORDER_ADDRESS_MAX * 4 + 1];   /* UTF-8: up to 255 characters */
    char consignee[ORDER_CONSIGNEE_MAX * 4 + 1];
    int64_t goods_id;
    int64_t goods_number;
    int64_t goods_price;   /* cents, every amount below too */
    int64_t goods_amount;
    int64_t shipping_fee;
    int64_t order_amount;
    int64_t coupon_id;     /* 0 = none */
    int64_t coupon_paid;
    int64_t money_paid;
    int64_t pay_amount;
    char add_time[32];     /* ISO 8601 UTC, "" when NULL */
    char confirm_time[32];
    char pay_time[32];
};

/* Saga step 2: insert the pre-order (order_status 0, pay_status 0,
 * add_time now). SHOP_ORDER_SAVE_ERROR / SHOP_DB_UNAVAILABLE on failure. */
enum shop_code order_save_preorder(db_conn *db, const struct order *o);

/* Saga step 6: UPDATE ... SET order_status = 1, pay_status = 0 (or 2 with
 * pay_time when pay_amount is 0), confirm_time = now WHERE order_id = ? AND
 * order_status = 0. SHOP_ORDER_CONFIRM_FAIL when it was not unconfirmed
 * (cancelled meanwhile). */
enum shop_code order_confirm(db_conn *db, int64_t order_id, int paid_on_confirm);

/* Reversal, inside the caller's transaction: set order_status 2 when the
 * order is unconfirmed or confirmed-and-not-paid. Returns 1 cancelled,
 * 0 nothing to do (already cancelled, or paid), or a negative enum db_status. */
int order_cancel_tx(db_conn *db, int64_t order_id);

/* One order of user_id (another user's is SHOP_ORDER_NOT_FOUND). */
enum shop_code order_get(db_conn *db, int64_t user_id, int64_t order_id, struct order *out);
/* Without the owner check (consumers). */
enum shop_code order_get_any(db_conn *db, int64_t order_id, struct order *out);
/* The user's orders, newest first; *out calloc'd. */
enum shop_code order_list(db_conn *db, int64_t user_id, struct order **out, size_t *n);

struct json_object;
/* The table's columns, ids as strings, money as "12.30", times ISO or null. */
struct json_object *order_to_json(const struct order *o);

#endif
