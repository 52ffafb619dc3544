/* log: one line per event on stderr (the run scripts send it to a file):
 *   2026-11-26T05:40:01.123Z INFO  shop-app req=5f3a9c01d2e4b6a8 message
 * Levels filter; the request id is per thread (set at the start of a request,
 * cleared at its end) so that every line of one request can be grepped. */
#ifndef SHOP_LOG_H
#define SHOP_LOG_H

#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Name the program ("shop-app") and the lowest level written. Not thread-safe:
 * call once at start before threads exist. */
void log_init(const char *program, enum log_level min_level);

/* Parse "debug", "info", "warn", "error" (case-insensitive). Returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

/* Send lines to `f` instead of stderr (tests). The stream stays the caller's. */
void log_set_stream(FILE *f);

/* Set (copied, at most 32 chars) or clear (NULL) this thread's request id. */
void log_set_request_id(const char *id);
/* This thread's request id, "" when none. */
const char *log_request_id(void);

/* Write one line. Newlines inside the message are replaced by spaces, so one
 * event is always one line. The line is written with one write(). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
