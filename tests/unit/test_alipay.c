#define SUITE_NAME "alipay"
static int suite_init(void);
static int suite_cleanup(void);
#define SUITE_INIT    suite_init
#define SUITE_CLEANUP suite_cleanup
#include "testmain.h"

#include "alipay.h"

#include <CUnit/CUnit.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Two provider keys (the second plays an impostor), made once per run. */
static EVP_PKEY *key_a, *key_b;
static EVP_PKEY *pub_a; /* key_a's public half only, as loaded from PEM */
static char tmpdir[] = "/tmp/test_alipay.XXXXXX";

static int write_pem(const char *name, EVP_PKEY *k, int private)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    BIO *b = BIO_new_file(path, "w");
    if (b == NULL)
        return -1;
    int ok = private ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_bio_PUBKEY(b, k);
    BIO_free(b);
    return ok == 1 ? 0 : -1;
}

static int suite_init(void)
{
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    key_a = EVP_RSA_gen(2048);
    key_b = EVP_RSA_gen(2048);
    if (key_a == NULL || key_b == NULL)
        return -1;
    if (write_pem("a_private.pem", key_a, 1) != 0 || write_pem("a_public.pem", key_a, 0) != 0)
        return -1;
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/a_public.pem", tmpdir);
    pub_a = alipay_load_public_key(path, err, sizeof err);
    return pub_a ? 0 : -1;
}

static int suite_cleanup(void)
{
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    EVP_PKEY_free(pub_a);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A notification as Alipay sends it, without sign. */
static void notification(struct alipay_params *ps)
{
    static const char *const kv[][2] = {
        {"notify_time", "2026-11-26 13:40:01"},
        {"notify_type", "trade_status_sync"},
        {"notify_id", "ac05099524730693a8b330c5ecf72da9786"},
        {"app_id", "2026000000000001"},
        {"charset", "utf-8"},
        {"version", "1.0"},
        {"trade_no", "2026112622001400001234567890"},
        {"out_trade_no", "7391234567890123456"},
        {"trade_status", "TRADE_SUCCESS"},
        {"total_amount", "88.00"},
        {"receipt_amount", "88.00"},
        {"buyer_pay_amount", "88.00"},
        {"seller_id", "2088000000000001"},
        {"buyer_id", "2088102000000001"},
        {"subject", "Green tea & cups +2 (红茶)"},
        {"gmt_create", "2026-11-26 13:39:50"},
        {"gmt_payment", "2026-11-26 13:40:00"},
    };
    alipay_params_init(ps);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        CU_ASSERT_EQUAL_FATAL(alipay_params_add(ps, kv[i][0], kv[i][1]), ALIPAY_OK);
}

static void signed_notification(struct alipay_params *ps)
{
    notification(ps);
    CU_ASSERT_EQUAL_FATAL(alipay_params_sign(key_a, ps), 0);
}

static void test_round_trip(void)
{
    struct alipay_params ps;
    signed_notification(&ps);
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "sign_type"), "RSA2");
    CU_ASSERT_PTR_NOT_NULL(alipay_params_get(&ps, "sign"));
    CU_ASSERT_EQUAL(strlen(alipay_params_get(&ps, "sign")), 344); /* 256 bytes in base64 */
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 1);
    CU_ASSERT_EQUAL(alipay_verify(key_a, &ps), 1); /* a private key holds its public half */

    /* Through the wire: encode, parse back, verify. */
    struct buf body;
    buf_init(&body, ALIPAY_FORM_MAX);
    CU_ASSERT_EQUAL(alipay_params_encode(&ps, &body), 0);
    struct alipay_params back;
    alipay_params_init(&back);
    CU_ASSERT_EQUAL(alipay_params_parse_form(body.data, body.len, &back), ALIPAY_OK);
    CU_ASSERT_EQUAL(back.n, ps.n);
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&back, "subject"), "Green tea & cups +2 (红茶)");
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &back), 1);
    alipay_params_free(&back);
    buf_free(&body);
    alipay_params_free(&ps);
}

static void test_tampered_amount(void)
{
    struct alipay_params ps;
    signed_notification(&ps);
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "total_amount", "0.01"), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "total_amount", "88.00"), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 1);
    /* An added parameter is tampering too. */
    CU_ASSERT_EQUAL(alipay_params_add(&ps, "refund_fee", "88.00"), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    alipay_params_free(&ps);
}

static void test_other_key(void)
{
    struct alipay_params ps;
    notification(&ps);
    CU_ASSERT_EQUAL(alipay_params_sign(key_b, &ps), 0);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    CU_ASSERT_EQUAL(alipay_verify(key_b, &ps), 1);
    alipay_params_free(&ps);
}

static void test_sign_missing_or_wrong_type(void)
{
    struct alipay_params ps;
    signed_notification(&ps);
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "sign_type", "RSA"), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "sign_type", "rsa2"), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    alipay_params_remove(&ps, "sign_type");
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "sign_type", "RSA2"), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 1);
    alipay_params_remove(&ps, "sign");
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    CU_ASSERT_EQUAL(alipay_params_add(&ps, "sign", ""), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    alipay_params_free(&ps);
}

static void test_bad_base64(void)
{
    struct alipay_params ps;
    signed_notification(&ps);
    char good[ALIPAY_SIGN_MAX], bad[ALIPAY_SIGN_MAX + 8];
    snprintf(good, sizeof good, "%s", alipay_params_get(&ps, "sign"));
    size_t len = strlen(good);
    const char *variants[6];
    char v0[ALIPAY_SIGN_MAX], v1[ALIPAY_SIGN_MAX], v2[ALIPAY_SIGN_MAX], v3[ALIPAY_SIGN_MAX];
    snprintf(v0, sizeof v0, "%.*s", (int)(len - 4), good); /* truncated by a quad */
    snprintf(v1, sizeof v1, "%.*s", (int)(len - 1), good); /* not whole quads */
    snprintf(v2, sizeof v2, "%s", good);
    v2[10] = '*'; /* outside the alphabet */
    snprintf(v3, sizeof v3, "%s", good);
    v3[10] = '='; /* padding in the middle */
    snprintf(bad, sizeof bad, "%s====", good);
    variants[0] = v0;
    variants[1] = v1;
    variants[2] = v2;
    variants[3] = v3;
    variants[4] = bad;
    variants[5] = "====";
    for (size_t i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(alipay_params_set(&ps, "sign", variants[i]), ALIPAY_OK);
        CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    }
    /* A space where '+' was (a form decoded twice) is not silently repaired. */
    char *plus = strchr(good, '+');
    if (plus != NULL) {
        snprintf(v0, sizeof v0, "%s", good);
        v0[plus - good] = ' ';
        CU_ASSERT_EQUAL(alipay_params_set(&ps, "sign", v0), ALIPAY_OK);
        CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    }
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "sign", good), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 1);
    alipay_params_free(&ps);
}

/* Rebuild a form by hand: reversed order, '+' or %20 for spaces, hex in
 * either case; all of them verify. */
static void append_encoded(struct buf *b, const char *s, int style)
{
    static const char upper[] = "0123456789ABCDEF", lower[] = "0123456789abcdef";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' && style == 0)
            buf_putc(b, '+');
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            buf_putc(b, (char)c);
        else if (c == ':' && style == 1)
            buf_putc(b, ':'); /* left unencoded, as some encoders do */
        else
            buf_printf(b, "%%%c%c", (style ? lower : upper)[c >> 4],
                       (style ? lower : upper)[c & 15]);
    }
}

static void test_reordered_and_encoded_differently(void)
{
    struct alipay_params ps;
    signed_notification(&ps);
    for (int style = 0; style < 2; style++) {
        struct buf b;
        buf_init(&b, ALIPAY_FORM_MAX);
        for (size_t i = ps.n; i-- > 0;) {
            append_encoded(&b, ps.p[i].key, style);
            buf_putc(&b, '=');
            append_encoded(&b, ps.p[i].value, style);
            if (i > 0)
                buf_putc(&b, '&');
        }
        CU_ASSERT_PTR_NOT_NULL(strstr(b.data, style ? "%e7%ba%a2" : "%E7%BA%A2"));
        struct alipay_params back;
        alipay_params_init(&back);
        CU_ASSERT_EQUAL_FATAL(alipay_params_parse_form(b.data, b.len, &back), ALIPAY_OK);
        CU_ASSERT_STRING_EQUAL(alipay_params_get(&back, "notify_time"), "2026-11-26 13:40:01");
        CU_ASSERT_EQUAL(alipay_verify(pub_a, &back), 1);
        alipay_params_free(&back);
        buf_free(&b);
    }
    alipay_params_free(&ps);
}

static void test_empty_values_skipped(void)
{
    struct alipay_params ps;
    struct buf s1, s2;
    buf_init(&s1, ALIPAY_FORM_MAX);
    buf_init(&s2, ALIPAY_FORM_MAX);
    signed_notification(&ps);
    CU_ASSERT_EQUAL(alipay_signing_string(&ps, &s1), 0);
    CU_ASSERT_EQUAL(alipay_params_add(&ps, "body", ""), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_params_add(&ps, "passback_params", ""), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_signing_string(&ps, &s2), 0);
    CU_ASSERT_STRING_EQUAL(s1.data, s2.data);
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 1);
    /* ... and a form with "body=" or just "body" still verifies. */
    struct buf b;
    buf_init(&b, ALIPAY_FORM_MAX);
    CU_ASSERT_EQUAL(alipay_params_encode(&ps, &b), 0);
    CU_ASSERT_EQUAL(buf_puts(&b, "&fund_bill_list&&"), 0);
    struct alipay_params back;
    alipay_params_init(&back);
    CU_ASSERT_EQUAL(alipay_params_parse_form(b.data, b.len, &back), ALIPAY_OK);
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&back, "fund_bill_list"), "");
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &back), 1);
    alipay_params_free(&back);
    buf_free(&b);
    buf_free(&s1);
    buf_free(&s2);
    alipay_params_free(&ps);
}

static void test_known_vector(void)
{
    static const char form[] =
        "total_amount=88.00&sign_type=RSA2&subject=Tea+%26+cups&app_id=2026000000000001"
        "&out_trade_no=42&body=&trade_status=TRADE_SUCCESS&sign=AAAA&Zeta=1&charset=utf-8"
        "&gmt_payment=2026-11-26%2013%3A40%3A00&a_b=x%3Dy";
    static const char expected[] =
        "Zeta=1&a_b=x=y&app_id=2026000000000001&charset=utf-8&gmt_payment=2026-11-26 13:40:00"
        "&out_trade_no=42&subject=Tea & cups&total_amount=88.00&trade_status=TRADE_SUCCESS";
    static const char expected_request[] =
        "Zeta=1&a_b=x=y&app_id=2026000000000001&charset=utf-8&gmt_payment=2026-11-26 13:40:00"
        "&out_trade_no=42&sign_type=RSA2&subject=Tea & cups&total_amount=88.00"
        "&trade_status=TRADE_SUCCESS";
    struct alipay_params ps;
    struct buf s;
    alipay_params_init(&ps);
    buf_init(&s, ALIPAY_FORM_MAX);
    CU_ASSERT_EQUAL_FATAL(alipay_params_parse_form(form, strlen(form), &ps), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_signing_string(&ps, &s), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&s), expected);
    CU_ASSERT_EQUAL(alipay_request_signing_string(&ps, &s), 0);
    CU_ASSERT_STRING_EQUAL(buf_str(&s), expected_request);
    buf_free(&s);
    alipay_params_free(&ps);
}

static void test_parse_refusals(void)
{
    struct alipay_params ps;
    alipay_params_init(&ps);
    static const struct {
        const char *form;
        int rc;
    } cases[] = {
        {"a=1&a=2", ALIPAY_ERR_DUPLICATE}, {"a=1&b=2&a=1", ALIPAY_ERR_DUPLICATE},
        {"a=%", ALIPAY_ERR_MALFORMED},     {"a=%4", ALIPAY_ERR_MALFORMED},
        {"a=%zz", ALIPAY_ERR_MALFORMED},   {"a=%4g", ALIPAY_ERR_MALFORMED},
        {"a=x%00y", ALIPAY_ERR_MALFORMED}, {"%=1", ALIPAY_ERR_MALFORMED},
        {"=1", ALIPAY_ERR_MALFORMED},      {"a=1&=2", ALIPAY_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CU_ASSERT_EQUAL(alipay_params_parse_form(cases[i].form, strlen(cases[i].form), &ps),
                        cases[i].rc);
        CU_ASSERT_EQUAL(ps.n, 0); /* left empty on failure */
    }

    /* A NUL byte inside the body is refused, not a terminator. */
    CU_ASSERT_EQUAL(alipay_params_parse_form("a=1\0b=2", 7, &ps), ALIPAY_ERR_MALFORMED);

    /* Caps: 64 pairs pass, 65 do not; key 64 / value 4096 bytes pass, one more does not. */
    struct buf b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 64; i++)
        buf_printf(&b, "%sk%d=v", i ? "&" : "", i);
    CU_ASSERT_EQUAL(alipay_params_parse_form(b.data, b.len, &ps), ALIPAY_OK);
    CU_ASSERT_EQUAL(ps.n, 64);
    alipay_params_free(&ps);
    buf_puts(&b, "&k64=v");
    CU_ASSERT_EQUAL(alipay_params_parse_form(b.data, b.len, &ps), ALIPAY_ERR_TOO_MANY);
    CU_ASSERT_EQUAL(ps.n, 0);

    char key[80], value[4200];
    memset(key, 'k', 64);
    key[64] = '\0';
    memset(value, 'v', 4096);
    value[4096] = '\0';
    buf_reset(&b);
    buf_printf(&b, "%s=%s", key, value);
    CU_ASSERT_EQUAL(alipay_params_parse_form(b.data, b.len, &ps), ALIPAY_OK);
    CU_ASSERT_EQUAL(strlen(alipay_params_get(&ps, key)), 4096);
    alipay_params_free(&ps);
    buf_reset(&b);
    buf_printf(&b, "%sk=%s", key, "v");
    CU_ASSERT_EQUAL(alipay_params_parse_form(b.data, b.len, &ps), ALIPAY_ERR_TOO_LONG);
    buf_reset(&b);
    buf_printf(&b, "k=%sv", value);
    CU_ASSERT_EQUAL(alipay_params_parse_form(b.data, b.len, &ps), ALIPAY_ERR_TOO_LONG);
    /* The cap is on the decoded value: 4096 encoded as %XX passes. */
    buf_reset(&b);
    buf_puts(&b, "k=");
    for (int i = 0; i < 4096; i++)
        buf_puts(&b, "%41");
    CU_ASSERT_EQUAL(alipay_params_parse_form(b.data, b.len, &ps), ALIPAY_OK);
    alipay_params_free(&ps);
    buf_free(&b);

    /* The API refuses what the parser refuses. */
    CU_ASSERT_EQUAL(alipay_params_add(&ps, "", "x"), ALIPAY_ERR_MALFORMED);
    CU_ASSERT_EQUAL(alipay_params_add(&ps, "a", "1"), ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_params_add(&ps, "a", "2"), ALIPAY_ERR_DUPLICATE);
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "a", "2"), ALIPAY_OK);
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "a"), "2");
    CU_ASSERT_PTR_NULL(alipay_params_get(&ps, "b"));
    alipay_params_free(&ps);
}

static void test_parse_accepts(void)
{
    static const char form[] = "a=x+y&b=x%20y&c=%2b%2B&d&e=&f=%E7%BA%A2&&g==";
    struct alipay_params ps;
    alipay_params_init(&ps);
    CU_ASSERT_EQUAL_FATAL(alipay_params_parse_form(form, strlen(form), &ps), ALIPAY_OK);
    CU_ASSERT_EQUAL(ps.n, 7);
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "a"), "x y");
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "b"), "x y");
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "c"), "++");
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "d"), "");
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "e"), "");
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "f"), "红");
    CU_ASSERT_STRING_EQUAL(alipay_params_get(&ps, "g"), "=");
    struct buf b;
    buf_init(&b, 4096);
    CU_ASSERT_EQUAL(alipay_params_encode(&ps, &b), 0);
    CU_ASSERT_STRING_EQUAL(b.data, "a=x%20y&b=x%20y&c=%2B%2B&d=&e=&f=%E7%BA%A2&g=%3D");
    buf_free(&b);
    alipay_params_free(&ps);
}

static void test_page_pay_url(void)
{
    struct alipay_page_pay req = {
        .gateway = "http://127.0.0.1:8081/gateway.do",
        .app_id = "2026000000000001",
        .notify_url = "http://127.0.0.1:8080/pay/notify/alipay",
        .return_url = "http://127.0.0.1:8080/pay/return/alipay?x=1",
        .out_trade_no = "7391234567890123456",
        .subject = "Order 42: \"tea\" & cups / 红茶",
        .total_cents = 8800,
        .now = 1795596000, /* 2026-11-25 08:40:00 UTC */
        .utc_offset_s = 0,
    };
    struct buf url;
    buf_init(&url, 64 * 1024);
    CU_ASSERT_EQUAL_FATAL(alipay_page_pay_url(key_a, &req, &url), 0);
    const char *u = buf_str(&url);
    CU_ASSERT_EQUAL(strncmp(u, "http://127.0.0.1:8081/gateway.do?", 33), 0);
    CU_ASSERT_PTR_NULL(strchr(u, ' '));
    CU_ASSERT_PTR_NULL(strchr(u, '"'));
    CU_ASSERT_PTR_NOT_NULL(strstr(u, "method=alipay.trade.page.pay&"));
    CU_ASSERT_PTR_NOT_NULL(strstr(u, "timestamp=2026-11-25%2008%3A40%3A00&"));
    CU_ASSERT_PTR_NOT_NULL(strstr(u, "return_url=http%3A%2F%2F127.0.0.1%3A8080%2Fpay%2Freturn"
                                     "%2Falipay%3Fx%3D1&"));

    struct alipay_params ps;
    alipay_params_init(&ps);
    const char *q = strchr(u, '?') + 1;
    CU_ASSERT_EQUAL_FATAL(alipay_params_parse_form(q, strlen(q), &ps), ALIPAY_OK);
    static const char *const want[][2] = {
        {"app_id", "2026000000000001"},
        {"method", "alipay.trade.page.pay"},
        {"format", "JSON"},
        {"charset", "utf-8"},
        {"sign_type", "RSA2"},
        {"timestamp", "2026-11-25 08:40:00"},
        {"version", "1.0"},
        {"notify_url", "http://127.0.0.1:8080/pay/notify/alipay"},
        {"return_url", "http://127.0.0.1:8080/pay/return/alipay?x=1"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = alipay_params_get(&ps, want[i][0]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(v);
        CU_ASSERT_STRING_EQUAL(v, want[i][1]);
    }
    CU_ASSERT_EQUAL(ps.n, 11); /* the above, biz_content and sign */
    json_object *biz = json_tokener_parse(alipay_params_get(&ps, "biz_content"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(biz);
    json_object *v;
    CU_ASSERT(json_object_object_get_ex(biz, "out_trade_no", &v) &&
              strcmp(json_object_get_string(v), "7391234567890123456") == 0);
    CU_ASSERT(json_object_object_get_ex(biz, "product_code", &v) &&
              strcmp(json_object_get_string(v), "FAST_INSTANT_TRADE_PAY") == 0);
    CU_ASSERT(json_object_object_get_ex(biz, "total_amount", &v) &&
              json_object_is_type(v, json_type_string) &&
              strcmp(json_object_get_string(v), "88.00") == 0);
    CU_ASSERT(json_object_object_get_ex(biz, "subject", &v) &&
              strcmp(json_object_get_string(v), req.subject) == 0);
    CU_ASSERT_FALSE(json_object_object_get_ex(biz, "time_expire", &v)); /* none given */
    json_object_put(biz);

    CU_ASSERT_EQUAL(alipay_verify_request(pub_a, &ps), 1);
    CU_ASSERT_EQUAL(alipay_verify_request(key_b, &ps), 0);
    /* The request string keeps sign_type: the notification rule does not match. */
    CU_ASSERT_EQUAL(alipay_verify(pub_a, &ps), 0);
    CU_ASSERT_EQUAL(alipay_params_set(&ps, "biz_content",
                                      "{\"out_trade_no\":\"7391234567890123456\","
                                      "\"product_code\":\"FAST_INSTANT_TRADE_PAY\","
                                      "\"total_amount\":\"0.01\",\"subject\":\"x\"}"),
                    ALIPAY_OK);
    CU_ASSERT_EQUAL(alipay_verify_request(pub_a, &ps), 0);
    alipay_params_free(&ps);

    /* Beijing time when asked; refusals leave out empty. */
    req.utc_offset_s = 8 * 3600;
    CU_ASSERT_EQUAL(alipay_page_pay_url(key_a, &req, &url), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&url), "timestamp=2026-11-25%2016%3A40%3A00&"));
    req.total_cents = 0;
    CU_ASSERT_EQUAL(alipay_page_pay_url(key_a, &req, &url), -1);
    CU_ASSERT_EQUAL(url.len, 0);
    req.total_cents = 8800;
    req.out_trade_no = "";
    CU_ASSERT_EQUAL(alipay_page_pay_url(key_a, &req, &url), -1);
    buf_free(&url);
}

static void test_page_pay_time_expire(void)
{
    struct alipay_page_pay req = {
        .gateway = "http://127.0.0.1:8081/gateway.do",
        .app_id = "2026000000000001",
        .out_trade_no = "7391234567890123456",
        .subject = "Order",
        .total_cents = 8800,
        .now = 1795596000,                /* 2026-11-25 08:40:00 UTC */
        .time_expire = 1795596000 + 1800, /* 2026-11-25 09:10:00 UTC */
    };
    struct buf url;
    struct alipay_params ps;
    json_object *v;
    buf_init(&url, 64 * 1024);
    alipay_params_init(&ps);
    CU_ASSERT_EQUAL_FATAL(alipay_page_pay_url(key_a, &req, &url), 0);
    const char *q = strchr(buf_str(&url), '?') + 1;
    CU_ASSERT_EQUAL_FATAL(alipay_params_parse_form(q, strlen(q), &ps), ALIPAY_OK);
    json_object *biz = json_tokener_parse(alipay_params_get(&ps, "biz_content"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(biz);
    CU_ASSERT(json_object_object_get_ex(biz, "time_expire", &v) &&
              strcmp(json_object_get_string(v), "2026-11-25 09:10:00") == 0);
    /* Signed with the rest: the provider sees the expiry we meant. */
    CU_ASSERT_EQUAL(alipay_verify_request(pub_a, &ps), 1);
    json_object_put(biz);
    alipay_params_free(&ps);
    buf_free(&url);
}

static void test_load_keys(void)
{
    char path[256], err[256];
    EVP_PKEY *k;

    snprintf(path, sizeof path, "%s/a_private.pem", tmpdir);
    k = alipay_load_private_key(path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(k);
    char sig[ALIPAY_SIGN_MAX];
    CU_ASSERT_EQUAL(alipay_sign(k, "abc", 3, sig, sizeof sig), 0);
    CU_ASSERT_EQUAL(alipay_verify_data(pub_a, "abc", 3, sig), 1);
    CU_ASSERT_EQUAL(alipay_verify_data(pub_a, "abd", 3, sig), 0);
    CU_ASSERT_EQUAL(alipay_sign(k, "abc", 3, sig, 100), -1); /* output too small */
    EVP_PKEY_free(k);

    snprintf(path, sizeof path, "%s/missing.pem", tmpdir);
    CU_ASSERT_PTR_NULL(alipay_load_private_key(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open private key"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));

    /* A public key where a private one belongs, and the other way round. */
    snprintf(path, sizeof path, "%s/a_public.pem", tmpdir);
    CU_ASSERT_PTR_NULL(alipay_load_private_key(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a PEM private key"));
    snprintf(path, sizeof path, "%s/a_private.pem", tmpdir);
    CU_ASSERT_PTR_NULL(alipay_load_public_key(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a PEM public key"));

    /* Not PEM at all. */
    snprintf(path, sizeof path, "%s/junk.pem", tmpdir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("hello\n", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(alipay_load_public_key(path, err, sizeof err));

    /* Too short for RSA2, and not RSA. */
    EVP_PKEY *small = EVP_RSA_gen(1024);
    CU_ASSERT_EQUAL_FATAL(write_pem("small.pem", small, 0), 0);
    EVP_PKEY_free(small);
    snprintf(path, sizeof path, "%s/small.pem", tmpdir);
    CU_ASSERT_PTR_NULL(alipay_load_public_key(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "1024-bit"));
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    CU_ASSERT_EQUAL_FATAL(write_pem("ec.pem", ec, 1), 0);
    EVP_PKEY_free(ec);
    snprintf(path, sizeof path, "%s/ec.pem", tmpdir);
    CU_ASSERT_PTR_NULL(alipay_load_private_key(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not an RSA key"));
}

static void test_timestamp(void)
{
    char ts[ALIPAY_TIMESTAMP_LEN];
    alipay_timestamp(0, 0, ts);
    CU_ASSERT_STRING_EQUAL(ts, "1970-01-01 00:00:00");
    alipay_timestamp(1795596000, 28800, ts);
    CU_ASSERT_STRING_EQUAL(ts, "2026-11-25 16:40:00");
}

static void test_url_origin(void)
{
    static const struct {
        const char *url, *origin;
    } ok[] = {
        {"http://127.0.0.1:8081/gateway.do", "http://127.0.0.1:8081"},
        {"https://openapi.alipay.com/gateway.do?charset=utf-8", "https://openapi.alipay.com"},
        {"http://localhost", "http://localhost"},
        {"http://[::1]:8081/x", "http://[::1]:8081"},
        {"http://shop.example:80?x", "http://shop.example:80"},
    };
    static const char *const bad[] = {
        "ftp://x/",
        "http://",
        "http:///x",
        "http://a b/",
        "http://x:/",
        "http://x:123456/",
        "http://x\r\nSet-Cookie: a=b",
        "javascript:alert(1)",
        "http://[]/",
        "http://x@y/",
    };
    char out[128];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CU_ASSERT_EQUAL(alipay_url_origin(ok[i].url, out, sizeof out), 0);
        CU_ASSERT_STRING_EQUAL(out, ok[i].origin);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(alipay_url_origin(bad[i], out, sizeof out), -1);
        CU_ASSERT_STRING_EQUAL(out, "");
    }
    CU_ASSERT_EQUAL(alipay_url_origin("http://127.0.0.1:8081/", out, 10), -1);
}

/* One key, many threads: every verification must come out right. */
struct verify_job {
    const struct alipay_params *ps;
    int good;
};

static void *verify_many(void *arg)
{
    struct verify_job *job = arg;
    for (int i = 0; i < 40; i++)
        job->good += alipay_verify(pub_a, job->ps);
    return NULL;
}

static void test_threads_share_a_key(void)
{
    struct alipay_params ps;
    signed_notification(&ps);
    pthread_t t[4];
    struct verify_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct verify_job){&ps, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, verify_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(jobs[i].good, 40);
    }
    alipay_params_free(&ps);
}

/* An answer of the open API signed by the sandbox's code opens with the
 * provider's public key; a changed byte, another key or a missing sign do
 * not; the signed bytes are the response object exactly as it appears. */
static void test_response_round_trip(void)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    json_object *o = json_tokener_parse("{\"code\":\"10000\",\"msg\":\"Success\","
                                        "\"trade_status\":\"TRADE_SUCCESS\","
                                        "\"total_amount\":\"88.00\",\"note\":\"a \\\"}\\\" b\"}");
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_EQUAL_FATAL(alipay_response_build(key_a, "alipay.trade.query", o, &b), 0);
    CU_ASSERT(strncmp(buf_str(&b), "{\"alipay_trade_query_response\":{", 32) == 0);
    json_object *got = NULL;
    CU_ASSERT_EQUAL(alipay_response_open(pub_a, "alipay.trade.query", b.data, b.len, &got),
                    ALIPAY_ANSWER_OK);
    CU_ASSERT_FATAL(got != NULL);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_object_get(got, "total_amount")),
                           "88.00");
    CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_object_get(got, "note")),
                           "a \"}\" b");
    json_object_put(got);
    /* Another method's key: not this answer. */
    CU_ASSERT_EQUAL(alipay_response_open(pub_a, "alipay.trade.close", b.data, b.len, &got),
                    ALIPAY_ANSWER_MALFORMED);
    CU_ASSERT(got == NULL);
    /* Another key. */
    CU_ASSERT_EQUAL(alipay_response_open(key_b, "alipay.trade.query", b.data, b.len, &got),
                    ALIPAY_ANSWER_BAD_SIGN);
    /* One byte of the amount changed. */
    char *t = strdup(buf_str(&b));
    char *amt = strstr(t, "88.00");
    CU_ASSERT_FATAL(amt != NULL);
    amt[0] = '9';
    CU_ASSERT_EQUAL(alipay_response_open(pub_a, "alipay.trade.query", t, strlen(t), &got),
                    ALIPAY_ANSWER_BAD_SIGN);
    CU_ASSERT(got == NULL);
    free(t);
    /* Whitespace around the members (as a pretty-printing gateway sends)
     * keeps the signed bytes of the object itself. */
    const char *text =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    char sig[ALIPAY_SIGN_MAX];
    CU_ASSERT_EQUAL_FATAL(alipay_sign(key_a, text, strlen(text), sig, sizeof sig), 0);
    struct buf spaced;
    buf_init(&spaced, 1 << 16);
    CU_ASSERT_EQUAL(
        buf_printf(&spaced, "{\n  \"sign\" : \"%s\",\n  \"alipay_trade_query_response\" :  %s\n}\n",
                   sig, text),
        0);
    CU_ASSERT_EQUAL(
        alipay_response_open(pub_a, "alipay.trade.query", spaced.data, spaced.len, &got),
        ALIPAY_ANSWER_OK);
    CU_ASSERT(got != NULL);
    json_object_put(got);
    buf_free(&spaced);
    json_object_put(o);
    buf_free(&b);
}

static void test_response_refusals(void)
{
    json_object *got = (json_object *)1;
    static const char *const bad[] = {
        "",
        "[]",
        "{",
        "{\"alipay_trade_query_response\":{\"code\":\"10000\"}",
        "null",
        "{\"alipay_trade_query_response\":{\"code\":\"10000\"}} trailing",
        "{\"alipay_trade_query_response\":\"text\",\"sign\":\"AAAA\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(
            alipay_response_open(pub_a, "alipay.trade.query", bad[i], strlen(bad[i]), &got),
            ALIPAY_ANSWER_MALFORMED);
        CU_ASSERT(got == NULL);
    }
    /* The answer without a sign is not trusted. */
    const char *unsigned_ok = "{\"alipay_trade_query_response\":{\"code\":\"10000\"}}";
    CU_ASSERT_EQUAL(
        alipay_response_open(pub_a, "alipay.trade.query", unsigned_ok, strlen(unsigned_ok), &got),
        ALIPAY_ANSWER_BAD_SIGN);
    CU_ASSERT(got == NULL);
    /* An unsigned error_response (our request refused) is returned as such. */
    const char *err = "{ \"error_response\" : {\"code\":\"40002\",\"sub_code\":"
                      "\"isv.invalid-signature\"} }";
    CU_ASSERT_EQUAL(alipay_response_open(pub_a, "alipay.trade.query", err, strlen(err), &got),
                    ALIPAY_ANSWER_UNSIGNED_ERROR);
    CU_ASSERT_FATAL(got != NULL);
    CU_ASSERT_STRING_EQUAL(json_object_get_string(json_object_object_get(got, "code")), "40002");
    json_object_put(got);
    char key[80];
    CU_ASSERT_EQUAL(alipay_response_key("alipay.trade.fastpay.refund.query", key, sizeof key), 0);
    CU_ASSERT_STRING_EQUAL(key, "alipay_trade_fastpay_refund_query_response");
    CU_ASSERT_EQUAL(alipay_response_key("a\"b", key, sizeof key), -1);
    CU_ASSERT_EQUAL(alipay_response_key("", key, sizeof key), -1);
    CU_ASSERT_EQUAL(alipay_response_key("alipay.trade.query", key, 10), -1);
}

static const struct test_case TESTS[] = {
    {"sign and verify round trip", test_round_trip},
    {"tampered amount is invalid", test_tampered_amount},
    {"signed by another key is invalid", test_other_key},
    {"missing sign, sign_type not RSA2", test_sign_missing_or_wrong_type},
    {"bad base64 is invalid", test_bad_base64},
    {"reordered and differently encoded still valid", test_reordered_and_encoded_differently},
    {"empty values are skipped", test_empty_values_skipped},
    {"known signing string", test_known_vector},
    {"form parse refusals and caps", test_parse_refusals},
    {"form parse accepts", test_parse_accepts},
    {"page-pay URL", test_page_pay_url},
    {"page-pay URL carries the order's expiry as time_expire", test_page_pay_time_expire},
    {"key loading", test_load_keys},
    {"timestamps", test_timestamp},
    {"URL origin", test_url_origin},
    {"threads share one key", test_threads_share_a_key},
    {"open API answer round trip", test_response_round_trip},
    {"open API answer refusals", test_response_refusals},
    {NULL, NULL},
};

#include "testmain.h"
