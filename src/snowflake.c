#include "snowflake.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WORKER_BITS   10
#define SEQUENCE_BITS 12
#define SEQUENCE_MAX  ((INT64_C(1) << SEQUENCE_BITS) - 1)
#define TIME_MAX      ((INT64_C(1) << 41) - 1)
/* How long a full millisecond waits for the clock before borrowing the next
 * one: long enough for a live clock to tick, short enough that a stuck or
 * stepped-back clock does not stall every caller. */
#define OVERFLOW_WAIT_NS 2000000L
#define OVERFLOW_POLL_NS 20000L

struct snowflake shop_ids;

static int64_t real_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int snowflake_init(struct snowflake *sf, int64_t worker_id, int64_t (*clock_ms)(void))
{
    if (worker_id < 0 || worker_id > SNOWFLAKE_WORKER_MAX)
        return -1;
    pthread_mutex_t *m = malloc(sizeof *m);
    if (m == NULL)
        return -1;
    if (pthread_mutex_init(m, NULL) != 0) {
        free(m);
        return -1;
    }
    sf->last_ms = 0;
    /* Sequence 0 at time 0 with worker 0 would be id 0; starting at 1 keeps
     * every id > 0 even with a clock sitting at the epoch. */
    sf->sequence = 1;
    sf->worker_id = worker_id;
    sf->clock_ms = clock_ms ? clock_ms : real_clock_ms;
    sf->lock = m;
    return 0;
}

void snowflake_destroy(struct snowflake *sf)
{
    if (sf->lock == NULL)
        return;
    pthread_mutex_destroy(sf->lock);
    free(sf->lock);
    sf->lock = NULL;
}

static int64_t now_ms(const struct snowflake *sf)
{
    int64_t t = sf->clock_ms() - SNOWFLAKE_EPOCH_MS;
    return t < 0 ? 0 : t;
}

/* The sequence of last_ms is used up. Wait briefly for a live clock to move
 * past it; when it does not (stepped back, frozen in tests, or simply slow),
 * take the next millisecond: ids stay unique and increasing either way. */
static void next_millisecond(struct snowflake *sf)
{
    for (long waited = 0; waited < OVERFLOW_WAIT_NS; waited += OVERFLOW_POLL_NS) {
        int64_t now = now_ms(sf);
        if (now > sf->last_ms) {
            sf->last_ms = now;
            sf->sequence = 0;
            return;
        }
        /* Waiting only helps when the clock is at last_ms; a clock behind
         * it (stepped back, or we already borrowed) will not catch up soon. */
        if (now < sf->last_ms)
            break;
        struct timespec ts = {0, OVERFLOW_POLL_NS};
        nanosleep(&ts, NULL);
    }
    sf->last_ms++;
    sf->sequence = 0;
}

int64_t snowflake_next(struct snowflake *sf)
{
    pthread_mutex_lock(sf->lock);
    int64_t now = now_ms(sf);
    /* A clock at or behind the high-water time keeps using last_ms: time
     * never goes back inside the generator. */
    if (now > sf->last_ms) {
        sf->last_ms = now;
        sf->sequence = 0;
    } else if (sf->sequence > SEQUENCE_MAX) {
        next_millisecond(sf);
    }
    /* 41 bits of time last until 2093; past that ids would wrap into the sign
     * bit and repeat, which is worse than stopping. */
    if (sf->last_ms > TIME_MAX)
        abort();
    int64_t id = (sf->last_ms << (WORKER_BITS + SEQUENCE_BITS)) | (sf->worker_id << SEQUENCE_BITS) |
                 sf->sequence;
    sf->sequence++;
    pthread_mutex_unlock(sf->lock);
    return id;
}

int64_t snowflake_time_ms(int64_t id)
{
    return (id >> (WORKER_BITS + SEQUENCE_BITS)) + SNOWFLAKE_EPOCH_MS;
}

int64_t snowflake_worker(int64_t id)
{
    return (id >> SEQUENCE_BITS) & SNOWFLAKE_WORKER_MAX;
}

int64_t snowflake_sequence(int64_t id)
{
    return id & SEQUENCE_MAX;
}

int snowflake_parse(const char *s, size_t len, int64_t *out)
{
    if (s == NULL || len == 0 || len > 19 || s[0] == '0')
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

char *snowflake_format(int64_t id, char out[SNOWFLAKE_STR_MAX])
{
    snprintf(out, SNOWFLAKE_STR_MAX, "%" PRId64, id);
    return out;
}
