/* notify_sign: the provider's signed notifications for bench/notify.sh, in bulk.
 *
 * For i = 0 .. count-1 it writes one line to each of two files:
 *   --bodies FILE   the form body Alipay would POST to /pay/notify/alipay for
 *                   bench order first+i: notify_time, notify_type, notify_id,
 *                   app_id, charset, version, sign_type, trade_no,
 *                   out_trade_no, trade_status=TRADE_SUCCESS, total_amount,
 *                   seller_id, gmt_payment, sign (percent-encoded values)
 *   --events FILE   "<message_id>\t<json>": the pay.notify message the shop
 *                   publishes for that notification (src/events.c,
 *                   src/pay_service.c pay_notify_message_id), which the bare
 *                   client publishes in its place
 * The signature is the notification rule of src/alipay.c: the k=v pairs with
 * raw values, sorted by key, without sign and sign_type, joined with '&',
 * SHA256withRSA with the provider's private key, base64.
 *
 * The amount of order i is 10.00 + ((i * 7919) mod 99000) cents, the rule
 * bench/notify.sh uses for the order's pay_amount. Signing (about 3,800 a
 * second per core) runs on --threads threads.
 *
 * Build: gcc -O2 -std=c11 -pthread notify_sign.c $(pkg-config --cflags --libs openssl)
 * Usage: notify_sign --key PEM --first ID --count N --bodies FILE --events FILE
 *        [--app-id ID] [--seller-id ID] [--threads N] */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 64
#define LINE_MAX_   2048

static const char *key_path, *bodies_path, *events_path;
static const char *app_id = "2026000000000001", *seller_id = "2088000000000001";
static int64_t first_id = 950000001, count;
static int n_threads = 2;
static EVP_PKEY *key;
static char now_text[20]; /* "YYYY-MM-DD HH:MM:SS", UTC */
static char **body_lines, **event_lines;

/* The cents of bench order i (bench/notify.sh uses the same rule in SQL). */
static int64_t amount_cents(int64_t i)
{
    return 1000 + (i * 7919) % 99000;
}

/* Percent-encode s (everything but unreserved characters) onto out. */
static size_t url_encode(const char *s, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return n;
}

struct kv {
    const char *k;
    const char *v;
};

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

/* Sign notification i into body_lines[i] and event_lines[i]. 0 or -1. */
static int make_one(EVP_MD_CTX *md, int64_t i)
{
    char order[24], trade_no[40], notify_id[40], amount[24];
    int64_t oid = first_id + i, cents = amount_cents(i);
    snprintf(order, sizeof order, "%" PRId64, oid);
    snprintf(trade_no, sizeof trade_no, "2026%024" PRId64, oid);
    snprintf(notify_id, sizeof notify_id, "benchnotify%" PRId64, oid);
    snprintf(amount, sizeof amount, "%" PRId64 ".%02d", cents / 100, (int)(cents % 100));
    struct kv ps[] = {
        {"notify_time", now_text},
        {"notify_type", "trade_status_sync"},
        {"notify_id", notify_id},
        {"app_id", app_id},
        {"charset", "utf-8"},
        {"version", "1.0"},
        {"trade_no", trade_no},
        {"out_trade_no", order},
        {"trade_status", "TRADE_SUCCESS"},
        {"total_amount", amount},
        {"seller_id", seller_id},
        {"gmt_payment", now_text},
    };
    enum { NP = sizeof ps / sizeof ps[0] };
    struct kv sorted[NP];
    memcpy(sorted, ps, sizeof ps);
    qsort(sorted, NP, sizeof sorted[0], cmp_kv);

    char content[LINE_MAX_];
    size_t n = 0;
    for (int k = 0; k < NP; k++) {
        int w = snprintf(content + n, sizeof content - n, "%s%s=%s", k ? "&" : "", sorted[k].k,
                         sorted[k].v);
        if (w < 0 || (size_t)w >= sizeof content - n)
            return -1;
        n += (size_t)w;
    }
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSignUpdate(md, content, n) != 1 || EVP_DigestSignFinal(md, sig, &siglen) != 1)
        return -1;
    char b64[1400];
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);

    /* The body: the parameters in the order above, sign_type and sign last. */
    char *body = malloc(LINE_MAX_ * 2), enc[LINE_MAX_];
    if (body == NULL)
        return -1;
    size_t bn = 0;
    for (int k = 0; k < NP; k++) {
        url_encode(ps[k].v, enc);
        bn +=
            (size_t)snprintf(body + bn, LINE_MAX_ * 2 - bn, "%s%s=%s", k ? "&" : "", ps[k].k, enc);
    }
    url_encode(b64, enc);
    bn += (size_t)snprintf(body + bn, LINE_MAX_ * 2 - bn, "&sign_type=RSA2&sign=%s", enc);
    if (bn >= LINE_MAX_ * 2 - 1) {
        free(body);
        return -1;
    }
    body_lines[i] = body;

    char *ev = malloc(LINE_MAX_);
    if (ev == NULL)
        return -1;
    snprintf(ev, LINE_MAX_,
             "pay.notify:%s:%s\t{\"provider\":\"alipay\",\"out_trade_no\":\"%s\",\"trade_no\":"
             "\"%s\",\"total_amount\":\"%s\",\"gmt_payment\":\"%s\",\"notify_id\":\"%s\","
             "\"trade_status\":\"TRADE_SUCCESS\"}",
             order, trade_no, order, trade_no, amount, now_text, notify_id);
    event_lines[i] = ev;
    return 0;
}

struct job {
    pthread_t t;
    int index;
    int failed;
};

static void *signer(void *arg)
{
    struct job *j = arg;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL) {
        j->failed = 1;
        return NULL;
    }
    for (int64_t i = j->index; i < count && !j->failed; i += n_threads) {
        if (make_one(md, i) != 0)
            j->failed = 1;
        EVP_MD_CTX_reset(md);
    }
    EVP_MD_CTX_free(md);
    return NULL;
}

static int write_lines(const char *path, char **lines)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    for (int64_t i = 0; i < count; i++)
        fprintf(f, "%s\n", lines[i]);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: notify_sign --key PEM --first ID --count N --bodies FILE --events FILE\n"
            "       [--app-id ID] [--seller-id ID] [--threads N]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--key") == 0)
            key_path = v;
        else if (strcmp(a, "--first") == 0)
            first_id = strtoll(v, NULL, 10);
        else if (strcmp(a, "--count") == 0)
            count = strtoll(v, NULL, 10);
        else if (strcmp(a, "--bodies") == 0)
            bodies_path = v;
        else if (strcmp(a, "--events") == 0)
            events_path = v;
        else if (strcmp(a, "--app-id") == 0)
            app_id = v;
        else if (strcmp(a, "--seller-id") == 0)
            seller_id = v;
        else if (strcmp(a, "--threads") == 0)
            n_threads = atoi(v);
        else {
            usage();
            return 2;
        }
    }
    if (argc % 2 == 0 || key_path == NULL || bodies_path == NULL || events_path == NULL ||
        count < 1 || count > 10000000 || first_id < 1 || n_threads < 1 || n_threads > MAX_THREADS) {
        usage();
        return 2;
    }
    FILE *kf = fopen(key_path, "r");
    if (kf == NULL) {
        perror(key_path);
        return 1;
    }
    key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
    fclose(kf);
    if (key == NULL) {
        fprintf(stderr, "notify_sign: %s is not a PEM private key\n", key_path);
        return 1;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(now_text, sizeof now_text, "%Y-%m-%d %H:%M:%S", &tm);

    body_lines = calloc((size_t)count, sizeof *body_lines);
    event_lines = calloc((size_t)count, sizeof *event_lines);
    struct job jobs[MAX_THREADS] = {{0}};
    if (body_lines == NULL || event_lines == NULL)
        return 1;
    for (int t = 0; t < n_threads; t++) {
        jobs[t].index = t;
        if (pthread_create(&jobs[t].t, NULL, signer, &jobs[t]) != 0) {
            fprintf(stderr, "notify_sign: cannot start thread %d\n", t);
            return 1;
        }
    }
    int failed = 0;
    for (int t = 0; t < n_threads; t++) {
        pthread_join(jobs[t].t, NULL);
        failed |= jobs[t].failed;
    }
    if (failed) {
        fprintf(stderr, "notify_sign: signing failed\n");
        return 1;
    }
    if (write_lines(bodies_path, body_lines) != 0 || write_lines(events_path, event_lines) != 0)
        return 1;
    for (int64_t i = 0; i < count; i++) {
        free(body_lines[i]);
        free(event_lines[i]);
    }
    free(body_lines);
    free(event_lines);
    EVP_PKEY_free(key);
    return 0;
}
