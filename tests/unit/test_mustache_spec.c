/* The official mustache spec (JSON files in $MUSTACHE_SPEC_DIR), one CUnit
 * test per spec file, one assertion per spec case. Prints
 * `mustache spec: core N/136, inheritance M/27` (totals counted from the
 * files) and a separate line for the optional dynamic-names module. */
#define SUITE_NAME "mustache_spec"

#include "testmain.h"

#include "buf.h"
#include "mustache.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CORE, INHERITANCE, DYNAMIC, NGROUPS };

static unsigned passed[NGROUPS], total[NGROUPS];
static unsigned files_read[NGROUPS];

/* Print s as a C-ish string literal so whitespace is visible. */
static void print_quoted(const char *label, const char *s, size_t n)
{
    printf("      %-9s \"", label);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n')
            fputs("\\n", stdout);
        else if (ch == '\r')
            fputs("\\r", stdout);
        else if (ch == '\t')
            fputs("\\t", stdout);
        else if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\x%02x", ch);
        else
            putchar(ch);
    }
    puts("\"");
}

static const char *str_member(struct json_object *o, const char *key, size_t *n)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    *n = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static void run_file(const char *file, int group)
{
    const char *dir = getenv("MUSTACHE_SPEC_DIR");
    if (dir == NULL || dir[0] == '\0') {
        printf("\n    MUSTACHE_SPEC_DIR is not set\n");
        CU_FAIL("MUSTACHE_SPEC_DIR is not set");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct json_object *spec = json_object_from_file(path);
    struct json_object *tests;
    if (spec == NULL || !json_object_object_get_ex(spec, "tests", &tests) ||
        !json_object_is_type(tests, json_type_array)) {
        printf("\n    cannot read spec file %s\n", path);
        CU_FAIL("cannot read spec file");
        json_object_put(spec);
        return;
    }
    files_read[group]++;
    size_t n = json_object_array_length(tests);
    for (size_t i = 0; i < n; i++) {
        struct json_object *tc = json_object_array_get_idx(tests, i);
        struct json_object *data = NULL, *partials = NULL;
        size_t nlen = 0, tlen = 0, elen = 0;
        const char *name = str_member(tc, "name", &nlen);
        const char *tmpl = str_member(tc, "template", &tlen);
        const char *expected = str_member(tc, "expected", &elen);
        json_object_object_get_ex(tc, "data", &data);
        json_object_object_get_ex(tc, "partials", &partials);
        total[group]++;

        struct buf out;
        buf_init(&out, 1 << 20);
        char err[256] = "";
        int rc = MUSTACHE_ERR_SYNTAX;
        if (tmpl != NULL && expected != NULL)
            rc = mustache_render_text(tmpl, tlen, data, partials, &out, err, sizeof err);
        int ok = rc == MUSTACHE_OK && out.len == elen && memcmp(buf_str(&out), expected, elen) == 0;
        char msg[300];
        snprintf(msg, sizeof msg, "%s: %s", file, name ? name : "?");
        CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
        if (ok) {
            passed[group]++;
        } else {
            printf("\n    FAIL %s: %s (rc %d%s%s)\n", file, name ? name : "?", rc,
                   err[0] ? ": " : "", err);
            if (tmpl != NULL)
                print_quoted("template", tmpl, tlen);
            if (expected != NULL)
                print_quoted("expected", expected, elen);
            print_quoted("got", buf_str(&out), out.len);
        }
        buf_free(&out);
    }
    json_object_put(spec);
}

static void test_comments(void)
{
    run_file("comments.json", CORE);
}

static void test_delimiters(void)
{
    run_file("delimiters.json", CORE);
}

static void test_interpolation(void)
{
    run_file("interpolation.json", CORE);
}

static void test_inverted(void)
{
    run_file("inverted.json", CORE);
}

static void test_partials(void)
{
    run_file("partials.json", CORE);
}

static void test_sections(void)
{
    run_file("sections.json", CORE);
}

static void test_inheritance(void)
{
    run_file("~inheritance.json", INHERITANCE);
}

static void test_dynamic_names(void)
{
    run_file("~dynamic-names.json", DYNAMIC);
}

static void test_summary(void)
{
    printf("\nmustache spec: core %u/%u, inheritance %u/%u\n", passed[CORE], total[CORE],
           passed[INHERITANCE], total[INHERITANCE]);
    printf("mustache spec (optional): dynamic-names %u/%u\n", passed[DYNAMIC], total[DYNAMIC]);
    CU_ASSERT_EQUAL(files_read[CORE], 6);
    CU_ASSERT_EQUAL(files_read[INHERITANCE], 1);
    CU_ASSERT(total[CORE] > 0 && passed[CORE] == total[CORE]);
    CU_ASSERT(total[INHERITANCE] > 0 && passed[INHERITANCE] == total[INHERITANCE]);
}

static const struct test_case TESTS[] = {
    {"comments", test_comments},
    {"delimiters", test_delimiters},
    {"interpolation", test_interpolation},
    {"inverted", test_inverted},
    {"partials", test_partials},
    {"sections", test_sections},
    {"inheritance", test_inheritance},
    {"dynamic_names", test_dynamic_names},
    {"summary", test_summary},
    {NULL, NULL},
};

#include "testmain.h"
