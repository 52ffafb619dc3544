/* shop-admin: the operator's command line.
 *   shop-admin [--config FILE] publish ROUTING_KEY MESSAGE_ID JSON
 *       publish one persistent event to the shop's exchange and wait for the
 *       broker's confirm (exit 0 only when confirmed)
 *   shop-admin [--config FILE] topology
 *       declare the exchange, queues and bindings
 *   shop-admin [--config FILE] reconcile YYYY-MM-DD
 *       compare the provider's trade bill of that UTC day with trade_pay and
 *       trade_refund (reconcile.c), record every difference in
 *       trade_reconcile_diff and print the counts and each difference; exit
 *       0 when there are none, 1 when there are, 2 for bad usage, 3 when the
 *       provider or the database cannot be reached */
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "money.h"
#include "mq.h"
#include "provider.h"
#include "reconcile.h"
#include "runtime.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: shop-admin [--config FILE] publish ROUTING_KEY MESSAGE_ID JSON\n"
               "       shop-admin [--config FILE] topology\n"
               "       shop-admin [--config FILE] reconcile YYYY-MM-DD\n");
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
static int cmd_reconcile(const struct shop_config *cfg, const char *day)
{
    struct reconcile_result r;
    char why[512] = "";
    if (runtime_db_init(cfg) != 0 || provider_global_init() != 0) {
        fprintf(stderr, "shop-admin reconcile: cannot set up the database or libcurl\n");
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
    db_thread_end();
    db_global_cleanup();
    provider_global_cleanup();
    return (int)rs;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int rc = runtime_options(argc, argv, usage, &config_path, NULL);
    if (rc >= 0)
        return rc;
    int nargs = argc - optind;
    const char *cmd = nargs > 0 ? argv[optind] : "";
    if (!((strcmp(cmd, "publish") == 0 && nargs == 4) ||
          (strcmp(cmd, "topology") == 0 && nargs == 1) ||
          (strcmp(cmd, "reconcile") == 0 && nargs == 2))) {
        usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "reconcile") == 0 && !reconcile_day_ok(argv[optind + 1])) {
        fprintf(stderr, "shop-admin reconcile: \"%s\" is not a day YYYY-MM-DD\n", argv[optind + 1]);
        return 2;
    }
    static struct shop_config cfg;
    char err[2048];
    if (config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "shop-admin: bad configuration:\n%s\n", err);
        return 2;
    }
    log_init("shop-admin", LOG_WARN);
    if (strcmp(cmd, "reconcile") == 0)
        return cmd_reconcile(&cfg, argv[optind + 1]);
    struct mq_params mqp = runtime_mq_params(&cfg);
    mqp.heartbeat_s = 0;
    mq_conn *mq = mq_open(&mqp);
    if (mq == NULL) {
        fprintf(stderr, "shop-admin: cannot connect to RabbitMQ at %s:%d\n", cfg.mq_host,
                cfg.mq_port);
        return 1;
    }
    rc = 1;
    if (mq_declare_topology(mq) != MQ_OK) {
        fprintf(stderr, "shop-admin: declaring the topology failed\n");
        goto out;
    }
    if (strcmp(cmd, "publish") == 0) {
        const char *key = argv[optind + 1], *id = argv[optind + 2], *body = argv[optind + 3];
        enum mq_status st = mq_publish(mq, MQ_EXCHANGE, key, id, body, strlen(body));
        if (st != MQ_OK) {
            fprintf(stderr, "shop-admin: the broker did not confirm the message (%d)\n", st);
            goto out;
        }
        printf("published %s %s (confirmed)\n", key, id);
    }
    rc = 0;
out:
    mq_close(mq);
    return rc;
}
