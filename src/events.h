/* events: the messages the services exchange over RabbitMQ (exchange
 * MQ_EXCHANGE, persistent JSON, publisher confirms, message_id always set).
 *
 * order.cancel  routing key EV_ORDER_CANCEL, message_id "order.cancel:<order_id>"
 *   {"order_id":"…","user_id":"…","goods_id":"…","goods_number":2,
 *    "coupon_id":"…" or null,"money_paid":"12.30","reason":"SHOP_…"}
 *   Consumed by one queue per service (order, goods, coupon, user); each
 *   reverses its own step only if that step happened, at most once.
 *
 * order.timeout routing key EV_ORDER_TIMEOUT, message_id "order.timeout:<kind>:<order_id>"
 *   {"order_id":"…","kind":"preorder" or "unpaid"}
 *   Published into a delay queue (per-queue TTL) that dead-letters it to
 *   the exchange with this routing key when the delay has passed; the order
 *   consumer then cancels the order through the same order.cancel path if it
 *   is still unconfirmed (preorder) or still unpaid (unpaid).
 *
 * Consumer groups (trade_mq_consumer_log.group_name) are the service names:
 * "order", "goods", "coupon", "user"; msg_tag is the routing key and msg_key
 * the order id. */
#ifndef SHOP_EVENTS_H
#define SHOP_EVENTS_H

#define EV_ORDER_CANCEL  "order.cancel"
#define EV_ORDER_TIMEOUT "order.timeout"

#define GROUP_ORDER  "order"
#define GROUP_GOODS  "goods"
#define GROUP_COUPON "coupon"
#define GROUP_USER   "user"

/* The queue of each consuming service. */
#define QUEUE_ORDER  "shop.order"
#define QUEUE_GOODS  "shop.goods"
#define QUEUE_COUPON "shop.coupon"
#define QUEUE_USER   "shop.user"

#include <stddef.h>
#include <stdint.h>

struct buf;

/* order.cancel, typed. */
struct cancel_event {
    int64_t order_id;
    int64_t user_id;
    int64_t goods_id;
    int64_t goods_number;
    int64_t coupon_id;  /* 0 = none */
    int64_t money_paid; /* cents */
    char reason[64];    /* a SHOP_ code name */
};

/* Parse an order.cancel body. 0, or -1 when it is not one (the consumer
 * parks such a message). */
int event_cancel_parse(const char *body, size_t len, struct cancel_event *out);
/* Write the JSON body of ev into out. 0 or -1. */
int event_cancel_build(const struct cancel_event *ev, struct buf *out);

/* order.timeout, typed. kind: "preorder" or "unpaid". */
struct timeout_event {
    int64_t order_id;
    char kind[16];
};
int event_timeout_parse(const char *body, size_t len, struct timeout_event *out);
int event_timeout_build(const struct timeout_event *ev, struct buf *out);

#endif
