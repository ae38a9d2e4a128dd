/* cni.c - attaching and detaching a pod: the ADD chain, the DEL chain and their cache
 * (see cni.h for the contract). */
#include "cni_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { NETNS_OK, NETNS_GONE, NETNS_HOST } netns_state;

/* Is `path` a live namespace other than our own? */
static netns_state check_netns(const char *path, int *e)
{
    struct stat st, self;
    *e = 0;
    if (stat(path, &st) < 0) {
        *e = errno;
        return NETNS_GONE;
    }
    if (stat("/proc/self/ns/net", &self) == 0 && st.st_dev == self.st_dev &&
        st.st_ino == self.st_ino)
        return NETNS_HOST;
    return NETNS_OK;
}

static bool valid_ifname(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 15 && !strpbrk(s, "/: \t\n") && strcmp(s, ".") && strcmp(s, "..");
}

static int check_pod(const rt_cni_opts *opts, const rt_cni_pod *pod, mk_err *err)
{
    if (!opts || !opts->cache_dir || !*opts->cache_dir)
        return mk_errf(err, EINVAL, "CNI: no cache dir configured");
    if (!rt_cni_valid_id(pod->container_id))
        return mk_errf(err, EINVAL,
                       "CNI container id \"%s\": must start with a letter or digit, then "
                       "letters, digits, '_', '.' or '-'",
                       pod->container_id ? pod->container_id : "");
    const char *ifname = pod->ifname ? pod->ifname : RT_CNI_DEFAULT_IFNAME;
    if (!valid_ifname(ifname))
        return mk_errf(err, EINVAL, "CNI interface name \"%s\": 1 to 15 characters, no '/'",
                       ifname);
    return 0;
}

static const char *bin_path(const rt_cni_opts *opts)
{
    return opts->bin_path && *opts->bin_path ? opts->bin_path : RT_CNI_DEFAULT_BIN_PATH;
}

/* ---- DEL ---- */

/* Run DEL for every plugin of `net` in reverse; the first error is returned, after all ran. */
static int del_chain(const rt_cni_opts *opts, const rt_cni_net *net, size_t n,
                     const rt_cni_cache *c, const char *netns, mk_err *err)
{
    cleanup_free char *args = rt_cni_args_join(c->cni_args);
    rt_cni_call call = {.command = "DEL",
                        .container_id = c->container_id,
                        .netns = netns,
                        .ifname = c->ifname,
                        .args = args,
                        .bin_path = bin_path(opts),
                        .timeout_ms = opts->timeout_ms};
    int first = 0;
    for (size_t i = n; i-- > 0;) {
        cleanup_free char *in = rt_cni_plugin_stdin(net, i, c->result, c->port_maps);
        cleanup_free char *out = NULL;
        mk_err e = {0};
        int code;
        int r = rt_cni_exec(&call, net->plugins[i].type, in, &out, &code, &e);
        if (r < 0 && first == 0) {
            first = r;
            *err = e;
        } else if (r < 0) {
            mk_warn("CNI network %s: container %s: %s", net->name, c->container_id, e.msg);
        }
    }
    return first < 0 ? mk_err_wrap(err, "CNI network %s", net->name) : 0;
}

/* The netns DEL may use: the caller's path while it is a live namespace that is not ours. */
static const char *del_netns(const char *netns, const char *cid)
{
    if (!netns || !*netns)
        return "";
    int e;
    switch (check_netns(netns, &e)) {
    case NETNS_OK:
        return netns;
    case NETNS_HOST:
        mk_warn("CNI DEL for %s: %s is this host's network namespace; not passing it", cid, netns);
        return "";
    default:
        return "";
    }
}

static int del_cached(const rt_cni_opts *opts, const char *path, const rt_cni_pod *pod, mk_err *err)
{
    rt_cni_cache c;
    mk_err e = {0};
    if (rt_cni_cache_read(path, &c, &e) < 0) {
        if (e.code == ENOENT)
            return 0; /* removed meanwhile */
        mk_warn("%s; removing it (nothing can be undone without its config)", e.msg);
        unlink(path);
        return 0;
    }
    int r = 0;
    const char *ifname = pod->ifname ? pod->ifname : RT_CNI_DEFAULT_IFNAME;
    if (strcmp(c.container_id, pod->container_id) != 0 || strcmp(c.ifname, ifname) != 0)
        goto out; /* a network name ending like this container id: not ours */
    rt_cni_net *net = NULL;
    r = rt_cni_load_bytes(c.config, path, &net, err);
    if (r < 0)
        goto out;
    r = del_chain(opts, net, net->n_plugins, &c, del_netns(pod->netns, c.container_id), err);
    rt_cni_net_free(net);
    if (r == 0 && unlink(path) < 0 && errno != ENOENT)
        r = mk_errf_sys(err, errno, "remove CNI cache %s", path);
out:
    rt_cni_cache_free(&c);
    return r;
}

int rt_cni_del(const rt_cni_opts *opts, const rt_cni_pod *pod, mk_err *err)
{
    int r = check_pod(opts, pod, err);
    if (r < 0)
        return r;
    char **paths = NULL;
    const char *ifname = pod->ifname ? pod->ifname : RT_CNI_DEFAULT_IFNAME;
    r = rt_cni_cache_find(opts->cache_dir, pod->container_id, ifname, &paths, err);
    if (r < 0)
        return r;
    int first = 0;
    for (size_t i = 0; paths[i]; i++) {
        mk_err e = {0};
        r = del_cached(opts, paths[i], pod, &e);
        if (r < 0 && first == 0) {
            first = r;
            *err = e;
        }
    }
    rt_cni_strv_free(paths);
    return first;
}

/* ---- ADD ---- */

/* On failure *ran is the number of plugins that may have changed something (the failed one
 * included, unless it could not be started). */
static int add_chain(const rt_cni_opts *opts, const rt_cni_net *net, rt_cni_cache *c,
                     rt_cni_result *res, size_t *ran, mk_err *err)
{
    cleanup_free char *args = rt_cni_args_join(c->cni_args);
    rt_cni_call call = {.command = "ADD",
                        .container_id = c->container_id,
                        .netns = c->netns,
                        .ifname = c->ifname,
                        .args = args,
                        .bin_path = bin_path(opts),
                        .timeout_ms = opts->timeout_ms};
    for (size_t i = 0; i < net->n_plugins; i++) {
        const char *type = net->plugins[i].type;
        cleanup_free char *in = rt_cni_plugin_stdin(net, i, c->result, c->port_maps);
        cleanup_free char *out = NULL;
        int r = rt_cni_exec(&call, type, in, &out, &res->error_code, err);
        *ran = r == -ENOENT ? i : i + 1;
        if (r < 0) {
            res->error_plugin = xstrdup(type);
            return r;
        }
        cJSON *next = cJSON_Parse(out);
        if (!cJSON_IsObject(next)) {
            cJSON_Delete(next);
            res->error_plugin = xstrdup(type);
            return mk_errf(err, EPROTO, "CNI plugin %s ADD: its result is not a JSON object", type);
        }
        cJSON_Delete(c->result);
        c->result = next;
    }
    return 0;
}

static int build_cache(const rt_cni_net *net, const rt_cni_pod *pod, rt_cni_cache *c, mk_err *err)
{
    memset(c, 0, sizeof(*c));
    int r = rt_cni_args_pairs(pod, &c->cni_args, err);
    if (r < 0)
        return r;
    r = rt_cni_portmaps_json(pod->ports, pod->n_ports, &c->port_maps, err);
    if (r < 0)
        return r;
    c->network = xstrdup(net->name);
    c->container_id = xstrdup(pod->container_id);
    c->ifname = xstrdup(pod->ifname ? pod->ifname : RT_CNI_DEFAULT_IFNAME);
    c->netns = xstrdup(pod->netns);
    c->config = xstrdup(net->bytes);
    return 0;
}

/* Undo a failed ADD: DEL of the first `ran` plugins in reverse (those after the failed one
 * never saw the pod), then the cache file if that worked. */
static void rollback(const rt_cni_opts *opts, const rt_cni_net *net, size_t ran,
                     const rt_cni_cache *c)
{
    mk_err e = {0};
    if (del_chain(opts, net, ran, c, del_netns(c->netns, c->container_id), &e) < 0) {
        mk_warn("CNI: undoing the failed ADD of %s: %s (the cache keeps it for a later DEL)",
                c->container_id, e.msg);
        return;
    }
    cleanup_free char *path =
        rt_cni_cache_path(opts->cache_dir, c->network, c->container_id, c->ifname);
    if (unlink(path) < 0 && errno != ENOENT)
        mk_warn("CNI: remove %s: %s", path, strerror(errno));
}

static int check_add_netns(const rt_cni_pod *pod, mk_err *err)
{
    if (!pod->netns || !*pod->netns)
        return mk_errf(err, EINVAL, "CNI ADD for %s: no network namespace path", pod->container_id);
    int e;
    netns_state s = check_netns(pod->netns, &e);
    if (s == NETNS_GONE)
        return mk_errf_sys(err, e, "CNI ADD for %s: network namespace %s", pod->container_id,
                           pod->netns);
    if (s == NETNS_HOST)
        return mk_errf(err, EINVAL,
                       "CNI ADD for %s: %s is this host's network namespace, not the pod's",
                       pod->container_id, pod->netns);
    return 0;
}

static int run_add(const rt_cni_opts *opts, const rt_cni_net *net, rt_cni_cache *c,
                   rt_cni_result *res, mk_err *err)
{
    int r = rt_cni_cache_write(opts->cache_dir, c, err);
    if (r < 0)
        return r;
    size_t ran = 0;
    r = add_chain(opts, net, c, res, &ran, err);
    if (r < 0) {
        mk_err_wrap(err, "CNI network %s", net->name);
        rollback(opts, net, ran, c);
        return r;
    }
    char *json = cJSON_PrintUnformatted(c->result);
    rt_cni_result parsed;
    r = rt_cni_result_parse(json, c->ifname, &parsed, err);
    free(json);
    if (r >= 0)
        r = rt_cni_cache_write(opts->cache_dir, c, err);
    if (r < 0) {
        if (r == -EINVAL)
            r = -EPROTO;
        mk_err_wrap(err, "CNI network %s", net->name);
        rollback(opts, net, net->n_plugins, c);
        if (parsed.json)
            rt_cni_result_free(&parsed);
        return r;
    }
    *res = parsed;
    return 0;
}

int rt_cni_add(const rt_cni_opts *opts, const rt_cni_net *net, const rt_cni_pod *pod,
               rt_cni_result *res, mk_err *err)
{
    memset(res, 0, sizeof(*res));
    int r = check_pod(opts, pod, err);
    if (r >= 0)
        r = check_add_netns(pod, err);
    if (r < 0)
        return r;
    /* Leftovers of an earlier sandbox with this id: its netns is not this one (and its path
     * may name another process by now), so DEL runs without one. */
    rt_cni_pod old = *pod;
    old.netns = NULL;
    r = rt_cni_del(opts, &old, err);
    if (r < 0)
        return mk_err_wrap(err, "CNI ADD for %s: the previous attachment could not be removed",
                           pod->container_id);
    rt_cni_cache c;
    r = build_cache(net, pod, &c, err);
    if (r >= 0)
        r = run_add(opts, net, &c, res, err);
    rt_cni_cache_free(&c);
    return r;
}
