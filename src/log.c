#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "utf8.h"

/* A line longer than this is cut: a log line is for grep, not for dumps. */
#define LOG_LINE_MAX    4096
#define LOG_PROGRAM_MAX 64
#define LOG_REQ_ID_MAX  32
/* UTF-8 ellipsis marks a cut line. */
#define LOG_CUT_MARK "\xe2\x80\xa6"

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};
/* Padded to one width so that the columns after the level line up. */
static const char *const LEVEL_TAGS[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

static char log_program[LOG_PROGRAM_MAX] = "shop";
static enum log_level log_min = LOG_INFO;
static FILE *log_stream; /* NULL: stderr */
static _Thread_local char log_req_id[LOG_REQ_ID_MAX + 1];

void log_init(const char *program, enum log_level min_level)
{
    if (program != NULL)
        snprintf(log_program, sizeof log_program, "%s", program);
    log_min = min_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < sizeof LEVEL_NAMES / sizeof LEVEL_NAMES[0]; i++) {
        if (strcasecmp(s, LEVEL_NAMES[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_stream(FILE *f)
{
    log_stream = f;
}

void log_set_request_id(const char *id)
{
    if (id == NULL) {
        log_req_id[0] = '\0';
        return;
    }
    snprintf(log_req_id, sizeof log_req_id, "%s", id);
}

const char *log_request_id(void)
{
    return log_req_id;
}

static void write_all(int fd, const char *p, size_t n)
{
    /* One write() normally takes the whole line; the loop only matters for
     * signals and full pipes, where splitting is better than losing it. */
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    if ((unsigned)level >= sizeof LEVEL_TAGS / sizeof LEVEL_TAGS[0])
        level = LOG_ERROR;

    /* Room for the newline and the NUL vsnprintf always writes. */
    char line[LOG_LINE_MAX + 1];
    const size_t cap = LOG_LINE_MAX - 1;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);

    size_t len = strftime(line, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(line + len, cap - len, ".%03ldZ %s %s req=%s ", ts.tv_nsec / 1000000,
                     LEVEL_TAGS[level], log_program, log_req_id[0] ? log_req_id : "-");
    if (n < 0)
        return;
    len += (size_t)n < cap - len ? (size_t)n : cap - len - 1;

    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line + len, cap + 1 - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n <= cap - len) {
        len += (size_t)n;
    } else {
        /* Cut: keep what fits in front of the marker. */
        size_t keep = utf8_boundary(line, cap - (sizeof LOG_CUT_MARK - 1));
        memcpy(line + keep, LOG_CUT_MARK, sizeof LOG_CUT_MARK - 1);
        len = keep + sizeof LOG_CUT_MARK - 1;
    }

    /* One event, one line, whatever the message (or request id) carries. */
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';

    FILE *f = log_stream ? log_stream : stderr;
    write_all(fileno(f), line, len);
}
