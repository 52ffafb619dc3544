/* Integration tests of db.c against a real MariaDB.
 * Environment: ITEST_DB_HOST / ITEST_DB_PORT or ITEST_DB_SOCKET, ITEST_DB_USER,
 * ITEST_DB_PASSWORD, ITEST_DB_NAME, ITEST_DB_RESTART_CMD (a shell command that
 * restarts the server and returns once it accepts connections again);
 * optional ITEST_DB_STOP_CMD and ITEST_DB_START_CMD. */
#define SUITE_NAME    "db"
#define SUITE_INIT    suite_init
#define SUITE_CLEANUP suite_cleanup
#include "testmain.h"

#include "db.h"

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T "itest_kv"

static struct db_params g_p;
static const char *g_restart_cmd;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

static int suite_init(void)
{
    g_p.host = env("ITEST_DB_HOST");
    g_p.socket = env("ITEST_DB_SOCKET");
    g_p.user = env("ITEST_DB_USER");
    g_p.password = getenv("ITEST_DB_PASSWORD");
    g_p.database = env("ITEST_DB_NAME");
    g_p.port = env("ITEST_DB_PORT") ? (unsigned)strtoul(env("ITEST_DB_PORT"), NULL, 10) : 3306;
    g_p.timeout_s = 5;
    g_restart_cmd = env("ITEST_DB_RESTART_CMD");
    if ((g_p.host == NULL && g_p.socket == NULL) || g_p.user == NULL || g_p.database == NULL ||
        g_restart_cmd == NULL) {
        fprintf(stderr, "itest_db: FAIL: set ITEST_DB_HOST+ITEST_DB_PORT or ITEST_DB_SOCKET, "
                        "ITEST_DB_USER, ITEST_DB_PASSWORD, ITEST_DB_NAME and "
                        "ITEST_DB_RESTART_CMD\n");
        return -1;
    }
    if (db_global_init(&g_p) != 0) {
        fprintf(stderr, "itest_db: db_global_init failed\n");
        return -1;
    }
    db_conn *c = db_thread();
    if (c == NULL) {
        fprintf(stderr, "itest_db: FAIL: cannot connect to the database\n");
        return -1;
    }
    if (db_exec(c, "DROP TABLE IF EXISTS " T, NULL, 0, NULL) != DB_OK ||
        db_exec(c,
                "CREATE TABLE " T " (k VARCHAR(64) NOT NULL PRIMARY KEY, n BIGINT NULL, "
                "s TEXT NULL, d DECIMAL(10,2) NULL, t DATETIME NULL) "
                "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                NULL, 0, NULL) != DB_OK) {
        fprintf(stderr, "itest_db: cannot create the scratch table: %s\n", db_error(c));
        return -1;
    }
    return 0;
}

static int suite_cleanup(void)
{
    db_conn *c = db_thread();
    if (c != NULL)
        db_exec(c, "DROP TABLE IF EXISTS " T, NULL, 0, NULL);
    db_thread_end();
    db_global_cleanup();
    return 0;
}

static void clear_table(void)
{
    CU_ASSERT_EQUAL_FATAL(db_exec(db_thread(), "DELETE FROM " T, NULL, 0, NULL), DB_OK);
}

static int64_t count_rows(db_conn *c)
{
    db_result *r = NULL;
    if (db_query(c, "SELECT COUNT(*) FROM " T, NULL, 0, 1, &r) != DB_OK)
        return -1;
    int64_t n = db_result_i64(r, 0, 0, -1);
    db_result_free(r);
    return n;
}

static enum db_status put(db_conn *c, const char *k, struct db_val n, struct db_val s,
                          struct db_val d)
{
    struct db_val p[] = {DB_TEXT(k), n, s, d};
    return db_exec(c, "INSERT INTO " T " (k, n, s, d) VALUES (?, ?, ?, ?)", p, 4, NULL);
}

static void test_roundtrip(void)
{
    clear_table();
    db_conn *c = db_thread();
    const char *text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 'single' \"double\" "
                       "back\\slash; DROP TABLE " T "; -- \x01\x02\t\x7f\x1b end";
    uint64_t aff = 99;
    struct db_val p1[] = {DB_TEXT("max"), DB_I64(INT64_MAX), DB_TEXT(text), DB_TEXT("12.5")};
    CU_ASSERT_EQUAL(db_exec(c, "INSERT INTO " T " (k, n, s, d) VALUES (?, ?, ?, ?)", p1, 4, &aff),
                    DB_OK);
    CU_ASSERT_EQUAL(aff, 1);
    CU_ASSERT_EQUAL(put(c, "min", DB_I64(INT64_MIN), DB_TEXTN("ab\0cd", 2), DB_I64(-3)), DB_OK);

    db_result *r = NULL;
    CU_ASSERT_EQUAL_FATAL(
        db_query(c, "SELECT k, n, s, d FROM " T " ORDER BY n DESC", NULL, 0, 10, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_rows(r), 2);
    CU_ASSERT_EQUAL(db_result_cols(r), 4);
    CU_ASSERT_STRING_EQUAL(db_result_name(r, 0), "k");
    CU_ASSERT_STRING_EQUAL(db_result_name(r, 3), "d");
    CU_ASSERT_PTR_NULL(db_result_name(r, 4));
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 0), "max");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 1), "9223372036854775807");
    CU_ASSERT_EQUAL(db_result_i64(r, 0, 1, 0), INT64_MAX);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 2), text);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 3), "12.50");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 1, 1), "-9223372036854775808");
    CU_ASSERT_EQUAL(db_result_i64(r, 1, 1, 0), INT64_MIN);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 1, 2), "ab");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 1, 3), "-3.00");
    CU_ASSERT_EQUAL(db_result_i64(r, 1, 2, 42), 42); /* not a number */
    CU_ASSERT_PTR_NULL(db_result_get(r, 2, 0));
    CU_ASSERT_PTR_NULL(db_result_get(r, 0, 9));
    /* Text into a fixed buffer: whole, cut to the buffer, "" out of range. */
    char t[8] = "x";
    db_result_text(r, 0, 0, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "max");
    db_result_text(r, 0, 1, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "9223372");
    db_result_text(r, 2, 0, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "");
    db_result_free(r);

    /* A parameter compared as a value, never spliced: no row matches. */
    struct db_val inj = DB_TEXT("max' OR '1'='1");
    CU_ASSERT_EQUAL(db_query(c, "SELECT k FROM " T " WHERE k = ?", &inj, 1, 10, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_rows(r), 0);
    db_result_free(r);
}

static void test_nulls(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_EQUAL(put(c, "nul", DB_NULLV, DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(put(c, "empty", DB_I64(0), DB_TEXT(""), DB_TEXT("0")), DB_OK);
    db_result *r = NULL;
    CU_ASSERT_EQUAL_FATAL(
        db_query(c, "SELECT n, s, d, t FROM " T " ORDER BY k DESC", NULL, 0, 10, &r), DB_OK);
    CU_ASSERT_EQUAL_FATAL(db_result_rows(r), 2);
    for (size_t i = 0; i < 4; i++)
        CU_ASSERT_PTR_NULL(db_result_get(r, 0, i));
    CU_ASSERT_EQUAL(db_result_i64(r, 0, 0, -7), -7);
    char t[8] = "x";
    db_result_text(r, 0, 1, t, sizeof t); /* SQL NULL reads as "" */
    CU_ASSERT_STRING_EQUAL(t, "");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 1, 0), "0");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 1, 1), "");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 1, 2), "0.00");
    CU_ASSERT_PTR_NULL(db_result_get(r, 1, 3));
    db_result_free(r);

    /* NULL parameter in a comparison matches nothing; IS NULL matches. */
    struct db_val nv = DB_NULLV;
    CU_ASSERT_EQUAL(db_query(c, "SELECT k FROM " T " WHERE n <=> ?", &nv, 1, 10, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_rows(r), 1);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 0), "nul");
    db_result_free(r);
}

static void test_decimal_datetime_tz(void)
{
    clear_table();
    db_conn *c = db_thread();
    struct db_val p[] = {DB_TEXT("dt"), DB_TEXT("2024-02-29 23:59:58")};
    CU_ASSERT_EQUAL(db_exec(c, "INSERT INTO " T " (k, t, d) VALUES (?, ?, 12.5)", p, 2, NULL),
                    DB_OK);
    db_result *r = NULL;
    CU_ASSERT_EQUAL_FATAL(db_query(c,
                                   "SELECT t, d, @@session.time_zone, "
                                   "TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()), "
                                   "CAST(1.5 AS DOUBLE) FROM " T,
                                   NULL, 0, 1, &r),
                          DB_OK);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 0), "2024-02-29 23:59:58");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 1), "12.50");
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 2), "+00:00");
    CU_ASSERT_EQUAL(db_result_i64(r, 0, 3, 99), 0);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 4), "1.5");
    db_result_free(r);
}

static void test_long_value(void)
{
    clear_table();
    db_conn *c = db_thread();
    size_t len = 60000; /* TEXT holds 65535 bytes */
    char *big = malloc(len + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (size_t i = 0; i < len; i++)
        big[i] = (char)('a' + i % 26);
    big[len] = '\0';
    CU_ASSERT_EQUAL(put(c, "big", DB_I64(1), DB_TEXTN(big, len), DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(put(c, "small", DB_I64(2), DB_TEXT("x"), DB_NULLV), DB_OK);
    db_result *r = NULL;
    CU_ASSERT_EQUAL_FATAL(
        db_query(c, "SELECT k, s, LENGTH(s) FROM " T " ORDER BY n", NULL, 0, 10, &r), DB_OK);
    CU_ASSERT_EQUAL_FATAL(db_result_rows(r), 2);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 0), "big");
    CU_ASSERT_EQUAL(strlen(db_result_get(r, 0, 1)), len);
    CU_ASSERT(strcmp(db_result_get(r, 0, 1), big) == 0);
    CU_ASSERT_EQUAL(db_result_i64(r, 0, 2, 0), (int64_t)len);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 1, 1), "x");
    db_result_free(r);
    free(big);
}

static void test_duplicate(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_EQUAL(put(c, "dup", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(put(c, "dup", DB_I64(2), DB_NULLV, DB_NULLV), DB_DUPLICATE);
    CU_ASSERT_EQUAL(count_rows(c), 1);
    /* A syntax error is DB_ERR and the connection stays usable. */
    CU_ASSERT_EQUAL(db_exec(c, "INSERT INTO nosuch_table_xyz VALUES (1)", NULL, 0, NULL), DB_ERR);
    CU_ASSERT_EQUAL(db_exec(c, "SELEC nonsense", NULL, 0, NULL), DB_ERR);
    CU_ASSERT(strlen(db_error(c)) > 0);
    /* Wrong parameter count. */
    struct db_val one = DB_I64(1);
    CU_ASSERT_EQUAL(db_exec(c, "UPDATE " T " SET n = ? WHERE k = ?", &one, 1, NULL), DB_ERR);
    CU_ASSERT_EQUAL(count_rows(c), 1);
}

static void test_transaction(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "r1", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(put(c, "r2", DB_I64(2), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 2);
    CU_ASSERT_EQUAL(db_rollback(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 0);

    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "c1", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    /* A duplicate does not abort the transaction. */
    CU_ASSERT_EQUAL(put(c, "c1", DB_I64(1), DB_NULLV, DB_NULLV), DB_DUPLICATE);
    CU_ASSERT_EQUAL(put(c, "c2", DB_I64(2), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(db_commit(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 2);

    /* Another connection sees the committed rows. */
    db_conn *o = db_open(&g_p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(count_rows(o), 2);
    db_close(o);
}

#define BUMP_LK "UPDATE " T " SET n = n + 1 WHERE k = 'lk'"

/* Row "lk" (n = 10), locked by an open transaction of this thread's
 * connection; returns a second connection whose lock waits end after 1 s. */
static db_conn *lk_locked(void)
{
    clear_table();
    db_conn *a = db_thread();
    CU_ASSERT_EQUAL(put(a, "lk", DB_I64(10), DB_NULLV, DB_NULLV), DB_OK);
    struct db_params p = g_p;
    p.timeout_s = 2; /* lock wait timeout 1 s */
    db_conn *b = db_open(&p);
    CU_ASSERT_EQUAL(db_begin(a), DB_OK);
    CU_ASSERT_EQUAL(db_exec(a, BUMP_LK, NULL, 0, NULL), DB_OK);
    return b;
}

static void test_lock_wait_timeout(void)
{
    db_conn *a = db_thread(), *b = lk_locked();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(db_begin(b), DB_OK);
    CU_ASSERT_EQUAL(put(b, "other", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(db_exec(b, BUMP_LK, NULL, 0, NULL), DB_DEADLOCK);
    /* The whole transaction of b is gone: later statements report it. */
    db_result *r = NULL;
    CU_ASSERT_EQUAL(db_query(b, "SELECT 1", NULL, 0, 1, &r), DB_DEADLOCK);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(db_commit(b), DB_DEADLOCK);
    CU_ASSERT_EQUAL(db_commit(a), DB_OK);
    CU_ASSERT_EQUAL(db_query(b, "SELECT k, n FROM " T " ORDER BY k", NULL, 0, 10, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_rows(r), 1); /* "other" was rolled back */
    CU_ASSERT_EQUAL(db_result_i64(r, 0, 1, 0), 11);
    db_result_free(r);
    db_close(b);
}

/* One message of a batch: db_begin, insert k (and k2 when not NULL), then
 * commit, or roll back when `fail`. Returns the first insert's status. */
static enum db_status batch_msg(db_conn *c, const char *k, const char *k2, int fail)
{
    if (db_begin(c) != DB_OK)
        return DB_ERR;
    enum db_status st = put(c, k, DB_I64(1), DB_NULLV, DB_NULLV);
    if (st == DB_OK && k2 != NULL)
        st = put(c, k2, DB_I64(2), DB_NULLV, DB_NULLV);
    if (st != DB_OK || fail) {
        db_rollback(c);
        return st != DB_OK ? st : DB_ERR;
    }
    return db_commit(c);
}

static void test_batch_commits_together(void)
{
    clear_table();
    db_conn *c = db_thread();
    db_conn *o = db_open(&g_p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL_FATAL(db_batch_begin(c), DB_OK);
    CU_ASSERT_EQUAL(batch_msg(c, "b1", NULL, 0), DB_OK);
    /* A redelivered message finds its row on its first insert and rolls
     * back having written nothing: the batch goes on. */
    CU_ASSERT_EQUAL(batch_msg(c, "b1", NULL, 0), DB_DUPLICATE);
    CU_ASSERT_EQUAL(batch_msg(c, "b2", "b3", 0), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 3);
    /* Nothing is visible (durable) before the batch commits. */
    CU_ASSERT_EQUAL(count_rows(o), 0);
    CU_ASSERT_EQUAL(db_batch_end(c, 1), DB_OK);
    CU_ASSERT_EQUAL(count_rows(o), 3);
    /* Back to plain transactions afterwards. */
    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "after", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(db_rollback(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(o), 3);
    db_close(o);
}

static void test_batch_broken_by_rollback(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_EQUAL_FATAL(db_batch_begin(c), DB_OK);
    CU_ASSERT_EQUAL(batch_msg(c, "k1", NULL, 0), DB_OK);
    /* This message wrote, then rolled back: its write cannot be told from
     * the others', so the whole batch is undone. */
    CU_ASSERT_EQUAL(batch_msg(c, "k2", NULL, 1), DB_ERR);
    CU_ASSERT_NOT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_NOT_EQUAL(put(c, "k3", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_NOT_EQUAL(db_batch_end(c, 1), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 0);
    /* An explicit rollback of a healthy batch keeps nothing either. */
    CU_ASSERT_EQUAL_FATAL(db_batch_begin(c), DB_OK);
    CU_ASSERT_EQUAL(batch_msg(c, "k4", NULL, 0), DB_OK);
    CU_ASSERT_EQUAL(db_batch_end(c, 0), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 0);
}

static void test_batch_broken_by_deadlock(void)
{
    db_conn *a = db_thread(), *b = lk_locked();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(db_batch_begin(b), DB_OK);
    CU_ASSERT_EQUAL(batch_msg(b, "m1", NULL, 0), DB_OK);
    CU_ASSERT_EQUAL(db_begin(b), DB_OK);
    CU_ASSERT_EQUAL(db_exec(b, BUMP_LK, NULL, 0, NULL), DB_DEADLOCK);
    CU_ASSERT_NOT_EQUAL(db_commit(b), DB_OK);
    /* The server ended the batch's transaction: m1 is gone as well. */
    CU_ASSERT_EQUAL(db_batch_end(b, 1), DB_DEADLOCK);
    CU_ASSERT_EQUAL(db_commit(a), DB_OK);
    CU_ASSERT_EQUAL(count_rows(b), 1);
    db_close(b);
}

static void test_batch_broken_by_restart(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_EQUAL_FATAL(db_batch_begin(c), DB_OK);
    CU_ASSERT_EQUAL(batch_msg(c, "r1", NULL, 0), DB_OK);
    CU_ASSERT_EQUAL_FATAL(system(g_restart_cmd), 0);
    /* The server dropped the batch with the connection: no reconnect may
     * carry on with the rest of it in autocommit mode. */
    CU_ASSERT_NOT_EQUAL(batch_msg(c, "r2", NULL, 0), DB_OK);
    CU_ASSERT_NOT_EQUAL(put(c, "r3", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_NOT_EQUAL(db_batch_end(c, 1), DB_OK);
    /* Afterwards the connection works again, and none of the batch is there. */
    CU_ASSERT_EQUAL(put(c, "r4", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    db_result *r = NULL;
    CU_ASSERT_EQUAL(db_query(c, "SELECT k FROM " T, NULL, 0, 10, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_rows(r), 1);
    CU_ASSERT_STRING_EQUAL(db_result_get(r, 0, 0), "r4");
    db_result_free(r);
}

static void test_statement_cache(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_EQUAL(put(c, "cache", DB_I64(0), DB_NULLV, DB_NULLV), DB_OK);
    int ok = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++) {
        struct db_val p[] = {DB_I64(i), DB_TEXT("cache")};
        if (db_exec(c, "UPDATE " T " SET n = ? WHERE k = ?", p, 2, NULL) != DB_OK)
            continue;
        db_result *r = NULL;
        if (db_query(c, "SELECT n FROM " T " WHERE k = ?", &p[1], 1, 1, &r) == DB_OK &&
            db_result_i64(r, 0, 0, -1) == i)
            ok++;
        db_result_free(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_EQUAL(ok, 1000);
    printf("\n    2000 cached statements in %.0f ms ",
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    /* Many distinct statements (more than the cache holds) still work. */
    int distinct = 0;
    for (int i = 0; i < 300; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT %d + ?", i);
        struct db_val v = DB_I64(1);
        db_result *r = NULL;
        if (db_query(c, sql, &v, 1, 1, &r) == DB_OK && db_result_i64(r, 0, 0, -1) == i + 1)
            distinct++;
        db_result_free(r);
    }
    CU_ASSERT_EQUAL(distinct, 300);
}

static void test_conditional_update(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_EQUAL(put(c, "stock", DB_I64(5), DB_NULLV, DB_NULLV), DB_OK);
    const char *sql = "UPDATE " T " SET n = n - ? WHERE k = ? AND n >= ?";
    struct db_val p[] = {DB_I64(3), DB_TEXT("stock"), DB_I64(3)};
    uint64_t aff = 99;
    CU_ASSERT_EQUAL(db_exec(c, sql, p, 3, &aff), DB_OK);
    CU_ASSERT_EQUAL(aff, 1);
    aff = 99;
    CU_ASSERT_EQUAL(db_exec(c, sql, p, 3, &aff), DB_OK);
    CU_ASSERT_EQUAL(aff, 0);
    db_result *r = NULL;
    CU_ASSERT_EQUAL(db_query(c, "SELECT n FROM " T " WHERE k = ?", &p[1], 1, 1, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_i64(r, 0, 0, -1), 2);
    db_result_free(r);
}

static void test_max_rows(void)
{
    clear_table();
    db_conn *c = db_thread();
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof k, "row%02d", i);
        CU_ASSERT_EQUAL(put(c, k, DB_I64(i), DB_NULLV, DB_NULLV), DB_OK);
    }
    db_result *r = (db_result *)1;
    CU_ASSERT_EQUAL(db_query(c, "SELECT k, n FROM " T, NULL, 0, 10, &r), DB_ERR);
    CU_ASSERT_PTR_NULL(r);
    /* The connection is still in sync afterwards. */
    CU_ASSERT_EQUAL(db_query(c, "SELECT k, n FROM " T, NULL, 0, 50, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_rows(r), 50);
    db_result_free(r);
    CU_ASSERT_EQUAL(db_query(c, "SELECT k FROM " T " WHERE n < 0", NULL, 0, 0, &r), DB_OK);
    CU_ASSERT_EQUAL(db_result_rows(r), 0);
    CU_ASSERT_EQUAL(db_result_cols(r), 1);
    db_result_free(r);
    CU_ASSERT_EQUAL(db_ping(c), DB_OK);
}

static void test_survives_restart(void)
{
    clear_table();
    db_conn *c = db_thread();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(put(c, "before", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 1);

    /* Outside a transaction: the statement is retried on a new connection. */
    CU_ASSERT_EQUAL_FATAL(system(g_restart_cmd), 0);
    CU_ASSERT_EQUAL(count_rows(c), 1);
    CU_ASSERT_PTR_EQUAL(db_thread(), c);
    CU_ASSERT_EQUAL(put(c, "after", DB_I64(2), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 2);

    /* Inside a transaction: DB_GONE, the transaction stays aborted until the
     * caller rolls back, then the whole transaction works again. */
    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "txn1", DB_I64(3), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL_FATAL(system(g_restart_cmd), 0);
    CU_ASSERT_EQUAL(put(c, "txn2", DB_I64(4), DB_NULLV, DB_NULLV), DB_GONE);
    CU_ASSERT_EQUAL(put(c, "txn3", DB_I64(5), DB_NULLV, DB_NULLV), DB_GONE);
    CU_ASSERT_EQUAL(db_rollback(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 2);
    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "txn1", DB_I64(3), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(db_commit(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 3);

    /* db_begin itself on a dead connection reconnects. */
    CU_ASSERT_EQUAL_FATAL(system(g_restart_cmd), 0);
    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "txn4", DB_I64(6), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(db_commit(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 4);
    CU_ASSERT_EQUAL(db_ping(c), DB_OK);
}

static void test_server_stopped(void)
{
    const char *stop = env("ITEST_DB_STOP_CMD");
    const char *start = env("ITEST_DB_START_CMD");
    if (stop == NULL || start == NULL) {
        printf("\n    (ITEST_DB_STOP_CMD / ITEST_DB_START_CMD not set: skipped) ");
        return;
    }
    db_conn *c = db_thread();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL_FATAL(system(stop), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The existing connection fails and its one reconnect is refused. */
    CU_ASSERT_EQUAL(count_rows(c), -1);
    CU_ASSERT_EQUAL(db_ping(c), DB_GONE);
    /* A connection that is closed now cannot be reopened: NULL. */
    CU_ASSERT_PTR_NULL(db_thread());
    CU_ASSERT_PTR_NULL(db_open(&g_p));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT(t1.tv_sec - t0.tv_sec < 5);
    CU_ASSERT_EQUAL_FATAL(system(start), 0);
    c = db_thread();
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(db_ping(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 4);
}

static void test_null_conn(void)
{
    db_result *r = (db_result *)1;
    CU_ASSERT_EQUAL(db_query(NULL, "SELECT 1", NULL, 0, 1, &r), DB_GONE);
    CU_ASSERT_PTR_NULL(r);
    CU_ASSERT_EQUAL(db_exec(NULL, "SELECT 1", NULL, 0, NULL), DB_GONE);
    CU_ASSERT_EQUAL(db_ping(NULL), DB_GONE);
    CU_ASSERT_EQUAL(db_begin(NULL), DB_GONE);
    CU_ASSERT_EQUAL(db_result_rows(NULL), 0);
    CU_ASSERT_PTR_NULL(db_result_get(NULL, 0, 0));
    db_result_free(NULL);
}

/* db_hosts: the first node is a port nothing listens on. */
static struct db_params two_nodes(char *hosts, size_t n)
{
    struct db_params p = g_p;
    snprintf(hosts, n, "127.0.0.1:1,%s:%u", g_p.host ? g_p.host : "127.0.0.1", g_p.port);
    p.hosts = hosts;
    p.socket = NULL;
    return p;
}

static int64_t connection_id(db_conn *c)
{
    db_result *r = NULL;
    if (db_query(c, "SELECT CONNECTION_ID()", NULL, 0, 1, &r) != DB_OK)
        return -1;
    int64_t id = db_result_i64(r, 0, 0, -1);
    db_result_free(r);
    return id;
}

static void kill_connection(int64_t id)
{
    db_conn *k = db_open(&g_p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    struct db_val v[] = {DB_I64(id)};
    CU_ASSERT_EQUAL(db_exec(k, "KILL CONNECTION ?", v, 1, NULL), DB_OK);
    db_close(k);
}

static void test_hosts_first_dead(void)
{
    if (g_p.host == NULL)
        return; /* a unix socket is one node */
    char hosts[256];
    struct db_params p = two_nodes(hosts, sizeof hosts);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    db_conn *c = db_open(&p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT(t1.tv_sec - t0.tv_sec < 3);
    CU_ASSERT(connection_id(c) > 0);
    db_close(c);
    /* A list of one bad entry is refused. */
    p.hosts = "127.0.0.1:1,,x:2";
    CU_ASSERT_PTR_NULL(db_open(&p));
}

static void test_hosts_killed_connection(void)
{
    if (g_p.host == NULL)
        return;
    clear_table();
    char hosts[256];
    struct db_params p = two_nodes(hosts, sizeof hosts);
    db_conn *c = db_open(&p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* Outside a transaction: the next statement reconnects (through the dead
     * node, to the live one) and runs. */
    int64_t id = connection_id(c);
    kill_connection(id);
    int64_t id2 = connection_id(c);
    CU_ASSERT(id2 > 0 && id2 != id);
    CU_ASSERT_EQUAL(put(c, "k1", DB_I64(1), DB_NULLV, DB_NULLV), DB_OK);
    /* Inside one: the transaction is lost and reported, never half replayed;
     * the caller's retry does it again on the new connection. */
    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "k2", DB_I64(2), DB_NULLV, DB_NULLV), DB_OK);
    kill_connection(id2);
    CU_ASSERT_EQUAL(put(c, "k3", DB_I64(3), DB_NULLV, DB_NULLV), DB_GONE);
    CU_ASSERT_EQUAL(db_commit(c), DB_GONE);
    CU_ASSERT_EQUAL(db_begin(c), DB_OK);
    CU_ASSERT_EQUAL(put(c, "k2", DB_I64(2), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(put(c, "k3", DB_I64(3), DB_NULLV, DB_NULLV), DB_OK);
    CU_ASSERT_EQUAL(db_commit(c), DB_OK);
    CU_ASSERT_EQUAL(count_rows(c), 3);
    db_close(c);
}

static const struct test_case TESTS[] = {
    {"round trip: int64 limits, UTF-8, quotes", test_roundtrip},
    {"NULL values", test_nulls},
    {"DECIMAL, DATETIME, UTC session", test_decimal_datetime_tz},
    {"long value (refetched column)", test_long_value},
    {"duplicate key and SQL errors", test_duplicate},
    {"transactions: rollback and commit", test_transaction},
    {"lock wait timeout aborts the transaction", test_lock_wait_timeout},
    {"batch: one commit for all, a duplicate keeps it", test_batch_commits_together},
    {"batch: a rollback after a write undoes it all", test_batch_broken_by_rollback},
    {"batch: a lock wait timeout breaks it", test_batch_broken_by_deadlock},
    {"batch: a server restart breaks it", test_batch_broken_by_restart},
    {"statement cache reuse", test_statement_cache},
    {"conditional update affected rows", test_conditional_update},
    {"max_rows exceeded is DB_ERR", test_max_rows},
    {"connection survives a server restart", test_survives_restart},
    {"server stopped: NULL / DB_GONE, then back", test_server_stopped},
    {"NULL connection", test_null_conn},
    {"db_hosts: a dead first node, the second answers", test_hosts_first_dead},
    {"db_hosts: a killed connection reconnects; its transaction is reported lost",
     test_hosts_killed_connection},
    {NULL, NULL},
};

#include "testmain.h"
