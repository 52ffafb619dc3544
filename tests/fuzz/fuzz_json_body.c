/* JSON bodies: the first line is the Content-Type, the rest the body. A body
 * that is accepted is one JSON object within the depth, and what json-c
 * writes of it is accepted again. */
#include <json-c/json.h>

#include "fuzz.h"
#include "http.h"

#define DEPTH 8

static enum shop_code parse(const char *type, const char *body, size_t len, json_object **out)
{
    struct http_request r;
    memset(&r, 0, sizeof r);
    r.content_type = type;
    r.path[0] = '/';
    buf_init(&r.body, 64 * 1024);
    if (buf_append(&r.body, body, len) != 0) {
        buf_free(&r.body);
        return SHOP_REQUEST_PARAMETER_VALID;
    }
    enum shop_code rc = http_json_body(&r, DEPTH, out);
    buf_free(&r.body);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_str(data, size), *body = text;
    size_t len = size;
    const char *type = fuzz_cut(&body, &len, "\n");
    json_object *o = NULL, *again = NULL;
    enum shop_code rc = parse(type, body, len, &o);
    FUZZ_CHECK(rc == SHOP_SUCCESS || rc == SHOP_REQUEST_PARAMETER_VALID ||
               rc == SHOP_UNSUPPORTED_MEDIA_TYPE);
    FUZZ_CHECK((rc == SHOP_SUCCESS) == (o != NULL));
    if (rc == SHOP_SUCCESS) {
        FUZZ_CHECK(json_object_is_type(o, json_type_object));
        size_t n;
        const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
        FUZZ_CHECK(parse("application/json", s, n, &again) == SHOP_SUCCESS);
        FUZZ_CHECK(json_object_equal(o, again));
    }
    json_object_put(again);
    json_object_put(o);
    free(text);
    return 0;
}
