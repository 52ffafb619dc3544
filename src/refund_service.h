/* refund_service: trade_refund (the only code with SQL on it) and the refund
 * consumer that takes money back to the buyer through the provider
 * (../shared/CONTRACT.md, "Refunds"; sql/order/0005_refunds.sql).
 *
 * A refund is one row whose refund_id is also its out_request_no at the
 * provider, fixed when the row is written: however often the refund is
 * tried, the provider refunds it at most once. The row moves
 *   requested -> approved | rejected      (an operator: refund_act)
 *   approved -> sent -> succeeded | failed (the refund consumer)
 *   failed -> approved                     (an operator's retry)
 * and every step commits with its refund.* event in the outbox (src/events.h),
 * so the order's history shows each one.
 *
 * Where refunds come from (each created once, by its dedupe_key):
 *  - a payment that arrived for a cancelled order ("late", approved at
 *    once; the order service, in its order.paid transaction);
 *  - a second payment of a paid order ("second", approved at once: that
 *    trade only; the pay service, in its pay.notify transaction);
 *  - the buyer ("buyer", requested; refund_request).
 *
 * The refund consumer (refund_on_event, refund.approved) never calls the
 * provider inside a transaction: it commits `sent` first, then asks the
 * provider, then commits `succeeded` (or `failed`) with the refund's effects.
 * A redelivery that finds the row `sent` (the consumer died in between)
 * asks the provider about the refund first and sends it again, with the same
 * out_request_no, only when the provider does not know it. */
#ifndef SHOP_REFUND_SERVICE_H
#define SHOP_REFUND_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "errors.h"
#include "events.h"
#include "mq.h"

/* One trade_refund row. The fields of the event plus the times. */
struct refund {
    struct refund_event ev; /* refund_id, order_id, …, refund_status, attempts */
    char create_time[32];   /* ISO 8601 UTC */
    char update_time[32];
    char refund_time[32]; /* "" until succeeded */
};

/* The events a transaction committed to the outbox, to publish after the
 * commit (refund_emits_send). At most REFUND_EMITS_MAX. */
#define REFUND_EMITS_MAX 4
struct refund_emits {
    size_t n;
    struct refund_emit {
        const char *routing_key;
        char message_id[128];
        struct buf body;
    } e[REFUND_EMITS_MAX];
};
void refund_emits_init(struct refund_emits *em);
/* Inside the caller's transaction: the event into the outbox (message_id;
 * msg_key: the order id) and em. DB_OK (also when the outbox had it) or
 * why not. body is copied. */
enum db_status refund_emits_add_tx(struct refund_emits *em, db_conn *db, const char *routing_key,
                                   const char *message_id, int64_t order_id, const char *body);
/* After the commit: publish each on mq (NULL: the relay does), then free
 * them. */
void refund_emits_send(struct refund_emits *em, db_conn *db, mq_conn *mq);
/* After a rollback: forget them. */
void refund_emits_free(struct refund_emits *em);

/* Create a refund inside the caller's transaction on order_db(), once per
 * dedupe key (late:<order>:<trade_no>, second:<order>:<trade_no>,
 * buyer:<order>, from ev->reason): ev gives order_id, user_id, pay_id,
 * trade_no, refund_amount (> 0), reason and note; its refund_status must be
 * "approved" (late, second) or "requested" (buyer). A new refund_id is
 * given; its refund.approved or refund.requested event goes to the outbox
 * and em. *out is the row. Returns DB_OK (created), DB_DUPLICATE (there is
 * one already: *out is that one, nothing emitted) or another db_status. */
enum db_status refund_create_tx(db_conn *db, const struct refund_event *ev, struct refund_emits *em,
                                struct refund *out);

/* The buyer's request (POST /api/orders/{id}/refund): in one transaction on
 * db, lock the order of user_id; refuse unless it is paid and not shipped
 * (SHOP_ORDER_NOT_FOUND, SHOP_REFUND_NOT_PAID, SHOP_ORDER_REFUNDED,
 * SHOP_ORDER_SHIPPED) or when the buyer asked already (SHOP_REFUND_EXISTS);
 * create the "requested" refund of the whole amount paid at the provider
 * (note: the buyer's words, at most 255 characters), commit, publish its
 * refund.requested on mq (NULL: the relay). *out is the refund. */
enum shop_code refund_request(db_conn *db, mq_conn *mq, int64_t user_id, int64_t order_id,
                              const char *note, struct refund *out);

/* An operator's action on a refund (shop-admin refund …, the console's refunds page). */
enum refund_action {
    REFUND_APPROVE, /* requested -> approved */
    REFUND_REJECT,  /* requested -> rejected */
    REFUND_RETRY,   /* failed -> approved */
};
/* "approve", "reject", "retry" -> the action; -1 for anything else. */
int refund_action_parse(const char *word);
/* In one transaction on db: lock the refund, move it (SHOP_REFUND_NOT_FOUND,
 * SHOP_REFUND_STATE when it is not in the state the action needs), record
 * note (when not "" or NULL), put its event into the outbox and the
 * decision on the order's timeline, "Refund <id> approved: <note> (by
 * operator <operator_name>)" (order_log_operator); publish the event on mq
 * after the commit. *out is the refund as it is now. */
enum shop_code refund_act(db_conn *db, mq_conn *mq, enum refund_action a, int64_t refund_id,
                          const char *note, const char *operator_name, struct refund *out);

/* One refund (SHOP_REFUND_NOT_FOUND). */
enum shop_code refund_get(db_conn *db, int64_t refund_id, struct refund *out);
/* The refunds of an order, oldest first (at most REFUND_LIST_MAX); *out is
 * malloc'd (free it; NULL when none). */
#define REFUND_LIST_MAX 50
enum shop_code refund_list(db_conn *db, int64_t order_id, struct refund **out, size_t *n);

/* The console's list: refunds newest first (by refund_id, a snowflake), of
 * status (or all when ""), with refund_id < before (0: from the newest), at
 * most limit; *more is 1 when there are more. *out is malloc'd (free it). */
enum shop_code refund_page(db_conn *db, const char *status, int64_t before, size_t limit,
                           struct refund **out, size_t *n, int *more);

struct json_object;
/* {refund_id, order_id, pay_id, trade_no, refund_amount, reason,
 *  refund_status, note, last_error, attempts, create_time, update_time,
 *  refund_time}: ids as strings, money "12.30", times ISO or null. */
struct json_object *refund_to_json(const struct refund *r);

/* The refund consumer, an mq_handler (ud: a struct consumer_ctx *, with the
 * configuration and a connection to publish on). refund.approved: takes the
 * refund to the provider as the header says; a refusal by the provider makes
 * it `failed` (last_error: its sub_code and sub_msg), acked; when the
 * provider cannot be reached or its answer is not usable, MQ_RETRY (the row
 * stays `sent` and the redelivery asks first). On `succeeded` (refund_time
 * now) the refund.succeeded event commits with it and, for a buyer's refund,
 * the order's: order_status 4 (order_refunded_tx), order.cancel (stock,
 * coupon and balance back, through the reversal consumers) and
 * order.refund (the order's points taken back). Late and second payments
 * give back only their money.
 *
 * Fault points for tests (fault_inject): "refund_after_sent" and
 * "refund_after_provider" kill the process (SIGKILL) right after committing
 * `sent`, or right after the provider accepted the refund, on a first try. */
enum mq_verdict refund_on_event(const struct mq_message *m, void *ud);

#endif
