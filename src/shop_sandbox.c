/* shop-sandbox: a payment provider that speaks Alipay's protocol, for tests
 * and demos. FastCGI behind nginx on a port of its own (nginx/sandbox.conf).
 *
 *   GET|POST /gateway.do  a signed alipay.trade.page.pay request: verified with
 *                         the merchant's public key, then the cashier page
 *   POST /pay             pays the trade: a signed notification is queued on
 *                         disk and the buyer goes back to return_url with the
 *                         signed synchronous return parameters (303)
 *   POST /cancel          back to return_url without any parameter (303)
 *   GET /                 what the sandbox is and its delivery queue
 *   GET /style.css        the pages' stylesheet
 *
 * State (--state-dir): trades/<id>.json (one per cashier visit), paid/<hash>
 * (an out_trade_no paid once, like Alipay refusing a second payment),
 * pending/<notify_id>.json (notifications still to deliver: the form body,
 * the notify URL, the attempt count and the next try), failed/ (given up).
 * Every file is written to a temporary name, fsynced and renamed, so a crash
 * or restart loses no pending delivery.
 *
 * The delivery thread POSTs each pending notification to its notify_url
 * (plain HTTP) and deletes it when the answer is exactly "success"; otherwise
 * it tries again on Alipay's schedule (now, then after 4m, 10m, 10m, 1h, 2h,
 * 6h, 15h: 8 tries) times --time-scale, and after the last try moves the file
 * to failed/. It sleeps on a condition variable until the earliest next try,
 * and /pay wakes it.
 *
 * Times in the protocol fields are UTC ("YYYY-MM-DD HH:MM:SS"), as the shop
 * writes them; the real Alipay uses Beijing time.
 *
 * `shop-sandbox sign --provider-private-key PEM k=v ...` prints a signed form
 * body, for sending a notification by hand with curl. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alipay.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "runtime.h"
#include "money.h"

#define MAX_BODY      (64 * 1024)  /* a request body */
#define FILE_MAX      (256 * 1024) /* a state file */
#define TRADE_ID_LEN  32           /* hex */
#define NOTIFY_TRIES  8
#define RESPONSE_MAX  (64 * 1024) /* a notify URL's answer */
#define CONNECT_MS    5000
#define EXCHANGE_MS   10000 /* send and receive, after connecting */
#define SUBJECT_MAX   256
#define OUT_TRADE_MAX 64
#define URL_MAX       1024
#define IDLE_WAIT_MS  60000 /* the longest sleep with nothing pending */
#define BUYER_ID      "2088102000000001"

/* Alipay's schedule after the first, immediate try, in seconds. */
static const int RETRY_DELAYS_S[NOTIFY_TRIES - 1] = {240, 600, 600, 3600, 7200, 21600, 54000};

struct options {
    const char *socket;
    const char *pid_file;
    const char *state_dir;
    const char *merchant_public_key;
    const char *provider_private_key;
    const char *app_id;
    const char *seller_id;
    double time_scale;
    int threads;
};

static struct options opt = {
    .app_id = "2026000000000001",
    .seller_id = "2088000000000001",
    .time_scale = 1.0,
    .threads = 4,
};

static EVP_PKEY *merchant_pub;  /* verifies page-pay requests */
static EVP_PKEY *provider_priv; /* signs notifications and returns */
static atomic_int stopping;
static int listen_fd = -1;

/* Guards every change under the state directory and the wake-up counter. */
static pthread_mutex_t state_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t delivery_cv = PTHREAD_COND_INITIALIZER;
static unsigned kick_gen; /* bumped when a notification is queued or on stop */

/* --- small helpers ------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[32];
    if (nbytes > sizeof rnd || getrandom(rnd, nbytes, 0) != (ssize_t)nbytes)
        return -1;
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[2 * nbytes] = '\0';
    return 0;
}

static int is_hex_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
            return 0;
    return n == TRADE_ID_LEN;
}

static int state_path(char *out, size_t outsz, const char *sub, const char *name)
{
    int n =
        snprintf(out, outsz, "%s/%s%s%s", opt.state_dir, sub, name ? "/" : "", name ? name : "");
    return n > 0 && (size_t)n < outsz ? 0 : -1;
}

static void html_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&#39;");
            break;
        default:
            buf_putc(b, *s);
        }
    }
}

/* For log lines: printable ASCII only, at most max bytes. */
static void log_safe(const char *s, size_t len, char *out, size_t max)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < max; i++)
        out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[o] = '\0';
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key, int64_t dflt)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return dflt;
    return json_object_get_int64(v);
}

/* --- files: atomic writes, capped reads --------------------------------- */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write data as path: a temporary file in the same directory, fsync, rename,
 * fsync of the directory. Readers see the old or the new file, never half. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s/.tmp.XXXXXX", dir) >= (int)sizeof tmp ||
        snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -1;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    int rc = write_all(fd, data, len) == 0 && fsync(fd) == 0 ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return fsync_dir(dir);
}

static int write_json(const char *sub, const char *name, json_object *o)
{
    char dir[PATH_MAX];
    size_t len;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (s == NULL || state_path(dir, sizeof dir, sub, NULL) != 0)
        return -1;
    return write_atomic(dir, name, s, len);
}

/* Read a JSON object file; NULL when absent, too large or not an object. */
static json_object *read_json(const char *path)
{
    json_object *o = NULL;
    struct buf b;
    buf_init(&b, FILE_MAX);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char chunk[8192];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        if (buf_append(&b, chunk, (size_t)n) != 0)
            goto out;
    if (n < 0)
        goto out;
    o = json_tokener_parse(buf_str(&b));
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
out:
    close(fd);
    buf_free(&b);
    return o;
}

static int make_dirs(void)
{
    static const char *const subs[] = {"", "trades", "paid", "pending", "failed"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (state_path(path, sizeof path, subs[i], NULL) != 0)
            return -1;
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "shop-sandbox: cannot create %s: %s\n", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* --- responses ----------------------------------------------------------- */

static const char STYLE[] =
    ":root{color-scheme:light}*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\","
    "\"PingFang SC\",sans-serif;background:#eef3f8;color:#1d2733}"
    "header{background:#1677ff;color:#fff;padding:14px 24px;display:flex;align-items:center;"
    "gap:12px}"
    "header .logo{font-weight:700;font-size:18px;letter-spacing:.02em}"
    "header .badge{border:1px solid rgba(255,255,255,.6);border-radius:999px;padding:1px 10px;"
    "font-size:12px;text-transform:uppercase;letter-spacing:.08em}"
    "main{max-width:480px;margin:40px auto;padding:0 16px}"
    ".card{background:#fff;border-radius:12px;box-shadow:0 6px 24px rgba(29,39,51,.08);"
    "padding:28px}"
    "h1{font-size:20px;margin:0 0 4px}"
    ".muted{color:#5b6b7c;font-size:14px;margin:0}"
    ".amount{font-size:40px;font-weight:700;margin:18px 0 4px;"
    "font-variant-numeric:tabular-nums}"
    ".amount small{font-size:20px;font-weight:600;margin-right:6px;color:#5b6b7c}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:20px 0 0;"
    "font-size:14px}"
    "dt{color:#5b6b7c}dd{margin:0;overflow-wrap:anywhere}"
    ".actions{display:flex;gap:12px;margin-top:28px}.actions form{flex:1;margin:0}"
    "button,.button{display:block;width:100%;text-align:center;text-decoration:none;"
    "font:inherit;font-weight:600;padding:12px 16px;border-radius:8px;"
    "border:1px solid transparent;cursor:pointer}"
    ".pay{background:#1677ff;color:#fff}.pay:hover{background:#0958d9}"
    ".cancel{background:#fff;color:#1d2733;border-color:#c9d3de}"
    ".cancel:hover{background:#f4f7fa}"
    ".error h1{color:#c62828}.ok h1{color:#2e7d32}"
    "code{font-size:13px;background:#f4f7fa;padding:1px 4px;border-radius:4px}"
    "footer{text-align:center;color:#8394a5;font-size:12px;margin:24px 0}"
    "a{color:#1677ff}";

/* The shop's writer (http_response_serialize) pins form-action to 'self';
 * the cashier's forms redirect to the merchant's return_url, which a browser
 * checks against form-action, so the sandbox writes its own header block
 * with the same security headers and form-action widened to that origin. */
static int send_response(const struct http_response *res, FCGX_Stream *out, const char *form_origin)
{
    struct buf b;
    buf_init(&b, HTTP_RESPONSE_MAX + HTTP_HEADER_MAX * 8);
    int rc = 0;
    rc |= buf_printf(&b, "Status: %d %s\r\n", res->status, http_status_text(res->status));
    rc |= buf_puts(&b, "X-Content-Type-Options: nosniff\r\n"
                       "X-Frame-Options: DENY\r\n"
                       "Referrer-Policy: no-referrer\r\n"
                       "Cross-Origin-Opener-Policy: same-origin\r\n"
                       "Cache-Control: no-store\r\n");
    rc |= buf_printf(&b,
                     "Content-Security-Policy: default-src 'none'; style-src 'self'; "
                     "img-src 'self' data:; form-action 'self'%s%s; frame-ancestors 'none'; "
                     "base-uri 'none'\r\n",
                     form_origin ? " " : "", form_origin ? form_origin : "");
    rc |= buf_append(&b, buf_str(&res->headers), res->headers.len);
    rc |= buf_printf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", res->content_type,
                     res->body.len);
    if (!res->no_body)
        rc |= buf_append(&b, buf_str(&res->body), res->body.len);
    if (rc == 0 && FCGX_PutStr(b.data, (int)b.len, out) != (int)b.len)
        rc = -1;
    buf_free(&b);
    return rc == 0 ? 0 : -1;
}

static void page_open(struct http_response *res, int status, const char *title,
                      const char *card_class)
{
    res->status = status;
    res->content_type = "text/html; charset=utf-8";
    buf_reset(&res->body);
    struct buf *b = &res->body;
    buf_puts(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                "<title>");
    html_escape(b, title);
    buf_puts(b, " · Payment sandbox</title>\n<link rel=\"icon\" href=\"data:,\">\n"
                "<link rel=\"stylesheet\" href=\"/style.css\">\n"
                "</head>\n<body>\n<header><span class=\"logo\">Alipay-compatible payment "
                "sandbox</span><span class=\"badge\">test only</span></header>\n<main>\n"
                "<section class=\"card ");
    buf_puts(b, card_class);
    buf_puts(b, "\">\n");
}

static void page_close(struct http_response *res)
{
    buf_puts(&res->body, "</section>\n<footer>shop-sandbox plays Alipay for tests: no real "
                         "money moves.</footer>\n</main>\n</body>\n</html>\n");
}

/* A page with a heading, a message and an optional link back. */
static void message_page(struct http_response *res, int status, const char *card_class,
                         const char *title, const char *message, const char *back_url)
{
    page_open(res, status, title, card_class);
    buf_puts(&res->body, "<h1>");
    html_escape(&res->body, title);
    buf_puts(&res->body, "</h1>\n<p class=\"muted\">");
    html_escape(&res->body, message);
    buf_puts(&res->body, "</p>\n");
    if (back_url && back_url[0]) {
        buf_puts(&res->body, "<div class=\"actions\"><a class=\"button cancel\" href=\"");
        html_escape(&res->body, back_url);
        buf_puts(&res->body, "\">Back to the merchant</a></div>\n");
    }
    page_close(res);
}

/* --- URLs ---------------------------------------------------------------- */

struct url {
    char host[256];
    char port[8];
    const char *path; /* points into the URL: "/..." or "" (then "/") */
    int https;
};

/* Accept http://host[:port][/path][?query] (and https:// with want_https);
 * host is a name, an IPv4 literal or [IPv6]. */
static int url_parse(const char *s, struct url *u)
{
    memset(u, 0, sizeof *u);
    if (strlen(s) > URL_MAX)
        return -1;
    const char *p;
    if (strncmp(s, "http://", 7) == 0) {
        p = s + 7;
    } else if (strncmp(s, "https://", 8) == 0) {
        p = s + 8;
        u->https = 1;
    } else {
        return -1;
    }
    size_t hl;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (end == NULL)
            return -1;
        hl = (size_t)(end - p - 1);
        if (hl == 0 || hl >= sizeof u->host)
            return -1;
        memcpy(u->host, p + 1, hl);
        p = end + 1;
        for (size_t i = 0; i < hl; i++)
            if (!isxdigit((unsigned char)u->host[i]) && u->host[i] != ':' && u->host[i] != '.')
                return -1;
    } else {
        hl = strcspn(p, ":/?#");
        if (hl == 0 || hl >= sizeof u->host)
            return -1;
        memcpy(u->host, p, hl);
        p += hl;
        for (size_t i = 0; i < hl; i++)
            if (!isalnum((unsigned char)u->host[i]) && u->host[i] != '.' && u->host[i] != '-')
                return -1;
    }
    u->host[hl] = '\0';
    snprintf(u->port, sizeof u->port, "%s", u->https ? "443" : "80");
    if (*p == ':') {
        p++;
        size_t pl = strspn(p, "0123456789");
        long port = pl > 0 && pl <= 5 ? strtol(p, NULL, 10) : 0;
        if (port < 1 || port > 65535)
            return -1;
        snprintf(u->port, sizeof u->port, "%ld", port);
        p += pl;
    }
    if (*p != '\0' && *p != '/' && *p != '?')
        return -1;
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '#')
            return -1;
    u->path = p;
    return 0;
}

/* "http://host:port" of a URL for form-action, or "" when it is not one. */
static void url_origin(const char *s, char *out, size_t outsz)
{
    struct url u;
    out[0] = '\0';
    if (s == NULL || url_parse(s, &u) != 0)
        return;
    int v6 = strchr(u.host, ':') != NULL;
    snprintf(out, outsz, "%s://%s%s%s:%s", u.https ? "https" : "http", v6 ? "[" : "", u.host,
             v6 ? "]" : "", u.port);
}

/* --- the HTTP client of the delivery thread ----------------------------- */

/* Wait for fd to become ready for events until deadline (ms, realtime);
 * 1 ready, 0 timed out or stopping, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        if (atomic_load(&stopping))
            return 0;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 200 ? 200 : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n > 0)
            return 1;
    }
}

static int connect_to(const struct url *u, char *err, size_t errsz)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(u->host, u->port, &hints, &ai);
    if (g != 0) {
        snprintf(err, errsz, "cannot resolve %.100s: %s", u->host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    snprintf(err, errsz, "no address for %.100s", u->host);
    for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            int soerr = ETIMEDOUT;
            socklen_t sl = sizeof soerr;
            if (wait_fd(fd, POLLOUT, now_ms() + CONNECT_MS) == 1)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr == 0 ? 0 : -1;
            errno = soerr;
        }
        if (rc != 0) {
            snprintf(err, errsz, "connect to %.100s:%s: %s", u->host, u->port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    return fd;
}

/* Decode a chunked body in place; returns its length or -1. */
static long dechunk(char *p, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= len)
            return -1;
        unsigned long n = strtoul(p + in, &end, 16);
        char *crlf = strstr(p + in, "\r\n");
        if (end == p + in || crlf == NULL)
            return -1;
        in = (size_t)(crlf - p) + 2;
        if (n == 0)
            return (long)out;
        if (n > len - in)
            return -1;
        memmove(p + out, p + in, n);
        out += n;
        in += n + 2;
    }
}

/* POST a form body to url. Returns 0 when an HTTP answer came back (status and
 * body filled, body trimmed), -1 with a reason in err otherwise. */
static int http_post_form(const char *url, const char *body, size_t body_len, int *status,
                          struct buf *resp, char *err, size_t errsz)
{
    struct url u;
    int fd = -1, rc = -1;
    struct buf req;
    buf_init(&req, MAX_BODY * 4 + 4096);
    buf_reset(resp);
    *status = 0;
    if (url_parse(url, &u) != 0) {
        snprintf(err, errsz, "not a URL");
        goto out;
    }
    if (u.https) {
        snprintf(err, errsz, "https is not supported by the sandbox");
        goto out;
    }
    int v6 = strchr(u.host, ':') != NULL;
    if (buf_printf(&req,
                   "POST %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: shop-sandbox\r\n"
                   "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   u.path[0] == '/' ? "" : "/", u.path, v6 ? "[" : "", u.host, v6 ? "]" : "",
                   u.port, body_len) != 0 ||
        buf_append(&req, body, body_len) != 0) {
        snprintf(err, errsz, "request too large");
        goto out;
    }
    fd = connect_to(&u, err, errsz);
    if (fd < 0)
        goto out;
    int64_t deadline = now_ms() + EXCHANGE_MS;
    size_t sent = 0;
    while (sent < req.len) {
        if (wait_fd(fd, POLLOUT, deadline) != 1) {
            snprintf(err, errsz, "timed out sending");
            goto out;
        }
        ssize_t n = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            snprintf(err, errsz, "send: %s", strerror(errno));
            goto out;
        }
        sent += (size_t)n;
    }
    char chunk[4096];
    for (;;) {
        if (wait_fd(fd, POLLIN, deadline) != 1) {
            snprintf(err, errsz, "timed out waiting for the answer");
            goto out;
        }
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0) {
            snprintf(err, errsz, "recv: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (buf_append(resp, chunk, (size_t)n) != 0) {
            snprintf(err, errsz, "answer over %d bytes", RESPONSE_MAX);
            goto out;
        }
    }
    const char *r = buf_str(resp);
    char *hdr_end = strstr(r, "\r\n\r\n");
    if (strncmp(r, "HTTP/1.", 7) != 0 || strlen(r) < 12 || !isdigit((unsigned char)r[9]) ||
        hdr_end == NULL) {
        snprintf(err, errsz, "not an HTTP answer");
        goto out;
    }
    *status = (int)strtol(r + 9, NULL, 10);
    size_t hdr_len = (size_t)(hdr_end - r) + 4;
    int chunked = 0;
    long clen = -1;
    for (const char *line = strstr(r, "\r\n") + 2; line < hdr_end;) {
        const char *eol = strstr(line, "\r\n");
        if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
            const char *v = line + 18;
            while (*v == ' ')
                v++;
            chunked = strncasecmp(v, "chunked", 7) == 0;
        } else if (strncasecmp(line, "content-length:", 15) == 0) {
            clen = strtol(line + 15, NULL, 10);
        }
        line = eol + 2;
    }
    size_t blen = resp->len - hdr_len;
    memmove(resp->data, resp->data + hdr_len, blen);
    if (chunked) {
        long d = dechunk(resp->data, blen);
        if (d < 0) {
            snprintf(err, errsz, "bad chunked answer");
            goto out;
        }
        blen = (size_t)d;
    } else if (clen >= 0 && (size_t)clen < blen) {
        blen = (size_t)clen;
    }
    /* Trim white space on both ends. */
    size_t start = 0;
    while (start < blen && isspace((unsigned char)resp->data[start]))
        start++;
    while (blen > start && isspace((unsigned char)resp->data[blen - 1]))
        blen--;
    memmove(resp->data, resp->data + start, blen - start);
    resp->len = blen - start;
    resp->data[resp->len] = '\0';
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    buf_free(&req);
    return rc;
}

/* --- delivery ------------------------------------------------------------ */

static void kick_delivery(void)
{
    kick_gen++;
    pthread_cond_signal(&delivery_cv);
}

/* Move pending/<name> to failed/<name>. Called with state_mu held. */
static void move_to_failed(const char *name)
{
    char from[PATH_MAX], to[PATH_MAX], dir[PATH_MAX];
    if (state_path(from, sizeof from, "pending", name) != 0 ||
        state_path(to, sizeof to, "failed", name) != 0)
        return;
    if (rename(from, to) != 0) {
        log_error("cannot move %s to %s: %s", from, to, strerror(errno));
        return;
    }
    if (state_path(dir, sizeof dir, "failed", NULL) == 0)
        fsync_dir(dir);
    if (state_path(dir, sizeof dir, "pending", NULL) == 0)
        fsync_dir(dir);
}

/* Try one pending notification. Returns 0, or -1 when its file could not be
 * updated (the caller then backs off). */
static int deliver_one(const char *name)
{
    char path[PATH_MAX], err[256] = "", answer[80];
    if (state_path(path, sizeof path, "pending", name) != 0)
        return -1;
    pthread_mutex_lock(&state_mu);
    json_object *n = read_json(path);
    pthread_mutex_unlock(&state_mu);
    const char *url = n ? jstr(n, "notify_url") : NULL;
    const char *body = n ? jstr(n, "body") : NULL;
    if (url == NULL || body == NULL) {
        log_error("pending notification %s is unreadable: moved to failed/", name);
        pthread_mutex_lock(&state_mu);
        move_to_failed(name);
        pthread_mutex_unlock(&state_mu);
        json_object_put(n);
        return 0;
    }
    const char *notify_id = jstr(n, "notify_id");
    const char *out_trade_no = jstr(n, "out_trade_no");
    int attempt = (int)jint(n, "attempts", 0) + 1;

    struct buf resp;
    buf_init(&resp, RESPONSE_MAX);
    int status = 0;
    int ok = http_post_form(url, body, strlen(body), &status, &resp, err, sizeof err) == 0;
    if (atomic_load(&stopping) && !ok) {
        /* Interrupted by the stop: not an attempt; the restart tries again. */
        buf_free(&resp);
        json_object_put(n);
        return 0;
    }
    int success = ok && status >= 200 && status < 300 && strcmp(buf_str(&resp), "success") == 0;
    if (ok) {
        char safe[64];
        log_safe(buf_str(&resp), resp.len, safe, sizeof safe);
        snprintf(answer, sizeof answer, "HTTP %d \"%s\"", status, safe);
    } else {
        snprintf(answer, sizeof answer, "%.79s", err);
    }

    int rc = 0;
    pthread_mutex_lock(&state_mu);
    if (success) {
        char dir[PATH_MAX];
        if (unlink(path) != 0 && errno != ENOENT) {
            log_error("cannot remove delivered %s: %s", path, strerror(errno));
            rc = -1;
        } else if (state_path(dir, sizeof dir, "pending", NULL) == 0) {
            fsync_dir(dir);
        }
        log_info("notify %s out_trade_no=%s delivered on try %d/%d to %s", notify_id, out_trade_no,
                 attempt, NOTIFY_TRIES, url);
    } else {
        json_object_object_add(n, "attempts", json_object_new_int(attempt));
        json_object_object_add(n, "last_answer", json_object_new_string(answer));
        json_object_object_add(n, "last_try_ms", json_object_new_int64(now_ms()));
        if (attempt >= NOTIFY_TRIES) {
            rc = write_json("pending", name, n);
            move_to_failed(name);
            log_warn("notify %s out_trade_no=%s try %d/%d to %s: %s; giving up (failed/%s)",
                     notify_id, out_trade_no, attempt, NOTIFY_TRIES, url, answer, name);
        } else {
            int64_t delay = (int64_t)(RETRY_DELAYS_S[attempt - 1] * 1000.0 * opt.time_scale);
            json_object_object_add(n, "next_at_ms", json_object_new_int64(now_ms() + delay));
            rc = write_json("pending", name, n);
            log_info("notify %s out_trade_no=%s try %d/%d to %s: %s; next try in %lld ms",
                     notify_id, out_trade_no, attempt, NOTIFY_TRIES, url, answer, (long long)delay);
        }
    }
    pthread_mutex_unlock(&state_mu);
    buf_free(&resp);
    json_object_put(n);
    return rc;
}

#define SCAN_BATCH 32

/* The names of pending notifications due now (at most SCAN_BATCH) and the
 * earliest next try of the others. Called with state_mu held. */
static size_t scan_pending(int64_t now, char due[][NAME_MAX + 1], int64_t *earliest)
{
    char dir[PATH_MAX], path[PATH_MAX];
    size_t n = 0;
    *earliest = INT64_MAX;
    if (state_path(dir, sizeof dir, "pending", NULL) != 0)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        json_object *o = read_json(path);
        int64_t at = o ? jint(o, "next_at_ms", 0) : 0; /* unreadable: due, then moved */
        json_object_put(o);
        if (at <= now) {
            if (n < SCAN_BATCH)
                memcpy(due[n++], e->d_name, len + 1);
            else
                *earliest = now; /* more than one batch due: come back at once */
        } else if (at < *earliest) {
            *earliest = at;
        }
    }
    closedir(d);
    return n;
}

static void *delivery_main(void *arg)
{
    (void)arg;
    static char due[SCAN_BATCH][NAME_MAX + 1];
    while (!atomic_load(&stopping)) {
        int64_t earliest;
        pthread_mutex_lock(&state_mu);
        unsigned gen = kick_gen;
        size_t n = scan_pending(now_ms(), due, &earliest);
        pthread_mutex_unlock(&state_mu);

        int io_error = 0;
        for (size_t i = 0; i < n && !atomic_load(&stopping); i++)
            if (deliver_one(due[i]) != 0)
                io_error = 1;
        if (n > 0 && !io_error)
            continue; /* rescan: the tries just made are rescheduled in the future */

        /* Sleep until the earliest next try, a new notification, or stop. A
         * failed file update backs off one second instead of spinning. */
        int64_t until = io_error ? now_ms() + 1000
                                 : (earliest == INT64_MAX ? now_ms() + IDLE_WAIT_MS : earliest);
        struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                              .tv_nsec = (long)(until % 1000) * 1000000L};
        pthread_mutex_lock(&state_mu);
        while (!atomic_load(&stopping) && kick_gen == gen &&
               pthread_cond_timedwait(&delivery_cv, &state_mu, &ts) == 0)
            ;
        pthread_mutex_unlock(&state_mu);
    }
    return NULL;
}

static int count_files(const char *sub)
{
    char dir[PATH_MAX];
    int n = 0;
    if (state_path(dir, sizeof dir, sub, NULL) != 0)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* --- trades -------------------------------------------------------------- */

/* The paid/ index name of an out_trade_no: hex SHA-256 of app_id and it. */
static int paid_key(const char *app_id, const char *out_trade_no, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char data[256];
    int n = snprintf(data, sizeof data, "%s\n%s", app_id, out_trade_no);
    if (n < 0 || (size_t)n >= sizeof data ||
        EVP_Digest(data, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* The trade id that paid out_trade_no (into by, 33 bytes), or "" if none. */
static void paid_by(const char *app_id, const char *out_trade_no, char by[TRADE_ID_LEN + 1])
{
    char key[65], path[PATH_MAX];
    by[0] = '\0';
    if (paid_key(app_id, out_trade_no, key) != 0 || state_path(path, sizeof path, "paid", key))
        return;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(by, TRADE_ID_LEN + 1, f) == NULL || !is_hex_id(by))
        by[0] = '\0';
    fclose(f);
}

static json_object *load_trade(const char *id)
{
    char path[PATH_MAX], name[TRADE_ID_LEN + 8];
    if (!is_hex_id(id))
        return NULL;
    snprintf(name, sizeof name, "%s.json", id);
    if (state_path(path, sizeof path, "trades", name) != 0)
        return NULL;
    return read_json(path);
}

static int save_trade(const char *id, json_object *t)
{
    char name[TRADE_ID_LEN + 8];
    snprintf(name, sizeof name, "%s.json", id);
    return write_json("trades", name, t);
}

/* "2026112622001" + 15 random digits: 28 digits like Alipay's trade_no. */
static int new_trade_no(char out[32])
{
    unsigned char rnd[15];
    time_t t = time(NULL);
    struct tm tm;
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd || gmtime_r(&t, &tm) == NULL)
        return -1;
    strftime(out, 9, "%Y%m%d", &tm);
    memcpy(out + 8, "22001", 5);
    for (int i = 0; i < 15; i++)
        out[13 + i] = (char)('0' + rnd[i] % 10);
    out[28] = '\0';
    return 0;
}

/* --- handlers ------------------------------------------------------------ */

struct ctx {
    const struct http_request *req;
    struct http_response *res;
    char form_origin[300]; /* extra form-action origin for this page, "" = none */
};

static void bad_request(struct ctx *c, const char *what, const char *detail)
{
    log_warn("refused: %s (%s)", what, detail);
    message_page(c->res, 400, "error", what, detail, NULL);
}

/* The fields of a page-pay request, checked. Strings point into ps / biz. */
struct page_pay {
    const char *out_trade_no, *subject, *notify_url, *return_url;
    int64_t cents;
};

static int check_page_pay(struct ctx *c, const struct alipay_params *ps, json_object **biz,
                          struct page_pay *pp)
{
    const char *v;
    char msg[256];
    *biz = NULL;
    v = alipay_params_get(ps, "app_id");
    if (v == NULL || strcmp(v, opt.app_id) != 0) {
        snprintf(msg, sizeof msg, "app_id \"%.64s\" is not the sandbox's merchant (%s).",
                 v ? v : "", opt.app_id);
        bad_request(c, "Unknown merchant", msg);
        return -1;
    }
    v = alipay_params_get(ps, "method");
    if (v == NULL || strcmp(v, "alipay.trade.page.pay") != 0) {
        bad_request(c, "Unsupported method",
                    "Only method=alipay.trade.page.pay is served by this gateway.");
        return -1;
    }
    v = alipay_params_get(ps, "charset");
    if (v != NULL && strcasecmp(v, "utf-8") != 0) {
        bad_request(c, "Unsupported charset", "Only charset=utf-8 is supported.");
        return -1;
    }
    v = alipay_params_get(ps, "sign_type");
    if (v == NULL || strcmp(v, "RSA2") != 0) {
        bad_request(c, "Unsupported sign_type", "Requests must be signed with sign_type=RSA2.");
        return -1;
    }
    if (!alipay_verify_request(merchant_pub, ps)) {
        bad_request(c, "Invalid signature",
                    "The request's signature does not verify with the merchant's public key. "
                    "Nothing was charged.");
        return -1;
    }
    const char *bc = alipay_params_get(ps, "biz_content");
    json_tokener *tok = json_tokener_new_ex(4);
    if (bc == NULL || tok == NULL) {
        json_tokener_free(tok);
        bad_request(c, "Missing biz_content", "The request has no biz_content.");
        return -1;
    }
    *biz = json_tokener_parse_ex(tok, bc, (int)strlen(bc));
    int parsed = *biz != NULL && json_tokener_get_error(tok) == json_tokener_success &&
                 json_object_is_type(*biz, json_type_object);
    json_tokener_free(tok);
    if (!parsed) {
        bad_request(c, "Bad biz_content", "biz_content is not a JSON object.");
        return -1;
    }
    pp->out_trade_no = jstr(*biz, "out_trade_no");
    pp->subject = jstr(*biz, "subject");
    const char *amount = jstr(*biz, "total_amount");
    const char *product = jstr(*biz, "product_code");
    if (pp->out_trade_no == NULL || pp->out_trade_no[0] == '\0' ||
        strlen(pp->out_trade_no) > OUT_TRADE_MAX) {
        bad_request(c, "Bad out_trade_no", "out_trade_no must be 1 to 64 characters.");
        return -1;
    }
    if (pp->subject == NULL || pp->subject[0] == '\0' || strlen(pp->subject) > SUBJECT_MAX) {
        bad_request(c, "Bad subject", "subject must be 1 to 256 bytes.");
        return -1;
    }
    if (amount == NULL || money_parse_str(amount, MONEY_NON_NEGATIVE, &pp->cents) != 0 ||
        pp->cents <= 0) {
        bad_request(c, "Bad total_amount",
                    "total_amount must be a string amount between 0.01 and 99999999.99.");
        return -1;
    }
    if (product == NULL || strcmp(product, "FAST_INSTANT_TRADE_PAY") != 0) {
        bad_request(c, "Bad product_code", "product_code must be FAST_INSTANT_TRADE_PAY.");
        return -1;
    }
    struct url u;
    pp->notify_url = alipay_params_get(ps, "notify_url");
    pp->return_url = alipay_params_get(ps, "return_url");
    if (pp->notify_url && pp->notify_url[0] && (url_parse(pp->notify_url, &u) != 0 || u.https)) {
        bad_request(c, "Bad notify_url",
                    "notify_url must be a plain http:// URL (the sandbox does not speak TLS).");
        return -1;
    }
    if (pp->return_url && pp->return_url[0] && url_parse(pp->return_url, &u) != 0) {
        bad_request(c, "Bad return_url", "return_url must be an http:// or https:// URL.");
        return -1;
    }
    return 0;
}

static void cashier_page(struct ctx *c, const char *trade_id, json_object *t)
{
    struct buf *b = &c->res->body;
    char amount[MONEY_STR_MAX];
    int64_t cents = 0;
    money_parse_str(jstr(t, "total_amount"), MONEY_NON_NEGATIVE, &cents);
    money_format(cents, amount);
    page_open(c->res, 200, "Cashier", "cashier");
    buf_puts(b, "<h1>Sandbox cashier</h1>\n<p class=\"muted\">");
    html_escape(b, jstr(t, "subject"));
    buf_puts(b, "</p>\n<p class=\"amount\"><small>CNY</small>");
    html_escape(b, amount);
    buf_puts(b, "</p>\n<dl>\n<dt>Merchant app id</dt><dd>");
    html_escape(b, jstr(t, "app_id"));
    buf_puts(b, "</dd>\n<dt>Seller id</dt><dd>");
    html_escape(b, opt.seller_id);
    buf_puts(b, "</dd>\n<dt>Subject</dt><dd>");
    html_escape(b, jstr(t, "subject"));
    buf_puts(b, "</dd>\n<dt>Amount</dt><dd>");
    html_escape(b, amount);
    buf_puts(b, "</dd>\n<dt>Merchant order</dt><dd>");
    html_escape(b, jstr(t, "out_trade_no"));
    buf_puts(b, "</dd>\n</dl>\n<div class=\"actions\">\n"
                "<form method=\"post\" action=\"/pay\"><input type=\"hidden\" name=\"trade\" "
                "value=\"");
    html_escape(b, trade_id);
    buf_puts(b, "\"><button class=\"pay\" type=\"submit\">Pay ");
    html_escape(b, amount);
    buf_puts(b, "</button></form>\n"
                "<form method=\"post\" action=\"/cancel\"><input type=\"hidden\" "
                "name=\"trade\" value=\"");
    html_escape(b, trade_id);
    buf_puts(b, "\"><button class=\"cancel\" type=\"submit\">Cancel</button></form>\n</div>\n");
    page_close(c->res);
}

static void handle_gateway(struct ctx *c)
{
    const struct http_request *r = c->req;
    struct alipay_params ps;
    json_object *biz = NULL, *t = NULL;
    struct page_pay pp;
    alipay_params_init(&ps);
    /* GET carries everything in the query; Alipay's SDKs POST a form whose
     * action keeps the common parameters in the query: take both. */
    int prc = alipay_params_parse_form(r->query, strlen(r->query), &ps);
    if (prc == ALIPAY_OK && r->method == HTTP_POST) {
        struct alipay_params body;
        alipay_params_init(&body);
        prc = alipay_params_parse_form(buf_str(&r->body), r->body.len, &body);
        for (size_t i = 0; prc == ALIPAY_OK && i < body.n; i++)
            prc = alipay_params_add(&ps, body.p[i].key, body.p[i].value);
        alipay_params_free(&body);
    }
    if (prc != ALIPAY_OK) {
        bad_request(c, "Malformed request", alipay_status_text(prc));
        goto out;
    }
    if (check_page_pay(c, &ps, &biz, &pp) != 0)
        goto out;

    char by[TRADE_ID_LEN + 1], trade_id[TRADE_ID_LEN + 1], ts[ALIPAY_TIMESTAMP_LEN];
    char amount[MONEY_STR_MAX];
    pthread_mutex_lock(&state_mu);
    paid_by(opt.app_id, pp.out_trade_no, by);
    pthread_mutex_unlock(&state_mu);
    if (by[0] != '\0') {
        log_info("gateway: out_trade_no=%s already paid (trade %s)", pp.out_trade_no, by);
        message_page(c->res, 409, "error", "Already paid",
                     "This merchant order has already been paid; it cannot be paid twice.",
                     pp.return_url);
        goto out;
    }
    if (random_hex(trade_id, TRADE_ID_LEN / 2) != 0)
        goto fail;
    alipay_timestamp(time(NULL), 0, ts);
    money_format(pp.cents, amount);
    t = json_object_new_object();
    json_object_object_add(t, "trade_id", json_object_new_string(trade_id));
    json_object_object_add(t, "app_id", json_object_new_string(opt.app_id));
    json_object_object_add(t, "out_trade_no", json_object_new_string(pp.out_trade_no));
    json_object_object_add(t, "subject", json_object_new_string(pp.subject));
    json_object_object_add(t, "total_amount", json_object_new_string(amount));
    json_object_object_add(t, "notify_url",
                           json_object_new_string(pp.notify_url ? pp.notify_url : ""));
    json_object_object_add(t, "return_url",
                           json_object_new_string(pp.return_url ? pp.return_url : ""));
    json_object_object_add(t, "status", json_object_new_string("WAIT_BUYER_PAY"));
    json_object_object_add(t, "gmt_create", json_object_new_string(ts));
    pthread_mutex_lock(&state_mu);
    int wrc = save_trade(trade_id, t);
    pthread_mutex_unlock(&state_mu);
    if (wrc != 0)
        goto fail;
    log_info("gateway: trade %s out_trade_no=%s amount=%s opened", trade_id, pp.out_trade_no,
             amount);
    url_origin(pp.return_url, c->form_origin, sizeof c->form_origin);
    cashier_page(c, trade_id, t);
    goto out;
fail:
    message_page(c->res, 500, "error", "Sandbox error",
                 "The sandbox could not store the trade; see its log.", NULL);
out:
    json_object_put(t);
    json_object_put(biz);
    alipay_params_free(&ps);
}

/* The form's trade id and the trade, or an error page (NULL). */
static json_object *posted_trade(struct ctx *c, char id[TRADE_ID_LEN + 1])
{
    const struct http_request *r = c->req;
    if (http_form_get(buf_str(&r->body), r->body.len, "trade", id, TRADE_ID_LEN + 1) != 1 ||
        !is_hex_id(id)) {
        bad_request(c, "Unknown trade", "The form carries no valid trade id.");
        return NULL;
    }
    json_object *t = load_trade(id);
    if (t == NULL) {
        log_warn("no trade %s", id);
        message_page(c->res, 404, "error", "Unknown trade",
                     "This trade does not exist (any more) in the sandbox.", NULL);
    }
    return t;
}

/* 303 to return_url plus a query (may be ""), or a page when there is none. */
static void back_to_merchant(struct ctx *c, json_object *t, const char *query, const char *title,
                             const char *message)
{
    const char *ret = jstr(t, "return_url");
    if (ret == NULL || ret[0] == '\0') {
        message_page(c->res, 200, "ok", title, message, NULL);
        return;
    }
    struct buf loc;
    buf_init(&loc, HTTP_HEADER_MAX);
    buf_puts(&loc, ret);
    if (query[0] != '\0') {
        buf_putc(&loc, strchr(ret, '?') ? '&' : '?');
        buf_puts(&loc, query);
    }
    if (http_header_add(c->res, "Location", buf_str(&loc)) != 0) {
        message_page(c->res, 200, "ok", title, message, ret);
    } else {
        c->res->status = 303;
        buf_reset(&c->res->body);
        buf_puts(&c->res->body, "<!doctype html><title>Redirecting</title>"
                                "<p>Back to the merchant…</p>\n");
    }
    buf_free(&loc);
}

/* The synchronous return parameters (signed) as a query string. */
static int return_query(json_object *t, struct buf *out)
{
    struct alipay_params ps;
    char ts[ALIPAY_TIMESTAMP_LEN];
    alipay_params_init(&ps);
    alipay_timestamp(time(NULL), 0, ts);
    int rc = -1;
    if (alipay_params_add(&ps, "charset", "utf-8") ||
        alipay_params_add(&ps, "out_trade_no", jstr(t, "out_trade_no")) ||
        alipay_params_add(&ps, "method", "alipay.trade.page.pay.return") ||
        alipay_params_add(&ps, "total_amount", jstr(t, "total_amount")) ||
        alipay_params_add(&ps, "trade_no", jstr(t, "trade_no")) ||
        alipay_params_add(&ps, "auth_app_id", jstr(t, "app_id")) ||
        alipay_params_add(&ps, "version", "1.0") ||
        alipay_params_add(&ps, "app_id", jstr(t, "app_id")) ||
        alipay_params_add(&ps, "seller_id", opt.seller_id) ||
        alipay_params_add(&ps, "timestamp", ts) || alipay_params_sign(provider_priv, &ps) != 0)
        goto out;
    rc = alipay_params_encode(&ps, out);
out:
    alipay_params_free(&ps);
    return rc;
}

/* Queue the signed notification of a paid trade. Called with state_mu held. */
static int queue_notification(json_object *t)
{
    const char *notify_url = jstr(t, "notify_url");
    if (notify_url == NULL || notify_url[0] == '\0')
        return 0;
    char notify_id[TRADE_ID_LEN + 1], name[TRADE_ID_LEN + 8], ts[ALIPAY_TIMESTAMP_LEN];
    struct alipay_params ps;
    struct buf body;
    json_object *n = NULL;
    int rc = -1;
    alipay_params_init(&ps);
    buf_init(&body, ALIPAY_FORM_MAX);
    if (random_hex(notify_id, TRADE_ID_LEN / 2) != 0)
        goto out;
    alipay_timestamp(time(NULL), 0, ts);
    const char *amount = jstr(t, "total_amount");
    if (alipay_params_add(&ps, "notify_time", ts) ||
        alipay_params_add(&ps, "notify_type", "trade_status_sync") ||
        alipay_params_add(&ps, "notify_id", notify_id) ||
        alipay_params_add(&ps, "app_id", jstr(t, "app_id")) ||
        alipay_params_add(&ps, "charset", "utf-8") || alipay_params_add(&ps, "version", "1.0") ||
        alipay_params_add(&ps, "sign_type", "RSA2") ||
        alipay_params_add(&ps, "trade_no", jstr(t, "trade_no")) ||
        alipay_params_add(&ps, "out_trade_no", jstr(t, "out_trade_no")) ||
        alipay_params_add(&ps, "trade_status", "TRADE_SUCCESS") ||
        alipay_params_add(&ps, "total_amount", amount) ||
        alipay_params_add(&ps, "receipt_amount", amount) ||
        alipay_params_add(&ps, "buyer_pay_amount", amount) ||
        alipay_params_add(&ps, "seller_id", opt.seller_id) ||
        alipay_params_add(&ps, "buyer_id", BUYER_ID) ||
        alipay_params_add(&ps, "subject", jstr(t, "subject")) ||
        alipay_params_add(&ps, "gmt_create", jstr(t, "gmt_create")) ||
        alipay_params_add(&ps, "gmt_payment", jstr(t, "gmt_payment")) ||
        alipay_params_sign(provider_priv, &ps) != 0 || alipay_params_encode(&ps, &body) != 0)
        goto out;
    n = json_object_new_object();
    json_object_object_add(n, "notify_id", json_object_new_string(notify_id));
    json_object_object_add(n, "notify_url", json_object_new_string(notify_url));
    json_object_object_add(n, "out_trade_no", json_object_new_string(jstr(t, "out_trade_no")));
    json_object_object_add(n, "trade_no", json_object_new_string(jstr(t, "trade_no")));
    json_object_object_add(n, "body", json_object_new_string(buf_str(&body)));
    json_object_object_add(n, "attempts", json_object_new_int(0));
    json_object_object_add(n, "next_at_ms", json_object_new_int64(now_ms()));
    json_object_object_add(n, "created_ms", json_object_new_int64(now_ms()));
    snprintf(name, sizeof name, "%s.json", notify_id);
    if (write_json("pending", name, n) != 0)
        goto out;
    log_info("notify %s out_trade_no=%s queued for %s", notify_id, jstr(t, "out_trade_no"),
             notify_url);
    kick_delivery();
    rc = 0;
out:
    json_object_put(n);
    buf_free(&body);
    alipay_params_free(&ps);
    return rc;
}

static void handle_pay(struct ctx *c)
{
    char id[TRADE_ID_LEN + 1];
    struct buf q;
    buf_init(&q, ALIPAY_FORM_MAX);
    pthread_mutex_lock(&state_mu); /* one payment at a time: no double pay */
    json_object *t = posted_trade(c, id);
    if (t == NULL)
        goto out;
    const char *status = jstr(t, "status");
    const char *out_trade_no = jstr(t, "out_trade_no");
    if (status == NULL || out_trade_no == NULL || jstr(t, "app_id") == NULL ||
        jstr(t, "subject") == NULL || jstr(t, "total_amount") == NULL ||
        jstr(t, "gmt_create") == NULL) {
        message_page(c->res, 500, "error", "Sandbox error", "The trade file is damaged.", NULL);
        goto out;
    }
    if (strcmp(status, "TRADE_SUCCESS") != 0) {
        char by[TRADE_ID_LEN + 1], key[65], trade_no[32], ts[ALIPAY_TIMESTAMP_LEN];
        paid_by(jstr(t, "app_id"), out_trade_no, by);
        if (by[0] != '\0') {
            message_page(c->res, 409, "error", "Already paid",
                         "This merchant order has already been paid; it cannot be paid twice.",
                         jstr(t, "return_url"));
            goto out;
        }
        if (new_trade_no(trade_no) != 0)
            goto fail;
        alipay_timestamp(time(NULL), 0, ts);
        json_object_object_add(t, "trade_no", json_object_new_string(trade_no));
        json_object_object_add(t, "gmt_payment", json_object_new_string(ts));
        json_object_object_add(t, "status", json_object_new_string("TRADE_SUCCESS"));
        /* The notification first: once the buyer is told "paid", the
         * merchant must hear of it even if the sandbox dies right now. */
        if (queue_notification(t) != 0 || save_trade(id, t) != 0 ||
            paid_key(jstr(t, "app_id"), out_trade_no, key) != 0)
            goto fail;
        char dir[PATH_MAX];
        if (state_path(dir, sizeof dir, "paid", NULL) != 0 ||
            write_atomic(dir, key, id, strlen(id)) != 0)
            goto fail;
        log_info("pay: trade %s out_trade_no=%s trade_no=%s amount=%s paid", id, out_trade_no,
                 trade_no, jstr(t, "total_amount"));
    } else {
        log_info("pay: trade %s out_trade_no=%s was already paid: back to the merchant", id,
                 out_trade_no);
    }
    if (return_query(t, &q) != 0)
        goto fail;
    back_to_merchant(c, t, buf_str(&q), "Payment complete",
                     "The sandbox has paid this trade and notifies the merchant.");
    goto out;
fail:
    message_page(c->res, 500, "error", "Sandbox error",
                 "The sandbox could not record the payment; see its log.", NULL);
out:
    pthread_mutex_unlock(&state_mu);
    json_object_put(t);
    buf_free(&q);
}

static void handle_cancel(struct ctx *c)
{
    char id[TRADE_ID_LEN + 1];
    pthread_mutex_lock(&state_mu);
    json_object *t = posted_trade(c, id);
    pthread_mutex_unlock(&state_mu);
    if (t == NULL)
        return;
    log_info("cancel: trade %s out_trade_no=%s: back to the merchant unpaid", id,
             jstr(t, "out_trade_no") ? jstr(t, "out_trade_no") : "?");
    back_to_merchant(c, t, "", "Payment cancelled", "Nothing was charged.");
    json_object_put(t);
}

static void handle_index(struct ctx *c)
{
    struct buf *b = &c->res->body;
    char n[64];
    page_open(c->res, 200, "Sandbox", "index");
    buf_puts(b, "<h1>Payment provider sandbox</h1>\n<p class=\"muted\">Speaks Alipay's "
                "page-pay protocol with RSA2 signatures. Merchants send buyers to "
                "<code>/gateway.do</code> with a signed <code>alipay.trade.page.pay</code> "
                "request.</p>\n<dl>\n<dt>App id</dt><dd>");
    html_escape(b, opt.app_id);
    buf_puts(b, "</dd>\n<dt>Seller id</dt><dd>");
    html_escape(b, opt.seller_id);
    buf_puts(b, "</dd>\n<dt>Pending notifications</dt><dd>");
    pthread_mutex_lock(&state_mu);
    snprintf(n, sizeof n, "%d", count_files("pending"));
    buf_puts(b, n);
    buf_puts(b, "</dd>\n<dt>Given up</dt><dd>");
    snprintf(n, sizeof n, "%d", count_files("failed"));
    pthread_mutex_unlock(&state_mu);
    buf_puts(b, n);
    buf_puts(b, "</dd>\n<dt>Time scale</dt><dd>");
    snprintf(n, sizeof n, "%g", opt.time_scale);
    buf_puts(b, n);
    buf_puts(b, "</dd>\n</dl>\n");
    page_close(c->res);
}

static void handle(FCGX_Request *fr)
{
    struct http_request r;
    struct http_response res;
    struct ctx c = {.req = &r, .res = &res};
    http_response_init(&res);
    enum http_read_status rs = http_request_read(&r, fr->envp, fr->in, MAX_BODY);
    log_set_request_id(r.request_id);
    if (rs != HTTP_READ_OK) {
        message_page(&res, rs == HTTP_READ_TOO_LARGE ? 413 : 400, "error", "Bad request",
                     "The request could not be read.", NULL);
        goto send;
    }
    int get = r.method == HTTP_GET || r.method == HTTP_HEAD;
    res.no_body = r.method == HTTP_HEAD;
    if (strcmp(r.path, "/gateway.do") == 0 && (get || r.method == HTTP_POST)) {
        handle_gateway(&c);
    } else if (strcmp(r.path, "/pay") == 0 && r.method == HTTP_POST) {
        handle_pay(&c);
    } else if (strcmp(r.path, "/cancel") == 0 && r.method == HTTP_POST) {
        handle_cancel(&c);
    } else if (strcmp(r.path, "/style.css") == 0 && get) {
        res.content_type = "text/css; charset=utf-8";
        buf_puts(&res.body, STYLE);
        http_header_add(&res, "Cache-Control", "public, max-age=3600");
    } else if (strcmp(r.path, "/") == 0 && get) {
        handle_index(&c);
    } else if (strcmp(r.path, "/gateway.do") == 0 || strcmp(r.path, "/pay") == 0 ||
               strcmp(r.path, "/cancel") == 0 || strcmp(r.path, "/") == 0 ||
               strcmp(r.path, "/style.css") == 0) {
        message_page(&res, 405, "error", "Method not allowed",
                     "This address does not take that method.", NULL);
    } else {
        message_page(&res, 404, "error", "Not found", "The sandbox has no such page.", NULL);
    }
send:
    if (send_response(&res, fr->out, c.form_origin[0] ? c.form_origin : NULL) != 0)
        log_warn("could not send the response");
    log_set_request_id(NULL);
    http_request_free(&r);
    http_response_free(&res);
}

/* --- program ------------------------------------------------------------- */

static void on_sigusr2(int sig)
{
    (void)sig;
}

static void *worker(void *arg)
{
    (void)arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_error("FCGX_InitRequest failed");
        return NULL;
    }
    while (!atomic_load(&stopping)) {
        if (FCGX_Accept_r(&req) < 0) {
            if (atomic_load(&stopping))
                break;
            continue;
        }
        handle(&req);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: shop-sandbox --socket PATH --state-dir DIR --merchant-public-key PEM\n"
               "                    --provider-private-key PEM [--pid-file FILE] [--app-id ID]\n"
               "                    [--seller-id ID] [--time-scale F] [--threads N]\n"
               "       shop-sandbox sign --provider-private-key PEM [--request] k=v ...\n"
               "\n"
               "A payment provider speaking Alipay's page-pay protocol (RSA2), as a FastCGI\n"
               "application behind nginx (nginx/sandbox.conf).\n"
               "  --socket PATH              FastCGI unix socket to listen on\n"
               "  --state-dir DIR            trades, pending and failed notifications\n"
               "  --merchant-public-key PEM  verifies the merchant's page-pay requests\n"
               "  --provider-private-key PEM signs notifications and returns\n"
               "  --app-id ID                the merchant's app id [2026000000000001]\n"
               "  --seller-id ID             the merchant's seller id [2088000000000001]\n"
               "  --time-scale F             multiplies the retry schedule (4m 10m 10m 1h 2h\n"
               "                             6h 15h) [1.0; tests use 0.001]\n"
               "  --threads N                FastCGI worker threads [4]\n"
               "\n"
               "sign: print k=v pairs (raw values) as a form body with sign_type=RSA2 and\n"
               "sign added (the notification rule; --request: the gateway request rule), e.g.\n"
               "  curl --data \"$(shop-sandbox sign --provider-private-key run/keys/"
               "provider_private.pem \\\n"
               "      notify_id=1 app_id=2026000000000001 out_trade_no=42 trade_no=2026 \\\n"
               "      trade_status=TRADE_SUCCESS total_amount=88.00)\" \\\n"
               "      http://127.0.0.1:8080/pay/notify/alipay\n");
}

static int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {{"provider-private-key", required_argument, NULL, 'k'},
                                         {"private-key", required_argument, NULL, 'k'},
                                         {"request", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *key_path = NULL;
    int request = 0, o, rc = 1;
    optind = 1;
    while ((o = getopt_long(argc, argv, "+k:rh", opts, NULL)) != -1) {
        switch (o) {
        case 'k':
            key_path = optarg;
            break;
        case 'r':
            request = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (key_path == NULL) {
        fprintf(stderr, "shop-sandbox sign: --provider-private-key PEM is required\n");
        return 2;
    }
    char err[512];
    EVP_PKEY *key = alipay_load_private_key(key_path, err, sizeof err);
    if (key == NULL) {
        fprintf(stderr, "shop-sandbox sign: %s\n", err);
        return 2;
    }
    struct alipay_params ps;
    struct buf out;
    alipay_params_init(&ps);
    buf_init(&out, ALIPAY_FORM_MAX);
    for (int i = optind; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || eq == argv[i]) {
            fprintf(stderr, "shop-sandbox sign: \"%s\" is not k=v\n", argv[i]);
            rc = 2;
            goto out;
        }
        *eq = '\0';
        int arc = alipay_params_add(&ps, argv[i], eq + 1);
        if (arc != ALIPAY_OK) {
            fprintf(stderr, "shop-sandbox sign: %s: %s\n", argv[i], alipay_status_text(arc));
            rc = 2;
            goto out;
        }
    }
    if ((request ? alipay_params_sign_request(key, &ps) : alipay_params_sign(key, &ps)) != 0 ||
        alipay_params_encode(&ps, &out) != 0) {
        fprintf(stderr, "shop-sandbox sign: signing failed\n");
        goto out;
    }
    printf("%s\n", buf_str(&out));
    rc = 0;
out:
    buf_free(&out);
    alipay_params_free(&ps);
    EVP_PKEY_free(key);
    return rc;
}

static int parse_options(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"pid-file", required_argument, NULL, 'p'},
        {"state-dir", required_argument, NULL, 'd'},
        {"merchant-public-key", required_argument, NULL, 'm'},
        {"provider-private-key", required_argument, NULL, 'k'},
        {"app-id", required_argument, NULL, 'a'},
        {"seller-id", required_argument, NULL, 'e'},
        {"time-scale", required_argument, NULL, 't'},
        {"threads", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    char *end;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            opt.socket = optarg;
            break;
        case 'p':
            opt.pid_file = optarg;
            break;
        case 'd':
            opt.state_dir = optarg;
            break;
        case 'm':
            opt.merchant_public_key = optarg;
            break;
        case 'k':
            opt.provider_private_key = optarg;
            break;
        case 'a':
            opt.app_id = optarg;
            break;
        case 'e':
            opt.seller_id = optarg;
            break;
        case 't':
            errno = 0;
            opt.time_scale = strtod(optarg, &end);
            if (errno || *end || !(opt.time_scale > 0 && opt.time_scale <= 1000)) {
                fprintf(stderr, "shop-sandbox: --time-scale must be in (0, 1000]\n");
                return 2;
            }
            break;
        case 'n': {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 256) {
                fprintf(stderr, "shop-sandbox: --threads must be 1..256\n");
                return 2;
            }
            opt.threads = (int)n;
            break;
        }
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !opt.socket || !opt.state_dir || !opt.merchant_public_key ||
        !opt.provider_private_key) {
        fprintf(stderr, "shop-sandbox: --socket, --state-dir, --merchant-public-key and "
                        "--provider-private-key are required\n");
        usage(stderr);
        return 2;
    }
    if (opt.app_id[0] == '\0' || strlen(opt.app_id) > 64 || opt.seller_id[0] == '\0' ||
        strlen(opt.seller_id) > 64) {
        fprintf(stderr, "shop-sandbox: --app-id and --seller-id must be 1..64 characters\n");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    int prc = parse_options(argc, argv);
    if (prc != 0)
        return prc == 1 ? 0 : prc;

    char err[512];
    int rc = 1, started = 0, delivery_started = 0;
    pthread_t *threads = NULL, delivery;
    merchant_pub = alipay_load_public_key(opt.merchant_public_key, err, sizeof err);
    if (merchant_pub == NULL) {
        fprintf(stderr, "shop-sandbox: --merchant-public-key: %s\n", err);
        return 2;
    }
    provider_priv = alipay_load_private_key(opt.provider_private_key, err, sizeof err);
    if (provider_priv == NULL) {
        fprintf(stderr, "shop-sandbox: --provider-private-key: %s\n", err);
        EVP_PKEY_free(merchant_pub);
        return 2;
    }
    if (make_dirs() != 0)
        goto out;
    log_init("shop-sandbox", LOG_INFO);

    if (FCGX_Init() != 0) {
        log_error("FCGX_Init failed");
        goto out;
    }
    unlink(opt.socket);
    listen_fd = FCGX_OpenSocket(opt.socket, 128);
    if (listen_fd < 0) {
        log_error("cannot listen on %s: %s", opt.socket, strerror(errno));
        goto out;
    }
    chmod(opt.socket, 0660); /* nginx workers: this user, or its group */

    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGHUP);
    sigaddset(&stop_set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    struct sigaction sa = {.sa_handler = on_sigusr2};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pthread_create(&delivery, NULL, delivery_main, NULL) != 0) {
        log_error("cannot start the delivery thread");
        goto stop;
    }
    delivery_started = 1;
    threads = calloc((size_t)opt.threads, sizeof *threads);
    if (threads == NULL)
        goto stop;
    for (; started < opt.threads; started++)
        if (pthread_create(&threads[started], NULL, worker, NULL) != 0) {
            log_error("cannot start worker thread %d", started);
            goto stop;
        }
    if (runtime_write_pid(opt.pid_file) != 0)
        log_warn("cannot write pid file %s", opt.pid_file);
    log_info("listening on %s with %d threads; state in %s; app_id %s; time scale %g", opt.socket,
             opt.threads, opt.state_dir, opt.app_id, opt.time_scale);

    int sig = 0;
    sigwait(&stop_set, &sig);
    log_info("signal %d: stopping", sig);
    rc = 0;

stop:
    atomic_store(&stopping, 1);
    pthread_mutex_lock(&state_mu);
    kick_delivery();
    pthread_mutex_unlock(&state_mu);
    FCGX_ShutdownPending();
    shutdown(listen_fd, SHUT_RDWR);
    for (int i = 0; i < started; i++) {
        struct timespec ts;
        for (;;) {
            pthread_kill(threads[i], SIGUSR2);
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_timedjoin_np(threads[i], NULL, &ts) == 0)
                break;
        }
    }
    if (delivery_started)
        pthread_join(delivery, NULL);
    log_info("stopped");
out:
    free(threads);
    if (listen_fd >= 0) {
        close(listen_fd);
        unlink(opt.socket);
    }
    if (opt.pid_file && rc == 0)
        unlink(opt.pid_file);
    EVP_PKEY_free(merchant_pub);
    EVP_PKEY_free(provider_priv);
    return rc;
}
