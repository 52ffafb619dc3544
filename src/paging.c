#include "paging.h"

#include <inttypes.h>
#include <stdio.h>

int paging_limit_parse(const char *s, size_t *out)
{
    size_t v = 0;
    if (*s == '\0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > PAGING_LIMIT_MAX)
            return -1;
        v = v * 10 + (size_t)(*p - '0');
    }
    if (v < 1 || v > PAGING_LIMIT_MAX)
        return -1;
    *out = v;
    return 0;
}

/* One part: digits without a leading zero (except "0"), at most INT64_MAX.
 * Returns the byte after it, or NULL. */
static const char *parse_key(const char *s, int64_t *out)
{
    int64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
    }
    *out = v;
    return p;
}

int paging_cursor_parse(const char *s, int64_t *keys, size_t nkeys)
{
    if (nkeys < 1 || nkeys > PAGING_KEYS_MAX)
        return -1;
    for (size_t i = 0; i < nkeys; i++) {
        if (i > 0 && *s++ != '.')
            return -1;
        if ((s = parse_key(s, &keys[i])) == NULL)
            return -1;
    }
    return *s == '\0' ? 0 : -1;
}

const char *paging_cursor_format(const int64_t *keys, size_t nkeys, char *out)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < nkeys && i < PAGING_KEYS_MAX; i++)
        len += (size_t)snprintf(out + len, PAGING_CURSOR_MAX - len, "%s%" PRId64, i ? "." : "",
                                keys[i]);
    return out;
}

int paging_trim(size_t *n, size_t limit)
{
    if (*n <= limit)
        return 0;
    *n = limit;
    return 1;
}
