/* utf8: one decoder of UTF-8 (RFC 3629) for every check of text the shop
 * takes from outside: no overlong forms, no surrogates, nothing beyond
 * U+10FFFF, no truncated sequence. */
#ifndef SHOP_UTF8_H
#define SHOP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode the character at s (len bytes available) into *cp. Returns its
 * length in bytes (1 to 4), or -1 when s does not start with a valid
 * sequence (or len is 0). */
int utf8_decode(const char *s, size_t len, uint32_t *cp);

/* 1 when the len bytes at s are valid UTF-8 as a whole. */
int utf8_valid(const char *s, size_t len);

/* Where to cut s (valid UTF-8) at or before byte len so that no character
 * is split: len stepped back over at most 3 continuation bytes (s[len] must
 * be readable: it is the first byte after the cut). */
size_t utf8_boundary(const char *s, size_t len);

/* The length of s (NUL-terminated, valid UTF-8) cut to at most max bytes
 * without splitting a character. */
size_t utf8_cut(const char *s, size_t max);

#endif
