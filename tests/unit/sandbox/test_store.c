/* sandbox/store.c: atomic files under a state directory. */
#define SUITE_NAME "sandbox_store"
#include "testmain.h"

#include "store.h"

#include "buf.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/test_store.XXXXXX";

static int setup(void)
{
    static const char *const subs[] = {"a", "b", NULL};
    if (mkdtemp(dir) == NULL)
        return 1;
    char state[PATH_MAX];
    snprintf(state, sizeof state, "%s/state", dir);
    return store_open(state, subs) == 0 ? 0 : 1;
}

static int cleanup(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}

static int exists(const char *sub, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    return store_path(path, sizeof path, sub, name) == 0 && stat(path, &st) == 0;
}

static void test_open_makes_the_directories(void)
{
    CU_ASSERT_TRUE(exists("a", NULL));
    CU_ASSERT_TRUE(exists("b", NULL));
}

static void test_write_then_read(void)
{
    char text[16];
    CU_ASSERT_EQUAL(store_write("a", "one", "first", 5), 0);
    CU_ASSERT_EQUAL(store_write("a", "one", "second", 6), 0); /* replaces */
    CU_ASSERT_EQUAL(store_read_text("a", "one", text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "second");
    CU_ASSERT_EQUAL(store_read_text("a", "one", text, 4), 0); /* cut to the room */
    CU_ASSERT_STRING_EQUAL(text, "sec");
    CU_ASSERT_EQUAL(store_read_text("a", "absent", text, sizeof text), -1);
    CU_ASSERT_EQUAL(store_remove("a", "one"), 0);
    CU_ASSERT_EQUAL(store_remove("a", "one"), 0); /* absent is fine */
    CU_ASSERT_FALSE(exists("a", "one"));
}

static void test_json_records(void)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "url", json_object_new_string("http://127.0.0.1/x"));
    json_object_object_add(o, "attempts", json_object_new_int(3));
    CU_ASSERT_EQUAL(store_write_json("a", "r.json", o), 0);
    json_object_put(o);
    json_object *r = store_read_json("a", "r.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(store_str(r, "url"), "http://127.0.0.1/x");
    CU_ASSERT_EQUAL(store_int(r, "attempts", -1), 3);
    CU_ASSERT_PTR_NULL(store_str(r, "attempts")); /* not a string */
    CU_ASSERT_EQUAL(store_int(r, "url", -1), -1); /* not an integer */
    json_object_put(r);
    /* Not an object, or not JSON: nothing. */
    CU_ASSERT_EQUAL(store_write("a", "list.json", "[1,2]", 5), 0);
    CU_ASSERT_PTR_NULL(store_read_json("a", "list.json"));
    CU_ASSERT_EQUAL(store_write("a", "bad.json", "{\"a\":", 5), 0);
    CU_ASSERT_PTR_NULL(store_read_json("a", "bad.json"));
    CU_ASSERT_PTR_NULL(store_read_json("a", "absent.json"));
    store_remove("a", "r.json");
    store_remove("a", "list.json");
    store_remove("a", "bad.json");
}

static void test_names_are_plain(void)
{
    char path[PATH_MAX];
    CU_ASSERT_EQUAL(store_write("a", "../escape", "x", 1), -1);
    CU_ASSERT_EQUAL(store_write("a", ".hidden", "x", 1), -1);
    CU_ASSERT_EQUAL(store_write("a", "", "x", 1), -1);
    CU_ASSERT_EQUAL(store_path(path, sizeof path, "a", "x/y"), -1);
    CU_ASSERT_EQUAL(store_path(path, 8, "a", "long-name"), -1); /* does not fit */
}

static int collect(const char *name, void *ud)
{
    buf_printf(ud, "%s,", name);
    return 0;
}

static int stop_at_first(const char *name, void *ud)
{
    (void)name;
    (*(int *)ud)++;
    return 1;
}

static void test_each_lists_by_suffix(void)
{
    struct buf seen;
    int calls = 0;
    buf_init(&seen, 1024);
    store_write("b", "1.json", "{}", 2);
    store_write("b", "2.json", "{}", 2);
    store_write("b", "note.txt", "x", 1);
    CU_ASSERT_EQUAL(store_each("b", ".json", collect, &seen), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&seen), "1.json,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&seen), "2.json,"));
    CU_ASSERT_PTR_NULL(strstr(buf_str(&seen), "note.txt"));
    buf_free(&seen);
    CU_ASSERT_EQUAL(store_each("b", "", stop_at_first, &calls), 1);
    CU_ASSERT_EQUAL(calls, 1);
    CU_ASSERT_EQUAL(store_each("absent", "", stop_at_first, &calls), -1);
}

static void test_move(void)
{
    char text[8];
    store_write("a", "m", "moved", 5);
    CU_ASSERT_EQUAL(store_move("a", "b", "m"), 0);
    CU_ASSERT_FALSE(exists("a", "m"));
    CU_ASSERT_EQUAL(store_read_text("b", "m", text, sizeof text), 0);
    CU_ASSERT_STRING_EQUAL(text, "moved");
    CU_ASSERT_EQUAL(store_move("a", "b", "m"), -1); /* gone */
}

static int count_all(const char *name, void *ud)
{
    (void)name;
    (*(int *)ud)++;
    return 0;
}

static void test_no_temporary_file_is_left(void)
{
    int n = 0;
    char big[4096];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 20; i++)
        CU_ASSERT_EQUAL(store_write("a", "big", big, sizeof big), 0);
    /* Hidden names (the temporary ones) are skipped by store_each: count them
     * through the directory itself. */
    char path[PATH_MAX], cmd[PATH_MAX + 64];
    store_path(path, sizeof path, "a", NULL);
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep '^\\.tmp')\"", path);
    CU_ASSERT_EQUAL(system(cmd), 0);
    store_each("a", "", count_all, &n);
    CU_ASSERT_EQUAL(n, 1);
    store_remove("a", "big");
}

#define SUITE_INIT    setup
#define SUITE_CLEANUP cleanup

static const struct test_case TESTS[] = {
    {"opening makes the state directory and its subdirectories", test_open_makes_the_directories},
    {"a write replaces the file whole and reads back", test_write_then_read},
    {"a JSON record reads back; a non-object or broken file does not", test_json_records},
    {"names with a slash, a leading dot or empty are refused", test_names_are_plain},
    {"each lists the files with a suffix and stops when asked", test_each_lists_by_suffix},
    {"a file moves to another subdirectory", test_move},
    {"writes leave no temporary file behind", test_no_temporary_file_is_left},
    {NULL, NULL},
};

#include "testmain.h"
