#include "web.h"

#include <fcgiapp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "money.h"
#include "order_saga.h"
#include "router.h"
#include "snowflake.h"
#include "user_service.h"
#include "web_internal.h"

static _Thread_local mq_conn *t_mq;

void web_thread_end(void)
{
    mq_close(t_mq);
    t_mq = NULL;
    db_thread_end();
}

mq_conn *web_thread_mq(const struct web_app *app)
{
    if (t_mq == NULL)
        t_mq = mq_open(&app->mq);
    return t_mq;
}

/* Whether this request's answer, if it is a 200, is the same for everyone
 * (ROUTE_PUBLIC and nobody logged in). */
static int shared_answer(const struct web_ctx *c)
{
    return c->route != NULL && (c->route->flags & ROUTE_PUBLIC) && !c->logged_in &&
           (c->req.method == HTTP_GET || c->req.method == HTTP_HEAD);
}

void web_render_page(struct web_ctx *c, int status, const char *name, json_object *data)
{
    json_object_object_add(data, "shop_name", json_object_new_string(SHOP_NAME));
    /* A page served to many from a cache names no one request (the
     * X-Request-Id header still does). */
    if (status != 200 || !shared_answer(c))
        json_object_object_add(data, "request_id", json_object_new_string(c->req.request_id));
    /* The shipping rule in words, from the saga that applies it. */
    money_json_add(data, "free_shipping_above", ORDER_SAGA_FREE_SHIPPING_ABOVE);
    money_json_add(data, "standard_shipping_fee", ORDER_SAGA_SHIPPING_FEE);
    if (c->logged_in) {
        char id[SNOWFLAKE_STR_MAX];
        snowflake_format(c->session.user_id, id);
        json_object *me = json_object_new_object();
        json_object_object_add(me, "user_id", json_object_new_string(id));
        json_object_object_add(me, "user_name", json_object_new_string(c->session.user_name));
        json_object_object_add(me, "is_operator", json_object_new_boolean(c->session.is_operator));
        json_object_object_add(data, "logged_in", json_object_new_boolean(1));
        json_object_object_add(data, "me", me);
        json_object_object_add(data, "csrf_token", json_object_new_string(c->session.csrf));
    }
    c->res.status = status;
    c->res.content_type = "text/html; charset=utf-8";
    buf_reset(&c->res.body);
    if (templates_render(c->app->tpl, name, data, &c->res.body) != 0) {
        log_error("template %s failed to render", name);
        buf_reset(&c->res.body);
        c->res.status = 500;
        buf_puts(&c->res.body, "<!doctype html><title>Error</title><p>Something went wrong on "
                               "our side; please try again.</p>");
    }
    json_object_put(data);
}

void web_error(struct web_ctx *c, enum shop_code code)
{
    int api = (c->route && (c->route->flags & ROUTE_API)) || http_wants_json(&c->req);
    if (api) {
        http_json_error(&c->res, code, NULL);
        return;
    }
    json_object *d = json_object_new_object();
    int status = shop_code_status(code);
    json_object_object_add(d, "status", json_object_new_int(status));
    json_object_object_add(d, "title", json_object_new_string(http_status_text(status)));
    json_object_object_add(d, "message", json_object_new_string(shop_code_message(code)));
    web_render_page(c, status, "error", d);
}

void web_json_success(struct web_ctx *c, int status, const char *name, json_object *value)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, name, value);
    http_json(&c->res, status, o);
    json_object_put(o);
}

void web_json_page(struct web_ctx *c, const char *name, json_object *value, const char *next)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, name, value);
    json_object_object_add(o, "next", next != NULL ? json_object_new_string(next) : NULL);
    http_json(&c->res, 200, o);
    json_object_put(o);
}

enum shop_code web_list_args(const struct web_ctx *c, struct web_list *l)
{
    char limit[8];
    const char *query = c->req.query != NULL ? c->req.query : "";
    size_t len = strlen(query);
    memset(l, 0, sizeof *l);
    l->limit = PAGING_LIMIT_DEFAULT;
    int found = http_form_get(query, len, "limit", limit, sizeof limit);
    if (found < 0 || (found == 1 && paging_limit_parse(limit, &l->limit) != 0))
        return SHOP_LIST_LIMIT_INVALID;
    l->limit_given = found == 1;
    if (http_form_get(query, len, "after", l->after, sizeof l->after) < 0)
        return SHOP_LIST_CURSOR_INVALID;
    if (http_form_get(query, len, "q", l->q, sizeof l->q) < 0)
        return SHOP_SEARCH_INVALID;
    return SHOP_SUCCESS;
}

void web_list_next_link(json_object *data, const char *path, const struct web_list *l,
                        const char *next)
{
    struct buf url;
    if (next == NULL)
        return;
    buf_init(&url, HTTP_PATH_MAX + sizeof l->q * 3 + PAGING_CURSOR_MAX + 64);
    buf_printf(&url, "%s?after=%s", path, next);
    if (l->limit_given)
        buf_printf(&url, "&limit=%zu", l->limit);
    if (l->q[0] != '\0') {
        buf_puts(&url, "&q=");
        http_url_encode(l->q, strlen(l->q), "", &url);
    }
    web_add_str(data, "next_url", buf_str(&url));
    buf_free(&url);
}

void web_redirect(struct web_ctx *c, const char *location)
{
    c->res.status = 303;
    buf_reset(&c->res.body);
    if (location[0] != '/' || location[1] == '/' || location[1] == '\\' ||
        http_header_add(&c->res, "Location", location) != 0)
        http_header_add(&c->res, "Location", "/");
}

int web_form_field(const struct web_ctx *c, const char *name, char *out, size_t outsz)
{
    size_t ctlen = strcspn(c->req.content_type, ";");
    if (ctlen != strlen("application/x-www-form-urlencoded") ||
        strncasecmp(c->req.content_type, "application/x-www-form-urlencoded", ctlen) != 0)
        return 0;
    return http_form_get(buf_str(&c->req.body), c->req.body.len, name, out, outsz);
}

int web_form_text(const struct web_ctx *c, const char *name, char *out, size_t outsz)
{
    int r = web_form_field(c, name, out, outsz);
    if (r != 1)
        out[0] = '\0';
    return r < 0 ? -1 : 0;
}

void web_add_str(json_object *o, const char *key, const char *s)
{
    json_object_object_add(o, key, json_object_new_string(s));
}

enum shop_code web_json_body(const struct web_ctx *c, json_object **out)
{
    return http_json_body(&c->req, c->app->cfg->max_json_depth, out);
}

void web_set_cookie(struct web_ctx *c, const char *name, const char *value, int max_age_s)
{
    char v[512];
    snprintf(v, sizeof v, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", name,
             max_age_s > 0 ? value : "", max_age_s > 0 ? max_age_s : 0,
             c->app->cfg->cookie_secure ? "; Secure" : "");
    if (http_header_add(&c->res, "Set-Cookie", v) != 0)
        log_error("cookie %s not set", name);
}

int web_pre_csrf(const struct web_ctx *c, char out[AUTH_CSRF_LEN + 8])
{
    if (http_cookie_get(c->req.cookie, AUTH_PRE_COOKIE, out, AUTH_CSRF_LEN + 8) == 1 &&
        auth_presession_ok(out, out))
        return 0;
    out[0] = '\0';
    return -1;
}

void web_pre_csrf_issue(struct web_ctx *c, char out[AUTH_CSRF_LEN + 8])
{
    if (web_pre_csrf(c, out) == 0)
        return;
    auth_presession_new(out);
    web_set_cookie(c, AUTH_PRE_COOKIE, out, AUTH_PRE_TTL_S);
}

/* Who is calling: a valid session cookie fills c->session. */
static enum shop_code load_session(struct web_ctx *c)
{
    char token[AUTH_TOKEN_LEN + 8];
    int found = http_cookie_get(c->req.cookie, AUTH_COOKIE, token, sizeof token);
    if (found != 1)
        return SHOP_NOT_LOGGED_IN;
    enum shop_code rc = auth_session_lookup(user_db(), token, &c->session);
    if (rc == SHOP_SUCCESS)
        c->logged_in = 1;
    return rc;
}

/* The token a state-changing request carries: X-CSRF-Token, else the
 * form's csrf_token field; "" when none. */
static void submitted_token(const struct web_ctx *c, char out[AUTH_CSRF_LEN + 8])
{
    if (c->req.csrf_header[0] != '\0')
        snprintf(out, AUTH_CSRF_LEN + 8, "%s", c->req.csrf_header);
    else if (web_form_field(c, "csrf_token", out, AUTH_CSRF_LEN + 8) != 1)
        out[0] = '\0';
}

/* The CSRF token of a state-changing request: X-CSRF-Token, or the form's
 * csrf_token field. */
static int csrf_ok(struct web_ctx *c)
{
    char token[AUTH_CSRF_LEN + 8];
    submitted_token(c, token);
    return auth_csrf_ok(&c->session, token);
}

/* Logging in and registering: the pre-session cookie and the same token in
 * the header or form (double submit). */
static int pre_csrf_ok(const struct web_ctx *c)
{
    char cookie[AUTH_CSRF_LEN + 8], token[AUTH_CSRF_LEN + 8];
    if (web_pre_csrf(c, cookie) != 0)
        return 0;
    submitted_token(c, token);
    return auth_presession_ok(cookie, token);
}

/* The host[:port] of an origin or URL ("https://shop.example:8443/x" ->
 * "shop.example:8443"), as len bytes at *out; -1 when it has no http(s)
 * scheme. */
static int url_host(const char *url, const char **out, size_t *len)
{
    size_t skip = strncasecmp(url, "http://", 7) == 0    ? 7
                  : strncasecmp(url, "https://", 8) == 0 ? 8
                                                         : 0;
    if (skip == 0)
        return -1;
    *out = url + skip;
    *len = strcspn(*out, "/?#");
    return 0;
}

/* A request that changes state must not come from another site: its Origin
 * (or, without one, its Referer) must name this host. A client that sends
 * neither (not a browser) passes; the CSRF tokens still apply. */
static int same_origin(const struct web_ctx *c)
{
    const struct http_request *r = &c->req;
    if (r->method == HTTP_GET || r->method == HTTP_HEAD || r->method == HTTP_OPTIONS)
        return 1;
    const char *from = r->origin[0] != '\0' ? r->origin : r->referer;
    if (from[0] == '\0')
        return 1;
    const char *host;
    size_t len;
    if (url_host(from, &host, &len) != 0 || len == 0 || len != strlen(r->host))
        return 0;
    return strncasecmp(host, r->host, len) == 0;
}

/* Login and CSRF rules of the route, before its handler. Returns 0 to go on;
 * otherwise the answer is set. */
static int guard(struct web_ctx *c)
{
    if ((c->route->flags & ROUTE_METRICS) != 0) {
        if (strcmp(c->req.listener, "metrics") == 0)
            return 0;
        web_error(c, SHOP_NOT_FOUND);
        return -1;
    }
    if (!same_origin(c)) {
        log_warn("foreign origin refused for %s %s", http_method_name(c->req.method), c->req.path);
        web_error(c, SHOP_CSRF_INVALID);
        return -1;
    }
    enum shop_code rc = load_session(c);
    if (rc == SHOP_DB_UNAVAILABLE && (c->route->flags & ROUTE_LOGIN)) {
        web_error(c, rc);
        return -1;
    }
    if ((c->route->flags & ROUTE_ADMIN) && !(c->logged_in && c->session.is_operator)) {
        web_error(c, SHOP_NOT_FOUND);
        return -1;
    }
    if ((c->route->flags & ROUTE_LOGIN) && !c->logged_in) {
        if (c->route->flags & ROUTE_API) {
            web_error(c, SHOP_NOT_LOGGED_IN);
        } else if (c->req.method == HTTP_GET) {
            struct buf next;
            buf_init(&next, sizeof "/login?next=" + HTTP_PATH_MAX * 3);
            buf_puts(&next, "/login?next=");
            http_url_encode(c->req.path, strlen(c->req.path), "/", &next);
            web_redirect(c, buf_str(&next));
            buf_free(&next);
        } else {
            web_error(c, SHOP_NOT_LOGGED_IN);
        }
        return -1;
    }
    if ((c->route->flags & ROUTE_PRE_CSRF) && !pre_csrf_ok(c)) {
        log_warn("pre-session CSRF token missing or wrong for %s %s",
                 http_method_name(c->req.method), c->req.path);
        web_error(c, SHOP_CSRF_INVALID);
        return -1;
    }
    if ((c->route->flags & ROUTE_CSRF) && !csrf_ok(c)) {
        log_warn("CSRF token missing or wrong for %s %s", http_method_name(c->req.method),
                 c->req.path);
        web_error(c, SHOP_CSRF_INVALID);
        return -1;
    }
    return 0;
}

static void api_healthz(struct web_ctx *c)
{
    db_conn *db = db_thread();
    int db_up = db != NULL && db_ping(db) == DB_OK;
    mq_conn *mq = web_thread_mq(c->app);
    int mq_up = mq != NULL && mq_ping(mq) == MQ_OK;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(db_up && mq_up));
    json_object_object_add(o, "database", json_object_new_string(db_up ? "up" : "down"));
    json_object_object_add(o, "broker", json_object_new_string(mq_up ? "up" : "down"));
    http_json(&c->res, db_up && mq_up ? 200 : 503, o);
    json_object_put(o);
}

/* The routes: method, pattern, handler, and what the guard checks before
 * the handler runs (ROUTE_LOGIN, ROUTE_CSRF, ROUTE_PRE_CSRF; ROUTE_ADMIN:
 * operators only, 404 for anyone else; ROUTE_API answers errors as JSON;
 * ROUTE_PUBLIC answers visitors who are not logged in with an ETag that
 * caches may share; every state change must come from this site's own
 * pages, same_origin). A route is one line. */
#define LOGIN  ROUTE_LOGIN
#define CSRF   ROUTE_CSRF
#define API    ROUTE_API
#define PRE    ROUTE_PRE_CSRF
#define PUBLIC ROUTE_PUBLIC
#define ADMIN  (ROUTE_ADMIN | ROUTE_LOGIN)

static const struct route ROUTES[] = {
    {HTTP_GET, "/", web_page_catalogue, PUBLIC},
    {HTTP_GET, "/goods/{id}", web_page_goods, PUBLIC},
    {HTTP_GET, "/login", web_page_login, ROUTE_PAGE},
    {HTTP_POST, "/login", web_form_login, PRE},
    {HTTP_GET, "/register", web_page_register, ROUTE_PAGE},
    {HTTP_POST, "/register", web_form_register, PRE},
    {HTTP_POST, "/logout", web_form_logout, LOGIN | CSRF},
    {HTTP_GET, "/account", web_page_account, LOGIN},
    {HTTP_POST, "/orders", web_form_order, LOGIN | CSRF},
    {HTTP_GET, "/orders", web_page_orders, LOGIN},
    {HTTP_GET, "/orders/{id}", web_page_order, LOGIN},
    {HTTP_GET, "/api/goods", web_api_goods_list, API | PUBLIC},
    {HTTP_GET, "/api/goods/{id}", web_api_goods_get, API | PUBLIC},
    {HTTP_POST, "/api/users", web_api_register, API | PRE},
    {HTTP_GET, "/api/session", web_api_pre_session, API},
    {HTTP_POST, "/api/session", web_api_login, API | PRE},
    {HTTP_DELETE, "/api/session", web_api_logout, API | LOGIN | CSRF},
    {HTTP_GET, "/api/me", web_api_me, API | LOGIN},
    {HTTP_GET, "/api/coupons", web_api_coupons, API | LOGIN},
    {HTTP_POST, "/api/orders", web_api_order_create, API | LOGIN | CSRF},
    {HTTP_GET, "/api/orders", web_api_orders, API | LOGIN},
    {HTTP_GET, "/api/orders/{id}", web_api_order_get, API | LOGIN},
    {HTTP_POST, "/api/orders/{id}/payment", web_api_payment_start, API | LOGIN | CSRF},
    {HTTP_POST, "/api/orders/{id}/cancel", web_api_order_cancel, API | LOGIN | CSRF},
    {HTTP_POST, "/orders/{id}/pay", web_form_pay, LOGIN | CSRF},
    {HTTP_POST, "/orders/{id}/cancel", web_form_order_cancel, LOGIN | CSRF},
    {HTTP_POST, "/api/orders/{id}/refund", web_api_refund_request, API | LOGIN | CSRF},
    {HTTP_GET, "/api/orders/{id}/refunds", web_api_refunds, API | LOGIN},
    {HTTP_POST, "/orders/{id}/refund", web_form_refund, LOGIN | CSRF},
    {HTTP_GET, "/pay/return", web_page_pay_return, ROUTE_PAGE},
    /* The provider's server calls this: no session, its signature instead. */
    {HTTP_POST, "/pay/notify/alipay", web_pay_notify_alipay, ROUTE_PAGE},
    {HTTP_GET, "/healthz", api_healthz, API},
    /* The operators' console: 404 for anyone but an operator. */
    {HTTP_GET, "/admin", web_admin_orders, ADMIN},
    {HTTP_GET, "/admin/orders/{id}", web_admin_order, ADMIN},
    {HTTP_GET, "/api/admin/orders", web_admin_orders, API | ADMIN},
    {HTTP_GET, "/api/admin/orders/{id}", web_admin_order, API | ADMIN},
    {HTTP_GET, "/admin/goods", web_admin_goods_list, ADMIN},
    {HTTP_POST, "/admin/goods", web_admin_goods_create, ADMIN | CSRF},
    {HTTP_GET, "/admin/goods/{id}", web_admin_goods_page, ADMIN},
    {HTTP_POST, "/admin/goods/{id}", web_admin_goods_edit, ADMIN | CSRF},
    {HTTP_POST, "/admin/goods/{id}/stock", web_admin_goods_stock, ADMIN | CSRF},
    {HTTP_POST, "/admin/coupons", web_admin_coupon_issue, ADMIN | CSRF},
    {HTTP_GET, "/admin/mismatches", web_admin_mismatches, ADMIN},
    {HTTP_GET, "/api/admin/mismatches", web_admin_mismatches, API | ADMIN},
    {HTTP_POST, "/admin/mismatches/{id}", web_admin_mismatch_resolve, ADMIN | CSRF},
    {HTTP_GET, "/admin/refunds", web_admin_refunds, ADMIN},
    {HTTP_POST, "/admin/refunds/{id}", web_admin_refund_act, ADMIN | CSRF},
    {HTTP_GET, "/admin/reconcile", web_admin_reconcile, ADMIN},
    {HTTP_POST, "/admin/reconcile/{id}", web_admin_reconcile_resolve, ADMIN | CSRF},
    {HTTP_GET, "/admin/parked", web_admin_parked, ADMIN},
    {HTTP_GET, "/api/admin/parked", web_admin_parked, API | ADMIN},
    {HTTP_POST, "/admin/parked/replay", web_admin_parked_replay, ADMIN | CSRF},
    {HTTP_POST, "/admin/parked/discard", web_admin_parked_discard, ADMIN | CSRF},
    /* Prometheus, on nginx's metrics listener only (127.0.0.1). */
    {HTTP_GET, "/metrics", web_metrics, ROUTE_METRICS},
};

#undef LOGIN
#undef CSRF
#undef API
#undef PRE
#undef PUBLIC
#undef ADMIN

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* shop_http_requests_total and the duration histogram, by the route's
 * pattern (a bounded set: the table above), "-" when none matched. */
static void count_request(const struct web_ctx *c, double ms)
{
    char labels[METRICS_LABELS_MAX], status[8];
    const char *route = c->route != NULL ? c->route->pattern : "-";
    snprintf(status, sizeof status, "%d", c->res.status);
    if (metrics_labels(labels, sizeof labels, "route", route, "status", status, METRICS_END) == 0)
        metrics_count(METRIC_HTTP_REQUESTS, labels, 1);
    if (metrics_labels(labels, sizeof labels, "route", route, METRICS_END) == 0)
        metrics_observe(METRIC_HTTP_DURATION, labels, ms / 1e3);
}

void web_handle(const struct web_app *app, FCGX_Request *fr)
{
    struct web_ctx c = {.app = app};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    http_response_init(&c.res);

    enum http_read_status rs =
        http_request_read(&c.req, fr->envp, fr->in, (size_t)app->cfg->max_body_bytes);
    log_set_request_id(c.req.request_id);
    if (rs != HTTP_READ_OK) {
        web_error(&c, rs == HTTP_READ_TOO_LARGE ? SHOP_REQUEST_TOO_LARGE
                                                : SHOP_REQUEST_PARAMETER_VALID);
        goto send;
    }
    c.res.no_body = c.req.method == HTTP_HEAD;
    c.res.form_action = app->provider_origin;
    switch (router_match(ROUTES, sizeof ROUTES / sizeof ROUTES[0], c.req.method, c.req.path,
                         &c.route, c.ids, &c.nids)) {
    case ROUTER_FOUND:
        if (guard(&c) == 0)
            c.route->handler(&c);
        if (shared_answer(&c) && http_response_public(&c.res, c.req.if_none_match) < 0)
            log_warn("no room for the ETag of %s", c.req.path);
        break;
    case ROUTER_METHOD_NOT_ALLOWED:
        web_error(&c, SHOP_METHOD_NOT_ALLOWED);
        break;
    case ROUTER_NOT_FOUND:
        web_error(&c, SHOP_NOT_FOUND);
        break;
    }

send:
    http_header_add(&c.res, "X-Request-Id", c.req.request_id);
    if (http_response_send(&c.res, fr->out) != 0)
        log_warn("response not sent (client gone or response over cap)");
    double ms = elapsed_ms(&t0);
    log_msg(c.res.status >= 500 ? LOG_ERROR : LOG_INFO, "%s %s %d %zu %.1fms",
            http_method_name(c.req.method), c.req.path[0] ? c.req.path : "-", c.res.status,
            c.res.body.len, ms);
    count_request(&c, ms);
    log_set_request_id(NULL);
    http_request_free(&c.req);
    http_response_free(&c.res);
}
