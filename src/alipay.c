#include "alipay.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "money.h"

const char *alipay_status_text(int status)
{
    switch (status) {
    case ALIPAY_OK:
        return "ok";
    case ALIPAY_ERR_MALFORMED:
        return "malformed form";
    case ALIPAY_ERR_TOO_MANY:
        return "too many parameters";
    case ALIPAY_ERR_TOO_LONG:
        return "parameter too long";
    case ALIPAY_ERR_DUPLICATE:
        return "duplicate parameter";
    case ALIPAY_ERR_NOMEM:
        return "out of memory";
    default:
        return "unknown error";
    }
}

/* --- params ------------------------------------------------------------- */

void alipay_params_init(struct alipay_params *ps)
{
    ps->n = 0;
}

void alipay_params_free(struct alipay_params *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        free(ps->p[i].value);
    ps->n = 0;
}

static struct alipay_param *find(const struct alipay_params *ps, const char *key)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, key) == 0)
            return (struct alipay_param *)&ps->p[i];
    return NULL;
}

const char *alipay_params_get(const struct alipay_params *ps, const char *key)
{
    const struct alipay_param *p = find(ps, key);
    return p ? p->value : NULL;
}

static int check_pair(const char *key, const char *value)
{
    size_t klen = strlen(key);
    if (klen == 0)
        return ALIPAY_ERR_MALFORMED;
    if (klen > ALIPAY_KEY_MAX || strlen(value) > ALIPAY_VALUE_MAX)
        return ALIPAY_ERR_TOO_LONG;
    return ALIPAY_OK;
}

int alipay_params_add(struct alipay_params *ps, const char *key, const char *value)
{
    int rc = check_pair(key, value);
    if (rc != ALIPAY_OK)
        return rc;
    if (find(ps, key) != NULL)
        return ALIPAY_ERR_DUPLICATE;
    if (ps->n >= ALIPAY_MAX_PARAMS)
        return ALIPAY_ERR_TOO_MANY;
    char *v = strdup(value);
    if (v == NULL)
        return ALIPAY_ERR_NOMEM;
    struct alipay_param *p = &ps->p[ps->n++];
    memcpy(p->key, key, strlen(key) + 1);
    p->value = v;
    return ALIPAY_OK;
}

int alipay_params_set(struct alipay_params *ps, const char *key, const char *value)
{
    struct alipay_param *p = find(ps, key);
    if (p == NULL)
        return alipay_params_add(ps, key, value);
    int rc = check_pair(key, value);
    if (rc != ALIPAY_OK)
        return rc;
    char *v = strdup(value);
    if (v == NULL)
        return ALIPAY_ERR_NOMEM;
    free(p->value);
    p->value = v;
    return ALIPAY_OK;
}

void alipay_params_remove(struct alipay_params *ps, const char *key)
{
    struct alipay_param *p = find(ps, key);
    if (p == NULL)
        return;
    free(p->value);
    size_t i = (size_t)(p - ps->p);
    memmove(&ps->p[i], &ps->p[i + 1], (ps->n - i - 1) * sizeof ps->p[0]);
    ps->n--;
}

/* Decode s[0..len) into out (cap bytes plus the NUL). */
static int form_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return ALIPAY_ERR_MALFORMED;
            int hi = http_hex_value((unsigned char)s[i + 1]),
                lo = http_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return ALIPAY_ERR_MALFORMED;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c == 0)
            return ALIPAY_ERR_MALFORMED;
        if (o >= cap)
            return ALIPAY_ERR_TOO_LONG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return ALIPAY_OK;
}

int alipay_params_parse_form(const char *body, size_t len, struct alipay_params *ps)
{
    char key[ALIPAY_KEY_MAX + 1];
    char *value = malloc(ALIPAY_VALUE_MAX + 1);
    int rc = ALIPAY_ERR_NOMEM;
    if (value == NULL)
        goto out;
    const char *p = body, *end = body + len;
    rc = ALIPAY_OK;
    while (p < end && rc == ALIPAY_OK) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        if (pair_end > p) {
            const char *eq = memchr(p, '=', (size_t)(pair_end - p));
            const char *key_end = eq ? eq : pair_end;
            const char *v = eq ? eq + 1 : pair_end;
            rc = form_decode(p, (size_t)(key_end - p), key, ALIPAY_KEY_MAX);
            if (rc == ALIPAY_OK)
                rc = form_decode(v, (size_t)(pair_end - v), value, ALIPAY_VALUE_MAX);
            if (rc == ALIPAY_OK)
                rc = alipay_params_add(ps, key, value);
        }
        p = amp ? amp + 1 : end;
    }
out:
    free(value);
    if (rc != ALIPAY_OK)
        alipay_params_free(ps);
    return rc;
}

int alipay_params_encode(const struct alipay_params *ps, struct buf *out)
{
    for (size_t i = 0; i < ps->n; i++) {
        const struct alipay_param *p = &ps->p[i];
        if ((i > 0 && buf_putc(out, '&') != 0) ||
            http_url_encode(p->key, strlen(p->key), "", out) != 0 || buf_putc(out, '=') != 0 ||
            http_url_encode(p->value, strlen(p->value), "", out) != 0)
            return -1;
    }
    return 0;
}

/* --- signing strings ---------------------------------------------------- */

static int cmp_param(const void *a, const void *b)
{
    const struct alipay_param *x = *(const struct alipay_param *const *)a;
    const struct alipay_param *y = *(const struct alipay_param *const *)b;
    return strcmp(x->key, y->key); /* strcmp compares as unsigned char: byte order */
}

static int signing_string(const struct alipay_params *ps, int keep_sign_type, struct buf *out)
{
    const struct alipay_param *sorted[ALIPAY_MAX_PARAMS];
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const struct alipay_param *p = &ps->p[i];
        if (p->value[0] == '\0' || strcmp(p->key, "sign") == 0 ||
            (!keep_sign_type && strcmp(p->key, "sign_type") == 0))
            continue;
        sorted[n++] = p;
    }
    if (n > 1)
        qsort(sorted, n, sizeof sorted[0], cmp_param);
    buf_reset(out);
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && buf_putc(out, '&') != 0) || buf_puts(out, sorted[i]->key) != 0 ||
            buf_putc(out, '=') != 0 || buf_puts(out, sorted[i]->value) != 0)
            return -1;
    /* An empty string is still a valid (if useless) signing string. */
    return buf_puts(out, "");
}

int alipay_signing_string(const struct alipay_params *ps, struct buf *out)
{
    return signing_string(ps, 0, out);
}

int alipay_request_signing_string(const struct alipay_params *ps, struct buf *out)
{
    return signing_string(ps, 1, out);
}

/* --- RSA2 --------------------------------------------------------------- */

int alipay_sign(EVP_PKEY *priv, const char *data, size_t len, char *b64out, size_t outsz)
{
    int rc = -1;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || priv == NULL || outsz == 0)
        goto out;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv) != 1 ||
        EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, len) != 1)
        goto out;
    if (siglen == 0 || 4 * ((siglen + 2) / 3) + 1 > outsz)
        goto out;
    sig = malloc(siglen);
    if (sig == NULL || EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, len) != 1)
        goto out;
    if (4 * ((siglen + 2) / 3) + 1 > outsz)
        goto out;
    EVP_EncodeBlock((unsigned char *)b64out, sig, (int)siglen);
    rc = 0;
out:
    if (rc != 0) {
        if (outsz > 0 && b64out != NULL)
            b64out[0] = '\0';
        ERR_clear_error();
    }
    free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

static int b64_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Strict base64: whole quads, alphabet only, '=' only as the last one or two
 * characters. Returns the decoded length or -1. EVP_DecodeBlock counts the
 * padding as zero bytes, so the padding is taken off here. */
static long b64_decode(const char *s, unsigned char *out, size_t outsz)
{
    size_t len = strlen(s), pad = 0;
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > outsz || len > (size_t)INT32_MAX)
        return -1;
    if (s[len - 1] == '=')
        pad = s[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char((unsigned char)s[i]))
            return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (n < 0 || (size_t)n < pad)
        return -1;
    return (long)((size_t)n - pad);
}

int alipay_verify_data(EVP_PKEY *pub, const char *data, size_t len, const char *b64)
{
    unsigned char sig[ALIPAY_SIGN_MAX];
    if (pub == NULL || b64 == NULL || strlen(b64) >= ALIPAY_SIGN_MAX)
        return 0;
    long siglen = b64_decode(b64, sig, sizeof sig);
    if (siglen <= 0)
        return 0;
    int ok = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
        EVP_DigestVerify(ctx, sig, (size_t)siglen, (const unsigned char *)data, len) == 1)
        ok = 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error(); /* a failed verification leaves errors on this thread's queue */
    return ok;
}

static int params_sign(EVP_PKEY *priv, struct alipay_params *ps, int request)
{
    struct buf s;
    char sig[ALIPAY_SIGN_MAX];
    int rc = -1;
    buf_init(&s, ALIPAY_FORM_MAX);
    alipay_params_remove(ps, "sign");
    if (alipay_params_set(ps, "sign_type", "RSA2") != ALIPAY_OK)
        goto out;
    if (signing_string(ps, request, &s) != 0 ||
        alipay_sign(priv, buf_str(&s), s.len, sig, sizeof sig) != 0)
        goto out;
    rc = alipay_params_add(ps, "sign", sig) == ALIPAY_OK ? 0 : -1;
out:
    buf_free(&s);
    return rc;
}

int alipay_params_sign(EVP_PKEY *priv, struct alipay_params *ps)
{
    return params_sign(priv, ps, 0);
}

int alipay_params_sign_request(EVP_PKEY *priv, struct alipay_params *ps)
{
    return params_sign(priv, ps, 1);
}

static int params_verify(EVP_PKEY *pub, const struct alipay_params *ps, int request)
{
    const char *sign = alipay_params_get(ps, "sign");
    const char *type = alipay_params_get(ps, "sign_type");
    if (sign == NULL || type == NULL || strcmp(type, "RSA2") != 0)
        return 0;
    struct buf s;
    buf_init(&s, ALIPAY_FORM_MAX);
    int ok = signing_string(ps, request, &s) == 0 &&
             alipay_verify_data(pub, buf_str(&s), s.len, sign) == 1;
    buf_free(&s);
    return ok;
}

int alipay_verify(EVP_PKEY *pub, const struct alipay_params *ps)
{
    return params_verify(pub, ps, 0);
}

int alipay_verify_request(EVP_PKEY *pub, const struct alipay_params *ps)
{
    return params_verify(pub, ps, 1);
}

/* --- keys --------------------------------------------------------------- */

/* Never prompt for a pass phrase: an encrypted key is refused. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static EVP_PKEY *load_key(const char *path, int private, char *err, size_t errsz)
{
    EVP_PKEY *key = NULL;
    const char *what = private ? "private" : "public";
    BIO *bio = BIO_new_file(path, "r");
    if (bio == NULL) {
        snprintf(err, errsz, "cannot open %s key %s: %s", what, path,
                 errno ? strerror(errno) : "unreadable");
        goto out;
    }
    key = private ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL)
                  : PEM_read_bio_PUBKEY(bio, NULL, no_password, NULL);
    if (key == NULL) {
        snprintf(err, errsz, "%s is not a PEM %s key%s", path, what,
                 private ? " (unencrypted PKCS#8 or PKCS#1 expected)"
                         : " (\"BEGIN PUBLIC KEY\" expected)");
        goto out;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        snprintf(err, errsz, "%s is not an RSA key (RSA2 needs RSA)", path);
        goto bad;
    }
    if (EVP_PKEY_get_bits(key) < 2048) {
        snprintf(err, errsz, "%s is a %d-bit RSA key; RSA2 needs at least 2048 bits", path,
                 EVP_PKEY_get_bits(key));
        goto bad;
    }
    goto out;
bad:
    EVP_PKEY_free(key);
    key = NULL;
out:
    BIO_free(bio);
    ERR_clear_error();
    return key;
}

EVP_PKEY *alipay_load_private_key(const char *path, char *err, size_t errsz)
{
    errno = 0;
    return load_key(path, 1, err, errsz);
}

EVP_PKEY *alipay_load_public_key(const char *path, char *err, size_t errsz)
{
    errno = 0;
    return load_key(path, 0, err, errsz);
}

/* --- page pay ----------------------------------------------------------- */

void alipay_timestamp(time_t t, int utc_offset_s, char out[ALIPAY_TIMESTAMP_LEN])
{
    struct tm tm;
    time_t shifted = t + utc_offset_s;
    if (gmtime_r(&shifted, &tm) == NULL ||
        strftime(out, ALIPAY_TIMESTAMP_LEN, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, ALIPAY_TIMESTAMP_LEN, "1970-01-01 00:00:00");
}

/* The number of the n digits at s. */
static int digits_at(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int alipay_timestamp_parse(const char *s, int utc_offset_s, time_t *out)
{
    static const char shape[] = "0000-00-00 00:00:00";
    if (s == NULL || strlen(s) != sizeof shape - 1)
        return -1;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == '0' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return -1;
    struct tm tm = {.tm_year = digits_at(s, 4) - 1900,
                    .tm_mon = digits_at(s + 5, 2) - 1,
                    .tm_mday = digits_at(s + 8, 2),
                    .tm_hour = digits_at(s + 11, 2),
                    .tm_min = digits_at(s + 14, 2),
                    .tm_sec = digits_at(s + 17, 2)};
    /* timegm carries 2026-02-30 into March: a real time is left as it is. */
    struct tm norm = tm;
    time_t t = timegm(&norm);
    if (norm.tm_year != tm.tm_year || norm.tm_mon != tm.tm_mon || norm.tm_mday != tm.tm_mday ||
        norm.tm_hour != tm.tm_hour || norm.tm_min != tm.tm_min || norm.tm_sec != tm.tm_sec)
        return -1;
    *out = t - utc_offset_s;
    return 0;
}

int alipay_url_origin(const char *url, char *out, size_t outsz)
{
    const char *p;
    size_t scheme_len;
    if (outsz > 0)
        out[0] = '\0';
    if (strncmp(url, "http://", 7) == 0)
        scheme_len = 7;
    else if (strncmp(url, "https://", 8) == 0)
        scheme_len = 8;
    else
        return -1;
    p = url + scheme_len;
    size_t n = 0;
    if (p[0] == '[') {
        for (n = 1; p[n] && p[n] != ']'; n++)
            if (!isxdigit((unsigned char)p[n]) && p[n] != ':' && p[n] != '.')
                return -1;
        if (p[n] != ']' || n == 1)
            return -1;
        n++;
    } else {
        for (; isalnum((unsigned char)p[n]) || p[n] == '.' || p[n] == '-'; n++)
            ;
        if (n == 0)
            return -1;
    }
    if (p[n] == ':') {
        size_t digits = strspn(p + n + 1, "0123456789");
        if (digits == 0 || digits > 5)
            return -1;
        n += 1 + digits;
    }
    if (p[n] != '\0' && p[n] != '/' && p[n] != '?' && p[n] != '#')
        return -1;
    if (scheme_len + n + 1 > outsz)
        return -1;
    memcpy(out, url, scheme_len + n);
    out[scheme_len + n] = '\0';
    return 0;
}

int alipay_request_common(struct alipay_params *ps, const char *app_id, const char *method,
                          const char *timestamp)
{
    return alipay_params_add(ps, "app_id", app_id ? app_id : "") ||
                   alipay_params_add(ps, "method", method) ||
                   alipay_params_add(ps, "format", "JSON") ||
                   alipay_params_add(ps, "charset", "utf-8") ||
                   alipay_params_add(ps, "sign_type", "RSA2") ||
                   alipay_params_add(ps, "timestamp", timestamp) ||
                   alipay_params_add(ps, "version", "1.0")
               ? -1
               : 0;
}

int alipay_page_pay_url(EVP_PKEY *priv, const struct alipay_page_pay *req, struct buf *out)
{
    struct alipay_params ps;
    char amount[MONEY_STR_MAX], ts[ALIPAY_TIMESTAMP_LEN], expire[ALIPAY_TIMESTAMP_LEN];
    json_object *biz = NULL;
    int rc = -1;
    alipay_params_init(&ps);
    buf_reset(out);
    if (req->total_cents <= 0 || req->total_cents > MONEY_MAX_CENTS || req->out_trade_no == NULL ||
        req->out_trade_no[0] == '\0' || strlen(req->out_trade_no) > 64 || req->subject == NULL ||
        req->subject[0] == '\0' || strlen(req->subject) > 256 || req->gateway == NULL ||
        req->gateway[0] == '\0')
        goto out;
    money_format(req->total_cents, amount);
    alipay_timestamp(req->now, req->utc_offset_s, ts);

    biz = json_object_new_object();
    if (biz == NULL ||
        json_object_object_add(biz, "out_trade_no", json_object_new_string(req->out_trade_no)) ||
        json_object_object_add(biz, "product_code",
                               json_object_new_string("FAST_INSTANT_TRADE_PAY")) ||
        json_object_object_add(biz, "total_amount", json_object_new_string(amount)) ||
        json_object_object_add(biz, "subject", json_object_new_string(req->subject)))
        goto out;
    if (req->time_expire != 0) {
        alipay_timestamp(req->time_expire, req->utc_offset_s, expire);
        if (json_object_object_add(biz, "time_expire", json_object_new_string(expire)))
            goto out;
    }
    const char *biz_s = json_object_to_json_string_ext(biz, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    if (biz_s == NULL)
        goto out;

    if (alipay_request_common(&ps, req->app_id, "alipay.trade.page.pay", ts) != 0)
        goto out;
    if (req->notify_url && req->notify_url[0] &&
        alipay_params_add(&ps, "notify_url", req->notify_url))
        goto out;
    if (req->return_url && req->return_url[0] &&
        alipay_params_add(&ps, "return_url", req->return_url))
        goto out;
    if (alipay_params_add(&ps, "biz_content", biz_s) || alipay_params_sign_request(priv, &ps) != 0)
        goto out;

    if (buf_puts(out, req->gateway) != 0 ||
        buf_putc(out, strchr(req->gateway, '?') ? '&' : '?') != 0 ||
        alipay_params_encode(&ps, out) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        buf_reset(out);
    json_object_put(biz);
    alipay_params_free(&ps);
    return rc;
}

/* --- answers of the open API ---------------------------------------------- */

int alipay_response_key(const char *method, char *out, size_t outsz)
{
    size_t n = method != NULL ? strlen(method) : 0;
    if (n == 0 || n + sizeof "_response" > outsz)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = method[i];
        if (!(isalnum((unsigned char)ch) || ch == '.' || ch == '_'))
            return -1;
        out[i] = ch == '.' ? '_' : ch;
    }
    memcpy(out + n, "_response", sizeof "_response");
    return 0;
}

int alipay_response_build(EVP_PKEY *priv, const char *method, struct json_object *answer,
                          struct buf *out)
{
    char key[ALIPAY_KEY_MAX * 2], sig[ALIPAY_SIGN_MAX];
    buf_reset(out);
    if (alipay_response_key(method, key, sizeof key) != 0 || answer == NULL)
        return -1;
    const char *text = json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL || alipay_sign(priv, text, strlen(text), sig, sizeof sig) != 0)
        return -1;
    if (buf_printf(out, "{\"%s\":%s,\"sign\":\"%s\"}", key, text, sig) != 0) {
        buf_reset(out);
        return -1;
    }
    return 0;
}

/* JSON scanning, only as far as finding the exact text of one member's value
 * (the bytes the provider signed). The whole body is parsed by json-c too. */
static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* The end (one past the closing quote) of the string starting at s[i] == '"',
 * or 0. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* The end of the value starting at s[i], or 0. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    int depth = 0;
    for (; i < n; i++) {
        char ch = s[i];
        if (ch == '"') {
            size_t e = skip_string(s, i, n);
            if (e == 0)
                return 0;
            i = e - 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return i; /* the end of a scalar inside a container */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 &&
                   (ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')) {
            return i;
        }
    }
    return depth == 0 ? i : 0;
}

/* The span of the value of top-level member key of the object in s. */
static int member_span(const char *s, size_t n, const char *key, size_t *from, size_t *to)
{
    size_t klen = strlen(key), i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return -1;
    i = skip_ws(s, i + 1, n);
    while (i < n && s[i] == '"') {
        size_t e = skip_string(s, i, n);
        if (e == 0)
            return -1;
        int match = e - i - 2 == klen && memcmp(s + i + 1, key, klen) == 0;
        i = skip_ws(s, e, n);
        if (i >= n || s[i] != ':')
            return -1;
        i = skip_ws(s, i + 1, n);
        size_t v = skip_value(s, i, n);
        if (v == 0 || v == i)
            return -1;
        if (match) {
            *from = i;
            *to = v;
            return 0;
        }
        i = skip_ws(s, v, n);
        if (i < n && s[i] == ',')
            i = skip_ws(s, i + 1, n);
    }
    return -1;
}

int alipay_response_open(EVP_PKEY *pub, const char *method, const char *body, size_t len,
                         struct json_object **answer)
{
    char key[ALIPAY_KEY_MAX * 2];
    *answer = NULL;
    if (alipay_response_key(method, key, sizeof key) != 0 || body == NULL ||
        len > ALIPAY_RESPONSE_MAX)
        return ALIPAY_ANSWER_MALFORMED;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return ALIPAY_ANSWER_MALFORMED;
    json_object *whole = json_tokener_parse_ex(tok, body, (int)len);
    int complete = json_tokener_get_error(tok) == json_tokener_success &&
                   skip_ws(body, json_tokener_get_parse_end(tok), len) == len;
    json_tokener_free(tok);
    json_object *obj = NULL, *sign = NULL;
    const char *use = key;
    if (!complete || !json_object_is_type(whole, json_type_object)) {
        json_object_put(whole);
        return ALIPAY_ANSWER_MALFORMED;
    }
    if (!json_object_object_get_ex(whole, key, &obj)) {
        use = "error_response";
        if (!json_object_object_get_ex(whole, use, &obj)) {
            json_object_put(whole);
            return ALIPAY_ANSWER_MALFORMED;
        }
    }
    size_t from, to;
    int rc = ALIPAY_ANSWER_MALFORMED;
    if (!json_object_is_type(obj, json_type_object) || member_span(body, len, use, &from, &to) != 0)
        goto out;
    if (!json_object_object_get_ex(whole, "sign", &sign) ||
        !json_object_is_type(sign, json_type_string)) {
        /* Alipay leaves an error_response about our request unsigned. */
        rc = use == key ? ALIPAY_ANSWER_BAD_SIGN : ALIPAY_ANSWER_UNSIGNED_ERROR;
        if (rc == ALIPAY_ANSWER_BAD_SIGN)
            goto out;
    } else if (alipay_verify_data(pub, body + from, to - from, json_object_get_string(sign)) != 1) {
        rc = ALIPAY_ANSWER_BAD_SIGN;
        goto out;
    } else {
        rc = ALIPAY_ANSWER_OK;
    }
    *answer = json_object_get(obj);
out:
    json_object_put(whole);
    return rc;
}
