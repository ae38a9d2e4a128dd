/* cgroup.c - pod and container cgroups in our own subtree (see cgroup.h). */
#include "cgroup.h"
#include "image.h" /* rt_strv_free */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define V2_LEAF "agent" /* on v2 the agent moves itself into <own>/agent */

typedef struct cg_hier {
    char *controllers; /* v1 controller list; "" on v2 */
    char *dir;         /* absolute directory of our subtree */
    char *path;        /* the subtree as /proc/<pid>/cgroup shows it */
} cg_hier;

struct rt_cgroups {
    rt_cgroup_mode mode;
    cg_hier *h;
    size_t n;
};

static char *join(const char *a, const char *b)
{
    size_t al = strlen(a);
    while (al > 0 && a[al - 1] == '/')
        al--;
    while (*b == '/')
        b++;
    if (!*b)
        return xstrndup(al ? a : "/", al ? al : 1);
    return xasprintf("%.*s/%s", (int)al, a, b);
}

/* Relative names must stay inside the subtree. */
static bool rel_ok(const char *rel)
{
    if (!rel || !*rel || rel[0] == '/')
        return false;
    for (const char *p = rel; *p;) {
        const char *e = strchrnul(p, '/');
        size_t l = (size_t)(e - p);
        if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        p = *e ? e + 1 : e;
    }
    return true;
}

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t r;
    do {
        r = write(fd, s, strlen(s));
    } while (r < 0 && errno == EINTR);
    int e = r < 0 ? errno : 0;
    close(fd);
    return -e;
}

/* The directory of cgroup `cgpath` in a hierarchy mounted at `mount` showing `mount_root`. */
static char *cg_dir(const rt_cgroup_hier *h, const char *cgpath)
{
    size_t rl = strlen(h->mount_root);
    if (strcmp(h->mount_root, "/") != 0 && strncmp(cgpath, h->mount_root, rl) == 0 &&
        (cgpath[rl] == '/' || cgpath[rl] == '\0'))
        cgpath += rl;
    return join(h->mount, cgpath);
}

/* v2: switch on, in `dir`, the controllers we use that its parent hands down. Best effort. */
static void v2_enable(const char *dir)
{
    static const char *const want[] = {"memory", "pids", "cpu"};
    cleanup_free char *cpath = join(dir, "cgroup.controllers");
    cleanup_free char *avail = NULL;
    mk_err e;
    if (mk_read_file(cpath, 4096, &avail, NULL, &e) < 0)
        return;
    cleanup_free char *sc = join(dir, "cgroup.subtree_control");
    for (size_t i = 0; i < MK_ARRAY_LEN(want); i++) {
        size_t l = strlen(want[i]);
        bool have = false;
        for (char *p = avail; (p = strstr(p, want[i])); p += l) {
            if ((p == avail || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\n' || p[l] == '\0'))
                have = true;
        }
        if (!have)
            continue;
        char cmd[32];
        snprintf(cmd, sizeof(cmd), "+%s", want[i]);
        int r = write_str(sc, cmd);
        if (r < 0)
            mk_debug("cgroup: enabling %s in %s: %s", want[i], sc, strerror(-r));
    }
}

/* v2, default parent: leave the own cgroup free of processes by moving into <own>/agent. */
static int v2_move_self(const char *own_dir, mk_err *err)
{
    cleanup_free char *leaf = join(own_dir, V2_LEAF);
    if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
        return mk_errf_sys(err, errno, "create cgroup %s", leaf);
    cleanup_free char *procs = join(leaf, "cgroup.procs");
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    int r = write_str(procs, pid);
    if (r < 0)
        return mk_errf_sys(err, -r, "move the agent into %s", procs);
    return 0;
}

static void hier_free(cg_hier *h)
{
    free(h->controllers);
    free(h->dir);
    free(h->path);
}

void rt_cgroup_free(rt_cgroups *cg)
{
    if (!cg)
        return;
    for (size_t i = 0; i < cg->n; i++)
        hier_free(&cg->h[i]);
    free(cg->h);
    free(cg);
}

/* The parent cgroup path in one hierarchy: the override, or our own cgroup (the cgroup we left
 * on v2 if this process already sits in its <own>/agent leaf). */
static char *base_path(const rt_cgroup_layout *l, const rt_cgroup_hier *h, const char *root)
{
    if (root)
        return xstrdup(root);
    size_t ol = strlen(h->own), ll = strlen("/" V2_LEAF);
    if (l->mode == RT_CGROUP_MODE_V2 && ol >= ll && strcmp(h->own + ol - ll, "/" V2_LEAF) == 0)
        return ol == ll ? xstrdup("/") : xstrndup(h->own, ol - ll);
    return xstrdup(h->own);
}

static int setup_hier(rt_cgroups *cg, const rt_cgroup_layout *l, size_t i, const char *root,
                      const char *subtree, mk_err *err)
{
    const rt_cgroup_hier *lh = &l->h[i];
    cleanup_free char *base = base_path(l, lh, root);
    cleanup_free char *base_dir = cg_dir(lh, base);
    cg_hier *h = &cg->h[cg->n];
    h->controllers = xstrdup(lh->controllers);
    h->dir = join(base_dir, subtree);
    h->path = join(base, subtree);
    cg->n++;
    if (l->mode == RT_CGROUP_MODE_V2 && !root && strcmp(base, "/") != 0) {
        cleanup_free char *own_dir = cg_dir(lh, lh->own);
        if (strcmp(own_dir, base_dir) == 0) {
            int r = v2_move_self(base_dir, err);
            if (r < 0)
                return r;
        }
    }
    int r = mk_mkdir_p(h->dir, 0755, err);
    if (r < 0)
        return mk_err_wrap(err, "cgroup subtree");
    if (l->mode == RT_CGROUP_MODE_V2) {
        v2_enable(base_dir);
        v2_enable(h->dir);
    }
    return 0;
}

static int read_text(const char *path, char **out, mk_err *err)
{
    int r = mk_read_file(path, 1 << 20, out, NULL, err);
    if (r < 0)
        return mk_err_wrap(err, "detect cgroups");
    return 0;
}

static int check_names(const char *cgroup_root, const char *subtree, mk_err *err)
{
    if (cgroup_root && cgroup_root[0] != '/')
        return mk_errf(err, EINVAL, "cgroup root %s: must be an absolute cgroup path", cgroup_root);
    if (!subtree || !rel_ok(subtree) || strchr(subtree, '/'))
        return mk_errf(err, EINVAL, "cgroup subtree name %s: must be one path component",
                       subtree ? subtree : "(null)");
    return 0;
}

int rt_cgroup_init_layout(const rt_cgroup_layout *l, const char *cgroup_root, const char *subtree,
                          rt_cgroups **out, mk_err *err)
{
    int r = check_names(cgroup_root, subtree, err);
    if (r < 0)
        return r;
    rt_cgroups *cg = xcalloc(1, sizeof(*cg));
    cg->mode = l->mode;
    cg->h = xcalloc(l->n, sizeof(*cg->h));
    for (size_t i = 0; i < l->n && r >= 0; i++)
        r = setup_hier(cg, l, i, cgroup_root, subtree, err);
    if (r < 0) {
        rt_cgroup_free(cg);
        return r;
    }
    *out = cg;
    return 0;
}

int rt_cgroup_init(const char *cgroup_root, const char *subtree, rt_cgroups **out, mk_err *err)
{
    int r = check_names(cgroup_root, subtree, err);
    if (r < 0)
        return r;
    cleanup_free char *mi = NULL;
    cleanup_free char *pc = NULL;
    r = read_text("/proc/self/mountinfo", &mi, err);
    if (r >= 0)
        r = read_text("/proc/self/cgroup", &pc, err);
    if (r < 0)
        return r;
    rt_cgroup_layout l;
    r = rt_cgroup_parse_layout(mi, pc, &l, err);
    if (r < 0)
        return r;
    r = rt_cgroup_init_layout(&l, cgroup_root, subtree, out, err);
    rt_cgroup_layout_free(&l);
    if (r < 0)
        return r;
    mk_info("cgroups: %s, subtree %s (%zu hierarch%s)", rt_cgroup_mode_name((*out)->mode),
            (*out)->h[0].path, (*out)->n, (*out)->n == 1 ? "y" : "ies");
    return 0;
}

bool rt_cgroup_is_v2(const rt_cgroups *cg)
{
    return cg->mode == RT_CGROUP_MODE_V2;
}

size_t rt_cgroup_count(const rt_cgroups *cg)
{
    return cg->n;
}

char *rt_cgroup_dir(const rt_cgroups *cg, size_t i, const char *rel)
{
    if (i >= cg->n)
        return NULL;
    return rel ? join(cg->h[i].dir, rel) : xstrdup(cg->h[i].dir);
}

int rt_cgroup_create(rt_cgroups *cg, const char *rel, mk_err *err)
{
    if (!rel_ok(rel))
        return mk_errf(err, EINVAL, "cgroup %s: not a relative cgroup name", rel ? rel : "");
    for (size_t i = 0; i < cg->n; i++) {
        cleanup_free char *cur = xstrdup(cg->h[i].dir);
        for (const char *p = rel; *p;) {
            const char *e = strchrnul(p, '/');
            cleanup_free char *comp = xstrndup(p, (size_t)(e - p));
            char *next = join(cur, comp);
            free(cur);
            cur = next;
            if (mkdir(cur, 0755) < 0 && errno != EEXIST)
                return mk_errf_sys(err, errno, "create cgroup %s", cur);
            p = *e ? e + 1 : e;
            if (*p && cg->mode == RT_CGROUP_MODE_V2)
                v2_enable(cur);
        }
    }
    return 0;
}

char **rt_cgroup_procs_files(const rt_cgroups *cg, const char *rel)
{
    char **v = xcalloc(cg->n + 1, sizeof(*v));
    for (size_t i = 0; i < cg->n; i++) {
        cleanup_free char *d = join(cg->h[i].dir, rel ? rel : "");
        v[i] = join(d, "cgroup.procs");
    }
    return v;
}

char *rt_cgroup_display_path(const rt_cgroups *cg, const char *rel)
{
    size_t pick = 0;
    for (size_t i = 0; i < cg->n; i++) {
        if (strcmp(cg->h[i].controllers, "memory") == 0)
            pick = i;
    }
    return join(cg->h[pick].path, rel ? rel : "");
}

/* ---- walking a cgroup tree ---------------------------------------------------------------- */

#define MAX_DEPTH 16

typedef struct pidv {
    pid_t *v;
    size_t n, cap;
} pidv;

static int read_procs_at(int dfd, pidv *out)
{
    int fd = openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    FILE *f = fdopen(fd, "r");
    if (!f) {
        int e = errno;
        close(fd);
        return -e;
    }
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 16;
            out->v = xrealloc(out->v, out->cap * sizeof(*out->v));
        }
        out->v[out->n++] = (pid_t)pid;
    }
    int e = ferror(f) ? EIO : 0;
    fclose(f);
    return -e;
}

static bool is_subdir(int dfd, struct dirent *de)
{
    if (de->d_name[0] == '.')
        return false;
    if (de->d_type == DT_DIR)
        return true;
    if (de->d_type != DT_UNKNOWN)
        return false;
    struct stat st;
    return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Visit the cgroup `name` under dfd: children first when `post`, calling fn on each dir. */
typedef int (*walk_fn)(int parent, const char *name, int dfd, void *arg);

static int walk(int parent, const char *name, walk_fn fn, void *arg, int depth)
{
    int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -errno;
    if (depth >= MAX_DEPTH) {
        close(dfd);
        return -ELOOP;
    }
    int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        int e = errno;
        if (dup_fd >= 0)
            close(dup_fd);
        close(dfd);
        return -e;
    }
    int r = 0;
    struct dirent *de;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno)
                r = -errno;
            break;
        }
        if (is_subdir(dfd, de))
            r = walk(dfd, de->d_name, fn, arg, depth + 1);
        if (r < 0)
            break;
    }
    closedir(d);
    if (r >= 0)
        r = fn(parent, name, dfd, arg);
    close(dfd);
    return r;
}

static int collect_fn(int parent, const char *name, int dfd, void *arg)
{
    return read_procs_at(dfd, arg);
}

static int rmdir_fn(int parent, const char *name, int dfd, void *arg)
{
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int rt_cgroup_pids(const rt_cgroups *cg, const char *rel, pid_t **pids, size_t *n, mk_err *err)
{
    if (!rel_ok(rel))
        return mk_errf(err, EINVAL, "cgroup %s: not a relative cgroup name", rel ? rel : "");
    pidv v = {0};
    for (size_t i = 0; i < cg->n; i++) {
        cleanup_free char *dir = join(cg->h[i].dir, rel);
        int r = walk(AT_FDCWD, dir, collect_fn, &v, 0);
        if (r < 0) {
            free(v.v);
            return mk_errf_sys(err, -r, "list processes of cgroup %s", dir);
        }
    }
    /* a process sits in every v1 hierarchy: report each once */
    if (v.n > 1)
        qsort(v.v, v.n, sizeof(*v.v), cmp_pid);
    size_t u = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (u == 0 || v.v[u - 1] != v.v[i])
            v.v[u++] = v.v[i];
    }
    *pids = v.v;
    *n = u;
    return 0;
}

int rt_cgroup_remove(rt_cgroups *cg, const char *rel, mk_err *err)
{
    if (!rel_ok(rel))
        return mk_errf(err, EINVAL, "cgroup %s: not a relative cgroup name", rel ? rel : "");
    int first = 0;
    cleanup_free char *first_dir = NULL;
    for (size_t i = 0; i < cg->n; i++) {
        cleanup_free char *dir = join(cg->h[i].dir, rel);
        int r = walk(AT_FDCWD, dir, rmdir_fn, NULL, 0);
        if (r < 0 && first == 0) {
            first = r;
            first_dir = MK_STEAL(dir);
        }
    }
    if (first == -EBUSY)
        return mk_errf(err, EBUSY, "remove cgroup %s: processes are still running in it",
                       first_dir);
    if (first < 0)
        return mk_errf_sys(err, -first, "remove cgroup %s", first_dir);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rt_cgroup_list_pods(const rt_cgroups *cg, char ***names, mk_err *err)
{
    char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < cg->n; i++) {
        DIR *d = opendir(cg->h[i].dir);
        if (!d) {
            if (errno == ENOENT)
                continue;
            int e = errno;
            rt_strv_free(v);
            return mk_errf_sys(err, e, "list cgroup %s", cg->h[i].dir);
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strncmp(de->d_name, "pod-", 4) != 0 || !is_subdir(dirfd(d), de))
                continue;
            v = xrealloc(v, (n + 2) * sizeof(*v));
            v[n++] = xstrdup(de->d_name);
            v[n] = NULL;
        }
        closedir(d);
    }
    if (!v)
        v = xcalloc(1, sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u > 0 && strcmp(v[u - 1], v[i]) == 0)
            free(v[i]);
        else
            v[u++] = v[i];
    }
    v[u] = NULL;
    *names = v;
    return 0;
}
