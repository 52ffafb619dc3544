#include "routes.h"

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cashier.h"
#include "gateway.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "page.h"
#include "schedule.h"
#include "settings.h"

#define MAX_BODY (64 * 1024) /* a request body */

static const char INDEX[] =
    "<h1>Payment provider sandbox</h1>\n<p class=\"muted\">Speaks Alipay's protocol with RSA2 "
    "signatures. Merchants send buyers to <code>/gateway.do</code> with a signed "
    "<code>alipay.trade.page.pay</code> request, and POST <code>alipay.trade.query</code>, "
    "<code>.close</code>, <code>.refund</code> and <code>.fastpay.refund.query</code> "
    "there.</p>\n<dl>\n"
    "<dt>App id</dt><dd>{{app_id}}</dd>\n<dt>Seller id</dt><dd>{{seller_id}}</dd>\n"
    "<dt>Pending notifications</dt><dd>{{pending}}</dd>\n<dt>Given up</dt><dd>{{failed}}</dd>\n"
    "<dt>Time scale</dt><dd>{{time_scale}}</dd>\n"
    "<dt>Test hooks</dt><dd>{{hooks}}</dd>\n</dl>\n";

static void index_page(struct route_ctx *c)
{
    char scale[32];
    snprintf(scale, sizeof scale, "%g", settings.time_scale);
    json_object *d = json_object_new_object();
    json_object_object_add(d, "app_id", json_object_new_string(settings.app_id));
    json_object_object_add(d, "seller_id", json_object_new_string(settings.seller_id));
    json_object_object_add(d, "pending", json_object_new_int(schedule_count(SCHEDULE_PENDING)));
    json_object_object_add(d, "failed", json_object_new_int(schedule_count(SCHEDULE_FAILED)));
    json_object_object_add(d, "time_scale", json_object_new_string(scale));
    json_object_object_add(d, "hooks",
                           json_object_new_string(settings.test_hooks ? "on (/test/)" : "off"));
    page_render(c->res, 200, "Sandbox", "index", INDEX, d);
    json_object_put(d);
}

static void style(struct route_ctx *c)
{
    page_style(c->res);
}

enum { GET = 1, POST = 2, HOOK = 4 }; /* GET includes HEAD; HOOK: only with --test-hooks */

static const struct route {
    const char *path;
    int methods;
    void (*handle)(struct route_ctx *c);
} ROUTES[] = {
    {"/gateway.do", GET | POST, gateway_handle},
    {"/pay", POST, cashier_pay},
    {"/cancel", POST, cashier_cancel},
    {"/", GET, index_page},
    {"/style.css", GET, style},
    {"/test/next-refund-fails", POST | HOOK, hooks_next_refund_fails},
    {"/test/pay", POST | HOOK, hooks_pay},
    {"/test/pay-again", POST | HOOK, hooks_pay_again},
    {"/test/refunds", GET | HOOK, hooks_refunds},
};

void routes_bad_request(struct route_ctx *c, const char *what, const char *detail)
{
    log_warn("refused: %s (%s)", what, detail);
    page_message(c->res, 400, "error", what, detail, NULL);
}

static void dispatch(struct route_ctx *c)
{
    enum http_method m = c->req->method;
    int method = m == HTTP_GET || m == HTTP_HEAD ? GET : m == HTTP_POST ? POST : 0;
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        if (strcmp(c->req->path, ROUTES[i].path) != 0 ||
            ((ROUTES[i].methods & HOOK) && !settings.test_hooks))
            continue;
        if (ROUTES[i].methods & method)
            ROUTES[i].handle(c);
        else
            page_message(c->res, 405, "error", "Method not allowed",
                         "This address does not take that method.", NULL);
        return;
    }
    page_message(c->res, 404, "error", "Not found", "The sandbox has no such page.", NULL);
}

void routes_handle(FCGX_Request *fr)
{
    struct http_request r;
    struct http_response res;
    struct route_ctx c = {.req = &r, .res = &res};
    http_response_init(&res);
    enum http_read_status rs = http_request_read(&r, fr->envp, fr->in, MAX_BODY);
    log_set_request_id(r.request_id);
    res.no_body = r.method == HTTP_HEAD;
    if (rs != HTTP_READ_OK)
        page_message(&res, rs == HTTP_READ_TOO_LARGE ? 413 : 400, "error", "Bad request",
                     "The request could not be read.", NULL);
    else
        dispatch(&c);
    if (c.form_origin[0] != '\0')
        res.form_action = c.form_origin;
    if (http_response_send(&res, fr->out) != 0)
        log_warn("could not send the response");
    log_set_request_id(NULL);
    http_request_free(&r);
    http_response_free(&res);
}
