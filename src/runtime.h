/* runtime: what every program of the shop does at start with its settings:
 * connect the database client to each service's database and fill the
 * broker parameters. One place, so the app, the consumers and the admin tool
 * cannot drift apart. */
#ifndef SHOP_RUNTIME_H
#define SHOP_RUNTIME_H

#include "config.h"
#include "mq.h"

/* db_global_init with db_*, then db_service_init for each service that has
 * its own database (goods_db_name, ...). 0 or -1 (logged). */
int runtime_db_init(const struct shop_config *cfg);

/* The broker parameters of cfg (pointing into cfg). */
struct mq_params runtime_mq_params(const struct shop_config *cfg);

#endif
