/* auth: passwords (argon2id), sessions (only the token's SHA-256 is stored),
 * CSRF tokens and the failed-login brake. The tables are trade_session and
 * trade_login_brake (sql/user/0002_accounts.sql, 0003_login_brake.sql), in the user
 * service's database. */
#include "auth.h"

#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

/* Brake rows older than this are deleted opportunistically (the longest
 * forget_s the configuration allows). */
#define AUTH_BRAKE_KEEP_S 86400
/* A brake whose row stays locked by a deadlock is tried this often. */
#define AUTH_BRAKE_TRIES 3
/* The longest exponent of the brake's delay (2^20 s is beyond any cap). */
#define AUTH_BRAKE_SHIFT_MAX 20

/* Password hashes running now, and how many may (0: no limit). */
static atomic_int hashes_running;
static atomic_int hashes_allowed;

static const char SQL_SESSION_INSERT[] =
    "INSERT INTO trade_session (session_hash, user_id, csrf_token, created_at, expires_at) "
    "VALUES (UNHEX(?), ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? SECOND)";
static const char SQL_SESSION_LOOKUP[] =
    "SELECT s.user_id, u.user_name, s.csrf_token, u.user_is_operator FROM trade_session s "
    "JOIN trade_user u ON u.user_id = s.user_id "
    "WHERE s.session_hash = UNHEX(?) AND s.expires_at > UTC_TIMESTAMP(3)";
static const char SQL_SESSION_DELETE[] = "DELETE FROM trade_session WHERE session_hash = UNHEX(?)";
/* The cleanups delete at most 100 stale rows per opportunity. */
static const char SQL_SESSION_EXPIRED[] =
    "DELETE FROM trade_session WHERE expires_at <= UTC_TIMESTAMP(3) LIMIT 100";
/* One brake row per key, created at its first attempt; a count whose last
 * attempt is older than the rule's forget_s starts again from 0. The row is
 * then locked (this transaction's insert or update holds it) until the
 * commit. */
static const char SQL_BRAKE_ROW[] =
    "INSERT INTO trade_login_brake (brake_key, failures, last_at) "
    "VALUES (?, 0, UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE "
    "failures = IF(last_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND, 0, failures)";
static const char SQL_BRAKE_READ[] =
    "SELECT failures, TIMESTAMPDIFF(MICROSECOND, last_at, UTC_TIMESTAMP(3)) DIV 1000 "
    "FROM trade_login_brake WHERE brake_key = ? FOR UPDATE";
static const char SQL_BRAKE_COUNT[] = "UPDATE trade_login_brake SET failures = failures + 1, "
                                      "last_at = UTC_TIMESTAMP(3) WHERE brake_key = ?";
static const char SQL_BRAKE_FORGIVE[] =
    "UPDATE trade_login_brake "
    "SET failures = GREATEST(failures - 1, 0) WHERE brake_key = ?";
static const char SQL_BRAKE_CLEAR[] = "DELETE FROM trade_login_brake WHERE brake_key = ?";
static const char SQL_BRAKE_OLD[] = "DELETE FROM trade_login_brake "
                                    "WHERE last_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND "
                                    "LIMIT 100";

_Static_assert(sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ==
                   AUTH_TOKEN_LEN + 1,
               "a token is 32 random bytes in base64url");

int auth_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

/* sodium_init is idempotent and thread-safe: a program that forgot
 * auth_init still gets the fast, initialised implementation. */
static int ensure_init(void)
{
    if (sodium_init() < 0) {
        log_error("auth: libsodium could not be initialised");
        return -1;
    }
    return 0;
}

void auth_hash_limit(int n)
{
    atomic_store(&hashes_allowed, n > 0 ? n : 0);
}

/* A place among the running hashes: 0, or AUTH_BUSY when all are taken. */
static int hash_enter(void)
{
    int allowed = atomic_load(&hashes_allowed);
    if (atomic_fetch_add(&hashes_running, 1) >= allowed && allowed > 0) {
        atomic_fetch_sub(&hashes_running, 1);
        log_warn("auth: %d password hashes running already; refused one", allowed);
        return AUTH_BUSY;
    }
    return 0;
}

static void hash_leave(void)
{
    atomic_fetch_sub(&hashes_running, 1);
}

int auth_password_hash(const char *password, char *out, size_t outsz)
{
    if (password == NULL || out == NULL || outsz < crypto_pwhash_STRBYTES)
        return -1;
    size_t len = strlen(password);
    if (len < AUTH_PASSWORD_MIN || len > AUTH_PASSWORD_MAX || ensure_init() != 0)
        return -1;
    if (hash_enter() != 0)
        return AUTH_BUSY;
    int rc = crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    hash_leave();
    if (rc != 0) {
        log_error("auth: password hashing failed (out of memory?)");
        return -1;
    }
    return 0;
}

int auth_password_verify(const char *hash, const char *password)
{
    if (hash == NULL || password == NULL || ensure_init() != 0)
        return 0;
    size_t len = strlen(password);
    /* Over the cap is never a valid password; refusing early also bounds the
     * work an attacker can ask for. */
    if (len > AUTH_PASSWORD_MAX)
        return 0;
    if (hash_enter() != 0)
        return AUTH_BUSY;
    int ok = crypto_pwhash_str_verify(hash, password, len) == 0;
    hash_leave();
    return ok;
}

/* 32 random bytes as base64url without padding (AUTH_TOKEN_LEN chars). */
static void random_token(char out[AUTH_TOKEN_LEN + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, AUTH_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

/* A token as this module makes them: exactly AUTH_TOKEN_LEN base64url chars. */
static int token_well_formed(const char *t)
{
    if (t == NULL)
        return 0;
    size_t i = 0;
    for (; t[i] != '\0'; i++) {
        char ch = t[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_';
        if (!ok || i >= AUTH_TOKEN_LEN)
            return 0;
    }
    return i == AUTH_TOKEN_LEN;
}

/* The hex SHA-256 of the token: what the table's key is made of. */
static void token_hash_hex(const char *token, char hex[crypto_hash_sha256_BYTES * 2 + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, crypto_hash_sha256_BYTES * 2 + 1, h, sizeof h);
}

enum shop_code auth_session_create(db_conn *db, int64_t user_id, int ttl_s,
                                   char token[AUTH_TOKEN_LEN + 1], char csrf[AUTH_CSRF_LEN + 1])
{
    token[0] = csrf[0] = '\0';
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    if (ensure_init() != 0 || user_id <= 0 || ttl_s <= 0)
        return SHOP_INTERNAL_ERROR;
    char t[AUTH_TOKEN_LEN + 1], k[AUTH_CSRF_LEN + 1];
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    random_token(t);
    random_token(k);
    token_hash_hex(t, hex);
    struct db_val p[] = {DB_TEXT(hex), DB_I64(user_id), DB_TEXT(k), DB_I64(ttl_s)};
    enum db_status st = db_exec(db, SQL_SESSION_INSERT, p, 4, NULL);
    if (st != DB_OK) {
        sodium_memzero(t, sizeof t);
        return db_shop_code(st);
    }
    memcpy(token, t, sizeof t);
    memcpy(csrf, k, sizeof k);
    sodium_memzero(t, sizeof t);
    /* Logins are rare enough to carry the cleanup of expired sessions. */
    if (db_exec(db, SQL_SESSION_EXPIRED, NULL, 0, NULL) != DB_OK)
        log_warn("auth: could not delete expired sessions");
    return SHOP_SUCCESS;
}

enum shop_code auth_session_lookup(db_conn *db, const char *token, struct auth_session *out)
{
    memset(out, 0, sizeof *out);
    if (!token_well_formed(token))
        return SHOP_NOT_LOGGED_IN;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    token_hash_hex(token, hex);
    struct db_val p = DB_TEXT(hex);
    db_result *r = NULL;
    enum db_status st = db_query(db, SQL_SESSION_LOOKUP, &p, 1, 1, &r);
    if (st != DB_OK)
        return db_shop_code(st);
    enum shop_code rc = SHOP_NOT_LOGGED_IN;
    if (db_result_rows(r) == 1) {
        const char *name = db_result_get(r, 0, 1);
        const char *csrf = db_result_get(r, 0, 2);
        out->user_id = db_result_i64(r, 0, 0, 0);
        if (out->user_id > 0 && name != NULL && csrf != NULL && strlen(csrf) == AUTH_CSRF_LEN) {
            snprintf(out->user_name, sizeof out->user_name, "%s", name);
            memcpy(out->csrf, csrf, AUTH_CSRF_LEN + 1);
            out->is_operator = db_result_i64(r, 0, 3, 0) == 1;
            rc = SHOP_SUCCESS;
        } else {
            log_error("auth: malformed session row");
            memset(out, 0, sizeof *out);
            rc = SHOP_INTERNAL_ERROR;
        }
    }
    db_result_free(r);
    return rc;
}

enum shop_code auth_session_delete(db_conn *db, const char *token)
{
    if (!token_well_formed(token))
        return SHOP_SUCCESS;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    char hex[crypto_hash_sha256_BYTES * 2 + 1];
    token_hash_hex(token, hex);
    struct db_val p = DB_TEXT(hex);
    enum db_status st = db_exec(db, SQL_SESSION_DELETE, &p, 1, NULL);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

int auth_csrf_ok(const struct auth_session *s, const char *submitted)
{
    if (s == NULL || submitted == NULL || strlen(s->csrf) != AUTH_CSRF_LEN)
        return 0;
    /* The length is not secret (always AUTH_CSRF_LEN); the content is. */
    if (strnlen(submitted, AUTH_CSRF_LEN + 1) != AUTH_CSRF_LEN)
        return 0;
    return sodium_memcmp(s->csrf, submitted, AUTH_CSRF_LEN) == 0;
}

void auth_presession_new(char out[AUTH_CSRF_LEN + 1])
{
    random_token(out);
}

int auth_presession_ok(const char *cookie_value, const char *submitted)
{
    if (!token_well_formed(cookie_value) || submitted == NULL)
        return 0;
    if (strnlen(submitted, AUTH_CSRF_LEN + 1) != AUTH_CSRF_LEN)
        return 0;
    return sodium_memcmp(cookie_value, submitted, AUTH_CSRF_LEN) == 0;
}

/* How long (ms) an attempt must wait after the last one when failures have
 * been counted: 0 below the rule's limit, then 1 s, 2 s, 4 s ... up to
 * delay_max_s. */
static int64_t brake_wait_ms(int64_t failures, const struct auth_brake_rule *rule)
{
    if (failures < rule->max_failures)
        return 0;
    int64_t shift = failures - rule->max_failures;
    int64_t s = shift > AUTH_BRAKE_SHIFT_MAX ? INT64_MAX : INT64_C(1) << shift;
    if (s > rule->delay_max_s)
        s = rule->delay_max_s;
    return s * 1000;
}

/* Lock the row of key (made when new) and say how long this attempt must
 * still wait (ms, 0 = it may go on) in *wait_ms. */
static enum db_status brake_lock(db_conn *db, const char *key, const struct auth_brake_rule *rule,
                                 int64_t *wait_ms)
{
    struct db_val row[] = {DB_TEXTN(key, strnlen(key, AUTH_BRAKE_KEY_MAX)), DB_I64(rule->forget_s)};
    enum db_status st = db_exec(db, SQL_BRAKE_ROW, row, 2, NULL);
    if (st != DB_OK)
        return st;
    db_result *r = NULL;
    st = db_query(db, SQL_BRAKE_READ, row, 1, 1, &r);
    if (st != DB_OK)
        return st;
    int64_t failures = db_result_i64(r, 0, 0, 0);
    int64_t since_ms = db_result_i64(r, 0, 1, 0);
    db_result_free(r);
    int64_t need = brake_wait_ms(failures, rule);
    *wait_ms = since_ms >= need ? 0 : need - since_ms;
    return DB_OK;
}

/* One try of auth_brake_take in one transaction; *wait_ms as brake_lock's,
 * the longest of the keys. */
static enum db_status brake_try(db_conn *db, const char *const keys[],
                                const struct auth_brake_rule rules[], size_t n, int64_t *wait_ms)
{
    *wait_ms = 0;
    enum db_status st = db_begin(db);
    for (size_t i = 0; st == DB_OK && i < n; i++) {
        int64_t w = 0;
        st = brake_lock(db, keys[i], &rules[i], &w);
        if (w > *wait_ms)
            *wait_ms = w;
    }
    for (size_t i = 0; st == DB_OK && *wait_ms == 0 && i < n; i++) {
        struct db_val k = DB_TEXTN(keys[i], strnlen(keys[i], AUTH_BRAKE_KEY_MAX));
        st = db_exec(db, SQL_BRAKE_COUNT, &k, 1, NULL);
    }
    if (st == DB_OK)
        return db_commit(db);
    db_rollback(db);
    return st;
}

enum shop_code auth_brake_take(db_conn *db, const char *const keys[],
                               const struct auth_brake_rule rules[], size_t n, int *retry_after_s)
{
    *retry_after_s = 0;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    int64_t wait_ms = 0;
    enum db_status st = DB_DEADLOCK;
    for (int i = 0; i < AUTH_BRAKE_TRIES && st == DB_DEADLOCK; i++)
        st = brake_try(db, keys, rules, n, &wait_ms);
    if (st != DB_OK)
        return db_shop_code(st);
    struct db_val keep = DB_I64(AUTH_BRAKE_KEEP_S);
    if (db_exec(db, SQL_BRAKE_OLD, &keep, 1, NULL) != DB_OK)
        log_warn("auth: could not delete old login brakes");
    if (wait_ms == 0)
        return SHOP_SUCCESS;
    *retry_after_s = (int)((wait_ms + 999) / 1000);
    return SHOP_TOO_MANY_ATTEMPTS;
}

/* Run one of the statements on a brake's row (key, the only parameter). */
static void brake_update(db_conn *db, const char *sql, const char *key)
{
    if (db == NULL || key == NULL)
        return;
    struct db_val p = DB_TEXTN(key, strnlen(key, AUTH_BRAKE_KEY_MAX));
    if (db_exec(db, sql, &p, 1, NULL) != DB_OK)
        log_warn("auth: could not update the login brake %s", key);
}

void auth_brake_clear(db_conn *db, const char *key)
{
    brake_update(db, SQL_BRAKE_CLEAR, key);
}

void auth_brake_forgive(db_conn *db, const char *key)
{
    brake_update(db, SQL_BRAKE_FORGIVE, key);
}
