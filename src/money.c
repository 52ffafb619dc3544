#include "money.h"

#include <json-c/json.h>
#include <string.h>

/* DECIMAL(10,2): at most 8 digits before the point. */
#define MONEY_INT_DIGITS 8

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int money_parse(const char *s, size_t len, enum money_sign sign, int64_t *cents)
{
    size_t i = 0;
    int negative = 0;

    if (s == NULL || len == 0)
        return -1;
    if (s[0] == '-') {
        if (sign != MONEY_ALLOW_NEGATIVE)
            return -1;
        negative = 1;
        i = 1;
    }

    /* Integer part: at least one digit. Leading zeros are skipped before
     * counting, so "00012.30" is fine, while the count of significant digits
     * bounds the value long before int64_t could overflow. */
    size_t start = i;
    int significant = 0;
    int64_t units = 0;
    for (; i < len && is_digit(s[i]); i++) {
        if (significant == 0 && s[i] == '0')
            continue;
        if (++significant > MONEY_INT_DIGITS)
            return -1;
        units = units * 10 + (s[i] - '0');
    }
    if (i == start)
        return -1;

    /* Optional fraction: a point must be followed by one or two digits. */
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t fstart = i;
        for (; i < len && is_digit(s[i]); i++) {
            if (i - fstart >= 2)
                return -1;
            frac = frac * 10 + (s[i] - '0');
        }
        if (i == fstart)
            return -1;
        if (i - fstart == 1)
            frac *= 10;
    }
    if (i != len)
        return -1;

    int64_t v = units * 100 + frac;
    if (v > MONEY_MAX_CENTS)
        return -1;
    *cents = negative ? -v : v;
    return 0;
}

int money_parse_str(const char *s, enum money_sign sign, int64_t *cents)
{
    if (s == NULL)
        return -1;
    return money_parse(s, strlen(s), sign, cents);
}

char *money_format(int64_t cents, char out[MONEY_STR_MAX])
{
    /* Work on the magnitude as unsigned so that INT64_MIN formats too. */
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    char tmp[MONEY_STR_MAX];
    size_t n = 0;

    tmp[n++] = (char)('0' + mag % 10);
    mag /= 10;
    tmp[n++] = (char)('0' + mag % 10);
    mag /= 10;
    tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag > 0);
    if (cents < 0)
        tmp[n++] = '-';

    for (size_t k = 0; k < n; k++)
        out[k] = tmp[n - 1 - k];
    out[n] = '\0';
    return out;
}

static int in_bounds(int64_t v)
{
    return v >= -MONEY_MAX_CENTS && v <= MONEY_MAX_CENTS;
}

int money_mul(int64_t cents, int64_t n, int64_t *out)
{
    if (!in_bounds(cents))
        return -1;
    if (cents == 0 || n == 0) {
        *out = 0;
        return 0;
    }
    uint64_t ac = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    uint64_t an = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    /* Divide instead of multiplying so the check itself cannot overflow. */
    if (an > (uint64_t)MONEY_MAX_CENTS / ac)
        return -1;
    int64_t mag = (int64_t)(ac * an);
    *out = ((cents < 0) != (n < 0)) ? -mag : mag;
    return 0;
}

int money_add(int64_t a, int64_t b, int64_t *out)
{
    /* Both within +-MONEY_MAX_CENTS, so the sum is far from int64_t's edge. */
    if (!in_bounds(a) || !in_bounds(b))
        return -1;
    int64_t sum = a + b;
    if (!in_bounds(sum))
        return -1;
    *out = sum;
    return 0;
}

void money_json_add(struct json_object *o, const char *key, int64_t cents)
{
    char s[MONEY_STR_MAX];
    json_object_object_add(o, key, json_object_new_string(money_format(cents, s)));
}
