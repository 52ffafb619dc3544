/* web_internal: what the request handlers of the web layer share (not part of
 * the public web.h). One `struct web_ctx` per request holds everything the
 * request owns; web_handle frees it in one place. Handlers live in
 * web_<area>.c and are listed in the route table in web.c. */
#ifndef SHOP_WEB_INTERNAL_H
#define SHOP_WEB_INTERNAL_H

#include <json-c/json.h>
#include <stdint.h>

#include "auth.h"
#include "errors.h"
#include "http.h"
#include "paging.h"
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
    /* Set by web_handle before the handler runs when the session cookie is
     * valid; routes with ROUTE_LOGIN run only then, and routes with
     * ROUTE_CSRF only with the session's CSRF token (X-CSRF-Token header or
     * csrf_token form field) as well. */
    int logged_in;
    struct auth_session session;
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

/* 303 See Other to a local path (must start with '/'). */
void web_redirect(struct web_ctx *c, const char *location);

/* A field of an application/x-www-form-urlencoded body, decoded into out.
 * 1 found, 0 absent, -1 malformed or longer than outsz-1. */
int web_form_field(const struct web_ctx *c, const char *name, char *out, size_t outsz);

/* The same into out, "" when absent: 0, or -1 when malformed or longer than
 * outsz-1 (out is then "" too). */
int web_form_text(const struct web_ctx *c, const char *name, char *out, size_t outsz);

/* Add key: the string s (copied) to the JSON object o. */
void web_add_str(json_object *o, const char *key, const char *s);

/* The request body as a JSON object (new reference in *out), with the
 * configured depth cap. SHOP_SUCCESS or the code to answer with. */
enum shop_code web_json_body(const struct web_ctx *c, json_object **out);

/* What a list request asks for (the contract's "Lists are paged by
 * cursor"): ?limit= (PAGING_LIMIT_DEFAULT when absent), ?after= (the
 * previous page's next; "" for the first page) and, for the goods, ?q=. */
struct web_list {
    size_t limit;
    int limit_given;
    char after[PAGING_CURSOR_MAX];
    char q[PAGING_SEARCH_MAX + 1];
};

/* Read them from the query string: SHOP_SUCCESS, SHOP_LIST_LIMIT_INVALID,
 * SHOP_LIST_CURSOR_INVALID (malformed or longer than a cursor; what it says
 * is the list's to check), SHOP_SEARCH_INVALID (q too long or malformed). */
enum shop_code web_list_args(const struct web_ctx *c, struct web_list *l);

/* When next is not NULL: "next_url" in a page's data, path?after=next with
 * the request's limit and q, the "Next" link that works without JavaScript. */
void web_list_next_link(json_object *data, const char *path, const struct web_list *l,
                        const char *next);

/* Answer {"success":true, name: value, "next": next or null} with 200;
 * takes value. */
void web_json_page(struct web_ctx *c, const char *name, json_object *value, const char *next);

/* Add a Set-Cookie header (HttpOnly; SameSite=Lax; Path=/; Secure when
 * configured). max_age_s 0 deletes the cookie. */
void web_set_cookie(struct web_ctx *c, const char *name, const char *value, int max_age_s);

/* The pre-session CSRF token of this request's cookie into out: 0, or -1
 * (out "") when it has none or a malformed one. */
int web_pre_csrf(const struct web_ctx *c, char out[AUTH_CSRF_LEN + 8]);
/* The same, or a new one set as the cookie when there is none: what the
 * login and register forms and GET /api/session hand out. */
void web_pre_csrf_issue(struct web_ctx *c, char out[AUTH_CSRF_LEN + 8]);

/* Pages get these in their data from web_render_page: shop_name,
 * request_id, free_shipping_above and standard_shipping_fee (the saga's
 * shipping rule, as money strings), and when logged in: logged_in true, me {user_id, user_name},
 * csrf_token (for forms). */

/* Handlers (web_goods.c) */
void web_page_catalogue(struct web_ctx *c);
void web_page_goods(struct web_ctx *c);
void web_api_goods_list(struct web_ctx *c);
void web_api_goods_get(struct web_ctx *c);

/* Handlers (web_account.c) */
void web_api_register(struct web_ctx *c);    /* POST /api/users */
void web_api_pre_session(struct web_ctx *c); /* GET /api/session (the pre-session token) */
void web_api_login(struct web_ctx *c);       /* POST /api/session */
void web_api_logout(struct web_ctx *c);      /* DELETE /api/session */
void web_api_me(struct web_ctx *c);          /* GET /api/me */
void web_page_login(struct web_ctx *c);      /* GET /login */
void web_form_login(struct web_ctx *c);      /* POST /login */
void web_page_register(struct web_ctx *c);   /* GET /register */
void web_form_register(struct web_ctx *c);   /* POST /register */
void web_form_logout(struct web_ctx *c);     /* POST /logout */
void web_page_account(struct web_ctx *c);    /* GET /account */

/* Handlers (web_coupon.c) */
void web_api_coupons(struct web_ctx *c); /* GET /api/coupons */
struct coupon;
/* One page of the logged-in user's coupons for ?limit and ?after (the
 * account page's list too); next: the next page's cursor, "" at the end. */
enum shop_code web_coupons_page(struct web_ctx *c, struct web_list *l, struct coupon **list,
                                size_t *n, char next[PAGING_CURSOR_MAX]);

/* Handlers (web_order.c) */
void web_api_order_create(struct web_ctx *c);  /* POST /api/orders */
void web_api_orders(struct web_ctx *c);        /* GET /api/orders */
void web_api_order_get(struct web_ctx *c);     /* GET /api/orders/{id} */
void web_api_order_cancel(struct web_ctx *c);  /* POST /api/orders/{id}/cancel */
void web_form_order_cancel(struct web_ctx *c); /* POST /orders/{id}/cancel (the cancel button) */
void web_form_order(struct web_ctx *c);  /* POST /orders (the goods page's form; in web_goods.c) */
void web_page_orders(struct web_ctx *c); /* GET /orders */
void web_page_order(struct web_ctx *c);  /* GET /orders/{id} */
void web_api_refund_request(struct web_ctx *c); /* POST /api/orders/{id}/refund */
void web_api_refunds(struct web_ctx *c);        /* GET /api/orders/{id}/refunds */
void web_form_refund(struct web_ctx *c); /* POST /orders/{id}/refund (the order page's button) */
struct order;
struct order_log_entry;
/* An order for the templates (the buyer's pages and the console): the JSON
 * of the API plus words (status_text, pay_text, ...) and display times. */
json_object *web_order_view(const struct order *o, const char *goods_name);
/* The order's history for the templates, oldest first: [{what, time}]. */
json_object *web_order_history(const struct order *o, const struct order_log_entry *log, size_t n);
/* key: iso and key_display: "2026-11-26 05:40 UTC" in o (nothing when iso
 * is ""). */
void web_add_time(json_object *o, const char *key, const char *iso);

/* Handlers (web_admin.c): the operators' console, ROUTE_ADMIN */
void web_admin_orders(struct web_ctx *c); /* GET /admin, GET /api/admin/orders */
void web_admin_order(struct web_ctx *c);  /* GET /admin/orders/{id}, GET /api/admin/orders/{id} */
/* Handlers (web_admin_goods.c) */
void web_admin_goods_list(struct web_ctx *c);   /* GET /admin/goods */
void web_admin_goods_page(struct web_ctx *c);   /* GET /admin/goods/{id} */
void web_admin_goods_create(struct web_ctx *c); /* POST /admin/goods */
void web_admin_goods_edit(struct web_ctx *c);   /* POST /admin/goods/{id} */
void web_admin_goods_stock(struct web_ctx *c);  /* POST /admin/goods/{id}/stock */
void web_admin_coupon_issue(struct web_ctx *c); /* POST /admin/coupons */
/* Handlers (web_admin_pay.c) */
void web_admin_mismatches(struct web_ctx *c);       /* GET /admin/mismatches */
void web_admin_mismatch_resolve(struct web_ctx *c); /* POST /admin/mismatches/{id} */
/* Handlers (web_admin_refund.c) */
void web_admin_refunds(struct web_ctx *c);    /* GET /admin/refunds */
void web_admin_refund_act(struct web_ctx *c); /* POST /admin/refunds/{id} */
/* Handlers (web_admin_reconcile.c) */
void web_admin_reconcile(struct web_ctx *c);         /* GET /admin/reconcile */
void web_admin_reconcile_resolve(struct web_ctx *c); /* POST /admin/reconcile/{id} */
/* Handlers (web_admin_mq.c) */
void web_admin_parked(struct web_ctx *c);         /* GET /admin/parked, /api/admin/parked */
void web_admin_parked_replay(struct web_ctx *c);  /* POST /admin/parked/replay */
void web_admin_parked_discard(struct web_ctx *c); /* POST /admin/parked/discard */

/* Handlers (web_pay.c) */
void web_api_payment_start(struct web_ctx *c); /* POST /api/orders/{id}/payment */
void web_form_pay(struct web_ctx *c);          /* POST /orders/{id}/pay (the pay button) */
void web_pay_notify_alipay(struct web_ctx *c); /* POST /pay/notify/alipay (the provider) */
void web_metrics(struct web_ctx *c);           /* GET /metrics (nginx's metrics listener) */
void web_page_pay_return(struct web_ctx *c);   /* GET /pay/return (the buyer back from paying) */

#endif
