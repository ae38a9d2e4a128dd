/* podfiles.c - the files a pod's containers see (/etc/hosts, /etc/hostname, /etc/resolv.conf)
 * and the pod's checkpoint, state_dir/pod.json, which recovery reads back. */
#include "podfiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOSTNAME_MAX 63

void agent_pod_hostnames(const podspec_pod *spec, char **hostname, char **fqdn)
{
    const char *h = spec->hostname && spec->hostname[0] ? spec->hostname : spec->name;
    size_t n = strlen(h);
    if (n > HOSTNAME_MAX)
        n = HOSTNAME_MAX;
    while (n > 0 && (h[n - 1] == '-' || h[n - 1] == '.'))
        n--; /* the kubelet trims a truncated name so it stays a valid label */
    *hostname = xstrndup(h, n);
    *fqdn = NULL;
    if (spec->subdomain && spec->subdomain[0])
        *fqdn =
            xasprintf("%s.%s.%s.svc.cluster.local", *hostname, spec->subdomain, spec->namespace_);
}

static int copy_host_file(const char *src, const char *dst, const char *fallback, mk_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int r = mk_read_file(src, 1 << 20, &buf, &len, err);
    if (r < 0) {
        mk_warn("cannot read %s (%s); the pods get a minimal one", src, err->msg);
        mk_err_clear(err);
        r = mk_write_file_atomic(dst, fallback, strlen(fallback), 0644, err);
        return r;
    }
    r = mk_write_file_atomic(dst, buf, len, 0644, err);
    free(buf);
    return r;
}

static const char hosts_head[] = "# Kubernetes-managed hosts file.\n"
                                 "127.0.0.1\tlocalhost\n"
                                 "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                 "fe00::0\tip6-localnet\n"
                                 "fe00::0\tip6-mcastprefix\n"
                                 "fe00::1\tip6-allnodes\n"
                                 "fe00::2\tip6-allrouters\n";

int agent_pod_files_write(const char *state_dir, bool host_network, const char *hostname,
                          const char *fqdn, const char *ip, mk_err *err)
{
    cleanup_free char *hosts = xasprintf("%s/etc-hosts", state_dir);
    cleanup_free char *hn = xasprintf("%s/hostname", state_dir);
    cleanup_free char *resolv = xasprintf("%s/resolv.conf", state_dir);
    int r;
    if (host_network) {
        r = copy_host_file("/etc/hosts", hosts, hosts_head, err);
    } else {
        /* no pod network yet: the pod's own name resolves to a loopback address */
        const char *addr = ip && ip[0] ? ip : "127.0.1.1";
        cleanup_free char *text =
            fqdn ? xasprintf("%s%s\t%s\t%s\n", hosts_head, addr, fqdn, hostname)
                 : xasprintf("%s%s\t%s\n", hosts_head, addr, hostname);
        r = mk_write_file_atomic(hosts, text, strlen(text), 0644, err);
    }
    if (r < 0)
        return r;
    cleanup_free char *hline = xasprintf("%s\n", hostname);
    if ((r = mk_write_file_atomic(hn, hline, strlen(hline), 0644, err)) < 0)
        return r;
    return copy_host_file("/etc/resolv.conf", resolv, "", err);
}

int agent_pod_files_write2(const char *state_dir, const podspec_pod *spec,
                           const agent_pod_files_in *in, agent_pod_files_out *out, mk_err *err)
{
    (void)spec;
    memset(out, 0, sizeof(*out));
    return agent_pod_files_write(state_dir, in->host_network, in->hostname, in->fqdn,
                                 in->ipv4 ? in->ipv4 : in->ipv6, err);
}

void agent_pod_files_out_free(agent_pod_files_out *out)
{
    for (size_t i = 0; i < out->n_notes; i++) {
        free(out->notes[i].reason);
        free(out->notes[i].message);
    }
    out->n_notes = 0;
}

/* ---- checkpoint ---- */

static void add_ns(cJSON *o, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cJSON_AddStringToObject(o, key, buf);
}

static int64_t get_ns(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? strtoll(v->valuestring, NULL, 10) : 0;
}

static cJSON *backoff_json(const agent_backoff *b)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "active", b->active);
    add_ns(o, "periodNs", b->period_ns);
    add_ns(o, "lastUpdateNs", b->last_update_ns);
    return o;
}

static void backoff_from_json(const cJSON *o, agent_backoff *b)
{
    if (!cJSON_IsObject(o))
        return;
    b->active = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "active"));
    b->period_ns = get_ns(o, "periodNs");
    b->last_update_ns = get_ns(o, "lastUpdateNs");
}

char *agent_pod_checkpoint(const agent_pod *pod)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "uid", pod->uid);
    cJSON_AddStringToObject(o, "namespace", pod->spec->namespace_);
    cJSON_AddStringToObject(o, "name", pod->spec->name);
    cJSON_AddStringToObject(o, "hash", pod->spec->hash);
    cJSON_AddStringToObject(o, "manifest", pod->manifest_file ? pod->manifest_file : "");
    add_ns(o, "createdNs", pod->created_ns);
    add_ns(o, "seenNs", pod->seen_ns);
    add_ns(o, "startNs", pod->start_ns);
    cJSON_AddNumberToObject(o, "terminationGracePeriodSeconds",
                            (double)pod->spec->termination_grace_period_seconds);
    cJSON_AddItemToObject(o, "pod", podspec_pod_to_json(pod->spec, NULL, NULL, 0));
    cJSON *ctrs = cJSON_AddArrayToObject(o, "containers");
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const agent_ctr *c = &pod->ctrs[i];
        cJSON *co = cJSON_CreateObject();
        cJSON_AddStringToObject(co, "name", c->spec->name);
        cJSON_AddNumberToObject(co, "restartCount", c->restart_count);
        cJSON_AddItemToObject(co, "crashBackoff", backoff_json(&c->crash_backoff));
        cJSON_AddItemToArray(ctrs, co);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        abort();
    char *out = xasprintf("%s\n", text);
    cJSON_free(text);
    return out;
}

int agent_pod_checkpoint_write(const char *state_dir, const char *json, mk_err *err)
{
    cleanup_free char *path = xasprintf("%s/pod.json", state_dir);
    int r = mk_write_file_atomic(path, json, strlen(json), 0600, err);
    return r < 0 ? mk_err_wrap(err, "checkpoint") : 0;
}

static int str_field(const cJSON *o, const char *key, const char **out, const char *path,
                     mk_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v))
        return mk_errf(err, EINVAL, "%s: field %s missing", path, key);
    *out = v->valuestring;
    return 0;
}

/* Parse the "pod" object back into a spec with the checkpoint's hash. */
static podspec_pod *spec_from_json(const cJSON *pod_json, const char *hash, const char *manifest,
                                   const char *path, mk_err *err)
{
    cleanup_free char *text = cJSON_PrintUnformatted(pod_json);
    if (!text) {
        mk_errf(err, EINVAL, "%s: no pod", path);
        return NULL;
    }
    podspec_result res = {0};
    if (podspec_parse(path, text, strlen(text), &res, err) < 0)
        return NULL;
    if (res.n_pods != 1) {
        podspec_result_free(&res);
        mk_errf(err, EINVAL, "%s: want one pod", path);
        return NULL;
    }
    podspec_pod *spec = podspec_pod_dup(res.pods[0]);
    podspec_result_free(&res);
    snprintf(spec->hash, sizeof(spec->hash), "%s", hash);
    free(spec->source_file);
    spec->source_file = xstrdup(manifest);
    return spec;
}

int agent_pod_checkpoint_load(const char *state_dir, agent_checkpoint *ck, mk_err *err)
{
    memset(ck, 0, sizeof(*ck));
    cleanup_free char *path = xasprintf("%s/pod.json", state_dir);
    cleanup_free char *buf = NULL;
    size_t len = 0;
    int r = mk_read_file(path, 16 << 20, &buf, &len, err);
    if (r < 0)
        return r;
    cJSON *o = cJSON_ParseWithLength(buf, len);
    if (!o)
        return mk_errf(err, EINVAL, "%s: not JSON", path);
    const char *uid = NULL, *hash = NULL, *manifest = NULL;
    if ((r = str_field(o, "uid", &uid, path, err)) < 0 ||
        (r = str_field(o, "hash", &hash, path, err)) < 0 ||
        (r = str_field(o, "manifest", &manifest, path, err)) < 0)
        goto out;
    ck->spec =
        spec_from_json(cJSON_GetObjectItemCaseSensitive(o, "pod"), hash, manifest, path, err);
    if (!ck->spec) {
        r = -EINVAL;
        goto out;
    }
    snprintf(ck->uid, sizeof(ck->uid), "%s", uid);
    ck->created_ns = get_ns(o, "createdNs");
    ck->seen_ns = get_ns(o, "seenNs");
    ck->start_ns = get_ns(o, "startNs");
    const cJSON *ctrs = cJSON_GetObjectItemCaseSensitive(o, "containers");
    size_t n = (size_t)cJSON_GetArraySize(ctrs);
    ck->ctrs = xcalloc(n ? n : 1, sizeof(*ck->ctrs));
    const cJSON *co;
    cJSON_ArrayForEach(co, ctrs)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(co, "name");
        const cJSON *rc = cJSON_GetObjectItemCaseSensitive(co, "restartCount");
        if (!cJSON_IsString(name))
            continue;
        agent_checkpoint_ctr *c = &ck->ctrs[ck->n_ctrs++];
        snprintf(c->name, sizeof(c->name), "%s", name->valuestring);
        c->restart_count = cJSON_IsNumber(rc) ? rc->valueint : 0;
        backoff_from_json(cJSON_GetObjectItemCaseSensitive(co, "crashBackoff"), &c->crash_backoff);
    }
    r = 0;
out:
    cJSON_Delete(o);
    return r;
}

void agent_checkpoint_free(agent_checkpoint *ck)
{
    podspec_pod_free(ck->spec);
    free(ck->ctrs);
    memset(ck, 0, sizeof(*ck));
}

int64_t agent_checkpoint_grace(const char *state_dir)
{
    cleanup_free char *path = xasprintf("%s/pod.json", state_dir);
    cleanup_free char *buf = NULL;
    size_t len = 0;
    mk_err err = {0};
    if (mk_read_file(path, 16 << 20, &buf, &len, &err) < 0)
        return 30;
    cJSON *o = cJSON_ParseWithLength(buf, len);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "terminationGracePeriodSeconds");
    double d = cJSON_IsNumber(g) ? g->valuedouble : 30;
    /* clamped before the conversion, which is undefined out of range (136 years is forever) */
    int64_t v = d >= 0 && d <= AGENT_GRACE_MAX_SEC ? (int64_t)d : d < 0 ? 0 : AGENT_GRACE_MAX_SEC;
    cJSON_Delete(o);
    return v;
}
