#include "templates.h"

#include "mustache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXT           ".mustache"
#define MAX_TEMPLATE  (4u << 20) /* bytes per file */
#define MAX_TEMPLATES 4096

struct entry {
    char *name; /* without the extension */
    size_t len;
    char *file; /* the file name, for messages */
    mustache_tmpl *tmpl;
};

struct templates {
    struct entry *v; /* sorted by name */
    size_t n;
};

static int cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return cmp_name(x->name, x->len, y->name, y->len);
}

static const struct entry *find(const struct templates *t, const char *name, size_t len)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_name(name, len, t->v[mid].name, t->v[mid].len);
        if (c == 0)
            return &t->v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const mustache_tmpl *partial(const char *name, size_t len, void *ud)
{
    const struct entry *e = find(ud, name, len);
    return e ? e->tmpl : NULL;
}

/* Read a whole regular file. Returns 0, or -1 with a message. */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_TEMPLATE) {
        snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path, MAX_TEMPLATE);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *p = malloc(size + 1);
    if (p == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return -1;
    }
    while (got < size) {
        ssize_t r = read(fd, p + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: %s", path, r < 0 ? strerror(errno) : "file shrank");
            free(p);
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    p[size] = '\0';
    *data = p;
    *len = size;
    return 0;
}

void templates_free(struct templates *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].file);
        mustache_free(t->v[i].tmpl);
    }
    free(t->v);
    free(t);
}

/* Collect the template file names of `dir` into t->v (names only, sorted). */
static int scan(struct templates *t, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t flen = strlen(de->d_name), elen = strlen(EXT);
        if (de->d_name[0] == '.' || flen <= elen || strcmp(de->d_name + flen - elen, EXT) != 0)
            continue;
        if (t->n == MAX_TEMPLATES) {
            snprintf(err, errlen, "%s: more than %d templates", dir, MAX_TEMPLATES);
            rc = -1;
            break;
        }
        if (t->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct entry *v = realloc(t->v, ncap * sizeof *v);
            if (v == NULL) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            t->v = v;
            cap = ncap;
        }
        struct entry *e = &t->v[t->n];
        e->len = flen - elen;
        e->name = strndup(de->d_name, e->len);
        e->file = strdup(de->d_name);
        e->tmpl = NULL;
        t->n++;
        if (e->name == NULL || e->file == NULL) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (rc == 0 && t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, cmp_entry);
    return rc;
}

struct templates *templates_load(const char *dir, char *err, size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    struct templates *t = calloc(1, sizeof *t);
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (scan(t, dir, err, errlen) != 0) {
        templates_free(t);
        return NULL;
    }
    size_t plen = strlen(dir) + 1 + NAME_MAX + 1;
    char *path = malloc(plen);
    if (path == NULL) {
        snprintf(err, errlen, "out of memory");
        templates_free(t);
        return NULL;
    }
    char msg[256];
    for (size_t i = 0; i < t->n; i++) {
        struct entry *e = &t->v[i];
        snprintf(path, plen, "%s/%s", dir, e->file);
        char *text;
        size_t len;
        if (read_file(path, &text, &len, err, errlen) != 0)
            goto fail;
        int rc = mustache_compile(text, len, &e->tmpl, msg, sizeof msg);
        free(text);
        if (rc != MUSTACHE_OK) {
            snprintf(err, errlen, "%s: %s", path, msg);
            goto fail;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        if (mustache_check_partials(t->v[i].tmpl, partial, t, msg, sizeof msg) != MUSTACHE_OK) {
            snprintf(err, errlen, "%s/%s: %s", dir, t->v[i].file, msg);
            goto fail;
        }
    }
    free(path);
    return t;
fail:
    free(path);
    templates_free(t);
    return NULL;
}

size_t templates_count(const struct templates *t)
{
    return t ? t->n : 0;
}

int templates_render(const struct templates *t, const char *name, struct json_object *data,
                     struct buf *out)
{
    const struct entry *e = find(t, name, strlen(name));
    if (e == NULL)
        return MUSTACHE_ERR_PARTIAL;
    /* the set is only read: the cast drops const for the callback's void * */
    return mustache_render(e->tmpl, data, partial, (void *)t, out);
}
