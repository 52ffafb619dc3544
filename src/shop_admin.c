/* shop-admin: the operator's command line. One row of COMMANDS per command.
 *   shop-admin [--config FILE] publish ROUTING_KEY MESSAGE_ID JSON
 *       publish one persistent event to the shop's exchange and wait for the
 *       broker's confirm (exit 0 only when confirmed)
 *   shop-admin [--config FILE] topology
 *       declare the exchange, queues and bindings
 *   shop-admin [--config FILE] refund approve|reject|retry REFUND_ID [NOTE]
 *       an operator's decision on a refund (src/refund_service.h): approve
 *       or reject a requested refund, try a failed one again (on the order's
 *       timeline "… (by operator shop-admin)"); prints the refund as JSON
 *       (exit 0), or the refusal's code and message (exit 1)
 *   shop-admin [--config FILE] reconcile YYYY-MM-DD
 *       compare the provider's trade bill of that UTC day with trade_pay and
 *       trade_refund (reconcile.c), record every difference in
 *       trade_reconcile_diff and print the counts and each difference; exit
 *       0 when there are none, 1 when there are, 2 for bad usage, 3 when the
 *       provider or the database cannot be reached */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mq.h"
#include "money.h"
#include "order_service.h"
#include "provider.h"
#include "reconcile.h"
#include "refund_service.h"
#include "runtime.h"
#include "snowflake.h"
#include "topology.h"

/* The settings, loaded once in main. */
static struct shop_config config;

/* A command: its arguments after its name (min..max), whether it needs the
 * database, and what it does with the broker connection (declared). */
struct command {
    const char *name;
    int min_args, max_args;
    int needs_db;
    int uses_mq; /* 0: never connects to the broker */
    int (*run)(mq_conn *mq, char **args, int n);
    const char *usage;
};

static int cmd_publish(mq_conn *mq, char **args, int n)
{
    (void)n;
    enum mq_status st = mq_publish(mq, MQ_EXCHANGE, args[0], args[1], args[2], strlen(args[2]));
    if (st != MQ_OK) {
        fprintf(stderr, "shop-admin: the broker did not confirm the message (%d)\n", st);
        return 1;
    }
    printf("published %s %s (confirmed)\n", args[0], args[1]);
    return 0;
}

static int cmd_topology(mq_conn *mq, char **args, int n)
{
    (void)mq, (void)args, (void)n;
    return 0; /* declared before every command */
}

static int cmd_refund(mq_conn *mq, char **args, int n)
{
    int action = refund_action_parse(args[0]);
    char *end;
    long long id = strtoll(args[1], &end, 10);
    if (action < 0 || *args[1] < '1' || *args[1] > '9' || *end != '\0' || id <= 0) {
        fprintf(stderr, "shop-admin: refund approve|reject|retry REFUND_ID [NOTE]\n");
        return 2;
    }
    struct refund r;
    enum shop_code rc = refund_act(order_db(), mq, (enum refund_action)action, id,
                                   n > 2 ? args[2] : "", "shop-admin", &r);
    if (rc != SHOP_SUCCESS) {
        fprintf(stderr, "shop-admin: refund %lld not changed: %s: %s\n", id, shop_code_name(rc),
                shop_code_message(rc));
        return 1;
    }
    json_object *j = refund_to_json(&r);
    printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    return 0;
}

/* An amount, or "-" for none. */
static const char *amount_text(int64_t cents, char buf[MONEY_STR_MAX])
{
    return cents < 0 ? "-" : money_format(cents, buf);
}

static void print_result(const char *day, const struct reconcile_result *r)
{
    char ours[MONEY_STR_MAX], theirs[MONEY_STR_MAX];
    printf("reconcile %s: %zu matched, %zu missing here, %zu missing there, %zu amount "
           "differs\n",
           day, r->matched, r->count[RECONCILE_MISSING_HERE], r->count[RECONCILE_MISSING_THERE],
           r->count[RECONCILE_AMOUNT_DIFFERS]);
    for (size_t i = 0; i < r->n; i++) {
        const struct reconcile_diff *d = &r->diffs[i];
        printf("%-14s %-6s trade_no=%s out_trade_no=%s%s%s ours=%s theirs=%s\n",
               reconcile_kind_name(d->kind), d->object == BILL_TRADE ? "trade" : "refund",
               d->trade_no[0] ? d->trade_no : "-", d->out_trade_no[0] ? d->out_trade_no : "-",
               d->object == BILL_REFUND ? " out_request_no=" : "",
               d->object == BILL_REFUND ? d->out_request_no : "", amount_text(d->our_amount, ours),
               amount_text(d->their_amount, theirs));
    }
}

/* shop-admin reconcile DAY: the exit status (enum reconcile_status). */
static int cmd_reconcile(mq_conn *mq, char **args, int n)
{
    const struct shop_config *cfg = &config;
    const char *day = args[0];
    (void)mq, (void)n;
    if (!reconcile_day_ok(day)) {
        fprintf(stderr, "shop-admin reconcile: \"%s\" is not a day YYYY-MM-DD\n", day);
        return 2;
    }
    struct reconcile_result r;
    char why[512] = "";
    if (provider_global_init() != 0) {
        fprintf(stderr, "shop-admin reconcile: cannot set up libcurl\n");
        return RECONCILE_UNREACHABLE;
    }
    enum reconcile_status rs = reconcile_day(cfg, day, stderr, &r, why, sizeof why);
    if (rs == RECONCILE_UNREACHABLE)
        fprintf(stderr, "shop-admin reconcile: %s\n", why);
    else
        print_result(day, &r);
    if (rs == RECONCILE_DIFFERENCES)
        printf("differences recorded in trade_reconcile_diff (day %s)\n", day);
    reconcile_result_free(&r);
    provider_global_cleanup();
    return (int)rs;
}

static const struct command COMMANDS[] = {
    {"publish", 3, 3, 0, 1, cmd_publish, "publish ROUTING_KEY MESSAGE_ID JSON"},
    {"topology", 0, 0, 0, 1, cmd_topology, "topology"},
    {"refund", 2, 3, 1, 1, cmd_refund, "refund approve|reject|retry REFUND_ID [NOTE]"},
    {"reconcile", 1, 1, 1, 0, cmd_reconcile, "reconcile YYYY-MM-DD"},
};

static void usage(FILE *f)
{
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "%s shop-admin [--config FILE] %s\n", i == 0 ? "usage:" : "      ",
                COMMANDS[i].usage);
}

static const struct command *find(const char *name, int nargs)
{
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(name, COMMANDS[i].name) == 0 && nargs >= COMMANDS[i].min_args &&
            nargs <= COMMANDS[i].max_args)
            return &COMMANDS[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int rc = runtime_options(argc, argv, usage, &config_path, NULL);
    if (rc >= 0)
        return rc;
    int nargs = argc - optind;
    const struct command *cmd = find(nargs > 0 ? argv[optind] : "", nargs - 1);
    if (cmd == NULL) {
        usage(stderr);
        return 2;
    }
    struct shop_config *cfg = &config;
    char err[2048];
    if (config_load(cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "shop-admin: bad configuration:\n%s\n", err);
        return 2;
    }
    log_init("shop-admin", LOG_WARN);
    if (cmd->needs_db && snowflake_init(&shop_ids, TOPO_ADMIN_WORKER_ID, NULL) != 0)
        return 1;
    if (cmd->needs_db && runtime_db_init(cfg) != 0) {
        fprintf(stderr, "shop-admin: the database is not usable\n");
        return 1;
    }
    struct mq_params mqp = runtime_mq_params(cfg);
    mqp.heartbeat_s = 0;
    mq_conn *mq = cmd->uses_mq ? mq_open(&mqp) : NULL;
    rc = 1;
    /* A command on the database commits its events to the outbox: without
     * the broker, the relay publishes them later. */
    if (!cmd->uses_mq) {
        /* nothing to connect */
    } else if (mq == NULL) {
        if (cfg->mq_hosts[0] != '\0')
            fprintf(stderr, "shop-admin: cannot connect to RabbitMQ at any of %s\n", cfg->mq_hosts);
        else
            fprintf(stderr, "shop-admin: cannot connect to RabbitMQ at %s:%d\n", cfg->mq_host,
                    cfg->mq_port);
        if (!cmd->needs_db)
            goto out;
    } else if (mq_declare_topology(mq) != MQ_OK) {
        fprintf(stderr, "shop-admin: declaring the topology failed\n");
        if (!cmd->needs_db)
            goto out;
    }
    rc = cmd->run(mq, argv + optind + 1, nargs - 1);
out:
    mq_close(mq);
    if (cmd->needs_db) {
        db_thread_end();
        db_global_cleanup();
        snowflake_destroy(&shop_ids);
    }
    return rc;
}
