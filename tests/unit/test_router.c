/* The route table: literal and {id} segments, methods, HEAD, refusals. */
#include "testmain.h"
#include "router.h"

enum { H_HOME, H_GOODS, H_GOODS_API, H_ORDER_PAY, H_ORDERS_POST };

/* Each handler says which one ran. */
static int ran;
#define HANDLER(fn, which)                                                                         \
    static void fn(struct web_ctx *c)                                                              \
    {                                                                                              \
        (void)c;                                                                                   \
        ran = which;                                                                               \
    }
HANDLER(home, H_HOME)
HANDLER(goods, H_GOODS)
HANDLER(goods_api, H_GOODS_API)
HANDLER(order_pay, H_ORDER_PAY)
HANDLER(orders_post, H_ORDERS_POST)

static const struct route R[] = {
    {HTTP_GET, "/", home, ROUTE_PAGE},
    {HTTP_GET, "/goods/{id}", goods, ROUTE_PAGE},
    {HTTP_GET, "/api/goods/{id}", goods_api, ROUTE_API},
    {HTTP_POST, "/api/orders/{id}/payment", order_pay, ROUTE_API | ROUTE_LOGIN | ROUTE_CSRF},
    {HTTP_POST, "/api/orders", orders_post, ROUTE_API},
};
#define N (sizeof R / sizeof R[0])

static enum router_result m(enum http_method meth, const char *path, int *handler, int64_t *id)
{
    const struct route *out;
    int64_t ids[ROUTER_MAX_IDS] = {0};
    size_t n = 0;
    enum router_result rr = router_match(R, N, meth, path, &out, ids, &n);
    ran = -1;
    if (out != NULL)
        out->handler(NULL); /* the matched line's handler */
    *handler = ran;
    *id = n > 0 ? ids[0] : -1;
    return rr;
}

static void test_literal(void)
{
    int h;
    int64_t id;
    CU_ASSERT_EQUAL(m(HTTP_GET, "/", &h, &id), ROUTER_FOUND);
    CU_ASSERT_EQUAL(h, H_HOME);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/nothing", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(h, -1);
    CU_ASSERT_EQUAL(m(HTTP_GET, "", &h, &id), ROUTER_NOT_FOUND);
}

static void test_ids(void)
{
    int h;
    int64_t id;
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/42", &h, &id), ROUTER_FOUND);
    CU_ASSERT_EQUAL(h, H_GOODS);
    CU_ASSERT_EQUAL(id, 42);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/api/goods/9223372036854775807", &h, &id), ROUTER_FOUND);
    CU_ASSERT_EQUAL(id, INT64_MAX);
    CU_ASSERT_EQUAL(m(HTTP_POST, "/api/orders/7/payment", &h, &id), ROUTER_FOUND);
    CU_ASSERT_EQUAL(h, H_ORDER_PAY);
    CU_ASSERT_EQUAL(id, 7);
}

static void test_bad_ids(void)
{
    int h;
    int64_t id;
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/9223372036854775808", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/-1", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/0", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/012", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/1a", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/1/", &h, &id), ROUTER_NOT_FOUND);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/goods/1/extra", &h, &id), ROUTER_NOT_FOUND);
}

static void test_methods(void)
{
    int h;
    int64_t id;
    CU_ASSERT_EQUAL(m(HTTP_HEAD, "/goods/5", &h, &id), ROUTER_FOUND);
    CU_ASSERT_EQUAL(h, H_GOODS);
    CU_ASSERT_EQUAL(m(HTTP_POST, "/goods/5", &h, &id), ROUTER_METHOD_NOT_ALLOWED);
    CU_ASSERT_EQUAL(m(HTTP_DELETE, "/", &h, &id), ROUTER_METHOD_NOT_ALLOWED);
    CU_ASSERT_EQUAL(m(HTTP_GET, "/api/orders", &h, &id), ROUTER_METHOD_NOT_ALLOWED);
    CU_ASSERT_EQUAL(m(HTTP_POST, "/api/orders", &h, &id), ROUTER_FOUND);
    CU_ASSERT_EQUAL(h, H_ORDERS_POST);
}

#define SUITE_NAME "router"
static const struct test_case TESTS[] = {
    {"literal paths", test_literal},
    {"id segments", test_ids},
    {"refused ids", test_bad_ids},
    {"methods and HEAD", test_methods},
    {NULL, NULL},
};
#include "testmain.h"
