#define SUITE_NAME "utf8"
#include "testmain.h"

#include "utf8.h"

#include <CUnit/CUnit.h>
#include <string.h>

/* Markus Kuhn's UTF-8 decoder stress test, the cases a decoder gets wrong:
 * boundaries, overlong forms, surrogates, lone and missing continuation
 * bytes, impossible bytes. */
static void test_decode(void)
{
    static const struct {
        const char *s;
        int len;
        uint32_t cp;
    } good[] = {
        {"A", 1, 0x41},
        {"\xc2\x80", 2, 0x80},
        {"\xdf\xbf", 2, 0x7FF},
        {"\xe0\xa0\x80", 3, 0x800},
        {"\xef\xbf\xbf", 3, 0xFFFF},
        {"\xed\x9f\xbf", 3, 0xD7FF},
        {"\xee\x80\x80", 3, 0xE000},
        {"\xf0\x90\x80\x80", 4, 0x10000},
        {"\xf4\x8f\xbf\xbf", 4, 0x10FFFF},
        {"\xe4\xb8\xad", 3, 0x4E2D}, /* 中 */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint32_t cp = 0;
        CU_ASSERT_EQUAL(utf8_decode(good[i].s, strlen(good[i].s), &cp), good[i].len);
        CU_ASSERT_EQUAL(cp, good[i].cp);
    }
    static const char *const bad[] = {
        "\x80",             /* a lone continuation byte */
        "\xbf",             /* another */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong '/' in three bytes */
        "\xe0\x9f\xbf",     /* overlong U+07FF */
        "\xf0\x80\x80\xaf", /* overlong in four */
        "\xf0\x8f\xbf\xbf", /* overlong U+FFFF */
        "\xed\xa0\x80",     /* U+D800, a surrogate */
        "\xed\xbf\xbf",     /* U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* F5: never */
        "\xfe",             /* impossible */
        "\xff",             /* impossible */
        "\xc2",             /* a sequence cut short */
        "\xe4\xb8",         /* another */
        "\xc2\x41",         /* a continuation missing */
        "",                 /* nothing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t cp = 0;
        CU_ASSERT_EQUAL(utf8_decode(bad[i], strlen(bad[i]), &cp), -1);
    }
}

static void test_valid(void)
{
    CU_ASSERT(utf8_valid("", 0));
    CU_ASSERT(utf8_valid("pässwörd 中文", strlen("pässwörd 中文")));
    CU_ASSERT(!utf8_valid("pass\xffword", 9));
    CU_ASSERT(!utf8_valid("abc\xe4\xb8", 5));
    /* A NUL inside is a character, but the length decides. */
    CU_ASSERT(utf8_valid("a\0b", 3));
}

static void test_boundary(void)
{
    const char *s = "a\xe4\xb8\xad"
                    "b"; /* a 中 b */
    CU_ASSERT_EQUAL(utf8_boundary(s, 4), 4);
    CU_ASSERT_EQUAL(utf8_boundary(s, 3), 1);
    CU_ASSERT_EQUAL(utf8_boundary(s, 2), 1);
    CU_ASSERT_EQUAL(utf8_boundary(s, 1), 1);
    CU_ASSERT_EQUAL(utf8_boundary(s, 0), 0);
}

static const struct test_case TESTS[] = {
    {"decode: Kuhn's boundary and malformed cases", test_decode},
    {"valid: whole strings", test_valid},
    {"boundary: a cut never splits a character", test_boundary},
    {NULL, NULL},
};

#include "testmain.h"
