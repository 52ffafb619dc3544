/* auth (and the pure parts of user_service): password hashing, tokens, the
 * CSRF comparison, the pre-session token, the bound on hashes running at
 * once, the registration and login rules. No database. */
#include "testmain.h"

#include <json-c/json.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "auth.h"
#include "user_service.h"

#define SUITE_NAME "auth"

static int suite_init(void)
{
    return auth_init();
}
#define SUITE_INIT suite_init

static void test_hash_verify(void)
{
    char h[crypto_pwhash_STRBYTES];
    CU_ASSERT_EQUAL(auth_password_hash("correct horse", h, sizeof h), 0);
    CU_ASSERT_EQUAL(strncmp(h, "$argon2id$", 10), 0);
    CU_ASSERT_PTR_NULL(strstr(h, "correct horse"));
    CU_ASSERT_EQUAL(auth_password_verify(h, "correct horse"), 1);
    CU_ASSERT_EQUAL(auth_password_verify(h, "correct horsf"), 0);
    CU_ASSERT_EQUAL(auth_password_verify(h, "correct hors"), 0);
    CU_ASSERT_EQUAL(auth_password_verify(h, ""), 0);
    CU_ASSERT_EQUAL(auth_password_verify(h, NULL), 0);
    CU_ASSERT_EQUAL(auth_password_verify(NULL, "correct horse"), 0);
    CU_ASSERT_EQUAL(auth_password_verify("not a hash", "correct horse"), 0);
    CU_ASSERT_EQUAL(auth_password_verify("", ""), 0);
}

static void test_hash_salted(void)
{
    char a[crypto_pwhash_STRBYTES], b[crypto_pwhash_STRBYTES];
    CU_ASSERT_EQUAL(auth_password_hash("same password", a, sizeof a), 0);
    CU_ASSERT_EQUAL(auth_password_hash("same password", b, sizeof b), 0);
    CU_ASSERT_NOT_EQUAL(strcmp(a, b), 0);
    CU_ASSERT_EQUAL(auth_password_verify(a, "same password"), 1);
    CU_ASSERT_EQUAL(auth_password_verify(b, "same password"), 1);
}

static void test_hash_limits(void)
{
    char h[crypto_pwhash_STRBYTES];
    char longpw[AUTH_PASSWORD_MAX + 2];
    CU_ASSERT_EQUAL(auth_password_hash("", h, sizeof h), -1);
    CU_ASSERT_EQUAL(auth_password_hash("1234567", h, sizeof h), -1);
    CU_ASSERT_EQUAL(auth_password_hash(NULL, h, sizeof h), -1);
    CU_ASSERT_EQUAL(auth_password_hash("12345678", h, 10), -1);
    memset(longpw, 'x', AUTH_PASSWORD_MAX);
    longpw[AUTH_PASSWORD_MAX] = '\0';
    CU_ASSERT_EQUAL(auth_password_hash(longpw, h, sizeof h), 0);
    CU_ASSERT_EQUAL(auth_password_verify(h, longpw), 1);
    longpw[AUTH_PASSWORD_MAX] = 'x';
    longpw[AUTH_PASSWORD_MAX + 1] = '\0';
    CU_ASSERT_EQUAL(auth_password_hash(longpw, h, sizeof h), -1);
    /* The demo data's hash (sql/demo/user.sql) verifies. */
    CU_ASSERT_EQUAL(auth_password_verify("$argon2id$v=19$m=65536,t=2,p=1$JqLGY2Wzv9dBp/50JlgkMQ$"
                                         "xorHmWV0HUrXov7hK60E2GSQO95njk8R/LmGnFjyf6w",
                                         "alice-pass-1"),
                    1);
}

/* Sessions without a database: malformed tokens never reach it. */
static void test_token_format(void)
{
    struct auth_session s;
    CU_ASSERT_EQUAL(auth_session_lookup(NULL, NULL, &s), SHOP_NOT_LOGGED_IN);
    CU_ASSERT_EQUAL(auth_session_lookup(NULL, "", &s), SHOP_NOT_LOGGED_IN);
    CU_ASSERT_EQUAL(auth_session_lookup(NULL, "short", &s), SHOP_NOT_LOGGED_IN);
    /* 43 chars but not base64url */
    CU_ASSERT_EQUAL(auth_session_lookup(NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", &s),
                    SHOP_NOT_LOGGED_IN);
    /* 44 chars */
    CU_ASSERT_EQUAL(auth_session_lookup(NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &s),
                    SHOP_NOT_LOGGED_IN);
    /* well formed: it would be looked up, and there is no database */
    CU_ASSERT_EQUAL(auth_session_lookup(NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-_", &s),
                    SHOP_DB_UNAVAILABLE);
    CU_ASSERT_EQUAL(s.user_id, 0);
    CU_ASSERT_EQUAL(auth_session_delete(NULL, "nonsense"), SHOP_SUCCESS);

    char token[AUTH_TOKEN_LEN + 1], csrf[AUTH_CSRF_LEN + 1];
    CU_ASSERT_EQUAL(auth_session_create(NULL, 1, 60, token, csrf), SHOP_DB_UNAVAILABLE);
    CU_ASSERT_EQUAL(token[0], '\0');
    CU_ASSERT_EQUAL(csrf[0], '\0');
}

static void test_csrf_compare(void)
{
    struct auth_session s = {.user_id = 1};
    const char *good = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    CU_ASSERT_EQUAL(strlen(good), AUTH_CSRF_LEN);
    memcpy(s.csrf, good, AUTH_CSRF_LEN + 1);
    CU_ASSERT_EQUAL(auth_csrf_ok(&s, good), 1);
    CU_ASSERT_EQUAL(auth_csrf_ok(&s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPR"), 0);
    CU_ASSERT_EQUAL(auth_csrf_ok(&s, "AbcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"), 0);
    CU_ASSERT_EQUAL(auth_csrf_ok(&s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"), 0);
    CU_ASSERT_EQUAL(auth_csrf_ok(&s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQQ"), 0);
    CU_ASSERT_EQUAL(auth_csrf_ok(&s, ""), 0);
    CU_ASSERT_EQUAL(auth_csrf_ok(&s, NULL), 0);
    CU_ASSERT_EQUAL(auth_csrf_ok(NULL, good), 0);
    /* A session without a CSRF token accepts nothing, not even "". */
    struct auth_session empty = {.user_id = 1};
    CU_ASSERT_EQUAL(auth_csrf_ok(&empty, ""), 0);
}

static void test_validate(void)
{
    CU_ASSERT_PTR_NULL(user_validate("alice_2", "13800000009", "12345678"));
    CU_ASSERT_PTR_NULL(user_validate("a.b-c", "+8613800000009", "12345678"));
    CU_ASSERT_PTR_NULL(user_validate("abc", "123456", "12345678"));
    CU_ASSERT_PTR_NULL(
        user_validate("abcdefghijklmnopqrstuvwxyz012345", "12345678901234567890", "12345678"));

    const char *why;
    why = user_validate("ab", "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);
    why = user_validate("abcdefghijklmnopqrstuvwxyz0123456", "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);
    why = user_validate("al ice", "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);
    why = user_validate("al<i>", "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);
    why = user_validate("\xc3\xa9t\xc3\xa9", "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);
    why = user_validate("1234567", "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);
    why = user_validate(NULL, "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);
    why = user_validate("", "13800000009", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_name ", 10) == 0);

    why = user_validate("alice", "12345", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_mobile ", 12) == 0);
    why = user_validate("alice", "+12345", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_mobile ", 12) == 0);
    why = user_validate("alice", "123456789012345678901", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_mobile ", 12) == 0);
    why = user_validate("alice", "+12345678901234567890", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_mobile ", 12) == 0);
    why = user_validate("alice", "138-0000-0001", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_mobile ", 12) == 0);
    why = user_validate("alice", "++1234567", "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_mobile ", 12) == 0);
    why = user_validate("alice", NULL, "12345678");
    CU_ASSERT(why != NULL && strncmp(why, "user_mobile ", 12) == 0);

    why = user_validate("alice", "13800000009", "1234567");
    CU_ASSERT(why != NULL && strncmp(why, "password ", 9) == 0);
    why = user_validate("alice", "13800000009", "");
    CU_ASSERT(why != NULL && strncmp(why, "password ", 9) == 0);
    char longpw[AUTH_PASSWORD_MAX + 2];
    memset(longpw, 'p', sizeof longpw - 1);
    longpw[sizeof longpw - 1] = '\0';
    why = user_validate("alice", "13800000009", longpw);
    CU_ASSERT(why != NULL && strncmp(why, "password ", 9) == 0);
    longpw[AUTH_PASSWORD_MAX] = '\0';
    CU_ASSERT_PTR_NULL(user_validate("alice", "13800000009", longpw));
}

/* register refuses bad fields before touching the database. */
static void test_register_refuses_early(void)
{
    struct user u;
    CU_ASSERT_EQUAL(user_register(NULL, "ab", "13800000009", "12345678", &u),
                    SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_EQUAL(user_register(NULL, "abc", "13800000009", "12345678", &u), SHOP_DB_UNAVAILABLE);
}

static void test_user_json(void)
{
    struct user u = {.user_id = INT64_C(123456789012345678),
                     .user_name = "alice",
                     .user_mobile = "13800000001",
                     .user_score = 42,
                     .user_money = 1230,
                     .user_reg_time = "2024-01-01T08:00:00Z"};
    struct json_object *o = user_to_json(&u);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                           "{\"user_id\":\"123456789012345678\",\"user_name\":\"alice\","
                           "\"user_mobile\":\"13800000001\",\"user_score\":42,"
                           "\"user_money\":\"12.30\",\"user_reg_time\":\"2024-01-01T08:00:00Z\"}");
    json_object_put(o);
}

static void test_presession_token(void)
{
    char a[AUTH_CSRF_LEN + 1], b[AUTH_CSRF_LEN + 1];
    auth_presession_new(a);
    auth_presession_new(b);
    CU_ASSERT_EQUAL(strlen(a), AUTH_CSRF_LEN);
    CU_ASSERT_NOT_EQUAL(strcmp(a, b), 0);
    CU_ASSERT_EQUAL(auth_presession_ok(a, a), 1);
    CU_ASSERT_EQUAL(auth_presession_ok(a, b), 0);
    CU_ASSERT_EQUAL(auth_presession_ok(a, ""), 0);
    CU_ASSERT_EQUAL(auth_presession_ok(a, NULL), 0);
    CU_ASSERT_EQUAL(auth_presession_ok(NULL, a), 0);
    CU_ASSERT_EQUAL(auth_presession_ok("short", "short"), 0);
    CU_ASSERT_EQUAL(auth_presession_ok("", ""), 0);
}

static void test_login_well_formed(void)
{
    CU_ASSERT_EQUAL(user_login_well_formed("alice"), 1);
    CU_ASSERT_EQUAL(user_login_well_formed("a.b-c_d"), 1);
    CU_ASSERT_EQUAL(user_login_well_formed("13800000001"), 1);
    CU_ASSERT_EQUAL(user_login_well_formed("+8613800000001"), 1);
    CU_ASSERT_EQUAL(user_login_well_formed(""), 0);
    CU_ASSERT_EQUAL(user_login_well_formed(NULL), 0);
    CU_ASSERT_EQUAL(user_login_well_formed("ab\xff\xfe"), 0);
    CU_ASSERT_EQUAL(user_login_well_formed("m\xc3\xbcller"), 0);
    CU_ASSERT_EQUAL(user_login_well_formed("a b"), 0);
    CU_ASSERT_EQUAL(user_login_well_formed("abcdefghijabcdefghijabcdefghijabc"), 0);
}

/* Hashes started at once by HASHERS threads with room for one. */
#define HASHERS 8
static void *hash_one(void *arg)
{
    char h[crypto_pwhash_STRBYTES];
    *(int *)arg = auth_password_hash("correct horse", h, sizeof h);
    return NULL;
}

static void test_hash_concurrency_bound(void)
{
    auth_hash_limit(1);
    pthread_t t[HASHERS];
    int rc[HASHERS];
    for (int i = 0; i < HASHERS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, hash_one, &rc[i]), 0);
    int done = 0, busy = 0;
    for (int i = 0; i < HASHERS; i++) {
        pthread_join(t[i], NULL);
        done += rc[i] == 0;
        busy += rc[i] == AUTH_BUSY;
    }
    auth_hash_limit(0);
    CU_ASSERT(done >= 1);
    CU_ASSERT(busy >= 1);
    CU_ASSERT_EQUAL(done + busy, HASHERS);
    char h[crypto_pwhash_STRBYTES];
    CU_ASSERT_EQUAL(auth_password_hash("correct horse", h, sizeof h), 0);
}

static const struct test_case TESTS[] = {
    {"hash_verify", test_hash_verify},
    {"hash_salted", test_hash_salted},
    {"hash_limits", test_hash_limits},
    {"token_format", test_token_format},
    {"csrf_compare", test_csrf_compare},
    {"validate", test_validate},
    {"register_refuses_early", test_register_refuses_early},
    {"user_json", test_user_json},
    {"presession_token", test_presession_token},
    {"login_well_formed", test_login_well_formed},
    {"hash_concurrency_bound", test_hash_concurrency_bound},
    {NULL, NULL},
};

#include "testmain.h"
