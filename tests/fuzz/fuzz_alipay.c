/* Alipay parameters: the input is a form (a notification's body, a gateway
 * request's query). What parses keeps the caps (pairs, key and value
 * lengths, no duplicate); both signing strings build; the encoded form
 * parses back to the same pairs; a signature in it is checked, never trusted
 * without verifying. */
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "alipay.h"
#include "fuzz.h"

static EVP_PKEY *key;

static void same(const struct alipay_params *a, const struct alipay_params *b)
{
    FUZZ_CHECK(a->n == b->n);
    for (size_t i = 0; i < a->n; i++) {
        FUZZ_CHECK(strcmp(a->p[i].key, b->p[i].key) == 0);
        FUZZ_CHECK(strcmp(a->p[i].value, b->p[i].value) == 0);
    }
}

static void check_parsed(const struct alipay_params *ps)
{
    struct buf b;
    struct alipay_params again;
    FUZZ_CHECK(ps->n <= ALIPAY_MAX_PARAMS);
    for (size_t i = 0; i < ps->n; i++) {
        FUZZ_CHECK(ps->p[i].key[0] != '\0' && strlen(ps->p[i].key) <= ALIPAY_KEY_MAX);
        FUZZ_CHECK(strlen(ps->p[i].value) <= ALIPAY_VALUE_MAX);
        FUZZ_CHECK(alipay_params_get(ps, ps->p[i].key) == ps->p[i].value);
    }
    buf_init(&b, ALIPAY_FORM_MAX);
    FUZZ_CHECK(alipay_signing_string(ps, &b) == 0);
    FUZZ_CHECK(alipay_request_signing_string(ps, &b) == 0);
    buf_reset(&b);
    FUZZ_CHECK(alipay_params_encode(ps, &b) == 0);
    alipay_params_init(&again);
    FUZZ_CHECK(alipay_params_parse_form(buf_str(&b), b.len, &again) == ALIPAY_OK);
    same(ps, &again);
    alipay_params_free(&again);
    buf_free(&b);
    (void)alipay_verify(key, ps);
    (void)alipay_verify_request(key, ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct alipay_params ps;
    if (key == NULL)
        key = EVP_RSA_gen(2048);
    FUZZ_CHECK(key != NULL);
    alipay_params_init(&ps);
    int rc = alipay_params_parse_form((const char *)data, size, &ps);
    if (rc == ALIPAY_OK)
        check_parsed(&ps);
    else
        FUZZ_CHECK(ps.n == 0 && rc >= ALIPAY_ERR_NOMEM && rc <= ALIPAY_ERR_MALFORMED);
    alipay_params_free(&ps);
    return 0;
}
