/* sandbox/settings.c: the command-line table. */
#define SUITE_NAME "sandbox_settings"
#include "testmain.h"

#include "settings.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

static const char *name;
static double number;
static int flag;

static const struct settings_option TABLE[] = {
    {"name", SETTINGS_STRING, &name, 0, 8, 1, "NAME", "a required name of 1..8 bytes"},
    {"alias", SETTINGS_STRING, &name, 0, 8, 0, "NAME", NULL},
    {"number", SETTINGS_NUMBER, &number, 1, 10, 0, "N", "a whole number in 1..10"},
    {"flag", SETTINGS_FLAG, &flag, 0, 0, 0, NULL, "a flag"},
};
#define N (sizeof TABLE / sizeof TABLE[0])

static int parse(int argc, char **argv)
{
    name = NULL;
    number = 5;
    flag = 0;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w"); /* the refusals' messages */
    int rc = settings_parse(TABLE, N, argc, argv, "test");
    fclose(stderr);
    stderr = saved;
    return rc;
}

static void test_values_and_operands(void)
{
    char *argv[] = {"prog", "--name", "tea", "--number=7", "--flag", "k=v", "--name", NULL};
    CU_ASSERT_EQUAL(parse(7, argv), 5); /* stops at the first operand */
    CU_ASSERT_STRING_EQUAL(name, "tea");
    CU_ASSERT_EQUAL(number, 7);
    CU_ASSERT_EQUAL(flag, 1);
    char *alias[] = {"prog", "--alias=cups", NULL};
    CU_ASSERT_EQUAL(parse(2, alias), 2);
    CU_ASSERT_STRING_EQUAL(name, "cups");
    char *dashes[] = {"prog", "--name", "x", "--", "--flag", NULL};
    CU_ASSERT_EQUAL(parse(5, dashes), 4);
    CU_ASSERT_EQUAL(flag, 0);
}

static void test_refusals(void)
{
    char *missing[] = {"prog", "--number", "3", NULL};
    CU_ASSERT_EQUAL(parse(3, missing), -2);
    char *unknown[] = {"prog", "--name", "x", "--nmae", "y", NULL};
    CU_ASSERT_EQUAL(parse(5, unknown), -2);
    char *too_long[] = {"prog", "--name", "123456789", NULL};
    CU_ASSERT_EQUAL(parse(3, too_long), -2);
    char *empty[] = {"prog", "--name=", NULL};
    CU_ASSERT_EQUAL(parse(2, empty), -2);
    char *no_value[] = {"prog", "--name", NULL};
    CU_ASSERT_EQUAL(parse(2, no_value), -2);
    char *flag_value[] = {"prog", "--name", "x", "--flag=1", NULL};
    CU_ASSERT_EQUAL(parse(4, flag_value), -2);
}

static void test_number_bounds(void)
{
    const char *bad[] = {"0", "11", "2.5", "", "7x", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"prog", "--name", "x", "--number", (char *)bad[i], NULL};
        CU_ASSERT_EQUAL(parse(5, argv), -2);
    }
    char *ok[] = {"prog", "--name", "x", "--number", "10", NULL};
    CU_ASSERT_EQUAL(parse(5, ok), 5);
    CU_ASSERT_EQUAL(number, 10);
}

static void test_help(void)
{
    char *argv[] = {"prog", "--name", "x", "--help", NULL};
    CU_ASSERT_EQUAL(parse(4, argv), -1);
}

static void test_print_lists_all_but_aliases(void)
{
    char out[1024] = "";
    FILE *f = fmemopen(out, sizeof out - 1, "w");
    settings_print(f, TABLE, N);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--name NAME"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "a whole number in 1..10"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "--flag "));
    CU_ASSERT_PTR_NULL(strstr(out, "--alias"));
}

static const struct test_case TESTS[] = {
    {"values, aliases and operands are taken from argv", test_values_and_operands},
    {"a missing, unknown, too long or valueless option is refused", test_refusals},
    {"a number outside its bounds or not whole is refused", test_number_bounds},
    {"--help asks for the usage", test_help},
    {"--help lists every option but aliases", test_print_lists_all_but_aliases},
    {NULL, NULL},
};

#include "testmain.h"
