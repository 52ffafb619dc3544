#include "consumer_log.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"
#include "snowflake.h"

/* What a row keeps of a message body. */
#define CONSUMER_LOG_BODY_MAX 4096

static const char SQL_INSERT[] =
    "INSERT INTO trade_mq_consumer_log (group_name, msg_tag, msg_key, msg_id, msg_body, "
    "consumer_status, consumer_times, consumer_timestamp) "
    "VALUES (?, ?, ?, ?, ?, 1, 1, UTC_TIMESTAMP(3))";

#define ROW_VALUES "(?, ?, ?, ?, ?, 1, 1, UTC_TIMESTAMP(3))"
#define ROWS_4     ROW_VALUES ", " ROW_VALUES ", " ROW_VALUES ", " ROW_VALUES
static const char SQL_INSERT_MANY[] =
    "INSERT IGNORE INTO trade_mq_consumer_log (group_name, msg_tag, msg_key, msg_id, msg_body, "
    "consumer_status, consumer_times, consumer_timestamp) VALUES " ROWS_4 ", " ROWS_4 ", " ROWS_4
    ", " ROWS_4;

/* The same rows, telling which went in: the rows inserted now come back. */
static const char SQL_CLAIM_MANY[] =
    "INSERT IGNORE INTO trade_mq_consumer_log (group_name, msg_tag, msg_key, msg_id, msg_body, "
    "consumer_status, consumer_times, consumer_timestamp) VALUES " ROWS_4 ", " ROWS_4 ", " ROWS_4
    ", " ROWS_4 " RETURNING msg_tag, msg_key";

static const char SQL_EXISTS[] = "SELECT 1 FROM trade_mq_consumer_log "
                                 "WHERE group_name = ? AND msg_tag = ? AND msg_key = ? "
                                 "LOCK IN SHARE MODE";

enum db_status consumer_log_insert(db_conn *db, const char *group, const char *tag, const char *key,
                                   const char *msg_id, const char *body, size_t body_len)
{
    if (body_len > CONSUMER_LOG_BODY_MAX)
        body_len = CONSUMER_LOG_BODY_MAX;
    struct db_val p[] = {DB_TEXT(group), DB_TEXT(tag), DB_TEXT(key), DB_TEXT(msg_id ? msg_id : ""),
                         DB_TEXTN(body ? body : "", body_len)};
    return db_exec(db, SQL_INSERT, p, sizeof p / sizeof p[0], NULL);
}

/* Bind rows[done ..] as one statement's CONSUMER_LOG_ROWS rows into p; a
 * short last chunk repeats its last row (the copy is ignored). */
static void bind_chunk(const struct consumer_log_row *rows, size_t n, size_t done,
                       struct db_val p[CONSUMER_LOG_ROWS * 5])
{
    for (size_t j = 0; j < CONSUMER_LOG_ROWS; j++) {
        size_t i = done + j < n ? done + j : n - 1;
        const struct consumer_log_row *r = &rows[i];
        size_t len = r->body_len > CONSUMER_LOG_BODY_MAX ? CONSUMER_LOG_BODY_MAX : r->body_len;
        p[j * 5 + 0] = DB_TEXT(r->group);
        p[j * 5 + 1] = DB_TEXT(r->tag);
        p[j * 5 + 2] = DB_TEXT(r->key);
        p[j * 5 + 3] = DB_TEXT(r->msg_id ? r->msg_id : "");
        p[j * 5 + 4] = DB_TEXTN(r->body ? r->body : "", len);
    }
}

enum db_status consumer_log_insert_many(db_conn *db, const struct consumer_log_row *rows, size_t n)
{
    struct db_val p[CONSUMER_LOG_ROWS * 5];
    for (size_t done = 0; done < n; done += CONSUMER_LOG_ROWS) {
        bind_chunk(rows, n, done, p);
        enum db_status st = db_exec(db, SQL_INSERT_MANY, p, sizeof p / sizeof p[0], NULL);
        if (st != DB_OK)
            return st;
    }
    return DB_OK;
}

/* Mark fresh the first row of rows[from .. to) with (tag, key) not marked yet. */
static void mark_fresh(const struct consumer_log_row *rows, size_t from, size_t to, const char *tag,
                       const char *key, unsigned char *fresh)
{
    for (size_t i = from; i < to; i++)
        if (!fresh[i] && strcmp(rows[i].tag, tag) == 0 && strcmp(rows[i].key, key) == 0) {
            fresh[i] = 1;
            return;
        }
}

enum db_status consumer_log_claim_many(db_conn *db, const struct consumer_log_row *rows, size_t n,
                                       unsigned char *fresh)
{
    struct db_val p[CONSUMER_LOG_ROWS * 5];
    memset(fresh, 0, n);
    for (size_t done = 0; done < n; done += CONSUMER_LOG_ROWS) {
        size_t to = done + CONSUMER_LOG_ROWS < n ? done + CONSUMER_LOG_ROWS : n;
        db_result *r = NULL;
        bind_chunk(rows, n, done, p);
        enum db_status st =
            db_query(db, SQL_CLAIM_MANY, p, sizeof p / sizeof p[0], CONSUMER_LOG_ROWS, &r);
        if (st != DB_OK)
            return st;
        char tag[104], key[104]; /* the columns: VARCHAR(100) */
        for (size_t k = 0; k < db_result_rows(r); k++) {
            db_result_text(r, k, 0, tag, sizeof tag);
            db_result_text(r, k, 1, key, sizeof key);
            mark_fresh(rows, done, to, tag, key, fresh);
        }
        db_result_free(r);
    }
    return DB_OK;
}

static const char SQL_BY_KEY[] =
    "SELECT group_name, msg_tag, msg_id, consumer_status, consumer_times, consumer_timestamp, "
    "remark FROM trade_mq_consumer_log WHERE msg_key = ? ORDER BY consumer_timestamp LIMIT 64";

enum shop_code consumer_log_by_key_json(db_conn *db, const char *key, struct json_object **out)
{
    db_result *r = NULL;
    struct db_val p = DB_TEXT(key);
    *out = NULL;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, SQL_BY_KEY, &p, 1, 64, &r);
    if (st == DB_OK)
        *out = db_result_json(r);
    db_result_free(r);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

int consumer_log_exists(db_conn *db, const char *group, const char *tag, const char *key)
{
    struct db_val p[] = {DB_TEXT(group), DB_TEXT(tag), DB_TEXT(key)};
    db_result *r = NULL;
    if (db_query(db, SQL_EXISTS, p, 3, 1, &r) != DB_OK)
        return -1;
    int found = db_result_rows(r) > 0;
    db_result_free(r);
    return found;
}

enum consumer_outcome consumer_apply_once(db_conn *db, const char *group, const char *key,
                                          const struct mq_message *m, consumer_effect effect,
                                          void *ctx, int *result)
{
    *result = 0;
    enum db_status st = db == NULL ? DB_GONE : db_begin(db);
    if (st != DB_OK)
        goto failed;
    /* The log row first: it dedupes redeliveries, and it is the tombstone a
     * late forward step of the same order waits for (its locking read) and
     * then obeys. */
    st = consumer_log_insert(db, group, m->routing_key, key, m->message_id, m->body, m->body_len);
    if (st == DB_DUPLICATE) {
        db_rollback(db);
        log_info("%s: %s of order %s handled before (message %s): nothing to do", group,
                 m->routing_key, key, m->message_id);
        return CONSUMER_SEEN_BEFORE;
    }
    if (st != DB_OK)
        goto rollback;
    int r = effect(db, ctx);
    if (r < 0) {
        st = (enum db_status)r;
        goto rollback;
    }
    st = db_commit(db);
    if (st != DB_OK)
        goto failed;
    *result = r;
    return CONSUMER_APPLIED;
rollback:
    db_rollback(db);
failed:
    log_warn("%s: %s of order %s failed (db status %d): retry later", group, m->routing_key, key,
             (int)st);
    return CONSUMER_FAILED;
}

enum mq_verdict consumer_verdict(enum consumer_outcome o)
{
    return o == CONSUMER_FAILED ? MQ_RETRY : MQ_ACK;
}

/* One attempt of a forward step; *again asks for another one. */
static enum shop_code forward_once(db_conn *db, const char *group, const char *key,
                                   enum shop_code refused, forward_effect effect, void *ctx,
                                   int *again)
{
    enum shop_code rc = refused;
    *again = 0;
    enum db_status st = db_begin(db);
    if (st != DB_OK)
        goto fail;
    /* consumer_log_exists says -1 without the reason: a deadlock or a lost
     * connection are worth another attempt (db_begin then reports DB_GONE
     * when the server stays away). */
    int reversed = consumer_log_exists(db, group, EV_ORDER_CANCEL, key);
    if (reversed < 0) {
        st = DB_DEADLOCK;
        goto fail;
    }
    if (reversed) {
        log_info("%s: order %s was cancelled before this step: refused", group, key);
        goto rollback;
    }
    st = DB_OK;
    rc = effect(db, ctx, &st);
    if (st != DB_OK)
        goto fail;
    if (rc != SHOP_SUCCESS)
        goto rollback;
    st = db_commit(db);
    if (st == DB_OK)
        return SHOP_SUCCESS;
    /* db_commit ended the transaction whatever happened. */
    *again = st == DB_DEADLOCK;
    return *again ? refused : db_shop_code(st);
fail:
    *again = st == DB_DEADLOCK;
    rc = *again ? refused : db_shop_code(st);
rollback:
    db_rollback(db);
    return rc;
}

/* Before another try after a deadlock: 2 to 10 ms, more each time, at
 * random, so that the transactions that met (two Galera nodes' writers,
 * say) do not meet again. */
static void retry_pause(int attempt)
{
    long ms = (long)(attempt + 1) * (2 + (long)randombytes_uniform(9));
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

enum shop_code consumer_forward_step(db_conn *db, const char *group, int64_t order_id,
                                     const char *what, enum shop_code refused,
                                     forward_effect effect, void *ctx)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    char key[SNOWFLAKE_STR_MAX];
    snowflake_format(order_id, key);
    enum shop_code rc = refused;
    for (int attempt = 0; attempt <= FORWARD_TX_RETRIES; attempt++) {
        int again = 0;
        rc = forward_once(db, group, key, refused, effect, ctx, &again);
        if (!again)
            break;
        log_warn("%s: %s for order %s hit a deadlock (try %d)", group, what, key, attempt + 1);
        retry_pause(attempt);
    }
    return rc;
}

int consumer_log_claim_paid(db_conn *db, const char *group, const struct mq_message *const *ms,
                            size_t n, struct paid_claim *out, size_t *fresh)
{
    struct consumer_log_row *rows = calloc(n, sizeof *rows);
    unsigned char *isnew = calloc(n, 1);
    int rc = -1;
    *fresh = 0;
    if (rows == NULL || isnew == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (event_paid_parse(ms[i]->body, ms[i]->body_len, &out[i].ev) != 0)
            goto out;
        snowflake_format(out[i].ev.order_id, out[i].key);
        rows[i] = (struct consumer_log_row){
            group, EV_ORDER_PAID, out[i].key, ms[i]->message_id, ms[i]->body, ms[i]->body_len};
    }
    if (consumer_log_claim_many(db, rows, n, isnew) != DB_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (isnew[i])
            out[(*fresh)++] = out[i];
        else
            log_info("%s: order.paid of order %s handled before: nothing to do", group, out[i].key);
    }
    rc = 0;
out:
    free(isnew);
    free(rows);
    return rc;
}

int consumer_paid_batch(db_conn *db, const struct mq_message *const *ms, size_t n,
                        enum mq_verdict *verdicts, void *ud, paid_batch_fn paid, mq_handler one)
{
    if (db == NULL)
        return -1;
    int all_paid = 1;
    for (size_t i = 0; i < n; i++)
        all_paid = all_paid && strcmp(ms[i]->routing_key, EV_ORDER_PAID) == 0;
    if (all_paid)
        return paid(db, ms, n, verdicts);
    for (size_t i = 0; i < n; i++)
        verdicts[i] = one(ms[i], ud);
    return 0;
}
