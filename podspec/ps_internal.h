/* ps_internal.h - shared by the podspec sources; not part of the public interface. */
#ifndef PS_INTERNAL_H
#define PS_INTERNAL_H

#include "podspec.h"
#include "ps_yaml.h"

#define PS_PATH_MAX 512

/* Parsing context for one document. */
typedef struct ps_ctx {
    const char *file;
    mk_err *err;
    const ps_node *root;     /* the document, for locating nodes by field path */
    const ps_node *key;      /* key of the field being decoded (for positions) */
    char *invalid;           /* first validation error found while decoding */
    char *unsupported;       /* first "not supported" finding, reported after validation */
    podspec_container *init; /* spec.initContainers: decoded for validation only */
    size_t n_init;
    podspec_warning *warnings; /* appended to the result */
    size_t n_warnings;
} ps_ctx;

/* ---- errors (ps_decode_util.c) ---- */
/* "file:line:col: path: msg"; returns -EINVAL. */
int ps_fail(ps_ctx *c, const ps_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like ps_fail, positioned at the node `locate` names (or the nearest existing parent). */
int ps_fail_path(ps_ctx *c, const char *locate, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Remember the first "path: not supported" finding. */
void ps_unsupported(ps_ctx *c, const ps_node *at, const char *path, const char *what);
/* Remember the first validation error found while decoding (reported before the others). */
void ps_defer(ps_ctx *c, const ps_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ps_warn(ps_ctx *c, const ps_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The node a field path points to ("spec.containers[0].ports[1].hostPort"), or its nearest
 * existing parent. Never NULL when root is not NULL. */
const ps_node *ps_locate(const ps_node *root, const char *path);

/* ---- paths ---- */
void ps_path_field(char *dst, const char *parent, const char *name);
void ps_path_index(char *dst, const char *parent, size_t i);
void ps_path_key(char *dst, const char *parent, const char *key);

/* ---- typed reads: null means "absent" and leaves *out untouched ---- */
int ps_get_string(ps_ctx *c, const ps_node *n, const char *path, char **out);
int ps_get_bool(ps_ctx *c, const ps_node *n, const char *path, bool *out);
int ps_get_int(ps_ctx *c, const ps_node *n, const char *path, int64_t min, int64_t max,
               const char *go_type, int64_t *out);
int ps_get_string_list(ps_ctx *c, const ps_node *n, const char *path, char ***out);
int ps_get_string_map(ps_ctx *c, const ps_node *n, const char *path, podspec_kv **out,
                      size_t *n_out);
/* Checks n is a mapping (or null) with no duplicate keys. Returns 1 for a mapping, 0 for null. */
int ps_expect_map(ps_ctx *c, const ps_node *n, const char *path);
int ps_expect_seq(ps_ctx *c, const ps_node *n, const char *path);

/* ---- field tables ---- */
typedef enum {
    PS_F_HANDLED,     /* decoded by the object's decoder */
    PS_F_UNSUPPORTED, /* real Kubernetes field not supported yet: rejected unless empty */
    PS_F_IGNORED,     /* meaningless on one node: accepted with a warning */
    PS_F_OUTPUT,      /* set by the server (status): accepted with a warning */
    PS_F_SERVER_META, /* metadata the server sets (creationTimestamp, resourceVersion): ignored */
} ps_field_class;

typedef struct ps_field {
    const char *name;
    ps_field_class cls;
    const char *default_text; /* a scalar value that means "not set" (e.g. "false") or NULL */
} ps_field;

/* Walks a mapping: unknown fields are errors, unsupported/ignored ones are recorded, and
 * handled ones are passed to `fn`. */
typedef int (*ps_field_fn)(ps_ctx *c, void *obj, const char *name, const ps_node *value,
                           const char *path);
int ps_walk_object(ps_ctx *c, const ps_node *map, const char *path, const ps_field *fields,
                   size_t n_fields, void *obj, ps_field_fn fn);

/* ---- pieces ---- */
int ps_decode_pod(ps_ctx *c, const ps_node *root, podspec_pod *p);
void ps_default_pod(podspec_pod *p);
void ps_default_containers(podspec_container *cts, size_t n, bool host_network);
int ps_validate_pod(ps_ctx *c, const podspec_pod *p);
void ps_kv_sort(podspec_kv *kv, size_t n);
void ps_container_free(podspec_container *ct);
int ps_pod_hash(podspec_pod *p);

/* Resources: validated as the API server does (requests <= limits, ...), then not supported. */
int ps_check_resources(ps_ctx *c, const ps_node *n, const char *path, bool pod_level);

/* Kubernetes quantities (ps_quantity.c). Values are in units of 10^-9. */
typedef struct ps_quantity {
    __int128 nanos;
    int format; /* 0 DecimalSI, 1 BinarySI, 2 DecimalExponent */
} ps_quantity;
int ps_quantity_parse(const char *s, ps_quantity *q);
void ps_quantity_format(const ps_quantity *q, char *buf, size_t len);

/* Error texts shared with the validation messages. */
extern const char ps_msg_dns1123_label[];
extern const char ps_msg_dns1123_subdomain[];
/* Reason a label key is invalid, or NULL. */
const char *ps_qualified_name_error(const char *s, char *buf, size_t len);
const char *ps_label_value_error(const char *v);
const char *ps_port_name_error(const char *s);
const char *ps_env_name_error(const char *s);
#endif
