#include "notify.h"

#include <json-c/json.h>
#include <time.h>

#include "alipay.h"
#include "buf.h"
#include "log.h"
#include "schedule.h"
#include "settings.h"
#include "store.h"
#include "trade.h"

#define BUYER_ID "2088102000000001"

/* The signed form body of t's notification, with notify_id, onto body. */
static int notification_body(json_object *t, const char *notify_id, struct buf *body)
{
    struct alipay_params ps;
    char ts[ALIPAY_TIMESTAMP_LEN];
    const char *amount = store_str(t, "total_amount");
    alipay_params_init(&ps);
    alipay_timestamp(time(NULL), 0, ts);
    int rc = alipay_params_add(&ps, "notify_time", ts) ||
                     alipay_params_add(&ps, "notify_type", "trade_status_sync") ||
                     alipay_params_add(&ps, "notify_id", notify_id) ||
                     alipay_params_add(&ps, "app_id", store_str(t, "app_id")) ||
                     alipay_params_add(&ps, "charset", "utf-8") ||
                     alipay_params_add(&ps, "version", "1.0") ||
                     alipay_params_add(&ps, "sign_type", "RSA2") ||
                     alipay_params_add(&ps, "trade_no", store_str(t, "trade_no")) ||
                     alipay_params_add(&ps, "out_trade_no", store_str(t, "out_trade_no")) ||
                     alipay_params_add(&ps, "trade_status", "TRADE_SUCCESS") ||
                     alipay_params_add(&ps, "total_amount", amount) ||
                     alipay_params_add(&ps, "receipt_amount", amount) ||
                     alipay_params_add(&ps, "buyer_pay_amount", amount) ||
                     alipay_params_add(&ps, "seller_id", settings.seller_id) ||
                     alipay_params_add(&ps, "buyer_id", BUYER_ID) ||
                     alipay_params_add(&ps, "subject", store_str(t, "subject")) ||
                     alipay_params_add(&ps, "gmt_create", store_str(t, "gmt_create")) ||
                     alipay_params_add(&ps, "gmt_payment", store_str(t, "gmt_payment")) ||
                     alipay_params_sign(settings.provider_priv, &ps) != 0 ||
                     alipay_params_encode(&ps, body) != 0
                 ? -1
                 : 0;
    alipay_params_free(&ps);
    return rc;
}

int notify_queue(json_object *t)
{
    const char *notify_url = store_str(t, "notify_url");
    if (notify_url == NULL || notify_url[0] == '\0')
        return 0;
    char notify_id[TRADE_ID_LEN + 1];
    struct buf body;
    json_object *n = NULL;
    int rc = -1;
    buf_init(&body, ALIPAY_FORM_MAX);
    if (trade_new_id(notify_id) != 0 || notification_body(t, notify_id, &body) != 0)
        goto out;
    n = json_object_new_object();
    json_object_object_add(n, "notify_id", json_object_new_string(notify_id));
    json_object_object_add(n, "notify_url", json_object_new_string(notify_url));
    json_object_object_add(n, "out_trade_no", json_object_new_string(store_str(t, "out_trade_no")));
    json_object_object_add(n, "trade_no", json_object_new_string(store_str(t, "trade_no")));
    json_object_object_add(n, "body", json_object_new_string(buf_str(&body)));
    if (schedule_add(n) != 0)
        goto out;
    log_info("notify %s out_trade_no=%s queued for %s", notify_id, store_str(t, "out_trade_no"),
             notify_url);
    rc = 0;
out:
    json_object_put(n);
    buf_free(&body);
    return rc;
}

int notify_return_query(json_object *t, struct buf *out)
{
    struct alipay_params ps;
    char ts[ALIPAY_TIMESTAMP_LEN];
    alipay_params_init(&ps);
    alipay_timestamp(time(NULL), 0, ts);
    int rc = -1;
    if (alipay_params_add(&ps, "charset", "utf-8") ||
        alipay_params_add(&ps, "out_trade_no", store_str(t, "out_trade_no")) ||
        alipay_params_add(&ps, "method", "alipay.trade.page.pay.return") ||
        alipay_params_add(&ps, "total_amount", store_str(t, "total_amount")) ||
        alipay_params_add(&ps, "trade_no", store_str(t, "trade_no")) ||
        alipay_params_add(&ps, "auth_app_id", store_str(t, "app_id")) ||
        alipay_params_add(&ps, "version", "1.0") ||
        alipay_params_add(&ps, "app_id", store_str(t, "app_id")) ||
        alipay_params_add(&ps, "seller_id", settings.seller_id) ||
        alipay_params_add(&ps, "timestamp", ts) ||
        alipay_params_sign(settings.provider_priv, &ps) != 0)
        goto out;
    rc = alipay_params_encode(&ps, out);
out:
    alipay_params_free(&ps);
    return rc;
}
