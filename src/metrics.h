/* metrics: the process's counters, histograms and gauges, exposed in the
 * Prometheus text format (0.0.4). The families are one table, METRIC_FAMILIES;
 * a series is a family and its labels, made on first use (at most
 * METRICS_SERIES_MAX per process; more are dropped and counted in the log).
 * Every call is thread-safe and cheap (one short lock).
 *
 * Who exposes what (../shared/CONTRACT.md, "Operators"): shop-app answers
 * GET /metrics on nginx's metrics listener only (127.0.0.1, its own port).
 * The consumers and the relay do not listen anywhere: each writes its series
 * every few seconds into the metrics directory as <process>.prom (the way
 * node_exporter's textfile collector works), and the app merges the fresh
 * files into its answer, so one scrape sees every process of the host and a
 * consumer that stopped writing shows as shop_up{dependency="consumer:…"} 0.
 * Each app instance writes its file too, since nginx balances the scrapes
 * over the instances. Every series carries process="app.1", "order.1", ... */
#ifndef SHOP_METRICS_H
#define SHOP_METRICS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define METRIC_COUNTER   0
#define METRIC_GAUGE     1
#define METRIC_HISTOGRAM 2

/* X(ID, name, type, help) */
#define METRIC_FAMILIES(X)                                                                         \
    X(HTTP_REQUESTS, "shop_http_requests_total", METRIC_COUNTER,                                   \
      "HTTP requests answered by the app, by route pattern and status")                            \
    X(HTTP_DURATION, "shop_http_request_duration_seconds", METRIC_HISTOGRAM,                       \
      "time from reading a request to its answer sent, by route pattern")                          \
    X(NOTIFY, "shop_notify_total", METRIC_COUNTER,                                                 \
      "provider notifications, by result: published, outbox, ignored, refused, failed")            \
    X(PUBLISH_CONFIRM, "shop_publish_confirm_seconds", METRIC_HISTOGRAM,                           \
      "time from publishing a message to the broker's confirm")                                    \
    X(OUTBOX_PENDING, "shop_outbox_pending", METRIC_GAUGE,                                         \
      "events in the outbox not yet confirmed by the broker")                                      \
    X(QUEUE_MESSAGES, "shop_queue_messages", METRIC_GAUGE,                                         \
      "messages ready in a shop queue (the broker's count)")                                       \
    X(QUEUE_PARKED, "shop_queue_parked", METRIC_GAUGE,                                             \
      "messages parked for an operator in a queue's .parked queue")                                \
    X(CONSUMER_MESSAGES, "shop_consumer_messages_total", METRIC_COUNTER,                           \
      "deliveries settled by a consumer, by queue and result: acked, retried, parked")             \
    X(UP, "shop_up", METRIC_GAUGE,                                                                 \
      "1 when a dependency answers: database, broker, consumer:NAME.K (its metrics are fresh)")

#define METRIC_ENUM_(id, name, type, help) METRIC_##id,
enum metric_family { METRIC_FAMILIES(METRIC_ENUM_) METRIC_COUNT };
#undef METRIC_ENUM_

#define METRICS_SERIES_MAX 1024
#define METRICS_LABELS_MAX 256 /* bytes of one series' rendered labels */

/* The value of the process label of this process ("app.1", "order.2"). */
void metrics_set_process(const char *process);

/* Render label pairs (NULL-terminated key, value, key, value, ..., NULL)
 * as `k="v",k="v"` into out (outsz bytes), values escaped as the format
 * wants. 0, or -1 when it does not fit (out is then ""). */
int metrics_labels(char *out, size_t outsz, ...) __attribute__((sentinel));
/* The end of metrics_labels' pairs (a typed NULL, as varargs want). */
#define METRICS_END ((const char *)NULL)

/* Add n to a counter series (labels as metrics_labels made them, "" none). */
void metrics_count(enum metric_family f, const char *labels, uint64_t n);
/* Set a gauge series. */
void metrics_set(enum metric_family f, const char *labels, int64_t value);
/* Observe a duration in seconds into a histogram series. */
void metrics_observe(enum metric_family f, const char *labels, double seconds);

/* Append this process's series in the text format (each family's HELP and
 * TYPE, then its samples, each with the process label) to out.
 * others: texts of other processes in the same format (their files), whose
 * samples are merged into the family they belong to (the format wants each
 * family in one group); NULL when n is 0. 0, or -1 (out's cap). */
int metrics_render(struct buf *out, const char *const *others, size_t n);

/* Write this process's text atomically as dir/<process>.prom. 0 or -1. */
int metrics_write_file(const char *dir);

/* How often a process writes its file. */
#define METRICS_WRITE_MS 5000

/* A thread that writes the file every interval_ms (and once more at the
 * end) until *stop becomes non-zero or metrics_writer_stop is called; for
 * the consumers and the relay. The directory is created (0750) when missing.
 * 0, or -1 (logged). */
int metrics_writer_start(const char *dir, int interval_ms, const volatile sig_atomic_t *stop);
/* End the writer (when started) and wait for its last write. */
void metrics_writer_stop(void);

/* Read dir's *.prom files changed in the last max_age_s seconds, except
 * this process's own: their texts into texts (malloc'd, the caller frees
 * each), at most max; each file's process name (the name without .prom)
 * and whether it is fresh go to fn (stale ones included), when fn is not
 * NULL. Returns the number of texts, or -1 when dir is unreadable. */
int metrics_read_dir(const char *dir, int max_age_s, char **texts, size_t max,
                     void (*fn)(const char *process, int fresh, void *ud), void *ud);

#endif
