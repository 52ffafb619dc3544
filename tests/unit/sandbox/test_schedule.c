/* sandbox/schedule.c: Alipay's retry times. */
#define SUITE_NAME "sandbox_schedule"
#include "testmain.h"

#include "schedule.h"

#include <CUnit/CUnit.h>

static void test_alipay_schedule(void)
{
    /* now, then 4m, 10m, 10m, 1h, 2h, 6h, 15h. */
    const int64_t s[] = {240, 600, 600, 3600, 7200, 21600, 54000};
    for (int attempt = 1; attempt < SCHEDULE_TRIES; attempt++)
        CU_ASSERT_EQUAL(schedule_delay_ms(attempt, 1.0), s[attempt - 1] * 1000);
    CU_ASSERT_EQUAL(SCHEDULE_TRIES, 8);
}

static void test_time_scale(void)
{
    CU_ASSERT_EQUAL(schedule_delay_ms(1, 0.001), 240);
    CU_ASSERT_EQUAL(schedule_delay_ms(2, 0.01), 6000);
    CU_ASSERT_EQUAL(schedule_delay_ms(7, 0.0001), 5400);
    /* The whole schedule at 0.0001 is about 8.8 s (the integration test's). */
    int64_t total = 0;
    for (int attempt = 1; attempt < SCHEDULE_TRIES; attempt++)
        total += schedule_delay_ms(attempt, 0.0001);
    CU_ASSERT_EQUAL(total, 8784);
}

static void test_no_try_after_the_last(void)
{
    CU_ASSERT_EQUAL(schedule_delay_ms(SCHEDULE_TRIES, 1.0), -1);
    CU_ASSERT_EQUAL(schedule_delay_ms(SCHEDULE_TRIES + 1, 1.0), -1);
    CU_ASSERT_EQUAL(schedule_delay_ms(0, 1.0), -1);
}

static void test_clock_is_wall_time(void)
{
    int64_t a = schedule_now_ms(), b = schedule_now_ms();
    CU_ASSERT_TRUE(b >= a);
    CU_ASSERT_TRUE(a > 1700000000000LL); /* milliseconds since 1970, after 2023 */
}

static const struct test_case TESTS[] = {
    {"the retries follow Alipay's schedule", test_alipay_schedule},
    {"the time scale multiplies every delay", test_time_scale},
    {"there is no try after the eighth", test_no_try_after_the_last},
    {"the schedule's clock is wall time in milliseconds", test_clock_is_wall_time},
    {NULL, NULL},
};

#include "testmain.h"
