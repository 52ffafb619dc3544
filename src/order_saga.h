/* order_saga: confirming an order, exactly per the contract: check,
 * pre-order, reduce stock, use coupon, use balance, confirm, each step a
 * transaction in the service that owns the rows (goods_db(), ...).
 * When a step after the pre-order fails, an order.cancel event goes to the
 * outbox and is published with a confirm; the consumers reverse exactly what
 * took effect. */
#ifndef SHOP_ORDER_SAGA_H
#define SHOP_ORDER_SAGA_H

#include <stdint.h>

#include "errors.h"
#include "mq.h"
#include "order_service.h"

/* What the buyer sent, parsed and typed at the edge (amounts in cents). */
struct order_saga_request {
    int64_t goods_id;
    int64_t goods_number;
    int64_t goods_price; /* the prices the buyer saw */
    int64_t shipping_fee;
    int64_t order_amount;
    int64_t coupon_id;  /* 0 = none */
    int64_t money_paid; /* 0 = none */
    char address[ORDER_ADDRESS_MAX * 4 + 1];
    char consignee[ORDER_CONSIGNEE_MAX * 4 + 1];
};

/* Confirm an order for user_id. On SHOP_SUCCESS *out is the confirmed order.
 * A refusal in the check writes nothing; a refusal after the pre-order
 * leaves out->order_id set (the cancelled order) and returns the failing
 * step's code. mq may be NULL (broker down): the cancel event then waits in
 * the outbox for the relay. The expiry checks (order.timeout) go through
 * pipe, the app's publisher pipe (src/mq_pipe.h: confirms batched across
 * requests; NULL: they wait in the outbox for the relay). fault: "" or a
 * config fault_inject value. */
struct mq_pipe;
enum shop_code order_saga_confirm(mq_conn *mq, struct mq_pipe *pipe, int64_t user_id,
                                  const struct order_saga_request *req, const char *fault,
                                  struct order *out);

/* The contract's shipping rule, decided here only: a goods_amount above
 * ORDER_SAGA_FREE_SHIPPING_ABOVE ships free, any other pays
 * ORDER_SAGA_SHIPPING_FEE (cents). The pages show these two amounts and ask
 * order_saga_shipping_fee whether an amount ships free. */
#define ORDER_SAGA_FREE_SHIPPING_ABOVE INT64_C(10000)
#define ORDER_SAGA_SHIPPING_FEE        INT64_C(1000)

/* The shipping fee of goods_amount (the rule above). */
int64_t order_saga_shipping_fee(int64_t goods_amount);

/* goods_amount = price x number, shipping, order_amount = the sum, as the
 * server computes them. 0, or -1 when an amount would overflow
 * MONEY_MAX_CENTS (or number < 1). */
int order_saga_breakdown(int64_t goods_price, int64_t goods_number, int64_t *goods_amount,
                         int64_t *shipping_fee, int64_t *order_amount);

/* The largest goods_number a request may carry (the column is an INT). */
#define ORDER_SAGA_NUMBER_MAX INT64_C(2147483647)

/* An address or consignee as the buyer typed it: valid UTF-8 of 1..max_chars
 * characters, not only spaces, no control characters. 0 or -1. */
int order_saga_text_check(const char *s, size_t len, size_t max_chars);

/* Parse the JSON body of POST /api/orders (the contract's request: ids and
 * amounts as strings, goods_number an integer, coupon_id and money_paid
 * optional) into *out. SHOP_SUCCESS, or SHOP_REQUEST_PARAMETER_VALID with a
 * sentence naming the field in msg (msgsz bytes). money_paid may be negative
 * here: the saga refuses it with its own code. body is not taken. */
struct json_object;
enum shop_code order_saga_request_from_json(struct json_object *body,
                                            struct order_saga_request *out, char *msg,
                                            size_t msgsz);

/* The delay queues of the order timeouts: shop.delay.preorder.<ms> and
 * shop.delay.unpaid.<ms>, durable, x-message-ttl the delay, dead-lettered
 * to MQ_EXCHANGE with routing key EV_ORDER_TIMEOUT (the order consumer's).
 * Declares them on mq and remembers the delays for the sagas of this
 * process (call once at start; the saga declares again when a publish finds
 * the queue missing). 0, or -1 when the broker refused or is down (the
 * delays are remembered anyway). */
int order_saga_delay_declare(mq_conn *mq, int preorder_timeout_s, int unpaid_timeout_s);

#endif
