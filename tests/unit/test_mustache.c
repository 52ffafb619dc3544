#define SUITE_NAME "mustache"
#include "testmain.h"

#include "buf.h"
#include "mustache.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char last_err[256];

static struct json_object *parse(const char *json)
{
    struct json_tokener *tok = json_tokener_new_ex(256);
    struct json_object *o = json_tokener_parse_ex(tok, json, (int)strlen(json) + 1);
    json_tokener_free(tok);
    return o;
}

/* Render `tmpl` with JSON `data` and JSON `partials` (both may be NULL) into
 * a buffer capped at `cap`; returns the status, the output in *out (caller
 * frees). */
static int render_cap(const char *tmpl, const char *data, const char *partials, size_t cap,
                      char **out)
{
    struct json_object *d = data ? parse(data) : NULL;
    struct json_object *p = partials ? parse(partials) : NULL;
    CU_ASSERT(data == NULL || d != NULL);
    CU_ASSERT(partials == NULL || p != NULL);
    struct buf b;
    buf_init(&b, cap);
    last_err[0] = '\0';
    int rc = mustache_render_text(tmpl, strlen(tmpl), d, p, &b, last_err, sizeof last_err);
    CU_ASSERT(b.len <= cap);
    *out = buf_detach(&b);
    json_object_put(d);
    json_object_put(p);
    return rc;
}

/* Assert that rendering gives `expected`. */
#define CHECK(tmpl, data, partials, expected)                                                      \
    do {                                                                                           \
        char *got_;                                                                                \
        int rc_ = render_cap(tmpl, data, partials, 1 << 16, &got_);                                \
        CU_ASSERT_EQUAL(rc_, MUSTACHE_OK);                                                         \
        CU_ASSERT_STRING_EQUAL(got_, expected);                                                    \
        if (rc_ != MUSTACHE_OK || strcmp(got_, expected) != 0)                                     \
            printf("\n    template %s\n    expected [%s]\n    got      [%s] rc %d %s\n", #tmpl,    \
                   expected, got_, rc_, last_err);                                                 \
        free(got_);                                                                                \
    } while (0)

/* Assert that compiling fails with `rc` and a message starting with `msg`. */
static void check_compile_error(const char *tmpl, size_t len, int rc, const char *msg)
{
    static char sentinel;
    mustache_tmpl *t = (mustache_tmpl *)(void *)&sentinel; /* must be reset to NULL */
    char err[200] = "";
    int got = mustache_compile(tmpl, len, &t, err, sizeof err);
    CU_ASSERT_EQUAL(got, rc);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_EQUAL(strncmp(err, msg, strlen(msg)), 0);
    if (got != rc || strncmp(err, msg, strlen(msg)) != 0)
        printf("\n    template [%.*s]: rc %d err [%s], want %d [%s]\n", (int)len, tmpl, got, err,
               rc, msg);
    if (got == MUSTACHE_OK)
        mustache_free(t);
}

static void test_escaping(void)
{
    const char *data = "{\"x\": \"<a href=\\\"u\\\">'Tom' & Jerry</a>\"}";
    CHECK("{{x}}", data, NULL, "&lt;a href=&quot;u&quot;&gt;&#39;Tom&#39; &amp; Jerry&lt;/a&gt;");
    CHECK("{{{x}}}", data, NULL, "<a href=\"u\">'Tom' & Jerry</a>");
    CHECK("{{& x }}", data, NULL, "<a href=\"u\">'Tom' & Jerry</a>");
    CHECK("[{{y}}]", "{\"y\": \"plain text\"}", NULL, "[plain text]");
    /* no re-interpolation of data */
    CHECK("{{a}}", "{\"a\": \"{{b}}\", \"b\": \"no\"}", NULL, "{{b}}");
}

static void test_values(void)
{
    CHECK("{{i}} {{n}} {{d}} {{e}} {{f}} {{t}} {{no}} [{{z}}] [{{o}}] [{{l}}]",
          "{\"i\": 85, \"n\": -7, \"d\": 1.5, \"e\": 3.0, \"f\": 0.1, \"t\": true, \"no\": false,"
          " \"z\": null, \"o\": {\"a\": 1}, \"l\": [1, 2]}",
          NULL, "85 -7 1.5 3 0.1 true false [] [] []");
    CHECK("{{big}}", "{\"big\": 9007199254740993}", NULL, "9007199254740993");
    CHECK("{{min}} {{max}}", "{\"min\": -9223372036854775808, \"max\": 9223372036854775807}", NULL,
          "-9223372036854775808 9223372036854775807");
    CHECK("{{.}}", "\"top\"", NULL, "top");
    CHECK("{{.}}", "12.25", NULL, "12.25");
    /* NULL data: everything is missing */
    char *got;
    struct buf b;
    buf_init(&b, 100);
    mustache_tmpl *t;
    const char *src = "[{{a}}{{#b}}x{{/b}}{{^c}}y{{/c}}]";
    CU_ASSERT_EQUAL_FATAL(mustache_compile(src, strlen(src), &t, NULL, 0), MUSTACHE_OK);
    CU_ASSERT_EQUAL(mustache_render(t, NULL, NULL, NULL, &b), MUSTACHE_OK);
    got = buf_detach(&b);
    CU_ASSERT_STRING_EQUAL(got, "[y]");
    free(got);
    mustache_free(t);
}

static void test_names(void)
{
    CHECK("{{a.b.c}}|{{#a}}{{b.c}}{{/a}}|{{a.x.c}}", "{\"a\": {\"b\": {\"c\": \"deep\"}}}", NULL,
          "deep|deep|");
    /* a name found on the stack is not searched further */
    CHECK("{{#a}}{{b.c}}{{/a}}", "{\"a\": {\"b\": {}}, \"b\": {\"c\": \"ERROR\"}}", NULL, "");
    CHECK("{{#list}}<{{.}}>{{/list}}", "{\"list\": [\"a\", 2, 3.5, true]}", NULL,
          "<a><2><3.5><true>");
    CHECK("{{#outer}}{{#inner}}{{name}}/{{label}} {{/inner}}{{/outer}}",
          "{\"label\": \"L\", \"outer\": {\"inner\": [{\"name\": \"x\"}, {\"name\": \"y\", "
          "\"label\": \"M\"}]}}",
          NULL, "x/L y/M ");
}

static void test_sections(void)
{
    const char *data = "{\"t\": true, \"f\": false, \"n\": null, \"e\": [], \"z\": 0, \"s\": \"\","
                       " \"one\": 1, \"str\": \"s\", \"obj\": {\"k\": \"v\"}, \"zo\": {}}";
    CHECK("{{#t}}T{{/t}}{{#f}}F{{/f}}{{#n}}N{{/n}}{{#e}}E{{/e}}{{#missing}}M{{/missing}}"
          "{{#z}}Z{{/z}}{{#s}}S{{/s}}{{#one}}1{{/one}}{{#str}}{{.}}{{/str}}"
          "{{#obj}}{{k}}{{/obj}}{{#zo}}{}{{/zo}}",
          data, NULL, "T1sv{}");
    CHECK("{{^t}}T{{/t}}{{^f}}F{{/f}}{{^n}}N{{/n}}{{^e}}E{{/e}}{{^missing}}M{{/missing}}"
          "{{^z}}Z{{/z}}{{^s}}S{{/s}}{{^one}}1{{/one}}{{^obj}}O{{/obj}}",
          data, NULL, "FNEMZS");
    CHECK(
        "<ul>\n{{#items}}\n  <li>{{name}}</li>\n{{/items}}\n</ul>\n{{^items}}\nnone\n{{/items}}\n",
        "{\"items\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}", NULL,
        "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>\n");
    CHECK(
        "<ul>\n{{#items}}\n  <li>{{name}}</li>\n{{/items}}\n</ul>\n{{^items}}\nnone\n{{/items}}\n",
        "{\"items\": []}", NULL, "<ul>\n</ul>\nnone\n");
}

static void test_comments_delimiters(void)
{
    CHECK("a{{! hidden }}b\n  {{! standalone }}\nc", "{}", NULL, "ab\nc");
    CHECK("{{=<% %>=}}<% x %> {{x}} <%={{ }}=%>{{x}}", "{\"x\": 1}", NULL, "1 {{x}} 1");
    CHECK("{{=| |=}}|#s||.||/s|", "{\"s\": [1, 2]}", NULL, "12");
}

static void test_partials(void)
{
    const char *parts = "{\"item\": \"<li>{{.}}</li>\\n<li>again</li>\\n\"}";
    /* a standalone partial is indented line by line; data newlines are not */
    CHECK("<ul>\n  {{#list}}\n    {{>item}}\n  {{/list}}\n</ul>\n", "{\"list\": [\"a\", \"b\"]}",
          parts,
          "<ul>\n    <li>a</li>\n    <li>again</li>\n    <li>b</li>\n    <li>again</li>\n</ul>\n");
    CHECK("  {{>p}}\n", "{\"v\": \"x\\ny\"}", "{\"p\": \"[{{v}}]\\n\\n[{{v}}]\\n\"}",
          "  [x\ny]\n\n  [x\ny]\n");
    /* inline partials are not indented */
    CHECK("a {{>p}} b\n", "{}", "{\"p\": \"1\\n2\"}", "a 1\n2 b\n");
    CHECK("[{{>missing}}]", "{}", "{}", "[]");
    CHECK("[{{>*which}}]", "{\"which\": \"p\"}", "{\"p\": \"P\"}", "[P]");
    /* recursion over data */
    CHECK("{{>node}}",
          "{\"n\": \"1\", \"kids\": [{\"n\": \"2\", \"kids\": [{\"n\": \"3\", \"kids\": []}]}]}",
          "{\"node\": \"{{n}}({{#kids}}{{>node}}{{/kids}})\"}", "1(2(3()))");
}

static void test_inheritance(void)
{
    const char *parts =
        "{\"layout\": \"<html>\\n<title>{{$title}}Shop{{/title}}</title>\\n<body>\\n"
        "  <main>\\n    {{$content}}\\n    <p>empty</p>\\n    {{/content}}\\n  </main>\\n"
        "</body>\\n</html>\\n\"}";
    const char *page = "{{<layout}}\n"
                       "{{$title}}{{name}} - Shop{{/title}}\n"
                       "{{$content}}\n"
                       "<h1>{{name}}</h1>\n"
                       "{{#items}}\n"
                       "<p>{{.}}</p>\n"
                       "{{/items}}\n"
                       "{{/content}}\n"
                       "{{/layout}}\n";
    CHECK(page, "{\"name\": \"Tea & co\", \"items\": [\"a\", \"b\"]}", parts,
          "<html>\n<title>Tea &amp; co - Shop</title>\n<body>\n  <main>\n"
          "    <h1>Tea &amp; co</h1>\n    <p>a</p>\n    <p>b</p>\n  </main>\n</body>\n</html>\n");
    /* defaults when nothing is overridden; a missing parent renders nothing */
    CHECK("{{<layout}}{{/layout}}", "{}", parts,
          "<html>\n<title>Shop</title>\n<body>\n  <main>\n    <p>empty</p>\n  </main>\n"
          "</body>\n</html>\n");
    CHECK("[{{<nope}}{{$a}}x{{/a}}{{/nope}}]", "{}", parts, "[]");
    /* the outermost override wins through several levels */
    CHECK("{{<mid}}{{$a}}top{{/a}}{{/mid}}", "{}",
          "{\"mid\": \"{{<base}}{{$a}}mid{{/a}}{{$b}}mid-b{{/b}}{{/base}}\","
          " \"base\": \"{{$a}}base{{/a}},{{$b}}base-b{{/b}}\"}",
          "top,mid-b");
}

static void test_caps(void)
{
    char *got;
    /* output over the cap */
    int rc = render_cap("0123456789{{x}}", "{\"x\": \"abcdefghij\"}", NULL, 15, &got);
    CU_ASSERT_EQUAL(rc, MUSTACHE_ERR_TOO_BIG);
    CU_ASSERT(strlen(got) <= 15);
    free(got);
    rc = render_cap("{{#l}}0123456789{{/l}}", "{\"l\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}", NULL, 99,
                    &got);
    CU_ASSERT_EQUAL(rc, MUSTACHE_ERR_TOO_BIG);
    free(got);
    rc = render_cap("{{#l}}0123456789{{/l}}", "{\"l\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}", NULL, 100,
                    &got);
    CU_ASSERT_EQUAL(rc, MUSTACHE_OK);
    CU_ASSERT_EQUAL(strlen(got), 100);
    free(got);

    /* endless partial recursion */
    rc = render_cap("{{>self}}", "{}", "{\"self\": \"x{{>self}}\"}", 1 << 20, &got);
    CU_ASSERT_EQUAL(rc, MUSTACHE_ERR_DEPTH);
    free(got);
    /* endless recursion through a block that overrides itself */
    rc = render_cap("{{<p}}{{$a}}{{$a}}x{{/a}}{{/a}}{{/p}}", "{}", "{\"p\": \"{{$a}}{{/a}}\"}",
                    1 << 20, &got);
    CU_ASSERT_EQUAL(rc, MUSTACHE_ERR_DEPTH);
    free(got);
    /* data-driven recursion deeper than the cap */
    char json[2048] = "";
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "{\"k\": ");
    n += (size_t)snprintf(json + n, sizeof json - n, "1");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "}");
    rc = render_cap("{{>n}}", json, "{\"n\": \"{{#k}}.{{>n}}{{/k}}\"}", 1 << 20, &got);
    CU_ASSERT_EQUAL(rc, MUSTACHE_ERR_DEPTH);
    free(got);
    /* sections nested too deeply in the template itself */
    char deep[65 * 6 + 1] = "";
    for (int i = 0; i < 65; i++)
        memcpy(deep + 6 * i, "{{#a}}", 6);
    check_compile_error(deep, strlen(deep), MUSTACHE_ERR_DEPTH, "line 1: sections nested");
}

static void test_syntax_errors(void)
{
    const char *t1 = "a\n{{#items}}\nb\n";
    check_compile_error(t1, strlen(t1), MUSTACHE_ERR_SYNTAX, "line 2: unclosed section 'items'");
    check_compile_error("x\n\ny {{name", 11, MUSTACHE_ERR_SYNTAX, "line 3: unclosed tag");
    check_compile_error("{{#a}}\n{{/b}}", 13, MUSTACHE_ERR_SYNTAX,
                        "line 2: closing tag 'b' does not match 'a' opened on line 1");
    check_compile_error("{{/a}}", 6, MUSTACHE_ERR_SYNTAX, "line 1: unexpected closing tag 'a'");
    check_compile_error("{{}}", 4, MUSTACHE_ERR_SYNTAX, "line 1: empty tag");
    check_compile_error("{{#}}{{/}}", 10, MUSTACHE_ERR_SYNTAX, "line 1: empty tag");
    check_compile_error("{{a b}}", 7, MUSTACHE_ERR_SYNTAX, "line 1: bad name 'a b'");
    check_compile_error("{{a..b}}", 8, MUSTACHE_ERR_SYNTAX, "line 1: bad name 'a..b'");
    check_compile_error("{{=x=}}", 7, MUSTACHE_ERR_SYNTAX, "line 1: bad set-delimiter tag");
    check_compile_error("{{{x}}", 6, MUSTACHE_ERR_SYNTAX, "line 1: unclosed tag");
    check_compile_error("{{<p}}{{$b}}", 12, MUSTACHE_ERR_SYNTAX, "line 1: unclosed section 'b'");
    /* truncated input: never read past len (the buffer is not NUL-terminated) */
    const char *srcs[] = {"{{", "{{{", "{{=", "{{!", "{{#a}}{{/a", "{{=| |=}}|", "a{{b}"};
    for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
        size_t n = strlen(srcs[i]);
        char *exact = malloc(n);
        memcpy(exact, srcs[i], n);
        mustache_tmpl *t;
        CU_ASSERT_EQUAL(mustache_compile(exact, n, &t, NULL, 0), MUSTACHE_ERR_SYNTAX);
        free(exact);
    }
    /* a prefix of a valid template is compiled as such */
    mustache_tmpl *t;
    CU_ASSERT_EQUAL(mustache_compile("{{x}}{{#", 5, &t, NULL, 0), MUSTACHE_OK);
    mustache_free(t);
    CU_ASSERT_EQUAL(mustache_compile(NULL, 0, &t, NULL, 0), MUSTACHE_OK);
    mustache_free(t);
    mustache_free(NULL);
}

static void test_partial_errors(void)
{
    char *got;
    int rc = render_cap("[{{>bad}}]", "{}", "{\"bad\": \"{{#x}}\"}", 1 << 10, &got);
    CU_ASSERT_EQUAL(rc, MUSTACHE_ERR_SYNTAX);
    CU_ASSERT_STRING_EQUAL(last_err, "partial 'bad': line 1: unclosed section 'x'");
    free(got);
}

static const mustache_tmpl *only_known(const char *name, size_t len, void *ud)
{
    return len == 5 && memcmp(name, "known", 5) == 0 ? ud : NULL;
}

static void test_check_partials(void)
{
    mustache_tmpl *known, *t;
    char err[100];
    CU_ASSERT_EQUAL_FATAL(mustache_compile("k", 1, &known, NULL, 0), MUSTACHE_OK);
    const char *good = "{{>known}}{{<known}}{{/known}}{{>*dynamic}}";
    CU_ASSERT_EQUAL_FATAL(mustache_compile(good, strlen(good), &t, NULL, 0), MUSTACHE_OK);
    CU_ASSERT_EQUAL(mustache_check_partials(t, only_known, known, err, sizeof err), MUSTACHE_OK);
    mustache_free(t);
    const char *bad = "{{>known}}\n{{#s}}\n{{>unknown}}\n{{/s}}";
    CU_ASSERT_EQUAL_FATAL(mustache_compile(bad, strlen(bad), &t, NULL, 0), MUSTACHE_OK);
    CU_ASSERT_EQUAL(mustache_check_partials(t, only_known, known, err, sizeof err),
                    MUSTACHE_ERR_PARTIAL);
    CU_ASSERT_STRING_EQUAL(err, "line 3: unknown partial 'unknown'");
    mustache_free(t);
    mustache_free(known);
}

static void test_reuse(void)
{
    /* one compiled template, many renders with different data */
    const char *src = "{{#l}}{{.}},{{/l}}";
    mustache_tmpl *t;
    CU_ASSERT_EQUAL_FATAL(mustache_compile(src, strlen(src), &t, NULL, 0), MUSTACHE_OK);
    for (int i = 0; i < 3; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"l\": [%d, %d]}", i, i + 1);
        struct json_object *d = json_tokener_parse(json);
        struct buf b;
        buf_init(&b, 100);
        CU_ASSERT_EQUAL(mustache_render(t, d, NULL, NULL, &b), MUSTACHE_OK);
        char want[32];
        snprintf(want, sizeof want, "%d,%d,", i, i + 1);
        CU_ASSERT_STRING_EQUAL(buf_str(&b), want);
        buf_free(&b);
        json_object_put(d);
    }
    mustache_free(t);
}

static const struct test_case TESTS[] = {
    {"escaping", test_escaping},
    {"values", test_values},
    {"names", test_names},
    {"sections", test_sections},
    {"comments_delimiters", test_comments_delimiters},
    {"partials", test_partials},
    {"inheritance", test_inheritance},
    {"caps", test_caps},
    {"syntax_errors", test_syntax_errors},
    {"partial_errors", test_partial_errors},
    {"check_partials", test_check_partials},
    {"reuse", test_reuse},
    {NULL, NULL},
};

#include "testmain.h"
