/* mq: RabbitMQ through rabbitmq-c 0.11. Durable topology declared from one
 * table, persistent publishing that waits for the broker's confirm, consuming
 * with manual acks and a prefetch, and a reconnect with backoff when the
 * broker goes away. A connection is used by one thread at a time. */
#ifndef SHOP_MQ_H
#define SHOP_MQ_H

#include <signal.h>
#include <stddef.h>

/* The topic exchange every event is published to. */
#define MQ_EXCHANGE "shop.events"

struct mq_params {
    const char *host;
    int port;
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

/* Declare the exchange, the queues and their bindings (idempotent). */
enum mq_status mq_declare_topology(mq_conn *c);

/* Publish persistent (delivery_mode 2) JSON with message_id and wait for the
 * broker's ack. MQ_OK only after basic.ack. On MQ_GONE the connection is
 * marked for reconnect by the next mq_ensure. */
enum mq_status mq_publish(mq_conn *c, const char *exchange, const char *routing_key,
                          const char *message_id, const void *body, size_t len);

/* What a consumer callback decides for one delivery. */
enum mq_verdict {
    MQ_ACK,    /* done (including "already done"): ack */
    MQ_RETRY,  /* failed for now: reject without requeue after scheduling a retry */
    MQ_REJECT, /* poison: reject without requeue */
};

struct mq_message {
    const char *routing_key;
    const char *message_id; /* "" when absent */
    const char *body;       /* NUL-terminated copy */
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

/* A cheap check that the broker answers (used by /healthz). */
enum mq_status mq_ping(mq_conn *c);

#endif
