#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static char store_dir[PATH_MAX];
static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;

void store_lock(void)
{
    pthread_mutex_lock(&store_mu);
}

void store_unlock(void)
{
    pthread_mutex_unlock(&store_mu);
}

static int name_ok(const char *name)
{
    return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL;
}

int store_path(char *out, size_t outsz, const char *sub, const char *name)
{
    if (name != NULL && !name_ok(name))
        return -1;
    int n = snprintf(out, outsz, "%s/%s%s%s", store_dir, sub, name ? "/" : "", name ? name : "");
    return n > 0 && (size_t)n < outsz ? 0 : -1;
}

int store_open(const char *dir, const char *const *subs)
{
    char path[PATH_MAX];
    if (snprintf(store_dir, sizeof store_dir, "%s", dir) >= (int)sizeof store_dir)
        return -1;
    for (size_t i = 0; i == 0 || subs[i - 1] != NULL; i++) {
        const char *sub = i == 0 ? "" : subs[i - 1];
        if (store_path(path, sizeof path, sub, NULL) != 0)
            return -1;
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "shop-sandbox: cannot create %s: %s\n", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int fsync_dir(const char *sub)
{
    char dir[PATH_MAX];
    if (store_path(dir, sizeof dir, sub, NULL) != 0)
        return -1;
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

int store_write(const char *sub, const char *name, const char *data, size_t len)
{
    char tmp[PATH_MAX], path[PATH_MAX];
    if (store_path(path, sizeof path, sub, name) != 0 ||
        snprintf(tmp, sizeof tmp, "%s/%s/.tmp.XXXXXX", store_dir, sub) >= (int)sizeof tmp)
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
    return fsync_dir(sub);
}

int store_write_json(const char *sub, const char *name, json_object *o)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    return s == NULL ? -1 : store_write(sub, name, s, len);
}

/* The whole file into b (capped by b). 0 or -1. */
static int read_file(const char *sub, const char *name, struct buf *b)
{
    char path[PATH_MAX], chunk[8192];
    if (store_path(path, sizeof path, sub, name) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        rc = n < 0 || buf_append(b, chunk, (size_t)n) != 0 ? -1 : 0;
    }
    close(fd);
    return rc;
}

int store_read_text(const char *sub, const char *name, char *out, size_t outsz)
{
    struct buf b;
    buf_init(&b, STORE_FILE_MAX);
    int rc = read_file(sub, name, &b);
    if (rc == 0)
        snprintf(out, outsz, "%s", buf_str(&b));
    buf_free(&b);
    return rc;
}

json_object *store_read_json(const char *sub, const char *name)
{
    struct buf b;
    json_object *o = NULL;
    buf_init(&b, STORE_FILE_MAX);
    if (read_file(sub, name, &b) == 0)
        o = json_tokener_parse(buf_str(&b));
    if (o != NULL && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    buf_free(&b);
    return o;
}

int store_move(const char *sub, const char *to_sub, const char *name)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (store_path(from, sizeof from, sub, name) != 0 ||
        store_path(to, sizeof to, to_sub, name) != 0)
        return -1;
    if (rename(from, to) != 0) {
        log_error("cannot move %s to %s: %s", from, to, strerror(errno));
        return -1;
    }
    fsync_dir(to_sub);
    return fsync_dir(sub);
}

int store_remove(const char *sub, const char *name)
{
    char path[PATH_MAX];
    if (store_path(path, sizeof path, sub, name) != 0)
        return -1;
    if (unlink(path) != 0 && errno != ENOENT) {
        log_error("cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return fsync_dir(sub);
}

int store_each(const char *sub, const char *suffix, int (*fn)(const char *name, void *ud), void *ud)
{
    char dir[PATH_MAX];
    size_t slen = strlen(suffix);
    if (store_path(dir, sizeof dir, sub, NULL) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int calls = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        calls++;
        if (fn(e->d_name, ud) != 0)
            break;
    }
    closedir(d);
    return calls;
}

const char *store_str(json_object *o, const char *key)
{
    json_object *v;
    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

long long store_int(json_object *o, const char *key, long long dflt)
{
    json_object *v;
    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_int))
        return dflt;
    return (long long)json_object_get_int64(v);
}
