/* The mustache compiler: the input is a template. It compiles or fails with
 * a message; what compiles renders (itself as every partial, so recursion
 * meets the depth cap) within the output cap, with data of every kind. */
#include <json-c/json.h>

#include "buf.h"
#include "fuzz.h"
#include "mustache.h"

#define OUT_CAP (64 * 1024)

static const char DATA[] =
    "{\"name\":\"<b>&\\\"'\",\"n\":3,\"f\":1.5,\"yes\":true,\"no\":false,\"none\":null,"
    "\"list\":[1,\"two\",{\"name\":\"x\"},[],{}],\"empty\":[],\"obj\":{\"a\":{\"b\":\"c\"}},"
    "\"x\":\"x\",\"a\":\"a\"}";

static const mustache_tmpl *self(const char *name, size_t name_len, void *ud)
{
    (void)name;
    (void)name_len;
    return ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_object *d;
    mustache_tmpl *t = NULL;
    char err[256] = "";
    struct buf out;
    if (d == NULL)
        d = json_tokener_parse(DATA);
    int rc = mustache_compile((const char *)data, size, &t, err, sizeof err);
    if (rc != MUSTACHE_OK) {
        FUZZ_CHECK(t == NULL && err[0] != '\0');
        FUZZ_CHECK(rc == MUSTACHE_ERR_SYNTAX || rc == MUSTACHE_ERR_DEPTH);
        return 0;
    }
    FUZZ_CHECK(t != NULL);
    FUZZ_CHECK(mustache_check_partials(t, self, t, err, sizeof err) == MUSTACHE_OK);
    buf_init(&out, OUT_CAP);
    rc = mustache_render(t, d, self, t, &out);
    FUZZ_CHECK(rc == MUSTACHE_OK || rc == MUSTACHE_ERR_TOO_BIG || rc == MUSTACHE_ERR_DEPTH);
    FUZZ_CHECK(out.len <= OUT_CAP);
    buf_reset(&out);
    rc = mustache_render(t, NULL, NULL, NULL, &out);
    FUZZ_CHECK(rc == MUSTACHE_OK || rc == MUSTACHE_ERR_TOO_BIG || rc == MUSTACHE_ERR_DEPTH);
    buf_free(&out);
    mustache_free(t);
    return 0;
}
