/* config: every setting of the shop in one table (config.c): name, type,
 * default, bounds, and the help line. Read once at start from an optional
 * file of `name = value` lines, then from the environment (SHOP_<NAME in upper
 * case>, which wins), and refused loudly (a message naming the setting, its
 * value and the allowed range) when anything is unknown or out of bounds. */
#ifndef SHOP_CONFIG_H
#define SHOP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_STR_MAX 256

struct shop_config {
    /* process */
    int worker_id;      /* snowflake worker, 0..1023 */
    char log_level[16]; /* debug|info|warn|error */
    /* web (shop-app) */
    char fcgi_socket[CONFIG_STR_MAX]; /* unix socket nginx talks to */
    int app_threads;                  /* FastCGI worker threads */
    char templates_dir[CONFIG_STR_MAX];
    int max_body_bytes; /* request body cap */
    int max_json_depth; /* nesting cap for JSON bodies */
    /* MariaDB */
    char db_host[CONFIG_STR_MAX];
    int db_port;
    char db_socket[CONFIG_STR_MAX]; /* used instead of host:port when set */
    char db_user[CONFIG_STR_MAX];
    char db_password[CONFIG_STR_MAX];
    char db_name[CONFIG_STR_MAX];
    int db_timeout_s;              /* connect/read/write timeout */
    char db_hosts[CONFIG_STR_MAX]; /* "host:port,..." tried in turn ("" = db_host:db_port) */
    /* per-service databases ("" = db_name): each service owns its tables */
    char goods_db_name[CONFIG_STR_MAX];
    char coupon_db_name[CONFIG_STR_MAX];
    char user_db_name[CONFIG_STR_MAX];
    char order_db_name[CONFIG_STR_MAX];
    /* RabbitMQ */
    char mq_host[CONFIG_STR_MAX];
    int mq_port;
    char mq_hosts[CONFIG_STR_MAX]; /* "host:port,..." tried in turn ("" = mq_host:mq_port) */
    char mq_queue_type[16];        /* classic|quorum */
    char mq_user[CONFIG_STR_MAX];
    char mq_password[CONFIG_STR_MAX];
    char mq_vhost[CONFIG_STR_MAX];
    int mq_prefetch;   /* consumer prefetch */
    int mq_batch;      /* messages per consumer transaction */
    int mq_timeout_ms; /* connect / confirm wait */
    int mq_heartbeat_s;
    /* accounts */
    int session_ttl_s;           /* a session lives this long */
    int login_max_failures;      /* failures per account before the growing wait */
    int login_addr_max_failures; /* the same per client address */
    int login_delay_max_s;       /* the longest wait */
    int login_window_s;          /* a count is forgotten after this without attempts */
    int hash_max_concurrent;     /* password hashes at once */
    int cookie_secure;           /* 1: cookies only over HTTPS */
    /* orders */
    int preorder_timeout_s; /* an unconfirmed pre-order is cancelled after */
    int unpaid_timeout_s;   /* a confirmed unpaid order expires after */
    int relay_interval_ms;  /* how often the outbox relay looks */
    int outbox_keep_s;      /* sent outbox rows are deleted after */
    char fault_inject[32];  /* tests only: fail the saga after this step (or kill the refund
                               consumer) */
    /* paying (Alipay protocol; the sandbox by default) */
    char public_url[CONFIG_STR_MAX];     /* the shop as buyers reach it, for return/notify URLs */
    char alipay_gateway[CONFIG_STR_MAX]; /* the provider's page-pay gateway URL */
    char alipay_app_id[64];
    char alipay_seller_id[64];
    char alipay_private_key[CONFIG_STR_MAX]; /* PEM file: our key, signs requests */
    char alipay_public_key[CONFIG_STR_MAX];  /* PEM file: the provider's key, verifies notifications
                                              */
    int provider_timeout_ms;                 /* a call to the provider's API */
    int pay_query_after_s;                   /* a paying order is asked about after */
    char metrics_dir[CONFIG_STR_MAX];        /* the consumers' metrics files */
    char fcgi_notify_socket[CONFIG_STR_MAX]; /* unix socket for /pay/notify/ only */
    int notify_threads;    /* FastCGI threads reserved for provider notifications */
    int notify_publishers; /* the notifications' publishing connections */
    int notify_linger_us;  /* a publishing round waits for more notifications, us */
};

/* Fill cfg with the defaults, then the file (when path is not NULL), then the
 * environment. Returns 0, or -1 after writing one line per problem into
 * err (at most errlen bytes, NUL-terminated). */
int config_load(struct shop_config *cfg, const char *path, char *err, size_t errlen);

/* Set one setting by name from text, checking type and bounds (used by the
 * loader and by tests). Returns 0 or -1 with a message in err. */
int config_set(struct shop_config *cfg, const char *name, const char *value, char *err,
               size_t errlen);

/* Print every setting with its default, bounds and help (for --help). */
void config_print_help(FILE *f);

#endif
