#define SUITE_NAME "templates"
#include "testmain.h"

#include "buf.h"
#include "mustache.h"
#include "templates.h"

#include <CUnit/CUnit.h>
#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A scratch directory of template files, removed by rm_dir. */
static void make_dir(char *dir)
{
    snprintf(dir, 64, "/tmp/shop-templates-XXXXXX"); /* callers: char[64] */
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static const char LAYOUT[] = "<html>\n"
                             "<title>{{$title}}Shop{{/title}}</title>\n"
                             "<body>\n"
                             "  {{$content}}\n"
                             "  {{/content}}\n"
                             "</body>\n"
                             "</html>\n";
static const char PAGE[] = "{{<layout}}\n"
                           "{{$title}}{{heading}} - Shop{{/title}}\n"
                           "{{$content}}\n"
                           "<h1>{{heading}}</h1>\n"
                           "<ul>\n"
                           "  {{#items}}\n"
                           "  {{>item}}\n"
                           "  {{/items}}\n"
                           "</ul>\n"
                           "{{/content}}\n"
                           "{{/layout}}\n";
static const char ITEM[] = "<li>{{name}}</li>\n";
static const char PAGE_OUT[] = "<html>\n"
                               "<title>Tea &amp; Cake - Shop</title>\n"
                               "<body>\n"
                               "  <h1>Tea &amp; Cake</h1>\n"
                               "  <ul>\n"
                               "    <li>tea</li>\n"
                               "    <li>&lt;cake&gt;</li>\n"
                               "  </ul>\n"
                               "</body>\n"
                               "</html>\n";
static const char PAGE_DATA[] =
    "{\"heading\": \"Tea & Cake\", \"items\": [{\"name\": \"tea\"}, {\"name\": \"<cake>\"}]}";

static struct templates *load_sample(char *dir)
{
    make_dir(dir);
    write_file(dir, "layout.mustache", LAYOUT);
    write_file(dir, "page.mustache", PAGE);
    write_file(dir, "item.mustache", ITEM);
    write_file(dir, "notes.txt", "{{#not a template");
    write_file(dir, ".hidden.mustache", "{{#broken");
    char err[256] = "";
    struct templates *t = templates_load(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(t);
    if (t == NULL)
        printf("\n    templates_load: %s\n", err);
    return t;
}

static void test_load_render(void)
{
    char dir[64];
    struct templates *t = load_sample(dir);
    if (t != NULL) {
        CU_ASSERT_EQUAL(templates_count(t), 3);
        struct json_object *data = json_tokener_parse(PAGE_DATA);
        struct buf b;
        buf_init(&b, 1 << 16);
        CU_ASSERT_EQUAL(templates_render(t, "page", data, &b), MUSTACHE_OK);
        CU_ASSERT_STRING_EQUAL(buf_str(&b), PAGE_OUT);
        if (strcmp(buf_str(&b), PAGE_OUT) != 0)
            printf("\n    got:\n%s", buf_str(&b));
        buf_reset(&b);
        CU_ASSERT_EQUAL(templates_render(t, "item", data, &b), MUSTACHE_OK);
        CU_ASSERT_STRING_EQUAL(buf_str(&b), "<li></li>\n");
        buf_reset(&b);
        CU_ASSERT_EQUAL(templates_render(t, "missing", data, &b), MUSTACHE_ERR_PARTIAL);
        CU_ASSERT_EQUAL(templates_render(t, "notes", data, &b), MUSTACHE_ERR_PARTIAL);
        CU_ASSERT_EQUAL(templates_render(t, ".hidden", data, &b), MUSTACHE_ERR_PARTIAL);
        CU_ASSERT_EQUAL(templates_render(t, "", data, &b), MUSTACHE_ERR_PARTIAL);
        CU_ASSERT_EQUAL(b.len, 0);
        /* over the cap */
        struct buf small;
        buf_init(&small, 20);
        CU_ASSERT_EQUAL(templates_render(t, "page", data, &small), MUSTACHE_ERR_TOO_BIG);
        buf_free(&small);
        buf_free(&b);
        json_object_put(data);
    }
    templates_free(t);
    rm_dir(dir);
}

struct worker {
    const struct templates *t;
    struct json_object *data;
    int ok;
};

static void *render_many(void *arg)
{
    struct worker *w = arg;
    w->ok = 1;
    for (int i = 0; i < 200; i++) {
        struct buf b;
        buf_init(&b, 1 << 16);
        if (templates_render(w->t, "page", w->data, &b) != MUSTACHE_OK ||
            strcmp(buf_str(&b), PAGE_OUT) != 0)
            w->ok = 0;
        buf_free(&b);
    }
    return NULL;
}

static void test_threads(void)
{
    char dir[64];
    struct templates *t = load_sample(dir);
    if (t != NULL) {
        /* json-c objects are only read here (no refcount changes): shareable */
        struct json_object *data = json_tokener_parse(PAGE_DATA);
        pthread_t th[4];
        struct worker w[4];
        for (int i = 0; i < 4; i++) {
            w[i] = (struct worker){t, data, 0};
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, render_many, &w[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
            pthread_join(th[i], NULL);
            CU_ASSERT(w[i].ok);
        }
        json_object_put(data);
    }
    templates_free(t);
    rm_dir(dir);
}

/* Loading `files` (name, text pairs) must fail with a message containing `msg`. */
static void check_load_fails(const char *const *files, const char *msg)
{
    char dir[64], err[256] = "";
    make_dir(dir);
    for (; files[0] != NULL; files += 2)
        write_file(dir, files[0], files[1]);
    struct templates *t = templates_load(dir, err, sizeof err);
    CU_ASSERT_PTR_NULL(t);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, msg));
    if (t != NULL || strstr(err, msg) == NULL)
        printf("\n    err [%s], want [%s]\n", err, msg);
    templates_free(t);
    rm_dir(dir);
}

static void test_load_errors(void)
{
    const char *const syntax[] = {"good.mustache", "fine\n", "bad.mustache",
                                  "line one\n{{#items}}\n{{name}}\n", NULL};
    check_load_fails(syntax, "/bad.mustache: line 2: unclosed section 'items'");
    const char *const unknown[] = {"page.mustache", "{{<layuot}}{{/layuot}}", NULL};
    check_load_fails(unknown, "/page.mustache: line 1: unknown parent 'layuot'");
    const char *const partial[] = {"a.mustache", "x\n{{>b}}\n{{>c}}\n", "b.mustache", "b", NULL};
    check_load_fails(partial, "/a.mustache: line 3: unknown partial 'c'");

    char err[256] = "";
    CU_ASSERT_PTR_NULL(templates_load("/nonexistent/shop/templates", err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/shop/templates"));
    CU_ASSERT_PTR_NULL(templates_load("/nonexistent", NULL, 0));
    templates_free(NULL);

    /* an empty directory is an empty set */
    char dir[64];
    make_dir(dir);
    struct templates *t = templates_load(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(t);
    CU_ASSERT_EQUAL(templates_count(t), 0);
    struct buf b;
    buf_init(&b, 10);
    CU_ASSERT_EQUAL(templates_render(t, "x", NULL, &b), MUSTACHE_ERR_PARTIAL);
    templates_free(t);
    rm_dir(dir);
}

/* The shop's own templates (TEMPLATES_DIR, set by make check) must load and
 * render with no data at all. */
static void test_shop_templates(void)
{
    const char *dir = getenv("TEMPLATES_DIR");
    if (dir == NULL || dir[0] == '\0')
        return;
    char err[256] = "";
    struct templates *t = templates_load(dir, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(t);
    if (t == NULL) {
        printf("\n    %s\n", err);
        return;
    }
    CU_ASSERT(templates_count(t) > 0);
    struct json_object *data = json_tokener_parse("{\"shop_name\": \"Shop\"}");
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || n <= 9 || strcmp(de->d_name + n - 9, ".mustache") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(n - 9), de->d_name);
        struct buf b;
        buf_init(&b, 1 << 20);
        CU_ASSERT_EQUAL(templates_render(t, name, data, &b), MUSTACHE_OK);
        buf_free(&b);
    }
    if (d != NULL)
        closedir(d);
    json_object_put(data);
    templates_free(t);
}

static const struct test_case TESTS[] = {
    {"load_render", test_load_render},
    {"threads", test_threads},
    {"load_errors", test_load_errors},
    {"shop_templates", test_shop_templates},
    {NULL, NULL},
};

#include "testmain.h"
