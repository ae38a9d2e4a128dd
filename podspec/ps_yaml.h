/* ps_yaml.h - YAML/JSON text -> a read-only node tree with positions (podspec internal).
 *
 * Scalars are resolved the way kubectl reads manifests (YAML converted to JSON with go-yaml's
 * YAML 1.1 rules): unquoted yes/no/on/off/y/n/true/false are booleans, ~/null/empty are null,
 * 0x1F / 0o17 / 017 / 1_000 are integers. Quoted and block scalars are always strings.
 * Aliases share the anchored node; merge keys (<<) are applied.
 */
#ifndef PS_YAML_H
#define PS_YAML_H

#include "mk_base.h"

typedef enum { PS_SCALAR, PS_SEQ, PS_MAP } ps_kind;
typedef enum { PS_T_NULL, PS_T_BOOL, PS_T_INT, PS_T_FLOAT, PS_T_STR } ps_type;

typedef struct ps_node ps_node;

typedef struct ps_pair {
    char *name; /* the key as JSON would see it ("true" for an unquoted `on:` key) */
    ps_node *key;
    ps_node *value;
} ps_pair;

struct ps_node {
    ps_kind kind;
    int line, col; /* 1-based */
    /* scalars */
    ps_type type;
    char *str; /* the scalar text, NUL-terminated */
    size_t len;
    bool b;
    bool merge; /* an unquoted `<<` key */
    int64_t i;
    double f;
    /* sequences */
    ps_node **items;
    size_t n_items;
    /* mappings */
    ps_pair *pairs;
    size_t n_pairs;
};

typedef struct ps_doc {
    ps_node *root; /* NULL for an empty document */
    int line;      /* 1-based line where the document starts */
} ps_doc;

typedef struct ps_stream {
    ps_doc *docs;
    size_t n_docs;
    ps_node **nodes; /* every node, for freeing */
    size_t n_nodes, cap_nodes;
} ps_stream;

/* Parse every document. On a syntax error returns -EINVAL with
 * "file:line:col: invalid YAML: <problem> <context>". */
int ps_yaml_load(const char *file, const char *buf, size_t len, ps_stream *out, mk_err *err);
void ps_yaml_free(ps_stream *s);

/* The value of `name` in a mapping, or NULL. */
ps_node *ps_map_get(const ps_node *map, const char *name);
/* "string", "bool", "number", "null", "array", "object": the JSON type of a node. */
const char *ps_json_type(const ps_node *n);
/* True for null, {} and []. */
bool ps_is_empty(const ps_node *n);

#endif
