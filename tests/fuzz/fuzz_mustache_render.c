/* The mustache renderer: the input is a template, a line "----", the data as
 * JSON, a line "----" and the partials as a JSON object of templates (the
 * spec's tests in that shape). Rendering ends, within the cap, with an
 * answer the header promises. */
#include <json-c/json.h>

#include "buf.h"
#include "fuzz.h"
#include "mustache.h"

#define OUT_CAP (64 * 1024)
#define SEP     "\n----\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_str(data, size), *rest = text;
    size_t left = size;
    char err[256] = "";
    struct buf out;
    const char *tmpl = fuzz_cut(&rest, &left, SEP);
    size_t tlen = strlen(tmpl);
    json_object *d = json_tokener_parse(fuzz_cut(&rest, &left, SEP));
    json_object *partials = json_tokener_parse(rest);
    if (!json_object_is_type(partials, json_type_object)) {
        json_object_put(partials);
        partials = NULL;
    }
    buf_init(&out, OUT_CAP);
    int rc = mustache_render_text(tmpl, tlen, d, partials, &out, err, sizeof err);
    FUZZ_CHECK(rc == MUSTACHE_OK || rc == MUSTACHE_ERR_SYNTAX || rc == MUSTACHE_ERR_TOO_BIG ||
               rc == MUSTACHE_ERR_DEPTH);
    FUZZ_CHECK(out.len <= OUT_CAP);
    if (rc == MUSTACHE_ERR_SYNTAX)
        FUZZ_CHECK(err[0] != '\0');
    buf_free(&out);
    json_object_put(partials);
    json_object_put(d);
    free(text);
    return 0;
}
