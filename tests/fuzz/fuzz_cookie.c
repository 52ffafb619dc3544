/* Cookies: the first line is the cookie's name, the rest the Cookie header.
 * A value found fits its buffer, the same in a small and a large one. */
#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_str(data, size), *header = text;
    size_t len = size;
    const char *name = fuzz_cut(&header, &len, "\n");
    char small[8], out[HTTP_FIELD_MAX];
    int rc = http_cookie_get(header, name, out, sizeof out);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    if (rc == 1)
        FUZZ_CHECK(strlen(out) < sizeof out);
    if (http_cookie_get(header, name, small, sizeof small) == 1)
        FUZZ_CHECK(rc == 1 && strcmp(small, out) == 0);
    free(text);
    return 0;
}
