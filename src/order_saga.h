/* order_saga: confirming an order, exactly per the contract: check,
 * pre-order, reduce stock, use coupon, use balance, confirm, each step a
 * transaction in the service that owns the rows (db_for(DB_GOODS), ...).
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
struct order_request {
    int64_t goods_id;
    int64_t goods_number;
    int64_t goods_price;   /* the prices the buyer saw */
    int64_t shipping_fee;
    int64_t order_amount;
    int64_t coupon_id;     /* 0 = none */
    int64_t money_paid;    /* 0 = none */
    char address[ORDER_ADDRESS_MAX * 4 + 1];
    char consignee[ORDER_CONSIGNEE_MAX * 4 + 1];
};

/* Confirm an order for user_id. On SHOP_SUCCESS *out is the confirmed order.
 * A refusal in the check writes nothing; a refusal after the pre-order
 * leaves out->order_id set (the cancelled order) and returns the failing
 * step's code. mq may be NULL (broker down): the cancel event then waits in
 * the outbox for the relay. fault: "" or a config fault_inject value. */
enum shop_code order_saga_confirm(mq_conn *mq, int64_t user_id, const struct order_request *req,
                                  const char *fault, struct order *out);

/* The contract's arithmetic, exposed for the form and for tests:
 * shipping 0 above 100.00 else 10.00. */
int64_t order_shipping_fee(int64_t goods_amount);

#endif
