/* store: the sandbox's state as small files under one directory, so that a
 * crash or restart loses nothing. Every write goes to a temporary name in the
 * same directory, is fsynced and renamed over the old file (then the directory
 * is fsynced): a reader sees the old or the new content, never half. Reads are
 * capped (STORE_FILE_MAX). Names are plain file names (no '/'), checked.
 *
 * One process-wide store (store_open once at start); store_lock/unlock is the
 * one mutex that callers hold around a read-modify-write of related files. */
#ifndef SANDBOX_STORE_H
#define SANDBOX_STORE_H

#include <stddef.h>

struct json_object;

#define STORE_FILE_MAX (256 * 1024) /* the largest file read back */

/* Create dir (mode 700) and each of the NULL-terminated subs in it, and make
 * it the store. 0, or -1 with the reason on stderr. */
int store_open(const char *dir, const char *const *subs);

void store_lock(void);
void store_unlock(void);

/* "<dir>/<sub>" or "<dir>/<sub>/<name>" (name NULL) into out. 0 or -1. */
int store_path(char *out, size_t outsz, const char *sub, const char *name);

/* Write len bytes as sub/name atomically (see above). 0 or -1 (logged). */
int store_write(const char *sub, const char *name, const char *data, size_t len);
/* The same with o serialised (pretty, slashes unescaped). */
int store_write_json(const char *sub, const char *name, struct json_object *o);

/* sub/name as a NUL-terminated string in out (outsz bytes, the rest cut).
 * 0, or -1 when absent or unreadable. */
int store_read_text(const char *sub, const char *name, char *out, size_t outsz);
/* sub/name as a JSON object (a new reference the caller puts); NULL when
 * absent, over STORE_FILE_MAX or not an object. */
struct json_object *store_read_json(const char *sub, const char *name);

/* Move sub/name to to_sub/name (both directories fsynced). 0 or -1. */
int store_move(const char *sub, const char *to_sub, const char *name);
/* Remove sub/name; absent is fine. 0 or -1. */
int store_remove(const char *sub, const char *name);

/* Call fn for every file of sub whose name ends with suffix ("" = every one),
 * hidden and temporary files skipped, in directory order; stop early when fn
 * returns non-zero. Returns the number of calls, or -1 when sub is unreadable. */
int store_each(const char *sub, const char *suffix, int (*fn)(const char *name, void *ud),
               void *ud);

/* A record's string field (owned by o), or NULL when absent or not a string. */
const char *store_str(struct json_object *o, const char *key);
/* A record's integer field, or dflt when absent or not an integer. */
long long store_int(struct json_object *o, const char *key, long long dflt);

#endif
