/* bare_publish: the broker floor under POST /pay/notify/alipay, for
 * bench/notify.sh.
 *
 * N threads, each with its own connection and a channel in confirm mode,
 * publish for S seconds the messages the notify handler publishes (the
 * pay.notify events of --messages: "<message_id>\t<json>" per line, cycled,
 * thread t starting at line t), persistent, content type application/json,
 * with a message id and a timestamp, as src/mq.c does, and wait for each
 * one's basic.ack before the next (rabbitmq-c 0.11 has no
 * amqp_publisher_confirm_wait: amqp_simple_wait_frame). No HTTP, no
 * signature check, no batching: the per-message-confirm rate of this broker
 * for these messages.
 *
 * They go to a topic exchange of their own (--exchange, default shop.bench)
 * with routing key bench.notify, bound to --queues durable queues
 * shop.bench.notify.1..K, declared and purged first and deleted at the end
 * (with the exchange), so that no shop consumer sees them. Not shop.events:
 * its audit queue takes every key ("#"), and the audit consumer would write
 * a row per message. K should be the number of queues a pay.notify reaches
 * (shop.pay, shop.log, shop.audit: 3), so that the broker persists as many
 * copies as for the real message. Prints one line:
 *   bare: acks=N seconds=S rate=R p50_ms=X p99_ms=Y failed=F nacks=K queues=Q
 *
 * Build: gcc -O2 -std=c11 -pthread bare_publish.c $(pkg-config --cflags --libs librabbitmq)
 * Usage: bare_publish --messages FILE [--host H] [--port P] [--user U]
 *        [--password W] [--vhost V] [--threads N] [--seconds S] [--queues K]
 *        [--exchange X] [--routing-key R] */
#define _POSIX_C_SOURCE 200809L
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define CHANNEL     1
#define MAX_THREADS 512
#define MAX_QUEUES  16
#define ACK_WAIT_S  10 /* a confirm slower than this is a failure */

struct options {
    const char *host, *user, *password, *vhost, *messages, *exchange, *routing_key;
    int port, threads, seconds, queues;
};

static struct options opt = {.host = "127.0.0.1",
                             .user = "shop",
                             .password = "shop",
                             .vhost = "/",
                             .exchange = "shop.bench",
                             .routing_key = "bench.notify",
                             .port = 25673,
                             .threads = 16,
                             .seconds = 10,
                             .queues = 3};

struct message {
    char *id;
    char *body;
    size_t len;
};
static struct message *msgs;
static size_t n_msgs;
static atomic_int stop_flag;
static pthread_barrier_t start_line;

struct worker {
    pthread_t thread;
    int index;
    amqp_connection_state_t conn;
    double *lat_ms;
    size_t n_lat, cap_lat;
    long failed, nacks;
    char err[256];
};

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 0 when the last synchronous call succeeded; else a message in err. */
static int rpc_ok(amqp_connection_state_t c, const char *what, char *err, size_t errsz)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        snprintf(err, errsz, "%s: %s", what, amqp_error_string2(r.library_error));
    else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        snprintf(err, errsz, "%s: channel closed: %u %.*s", what, m->reply_code,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        snprintf(err, errsz, "%s: connection closed: %u %.*s", what, m->reply_code,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    } else {
        snprintf(err, errsz, "%s: failed", what);
    }
    return -1;
}

static amqp_connection_state_t open_conn(char *err, size_t errsz)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = c ? amqp_tcp_socket_new(c) : NULL;
    if (s == NULL) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    struct timeval tmo = {.tv_sec = 10};
    if (amqp_socket_open_noblock(s, opt.host, opt.port, &tmo) != AMQP_STATUS_OK) {
        snprintf(err, errsz, "cannot connect to %s:%d", opt.host, opt.port);
        goto fail;
    }
    amqp_rpc_reply_t r =
        amqp_login(c, opt.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, opt.user, opt.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        snprintf(err, errsz, "login as %s refused", opt.user);
        goto fail;
    }
    amqp_channel_open(c, CHANNEL);
    if (rpc_ok(c, "channel.open", err, errsz) != 0)
        goto fail;
    return c;
fail:
    if (c)
        amqp_destroy_connection(c);
    return NULL;
}

static void close_conn(amqp_connection_state_t c)
{
    if (c == NULL)
        return;
    amqp_channel_close(c, CHANNEL, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

/* Wait for the confirm of delivery tag `tag`. 1 ack, 0 nack, -1 error. */
static int wait_confirm(struct worker *w, uint64_t tag)
{
    for (;;) {
        amqp_frame_t f;
        struct timeval tmo = {.tv_sec = ACK_WAIT_S};
        int rc = amqp_simple_wait_frame_noblock(w->conn, &f, &tmo);
        if (rc != AMQP_STATUS_OK) {
            snprintf(w->err, sizeof w->err, "waiting for the confirm: %s", amqp_error_string2(rc));
            return -1;
        }
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            if (a->delivery_tag == tag || (a->multiple && a->delivery_tag >= tag))
                return 1;
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *n = f.payload.method.decoded;
            if (n->delivery_tag == tag || (n->multiple && n->delivery_tag >= tag))
                return 0;
            break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
            snprintf(w->err, sizeof w->err, "the broker closed the channel");
            return -1;
        default:
            break;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->conn = open_conn(w->err, sizeof w->err);
    if (w->conn != NULL) {
        amqp_confirm_select(w->conn, CHANNEL);
        if (rpc_ok(w->conn, "confirm.select", w->err, sizeof w->err) != 0) {
            close_conn(w->conn);
            w->conn = NULL;
        }
    }
    pthread_barrier_wait(&start_line);
    if (w->conn == NULL)
        return NULL;
    amqp_bytes_t exchange = amqp_cstring_bytes(opt.exchange);
    amqp_bytes_t rkey = amqp_cstring_bytes(opt.routing_key);
    uint64_t tag = 0;
    for (size_t n = (size_t)w->index; !atomic_load(&stop_flag); n += (size_t)opt.threads) {
        const struct message *m = &msgs[n % n_msgs];
        amqp_basic_properties_t props;
        memset(&props, 0, sizeof props);
        props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                       AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        props.timestamp = (uint64_t)time(NULL);
        props.message_id = amqp_cstring_bytes(m->id);
        amqp_bytes_t body = {.len = m->len, .bytes = m->body};
        double t0 = mono_ms();
        if (amqp_basic_publish(w->conn, CHANNEL, exchange, rkey, 0, 0, &props, body) !=
            AMQP_STATUS_OK) {
            snprintf(w->err, sizeof w->err, "basic.publish failed");
            w->failed++;
            break;
        }
        tag++;
        int rc = wait_confirm(w, tag);
        if (rc < 0) {
            w->failed++;
            break;
        }
        if (rc == 0) {
            w->nacks++;
            continue;
        }
        if (w->n_lat == w->cap_lat) {
            size_t cap = w->cap_lat ? w->cap_lat * 2 : 8192;
            double *p = realloc(w->lat_ms, cap * sizeof *p);
            if (p == NULL)
                break;
            w->lat_ms = p;
            w->cap_lat = cap;
        }
        w->lat_ms[w->n_lat++] = mono_ms() - t0;
        amqp_maybe_release_buffers(w->conn);
    }
    return NULL;
}

/* Declare (or, with del, delete) the exchange and the queues. 0 or -1. */
static int topology(int del)
{
    char err[256], q[128];
    amqp_connection_state_t c = open_conn(err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "bare_publish: %s\n", err);
        return -1;
    }
    int rc = -1;
    if (!del) {
        amqp_exchange_declare(c, CHANNEL, amqp_cstring_bytes(opt.exchange),
                              amqp_cstring_bytes("topic"), 0, 0, 0, 0, amqp_empty_table);
        if (rpc_ok(c, "exchange.declare", err, sizeof err) != 0)
            goto out;
    }
    for (int k = 1; k <= opt.queues; k++) {
        snprintf(q, sizeof q, "%s.notify.%d", opt.exchange, k);
        if (del) {
            amqp_queue_delete(c, CHANNEL, amqp_cstring_bytes(q), 0, 0);
            if (rpc_ok(c, "queue.delete", err, sizeof err) != 0)
                goto out;
            continue;
        }
        amqp_queue_declare(c, CHANNEL, amqp_cstring_bytes(q), 0, 1, 0, 0, amqp_empty_table);
        if (rpc_ok(c, "queue.declare", err, sizeof err) != 0)
            goto out;
        amqp_queue_purge(c, CHANNEL, amqp_cstring_bytes(q));
        if (rpc_ok(c, "queue.purge", err, sizeof err) != 0)
            goto out;
        amqp_queue_bind(c, CHANNEL, amqp_cstring_bytes(q), amqp_cstring_bytes(opt.exchange),
                        amqp_cstring_bytes(opt.routing_key), amqp_empty_table);
        if (rpc_ok(c, "queue.bind", err, sizeof err) != 0)
            goto out;
    }
    if (del) {
        amqp_exchange_delete(c, CHANNEL, amqp_cstring_bytes(opt.exchange), 0);
        if (rpc_ok(c, "exchange.delete", err, sizeof err) != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "bare_publish: %s\n", err);
    close_conn(c);
    return rc;
}

static int load_messages(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "bare_publish: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, have = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *tab = strchr(line, '\t');
        if (tab == NULL || tab == line || tab[1] == '\0')
            continue;
        if (n_msgs == have) {
            have = have ? have * 2 : 4096;
            struct message *p = realloc(msgs, have * sizeof *p);
            if (p == NULL)
                break;
            msgs = p;
        }
        *tab = '\0';
        msgs[n_msgs].id = strdup(line);
        msgs[n_msgs].body = strdup(tab + 1);
        msgs[n_msgs].len = strlen(tab + 1);
        if (msgs[n_msgs].id == NULL || msgs[n_msgs].body == NULL)
            break;
        n_msgs++;
    }
    free(line);
    fclose(f);
    if (n_msgs == 0) {
        fprintf(stderr, "bare_publish: no \"<message_id>\\t<body>\" lines in %s\n", path);
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bare_publish --messages FILE [--host H] [--port P] [--user U]\n"
               "       [--password W] [--vhost V] [--threads N] [--seconds S] [--queues K]\n"
               "       [--exchange X] [--routing-key R]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--host") == 0)
            opt.host = v;
        else if (strcmp(a, "--port") == 0)
            opt.port = atoi(v);
        else if (strcmp(a, "--user") == 0)
            opt.user = v;
        else if (strcmp(a, "--password") == 0)
            opt.password = v;
        else if (strcmp(a, "--vhost") == 0)
            opt.vhost = v;
        else if (strcmp(a, "--messages") == 0)
            opt.messages = v;
        else if (strcmp(a, "--threads") == 0)
            opt.threads = atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            opt.seconds = atoi(v);
        else if (strcmp(a, "--queues") == 0)
            opt.queues = atoi(v);
        else if (strcmp(a, "--exchange") == 0)
            opt.exchange = v;
        else if (strcmp(a, "--routing-key") == 0)
            opt.routing_key = v;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (opt.messages == NULL || opt.threads < 1 || opt.threads > MAX_THREADS || opt.seconds < 1 ||
        opt.queues < 1 || opt.queues > MAX_QUEUES || opt.port < 1 || opt.port > 65535 ||
        strcmp(opt.exchange, "shop.events") == 0 || opt.exchange[0] == '\0') {
        usage(stderr);
        fprintf(stderr,
                "(--threads 1..%d, --seconds >= 1, --queues 1..%d, an exchange of its "
                "own, not shop.events)\n",
                MAX_THREADS, MAX_QUEUES);
        return 2;
    }
    if (load_messages(opt.messages) != 0 || topology(0) != 0)
        return 1;

    struct worker *ws = calloc((size_t)opt.threads, sizeof *ws);
    if (ws == NULL)
        return 1;
    pthread_barrier_init(&start_line, NULL, (unsigned)opt.threads + 1);
    for (int i = 0; i < opt.threads; i++) {
        ws[i].index = i;
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "bare_publish: cannot start thread %d\n", i);
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
    long failed = 0, nacks = 0;
    int reported = 0;
    for (int i = 0; i < opt.threads; i++) {
        pthread_join(ws[i].thread, NULL);
        if (ws[i].err[0] != '\0' && reported++ < 3)
            fprintf(stderr, "bare_publish: thread %d: %s\n", i, ws[i].err);
        total += ws[i].n_lat;
        failed += ws[i].failed + (ws[i].conn == NULL);
        nacks += ws[i].nacks;
    }
    double secs = (mono_ms() - t0) / 1e3;
    double *all = malloc((total + 1) * sizeof *all);
    if (all == NULL)
        return 1;
    size_t k = 0;
    for (int i = 0; i < opt.threads; i++) {
        memcpy(all + k, ws[i].lat_ms, ws[i].n_lat * sizeof *all);
        k += ws[i].n_lat;
        free(ws[i].lat_ms);
        close_conn(ws[i].conn);
    }
    qsort(all, total, sizeof *all, cmp_double);
    double p50 = total ? all[(size_t)((double)(total - 1) * 0.50)] : 0;
    double p99 = total ? all[(size_t)((double)(total - 1) * 0.99)] : 0;
    printf("bare: acks=%zu seconds=%.1f rate=%.0f p50_ms=%.2f p99_ms=%.2f failed=%ld nacks=%ld "
           "queues=%d\n",
           total, secs, (double)total / secs, p50, p99, failed, nacks, opt.queues);
    fflush(stdout);
    int cleaned = topology(1);
    free(all);
    free(ws);
    for (size_t i = 0; i < n_msgs; i++) {
        free(msgs[i].id);
        free(msgs[i].body);
    }
    free(msgs);
    pthread_barrier_destroy(&start_line);
    return total == 0 || cleaned != 0 ? 1 : 0;
}
