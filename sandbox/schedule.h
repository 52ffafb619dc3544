/* schedule: delivering the signed notifications until the merchant answers
 * "success", on Alipay's schedule: now, then after 4m, 10m, 10m, 1h, 2h, 6h
 * and 15h (8 tries), each delay times the time scale; after the last try the
 * notification is given up (moved to failed/).
 *
 * A pending notification is a file pending/<notify_id>.json of the store
 * (notify_url, body, attempts, next_at_ms, last_answer ...), so a restart
 * loses none and keeps its schedule. One delivery thread scans pending/,
 * tries what is due (deliver.c), writes the outcome back under the store's
 * lock, and sleeps on a condition variable until the earliest next try or
 * until schedule_add wakes it. */
#ifndef SANDBOX_SCHEDULE_H
#define SANDBOX_SCHEDULE_H

#include <stdint.h>

struct json_object;

#define SCHEDULE_TRIES   8
#define SCHEDULE_PENDING "pending" /* store directories */
#define SCHEDULE_FAILED  "failed"

/* Milliseconds from the failed try number `attempt` (1 = the first) to the
 * next, times time_scale; -1 when attempt was the last (or out of range). */
int64_t schedule_delay_ms(int attempt, double time_scale);

/* Wall-clock milliseconds (the schedule's times survive a restart). */
int64_t schedule_now_ms(void);

/* Queue notification n (borrowed) as pending/<notify_id>.json, due now, and
 * wake the delivery thread. n must carry notify_id, notify_url and body.
 * Call with the store locked. 0 or -1. */
int schedule_add(struct json_object *n);

/* Start the delivery thread with this time scale. 0 or -1. */
int schedule_start(double time_scale);
/* Stop it: a try in progress is aborted and not counted. */
void schedule_stop(void);

/* The number of files in pending/ or failed/ (a store directory). */
int schedule_count(const char *sub);

#endif
