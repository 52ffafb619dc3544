/* pay_service: the pay service owns trade_pay and trade_pay_mismatch (in the
 * order service's database, order_db(), beside the outbox it writes).
 *
 *  - Starting payment (pay_start): one trade_pay row per order, created or
 *    reused, the order set to paying, and the provider's signed cashier URL.
 *  - Checking a provider notification (pay_notify_check): signature, app id,
 *    seller and fields, before the web handler publishes it as pay.notify.
 *  - The pay consumer (pay_on_event, `shop-consumer pay`, queue shop.pay):
 *    applies pay.notify exactly once and emits order.paid.
 *
 * The provider protocol is Alipay's (RSA2, src/alipay.h); out_trade_no is
 * the order id, so a notification maps straight to its order. */
#ifndef SHOP_PAY_SERVICE_H
#define SHOP_PAY_SERVICE_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "errors.h"
#include "events.h"
#include "mq.h"

/* The two keys of the configuration (alipay_private_key: ours, signs
 * requests; alipay_public_key: the provider's, verifies notifications),
 * loaded from their PEM files on first use, once per process, from any
 * thread. NULL while a file is missing or bad (logged as an error; tried
 * again at most every few seconds). Owned by the module, valid until exit. */
EVP_PKEY *pay_merchant_key(const struct shop_config *cfg);
EVP_PKEY *pay_provider_key(const struct shop_config *cfg);

/* trade_pay.provider and pay.notify's provider of Alipay. */
#define PAY_PROVIDER_ALIPAY "alipay"
/* The order's payment rows (trade_pay, at most 16) as a JSON array of
 * their columns as text, for the operators' console (new reference in
 * *out). SHOP_SUCCESS or the database's code (then *out is NULL). */
struct json_object;
enum shop_code pay_rows_json(db_conn *db, int64_t order_id, struct json_object **out);

/* Open amount mismatches (trade_pay_mismatch, resolved 0), the oldest
 * first, at most limit, as a JSON array of text columns (new reference). */
enum shop_code pay_mismatches_open_json(db_conn *db, size_t limit, struct json_object **out);
/* An operator resolves one with a note (1..PAY_NOTE_MAX bytes, checked by
 * the caller): resolved 1 with the note, name and time, and a line on the
 * order's timeline with the operator's name, in one transaction.
 * SHOP_NOT_FOUND when there is no such open mismatch. */
#define PAY_NOTE_MAX 500
enum shop_code pay_mismatch_resolve(db_conn *db, int64_t order_id, const char *trade_no,
                                    const char *note, const char *operator_name);

/* The cashier URL of one payment needs at most this many bytes. */
#define PAY_URL_MAX 16384

struct pay_started {
    int64_t pay_id;
    int64_t order_id;
    int64_t pay_amount; /* cents */
};

/* Start (or restart) paying order_id of user_id, in one transaction on db:
 * order_pay_begin_tx (confirmed, unpaid, pay_amount > 0; pay_status 1), then
 * the order's trade_pay row inserted (new snowflake pay_id, is_paid 1) or
 * reused, and the order's first pay.query ("check", src/pay_check.h) in the
 * same transaction, published on mq (may be NULL: the relay) after the
 * commit. Then the signed page-pay URL (gateway, app id and keys of cfg;
 * return_url <public_url>/pay/return, notify_url
 * <public_url>/pay/notify/alipay, time_expire the order's expiry) into url (reset first; cap it at
 * PAY_URL_MAX or more). SHOP_SUCCESS; SHOP_ORDER_NOT_FOUND,
 * SHOP_PAYMENT_IS_PAID, SHOP_ORDER_STATUS_UPDATE_FAIL; SHOP_PAYMENT_PAY_ERROR
 * when our key is missing or the URL cannot be built; SHOP_DB_UNAVAILABLE. */
enum shop_code pay_start(db_conn *db, mq_conn *mq, const struct shop_config *cfg, int64_t user_id,
                         int64_t order_id, struct pay_started *out, struct buf *url);

/* What a provider notification is. */
enum pay_notify_verdict {
    PAY_NOTIFY_PAID = 0,       /* verified, trade_status TRADE_SUCCESS/FINISHED: publish */
    PAY_NOTIFY_OTHER = 1,      /* verified, another trade_status: answer success, nothing else */
    PAY_NOTIFY_REFUSED = -1,   /* signature, sign_type, app id or seller wrong: answer fail */
    PAY_NOTIFY_MALFORMED = -2, /* not a form, or a field missing or malformed: answer fail */
    PAY_NOTIFY_NO_KEY = -3,    /* the provider's key is not loaded: answer fail (retry) */
};

/* Check a notification (an application/x-www-form-urlencoded body of len
 * bytes) with the provider key and the app id and seller id of cfg; on
 * PAY_NOTIFY_PAID *out is the pay.notify event. A reason for the log goes
 * into why (always set). Touches no database and no broker. */
enum pay_notify_verdict pay_notify_check(const struct shop_config *cfg, const char *body,
                                         size_t len, struct pay_notify_event *out, char *why,
                                         size_t whysz);

/* The message id of a pay.notify: "pay.notify:<order_id>:<trade_no>"
 * (at most 100 characters). */
void pay_notify_message_id(const struct pay_notify_event *ev, char out[128]);

/* The paid payment of an order, inside the caller's transaction: 1 with
 * *pay_id and trade_no (EVENT_TRADE_NO_MAX + 1 bytes), 0 when the order has
 * none paid, or a negative enum db_status. */
int pay_paid_get_tx(db_conn *db, int64_t order_id, int64_t *pay_id, char *trade_no);

/* The pay consumer, an mq_handler. ud: a struct consumer_ctx * (pub, a
 * connection to publish on; NULL leaves order.paid to the relay).
 * pay.notify: in one transaction on order_db(), the consumer-log row
 * ("pay", "pay.notify", "<order_id>:<trade_no>") first (a repeat is acked
 * without effect), then trade_pay locked. When the amount matches and it is
 * unpaid: is_paid 2, trade_no, paid_time (gmt_payment), conditional on
 * is_paid 1, and order.paid (message id "order.paid:<order_id>") into the
 * outbox, published after the commit. Otherwise (amount differs, paid by
 * another trade, no payment row) nothing is marked paid: a
 * trade_pay_mismatch row, a warning in the log and a pay.mismatch event
 * (outbox) for the order's history; a second payment of a paid order (paid
 * by another trade) also gets its approved "second" refund of that trade
 * (src/refund_service.h), the first payment untouched. Other routing keys
 * are acked. */
enum mq_verdict pay_on_event(const struct mq_message *m, void *ud);
/* The same for a batch at once (mq_batch.all, inside the batch's
 * transaction): the log rows of all in one statement a CONSUMER_LOG_ROWS;
 * per 16 fresh notifications, their trade_pay rows locked by one read, and
 * the plain payments marked paid by one UPDATE with their order.paid added
 * to the outbox by one INSERT (a mismatch or a second payment is handled as
 * pay_on_event handles it). Non-zero (the batch then goes one by one) on a
 * database failure or when two fresh notifications are for the same order. */
int pay_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts, void *ud);

/* A paid trade_pay row, for reconciliation (reconcile.c). */
struct pay_paid {
    int64_t order_id;
    char trade_no[EVENT_TRADE_NO_MAX + 1];
    int64_t amount; /* cents */
};
/* The rows paid (paid_time, the provider's gmt_payment) in [from, to)
 * ("YYYY-MM-DD HH:MM:SS", UTC), at most max: *out calloc'd (the caller
 * frees it). SHOP_SUCCESS, SHOP_DB_UNAVAILABLE or SHOP_INTERNAL_ERROR. */
enum shop_code pay_paid_between(db_conn *db, const char *from, const char *to, size_t max,
                                struct pay_paid **out, size_t *n);

#endif
