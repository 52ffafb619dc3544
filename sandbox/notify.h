/* notify: what the provider signs and sends back to the merchant about a
 * paid trade: the asynchronous notification (trade_status_sync, queued for
 * delivery by schedule.c) and the synchronous return (the query string on
 * the buyer's way back to return_url). Both signed RSA2 with the provider's
 * key, by Alipay's notification rule (alipay.c). */
#ifndef SANDBOX_NOTIFY_H
#define SANDBOX_NOTIFY_H

struct json_object;
struct buf;

/* Queue the signed notification of paid trade t (nothing when it has no
 * notify_url). Call with the store locked. 0 or -1. */
int notify_queue(struct json_object *t);

/* The signed return parameters of paid trade t as a query string onto out.
 * 0 or -1. */
int notify_return_query(struct json_object *t, struct buf *out);

#endif
