#include "router.h"

#include <string.h>

#include "snowflake.h"

/* Does path match pattern? Fills ids. */
static int match(const char *pattern, const char *path, int64_t ids[ROUTER_MAX_IDS], size_t *nids)
{
    *nids = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (strncmp(p, "{id}", 4) == 0) {
            size_t len = strcspn(s, "/");
            if (*nids >= ROUTER_MAX_IDS || snowflake_parse(s, len, &ids[*nids]) != 0)
                return 0;
            (*nids)++;
            p += 4;
            s += len;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

enum router_result router_match(const struct route *table, size_t n, enum http_method method,
                                const char *path, const struct route **out,
                                int64_t ids[ROUTER_MAX_IDS], size_t *nids)
{
    int path_known = 0;
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!match(table[i].pattern, path, ids, nids))
            continue;
        path_known = 1;
        if (table[i].method == method || (method == HTTP_HEAD && table[i].method == HTTP_GET)) {
            *out = &table[i];
            return ROUTER_FOUND;
        }
    }
    *nids = 0;
    return path_known ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}
