#include "provider.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alipay.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "money.h"
#include "pay_service.h"
#include "snowflake.h"

#define CODE_SUCCESS "10000"

const char *provider_status_text(enum provider_status st)
{
    switch (st) {
    case PROVIDER_OK:
        return "ok";
    case PROVIDER_REFUSED:
        return "refused";
    case PROVIDER_UNREACHABLE:
        return "unreachable";
    case PROVIDER_BAD_ANSWER:
        return "bad answer";
    case PROVIDER_CONFIG:
        return "configuration";
    }
    return "unknown";
}

int provider_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void provider_global_cleanup(void)
{
    curl_global_cleanup();
}

void provider_answer_free(struct provider_answer *a)
{
    json_object_put(a->resp);
    a->resp = NULL;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    (void)size; /* always 1 */
    return buf_append(ud, p, n) == 0 ? n : 0;
}

/* One HTTP exchange: POST form (NULL: GET) to url; the answer into out. */
static enum provider_status http_exchange(const struct shop_config *cfg, const char *url,
                                          const char *form, struct buf *out, char *why,
                                          size_t whysz)
{
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(why, whysz, "curl_easy_init failed");
        return PROVIDER_UNREACHABLE;
    }
    char err[CURL_ERROR_SIZE] = "";
    long status = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->provider_timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->provider_timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "shop/" PACKAGE_VERSION);
    if (form != NULL)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    struct curl_slist *hdr =
        form != NULL ? curl_slist_append(
                           NULL, "Content-Type: application/x-www-form-urlencoded;charset=utf-8")
                     : NULL;
    if (hdr != NULL)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        snprintf(why, whysz, "%s", err[0] ? err : curl_easy_strerror(rc));
        return PROVIDER_UNREACHABLE;
    }
    if (status != 200) {
        snprintf(why, whysz, "HTTP status %ld", status);
        return PROVIDER_UNREACHABLE;
    }
    return PROVIDER_OK;
}

static void copy_field(json_object *o, const char *key, char *out, size_t outsz)
{
    json_object *v;
    out[0] = '\0';
    if (o != NULL && json_object_object_get_ex(o, key, &v) &&
        json_object_is_type(v, json_type_string))
        snprintf(out, outsz, "%s", json_object_get_string(v));
}

/* The signed form of one request into form. 0, or -1 (logged in why). */
static int build_form(const struct shop_config *cfg, const char *method, json_object *biz,
                      struct buf *form)
{
    EVP_PKEY *key = pay_merchant_key(cfg);
    if (key == NULL)
        return -1;
    struct alipay_params ps;
    char ts[ALIPAY_TIMESTAMP_LEN];
    alipay_params_init(&ps);
    alipay_timestamp(time(NULL), 0, ts);
    const char *biz_s = json_object_to_json_string_ext(biz, JSON_C_TO_STRING_PLAIN |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = biz_s != NULL && alipay_request_common(&ps, cfg->alipay_app_id, method, ts) == 0 &&
                     alipay_params_add(&ps, "biz_content", biz_s) == ALIPAY_OK &&
                     alipay_params_sign_request(key, &ps) == 0 &&
                     alipay_params_encode(&ps, form) == 0
                 ? 0
                 : -1;
    alipay_params_free(&ps);
    return rc;
}

enum provider_status provider_call(const struct shop_config *cfg, const char *method,
                                   json_object *biz, struct provider_answer *out)
{
    struct buf form, body;
    memset(out, 0, sizeof *out);
    buf_init(&form, ALIPAY_FORM_MAX);
    buf_init(&body, ALIPAY_RESPONSE_MAX);
    enum provider_status st = PROVIDER_CONFIG;
    EVP_PKEY *pub = pay_provider_key(cfg);
    if (pub == NULL || build_form(cfg, method, biz, &form) != 0) {
        snprintf(out->sub_msg, sizeof out->sub_msg, "cannot sign a request (keys: see above)");
        goto done;
    }
    st = http_exchange(cfg, cfg->alipay_gateway, buf_str(&form), &body, out->sub_msg,
                       sizeof out->sub_msg);
    if (st != PROVIDER_OK)
        goto done;
    json_object *resp = NULL;
    int a = alipay_response_open(pub, method, body.data, body.len, &resp);
    if (a != ALIPAY_ANSWER_OK && a != ALIPAY_ANSWER_UNSIGNED_ERROR) {
        st = PROVIDER_BAD_ANSWER;
        snprintf(out->sub_msg, sizeof out->sub_msg, "%s answer",
                 a == ALIPAY_ANSWER_BAD_SIGN ? "wrongly signed" : "malformed");
        goto done;
    }
    out->resp = resp;
    copy_field(resp, "code", out->code, sizeof out->code);
    copy_field(resp, "sub_code", out->sub_code, sizeof out->sub_code);
    copy_field(resp, "sub_msg", out->sub_msg, sizeof out->sub_msg);
    if (out->sub_msg[0] == '\0')
        copy_field(resp, "msg", out->sub_msg, sizeof out->sub_msg);
    st = strcmp(out->code, CODE_SUCCESS) == 0 && a == ALIPAY_ANSWER_OK ? PROVIDER_OK
                                                                       : PROVIDER_REFUSED;
done:
    if (st != PROVIDER_OK && st != PROVIDER_REFUSED)
        log_warn("provider: %s: %s (%s)", method, provider_status_text(st), out->sub_msg);
    else if (st == PROVIDER_REFUSED)
        log_info("provider: %s refused: %s %s (%s)", method, out->code, out->sub_code,
                 out->sub_msg);
    buf_free(&form);
    buf_free(&body);
    return st;
}

/* biz_content {"out_trade_no": "<order id>"}, or NULL. */
static json_object *biz_for(int64_t order_id)
{
    char id[SNOWFLAKE_STR_MAX];
    json_object *biz = json_object_new_object();
    snowflake_format(order_id, id);
    if (biz != NULL && json_object_object_add(biz, "out_trade_no", json_object_new_string(id))) {
        json_object_put(biz);
        return NULL;
    }
    return biz;
}

static int add_str(json_object *o, const char *key, const char *v)
{
    return json_object_object_add(o, key, json_object_new_string(v));
}

/* An amount field in cents; -1 when absent or not an amount. */
static int64_t amount_field(json_object *o, const char *key)
{
    char s[32];
    int64_t cents;
    copy_field(o, key, s, sizeof s);
    return money_parse_str(s, MONEY_NON_NEGATIVE, &cents) == 0 ? cents : -1;
}

static int not_exist(const struct provider_answer *a)
{
    return strcmp(a->sub_code, "ACQ.TRADE_NOT_EXIST") == 0;
}

enum provider_status provider_trade_query(const struct shop_config *cfg, int64_t order_id,
                                          struct provider_trade *out)
{
    struct provider_answer a;
    memset(out, 0, sizeof *out);
    json_object *biz = biz_for(order_id);
    if (biz == NULL)
        return PROVIDER_CONFIG;
    enum provider_status st = provider_call(cfg, "alipay.trade.query", biz, &a);
    json_object_put(biz);
    if (st == PROVIDER_REFUSED && not_exist(&a)) {
        st = PROVIDER_OK;
    } else if (st == PROVIDER_OK) {
        copy_field(a.resp, "trade_status", out->trade_status, sizeof out->trade_status);
        copy_field(a.resp, "trade_no", out->trade_no, sizeof out->trade_no);
        copy_field(a.resp, "send_pay_date", out->send_pay_date, sizeof out->send_pay_date);
        out->total_amount = amount_field(a.resp, "total_amount");
        if (out->trade_status[0] == '\0' ||
            (provider_trade_paid(out) && (out->trade_no[0] == '\0' || out->total_amount < 0))) {
            log_warn("provider: alipay.trade.query of %" PRId64 ": answer without a status, "
                     "trade_no or amount",
                     order_id);
            st = PROVIDER_BAD_ANSWER;
        }
    }
    provider_answer_free(&a);
    return st;
}

int provider_trade_paid(const struct provider_trade *t)
{
    return strcmp(t->trade_status, "TRADE_SUCCESS") == 0 ||
           strcmp(t->trade_status, "TRADE_FINISHED") == 0;
}

enum provider_status provider_trade_close(const struct shop_config *cfg, int64_t order_id,
                                          char sub_code[64])
{
    struct provider_answer a;
    sub_code[0] = '\0';
    json_object *biz = biz_for(order_id);
    if (biz == NULL)
        return PROVIDER_CONFIG;
    enum provider_status st = provider_call(cfg, "alipay.trade.close", biz, &a);
    json_object_put(biz);
    if (st == PROVIDER_REFUSED && not_exist(&a))
        st = PROVIDER_OK;
    snprintf(sub_code, 64, "%s", a.sub_code);
    provider_answer_free(&a);
    return st;
}

static void refund_from(const struct provider_answer *a, struct provider_refund *out)
{
    snprintf(out->sub_code, sizeof out->sub_code, "%s", a->sub_code);
    snprintf(out->sub_msg, sizeof out->sub_msg, "%s", a->sub_msg);
    copy_field(a->resp, "trade_no", out->trade_no, sizeof out->trade_no);
}

enum provider_status provider_trade_refund(const struct shop_config *cfg, int64_t order_id,
                                           const char *trade_no, int64_t refund_cents,
                                           const char *out_request_no, const char *reason,
                                           struct provider_refund *out)
{
    struct provider_answer a;
    char amount[MONEY_STR_MAX];
    memset(out, 0, sizeof *out);
    json_object *biz = biz_for(order_id);
    if (biz == NULL)
        return PROVIDER_CONFIG;
    if ((trade_no != NULL && trade_no[0] && add_str(biz, "trade_no", trade_no)) ||
        add_str(biz, "refund_amount", money_format(refund_cents, amount)) ||
        add_str(biz, "out_request_no", out_request_no) ||
        (reason != NULL && reason[0] && add_str(biz, "refund_reason", reason))) {
        json_object_put(biz);
        return PROVIDER_CONFIG;
    }
    enum provider_status st = provider_call(cfg, "alipay.trade.refund", biz, &a);
    json_object_put(biz);
    refund_from(&a, out);
    if (st == PROVIDER_OK) {
        char fund[8];
        copy_field(a.resp, "fund_change", fund, sizeof fund);
        out->succeeded = strcmp(fund, "Y") == 0;
        out->refund_amount = refund_cents;
    }
    provider_answer_free(&a);
    return st;
}

enum provider_status provider_refund_query(const struct shop_config *cfg, int64_t order_id,
                                           const char *out_request_no, struct provider_refund *out)
{
    struct provider_answer a;
    memset(out, 0, sizeof *out);
    json_object *biz = biz_for(order_id);
    if (biz == NULL || add_str(biz, "out_request_no", out_request_no)) {
        json_object_put(biz);
        return PROVIDER_CONFIG;
    }
    enum provider_status st = provider_call(cfg, "alipay.trade.fastpay.refund.query", biz, &a);
    json_object_put(biz);
    refund_from(&a, out);
    if (st == PROVIDER_OK) {
        char status[32];
        copy_field(a.resp, "refund_status", status, sizeof status);
        int64_t amount = amount_field(a.resp, "refund_amount");
        out->succeeded = strcmp(status, "REFUND_SUCCESS") == 0 && amount > 0;
        out->refund_amount = out->succeeded ? amount : 0;
    }
    provider_answer_free(&a);
    return st;
}

enum provider_status provider_bill_url(const struct shop_config *cfg, const char *day, char *url,
                                       size_t urlsz)
{
    struct provider_answer a;
    url[0] = '\0';
    json_object *biz = json_object_new_object();
    if (biz == NULL || add_str(biz, "bill_type", "trade") || add_str(biz, "bill_date", day)) {
        json_object_put(biz);
        return PROVIDER_CONFIG;
    }
    enum provider_status st =
        provider_call(cfg, "alipay.data.dataservice.bill.downloadurl.query", biz, &a);
    json_object_put(biz);
    if (st == PROVIDER_OK) {
        copy_field(a.resp, "bill_download_url", url, urlsz);
        if (url[0] == '\0' || strlen(url) + 1 >= urlsz)
            st = PROVIDER_BAD_ANSWER;
    }
    provider_answer_free(&a);
    return st;
}

enum provider_status provider_fetch(const struct shop_config *cfg, const char *url, struct buf *out)
{
    char why[256];
    buf_reset(out);
    enum provider_status st = http_exchange(cfg, url, NULL, out, why, sizeof why);
    if (st != PROVIDER_OK)
        log_warn("provider: GET %s: %s", url, why);
    return st;
}
