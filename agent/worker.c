/* worker.c - pod lifecycle: accept the desired set, create the sandbox, stop gracefully,
 * tear down, and the one-step-at-a-time machinery every pod runs on. */
#include "config.h"
#include "network.h"
#include "sources.h"
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SEC           INT64_C(1000000000)
#define MIN_GRACE_SEC 2 /* the kubelet's minimum kill grace period */

/* ---- steps on the thread pool ---- */

static void op_work(uv_work_t *req)
{
    pod_op *op = req->data;
    op->work(op);
}

static void op_after(uv_work_t *req, int status)
{
    pod_op *op = req->data;
    if (status < 0 && op->rc >= 0)
        op->rc = mk_errf(&op->err, -status, "step cancelled");
    op->done(op);
    agent_pod *pod = op->pod;
    free(op);
    pod->busy = false;
    if (pod->phase == AGENT_POD_STOPPED) {
        agent_pod_destroy(pod);
        return;
    }
    if (pod->a->shutting_down) {
        agent_pod_destroy(pod);
        return;
    }
    agent_pod_kick(pod);
}

void agent_pod_op(agent_pod *pod, pod_op_fn work, pod_op_fn done, void *data)
{
    pod_op *op = xcalloc(1, sizeof(*op));
    op->pod = pod;
    op->a = pod->a;
    op->work = work;
    op->done = done;
    op->data = data;
    op->req.data = op;
    pod->busy = true;
    int r = uv_queue_work(pod->a->loop, &op->req, op_work, op_after);
    if (r < 0) {
        op->rc = mk_errf(&op->err, -r, "cannot queue work: %s", uv_strerror(r));
        op_after(&op->req, 0);
    }
}

/* ---- status and timer ---- */

void agent_pod_changed(agent_pod *pod)
{
    agent_status_update(pod, mk_now_ns());
}

static void on_pod_timer(uv_timer_t *t)
{
    agent_pod *pod = t->data;
    pod->wake_ns = 0;
    agent_pod_kick(pod);
}

static void arm_timer(agent_pod *pod, int64_t wake_ns, int64_t now)
{
    if (!wake_ns) {
        if (pod->timer)
            uv_timer_stop(pod->timer);
        pod->wake_ns = 0;
        return;
    }
    if (!pod->timer) {
        pod->timer = xcalloc(1, sizeof(*pod->timer));
        uv_timer_init(pod->a->loop, pod->timer);
        pod->timer->data = pod;
    }
    int64_t delay_ms = wake_ns > now ? (wake_ns - now + 999999) / 1000000 : 0;
    pod->wake_ns = wake_ns;
    uv_timer_start(pod->timer, on_pod_timer, (uint64_t)delay_ms, 0);
}

/* ---- the shim watch ---- */

static void on_shim_event(void *arg, const rt_shim_event *ev)
{
    agent_pod *pod = arg;
    if (ev->type == RT_SHIM_EV_EXEC_EXIT)
        return;
    if (ev->type != RT_SHIM_EV_GONE) {
        agent_ctr_event(pod, ev);
        agent_pod_changed(pod);
        agent_pod_kick(pod);
        return;
    }
    rt_shim_watch_close(pod->watch);
    pod->watch = NULL;
    bool expected = pod->phase == AGENT_POD_STOPPING && pod->stop_killed;
    if (!expected)
        mk_warn("pod %s/%s: sandbox (shim pid %d) went away%s", pod->spec->namespace_,
                pod->spec->name, (int)pod->shim_pid,
                pod->phase == AGENT_POD_ACTIVE ? "; its containers are lost, recreating it" : "");
    agent_ctrs_mark_lost(pod);
    pod->sandbox_ready = false;
    if (pod->phase == AGENT_POD_ACTIVE) {
        agent_pod_event(pod, NULL, false, "SandboxChanged",
                        "Pod sandbox changed, it will be killed and re-created.");
        int64_t now = mk_now_ns();
        agent_backoff_policy p = agent_backoff_policy_crashloop(pod->a->cfg.backoff_scale);
        pod->sandbox_failed_ns = now;
        agent_backoff_next(&pod->sandbox_backoff, &p, now, now);
        pod->phase = AGENT_POD_CREATING;
        pod->net_stale = pod->net != NULL;
    }
    agent_pod_changed(pod);
    agent_pod_kick(pod);
}

int agent_pod_watch(agent_pod *pod, mk_err *err)
{
    if (pod->watch)
        return 0;
    return rt_shim_watch_start(pod->a->loop, pod->run_dir, on_shim_event, pod, &pod->watch, err);
}

/* ---- cgroups ---- */

void agent_pod_kill_leftovers(agent *a, const char *rel)
{
    pid_t *pids = NULL;
    size_t n = 0;
    mk_err err = {0};
    uv_mutex_lock(&a->cgroups_lock);
    int r = rt_cgroup_pids(a->cgroups, rel, &pids, &n, &err);
    uv_mutex_unlock(&a->cgroups_lock);
    if (r < 0)
        return;
    for (size_t i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    free(pids);
}

/* Remove a pod's cgroups, killing what is left in them, waiting up to 5 s for them to die. */
static int remove_cgroups(agent *a, const char *rel, mk_err *err)
{
    int64_t deadline = mk_monotonic_ns() + 5 * SEC;
    for (;;) {
        agent_pod_kill_leftovers(a, rel);
        uv_mutex_lock(&a->cgroups_lock);
        int r = rt_cgroup_remove(a->cgroups, rel, err);
        uv_mutex_unlock(&a->cgroups_lock);
        if (r != -EBUSY || mk_monotonic_ns() > deadline)
            return r;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* ---- stopping ---- */

typedef struct stop_step {
    char **ids; /* running container ids to signal */
} stop_step;

static void term_work(pod_op *op)
{
    stop_step *st = op->data;
    for (size_t i = 0; st->ids && st->ids[i]; i++) {
        mk_err err = {0};
        int r = rt_shim_signal(op->pod->run_dir, st->ids[i], SIGTERM, &err);
        if (r < 0 && r != -ESRCH)
            mk_warn("pod %s/%s: SIGTERM: %s", op->pod->spec->namespace_, op->pod->spec->name,
                    err.msg);
    }
}

static void term_done(pod_op *op)
{
    stop_step *st = op->data;
    rt_strv_free(st->ids);
    free(st);
    agent_pod *pod = op->pod;
    pod->stop_signalled = true;
    int64_t grace = pod->spec->termination_grace_period_seconds;
    if (grace < MIN_GRACE_SEC)
        grace = MIN_GRACE_SEC;
    if (grace > AGENT_GRACE_MAX_SEC)
        grace = AGENT_GRACE_MAX_SEC;
    pod->stop_deadline_ns = mk_now_ns() + grace * SEC;
}

static void send_term(agent_pod *pod)
{
    stop_step *st = xcalloc(1, sizeof(*st));
    st->ids = xcalloc(pod->n_ctrs + 1, sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        agent_ctr *c = &pod->ctrs[i];
        if (c->cur.id[0] && c->cur.state == RT_CTR_RUNNING) {
            st->ids[n++] = xstrdup(c->cur.id);
            mk_info("pod %s/%s: container %s: stopping (SIGTERM, grace period %llds)",
                    pod->spec->namespace_, pod->spec->name, c->spec->name,
                    (long long)pod->spec->termination_grace_period_seconds);
            agent_pod_event(pod, c->spec->name, false, "Killing", "Stopping container %s",
                            c->spec->name);
        }
    }
    agent_pod_op(pod, term_work, term_done, st);
}

static void teardown_work(pod_op *op)
{
    agent_pod *pod = op->pod;
    mk_err err = {0};
    int r = rt_shim_shutdown(pod->run_dir, &err);
    if (r < 0 && pod->sandbox_ready)
        mk_debug("pod %s/%s: shutdown of the sandbox: %s", pod->spec->namespace_, pod->spec->name,
                 err.msg);
    /* DEL while the pinned namespace still exists; a failure keeps the cache for a retry */
    op->rc = agent_network_detach(&op->a->cfg, pod->uid, &op->err);
    if (remove_cgroups(op->a, pod->cgroup_rel, &err) < 0)
        mk_warn("pod %s/%s: %s", pod->spec->namespace_, pod->spec->name, err.msg);
    const char *dirs[] = {pod->run_dir, pod->state_dir, pod->log_dir};
    for (size_t i = 0; i < MK_ARRAY_LEN(dirs); i++)
        if (mk_rm_rf(dirs[i], &err) < 0)
            mk_warn("pod %s/%s: %s", pod->spec->namespace_, pod->spec->name, err.msg);
}

static void teardown_done(pod_op *op)
{
    agent_pod *pod = op->pod;
    if (op->rc < 0) {
        mk_warn("pod %s/%s: removing its network attachment failed (retrying later): %s",
                pod->spec->namespace_, pod->spec->name, op->err.msg);
        agent_pod_event(pod, NULL, true, "FailedKillPod", "error killing pod: %s", op->err.msg);
        agent_network_retry_later(pod->a);
    }
    mk_info("pod %s/%s: stopped and removed (uid %s)", pod->spec->namespace_, pod->spec->name,
            pod->uid);
    pod->phase = AGENT_POD_STOPPED; /* op_after destroys it */
    /* a newer version of this pod may have been waiting for this one to be gone */
    agent_pod *next;
    for (agent_pod *p = pod->a->pods; p; p = next) {
        next = p->next;
        if (p != pod && p->phase == AGENT_POD_CREATING && p->waiting_turn)
            agent_pod_kick(p);
    }
}

static void start_teardown(agent_pod *pod)
{
    if (pod->watch) {
        rt_shim_watch_close(pod->watch);
        pod->watch = NULL;
    }
    pod->stop_killed = true;
    agent_pod_op(pod, teardown_work, teardown_done, NULL);
}

void agent_pod_stop(agent_pod *pod, const char *why)
{
    if (pod->phase == AGENT_POD_STOPPING || pod->phase == AGENT_POD_STOPPED)
        return;
    pod->desired = false;
    mk_info("pod %s/%s: stopping: %s", pod->spec->namespace_, pod->spec->name, why);
    free(pod->stop_reason);
    pod->stop_reason = xstrdup(why);
    bool never_started = pod->phase == AGENT_POD_CREATING && pod->waiting_turn;
    pod->phase = AGENT_POD_STOPPING;
    if (never_started && !pod->busy) {
        pod->phase = AGENT_POD_STOPPED;
        agent_pod_destroy(pod);
        return;
    }
    agent_pod_changed(pod);
    agent_pod_kick(pod);
}

static void step_stopping(agent_pod *pod, int64_t now)
{
    if (!pod->stop_signalled) {
        if (agent_pod_any_running(pod) && pod->watch) {
            send_term(pod);
            return;
        }
        pod->stop_signalled = true;
    }
    if (agent_pod_any_running(pod) && pod->watch && now < pod->stop_deadline_ns) {
        arm_timer(pod, pod->stop_deadline_ns, now);
        return;
    }
    if (agent_pod_any_running(pod))
        mk_info("pod %s/%s: grace period over: killing what still runs (SIGKILL)",
                pod->spec->namespace_, pod->spec->name);
    arm_timer(pod, 0, now);
    start_teardown(pod);
}

/* ---- the step chooser ---- */

static bool predecessor_exists(agent_pod *pod)
{
    for (agent_pod *p = pod->a->pods; p && p != pod; p = p->next) {
        if (p->phase == AGENT_POD_STOPPED)
            continue;
        if (strcmp(p->uid, pod->uid) == 0 ||
            (strcmp(p->spec->namespace_, pod->spec->namespace_) == 0 &&
             strcmp(p->spec->name, pod->spec->name) == 0))
            return true;
    }
    return false;
}

static void step_creating(agent_pod *pod, int64_t now)
{
    if (pod->net_stale) {
        pod->net_stale = false;
        agent_sandbox_detach_dead(pod);
        return;
    }
    if (predecessor_exists(pod)) {
        if (!pod->waiting_turn)
            mk_info("pod %s/%s: waiting for the previous version to stop", pod->spec->namespace_,
                    pod->spec->name);
        pod->waiting_turn = true;
        return;
    }
    pod->waiting_turn = false;
    if (agent_network_sweeping(pod->a, pod->uid))
        return; /* the sweep kicks the pod when the old attachment is gone */
    agent_backoff_policy p = agent_backoff_policy_crashloop(pod->a->cfg.backoff_scale);
    int64_t until = 0;
    if (pod->sandbox_failed_ns &&
        agent_backoff_in_backoff(&pod->sandbox_backoff, &p, pod->sandbox_failed_ns, now, &until)) {
        arm_timer(pod, until, now);
        return;
    }
    agent_sandbox_start(pod);
}

typedef struct ckpt_step {
    char *json;
} ckpt_step;

static void ckpt_work(pod_op *op)
{
    ckpt_step *st = op->data;
    op->rc = agent_pod_checkpoint_write(op->pod->state_dir, st->json, &op->err);
}

static void ckpt_done(pod_op *op)
{
    ckpt_step *st = op->data;
    if (op->rc < 0)
        mk_warn("pod %s/%s: %s", op->pod->spec->namespace_, op->pod->spec->name, op->err.msg);
    free(st->json);
    free(st);
}

static void release_work(pod_op *op)
{
    op->rc = agent_network_detach(&op->a->cfg, op->pod->uid, &op->err);
}

static void release_done(pod_op *op)
{
    agent_pod *pod = op->pod;
    pod->net_released = true; /* status keeps showing the last IP, as the kubelet's does */
    if (op->rc < 0)
        mk_warn("pod %s/%s: releasing the network of the finished pod: %s (retried when the pod "
                "is removed)",
                pod->spec->namespace_, pod->spec->name, op->err.msg);
    else
        mk_info("pod %s/%s: %s; its network attachment is released", pod->spec->namespace_,
                pod->spec->name, pod->terminal_phase);
}

static void step_active(agent_pod *pod, int64_t now)
{
    if (pod->terminal_phase && pod->net && !pod->net_released && !agent_pod_any_running(pod)) {
        /* nothing will run in it again: its address goes back, as the kubelet stops the
         * sandbox of a finished pod */
        agent_pod_op(pod, release_work, release_done, NULL);
        return;
    }
    if (pod->checkpoint_dirty) {
        pod->checkpoint_dirty = false;
        ckpt_step *st = xcalloc(1, sizeof(*st));
        st->json = agent_pod_checkpoint(pod);
        agent_pod_op(pod, ckpt_work, ckpt_done, st);
        return;
    }
    int64_t wake = 0;
    for (size_t i = 0; i < pod->n_ctrs; i++)
        if (agent_ctr_step(pod, &pod->ctrs[i], now, &wake))
            return;
    arm_timer(pod, wake, now);
}

void agent_pod_kick(agent_pod *pod)
{
    if (pod->a->shutting_down || pod->busy)
        return;
    if (pod->recovered && !pod->desired && pod->phase != AGENT_POD_STOPPING)
        return; /* found at start: the first desired set decides whether it stays */
    int64_t now = mk_now_ns();
    switch (pod->phase) {
    case AGENT_POD_CREATING:
        step_creating(pod, now);
        break;
    case AGENT_POD_ACTIVE:
        step_active(pod, now);
        break;
    case AGENT_POD_STOPPING:
        step_stopping(pod, now);
        break;
    case AGENT_POD_STOPPED:
        break;
    }
}

/* ---- the desired set ---- */

static agent_pod *find_same(agent *a, const char *uid, const char *hash)
{
    for (agent_pod *p = a->pods; p; p = p->next)
        if (p->phase != AGENT_POD_STOPPING && p->phase != AGENT_POD_STOPPED &&
            strcmp(p->uid, uid) == 0 && strcmp(p->spec->hash, hash) == 0)
            return p;
    return NULL;
}

static void adopt_spec(agent_pod *pod, const podspec_pod *d)
{
    if (pod->manifest_file && d->source_file && strcmp(pod->manifest_file, d->source_file) == 0 &&
        !pod->recovered)
        return;
    /* same content (same hash): take the manifest's copy, e.g. after recovery */
    podspec_pod *copy = podspec_pod_dup(d);
    if (copy->n_containers != pod->n_ctrs) {
        podspec_pod_free(copy);
        return;
    }
    podspec_pod_free(pod->spec);
    pod->spec = copy;
    agent_pod_bind_specs(pod);
    free(pod->manifest_file);
    pod->manifest_file = xstrdup(d->source_file);
    pod->recovered = false;
}

static bool has_successor(const agent_pod *pod)
{
    for (const agent_pod *p = pod->a->pods; p; p = p->next)
        if (p != pod && p->desired && strcmp(p->spec->namespace_, pod->spec->namespace_) == 0 &&
            strcmp(p->spec->name, pod->spec->name) == 0)
            return true;
    return false;
}

/* A pod found at start whose manifest now fails to parse keeps running, as it would have had
 * the agent never restarted (the file's last good version is this pod). */
static bool kept_despite_error(agent *a, agent_pod *pod)
{
    if (!pod->recovered || !a->sources || !pod->manifest_file)
        return false;
    const struct agent_manifests *m = agent_sources_manifests(a->sources);
    for (size_t i = 0; i < m->n_files; i++) {
        if (m->files[i].state != AGENT_MANIFEST_ERROR ||
            strcmp(m->files[i].file, pod->manifest_file) != 0)
            continue;
        if (!pod->kept_broken)
            mk_warn("pod %s/%s: its manifest %s does not parse; the running version stays",
                    pod->spec->namespace_, pod->spec->name, pod->manifest_file);
        pod->kept_broken = true;
        return true;
    }
    return false;
}

void agent_pods_apply(agent *a, podspec_pod *const *pods, size_t n)
{
    if (a->shutting_down)
        return;
    for (agent_pod *p = a->pods; p; p = p->next)
        p->desired = false;
    agent_pod *first_new = NULL;
    for (size_t i = 0; i < n; i++) {
        char uid[33];
        agent_pod_uid(pods[i], a->cfg.node_name, pods[i]->source_file, uid);
        agent_pod *p = find_same(a, uid, pods[i]->hash);
        if (p) {
            p->desired = true;
            adopt_spec(p, pods[i]);
            continue;
        }
        p = agent_pod_new(a, podspec_pod_dup(pods[i]), uid);
        if (!first_new)
            first_new = p;
        mk_info("pod %s/%s: accepted from %s (uid %s)", p->spec->namespace_, p->spec->name,
                p->manifest_file, p->uid);
        agent_pod_changed(p);
    }
    /* stop what is no longer wanted; the loop may destroy pods, so walk with care */
    agent_pod *next;
    for (agent_pod *p = a->pods; p; p = next) {
        next = p->next;
        if (!p->desired && kept_despite_error(a, p))
            p->desired = true;
        if (!p->desired && p->phase != AGENT_POD_STOPPING && p->phase != AGENT_POD_STOPPED)
            agent_pod_stop(p, has_successor(p) ? "its manifest changed (the new version starts "
                                                 "once it is gone)"
                                               : "its manifest is gone");
    }
    for (agent_pod *p = a->pods; p; p = next) {
        next = p->next;
        agent_pod_kick(p);
    }
}

void agent_pods_detach_all(agent *a)
{
    agent_pod *next;
    for (agent_pod *p = a->pods; p; p = next) {
        next = p->next;
        if (p->watch) {
            rt_shim_watch_close(p->watch);
            p->watch = NULL;
        }
        if (p->timer)
            uv_timer_stop(p->timer);
        if (!p->busy)
            agent_pod_destroy(p);
        /* busy pods are destroyed when their step returns (op_after) */
    }
}
