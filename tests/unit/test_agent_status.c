/* test_agent_status.c - the kubelet's pod status rules over hand-built pod records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pod.h"

#include <stdlib.h>
#include <string.h>

#define T0  1700000000000000000LL
#define SEC 1000000000LL

typedef struct fx {
    agent a;
    podspec_pod spec;
    podspec_container specs[3];
    agent_pod pod;
    agent_ctr ctrs[3];
} fx;

/* A pod with the given container names (spec order) and restart policy. */
static fx *fx_new(const char *policy, const char *n1, const char *n2)
{
    fx *f = xcalloc(1, sizeof(*f));
    f->a.host_ip = "192.0.2.10";
    f->spec.name = "p";
    f->spec.namespace_ = "default";
    f->spec.restart_policy = (char *)policy;
    f->spec.containers = f->specs;
    const char *names[2] = {n1, n2};
    for (size_t i = 0; i < 2 && names[i]; i++) {
        f->specs[i].name = (char *)names[i];
        f->specs[i].image = "busybox";
        f->ctrs[i].spec = &f->specs[i];
        f->spec.n_containers++;
    }
    f->pod.a = &f->a;
    f->pod.spec = &f->spec;
    f->pod.ctrs = f->ctrs;
    f->pod.n_ctrs = f->spec.n_containers;
    f->pod.start_ns = T0;
    f->pod.sandbox_ready = true;
    return f;
}

static void fx_free(fx *f)
{
    podspec_status_free(&f->pod.status);
    free(f->pod.terminal_phase);
    free(f);
}

static void run_set(agent_ctr_run *r, const char *id, rt_ctr_state st, int code, int64_t start)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->state = st;
    r->exit_code = code;
    r->started_ns = start;
    r->pid = st == RT_CTR_RUNNING ? 4242 : 0;
    if (st == RT_CTR_EXITED)
        r->finished_ns = start + 5 * SEC;
}

static void running(agent_ctr *c, const char *id)
{
    run_set(&c->cur, id, RT_CTR_RUNNING, 0, T0 + SEC);
    c->started_ever = true;
}

static void exited(agent_ctr *c, const char *id, int code)
{
    run_set(&c->cur, id, RT_CTR_EXITED, code, T0 + SEC);
    c->started_ever = true;
}

static const podspec_container_status *cs_of(const fx *f, const char *name)
{
    for (size_t i = 0; i < f->pod.status.n_container_statuses; i++)
        if (strcmp(f->pod.status.container_statuses[i].name, name) == 0)
            return &f->pod.status.container_statuses[i];
    fail_msg("no status for %s", name);
    return NULL;
}

static const podspec_condition *cond(const fx *f, const char *type)
{
    for (size_t i = 0; i < f->pod.status.n_conditions; i++)
        if (strcmp(f->pod.status.conditions[i].type, type) == 0)
            return &f->pod.status.conditions[i];
    fail_msg("no condition %s", type);
    return NULL;
}

static const char *phase_of(fx *f)
{
    agent_status_update(&f->pod, T0 + 100 * SEC);
    return f->pod.status.phase;
}

/* ---- a new pod ---- */

static void test_fresh_pod_pending(void **state)
{
    fx *f = fx_new("Always", "web", NULL);
    f->pod.sandbox_ready = false;
    agent_status_update(&f->pod, T0 + SEC);
    podspec_pod_status *s = &f->pod.status;
    assert_string_equal(s->phase, "Pending");
    assert_string_equal(s->qos_class, "BestEffort");
    assert_string_equal(s->host_ip, "192.0.2.10");
    assert_null(s->pod_ip);
    assert_int_equal(s->start_time_ns, T0);

    const podspec_container_status *cs = cs_of(f, "web");
    assert_int_equal(cs->state.kind, PODSPEC_STATE_WAITING);
    assert_string_equal(cs->state.reason, "ContainerCreating");
    assert_null(cs->state.message);
    assert_int_equal(cs->last_state.kind, PODSPEC_STATE_NONE);
    assert_false(cs->ready);
    assert_false(cs->started);
    assert_null(cs->container_id);
    assert_string_equal(cs->image, "busybox");
    assert_int_equal(cs->restart_count, 0);

    assert_false(cond(f, "PodReadyToStartContainers")->status);
    assert_true(cond(f, "Initialized")->status);
    assert_null(cond(f, "Initialized")->reason);
    assert_false(cond(f, "Ready")->status);
    assert_string_equal(cond(f, "Ready")->reason, "ContainersNotReady");
    assert_string_equal(cond(f, "Ready")->message, "containers with unready status: [web]");
    assert_string_equal(cond(f, "ContainersReady")->reason, "ContainersNotReady");
    assert_string_equal(cond(f, "ContainersReady")->message,
                        "containers with unready status: [web]");
    assert_true(cond(f, "PodScheduled")->status);
    assert_int_equal(cond(f, "PodScheduled")->last_transition_ns, T0 + SEC);
    fx_free(f);
}

static void test_condition_order(void **state)
{
    fx *f = fx_new("Always", "web", NULL);
    agent_status_update(&f->pod, T0);
    const char *want[] = {"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                          "PodScheduled"};
    assert_int_equal(f->pod.status.n_conditions, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(f->pod.status.conditions[i].type, want[i]);
    fx_free(f);
}

static void test_sandbox_error_shown_while_creating(void **state)
{
    fx *f = fx_new("Always", "web", NULL);
    f->pod.sandbox_ready = false;
    f->pod.sandbox_error = "spawn shim: permission denied";
    agent_status_update(&f->pod, T0);
    const podspec_container_status *cs = cs_of(f, "web");
    assert_string_equal(cs->state.reason, "ContainerCreating");
    assert_string_equal(cs->state.message, "spawn shim: permission denied");
    assert_string_equal(f->pod.status.phase, "Pending");
    fx_free(f);
}

/* ---- running ---- */

static void test_running_ready(void **state)
{
    fx *f = fx_new("Always", "web", NULL);
    running(&f->ctrs[0], "abc");
    f->ctrs[0].image_id = "docker.io/library/busybox@sha256:00ff";
    agent_status_update(&f->pod, T0 + 2 * SEC);
    assert_string_equal(f->pod.status.phase, "Running");
    const podspec_container_status *cs = cs_of(f, "web");
    assert_int_equal(cs->state.kind, PODSPEC_STATE_RUNNING);
    assert_int_equal(cs->state.started_at_ns, T0 + SEC);
    assert_true(cs->ready);
    assert_true(cs->started);
    assert_string_equal(cs->container_id, "mini-kubelet://abc");
    assert_string_equal(cs->image_id, "docker.io/library/busybox@sha256:00ff");
    assert_true(cond(f, "PodReadyToStartContainers")->status);
    assert_true(cond(f, "Ready")->status);
    assert_null(cond(f, "Ready")->reason);
    assert_null(cond(f, "Ready")->message);
    assert_true(cond(f, "ContainersReady")->status);
    fx_free(f);
}

static void test_running_and_creating_is_pending(void **state)
{
    fx *f = fx_new("Always", "zeta", "alpha");
    running(&f->ctrs[0], "z1");
    agent_status_update(&f->pod, T0);
    assert_string_equal(f->pod.status.phase, "Pending");
    assert_string_equal(cond(f, "Ready")->message, "containers with unready status: [alpha]");
    fx_free(f);
}

static void test_unready_message_in_spec_order(void **state)
{
    fx *f = fx_new("Always", "zeta", "alpha");
    agent_status_update(&f->pod, T0);
    assert_string_equal(cond(f, "ContainersReady")->message,
                        "containers with unready status: [zeta alpha]");
    fx_free(f);
}

static void test_statuses_sorted_by_name(void **state)
{
    fx *f = fx_new("Always", "zeta", "alpha");
    running(&f->ctrs[0], "z1");
    agent_status_update(&f->pod, T0);
    assert_int_equal(f->pod.status.n_container_statuses, 2);
    assert_string_equal(f->pod.status.container_statuses[0].name, "alpha");
    assert_string_equal(f->pod.status.container_statuses[1].name, "zeta");
    assert_int_equal(f->pod.status.container_statuses[1].state.kind, PODSPEC_STATE_RUNNING);
    fx_free(f);
}

static void test_host_network_pod_ip(void **state)
{
    fx *f = fx_new("Always", "web", NULL);
    f->spec.host_network = true;
    agent_status_update(&f->pod, T0);
    assert_string_equal(f->pod.status.pod_ip, "192.0.2.10");
    fx_free(f);
}

static void test_no_host_ip(void **state)
{
    fx *f = fx_new("Always", "web", NULL);
    f->a.host_ip = NULL;
    f->spec.host_network = true;
    agent_status_update(&f->pod, T0);
    assert_null(f->pod.status.host_ip);
    assert_null(f->pod.status.pod_ip);
    fx_free(f);
}

/* ---- phases per restart policy ---- */

static void test_always_exited_is_running(void **state)
{
    fx *f = fx_new("Always", "a", "b");
    exited(&f->ctrs[0], "a1", 0);
    exited(&f->ctrs[1], "b1", 0);
    assert_string_equal(phase_of(f), "Running");
    exited(&f->ctrs[1], "b1", 3);
    assert_string_equal(phase_of(f), "Running");
    assert_null(f->pod.terminal_phase);
    fx_free(f);
}

static void test_onfailure_phases(void **state)
{
    fx *f = fx_new("OnFailure", "a", "b");
    exited(&f->ctrs[0], "a1", 1);
    exited(&f->ctrs[1], "b1", 0);
    assert_string_equal(phase_of(f), "Running");
    exited(&f->ctrs[0], "a2", 0);
    assert_string_equal(phase_of(f), "Succeeded");
    fx_free(f);
}

static void test_never_phases(void **state)
{
    fx *f = fx_new("Never", "a", "b");
    running(&f->ctrs[0], "a1");
    exited(&f->ctrs[1], "b1", 1);
    assert_string_equal(phase_of(f), "Running");
    exited(&f->ctrs[0], "a1", 0);
    assert_string_equal(phase_of(f), "Failed");
    fx_free(f);

    f = fx_new("Never", "a", "b");
    exited(&f->ctrs[0], "a1", 0);
    exited(&f->ctrs[1], "b1", 0);
    assert_string_equal(phase_of(f), "Succeeded");
    fx_free(f);
}

static void test_exited_and_waiting_is_pending(void **state)
{
    fx *f = fx_new("Never", "a", "b");
    exited(&f->ctrs[0], "a1", 0);
    assert_string_equal(phase_of(f), "Pending");
    fx_free(f);
}

static void test_waiting_with_last_termination_counts_stopped(void **state)
{
    fx *f = fx_new("OnFailure", "a", NULL);
    exited(&f->ctrs[0], "a1", 2);
    f->ctrs[0].waiting_reason = "CrashLoopBackOff";
    assert_string_equal(phase_of(f), "Running");
    fx_free(f);

    f = fx_new("Never", "a", NULL);
    exited(&f->ctrs[0], "a1", 2);
    f->ctrs[0].waiting_reason = "CrashLoopBackOff";
    assert_string_equal(phase_of(f), "Failed");
    fx_free(f);
}

static void test_empty_policy_is_always(void **state)
{
    fx *f = fx_new(NULL, "a", NULL);
    exited(&f->ctrs[0], "a1", 0);
    assert_string_equal(phase_of(f), "Running");
    fx_free(f);
}

static void test_terminal_phase_sticks(void **state)
{
    fx *f = fx_new("OnFailure", "a", NULL);
    exited(&f->ctrs[0], "a1", 0);
    assert_string_equal(phase_of(f), "Succeeded");
    assert_non_null(f->pod.terminal_phase);
    assert_string_equal(f->pod.terminal_phase, "Succeeded");
    running(&f->ctrs[0], "a2");
    assert_string_equal(phase_of(f), "Succeeded");
    f->ctrs[0].cur.id[0] = '\0';
    assert_string_equal(phase_of(f), "Succeeded");
    fx_free(f);
}

static void test_terminal_phase_from_record(void **state)
{
    fx *f = fx_new("Always", "a", NULL);
    f->pod.terminal_phase = xstrdup("Failed");
    running(&f->ctrs[0], "a1");
    assert_string_equal(phase_of(f), "Failed");
    assert_false(cond(f, "Ready")->status);
    assert_string_equal(cond(f, "Ready")->reason, "PodFailed");
    assert_string_equal(cond(f, "ContainersReady")->reason, "PodFailed");
    fx_free(f);
}

static void test_succeeded_conditions(void **state)
{
    fx *f = fx_new("Never", "a", NULL);
    exited(&f->ctrs[0], "a1", 0);
    assert_string_equal(phase_of(f), "Succeeded");
    assert_true(cond(f, "Initialized")->status);
    assert_string_equal(cond(f, "Initialized")->reason, "PodCompleted");
    assert_false(cond(f, "Ready")->status);
    assert_string_equal(cond(f, "Ready")->reason, "PodCompleted");
    assert_null(cond(f, "Ready")->message);
    assert_string_equal(cond(f, "ContainersReady")->reason, "PodCompleted");
    assert_false(cs_of(f, "a")->ready);
    fx_free(f);
}

/* ---- container states ---- */

static void test_terminated_fields(void **state)
{
    fx *f = fx_new("Never", "a", "b");
    exited(&f->ctrs[0], "a1", 0);
    exited(&f->ctrs[1], "b1", 137);
    f->ctrs[1].cur.signal = 9;
    f->ctrs[1].cur.message = "bye";
    agent_status_update(&f->pod, T0);
    const podspec_container_state *t = &cs_of(f, "a")->state;
    assert_int_equal(t->kind, PODSPEC_STATE_TERMINATED);
    assert_string_equal(t->reason, "Completed");
    assert_int_equal(t->exit_code, 0);
    assert_int_equal(t->started_at_ns, T0 + SEC);
    assert_int_equal(t->finished_at_ns, T0 + 6 * SEC);
    assert_string_equal(t->container_id, "mini-kubelet://a1");
    assert_null(t->message);
    t = &cs_of(f, "b")->state;
    assert_string_equal(t->reason, "Error");
    assert_int_equal(t->exit_code, 137);
    assert_int_equal(t->signal, 9);
    assert_string_equal(t->message, "bye");
    assert_false(cs_of(f, "b")->ready);
    assert_false(cs_of(f, "b")->started);
    assert_string_equal(cs_of(f, "b")->container_id, "mini-kubelet://b1");
    fx_free(f);
}

static void test_oom_and_start_error(void **state)
{
    fx *f = fx_new("Never", "a", "b");
    exited(&f->ctrs[0], "a1", 137);
    f->ctrs[0].cur.oom_killed = true;
    exited(&f->ctrs[1], "b1", 128);
    f->ctrs[1].cur.reason = "StartError";
    f->ctrs[1].cur.message = "execve /bin/nope: No such file or directory";
    agent_status_update(&f->pod, T0);
    assert_string_equal(cs_of(f, "a")->state.reason, "OOMKilled");
    assert_string_equal(cs_of(f, "b")->state.reason, "StartError");
    assert_string_equal(cs_of(f, "b")->state.message,
                        "execve /bin/nope: No such file or directory");
    assert_int_equal(cs_of(f, "b")->state.exit_code, 128);
    assert_string_equal(f->pod.status.phase, "Failed");
    fx_free(f);
}

static void test_running_with_last_state(void **state)
{
    fx *f = fx_new("Always", "a", NULL);
    run_set(&f->ctrs[0].prev, "old", RT_CTR_EXITED, 1, T0);
    running(&f->ctrs[0], "new");
    f->ctrs[0].restart_count = 1;
    agent_status_update(&f->pod, T0);
    const podspec_container_status *cs = cs_of(f, "a");
    assert_int_equal(cs->state.kind, PODSPEC_STATE_RUNNING);
    assert_int_equal(cs->last_state.kind, PODSPEC_STATE_TERMINATED);
    assert_string_equal(cs->last_state.container_id, "mini-kubelet://old");
    assert_string_equal(cs->last_state.reason, "Error");
    assert_int_equal(cs->last_state.exit_code, 1);
    assert_int_equal(cs->restart_count, 1);
    assert_string_equal(cs->container_id, "mini-kubelet://new");
    fx_free(f);
}

static void test_crash_loop_backoff(void **state)
{
    fx *f = fx_new("Always", "a", NULL);
    run_set(&f->ctrs[0].prev, "first", RT_CTR_EXITED, 1, T0);
    exited(&f->ctrs[0], "second", 1);
    f->ctrs[0].restart_count = 1;
    f->ctrs[0].waiting_reason = "CrashLoopBackOff";
    f->ctrs[0].waiting_message = "back-off 10s restarting failed container=a pod=p_default(u)";
    agent_status_update(&f->pod, T0);
    const podspec_container_status *cs = cs_of(f, "a");
    assert_int_equal(cs->state.kind, PODSPEC_STATE_WAITING);
    assert_string_equal(cs->state.reason, "CrashLoopBackOff");
    assert_string_equal(cs->state.message,
                        "back-off 10s restarting failed container=a pod=p_default(u)");
    assert_int_equal(cs->last_state.kind, PODSPEC_STATE_TERMINATED);
    assert_string_equal(cs->last_state.container_id, "mini-kubelet://second");
    assert_int_equal(cs->last_state.exit_code, 1);
    assert_string_equal(cs->last_state.reason, "Error");
    assert_int_equal(cs->restart_count, 1);
    assert_false(cs->ready);
    assert_string_equal(f->pod.status.phase, "Running");
    assert_false(cond(f, "Ready")->status);
    assert_string_equal(cond(f, "Ready")->message, "containers with unready status: [a]");
    fx_free(f);
}

static void test_waiting_reason_for_image_error(void **state)
{
    fx *f = fx_new("Always", "a", NULL);
    f->ctrs[0].waiting_reason = "ErrImagePull";
    f->ctrs[0].waiting_message = "image \"nope\" not found";
    agent_status_update(&f->pod, T0);
    assert_string_equal(cs_of(f, "a")->state.reason, "ErrImagePull");
    assert_string_equal(cs_of(f, "a")->state.message, "image \"nope\" not found");
    assert_string_equal(f->pod.status.phase, "Pending");
    fx_free(f);
}

static void test_lost_container(void **state)
{
    fx *f = fx_new("Always", "a", NULL);
    exited(&f->ctrs[0], "a1", 0);
    f->ctrs[0].unknown_exit = true;
    agent_status_update(&f->pod, T0);
    const podspec_container_status *cs = cs_of(f, "a");
    assert_int_equal(cs->state.kind, PODSPEC_STATE_TERMINATED);
    assert_string_equal(cs->state.reason, "ContainerStatusUnknown");
    assert_string_equal(cs->state.message,
                        "The container could not be located when the pod was terminated");
    assert_int_equal(cs->state.exit_code, 137);
    assert_string_equal(cs->state.container_id, "mini-kubelet://a1");

    f->ctrs[0].waiting_reason = "CrashLoopBackOff";
    agent_status_update(&f->pod, T0);
    cs = cs_of(f, "a");
    assert_string_equal(cs->state.reason, "CrashLoopBackOff");
    assert_string_equal(cs->last_state.reason, "ContainerStatusUnknown");
    fx_free(f);
}

/* ---- transitions ---- */

static void test_last_transition_time(void **state)
{
    fx *f = fx_new("Always", "a", NULL);
    f->pod.sandbox_ready = false;
    agent_status_update(&f->pod, T0);
    assert_int_equal(cond(f, "Ready")->last_transition_ns, T0);

    f->pod.sandbox_ready = true;
    agent_status_update(&f->pod, T0 + SEC);
    assert_int_equal(cond(f, "PodReadyToStartContainers")->last_transition_ns, T0 + SEC);
    assert_int_equal(cond(f, "Ready")->last_transition_ns, T0);
    assert_int_equal(cond(f, "PodScheduled")->last_transition_ns, T0);

    running(&f->ctrs[0], "a1");
    agent_status_update(&f->pod, T0 + 2 * SEC);
    assert_int_equal(cond(f, "Ready")->last_transition_ns, T0 + 2 * SEC);
    assert_int_equal(cond(f, "ContainersReady")->last_transition_ns, T0 + 2 * SEC);
    assert_int_equal(cond(f, "PodReadyToStartContainers")->last_transition_ns, T0 + SEC);

    agent_status_update(&f->pod, T0 + 3 * SEC);
    assert_int_equal(cond(f, "Ready")->last_transition_ns, T0 + 2 * SEC);

    exited(&f->ctrs[0], "a1", 1);
    f->ctrs[0].waiting_reason = "CrashLoopBackOff";
    agent_status_update(&f->pod, T0 + 4 * SEC);
    assert_int_equal(cond(f, "Ready")->last_transition_ns, T0 + 4 * SEC);
    assert_int_equal(cond(f, "Initialized")->last_transition_ns, T0);
    fx_free(f);
}

static void test_reason_kept_while_phase_same(void **state)
{
    fx *f = fx_new("Always", "a", NULL);
    running(&f->ctrs[0], "a1");
    agent_status_update(&f->pod, T0);
    f->pod.status.reason = xstrdup("NodeLost");
    f->pod.status.message = xstrdup("why");
    agent_status_update(&f->pod, T0 + SEC);
    assert_string_equal(f->pod.status.reason, "NodeLost");
    assert_string_equal(f->pod.status.message, "why");
    f->ctrs[0].cur.id[0] = '\0';
    agent_status_update(&f->pod, T0 + 2 * SEC);
    assert_string_equal(f->pod.status.phase, "Pending");
    assert_null(f->pod.status.reason);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_pod_pending),
        cmocka_unit_test(test_condition_order),
        cmocka_unit_test(test_sandbox_error_shown_while_creating),
        cmocka_unit_test(test_running_ready),
        cmocka_unit_test(test_running_and_creating_is_pending),
        cmocka_unit_test(test_unready_message_in_spec_order),
        cmocka_unit_test(test_statuses_sorted_by_name),
        cmocka_unit_test(test_host_network_pod_ip),
        cmocka_unit_test(test_no_host_ip),
        cmocka_unit_test(test_always_exited_is_running),
        cmocka_unit_test(test_onfailure_phases),
        cmocka_unit_test(test_never_phases),
        cmocka_unit_test(test_exited_and_waiting_is_pending),
        cmocka_unit_test(test_waiting_with_last_termination_counts_stopped),
        cmocka_unit_test(test_empty_policy_is_always),
        cmocka_unit_test(test_terminal_phase_sticks),
        cmocka_unit_test(test_terminal_phase_from_record),
        cmocka_unit_test(test_succeeded_conditions),
        cmocka_unit_test(test_terminated_fields),
        cmocka_unit_test(test_oom_and_start_error),
        cmocka_unit_test(test_running_with_last_state),
        cmocka_unit_test(test_crash_loop_backoff),
        cmocka_unit_test(test_waiting_reason_for_image_error),
        cmocka_unit_test(test_lost_container),
        cmocka_unit_test(test_last_transition_time),
        cmocka_unit_test(test_reason_kept_while_phase_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
