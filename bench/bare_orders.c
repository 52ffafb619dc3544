/* bare_orders: the SQL floor under POST /api/orders, for bench/orders.sh.
 *
 * N threads, each with its own MariaDB connection and prepared statements,
 * place orders for S seconds with the statements the confirm saga issues
 * (src/order_saga.c), each step in its own transaction as the services do
 * (src/order_service.c, src/outbox.c, src/goods_service.c,
 * src/user_service.c), for an order of one unit paid in full from the balance:
 *   1. check        SELECT the goods; SELECT the user
 *   2. pre-order    BEGIN; INSERT INTO trade_order (... order_status 0 ...);
 *                   INSERT its order.timeout into trade_mq_producer_temp; COMMIT;
 *                   then (after the broker's confirm, skipped here) UPDATE the
 *                   outbox row to sent
 *   3. stock        BEGIN; tombstone check (consumer log, shared lock);
 *                   UPDATE trade_goods ... AND goods_number >= n;
 *                   INSERT trade_goods_number_log (direction 1); COMMIT
 *   5. balance      BEGIN; tombstone check; UPDATE trade_user ... AND
 *                   user_money >= m; INSERT trade_user_money_log (type 1); COMMIT
 *   6. confirm      BEGIN; UPDATE trade_order SET order_status = 1, pay_status 2
 *                   ... WHERE order_status = 0; COMMIT (paid on confirmation)
 *      and          SELECT the order (the answer)
 * --minimal keeps only the four writes of steps 2, 3, 5 and 6 (no check
 * reads, no outbox row, no re-read). No HTTP, no session lookup, no JSON, no
 * broker: what is left when all of that costs nothing. Prints one line:
 *   bare: orders=N seconds=S rate=R p50_ms=X p99_ms=Y failed=F mode=saga|minimal
 *
 * Build: gcc -O2 -std=c11 -pthread bare_orders.c $(pkg-config --cflags --libs mysqlclient)
 * Usage: bare_orders [--socket PATH | --host H --port P] [--user U] [--password W]
 *        [--database D] [--threads N] [--seconds S] [--users FIRST:COUNT]
 *        [--goods FIRST:COUNT] [--minimal]
 * The goods and users must exist (bench/orders.sh creates them) with enough
 * stock and balance. Order ids are snowflakes of worker id 1000, which no
 * shop process uses. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SNOWFLAKE_EPOCH_MS INT64_C(1704067200000) /* as src/snowflake.h */
#define BENCH_WORKER_ID    1000
#define TX_RETRIES         3 /* a deadlocked transaction is tried again, as the services do */
#define MAX_THREADS        512
#define MAX_GOODS          100000

struct options {
    const char *host, *socket, *user, *password, *database;
    unsigned port;
    int threads, seconds, minimal;
    int64_t user_first, user_count, goods_first, goods_count;
};

struct goods_row {
    int64_t id;
    int64_t price; /* cents */
};

static struct options opt = {.host = "127.0.0.1",
                             .user = "shop",
                             .password = "shop",
                             .database = "shop",
                             .port = 23306,
                             .threads = 16,
                             .seconds = 20,
                             .user_first = 900001,
                             .user_count = 200,
                             .goods_first = 900001,
                             .goods_count = 50};
static struct goods_row *goods;
static size_t n_goods;
static atomic_int stop_flag;
static pthread_barrier_t start_line;

/* ---- ids ------------------------------------------------------------------ */

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t id_last_ms = -1, id_seq;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t next_id(void)
{
    pthread_mutex_lock(&id_lock);
    int64_t t = now_ms() - SNOWFLAKE_EPOCH_MS;
    if (t < id_last_ms)
        t = id_last_ms; /* the clock stepped back: keep counting on the last ms */
    if (t == id_last_ms) {
        if (++id_seq > 4095) {
            while ((t = now_ms() - SNOWFLAKE_EPOCH_MS) <= id_last_ms)
                ;
            id_seq = 0;
        }
    } else {
        id_seq = 0;
    }
    id_last_ms = t;
    int64_t id = (t << 22) | ((int64_t)BENCH_WORKER_ID << 12) | id_seq;
    pthread_mutex_unlock(&id_lock);
    return id;
}

/* ---- statements ------------------------------------------------------------ */

static const char SQL_GOODS_GET[] =
    "SELECT goods_id, goods_name, goods_number, goods_price, goods_desc, add_time "
    "FROM trade_goods WHERE goods_id = ?";
static const char SQL_USER_GET[] = "SELECT user_id, user_name, user_mobile, user_score, "
                                   "user_money, user_reg_time FROM trade_user WHERE user_id = ?";
static const char SQL_PREORDER[] =
    "INSERT INTO trade_order (order_id, user_id, order_status, pay_status, shipping_status, "
    "address, consignee, goods_id, goods_number, goods_price, goods_amount, shipping_fee, "
    "order_amount, coupon_id, coupon_paid, money_paid, pay_amount, add_time) "
    "VALUES (?, ?, 0, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0.00, ?, ?, UTC_TIMESTAMP(3))";
static const char SQL_TOMBSTONE[] = "SELECT 1 FROM trade_mq_consumer_log "
                                    "WHERE group_name = ? AND msg_tag = ? AND msg_key = ? "
                                    "LOCK IN SHARE MODE";
static const char SQL_REDUCE[] = "UPDATE trade_goods SET goods_number = goods_number - ? "
                                 "WHERE goods_id = ? AND goods_number >= ?";
static const char SQL_GOODS_LOG[] =
    "INSERT INTO trade_goods_number_log (goods_id, order_id, direction, goods_number, log_time) "
    "VALUES (?, ?, 1, ?, UTC_TIMESTAMP(3))";
static const char SQL_MONEY[] = "UPDATE trade_user SET user_money = user_money - ? "
                                "WHERE user_id = ? AND user_money >= ?";
static const char SQL_MONEY_LOG[] =
    "INSERT INTO trade_user_money_log (user_id, order_id, money_log_type, use_money, create_time) "
    "VALUES (?, ?, 1, ?, UTC_TIMESTAMP(3))";
static const char SQL_CONFIRM[] =
    "UPDATE trade_order SET order_status = 1, pay_status = 2, confirm_time = UTC_TIMESTAMP(3), "
    "pay_time = UTC_TIMESTAMP(3) WHERE order_id = ? AND order_status = 0";
static const char SQL_OUTBOX_ADD[] =
    "INSERT INTO trade_mq_producer_temp (id, group_name, msg_topic, msg_tag, msg_key, msg_body, "
    "msg_status, create_time) VALUES (?, 'order', '', ?, ?, ?, 0, UTC_TIMESTAMP(3))";
static const char SQL_OUTBOX_SENT[] =
    "UPDATE trade_mq_producer_temp SET msg_status = 1 WHERE id = ? AND msg_status = 0";
static const char SQL_ORDER_GET[] =
    "SELECT order_id, user_id, order_status, pay_status, shipping_status, address, consignee, "
    "goods_id, goods_number, goods_price, goods_amount, shipping_fee, order_amount, coupon_id, "
    "coupon_paid, money_paid, pay_amount, add_time, confirm_time, pay_time "
    "FROM trade_order WHERE order_id = ?";

enum {
    ST_GOODS_GET,
    ST_USER_GET,
    ST_PREORDER,
    ST_TOMBSTONE,
    ST_REDUCE,
    ST_GOODS_LOG,
    ST_MONEY,
    ST_MONEY_LOG,
    ST_CONFIRM,
    ST_OUTBOX_ADD,
    ST_OUTBOX_SENT,
    ST_ORDER_GET,
    ST_COUNT
};
static const char *const SQL[ST_COUNT] = {
    SQL_GOODS_GET, SQL_USER_GET,  SQL_PREORDER, SQL_TOMBSTONE,  SQL_REDUCE,      SQL_GOODS_LOG,
    SQL_MONEY,     SQL_MONEY_LOG, SQL_CONFIRM,  SQL_OUTBOX_ADD, SQL_OUTBOX_SENT, SQL_ORDER_GET};

struct worker {
    pthread_t thread;
    int index;
    MYSQL *db;
    MYSQL_STMT *st[ST_COUNT];
    uint64_t rng;
    double *lat_ms; /* one per placed order */
    size_t n_lat, cap_lat;
    long failed;
    char err[512];
};

/* Parameter values of one statement. */
struct param {
    enum { P_I64, P_STR } type;
    int64_t i;
    const char *s;
    unsigned long len;
};
#define PI(v)                                                                                      \
    {                                                                                              \
        P_I64, (v), NULL, 0                                                                        \
    }
#define PS(v)                                                                                      \
    {                                                                                              \
        P_STR, 0, (v), (unsigned long)strlen(v)                                                    \
    }

static void money_str(int64_t cents, char out[32])
{
    snprintf(out, 32, "%" PRId64 ".%02d", cents / 100, (int)(cents % 100));
}

/* Execute statement k with params; *affected gets the changed rows. The
 * result set of a SELECT is read and dropped. 0, or the MariaDB error number. */
static unsigned run(struct worker *w, int k, struct param *p, int np, uint64_t *affected)
{
    MYSQL_STMT *s = w->st[k];
    MYSQL_BIND b[16];
    memset(b, 0, sizeof b);
    for (int i = 0; i < np; i++) {
        if (p[i].type == P_I64) {
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = &p[i].i;
        } else {
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = (void *)p[i].s;
            b[i].buffer_length = p[i].len;
            b[i].length = &p[i].len;
        }
    }
    if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0)
        goto fail;
    if (mysql_stmt_field_count(s) > 0) {
        if (mysql_stmt_store_result(s) != 0)
            goto fail;
        mysql_stmt_free_result(s);
    }
    if (affected)
        *affected = mysql_stmt_affected_rows(s);
    return 0;
fail:
    snprintf(w->err, sizeof w->err, "%s", mysql_stmt_error(s));
    return mysql_stmt_errno(s) ? mysql_stmt_errno(s) : 1;
}

static unsigned query(struct worker *w, const char *sql)
{
    if (mysql_query(w->db, sql) == 0)
        return 0;
    snprintf(w->err, sizeof w->err, "%s", mysql_error(w->db));
    return mysql_errno(w->db) ? mysql_errno(w->db) : 1;
}

static int connect_db(struct worker *w)
{
    w->db = mysql_init(NULL);
    if (w->db == NULL)
        return -1;
    unsigned tmo = 10;
    mysql_options(w->db, MYSQL_OPT_CONNECT_TIMEOUT, &tmo);
    if (mysql_real_connect(w->db, opt.socket ? NULL : opt.host, opt.user, opt.password,
                           opt.database, opt.socket ? 0 : opt.port, opt.socket, 0) == NULL) {
        snprintf(w->err, sizeof w->err, "connect: %s", mysql_error(w->db));
        return -1;
    }
    mysql_autocommit(w->db, 1);
    for (int k = 0; k < ST_COUNT; k++) {
        w->st[k] = mysql_stmt_init(w->db);
        if (w->st[k] == NULL || mysql_stmt_prepare(w->st[k], SQL[k], strlen(SQL[k])) != 0) {
            snprintf(w->err, sizeof w->err, "prepare: %s", mysql_error(w->db));
            return -1;
        }
    }
    return 0;
}

static uint64_t rnd(struct worker *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

/* BEGIN; tombstone check of group; UPDATE (must change a row); INSERT log;
 * COMMIT. Deadlocks retry. 0 or -1. */
static int step_tx(struct worker *w, const char *group, const char *key, int k_update,
                   struct param *up, int n_up, int k_log, struct param *log, int n_log)
{
    for (int attempt = 0; attempt < TX_RETRIES; attempt++) {
        unsigned e;
        uint64_t changed = 0;
        struct param ts[] = {PS(group), PS("order.cancel"), PS(key)};
        if ((e = query(w, "START TRANSACTION")) != 0)
            return -1;
        if ((e = run(w, ST_TOMBSTONE, ts, 3, NULL)) != 0 ||
            (e = run(w, k_update, up, n_up, &changed)) != 0)
            goto rollback;
        if (changed != 1) {
            snprintf(w->err, sizeof w->err, "%s: conditional update changed no row", group);
            query(w, "ROLLBACK");
            return -1;
        }
        if ((e = run(w, k_log, log, n_log, NULL)) != 0)
            goto rollback;
        if ((e = query(w, "COMMIT")) == 0)
            return 0;
    rollback:
        query(w, "ROLLBACK");
        if (e != ER_LOCK_DEADLOCK && e != ER_LOCK_WAIT_TIMEOUT)
            return -1;
    }
    return -1;
}

static int place_order(struct worker *w, uint64_t n)
{
    const struct goods_row *g = &goods[rnd(w) % n_goods];
    int64_t user_id = opt.user_first + (int64_t)((n * 7919 + (uint64_t)w->index * 104729) %
                                                 (uint64_t)opt.user_count);
    int64_t number = 1;
    int64_t goods_amount = g->price * number;
    int64_t shipping = goods_amount > 10000 ? 0 : 1000;
    int64_t order_amount = goods_amount + shipping;
    int64_t money_paid = order_amount, pay_amount = 0;
    int64_t order_id = next_id();
    char key[24], price[32], gamount[32], ship[32], oamount[32], paid[32], pay[32];
    snprintf(key, sizeof key, "%" PRId64, order_id);
    money_str(g->price, price);
    money_str(goods_amount, gamount);
    money_str(shipping, ship);
    money_str(order_amount, oamount);
    money_str(money_paid, paid);
    money_str(pay_amount, pay);

    /* 1. the check */
    if (!opt.minimal) {
        struct param gp[] = {PI(g->id)}, upar[] = {PI(user_id)};
        if (run(w, ST_GOODS_GET, gp, 1, NULL) != 0 || run(w, ST_USER_GET, upar, 1, NULL) != 0)
            return -1;
    }
    /* 2. the pre-order, with its timeout in the outbox */
    struct param pre[] = {PI(order_id),      PI(user_id), PS("1 Bench Street, Testville"),
                          PS("Bench Buyer"), PI(g->id),   PI(number),
                          PS(price),         PS(gamount), PS(ship),
                          PS(oamount),       PS(paid),    PS(pay)};
    if (opt.minimal) {
        if (run(w, ST_PREORDER, pre, 12, NULL) != 0)
            return -1;
    } else {
        char msg_id[80], body[96];
        snprintf(msg_id, sizeof msg_id, "order.timeout:preorder:%s", key);
        snprintf(body, sizeof body, "{\"order_id\":\"%s\",\"kind\":\"preorder\"}", key);
        struct param ob[] = {PS(msg_id), PS("shop.order.delay.preorder"), PS(key), PS(body)};
        struct param sent[] = {PS(msg_id)};
        if (query(w, "START TRANSACTION") != 0)
            return -1;
        if (run(w, ST_PREORDER, pre, 12, NULL) != 0 || run(w, ST_OUTBOX_ADD, ob, 4, NULL) != 0 ||
            query(w, "COMMIT") != 0) {
            query(w, "ROLLBACK");
            return -1;
        }
        if (run(w, ST_OUTBOX_SENT, sent, 1, NULL) != 0)
            return -1;
    }
    /* 3. the stock */
    struct param red[] = {PI(number), PI(g->id), PI(number)};
    struct param glog[] = {PI(g->id), PI(order_id), PI(number)};
    if (step_tx(w, "goods", key, ST_REDUCE, red, 3, ST_GOODS_LOG, glog, 3) != 0)
        return -1;
    /* 5. the balance */
    struct param mon[] = {PS(paid), PI(user_id), PS(paid)};
    struct param mlog[] = {PI(user_id), PI(order_id), PS(paid)};
    if (step_tx(w, "user", key, ST_MONEY, mon, 3, ST_MONEY_LOG, mlog, 3) != 0)
        return -1;
    /* 6. confirm */
    uint64_t changed = 0;
    struct param conf[] = {PI(order_id)};
    if (!opt.minimal && query(w, "START TRANSACTION") != 0)
        return -1;
    if (run(w, ST_CONFIRM, conf, 1, &changed) != 0 || changed != 1) {
        if (!opt.minimal)
            query(w, "ROLLBACK");
        return -1;
    }
    if (!opt.minimal && (query(w, "COMMIT") != 0 || run(w, ST_ORDER_GET, conf, 1, NULL) != 0))
        return -1;
    return 0;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int ok = connect_db(w) == 0;
    pthread_barrier_wait(&start_line);
    if (!ok)
        return NULL;
    for (uint64_t n = 0; !atomic_load(&stop_flag); n++) {
        double t0 = mono_ms();
        if (place_order(w, n) != 0) {
            if (w->failed++ < 3)
                fprintf(stderr, "bare_orders: thread %d: %s\n", w->index, w->err);
            continue;
        }
        if (w->n_lat == w->cap_lat) {
            size_t cap = w->cap_lat ? w->cap_lat * 2 : 4096;
            double *p = realloc(w->lat_ms, cap * sizeof *p);
            if (p == NULL)
                break;
            w->lat_ms = p;
            w->cap_lat = cap;
        }
        w->lat_ms[w->n_lat++] = mono_ms() - t0;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_range(const char *s, int64_t *first, int64_t *count)
{
    char *end;
    errno = 0;
    long long f = strtoll(s, &end, 10);
    if (errno || *end != ':')
        return -1;
    long long c = strtoll(end + 1, &end, 10);
    if (errno || *end || f < 1 || c < 1)
        return -1;
    *first = f;
    *count = c;
    return 0;
}

static int load_goods(void)
{
    struct worker w = {0};
    if (connect_db(&w) != 0) {
        fprintf(stderr, "bare_orders: %s\n", w.err);
        return -1;
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT goods_id, CAST(goods_price * 100 AS SIGNED) FROM trade_goods "
             "WHERE goods_id BETWEEN %" PRId64 " AND %" PRId64 " ORDER BY goods_id",
             opt.goods_first, opt.goods_first + opt.goods_count - 1);
    MYSQL_RES *r = NULL;
    int rc = -1;
    if (mysql_query(w.db, sql) != 0 || (r = mysql_store_result(w.db)) == NULL) {
        fprintf(stderr, "bare_orders: reading the goods: %s\n", mysql_error(w.db));
        goto out;
    }
    goods = calloc(mysql_num_rows(r) + 1, sizeof *goods);
    MYSQL_ROW row;
    while (goods && (row = mysql_fetch_row(r)) != NULL && n_goods < MAX_GOODS) {
        goods[n_goods].id = strtoll(row[0], NULL, 10);
        goods[n_goods].price = strtoll(row[1], NULL, 10);
        n_goods++;
    }
    if (n_goods == 0) {
        fprintf(stderr, "bare_orders: no goods with ids %" PRId64 "..%" PRId64 "\n",
                opt.goods_first, opt.goods_first + opt.goods_count - 1);
        goto out;
    }
    rc = 0;
out:
    if (r)
        mysql_free_result(r);
    for (int k = 0; k < ST_COUNT; k++)
        if (w.st[k])
            mysql_stmt_close(w.st[k]);
    mysql_close(w.db);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bare_orders [--socket PATH | --host H --port P] [--user U] [--password W]\n"
               "       [--database D] [--threads N] [--seconds S] [--users FIRST:COUNT]\n"
               "       [--goods FIRST:COUNT] [--minimal]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--minimal") == 0) {
            opt.minimal = 1;
            takes = 0;
        } else if (v == NULL) {
            usage(stderr);
            return 2;
        } else if (strcmp(a, "--host") == 0) {
            opt.host = v;
        } else if (strcmp(a, "--port") == 0) {
            opt.port = (unsigned)atoi(v);
        } else if (strcmp(a, "--socket") == 0) {
            opt.socket = v;
        } else if (strcmp(a, "--user") == 0) {
            opt.user = v;
        } else if (strcmp(a, "--password") == 0) {
            opt.password = v;
        } else if (strcmp(a, "--database") == 0) {
            opt.database = v;
        } else if (strcmp(a, "--threads") == 0) {
            opt.threads = atoi(v);
        } else if (strcmp(a, "--seconds") == 0) {
            opt.seconds = atoi(v);
        } else if (strcmp(a, "--users") == 0) {
            if (parse_range(v, &opt.user_first, &opt.user_count) != 0) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(a, "--goods") == 0) {
            if (parse_range(v, &opt.goods_first, &opt.goods_count) != 0) {
                usage(stderr);
                return 2;
            }
        } else {
            usage(stderr);
            return 2;
        }
        i += takes;
    }
    if (opt.threads < 1 || opt.threads > MAX_THREADS || opt.seconds < 1) {
        fprintf(stderr, "bare_orders: --threads 1..%d, --seconds >= 1\n", MAX_THREADS);
        return 2;
    }
    if (mysql_library_init(0, NULL, NULL) != 0)
        return 1;
    if (load_goods() != 0)
        return 1;

    struct worker *ws = calloc((size_t)opt.threads, sizeof *ws);
    if (ws == NULL)
        return 1;
    pthread_barrier_init(&start_line, NULL, (unsigned)opt.threads + 1);
    for (int i = 0; i < opt.threads; i++) {
        ws[i].index = i;
        ws[i].rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull);
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "bare_orders: cannot start thread %d\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&start_line);
    double t0 = mono_ms();
    struct timespec dur = {.tv_sec = opt.seconds};
    while (nanosleep(&dur, &dur) != 0 && errno == EINTR)
        ;
    atomic_store(&stop_flag, 1);
    size_t total = 0;
    long failed = 0;
    int dead = 0;
    for (int i = 0; i < opt.threads; i++) {
        pthread_join(ws[i].thread, NULL);
        if (ws[i].db == NULL || ws[i].st[ST_COUNT - 1] == NULL) {
            if (dead++ == 0)
                fprintf(stderr, "bare_orders: thread %d: %s\n", i, ws[i].err);
        }
        total += ws[i].n_lat;
        failed += ws[i].failed;
    }
    double secs = (mono_ms() - t0) / 1e3;
    double *all = malloc((total + 1) * sizeof *all);
    if (all == NULL)
        return 1;
    size_t k = 0;
    for (int i = 0; i < opt.threads; i++) {
        memcpy(all + k, ws[i].lat_ms, ws[i].n_lat * sizeof *all);
        k += ws[i].n_lat;
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[(size_t)((double)(total - 1) * 0.50)] : 0;
    double p99 = total ? all[(size_t)((double)(total - 1) * 0.99)] : 0;
    printf("bare: orders=%zu seconds=%.1f rate=%.0f p50_ms=%.2f p99_ms=%.2f failed=%ld mode=%s\n",
           total, secs, (double)total / secs, p50, p99, failed, opt.minimal ? "minimal" : "saga");

    for (int i = 0; i < opt.threads; i++) {
        for (int s = 0; s < ST_COUNT; s++)
            if (ws[i].st[s])
                mysql_stmt_close(ws[i].st[s]);
        if (ws[i].db)
            mysql_close(ws[i].db);
        free(ws[i].lat_ms);
    }
    free(all);
    free(ws);
    free(goods);
    pthread_barrier_destroy(&start_line);
    mysql_library_end();
    return dead == opt.threads || total == 0 ? 1 : 0;
}
