/* The catalogue: its pages and its JSON; and the goods page's order form
 * (shown and, on POST /orders, answered here, because a refused order shows
 * the goods page again with what the buyer typed). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon_service.h"
#include "db.h"
#include "goods_service.h"
#include "log.h"
#include "money.h"
#include "order_saga.h"
#include "snowflake.h"
#include "user_service.h"
#include "web_internal.h"

/* Stock at or below this shows "only N left". */
#define LOW_STOCK 5
/* A short form field (quantity, amount, id) as typed. */
#define SHORT_FIELD 32

static json_object *goods_view(const struct goods *g)
{
    json_object *o = goods_to_json(g);
    money_json_add(o, "price_display", g->goods_price);
    json_object_object_add(o, "in_stock", json_object_new_boolean(g->goods_number > 0));
    json_object_object_add(
        o, "low_stock",
        json_object_new_boolean(g->goods_number > 0 && g->goods_number <= LOW_STOCK));
    /* One of it ships free (the saga's rule decides). */
    json_object_object_add(o, "free_shipping",
                           json_object_new_boolean(order_saga_shipping_fee(g->goods_price) == 0));
    return o;
}

/* One page of the catalogue as the request asks (?limit, ?after, ?q); next
 * is the next page's cursor ("" on the last page). */
static enum shop_code catalogue_page(struct web_ctx *c, struct web_list *l, struct goods **list,
                                     size_t *n, char next[PAGING_CURSOR_MAX])
{
    int64_t after = 0;
    int more = 0;
    *list = NULL;
    *n = 0;
    next[0] = '\0';
    enum shop_code rc = web_list_args(c, l);
    if (rc != SHOP_SUCCESS)
        return rc;
    if (l->after[0] != '\0' && paging_cursor_parse(l->after, &after, 1) != 0)
        return SHOP_LIST_CURSOR_INVALID;
    rc = goods_page(goods_db(), l->q, after, l->limit, list, n, &more);
    if (rc == SHOP_SUCCESS && more)
        paging_cursor_format(&(*list)[*n - 1].goods_id, 1, next);
    return rc;
}

void web_page_catalogue(struct web_ctx *c)
{
    struct web_list l;
    struct goods *list = NULL;
    size_t n = 0;
    char next[PAGING_CURSOR_MAX];
    enum shop_code rc = catalogue_page(c, &l, &list, &n, next);
    if (rc != SHOP_SUCCESS) {
        free(list);
        web_error(c, rc);
        return;
    }
    json_object *d = json_object_new_object();
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, goods_view(&list[i]));
    json_object_object_add(d, "goods", arr);
    free(list);
    if (l.q[0] != '\0')
        web_add_str(d, "q", l.q);
    json_object_object_add(d, "later_page", json_object_new_boolean(l.after[0] != '\0'));
    json_object_object_add(d, "search_max", json_object_new_int(PAGING_SEARCH_MAX));
    web_list_next_link(d, "/", &l, next[0] ? next : NULL);
    web_render_page(c, 200, "catalogue", d);
}

/* ------------------------------------------------------ the order form */

/* What the buyer typed into the order form, kept for showing it again. */
struct order_form {
    char goods_number[SHORT_FIELD];
    char coupon_id[SHORT_FIELD];
    char money_paid[SHORT_FIELD];
    char address[ORDER_ADDRESS_MAX * 4 + 1];
    char consignee[ORDER_CONSIGNEE_MAX * 4 + 1];
    const char *error; /* the refusal in words, NULL when none */
    int64_t order_id;  /* the cancelled order of a refusal after the pre-order */
};

/* A quantity as typed: digits only, 1..ORDER_SAGA_NUMBER_MAX. 0 or -1. */
static int parse_quantity(const char *s, int64_t *n)
{
    int64_t v = 0;
    if (*s == '\0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > ORDER_SAGA_NUMBER_MAX)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > ORDER_SAGA_NUMBER_MAX)
        return -1;
    *n = v;
    return 0;
}

/* The form's data: the breakdown for the typed quantity (1 by default), the
 * user's unused coupons and balance, and what was typed. */
static json_object *form_view(struct web_ctx *c, const struct goods *g, const struct order_form *f)
{
    json_object *o = json_object_new_object();
    int64_t qty = 1, amount, ship, total;
    if (f != NULL && parse_quantity(f->goods_number, &qty) != 0)
        qty = 1;
    if (order_saga_breakdown(g->goods_price, qty, &amount, &ship, &total) != 0) {
        qty = 1;
        order_saga_breakdown(g->goods_price, qty, &amount, &ship, &total);
    }
    char id[SNOWFLAKE_STR_MAX];
    snowflake_format(g->goods_id, id);
    web_add_str(o, "goods_id", id);
    money_json_add(o, "goods_price", g->goods_price);
    money_json_add(o, "goods_amount", amount);
    money_json_add(o, "shipping_fee", ship);
    money_json_add(o, "order_amount", total);
    json_object_object_add(o, "quantity_shown", json_object_new_int64(qty));
    json_object_object_add(o, "free_shipping", json_object_new_boolean(ship == 0));
    json_object_object_add(o, "max_number", json_object_new_int64(g->goods_number));
    web_add_str(o, "goods_number", f != NULL && f->goods_number[0] ? f->goods_number : "1");
    web_add_str(o, "money_paid", f != NULL ? f->money_paid : "");
    web_add_str(o, "address", f != NULL ? f->address : "");
    web_add_str(o, "consignee", f != NULL ? f->consignee : "");
    if (f != NULL && f->error != NULL)
        web_add_str(o, "error", f->error);
    if (f != NULL && f->order_id != 0) {
        snowflake_format(f->order_id, id);
        web_add_str(o, "cancelled_order_id", id);
    }

    struct user u;
    if (user_get(user_db(), c->session.user_id, &u) == SHOP_SUCCESS) {
        money_json_add(o, "balance", u.user_money);
        json_object_object_add(o, "has_balance", json_object_new_boolean(u.user_money > 0));
    }
    struct coupon *list = NULL;
    size_t n = 0;
    int more;
    /* Unused come first: the form offers those of the largest first page. */
    if (coupon_page(coupon_db(), c->session.user_id, (struct coupon_key){0, 0}, PAGING_LIMIT_MAX,
                    &list, &n, &more) == SHOP_SUCCESS) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
            if (list[i].is_used)
                continue;
            json_object *cp = json_object_new_object();
            snowflake_format(list[i].coupon_id, id);
            web_add_str(cp, "coupon_id", id);
            money_json_add(cp, "price_display", list[i].coupon_price);
            json_object_object_add(
                cp, "selected",
                json_object_new_boolean(f != NULL && strcmp(f->coupon_id, id) == 0));
            json_object_array_add(arr, cp);
        }
        json_object_object_add(o, "has_coupons",
                               json_object_new_boolean(json_object_array_length(arr) > 0));
        json_object_object_add(o, "coupons", arr);
    } else {
        json_object_object_add(o, "coupons_unavailable", json_object_new_boolean(1));
    }
    free(list);
    return o;
}

/* The goods page; with the order form when logged in (f: what was typed
 * and the refusal, NULL for a fresh page). */
static void render_goods(struct web_ctx *c, int status, const struct goods *g,
                         const struct order_form *f)
{
    json_object *d = json_object_new_object();
    json_object_object_add(d, "goods", goods_view(g));
    if (c->logged_in) {
        json_object_object_add(d, "order_form", form_view(c, g, f));
    } else {
        char next[64], id[SNOWFLAKE_STR_MAX];
        snprintf(next, sizeof next, "/goods/%s", snowflake_format(g->goods_id, id));
        web_add_str(d, "login_next", next);
    }
    web_render_page(c, status, "goods", d);
}

void web_page_goods(struct web_ctx *c)
{
    struct goods g;
    enum shop_code rc = goods_get(goods_db(), c->ids[0], &g);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc == SHOP_GOODS_NO_EXIST ? SHOP_NOT_FOUND : rc);
        return;
    }
    render_goods(c, 200, &g, NULL);
}

/* Check what was typed and turn it into a request; NULL, or the refusal. */
static const char *form_request(const struct web_ctx *c, struct order_form *f,
                                struct order_saga_request *req)
{
    char id[SHORT_FIELD], price[SHORT_FIELD];
    int bad_number = web_form_text(c, "goods_number", f->goods_number, sizeof f->goods_number);
    int bad_coupon = web_form_text(c, "coupon_id", f->coupon_id, sizeof f->coupon_id);
    int bad_money = web_form_text(c, "money_paid", f->money_paid, sizeof f->money_paid);
    int bad_address = web_form_text(c, "address", f->address, sizeof f->address);
    int bad_consignee = web_form_text(c, "consignee", f->consignee, sizeof f->consignee);
    memset(req, 0, sizeof *req);
    if (web_form_text(c, "goods_id", id, sizeof id) != 0 ||
        snowflake_parse(id, strlen(id), &req->goods_id) != 0)
        return "The form is incomplete; reload the page and try again.";
    if (bad_number || parse_quantity(f->goods_number, &req->goods_number) != 0)
        return "Quantity must be a whole number of at least 1.";
    if (web_form_text(c, "goods_price", price, sizeof price) != 0 ||
        money_parse_str(price, MONEY_NON_NEGATIVE, &req->goods_price) != 0)
        return "The form is incomplete; reload the page and try again.";
    if (bad_coupon || (f->coupon_id[0] != '\0' &&
                       snowflake_parse(f->coupon_id, strlen(f->coupon_id), &req->coupon_id) != 0))
        return "Please choose one of your coupons, or none.";
    if (bad_money || (f->money_paid[0] != '\0' &&
                      money_parse_str(f->money_paid, MONEY_ALLOW_NEGATIVE, &req->money_paid) != 0))
        return "Balance to use must be an amount with at most two decimals, like 12.30.";
    if (bad_address ||
        order_saga_text_check(f->address, strlen(f->address), ORDER_ADDRESS_MAX) != 0)
        return "Please enter the delivery address (1 to 255 characters).";
    if (bad_consignee ||
        order_saga_text_check(f->consignee, strlen(f->consignee), ORDER_CONSIGNEE_MAX) != 0)
        return "Please enter the consignee's name (1 to 64 characters).";
    /* The buyer may change the quantity: shipping and total follow it. The
     * price stays the one the page showed, so a stale page is refused. */
    int64_t amount;
    if (order_saga_breakdown(req->goods_price, req->goods_number, &amount, &req->shipping_fee,
                             &req->order_amount) != 0)
        return shop_code_message(SHOP_ORDERAMOUNT_INVALID);
    snprintf(req->address, sizeof req->address, "%s", f->address);
    snprintf(req->consignee, sizeof req->consignee, "%s", f->consignee);
    return NULL;
}

void web_form_order(struct web_ctx *c)
{
    struct order_form f;
    struct order_saga_request req;
    struct order o;
    struct goods g;
    memset(&f, 0, sizeof f);
    f.error = form_request(c, &f, &req);
    if (req.goods_id == 0) {
        web_error(c, SHOP_REQUEST_PARAMETER_VALID);
        return;
    }
    enum shop_code rc = goods_get(goods_db(), req.goods_id, &g);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc == SHOP_GOODS_NO_EXIST ? SHOP_NOT_FOUND : rc);
        return;
    }
    if (f.error != NULL) {
        render_goods(c, 400, &g, &f);
        return;
    }
    rc = order_saga_confirm(web_thread_mq(c->app), c->app->notify_pipe, c->session.user_id, &req,
                            c->app->cfg->fault_inject, &o);
    if (rc == SHOP_SUCCESS) {
        char loc[48], id[SNOWFLAKE_STR_MAX];
        snprintf(loc, sizeof loc, "/orders/%s", snowflake_format(o.order_id, id));
        web_redirect(c, loc);
        return;
    }
    /* The page again, with the current stock and price. */
    if (goods_get(goods_db(), req.goods_id, &g) != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    f.error = shop_code_message(rc);
    f.order_id = o.order_id;
    render_goods(c, shop_code_status(rc), &g, &f);
}

/* ---------------------------------------------------------------- JSON */

void web_api_goods_list(struct web_ctx *c)
{
    struct web_list l;
    struct goods *list = NULL;
    size_t n = 0;
    char next[PAGING_CURSOR_MAX];
    enum shop_code rc = catalogue_page(c, &l, &list, &n, next);
    if (rc != SHOP_SUCCESS) {
        free(list);
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, goods_to_json(&list[i]));
    free(list);
    web_json_page(c, "goods", arr, next[0] ? next : NULL);
}

void web_api_goods_get(struct web_ctx *c)
{
    struct goods g;
    enum shop_code rc = goods_get(goods_db(), c->ids[0], &g);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_json_success(c, 200, "goods", goods_to_json(&g));
}
