/* cni.h - pod networking by executing standard CNI plugins (CNI spec 1.0.0).
 *
 * One network configuration (a plugin chain, "conflist") is loaded from the conf dir, the way
 * containerd and CRI-O pick it: the lexically first *.conflist, *.conf or *.json file. Each pod
 * is then attached with rt_cni_add (the plugins run in order, each one getting the previous
 * one's result as prevResult) and detached with rt_cni_del (reverse order, each one getting the
 * final ADD result).
 *
 * Loopback: not part of the chain. The pod's `lo` is brought up by the shim when it creates the
 * namespaces (the kernel then gives it 127.0.0.1/8 and ::1), which is what containerd's
 * built-in loopback network does; running the loopback plugin as a member of the eth0 chain
 * would be wrong (it acts on CNI_IFNAME).
 *
 * Cache: the inputs of every ADD (the conflist bytes, CNI_ARGS, the portMappings, the netns)
 * are written to <cache_dir>/results/<network>-<containerid>-<ifname> BEFORE the first plugin
 * runs, and the final result is added when the chain succeeds (libcni's "cniCacheV1" JSON,
 * mode 0600 in a 0700 dir, written atomically). rt_cni_del works from that file alone, so a
 * DEL after an agent restart (or after the conf dir changed) undoes exactly what was added,
 * with the same config and port mappings (portmap deletes nothing without them). The file goes
 * away only when every plugin's DEL succeeded. No cache file means nothing to undo.
 *
 * Netns: the caller passes a path (/proc/<shim pid>/ns/net, or a bind-mounted netns file) and
 * it goes to the plugins as CNI_NETNS. A path that is the calling process's own network
 * namespace is refused on ADD and dropped (CNI_NETNS empty) on DEL, so a recycled shim pid can
 * never make a plugin configure or delete the host's interfaces. DEL succeeds when the netns is
 * gone (CNI_NETNS is then passed empty and the plugins release what they can: IPAM leases,
 * port mappings). But the bridge plugin (1.1.1) removes the pod's ipMasq rule only while the
 * netns still exists (it reads the pod's addresses from it): to leak nothing when the shim
 * dies, pin the netns with rt_cni_netns_pin and pass the pinned path to ADD and DEL.
 *
 * Every call that runs plugins blocks (fork/exec and wait; seconds in the worst case, at most
 * opts->timeout_ms per plugin): call them from a worker thread, never from the event loop.
 * They are safe from several threads at once for different pods; never run two calls for the
 * same pod at the same time (CNI forbids it).
 */
#ifndef MK_RT_CNI_H
#define MK_RT_CNI_H

#include "mk_base.h"
#include "podspec.h"

#include <sys/types.h>

#define RT_CNI_DEFAULT_CONF_DIR  "/etc/cni/net.d"
#define RT_CNI_DEFAULT_BIN_PATH  "/opt/cni/bin:/usr/lib/cni"
#define RT_CNI_DEFAULT_SUBNET    "10.88.0.0/16"
#define RT_CNI_DEFAULT_BRIDGE    "mk0"
#define RT_CNI_DEFAULT_NET_NAME  "mini-kubelet"
#define RT_CNI_DEFAULT_CONF_FILE "10-mini-kubelet.conflist"
#define RT_CNI_DEFAULT_IFNAME    "eth0"
#define RT_CNI_TIMEOUT_MS        60000

/* Where plugins and the cache live; shared by every call. */
typedef struct rt_cni_opts {
    const char *bin_path;  /* ':'-separated plugin dirs; NULL = RT_CNI_DEFAULT_BIN_PATH */
    const char *cache_dir; /* required: <root>/var/lib/cni (results/ is made beneath it) */
    int timeout_ms;        /* per plugin run; <= 0 = RT_CNI_TIMEOUT_MS. A plugin (and its
                              process group) still running then is killed. */
} rt_cni_opts;

/* ---- network configuration ---- */

typedef struct rt_cni_net rt_cni_net; /* a validated plugin chain; immutable after load */

/* Load the lexically first *.conflist / *.conf / *.json regular file in conf_dir (dotfiles are
 * skipped). A single-plugin .conf is wrapped into a chain of one, as libcni does.
 * Errors (the message names the file and the field):
 *   -ENOENT  conf_dir missing or holding no config ("no CNI network config in ...")
 *   -EINVAL  bad JSON, missing/invalid name, cniVersion, plugins[] or plugins[i].type
 *   -ENOTSUP a cniVersion outside 0.3.0 .. 1.0.0 (the spec this runtime and Debian's plugins
 *            implement), with the versions that are supported */
int rt_cni_load(const char *conf_dir, rt_cni_net **out, mk_err *err);
/* The same checks on a config held in memory; `file` is used in messages only. */
int rt_cni_load_bytes(const char *json, const char *file, rt_cni_net **out, mk_err *err);
void rt_cni_net_free(rt_cni_net *net);
const char *rt_cni_net_name(const rt_cni_net *net);
const char *rt_cni_net_version(const rt_cni_net *net); /* the version the plugins get */
const char *rt_cni_net_file(const rt_cni_net *net);    /* path it came from */
size_t rt_cni_net_n_plugins(const rt_cni_net *net);
const char *rt_cni_net_plugin_type(const rt_cni_net *net, size_t i);

/* The default network written on first start: cniVersion 1.0.0, name "mini-kubelet", the
 * bridge plugin on `bridge` (isGateway, ipMasq, hairpinMode) with host-local IPAM from
 * `subnet` (IPv4 or IPv6 CIDR; a default route through the bridge) storing its leases in
 * `ipam_data_dir` (NULL: host-local's own default, /var/lib/cni/networks), then portmap
 * (capabilities.portMappings). No loopback entry (see above). *json is malloc'd.
 * -EINVAL for a bad bridge name or subnet. */
int rt_cni_default_conflist(const char *bridge, const char *subnet, const char *ipam_data_dir,
                            char **json, mk_err *err);
/* Write the default conflist to <conf_dir>/RT_CNI_DEFAULT_CONF_FILE (conf_dir is made) unless
 * conf_dir already holds a config. Returns 1 if it wrote the file (*path_out, optional, gets
 * its path; free it), 0 if a config was already there. */
int rt_cni_write_default(const char *conf_dir, const char *bridge, const char *subnet,
                         const char *ipam_data_dir, char **path_out, mk_err *err);

/* ---- attaching a pod ---- */

/* One hostPort mapping (runtimeConfig.portMappings, lower-case keys on the wire). */
typedef struct rt_cni_portmap {
    int host_port;        /* 1..65535 */
    int container_port;   /* 1..65535 */
    const char *protocol; /* "TCP"/"UDP"/"SCTP" in any case; NULL = tcp. Sent lower-case. */
    const char *host_ip;  /* NULL or "" = every address */
} rt_cni_portmap;

/* The mappings of a pod: every port with hostPort > 0 of its (non-init) containers, as the
 * kubelet hands them to CRI runtimes. Strings point into `pod`. Returns the count; *out is
 * malloc'd (NULL when 0). */
size_t rt_cni_portmaps_from_pod(const podspec_pod *pod, rt_cni_portmap **out);

typedef struct rt_cni_pod {
    const char *container_id;  /* CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID (pod uid);
                                  [A-Za-z0-9][A-Za-z0-9_.-]* */
    const char *netns;         /* CNI_NETNS; required for ADD; NULL/"" on DEL = gone */
    const char *ifname;        /* NULL = "eth0" */
    const char *pod_namespace; /* K8S_POD_NAMESPACE */
    const char *pod_name;      /* K8S_POD_NAME */
    const char *pod_uid;       /* K8S_POD_UID; NULL to leave it out */
    const rt_cni_portmap *ports;
    size_t n_ports;
} rt_cni_pod;

typedef struct rt_cni_iface {
    char *name;
    char *mac;     /* NULL when absent */
    char *sandbox; /* netns path for interfaces inside the pod, else NULL */
} rt_cni_iface;

typedef struct rt_cni_ip {
    int family;    /* 4 or 6 */
    char *address; /* CIDR as given: "10.88.0.5/16" */
    char *ip;      /* the address alone: "10.88.0.5" */
    char *gateway; /* NULL when absent */
    int iface;     /* index into ifaces, or -1 */
} rt_cni_ip;

typedef struct rt_cni_route {
    char *dst; /* CIDR */
    char *gw;  /* NULL when absent */
} rt_cni_route;

typedef struct rt_cni_result {
    char *cni_version;
    rt_cni_iface *ifaces;
    size_t n_ifaces;
    rt_cni_ip *ips;
    size_t n_ips;
    rt_cni_route *routes;
    size_t n_routes;
    /* dns as the result carries it (NULL-terminated lists; NULL when absent) */
    char **dns_nameservers;
    char *dns_domain;
    char **dns_search;
    char **dns_options;
    /* status.podIP(s): the first IPv4 and the first IPv6 address of the pod's interface (an
     * interface with `sandbox` set or named like CNI_IFNAME; any interface when the ips carry
     * no interface index). Plain addresses, NULL when none. */
    char *pod_ipv4;
    char *pod_ipv6;
    char *gateway4, *gateway6; /* the gateways of those addresses, NULL when none */
    char *json;                /* the final result as the last plugin printed it */

    /* When rt_cni_add fails because a plugin reported an error: its type and CNI error code
     * (1 incompatible version, 4 bad environment, 7 bad config, 11 try again later, >= 100
     * plugin-specific; 0 = the failure was not a plugin error). Set on failure only. */
    int error_code;
    char *error_plugin;
} rt_cni_result;

/* Attach the pod: run every plugin's ADD in order. On success *res holds the parsed final
 * result (free it with rt_cni_result_free). On failure the plugins that did run are undone
 * with DEL (and the cache file removed when that worked); err->msg reads like
 *   "CNI network mini-kubelet: plugin bridge ADD failed (code 11): failed to ...: details"
 * and res->error_code / error_plugin say which plugin failed how. Errors:
 *   -EINVAL  bad pod fields; -ENOENT plugin binary not found (the message names the type and
 *   the search path); -ETIMEDOUT plugin killed after the timeout; -EAGAIN CNI code 11;
 *   -EEXIST  an attachment for this container and ifname already exists (DEL it first);
 *   -EPROTO  any other plugin failure or an unparsable result; other -errno for local I/O. */
int rt_cni_add(const rt_cni_opts *opts, const rt_cni_net *net, const rt_cni_pod *pod,
               rt_cni_result *res, mk_err *err);

/* Detach the pod: for every cached attachment of pod->container_id on pod->ifname (whatever
 * network it was made on), run DEL through the chain in reverse with the cached config,
 * CNI_ARGS, portMappings and prevResult. Every plugin is run even when an earlier one failed;
 * the cache file is removed only when all succeeded (so a retry repeats the whole DEL, which
 * plugins accept). 0 when there was nothing to undo. Only container_id, ifname and netns of
 * `pod` are used. */
int rt_cni_del(const rt_cni_opts *opts, const rt_cni_pod *pod, mk_err *err);

/* The attachments in the cache (e.g. to DEL the ones of pods deleted while the agent was
 * down). Free with rt_cni_attachments_free. */
typedef struct rt_cni_attachment {
    char *network;
    char *container_id;
    char *ifname;
    char *netns;   /* as given at ADD */
    bool complete; /* the ADD finished (the cache holds its result) */
} rt_cni_attachment;
int rt_cni_list_attachments(const rt_cni_opts *opts, rt_cni_attachment **out, size_t *n,
                            mk_err *err);
void rt_cni_attachments_free(rt_cni_attachment *a, size_t n);

/* The result of the completed attachment of container_id on ifname (NULL = eth0), read back
 * from the cache (e.g. to show a pod's IP again after an agent restart). Returns 1 and fills
 * *res (free with rt_cni_result_free), 0 when there is no completed attachment, < 0 when the
 * cache cannot be read. */
int rt_cni_cached_result(const rt_cni_opts *opts, const char *container_id, const char *ifname,
                         rt_cni_result *res, mk_err *err);

/* An ADD that failed, and whose undoing (DEL with the same config) failed too, leaves an
 * incomplete attachment that no later DEL can remove either (typically a config the plugin
 * rejects both ways). Move the cache files of such incomplete attachments of container_id to
 * <cache_dir>/failed/ (nothing reads them there; they are kept for whoever cleans up by hand),
 * so that a new ADD for the container is possible. Completed attachments are never touched.
 * Returns how many were moved; *where gets the last new path (free it). */
int rt_cni_set_aside_incomplete(const rt_cni_opts *opts, const char *container_id,
                                const char *ifname, char **where, mk_err *err);

/* ---- keeping the netns for DEL ---- */

/* Bind-mount /proc/<pid>/ns/net onto `path` (created; its directory must exist), as
 * `ip netns` does: the namespace then lives until rt_cni_netns_unpin, whatever happens to the
 * pod's processes, and is the path to give ADD and DEL. Pin right after the shim starts
 * (before its pid can be reused) and unpin after a successful DEL. A pin survives agent
 * restarts (the mount is in the agent's mount namespace). */
int rt_cni_netns_pin(pid_t pid, const char *path, mk_err *err);
/* Unmount and remove; a path that is not there (or not mounted) is fine. */
int rt_cni_netns_unpin(const char *path, mk_err *err);

/* ---- results and errors (also used by the tests and /inspect) ---- */

/* Parse a CNI result (spec 0.3.0 .. 1.0.0). `ifname` (NULL = eth0) picks the pod addresses.
 * -EINVAL with the field at fault. */
int rt_cni_result_parse(const char *json, const char *ifname, rt_cni_result *out, mk_err *err);
void rt_cni_result_free(rt_cni_result *res);

/* Turn a plugin's error output ({"cniVersion","code","msg","details"}) into err:
 * "plugin <type> <cmd> failed (code N): msg: details" and return the negative errno for the
 * code (-EAGAIN for 11, -EPROTO otherwise). *code gets the CNI code (0 if the text is not
 * error JSON; the message then uses `fallback`, e.g. the plugin's stderr). */
int rt_cni_error_parse(const char *json, const char *type, const char *cmd, const char *fallback,
                       int *code, mk_err *err);

#endif
