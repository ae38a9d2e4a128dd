/* podfiles.h - a pod's generated files and its checkpoint (state_dir/pod.json). */
#ifndef MK_AGENT_PODFILES_H
#define MK_AGENT_PODFILES_H

#include "cni.h"
#include "pod.h"

/* What pod.json holds: enough to rebuild a pod at start with its shim still running. */
typedef struct agent_checkpoint_ctr {
    char name[64];
    int restart_count;
    agent_backoff crash_backoff;
} agent_checkpoint_ctr;

typedef struct agent_checkpoint {
    char uid[33];
    podspec_pod *spec; /* with the hash and manifest path of the accepted version */
    int64_t created_ns, seen_ns, start_ns;
    agent_checkpoint_ctr *ctrs;
    size_t n_ctrs;
} agent_checkpoint;

/* JSON text of state_dir/pod.json for the current state (built on the loop). */
char *agent_pod_checkpoint(const agent_pod *pod);
/* Write it atomically (thread pool). */
int agent_pod_checkpoint_write(const char *state_dir, const char *json, mk_err *err);
/* Read it back. */
int agent_pod_checkpoint_load(const char *state_dir, agent_checkpoint *ck, mk_err *err);
void agent_checkpoint_free(agent_checkpoint *ck);
/* The longest grace period the agent waits for (136 years): longer ones are the same in
 * practice, and the limit keeps deadlines in nanoseconds within int64. */
#define AGENT_GRACE_MAX_SEC (INT64_C(1) << 32)

/* terminationGracePeriodSeconds recorded in state_dir/pod.json (30 when unreadable), at most
 * AGENT_GRACE_MAX_SEC. */
int64_t agent_checkpoint_grace(const char *state_dir);

/* What the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf are made from. */
typedef struct agent_pod_files_in {
    bool host_network;
    const char *uid;              /* the pod's uid (messages); NULL: spec->uid */
    const char *hostname, *fqdn;  /* agent_pod_hostnames() */
    const char *ipv4, *ipv6;      /* the pod's addresses (hostNetwork: the host's); NULL: none */
    const rt_cni_result *net;     /* the network plugin's result (for its dns), or NULL */
    const char *host_hosts_path;  /* NULL: /etc/hosts */
    const char *host_resolv_path; /* NULL: /etc/resolv.conf */
} agent_pod_files_in;
typedef struct agent_pod_files_note {
    char *reason;  /* event reason, e.g. "MissingClusterDNS", "DNSConfigForming" */
    char *message; /* the kubelet's message text */
    bool warning;
} agent_pod_files_note;
typedef struct agent_pod_files_out {
    agent_pod_files_note notes[4];
    size_t n_notes;
} agent_pod_files_out;
/* Write state_dir/{etc-hosts,hostname,resolv.conf} for `spec` (thread pool), as the kubelet
 * makes them:
 * - etc-hosts: hostNetwork pods get the host's file under a "(host network)" header; others a
 *   generated file mapping each of the pod's addresses (127.0.1.1 when it has none) to the FQDN
 *   (with a subdomain) and the hostname. spec.hostAliases follow under
 *   "# Entries added by HostAliases.".
 * - resolv.conf: dnsPolicy None starts empty; the others start from the network plugin's DNS
 *   when it names nameservers, else from the host's resolv.conf. ClusterFirst (not on the host
 *   network) and ClusterFirstWithHostNet fall back to that with a MissingClusterDNS note: there
 *   is no cluster DNS on one node. spec.dnsConfig is merged in (nameservers and searches
 *   appended without duplicates, options merged by name, the pod's winning), then cut to 3
 *   nameservers and 32 search domains / 2048 characters with a DNSConfigForming note. A
 *   hostNetwork pod whose DNS is the host's, unchanged, gets the host's file as it is.
 * A missing host file counts as empty (etc-hosts then holds the localhost lines); other read
 * errors fail. On failure out holds no notes. */
int agent_pod_files_write(const char *state_dir, const podspec_pod *spec,
                          const agent_pod_files_in *in, agent_pod_files_out *out, mk_err *err);
void agent_pod_files_out_free(agent_pod_files_out *out);

/* The pod's hostname (spec.hostname or the name, at most 63 characters) and, with a subdomain,
 * "<hostname>.<subdomain>.<ns>.svc.cluster.local" (else NULL). */
void agent_pod_hostnames(const podspec_pod *spec, char **hostname, char **fqdn);

#endif
