/* buf: a growable byte buffer with a hard size cap (like curl's dynbuf).
 * Every buffer filled from outside the process has a cap, so a hostile body,
 * header or template cannot make the process allocate without bound. */
#ifndef SHOP_BUF_H
#define SHOP_BUF_H

#include <stddef.h>

struct buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;   /* bytes used, not counting the NUL */
    size_t alloc; /* bytes allocated */
    size_t max;   /* the cap: len never exceeds it */
};

/* Prepare an empty buffer that may hold up to `max` bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Append n bytes. Returns 0, or -1 when the cap would be exceeded or memory
 * ran out; on -1 the buffer keeps its previous content. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The content as a C string ("" for an empty buffer); owned by the buffer. */
const char *buf_str(const struct buf *b);

/* Forget the content, keep the allocation. */
void buf_reset(struct buf *b);

/* Free the allocation; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);

/* Hand the allocation to the caller (free() it); the buffer is left empty.
 * Returns a NUL-terminated string, never NULL unless memory ran out. */
char *buf_detach(struct buf *b);

/* The length of the UTF-8 string s cut to at most max bytes without
 * splitting a character. */
size_t buf_utf8_cut(const char *s, size_t max);

#endif
