/* Form bodies and query strings: the first line is the field's name, the rest
 * the form. A value found fits its buffer; percent-decoding and encoding are
 * each other's inverse. */
#include "fuzz.h"
#include "http.h"

static void roundtrip(const char *s, size_t len)
{
    char dec[HTTP_FIELD_MAX], again[HTTP_FIELD_MAX];
    struct buf enc;
    long n = http_url_decode(s, len, dec, sizeof dec, 1);
    if (n < 0)
        return;
    FUZZ_CHECK((size_t)n < sizeof dec && strlen(dec) == (size_t)n);
    buf_init(&enc, 3 * sizeof dec + 1);
    FUZZ_CHECK(http_url_encode(dec, (size_t)n, "/", &enc) == 0);
    FUZZ_CHECK(http_url_decode(enc.data, enc.len, again, sizeof again, 0) == n);
    FUZZ_CHECK(memcmp(dec, again, (size_t)n) == 0);
    buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_str(data, size), *form = text;
    size_t len = size;
    const char *name = fuzz_cut(&form, &len, "\n");
    char small[8], out[HTTP_FIELD_MAX];
    int rc = http_form_get(form, len, name, out, sizeof out);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    if (rc == 1)
        FUZZ_CHECK(strlen(out) < sizeof out);
    if (http_form_get(form, len, name, small, sizeof small) == 1) {
        FUZZ_CHECK(rc == 1 && strlen(small) < sizeof small);
        FUZZ_CHECK(strcmp(small, out) == 0);
    }
    roundtrip(form, len);
    free(text);
    return 0;
}
