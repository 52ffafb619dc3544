#include "mq_bundle.h"

#include <string.h>

#include "buf.h"

static int add_netstring(struct buf *b, const void *p, size_t n)
{
    return buf_printf(b, "%zu:", n) == 0 && buf_append(b, p, n) == 0 && buf_putc(b, ',') == 0 ? 0
                                                                                              : -1;
}

int mq_bundle_add(struct buf *b, const char *message_id, const void *body, size_t len)
{
    if (b == NULL || message_id == NULL || (body == NULL && len > 0))
        return -1;
    size_t idl = strlen(message_id);
    if (idl > MQ_BUNDLE_ID_MAX)
        return -1;
    size_t before = b->len;
    if (add_netstring(b, message_id, idl) == 0 && add_netstring(b, body, len) == 0)
        return 0;
    if (b->data != NULL) { /* keep b as it was */
        b->len = before;
        b->data[before] = '\0';
    }
    return -1;
}

/* One netstring at data[*at, len): its bytes NUL-terminated in place (over
 * the ','), their start in *out and length in *n. 0, or -1 when malformed. */
static int take_netstring(char *data, size_t len, size_t *at, char **out, size_t *n)
{
    size_t i = *at, v = 0, digits = 0;
    while (i < len && data[i] >= '0' && data[i] <= '9') {
        if (digits == 10 || (digits == 1 && v == 0))
            return -1; /* too long, or a leading zero */
        v = v * 10 + (size_t)(data[i] - '0');
        digits++;
        i++;
    }
    if (digits == 0 || i >= len || data[i] != ':')
        return -1;
    i++;
    if (v > len - i || len - i - v < 1 || data[i + v] != ',')
        return -1;
    data[i + v] = '\0';
    *out = &data[i];
    *n = v;
    *at = i + v + 1;
    return 0;
}

int mq_bundle_split(char *data, size_t len, struct mq_bundle_part *parts, size_t max)
{
    size_t at = 0, k = 0;
    if (data == NULL || parts == NULL || len == 0)
        return -1;
    while (at < len) {
        char *id, *body;
        size_t idl, bl;
        if (k == max || take_netstring(data, len, &at, &id, &idl) != 0 || idl > MQ_BUNDLE_ID_MAX ||
            memchr(id, '\0', idl) != NULL || take_netstring(data, len, &at, &body, &bl) != 0)
            return -1;
        parts[k++] = (struct mq_bundle_part){.message_id = id, .body = body, .len = bl};
    }
    return (int)k;
}
