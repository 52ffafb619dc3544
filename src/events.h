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
 * pay.notify    routing key EV_PAY_NOTIFY, message_id "pay.notify:<out_trade_no>:<trade_no>"
 *   {"provider":"alipay","out_trade_no":"<order_id>","trade_no":"…",
 *    "total_amount":"88.00","gmt_payment":"2026-01-02 03:04:05" or "",
 *    "notify_id":"…","trade_status":"TRADE_SUCCESS"}
 *   A provider notification whose signature, app id and seller were
 *   verified by the web handler (published before the provider is answered).
 *   Consumed by the pay service and the order log.
 *
 * order.paid    routing key EV_ORDER_PAID, message_id "order.paid:<order_id>"
 *   {"order_id":"…","user_id":"…","pay_id":"…","pay_amount":"88.00",
 *    "trade_no":"…","paid_time":"2026-01-02T03:04:05Z"}
 *   Emitted (outbox) by the pay service when it marked trade_pay paid. The
 *   order service sets pay_status 2 (or order_status 4 for an order that was
 *   cancelled meanwhile); the user service adds points; the order log.
 *
 * order.refund  routing key EV_ORDER_REFUND, message_id "order.refund:<order_id>"
 *   the body of order.paid. Emitted (outbox) by the order service when a
 *   payment arrived for a cancelled order (order_status 4): the user service
 *   takes back the points of that payment; the order log.
 *
 * pay.mismatch  routing key EV_PAY_MISMATCH, message_id "pay.mismatch:<out_trade_no>:<trade_no>"
 *   {"order_id":"…","trade_no":"…","notify_amount":"1.00",
 *    "expected_amount":"88.00" or null,"reason":"amount"|"duplicate"|"unknown"}
 *   Emitted (outbox) by the pay service for a notification it did not apply
 *   (recorded in trade_pay_mismatch for an operator); the order log.
 *
 * pay.query     routing key EV_PAY_QUERY, message_id "pay.query:<order_id>:<kind>:<attempt>"
 *   {"order_id":"…","kind":"check" or "expiry","attempt":0}
 *   Ask the provider about a paying order (alipay.trade.query). "check":
 *   published when paying starts into the delay queue
 *   shop.delay.query.<ms> (ms = pay_query_after_s * 2^attempt, per-queue
 *   TTL, dead-lettered to the exchange with this key), and again with
 *   attempt + 1 while the order stays paying and its expiry is later.
 *   "expiry" (attempt 0): emitted (outbox) by the order consumer when a
 *   paying order expires: ask, then close at the provider and cancel, or
 *   apply the payment; while the provider does not answer, again with
 *   attempt + 1 through the same delay queues (never cancelled blind). A paid answer becomes the
 * pay.notify a notification would be (notify_id "query:<trade_no>"). Consumed by the query
 * consumer.
 *
 * pay.asked     routing key EV_PAY_ASKED, message_id "pay.asked:<order_id>:<by>"
 * pay.closed    routing key EV_PAY_CLOSED, message_id "pay.closed:<order_id>"
 *   {"order_id":"…","by":"query"|"expiry"|"cancel","trade_status":"…" or ""}
 *   The shop asked the provider and acted on the answer (trade_status as
 *   answered, "" = no such trade), or closed the trade there. Only answers
 *   that the shop acts on are emitted (a paid answer, and the ask before an
 *   expiry or a buyer's cancel), so the history shows each decision once;
 *   "still waiting" answers of the periodic check change nothing and are
 *   only logged. Consumed by the order log.
 * refund.requested, refund.approved, refund.rejected, refund.sent,
 * refund.succeeded, refund.failed   routing keys EV_REFUND_…, one per step of
 *   a trade_refund row (src/refund_service.h), each emitted (outbox) in the
 *   transaction that made the step; message_id "<routing key>:<refund_id>",
 *   and for the steps a retry repeats (approved, sent, failed)
 *   "<routing key>:<refund_id>:<attempts>" (event_refund_message_id):
 *   {"refund_id":"…","order_id":"…","user_id":"…","pay_id":"…" or null,
 *    "trade_no":"…","refund_amount":"88.00","reason":"late"|"second"|"buyer",
 *    "refund_status":"approved","attempts":0,"note":"…","last_error":"…"}
 *   refund.approved is consumed by the refund consumer, which takes the
 *   refund to the provider; all of them by the order log.
 *
 * Which queue takes which event is the table of src/topology.h.
 *
 * Consumer groups (trade_mq_consumer_log.group_name) are the consumers' names
 * (GROUP_…, the names of src/topology.h's rows): "order", "goods", "coupon",
 * "user", "pay", "log", "audit", "query", "refund"; msg_tag is the routing key and msg_key the
 * order id (the pay service: "<order_id>:<trade_no>"; the audit: the message
 * id). */
#ifndef SHOP_EVENTS_H
#define SHOP_EVENTS_H

#define EV_ORDER_CANCEL  "order.cancel"
#define EV_ORDER_TIMEOUT "order.timeout"
#define EV_PAY_NOTIFY    "pay.notify"
#define EV_ORDER_PAID    "order.paid"
#define EV_ORDER_REFUND  "order.refund"
#define EV_PAY_MISMATCH  "pay.mismatch"
#define EV_PAY_QUERY     "pay.query"
#define EV_PAY_ASKED     "pay.asked"
#define EV_PAY_CLOSED    "pay.closed"

#define EV_REFUND_REQUESTED "refund.requested"
#define EV_REFUND_APPROVED  "refund.approved"
#define EV_REFUND_REJECTED  "refund.rejected"
#define EV_REFUND_SENT      "refund.sent"
#define EV_REFUND_SUCCEEDED "refund.succeeded"
#define EV_REFUND_FAILED    "refund.failed"

#define GROUP_ORDER  "order"
#define GROUP_GOODS  "goods"
#define GROUP_COUPON "coupon"
#define GROUP_USER   "user"
#define GROUP_PAY    "pay"
#define GROUP_LOG    "log"
#define GROUP_AUDIT  "audit"
#define GROUP_QUERY  "query"
#define GROUP_REFUND "refund"

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

/* pay.query, typed. kind: "check" or "expiry"; attempt
 * 0..EVENT_QUERY_ATTEMPT_MAX. */
#define EVENT_QUERY_ATTEMPT_MAX 30
struct query_event {
    int64_t order_id;
    char kind[16];
    int attempt;
};
int event_query_parse(const char *body, size_t len, struct query_event *out);
int event_query_build(const struct query_event *ev, struct buf *out);

/* pay.asked and pay.closed (the same body), typed. by: "query", "expiry" or
 * "cancel"; trade_status: the provider's answer ("" = no such trade; always
 * "" for pay.closed). */
struct provider_step_event {
    int64_t order_id;
    char by[16];
    char trade_status[32];
};
int event_provider_step_parse(const char *body, size_t len, struct provider_step_event *out);
int event_provider_step_build(const struct provider_step_event *ev, struct buf *out);

/* Caps of the provider's fields (Alipay: trade_no up to 64 characters). */
#define EVENT_TRADE_NO_MAX  64
#define EVENT_NOTIFY_ID_MAX 64

/* pay.notify, typed. Strings are NUL-terminated; gmt_payment is "" or
 * "YYYY-MM-DD HH:MM:SS" as the provider sent it. */
struct pay_notify_event {
    char provider[16];
    int64_t order_id; /* out_trade_no: we send the order id */
    char trade_no[EVENT_TRADE_NO_MAX + 1];
    int64_t total_amount; /* cents */
    char gmt_payment[20];
    char notify_id[EVENT_NOTIFY_ID_MAX + 1];
    char trade_status[32];
};
/* Parse: 0, or -1 when a field is missing, over its cap or malformed
 * (trade_no and notify_id: 1..64 printable ASCII characters). */
int event_pay_notify_parse(const char *body, size_t len, struct pay_notify_event *out);
int event_pay_notify_build(const struct pay_notify_event *ev, struct buf *out);

/* order.paid and order.refund (the same body), typed. */
struct paid_event {
    int64_t order_id;
    int64_t user_id;
    int64_t pay_id;
    int64_t pay_amount; /* cents */
    char trade_no[EVENT_TRADE_NO_MAX + 1];
    char paid_time[32]; /* ISO 8601 UTC */
};
int event_paid_parse(const char *body, size_t len, struct paid_event *out);
int event_paid_build(const struct paid_event *ev, struct buf *out);

/* pay.mismatch, typed. expected_amount -1: no payment row (reason "unknown"). */
struct pay_mismatch_event {
    int64_t order_id;
    char trade_no[EVENT_TRADE_NO_MAX + 1];
    int64_t notify_amount;
    int64_t expected_amount;
    char reason[16];
};
int event_pay_mismatch_parse(const char *body, size_t len, struct pay_mismatch_event *out);
int event_pay_mismatch_build(const struct pay_mismatch_event *ev, struct buf *out);

/* refund.*, typed (every step has the same body). Text fields are capped by
 * their columns; note and last_error may be empty, the others may not. */
#define EVENT_REFUND_TEXT_MAX 255
struct refund_event {
    int64_t refund_id; /* also the out_request_no at the provider */
    int64_t order_id;
    int64_t user_id;
    int64_t pay_id; /* 0 = none */
    char trade_no[EVENT_TRADE_NO_MAX + 1];
    int64_t refund_amount;  /* cents, > 0 */
    char reason[16];        /* "late", "second" or "buyer" */
    char refund_status[16]; /* requested, approved, rejected, sent, succeeded, failed */
    int64_t attempts;       /* refund calls made */
    char note[EVENT_REFUND_TEXT_MAX * 4 + 1];       /* UTF-8 */
    char last_error[EVENT_REFUND_TEXT_MAX * 4 + 1]; /* UTF-8 */
};
int event_refund_parse(const char *body, size_t len, struct refund_event *out);
int event_refund_build(const struct refund_event *ev, struct buf *out);
/* The message id of the step routing_key (an EV_REFUND_…) of ev into out
 * (outsz bytes). 0, or -1 when routing_key is not a refund step. */
int event_refund_message_id(const char *routing_key, const struct refund_event *ev, char *out,
                            size_t outsz);

/* Shared by the services that read and write these events. */
struct json_object;
/* o[key] = the id as a decimal string, or null for 0. */
void event_put_id(struct json_object *o, const char *key, int64_t id);
/* 1 when s is a usable provider's time: "YYYY-MM-DD HH:MM:SS" (UTC), a real
 * calendar date and time of day (alipay_timestamp_parse), from 2000-01-01
 * up to (not including) 2200-01-01. */
#define EVENT_PROVIDER_TIME_MIN 946684800LL  /* 2000-01-01 00:00:00 */
#define EVENT_PROVIDER_TIME_END 7258118400LL /* 2200-01-01 00:00:00 */
int event_provider_time_ok(const char *s);

#endif
