/* db: MariaDB through prepared statements only. One connection per thread
 * (db_thread()), statements prepared once per connection and cached by their
 * SQL text, explicit transactions, and a reconnect (with the statement cache
 * dropped) when the server went away, retried once for a statement that ran
 * outside a transaction. Values are bound, never spliced into SQL. */
#ifndef SHOP_DB_H
#define SHOP_DB_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct db_params {
    const char *host; /* used when socket is NULL or "" (and hosts is) */
    unsigned port;
    /* "host:port,host:port,..." (src/hostlist.h; "" = host:port): a
     * connection goes to the first node that answers; after a lost
     * connection (or a Galera node not ready, 1047) the next connect tries
     * the following nodes in turn. */
    const char *hosts;
    const char *socket;
    const char *user;
    const char *password;
    const char *database;
    unsigned timeout_s; /* connect, read and write timeout */
};

enum db_type { DB_T_NULL = 0, DB_T_INT64, DB_T_TEXT };

/* A bound parameter. Text is not copied: it must live until the call returns. */
struct db_val {
    enum db_type type;
    int64_t i;
    const char *s;
    size_t len;
};

#define DB_NULLV       ((struct db_val){.type = DB_T_NULL})
#define DB_I64(v)      ((struct db_val){.type = DB_T_INT64, .i = (int64_t)(v)})
#define DB_TEXT(str)   ((struct db_val){.type = DB_T_TEXT, .s = (str), .len = strlen(str)})
#define DB_TEXTN(p, n) ((struct db_val){.type = DB_T_TEXT, .s = (p), .len = (n)})

enum db_status {
    DB_OK = 0,
    DB_ERR = -1,       /* SQL error (logged with the statement, never shown) */
    DB_GONE = -2,      /* the server is unreachable */
    DB_DUPLICATE = -3, /* a unique key refused the row (ER_DUP_ENTRY) */
    DB_DEADLOCK = -4,  /* deadlock or lock wait timeout: the transaction was rolled back */
};

typedef struct db_conn db_conn;
typedef struct db_result db_result;

/* The services that own tables. Each may live in its own database (its own
 * parameters); one without its own parameters uses DB_MAIN's connection. */
enum db_service { DB_MAIN = 0, DB_GOODS, DB_COUPON, DB_USER, DB_ORDER, DB_SERVICE_COUNT };

/* Set the parameters every thread's connection uses (copied). Call once at
 * start, before db_thread(). Returns 0 or -1. Same as
 * db_service_init(DB_MAIN, p). */
int db_global_init(const struct db_params *p);
/* Give a service its own database (copied). Call at start, before threads. */
int db_service_init(enum db_service svc, const struct db_params *p);
/* Close this thread's connection, if any (call at thread exit). */
void db_thread_end(void);
/* Free what db_global_init copied (after all threads ended). */
void db_global_cleanup(void);

/* This thread's connection, connecting on first use. NULL when the server
 * cannot be reached (the reason is logged); a later call tries again. */
db_conn *db_thread(void);
/* The same for a service's database (DB_MAIN's when it has none of its own). */
db_conn *db_for(enum db_service svc);

/* Open / close a private connection (tests, tools). */
db_conn *db_open(const struct db_params *p);
void db_close(db_conn *c);

/* Run a statement that returns no rows. affected may be NULL. */
enum db_status db_exec(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                       uint64_t *affected);

/* Run a query and fetch all its rows (at most max_rows; more is DB_ERR) into
 * *out, which the caller frees with db_result_free. Every value is fetched as
 * text (DECIMAL as "12.50", so money goes through money_parse). */
enum db_status db_query(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                        size_t max_rows, db_result **out);

size_t db_result_rows(const db_result *r);
size_t db_result_cols(const db_result *r);
/* Column name, or NULL when col is out of range. */
const char *db_result_name(const db_result *r, size_t col);
/* Value as text, NULL for SQL NULL or out of range. Owned by the result. */
const char *db_result_get(const db_result *r, size_t row, size_t col);
/* Value parsed as int64; def when NULL or not a number. */
int64_t db_result_i64(const db_result *r, size_t row, size_t col, int64_t def);
/* Value as text copied into out (at most outsz-1 bytes and the NUL); ""
 * for SQL NULL or out of range. */
void db_result_text(const db_result *r, size_t row, size_t col, char *out, size_t outsz);
void db_result_free(db_result *r);
/* The rows as a JSON array of objects, column name: the text (null for
 * NULL); a new reference (an empty array for NULL). For read-only views
 * (the operators' console) that show rows as they are. */
struct json_object;
struct json_object *db_result_json(const db_result *r);

/* Run a query and turn each row into one element of a new array: *out is
 * calloc'd (elem_size bytes per row, the caller frees it) and row_fn fills
 * each element (0, or -1 for a row it cannot take). Returns SHOP_SUCCESS,
 * SHOP_DB_UNAVAILABLE or SHOP_INTERNAL_ERROR (logged). */
enum shop_code db_query_list(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                             size_t max_rows, size_t elem_size,
                             int (*row_fn)(const db_result *r, size_t row, void *elem), void **out,
                             size_t *nout);

/* The code a service answers for a failed statement: SHOP_DB_UNAVAILABLE
 * when the server is gone, SHOP_INTERNAL_ERROR otherwise. */
enum shop_code db_shop_code(enum db_status st);

/* "2026-11-26 05:40:01.123" (DATETIME) -> "2026-11-26T05:40:01Z" into out
 * (at least 21 bytes); "" for NULL or anything else. */
void db_time_to_iso(const char *dbtime, char *out, size_t outsz);

/* Transactions. db_begin starts one (autocommit stays on outside them). */
enum db_status db_begin(db_conn *c);
enum db_status db_commit(db_conn *c);
enum db_status db_rollback(db_conn *c);

/* Batches: one real transaction around the transactions of many consumed
 * messages, so that they cost one commit (one log flush) instead of one each.
 * Between db_batch_begin and db_batch_end, db_begin and db_commit cost
 * nothing (the work joins the batch's transaction) and nothing is durable
 * before db_batch_end commits. A db_rollback after the message wrote nothing
 * (a duplicate found on its first insert) leaves the batch as it is; after a
 * write, and when anything ends the real transaction meanwhile (a deadlock, a
 * lock wait timeout, a lost connection), the batch is broken: every later
 * call fails fast and db_batch_end rolls back and reports it, so that the
 * caller does the messages again one by one. Statements outside db_begin
 * join the batch too. */
enum db_status db_batch_begin(db_conn *c);
/* commit != 0: COMMIT (DB_OK only when everything of the batch is durable);
 * 0: ROLLBACK. Leaves batch mode either way. */
enum db_status db_batch_end(db_conn *c, int commit);

/* A cheap round trip (SELECT 1): DB_OK when the server answers. */
enum db_status db_ping(db_conn *c);

/* The last error message of this connection, for logs. */
const char *db_error(const db_conn *c);

#endif
