/* web_internal: what the request handlers of the web layer share (not part of
 * the public web.h). One `struct web_ctx` per request holds everything the
 * request owns; web_handle frees it in one place. Handlers live in
 * web_<area>.c and are listed in the route table in web.c. */
#ifndef SHOP_WEB_INTERNAL_H
#define SHOP_WEB_INTERNAL_H

#include <json-c/json.h>
#include <stdint.h>

#include "errors.h"
#include "http.h"
#include "router.h"
#include "web.h"

#define SHOP_NAME "Shop"

struct web_ctx {
    const struct web_app *app;
    struct http_request req;
    struct http_response res;
    const struct route *route;
    int64_t ids[ROUTER_MAX_IDS]; /* the {id} segments of the path */
    size_t nids;
};

/* Render template `name` into the response as an HTML page with status.
 * Takes (puts) data in every case; adds shop_name and request_id. */
void web_render_page(struct web_ctx *c, int status, const char *name, json_object *data);

/* Answer a SHOP_ code: the contract's JSON error for API routes (and clients
 * asking for JSON), the error page otherwise. */
void web_error(struct web_ctx *c, enum shop_code code);

/* Answer {"success":true, name: value} with status; takes value. */
void web_json_success(struct web_ctx *c, int status, const char *name, json_object *value);

/* The broker connection of this thread, opened on first use (NULL when the
 * broker is down; a later call tries again). */
struct mq_conn *web_thread_mq(const struct web_app *app);

/* Handlers (web_goods.c) */
void web_page_catalogue(struct web_ctx *c);
void web_page_goods(struct web_ctx *c);
void web_api_goods_list(struct web_ctx *c);
void web_api_goods_get(struct web_ctx *c);

#endif
