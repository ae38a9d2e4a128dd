/* agent_api.h - the one narrow door between the HTTP API and the agent.
 *
 * The api module calls only these functions; the agent implements them (agent/agent_api.c).
 * Everything runs on the agent's libuv loop thread. Errors follow mk_base.h; the api maps
 * err->code to HTTP: ENOENT -> 404, EINVAL/ERANGE -> 400, EPERM/EACCES -> 403, EBUSY -> 409,
 * anything else -> 500.
 */
#ifndef MK_AGENT_API_H
#define MK_AGENT_API_H

#include "mk_base.h"

#include <cjson/cJSON.h>

typedef struct agent agent;

/* ---- snapshots (synchronous, cheap) ---- */

/* v1 PodList of every pod (ns == NULL) or of one namespace. Never NULL. */
cJSON *agent_api_pod_list(agent *a, const char *ns);
/* One v1 Pod, or NULL with err (ENOENT: `pods "x" not found`). */
cJSON *agent_api_pod_get(agent *a, const char *ns, const char *name, mk_err *err);
/* {"items":[{"file":..., "state":"ok|error|ignored|duplicate", "pods":["ns/name"], "error":...}]}
 */
cJSON *agent_api_manifests(agent *a);
/* Processes of one container: {"titles":["PID","USER","TIME","COMMAND"],
 * "processes":[["5317","root","0:00","nginx: master process ..."],...]}. NULL + err if unknown. */
cJSON *agent_api_top(agent *a, const char *ns, const char *pod, const char *container, mk_err *err);
/* Sandbox and containers: host pids, cgroup paths, namespaces (type, inode, shared). */
cJSON *agent_api_inspect(agent *a, const char *ns, const char *pod, mk_err *err);
/* v1 EventList of the events in namespace `ns` (NULL: all), oldest first, filtered by a
 * Kubernetes field selector (NULL or "": none). A bad selector: NULL with err (EINVAL). */
cJSON *agent_api_event_list(agent *a, const char *ns, const char *field_selector, mk_err *err);

/* ---- logs (asynchronous, streaming) ---- */

typedef struct agent_api_log_req {
    const char *ns, *pod, *container;
    bool follow;
    bool previous;
    bool timestamps;
    int64_t tail_lines;    /* -1: all */
    int64_t since_seconds; /* 0: unset */
    int64_t limit_bytes;   /* -1: unlimited */
} agent_api_log_req;

/* Called with each piece of log text. Return < 0 to stop (the client went away), 0 to go on,
 * > 0 when the text was accepted but the client is behind: write nothing more until
 * agent_api_stream_resume() is called for this stream. */
typedef int (*agent_api_write_fn)(void *arg, const char *data, size_t len);
/* Called exactly once at the end (status 0, or < 0 with err filled), unless cancelled. */
typedef void (*agent_api_done_fn)(void *arg, int status, const mk_err *err);

typedef struct agent_api_stream agent_api_stream;

/* Validates the request synchronously: unknown pod/container -> ENOENT (the api answers 404
 * before any body is sent), a waiting container -> EINVAL with the kubelet's message.
 * On success returns 0 and later calls write()/done() from the loop. */
int agent_api_logs(agent *a, const agent_api_log_req *req, agent_api_write_fn write,
                   agent_api_done_fn done, void *arg, agent_api_stream **out, mk_err *err);

/* ---- exec to completion (kubelet /run) ---- */

typedef struct agent_api_exec_req {
    const char *ns, *pod, *container;
    char *const *argv; /* NULL-terminated, at least one element */
} agent_api_exec_req;

/* Output is stdout bytes followed by stderr bytes. status < 0 means the exec could not run. */
typedef void (*agent_api_exec_done_fn)(void *arg, int status, int exit_code, const char *out,
                                       size_t out_len, const mk_err *err);

int agent_api_exec(agent *a, const agent_api_exec_req *req, agent_api_exec_done_fn done, void *arg,
                   agent_api_stream **out, mk_err *err);

/* Stop a log stream or an exec early; no callback runs after this returns. */
void agent_api_stream_cancel(agent_api_stream *s);
/* The client of a log stream whose write() returned > 0 has caught up: go on writing. Called
 * once per such return, never after cancel or done(); a no-op for exec streams. */
void agent_api_stream_resume(agent_api_stream *s);

#endif
