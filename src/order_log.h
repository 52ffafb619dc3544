/* order_log: the log service owns trade_order_log, the order's history (the
 * timeline of the order page), in the order service's database. Its consumer
 * (`shop-consumer log`, queue shop.log, bound to "order.#" and "pay.#")
 * writes one row per (order, event) with a line for the buyer, each at most
 * once. */
#ifndef SHOP_ORDER_LOG_H
#define SHOP_ORDER_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"
#include "mq.h"

#define ORDER_LOG_EVENT_MAX  64
#define ORDER_LOG_DETAIL_MAX 255 /* characters (VARCHAR(255), utf8mb4) */
#define ORDER_LOG_LIST_MAX   64  /* rows one order shows at most */

struct order_log_entry {
    int64_t log_id;
    int64_t order_id;
    char event[ORDER_LOG_EVENT_MAX + 1];       /* the routing key, "order.paid" */
    char detail[ORDER_LOG_DETAIL_MAX * 4 + 1]; /* "Payment of 88.00 received (trade …)" */
    char created_at[32];                       /* ISO 8601 UTC */
};

/* The order's history, oldest first (at most ORDER_LOG_LIST_MAX rows).
 * *out is calloc'd (the caller frees it, also when *n is 0). SHOP_SUCCESS,
 * SHOP_DB_UNAVAILABLE or SHOP_INTERNAL_ERROR (then *out is NULL). */
enum shop_code order_log_list(db_conn *db, int64_t order_id, struct order_log_entry **out,
                              size_t *n);

/* An operator's action on the order's timeline (inside the caller's
 * transaction or alone): "<what> (by operator <name>)", event
 * "admin.<snowflake>" (one row per action). SHOP_SUCCESS or the database's
 * code. */
enum shop_code order_log_operator(db_conn *db, int64_t order_id, const char *operator_name,
                                  const char *what);

/* The log consumer, an mq_handler (ud unused): for an event that belongs in
 * the history, in one transaction on order_db(), the consumer-log row
 * ("log", routing key, order id) and the history row; a repeat is acked
 * without effect; a body that is not its event is MQ_REJECT; a database
 * failure MQ_RETRY. Other events are acked. */
enum mq_verdict order_log_on_event(const struct mq_message *m, void *ud);

/* The same for a batch of messages inside the consumer's batch transaction
 * (mq_batch.all): the consumer-log rows and the log rows of all of them with
 * a few multi-row statements, a duplicate of either ignored (the log row is
 * unique per order and event, so a message seen before adds nothing). 0, or
 * -1 when the database failed (the batch is then redone one by one). */
int order_log_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts,
                       void *ud);

#endif
