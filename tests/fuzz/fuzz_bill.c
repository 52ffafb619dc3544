/* bill_parse: the input is a provider's bill. Whatever it is, the parser
 * answers 0 or -1 with a message naming a line; every row it gives is within
 * its caps: a kind, keys of 1..64 bytes (a refund's request number too), a
 * positive amount within bounds and a finished time of 19 bytes. */
#include "bill.h"
#include "fuzz.h"
#include "money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bill b;
    char err[256] = "";
    bill_init(&b);
    int rc = bill_parse((const char *)data, size, &b, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 || strncmp(err, "line ", 5) == 0);
    for (size_t i = 0; rc == 0 && i < b.n; i++) {
        const struct bill_row *r = &b.rows[i];
        FUZZ_CHECK(r->kind == BILL_TRADE || r->kind == BILL_REFUND);
        FUZZ_CHECK(r->amount > 0 && r->amount <= MONEY_MAX_CENTS);
        FUZZ_CHECK(strlen(r->trade_no) >= 1 && strlen(r->trade_no) <= BILL_NO_MAX);
        FUZZ_CHECK(strlen(r->out_trade_no) >= 1 && strlen(r->out_trade_no) <= BILL_NO_MAX);
        FUZZ_CHECK(strlen(r->out_request_no) <= BILL_NO_MAX);
        FUZZ_CHECK(r->kind == BILL_TRADE || strlen(r->out_request_no) >= 1);
        FUZZ_CHECK(strlen(r->finished) == 19);
    }
    bill_free(&b);
    return 0;
}
