#include "runtime.h"

#include <errno.h>
#include <fcgiapp.h>
#include <getopt.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

int runtime_listen(const char *path, int backlog)
{
    unlink(path);
    int fd = FCGX_OpenSocket(path, backlog);
    if (fd < 0) {
        log_error("cannot listen on %s: %s", path, strerror(errno));
        return -1;
    }
    if (chmod(path, 0660) != 0) {
        log_error("cannot set the mode of %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int runtime_options(int argc, char **argv, void (*usage)(FILE *), const char **config_path,
                    const char **pid_path)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"pid-file", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:p:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            *config_path = optarg;
            break;
        case 'p':
            if (pid_path == NULL) { /* a program without a pid file */
                usage(stderr);
                return 2;
            }
            *pid_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

int runtime_config(struct shop_config *cfg, const char *config_path, const char *prog)
{
    char err[2048];
    if (config_load(cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "%s: refusing to start, bad configuration:\n%s\n", prog, err);
        return 2;
    }
    enum log_level level = LOG_INFO;
    log_level_parse(cfg->log_level, &level);
    log_init(prog, level);
    return 0;
}

int runtime_write_pid(const char *path)
{
    if (path == NULL)
        return 0;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    return fclose(f);
}

static void on_sigusr2(int sig)
{
    (void)sig;
}

void runtime_block_signals(sigset_t *stop_set)
{
    struct sigaction sa = {.sa_handler = on_sigusr2};
    sigemptyset(stop_set);
    sigaddset(stop_set, SIGTERM);
    sigaddset(stop_set, SIGINT);
    sigaddset(stop_set, SIGHUP);
    sigaddset(stop_set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, stop_set, NULL);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL); /* no SA_RESTART: the read must fail with EINTR */
    signal(SIGPIPE, SIG_IGN);
}

void runtime_wait_stop(const sigset_t *stop_set)
{
    int sig = 0;
    sigwait(stop_set, &sig);
    log_info("signal %d: stopping", sig);
}

void runtime_stop_workers(const int *fds, int n_fds, const pthread_t *threads, int n)
{
    FCGX_ShutdownPending();
    for (int i = 0; i < n_fds; i++)
        if (fds[i] >= 0)
            shutdown(fds[i], SHUT_RDWR);
    for (int i = 0; i < n; i++) {
        struct timespec ts;
        for (;;) {
            pthread_kill(threads[i], SIGUSR2);
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_timedjoin_np(threads[i], NULL, &ts) == 0)
                break;
        }
    }
}

int runtime_db_init(const struct shop_config *cfg)
{
    struct db_params p = {.host = cfg->db_host,
                          .port = (unsigned)cfg->db_port,
                          .hosts = cfg->db_hosts,
                          .socket = cfg->db_socket,
                          .user = cfg->db_user,
                          .password = cfg->db_password,
                          .database = cfg->db_name,
                          .timeout_s = (unsigned)cfg->db_timeout_s};
    if (db_global_init(&p) != 0) {
        log_error("database client initialisation failed");
        return -1;
    }
    const struct {
        enum db_service svc;
        const char *name;
    } own[] = {{DB_GOODS, cfg->goods_db_name},
               {DB_COUPON, cfg->coupon_db_name},
               {DB_USER, cfg->user_db_name},
               {DB_ORDER, cfg->order_db_name}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (own[i].name[0] == '\0')
            continue;
        p.database = own[i].name;
        if (db_service_init(own[i].svc, &p) != 0)
            return -1;
        log_info("service database %d: %s", (int)own[i].svc, own[i].name);
    }
    return 0;
}

struct mq_params runtime_mq_params(const struct shop_config *cfg)
{
    return (struct mq_params){.host = cfg->mq_host,
                              .port = cfg->mq_port,
                              .hosts = cfg->mq_hosts,
                              .quorum = strcmp(cfg->mq_queue_type, "quorum") == 0,
                              .user = cfg->mq_user,
                              .password = cfg->mq_password,
                              .vhost = cfg->mq_vhost,
                              .timeout_ms = cfg->mq_timeout_ms,
                              .heartbeat_s = cfg->mq_heartbeat_s};
}
