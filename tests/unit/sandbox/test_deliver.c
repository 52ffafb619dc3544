/* sandbox/deliver.c: a POST through libcurl against a tiny local listener
 * that answers each connection with a canned answer. */
#define SUITE_NAME "sandbox_deliver"
#include "testmain.h"

#include "deliver.h"

#include "buf.h"

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The listener: accepts one connection, reads the request (headers and
 * Content-Length bytes) into `request`, writes `answer` (len bytes; then
 * `repeat` more copies of `filler`), and closes; `hold` > 0 keeps it open
 * that many ms first, without answering. */
struct server {
    int fd, port;
    const char *answer;
    size_t len;
    size_t repeat;
    int hold_ms;
    char request[8192];
    pthread_t thread;
};

static void read_request(int c, struct server *s)
{
    size_t n = 0;
    long want = -1;
    for (;;) {
        ssize_t r = read(c, s->request + n, sizeof s->request - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        s->request[n] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        char *cl = strstr(s->request, "Content-Length: ");
        if (end && cl && want < 0)
            want = (end + 4 - s->request) + strtol(cl + 16, NULL, 10);
        if (want >= 0 && (long)n >= want)
            break;
    }
}

static void *serve(void *arg)
{
    struct server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    read_request(c, s);
    if (s->hold_ms > 0) {
        struct timespec ts = {s->hold_ms / 1000, (long)(s->hold_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    } else {
        char filler[1024];
        memset(filler, 'x', sizeof filler);
        if (write(c, s->answer, s->len) < 0)
            s->repeat = 0;
        for (size_t i = 0; i < s->repeat; i++)
            if (write(c, filler, sizeof filler) < 0)
                break;
    }
    close(c);
    return NULL;
}

static int start(struct server *s, const char *answer, size_t repeat, int hold_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    memset(s, 0, sizeof *s);
    s->answer = answer;
    s->len = strlen(answer);
    s->repeat = repeat;
    s->hold_ms = hold_ms;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 4) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, serve, s);
}

static void finish(struct server *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* One try against a listener answering `answer` (see struct server): the
 * result of deliver_post_form, with what came back in r. */
struct result {
    struct server s;
    int status;
    char err[256];
    struct buf answer;
};

static int run(struct result *r, const char *answer, size_t repeat, int hold_ms, size_t cap,
               long total_ms, const atomic_int *stop)
{
    char url[64];
    r->status = 0;
    r->err[0] = '\0';
    buf_init(&r->answer, cap);
    if (start(&r->s, answer, repeat, hold_ms) != 0)
        return -2;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/pay/notify?x=1", r->s.port);
    struct deliver_try t = {.url = url, .body = "a=1&b=two", .total_ms = total_ms, .stop = stop};
    int rc = deliver_post_form(&t, &r->status, &r->answer, r->err, sizeof r->err);
    finish(&r->s);
    return rc;
}

static void test_success_answer(void)
{
    struct result r;
    CU_ASSERT_EQUAL(run(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n  success\n", 0, 0,
                        DELIVER_ANSWER_MAX, 0, NULL),
                    0);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(buf_str(&r.answer), "success"); /* trimmed */
    CU_ASSERT_PTR_NOT_NULL(strstr(r.s.request, "POST /pay/notify?x=1 HTTP/1.1\r\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.s.request, "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"));
    CU_ASSERT_PTR_NULL(strstr(r.s.request, "Expect:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.s.request, "\r\n\r\na=1&b=two"));
    buf_free(&r.answer);
}

static void test_chunked_answer(void)
{
    struct result r;
    CU_ASSERT_EQUAL(
        run(&r, "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfail\r\n0\r\n\r\n", 0,
            0, DELIVER_ANSWER_MAX, 0, NULL),
        0);
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_STRING_EQUAL(buf_str(&r.answer), "fail");
    buf_free(&r.answer);
}

static void test_huge_chunk_ends_the_try(void)
{
    struct result r;
    /* A chunk of 16 MiB announced, a few bytes sent, the connection closed. */
    CU_ASSERT_EQUAL(run(&r,
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\nsuccess", 0,
                        0, DELIVER_ANSWER_MAX, 0, NULL),
                    -1);
    CU_ASSERT_NOT_EQUAL(r.err[0], '\0');
    buf_free(&r.answer);
}

static void test_answer_over_the_cap(void)
{
    struct result r;
    /* The huge chunk really sent: 100 KiB of it, more than the cap. */
    CU_ASSERT_EQUAL(run(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffff\r\n", 100,
                        0, 4096, 0, NULL),
                    -1);
    CU_ASSERT_STRING_EQUAL(r.err, "answer over 4096 bytes");
    CU_ASSERT_TRUE(r.answer.len <= 4096);
    buf_free(&r.answer);
}

static void test_timeout_and_stop(void)
{
    struct result r;
    atomic_int stop = 1;
    /* The listener stays silent for 2 s, then closes: the 300 ms limit must
     * end the try first (a close would be another error, not a timeout). */
    CU_ASSERT_EQUAL(run(&r, "", 0, 2000, DELIVER_ANSWER_MAX, 300, NULL), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "imed out"));
    buf_free(&r.answer);
    CU_ASSERT_EQUAL(run(&r, "", 0, 2000, DELIVER_ANSWER_MAX, 0, &stop), -1);
    CU_ASSERT_STRING_EQUAL(r.err, "stopped");
    buf_free(&r.answer);
}

static void test_refused(void)
{
    struct server s;
    struct buf answer;
    char url[64], err[256] = "";
    int status = 0;
    buf_init(&answer, DELIVER_ANSWER_MAX);
    CU_ASSERT_EQUAL_FATAL(start(&s, "", 0, 0), 0);
    finish(&s); /* nobody listens there any more */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    struct deliver_try t = {.url = url, .body = "a=1"};
    CU_ASSERT_EQUAL(deliver_post_form(&t, &status, &answer, err, sizeof err), -1);
    CU_ASSERT_EQUAL(status, 0);
    CU_ASSERT_NOT_EQUAL(err[0], '\0');
    buf_free(&answer);
}

static void test_url_ok(void)
{
    CU_ASSERT_TRUE(deliver_url_ok("http://127.0.0.1:8080/pay/notify/alipay"));
    CU_ASSERT_TRUE(deliver_url_ok("http://shop.example/pay?x=1"));
    CU_ASSERT_TRUE(deliver_url_ok("http://[::1]:8080/"));
    CU_ASSERT_FALSE(deliver_url_ok("https://shop.example/")); /* no TLS */
    CU_ASSERT_FALSE(deliver_url_ok("ftp://shop.example/"));
    CU_ASSERT_FALSE(deliver_url_ok("shop.example/pay"));
    CU_ASSERT_FALSE(deliver_url_ok("http://shop.example/a b"));
    CU_ASSERT_FALSE(deliver_url_ok("http://shop.example/\r\nX: y"));
    CU_ASSERT_FALSE(deliver_url_ok("http:///nohost"));
    CU_ASSERT_FALSE(deliver_url_ok(""));
}

static int setup(void)
{
    return deliver_global_init() == 0 ? 0 : 1;
}

static int cleanup(void)
{
    deliver_global_cleanup();
    return 0;
}

#define SUITE_INIT    setup
#define SUITE_CLEANUP cleanup

static const struct test_case TESTS[] = {
    {"a form is POSTed and the trimmed answer comes back", test_success_answer},
    {"a chunked answer is decoded", test_chunked_answer},
    {"a huge chunk that never comes ends the try with an error", test_huge_chunk_ends_the_try},
    {"an answer over the cap ends the try", test_answer_over_the_cap},
    {"a silent merchant times out; a stop aborts the try", test_timeout_and_stop},
    {"a refused connection is an error, not an answer", test_refused},
    {"only plain http URLs without spaces or control bytes are taken", test_url_ok},
    {NULL, NULL},
};

#include "testmain.h"
