/* auth: passwords, sessions, CSRF tokens and the failed-login brake.
 * Passwords are argon2id (libsodium crypto_pwhash_str, interactive limits).
 * A session is a random 256-bit token the browser keeps in an HttpOnly,
 * SameSite=Lax cookie; the server stores only its SHA-256 (trade_session), so
 * a database leak yields no usable session. Each session has its own random
 * CSRF token, required on every state-changing browser request; before a
 * session, logging in and registering need a pre-session token (a cookie and
 * the same value in the form or header). The user
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

/* Hash a password into out (crypto_pwhash_STRBYTES). 0, -1, or AUTH_BUSY
 * when the hash limit is reached. Slow on purpose (~50 ms). */
int auth_password_hash(const char *password, char *out, size_t outsz);
/* 1 when password matches the stored hash, 0 otherwise, AUTH_BUSY when the
 * hash limit is reached (nothing was checked). */
int auth_password_verify(const char *hash, const char *password);

/* A logged-in session as a request sees it. */
struct auth_session {
    int64_t user_id;
    char user_name[33];
    char csrf[AUTH_CSRF_LEN + 1];
    int is_operator; /* trade_user.user_is_operator: may use /admin */
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

/* Pre-session CSRF (logging in, registering): a random token kept in the
 * AUTH_PRE_COOKIE cookie; the form field or X-CSRF-Token header must carry
 * the same value (double submit: another site can make the browser send the
 * cookie but can neither read nor set it). */
#define AUTH_PRE_COOKIE "shop_csrf"
#define AUTH_PRE_TTL_S  86400 /* the cookie's Max-Age */
/* A new token (AUTH_CSRF_LEN chars) into out. */
void auth_presession_new(char out[AUTH_CSRF_LEN + 1]);
/* 1 when cookie_value is a well-formed token and submitted equals it
 * (constant time), else 0. NULLs are 0. */
int auth_presession_ok(const char *cookie_value, const char *submitted);

/* The failed-login brake. Every login attempt first takes a turn on the rows
 * of its keys (auth_brake_take): the account ("user:ID", or "login:TEXT" for
 * a login that names nobody) and the client address ("addr:IP"). One
 * transaction locks the rows, decides and counts, so that parallel attempts
 * are counted one by one before any password is checked. The first
 * max_failures attempts pass at once; after that each further attempt must
 * wait 2^(failures - max_failures) seconds (at most delay_max_s) since the
 * last one: the owner still gets in, a guesser gets ever fewer tries. A
 * count is forgotten forget_s after its last attempt; a success clears the
 * account's (auth_brake_clear) and takes its own turn back from the
 * address's (auth_brake_forgive). */
#define AUTH_BRAKE_KEY_MAX 80
struct auth_brake_rule {
    int max_failures;
    int forget_s;
    int delay_max_s;
};
/* Take a turn on n keys (each with its rule). SHOP_SUCCESS: counted, go on
 * and check the password. SHOP_TOO_MANY_ATTEMPTS: nothing counted, come back
 * in *retry_after_s seconds. SHOP_DB_UNAVAILABLE / SHOP_INTERNAL_ERROR. */
enum shop_code auth_brake_take(db_conn *db, const char *const keys[],
                               const struct auth_brake_rule rules[], size_t n, int *retry_after_s);
/* Forget the count of key (the account's, after a successful login). */
void auth_brake_clear(db_conn *db, const char *key);
/* Take back the one attempt a successful login counted on key (the
 * address's: it counts failures only, and keeps the others'). */
void auth_brake_forgive(db_conn *db, const char *key);

/* At most n password hashes (argon2id, 64 MiB each) run at once in this
 * process; a hash or verify beyond that returns AUTH_BUSY at once instead of
 * queueing (n <= 0: no limit). Call before the threads start. */
#define AUTH_BUSY (-2)
void auth_hash_limit(int n);

#endif
