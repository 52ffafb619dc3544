/* mq: RabbitMQ through rabbitmq-c 0.11. Durable topology declared from one
 * table, persistent publishing that waits for the broker's confirm, consuming
 * with manual acks and a prefetch, and a reconnect with backoff when the
 * broker goes away. A connection is used by one thread at a time. */
#ifndef SHOP_MQ_H
#define SHOP_MQ_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* The topic exchange every event is published to. */
#define MQ_EXCHANGE "shop.events"

struct mq_params {
    const char *host; /* with port: the node when hosts is NULL or "" */
    int port;
    /* "host:port,host:port,..." (src/hostlist.h): a connection goes to the
     * first node that answers; when it is lost, the next call tries the
     * following nodes in turn, round robin from the one that failed. */
    const char *hosts;
    int quorum; /* 1: every queue declared is a quorum queue (mq_queue_type) */
    const char *user;
    const char *password;
    const char *vhost;
    int timeout_ms;  /* connect and confirm wait */
    int heartbeat_s; /* 0 = none */
};

typedef struct mq_conn mq_conn;

enum mq_status {
    MQ_OK = 0,
    MQ_ERR = -1,     /* the broker refused (logged) */
    MQ_GONE = -2,    /* no connection / connection lost */
    MQ_NACKED = -3,  /* the broker answered basic.nack */
    MQ_TIMEOUT = -4, /* no confirm within timeout_ms */
};

/* Connect, open channel 1 and put it in confirm mode. NULL on failure
 * (logged). The params are copied. */
mq_conn *mq_open(const struct mq_params *p);
void mq_close(mq_conn *c);

/* Reconnect when the connection is gone (no-op when it is up). */
enum mq_status mq_ensure(mq_conn *c);

/* Retry plumbing. Every consumed queue Q comes with two durable queues:
 *   Q.retry   x-message-ttl MQ_RETRY_TTL_MS, dead-lettered (exchange "",
 *             routing key Q) back to Q when the TTL expires;
 *   Q.parked  plain: messages that were rejected or retried too often wait
 *             there for a human.
 * mq_consume handles MQ_RETRY by publishing a copy (persistent, confirmed) to
 * Q.retry with the header x-shop-tries incremented and the original routing
 * key kept in x-shop-routing-key, then acking the original; after
 * MQ_MAX_TRIES retries, and on MQ_REJECT, the copy goes to Q.parked instead. */
#define MQ_RETRY_TTL_MS 5000
#define MQ_MAX_TRIES    5

/* Declare the exchange, the queue of each consumer of src/topology.h's table
 * with its retry plumbing, and their bindings (idempotent). */
enum mq_status mq_declare_topology(mq_conn *c);

/* Declare one durable queue with its Q.retry (TTL retry_ttl_ms) and Q.parked,
 * bound to `exchange` (declared as a durable topic exchange) with each key of
 * the NULL-terminated `keys`. mq_declare_topology uses it for each queue of its
 * table; tests use it for scratch queues. Redeclaring with another TTL fails. */
enum mq_status mq_declare_queue(mq_conn *c, const char *exchange, const char *queue,
                                const char *const *keys, int retry_ttl_ms);

/* Declare a durable delay queue that nobody consumes: each message waits
 * ttl_ms there, then is dead-lettered to dl_exchange (declared as a durable
 * topic exchange) with routing key dl_key. Publish into it with
 * mq_publish(c, "", queue, ...). Redeclaring with another TTL fails: put the
 * TTL in the queue's name. */
enum mq_status mq_declare_delay_queue(mq_conn *c, const char *queue, int ttl_ms,
                                      const char *dl_exchange, const char *dl_key);

/* Publish persistent (delivery_mode 2) JSON with message_id and wait for the
 * broker's ack. MQ_OK only after basic.ack. The message is mandatory: an
 * unroutable one comes back as MQ_ERR. On MQ_GONE or MQ_TIMEOUT the
 * connection is dropped and reconnected by the next call; a publish that
 * finds an established connection dead is retried once on a new one (at
 * least once: consumers dedupe by message_id). */
enum mq_status mq_publish(mq_conn *c, const char *exchange, const char *routing_key,
                          const char *message_id, const void *body, size_t len);

/* One message of mq_publish_batch. */
struct mq_out {
    const char *exchange;
    const char *routing_key;
    const char *message_id;
    const void *body;
    size_t len;
    enum mq_status status; /* set by mq_publish_batch: as mq_publish's */
};

/* Publish n messages as mq_publish does, all of them first and then one wait
 * for all their confirms (the broker may ack many with one frame). Each
 * message gets its own status; returns MQ_OK when all are MQ_OK, else the
 * first failure. On a connection found dead, the messages it lost are
 * published once more on a new one. */
enum mq_status mq_publish_batch(mq_conn *c, struct mq_out *msgs, size_t n);

/* Let an idle connection answer the broker's heartbeats (non-blocking).
 * MQ_GONE when the connection is (now) down. */
enum mq_status mq_idle(mq_conn *c);

/* What a consumer callback decides for one delivery. */
enum mq_verdict {
    MQ_ACK,    /* done (including "already done"): ack */
    MQ_RETRY,  /* failed for now: a copy goes to Q.retry (Q.parked after MQ_MAX_TRIES) */
    MQ_REJECT, /* poison: a copy goes to Q.parked */
};

struct mq_message {
    const char *routing_key; /* the original one, also after retries */
    const char *message_id;  /* "" when absent */
    const char *body;        /* NUL-terminated copy */
    size_t body_len;
    int redelivered;
    unsigned long long delivery_tag;
};

typedef enum mq_verdict (*mq_handler)(const struct mq_message *m, void *ud);

/* Consume `queue` with basic.qos(prefetch) and manual acks, calling fn for
 * each delivery and acking/rejecting by its verdict after it returns.
 * Reconnects (with backoff up to 5 s) when the broker goes away and declares
 * the topology again. Returns when *stop becomes non-zero (checked at least
 * every 500 ms). */
enum mq_status mq_consume(mq_conn *c, const char *queue, int prefetch, mq_handler fn, void *ud,
                          volatile sig_atomic_t *stop);

/* Batching for mq_consume_batched: the deliveries that have arrived together
 * (at most max, and at most the prefetch) are handled inside one transaction
 * that begin opens and end closes, and settled only after end committed
 * (all acked: one multiple ack). When begin fails (non-zero) or end does not
 * commit, each delivery is handled once more on its own, so the handler must
 * make a second run harmless (it does: its effects were rolled back). */
struct mq_batch {
    int max;
    int (*begin)(void *ud);           /* 0: the batch's transaction is open */
    int (*end)(void *ud, int commit); /* commit: 0 when durable; else roll back */
    void (*idle)(void *ud);           /* optional: nothing arrived for a while */
    /* Optional: inside the batch, one call for all the messages instead of
     * the handler for each (multi-row statements); it sets a verdict for
     * each. Non-zero: the batch is rolled back and the handler does each
     * message alone. Gets the handler's ud. */
    int (*all)(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts, void *ud);
    void *ud;
};

enum mq_status mq_consume_batched(mq_conn *c, const char *queue, int prefetch, mq_handler fn,
                                  void *ud, const struct mq_batch *b, volatile sig_atomic_t *stop);

/* How a loop that handles messages in rounds batches (a consumer's batches,
 * a publishing pipe's rounds): after each round, mq_rounds_add counts its n
 * messages, and every 10 s while the loop works it logs "mq: WHAT: N
 * messages in S s, R a second, in rounds of A on average (at most M)".
 * Start from {0}. */
struct mq_rounds {
    int64_t since; /* ms, monotonic: the period began */
    unsigned long messages, rounds, largest;
};
void mq_rounds_add(struct mq_rounds *s, const char *what, size_t n);

/* The messages ready in queue (a passive declare: the broker's count).
 * MQ_ERR when the queue does not exist (the connection is then dropped and
 * made again on the next call), MQ_GONE when the broker is down. */
enum mq_status mq_queue_depth(mq_conn *c, const char *queue, uint32_t *messages);

/* A cheap check that the broker answers (used by /healthz). */
enum mq_status mq_ping(mq_conn *c);

/* Parked messages, for the operators' console. A parked queue (Q.parked) is
 * read with basic.get without ack on a channel of its own, which is then
 * closed: the broker puts back every message that was not acked, so reading
 * never loses one (nor does a crash in between). */
#define MQ_PARKED_BODY_MAX 4096 /* bytes of a body shown (body_len: all) */
#define MQ_PARKED_SCAN_MAX 1000 /* messages mq_parked_take looks through */
struct mq_parked {
    char message_id[128];
    char routing_key[128]; /* the original one (x-shop-routing-key) */
    char reason[128];      /* x-shop-parked-reason: "rejected", "retries exhausted" */
    int64_t tries;
    size_t body_len;
    char body[MQ_PARKED_BODY_MAX + 1]; /* cut at MQ_PARKED_BODY_MAX, NUL-terminated */
};
/* The first (at most max) messages of queue into out[0..*n), left in place. */
enum mq_status mq_parked_list(mq_conn *c, const char *queue, struct mq_parked *out, size_t max,
                              size_t *n);
/* Take the message with message_id off queue (among its first
 * MQ_PARKED_SCAN_MAX): replay 1 publishes it again to MQ_EXCHANGE with its
 * original routing key and message id, confirmed, before it is acked (the
 * consumers dedupe, so a replay that is published twice is harmless);
 * replay 0 discards it. *found says whether it was there (then *out is
 * the message); the others stay. */
enum mq_status mq_parked_take(mq_conn *c, const char *queue, const char *message_id, int replay,
                              struct mq_parked *out, int *found);

#endif
