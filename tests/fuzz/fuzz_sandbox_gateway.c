/* The sandbox's requests: FastCGI params "NAME=VALUE", one a line, up to an
 * empty line, then the body, through routes_handle as the sandbox serves
 * them (/gateway.do, /pay, /cancel, ...). A first line "SIGN" has the
 * harness sign the request (the query's and the body's parameters, as the
 * gateway verifies them) with the merchant's key into QUERY_STRING, so that
 * the fuzzer gets past the signature to biz_content and the page-pay checks.
 * The store is a fresh directory, removed at exit. */
#include <ftw.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include "alipay.h"
#include "fuzz.h"
#include "routes.h"
#include "schedule.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

#define MAX_PARAMS 32

static char state_dir[] = "/tmp/shop-fuzz-sandbox-XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_store(void)
{
    nftw(state_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    static const char *const dirs[] = {
        TRADE_TRADES,    TRADE_PAID,       TRADE_OPEN,      TRADE_PAYMENTS,
        TRADE_TRADE_NOS, SCHEDULE_PENDING, SCHEDULE_FAILED, NULL};
    fuzz_quiet();
    FUZZ_CHECK(mkdtemp(state_dir) != NULL);
    atexit(remove_store);
    FUZZ_CHECK(store_open(state_dir, dirs) == 0);
    settings.app_id = "2021000000000001";
    settings.seller_id = "2088000000000001";
    settings.test_hooks = 1;
    settings.merchant_pub = EVP_RSA_gen(2048);
    settings.provider_priv = settings.merchant_pub;
    FUZZ_CHECK(settings.merchant_pub != NULL);
}

/* Where the response goes: a buffer emptied whenever it is full. */
static void discard(FCGX_Stream *out, int close)
{
    (void)close;
    out->wrNext = out->stopUnget;
}

/* The signature of the query's and the body's parameters (what the gateway
 * verifies) into q, as `sign` with sign_type=RSA2. 0, or -1 when they do
 * not parse. */
static int sign_params(struct alipay_params *q, const char *body, size_t len)
{
    struct alipay_params all;
    int rc = -1;
    alipay_params_init(&all);
    if (alipay_params_set(q, "sign_type", "RSA2") != ALIPAY_OK ||
        alipay_params_parse_form(body, len, &all) != ALIPAY_OK)
        goto out;
    for (size_t i = 0; i < q->n; i++)
        if (alipay_params_add(&all, q->p[i].key, q->p[i].value) != ALIPAY_OK)
            goto out;
    if (alipay_params_sign_request(settings.merchant_pub, &all) == 0 &&
        alipay_params_set(q, "sign", alipay_params_get(&all, "sign")) == ALIPAY_OK)
        rc = 0;
out:
    alipay_params_free(&all);
    return rc;
}

/* The param line "QUERY_STRING=..." signed (a line in *signed_line), or the
 * same line when the query and body do not parse. */
static char *sign_query(char *line, const char *body, size_t len, struct buf *signed_line)
{
    struct alipay_params q;
    const char *query = line + strlen("QUERY_STRING=");
    alipay_params_init(&q);
    if (alipay_params_parse_form(query, strlen(query), &q) == ALIPAY_OK &&
        sign_params(&q, body, len) == 0 && buf_puts(signed_line, "QUERY_STRING=") == 0 &&
        alipay_params_encode(&q, signed_line) == 0)
        line = signed_line->data;
    alipay_params_free(&q);
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char out_buf[4096];
    char *text = fuzz_str(data, size), *rest = text;
    size_t left = size;
    char *env[MAX_PARAMS + 1];
    struct buf signed_line;
    if (settings.merchant_pub == NULL)
        setup();
    buf_init(&signed_line, ALIPAY_FORM_MAX);
    size_t n = fuzz_params(&rest, &left, env, MAX_PARAMS);
    if (n > 0 && strcmp(env[0], "SIGN") == 0)
        for (size_t i = 1; i < n; i++)
            if (strncmp(env[i], "QUERY_STRING=", 13) == 0) {
                env[i] = sign_query(env[i], rest, left, &signed_line);
                break; /* libfcgi reads the first */
            }
    FCGX_Stream in = fuzz_reader(rest, left);
    FCGX_Stream out = {.wrNext = out_buf,
                       .stop = out_buf + sizeof out_buf,
                       .stopUnget = out_buf,
                       .emptyBuffProc = discard};
    FCGX_Request fr = {.in = &in, .out = &out, .envp = env};
    routes_handle(&fr);
    buf_free(&signed_line);
    free(text);
    return 0;
}
