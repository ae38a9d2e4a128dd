/* test_agent_podfiles.c - what `down` reads back from a pod's checkpoint: the grace period,
 * including values beyond what a deadline in int64 nanoseconds can hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "podfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_ckpt(const char *dir, const char *grace_json)
{
    char *path = xasprintf("%s/pod.json", dir);
    char *text = xasprintf("{\"version\":1,\"terminationGracePeriodSeconds\":%s}\n", grace_json);
    mk_err err = {0};
    assert_int_equal(mk_write_file_atomic(path, text, strlen(text), 0600, &err), 0);
    free(text);
    free(path);
}

static int setup(void **state)
{
    char *dir = xstrdup("/tmp/mk-podfiles-XXXXXX");
    assert_non_null(mkdtemp(dir));
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    mk_err err = {0};
    int r = mk_rm_rf(*state, &err);
    free(*state);
    assert_int_equal(r, 0);
    return 0;
}

static void test_checkpoint_grace(void **state)
{
    const char *dir = *state;
    assert_int_equal(agent_checkpoint_grace(dir), 30); /* no pod.json */
    write_ckpt(dir, "45");
    assert_int_equal(agent_checkpoint_grace(dir), 45);
    write_ckpt(dir, "0");
    assert_int_equal(agent_checkpoint_grace(dir), 0);
    /* INT64_MAX as the JSON encoder writes it, and beyond: clamped, never negative */
    write_ckpt(dir, "9223372036854775807");
    assert_true(agent_checkpoint_grace(dir) == AGENT_GRACE_MAX_SEC);
    write_ckpt(dir, "1e300");
    assert_true(agent_checkpoint_grace(dir) == AGENT_GRACE_MAX_SEC);
    write_ckpt(dir, "-5");
    assert_int_equal(agent_checkpoint_grace(dir), 0);
    write_ckpt(dir, "\"x\"");
    assert_int_equal(agent_checkpoint_grace(dir), 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoint_grace, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
