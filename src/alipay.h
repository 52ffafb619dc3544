/* alipay: Alipay's open-platform protocol with RSA2 (SHA256withRSA).
 *
 * Both sides use it: the shop signs page-pay requests with its private key and
 * verifies the provider's notifications with the provider's public key; the
 * sandbox (shop-sandbox) does the reverse. Pointing the shop at the real
 * Alipay is configuration: gateway URL, app id and the two PEM files.
 *
 * Signing strings (Alipay's two rules):
 *  - notifications and the synchronous return (Alipay's "rsaCheckV1"): every
 *    parameter except `sign` and `sign_type`, empty values skipped, sorted by
 *    key in byte order, `k=v` joined by '&', values raw (URL-decoded);
 *  - requests to the gateway (page pay): the same, but `sign_type` is kept
 *    (only `sign` is dropped), as Alipay's SDKs sign them.
 *
 * Keys are loaded once at start; an EVP_PKEY is then only read, so one key may
 * be used from many threads at once (every call makes its own EVP_MD_CTX). */
#ifndef SHOP_ALIPAY_H
#define SHOP_ALIPAY_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

struct json_object;

#define ALIPAY_MAX_PARAMS 64   /* pairs in one form */
#define ALIPAY_KEY_MAX    64   /* bytes of one decoded key */
#define ALIPAY_VALUE_MAX  4096 /* bytes of one decoded value */
/* Base64 of an RSA signature up to 4096 bits (512 bytes -> 684 chars) + NUL. */
#define ALIPAY_SIGN_MAX 700
/* "YYYY-MM-DD HH:MM:SS" and the NUL. */
#define ALIPAY_TIMESTAMP_LEN 20
/* The largest signing string or form body built from capped params. */
#define ALIPAY_FORM_MAX (ALIPAY_MAX_PARAMS * (3 * (ALIPAY_KEY_MAX + ALIPAY_VALUE_MAX) + 2))

enum alipay_status {
    ALIPAY_OK = 0,
    ALIPAY_ERR_MALFORMED = -1, /* bad %-escape, encoded NUL, empty key */
    ALIPAY_ERR_TOO_MANY = -2,  /* more than ALIPAY_MAX_PARAMS pairs */
    ALIPAY_ERR_TOO_LONG = -3,  /* a key or value over its cap */
    ALIPAY_ERR_DUPLICATE = -4, /* the same key twice */
    ALIPAY_ERR_NOMEM = -5,
};

/* A short English word for a status ("duplicate key", ...); never NULL. */
const char *alipay_status_text(int status);

struct alipay_param {
    char key[ALIPAY_KEY_MAX + 1];
    char *value; /* owned, NUL-terminated, at most ALIPAY_VALUE_MAX bytes */
};

/* Key/value pairs in insertion order. Initialise with alipay_params_init and
 * release with alipay_params_free on every path. */
struct alipay_params {
    size_t n;
    struct alipay_param p[ALIPAY_MAX_PARAMS];
};

void alipay_params_init(struct alipay_params *ps);
/* Free every value; ps is empty and reusable afterwards. */
void alipay_params_free(struct alipay_params *ps);

/* Add a pair (both copied). Refuses a key already present, an empty key, a
 * key or value over its cap, and a 65th pair. Returns ALIPAY_OK or a status. */
int alipay_params_add(struct alipay_params *ps, const char *key, const char *value);
/* Replace the value of key, or add the pair when absent. Same refusals. */
int alipay_params_set(struct alipay_params *ps, const char *key, const char *value);
/* The value of key (owned by ps), or NULL when absent. */
const char *alipay_params_get(const struct alipay_params *ps, const char *key);
/* Remove key when present. */
void alipay_params_remove(struct alipay_params *ps, const char *key);

/* Parse an application/x-www-form-urlencoded body (also a query string) of len
 * bytes into ps, which must be freshly initialised. '+' is a space; %XX in
 * either case; "k" without '=' is an empty value; empty segments ("a=1&&b=2")
 * are skipped. On failure ps is left empty. */
int alipay_params_parse_form(const char *body, size_t len, struct alipay_params *ps);

/* Append the pairs as a form body (k=v&k=v, insertion order, every key and
 * value percent-encoded, space as %20) to out. Returns 0 or -1 (out's cap). */
int alipay_params_encode(const struct alipay_params *ps, struct buf *out);

/* The notification signing string (without `sign` and `sign_type`) into out
 * (reset first). Returns 0 or -1 (out's cap or memory). */
int alipay_signing_string(const struct alipay_params *ps, struct buf *out);
/* The request signing string (without `sign`; `sign_type` kept). */
int alipay_request_signing_string(const struct alipay_params *ps, struct buf *out);

/* SHA256withRSA over len bytes of data, base64 (no newlines) into b64out
 * (outsz bytes, ALIPAY_SIGN_MAX is enough for keys up to 4096 bits).
 * Returns 0, or -1 (bad key, output too small). */
int alipay_sign(EVP_PKEY *priv, const char *data, size_t len, char *b64out, size_t outsz);

/* Verify base64 signature b64 over data with pub. 1 valid, 0 not (including
 * bad base64: wrong length, characters outside the alphabet, misplaced '='). */
int alipay_verify_data(EVP_PKEY *pub, const char *data, size_t len, const char *b64);

/* Set sign_type=RSA2 and sign (over the notification string) in ps.
 * For notifications and synchronous returns. Returns 0 or -1. */
int alipay_params_sign(EVP_PKEY *priv, struct alipay_params *ps);
/* The same over the request string (for requests to the gateway). */
int alipay_params_sign_request(EVP_PKEY *priv, struct alipay_params *ps);

/* Verify a notification or synchronous return: 1 valid, 0 invalid (no sign,
 * sign_type missing or not exactly "RSA2", bad base64, wrong signature). */
int alipay_verify(EVP_PKEY *pub, const struct alipay_params *ps);
/* Verify a request to the gateway the same way (request signing string). */
int alipay_verify_request(EVP_PKEY *pub, const struct alipay_params *ps);

/* Load an RSA key from a PEM file: a private key (PKCS#8 "PRIVATE KEY" or
 * PKCS#1 "RSA PRIVATE KEY", unencrypted) or a public key ("PUBLIC KEY").
 * Returns a new key the caller releases with EVP_PKEY_free, or NULL with a
 * one-line reason in err ("cannot open ...: No such file", "... is not a PEM
 * public key", "... is not an RSA key"). */
EVP_PKEY *alipay_load_private_key(const char *path, char *err, size_t errsz);
EVP_PKEY *alipay_load_public_key(const char *path, char *err, size_t errsz);

/* Format t as "YYYY-MM-DD HH:MM:SS" shifted by utc_offset_s seconds (0 =
 * UTC; the real Alipay reads timestamps as Beijing time, UTC+8 = 28800). */
void alipay_timestamp(time_t t, int utc_offset_s, char out[ALIPAY_TIMESTAMP_LEN]);
/* The inverse: s, "YYYY-MM-DD HH:MM:SS" exactly, a real calendar date and
 * time of day (no leap second), read as utc_offset_s east of UTC, into *out.
 * 0, or -1 when s is not such a time. */
int alipay_timestamp_parse(const char *s, int utc_offset_s, time_t *out);

/* The origin "scheme://host[:port]" of an http(s) URL (the gateway's, for a
 * page's CSP form-action: a form whose answer redirects to the cashier needs
 * it) into out. Returns 0, or -1 when url is not http(s)://host[:port]... or
 * the origin does not fit. Only letters, digits, '.', '-' (and ':' inside
 * [IPv6]) pass in the host, so the result is safe in a header. */
int alipay_url_origin(const char *url, char *out, size_t outsz);

/* The common parameters of a request to the gateway (app_id, method,
 * format=JSON, charset=utf-8, sign_type=RSA2, timestamp, version=1.0), added
 * to ps in that order. 0 or -1. */
int alipay_request_common(struct alipay_params *ps, const char *app_id, const char *method,
                          const char *timestamp);

/* One page-pay request (alipay.trade.page.pay). Strings are borrowed. */
struct alipay_page_pay {
    const char *gateway; /* "https://openapi.alipay.com/gateway.do" or the sandbox's */
    const char *app_id;
    const char *notify_url;   /* "" = none */
    const char *return_url;   /* "" = none */
    const char *out_trade_no; /* the merchant's payment number */
    const char *subject;      /* shown on the cashier page */
    int64_t total_cents;      /* > 0 */
    time_t now;               /* the request's timestamp */
    int utc_offset_s;         /* for the timestamp: 0 = UTC (ours), 28800 = Beijing */
    time_t time_expire;       /* 0 = none; else the last moment the buyer may pay */
};

/* Build the signed GET URL for the buyer's browser into out (reset first):
 * gateway?app_id=..&method=alipay.trade.page.pay&format=JSON&charset=utf-8
 * &sign_type=RSA2&timestamp=..&version=1.0&notify_url=..&return_url=..
 * &biz_content={"out_trade_no","product_code":"FAST_INSTANT_TRADE_PAY",
 * "total_amount":"88.00","subject"[,"time_expire":"YYYY-MM-DD HH:MM:SS" in
 * utc_offset_s]}&sign=.. with every value percent-encoded
 * and the signature over the raw values. Returns 0, or -1 (bad amount, a
 * field over its cap, signing failed, out's cap). */
int alipay_page_pay_url(EVP_PKEY *priv, const struct alipay_page_pay *req, struct buf *out);

/* Answers of the open API (alipay.trade.query and the others): the gateway
 * answers {"<method with '.' as '_'>_response":{...},"sign":"..."}, the
 * signature (RSA2, the provider's key) over the exact bytes of the response
 * object as they appear in the body. A refusal of the request itself (bad
 * signature, unknown app) comes as "error_response", which Alipay may leave
 * unsigned. */
#define ALIPAY_RESPONSE_MAX (1024 * 1024) /* the largest answer opened */

/* "alipay.trade.query" -> "alipay_trade_query_response" into out. 0, or -1
 * when method is empty, has other characters than [A-Za-z0-9._] or does not
 * fit. */
int alipay_response_key(const char *method, char *out, size_t outsz);

/* The signed answer of method, {"<key>":<answer, plain JSON>,"sign":"..."},
 * into out (reset first). For the sandbox. 0 or -1. */
int alipay_response_build(EVP_PKEY *priv, const char *method, struct json_object *answer,
                          struct buf *out);

enum alipay_answer {
    ALIPAY_ANSWER_OK = 0,             /* signed, verified */
    ALIPAY_ANSWER_UNSIGNED_ERROR = 1, /* an unsigned error_response: our request was refused */
    ALIPAY_ANSWER_MALFORMED = -1,     /* not one JSON object with the answer's key */
    ALIPAY_ANSWER_BAD_SIGN = -2,      /* no or a wrong signature */
};

/* Open the answer of method in body (len bytes): *answer is the verified
 * response object (a new reference the caller puts) on ALIPAY_ANSWER_OK and
 * ALIPAY_ANSWER_UNSIGNED_ERROR (then the error_response object), else NULL.
 * A signed error_response is verified like any answer and returned as OK. */
int alipay_response_open(EVP_PKEY *pub, const char *method, const char *body, size_t len,
                         struct json_object **answer);

#endif
