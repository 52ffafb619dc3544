#define SUITE_NAME "log"
#include "testmain.h"

#include "log.h"

#include <CUnit/CUnit.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CUT_MARK "\xe2\x80\xa6"

/* Start a capture: a fresh temporary file as the log stream. */
static FILE *capture_start(enum log_level min)
{
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    log_init("shop-app", min);
    log_set_stream(f);
    log_set_request_id(NULL);
    return f;
}

/* End a capture: everything written, as a malloc'd string (free it). */
static char *capture_end(FILE *f)
{
    log_set_stream(NULL);
    long size = lseek(fileno(f), 0, SEEK_END);
    CU_ASSERT_FATAL(size >= 0);
    char *s = calloc(1, (size_t)size + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(pread(fileno(f), s, (size_t)size, 0), size);
    fclose(f);
    return s;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static int matches(const char *s, const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

static void utc_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void test_format(void)
{
    char before[32], after[32];
    FILE *f = capture_start(LOG_DEBUG);
    utc_now(before);
    log_info("hello %d %s", 42, "world");
    utc_now(after);
    char *out = capture_end(f);
    CU_ASSERT(matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                           "INFO  shop-app req=- hello 42 world\n$"));
    /* The timestamp is now, in UTC (ISO 8601 strings sort like times). */
    char stamp[25];
    memcpy(stamp, out, 24);
    stamp[24] = '\0';
    CU_ASSERT(strcmp(stamp, before) >= 0);
    CU_ASSERT(strcmp(stamp, after) <= 0);
    free(out);
}

static void test_level_tags(void)
{
    FILE *f = capture_start(LOG_DEBUG);
    log_debug("d");
    log_info("i");
    log_warn("w");
    log_error("e");
    char *out = capture_end(f);
    CU_ASSERT(matches(out, "Z DEBUG shop-app req=- d\n"
                           "[^\n]*Z INFO  shop-app req=- i\n"
                           "[^\n]*Z WARN  shop-app req=- w\n"
                           "[^\n]*Z ERROR shop-app req=- e\n$"));
    CU_ASSERT_EQUAL(count_char(out, '\n'), 4);
    free(out);
}

static void test_level_filter(void)
{
    FILE *f = capture_start(LOG_WARN);
    log_debug("dropped-debug");
    log_info("dropped-info");
    log_warn("kept-warn");
    log_error("kept-error");
    char *out = capture_end(f);
    CU_ASSERT_EQUAL(count_char(out, '\n'), 2);
    CU_ASSERT_PTR_NULL(strstr(out, "dropped"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "kept-warn"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "kept-error"));
    free(out);

    f = capture_start(LOG_ERROR);
    log_warn("dropped");
    out = capture_end(f);
    CU_ASSERT_STRING_EQUAL(out, "");
    free(out);
}

static void test_level_parse(void)
{
    enum log_level l = LOG_ERROR;
    CU_ASSERT_EQUAL(log_level_parse("debug", &l), 0);
    CU_ASSERT_EQUAL(l, LOG_DEBUG);
    CU_ASSERT_EQUAL(log_level_parse("INFO", &l), 0);
    CU_ASSERT_EQUAL(l, LOG_INFO);
    CU_ASSERT_EQUAL(log_level_parse("Warn", &l), 0);
    CU_ASSERT_EQUAL(l, LOG_WARN);
    CU_ASSERT_EQUAL(log_level_parse("error", &l), 0);
    CU_ASSERT_EQUAL(l, LOG_ERROR);
    l = LOG_INFO;
    CU_ASSERT_EQUAL(log_level_parse("verbose", &l), -1);
    CU_ASSERT_EQUAL(log_level_parse("", &l), -1);
    CU_ASSERT_EQUAL(log_level_parse("info ", &l), -1);
    CU_ASSERT_EQUAL(log_level_parse(NULL, &l), -1);
    CU_ASSERT_EQUAL(l, LOG_INFO);
}

static void test_request_id(void)
{
    FILE *f = capture_start(LOG_INFO);
    CU_ASSERT_STRING_EQUAL(log_request_id(), "");
    log_set_request_id("5f3a9c01d2e4b6a8");
    CU_ASSERT_STRING_EQUAL(log_request_id(), "5f3a9c01d2e4b6a8");
    log_info("with");
    log_set_request_id(NULL);
    CU_ASSERT_STRING_EQUAL(log_request_id(), "");
    log_info("without");
    /* At most 32 characters are kept. */
    log_set_request_id("0123456789abcdef0123456789abcdefTAIL");
    CU_ASSERT_STRING_EQUAL(log_request_id(), "0123456789abcdef0123456789abcdef");
    log_set_request_id(NULL);
    char *out = capture_end(f);
    CU_ASSERT(matches(out, "^[^\n]*Z INFO  shop-app req=5f3a9c01d2e4b6a8 with\n"
                           "[^\n]*Z INFO  shop-app req=- without\n$"));
    free(out);
}

struct thread_result {
    char seen[64];
};

static void *other_thread(void *p)
{
    struct thread_result *r = p;
    /* A new thread starts without the creator's id. */
    snprintf(r->seen, sizeof r->seen, "[%s]", log_request_id());
    log_set_request_id("thread-b");
    log_info("from b");
    return NULL;
}

static void test_request_id_per_thread(void)
{
    FILE *f = capture_start(LOG_INFO);
    log_set_request_id("thread-a");
    struct thread_result r;
    pthread_t t;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, other_thread, &r), 0);
    pthread_join(t, NULL);
    CU_ASSERT_STRING_EQUAL(r.seen, "[]");
    /* The other thread's id did not replace this one's. */
    CU_ASSERT_STRING_EQUAL(log_request_id(), "thread-a");
    log_info("from a");
    log_set_request_id(NULL);
    char *out = capture_end(f);
    CU_ASSERT(matches(out, "^[^\n]*req=thread-b from b\n[^\n]*req=thread-a from a\n$"));
    free(out);
}

static void test_newlines_folded(void)
{
    FILE *f = capture_start(LOG_INFO);
    log_warn("first\nsecond\r\nthird\r");
    log_set_request_id("evil\nid");
    log_info("x");
    log_set_request_id(NULL);
    char *out = capture_end(f);
    CU_ASSERT_EQUAL(count_char(out, '\n'), 2);
    CU_ASSERT_PTR_NULL(strchr(out, '\r'));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "req=- first second  third \n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "req=evil id x\n"));
    free(out);
}

/* The length of the prefix up to the message, for a given program and id. */
static size_t prefix_len(void)
{
    FILE *f = capture_start(LOG_INFO);
    log_info("M");
    char *out = capture_end(f);
    size_t n = strlen(out) - 2; /* "M\n" */
    free(out);
    return n;
}

static void test_truncation(void)
{
    size_t p = prefix_len();
    CU_ASSERT_FATAL(p > 30 && p < 100);
    char *msg = malloc(20000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(msg);

    /* A message that exactly fills 4096 bytes (with the newline) is whole. */
    memset(msg, 'x', 4095 - p);
    msg[4095 - p] = '\0';
    FILE *f = capture_start(LOG_INFO);
    log_info("%s", msg);
    char *out = capture_end(f);
    CU_ASSERT_EQUAL(strlen(out), 4096);
    CU_ASSERT_PTR_NULL(strstr(out, CUT_MARK));
    free(out);

    /* One byte more, and it is cut with the marker, still 4096 bytes. */
    memset(msg, 'x', 4096 - p);
    msg[4096 - p] = '\0';
    f = capture_start(LOG_INFO);
    log_info("%s", msg);
    out = capture_end(f);
    size_t len = strlen(out);
    CU_ASSERT_EQUAL(len, 4096);
    CU_ASSERT(len >= 4 && strcmp(out + len - 4, CUT_MARK "\n") == 0);
    free(out);

    /* A very long message: one line, capped. */
    memset(msg, 'y', 19999);
    msg[19999] = '\0';
    f = capture_start(LOG_INFO);
    log_error("%s", msg);
    log_info("next");
    out = capture_end(f);
    CU_ASSERT_EQUAL(count_char(out, '\n'), 2);
    char *nl = strchr(out, '\n');
    CU_ASSERT_EQUAL((size_t)(nl - out) + 1, 4096);
    CU_ASSERT(strncmp(nl - 3, CUT_MARK, 3) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(nl + 1, "req=- next\n"));
    free(out);
    free(msg);
}

static void test_truncation_utf8(void)
{
    /* A cut never splits a multi-byte character in front of the marker. */
    for (int shift = 0; shift < 3; shift++) {
        char msg[12000];
        size_t n = 0;
        for (int i = 0; i < shift; i++)
            msg[n++] = 'a';
        while (n + 3 < sizeof msg) {
            memcpy(msg + n, "\xe2\x82\xac", 3); /* euro sign */
            n += 3;
        }
        msg[n] = '\0';
        FILE *f = capture_start(LOG_INFO);
        log_info("%s", msg);
        char *out = capture_end(f);
        size_t len = strlen(out);
        CU_ASSERT(len <= 4096 && len > 4000);
        CU_ASSERT(strcmp(out + len - 4, CUT_MARK "\n") == 0);
        /* Before the marker: the last character is a whole euro sign. */
        CU_ASSERT(memcmp(out + len - 7, "\xe2\x82\xac", 3) == 0);
        free(out);
    }
}

static void test_one_write_per_line(void)
{
    /* A SOCK_SEQPACKET socket keeps write() boundaries: one recv() returns
     * exactly what one write() sent. */
    int sv[2];
    CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    FILE *f = fdopen(sv[0], "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    log_init("shop-app", LOG_INFO);
    log_set_stream(f);
    char big[6000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_info("one");
    log_info("%s", big);
    log_info("three %s", "x");
    log_set_stream(NULL);

    char rx[8192];
    ssize_t n = recv(sv[1], rx, sizeof rx, 0);
    CU_ASSERT(n > 0 && rx[n - 1] == '\n' && memchr(rx, '\n', (size_t)n) == rx + n - 1);
    CU_ASSERT(n > 4 && memcmp(rx + n - 5, " one\n", 5) == 0);
    n = recv(sv[1], rx, sizeof rx, 0);
    CU_ASSERT_EQUAL(n, 4096);
    CU_ASSERT(n > 0 && rx[n - 1] == '\n');
    n = recv(sv[1], rx, sizeof rx, 0);
    CU_ASSERT(n > 8 && memcmp(rx + n - 9, " three x\n", 9) == 0);
    fclose(f);
    close(sv[1]);
}

static const struct test_case TESTS[] = {
    {"line format", test_format},
    {"level tags", test_level_tags},
    {"level filtering", test_level_filter},
    {"level names parse", test_level_parse},
    {"request id present and absent", test_request_id},
    {"request id is per thread", test_request_id_per_thread},
    {"newlines folded into spaces", test_newlines_folded},
    {"long message truncated with marker", test_truncation},
    {"truncation keeps UTF-8 whole", test_truncation_utf8},
    {"one write() per line", test_one_write_per_line},
    {NULL, NULL},
};

#include "testmain.h"
