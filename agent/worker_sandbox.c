/* worker_sandbox.c - making a pod's sandbox: the shim with the pod's namespaces, its network
 * attachment and the files its containers see; and dropping a dead sandbox's network. */
#include "config.h"
#include "network.h"
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct sandbox_step {
    podspec_pod *spec; /* a copy: the pod's own may be replaced while the step runs */
    char *hostname, *fqdn, *host_ip, *checkpoint;
    char **keep_ids;    /* container instances whose files stay (cur/prev of each container) */
    bool cleanup_first; /* a previous sandbox existed: clear what it left */
    bool use_cni;       /* attach the pod through the CNI plugins */
    pid_t shim_pid;
    rt_cni_result *net; /* the attachment's result */
    agent_net_fail net_fail;
    agent_pod_files_out notes; /* DNS warnings for events */
    char *set_aside;           /* an unremovable earlier attachment was set aside: why */
} sandbox_step;

/* Remove the files of container instances the pod no longer tracks. */
static void prune_instances(const agent_pod *pod, char **keep)
{
    cleanup_free char *dir = xasprintf("%s/containers", pod->state_dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        bool kept = de->d_name[0] == '.';
        for (size_t i = 0; keep && keep[i] && !kept; i++)
            kept = strcmp(keep[i], de->d_name) == 0;
        if (kept)
            continue;
        cleanup_free char *path = xasprintf("%s/%s", dir, de->d_name);
        mk_err err = {0};
        if (mk_rm_rf(path, &err) < 0)
            mk_warn("pod %s/%s: %s", pod->spec->namespace_, pod->spec->name, err.msg);
    }
    closedir(d);
}

static int write_pod_files(agent_pod *pod, sandbox_step *st, mk_err *err)
{
    agent_pod_files_in in = {.host_network = st->spec->host_network,
                             .uid = pod->uid,
                             .hostname = st->hostname,
                             .fqdn = st->fqdn,
                             .net = st->net};
    if (st->spec->host_network)
        in.ipv4 = st->host_ip;
    else if (st->net) {
        in.ipv4 = st->net->pod_ipv4;
        in.ipv6 = st->net->pod_ipv6;
    }
    return agent_pod_files_write(pod->state_dir, st->spec, &in, &st->notes, err);
}

/* Start the shim in its cgroup; *shim_pid set on success. */
static int spawn_shim(pod_op *op, sandbox_step *st)
{
    agent_pod *pod = op->pod;
    agent *a = op->a;
    /* The shim (and the pod's pid-1 reaper) live in a leaf of their own beside the containers,
     * as cgroup v2 wants: a cgroup whose children use controllers holds no processes. */
    cleanup_free char *sandbox_cg = xasprintf("%s/%s", pod->cgroup_rel, AGENT_SANDBOX_CGROUP);
    uv_mutex_lock(&a->cgroups_lock);
    int r = rt_cgroup_create(a->cgroups, sandbox_cg, &op->err);
    char **procs = r < 0 ? NULL : rt_cgroup_procs_files(a->cgroups, sandbox_cg);
    uv_mutex_unlock(&a->cgroups_lock);
    if (r < 0)
        return r;
    rt_sandbox_config cfg = {
        .shim_path = a->cfg.shim_path,
        .run_dir = pod->run_dir,
        .pod_uid = pod->uid,
        .pod_ns = st->spec->namespace_,
        .pod_name = st->spec->name,
        .hostname = st->hostname,
        .host_network = st->spec->host_network,
        .host_ipc = st->spec->host_ipc,
        .host_pid = st->spec->host_pid,
        .share_pid = st->spec->share_process_namespace,
        .cgroup_procs = procs,
    };
    r = rt_shim_spawn(&cfg, &st->shim_pid, &op->err);
    rt_strv_free(procs);
    return r;
}

static void sandbox_work(pod_op *op)
{
    sandbox_step *st = op->data;
    agent_pod *pod = op->pod;
    agent *a = op->a;
    if (st->cleanup_first) {
        mk_err ignored = {0};
        rt_shim_shutdown(pod->run_dir, &ignored);
        agent_pod_kill_leftovers(a, pod->cgroup_rel);
        mk_rm_rf(pod->run_dir, &ignored);
        prune_instances(pod, st->keep_ids);
    }
    /* what an earlier sandbox of this pod had attached goes first (its DEL, exactly once) */
    int r = agent_network_detach(&a->cfg, pod->uid, &op->err);
    if (r < 0) {
        /* an earlier ADD that failed and could not be undone must not block every new one */
        mk_err e = {0};
        char *where = NULL;
        if (agent_network_set_aside(&a->cfg, pod->uid, &where, &e) > 0) {
            st->set_aside = xasprintf("the earlier failed network attachment could not be "
                                      "removed (%s); its record is kept in %s",
                                      op->err.msg, where);
            mk_err_clear(&op->err);
            r = 0;
        }
        free(where);
    }
    if (r < 0) {
        op->rc = mk_err_wrap(&op->err, "remove the earlier network attachment");
        st->net_fail = AGENT_NET_FAILED;
        return;
    }
    if ((r = mk_mkdir_p(pod->run_dir, 0700, &op->err)) < 0 ||
        (r = mk_mkdir_p(pod->state_dir, 0755, &op->err)) < 0 ||
        (r = mk_mkdir_p(pod->log_dir, 0755, &op->err)) < 0 ||
        (r = agent_pod_checkpoint_write(pod->state_dir, st->checkpoint, &op->err)) < 0 ||
        (r = spawn_shim(op, st)) < 0) {
        op->rc = r;
        return;
    }
    if (st->use_cni) {
        st->net = xcalloc(1, sizeof(*st->net));
        r = agent_network_attach(&a->cfg, pod->uid, st->spec, st->shim_pid, st->net, &st->net_fail,
                                 &op->err);
    }
    if (r == 0)
        r = write_pod_files(pod, st, &op->err);
    if (r < 0) {
        /* never leave a half-made sandbox: no shim, no attachment */
        mk_err e = {0};
        rt_shim_shutdown(pod->run_dir, &e);
        agent_pod_kill_leftovers(a, pod->cgroup_rel);
        if (st->net_fail == AGENT_NET_OK && agent_network_detach(&a->cfg, pod->uid, &e) < 0)
            mk_warn("pod %s/%s: %s", st->spec->namespace_, st->spec->name, e.msg);
        op->rc = r;
    }
}

static void sandbox_step_free(sandbox_step *st)
{
    podspec_pod_free(st->spec);
    free(st->hostname);
    free(st->fqdn);
    free(st->host_ip);
    free(st->checkpoint);
    rt_strv_free(st->keep_ids);
    if (st->net) {
        rt_cni_result_free(st->net);
        free(st->net);
    }
    agent_pod_files_out_free(&st->notes);
    free(st->set_aside);
    free(st);
}

static void set_creating(agent_pod *pod, const char *msg)
{
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        agent_ctr *c = &pod->ctrs[i];
        if (!c->cur.id[0] &&
            (!c->waiting_reason || !strcmp(c->waiting_reason, "ContainerCreating")))
            agent_ctr_set_waiting(c, "ContainerCreating", msg);
    }
}

static void sandbox_failed(agent_pod *pod, const sandbox_step *st, const char *msg)
{
    int64_t now = mk_now_ns();
    agent_backoff_policy p = agent_backoff_policy_crashloop(pod->a->cfg.backoff_scale);
    agent_backoff_next(&pod->sandbox_backoff, &p, now, now);
    pod->sandbox_failed_ns = now;
    char d[32];
    agent_format_duration(pod->sandbox_backoff.period_ns, d, sizeof(d));
    const char *ns = pod->spec->namespace_, *name = pod->spec->name;
    free(pod->sandbox_error);
    if (st->net_fail == AGENT_NET_NOT_READY) {
        pod->sandbox_error = xasprintf("network is not ready: %s", msg);
        agent_pod_event(pod, NULL, true, "NetworkNotReady", "%s", pod->sandbox_error);
        mk_error("pod %s/%s: %s (retrying in %s)", ns, name, pod->sandbox_error, d);
    } else if (st->net_fail == AGENT_NET_FAILED) {
        pod->sandbox_error = xasprintf("failed to set up the pod network: %s", msg);
        agent_pod_event(pod, NULL, true, "FailedCreatePodSandBox",
                        "Failed to create pod sandbox: %s", pod->sandbox_error);
        mk_error("pod %s/%s: %s (retrying in %s)", ns, name, pod->sandbox_error, d);
    } else {
        pod->sandbox_error = xstrdup(msg);
        agent_pod_event(pod, NULL, true, "FailedCreatePodSandBox",
                        "Failed to create pod sandbox: %s", msg);
        mk_error("pod %s/%s: cannot create the sandbox (retrying in %s): %s", ns, name, d, msg);
    }
    set_creating(pod, pod->sandbox_error);
}

static void log_network(const agent_pod *pod)
{
    const rt_cni_result *n = pod->net;
    if (!n)
        return;
    mk_info("pod %s/%s: network attached: %s%s%s", pod->spec->namespace_, pod->spec->name,
            n->pod_ipv4 ? n->pod_ipv4 : "", n->pod_ipv4 && n->pod_ipv6 ? ", " : "",
            n->pod_ipv6 ? n->pod_ipv6 : "");
}

static void sandbox_done(pod_op *op)
{
    sandbox_step *st = op->data;
    agent_pod *pod = op->pod;
    if (st->set_aside) {
        mk_warn("pod %s/%s: %s", pod->spec->namespace_, pod->spec->name, st->set_aside);
        agent_pod_event(pod, NULL, true, "FailedKillPod", "%s", st->set_aside);
    }
    if (op->rc >= 0) {
        pod->shim_pid = st->shim_pid;
        agent_pod_set_net(pod, MK_STEAL(st->net));
    }
    if (op->rc >= 0 && pod->phase == AGENT_POD_CREATING) {
        mk_err err = {0};
        if (agent_pod_watch(pod, &err) < 0) {
            /* the shim goes when the next attempt cleans up (sandbox_backoff is active) */
            op->err = err;
            op->rc = mk_err_wrap(&op->err, "watch the sandbox");
        }
    }
    if (op->rc < 0) {
        sandbox_failed(pod, st, op->err.msg);
    } else if (pod->phase == AGENT_POD_CREATING) {
        pod->phase = AGENT_POD_ACTIVE;
        pod->sandbox_ready = true;
        free(pod->sandbox_error);
        pod->sandbox_error = NULL;
        set_creating(pod, NULL);
        mk_info("pod %s/%s: sandbox started (shim pid %d, uid %s)", pod->spec->namespace_,
                pod->spec->name, (int)pod->shim_pid, pod->uid);
        log_network(pod);
        for (size_t i = 0; i < st->notes.n_notes; i++)
            agent_pod_event(pod, NULL, st->notes.notes[i].warning, st->notes.notes[i].reason, "%s",
                            st->notes.notes[i].message);
    }
    sandbox_step_free(st);
    agent_pod_changed(pod);
}

void agent_sandbox_start(agent_pod *pod)
{
    sandbox_step *st = xcalloc(1, sizeof(*st));
    const podspec_pod *s = pod->spec;
    agent *a = pod->a;
    st->spec = podspec_pod_dup(s);
    st->use_cni = !s->host_network && !a->cfg.network_none;
    if (s->host_network) {
        st->hostname = xstrdup(a->cfg.node_name);
        st->host_ip = xstrdup(a->host_ip);
    } else {
        agent_pod_hostnames(s, &st->hostname, &st->fqdn);
    }
    st->checkpoint = agent_pod_checkpoint(pod);
    st->cleanup_first = pod->sandbox_backoff.active || pod->needs_cleanup;
    st->keep_ids = xcalloc(2 * pod->n_ctrs + 1, sizeof(char *));
    for (size_t i = 0, n = 0; i < pod->n_ctrs; i++) {
        if (pod->ctrs[i].cur.id[0])
            st->keep_ids[n++] = xstrdup(pod->ctrs[i].cur.id);
        if (pod->ctrs[i].prev.id[0])
            st->keep_ids[n++] = xstrdup(pod->ctrs[i].prev.id);
    }
    pod->needs_cleanup = false;
    agent_pod_set_net(pod, NULL);
    for (size_t i = 0; i < pod->n_ctrs; i++)
        if (!pod->ctrs[i].cur.id[0] && !pod->ctrs[i].waiting_reason)
            agent_ctr_set_waiting(&pod->ctrs[i], "ContainerCreating", NULL);
    agent_pod_op(pod, sandbox_work, sandbox_done, st);
}

/* A dead sandbox's network goes right away (its IP and veth are not held over the backoff). */
static void detach_work(pod_op *op)
{
    mk_err ignored = {0};
    rt_shim_shutdown(op->pod->run_dir, &ignored); /* nothing may use the namespace any more */
    op->rc = agent_network_detach(&op->a->cfg, op->pod->uid, &op->err);
}

static void detach_done(pod_op *op)
{
    agent_pod *pod = op->pod;
    if (op->rc < 0)
        mk_warn("pod %s/%s: removing the network attachment of its dead sandbox: %s (retried "
                "before the next sandbox starts)",
                pod->spec->namespace_, pod->spec->name, op->err.msg);
    else
        agent_pod_set_net(pod, NULL);
}

void agent_sandbox_detach_dead(agent_pod *pod)
{
    agent_pod_op(pod, detach_work, detach_done, NULL);
}
