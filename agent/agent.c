/* agent.c - the agent's start (directories, token, images, cgroups, recovery, API, source),
 * its loop, and its stop on SIGTERM/SIGINT, which leaves the pods running. */
#include "agent.h"
#include "image_tool.h"

#include "api.h"
#include "config.h"
#include "events.h"
#include "network.h"
#include "sources.h"
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *first_host_ipv4(void)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0)
        return NULL;
    char *out = NULL;
    for (struct ifaddrs *i = ifs; i && !out; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
            !(i->ifa_flags & IFF_UP))
            continue;
        char buf[INET_ADDRSTRLEN];
        const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
        if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)))
            out = xstrdup(buf);
    }
    freeifaddrs(ifs);
    return out;
}

static int make_dirs(agent *a, mk_err *err)
{
    const agent_config *c = &a->cfg;
    cleanup_free char *etc = agent_path(c->root_dir, "etc/mini-kubelet");
    cleanup_free char *def_manifests = agent_path(c->root_dir, "etc/mini-kubelet/manifests");
    cleanup_free char *import = agent_path(c->images_dir, "import");
    cleanup_free char *run = agent_path(c->root_dir, "run/mini-kubelet");
    const char *dirs[] = {etc, c->images_dir, import, c->pods_state_dir, run, c->pods_log_dir};
    for (size_t i = 0; i < MK_ARRAY_LEN(dirs); i++) {
        int r = mk_mkdir_p(dirs[i], 0755, err);
        if (r < 0)
            return r;
    }
    int r = mk_mkdir_p(c->pods_run_dir, 0700, err);
    if (r < 0)
        return r;
    if (strcmp(c->manifest_dir, def_manifests) == 0 &&
        (r = mk_mkdir_p(def_manifests, 0755, err)) < 0)
        return r;
    const char *slash = strrchr(c->socket_path, '/');
    if (slash && slash != c->socket_path) {
        cleanup_free char *sdir = xstrndup(c->socket_path, (size_t)(slash - c->socket_path));
        r = mk_mkdir_p(sdir, 0755, err);
    }
    return r;
}

static int open_images(agent *a, mk_err *err)
{
    int r = rt_image_store_open(a->cfg.images_dir, &a->images, err);
    if (r < 0)
        return mk_err_wrap(err, "image store");
    cleanup_free char *import = agent_path(a->cfg.images_dir, "import");
    if (agent_image_tool_import_dir(&a->cfg, import, err) < 0)
        mk_warn("importing images from %s: %s", import, err->msg);
    mk_err_clear(err);
    return 0;
}

static void on_source(void *arg, podspec_pod *const *pods, size_t n)
{
    agent_pods_apply(arg, pods, n);
}

static int start_api(agent *a, mk_err *err)
{
    api_config ac = {
        .socket_path = a->cfg.socket_path[0] ? a->cfg.socket_path : NULL,
        .listen_addr = a->cfg.listen_addr[0] ? a->cfg.listen_addr : NULL,
        .token = a->token,
        .tls_cert_file = a->cfg.tls_cert_file,
        .tls_key_file = a->cfg.tls_key_file,
    };
    int r = api_server_start(a->loop, &ac, a, &a->api, err);
    if (r < 0)
        return mk_err_wrap(err, "API");
    mk_info("API listening on %s%s%s", ac.socket_path ? ac.socket_path : "",
            ac.socket_path && ac.listen_addr ? " and " : "", ac.listen_addr ? ac.listen_addr : "");
    return 0;
}

static void on_api_closed(void *arg)
{
    (void)arg;
}

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void agent_stop(agent *a, const char *why)
{
    if (a->shutting_down)
        return;
    mk_info("stopping the agent (%s); pods keep running", why);
    a->shutting_down = true;
    if (a->sources) {
        agent_sources_close(a->sources, NULL, NULL);
        a->sources = NULL;
        a->manifests = NULL;
    }
    if (a->api) {
        api_server_close(a->api, on_api_closed, a);
        a->api = NULL;
    }
    agent_pods_detach_all(a);
    if (a->net_sweep_timer) {
        uv_close((uv_handle_t *)a->net_sweep_timer, on_timer_closed);
        a->net_sweep_timer = NULL;
    }
    if (a->sig_term.loop) {
        uv_close((uv_handle_t *)&a->sig_term, on_signal_closed);
        uv_close((uv_handle_t *)&a->sig_int, on_signal_closed);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    agent_stop(s->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* Everything before the loop runs. Blocking work here is fine: nothing is served yet. */
static int agent_start(agent *a, mk_err *err)
{
    int r;
    cleanup_free char *pidfile = agent_path(a->cfg.root_dir, "run/mini-kubelet/agent.pid");
    if ((r = make_dirs(a, err)) < 0)
        return r;
    if ((a->pidfile_fd = agent_pidfile_lock(pidfile, err)) < 0)
        return a->pidfile_fd;
    if ((r = agent_token_load(a->cfg.token_file, &a->token, err)) < 0)
        return r;
    a->host_ip = first_host_ipv4();
    if ((r = start_api(a, err)) < 0)
        return r;
    if ((r = open_images(a, err)) < 0)
        return r;
    a->cgroup_subtree = agent_cgroup_subtree(a->cfg.root_dir);
    if ((r = rt_cgroup_init(a->cfg.cgroup_root, a->cgroup_subtree, &a->cgroups, err)) < 0)
        return mk_err_wrap(err, "cgroups");
    if ((r = agent_network_setup(a, err)) < 0)
        return r;
    a->events = agent_events_new(AGENT_EVENTS_DEFAULT_CAPACITY, a->cfg.node_name);
    agent_recover(a);
    agent_network_sweep(a);
    r = agent_sources_start(a->loop, a->cfg.manifest_dir, a->cfg.resync_seconds, on_source, a,
                            &a->sources, err);
    if (r < 0)
        return r;
    a->manifests = (struct agent_manifests *)agent_sources_manifests(a->sources);
    uv_signal_init(a->loop, &a->sig_term);
    uv_signal_init(a->loop, &a->sig_int);
    a->sig_term.data = a->sig_int.data = a;
    uv_signal_start(&a->sig_term, on_signal, SIGTERM);
    uv_signal_start(&a->sig_int, on_signal, SIGINT);
    mk_info("mini-kubelet %s started: node %s, root %s, manifests %s, cgroup subtree %s",
            MK_VERSION, a->cfg.node_name, a->cfg.root_dir, a->cfg.manifest_dir, a->cgroup_subtree);
    return 0;
}

static void agent_free(agent *a)
{
    if (a->images)
        rt_image_store_close(a->images);
    if (a->cgroups)
        rt_cgroup_free(a->cgroups);
    if (a->pidfile_fd > 0)
        close(a->pidfile_fd);
    free(a->token);
    free(a->host_ip);
    free(a->cgroup_subtree);
    agent_events_free(a->events);
    for (size_t i = 0; i < a->n_net_sweeping; i++)
        free(a->net_sweeping[i]);
    free(a->net_sweeping);
    agent_network_release(&a->cfg);
    uv_mutex_destroy(&a->images_lock);
    uv_mutex_destroy(&a->cgroups_lock);
    agent_config_free(&a->cfg);
}

int agent_run(agent_config *cfg)
{
    agent a = {0};
    a.cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    a.pidfile_fd = -1;
    uv_loop_t loop;
    int r = uv_loop_init(&loop);
    if (r < 0) {
        mk_error("event loop: %s", uv_strerror(r));
        agent_config_free(&a.cfg);
        return 1;
    }
    a.loop = &loop;
    uv_mutex_init(&a.images_lock);
    uv_mutex_init(&a.cgroups_lock);
    mk_err err = {0};
    if (agent_start(&a, &err) < 0) {
        mk_error("cannot start: %s", err.msg);
        a.exit_code = 1;
        agent_stop(&a, "start failed");
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int code = a.exit_code;
    agent_free(&a);
    if (uv_loop_close(&loop) == UV_EBUSY)
        mk_debug("event loop closed with handles still open");
    return code;
}
