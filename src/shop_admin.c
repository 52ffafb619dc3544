/* shop-admin: the operator's command line.
 *   shop-admin [--config FILE] publish ROUTING_KEY MESSAGE_ID JSON
 *       publish one persistent event to the shop's exchange and wait for the
 *       broker's confirm (exit 0 only when confirmed)
 *   shop-admin [--config FILE] topology
 *       declare the exchange, queues and bindings */
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mq.h"
#include "runtime.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: shop-admin [--config FILE] publish ROUTING_KEY MESSAGE_ID JSON\n"
               "       shop-admin [--config FILE] topology\n");
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
          (strcmp(cmd, "topology") == 0 && nargs == 1))) {
        usage(stderr);
        return 2;
    }
    static struct shop_config cfg;
    char err[2048];
    if (config_load(&cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "shop-admin: bad configuration:\n%s\n", err);
        return 2;
    }
    log_init("shop-admin", LOG_WARN);
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
