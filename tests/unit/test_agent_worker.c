/* test_agent_worker.c - container bookkeeping of the pod worker over a hand-built pod: what a
 * confirmed start records, and what happens when the sandbox dies around it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    agent a;
    agent_pod pod;
    podspec_pod pod_spec;
    podspec_container spec;
    agent_ctr ctr;
    char dir[32];
} fx;

static int setup(void **state)
{
    fx *f = xcalloc(1, sizeof(*f));
    f->spec.name = "app";
    f->ctr.spec = &f->spec;
    f->pod_spec.name = "web";
    f->pod_spec.namespace_ = "default";
    f->pod.spec = &f->pod_spec;
    snprintf(f->dir, sizeof(f->dir), "/tmp/mk-worker-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->pod.state_dir = f->dir;
    f->pod.a = &f->a;
    f->pod.ctrs = &f->ctr;
    f->pod.n_ctrs = 1;
    f->pod.phase = AGENT_POD_ACTIVE;
    /* the new instance, as start_done has just made it current */
    snprintf(f->ctr.cur.id, sizeof(f->ctr.cur.id), "%s", "newinstance");
    f->ctr.cur.attempt = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    agent_ctr_run_clear(&f->ctr.cur);
    agent_ctr_run_clear(&f->ctr.prev);
    mk_err err = {0};
    assert_int_equal(mk_rm_rf(f->dir, &err), 0);
    free(f);
    return 0;
}

static void test_started_with_live_sandbox(void **state)
{
    fx *f = *state;
    f->pod.watch = (rt_shim_watch *)&f->a; /* any non-NULL value: the sandbox is watched */
    agent_ctr_started(&f->pod, &f->ctr, 4242, 7);
    assert_int_equal(f->ctr.cur.state, RT_CTR_RUNNING);
    assert_int_equal(f->ctr.cur.pid, 4242);
    assert_true(f->ctr.started_ever);
    assert_false(f->ctr.unknown_exit);
}

/* The shim died after it confirmed the start but before the agent recorded it: the GONE event
 * already moved the pod back to CREATING. The instance must not stay "running" into the next
 * sandbox, where nothing would ever restart it. */
static void test_started_after_sandbox_gone(void **state)
{
    fx *f = *state;
    f->pod.watch = NULL;
    f->pod.phase = AGENT_POD_CREATING;
    agent_ctr_started(&f->pod, &f->ctr, 4242, 7);
    assert_int_equal(f->ctr.cur.state, RT_CTR_EXITED);
    assert_int_equal(f->ctr.cur.exit_code, 137);
    assert_string_equal(f->ctr.cur.reason, "ContainerStatusUnknown");
    assert_true(f->ctr.unknown_exit); /* restarted whatever the restartPolicy */
    assert_false(agent_pod_any_running(&f->pod));
}

/* Shutting down, the agent closes every watch and forgets its pods: nothing is lost then. */
static void test_started_while_agent_stops(void **state)
{
    fx *f = *state;
    f->pod.watch = NULL;
    f->a.shutting_down = true;
    agent_ctr_started(&f->pod, &f->ctr, 4242, 7);
    assert_int_equal(f->ctr.cur.state, RT_CTR_RUNNING);
}

/* The EXITED event came before the start was recorded: it stays exited. */
static void test_started_after_exit_event(void **state)
{
    fx *f = *state;
    f->pod.watch = (rt_shim_watch *)&f->a;
    f->ctr.cur.state = RT_CTR_EXITED;
    f->ctr.cur.exit_code = 3;
    agent_ctr_started(&f->pod, &f->ctr, 4242, 7);
    assert_int_equal(f->ctr.cur.state, RT_CTR_EXITED);
    assert_int_equal(f->ctr.cur.exit_code, 3);
}

/* The exit of a container that wrote a termination message longer than 4096 bytes: the
 * kubelet keeps the last 4096 bytes; the message must not vanish. */
static void test_long_termination_message(void **state)
{
    fx *f = *state;
    f->pod.watch = (rt_shim_watch *)&f->a;
    agent_ctr_started(&f->pod, &f->ctr, 4242, 7);
    char *dir = xasprintf("%s/containers/newinstance", f->dir);
    mk_err err = {0};
    assert_int_equal(mk_mkdir_p(dir, 0755, &err), 0);
    char *path = xasprintf("%s/termination-log", dir);
    char text[5000];
    memset(text, 'a', sizeof(text));
    memcpy(text + sizeof(text) - 4, "end\n", 4);
    assert_int_equal(mk_write_file_atomic(path, text, sizeof(text), 0644, &err), 0);

    rt_shim_event ev = {.type = RT_SHIM_EV_EXITED};
    snprintf(ev.ctr.name, sizeof(ev.ctr.name), "app");
    snprintf(ev.ctr.id, sizeof(ev.ctr.id), "newinstance");
    ev.ctr.state = RT_CTR_EXITED;
    ev.ctr.exit_code = 1;
    ev.ctr.finished_ns = 9;
    agent_ctr_event(&f->pod, &ev);
    assert_int_equal(f->ctr.cur.state, RT_CTR_EXITED);
    assert_non_null(f->ctr.cur.message);
    assert_int_equal(strlen(f->ctr.cur.message), 4096);
    assert_string_equal(f->ctr.cur.message + 4092, "end\n");

    /* a short one is taken whole */
    assert_int_equal(mk_write_file_atomic(path, "bye\n", 4, 0644, &err), 0);
    ev.ctr.finished_ns = 10;
    agent_ctr_event(&f->pod, &ev);
    assert_string_equal(f->ctr.cur.message, "bye\n");
    free(path);
    free(dir);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_started_with_live_sandbox), T(test_started_after_sandbox_gone),
        T(test_started_while_agent_stops), T(test_started_after_exit_event),
        T(test_long_termination_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
