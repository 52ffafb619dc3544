/* shop-consumer NAME: one consumer process of one service. It connects to
 * RabbitMQ, declares the durable topology, and consumes the service's queue
 * with manual acks: a message is acked only after its effect committed
 * together with its trade_mq_consumer_log row, so a redelivery is a no-op.
 *
 * Consumers (the rows of src/topology.h; `shop-consumer --list` prints them):
 *   audit   records every event of the exchange in trade_mq_consumer_log
 *   order   cancels orders (order.cancel) and expires them (order.timeout)
 *   goods   gives stock back on order.cancel
 *   coupon  frees the coupon on order.cancel
 *   user    refunds the balance on order.cancel, adds points on order.paid
 *   pay     checks a provider notification against trade_pay, marks it paid
 *   log     writes each order's history (trade_order_log)
 *   relay   not a queue: publishes what is left in the outbox (after a crash
 *           or while the broker was down), one pass every relay_interval_ms
 * Any number of each may run at once (competing consumers). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "consumer_log.h"
#include "coupon_service.h"
#include "db.h"
#include "events.h"
#include "goods_service.h"
#include "log.h"
#include "metrics.h"
#include "mq.h"
#include "order_log.h"
#include "order_saga.h"
#include "pay_service.h"
#include "order_service.h"
#include "outbox.h"
#include "provider.h"
#include "runtime.h"
#include "snowflake.h"
#include "topology.h"
#include "user_service.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* audit: keep one row per (group, routing key, message id). */
static enum mq_verdict consume_audit(const struct mq_message *m, void *ud)
{
    (void)ud;
    db_conn *db = db_thread();
    if (db == NULL)
        return MQ_RETRY;
    if (m->message_id[0] == '\0') {
        log_warn("audit: message on %s without message_id: parked", m->routing_key);
        return MQ_REJECT;
    }
    enum db_status st = consumer_log_insert(db, GROUP_AUDIT, m->routing_key, m->message_id,
                                            m->message_id, m->body, m->body_len);
    if (st == DB_OK) {
        log_info("audit: recorded %s %s", m->routing_key, m->message_id);
        return MQ_ACK;
    }
    if (st == DB_DUPLICATE) {
        log_info("audit: %s %s seen before: no-op", m->routing_key, m->message_id);
        return MQ_ACK;
    }
    return MQ_RETRY;
}

/* audit, a batch at once: one multi-row statement per CONSUMER_LOG_ROWS
 * messages; a row that is there already is ignored (the audit records each
 * event once, whatever else happens). */
static int audit_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts,
                       void *ud)
{
    (void)ud;
    db_conn *db = db_thread();
    struct consumer_log_row *rows = calloc(n, sizeof *rows);
    if (db == NULL || rows == NULL) {
        free(rows);
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mq_message *m = ms[i];
        verdicts[i] = m->message_id[0] != '\0' ? MQ_ACK : MQ_REJECT;
        if (verdicts[i] == MQ_REJECT) {
            log_warn("audit: message on %s without message_id: parked", m->routing_key);
            continue;
        }
        rows[k++] = (struct consumer_log_row){.group = GROUP_AUDIT,
                                              .tag = m->routing_key,
                                              .key = m->message_id,
                                              .msg_id = m->message_id,
                                              .body = m->body,
                                              .body_len = m->body_len};
    }
    enum db_status st = consumer_log_insert_many(db, rows, k);
    free(rows);
    if (st != DB_OK) {
        log_warn("audit: a batch of %zu failed (%s); handled again one by one", n, db_error(db));
        return -1;
    }
    log_info("audit: recorded a batch of %zu (any seen before ignored)", k);
    return 0;
}

/* Each row of src/topology.h's table with its functions. */
typedef int (*batch_all_fn)(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts,
                            void *ud);
static const struct consumer_fns {
    mq_handler fn;    /* NULL: not a queue consumer (the relay) */
    batch_all_fn all; /* optional: the whole batch at once */
} FNS[TOPO_COUNT] = {
#define FNS_ROW_(id, name, queue, keys, db, flags, fn_, all_) [TOPO_##id] = {fn_, all_},
    TOPOLOGY(FNS_ROW_)
#undef FNS_ROW_
};

/* Batches: the messages that arrived together share one transaction of the
 * consumer's database (one log flush for all of them), and the events their
 * handlers emit through the outbox go out after it committed, with one
 * confirm round. */
struct batch_ctx {
    enum db_service db;
    mq_conn *pub;  /* NULL: the consumer emits nothing */
    db_conn *conn; /* the batch's connection, from begin to end */
};

static int batch_begin(void *ud)
{
    struct batch_ctx *b = ud;
    db_conn *db = db_for(b->db);
    if (db == NULL || db_batch_begin(db) != DB_OK)
        return -1;
    b->conn = db;
    outbox_defer_begin();
    return 0;
}

static int batch_end(void *ud, int commit)
{
    struct batch_ctx *b = ud;
    /* Not db_for(): it reconnects, and fails, when the server went away; the
     * batch must end on the connection it began on whatever happened. */
    db_conn *db = b->conn;
    b->conn = NULL;
    enum db_status st = db != NULL ? db_batch_end(db, commit) : DB_GONE;
    if (!commit || st != DB_OK) {
        outbox_defer_discard();
        if (commit)
            log_warn("batch not committed (db status %d); its messages are handled one by one",
                     (int)st);
        return -1;
    }
    outbox_defer_flush(db, b->pub);
    return 0;
}

/* While no message comes, the publishing connection still answers the
 * broker's heartbeats, so that the broker does not drop it. */
static void batch_idle(void *ud)
{
    struct batch_ctx *b = ud;
    if (b->pub != NULL)
        mq_idle(b->pub);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shop-consumer [--config FILE] [--pid-file FILE] NAME[.K]\n"
               "       shop-consumer --list [--instances N]\n"
               "consumers:");
    for (size_t i = 0; i < TOPO_COUNT; i++)
        fprintf(f, " %s", topo_rows[i].name);
    fprintf(f, "\n--list prints the consumers, one line per instance (1..N, N 1 by "
               "default), tab-separated:\n"
               "  name queue routing_keys database publishes worker_id instance\n"
               "NAME.K runs instance K of NAME (1 by default), with that line's worker id.\n");
}

/* NAME or NAME.K (instance K of NAME, 1..TOPO_INSTANCES_MAX): the row, or -1. */
static int consumer_arg(const char *arg, int *instance)
{
    char name[64];
    const char *dot = strchr(arg, '.');
    *instance = 1;
    if (dot != NULL) {
        char *end;
        long k = strtol(dot + 1, &end, 10);
        if (dot[1] < '1' || dot[1] > '9' || *end != '\0' || k > TOPO_INSTANCES_MAX ||
            (size_t)(dot - arg) >= sizeof name)
            return -1;
        *instance = (int)k;
        snprintf(name, sizeof name, "%.*s", (int)(dot - arg), arg);
        arg = name;
    }
    return topo_find(arg);
}

/* shop-consumer --list [--instances N]: the table (argv[1] is --list). */
static int list(int argc, char **argv)
{
    int n = 1;
    if (argc == 4 && strcmp(argv[2], "--instances") == 0) {
        char *end;
        long v = strtol(argv[3], &end, 10);
        n = *argv[3] != '\0' && *end == '\0' && v >= 1 && v <= TOPO_INSTANCES_MAX ? (int)v : 0;
    } else if (argc != 2) {
        n = 0;
    }
    if (n == 0) {
        usage(stderr);
        return 2;
    }
    topo_print(stdout, n);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *pid_path = NULL;
    if (argc >= 2 && strcmp(argv[1], "--list") == 0)
        return list(argc, argv);
    int rc = runtime_options(argc, argv, usage, &config_path, &pid_path);
    if (rc >= 0)
        return rc;
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    int instance;
    int id = consumer_arg(argv[optind], &instance);
    if (id < 0) {
        fprintf(stderr, "shop-consumer: unknown consumer '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    const struct topo_row *cons = &topo_rows[id];
    const struct consumer_fns *fns = &FNS[id];

    static struct shop_config cfg;
    char prog[64];
    snprintf(prog, sizeof prog, "shop-consumer-%s", cons->name);
    if ((rc = runtime_config(&cfg, config_path, prog)) != 0)
        return rc;
    /* Unique per running consumer without a setting per process (one
     * systemd template serves them all); the worker_id setting is the app's. */
    cfg.worker_id = topo_worker_id((enum topo_consumer)id, instance);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct mq_params mqp = runtime_mq_params(&cfg);
    rc = 1;
    mq_conn *mq = NULL, *pub = NULL;
    if (runtime_db_init(&cfg) != 0 || provider_global_init() != 0)
        return 1;
    if (snowflake_init(&shop_ids, cfg.worker_id, NULL) != 0)
        goto out;
    char process[80];
    snprintf(process, sizeof process, "%s.%d", cons->name, instance);
    metrics_set_process(process);
    metrics_writer_start(cfg.metrics_dir, METRICS_WRITE_MS, &stop);
    if (cons->queue == NULL) { /* the relay */
        runtime_write_pid(pid_path);
        log_info("relaying the outbox every %d ms", cfg.relay_interval_ms);
        rc = outbox_relay_run(&mqp, order_db, cfg.relay_interval_ms, cfg.outbox_keep_s, &stop) == 0
                 ? 0
                 : 1;
        goto out;
    }
    /* The broker may still be starting: mq_consume reconnects, but the first
     * connection is waited for here. */
    while (!stop && (mq = mq_open(&mqp)) == NULL)
        sleep(1);
    if (mq == NULL)
        goto out;
    if (mq_declare_topology(mq) != MQ_OK)
        log_warn("topology not declared yet; mq_consume declares it on reconnect");
    void *ud = NULL;
    struct consumer_ctx octx = {0};
    if (cons->flags & TOPO_PUBLISHES) {
        /* A consumer that publishes (the order consumer order.cancel of
         * expired orders, the pay consumer order.paid) does it on a
         * connection of its own, apart from the consuming one. */
        while (!stop && (pub = mq_open(&mqp)) == NULL)
            sleep(1);
        if (pub == NULL)
            goto out;
        if ((cons->flags & TOPO_DELAYS) &&
            order_saga_delay_declare(pub, cfg.preorder_timeout_s, cfg.unpaid_timeout_s) != 0)
            log_warn("delay queues not declared yet");
        octx.pub = pub;
        ud = &octx;
    }
    if (runtime_write_pid(pid_path) != 0)
        log_warn("cannot write pid file %s", pid_path);
    struct batch_ctx bctx = {.db = cons->db, .pub = pub};
    struct mq_batch batch = {.max = cfg.mq_batch,
                             .begin = batch_begin,
                             .end = batch_end,
                             .idle = batch_idle,
                             .all = fns->all,
                             .ud = &bctx};
    log_info("consuming %s (prefetch %d, batches of up to %d, worker id %d)", cons->queue,
             cfg.mq_prefetch, cfg.mq_batch, cfg.worker_id);
    mq_consume_batched(mq, cons->queue, cfg.mq_prefetch, fns->fn, ud, &batch, &stop);
    log_info("stopped");
    rc = 0;
out:
    metrics_writer_stop();
    mq_close(pub);
    mq_close(mq);
    db_thread_end();
    snowflake_destroy(&shop_ids);
    db_global_cleanup();
    if (pid_path && rc == 0)
        unlink(pid_path);
    return rc;
}
