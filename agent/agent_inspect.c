/* agent_inspect.c - `top` (the processes of a container, like docker top) and `inspect`
 * (host pids, cgroups and namespaces of the sandbox and of each container).
 *
 * Both read small /proc and cgroup files synchronously: they are snapshots, cheap enough for
 * the loop.
 */
#include "agent_api_int.h"
#include "procinfo.h"
#include "network.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const ns_types[] = {"net", "ipc", "uts", "pid", "mnt", "cgroup", "user"};
#define N_NS MK_ARRAY_LEN(ns_types)

/* ---- top ---- */

static int cmp_pid(const void *x, const void *y)
{
    pid_t a = *(const pid_t *)x, b = *(const pid_t *)y;
    return (a > b) - (a < b);
}

static cJSON *proc_row(const rt_proc_info *pi)
{
    char pid[24];
    snprintf(pid, sizeof(pid), "%d", (int)pi->pid);
    cJSON *row = cJSON_CreateArray();
    cJSON_AddItemToArray(row, cJSON_CreateString(pid));
    cJSON_AddItemToArray(row, cJSON_CreateString(pi->user));
    cJSON_AddItemToArray(row, cJSON_CreateString(pi->time));
    cJSON_AddItemToArray(row, cJSON_CreateString(pi->cmd ? pi->cmd : ""));
    return row;
}

cJSON *agent_api_top(agent *a, const char *ns, const char *pod_name, const char *container,
                     mk_err *err)
{
    agent_pod *pod = agent_api_find_pod(a, ns, pod_name, err);
    if (!pod)
        return NULL;
    agent_ctr *c = agent_api_find_ctr(pod, container, err);
    if (!c)
        return NULL;
    if (!c->cur.id[0] || c->cur.state != RT_CTR_RUNNING) {
        mk_errf(err, EINVAL, "container %s is not running", container);
        return NULL;
    }
    if (!a->cgroups) {
        mk_errf(err, EIO, "top of container %s: cgroups are not available", container);
        return NULL;
    }
    cleanup_free char *rel = xasprintf("%s/%s", pod->cgroup_rel, container);
    cleanup_free pid_t *pids = NULL;
    size_t n = 0;
    if (rt_cgroup_pids(a->cgroups, rel, &pids, &n, err) < 0) {
        mk_err_wrap(err, "top of container %s", container);
        return NULL;
    }
    qsort(pids, n, sizeof(*pids), cmp_pid);

    cJSON *j = cJSON_CreateObject();
    cJSON *titles = cJSON_AddArrayToObject(j, "titles");
    const char *names[] = {"PID", "USER", "TIME", "COMMAND"};
    for (size_t i = 0; i < MK_ARRAY_LEN(names); i++)
        cJSON_AddItemToArray(titles, cJSON_CreateString(names[i]));
    cJSON *procs = cJSON_AddArrayToObject(j, "processes");
    for (size_t i = 0; i < n; i++) {
        rt_proc_info pi = {0};
        mk_err perr = {0};
        if (rt_proc_info_get(pids[i], &pi, &perr) < 0) {
            if (perr.code != ENOENT && perr.code != ESRCH)
                mk_debug("top of container %s: %s", container, perr.msg);
            continue; /* it exited meanwhile */
        }
        cJSON_AddItemToArray(procs, proc_row(&pi));
        rt_proc_info_free(&pi);
    }
    return j;
}

/* ---- inspect ---- */

typedef struct ns_set {
    uint64_t ino[N_NS]; /* 0: unknown */
} ns_set;

/* With one pid namespace per pod, the shim made it for its children (the reaper and the
 * containers); the shim itself stays in the namespace it started in. */
static int pid_ns_for_children(pid_t pid, uint64_t *ino)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/pid_for_children", (int)pid);
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

static void ns_read(pid_t pid, bool pod_pid_ns, ns_set *out)
{
    memset(out, 0, sizeof(*out));
    if (pid <= 0)
        return;
    for (size_t i = 0; i < N_NS; i++) {
        mk_err err = {0};
        const char *type = ns_types[i];
        if (pod_pid_ns && strcmp(type, "pid") == 0 && pid_ns_for_children(pid, &out->ino[i]) == 0)
            continue;
        if (rt_proc_ns_inode(pid, type, &out->ino[i], &err) < 0) {
            mk_debug("inspect: pid %d: %s", (int)pid, err.msg);
            out->ino[i] = 0;
        }
    }
}

static cJSON *ns_json(const ns_set *ns, const ns_set *sandbox, const ns_set *host)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < N_NS; i++) {
        if (!ns->ino[i])
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", ns_types[i]);
        cJSON_AddNumberToObject(o, "inode", (double)ns->ino[i]);
        cJSON_AddBoolToObject(o, "shared", ns->ino[i] == sandbox->ino[i]);
        cJSON_AddBoolToObject(o, "host", ns->ino[i] == host->ino[i]);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static void add_cgroup(cJSON *o, agent *a, const char *rel)
{
    char *path = a->cgroups ? rt_cgroup_display_path(a->cgroups, rel) : NULL;
    if (path)
        cJSON_AddStringToObject(o, "cgroup", path);
    else
        cJSON_AddNullToObject(o, "cgroup");
    free(path);
}

static const char *ctr_state_name(const agent_ctr *c)
{
    if (c->cur.id[0] && c->cur.state == RT_CTR_RUNNING)
        return "running";
    if (c->cur.id[0] && c->cur.state == RT_CTR_EXITED && !c->waiting_reason)
        return "exited";
    return "waiting";
}

static cJSON *ctr_json(agent *a, const agent_pod *pod, const agent_ctr *c, const ns_set *sandbox,
                       const ns_set *host)
{
    bool running = c->cur.id[0] && c->cur.state == RT_CTR_RUNNING;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c->spec->name);
    if (c->cur.id[0])
        cJSON_AddStringToObject(o, "id", c->cur.id);
    else
        cJSON_AddNullToObject(o, "id");
    cJSON_AddStringToObject(o, "state", ctr_state_name(c));
    cJSON_AddStringToObject(o, "image", c->spec->image);
    if (c->image_ref)
        cJSON_AddStringToObject(o, "imageRef", c->image_ref);
    cJSON_AddNumberToObject(o, "restartCount", c->restart_count);
    cJSON_AddNumberToObject(o, "pid", running ? c->cur.pid : 0);
    cleanup_free char *rel = xasprintf("%s/%s", pod->cgroup_rel, c->spec->name);
    add_cgroup(o, a, rel);
    ns_set ns;
    ns_read(running ? c->cur.pid : 0, false, &ns);
    cJSON_AddItemToObject(o, "namespaces", ns_json(&ns, sandbox, host));
    return o;
}

static void add_strv(cJSON *o, const char *key, char **v)
{
    if (!v || !v[0])
        return;
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    for (size_t i = 0; v[i]; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
}

/* The pod's network: host, none, or the CNI attachment (interfaces, addresses, routes, DNS). */
static cJSON *net_json(const agent *a, const agent_pod *pod)
{
    cJSON *o = cJSON_CreateObject();
    if (pod->spec->host_network) {
        cJSON_AddStringToObject(o, "mode", "host");
        return o;
    }
    const rt_cni_result *r = pod->net;
    if (!r) {
        cJSON_AddStringToObject(o, "mode", a->cfg.network_none ? "none" : "cni");
        cJSON_AddStringToObject(o, "state", a->cfg.network_none ? "loopback only" : "detached");
        return o;
    }
    cJSON_AddStringToObject(o, "mode", "cni");
    cJSON_AddStringToObject(o, "state", "attached");
    cleanup_free char *netns = agent_network_netns_path(&a->cfg, pod->uid);
    cJSON_AddStringToObject(o, "netns", netns);
    if (r->cni_version)
        cJSON_AddStringToObject(o, "cniVersion", r->cni_version);
    cJSON *ifs = cJSON_AddArrayToObject(o, "interfaces");
    for (size_t i = 0; i < r->n_ifaces; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", r->ifaces[i].name);
        if (r->ifaces[i].mac)
            cJSON_AddStringToObject(e, "mac", r->ifaces[i].mac);
        cJSON_AddStringToObject(e, "where", r->ifaces[i].sandbox ? "pod" : "host");
        cJSON_AddItemToArray(ifs, e);
    }
    cJSON *ips = cJSON_AddArrayToObject(o, "ips");
    for (size_t i = 0; i < r->n_ips; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "address", r->ips[i].address);
        if (r->ips[i].gateway)
            cJSON_AddStringToObject(e, "gateway", r->ips[i].gateway);
        if (r->ips[i].iface >= 0 && (size_t)r->ips[i].iface < r->n_ifaces)
            cJSON_AddStringToObject(e, "interface", r->ifaces[r->ips[i].iface].name);
        cJSON_AddItemToArray(ips, e);
    }
    cJSON *routes = cJSON_AddArrayToObject(o, "routes");
    for (size_t i = 0; i < r->n_routes; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dst", r->routes[i].dst);
        if (r->routes[i].gw)
            cJSON_AddStringToObject(e, "gw", r->routes[i].gw);
        cJSON_AddItemToArray(routes, e);
    }
    if (r->dns_nameservers || r->dns_search || r->dns_domain) {
        cJSON *d = cJSON_AddObjectToObject(o, "dns");
        add_strv(d, "nameservers", r->dns_nameservers);
        if (r->dns_domain)
            cJSON_AddStringToObject(d, "domain", r->dns_domain);
        add_strv(d, "search", r->dns_search);
        add_strv(d, "options", r->dns_options);
    }
    return o;
}

cJSON *agent_api_inspect(agent *a, const char *ns, const char *pod_name, mk_err *err)
{
    agent_pod *pod = agent_api_find_pod(a, ns, pod_name, err);
    if (!pod)
        return NULL;
    ns_set host, sandbox;
    ns_read(getpid(), false, &host);
    ns_read(pod->shim_pid, pod->spec->share_process_namespace, &sandbox);

    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "namespace", pod->spec->namespace_);
    cJSON_AddStringToObject(j, "name", pod->spec->name);
    cJSON_AddStringToObject(j, "uid", pod->uid);
    cJSON *sb = cJSON_AddObjectToObject(j, "sandbox");
    cJSON_AddNumberToObject(sb, "pid", pod->shim_pid);
    cJSON_AddBoolToObject(sb, "ready", pod->sandbox_ready);
    cleanup_free char *sandbox_cg = xasprintf("%s/%s", pod->cgroup_rel, AGENT_SANDBOX_CGROUP);
    add_cgroup(sb, a, sandbox_cg);
    cJSON_AddItemToObject(sb, "namespaces", ns_json(&sandbox, &sandbox, &host));
    cJSON_AddItemToObject(j, "network", net_json(a, pod));
    cJSON *ctrs = cJSON_AddArrayToObject(j, "containers");
    for (size_t i = 0; i < pod->n_ctrs; i++)
        cJSON_AddItemToArray(ctrs, ctr_json(a, pod, &pod->ctrs[i], &sandbox, &host));
    return j;
}
