/* cni_result.c - reading what plugins print: results (spec 0.3.0 .. 1.0.0) and error JSON. */
#include "cni_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void rt_cni_result_free(rt_cni_result *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n_ifaces; i++) {
        free(res->ifaces[i].name);
        free(res->ifaces[i].mac);
        free(res->ifaces[i].sandbox);
    }
    for (size_t i = 0; i < res->n_ips; i++) {
        free(res->ips[i].address);
        free(res->ips[i].ip);
        free(res->ips[i].gateway);
    }
    for (size_t i = 0; i < res->n_routes; i++) {
        free(res->routes[i].dst);
        free(res->routes[i].gw);
    }
    free(res->ifaces);
    free(res->ips);
    free(res->routes);
    free(res->cni_version);
    strv_free(res->dns_nameservers);
    free(res->dns_domain);
    strv_free(res->dns_search);
    strv_free(res->dns_options);
    free(res->pod_ipv4);
    free(res->pod_ipv6);
    free(res->gateway4);
    free(res->gateway6);
    free(res->json);
    free(res->error_plugin);
    memset(res, 0, sizeof(*res));
}

/* Optional string member: NULL when absent or empty; -EINVAL when not a string. */
static int opt_str(const cJSON *obj, const char *key, char **out, const char *where, size_t i,
                   mk_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return mk_errf(err, EINVAL, "CNI result: %s[%zu].%s: must be a string", where, i, key);
    if (*v->valuestring)
        *out = xstrdup(v->valuestring);
    return 0;
}

static int opt_strv(const cJSON *obj, const char *key, char ***out, mk_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return mk_errf(err, EINVAL, "CNI result: dns.%s: must be an array of strings", key);
    size_t n = (size_t)cJSON_GetArraySize(v), k = 0;
    char **sv = xcalloc(n + 1, sizeof(char *));
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it)) {
            strv_free(sv);
            return mk_errf(err, EINVAL, "CNI result: dns.%s: must be an array of strings", key);
        }
        sv[k++] = xstrdup(it->valuestring);
    }
    *out = sv;
    return 0;
}

/* "10.1.2.3/24" -> family and the address alone; -1 when not a CIDR. */
static int split_cidr(const char *cidr, char **ip)
{
    const char *slash = strchr(cidr, '/');
    if (!slash || slash == cidr || !slash[1])
        return -1;
    char *a = xstrndup(cidr, (size_t)(slash - cidr));
    unsigned char buf[16];
    int fam = strchr(a, ':') ? 6 : 4;
    if (inet_pton(fam == 4 ? AF_INET : AF_INET6, a, buf) != 1) {
        free(a);
        return -1;
    }
    *ip = a;
    return fam;
}

static const cJSON *opt_array(const cJSON *root, const char *key, mk_err *err, int *r)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *r = 0;
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsArray(v)) {
        *r = mk_errf(err, EINVAL, "CNI result: %s: must be an array", key);
        return NULL;
    }
    return v;
}

static int parse_ifaces(const cJSON *root, rt_cni_result *res, mk_err *err)
{
    int r;
    const cJSON *arr = opt_array(root, "interfaces", err, &r);
    if (!arr)
        return r;
    res->ifaces = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*res->ifaces));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        size_t i = res->n_ifaces;
        rt_cni_iface *f = &res->ifaces[i];
        res->n_ifaces++;
        if (!cJSON_IsObject(it) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "name")))
            return mk_errf(err, EINVAL, "CNI result: interfaces[%zu].name: required", i);
        f->name = xstrdup(cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring);
        if ((r = opt_str(it, "mac", &f->mac, "interfaces", i, err)) < 0 ||
            (r = opt_str(it, "sandbox", &f->sandbox, "interfaces", i, err)) < 0)
            return r;
    }
    return 0;
}

static int parse_ip(const cJSON *it, size_t i, size_t n_ifaces, rt_cni_ip *ip, mk_err *err)
{
    ip->iface = -1;
    const cJSON *addr = cJSON_GetObjectItemCaseSensitive(it, "address");
    if (!cJSON_IsObject(it) || !cJSON_IsString(addr))
        return mk_errf(err, EINVAL, "CNI result: ips[%zu].address: required", i);
    ip->family = split_cidr(addr->valuestring, &ip->ip);
    if (ip->family < 0)
        return mk_errf(err, EINVAL, "CNI result: ips[%zu].address: \"%s\" is not a CIDR", i,
                       addr->valuestring);
    ip->address = xstrdup(addr->valuestring);
    int r = opt_str(it, "gateway", &ip->gateway, "ips", i, err);
    if (r < 0)
        return r;
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(it, "interface");
    if (idx && !cJSON_IsNull(idx)) {
        if (!cJSON_IsNumber(idx) || idx->valuedouble < 0 || idx->valuedouble >= (double)n_ifaces ||
            idx->valuedouble != (double)idx->valueint)
            return mk_errf(err, EINVAL,
                           "CNI result: ips[%zu].interface: not an index into interfaces", i);
        ip->iface = idx->valueint;
    }
    return 0;
}

static int parse_ips(const cJSON *root, rt_cni_result *res, mk_err *err)
{
    int r;
    const cJSON *arr = opt_array(root, "ips", err, &r);
    if (!arr)
        return r;
    res->ips = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*res->ips));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        size_t i = res->n_ips++;
        if ((r = parse_ip(it, i, res->n_ifaces, &res->ips[i], err)) < 0)
            return r;
    }
    return 0;
}

static int parse_routes(const cJSON *root, rt_cni_result *res, mk_err *err)
{
    int r;
    const cJSON *arr = opt_array(root, "routes", err, &r);
    if (!arr)
        return r;
    res->routes = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*res->routes));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        size_t i = res->n_routes++;
        const cJSON *dst = cJSON_GetObjectItemCaseSensitive(it, "dst");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dst))
            return mk_errf(err, EINVAL, "CNI result: routes[%zu].dst: required", i);
        res->routes[i].dst = xstrdup(dst->valuestring);
        if ((r = opt_str(it, "gw", &res->routes[i].gw, "routes", i, err)) < 0)
            return r;
    }
    return 0;
}

static int parse_dns(const cJSON *root, rt_cni_result *res, mk_err *err)
{
    const cJSON *dns = cJSON_GetObjectItemCaseSensitive(root, "dns");
    if (!dns || cJSON_IsNull(dns))
        return 0;
    if (!cJSON_IsObject(dns))
        return mk_errf(err, EINVAL, "CNI result: dns: must be an object");
    int r;
    if ((r = opt_strv(dns, "nameservers", &res->dns_nameservers, err)) < 0 ||
        (r = opt_strv(dns, "search", &res->dns_search, err)) < 0 ||
        (r = opt_strv(dns, "options", &res->dns_options, err)) < 0 ||
        (r = opt_str(dns, "domain", &res->dns_domain, "dns", 0, err)) < 0)
        return r;
    return 0;
}

/* Does ips[i] belong to the pod's interface? */
static bool pod_ip(const rt_cni_result *res, const rt_cni_ip *ip, const char *ifname,
                   bool any_index)
{
    if (ip->iface < 0)
        return !any_index;
    const rt_cni_iface *f = &res->ifaces[ip->iface];
    return f->sandbox || strcmp(f->name, ifname) == 0;
}

static void pick_pod_ips(rt_cni_result *res, const char *ifname)
{
    bool any_index = false;
    for (size_t i = 0; i < res->n_ips; i++)
        any_index |= res->ips[i].iface >= 0;
    for (size_t i = 0; i < res->n_ips; i++) {
        const rt_cni_ip *ip = &res->ips[i];
        if (!pod_ip(res, ip, ifname, any_index))
            continue;
        char **addr = ip->family == 4 ? &res->pod_ipv4 : &res->pod_ipv6;
        char **gw = ip->family == 4 ? &res->gateway4 : &res->gateway6;
        if (*addr)
            continue;
        *addr = xstrdup(ip->ip);
        *gw = xstrdup(ip->gateway);
    }
}

int rt_cni_result_parse(const char *json, const char *ifname, rt_cni_result *out, mk_err *err)
{
    memset(out, 0, sizeof(*out));
    cJSON *root = cJSON_Parse(json);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mk_errf(err, EINVAL, "CNI result: not a JSON object");
    }
    int r = opt_str(root, "cniVersion", &out->cni_version, "result", 0, err);
    if (r >= 0)
        r = parse_ifaces(root, out, err);
    if (r >= 0)
        r = parse_ips(root, out, err);
    if (r >= 0)
        r = parse_routes(root, out, err);
    if (r >= 0)
        r = parse_dns(root, out, err);
    cJSON_Delete(root);
    if (r < 0) {
        rt_cni_result_free(out);
        return r;
    }
    pick_pod_ips(out, ifname ? ifname : RT_CNI_DEFAULT_IFNAME);
    out->json = xstrdup(json);
    return 0;
}

int rt_cni_error_parse(const char *json, const char *type, const char *cmd, const char *fallback,
                       int *code, mk_err *err)
{
    *code = 0;
    cJSON *root = json && *json ? cJSON_Parse(json) : NULL;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "code");
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "msg"));
    const char *det = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "details"));
    int r;
    if (cJSON_IsObject(root) && cJSON_IsNumber(c)) {
        *code = c->valueint;
        r = mk_errf(err, *code == 11 ? EAGAIN : EPROTO, "CNI plugin %s %s failed (code %d): %s%s%s",
                    type, cmd, *code, msg && *msg ? msg : "no message", det && *det ? ": " : "",
                    det && *det ? det : "");
    } else {
        r = mk_errf(err, EPROTO, "CNI plugin %s %s failed: %s", type, cmd,
                    fallback && *fallback ? fallback : "no error output");
    }
    cJSON_Delete(root);
    return r;
}
