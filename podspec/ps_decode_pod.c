/* ps_decode_pod.c - node tree -> podspec_pod, with the table of Kubernetes Pod field names. */
#include "ps_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define H  PS_F_HANDLED
#define U  PS_F_UNSUPPORTED
#define IG PS_F_IGNORED
#define O  PS_F_OUTPUT
#define SM PS_F_SERVER_META

static const ps_field pod_fields[] = {
    {"apiVersion", H, NULL}, {"kind", H, NULL},   {"metadata", H, NULL},
    {"spec", H, NULL},       {"status", O, NULL},
};

static const ps_field meta_fields[] = {
    {"name", H, NULL},
    {"generateName", U, NULL},
    {"namespace", H, NULL},
    {"selfLink", SM, NULL},
    {"uid", H, NULL},
    {"resourceVersion", SM, NULL},
    {"generation", SM, NULL},
    {"creationTimestamp", SM, NULL},
    {"deletionTimestamp", U, NULL},
    {"deletionGracePeriodSeconds", U, NULL},
    {"labels", H, NULL},
    {"annotations", H, NULL},
    {"ownerReferences", U, NULL},
    {"finalizers", U, NULL},
    {"managedFields", SM, NULL},
};

static const ps_field spec_fields[] = {
    {"volumes", U, NULL},
    {"initContainers", H, NULL},
    {"containers", H, NULL},
    {"ephemeralContainers", H, NULL},
    {"restartPolicy", H, NULL},
    {"terminationGracePeriodSeconds", H, NULL},
    {"activeDeadlineSeconds", U, NULL},
    {"dnsPolicy", H, NULL},
    {"nodeSelector", IG, NULL},
    {"serviceAccountName", U, NULL},
    {"serviceAccount", U, NULL},
    {"automountServiceAccountToken", U, "false"},
    {"nodeName", H, NULL},
    {"hostNetwork", H, NULL},
    {"hostPID", H, NULL},
    {"hostIPC", H, NULL},
    {"shareProcessNamespace", H, NULL},
    {"securityContext", U, NULL},
    {"imagePullSecrets", U, NULL},
    {"hostname", H, NULL},
    {"subdomain", H, NULL},
    {"affinity", IG, NULL},
    {"schedulerName", H, NULL},
    {"tolerations", IG, NULL},
    {"hostAliases", H, NULL},
    {"priorityClassName", IG, NULL},
    {"priority", IG, NULL},
    {"dnsConfig", H, NULL},
    {"readinessGates", U, NULL},
    {"runtimeClassName", U, NULL},
    {"enableServiceLinks", H, NULL},
    {"preemptionPolicy", IG, NULL},
    {"overhead", U, NULL},
    {"topologySpreadConstraints", IG, NULL},
    {"setHostnameAsFQDN", U, "false"},
    {"os", H, NULL},
    {"hostUsers", U, "true"},
    {"schedulingGates", IG, NULL},
    {"resourceClaims", U, NULL},
    {"resources", H, NULL},
    {"hostnameOverride", U, NULL},
};

static const ps_field container_fields[] = {
    {"name", H, NULL},
    {"image", H, NULL},
    {"command", H, NULL},
    {"args", H, NULL},
    {"workingDir", H, NULL},
    {"ports", H, NULL},
    {"envFrom", U, NULL},
    {"env", H, NULL},
    {"resources", H, NULL},
    {"resizePolicy", U, NULL},
    {"restartPolicy", U, NULL},
    {"restartPolicyRules", U, NULL},
    {"volumeMounts", U, NULL},
    {"volumeDevices", U, NULL},
    {"livenessProbe", U, NULL},
    {"readinessProbe", U, NULL},
    {"startupProbe", U, NULL},
    {"lifecycle", U, NULL},
    {"terminationMessagePath", H, NULL},
    {"terminationMessagePolicy", H, NULL},
    {"imagePullPolicy", H, NULL},
    {"securityContext", U, NULL},
    {"stdin", H, NULL},
    {"stdinOnce", U, "false"},
    {"tty", H, NULL},
};

static const ps_field port_fields[] = {
    {"name", H, NULL},     {"hostPort", H, NULL}, {"containerPort", H, NULL},
    {"protocol", H, NULL}, {"hostIP", H, NULL},
};

static const ps_field env_fields[] = {
    {"name", H, NULL},
    {"value", H, NULL},
    {"valueFrom", U, NULL},
};

static const ps_field dns_config_fields[] = {
    {"nameservers", H, NULL},
    {"searches", H, NULL},
    {"options", H, NULL},
};

static const ps_field dns_option_fields[] = {
    {"name", H, NULL},
    {"value", H, NULL},
};

static const ps_field host_alias_fields[] = {
    {"ip", H, NULL},
    {"hostnames", H, NULL},
};

static const ps_field os_fields[] = {
    {"name", H, NULL},
};

#define WALK(c, n, path, table, obj, fn)                                                           \
    ps_walk_object(c, n, path, table, MK_ARRAY_LEN(table), obj, fn)

/* ---- containers -------------------------------------------------------------------------- */

static int port_field(ps_ctx *c, void *obj, const char *name, const ps_node *v, const char *path)
{
    podspec_port *pt = obj;
    int64_t x;
    int r;
    if (!strcmp(name, "name"))
        return ps_get_string(c, v, path, &pt->name);
    if (!strcmp(name, "protocol"))
        return ps_get_string(c, v, path, &pt->protocol);
    if (!strcmp(name, "hostIP"))
        return ps_get_string(c, v, path, &pt->host_ip);
    x = 0;
    r = ps_get_int(c, v, path, INT32_MIN, INT32_MAX, "int32", &x);
    if (r == 0 && !strcmp(name, "hostPort"))
        pt->host_port = (int)x;
    else if (r == 0)
        pt->container_port = (int)x;
    return r;
}

static int env_field(ps_ctx *c, void *obj, const char *name, const ps_node *v, const char *path)
{
    podspec_kv *kv = obj;
    return ps_get_string(c, v, path, !strcmp(name, "name") ? &kv->name : &kv->value);
}

static int decode_ports(ps_ctx *c, podspec_container *ct, const ps_node *v, const char *path)
{
    int r = ps_expect_seq(c, v, path);
    if (r <= 0 || v->n_items == 0)
        return r;
    ct->ports = xcalloc(v->n_items, sizeof(*ct->ports));
    for (size_t i = 0; i < v->n_items; i++) {
        char p[PS_PATH_MAX];
        ps_path_index(p, path, i);
        ct->n_ports++;
        r = WALK(c, v->items[i], p, port_fields, &ct->ports[i], port_field);
        if (r < 0)
            return r;
    }
    return 0;
}

static int decode_env(ps_ctx *c, podspec_container *ct, const ps_node *v, const char *path)
{
    int r = ps_expect_seq(c, v, path);
    if (r <= 0 || v->n_items == 0)
        return r;
    ct->env = xcalloc(v->n_items, sizeof(*ct->env));
    for (size_t i = 0; i < v->n_items; i++) {
        char p[PS_PATH_MAX];
        ps_path_index(p, path, i);
        ct->n_env++;
        r = WALK(c, v->items[i], p, env_fields, &ct->env[i], env_field);
        if (r < 0)
            return r;
    }
    return 0;
}

static int container_field(ps_ctx *c, void *obj, const char *name, const ps_node *v,
                           const char *path)
{
    podspec_container *ct = obj;
    if (!strcmp(name, "name"))
        return ps_get_string(c, v, path, &ct->name);
    if (!strcmp(name, "image"))
        return ps_get_string(c, v, path, &ct->image);
    if (!strcmp(name, "imagePullPolicy"))
        return ps_get_string(c, v, path, &ct->image_pull_policy);
    if (!strcmp(name, "command"))
        return ps_get_string_list(c, v, path, &ct->command);
    if (!strcmp(name, "args"))
        return ps_get_string_list(c, v, path, &ct->args);
    if (!strcmp(name, "workingDir"))
        return ps_get_string(c, v, path, &ct->working_dir);
    if (!strcmp(name, "terminationMessagePath"))
        return ps_get_string(c, v, path, &ct->termination_message_path);
    if (!strcmp(name, "terminationMessagePolicy"))
        return ps_get_string(c, v, path, &ct->termination_message_policy);
    if (!strcmp(name, "stdin"))
        return ps_get_bool(c, v, path, &ct->stdin_open);
    if (!strcmp(name, "tty"))
        return ps_get_bool(c, v, path, &ct->tty);
    if (!strcmp(name, "ports"))
        return decode_ports(c, ct, v, path);
    if (!strcmp(name, "env"))
        return decode_env(c, ct, v, path);
    return ps_check_resources(c, v, path, false); /* "resources" */
}

static int decode_containers(ps_ctx *c, const ps_node *v, const char *path, podspec_container **out,
                             size_t *n_out)
{
    int r = ps_expect_seq(c, v, path);
    if (r <= 0 || v->n_items == 0)
        return r;
    podspec_container *cts = xcalloc(v->n_items, sizeof(*cts));
    *out = cts;
    for (size_t i = 0; i < v->n_items; i++) {
        char p[PS_PATH_MAX];
        ps_path_index(p, path, i);
        (*n_out)++;
        if (ps_is_empty(v->items[i]) && v->items[i]->kind == PS_SCALAR)
            continue; /* a null entry decodes as an empty container: "name: Required value" */
        r = WALK(c, v->items[i], p, container_fields, &cts[i], container_field);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- DNS and host aliases ---------------------------------------------------------------- */

static int dns_option_field(ps_ctx *c, void *obj, const char *name, const ps_node *v,
                            const char *path)
{
    podspec_kv *kv = obj; /* a value stays NULL when absent: "ndots" and "ndots:" differ */
    return ps_get_string(c, v, path, !strcmp(name, "name") ? &kv->name : &kv->value);
}

static int decode_dns_options(ps_ctx *c, podspec_dns_config *d, const ps_node *v, const char *path)
{
    int r = ps_expect_seq(c, v, path);
    if (r <= 0 || v->n_items == 0)
        return r;
    d->options = xcalloc(v->n_items, sizeof(*d->options));
    for (size_t i = 0; i < v->n_items; i++) {
        char p[PS_PATH_MAX];
        ps_path_index(p, path, i);
        d->n_options++;
        r = WALK(c, v->items[i], p, dns_option_fields, &d->options[i], dns_option_field);
        if (r < 0)
            return r;
    }
    return 0;
}

static int dns_config_field(ps_ctx *c, void *obj, const char *name, const ps_node *v,
                            const char *path)
{
    podspec_dns_config *d = obj;
    if (!strcmp(name, "nameservers"))
        return ps_get_string_list(c, v, path, &d->nameservers);
    if (!strcmp(name, "searches"))
        return ps_get_string_list(c, v, path, &d->searches);
    return decode_dns_options(c, d, v, path);
}

static int decode_dns_config(ps_ctx *c, podspec_pod *p, const ps_node *v, const char *path)
{
    int r = WALK(c, v, path, dns_config_fields, &p->dns_config, dns_config_field);
    if (r == 0 && v && v->kind == PS_MAP)
        p->dns_config.present = true; /* `dnsConfig: {}` is there; `dnsConfig: null` is not */
    return r;
}

static int host_alias_field(ps_ctx *c, void *obj, const char *name, const ps_node *v,
                            const char *path)
{
    podspec_host_alias *a = obj;
    if (!strcmp(name, "ip"))
        return ps_get_string(c, v, path, &a->ip);
    return ps_get_string_list(c, v, path, &a->hostnames);
}

static int decode_host_aliases(ps_ctx *c, podspec_pod *p, const ps_node *v, const char *path)
{
    int r = ps_expect_seq(c, v, path);
    if (r <= 0 || v->n_items == 0)
        return r;
    p->host_aliases = xcalloc(v->n_items, sizeof(*p->host_aliases));
    for (size_t i = 0; i < v->n_items; i++) {
        char ip[PS_PATH_MAX];
        ps_path_index(ip, path, i);
        p->n_host_aliases++;
        r = WALK(c, v->items[i], ip, host_alias_fields, &p->host_aliases[i], host_alias_field);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- metadata and spec ------------------------------------------------------------------- */

static int meta_field(ps_ctx *c, void *obj, const char *name, const ps_node *v, const char *path)
{
    podspec_pod *p = obj;
    if (!strcmp(name, "name"))
        return ps_get_string(c, v, path, &p->name);
    if (!strcmp(name, "namespace"))
        return ps_get_string(c, v, path, &p->namespace_);
    if (!strcmp(name, "uid"))
        return ps_get_string(c, v, path, &p->uid);
    if (!strcmp(name, "labels"))
        return ps_get_string_map(c, v, path, &p->labels, &p->n_labels);
    int r = ps_get_string_map(c, v, path, &p->annotations, &p->n_annotations);
    if (r < 0)
        return r;
    /* An AppArmor profile asked for by annotation would silently not be applied: refuse it, as
     * the kubelet refuses a profile it cannot enforce. */
    static const char apparmor[] = "container.apparmor.security.beta.kubernetes.io/";
    for (size_t i = 0; v->kind == PS_MAP && i < v->n_pairs; i++) {
        const ps_pair *pr = &v->pairs[i];
        if (strncmp(pr->name, apparmor, sizeof(apparmor) - 1) == 0) {
            char *at = xasprintf("%s[%s]", path, pr->name);
            ps_unsupported(c, pr->key, at, "not supported: AppArmor profiles are not applied yet");
            free(at);
            break;
        }
    }
    return 0;
}

static int os_field(ps_ctx *c, void *obj, const char *name, const ps_node *v, const char *path)
{
    char *os = NULL;
    int r = ps_get_string(c, v, path, &os);
    if (r == 0 && os && strcmp(os, "linux") != 0)
        ps_unsupported(c, c->key, path, "not supported: this node runs Linux");
    free(os);
    return r;
}

static int decode_init_containers(ps_ctx *c, const ps_node *v, const char *path)
{
    if (!ps_is_empty(v))
        ps_unsupported(c, c->key, path, NULL);
    return decode_containers(c, v, path, &c->init, &c->n_init);
}

static int decode_ephemeral(ps_ctx *c, const ps_node *v, const char *path)
{
    podspec_container *eph = NULL;
    size_t n = 0;
    int r = decode_containers(c, v, path, &eph, &n);
    for (size_t i = 0; i < n; i++)
        ps_container_free(&eph[i]);
    free(eph);
    if (r == 0 && n > 0)
        ps_defer(c, v, path, "Forbidden: cannot be set on create");
    return r;
}

static int spec_bool(ps_ctx *c, podspec_pod *p, const char *name, const ps_node *v,
                     const char *path)
{
    bool *dst = !strcmp(name, "hostNetwork")             ? &p->host_network
                : !strcmp(name, "hostPID")               ? &p->host_pid
                : !strcmp(name, "hostIPC")               ? &p->host_ipc
                : !strcmp(name, "shareProcessNamespace") ? &p->share_process_namespace
                                                         : NULL;
    if (!dst) /* enableServiceLinks: starts out true, so null keeps the default */
        dst = &p->enable_service_links;
    return ps_get_bool(c, v, path, dst);
}

static int spec_field(ps_ctx *c, void *obj, const char *name, const ps_node *v, const char *path)
{
    podspec_pod *p = obj;
    if (!strcmp(name, "containers"))
        return decode_containers(c, v, path, &p->containers, &p->n_containers);
    if (!strcmp(name, "initContainers"))
        return decode_init_containers(c, v, path);
    if (!strcmp(name, "ephemeralContainers"))
        return decode_ephemeral(c, v, path);
    if (!strcmp(name, "restartPolicy"))
        return ps_get_string(c, v, path, &p->restart_policy);
    if (!strcmp(name, "dnsPolicy"))
        return ps_get_string(c, v, path, &p->dns_policy);
    if (!strcmp(name, "nodeName"))
        return ps_get_string(c, v, path, &p->node_name);
    if (!strcmp(name, "hostname"))
        return ps_get_string(c, v, path, &p->hostname);
    if (!strcmp(name, "subdomain"))
        return ps_get_string(c, v, path, &p->subdomain);
    if (!strcmp(name, "dnsConfig"))
        return decode_dns_config(c, p, v, path);
    if (!strcmp(name, "hostAliases"))
        return decode_host_aliases(c, p, v, path);
    if (!strcmp(name, "schedulerName")) {
        int r = ps_get_string(c, v, path, &p->scheduler_name);
        if (r == 0 && p->scheduler_name && *p->scheduler_name &&
            strcmp(p->scheduler_name, "default-scheduler") != 0)
            ps_warn(c, v, path, "ignored on a single node");
        return r;
    }
    if (!strcmp(name, "terminationGracePeriodSeconds")) /* starts out at the default, 30 */
        return ps_get_int(c, v, path, INT64_MIN, INT64_MAX, "int64",
                          &p->termination_grace_period_seconds);
    if (!strcmp(name, "os"))
        return WALK(c, v, path, os_fields, p, os_field);
    if (!strcmp(name, "resources"))
        return ps_check_resources(c, v, path, true);
    return spec_bool(c, p, name, v, path);
}

/* ---- the object -------------------------------------------------------------------------- */

static int pod_field(ps_ctx *c, void *obj, const char *name, const ps_node *v, const char *path)
{
    podspec_pod *p = obj;
    if (!strcmp(name, "metadata"))
        return WALK(c, v, path, meta_fields, p, meta_field);
    if (!strcmp(name, "spec"))
        return WALK(c, v, path, spec_fields, p, spec_field);
    return 0; /* apiVersion and kind were checked first */
}

static int check_type_meta(ps_ctx *c, const ps_node *root, podspec_pod *p)
{
    const ps_node *kind = ps_map_get(root, "kind");
    const ps_node *api = ps_map_get(root, "apiVersion");
    int r = ps_get_string(c, kind, "kind", &p->kind);
    if (r < 0)
        return r;
    if (!p->kind || !*p->kind)
        return ps_fail(c, root, "kind", "Required value: every manifest needs `kind: Pod`");
    if (strcmp(p->kind, "Pod") != 0) {
        ps_fail(c, kind, "kind", "%s is not supported yet (only Pod)", p->kind);
        c->err->code = ENOTSUP;
        return -ENOTSUP;
    }
    r = ps_get_string(c, api, "apiVersion", &p->api_version);
    if (r < 0)
        return r;
    if (!p->api_version || !*p->api_version)
        return ps_fail(c, root, "apiVersion", "Required value: a Pod needs `apiVersion: v1`");
    if (strcmp(p->api_version, "v1") != 0)
        return ps_fail(c, api, "apiVersion", "Unsupported value: \"%s\": supported values: \"v1\"",
                       p->api_version);
    return 0;
}

int ps_decode_pod(ps_ctx *c, const ps_node *root, podspec_pod *p)
{
    if (root->kind != PS_MAP)
        return ps_fail(c, root, NULL,
                       "cannot unmarshal %s into a Kubernetes object (expected a mapping with "
                       "apiVersion, kind, metadata and spec)",
                       ps_json_type(root));
    int r = ps_expect_map(c, root, "");
    if (r < 0)
        return r;
    r = check_type_meta(c, root, p);
    if (r < 0)
        return r;
    return WALK(c, root, "", pod_fields, p, pod_field);
}
