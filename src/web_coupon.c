/* The user's coupons as JSON. */
#include <stdlib.h>

#include "coupon_service.h"
#include "db.h"
#include "web_internal.h"

/* One page of the logged-in user's coupons as the request asks (?limit,
 * ?after; a cursor is "is_used.coupon_id" of the last coupon seen); next is
 * the next page's cursor ("" on the last page). */
enum shop_code web_coupons_page(struct web_ctx *c, struct web_list *l, struct coupon **list,
                                size_t *n, char next[PAGING_CURSOR_MAX])
{
    int64_t key[2] = {0, 0};
    int more = 0;
    *list = NULL;
    *n = 0;
    next[0] = '\0';
    enum shop_code rc = web_list_args(c, l);
    if (rc != SHOP_SUCCESS)
        return rc;
    if (l->after[0] != '\0' && (paging_cursor_parse(l->after, key, 2) != 0 || key[0] > 1))
        return SHOP_LIST_CURSOR_INVALID;
    struct coupon_key after = {.is_used = key[0], .coupon_id = key[1]};
    rc = coupon_page(coupon_db(), c->session.user_id, after, l->limit, list, n, &more);
    if (rc == SHOP_SUCCESS && more) {
        const struct coupon *last = &(*list)[*n - 1];
        int64_t k[2] = {last->is_used ? 1 : 0, last->coupon_id};
        paging_cursor_format(k, 2, next);
    }
    return rc;
}

/* GET /api/coupons (ROUTE_LOGIN): {"success":true,"coupons":[...],"next":...},
 * a page of the logged-in user's coupons, unused first. */
void web_api_coupons(struct web_ctx *c)
{
    struct web_list l;
    struct coupon *list = NULL;
    size_t n = 0;
    char next[PAGING_CURSOR_MAX];
    enum shop_code rc = web_coupons_page(c, &l, &list, &n, next);
    if (rc != SHOP_SUCCESS) {
        free(list);
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, coupon_to_json(&list[i]));
    free(list);
    web_json_page(c, "coupons", arr, next[0] ? next : NULL);
}
