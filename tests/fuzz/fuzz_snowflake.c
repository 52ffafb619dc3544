/* snowflake_parse: the input is an id as paths and messages carry it. What
 * is accepted is positive and is exactly what snowflake_format writes. */
#include "fuzz.h"
#include "snowflake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t id = 0;
    if (snowflake_parse((const char *)data, size, &id) != 0)
        return 0;
    char out[SNOWFLAKE_STR_MAX];
    FUZZ_CHECK(id > 0);
    snowflake_format(id, out);
    FUZZ_CHECK(strlen(out) == size && memcmp(out, data, size) == 0);
    return 0;
}
