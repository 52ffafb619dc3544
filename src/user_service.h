/* user_service: the user service owns trade_user, trade_user_money_log (and
 * the account tables of auth.c). Every statement on them is here. */
#ifndef SHOP_USER_SERVICE_H
#define SHOP_USER_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"
#include "mq.h"

#define USER_NAME_MIN   3
#define USER_NAME_MAX   32 /* letters, digits, '_', '-', '.' */
#define USER_MOBILE_MAX 20 /* digits, optional leading '+' */

struct user {
    int64_t user_id;
    char user_name[USER_NAME_MAX + 1];
    char user_mobile[USER_MOBILE_MAX + 1];
    int64_t user_score;
    int64_t user_money;     /* cents */
    char user_reg_time[32]; /* ISO 8601 UTC */
};

/* Why registration fields are refused: NULL when name, mobile and password
 * are all acceptable, else a static message naming the first bad field (for
 * the user to read, e.g. "user_name must be 3 to 32 letters, ..."). Rules:
 * name USER_NAME_MIN..USER_NAME_MAX of [A-Za-z0-9_.-] and not only digits
 * (a login of digits is a mobile); mobile an optional leading '+' then 6 or
 * more digits, at most USER_MOBILE_MAX chars in all; password
 * AUTH_PASSWORD_MIN..AUTH_PASSWORD_MAX bytes. Any argument may be NULL
 * (reported as missing). */
const char *user_validate(const char *name, const char *mobile, const char *password);

/* This thread's connection to the user service's own database
 * (db_for(DB_USER): user_db_name, or the main database when it has none);
 * NULL when it is down. auth (sessions, login brakes: tables of the user
 * service) uses it too. */
db_conn *user_db(void);

/* Register: validates name, mobile and password (user_validate; a refusal is
 * SHOP_REQUEST_PARAMETER_VALID, call user_validate for the words), hashes
 * the password, inserts with a new snowflake id, balance 0. SHOP_USER_EXISTS
 * on a taken name or mobile. */
enum shop_code user_register(db_conn *db, const char *name, const char *mobile,
                             const char *password, struct user *out);

/* 1 when login can name an account (USER_NAME_MAX characters at most, a
 * user name's characters or a mobile number), else 0: anything else (other
 * bytes, invalid UTF-8) is bad input, not a failed login. */
int user_login_well_formed(const char *login);

/* The account a login names (by name or mobile): SHOP_SUCCESS with
 * *user_id, SHOP_USER_NO_EXIST (*user_id 0), SHOP_DB_UNAVAILABLE. */
enum shop_code user_find_login(db_conn *db, const char *login, int64_t *user_id);

/* Log in by name or mobile: SHOP_SUCCESS with *out, SHOP_LOGIN_FAILED,
 * SHOP_BUSY when too many password checks run at once. */
enum shop_code user_authenticate(db_conn *db, const char *login, const char *password,
                                 struct user *out);

/* SHOP_SUCCESS, SHOP_USER_NO_EXIST, SHOP_DB_UNAVAILABLE. */
enum shop_code user_get(db_conn *db, int64_t user_id, struct user *out);

struct json_object;
/* {user_id (string), user_name, user_mobile, user_score, user_money "12.30",
 * user_reg_time}; never the password hash. New reference. */
/* The operators' audit log (trade_admin_log): what an operator did that is
 * not about one order (action "goods.create", "goods.edit", "goods.stock",
 * "coupon.issue"; target the goods or coupon id; detail cut to
 * USER_ADMIN_DETAIL_MAX bytes). user_admin_log_json: the last 20 rows,
 * newest first, as a JSON array of text columns (new reference). */
#define USER_ADMIN_DETAIL_MAX 500
enum shop_code user_admin_log(db_conn *db, int64_t operator_id, const char *operator_name,
                              const char *action, int64_t target_id, const char *detail);
struct json_object;
enum shop_code user_admin_log_json(db_conn *db, struct json_object **out);

struct json_object *user_to_json(const struct user *u);

/* Saga step 5, its own transaction: refuse (SHOP_USER_MONEY_REDUCE_FAIL)
 * when the user consumer already reversed this order (consumer log
 * "user"/"order.cancel"/order_id); UPDATE trade_user SET user_money =
 * user_money - ? WHERE user_id = ? AND user_money >= ?; INSERT money log
 * type 1. SHOP_MONEY_PAID_INVALID when the balance is not enough. cents > 0. */
enum shop_code user_money_reduce(db_conn *db, int64_t user_id, int64_t order_id, int64_t cents);

/* 1 point per whole yuan (100 cents) of a payment. */
#define USER_POINTS_OF(cents) ((cents) / 100)

/* The user service's consumer (queue shop.user), an mq_handler; ud unused.
 * "order.paid": in one transaction, the consumer-log row ("user",
 * "order.paid", order_id) first, then USER_POINTS_OF(pay_amount) points,
 * unless the order's order.refund was handled already. "order.refund" (a
 * payment for an order cancelled meanwhile): the row ("user",
 * "order.refund", order_id), then the points of that order.paid are taken
 * back if they were given. Each at most once, in either order.
 * "order.cancel": in one transaction on user_db(), the consumer-log row
 * ("user", "order.cancel", order_id) first, then the balance the order used
 * is given back (money log type 2), once. A
 * redelivery (the row exists) is acked without effect; a body that is not
 * an order.cancel is MQ_REJECT; a database failure rolls back and is
 * MQ_RETRY. Other routing keys are acked and ignored. */
enum mq_verdict user_on_event(const struct mq_message *m, void *ud);
/* The same for a batch at once (mq_batch.all, inside the batch's
 * transaction): a batch of order.paid only is applied with multi-row
 * statements (the log rows, the refunds recorded before: one each per 16)
 * and one points update each; any other batch is handled message by
 * message. Non-zero (the batch then goes one by one) on a database failure
 * or when an order's refund was recorded before. */
int user_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts,
                  void *ud);

#endif
