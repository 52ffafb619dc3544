/* http: the edge of the application. A request read from FastCGI (method,
 * path, query, cookies, body with a hard cap), pure helpers to take values
 * out of query strings, forms, cookies and JSON bodies (each with a size cap
 * and a clear failure), and the one response writer that every answer goes
 * through, which always sets the security headers. */
#ifndef SHOP_HTTP_H
#define SHOP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errors.h"

struct json_object;
struct FCGX_Stream;

enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_PATCH,
    HTTP_OPTIONS,
};

#define HTTP_PATH_MAX       1024 /* decoded request path */
#define HTTP_QUERY_MAX      4096 /* raw query string */
#define HTTP_HEADER_MAX     4096 /* any one header (cookie, content type ...) */
#define HTTP_FIELD_MAX      1024 /* one decoded form/query/cookie value */
#define HTTP_REQUEST_ID_LEN 32

struct http_request {
    enum http_method method;
    char path[HTTP_PATH_MAX];    /* percent-decoded, without the query */
    const char *query;           /* raw query string ("" when none); owned by envp */
    const char *cookie;          /* raw Cookie header ("" when none) */
    const char *content_type;    /* "" when none */
    const char *accept;          /* "" when none */
    const char *idempotency_key; /* "" when none */
    const char *csrf_header;     /* X-CSRF-Token, "" when none */
    const char *remote_addr;
    const char *host;          /* Host as sent, with its port (REQUEST_HOST), "" when none */
    const char *origin;        /* Origin, "" when none */
    const char *referer;       /* Referer, "" when none */
    const char *if_none_match; /* If-None-Match, "" when none */
    const char *listener; /* nginx's SHOP_LISTENER: "metrics" on its metrics listener, else "" */
    struct buf body;      /* capped at the configured body size */
    char request_id[HTTP_REQUEST_ID_LEN + 1];
};

enum http_read_status {
    HTTP_READ_OK = 0,
    HTTP_READ_BAD = -1,      /* malformed path, header over its cap, bad length */
    HTTP_READ_TOO_LARGE = -2 /* body over max_body */
};

/* Fill r from the FastCGI environment and read the body (at most max_body
 * bytes; CONTENT_LENGTH over it is refused before reading). `in` may be NULL
 * (no body). The strings point into envp, which must outlive r. Call
 * http_request_free afterwards on every path. */
enum http_read_status http_request_read(struct http_request *r, char **envp, struct FCGX_Stream *in,
                                        size_t max_body);
void http_request_free(struct http_request *r);

const char *http_method_name(enum http_method m);

/* The value of the hex digit c (0-9, a-f, A-F), or -1. */
int http_hex_value(int c);

/* Percent-encode s (len bytes) onto out: A-Z a-z 0-9 - _ . ~ and the bytes
 * of keep (e.g. "/" for a path) stay, everything else (space too) is %XX in
 * upper case. Returns 0, or -1 when out's cap is reached. */
int http_url_encode(const char *s, size_t len, const char *keep, struct buf *out);

/* Percent-decode len bytes of s into out (outsz bytes including the NUL);
 * '+' becomes ' ' when plus_is_space. Returns the decoded length, or -1 for a
 * malformed escape, an encoded NUL, or output over outsz-1. */
long http_url_decode(const char *s, size_t len, char *out, size_t outsz, int plus_is_space);

/* Find `name` in an application/x-www-form-urlencoded string (also a query
 * string) and decode its first value into out. Returns 1 found, 0 absent,
 * -1 malformed or over outsz-1. */
int http_form_get(const char *form, size_t len, const char *name, char *out, size_t outsz);

/* Find cookie `name` in a Cookie header. Returns 1, 0 or -1 like http_form_get. */
int http_cookie_get(const char *header, const char *name, char *out, size_t outsz);

/* Parse a JSON body that must be one object, nesting at most max_depth.
 * On success *out is a new reference the caller puts. Returns SHOP_SUCCESS,
 * SHOP_REQUEST_PARAMETER_VALID (not JSON, trailing bytes, not an object,
 * too deep) or SHOP_UNSUPPORTED_MEDIA_TYPE when content_type is not JSON. */
enum shop_code http_json_body(const struct http_request *r, int max_depth,
                              struct json_object **out);

/* True when the request is a JSON API call (path starts with /api/) or the
 * client asked for JSON in Accept. */
int http_wants_json(const struct http_request *r);

/* A response being built. Headers are checked (no CR/LF) when added. */
struct http_response {
    int status;
    const char *content_type; /* static string */
    struct buf headers;       /* extra "Name: value\r\n" lines */
    struct buf body;
    int no_body; /* HEAD: send headers only */
    /* One more origin forms of this page may post to (the payment
     * provider's cashier, say: a form answered by a redirect to another
     * origin is blocked by form-action 'self' alone). NULL: 'self' only. */
    const char *form_action;
};

#define HTTP_RESPONSE_MAX (4u << 20) /* the largest page or JSON we produce */

void http_response_init(struct http_response *res);
void http_response_free(struct http_response *res);
/* Add one header; -1 (nothing added) when name or value has CR, LF or NUL or
 * the headers exceed their cap. */
int http_header_add(struct http_response *res, const char *name, const char *value);

/* The whole CGI response (Status line, security headers, extra headers,
 * Content-Type, Content-Length, blank line, body) into out. Every response of
 * the application goes through here. */
int http_response_serialize(const struct http_response *res, struct buf *out);
/* Serialize and write to the FastCGI stream. Returns 0 or -1. */
int http_response_send(const struct http_response *res, struct FCGX_Stream *out);

/* The length of an entity tag as http_response_public writes it, quotes
 * included. */
#define HTTP_ETAG_LEN 34

/* True when the If-None-Match header value (a list of entity tags, weak or
 * strong, or "*") names etag (quoted, as sent in ETag). The comparison is
 * weak, as RFC 9110 asks for If-None-Match: W/"x" matches "x" (nginx's gzip
 * turns our strong tags into weak ones). */
int http_etag_matches(const char *if_none_match, const char *etag);

/* Mark a 200 answer as the same for everybody (the catalogue seen by a
 * visitor who is not logged in): an ETag over the body and "Cache-Control:
 * public, no-cache", so that browsers and shared caches may keep it and ask
 * again with If-None-Match. When if_none_match names that tag the answer
 * becomes 304 with no body. An answer that is not 200 or sets a cookie is
 * left as it is (no-store). Returns 1 when marked, 0 when not, -1 when the
 * headers are full. */
int http_response_public(struct http_response *res, const char *if_none_match);

/* Set res to a JSON body: obj is serialised (and not taken). */
int http_json(struct http_response *res, int status, struct json_object *obj);
/* Set res to the contract's JSON error {"success":false,"code","message"},
 * with the code's status. message NULL = the code's own message. */
int http_json_error(struct http_response *res, enum shop_code code, const char *message);

const char *http_status_text(int status);

#endif
