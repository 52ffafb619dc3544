/* topology: the one table of the shop's message topology. Every consumer is
 * one row of TOPOLOGY below; everything else is read from it:
 *  - mq_declare_topology declares each row's queue with its Q.retry and
 *    Q.parked (src/mq.h) and binds it to MQ_EXCHANGE with the row's keys;
 *  - shop-consumer NAME runs the row's handler on its queue, in batches on
 *    the row's database, and opens a publishing connection (and declares the
 *    order timeouts' delay queues) when the row says so;
 *  - `shop-consumer --list` prints the table, with each instance's
 *    snowflake worker id (topo_worker_id), and scripts/services starts,
 *    stops and reports the consumers it lists.
 * Adding a consumer or a routing key is one edit here (and the handler); a
 * new row goes last, so that the worker ids of the others stay as they are.
 *
 * The delay queues of the order timeouts (shop.delay.preorder.<ms> and
 * shop.delay.unpaid.<ms>, src/order_saga.h) are not consumed: they
 * dead-letter EV_ORDER_TIMEOUT to MQ_EXCHANGE, which reaches the row that
 * binds that key and declares them (TOPO_DELAYS). The delay queues of the
 * provider checks (shop.delay.query.<ms>, src/pay_check.h) dead-letter
 * EV_PAY_QUERY the same way; they are declared when first published to. */
#ifndef SHOP_TOPOLOGY_H
#define SHOP_TOPOLOGY_H

#include <stddef.h>
#include <stdio.h>

#include "db.h"
#include "events.h"

/* Flags of a row. */
#define TOPO_PUBLISHES 1 /* emits events on a publishing connection of its own */
#define TOPO_DELAYS    2 /* declares the order timeouts' delay queues at start */
#define TOPO_ALONE                                                                                 \
    4 /* one message at a time (prefetch 1), never inside a batch transaction:                     \
       * it calls the provider between its commits */

/* X(ID, name, queue, (routing keys), database, flags, handler, batch_all)
 *   name      `shop-consumer NAME`, and its trade_mq_consumer_log group;
 *   queue     NULL: not a queue consumer (the outbox relay);
 *   keys      the routing keys its queue is bound to (at most TOPO_KEYS_MAX);
 *   database  the enum db_service its batches' transactions run on;
 *   handler   the mq_handler of each message (ud: struct consumer_ctx
 *             * for a TOPO_PUBLISHES row, else NULL);
 *   batch_all NULL, or mq_batch.all: the whole batch at once.
 * handler and batch_all are names only the consumer program expands. */
#define TOPOLOGY(X)                                                                                \
    X(AUDIT, GROUP_AUDIT, "shop.audit", ("#"), DB_MAIN, 0, consume_audit, audit_batch)             \
    X(ORDER, GROUP_ORDER, "shop.order", (EV_ORDER_CANCEL, EV_ORDER_TIMEOUT, EV_ORDER_PAID),        \
      DB_ORDER, TOPO_PUBLISHES | TOPO_DELAYS, order_on_event, NULL)                                \
    X(GOODS, GROUP_GOODS, "shop.goods", (EV_ORDER_CANCEL), DB_GOODS, 0, goods_on_event, NULL)      \
    X(COUPON, GROUP_COUPON, "shop.coupon", (EV_ORDER_CANCEL), DB_COUPON, 0, coupon_on_event, NULL) \
    X(USER, GROUP_USER, "shop.user", (EV_ORDER_CANCEL, EV_ORDER_PAID, EV_ORDER_REFUND), DB_USER,   \
      0, user_on_event, NULL)                                                                      \
    X(PAY, GROUP_PAY, "shop.pay", (EV_PAY_NOTIFY), DB_ORDER, TOPO_PUBLISHES, pay_on_event, NULL)   \
    X(LOG, GROUP_LOG, "shop.log", ("order.#", "pay.#", "refund.#"), DB_ORDER, 0,                   \
      order_log_on_event, order_log_on_batch)                                                      \
    X(RELAY, "relay", NULL, (NULL), DB_MAIN, TOPO_PUBLISHES, NULL, NULL)                           \
    X(QUERY, GROUP_QUERY, "shop.query", (EV_PAY_QUERY), DB_ORDER, TOPO_PUBLISHES | TOPO_ALONE,     \
      pay_check_on_event, NULL)                                                                    \
    X(REFUND, GROUP_REFUND, "shop.refund", (EV_REFUND_APPROVED), DB_ORDER,                         \
      TOPO_PUBLISHES | TOPO_ALONE, refund_on_event, NULL)

/* Strips the parentheses of a row's keys. */
#define TOPO_UNPAREN(...) __VA_ARGS__

#define TOPO_ENUM_(id, name, queue, keys, db, flags, fn, all) TOPO_##id,
enum topo_consumer { TOPOLOGY(TOPO_ENUM_) TOPO_COUNT };
#undef TOPO_ENUM_

#define TOPO_KEYS_MAX 8

/* A row without its functions. */
struct topo_row {
    const char *name;
    const char *queue;                   /* NULL: the relay */
    const char *keys[TOPO_KEYS_MAX + 1]; /* NULL-terminated */
    enum db_service db;
    const char *db_name; /* "order" for DB_ORDER */
    int flags;           /* TOPO_PUBLISHES, TOPO_DELAYS */
};

/* The table, indexed by enum topo_consumer. */
extern const struct topo_row topo_rows[TOPO_COUNT];

/* The consumer called name, or -1. */
int topo_find(const char *name);

/* The snowflake worker id of instance k (1-based) of consumer c: 10 + c for
 * instance 1, 300 + 20 * (k - 2) + c for k >= 2 (the app has 1 and 200 + k;
 * TOPO_INSTANCES_MAX instances stay below the snowflake's 1024). -1 when k is
 * out of 1..TOPO_INSTANCES_MAX. */
#define TOPO_INSTANCES_MAX 32
int topo_worker_id(enum topo_consumer c, int k);
/* shop-admin's worker id (the timeline rows of its refund decisions), above
 * all of those. Two shop-admin runs in the same millisecond could draw the
 * same id: the database refuses the second row, and its action is not done
 * (it says so). */
#define TOPO_ADMIN_WORKER_ID 1000

/* Print the table, one line per consumer instance (instances 1..n), fields
 * separated by one tab:
 *   name queue routing_keys database publishes worker_id instance
 * queue "-" for the relay, routing_keys comma-separated ("-": none),
 * publishes "yes" or "no". 0, or -1 when n is out of 1..TOPO_INSTANCES_MAX. */
int topo_print(FILE *f, int n);

#endif
