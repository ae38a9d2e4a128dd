/* pod.h - what the agent knows about one pod: the accepted spec and the observed runtime state.
 *
 * Written by the pod worker (worker.c) as shim events and actions happen; read by the status
 * rules (status.c) and the API glue (agent_api.c). Fields may be added; none are removed.
 */
#ifndef MK_AGENT_POD_H
#define MK_AGENT_POD_H

#include "agent.h"
#include "backoff.h"
#include "shim_client.h"

typedef enum {
    AGENT_POD_CREATING = 0, /* sandbox being made */
    AGENT_POD_ACTIVE,       /* sandbox up; containers started/restarted per restartPolicy */
    AGENT_POD_STOPPING,     /* graceful stop in progress (manifest gone or changed) */
    AGENT_POD_STOPPED,      /* everything gone; about to be freed */
} agent_pod_phase;

/* One container instance as observed from the shim. */
typedef struct agent_ctr_run {
    char id[65];        /* "" when there is no instance */
    int attempt;        /* restart count at its start */
    rt_ctr_state state; /* 0 (none), RT_CTR_RUNNING, RT_CTR_EXITED */
    pid_t pid;
    int exit_code;
    int signal;
    bool oom_killed;
    int64_t started_ns;
    int64_t finished_ns;
    char *reason;  /* terminated reason override (e.g. "StartError"), else NULL */
    char *message; /* terminated message (start error text, termination message) */
} agent_ctr_run;

typedef struct agent_ctr {
    const podspec_container *spec; /* points into pod->spec */
    agent_ctr_run cur;             /* newest instance */
    agent_ctr_run prev;            /* the one before it (lastState) */
    int restart_count;
    /* set while the container is not running and not about to: the kubelet's waiting state */
    char *waiting_reason; /* ContainerCreating, CrashLoopBackOff, ErrImagePull, ... or NULL */
    char *waiting_message;
    char *image_ref; /* normalized reference, e.g. docker.io/library/nginx:latest */
    char *image_id;  /* repo digest for status.imageID, or NULL */
    /* crash-loop backoff */
    int64_t backoff_ns;        /* current backoff period; 0 before the first restart */
    int64_t backoff_until_ns;  /* wall clock (like finished_ns); restart not before this */
    uv_timer_t *restart_timer; /* unused: the pod's one timer (agent_pod.timer) wakes it */
    bool started_ever;
    /* worker state */
    agent_backoff crash_backoff; /* crash-loop entry (kubelet key: pod + container) */
    agent_backoff image_backoff; /* image "pull" entry (kubelet key: pod uid + image) */
    int64_t image_failed_ns;     /* when the image was last found missing; 0: not missing */
    bool image_invalid;          /* the reference does not parse: waits for a new spec */
    bool unknown_exit;           /* cur was lost with its sandbox (ContainerStatusUnknown) */
} agent_ctr;

struct agent_pod {
    agent *a;
    podspec_pod *spec;
    char uid[33];        /* metadata.uid, or derived: 32 hex, stable for content+file+node */
    char *manifest_file; /* the manifest it came from */
    char *run_dir;       /* <root>/run/mini-kubelet/pods/<uid> */
    char *state_dir;     /* <root>/var/lib/mini-kubelet/pods/<uid> */
    char *log_dir;       /* <root>/var/log/pods/<ns>_<name>_<uid> */
    char *cgroup_rel;    /* "pod-<uid>" */
    agent_pod_phase phase;
    pid_t shim_pid;
    rt_shim_watch *watch;
    bool sandbox_ready;        /* namespaces exist (and network configured) */
    struct rt_cni_result *net; /* the pod's network attachment (CNI result), NULL when none */
    bool net_stale;            /* the sandbox died: its attachment is to be removed now */
    bool net_released;         /* the pod finished: its attachment was removed (net is kept for
                                  the status) */
    int64_t created_ns;        /* creationTimestamp / config.seen */
    int64_t start_ns;          /* status.startTime: when the agent accepted the pod */
    agent_ctr *ctrs;           /* spec order */
    size_t n_ctrs;
    podspec_pod_status status; /* last computed; conditions keep lastTransitionTime */
    char *terminal_phase;      /* "Succeeded"/"Failed" once reached: never left */
    char *sandbox_error;       /* why the sandbox could not be made, or NULL */
    struct agent_pod *next;
    /* worker state (worker*.c) */
    bool desired;             /* in the current desired set */
    bool waiting_turn;        /* CREATING, but an older pod with the same ns/name is still going */
    bool busy;                /* a blocking step runs on the thread pool */
    bool recovered;           /* found at start (live shim, or state of a dead one) */
    bool kept_broken;         /* recovered, kept because its manifest does not parse now */
    bool needs_cleanup;       /* a dead sandbox's leftovers must go before a new one starts */
    bool stop_signalled;      /* SIGTERM sent to the running containers */
    bool stop_killed;         /* the grace period ended: SIGKILL via shim shutdown */
    int64_t stop_deadline_ns; /* wall clock: end of the grace period */
    char *stop_reason;        /* why the pod is stopping (log text) */
    uv_timer_t *timer;        /* wakes the worker for backoffs and grace periods */
    int64_t wake_ns;          /* when the timer is armed for (wall clock), 0: not armed */
    agent_backoff sandbox_backoff; /* re-creating a sandbox after it failed or died */
    int64_t sandbox_failed_ns;
    int64_t seen_ns;        /* kubernetes.io/config.seen */
    bool checkpoint_dirty;  /* restart counts or backoff changed: rewrite pod.json */
    rt_shim_event early[8]; /* events for an instance whose start is still being recorded */
    size_t n_early;
};

/* The shim's cgroup, a leaf below the pod's ("pod-<uid>/_sandbox"). Container cgroups are named
 * after the containers, which are DNS labels: the '_' keeps the two from ever colliding. */
#define AGENT_SANDBOX_CGROUP "_sandbox"

/* Recompute pod->status from the observed state by the kubelet's rules (status.c). */
void agent_status_update(agent_pod *pod, int64_t now_ns);

/* The Kubernetes JSON of a pod (metadata, spec, status) as served by the API (agent_api.c). */
cJSON *agent_pod_json(const agent_pod *pod);

/* Convenience */
agent_ctr *agent_pod_ctr(agent_pod *pod, const char *name);

#endif
