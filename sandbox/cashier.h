/* cashier: the buyer's side of a trade. The cashier page (the trade's
 * merchant, subject and amount, with Pay and Cancel), paying (the trade marked
 * paid once per out_trade_no, its notification queued before the buyer is told,
 * then a 303 back to return_url with the signed return) and cancelling (a 303
 * back without parameters). */
#ifndef SANDBOX_CASHIER_H
#define SANDBOX_CASHIER_H

struct json_object;
struct route_ctx;

/* The cashier page of trade t (id trade_id) into c's response. */
void cashier_page(struct route_ctx *c, const char *trade_id, struct json_object *t);

/* POST /pay and POST /cancel (form field `trade`). */
void cashier_pay(struct route_ctx *c);
void cashier_cancel(struct route_ctx *c);

#endif
