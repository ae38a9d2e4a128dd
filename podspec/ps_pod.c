/* ps_pod.c - podspec_parse (load, decode, default, validate, hash per document), and the
 * ownership helpers: free, dup. */
#include "ps_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- free / dup -------------------------------------------------------------------------- */

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void free_kv(podspec_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
    free(kv);
}

void ps_container_free(podspec_container *ct)
{
    free(ct->name);
    free(ct->image);
    free(ct->image_pull_policy);
    free_strv(ct->command);
    free_strv(ct->args);
    free(ct->working_dir);
    free_kv(ct->env, ct->n_env);
    for (size_t i = 0; i < ct->n_ports; i++) {
        free(ct->ports[i].name);
        free(ct->ports[i].protocol);
        free(ct->ports[i].host_ip);
    }
    free(ct->ports);
    free(ct->termination_message_path);
    free(ct->termination_message_policy);
    memset(ct, 0, sizeof(*ct));
}

static void free_dns(podspec_pod *p)
{
    free_strv(p->dns_config.nameservers);
    free_strv(p->dns_config.searches);
    free_kv(p->dns_config.options, p->dns_config.n_options);
    for (size_t i = 0; i < p->n_host_aliases; i++) {
        free(p->host_aliases[i].ip);
        free_strv(p->host_aliases[i].hostnames);
    }
    free(p->host_aliases);
}

void podspec_pod_free(podspec_pod *p)
{
    if (!p)
        return;
    free(p->source_file);
    free(p->api_version);
    free(p->kind);
    free(p->name);
    free(p->namespace_);
    free(p->uid);
    free_kv(p->labels, p->n_labels);
    free_kv(p->annotations, p->n_annotations);
    for (size_t i = 0; i < p->n_containers; i++)
        ps_container_free(&p->containers[i]);
    free(p->containers);
    free(p->restart_policy);
    free(p->hostname);
    free(p->subdomain);
    free(p->dns_policy);
    free(p->scheduler_name);
    free(p->node_name);
    free_dns(p);
    free(p);
}

static char **dup_strv(char *const *v)
{
    if (!v)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **d = xcalloc(n + 1, sizeof(*d));
    for (size_t i = 0; i < n; i++)
        d[i] = xstrdup(v[i]);
    return d;
}

static podspec_kv *dup_kv(const podspec_kv *kv, size_t n)
{
    if (!kv)
        return NULL;
    podspec_kv *d = xcalloc(n, sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        d[i].name = xstrdup(kv[i].name);
        d[i].value = xstrdup(kv[i].value);
    }
    return d;
}

static void dup_container(podspec_container *d, const podspec_container *s)
{
    *d = *s;
    d->name = xstrdup(s->name);
    d->image = xstrdup(s->image);
    d->image_pull_policy = xstrdup(s->image_pull_policy);
    d->command = dup_strv(s->command);
    d->args = dup_strv(s->args);
    d->working_dir = xstrdup(s->working_dir);
    d->env = dup_kv(s->env, s->n_env);
    d->ports = s->ports ? xcalloc(s->n_ports, sizeof(*d->ports)) : NULL;
    for (size_t i = 0; i < s->n_ports; i++) {
        d->ports[i] = s->ports[i];
        d->ports[i].name = xstrdup(s->ports[i].name);
        d->ports[i].protocol = xstrdup(s->ports[i].protocol);
        d->ports[i].host_ip = xstrdup(s->ports[i].host_ip);
    }
    d->termination_message_path = xstrdup(s->termination_message_path);
    d->termination_message_policy = xstrdup(s->termination_message_policy);
}

static void dup_dns(podspec_pod *d, const podspec_pod *s)
{
    d->dns_config.nameservers = dup_strv(s->dns_config.nameservers);
    d->dns_config.searches = dup_strv(s->dns_config.searches);
    d->dns_config.options = dup_kv(s->dns_config.options, s->dns_config.n_options);
    d->host_aliases = s->host_aliases ? xcalloc(s->n_host_aliases, sizeof(*d->host_aliases)) : NULL;
    for (size_t i = 0; i < s->n_host_aliases; i++) {
        d->host_aliases[i].ip = xstrdup(s->host_aliases[i].ip);
        d->host_aliases[i].hostnames = dup_strv(s->host_aliases[i].hostnames);
    }
}

podspec_pod *podspec_pod_dup(const podspec_pod *p)
{
    if (!p)
        return NULL;
    podspec_pod *d = xmalloc(sizeof(*d));
    *d = *p;
    d->source_file = xstrdup(p->source_file);
    d->api_version = xstrdup(p->api_version);
    d->kind = xstrdup(p->kind);
    d->name = xstrdup(p->name);
    d->namespace_ = xstrdup(p->namespace_);
    d->uid = xstrdup(p->uid);
    d->labels = dup_kv(p->labels, p->n_labels);
    d->annotations = dup_kv(p->annotations, p->n_annotations);
    d->containers = p->containers ? xcalloc(p->n_containers, sizeof(*d->containers)) : NULL;
    for (size_t i = 0; i < p->n_containers; i++)
        dup_container(&d->containers[i], &p->containers[i]);
    d->restart_policy = xstrdup(p->restart_policy);
    d->hostname = xstrdup(p->hostname);
    d->subdomain = xstrdup(p->subdomain);
    d->dns_policy = xstrdup(p->dns_policy);
    d->scheduler_name = xstrdup(p->scheduler_name);
    d->node_name = xstrdup(p->node_name);
    dup_dns(d, p);
    return d;
}

const char *podspec_kv_get(const podspec_kv *kv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kv[i].name, name))
            return kv[i].value;
    return NULL;
}

void podspec_result_free(podspec_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_pods; i++)
        podspec_pod_free(r->pods[i]);
    free(r->pods);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i].msg);
    free(r->warnings);
    memset(r, 0, sizeof(*r));
}

/* ---- parse ------------------------------------------------------------------------------- */

static void ctx_free(ps_ctx *c)
{
    free(c->invalid);
    free(c->unsupported);
    for (size_t i = 0; i < c->n_init; i++)
        ps_container_free(&c->init[i]);
    free(c->init);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i].msg);
    free(c->warnings);
}

static int finish_doc(ps_ctx *c, podspec_pod *p)
{
    ps_default_pod(p);
    ps_default_containers(c->init, c->n_init, p->host_network);
    int r = ps_validate_pod(c, p);
    if (r < 0)
        return r;
    if (c->invalid)
        return mk_errf(c->err, EINVAL, "%s", c->invalid);
    if (c->unsupported)
        return mk_errf(c->err, ENOTSUP, "%s", c->unsupported);
    return ps_pod_hash(p);
}

/* Two documents of one file naming the same pod. */
static int check_unique(ps_ctx *c, const podspec_result *res, const podspec_pod *p)
{
    for (size_t i = 0; i < res->n_pods; i++) {
        const podspec_pod *o = res->pods[i];
        if (!strcmp(o->name, p->name) && !strcmp(o->namespace_, p->namespace_))
            return ps_fail_path(c, "metadata.name", "metadata.name",
                                "Duplicate value: \"%s\": the document at line %d defines pod "
                                "%s/%s too",
                                p->name, o->source_line, p->namespace_, p->name);
    }
    return 0;
}

static int parse_doc(const char *file, const ps_doc *doc, podspec_result *res, mk_err *err)
{
    podspec_pod *p = xcalloc(1, sizeof(*p));
    p->source_file = xstrdup(file);
    p->source_line = doc->line;
    p->termination_grace_period_seconds = 30;
    p->enable_service_links = true;
    ps_ctx c = {.file = file ? file : "<input>", .err = err, .root = doc->root};
    int r = ps_decode_pod(&c, doc->root, p);
    if (r == 0)
        r = finish_doc(&c, p);
    if (r == 0)
        r = check_unique(&c, res, p);
    if (r < 0) {
        podspec_pod_free(p);
        ctx_free(&c);
        return r;
    }
    res->pods = xrealloc(res->pods, (res->n_pods + 1) * sizeof(*res->pods));
    res->pods[res->n_pods++] = p;
    res->warnings =
        xrealloc(res->warnings, (res->n_warnings + c.n_warnings + 1) * sizeof(*res->warnings));
    for (size_t i = 0; i < c.n_warnings; i++)
        res->warnings[res->n_warnings++] = c.warnings[i];
    c.n_warnings = 0;
    ctx_free(&c);
    return 0;
}

int podspec_parse(const char *file, const char *buf, size_t len, podspec_result *out, mk_err *err)
{
    memset(out, 0, sizeof(*out));
    ps_stream s;
    int r = ps_yaml_load(file, buf, len, &s, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < s.n_docs && r == 0; i++) {
        const ps_node *root = s.docs[i].root;
        if (!root || (root->kind == PS_SCALAR && root->type == PS_T_NULL))
            continue;
        r = parse_doc(file, &s.docs[i], out, err);
    }
    ps_yaml_free(&s);
    if (r < 0)
        podspec_result_free(out);
    return r;
}
