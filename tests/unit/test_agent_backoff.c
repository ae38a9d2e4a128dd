/* Crash-loop and image backoff: the kubelet's sequence, reset and message durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "backoff.h"

#define SEC INT64_C(1000000000)

/* A container that exits `run_s` seconds after each start and is restarted as soon as the
 * backoff allows: returns the delay before each restart. */
static void sequence(double scale, int64_t run_s, int n, int64_t *delays)
{
    agent_backoff_policy p = agent_backoff_policy_crashloop(scale);
    agent_backoff b = {0};
    int64_t now = 1000 * SEC;
    for (int i = 0; i < n; i++) {
        now += run_s * SEC; /* the instance ran, then exited */
        int64_t finished = now, until = 0;
        if (agent_backoff_in_backoff(&b, &p, finished, now, &until)) {
            delays[i] = until - now;
            now = until;
            assert_false(agent_backoff_in_backoff(&b, &p, finished, now, NULL));
        } else {
            delays[i] = 0;
        }
        agent_backoff_next(&b, &p, finished, now);
    }
}

static void test_first_restart_is_immediate_then_doubles_to_300(void **state)
{
    (void)state;
    int64_t d[9];
    sequence(1.0, 1, 9, d);
    const int64_t want[] = {0, 10, 20, 40, 80, 160, 300, 300, 300};
    for (int i = 0; i < 9; i++)
        assert_int_equal(d[i], want[i] * SEC);
}

static void test_scale(void **state)
{
    (void)state;
    int64_t d[4];
    sequence(0.05, 0, 4, d);
    assert_int_equal(d[0], 0);
    assert_int_equal(d[1], SEC / 2);
    assert_int_equal(d[2], SEC);
    assert_int_equal(d[3], 2 * SEC);
    agent_backoff_policy p = agent_backoff_policy_crashloop(0.05);
    assert_int_equal(p.max_ns, 15 * SEC);
}

static void test_reset_after_ten_minutes_of_running(void **state)
{
    (void)state;
    agent_backoff_policy p = agent_backoff_policy_crashloop(1.0);
    agent_backoff b = {0};
    int64_t t = 0;
    for (int i = 0; i < 5; i++) {
        int64_t until = 0;
        if (agent_backoff_in_backoff(&b, &p, t, t, &until))
            t = until;
        agent_backoff_next(&b, &p, t, t);
    }
    assert_int_equal(b.period_ns, 160 * SEC);
    /* ran 11 minutes since the last restart: no wait, and the sequence starts over */
    int64_t finished = t + 660 * SEC;
    assert_false(agent_backoff_in_backoff(&b, &p, finished, finished, NULL));
    agent_backoff_next(&b, &p, finished, finished);
    assert_int_equal(b.period_ns, 10 * SEC);
    /* ran 9 minutes: still backing off, and the period doubles */
    int64_t f2 = finished + 540 * SEC, until = 0;
    assert_true(agent_backoff_in_backoff(&b, &p, f2, f2, &until));
    assert_int_equal(until, f2 + 10 * SEC);
    agent_backoff_next(&b, &p, f2, until);
    assert_int_equal(b.period_ns, 20 * SEC);
}

static void test_image_backoff_since_last_attempt(void **state)
{
    (void)state;
    agent_backoff_policy p = agent_backoff_policy_image(1.0);
    agent_backoff b = {0};
    agent_backoff_next(&b, &p, 5 * SEC, 5 * SEC); /* first failure */
    int64_t until = 0;
    assert_true(agent_backoff_in_backoff(&b, &p, b.last_update_ns, 6 * SEC, &until));
    assert_int_equal(until, 15 * SEC);
    assert_false(agent_backoff_in_backoff(&b, &p, b.last_update_ns, 15 * SEC, NULL));
    agent_backoff_next(&b, &p, 15 * SEC, 15 * SEC);
    assert_int_equal(b.period_ns, 20 * SEC);
}

static void test_duration_text(void **state)
{
    (void)state;
    struct {
        int64_t ns;
        const char *want;
    } cases[] = {
        {0, "0s"},          {10 * SEC, "10s"},     {80 * SEC, "1m20s"},    {300 * SEC, "5m0s"},
        {SEC / 2, "500ms"}, {3 * SEC / 2, "1.5s"}, {3600 * SEC, "1h0m0s"}, {160 * SEC, "2m40s"},
        {1500, "1.5µs"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[32];
        agent_format_duration(cases[i].ns, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_restart_is_immediate_then_doubles_to_300),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_reset_after_ten_minutes_of_running),
        cmocka_unit_test(test_image_backoff_since_last_attempt),
        cmocka_unit_test(test_duration_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
