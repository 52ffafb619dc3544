#include "schedule.h"

#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "deliver.h"
#include "log.h"
#include "store.h"

#define SCAN_BATCH   32    /* tries per scan of pending/ */
#define IDLE_WAIT_MS 60000 /* the longest sleep with nothing pending */
#define NAME_LEN     80    /* "<notify_id>.json" */

/* Alipay's delays after the first, immediate try, in seconds. */
static const int RETRY_DELAYS_S[SCHEDULE_TRIES - 1] = {240, 600, 600, 3600, 7200, 21600, 54000};

static double scale = 1.0;
static atomic_int stopping;
static pthread_t thread;
static int running;
static pthread_mutex_t kick_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kick_cv = PTHREAD_COND_INITIALIZER;
static unsigned kick_gen; /* bumped when a notification is queued or on stop */

int64_t schedule_delay_ms(int attempt, double time_scale)
{
    if (attempt < 1 || attempt >= SCHEDULE_TRIES)
        return -1;
    return (int64_t)(RETRY_DELAYS_S[attempt - 1] * 1000.0 * time_scale);
}

int64_t schedule_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kick(void)
{
    pthread_mutex_lock(&kick_mu);
    kick_gen++;
    pthread_cond_signal(&kick_cv);
    pthread_mutex_unlock(&kick_mu);
}

int schedule_add(json_object *n)
{
    char name[NAME_LEN];
    const char *id = store_str(n, "notify_id");
    if (id == NULL || snprintf(name, sizeof name, "%s.json", id) >= (int)sizeof name)
        return -1;
    json_object_object_add(n, "attempts", json_object_new_int(0));
    json_object_object_add(n, "next_at_ms", json_object_new_int64(schedule_now_ms()));
    json_object_object_add(n, "created_ms", json_object_new_int64(schedule_now_ms()));
    if (store_write_json(SCHEDULE_PENDING, name, n) != 0)
        return -1;
    kick();
    return 0;
}

/* For log lines: printable ASCII only, at most max-1 bytes. */
static void log_safe(const char *s, char *out, size_t max)
{
    size_t o = 0;
    for (; *s && o + 1 < max; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[o] = '\0';
}

/* Record a failed try of n (pending/name): the next try, or give up. Called
 * with the store locked. */
static int record_failure(const char *name, json_object *n, int attempt, const char *answer)
{
    int64_t delay = schedule_delay_ms(attempt, scale);
    const char *url = store_str(n, "notify_url"), *id = store_str(n, "notify_id");
    const char *otn = store_str(n, "out_trade_no");
    json_object_object_add(n, "attempts", json_object_new_int(attempt));
    json_object_object_add(n, "last_answer", json_object_new_string(answer));
    json_object_object_add(n, "last_try_ms", json_object_new_int64(schedule_now_ms()));
    if (delay < 0) {
        int rc = store_write_json(SCHEDULE_PENDING, name, n);
        store_move(SCHEDULE_PENDING, SCHEDULE_FAILED, name);
        log_warn("notify %s out_trade_no=%s try %d/%d to %s: %s; giving up (failed/%s)", id, otn,
                 attempt, SCHEDULE_TRIES, url, answer, name);
        return rc;
    }
    json_object_object_add(n, "next_at_ms", json_object_new_int64(schedule_now_ms() + delay));
    log_info("notify %s out_trade_no=%s try %d/%d to %s: %s; next try in %lld ms", id, otn, attempt,
             SCHEDULE_TRIES, url, answer, (long long)delay);
    return store_write_json(SCHEDULE_PENDING, name, n);
}

/* Try pending/name once. Returns 0, or -1 when its file could not be updated
 * (the caller then backs off). */
static int deliver_one(const char *name)
{
    char err[256] = "", answer[80], safe[64];
    store_lock();
    json_object *n = store_read_json(SCHEDULE_PENDING, name);
    store_unlock();
    struct deliver_try t = {.url = n ? store_str(n, "notify_url") : NULL,
                            .body = n ? store_str(n, "body") : NULL,
                            .stop = &stopping};
    if (t.url == NULL || t.body == NULL) {
        log_error("pending notification %s is unreadable: moved to failed/", name);
        store_lock();
        store_move(SCHEDULE_PENDING, SCHEDULE_FAILED, name);
        store_unlock();
        json_object_put(n);
        return 0;
    }
    int attempt = (int)store_int(n, "attempts", 0) + 1, status = 0, rc = 0;
    struct buf resp;
    buf_init(&resp, DELIVER_ANSWER_MAX);
    int ok = deliver_post_form(&t, &status, &resp, err, sizeof err) == 0;
    if (!ok && atomic_load(&stopping))
        goto out; /* interrupted by the stop: not a try; the restart tries again */
    if (ok) {
        log_safe(buf_str(&resp), safe, sizeof safe);
        snprintf(answer, sizeof answer, "HTTP %d \"%s\"", status, safe);
    } else {
        snprintf(answer, sizeof answer, "%.79s", err);
    }
    store_lock();
    if (ok && status >= 200 && status < 300 && strcmp(buf_str(&resp), "success") == 0) {
        rc = store_remove(SCHEDULE_PENDING, name);
        log_info("notify %s out_trade_no=%s delivered on try %d/%d to %s",
                 store_str(n, "notify_id"), store_str(n, "out_trade_no"), attempt, SCHEDULE_TRIES,
                 t.url);
    } else {
        rc = record_failure(name, n, attempt, answer);
    }
    store_unlock();
out:
    buf_free(&resp);
    json_object_put(n);
    return rc;
}

struct scan {
    int64_t now, earliest;
    size_t n;
    char due[SCAN_BATCH][NAME_LEN];
};

static int scan_one(const char *name, void *ud)
{
    struct scan *s = ud;
    json_object *o = store_read_json(SCHEDULE_PENDING, name);
    int64_t at = o ? store_int(o, "next_at_ms", 0) : 0; /* unreadable: due, then moved */
    json_object_put(o);
    if (at > s->now) {
        if (at < s->earliest)
            s->earliest = at;
    } else if (s->n < SCAN_BATCH && strlen(name) < NAME_LEN) {
        snprintf(s->due[s->n++], NAME_LEN, "%s", name);
    } else {
        s->earliest = s->now; /* more than one batch due: come back at once */
    }
    return 0;
}

/* Sleep until `until` (ms), a kick after generation gen, or the stop. */
static void sleep_until(int64_t until, unsigned gen)
{
    struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                          .tv_nsec = (long)(until % 1000) * 1000000L};
    pthread_mutex_lock(&kick_mu);
    while (!atomic_load(&stopping) && kick_gen == gen &&
           pthread_cond_timedwait(&kick_cv, &kick_mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&kick_mu);
}

static void *delivery_main(void *arg)
{
    static struct scan s;
    (void)arg;
    while (!atomic_load(&stopping)) {
        pthread_mutex_lock(&kick_mu);
        unsigned gen = kick_gen;
        pthread_mutex_unlock(&kick_mu);
        s.now = schedule_now_ms();
        s.earliest = INT64_MAX;
        s.n = 0;
        store_lock();
        store_each(SCHEDULE_PENDING, ".json", scan_one, &s);
        store_unlock();

        int io_error = 0;
        for (size_t i = 0; i < s.n && !atomic_load(&stopping); i++)
            if (deliver_one(s.due[i]) != 0)
                io_error = 1;
        if (s.n > 0 && !io_error)
            continue; /* rescan: the tries just made are rescheduled in the future */
        /* A failed file update backs off one second instead of spinning. */
        int64_t now = schedule_now_ms();
        sleep_until(io_error ? now + 1000
                             : (s.earliest == INT64_MAX ? now + IDLE_WAIT_MS : s.earliest),
                    gen);
    }
    return NULL;
}

int schedule_start(double time_scale)
{
    scale = time_scale;
    atomic_store(&stopping, 0);
    if (pthread_create(&thread, NULL, delivery_main, NULL) != 0)
        return -1;
    running = 1;
    return 0;
}

void schedule_stop(void)
{
    if (!running)
        return;
    atomic_store(&stopping, 1);
    kick();
    pthread_join(thread, NULL);
    running = 0;
}

static int count_one(const char *name, void *ud)
{
    (void)name, (void)ud;
    return 0;
}

int schedule_count(const char *sub)
{
    int n = store_each(sub, "", count_one, NULL);
    return n < 0 ? 0 : n;
}
