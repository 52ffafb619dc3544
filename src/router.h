/* router: the route table is data. A pattern is a path whose segments are
 * literal or "{id}", which matches a positive decimal int64 (the snowflake
 * ids); the matched ids are handed to the handler as numbers, never as text. */
#ifndef SHOP_ROUTER_H
#define SHOP_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#define ROUTER_MAX_IDS 2

/* What a route needs before its handler runs. */
enum route_flags {
    ROUTE_PAGE = 0,          /* HTML page */
    ROUTE_API = 1 << 0,      /* JSON API: errors answer JSON */
    ROUTE_LOGIN = 1 << 1,    /* needs a session */
    ROUTE_CSRF = 1 << 2,     /* state change: needs the CSRF token */
    ROUTE_PRE_CSRF = 1 << 3, /* logging in, registering: needs the pre-session token */
    ROUTE_METRICS = 1 << 4,  /* only on nginx's metrics listener (SHOP_LISTENER); else 404 */
    /* The same answer for every visitor who is not logged in (the
     * catalogue): then it carries an ETag and may be kept by shared caches
     * (nginx/shop.conf's fastcgi_cache); a logged-in buyer's never is. */
    ROUTE_PUBLIC = 1 << 5,
    ROUTE_ADMIN = 1 << 6, /* operators only: 404 for anyone else (logged in or not) */
};

/* What answers a route: the web layer's handlers (web_internal.h). */
struct web_ctx;
typedef void (*route_handler)(struct web_ctx *c);

/* One line of a route table: adding a route is adding one of these. */
struct route {
    enum http_method method; /* HTTP_GET also answers HEAD */
    const char *pattern;
    route_handler handler;
    unsigned flags;
};

enum router_result { ROUTER_FOUND = 0, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED };

/* Find the route for method + path. On ROUTER_FOUND *out is the route and
 * ids[0..*nids) the values of its {id} segments. A path with a matching
 * pattern but no route for the method is ROUTER_METHOD_NOT_ALLOWED. */
enum router_result router_match(const struct route *table, size_t n, enum http_method method,
                                const char *path, const struct route **out,
                                int64_t ids[ROUTER_MAX_IDS], size_t *nids);

#endif
