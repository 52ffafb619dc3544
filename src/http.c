#include "http.h"

#include <ctype.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static const struct {
    const char *name;
    enum http_method m;
} METHODS[] = {
    {"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
    {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH}, {"OPTIONS", HTTP_OPTIONS},
};

static enum http_method http_method_parse(const char *s)
{
    if (s == NULL)
        return HTTP_OTHER;
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (strcmp(s, METHODS[i].name) == 0)
            return METHODS[i].m;
    return HTTP_OTHER;
}

const char *http_method_name(enum http_method m)
{
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (METHODS[i].m == m)
            return METHODS[i].name;
    return "OTHER";
}

int http_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_url_encode(const char *s, size_t len, const char *keep, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c != '\0' && strchr(keep, c))) {
            if (buf_putc(out, (char)c) != 0)
                return -1;
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (buf_append(out, esc, 3) != 0)
                return -1;
        }
    }
    return 0;
}

long http_url_decode(const char *s, size_t len, char *out, size_t outsz, int plus_is_space)
{
    size_t o = 0;
    if (outsz == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = http_hex_value((unsigned char)s[i + 1]),
                lo = http_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            if (c == 0)
                return -1;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        } else if (c == 0) {
            return -1;
        }
        if (o + 1 >= outsz)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

int http_form_get(const char *form, size_t len, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    const char *p = form, *end = form + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = eq ? eq : pair_end;
        char key[256];
        long klen = -1;
        if ((size_t)(key_end - p) < sizeof key)
            klen = http_url_decode(p, (size_t)(key_end - p), key, sizeof key, 1);
        if (klen == (long)nlen && memcmp(key, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : pair_end;
            return http_url_decode(v, (size_t)(pair_end - v), out, outsz, 1) < 0 ? -1 : 1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

int http_cookie_get(const char *header, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    const char *p = header;
    if (p == NULL)
        return 0;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *semi = strchr(p, ';');
        const char *end = semi ? semi : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq + 1;
            size_t vlen = (size_t)(end - v);
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            return http_url_decode(v, vlen, out, outsz, 0) < 0 ? -1 : 1;
        }
        p = end;
    }
    return 0;
}

/* A FastCGI parameter, "" when absent; NULL when longer than the cap. */
static const char *param(char **envp, const char *name, size_t cap)
{
    const char *v = FCGX_GetParam(name, envp);
    if (v == NULL)
        return "";
    return strlen(v) > cap ? NULL : v;
}

static void make_request_id(struct http_request *r, const char *given)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (; given && given[n] && n < HTTP_REQUEST_ID_LEN; n++) {
        if (!isxdigit((unsigned char)given[n]))
            break;
        r->request_id[n] = given[n];
    }
    if (n < HTTP_REQUEST_ID_LEN) {
        unsigned char rnd[HTTP_REQUEST_ID_LEN / 2] = {0};
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            memset(rnd, 0, sizeof rnd);
        for (n = 0; n < sizeof rnd; n++) {
            r->request_id[2 * n] = hex[rnd[n] >> 4];
            r->request_id[2 * n + 1] = hex[rnd[n] & 15];
        }
    }
    r->request_id[HTTP_REQUEST_ID_LEN] = '\0';
}

enum http_read_status http_request_read(struct http_request *r, char **envp, struct FCGX_Stream *in,
                                        size_t max_body)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, max_body);
    make_request_id(r, FCGX_GetParam("REQUEST_ID", envp));
    r->method = http_method_parse(FCGX_GetParam("REQUEST_METHOD", envp));

    r->query = param(envp, "QUERY_STRING", HTTP_QUERY_MAX);
    r->cookie = param(envp, "HTTP_COOKIE", HTTP_HEADER_MAX);
    r->content_type = param(envp, "CONTENT_TYPE", HTTP_HEADER_MAX);
    r->accept = param(envp, "HTTP_ACCEPT", HTTP_HEADER_MAX);
    r->idempotency_key = param(envp, "HTTP_IDEMPOTENCY_KEY", 128);
    r->csrf_header = param(envp, "HTTP_X_CSRF_TOKEN", 128);
    r->remote_addr = param(envp, "REMOTE_ADDR", 64);
    /* The Host as the browser sent it, port included (nginx/shop.conf:
     * fastcgi_params' HTTP_HOST may be $host, which drops the port). */
    r->host = param(envp, "REQUEST_HOST", HTTP_HEADER_MAX);
    r->origin = param(envp, "HTTP_ORIGIN", HTTP_HEADER_MAX);
    r->referer = param(envp, "HTTP_REFERER", HTTP_HEADER_MAX + HTTP_PATH_MAX);
    r->if_none_match = param(envp, "HTTP_IF_NONE_MATCH", HTTP_HEADER_MAX);
    /* Set by nginx only (a client cannot send a FastCGI parameter). */
    r->listener = param(envp, "SHOP_LISTENER", 32);
    const char *uri = param(envp, "REQUEST_URI", HTTP_QUERY_MAX + HTTP_PATH_MAX);
    if (!r->query || !r->cookie || !r->content_type || !r->accept || !r->idempotency_key ||
        !r->csrf_header || !r->remote_addr || !r->host || !r->origin || !r->referer ||
        !r->if_none_match || !r->listener || !uri)
        return HTTP_READ_BAD;
    if (*uri == '\0')
        uri = param(envp, "DOCUMENT_URI", HTTP_PATH_MAX);
    if (uri == NULL || uri[0] != '/')
        return HTTP_READ_BAD;
    size_t plen = strcspn(uri, "?#");
    if (http_url_decode(uri, plen, r->path, sizeof r->path, 0) < 0)
        return HTTP_READ_BAD;

    const char *cl = FCGX_GetParam("CONTENT_LENGTH", envp);
    if (cl == NULL || *cl == '\0')
        return HTTP_READ_OK;
    char *endp;
    unsigned long long n = strtoull(cl, &endp, 10);
    if (*endp != '\0' || !isdigit((unsigned char)cl[0]))
        return HTTP_READ_BAD;
    if (n > max_body)
        return HTTP_READ_TOO_LARGE;
    if (n == 0 || in == NULL)
        return HTTP_READ_OK;
    char chunk[8192];
    size_t left = (size_t)n;
    while (left > 0) {
        int want = left < sizeof chunk ? (int)left : (int)sizeof chunk;
        int got = FCGX_GetStr(chunk, want, in);
        if (got <= 0)
            return HTTP_READ_BAD; /* the client sent less than it announced */
        if (buf_append(&r->body, chunk, (size_t)got) != 0)
            return HTTP_READ_TOO_LARGE;
        left -= (size_t)got;
    }
    return HTTP_READ_OK;
}

void http_request_free(struct http_request *r)
{
    buf_free(&r->body);
}

/* json-c 0.16 takes 'single-quoted' strings even in strict mode; JSON does
 * not. True when a quote character stands outside a string. */
static int has_single_quote(const char *s, size_t len)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = 0;
        } else if (s[i] == '"') {
            in_str = 1;
        } else if (s[i] == '\'') {
            return 1;
        }
    }
    return 0;
}

/* JSON has no NaN or infinity, but json-c takes NaN, Infinity and 1e999 (as
 * infinity) even in strict mode. True when v holds such a number anywhere
 * (the tokener's max_depth bounds the recursion). */
static int has_non_finite(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        return !isfinite(json_object_get_double(v));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (has_non_finite(json_object_array_get_idx(v, i)))
                return 1;
        return 0;
    case json_type_object: {
        json_object_object_foreach(v, key, val)
        {
            (void)key;
            if (has_non_finite(val))
                return 1;
        }
        return 0;
    }
    default:
        return 0;
    }
}

enum shop_code http_json_body(const struct http_request *r, int max_depth, struct json_object **out)
{
    *out = NULL;
    size_t ctlen = strcspn(r->content_type, ";");
    while (ctlen > 0 && r->content_type[ctlen - 1] == ' ')
        ctlen--;
    if (ctlen != strlen("application/json") ||
        strncasecmp(r->content_type, "application/json", ctlen) != 0)
        return SHOP_UNSUPPORTED_MEDIA_TYPE;
    if (r->body.len == 0 || has_single_quote(r->body.data, r->body.len))
        return SHOP_REQUEST_PARAMETER_VALID;
    json_tokener *tok = json_tokener_new_ex(max_depth);
    if (tok == NULL)
        return SHOP_INTERNAL_ERROR;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    enum shop_code rc = SHOP_REQUEST_PARAMETER_VALID;
    json_object *obj = json_tokener_parse_ex(tok, r->body.data, (int)r->body.len);
    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
        goto out;
    /* Nothing but white space may follow the object. */
    for (size_t i = json_tokener_get_parse_end(tok); i < r->body.len; i++)
        if (!isspace((unsigned char)r->body.data[i]))
            goto out;
    if (!json_object_is_type(obj, json_type_object) || has_non_finite(obj))
        goto out;
    *out = obj;
    obj = NULL;
    rc = SHOP_SUCCESS;
out:
    json_object_put(obj);
    json_tokener_free(tok);
    return rc;
}

int http_wants_json(const struct http_request *r)
{
    if (strncmp(r->path, "/api/", 5) == 0 || strcmp(r->path, "/healthz") == 0)
        return 1;
    return strstr(r->accept, "application/json") != NULL && strstr(r->accept, "text/html") == NULL;
}

void http_response_init(struct http_response *res)
{
    res->status = 200;
    res->content_type = "text/html; charset=utf-8";
    res->no_body = 0;
    res->form_action = NULL;
    buf_init(&res->headers, HTTP_HEADER_MAX * 4);
    buf_init(&res->body, HTTP_RESPONSE_MAX);
}

void http_response_free(struct http_response *res)
{
    buf_free(&res->headers);
    buf_free(&res->body);
}

static int header_safe(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

int http_header_add(struct http_response *res, const char *name, const char *value)
{
    if (!header_safe(name) || !header_safe(value) || strchr(name, ':') != NULL)
        return -1;
    size_t mark = res->headers.len;
    if (buf_printf(&res->headers, "%s: %s\r\n", name, value) != 0) {
        res->headers.len = mark;
        if (res->headers.data)
            res->headers.data[mark] = '\0';
        return -1;
    }
    return 0;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

/* Sent with every response: no sniffing, no framing, no foreign scripts, no
 * referrer leaks, and no caching of pages that may show an account. */
static const char SECURITY_HEADERS[] = "X-Content-Type-Options: nosniff\r\n"
                                       "X-Frame-Options: DENY\r\n"
                                       "Referrer-Policy: same-origin\r\n"
                                       "Cross-Origin-Opener-Policy: same-origin\r\n";
static const char CSP[] = "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
                          "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'; form-action 'self'";

/* An origin is scheme://host[:port] and nothing that could end the header
 * or the directive. */
static int origin_ok(const char *o)
{
    if (strncmp(o, "http://", 7) != 0 && strncmp(o, "https://", 8) != 0)
        return 0;
    return strlen(o) < 256 && strpbrk(o, " ;,'\"\r\n") == NULL;
}

int http_response_serialize(const struct http_response *res, struct buf *out)
{
    int rc = 0;
    rc |= buf_printf(out, "Status: %d %s\r\n", res->status, http_status_text(res->status));
    rc |= buf_puts(out, SECURITY_HEADERS);
    rc |= buf_puts(out, CSP);
    if (res->form_action && origin_ok(res->form_action))
        rc |= buf_printf(out, " %s", res->form_action);
    rc |= buf_puts(out, "\r\n");
    if (strstr(buf_str(&res->headers), "Cache-Control:") == NULL)
        rc |= buf_puts(out, "Cache-Control: no-store\r\n");
    rc |= buf_append(out, buf_str(&res->headers), res->headers.len);
    if (res->status == 304) /* no body, and no length of one */
        return buf_puts(out, "\r\n") == 0 && rc == 0 ? 0 : -1;
    rc |= buf_printf(out, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", res->content_type,
                     res->body.len);
    if (!res->no_body)
        rc |= buf_append(out, buf_str(&res->body), res->body.len);
    return rc == 0 ? 0 : -1;
}

int http_etag_matches(const char *if_none_match, const char *etag)
{
    const char *p = if_none_match;
    size_t elen = strlen(etag);
    while (*p != '\0') {
        p += strspn(p, " \t,");
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        size_t len = *p == '"' ? strcspn(p + 1, "\"") + 2 : strcspn(p, " \t,");
        if (len == elen && strncmp(p, etag, elen) == 0)
            return 1;
        p += strnlen(p, len);
    }
    return 0;
}

int http_response_public(struct http_response *res, const char *if_none_match)
{
    unsigned char h[(HTTP_ETAG_LEN - 2) / 2];
    char etag[HTTP_ETAG_LEN + 1];
    if (res->status != 200 || strstr(buf_str(&res->headers), "Set-Cookie:") != NULL)
        return 0;
    crypto_generichash(h, sizeof h, (const unsigned char *)buf_str(&res->body), res->body.len, NULL,
                       0);
    etag[0] = '"';
    sodium_bin2hex(etag + 1, sizeof etag - 1, h, sizeof h);
    etag[HTTP_ETAG_LEN - 1] = '"';
    etag[HTTP_ETAG_LEN] = '\0';
    if (http_header_add(res, "ETag", etag) != 0 ||
        http_header_add(res, "Cache-Control", "public, no-cache") != 0)
        return -1;
    if (http_etag_matches(if_none_match, etag)) {
        res->status = 304;
        buf_reset(&res->body);
    }
    return 1;
}

int http_response_send(const struct http_response *res, struct FCGX_Stream *out)
{
    struct buf b;
    buf_init(&b, HTTP_RESPONSE_MAX + HTTP_HEADER_MAX * 8);
    int rc = http_response_serialize(res, &b);
    if (rc == 0 && FCGX_PutStr(b.data, (int)b.len, out) != (int)b.len)
        rc = -1;
    buf_free(&b);
    return rc;
}

int http_json(struct http_response *res, int status, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &len);
    res->status = status;
    res->content_type = "application/json";
    buf_reset(&res->body);
    return s ? buf_append(&res->body, s, len) : -1;
}

int http_json_error(struct http_response *res, enum shop_code code, const char *message)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "code", json_object_new_string(shop_code_name(code)));
    json_object_object_add(o, "message",
                           json_object_new_string(message ? message : shop_code_message(code)));
    int rc = http_json(res, shop_code_status(code), o);
    json_object_put(o);
    return rc;
}
