/* shop-sandbox: a payment provider that speaks Alipay's protocol, for tests
 * and demos: FastCGI behind nginx on a port of its own (nginx/sandbox.conf).
 * This file is the program: the command line (settings.c), the FastCGI
 * worker threads that answer the site (routes.c), the delivery thread
 * (schedule.c), the stop on a signal, and the `sign` command:
 *
 *   shop-sandbox sign --provider-private-key PEM [--request] k=v ...
 *
 * prints a signed form body, for sending a notification by hand with curl.
 *
 * State (--state-dir, store.c): trades/ (with their refunds), paid/, open/,
 * payments/ and tradeno/ (trade.c), pending/ and
 * failed/ notifications (schedule.c). Times in the protocol fields are UTC
 * ("YYYY-MM-DD HH:MM:SS"), as the shop writes them; the real Alipay uses
 * Beijing time. */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alipay.h"
#include "buf.h"
#include "deliver.h"
#include "log.h"
#include "routes.h"
#include "runtime.h"
#include "schedule.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

static atomic_int stopping;
static int listen_fd = -1;

static void sign_usage(FILE *f)
{
    fprintf(f, "usage: shop-sandbox sign --provider-private-key PEM [--request] k=v ...\n"
               "Prints k=v pairs (raw values) as a form body with sign_type=RSA2 and sign added\n"
               "(the notification rule; --request: the gateway request rule), e.g.\n"
               "  curl --data \"$(shop-sandbox sign --provider-private-key run/keys/"
               "provider_private.pem \\\n"
               "      notify_id=1 app_id=2026000000000001 out_trade_no=42 trade_no=2026 \\\n"
               "      trade_status=TRADE_SUCCESS total_amount=88.00)\" \\\n"
               "      http://127.0.0.1:8080/pay/notify/alipay\n");
}

/* The k=v operands into ps. 0, or 2 with the reason on stderr. */
static int sign_params(int argc, char **argv, struct alipay_params *ps)
{
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || eq == argv[i]) {
            fprintf(stderr, "shop-sandbox sign: \"%s\" is not k=v\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        int rc = alipay_params_add(ps, argv[i], eq + 1);
        if (rc != ALIPAY_OK) {
            fprintf(stderr, "shop-sandbox sign: %s: %s\n", argv[i], alipay_status_text(rc));
            return 2;
        }
    }
    return 0;
}

static int cmd_sign(int argc, char **argv)
{
    const char *key_path = NULL;
    int request = 0;
    const struct settings_option opts[] = {
        {"provider-private-key", SETTINGS_STRING, &key_path, 0, 0, 1, "PEM", "the signing key"},
        {"private-key", SETTINGS_STRING, &key_path, 0, 0, 0, "PEM", NULL},
        {"request", SETTINGS_FLAG, &request, 0, 0, 0, NULL, "sign by the request rule"},
    };
    int first = settings_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "shop-sandbox sign");
    if (first < 0) {
        sign_usage(first == -1 ? stdout : stderr);
        return first == -1 ? 0 : 2;
    }
    char err[512];
    EVP_PKEY *key = alipay_load_private_key(key_path, err, sizeof err);
    if (key == NULL) {
        fprintf(stderr, "shop-sandbox sign: %s\n", err);
        return 2;
    }
    struct alipay_params ps;
    struct buf out;
    alipay_params_init(&ps);
    buf_init(&out, ALIPAY_FORM_MAX);
    int rc = sign_params(argc - first, argv + first, &ps);
    if (rc == 0 &&
        ((request ? alipay_params_sign_request(key, &ps) : alipay_params_sign(key, &ps)) != 0 ||
         alipay_params_encode(&ps, &out) != 0)) {
        fprintf(stderr, "shop-sandbox sign: signing failed\n");
        rc = 1;
    }
    if (rc == 0)
        printf("%s\n", buf_str(&out));
    buf_free(&out);
    alipay_params_free(&ps);
    EVP_PKEY_free(key);
    return rc;
}

static void *worker(void *arg)
{
    FCGX_Request req;
    (void)arg;
    if (FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("FCGX_InitRequest failed");
        return NULL;
    }
    while (!atomic_load(&stopping)) {
        if (FCGX_Accept_r(&req) < 0)
            continue;
        routes_handle(&req);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return NULL;
}

static int open_socket(void)
{
    if (FCGX_Init() != 0) {
        log_error("FCGX_Init failed");
        return -1;
    }
    listen_fd = runtime_listen(settings.socket, 128);
    return listen_fd < 0 ? -1 : 0;
}

/* Serve until a stop signal. 0 after a clean stop, 1 when it could not start. */
static int serve(void)
{
    sigset_t stop_set;
    int started = 0, rc = 1, nthreads = (int)settings.threads;
    pthread_t *threads = calloc((size_t)nthreads, sizeof *threads);
    runtime_block_signals(&stop_set);
    if (threads == NULL || schedule_start(settings.time_scale) != 0) {
        log_error("cannot start the delivery thread");
        goto stop;
    }
    for (; started < nthreads; started++)
        if (pthread_create(&threads[started], NULL, worker, NULL) != 0) {
            log_error("cannot start worker thread %d", started);
            goto stop;
        }
    if (runtime_write_pid(settings.pid_file) != 0)
        log_warn("cannot write pid file %s", settings.pid_file);
    log_info("listening on %s with %d threads; state in %s; app_id %s; time scale %g",
             settings.socket, nthreads, settings.state_dir, settings.app_id, settings.time_scale);
    runtime_wait_stop(&stop_set);
    rc = 0;
stop:
    atomic_store(&stopping, 1);
    runtime_stop_workers(&listen_fd, 1, threads, started);
    schedule_stop();
    free(threads);
    log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    static const char *const dirs[] = {
        TRADE_TRADES,    TRADE_PAID,       TRADE_OPEN,      TRADE_PAYMENTS,
        TRADE_TRADE_NOS, SCHEDULE_PENDING, SCHEDULE_FAILED, NULL};
    if (argc > 1 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    int rc = settings_load(argc, argv);
    if (rc >= 0)
        return rc;
    if ((rc = settings_load_keys()) != 0)
        goto out;
    rc = 1;
    if (store_open(settings.state_dir, dirs) != 0 || deliver_global_init() != 0)
        goto out;
    log_init("shop-sandbox", LOG_INFO);
    if (open_socket() == 0)
        rc = serve();
    deliver_global_cleanup();
out:
    if (listen_fd >= 0) {
        close(listen_fd);
        unlink(settings.socket);
    }
    if (settings.pid_file && rc == 0)
        unlink(settings.pid_file);
    settings_free();
    return rc;
}
