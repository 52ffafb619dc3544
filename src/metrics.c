#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static const struct {
    const char *name;
    int type;
    const char *help;
} FAMILIES[METRIC_COUNT] = {
#define METRIC_ROW_(id, name, type, help) {name, type, help},
    METRIC_FAMILIES(METRIC_ROW_)
#undef METRIC_ROW_
};

/* The histograms' upper bounds, seconds (and +Inf). */
static const double BOUNDS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBOUNDS (sizeof BOUNDS / sizeof BOUNDS[0])

struct series {
    atomic_int used; /* set (release) once f and labels are written */
    enum metric_family f;
    char labels[METRICS_LABELS_MAX];
    atomic_uint_least64_t count; /* counter; histogram: observations */
    atomic_int_least64_t gauge;
    atomic_uint_least64_t buckets[NBOUNDS]; /* not cumulative */
    atomic_uint_least64_t sum_ns;
};

static struct series table[METRICS_SERIES_MAX];
static pthread_mutex_t insert_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int dropped_logged;
static char process_name[64] = "app.1";

void metrics_set_process(const char *process)
{
    snprintf(process_name, sizeof process_name, "%s", process);
}

/* A buffer written by many small calls; bad sticks once one failed (cap). */
struct out {
    struct buf *b;
    int bad;
};

static void oputs(struct out *o, const char *s)
{
    o->bad |= buf_puts(o->b, s) != 0;
}

static void oprintf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void oprintf(struct out *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->bad |= n < 0 || (size_t)n >= sizeof line || buf_append(o->b, line, (size_t)n) != 0;
}

static void escape_into(struct out *o, const char *v)
{
    for (; *v; v++) {
        char pair[3] = {'\\', *v, '\0'};
        if (*v == '\n')
            pair[1] = 'n';
        else if (*v != '\\' && *v != '"')
            pair[0] = *v, pair[1] = '\0';
        oputs(o, pair);
    }
}

int metrics_labels(char *out, size_t outsz, ...)
{
    struct buf b;
    struct out o = {&b, 0};
    va_list ap;
    const char *k;
    buf_init(&b, outsz > 0 ? outsz - 1 : 0);
    va_start(ap, outsz);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        oprintf(&o, "%s%s=\"", b.len > 0 ? "," : "", k);
        escape_into(&o, v != NULL ? v : "");
        oputs(&o, "\"");
    }
    va_end(ap);
    if (outsz > 0)
        snprintf(out, outsz, "%s", o.bad ? "" : buf_str(&b));
    buf_free(&b);
    return o.bad ? -1 : 0;
}

static uint64_t hash(enum metric_family f, const char *labels)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)f; /* FNV-1a */
    for (; *labels; labels++)
        h = (h ^ (unsigned char)*labels) * 1099511628211ULL;
    return h;
}

/* The series of (f, labels), made when new; NULL when the table is full. */
static struct series *find(enum metric_family f, const char *labels)
{
    if (labels == NULL || strlen(labels) >= METRICS_LABELS_MAX)
        return NULL;
    size_t start = (size_t)(hash(f, labels) % METRICS_SERIES_MAX);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            pthread_mutex_lock(&insert_lock);
        for (size_t i = 0; i < METRICS_SERIES_MAX; i++) {
            struct series *s = &table[(start + i) % METRICS_SERIES_MAX];
            if (!atomic_load_explicit(&s->used, memory_order_acquire)) {
                if (pass == 0)
                    break; /* not there: insert under the lock */
                s->f = f;
                snprintf(s->labels, sizeof s->labels, "%s", labels);
                atomic_store_explicit(&s->used, 1, memory_order_release);
                pthread_mutex_unlock(&insert_lock);
                return s;
            }
            if (s->f == f && strcmp(s->labels, labels) == 0) {
                if (pass == 1)
                    pthread_mutex_unlock(&insert_lock);
                return s;
            }
        }
    }
    pthread_mutex_unlock(&insert_lock);
    if (atomic_exchange(&dropped_logged, 1) == 0)
        log_warn("metrics: more than %d series; new ones are dropped", METRICS_SERIES_MAX);
    return NULL;
}

void metrics_count(enum metric_family f, const char *labels, uint64_t n)
{
    struct series *s = find(f, labels);
    if (s != NULL)
        atomic_fetch_add_explicit(&s->count, n, memory_order_relaxed);
}

void metrics_set(enum metric_family f, const char *labels, int64_t value)
{
    struct series *s = find(f, labels);
    if (s != NULL)
        atomic_store_explicit(&s->gauge, value, memory_order_relaxed);
}

void metrics_observe(enum metric_family f, const char *labels, double seconds)
{
    struct series *s = find(f, labels);
    if (s == NULL)
        return;
    size_t b = 0;
    while (b < NBOUNDS && seconds > BOUNDS[b])
        b++;
    if (b < NBOUNDS)
        atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    if (seconds > 0)
        atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

/* name{labels,process="…"[,le="…"]} */
static void sample_head(struct out *out, const char *name, const char *suffix,
                        const struct series *s, const char *le)
{
    oprintf(out, "%s%s{", name, suffix);
    if (s->labels[0]) {
        oputs(out, s->labels);
        oputs(out, ",");
    }
    oputs(out, "process=\"");
    escape_into(out, process_name);
    oputs(out, "\"");
    if (le != NULL)
        oprintf(out, ",le=\"%s\"", le);
    oputs(out, "} ");
}

static void render_series(struct out *out, const struct series *s)
{
    const char *name = FAMILIES[s->f].name;
    switch (FAMILIES[s->f].type) {
    case METRIC_COUNTER:
        sample_head(out, name, "", s, NULL);
        oprintf(out, "%llu\n", (unsigned long long)atomic_load(&s->count));
        break;
    case METRIC_GAUGE:
        sample_head(out, name, "", s, NULL);
        oprintf(out, "%lld\n", (long long)atomic_load(&s->gauge));
        break;
    default: {
        uint64_t cum = 0;
        char le[32];
        for (size_t b = 0; b < NBOUNDS; b++) {
            cum += atomic_load(&s->buckets[b]);
            snprintf(le, sizeof le, "%g", BOUNDS[b]);
            sample_head(out, name, "_bucket", s, le);
            oprintf(out, "%llu\n", (unsigned long long)cum);
        }
        uint64_t count = atomic_load(&s->count);
        sample_head(out, name, "_bucket", s, "+Inf");
        oprintf(out, "%llu\n", (unsigned long long)count);
        sample_head(out, name, "_sum", s, NULL);
        oprintf(out, "%.9f\n", (double)atomic_load(&s->sum_ns) / 1e9);
        sample_head(out, name, "_count", s, NULL);
        oprintf(out, "%llu\n", (unsigned long long)count);
    }
    }
}

/* 1 when the sample line belongs to family f. */
static int line_of(const char *line, size_t len, enum metric_family f)
{
    static const char *const SUFFIXES[] = {"", "_bucket", "_sum", "_count"};
    const char *name = FAMILIES[f].name;
    size_t n = strlen(name), nsuf = FAMILIES[f].type == METRIC_HISTOGRAM ? 4 : 1;
    if (len <= n || strncmp(line, name, n) != 0)
        return 0;
    for (size_t i = 0; i < nsuf; i++) {
        size_t k = strlen(SUFFIXES[i]);
        if (len > n + k && strncmp(line + n, SUFFIXES[i], k) == 0 &&
            (line[n + k] == '{' || line[n + k] == ' '))
            return 1;
    }
    return 0;
}

static void merge_lines(struct out *out, const char *text, enum metric_family f)
{
    while (*text) {
        size_t len = strcspn(text, "\n");
        if (text[0] != '#' && line_of(text, len, f))
            out->bad |= buf_append(out->b, text, len) != 0 || buf_putc(out->b, '\n') != 0;
        text += len + (text[len] == '\n');
    }
}

int metrics_render(struct buf *b, const char *const *others, size_t n)
{
    static const char *const TYPES[] = {"counter", "gauge", "histogram"};
    struct out out = {b, 0};
    for (int f = 0; f < METRIC_COUNT; f++) {
        oprintf(&out, "# HELP %s %s\n# TYPE %s %s\n", FAMILIES[f].name, FAMILIES[f].help,
                FAMILIES[f].name, TYPES[FAMILIES[f].type]);
        for (size_t i = 0; i < METRICS_SERIES_MAX; i++)
            if (atomic_load_explicit(&table[i].used, memory_order_acquire) &&
                table[i].f == (enum metric_family)f)
                render_series(&out, &table[i]);
        for (size_t i = 0; i < n; i++)
            merge_lines(&out, others[i], (enum metric_family)f);
    }
    return out.bad ? -1 : 0;
}

int metrics_write_file(const char *dir)
{
    char path[512], tmp[560];
    struct buf b;
    if ((size_t)snprintf(path, sizeof path, "%s/%s.prom", dir, process_name) >= sizeof path)
        return -1;
    snprintf(tmp, sizeof tmp, "%s/.%s.prom.tmp", dir, process_name);
    buf_init(&b, 4 << 20);
    int rc = -1, fd = -1;
    if (metrics_render(&b, NULL, 0) != 0)
        goto out;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        goto out;
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto out;
        off += (size_t)w;
    }
    rc = close(fd) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    buf_free(&b);
    return rc;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return NULL;
    struct buf b;
    char chunk[8192];
    size_t got;
    buf_init(&b, 4 << 20);
    int bad = 0;
    while (!bad && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        bad = buf_append(&b, chunk, got) != 0;
    bad |= ferror(f);
    fclose(f);
    if (bad) {
        buf_free(&b);
        return NULL;
    }
    if (b.len == 0)
        buf_putc(&b, '\n'); /* an empty text still counts */
    return buf_detach(&b);
}

int metrics_read_dir(const char *dir, int max_age_s, char **texts, size_t max,
                     void (*fn)(const char *process, int fresh, void *ud), void *ud)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    size_t n = 0;
    time_t now = time(NULL);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[1024], process[256];
        struct stat st;
        if (e->d_name[0] == '.' || len <= 5 || len - 5 >= sizeof process ||
            strcmp(e->d_name + len - 5, ".prom") != 0)
            continue;
        snprintf(process, sizeof process, "%.*s", (int)(len - 5), e->d_name);
        if (strcmp(process, process_name) == 0 ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            stat(path, &st) != 0)
            continue;
        int fresh = now - st.st_mtime <= max_age_s;
        if (fresh && n < max && (texts[n] = read_text(path)) != NULL)
            n++;
        if (fn != NULL)
            fn(process, fresh, ud);
    }
    closedir(d);
    return (int)n;
}

/* --- the consumers' writer ------------------------------------------------ */

static struct {
    pthread_t thread;
    int running;
    atomic_int quit;
    char dir[512];
    int interval_ms;
    const volatile sig_atomic_t *stop;
} writer;

static void *writer_main(void *arg)
{
    (void)arg;
    int since = writer.interval_ms; /* write at once */
    while (!atomic_load(&writer.quit) && !*writer.stop) {
        if (since >= writer.interval_ms) {
            if (metrics_write_file(writer.dir) != 0)
                log_warn("metrics: cannot write into %s: %s", writer.dir, strerror(errno));
            since = 0;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        since += 100;
    }
    metrics_write_file(writer.dir);
    return NULL;
}

int metrics_writer_start(const char *dir, int interval_ms, const volatile sig_atomic_t *stop)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        log_warn("metrics: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(writer.dir, sizeof writer.dir, "%s", dir);
    writer.interval_ms = interval_ms;
    writer.stop = stop;
    atomic_store(&writer.quit, 0);
    if (pthread_create(&writer.thread, NULL, writer_main, NULL) != 0) {
        log_warn("metrics: cannot start the writer thread");
        return -1;
    }
    writer.running = 1;
    return 0;
}

void metrics_writer_stop(void)
{
    if (!writer.running)
        return;
    atomic_store(&writer.quit, 1);
    pthread_join(writer.thread, NULL);
    writer.running = 0;
}
