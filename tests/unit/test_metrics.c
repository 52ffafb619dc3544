#define SUITE_NAME "metrics"
#include "testmain.h"

#include "buf.h"
#include "metrics.h"

#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole exposition of this process (and others). */
static char *render(const char *const *others, size_t n)
{
    struct buf b;
    buf_init(&b, 4 << 20);
    CU_ASSERT_EQUAL(metrics_render(&b, others, n), 0);
    return buf_detach(&b);
}

static void test_labels_escaped(void)
{
    char l[METRICS_LABELS_MAX];
    CU_ASSERT_EQUAL(
        metrics_labels(l, sizeof l, "route", "/api/orders", "status", "201", METRICS_END), 0);
    CU_ASSERT_STRING_EQUAL(l, "route=\"/api/orders\",status=\"201\"");
    CU_ASSERT_EQUAL(metrics_labels(l, sizeof l, "v", "a\"b\\c\nd", METRICS_END), 0);
    CU_ASSERT_STRING_EQUAL(l, "v=\"a\\\"b\\\\c\\nd\"");
    char small[8];
    CU_ASSERT_EQUAL(metrics_labels(small, sizeof small, "route", "/too/long", METRICS_END), -1);
    CU_ASSERT_STRING_EQUAL(small, "");
}

static void test_counter_and_gauge(void)
{
    metrics_set_process("app.7");
    metrics_count(METRIC_HTTP_REQUESTS, "route=\"/x\",status=\"200\"", 2);
    metrics_count(METRIC_HTTP_REQUESTS, "route=\"/x\",status=\"200\"", 3);
    metrics_count(METRIC_HTTP_REQUESTS, "route=\"/x\",status=\"404\"", 1);
    metrics_set(METRIC_OUTBOX_PENDING, "", 9);
    metrics_set(METRIC_OUTBOX_PENDING, "", 4);
    char *t = render(NULL, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE shop_http_requests_total counter\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(t, "shop_http_requests_total{route=\"/x\",status=\"200\",process=\"app.7\"} 5\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(t, "shop_http_requests_total{route=\"/x\",status=\"404\",process=\"app.7\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "shop_outbox_pending{process=\"app.7\"} 4\n"));
    /* Every family has its HELP and TYPE once. */
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# HELP shop_up "));
    const char *first = strstr(t, "# TYPE shop_queue_parked gauge");
    CU_ASSERT_PTR_NOT_NULL(first);
    CU_ASSERT_PTR_NULL(first ? strstr(first + 1, "# TYPE shop_queue_parked gauge") : NULL);
    free(t);
}

static void test_histogram(void)
{
    metrics_observe(METRIC_HTTP_DURATION, "route=\"/h\"", 0.003);
    metrics_observe(METRIC_HTTP_DURATION, "route=\"/h\"", 0.2);
    metrics_observe(METRIC_HTTP_DURATION, "route=\"/h\"", 99);
    char *t = render(NULL, 0);
    const char *p = "shop_http_request_duration_seconds_bucket{route=\"/h\",process=\"app.7\",";
    char line[256];
    snprintf(line, sizeof line, "%sle=\"0.0025\"} 0\n", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, line));
    snprintf(line, sizeof line, "%sle=\"0.005\"} 1\n", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, line));
    snprintf(line, sizeof line, "%sle=\"0.25\"} 2\n", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, line));
    snprintf(line, sizeof line, "%sle=\"10\"} 2\n", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, line));
    snprintf(line, sizeof line, "%sle=\"+Inf\"} 3\n", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, line));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(t, "shop_http_request_duration_seconds_count{route=\"/h\",process=\"app.7\"} 3\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(t, "shop_http_request_duration_seconds_sum{route=\"/h\",process=\"app.7\"} 99.203"));
    free(t);
}

/* Another process's text is merged into the right families, so that each
 * family stays one group; its HELP/TYPE lines are not repeated. */
static void test_merge(void)
{
    const char *other =
        "# HELP shop_consumer_messages_total x\n# TYPE shop_consumer_messages_total counter\n"
        "shop_consumer_messages_total{consumer=\"shop.order\",result=\"acked\",process=\"order.1\"}"
        " 12\n"
        "shop_publish_confirm_seconds_bucket{process=\"order.1\",le=\"+Inf\"} 3\n"
        "shop_publish_confirm_seconds_count{process=\"order.1\"} 3\n"
        "shop_http_requests_totalx{process=\"order.1\"} 1\n";
    const char *others[] = {other};
    char *t = render(others, 1);
    const char *fam = strstr(t, "# TYPE shop_consumer_messages_total counter\n");
    const char *line =
        strstr(t, "{consumer=\"shop.order\",result=\"acked\",process=\"order.1\"} 12");
    const char *next = strstr(t, "# HELP shop_up");
    CU_ASSERT(fam != NULL && line != NULL && next != NULL && fam < line && line < next);
    const char *hist = strstr(t, "# TYPE shop_publish_confirm_seconds histogram\n");
    const char *count = strstr(t, "shop_publish_confirm_seconds_count{process=\"order.1\"} 3\n");
    const char *after = strstr(t, "# HELP shop_outbox_pending");
    CU_ASSERT(hist != NULL && count != NULL && after != NULL && hist < count && count < after);
    CU_ASSERT_PTR_NULL(strstr(t, "shop_http_requests_totalx"));
    /* Only one TYPE line of the merged family. */
    CU_ASSERT_PTR_NULL(strstr(fam + 1, "# TYPE shop_consumer_messages_total"));
    free(t);
}

static int seen_fresh, seen_stale;
static void on_process(const char *process, int fresh, void *ud)
{
    (void)ud;
    if (strcmp(process, "order.1") == 0)
        seen_fresh += fresh;
    if (strcmp(process, "old.1") == 0)
        seen_stale += !fresh;
}

/* A consumer writes its file; the app reads the fresh ones and is told of
 * the stale ones. */
static void test_files(void)
{
    char dir[] = "/tmp/shop-metrics-test.XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    metrics_set_process("order.1");
    CU_ASSERT_EQUAL(metrics_write_file(dir), 0);
    char old[300];
    snprintf(old, sizeof old, "%s/old.1.prom", dir);
    FILE *f = fopen(old, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("shop_up{process=\"old.1\"} 1\n", f);
    fclose(f);
    struct timespec times[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    CU_ASSERT_EQUAL(utimensat(AT_FDCWD, old, times, 0), 0);

    metrics_set_process("app.1");
    char *texts[8];
    int n = metrics_read_dir(dir, 30, texts, 8, on_process, NULL);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(seen_fresh, 1);
    CU_ASSERT_EQUAL(seen_stale, 1);
    if (n == 1) {
        CU_ASSERT_PTR_NOT_NULL(strstr(texts[0], "process=\"order.1\""));
        free(texts[0]);
    }
    /* Its own file is not read back. */
    metrics_set_process("order.1");
    seen_fresh = 0;
    n = metrics_read_dir(dir, 30, texts, 8, on_process, NULL);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(seen_fresh, 0);
    char path[300];
    snprintf(path, sizeof path, "%s/order.1.prom", dir);
    unlink(path);
    unlink(old);
    rmdir(dir);
    CU_ASSERT_EQUAL(metrics_read_dir(dir, 30, texts, 8, NULL, NULL), -1);
}

static void *count_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++)
        metrics_count(METRIC_NOTIFY, "result=\"threads\"", 1);
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, count_many, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    metrics_set_process("app.7");
    char *s = render(NULL, 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s, "shop_notify_total{result=\"threads\",process=\"app.7\"} 40000\n"));
    free(s);
}

static const struct test_case TESTS[] = {
    {"labels are escaped and capped", test_labels_escaped},
    {"counters and gauges", test_counter_and_gauge},
    {"histograms are cumulative", test_histogram},
    {"other processes' texts merge into their families", test_merge},
    {"files: fresh read, stale reported, own skipped", test_files},
    {"counting from many threads loses nothing", test_threads},
    {NULL, NULL},
};

#include "testmain.h"
