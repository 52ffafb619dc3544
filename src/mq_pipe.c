/* mq_pipe: a confirm-batching publisher shared by threads (see mq_pipe.h).
 *
 * Lanes: each is a publishing thread with its own connection (the broker
 * handles a channel in one process, so one connection tops out at one core
 * of the broker). Callers take the lanes in turn. In a lane, the callers'
 * requests live on their own stacks, chained in a FIFO under the lane's
 * mutex; the thread detaches up to max_batch of them, publishes them with
 * mq_publish_batch outside the lock, then posts each caller's own semaphore
 * (waking only that caller). While nothing is queued the
 * thread wakes every second to keep the connection's heartbeats going. */
#include "mq_pipe.h"

#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define IDLE_TICK_S 1

struct pipe_req {
    struct mq_out out;
    sem_t done; /* posted once the status is in out */
    struct pipe_req *next;
};

/* One publishing thread with its connection and its queue of callers. */
struct lane {
    pthread_mutex_t mu;
    pthread_cond_t work; /* the thread: something was queued, or stop */
    struct pipe_req *head, *tail;
    size_t queued; /* requests between head and tail */
    int stopping;
    int max_batch;
    long linger_ns;         /* how long a round waits for more callers (0: never) */
    size_t last_n;          /* messages of the last round */
    atomic_int *coming;     /* the pipe's callers on their way (mq_pipe_announce) */
    char name[32];          /* "mq_pipe lane K", for the log */
    struct mq_rounds stats; /* how it batches, logged every 10 s */
    mq_conn *conn;
    const struct mq_params *params;
    pthread_t thread;
    int started;
};

struct mq_pipe {
    atomic_uint next;  /* round robin over the lanes */
    atomic_int coming; /* callers announced and not yet withdrawn */
    int nlanes;
    struct lane lanes[];
};

/* Answer a caller: after sem_post the request (on its stack) may be gone. */
static void answer(struct pipe_req *r, enum mq_status st)
{
    r->out.status = st;
    sem_post(&r->done);
}

static void fail_all(struct pipe_req *r, enum mq_status st)
{
    while (r != NULL) {
        struct pipe_req *next = r->next;
        answer(r, st);
        r = next;
    }
}

/* now + ns on CLOCK_REALTIME (pthread_cond_timedwait's clock). */
static struct timespec after_ns(long ns)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ns;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* With the lane's lock held and a caller queued: let more callers join
 * this round while they are on their way, for at most linger_ns, or until
 * max_batch are queued: one bundle and one confirm serve them all
 * (src/mq_bundle.h). On their way: announced (mq_pipe_announce: a
 * notification being verified now), or, when the last round carried more
 * than one (callers come together), arriving still (one came within the
 * last quarter of linger_ns). With nobody on the way the round goes at
 * once: a caller alone never waits. */
static void linger(struct lane *ln)
{
    if (ln->linger_ns <= 0)
        return;
    struct timespec end = after_ns(ln->linger_ns);
    size_t seen = ln->queued;
    int arriving = ln->last_n > 1;
    while (!ln->stopping && ln->queued < (size_t)ln->max_batch &&
           (arriving || atomic_load(ln->coming) > 0)) {
        struct timespec gap = after_ns(ln->linger_ns / 4);
        if (before(&end, &gap))
            gap = end;
        if (pthread_cond_timedwait(&ln->work, &ln->mu, &gap) != ETIMEDOUT)
            continue; /* someone came, or a spurious wake: look again */
        if (!before(&gap, &end))
            return;
        arriving = ln->queued != seen;
        seen = ln->queued;
    }
}

static void *lane_main(void *arg)
{
    struct lane *ln = arg;
    struct mq_out *batch = calloc((size_t)ln->max_batch, sizeof *batch);
    struct pipe_req **reqs = calloc((size_t)ln->max_batch, sizeof *reqs);
    pthread_mutex_lock(&ln->mu);
    for (;;) {
        while (ln->head == NULL && !ln->stopping) {
            struct timespec ts = after_ns(IDLE_TICK_S * 1000000000L);
            if (pthread_cond_timedwait(&ln->work, &ln->mu, &ts) == ETIMEDOUT && ln->head == NULL &&
                ln->conn != NULL) {
                pthread_mutex_unlock(&ln->mu);
                mq_idle(ln->conn);
                pthread_mutex_lock(&ln->mu);
            }
        }
        if (ln->stopping || batch == NULL || reqs == NULL)
            break;
        linger(ln);
        size_t n = 0;
        while (ln->head != NULL && n < (size_t)ln->max_batch) {
            reqs[n] = ln->head;
            ln->head = ln->head->next;
            batch[n] = reqs[n]->out;
            n++;
        }
        if (ln->head == NULL)
            ln->tail = NULL;
        ln->queued -= n;
        ln->last_n = n;
        pthread_mutex_unlock(&ln->mu);
        mq_rounds_add(&ln->stats, ln->name, n);

        if (ln->conn == NULL)
            ln->conn = mq_open(ln->params);
        if (ln->conn == NULL) {
            for (size_t i = 0; i < n; i++)
                batch[i].status = MQ_GONE;
        } else {
            mq_publish_batch(ln->conn, batch, n);
        }

        /* Each caller is woken alone: no herd on the lane's lock. */
        for (size_t i = 0; i < n; i++)
            answer(reqs[i], batch[i].status);
        pthread_mutex_lock(&ln->mu);
    }
    /* Stopping (or out of memory): nobody may wait for ever. */
    if (batch == NULL || reqs == NULL)
        log_error("mq_pipe: out of memory; publishing stopped");
    fail_all(ln->head, MQ_GONE);
    ln->head = ln->tail = NULL;
    ln->stopping = 1;
    pthread_mutex_unlock(&ln->mu);
    free(reqs);
    free(batch);
    return NULL;
}

mq_pipe *mq_pipe_start(const struct mq_params *p, int lanes, int max_batch, int linger_us)
{
    if (p == NULL)
        return NULL;
    if (lanes < 1)
        lanes = 1;
    mq_pipe *pp = calloc(1, sizeof *pp + (size_t)lanes * sizeof pp->lanes[0]);
    if (pp == NULL) {
        log_error("mq_pipe: out of memory");
        return NULL;
    }
    atomic_init(&pp->next, 0);
    atomic_init(&pp->coming, 0);
    for (int i = 0; i < lanes; i++) {
        struct lane *ln = &pp->lanes[i];
        ln->params = p;
        ln->max_batch = max_batch < 1 ? 1 : max_batch;
        ln->linger_ns = linger_us > 0 ? (long)linger_us * 1000L : 0;
        ln->coming = &pp->coming;
        snprintf(ln->name, sizeof ln->name, "mq_pipe lane %d", i + 1);
        ln->conn = mq_open(p);
        if (ln->conn == NULL)
            log_warn("mq_pipe: broker not reachable now; connecting on first use");
        pthread_mutex_init(&ln->mu, NULL);
        pthread_cond_init(&ln->work, NULL);
        pp->nlanes = i + 1;
        if (pthread_create(&ln->thread, NULL, lane_main, ln) != 0) {
            log_error("mq_pipe: cannot start publishing thread %d", i);
            mq_pipe_stop(pp);
            return NULL;
        }
        ln->started = 1;
    }
    return pp;
}

enum mq_status mq_pipe_publish(mq_pipe *pp, const char *exchange, const char *routing_key,
                               const char *message_id, const void *body, size_t len)
{
    if (pp == NULL)
        return MQ_GONE;
    struct lane *ln = &pp->lanes[atomic_fetch_add(&pp->next, 1) % (unsigned)pp->nlanes];
    struct pipe_req r = {.out = {.exchange = exchange,
                                 .routing_key = routing_key,
                                 .message_id = message_id,
                                 .body = body,
                                 .len = len,
                                 .status = MQ_GONE}};
    if (sem_init(&r.done, 0, 0) != 0)
        return MQ_ERR;
    pthread_mutex_lock(&ln->mu);
    if (ln->stopping) {
        pthread_mutex_unlock(&ln->mu);
        sem_destroy(&r.done);
        return MQ_GONE;
    }
    if (ln->tail != NULL)
        ln->tail->next = &r;
    else
        ln->head = &r;
    ln->tail = &r;
    ln->queued++;
    pthread_cond_signal(&ln->work);
    pthread_mutex_unlock(&ln->mu);
    int rc;
    do /* a signal (the app's SIGUSR2 nudge) is not an answer */
        rc = sem_wait(&r.done);
    while (rc != 0 && errno == EINTR);
    sem_destroy(&r.done);
    return r.out.status;
}

void mq_pipe_announce(mq_pipe *pp)
{
    if (pp != NULL)
        atomic_fetch_add(&pp->coming, 1);
}

void mq_pipe_withdraw(mq_pipe *pp)
{
    if (pp != NULL)
        atomic_fetch_sub(&pp->coming, 1);
}

void mq_pipe_stop(mq_pipe *pp)
{
    if (pp == NULL)
        return;
    for (int i = 0; i < pp->nlanes; i++) {
        struct lane *ln = &pp->lanes[i];
        pthread_mutex_lock(&ln->mu);
        ln->stopping = 1;
        pthread_cond_signal(&ln->work);
        pthread_mutex_unlock(&ln->mu);
    }
    for (int i = 0; i < pp->nlanes; i++) {
        struct lane *ln = &pp->lanes[i];
        if (ln->started)
            pthread_join(ln->thread, NULL);
        mq_close(ln->conn);
        pthread_cond_destroy(&ln->work);
        pthread_mutex_destroy(&ln->mu);
    }
    free(pp);
}
