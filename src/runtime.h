/* runtime: what every program of the shop does at start with its settings:
 * connect the database client to each service's database and fill the
 * broker parameters. One place, so the app, the consumers and the admin tool
 * cannot drift apart. */
#ifndef SHOP_RUNTIME_H
#define SHOP_RUNTIME_H

#include <stdio.h>

#include "config.h"
#include "mq.h"

/* The command line every program shares: --config FILE, --pid-file FILE
 * (refused when pid_path is NULL: a program that writes none), --help.
 * Returns -1 to go on (optind is at the first operand), else the exit code:
 * 0 after --help, 2 after a bad option (usage was printed). */
int runtime_options(int argc, char **argv, void (*usage)(FILE *), const char **config_path,
                    const char **pid_path);

/* Load the settings (the file, then SHOP_* variables) and start the log as
 * prog at the configured level. 0, or 2 after printing why prog refuses to
 * start. */
int runtime_config(struct shop_config *cfg, const char *config_path, const char *prog);

/* Write this process's pid to path (NULL: nothing). 0 or -1. */
int runtime_write_pid(const char *path);

/* db_global_init with db_*, then db_service_init for each service that has
 * its own database (goods_db_name, ...). 0 or -1 (logged). */
int runtime_db_init(const struct shop_config *cfg);

/* The broker parameters of cfg (pointing into cfg). */
struct mq_params runtime_mq_params(const struct shop_config *cfg);

#endif
