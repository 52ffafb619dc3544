/* trade: the provider's trades in the store. A trade is trades/<id>.json,
 * one per cashier visit (app_id, out_trade_no, subject, total_amount,
 * notify_url, return_url, status WAIT_BUYER_PAY, TRADE_CLOSED or
 * TRADE_SUCCESS, trade_no (given when opened), gmt_create, time_expire
 * (optional), gmt_payment, refunds: a list of {out_request_no,
 * refund_amount, gmt_refund_pay, refund_reason}); paid/<key> names the trade
 * that paid an
 * out_trade_no (key: hex SHA-256 of app id and out_trade_no), so that an order
 * is paid at most once, as Alipay refuses a second payment; open/<key> names
 * the trade the cashier shows for an out_trade_no, so that visiting the same
 * page-pay URL again shows that trade instead of writing a new one. Callers
 * payments/<key> lists (one id a line) every trade that took money for
 * it (a second payment too), tradeno/<trade_no> names the trade of a
 * trade_no. Callers hold the store's lock around a check-then-write. */
#ifndef SANDBOX_TRADE_H
#define SANDBOX_TRADE_H

struct json_object;

#define TRADE_ID_LEN         32       /* lower-case hex */
#define TRADE_NO_LEN         28       /* digits, like Alipay's trade_no */
#define TRADE_TRADES         "trades" /* store directories */
#define TRADE_PAID           "paid"
#define TRADE_OPEN           "open"
#define TRADE_PAYMENTS       "payments"
#define TRADE_TRADE_NOS      "tradeno"
#define TRADE_PAYMENTS_MAX   16 /* trades that paid one out_trade_no */
#define TRADE_BUYER_LOGON_ID "buy***@sandbox.example"

#include <stdint.h>
#include <time.h>

/* 1 when s is TRADE_ID_LEN lower-case hex digits. */
int trade_is_id(const char *s);
/* A new random trade id (also used for notify ids). 0 or -1. */
int trade_new_id(char out[TRADE_ID_LEN + 1]);
/* "YYYYMMDD22001" and 15 random digits. 0 or -1. */
int trade_new_trade_no(char out[TRADE_NO_LEN + 1]);

/* The trade (a new reference), or NULL when id is not an id or unknown. */
struct json_object *trade_load(const char *id);
/* Write trade t as id. 0 or -1. */
int trade_save(const char *id, struct json_object *t);

/* The id of the trade that paid out_trade_no of app_id into by, or "". */
void trade_paid_by(const char *app_id, const char *out_trade_no, char by[TRADE_ID_LEN + 1]);
/* Record that trade id paid out_trade_no of app_id. 0 or -1. */
int trade_mark_paid(const char *app_id, const char *out_trade_no, const char *id);
/* The id of the trade opened last for out_trade_no of app_id into by, or "". */
void trade_open_by(const char *app_id, const char *out_trade_no, char by[TRADE_ID_LEN + 1]);
/* Record that trade id is the one open for out_trade_no of app_id. 0 or -1. */
int trade_mark_open(const char *app_id, const char *out_trade_no, const char *id);

/* The trade's trade_no: kept, or a new one added to t and to the tradeno/
 * index. 0 or -1. */
int trade_give_trade_no(struct json_object *t, const char *id);
/* The id of the trade whose trade_no it is into by, or "". */
void trade_by_trade_no(const char *trade_no, char by[TRADE_ID_LEN + 1]);

/* Add trade id to the trades that paid out_trade_no of app_id. 0 or -1. */
int trade_add_payment(const char *app_id, const char *out_trade_no, const char *id);
/* The ids of the trades that paid out_trade_no of app_id (at most max;
 * the paid/ one when the list is absent). Returns how many. */
int trade_payments(const char *app_id, const char *out_trade_no, char (*ids)[TRADE_ID_LEN + 1],
                   int max);

/* The status of t at now: WAIT_BUYER_PAY after its time_expire is
 * TRADE_CLOSED. NULL when t has none. */
const char *trade_status(struct json_object *t, time_t now);
/* 1 when status says the money is taken. */
int trade_status_paid(const char *status);
/* The total of t's refunds in cents. */
int64_t trade_refunded(struct json_object *t);
/* t's refund of out_request_no (owned by t), or NULL. */
struct json_object *trade_refund_find(struct json_object *t, const char *out_request_no);

#endif
