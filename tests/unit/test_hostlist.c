#define SUITE_NAME "hostlist"
#include "testmain.h"

#include "hostlist.h"

#include <CUnit/CUnit.h>
#include <string.h>

static void test_list_in_order(void)
{
    struct hostlist l;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(hostlist_parse("127.0.0.1:25920, node2.internal:5672 ,10.0.0.3:1", "x", 9,
                                         &l, err, sizeof err),
                          0);
    CU_ASSERT_EQUAL_FATAL(l.n, 3);
    CU_ASSERT_STRING_EQUAL(l.e[0].host, "127.0.0.1");
    CU_ASSERT_EQUAL(l.e[0].port, 25920);
    CU_ASSERT_STRING_EQUAL(l.e[1].host, "node2.internal");
    CU_ASSERT_EQUAL(l.e[1].port, 5672);
    CU_ASSERT_STRING_EQUAL(l.e[2].host, "10.0.0.3");
    CU_ASSERT_EQUAL(l.e[2].port, 1);
}

static void test_empty_is_the_default_host(void)
{
    struct hostlist l;
    CU_ASSERT_EQUAL_FATAL(hostlist_parse("", "db.local", 3306, &l, NULL, 0), 0);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_STRING_EQUAL(l.e[0].host, "db.local");
    CU_ASSERT_EQUAL(l.e[0].port, 3306);
    CU_ASSERT_EQUAL_FATAL(hostlist_parse("  ", "db.local", 3306, &l, NULL, 0), 0);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_EQUAL_FATAL(hostlist_parse(NULL, "db.local", 3306, &l, NULL, 0), 0);
    CU_ASSERT_EQUAL(l.n, 1);
}

static void test_eight_hosts_at_most(void)
{
    struct hostlist l;
    char err[256] = "";
    const char *eight = "a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8";
    CU_ASSERT_EQUAL(hostlist_parse(eight, "", 1, &l, err, sizeof err), 0);
    CU_ASSERT_EQUAL(l.n, 8);
    CU_ASSERT_STRING_EQUAL(l.e[7].host, "h");
    CU_ASSERT_EQUAL(
        hostlist_parse("a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9", "", 1, &l, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "more than 8 hosts");
}

static void test_bad_entries_refused(void)
{
    static const char *const bad[] = {
        "a:1,",    ",a:1", "a:1,,b:2", "a",    "a:",    ":5672",    "a:0",
        "a:65536", "a:-1", "a:+1",     "a:1x", "a:1 2", "a:123456", " , ",
    };
    struct hostlist l;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        CU_ASSERT_EQUAL(hostlist_parse(bad[i], "", 1, &l, err, sizeof err), -1);
        CU_ASSERT(err[0] != '\0');
    }
    char err[256] = "";
    hostlist_parse("a:1,,b:2", "", 1, &l, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty entry"));
    hostlist_parse("a:99999", "", 1, &l, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "1..65535"));
    char longhost[HOSTLIST_HOST_MAX + 16];
    memset(longhost, 'h', HOSTLIST_HOST_MAX);
    memcpy(longhost + HOSTLIST_HOST_MAX, ":1", 3);
    CU_ASSERT_EQUAL(hostlist_parse(longhost, "", 1, &l, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
}

static const struct test_case TESTS[] = {
    {"a list is parsed in order, spaces around entries ignored", test_list_in_order},
    {"an empty list is the one default host", test_empty_is_the_default_host},
    {"eight hosts at most", test_eight_hosts_at_most},
    {"an empty entry, a bad port or a long host is refused with a reason",
     test_bad_entries_refused},
    {NULL, NULL},
};

#include "testmain.h"
