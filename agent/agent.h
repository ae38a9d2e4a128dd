/* agent.h - the agent's context and its internal API between agent modules.
 *
 * One `agent` per process, created by main(). Everything runs on a.loop's thread except work
 * handed to the libuv thread pool (uv_queue_work), which never touches the pod table.
 */
#ifndef MK_AGENT_H
#define MK_AGENT_H

#include "agent_api.h"
#include "cgroup.h"
#include "image.h"
#include "mk_base.h"
#include "podspec.h"

#include <uv.h>

typedef struct agent_pod agent_pod;

typedef struct agent_config {
    char *root_dir;     /* "/" by default; prefixes every path below */
    char *manifest_dir; /* default <root>/etc/mini-kubelet/manifests */
    char *listen_addr;  /* default 127.0.0.1:10250; "" disables TCP */
    char *socket_path;  /* default <root>/run/mini-kubelet/api.sock */
    char *node_name;    /* default: hostname, lowercased */
    char *token_file;   /* default <root>/etc/mini-kubelet/token (0600, made on first start) */
    char *tls_cert_file, *tls_key_file;
    char *cgroup_root; /* NULL: beneath the agent's own cgroup */
    char *shim_path;   /* default: mini-kubelet-shim next to the agent executable */
    mk_log_level log_level;
    double backoff_scale; /* 1.0: crash-loop backoff 10 s doubling to 300 s; tests use less */
    int resync_seconds;   /* 20 */
    /* pod network */
    bool network_none;   /* --network=none: pods get loopback only */
    char *cni_conf_dir;  /* default <root>/etc/cni/net.d */
    char *cni_bin_dir;   /* ':'-separated search path; default /opt/cni/bin:/usr/lib/cni */
    char *cni_cache_dir; /* default <root>/var/lib/cni */
    char *pod_cidr;      /* subnet of the default network; default 10.88.0.0/16 */
    char *cni_bridge;    /* bridge of the default network; default mk0 */
    /* derived paths */
    char *images_dir;     /* <root>/var/lib/mini-kubelet/images */
    char *pods_state_dir; /* <root>/var/lib/mini-kubelet/pods */
    char *pods_run_dir;   /* <root>/run/mini-kubelet/pods */
    char *pods_log_dir;   /* <root>/var/log/pods */
    char *netns_dir;      /* <root>/run/mini-kubelet/netns: pinned pod network namespaces */
    char *ipam_dir;       /* <root>/var/lib/cni/networks: host-local leases of the default net */
} agent_config;

struct agent {
    uv_loop_t *loop;
    agent_config cfg;
    char *token;
    char *host_ip; /* first non-loopback IPv4, or NULL */
    rt_image_store *images;
    rt_cgroups *cgroups;
    struct api_server *api;
    agent_pod *pods; /* every pod the agent manages (linked list) */
    struct agent_sources *sources;
    struct agent_manifests *manifests; /* per-file state for GET /manifests */
    bool shutting_down;
    /* added: */
    char *cgroup_subtree;   /* "mini-kubelet" or "mini-kubelet-<8 hex>" */
    uv_mutex_t images_lock; /* the image store is used by one thread at a time */
    uv_mutex_t cgroups_lock;
    int pidfile_fd; /* holds the lock on <root>/run/mini-kubelet/agent.pid */
    int exit_code;  /* what main returns when the loop ends */
    uv_signal_t sig_term, sig_int;
    struct agent_events *events; /* the Event ring (events.h) */
    char **net_sweeping;         /* uids whose network attachment is being removed (network.c) */
    size_t n_net_sweeping;
    uv_timer_t *net_sweep_timer; /* retries a failed removal */
};

/* Pod table lookups (agent/pods.c). While a changed pod is replaced, two pods with one
 * ns/name exist for a moment: the lookups return the newer one unless only the old exists. */
agent_pod *agent_pod_find(agent *a, const char *ns, const char *name);
agent_pod *agent_pod_find_uid(agent *a, const char *uid);

/* Run the agent until SIGTERM/SIGINT (agent/agent.c). cfg is moved into the agent.
 * Returns the process exit code. */
int agent_run(agent_config *cfg);

/* `mini-kubelet down`: stop every pod of cfg->root_dir (agent/down.c). Returns the exit code. */
int agent_down(const agent_config *cfg);

#endif
