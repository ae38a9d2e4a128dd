/* pods.c - the pod table, pod identity and small helpers shared by the worker modules. */
#include "config.h"
#include "worker.h"

#include "cni.h"
#include "events.h"
#include "mk_sha256.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void agent_pod_uid(const podspec_pod *spec, const char *node, const char *path, char out[33])
{
    if (spec->uid && spec->uid[0]) {
        snprintf(out, 33, "%s", spec->uid);
        return;
    }
    unsigned char md[MK_SHA256_LEN];
    const char *parts[] = {spec->hash, "host:", node ? node : "", "file:", path ? path : ""};
    mk_sha256_ctx h;
    mk_sha256_init(&h);
    for (size_t i = 0; i < MK_ARRAY_LEN(parts); i++)
        mk_sha256_update(&h, parts[i], strlen(parts[i]));
    mk_sha256_final(&h, md);
    mk_hex(md, 16, out);
}

static bool pod_matches(const agent_pod *p, const char *ns, const char *name)
{
    return p->phase != AGENT_POD_STOPPED && strcmp(p->spec->namespace_, ns) == 0 &&
           strcmp(p->spec->name, name) == 0;
}

agent_pod *agent_pod_find(agent *a, const char *ns, const char *name)
{
    agent_pod *found = NULL;
    for (agent_pod *p = a->pods; p; p = p->next) {
        if (!pod_matches(p, ns, name))
            continue;
        /* prefer the pod that is (or will be) running over one being replaced */
        if (!found || (found->phase == AGENT_POD_STOPPING && p->phase != AGENT_POD_STOPPING))
            found = p;
    }
    return found;
}

agent_pod *agent_pod_find_uid(agent *a, const char *uid)
{
    agent_pod *found = NULL;
    for (agent_pod *p = a->pods; p; p = p->next) {
        if (p->phase == AGENT_POD_STOPPED || strcmp(p->uid, uid) != 0)
            continue;
        if (!found || (found->phase == AGENT_POD_STOPPING && p->phase != AGENT_POD_STOPPING))
            found = p;
    }
    return found;
}

agent_ctr *agent_pod_ctr(agent_pod *pod, const char *name)
{
    for (size_t i = 0; i < pod->n_ctrs; i++)
        if (strcmp(pod->ctrs[i].spec->name, name) == 0)
            return &pod->ctrs[i];
    return NULL;
}

void agent_pod_bind_specs(agent_pod *pod)
{
    for (size_t i = 0; i < pod->n_ctrs; i++)
        pod->ctrs[i].spec = &pod->spec->containers[i];
}

agent_pod *agent_pod_new(agent *a, podspec_pod *spec, const char *uid)
{
    agent_pod *pod = xcalloc(1, sizeof(*pod));
    pod->a = a;
    pod->spec = spec;
    snprintf(pod->uid, sizeof(pod->uid), "%s", uid);
    pod->manifest_file = xstrdup(spec->source_file);
    pod->run_dir = xasprintf("%s/%s", a->cfg.pods_run_dir, pod->uid);
    pod->state_dir = xasprintf("%s/%s", a->cfg.pods_state_dir, pod->uid);
    pod->log_dir =
        xasprintf("%s/%s_%s_%s", a->cfg.pods_log_dir, spec->namespace_, spec->name, pod->uid);
    pod->cgroup_rel = xasprintf("pod-%s", pod->uid);
    pod->phase = AGENT_POD_CREATING;
    pod->created_ns = pod->seen_ns = pod->start_ns = mk_now_ns();
    pod->n_ctrs = spec->n_containers;
    pod->ctrs = xcalloc(pod->n_ctrs ? pod->n_ctrs : 1, sizeof(*pod->ctrs));
    agent_pod_bind_specs(pod);
    pod->desired = true;
    /* append: pods start in the order they were accepted */
    agent_pod **pp = &a->pods;
    while (*pp)
        pp = &(*pp)->next;
    *pp = pod;
    return pod;
}

void agent_ctr_run_clear(agent_ctr_run *r)
{
    free(r->reason);
    free(r->message);
    memset(r, 0, sizeof(*r));
}

void agent_ctr_set_waiting(agent_ctr *c, const char *reason, const char *message)
{
    char *r = reason ? xstrdup(reason) : NULL;
    char *m = reason && message ? xstrdup(message) : NULL;
    free(c->waiting_reason);
    free(c->waiting_message);
    c->waiting_reason = r;
    c->waiting_message = m;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

void agent_pod_destroy(agent_pod *pod)
{
    agent *a = pod->a;
    for (agent_pod **pp = &a->pods; *pp; pp = &(*pp)->next) {
        if (*pp == pod) {
            *pp = pod->next;
            break;
        }
    }
    if (pod->watch)
        rt_shim_watch_close(pod->watch);
    if (pod->timer)
        uv_close((uv_handle_t *)pod->timer, on_timer_closed);
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        agent_ctr *c = &pod->ctrs[i];
        agent_ctr_run_clear(&c->cur);
        agent_ctr_run_clear(&c->prev);
        free(c->waiting_reason);
        free(c->waiting_message);
        free(c->image_ref);
        free(c->image_id);
    }
    free(pod->ctrs);
    podspec_status_free(&pod->status);
    podspec_pod_free(pod->spec);
    free(pod->manifest_file);
    free(pod->run_dir);
    free(pod->state_dir);
    free(pod->log_dir);
    free(pod->cgroup_rel);
    free(pod->terminal_phase);
    free(pod->sandbox_error);
    free(pod->stop_reason);
    agent_pod_set_net(pod, NULL);
    free(pod);
}

void agent_pod_set_net(agent_pod *pod, rt_cni_result *res)
{
    if (pod->net) {
        rt_cni_result_free(pod->net);
        free(pod->net);
    }
    pod->net = res;
    pod->net_released = false;
}

void agent_pod_local_annotations(const agent_pod *pod, podspec_kv kv[3], char buf[64])
{
    mk_format_rfc3339_nano(pod->seen_ns, buf, 64);
    kv[0] = (podspec_kv){(char *)"kubernetes.io/config.hash", (char *)pod->uid};
    kv[1] = (podspec_kv){(char *)"kubernetes.io/config.seen", buf};
    kv[2] = (podspec_kv){(char *)"kubernetes.io/config.source", (char *)"file"};
}

void agent_pod_event(agent_pod *pod, const char *container, bool warning, const char *reason,
                     const char *fmt, ...)
{
    if (!pod->a->events)
        return;
    char msg[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cleanup_free char *field = container ? xasprintf("spec.containers{%s}", container) : NULL;
    agent_event_obj obj = {
        .ns = pod->spec->namespace_, .name = pod->spec->name, .uid = pod->uid, .field_path = field};
    agent_events_add(pod->a->events, &obj, warning, reason, mk_now_ns(), "%s", msg);
}
