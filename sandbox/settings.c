#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alipay.h"

struct settings settings = {
    .app_id = "2026000000000001",
    .seller_id = "2088000000000001",
    .time_scale = 1.0,
    .threads = 4,
    .request_max_age = 300,
};

#define ID_MAX 64 /* app and seller ids */

static const struct settings_option SERVER[] = {
    {"socket", SETTINGS_STRING, &settings.socket, 0, 0, 1, "PATH",
     "FastCGI unix socket to listen on"},
    {"state-dir", SETTINGS_STRING, &settings.state_dir, 0, 0, 1, "DIR",
     "trades, pending and failed notifications"},
    {"merchant-public-key", SETTINGS_STRING, &settings.merchant_public_key, 0, 0, 1, "PEM",
     "verifies the merchant's page-pay requests"},
    {"provider-private-key", SETTINGS_STRING, &settings.provider_private_key, 0, 0, 1, "PEM",
     "signs notifications and returns"},
    {"pid-file", SETTINGS_STRING, &settings.pid_file, 0, 0, 0, "FILE", "write the pid there"},
    {"app-id", SETTINGS_STRING, &settings.app_id, 0, ID_MAX, 0, "ID",
     "the merchant's app id [2026000000000001]"},
    {"seller-id", SETTINGS_STRING, &settings.seller_id, 0, ID_MAX, 0, "ID",
     "the merchant's seller id [2088000000000001]"},
    {"time-scale", SETTINGS_NUMBER, &settings.time_scale, 1e-9, 1000, 0, "F",
     "multiplies the retry schedule (4m 10m 10m 1h 2h 6h 15h) [1; tests use 0.001]"},
    {"threads", SETTINGS_NUMBER, &settings.threads, 1, 256, 0, "N", "FastCGI worker threads [4]"},
    {"request-max-age", SETTINGS_NUMBER, &settings.request_max_age, 1, 86400, 0, "S",
     "refuse a page-pay request whose timestamp is more than S seconds off [300]"},
    {"test-hooks", SETTINGS_FLAG, &settings.test_hooks, 0, 0, 0, NULL,
     "serve the test-only hooks under /test/ (see below) [off: 404]"},
};
#define SERVER_N (sizeof SERVER / sizeof SERVER[0])

static const struct settings_option *find(const struct settings_option *table, size_t n,
                                          const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == len && strncmp(table[i].name, name, len) == 0)
            return &table[i];
    return NULL;
}

/* Store value into o's target. 0, or -1 with the reason on stderr. */
static int set_value(const struct settings_option *o, const char *value, const char *prog)
{
    char *end;
    if (o->kind == SETTINGS_STRING) {
        size_t len = strlen(value);
        if (o->max > 0 && (len == 0 || len > (size_t)o->max)) {
            fprintf(stderr, "%s: --%s must be 1..%.0f characters\n", prog, o->name, o->max);
            return -1;
        }
        *(const char **)o->target = value;
        return 0;
    }
    errno = 0;
    double v = strtod(value, &end);
    int whole = o->min == (long)o->min && o->max == (long)o->max;
    if (errno || end == value || *end || !(v >= o->min && v <= o->max) || (whole && v != (long)v)) {
        fprintf(stderr, "%s: --%s must be %s in [%g, %g]\n", prog, o->name,
                whole ? "a whole number" : "a number", o->min, o->max);
        return -1;
    }
    *(double *)o->target = v;
    return 0;
}

static int check_required(const struct settings_option *table, size_t n, const char *prog)
{
    for (size_t i = 0; i < n; i++)
        if (table[i].required && *(const char **)table[i].target == NULL) {
            fprintf(stderr, "%s: --%s %s is required\n", prog, table[i].name, table[i].arg);
            return -1;
        }
    return 0;
}

int settings_parse(const struct settings_option *table, size_t n, int argc, char **argv,
                   const char *prog)
{
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *name = argv[i] + 2, *eq = strchr(name, '=');
        if (*name == '\0')
            return check_required(table, n, prog) == 0 ? i + 1 : -2;
        if (strcmp(name, "help") == 0)
            return -1;
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct settings_option *o = find(table, n, name, len);
        if (o == NULL || (o->kind == SETTINGS_FLAG && eq != NULL)) {
            fprintf(stderr, "%s: unknown option %s\n", prog, argv[i]);
            return -2;
        }
        if (o->kind == SETTINGS_FLAG) {
            *(int *)o->target = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (value == NULL) {
            fprintf(stderr, "%s: --%s needs a value\n", prog, o->name);
            return -2;
        }
        if (set_value(o, value, prog) != 0)
            return -2;
    }
    return check_required(table, n, prog) == 0 ? i : -2;
}

void settings_print(FILE *f, const struct settings_option *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char left[64];
        if (table[i].help == NULL)
            continue;
        snprintf(left, sizeof left, "--%s%s%s", table[i].name, table[i].arg ? " " : "",
                 table[i].arg ? table[i].arg : "");
        fprintf(f, "  %-27s %s\n", left, table[i].help);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shop-sandbox --socket PATH --state-dir DIR --merchant-public-key PEM\n"
               "                    --provider-private-key PEM [options]\n"
               "       shop-sandbox sign --provider-private-key PEM [--request] k=v ...\n"
               "\n"
               "A payment provider speaking Alipay's protocol (RSA2), as a FastCGI\n"
               "application behind nginx (nginx/sandbox.conf).\n");
    settings_print(f, SERVER, SERVER_N);
    fprintf(
        f, "\nTest-only hooks (with --test-hooks; 404 without):\n"
           "  POST /test/next-refund-fails  form sub_code [ACQ.SELLER_BALANCE_NOT_ENOUGH]: the\n"
           "                                next alipay.trade.refund is refused, nothing refunded\n"
           "  POST /test/pay                form out_trade_no, notify=0|1: pay its open or closed\n"
           "                                trade (a late payment), notifying when notify=1\n"
           "  POST /test/pay-again          form out_trade_no, notify=0|1: a second trade (new\n"
           "                                trade_no) paying an out_trade_no that is paid already\n"
           "  GET  /test/refunds?out_trade_no=N  JSON list of the refunds made for it\n"
           "                                (trade_no, out_request_no, amount, time)\n");
    fprintf(f, "\nshop-sandbox sign --help: printing a signed form body.\n");
}

int settings_load(int argc, char **argv)
{
    int first = settings_parse(SERVER, SERVER_N, argc, argv, "shop-sandbox");
    if (first == -1) {
        usage(stdout);
        return 0;
    }
    if (first == argc)
        return -1;
    if (first >= 0)
        fprintf(stderr, "shop-sandbox: unexpected argument %s\n", argv[first]);
    usage(stderr);
    return 2;
}

int settings_load_keys(void)
{
    char err[512];
    settings.merchant_pub = alipay_load_public_key(settings.merchant_public_key, err, sizeof err);
    if (settings.merchant_pub == NULL) {
        fprintf(stderr, "shop-sandbox: --merchant-public-key: %s\n", err);
        return 2;
    }
    settings.provider_priv =
        alipay_load_private_key(settings.provider_private_key, err, sizeof err);
    if (settings.provider_priv == NULL) {
        fprintf(stderr, "shop-sandbox: --provider-private-key: %s\n", err);
        return 2;
    }
    return 0;
}

void settings_free(void)
{
    EVP_PKEY_free(settings.merchant_pub);
    EVP_PKEY_free(settings.provider_priv);
    settings.merchant_pub = settings.provider_priv = NULL;
}
