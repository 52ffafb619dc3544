/* outbox: trade_mq_producer_temp, the events that must not be lost.
 *
 * A row is committed first (pending, msg_status 0), then published with a
 * publisher confirm and marked sent (1). Whatever fails in between leaves a
 * pending row, which the relay publishes later; consumers dedupe by their
 * consumer log, so publishing a row twice is harmless. */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mq_pipe.h"

/* The consumer group every order event is recorded under. */
#define OUTBOX_GROUP "order"
/* What one relay pass takes at most. */
#define RELAY_BATCH 100
/* A pending row younger than this belongs to a publisher still at work. */
#define RELAY_MIN_AGE_MS 2000
/* How long the relay sleeps between looks at *stop. */
#define RELAY_STEP_MS 100

static const char SQL_INSERT[] =
    "INSERT INTO trade_mq_producer_temp (id, group_name, msg_topic, msg_tag, msg_key, msg_body, "
    "msg_status, create_time) VALUES (?, ?, ?, ?, ?, ?, 0, UTC_TIMESTAMP(3))";
#define ROW_    "(?, ?, ?, ?, ?, ?, 0, UTC_TIMESTAMP(3))"
#define ROWS_4_ ROW_ ", " ROW_ ", " ROW_ ", " ROW_
static const char SQL_INSERT_MANY[] =
    "INSERT IGNORE INTO trade_mq_producer_temp (id, group_name, msg_topic, msg_tag, msg_key, "
    "msg_body, msg_status, create_time) VALUES " ROWS_4_ ", " ROWS_4_ ", " ROWS_4_ ", " ROWS_4_;
static const char SQL_MARK_SENT[] =
    "UPDATE trade_mq_producer_temp SET msg_status = 1 WHERE id = ? AND msg_status = 0";
/* Marking many sent at once: MARK_MANY ids a statement (the last one
 * repeated when fewer are left), so that one prepared statement serves. */
#define MARK_MANY 16
static const char SQL_MARK_MANY[] =
    "UPDATE trade_mq_producer_temp SET msg_status = 1 WHERE msg_status = 0 AND id IN "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
/* Sent rows past their keep time, a bounded bite at a time. */
#define PURGE_BATCH 1000
static const char SQL_PURGE[] =
    "DELETE FROM trade_mq_producer_temp WHERE msg_status = 1 "
    "AND create_time < UTC_TIMESTAMP(3) - INTERVAL ? SECOND ORDER BY create_time LIMIT ?";
static const char SQL_PENDING[] =
    "SELECT id, msg_topic, msg_tag, msg_body FROM trade_mq_producer_temp "
    "WHERE msg_status = 0 AND create_time < UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND "
    "ORDER BY create_time LIMIT ? FOR UPDATE SKIP LOCKED";

enum db_status outbox_add_tx(db_conn *db, const char *exchange, const char *routing_key,
                             const char *message_id, const char *msg_key, const char *body)
{
    if (db == NULL)
        return DB_GONE;
    struct db_val p[] = {DB_TEXT(message_id),  DB_TEXT(OUTBOX_GROUP),           DB_TEXT(exchange),
                         DB_TEXT(routing_key), DB_TEXT(msg_key ? msg_key : ""), DB_TEXT(body)};
    return db_exec(db, SQL_INSERT, p, sizeof p / sizeof p[0], NULL);
}

enum db_status outbox_add_many(db_conn *db, const struct outbox_row *rows, size_t n)
{
    struct db_val p[OUTBOX_ROWS * 6];
    if (db == NULL)
        return DB_GONE;
    for (size_t done = 0; done < n; done += OUTBOX_ROWS) {
        /* A short last chunk repeats its last row: the copy is ignored. */
        for (size_t j = 0; j < OUTBOX_ROWS; j++) {
            const struct outbox_row *r = &rows[done + j < n ? done + j : n - 1];
            struct db_val *v = &p[j * 6];
            v[0] = DB_TEXT(r->message_id);
            v[1] = DB_TEXT(OUTBOX_GROUP);
            v[2] = DB_TEXT(r->exchange);
            v[3] = DB_TEXT(r->routing_key);
            v[4] = DB_TEXT(r->msg_key ? r->msg_key : "");
            v[5] = DB_TEXT(r->body);
        }
        enum db_status st = db_exec(db, SQL_INSERT_MANY, p, sizeof p / sizeof p[0], NULL);
        if (st != DB_OK)
            return st;
    }
    return DB_OK;
}

void outbox_mark_sent(db_conn *db, const char *message_id)
{
    struct db_val id = DB_TEXT(message_id);
    enum db_status st = db_exec(db, SQL_MARK_SENT, &id, 1, NULL);
    if (st != DB_OK) /* the relay publishes it once more; consumers dedupe */
        log_warn("outbox: %s published but not marked sent (%s)", message_id, db_error(db));
}

/* ---------------------------------------------------- deferred sending */

struct deferred {
    char *exchange, *routing_key, *message_id, *body;
};

/* This thread's deferred events, between outbox_defer_begin and a flush or
 * discard. */
struct defer_list {
    int on;
    size_t n, cap;
    struct deferred *items;
};
static _Thread_local struct defer_list t_defer;

void outbox_defer_begin(void)
{
    outbox_defer_discard();
    t_defer.on = 1;
}

void outbox_defer_discard(void)
{
    for (size_t i = 0; i < t_defer.n; i++) {
        free(t_defer.items[i].exchange);
        free(t_defer.items[i].routing_key);
        free(t_defer.items[i].message_id);
        free(t_defer.items[i].body);
    }
    free(t_defer.items);
    t_defer.items = NULL;
    t_defer.n = t_defer.cap = 0;
    t_defer.on = 0;
}

/* Remember one event; -1 when out of memory. */
static int defer_add(const char *exchange, const char *routing_key, const char *message_id,
                     const char *body)
{
    if (t_defer.n == t_defer.cap) {
        size_t cap = t_defer.cap ? t_defer.cap * 2 : 16;
        struct deferred *d = realloc(t_defer.items, cap * sizeof *d);
        if (d == NULL)
            return -1;
        t_defer.items = d;
        t_defer.cap = cap;
    }
    struct deferred d = {strdup(exchange), strdup(routing_key), strdup(message_id), strdup(body)};
    if (d.exchange == NULL || d.routing_key == NULL || d.message_id == NULL || d.body == NULL) {
        free(d.exchange);
        free(d.routing_key);
        free(d.message_id);
        free(d.body);
        return -1;
    }
    t_defer.items[t_defer.n++] = d;
    return 0;
}

int outbox_defer_flush(db_conn *db, mq_conn *mq)
{
    size_t n = t_defer.n;
    int confirmed = 0, all = 1;
    t_defer.on = 0;
    if (n == 0) {
        outbox_defer_discard();
        return 0;
    }
    struct mq_out *out = calloc(n, sizeof *out);
    if (out == NULL) {
        log_error("outbox: out of memory; %zu events left for the relay", n);
        outbox_defer_discard();
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (struct mq_out){.exchange = t_defer.items[i].exchange,
                                 .routing_key = t_defer.items[i].routing_key,
                                 .message_id = t_defer.items[i].message_id,
                                 .body = t_defer.items[i].body,
                                 .len = strlen(t_defer.items[i].body)};
    if (mq != NULL)
        mq_publish_batch(mq, out, n);
    /* Marking sent is an optimisation: a row left pending is published once
     * more by the relay, and consumers dedupe. One statement per MARK_MANY
     * confirmed ids, one commit. */
    struct db_val ids[MARK_MANY];
    size_t k = 0;
    int began = db != NULL && db_begin(db) == DB_OK, marked = began;
    for (size_t i = 0; i < n; i++) {
        if (mq == NULL || out[i].status != MQ_OK) {
            all = 0;
        } else {
            confirmed++;
            ids[k++] = DB_TEXT(out[i].message_id);
        }
        if (k > 0 && (k == MARK_MANY || i == n - 1)) {
            for (size_t j = k; j < MARK_MANY; j++)
                ids[j] = ids[k - 1];
            if (marked && db_exec(db, SQL_MARK_MANY, ids, MARK_MANY, NULL) != DB_OK)
                marked = 0;
            k = 0;
        }
    }
    if (marked)
        marked = db_commit(db) == DB_OK;
    else if (began)
        db_rollback(db);
    if (!marked && confirmed > 0)
        log_warn("outbox: %d events published but not marked sent (%s)", confirmed,
                 db != NULL ? db_error(db) : "no database");
    if (!all)
        log_warn("outbox: %zu of %zu events not confirmed by the broker; left for the relay",
                 n - (size_t)confirmed, n);
    free(out);
    outbox_defer_discard();
    return all ? confirmed : -1;
}

enum mq_status outbox_send(db_conn *db, mq_conn *mq, const char *exchange, const char *routing_key,
                           const char *message_id, const char *body)
{
    if (t_defer.on && db != NULL) {
        if (defer_add(exchange, routing_key, message_id, body) == 0)
            return MQ_OK;
        log_error("outbox: out of memory; %s left for the relay", message_id);
        return MQ_ERR;
    }
    if (mq == NULL)
        return MQ_GONE;
    enum mq_status st = mq_publish(mq, exchange, routing_key, message_id, body, strlen(body));
    if (st != MQ_OK) {
        log_warn("outbox: %s not confirmed by the broker (%d); left for the relay", message_id,
                 (int)st);
        return st;
    }
    if (db != NULL)
        outbox_mark_sent(db, message_id);
    return MQ_OK;
}

enum mq_status outbox_send_pipe(db_conn *db, struct mq_pipe *pp, const char *exchange,
                                const char *routing_key, const char *message_id, const char *body,
                                int mark)
{
    if (pp == NULL)
        return MQ_GONE;
    enum mq_status st = mq_pipe_publish(pp, exchange, routing_key, message_id, body, strlen(body));
    if (st != MQ_OK) {
        log_warn("outbox: %s not confirmed by the broker (%d); left for the relay", message_id,
                 (int)st);
        return st;
    }
    if (db != NULL && mark)
        outbox_mark_sent(db, message_id);
    return MQ_OK;
}

enum shop_code outbox_emit_to(db_conn *db, mq_conn *mq, const char *exchange,
                              const char *routing_key, const char *message_id, const char *msg_key,
                              const char *body)
{
    enum db_status st = outbox_add_tx(db, exchange, routing_key, message_id, msg_key, body);
    if (st == DB_DUPLICATE) {
        log_info("outbox: %s is in the outbox already", message_id);
        return SHOP_SUCCESS;
    }
    if (st != DB_OK) {
        /* Not durable here: the broker's confirm is the only chance left. */
        log_error("outbox: cannot store %s (%s); publishing directly", message_id,
                  db != NULL ? db_error(db) : "no database");
        enum mq_status ms = outbox_send(NULL, mq, exchange, routing_key, message_id, body);
        return ms == MQ_OK ? SHOP_SUCCESS : SHOP_DB_UNAVAILABLE;
    }
    outbox_send(db, mq, exchange, routing_key, message_id, body);
    return SHOP_SUCCESS;
}

enum shop_code outbox_emit(db_conn *db, mq_conn *mq, const char *routing_key,
                           const char *message_id, const char *msg_key, const char *body)
{
    return outbox_emit_to(db, mq, MQ_EXCHANGE, routing_key, message_id, msg_key, body);
}

/* One relay pass: publish up to limit pending rows older than min_age_ms,
 * marking each sent after its confirm. Returns the number published, or -1
 * when the database or the broker failed. */
static int outbox_relay_once(db_conn *db, mq_conn *mq, int limit, int min_age_ms)
{
    if (db == NULL || mq == NULL)
        return -1;
    if (limit <= 0)
        limit = RELAY_BATCH;
    if (min_age_ms < 0)
        min_age_ms = 0;
    db_result *r = NULL;
    int published = 0, failed = 0;
    if (db_begin(db) != DB_OK)
        return -1;
    struct db_val p[] = {DB_I64((int64_t)min_age_ms * 1000), DB_I64(limit)};
    if (db_query(db, SQL_PENDING, p, 2, (size_t)limit, &r) != DB_OK) {
        db_rollback(db);
        return -1;
    }
    for (size_t i = 0; i < db_result_rows(r); i++) {
        const char *id = db_result_get(r, i, 0);
        const char *exchange = db_result_get(r, i, 1);
        const char *key = db_result_get(r, i, 2);
        const char *body = db_result_get(r, i, 3);
        if (id == NULL || exchange == NULL || key == NULL || body == NULL)
            continue;
        enum mq_status ms = mq_publish(mq, exchange, key, id, body, strlen(body));
        if (ms == MQ_GONE || ms == MQ_TIMEOUT) {
            /* The broker went away: keep what was confirmed so far. */
            failed = 1;
            break;
        }
        if (ms != MQ_OK) {
            /* Refused (e.g. unroutable): stays pending; the others go on. */
            log_error("relay: %s (exchange '%s', key '%s') refused by the broker; left pending", id,
                      exchange, key);
            failed = 1;
            continue;
        }
        struct db_val v = DB_TEXT(id);
        if (db_exec(db, SQL_MARK_SENT, &v, 1, NULL) != DB_OK) {
            failed = 1;
            break;
        }
        log_info("relay: published %s (exchange '%s', key '%s')", id, exchange, key);
        published++;
    }
    db_result_free(r);
    if (db_commit(db) != DB_OK) {
        db_rollback(db);
        return -1;
    }
    return failed && published == 0 ? -1 : published;
}

static void sleep_step(void)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = RELAY_STEP_MS * 1000000L};
    nanosleep(&ts, NULL);
}

/* Delete up to limit sent rows created more than keep_s seconds ago (the
 * relay does it on every pass). Returns how many, or -1. */
static int outbox_purge_sent(db_conn *db, int keep_s, int limit)
{
    if (db == NULL)
        return -1;
    struct db_val p[] = {DB_I64(keep_s), DB_I64(limit > 0 ? limit : PURGE_BATCH)};
    uint64_t n = 0;
    if (db_exec(db, SQL_PURGE, p, 2, &n) != DB_OK)
        return -1;
    if (n > 0)
        log_info("relay: deleted %llu sent outbox rows older than %d s", (unsigned long long)n,
                 keep_s);
    return (int)n;
}

static const char SQL_PENDING_COUNT[] =
    "SELECT COUNT(*) FROM trade_mq_producer_temp WHERE msg_status = 0";

int outbox_pending_count(db_conn *db, int64_t *n)
{
    db_result *r = NULL;
    *n = 0;
    if (db == NULL || db_query(db, SQL_PENDING_COUNT, NULL, 0, 1, &r) != DB_OK)
        return -1;
    *n = db_result_i64(r, 0, 0, 0);
    db_result_free(r);
    return 0;
}

int outbox_relay_run(const struct mq_params *p, db_conn *(*outbox_db)(void), int interval_ms,
                     int keep_s, const volatile sig_atomic_t *stop)
{
    mq_conn *mq = NULL;
    if (interval_ms < RELAY_STEP_MS)
        interval_ms = RELAY_STEP_MS;
    log_info("relay: started, one pass every %d ms", interval_ms);
    while (!*stop) {
        if (mq == NULL)
            mq = mq_open(p); /* NULL while the broker is down: try next pass */
        else
            mq_ping(mq); /* traffic keeps the idle connection's heartbeat alive */
        db_conn *db = outbox_db();
        if (mq != NULL && db != NULL) {
            int n;
            /* Drain a backlog in full batches before sleeping. */
            do {
                n = outbox_relay_once(db, mq, RELAY_BATCH, RELAY_MIN_AGE_MS);
            } while (n == RELAY_BATCH && !*stop);
            if (n < 0)
                log_warn("relay: pass failed; trying again in %d ms", interval_ms);
        }
        if (db != NULL)
            outbox_purge_sent(db, keep_s, PURGE_BATCH);
        for (int waited = 0; waited < interval_ms && !*stop; waited += RELAY_STEP_MS)
            sleep_step();
    }
    mq_close(mq);
    log_info("relay: stopped");
    return 0;
}
