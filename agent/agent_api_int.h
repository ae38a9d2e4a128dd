/* agent_api_int.h - shared pieces of the agent's API glue (agent_api.c, agent_logs.c,
 * agent_exec.c, agent_inspect.c). Not used outside these files.
 */
#ifndef MK_AGENT_API_INT_H
#define MK_AGENT_API_INT_H

#include "pod.h"

/* Every stream (log or exec) starts with this, so agent_api_stream_cancel can dispatch. */
struct agent_api_stream {
    void (*cancel)(agent_api_stream *s);
};

/* Lookups with the messages the API serves. ENOENT: `pods "x" not found`,
 * `container "c" not found in pod "x"`. */
agent_pod *agent_api_find_pod(agent *a, const char *ns, const char *name, mk_err *err);
agent_ctr *agent_api_find_ctr(agent_pod *pod, const char *name, mk_err *err);

/* The pod's status, computed now if the pod has none yet. */
const podspec_pod_status *agent_api_pod_status(agent_pod *pod);

/* "<pod->log_dir>/<ctr>/<attempt>.log" */
char *agent_api_log_path(const agent_pod *pod, const char *ctr, int attempt);

#endif
