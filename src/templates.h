/* templates: the compiled *.mustache templates of a directory, loaded once at
 * startup and rendered per request. Immutable after load, so any number of
 * threads may render at once. */
#ifndef SHOP_TEMPLATES_H
#define SHOP_TEMPLATES_H

#include <stddef.h>

struct json_object;
struct buf;
struct templates;

/* Load and compile every *.mustache file in `dir` (name = file name without
 * the extension, e.g. "layout", "catalogue"; hidden files are skipped), then
 * check that every partial/parent named in them ({{>x}}, {{<x}}) exists.
 * Returns a set the caller owns (templates_free), or NULL with a message in
 * `err` naming the first problem, e.g. "templates/page.mustache: line 3:
 * unclosed section 'items'". An empty directory gives an empty set. */
struct templates *templates_load(const char *dir, char *err, size_t errlen);

/* Free the set. NULL is fine. */
void templates_free(struct templates *t);

/* Number of loaded templates. */
size_t templates_count(const struct templates *t);

/* Render template `name` with `data` (borrowed; may be NULL), appending to
 * `out` (caller-owned, buf_init'ed). Partials and parents resolve to other
 * templates of the set. Returns MUSTACHE_OK, MUSTACHE_ERR_PARTIAL for an
 * unknown name, or a mustache_render error (then `out` holds partial output
 * to discard). Thread-safe. */
int templates_render(const struct templates *t, const char *name, struct json_object *data,
                     struct buf *out);

#endif
