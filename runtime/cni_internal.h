/* cni_internal.h - what the cni*.c files share; not for other modules (tests may use it). */
#ifndef MK_RT_CNI_INTERNAL_H
#define MK_RT_CNI_INTERNAL_H

#include "cni.h"

#include <cjson/cJSON.h>

/* Largest config, result or cache file we accept. */
#define RT_CNI_MAX_JSON (1 << 20)

typedef struct rt_cni_plugin {
    char *type;
    cJSON *conf;            /* the plugin object as configured */
    bool cap_port_mappings; /* capabilities.portMappings is true */
} rt_cni_plugin;

struct rt_cni_net {
    char *name;
    char *version; /* selected cniVersion */
    char *file;
    char *bytes; /* the chain as JSON text (what the cache keeps) */
    rt_cni_plugin *plugins;
    size_t n_plugins;
};

/* cni_conf.c */
bool rt_cni_valid_id(const char *s); /* [A-Za-z0-9][A-Za-z0-9_.-]* */
/* The stdin of plugin i: its config plus name, cniVersion, prevResult (NULL: none) and
 * runtimeConfig.portMappings (when the plugin asks for it and the array is not empty), with
 * capabilities removed. Malloc'd JSON text. */
char *rt_cni_plugin_stdin(const rt_cni_net *net, size_t i, const cJSON *prev_result,
                          const cJSON *port_mappings);

/* cni_args.c */
/* CNI_ARGS pairs for a pod: IgnoreUnknown=1, K8S_POD_NAMESPACE, K8S_POD_NAME,
 * K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID (when set). A cJSON array of [k, v] arrays, the
 * form libcni caches. -EINVAL when a value cannot be carried (';' or '=' in it). */
int rt_cni_args_pairs(const rt_cni_pod *pod, cJSON **out, mk_err *err);
/* Join [k, v] pairs as "k=v;k2=v2". */
char *rt_cni_args_join(const cJSON *pairs);
/* runtimeConfig.portMappings: [{"hostPort","containerPort","protocol"(lower),"hostIP"?}].
 * -EINVAL for a port out of range or an unknown protocol. */
int rt_cni_portmaps_json(const rt_cni_portmap *p, size_t n, cJSON **out, mk_err *err);

/* cni_exec.c */
typedef struct rt_cni_call {
    const char *command; /* "ADD", "DEL", "CHECK", "VERSION" */
    const char *container_id;
    const char *netns; /* "" allowed */
    const char *ifname;
    const char *args; /* CNI_ARGS */
    const char *bin_path;
    int timeout_ms;
} rt_cni_call;
/* Full path of the plugin binary: the first <dir>/<type> that is an executable regular file.
 * -ENOENT "CNI plugin \"type\" not found in <path>". */
int rt_cni_find_plugin(const char *bin_path, const char *type, char **path, mk_err *err);
/* Run one plugin with stdin_json; on exit 0 *out is its stdout. On failure err carries the
 * plugin's error (see rt_cni_error_parse) and *cni_code its CNI code (0 when none). */
int rt_cni_exec(const rt_cni_call *c, const char *type, const char *stdin_json, char **out,
                int *cni_code, mk_err *err);

/* cni_cache.c */
typedef struct rt_cni_cache {
    char *network;
    char *container_id;
    char *ifname;
    char *netns;
    char *config;     /* conflist JSON text */
    cJSON *cni_args;  /* [[k, v], ...] */
    cJSON *port_maps; /* array or NULL */
    cJSON *result;    /* NULL until the ADD finished */
} rt_cni_cache;
char *rt_cni_cache_path(const char *cache_dir, const char *network, const char *cid,
                        const char *ifname);
int rt_cni_cache_write(const char *cache_dir, const rt_cni_cache *c, mk_err *err);
int rt_cni_cache_read(const char *path, rt_cni_cache *c, mk_err *err);
void rt_cni_cache_free(rt_cni_cache *c);
/* Paths of the cache files for (cid, ifname) on any network; NULL-terminated, may be empty. */
int rt_cni_cache_find(const char *cache_dir, const char *cid, const char *ifname, char ***paths,
                      mk_err *err);
void rt_cni_strv_free(char **v);

#endif
