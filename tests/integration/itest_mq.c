/* Integration tests of mq.c against a real RabbitMQ.
 * Environment: ITEST_MQ_HOST, ITEST_MQ_PORT, ITEST_MQ_USER, ITEST_MQ_PASSWORD
 * (optional ITEST_MQ_VHOST); optional ITEST_MQ_STOP_CMD / ITEST_MQ_START_CMD
 * (shell commands that stop the broker, and start it and return once it
 * accepts connections) for the reconnect test.
 *
 * SHOP_MQ_QUEUE_TYPE=quorum declares every queue as a quorum queue (a fresh
 * broker: a queue's type cannot change).
 *
 * Scratch queues and a scratch exchange named after the pid are used, so that
 * no test message reaches the shop's own queues; they are deleted at the end.
 * The tests inspect the queues through a plain rabbitmq-c connection. */
#define SUITE_NAME    "mq"
#define SUITE_INIT    suite_init
#define SUITE_CLEANUP suite_cleanup
#include "testmain.h"

#include "mq.h"
#include "mq_bundle.h"
#include "mq_pipe.h"

#include <CUnit/CUnit.h>
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_TTL_MS 200

static struct mq_params g_p;
static mq_conn *g_c;
static char g_x[64];     /* scratch exchange */
static char g_q[24][64]; /* scratch queues */
static int g_nq;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

static void msleep(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------- plain amqp inspection */

static amqp_connection_state_t raw_open(void)
{
    amqp_connection_state_t st = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(st);
    struct timeval tv = {5, 0};
    if (s == NULL || amqp_socket_open_noblock(s, g_p.host, g_p.port, &tv) != AMQP_STATUS_OK) {
        amqp_destroy_connection(st);
        return NULL;
    }
    amqp_set_rpc_timeout(st, &tv);
    amqp_rpc_reply_t r =
        amqp_login(st, g_p.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, g_p.user, g_p.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_destroy_connection(st);
        return NULL;
    }
    amqp_channel_open(st, 1);
    if (amqp_get_rpc_reply(st).reply_type != AMQP_RESPONSE_NORMAL) {
        amqp_destroy_connection(st);
        return NULL;
    }
    return st;
}

static void raw_close(amqp_connection_state_t st)
{
    if (st == NULL)
        return;
    amqp_connection_close(st, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(st);
}

/* Messages in a queue, -1 when it does not exist. */
static long raw_count(const char *queue)
{
    amqp_connection_state_t st = raw_open();
    if (st == NULL)
        return -2;
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(st, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
    long n = ok != NULL ? (long)ok->message_count : -1;
    if (ok != NULL)
        raw_close(st);
    else
        amqp_destroy_connection(st);
    return n;
}

/* A message taken (auto-ack) from a queue. */
struct got {
    int ok;
    char body[512];
    char message_id[128];
    char content_type[64];
    char routing_key[128];
    int delivery_mode;
    long tries;
    char orig_rk[128];
    char reason[64];
};

static void copy_bytes(char *dst, size_t n, amqp_bytes_t b)
{
    size_t l = b.len < n - 1 ? b.len : n - 1;
    if (l > 0)
        memcpy(dst, b.bytes, l);
    dst[l] = '\0';
}

static const amqp_field_value_t *hdr(const amqp_basic_properties_t *p, const char *k)
{
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return NULL;
    for (int i = 0; i < p->headers.num_entries; i++)
        if (p->headers.entries[i].key.len == strlen(k) &&
            memcmp(p->headers.entries[i].key.bytes, k, strlen(k)) == 0)
            return &p->headers.entries[i].value;
    return NULL;
}

static struct got raw_get(const char *queue)
{
    struct got g;
    memset(&g, 0, sizeof g);
    g.tries = -1;
    amqp_connection_state_t st = raw_open();
    if (st == NULL)
        return g;
    amqp_rpc_reply_t r = amqp_basic_get(st, 1, amqp_cstring_bytes(queue), 1);
    if (r.reply_type == AMQP_RESPONSE_NORMAL && r.reply.id == AMQP_BASIC_GET_OK_METHOD) {
        const amqp_basic_get_ok_t *ok = r.reply.decoded;
        copy_bytes(g.routing_key, sizeof g.routing_key, ok->routing_key);
        amqp_message_t m;
        if (amqp_read_message(st, 1, &m, 0).reply_type == AMQP_RESPONSE_NORMAL) {
            g.ok = 1;
            copy_bytes(g.body, sizeof g.body, m.body);
            const amqp_basic_properties_t *p = &m.properties;
            if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
                copy_bytes(g.message_id, sizeof g.message_id, p->message_id);
            if (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
                copy_bytes(g.content_type, sizeof g.content_type, p->content_type);
            if (p->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG)
                g.delivery_mode = p->delivery_mode;
            const amqp_field_value_t *v = hdr(p, "x-shop-tries");
            if (v != NULL && v->kind == AMQP_FIELD_KIND_I32)
                g.tries = v->value.i32;
            if ((v = hdr(p, "x-shop-routing-key")) != NULL)
                copy_bytes(g.orig_rk, sizeof g.orig_rk, v->value.bytes);
            if ((v = hdr(p, "x-shop-parked-reason")) != NULL)
                copy_bytes(g.reason, sizeof g.reason, v->value.bytes);
            amqp_destroy_message(&m);
        }
    }
    raw_close(st);
    return g;
}

/* Take every message off queue (auto-ack), each message of a bundle counted
 * alone: seen(id, ud) for each. Returns how many, or -1 when the broker did
 * not answer; *bundles (may be NULL) gets how many deliveries were bundles. */
static int raw_drain(const char *queue, void (*seen)(const char *id, void *ud), void *ud,
                     int *bundles)
{
    amqp_connection_state_t st = raw_open();
    if (st == NULL)
        return -1;
    int n = 0, nb = 0;
    struct mq_bundle_part *parts = calloc(MQ_BUNDLE_MAX, sizeof *parts);
    for (;;) {
        amqp_rpc_reply_t r = amqp_basic_get(st, 1, amqp_cstring_bytes(queue), 1);
        if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD)
            break;
        amqp_message_t m;
        if (amqp_read_message(st, 1, &m, 0).reply_type != AMQP_RESPONSE_NORMAL)
            break;
        const amqp_basic_properties_t *p = &m.properties;
        char type[64] = "", id[128] = "";
        if (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG)
            copy_bytes(type, sizeof type, p->content_type);
        if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
            copy_bytes(id, sizeof id, p->message_id);
        if (strcmp(type, MQ_BUNDLE_TYPE) == 0) {
            char *body = malloc(m.body.len + 1);
            memcpy(body, m.body.bytes, m.body.len);
            int k = mq_bundle_split(body, m.body.len, parts, MQ_BUNDLE_MAX);
            CU_ASSERT(k > 0);
            for (int i = 0; i < k; i++, n++)
                seen(parts[i].message_id, ud);
            free(body);
            nb++;
        } else {
            seen(id, ud);
            n++;
        }
        amqp_destroy_message(&m);
    }
    free(parts);
    raw_close(st);
    if (bundles != NULL)
        *bundles = nb;
    return n;
}

static void raw_cleanup(void)
{
    amqp_connection_state_t st = raw_open();
    if (st == NULL)
        return;
    const char *sfx[] = {"", ".retry", ".parked"};
    for (int i = 0; i < g_nq; i++)
        for (int k = 0; k < 3; k++) {
            char q[96];
            snprintf(q, sizeof q, "%s%s", g_q[i], sfx[k]);
            amqp_queue_delete(st, 1, amqp_cstring_bytes(q), 0, 0);
        }
    if (g_x[0] != '\0')
        amqp_exchange_delete(st, 1, amqp_cstring_bytes(g_x), 0);
    raw_close(st);
}

/* A scratch queue bound to the scratch exchange with `key`. */
static const char *scratch_queue(const char *tag, const char *key)
{
    if (g_nq >= (int)(sizeof g_q / sizeof g_q[0]))
        return NULL;
    snprintf(g_q[g_nq], sizeof g_q[g_nq], "itest.%ld.%s", (long)getpid(), tag);
    const char *keys[] = {key, NULL};
    if (mq_declare_queue(g_c, g_x, g_q[g_nq], keys, TEST_TTL_MS) != MQ_OK)
        return NULL;
    return g_q[g_nq++];
}

/* ------------------------------------------------------------ the suite */

static int suite_init(void)
{
    g_p.host = env("ITEST_MQ_HOST");
    g_p.port = env("ITEST_MQ_PORT") ? (int)strtol(env("ITEST_MQ_PORT"), NULL, 10) : 5672;
    g_p.user = env("ITEST_MQ_USER");
    g_p.password = getenv("ITEST_MQ_PASSWORD");
    g_p.vhost = env("ITEST_MQ_VHOST") ? env("ITEST_MQ_VHOST") : "/";
    g_p.timeout_ms = 5000;
    g_p.heartbeat_s = 10;
    g_p.quorum = env("SHOP_MQ_QUEUE_TYPE") && strcmp(env("SHOP_MQ_QUEUE_TYPE"), "quorum") == 0;
    if (g_p.host == NULL || env("ITEST_MQ_PORT") == NULL || g_p.user == NULL ||
        g_p.password == NULL) {
        fprintf(stderr, "itest_mq: FAIL: set ITEST_MQ_HOST, ITEST_MQ_PORT, ITEST_MQ_USER and "
                        "ITEST_MQ_PASSWORD\n");
        return -1;
    }
    snprintf(g_x, sizeof g_x, "itest.%ld.x", (long)getpid());
    g_c = mq_open(&g_p);
    if (g_c == NULL) {
        fprintf(stderr, "itest_mq: FAIL: cannot connect to the broker at %s:%d\n", g_p.host,
                g_p.port);
        return -1;
    }
    return 0;
}

static int suite_cleanup(void)
{
    raw_cleanup();
    mq_close(g_c);
    g_c = NULL;
    return 0;
}

static void test_topology_twice(void)
{
    CU_ASSERT_EQUAL(mq_declare_topology(g_c), MQ_OK);
    CU_ASSERT_EQUAL(mq_declare_topology(g_c), MQ_OK);
    CU_ASSERT(raw_count("shop.audit") >= 0);
    CU_ASSERT(raw_count("shop.audit.retry") >= 0);
    CU_ASSERT(raw_count("shop.audit.parked") >= 0);
    CU_ASSERT_EQUAL(raw_count("shop.nosuchqueue"), -1);
    /* The scratch declarations are idempotent too. */
    const char *keys[] = {"itest.twice", NULL};
    char q[64];
    snprintf(q, sizeof q, "itest.%ld.twice", (long)getpid());
    CU_ASSERT_EQUAL(mq_declare_queue(g_c, g_x, q, keys, TEST_TTL_MS), MQ_OK);
    CU_ASSERT_EQUAL(mq_declare_queue(g_c, g_x, q, keys, TEST_TTL_MS), MQ_OK);
    snprintf(g_q[g_nq++], sizeof g_q[0], "%s", q);
    /* Another TTL for the same retry queue is refused, and the connection
     * recovers for the next call. */
    CU_ASSERT_EQUAL(mq_declare_queue(g_c, g_x, q, keys, TEST_TTL_MS + 1), MQ_ERR);
    CU_ASSERT_EQUAL(mq_ping(g_c), MQ_OK);
}

static void test_publish_confirm(void)
{
    const char *q = scratch_queue("pub", "itest.pub.*");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    const char *body = "{\"event\":\"order.paid\",\"amount\":\"12.50\",\"name\":\"caf\xc3\xa9\"}";
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.pub.one", "msg-0001", body, strlen(body)), MQ_OK);
    CU_ASSERT_EQUAL(raw_count(q), 1);
    struct got g = raw_get(q);
    CU_ASSERT_TRUE(g.ok);
    CU_ASSERT_STRING_EQUAL(g.body, body);
    CU_ASSERT_STRING_EQUAL(g.message_id, "msg-0001");
    CU_ASSERT_STRING_EQUAL(g.content_type, "application/json");
    CU_ASSERT_STRING_EQUAL(g.routing_key, "itest.pub.one");
    CU_ASSERT_EQUAL(g.delivery_mode, 2);

    /* Many confirmed publishes in a row. */
    double t0 = now_s();
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "bulk-%d", i);
        if (mq_publish(g_c, g_x, "itest.pub.bulk", id, "{}", 2) == MQ_OK)
            ok++;
    }
    printf("\n    200 confirmed publishes in %.0f ms ", (now_s() - t0) * 1e3);
    CU_ASSERT_EQUAL(ok, 200);
    CU_ASSERT_EQUAL(raw_count(q), 200);
}

static void test_unroutable(void)
{
    /* Mandatory: nothing is bound to this key. */
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.nobody.listens", "m1", "{}", 2), MQ_ERR);
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.nobody.listens", "m2", "{}", 2), MQ_ERR);
    /* A missing exchange closes the channel: MQ_ERR, and the next call reconnects. */
    CU_ASSERT_EQUAL(mq_publish(g_c, "itest.no.such.exchange", "k", "m3", "{}", 2), MQ_ERR);
    const char *q = scratch_queue("unr", "itest.unr");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.unr", "m4", "{}", 2), MQ_OK);
    CU_ASSERT_EQUAL(raw_count(q), 1);
    CU_ASSERT_EQUAL(mq_ping(g_c), MQ_OK);
}

static void test_publish_batch(void)
{
    const char *q = scratch_queue("batch", "itest.batch");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    struct mq_out m[4] = {
        {.exchange = g_x,
         .routing_key = "itest.batch",
         .message_id = "b1",
         .body = "{\"n\":1}",
         .len = 7},
        {.exchange = g_x,
         .routing_key = "itest.nobody.listens",
         .message_id = "b2",
         .body = "{}",
         .len = 2},
        {.exchange = g_x,
         .routing_key = "itest.batch",
         .message_id = "b3",
         .body = "{\"n\":3}",
         .len = 7},
        {.exchange = g_x,
         .routing_key = "itest.batch",
         .message_id = "b4",
         .body = "{\"n\":4}",
         .len = 7},
    };
    /* Each message gets its own answer: the unroutable one alone fails. */
    CU_ASSERT_EQUAL(mq_publish_batch(g_c, m, 4), MQ_ERR);
    CU_ASSERT_EQUAL(m[0].status, MQ_OK);
    CU_ASSERT_EQUAL(m[1].status, MQ_ERR);
    CU_ASSERT_EQUAL(m[2].status, MQ_OK);
    CU_ASSERT_EQUAL(m[3].status, MQ_OK);
    /* The three of one route went as one bundle, in order. */
    CU_ASSERT_EQUAL(raw_count(q), 1);
    struct got g = raw_get(q);
    CU_ASSERT_TRUE(g.ok);
    CU_ASSERT_STRING_EQUAL(g.content_type, MQ_BUNDLE_TYPE);
    CU_ASSERT_STRING_EQUAL(g.body, "2:b1,7:{\"n\":1},2:b3,7:{\"n\":3},2:b4,7:{\"n\":4},");
    CU_ASSERT_EQUAL(g.delivery_mode, 2);
    m[1].routing_key = "itest.batch";
    CU_ASSERT_EQUAL(mq_publish_batch(g_c, m, 4), MQ_OK);
    CU_ASSERT_EQUAL(raw_count(q), 1);
    g = raw_get(q);
    CU_ASSERT_STRING_EQUAL(g.body, "2:b1,7:{\"n\":1},2:b2,2:{},2:b3,7:{\"n\":3},2:b4,7:{\"n\":4},");
    /* A message alone goes as it is. */
    CU_ASSERT_EQUAL(mq_publish_batch(g_c, &m[2], 1), MQ_OK);
    g = raw_get(q);
    CU_ASSERT_STRING_EQUAL(g.content_type, "application/json");
    CU_ASSERT_STRING_EQUAL(g.message_id, "b3");
    CU_ASSERT_STRING_EQUAL(g.body, "{\"n\":3}");
    CU_ASSERT_EQUAL(mq_publish_batch(NULL, m, 1), MQ_GONE);
}

#define PIPE_THREADS 16
#define PIPE_EACH    50

struct pipe_arg {
    mq_pipe *pp;
    int id;
    int ok;
};

static void *pipe_main(void *arg)
{
    struct pipe_arg *a = arg;
    for (int i = 0; i < PIPE_EACH; i++) {
        char id[32], body[64];
        snprintf(id, sizeof id, "p-%d-%d", a->id, i);
        int n = snprintf(body, sizeof body, "{\"t\":%d,\"i\":%d}", a->id, i);
        if (mq_pipe_publish(a->pp, g_x, "itest.pipe", id, body, (size_t)n) == MQ_OK)
            a->ok++;
    }
    return NULL;
}

/* Mark message "p-<thread>-<k>" of test_pipe seen. */
static void pipe_seen(const char *id, void *ud)
{
    unsigned char *seen = ud;
    int t, k;
    if (sscanf(id, "p-%d-%d", &t, &k) == 2 && t >= 0 && t < PIPE_THREADS && k >= 0 && k < PIPE_EACH)
        seen[t * PIPE_EACH + k] = 1;
}

static void test_pipe(void)
{
    const char *q = scratch_queue("pipe", "itest.pipe");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    mq_pipe *pp = mq_pipe_start(&g_p, 2, 64, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
    pthread_t t[PIPE_THREADS];
    struct pipe_arg a[PIPE_THREADS];
    double t0 = now_s();
    for (int i = 0; i < PIPE_THREADS; i++) {
        a[i] = (struct pipe_arg){.pp = pp, .id = i};
        pthread_create(&t[i], NULL, pipe_main, &a[i]);
    }
    int ok = 0;
    for (int i = 0; i < PIPE_THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].ok;
    }
    printf("\n    %d confirmed publishes from %d threads in %.2f s ", ok, PIPE_THREADS,
           now_s() - t0);
    /* Every caller was answered MQ_OK only for a message the broker has. */
    CU_ASSERT_EQUAL(ok, PIPE_THREADS * PIPE_EACH);
    unsigned char seen[PIPE_THREADS * PIPE_EACH] = {0};
    int bundles = 0;
    CU_ASSERT_EQUAL(raw_drain(q, pipe_seen, seen, &bundles), PIPE_THREADS * PIPE_EACH);
    int distinct = 0;
    for (int i = 0; i < PIPE_THREADS * PIPE_EACH; i++)
        distinct += seen[i];
    CU_ASSERT_EQUAL(distinct, PIPE_THREADS * PIPE_EACH);
    printf("(%d bundles among the deliveries) ", bundles);
    /* A refused message is the caller's own failure, not the batch's. */
    CU_ASSERT_EQUAL(mq_pipe_publish(pp, g_x, "itest.nobody.listens", "pn", "{}", 2), MQ_ERR);
    CU_ASSERT_EQUAL(mq_pipe_publish(pp, g_x, "itest.pipe", "pl", "{}", 2), MQ_OK);
    CU_ASSERT_EQUAL(raw_count(q), 1);
    mq_pipe_stop(pp);
    CU_ASSERT_EQUAL(mq_pipe_publish(NULL, g_x, "itest.pipe", "px", "{}", 2), MQ_GONE);
}

/* ----------------------------------------------------- consuming helpers */

#define MAXREC 16

struct rec {
    pthread_mutex_t mu;
    volatile sig_atomic_t stop;
    int n;       /* handler calls */
    int stop_at; /* set stop after this many calls (0: never) */
    enum mq_verdict verdict;
    char rk[MAXREC][128];
    char mid[MAXREC][64];
    char body[MAXREC][256];
    size_t body_len[MAXREC];
    int redelivered[MAXREC];
};

static void rec_init(struct rec *r, int stop_at, enum mq_verdict v)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->stop_at = stop_at;
    r->verdict = v;
}

static int rec_count(struct rec *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static enum mq_verdict rec_handler(const struct mq_message *m, void *ud)
{
    struct rec *r = ud;
    pthread_mutex_lock(&r->mu);
    if (r->n < MAXREC) {
        snprintf(r->rk[r->n], sizeof r->rk[0], "%s", m->routing_key);
        snprintf(r->mid[r->n], sizeof r->mid[0], "%s", m->message_id);
        snprintf(r->body[r->n], sizeof r->body[0], "%s", m->body);
        r->body_len[r->n] = m->body_len;
        r->redelivered[r->n] = m->redelivered;
    }
    r->n++;
    if (r->stop_at > 0 && r->n >= r->stop_at)
        r->stop = 1;
    pthread_mutex_unlock(&r->mu);
    return r->verdict;
}

struct watchdog {
    struct rec *r;
    double deadline;
    volatile int done;
};

static void *watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    while (!w->done && now_s() < w->deadline)
        msleep(20);
    w->r->stop = 1;
    return NULL;
}

/* Consume q on conn until the handler stops it or timeout_s passed. */
static void consume_for(mq_conn *conn, const char *q, struct rec *r, double timeout_s)
{
    struct watchdog w = {.r = r, .deadline = now_s() + timeout_s, .done = 0};
    pthread_t t;
    pthread_create(&t, NULL, watchdog_main, &w);
    CU_ASSERT_EQUAL(mq_consume(conn, q, 10, rec_handler, r, &r->stop), MQ_OK);
    w.done = 1;
    pthread_join(t, NULL);
}

static void test_consume_roundtrip(void)
{
    const char *q = scratch_queue("rt", "itest.rt.#");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    const char *bodies[] = {"{\"n\":1}", "{\"n\":2,\"s\":\"\\\"quoted\\\" \xe2\x82\xac\"}",
                            "{\"n\":3}"};
    const char *keys[] = {"itest.rt.a", "itest.rt.b.c", "itest.rt.d"};
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "rt-%d", i);
        CU_ASSERT_EQUAL(mq_publish(g_c, g_x, keys[i], id, bodies[i], strlen(bodies[i])), MQ_OK);
    }
    struct rec r;
    rec_init(&r, 3, MQ_ACK);
    double t0 = now_s();
    consume_for(g_c, q, &r, 10);
    CU_ASSERT(now_s() - t0 < 5);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "rt-%d", i);
        CU_ASSERT_STRING_EQUAL(r.rk[i], keys[i]);
        CU_ASSERT_STRING_EQUAL(r.mid[i], id);
        CU_ASSERT_STRING_EQUAL(r.body[i], bodies[i]);
        CU_ASSERT_EQUAL(r.body_len[i], strlen(bodies[i]));
        CU_ASSERT_FALSE(r.redelivered[i]);
    }
    CU_ASSERT_EQUAL(raw_count(q), 0); /* all acked */
    /* The connection still publishes after consuming. */
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.rt.after", "rt-after", "{}", 2), MQ_OK);
    CU_ASSERT_EQUAL(raw_count(q), 1);
    /* stop is honoured within ~500 ms even when no message comes. */
    rec_init(&r, 0, MQ_ACK);
    r.stop = 0;
    struct got g = raw_get(q);
    CU_ASSERT_TRUE(g.ok);
    t0 = now_s();
    consume_for(g_c, q, &r, 0.3);
    CU_ASSERT(now_s() - t0 < 1.5);
    CU_ASSERT_EQUAL(r.n, 0);
}

/* What waits in q and in q.retry: main and retry messages. */
static void assert_left(const char *q, long main, long retry)
{
    char r[96];
    snprintf(r, sizeof r, "%s.retry", q);
    CU_ASSERT_EQUAL(raw_count(q), main);
    CU_ASSERT_EQUAL(raw_count(r), retry);
}

static void test_retry_then_park(void)
{
    const char *q = scratch_queue("retry", "itest.retry.#");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    const char *body = "{\"order\":42}";
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.retry.order", "retry-1", body, strlen(body)),
                    MQ_OK);
    struct rec r;
    rec_init(&r, MQ_MAX_TRIES + 1, MQ_RETRY);
    double t0 = now_s();
    consume_for(g_c, q, &r, 20);
    double took = now_s() - t0;
    printf("\n    %d deliveries (1 + %d retries) in %.1f s ", r.n, MQ_MAX_TRIES, took);
    CU_ASSERT_EQUAL_FATAL(r.n, MQ_MAX_TRIES + 1);
    CU_ASSERT(took >= MQ_MAX_TRIES * TEST_TTL_MS / 1000.0);
    for (int i = 0; i < r.n; i++) {
        CU_ASSERT_STRING_EQUAL(r.rk[i], "itest.retry.order");
        CU_ASSERT_STRING_EQUAL(r.mid[i], "retry-1");
        CU_ASSERT_STRING_EQUAL(r.body[i], body);
    }
    assert_left(q, 0, 0);
    char parked[96];
    snprintf(parked, sizeof parked, "%s.parked", q);
    CU_ASSERT_EQUAL(raw_count(parked), 1);
    struct got g = raw_get(parked);
    CU_ASSERT_TRUE(g.ok);
    CU_ASSERT_STRING_EQUAL(g.body, body);
    CU_ASSERT_STRING_EQUAL(g.message_id, "retry-1");
    CU_ASSERT_EQUAL(g.delivery_mode, 2);
    CU_ASSERT_EQUAL(g.tries, MQ_MAX_TRIES);
    CU_ASSERT_STRING_EQUAL(g.orig_rk, "itest.retry.order");
    CU_ASSERT_STRING_EQUAL(g.reason, "retries exhausted");
}

static void test_reject_parks(void)
{
    const char *q = scratch_queue("reject", "itest.reject");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.reject", "poison-1", "not json", 8), MQ_OK);
    struct rec r;
    rec_init(&r, 1, MQ_REJECT);
    consume_for(g_c, q, &r, 10);
    CU_ASSERT_EQUAL(r.n, 1);
    char parked[96];
    snprintf(parked, sizeof parked, "%s.parked", q);
    msleep(TEST_TTL_MS * 2); /* nothing may come back through the retry queue */
    CU_ASSERT_EQUAL(raw_count(q), 0);
    CU_ASSERT_EQUAL(raw_count(parked), 1);
    struct got g = raw_get(parked);
    CU_ASSERT_STRING_EQUAL(g.body, "not json");
    CU_ASSERT_STRING_EQUAL(g.reason, "rejected");
    CU_ASSERT_EQUAL(g.tries, 0);
}

static enum mq_verdict die_handler(const struct mq_message *m, void *ud)
{
    (void)m;
    (void)ud;
    _exit(0); /* the consumer dies before it acks */
}

static void test_unacked_redelivered(void)
{
    const char *q = scratch_queue("redeliver", "itest.redeliver");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.redeliver", "again-1", "{\"x\":1}", 7), MQ_OK);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        alarm(20);
        mq_conn *cc = mq_open(&g_p);
        volatile sig_atomic_t stop = 0;
        if (cc != NULL)
            mq_consume(cc, q, 1, die_handler, NULL, &stop);
        _exit(1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* the handler ran */
    struct rec r;
    rec_init(&r, 1, MQ_ACK);
    consume_for(g_c, q, &r, 10);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    CU_ASSERT_STRING_EQUAL(r.mid[0], "again-1");
    CU_ASSERT_STRING_EQUAL(r.body[0], "{\"x\":1}");
    CU_ASSERT_TRUE(r.redelivered[0]);
    CU_ASSERT_EQUAL(raw_count(q), 0);
}

static void test_ping(void)
{
    CU_ASSERT_EQUAL(mq_ping(g_c), MQ_OK);
    CU_ASSERT_EQUAL(mq_ensure(g_c), MQ_OK);
    CU_ASSERT_EQUAL(mq_ping(NULL), MQ_GONE);
    CU_ASSERT_EQUAL(mq_publish(NULL, g_x, "k", "m", "{}", 2), MQ_GONE);
    /* A broker that is not there. */
    struct mq_params bad = g_p;
    bad.port = 1;
    bad.timeout_ms = 1000;
    CU_ASSERT_PTR_NULL(mq_open(&bad));
    /* Wrong credentials. */
    bad = g_p;
    bad.password = "wrong-password";
    CU_ASSERT_PTR_NULL(mq_open(&bad));
}

struct consumer_thread {
    mq_conn *c;
    const char *q;
    struct rec r;
};

static void *consumer_main(void *arg)
{
    struct consumer_thread *ct = arg;
    mq_consume(ct->c, ct->q, 10, rec_handler, &ct->r, &ct->r.stop);
    return NULL;
}

static int wait_count(struct rec *r, int n, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (rec_count(r) < n && now_s() < end)
        msleep(50);
    return rec_count(r) >= n;
}

static void test_broker_restart(void)
{
    const char *stop_cmd = env("ITEST_MQ_STOP_CMD");
    const char *start_cmd = env("ITEST_MQ_START_CMD");
    if (stop_cmd == NULL || start_cmd == NULL) {
        printf("\n    (ITEST_MQ_STOP_CMD / ITEST_MQ_START_CMD not set: skipped) ");
        return;
    }
    const char *q = scratch_queue("restart", "itest.restart");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    static struct consumer_thread ct;
    ct.c = mq_open(&g_p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ct.c);
    ct.q = q;
    rec_init(&ct.r, 0, MQ_ACK);
    pthread_t t;
    pthread_create(&t, NULL, consumer_main, &ct);

    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.restart", "before", "{\"when\":1}", 10), MQ_OK);
    CU_ASSERT_TRUE(wait_count(&ct.r, 1, 5));
    CU_ASSERT_EQUAL(mq_ping(g_c), MQ_OK);

    /* Connections that stay idle across the restart. */
    mq_conn *idle_pub = mq_open(&g_p);
    mq_conn *idle_ping = mq_open(&g_p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(idle_pub);
    CU_ASSERT_PTR_NOT_NULL_FATAL(idle_ping);

    CU_ASSERT_EQUAL(system(stop_cmd), 0);
    double t0 = now_s();
    CU_ASSERT_NOT_EQUAL(mq_ping(g_c), MQ_OK);
    CU_ASSERT_NOT_EQUAL(mq_publish(g_c, g_x, "itest.restart", "down", "{}", 2), MQ_OK);
    CU_ASSERT_NOT_EQUAL(mq_ensure(g_c), MQ_OK);
    CU_ASSERT(now_s() - t0 < 3);

    CU_ASSERT_EQUAL(system(start_cmd), 0);
    /* The same connection object publishes again. */
    CU_ASSERT_EQUAL(mq_publish(g_c, g_x, "itest.restart", "after", "{\"when\":2}", 10), MQ_OK);
    CU_ASSERT_EQUAL(mq_ping(g_c), MQ_OK);
    /* A connection that died while idle is replaced within the same call. */
    CU_ASSERT_EQUAL(mq_publish(idle_pub, g_x, "itest.restart", "after-idle", "{}", 2), MQ_OK);
    CU_ASSERT_EQUAL(mq_ping(idle_ping), MQ_OK);
    mq_close(idle_pub);
    mq_close(idle_ping);
    /* The consumer reconnected by itself and gets the new messages. */
    double t1 = now_s();
    CU_ASSERT_TRUE(wait_count(&ct.r, 3, 15));
    printf("\n    consumer resumed %.1f s after the broker came back ", now_s() - t1);
    ct.r.stop = 1;
    pthread_join(t, NULL);
    pthread_mutex_lock(&ct.r.mu);
    CU_ASSERT_STRING_EQUAL(ct.r.mid[0], "before");
    CU_ASSERT_EQUAL(ct.r.n, 3);
    CU_ASSERT_STRING_EQUAL(ct.r.mid[1], "after");
    CU_ASSERT_STRING_EQUAL(ct.r.mid[2], "after-idle");
    pthread_mutex_unlock(&ct.r.mu);
    mq_close(ct.c);
    CU_ASSERT_EQUAL(raw_count(q), 0);
}

/* Batched consuming: the hooks count, the handler records. */
#define BATCH_N 12

struct bstat {
    struct rec r;
    int open;       /* between begin and end */
    int in_batch;   /* handler calls in the open batch */
    int largest;    /* largest batch */
    int committed;  /* messages of committed batches */
    int singles;    /* handler calls outside a batch (one by one) */
    int fail_first; /* the first batch does not commit */
    int failed;     /* messages of the batch that did not commit */
    int batches, ends;
    int use_all;   /* a batch handler (mq_batch.all) takes the batches */
    int bundled;   /* the messages are published as one bundle */
    int all_calls; /* its calls */
};

static void bstat_check_done(struct bstat *s)
{
    if (s->committed + s->singles >= BATCH_N)
        s->r.stop = 1;
}

static int b_begin(void *ud)
{
    struct bstat *s = ud;
    s->open = 1;
    s->in_batch = 0;
    s->batches++;
    return 0;
}

static int b_end(void *ud, int commit)
{
    struct bstat *s = ud;
    s->open = 0;
    s->ends++;
    if (s->in_batch > s->largest)
        s->largest = s->in_batch;
    if (!commit)
        return -1;
    if (s->fail_first && s->ends == 1 && !s->use_all) {
        s->failed = s->in_batch;
        return -1;
    }
    s->committed += s->in_batch;
    bstat_check_done(s);
    return 0;
}

static enum mq_verdict b_handler(const struct mq_message *m, void *ud)
{
    struct bstat *s = ud;
    if (s->r.n == 0)
        msleep(100); /* the others arrive meanwhile: the next batch takes them all */
    if (s->open)
        s->in_batch++;
    else
        s->singles++;
    enum mq_verdict v = rec_handler(m, &s->r);
    if (!s->open)
        bstat_check_done(s);
    return v;
}

/* The batch handler: every message of the batch at once, all acked; the
 * first call fails when fail_first (the batch is then redone alone). */
static int b_all(const struct mq_message *const *ms, size_t n, enum mq_verdict *v, void *ud)
{
    struct bstat *s = ud;
    s->all_calls++;
    if (s->fail_first && s->all_calls == 1) {
        s->failed = (int)n;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        v[i] = MQ_ACK;
        if (ms[i]->message_id[0] == '\0')
            v[i] = MQ_REJECT;
    }
    s->in_batch += (int)n;
    return 0;
}

static void run_batched(const char *q, struct bstat *s)
{
    char ids[BATCH_N][32];
    struct mq_out out[BATCH_N];
    for (int i = 0; i < BATCH_N; i++) {
        snprintf(ids[i], sizeof ids[i], "bc-%d", i);
        out[i] = (struct mq_out){g_x, q + strlen(q) - 2, ids[i], "{}", 2, MQ_ERR};
        if (!s->bundled)
            CU_ASSERT_EQUAL(mq_publish(g_c, g_x, q + strlen(q) - 2, ids[i], "{}", 2), MQ_OK);
    }
    if (s->bundled)
        CU_ASSERT_EQUAL(mq_publish_batch(g_c, out, BATCH_N), MQ_OK);
    struct mq_batch b = {
        .max = BATCH_N, .begin = b_begin, .end = b_end, .all = s->use_all ? b_all : NULL, .ud = s};
    struct watchdog w = {.r = &s->r, .deadline = now_s() + 10, .done = 0};
    pthread_t t;
    pthread_create(&t, NULL, watchdog_main, &w);
    CU_ASSERT_EQUAL(mq_consume_batched(g_c, q, BATCH_N, b_handler, s, &b, &s->r.stop), MQ_OK);
    w.done = 1;
    pthread_join(t, NULL);
}

/* A fresh bstat whose handler acks, and a scratch queue bound with key tag. */
static const char *batch_setup(const char *tag, struct bstat *s)
{
    memset(s, 0, sizeof *s);
    rec_init(&s->r, 0, MQ_ACK);
    return scratch_queue(tag, tag);
}

static void test_consume_batched(void)
{
    struct bstat s;
    const char *q = batch_setup("b1", &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    run_batched(q, &s);
    printf("\n    %d messages in %d batches, the largest %d ", s.r.n, s.batches, s.largest);
    /* Each message once, committed in batches (a delivery that came alone
     * is handled alone), none left in the queue. */
    CU_ASSERT_EQUAL(s.r.n, BATCH_N);
    CU_ASSERT_EQUAL(s.committed + s.singles, BATCH_N);
    CU_ASSERT_TRUE(s.committed > 1);
    CU_ASSERT_TRUE(s.largest > 1);
    CU_ASSERT_TRUE(s.batches < BATCH_N);
    CU_ASSERT_EQUAL(raw_count(q), 0);
}

static void test_consume_batch_fails(void)
{
    struct bstat s;
    const char *q = batch_setup("b2", &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    s.fail_first = 1;
    run_batched(q, &s);
    printf("\n    a batch of %d not committed: handled again one by one ", s.failed);
    /* The batch that did not commit is done again, each message alone, and
     * every message ends acked. */
    CU_ASSERT_TRUE(s.failed > 1);
    CU_ASSERT_TRUE(s.singles >= s.failed);
    CU_ASSERT_EQUAL(s.committed + s.singles, BATCH_N);
    CU_ASSERT_EQUAL(s.r.n, BATCH_N + s.failed);
    CU_ASSERT_EQUAL(raw_count(q), 0);
}

static void batch_handler_run(const char *tag, int fail_first)
{
    struct bstat s;
    const char *q = batch_setup(tag, &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    s.use_all = 1;
    s.fail_first = fail_first;
    run_batched(q, &s);
    printf("\n    %s: %d batch handler calls, %d messages committed through it, %d alone ",
           fail_first ? "its first batch fails" : "all well", s.all_calls, s.committed, s.singles);
    /* The batch handler replaces the per-message handler inside a batch (the
     * latter runs only for a message that came alone, or to redo a batch the
     * batch handler failed); every message is acked. */
    CU_ASSERT_TRUE(s.all_calls >= 1);
    CU_ASSERT_EQUAL(s.committed + s.singles, BATCH_N);
    CU_ASSERT_EQUAL(s.r.n, s.singles);
    if (fail_first) {
        CU_ASSERT_TRUE(s.failed > 1);
        CU_ASSERT_TRUE(s.singles >= s.failed);
    } else {
        CU_ASSERT_TRUE(s.committed > 1);
    }
    CU_ASSERT_EQUAL(raw_count(q), 0);
}

static void test_consume_batch_handler(void)
{
    batch_handler_run("b3", 0);
    batch_handler_run("b4", 1);
}

/* ------------------------------------------------------------- bundles */

static void test_bundle_batch(void)
{
    struct bstat s;
    const char *q = batch_setup("b5", &s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    s.use_all = 1;
    s.bundled = 1;
    run_batched(q, &s);
    /* One delivery: the batch handler sees its messages, in one batch. */
    CU_ASSERT_EQUAL(s.all_calls, 1);
    CU_ASSERT_EQUAL(s.committed, BATCH_N);
    CU_ASSERT_EQUAL(s.singles, 0);
    CU_ASSERT_EQUAL(raw_count(q), 0);
}

/* By message id: "bu-ok" acked, "bu-again" retried the first time, "bu-bad"
 * rejected. */
static enum mq_verdict bundle_handler(const struct mq_message *m, void *ud)
{
    struct rec *r = ud;
    int first = 1;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n && i < MAXREC; i++)
        first = first && strcmp(r->mid[i], m->message_id) != 0;
    pthread_mutex_unlock(&r->mu);
    rec_handler(m, r);
    if (strcmp(m->message_id, "bu-bad") == 0)
        return MQ_REJECT;
    return strcmp(m->message_id, "bu-again") == 0 && first ? MQ_RETRY : MQ_ACK;
}

static void test_bundle_parts_alone(void)
{
    const char *q = scratch_queue("bu", "itest.bu");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    struct mq_out m[3] = {
        {g_x, "itest.bu", "bu-ok", "{\"n\":1}", 7, MQ_ERR},
        {g_x, "itest.bu", "bu-again", "{\"n\":2}", 7, MQ_ERR},
        {g_x, "itest.bu", "bu-bad", "{\"n\":3}", 7, MQ_ERR},
    };
    CU_ASSERT_EQUAL_FATAL(mq_publish_batch(g_c, m, 3), MQ_OK);
    CU_ASSERT_EQUAL(raw_count(q), 1);
    struct rec r;
    rec_init(&r, 4, MQ_ACK);
    struct watchdog w = {.r = &r, .deadline = now_s() + 10, .done = 0};
    pthread_t t;
    pthread_create(&t, NULL, watchdog_main, &w);
    CU_ASSERT_EQUAL(mq_consume(g_c, q, 10, bundle_handler, &r, &r.stop), MQ_OK);
    w.done = 1;
    pthread_join(t, NULL);
    /* Each message of the bundle was handled as if it had come alone; the
     * retried one came back alone, through the retry queue. */
    CU_ASSERT_EQUAL_FATAL(r.n, 4);
    CU_ASSERT_STRING_EQUAL(r.mid[0], "bu-ok");
    CU_ASSERT_STRING_EQUAL(r.body[0], "{\"n\":1}");
    CU_ASSERT_EQUAL(r.body_len[0], 7);
    CU_ASSERT_STRING_EQUAL(r.rk[0], "itest.bu");
    CU_ASSERT_STRING_EQUAL(r.mid[1], "bu-again");
    CU_ASSERT_STRING_EQUAL(r.mid[2], "bu-bad");
    CU_ASSERT_STRING_EQUAL(r.body[2], "{\"n\":3}");
    CU_ASSERT_STRING_EQUAL(r.mid[3], "bu-again");
    CU_ASSERT_STRING_EQUAL(r.body[3], "{\"n\":2}");
    CU_ASSERT_STRING_EQUAL(r.rk[3], "itest.bu");
    assert_left(q, 0, 0);
    char parked[96];
    snprintf(parked, sizeof parked, "%s.parked", q);
    /* Only the rejected message is parked, alone, as it was published. */
    CU_ASSERT_EQUAL(raw_count(parked), 1);
    struct got g = raw_get(parked);
    CU_ASSERT_STRING_EQUAL(g.message_id, "bu-bad");
    CU_ASSERT_STRING_EQUAL(g.content_type, "application/json");
    CU_ASSERT_STRING_EQUAL(g.body, "{\"n\":3}");
    CU_ASSERT_STRING_EQUAL(g.orig_rk, "itest.bu");
    CU_ASSERT_STRING_EQUAL(g.reason, "rejected");
    CU_ASSERT_EQUAL(g.delivery_mode, 2);
}

static void test_bundle_malformed_parked(void)
{
    const char *q = scratch_queue("bm", "itest.bm");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    amqp_connection_state_t st = raw_open();
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    amqp_basic_properties_t p = {._flags =
                                     AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG,
                                 .content_type = amqp_cstring_bytes(MQ_BUNDLE_TYPE),
                                 .delivery_mode = AMQP_DELIVERY_PERSISTENT};
    CU_ASSERT_EQUAL(amqp_basic_publish(st, 1, amqp_cstring_bytes(g_x),
                                       amqp_cstring_bytes("itest.bm"), 0, 0, &p,
                                       amqp_cstring_bytes("5:short,")),
                    AMQP_STATUS_OK);
    raw_close(st);
    for (int i = 0; i < 50 && raw_count(q) < 1; i++)
        msleep(20);
    struct rec r;
    rec_init(&r, 0, MQ_ACK);
    consume_for(g_c, q, &r, 1.5);
    /* The handler never saw it; it waits whole in the parked queue. */
    CU_ASSERT_EQUAL(r.n, 0);
    char parked[96];
    snprintf(parked, sizeof parked, "%s.parked", q);
    CU_ASSERT_EQUAL(raw_count(q), 0);
    CU_ASSERT_EQUAL(raw_count(parked), 1);
    struct got g = raw_get(parked);
    CU_ASSERT_STRING_EQUAL(g.body, "5:short,");
    CU_ASSERT_STRING_EQUAL(g.content_type, MQ_BUNDLE_TYPE);
    CU_ASSERT_STRING_EQUAL(g.reason, "rejected");
}

/* mq_hosts: the first node is a port nothing listens on. */
static char g_hosts[160];

static struct mq_params two_nodes(void)
{
    struct mq_params p = g_p;
    snprintf(g_hosts, sizeof g_hosts, "127.0.0.1:1,%s:%d", g_p.host, g_p.port);
    p.hosts = g_hosts;
    p.host = "127.0.0.1";
    p.port = 1; /* ignored: the list wins */
    p.timeout_ms = 1000;
    return p;
}

static void test_hosts_first_dead(void)
{
    struct mq_params p = two_nodes();
    double t0 = now_s();
    mq_conn *c = mq_open(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(now_s() - t0 < 3);
    const char *q = scratch_queue("hosts", "itest.hosts");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(mq_publish(c, g_x, "itest.hosts", "h-1", "{}", 2), MQ_OK);
    CU_ASSERT_EQUAL(raw_count(q), 1);
    mq_close(c);
    /* A bad list is refused. */
    p.hosts = "127.0.0.1:1,";
    CU_ASSERT_PTR_NULL(mq_open(&p));
}

/* A publisher of a stream of messages, each waiting for its confirm. */
#define STREAM_MAX 20000
struct streamer {
    mq_conn *c;
    volatile int stop;
    int sent, confirmed, failed;
    unsigned char ok[STREAM_MAX]; /* 1: confirmed */
};

static void *streamer_main(void *arg)
{
    struct streamer *s = arg;
    while (!s->stop && s->sent < STREAM_MAX) {
        char id[32];
        snprintf(id, sizeof id, "s-%d", s->sent);
        enum mq_status st = mq_publish(s->c, g_x, "itest.stream", id, "{}", 2);
        if (st == MQ_OK) {
            s->ok[s->sent] = 1;
            s->confirmed++;
        } else {
            s->failed++;
            msleep(50);
        }
        s->sent++;
        msleep(2);
    }
    return NULL;
}

/* Mark message "s-<k>" of the stream seen. */
static void stream_seen(const char *id, void *ud)
{
    unsigned char *seen = ud;
    long k = strncmp(id, "s-", 2) == 0 ? strtol(id + 2, NULL, 10) : -1;
    if (k >= 0 && k < STREAM_MAX)
        seen[k] = 1;
}

static void test_hosts_stream_across_restart(void)
{
    const char *stop_cmd = env("ITEST_MQ_STOP_CMD");
    const char *start_cmd = env("ITEST_MQ_START_CMD");
    if (stop_cmd == NULL || start_cmd == NULL) {
        printf("\n    (ITEST_MQ_STOP_CMD / ITEST_MQ_START_CMD not set: skipped) ");
        return;
    }
    const char *q = scratch_queue("stream", "itest.stream");
    const char *cq = scratch_queue("streamc", "itest.stream");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cq);
    struct mq_params p = two_nodes();
    static struct streamer s;
    memset(&s, 0, sizeof s);
    s.c = mq_open(&p);
    static struct consumer_thread ct;
    ct.c = mq_open(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ct.c);
    ct.q = cq;
    rec_init(&ct.r, 0, MQ_ACK);
    pthread_t tp, tc;
    pthread_create(&tc, NULL, consumer_main, &ct);
    pthread_create(&tp, NULL, streamer_main, &s);
    msleep(500);
    CU_ASSERT_EQUAL(system(stop_cmd), 0);
    CU_ASSERT_EQUAL(system(start_cmd), 0);
    msleep(1500);
    s.stop = 1;
    pthread_join(tp, NULL);
    /* The consumer came back by itself, on the live node of its list. */
    CU_ASSERT_TRUE(wait_count(&ct.r, s.confirmed, 20));
    ct.r.stop = 1;
    pthread_join(tc, NULL);
    mq_close(ct.c);
    mq_close(s.c);
    static unsigned char seen[STREAM_MAX];
    memset(seen, 0, sizeof seen);
    int in_queue = raw_drain(q, stream_seen, seen, NULL);
    int lost = 0;
    for (int i = 0; i < s.sent; i++)
        if (s.ok[i] && !seen[i])
            lost++;
    printf("\n    %d published, %d confirmed, %d failed, %d in the queue, %d confirmed and lost, "
           "%d consumed ",
           s.sent, s.confirmed, s.failed, in_queue, lost, rec_count(&ct.r));
    CU_ASSERT_TRUE(s.confirmed > 10);
    CU_ASSERT_TRUE(s.failed > 0); /* some were published while the broker was down */
    CU_ASSERT_EQUAL(lost, 0);
    CU_ASSERT_TRUE(in_queue >= s.confirmed);
}

static const struct test_case TESTS[] = {
    {"topology declared twice", test_topology_twice},
    {"publish waits for the confirm", test_publish_confirm},
    {"unroutable / refused publish is MQ_ERR", test_unroutable},
    {"batch publish: one confirm round, a status each", test_publish_batch},
    {"pipe: many threads share one confirm-batching publisher", test_pipe},
    {"batched consuming: one commit, one ack for many", test_consume_batched},
    {"batched consuming: a batch that fails is redone one by one", test_consume_batch_fails},
    {"batched consuming: a batch handler takes whole batches", test_consume_batch_handler},
    {"bundle: its messages go through one batch", test_bundle_batch},
    {"bundle: each message is handled, retried and parked alone", test_bundle_parts_alone},
    {"bundle: one that does not split is parked whole", test_bundle_malformed_parked},
    {"publish + consume round trip", test_consume_roundtrip},
    {"MQ_RETRY goes through .retry, then .parked", test_retry_then_park},
    {"MQ_REJECT parks at once", test_reject_parks},
    {"unacked message is redelivered", test_unacked_redelivered},
    {"ping", test_ping},
    {"broker restart: ping fails, publish and consume resume", test_broker_restart},
    {"mq_hosts: a dead first node, the second answers", test_hosts_first_dead},
    {"mq_hosts: a stream of publishes across a broker restart loses no confirmed message",
     test_hosts_stream_across_restart},
    {NULL, NULL},
};

#include "testmain.h"
