/* statement: the provider's daily trade bill (Alipay's 业务明细 of
 * alipay.data.dataservice.bill.downloadurl.query, bill_type "trade"). The
 * method answers a download URL on the sandbox itself, GET /bill?day=&
 * expires=&token= (the token an HMAC of day and expiry under a key made at
 * start: valid STATEMENT_URL_TTL seconds, until a restart). The bill is
 * UTF-8 CSV (RFC 4180 quoting, not zipped): '#' header comments, the column
 * header, one row per trade paid that UTC day (业务类型 交易) and per refund
 * made that day (退款, amounts negative, 退款批次号/请求号 its out_request_no),
 * then the '#' footer with the counts. */
#ifndef SANDBOX_STATEMENT_H
#define SANDBOX_STATEMENT_H

#define STATEMENT_URL_TTL 1800

struct json_object;
struct route_ctx;

/* Make the URL key. Once at start. 0 or -1. */
int statement_init(void);

/* The method's answer for biz {bill_type, bill_date}; host is the Host the
 * request came to (the URL's authority). A new reference. */
struct json_object *statement_url_answer(struct json_object *biz, const char *host);

/* GET /bill. */
void statement_serve(struct route_ctx *c);

#endif
