/* deliver: one HTTP POST of a form body to a merchant's URL, through libcurl
 * (the only file of the sandbox that speaks to it). Bounded in every
 * direction: connect and total timeouts, the answer read into a capped
 * buffer (an endless or huge answer, chunked or not, ends the try with an
 * error rather than with memory), no redirects, plain http:// only, and a
 * stop flag that aborts a transfer in progress. */
#ifndef SANDBOX_DELIVER_H
#define SANDBOX_DELIVER_H

#include <stdatomic.h>
#include <stddef.h>

struct buf;

#define DELIVER_URL_MAX    1024
#define DELIVER_CONNECT_MS 5000
#define DELIVER_TOTAL_MS   15000 /* connect, send and the whole answer */
#define DELIVER_ANSWER_MAX (64 * 1024)

/* Once at start, before any thread delivers (curl_global_init). 0 or -1. */
int deliver_global_init(void);
void deliver_global_cleanup(void);

/* 1 when url is one the sandbox delivers to: http://host[:port][/path][?query]
 * of at most DELIVER_URL_MAX bytes, nothing below 0x21 or 0x7f in it; else 0. */
int deliver_url_ok(const char *url);

struct deliver_try {
    const char *url;
    const char *body;       /* application/x-www-form-urlencoded */
    long connect_ms;        /* 0: DELIVER_CONNECT_MS */
    long total_ms;          /* 0: DELIVER_TOTAL_MS */
    const atomic_int *stop; /* may be NULL; non-zero aborts the transfer */
};

/* POST t->body to t->url. Returns 0 when an HTTP answer came back: *status
 * and answer (reset first; its cap is the largest answer read) hold it, the
 * body trimmed of white space. Returns -1 otherwise with a one-line reason in
 * err ("connect ... refused", "answer over 65536 bytes", "stopped", ...). */
int deliver_post_form(const struct deliver_try *t, int *status, struct buf *answer, char *err,
                      size_t errsz);

#endif
