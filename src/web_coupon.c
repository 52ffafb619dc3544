/* The user's coupons as JSON. */
#include <stdlib.h>

#include "coupon_service.h"
#include "db.h"
#include "web_internal.h"

/* GET /api/coupons (ROUTE_LOGIN): {"success":true,"coupons":[...]}, the
 * logged-in user's coupons, unused first. */
void web_api_coupons(struct web_ctx *c)
{
    struct coupon *list = NULL;
    size_t n = 0;
    enum shop_code rc = coupon_list_for_user(coupon_db(), c->session.user_id, &list, &n);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, coupon_to_json(&list[i]));
    free(list);
    web_json_success(c, 200, "coupons", arr);
}
