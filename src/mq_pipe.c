/* mq_pipe: a confirm-batching publisher shared by threads (see mq_pipe.h).
 *
 * Callers' requests live on their own stacks and are chained in a FIFO under
 * one mutex. The publishing thread detaches up to max_batch of them, publishes
 * them with mq_publish_batch outside the lock, then marks them done and
 * broadcasts; each caller waits for its own done flag. While nothing is
 * queued the thread wakes every second to keep the connection's heartbeats
 * going. */
#include "mq_pipe.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define IDLE_TICK_S 1

struct pipe_req {
    struct mq_out out;
    int done;
    struct pipe_req *next;
};

struct mq_pipe {
    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread: something was queued, or stop */
    pthread_cond_t done; /* the callers: a round finished */
    struct pipe_req *head, *tail;
    int stopping;
    int max_batch;
    mq_conn *conn;
    struct mq_params params;
    pthread_t thread;
};

static void fail_all(struct pipe_req *r, enum mq_status st)
{
    for (; r != NULL; r = r->next) {
        r->out.status = st;
        r->done = 1;
    }
}

static void *pipe_main(void *arg)
{
    mq_pipe *pp = arg;
    struct mq_out *batch = calloc((size_t)pp->max_batch, sizeof *batch);
    struct pipe_req **reqs = calloc((size_t)pp->max_batch, sizeof *reqs);
    pthread_mutex_lock(&pp->mu);
    for (;;) {
        while (pp->head == NULL && !pp->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += IDLE_TICK_S;
            if (pthread_cond_timedwait(&pp->work, &pp->mu, &ts) == ETIMEDOUT && pp->head == NULL &&
                pp->conn != NULL) {
                pthread_mutex_unlock(&pp->mu);
                mq_idle(pp->conn);
                pthread_mutex_lock(&pp->mu);
            }
        }
        if (pp->stopping || batch == NULL || reqs == NULL)
            break;
        size_t n = 0;
        while (pp->head != NULL && n < (size_t)pp->max_batch) {
            reqs[n] = pp->head;
            pp->head = pp->head->next;
            batch[n] = reqs[n]->out;
            n++;
        }
        if (pp->head == NULL)
            pp->tail = NULL;
        pthread_mutex_unlock(&pp->mu);

        if (pp->conn == NULL)
            pp->conn = mq_open(&pp->params);
        if (pp->conn == NULL) {
            for (size_t i = 0; i < n; i++)
                batch[i].status = MQ_GONE;
        } else {
            mq_publish_batch(pp->conn, batch, n);
        }

        pthread_mutex_lock(&pp->mu);
        for (size_t i = 0; i < n; i++) {
            reqs[i]->out.status = batch[i].status;
            reqs[i]->done = 1;
        }
        pthread_cond_broadcast(&pp->done);
    }
    /* Stopping (or out of memory): nobody may wait for ever. */
    if (batch == NULL || reqs == NULL)
        log_error("mq_pipe: out of memory; publishing stopped");
    fail_all(pp->head, MQ_GONE);
    pp->head = pp->tail = NULL;
    pthread_cond_broadcast(&pp->done);
    pthread_mutex_unlock(&pp->mu);
    free(reqs);
    free(batch);
    return NULL;
}

mq_pipe *mq_pipe_start(const struct mq_params *p, int max_batch)
{
    if (p == NULL)
        return NULL;
    mq_pipe *pp = calloc(1, sizeof *pp);
    if (pp == NULL) {
        log_error("mq_pipe: out of memory");
        return NULL;
    }
    pp->params = *p;
    pp->max_batch = max_batch < 1 ? 1 : max_batch;
    pp->conn = mq_open(p);
    if (pp->conn == NULL)
        log_warn("mq_pipe: broker not reachable now; connecting on first use");
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->work, NULL);
    pthread_cond_init(&pp->done, NULL);
    if (pthread_create(&pp->thread, NULL, pipe_main, pp) != 0) {
        log_error("mq_pipe: cannot start the publishing thread");
        mq_close(pp->conn);
        pthread_cond_destroy(&pp->done);
        pthread_cond_destroy(&pp->work);
        pthread_mutex_destroy(&pp->mu);
        free(pp);
        return NULL;
    }
    return pp;
}

enum mq_status mq_pipe_publish(mq_pipe *pp, const char *exchange, const char *routing_key,
                               const char *message_id, const void *body, size_t len)
{
    if (pp == NULL)
        return MQ_GONE;
    struct pipe_req r = {.out = {.exchange = exchange,
                                 .routing_key = routing_key,
                                 .message_id = message_id,
                                 .body = body,
                                 .len = len,
                                 .status = MQ_GONE}};
    pthread_mutex_lock(&pp->mu);
    if (pp->stopping) {
        pthread_mutex_unlock(&pp->mu);
        return MQ_GONE;
    }
    if (pp->tail != NULL)
        pp->tail->next = &r;
    else
        pp->head = &r;
    pp->tail = &r;
    pthread_cond_signal(&pp->work);
    while (!r.done)
        pthread_cond_wait(&pp->done, &pp->mu);
    pthread_mutex_unlock(&pp->mu);
    return r.out.status;
}

void mq_pipe_stop(mq_pipe *pp)
{
    if (pp == NULL)
        return;
    pthread_mutex_lock(&pp->mu);
    pp->stopping = 1;
    pthread_cond_signal(&pp->work);
    pthread_mutex_unlock(&pp->mu);
    pthread_join(pp->thread, NULL);
    mq_close(pp->conn);
    pthread_cond_destroy(&pp->done);
    pthread_cond_destroy(&pp->work);
    pthread_mutex_destroy(&pp->mu);
    free(pp);
}
