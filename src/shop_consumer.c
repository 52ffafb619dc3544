/* shop-consumer NAME: one consumer process of one service. It connects to
 * RabbitMQ, declares the durable topology, and consumes the service's queue
 * with manual acks: a message is acked only after its effect committed
 * together with its trade_mq_consumer_log row, so a redelivery is a no-op.
 *
 * Consumers (one table, below):
 *   audit  records every event of the exchange in trade_mq_consumer_log:
 *          the skeleton's proof that the broker path works end to end. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mq.h"

/* The cap on what a consumer-log row keeps of a message body. */
#define CONSUMER_BODY_MAX 4096

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const char SQL_LOG_INSERT[] =
    "INSERT INTO trade_mq_consumer_log (group_name, msg_tag, msg_key, msg_id, msg_body, "
    "consumer_status, consumer_times, consumer_timestamp) "
    "VALUES (?, ?, ?, ?, ?, 1, 1, UTC_TIMESTAMP(3))";

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
    size_t body_len = m->body_len > CONSUMER_BODY_MAX ? CONSUMER_BODY_MAX : m->body_len;
    struct db_val p[] = {DB_TEXT("audit"), DB_TEXT(m->routing_key), DB_TEXT(m->message_id),
                         DB_TEXT(m->message_id), DB_TEXTN(m->body, body_len)};
    enum db_status st = db_exec(db, SQL_LOG_INSERT, p, sizeof p / sizeof p[0], NULL);
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

static const struct consumer {
    const char *name;
    const char *queue;
    mq_handler fn;
} CONSUMERS[] = {
    {"audit", "shop.audit", consume_audit},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: shop-consumer [--config FILE] [--pid-file FILE] NAME\nconsumers:");
    for (size_t i = 0; i < sizeof CONSUMERS / sizeof CONSUMERS[0]; i++)
        fprintf(f, " %s", CONSUMERS[i].name);
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"pid-file", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *pid_path = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:p:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'p': pid_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const struct consumer *cons = NULL;
    for (size_t i = 0; i < sizeof CONSUMERS / sizeof CONSUMERS[0]; i++)
        if (strcmp(CONSUMERS[i].name, argv[optind]) == 0)
            cons = &CONSUMERS[i];
    if (cons == NULL) {
        fprintf(stderr, "shop-consumer: unknown consumer '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    static struct shop_config cfg;
    char err[2048], prog[64];
    if (config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "shop-consumer: refusing to start, bad configuration:\n%s\n", err);
        return 2;
    }
    enum log_level level = LOG_INFO;
    log_level_parse(cfg.log_level, &level);
    snprintf(prog, sizeof prog, "shop-consumer-%s", cons->name);
    log_init(prog, level);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct db_params dbp = {.host = cfg.db_host, .port = (unsigned)cfg.db_port,
                            .socket = cfg.db_socket, .user = cfg.db_user,
                            .password = cfg.db_password, .database = cfg.db_name,
                            .timeout_s = (unsigned)cfg.db_timeout_s};
    struct mq_params mqp = {.host = cfg.mq_host, .port = cfg.mq_port, .user = cfg.mq_user,
                            .password = cfg.mq_password, .vhost = cfg.mq_vhost,
                            .timeout_ms = cfg.mq_timeout_ms, .heartbeat_s = cfg.mq_heartbeat_s};
    int rc = 1;
    mq_conn *mq = NULL;
    if (db_global_init(&dbp) != 0)
        return 1;
    /* The broker may still be starting: mq_consume reconnects, but the first
     * connection is waited for here. */
    while (!stop && (mq = mq_open(&mqp)) == NULL)
        sleep(1);
    if (mq == NULL)
        goto out;
    if (mq_declare_topology(mq) != MQ_OK)
        log_warn("topology not declared yet; mq_consume declares it on reconnect");
    if (pid_path) {
        FILE *f = fopen(pid_path, "w");
        if (f) {
            fprintf(f, "%ld\n", (long)getpid());
            fclose(f);
        }
    }
    log_info("consuming %s (prefetch %d)", cons->queue, cfg.mq_prefetch);
    mq_consume(mq, cons->queue, cfg.mq_prefetch, cons->fn, NULL, &stop);
    log_info("stopped");
    rc = 0;
out:
    mq_close(mq);
    db_thread_end();
    db_global_cleanup();
    if (pid_path && rc == 0)
        unlink(pid_path);
    return rc;
}
