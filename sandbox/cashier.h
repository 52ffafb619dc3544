/* cashier: the buyer's side of a trade. The cashier page (the trade's
 * merchant, subject and amount, with Pay, Cancel and the test-only "Pay, but
 * lose the notification"), paying (the trade marked
 * paid once per out_trade_no, its notification queued before the buyer is told,
 * then a 303 back to return_url with the signed return) and cancelling (a 303
 * back without parameters). */
#ifndef SANDBOX_CASHIER_H
#define SANDBOX_CASHIER_H

struct json_object;
struct route_ctx;

/* The cashier page of trade t (id trade_id) into c's response. */
void cashier_page(struct route_ctx *c, const char *trade_id, struct json_object *t);

enum {
    CASHIER_NOTIFY = 1, /* queue the notification */
    CASHIER_AGAIN = 2,  /* a second payment of an out_trade_no paid already */
};
/* Pay trade id t: its trade_no, gmt_payment and TRADE_SUCCESS; the
 * notification queued first when CASHIER_NOTIFY (once the buyer is told
 * "paid", the merchant must hear of it even if the sandbox dies right now),
 * then the trade, the paid/ and payments/ indexes. Store locked. 0; 1 when
 * the out_trade_no is paid by another trade (unless CASHIER_AGAIN); -1 could
 * not record. */
int cashier_settle(const char *id, struct json_object *t, int flags);

/* POST /pay (form `trade`, and notify=0 for "Pay, but lose the
 * notification") and POST /cancel (form `trade`). A closed trade is not
 * paid. */
void cashier_pay(struct route_ctx *c);
void cashier_cancel(struct route_ctx *c);

#endif
