/* mq: RabbitMQ through rabbitmq-c 0.11.
 *
 * Channel 1 of every connection is in confirm mode and carries publishing and
 * the synchronous declarations; mq_consume consumes on channel 2 of the same
 * connection. The retry / park copies that mq_consume publishes go through a
 * second connection of its own (c->aux): waiting for their confirm on the
 * consuming connection would read (and lose) the deliveries that the prefetch
 * lets the broker push meanwhile.
 *
 * Channel 3 reads parked queues for the operators' console (mq_parked_list,
 * mq_parked_take): basic.get without ack, then the channel is closed, and
 * the broker puts back whatever was got and not acked. Nothing is taken off
 * a parked queue until it is acked, so a crash or a lost connection at any
 * point leaves every message where it was.
 *
 * Any failure that leaves the protocol state unknown (a socket error, a
 * confirm that timed out, a channel or connection closed by the broker) drops
 * the whole connection; the next call connects again, to the next node of
 * the list (mq_params.hosts) first: the node that failed may be dead, and
 * any node of a cluster serves every queue. */
#include "mq.h"

#include "buf.h"
#include "hostlist.h"
#include "log.h"
#include "metrics.h"
#include "mq_bundle.h"
#include "topology.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PUB_CHANNEL     1
#define CONSUME_CHANNEL 2
#define PARK_CHANNEL    3 /* the operators' look into parked queues */
#define FRAME_MAX       131072
#define DEFAULT_TMO_MS  5000
#define BACKOFF_MIN_MS  200
#define BACKOFF_MAX_MS  5000
#define POLL_MS         500

#define HDR_TRIES  "x-shop-tries"
#define HDR_RKEY   "x-shop-routing-key"
#define HDR_REASON "x-shop-parked-reason"

struct mq_conn {
    struct mq_params p;         /* owned copies */
    amqp_connection_state_t st; /* NULL while disconnected */
    uint64_t next_tag;          /* publish sequence number of channel 1 */
    unsigned gen;               /* bumped on every connect */
    struct mq_conn *aux;        /* mq_consume's publisher of retries */
    struct hostlist nodes;      /* from p.hosts, or p.host:p.port */
    size_t cur;                 /* the node connected to, or to try first */
    char failed[320];           /* "host:port failed: why" since the last connect, or "" */
};

/* ------------------------------------------------------------------ util */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* shop_consumer_messages_total{queue,result}: n deliveries of queue settled. */
static void count_settled(const char *queue, const char *result, uint64_t n)
{
    char labels[METRICS_LABELS_MAX];
    if (metrics_labels(labels, sizeof labels, "consumer", queue, "result", result, METRICS_END) ==
        0)
        metrics_count(METRIC_CONSUMER_MESSAGES, labels, n);
}

static struct timeval ms_tv(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* Sleep ms, in slices, returning early when *stop is set. */
static void sleep_ms(int ms, const volatile sig_atomic_t *stop)
{
    while (ms > 0 && !(stop != NULL && *stop)) {
        int s = ms > 100 ? 100 : ms;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)s * 1000000L};
        nanosleep(&ts, NULL);
        ms -= s;
    }
}

static int tmo_ms(const mq_conn *c)
{
    return c->p.timeout_ms > 0 ? c->p.timeout_ms : DEFAULT_TMO_MS;
}

static amqp_bytes_t bytes_of(const char *s)
{
    return amqp_cstring_bytes(s != NULL ? s : "");
}

static char *dup_bytes(amqp_bytes_t b)
{
    char *s = malloc(b.len + 1);
    if (s != NULL) {
        if (b.len > 0)
            memcpy(s, b.bytes, b.len);
        s[b.len] = '\0';
    }
    return s;
}

/* Describe a failed RPC reply. */
static void reply_text(amqp_rpc_reply_t r, char *buf, size_t n)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(buf, n, "ok");
        break;
    case AMQP_RESPONSE_NONE:
        snprintf(buf, n, "no reply");
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(buf, n, "%s", amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const amqp_connection_close_t *m = r.reply.decoded;
            snprintf(buf, n, "connection closed by the broker: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *m = r.reply.decoded;
            snprintf(buf, n, "channel closed by the broker: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        } else {
            snprintf(buf, n, "server exception, method 0x%08x", (unsigned)r.reply.id);
        }
        break;
    }
}

/* ------------------------------------------------------------ connection */

static void params_free(struct mq_params *p)
{
    free((char *)p->host);
    free((char *)p->hosts);
    free((char *)p->user);
    free((char *)p->password);
    free((char *)p->vhost);
    memset(p, 0, sizeof *p);
}

static int params_copy(struct mq_params *d, const struct mq_params *s)
{
    *d = *s;
    d->host = strdup(s->host ? s->host : "127.0.0.1");
    d->hosts = strdup(s->hosts ? s->hosts : "");
    d->user = strdup(s->user ? s->user : "guest");
    d->password = strdup(s->password ? s->password : "");
    d->vhost = strdup(s->vhost && *s->vhost ? s->vhost : "/");
    if (d->host == NULL || d->hosts == NULL || d->user == NULL || d->password == NULL ||
        d->vhost == NULL) {
        params_free(d);
        return -1;
    }
    if (d->port <= 0)
        d->port = 5672;
    return 0;
}

/* Forget the connection without talking to the broker (it may be dead).
 * The next connect starts at the following node. */
static void conn_drop(mq_conn *c)
{
    if (c->st != NULL) {
        amqp_destroy_connection(c->st);
        c->st = NULL;
        const struct hostlist_entry *h = &c->nodes.e[c->cur];
        snprintf(c->failed, sizeof c->failed, "%s:%d failed: connection lost", h->host, h->port);
        c->cur = (c->cur + 1) % c->nodes.n;
    }
}

/* Check the reply of the last RPC; on failure log, drop and return
 * MQ_ERR (the broker refused) or MQ_GONE. */
static enum mq_status rpc_check(mq_conn *c, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c->st);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return MQ_OK;
    char msg[256];
    reply_text(r, msg, sizeof msg);
    enum mq_status rc = MQ_GONE;
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        log_error("mq: %s refused: %s", what, msg);
        rc = MQ_ERR;
    } else {
        log_warn("mq: %s failed: %s", what, msg);
    }
    conn_drop(c);
    return rc;
}

/* Open and log in to one node; the connection in *out. */
static int connect_node(mq_conn *c, const struct hostlist_entry *h, amqp_connection_state_t *out,
                        char *why, size_t whylen)
{
    amqp_connection_state_t st = amqp_new_connection();
    amqp_socket_t *sock = st != NULL ? amqp_tcp_socket_new(st) : NULL;
    if (sock == NULL) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    struct timeval tv = ms_tv(tmo_ms(c));
    int rc = amqp_socket_open_noblock(sock, h->host, h->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        snprintf(why, whylen, "%s", amqp_error_string2(rc));
        log_warn("mq: cannot connect to %s:%d: %s", h->host, h->port, why);
        goto fail;
    }
    amqp_set_handshake_timeout(st, &tv);
    amqp_set_rpc_timeout(st, &tv);
    amqp_rpc_reply_t r =
        amqp_login(st, c->p.vhost, 0, FRAME_MAX, c->p.heartbeat_s > 0 ? c->p.heartbeat_s : 0,
                   AMQP_SASL_METHOD_PLAIN, c->p.user, c->p.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        reply_text(r, why, whylen);
        log_warn("mq: login to %s:%d as %s failed: %s", h->host, h->port, c->p.user, why);
        goto fail;
    }
    *out = st;
    return 0;
fail:
    if (st != NULL)
        amqp_destroy_connection(st);
    return -1;
}

/* Channel 1 in confirm mode on the new connection c->st. */
static int open_pub_channel(mq_conn *c)
{
    amqp_channel_open(c->st, PUB_CHANNEL);
    if (rpc_check(c, "channel.open") != MQ_OK)
        return -1;
    amqp_confirm_select(c->st, PUB_CHANNEL);
    if (rpc_check(c, "confirm.select") != MQ_OK)
        return -1;
    c->next_tag = 1;
    c->gen++;
    return 0;
}

/* Connect to the first node that answers, from c->cur on, each at most once. */
static int conn_connect(mq_conn *c)
{
    conn_drop(c);
    for (size_t k = 0; k < c->nodes.n; k++) {
        size_t i = (c->cur + k) % c->nodes.n;
        const struct hostlist_entry *h = &c->nodes.e[i];
        char why[256];
        if (connect_node(c, h, &c->st, why, sizeof why) != 0) {
            snprintf(c->failed, sizeof c->failed, "%s:%d failed: %s", h->host, h->port, why);
            continue;
        }
        c->cur = i;
        if (c->failed[0] != '\0' && c->nodes.n > 1)
            log_warn("mq: connected to %s:%d after %s", h->host, h->port, c->failed);
        c->failed[0] = '\0';
        return open_pub_channel(c);
    }
    return -1;
}

/* A disconnected connection of p, or NULL (logged). */
static mq_conn *conn_new(const struct mq_params *p)
{
    mq_conn *c = calloc(1, sizeof *c);
    if (c == NULL || params_copy(&c->p, p) != 0) {
        log_error("mq: out of memory");
        free(c);
        return NULL;
    }
    char err[256];
    if (hostlist_parse(c->p.hosts, c->p.host, c->p.port, &c->nodes, err, sizeof err) != 0) {
        log_error("mq: hosts \"%s\": %s", c->p.hosts, err);
        params_free(&c->p);
        free(c);
        return NULL;
    }
    return c;
}

mq_conn *mq_open(const struct mq_params *p)
{
    if (p == NULL)
        return NULL;
    mq_conn *c = conn_new(p);
    if (c == NULL)
        return NULL;
    if (conn_connect(c) != 0) {
        mq_close(c);
        return NULL;
    }
    return c;
}

void mq_close(mq_conn *c)
{
    if (c == NULL)
        return;
    if (c->aux != NULL)
        mq_close(c->aux);
    if (c->st != NULL) {
        amqp_connection_close(c->st, AMQP_REPLY_SUCCESS);
        conn_drop(c);
    }
    params_free(&c->p);
    free(c);
}

enum mq_status mq_ensure(mq_conn *c)
{
    if (c == NULL)
        return MQ_GONE;
    if (c->st != NULL)
        return MQ_OK;
    return conn_connect(c) == 0 ? MQ_OK : MQ_GONE;
}

/* ------------------------------------------------------------ publishing */

/* One message being published: where to, its properties and body, and, once
 * settled, how the broker answered. */
struct pub_item {
    const char *exchange;
    const char *routing_key;
    const char *message_id; /* to recognise a basic.return; may be "" */
    const amqp_basic_properties_t *props;
    const void *body;
    size_t len;
    enum mq_status status;
    int settled;
    int returned;
    uint64_t tag;
};

/* Settle every unsettled item with `st`. */
static void settle_rest(struct pub_item *it, size_t n, enum mq_status st)
{
    for (size_t i = 0; i < n; i++)
        if (!it[i].settled) {
            it[i].settled = 1;
            it[i].status = st;
        }
}

/* Settle the unsettled items whose tag the broker (n)acked. */
static size_t settle_tags(struct pub_item *it, size_t n, uint64_t tag, int multiple, int ack)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (it[i].settled || it[i].tag == 0 ||
            !(it[i].tag == tag || (multiple && it[i].tag <= tag)))
            continue;
        it[i].settled = 1;
        it[i].status = !ack ? MQ_NACKED : it[i].returned ? MQ_ERR : MQ_OK;
        if (!ack)
            log_error("mq: broker nacked a message (exchange '%s', key '%s')", it[i].exchange,
                      it[i].routing_key);
        k++;
    }
    return k;
}

/* A basic.return: its content follows (read and dropped here) and the
 * message's ack comes after it. Mark the item it belongs to. */
static int on_return(mq_conn *c, struct pub_item *it, size_t n, const amqp_basic_return_t *m)
{
    char rk[256];
    snprintf(rk, sizeof rk, "%.*s", (int)m->routing_key.len, (const char *)m->routing_key.bytes);
    log_error("mq: unroutable message returned (exchange '%.*s', key '%s'): %u %.*s",
              (int)m->exchange.len, (const char *)m->exchange.bytes, rk, m->reply_code,
              (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    amqp_message_t msg;
    amqp_rpc_reply_t r = amqp_read_message(c->st, PUB_CHANNEL, &msg, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return -1;
    const amqp_basic_properties_t *p = &msg.properties;
    amqp_bytes_t id = (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? p->message_id : amqp_empty_bytes;
    for (size_t i = 0; i < n; i++) {
        const char *mid = it[i].message_id; /* NULL: any */
        if (it[i].settled || it[i].returned || it[i].tag == 0 || strcmp(it[i].routing_key, rk) != 0)
            continue;
        if (mid != NULL && (strlen(mid) != id.len || memcmp(mid, id.bytes, id.len) != 0))
            continue;
        it[i].returned = 1;
        break;
    }
    amqp_destroy_message(&msg);
    return 0;
}

/* Wait until the broker settled every published item (tag != 0). */
static void wait_confirms(mq_conn *c, struct pub_item *it, size_t n)
{
    size_t open = 0;
    for (size_t i = 0; i < n; i++)
        open += !it[i].settled && it[i].tag != 0;
    int64_t deadline = now_ms() + tmo_ms(c);
    while (open > 0) {
        struct timeval tv = ms_tv(deadline - now_ms());
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(c->st, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT) {
            log_warn("mq: %zu confirm(s) not received within %d ms (exchange '%s', key '%s'); "
                     "reconnecting",
                     open, tmo_ms(c), it[0].exchange, it[0].routing_key);
            conn_drop(c);
            settle_rest(it, n, MQ_TIMEOUT);
            return;
        }
        if (rc != AMQP_STATUS_OK) {
            log_warn("mq: connection lost waiting for a confirm: %s", amqp_error_string2(rc));
            conn_drop(c);
            settle_rest(it, n, MQ_GONE);
            return;
        }
        if (f.frame_type != AMQP_FRAME_METHOD || f.channel != PUB_CHANNEL)
            continue;
        switch (f.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            const amqp_basic_ack_t *a = f.payload.method.decoded;
            open -= settle_tags(it, n, a->delivery_tag, a->multiple, 1);
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            const amqp_basic_nack_t *a = f.payload.method.decoded;
            open -= settle_tags(it, n, a->delivery_tag, a->multiple, 0);
            break;
        }
        case AMQP_BASIC_RETURN_METHOD:
            if (on_return(c, it, n, f.payload.method.decoded) != 0) {
                conn_drop(c);
                settle_rest(it, n, MQ_GONE);
                return;
            }
            break;
        case AMQP_CHANNEL_CLOSE_METHOD: {
            const amqp_channel_close_t *m = f.payload.method.decoded;
            log_error("mq: publish refused (exchange '%s', key '%s'): %u %.*s", it[0].exchange,
                      it[0].routing_key, m->reply_code, (int)m->reply_text.len,
                      (const char *)m->reply_text.bytes);
            conn_drop(c);
            settle_rest(it, n, MQ_ERR);
            return;
        }
        case AMQP_CONNECTION_CLOSE_METHOD: {
            const amqp_connection_close_t *m = f.payload.method.decoded;
            log_warn("mq: connection closed by the broker: %u %.*s", m->reply_code,
                     (int)m->reply_text.len, (const char *)m->reply_text.bytes);
            conn_drop(c);
            settle_rest(it, n, MQ_GONE);
            return;
        }
        default:
            break;
        }
    }
}

/* Publish every unsettled item on the current connection, then wait once for
 * all their confirms. */
static void publish_round(mq_conn *c, struct pub_item *it, size_t n)
{
    size_t sent = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        if (it[i].settled)
            continue;
        it[i].tag = 0;
        it[i].returned = 0;
        amqp_bytes_t b = {.len = it[i].len, .bytes = (void *)it[i].body};
        int rc = amqp_basic_publish(c->st, PUB_CHANNEL, bytes_of(it[i].exchange),
                                    bytes_of(it[i].routing_key), 1, 0, it[i].props, b);
        if (rc != AMQP_STATUS_OK) {
            log_warn("mq: publish failed: %s", amqp_error_string2(rc));
            conn_drop(c);
            settle_rest(it, n, MQ_GONE);
            return;
        }
        it[i].tag = c->next_tag++;
        sent++;
    }
    if (sent > 0) {
        wait_confirms(c, it, n);
        double waited = now_s() - t0;
        for (size_t i = 0; i < n; i++)
            if (it[i].tag != 0 && it[i].settled && it[i].status == MQ_OK)
                metrics_observe(METRIC_PUBLISH_CONFIRM, "", waited);
    }
    if (c->st != NULL)
        amqp_maybe_release_buffers(c->st);
}

/* Publish the items, connecting when needed; when an established connection
 * turns out dead, the items it lost are published once more on a new one (at
 * least once: consumers dedupe by message_id). */
static void publish_items(mq_conn *c, struct pub_item *it, size_t n)
{
    for (int attempt = 0;; attempt++) {
        int fresh = 0;
        if (c->st == NULL) {
            if (conn_connect(c) != 0) {
                settle_rest(it, n, MQ_GONE);
                return;
            }
            fresh = 1;
        }
        publish_round(c, it, n);
        int lost = 0;
        for (size_t i = 0; i < n; i++)
            if (it[i].status == MQ_GONE) {
                it[i].settled = 0;
                lost = 1;
            }
        if (!lost)
            return;
        if (attempt > 0 || fresh) {
            settle_rest(it, n, MQ_GONE);
            return;
        }
        log_info("mq: reconnecting to publish again");
    }
}

static void props_init(amqp_basic_properties_t *props, const char *message_id)
{
    memset(props, 0, sizeof *props);
    props->_flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
    props->content_type = amqp_cstring_bytes("application/json");
    props->delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props->timestamp = (uint64_t)time(NULL);
    if (message_id != NULL && *message_id != '\0') {
        props->_flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props->message_id = amqp_cstring_bytes(message_id);
    }
}

/* One message with its own properties (the retry copies). */
static enum mq_status publish_props(mq_conn *c, const char *exchange, const char *routing_key,
                                    const amqp_basic_properties_t *props, const void *body,
                                    size_t len)
{
    struct pub_item it = {.exchange = exchange ? exchange : "",
                          .routing_key = routing_key ? routing_key : "",
                          .message_id = NULL, /* a return can only be this one's */
                          .props = props,
                          .body = body,
                          .len = len};
    publish_items(c, &it, 1);
    return it.status;
}

enum mq_status mq_publish(mq_conn *c, const char *exchange, const char *routing_key,
                          const char *message_id, const void *body, size_t len)
{
    struct mq_out m = {.exchange = exchange,
                       .routing_key = routing_key,
                       .message_id = message_id,
                       .body = body,
                       .len = len};
    return mq_publish_batch(c, &m, 1);
}

/* The plan of mq_publish_batch: the messages that share an exchange and a
 * routing key become one bundle (src/mq_bundle.h), up to MQ_BUNDLE_MAX
 * messages and MQ_BUNDLE_BYTES; a message alone goes as it is. it[g] is
 * published for the messages i with item[i] == g. */
struct pub_plan {
    struct pub_item *it;
    amqp_basic_properties_t *props;
    struct buf *bodies; /* a bundle's body, for an item of count > 1 */
    size_t *item;       /* per message: its item, or SIZE_MAX (refused) */
    size_t *count;      /* per item: its messages */
    size_t *bytes;      /* per item: about the bytes of its bundle */
    size_t nitems;
};

static void plan_free(struct pub_plan *pl)
{
    for (size_t g = 0; pl->bodies != NULL && g < pl->nitems; g++)
        buf_free(&pl->bodies[g]);
    free(pl->it);
    free(pl->props);
    free(pl->bodies);
    free(pl->item);
    free(pl->count);
    free(pl->bytes);
}

/* The item message i joins: the last one of its route while it has room. */
static size_t plan_item_of(struct pub_plan *pl, const struct mq_out *m, size_t est)
{
    const char *x = m->exchange ? m->exchange : "", *rk = m->routing_key ? m->routing_key : "";
    for (size_t g = pl->nitems; g-- > 0;) {
        if (strcmp(pl->it[g].exchange, x) != 0 || strcmp(pl->it[g].routing_key, rk) != 0)
            continue;
        if (pl->count[g] < MQ_BUNDLE_MAX && pl->bytes[g] + est <= MQ_BUNDLE_BYTES)
            return g;
        break;
    }
    size_t g = pl->nitems++;
    pl->it[g] = (struct pub_item){.exchange = x, .routing_key = rk, .props = &pl->props[g]};
    return g;
}

/* Make the items: a bundle's body is built once its messages are known. */
static int plan_build(struct pub_plan *pl, const struct mq_out *msgs, size_t n)
{
    pl->it = calloc(n, sizeof *pl->it);
    pl->props = calloc(n, sizeof *pl->props);
    pl->bodies = calloc(n, sizeof *pl->bodies);
    pl->item = calloc(n, sizeof *pl->item);
    pl->count = calloc(n, sizeof *pl->count);
    pl->bytes = calloc(n, sizeof *pl->bytes);
    if (!pl->it || !pl->props || !pl->bodies || !pl->item || !pl->count || !pl->bytes)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *id = msgs[i].message_id ? msgs[i].message_id : "";
        size_t est = msgs[i].len + strlen(id) + 32; /* the netstrings' lengths and marks */
        pl->item[i] = SIZE_MAX;
        if ((msgs[i].body == NULL && msgs[i].len > 0) || est > MQ_BUNDLE_BYTES)
            continue;
        size_t g = plan_item_of(pl, &msgs[i], est);
        pl->item[i] = g;
        pl->count[g]++;
        pl->bytes[g] += est;
        if (pl->count[g] == 1) {
            props_init(&pl->props[g], id);
            pl->it[g].message_id = id;
            pl->it[g].body = msgs[i].body;
            pl->it[g].len = msgs[i].len;
        }
    }
    for (size_t g = 0; g < pl->nitems; g++) {
        if (pl->count[g] < 2)
            continue;
        buf_init(&pl->bodies[g], MQ_BUNDLE_BYTES);
        for (size_t i = 0; i < n; i++)
            if (pl->item[i] == g &&
                mq_bundle_add(&pl->bodies[g], msgs[i].message_id ? msgs[i].message_id : "",
                              msgs[i].body, msgs[i].len) != 0)
                return -1;
        props_init(&pl->props[g], NULL);
        pl->props[g].content_type = amqp_cstring_bytes(MQ_BUNDLE_TYPE);
        pl->it[g].message_id = "";
        pl->it[g].body = pl->bodies[g].data;
        pl->it[g].len = pl->bodies[g].len;
    }
    return 0;
}

enum mq_status mq_publish_batch(mq_conn *c, struct mq_out *msgs, size_t n)
{
    if (n == 0)
        return MQ_OK;
    if (msgs == NULL)
        return MQ_ERR;
    enum mq_status worst = MQ_OK;
    struct pub_plan pl = {0};
    if (plan_build(&pl, msgs, n) != 0) {
        log_error("mq: out of memory publishing %zu messages", n);
        for (size_t i = 0; i < n; i++)
            msgs[i].status = MQ_ERR;
        plan_free(&pl);
        return MQ_ERR;
    }
    if (c == NULL)
        settle_rest(pl.it, pl.nitems, MQ_GONE);
    else
        publish_items(c, pl.it, pl.nitems);
    for (size_t i = 0; i < n; i++) {
        msgs[i].status = pl.item[i] == SIZE_MAX ? MQ_ERR : pl.it[pl.item[i]].status;
        if (worst == MQ_OK && msgs[i].status != MQ_OK)
            worst = msgs[i].status;
    }
    plan_free(&pl);
    return worst;
}

enum mq_status mq_idle(mq_conn *c)
{
    if (c == NULL || c->st == NULL)
        return MQ_GONE;
    /* A zero wait lets the library answer and check heartbeats; a stray
     * frame (a late confirm) is read and dropped. */
    for (;;) {
        struct timeval tv = {0, 0};
        amqp_frame_t f;
        int rc = amqp_simple_wait_frame_noblock(c->st, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            break;
        if (rc != AMQP_STATUS_OK) {
            log_warn("mq: idle connection lost: %s", amqp_error_string2(rc));
            conn_drop(c);
            return MQ_GONE;
        }
        if (f.frame_type == AMQP_FRAME_METHOD &&
            (f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
             f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD)) {
            log_warn("mq: idle connection closed by the broker");
            conn_drop(c);
            return MQ_GONE;
        }
    }
    amqp_maybe_release_buffers(c->st);
    return MQ_OK;
}

/* -------------------------------------------------------------- topology */

static enum mq_status declare_exchange(mq_conn *c, const char *exchange)
{
    amqp_exchange_declare(c->st, PUB_CHANNEL, bytes_of(exchange), amqp_cstring_bytes("topic"), 0, 1,
                          0, 0, amqp_empty_table);
    return rpc_check(c, "exchange.declare");
}

/* A queue's arguments (at most QARGS_MAX). */
#define QARGS_MAX 7
struct qargs {
    amqp_table_entry_t e[QARGS_MAX];
    int n;
};

static void arg_str(struct qargs *a, const char *key, const char *value)
{
    amqp_table_entry_t *e = &a->e[a->n++];
    e->key = amqp_cstring_bytes(key);
    e->value.kind = AMQP_FIELD_KIND_UTF8;
    e->value.value.bytes = amqp_cstring_bytes(value);
}

/* The queue's type (mq_queue_type), and for a queue that dead-letters
 * (retry and delay queues) where to, after ttl_ms (0: no dead-lettering).
 *
 * Retry and park stay what they are for classic queues (Q.retry with a TTL,
 * dead-lettered back to Q; Q.parked; x-shop-tries counted by mq_consume)
 * rather than a quorum queue's x-delivery-limit: that limit counts every
 * redelivery, including the ones after a lost connection or a consumer's
 * restart, so messages that never failed would be parked; it redelivers at
 * once (a hot loop where we wait MQ_RETRY_TTL_MS); it would drop the
 * x-shop-tries and park-reason headers the console shows; and one path for
 * both queue types is one path to test. A quorum queue dead-letters at most
 * once by default: a message moving from Q.retry back to Q, or from a delay
 * queue to its consumer, could be lost if a node died in between. So those
 * queues dead-letter at least once (x-dead-letter-strategy, which needs
 * x-overflow=reject-publish and the feature flag stream_queue, on in 3.10
 * nodes: a broker without it refuses the declaration, logged). */
static void args_init(const mq_conn *c, struct qargs *a, int ttl_ms, const char *dl_exchange,
                      const char *dl_key)
{
    memset(a, 0, sizeof *a);
    if (c->p.quorum)
        arg_str(a, "x-queue-type", "quorum");
    if (ttl_ms <= 0)
        return;
    amqp_table_entry_t *e = &a->e[a->n++];
    e->key = amqp_cstring_bytes("x-message-ttl");
    e->value.kind = AMQP_FIELD_KIND_I32;
    e->value.value.i32 = ttl_ms;
    arg_str(a, "x-dead-letter-exchange", dl_exchange);
    arg_str(a, "x-dead-letter-routing-key", dl_key);
    if (c->p.quorum) {
        arg_str(a, "x-dead-letter-strategy", "at-least-once");
        arg_str(a, "x-overflow", "reject-publish");
    }
}

/* Declare a durable queue; a refusal names the usual cause. */
static enum mq_status queue_declare(mq_conn *c, const char *queue, const struct qargs *a,
                                    const char *what)
{
    amqp_table_t args = {.num_entries = a->n, .entries = (amqp_table_entry_t *)a->e};
    amqp_queue_declare(c->st, PUB_CHANNEL, bytes_of(queue), 0, 1, 0, 0, args);
    enum mq_status rc = rpc_check(c, what);
    if (rc == MQ_ERR)
        log_error("mq: queue %s exists with other arguments than this program declares "
                  "(mq_queue_type=%s): delete the shop's queues (rabbitmqctl delete_queue) or "
                  "start a fresh broker",
                  queue, c->p.quorum ? "quorum" : "classic");
    return rc;
}

static enum mq_status declare_queue(mq_conn *c, const char *exchange, const char *queue,
                                    const char *const *keys, int retry_ttl_ms)
{
    char retry[256], parked[256];
    if ((size_t)snprintf(retry, sizeof retry, "%s.retry", queue) >= sizeof retry ||
        (size_t)snprintf(parked, sizeof parked, "%s.parked", queue) >= sizeof parked) {
        log_error("mq: queue name too long: %s", queue);
        return MQ_ERR;
    }
    struct qargs plain, back;
    args_init(c, &plain, 0, NULL, NULL);
    args_init(c, &back, retry_ttl_ms > 0 ? retry_ttl_ms : MQ_RETRY_TTL_MS, "", queue);
    enum mq_status rc;
    if ((rc = queue_declare(c, queue, &plain, "queue.declare")) != MQ_OK ||
        (rc = queue_declare(c, retry, &back, "queue.declare (retry)")) != MQ_OK ||
        (rc = queue_declare(c, parked, &plain, "queue.declare (parked)")) != MQ_OK)
        return rc;
    for (size_t i = 0; keys != NULL && keys[i] != NULL; i++) {
        amqp_queue_bind(c->st, PUB_CHANNEL, bytes_of(queue), bytes_of(exchange), bytes_of(keys[i]),
                        amqp_empty_table);
        if ((rc = rpc_check(c, "queue.bind")) != MQ_OK)
            return rc;
    }
    return MQ_OK;
}

enum mq_status mq_declare_queue(mq_conn *c, const char *exchange, const char *queue,
                                const char *const *keys, int retry_ttl_ms)
{
    if (c == NULL || queue == NULL || *queue == '\0')
        return c == NULL ? MQ_GONE : MQ_ERR;
    enum mq_status rc = mq_ensure(c);
    if (rc != MQ_OK)
        return rc;
    if (exchange != NULL && *exchange != '\0' && (rc = declare_exchange(c, exchange)) != MQ_OK)
        return rc;
    return declare_queue(c, exchange, queue, keys, retry_ttl_ms);
}

enum mq_status mq_declare_delay_queue(mq_conn *c, const char *queue, int ttl_ms,
                                      const char *dl_exchange, const char *dl_key)
{
    if (c == NULL)
        return MQ_GONE;
    if (queue == NULL || *queue == '\0' || ttl_ms <= 0 || dl_exchange == NULL || dl_key == NULL)
        return MQ_ERR;
    enum mq_status rc = mq_ensure(c);
    if (rc != MQ_OK)
        return rc;
    if (*dl_exchange != '\0' && (rc = declare_exchange(c, dl_exchange)) != MQ_OK)
        return rc;
    struct qargs a;
    args_init(c, &a, ttl_ms, dl_exchange, dl_key);
    return queue_declare(c, queue, &a, "queue.declare (delay)");
}

enum mq_status mq_declare_topology(mq_conn *c)
{
    enum mq_status rc = mq_ensure(c);
    if (rc != MQ_OK)
        return rc;
    if ((rc = declare_exchange(c, MQ_EXCHANGE)) != MQ_OK)
        return rc;
    for (size_t i = 0; i < TOPO_COUNT; i++) {
        const struct topo_row *r = &topo_rows[i];
        if (r->queue == NULL)
            continue;
        rc = declare_queue(c, MQ_EXCHANGE, r->queue, r->keys, MQ_RETRY_TTL_MS);
        if (rc != MQ_OK)
            return rc;
    }
    return MQ_OK;
}

/* ------------------------------------------------------------------ ping */

enum mq_status mq_ping(mq_conn *c)
{
    if (c == NULL)
        return MQ_GONE;
    for (int attempt = 0;; attempt++) {
        int fresh = 0;
        if (c->st == NULL) {
            if (conn_connect(c) != 0)
                return MQ_GONE;
            fresh = 1;
        }
        /* A passive declare of an exchange every vhost has: one round trip. */
        amqp_exchange_declare(c->st, PUB_CHANNEL, amqp_cstring_bytes("amq.topic"),
                              amqp_cstring_bytes("topic"), 1, 1, 0, 0, amqp_empty_table);
        if (rpc_check(c, "ping") == MQ_OK) {
            amqp_maybe_release_buffers(c->st);
            return MQ_OK;
        }
        if (attempt == 0 && !fresh)
            continue;
        return MQ_GONE;
    }
}

enum mq_status mq_queue_depth(mq_conn *c, const char *queue, uint32_t *messages)
{
    *messages = 0;
    if (c == NULL || (c->st == NULL && conn_connect(c) != 0))
        return MQ_GONE;
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c->st, PUB_CHANNEL, amqp_cstring_bytes(queue),
                                                     1, 0, 0, 0, amqp_empty_table);
    enum mq_status rc = rpc_check(c, "queue.declare (passive)");
    if (rc == MQ_OK && ok != NULL)
        *messages = ok->message_count;
    return rc;
}

/* ------------------------------------------------------------- consuming */

static const amqp_field_value_t *header_get(const amqp_basic_properties_t *p, const char *key)
{
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return NULL;
    size_t kl = strlen(key);
    for (int i = 0; i < p->headers.num_entries; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        if (e->key.len == kl && memcmp(e->key.bytes, key, kl) == 0)
            return &e->value;
    }
    return NULL;
}

static int64_t field_int(const amqp_field_value_t *v, int64_t def)
{
    if (v == NULL)
        return def;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
        return v->value.i8;
    case AMQP_FIELD_KIND_U8:
        return v->value.u8;
    case AMQP_FIELD_KIND_I16:
        return v->value.i16;
    case AMQP_FIELD_KIND_U16:
        return v->value.u16;
    case AMQP_FIELD_KIND_I32:
        return v->value.i32;
    case AMQP_FIELD_KIND_U32:
        return v->value.u32;
    case AMQP_FIELD_KIND_I64:
        return v->value.i64;
    case AMQP_FIELD_KIND_U64:
        return (int64_t)v->value.u64;
    default:
        return def;
    }
}

static int is_shop_or_death_header(amqp_bytes_t k)
{
    static const char *const drop[] = {HDR_TRIES,
                                       HDR_RKEY,
                                       HDR_REASON,
                                       "x-death",
                                       "x-first-death-exchange",
                                       "x-first-death-queue",
                                       "x-first-death-reason",
                                       "x-last-death-exchange",
                                       "x-last-death-queue",
                                       "x-last-death-reason"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (k.len == strlen(drop[i]) && memcmp(k.bytes, drop[i], k.len) == 0)
            return 1;
    return 0;
}

/* One message of a delivery: the delivery itself, or a message of the
 * bundle it carries (src/mq_bundle.h), with its own verdict. */
struct part {
    struct mq_message m;
    enum mq_verdict verdict;
};

/* One delivery on its way through a handler. */
struct delivery {
    amqp_envelope_t env;
    char *rk, *mid, *body, *orig;
    int64_t tries;
    int bundle;         /* parts are the messages of a bundle */
    int malformed;      /* a bundle that does not split: parked whole, unhandled */
    struct part one;    /* the parts of a plain message */
    struct part *parts; /* &one, or the bundle's (allocated); NULL: not prepared */
    size_t nparts;
};

/* Publish a copy of part p of delivery d to `target` (a queue, through the
 * default exchange) with the retry headers, on the aux connection. A
 * message of a bundle goes alone, as the JSON message it was published as. */
static enum mq_status republish(mq_conn *c, const struct delivery *d, const struct part *p,
                                const char *target, int64_t tries, const char *reason)
{
    if (c->aux == NULL) {
        c->aux = conn_new(&c->p);
        if (c->aux == NULL)
            return MQ_ERR;
        c->aux->cur = c->cur; /* the node the consumer found alive */
    }
    const amqp_basic_properties_t *op = &d->env.message.properties;
    int nold = (op->_flags & AMQP_BASIC_HEADERS_FLAG) ? op->headers.num_entries : 0;
    amqp_table_entry_t *e = calloc((size_t)nold + 3, sizeof *e);
    if (e == NULL)
        return MQ_ERR;
    int n = 0;
    for (int i = 0; i < nold; i++)
        if (!is_shop_or_death_header(op->headers.entries[i].key))
            e[n++] = op->headers.entries[i];
    e[n].key = amqp_cstring_bytes(HDR_TRIES);
    e[n].value.kind = AMQP_FIELD_KIND_I32;
    e[n].value.value.i32 = (int32_t)tries;
    n++;
    e[n].key = amqp_cstring_bytes(HDR_RKEY);
    e[n].value.kind = AMQP_FIELD_KIND_UTF8;
    e[n].value.value.bytes = amqp_cstring_bytes(p->m.routing_key);
    n++;
    if (reason != NULL) {
        e[n].key = amqp_cstring_bytes(HDR_REASON);
        e[n].value.kind = AMQP_FIELD_KIND_UTF8;
        e[n].value.value.bytes = amqp_cstring_bytes(reason);
        n++;
    }
    amqp_basic_properties_t props = *op;
    props._flags |= AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.headers.num_entries = n;
    props.headers.entries = e;
    if (d->bundle) {
        props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
        props.content_type = amqp_cstring_bytes("application/json");
        props._flags &= ~AMQP_BASIC_MESSAGE_ID_FLAG;
        if (p->m.message_id[0] != '\0') {
            props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
            props.message_id = amqp_cstring_bytes(p->m.message_id);
        }
    }
    /* A delivery that is not a bundle's message goes as it came (the split
     * of a malformed bundle may have written into the copy). */
    const void *body = d->bundle ? (const void *)p->m.body : d->env.message.body.bytes;
    size_t len = d->bundle ? p->m.body_len : d->env.message.body.len;
    enum mq_status rc = publish_props(c->aux, "", target, &props, body, len);
    free(e);
    return rc;
}

static void delivery_forget(struct delivery *d)
{
    if (d->parts != &d->one)
        free(d->parts);
    d->parts = NULL;
    d->nparts = 0;
    free(d->orig);
    free(d->body);
    free(d->mid);
    free(d->rk);
    d->orig = d->body = d->mid = d->rk = NULL;
}

static void delivery_free(struct delivery *d)
{
    delivery_forget(d);
    amqp_destroy_envelope(&d->env);
    memset(d, 0, sizeof *d);
}

static int is_bundle(const amqp_basic_properties_t *p)
{
    static const char t[] = MQ_BUNDLE_TYPE;
    return (p->_flags & AMQP_BASIC_CONTENT_TYPE_FLAG) && p->content_type.len == sizeof t - 1 &&
           memcmp(p->content_type.bytes, t, sizeof t - 1) == 0;
}

/* Split a bundle's body (d->body, in place) into d->parts. -1 when out of
 * memory; a bundle that does not split becomes one malformed part. */
static int delivery_split(struct delivery *d)
{
    struct mq_bundle_part *bp = calloc(MQ_BUNDLE_MAX, sizeof *bp);
    if (bp == NULL)
        return -1;
    int k = mq_bundle_split(d->body, d->one.m.body_len, bp, MQ_BUNDLE_MAX);
    if (k < 1) {
        log_error("mq: a bundle (key '%s', %zu bytes) does not split; parking it",
                  d->one.m.routing_key, d->one.m.body_len);
        free(bp);
        d->malformed = 1;
        d->one.verdict = MQ_REJECT;
        return 0;
    }
    d->parts = calloc((size_t)k, sizeof *d->parts);
    if (d->parts == NULL) {
        free(bp);
        return -1;
    }
    for (int i = 0; i < k; i++) {
        d->parts[i].m = d->one.m;
        d->parts[i].m.message_id = bp[i].message_id;
        d->parts[i].m.body = bp[i].body;
        d->parts[i].m.body_len = bp[i].len;
    }
    d->nparts = (size_t)k;
    d->bundle = 1;
    free(bp);
    return 0;
}

/* Copy what the handler sees out of the envelope, and split a bundle into
 * its messages; -1 when out of memory (then nothing is prepared). */
static int delivery_prepare(struct delivery *d)
{
    const amqp_basic_properties_t *p = &d->env.message.properties;
    delivery_forget(d);
    d->rk = dup_bytes(d->env.routing_key);
    d->mid = dup_bytes((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) ? p->message_id : amqp_empty_bytes);
    d->body = dup_bytes(d->env.message.body);
    const amqp_field_value_t *hr = header_get(p, HDR_RKEY);
    int oom = d->rk == NULL || d->mid == NULL || d->body == NULL;
    if (hr != NULL && (hr->kind == AMQP_FIELD_KIND_UTF8 || hr->kind == AMQP_FIELD_KIND_BYTES)) {
        d->orig = dup_bytes(hr->value.bytes);
        oom = oom || d->orig == NULL;
    }
    d->tries = field_int(header_get(p, HDR_TRIES), 0);
    d->bundle = d->malformed = 0;
    d->one = (struct part){.m = {.routing_key = d->orig != NULL ? d->orig : d->rk,
                                 .message_id = d->mid,
                                 .body = d->body,
                                 .body_len = d->env.message.body.len,
                                 .redelivered = d->env.redelivered != 0,
                                 .delivery_tag = d->env.delivery_tag}};
    d->parts = &d->one;
    d->nparts = 1;
    if (!oom && is_bundle(p))
        oom = delivery_split(d) != 0;
    if (oom) {
        log_error("mq: out of memory handling a delivery");
        delivery_forget(d);
    }
    return oom ? -1 : 0;
}

/* Settle part p of d when it was not acked: a copy to Q.retry or Q.parked.
 * 0 when the copy is confirmed. */
static int part_move(mq_conn *c, const char *queue, const struct delivery *d, const struct part *p)
{
    char target[300];
    const char *reason = NULL, *result = "retried";
    int64_t tries = d->tries;
    if (p->verdict == MQ_RETRY && tries < MQ_MAX_TRIES) {
        snprintf(target, sizeof target, "%s.retry", queue);
        tries++;
    } else {
        result = "parked";
        reason = p->verdict == MQ_RETRY ? "retries exhausted" : "rejected";
        snprintf(target, sizeof target, "%s.parked", queue);
        log_warn("mq: parking message '%s' (key '%s') in %s: %s", p->m.message_id, p->m.routing_key,
                 target, reason);
    }
    if (republish(c, d, p, target, tries, reason) != MQ_OK) {
        log_error("mq: cannot move message '%s' to %s; requeueing it", p->m.message_id, target);
        return -1;
    }
    count_settled(queue, result, 1);
    return 0;
}

/* Settle a delivery by its parts' verdicts: ack, after a copy of each part
 * not acked went to Q.retry / Q.parked; when a copy cannot be made, the
 * delivery goes back to the queue (its acked parts are deduplicated when it
 * comes again). Returns -1 when the consuming connection failed (dropped). */
static int delivery_settle(mq_conn *c, const char *queue, struct delivery *d)
{
    size_t acked = 0;
    int moved = 1;
    for (size_t i = 0; i < d->nparts && moved; i++) {
        if (d->parts[i].verdict == MQ_ACK)
            acked++;
        else
            moved = part_move(c, queue, d, &d->parts[i]) == 0;
    }
    int rc;
    if (moved) {
        rc = amqp_basic_ack(c->st, CONSUME_CHANNEL, d->env.delivery_tag, 0);
    } else {
        sleep_ms(BACKOFF_MIN_MS, NULL);
        rc = amqp_basic_reject(c->st, CONSUME_CHANNEL, d->env.delivery_tag, 1);
    }
    if (rc != AMQP_STATUS_OK) {
        log_warn("mq: cannot settle a delivery: %s", amqp_error_string2(rc));
        conn_drop(c);
        return -1;
    }
    count_settled(queue, moved ? "acked" : "requeued", moved ? acked : d->nparts);
    return 0;
}

/* Run the handler on each part of one delivery and settle it. Returns -1
 * when the consuming connection failed (it was dropped). */
static int handle_one(mq_conn *c, const char *queue, struct delivery *d, mq_handler fn, void *ud)
{
    if (d->parts == NULL && delivery_prepare(d) != 0) {
        if (amqp_basic_reject(c->st, CONSUME_CHANNEL, d->env.delivery_tag, 1) != AMQP_STATUS_OK) {
            conn_drop(c);
            return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < d->nparts && !d->malformed; i++)
        d->parts[i].verdict = fn(&d->parts[i].m, ud);
    return delivery_settle(c, queue, d);
}

/* The handlers of a batch inside its transaction: every part of every
 * delivery (a malformed bundle keeps its MQ_REJECT). 0, or -1 when the batch
 * must be rolled back. */
static int batch_run(struct delivery *ds, size_t n, size_t nparts, mq_handler fn, void *ud,
                     const struct mq_batch *b)
{
    if (b->all == NULL) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < ds[i].nparts && !ds[i].malformed; j++)
                ds[i].parts[j].verdict = fn(&ds[i].parts[j].m, ud);
        return 0;
    }
    /* The batch handler sees every message at once. */
    const struct mq_message **ms = calloc(nparts, sizeof *ms);
    enum mq_verdict *vs = calloc(nparts, sizeof *vs);
    int rc = -1;
    if (ms == NULL || vs == NULL)
        goto out;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ds[i].nparts && !ds[i].malformed; j++)
            ms[k++] = &ds[i].parts[j].m;
    if (k > 0 && b->all(ms, k, vs, ud) != 0)
        goto out;
    k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ds[i].nparts && !ds[i].malformed; j++)
            ds[i].parts[j].verdict = vs[k++];
    rc = 0;
out:
    free(vs);
    free(ms);
    return rc;
}

/* A batch: every handler runs inside the hooks' one transaction, and only
 * after it committed are the deliveries settled (one multiple ack when all
 * were acked). When the batch cannot start or does not commit, each delivery
 * is handled again alone. Returns -1 when the connection failed. */
static int handle_batch(mq_conn *c, const char *queue, struct delivery *ds, size_t n, mq_handler fn,
                        void *ud, const struct mq_batch *b)
{
    size_t nparts = 0;
    int prepared = 1;
    for (size_t i = 0; i < n; i++) {
        prepared = prepared && ds[i].parts != NULL;
        nparts += ds[i].nparts;
    }
    if (b != NULL && prepared && nparts > 1 && b->begin(b->ud) == 0) {
        int failed = batch_run(ds, n, nparts, fn, ud, b) != 0;
        int all_ack = 1;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < ds[i].nparts; j++)
                all_ack = all_ack && ds[i].parts[j].verdict == MQ_ACK;
        if (!failed && b->end(b->ud, 1) == 0) {
            if (all_ack) {
                if (amqp_basic_ack(c->st, CONSUME_CHANNEL, ds[n - 1].env.delivery_tag, 1) !=
                    AMQP_STATUS_OK) {
                    conn_drop(c);
                    return -1;
                }
                count_settled(queue, "acked", nparts);
                return 0;
            }
            for (size_t i = 0; i < n; i++)
                if (delivery_settle(c, queue, &ds[i]) != 0)
                    return -1;
            return 0;
        }
        if (failed)
            b->end(b->ud, 0);
        log_warn("mq: a batch of %zu from %s did not commit; handling them one by one", nparts,
                 queue);
    }
    for (size_t i = 0; i < n; i++)
        if (handle_one(c, queue, &ds[i], fn, ud) != 0)
            return -1;
    return 0;
}

static enum mq_status consume_setup(mq_conn *c, const char *queue, int prefetch)
{
    enum mq_status rc = mq_declare_topology(c);
    if (rc != MQ_OK)
        return rc;
    amqp_channel_open(c->st, CONSUME_CHANNEL);
    if ((rc = rpc_check(c, "channel.open (consume)")) != MQ_OK)
        return rc;
    if (prefetch < 1)
        prefetch = 1;
    if (prefetch > 65535)
        prefetch = 65535;
    amqp_basic_qos(c->st, CONSUME_CHANNEL, 0, (uint16_t)prefetch, 0);
    if ((rc = rpc_check(c, "basic.qos")) != MQ_OK)
        return rc;
    amqp_basic_consume(c->st, CONSUME_CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    return rpc_check(c, "basic.consume");
}

/* A frame other than a delivery arrived while consuming. */
static void other_frame(mq_conn *c)
{
    amqp_frame_t f;
    int rc = amqp_simple_wait_frame(c->st, &f);
    if (rc != AMQP_STATUS_OK) {
        log_warn("mq: connection lost while consuming: %s", amqp_error_string2(rc));
        conn_drop(c);
        return;
    }
    if (f.frame_type != AMQP_FRAME_METHOD)
        return;
    switch (f.payload.method.id) {
    case AMQP_CHANNEL_CLOSE_METHOD: {
        const amqp_channel_close_t *m = f.payload.method.decoded;
        log_error("mq: channel %u closed by the broker: %u %.*s", (unsigned)f.channel,
                  m->reply_code, (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        conn_drop(c);
        break;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
        const amqp_connection_close_t *m = f.payload.method.decoded;
        log_warn("mq: connection closed by the broker: %u %.*s", m->reply_code,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        conn_drop(c);
        break;
    }
    case AMQP_BASIC_CANCEL_METHOD:
        log_warn("mq: the broker cancelled the consumer (queue deleted?)");
        conn_drop(c);
        break;
    default:
        break;
    }
}

#define ROUNDS_EVERY_MS 10000

void mq_rounds_add(struct mq_rounds *s, const char *what, size_t n)
{
    s->messages += n;
    s->rounds++;
    if (n > s->largest)
        s->largest = n;
    int64_t now = now_ms();
    if (s->since == 0)
        s->since = now;
    if (now - s->since < ROUNDS_EVERY_MS)
        return;
    log_info("mq: %s: %lu messages in %.1f s, %lu a second, in rounds of %.1f on average (at "
             "most %lu)",
             what, s->messages, (double)(now - s->since) / 1000.0,
             (unsigned long)((double)s->messages * 1000.0 / (double)(now - s->since)),
             (double)s->messages / (double)s->rounds, s->largest);
    *s = (struct mq_rounds){.since = now};
}

enum mq_status mq_consume(mq_conn *c, const char *queue, int prefetch, mq_handler fn, void *ud,
                          volatile sig_atomic_t *stop)
{
    return mq_consume_batched(c, queue, prefetch, fn, ud, NULL, stop);
}

enum mq_status mq_consume_batched(mq_conn *c, const char *queue, int prefetch, mq_handler fn,
                                  void *ud, const struct mq_batch *b, volatile sig_atomic_t *stop)
{
    if (c == NULL || queue == NULL || fn == NULL || stop == NULL)
        return MQ_ERR;
    /* max counts messages (a bundle counts its own), so a batch may hold
     * more than the prefetch's deliveries' worth; never more deliveries than
     * messages, nor than the prefetch lets arrive. */
    size_t max = b != NULL && b->max > 1 ? (size_t)b->max : 1;
    size_t ndel = max;
    if (ndel > (size_t)(prefetch > 0 ? prefetch : 1))
        ndel = (size_t)(prefetch > 0 ? prefetch : 1);
    struct delivery *ds = calloc(ndel, sizeof *ds);
    if (ds == NULL)
        return MQ_ERR;
    struct mq_rounds stats = {0};
    int backoff = BACKOFF_MIN_MS;
    int consuming = 0;
    unsigned gen = 0;
    while (!*stop) {
        if (c->st == NULL && conn_connect(c) != 0) {
            log_warn("mq: broker unreachable; retrying in %d ms", backoff);
            sleep_ms(backoff, stop);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        if (!consuming || gen != c->gen) {
            if (consume_setup(c, queue, prefetch) != MQ_OK) {
                conn_drop(c);
                consuming = 0;
                log_warn("mq: cannot consume %s; retrying in %d ms", queue, backoff);
                sleep_ms(backoff, stop);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            consuming = 1;
            gen = c->gen;
            backoff = BACKOFF_MIN_MS;
            log_info("mq: consuming %s (prefetch %d)", queue, prefetch);
        }
        amqp_maybe_release_buffers(c->st);
        struct timeval tv = ms_tv(POLL_MS);
        amqp_rpc_reply_t r = amqp_consume_message(c->st, &ds[0].env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            /* Whatever else has arrived already joins the batch, up to max
             * messages (a bundle counts its messages). */
            size_t n = 1, nparts = 0;
            (void)delivery_prepare(&ds[0]);
            nparts += ds[0].nparts;
            while (n < ndel && nparts < max) {
                struct timeval zero = {0, 0};
                amqp_rpc_reply_t r2 = amqp_consume_message(c->st, &ds[n].env, &zero, 0);
                if (r2.reply_type != AMQP_RESPONSE_NORMAL)
                    break; /* nothing more now; a real failure shows on the next read */
                (void)delivery_prepare(&ds[n]); /* a failure: handle_one requeues it */
                nparts += ds[n].nparts;
                n++;
            }
            handle_batch(c, queue, ds, n, fn, ud, b);
            for (size_t i = 0; i < n; i++)
                delivery_free(&ds[i]);
            mq_rounds_add(&stats, queue, nparts);
            continue;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT) {
            if (b != NULL && b->idle != NULL)
                b->idle(b->ud);
            continue;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            other_frame(c);
            continue;
        }
        char msg[256];
        reply_text(r, msg, sizeof msg);
        log_warn("mq: connection lost while consuming %s: %s; reconnecting", queue, msg);
        conn_drop(c);
        sleep_ms(backoff, stop);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    if (c->st != NULL && consuming && gen == c->gen) {
        /* Closing the channel hands the unacked deliveries back to the queue. */
        amqp_channel_close(c->st, CONSUME_CHANNEL, AMQP_REPLY_SUCCESS);
        if (rpc_check(c, "channel.close (consume)") == MQ_OK) {
            /* Deliveries that arrived meanwhile were queued by the library. */
            amqp_frame_t f;
            while (amqp_frames_enqueued(c->st))
                if (amqp_simple_wait_frame(c->st, &f) != AMQP_STATUS_OK)
                    break;
            if (c->st != NULL)
                amqp_maybe_release_buffers(c->st);
        }
    }
    if (c->aux != NULL) {
        mq_close(c->aux);
        c->aux = NULL;
    }
    free(ds);
    return MQ_OK;
}

/* ------------------------------------------------------- parked messages */

static enum mq_status park_open(mq_conn *c)
{
    if (c == NULL || (c->st == NULL && conn_connect(c) != 0))
        return MQ_GONE;
    amqp_channel_open(c->st, PARK_CHANNEL);
    return rpc_check(c, "channel.open (parked)");
}

/* Close the channel: the broker requeues every message got and not acked. */
static void park_close(mq_conn *c)
{
    if (c->st == NULL)
        return;
    amqp_channel_close(c->st, PARK_CHANNEL, AMQP_REPLY_SUCCESS);
    if (amqp_get_rpc_reply(c->st).reply_type != AMQP_RESPONSE_NORMAL)
        conn_drop(c);
    else
        amqp_maybe_release_buffers(c->st);
}

/* One basic.get without ack: 1 got (*msg to destroy, *tag), 0 the queue is
 * empty, -1 failed (the connection was dropped: the broker requeues). */
static int park_get(mq_conn *c, const char *queue, amqp_message_t *msg, uint64_t *tag)
{
    amqp_rpc_reply_t r = amqp_basic_get(c->st, PARK_CHANNEL, amqp_cstring_bytes(queue), 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        rpc_check(c, "basic.get (parked)");
        return -1;
    }
    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
        return 0;
    *tag = ((const amqp_basic_get_ok_t *)r.reply.decoded)->delivery_tag;
    r = amqp_read_message(c->st, PARK_CHANNEL, msg, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        log_warn("mq: reading a parked message failed");
        conn_drop(c);
        return -1;
    }
    return 1;
}

/* A UTF-8 (or bytes) header into out, "" when absent. */
static void header_text(const amqp_basic_properties_t *p, const char *key, char *out, size_t n)
{
    const amqp_field_value_t *v = header_get(p, key);
    out[0] = '\0';
    if (v != NULL && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES))
        snprintf(out, n, "%.*s", (int)v->value.bytes.len, (const char *)v->value.bytes.bytes);
}

static void parked_fill(const amqp_message_t *msg, struct mq_parked *out)
{
    const amqp_basic_properties_t *p = &msg->properties;
    out->message_id[0] = '\0';
    if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG)
        snprintf(out->message_id, sizeof out->message_id, "%.*s", (int)p->message_id.len,
                 (const char *)p->message_id.bytes);
    header_text(p, HDR_RKEY, out->routing_key, sizeof out->routing_key);
    header_text(p, HDR_REASON, out->reason, sizeof out->reason);
    out->tries = field_int(header_get(p, HDR_TRIES), 0);
    out->body_len = msg->body.len;
    size_t keep = msg->body.len < MQ_PARKED_BODY_MAX ? msg->body.len : MQ_PARKED_BODY_MAX;
    memcpy(out->body, msg->body.bytes, keep);
    out->body[keep] = '\0';
}

enum mq_status mq_parked_list(mq_conn *c, const char *queue, struct mq_parked *out, size_t max,
                              size_t *n)
{
    *n = 0;
    enum mq_status rc = park_open(c);
    if (rc != MQ_OK)
        return rc;
    int got = 1;
    while (*n < max && got == 1) {
        amqp_message_t msg;
        uint64_t tag = 0;
        got = park_get(c, queue, &msg, &tag);
        if (got == 1) {
            parked_fill(&msg, &out[(*n)++]);
            amqp_destroy_message(&msg);
        }
    }
    if (got < 0)
        return MQ_GONE;
    park_close(c);
    return MQ_OK;
}

/* The message got with tag, found (filled into *p): published again
 * (replay) with a confirm, then acked (taken off the parked queue). */
static enum mq_status take_one(mq_conn *c, const amqp_message_t *msg, uint64_t tag, int replay,
                               struct mq_parked *p)
{
    parked_fill(msg, p);
    if (replay) {
        enum mq_status rc = p->routing_key[0] == '\0'
                                ? MQ_ERR
                                : mq_publish(c, MQ_EXCHANGE, p->routing_key, p->message_id,
                                             msg->body.bytes, msg->body.len);
        if (rc != MQ_OK)
            return rc;
    }
    if (c->st == NULL || amqp_basic_ack(c->st, PARK_CHANNEL, tag, 0) != AMQP_STATUS_OK) {
        conn_drop(c);
        return MQ_GONE;
    }
    return MQ_OK;
}

enum mq_status mq_parked_take(mq_conn *c, const char *queue, const char *message_id, int replay,
                              struct mq_parked *out, int *found)
{
    *found = 0;
    enum mq_status rc = park_open(c);
    if (rc != MQ_OK)
        return rc;
    int got = 1;
    for (int i = 0; i < MQ_PARKED_SCAN_MAX && got == 1 && !*found; i++) {
        amqp_message_t msg;
        uint64_t tag = 0;
        got = park_get(c, queue, &msg, &tag);
        if (got != 1)
            break;
        const amqp_basic_properties_t *p = &msg.properties;
        if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len == strlen(message_id) &&
            memcmp(p->message_id.bytes, message_id, p->message_id.len) == 0) {
            *found = 1;
            rc = take_one(c, &msg, tag, replay, out);
        }
        amqp_destroy_message(&msg);
    }
    if (got < 0)
        return MQ_GONE;
    park_close(c);
    return rc;
}
