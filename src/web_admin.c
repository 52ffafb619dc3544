/* The operators' console: the order search and an order's detail, as pages
 * (/admin, /admin/orders/{id}) and as JSON (/api/admin/orders...). Every
 * route here is ROUTE_ADMIN: the guard answers 404 to anyone who is not an
 * operator. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer_log.h"
#include "coupon_service.h"
#include "db.h"
#include "goods_service.h"
#include "log.h"
#include "order_log.h"
#include "order_service.h"
#include "pay_service.h"
#include "snowflake.h"
#include "user_service.h"
#include "web_internal.h"

#define ADMIN_PAGE_MAX 50 /* rows a page of the console loads at most */
#define LOGIN_MAX      64

/* What the search form asks for, as typed (for the form and the next link)
 * and as the service's filter. */
struct search {
    char order[SNOWFLAKE_STR_MAX + 1];
    char user[LOGIN_MAX + 1];
    char status[4];
    char from[16];
    char to[16];
    struct order_filter f;
};

static const struct {
    const char *name;
    size_t size;
    size_t offset;
} SEARCH_FIELDS[] = {
    {"order", sizeof((struct search *)0)->order, offsetof(struct search, order)},
    {"user", sizeof((struct search *)0)->user, offsetof(struct search, user)},
    {"status", sizeof((struct search *)0)->status, offsetof(struct search, status)},
    {"from", sizeof((struct search *)0)->from, offsetof(struct search, from)},
    {"to", sizeof((struct search *)0)->to, offsetof(struct search, to)},
};
#define NFIELDS (sizeof SEARCH_FIELDS / sizeof SEARCH_FIELDS[0])

/* "YYYY-MM-DD" with digits where digits go (the database checks the rest:
 * a day that does not exist matches nothing). */
static int day_ok(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

/* The typed fields into s->f; NULL, or what is wrong, for the operator. */
static const char *search_check(struct search *s)
{
    s->f.status = -1;
    if (s->order[0] != '\0' && snowflake_parse(s->order, strlen(s->order), &s->f.order_id) != 0)
        return "The order id must be a number.";
    if (s->status[0] != '\0') {
        if (strlen(s->status) != 1 || s->status[0] < '0' || s->status[0] > '4')
            return "The status must be one of the list.";
        s->f.status = s->status[0] - '0';
    }
    if ((s->from[0] != '\0' && !day_ok(s->from)) || (s->to[0] != '\0' && !day_ok(s->to)))
        return "Dates must be written YYYY-MM-DD.";
    memcpy(s->f.from, s->from, sizeof s->f.from); /* "" or 10 characters, checked */
    memcpy(s->f.to, s->to, sizeof s->f.to);
    return NULL;
}

/* The search of the query string; NULL, or what is wrong. */
static const char *search_read(const struct web_ctx *c, struct search *s)
{
    const char *q = c->req.query != NULL ? c->req.query : "";
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < NFIELDS; i++)
        if (http_form_get(q, strlen(q), SEARCH_FIELDS[i].name, (char *)s + SEARCH_FIELDS[i].offset,
                          SEARCH_FIELDS[i].size) < 0)
            return "A search field is too long or malformed.";
    return search_check(s);
}

/* The user filter: a name or mobile that is nobody matches no order. */
static enum shop_code search_user(struct search *s)
{
    if (s->user[0] == '\0')
        return SHOP_SUCCESS;
    enum shop_code rc = user_find_login(user_db(), s->user, &s->f.user_id);
    if (rc == SHOP_USER_NO_EXIST) {
        s->f.user_id = -1;
        return SHOP_SUCCESS;
    }
    return rc;
}

/* The search as a query string ("order=..&user=.."), for the next link. */
static void search_query(const struct search *s, struct buf *out)
{
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *v = (const char *)s + SEARCH_FIELDS[i].offset;
        if (v[0] == '\0')
            continue;
        buf_printf(out, "&%s=", SEARCH_FIELDS[i].name);
        http_url_encode(v, strlen(v), "", out);
    }
}

/* One page of the search; next: the next page's cursor, "" at the end. */
static enum shop_code search_page(struct web_ctx *c, struct search *s, struct web_list *l,
                                  struct order **list, size_t *n, char next[PAGING_CURSOR_MAX])
{
    int64_t before = 0;
    int more = 0;
    *list = NULL;
    *n = 0;
    next[0] = '\0';
    enum shop_code rc = web_list_args(c, l);
    if (rc != SHOP_SUCCESS)
        return rc;
    if (l->limit > ADMIN_PAGE_MAX)
        return SHOP_LIST_LIMIT_INVALID;
    if (l->after[0] != '\0' && paging_cursor_parse(l->after, &before, 1) != 0)
        return SHOP_LIST_CURSOR_INVALID;
    if ((rc = search_user(s)) != SHOP_SUCCESS)
        return rc;
    rc = order_search(order_db(), &s->f, before, l->limit, list, n, &more);
    if (rc == SHOP_SUCCESS && more)
        paging_cursor_format(&(*list)[*n - 1].order_id, 1, next);
    return rc;
}

static void orders_json(struct web_ctx *c, struct order *list, size_t n, const char *next)
{
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, order_to_json(&list[i]));
    web_json_page(c, "orders", arr, next[0] ? next : NULL);
}

static json_object *search_form(const struct search *s)
{
    json_object *f = json_object_new_object();
    for (size_t i = 0; i < NFIELDS; i++)
        web_add_str(f, SEARCH_FIELDS[i].name, (const char *)s + SEARCH_FIELDS[i].offset);
    if (s->status[0] != '\0') {
        char key[16];
        snprintf(key, sizeof key, "status_%s", s->status);
        json_object_object_add(f, key, json_object_new_boolean(1));
    }
    return f;
}

static void orders_page_render(struct web_ctx *c, const struct search *s, const struct web_list *l,
                               struct order *list, size_t n, const char *next, const char *error)
{
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) {
        struct goods g;
        int named = goods_get(goods_db(), list[i].goods_id, &g) == SHOP_SUCCESS;
        json_object_array_add(arr, web_order_view(&list[i], named ? g.goods_name : NULL));
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "orders", arr);
    json_object_object_add(d, "order_count", json_object_new_int64((int64_t)n));
    json_object_object_add(d, "search", search_form(s));
    if (error != NULL)
        web_add_str(d, "error", error);
    if (next[0] != '\0') {
        struct buf url;
        buf_init(&url, 2048);
        buf_printf(&url, "/admin?after=%s&limit=%zu", next, l->limit);
        search_query(s, &url);
        web_add_str(d, "next_url", buf_str(&url));
        buf_free(&url);
    }
    web_render_page(c, error != NULL ? 400 : 200, "admin", d);
}

void web_admin_orders(struct web_ctx *c)
{
    struct search s;
    struct web_list l = {.limit = PAGING_LIMIT_DEFAULT};
    struct order *list = NULL;
    size_t n = 0;
    char next[PAGING_CURSOR_MAX] = "";
    int api = (c->route->flags & ROUTE_API) != 0;
    const char *bad = search_read(c, &s);
    if (bad != NULL) {
        if (api)
            http_json_error(&c->res, SHOP_REQUEST_PARAMETER_VALID, bad);
        else
            orders_page_render(c, &s, &l, NULL, 0, next, bad);
        return;
    }
    enum shop_code rc = search_page(c, &s, &l, &list, &n, next);
    if (rc != SHOP_SUCCESS)
        web_error(c, rc);
    else if (api)
        orders_json(c, list, n, next);
    else
        orders_page_render(c, &s, &l, list, n, next, NULL);
    free(list);
}

/* The consumer-log rows of the order's messages from every service's
 * database (each once: services may share one). */
static json_object *messages(int64_t order_id)
{
    db_conn *dbs[] = {order_db(), goods_db(), coupon_db(), user_db(), db_thread()};
    size_t ndb = sizeof dbs / sizeof dbs[0];
    char key[SNOWFLAKE_STR_MAX];
    json_object *all = json_object_new_array();
    snowflake_format(order_id, key);
    for (size_t i = 0; i < ndb; i++) {
        int seen = dbs[i] == NULL;
        for (size_t j = 0; j < i && !seen; j++)
            seen = dbs[j] == dbs[i];
        json_object *rows = NULL;
        if (seen || consumer_log_by_key_json(dbs[i], key, &rows) != SHOP_SUCCESS)
            continue;
        for (size_t k = 0; k < json_object_array_length(rows); k++)
            json_object_array_add(all, json_object_get(json_object_array_get_idx(rows, k)));
        json_object_put(rows);
    }
    return all;
}

/* The order with its timeline, payments and messages, for both forms. */
static enum shop_code order_detail(int64_t order_id, json_object **out)
{
    struct order o;
    struct goods g;
    struct order_log_entry *log = NULL;
    size_t nlog = 0;
    json_object *pays = NULL;
    enum shop_code rc = order_get_any(order_db(), order_id, &o);
    if (rc != SHOP_SUCCESS)
        return rc;
    if ((rc = order_log_list(order_db(), order_id, &log, &nlog)) != SHOP_SUCCESS ||
        (rc = pay_rows_json(order_db(), order_id, &pays)) != SHOP_SUCCESS)
        goto out;
    int named = goods_get(goods_db(), o.goods_id, &g) == SHOP_SUCCESS;
    *out = web_order_view(&o, named ? g.goods_name : NULL);
    json_object_object_add(*out, "history", web_order_history(&o, log, nlog));
    json_object_object_add(*out, "payments", pays);
    json_object_object_add(*out, "messages", messages(order_id));
    pays = NULL;
out:
    json_object_put(pays);
    free(log);
    return rc;
}

void web_admin_order(struct web_ctx *c)
{
    json_object *v = NULL;
    enum shop_code rc = order_detail(c->ids[0], &v);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    if (c->route->flags & ROUTE_API) {
        web_json_success(c, 200, "order", v);
        return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "order", v);
    web_render_page(c, 200, "admin_order", d);
}
