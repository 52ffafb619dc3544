/* provider: the shop's calls to the payment provider's open API (Alipay's
 * gateway, the alipay_gateway setting): a form POST of the common parameters
 * and biz_content, signed RSA2 with our key (alipay_params_sign_request), the
 * answer's signature verified with the provider's key (alipay_response_open).
 * HTTP by libcurl, one easy handle per call, provider_timeout_ms per call.
 * Any thread may call; provider_global_init once per process first.
 *
 * Every outcome is one of enum provider_status; only PROVIDER_OK and
 * PROVIDER_REFUSED are answers of the provider. The typed calls below turn
 * Alipay's answers into what the shop needs to know. */
#ifndef SHOP_PROVIDER_H
#define SHOP_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"

struct shop_config;
struct json_object;
struct buf;

enum provider_status {
    PROVIDER_OK = 0,           /* code 10000 */
    PROVIDER_REFUSED = 1,      /* a business error: code, sub_code, sub_msg */
    PROVIDER_UNREACHABLE = -1, /* network, timeout, HTTP status not 200: try later */
    PROVIDER_BAD_ANSWER = -2,  /* malformed, unsigned or wrongly signed answer (logged) */
    PROVIDER_CONFIG = -3,      /* a key or the gateway unusable (logged) */
};

/* "ok", "refused", "unreachable", "bad answer", "configuration". */
const char *provider_status_text(enum provider_status st);

/* curl_global_init; once per process before any thread calls. 0 or -1. */
int provider_global_init(void);
void provider_global_cleanup(void);

/* One answer. resp: the verified response object (owned; NULL unless
 * PROVIDER_OK or PROVIDER_REFUSED). Release with provider_answer_free. */
struct provider_answer {
    struct json_object *resp;
    char code[16];
    char sub_code[64];
    char sub_msg[256];
};
void provider_answer_free(struct provider_answer *a);

/* Call method with biz as biz_content (not taken). *out is filled on every
 * status (resp NULL unless OK or REFUSED; sub_msg then says what failed). */
enum provider_status provider_call(const struct shop_config *cfg, const char *method,
                                   struct json_object *biz, struct provider_answer *out);

/* --- the typed calls; out_trade_no is always the order id ---------------- */

/* alipay.trade.query. trade_status "" when the provider has no such trade
 * (ACQ.TRADE_NOT_EXIST, answered PROVIDER_OK), else WAIT_BUYER_PAY,
 * TRADE_CLOSED, TRADE_SUCCESS or TRADE_FINISHED. A paid trade (SUCCESS or
 * FINISHED) has trade_no, total_amount and send_pay_date (as the provider
 * wrote it, "" when absent). */
struct provider_trade {
    char trade_status[32];
    char trade_no[EVENT_TRADE_NO_MAX + 1];
    int64_t total_amount; /* cents */
    char send_pay_date[20];
};
enum provider_status provider_trade_query(const struct shop_config *cfg, int64_t order_id,
                                          struct provider_trade *out);
/* 1 when t says the money is taken. */
int provider_trade_paid(const struct provider_trade *t);

/* alipay.trade.close. PROVIDER_OK when the trade is closed now or was never
 * opened (ACQ.TRADE_NOT_EXIST); PROVIDER_REFUSED when it is paid
 * (ACQ.TRADE_STATUS_ERROR: query it) or for another reason (sub_code). */
enum provider_status provider_trade_close(const struct shop_config *cfg, int64_t order_id,
                                          char sub_code[64]);

/* alipay.trade.refund and alipay.trade.fastpay.refund.query, per
 * out_request_no (fixed per refund, so a repeat never refunds twice).
 * trade_no "" = the order's trade; else that trade (a second payment). */
struct provider_refund {
    int succeeded;         /* the refund query says REFUND_SUCCESS (refund: fund_change Y) */
    int64_t refund_amount; /* cents, as the provider answered */
    char trade_no[EVENT_TRADE_NO_MAX + 1];
    char sub_code[64]; /* PROVIDER_REFUSED: why */
    char sub_msg[256];
};
enum provider_status provider_trade_refund(const struct shop_config *cfg, int64_t order_id,
                                           const char *trade_no, int64_t refund_cents,
                                           const char *out_request_no, const char *reason,
                                           struct provider_refund *out);
/* PROVIDER_OK with succeeded 0 and refund_amount 0 when the provider knows no
 * such refund (Alipay answers an empty success). trade_no as for the refund:
 * a second payment's refund is asked about on its own trade. */
enum provider_status provider_refund_query(const struct shop_config *cfg, int64_t order_id,
                                           const char *trade_no, const char *out_request_no,
                                           struct provider_refund *out);

/* alipay.data.dataservice.bill.downloadurl.query (bill_type trade) for day
 * "YYYY-MM-DD": bill_download_url into url (urlsz bytes). */
enum provider_status provider_bill_url(const struct shop_config *cfg, const char *day, char *url,
                                       size_t urlsz);

/* GET url (a bill) into out (its cap bounds the size). PROVIDER_OK, or
 * PROVIDER_UNREACHABLE (also for a status other than 200 or the cap). */
enum provider_status provider_fetch(const struct shop_config *cfg, const char *url,
                                    struct buf *out);

#endif
