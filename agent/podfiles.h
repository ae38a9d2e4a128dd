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

/* /etc/hosts, /etc/hostname and /etc/resolv.conf of the pod, in state_dir (thread pool).
 * hostNetwork pods get the host's /etc/hosts; others a kubelet-style file whose last line
 * maps `ip` (or 127.0.1.1 while pods have no network) to the FQDN (if any) and hostname. */
int agent_pod_files_write(const char *state_dir, bool host_network, const char *hostname,
                          const char *fqdn, const char *ip, mk_err *err);
typedef struct agent_pod_files_in {
    bool host_network;
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
/* Write state_dir/{etc-hosts,hostname,resolv.conf} for `spec` (thread pool). */
int agent_pod_files_write2(const char *state_dir, const podspec_pod *spec,
                           const agent_pod_files_in *in, agent_pod_files_out *out, mk_err *err);
void agent_pod_files_out_free(agent_pod_files_out *out);

/* The pod's hostname (spec.hostname or the name, at most 63 characters) and, with a subdomain,
 * "<hostname>.<subdomain>.<ns>.svc.cluster.local" (else NULL). */
void agent_pod_hostnames(const podspec_pod *spec, char **hostname, char **fqdn);

#endif
