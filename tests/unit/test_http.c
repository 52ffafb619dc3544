/* The edge: decoding, field lookup with caps, request reading from a
 * FastCGI environment, JSON bodies, and the response writer's headers. */
#include "testmain.h"
#include <json-c/json.h>
#include <string.h>

#include "http.h"

static void test_url_decode(void)
{
    char out[16];
    CU_ASSERT_EQUAL(http_url_decode("a%20b+c", 7, out, sizeof out, 1), 5);
    CU_ASSERT_STRING_EQUAL(out, "a b c");
    CU_ASSERT_EQUAL(http_url_decode("a+b", 3, out, sizeof out, 0), 3);
    CU_ASSERT_STRING_EQUAL(out, "a+b");
    CU_ASSERT_EQUAL(http_url_decode("%e4%b8%ad", 9, out, sizeof out, 0), 3);
    CU_ASSERT_EQUAL(http_url_decode("%zz", 3, out, sizeof out, 0), -1);
    CU_ASSERT_EQUAL(http_url_decode("%4", 2, out, sizeof out, 0), -1);
    CU_ASSERT_EQUAL(http_url_decode("%", 1, out, sizeof out, 0), -1);
    CU_ASSERT_EQUAL(http_url_decode("a%00b", 5, out, sizeof out, 0), -1);
    /* exactly fits (15 chars + NUL) vs one too many */
    CU_ASSERT_EQUAL(http_url_decode("123456789012345", 15, out, sizeof out, 0), 15);
    CU_ASSERT_EQUAL(http_url_decode("1234567890123456", 16, out, sizeof out, 0), -1);
}

static void test_hex_value(void)
{
    CU_ASSERT_EQUAL(http_hex_value('0'), 0);
    CU_ASSERT_EQUAL(http_hex_value('9'), 9);
    CU_ASSERT_EQUAL(http_hex_value('a'), 10);
    CU_ASSERT_EQUAL(http_hex_value('F'), 15);
    CU_ASSERT_EQUAL(http_hex_value('g'), -1);
    CU_ASSERT_EQUAL(http_hex_value('%'), -1);
    CU_ASSERT_EQUAL(http_hex_value(0), -1);
    CU_ASSERT_EQUAL(http_hex_value(0xe4), -1);
}

static void test_url_encode(void)
{
    struct buf b;
    buf_init(&b, 64);
    const char *s = "a b/c~d-e_f.g&h=\xe4\xb8\xad";
    CU_ASSERT_EQUAL(http_url_encode(s, strlen(s), "", &b), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "a%20b%2Fc~d-e_f.g%26h%3D%E4%B8%AD");
    buf_reset(&b);
    CU_ASSERT_EQUAL(http_url_encode("/orders/12?x=1", 14, "/", &b), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "/orders/12%3Fx%3D1");
    /* len counts: an embedded NUL is encoded, never a kept byte */
    buf_reset(&b);
    CU_ASSERT_EQUAL(http_url_encode("a\0b", 3, "/", &b), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "a%00b");
    /* it decodes back to what went in */
    char out[64];
    buf_reset(&b);
    CU_ASSERT_EQUAL(http_url_encode(s, strlen(s), "", &b), 0);
    CU_ASSERT_EQUAL(http_url_decode(buf_str(&b), b.len, out, sizeof out, 0), (long)strlen(s));
    CU_ASSERT_STRING_EQUAL(out, s);
    buf_free(&b);
    /* the cap: -1, and what fitted stays */
    buf_init(&b, 4);
    CU_ASSERT_EQUAL(http_url_encode("ab cd", 5, "", &b), -1);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "ab");
    buf_free(&b);
}

static void test_form_get(void)
{
    const char *f = "login=alice&password=p%26ss+w&empty=&flag&x=1&x=2";
    char out[32];
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "login", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "alice");
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "password", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "p&ss w");
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "empty", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "");
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "flag", out, sizeof out), 1);
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "x", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "1");
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "log", out, sizeof out), 0);
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "missing", out, sizeof out), 0);
    char small[4];
    CU_ASSERT_EQUAL(http_form_get(f, strlen(f), "login", small, sizeof small), -1);
    CU_ASSERT_EQUAL(http_form_get("", 0, "a", out, sizeof out), 0);
}

static void test_cookie_get(void)
{
    char out[64];
    const char *h = "theme=dark; sid=abc123;  other=\"quoted\"";
    CU_ASSERT_EQUAL(http_cookie_get(h, "sid", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "abc123");
    CU_ASSERT_EQUAL(http_cookie_get(h, "other", out, sizeof out), 1);
    CU_ASSERT_STRING_EQUAL(out, "quoted");
    CU_ASSERT_EQUAL(http_cookie_get(h, "id", out, sizeof out), 0);
    CU_ASSERT_EQUAL(http_cookie_get("", "sid", out, sizeof out), 0);
    CU_ASSERT_EQUAL(http_cookie_get(NULL, "sid", out, sizeof out), 0);
}

static void test_request_read(void)
{
    char *env[] = {"REQUEST_METHOD=GET",
                   "REQUEST_URI=/goods/12%33?x=1",
                   "QUERY_STRING=x=1",
                   "HTTP_COOKIE=sid=1",
                   "HTTP_IF_NONE_MATCH=W/\"ab\"",
                   "REQUEST_ID=0123456789abcdef0123456789abcdef",
                   NULL};
    struct http_request r;
    CU_ASSERT_EQUAL(http_request_read(&r, env, NULL, 1024), HTTP_READ_OK);
    CU_ASSERT_EQUAL(r.method, HTTP_GET);
    CU_ASSERT_STRING_EQUAL(r.path, "/goods/123");
    CU_ASSERT_STRING_EQUAL(r.query, "x=1");
    CU_ASSERT_STRING_EQUAL(r.cookie, "sid=1");
    CU_ASSERT_STRING_EQUAL(r.content_type, "");
    CU_ASSERT_STRING_EQUAL(r.if_none_match, "W/\"ab\"");
    CU_ASSERT_STRING_EQUAL(r.request_id, "0123456789abcdef0123456789abcdef");
    http_request_free(&r);
}

static void test_request_generated_id_and_method(void)
{
    char *env[] = {"REQUEST_METHOD=BREW", "REQUEST_URI=/", NULL};
    struct http_request r;
    CU_ASSERT_EQUAL(http_request_read(&r, env, NULL, 1024), HTTP_READ_OK);
    CU_ASSERT_EQUAL(r.method, HTTP_OTHER);
    CU_ASSERT_EQUAL(strlen(r.request_id), HTTP_REQUEST_ID_LEN);
    CU_ASSERT_EQUAL(strspn(r.request_id, "0123456789abcdef"), HTTP_REQUEST_ID_LEN);
    http_request_free(&r);
}

static void test_request_refusals(void)
{
    struct http_request r;
    char *too_large[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/api/orders", "CONTENT_LENGTH=2048",
                         NULL};
    CU_ASSERT_EQUAL(http_request_read(&r, too_large, NULL, 1024), HTTP_READ_TOO_LARGE);
    http_request_free(&r);
    char *bad_len[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=12x", NULL};
    CU_ASSERT_EQUAL(http_request_read(&r, bad_len, NULL, 1024), HTTP_READ_BAD);
    http_request_free(&r);
    char *neg_len[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/", "CONTENT_LENGTH=-1", NULL};
    CU_ASSERT_EQUAL(http_request_read(&r, neg_len, NULL, 1024), HTTP_READ_BAD);
    http_request_free(&r);
    char *bad_path[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/a%00b", NULL};
    CU_ASSERT_EQUAL(http_request_read(&r, bad_path, NULL, 1024), HTTP_READ_BAD);
    http_request_free(&r);
    char *no_slash[] = {"REQUEST_METHOD=GET", "REQUEST_URI=http://x/", NULL};
    CU_ASSERT_EQUAL(http_request_read(&r, no_slash, NULL, 1024), HTTP_READ_BAD);
    http_request_free(&r);
    static char cookie[HTTP_HEADER_MAX + 32] = "HTTP_COOKIE=";
    memset(cookie + 12, 'a', HTTP_HEADER_MAX + 1);
    char *big_cookie[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/", cookie, NULL};
    CU_ASSERT_EQUAL(http_request_read(&r, big_cookie, NULL, 1024), HTTP_READ_BAD);
    http_request_free(&r);
}

static enum shop_code parse_body(const char *ct, const char *body, json_object **out)
{
    struct http_request r;
    memset(&r, 0, sizeof r);
    r.content_type = ct;
    buf_init(&r.body, 1024);
    buf_puts(&r.body, body);
    enum shop_code rc = http_json_body(&r, 4, out);
    buf_free(&r.body);
    return rc;
}

static void test_json_body(void)
{
    json_object *o = NULL;
    CU_ASSERT_EQUAL(parse_body("application/json", "{\"a\":1} \n", &o), SHOP_SUCCESS);
    CU_ASSERT_PTR_NOT_NULL(o);
    json_object_put(o);
    CU_ASSERT_EQUAL(parse_body("application/json; charset=utf-8", "{}", &o), SHOP_SUCCESS);
    json_object_put(o);
    CU_ASSERT_EQUAL(parse_body("text/plain", "{}", &o), SHOP_UNSUPPORTED_MEDIA_TYPE);
    CU_ASSERT_EQUAL(parse_body("application/json", "", &o), SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_EQUAL(parse_body("application/json", "{\"a\":", &o), SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_EQUAL(parse_body("application/json", "[1,2]", &o), SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_EQUAL(parse_body("application/json", "{} {}", &o), SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_EQUAL(parse_body("application/json", "{'a':1}", &o), SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_EQUAL(parse_body("application/json", "{\"a\":\"it's \\\"x\\\"\"}", &o), SHOP_SUCCESS);
    json_object_put(o);
    o = NULL;
    CU_ASSERT_EQUAL(parse_body("application/json", "{\"a\":[[[[[1]]]]]}", &o),
                    SHOP_REQUEST_PARAMETER_VALID);
    CU_ASSERT_PTR_NULL(o);
    /* Issue 10, finding 8: numbers JSON does not have, anywhere in the body. */
    static const char *const non_finite[] = {
        "{\"a\":NaN}",
        "{\"a\":nan}",
        "{\"a\":Infinity}",
        "{\"a\":-Infinity}",
        "{\"a\":[1,NaN]}",
        "{\"a\":{\"b\":-Infinity}}",
        "{\"password\":NaN,\"login\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof non_finite / sizeof non_finite[0]; i++) {
        o = NULL;
        CU_ASSERT_EQUAL(parse_body("application/json", non_finite[i], &o),
                        SHOP_REQUEST_PARAMETER_VALID);
        CU_ASSERT_PTR_NULL(o);
        json_object_put(o);
    }
    CU_ASSERT_EQUAL(parse_body("application/json", "{\"a\":[1.5,-2e3,0]}", &o), SHOP_SUCCESS);
    json_object_put(o);
}

/* JSON has no NaN or infinity; json-c takes them even in strict mode (found
 * by tests/fuzz/fuzz_json_body: {"x":NaN} was accepted as an object, and a
 * NaN quantity then meets an int conversion). */
static void test_json_body_non_finite(void)
{
    const char *bad[] = {
        "{\"x\":NaN}",   "{\"x\":nan}",    "{\"x\":Infinity}",       "{\"x\":-Infinity}",
        "{\"x\":1e999}", "{\"x\":-1e999}", "{\"a\":[1,{\"b\":NaN}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_object *o = NULL;
        CU_ASSERT_EQUAL(parse_body("application/json", bad[i], &o), SHOP_REQUEST_PARAMETER_VALID);
        CU_ASSERT_PTR_NULL(o);
        json_object_put(o);
    }
    json_object *o = NULL;
    CU_ASSERT_EQUAL(parse_body("application/json", "{\"x\":1.5e300,\"s\":\"NaN\"}", &o),
                    SHOP_SUCCESS);
    json_object_put(o);
}

static void test_response_headers(void)
{
    struct http_response res;
    struct buf out;
    http_response_init(&res);
    buf_init(&out, 1 << 20);
    CU_ASSERT_EQUAL(http_json_error(&res, SHOP_GOODS_NO_EXIST, NULL), 0);
    CU_ASSERT_EQUAL(http_header_add(&res, "X-Test", "evil\r\nSet-Cookie: x=1"), -1);
    CU_ASSERT_EQUAL(http_header_add(&res, "X-Test", "ok"), 0);
    CU_ASSERT_EQUAL(http_response_serialize(&res, &out), 0);
    const char *s = buf_str(&out);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Status: 404 Not Found\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "X-Content-Type-Options: nosniff\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "X-Frame-Options: DENY\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Content-Security-Policy: default-src 'self'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Content-Type: application/json\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "X-Test: ok\r\n"));
    CU_ASSERT_PTR_NULL(strstr(s, "Set-Cookie"));
    const char *body = strstr(s, "\r\n\r\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    json_object *o = json_tokener_parse(body + 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_FALSE(json_object_get_boolean(json_object_object_get(o, "success")));
    CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_object_get(o, "code")),
                           "SHOP_GOODS_NO_EXIST");
    CU_ASSERT_STRING_NOT_EQUAL(json_object_get_string(json_object_object_get(o, "message")), "");
    json_object_put(o);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "form-action 'self'\r\n"));
    /* An extra form-action origin, and a malformed one refused */
    buf_reset(&out);
    res.form_action = "http://127.0.0.1:8081";
    CU_ASSERT_EQUAL(http_response_serialize(&res, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "form-action 'self' http://127.0.0.1:8081\r\n"));
    buf_reset(&out);
    res.form_action = "http://x; script-src *";
    CU_ASSERT_EQUAL(http_response_serialize(&res, &out), 0);
    CU_ASSERT_PTR_NULL(strstr(buf_str(&out), "script-src *"));
    res.form_action = NULL;
    /* HEAD: the same headers, no body */
    buf_reset(&out);
    res.no_body = 1;
    CU_ASSERT_EQUAL(http_response_serialize(&res, &out), 0);
    CU_ASSERT_EQUAL(strstr(buf_str(&out), "\r\n\r\n")[4], '\0');
    http_response_free(&res);
    buf_free(&out);
}

static void test_etag_matches(void)
{
    CU_ASSERT_TRUE(http_etag_matches("\"abc\"", "\"abc\""));
    CU_ASSERT_TRUE(http_etag_matches("W/\"abc\"", "\"abc\""));
    CU_ASSERT_TRUE(http_etag_matches("\"x\", W/\"y\" ,\"abc\"", "\"abc\""));
    CU_ASSERT_TRUE(http_etag_matches("*", "\"abc\""));
    CU_ASSERT_FALSE(http_etag_matches("", "\"abc\""));
    CU_ASSERT_FALSE(http_etag_matches("\"abcd\"", "\"abc\""));
    CU_ASSERT_FALSE(http_etag_matches("\"ab\"", "\"abc\""));
    CU_ASSERT_FALSE(http_etag_matches("abc", "\"abc\""));
    CU_ASSERT_FALSE(http_etag_matches("\"abc", "\"abc\""));
    CU_ASSERT_FALSE(http_etag_matches("W/", "\"abc\""));
    CU_ASSERT_FALSE(http_etag_matches(",,, W/\"", "\"abc\""));
}

/* The serialized response of res (a 200 "hello" page, made public with
 * if_none_match) into out; what http_response_public returned. */
static int public_page(struct buf *out, const char *if_none_match, const char *cookie)
{
    struct http_response res;
    http_response_init(&res);
    res.status = 200;
    res.content_type = "text/html; charset=utf-8";
    buf_puts(&res.body, "hello");
    if (cookie != NULL)
        http_header_add(&res, "Set-Cookie", cookie);
    int rc = http_response_public(&res, if_none_match);
    buf_reset(out);
    CU_ASSERT_EQUAL(http_response_serialize(&res, out), 0);
    http_response_free(&res);
    return rc;
}

static void test_response_public(void)
{
    struct buf out;
    char etag[HTTP_ETAG_LEN + 1];
    buf_init(&out, 1 << 16);
    CU_ASSERT_EQUAL(public_page(&out, "", NULL), 1);
    const char *s = buf_str(&out), *e = strstr(s, "ETag: ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    snprintf(etag, sizeof etag, "%.*s", (int)HTTP_ETAG_LEN, e + 6);
    CU_ASSERT_EQUAL(etag[0], '"');
    CU_ASSERT_EQUAL(etag[HTTP_ETAG_LEN - 1], '"');
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Cache-Control: public, no-cache\r\n"));
    CU_ASSERT_PTR_NULL(strstr(s, "no-store"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Status: 200 OK\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\r\n\r\nhello"));
    /* The same body, the same tag: If-None-Match with it is 304, no body. */
    CU_ASSERT_EQUAL(public_page(&out, etag, NULL), 1);
    s = buf_str(&out);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Status: 304 Not Modified\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, etag));
    CU_ASSERT_PTR_NULL(strstr(s, "Content-Length"));
    CU_ASSERT_EQUAL(strstr(s, "\r\n\r\n")[4], '\0');
    CU_ASSERT_EQUAL(public_page(&out, "\"other\"", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "Status: 200 OK\r\n"));
    /* An answer that sets a cookie is nobody else's: left no-store. */
    CU_ASSERT_EQUAL(public_page(&out, etag, "a=b"), 0);
    s = buf_str(&out);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Status: 200 OK\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Cache-Control: no-store\r\n"));
    CU_ASSERT_PTR_NULL(strstr(s, "ETag"));
    /* Nor is an error. */
    struct http_response res;
    http_response_init(&res);
    http_json_error(&res, SHOP_GOODS_NO_EXIST, NULL);
    CU_ASSERT_EQUAL(http_response_public(&res, "*"), 0);
    CU_ASSERT_EQUAL(res.status, 404);
    http_response_free(&res);
    buf_free(&out);
}

static void test_wants_json(void)
{
    struct http_request r;
    memset(&r, 0, sizeof r);
    r.accept = "text/html,application/xhtml+xml";
    snprintf(r.path, sizeof r.path, "/api/goods");
    CU_ASSERT_TRUE(http_wants_json(&r));
    snprintf(r.path, sizeof r.path, "/nothing");
    CU_ASSERT_FALSE(http_wants_json(&r));
    r.accept = "application/json";
    CU_ASSERT_TRUE(http_wants_json(&r));
}

#define SUITE_NAME "http"
static const struct test_case TESTS[] = {
    {"url decode", test_url_decode},
    {"hex digits", test_hex_value},
    {"url encode: unreserved and kept bytes stay, the rest is %XX", test_url_encode},
    {"form and query fields", test_form_get},
    {"cookies", test_cookie_get},
    {"request from a FastCGI environment", test_request_read},
    {"generated request id, unknown method", test_request_generated_id_and_method},
    {"refused requests", test_request_refusals},
    {"JSON bodies", test_json_body},
    {"JSON bodies: no NaN or infinity", test_json_body_non_finite},
    {"response headers and JSON errors", test_response_headers},
    {"JSON or HTML", test_wants_json},
    {"If-None-Match: weak comparison, lists and *", test_etag_matches},
    {"a public answer: ETag, public no-cache, 304 on its tag; never with a cookie or an error",
     test_response_public},
    {NULL, NULL},
};
#include "testmain.h"
