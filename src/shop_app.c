/* shop-app: the FastCGI application behind nginx.
 *
 * Threads: main blocks the stop signals and waits for them with sigwait();
 * N workers each loop on FCGX_Accept_r (no mutex around it: libfcgi's accept
 * is thread-safe on Linux, and nginx keepalive pins one worker per kept
 * connection, so there must be more workers than nginx keeps). To stop, main
 * shuts the listening socket down and interrupts workers blocked on a kept
 * connection with SIGUSR2, then joins them and frees everything, so that a
 * leak checker sees a clean exit. */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alipay.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "mq_pipe.h"
#include "order_saga.h"
#include "provider.h"
#include "runtime.h"
#include "snowflake.h"
#include "templates.h"
#include "web.h"

/* The most notifications one confirm round of the shared publisher carries. */
#define NOTIFY_BATCH_MAX 256

static atomic_int stopping;
/* Two pools: page and API traffic on one socket, the payment provider's
 * notifications on their own, so slow pages never delay a notification. */
static int listen_fd = -1;
static int notify_fd = -1;
static struct web_app app;

static void *worker(void *arg)
{
    int fd = *(const int *)arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("FCGX_InitRequest failed");
        return NULL;
    }
    while (!atomic_load(&stopping)) {
        if (FCGX_Accept_r(&req) < 0) {
            if (atomic_load(&stopping))
                break;
            continue; /* a broken connection: accept the next one */
        }
        web_handle(&app, &req);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    web_thread_end();
    return NULL;
}

/* The exchange, queues and delay queues must exist before the first order
 * publishes into them. The broker may be down now: the consumers declare the
 * same topology when they (re)connect, so a failure here is only logged. */
static void declare_topology(const struct mq_params *p, const struct shop_config *cfg)
{
    mq_conn *mq = mq_open(p);
    if (mq == NULL || mq_declare_topology(mq) != MQ_OK ||
        order_saga_delay_declare(mq, cfg->preorder_timeout_s, cfg->unpaid_timeout_s) != 0)
        log_warn("broker topology not declared at start (broker down?)");
    mq_close(mq);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shop-app [--config FILE] [--pid-file FILE]\n"
               "Settings (file `name = value`, or environment SHOP_NAME):\n");
    config_print_help(f);
}

int main(int argc, char **argv)
{
    const char *config_path = NULL, *pid_path = NULL;
    int rc = runtime_options(argc, argv, usage, &config_path, &pid_path);
    if (rc >= 0)
        return rc;
    static struct shop_config cfg;
    char err[2048];
    if ((rc = runtime_config(&cfg, config_path, "shop-app")) != 0)
        return rc;
    rc = 1;

    pthread_t *threads = NULL;
    int started = 0;
    struct templates *tpl = NULL;
    int db_ready = 0;

    if (snowflake_init(&shop_ids, cfg.worker_id, NULL) != 0) {
        log_error("bad worker id %d", cfg.worker_id);
        goto out;
    }
    char process[32];
    snprintf(process, sizeof process, "app.%d", cfg.worker_id);
    metrics_set_process(process);
    tpl = templates_load(cfg.templates_dir, err, sizeof err);
    if (tpl == NULL) {
        log_error("templates in %s: %s", cfg.templates_dir, err);
        goto out;
    }
    if (auth_init() != 0) {
        log_error("libsodium initialisation failed");
        goto out;
    }
    auth_hash_limit(cfg.hash_max_concurrent);
    if (provider_global_init() != 0) {
        log_error("libcurl initialisation failed");
        goto out;
    }
    if (runtime_db_init(&cfg) != 0)
        goto out;
    db_ready = 1;
    app.cfg = &cfg;
    app.tpl = tpl;
    app.mq = runtime_mq_params(&cfg);
    static char provider_origin[256];
    if (alipay_url_origin(cfg.alipay_gateway, provider_origin, sizeof provider_origin) == 0)
        app.provider_origin = provider_origin;
    else
        log_warn("alipay_gateway %s has no usable origin", cfg.alipay_gateway);
    declare_topology(&app.mq, &cfg);
    /* One connection publishes every notification, batching the confirms of
     * those that arrive together. */
    if ((app.notify_pipe = mq_pipe_start(&app.mq, cfg.notify_publishers, NOTIFY_BATCH_MAX,
                                         cfg.notify_linger_us)) == NULL)
        goto out;

    if (FCGX_Init() != 0) {
        log_error("FCGX_Init failed");
        goto out;
    }
    if ((listen_fd = runtime_listen(cfg.fcgi_socket, 1024)) < 0 ||
        (notify_fd = runtime_listen(cfg.fcgi_notify_socket, 1024)) < 0)
        goto out;

    /* Stop signals go to sigwait() in main only; SIGUSR2 interrupts workers. */
    sigset_t stop_set;
    runtime_block_signals(&stop_set);

    int nthreads = cfg.app_threads + cfg.notify_threads;
    threads = calloc((size_t)nthreads, sizeof *threads);
    if (threads == NULL)
        goto out;
    for (; started < nthreads; started++)
        if (pthread_create(&threads[started], NULL, worker,
                           started < cfg.app_threads ? &listen_fd : &notify_fd) != 0) {
            log_error("cannot start worker thread %d", started);
            goto stop;
        }
    if (runtime_write_pid(pid_path) != 0)
        log_warn("cannot write pid file %s", pid_path);
    log_info("listening on %s with %d threads, notifications on %s with %d", cfg.fcgi_socket,
             cfg.app_threads, cfg.fcgi_notify_socket, cfg.notify_threads);

    /* Another app instance answers some scrapes (nginx balances them): each
     * writes its series for the others too, as the consumers do. */
    static volatile sig_atomic_t metrics_never_stop;
    metrics_writer_start(cfg.metrics_dir, METRICS_WRITE_MS, &metrics_never_stop);
    runtime_wait_stop(&stop_set);
    rc = 0;

stop:
    atomic_store(&stopping, 1);
    runtime_stop_workers((int[]){listen_fd, notify_fd}, 2, threads, started);
    log_info("stopped");
out:
    metrics_writer_stop();
    free(threads);
    mq_pipe_stop(app.notify_pipe);
    if (listen_fd >= 0) {
        close(listen_fd);
        unlink(cfg.fcgi_socket);
    }
    if (notify_fd >= 0) {
        close(notify_fd);
        unlink(cfg.fcgi_notify_socket);
    }
    if (pid_path && rc == 0)
        unlink(pid_path);
    templates_free(tpl);
    if (db_ready)
        db_global_cleanup();
    snowflake_destroy(&shop_ids);
    return rc;
}
