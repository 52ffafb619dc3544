/* pay_service: trade_pay, trade_pay_mismatch, the provider's keys, and the
 * pay consumer. */
#include "pay_service.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alipay.h"
#include "consumer_log.h"
#include "log.h"
#include "money.h"
#include "order_log.h"
#include "order_service.h"
#include "outbox.h"
#include "pay_check.h"
#include "refund_service.h"
#include "snowflake.h"

/* A missing key file is looked for again after this many seconds. */
#define KEY_RETRY_S 5
/* The subject shown on the provider's cashier page. */
#define PAY_SUBJECT "Shop order %s"

/* ---------------------------------------------------------------- keys */

struct key_slot {
    EVP_PKEY *key;
    time_t tried;
    const char *what;
};

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static struct key_slot merchant_slot = {.what = "our private key (alipay_private_key)"};
static struct key_slot provider_slot = {.what = "the provider's public key (alipay_public_key)"};

static EVP_PKEY *slot_key(struct key_slot *s, const char *path, int private_key)
{
    pthread_mutex_lock(&key_mu);
    EVP_PKEY *k = s->key;
    time_t now = time(NULL);
    if (k == NULL && (s->tried == 0 || now - s->tried >= KEY_RETRY_S)) {
        char err[512];
        s->tried = now;
        k = private_key ? alipay_load_private_key(path, err, sizeof err)
                        : alipay_load_public_key(path, err, sizeof err);
        if (k != NULL) {
            s->key = k;
            log_info("pay: loaded %s from %s", s->what, path);
        } else {
            log_error("pay: cannot load %s: %s; paying does not work until it is there", s->what,
                      err);
        }
    }
    pthread_mutex_unlock(&key_mu);
    return k;
}

EVP_PKEY *pay_merchant_key(const struct shop_config *cfg)
{
    return slot_key(&merchant_slot, cfg->alipay_private_key, 1);
}

EVP_PKEY *pay_provider_key(const struct shop_config *cfg)
{
    return slot_key(&provider_slot, cfg->alipay_public_key, 0);
}

/* ------------------------------------------------------ operators' views */

static const char SQL_PAY_ROWS[] =
    "SELECT CAST(pay_id AS CHAR) AS pay_id, pay_amount, is_paid, provider, trade_no, "
    "create_time, paid_time, notify_time FROM trade_pay WHERE order_id = ? ORDER BY create_time";

enum shop_code pay_rows_json(db_conn *db, int64_t order_id, struct json_object **out)
{
    db_result *r = NULL;
    struct db_val id = DB_I64(order_id);
    *out = NULL;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, SQL_PAY_ROWS, &id, 1, 16, &r);
    if (st == DB_OK)
        *out = db_result_json(r);
    db_result_free(r);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

static const char SQL_MISMATCH_OPEN[] =
    "SELECT CAST(order_id AS CHAR) AS order_id, trade_no, reason, notify_amount, "
    "expected_amount, created_at FROM trade_pay_mismatch WHERE resolved = 0 "
    "ORDER BY created_at, order_id LIMIT ?";
static const char SQL_MISMATCH_RESOLVE[] =
    "UPDATE trade_pay_mismatch SET resolved = 1, resolve_note = ?, resolved_by = ?, "
    "resolved_at = UTC_TIMESTAMP(3) WHERE order_id = ? AND trade_no = ? AND resolved = 0";

enum shop_code pay_mismatches_open_json(db_conn *db, size_t limit, struct json_object **out)
{
    db_result *r = NULL;
    struct db_val n = DB_I64(limit);
    *out = NULL;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, SQL_MISMATCH_OPEN, &n, 1, limit, &r);
    if (st == DB_OK)
        *out = db_result_json(r);
    db_result_free(r);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

/* Inside the transaction: the row and the order's timeline. */
static enum shop_code resolve_tx(db_conn *db, int64_t order_id, const char *trade_no,
                                 const char *note, const char *operator_name)
{
    char what[PAY_NOTE_MAX + 128];
    uint64_t n = 0;
    struct db_val p[] = {DB_TEXT(note), DB_TEXT(operator_name), DB_I64(order_id),
                         DB_TEXT(trade_no)};
    enum db_status st = db_exec(db, SQL_MISMATCH_RESOLVE, p, sizeof p / sizeof p[0], &n);
    if (st != DB_OK)
        return db_shop_code(st);
    if (n != 1)
        return SHOP_NOT_FOUND;
    snprintf(what, sizeof what, "Amount mismatch of trade %s resolved: %s", trade_no, note);
    return order_log_operator(db, order_id, operator_name, what);
}

enum shop_code pay_mismatch_resolve(db_conn *db, int64_t order_id, const char *trade_no,
                                    const char *note, const char *operator_name)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_begin(db);
    if (st != DB_OK)
        return db_shop_code(st);
    enum shop_code rc = resolve_tx(db, order_id, trade_no, note, operator_name);
    if (rc != SHOP_SUCCESS) {
        db_rollback(db);
        return rc;
    }
    st = db_commit(db);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

/* ------------------------------------------------------- starting to pay */

static const char SQL_PAY_GET[] =
    "SELECT pay_id, pay_amount, is_paid FROM trade_pay WHERE order_id = ? FOR UPDATE";
static const char SQL_PAY_INSERT[] =
    "INSERT INTO trade_pay (pay_id, order_id, user_id, pay_amount, is_paid, provider, "
    "create_time) VALUES (?, ?, ?, CAST(? AS DECIMAL(10,2)), 1, ?, UTC_TIMESTAMP(3))";

/* Inside the transaction: the order's payment row, found or made. *st is
 * the database's answer (DB_DEADLOCK: the caller may try again). */
static enum shop_code pay_row_tx(db_conn *db, const struct order *o, struct pay_started *out,
                                 enum db_status *st)
{
    db_result *r = NULL;
    struct db_val id = DB_I64(o->order_id);
    *st = db_query(db, SQL_PAY_GET, &id, 1, 1, &r);
    if (*st != DB_OK)
        return db_shop_code(*st);
    out->order_id = o->order_id;
    out->pay_amount = o->pay_amount;
    if (db_result_rows(r) > 0) {
        out->pay_id = db_result_i64(r, 0, 0, 0);
        int is_paid = (int)db_result_i64(r, 0, 2, 1);
        db_result_free(r);
        /* Paid at the provider, the order not updated yet. */
        return is_paid == 2 ? SHOP_PAYMENT_IS_PAID : SHOP_SUCCESS;
    }
    db_result_free(r);
    char amount[MONEY_STR_MAX];
    out->pay_id = snowflake_next(&shop_ids);
    struct db_val p[] = {DB_I64(out->pay_id), DB_I64(o->order_id), DB_I64(o->user_id),
                         DB_TEXT(money_format(o->pay_amount, amount)),
                         DB_TEXT(PAY_PROVIDER_ALIPAY)};
    *st = db_exec(db, SQL_PAY_INSERT, p, sizeof p / sizeof p[0], NULL);
    return *st == DB_OK ? SHOP_SUCCESS : db_shop_code(*st);
}

/* The order checked and its payment row, in one transaction, tried again
 * (up to PAY_START_TRIES times) when it meets a deadlock: two payments
 * started at once lock neighbouring gaps of trade_pay's order index. */
#define PAY_START_TRIES 3
/* The order's first pay.query (pay_check.h), committed with the payment. */
struct first_check {
    const struct shop_config *cfg;
    char queue[64], msg_id[96];
    struct buf body;
    int added;
};

static enum shop_code pay_start_tx(db_conn *db, int64_t user_id, int64_t order_id, struct order *o,
                                   struct pay_started *out, struct first_check *fc)
{
    enum db_status st = DB_DEADLOCK;
    enum shop_code rc = SHOP_PAYMENT_PAY_ERROR;
    for (int i = 0; i < PAY_START_TRIES && st == DB_DEADLOCK; i++) {
        if ((st = db_begin(db)) != DB_OK)
            return db_shop_code(st);
        rc = order_pay_begin_tx(db, user_id, order_id, o);
        if (rc == SHOP_SUCCESS)
            rc = pay_row_tx(db, o, out, &st);
        if (rc == SHOP_SUCCESS) {
            fc->added = pay_check_schedule_tx(db, fc->cfg, o, 0, time(NULL), fc->queue, fc->msg_id,
                                              &fc->body);
            if (fc->added < 0)
                rc = SHOP_DB_UNAVAILABLE;
        }
        if (rc != SHOP_SUCCESS) {
            db_rollback(db);
            if (st == DB_DEADLOCK)
                log_warn("pay: starting the payment of order %" PRId64 " hit a deadlock (try %d)",
                         order_id, i + 1);
            continue;
        }
        st = db_commit(db);
        if (st == DB_OK)
            return SHOP_SUCCESS;
        rc = st == DB_DEADLOCK ? SHOP_PAYMENT_PAY_ERROR : db_shop_code(st);
    }
    return rc;
}

/* base + path without a doubled '/' into out; -1 when it does not fit. */
static int join_url(const char *base, const char *path, char *out, size_t outsz)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    int w = snprintf(out, outsz, "%.*s%s", (int)n, base, path);
    return w > 0 && (size_t)w < outsz ? 0 : -1;
}

enum shop_code pay_start(db_conn *db, mq_conn *mq, const struct shop_config *cfg, int64_t user_id,
                         int64_t order_id, struct pay_started *out, struct buf *url)
{
    struct order o;
    struct first_check fc = {.cfg = cfg};
    time_t expiry = 0;
    char notify_url[CONFIG_STR_MAX + 32], return_url[CONFIG_STR_MAX + 32],
        out_trade_no[SNOWFLAKE_STR_MAX];
    char subject[64];
    memset(out, 0, sizeof *out);
    buf_reset(url);
    /* Without our key no URL can be signed: refuse before writing anything. */
    EVP_PKEY *key = pay_merchant_key(cfg);
    if (key == NULL)
        return SHOP_PAYMENT_PAY_ERROR;
    if (join_url(cfg->public_url, "/pay/notify/alipay", notify_url, sizeof notify_url) != 0 ||
        join_url(cfg->public_url, "/pay/return", return_url, sizeof return_url) != 0) {
        log_error("pay: public_url is too long");
        return SHOP_PAYMENT_PAY_ERROR;
    }
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    buf_init(&fc.body, 4096);
    enum shop_code rc = pay_start_tx(db, user_id, order_id, &o, out, &fc);
    if (rc == SHOP_SUCCESS && fc.added > 0)
        pay_check_send(db, mq, fc.queue, fc.msg_id, &fc.body, pay_check_delay_ms(cfg, 0));
    buf_free(&fc.body);
    if (rc != SHOP_SUCCESS)
        return rc;
    if (order_expiry(&o, cfg->unpaid_timeout_s, &expiry) != 0)
        expiry = 0; /* no confirm time: the provider's own limit applies */

    snowflake_format(order_id, out_trade_no);
    snprintf(subject, sizeof subject, PAY_SUBJECT, out_trade_no);
    struct alipay_page_pay req = {
        .gateway = cfg->alipay_gateway,
        .app_id = cfg->alipay_app_id,
        .notify_url = notify_url,
        .return_url = return_url,
        .out_trade_no = out_trade_no,
        .subject = subject,
        .total_cents = o.pay_amount,
        .now = time(NULL),
        .utc_offset_s = 0,
        .time_expire = expiry,
    };
    if (alipay_page_pay_url(key, &req, url) != 0) {
        log_error("pay: cannot build the page-pay URL of order %s", out_trade_no);
        buf_reset(url);
        return SHOP_PAYMENT_PAY_ERROR;
    }
    char shown[MONEY_STR_MAX];
    log_info("pay: order %s: payment %" PRId64 " of %s started", out_trade_no, out->pay_id,
             money_format(o.pay_amount, shown));
    return SHOP_SUCCESS;
}

/* ------------------------------------------------ checking a notification */

/* 1..max printable ASCII characters without space. */
static int token_ok(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

/* The provider's payment time when it is usable (events.h), else the time
 * the notification was received, logged: the money is taken either way, so
 * the payment is applied rather than refused or parked. */
static void paid_time_or_now(int64_t order_id, const char *gmt, char out[20])
{
    if (gmt == NULL || gmt[0] == '\0' || event_provider_time_ok(gmt)) {
        snprintf(out, 20, "%s", gmt ? gmt : "");
        return;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm);
    log_warn("pay: order %" PRId64 ": gmt_payment %.32s is not a usable time: using the time "
             "it was received, %s",
             order_id, strspn(gmt, "0123456789-: ") == strlen(gmt) ? gmt : "(not digits)", out);
}

enum pay_notify_verdict pay_notify_check(const struct shop_config *cfg, const char *body,
                                         size_t len, struct pay_notify_event *out, char *why,
                                         size_t whysz)
{
    struct alipay_params ps;
    enum pay_notify_verdict v = PAY_NOTIFY_MALFORMED;
    memset(out, 0, sizeof *out);
    alipay_params_init(&ps);
    snprintf(why, whysz, "ok");

    EVP_PKEY *pub = pay_provider_key(cfg);
    if (pub == NULL) {
        snprintf(why, whysz, "the provider's public key is not loaded");
        v = PAY_NOTIFY_NO_KEY;
        goto out;
    }
    int prc = alipay_params_parse_form(body, len, &ps);
    if (prc != ALIPAY_OK) {
        snprintf(why, whysz, "not a form: %s", alipay_status_text(prc));
        goto out;
    }
    if (!alipay_verify(pub, &ps)) {
        const char *st = alipay_params_get(&ps, "sign_type");
        snprintf(why, whysz, "%s",
                 alipay_params_get(&ps, "sign") == NULL  ? "no sign"
                 : st == NULL || strcmp(st, "RSA2") != 0 ? "sign_type is not RSA2"
                                                         : "bad signature");
        v = PAY_NOTIFY_REFUSED;
        goto out;
    }
    const char *app_id = alipay_params_get(&ps, "app_id");
    const char *seller_id = alipay_params_get(&ps, "seller_id");
    if (app_id == NULL || strcmp(app_id, cfg->alipay_app_id) != 0) {
        snprintf(why, whysz, "app_id %.64s is not ours", app_id ? app_id : "(none)");
        v = PAY_NOTIFY_REFUSED;
        goto out;
    }
    if (seller_id == NULL || strcmp(seller_id, cfg->alipay_seller_id) != 0) {
        snprintf(why, whysz, "seller_id %.64s is not ours", seller_id ? seller_id : "(none)");
        v = PAY_NOTIFY_REFUSED;
        goto out;
    }
    const char *status = alipay_params_get(&ps, "trade_status");
    const char *out_trade_no = alipay_params_get(&ps, "out_trade_no");
    const char *trade_no = alipay_params_get(&ps, "trade_no");
    const char *amount = alipay_params_get(&ps, "total_amount");
    const char *gmt = alipay_params_get(&ps, "gmt_payment");
    const char *notify_id = alipay_params_get(&ps, "notify_id");
    if (!token_ok(status, sizeof out->trade_status - 1)) {
        snprintf(why, whysz, "no trade_status");
        goto out;
    }
    snprintf(out->trade_status, sizeof out->trade_status, "%s", status);
    if (out_trade_no == NULL ||
        snowflake_parse(out_trade_no, strlen(out_trade_no), &out->order_id) != 0) {
        snprintf(why, whysz, "out_trade_no %.64s is not one of our order ids",
                 out_trade_no ? out_trade_no : "(none)");
        goto out;
    }
    if (!token_ok(trade_no, EVENT_TRADE_NO_MAX)) {
        snprintf(why, whysz, "no or bad trade_no");
        goto out;
    }
    if (amount == NULL || money_parse_str(amount, MONEY_NON_NEGATIVE, &out->total_amount) != 0) {
        snprintf(why, whysz, "bad total_amount");
        goto out;
    }
    if (notify_id != NULL && notify_id[0] != '\0' && !token_ok(notify_id, EVENT_NOTIFY_ID_MAX)) {
        snprintf(why, whysz, "bad notify_id");
        goto out;
    }
    snprintf(out->provider, sizeof out->provider, PAY_PROVIDER_ALIPAY);
    snprintf(out->trade_no, sizeof out->trade_no, "%s", trade_no);
    paid_time_or_now(out->order_id, gmt, out->gmt_payment);
    snprintf(out->notify_id, sizeof out->notify_id, "%s", notify_id ? notify_id : "");
    if (strcmp(status, "TRADE_SUCCESS") == 0 || strcmp(status, "TRADE_FINISHED") == 0) {
        v = PAY_NOTIFY_PAID;
    } else {
        snprintf(why, whysz, "trade_status %s is not a payment", status);
        v = PAY_NOTIFY_OTHER;
    }
out:
    alipay_params_free(&ps);
    return v;
}

void pay_notify_message_id(const struct pay_notify_event *ev, char out[128])
{
    char id[SNOWFLAKE_STR_MAX];
    snprintf(out, 128, EV_PAY_NOTIFY ":%s:%s", snowflake_format(ev->order_id, id), ev->trade_no);
}

/* ------------------------------------------------------------ consumer */

static const char SQL_PAY_LOCK[] = "SELECT pay_id, user_id, pay_amount, is_paid, trade_no "
                                   "FROM trade_pay WHERE order_id = ? FOR UPDATE";
static const char SQL_PAY_MARK[] =
    "UPDATE trade_pay SET is_paid = 2, trade_no = ?, paid_time = COALESCE(?, UTC_TIMESTAMP(3)), "
    "notify_time = UTC_TIMESTAMP(3) WHERE order_id = ? AND is_paid = 1";
static const char SQL_MISMATCH[] =
    "INSERT INTO trade_pay_mismatch (order_id, trade_no, reason, notify_amount, expected_amount, "
    "notify_body, resolved, created_at) VALUES (?, ?, ?, CAST(? AS DECIMAL(10,2)), "
    "CAST(? AS DECIMAL(10,2)), ?, 0, UTC_TIMESTAMP(3))";

static const char SQL_PAY_PAID[] =
    "SELECT pay_id, trade_no FROM trade_pay WHERE order_id = ? AND is_paid = 2";

int pay_paid_get_tx(db_conn *db, int64_t order_id, int64_t *pay_id, char *trade_no)
{
    db_result *r = NULL;
    struct db_val id = DB_I64(order_id);
    trade_no[0] = '\0';
    enum db_status st = db_query(db, SQL_PAY_PAID, &id, 1, 1, &r);
    if (st != DB_OK)
        return (int)st;
    int found = db_result_rows(r) > 0;
    if (found) {
        *pay_id = db_result_i64(r, 0, 0, 0);
        db_result_text(r, 0, 1, trade_no, EVENT_TRADE_NO_MAX + 1);
    }
    db_result_free(r);
    return found;
}

/* The approved refund of a second payment (trade ev->trade_no) of a paid
 * order, inside the pay consumer's transaction. */
static enum db_status second_refund_tx(db_conn *db, const struct pay_notify_event *ev,
                                       int64_t pay_id, int64_t user_id, struct refund_emits *em)
{
    struct refund r;
    struct refund_event re = {.order_id = ev->order_id,
                              .user_id = user_id,
                              .pay_id = pay_id,
                              .refund_amount = ev->total_amount,
                              .reason = "second",
                              .refund_status = "approved"};
    snprintf(re.trade_no, sizeof re.trade_no, "%s", ev->trade_no);
    if (re.refund_amount <= 0)
        return DB_OK;
    enum db_status st = refund_create_tx(db, &re, em, &r);
    return st == DB_DUPLICATE ? DB_OK : st;
}

/* "2026-01-02 03:04:05" -> "2026-01-02T03:04:05Z"; "" -> now. */
static void paid_iso(const char *gmt, char out[32])
{
    if (gmt[0] != '\0') {
        snprintf(out, 32, "%.10sT%.8sZ", gmt, gmt + 11);
        return;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What the transaction decided to publish after its commit. */
struct pay_emit {
    const char *routing_key; /* NULL: nothing */
    char message_id[128];
    struct buf body;
};

/* Inside the transaction: record a notification that is not applied. */
static enum db_status mismatch_tx(db_conn *db, const struct mq_message *m,
                                  const struct pay_notify_event *ev, const char *reason,
                                  int64_t expected, struct pay_emit *emit)
{
    char got[MONEY_STR_MAX], want[MONEY_STR_MAX];
    struct db_val p[] = {DB_I64(ev->order_id),
                         DB_TEXT(ev->trade_no),
                         DB_TEXT(reason),
                         DB_TEXT(money_format(ev->total_amount, got)),
                         expected >= 0 ? DB_TEXT(money_format(expected, want)) : DB_NULLV,
                         DB_TEXTN(m->body, m->body_len)};
    enum db_status st = db_exec(db, SQL_MISMATCH, p, sizeof p / sizeof p[0], NULL);
    if (st != DB_OK && st != DB_DUPLICATE)
        return st;
    struct pay_mismatch_event me = {
        .order_id = ev->order_id, .notify_amount = ev->total_amount, .expected_amount = expected};
    snprintf(me.trade_no, sizeof me.trade_no, "%s", ev->trade_no);
    snprintf(me.reason, sizeof me.reason, "%s", reason);
    char key[SNOWFLAKE_STR_MAX];
    snowflake_format(ev->order_id, key);
    snprintf(emit->message_id, sizeof emit->message_id, EV_PAY_MISMATCH ":%s:%s", key,
             ev->trade_no);
    if (event_pay_mismatch_build(&me, &emit->body) != 0)
        return DB_ERR;
    st = outbox_add_tx(db, MQ_EXCHANGE, EV_PAY_MISMATCH, emit->message_id, key,
                       buf_str(&emit->body));
    if (st != DB_OK && st != DB_DUPLICATE)
        return st;
    emit->routing_key = EV_PAY_MISMATCH;
    log_warn("pay: order %" PRId64 " trade %s: NOT marked paid (%s): notified %s, expected %s; "
             "see trade_pay_mismatch",
             ev->order_id, ev->trade_no, reason, got, expected >= 0 ? want : "no payment row");
    return DB_OK;
}

/* The order.paid of a payment into emit (its message id and body); 0 or -1. */
static int paid_emit_build(const struct pay_notify_event *ev, int64_t pay_id, int64_t user_id,
                           int64_t amount, struct pay_emit *emit)
{
    struct paid_event pe = {
        .order_id = ev->order_id, .user_id = user_id, .pay_id = pay_id, .pay_amount = amount};
    snprintf(pe.trade_no, sizeof pe.trade_no, "%s", ev->trade_no);
    paid_iso(ev->gmt_payment, pe.paid_time);
    char key[SNOWFLAKE_STR_MAX];
    snowflake_format(ev->order_id, key);
    snprintf(emit->message_id, sizeof emit->message_id, EV_ORDER_PAID ":%s", key);
    if (event_paid_build(&pe, &emit->body) != 0)
        return -1;
    emit->routing_key = EV_ORDER_PAID;
    return 0;
}

/* Inside the transaction: mark the row paid and put order.paid in the outbox. */
static enum db_status mark_paid_tx(db_conn *db, const struct pay_notify_event *ev, int64_t pay_id,
                                   int64_t user_id, int64_t amount, struct pay_emit *emit)
{
    char when[20];
    int have_time = ev->gmt_payment[0] != '\0';
    if (have_time)
        snprintf(when, sizeof when, "%s", ev->gmt_payment);
    struct db_val p[] = {DB_TEXT(ev->trade_no), have_time ? DB_TEXT(when) : DB_NULLV,
                         DB_I64(ev->order_id)};
    uint64_t n = 0;
    enum db_status st = db_exec(db, SQL_PAY_MARK, p, 3, &n);
    if (st != DB_OK)
        return st;
    if (n != 1) /* the row is locked and was unpaid: cannot happen */
        return DB_ERR;
    if (paid_emit_build(ev, pay_id, user_id, amount, emit) != 0)
        return DB_ERR;
    char key[SNOWFLAKE_STR_MAX];
    snowflake_format(ev->order_id, key);
    st = outbox_add_tx(db, MQ_EXCHANGE, EV_ORDER_PAID, emit->message_id, key, buf_str(&emit->body));
    if (st != DB_OK && st != DB_DUPLICATE)
        return st;
    emit->routing_key = EV_ORDER_PAID;
    return DB_OK;
}

/* A notification parsed, with its consumer-log key. */
struct notify_msg {
    int apply; /* 1: a payment to apply (notify_parse said -1) */
    struct pay_notify_event ev;
    char key[SNOWFLAKE_STR_MAX + EVENT_TRADE_NO_MAX + 1];
};

/* Parse m into *n: -1 to go on (a payment to apply), else the verdict. */
static int notify_parse(const struct mq_message *m, struct notify_msg *n)
{
    if (event_pay_notify_parse(m->body, m->body_len, &n->ev) != 0) {
        log_error("pay: malformed pay.notify %s: parked", m->message_id);
        return MQ_REJECT;
    }
    if (strcmp(n->ev.trade_status, "TRADE_SUCCESS") != 0 &&
        strcmp(n->ev.trade_status, "TRADE_FINISHED") != 0) {
        log_info("pay: pay.notify %s with trade_status %s: nothing to do", m->message_id,
                 n->ev.trade_status);
        return MQ_ACK;
    }
    char order[SNOWFLAKE_STR_MAX];
    snprintf(n->key, sizeof n->key, "%s:%s", snowflake_format(n->ev.order_id, order),
             n->ev.trade_no);
    return -1;
}

/* What one notification does, once its log row is in: its trade_pay row
 * (locked; row 0 of r, none: unknown order) decides. */
struct notify_apply {
    struct pay_emit emit;
    struct refund_emits refunds;
    int batched; /* in: a payment to mark is left to the batch (to_mark) */
    int to_mark; /* out: the batch marks it paid and adds its order.paid */
};

static enum db_status notify_decide_tx(db_conn *db, const struct mq_message *m,
                                       const struct pay_notify_event *ev, const db_result *r,
                                       size_t row, struct notify_apply *a)
{
    if (r == NULL)
        return mismatch_tx(db, m, ev, "unknown", -1, &a->emit);
    int64_t pay_id = db_result_i64(r, row, 0, 0), user_id = db_result_i64(r, row, 1, 0);
    int64_t amount = -1;
    const char *s = db_result_get(r, row, 2);
    int is_paid = (int)db_result_i64(r, row, 3, 0);
    const char *paid_by = db_result_get(r, row, 4);
    if (s == NULL || money_parse_str(s, MONEY_NON_NEGATIVE, &amount) != 0) {
        log_error("pay: bad pay_amount of order %" PRId64, ev->order_id);
        return DB_ERR;
    }
    if (is_paid == 2) {
        if (paid_by != NULL && strcmp(paid_by, ev->trade_no) == 0) {
            log_info("pay: order %" PRId64 " paid by trade %s already", ev->order_id, ev->trade_no);
            return DB_OK;
        }
        enum db_status st = mismatch_tx(db, m, ev, "duplicate", amount, &a->emit);
        /* a second payment of the same order: the buyer paid twice */
        return st == DB_OK ? second_refund_tx(db, ev, pay_id, user_id, &a->refunds) : st;
    }
    if (amount != ev->total_amount)
        return mismatch_tx(db, m, ev, "amount", amount, &a->emit);
    if (!a->batched)
        return mark_paid_tx(db, ev, pay_id, user_id, amount, &a->emit);
    a->to_mark = 1;
    return paid_emit_build(ev, pay_id, user_id, amount, &a->emit) == 0 ? DB_OK : DB_ERR;
}

static void notify_apply_init(struct notify_apply *a)
{
    a->batched = a->to_mark = 0;
    a->emit.routing_key = NULL;
    buf_init(&a->emit.body, 4096);
    refund_emits_init(&a->refunds);
}

/* After the commit (or, in a batch, deferred to it): publish what it caused. */
static void notify_apply_send(db_conn *db, mq_conn *pub, const struct pay_notify_event *ev,
                              struct notify_apply *a)
{
    if (a->emit.routing_key != NULL)
        outbox_send(db, pub, MQ_EXCHANGE, a->emit.routing_key, a->emit.message_id,
                    buf_str(&a->emit.body));
    refund_emits_send(&a->refunds, db, pub);
    if (a->emit.routing_key != NULL && strcmp(a->emit.routing_key, EV_ORDER_PAID) == 0) {
        char shown[MONEY_STR_MAX];
        log_info("pay: order %" PRId64 " paid: %s (trade %s)", ev->order_id,
                 money_format(ev->total_amount, shown), ev->trade_no);
    }
    buf_free(&a->emit.body);
}

static void notify_apply_free(struct notify_apply *a)
{
    refund_emits_free(&a->refunds);
    buf_free(&a->emit.body);
}

static enum mq_verdict on_notify(const struct mq_message *m, mq_conn *pub)
{
    struct notify_msg n;
    int v = notify_parse(m, &n);
    if (v >= 0)
        return (enum mq_verdict)v;
    db_conn *db = order_db();
    if (db == NULL || db_begin(db) != DB_OK)
        return MQ_RETRY;
    struct notify_apply a;
    db_result *r = NULL;
    notify_apply_init(&a);
    /* The log row first: a concurrent copy of the same notification waits
     * on it and then finds it. */
    enum db_status st = consumer_log_insert(db, GROUP_PAY, EV_PAY_NOTIFY, n.key, m->message_id,
                                            m->body, m->body_len);
    if (st == DB_DUPLICATE) {
        db_rollback(db);
        notify_apply_free(&a);
        log_info("pay: notification %s handled before: no-op", n.key);
        return MQ_ACK;
    }
    struct db_val id = DB_I64(n.ev.order_id);
    if (st != DB_OK || (st = db_query(db, SQL_PAY_LOCK, &id, 1, 1, &r)) != DB_OK)
        goto retry;
    st = notify_decide_tx(db, m, &n.ev, db_result_rows(r) > 0 ? r : NULL, 0, &a);
    db_result_free(r);
    r = NULL;
    if (st != DB_OK || (st = db_commit(db)) != DB_OK)
        goto retry;
    notify_apply_send(db, pub, &n.ev, &a);
    return MQ_ACK;
retry:
    db_result_free(r);
    db_rollback(db);
    notify_apply_free(&a);
    log_warn("pay: notification %s failed (%s); retrying later", n.key,
             st == DB_DEADLOCK ? "deadlock" : db_error(db));
    return MQ_RETRY;
}

enum mq_verdict pay_on_event(const struct mq_message *m, void *ud)
{
    const struct consumer_ctx *ctx = ud;
    if (strcmp(m->routing_key, EV_PAY_NOTIFY) == 0)
        return on_notify(m, ctx != NULL ? ctx->pub : NULL);
    log_warn("pay: unexpected routing key '%s' (%s): ignored", m->routing_key, m->message_id);
    return MQ_ACK;
}

/* The batch's trade_pay rows, LOCK_ROWS orders a statement (the last one
 * repeated), locked as SQL_PAY_LOCK locks one. */
#define LOCK_ROWS 16
static const char SQL_PAY_LOCK_MANY[] =
    "SELECT pay_id, user_id, pay_amount, is_paid, trade_no, order_id FROM trade_pay "
    "WHERE order_id IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) FOR UPDATE";

/* One batch of the pay consumer: its notifications (ms[i] as ns[i]), the
 * fresh ones (whose log rows went in now) at fresh[], nf of them. */
struct notify_batch {
    const struct mq_message *const *ms;
    struct notify_msg *ns;
    size_t *fresh, nf;
    mq_conn *pub;
};

/* The row of order_id in r, or -1. */
static long row_of(const db_result *r, int64_t order_id)
{
    for (size_t i = 0; i < db_result_rows(r); i++)
        if (db_result_i64(r, i, 5, 0) == order_id)
            return (long)i;
    return -1;
}

/* The payments of a chunk marked paid at once (the last one repeated):
 * ELT(FIELD(order_id, ids), values) is the value of the row's order. */
#define Q16 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
static const char SQL_PAY_MARK_MANY[] =
    "UPDATE trade_pay SET is_paid = 2, trade_no = ELT(FIELD(order_id, " Q16 "), " Q16 "), "
    "paid_time = COALESCE(ELT(FIELD(order_id, " Q16 "), " Q16 "), UTC_TIMESTAMP(3)), "
    "notify_time = UTC_TIMESTAMP(3) WHERE order_id IN (" Q16 ") AND is_paid = 1";

/* Mark the k payments evs[] paid (their rows locked and unpaid) and add
 * their order.paid (emits[]) to the outbox: two statements. */
static enum db_status mark_paid_many_tx(db_conn *db, const struct pay_notify_event *const *evs,
                                        struct pay_emit *const *emits, size_t k)
{
    struct db_val p[5 * LOCK_ROWS];
    struct outbox_row rows[LOCK_ROWS];
    char keys[LOCK_ROWS][SNOWFLAKE_STR_MAX], when[LOCK_ROWS][20];
    if (k == 0)
        return DB_OK;
    for (size_t j = 0; j < LOCK_ROWS; j++) {
        size_t i = j < k ? j : k - 1;
        const struct pay_notify_event *ev = evs[i];
        snprintf(when[j], sizeof when[j], "%s", ev->gmt_payment);
        p[j] = p[2 * LOCK_ROWS + j] = p[4 * LOCK_ROWS + j] = DB_I64(ev->order_id);
        p[LOCK_ROWS + j] = DB_TEXT(ev->trade_no);
        p[3 * LOCK_ROWS + j] = when[j][0] != '\0' ? DB_TEXT(when[j]) : DB_NULLV;
    }
    uint64_t n = 0;
    enum db_status st = db_exec(db, SQL_PAY_MARK_MANY, p, 5 * LOCK_ROWS, &n);
    if (st != DB_OK)
        return st;
    if (n != k) /* the rows are locked and were unpaid: cannot happen */
        return DB_ERR;
    for (size_t i = 0; i < k; i++)
        rows[i] = (struct outbox_row){MQ_EXCHANGE, EV_ORDER_PAID, emits[i]->message_id,
                                      snowflake_format(evs[i]->order_id, keys[i]),
                                      buf_str(&emits[i]->body)};
    return outbox_add_many(db, rows, k);
}

/* Apply fresh notifications [from, to) of b (at most LOCK_ROWS) with one
 * locking read, and the plain payments among them with two statements. */
static enum db_status notify_chunk_tx(db_conn *db, struct notify_batch *b, size_t from, size_t to)
{
    struct db_val ids[LOCK_ROWS];
    struct notify_apply as[LOCK_ROWS];
    const struct pay_notify_event *evs[LOCK_ROWS];
    struct pay_emit *emits[LOCK_ROWS];
    size_t n = to - from, k = 0, ready = 0;
    for (size_t j = 0; j < LOCK_ROWS; j++)
        ids[j] = DB_I64(b->ns[b->fresh[from + (j < n ? j : n - 1)]].ev.order_id);
    db_result *r = NULL;
    enum db_status st = db_query(db, SQL_PAY_LOCK_MANY, ids, LOCK_ROWS, LOCK_ROWS, &r);
    for (; st == DB_OK && ready < n; ready++) {
        size_t i = b->fresh[from + ready];
        long row = row_of(r, b->ns[i].ev.order_id);
        notify_apply_init(&as[ready]);
        as[ready].batched = 1;
        st = notify_decide_tx(db, b->ms[i], &b->ns[i].ev, row >= 0 ? r : NULL,
                              row >= 0 ? (size_t)row : 0, &as[ready]);
        if (as[ready].to_mark) {
            evs[k] = &b->ns[i].ev;
            emits[k++] = &as[ready].emit;
        }
    }
    db_result_free(r);
    if (st == DB_OK)
        st = mark_paid_many_tx(db, evs, emits, k);
    for (size_t j = 0; j < ready; j++) {
        if (st == DB_OK) /* deferred to the batch's commit */
            notify_apply_send(db, b->pub, &b->ns[b->fresh[from + j]].ev, &as[j]);
        else
            notify_apply_free(&as[j]);
    }
    return st;
}

/* Whether two fresh notifications of b are for the same order (the second
 * must see what the first did: such a batch goes one by one). */
static int same_order_twice(const struct notify_batch *b)
{
    for (size_t j = 0; j < b->nf; j++)
        for (size_t k = j + 1; k < b->nf; k++)
            if (b->ns[b->fresh[j]].ev.order_id == b->ns[b->fresh[k]].ev.order_id)
                return 1;
    return 0;
}

/* Claim the log rows of the notifications to apply (ns[i].apply), and
 * set b->fresh to those that went in now; the others were seen before. */
static enum db_status notify_claim(db_conn *db, struct notify_batch *b, size_t n,
                                   enum mq_verdict *verdicts, struct consumer_log_row *rows,
                                   size_t *idx, unsigned char *isnew)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (b->ns[i].apply) {
            const struct mq_message *m = b->ms[i];
            rows[k] = (struct consumer_log_row){GROUP_PAY,     EV_PAY_NOTIFY, b->ns[i].key,
                                                m->message_id, m->body,       m->body_len};
            idx[k++] = i;
        }
    enum db_status st = k > 0 ? consumer_log_claim_many(db, rows, k, isnew) : DB_OK;
    for (size_t j = 0; st == DB_OK && j < k; j++) {
        verdicts[idx[j]] = MQ_ACK;
        if (isnew[j])
            b->fresh[b->nf++] = idx[j];
        else
            log_info("pay: notification %s handled before: no-op", b->ns[idx[j]].key);
    }
    return st;
}

int pay_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts, void *ud)
{
    const struct consumer_ctx *ctx = ud;
    db_conn *db = order_db();
    struct notify_batch b = {.ms = ms, .pub = ctx != NULL ? ctx->pub : NULL};
    struct consumer_log_row *rows = calloc(n, sizeof *rows);
    size_t *idx = calloc(n, sizeof *idx);
    unsigned char *isnew = calloc(n, 1);
    b.ns = calloc(n, sizeof *b.ns);
    b.fresh = calloc(n, sizeof *b.fresh);
    int rc = -1;
    if (db == NULL || rows == NULL || idx == NULL || isnew == NULL || b.ns == NULL ||
        b.fresh == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int v =
            strcmp(ms[i]->routing_key, EV_PAY_NOTIFY) == 0 ? notify_parse(ms[i], &b.ns[i]) : MQ_ACK;
        b.ns[i].apply = v < 0;
        verdicts[i] = v < 0 ? MQ_RETRY : (enum mq_verdict)v;
    }
    enum db_status st = notify_claim(db, &b, n, verdicts, rows, idx, isnew);
    if (st == DB_OK && same_order_twice(&b))
        goto out;
    for (size_t j = 0; st == DB_OK && j < b.nf; j += LOCK_ROWS)
        st = notify_chunk_tx(db, &b, j, j + LOCK_ROWS < b.nf ? j + LOCK_ROWS : b.nf);
    rc = st == DB_OK ? 0 : -1;
out:
    free(b.fresh);
    free(b.ns);
    free(isnew);
    free(idx);
    free(rows);
    return rc;
}

static const char SQL_PAID_BETWEEN[] =
    "SELECT order_id, trade_no, pay_amount FROM trade_pay WHERE is_paid = 2 "
    "AND paid_time >= CAST(? AS DATETIME) AND paid_time < CAST(? AS DATETIME)";

static int row_to_paid(const db_result *r, size_t row, void *elem)
{
    struct pay_paid *p = elem;
    const char *amount = db_result_get(r, row, 2);
    p->order_id = db_result_i64(r, row, 0, 0);
    db_result_text(r, row, 1, p->trade_no, sizeof p->trade_no);
    return amount != NULL && money_parse_str(amount, MONEY_NON_NEGATIVE, &p->amount) == 0 ? 0 : -1;
}

enum shop_code pay_paid_between(db_conn *db, const char *from, const char *to, size_t max,
                                struct pay_paid **out, size_t *n)
{
    struct db_val p[] = {DB_TEXT(from), DB_TEXT(to)};
    return db_query_list(db, SQL_PAID_BETWEEN, p, 2, max, sizeof **out, row_to_paid, (void **)out,
                         n);
}
