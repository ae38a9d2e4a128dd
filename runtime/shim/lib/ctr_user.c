/* ctr_user.c - passwd/group parsing and user-string resolution for containers. */
#include "ctr_user.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One colon-separated line split in place into at most max fields (pointers into a copy). */
typedef struct line_fields {
    char buf[1024];
    const char *f[7];
    size_t n;
} line_fields;

/* Next line of text starting at *pos; false at the end. Lines over the buffer are skipped. */
static bool next_line(const char **pos, line_fields *lf)
{
    while (*pos && **pos) {
        const char *s = *pos;
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        *pos = e ? e + 1 : s + len;
        if (len == 0 || len >= sizeof(lf->buf) || s[0] == '#')
            continue;
        memcpy(lf->buf, s, len);
        lf->buf[len] = 0;
        lf->n = 0;
        char *p = lf->buf;
        while (lf->n < sizeof(lf->f) / sizeof(lf->f[0])) {
            lf->f[lf->n++] = p;
            char *c = strchr(p, ':');
            if (!c)
                break;
            *c = 0;
            p = c + 1;
        }
        return true;
    }
    return false;
}

int shim_ctr_parse_id(const char *s, size_t len, uint32_t *id)
{
    uint64_t v = 0;
    if (len == 0 || len > 10)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > SHIM_CTR_ID_MAX)
        return -EINVAL;
    *id = (uint32_t)v;
    return 0;
}

static int field_id(const char *s, uint32_t *id)
{
    return shim_ctr_parse_id(s, strlen(s), id);
}

typedef struct pw_entry {
    char name[256];
    uint32_t uid, gid;
    char home[256];
} pw_entry;

/* Finds the passwd entry whose name is `name`, or (when uid_ok) whose uid is `uid`. */
static bool passwd_find(const char *passwd, const char *name, bool uid_ok, uint32_t uid,
                        pw_entry *out)
{
    const char *pos = passwd;
    line_fields lf;
    while (next_line(&pos, &lf)) {
        uint32_t u, g;
        if (lf.n < 4 || field_id(lf.f[2], &u) < 0 || field_id(lf.f[3], &g) < 0)
            continue;
        if (strcmp(lf.f[0], name) != 0 && !(uid_ok && u == uid))
            continue;
        snprintf(out->name, sizeof(out->name), "%s", lf.f[0]);
        snprintf(out->home, sizeof(out->home), "%s", lf.n >= 6 && lf.f[5][0] ? lf.f[5] : "/");
        out->uid = u;
        out->gid = g;
        return true;
    }
    return false;
}

/* Finds a group by name, or by gid when gid_ok. */
static bool group_find(const char *group, const char *name, bool gid_ok, uint32_t gid,
                       uint32_t *out)
{
    const char *pos = group;
    line_fields lf;
    while (next_line(&pos, &lf)) {
        uint32_t g;
        if (lf.n < 3 || field_id(lf.f[2], &g) < 0)
            continue;
        if (strcmp(lf.f[0], name) == 0 || (gid_ok && g == gid)) {
            *out = g;
            return true;
        }
    }
    return false;
}

static void add_group(shim_ctr_user *u, uint32_t g)
{
    for (size_t i = 0; i < u->n_groups; i++)
        if (u->groups[i] == g)
            return;
    if (u->n_groups < SHIM_CTR_MAX_GROUPS)
        u->groups[u->n_groups++] = g;
}

static bool member_of(const char *members, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = members; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == nl && memcmp(p, name, nl) == 0)
            return true;
        p += l + (c ? 1 : 0);
    }
    return false;
}

static void add_member_groups(shim_ctr_user *u, const char *group, const char *name)
{
    const char *pos = group;
    line_fields lf;
    while (name[0] && next_line(&pos, &lf)) {
        uint32_t g;
        if (lf.n >= 4 && field_id(lf.f[2], &g) == 0 && member_of(lf.f[3], name))
            add_group(u, g);
    }
}

static int resolve_uid(const char *us, const char *passwd, shim_ctr_user *out, pw_entry *pw,
                       bool *have_pw, char *err, size_t errlen)
{
    uint32_t uid = 0;
    bool numeric = field_id(us, &uid) == 0;
    *have_pw = passwd && passwd_find(passwd, us, numeric, uid, pw);
    if (*have_pw) {
        out->uid = pw->uid;
        out->gid = pw->gid;
        snprintf(out->home, sizeof(out->home), "%s", pw->home);
        return 0;
    }
    if (!numeric) {
        bool digits = us[0] && strspn(us, "0123456789") == strlen(us);
        if (digits)
            snprintf(err, errlen, "uid %s out of range 0-%u", us, SHIM_CTR_ID_MAX);
        else
            snprintf(err, errlen, "unable to find user %s: no matching entries in passwd file", us);
        return digits ? -EINVAL : -ENOENT;
    }
    out->uid = uid;
    out->gid = 0;
    return 0;
}

static int resolve_gid(const char *gs, const char *group, shim_ctr_user *out, char *err,
                       size_t errlen)
{
    uint32_t gid = 0;
    bool numeric = field_id(gs, &gid) == 0;
    if (group && group_find(group, gs, numeric, gid, &out->gid))
        return 0;
    if (numeric) {
        out->gid = gid;
        return 0;
    }
    if (gs[0] && strspn(gs, "0123456789") == strlen(gs)) {
        snprintf(err, errlen, "gid %s out of range 0-%u", gs, SHIM_CTR_ID_MAX);
        return -EINVAL;
    }
    snprintf(err, errlen, "unable to find group %s: no matching entries in group file", gs);
    return -ENOENT;
}

int shim_ctr_user_resolve(const char *spec, const char *passwd, const char *group,
                          shim_ctr_user *out, char *err, size_t errlen)
{
    char us[256];
    memset(out, 0, sizeof(*out));
    snprintf(out->home, sizeof(out->home), "/");
    if (errlen)
        err[0] = 0;
    if (!spec || !spec[0])
        spec = "0";
    if (strlen(spec) >= sizeof(us)) {
        snprintf(err, errlen, "user %.32s...: too long", spec);
        return -EINVAL;
    }
    snprintf(us, sizeof(us), "%s", spec);
    char *gs = strchr(us, ':');
    if (gs)
        *gs++ = 0;
    const char *name = us[0] ? us : "0";
    if (gs && !gs[0]) {
        snprintf(err, errlen, "user %s: empty group", spec);
        return -EINVAL;
    }
    pw_entry pw;
    bool have_pw;
    int r = resolve_uid(name, passwd, out, &pw, &have_pw, err, errlen);
    if (r < 0)
        return r;
    if (gs)
        return resolve_gid(gs, group, out, err, errlen);
    add_group(out, out->gid);
    if (have_pw && group)
        add_member_groups(out, group, pw.name);
    return 0;
}

/* The first number after "Key:" in status text. */
static const char *status_line(const char *status, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = status; p && *p;) {
        if (strncmp(p, key, kl) == 0)
            return p + kl;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

static const char *next_num(const char *p, uint32_t *v)
{
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || shim_ctr_parse_id(p, n, v) < 0)
        return NULL;
    return p + n;
}

int shim_ctr_user_from_status(const char *status, shim_ctr_user *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->home, sizeof(out->home), "/");
    const char *u = status_line(status, "Uid:");
    const char *g = status_line(status, "Gid:");
    if (!u || !g || !next_num(u, &out->uid) || !next_num(g, &out->gid))
        return -EINVAL;
    const char *gr = status_line(status, "Groups:");
    uint32_t v;
    while (gr && (gr = next_num(gr, &v)) != NULL)
        add_group(out, v);
    return 0;
}
