/* The operators' console: the catalogue (create and edit goods, adjust
 * stock with a reason) and issuing coupons, as forms that answer 303 to the
 * page that shows the result (or the page again with what is wrong, 400).
 * Every action is written to the operators' audit log (trade_admin_log)
 * with the operator's name. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coupon_service.h"
#include "goods_service.h"
#include "log.h"
#include "money.h"
#include "snowflake.h"
#include "user_service.h"
#include "web_internal.h"

#define ADMIN_LIST_MAX   50      /* goods a page of the console loads at most */
#define STOCK_DELTA_MAX  1000000 /* units one adjustment adds or takes at most */
#define STOCK_MAX        1000000 /* stock a new goods starts with at most */
#define REASON_MAX       200     /* bytes of a reason */
#define LOGIN_MAX        64
#define MONEY_FIELD_MAX  16
#define NUMBER_FIELD_MAX 16

/* What the goods forms send. */
struct goods_form {
    struct goods g;
    char price[MONEY_FIELD_MAX];
    char number[NUMBER_FIELD_MAX];
};

/* A whole number -max..max as typed (digits, an optional leading '-'). */
static int number_parse(const char *s, int64_t max, int64_t *out)
{
    const char *p = s[0] == '-' ? s + 1 : s;
    int64_t v = 0;
    if (*p == '\0' || strlen(p) > 9)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    *out = s[0] == '-' ? -v : v;
    return v <= max ? 0 : -1;
}

/* Name, description and price (and the stock when with_stock); NULL, or
 * what is wrong, for the operator. */
static const char *goods_form_read(const struct web_ctx *c, struct goods_form *f, int with_stock)
{
    memset(f, 0, sizeof *f);
    if (web_form_text(c, "goods_name", f->g.goods_name, sizeof f->g.goods_name) != 0 ||
        f->g.goods_name[0] == '\0')
        return "The name must be 1 to 255 bytes.";
    if (web_form_text(c, "goods_desc", f->g.goods_desc, sizeof f->g.goods_desc) != 0)
        return "The description must be at most 1023 bytes.";
    if (web_form_text(c, "goods_price", f->price, sizeof f->price) != 0 ||
        money_parse_str(f->price, MONEY_NON_NEGATIVE, &f->g.goods_price) != 0)
        return "The price must be an amount like 12.50.";
    if (!with_stock)
        return NULL;
    if (web_form_text(c, "goods_number", f->number, sizeof f->number) != 0 ||
        number_parse(f->number, STOCK_MAX, &f->g.goods_number) != 0 || f->g.goods_number < 0)
        return "The stock must be a whole number from 0 to 1000000.";
    return NULL;
}

static void audit(const struct web_ctx *c, const char *action, int64_t target, const char *detail)
{
    user_admin_log(user_db(), c->session.user_id, c->session.user_name, action, target, detail);
}

/* ---------------------------------------------------------------- pages */

/* The notice of a ?done= after a form: a fixed text per value. */
static void add_notice(const struct web_ctx *c, json_object *d)
{
    static const char *const NOTICES[][2] = {
        {"created", "The goods was created."},
        {"saved", "The goods was saved."},
        {"stock", "The stock was adjusted."},
        {"coupon", "The coupon was issued."},
    };
    char done[16];
    const char *q = c->req.query != NULL ? c->req.query : "";
    if (http_form_get(q, strlen(q), "done", done, sizeof done) != 1)
        return;
    for (size_t i = 0; i < sizeof NOTICES / sizeof NOTICES[0]; i++)
        if (strcmp(done, NOTICES[i][0]) == 0)
            web_add_str(d, "notice", NOTICES[i][1]);
}

static void goods_list_render(struct web_ctx *c, int status, const char *error)
{
    struct web_list l;
    struct goods *list = NULL;
    size_t n = 0;
    int64_t after = 0;
    int more = 0;
    enum shop_code rc = web_list_args(c, &l);
    if (rc == SHOP_SUCCESS && l.limit > ADMIN_LIST_MAX)
        rc = SHOP_LIST_LIMIT_INVALID;
    if (rc == SHOP_SUCCESS && l.after[0] && paging_cursor_parse(l.after, &after, 1) != 0)
        rc = SHOP_LIST_CURSOR_INVALID;
    if (rc == SHOP_SUCCESS)
        rc = goods_page(goods_db(), l.q, after, l.limit, &list, &n, &more);
    if (rc != SHOP_SUCCESS) {
        free(list);
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, goods_to_json(&list[i]));
    json_object *d = json_object_new_object();
    json_object_object_add(d, "goods", arr);
    web_add_str(d, "q", l.q);
    if (more) {
        char next[PAGING_CURSOR_MAX];
        web_list_next_link(d, "/admin/goods", &l,
                           paging_cursor_format(&list[n - 1].goods_id, 1, next));
    }
    free(list);
    json_object *audit_rows = NULL;
    if (user_admin_log_json(user_db(), &audit_rows) == SHOP_SUCCESS)
        json_object_object_add(d, "audit", audit_rows);
    if (error != NULL)
        web_add_str(d, "error", error);
    add_notice(c, d);
    web_render_page(c, status, "admin_goods", d);
}

void web_admin_goods_list(struct web_ctx *c)
{
    goods_list_render(c, 200, NULL);
}

static void goods_page_render(struct web_ctx *c, int status, const char *error)
{
    struct goods g;
    enum shop_code rc = goods_get(goods_db(), c->ids[0], &g);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "item", goods_to_json(&g));
    json_object *adjustments = NULL;
    if (goods_adjustments_json(goods_db(), g.goods_id, &adjustments) == SHOP_SUCCESS)
        json_object_object_add(d, "adjustments", adjustments);
    if (error != NULL)
        web_add_str(d, "error", error);
    add_notice(c, d);
    web_render_page(c, status, "admin_goods_item", d);
}

void web_admin_goods_page(struct web_ctx *c)
{
    goods_page_render(c, 200, NULL);
}

/* ---------------------------------------------------------------- forms */

static void redirect_goods(struct web_ctx *c, int64_t goods_id, const char *done)
{
    char id[SNOWFLAKE_STR_MAX], url[96];
    snprintf(url, sizeof url, "/admin/goods/%s?done=%s", snowflake_format(goods_id, id), done);
    web_redirect(c, url);
}

void web_admin_goods_create(struct web_ctx *c)
{
    struct goods_form f;
    int64_t id = 0;
    char detail[USER_ADMIN_DETAIL_MAX];
    const char *bad = goods_form_read(c, &f, 1);
    if (bad != NULL) {
        goods_list_render(c, 400, bad);
        return;
    }
    enum shop_code rc = goods_create(goods_db(), &f.g, &id);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    snprintf(detail, sizeof detail, "created \"%.200s\" at %s with stock %" PRId64, f.g.goods_name,
             f.price, f.g.goods_number);
    audit(c, "goods.create", id, detail);
    redirect_goods(c, id, "created");
}

void web_admin_goods_edit(struct web_ctx *c)
{
    struct goods_form f;
    struct goods before;
    char detail[USER_ADMIN_DETAIL_MAX], was[MONEY_STR_MAX];
    const char *bad = goods_form_read(c, &f, 0);
    enum shop_code rc = goods_get(goods_db(), c->ids[0], &before);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    if (bad != NULL) {
        goods_page_render(c, 400, bad);
        return;
    }
    f.g.goods_id = c->ids[0];
    if ((rc = goods_edit(goods_db(), &f.g)) != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    snprintf(detail, sizeof detail, "edited \"%.200s\": price %s (was %s)", f.g.goods_name, f.price,
             money_format(before.goods_price, was));
    audit(c, "goods.edit", f.g.goods_id, detail);
    redirect_goods(c, f.g.goods_id, "saved");
}

void web_admin_goods_stock(struct web_ctx *c)
{
    char delta_s[NUMBER_FIELD_MAX], reason[REASON_MAX + 1], detail[USER_ADMIN_DETAIL_MAX];
    int64_t delta = 0, after = 0;
    if (web_form_text(c, "delta", delta_s, sizeof delta_s) != 0 ||
        number_parse(delta_s, STOCK_DELTA_MAX, &delta) != 0 || delta == 0) {
        goods_page_render(c, 400,
                          "The change must be a whole number from -1000000 to 1000000, "
                          "not 0.");
        return;
    }
    if (web_form_text(c, "reason", reason, sizeof reason) != 0 || reason[0] == '\0') {
        goods_page_render(c, 400, "The reason must be 1 to 200 bytes.");
        return;
    }
    enum shop_code rc =
        goods_adjust_stock(goods_db(), c->ids[0], delta, reason, c->session.user_name, &after);
    if (rc == SHOP_GOODS_NUM_NOT_ENOUGH) {
        goods_page_render(c, 409, "The stock cannot go below 0.");
        return;
    }
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    snprintf(detail, sizeof detail, "stock %+" PRId64 " to %" PRId64 ": %s", delta, after, reason);
    audit(c, "goods.stock", c->ids[0], detail);
    redirect_goods(c, c->ids[0], "stock");
}

void web_admin_coupon_issue(struct web_ctx *c)
{
    char login[LOGIN_MAX + 1], amount[MONEY_FIELD_MAX], detail[USER_ADMIN_DETAIL_MAX];
    int64_t user_id = 0, cents = 0, coupon_id = 0;
    if (web_form_text(c, "user", login, sizeof login) != 0 ||
        user_find_login(user_db(), login, &user_id) != SHOP_SUCCESS) {
        goods_list_render(c, 400, "No user has that name or mobile.");
        return;
    }
    if (web_form_text(c, "amount", amount, sizeof amount) != 0 ||
        money_parse_str(amount, MONEY_NON_NEGATIVE, &cents) != 0 || cents == 0) {
        goods_list_render(c, 400, "The coupon's value must be an amount like 10.00, not 0.");
        return;
    }
    enum shop_code rc = coupon_issue(coupon_db(), user_id, cents, &coupon_id);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    snprintf(detail, sizeof detail, "issued a coupon of %s to %s (user %" PRId64 ")", amount, login,
             user_id);
    audit(c, "coupon.issue", coupon_id, detail);
    web_redirect(c, "/admin/goods?done=coupon");
}
