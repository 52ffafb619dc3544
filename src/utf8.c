#include "utf8.h"

#include <string.h>

int utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    if (len == 0)
        return -1;
    unsigned char c = (unsigned char)s[0];
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        v = c & 0x1F;
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        v = c & 0x0F;
        n = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
        v = c & 0x07;
        n = 4;
    } else {
        return -1; /* a continuation byte, C0/C1 (overlong) or F5..FF */
    }
    if (n > len)
        return -1;
    for (size_t k = 1; k < n; k++) {
        unsigned char cc = (unsigned char)s[k];
        if ((cc & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (cc & 0x3F);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF))
        return -1;
    *cp = v;
    return (int)n;
}

int utf8_valid(const char *s, size_t len)
{
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        int n = utf8_decode(s + i, len - i, &cp);
        if (n < 0)
            return 0;
        i += (size_t)n;
    }
    return 1;
}

size_t utf8_boundary(const char *s, size_t len)
{
    for (int back = 0; len > 0 && back < 3 && ((unsigned char)s[len] & 0xC0) == 0x80; back++)
        len--;
    return len;
}

size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n <= max ? n : utf8_boundary(s, max);
}
