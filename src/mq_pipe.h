/* mq_pipe: one broker connection shared by many threads that each need a
 * publisher confirm before they answer (the provider's notifications).
 *
 * A thread of its own owns the connection (one per lane, below). Callers queue their message and
 * sleep; the thread takes everything queued, publishes it all, waits once for
 * the confirms (the broker acks many with one frame) and wakes each caller
 * with its own message's status. While it waits, the next callers queue up:
 * the more callers at once, the bigger the batch, and a confirm costs one
 * round trip per batch instead of one per message. Each caller still gets
 * MQ_OK only after the broker confirmed its message. */
#ifndef SHOP_MQ_PIPE_H
#define SHOP_MQ_PIPE_H

#include <stddef.h>

#include "mq.h"

typedef struct mq_pipe mq_pipe;

/* Start `lanes` publishing threads, each with its own connection, which the
 * callers take in turn (the broker handles each connection's channel on one
 * core at most: more lanes, more of the broker's cores, but fewer callers a
 * round). *p (and the strings it points to) must stay valid until
 * mq_pipe_stop: the connections are made now or, when the broker is down, on
 * first use, and remade after a failure. At most max_batch messages go out
 * per round; the messages of a round that share a route travel as one bundle
 * (mq_publish_batch). linger_us > 0: while callers have announced themselves
 * (mq_pipe_announce), a round waits up to that long for them to join it
 * (fewer, larger bundles: less work for the broker per message, a little
 * more latency); with nobody announced it goes at once. NULL on failure
 * (logged). */
mq_pipe *mq_pipe_start(const struct mq_params *p, int lanes, int max_batch, int linger_us);

/* Publish as mq_publish does, through the pipe: returns when the broker
 * confirmed (MQ_OK) or why not. Safe from any number of threads. */
enum mq_status mq_pipe_publish(mq_pipe *pp, const char *exchange, const char *routing_key,
                               const char *message_id, const void *body, size_t len);

/* A caller that is about to publish (a notification whose signature is
 * being checked) announces itself, so that a round lingers for it; it
 * withdraws before it publishes, or when it will not publish after all.
 * Each announce needs its one withdraw. NULL is fine. */
void mq_pipe_announce(mq_pipe *pp);
void mq_pipe_withdraw(mq_pipe *pp);

/* Stop the threads: what is still queued is answered MQ_GONE. NULL is fine. */
void mq_pipe_stop(mq_pipe *pp);

#endif
