/* order_saga: the contract's arithmetic and the parsing of an order request
 * at the edge (no services needed). */
#include "testmain.h"

#include <json-c/json.h>
#include <string.h>

#include "money.h"
#include "order_saga.h"

#define SUITE_NAME "order_saga"

static void test_shipping_fee(void)
{
    CU_ASSERT_EQUAL(order_saga_shipping_fee(0), 1000);
    CU_ASSERT_EQUAL(order_saga_shipping_fee(990), 1000);
    CU_ASSERT_EQUAL(order_saga_shipping_fee(9999), 1000);
    CU_ASSERT_EQUAL(order_saga_shipping_fee(10000), 1000); /* 100.00 is not above 100.00 */
    CU_ASSERT_EQUAL(order_saga_shipping_fee(10001), 0);
    CU_ASSERT_EQUAL(order_saga_shipping_fee(MONEY_MAX_CENTS), 0);
}

static void test_breakdown(void)
{
    int64_t amount, ship, total;
    CU_ASSERT_EQUAL(order_saga_breakdown(990, 1, &amount, &ship, &total), 0);
    CU_ASSERT_EQUAL(amount, 990);
    CU_ASSERT_EQUAL(ship, 1000);
    CU_ASSERT_EQUAL(total, 1990);
    /* 2 x 50.00 = 100.00: still pays shipping */
    CU_ASSERT_EQUAL(order_saga_breakdown(5000, 2, &amount, &ship, &total), 0);
    CU_ASSERT_EQUAL(total, 11000);
    /* 2 x 50.01 = 100.02: free */
    CU_ASSERT_EQUAL(order_saga_breakdown(5001, 2, &amount, &ship, &total), 0);
    CU_ASSERT_EQUAL(ship, 0);
    CU_ASSERT_EQUAL(total, 10002);
    /* overflow and nonsense are refused, not wrapped */
    CU_ASSERT_EQUAL(order_saga_breakdown(MONEY_MAX_CENTS, 2, &amount, &ship, &total), -1);
    CU_ASSERT_EQUAL(order_saga_breakdown(999999999, ORDER_SAGA_NUMBER_MAX, &amount, &ship, &total),
                    -1);
    CU_ASSERT_EQUAL(order_saga_breakdown(100, 0, &amount, &ship, &total), -1);
    CU_ASSERT_EQUAL(order_saga_breakdown(100, -1, &amount, &ship, &total), -1);
    /* the largest goods amount with shipping on top still fits only below the cap */
    CU_ASSERT_EQUAL(order_saga_breakdown(MONEY_MAX_CENTS, 1, &amount, &ship, &total), 0);
    CU_ASSERT_EQUAL(total, MONEY_MAX_CENTS);
    CU_ASSERT_EQUAL(order_saga_breakdown(9000, 1, &amount, &ship, &total), 0);
}

static void test_text_check(void)
{
    const char *ok[] = {"a", "12 Main Street, Springfield", "北京市朝阳区", "Zoë", "😀"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CU_ASSERT_EQUAL(order_saga_text_check(ok[i], strlen(ok[i]), 64), 0);
    CU_ASSERT_EQUAL(order_saga_text_check("", 0, 64), -1);
    CU_ASSERT_EQUAL(order_saga_text_check("   ", 3, 64), -1);
    CU_ASSERT_EQUAL(order_saga_text_check("a\nb", 3, 64), -1);
    CU_ASSERT_EQUAL(order_saga_text_check("a\tb", 3, 64), -1);
    CU_ASSERT_EQUAL(order_saga_text_check("\xC3\x28", 2, 64), -1);         /* bad continuation */
    CU_ASSERT_EQUAL(order_saga_text_check("\xC0\xAF", 2, 64), -1);         /* overlong */
    CU_ASSERT_EQUAL(order_saga_text_check("\xED\xA0\x80", 3, 64), -1);     /* surrogate */
    CU_ASSERT_EQUAL(order_saga_text_check("\xF4\x90\x80\x80", 4, 64), -1); /* > U+10FFFF */
    CU_ASSERT_EQUAL(order_saga_text_check("\xE4\xB8", 2, 64), -1);         /* truncated */
    /* the cap counts characters, not bytes */
    char s[64 * 3 + 4];
    for (int i = 0; i < 64; i++)
        memcpy(s + i * 3, "\xE4\xB8\xAD", 3);
    CU_ASSERT_EQUAL(order_saga_text_check(s, 64 * 3, 64), 0);
    memcpy(s + 64 * 3, "x", 1);
    CU_ASSERT_EQUAL(order_saga_text_check(s, 64 * 3 + 1, 64), -1);
}

#define VALID                                                                                      \
    "\"goods_id\":\"1001\",\"goods_price\":\"9.90\",\"shipping_fee\":\"10.00\","                   \
    "\"order_amount\":\"19.90\",\"address\":\"1 Main St\",\"consignee\":\"Alice\""

/* Parse {VALID, extra} (extra "" or ",\"k\":v"); returns the code and the message. */
static enum shop_code parse(const char *json, struct order_saga_request *r, char *msg, size_t msgsz)
{
    json_object *o = json_tokener_parse(json);
    msg[0] = '\0';
    enum shop_code rc = order_saga_request_from_json(o, r, msg, msgsz);
    json_object_put(o);
    return rc;
}

static void test_request_ok(void)
{
    struct order_saga_request r;
    char msg[256];
    CU_ASSERT_EQUAL(parse("{" VALID ",\"goods_number\":1}", &r, msg, sizeof msg), SHOP_SUCCESS);
    CU_ASSERT_EQUAL(r.goods_id, 1001);
    CU_ASSERT_EQUAL(r.goods_number, 1);
    CU_ASSERT_EQUAL(r.goods_price, 990);
    CU_ASSERT_EQUAL(r.shipping_fee, 1000);
    CU_ASSERT_EQUAL(r.order_amount, 1990);
    CU_ASSERT_EQUAL(r.coupon_id, 0);
    CU_ASSERT_EQUAL(r.money_paid, 0);
    CU_ASSERT_STRING_EQUAL(r.address, "1 Main St");
    CU_ASSERT_STRING_EQUAL(r.consignee, "Alice");

    CU_ASSERT_EQUAL(parse("{" VALID ",\"goods_number\":3,\"coupon_id\":\"3001\","
                          "\"money_paid\":\"12.3\"}",
                          &r, msg, sizeof msg),
                    SHOP_SUCCESS);
    CU_ASSERT_EQUAL(r.goods_number, 3);
    CU_ASSERT_EQUAL(r.coupon_id, 3001);
    CU_ASSERT_EQUAL(r.money_paid, 1230);
    /* optional members may be null or "" (none) */
    CU_ASSERT_EQUAL(parse("{" VALID ",\"goods_number\":1,\"coupon_id\":null,"
                          "\"money_paid\":null}",
                          &r, msg, sizeof msg),
                    SHOP_SUCCESS);
    CU_ASSERT_EQUAL(parse("{" VALID ",\"goods_number\":1,\"coupon_id\":\"\"}", &r, msg, sizeof msg),
                    SHOP_SUCCESS);
    CU_ASSERT_EQUAL(r.coupon_id, 0);
    /* a negative balance gets through the edge: the saga refuses it with
     * SHOP_MONEY_PAID_LESS_ZERO */
    CU_ASSERT_EQUAL(
        parse("{" VALID ",\"goods_number\":1,\"money_paid\":\"-1.00\"}", &r, msg, sizeof msg),
        SHOP_SUCCESS);
    CU_ASSERT_EQUAL(r.money_paid, -100);
}

/* Each case must be refused with SHOP_REQUEST_PARAMETER_VALID and a message
 * naming `field`. */
static void test_request_refusals(void)
{
    static const struct {
        const char *json, *field;
    } cases[] = {
        {"{" VALID "}", "goods_number"},
        {"{" VALID ",\"goods_number\":1.5}", "goods_number"},
        {"{" VALID ",\"goods_number\":1.0}", "goods_number"},
        {"{" VALID ",\"goods_number\":0}", "goods_number"},
        {"{" VALID ",\"goods_number\":-2}", "goods_number"},
        {"{" VALID ",\"goods_number\":\"2\"}", "goods_number"},
        {"{" VALID ",\"goods_number\":true}", "goods_number"},
        {"{" VALID ",\"goods_number\":2147483648}", "goods_number"},
        {"{" VALID ",\"goods_number\":99999999999999999999999}", "goods_number"},
        {"{" VALID ",\"goods_number\":1e3}", "goods_number"},
        {"{\"goods_number\":1,\"goods_price\":\"9.90\",\"shipping_fee\":\"10.00\","
         "\"order_amount\":\"19.90\",\"address\":\"a\",\"consignee\":\"b\"}",
         "goods_id"},
        {"{" VALID ",\"goods_number\":1,\"goods_id\":1001}", "goods_id"},
        {"{" VALID ",\"goods_number\":1,\"goods_id\":\"-5\"}", "goods_id"},
        {"{" VALID ",\"goods_number\":1,\"goods_id\":\"0\"}", "goods_id"},
        {"{" VALID ",\"goods_number\":1,\"goods_id\":\"12ab\"}", "goods_id"},
        {"{" VALID ",\"goods_number\":1,\"goods_id\":\"99999999999999999999\"}", "goods_id"},
        {"{" VALID ",\"goods_number\":1,\"goods_price\":9.9}", "goods_price"},
        {"{" VALID ",\"goods_number\":1,\"goods_price\":\"12.345\"}", "goods_price"},
        {"{" VALID ",\"goods_number\":1,\"goods_price\":\"1e3\"}", "goods_price"},
        {"{" VALID ",\"goods_number\":1,\"goods_price\":\"-0.5\"}", "goods_price"},
        {"{" VALID ",\"goods_number\":1,\"goods_price\":\"999999999.00\"}", "goods_price"},
        {"{" VALID ",\"goods_number\":1,\"goods_price\":null}", "goods_price"},
        {"{" VALID ",\"goods_number\":1,\"shipping_fee\":10}", "shipping_fee"},
        {"{" VALID ",\"goods_number\":1,\"order_amount\":\"19.901\"}", "order_amount"},
        {"{" VALID ",\"goods_number\":1,\"money_paid\":5}", "money_paid"},
        {"{" VALID ",\"goods_number\":1,\"money_paid\":\"1.234\"}", "money_paid"},
        {"{" VALID ",\"goods_number\":1,\"coupon_id\":3001}", "coupon_id"},
        {"{" VALID ",\"goods_number\":1,\"coupon_id\":\"x\"}", "coupon_id"},
        {"{" VALID ",\"goods_number\":1,\"address\":\"\"}", "address"},
        {"{" VALID ",\"goods_number\":1,\"address\":42}", "address"},
        {"{" VALID ",\"goods_number\":1,\"address\":\"a\\u0000b\"}", "address"},
        {"{" VALID ",\"goods_number\":1,\"consignee\":\"  \"}", "consignee"},
        {"{" VALID ",\"goods_number\":1,\"consignee\":null}", "consignee"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct order_saga_request r;
        char msg[256];
        enum shop_code rc = parse(cases[i].json, &r, msg, sizeof msg);
        if (rc != SHOP_REQUEST_PARAMETER_VALID || strstr(msg, cases[i].field) == NULL)
            printf("\n  case %zu (%s): code %s, message '%s'\n", i, cases[i].field,
                   shop_code_name(rc), msg);
        CU_ASSERT_EQUAL(rc, SHOP_REQUEST_PARAMETER_VALID);
        CU_ASSERT_PTR_NOT_NULL(strstr(msg, cases[i].field));
    }
}

static void test_request_long_text(void)
{
    /* 256 characters of address, 65 of consignee: refused; 255 / 64 fit */
    char json[2048], addr[300], name[100];
    struct order_saga_request r;
    char msg[256];
    memset(addr, 'a', 256);
    addr[256] = '\0';
    snprintf(json, sizeof json,
             "{\"goods_id\":\"1\",\"goods_number\":1,\"goods_price\":\"1\",\"shipping_fee\":"
             "\"10\",\"order_amount\":\"11\",\"address\":\"%s\",\"consignee\":\"x\"}",
             addr);
    CU_ASSERT_EQUAL(parse(json, &r, msg, sizeof msg), SHOP_REQUEST_PARAMETER_VALID);
    addr[255] = '\0';
    snprintf(json, sizeof json,
             "{\"goods_id\":\"1\",\"goods_number\":1,\"goods_price\":\"1\",\"shipping_fee\":"
             "\"10\",\"order_amount\":\"11\",\"address\":\"%s\",\"consignee\":\"x\"}",
             addr);
    CU_ASSERT_EQUAL(parse(json, &r, msg, sizeof msg), SHOP_SUCCESS);
    memset(name, 'n', 65);
    name[65] = '\0';
    snprintf(json, sizeof json,
             "{\"goods_id\":\"1\",\"goods_number\":1,\"goods_price\":\"1\",\"shipping_fee\":"
             "\"10\",\"order_amount\":\"11\",\"address\":\"a\",\"consignee\":\"%s\"}",
             name);
    CU_ASSERT_EQUAL(parse(json, &r, msg, sizeof msg), SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "consignee"));
    /* not an object at all */
    CU_ASSERT_EQUAL(parse("[1,2]", &r, msg, sizeof msg), SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_EQUAL(order_saga_request_from_json(NULL, &r, msg, sizeof msg),
                    SHOP_REQUEST_PARAMETER_VALID);
}

static const struct test_case TESTS[] = {
    {"shipping fee boundaries", test_shipping_fee},
    {"breakdown arithmetic and overflow", test_breakdown},
    {"address and consignee text", test_text_check},
    {"a valid order request", test_request_ok},
    {"every refusal names its field", test_request_refusals},
    {"text length caps", test_request_long_text},
    {NULL, NULL},
};

#include "testmain.h"
