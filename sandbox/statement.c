#include "statement.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alipay.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "money.h"
#include "openapi.h"
#include "page.h"
#include "routes.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

#define DAY_LEN   10 /* YYYY-MM-DD */
#define TOKEN_LEN 64 /* hex HMAC-SHA256 */

static unsigned char url_key[32];

int statement_init(void)
{
    return getrandom(url_key, sizeof url_key, 0) == (ssize_t)sizeof url_key ? 0 : -1;
}

/* The day's midnight (UTC) when day is a real "YYYY-MM-DD", else -1. */
static time_t day_start(const char *day)
{
    char ts[ALIPAY_TIMESTAMP_LEN + 8];
    time_t t;
    if (day == NULL || strlen(day) != DAY_LEN)
        return -1;
    snprintf(ts, sizeof ts, "%s 00:00:00", day);
    return alipay_timestamp_parse(ts, 0, &t) == 0 ? t : -1;
}

/* The token of day and expires into out (hex). */
static void token(const char *day, long long expires, char out[TOKEN_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    char data[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int len = snprintf(data, sizeof data, "%s|%lld", day, expires);
    out[0] = '\0';
    if (len < 0 ||
        HMAC(EVP_sha256(), url_key, sizeof url_key, (const unsigned char *)data, (size_t)len, md,
             &n) == NULL ||
        n != 32)
        return;
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * n] = '\0';
}

/* 1 when host is a plain host[:port]. */
static int host_ok(const char *host)
{
    size_t n = strlen(host);
    return n > 0 && n < 256 &&
           strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

json_object *statement_url_answer(json_object *biz, const char *host)
{
    const char *type = store_str(biz, "bill_type"), *day = store_str(biz, "bill_date");
    char tok[TOKEN_LEN + 1], url[512];
    time_t start = day_start(day), now = time(NULL);
    if (type == NULL || strcmp(type, "trade") != 0)
        return openapi_failed("isv.invalid-bill-type", "bill_type must be trade");
    if (start < 0)
        return openapi_failed("isv.invalid-bill-date", "bill_date must be YYYY-MM-DD");
    if (start > now)
        return openapi_failed("isp.bill_not_exist", "账单不存在: the day has not begun");
    long long expires = (long long)now + STATEMENT_URL_TTL;
    token(day, expires, tok);
    snprintf(url, sizeof url, "http://%s/bill?day=%s&expires=%lld&token=%s",
             host_ok(host) ? host : "127.0.0.1", day, expires, tok);
    json_object *a = json_object_new_object();
    json_object_object_add(a, "code", json_object_new_string("10000"));
    json_object_object_add(a, "msg", json_object_new_string("Success"));
    json_object_object_add(a, "bill_download_url", json_object_new_string(url));
    return a;
}

/* The bill being written: its day and the counts for the footer. */
struct sheet {
    struct buf *out;
    const char *day;
    int trades, refunds, failed;
    int64_t trade_cents, refund_cents;
};

/* One CSV field (quoted when it must be) and its separator. */
static void put_field(struct buf *out, const char *v, char sep)
{
    v = v ? v : "";
    if (strpbrk(v, ",\"\r\n") == NULL && v[0] != ' ' && v[0] != '\t') {
        buf_puts(out, v);
    } else {
        buf_putc(out, '"');
        for (; *v; v++) {
            if (*v == '"')
                buf_putc(out, '"');
            buf_putc(out, *v);
        }
        buf_putc(out, '"');
    }
    buf_putc(out, sep);
}

/* One bill row: kind 交易 or 退款 of trade t, amount as written. */
static void put_row(struct buf *out, json_object *t, const char *kind, const char *finished,
                    const char *amount, const char *request_no)
{
    const char *fields[] = {store_str(t, "trade_no"),
                            store_str(t, "out_trade_no"),
                            kind,
                            store_str(t, "subject"),
                            store_str(t, "gmt_create"),
                            finished,
                            "",
                            "",
                            "",
                            "",
                            TRADE_BUYER_LOGON_ID,
                            amount,
                            amount,
                            "0.00",
                            "0.00",
                            "0.00",
                            "0.00",
                            "0.00",
                            "",
                            "0.00",
                            "0.00",
                            request_no,
                            "0.00",
                            "0.00",
                            ""};
    size_t n = sizeof fields / sizeof fields[0];
    for (size_t i = 0; i < n; i++)
        put_field(out, fields[i], i + 1 < n ? ',' : '\r');
    buf_putc(out, '\n');
}

static int on_day(const char *when, const char *day)
{
    return when != NULL && strncmp(when, day, DAY_LEN) == 0 && when[DAY_LEN] == ' ';
}

/* The refunds of t made on the sheet's day. */
static void put_refunds(struct sheet *s, json_object *t)
{
    json_object *list;
    int64_t cents;
    char neg[MONEY_STR_MAX];
    if (!json_object_object_get_ex(t, "refunds", &list) ||
        !json_object_is_type(list, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *r = json_object_array_get_idx(list, i);
        const char *amount = store_str(r, "refund_amount");
        if (!on_day(store_str(r, "gmt_refund_pay"), s->day) || amount == NULL ||
            money_parse_str(amount, MONEY_NON_NEGATIVE, &cents) != 0)
            continue;
        put_row(s->out, t, "退款", store_str(r, "gmt_refund_pay"), money_format(-cents, neg),
                store_str(r, "out_request_no"));
        s->refunds++;
        s->refund_cents += cents;
    }
}

static int put_trade(const char *name, void *ud)
{
    struct sheet *s = ud;
    int64_t cents;
    json_object *t = store_read_json(TRADE_TRADES, name);
    if (t == NULL) {
        s->failed++;
        return 0;
    }
    const char *amount = store_str(t, "total_amount");
    if (trade_status_paid(store_str(t, "status")) && store_str(t, "trade_no") &&
        on_day(store_str(t, "gmt_payment"), s->day) && amount != NULL &&
        money_parse_str(amount, MONEY_NON_NEGATIVE, &cents) == 0) {
        put_row(s->out, t, "交易", store_str(t, "gmt_payment"), amount, "");
        s->trades++;
        s->trade_cents += cents;
    }
    put_refunds(s, t);
    json_object_put(t);
    return 0;
}

static const char COLUMNS[] =
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注\r\n";

/* "2026年11月28日 00:00:00" of t. */
static void chinese_time(time_t t, char out[64])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 64, "%04d年%02d月%02d日 %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The whole bill of day (starting at start) onto out. 0 or -1. */
static int write_bill(struct buf *out, const char *day, time_t start)
{
    char from[64], to[64], now[64], sum[MONEY_STR_MAX], back[MONEY_STR_MAX];
    struct sheet s = {.out = out, .day = day};
    chinese_time(start, from);
    chinese_time(start + 86400, to);
    chinese_time(time(NULL), now);
    buf_printf(out,
               "#支付宝业务明细查询\r\n#账号：[%s]\r\n#起始日期：[%s]   终止日期：[%s]\r\n"
               "#-----------------------------------------业务明细列表"
               "----------------------------------------\r\n%s",
               settings.seller_id, from, to, COLUMNS);
    store_lock();
    int rc = store_each(TRADE_TRADES, ".json", put_trade, &s);
    store_unlock();
    buf_printf(out,
               "#-----------------------------------------业务明细列表结束"
               "------------------------------------\r\n"
               "#交易合计：%d笔，商家实收共%s元，退款合计：%d笔，退款共%s元\r\n#导出时间：[%s]\r\n",
               s.trades, money_format(s.trade_cents, sum), s.refunds,
               money_format(s.refund_cents, back), now);
    if (s.failed > 0)
        log_warn("bill %s: %d trade file(s) unreadable", day, s.failed);
    return rc < 0 || s.failed > 0 ? -1 : 0;
}

/* A query field into out; 1 when present. */
static int query_field(const struct route_ctx *c, const char *name, char *out, size_t outsz)
{
    const char *q = c->req->query;
    return http_form_get(q, strlen(q), name, out, outsz) == 1;
}

void statement_serve(struct route_ctx *c)
{
    char day[DAY_LEN + 2], exp[24], tok[TOKEN_LEN + 2], want[TOKEN_LEN + 1], *end;
    struct buf out;
    if (!query_field(c, "day", day, sizeof day) || !query_field(c, "expires", exp, sizeof exp) ||
        !query_field(c, "token", tok, sizeof tok) || day_start(day) < 0) {
        page_message(c->res, 404, "error", "No such bill", "This bill link is not valid.", NULL);
        return;
    }
    long long expires = strtoll(exp, &end, 10);
    token(day, expires, want);
    if (*end != '\0' || want[0] == '\0' || strcmp(tok, want) != 0 ||
        expires < (long long)time(NULL)) {
        page_message(c->res, 403, "error", "Bill link expired",
                     "This bill link is not valid (any more); ask for the bill again.", NULL);
        return;
    }
    buf_init(&out, HTTP_RESPONSE_MAX);
    if (write_bill(&out, day, day_start(day)) != 0 || out.len >= HTTP_RESPONSE_MAX - 1) {
        page_message(c->res, 500, "error", "Sandbox error",
                     "The sandbox could not write this bill; see its log.", NULL);
    } else {
        c->res->status = 200;
        c->res->content_type = "text/csv; charset=utf-8";
        buf_reset(&c->res->body);
        buf_append(&c->res->body, out.data, out.len);
    }
    buf_free(&out);
}
