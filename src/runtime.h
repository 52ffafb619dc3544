/* runtime: what every program of the shop does at start with its settings:
 * connect the database client to each service's database and fill the
 * broker parameters. One place, so the app, the consumers and the admin tool
 * cannot drift apart. */
#ifndef SHOP_RUNTIME_H
#define SHOP_RUNTIME_H

#include <pthread.h>
#include <signal.h>
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

/* The FastCGI programs' signals: the stop signals (TERM, INT, HUP, USR1)
 * blocked in this thread and every thread it starts afterwards, for main to
 * sigwait() on stop_set; SIGUSR2 installed without SA_RESTART so that it
 * interrupts a worker's blocking accept or read; SIGPIPE ignored. */
void runtime_block_signals(sigset_t *stop_set);

/* A FastCGI listening socket at path (an old file there is replaced), mode
 * 0660: nginx's workers run as this process's user (the private nginx) or in
 * its group (a server install), never as others. The fd, or -1 (logged). */
int runtime_listen(const char *path, int backlog);

/* Wait for one of stop_set's signals (main only) and log which. */
void runtime_wait_stop(const sigset_t *stop_set);

/* Stop a FastCGI program's workers: no new requests (FCGX_ShutdownPending),
 * the n_fds listening sockets shut down, then each of the n threads nudged
 * with SIGUSR2 every 100 ms until it has left its blocking call, and joined.
 * Set the program's own stop flag first. */
void runtime_stop_workers(const int *fds, int n_fds, const pthread_t *threads, int n);

/* db_global_init with db_*, then db_service_init for each service that has
 * its own database (goods_db_name, ...). 0 or -1 (logged). */
int runtime_db_init(const struct shop_config *cfg);

/* The broker parameters of cfg (pointing into cfg). */
struct mq_params runtime_mq_params(const struct shop_config *cfg);

#endif
