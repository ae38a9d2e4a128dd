/* worker.h - the pod workers: one state machine per pod, driven on the loop (internal to the
 * agent's own modules: pods.c, worker*.c, podfiles.c, recovery.c, agent.c).
 *
 * A pod runs at most one blocking step at a time on the thread pool (pod->busy). Whenever
 * something changes (a step finished, a shim event, a timer, the desired set), agent_pod_kick()
 * looks at the pod's state and starts the next step, arms the pod's timer, or does nothing.
 */
#ifndef MK_AGENT_WORKER_H
#define MK_AGENT_WORKER_H

#include "podfiles.h"

/* ---- pods.c: the table and identity ---- */

/* UID of a pod from a file: metadata.uid if set, else 32 hex of
 * sha256(spec hash + "host:" + node + "file:" + path). */
void agent_pod_uid(const podspec_pod *spec, const char *node, const char *path, char out[33]);
/* A new pod (phase CREATING) for `spec` (taken over), linked into the table. */
agent_pod *agent_pod_new(agent *a, podspec_pod *spec, const char *uid);
/* Unlink and free (timers and watch must be closed already or are closed here). */
void agent_pod_destroy(agent_pod *pod);
/* The local annotations served with a pod: config.source, config.hash, config.seen.
 * Fills kv[3] (strings point into buf, which must hold 64 bytes). */
void agent_pod_local_annotations(const agent_pod *pod, podspec_kv kv[3], char buf[64]);
/* Point every ctr->spec at pod->spec's containers again (after the spec was replaced). */
void agent_pod_bind_specs(agent_pod *pod);
/* Free an instance's strings and zero it. */
void agent_ctr_run_clear(agent_ctr_run *r);
/* Record a Kubernetes Event about the pod (events.h), or about one of its containers when
 * `container` is not NULL (involvedObject.fieldPath spec.containers{name}). */
void agent_pod_event(agent_pod *pod, const char *container, bool warning, const char *reason,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Replace the pod's network result (malloc'd, taken over; NULL: none). */
void agent_pod_set_net(agent_pod *pod, struct rt_cni_result *res);
/* Set the waiting reason/message (NULL reason clears both). */
void agent_ctr_set_waiting(agent_ctr *c, const char *reason, const char *message);

/* ---- worker.c: lifecycle ---- */

/* Apply a new desired set from the manifest source. */
void agent_pods_apply(agent *a, podspec_pod *const *pods, size_t n);
/* Look at the pod and do what is next. */
void agent_pod_kick(agent_pod *pod);
/* Begin a graceful stop (idempotent). */
void agent_pod_stop(agent_pod *pod, const char *why);
/* Agent shutdown: forget every pod without touching it (closes watches and timers). */
void agent_pods_detach_all(agent *a);
/* Recompute the status and note the change. */
void agent_pod_changed(agent_pod *pod);
/* Start the shim watch (loop side). */
int agent_pod_watch(agent_pod *pod, mk_err *err);

/* ---- worker_sandbox.c: the sandbox ---- */

/* Make the pod's sandbox (shim, network, pod files) on the thread pool; the pod becomes ACTIVE
 * when it is up, or stays CREATING with the sandbox backoff and an event when it failed. */
void agent_sandbox_start(agent_pod *pod);
/* Shut a dead sandbox down and DEL its network attachment now, on the thread pool. */
void agent_sandbox_detach_dead(agent_pod *pod);
/* SIGKILL every process left in the cgroup `rel` (and below). */
void agent_pod_kill_leftovers(agent *a, const char *rel);

/* ---- worker_ctr.c: containers ---- */

/* Decide about one container in an ACTIVE pod: start it, wait (backoff) or leave it.
 * Returns true if it started a blocking step (the pod is busy now). *wake_ns gets the earliest
 * time the pod must look again (unchanged if none). */
bool agent_ctr_step(agent_pod *pod, agent_ctr *c, int64_t now, int64_t *wake_ns);
/* A start the shim confirmed, recorded into c->cur (already the new instance). If the sandbox
 * is gone by now (pod->watch is NULL), the instance is recorded as lost with it. */
void agent_ctr_started(agent_pod *pod, agent_ctr *c, pid_t pid, int64_t started_ns);
/* A shim event about a container instance. */
void agent_ctr_event(agent_pod *pod, const rt_shim_event *ev);
/* Every instance still marked running becomes exited with ContainerStatusUnknown. */
void agent_ctrs_mark_lost(agent_pod *pod);
/* Rebuild cur/prev of every container from a shim STATUS (recovery). */
void agent_ctrs_from_status(agent_pod *pod, const rt_shim_status *st);
/* Any container instance running? */
bool agent_pod_any_running(const agent_pod *pod);

/* ---- thread-pool steps (worker_ops.c) ---- */

typedef struct pod_op pod_op;
typedef void (*pod_op_fn)(pod_op *op);
struct pod_op {
    uv_work_t req;
    agent_pod *pod;
    agent *a;
    pod_op_fn work; /* on the thread pool */
    pod_op_fn done; /* on the loop, pod->busy still set; the op is freed after it */
    int rc;
    mk_err err;
    void *data; /* the step's own state, freed by done */
};
/* Queue a step; marks the pod busy. On failure to queue, runs done with rc < 0. */
void agent_pod_op(agent_pod *pod, pod_op_fn work, pod_op_fn done, void *data);

/* ---- recovery.c ---- */

/* Before the first scan: re-attach to live shims (their pods join the table, not yet desired:
 * the first desired set keeps or stops them) and clean the state of dead ones. */
void agent_recover(agent *a);

#endif
