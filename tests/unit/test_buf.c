#define SUITE_NAME "buf"
#include "testmain.h"

#include "buf.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static void test_init_empty(void)
{
    struct buf b;
    buf_init(&b, 100);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.alloc, 0);
    CU_ASSERT_EQUAL(b.max, 100);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
    buf_free(&b);
}

static void test_append(void)
{
    struct buf b;
    buf_init(&b, 1000);
    CU_ASSERT_EQUAL(buf_puts(&b, "hello"), 0);
    CU_ASSERT_EQUAL(buf_putc(&b, ','), 0);
    CU_ASSERT_EQUAL(buf_append(&b, " world!!", 6), 0);
    CU_ASSERT_EQUAL(buf_printf(&b, " %d-%s", 42, "x"), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "hello, world 42-x");
    CU_ASSERT_EQUAL(b.len, strlen("hello, world 42-x"));
    CU_ASSERT_EQUAL(b.data[b.len], '\0');
    /* Empty appends are fine and change nothing. */
    CU_ASSERT_EQUAL(buf_append(&b, "", 0), 0);
    CU_ASSERT_EQUAL(buf_printf(&b, "%s", ""), 0);
    CU_ASSERT_EQUAL(b.len, strlen("hello, world 42-x"));
    buf_free(&b);
}

static void test_binary(void)
{
    struct buf b;
    buf_init(&b, 16);
    CU_ASSERT_EQUAL(buf_append(&b, "a\0b", 3), 0);
    CU_ASSERT_EQUAL(b.len, 3);
    CU_ASSERT(memcmp(b.data, "a\0b", 4) == 0);
    buf_free(&b);
}

static void test_cap(void)
{
    struct buf b;
    buf_init(&b, 10);
    CU_ASSERT_EQUAL(buf_puts(&b, "0123456789"), 0); /* exactly the cap */
    CU_ASSERT_EQUAL(b.len, 10);
    CU_ASSERT_EQUAL(buf_putc(&b, 'x'), -1);
    CU_ASSERT_EQUAL(buf_puts(&b, "x"), -1);
    CU_ASSERT_EQUAL(buf_printf(&b, "%d", 1), -1);
    CU_ASSERT_EQUAL(buf_append(&b, "x", (size_t)-1), -1);
    /* A refusal keeps the previous content. */
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "0123456789");
    CU_ASSERT_EQUAL(b.len, 10);
    CU_ASSERT(b.alloc <= b.max + 1);
    buf_free(&b);

    buf_init(&b, 10);
    CU_ASSERT_EQUAL(buf_puts(&b, "abc"), 0);
    CU_ASSERT_EQUAL(buf_printf(&b, "%s", "12345678"), -1); /* would be 11 */
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "abc");
    CU_ASSERT_EQUAL(buf_printf(&b, "%s", "1234567"), 0); /* exactly 10 */
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "abc1234567");
    buf_free(&b);

    buf_init(&b, 0);
    CU_ASSERT_EQUAL(buf_putc(&b, 'x'), -1);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
    buf_free(&b);
}

static void test_growth(void)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    char *expect = malloc(100000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(expect);
    for (size_t i = 0; i < 100000; i++) {
        char c = (char)('a' + i % 26);
        expect[i] = c;
        if (buf_putc(&b, c) != 0) {
            CU_FAIL("putc refused below the cap");
            break;
        }
    }
    CU_ASSERT_EQUAL(b.len, 100000);
    CU_ASSERT(b.alloc > b.len);
    CU_ASSERT(memcmp(b.data, expect, 100000) == 0);
    CU_ASSERT_EQUAL(b.data[100000], '\0');
    free(expect);
    buf_free(&b);

    /* The allocation never goes past the cap (plus the NUL). */
    buf_init(&b, 100);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(buf_putc(&b, 'z'), 0);
    CU_ASSERT_EQUAL(b.alloc, 101);
    CU_ASSERT_EQUAL(buf_putc(&b, 'z'), -1);
    buf_free(&b);
}

static void test_printf_large(void)
{
    struct buf b;
    buf_init(&b, 10000);
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CU_ASSERT_EQUAL(buf_printf(&b, "<%s>", big), 0);
    CU_ASSERT_EQUAL(b.len, 5000 + 1);
    CU_ASSERT_EQUAL(b.data[0], '<');
    CU_ASSERT_EQUAL(b.data[b.len - 1], '>');
    CU_ASSERT_EQUAL(strlen(buf_str(&b)), b.len);
    buf_free(&b);
}

static void test_reset(void)
{
    struct buf b;
    buf_init(&b, 100);
    CU_ASSERT_EQUAL(buf_puts(&b, "some text"), 0);
    char *data = b.data;
    size_t alloc = b.alloc;
    buf_reset(&b);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
    CU_ASSERT_PTR_EQUAL(b.data, data);
    CU_ASSERT_EQUAL(b.alloc, alloc);
    CU_ASSERT_EQUAL(buf_puts(&b, "new"), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "new");
    buf_free(&b);

    buf_init(&b, 100);
    buf_reset(&b); /* on a never-used buffer */
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
    buf_free(&b);
}

static void test_free_reuse(void)
{
    struct buf b;
    buf_init(&b, 100);
    CU_ASSERT_EQUAL(buf_puts(&b, "first"), 0);
    buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.alloc, 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
    CU_ASSERT_EQUAL(buf_puts(&b, "second"), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "second");
    buf_free(&b);
    buf_free(&b); /* twice is harmless */
}

static void test_detach(void)
{
    struct buf b;
    buf_init(&b, 100);
    CU_ASSERT_EQUAL(buf_puts(&b, "owned"), 0);
    char *s = buf_detach(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "owned");
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
    /* The buffer is usable again and does not share the detached memory. */
    CU_ASSERT_EQUAL(buf_puts(&b, "again"), 0);
    CU_ASSERT_STRING_EQUAL(s, "owned");
    free(s);
    buf_free(&b);

    /* An empty buffer detaches to an allocated "". */
    buf_init(&b, 100);
    s = buf_detach(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
}

static const struct test_case TESTS[] = {
    {"init allocates nothing", test_init_empty},
    {"append, puts, putc, printf", test_append},
    {"binary content", test_binary},
    {"cap refuses and keeps content", test_cap},
    {"growth up to the cap", test_growth},
    {"printf of a long string", test_printf_large},
    {"reset keeps the allocation", test_reset},
    {"free and reuse", test_free_reuse},
    {"detach hands over the memory", test_detach},
    {NULL, NULL},
};

#include "testmain.h"
