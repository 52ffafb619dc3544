/* outbox: trade_mq_producer_temp. An event that must not be lost is first
 * committed here, then published with a publisher confirm and marked sent.
 * When the broker is down the row stays pending, and the relay
 * (shop-consumer relay) publishes it later; competing relays take rows with
 * FOR UPDATE SKIP LOCKED. Consumers dedupe, so a row published twice (crash
 * between confirm and mark) is harmless. */
#ifndef SHOP_OUTBOX_H
#define SHOP_OUTBOX_H

#include <signal.h>
#include <stddef.h>

#include "db.h"
#include "errors.h"
#include "mq.h"

/* Commit the event (id = message_id) in db, then publish it on mq (may be
 * NULL) and mark it sent. SHOP_SUCCESS once the event is durable in the
 * outbox or confirmed by the broker; SHOP_DB_UNAVAILABLE when neither. */
enum shop_code outbox_emit(db_conn *db, mq_conn *mq, const char *routing_key,
                           const char *message_id, const char *msg_key, const char *body);

/* The same for any exchange: "" (the default exchange) sends to the queue
 * named routing_key, as the delay queues are published to. A message_id
 * already in the outbox is SHOP_SUCCESS (durable already; the relay
 * publishes it if it is still pending). */
enum shop_code outbox_emit_to(db_conn *db, mq_conn *mq, const char *exchange,
                              const char *routing_key, const char *message_id, const char *msg_key,
                              const char *body);

/* The two halves of outbox_emit, for a caller that commits the event in
 * its own transaction together with the rows it belongs to:
 * outbox_add_tx inserts the pending row inside the caller's transaction
 * (DB_OK, DB_DUPLICATE when message_id is there already, or another
 * db_status); after the commit, outbox_send publishes it on mq (may be NULL)
 * and marks it sent. outbox_send returns MQ_OK, or why the broker did not
 * confirm (the row then stays pending for the relay). */
enum db_status outbox_add_tx(db_conn *db, const char *exchange, const char *routing_key,
                             const char *message_id, const char *msg_key, const char *body);
enum mq_status outbox_send(db_conn *db, mq_conn *mq, const char *exchange, const char *routing_key,
                           const char *message_id, const char *body);

/* One row of outbox_add_many. */
struct outbox_row {
    const char *exchange, *routing_key, *message_id, *msg_key, *body;
};
/* outbox_add_tx for n rows, OUTBOX_ROWS a statement; a message_id there
 * already is left as it is (DB_OK, as outbox_add_tx's DB_DUPLICATE). */
#define OUTBOX_ROWS 16
enum db_status outbox_add_many(db_conn *db, const struct outbox_row *rows, size_t n);

/* outbox_send through the app's publisher pipe (src/mq_pipe.h: the confirm
 * is batched with other requests'), for a row that committed. mark: 1 marks
 * it sent now (its own statement, autocommit); 0 leaves that to the caller,
 * who marks it with outbox_mark_sent inside its next transaction (saving
 * a commit). MQ_OK once the broker confirmed, else why not (the row stays
 * pending for the relay). */
struct mq_pipe;
enum mq_status outbox_send_pipe(db_conn *db, struct mq_pipe *pp, const char *exchange,
                                const char *routing_key, const char *message_id, const char *body,
                                int mark);
/* Mark a confirmed row sent (inside the caller's transaction, or alone);
 * a failure only means the relay publishes it once more. */
void outbox_mark_sent(db_conn *db, const char *message_id);

/* Deferred sending, for a consumer that commits many messages in one batch
 * (db_batch_begin): between outbox_defer_begin and the end of the batch,
 * outbox_send with a database only remembers the event (it returns MQ_OK: the
 * row is pending in the batch's transaction, durable once the batch commits).
 * After the commit, outbox_defer_flush publishes them all with one confirm
 * round on mq and marks the confirmed ones sent in one transaction; what the
 * broker did not confirm stays pending for the relay. Returns how many were
 * confirmed, or -1 when not all were. After a rollback, outbox_defer_discard
 * forgets them. Per thread. */
void outbox_defer_begin(void);
int outbox_defer_flush(db_conn *db, mq_conn *mq);
void outbox_defer_discard(void);

/* How many events wait in the outbox for the broker's confirm (msg_status
 * 0), into *n. 0, or -1 when the database did not answer. */
int outbox_pending_count(db_conn *db, int64_t *n);

/* The relay loop of `shop-consumer relay`: its own broker connection (p is
 * copied; reconnects when the broker comes back) and the database that holds
 * the outbox (db(), this thread's connection: the order service's), one pass
 * every interval_ms
 * (which also deletes sent rows older than keep_s),
 * sleeping in small steps so that *stop (set by a signal) ends it within
 * about 200 ms. Each relayed message is logged. Returns 0 when stopped. */
int outbox_relay_run(const struct mq_params *p, db_conn *(*db)(void), int interval_ms, int keep_s,
                     const volatile sig_atomic_t *stop);

#endif
