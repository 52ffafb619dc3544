/* reconcile: one day of the provider's trade bill against our books
 * (../shared/CONTRACT.md, "Reconciliation"; `shop-admin reconcile DAY`).
 * Payments match trade_pay rows paid that UTC day by trade_no; refunds match
 * succeeded trade_refund rows refunded that day by out_request_no (our
 * refund_id). Every difference (missing here: at the provider, not ours;
 * missing there: ours, not at the provider; amount differs) is recorded in
 * trade_reconcile_diff (sql/order/0006_reconcile.sql), which this module
 * owns; a day reconciled again updates its rows, never duplicates them.
 *
 * SQL: trade_reconcile_diff, and the one SELECT of succeeded refunds of a day
 * on trade_refund (the refund service's table, read here so that the refund
 * service need not know about bills). trade_pay is read through the pay
 * service (pay_paid_on_day). */
#ifndef SHOP_RECONCILE_H
#define SHOP_RECONCILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bill.h"
#include "db.h"
#include "errors.h"
#include "paging.h"

struct shop_config;

/* One record of our side (kind, keys and amount as in struct bill_row). */
struct reconcile_item {
    enum bill_kind kind;
    char trade_no[BILL_NO_MAX + 1];
    char out_trade_no[BILL_NO_MAX + 1];
    char out_request_no[BILL_NO_MAX + 1];
    int64_t amount;
};

enum reconcile_kind {
    RECONCILE_MISSING_HERE = 0,  /* in the bill, not ours */
    RECONCILE_MISSING_THERE = 1, /* ours, not in the bill */
    RECONCILE_AMOUNT_DIFFERS = 2,
};

struct reconcile_diff {
    enum reconcile_kind kind;
    enum bill_kind object;
    char trade_no[BILL_NO_MAX + 1];
    char out_trade_no[BILL_NO_MAX + 1];
    char out_request_no[BILL_NO_MAX + 1];
    int64_t our_amount;   /* -1: none */
    int64_t their_amount; /* -1: none */
};

struct reconcile_result {
    size_t matched;
    size_t count[3]; /* by enum reconcile_kind */
    struct reconcile_diff *diffs;
    size_t n;
};

void reconcile_result_free(struct reconcile_result *r);

/* Compare the bill's rows with ours (both unchanged). 0, or -1 out of memory. */
int reconcile_compare(const struct bill_row *theirs, size_t n_theirs,
                      const struct reconcile_item *ours, size_t n_ours,
                      struct reconcile_result *out);

/* "missing_here", "missing_there", "amount_differs". */
const char *reconcile_kind_name(enum reconcile_kind k);

/* The outcome of reconcile_day, also shop-admin's exit status. */
enum reconcile_status {
    RECONCILE_CLEAN = 0,       /* no difference */
    RECONCILE_DIFFERENCES = 1, /* differences, recorded */
    RECONCILE_UNREACHABLE = 3, /* the provider or the database failed (why said) */
};

/* Reconcile day ("YYYY-MM-DD", checked by the caller with
 * reconcile_day_ok): fetch and parse the bill, read our side, compare and
 * record. Progress lines go to progress (may be NULL); why a failure
 * happened into why. out is filled on CLEAN and DIFFERENCES. */
enum reconcile_status reconcile_day(const struct shop_config *cfg, const char *day, FILE *progress,
                                    struct reconcile_result *out, char *why, size_t whysz);

/* Where a page of the console's list starts: after the difference of day
 * "YYYY-MM-DD" and id; day "" for the first page. Its cursor (src/paging.h)
 * is "YYYYMMDD.id". */
struct reconcile_key {
    char day[16];
    int64_t id;
};
/* A cursor into *out: 0, or -1 when it is not one (not two numbers, not a
 * real day). */
int reconcile_key_parse(const char *cursor, struct reconcile_key *out);
struct json_object;
/* The cursor of a row of reconcile_diffs_json into out. */
const char *reconcile_key_format(struct json_object *row, char out[PAGING_CURSOR_MAX]);

/* The console's list (GET /admin/reconcile): the recorded differences of day
 * (all days when ""), newest day first, then by id, after the key after, at
 * most limit, as a JSON array of text columns {id, day, kind, object,
 * trade_no, out_trade_no, out_request_no, our_amount, their_amount (null:
 * none), resolved "0"/"1", note}; *more is 1 when there are more. */
enum shop_code reconcile_diffs_json(db_conn *db, const char *day, const struct reconcile_key *after,
                                    size_t limit, struct json_object **out, int *more);
/* An operator marks an open difference resolved with note: SHOP_SUCCESS,
 * SHOP_NOT_FOUND (none, or resolved already) or the database's code. */
enum shop_code reconcile_diff_resolve(db_conn *db, int64_t id, const char *note);

/* 1 when day is a real date "YYYY-MM-DD". */
int reconcile_day_ok(const char *day);

#endif
