/* status.c - the kubelet's pod status rules: observed state -> v1 PodStatus.
 *
 * Mirrors the kubelet's getPhase, its generated conditions and its container status
 * conversion so that clients see the same phases, reasons and messages. Pure computation over
 * the pod record; the previous status supplies lastTransitionTime and the sticky terminal
 * phase.
 */
#include "cni.h"
#include "pod.h"

#include <stdlib.h>
#include <string.h>

#define CTR_ID_PREFIX "mini-kubelet://"

/* ---- container statuses ------------------------------------------------------------------ */

static bool run_exists(const agent_ctr_run *r)
{
    return r->id[0] != '\0';
}

static const char *terminated_reason(const agent_ctr_run *r)
{
    if (r->reason && r->reason[0])
        return r->reason;
    if (r->oom_killed)
        return "OOMKilled";
    return r->exit_code == 0 ? "Completed" : "Error";
}

static void state_terminated(podspec_container_state *st, const agent_ctr_run *r)
{
    st->kind = PODSPEC_STATE_TERMINATED;
    st->reason = xstrdup(terminated_reason(r));
    st->message = xstrdup(r->message && r->message[0] ? r->message : NULL);
    st->exit_code = r->exit_code;
    st->signal = r->signal;
    st->started_at_ns = r->started_ns;
    st->finished_at_ns = r->finished_ns;
    st->container_id = xasprintf(CTR_ID_PREFIX "%s", r->id);
}

/* The newest instance, which may have been lost with its sandbox: the kubelet then reports
 * exit 137 with ContainerStatusUnknown. */
static void state_terminated_cur(podspec_container_state *st, const agent_ctr *c)
{
    if (!c->unknown_exit || (c->cur.reason && c->cur.reason[0])) {
        state_terminated(st, &c->cur);
        return;
    }
    st->kind = PODSPEC_STATE_TERMINATED;
    st->reason = xstrdup("ContainerStatusUnknown");
    st->message = xstrdup("The container could not be located when the pod was terminated");
    st->exit_code = 137;
    st->started_at_ns = c->cur.started_ns;
    st->finished_at_ns = c->cur.finished_ns;
    st->container_id = xasprintf(CTR_ID_PREFIX "%s", c->cur.id);
}

static void state_waiting(podspec_container_state *st, const char *reason, const char *message)
{
    st->kind = PODSPEC_STATE_WAITING;
    st->reason = xstrdup(reason);
    st->message = xstrdup(message && message[0] ? message : NULL);
}

/* lastState: the instance before `r`, when it ran and ended. */
static void state_last(podspec_container_state *st, const agent_ctr_run *r)
{
    if (run_exists(r) && r->state == RT_CTR_EXITED)
        state_terminated(st, r);
}

/* The waiting state shown before the runtime reports anything (or while a restart is held). */
static void state_default_waiting(podspec_container_state *st, const agent_pod *pod,
                                  const agent_ctr *c)
{
    const char *reason = c->waiting_reason ? c->waiting_reason : "ContainerCreating";
    const char *message = c->waiting_message;
    if (!message && !c->waiting_reason)
        message = pod->sandbox_error;
    state_waiting(st, reason, message);
}

/* Newest instance -> state, the one before -> lastState. An exited instance whose restart is
 * pending (a waiting reason is set, e.g. CrashLoopBackOff) shows as waiting, and the exited
 * instance moves to lastState, as the kubelet does with its reason cache. */
static void ctr_status(const agent_pod *pod, const agent_ctr *c, podspec_container_status *cs)
{
    const agent_ctr_run *cur = &c->cur;
    memset(cs, 0, sizeof(*cs));
    cs->name = xstrdup(c->spec->name);
    cs->image = xstrdup(c->spec->image);
    cs->image_id = xstrdup(c->image_id);
    cs->restart_count = c->restart_count;
    if (run_exists(cur))
        cs->container_id = xasprintf(CTR_ID_PREFIX "%s", cur->id);

    if (run_exists(cur) && cur->state == RT_CTR_RUNNING) {
        cs->state.kind = PODSPEC_STATE_RUNNING;
        cs->state.started_at_ns = cur->started_ns;
        cs->ready = true;
        cs->started = true;
        state_last(&cs->last_state, &c->prev);
    } else if (run_exists(cur) && cur->state == RT_CTR_EXITED) {
        if (c->waiting_reason) {
            state_waiting(&cs->state, c->waiting_reason, c->waiting_message);
            state_terminated_cur(&cs->last_state, c);
        } else {
            state_terminated_cur(&cs->state, c);
            state_last(&cs->last_state, &c->prev);
        }
    } else {
        state_default_waiting(&cs->state, pod, c);
        state_last(&cs->last_state, &c->prev);
    }
}

static int cmp_status_name(const void *x, const void *y)
{
    const podspec_container_status *a = x, *b = y;
    return strcmp(a->name, b->name);
}

/* ---- phase (getPhase) -------------------------------------------------------------------- */

typedef struct phase_counts {
    int pending_init, failed_init, pending_sidecar;
    int unknown, running, waiting, stopped, succeeded;
} phase_counts;

static bool has_last_termination(const podspec_container_status *cs)
{
    return cs->last_state.kind == PODSPEC_STATE_TERMINATED;
}

/* Init containers (none in this version; the rules are kept so they slot in). `sidecar[i]` is
 * true for an init container with restartPolicy Always. */
static void count_init(const podspec_container_status *cs, const bool *sidecar, size_t n,
                       phase_counts *pc)
{
    for (size_t i = 0; i < n; i++) {
        const podspec_container_state *st = &cs[i].state;
        if (sidecar[i]) {
            if (st->kind == PODSPEC_STATE_NONE) {
                pc->unknown++;
            } else if (st->kind == PODSPEC_STATE_RUNNING) {
                pc->running++;
                if (!cs[i].started)
                    pc->pending_sidecar++;
            } else if (st->kind == PODSPEC_STATE_WAITING && !has_last_termination(&cs[i])) {
                pc->pending_sidecar++;
                pc->waiting++;
            }
            continue;
        }
        if (st->kind == PODSPEC_STATE_TERMINATED && st->exit_code != 0)
            pc->failed_init++;
        else if (st->kind == PODSPEC_STATE_WAITING && has_last_termination(&cs[i]) &&
                 cs[i].last_state.exit_code != 0)
            pc->failed_init++;
        else if (st->kind != PODSPEC_STATE_TERMINATED)
            pc->pending_init++;
    }
}

static void count_regular(const podspec_container_status *cs, size_t n, phase_counts *pc)
{
    for (size_t i = 0; i < n; i++) {
        switch (cs[i].state.kind) {
        case PODSPEC_STATE_RUNNING:
            pc->running++;
            break;
        case PODSPEC_STATE_TERMINATED:
            pc->stopped++;
            if (cs[i].state.exit_code == 0)
                pc->succeeded++;
            break;
        case PODSPEC_STATE_WAITING:
            if (has_last_termination(&cs[i]))
                pc->stopped++;
            else
                pc->waiting++;
            break;
        default:
            pc->unknown++;
            break;
        }
    }
}

/* `terminal`: the pod is being terminated for good. The kubelet ignores it for static pods
 * (every pod here comes from a file), so callers pass false; it is kept for other sources. */
static const char *get_phase(const phase_counts *pc, const char *restart_policy, bool terminal,
                             bool initialized)
{
    bool never = restart_policy && strcmp(restart_policy, "Never") == 0;
    bool always = !restart_policy || !restart_policy[0] || strcmp(restart_policy, "Always") == 0;

    if (pc->failed_init > 0 && never)
        return "Failed";
    if (pc->pending_init > 0 || (pc->pending_sidecar > 0 && !initialized) || pc->waiting > 0)
        return "Pending";
    if (pc->running > 0 && pc->unknown == 0)
        return "Running";
    if (pc->running == 0 && pc->stopped > 0 && pc->unknown == 0) {
        if (terminal)
            return pc->stopped == pc->succeeded ? "Succeeded" : "Failed";
        if (always)
            return "Running";
        if (pc->stopped == pc->succeeded)
            return "Succeeded";
        if (never)
            return "Failed";
        return "Running";
    }
    return "Pending";
}

static bool phase_is_terminal(const char *phase)
{
    return strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0;
}

/* ---- conditions -------------------------------------------------------------------------- */

/* "[a b]": Go's %s of a []string. */
static char *name_list(char *const *names, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *s = xmalloc(len);
    char *p = s;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ' ';
        size_t l = strlen(names[i]);
        memcpy(p, names[i], l);
        p += l;
    }
    *p++ = ']';
    *p = '\0';
    return s;
}

static void cond_set(podspec_condition *c, const char *type, bool status, const char *reason,
                     char *message /* owned */)
{
    c->type = xstrdup(type);
    c->status = status;
    c->reason = xstrdup(reason);
    c->message = message;
}

static const podspec_container_status *find_status(const podspec_container_status *cs, size_t n,
                                                   const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cs[i].name, name) == 0)
            return &cs[i];
    return NULL;
}

/* ContainersReady (and Ready, which adds readiness gates: none in this version). Containers are
 * named in spec order, as the kubelet does. */
static void cond_containers_ready(podspec_condition *c, const char *type, const agent_pod *pod,
                                  const podspec_container_status *cs, size_t n, const char *phase)
{
    if (strcmp(phase, "Succeeded") == 0) {
        cond_set(c, type, false, "PodCompleted", NULL);
        return;
    }
    if (strcmp(phase, "Failed") == 0) {
        cond_set(c, type, false, "PodFailed", NULL);
        return;
    }
    char **unknown = xcalloc(pod->n_ctrs + 1, sizeof(char *));
    char **unready = xcalloc(pod->n_ctrs + 1, sizeof(char *));
    size_t n_unknown = 0, n_unready = 0;
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const char *name = pod->ctrs[i].spec->name;
        const podspec_container_status *s = find_status(cs, n, name);
        if (!s)
            unknown[n_unknown++] = (char *)name;
        else if (!s->ready)
            unready[n_unready++] = (char *)name;
    }
    if (n_unknown == 0 && n_unready == 0) {
        cond_set(c, type, true, NULL, NULL);
    } else {
        cleanup_free char *l1 = n_unknown ? name_list(unknown, n_unknown) : NULL;
        cleanup_free char *l2 = n_unready ? name_list(unready, n_unready) : NULL;
        char *msg;
        if (l1 && l2)
            msg = xasprintf("containers with unknown status: %s, containers with unready "
                            "status: %s",
                            l1, l2);
        else if (l1)
            msg = xasprintf("containers with unknown status: %s", l1);
        else
            msg = xasprintf("containers with unready status: %s", l2);
        cond_set(c, type, false, "ContainersNotReady", msg);
    }
    free(unknown);
    free(unready);
}

/* Initialized: every init container done (none in this version), or the pod has run. */
static void cond_initialized(podspec_condition *c, const char *phase)
{
    if (strcmp(phase, "Succeeded") == 0)
        cond_set(c, "Initialized", true, "PodCompleted", NULL);
    else
        cond_set(c, "Initialized", true, NULL, NULL);
}

/* lastTransitionTime changes only when the condition's status flips. */
static void cond_transition(podspec_condition *c, const podspec_pod_status *old, int64_t now_ns)
{
    c->last_transition_ns = now_ns;
    for (size_t i = 0; i < old->n_conditions; i++) {
        const podspec_condition *o = &old->conditions[i];
        if (o->type && strcmp(o->type, c->type) == 0) {
            if (o->status == c->status && o->last_transition_ns)
                c->last_transition_ns = o->last_transition_ns;
            return;
        }
    }
}

/* The kubelet's order: PodReadyToStartContainers, Initialized, Ready, ContainersReady,
 * PodScheduled. */
static void build_conditions(podspec_pod_status *s, const agent_pod *pod, int64_t now_ns)
{
    s->n_conditions = 5;
    s->conditions = xcalloc(s->n_conditions, sizeof(podspec_condition));
    podspec_condition *c = s->conditions;
    cond_set(&c[0], "PodReadyToStartContainers", pod->sandbox_ready, NULL, NULL);
    cond_initialized(&c[1], s->phase);
    cond_containers_ready(&c[2], "Ready", pod, s->container_statuses, s->n_container_statuses,
                          s->phase);
    cond_containers_ready(&c[3], "ContainersReady", pod, s->container_statuses,
                          s->n_container_statuses, s->phase);
    cond_set(&c[4], "PodScheduled", true, NULL, NULL);
    for (size_t i = 0; i < s->n_conditions; i++)
        cond_transition(&c[i], &pod->status, now_ns);
}

/* ---- the pod ----------------------------------------------------------------------------- */

static bool pod_has_initialized(const agent_pod *pod)
{
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const agent_ctr *c = &pod->ctrs[i];
        if (c->started_ever || (run_exists(&c->cur) && c->cur.state == RT_CTR_RUNNING))
            return true;
    }
    return false;
}

static const char *pod_phase(agent_pod *pod, const podspec_pod_status *s)
{
    if (pod->terminal_phase)
        return pod->terminal_phase;
    phase_counts pc = {0};
    count_init(NULL, NULL, 0, &pc);
    count_regular(s->container_statuses, s->n_container_statuses, &pc);
    const char *phase = get_phase(&pc, pod->spec->restart_policy, false, pod_has_initialized(pod));
    if (phase_is_terminal(phase))
        pod->terminal_phase = xstrdup(phase);
    return phase;
}

void agent_status_update(agent_pod *pod, int64_t now_ns)
{
    podspec_pod_status s = {0};
    const podspec_pod_status *old = &pod->status;

    s.n_container_statuses = pod->n_ctrs;
    s.container_statuses = xcalloc(pod->n_ctrs ? pod->n_ctrs : 1, sizeof(*s.container_statuses));
    for (size_t i = 0; i < pod->n_ctrs; i++)
        ctr_status(pod, &pod->ctrs[i], &s.container_statuses[i]);
    qsort(s.container_statuses, s.n_container_statuses, sizeof(*s.container_statuses),
          cmp_status_name);

    s.phase = xstrdup(pod_phase(pod, &s));
    if (old->phase && strcmp(old->phase, s.phase) == 0) {
        s.reason = xstrdup(old->reason);
        s.message = xstrdup(old->message);
    }
    build_conditions(&s, pod, now_ns);

    const char *host_ip = pod->a ? pod->a->host_ip : NULL;
    s.host_ip = xstrdup(host_ip);
    if (pod->spec->host_network) {
        s.pod_ip = xstrdup(host_ip);
    } else if (pod->net) {
        const char *v4 = pod->net->pod_ipv4, *v6 = pod->net->pod_ipv6;
        s.pod_ip = xstrdup(v4 ? v4 : v6);
        s.pod_ip6 = v4 ? xstrdup(v6) : NULL;
    }
    s.start_time_ns = pod->start_ns;
    s.qos_class = xstrdup("BestEffort");

    podspec_status_free(&pod->status);
    pod->status = s;
}
