/* ps_quantity.c - Kubernetes resource quantities ("500m", "1.5Gi", "2e3") and the API server's
 * checks on container resources (requests <= limits, standard names, non-negative values). */
#include "ps_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NANO      ((__int128)1000000000)
#define SATURATED ((__int128)1000000000000000000LL * (__int128)1000000000000000000LL)

enum { FMT_DECIMAL_SI = 0, FMT_BINARY_SI = 1, FMT_DECIMAL_EXP = 2 };

static const char quantity_regex_msg[] =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

static __int128 sat_mul(__int128 a, __int128 b)
{
    if (a == 0 || b == 0)
        return 0;
    if (a > SATURATED / b)
        return SATURATED;
    return a * b;
}

static __int128 pow10_sat(int e)
{
    __int128 v = 1;
    for (int i = 0; i < e; i++)
        v = sat_mul(v, 10);
    return v;
}

/* Suffix -> (base 10 exponent) or (base 1024 power). Returns false when unknown. */
static bool parse_suffix(const char *s, int *format, int *exp10, int *pow1024)
{
    static const char *bin[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    static const struct {
        const char *s;
        int e;
    } dec[] = {{"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
               {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
    *exp10 = 0;
    *pow1024 = 0;
    for (size_t i = 0; i < MK_ARRAY_LEN(bin); i++) {
        if (!strcmp(s, bin[i])) {
            *format = FMT_BINARY_SI;
            *pow1024 = (int)i + 1;
            return true;
        }
    }
    for (size_t i = 0; i < MK_ARRAY_LEN(dec); i++) {
        if (!strcmp(s, dec[i].s)) {
            *format = FMT_DECIMAL_SI;
            *exp10 = dec[i].e;
            return true;
        }
    }
    if (s[0] != 'e' && s[0] != 'E')
        return false;
    const char *d = s + 1 + (s[1] == '+' || s[1] == '-');
    if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 4)
        return false;
    *format = FMT_DECIMAL_EXP;
    *exp10 = atoi(s + 1);
    return true;
}

int ps_quantity_parse(const char *s, ps_quantity *q)
{
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    __int128 digits = 0;
    int frac = 0, n_digits = 0;
    bool dot = false;
    for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
        if (*s == '.') {
            if (dot)
                return -1;
            dot = true;
            continue;
        }
        n_digits++;
        if (digits < SATURATED / 10) {
            digits = digits * 10 + (*s - '0');
            frac += dot;
        } else if (!dot) {
            digits = SATURATED;
        }
    }
    int format, exp10, pow1024;
    if (n_digits == 0 || !parse_suffix(s, &format, &exp10, &pow1024))
        return -1;
    __int128 v = digits;
    for (int i = 0; i < pow1024; i++)
        v = sat_mul(v, 1024);
    int shift = 9 + exp10 - frac; /* nanos = v * 10^shift, rounded up */
    if (shift >= 0) {
        v = sat_mul(v, pow10_sat(shift));
    } else {
        __int128 div = shift < -38 ? SATURATED : pow10_sat(-shift);
        v = v / div + (v % div != 0);
    }
    q->nanos = neg ? -v : v;
    q->format = format;
    return 0;
}

static void format_int128(__int128 v, char *buf, size_t len)
{
    char tmp[64];
    size_t n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-v) : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u && n < sizeof(tmp) - 1);
    size_t o = 0;
    if (neg && o + 1 < len)
        buf[o++] = '-';
    while (n > 0 && o + 1 < len)
        buf[o++] = tmp[--n];
    buf[o] = '\0';
}

/* Canonical form, as Quantity.String() prints it: "1500m", "900Mi", "1G", "12e3". */
void ps_quantity_format(const ps_quantity *q, char *buf, size_t len)
{
    if (q->nanos == 0) {
        snprintf(buf, len, "0");
        return;
    }
    __int128 v = q->nanos, a = v < 0 ? -v : v;
    int format = q->format;
    if (format == FMT_BINARY_SI && (a < 1024 * NANO || a % NANO != 0))
        format = FMT_DECIMAL_SI;
    char num[64];
    if (format == FMT_BINARY_SI) {
        static const char *bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
        __int128 m = v / NANO;
        int k = 0;
        while (k < 6 && m % 1024 == 0) {
            m /= 1024;
            k++;
        }
        format_int128(m, num, sizeof(num));
        snprintf(buf, len, "%s%s", num, bin[k]);
        return;
    }
    __int128 m = v;
    int e = -9;
    while (e < 18 && m % 1000 == 0) {
        m /= 1000;
        e += 3;
    }
    format_int128(m, num, sizeof(num));
    if (format == FMT_DECIMAL_EXP) {
        if (e == 0)
            snprintf(buf, len, "%s", num);
        else
            snprintf(buf, len, "%se%d", num, e);
        return;
    }
    static const char *si[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    snprintf(buf, len, "%s%s", num, si[(e + 9) / 3]);
}

/* ---- container resources ----------------------------------------------------------------- */

typedef struct res_ent {
    const char *name;
    const ps_node *node;
    ps_quantity q;
} res_ent;

typedef struct res_list {
    res_ent *e;
    size_t n;
} res_list;

typedef struct resources {
    res_list limits, requests;
} resources;

static int read_quantity(ps_ctx *c, const ps_node *v, const char *path, ps_quantity *q)
{
    if (v->kind != PS_SCALAR || v->type == PS_T_BOOL || v->type == PS_T_NULL)
        return ps_fail(c, v, path,
                       "cannot unmarshal %s into a quantity (write it as \"500m\", "
                       "\"1Gi\", ...)",
                       ps_json_type(v));
    char num[64];
    const char *text = v->str;
    if (v->type == PS_T_INT) { /* 0x10 is the number 16 once converted to JSON */
        snprintf(num, sizeof(num), "%lld", (long long)v->i);
        text = num;
    }
    if (ps_quantity_parse(text, q) == 0)
        return 0;
    if (v->type == PS_T_FLOAT) {
        snprintf(num, sizeof(num), "%.17g", v->f);
        if (ps_quantity_parse(num, q) == 0)
            return 0;
    }
    return ps_fail(c, v, path, "%s", quantity_regex_msg);
}

static int res_field(ps_ctx *c, void *obj, const char *name, const ps_node *v, const char *path)
{
    resources *rs = obj;
    res_list *l = !strcmp(name, "limits") ? &rs->limits : &rs->requests;
    int r = ps_expect_map(c, v, path);
    if (r <= 0)
        return r;
    l->e = xcalloc(v->n_pairs, sizeof(*l->e));
    for (size_t i = 0; i < v->n_pairs; i++) {
        char p[PS_PATH_MAX];
        ps_path_key(p, path, v->pairs[i].name);
        res_ent *e = &l->e[l->n++];
        e->name = v->pairs[i].name;
        e->node = v->pairs[i].value;
        r = read_quantity(c, e->node, p, &e->q);
        if (r < 0)
            return r;
    }
    return 0;
}

static bool is_native(const char *name)
{
    return !strchr(name, '/') || strstr(name, "kubernetes.io/");
}

static bool overcommit_allowed(const char *name)
{
    return is_native(name) && strncmp(name, "hugepages-", 10) != 0;
}

/* The API server's checks on one resource name and value; returns false after deferring. */
static bool check_entry(ps_ctx *c, const res_ent *e, const char *list_path, bool pod_level)
{
    char p[PS_PATH_MAX], why[512], val[64];
    ps_path_key(p, list_path, e->name);
    const char *err = ps_qualified_name_error(e->name, why, sizeof(why));
    if (!err && !pod_level && !strchr(e->name, '/') && strcmp(e->name, "cpu") &&
        strcmp(e->name, "memory") && strcmp(e->name, "ephemeral-storage") &&
        strncmp(e->name, "hugepages-", 10))
        err = "must be a standard resource for containers";
    if (err) {
        ps_defer(c, e->node, p, "Invalid value: \"%s\": %s", e->name, err);
        return false;
    }
    ps_quantity_format(&e->q, val, sizeof(val));
    if (e->q.nanos < 0) {
        ps_defer(c, e->node, p, "Invalid value: \"%s\": must be greater than or equal to 0", val);
        return false;
    }
    if (!is_native(e->name) && e->q.nanos % NANO != 0) {
        ps_defer(c, e->node, p, "Invalid value: \"%s\": must be an integer", val);
        return false;
    }
    return true;
}

static const res_ent *find_ent(const res_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->e[i].name, name))
            return &l->e[i];
    return NULL;
}

static void check_requests(ps_ctx *c, const resources *rs, const char *path, bool pod_level)
{
    char lim_path[PS_PATH_MAX], req_path[PS_PATH_MAX];
    ps_path_field(lim_path, path, "limits");
    ps_path_field(req_path, path, "requests");
    for (size_t i = 0; i < rs->limits.n; i++)
        if (!check_entry(c, &rs->limits.e[i], lim_path, pod_level))
            return;
    for (size_t i = 0; i < rs->requests.n; i++) {
        const res_ent *req = &rs->requests.e[i];
        if (!check_entry(c, req, req_path, pod_level))
            return;
        const res_ent *lim = find_ent(&rs->limits, req->name);
        char rv[64], lv[64];
        ps_quantity_format(&req->q, rv, sizeof(rv));
        if (!lim) {
            if (!overcommit_allowed(req->name))
                ps_defer(c, req->node, lim_path,
                         "Required value: Limit must be set for non overcommitable resources");
            continue;
        }
        ps_quantity_format(&lim->q, lv, sizeof(lv));
        if (req->q.nanos != lim->q.nanos && !overcommit_allowed(req->name))
            ps_defer(c, req->node, req_path,
                     "Invalid value: \"%s\": must be equal to %s limit of %s", rv, req->name, lv);
        else if (req->q.nanos > lim->q.nanos)
            ps_defer(c, req->node, req_path,
                     "Invalid value: \"%s\": must be less than or equal to %s limit of %s", rv,
                     req->name, lv);
    }
}

static const ps_field resource_fields[] = {
    {"limits", PS_F_HANDLED, NULL},
    {"requests", PS_F_HANDLED, NULL},
    {"claims", PS_F_UNSUPPORTED, NULL},
};

int ps_check_resources(ps_ctx *c, const ps_node *n, const char *path, bool pod_level)
{
    const ps_node *key = c->key;
    resources rs = {0};
    int r =
        ps_walk_object(c, n, path, resource_fields, MK_ARRAY_LEN(resource_fields), &rs, res_field);
    if (r == 0) {
        check_requests(c, &rs, path, pod_level);
        if (rs.limits.n || rs.requests.n)
            ps_unsupported(c, key, path, NULL);
    }
    free(rs.limits.e);
    free(rs.requests.e);
    return r;
}
