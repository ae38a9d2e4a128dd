/* ps_validate.c - the API server's checks on a defaulted pod, with its wording
 * ("Invalid value", "Required value", "Duplicate value", "Unsupported value"). */
#include "ps_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANNOTATIONS_BYTES (256 * 1024)
/* The API server's limits on spec.dnsConfig (glibc's resolver limits, expanded). */
#define MAX_DNS_NAMESERVERS       3
#define MAX_DNS_SEARCH_PATHS      32
#define MAX_DNS_SEARCH_LIST_CHARS 2048
/* How much of a refused list a message shows before "...". */
#define LIST_SHOWN_MAX 400

static const char ip_msg[] = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

typedef struct vctx {
    ps_ctx *c;
    char **names; /* container names seen so far */
    size_t n_names;
    char **host_ports; /* "TCP//8080" keys seen so far */
    size_t n_host_ports;
} vctx;

/* Go's %q for the strings in messages: quotes, backslashes and control bytes escaped. */
static const char *quote(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    buf[o++] = '"';
    for (; *s && o + 6 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static int invalid(ps_ctx *c, const char *path, const char *value, const char *why)
{
    char q[600];
    return ps_fail_path(c, path, path, "Invalid value: %s: %s", quote(value, q, sizeof(q)), why);
}

static bool is_ip(const char *s)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

static size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* "Invalid value: []string{"a", "b"}: why", the API server's rendering of a refused list (Go's
 * %#v); a long list is cut short so that the reason stays in the message. */
static int invalid_list(ps_ctx *c, const char *path, char *const *v, const char *why)
{
    char shown[LIST_SHOWN_MAX + 16], q[600];
    size_t o = (size_t)snprintf(shown, sizeof(shown), "[]string{");
    for (size_t i = 0; v && v[i]; i++) {
        quote(v[i], q, sizeof(q));
        if (o + strlen(q) + 2 > LIST_SHOWN_MAX) {
            o += (size_t)snprintf(shown + o, sizeof(shown) - o, "%s...", i ? ", " : "");
            break;
        }
        o += (size_t)snprintf(shown + o, sizeof(shown) - o, "%s%s", i ? ", " : "", q);
    }
    snprintf(shown + o, sizeof(shown) - o, "}");
    return ps_fail_path(c, path, path, "Invalid value: %s: %s", shown, why);
}

static int unsupported_value(ps_ctx *c, const char *path, const char *value, const char *supported)
{
    char q[600];
    return ps_fail_path(c, path, path, "Unsupported value: %s: supported values: %s",
                        quote(value, q, sizeof(q)), supported);
}

static int check_one_of(ps_ctx *c, const char *path, const char *value, const char *const *allowed,
                        const char *supported)
{
    for (; *allowed; allowed++)
        if (!strcmp(value, *allowed))
            return 0;
    return unsupported_value(c, path, value, supported);
}

static int check_label(ps_ctx *c, const char *path, const char *value)
{
    if (strlen(value) > 63)
        return invalid(c, path, value, "must be no more than 63 characters");
    if (!podspec_is_dns1123_label(value))
        return invalid(c, path, value, ps_msg_dns1123_label);
    return 0;
}

static int check_subdomain(ps_ctx *c, const char *path, const char *value)
{
    if (strlen(value) > 253)
        return invalid(c, path, value, "must be no more than 253 characters");
    if (!podspec_is_dns1123_subdomain(value))
        return invalid(c, path, value, ps_msg_dns1123_subdomain);
    return 0;
}

/* ---- metadata ---------------------------------------------------------------------------- */

static int check_map_keys(ps_ctx *c, const char *path, const podspec_kv *kv, size_t n, bool labels)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        char at[PS_PATH_MAX], why[1024], q[600];
        ps_path_key(at, path, kv[i].name);
        /* annotation keys are checked in lower case, as the API server does */
        char *key = xstrdup(kv[i].name);
        for (char *k = key; !labels && *k; k++)
            *k = (char)((*k >= 'A' && *k <= 'Z') ? *k + 32 : *k);
        const char *err = ps_qualified_name_error(key, why, sizeof(why));
        free(key);
        if (err)
            return ps_fail_path(c, at, path, "Invalid value: %s: %s",
                                quote(kv[i].name, q, sizeof(q)), err);
        err = labels ? ps_label_value_error(kv[i].value) : NULL;
        if (err)
            return ps_fail_path(c, at, path, "Invalid value: %s: %s",
                                quote(kv[i].value, q, sizeof(q)), err);
        total += strlen(kv[i].name) + strlen(kv[i].value);
    }
    if (!labels && total > MAX_ANNOTATIONS_BYTES)
        return ps_fail_path(c, path, path, "Too long: must have at most %d bytes",
                            MAX_ANNOTATIONS_BYTES);
    return 0;
}

static int check_metadata(ps_ctx *c, const podspec_pod *p)
{
    if ((!p->name || !*p->name) &&
        !ps_is_empty(ps_map_get(ps_map_get(c->root, "metadata"), "generateName")))
        return 0; /* a generated name: reported as not supported once the rest is valid */
    if (!p->name || !*p->name)
        return ps_fail_path(c, "metadata.name", "metadata.name",
                            "Required value: name or generateName is required");
    int r = check_subdomain(c, "metadata.name", p->name);
    if (r == 0)
        r = check_label(c, "metadata.namespace", p->namespace_);
    if (r == 0)
        r = check_map_keys(c, "metadata.labels", p->labels, p->n_labels, true);
    if (r == 0)
        r = check_map_keys(c, "metadata.annotations", p->annotations, p->n_annotations, false);
    return r;
}

/* ---- containers -------------------------------------------------------------------------- */

static int check_port_number(ps_ctx *c, const char *path, int port)
{
    if (port >= 1 && port <= 65535)
        return 0;
    return ps_fail_path(c, path, path, "Invalid value: %d: must be between 1 and 65535, inclusive",
                        port);
}

static int check_port(vctx *v, const char *cpath, size_t j, const podspec_port *pt, bool host_net)
{
    static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};
    ps_ctx *c = v->c;
    char base[PS_PATH_MAX], p[PS_PATH_MAX];
    snprintf(base, sizeof(base), "%s.ports[%zu]", cpath, j);
    const char *err = pt->name && *pt->name ? ps_port_name_error(pt->name) : NULL;
    ps_path_field(p, base, "name");
    if (err)
        return invalid(c, p, pt->name, err);
    ps_path_field(p, base, "containerPort");
    if (pt->container_port == 0)
        return ps_fail_path(c, p, p, "Required value");
    int r = check_port_number(c, p, pt->container_port);
    ps_path_field(p, base, "hostPort");
    if (r == 0 && pt->host_port != 0)
        r = check_port_number(c, p, pt->host_port);
    ps_path_field(p, base, "protocol");
    if (r == 0)
        r = check_one_of(c, p, pt->protocol, protocols, "\"SCTP\", \"TCP\", \"UDP\"");
    ps_path_field(p, base, "hostIP");
    if (r == 0 && pt->host_ip && *pt->host_ip && !is_ip(pt->host_ip))
        r = invalid(c, p, pt->host_ip, ip_msg);
    ps_path_field(p, base, "containerPort");
    if (r == 0 && host_net && pt->host_port != pt->container_port)
        r = ps_fail_path(c, p, p,
                         "Invalid value: %d: must match `hostPort` when `hostNetwork` is true",
                         pt->container_port);
    return r;
}

static int check_ports(vctx *v, const char *cpath, const podspec_container *ct, bool host_net)
{
    for (size_t j = 0; j < ct->n_ports; j++) {
        const podspec_port *pt = &ct->ports[j];
        int r = check_port(v, cpath, j, pt, host_net);
        if (r < 0)
            return r;
        for (size_t k = 0; pt->name && *pt->name && k < j; k++) {
            if (ct->ports[k].name && !strcmp(ct->ports[k].name, pt->name)) {
                char p[PS_PATH_MAX], q[600];
                snprintf(p, sizeof(p), "%s.ports[%zu].name", cpath, j);
                return ps_fail_path(v->c, p, p, "Duplicate value: %s",
                                    quote(pt->name, q, sizeof(q)));
            }
        }
    }
    return 0;
}

static int check_env(ps_ctx *c, const char *cpath, const podspec_container *ct)
{
    for (size_t j = 0; j < ct->n_env; j++) {
        char p[PS_PATH_MAX];
        snprintf(p, sizeof(p), "%s.env[%zu].name", cpath, j);
        if (!ct->env[j].name || !*ct->env[j].name)
            return ps_fail_path(c, p, p, "Required value");
        const char *err = ps_env_name_error(ct->env[j].name);
        if (err)
            return invalid(c, p, ct->env[j].name, err);
    }
    return 0;
}

static int check_name(vctx *v, const char *cpath, const podspec_container *ct)
{
    char p[PS_PATH_MAX], q[600];
    ps_path_field(p, cpath, "name");
    if (!ct->name || !*ct->name)
        return ps_fail_path(v->c, p, p, "Required value");
    int r = check_label(v->c, p, ct->name);
    if (r < 0)
        return r;
    for (size_t i = 0; i < v->n_names; i++)
        if (!strcmp(v->names[i], ct->name))
            return ps_fail_path(v->c, p, p, "Duplicate value: %s", quote(ct->name, q, sizeof(q)));
    v->names = xrealloc(v->names, (v->n_names + 1) * sizeof(*v->names));
    v->names[v->n_names++] = ct->name;
    return 0;
}

static int check_container(vctx *v, const char *cpath, const podspec_container *ct, bool host_net)
{
    static const char *const policies[] = {"Always", "IfNotPresent", "Never", NULL};
    static const char *const msg_policies[] = {"File", "FallbackToLogsOnError", NULL};
    ps_ctx *c = v->c;
    char p[PS_PATH_MAX];
    int r = check_name(v, cpath, ct);
    if (r < 0)
        return r;
    ps_path_field(p, cpath, "image");
    if (!ct->image || !*ct->image)
        return ps_fail_path(c, p, p, "Required value");
    size_t n = strlen(ct->image);
    if (strchr(" \t\n\r\v\f", ct->image[0]) || strchr(" \t\n\r\v\f", ct->image[n - 1]))
        return invalid(c, p, ct->image, "must not have leading or trailing whitespace");
    r = check_ports(v, cpath, ct, host_net);
    if (r == 0)
        r = check_env(c, cpath, ct);
    ps_path_field(p, cpath, "terminationMessagePolicy");
    if (r == 0)
        r = check_one_of(c, p, ct->termination_message_policy, msg_policies,
                         "\"File\", \"FallbackToLogsOnError\"");
    ps_path_field(p, cpath, "imagePullPolicy");
    if (r == 0)
        r = check_one_of(c, p, ct->image_pull_policy, policies,
                         "\"Always\", \"IfNotPresent\", \"Never\"");
    return r;
}

/* The API server's AccumulateUniqueHostPorts: protocol/hostIP/port must be unique. */
static int check_host_ports(vctx *v, const char *cpath, const podspec_container *ct)
{
    for (size_t j = 0; j < ct->n_ports; j++) {
        const podspec_port *pt = &ct->ports[j];
        if (pt->host_port == 0)
            continue;
        char *key =
            xasprintf("%s/%s/%d", pt->protocol, pt->host_ip ? pt->host_ip : "", pt->host_port);
        for (size_t k = 0; k < v->n_host_ports; k++) {
            if (!strcmp(v->host_ports[k], key)) {
                char q[600];
                char *p = xasprintf("%s.ports[%zu].hostPort", cpath, j);
                int r = ps_fail_path(v->c, p, p, "Duplicate value: %s", quote(key, q, sizeof(q)));
                free(p);
                free(key);
                return r;
            }
        }
        v->host_ports = xrealloc(v->host_ports, (v->n_host_ports + 1) * sizeof(char *));
        v->host_ports[v->n_host_ports++] = key;
    }
    return 0;
}

static int check_containers(vctx *v, const podspec_pod *p)
{
    ps_ctx *c = v->c;
    if (p->n_containers == 0)
        return ps_fail_path(c, "spec.containers", "spec.containers", "Required value");
    for (size_t i = 0; i < p->n_containers; i++) {
        char cpath[PS_PATH_MAX];
        ps_path_index(cpath, "spec.containers", i);
        int r = check_container(v, cpath, &p->containers[i], p->host_network);
        if (r == 0)
            r = check_host_ports(v, cpath, &p->containers[i]);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < c->n_init; i++) {
        char cpath[PS_PATH_MAX];
        ps_path_index(cpath, "spec.initContainers", i);
        int r = check_container(v, cpath, &c->init[i], p->host_network);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- DNS and host aliases ---------------------------------------------------------------- */

static int check_dns_searches(ps_ctx *c, char *const *searches)
{
    static const char path[] = "spec.dnsConfig.searches";
    size_t n = strv_len(searches), chars = n ? n - 1 : 0; /* the spaces between them */
    for (size_t i = 0; i < n; i++)
        chars += strlen(searches[i]);
    if (n > MAX_DNS_SEARCH_PATHS)
        return invalid_list(c, path, searches, "must not have more than 32 search paths");
    if (chars > MAX_DNS_SEARCH_LIST_CHARS)
        return invalid_list(c, path, searches,
                            "must not have more than 2048 characters (including spaces) in the "
                            "search list");
    for (size_t i = 0; i < n; i++) {
        char at[PS_PATH_MAX];
        ps_path_index(at, path, i);
        size_t len = strlen(searches[i]); /* one trailing dot is fine: "example.com." */
        char *name = xstrndup(searches[i], len && searches[i][len - 1] == '.' ? len - 1 : len);
        int r = check_subdomain(c, at, name);
        free(name);
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_dns_config(ps_ctx *c, const podspec_pod *p)
{
    static const char path[] = "spec.dnsConfig.nameservers";
    const podspec_dns_config *d = &p->dns_config;
    bool none = !strcmp(p->dns_policy, "None");
    if (none && !d->present)
        return ps_fail_path(c, "spec.dnsConfig", "spec.dnsConfig",
                            "Required value: must provide `dnsConfig` when `dnsPolicy` is None");
    size_t n = strv_len(d->nameservers);
    if (none && n == 0)
        return ps_fail_path(c, path, path,
                            "Required value: must provide at least one DNS nameserver when "
                            "`dnsPolicy` is None");
    if (n > MAX_DNS_NAMESERVERS)
        return invalid_list(c, path, d->nameservers, "must not have more than 3 nameservers");
    for (size_t i = 0; i < n; i++) {
        char at[PS_PATH_MAX];
        ps_path_index(at, path, i);
        if (!is_ip(d->nameservers[i]))
            return invalid(c, at, d->nameservers[i], ip_msg);
    }
    int r = check_dns_searches(c, d->searches);
    for (size_t i = 0; r == 0 && i < d->n_options; i++) {
        char at[PS_PATH_MAX];
        ps_path_index(at, "spec.dnsConfig.options", i);
        if (!d->options[i].name || !*d->options[i].name)
            r = ps_fail_path(c, at, at, "Required value: must not be empty");
    }
    return r;
}

static int check_host_aliases(ps_ctx *c, const podspec_pod *p)
{
    for (size_t i = 0; i < p->n_host_aliases; i++) {
        const podspec_host_alias *a = &p->host_aliases[i];
        char base[PS_PATH_MAX], list[PS_PATH_MAX], at[PS_PATH_MAX];
        ps_path_index(base, "spec.hostAliases", i);
        ps_path_field(at, base, "ip");
        const char *ip = a->ip ? a->ip : "";
        if (!is_ip(ip))
            return invalid(c, at, ip, ip_msg);
        for (size_t j = 0; a->hostnames && a->hostnames[j]; j++) {
            ps_path_field(list, base, "hostnames");
            ps_path_index(at, list, j);
            int r = check_subdomain(c, at, a->hostnames[j]);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* ---- pod spec ---------------------------------------------------------------------------- */

static int check_spec_fields(ps_ctx *c, const podspec_pod *p)
{
    static const char *const restart[] = {"Always", "OnFailure", "Never", NULL};
    static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None",
                                      NULL};
    int r = check_one_of(c, "spec.restartPolicy", p->restart_policy, restart,
                         "\"Always\", \"OnFailure\", \"Never\"");
    if (r == 0)
        r = check_one_of(c, "spec.dnsPolicy", p->dns_policy, dns,
                         "\"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"");
    if (r == 0)
        r = check_dns_config(c, p);
    if (r == 0 && p->node_name && *p->node_name)
        r = check_subdomain(c, "spec.nodeName", p->node_name);
    if (r == 0 && p->hostname && *p->hostname)
        r = check_label(c, "spec.hostname", p->hostname);
    if (r == 0 && p->subdomain && *p->subdomain)
        r = check_label(c, "spec.subdomain", p->subdomain);
    if (r == 0)
        r = check_host_aliases(c, p);
    if (r == 0 && p->termination_grace_period_seconds < 0)
        r = ps_fail_path(c, "spec.terminationGracePeriodSeconds",
                         "spec.terminationGracePeriodSeconds",
                         "Invalid value: %lld: must be greater than or equal to 0",
                         (long long)p->termination_grace_period_seconds);
    if (r == 0 && p->share_process_namespace && p->host_pid)
        r = ps_fail_path(c, "spec.shareProcessNamespace", "spec.shareProcessNamespace",
                         "Invalid value: true: ShareProcessNamespace and HostPID cannot both be "
                         "enabled");
    return r;
}

int ps_validate_pod(ps_ctx *c, const podspec_pod *p)
{
    vctx v = {.c = c};
    int r = check_metadata(c, p);
    if (r == 0)
        r = check_containers(&v, p);
    if (r == 0)
        r = check_spec_fields(c, p);
    free(v.names);
    for (size_t i = 0; i < v.n_host_ports; i++)
        free(v.host_ports[i]);
    free(v.host_ports);
    return r;
}
