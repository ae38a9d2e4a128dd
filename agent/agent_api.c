/* agent_api.c - pod snapshots for the HTTP API: PodList, Pod, and the shared lookups.
 *
 * Logs, exec, top and inspect live in agent_logs.c, agent_exec.c and agent_inspect.c.
 */
#include "agent_api_int.h"
#include "sources.h"
#include "worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

agent_pod *agent_api_find_pod(agent *a, const char *ns, const char *name, mk_err *err)
{
    agent_pod *pod = agent_pod_find(a, ns, name);
    if (!pod || pod->phase == AGENT_POD_STOPPED) {
        mk_errf(err, ENOENT, "pods \"%s\" not found", name);
        return NULL;
    }
    return pod;
}

agent_ctr *agent_api_find_ctr(agent_pod *pod, const char *name, mk_err *err)
{
    for (size_t i = 0; i < pod->n_ctrs; i++)
        if (strcmp(pod->ctrs[i].spec->name, name) == 0)
            return &pod->ctrs[i];
    mk_errf(err, ENOENT, "container \"%s\" not found in pod \"%s\"", name, pod->spec->name);
    return NULL;
}

const podspec_pod_status *agent_api_pod_status(agent_pod *pod)
{
    if (!pod->status.phase)
        agent_status_update(pod, mk_now_ns());
    return &pod->status;
}

char *agent_api_log_path(const agent_pod *pod, const char *ctr, int attempt)
{
    return xasprintf("%s/%s/%d.log", pod->log_dir, ctr, attempt);
}

/* ---- Pod JSON ---------------------------------------------------------------------------- */

/* Set obj[key] unless it already holds a value (null counts as none). */
static void set_if_missing(cJSON *obj, const char *key, const char *value)
{
    if (!obj || !value)
        return;
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cur && !cJSON_IsNull(cur))
        return;
    if (cur)
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(value));
    else
        cJSON_AddStringToObject(obj, key, value);
}

cJSON *agent_pod_json(const agent_pod *pod)
{
    podspec_kv extra[3];
    char seen[64], created[48] = "";
    agent_pod_local_annotations(pod, extra, seen);
    if (pod->created_ns)
        mk_format_rfc3339(pod->created_ns, created, sizeof(created));
    const podspec_pod_status *st = pod->status.phase ? &pod->status : NULL;
    cJSON *j = podspec_pod_to_json(pod->spec, st, extra, MK_ARRAY_LEN(extra));
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    set_if_missing(meta, "uid", pod->uid);
    if (created[0])
        set_if_missing(meta, "creationTimestamp", created);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "spec");
    if (pod->a && spec) { /* this node runs it, whatever the manifest says (static pods) */
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "nodeName");
        cJSON_AddStringToObject(spec, "nodeName", pod->a->cfg.node_name);
    }
    return j;
}

/* ---- snapshots --------------------------------------------------------------------------- */

static int cmp_pod(const void *x, const void *y)
{
    const agent_pod *a = *(agent_pod *const *)x, *b = *(agent_pod *const *)y;
    int c = strcmp(a->spec->namespace_, b->spec->namespace_);
    if (c == 0)
        c = strcmp(a->spec->name, b->spec->name);
    return c ? c : strcmp(a->uid, b->uid);
}

cJSON *agent_api_pod_list(agent *a, const char *ns)
{
    size_t n = 0;
    for (agent_pod *p = a->pods; p; p = p->next)
        n++;
    agent_pod **v = xcalloc(n + 1, sizeof(*v));
    size_t k = 0;
    for (agent_pod *p = a->pods; p; p = p->next) {
        if (p->phase == AGENT_POD_STOPPED || !p->spec)
            continue;
        if (ns && strcmp(p->spec->namespace_, ns) != 0)
            continue;
        v[k++] = p;
    }
    qsort(v, k, sizeof(*v), cmp_pod);

    cJSON *list = cJSON_CreateObject();
    cJSON_AddStringToObject(list, "kind", "PodList");
    cJSON_AddStringToObject(list, "apiVersion", "v1");
    cJSON_AddItemToObject(list, "metadata", cJSON_CreateObject());
    cJSON *items = cJSON_AddArrayToObject(list, "items");
    for (size_t i = 0; i < k; i++) {
        agent_api_pod_status(v[i]);
        cJSON_AddItemToArray(items, agent_pod_json(v[i]));
    }
    free(v);
    return list;
}

cJSON *agent_api_pod_get(agent *a, const char *ns, const char *name, mk_err *err)
{
    agent_pod *pod = agent_api_find_pod(a, ns, name, err);
    if (!pod)
        return NULL;
    agent_api_pod_status(pod);
    return agent_pod_json(pod);
}

/* ---- manifests ---------------------------------------------------------------------------- */

static cJSON *strv_json(char *const *v)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; v && v[i]; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
    return arr;
}

static cJSON *manifest_file_json(const agent_manifest_file *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", f->file);
    cJSON_AddStringToObject(o, "state", agent_manifest_state_name(f->state));
    cJSON_AddItemToObject(o, "pods", strv_json(f->pods));
    if (f->error)
        cJSON_AddStringToObject(o, "error", f->error);
    if (f->warnings && f->warnings[0])
        cJSON_AddItemToObject(o, "warnings", strv_json(f->warnings));
    if (f->mtime_ns > 0) {
        char ts[48];
        mk_format_rfc3339_nano(f->mtime_ns, ts, sizeof(ts));
        cJSON_AddStringToObject(o, "modified", ts);
    }
    return o;
}

cJSON *agent_api_manifests(agent *a)
{
    const struct agent_manifests *m = a->sources ? agent_sources_manifests(a->sources) : NULL;
    if (!m)
        m = a->manifests;
    cJSON *j = cJSON_CreateObject();
    const char *dir = m && m->dir ? m->dir : a->cfg.manifest_dir;
    if (dir)
        cJSON_AddStringToObject(j, "directory", dir);
    cJSON_AddBoolToObject(j, "directoryMissing", m ? m->dir_missing : false);
    if (m && m->dir_error)
        cJSON_AddStringToObject(j, "directoryError", m->dir_error);
    cJSON *items = cJSON_AddArrayToObject(j, "items");
    for (size_t i = 0; m && i < m->n_files; i++)
        cJSON_AddItemToArray(items, manifest_file_json(&m->files[i]));
    return j;
}

void agent_api_stream_cancel(agent_api_stream *s)
{
    if (s)
        s->cancel(s);
}
