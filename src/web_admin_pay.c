/* The operators' console: amount mismatches (a provider's notification
 * whose amount is not the order's, src/pay_service.c) listed while open and
 * resolved with a note, which goes on the order's timeline with the
 * operator's name. */
#include <stdio.h>
#include <string.h>

#include "order_service.h"
#include "pay_service.h"
#include "snowflake.h"
#include "web_internal.h"

#define MISMATCH_PAGE_MAX 50 /* the oldest open ones a page shows */
#define TRADE_NO_MAX      64

static void mismatches_render(struct web_ctx *c, int status, const char *error)
{
    json_object *rows = NULL;
    enum shop_code rc = pay_mismatches_open_json(order_db(), MISMATCH_PAGE_MAX, &rows);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    if (c->route->flags & ROUTE_API) {
        web_json_success(c, 200, "mismatches", rows);
        return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "mismatches", rows);
    if (error != NULL)
        web_add_str(d, "error", error);
    const char *q = c->req.query != NULL ? c->req.query : "";
    char done[8];
    if (http_form_get(q, strlen(q), "done", done, sizeof done) == 1 && strcmp(done, "1") == 0)
        web_add_str(d, "notice", "The mismatch was resolved; the order's timeline says so.");
    web_render_page(c, status, "admin_mismatches", d);
}

void web_admin_mismatches(struct web_ctx *c)
{
    mismatches_render(c, 200, NULL);
}

void web_admin_mismatch_resolve(struct web_ctx *c)
{
    char trade_no[TRADE_NO_MAX + 1], note[PAY_NOTE_MAX + 1];
    if (web_form_text(c, "trade_no", trade_no, sizeof trade_no) != 0 || trade_no[0] == '\0') {
        mismatches_render(c, 400, "The trade number is missing or too long.");
        return;
    }
    if (web_form_text(c, "note", note, sizeof note) != 0 || note[0] == '\0') {
        mismatches_render(c, 400, "The note must be 1 to 500 bytes.");
        return;
    }
    enum shop_code rc =
        pay_mismatch_resolve(order_db(), c->ids[0], trade_no, note, c->session.user_name);
    if (rc == SHOP_NOT_FOUND) {
        mismatches_render(c, 404, "No such open mismatch (resolved already?).");
        return;
    }
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_redirect(c, "/admin/mismatches?done=1");
}
