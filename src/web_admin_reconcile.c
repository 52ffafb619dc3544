/* The operators' console: the differences `shop-admin reconcile DAY`
 * recorded (src/reconcile.h), newest day first, paged by cursor (at most
 * DIFF_PAGE_MAX a page), each marked resolved with a note, which goes to the
 * operators' audit log with the operator's name. */
#include <stdio.h>
#include <string.h>

#include "order_service.h"
#include "reconcile.h"
#include "user_service.h"
#include "web_internal.h"

#define DIFF_PAGE_MAX 50 /* rows a page shows at most */
#define NOTE_MAX      255

/* The page's list into d: the differences of day and the next link. */
static enum shop_code diffs_add(struct web_ctx *c, const char *day, json_object *d)
{
    struct web_list l;
    struct reconcile_key after = {.day = ""};
    json_object *rows = NULL;
    int more = 0;
    enum shop_code rc = web_list_args(c, &l);
    if (rc == SHOP_SUCCESS && !l.limit_given)
        l.limit = DIFF_PAGE_MAX;
    if (rc == SHOP_SUCCESS && l.limit > DIFF_PAGE_MAX)
        rc = SHOP_LIST_LIMIT_INVALID;
    if (rc == SHOP_SUCCESS && l.after[0] != '\0' && reconcile_key_parse(l.after, &after) != 0)
        rc = SHOP_LIST_CURSOR_INVALID;
    if (rc == SHOP_SUCCESS)
        rc = reconcile_diffs_json(order_db(), day, &after, l.limit, &rows, &more);
    if (rc != SHOP_SUCCESS)
        return rc;
    size_t n = json_object_array_length(rows);
    if (more && n > 0) {
        char next[PAGING_CURSOR_MAX], url[256];
        reconcile_key_format(json_object_array_get_idx(rows, n - 1), next);
        snprintf(url, sizeof url, "/admin/reconcile?after=%s&limit=%zu&day=%s", next, l.limit, day);
        web_add_str(d, "next_url", url);
    }
    json_object_object_add(d, "diffs", rows);
    return SHOP_SUCCESS;
}

static void reconcile_render(struct web_ctx *c, int status, const char *error)
{
    const char *q = c->req.query != NULL ? c->req.query : "";
    char day[16] = "", done[8] = "";
    if (http_form_get(q, strlen(q), "day", day, sizeof day) < 0 ||
        (day[0] != '\0' && !reconcile_day_ok(day))) {
        day[0] = '\0';
        error = "Days must be written YYYY-MM-DD.";
        status = 400;
    }
    json_object *d = json_object_new_object();
    enum shop_code rc = diffs_add(c, day, d);
    if (rc != SHOP_SUCCESS) {
        json_object_put(d);
        web_error(c, rc);
        return;
    }
    web_add_str(d, "day", day);
    if (error != NULL)
        web_add_str(d, "error", error);
    if (http_form_get(q, strlen(q), "done", done, sizeof done) == 1 && strcmp(done, "1") == 0)
        web_add_str(d, "notice", "The difference was marked resolved.");
    web_render_page(c, status, "admin_reconcile", d);
}

void web_admin_reconcile(struct web_ctx *c)
{
    reconcile_render(c, 200, NULL);
}

void web_admin_reconcile_resolve(struct web_ctx *c)
{
    char note[NOTE_MAX + 1];
    if (web_form_text(c, "note", note, sizeof note) != 0 || note[0] == '\0') {
        reconcile_render(c, 400, "The note must be 1 to 255 bytes.");
        return;
    }
    enum shop_code rc = reconcile_diff_resolve(order_db(), c->ids[0], note);
    if (rc == SHOP_NOT_FOUND) {
        reconcile_render(c, 404, "No such open difference (resolved already?).");
        return;
    }
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    user_admin_log(user_db(), c->session.user_id, c->session.user_name, "reconcile.resolve",
                   c->ids[0], note);
    web_redirect(c, "/admin/reconcile?done=1");
}
