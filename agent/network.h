/* network.h - the pods' network: attaching and detaching them through the CNI plugins
 * (runtime/cni.h), the network setup at start, and the removal of attachments nobody owns.
 *
 * Every pod without hostNetwork gets its own network namespace from its shim. With
 * --network=cni (the default) the agent then pins that namespace to a file,
 * <root>/run/mini-kubelet/netns/<uid>, and attaches it with CNI ADD. Why a pinned file rather
 * than /proc/<shim pid>/ns/net: DEL must run in the same namespace after the shim is gone
 * (killed, crashed, or stopped before the agent got to the DEL), and the bridge plugin removes
 * a pod's masquerade rule only when it can read the pod's addresses from the namespace. A pid
 * path also turns dangerous once the pid is reused. The pin is removed after the DEL.
 *
 * The netns directory is a mount point of its own with shared propagation (as `ip netns`
 * makes /run/netns): mount namespaces made later (the shims', the containers') then receive
 * the unmount of every pin, so no copy of a pin keeps a deleted pod's namespace, and with it
 * its veth, alive.
 *
 * DEL runs exactly once per ADD: the CNI cache file of an attachment is written before ADD and
 * removed only after a DEL that succeeded, and every path that ends a sandbox (pod deletion, a
 * dead shim being replaced, pods deleted while the agent was down) goes through
 * agent_network_detach, which DELs what the cache holds and nothing else.
 */
#ifndef MK_AGENT_NETWORK_H
#define MK_AGENT_NETWORK_H

#include "agent.h"
#include "cni.h"

/* At start (on the loop, before recovery): with --network=cni make the cache and netns
 * directories, make the netns directory a shared mount, write the default network config if
 * the conf dir holds none (logged), and log which network pods will use. Only local failures
 * (a bad --pod-cidr or --cni-bridge for the default config, unwritable dirs) stop the agent; a
 * broken network config is reported on each pod instead. */
int agent_network_setup(agent *a, mk_err *err);

/* At exit: unmount the netns directory when no pod namespace is pinned in it. */
void agent_network_release(const agent_config *cfg);

/* How an attach failed, for the pod's event. */
typedef enum {
    AGENT_NET_OK = 0,
    AGENT_NET_NOT_READY, /* no usable network config (NetworkNotReady) */
    AGENT_NET_FAILED,    /* a plugin or the pinning failed (FailedCreatePodSandBox) */
} agent_net_fail;

/* Thread pool. Pin the shim's network namespace and run CNI ADD for the pod. On success *res
 * holds the result; on failure nothing stays attached or pinned, *fail says which kind. */
int agent_network_attach(const agent_config *cfg, const char *uid, const podspec_pod *spec,
                         pid_t shim_pid, rt_cni_result *res, agent_net_fail *fail, mk_err *err);

/* Thread pool. DEL every cached attachment of the pod (with its pinned namespace while that
 * exists), then remove the pin. 0 when nothing was attached; < 0 when a DEL failed (the cache
 * file stays, so a later detach repeats it; the pin stays too). */
int agent_network_detach(const agent_config *cfg, const char *uid, mk_err *err);

/* Thread pool. After agent_network_detach failed: move the pod's attachments whose ADD never
 * completed (a failed ADD whose undoing failed too, e.g. a config the plugin rejects both
 * ways) out of the cache, so that they no longer block a new ADD; completed ones stay. Returns
 * how many were moved (*where: the last one's new path, to report). */
int agent_network_set_aside(const agent_config *cfg, const char *uid, char **where, mk_err *err);

/* The result of the pod's attachment from the cache (after an agent restart). 1 when found. */
int agent_network_cached(const agent_config *cfg, const char *uid, rt_cni_result *res);

/* Path of the pod's pinned namespace (malloc'd). */
char *agent_network_netns_path(const agent_config *cfg, const char *uid);

/* On the loop: detach, on the thread pool and in parallel, every attachment and pin whose pod
 * is not in the table (pods deleted while the agent was down, DELs that failed before).
 * Pods with such a uid wait until it is done (agent_network_sweeping). */
void agent_network_sweep(agent *a);
bool agent_network_sweeping(const agent *a, const char *uid);
/* A removal failed: sweep again in a while (30 s times --backoff-scale, at least 1 s). */
void agent_network_retry_later(agent *a);

/* Blocking, for `mini-kubelet down`: detach every attachment and pin in the cache and the
 * netns dir, several at a time. Returns the number that failed. */
int agent_network_detach_all(const agent_config *cfg);

#endif
