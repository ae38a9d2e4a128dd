/* image_unpack.c - unpack one layer into its own directory, overlayfs style.
 *
 * The layer blob is decompressed by one libarchive reader (raw format, any filter: gzip, zstd,
 * none) whose output is hashed on its way into a second reader that parses the tar. The hash
 * must equal the layer's diff id.
 *
 * Entries are written with *at() calls relative to the layer directory. Every parent component
 * is opened with O_NOFOLLOW, one at a time, so nothing is ever written through a symlink, and
 * ".." or absolute names are refused: an entry cannot land outside the layer directory.
 * Hard links must point inside the layer too. OCI whiteouts become what overlayfs expects:
 * ".wh.<name>" is a 0/0 character device <name>, ".wh..wh..opq" sets trusted.overlay.opaque=y
 * on its directory. Overlay metadata xattrs found in the tar itself are dropped.
 */
#include "image_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define READ_BUF (64 * 1024)
#define WH       ".wh."
#define WH_OPQ   ".wh..wh..opq"

typedef struct dir_fixup {
    char *path; /* clean path inside the layer; "" is the layer root */
    mode_t mode;
    struct timespec mtime;
} dir_fixup;

typedef struct unpack_ctx {
    const char *dest;
    int root; /* O_DIRECTORY fd of dest */
    struct archive *outer;
    rt_img_hash hash;
    bool privileged; /* euid 0: chown and device nodes are expected to work */
    dir_fixup *dirs;
    size_t n_dirs, cap_dirs;
    char buf[READ_BUF];
} unpack_ctx;

/* ---- paths -------------------------------------------------------------------------------- */

/* Opens the directory holding `path` (clean, non-empty) without following any symlink,
 * creating missing directories (0755) when `create`. *base points into path. */
static int open_parent(unpack_ctx *c, const char *path, bool create, const char **base, mk_err *err)
{
    int fd = fcntl(c->root, F_DUPFD_CLOEXEC, 3);
    if (fd < 0)
        return mk_errf_sys(err, errno, "dup");
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        char comp[NAME_MAX + 1];
        size_t n = (size_t)(slash - p);
        if (n > NAME_MAX) {
            close(fd);
            return mk_errf(err, ENAMETOOLONG, "%s: name too long", path);
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                close(fd);
                return mk_errf_sys(err, e, "%s: mkdir %s", path, comp);
            }
            nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = errno;
        close(fd);
        if (nfd < 0 && (e == ELOOP || e == ENOTDIR))
            return mk_errf(err, EINVAL, "%s: parent %.*s is a symlink or not a directory", path,
                           (int)(slash - path), path);
        if (nfd < 0)
            return mk_errf_sys(err, e, "%s: open %.*s", path, (int)(slash - path), path);
        fd = nfd;
        p = slash + 1;
    }
    *base = p;
    return fd;
}

/* ---- attributes --------------------------------------------------------------------------- */

static int set_owner(unpack_ctx *c, int dirfd, const char *name, int fd, struct archive_entry *e,
                     mk_err *err)
{
    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    int r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
    if (r < 0 && (c->privileged || errno != EPERM))
        return mk_errf_sys(err, errno, "%s: chown %u:%u", archive_entry_pathname(e), uid, gid);
    return 0;
}

static void set_xattrs(int fd, struct archive_entry *e)
{
    const char *name;
    const void *val;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
        if (!strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13))
            continue; /* overlay metadata is ours to write, never the image's */
        if (fsetxattr(fd, name, val, size, 0) < 0)
            mk_debug("layer entry %s: xattr %s not kept: %s", archive_entry_pathname(e), name,
                     strerror(errno));
    }
}

static struct timespec entry_mtime(struct archive_entry *e)
{
    struct timespec ts = {.tv_sec = archive_entry_mtime(e), .tv_nsec = 0};
    if (archive_entry_mtime_is_set(e))
        ts.tv_nsec = archive_entry_mtime_nsec(e);
    return ts;
}

static void add_dir_fixup(unpack_ctx *c, const char *path, struct archive_entry *e)
{
    if (c->n_dirs == c->cap_dirs) {
        c->cap_dirs = c->cap_dirs ? c->cap_dirs * 2 : 64;
        c->dirs = xrealloc(c->dirs, c->cap_dirs * sizeof(*c->dirs));
    }
    c->dirs[c->n_dirs++] = (dir_fixup){
        .path = xstrdup(path), .mode = archive_entry_perm(e) & 07777, .mtime = entry_mtime(e)};
}

/* Directory modes and times last: creating children would change them. */
static int apply_dir_fixups(unpack_ctx *c, mk_err *err)
{
    for (size_t i = c->n_dirs; i-- > 0;) {
        dir_fixup *d = &c->dirs[i];
        int fd;
        if (d->path[0] == '\0') {
            fd = fcntl(c->root, F_DUPFD_CLOEXEC, 3);
        } else {
            const char *base;
            int pfd = open_parent(c, d->path, false, &base, err);
            if (pfd < 0)
                return pfd;
            fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(pfd);
        }
        if (fd < 0)
            return mk_errf_sys(err, errno, "%s: open directory", d->path);
        struct timespec ts[2] = {d->mtime, d->mtime};
        int r = fchmod(fd, d->mode) < 0 || futimens(fd, ts) < 0 ? -errno : 0;
        close(fd);
        if (r < 0)
            return mk_errf_sys(err, -r, "%s: set mode and time", d->path);
    }
    return 0;
}

/* ---- entries ------------------------------------------------------------------------------ */

/* Makes room for a new entry `name`: keeps an existing directory when the entry is one too,
 * removes anything else. */
static int clear_target(unpack_ctx *c, int dirfd, const char *name, const char *path, bool want_dir,
                        mk_err *err)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : mk_errf_sys(err, errno, "%s: stat", path);
    if (S_ISDIR(st.st_mode)) {
        if (want_dir)
            return 0;
        cleanup_free char *full = xasprintf("%s/%s", c->dest, path);
        return mk_rm_rf(full, err);
    }
    if (unlinkat(dirfd, name, 0) < 0)
        return mk_errf_sys(err, errno, "%s: unlink", path);
    return 0;
}

static int write_data(unpack_ctx *c, struct archive *in, int fd, struct archive_entry *e,
                      mk_err *err)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
        const char *p = buf;
        while (len > 0) {
            ssize_t w = pwrite(fd, p, len, (off_t)off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return mk_errf_sys(err, errno, "%s: write", archive_entry_pathname(e));
            p += w;
            off += w;
            len -= (size_t)w;
        }
    }
    if (r != ARCHIVE_EOF)
        return mk_errf(err, EIO, "%s: %s", archive_entry_pathname(e), archive_error_string(in));
    /* sparse tails */
    if (ftruncate(fd, (off_t)archive_entry_size(e)) < 0)
        return mk_errf_sys(err, errno, "%s: truncate", archive_entry_pathname(e));
    return 0;
}

static int make_regular(unpack_ctx *c, struct archive *in, int dirfd, const char *name,
                        struct archive_entry *e, mk_err *err)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return mk_errf_sys(err, errno, "%s: create", archive_entry_pathname(e));
    struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
    int r = write_data(c, in, fd, e, err);
    if (r == 0)
        r = set_owner(c, dirfd, name, fd, e, err);
    if (r == 0 && fchmod(fd, archive_entry_perm(e) & 07777) < 0)
        r = mk_errf_sys(err, errno, "%s: chmod", archive_entry_pathname(e));
    if (r == 0) {
        set_xattrs(fd, e);
        if (futimens(fd, ts) < 0)
            r = mk_errf_sys(err, errno, "%s: set time", archive_entry_pathname(e));
    }
    close(fd);
    return r;
}

static int make_dir(unpack_ctx *c, int dirfd, const char *name, const char *path,
                    struct archive_entry *e, mk_err *err)
{
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return mk_errf_sys(err, errno, "%s: mkdir", path);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return mk_errf_sys(err, errno, "%s: open directory", path);
    int r = set_owner(c, dirfd, name, fd, e, err);
    if (r == 0)
        set_xattrs(fd, e);
    close(fd);
    if (r == 0)
        add_dir_fixup(c, path, e);
    return r;
}

static int make_special(unpack_ctx *c, int dirfd, const char *name, const char *path,
                        struct archive_entry *e, mk_err *err)
{
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFSOCK)
        return 0; /* sockets are not content */
    dev_t dev =
        type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    if (mknodat(dirfd, name, type | (archive_entry_perm(e) & 07777), dev) < 0) {
        if (errno == EPERM && !c->privileged) {
            mk_warn("layer entry %s: device node skipped (needs root)", path);
            return 0;
        }
        return mk_errf_sys(err, errno, "%s: mknod", path);
    }
    int r = set_owner(c, dirfd, name, -1, e, err);
    if (r == 0 && fchmodat(dirfd, name, archive_entry_perm(e) & 07777, 0) < 0)
        r = mk_errf_sys(err, errno, "%s: chmod", path);
    struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
    if (r == 0 && utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        r = mk_errf_sys(err, errno, "%s: set time", path);
    return r;
}

static int make_symlink(unpack_ctx *c, int dirfd, const char *name, const char *path,
                        struct archive_entry *e, mk_err *err)
{
    const char *target = archive_entry_symlink(e);
    if (!target)
        return mk_errf(err, EINVAL, "%s: symlink without a target", path);
    if (symlinkat(target, dirfd, name) < 0)
        return mk_errf_sys(err, errno, "%s: symlink", path);
    int r = set_owner(c, dirfd, name, -1, e, err);
    struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
    if (r == 0 && utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
        r = mk_errf_sys(err, errno, "%s: set time", path);
    return r;
}

static int make_hardlink(unpack_ctx *c, int dirfd, const char *name, const char *path,
                         const char *target, mk_err *err)
{
    char tpath[PATH_MAX];
    int r = rt_img_clean_path(target, tpath, sizeof(tpath), err);
    if (r < 0)
        return mk_err_wrap(err, "%s: hard link", path);
    if (!tpath[0])
        return mk_errf(err, EINVAL, "%s: hard link to the layer root", path);
    const char *tbase;
    int tfd = open_parent(c, tpath, false, &tbase, err);
    if (tfd < 0)
        return mk_err_wrap(err, "%s: hard link", path);
    r = linkat(tfd, tbase, dirfd, name, 0);
    int e = errno;
    close(tfd);
    if (r < 0)
        return mk_errf_sys(err, e, "%s: hard link to %s", path, tpath);
    return 0;
}

static int make_whiteout(unpack_ctx *c, int dirfd, const char *base, const char *path,
                         struct archive_entry *e, mk_err *err)
{
    if (!strcmp(base, WH_OPQ)) {
        if (fsetxattr(dirfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
            return mk_errf_sys(err, errno,
                               "%s: cannot mark the directory opaque (trusted.overlay.opaque "
                               "needs CAP_SYS_ADMIN)",
                               path);
        return 0;
    }
    const char *name = base + strlen(WH);
    if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return mk_errf(err, EINVAL, "%s: invalid whiteout", path);
    int r = clear_target(c, dirfd, name, path, false, err);
    if (r < 0)
        return r;
    if (mknodat(dirfd, name, S_IFCHR, makedev(0, 0)) < 0)
        return mk_errf_sys(err, errno,
                           "%s: cannot create the overlay whiteout (a 0/0 character device "
                           "needs CAP_MKNOD)",
                           path);
    return set_owner(c, dirfd, name, -1, e, err);
}

static int apply_entry(unpack_ctx *c, struct archive *in, struct archive_entry *e, mk_err *err)
{
    char path[PATH_MAX];
    int r = rt_img_clean_path(archive_entry_pathname(e), path, sizeof(path), err);
    if (r < 0)
        return r;
    if (!path[0]) { /* the layer root itself */
        if (archive_entry_filetype(e) != AE_IFDIR)
            return mk_errf(err, EINVAL, "layer root entry is not a directory");
        r = set_owner(c, c->root, NULL, c->root, e, err);
        if (r == 0)
            add_dir_fixup(c, "", e);
        return r;
    }
    const char *base;
    int dirfd = open_parent(c, path, true, &base, err);
    if (dirfd < 0)
        return dirfd;
    const char *hard = archive_entry_hardlink(e);
    mode_t type = archive_entry_filetype(e);
    if (!strncmp(base, WH, strlen(WH)))
        r = make_whiteout(c, dirfd, base, path, e, err);
    else if ((r = clear_target(c, dirfd, base, path, !hard && type == AE_IFDIR, err)) < 0)
        ;
    else if (hard)
        r = make_hardlink(c, dirfd, base, path, hard, err);
    else if (type == AE_IFREG)
        r = make_regular(c, in, dirfd, base, e, err);
    else if (type == AE_IFDIR)
        r = make_dir(c, dirfd, base, path, e, err);
    else if (type == AE_IFLNK)
        r = make_symlink(c, dirfd, base, path, e, err);
    else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK)
        r = make_special(c, dirfd, base, path, e, err);
    else
        r = mk_errf(err, EINVAL, "%s: unsupported entry type 0%o", path, (unsigned)type);
    close(dirfd);
    return r;
}

/* ---- streams ------------------------------------------------------------------------------ */

static la_ssize_t inner_read(struct archive *a, void *ud, const void **buf)
{
    unpack_ctx *c = ud;
    la_ssize_t n = archive_read_data(c->outer, c->buf, sizeof(c->buf));
    if (n < 0) {
        archive_set_error(a, EIO, "decompress: %s", archive_error_string(c->outer));
        return -1;
    }
    rt_img_hash_update(&c->hash, c->buf, (size_t)n);
    *buf = c->buf;
    return n;
}

static int open_outer(unpack_ctx *c, const char *blob, mk_err *err)
{
    c->outer = archive_read_new();
    if (!c->outer)
        abort();
    archive_read_support_filter_all(c->outer);
    archive_read_support_format_raw(c->outer);
    struct archive_entry *e;
    if (archive_read_open_filename(c->outer, blob, READ_BUF) != ARCHIVE_OK ||
        archive_read_next_header(c->outer, &e) != ARCHIVE_OK)
        return mk_errf(err, EIO, "read %s: %s", blob, archive_error_string(c->outer));
    return 0;
}

static int extract_all(unpack_ctx *c, const char *blob, mk_err *err)
{
    struct archive *in = archive_read_new();
    if (!in)
        abort();
    archive_read_support_format_tar(in);
    int r = 0;
    if (archive_read_open(in, c, NULL, inner_read, NULL) != ARCHIVE_OK) {
        r = mk_errf(err, EINVAL, "not a tar layer: %s", archive_error_string(in));
        goto out;
    }
    struct archive_entry *e;
    int ar;
    while ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
        r = apply_entry(c, in, e, err);
        if (r < 0)
            goto out;
    }
    if (ar != ARCHIVE_EOF) {
        r = mk_errf(err, EINVAL, "corrupt tar layer: %s", archive_error_string(in));
        goto out;
    }
    /* whatever follows the end-of-archive blocks is part of the diff id too */
    la_ssize_t n;
    while ((n = archive_read_data(c->outer, c->buf, sizeof(c->buf))) > 0)
        rt_img_hash_update(&c->hash, c->buf, (size_t)n);
    if (n < 0)
        r = mk_errf(err, EIO, "decompress: %s", archive_error_string(c->outer));
out:
    archive_read_free(in);
    return r;
}

int rt_img_unpack_layer(const char *blob, const char *diff_id, const char *dest, mk_err *err)
{
    unpack_ctx *c = xcalloc(1, sizeof(*c));
    c->dest = dest;
    c->root = -1;
    c->privileged = geteuid() == 0;
    rt_img_hash_init(&c->hash);
    int r = 0;
    bool created = false;
    if (mkdir(dest, 0755) < 0) {
        r = mk_errf_sys(err, errno, "mkdir %s", dest);
    } else {
        created = true;
        c->root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (c->root < 0)
            r = mk_errf_sys(err, errno, "open %s", dest);
    }
    if (r == 0)
        r = open_outer(c, blob, err);
    if (r == 0)
        r = extract_all(c, blob, err);
    if (r == 0)
        r = apply_dir_fixups(c, err);
    char got[RT_IMG_DIGEST_LEN + 1];
    rt_img_hash_final(&c->hash, got);
    if (r == 0 && strcmp(got, diff_id) != 0)
        r = mk_errf(err, EINVAL,
                    "wrong diff id: the image config says %s, the uncompressed layer hashes to %s",
                    diff_id, got);
    if (c->outer)
        archive_read_free(c->outer);
    if (c->root >= 0)
        close(c->root);
    for (size_t i = 0; i < c->n_dirs; i++)
        free(c->dirs[i].path);
    free(c->dirs);
    free(c);
    if (r < 0 && created) {
        mk_err e2 = {0};
        if (mk_rm_rf(dest, &e2) < 0)
            mk_warn("cannot remove partly unpacked layer: %s", e2.msg);
    }
    return r;
}
