/* pay_check: the shop asks the provider before it acts (CONTRACT.md, "After
 * paying": "Asking the provider", "Expiry and cancel never act blind",
 * "Buyer cancel"). Part of the pay service; every provider call goes through
 * src/provider.h and never runs inside a database transaction.
 *
 *  - The periodic check: starting to pay schedules a pay.query ("check",
 *    src/events.h) into the delay queue shop.delay.query.<ms>; the query
 *    consumer (`shop-consumer query`, queue shop.query, one message at a
 *    time: TOPO_ALONE) asks alipay.trade.query, and schedules the next
 *    attempt after twice the delay while the order stays paying and expires
 *    later than that.
 *  - A paid answer is applied exactly as a notification: the same pay.notify
 *    (message id "pay.notify:<order_id>:<trade_no>", trade_status and
 *    total_amount as answered, gmt_payment the send_pay_date, notify_id
 *    "query:<trade_no>"), so the pay consumer's dedupe and amount check
 *    apply unchanged and a later real notification is a duplicate.
 *  - The expiry (pay.query "expiry", emitted by the order consumer) and the
 *    buyer's cancel settle a paying order: ask; paid -> the pay.notify; not
 *    paid -> alipay.trade.close, then cancel through the usual order.cancel
 *    path; no answer -> nothing is cancelled (the expiry asks again later,
 *    the buyer gets 503).
 *
 * Each decision is in the order's history: pay.asked (the answer the shop
 * acted on) and pay.closed, emitted through the outbox. */
#ifndef SHOP_PAY_CHECK_H
#define SHOP_PAY_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "errors.h"
#include "mq.h"
#include "order_service.h"

/* The delay of check attempt n: pay_query_after_s * 2^n seconds, in ms
 * (-1 when it does not fit an int). */
int64_t pay_check_delay_ms(const struct shop_config *cfg, int attempt);

/* Inside the caller's transaction: the order's pay.query "check" attempt
 * into the outbox (exchange "", its delay queue), unless the order expires
 * before the attempt would run (then 0 and nothing is added: the expiry
 * asks). 1 added (or there already), 0 not needed, -1 database failure.
 * The caller then sends it with pay_check_send (queue, msg_id and body are
 * filled: queue 64 bytes, msg_id 96 bytes). */
int pay_check_schedule_tx(db_conn *db, const struct shop_config *cfg, const struct order *o,
                          int attempt, time_t now, char queue[64], char msg_id[96],
                          struct buf *body);
/* Publish what pay_check_schedule_tx committed on mq (may be NULL: the
 * relay); a missing delay queue is declared, and the send tried once more. */
void pay_check_send(db_conn *db, mq_conn *mq, const char *queue, const char *msg_id,
                    const struct buf *body, int64_t delay_ms);

/* The buyer's cancel (POST /api/orders/{id}/cancel and the order page's
 * button): order_cancel_by_buyer, after settling a paying order with the
 * provider first. SHOP_SUCCESS with *out cancelled (or cancelled before);
 * SHOP_ORDER_PAID (paid here, or the provider says so: its pay.notify is
 * emitted); SHOP_PROVIDER_UNAVAILABLE (nothing changed); the codes of
 * order_cancel_by_buyer. */
enum shop_code pay_check_cancel(db_conn *db, mq_conn *mq, const struct shop_config *cfg,
                                int64_t user_id, int64_t order_id, struct order *out);

/* The query consumer, an mq_handler (ud: a struct consumer_ctx * with pub
 * and cfg). pay.query: the periodic check or the expiry, as above; a paying
 * order only (anything else is acked without asking). A malformed body is
 * MQ_REJECT; a database failure MQ_RETRY. */
enum mq_verdict pay_check_on_event(const struct mq_message *m, void *ud);

#endif
