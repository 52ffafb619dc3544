/* Shared main() for the CUnit suites: every test file does
 * `#define SUITE_NAME "money"` and includes this header first (for
 * struct test_case), defines `static const struct test_case TESTS[]` (ending
 * with {NULL, NULL}), then includes this header again, last (for main()).
 * It runs the suite verbosely and ends with one line
 * `SUITE: N passed, M failed` that scripts/test adds up. Exit status is 0
 * only when every test passed. */
#ifndef SHOP_TESTMAIN_DECL
#define SHOP_TESTMAIN_DECL

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

struct test_case {
    const char *name;
    void (*fn)(void);
};

#elif !defined(SHOP_TESTMAIN_MAIN)
/* Second inclusion, after TESTS: main() can see the table now. */
#define SHOP_TESTMAIN_MAIN

#ifndef SUITE_INIT
#define SUITE_INIT NULL
#endif
#ifndef SUITE_CLEANUP
#define SUITE_CLEANUP NULL
#endif

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite(SUITE_NAME, SUITE_INIT, SUITE_CLEANUP);
    if (suite == NULL)
        return 2;
    for (const struct test_case *t = TESTS; t->name != NULL; t++)
        if (CU_add_test(suite, t->name, t->fn) == NULL)
            return 2;
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed();
    /* A suite whose init failed runs nothing: count that as a failure. */
    unsigned suites_failed = CU_get_number_of_suites_failed();
    if (suites_failed > 0 && run == 0)
        failed = 1;
    printf("%s: %u passed, %u failed\n", SUITE_NAME, run - CU_get_number_of_tests_failed(), failed);
    CU_cleanup_registry();
    return failed == 0 ? 0 : 1;
}

#endif
