#define SUITE_NAME "config"
#include "testmain.h"

#include "config.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const ENV_VARS[] = {
    "SHOP_WORKER_ID",     "SHOP_LOG_LEVEL",      "SHOP_FCGI_SOCKET",    "SHOP_APP_THREADS",
    "SHOP_TEMPLATES_DIR", "SHOP_MAX_BODY_BYTES", "SHOP_MAX_JSON_DEPTH", "SHOP_DB_HOST",
    "SHOP_DB_PORT",       "SHOP_DB_SOCKET",      "SHOP_DB_USER",        "SHOP_DB_PASSWORD",
    "SHOP_DB_NAME",       "SHOP_DB_TIMEOUT_S",   "SHOP_MQ_HOST",        "SHOP_MQ_PORT",
    "SHOP_MQ_USER",       "SHOP_MQ_PASSWORD",    "SHOP_MQ_VHOST",       "SHOP_MQ_PREFETCH",
    "SHOP_MQ_TIMEOUT_MS", "SHOP_MQ_HEARTBEAT_S", "SHOP_MQ_HOSTS",       "SHOP_DB_HOSTS",
    "SHOP_MQ_QUEUE_TYPE",
};

/* The tests own the environment: whatever the shell exported is cleared. */
static int clear_env(void)
{
    for (size_t i = 0; i < sizeof ENV_VARS / sizeof ENV_VARS[0]; i++)
        unsetenv(ENV_VARS[i]);
    return 0;
}

#define SUITE_INIT clear_env

/* A temporary config file with `text`; the caller unlinks `path`. */
static void write_file(char path[64], const char *text)
{
    snprintf(path, 64, "/tmp/shop-test-config-XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    size_t n = strlen(text);
    CU_ASSERT_FATAL(write(fd, text, n) == (ssize_t)n);
    close(fd);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_defaults(void)
{
    struct shop_config cfg;
    char err[512] = "junk";
    CU_ASSERT_EQUAL_FATAL(config_load(&cfg, NULL, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(cfg.worker_id, 1);
    CU_ASSERT_STRING_EQUAL(cfg.log_level, "info");
    CU_ASSERT_STRING_EQUAL(cfg.fcgi_socket, "run/sock/shop-app.sock");
    CU_ASSERT_EQUAL(cfg.app_threads, 32);
    CU_ASSERT_STRING_EQUAL(cfg.templates_dir, "templates");
    CU_ASSERT_EQUAL(cfg.max_body_bytes, 65536);
    CU_ASSERT_EQUAL(cfg.max_json_depth, 16);
    CU_ASSERT_STRING_EQUAL(cfg.db_host, "127.0.0.1");
    CU_ASSERT_EQUAL(cfg.db_port, 23306);
    CU_ASSERT_STRING_EQUAL(cfg.db_socket, "");
    CU_ASSERT_STRING_EQUAL(cfg.db_user, "shop");
    CU_ASSERT_STRING_EQUAL(cfg.db_password, "shop");
    CU_ASSERT_STRING_EQUAL(cfg.db_name, "shop");
    CU_ASSERT_EQUAL(cfg.db_timeout_s, 5);
    CU_ASSERT_STRING_EQUAL(cfg.mq_host, "127.0.0.1");
    CU_ASSERT_EQUAL(cfg.mq_port, 25673);
    CU_ASSERT_STRING_EQUAL(cfg.mq_user, "shop");
    CU_ASSERT_STRING_EQUAL(cfg.mq_password, "shop");
    CU_ASSERT_STRING_EQUAL(cfg.mq_vhost, "/");
    CU_ASSERT_EQUAL(cfg.mq_prefetch, 256);
    CU_ASSERT_EQUAL(cfg.mq_batch, 256);
    CU_ASSERT_EQUAL(cfg.notify_publishers, 1);
    CU_ASSERT_EQUAL(cfg.notify_linger_us, 2000);
    CU_ASSERT_EQUAL(cfg.mq_timeout_ms, 5000);
    CU_ASSERT_EQUAL(cfg.mq_heartbeat_s, 30);
}

static void test_file_parse(void)
{
    char path[64];
    write_file(path, "# shop settings\n"
                     "\n"
                     "   # an indented comment\n"
                     "worker_id = 7\n"
                     "  db_host=db.internal  \n"
                     "db_port\t=\t3306\r\n"
                     "db_password = s3cr#t = x\n"
                     "db_socket =\n"
                     "log_level = WARN\n"
                     "mq_heartbeat_s = 0\n"
                     "mq_vhost = /shop\n"
                     "mq_prefetch = 1\n"
                     "mq_prefetch = 10000\n" /* the later line wins */
                     "\t\n"
                     "app_threads = 4"); /* no final newline */
    struct shop_config cfg;
    char err[512];
    int rc = config_load(&cfg, path, err, sizeof err);
    unlink(path);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(cfg.worker_id, 7);
    CU_ASSERT_STRING_EQUAL(cfg.db_host, "db.internal");
    CU_ASSERT_EQUAL(cfg.db_port, 3306);
    /* '#' inside a value is data, and so is a second '='. */
    CU_ASSERT_STRING_EQUAL(cfg.db_password, "s3cr#t = x");
    CU_ASSERT_STRING_EQUAL(cfg.db_socket, "");
    CU_ASSERT_STRING_EQUAL(cfg.log_level, "warn");
    CU_ASSERT_EQUAL(cfg.mq_heartbeat_s, 0);
    CU_ASSERT_STRING_EQUAL(cfg.mq_vhost, "/shop");
    CU_ASSERT_EQUAL(cfg.mq_prefetch, 10000);
    CU_ASSERT_EQUAL(cfg.app_threads, 4);
    /* Untouched settings keep their defaults. */
    CU_ASSERT_EQUAL(cfg.mq_port, 25673);
    CU_ASSERT_STRING_EQUAL(cfg.templates_dir, "templates");
}

static void test_env_override(void)
{
    char path[64];
    write_file(path, "db_port = 1234\ndb_host = from-file\nmq_user = file-user\n");
    setenv("SHOP_DB_PORT", "4321", 1);
    setenv("SHOP_DB_HOST", "from-env", 1);
    setenv("SHOP_DB_SOCKET", "/run/mysqld.sock", 1);
    setenv("SHOP_LOG_LEVEL", "debug", 1);
    struct shop_config cfg;
    char err[512];
    int rc = config_load(&cfg, path, err, sizeof err);
    clear_env();
    unlink(path);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(cfg.db_port, 4321);
    CU_ASSERT_STRING_EQUAL(cfg.db_host, "from-env");
    CU_ASSERT_STRING_EQUAL(cfg.db_socket, "/run/mysqld.sock");
    CU_ASSERT_STRING_EQUAL(cfg.log_level, "debug");
    CU_ASSERT_STRING_EQUAL(cfg.mq_user, "file-user");

    /* Without a file too. */
    setenv("SHOP_WORKER_ID", "1023", 1);
    rc = config_load(&cfg, NULL, err, sizeof err);
    clear_env();
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(cfg.worker_id, 1023);
}

static void test_env_refused(void)
{
    setenv("SHOP_DB_PORT", "70000", 1);
    struct shop_config cfg;
    char err[512];
    int rc = config_load(&cfg, NULL, err, sizeof err);
    clear_env();
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "SHOP_DB_PORT"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "db_port: 70000 is out of range 1..65535"));
    CU_ASSERT_EQUAL(count_lines(err), 1);
}

static void test_int_refusals(void)
{
    struct shop_config cfg;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(config_load(&cfg, NULL, err, sizeof err), 0);

    CU_ASSERT_EQUAL(config_set(&cfg, "db_port", "70000", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "db_port: 70000 is out of range 1..65535");
    CU_ASSERT_EQUAL(config_set(&cfg, "db_port", "12abc", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "db_port: \"12abc\" is not an integer");

    static const char *const bad_ints[] = {
        "",
        " 12",
        "12 ",
        "+12",
        "0x10",
        "1e3",
        "12.0",
        "-",
        "--1",
        "abc",
        "1 2",
        "65536",
        "0",
        "-1",
        "99999999999999999999999",
        "-99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad_ints / sizeof bad_ints[0]; i++) {
        err[0] = '\0';
        CU_ASSERT_EQUAL(config_set(&cfg, "db_port", bad_ints[i], err, sizeof err), -1);
        CU_ASSERT(strncmp(err, "db_port: ", 9) == 0);
    }
    /* A refused value leaves the setting as it was. */
    CU_ASSERT_EQUAL(cfg.db_port, 23306);

    /* The bounds themselves are allowed, one past them is not. */
    CU_ASSERT_EQUAL(config_set(&cfg, "db_port", "1", err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.db_port, 1);
    CU_ASSERT_EQUAL(config_set(&cfg, "db_port", "65535", err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.db_port, 65535);
    CU_ASSERT_EQUAL(config_set(&cfg, "worker_id", "0", err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.worker_id, 0);
    CU_ASSERT_EQUAL(config_set(&cfg, "worker_id", "1024", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "worker_id: 1024 is out of range 0..1023");
    CU_ASSERT_EQUAL(config_set(&cfg, "worker_id", "-1", err, sizeof err), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "max_body_bytes", "1023", err, sizeof err), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "max_body_bytes", "10485760", err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.max_body_bytes, 10485760);
    CU_ASSERT_EQUAL(config_set(&cfg, "max_body_bytes", "10485761", err, sizeof err), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "max_json_depth", "1", err, sizeof err), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "app_threads", "513", err, sizeof err), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "mq_timeout_ms", "99", err, sizeof err), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "mq_heartbeat_s", "3601", err, sizeof err), -1);
    CU_ASSERT_EQUAL(cfg.mq_heartbeat_s, 30);
    /* Leading zeros are still decimal, not octal. */
    CU_ASSERT_EQUAL(config_set(&cfg, "db_timeout_s", "010", err, sizeof err), 0);
    CU_ASSERT_EQUAL(cfg.db_timeout_s, 10);
}

static void test_string_refusals(void)
{
    struct shop_config cfg;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(config_load(&cfg, NULL, err, sizeof err), 0);

    char value[CONFIG_STR_MAX + 1];
    memset(value, 'h', CONFIG_STR_MAX - 1);
    value[CONFIG_STR_MAX - 1] = '\0';
    CU_ASSERT_EQUAL(config_set(&cfg, "db_host", value, err, sizeof err), 0);
    CU_ASSERT_EQUAL(strlen(cfg.db_host), CONFIG_STR_MAX - 1);
    value[CONFIG_STR_MAX - 1] = 'h';
    value[CONFIG_STR_MAX] = '\0';
    CU_ASSERT_EQUAL(config_set(&cfg, "db_host", value, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "db_host: value is 256 bytes, longer than 255");
    CU_ASSERT_EQUAL(strlen(cfg.db_host), CONFIG_STR_MAX - 1);

    CU_ASSERT_EQUAL(config_set(&cfg, "log_level", "verbose", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "log_level: \"verbose\" is not one of debug, info, warn, error");
    CU_ASSERT_EQUAL(config_set(&cfg, "log_level", "", err, sizeof err), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "log_level", "information", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(cfg.log_level, "info");
    CU_ASSERT_EQUAL(config_set(&cfg, "log_level", "Error", err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.log_level, "error");

    CU_ASSERT_EQUAL(config_set(&cfg, "no_such_setting", "1", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "no_such_setting: unknown setting");
    CU_ASSERT_EQUAL(config_set(&cfg, "DB_PORT", "1", err, sizeof err), -1);
}

static void test_file_refusals_collected(void)
{
    char path[64];
    char longline[1200];
    memset(longline, 'v', sizeof longline - 2);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    char text[4096];
    snprintf(text, sizeof text,
             "# line 1\n"
             "db_port = 70000\n"     /* 2 */
             "nosuch = 1\n"          /* 3 */
             "mq_port = 5672\n"      /* 4: fine */
             "just some words\n"     /* 5 */
             "app_threads = 12abc\n" /* 6 */
             "db_host = %s"          /* 7: too long */
             "log_level = loud\n"    /* 8 */
             "mq_vhost = /v\n",      /* 9: fine */
             longline);
    write_file(path, text);
    setenv("SHOP_MQ_PREFETCH", "0", 1);
    struct shop_config cfg;
    char err[2048];
    int rc = config_load(&cfg, path, err, sizeof err);
    clear_env();
    CU_ASSERT_EQUAL(rc, -1);
    /* One line per problem, each naming the file and its line. */
    CU_ASSERT_EQUAL(count_lines(err), 7);
    char want[256];
    snprintf(want, sizeof want, "%s:2: db_port: 70000 is out of range 1..65535\n", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    snprintf(want, sizeof want, "%s:3: nosuch: unknown setting\n", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    snprintf(want, sizeof want, "%s:5: ", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    snprintf(want, sizeof want, "%s:6: app_threads: \"12abc\" is not an integer\n", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    snprintf(want, sizeof want, "%s:7: ", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    snprintf(want, sizeof want, "%s:8: log_level: ", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "SHOP_MQ_PREFETCH: mq_prefetch: 0 is out of range"));
    /* Good lines around the bad ones still count; bad ones leave defaults. */
    CU_ASSERT_EQUAL(cfg.mq_port, 5672);
    CU_ASSERT_STRING_EQUAL(cfg.mq_vhost, "/v");
    CU_ASSERT_EQUAL(cfg.db_port, 23306);
    CU_ASSERT_STRING_EQUAL(cfg.db_host, "127.0.0.1");
    unlink(path);
}

static void test_missing_file(void)
{
    struct shop_config cfg;
    char err[256];
    CU_ASSERT_EQUAL(config_load(&cfg, "/nonexistent/shop.conf", err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/shop.conf"));
    /* The defaults are still filled in. */
    CU_ASSERT_EQUAL(cfg.db_port, 23306);
}

static void test_small_err_buffer(void)
{
    char path[64];
    write_file(path, "a = 1\nb = 2\nc = 3\nd = 4\n");
    struct shop_config cfg;
    char err[40];
    memset(err, 'Z', sizeof err);
    /* Four problems into 24 bytes: cut, terminated, nothing written past. */
    int rc = config_load(&cfg, path, err, 24);
    unlink(path);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT(strlen(err) < 24);
    CU_ASSERT_EQUAL(err[24], 'Z');
    CU_ASSERT_EQUAL(config_load(&cfg, path, NULL, 0), -1);
}

static void test_print_help(void)
{
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    config_print_help(f);
    long size = ftell(f);
    CU_ASSERT_FATAL(size > 0);
    char *text = calloc(1, (size_t)size + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    rewind(f);
    CU_ASSERT_EQUAL(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    static const char *const names[] = {"worker_id", "log_level",      "fcgi_socket", "app_threads",
                                        "db_port",   "mq_heartbeat_s", "mq_vhost",    "db_socket"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(text, names[i]));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "23306"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "1..65535"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "0..1023"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "SHOP_DB_PORT"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"run/sock/shop-app.sock\""));
    free(text);
}

static void test_host_lists(void)
{
    struct shop_config cfg;
    char err[512];
    CU_ASSERT_EQUAL_FATAL(config_load(&cfg, NULL, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.mq_hosts, "");
    CU_ASSERT_STRING_EQUAL(cfg.db_hosts, "");
    CU_ASSERT_STRING_EQUAL(cfg.mq_queue_type, "classic");
    CU_ASSERT_EQUAL(config_set(&cfg, "mq_hosts", "127.0.0.1:1,127.0.0.1:2", err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.mq_hosts, "127.0.0.1:1,127.0.0.1:2");
    CU_ASSERT_EQUAL(config_set(&cfg, "mq_queue_type", "QUORUM", err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(cfg.mq_queue_type, "quorum");

    CU_ASSERT_EQUAL(config_set(&cfg, "db_hosts", "a:1,,b:2", err, sizeof err), -1);
    CU_ASSERT(strncmp(err, "db_hosts: ", 10) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty entry"));
    CU_ASSERT_EQUAL(config_set(&cfg, "mq_hosts", "a:70000", err, sizeof err), -1);
    CU_ASSERT(strncmp(err, "mq_hosts: ", 10) == 0);
    CU_ASSERT_EQUAL(
        config_set(&cfg, "mq_hosts", "a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1", err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than 8 hosts"));
    CU_ASSERT_STRING_EQUAL(cfg.mq_hosts, "127.0.0.1:1,127.0.0.1:2"); /* unchanged */
    CU_ASSERT_EQUAL(config_set(&cfg, "mq_queue_type", "mirrored", err, sizeof err), -1);

    setenv("SHOP_DB_HOSTS", "127.0.0.1:3306,127.0.0.1:x", 1);
    int rc = config_load(&cfg, NULL, err, sizeof err);
    unsetenv("SHOP_DB_HOSTS");
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "SHOP_DB_HOSTS"));
}

static const struct test_case TESTS[] = {
    {"defaults", test_defaults},
    {"file parse, comments and whitespace", test_file_parse},
    {"environment overrides the file", test_env_override},
    {"environment value refused", test_env_refused},
    {"integer refusals and bounds", test_int_refusals},
    {"string refusals (length, choice, unknown)", test_string_refusals},
    {"file refusals collected with file:line", test_file_refusals_collected},
    {"missing file", test_missing_file},
    {"error buffer too small", test_small_err_buffer},
    {"help lists the table", test_print_help},
    {"host lists and the queue type are checked at start", test_host_lists},
    {NULL, NULL},
};

#include "testmain.h"
