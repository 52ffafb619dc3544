/* mustache: logic-less templates over json-c data.
 *
 * A template is compiled once into an immutable node tree and rendered any
 * number of times, from any number of threads at once. Supported: escaped
 * {{x}} and raw {{{x}}} / {{&x}} interpolation, dotted names, the implicit
 * iterator {{.}}, sections, inverted sections, comments, set delimiters,
 * partials {{>name}} (standalone partials are indented), dynamic partials
 * {{>*name}}, template inheritance ({{<parent}}{{$block}}..{{/block}}{{/parent}})
 * and the standalone-line rules of the mustache spec. Lambdas are not: the
 * data model is JSON.
 *
 * Values: strings as is, integers in decimal, doubles in the shortest form that
 * reads back exactly (1.5 -> "1.5", 3.0 -> "3"), booleans as true/false,
 * null/objects/arrays as nothing. Escaping turns & < > " ' into &amp; &lt;
 * &gt; &quot; &#39;. Sections treat false, null, 0, "" and [] as false (like
 * JavaScript); a list repeats the section once per element, anything else
 * truthy is pushed as the context once.
 *
 * Limits: section nesting and expansion depth (sections, partials, parents,
 * blocks) are capped at MUSTACHE_MAX_DEPTH; output is capped by the struct buf. */
#ifndef SHOP_MUSTACHE_H
#define SHOP_MUSTACHE_H

#include <stddef.h>

struct json_object;
struct buf;

enum {
    MUSTACHE_OK = 0,
    MUSTACHE_ERR_SYNTAX = -1,  /* template does not parse */
    MUSTACHE_ERR_TOO_BIG = -2, /* output would exceed the buffer's cap */
    MUSTACHE_ERR_DEPTH = -3,   /* nesting/recursion deeper than MUSTACHE_MAX_DEPTH */
    MUSTACHE_ERR_NOMEM = -4,   /* out of memory */
    MUSTACHE_ERR_PARTIAL = -5  /* unknown template/partial (templates module and
                                  mustache_check_partials only: while rendering, a
                                  missing partial renders as empty, per the spec) */
};

#define MUSTACHE_MAX_DEPTH 64

typedef struct mustache_tmpl mustache_tmpl;

/* Partial lookup: returns a compiled template (owned by the caller of
 * mustache_render, alive for the whole render) or NULL, which renders as
 * empty. `name` is not NUL-terminated. Must be thread-safe if rendering is. */
typedef const mustache_tmpl *(*mustache_partial_fn)(const char *name, size_t name_len, void *ud);

/* Compile `len` bytes of `text` (need not be NUL-terminated; copied, so the
 * caller may free it afterwards). On success *out receives a template the
 * caller owns (mustache_free). On failure returns MUSTACHE_ERR_SYNTAX,
 * MUSTACHE_ERR_DEPTH or MUSTACHE_ERR_NOMEM, *out is NULL and `err` (if not
 * NULL) receives a message such as "line 3: unclosed section 'items'". */
int mustache_compile(const char *text, size_t len, mustache_tmpl **out, char *err, size_t errlen);

/* Free a compiled template. NULL is fine. */
void mustache_free(mustache_tmpl *t);

/* Render `t` with `data` (borrowed; may be NULL) appending to `out` (which the
 * caller owns and has initialised with buf_init). Partials and parents are
 * resolved through `partials` (may be NULL: all missing) called with `ud`.
 * Returns MUSTACHE_OK, MUSTACHE_ERR_TOO_BIG (output over the buffer's cap),
 * MUSTACHE_ERR_DEPTH or MUSTACHE_ERR_NOMEM; on error `out` holds partial
 * output that the caller should discard. Does not modify `t` or `data`:
 * concurrent renders of the same template are safe. */
int mustache_render(const mustache_tmpl *t, struct json_object *data, mustache_partial_fn partials,
                    void *ud, struct buf *out);

/* Check that every partial/parent named statically in `t` ({{>x}}, {{<x}}; not
 * dynamic {{>*x}}) is found by `lookup`. Returns MUSTACHE_OK, or
 * MUSTACHE_ERR_PARTIAL with "line N: unknown partial 'x'" in `err`. */
int mustache_check_partials(const mustache_tmpl *t, mustache_partial_fn lookup, void *ud, char *err,
                            size_t errlen);

/* Convenience: compile `text`, render it with `data` and free it. `partials`
 * (borrowed; may be NULL) is a JSON object mapping partial names to template
 * strings, compiled lazily and cached for the duration of the call. Returns
 * as mustache_compile/mustache_render; a partial that fails to compile makes
 * the call fail with its error, "partial 'x': line N: ..." in `err`. */
int mustache_render_text(const char *text, size_t len, struct json_object *data,
                         struct json_object *partials, struct buf *out, char *err, size_t errlen);

#endif
