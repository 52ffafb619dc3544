/* auth: passwords (argon2id), sessions (only the token's SHA-256 is stored),
 * CSRF tokens and the failed-login brake. The tables are trade_session and
 * trade_login_failure (sql/user/0002_accounts.sql), in the user
 * service's database. */
#include "auth.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* A failed login costs the caller this long, to slow down guessing. */
#define AUTH_FAIL_DELAY_MS 200
/* Failure rows older than this are deleted opportunistically (the longest
 * window the configuration allows). */
#define AUTH_FAILURE_KEEP_S 86400
/* The login column's width (trade_login_failure.login, remote_addr). */
#define AUTH_LOGIN_MAX 64

static const char SQL_SESSION_INSERT[] =
    "INSERT INTO trade_session (session_hash, user_id, csrf_token, created_at, expires_at) "
    "VALUES (UNHEX(?), ?, ?, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL ? SECOND)";
static const char SQL_SESSION_LOOKUP[] =
    "SELECT s.user_id, u.user_name, s.csrf_token FROM trade_session s "
    "JOIN trade_user u ON u.user_id = s.user_id "
    "WHERE s.session_hash = UNHEX(?) AND s.expires_at > UTC_TIMESTAMP(3)";
static const char SQL_SESSION_DELETE[] = "DELETE FROM trade_session WHERE session_hash = UNHEX(?)";
/* The cleanups delete at most 100 stale rows per opportunity. */
static const char SQL_SESSION_EXPIRED[] =
    "DELETE FROM trade_session WHERE expires_at <= UTC_TIMESTAMP(3) LIMIT 100";
static const char SQL_FAILURE_COUNT[] =
    "SELECT COUNT(*) FROM trade_login_failure "
    "WHERE login = ? AND failed_at > UTC_TIMESTAMP(3) - INTERVAL ? SECOND";
static const char SQL_FAILURE_INSERT[] =
    "INSERT INTO trade_login_failure (login, remote_addr, failed_at) "
    "VALUES (?, ?, UTC_TIMESTAMP(3))";
static const char SQL_FAILURE_CLEAR[] = "DELETE FROM trade_login_failure WHERE login = ?";
static const char SQL_FAILURE_OLD[] = "DELETE FROM trade_login_failure "
                                      "WHERE failed_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND "
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

int auth_password_hash(const char *password, char *out, size_t outsz)
{
    if (password == NULL || out == NULL || outsz < crypto_pwhash_STRBYTES)
        return -1;
    size_t len = strlen(password);
    if (len < AUTH_PASSWORD_MIN || len > AUTH_PASSWORD_MAX || ensure_init() != 0)
        return -1;
    if (crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
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
    return crypto_pwhash_str_verify(hash, password, len) == 0;
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

/* The login as the tables store it: at most AUTH_LOGIN_MAX characters (the
 * web layer caps logins well below that; this only keeps the INSERT legal). */
static struct db_val login_val(const char *login)
{
    return DB_TEXTN(login, strnlen(login, AUTH_LOGIN_MAX));
}

enum shop_code auth_login_allowed(db_conn *db, const char *login, int max_failures, int window_s)
{
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    if (login == NULL)
        return SHOP_SUCCESS;
    struct db_val p[] = {login_val(login), DB_I64(window_s)};
    db_result *r = NULL;
    enum db_status st = db_query(db, SQL_FAILURE_COUNT, p, 2, 1, &r);
    if (st != DB_OK)
        return db_shop_code(st);
    int64_t n = db_result_i64(r, 0, 0, 0);
    db_result_free(r);
    return n >= max_failures ? SHOP_TOO_MANY_ATTEMPTS : SHOP_SUCCESS;
}

void auth_login_failed(db_conn *db, const char *login, const char *remote_addr)
{
    if (db != NULL && login != NULL) {
        const char *addr = remote_addr ? remote_addr : "";
        struct db_val p[] = {login_val(login), DB_TEXTN(addr, strnlen(addr, AUTH_LOGIN_MAX))};
        if (db_exec(db, SQL_FAILURE_INSERT, p, 2, NULL) != DB_OK)
            log_warn("auth: could not record a failed login");
        struct db_val keep = DB_I64(AUTH_FAILURE_KEEP_S);
        if (db_exec(db, SQL_FAILURE_OLD, &keep, 1, NULL) != DB_OK)
            log_warn("auth: could not delete old failed logins");
    }
    struct timespec ts = {.tv_sec = 0, .tv_nsec = AUTH_FAIL_DELAY_MS * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void auth_login_succeeded(db_conn *db, const char *login)
{
    if (db == NULL || login == NULL)
        return;
    struct db_val p = login_val(login);
    if (db_exec(db, SQL_FAILURE_CLEAR, &p, 1, NULL) != DB_OK)
        log_warn("auth: could not clear failed logins");
}
