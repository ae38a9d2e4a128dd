/* image_archive.c - read an image archive once into a staging directory, hashing every file.
 *
 * Image archives (OCI layout or docker-archive) are tars, maybe compressed, whose files refer to
 * each other by path. One sequential pass copies each regular file into the staging directory
 * (inside the store, so committing is a rename) and records its sha256; symlinks and hard links
 * are kept as aliases. The import then works on the staged files only.
 */
#include "image_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define COPY_BUF (64 * 1024)

static rt_img_entry *add_entry(rt_img_archive *a, const char *path)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->e = xrealloc(a->e, a->cap * sizeof(*a->e));
    }
    rt_img_entry *e = &a->e[a->n++];
    memset(e, 0, sizeof(*e));
    e->path = xstrdup(path);
    return e;
}

/* A symlink target, taken relative to the link's directory, as a clean archive path. */
static char *resolve_link(const char *link_path, const char *target)
{
    char buf[PATH_MAX];
    size_t o = 0;
    const char *slash = strrchr(link_path, '/');
    if (target[0] != '/' && slash) {
        o = (size_t)(slash - link_path);
        memcpy(buf, link_path, o);
    }
    for (const char *p = target; *p;) {
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (o == 0)
                return NULL; /* escapes the archive */
            char *up = memrchr(buf, '/', o);
            o = up ? (size_t)(up - buf) : 0;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + n + 2 > sizeof(buf))
                return NULL;
            if (o > 0)
                buf[o++] = '/';
            memcpy(buf + o, p, n);
            o += n;
        }
        p = *end ? end + 1 : end;
    }
    return xstrndup(buf, o);
}

/* blobs/sha256/<hex> already in the store: no need to copy it again */
static char *known_blob(const rt_image_store *s, const char *path)
{
    if (strncmp(path, "blobs/sha256/", 13) != 0 || !rt_img_is_hex64(path + 13))
        return NULL;
    char *p = xasprintf("%s/%s", s->blobs_dir, path + 13);
    struct stat st;
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
        return p;
    free(p);
    return NULL;
}

static int copy_out(rt_img_archive *a, struct archive *in, rt_img_entry *e, mk_err *err)
{
    e->file = xasprintf("%s/f%zu", a->stage, a->n);
    int fd = open(e->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return mk_errf_sys(err, errno, "create %s", e->file);
    rt_img_hash h;
    rt_img_hash_init(&h);
    char *buf = xmalloc(COPY_BUF);
    int r = 0;
    la_ssize_t n;
    while (r == 0 && (n = archive_read_data(in, buf, COPY_BUF)) > 0) {
        rt_img_hash_update(&h, buf, (size_t)n);
        e->size += n;
        for (la_ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                r = mk_errf_sys(err, errno, "write %s", e->file);
                break;
            }
            off += w;
        }
    }
    if (r == 0 && n < 0)
        r = mk_errf(err, EIO, "%s: %s: %s", a->name, e->path, archive_error_string(in));
    free(buf);
    if (r == 0)
        rt_img_hash_final(&h, e->digest);
    else
        rt_img_hash_abort(&h);
    if (close(fd) < 0 && r == 0)
        r = mk_errf_sys(err, errno, "close %s", e->file);
    return r;
}

static int stage_entry(const rt_image_store *s, rt_img_archive *a, struct archive *in,
                       struct archive_entry *ae, mk_err *err)
{
    char path[PATH_MAX];
    mk_err ignored;
    if (rt_img_clean_path(archive_entry_pathname(ae), path, sizeof(path), &ignored) < 0 || !path[0])
        return 0; /* names that cannot be referred to safely are never used */
    const char *hard = archive_entry_hardlink(ae);
    mode_t type = archive_entry_filetype(ae);
    if (hard) {
        char target[PATH_MAX];
        if (rt_img_clean_path(hard, target, sizeof(target), &ignored) == 0)
            add_entry(a, path)->link = xstrdup(target);
        return 0;
    }
    if (type == AE_IFLNK) {
        char *t = resolve_link(path, archive_entry_symlink(ae) ? archive_entry_symlink(ae) : "");
        if (t)
            add_entry(a, path)->link = t;
        return 0;
    }
    if (type != AE_IFREG)
        return 0;
    rt_img_entry *e = add_entry(a, path);
    char *blob = known_blob(s, path);
    if (blob) {
        e->file = blob;
        e->in_store = true;
        e->size = archive_entry_size(ae);
        snprintf(e->digest, sizeof(e->digest), "sha256:%.64s", path + 13);
        return 0;
    }
    return copy_out(a, in, e, err);
}

int rt_img_archive_stage(const rt_image_store *s, const char *archive, rt_img_archive *out,
                         mk_err *err)
{
    memset(out, 0, sizeof(*out));
    out->name = archive;
    out->stage = xasprintf("%s/import-%d-XXXXXX", s->tmp_dir, (int)getpid());
    if (!mkdtemp(out->stage)) {
        int e = errno;
        free(out->stage);
        out->stage = NULL;
        return mk_errf_sys(err, e, "create a staging directory in %s", s->tmp_dir);
    }
    struct archive *in = archive_read_new();
    if (!in)
        abort();
    archive_read_support_filter_all(in);
    archive_read_support_format_tar(in);
    int r = 0;
    if (archive_read_open_filename(in, archive, COPY_BUF) != ARCHIVE_OK) {
        int e = archive_errno(in);
        if (e <= 0 || e == EILSEQ) /* libarchive's "unrecognized format" */
            r = mk_errf(err, EINVAL, "%s: not a valid image archive (tar): %s", archive,
                        archive_error_string(in));
        else
            r = mk_errf(err, e, "%s: %s", archive, archive_error_string(in));
        goto out;
    }
    struct archive_entry *ae;
    int ar;
    while ((ar = archive_read_next_header(in, &ae)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
        r = stage_entry(s, out, in, ae, err);
        if (r < 0)
            goto out;
    }
    if (ar != ARCHIVE_EOF)
        r = mk_errf(err, EINVAL, "%s: not a valid image archive (tar): %s", archive,
                    archive_error_string(in));
    else if (out->n == 0)
        r = mk_errf(err, EINVAL, "%s: empty archive", archive);
out:
    archive_read_free(in);
    return r;
}

const rt_img_entry *rt_img_archive_find(const rt_img_archive *a, const char *path)
{
    char clean[PATH_MAX];
    mk_err ignored;
    if (rt_img_clean_path(path, clean, sizeof(clean), &ignored) < 0)
        return NULL;
    const char *want = clean;
    for (int hops = 0; hops < 16; hops++) {
        const rt_img_entry *hit = NULL;
        for (size_t i = a->n; i-- > 0;) /* a later entry with the same name wins */
            if (!strcmp(a->e[i].path, want)) {
                hit = &a->e[i];
                break;
            }
        if (!hit || !hit->link)
            return hit;
        want = hit->link;
    }
    return NULL;
}

int rt_img_archive_commit_blob(const rt_image_store *s, const rt_img_entry *e, mk_err *err)
{
    if (e->in_store)
        return 0;
    cleanup_free char *dst = rt_img_blob_path(s, e->digest);
    if (access(dst, F_OK) == 0)
        return 0;
    if (rename(e->file, dst) < 0)
        return mk_errf_sys(err, errno, "store blob %s", e->digest);
    return 0;
}

void rt_img_archive_free(rt_img_archive *a)
{
    if (a->stage) {
        mk_err e = {0};
        if (mk_rm_rf(a->stage, &e) < 0)
            mk_warn("image import: cannot remove staging directory: %s", e.msg);
    }
    for (size_t i = 0; i < a->n; i++) {
        free(a->e[i].path);
        free(a->e[i].file);
        free(a->e[i].link);
    }
    free(a->e);
    free(a->stage);
    memset(a, 0, sizeof(*a));
}
