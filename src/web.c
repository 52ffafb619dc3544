#include "web.h"

#include <fcgiapp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "web_internal.h"

/* The handlers; the route table refers to them by this number. */
enum page {
    PAGE_CATALOGUE,
    PAGE_GOODS,
    API_GOODS_LIST,
    API_GOODS_GET,
    API_HEALTHZ,
};

static const struct route ROUTES[] = {
    {HTTP_GET, "/", PAGE_CATALOGUE, ROUTE_PAGE},
    {HTTP_GET, "/goods/{id}", PAGE_GOODS, ROUTE_PAGE},
    {HTTP_GET, "/api/goods", API_GOODS_LIST, ROUTE_API},
    {HTTP_GET, "/api/goods/{id}", API_GOODS_GET, ROUTE_API},
    {HTTP_GET, "/healthz", API_HEALTHZ, ROUTE_API},
};

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

void web_render_page(struct web_ctx *c, int status, const char *name, json_object *data)
{
    json_object_object_add(data, "shop_name", json_object_new_string(SHOP_NAME));
    json_object_object_add(data, "request_id", json_object_new_string(c->req.request_id));
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

static void dispatch(struct web_ctx *c)
{
    switch ((enum page)c->route->handler) {
    case PAGE_CATALOGUE: web_page_catalogue(c); break;
    case PAGE_GOODS: web_page_goods(c); break;
    case API_GOODS_LIST: web_api_goods_list(c); break;
    case API_GOODS_GET: web_api_goods_get(c); break;
    case API_HEALTHZ: api_healthz(c); break;
    default: abort(); /* a route names a handler that does not exist: a bug */
    }
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void web_handle(const struct web_app *app, FCGX_Request *fr)
{
    struct web_ctx c = {.app = app};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    http_response_init(&c.res);

    enum http_read_status rs = http_request_read(&c.req, fr->envp, fr->in,
                                                 (size_t)app->cfg->max_body_bytes);
    log_set_request_id(c.req.request_id);
    if (rs != HTTP_READ_OK) {
        web_error(&c, rs == HTTP_READ_TOO_LARGE ? SHOP_REQUEST_TOO_LARGE
                                                   : SHOP_REQUEST_PARAMETER_VALID);
        goto send;
    }
    c.res.no_body = c.req.method == HTTP_HEAD;
    switch (router_match(ROUTES, sizeof ROUTES / sizeof ROUTES[0], c.req.method, c.req.path,
                         &c.route, c.ids, &c.nids)) {
    case ROUTER_FOUND: dispatch(&c); break;
    case ROUTER_METHOD_NOT_ALLOWED: web_error(&c, SHOP_METHOD_NOT_ALLOWED); break;
    case ROUTER_NOT_FOUND: web_error(&c, SHOP_NOT_FOUND); break;
    }

send:
    http_header_add(&c.res, "X-Request-Id", c.req.request_id);
    if (http_response_send(&c.res, fr->out) != 0)
        log_warn("response not sent (client gone or response over cap)");
    log_msg(c.res.status >= 500 ? LOG_ERROR : LOG_INFO, "%s %s %d %zu %.1fms",
            http_method_name(c.req.method), c.req.path[0] ? c.req.path : "-", c.res.status,
            c.res.body.len, elapsed_ms(&t0));
    log_set_request_id(NULL);
    http_request_free(&c.req);
    http_response_free(&c.res);
}
