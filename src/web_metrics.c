/* GET /metrics on nginx's metrics listener (ROUTE_METRICS): this app's
 * series, the gauges read at each scrape (the database and broker up, the
 * outbox, every shop queue's depth and parked count), and the series the
 * consumers and the relay wrote into the metrics directory (src/metrics.h
 * says why they do not listen themselves). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "mq.h"
#include "order_service.h"
#include "outbox.h"
#include "topology.h"
#include "web_internal.h"

/* A consumer whose file is older than this is taken for down. */
#define METRICS_FRESH_S   30
#define METRICS_FILES_MAX 256

static void set_up(const char *dependency, int up)
{
    char labels[METRICS_LABELS_MAX];
    if (metrics_labels(labels, sizeof labels, "dependency", dependency, METRICS_END) == 0)
        metrics_set(METRIC_UP, labels, up);
}

static void set_queue(enum metric_family f, const char *queue, uint32_t n)
{
    char labels[METRICS_LABELS_MAX];
    if (metrics_labels(labels, sizeof labels, "queue", queue, METRICS_END) == 0)
        metrics_set(f, labels, n);
}

/* Each shop queue's ready messages and its parked ones. 0, or -1 when the
 * broker did not answer. */
static int read_queues(mq_conn *mq)
{
    for (size_t i = 0; i < TOPO_COUNT; i++) {
        const char *q = topo_rows[i].queue;
        char parked[256];
        uint32_t n;
        if (q == NULL)
            continue;
        snprintf(parked, sizeof parked, "%s.parked", q);
        if (mq_queue_depth(mq, q, &n) == MQ_GONE)
            return -1;
        set_queue(METRIC_QUEUE_MESSAGES, q, n);
        if (mq_queue_depth(mq, parked, &n) == MQ_GONE)
            return -1;
        set_queue(METRIC_QUEUE_PARKED, q, n);
    }
    return 0;
}

static void consumer_seen(const char *process, int fresh, void *ud)
{
    char dependency[300];
    (void)ud;
    snprintf(dependency, sizeof dependency, "consumer:%s", process);
    set_up(dependency, fresh);
}

void web_metrics(struct web_ctx *c)
{
    db_conn *db = db_thread();
    set_up("database", db != NULL && db_ping(db) == DB_OK);
    int64_t pending;
    if (outbox_pending_count(order_db(), &pending) == 0)
        metrics_set(METRIC_OUTBOX_PENDING, "", pending);
    mq_conn *mq = web_thread_mq(c->app);
    set_up("broker", mq != NULL && mq_ping(mq) == MQ_OK && read_queues(mq) == 0);

    char *texts[METRICS_FILES_MAX];
    int n = metrics_read_dir(c->app->cfg->metrics_dir, METRICS_FRESH_S, texts, METRICS_FILES_MAX,
                             consumer_seen, NULL);
    if (n < 0) {
        log_warn("metrics: cannot read %s", c->app->cfg->metrics_dir);
        n = 0;
    }
    c->res.status = 200;
    c->res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    buf_reset(&c->res.body);
    if (metrics_render(&c->res.body, (const char *const *)texts, (size_t)n) != 0) {
        log_error("metrics: the answer is over its cap");
        c->res.status = 500;
    }
    for (int i = 0; i < n; i++)
        free(texts[i]);
}
