#define SUITE_NAME "snowflake"
#include "testmain.h"

#include "snowflake.h"

#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A clock the tests move by hand (single-threaded tests only). */
static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_init_worker_range(void)
{
    struct snowflake sf;
    CU_ASSERT_EQUAL(snowflake_init(&sf, 1024, NULL), -1);
    CU_ASSERT_EQUAL(snowflake_init(&sf, -1, NULL), -1);
    CU_ASSERT_EQUAL(snowflake_init(&sf, INT64_MAX, NULL), -1);
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, 0, NULL), 0);
    snowflake_destroy(&sf);
    CU_ASSERT_PTR_NULL(sf.lock);
    snowflake_destroy(&sf); /* a second destroy is harmless */
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, SNOWFLAKE_WORKER_MAX, NULL), 0);
    snowflake_destroy(&sf);
}

static void test_decode_parts(void)
{
    static const int64_t workers[] = {0, 1, 5, 512, 1023};
    for (size_t i = 0; i < sizeof workers / sizeof workers[0]; i++) {
        struct snowflake sf;
        fake_now = SNOWFLAKE_EPOCH_MS + INT64_C(86400000) * 365 * 3 + 123;
        CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, workers[i], fake_clock), 0);
        int64_t a = snowflake_next(&sf);
        int64_t b = snowflake_next(&sf);
        CU_ASSERT(a > 0);
        CU_ASSERT_EQUAL(snowflake_worker(a), workers[i]);
        CU_ASSERT_EQUAL(snowflake_worker(b), workers[i]);
        CU_ASSERT_EQUAL(snowflake_time_ms(a), fake_now);
        CU_ASSERT_EQUAL(snowflake_time_ms(b), fake_now);
        CU_ASSERT_EQUAL(snowflake_sequence(a), 0);
        CU_ASSERT_EQUAL(snowflake_sequence(b), 1);
        /* The layout itself: 41 | 10 | 12 bits. */
        CU_ASSERT_EQUAL(a, ((fake_now - SNOWFLAKE_EPOCH_MS) << 22) | (workers[i] << 12));
        snowflake_destroy(&sf);
    }
}

static void test_real_clock_time(void)
{
    struct snowflake sf;
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, 7, NULL), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t id = snowflake_next(&sf);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t after = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    CU_ASSERT(snowflake_time_ms(id) >= before);
    CU_ASSERT(snowflake_time_ms(id) <= after);
    CU_ASSERT_EQUAL(snowflake_worker(id), 7);
    snowflake_destroy(&sf);
}

static void test_positive_at_epoch(void)
{
    /* Worker 0 at the epoch itself (or a clock before it) must not yield 0. */
    struct snowflake sf;
    fake_now = SNOWFLAKE_EPOCH_MS - 5000;
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, 0, fake_clock), 0);
    int64_t prev = 0;
    for (int i = 0; i < 10; i++) {
        int64_t id = snowflake_next(&sf);
        CU_ASSERT(id > prev);
        prev = id;
    }
    fake_now = SNOWFLAKE_EPOCH_MS;
    CU_ASSERT(snowflake_next(&sf) > prev);
    snowflake_destroy(&sf);
}

static void test_clock_steps_back(void)
{
    struct snowflake sf;
    fake_now = SNOWFLAKE_EPOCH_MS + INT64_C(1000000000);
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, 3, fake_clock), 0);
    enum { N = 20000 };
    int64_t *ids = malloc(N * sizeof *ids);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    int ordered = 1;
    int64_t high = 0;
    for (int i = 0; i < N; i++) {
        if (i == N / 4)
            fake_now -= 10000; /* NTP steps the clock back 10 s */
        if (i > N / 4 && i % 100 == 0)
            fake_now++; /* ... and it runs on from there */
        ids[i] = snowflake_next(&sf);
        if (i > 0 && ids[i] <= ids[i - 1])
            ordered = 0;
        if (snowflake_time_ms(ids[i]) > high)
            high = snowflake_time_ms(ids[i]);
    }
    CU_ASSERT(ordered);
    /* The generator kept its high-water time instead of going back. */
    CU_ASSERT(snowflake_time_ms(ids[N / 4]) >= snowflake_time_ms(ids[N / 4 - 1]));
    CU_ASSERT(snowflake_time_ms(ids[N / 4]) > fake_now);
    /* Once the clock passes the high-water time, it is used again. */
    fake_now = high + 50;
    int64_t later = snowflake_next(&sf);
    CU_ASSERT(later > ids[N - 1]);
    CU_ASSERT_EQUAL(snowflake_time_ms(later), fake_now);
    CU_ASSERT_EQUAL(snowflake_sequence(later), 0);
    qsort(ids, N, sizeof *ids, cmp_id);
    int unique = 1;
    for (int i = 1; i < N; i++)
        if (ids[i] == ids[i - 1])
            unique = 0;
    CU_ASSERT(unique);
    free(ids);
    snowflake_destroy(&sf);
}

static void test_sequence_overflow(void)
{
    /* A frozen clock: more than 4096 ids in "one" millisecond. */
    struct snowflake sf;
    fake_now = SNOWFLAKE_EPOCH_MS + 777;
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, 9, fake_clock), 0);
    enum { N = 4096 * 3 + 10 };
    int64_t prev = 0;
    int ordered = 1;
    for (int i = 0; i < N; i++) {
        int64_t id = snowflake_next(&sf);
        if (id <= prev)
            ordered = 0;
        if (i == 4095) {
            CU_ASSERT_EQUAL(snowflake_sequence(id), 4095);
            CU_ASSERT_EQUAL(snowflake_time_ms(id), fake_now);
        }
        if (i == 4096) {
            /* Borrowed the next millisecond, sequence starts again. */
            CU_ASSERT_EQUAL(snowflake_sequence(id), 0);
            CU_ASSERT_EQUAL(snowflake_time_ms(id), fake_now + 1);
        }
        CU_ASSERT_EQUAL(snowflake_worker(id), 9);
        prev = id;
    }
    CU_ASSERT(ordered);
    CU_ASSERT_EQUAL(snowflake_time_ms(prev), fake_now + 3);
    CU_ASSERT_EQUAL(snowflake_sequence(prev), 9);
    snowflake_destroy(&sf);
}

enum { THREADS = 4, PER_THREAD = 250000 };

struct worker_arg {
    struct snowflake *sf;
    int64_t *out;
    int ordered;
};

static void *gen_ids(void *p)
{
    struct worker_arg *a = p;
    a->ordered = 1;
    for (int i = 0; i < PER_THREAD; i++) {
        a->out[i] = snowflake_next(a->sf);
        if (i > 0 && a->out[i] <= a->out[i - 1])
            a->ordered = 0;
    }
    return NULL;
}

static void test_threads_unique(void)
{
    struct snowflake sf;
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&sf, 42, NULL), 0);
    int64_t *ids = malloc((size_t)THREADS * PER_THREAD * sizeof *ids);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    pthread_t th[THREADS];
    struct worker_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (struct worker_arg){&sf, ids + (size_t)t * PER_THREAD, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, gen_ids, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        CU_ASSERT(args[t].ordered);
    }
    size_t n = (size_t)THREADS * PER_THREAD;
    qsort(ids, n, sizeof *ids, cmp_id);
    size_t dups = 0;
    for (size_t i = 1; i < n; i++)
        if (ids[i] == ids[i - 1])
            dups++;
    CU_ASSERT_EQUAL(dups, 0);
    CU_ASSERT(ids[0] > 0);
    CU_ASSERT_EQUAL(snowflake_worker(ids[0]), 42);
    CU_ASSERT_EQUAL(snowflake_worker(ids[n - 1]), 42);
    free(ids);
    snowflake_destroy(&sf);
}

static void test_global_generator(void)
{
    CU_ASSERT_EQUAL_FATAL(snowflake_init(&shop_ids, 1, NULL), 0);
    int64_t a = snowflake_next(&shop_ids);
    int64_t b = snowflake_next(&shop_ids);
    CU_ASSERT(b > a);
    CU_ASSERT_EQUAL(snowflake_worker(a), 1);
    snowflake_destroy(&shop_ids);
}

static void test_parse(void)
{
    static const struct {
        const char *s;
        int ok;
        int64_t want;
    } cases[] = {
        {"1", 1, 1},
        {"1234567890123", 1, INT64_C(1234567890123)},
        {"9223372036854775807", 1, INT64_MAX},
        {"9223372036854775808", 0, 0}, /* one past int64 */
        {"99999999999999999999", 0, 0},
        {"0", 0, 0},
        {"012", 0, 0},
        {"-1", 0, 0},
        {"+1", 0, 0},
        {" 1", 0, 0},
        {"12a", 0, 0},
        {"1.0", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = -7;
        int rc = snowflake_parse(cases[i].s, strlen(cases[i].s), &v);
        CU_ASSERT_EQUAL(rc, cases[i].ok ? 0 : -1);
        if (cases[i].ok) {
            CU_ASSERT_EQUAL(v, cases[i].want);
        } else {
            CU_ASSERT_EQUAL(v, -7); /* untouched on refusal */
        }
    }
    int64_t v = 0;
    /* len counts: a digit string inside a longer one, and an embedded NUL */
    CU_ASSERT_EQUAL(snowflake_parse("123/abc", 3, &v), 0);
    CU_ASSERT_EQUAL(v, 123);
    CU_ASSERT_EQUAL(snowflake_parse("12\0"
                                    "3",
                                    4, &v),
                    -1);
    CU_ASSERT_EQUAL(snowflake_parse(NULL, 0, &v), -1);
}

/* Formatting is the inverse of parsing, for every id an API carries. */
static void test_format(void)
{
    char s[SNOWFLAKE_STR_MAX];
    CU_ASSERT_STRING_EQUAL(snowflake_format(1, s), "1");
    CU_ASSERT_STRING_EQUAL(snowflake_format(1001, s), "1001");
    CU_ASSERT_STRING_EQUAL(snowflake_format(INT64_MAX, s), "9223372036854775807");
    CU_ASSERT_PTR_EQUAL(snowflake_format(42, s), s);
    /* not an id, but never cut: the buffer holds any int64 */
    CU_ASSERT_STRING_EQUAL(snowflake_format(INT64_MIN, s), "-9223372036854775808");
    int64_t ids[] = {1, 9, 10, 123456789, INT64_C(480000000000000001), INT64_MAX};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int64_t back = 0;
        snowflake_format(ids[i], s);
        CU_ASSERT_EQUAL(snowflake_parse(s, strlen(s), &back), 0);
        CU_ASSERT_EQUAL(back, ids[i]);
    }
}

static const struct test_case TESTS[] = {
    {"parse: decimal ids, no sign, no leading zero, within int64", test_parse},
    {"format: decimal digits that parse back to the same id", test_format},
    {"worker id range (1024 refused)", test_init_worker_range},
    {"id parts decode", test_decode_parts},
    {"time part follows the real clock", test_real_clock_time},
    {"ids are > 0 at or before the epoch", test_positive_at_epoch},
    {"clock stepping back 10 s", test_clock_steps_back},
    {"sequence overflow within one ms", test_sequence_overflow},
    {"1,000,000 ids from 4 threads are unique", test_threads_unique},
    {"process-wide shop_ids", test_global_generator},
    {NULL, NULL},
};

#include "testmain.h"
