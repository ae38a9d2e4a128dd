/* cgroup_parse.c - which cgroup hierarchies exist and where this process sits in them, from the
 * texts of /proc/self/mountinfo and /proc/self/cgroup (no mount point is assumed). */
#include "cgroup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* v1 controllers we place pods in; cpuset is left out (a new cpuset cgroup needs cpus/mems
 * copied from its parent before it can hold a process). */
static const char *const wanted_v1[] = {"memory", "cpu", "cpuacct", "pids"};

typedef struct mount_ent {
    char *root, *point, *fstype, *super;
} mount_ent;

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

/* One mountinfo line: "id parent maj:min root point opts [optional...] - fstype source super". */
static bool parse_mount_line(char *line, mount_ent *m)
{
    char *f[8] = {0};
    int nf = 0;
    char *save = NULL;
    bool after_sep = false;
    int after = 0;
    char *fstype = NULL, *super = NULL;
    for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (after_sep) {
            if (after == 0)
                fstype = t;
            else if (after == 2)
                super = t;
            after++;
        } else if (nf >= 6 && strcmp(t, "-") == 0) {
            after_sep = true;
        } else if (nf < 8) {
            f[nf++] = t;
        }
    }
    if (nf < 6 || !fstype)
        return false;
    m->root = unescape(f[3]);
    m->point = unescape(f[4]);
    m->fstype = xstrdup(fstype);
    m->super = xstrdup(super ? super : "");
    return true;
}

static void mount_clear(mount_ent *m)
{
    free(m->root);
    free(m->point);
    free(m->fstype);
    free(m->super);
}

static void mounts_free(mount_ent *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mount_clear(&m[i]);
    free(m);
}

static mount_ent *parse_mounts(const char *text, size_t *n)
{
    cleanup_free char *copy = xstrdup(text);
    mount_ent *v = NULL;
    size_t cnt = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        mount_ent m;
        if (!parse_mount_line(line, &m))
            continue;
        if (strcmp(m.fstype, "cgroup") != 0 && strcmp(m.fstype, "cgroup2") != 0) {
            mount_clear(&m);
            continue;
        }
        v = xrealloc(v, (cnt + 1) * sizeof(*v));
        v[cnt++] = m;
    }
    *n = cnt;
    return v;
}

/* Does the comma list `set` contain every item of the comma list `items`? */
static bool list_has_all(const char *set, const char *items)
{
    cleanup_free char *copy = xstrdup(items);
    char *save = NULL;
    for (char *it = strtok_r(copy, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        size_t l = strlen(it);
        bool found = false;
        for (const char *p = set; p && *p;) {
            const char *c = strchr(p, ',');
            size_t pl = c ? (size_t)(c - p) : strlen(p);
            if (pl == l && strncmp(p, it, l) == 0) {
                found = true;
                break;
            }
            p = c ? c + 1 : NULL;
        }
        if (!found)
            return false;
    }
    return true;
}

static bool wants(const char *controllers)
{
    for (size_t i = 0; i < MK_ARRAY_LEN(wanted_v1); i++) {
        if (list_has_all(controllers, wanted_v1[i]))
            return true;
    }
    return false;
}

/* A mount of the hierarchy whose cgroup `own` is visible under it. */
static const mount_ent *find_mount(const mount_ent *m, size_t n, bool v2, const char *ctrls,
                                   const char *own)
{
    const mount_ent *fallback = NULL;
    for (size_t i = 0; i < n; i++) {
        if (v2 != (strcmp(m[i].fstype, "cgroup2") == 0))
            continue;
        if (!v2 && !list_has_all(m[i].super, ctrls))
            continue;
        size_t rl = strlen(m[i].root);
        bool under = strcmp(m[i].root, "/") == 0 ||
                     (strncmp(own, m[i].root, rl) == 0 && (own[rl] == '/' || own[rl] == '\0'));
        if (under)
            return &m[i];
        if (!fallback)
            fallback = &m[i];
    }
    return fallback;
}

static void add_hier(rt_cgroup_layout *l, const char *ctrls, const mount_ent *m, const char *own)
{
    l->h = xrealloc(l->h, (l->n + 1) * sizeof(*l->h));
    rt_cgroup_hier *h = &l->h[l->n++];
    h->controllers = xstrdup(ctrls);
    h->mount = xstrdup(m->point);
    h->mount_root = xstrdup(m->root);
    h->own = xstrdup(own);
}

/* One /proc/self/cgroup line "id:controllers:path" (the path may hold ':'). */
static bool split_cgroup_line(char *line, char **ctrls, char **path)
{
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return false;
    *c2 = '\0';
    *ctrls = c1 + 1;
    *path = c2 + 1;
    return true;
}

int rt_cgroup_parse_layout(const char *mountinfo, const char *proc_cgroup, rt_cgroup_layout *out,
                           mk_err *err)
{
    memset(out, 0, sizeof(*out));
    size_t nm = 0;
    mount_ent *m = parse_mounts(mountinfo, &nm);
    cleanup_free char *copy = xstrdup(proc_cgroup);
    char *save = NULL, *v2_own = NULL;
    bool has_v2_mount = false;
    for (size_t i = 0; i < nm; i++)
        has_v2_mount |= strcmp(m[i].fstype, "cgroup2") == 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *ctrls, *path;
        if (!split_cgroup_line(line, &ctrls, &path))
            continue;
        if (ctrls[0] == '\0') {
            v2_own = path;
            continue;
        }
        if (strncmp(ctrls, "name=", 5) == 0 || !wants(ctrls))
            continue;
        const mount_ent *me = find_mount(m, nm, false, ctrls, path);
        if (me)
            add_hier(out, ctrls, me, path);
    }
    if (out->n > 0) {
        out->mode = has_v2_mount ? RT_CGROUP_MODE_HYBRID : RT_CGROUP_MODE_V1;
    } else if (v2_own && has_v2_mount) {
        add_hier(out, "", find_mount(m, nm, true, "", v2_own), v2_own);
        out->mode = RT_CGROUP_MODE_V2;
    }
    mounts_free(m, nm);
    if (out->n == 0)
        return mk_errf(err, ENOTSUP,
                       "no usable cgroup hierarchy: neither v1 memory/cpu/pids controllers nor "
                       "a cgroup2 mount holding this process were found");
    return 0;
}

void rt_cgroup_layout_free(rt_cgroup_layout *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->h[i].controllers);
        free(l->h[i].mount);
        free(l->h[i].mount_root);
        free(l->h[i].own);
    }
    free(l->h);
    l->h = NULL;
    l->n = 0;
}

const char *rt_cgroup_mode_name(rt_cgroup_mode mode)
{
    switch (mode) {
    case RT_CGROUP_MODE_V1:
        return "v1";
    case RT_CGROUP_MODE_HYBRID:
        return "hybrid";
    case RT_CGROUP_MODE_V2:
        return "v2";
    }
    return "unknown";
}
