/* money_parse: the input is an amount. What is accepted is within the bounds,
 * has the grammar's shape, and money_format writes it back to the same
 * value; a negative amount only where negatives are allowed. */
#include <ctype.h>

#include "fuzz.h"
#include "money.h"

/* [-]DIGITS[.D{1,2}]: at least one digit, at most 8 after the leading zeros. */
static int shaped(const char *s, size_t len)
{
    size_t i = s[0] == '-' ? 1 : 0, digits = 0, significant = 0, decimals = 0;
    for (; i < len && isdigit((unsigned char)s[i]); i++, digits++)
        if (significant > 0 || s[i] != '0')
            significant++;
    if (i < len && s[i] == '.')
        for (i++; i < len && isdigit((unsigned char)s[i]); i++)
            decimals++;
    return i == len && digits >= 1 && significant <= 8 && s[len - 1] != '.' && decimals <= 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    for (int sign = MONEY_NON_NEGATIVE; sign <= MONEY_ALLOW_NEGATIVE; sign++) {
        int64_t cents = -1, back = -1;
        if (money_parse(s, size, (enum money_sign)sign, &cents) != 0)
            continue;
        FUZZ_CHECK(size > 0 && shaped(s, size));
        FUZZ_CHECK(cents >= -MONEY_MAX_CENTS && cents <= MONEY_MAX_CENTS);
        FUZZ_CHECK(sign == MONEY_ALLOW_NEGATIVE || (cents >= 0 && s[0] != '-'));
        char out[MONEY_STR_MAX];
        money_format(cents, out);
        FUZZ_CHECK(money_parse_str(out, MONEY_ALLOW_NEGATIVE, &back) == 0 && back == cents);
    }
    return 0;
}
