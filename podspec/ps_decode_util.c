/* ps_decode_util.c - positioned errors, field paths, typed reads and the field-table walker. */
#include "ps_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors and warnings ----------------------------------------------------------------- */

static void vformat(ps_ctx *c, const ps_node *at, const char *path, char *out, size_t len,
                    const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void vformat(ps_ctx *c, const ps_node *at, const char *path, char *out, size_t len,
                    const char *fmt, va_list ap)
{
    int line = at ? at->line : 1, col = at ? at->col : 1;
    int n = snprintf(out, len, "%s:%d:%d: ", c->file, line, col);
    if (n < 0 || (size_t)n >= len)
        return;
    if (path && *path) {
        int m = snprintf(out + n, len - (size_t)n, "%s: ", path);
        if (m < 0 || (size_t)(n + m) >= len)
            return;
        n += m;
    }
    vsnprintf(out + n, len - (size_t)n, fmt, ap);
}

int ps_fail(ps_ctx *c, const ps_node *at, const char *path, const char *fmt, ...)
{
    char msg[MK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vformat(c, at, path, msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mk_errf(c->err, EINVAL, "%s", msg);
}

int ps_fail_path(ps_ctx *c, const char *locate, const char *path, const char *fmt, ...)
{
    char msg[MK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vformat(c, ps_locate(c->root, locate), path, msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return mk_errf(c->err, EINVAL, "%s", msg);
}

static void format_msg(ps_ctx *c, const ps_node *at, const char *path, char *out, size_t len,
                       const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void format_msg(ps_ctx *c, const ps_node *at, const char *path, char *out, size_t len,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(c, at, path, out, len, fmt, ap);
    va_end(ap);
}

void ps_unsupported(ps_ctx *c, const ps_node *at, const char *path, const char *what)
{
    if (c->unsupported)
        return;
    char msg[MK_ERR_MSG_MAX];
    format_msg(c, at, path, msg, sizeof(msg), "%s", what ? what : "not supported");
    c->unsupported = xstrdup(msg);
}

void ps_defer(ps_ctx *c, const ps_node *at, const char *path, const char *fmt, ...)
{
    if (c->invalid)
        return;
    char msg[MK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vformat(c, at, path, msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->invalid = xstrdup(msg);
}

void ps_warn(ps_ctx *c, const ps_node *at, const char *path, const char *fmt, ...)
{
    char msg[MK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vformat(c, at, path, msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->warnings = xrealloc(c->warnings, (c->n_warnings + 1) * sizeof(*c->warnings));
    c->warnings[c->n_warnings++].msg = xstrdup(msg);
}

/* ---- paths ------------------------------------------------------------------------------- */

void ps_path_field(char *dst, const char *parent, const char *name)
{
    if (parent && *parent)
        snprintf(dst, PS_PATH_MAX, "%s.%s", parent, name);
    else
        snprintf(dst, PS_PATH_MAX, "%s", name);
}

void ps_path_index(char *dst, const char *parent, size_t i)
{
    snprintf(dst, PS_PATH_MAX, "%s[%zu]", parent, i);
}

void ps_path_key(char *dst, const char *parent, const char *key)
{
    snprintf(dst, PS_PATH_MAX, "%s[%s]", parent, key);
}

static const ps_node *locate_step(const ps_node *cur, const char *tok, bool bracket)
{
    if (bracket && cur->kind == PS_SEQ && *tok && strspn(tok, "0123456789") == strlen(tok)) {
        size_t i = strtoul(tok, NULL, 10);
        return i < cur->n_items ? cur->items[i] : NULL;
    }
    return ps_map_get(cur, tok);
}

const ps_node *ps_locate(const ps_node *root, const char *path)
{
    const ps_node *cur = root;
    const char *s = path;
    char tok[PS_PATH_MAX];
    while (cur && *s) {
        bool bracket = *s == '[';
        size_t n;
        if (bracket) {
            s++;
            const char *end = strchr(s, ']');
            n = end ? (size_t)(end - s) : strlen(s);
        } else {
            if (*s == '.')
                s++;
            n = strcspn(s, ".[");
        }
        if (n >= sizeof(tok))
            break;
        memcpy(tok, s, n);
        tok[n] = '\0';
        s += n;
        if (bracket && *s == ']')
            s++;
        const ps_node *next = locate_step(cur, tok, bracket);
        if (!next)
            break;
        cur = next;
    }
    return cur;
}

/* ---- typed reads ------------------------------------------------------------------------- */

static int type_error(ps_ctx *c, const ps_node *n, const char *path, const char *want)
{
    const char *got = ps_json_type(n);
    if (n->kind == PS_SCALAR && !strcmp(want, "string") && n->type == PS_T_BOOL)
        return ps_fail(c, n, path,
                       "cannot unmarshal bool into a string field (unquoted %s is a YAML "
                       "boolean; write \"%s\" to keep it a string)",
                       n->str, n->str);
    if (n->kind == PS_SCALAR && !strcmp(want, "string") && n->type != PS_T_NULL)
        return ps_fail(c, n, path,
                       "cannot unmarshal %s into a string field (write \"%s\" in quotes to keep "
                       "it a string)",
                       got, n->str);
    return ps_fail(c, n, path, "cannot unmarshal %s into a field of type %s", got, want);
}

int ps_get_string(ps_ctx *c, const ps_node *n, const char *path, char **out)
{
    if (!n || (n->kind == PS_SCALAR && n->type == PS_T_NULL))
        return 0;
    if (n->kind != PS_SCALAR || n->type != PS_T_STR)
        return type_error(c, n, path, "string");
    if (strlen(n->str) != n->len)
        return ps_fail(c, n, path, "must not contain a NUL character");
    free(*out);
    *out = xstrdup(n->str);
    return 0;
}

int ps_get_bool(ps_ctx *c, const ps_node *n, const char *path, bool *out)
{
    if (!n || (n->kind == PS_SCALAR && n->type == PS_T_NULL))
        return 0;
    if (n->kind != PS_SCALAR || n->type != PS_T_BOOL)
        return type_error(c, n, path, "bool");
    *out = n->b;
    return 0;
}

int ps_get_int(ps_ctx *c, const ps_node *n, const char *path, int64_t min, int64_t max,
               const char *go_type, int64_t *out)
{
    if (!n || (n->kind == PS_SCALAR && n->type == PS_T_NULL))
        return 0;
    if (n->kind != PS_SCALAR || (n->type != PS_T_INT && n->type != PS_T_FLOAT))
        return type_error(c, n, path, go_type);
    int64_t v;
    if (n->type == PS_T_INT) {
        v = n->i;
    } else {
        /* a JSON number such as 80.0 decodes into an integer field; 80.5 does not */
        if (!(n->f >= -9.2e18 && n->f <= 9.2e18) || n->f != (double)(int64_t)n->f)
            return ps_fail(c, n, path, "cannot unmarshal number %s into a field of type %s", n->str,
                           go_type);
        v = (int64_t)n->f;
    }
    if (v < min || v > max)
        return ps_fail(c, n, path, "cannot unmarshal number %s into a field of type %s", n->str,
                       go_type);
    *out = v;
    return 0;
}

int ps_get_string_list(ps_ctx *c, const ps_node *n, const char *path, char ***out)
{
    int r = ps_expect_seq(c, n, path);
    if (r <= 0)
        return r;
    if (n->n_items == 0)
        return 0;
    char **v = xcalloc(n->n_items + 1, sizeof(*v));
    for (size_t i = 0; i < n->n_items; i++) {
        char p[PS_PATH_MAX];
        ps_path_index(p, path, i);
        r = ps_get_string(c, n->items[i], p, &v[i]);
        if (r == 0 && !v[i])
            v[i] = xstrdup(""); /* null in a list of strings decodes as "" */
        if (r < 0) {
            for (size_t j = 0; j < n->n_items; j++)
                free(v[j]);
            free(v);
            return r;
        }
    }
    *out = v;
    return 0;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const podspec_kv *)a)->name, ((const podspec_kv *)b)->name);
}

void ps_kv_sort(podspec_kv *kv, size_t n)
{
    if (n > 1)
        qsort(kv, n, sizeof(*kv), cmp_kv);
}

int ps_get_string_map(ps_ctx *c, const ps_node *n, const char *path, podspec_kv **out,
                      size_t *n_out)
{
    int r = ps_expect_map(c, n, path);
    if (r <= 0)
        return r;
    podspec_kv *kv = xcalloc(n->n_pairs, sizeof(*kv));
    for (size_t i = 0; i < n->n_pairs; i++) {
        char p[PS_PATH_MAX];
        ps_path_key(p, path, n->pairs[i].name);
        kv[i].name = xstrdup(n->pairs[i].name);
        r = ps_get_string(c, n->pairs[i].value, p, &kv[i].value);
        if (r == 0 && !kv[i].value)
            kv[i].value = xstrdup("");
        if (r < 0) {
            for (size_t j = 0; j <= i; j++) {
                free(kv[j].name);
                free(kv[j].value);
            }
            free(kv);
            return r;
        }
    }
    ps_kv_sort(kv, n->n_pairs);
    *out = kv;
    *n_out = n->n_pairs;
    return 0;
}

static int cmp_pair_index(const void *a, const void *b, void *arg)
{
    const ps_node *map = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int r = strcmp(map->pairs[x].name, map->pairs[y].name);
    return r ? r : (x < y ? -1 : x > y);
}

static int check_duplicates(ps_ctx *c, const ps_node *map, const char *path)
{
    if (map->n_pairs < 2)
        return 0;
    size_t *idx = xcalloc(map->n_pairs, sizeof(*idx));
    for (size_t i = 0; i < map->n_pairs; i++)
        idx[i] = i;
    qsort_r(idx, map->n_pairs, sizeof(*idx), cmp_pair_index, (void *)map);
    size_t dup = SIZE_MAX, first = 0;
    for (size_t i = 1; i < map->n_pairs; i++) {
        if (strcmp(map->pairs[idx[i]].name, map->pairs[idx[i - 1]].name) != 0)
            continue;
        if (dup == SIZE_MAX || idx[i] < dup) {
            dup = idx[i];
            first = idx[i - 1];
        }
    }
    free(idx);
    if (dup == SIZE_MAX)
        return 0;
    const ps_pair *d = &map->pairs[dup];
    return ps_fail(c, d->key, path, "duplicate field \"%s\" (first set at line %d)", d->name,
                   map->pairs[first].key->line);
}

int ps_expect_map(ps_ctx *c, const ps_node *n, const char *path)
{
    if (!n || (n->kind == PS_SCALAR && n->type == PS_T_NULL))
        return 0;
    if (n->kind != PS_MAP)
        return ps_fail(c, n, path, "cannot unmarshal %s into an object", ps_json_type(n));
    int r = check_duplicates(c, n, path);
    return r < 0 ? r : 1;
}

int ps_expect_seq(ps_ctx *c, const ps_node *n, const char *path)
{
    if (!n || (n->kind == PS_SCALAR && n->type == PS_T_NULL))
        return 0;
    if (n->kind != PS_SEQ)
        return ps_fail(c, n, path, "cannot unmarshal %s into an array", ps_json_type(n));
    return 1;
}

/* ---- field tables ------------------------------------------------------------------------ */

static bool is_default(const ps_node *v, const ps_field *f)
{
    if (ps_is_empty(v))
        return true;
    return f->default_text && v->kind == PS_SCALAR && v->type != PS_T_STR &&
           !strcmp(v->type == PS_T_BOOL ? (v->b ? "true" : "false") : v->str, f->default_text);
}

int ps_walk_object(ps_ctx *c, const ps_node *map, const char *path, const ps_field *fields,
                   size_t n_fields, void *obj, ps_field_fn fn)
{
    int r = ps_expect_map(c, map, path);
    if (r <= 0)
        return r;
    for (size_t i = 0; i < map->n_pairs; i++) {
        const ps_pair *pr = &map->pairs[i];
        const ps_field *f = NULL;
        for (size_t j = 0; j < n_fields && !f; j++)
            if (!strcmp(fields[j].name, pr->name))
                f = &fields[j];
        char p[PS_PATH_MAX];
        ps_path_field(p, path, pr->name);
        if (!f)
            return ps_fail(c, pr->key, p, "unknown field \"%s\"", pr->name);
        switch (f->cls) {
        case PS_F_HANDLED:
            c->key = pr->key;
            r = fn(c, obj, pr->name, pr->value, p);
            if (r < 0)
                return r;
            break;
        case PS_F_UNSUPPORTED:
            if (!is_default(pr->value, f))
                ps_unsupported(c, pr->key, p, NULL);
            break;
        case PS_F_IGNORED:
            if (!is_default(pr->value, f))
                ps_warn(c, pr->key, p, "ignored on a single node");
            break;
        case PS_F_SERVER_META:
            break;
        case PS_F_OUTPUT:
            if (!is_default(pr->value, f))
                ps_warn(c, pr->key, p, "ignored (set by the server, not by a manifest)");
            break;
        }
    }
    return 0;
}
