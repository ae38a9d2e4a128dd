/* cni_args.c - the per-pod inputs of a CNI call: CNI_ARGS and the portMappings capability. */
#include "cni_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_pair(cJSON *arr, const char *k, const char *v)
{
    cJSON *p = cJSON_CreateArray();
    cJSON_AddItemToArray(p, cJSON_CreateString(k));
    cJSON_AddItemToArray(p, cJSON_CreateString(v));
    cJSON_AddItemToArray(arr, p);
}

static bool carriable(const char *v)
{
    return v && *v && !strpbrk(v, ";=") && !strchr(v, '\n');
}

int rt_cni_args_pairs(const rt_cni_pod *pod, cJSON **out, mk_err *err)
{
    struct {
        const char *key, *val;
        bool optional;
    } kv[] = {
        {"K8S_POD_NAMESPACE", pod->pod_namespace, false},
        {"K8S_POD_NAME", pod->pod_name, false},
        {"K8S_POD_INFRA_CONTAINER_ID", pod->container_id, false},
        {"K8S_POD_UID", pod->pod_uid, true},
    };
    for (size_t i = 0; i < MK_ARRAY_LEN(kv); i++) {
        if (kv[i].optional && !kv[i].val)
            continue;
        if (!carriable(kv[i].val))
            return mk_errf(err, EINVAL, "CNI_ARGS %s: \"%s\" is empty or holds ';' or '='",
                           kv[i].key, kv[i].val ? kv[i].val : "");
    }
    cJSON *arr = cJSON_CreateArray();
    add_pair(arr, "IgnoreUnknown", "1");
    for (size_t i = 0; i < MK_ARRAY_LEN(kv); i++) {
        if (kv[i].val)
            add_pair(arr, kv[i].key, kv[i].val);
    }
    *out = arr;
    return 0;
}

char *rt_cni_args_join(const cJSON *pairs)
{
    size_t cap = 64, n = 0;
    char *s = xmalloc(cap);
    s[0] = '\0';
    const cJSON *p;
    cJSON_ArrayForEach(p, pairs)
    {
        const char *k = cJSON_GetStringValue(cJSON_GetArrayItem(p, 0));
        const char *v = cJSON_GetStringValue(cJSON_GetArrayItem(p, 1));
        if (!k || !v)
            continue;
        size_t need = n + strlen(k) + strlen(v) + 3;
        if (need > cap) {
            cap = need * 2;
            s = xrealloc(s, cap);
        }
        n += (size_t)sprintf(s + n, "%s%s=%s", n ? ";" : "", k, v);
    }
    return s;
}

static int lower_protocol(const char *in, char out[8])
{
    if (!in || !*in)
        in = "tcp";
    size_t n = strlen(in);
    if (n >= 8)
        return -1;
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    if (strcmp(out, "tcp") && strcmp(out, "udp") && strcmp(out, "sctp"))
        return -1;
    return 0;
}

int rt_cni_portmaps_json(const rt_cni_portmap *p, size_t n, cJSON **out, mk_err *err)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        char proto[8];
        if (p[i].host_port < 1 || p[i].host_port > 65535 || p[i].container_port < 1 ||
            p[i].container_port > 65535) {
            cJSON_Delete(arr);
            return mk_errf(err, EINVAL, "port mapping %d -> %d: ports must be 1..65535",
                           p[i].host_port, p[i].container_port);
        }
        if (lower_protocol(p[i].protocol, proto) < 0) {
            cJSON_Delete(arr);
            return mk_errf(err, EINVAL, "port mapping %d: protocol \"%s\": TCP, UDP or SCTP",
                           p[i].host_port, p[i].protocol);
        }
        cJSON *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "hostPort", p[i].host_port);
        cJSON_AddNumberToObject(m, "containerPort", p[i].container_port);
        cJSON_AddStringToObject(m, "protocol", proto);
        if (p[i].host_ip && *p[i].host_ip)
            cJSON_AddStringToObject(m, "hostIP", p[i].host_ip);
        cJSON_AddItemToArray(arr, m);
    }
    *out = arr;
    return 0;
}

size_t rt_cni_portmaps_from_pod(const podspec_pod *pod, rt_cni_portmap **out)
{
    size_t n = 0;
    *out = NULL;
    for (size_t c = 0; c < pod->n_containers; c++) {
        for (size_t i = 0; i < pod->containers[c].n_ports; i++)
            n += pod->containers[c].ports[i].host_port > 0;
    }
    if (n == 0)
        return 0;
    rt_cni_portmap *m = xcalloc(n, sizeof(*m));
    size_t k = 0;
    for (size_t c = 0; c < pod->n_containers; c++) {
        for (size_t i = 0; i < pod->containers[c].n_ports; i++) {
            const podspec_port *p = &pod->containers[c].ports[i];
            if (p->host_port <= 0)
                continue;
            m[k].host_port = p->host_port;
            m[k].container_port = p->container_port;
            m[k].protocol = p->protocol;
            m[k].host_ip = p->host_ip;
            k++;
        }
    }
    *out = m;
    return n;
}
