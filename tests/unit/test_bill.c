/* bill: the provider's trade bill (CSV with '#' comments) into rows. */
#define SUITE_NAME "bill"
#include "testmain.h"

#include "bill.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#define HEAD                                                                                                                      \
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员," \
    "终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,"             \
    "支付宝优惠（元）,"                                                                                                   \
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"        \
    "退款批次号/请求号,服务费（元）,分润（元）,备注\r\n"

static const char GOOD[] =
    "#支付宝业务明细查询\r\n"
    "#账号：[2088000000000001]\r\n"
    "#起始日期：[2026年11月28日 00:00:00]   终止日期：[2026年11月29日 00:00:00]\r\n"
    "#-----------------------------------------业务明细列表----------------------------------"
    "\r\n" HEAD
    "2026112822001000000000000001\t,42\t,交易,\"Order #1: \"\"tea\"\", cups\",2026-11-28 "
    "10:00:00,2026-11-28 10:00:05,,,,,buy***@sandbox.example,88.00,88.00,0.00,0.00,0.00,0.00,0.00,"
    ",0.00,0.00,,0.00,0.00,\r\n"
    "2026112822001000000000000001,42,退款,\"two\nlines\",2026-11-28 10:00:00,2026-11-28 "
    "11:00:00,,,,,buy***@sandbox.example,-30.50,-30.50,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,"
    "r-1,0.00,0.00,\r\n"
    "\r\n"
    "#-----------------------------------------业务明细列表结束------------------------------\r\n"
    "#交易合计：1笔，退款合计：1笔\r\n"
    "#导出时间：[2026年11月29日 00:10:00]\r\n";

static void test_a_good_bill(void)
{
    struct bill b;
    char err[256] = "";
    bill_init(&b);
    CU_ASSERT_EQUAL_FATAL(bill_parse(GOOD, sizeof GOOD - 1, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(b.n, 2);
    CU_ASSERT_EQUAL(b.rows[0].kind, BILL_TRADE);
    CU_ASSERT_STRING_EQUAL(b.rows[0].trade_no, "2026112822001000000000000001");
    CU_ASSERT_STRING_EQUAL(b.rows[0].out_trade_no, "42");
    CU_ASSERT_EQUAL(b.rows[0].amount, 8800);
    CU_ASSERT_STRING_EQUAL(b.rows[0].out_request_no, "");
    CU_ASSERT_STRING_EQUAL(b.rows[0].finished, "2026-11-28 10:00:05");
    CU_ASSERT_EQUAL(b.rows[1].kind, BILL_REFUND);
    CU_ASSERT_EQUAL(b.rows[1].amount, 3050);
    CU_ASSERT_STRING_EQUAL(b.rows[1].out_request_no, "r-1");
    CU_ASSERT_STRING_EQUAL(b.rows[1].finished, "2026-11-28 11:00:00");
    bill_free(&b);
}

static void test_columns_by_name_lf_and_empty(void)
{
    static const char text[] = "完成时间,订单金额（元）,业务类型,退款批次号/请求号,商户订单号,"
                               "支付宝交易号,其他\n"
                               "2026-01-02 03:04:05,1,交易,,7,99,x\n";
    static const char empty[] = "#only comments\n" HEAD "#-----业务明细列表结束------\n";
    struct bill b;
    char err[256];
    bill_init(&b);
    CU_ASSERT_EQUAL_FATAL(bill_parse(text, sizeof text - 1, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(b.n, 1);
    CU_ASSERT_EQUAL(b.rows[0].amount, 100);
    CU_ASSERT_STRING_EQUAL(b.rows[0].trade_no, "99");
    bill_free(&b);
    CU_ASSERT_EQUAL(bill_parse(empty, sizeof empty - 1, &b, err, sizeof err), 0);
    CU_ASSERT_EQUAL(b.n, 0);
    bill_free(&b);
}

struct bad_case {
    const char *text;
    const char *err; /* the start of the message */
};

#define ROW(kind, amount, finished, req)                                                           \
    "2026112822001000000000000001,42," kind ",tea,2026-11-28 10:00:00," finished ",,,,,b," amount  \
    "," amount ",0.00,0.00,0.00,0.00,0.00,,0.00,0.00," req ",0.00,0.00,\n"

static void test_malformed_bills_name_the_line(void)
{
    static const struct bad_case cases[] = {
        {"", "line 1: the bill has no header line"},
        {"#x\n", "line 2: the bill has no header line"},
        {"a,b,c\n", "line 1: the header has no column 支付宝交易号"},
        {"#c\n" HEAD ROW("交易", "88.00", "2026-11-28 10:00:05", ""), NULL},
        {"#c\n" HEAD ROW("转账", "88.00", "2026-11-28 10:00:05", ""), "line 3: 业务类型"},
        {"#c\n" HEAD ROW("交易", "-88.00", "2026-11-28 10:00:05", ""), "line 3: 订单金额"},
        {"#c\n" HEAD ROW("退款", "88.00", "2026-11-28 10:00:05", "r"), "line 3: 订单金额"},
        {"#c\n" HEAD ROW("交易", "88.001", "2026-11-28 10:00:05", ""), "line 3: 订单金额"},
        {"#c\n" HEAD ROW("交易", "1e3", "2026-11-28 10:00:05", ""), "line 3: 订单金额"},
        {"#c\n" HEAD ROW("交易", "88.00", "2026-11-28", ""), "line 3: 完成时间"},
        {"#c\n" HEAD ROW("退款", "-1.00", "2026-11-28 10:00:05", ""), "line 3: 退款批次号"},
        {"#c\n" HEAD "1,2,交易\n", "line 3: 3 fields"},
        {"#c\n" HEAD "\"open,2\n", "line 3: a quoted field is not closed"},
        {"#c\n" HEAD "\"a\"b,2\n", "line 3: junk after a quoted field"},
        {"#c\n" HEAD "a\"b,2\n", "line 3: a stray quote"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bill b;
        char err[256] = "";
        bill_init(&b);
        int rc = bill_parse(cases[i].text, strlen(cases[i].text), &b, err, sizeof err);
        if (cases[i].err == NULL) {
            CU_ASSERT_EQUAL(rc, 0);
        } else {
            CU_ASSERT_EQUAL(rc, -1);
            if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)
                fprintf(stderr, "case %zu: \"%s\" does not start with \"%s\"\n", i, err,
                        cases[i].err);
            CU_ASSERT_EQUAL(strncmp(err, cases[i].err, strlen(cases[i].err)), 0);
        }
        bill_free(&b);
    }
}

static void test_fields_are_capped(void)
{
    static char text[4096];
    char err[256];
    struct bill b;
    int n = snprintf(text, sizeof text, "%s", HEAD);
    for (int i = 0; i < BILL_FIELD_MAX + 1; i++)
        text[n++] = 'x';
    text[n++] = '\n';
    bill_init(&b);
    CU_ASSERT_EQUAL(bill_parse(text, (size_t)n, &b, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 2: a field is over"));
    n = 0;
    for (int i = 0; i < BILL_FIELDS_MAX + 1; i++)
        text[n++] = ',';
    CU_ASSERT_EQUAL(bill_parse(text, (size_t)n, &b, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "line 1: more than"));
    bill_free(&b);
}

static const struct test_case TESTS[] = {
    {"a bill with comments, quotes, padding and a refund", test_a_good_bill},
    {"columns are found by name; LF lines; a bill without rows", test_columns_by_name_lf_and_empty},
    {"a malformed bill is refused naming its line", test_malformed_bills_name_the_line},
    {"fields and field counts are capped", test_fields_are_capped},
    {NULL, NULL},
};

#include "testmain.h"
