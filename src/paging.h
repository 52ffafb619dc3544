/* paging: the cursor of a paged list (the contract's "Lists are paged by
 * cursor"). A list is read with a keyset query on an index, WHERE key > the
 * cursor's key ORDER BY key LIMIT limit + 1 (or < for newest first), never
 * OFFSET, so the thousandth page costs what the first does; the extra row
 * only says whether there is a next page. A cursor is the last row's key as
 * text: one or two non-negative whole numbers joined by '.' ("123",
 * "0.123"), never spliced into SQL. */
#ifndef SHOP_PAGING_H
#define SHOP_PAGING_H

#include <stddef.h>
#include <stdint.h>

#define PAGING_LIMIT_DEFAULT 20
#define PAGING_LIMIT_MAX     100
#define PAGING_CURSOR_MAX    48  /* bytes of a cursor, with the NUL */
#define PAGING_SEARCH_MAX    100 /* bytes of a search (?q=) */
#define PAGING_KEYS_MAX      2

/* A limit as typed: digits only, 1..PAGING_LIMIT_MAX. 0 or -1. */
int paging_limit_parse(const char *s, size_t *out);

/* A cursor of nkeys (1..PAGING_KEYS_MAX) parts into keys[]: 0, or -1 when s is
 * not exactly that (empty, a sign, a leading zero, too large, other bytes). */
int paging_cursor_parse(const char *s, int64_t *keys, size_t nkeys);

/* The cursor of keys[0..nkeys) into out (PAGING_CURSOR_MAX bytes). */
const char *paging_cursor_format(const int64_t *keys, size_t nkeys, char *out);

/* After a query for limit + 1 rows: 1 when it found more than limit (*n is
 * then cut to limit: the extra row belongs to the next page), else 0. */
int paging_trim(size_t *n, size_t limit);

#endif
