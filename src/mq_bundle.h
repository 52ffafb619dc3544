/* mq_bundle: messages of one route that travel as one AMQP message.
 *
 * The messages of a publishing round that go to the same exchange with the
 * same routing key (the provider's notifications answered together, the
 * order.paid events of a consumer's batch) are published as one persistent
 * message, confirmed once: the broker stores, delivers and acks one copy per
 * queue instead of one per message. The consumers split it again, and each
 * message inside is handled, deduplicated, retried and parked on its own, as
 * if it had come alone (src/mq.c).
 *
 * The body is a sequence of netstrings (D. J. Bernstein's "LEN:BYTES,"), two
 * per message: its message id, then its body. For two messages:
 *     6:pay.n1,7:{"n":1},6:pay.n2,7:{"n":2},
 * The AMQP message has the content type MQ_BUNDLE_TYPE. */
#ifndef SHOP_MQ_BUNDLE_H
#define SHOP_MQ_BUNDLE_H

#include <stddef.h>

struct buf;

#define MQ_BUNDLE_TYPE   "application/x-shop-bundle"
#define MQ_BUNDLE_MAX    256           /* messages in one bundle */
#define MQ_BUNDLE_BYTES  (1024 * 1024) /* bytes of a bundle's body */
#define MQ_BUNDLE_ID_MAX 255           /* bytes of a message id (an AMQP short string) */

/* One message of a bundle. */
struct mq_bundle_part {
    const char *message_id; /* NUL-terminated */
    const char *body;       /* NUL-terminated (it may hold NULs of its own: len counts) */
    size_t len;
};

/* Append one message to the bundle being built in b (whose cap should be
 * MQ_BUNDLE_BYTES). 0, or -1 when the id is longer than MQ_BUNDLE_ID_MAX or
 * holds a NUL, or the buffer's cap or memory ran out (b is then as before). */
int mq_bundle_add(struct buf *b, const char *message_id, const void *body, size_t len);

/* Split the bundle data[0, len) in place: every id and body is
 * NUL-terminated where its netstring's ',' was, and parts[] point into data.
 * Returns the number of messages (1..max), or -1 when data is not exactly a
 * sequence of well-formed pairs (a length with a leading zero or more than
 * 10 digits, a missing ':' or ',', an id too long or with a NUL, nothing at
 * all, or more than max messages). */
int mq_bundle_split(char *data, size_t len, struct mq_bundle_part *parts, size_t max);

#endif
