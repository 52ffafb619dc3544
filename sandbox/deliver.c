#include "deliver.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

int deliver_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void deliver_global_cleanup(void)
{
    curl_global_cleanup();
}

int deliver_url_ok(const char *url)
{
    size_t len = strlen(url);
    /* curl would read "http:///x" as host x: a host must follow "//". */
    if (len > DELIVER_URL_MAX || strncmp(url, "http://", 7) != 0 || url[7] == '/' || url[7] == '\0')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
            return 0;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
             strcmp(scheme, "http") == 0 && host[0] != '\0';
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

struct sink {
    struct buf *answer;
    int over; /* the answer passed the buffer's cap */
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    if (buf_append(s->answer, p, n) != 0) {
        s->over = 1;
        return 0; /* ends the transfer with CURLE_WRITE_ERROR */
    }
    (void)size; /* always 1 */
    return n;
}

static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    const atomic_int *stop = ud;
    (void)dlt, (void)dln, (void)ult, (void)uln;
    return stop != NULL && atomic_load(stop) ? 1 : 0;
}

static void trim(struct buf *b)
{
    size_t start = 0, end = b->len;
    while (start < end && isspace((unsigned char)b->data[start]))
        start++;
    while (end > start && isspace((unsigned char)b->data[end - 1]))
        end--;
    if (b->data == NULL)
        return;
    memmove(b->data, b->data + start, end - start);
    b->len = end - start;
    b->data[b->len] = '\0';
}

static void set_options(CURL *c, const struct deliver_try *t, struct sink *s,
                        struct curl_slist *headers, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     t->connect_ms ? t->connect_ms : DELIVER_CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t->total_ms ? t->total_ms : DELIVER_TOTAL_MS);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "shop-sandbox");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(t->body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)t->stop);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

int deliver_post_form(const struct deliver_try *t, int *status, struct buf *answer, char *err,
                      size_t errsz)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct sink s = {.answer = answer};
    struct curl_slist *headers = NULL, *h;
    int rc = -1;
    *status = 0;
    buf_reset(answer);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errsz, "cannot start a transfer");
        return -1;
    }
    /* "Expect:" keeps curl from waiting for a 100 Continue. */
    h = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    headers = h ? curl_slist_append(h, "Expect:") : NULL;
    if (headers == NULL) {
        curl_slist_free_all(h);
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    set_options(c, t, &s, headers, errbuf);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
        trim(answer);
        rc = 0;
    } else if (s.over) {
        snprintf(err, errsz, "answer over %zu bytes", answer->max);
    } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(err, errsz, "stopped");
    } else {
        snprintf(err, errsz, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
out:
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return rc;
}
