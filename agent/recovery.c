/* recovery.c - at start, before the first desired set: re-attach to the shims that outlived
 * the previous agent, and take note of pods whose shim died (their leftovers are cleaned, and
 * they are recreated if still desired). Pod cgroups nobody knows about are removed. */
#include "config.h"
#include "network.h"
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool uid_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 32 && s[0] != '.';
}

static void apply_checkpoint(agent_pod *pod, const agent_checkpoint *ck)
{
    if (ck->created_ns)
        pod->created_ns = ck->created_ns;
    if (ck->seen_ns)
        pod->seen_ns = ck->seen_ns;
    if (ck->start_ns)
        pod->start_ns = ck->start_ns;
    for (size_t i = 0; i < ck->n_ctrs; i++) {
        agent_ctr *c = agent_pod_ctr(pod, ck->ctrs[i].name);
        if (!c)
            continue;
        c->restart_count = ck->ctrs[i].restart_count;
        c->crash_backoff = ck->ctrs[i].crash_backoff;
        c->backoff_ns = c->crash_backoff.period_ns;
    }
}

static void remove_cgroup_now(agent *a, const char *rel)
{
    mk_err err = {0};
    for (int tries = 0; tries < 250; tries++) {
        pid_t *pids = NULL;
        size_t n = 0;
        if (rt_cgroup_pids(a->cgroups, rel, &pids, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++)
                kill(pids[i], SIGKILL);
            free(pids);
        }
        int r = rt_cgroup_remove(a->cgroups, rel, &err);
        if (r != -EBUSY) {
            if (r < 0)
                mk_warn("cleanup: %s", err.msg);
            return;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    mk_warn("cleanup: cgroup %s still busy", rel);
}

/* No usable checkpoint: nothing to rebuild; remove what we can. */
static void clean_unknown(agent *a, const char *uid, bool shim_alive)
{
    cleanup_free char *run_dir = xasprintf("%s/%s", a->cfg.pods_run_dir, uid);
    cleanup_free char *state_dir = xasprintf("%s/%s", a->cfg.pods_state_dir, uid);
    cleanup_free char *rel = xasprintf("pod-%s", uid);
    mk_err err = {0};
    if (shim_alive)
        rt_shim_shutdown(run_dir, &err);
    remove_cgroup_now(a, rel);
    if (mk_rm_rf(run_dir, &err) < 0 || mk_rm_rf(state_dir, &err) < 0)
        mk_warn("cleanup: %s", err.msg);
    mk_info("cleanup: removed the state of pod uid %s", uid);
}

/* The network a live sandbox was attached with (its IPs for the status). False when the pod
 * should have an attachment and has no complete one although no container ever started in it:
 * the agent died during the ADD. (A finished pod whose attachment was released has containers
 * that ran.) */
static bool recover_network(agent *a, agent_pod *pod, const rt_shim_status *st)
{
    if (pod->spec->host_network)
        return true;
    rt_cni_result *res = xcalloc(1, sizeof(*res));
    if (agent_network_cached(&a->cfg, pod->uid, res) == 1) {
        agent_pod_set_net(pod, res);
        return true;
    }
    free(res);
    return a->cfg.network_none || st->n_ctrs > 0;
}

static void recover_one(agent *a, const char *uid)
{
    cleanup_free char *run_dir = xasprintf("%s/%s", a->cfg.pods_run_dir, uid);
    cleanup_free char *state_dir = xasprintf("%s/%s", a->cfg.pods_state_dir, uid);
    rt_shim_status st = {0};
    mk_err err = {0};
    bool alive = rt_shim_status_get(run_dir, &st, &err) == 0;
    agent_checkpoint ck = {0};
    if (agent_pod_checkpoint_load(state_dir, &ck, &err) < 0 || strcmp(ck.uid, uid) != 0) {
        mk_warn("recovery: pod uid %s: no usable checkpoint (%s); removing it", uid, err.msg);
        agent_checkpoint_free(&ck);
        if (alive)
            rt_shim_status_free(&st);
        clean_unknown(a, uid, alive);
        return;
    }
    agent_pod *pod = agent_pod_new(a, MK_STEAL(ck.spec), uid);
    apply_checkpoint(pod, &ck);
    agent_checkpoint_free(&ck);
    pod->recovered = true;
    pod->desired = false;
    if (alive && !recover_network(a, pod, &st)) {
        /* a sandbox without its network must not run on as if it were whole */
        mk_warn("pod %s/%s: its sandbox (shim pid %d) has no complete network attachment; "
                "recreating it",
                pod->spec->namespace_, pod->spec->name, (int)st.shim_pid);
        rt_shim_status_free(&st);
        pod->needs_cleanup = true;
        pod->phase = AGENT_POD_CREATING;
        agent_pod_changed(pod);
        return;
    }
    if (alive) {
        pod->shim_pid = st.shim_pid;
        agent_ctrs_from_status(pod, &st);
        rt_shim_status_free(&st);
        if (agent_pod_watch(pod, &err) == 0) {
            pod->phase = AGENT_POD_ACTIVE;
            pod->sandbox_ready = true;
            mk_info("pod %s/%s: re-attached to its running sandbox (shim pid %d)",
                    pod->spec->namespace_, pod->spec->name, (int)pod->shim_pid);
            agent_pod_changed(pod);
            return;
        }
        mk_warn("pod %s/%s: cannot watch its sandbox: %s", pod->spec->namespace_, pod->spec->name,
                err.msg);
        agent_ctrs_mark_lost(pod);
    } else {
        mk_info("pod %s/%s: its sandbox is gone; cleaning up (recreated if still wanted)",
                pod->spec->namespace_, pod->spec->name);
    }
    pod->needs_cleanup = true;
    pod->phase = AGENT_POD_CREATING;
    agent_pod_changed(pod);
}

/* Names in `dir` (NULL-terminated; empty when the dir is missing). */
static char **list_dir(const char *dir)
{
    char **v = xcalloc(1, sizeof(char *));
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return v;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !uid_name_ok(de->d_name))
            continue;
        v = xrealloc(v, (n + 2) * sizeof(char *));
        v[n++] = xstrdup(de->d_name);
        v[n] = NULL;
    }
    closedir(d);
    return v;
}

static bool in_strv(char **v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void clean_stray_cgroups(agent *a)
{
    char **names = NULL;
    mk_err err = {0};
    if (rt_cgroup_list_pods(a->cgroups, &names, &err) < 0) {
        mk_debug("cleanup: list pod cgroups: %s", err.msg);
        return;
    }
    for (size_t i = 0; names && names[i]; i++) {
        const char *uid = strncmp(names[i], "pod-", 4) == 0 ? names[i] + 4 : NULL;
        if (uid && agent_pod_find_uid(a, uid))
            continue;
        mk_info("cleanup: removing the cgroup %s of a pod nobody runs", names[i]);
        remove_cgroup_now(a, names[i]);
    }
    rt_strv_free(names);
}

void agent_recover(agent *a)
{
    char **run = list_dir(a->cfg.pods_run_dir);
    char **state = list_dir(a->cfg.pods_state_dir);
    for (size_t i = 0; run[i]; i++)
        recover_one(a, run[i]);
    for (size_t i = 0; state[i]; i++) /* e.g. after a reboot emptied run/ */
        if (!in_strv(run, state[i]))
            recover_one(a, state[i]);
    rt_strv_free(run);
    rt_strv_free(state);
    clean_stray_cgroups(a);
}
