/* network.c - the pods' network through CNI: setup at start, attach and detach on the thread
 * pool, and the sweep of attachments whose pod is gone (see network.h). */
#include "network.h"
#include "worker.h"

#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#define SWEEP_RETRY_SEC 30

static rt_cni_opts cni_opts(const agent_config *cfg)
{
    rt_cni_opts o = {.bin_path = cfg->cni_bin_dir, .cache_dir = cfg->cni_cache_dir};
    return o;
}

char *agent_network_netns_path(const agent_config *cfg, const char *uid)
{
    return xasprintf("%s/%s", cfg->netns_dir, uid);
}

/* ---- setup ---- */

/* Make `dir` a mount point with shared propagation, as `ip netns` does for /run/netns. */
static int make_shared_mount(const char *dir, mk_err *err)
{
    if (mount(NULL, dir, NULL, MS_SHARED | MS_REC, NULL) == 0)
        return 0;
    if (errno != EINVAL)
        return mk_errf_sys(err, errno, "make %s a shared mount", dir);
    if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
        return mk_errf_sys(err, errno, "bind-mount %s onto itself", dir);
    if (mount(NULL, dir, NULL, MS_SHARED | MS_REC, NULL) < 0)
        return mk_errf_sys(err, errno, "make %s a shared mount", dir);
    return 0;
}

static void log_network(const agent_config *cfg)
{
    rt_cni_net *net = NULL;
    mk_err err = {0};
    if (rt_cni_load(cfg->cni_conf_dir, &net, &err) < 0) {
        mk_error("pod network: %s; pods wait (NetworkNotReady) until it is fixed", err.msg);
        return;
    }
    char plugins[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < rt_cni_net_n_plugins(net) && used < sizeof(plugins); i++)
        used += (size_t)snprintf(plugins + used, sizeof(plugins) - used, "%s%s", i ? ", " : "",
                                 rt_cni_net_plugin_type(net, i));
    mk_info("pod network: \"%s\" from %s (CNI %s: %s), plugins from %s", rt_cni_net_name(net),
            rt_cni_net_file(net), rt_cni_net_version(net), plugins, cfg->cni_bin_dir);
    rt_cni_net_free(net);
}

int agent_network_setup(agent *a, mk_err *err)
{
    const agent_config *c = &a->cfg;
    if (c->network_none) {
        mk_info("pod network: none (--network=none): pods get a loopback interface only");
        return 0;
    }
    int r;
    if ((r = mk_mkdir_p(c->netns_dir, 0755, err)) < 0 ||
        (r = mk_mkdir_p(c->cni_cache_dir, 0700, err)) < 0)
        return r;
    if ((r = make_shared_mount(c->netns_dir, err)) < 0)
        return r;
    char *written = NULL;
    r = rt_cni_write_default(c->cni_conf_dir, c->cni_bridge, c->pod_cidr, c->ipam_dir, &written,
                             err);
    if (r == -EINVAL) /* a bad --pod-cidr or --cni-bridge: the flags are wrong */
        return mk_err_wrap(err, "default pod network");
    if (r < 0) { /* e.g. a read-only conf dir: pods report NetworkNotReady until it is fixed */
        mk_error("pod network: cannot write the default network config: %s", err->msg);
        mk_err_clear(err);
    }
    if (r == 1)
        mk_info("pod network: %s held no config; wrote the default network to %s (bridge %s, "
                "subnet %s, IP masquerade, host ports)",
                c->cni_conf_dir, written, c->cni_bridge, c->pod_cidr);
    free(written);
    log_network(c);
    return 0;
}

static bool dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return true;
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)) != NULL)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    return empty;
}

void agent_network_release(const agent_config *cfg)
{
    if (!cfg->netns_dir || !dir_empty(cfg->netns_dir))
        return;
    if (umount2(cfg->netns_dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        mk_warn("unmount %s: %s", cfg->netns_dir, strerror(errno));
}

/* ---- attach and detach (thread pool) ---- */

static bool is_pinned(const char *path)
{
    struct statfs sf;
    return statfs(path, &sf) == 0 && sf.f_type == NSFS_MAGIC;
}

int agent_network_detach(const agent_config *cfg, const char *uid, mk_err *err)
{
    cleanup_free char *path = agent_network_netns_path(cfg, uid);
    rt_cni_opts o = cni_opts(cfg);
    rt_cni_pod p = {.container_id = uid, .netns = is_pinned(path) ? path : NULL};
    int r = rt_cni_del(&o, &p, err);
    if (r < 0)
        return r;
    mk_err e = {0};
    if (rt_cni_netns_unpin(path, &e) < 0)
        mk_warn("%s", e.msg);
    return r;
}

int agent_network_set_aside(const agent_config *cfg, const char *uid, char **where, mk_err *err)
{
    rt_cni_opts o = cni_opts(cfg);
    return rt_cni_set_aside_incomplete(&o, uid, NULL, where, err);
}

int agent_network_attach(const agent_config *cfg, const char *uid, const podspec_pod *spec,
                         pid_t shim_pid, rt_cni_result *res, agent_net_fail *fail, mk_err *err)
{
    *fail = AGENT_NET_NOT_READY;
    rt_cni_net *net = NULL;
    int r = rt_cni_load(cfg->cni_conf_dir, &net, err);
    if (r < 0)
        return r;
    *fail = AGENT_NET_FAILED;
    cleanup_free char *path = agent_network_netns_path(cfg, uid);
    mk_err e = {0};
    rt_cni_netns_unpin(path, &e); /* a stale pin of an earlier sandbox (already DELed) */
    if ((r = rt_cni_netns_pin(shim_pid, path, err)) < 0) {
        rt_cni_net_free(net);
        return mk_err_wrap(err, "pin the pod's network namespace");
    }
    rt_cni_portmap *ports = NULL;
    size_t n_ports = rt_cni_portmaps_from_pod(spec, &ports);
    rt_cni_opts o = cni_opts(cfg);
    rt_cni_pod p = {.container_id = uid,
                    .netns = path,
                    .pod_namespace = spec->namespace_,
                    .pod_name = spec->name,
                    .pod_uid = uid,
                    .ports = ports,
                    .n_ports = n_ports};
    r = rt_cni_add(&o, net, &p, res, err);
    free(ports);
    rt_cni_net_free(net);
    if (r < 0) {
        /* the plugins that ran were undone; take the pin away too (or DEL what is left) */
        mk_err d = {0};
        if (agent_network_detach(cfg, uid, &d) < 0)
            mk_warn("pod %s/%s: %s", spec->namespace_, spec->name, d.msg);
        /* a plugin that could not be started (its binary is not in the search path) means
         * the network is not ready; anything else is a failed setup */
        *fail = r == -ENOENT && res->error_plugin ? AGENT_NET_NOT_READY : AGENT_NET_FAILED;
        return r;
    }
    *fail = AGENT_NET_OK;
    return 0;
}

int agent_network_cached(const agent_config *cfg, const char *uid, rt_cni_result *res)
{
    rt_cni_opts o = cni_opts(cfg);
    mk_err err = {0};
    int r = rt_cni_cached_result(&o, uid, NULL, res, &err);
    if (r < 0)
        mk_warn("pod uid %s: CNI cache: %s", uid, err.msg);
    return r;
}

/* ---- the sweep ---- */

typedef struct sweep_job {
    uv_work_t req;
    agent *a;
    char *uid;
    int rc;
    mk_err err;
} sweep_job;

bool agent_network_sweeping(const agent *a, const char *uid)
{
    for (size_t i = 0; i < a->n_net_sweeping; i++)
        if (strcmp(a->net_sweeping[i], uid) == 0)
            return true;
    return false;
}

static void sweep_forget(agent *a, const char *uid)
{
    for (size_t i = 0; i < a->n_net_sweeping; i++) {
        if (strcmp(a->net_sweeping[i], uid) != 0)
            continue;
        free(a->net_sweeping[i]);
        a->net_sweeping[i] = a->net_sweeping[--a->n_net_sweeping];
        return;
    }
}

static void on_sweep_timer(uv_timer_t *t)
{
    agent_network_sweep(t->data);
}

void agent_network_retry_later(agent *a)
{
    if (a->shutting_down)
        return;
    if (!a->net_sweep_timer) {
        a->net_sweep_timer = xcalloc(1, sizeof(*a->net_sweep_timer));
        uv_timer_init(a->loop, a->net_sweep_timer);
        a->net_sweep_timer->data = a;
    }
    double ms = SWEEP_RETRY_SEC * 1000.0 * a->cfg.backoff_scale;
    uv_timer_start(a->net_sweep_timer, on_sweep_timer, ms < 1000 ? 1000 : (uint64_t)ms, 0);
}

static void sweep_work(uv_work_t *req)
{
    sweep_job *j = req->data;
    j->rc = agent_network_detach(&j->a->cfg, j->uid, &j->err);
}

static void sweep_after(uv_work_t *req, int status)
{
    sweep_job *j = req->data;
    agent *a = j->a;
    if (status < 0 && j->rc >= 0)
        j->rc = mk_errf(&j->err, -status, "cancelled");
    if (j->rc < 0) {
        mk_warn("pod uid %s: removing its network attachment failed (retrying later): %s", j->uid,
                j->err.msg);
        agent_network_retry_later(a);
    } else {
        mk_info("pod uid %s: removed the network attachment of a pod that is gone", j->uid);
    }
    sweep_forget(a, j->uid);
    agent_pod *pod = a->shutting_down ? NULL : agent_pod_find_uid(a, j->uid);
    if (pod)
        agent_pod_kick(pod);
    free(j->uid);
    free(j);
}

static void sweep_one(agent *a, const char *uid)
{
    if (agent_pod_find_uid(a, uid) || agent_network_sweeping(a, uid))
        return;
    a->net_sweeping = xrealloc(a->net_sweeping, (a->n_net_sweeping + 1) * sizeof(char *));
    a->net_sweeping[a->n_net_sweeping++] = xstrdup(uid);
    sweep_job *j = xcalloc(1, sizeof(*j));
    j->a = a;
    j->uid = xstrdup(uid);
    j->req.data = j;
    int r = uv_queue_work(a->loop, &j->req, sweep_work, sweep_after);
    if (r < 0) {
        j->rc = mk_errf(&j->err, -r, "cannot queue work: %s", uv_strerror(r));
        sweep_after(&j->req, 0);
    }
}

void agent_network_sweep(agent *a)
{
    if (a->shutting_down)
        return;
    rt_cni_opts o = cni_opts(&a->cfg);
    rt_cni_attachment *att = NULL;
    size_t n = 0;
    mk_err err = {0};
    if (rt_cni_list_attachments(&o, &att, &n, &err) < 0) {
        if (err.code != ENOENT)
            mk_warn("CNI cache: %s", err.msg);
        n = 0;
    }
    for (size_t i = 0; i < n; i++)
        sweep_one(a, att[i].container_id);
    rt_cni_attachments_free(att, n);
    /* pins without an attachment (an ADD that never got to write its cache) */
    DIR *d = opendir(a->cfg.netns_dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            sweep_one(a, de->d_name);
    if (d)
        closedir(d);
}

/* ---- removing everything (`mini-kubelet down`) ---- */

typedef struct detach_all {
    const agent_config *cfg;
    char **uids;
    size_t n, next;
    int failed;
    uv_mutex_t lock;
} detach_all;

static void detach_thread(void *arg)
{
    detach_all *d = arg;
    for (;;) {
        uv_mutex_lock(&d->lock);
        size_t i = d->next < d->n ? d->next++ : d->n;
        uv_mutex_unlock(&d->lock);
        if (i >= d->n)
            return;
        mk_err err = {0};
        if (agent_network_detach(d->cfg, d->uids[i], &err) < 0) {
            mk_warn("pod uid %s: %s", d->uids[i], err.msg);
            uv_mutex_lock(&d->lock);
            d->failed++;
            uv_mutex_unlock(&d->lock);
        }
    }
}

static void add_uid(detach_all *d, const char *uid)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->uids[i], uid) == 0)
            return;
    d->uids = xrealloc(d->uids, (d->n + 1) * sizeof(char *));
    d->uids[d->n++] = xstrdup(uid);
}

int agent_network_detach_all(const agent_config *cfg)
{
    detach_all d = {.cfg = cfg};
    rt_cni_opts o = cni_opts(cfg);
    rt_cni_attachment *att = NULL;
    size_t n = 0;
    mk_err err = {0};
    if (rt_cni_list_attachments(&o, &att, &n, &err) < 0)
        n = 0;
    for (size_t i = 0; i < n; i++)
        add_uid(&d, att[i].container_id);
    rt_cni_attachments_free(att, n);
    DIR *dir = opendir(cfg->netns_dir);
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.')
            add_uid(&d, de->d_name);
    if (dir)
        closedir(dir);
    uv_mutex_init(&d.lock);
    uv_thread_t th[4];
    size_t nth = d.n < 4 ? d.n : 4;
    for (size_t i = 0; i < nth; i++)
        if (uv_thread_create(&th[i], detach_thread, &d) != 0)
            nth = i;
    detach_thread(&d); /* the caller works too (and alone if no thread started) */
    for (size_t i = 0; i < nth; i++)
        uv_thread_join(&th[i]);
    uv_mutex_destroy(&d.lock);
    for (size_t i = 0; i < d.n; i++)
        free(d.uids[i]);
    free(d.uids);
    return d.failed;
}
