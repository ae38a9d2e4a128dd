/* test_agent_worker_events.c - the events the container worker records when a container
 * enters a backoff, over a hand-built pod: one per entry, never one per look at the pod. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "events.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000LL

typedef struct fx {
    agent a;
    agent_pod pod;
    podspec_pod pod_spec;
    podspec_container spec;
    agent_ctr ctr;
} fx;

static int setup(void **state)
{
    fx *f = xcalloc(1, sizeof(*f));
    f->a.events = agent_events_new(AGENT_EVENTS_DEFAULT_CAPACITY, "node-1");
    f->a.cfg.backoff_scale = 1.0;
    f->spec.name = "app";
    f->spec.image = "busybox:1.36";
    f->spec.image_pull_policy = "IfNotPresent";
    f->ctr.spec = &f->spec;
    f->pod_spec.name = "web-node-1";
    f->pod_spec.namespace_ = "default";
    f->pod_spec.restart_policy = "Always";
    f->pod_spec.containers = &f->spec;
    f->pod_spec.n_containers = 1;
    f->pod.spec = &f->pod_spec;
    snprintf(f->pod.uid, sizeof(f->pod.uid), "%s", "0123456789abcdef0123456789abcdef");
    f->pod.a = &f->a;
    f->pod.ctrs = &f->ctr;
    f->pod.n_ctrs = 1;
    f->pod.phase = AGENT_POD_ACTIVE;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    agent_ctr_run_clear(&f->ctr.cur);
    agent_ctr_run_clear(&f->ctr.prev);
    agent_ctr_set_waiting(&f->ctr, NULL, NULL);
    podspec_status_free(&f->pod.status);
    agent_events_free(f->a.events);
    free(f);
    return 0;
}

/* The events recorded so far, as "type reason: message" lines. */
static char *recorded(const fx *f)
{
    mk_err err = {0};
    cJSON *l = agent_events_list(f->a.events, NULL, NULL, &err);
    assert_non_null(l);
    char *out = xstrdup("");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(l, "items"))
    {
        const cJSON *io = cJSON_GetObjectItem(e, "involvedObject");
        assert_string_equal(cJSON_GetObjectItem(io, "fieldPath")->valuestring,
                            "spec.containers{app}");
        char *next =
            xasprintf("%s%s %s x%d: %s\n", out, cJSON_GetObjectItem(e, "type")->valuestring,
                      cJSON_GetObjectItem(e, "reason")->valuestring,
                      cJSON_GetObjectItem(e, "count")->valueint,
                      cJSON_GetObjectItem(e, "message")->valuestring);
        free(out);
        out = next;
    }
    cJSON_Delete(l);
    return out;
}

static void assert_recorded(const fx *f, const char *want)
{
    char *got = recorded(f);
    if (strcmp(got, want) != 0)
        fail_msg("recorded:\n%s\nwant:\n%s", got, want);
    free(got);
}

/* The container exited at `finished` after a start that armed the crash backoff. */
static void exited(fx *f, int64_t finished)
{
    agent_backoff_policy p = agent_backoff_policy_crashloop(1.0);
    agent_backoff_next(&f->ctr.crash_backoff, &p, finished, finished);
    snprintf(f->ctr.cur.id, sizeof(f->ctr.cur.id), "%s", "instance");
    f->ctr.cur.state = RT_CTR_EXITED;
    f->ctr.cur.exit_code = 1;
    f->ctr.cur.finished_ns = finished;
}

static void test_crashloop_backoff_once_per_entry(void **state)
{
    fx *f = *state;
    int64_t t = mk_now_ns(), wake = 0;
    exited(f, t);
    /* the worker looks at the pod several times while the backoff lasts */
    for (int i = 0; i < 3; i++)
        assert_false(agent_ctr_step(&f->pod, &f->ctr, t + (i + 1) * SEC, &wake));
    assert_string_equal(f->ctr.waiting_reason, "CrashLoopBackOff");
    const char *once = "Warning BackOff x1: Back-off restarting failed container app in pod "
                       "web-node-1_default(0123456789abcdef0123456789abcdef)\n";
    assert_recorded(f, once);

    /* a restart ends the backoff (the start clears the waiting state); the next exit enters
     * it again: the same event, counted */
    agent_ctr_set_waiting(&f->ctr, NULL, NULL);
    exited(f, t + 20 * SEC);
    assert_false(agent_ctr_step(&f->pod, &f->ctr, t + 21 * SEC, &wake));
    assert_false(agent_ctr_step(&f->pod, &f->ctr, t + 22 * SEC, &wake));
    assert_recorded(f, "Warning BackOff x2: Back-off restarting failed container app in pod "
                       "web-node-1_default(0123456789abcdef0123456789abcdef)\n");
}

static void test_image_backoff_once_per_entry(void **state)
{
    fx *f = *state;
    int64_t t = mk_now_ns(), wake = 0;
    /* the image was found missing just now (ErrImagePull, as the failed attempt left it) */
    agent_backoff_policy p = agent_backoff_policy_image(1.0);
    agent_backoff_next(&f->ctr.image_backoff, &p, t, t);
    f->ctr.image_failed_ns = t;
    agent_ctr_set_waiting(&f->ctr, "ErrImagePull", "not present");
    /* before the kubelet would show ImagePullBackOff: nothing new */
    assert_false(agent_ctr_step(&f->pod, &f->ctr, t + SEC, &wake));
    assert_recorded(f, "");
    /* then the back-off, once however often the worker looks */
    int64_t later = t + f->ctr.image_backoff.period_ns / 2 + SEC;
    for (int i = 0; i < 3; i++)
        assert_false(agent_ctr_step(&f->pod, &f->ctr, later + i, &wake));
    assert_string_equal(f->ctr.waiting_reason, "ImagePullBackOff");
    assert_recorded(f, "Normal BackOff x1: Back-off pulling image \"busybox:1.36\"\n"
                       "Warning Failed x1: Error: ImagePullBackOff\n");
}

static void test_no_ring_no_events(void **state)
{
    fx *f = *state;
    agent_events_free(f->a.events);
    f->a.events = NULL; /* an agent without a ring still runs its containers */
    int64_t t = mk_now_ns(), wake = 0;
    exited(f, t);
    assert_false(agent_ctr_step(&f->pod, &f->ctr, t + SEC, &wake));
    assert_string_equal(f->ctr.waiting_reason, "CrashLoopBackOff");
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_crashloop_backoff_once_per_entry),
        T(test_image_backoff_once_per_entry),
        T(test_no_ring_no_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
