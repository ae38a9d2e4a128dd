/* ps_json.c - Kubernetes JSON for Pod, PodStatus and Status, and the spec hash. Keys follow
 * the order of the Kubernetes Go types, so output reads like the API server's. */
#include "ps_internal.h"

#include "mk_sha256.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
}

static void add_int64(cJSON *o, const char *k, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cJSON_AddItemToObject(o, k, cJSON_CreateRaw(buf));
}

static void add_time(cJSON *o, const char *k, int64_t ns)
{
    if (ns <= 0) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    char buf[48];
    mk_format_rfc3339(ns, buf, sizeof(buf));
    cJSON_AddStringToObject(o, k, buf);
}

static void add_strv(cJSON *o, const char *k, char *const *v)
{
    if (!v || !v[0])
        return;
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (size_t i = 0; v[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
}

static cJSON *kv_object(const podspec_kv *kv, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++)
        cJSON_AddStringToObject(o, kv[i].name, kv[i].value ? kv[i].value : "");
    return o;
}

/* ---- pod --------------------------------------------------------------------------------- */

static cJSON *container_json(const podspec_container *ct)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "name", ct->name);
    add_str(o, "image", ct->image);
    add_strv(o, "command", ct->command);
    add_strv(o, "args", ct->args);
    add_str(o, "workingDir", ct->working_dir);
    if (ct->n_ports) {
        cJSON *a = cJSON_AddArrayToObject(o, "ports");
        for (size_t i = 0; i < ct->n_ports; i++) {
            const podspec_port *pt = &ct->ports[i];
            cJSON *po = cJSON_CreateObject();
            if (pt->name && *pt->name)
                add_str(po, "name", pt->name);
            if (pt->host_port)
                cJSON_AddNumberToObject(po, "hostPort", pt->host_port);
            cJSON_AddNumberToObject(po, "containerPort", pt->container_port);
            add_str(po, "protocol", pt->protocol);
            if (pt->host_ip && *pt->host_ip)
                add_str(po, "hostIP", pt->host_ip);
            cJSON_AddItemToArray(a, po);
        }
    }
    if (ct->n_env) {
        cJSON *a = cJSON_AddArrayToObject(o, "env");
        for (size_t i = 0; i < ct->n_env; i++) {
            cJSON *e = cJSON_CreateObject();
            add_str(e, "name", ct->env[i].name);
            if (ct->env[i].value && *ct->env[i].value)
                add_str(e, "value", ct->env[i].value);
            cJSON_AddItemToArray(a, e);
        }
    }
    cJSON_AddObjectToObject(o, "resources");
    add_str(o, "terminationMessagePath", ct->termination_message_path);
    add_str(o, "terminationMessagePolicy", ct->termination_message_policy);
    add_str(o, "imagePullPolicy", ct->image_pull_policy);
    if (ct->stdin_open)
        cJSON_AddTrueToObject(o, "stdin");
    if (ct->tty)
        cJSON_AddTrueToObject(o, "tty");
    return o;
}

static void add_host_aliases(cJSON *s, const podspec_pod *p)
{
    if (!p->n_host_aliases)
        return;
    cJSON *a = cJSON_AddArrayToObject(s, "hostAliases");
    for (size_t i = 0; i < p->n_host_aliases; i++) {
        cJSON *e = cJSON_CreateObject();
        add_str(e, "ip", p->host_aliases[i].ip ? p->host_aliases[i].ip : "");
        add_strv(e, "hostnames", p->host_aliases[i].hostnames);
        cJSON_AddItemToArray(a, e);
    }
}

/* Written whenever the manifest has it, even empty: dnsPolicy None depends on its presence. */
static void add_dns_config(cJSON *s, const podspec_dns_config *d)
{
    if (!d->present)
        return;
    cJSON *o = cJSON_AddObjectToObject(s, "dnsConfig");
    add_strv(o, "nameservers", d->nameservers);
    add_strv(o, "searches", d->searches);
    if (!d->n_options)
        return;
    cJSON *a = cJSON_AddArrayToObject(o, "options");
    for (size_t i = 0; i < d->n_options; i++) {
        cJSON *e = cJSON_CreateObject();
        if (d->options[i].name && *d->options[i].name)
            add_str(e, "name", d->options[i].name);
        add_str(e, "value", d->options[i].value);
        cJSON_AddItemToArray(a, e);
    }
}

static cJSON *spec_json(const podspec_pod *p)
{
    cJSON *s = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(s, "containers");
    for (size_t i = 0; i < p->n_containers; i++)
        cJSON_AddItemToArray(a, container_json(&p->containers[i]));
    add_str(s, "restartPolicy", p->restart_policy);
    add_int64(s, "terminationGracePeriodSeconds", p->termination_grace_period_seconds);
    add_str(s, "dnsPolicy", p->dns_policy);
    if (p->node_name && *p->node_name)
        add_str(s, "nodeName", p->node_name);
    if (p->host_network)
        cJSON_AddTrueToObject(s, "hostNetwork");
    if (p->host_pid)
        cJSON_AddTrueToObject(s, "hostPID");
    if (p->host_ipc)
        cJSON_AddTrueToObject(s, "hostIPC");
    if (p->share_process_namespace)
        cJSON_AddTrueToObject(s, "shareProcessNamespace");
    cJSON_AddObjectToObject(s, "securityContext");
    if (p->hostname && *p->hostname)
        add_str(s, "hostname", p->hostname);
    if (p->subdomain && *p->subdomain)
        add_str(s, "subdomain", p->subdomain);
    add_str(s, "schedulerName", p->scheduler_name);
    add_host_aliases(s, p);
    add_dns_config(s, &p->dns_config);
    cJSON_AddBoolToObject(s, "enableServiceLinks", p->enable_service_links);
    return s;
}

static cJSON *annotations_json(const podspec_pod *p, const podspec_kv *extra, size_t n_extra)
{
    if (p->n_annotations + n_extra == 0)
        return NULL;
    podspec_kv *all = xcalloc(p->n_annotations + n_extra, sizeof(*all));
    size_t n = 0;
    for (size_t i = 0; i < n_extra; i++)
        all[n++] = extra[i];
    for (size_t i = 0; i < p->n_annotations; i++)
        if (!podspec_kv_get(extra, n_extra, p->annotations[i].name))
            all[n++] = p->annotations[i];
    ps_kv_sort(all, n);
    cJSON *o = kv_object(all, n);
    free(all); /* the strings stay with their owners */
    return o;
}

static cJSON *meta_json(const podspec_pod *p, bool with_time, const podspec_kv *extra,
                        size_t n_extra)
{
    cJSON *m = cJSON_CreateObject();
    add_str(m, "name", p->name);
    add_str(m, "namespace", p->namespace_);
    if (p->uid && *p->uid)
        add_str(m, "uid", p->uid);
    if (with_time)
        add_time(m, "creationTimestamp", p->creation_ns);
    if (p->n_labels)
        cJSON_AddItemToObject(m, "labels", kv_object(p->labels, p->n_labels));
    cJSON *ann = annotations_json(p, extra, n_extra);
    if (ann)
        cJSON_AddItemToObject(m, "annotations", ann);
    return m;
}

cJSON *podspec_pod_to_json(const podspec_pod *p, const podspec_pod_status *status,
                           const podspec_kv *extra_annotations, size_t n_extra)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "Pod");
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddItemToObject(o, "metadata", meta_json(p, true, extra_annotations, n_extra));
    cJSON_AddItemToObject(o, "spec", spec_json(p));
    if (status)
        cJSON_AddItemToObject(o, "status", podspec_status_to_json(status));
    return o;
}

int ps_pod_hash(podspec_pod *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "metadata", meta_json(p, false, NULL, 0));
    cJSON_AddItemToObject(o, "spec", spec_json(p));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        abort(); /* cJSON fails only when out of memory */
    unsigned char md[MK_SHA256_LEN];
    mk_sha256(text, strlen(text), md);
    free(text);
    mk_hex(md, MK_SHA256_LEN, p->hash);
    return 0;
}

/* ---- status ------------------------------------------------------------------------------ */

static cJSON *state_json(const podspec_container_state *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *s;
    switch (st->kind) {
    case PODSPEC_STATE_NONE:
        break;
    case PODSPEC_STATE_WAITING:
        s = cJSON_AddObjectToObject(o, "waiting");
        if (st->reason && *st->reason)
            add_str(s, "reason", st->reason);
        if (st->message && *st->message)
            add_str(s, "message", st->message);
        break;
    case PODSPEC_STATE_RUNNING:
        s = cJSON_AddObjectToObject(o, "running");
        add_time(s, "startedAt", st->started_at_ns);
        break;
    case PODSPEC_STATE_TERMINATED:
        s = cJSON_AddObjectToObject(o, "terminated");
        cJSON_AddNumberToObject(s, "exitCode", st->exit_code);
        if (st->signal)
            cJSON_AddNumberToObject(s, "signal", st->signal);
        if (st->reason && *st->reason)
            add_str(s, "reason", st->reason);
        if (st->message && *st->message)
            add_str(s, "message", st->message);
        add_time(s, "startedAt", st->started_at_ns);
        add_time(s, "finishedAt", st->finished_at_ns);
        if (st->container_id && *st->container_id)
            add_str(s, "containerID", st->container_id);
        break;
    }
    return o;
}

static cJSON *container_status_json(const podspec_container_status *cs)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "name", cs->name);
    cJSON_AddItemToObject(o, "state", state_json(&cs->state));
    cJSON_AddItemToObject(o, "lastState", state_json(&cs->last_state));
    cJSON_AddBoolToObject(o, "ready", cs->ready);
    cJSON_AddNumberToObject(o, "restartCount", cs->restart_count);
    add_str(o, "image", cs->image ? cs->image : "");
    add_str(o, "imageID", cs->image_id ? cs->image_id : "");
    if (cs->container_id && *cs->container_id)
        add_str(o, "containerID", cs->container_id);
    cJSON_AddBoolToObject(o, "started", cs->started);
    return o;
}

static cJSON *condition_json(const podspec_condition *c)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "type", c->type);
    cJSON_AddStringToObject(o, "status", c->status ? "True" : "False");
    cJSON_AddNullToObject(o, "lastProbeTime");
    add_time(o, "lastTransitionTime", c->last_transition_ns);
    if (c->reason && *c->reason)
        add_str(o, "reason", c->reason);
    if (c->message && *c->message)
        add_str(o, "message", c->message);
    return o;
}

static void add_ips(cJSON *o, const char *single, const char *plural, const char *ip,
                    const char *ip2)
{
    if (!ip || !*ip)
        return;
    add_str(o, single, ip);
    cJSON *a = cJSON_AddArrayToObject(o, plural);
    const char *ips[] = {ip, ip2};
    for (size_t i = 0; i < 2; i++) {
        if (!ips[i] || !*ips[i])
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "ip", ips[i]);
        cJSON_AddItemToArray(a, e);
    }
}

cJSON *podspec_status_to_json(const podspec_pod_status *s)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "phase", s->phase ? s->phase : "Pending");
    if (s->n_conditions) {
        cJSON *a = cJSON_AddArrayToObject(o, "conditions");
        for (size_t i = 0; i < s->n_conditions; i++)
            cJSON_AddItemToArray(a, condition_json(&s->conditions[i]));
    }
    if (s->message && *s->message)
        add_str(o, "message", s->message);
    if (s->reason && *s->reason)
        add_str(o, "reason", s->reason);
    add_ips(o, "hostIP", "hostIPs", s->host_ip, NULL);
    add_ips(o, "podIP", "podIPs", s->pod_ip, s->pod_ip6);
    if (s->start_time_ns > 0)
        add_time(o, "startTime", s->start_time_ns);
    if (s->n_container_statuses) {
        cJSON *a = cJSON_AddArrayToObject(o, "containerStatuses");
        for (size_t i = 0; i < s->n_container_statuses; i++)
            cJSON_AddItemToArray(a, container_status_json(&s->container_statuses[i]));
    }
    if (s->qos_class && *s->qos_class)
        add_str(o, "qosClass", s->qos_class);
    return o;
}

static void state_free(podspec_container_state *st)
{
    free(st->reason);
    free(st->message);
    free(st->container_id);
}

void podspec_status_free(podspec_pod_status *s)
{
    if (!s)
        return;
    free(s->phase);
    free(s->reason);
    free(s->message);
    free(s->host_ip);
    free(s->pod_ip);
    free(s->pod_ip6);
    free(s->qos_class);
    for (size_t i = 0; i < s->n_conditions; i++) {
        free(s->conditions[i].type);
        free(s->conditions[i].reason);
        free(s->conditions[i].message);
    }
    free(s->conditions);
    for (size_t i = 0; i < s->n_container_statuses; i++) {
        podspec_container_status *cs = &s->container_statuses[i];
        free(cs->name);
        free(cs->image);
        free(cs->image_id);
        free(cs->container_id);
        state_free(&cs->state);
        state_free(&cs->last_state);
    }
    free(s->container_statuses);
    memset(s, 0, sizeof(*s));
}

cJSON *podspec_status_error_json(int http_code, const char *reason, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "Status");
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(o, "status", "Failure");
    cJSON_AddStringToObject(o, "message", message ? message : "");
    cJSON_AddStringToObject(o, "reason", reason ? reason : "");
    cJSON_AddNumberToObject(o, "code", http_code);
    return o;
}
