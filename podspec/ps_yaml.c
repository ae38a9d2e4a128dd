/* ps_yaml.c - libyaml events -> node tree, with go-yaml (YAML 1.1) scalar resolution. */
#include "ps_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH  256
#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct frame {
    ps_node *node;
    char *anchor;
    ps_node *key; /* mappings: the key waiting for its value */
    size_t cap;
    ps_node **merges; /* mappings merged in with `<<`, in order */
    size_t n_merges;
} frame;

typedef struct anchor_ent {
    char *name;
    ps_node *node;
} anchor_ent;

typedef struct builder {
    const char *file;
    const char *buf;
    mk_err *err;
    ps_stream *s;
    frame stack[MAX_DEPTH];
    size_t depth;
    anchor_ent *anchors;
    size_t n_anchors;
    ps_node *root;
} builder;

/* ---- scalar resolution ------------------------------------------------------------------- */

static const struct {
    const char *text;
    ps_type type;
    int val; /* bool value, or for floats: 1 = +inf, -1 = -inf, 0 = nan */
} fixed_scalars[] = {
    {"y", PS_T_BOOL, 1},       {"Y", PS_T_BOOL, 1},       {"yes", PS_T_BOOL, 1},
    {"Yes", PS_T_BOOL, 1},     {"YES", PS_T_BOOL, 1},     {"true", PS_T_BOOL, 1},
    {"True", PS_T_BOOL, 1},    {"TRUE", PS_T_BOOL, 1},    {"on", PS_T_BOOL, 1},
    {"On", PS_T_BOOL, 1},      {"ON", PS_T_BOOL, 1},      {"n", PS_T_BOOL, 0},
    {"N", PS_T_BOOL, 0},       {"no", PS_T_BOOL, 0},      {"No", PS_T_BOOL, 0},
    {"NO", PS_T_BOOL, 0},      {"false", PS_T_BOOL, 0},   {"False", PS_T_BOOL, 0},
    {"FALSE", PS_T_BOOL, 0},   {"off", PS_T_BOOL, 0},     {"Off", PS_T_BOOL, 0},
    {"OFF", PS_T_BOOL, 0},     {"~", PS_T_NULL, 0},       {"null", PS_T_NULL, 0},
    {"Null", PS_T_NULL, 0},    {"NULL", PS_T_NULL, 0},    {".nan", PS_T_FLOAT, 0},
    {".NaN", PS_T_FLOAT, 0},   {".NAN", PS_T_FLOAT, 0},   {".inf", PS_T_FLOAT, 1},
    {".Inf", PS_T_FLOAT, 1},   {".INF", PS_T_FLOAT, 1},   {"+.inf", PS_T_FLOAT, 1},
    {"+.Inf", PS_T_FLOAT, 1},  {"+.INF", PS_T_FLOAT, 1},  {"-.inf", PS_T_FLOAT, -1},
    {"-.Inf", PS_T_FLOAT, -1}, {"-.INF", PS_T_FLOAT, -1},
};

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/* Go's strconv.ParseInt(s, 0, 64): optional sign, 0x/0o/0b/0 prefixes. */
static bool parse_go_int(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    } else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
        base = 8;
        s += 2;
    } else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
        base = 2;
        s += 2;
    } else if (s[0] == '0' && s[1]) {
        base = 8;
        s++;
    }
    if (!*s)
        return false;
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        int d = digit_value(*s);
        if (d >= base)
            return false;
        if (v > (limit - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* go-yaml's float syntax: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool is_yaml_float(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    size_t int_digits = strspn(s, "0123456789");
    s += int_digits;
    if (*s == '.') {
        s++;
        size_t frac = strspn(s, "0123456789");
        if (!int_digits && !frac)
            return false;
        s += frac;
    } else if (!int_digits) {
        return false;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        size_t exp = strspn(s, "0123456789");
        if (!exp)
            return false;
        s += exp;
    }
    return *s == '\0';
}

static void resolve_number(ps_node *n)
{
    char *plain = xmalloc(n->len + 1);
    size_t j = 0;
    for (size_t i = 0; i < n->len; i++)
        if (n->str[i] != '_')
            plain[j++] = n->str[i];
    plain[j] = '\0';
    if (parse_go_int(plain, &n->i)) {
        n->type = PS_T_INT;
        n->f = (double)n->i;
    } else if (plain[0] != '-' && plain[0] != '+' && strspn(plain, "0123456789") == j && j) {
        n->type = PS_T_FLOAT; /* beyond int64: kept as a (large) number */
        n->f = strtod(plain, NULL);
    } else if (is_yaml_float(plain)) {
        n->type = PS_T_FLOAT;
        n->f = strtod(plain, NULL);
    }
    free(plain);
}

static void resolve_plain(ps_node *n)
{
    n->type = PS_T_STR;
    if (n->len == 0) {
        n->type = PS_T_NULL;
        return;
    }
    for (size_t i = 0; i < MK_ARRAY_LEN(fixed_scalars); i++) {
        if (strcmp(fixed_scalars[i].text, n->str) != 0)
            continue;
        n->type = fixed_scalars[i].type;
        if (n->type == PS_T_BOOL)
            n->b = fixed_scalars[i].val != 0;
        if (n->type == PS_T_FLOAT)
            n->f = fixed_scalars[i].val ? fixed_scalars[i].val * INFINITY : NAN;
        return;
    }
    char c = n->str[0];
    if (c == '.') {
        if (is_yaml_float(n->str)) {
            n->type = PS_T_FLOAT;
            n->f = strtod(n->str, NULL);
        }
    } else if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
        resolve_number(n);
    }
}

static int yerr(builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int yerr(builder *b, int line, int col, const char *fmt, ...)
{
    char msg[MK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mk_errf(b->err, EINVAL, "%s:%d:%d: invalid YAML: %s", b->file, line, col, msg);
}

/* An explicit tag (`!!int "5"`, `!!str yes`) decides the type; `!` alone means string. */
static int resolve_tagged(builder *b, ps_node *n, const char *tag)
{
    if (!strcmp(tag, "!")) {
        n->type = PS_T_STR;
        return 0;
    }
    if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
        resolve_plain(n); /* local tags carry no meaning for a manifest */
        return 0;
    }
    const char *t = tag + strlen(TAG_PREFIX);
    if (!strcmp(t, "str") || !strcmp(t, "binary") || !strcmp(t, "timestamp")) {
        n->type = PS_T_STR;
        return 0;
    }
    ps_type want;
    if (!strcmp(t, "int"))
        want = PS_T_INT;
    else if (!strcmp(t, "bool"))
        want = PS_T_BOOL;
    else if (!strcmp(t, "float"))
        want = PS_T_FLOAT;
    else if (!strcmp(t, "null"))
        want = PS_T_NULL;
    else {
        resolve_plain(n);
        return 0;
    }
    resolve_plain(n);
    if (want == PS_T_FLOAT && n->type == PS_T_INT)
        n->type = PS_T_FLOAT;
    if (n->type != want)
        return yerr(b, n->line, n->col, "cannot decode !!%s `%s`", t, n->str);
    return 0;
}

/* ---- tree building ----------------------------------------------------------------------- */

static ps_node *new_node(builder *b, ps_kind kind, yaml_mark_t mark)
{
    ps_stream *s = b->s;
    ps_node *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->line = (int)mark.line + 1;
    n->col = (int)mark.column + 1;
    if (s->n_nodes == s->cap_nodes) {
        s->cap_nodes = s->cap_nodes ? s->cap_nodes * 2 : 64;
        s->nodes = xrealloc(s->nodes, s->cap_nodes * sizeof(*s->nodes));
    }
    s->nodes[s->n_nodes++] = n;
    return n;
}

static char *key_name(const ps_node *k)
{
    switch (k->type) {
    case PS_T_NULL:
        return xstrdup("null");
    case PS_T_BOOL:
        return xstrdup(k->b ? "true" : "false");
    case PS_T_INT:
        return xasprintf("%lld", (long long)k->i);
    case PS_T_FLOAT:
        return xasprintf("%.17g", k->f);
    case PS_T_STR:
        break;
    }
    return xstrdup(k->str);
}

static int has_pair(const ps_node *map, const char *name)
{
    for (size_t i = 0; i < map->n_pairs; i++)
        if (!strcmp(map->pairs[i].name, name))
            return 1;
    return 0;
}

static void add_pair(frame *f, char *name, ps_node *key, ps_node *value)
{
    ps_node *m = f->node;
    if (m->n_pairs == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        m->pairs = xrealloc(m->pairs, f->cap * sizeof(*m->pairs));
    }
    m->pairs[m->n_pairs++] = (ps_pair){.name = name, .key = key, .value = value};
}

static int add_merge(builder *b, frame *f, ps_node *v)
{
    if (v->kind == PS_SEQ) {
        for (size_t i = 0; i < v->n_items; i++) {
            int r = add_merge(b, f, v->items[i]);
            if (r < 0)
                return r;
        }
        return 0;
    }
    if (v->kind != PS_MAP)
        return yerr(b, v->line, v->col, "map merge requires a mapping or a list of mappings");
    f->merges = xrealloc(f->merges, (f->n_merges + 1) * sizeof(*f->merges));
    f->merges[f->n_merges++] = v;
    return 0;
}

static int attach(builder *b, ps_node *n)
{
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == PS_SEQ) {
        ps_node *seq = f->node;
        if (seq->n_items == f->cap) {
            f->cap = f->cap ? f->cap * 2 : 8;
            seq->items = xrealloc(seq->items, f->cap * sizeof(*seq->items));
        }
        seq->items[seq->n_items++] = n;
        return 0;
    }
    if (!f->key) {
        if (n->kind != PS_SCALAR)
            return yerr(b, n->line, n->col, "mapping keys must be scalars");
        f->key = n;
        return 0;
    }
    ps_node *key = f->key;
    f->key = NULL;
    if (key->merge)
        return add_merge(b, f, n);
    add_pair(f, key_name(key), key, n);
    return 0;
}

static void add_anchor(builder *b, const yaml_char_t *anchor, ps_node *n)
{
    if (!anchor)
        return;
    b->anchors = xrealloc(b->anchors, (b->n_anchors + 1) * sizeof(*b->anchors));
    b->anchors[b->n_anchors++] = (anchor_ent){xstrdup((const char *)anchor), n};
}

static int on_scalar(builder *b, yaml_event_t *ev)
{
    ps_node *n = new_node(b, PS_SCALAR, ev->start_mark);
    n->str = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
    n->len = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    int r = 0;
    if (tag)
        r = resolve_tagged(b, n, tag);
    else if (plain)
        resolve_plain(n);
    else
        n->type = PS_T_STR;
    if (r < 0)
        return r;
    n->merge = plain && !tag && !strcmp(n->str, "<<");
    add_anchor(b, ev->data.scalar.anchor, n);
    return attach(b, n);
}

static int on_alias(builder *b, yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = b->n_anchors; i-- > 0;)
        if (!strcmp(b->anchors[i].name, name))
            return attach(b, b->anchors[i].node);
    return yerr(b, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                "unknown anchor '%s' referenced", name);
}

static int on_start(builder *b, yaml_event_t *ev, ps_kind kind)
{
    if (b->depth == MAX_DEPTH)
        return yerr(b, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                    "nested deeper than %d levels", MAX_DEPTH);
    const yaml_char_t *anchor =
        kind == PS_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    frame *f = &b->stack[b->depth++];
    *f = (frame){.node = new_node(b, kind, ev->start_mark)};
    f->anchor = anchor ? xstrdup((const char *)anchor) : NULL;
    return 0;
}

static void apply_merges(frame *f)
{
    for (size_t m = 0; m < f->n_merges; m++) {
        const ps_node *src = f->merges[m];
        for (size_t i = 0; i < src->n_pairs; i++) {
            const ps_pair *p = &src->pairs[i];
            if (!has_pair(f->node, p->name))
                add_pair(f, xstrdup(p->name), p->key, p->value);
        }
    }
}

static int on_end(builder *b)
{
    frame *f = &b->stack[--b->depth];
    apply_merges(f);
    free(f->merges);
    ps_node *n = f->node;
    add_anchor(b, (const yaml_char_t *)f->anchor, n);
    free(f->anchor);
    return attach(b, n);
}

static void reset_doc(builder *b)
{
    for (size_t i = 0; i < b->n_anchors; i++)
        free(b->anchors[i].name);
    free(b->anchors);
    b->anchors = NULL;
    b->n_anchors = 0;
    while (b->depth > 0) {
        frame *f = &b->stack[--b->depth];
        free(f->merges);
        free(f->anchor);
    }
    b->root = NULL;
}

static void offset_to_pos(const char *buf, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int syntax_error(builder *b, const yaml_parser_t *p, size_t len)
{
    const char *problem = p->problem ? p->problem : "malformed document";
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR)
        offset_to_pos(b->buf, p->problem_offset < len ? p->problem_offset : len, &line, &col);
    char extra[256] = "";
    if (p->context)
        snprintf(extra, sizeof(extra), " (%s that starts at line %d, column %d)", p->context,
                 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    const char *hint = "";
    size_t at = p->problem_mark.index;
    if (!strcmp(problem, "found unknown escape character") && at + 1 < len && b->buf[at] == '\\' &&
        b->buf[at + 1] == '\'')
        hint = "; \\' is not an escape in a double-quoted string, write ' alone";
    return yerr(b, line, col, "%s%s%s", problem, extra, hint);
}

static int handle_event(builder *b, yaml_event_t *ev)
{
    ps_stream *s = b->s;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        reset_doc(b);
        s->docs = xrealloc(s->docs, (s->n_docs + 1) * sizeof(*s->docs));
        s->docs[s->n_docs++] = (ps_doc){.root = NULL, .line = (int)ev->start_mark.line + 1};
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        s->docs[s->n_docs - 1].root = b->root;
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, PS_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, PS_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    default:
        return 0;
    }
}

int ps_yaml_load(const char *file, const char *buf, size_t len, ps_stream *out, mk_err *err)
{
    *out = (ps_stream){0};
    builder b = {.file = file ? file : "<input>", .buf = buf, .err = err, .s = out};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return mk_errf(err, ENOMEM, "%s: cannot initialize the YAML parser", b.file);
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    int r = 0;
    for (bool done = false; !done && r == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            r = syntax_error(&b, &p, len);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        r = handle_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    reset_doc(&b);
    yaml_parser_delete(&p);
    if (r < 0)
        ps_yaml_free(out);
    return r;
}

void ps_yaml_free(ps_stream *s)
{
    for (size_t i = 0; i < s->n_nodes; i++) {
        ps_node *n = s->nodes[i];
        for (size_t j = 0; j < n->n_pairs; j++)
            free(n->pairs[j].name);
        free(n->pairs);
        free(n->items);
        free(n->str);
        free(n);
    }
    free(s->nodes);
    free(s->docs);
    *s = (ps_stream){0};
}

ps_node *ps_map_get(const ps_node *map, const char *name)
{
    if (!map || map->kind != PS_MAP)
        return NULL;
    for (size_t i = 0; i < map->n_pairs; i++)
        if (!strcmp(map->pairs[i].name, name))
            return map->pairs[i].value;
    return NULL;
}

const char *ps_json_type(const ps_node *n)
{
    if (n->kind == PS_SEQ)
        return "array";
    if (n->kind == PS_MAP)
        return "object";
    switch (n->type) {
    case PS_T_NULL:
        return "null";
    case PS_T_BOOL:
        return "bool";
    case PS_T_INT:
    case PS_T_FLOAT:
        return "number";
    case PS_T_STR:
        break;
    }
    return "string";
}

bool ps_is_empty(const ps_node *n)
{
    if (!n)
        return true;
    if (n->kind == PS_SEQ)
        return n->n_items == 0;
    if (n->kind == PS_MAP)
        return n->n_pairs == 0;
    return n->type == PS_T_NULL;
}
