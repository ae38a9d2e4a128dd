/* cni_conf.c - CNI network configuration: finding, parsing and validating the conflist, the
 * default network, and the stdin each plugin gets (see cni.h). */
#include "cni_internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The spec versions whose ADD/DEL protocol and result format this runtime speaks; Debian's
 * plugins (1.1.1) stop at 1.0.0 and reject 1.1.0 with code 1. Before 0.3.0 results had
 * another shape (ip4/ip6). Highest last. */
static const char *const supported_versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};
#define SUPPORTED_LIST "0.3.0, 0.3.1, 0.4.0, 1.0.0"

bool rt_cni_valid_id(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool version_supported(const char *v)
{
    for (size_t i = 0; i < MK_ARRAY_LEN(supported_versions); i++) {
        if (strcmp(v, supported_versions[i]) == 0)
            return true;
    }
    return false;
}

static bool parse_semver(const char *v, int out[3])
{
    int n = 0;
    if (sscanf(v, "%d.%d.%d%n", &out[0], &out[1], &out[2], &n) != 3 || v[n] != '\0')
        return false;
    return out[0] >= 0 && out[1] >= 0 && out[2] >= 0;
}

static int semver_cmp(const int a[3], const int b[3])
{
    for (int i = 0; i < 3; i++) {
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    }
    return 0;
}

static int check_version(const char *file, const char *field, const char *v, mk_err *err)
{
    int sv[3], top[3];
    if (!parse_semver(v, sv))
        return mk_errf(err, EINVAL, "%s: %s: \"%s\" is not a version like \"1.0.0\"", file, field,
                       v);
    if (version_supported(v))
        return 0;
    parse_semver(supported_versions[MK_ARRAY_LEN(supported_versions) - 1], top);
    return mk_errf(err, ENOTSUP,
                   "%s: %s: CNI version %s is %s; supported: " SUPPORTED_LIST
                   " (set \"cniVersion\": \"1.0.0\")",
                   file, field, v,
                   semver_cmp(sv, top) > 0 ? "newer than the installed plugins implement"
                                           : "too old (results before 0.3.0 are not read)");
}

/* cniVersions (spec 1.1): the highest listed version we support. */
static int pick_from_versions(const char *file, const cJSON *arr, char **out, mk_err *err)
{
    int best[3] = {-1, -1, -1};
    const char *best_s = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        int sv[3];
        if (!cJSON_IsString(it))
            return mk_errf(err, EINVAL, "%s: cniVersions: must hold strings", file);
        if (version_supported(it->valuestring) && parse_semver(it->valuestring, sv) &&
            semver_cmp(sv, best) > 0) {
            memcpy(best, sv, sizeof(best));
            best_s = it->valuestring;
        }
    }
    if (!best_s)
        return mk_errf(err, ENOTSUP,
                       "%s: cniVersions: none of them is supported (" SUPPORTED_LIST ")", file);
    *out = xstrdup(best_s);
    return 0;
}

static int select_version(const char *file, const cJSON *list, char **out, mk_err *err)
{
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(list, "cniVersions");
    if (vs && !cJSON_IsNull(vs)) {
        if (!cJSON_IsArray(vs))
            return mk_errf(err, EINVAL, "%s: cniVersions: must be an array of strings", file);
        if (cJSON_GetArraySize(vs) > 0)
            return pick_from_versions(file, vs, out, err);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(list, "cniVersion");
    if (!v)
        return mk_errf(err, EINVAL, "%s: cniVersion: required (e.g. \"1.0.0\")", file);
    if (!cJSON_IsString(v))
        return mk_errf(err, EINVAL, "%s: cniVersion: must be a string", file);
    int r = check_version(file, "cniVersion", v->valuestring, err);
    if (r < 0)
        return r;
    *out = xstrdup(v->valuestring);
    return 0;
}

static bool valid_type(const char *t)
{
    return t[0] && !strchr(t, '/') && strcmp(t, ".") != 0 && strcmp(t, "..") != 0;
}

static int parse_plugin(const char *file, size_t i, const cJSON *obj, rt_cni_plugin *p, mk_err *err)
{
    if (!cJSON_IsObject(obj))
        return mk_errf(err, EINVAL, "%s: plugins[%zu]: must be an object", file, i);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!t)
        return mk_errf(err, EINVAL, "%s: plugins[%zu].type: required (the plugin binary)", file, i);
    if (!cJSON_IsString(t) || !valid_type(t->valuestring))
        return mk_errf(err, EINVAL, "%s: plugins[%zu].type: must be a plugin binary name", file, i);
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(obj, "capabilities");
    if (caps && !cJSON_IsObject(caps))
        return mk_errf(err, EINVAL, "%s: plugins[%zu].capabilities: must be an object", file, i);
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(caps, "portMappings");
    p->type = xstrdup(t->valuestring);
    p->cap_port_mappings = cJSON_IsTrue(pm);
    p->conf = cJSON_Duplicate(obj, true);
    if (!p->conf)
        abort();
    return 0;
}

static int parse_list(const char *file, cJSON *list, rt_cni_net *net, mk_err *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(list, "name");
    if (!name)
        return mk_errf(err, EINVAL, "%s: name: required (the network name)", file);
    if (!cJSON_IsString(name) || !rt_cni_valid_id(name->valuestring))
        return mk_errf(err, EINVAL,
                       "%s: name: must start with a letter or digit, then letters, digits, "
                       "'_', '.' or '-'",
                       file);
    int r = select_version(file, list, &net->version, err);
    if (r < 0)
        return r;
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(list, "plugins");
    if (!plugins)
        return mk_errf(err, EINVAL, "%s: plugins: required (a list of plugin configs)", file);
    if (!cJSON_IsArray(plugins) || cJSON_GetArraySize(plugins) == 0)
        return mk_errf(err, EINVAL, "%s: plugins: must be a non-empty array", file);
    net->name = xstrdup(name->valuestring);
    net->n_plugins = (size_t)cJSON_GetArraySize(plugins);
    net->plugins = xcalloc(net->n_plugins, sizeof(*net->plugins));
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, plugins)
    {
        r = parse_plugin(file, i, it, &net->plugins[i], err);
        if (r < 0)
            return r;
        i++;
    }
    net->bytes = cJSON_PrintUnformatted(list);
    return 0;
}

/* A single plugin config becomes {"cniVersion","name","plugins":[conf]}. */
static cJSON *wrap_conf(cJSON *conf)
{
    cJSON *list = cJSON_CreateObject();
    const char *keys[] = {"cniVersion", "cniVersions", "name"};
    for (size_t i = 0; i < MK_ARRAY_LEN(keys); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(conf, keys[i]);
        if (v)
            cJSON_AddItemToObject(list, keys[i], cJSON_Duplicate(v, true));
    }
    cJSON *arr = cJSON_AddArrayToObject(list, "plugins");
    cJSON_AddItemToArray(arr, cJSON_Duplicate(conf, true));
    return list;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int json_error(const char *file, const char *json, const char *at, mk_err *err)
{
    int line = 1, col = 1;
    if (!at || at < json)
        at = json;
    for (const char *p = json; p < at && *p; p++) {
        col++;
        if (*p == '\n') {
            line++;
            col = 1;
        }
    }
    return mk_errf(err, EINVAL, "%s:%d:%d: not valid JSON", file, line, col);
}

int rt_cni_load_bytes(const char *json, const char *file, rt_cni_net **out, mk_err *err)
{
    if (!file)
        file = "CNI config";
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, true);
    if (!root)
        return json_error(file, json, end, err);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return mk_errf(err, EINVAL, "%s: must be a JSON object", file);
    }
    bool is_list = cJSON_GetObjectItemCaseSensitive(root, "plugins") != NULL;
    if (!is_list && has_suffix(file, ".conflist")) {
        cJSON_Delete(root);
        return mk_errf(err, EINVAL, "%s: plugins: required (a list of plugin configs)", file);
    }
    if (!is_list) {
        cJSON *list = wrap_conf(root);
        cJSON_Delete(root);
        root = list;
    }
    rt_cni_net *net = xcalloc(1, sizeof(*net));
    net->file = xstrdup(file);
    int r = parse_list(file, root, net, err);
    cJSON_Delete(root);
    if (r < 0) {
        rt_cni_net_free(net);
        return r;
    }
    *out = net;
    return 0;
}

static bool conf_name(const char *n)
{
    return n[0] != '.' &&
           (has_suffix(n, ".conflist") || has_suffix(n, ".conf") || has_suffix(n, ".json"));
}

/* The lexically first config file name in dir: 1 found, 0 none, < 0 error. */
static int first_conf(const char *dir, char **name, mk_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return mk_errf_sys(err, errno, "CNI config dir %s", dir);
    char *best = NULL;
    int e = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            e = errno;
            break;
        }
        struct stat st;
        if (!conf_name(de->d_name) || (best && strcmp(de->d_name, best) >= 0))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
            continue; /* a dangling link or a directory is not a config */
        free(best);
        best = xstrdup(de->d_name);
    }
    closedir(d);
    if (e) {
        free(best);
        return mk_errf_sys(err, e, "read CNI config dir %s", dir);
    }
    *name = best;
    return best ? 1 : 0;
}

int rt_cni_load(const char *conf_dir, rt_cni_net **out, mk_err *err)
{
    cleanup_free char *name = NULL;
    int r = first_conf(conf_dir, &name, err);
    if (r < 0)
        return r;
    if (r == 0)
        return mk_errf(err, ENOENT,
                       "no CNI network config in %s (a *.conflist, *.conf or *.json file)",
                       conf_dir);
    cleanup_free char *path = xasprintf("%s/%s", conf_dir, name);
    cleanup_free char *data = NULL;
    r = mk_read_file(path, RT_CNI_MAX_JSON, &data, NULL, err);
    if (r < 0)
        return r;
    return rt_cni_load_bytes(data, path, out, err);
}

void rt_cni_net_free(rt_cni_net *net)
{
    if (!net)
        return;
    for (size_t i = 0; i < net->n_plugins; i++) {
        free(net->plugins[i].type);
        cJSON_Delete(net->plugins[i].conf);
    }
    free(net->plugins);
    free(net->name);
    free(net->version);
    free(net->file);
    free(net->bytes);
    free(net);
}

const char *rt_cni_net_name(const rt_cni_net *net)
{
    return net->name;
}

const char *rt_cni_net_version(const rt_cni_net *net)
{
    return net->version;
}

const char *rt_cni_net_file(const rt_cni_net *net)
{
    return net->file;
}

size_t rt_cni_net_n_plugins(const rt_cni_net *net)
{
    return net->n_plugins;
}

const char *rt_cni_net_plugin_type(const rt_cni_net *net, size_t i)
{
    return i < net->n_plugins ? net->plugins[i].type : NULL;
}

static void set_item(cJSON *obj, const char *key, cJSON *item)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, item);
}

char *rt_cni_plugin_stdin(const rt_cni_net *net, size_t i, const cJSON *prev_result,
                          const cJSON *port_mappings)
{
    const rt_cni_plugin *p = &net->plugins[i];
    cJSON *c = cJSON_Duplicate(p->conf, true);
    if (!c)
        abort();
    set_item(c, "cniVersion", cJSON_CreateString(net->version));
    set_item(c, "name", cJSON_CreateString(net->name));
    cJSON_DeleteItemFromObjectCaseSensitive(c, "capabilities");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "prevResult");
    if (prev_result)
        cJSON_AddItemToObject(c, "prevResult", cJSON_Duplicate(prev_result, true));
    if (p->cap_port_mappings && port_mappings && cJSON_GetArraySize(port_mappings) > 0) {
        cJSON *rc = cJSON_CreateObject();
        cJSON_AddItemToObject(rc, "portMappings", cJSON_Duplicate(port_mappings, true));
        set_item(c, "runtimeConfig", rc);
    }
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    if (!s)
        abort();
    return s;
}

/* ---- the default network ---- */

static bool valid_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p == '/' || *p == ':' || *p <= ' ' || *p == 0x7f)
            return false;
    }
    return true;
}

/* "a.b.c.d/n" or "x::/n" with no host bits set: 4 or 6, or -EINVAL. */
static int check_subnet(const char *subnet, mk_err *err)
{
    const char *slash = strchr(subnet, '/');
    unsigned char a[16];
    char *end;
    if (!slash || slash - subnet >= 64)
        return mk_errf(err, EINVAL, "pod subnet \"%s\": not a CIDR like 10.88.0.0/16", subnet);
    char ip[64];
    memcpy(ip, subnet, (size_t)(slash - subnet));
    ip[slash - subnet] = '\0';
    int fam = strchr(ip, ':') ? 6 : 4;
    long pfx = strtol(slash + 1, &end, 10);
    int bits = fam == 4 ? 32 : 128;
    if (inet_pton(fam == 4 ? AF_INET : AF_INET6, ip, a) != 1 || *end || slash[1] == '\0' ||
        pfx < 1 || pfx > bits - 2)
        return mk_errf(err, EINVAL, "pod subnet \"%s\": not a CIDR like 10.88.0.0/16", subnet);
    for (int b = (int)pfx; b < bits; b++) {
        if (a[b / 8] & (0x80 >> (b % 8)))
            return mk_errf(err, EINVAL, "pod subnet \"%s\": host bits are set after /%ld", subnet,
                           pfx);
    }
    return fam;
}

int rt_cni_default_conflist(const char *bridge, const char *subnet, const char *ipam_data_dir,
                            char **json, mk_err *err)
{
    if (!bridge)
        bridge = RT_CNI_DEFAULT_BRIDGE;
    if (!subnet)
        subnet = RT_CNI_DEFAULT_SUBNET;
    if (!valid_ifname(bridge))
        return mk_errf(err, EINVAL, "bridge name \"%s\": 1 to 15 characters, no '/', ':' or space",
                       bridge);
    int fam = check_subnet(subnet, err);
    if (fam < 0)
        return fam;
    cJSON *list = cJSON_CreateObject();
    cJSON_AddStringToObject(list, "cniVersion", "1.0.0");
    cJSON_AddStringToObject(list, "name", RT_CNI_DEFAULT_NET_NAME);
    cJSON *plugins = cJSON_AddArrayToObject(list, "plugins");
    cJSON *br = cJSON_CreateObject();
    cJSON_AddStringToObject(br, "type", "bridge");
    cJSON_AddStringToObject(br, "bridge", bridge);
    cJSON_AddTrueToObject(br, "isGateway");
    cJSON_AddTrueToObject(br, "ipMasq");
    cJSON_AddTrueToObject(br, "hairpinMode");
    cJSON *ipam = cJSON_AddObjectToObject(br, "ipam");
    cJSON_AddStringToObject(ipam, "type", "host-local");
    cJSON *range = cJSON_CreateObject();
    cJSON_AddStringToObject(range, "subnet", subnet);
    cJSON *set = cJSON_CreateArray();
    cJSON_AddItemToArray(set, range);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(ipam, "ranges"), set);
    cJSON *route = cJSON_CreateObject();
    cJSON_AddStringToObject(route, "dst", fam == 4 ? "0.0.0.0/0" : "::/0");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(ipam, "routes"), route);
    if (ipam_data_dir)
        cJSON_AddStringToObject(ipam, "dataDir", ipam_data_dir);
    cJSON_AddItemToArray(plugins, br);
    cJSON *pm = cJSON_CreateObject();
    cJSON_AddStringToObject(pm, "type", "portmap");
    cJSON_AddTrueToObject(cJSON_AddObjectToObject(pm, "capabilities"), "portMappings");
    cJSON_AddItemToArray(plugins, pm);
    char *s = cJSON_Print(list);
    cJSON_Delete(list);
    if (!s)
        abort();
    *json = xasprintf("%s\n", s);
    free(s);
    return 0;
}

int rt_cni_write_default(const char *conf_dir, const char *bridge, const char *subnet,
                         const char *ipam_data_dir, char **path_out, mk_err *err)
{
    cleanup_free char *json = NULL;
    int r = rt_cni_default_conflist(bridge, subnet, ipam_data_dir, &json, err);
    if (r < 0)
        return r;
    r = mk_mkdir_p(conf_dir, 0755, err);
    if (r < 0)
        return r;
    cleanup_free char *existing = NULL;
    r = first_conf(conf_dir, &existing, err);
    if (r != 0)
        return r < 0 ? r : 0;
    char *path = xasprintf("%s/%s", conf_dir, RT_CNI_DEFAULT_CONF_FILE);
    r = mk_write_file_atomic(path, json, strlen(json), 0644, err);
    if (r < 0) {
        free(path);
        return r;
    }
    if (path_out)
        *path_out = path;
    else
        free(path);
    return 1;
}
