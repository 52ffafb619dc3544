#define SUITE_NAME "mq_bundle"
#include "testmain.h"

#include "buf.h"
#include "mq_bundle.h"

#include <CUnit/CUnit.h>
#include <string.h>

/* Split a copy of s (len bytes) into parts; returns split's answer. */
static int split(const char *s, size_t len, struct mq_bundle_part *parts, size_t max, char **copy)
{
    *copy = malloc(len + 1);
    memcpy(*copy, s, len);
    (*copy)[len] = '\0';
    return mq_bundle_split(*copy, len, parts, max);
}

static void test_two_messages_round_trip(void)
{
    struct buf b;
    buf_init(&b, MQ_BUNDLE_BYTES);
    CU_ASSERT_EQUAL(mq_bundle_add(&b, "pay.n1", "{\"n\":1}", 7), 0);
    CU_ASSERT_EQUAL(mq_bundle_add(&b, "pay.n2", "{\"n\":2}", 7), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "6:pay.n1,7:{\"n\":1},6:pay.n2,7:{\"n\":2},");
    struct mq_bundle_part p[4];
    char *copy;
    CU_ASSERT_EQUAL_FATAL(split(b.data, b.len, p, 4, &copy), 2);
    CU_ASSERT_STRING_EQUAL(p[0].message_id, "pay.n1");
    CU_ASSERT_STRING_EQUAL(p[0].body, "{\"n\":1}");
    CU_ASSERT_EQUAL(p[0].len, 7);
    CU_ASSERT_STRING_EQUAL(p[1].message_id, "pay.n2");
    CU_ASSERT_STRING_EQUAL(p[1].body, "{\"n\":2}");
    free(copy);
    buf_free(&b);
}

static void test_empty_id_and_body_and_binary(void)
{
    struct buf b;
    buf_init(&b, MQ_BUNDLE_BYTES);
    CU_ASSERT_EQUAL(mq_bundle_add(&b, "", "", 0), 0);
    CU_ASSERT_EQUAL(mq_bundle_add(&b, "x", "a,b\0:c", 6), 0);
    struct mq_bundle_part p[2];
    char *copy;
    CU_ASSERT_EQUAL_FATAL(split(b.data, b.len, p, 2, &copy), 2);
    CU_ASSERT_STRING_EQUAL(p[0].message_id, "");
    CU_ASSERT_EQUAL(p[0].len, 0);
    CU_ASSERT_EQUAL(p[1].len, 6);
    CU_ASSERT_EQUAL(memcmp(p[1].body, "a,b\0:c", 6), 0);
    free(copy);
    buf_free(&b);
}

static void test_add_refuses_and_keeps_the_buffer(void)
{
    struct buf b;
    buf_init(&b, 40);
    char longid[MQ_BUNDLE_ID_MAX + 2];
    memset(longid, 'i', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CU_ASSERT_EQUAL(mq_bundle_add(&b, "a", "{}", 2), 0);
    CU_ASSERT_EQUAL(mq_bundle_add(&b, longid, "{}", 2), -1);
    CU_ASSERT_EQUAL(mq_bundle_add(&b, "b", "0123456789012345678901234567890", 31), -1);
    CU_ASSERT_STRING_EQUAL(buf_str(&b), "1:a,2:{},");
    CU_ASSERT_EQUAL(mq_bundle_add(&b, NULL, "{}", 2), -1);
    CU_ASSERT_EQUAL(mq_bundle_add(&b, "c", NULL, 1), -1);
    buf_free(&b);
}

static void test_malformed_is_refused(void)
{
    static const char *const bad[] = {
        "",                    /* nothing */
        "1:a,",                /* an id without its body */
        "1:a,2:{}",            /* no ',' after the body */
        "1:a,3:{},",           /* a length longer than the bytes */
        "1:a,1:{},",           /* a length shorter: no ',' there */
        "01:a,2:{},",          /* a leading zero */
        "1a,2:{},",            /* no ':' */
        ":a,2:{},",            /* no length */
        "12345678901:a,2:{},", /* more than 10 digits */
        "1:a,2:{},x",          /* trailing bytes */
        "-1:a,2:{},",          /* a sign */
    };
    struct mq_bundle_part p[4];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *copy;
        CU_ASSERT_EQUAL(split(bad[i], strlen(bad[i]), p, 4, &copy), -1);
        free(copy);
    }
    char *copy; /* an id holding a NUL */
    CU_ASSERT_EQUAL(split("3:a\0b,2:{},", 11, p, 4, &copy), -1);
    free(copy);
}

static void test_more_than_max_is_refused(void)
{
    struct buf b;
    buf_init(&b, MQ_BUNDLE_BYTES);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(mq_bundle_add(&b, "m", "{}", 2), 0);
    struct mq_bundle_part p[3];
    char *copy;
    CU_ASSERT_EQUAL(split(b.data, b.len, p, 2, &copy), -1);
    free(copy);
    CU_ASSERT_EQUAL(split(b.data, b.len, p, 3, &copy), 3);
    free(copy);
    buf_free(&b);
}

static const struct test_case TESTS[] = {
    {"two messages go in and come out as they were", test_two_messages_round_trip},
    {"an empty id or body, and bytes that look like marks, survive",
     test_empty_id_and_body_and_binary},
    {"a long id or a full buffer is refused and the bundle kept",
     test_add_refuses_and_keeps_the_buffer},
    {"a malformed bundle is refused", test_malformed_is_refused},
    {"more messages than the caller's room is refused", test_more_than_max_is_refused},
    {NULL, NULL},
};

#include "testmain.h"
