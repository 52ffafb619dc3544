/* db: MariaDB through MariaDB Connector/C prepared statements.
 *
 * One connection per thread (a _Thread_local pointer), each with a cache of
 * prepared statements keyed by their SQL text (open addressing on an FNV-1a
 * hash, cleared when full). Values are always bound. Every result column is
 * fetched as text into a per-query buffer; longer values are fetched again
 * with mysql_stmt_fetch_column.
 *
 * Reconnect: MYSQL_OPT_RECONNECT is off, because a library reconnect would
 * silently invalidate our cached statements. When the server went away we
 * close the connection and drop the cache; outside a transaction the
 * statement is retried once on a fresh connection, inside one the transaction
 * is marked aborted: every later statement returns the same status until
 * db_rollback (or db_commit, which reports it) ends it, so a caller can never
 * continue a dead transaction in autocommit mode by accident. A deadlock or a
 * lock wait timeout aborts the transaction the same way (we send ROLLBACK, as
 * MariaDB only rolls back the statement on a lock wait timeout).
 *
 * Nodes (db_params.hosts): a lost connection moves the next connect to the
 * next node of the list, round robin; the transaction that was running is
 * not replayed here (it is aborted as above: the caller's retry redoes it).
 * A connection made after a node failed, with several nodes, sets
 * wsrep_sync_wait = 1 when the server is a Galera node, so that its reads see
 * every write committed on the node it left.
 *
 * The session's innodb_lock_wait_timeout is set below the client read
 * timeout, so that a lock wait ends in DB_DEADLOCK rather than in a read
 * timeout that would look like a lost connection. Affected rows are the rows
 * changed (the MySQL default), not the rows matched. */
#include "db.h"

#include "hostlist.h"
#include "log.h"

#include <errno.h>
#include <json-c/json.h>
#include <errmsg.h>
#include <inttypes.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS   256 /* power of two */
#define CACHE_MAX     128 /* at most half full: probes stay short */
#define COLBUF        256 /* first fetch buffer per column */
#define STACK_PARAMS  16
#define DEFAULT_TMO_S 5

struct stmt_slot {
    uint64_t hash;
    char *sql; /* NULL: empty slot */
    MYSQL_STMT *st;
};

enum txn_state { TXN_NONE = 0, TXN_ACTIVE, TXN_ABORTED };

struct db_conn {
    struct db_params p;    /* owned copies */
    MYSQL *my;             /* NULL while disconnected */
    struct hostlist nodes; /* from p.hosts, or p.host:p.port */
    size_t cur;            /* the node connected to, or to try first */
    char failed[320];      /* "host:port failed: why" since the last connect, or "" */
    enum txn_state txn;
    enum db_status abort_status; /* why the transaction was aborted */
    int batch;                   /* inside db_batch_begin .. db_batch_end */
    enum db_status batch_broken; /* DB_OK, or why the batch's transaction ended */
    unsigned batch_writes;       /* db_exec successes since this message's db_begin */
    size_t ncached;
    struct stmt_slot cache[CACHE_SLOTS];
    char err[256];
};

struct db_result {
    size_t rows, cols, cap;
    char **names;  /* cols */
    char **cells;  /* cap * cols, pointers into rowmem */
    char **rowmem; /* one block per row */
};

/* Connection parameters per service; a service without its own uses
 * DB_MAIN's (and then shares DB_MAIN's connection of the thread). */
static struct db_params g_params[DB_SERVICE_COUNT];
static int g_params_set[DB_SERVICE_COUNT];
static pthread_once_t g_lib_once = PTHREAD_ONCE_INIT;
static int g_lib_ok;
static _Thread_local db_conn *t_conns[DB_SERVICE_COUNT];
static _Thread_local int t_thread_inited;

/* ---------------------------------------------------------------- params */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void params_free(struct db_params *p)
{
    free((char *)p->host);
    free((char *)p->hosts);
    free((char *)p->socket);
    free((char *)p->user);
    free((char *)p->password);
    free((char *)p->database);
    memset(p, 0, sizeof *p);
}

static int params_copy(struct db_params *dst, const struct db_params *src)
{
    memset(dst, 0, sizeof *dst);
    dst->port = src->port;
    dst->timeout_s = src->timeout_s;
    dst->host = dup_or_null(src->host);
    dst->hosts = dup_or_null(src->hosts);
    dst->socket = dup_or_null(src->socket);
    dst->user = dup_or_null(src->user);
    dst->password = dup_or_null(src->password);
    dst->database = dup_or_null(src->database);
    if ((src->host && !dst->host) || (src->hosts && !dst->hosts) || (src->socket && !dst->socket) ||
        (src->user && !dst->user) || (src->password && !dst->password) ||
        (src->database && !dst->database)) {
        params_free(dst);
        return -1;
    }
    return 0;
}

/* --------------------------------------------------------------- library */

static void lib_init_once(void)
{
    if (mysql_library_init(0, NULL, NULL) == 0)
        g_lib_ok = 1;
    else
        log_error("db: mysql_library_init failed");
}

static int lib_init(void)
{
    pthread_once(&g_lib_once, lib_init_once);
    return g_lib_ok ? 0 : -1;
}

int db_service_init(enum db_service svc, const struct db_params *p)
{
    if (p == NULL || (unsigned)svc >= DB_SERVICE_COUNT || lib_init() != 0)
        return -1;
    if (g_params_set[svc])
        params_free(&g_params[svc]);
    g_params_set[svc] = 0;
    if (params_copy(&g_params[svc], p) != 0) {
        log_error("db: out of memory");
        return -1;
    }
    g_params_set[svc] = 1;
    return 0;
}

int db_global_init(const struct db_params *p)
{
    return db_service_init(DB_MAIN, p);
}

void db_global_cleanup(void)
{
    for (int i = 0; i < DB_SERVICE_COUNT; i++) {
        if (g_params_set[i])
            params_free(&g_params[i]);
        g_params_set[i] = 0;
    }
    if (g_lib_ok)
        mysql_library_end();
}

/* ---------------------------------------------------------------- errors */

static void set_err(db_conn *c, unsigned code, const char *msg)
{
    snprintf(c->err, sizeof c->err, "%u: %s", code, msg ? msg : "");
}

static enum db_status map_errno(unsigned e)
{
    switch (e) {
    case ER_DUP_ENTRY:
    case ER_DUP_ENTRY_WITH_KEY_NAME:
        return DB_DUPLICATE;
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
        return DB_DEADLOCK;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONN_HOST_ERROR:
    case CR_CONNECTION_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case CR_STMT_CLOSED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
    case ER_UNKNOWN_COM_ERROR: /* Galera: "WSREP has not yet prepared node for application use" */
        return DB_GONE;
    default:
        return DB_ERR;
    }
}

/* ------------------------------------------------------ statement cache */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void cache_clear(db_conn *c)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        struct stmt_slot *s = &c->cache[i];
        if (s->sql == NULL)
            continue;
        /* After mysql_close the statement is detached: this only frees it. */
        mysql_stmt_close(s->st);
        free(s->sql);
        s->sql = NULL;
        s->st = NULL;
    }
    c->ncached = 0;
}

/* Close the connection (a dead one included) and forget its statements. */
static void conn_disconnect(db_conn *c)
{
    /* The server drops the batch's transaction with the connection: a
     * reconnect must not go on with the rest of it in autocommit mode. */
    if (c->batch && c->batch_broken == DB_OK)
        c->batch_broken = DB_GONE;
    if (c->my != NULL) {
        /* mysql_close first: it detaches the statements, so closing them
         * afterwards sends nothing on a connection that may be dead. */
        mysql_close(c->my);
        c->my = NULL;
        /* The node may be dead: the next connect starts at the next one. */
        const struct hostlist_entry *h = &c->nodes.e[c->cur];
        snprintf(c->failed, sizeof c->failed, "%s:%d failed: %s", h->host, h->port, c->err);
        c->cur = (c->cur + 1) % c->nodes.n;
    }
    cache_clear(c);
}

/* Time zone and lock wait of a new session; with several nodes, after a
 * switch, reads that wait for the writes the cluster has committed. */
static int session_setup(db_conn *c, MYSQL *m, unsigned tmo)
{
    char init[160];
    unsigned lockwait = tmo > 2 ? tmo - 1 : 1;
    int n = snprintf(init, sizeof init, "SET time_zone = '+00:00', innodb_lock_wait_timeout = %u",
                     lockwait);
    if (mysql_real_query(m, init, (unsigned long)n) != 0) {
        set_err(c, mysql_errno(m), mysql_error(m));
        log_error("db: session setup failed: %s (sql: %s)", c->err, init);
        return -1;
    }
    static const char sync_wait[] = "SET SESSION wsrep_sync_wait = IF(@@wsrep_on, 1, 0)";
    if (c->nodes.n > 1 && c->failed[0] != '\0' &&
        mysql_real_query(m, sync_wait, sizeof sync_wait - 1) != 0)
        log_warn("db: %s: %u %s (reads may not see the last writes of another node)", sync_wait,
                 mysql_errno(m), mysql_error(m));
    return 0;
}

/* Connect to one node (or the socket); the session set up. */
static MYSQL *connect_node(db_conn *c, const char *host, unsigned port)
{
    MYSQL *m = mysql_init(NULL);
    if (m == NULL) {
        set_err(c, 0, "mysql_init failed");
        log_error("db: mysql_init failed");
        return NULL;
    }
    unsigned int tmo = c->p.timeout_s ? c->p.timeout_s : DEFAULT_TMO_S;
    my_bool off = 0;
    const char *sock = c->p.socket && *c->p.socket ? c->p.socket : NULL;
    unsigned int proto = sock ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &tmo);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &tmo);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &tmo);
    mysql_options(m, MYSQL_OPT_RECONNECT, &off);
    mysql_options(m, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m, sock ? "localhost" : host, c->p.user, c->p.password, c->p.database,
                           port, sock, 0) == NULL) {
        set_err(c, mysql_errno(m), mysql_error(m));
        log_error("db: cannot connect to %s:%u%s%s: %s", sock ? "(socket)" : host, port,
                  sock ? " " : "", sock ? sock : "", c->err);
        mysql_close(m);
        return NULL;
    }
    if (session_setup(c, m, tmo) != 0) {
        mysql_close(m);
        return NULL;
    }
    return m;
}

/* Connect to the first node that answers, from c->cur on, each at most once
 * (a unix socket is one node). */
static int conn_connect(db_conn *c)
{
    if (lib_init() != 0)
        return -1;
    for (size_t k = 0; k < c->nodes.n; k++) {
        size_t i = (c->cur + k) % c->nodes.n;
        const struct hostlist_entry *h = &c->nodes.e[i];
        c->my = connect_node(c, h->host, (unsigned)h->port);
        if (c->my == NULL) {
            snprintf(c->failed, sizeof c->failed, "%s:%d failed: %s", h->host, h->port, c->err);
            continue;
        }
        c->cur = i;
        if (c->failed[0] != '\0' && c->nodes.n > 1)
            log_warn("db: connected to %s:%d after %s", h->host, h->port, c->failed);
        c->failed[0] = '\0';
        return 0;
    }
    return -1;
}

/* A disconnected connection of p, or NULL (logged). */
static db_conn *conn_new(const struct db_params *p)
{
    db_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("db: out of memory");
        return NULL;
    }
    if (params_copy(&c->p, p) != 0) {
        log_error("db: out of memory");
        free(c);
        return NULL;
    }
    const char *host = c->p.host && *c->p.host ? c->p.host : "127.0.0.1";
    int use_list = c->p.socket == NULL || *c->p.socket == '\0';
    if (hostlist_parse(use_list ? c->p.hosts : NULL, host, (int)c->p.port, &c->nodes, c->err,
                       sizeof c->err) != 0) {
        log_error("db: hosts \"%s\": %s", c->p.hosts, c->err);
        params_free(&c->p);
        free(c);
        return NULL;
    }
    return c;
}

/* Find or prepare the statement for sql. */
static enum db_status stmt_get(db_conn *c, const char *sql, MYSQL_STMT **out)
{
    uint64_t h = fnv1a(sql);
    size_t mask = CACHE_SLOTS - 1;
    size_t i = (size_t)h & mask;
    while (c->cache[i].sql != NULL) {
        if (c->cache[i].hash == h && strcmp(c->cache[i].sql, sql) == 0) {
            *out = c->cache[i].st;
            return DB_OK;
        }
        i = (i + 1) & mask;
    }
    MYSQL_STMT *st = mysql_stmt_init(c->my);
    if (st == NULL) {
        set_err(c, mysql_errno(c->my), mysql_error(c->my));
        log_error("db: mysql_stmt_init: %s", c->err);
        return DB_ERR;
    }
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) {
        unsigned e = mysql_stmt_errno(st);
        set_err(c, e, mysql_stmt_error(st));
        mysql_stmt_close(st);
        enum db_status rc = map_errno(e);
        /* Galera aborts a transaction that lost a write conflict at its
         * next command, a prepare too: a deadlock, for the caller to retry. */
        if (rc == DB_GONE)
            log_warn("db: connection lost while preparing: %s (sql: %s)", c->err, sql);
        else if (rc == DB_DEADLOCK)
            log_warn("db: deadlock while preparing: %s (sql: %s)", c->err, sql);
        else
            log_error("db: prepare failed: %s (sql: %s)", c->err, sql);
        return rc == DB_GONE || rc == DB_DEADLOCK ? rc : DB_ERR;
    }
    char *copy = strdup(sql);
    if (copy == NULL) {
        mysql_stmt_close(st);
        set_err(c, 0, "out of memory");
        return DB_ERR;
    }
    if (c->ncached >= CACHE_MAX) {
        /* Full: start over (a real application has far fewer statements). */
        for (size_t k = 0; k < CACHE_SLOTS; k++) {
            if (c->cache[k].sql != NULL) {
                mysql_stmt_close(c->cache[k].st);
                free(c->cache[k].sql);
                c->cache[k].sql = NULL;
                c->cache[k].st = NULL;
            }
        }
        c->ncached = 0;
        i = (size_t)h & mask;
    }
    c->cache[i].hash = h;
    c->cache[i].sql = copy;
    c->cache[i].st = st;
    c->ncached++;
    *out = st;
    return DB_OK;
}

/* ---------------------------------------------------------------- result */

static db_result *result_new(size_t cols)
{
    db_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->cols = cols;
    if (cols > 0) {
        r->names = calloc(cols, sizeof *r->names);
        if (r->names == NULL) {
            free(r);
            return NULL;
        }
    }
    return r;
}

void db_result_free(db_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->rows; i++)
        free(r->rowmem[i]);
    if (r->names != NULL)
        for (size_t i = 0; i < r->cols; i++)
            free(r->names[i]);
    free(r->names);
    free(r->cells);
    free(r->rowmem);
    free(r);
}

static int result_grow(db_result *r)
{
    if (r->rows < r->cap)
        return 0;
    size_t ncap = r->cap ? r->cap * 2 : 8;
    size_t cells = r->cols ? r->cols : 1;
    char **nc = realloc(r->cells, ncap * cells * sizeof *nc);
    if (nc == NULL)
        return -1;
    r->cells = nc;
    char **nm = realloc(r->rowmem, ncap * sizeof *nm);
    if (nm == NULL)
        return -1;
    r->rowmem = nm;
    r->cap = ncap;
    return 0;
}

size_t db_result_rows(const db_result *r)
{
    return r ? r->rows : 0;
}

size_t db_result_cols(const db_result *r)
{
    return r ? r->cols : 0;
}

const char *db_result_name(const db_result *r, size_t col)
{
    if (r == NULL || col >= r->cols)
        return NULL;
    return r->names[col];
}

const char *db_result_get(const db_result *r, size_t row, size_t col)
{
    if (r == NULL || row >= r->rows || col >= r->cols)
        return NULL;
    return r->cells[row * r->cols + col];
}

struct json_object *db_result_json(const db_result *r)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; r != NULL && i < r->rows; i++) {
        json_object *row = json_object_new_object();
        for (size_t j = 0; j < r->cols; j++) {
            const char *v = r->cells[i * r->cols + j];
            json_object_object_add(row, r->names[j], v ? json_object_new_string(v) : NULL);
        }
        json_object_array_add(arr, row);
    }
    return arr;
}

void db_result_text(const db_result *r, size_t row, size_t col, char *out, size_t outsz)
{
    const char *s = db_result_get(r, row, col);
    snprintf(out, outsz, "%s", s != NULL ? s : "");
}

int64_t db_result_i64(const db_result *r, size_t row, size_t col, int64_t def)
{
    const char *s = db_result_get(r, row, col);
    if (s == NULL || *s == '\0')
        return def;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s)
        return def;
    return (int64_t)v;
}

/* ------------------------------------------------------------- execution */

/* Log an error of the statement and return its status. */
static enum db_status stmt_fail(db_conn *c, MYSQL_STMT *st, const char *sql, const char *what)
{
    unsigned e = mysql_stmt_errno(st);
    set_err(c, e, mysql_stmt_error(st));
    enum db_status rc = map_errno(e);
    switch (rc) {
    case DB_GONE:
        log_warn("db: connection lost during %s: %s (sql: %s)", what, c->err, sql);
        break;
    case DB_DUPLICATE:
        log_info("db: duplicate key: %s (sql: %s)", c->err, sql);
        break;
    case DB_DEADLOCK:
        log_warn("db: deadlock / lock wait timeout: %s (sql: %s)", c->err, sql);
        break;
    default:
        log_error("db: %s failed: %s (sql: %s)", what, c->err, sql);
        break;
    }
    if (rc != DB_GONE) {
        mysql_stmt_free_result(st);
        mysql_stmt_reset(st);
    }
    return rc;
}

/* Fetch the rows of an executed statement into a new result. */
static enum db_status fetch_rows(db_conn *c, MYSQL_STMT *st, MYSQL_RES *meta, const char *sql,
                                 size_t max_rows, db_result **out)
{
    size_t cols = mysql_num_fields(meta);
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    db_result *r = result_new(cols);
    MYSQL_BIND *bind = calloc(cols ? cols : 1, sizeof *bind);
    unsigned long *lens = calloc(cols ? cols : 1, sizeof *lens);
    my_bool *nulls = calloc(cols ? cols : 1, sizeof *nulls);
    my_bool *errs = calloc(cols ? cols : 1, sizeof *errs);
    char *bufs = malloc((cols ? cols : 1) * COLBUF);
    char **big = calloc(cols ? cols : 1, sizeof *big); /* refetched long values */
    enum db_status rc = DB_OK;

    if (r == NULL || bind == NULL || lens == NULL || nulls == NULL || errs == NULL ||
        bufs == NULL || big == NULL) {
        set_err(c, 0, "out of memory");
        log_error("db: out of memory fetching (sql: %s)", sql);
        rc = DB_ERR;
        goto drain;
    }
    for (size_t i = 0; i < cols; i++) {
        r->names[i] = strndup(fields[i].name ? fields[i].name : "", fields[i].name_length);
        if (r->names[i] == NULL) {
            rc = DB_ERR;
            goto drain;
        }
        bind[i].buffer_type = MYSQL_TYPE_STRING;
        bind[i].buffer = bufs + i * COLBUF;
        bind[i].buffer_length = COLBUF;
        bind[i].length = &lens[i];
        bind[i].is_null = &nulls[i];
        bind[i].error = &errs[i];
    }
    if (cols > 0 && mysql_stmt_bind_result(st, bind) != 0) {
        rc = stmt_fail(c, st, sql, "bind_result");
        goto out;
    }
    for (;;) {
        int f = mysql_stmt_fetch(st);
        if (f == MYSQL_NO_DATA)
            break;
        if (f == 1) {
            rc = stmt_fail(c, st, sql, "fetch");
            goto out;
        }
        if (r->rows >= max_rows) {
            set_err(c, 0, "too many rows");
            log_error("db: query returned more than %zu rows (sql: %s)", max_rows, sql);
            rc = DB_ERR;
            goto drain;
        }
        size_t total = 0;
        for (size_t i = 0; i < cols; i++) {
            if (nulls[i])
                continue;
            if (lens[i] > COLBUF) {
                /* Truncated: fetch the whole value. */
                big[i] = malloc(lens[i] + 1);
                if (big[i] == NULL) {
                    rc = DB_ERR;
                    goto drain;
                }
                MYSQL_BIND b;
                memset(&b, 0, sizeof b);
                unsigned long blen = 0;
                my_bool bnull = 0;
                b.buffer_type = MYSQL_TYPE_STRING;
                b.buffer = big[i];
                b.buffer_length = lens[i] + 1;
                b.length = &blen;
                b.is_null = &bnull;
                if (mysql_stmt_fetch_column(st, &b, (unsigned)i, 0) != 0) {
                    rc = stmt_fail(c, st, sql, "fetch_column");
                    goto out;
                }
                lens[i] = blen < lens[i] ? blen : lens[i];
            }
            total += lens[i] + 1;
        }
        if (result_grow(r) != 0) {
            rc = DB_ERR;
            goto drain;
        }
        char *mem = malloc(total ? total : 1);
        if (mem == NULL) {
            rc = DB_ERR;
            goto drain;
        }
        char **cells = r->cells + r->rows * cols;
        char *p = mem;
        for (size_t i = 0; i < cols; i++) {
            if (nulls[i]) {
                cells[i] = NULL;
            } else {
                const char *src = big[i] ? big[i] : bufs + i * COLBUF;
                memcpy(p, src, lens[i]);
                p[lens[i]] = '\0';
                cells[i] = p;
                p += lens[i] + 1;
            }
            free(big[i]);
            big[i] = NULL;
        }
        r->rowmem[r->rows++] = mem;
    }
    goto out;

drain:
    /* Discard the rows still on the wire so the connection stays usable. */
    mysql_stmt_free_result(st);
    mysql_stmt_reset(st);
out:
    if (big != NULL)
        for (size_t i = 0; i < cols; i++)
            free(big[i]);
    free(big);
    free(bufs);
    free(errs);
    free(nulls);
    free(lens);
    free(bind);
    if (rc == DB_OK) {
        mysql_stmt_free_result(st);
        *out = r;
    } else {
        db_result_free(r);
    }
    return rc;
}

/* One attempt of a statement on a connected conn. */
static enum db_status run_once(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                               size_t max_rows, db_result **out, uint64_t *affected)
{
    MYSQL_STMT *st;
    enum db_status rc = stmt_get(c, sql, &st);
    if (rc != DB_OK)
        return rc;
    if (mysql_stmt_param_count(st) != n) {
        set_err(c, 0, "wrong parameter count");
        log_error("db: statement wants %lu parameters, got %zu (sql: %s)",
                  mysql_stmt_param_count(st), n, sql);
        return DB_ERR;
    }
    MYSQL_BIND sbind[STACK_PARAMS];
    unsigned long slens[STACK_PARAMS];
    long long sints[STACK_PARAMS];
    MYSQL_BIND *bind = sbind;
    unsigned long *lens = slens;
    long long *ints = sints;
    if (n > STACK_PARAMS) {
        bind = calloc(n, sizeof *bind);
        lens = calloc(n, sizeof *lens);
        ints = calloc(n, sizeof *ints);
        if (bind == NULL || lens == NULL || ints == NULL) {
            free(bind);
            free(lens);
            free(ints);
            set_err(c, 0, "out of memory");
            return DB_ERR;
        }
    }
    if (n > 0) {
        memset(bind, 0, n * sizeof *bind);
        for (size_t i = 0; i < n; i++) {
            switch (params[i].type) {
            case DB_T_INT64:
                ints[i] = (long long)params[i].i;
                bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
                bind[i].buffer = &ints[i];
                break;
            case DB_T_TEXT:
                lens[i] = (unsigned long)params[i].len;
                bind[i].buffer_type = MYSQL_TYPE_STRING;
                bind[i].buffer = (void *)(params[i].s ? params[i].s : "");
                bind[i].buffer_length = lens[i];
                bind[i].length = &lens[i];
                break;
            case DB_T_NULL:
            default:
                bind[i].buffer_type = MYSQL_TYPE_NULL;
                break;
            }
        }
        if (mysql_stmt_bind_param(st, bind) != 0) {
            rc = stmt_fail(c, st, sql, "bind");
            goto done;
        }
    }
    if (mysql_stmt_execute(st) != 0) {
        rc = stmt_fail(c, st, sql, "execute");
        goto done;
    }
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    if (out != NULL) {
        if (meta == NULL) {
            db_result *r = result_new(0);
            if (r == NULL) {
                rc = DB_ERR;
                goto done;
            }
            *out = r;
        } else {
            rc = fetch_rows(c, st, meta, sql, max_rows, out);
            mysql_free_result(meta);
        }
    } else {
        if (meta != NULL) {
            /* A statement run by db_exec returned rows: discard them. */
            mysql_free_result(meta);
            mysql_stmt_free_result(st);
            mysql_stmt_reset(st);
        }
        if (affected != NULL)
            *affected = (uint64_t)mysql_stmt_affected_rows(st);
    }
done:
    if (bind != sbind) {
        free(bind);
        free(lens);
        free(ints);
    }
    return rc;
}

/* After a failed statement inside a transaction: abort it. */
static void txn_abort(db_conn *c, enum db_status why)
{
    if (why == DB_DEADLOCK && c->my != NULL) {
        /* A lock wait timeout only rolls back the statement: end it all. */
        if (mysql_real_query(c->my, "ROLLBACK", 8) != 0)
            log_warn("db: rollback after deadlock failed: %u %s", mysql_errno(c->my),
                     mysql_error(c->my));
    }
    c->txn = TXN_ABORTED;
    c->abort_status = why;
    if (c->batch && c->batch_broken == DB_OK)
        c->batch_broken = why; /* the server ended the batch's transaction too */
}

static enum db_status run(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                          size_t max_rows, db_result **out, uint64_t *affected)
{
    if (out != NULL)
        *out = NULL;
    if (c == NULL)
        return DB_GONE;
    if (sql == NULL || (n > 0 && params == NULL))
        return DB_ERR;
    if (c->txn == TXN_ABORTED) {
        log_warn("db: statement in an aborted transaction refused (sql: %s)", sql);
        return c->abort_status;
    }
    if (c->batch && (c->batch_broken != DB_OK || c->my == NULL))
        return c->batch_broken != DB_OK ? c->batch_broken : DB_GONE;
    for (int attempt = 0;; attempt++) {
        int fresh = 0;
        if (c->my == NULL) {
            if (conn_connect(c) != 0)
                return DB_GONE;
            fresh = 1;
        }
        enum db_status rc = run_once(c, sql, params, n, max_rows, out, affected);
        if (rc == DB_GONE) {
            conn_disconnect(c);
            if (c->txn == TXN_ACTIVE || c->batch) {
                txn_abort(c, DB_GONE);
                return DB_GONE;
            }
            if (attempt == 0 && !fresh) {
                log_info("db: reconnecting to retry the statement");
                continue;
            }
            return DB_GONE;
        }
        if (rc == DB_DEADLOCK && (c->txn == TXN_ACTIVE || c->batch))
            txn_abort(c, DB_DEADLOCK);
        if (rc == DB_OK && out == NULL)
            c->batch_writes++;
        return rc;
    }
}

enum db_status db_exec(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                       uint64_t *affected)
{
    if (affected != NULL)
        *affected = 0;
    return run(c, sql, params, n, 0, NULL, affected);
}

enum db_status db_query(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                        size_t max_rows, db_result **out)
{
    if (out == NULL)
        return DB_ERR;
    return run(c, sql, params, n, max_rows, out, NULL);
}

/* A plain text command (no values): START TRANSACTION, COMMIT, ROLLBACK. */
static enum db_status simple_cmd(db_conn *c, const char *cmd)
{
    if (mysql_real_query(c->my, cmd, (unsigned long)strlen(cmd)) == 0)
        return DB_OK;
    unsigned e = mysql_errno(c->my);
    set_err(c, e, mysql_error(c->my));
    enum db_status rc = map_errno(e);
    if (rc == DB_GONE) {
        log_warn("db: connection lost: %s (sql: %s)", c->err, cmd);
        conn_disconnect(c);
    } else {
        log_error("db: %s failed: %s", cmd, c->err);
    }
    return rc;
}

enum db_status db_begin(db_conn *c)
{
    if (c == NULL)
        return DB_GONE;
    if (c->txn == TXN_ACTIVE) {
        log_error("db: db_begin inside a transaction");
        return DB_ERR;
    }
    if (c->txn == TXN_ABORTED)
        db_rollback(c);
    if (c->batch) {
        if (c->batch_broken != DB_OK || c->my == NULL)
            return c->batch_broken != DB_OK ? c->batch_broken : DB_GONE;
        c->txn = TXN_ACTIVE; /* inside the batch's transaction: no round trip */
        c->batch_writes = 0;
        return DB_OK;
    }
    for (int attempt = 0;; attempt++) {
        int fresh = 0;
        if (c->my == NULL) {
            if (conn_connect(c) != 0)
                return DB_GONE;
            fresh = 1;
        }
        enum db_status rc = simple_cmd(c, "START TRANSACTION");
        if (rc == DB_OK)
            c->txn = TXN_ACTIVE;
        if (rc == DB_GONE && attempt == 0 && !fresh)
            continue;
        return rc;
    }
}

enum db_status db_commit(db_conn *c)
{
    if (c == NULL)
        return DB_GONE;
    if (c->txn == TXN_ABORTED) {
        enum db_status why = c->abort_status;
        db_rollback(c);
        return why;
    }
    if (c->txn == TXN_NONE) {
        log_warn("db: db_commit outside a transaction");
        return c->my ? DB_OK : DB_GONE;
    }
    c->txn = TXN_NONE;
    if (c->my == NULL)
        return DB_GONE;
    if (c->batch)
        return DB_OK; /* durable with the batch */
    enum db_status rc = simple_cmd(c, "COMMIT");
    if (rc == DB_DEADLOCK && c->my != NULL)
        mysql_real_query(c->my, "ROLLBACK", 8);
    return rc;
}

enum db_status db_rollback(db_conn *c)
{
    if (c == NULL)
        return DB_GONE;
    enum txn_state was = c->txn;
    c->txn = TXN_NONE;
    c->abort_status = DB_OK;
    if (c->my == NULL)
        return DB_OK; /* the server discarded the transaction with the connection */
    if (was == TXN_NONE)
        log_warn("db: db_rollback outside a transaction");
    if (c->batch) {
        /* Nothing written since db_begin (a duplicate found on the first
         * insert, say): nothing to undo. Otherwise the message's writes are
         * mixed with the batch's: the whole batch goes, and its messages are
         * done again one by one. */
        if (c->batch_broken == DB_OK && was != TXN_NONE && c->batch_writes > 0) {
            log_info("db: a message of the batch rolled back after writing; the batch is "
                     "undone and its messages are done one by one");
            c->batch_broken = DB_ERR;
        }
        return DB_OK;
    }
    enum db_status rc = simple_cmd(c, "ROLLBACK");
    /* A lost connection rolled the transaction back all the same. */
    return rc == DB_GONE ? DB_OK : rc;
}

enum db_status db_batch_begin(db_conn *c)
{
    if (c == NULL)
        return DB_GONE;
    if (c->batch || c->txn == TXN_ACTIVE) {
        log_error("db: db_batch_begin inside a transaction");
        return DB_ERR;
    }
    enum db_status rc = db_begin(c); /* connects when needed */
    if (rc != DB_OK)
        return rc;
    c->txn = TXN_NONE; /* the messages' db_begin calls come inside */
    c->batch = 1;
    c->batch_broken = DB_OK;
    return DB_OK;
}

enum db_status db_batch_end(db_conn *c, int commit)
{
    if (c == NULL)
        return DB_GONE;
    if (!c->batch) {
        log_error("db: db_batch_end outside a batch");
        return DB_ERR;
    }
    if (c->txn != TXN_NONE) {
        log_error("db: db_batch_end with a message's transaction still open");
        commit = 0;
    }
    enum db_status why = c->batch_broken;
    c->batch = 0;
    c->batch_broken = DB_OK;
    c->txn = TXN_NONE;
    c->abort_status = DB_OK;
    if (c->my == NULL)
        return commit ? (why != DB_OK ? why : DB_GONE) : DB_OK;
    if (!commit || why != DB_OK) {
        enum db_status rc = simple_cmd(c, "ROLLBACK");
        return !commit ? (rc == DB_GONE ? DB_OK : rc) : why;
    }
    enum db_status rc = simple_cmd(c, "COMMIT");
    if (rc == DB_DEADLOCK && c->my != NULL)
        mysql_real_query(c->my, "ROLLBACK", 8);
    return rc;
}

enum db_status db_ping(db_conn *c)
{
    if (c == NULL)
        return DB_GONE;
    db_result *r = NULL;
    enum db_status rc = db_query(c, "SELECT 1", NULL, 0, 1, &r);
    db_result_free(r);
    return rc;
}

const char *db_error(const db_conn *c)
{
    return c ? c->err : "no connection";
}

/* ----------------------------------------------------------- connections */

db_conn *db_open(const struct db_params *p)
{
    if (p == NULL || lib_init() != 0)
        return NULL;
    db_conn *c = conn_new(p);
    if (c == NULL)
        return NULL;
    if (conn_connect(c) != 0) {
        db_close(c);
        return NULL;
    }
    return c;
}

void db_close(db_conn *c)
{
    if (c == NULL)
        return;
    conn_disconnect(c);
    params_free(&c->p);
    free(c);
}

db_conn *db_for(enum db_service svc)
{
    if ((unsigned)svc >= DB_SERVICE_COUNT)
        return NULL;
    if (!g_params_set[svc])
        svc = DB_MAIN;
    if (!g_params_set[svc]) {
        log_error("db: db_thread before db_global_init");
        return NULL;
    }
    if (!t_thread_inited) {
        if (mysql_thread_init() != 0) {
            log_error("db: mysql_thread_init failed");
            return NULL;
        }
        t_thread_inited = 1;
    }
    if (t_conns[svc] == NULL) {
        t_conns[svc] = conn_new(&g_params[svc]);
        if (t_conns[svc] == NULL)
            return NULL;
    }
    if (t_conns[svc]->my == NULL && conn_connect(t_conns[svc]) != 0)
        return NULL;
    return t_conns[svc];
}

db_conn *db_thread(void)
{
    return db_for(DB_MAIN);
}

void db_thread_end(void)
{
    for (int i = 0; i < DB_SERVICE_COUNT; i++) {
        db_close(t_conns[i]);
        t_conns[i] = NULL;
    }
    if (t_thread_inited) {
        mysql_thread_end();
        t_thread_inited = 0;
    }
}

enum shop_code db_shop_code(enum db_status st)
{
    return st == DB_GONE ? SHOP_DB_UNAVAILABLE : SHOP_INTERNAL_ERROR;
}

enum shop_code db_query_list(db_conn *c, const char *sql, const struct db_val *params, size_t n,
                             size_t max_rows, size_t elem_size,
                             int (*row_fn)(const db_result *r, size_t row, void *elem), void **out,
                             size_t *nout)
{
    db_result *r = NULL;
    char *list = NULL;
    enum shop_code rc = SHOP_INTERNAL_ERROR;
    *out = NULL;
    *nout = 0;
    if (c == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(c, sql, params, n, max_rows, &r);
    if (st != DB_OK) {
        rc = db_shop_code(st);
        goto out;
    }
    size_t rows = db_result_rows(r);
    list = calloc(rows ? rows : 1, elem_size);
    if (list == NULL)
        goto out;
    for (size_t i = 0; i < rows; i++)
        if (row_fn(r, i, list + i * elem_size) != 0)
            goto out;
    *out = list;
    *nout = rows;
    list = NULL;
    rc = SHOP_SUCCESS;
out:
    free(list);
    db_result_free(r);
    return rc;
}

void db_time_to_iso(const char *dbtime, char *out, size_t outsz)
{
    /* "YYYY-MM-DD HH:MM:SS[.fff]" is 19+ chars; anything else is passed as "". */
    if (dbtime == NULL || strlen(dbtime) < 19 || outsz < 21) {
        if (outsz)
            out[0] = '\0';
        return;
    }
    snprintf(out, outsz, "%.10sT%.8sZ", dbtime, dbtime + 11);
}
