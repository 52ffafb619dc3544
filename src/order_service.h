/* order_service: the order service owns trade_order (and the outbox and
 * idempotency tables it writes with them). */
#ifndef SHOP_ORDER_SERVICE_H
#define SHOP_ORDER_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "db.h"
#include "errors.h"
#include "mq.h"

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

struct order {
    int64_t order_id;
    int64_t user_id;
    int order_status;
    int pay_status;
    int shipping_status;
    char address[ORDER_ADDRESS_MAX * 4 + 1]; /* UTF-8: up to 255 characters */
    char consignee[ORDER_CONSIGNEE_MAX * 4 + 1];
    int64_t goods_id;
    int64_t goods_number;
    int64_t goods_price; /* cents, every amount below too */
    int64_t goods_amount;
    int64_t shipping_fee;
    int64_t order_amount;
    int64_t coupon_id; /* 0 = none */
    int64_t coupon_paid;
    int64_t money_paid;
    int64_t pay_amount;
    char add_time[32]; /* ISO 8601 UTC, "" when NULL */
    char confirm_time[32];
    char pay_time[32];
};

/* This thread's connection to the order service's own database
 * (db_for(DB_ORDER): order_db_name, or the main database when it has none);
 * NULL when it is down. The order service's modules (order_saga, outbox,
 * order_log, pay_service: their tables live beside trade_order) use it too. */
db_conn *order_db(void);

/* Saga step 2, inside the caller's transaction (the saga's, which also
 * stores the order's timeout in the outbox): insert the pre-order
 * (order_status 0, pay_status 0, add_time now). SHOP_ORDER_SAVE_ERROR / SHOP_DB_UNAVAILABLE on
 * failure. */
enum shop_code order_save_preorder_tx(db_conn *db, const struct order *o);

/* Saga step 6, inside the caller's transaction (as step 2): UPDATE ... SET order_status = 1,
 * pay_status = 0 (or 2 with pay_time when pay_amount is 0), confirm_time = now WHERE order_id = ?
 * AND order_status = 0. SHOP_ORDER_CONFIRM_FAIL when it was not unconfirmed (cancelled meanwhile).
 */
enum shop_code order_confirm_tx(db_conn *db, int64_t order_id, int paid_on_confirm);

/* One order of user_id (another user's is SHOP_ORDER_NOT_FOUND). */
enum shop_code order_get(db_conn *db, int64_t user_id, int64_t order_id, struct order *out);
/* Without the owner check (consumers). */
enum shop_code order_get_any(db_conn *db, int64_t order_id, struct order *out);
/* One page of the user's orders, newest first (by order id: snowflakes grow
 * with time): those with an id below `before` (0: from the newest), at most
 * limit (1..PAGING_LIMIT_MAX), a keyset query on (user_id, order_id). On
 * SHOP_SUCCESS *out is calloc'd (caller frees) with *n orders and *more is 1
 * when an older page exists. */
enum shop_code order_page(db_conn *db, int64_t user_id, int64_t before, size_t limit,
                          struct order **out, size_t *n, int *more);

/* The operators' order search: every filter optional (0, -1 or "" when not
 * asked for). from and to are days "YYYY-MM-DD" (checked by the caller),
 * both included, on add_time (UTC). */
struct order_filter {
    int64_t order_id;
    int64_t user_id;
    int status; /* enum order_status, -1 any */
    char from[11];
    char to[11];
};
/* One page of the orders that match f, newest first, below `before` (0:
 * from the newest), as order_page (keyset on the primary key). */
enum shop_code order_search(db_conn *db, const struct order_filter *f, int64_t before, size_t limit,
                            struct order **out, size_t *n, int *more);

/* Idempotency-Key of POST /api/orders (trade_idempotency).
 * order_idem_claim: 1 when this call claimed (user_id, key) (go on, then
 * finish or release it); 0 when the key is known: *status is the stored
 * HTTP status, or 0 while the first request is still being processed, and
 * *response the stored body (malloc'd, the caller frees; NULL while
 * processing); -1 when the database failed. key: 1..ORDER_IDEM_KEY_MAX
 * characters, checked by the caller. */
#define ORDER_IDEM_KEY_MAX 128
int order_idem_claim(db_conn *db, int64_t user_id, const char *key, int *status, char **response);
/* Store the answer of a claimed key (0 or -1). */
int order_idem_finish(db_conn *db, int64_t user_id, const char *key, int status,
                      const char *response);
/* Forget a claimed key (the request failed on our side: a retry may run). */
int order_idem_release(db_conn *db, int64_t user_id, const char *key);

/* The order consumer (`shop-consumer order`, queue shop.order).
 * order.cancel: in one transaction on order_db(), the consumer-log row
 * ("order", "order.cancel", order id) and order_status 2 (when the order is
 * unconfirmed, or confirmed and not paid); a redelivery
 * finds the row and is acked without effect.
 * order.timeout: when the order is still unconfirmed (kind "preorder") or
 * confirmed and unpaid (kind "unpaid"), emit its order.cancel through the
 * outbox (message id "order.cancel:<id>", one per order however many times
 * it is emitted); the cancel then comes back to this consumer. A paying
 * order (pay_status 1) is never cancelled blind: its pay.query of kind
 * "expiry" goes to the query consumer instead (src/pay_check.h), which asks
 * the provider, outside any transaction, before it cancels.
 * ud is a struct consumer_ctx * (consumer_log.h). */
enum mq_verdict order_on_event(const struct mq_message *m, void *ud);
/* The same for a batch at once (mq_batch.all, inside the batch's
 * transaction): a batch of order.paid only is applied with multi-row
 * statements (the log rows, the locking read, the emitted cancels: one each
 * per 16); any other batch is handled message by message. Non-zero (the
 * batch then goes one by one) on a database failure or an order.paid that
 * is not the plain case (an order not confirmed, or cancelled). */
int order_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts,
                   void *ud);

/* Starting payment, inside the caller's transaction (the pay service's, which
 * also writes trade_pay): lock the order of user_id, refuse unless it is
 * confirmed, not paid and pay_amount > 0 (SHOP_ORDER_NOT_FOUND,
 * SHOP_PAYMENT_IS_PAID, SHOP_ORDER_STATUS_UPDATE_FAIL), and set pay_status 1
 * (paying) when it is 0. *out is the order as locked (pay_status already 1).
 * SHOP_DB_UNAVAILABLE / SHOP_INTERNAL_ERROR on a database failure. */
enum shop_code order_pay_begin_tx(db_conn *db, int64_t user_id, int64_t order_id,
                                  struct order *out);

/* order.paid (consumed by order_on_event too): in one transaction on
 * order_db(), the consumer-log row ("order", "order.paid", order id)
 * first, then: a confirmed order gets pay_status 2 and pay_time (the
 * provider's payment time); an order cancelled meanwhile (or never
 * confirmed) keeps the payment (pay_status 2, pay_time) and becomes
 * order_status 4 (refund), and an order.refund event (message id
 * "order.refund:<id>") and the approved "late" refund of that payment
 * (src/refund_service.h) go to the outbox in the same transaction and are
 * published on ctx->pub after the commit. */

/* The moment a confirmed order expires unpaid: its confirm_time plus
 * unpaid_timeout_s. 0, or -1 when it has no confirm time. */
int order_expiry(const struct order *o, int unpaid_timeout_s, time_t *out);

/* Emit the order's order.cancel (message id "order.cancel:<id>", one per
 * order however often emitted) through the outbox on db, published on pub
 * (may be NULL: the relay), reason the SHOP_ code that says why.
 * SHOP_SUCCESS once it is durable; SHOP_DB_UNAVAILABLE when not. */
enum shop_code order_cancel_emit(db_conn *db, mq_conn *pub, const struct order *o,
                                 enum shop_code reason);

/* The buyer cancels order_id of user_id, in one transaction on db: the order
 * locked; order_status 2 set and its order.cancel (reason
 * SHOP_ORDER_CANCELLED) committed to the outbox together, published on mq
 * (may be NULL) after the commit, so the answer shows the order cancelled at
 * once and stock, coupon and balance come back through the usual reversal.
 * closed: the caller closed the trade at the provider (needed for a paying
 * order). *out is the order as it is afterwards. SHOP_SUCCESS (also when it
 * was cancelled already: nothing done again); SHOP_ORDER_NOT_FOUND;
 * SHOP_ORDER_PAID (paid, or marked for refund); SHOP_ORDER_STATUS_UPDATE_FAIL
 * when it is not confirmed, or paying (out->pay_status 1) and not closed;
 * SHOP_DB_UNAVAILABLE / SHOP_INTERNAL_ERROR. */
enum shop_code order_cancel_by_buyer(db_conn *db, mq_conn *mq, int64_t user_id, int64_t order_id,
                                     int closed, struct order *out);
/* A buyer's refund request, inside the caller's transaction (the refund
 * service's): lock the order of user_id and refuse unless it is confirmed,
 * paid through the provider (pay_amount > 0) and not shipped:
 * SHOP_ORDER_NOT_FOUND, SHOP_ORDER_REFUNDED (order_status 4),
 * SHOP_REFUND_NOT_PAID, SHOP_ORDER_SHIPPED; a database failure's code.
 * *out is the order as locked. */
enum shop_code order_refund_check_tx(db_conn *db, int64_t user_id, int64_t order_id,
                                     struct order *out);

/* A buyer's refund succeeded, inside the caller's transaction (the refund
 * consumer's): a confirmed, paid order becomes order_status 4 (refund).
 * 1 changed (*out: the order), 0 nothing to change (not confirmed and paid),
 * or a negative enum db_status. */
int order_refunded_tx(db_conn *db, int64_t order_id, struct order *out);

struct json_object;
/* The table's columns, ids as strings, money as "12.30", times ISO or null. */
struct json_object *order_to_json(const struct order *o);

#endif
