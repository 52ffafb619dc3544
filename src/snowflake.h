/* snowflake: 64-bit ids = 41-bit milliseconds since SNOWFLAKE_EPOCH_MS,
 * 10-bit worker id, 12-bit sequence. Thread-safe. Never returns a duplicate,
 * also when the wall clock steps back: the generator keeps its own high-water
 * time and keeps issuing from it (borrowing from the future by at most the
 * sequence overflow) instead of reusing old times. */
#ifndef SHOP_SNOWFLAKE_H
#define SHOP_SNOWFLAKE_H

#include <stddef.h>
#include <stdint.h>

/* 2024-01-01T00:00:00Z */
#define SNOWFLAKE_EPOCH_MS   INT64_C(1704067200000)
#define SNOWFLAKE_WORKER_MAX 1023

struct snowflake {
    int64_t last_ms;           /* the highest time used, ms since the epoch */
    int64_t sequence;          /* next sequence within last_ms */
    int64_t worker_id;         /* 0..1023 */
    int64_t (*clock_ms)(void); /* wall clock in Unix ms; replaceable for tests */
    void *lock;                /* pthread mutex, owned */
};

/* Prepare a generator for worker_id (0..1023). clock_ms NULL = real clock.
 * Returns 0, or -1 for a worker id out of range or no memory. */
int snowflake_init(struct snowflake *sf, int64_t worker_id, int64_t (*clock_ms)(void));
void snowflake_destroy(struct snowflake *sf);

/* The next id (> every id this generator returned before), always > 0. */
int64_t snowflake_next(struct snowflake *sf);

/* The parts of an id. */
int64_t snowflake_time_ms(int64_t id); /* Unix ms */
int64_t snowflake_worker(int64_t id);
int64_t snowflake_sequence(int64_t id);

/* An id as the API, paths and messages carry it: len bytes of decimal
 * digits, no sign, no leading zero, > 0 and within int64. 0, or -1 for
 * anything else. */
int snowflake_parse(const char *s, size_t len, int64_t *out);

/* Room for any int64 in decimal, with its sign and the NUL. */
#define SNOWFLAKE_STR_MAX 21

/* An id as the API, paths and messages carry it (the decimal digits that
 * snowflake_parse reads back) into out; returns out. */
char *snowflake_format(int64_t id, char out[SNOWFLAKE_STR_MAX]);

/* The process-wide generator the application uses (initialised by main). */
extern struct snowflake shop_ids;

#endif
