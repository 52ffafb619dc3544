/* The operators' console: refunds (src/refund_service.h), newest first and
 * paged, with the operator's decision on each (approve or reject a requested
 * one, retry a failed one) through refund_act, the same call as
 * `shop-admin refund`, which puts the decision on the order's timeline with
 * the operator's name in the same transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order_service.h"
#include "refund_service.h"
#include "snowflake.h"
#include "web_internal.h"

#define REFUND_PAGE_MAX 50 /* rows a page shows at most */
#define STATUS_MAX      16
#define NOTE_MAX        255

static const char *const STATUSES[] = {"requested", "approved", "sent",
                                       "succeeded", "failed",   "rejected"};
#define NSTATUSES (sizeof STATUSES / sizeof STATUSES[0])

/* "" or one of STATUSES. */
static int status_ok(const char *s)
{
    if (s[0] == '\0')
        return 1;
    for (size_t i = 0; i < NSTATUSES; i++)
        if (strcmp(s, STATUSES[i]) == 0)
            return 1;
    return 0;
}

/* A refund for the template: its JSON plus which buttons it gets. */
static json_object *refund_view(const struct refund *r)
{
    json_object *v = refund_to_json(r);
    const char *st = r->ev.refund_status;
    json_object_object_add(v, "can_decide", json_object_new_boolean(strcmp(st, "requested") == 0));
    json_object_object_add(v, "can_retry", json_object_new_boolean(strcmp(st, "failed") == 0));
    web_add_time(v, "created", r->create_time);
    web_add_time(v, "updated", r->update_time);
    return v;
}

/* The page's list into d: refunds, the filter and the next link. */
static enum shop_code refunds_add(struct web_ctx *c, const char *status, json_object *d)
{
    struct web_list l = {.limit = REFUND_PAGE_MAX};
    struct refund *list = NULL;
    size_t n = 0;
    int64_t before = 0;
    int more = 0;
    enum shop_code rc = web_list_args(c, &l);
    if (rc == SHOP_SUCCESS && l.limit > REFUND_PAGE_MAX)
        rc = SHOP_LIST_LIMIT_INVALID;
    if (rc == SHOP_SUCCESS && l.after[0] != '\0' && paging_cursor_parse(l.after, &before, 1) != 0)
        rc = SHOP_LIST_CURSOR_INVALID;
    if (rc == SHOP_SUCCESS)
        rc = refund_page(order_db(), status, before, l.limit, &list, &n, &more);
    if (rc != SHOP_SUCCESS)
        goto out;
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, refund_view(&list[i]));
    json_object_object_add(d, "refunds", arr);
    if (more) {
        char next[PAGING_CURSOR_MAX], url[256];
        paging_cursor_format(&list[n - 1].ev.refund_id, 1, next);
        snprintf(url, sizeof url, "/admin/refunds?after=%s&limit=%zu&status=%s", next, l.limit,
                 status);
        web_add_str(d, "next_url", url);
    }
out:
    free(list);
    return rc;
}

static void refunds_render(struct web_ctx *c, int status, const char *error, const char *notice)
{
    const char *q = c->req.query != NULL ? c->req.query : "";
    char filter[STATUS_MAX + 1] = "";
    if (http_form_get(q, strlen(q), "status", filter, sizeof filter) < 0 || !status_ok(filter)) {
        filter[0] = '\0';
        error = "The status must be one of the list.";
        status = 400;
    }
    json_object *d = json_object_new_object();
    enum shop_code rc = refunds_add(c, filter, d);
    if (rc != SHOP_SUCCESS) {
        json_object_put(d);
        web_error(c, rc);
        return;
    }
    web_add_str(d, "status", filter);
    if (filter[0] != '\0') {
        char key[32];
        snprintf(key, sizeof key, "status_%s", filter);
        json_object_object_add(d, key, json_object_new_boolean(1));
    }
    if (error != NULL)
        web_add_str(d, "error", error);
    if (notice != NULL)
        web_add_str(d, "notice", notice);
    web_render_page(c, status, "admin_refunds", d);
}

void web_admin_refunds(struct web_ctx *c)
{
    const char *q = c->req.query != NULL ? c->req.query : "";
    char done[16] = "";
    const char *notice = NULL;
    if (http_form_get(q, strlen(q), "done", done, sizeof done) == 1 &&
        refund_action_parse(done) >= 0)
        notice = "The refund was changed; the order's timeline says so.";
    refunds_render(c, 200, NULL, notice);
}

void web_admin_refund_act(struct web_ctx *c)
{
    char action[16], note[NOTE_MAX + 1];
    int a = -1;
    if (web_form_text(c, "action", action, sizeof action) == 0)
        a = refund_action_parse(action);
    if (a < 0) {
        refunds_render(c, 400, "The action must be approve, reject or retry.", NULL);
        return;
    }
    if (web_form_text(c, "note", note, sizeof note) != 0) {
        refunds_render(c, 400, "The note must be at most 255 bytes.", NULL);
        return;
    }
    struct refund r;
    enum shop_code rc = refund_act(order_db(), web_thread_mq(c->app), (enum refund_action)a,
                                   c->ids[0], note, c->session.user_name, &r);
    if (rc == SHOP_REFUND_NOT_FOUND || rc == SHOP_REFUND_STATE) {
        refunds_render(c, rc == SHOP_REFUND_NOT_FOUND ? 404 : 409,
                       rc == SHOP_REFUND_NOT_FOUND ? "No such refund."
                                                   : "The refund is not in a state for that.",
                       NULL);
        return;
    }
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "/admin/refunds?done=%s", action);
    web_redirect(c, url);
}
