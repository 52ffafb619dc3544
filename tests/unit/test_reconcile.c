/* reconcile: the bill's rows against ours (reconcile_compare), the day and
 * the console's cursor. */
#define SUITE_NAME "reconcile"
#include "testmain.h"

#include "reconcile.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static struct bill_row theirs(enum bill_kind kind, const char *trade_no, const char *req,
                              int64_t amount)
{
    struct bill_row r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    snprintf(r.trade_no, sizeof r.trade_no, "%s", trade_no);
    snprintf(r.out_trade_no, sizeof r.out_trade_no, "42");
    snprintf(r.out_request_no, sizeof r.out_request_no, "%s", req);
    r.amount = amount;
    snprintf(r.finished, sizeof r.finished, "2026-11-28 10:00:00");
    return r;
}

static struct reconcile_item ours(enum bill_kind kind, const char *trade_no, const char *req,
                                  int64_t amount)
{
    struct reconcile_item it;
    memset(&it, 0, sizeof it);
    it.kind = kind;
    snprintf(it.trade_no, sizeof it.trade_no, "%s", trade_no);
    snprintf(it.out_trade_no, sizeof it.out_trade_no, "42");
    snprintf(it.out_request_no, sizeof it.out_request_no, "%s", req);
    it.amount = amount;
    return it;
}

static const struct reconcile_diff *find(const struct reconcile_result *r, enum reconcile_kind k,
                                         const char *trade_no)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->diffs[i].kind == k && strcmp(r->diffs[i].trade_no, trade_no) == 0)
            return &r->diffs[i];
    return NULL;
}

static void test_each_kind_of_difference(void)
{
    struct bill_row t[] = {
        theirs(BILL_TRADE, "T1", "", 8800),   theirs(BILL_TRADE, "T2", "", 100),
        theirs(BILL_TRADE, "T4", "", 500),    theirs(BILL_REFUND, "T1", "R1", 3000),
        theirs(BILL_REFUND, "T1", "R2", 100),
    };
    struct reconcile_item o[] = {
        ours(BILL_REFUND, "T1", "R1", 3000), ours(BILL_TRADE, "T4", "", 501),
        ours(BILL_TRADE, "T1", "", 8800),    ours(BILL_TRADE, "T3", "", 700),
        ours(BILL_REFUND, "T1", "R3", 50),
    };
    struct reconcile_result r;
    CU_ASSERT_EQUAL_FATAL(reconcile_compare(t, 5, o, 5, &r), 0);
    CU_ASSERT_EQUAL(r.matched, 2); /* T1 and refund R1 */
    CU_ASSERT_EQUAL(r.count[RECONCILE_MISSING_HERE], 2);
    CU_ASSERT_EQUAL(r.count[RECONCILE_MISSING_THERE], 2);
    CU_ASSERT_EQUAL(r.count[RECONCILE_AMOUNT_DIFFERS], 1);
    CU_ASSERT_EQUAL(r.n, 5);
    const struct reconcile_diff *d = find(&r, RECONCILE_MISSING_HERE, "T2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(d->object, BILL_TRADE);
    CU_ASSERT_EQUAL(d->our_amount, -1);
    CU_ASSERT_EQUAL(d->their_amount, 100);
    d = find(&r, RECONCILE_MISSING_THERE, "T3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(d->our_amount, 700);
    CU_ASSERT_EQUAL(d->their_amount, -1);
    d = find(&r, RECONCILE_AMOUNT_DIFFERS, "T4");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT_EQUAL(d->our_amount, 501);
    CU_ASSERT_EQUAL(d->their_amount, 500);
    int refunds_here = 0, refunds_there = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (r.diffs[i].object != BILL_REFUND)
            continue;
        if (r.diffs[i].kind == RECONCILE_MISSING_HERE)
            refunds_here += strcmp(r.diffs[i].out_request_no, "R2") == 0;
        if (r.diffs[i].kind == RECONCILE_MISSING_THERE)
            refunds_there += strcmp(r.diffs[i].out_request_no, "R3") == 0;
    }
    CU_ASSERT_EQUAL(refunds_here, 1);
    CU_ASSERT_EQUAL(refunds_there, 1);
    reconcile_result_free(&r);
}

static void test_a_clean_and_an_empty_day(void)
{
    struct bill_row t[] = {theirs(BILL_TRADE, "T1", "", 1)};
    struct reconcile_item o[] = {ours(BILL_TRADE, "T1", "", 1)};
    struct reconcile_result r;
    CU_ASSERT_EQUAL(reconcile_compare(t, 1, o, 1, &r), 0);
    CU_ASSERT_EQUAL(r.matched, 1);
    CU_ASSERT_EQUAL(r.n, 0);
    reconcile_result_free(&r);
    CU_ASSERT_EQUAL(reconcile_compare(NULL, 0, NULL, 0, &r), 0);
    CU_ASSERT_EQUAL(r.matched, 0);
    CU_ASSERT_EQUAL(r.n, 0);
    reconcile_result_free(&r);
}

static void test_a_payment_and_a_refund_never_match(void)
{
    /* A refund whose out_request_no equals a trade_no is still a refund. */
    struct bill_row t[] = {theirs(BILL_TRADE, "X", "", 1)};
    struct reconcile_item o[] = {ours(BILL_REFUND, "Y", "X", 1)};
    struct reconcile_result r;
    CU_ASSERT_EQUAL(reconcile_compare(t, 1, o, 1, &r), 0);
    CU_ASSERT_EQUAL(r.matched, 0);
    CU_ASSERT_EQUAL(r.n, 2);
    reconcile_result_free(&r);
}

static void test_days(void)
{
    CU_ASSERT_TRUE(reconcile_day_ok("2026-11-28"));
    CU_ASSERT_TRUE(reconcile_day_ok("2024-02-29"));
    CU_ASSERT_FALSE(reconcile_day_ok("2026-02-30"));
    CU_ASSERT_FALSE(reconcile_day_ok("2026-13-01"));
    CU_ASSERT_FALSE(reconcile_day_ok("2026-1-01"));
    CU_ASSERT_FALSE(reconcile_day_ok("2026-11-28x"));
    CU_ASSERT_FALSE(reconcile_day_ok(""));
    CU_ASSERT_STRING_EQUAL(reconcile_kind_name(RECONCILE_MISSING_HERE), "missing_here");
    CU_ASSERT_STRING_EQUAL(reconcile_kind_name(RECONCILE_MISSING_THERE), "missing_there");
    CU_ASSERT_STRING_EQUAL(reconcile_kind_name(RECONCILE_AMOUNT_DIFFERS), "amount_differs");
}

static void test_cursors(void)
{
    struct reconcile_key k;
    char out[PAGING_CURSOR_MAX];
    json_object *row = json_object_new_object();
    json_object_object_add(row, "id", json_object_new_string("57"));
    json_object_object_add(row, "day", json_object_new_string("2026-01-31"));
    CU_ASSERT_STRING_EQUAL(reconcile_key_format(row, out), "20260131.57");
    json_object_put(row);
    CU_ASSERT_EQUAL_FATAL(reconcile_key_parse("20260131.57", &k), 0);
    CU_ASSERT_STRING_EQUAL(k.day, "2026-01-31");
    CU_ASSERT_EQUAL(k.id, 57);
    CU_ASSERT_EQUAL(reconcile_key_parse("20260230.1", &k), -1);
    CU_ASSERT_EQUAL(reconcile_key_parse("99999999.1", &k), -1);
    CU_ASSERT_EQUAL(reconcile_key_parse("2026-01-31.1", &k), -1);
    CU_ASSERT_EQUAL(reconcile_key_parse("20260131", &k), -1);
    CU_ASSERT_EQUAL(reconcile_key_parse("", &k), -1);
}

static const struct test_case TESTS[] = {
    {"missing here, missing there, amount differs, for payments and refunds",
     test_each_kind_of_difference},
    {"a clean day and an empty day have no differences", test_a_clean_and_an_empty_day},
    {"payments and refunds are matched apart", test_a_payment_and_a_refund_never_match},
    {"a day must be a real YYYY-MM-DD", test_days},
    {"the console's cursor is YYYYMMDD.id of a real day", test_cursors},
    {NULL, NULL},
};

#include "testmain.h"
