/* outbox: trade_mq_producer_temp. An event that must not be lost is first
 * committed here, then published with a publisher confirm and marked sent.
 * When the broker is down the row stays pending, and the relay
 * (shop-consumer relay) publishes it later; competing relays take rows with
 * FOR UPDATE SKIP LOCKED. Consumers dedupe, so a row published twice (crash
 * between confirm and mark) is harmless. */
#ifndef SHOP_OUTBOX_H
#define SHOP_OUTBOX_H

#include <stddef.h>

#include "db.h"
#include "errors.h"
#include "mq.h"

/* Commit the event (id = message_id) in db, then publish it on mq (may be
 * NULL) and mark it sent. SHOP_SUCCESS once the event is durable in the
 * outbox or confirmed by the broker; SHOP_DB_UNAVAILABLE when neither. */
enum shop_code outbox_emit(db_conn *db, mq_conn *mq, const char *routing_key,
                           const char *message_id, const char *msg_key, const char *body);

/* One relay pass: publish up to limit pending rows older than min_age_ms,
 * marking each sent after its confirm. Returns the number published, or -1
 * when the database or the broker failed. */
int outbox_relay_once(db_conn *db, mq_conn *mq, int limit, int min_age_ms);

#endif
