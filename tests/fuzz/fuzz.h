/* What every libFuzzer harness of tests/fuzz/ shares: the input as a string
 * and cut into parts, and the check that turns a broken promise into a crash
 * (which the fuzzer reports and keeps). Each harness is one target: it feeds
 * its input to one parser of the shop and checks what that parser promises. */
#ifndef SHOP_FUZZ_H
#define SHOP_FUZZ_H

#include <fcgiapp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A promise of the code under test: abort (a finding) when it does not hold. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a NUL-terminated copy (it may hold NULs of its own). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Cut *s (of *len bytes) at the first sep: the part before it is returned
 * (NUL-terminated in place), *s and *len move past sep. With no sep the
 * whole rest is the part and *len becomes 0. */
static inline char *fuzz_cut(char **s, size_t *len, const char *sep)
{
    char *part = *s;
    size_t n = strlen(sep);
    char *at = n <= *len ? memmem(part, *len, sep, n) : NULL;
    if (at == NULL) {
        *s += *len;
        *len = 0;
        return part;
    }
    *at = '\0';
    *len -= (size_t)(at - part) + n;
    *s = at + n;
    return part;
}

/* The end of a request's body: libfcgi would read the next record here. */
static inline void fuzz_end_of_body(FCGX_Stream *in)
{
    in->isClosed = 1;
}

/* A FastCGI input stream over len bytes of body. */
static inline FCGX_Stream fuzz_reader(char *body, size_t len)
{
    FCGX_Stream in = {.rdNext = (unsigned char *)body,
                      .stop = (unsigned char *)body + len,
                      .stopUnget = (unsigned char *)body,
                      .isReader = 1,
                      .fillBuffProc = fuzz_end_of_body};
    return in;
}

/* The FastCGI params: "NAME=VALUE" lines of *s up to an empty line (or at
 * most max) into env (max + 1 entries, NULL-terminated); *s and *len are
 * left at the body. Returns the number of params. */
static inline size_t fuzz_params(char **s, size_t *len, char **env, size_t max)
{
    size_t n = 0;
    while (*len > 0 && n < max) {
        char *line = fuzz_cut(s, len, "\n");
        if (*line == '\0')
            break;
        env[n++] = line;
    }
    env[n] = NULL;
    return n;
}

/* Logging off (the code under test logs what it refuses), unless FUZZ_LOG
 * is set: to see what one input does. */
static inline void fuzz_quiet(void)
{
    static FILE *null;
    if (null == NULL && getenv("FUZZ_LOG") == NULL) {
        null = fopen("/dev/null", "w");
        log_set_stream(null);
    }
}

#endif
