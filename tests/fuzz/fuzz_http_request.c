/* The FastCGI request: params "NAME=VALUE", one a line, up to an empty line,
 * then the body, read through a stream like libfcgi's. http_request_read
 * keeps every cap; a request it accepts then goes through the body and field
 * parsers the handlers use. */
#include <json-c/json.h>

#include "fuzz.h"
#include "http.h"

#define MAX_PARAMS 32
#define MAX_BODY   4096

static void use_request(const struct http_request *r)
{
    char out[HTTP_FIELD_MAX];
    json_object *o = NULL;
    FUZZ_CHECK(r->path[0] == '/' && strlen(r->path) < HTTP_PATH_MAX);
    FUZZ_CHECK(strlen(r->query) <= HTTP_QUERY_MAX && strlen(r->cookie) <= HTTP_HEADER_MAX);
    FUZZ_CHECK(r->body.len <= MAX_BODY && strlen(r->request_id) == HTTP_REQUEST_ID_LEN);
    (void)http_wants_json(r);
    if (http_json_body(r, 8, &o) == SHOP_SUCCESS)
        FUZZ_CHECK(json_object_is_type(o, json_type_object));
    json_object_put(o);
    if (http_form_get(r->body.data ? r->body.data : "", r->body.len, "login", out, sizeof out) == 1)
        FUZZ_CHECK(strlen(out) < sizeof out);
    if (http_form_get(r->query, strlen(r->query), "page", out, sizeof out) == 1)
        FUZZ_CHECK(strlen(out) < sizeof out);
    if (http_cookie_get(r->cookie, "sid", out, sizeof out) == 1)
        FUZZ_CHECK(strlen(out) < sizeof out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_str(data, size), *rest = text;
    char *env[MAX_PARAMS + 1];
    size_t left = size;
    fuzz_params(&rest, &left, env, MAX_PARAMS);
    FCGX_Stream in = fuzz_reader(rest, left);
    struct http_request r;
    if (http_request_read(&r, env, &in, MAX_BODY) == HTTP_READ_OK)
        use_request(&r);
    http_request_free(&r);
    free(text);
    return 0;
}
