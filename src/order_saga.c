/* order_saga: confirming an order (CONTRACT.md, "Confirming an order").
 *
 * 1 check (reads only), 2 pre-order, 3 stock, 4 coupon, 5 balance,
 * 6 confirm; each step is one transaction in the service that owns its rows.
 * The pre-order commits together with its order.timeout ("preorder") in the
 * outbox, so an order whose saga dies half-way is cancelled after the delay
 * whatever happened to this process. That check is only needed when the saga
 * does not finish, so the saga does not publish it (no broker round trip on
 * the way): the confirm's transaction, or the cancel once it is durable,
 * settles the pending row; a saga that died (or took longer than the relay's
 * minimum age) leaves it pending, and the relay publishes it. A step that
 * fails after the pre-order emits the order's order.cancel (through the
 * outbox); the consumers then reverse exactly the steps that took effect. */
#include "order_saga.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "consumer_log.h"
#include "coupon_service.h"
#include "events.h"
#include "goods_service.h"
#include "log.h"
#include "money.h"
#include "outbox.h"
#include "snowflake.h"
#include "utf8.h"
#include "user_service.h"

/* config.c's defaults, for a process that never called order_saga_delay_declare. */
#define DEFAULT_PREORDER_S 60
#define DEFAULT_UNPAID_S   1800

#define EVENT_BODY_MAX  4096
#define DELAY_QUEUE_MAX 64

static pthread_mutex_t delay_lock = PTHREAD_MUTEX_INITIALIZER;
static int delay_preorder_s = DEFAULT_PREORDER_S;
static int delay_unpaid_s = DEFAULT_UNPAID_S;

int64_t order_saga_shipping_fee(int64_t goods_amount)
{
    return goods_amount > ORDER_SAGA_FREE_SHIPPING_ABOVE ? 0 : ORDER_SAGA_SHIPPING_FEE;
}

int order_saga_breakdown(int64_t goods_price, int64_t goods_number, int64_t *goods_amount,
                         int64_t *shipping_fee, int64_t *order_amount)
{
    if (goods_number < 1 || goods_price < 0 || money_mul(goods_price, goods_number, goods_amount))
        return -1;
    *shipping_fee = order_saga_shipping_fee(*goods_amount);
    return money_add(*goods_amount, *shipping_fee, order_amount);
}

/* ------------------------------------------------------------ the edge */

int order_saga_text_check(const char *s, size_t len, size_t max_chars)
{
    size_t chars = 0;
    int visible = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int n = utf8_decode(s + i, len - i, &cp);
        if (n < 0)
            return -1;
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            return -1;
        if (cp != ' ' && cp != 0xA0 && cp != 0x3000)
            visible = 1;
        i += (size_t)n;
        chars++;
    }
    return chars >= 1 && chars <= max_chars && visible ? 0 : -1;
}

#define FIELD_FAIL(...)                                                                            \
    do {                                                                                           \
        snprintf(msg, msgsz, __VA_ARGS__);                                                         \
        return SHOP_REQUEST_PARAMETER_VALID;                                                       \
    } while (0)

/* A string member without embedded NULs; NULL when absent or JSON null. */
static int get_string(json_object *body, const char *key, json_object **v, const char **s)
{
    *v = json_object_object_get(body, key);
    *s = NULL;
    if (*v == NULL || json_object_is_type(*v, json_type_null))
        return 0;
    if (!json_object_is_type(*v, json_type_string))
        return -1;
    *s = json_object_get_string(*v);
    return (size_t)json_object_get_string_len(*v) == strlen(*s) ? 1 : -1;
}

static enum shop_code id_field(json_object *body, const char *key, int required, int64_t *out,
                               char *msg, size_t msgsz)
{
    json_object *v;
    const char *s;
    *out = 0;
    int st = get_string(body, key, &v, &s);
    if (st == 0 || (st == 1 && *s == '\0' && !required)) {
        if (required)
            FIELD_FAIL("%s is missing.", key);
        return SHOP_SUCCESS;
    }
    if (st < 0 || snowflake_parse(s, strlen(s), out) != 0)
        FIELD_FAIL("%s must be an id written as a decimal string, like \"1001\".", key);
    return SHOP_SUCCESS;
}

static enum shop_code money_field(json_object *body, const char *key, int required,
                                  enum money_sign sign, int64_t *out, char *msg, size_t msgsz)
{
    json_object *v;
    const char *s;
    *out = 0;
    int st = get_string(body, key, &v, &s);
    if (st == 0) {
        if (required)
            FIELD_FAIL("%s is missing.", key);
        return SHOP_SUCCESS;
    }
    if (st < 0 && v != NULL &&
        (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        FIELD_FAIL("%s must be a string like \"12.30\"; numbers are not accepted for money.", key);
    if (st < 0 || money_parse_str(s, sign, out) != 0)
        FIELD_FAIL("%s must be an amount%s with at most two decimals, like \"12.30\".", key,
                   sign == MONEY_NON_NEGATIVE ? " of at least 0" : "");
    return SHOP_SUCCESS;
}

static enum shop_code text_field(json_object *body, const char *key, size_t max_chars, char *out,
                                 size_t outsz, char *msg, size_t msgsz)
{
    json_object *v;
    const char *s;
    int st = get_string(body, key, &v, &s);
    if (st == 0)
        FIELD_FAIL("%s is missing.", key);
    size_t len = st > 0 ? strlen(s) : 0;
    if (st < 0 || len >= outsz || order_saga_text_check(s, len, max_chars) != 0)
        FIELD_FAIL("%s must be text of 1 to %zu characters.", key, max_chars);
    memcpy(out, s, len + 1);
    return SHOP_SUCCESS;
}

enum shop_code order_saga_request_from_json(struct json_object *body,
                                            struct order_saga_request *out, char *msg, size_t msgsz)
{
    enum shop_code rc;
    memset(out, 0, sizeof *out);
    if (body == NULL || !json_object_is_type(body, json_type_object))
        FIELD_FAIL("The order must be a JSON object.");
    if ((rc = id_field(body, "goods_id", 1, &out->goods_id, msg, msgsz)) != SHOP_SUCCESS)
        return rc;
    json_object *n = json_object_object_get(body, "goods_number");
    if (n == NULL || json_object_is_type(n, json_type_null))
        FIELD_FAIL("goods_number is missing.");
    if (!json_object_is_type(n, json_type_int))
        FIELD_FAIL("goods_number must be a whole number (a JSON integer) of at least 1.");
    int64_t num = json_object_get_int64(n);
    if (num < 1)
        FIELD_FAIL("goods_number must be at least 1.");
    if (num > ORDER_SAGA_NUMBER_MAX)
        FIELD_FAIL("goods_number must be at most %" PRId64 ".", ORDER_SAGA_NUMBER_MAX);
    out->goods_number = num;
    if ((rc = money_field(body, "goods_price", 1, MONEY_NON_NEGATIVE, &out->goods_price, msg,
                          msgsz)) != SHOP_SUCCESS ||
        (rc = money_field(body, "shipping_fee", 1, MONEY_NON_NEGATIVE, &out->shipping_fee, msg,
                          msgsz)) != SHOP_SUCCESS ||
        (rc = money_field(body, "order_amount", 1, MONEY_NON_NEGATIVE, &out->order_amount, msg,
                          msgsz)) != SHOP_SUCCESS ||
        (rc = id_field(body, "coupon_id", 0, &out->coupon_id, msg, msgsz)) != SHOP_SUCCESS ||
        (rc = money_field(body, "money_paid", 0, MONEY_ALLOW_NEGATIVE, &out->money_paid, msg,
                          msgsz)) != SHOP_SUCCESS ||
        (rc = text_field(body, "address", ORDER_ADDRESS_MAX, out->address, sizeof out->address, msg,
                         msgsz)) != SHOP_SUCCESS ||
        (rc = text_field(body, "consignee", ORDER_CONSIGNEE_MAX, out->consignee,
                         sizeof out->consignee, msg, msgsz)) != SHOP_SUCCESS)
        return rc;
    return SHOP_SUCCESS;
}

/* ------------------------------------------------------- delay queues */

static void delay_queue(const char *kind, char name[DELAY_QUEUE_MAX])
{
    pthread_mutex_lock(&delay_lock);
    int s = strcmp(kind, "preorder") == 0 ? delay_preorder_s : delay_unpaid_s;
    pthread_mutex_unlock(&delay_lock);
    snprintf(name, DELAY_QUEUE_MAX, "shop.delay.%s.%lld", kind, (long long)s * 1000);
}

static int declare_current(mq_conn *mq)
{
    char pre[DELAY_QUEUE_MAX], unpaid[DELAY_QUEUE_MAX];
    delay_queue("preorder", pre);
    delay_queue("unpaid", unpaid);
    pthread_mutex_lock(&delay_lock);
    int pre_ms = delay_preorder_s * 1000, unpaid_ms = delay_unpaid_s * 1000;
    pthread_mutex_unlock(&delay_lock);
    if (mq_declare_delay_queue(mq, pre, pre_ms, MQ_EXCHANGE, EV_ORDER_TIMEOUT) != MQ_OK ||
        mq_declare_delay_queue(mq, unpaid, unpaid_ms, MQ_EXCHANGE, EV_ORDER_TIMEOUT) != MQ_OK) {
        log_warn("order: delay queues not declared");
        return -1;
    }
    return 0;
}

int order_saga_delay_declare(mq_conn *mq, int preorder_timeout_s, int unpaid_timeout_s)
{
    pthread_mutex_lock(&delay_lock);
    if (preorder_timeout_s > 0)
        delay_preorder_s = preorder_timeout_s;
    if (unpaid_timeout_s > 0)
        delay_unpaid_s = unpaid_timeout_s;
    pthread_mutex_unlock(&delay_lock);
    return mq != NULL ? declare_current(mq) : -1;
}

/* ------------------------------------------------------------ the saga */

static int fault_at(const char *fault, const char *step)
{
    return fault != NULL && strcmp(fault, step) == 0;
}

/* Step 1: everything the contract checks, reading only. Fills o. */
static enum shop_code check(int64_t user_id, const struct order_saga_request *req, struct order *o)
{
    struct goods g;
    struct coupon cp;
    struct user u;
    enum shop_code rc;
    if (user_id <= 0)
        return SHOP_USER_IS_NULL;
    if ((rc = goods_get(goods_db(), req->goods_id, &g)) != SHOP_SUCCESS)
        return rc;
    if (req->goods_number < 1)
        return SHOP_REQUEST_PARAMETER_VALID;
    if (req->goods_price != g.goods_price)
        return SHOP_GOODS_PRICE_INVALID;
    if (req->goods_number > g.goods_number)
        return SHOP_GOODS_NUM_NOT_ENOUGH;
    int64_t amount, ship, total;
    if (money_mul(g.goods_price, req->goods_number, &amount) != 0)
        return SHOP_ORDERAMOUNT_INVALID;
    ship = order_saga_shipping_fee(amount);
    if (req->shipping_fee != ship)
        return SHOP_ORDER_SHIPPINGFEE_INVALID;
    if (money_add(amount, ship, &total) != 0 || req->order_amount != total)
        return SHOP_ORDERAMOUNT_INVALID;
    int64_t coupon_paid = 0;
    if (req->coupon_id != 0) {
        if ((rc = coupon_get(coupon_db(), req->coupon_id, &cp)) != SHOP_SUCCESS)
            return rc;
        if (cp.user_id != user_id) /* answered as a coupon that is not there */
            return SHOP_COUPON_NO_EXIST;
        if (cp.is_used)
            return SHOP_COUPON_INVALIED;
        coupon_paid = cp.coupon_price < total ? cp.coupon_price : total;
    }
    if (req->money_paid < 0)
        return SHOP_MONEY_PAID_LESS_ZERO;
    if ((rc = user_get(user_db(), user_id, &u)) != SHOP_SUCCESS)
        return rc;
    if (req->money_paid > u.user_money || req->money_paid > total - coupon_paid)
        return SHOP_MONEY_PAID_INVALID;

    memset(o, 0, sizeof *o);
    o->user_id = user_id;
    o->order_status = ORDER_UNCONFIRMED;
    snprintf(o->address, sizeof o->address, "%s", req->address);
    snprintf(o->consignee, sizeof o->consignee, "%s", req->consignee);
    o->goods_id = g.goods_id;
    o->goods_number = req->goods_number;
    o->goods_price = g.goods_price;
    o->goods_amount = amount;
    o->shipping_fee = ship;
    o->order_amount = total;
    o->coupon_id = req->coupon_id;
    o->coupon_paid = coupon_paid;
    o->money_paid = req->money_paid;
    o->pay_amount = total - coupon_paid - req->money_paid;
    return SHOP_SUCCESS;
}

/* Commit the order's order.timeout of `kind` into the outbox inside the
 * caller's transaction (msg_id and body filled for the send afterwards). */
static enum db_status add_timeout_tx(db_conn *db, const struct order *o, const char *kind,
                                     char *queue, char *msg_id, size_t idsz, struct buf *body)
{
    struct timeout_event ev = {.order_id = o->order_id};
    char key[SNOWFLAKE_STR_MAX];
    snprintf(ev.kind, sizeof ev.kind, "%s", kind);
    snowflake_format(o->order_id, key);
    snprintf(msg_id, idsz, EV_ORDER_TIMEOUT ":%s:%s", kind, key);
    delay_queue(kind, queue);
    if (event_timeout_build(&ev, body) != 0)
        return DB_ERR;
    return outbox_add_tx(db, "", queue, msg_id, key, buf_str(body));
}

/* How the saga reaches the broker: its thread's connection (the cancel, a
 * delay queue to declare) and the app's publisher pipe (the unpaid timeout). */
struct saga_pub {
    mq_conn *mq;
    struct mq_pipe *pipe;
    char check_id[80]; /* the pre-order's timeout, committed and pending in the outbox */
};

/* Publish a committed timeout through the pipe and mark it sent; a missing
 * delay queue is declared once. Not confirmed: the relay publishes it. */
static void send_timeout(db_conn *db, struct saga_pub *pub, const char *queue, const char *msg_id,
                         const struct buf *body)
{
    enum mq_status st = outbox_send_pipe(db, pub->pipe, "", queue, msg_id, buf_str(body), 1);
    if (st == MQ_ERR && declare_current(pub->mq) == 0)
        outbox_send_pipe(db, pub->pipe, "", queue, msg_id, buf_str(body), 1);
}

/* One transaction on the order database: `step` (the pre-order insert or the
 * confirm) together with the order's timeout. The unpaid timeout is
 * published after the confirm's commit; the pre-order's is not (see the top
 * of this file): the confirm's transaction marks it settled, or emit_cancel
 * does. *again: the commit met a deadlock (Galera's write conflict answers so
 * at COMMIT): nothing was written, the caller may run it once more. */
static enum shop_code order_tx_once(struct saga_pub *pub, const struct order *o, int confirm,
                                    int *again)
{
    db_conn *db = order_db();
    char queue[DELAY_QUEUE_MAX], msg_id[80];
    struct buf body;
    enum shop_code rc;
    int paid = o->pay_amount == 0;
    int with_timeout = !confirm || !paid;
    int publish = confirm && with_timeout;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    buf_init(&body, EVENT_BODY_MAX);
    enum db_status st = db_begin(db);
    if (st != DB_OK) {
        rc = st == DB_GONE ? SHOP_DB_UNAVAILABLE : SHOP_INTERNAL_ERROR;
        goto out;
    }
    rc = confirm ? order_confirm_tx(db, o->order_id, paid) : order_save_preorder_tx(db, o);
    if (rc == SHOP_SUCCESS && with_timeout) {
        st = add_timeout_tx(db, o, confirm ? "unpaid" : "preorder", queue, msg_id, sizeof msg_id,
                            &body);
        if (st != DB_OK) {
            log_error("order %" PRId64 ": timeout not stored: %s", o->order_id, db_error(db));
            rc = st == DB_GONE ? SHOP_DB_UNAVAILABLE
                               : (confirm ? SHOP_ORDER_CONFIRM_FAIL : SHOP_ORDER_SAVE_ERROR);
        }
    }
    if (rc == SHOP_SUCCESS && confirm && pub->check_id[0] != '\0')
        outbox_mark_sent(db, pub->check_id);
    if (rc != SHOP_SUCCESS) {
        db_rollback(db);
        goto out;
    }
    if ((st = db_commit(db)) != DB_OK) {
        *again = st == DB_DEADLOCK;
        db_rollback(db);
        log_error("order %" PRId64 ": %s not committed: %s", o->order_id,
                  confirm ? "confirm" : "pre-order", db_error(db));
        rc = st == DB_GONE ? SHOP_DB_UNAVAILABLE
                           : (confirm ? SHOP_ORDER_CONFIRM_FAIL : SHOP_ORDER_SAVE_ERROR);
        goto out;
    }
    if (confirm)
        pub->check_id[0] = '\0';
    else
        snprintf(pub->check_id, sizeof pub->check_id, "%s", msg_id);
    if (publish)
        send_timeout(db, pub, queue, msg_id, &body);
out:
    buf_free(&body);
    return rc;
}

static enum shop_code order_tx(struct saga_pub *pub, const struct order *o, int confirm)
{
    enum shop_code rc = SHOP_INTERNAL_ERROR;
    for (int attempt = 0; attempt <= FORWARD_TX_RETRIES; attempt++) {
        int again = 0;
        rc = order_tx_once(pub, o, confirm, &again);
        if (!again)
            break;
        log_warn("order %" PRId64 ": %s met a deadlock at commit (try %d)", o->order_id,
                 confirm ? "confirm" : "pre-order", attempt + 1);
    }
    return rc;
}

/* After a failure past the pre-order: the order's order.cancel, once. Once
 * the cancel is durable, the pre-order's timeout is not needed: settled. */
static void emit_cancel(struct saga_pub *pub, const struct order *o, enum shop_code why)
{
    mq_conn *mq = pub->mq;
    if (order_cancel_emit(order_db(), mq, o, why) != SHOP_SUCCESS) {
        /* The relay publishes the pre-order's timeout, which cancels it later. */
        log_error("order %" PRId64 ": cancel not emitted; left to the pre-order timeout",
                  o->order_id);
        return;
    }
    if (pub->check_id[0] != '\0')
        outbox_mark_sent(order_db(), pub->check_id);
    log_info("order %" PRId64 ": cancelled (%s)", o->order_id, shop_code_name(why));
}

enum shop_code order_saga_confirm(mq_conn *mq, struct mq_pipe *pipe, int64_t user_id,
                                  const struct order_saga_request *req, const char *fault,
                                  struct order *out)
{
    struct order o;
    enum shop_code rc;
    struct saga_pub pub = {.mq = mq, .pipe = pipe};
    memset(out, 0, sizeof *out);

    if ((rc = check(user_id, req, &o)) != SHOP_SUCCESS)
        return rc;

    o.order_id = snowflake_next(&shop_ids);
    if ((rc = order_tx(&pub, &o, 0)) != SHOP_SUCCESS)
        return rc; /* nothing was written */
    if (fault_at(fault, "after_preorder")) {
        rc = SHOP_ORDER_CONFIRM_FAIL;
        goto cancel;
    }

    rc = goods_reduce_stock(goods_db(), o.goods_id, o.order_id, o.goods_number);
    if (rc != SHOP_SUCCESS)
        goto cancel;
    if (fault_at(fault, "after_stock")) {
        rc = SHOP_ORDER_CONFIRM_FAIL;
        goto cancel;
    }

    if (o.coupon_id != 0 &&
        (rc = coupon_use(coupon_db(), o.coupon_id, user_id, o.order_id)) != SHOP_SUCCESS)
        goto cancel;
    if (fault_at(fault, "after_coupon")) {
        rc = SHOP_ORDER_CONFIRM_FAIL;
        goto cancel;
    }

    if (o.money_paid > 0 &&
        (rc = user_money_reduce(user_db(), user_id, o.order_id, o.money_paid)) != SHOP_SUCCESS)
        goto cancel;
    if (fault_at(fault, "after_balance")) {
        rc = SHOP_ORDER_CONFIRM_FAIL;
        goto cancel;
    }

    if ((rc = order_tx(&pub, &o, 1)) != SHOP_SUCCESS)
        goto cancel;

    if (order_get_any(order_db(), o.order_id, out) != SHOP_SUCCESS) {
        /* Confirmed; only the re-read failed: answer with what we know. */
        *out = o;
        out->order_status = ORDER_CONFIRMED;
        out->pay_status = o.pay_amount == 0 ? PAY_PAID : PAY_UNPAID;
    }
    log_info("order %" PRId64 ": confirmed (user %" PRId64 ", goods %" PRId64 " x %" PRId64 ")",
             o.order_id, user_id, o.goods_id, o.goods_number);
    return SHOP_SUCCESS;

cancel:
    log_warn("order %" PRId64 ": saga failed with %s; cancelling", o.order_id, shop_code_name(rc));
    emit_cancel(&pub, &o, rc);
    *out = o;
    return rc;
}
