/* settings: the sandbox's command line as one table (name, kind, bounds,
 * help) that both parses it and prints --help, and the keys loaded from it
 * at start. `settings` is filled once in main and only read afterwards, so
 * every thread may read it without a lock. The `sign` command parses its own
 * options with the same table code (settings_parse). */
#ifndef SANDBOX_SETTINGS_H
#define SANDBOX_SETTINGS_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>

struct settings {
    const char *socket;
    const char *pid_file;
    const char *state_dir;
    const char *merchant_public_key;
    const char *provider_private_key;
    const char *app_id;
    const char *seller_id;
    double time_scale;
    double threads;
    double request_max_age;  /* seconds a page-pay request's timestamp may be off */
    int test_hooks;          /* serve /test/... (hooks.c) */
    EVP_PKEY *merchant_pub;  /* verifies the merchant's requests */
    EVP_PKEY *provider_priv; /* signs notifications and returns */
};

extern struct settings settings;

enum settings_kind {
    SETTINGS_STRING, /* const char * (argv's), 1..max bytes when max > 0 */
    SETTINGS_NUMBER, /* double in [min, max]; whole when min and max are */
    SETTINGS_FLAG,   /* int set to 1 */
};

struct settings_option {
    const char *name; /* without "--" */
    enum settings_kind kind;
    void *target;
    double min, max;
    int required;
    const char *arg;  /* the value's name in --help; NULL for a flag */
    const char *help; /* NULL: an alias, not listed */
};

/* Parse "--name VALUE", "--name=VALUE" and "--flag" from argv[1..] against
 * table (n rows), stopping at the first operand or after "--". Returns the
 * index of the first operand (argc when none), or -1 after --help (usage on
 * stdout), or -2 after a bad, missing or out-of-bounds option (why on
 * stderr, prefixed with prog). */
int settings_parse(const struct settings_option *table, size_t n, int argc, char **argv,
                   const char *prog);

/* One line per listed option of table: "  --name ARG   help [default]". */
void settings_print(FILE *f, const struct settings_option *table, size_t n);

/* The server's command line into `settings` (see settings_parse; any operand
 * is refused). -1 to go on, else the exit code: 0 after --help, 2 after a
 * bad command line (usage printed). */
int settings_load(int argc, char **argv);
/* Load the two keys named by the settings. 0, or 2 with the reason on stderr. */
int settings_load_keys(void);
void settings_free(void);

#endif
