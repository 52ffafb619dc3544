#include "config.h"

#include "hostlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A config line longer than this is refused rather than split. */
#define CONFIG_LINE_MAX   (CONFIG_STR_MAX + 256)
#define CONFIG_ENV_PREFIX "SHOP_"

enum config_type { CONFIG_INT, CONFIG_STRING };

struct config_entry {
    const char *name;
    enum config_type type;
    size_t offset;
    size_t size; /* of the field: strings hold size - 1 bytes */
    long long def_int;
    const char *def_str;
    long long min, max;         /* ints only */
    const char *const *choices; /* strings: NULL-terminated allowed values, or NULL */
    /* strings: a check of the value's shape (0 or -1 with the reason), or NULL */
    int (*check)(const char *value, char *err, size_t errlen);
    const char *help;
};

static const char *const LOG_LEVELS[] = {"debug", "info", "warn", "error", NULL};
/* Where the confirm-order saga fails on purpose in tests ("" = never). */
static const char *const FAULTS[] = {"",
                                     "after_preorder",
                                     "after_stock",
                                     "after_coupon",
                                     "after_balance",
                                     "refund_after_sent",
                                     "refund_after_provider",
                                     NULL};

static const char *const QUEUE_TYPES[] = {"classic", "quorum", NULL};

/* A list of host:port (mq_hosts, db_hosts): parsed here only to refuse a bad
 * one at start; the clients parse it again when they connect. */
static int check_hosts(const char *value, char *err, size_t errlen)
{
    struct hostlist l;
    return hostlist_parse(value, "", 1, &l, err, errlen);
}

#define FIELD(f) offsetof(struct shop_config, f), sizeof(((struct shop_config *)0)->f)
#define INT(f, def, lo, hi, help)                                                                  \
    {                                                                                              \
#f, CONFIG_INT, FIELD(f), def, NULL, lo, hi, NULL, NULL, help                              \
    }
#define STR(f, def, help)                                                                          \
    {                                                                                              \
#f, CONFIG_STRING, FIELD(f), 0, def, 0, 0, NULL, NULL, help                                \
    }
#define CHOICE(f, def, choices, help)                                                              \
    {                                                                                              \
#f, CONFIG_STRING, FIELD(f), 0, def, 0, 0, choices, NULL, help                             \
    }

#define LIST(f, help)                                                                              \
    {                                                                                              \
#f, CONFIG_STRING, FIELD(f), 0, "", 0, 0, NULL, check_hosts, help                          \
    }

static const struct config_entry CONFIG[] = {
    INT(worker_id, 1, 0, 1023,
        "snowflake worker id of an app process, unique per running app (each consumer takes its "
        "own from the topology table)"),
    CHOICE(log_level, "info", LOG_LEVELS, "lowest level logged: debug, info, warn, error"),
    STR(fcgi_socket, "run/sock/shop-app.sock", "unix socket nginx talks FastCGI to"),
    INT(app_threads, 32, 1, 512, "FastCGI worker threads"),
    STR(templates_dir, "templates", "directory of the mustache templates"),
    INT(max_body_bytes, 65536, 1024, 10485760, "largest request body accepted"),
    INT(max_json_depth, 16, 2, 64, "deepest JSON nesting accepted"),
    STR(db_host, "127.0.0.1", "MariaDB host"),
    INT(db_port, 23306, 1, 65535, "MariaDB port"),
    STR(db_socket, "", "MariaDB unix socket, used instead of host:port when set"),
    STR(db_user, "shop", "MariaDB user"),
    STR(db_password, "shop", "MariaDB password"),
    STR(db_name, "shop", "MariaDB database"),
    INT(db_timeout_s, 5, 1, 300, "MariaDB connect/read/write timeout, seconds"),
    LIST(db_hosts, "MariaDB nodes host:port,host:port,... (at most 8) tried in turn, the next "
                   "when one fails (\"\" = db_host:db_port)"),
    STR(goods_db_name, "", "database of the goods service (\"\" = db_name)"),
    STR(coupon_db_name, "", "database of the coupon service (\"\" = db_name)"),
    STR(user_db_name, "", "database of the user service (\"\" = db_name)"),
    STR(order_db_name, "", "database of the order service (\"\" = db_name)"),
    STR(mq_host, "127.0.0.1", "RabbitMQ host"),
    INT(mq_port, 25673, 1, 65535, "RabbitMQ port"),
    LIST(mq_hosts, "RabbitMQ nodes host:port,host:port,... (at most 8) tried in turn, the next "
                   "when one fails (\"\" = mq_host:mq_port)"),
    CHOICE(mq_queue_type, "classic", QUEUE_TYPES,
           "type of every shop queue: classic, or quorum (replicated; a broker with classic "
           "queues of the same names must be emptied of them first)"),
    STR(mq_user, "shop", "RabbitMQ user"),
    STR(mq_password, "shop", "RabbitMQ password"),
    STR(mq_vhost, "/", "RabbitMQ virtual host"),
    INT(mq_prefetch, 256, 1, 10000, "messages a consumer holds unacknowledged"),
    INT(mq_batch, 256, 1, 10000, "messages a consumer commits in one transaction (1 = each alone)"),
    INT(mq_timeout_ms, 5000, 100, 120000, "RabbitMQ connect and publisher-confirm wait, ms"),
    INT(mq_heartbeat_s, 30, 0, 3600, "RabbitMQ heartbeat, seconds (0 = off)"),
    INT(session_ttl_s, 604800, 60, 31536000, "how long a login session lasts, seconds"),
    INT(login_max_failures, 5, 1, 1000,
        "failed logins per account before each further one waits 1 s, 2 s, 4 s ..."),
    INT(login_addr_max_failures, 50, 1, 100000,
        "failed logins per client address before each further one waits likewise"),
    INT(login_delay_max_s, 900, 1, 86400,
        "the longest wait between braked login attempts, seconds"),
    INT(login_window_s, 300, 1, 86400,
        "a failed-login count is forgotten this long after its last attempt, seconds"),
    INT(hash_max_concurrent, 8, 1, 512,
        "password hashes (argon2id, 64 MiB each) at once; more are refused with 503"),
    INT(cookie_secure, 0, 0, 1, "1: mark cookies Secure (behind HTTPS)"),
    INT(preorder_timeout_s, 60, 1, 86400, "an unconfirmed pre-order is cancelled after, seconds"),
    INT(unpaid_timeout_s, 1800, 1, 604800, "a confirmed unpaid order expires after, seconds"),
    INT(relay_interval_ms, 1000, 50, 60000,
        "how often the outbox relay looks for unsent events, ms"),
    INT(outbox_keep_s, 86400, 10, 31536000,
        "a sent outbox row is deleted by the relay after, seconds"),
    CHOICE(fault_inject, "", FAULTS,
           "tests only: fail the confirm saga after this step, or kill the refund consumer at this "
           "point"),
    STR(public_url, "http://127.0.0.1:8080", "the shop's URL as buyers and the provider reach it"),
    STR(alipay_gateway, "http://127.0.0.1:8081/gateway.do",
        "the payment provider's page-pay gateway"),
    STR(alipay_app_id, "2026000000000001", "our app id at the provider"),
    STR(alipay_seller_id, "2088000000000001", "our seller id at the provider"),
    STR(alipay_private_key, "run/keys/merchant_private.pem",
        "PEM file of our private key (signs requests)"),
    STR(alipay_public_key, "run/keys/provider_public.pem",
        "PEM file of the provider's public key (verifies notifications)"),
    INT(provider_timeout_ms, 10000, 100, 120000,
        "a call to the provider's API (query, close, refund, bill): the longest wait, ms"),
    INT(pay_query_after_s, 300, 1, 86400,
        "a paying order without a notification is asked about at the provider after, seconds"),
    STR(metrics_dir, "run/metrics",
        "where the consumers write their metrics and the app reads them for GET /metrics"),
    STR(fcgi_notify_socket, "run/sock/shop-notify.sock",
        "unix socket for provider notifications only"),
    INT(notify_threads, 64, 1, 512, "FastCGI threads that serve only provider notifications"),
    INT(notify_publishers, 1, 1, 64,
        "broker connections that publish the notifications, confirms batched"),
    INT(notify_linger_us, 2000, 0, 20000,
        "while notifications are on their way (being verified, or still arriving), how long a "
        "publishing round waits for them to join its bundle, microseconds (0: never)"),
};

#undef FIELD
#undef INT
#undef STR
#undef CHOICE
#undef LIST

#define CONFIG_COUNT (sizeof CONFIG / sizeof CONFIG[0])

static const struct config_entry *find_entry(const char *name)
{
    for (size_t i = 0; i < CONFIG_COUNT; i++)
        if (strcmp(CONFIG[i].name, name) == 0)
            return &CONFIG[i];
    return NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Append one line to err, keeping what fits: the first problems matter most. */
static void add_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    size_t used = strnlen(err, errlen - 1);
    if (used >= errlen - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    used += (size_t)n < errlen - used ? (size_t)n : errlen - used - 1;
    if (used < errlen - 1) {
        err[used++] = '\n';
        err[used] = '\0';
    }
}

static int set_int(const struct config_entry *e, struct shop_config *cfg, const char *value,
                   char *err, size_t errlen)
{
    /* strtoll alone would take " 12", "+12" and "12abc"; only plain decimal
     * digits with an optional minus are a setting. */
    const char *p = value[0] == '-' ? value + 1 : value;
    if (!isdigit((unsigned char)*p)) {
        set_err(err, errlen, "%s: \"%s\" is not an integer", e->name, value);
        return -1;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (*end != '\0') {
        set_err(err, errlen, "%s: \"%s\" is not an integer", e->name, value);
        return -1;
    }
    if (errno == ERANGE || v < e->min || v > e->max) {
        set_err(err, errlen, "%s: %s is out of range %lld..%lld", e->name, value, e->min, e->max);
        return -1;
    }
    *(int *)((char *)cfg + e->offset) = (int)v;
    return 0;
}

static int set_string(const struct config_entry *e, struct shop_config *cfg, const char *value,
                      char *err, size_t errlen)
{
    size_t len = strlen(value);
    char *field = (char *)cfg + e->offset;
    if (len > e->size - 1) {
        set_err(err, errlen, "%s: value is %zu bytes, longer than %zu", e->name, len, e->size - 1);
        return -1;
    }
    if (e->choices != NULL) {
        for (const char *const *c = e->choices; *c != NULL; c++) {
            if (strcasecmp(value, *c) == 0) {
                /* Store the canonical spelling. */
                snprintf(field, e->size, "%s", *c);
                return 0;
            }
        }
        char list[CONFIG_STR_MAX] = "";
        for (const char *const *c = e->choices; *c != NULL; c++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     c == e->choices ? "" : ", ", *c);
        set_err(err, errlen, "%s: \"%s\" is not one of %s", e->name, value, list);
        return -1;
    }
    if (e->check != NULL) {
        char why[CONFIG_STR_MAX];
        if (e->check(value, why, sizeof why) != 0) {
            set_err(err, errlen, "%s: \"%s\": %s", e->name, value, why);
            return -1;
        }
    }
    memcpy(field, value, len + 1);
    return 0;
}

int config_set(struct shop_config *cfg, const char *name, const char *value, char *err,
               size_t errlen)
{
    const struct config_entry *e = find_entry(name);
    if (e == NULL) {
        set_err(err, errlen, "%s: unknown setting", name);
        return -1;
    }
    if (e->type == CONFIG_INT)
        return set_int(e, cfg, value, err, errlen);
    return set_string(e, cfg, value, err, errlen);
}

static void set_defaults(struct shop_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const struct config_entry *e = &CONFIG[i];
        char *field = (char *)cfg + e->offset;
        if (e->type == CONFIG_INT)
            *(int *)field = (int)e->def_int;
        else
            snprintf(field, e->size, "%s", e->def_str);
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Read `name = value` lines. Only whole lines starting with '#' are comments,
 * so that a password may contain '#'. Returns the number of problems. */
static int load_file(struct shop_config *cfg, const char *path, char *err, size_t errlen)
{
    int problems = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        add_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return 1;
    }
    char line[CONFIG_LINE_MAX];
    unsigned lineno = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f)) {
            add_err(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
                    CONFIG_LINE_MAX - 2);
            problems++;
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            add_err(err, errlen, "%s:%u: expected `name = value`", path, lineno);
            problems++;
            continue;
        }
        *eq = '\0';
        char *name = trim(s);
        char *value = trim(eq + 1);
        char msg[CONFIG_LINE_MAX + 128];
        if (config_set(cfg, name, value, msg, sizeof msg) != 0) {
            add_err(err, errlen, "%s:%u: %s", path, lineno, msg);
            problems++;
        }
    }
    if (ferror(f)) {
        add_err(err, errlen, "%s: read error", path);
        problems++;
    }
    fclose(f);
    return problems;
}

/* "db_port" -> "SHOP_DB_PORT" */
static void env_name(const struct config_entry *e, char var[64])
{
    size_t k = 0;
    for (const char *p = CONFIG_ENV_PREFIX; *p; p++)
        var[k++] = *p;
    for (const char *p = e->name; *p && k < 63; p++)
        var[k++] = (char)toupper((unsigned char)*p);
    var[k] = '\0';
}

static int load_env(struct shop_config *cfg, char *err, size_t errlen)
{
    int problems = 0;
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        char var[64];
        env_name(&CONFIG[i], var);
        const char *value = getenv(var);
        if (value == NULL)
            continue;
        char msg[CONFIG_LINE_MAX + 128];
        if (config_set(cfg, CONFIG[i].name, value, msg, sizeof msg) != 0) {
            add_err(err, errlen, "environment %s: %s", var, msg);
            problems++;
        }
    }
    return problems;
}

int config_load(struct shop_config *cfg, const char *path, char *err, size_t errlen)
{
    int problems = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    set_defaults(cfg);
    if (path != NULL)
        problems += load_file(cfg, path, err, errlen);
    problems += load_env(cfg, err, errlen);
    return problems == 0 ? 0 : -1;
}

void config_print_help(FILE *f)
{
    fprintf(f, "Settings (file lines `name = value`; the environment SHOP_<NAME> wins):\n");
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const struct config_entry *e = &CONFIG[i];
        if (e->type == CONFIG_INT)
            fprintf(f, "  %-16s int     default %lld, %lld..%lld\n", e->name, e->def_int, e->min,
                    e->max);
        else
            fprintf(f, "  %-16s string  default \"%s\", at most %zu bytes\n", e->name, e->def_str,
                    e->size - 1);
        char var[64];
        env_name(e, var);
        fprintf(f, "      %s (environment %s)\n", e->help, var);
    }
}
