/* consumer_log: trade_mq_consumer_log, the record that makes every consumer
 * effect happen at most once. The row is written in the SAME transaction as
 * the effect, so either both commit or neither; a redelivered message finds
 * its row (unique on group, tag, key) and changes nothing.
 *
 * The row of a reversal (tag "order.cancel") is also the tombstone that makes
 * a late forward step refuse: the forward step checks for it with a locking
 * read inside its own transaction. */
#ifndef SHOP_CONSUMER_LOG_H
#define SHOP_CONSUMER_LOG_H

#include <stddef.h>

#include <stdint.h>

#include "db.h"
#include "errors.h"
#include "events.h"
#include "mq.h"
#include "snowflake.h"

/* Insert (group, tag, key) with status 1 inside the caller's transaction.
 * DB_OK: first time, go on with the effect; DB_DUPLICATE: handled before,
 * roll back and ack; anything else: roll back and retry later. */
enum db_status consumer_log_insert(db_conn *db, const char *group, const char *tag, const char *key,
                                   const char *msg_id, const char *body, size_t body_len);

/* One row of consumer_log_insert_many. */
struct consumer_log_row {
    const char *group, *tag, *key, *msg_id, *body;
    size_t body_len;
};

/* Insert the rows that are not there yet, ignoring those that are (a
 * multi-row INSERT IGNORE, CONSUMER_LOG_ROWS rows a statement), inside the
 * caller's transaction. Only for a consumer whose effect is itself
 * idempotent (the audit, the order log): it does not tell which rows were
 * new. */
#define CONSUMER_LOG_ROWS 16
enum db_status consumer_log_insert_many(db_conn *db, const struct consumer_log_row *rows, size_t n);

/* The same for a consumer whose effect must happen once: the rows inserted
 * now come back (INSERT IGNORE ... RETURNING), and fresh[i] (n bytes, the
 * caller's) says 1 for a row that went in now: its effect is to be done in
 * this transaction; 0 for one recorded before, or a repeat of an earlier row
 * of rows: nothing to do. */
enum db_status consumer_log_claim_many(db_conn *db, const struct consumer_log_row *rows, size_t n,
                                       unsigned char *fresh);

/* An order.paid of a batch: its event, and its key (the order id as text). */
struct paid_claim {
    struct paid_event ev;
    char key[SNOWFLAKE_STR_MAX];
};

/* A batch of order.paid for one consumer group, inside the caller's
 * transaction: each message parsed and its log row claimed
 * (consumer_log_claim_many). The fresh ones land in out[0, *fresh), in order
 * (out has n slots); the others were handled before (logged). -1: a message
 * does not parse (the caller's one-by-one path parks it), out of memory, or
 * the claim failed. */
int consumer_log_claim_paid(db_conn *db, const char *group, const struct mq_message *const *ms,
                            size_t n, struct paid_claim *out, size_t *fresh);

/* The batch handler (mq_batch.all) of a consumer with a batch path for
 * order.paid: when every message of the batch is an order.paid, paid(db, ms,
 * n, verdicts) takes them all at once; otherwise each goes through one(m, ud)
 * in order. db NULL: -1 (the batch is redone one by one). */
typedef int (*paid_batch_fn)(db_conn *db, const struct mq_message *const *ms, size_t n,
                             enum mq_verdict *verdicts);
int consumer_paid_batch(db_conn *db, const struct mq_message *const *ms, size_t n,
                        enum mq_verdict *verdicts, void *ud, paid_batch_fn paid, mq_handler one);

/* Inside the caller's transaction: 1 when (group, tag, key) is recorded,
 * 0 when not, -1 on a database error. A locking read (it waits for a
 * concurrent insert of the same row to commit or roll back). */
/* The rows of messages with msg_key key (an order id) in db's consumer
 * log, at most 64, oldest first, as a JSON array of their columns as text
 * (new reference in *out), for the operators' console. SHOP_SUCCESS or the
 * database's code (then *out is NULL). */
struct json_object;
enum shop_code consumer_log_by_key_json(db_conn *db, const char *key, struct json_object **out);

int consumer_log_exists(db_conn *db, const char *group, const char *tag, const char *key);

/* The ud of a consumer that publishes what it causes (the order consumer's
 * order.cancel of an expired order, the pay consumer's order.paid, the query
 * consumer's pay.notify and pay.query, the refund consumer's steps): pub is
 * a connection to publish on, not the consuming one; NULL leaves the
 * messages in the outbox for the relay. */
struct shop_config;
struct consumer_ctx {
    mq_conn *pub;
    const struct shop_config
        *cfg; /* the process's settings (the query and refund consumers' provider) */
};

/* The effect of one message, run inside the transaction after the log row:
 * returns >= 0 (a count for the caller's log line: 0 = nothing to do) or a
 * negative enum db_status. */
typedef int (*consumer_effect)(db_conn *db, void *ctx);

enum consumer_outcome {
    CONSUMER_APPLIED,     /* the effect ran and committed with its log row */
    CONSUMER_SEEN_BEFORE, /* the log row existed: nothing done */
    CONSUMER_FAILED,      /* rolled back: retry later */
};

/* Apply a message's effect exactly once: begin; the log row (group,
 * m->routing_key, key) first; effect(db, ctx); commit. *result gets the
 * effect's value. Returns what happened; every failure path has rolled back
 * and been logged. The verdict for the broker is consumer_verdict(). */
enum consumer_outcome consumer_apply_once(db_conn *db, const char *group, const char *key,
                                          const struct mq_message *m, consumer_effect effect,
                                          void *ctx, int *result);

/* A forward step of the confirm saga (stock, coupon, balance): its effect,
 * run inside the step's transaction once no reversal of the order is
 * recorded. Returns SHOP_SUCCESS to commit, or the refusal to give (the
 * transaction is rolled back); a database failure goes to *st instead. */
typedef enum shop_code (*forward_effect)(db_conn *db, void *ctx, enum db_status *st);

/* The deadlock retries of a forward step. */
#define FORWARD_TX_RETRIES 3

/* Run a forward step of order_id for `group` once: begin; refuse (with
 * `refused`) when the order's reversal is recorded already (a locking read:
 * a reversal being written now is waited for); effect; commit. A deadlock
 * (or a lock wait timeout) is retried, after a short random pause, up to
 * FORWARD_TX_RETRIES times, then
 * answered `refused`; other database failures are their shop code. `what`
 * names the step in the log. */
enum shop_code consumer_forward_step(db_conn *db, const char *group, int64_t order_id,
                                     const char *what, enum shop_code refused,
                                     forward_effect effect, void *ctx);

/* MQ_ACK for APPLIED and SEEN_BEFORE, MQ_RETRY for FAILED. */
enum mq_verdict consumer_verdict(enum consumer_outcome o);

#endif
