/* podspec.h - Pod manifests: YAML/JSON -> structs, validation, defaults, Kubernetes JSON, hash.
 *
 * Pure library: no I/O beyond what the caller hands in, no global state.
 * Strings are owned by the struct that holds them (free with podspec_pod_free).
 */
#ifndef MK_PODSPEC_H
#define MK_PODSPEC_H

#include "mk_base.h"

#include <cjson/cJSON.h>

typedef struct podspec_kv {
    char *name;
    char *value;
} podspec_kv;

typedef struct podspec_port {
    char *name;         /* optional */
    int container_port; /* 1..65535 */
    int host_port;      /* 0 = none */
    char *protocol;     /* "TCP" (default), "UDP", "SCTP" */
    char *host_ip;      /* optional */
} podspec_port;

typedef struct podspec_container {
    char *name;
    char *image;
    char *image_pull_policy; /* defaulted: "Always" for :latest or no tag, else "IfNotPresent" */
    char **command;          /* NULL-terminated argv or NULL when absent */
    char **args;             /* NULL-terminated or NULL when absent */
    char *working_dir;       /* NULL when absent */
    podspec_kv *env;         /* only `value` env in this version */
    size_t n_env;
    podspec_port *ports;
    size_t n_ports;
    char *termination_message_path;   /* defaulted "/dev/termination-log" */
    char *termination_message_policy; /* defaulted "File" */
    bool stdin_open;
    bool tty;
} podspec_container;

/* spec.dnsConfig: merged by the agent into the resolv.conf that dnsPolicy gives. */
typedef struct podspec_dns_config {
    bool present;        /* the manifest has a dnsConfig object (even an empty one) */
    char **nameservers;  /* NULL-terminated IP addresses, or NULL */
    char **searches;     /* NULL-terminated search domains, or NULL */
    podspec_kv *options; /* name, value (NULL when the option has no value) */
    size_t n_options;
} podspec_dns_config;

/* One spec.hostAliases entry: lines "ip<TAB>hostname" appended to the pod's /etc/hosts. */
typedef struct podspec_host_alias {
    char *ip;
    char **hostnames; /* NULL-terminated, or NULL */
} podspec_host_alias;

typedef struct podspec_pod {
    /* where it came from */
    char *source_file; /* path as given to podspec_parse; may be NULL */
    int source_line;   /* line of the document start (1-based) */

    char *api_version; /* "v1" */
    char *kind;        /* "Pod" */

    /* metadata */
    char *name;
    char *namespace_; /* defaulted "default" */
    char *uid;        /* metadata.uid if given, else NULL (the agent derives one) */
    podspec_kv *labels;
    size_t n_labels;
    podspec_kv *annotations;
    size_t n_annotations;

    /* spec */
    podspec_container *containers;
    size_t n_containers;
    char *restart_policy;                     /* defaulted "Always" */
    int64_t termination_grace_period_seconds; /* defaulted 30 */
    char *hostname;                           /* NULL when absent */
    char *subdomain;                          /* NULL when absent */
    char *dns_policy;                         /* defaulted "ClusterFirst" */
    char *scheduler_name;                     /* defaulted "default-scheduler" */
    char *node_name;                          /* spec.nodeName if given */
    bool host_network, host_pid, host_ipc;
    bool share_process_namespace;
    bool enable_service_links; /* defaulted true */
    podspec_dns_config dns_config;
    podspec_host_alias *host_aliases;
    size_t n_host_aliases;

    /* Set by the agent when it first accepts the pod (metadata.creationTimestamp); 0 = unset.
     * Not part of the hash. */
    int64_t creation_ns;

    /* sha256 hex of the canonical JSON of metadata+spec: changes iff the pod must be recreated */
    char hash[65];
} podspec_pod;

/* A warning about a field that is accepted but ignored (nodeSelector, tolerations, ...). */
typedef struct podspec_warning {
    char *msg; /* "mypod.yaml:7:3: spec.nodeSelector: ignored on a single node" */
} podspec_warning;

typedef struct podspec_result {
    podspec_pod **pods; /* one per Pod document, in file order */
    size_t n_pods;
    podspec_warning *warnings;
    size_t n_warnings;
} podspec_result;

/* Parse a manifest (YAML, possibly multi-document, or JSON). `file` is used in messages only.
 * Every Pod document is parsed, validated and defaulted. Empty documents are skipped.
 * On the first error, returns < 0 with err->msg = "file:line:col: field.path: what is wrong"
 * and *out is left empty:
 *   -EINVAL   YAML syntax error, unknown field, wrong type, or a value the API server rejects
 *             ("spec.containers[0].name: Invalid value: ...", "...: Required value")
 *   -ENOTSUP  a real Kubernetes field or kind this version does not support yet
 *             ("spec.volumes: not supported", "kind: ConfigMap is not supported yet (only Pod)")
 * Fields meaningless on one node (nodeSelector, affinity, tolerations, ...) are accepted and
 * reported in out->warnings. */
int podspec_parse(const char *file, const char *buf, size_t len, podspec_result *out, mk_err *err);
void podspec_result_free(podspec_result *r);

void podspec_pod_free(podspec_pod *p);
podspec_pod *podspec_pod_dup(const podspec_pod *p);

/* Kubernetes names. */
bool podspec_is_dns1123_label(const char *s);     /* container names, ... (<= 63) */
bool podspec_is_dns1123_subdomain(const char *s); /* pod names (<= 253) */

/* An image reference, normalized the Docker way: "nginx" -> docker.io/library/nginx:latest
 * (ps_image_ref.c). The one grammar for the pull-policy default and the image store. */
typedef struct podspec_image_ref {
    char *domain; /* "docker.io" */
    char *path;   /* "library/nginx" */
    char *tag;    /* "latest" when neither tag nor digest is given; NULL with a digest only */
    char *digest; /* "sha256:<64 hex>" or NULL */
    char *full;   /* "docker.io/library/nginx:latest" (or "...@sha256:..." / ":tag@sha256:") */
} podspec_image_ref;

/* Errors: EINVAL "invalid reference format: ..." (InvalidImageName in pod status). */
int podspec_image_ref_parse(const char *s, podspec_image_ref *out, mk_err *err);
void podspec_image_ref_free(podspec_image_ref *r);
bool podspec_is_hex64(const char *s);         /* exactly 64 lower-case hex digits */
bool podspec_is_sha256_digest(const char *s); /* "sha256:" + podspec_is_hex64 */

/* Value of a label/annotation or NULL. */
const char *podspec_kv_get(const podspec_kv *kv, size_t n, const char *name);

/* ---- status ------------------------------------------------------------------------------ */

typedef enum {
    PODSPEC_STATE_NONE = 0, /* no state (omitted in JSON) */
    PODSPEC_STATE_WAITING,
    PODSPEC_STATE_RUNNING,
    PODSPEC_STATE_TERMINATED,
} podspec_state_kind;

typedef struct podspec_container_state {
    podspec_state_kind kind;
    char *reason;           /* waiting/terminated */
    char *message;          /* waiting/terminated */
    int64_t started_at_ns;  /* running/terminated; 0 = unset */
    int64_t finished_at_ns; /* terminated */
    int exit_code;          /* terminated */
    int signal;             /* terminated; 0 = none */
    char *container_id;     /* terminated: "mini-kubelet://<id>" */
} podspec_container_state;

typedef struct podspec_container_status {
    char *name;
    char *image;
    char *image_id;     /* "docker.io/library/nginx@sha256:..." or NULL */
    char *container_id; /* "mini-kubelet://<id>" or NULL */
    int restart_count;
    bool ready;
    bool started;
    podspec_container_state state;
    podspec_container_state last_state;
} podspec_container_status;

typedef struct podspec_condition {
    char *type;   /* PodReadyToStartContainers, Initialized, ContainersReady, Ready, PodScheduled */
    bool status;  /* True/False */
    char *reason; /* may be NULL */
    char *message;
    int64_t last_transition_ns;
} podspec_condition;

typedef struct podspec_pod_status {
    char *phase; /* Pending, Running, Succeeded, Failed, Unknown */
    char *reason;
    char *message;
    char *host_ip;
    char *pod_ip;  /* NULL when none */
    char *pod_ip6; /* the pod's address of the other family (dual stack), NULL when none */
    int64_t start_time_ns;
    char *qos_class; /* BestEffort in this version */
    podspec_condition *conditions;
    size_t n_conditions;
    podspec_container_status *container_statuses; /* sorted by name */
    size_t n_container_statuses;
} podspec_pod_status;

void podspec_status_free(podspec_pod_status *s); /* frees members, not s itself */

/* Kubernetes JSON. `status` may be NULL (then no "status" key). `extra_annotations` are merged
 * into metadata.annotations (e.g. kubernetes.io/config.source). Returns a new cJSON object. */
cJSON *podspec_pod_to_json(const podspec_pod *p, const podspec_pod_status *status,
                           const podspec_kv *extra_annotations, size_t n_extra);
cJSON *podspec_status_to_json(const podspec_pod_status *s);

/* A Kubernetes `Status` object (kind: Status, status: Failure). reason like "NotFound". */
cJSON *podspec_status_error_json(int http_code, const char *reason, const char *message);

#endif
