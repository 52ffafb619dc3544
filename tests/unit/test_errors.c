#define SUITE_NAME "errors"
#include "testmain.h"

#include "errors.h"

#include <CUnit/CUnit.h>
#include <string.h>

static void test_every_code(void)
{
    for (int c = 0; c < SHOP_CODE_COUNT; c++) {
        const char *name = shop_code_name((enum shop_code)c);
        const char *msg = shop_code_message((enum shop_code)c);
        int status = shop_code_status((enum shop_code)c);
        CU_ASSERT_PTR_NOT_NULL_FATAL(name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(msg);
        CU_ASSERT(strncmp(name, "SHOP_", 5) == 0 && strlen(name) > 5);
        CU_ASSERT(status >= 200 && status <= 599);
        CU_ASSERT(strlen(msg) > 0);
        /* Only success is a 2xx; every error is answered 4xx or 5xx. */
        if (c != SHOP_SUCCESS)
            CU_ASSERT(status >= 400);
        /* A message is one line a user reads. */
        CU_ASSERT_PTR_NULL(strchr(msg, '\n'));
        if (strncmp(name, "SHOP_", 5) != 0 || status < 200 || status > 599 || msg[0] == '\0')
            fprintf(stderr, "bad entry for code %d\n", c);
    }
}

static void test_names_unique(void)
{
    /* A code missing from the table would fall back to SHOP_INTERNAL_ERROR's
     * name, so unique names also prove that every code has its own entry. */
    for (int a = 0; a < SHOP_CODE_COUNT; a++)
        for (int b = a + 1; b < SHOP_CODE_COUNT; b++)
            if (strcmp(shop_code_name((enum shop_code)a), shop_code_name((enum shop_code)b)) == 0) {
                fprintf(stderr, "codes %d and %d share a name\n", a, b);
                CU_FAIL("duplicate name");
            }
}

static void test_names_match_enum(void)
{
    CU_ASSERT_STRING_EQUAL(shop_code_name(SHOP_SUCCESS), "SHOP_SUCCESS");
    CU_ASSERT_STRING_EQUAL(shop_code_name(SHOP_REQUEST_PARAMETER_VALID),
                           "SHOP_REQUEST_PARAMETER_VALID");
    CU_ASSERT_STRING_EQUAL(shop_code_name(SHOP_GOODS_NO_EXIST), "SHOP_GOODS_NO_EXIST");
    CU_ASSERT_STRING_EQUAL(shop_code_name(SHOP_COUPON_INVALIED), "SHOP_COUPON_INVALIED");
    CU_ASSERT_STRING_EQUAL(shop_code_name(SHOP_PAYMENT_PAY_ERROR), "SHOP_PAYMENT_PAY_ERROR");
}

static void test_contract_statuses(void)
{
    CU_ASSERT_EQUAL(shop_code_status(SHOP_SUCCESS), 200);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_REQUEST_PARAMETER_VALID), 400);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_NOT_LOGGED_IN), 401);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_CSRF_INVALID), 403);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_NOT_FOUND), 404);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_REQUEST_TOO_LARGE), 413);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_GOODS_NUM_NOT_ENOUGH), 409);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_DB_UNAVAILABLE), 503);
    CU_ASSERT_EQUAL(shop_code_status(SHOP_INTERNAL_ERROR), 500);
}

static void test_out_of_range(void)
{
    static const int bad[] = {SHOP_CODE_COUNT, SHOP_CODE_COUNT + 1, -1, 100000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum shop_code c = (enum shop_code)bad[i];
        CU_ASSERT_STRING_EQUAL(shop_code_name(c), "SHOP_INTERNAL_ERROR");
        CU_ASSERT_EQUAL(shop_code_status(c), 500);
        CU_ASSERT_STRING_EQUAL(shop_code_message(c), shop_code_message(SHOP_INTERNAL_ERROR));
    }
}

static const struct test_case TESTS[] = {
    {"every code has name, status, message", test_every_code},
    {"names are unique", test_names_unique},
    {"names match the enum", test_names_match_enum},
    {"statuses of the contract", test_contract_statuses},
    {"out-of-range code maps to SHOP_INTERNAL_ERROR", test_out_of_range},
    {NULL, NULL},
};

#include "testmain.h"
