/* auth: passwords, sessions, CSRF tokens and the failed-login brake.
 * Passwords are argon2id (libsodium crypto_pwhash_str, interactive limits).
 * A session is a random 256-bit token the browser keeps in an HttpOnly,
 * SameSite=Lax cookie; the server stores only its SHA-256 (trade_session), so
 * a database leak yields no usable session. Each session has its own random
 * CSRF token, required on every state-changing browser request. The user
 * service's database holds these tables. */
#ifndef SHOP_AUTH_H
#define SHOP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "errors.h"

#define AUTH_COOKIE       "shop_session"
#define AUTH_TOKEN_LEN    43 /* base64url of 32 random bytes, no padding */
#define AUTH_CSRF_LEN     43
#define AUTH_PASSWORD_MIN 8
#define AUTH_PASSWORD_MAX 128

/* Call once at start (sodium_init). Returns 0 or -1. */
int auth_init(void);

/* Hash a password into out (crypto_pwhash_STRBYTES). 0 or -1. Slow on
 * purpose (~50 ms). */
int auth_password_hash(const char *password, char *out, size_t outsz);
/* 1 when password matches the stored hash, 0 otherwise. */
int auth_password_verify(const char *hash, const char *password);

/* A logged-in session as a request sees it. */
struct auth_session {
    int64_t user_id;
    char user_name[33];
    char csrf[AUTH_CSRF_LEN + 1];
};

/* Create a session for user_id lasting ttl_s: token (the cookie value) and
 * the session's CSRF token are written to the out buffers (AUTH_TOKEN_LEN+1
 * bytes each). SHOP_SUCCESS or SHOP_DB_UNAVAILABLE / SHOP_INTERNAL_ERROR. */
enum shop_code auth_session_create(db_conn *db, int64_t user_id, int ttl_s,
                                   char token[AUTH_TOKEN_LEN + 1], char csrf[AUTH_CSRF_LEN + 1]);

/* Look a cookie token up. SHOP_SUCCESS with *out filled, SHOP_NOT_LOGGED_IN
 * when unknown, malformed or expired, SHOP_DB_UNAVAILABLE. */
enum shop_code auth_session_lookup(db_conn *db, const char *token, struct auth_session *out);

/* Delete the session of token (logout). Unknown tokens are fine. */
enum shop_code auth_session_delete(db_conn *db, const char *token);

/* Constant-time comparison of a submitted CSRF token with the session's. */
int auth_csrf_ok(const struct auth_session *s, const char *submitted);

/* Failed-login brake: SHOP_TOO_MANY_ATTEMPTS when `login` has max_failures
 * failures within window_s, else SHOP_SUCCESS. */
enum shop_code auth_login_allowed(db_conn *db, const char *login, int max_failures, int window_s);
/* Record a failed attempt for login (and the client address). */
void auth_login_failed(db_conn *db, const char *login, const char *remote_addr);
/* Forget the failures of login after a successful login. */
void auth_login_succeeded(db_conn *db, const char *login);

#endif
