/* user_service: trade_user and trade_user_money_log — registration, login,
 * the balance step of the order saga (step 5), its reversal, and the user
 * service's consumer of order.cancel. */
#include "user_service.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "consumer_log.h"
#include "events.h"
#include "log.h"
#include "money.h"
#include "snowflake.h"
#include "utf8.h"

db_conn *user_db(void)
{
    return db_for(DB_USER);
}

#define USER_COLUMNS "user_id, user_name, user_mobile, user_score, user_money, user_reg_time"

static const char SQL_INSERT[] =
    "INSERT INTO trade_user (user_id, user_name, user_password, user_mobile, user_score, "
    "user_reg_time, user_money) VALUES (?, ?, ?, ?, 0, UTC_TIMESTAMP(3), 0.00)";
static const char SQL_GET[] = "SELECT " USER_COLUMNS " FROM trade_user WHERE user_id = ?";
static const char SQL_BY_NAME[] =
    "SELECT " USER_COLUMNS ", user_password FROM trade_user WHERE user_name = ?";
static const char SQL_BY_MOBILE[] =
    "SELECT " USER_COLUMNS ", user_password FROM trade_user WHERE user_mobile = ?";

/* Amounts are bound as the text "12.30" and cast, so that the arithmetic is
 * DECIMAL (exact), never DOUBLE. */
static const char SQL_MONEY_REDUCE[] =
    "UPDATE trade_user SET user_money = user_money - CAST(? AS DECIMAL(10,2)) "
    "WHERE user_id = ? AND user_money >= CAST(? AS DECIMAL(10,2))";
static const char SQL_MONEY_ADD[] =
    "UPDATE trade_user SET user_money = user_money + CAST(? AS DECIMAL(10,2)) WHERE user_id = ?";
static const char SQL_LOG_INSERT[] =
    "INSERT INTO trade_user_money_log (user_id, order_id, money_log_type, use_money, "
    "create_time) VALUES (?, ?, ?, CAST(? AS DECIMAL(10,2)), UTC_TIMESTAMP(3))";
static const char SQL_LOG_PAID[] =
    "SELECT use_money FROM trade_user_money_log "
    "WHERE user_id = ? AND order_id = ? AND money_log_type = 1 FOR UPDATE";

#define MONEY_LOG_PAID   1
#define MONEY_LOG_REFUND 2

/* A valid argon2id hash of a random password nobody knows: a login for a
 * user that does not exist is verified against it, so that it takes as long
 * as one with a wrong password. */
static const char DUMMY_HASH[] = "$argon2id$v=19$m=65536,t=2,p=1$abrDPYODExg1gtRRqtOCGw$"
                                 "B8qNTfJITSMfxurllJbI/J9DEUeFGc+guCwa1Z+OErI";

/* ---- validation ---------------------------------------------------------- */

static int name_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.';
}

/* An optional '+' then only digits, at least 6 of them, at most
 * USER_MOBILE_MAX chars in all. */
static int mobile_ok(const char *m)
{
    size_t len = strnlen(m, USER_MOBILE_MAX + 1);
    if (len > USER_MOBILE_MAX)
        return 0;
    const char *d = m[0] == '+' ? m + 1 : m;
    size_t digits = 0;
    for (; d[digits] != '\0'; digits++)
        if (d[digits] < '0' || d[digits] > '9')
            return 0;
    return digits >= 6;
}

/* A login that is a mobile number (names are never only digits). */
static int looks_like_mobile(const char *login)
{
    const char *d = login[0] == '+' ? login + 1 : login;
    if (*d == '\0')
        return 0;
    for (; *d != '\0'; d++)
        if (*d < '0' || *d > '9')
            return 0;
    return 1;
}

const char *user_validate(const char *name, const char *mobile, const char *password)
{
    if (name == NULL || name[0] == '\0')
        return "user_name is required";
    size_t len = strnlen(name, USER_NAME_MAX + 1);
    int all_digits = 1;
    for (size_t i = 0; i < len; i++) {
        if (!name_char(name[i]))
            return "user_name must be 3 to 32 letters, digits, '_', '-' or '.'";
        if (name[i] < '0' || name[i] > '9')
            all_digits = 0;
    }
    if (len < USER_NAME_MIN || len > USER_NAME_MAX)
        return "user_name must be 3 to 32 letters, digits, '_', '-' or '.'";
    if (all_digits)
        return "user_name must not be only digits (that would look like a mobile number)";
    if (mobile == NULL || mobile[0] == '\0')
        return "user_mobile is required";
    if (!mobile_ok(mobile))
        return "user_mobile must be 6 to 20 digits, optionally after a leading '+'";
    if (password == NULL || password[0] == '\0')
        return "password is required";
    size_t plen = strnlen(password, AUTH_PASSWORD_MAX + 1);
    if (plen < AUTH_PASSWORD_MIN || plen > AUTH_PASSWORD_MAX)
        return "password must be 8 to 128 characters long";
    if (!utf8_valid(password, plen))
        return "password must be text (valid UTF-8)";
    return NULL;
}

/* ---- rows ------------------------------------------------------------------ */

static int row_to_user(const db_result *r, size_t row, struct user *u)
{
    memset(u, 0, sizeof *u);
    u->user_id = db_result_i64(r, row, 0, 0);
    db_result_text(r, row, 1, u->user_name, sizeof u->user_name);
    db_result_text(r, row, 2, u->user_mobile, sizeof u->user_mobile);
    u->user_score = db_result_i64(r, row, 3, 0);
    const char *money = db_result_get(r, row, 4);
    if (money == NULL || money_parse_str(money, MONEY_NON_NEGATIVE, &u->user_money) != 0) {
        log_error("user %" PRId64 ": bad balance in database", u->user_id);
        return -1;
    }
    db_time_to_iso(db_result_get(r, row, 5), u->user_reg_time, sizeof u->user_reg_time);
    return 0;
}

enum shop_code user_get(db_conn *db, int64_t user_id, struct user *out)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    if (user_id <= 0)
        return SHOP_USER_NO_EXIST;
    struct db_val id = DB_I64(user_id);
    db_result *r = NULL;
    enum db_status st = db_query(db, SQL_GET, &id, 1, 1, &r);
    if (st != DB_OK)
        return db_shop_code(st);
    enum shop_code rc = SHOP_USER_NO_EXIST;
    if (db_result_rows(r) == 1)
        rc = row_to_user(r, 0, out) == 0 ? SHOP_SUCCESS : SHOP_INTERNAL_ERROR;
    db_result_free(r);
    return rc;
}

enum shop_code user_register(db_conn *db, const char *name, const char *mobile,
                             const char *password, struct user *out)
{
    if (user_validate(name, mobile, password) != NULL)
        return SHOP_REQUEST_PARAMETER_VALID;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    char hash[crypto_pwhash_STRBYTES];
    int hashed = auth_password_hash(password, hash, sizeof hash);
    if (hashed != 0)
        return hashed == AUTH_BUSY ? SHOP_BUSY : SHOP_INTERNAL_ERROR;
    int64_t id = snowflake_next(&shop_ids);
    struct db_val p[] = {DB_I64(id), DB_TEXT(name), DB_TEXT(hash), DB_TEXT(mobile)};
    enum db_status st = db_exec(db, SQL_INSERT, p, 4, NULL);
    if (st == DB_DUPLICATE)
        return SHOP_USER_EXISTS;
    if (st != DB_OK)
        return db_shop_code(st);
    log_info("user: registered %s as user %" PRId64, name, id);
    return user_get(db, id, out);
}

int user_login_well_formed(const char *login)
{
    size_t len = login ? strnlen(login, USER_NAME_MAX + 1) : 0;
    if (len == 0 || len > USER_NAME_MAX)
        return 0;
    if (looks_like_mobile(login))
        return 1;
    for (size_t i = 0; i < len; i++)
        if (!name_char(login[i]))
            return 0;
    return 1;
}

/* The row of the account login names (with its hash, column 6), or none. */
static enum db_status find_login(db_conn *db, const char *login, db_result **r)
{
    struct db_val p = DB_TEXT(login);
    return db_query(db, looks_like_mobile(login) ? SQL_BY_MOBILE : SQL_BY_NAME, &p, 1, 1, r);
}

enum shop_code user_find_login(db_conn *db, const char *login, int64_t *user_id)
{
    *user_id = 0;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    if (!user_login_well_formed(login))
        return SHOP_USER_NO_EXIST;
    db_result *r = NULL;
    enum db_status st = find_login(db, login, &r);
    if (st != DB_OK)
        return db_shop_code(st);
    if (db_result_rows(r) == 1)
        *user_id = db_result_i64(r, 0, 0, 0);
    db_result_free(r);
    return *user_id > 0 ? SHOP_SUCCESS : SHOP_USER_NO_EXIST;
}

enum shop_code user_authenticate(db_conn *db, const char *login, const char *password,
                                 struct user *out)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    if (password == NULL || !user_login_well_formed(login)) {
        auth_password_verify(DUMMY_HASH, "");
        return SHOP_LOGIN_FAILED;
    }
    db_result *r = NULL;
    enum db_status st = find_login(db, login, &r);
    if (st != DB_OK)
        return db_shop_code(st);
    int found = db_result_rows(r) == 1;
    int ok = auth_password_verify(found ? db_result_get(r, 0, 6) : DUMMY_HASH, password);
    enum shop_code rc = SHOP_LOGIN_FAILED;
    if (ok == AUTH_BUSY)
        rc = SHOP_BUSY;
    else if (ok == 1 && found)
        rc = row_to_user(r, 0, out) == 0 ? SHOP_SUCCESS : SHOP_INTERNAL_ERROR;
    db_result_free(r);
    return rc;
}

struct json_object *user_to_json(const struct user *u)
{
    char id[SNOWFLAKE_STR_MAX];
    snowflake_format(u->user_id, id);
    json_object *o = json_object_new_object();
    if (o == NULL)
        return NULL;
    json_object_object_add(o, "user_id", json_object_new_string(id));
    json_object_object_add(o, "user_name", json_object_new_string(u->user_name));
    json_object_object_add(o, "user_mobile", json_object_new_string(u->user_mobile));
    json_object_object_add(o, "user_score", json_object_new_int64(u->user_score));
    money_json_add(o, "user_money", u->user_money);
    json_object_object_add(o, "user_reg_time",
                           u->user_reg_time[0] ? json_object_new_string(u->user_reg_time) : NULL);
    return o;
}

/* ---- the balance step and its reversal ------------------------------------ */

struct reduce_ctx {
    int64_t user_id, order_id;
    char amount[MONEY_STR_MAX];
};

/* The balance step's effect: a conditional update (never below zero) and
 * the money log row the reversal refunds by. */
static enum shop_code money_reduce_effect(db_conn *db, void *ctx, enum db_status *st)
{
    const struct reduce_ctx *u = ctx;
    uint64_t n = 0;
    struct db_val up[] = {DB_TEXT(u->amount), DB_I64(u->user_id), DB_TEXT(u->amount)};
    if ((*st = db_exec(db, SQL_MONEY_REDUCE, up, 3, &n)) != DB_OK)
        return SHOP_USER_MONEY_REDUCE_FAIL;
    if (n == 0)
        return SHOP_MONEY_PAID_INVALID;
    struct db_val lp[] = {DB_I64(u->user_id), DB_I64(u->order_id), DB_I64(MONEY_LOG_PAID),
                          DB_TEXT(u->amount)};
    enum db_status ls = db_exec(db, SQL_LOG_INSERT, lp, 4, NULL);
    if (ls == DB_DUPLICATE)
        return SHOP_USER_MONEY_REDUCE_FAIL; /* this order paid from the balance already */
    if ((*st = ls) != DB_OK)
        return SHOP_USER_MONEY_REDUCE_FAIL;
    log_info("user: paid %s from the balance of user %" PRId64 " for order %" PRId64, u->amount,
             u->user_id, u->order_id);
    return SHOP_SUCCESS;
}

enum shop_code user_money_reduce(db_conn *db, int64_t user_id, int64_t order_id, int64_t cents)
{
    if (cents < 0)
        return SHOP_MONEY_PAID_LESS_ZERO;
    if (cents == 0 || cents > MONEY_MAX_CENTS)
        return SHOP_MONEY_PAID_INVALID;
    struct reduce_ctx u = {.user_id = user_id, .order_id = order_id};
    money_format(cents, u.amount);
    return consumer_forward_step(db, GROUP_USER, order_id, "paying from the balance",
                                 SHOP_USER_MONEY_REDUCE_FAIL, money_reduce_effect, &u);
}

/* Reversal, inside the caller's transaction (the consumer's, which also
 * writes the consumer-log row): if a type-1 log exists for (user, order) and
 * no type-2, add its amount back and insert type 2; *cents is the amount
 * refunded. Returns 1 refunded, 0 nothing to reverse, or a negative
 * enum db_status. */
static int refund_tx(db_conn *db, int64_t user_id, int64_t order_id, int64_t *cents)
{
    *cents = 0;
    struct db_val k[] = {DB_I64(user_id), DB_I64(order_id)};
    db_result *r = NULL;
    enum db_status st = db_query(db, SQL_LOG_PAID, k, 2, 1, &r);
    if (st != DB_OK)
        return st;
    if (db_result_rows(r) == 0) {
        db_result_free(r);
        return 0;
    }
    char amount[MONEY_STR_MAX];
    const char *paid = db_result_get(r, 0, 0);
    int64_t c = 0;
    int bad = paid == NULL || money_parse_str(paid, MONEY_NON_NEGATIVE, &c) != 0;
    db_result_free(r);
    if (bad) {
        log_error("user: bad use_money for user %" PRId64 " order %" PRId64, user_id, order_id);
        return DB_ERR;
    }
    money_format(c, amount);
    struct db_val lp[] = {DB_I64(user_id), DB_I64(order_id), DB_I64(MONEY_LOG_REFUND),
                          DB_TEXT(amount)};
    st = db_exec(db, SQL_LOG_INSERT, lp, 4, NULL);
    if (st == DB_DUPLICATE)
        return 0; /* refunded before */
    if (st != DB_OK)
        return st;
    uint64_t n = 0;
    struct db_val up[] = {DB_TEXT(amount), DB_I64(user_id)};
    st = db_exec(db, SQL_MONEY_ADD, up, 2, &n);
    if (st != DB_OK)
        return st;
    if (n != 1) {
        log_error("user: refund for order %" PRId64 " found no user %" PRId64, order_id, user_id);
        return DB_ERR;
    }
    *cents = c;
    return 1;
}

/* ---- the consumer ---------------------------------------------------------- */

static enum mq_verdict on_points(const struct mq_message *m, int award);

struct refund_ctx {
    const struct cancel_event *ev;
    int64_t cents;
};

/* The reversal of step 5, after the consumer-log row (which takes the lock a
 * concurrent user_money_reduce of the same order waits for). */
static int refund_effect(db_conn *db, void *ctx)
{
    struct refund_ctx *rc = ctx;
    return refund_tx(db, rc->ev->user_id, rc->ev->order_id, &rc->cents);
}

enum mq_verdict user_on_event(const struct mq_message *m, void *ud)
{
    (void)ud;
    if (strcmp(m->routing_key, EV_ORDER_PAID) == 0)
        return on_points(m, 1);
    if (strcmp(m->routing_key, EV_ORDER_REFUND) == 0)
        return on_points(m, 0);
    if (strcmp(m->routing_key, EV_ORDER_CANCEL) != 0)
        return MQ_ACK;
    struct cancel_event ev;
    if (event_cancel_parse(m->body, m->body_len, &ev) != 0) {
        log_warn("user: message %s is not an order.cancel; parked", m->message_id);
        return MQ_REJECT;
    }
    char key[SNOWFLAKE_STR_MAX];
    snowflake_format(ev.order_id, key);
    struct refund_ctx ctx = {.ev = &ev};
    int done;
    enum consumer_outcome o =
        consumer_apply_once(user_db(), GROUP_USER, key, m, refund_effect, &ctx, &done);
    if (o == CONSUMER_APPLIED && done == 1) {
        char amount[MONEY_STR_MAX];
        log_info("user: refunded %s to user %" PRId64 " for order %s",
                 money_format(ctx.cents, amount), ev.user_id, key);
    } else if (o == CONSUMER_APPLIED) {
        log_info("user: nothing to refund for order %s", key);
    }
    return consumer_verdict(o);
}

/* ---- points ---------------------------------------------------------------- */

static const char SQL_POINTS_ADD[] =
    "UPDATE trade_user SET user_score = "
    "LEAST(GREATEST(CAST(user_score AS SIGNED) + ?, 0), 2147483647) WHERE user_id = ?";

/* Points, inside the caller's transaction: user_score += points (negative
 * takes points back; the score stays within 0..INT_MAX). Returns 1 changed,
 * 0 nothing changed (no such user, or the score at its bound), or a
 * negative enum db_status. */
static int user_points_add_tx(db_conn *db, int64_t user_id, int64_t points)
{
    struct db_val p[] = {DB_I64(points), DB_I64(user_id)};
    uint64_t n = 0;
    enum db_status st = db_exec(db, SQL_POINTS_ADD, p, 2, &n);
    if (st != DB_OK)
        return (int)st;
    return n > 0 ? 1 : 0;
}

/* order.paid (award 1) or order.refund (award 0). The refund's row is the
 * tombstone a late order.paid finds; the paid row tells the refund that
 * there are points to take back. */
static enum mq_verdict on_points(const struct mq_message *m, int award)
{
    const char *tag = award ? EV_ORDER_PAID : EV_ORDER_REFUND;
    const char *other = award ? EV_ORDER_REFUND : EV_ORDER_PAID;
    struct paid_event ev;
    if (event_paid_parse(m->body, m->body_len, &ev) != 0) {
        log_warn("user: message %s is not an %s; parked", m->message_id, tag);
        return MQ_REJECT;
    }
    db_conn *db = user_db();
    if (db == NULL)
        return MQ_RETRY;
    char key[SNOWFLAKE_STR_MAX];
    snowflake_format(ev.order_id, key);
    int64_t points = USER_POINTS_OF(ev.pay_amount);
    if (db_begin(db) != DB_OK)
        return MQ_RETRY;
    enum db_status st =
        consumer_log_insert(db, GROUP_USER, tag, key, m->message_id, m->body, m->body_len);
    if (st == DB_DUPLICATE) {
        db_rollback(db);
        log_info("user: %s for order %s handled before; nothing to do", tag, key);
        return MQ_ACK;
    }
    if (st != DB_OK)
        goto retry;
    int seen = consumer_log_exists(db, GROUP_USER, other, key);
    if (seen < 0)
        goto retry;
    /* Award unless refunded already; take back only what was awarded. */
    int apply = award ? !seen : seen;
    int done = 0;
    if (apply && points > 0) {
        done = user_points_add_tx(db, ev.user_id, award ? points : -points);
        if (done < 0)
            goto retry;
        if (done == 0)
            log_warn("user: %s for order %s changed no score (user %" PRId64
                     " unknown or at the bound); recorded",
                     tag, key, ev.user_id);
    }
    if (db_commit(db) != DB_OK) {
        log_warn("user: commit of %s for order %s failed; retrying", tag, key);
        return MQ_RETRY;
    }
    if (done == 1)
        log_info("user: %s %" PRId64 " points %s user %" PRId64 " for order %s",
                 award ? "added" : "took back", points, award ? "to" : "from", ev.user_id, key);
    else
        log_info("user: %s for order %s: no points to %s", tag, key, award ? "add" : "take back");
    return MQ_ACK;
retry:
    db_rollback(db);
    log_warn("user: %s for order %s failed (%s); retrying", tag, key, db_error(db));
    return MQ_RETRY;
}

/* A batch of order.paid only (the notifications' common case), with
 * REFUND_ROWS orders a statement (the last one repeated): the log rows in
 * one statement, the refunds recorded before looked up by one, then the
 * points. A refund recorded before sends the batch one by one (on_points
 * decides). */
#define REFUND_ROWS 16
static const char SQL_REFUNDED_ANY[] =
    "SELECT 1 FROM trade_mq_consumer_log WHERE group_name = ? AND msg_tag = ? AND msg_key IN "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) LIMIT 1 LOCK IN SHARE MODE";

/* 1 when an order of ps[from, to) has its order.refund recorded, 0 when
 * none, or a negative enum db_status. */
static int refunded_any_tx(db_conn *db, const struct paid_claim *ps, size_t from, size_t to)
{
    struct db_val p[2 + REFUND_ROWS] = {DB_TEXT(GROUP_USER), DB_TEXT(EV_ORDER_REFUND)};
    for (size_t j = 0; j < REFUND_ROWS; j++)
        p[2 + j] = DB_TEXT(ps[from + j < to ? from + j : to - 1].key);
    db_result *r = NULL;
    enum db_status st = db_query(db, SQL_REFUNDED_ANY, p, 2 + REFUND_ROWS, 1, &r);
    int any = st == DB_OK && db_result_rows(r) > 0;
    db_result_free(r);
    return st != DB_OK ? (int)st : any;
}

/* Points for many users at once (the last one repeated):
 * ELT(FIELD(user_id, ids), points) is the row's user's points. */
#define Q16 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
static const char SQL_POINTS_ADD_MANY[] =
    "UPDATE trade_user SET user_score = LEAST(GREATEST(CAST(user_score AS SIGNED) + "
    "CAST(ELT(FIELD(user_id, " Q16 "), " Q16 ") AS SIGNED), 0), 2147483647) "
    "WHERE user_id IN (" Q16 ")";

/* user_points_add_tx for users[0, n) (distinct) with points[]: one
 * statement a REFUND_ROWS. */
static enum db_status points_add_many_tx(db_conn *db, const int64_t *users, const int64_t *points,
                                         size_t n)
{
    struct db_val p[3 * REFUND_ROWS];
    for (size_t done = 0; done < n; done += REFUND_ROWS) {
        for (size_t j = 0; j < REFUND_ROWS; j++) {
            size_t i = done + j < n ? done + j : n - 1;
            p[j] = p[2 * REFUND_ROWS + j] = DB_I64(users[i]);
            p[REFUND_ROWS + j] = DB_I64(points[i]);
        }
        uint64_t changed = 0;
        enum db_status st = db_exec(db, SQL_POINTS_ADD_MANY, p, 3 * REFUND_ROWS, &changed);
        if (st != DB_OK)
            return st;
        uint64_t rows = n - done < REFUND_ROWS ? n - done : REFUND_ROWS;
        if (changed != rows)
            log_warn("user: %" PRIu64 " of %" PRIu64 " users' scores unchanged (unknown or at "
                     "the bound); recorded",
                     rows - changed, rows);
    }
    return DB_OK;
}

/* Award the points of the fresh ps, summed per user; 0, or -1 to go one by
 * one. */
static int points_apply_tx(db_conn *db, const struct paid_claim *ps, size_t n)
{
    for (size_t j = 0; j < n; j += REFUND_ROWS)
        if (refunded_any_tx(db, ps, j, j + REFUND_ROWS < n ? j + REFUND_ROWS : n) != 0)
            return -1;
    int64_t *users = calloc(n + 1, sizeof *users), *points = calloc(n + 1, sizeof *points);
    size_t k = 0;
    int rc = -1;
    if (users == NULL || points == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        int64_t add = USER_POINTS_OF(ps[i].ev.pay_amount);
        log_info("user: %" PRId64 " points for user %" PRId64 " for order %s", add,
                 ps[i].ev.user_id, ps[i].key);
        if (add <= 0)
            continue;
        size_t u = 0;
        while (u < k && users[u] != ps[i].ev.user_id)
            u++;
        users[u] = ps[i].ev.user_id;
        points[u] += add;
        k += u == k;
    }
    rc = points_add_many_tx(db, users, points, k) == DB_OK ? 0 : -1;
out:
    free(points);
    free(users);
    return rc;
}

/* The batch of order.paid: parse, claim the log rows, award the fresh. */
static int points_batch(db_conn *db, const struct mq_message *const *ms, size_t n,
                        enum mq_verdict *verdicts)
{
    struct paid_claim *ps = calloc(n, sizeof *ps);
    size_t fresh = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++)
        verdicts[i] = MQ_ACK;
    if (ps != NULL && consumer_log_claim_paid(db, GROUP_USER, ms, n, ps, &fresh) == 0)
        rc = points_apply_tx(db, ps, fresh);
    free(ps);
    return rc;
}

int user_on_batch(const struct mq_message *const *ms, size_t n, enum mq_verdict *verdicts, void *ud)
{
    return consumer_paid_batch(user_db(), ms, n, verdicts, ud, points_batch, user_on_event);
}

/* ------------------------------------------------ the operators' audit log */

static const char SQL_ADMIN_LOG[] =
    "INSERT INTO trade_admin_log (admin_log_id, operator_id, operator_name, action, target_id, "
    "detail, created_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(3))";
static const char SQL_ADMIN_LOG_LIST[] =
    "SELECT CAST(admin_log_id AS CHAR) AS admin_log_id, operator_name, action, "
    "CAST(target_id AS CHAR) AS target_id, detail, created_at FROM trade_admin_log "
    "ORDER BY admin_log_id DESC LIMIT 20";

enum shop_code user_admin_log(db_conn *db, int64_t operator_id, const char *operator_name,
                              const char *action, int64_t target_id, const char *detail)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    struct db_val p[] = {DB_I64(snowflake_next(&shop_ids)),
                         DB_I64(operator_id),
                         DB_TEXT(operator_name),
                         DB_TEXT(action),
                         DB_I64(target_id),
                         DB_TEXTN(detail, strnlen(detail, USER_ADMIN_DETAIL_MAX))};
    enum db_status st = db_exec(db, SQL_ADMIN_LOG, p, sizeof p / sizeof p[0], NULL);
    if (st != DB_OK)
        log_error("admin log: %s of %" PRId64 " by %s not written", action, target_id,
                  operator_name);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

enum shop_code user_admin_log_json(db_conn *db, struct json_object **out)
{
    db_result *r = NULL;
    *out = NULL;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, SQL_ADMIN_LOG_LIST, NULL, 0, 20, &r);
    if (st == DB_OK)
        *out = db_result_json(r);
    db_result_free(r);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}
