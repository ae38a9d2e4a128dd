/* cni_cache.c - the per-attachment cache, in libcni's format ("cniCacheV1"):
 * <cache_dir>/results/<network>-<containerid>-<ifname>, mode 0600 in a 0700 dir, holding
 * containerId, ifName, networkName, netns, config (the conflist bytes, base64), cniArgs
 * ([[k, v], ...]), capabilityArgs ({"portMappings": [...]}) and, once the ADD finished, result.
 */
#include "cni_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_KIND "cniCacheV1"

void rt_cni_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

char *rt_cni_cache_path(const char *cache_dir, const char *network, const char *cid,
                        const char *ifname)
{
    return xasprintf("%s/results/%s-%s-%s", cache_dir, network, cid, ifname);
}

static char *b64_encode(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

static char *b64_decode(const char *s)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    char *out = xmalloc(n / 4 * 3 + 1);
    int r = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    if (r < 0) {
        free(out);
        return NULL;
    }
    for (size_t i = n; i > 0 && s[i - 1] == '='; i--)
        r--; /* EVP_DecodeBlock counts the padding as zero bytes */
    out[r] = '\0';
    return out;
}

int rt_cni_cache_write(const char *cache_dir, const rt_cni_cache *c, mk_err *err)
{
    cleanup_free char *dir = xasprintf("%s/results", cache_dir);
    int r = mk_mkdir_p(dir, 0700, err);
    if (r < 0)
        return mk_err_wrap(err, "CNI cache");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", CACHE_KIND);
    cJSON_AddStringToObject(o, "containerId", c->container_id);
    cleanup_free char *conf = b64_encode(c->config);
    cJSON_AddStringToObject(o, "config", conf);
    cJSON_AddStringToObject(o, "ifName", c->ifname);
    cJSON_AddStringToObject(o, "networkName", c->network);
    cJSON_AddStringToObject(o, "netns", c->netns ? c->netns : "");
    cJSON_AddItemToObject(o, "cniArgs", cJSON_Duplicate(c->cni_args, true));
    cJSON *caps = cJSON_AddObjectToObject(o, "capabilityArgs");
    if (c->port_maps && cJSON_GetArraySize(c->port_maps) > 0)
        cJSON_AddItemToObject(caps, "portMappings", cJSON_Duplicate(c->port_maps, true));
    if (c->result)
        cJSON_AddItemToObject(o, "result", cJSON_Duplicate(c->result, true));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        abort();
    cleanup_free char *path = rt_cni_cache_path(cache_dir, c->network, c->container_id, c->ifname);
    r = mk_write_file_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return r < 0 ? mk_err_wrap(err, "CNI cache") : 0;
}

static char *get_str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? xstrdup(s) : NULL;
}

static int parse_cache(const char *path, cJSON *o, rt_cni_cache *c, mk_err *err)
{
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
    if (!kind || strcmp(kind, CACHE_KIND) != 0)
        return mk_errf(err, EINVAL, "CNI cache %s: kind is not %s", path, CACHE_KIND);
    c->network = get_str(o, "networkName");
    c->container_id = get_str(o, "containerId");
    c->ifname = get_str(o, "ifName");
    c->netns = get_str(o, "netns");
    const char *conf = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "config"));
    if (conf)
        c->config = b64_decode(conf);
    if (!c->network || !c->container_id || !c->ifname || !c->config)
        return mk_errf(err, EINVAL,
                       "CNI cache %s: networkName, containerId, ifName or config missing", path);
    cJSON *args = cJSON_DetachItemFromObjectCaseSensitive(o, "cniArgs");
    c->cni_args = cJSON_IsArray(args) ? args : cJSON_CreateArray();
    if (c->cni_args != args)
        cJSON_Delete(args);
    cJSON *caps = cJSON_GetObjectItemCaseSensitive(o, "capabilityArgs");
    cJSON *pm = cJSON_DetachItemFromObjectCaseSensitive(caps, "portMappings");
    if (cJSON_IsArray(pm))
        c->port_maps = pm;
    else
        cJSON_Delete(pm);
    cJSON *res = cJSON_DetachItemFromObjectCaseSensitive(o, "result");
    if (cJSON_IsObject(res))
        c->result = res;
    else
        cJSON_Delete(res);
    return 0;
}

int rt_cni_cache_read(const char *path, rt_cni_cache *c, mk_err *err)
{
    memset(c, 0, sizeof(*c));
    cleanup_free char *text = NULL;
    int r = mk_read_file(path, RT_CNI_MAX_JSON * 2, &text, NULL, err);
    if (r < 0)
        return r;
    cJSON *o = cJSON_Parse(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return mk_errf(err, EINVAL, "CNI cache %s: not a JSON object", path);
    }
    r = parse_cache(path, o, c, err);
    cJSON_Delete(o);
    if (r < 0)
        rt_cni_cache_free(c);
    return r;
}

void rt_cni_cache_free(rt_cni_cache *c)
{
    free(c->network);
    free(c->container_id);
    free(c->ifname);
    free(c->netns);
    free(c->config);
    cJSON_Delete(c->cni_args);
    cJSON_Delete(c->port_maps);
    cJSON_Delete(c->result);
    memset(c, 0, sizeof(*c));
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a > b && strcmp(s + a - b, suf) == 0;
}

/* Left behind by an interrupted atomic write: "<name>.tmp.<pid>". */
static bool temp_name(const char *s)
{
    const char *t = strstr(s, ".tmp.");
    if (!t)
        return false;
    for (t += 5; *t; t++) {
        if (!isdigit((unsigned char)*t))
            return false;
    }
    return true;
}

/* Paths in results/ (ending in `suffix` when given); NULL-terminated. A missing dir is
 * empty. */
static int list_names(const char *cache_dir, const char *suffix, char ***out, mk_err *err)
{
    cleanup_free char *dir = xasprintf("%s/results", cache_dir);
    size_t n = 0, cap = 4;
    char **v = xcalloc(cap, sizeof(char *));
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            *out = v;
            return 0;
        }
        int e = errno;
        free(v);
        return mk_errf_sys(err, e, "CNI cache dir %s", dir);
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            int e = errno;
            closedir(d);
            if (e) {
                rt_cni_strv_free(v);
                return mk_errf_sys(err, e, "read CNI cache dir %s", dir);
            }
            break;
        }
        if (de->d_name[0] == '.' || temp_name(de->d_name))
            continue;
        if (suffix && !has_suffix(de->d_name, suffix))
            continue;
        if (n + 2 > cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(char *));
        }
        v[n++] = xasprintf("%s/%s", dir, de->d_name);
        v[n] = NULL;
    }
    *out = v;
    return 0;
}

int rt_cni_cache_find(const char *cache_dir, const char *cid, const char *ifname, char ***paths,
                      mk_err *err)
{
    cleanup_free char *suffix = xasprintf("-%s-%s", cid, ifname);
    return list_names(cache_dir, suffix, paths, err);
}

int rt_cni_list_attachments(const rt_cni_opts *opts, rt_cni_attachment **out, size_t *n,
                            mk_err *err)
{
    char **paths = NULL;
    int r = list_names(opts->cache_dir, NULL, &paths, err);
    if (r < 0)
        return r;
    size_t cnt = 0;
    while (paths[cnt])
        cnt++;
    rt_cni_attachment *a = xcalloc(cnt + 1, sizeof(*a));
    size_t k = 0;
    for (size_t i = 0; i < cnt; i++) {
        rt_cni_cache c;
        mk_err e = {0};
        if (rt_cni_cache_read(paths[i], &c, &e) < 0) {
            mk_warn("CNI cache: skipping %s", e.msg);
            continue;
        }
        a[k].network = MK_STEAL(c.network);
        a[k].container_id = MK_STEAL(c.container_id);
        a[k].ifname = MK_STEAL(c.ifname);
        a[k].netns = MK_STEAL(c.netns);
        a[k].complete = c.result != NULL;
        k++;
        rt_cni_cache_free(&c);
    }
    rt_cni_strv_free(paths);
    *out = a;
    *n = k;
    return 0;
}

void rt_cni_attachments_free(rt_cni_attachment *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].network);
        free(a[i].container_id);
        free(a[i].ifname);
        free(a[i].netns);
    }
    free(a);
}

int rt_cni_cached_result(const rt_cni_opts *opts, const char *container_id, const char *ifname,
                         rt_cni_result *res, mk_err *err)
{
    memset(res, 0, sizeof(*res));
    if (!ifname)
        ifname = RT_CNI_DEFAULT_IFNAME;
    char **paths = NULL;
    int r = rt_cni_cache_find(opts->cache_dir, container_id, ifname, &paths, err);
    if (r < 0)
        return r;
    r = 0;
    for (size_t i = 0; paths[i] && r == 0; i++) {
        rt_cni_cache c;
        if ((r = rt_cni_cache_read(paths[i], &c, err)) < 0)
            break;
        if (c.result) {
            char *text = cJSON_PrintUnformatted(c.result);
            r = text ? rt_cni_result_parse(text, ifname, res, err) : -ENOMEM;
            r = r < 0 ? r : 1;
            cJSON_free(text);
        }
        rt_cni_cache_free(&c);
    }
    rt_cni_strv_free(paths);
    return r;
}

int rt_cni_set_aside_incomplete(const rt_cni_opts *opts, const char *container_id,
                                const char *ifname, char **where, mk_err *err)
{
    *where = NULL;
    if (!ifname)
        ifname = RT_CNI_DEFAULT_IFNAME;
    char **paths = NULL;
    int r = rt_cni_cache_find(opts->cache_dir, container_id, ifname, &paths, err);
    if (r < 0)
        return r;
    cleanup_free char *dir = xasprintf("%s/failed", opts->cache_dir);
    int moved = 0;
    for (size_t i = 0; paths[i] && r >= 0; i++) {
        rt_cni_cache c;
        mk_err e = {0};
        if (rt_cni_cache_read(paths[i], &c, &e) < 0)
            continue;
        bool incomplete = !c.result && strcmp(c.container_id, container_id) == 0;
        rt_cni_cache_free(&c);
        if (!incomplete)
            continue;
        if ((r = mk_mkdir_p(dir, 0700, err)) < 0)
            break;
        const char *base = strrchr(paths[i], '/') + 1;
        char *dst = xasprintf("%s/%s.%lld", dir, base, (long long)(mk_now_ns() / 1000000000));
        if (rename(paths[i], dst) < 0) {
            r = mk_errf_sys(err, errno, "move %s to %s", paths[i], dst);
            free(dst);
            break;
        }
        free(*where);
        *where = dst;
        moved++;
    }
    rt_cni_strv_free(paths);
    return r < 0 ? r : moved;
}
