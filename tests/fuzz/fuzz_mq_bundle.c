/* mq_bundle_split: the input is a bundle's body as a consumer receives it.
 * What is accepted is exactly what mq_bundle_add writes for its parts. */
#include "buf.h"
#include "fuzz.h"
#include "mq_bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    struct mq_bundle_part *p = calloc(MQ_BUNDLE_MAX, sizeof *p);
    FUZZ_CHECK(p != NULL);
    int k = mq_bundle_split(s, size, p, MQ_BUNDLE_MAX);
    FUZZ_CHECK(k == -1 || (k >= 1 && k <= MQ_BUNDLE_MAX));
    if (k > 0) {
        struct buf b;
        buf_init(&b, MQ_BUNDLE_BYTES > size ? MQ_BUNDLE_BYTES : size);
        for (int i = 0; i < k; i++) {
            FUZZ_CHECK(strlen(p[i].message_id) <= MQ_BUNDLE_ID_MAX);
            FUZZ_CHECK(p[i].body[p[i].len] == '\0');
            FUZZ_CHECK(mq_bundle_add(&b, p[i].message_id, p[i].body, p[i].len) == 0);
        }
        FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0);
        buf_free(&b);
    }
    free(p);
    free(s);
    return 0;
}
