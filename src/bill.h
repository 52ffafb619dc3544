/* bill: the provider's trade bill of one day (Alipay's 业务明细, the
 * "trade" bill of alipay.data.dataservice.bill.downloadurl.query) parsed
 * into rows. The bill is CSV (RFC 4180: comma separated, fields optionally
 * in double quotes with "" for a quote, CRLF or LF line ends); lines starting
 * with '#' are its header and footer comments and are skipped, blank lines
 * too; the first other line names the columns, found by their names (any
 * order, unknown ones ignored); every later line is one payment (业务类型
 * 交易) or one refund (退款). Unquoted fields are trimmed of spaces and tabs
 * (Alipay pads them). Every field is capped (BILL_FIELD_MAX), every line and
 * the row count too; anything else is an error naming the line. */
#ifndef SHOP_BILL_H
#define SHOP_BILL_H

#include <stddef.h>
#include <stdint.h>

#define BILL_FIELD_MAX  256     /* bytes of one field */
#define BILL_FIELDS_MAX 64      /* fields of one line */
#define BILL_ROWS_MAX   1000000 /* rows of one bill */
#define BILL_NO_MAX     64      /* trade_no, out_trade_no, out_request_no */

enum bill_kind { BILL_TRADE = 0, BILL_REFUND = 1 };

struct bill_row {
    enum bill_kind kind;
    char trade_no[BILL_NO_MAX + 1];       /* 支付宝交易号 */
    char out_trade_no[BILL_NO_MAX + 1];   /* 商户订单号 */
    char out_request_no[BILL_NO_MAX + 1]; /* 退款批次号/请求号 ("" for a payment) */
    int64_t amount;                       /* 订单金额（元） in cents; a refund's as a
                                             positive amount (the bill writes it negative) */
    char finished[20];                    /* 完成时间 "YYYY-MM-DD HH:MM:SS" */
};

struct bill {
    struct bill_row *rows;
    size_t n, cap;
};

void bill_init(struct bill *b);
void bill_free(struct bill *b);

/* Parse len bytes of text into b (rows appended). 0, or -1 with a message
 * naming the line ("line 7: ...") in err. */
int bill_parse(const char *text, size_t len, struct bill *b, char *err, size_t errsz);

#endif
