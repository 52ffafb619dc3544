/* The catalogue: its pages and its JSON. */
#include <stdlib.h>

#include "db.h"
#include "goods_service.h"
#include "money.h"
#include "web_internal.h"

/* Stock at or below this shows "only N left". */
#define LOW_STOCK 5
/* Orders above this ship free (the contract's 100.00). */
#define FREE_SHIPPING_ABOVE 10000

static json_object *goods_view(const struct goods *g)
{
    json_object *o = goods_to_json(g);
    char price[MONEY_STR_MAX];
    json_object_object_add(o, "price_display",
                           json_object_new_string(money_format(g->goods_price, price)));
    json_object_object_add(o, "in_stock", json_object_new_boolean(g->goods_number > 0));
    json_object_object_add(
        o, "low_stock", json_object_new_boolean(g->goods_number > 0 && g->goods_number <= LOW_STOCK));
    json_object_object_add(o, "free_shipping",
                           json_object_new_boolean(g->goods_price > FREE_SHIPPING_ABOVE));
    return o;
}

void web_page_catalogue(struct web_ctx *c)
{
    struct goods *list = NULL;
    size_t n = 0;
    enum shop_code rc = goods_list(db_thread(), &list, &n);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    json_object *d = json_object_new_object();
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, goods_view(&list[i]));
    json_object_object_add(d, "goods", arr);
    json_object_object_add(d, "goods_count", json_object_new_int64((int64_t)n));
    free(list);
    web_render_page(c, 200, "catalogue", d);
}

void web_page_goods(struct web_ctx *c)
{
    struct goods g;
    enum shop_code rc = goods_get(db_thread(), c->ids[0], &g);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc == SHOP_GOODS_NO_EXIST ? SHOP_NOT_FOUND : rc);
        return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "goods", goods_view(&g));
    web_render_page(c, 200, "goods", d);
}

void web_api_goods_list(struct web_ctx *c)
{
    struct goods *list = NULL;
    size_t n = 0;
    enum shop_code rc = goods_list(db_thread(), &list, &n);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, goods_to_json(&list[i]));
    free(list);
    web_json_success(c, 200, "goods", arr);
}

void web_api_goods_get(struct web_ctx *c)
{
    struct goods g;
    enum shop_code rc = goods_get(db_thread(), c->ids[0], &g);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_json_success(c, 200, "goods", goods_to_json(&g));
}
