/* ctr_resolve.c - path resolution confined to a root directory fd. */
#include "ctr_resolve.h"
#include "shim_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SYMLINKS 40

static void close_keep_errno(int fd)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
}

static bool same_inode(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Opens the last component `name` in directory cur (not a symlink, or O_NOFOLLOW asked). */
static int open_last(int cur, const char *name, int flags, mode_t mode)
{
    int fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    return fd < 0 ? -errno : fd;
}

/* Replaces rest with target + "/" + next (next may be empty). */
static int splice_link(char *rest, size_t size, const char *target, const char *next)
{
    char tmp[PATH_MAX * 2];
    int w = snprintf(tmp, sizeof(tmp), "%s%s%s", target, next[0] ? "/" : "", next);
    if (w < 0 || (size_t)w >= size)
        return -ENAMETOOLONG;
    memcpy(rest, tmp, (size_t)w + 1);
    return 0;
}

typedef struct walk {
    int root, cur, links;
    char rest[PATH_MAX * 2];
} walk;

/* Continues the walk with next as the remaining path. Returns 1 (continue). */
static int set_rest(walk *w, const char *next)
{
    snprintf(w->rest, sizeof(w->rest), "%s", next);
    return 1;
}

/* Handles one symlink found at component fd: restarts the walk at its target. */
static int follow(walk *w, int fd, const char *next)
{
    char target[PATH_MAX];
    if (++w->links > MAX_SYMLINKS)
        return -ELOOP;
    ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
    if (n < 0)
        return -errno;
    target[n] = 0;
    if (target[0] == '/') {
        int r = openat(w->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r < 0)
            return -errno;
        close(w->cur);
        w->cur = r;
    }
    return splice_link(w->rest, sizeof(w->rest), target, next);
}

/* Steps cur to its parent, never above the root. */
static int step_up(walk *w)
{
    if (same_inode(w->cur, w->root))
        return 0;
    int up = openat(w->cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (up < 0)
        return -errno;
    close(w->cur);
    w->cur = up;
    return 0;
}

/* One component. Returns 1 to go on, 0 when done (the result, fd or -errno, in *out), or a
 * negative errno. */
static int walk_one(walk *w, char *comp, char *next, bool last, int flags, mode_t mode, int *out)
{
    if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
        int r = comp[1] ? step_up(w) : 0;
        if (r < 0)
            return r;
        if (!last)
            return set_rest(w, next);
        *out = open_last(w->cur, ".", flags & ~(O_CREAT | O_EXCL), mode);
        return 0;
    }
    int fd = openat(w->cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && last && (flags & O_CREAT)) {
            *out = open_last(w->cur, comp, flags, mode);
            return 0;
        }
        return -errno;
    }
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    if (r == 0 && S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
        r = follow(w, fd, last ? "" : next);
        close(fd);
        return r < 0 ? r : 1;
    }
    if (r == 0 && last) {
        close(fd);
        *out = open_last(w->cur, comp, flags, mode);
        return 0;
    }
    if (r == 0 && !S_ISDIR(st.st_mode))
        r = -ENOTDIR;
    if (r < 0) {
        close(fd);
        return r;
    }
    close(w->cur);
    w->cur = fd;
    return set_rest(w, next);
}

int shim_ctr_open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode)
{
    walk w = {.root = rootfd, .links = 0};
    if (strlen(path) >= sizeof(w.rest))
        return -ENAMETOOLONG;
    snprintf(w.rest, sizeof(w.rest), "%s", path);
    w.cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (w.cur < 0)
        return -errno;
    for (;;) {
        char *p = w.rest;
        while (*p == '/')
            p++;
        if (!*p) {
            int fd = open_last(w.cur, ".", flags & ~(O_CREAT | O_EXCL), mode);
            close_keep_errno(w.cur);
            return fd;
        }
        char comp[NAME_MAX + 1], next[PATH_MAX * 2];
        size_t cl = strcspn(p, "/");
        if (cl > NAME_MAX) {
            close(w.cur);
            return -ENAMETOOLONG;
        }
        memcpy(comp, p, cl);
        comp[cl] = 0;
        snprintf(next, sizeof(next), "%s", p + cl);
        bool last = strspn(next, "/") == strlen(next);
        int fd = -1;
        int r = walk_one(&w, comp, next, last, flags, mode, &fd);
        if (r <= 0) {
            close(w.cur);
            return r < 0 ? r : fd;
        }
    }
}

int shim_ctr_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
    shim_open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = SHIM_RESOLVE_IN_ROOT | SHIM_RESOLVE_NO_MAGICLINKS,
    };
    for (;;) {
        int fd = shim_sys_openat2(rootfd, path, &how);
        if (fd >= 0)
            return fd;
        if (errno == EINTR)
            continue;
        if (errno == ENOSYS || errno == EPERM)
            return shim_ctr_open_in_root_walk(rootfd, path, flags, mode);
        /* the kernel may ask for a retry when a rename raced with the lookup */
        if (errno == EAGAIN)
            continue;
        return -errno;
    }
}

/* The parent directory part of path into out ("" for a single component). */
static void split_parent(const char *path, char *out, size_t size, const char **base)
{
    size_t l = strlen(path);
    while (l > 1 && path[l - 1] == '/')
        l--;
    size_t b = l;
    while (b > 0 && path[b - 1] != '/')
        b--;
    snprintf(out, size, "%.*s", (int)b, path);
    *base = path + b;
}

int shim_ctr_mkdir_in_root(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid)
{
    char prefix[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(prefix))
        return -ENAMETOOLONG;
    int parent = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return -errno;
    for (size_t i = 0; i < len;) {
        while (path[i] == '/')
            i++;
        if (i >= len)
            break;
        size_t e = i + strcspn(path + i, "/");
        memcpy(prefix, path, e);
        prefix[e] = 0;
        int fd = shim_ctr_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
        if (fd == -ENOENT) {
            char comp[NAME_MAX + 1];
            snprintf(comp, sizeof(comp), "%.*s", (int)(e - i), path + i);
            bool made = mkdirat(parent, comp, mode) == 0;
            if (!made && errno != EEXIST) {
                fd = -errno;
            } else {
                fd = shim_ctr_open_in_root(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
                if (made && fd >= 0 && uid != (uid_t)-1 &&
                    fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0)
                    fd = (close(fd), -errno);
            }
        }
        close(parent);
        if (fd < 0)
            return fd;
        parent = fd;
        i = e;
    }
    return parent;
}

/* When the last component of path is a symlink, the path it points to (relative links taken
 * from path's directory) in out; 0, or -EINVAL when it is not a symlink. */
static int link_target(int rootfd, const char *path, char *out, size_t size)
{
    char dir[PATH_MAX], target[PATH_MAX];
    const char *base;
    split_parent(path, dir, sizeof(dir), &base);
    int d = shim_ctr_open_in_root(rootfd, dir[0] ? dir : "/", O_PATH | O_DIRECTORY, 0);
    if (d < 0)
        return d;
    ssize_t n = readlinkat(d, base, target, sizeof(target) - 1);
    int e = errno;
    close(d);
    if (n < 0)
        return -e;
    target[n] = 0;
    int w = target[0] == '/' ? snprintf(out, size, "%s", target)
                             : snprintf(out, size, "%s/%s", dir[0] ? dir : "/", target);
    return w < 0 || (size_t)w >= size ? -ENAMETOOLONG : 0;
}

int shim_ctr_mkfile_in_root(int rootfd, const char *path)
{
    const int fl = O_RDONLY | O_CREAT | O_NONBLOCK | O_NOCTTY;
    char cur[PATH_MAX], next[PATH_MAX];
    if (snprintf(cur, sizeof(cur), "%s", path) >= (int)sizeof(cur))
        return -ENAMETOOLONG;
    int fd = shim_ctr_open_in_root(rootfd, cur, fl, 0644);
    /* a missing directory on the way, possibly behind a dangling symlink such as
     * /etc/resolv.conf -> ../run/resolv.conf: create it inside the root, as runc does */
    for (int hops = 0; fd == -ENOENT && hops <= MAX_SYMLINKS; hops++) {
        char dir[PATH_MAX];
        const char *base;
        split_parent(cur, dir, sizeof(dir), &base);
        int d = shim_ctr_mkdir_in_root(rootfd, dir, 0755, (uid_t)-1, (gid_t)-1);
        if (d < 0)
            return d;
        close(d);
        fd = shim_ctr_open_in_root(rootfd, cur, fl, 0644);
        if (fd != -ENOENT || link_target(rootfd, cur, next, sizeof(next)) < 0)
            break;
        memcpy(cur, next, sizeof(cur));
    }
    if (fd < 0)
        return fd;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : (S_ISREG(st.st_mode) ? 0 : -EINVAL);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}
