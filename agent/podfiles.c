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

/* ---- /etc/hosts ---------------------------------------------------------------------------- */

#define HOST_FILE_MAX (10 << 20) /* the kubelet's limit on the host's resolv.conf */

static const char hosts_header[] = "# Kubernetes-managed hosts file.\n";
static const char hosts_header_host_net[] = "# Kubernetes-managed hosts file (host network).\n";
static const char hosts_local[] = "127.0.0.1\tlocalhost\n"
                                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                  "fe00::0\tip6-localnet\n"
                                  "fe00::0\tip6-mcastprefix\n"
                                  "fe00::1\tip6-allnodes\n"
                                  "fe00::2\tip6-allrouters\n";

static FILE *text_open(char **buf, size_t *len)
{
    FILE *f = open_memstream(buf, len);
    if (!f)
        abort(); /* fails only when out of memory */
    return f;
}

static void text_close(FILE *f)
{
    if (fclose(f) != 0)
        abort(); /* a memory stream fails only when out of memory */
}

/* A host file, or NULL (without an error) when the host has none. */
static int read_host_file(const char *path, char **text, mk_err *err)
{
    size_t len = 0;
    *text = NULL;
    int r = mk_read_file(path, HOST_FILE_MAX, text, &len, err);
    if (r == -ENOENT) {
        mk_err_clear(err);
        return 0;
    }
    return r < 0 ? r : 0;
}

static void put_aliases(FILE *f, const podspec_pod *spec)
{
    if (spec->n_host_aliases == 0)
        return;
    fputs("\n# Entries added by HostAliases.\n", f);
    /* one line per alias entry, its names separated by tabs, as the kubelet writes it */
    for (size_t i = 0; i < spec->n_host_aliases; i++) {
        const podspec_host_alias *a = &spec->host_aliases[i];
        fprintf(f, "%s\t", a->ip);
        for (size_t j = 0; a->hostnames && a->hostnames[j]; j++)
            fprintf(f, "%s%s", j ? "\t" : "", a->hostnames[j]);
        fputc('\n', f);
    }
}

static void put_own_name(FILE *f, const char *ip, const agent_pod_files_in *in)
{
    if (in->fqdn)
        fprintf(f, "%s\t%s\t%s\n", ip, in->fqdn, in->hostname);
    else
        fprintf(f, "%s\t%s\n", ip, in->hostname);
}

/* The kubelet's file: hostNetwork pods see the host's, others a generated one naming the pod's
 * addresses. A pod without an address (no pod network) resolves its own name to 127.0.1.1. */
static int hosts_text(const podspec_pod *spec, const agent_pod_files_in *in, char **out,
                      mk_err *err)
{
    const char *path = in->host_hosts_path ? in->host_hosts_path : "/etc/hosts";
    cleanup_free char *host = NULL;
    if (in->host_network && read_host_file(path, &host, err) < 0)
        return mk_err_wrap(err, "the host's hosts file");
    size_t len = 0;
    FILE *f = text_open(out, &len);
    if (in->host_network) {
        fputs(hosts_header_host_net, f);
        fputs(host ? host : hosts_local, f);
    } else {
        bool v4 = in->ipv4 && *in->ipv4, v6 = in->ipv6 && *in->ipv6;
        fputs(hosts_header, f);
        fputs(hosts_local, f);
        if (v4)
            put_own_name(f, in->ipv4, in);
        if (v6)
            put_own_name(f, in->ipv6, in);
        if (!v4 && !v6)
            put_own_name(f, "127.0.1.1", in);
    }
    put_aliases(f, spec);
    text_close(f);
    return 0;
}

/* ---- resolv.conf --------------------------------------------------------------------------- */

/* The kubelet's limits on what it hands the resolver (glibc's, expanded). */
#define DNS_MAX_NAMESERVERS   3
#define DNS_MAX_SEARCHES      32
#define DNS_MAX_SEARCH_CHARS  2048
#define DNS_MAX_SEARCH_LENGTH 253

typedef struct strv {
    char **v;
    size_t n;
} strv;

typedef struct dns_conf {
    strv servers, searches, options;
} dns_conf;

static void strv_add(strv *s, char *owned)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = owned;
}

static bool strv_has(const strv *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x))
            return true;
    return false;
}

static void strv_add_unique(strv *s, const char *x)
{
    if (!strv_has(s, x))
        strv_add(s, xstrdup(x));
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void dns_conf_free(dns_conf *d)
{
    strv_free(&d->servers);
    strv_free(&d->searches);
    strv_free(&d->options);
}

/* "a b c" */
static char *strv_join(const strv *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = text_open(&buf, &len);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%s%s", i ? " " : "", s->v[i]);
    text_close(f);
    return buf;
}

/* resolv.conf as the kubelet reads it: nameservers accumulate, the last search and options
 * lines win, a search domain loses one trailing dot, comment lines start with '#'. */
static void parse_resolv(char *text, dns_conf *d)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        static const char ws[] = " \t\r\v\f";
        char *lsave = NULL, *key = strtok_r(line, ws, &lsave);
        if (!key || key[0] == '#')
            continue;
        bool search = !strcmp(key, "search"), options = !strcmp(key, "options");
        if (search)
            strv_free(&d->searches);
        if (options)
            strv_free(&d->options);
        for (char *w = strtok_r(NULL, ws, &lsave); w; w = strtok_r(NULL, ws, &lsave)) {
            size_t n = strlen(w);
            if (!strcmp(key, "nameserver")) {
                strv_add(&d->servers, xstrdup(w));
                break;
            }
            if (search && n > 1) /* "search ." names no domain */
                strv_add(&d->searches, xstrndup(w, w[n - 1] == '.' ? n - 1 : n));
            else if (search && strcmp(w, ".") != 0)
                strv_add(&d->searches, xstrdup(w));
            else if (options)
                strv_add(&d->options, xstrdup(w));
        }
    }
}

static void copy_strv(strv *dst, char *const *src)
{
    for (size_t i = 0; src && src[i]; i++)
        strv_add(dst, xstrdup(src[i]));
}

/* The network plugin's DNS, when it names nameservers. */
static bool base_from_cni(const rt_cni_result *net, dns_conf *d)
{
    if (!net || !net->dns_nameservers || !net->dns_nameservers[0])
        return false;
    copy_strv(&d->servers, net->dns_nameservers);
    copy_strv(&d->searches, net->dns_search);
    if (d->searches.n == 0 && net->dns_domain && *net->dns_domain)
        strv_add(&d->searches, xstrdup(net->dns_domain)); /* the resolver's default search */
    copy_strv(&d->options, net->dns_options);
    return true;
}

/* Set option `name` to "name" or "name:value", in place when it is there already. */
static void set_option(strv *opts, const char *name, size_t name_len, const char *value)
{
    char *text = value && *value ? xasprintf("%.*s:%s", (int)name_len, name, value)
                                 : xstrndup(name, name_len);
    for (size_t i = 0; i < opts->n; i++) {
        size_t n = strcspn(opts->v[i], ":");
        if (n == name_len && !strncmp(opts->v[i], name, n)) {
            free(opts->v[i]);
            opts->v[i] = text;
            return;
        }
    }
    strv_add(opts, text);
}

/* dnsConfig on top of the base: nameservers and searches appended without duplicates, options
 * merged by name with the pod's values winning (base order first, then the pod's new ones). */
static void merge_pod_dns(dns_conf *d, const podspec_dns_config *pc)
{
    strv servers = {0}, searches = {0}, options = {0};
    for (size_t i = 0; i < d->servers.n; i++)
        strv_add_unique(&servers, d->servers.v[i]);
    for (size_t i = 0; pc->nameservers && pc->nameservers[i]; i++)
        strv_add_unique(&servers, pc->nameservers[i]);
    for (size_t i = 0; i < d->searches.n; i++)
        strv_add_unique(&searches, d->searches.v[i]);
    for (size_t i = 0; pc->searches && pc->searches[i]; i++)
        strv_add_unique(&searches, pc->searches[i]);
    for (size_t i = 0; i < d->options.n; i++) {
        const char *o = d->options.v[i], *colon = strchr(o, ':');
        set_option(&options, o, colon ? (size_t)(colon - o) : strlen(o), colon ? colon + 1 : NULL);
    }
    for (size_t i = 0; i < pc->n_options; i++)
        set_option(&options, pc->options[i].name, strlen(pc->options[i].name),
                   pc->options[i].value);
    dns_conf_free(d);
    *d = (dns_conf){servers, searches, options};
}

static void add_note(agent_pod_files_out *out, const char *reason, char *message)
{
    if (out->n_notes == MK_ARRAY_LEN(out->notes)) {
        free(message);
        return;
    }
    out->notes[out->n_notes++] =
        (agent_pod_files_note){.reason = xstrdup(reason), .message = message, .warning = true};
}

static void limit_note(agent_pod_files_out *out, const char *what, const strv *kept,
                       const strv *dropped)
{
    cleanup_free char *line = strv_join(kept);
    cleanup_free char *gone = strv_join(dropped);
    add_note(out, "DNSConfigForming",
             xasprintf("%s limits were exceeded, some %s have been omitted, the applied %s line "
                       "is: %s (omitted: %s)",
                       what, !strcmp(what, "Nameserver") ? "nameservers" : "search paths",
                       !strcmp(what, "Nameserver") ? "nameserver" : "search", line, gone));
}

/* The kubelet's limits: at most 3 nameservers; at most 32 search domains, none longer than 253
 * characters, 2048 characters in all (the last ones go first). True when something was cut. */
static bool fit_limits(dns_conf *d, agent_pod_files_out *out)
{
    strv kept = {0}, dropped = {0};
    bool cut = false;
    if (d->servers.n > DNS_MAX_NAMESERVERS) {
        for (size_t i = DNS_MAX_NAMESERVERS; i < d->servers.n; i++)
            strv_add(&dropped, MK_STEAL(d->servers.v[i]));
        d->servers.n = DNS_MAX_NAMESERVERS;
        limit_note(out, "Nameserver", &d->servers, &dropped);
        strv_free(&dropped);
        cut = true;
    }
    size_t chars = 0;
    bool full = false; /* past the character limit: the rest goes too */
    for (size_t i = 0; i < d->searches.n; i++) {
        char *s = MK_STEAL(d->searches.v[i]);
        size_t n = strlen(s);
        if (i >= DNS_MAX_SEARCHES || n > DNS_MAX_SEARCH_LENGTH || full ||
            chars + (kept.n ? 1 : 0) + n > DNS_MAX_SEARCH_CHARS) {
            full = full || (i < DNS_MAX_SEARCHES && n <= DNS_MAX_SEARCH_LENGTH);
            strv_add(&dropped, s);
            continue;
        }
        chars += (kept.n ? 1 : 0) + n;
        strv_add(&kept, s);
    }
    free(d->searches.v);
    d->searches = kept;
    if (dropped.n) {
        limit_note(out, "Search Line", &d->searches, &dropped);
        cut = true;
    }
    strv_free(&dropped);
    return cut;
}

/* Written the way container runtimes write it: search, nameservers, options. */
static char *resolv_text(const dns_conf *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = text_open(&buf, &len);
    if (d->searches.n) {
        cleanup_free char *line = strv_join(&d->searches);
        fprintf(f, "search %s\n", line);
    }
    for (size_t i = 0; i < d->servers.n; i++)
        fprintf(f, "nameserver %s\n", d->servers.v[i]);
    if (d->options.n) {
        cleanup_free char *line = strv_join(&d->options);
        fprintf(f, "options %s\n", line);
    }
    text_close(f);
    return buf;
}

typedef enum { DNS_HOST, DNS_CLUSTER, DNS_NONE } dns_kind;

/* The kubelet's reading of dnsPolicy: ClusterFirst means Default on the host's network. */
static dns_kind dns_kind_of(const podspec_pod *spec)
{
    const char *p = spec->dns_policy ? spec->dns_policy : "ClusterFirst";
    if (!strcmp(p, "None"))
        return DNS_NONE;
    if (!strcmp(p, "Default") || (!strcmp(p, "ClusterFirst") && spec->host_network))
        return DNS_HOST;
    return DNS_CLUSTER;
}

static void missing_cluster_dns(const podspec_pod *spec, const char *uid, agent_pod_files_out *out)
{
    if (!uid || !*uid)
        uid = spec->uid;
    cleanup_free char *who = uid && *uid ? xasprintf("%s_%s(%s)", spec->name, spec->namespace_, uid)
                                         : xasprintf("%s_%s", spec->name, spec->namespace_);
    add_note(
        out, "MissingClusterDNS",
        xasprintf("pod: \"%s\". mini-kubelet does not have ClusterDNS IP configured and cannot "
                  "create Pod using \"ClusterFirst\" policy. Falling back to \"Default\" "
                  "policy.",
                  who));
}

/* The pod's resolv.conf text: the base dnsPolicy gives (none, the network plugin's DNS or the
 * host's file), dnsConfig merged in, cut to the resolver's limits. hostNetwork pods whose DNS is
 * the host's, unchanged, get the host's file itself. */
static int resolv_conf_text(const podspec_pod *spec, const agent_pod_files_in *in,
                            agent_pod_files_out *out, char **text, mk_err *err)
{
    const char *path = in->host_resolv_path ? in->host_resolv_path : "/etc/resolv.conf";
    dns_kind kind = dns_kind_of(spec);
    dns_conf d = {0};
    cleanup_free char *host = NULL;
    bool from_host = false;
    if (kind == DNS_CLUSTER)
        missing_cluster_dns(spec, in->uid, out);
    if (kind != DNS_NONE && !base_from_cni(in->net, &d)) {
        if (read_host_file(path, &host, err) < 0)
            return mk_err_wrap(err, "the host's DNS configuration");
        cleanup_free char *scratch = xstrdup(host ? host : "");
        parse_resolv(scratch, &d);
        from_host = true;
    }
    if (spec->dns_config.present)
        merge_pod_dns(&d, &spec->dns_config);
    bool cut = fit_limits(&d, out);
    if (in->host_network && from_host && !spec->dns_config.present && !cut)
        *text = xstrdup(host ? host : "");
    else
        *text = resolv_text(&d);
    dns_conf_free(&d);
    return 0;
}

int agent_pod_files_write(const char *state_dir, const podspec_pod *spec,
                          const agent_pod_files_in *in, agent_pod_files_out *out, mk_err *err)
{
    memset(out, 0, sizeof(*out));
    cleanup_free char *hosts = NULL, *resolv = NULL;
    cleanup_free char *hline = xasprintf("%s\n", in->hostname);
    int r = hosts_text(spec, in, &hosts, err);
    if (r == 0)
        r = resolv_conf_text(spec, in, out, &resolv, err);
    const char *names[] = {"etc-hosts", "hostname", "resolv.conf"};
    const char *texts[] = {hosts, hline, resolv};
    for (size_t i = 0; r == 0 && i < MK_ARRAY_LEN(names); i++) {
        cleanup_free char *path = xasprintf("%s/%s", state_dir, names[i]);
        r = mk_write_file_atomic(path, texts[i], strlen(texts[i]), 0644, err);
    }
    if (r < 0)
        agent_pod_files_out_free(out);
    return r;
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
