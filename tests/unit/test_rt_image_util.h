/* test_rt_image_util.h - build small image archives in a temp dir for the image store tests.
 *
 * Layers are described as arrays of tentry; OCI layouts and docker-archives are assembled from
 * them with libarchive, so the tests never depend on prebuilt files.
 */
#ifndef TEST_RT_IMAGE_UTIL_H
#define TEST_RT_IMAGE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"

enum { T_END = 0, T_FILE, T_DIR, T_LINK, T_HARD, T_FIFO, T_CHR };

typedef struct tentry {
    int type;
    const char *path;
    const char *data; /* file content, or link target */
    int mode;         /* 0: 0644 files, 0755 dirs */
    int uid, gid;
    const char *xattr_name, *xattr_value;
} tentry;

#define TFILE(p, d)                                                                                \
    {                                                                                              \
        .type = T_FILE, .path = (p), .data = (d)                                                   \
    }
#define TFILEM(p, d, m)                                                                            \
    {                                                                                              \
        .type = T_FILE, .path = (p), .data = (d), .mode = (m)                                      \
    }
#define TDIR(p)                                                                                    \
    {                                                                                              \
        .type = T_DIR, .path = (p)                                                                 \
    }
#define TSYM(p, t)                                                                                 \
    {                                                                                              \
        .type = T_LINK, .path = (p), .data = (t)                                                   \
    }
#define THARD(p, t)                                                                                \
    {                                                                                              \
        .type = T_HARD, .path = (p), .data = (t)                                                   \
    }
#define TEND                                                                                       \
    {                                                                                              \
        .type = T_END                                                                              \
    }

typedef struct tbuf {
    unsigned char *p;
    size_t len, cap;
} tbuf;

typedef struct tlayer {
    tbuf data;         /* as stored (maybe compressed) */
    char digest[72];   /* of data */
    char diff_id[72];  /* of the uncompressed tar */
    const char *media; /* OCI media type */
} tlayer;

enum { COMP_NONE = 0, COMP_GZIP, COMP_ZSTD };

static inline void tsha256(const void *p, size_t n, char *out)
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (int i = 0; i < 32; i++)
        sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static inline la_ssize_t tbuf_write(struct archive *a, void *ud, const void *p, size_t n)
{
    tbuf *b = ud;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 4096;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return (la_ssize_t)n;
}

static inline int tbuf_open(struct archive *a, void *ud)
{
    return ARCHIVE_OK;
}

static inline int tbuf_close(struct archive *a, void *ud)
{
    return ARCHIVE_OK;
}

static inline struct archive *tar_begin(tbuf *out, int comp)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (comp == COMP_GZIP)
        archive_write_add_filter_gzip(a);
    else if (comp == COMP_ZSTD)
        assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
    archive_write_set_bytes_in_last_block(a, 1);
    assert_int_equal(archive_write_open(a, out, tbuf_open, tbuf_write, tbuf_close), ARCHIVE_OK);
    return a;
}

static inline void tar_add(struct archive *a, const tentry *t)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, t->path);
    archive_entry_set_uid(e, t->uid);
    archive_entry_set_gid(e, t->gid);
    archive_entry_set_mtime(e, 1700000000, 0);
    size_t len = 0;
    switch (t->type) {
    case T_FILE:
        len = strlen(t->data ? t->data : "");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, t->mode ? t->mode : 0644);
        archive_entry_set_size(e, (la_int64_t)len);
        break;
    case T_DIR:
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, t->mode ? t->mode : 0755);
        break;
    case T_LINK:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_perm(e, 0777);
        archive_entry_set_symlink(e, t->data);
        break;
    case T_HARD:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_hardlink(e, t->data);
        break;
    case T_FIFO:
        archive_entry_set_filetype(e, AE_IFIFO);
        archive_entry_set_perm(e, t->mode ? t->mode : 0600);
        break;
    case T_CHR:
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_perm(e, t->mode ? t->mode : 0666);
        archive_entry_set_rdevmajor(e, 1);
        archive_entry_set_rdevminor(e, 3);
        break;
    }
    if (t->xattr_name)
        archive_entry_xattr_add_entry(e, t->xattr_name, t->xattr_value, strlen(t->xattr_value));
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (len)
        assert_int_equal(archive_write_data(a, t->data, len), (la_ssize_t)len);
    archive_entry_free(e);
}

static inline void tar_add_bytes(struct archive *a, const char *path, const void *p, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_size(e, (la_int64_t)n);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (n)
        assert_int_equal(archive_write_data(a, p, n), (la_ssize_t)n);
    archive_entry_free(e);
}

static inline void tar_end(struct archive *a)
{
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static inline void make_layer(const tentry *entries, int comp, tlayer *out)
{
    memset(out, 0, sizeof(*out));
    tbuf plain = {0};
    struct archive *a = tar_begin(&plain, COMP_NONE);
    for (const tentry *t = entries; t->type != T_END; t++)
        tar_add(a, t);
    tar_end(a);
    tsha256(plain.p, plain.len, out->diff_id);
    if (comp == COMP_NONE) {
        out->data = plain;
        out->media = "application/vnd.oci.image.layer.v1.tar";
    } else {
        /* compress the plain tar as a raw stream */
        struct archive *w = archive_write_new();
        archive_write_set_format_raw(w);
        if (comp == COMP_GZIP)
            archive_write_add_filter_gzip(w);
        else
            archive_write_add_filter_zstd(w);
        archive_write_set_bytes_per_block(w, 0);
        assert_int_equal(archive_write_open(w, &out->data, tbuf_open, tbuf_write, tbuf_close),
                         ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "layer");
        archive_entry_set_filetype(e, AE_IFREG);
        assert_int_equal(archive_write_header(w, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(w, plain.p, plain.len), (la_ssize_t)plain.len);
        archive_entry_free(e);
        tar_end(w);
        free(plain.p);
        out->media = comp == COMP_GZIP ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                       : "application/vnd.oci.image.layer.v1.tar+zstd";
    }
    tsha256(out->data.p, out->data.len, out->digest);
}

static inline void free_layers(tlayer *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].data.p);
}

/* image config JSON with the given diff ids */
static inline char *make_config(const tlayer *l, size_t n, const char *extra_config)
{
    char *ids = strdup("");
    for (size_t i = 0; i < n; i++) {
        char *t = NULL;
        assert_true(asprintf(&t, "%s%s\"%s\"", ids, i ? "," : "", l[i].diff_id) > 0);
        free(ids);
        ids = t;
    }
    char *cfg = NULL;
    assert_true(asprintf(&cfg,
                         "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{%s},"
                         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}",
                         extra_config ? extra_config : "", ids) > 0);
    free(ids);
    return cfg;
}

static inline void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* OCI image layout archive. `ref_name` (may be NULL) becomes the ref.name annotation.
 * `corrupt_layer` >= 0 flips a byte of that layer after its digest was taken. */
static inline void make_oci_archive(const char *path, const tlayer *l, size_t n, const char *cfg,
                                    const char *ref_name, int corrupt_layer, int outer_comp,
                                    char *manifest_digest_out)
{
    char cdigest[72], mdigest[72];
    tsha256(cfg, strlen(cfg), cdigest);
    char *layers = strdup("");
    for (size_t i = 0; i < n; i++) {
        char *t = NULL;
        assert_true(asprintf(&t, "%s%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}",
                             layers, i ? "," : "", l[i].media, l[i].digest, l[i].data.len) > 0);
        free(layers);
        layers = t;
    }
    char *man = NULL;
    assert_true(asprintf(&man,
                         "{\"schemaVersion\":2,\"mediaType\":\"application/"
                         "vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
                         "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                         "\"size\":%zu},\"layers\":[%s]}",
                         cdigest, strlen(cfg), layers) > 0);
    tsha256(man, strlen(man), mdigest);
    char *ann = NULL;
    if (ref_name)
        assert_true(asprintf(&ann,
                             ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}",
                             ref_name) > 0);
    char *index = NULL;
    assert_true(asprintf(&index,
                         "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                         "vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu%s}]}",
                         mdigest, strlen(man), ann ? ann : "") > 0);
    tbuf out = {0};
    struct archive *a = tar_begin(&out, outer_comp);
    const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
    tar_add_bytes(a, "oci-layout", layout, strlen(layout));
    tar_add_bytes(a, "index.json", index, strlen(index));
    char bp[128];
    snprintf(bp, sizeof(bp), "blobs/sha256/%s", mdigest + 7);
    tar_add_bytes(a, bp, man, strlen(man));
    snprintf(bp, sizeof(bp), "blobs/sha256/%s", cdigest + 7);
    tar_add_bytes(a, bp, cfg, strlen(cfg));
    for (size_t i = 0; i < n; i++) {
        snprintf(bp, sizeof(bp), "blobs/sha256/%s", l[i].digest + 7);
        unsigned char *copy = malloc(l[i].data.len);
        memcpy(copy, l[i].data.p, l[i].data.len);
        if ((int)i == corrupt_layer)
            copy[l[i].data.len / 2] ^= 0x55;
        tar_add_bytes(a, bp, copy, l[i].data.len);
        free(copy);
    }
    tar_end(a);
    write_file(path, out.p, out.len);
    free(out.p);
    free(layers);
    free(man);
    free(ann);
    free(index);
    if (manifest_digest_out)
        strcpy(manifest_digest_out, mdigest);
}

/* docker-archive ("docker save" layout). `repo_tag` may be NULL (RepoTags null). */
static inline void make_docker_archive(const char *path, const tlayer *l, size_t n, const char *cfg,
                                       const char *repo_tag, int corrupt_layer)
{
    char cdigest[72];
    tsha256(cfg, strlen(cfg), cdigest);
    char *layers = strdup("");
    for (size_t i = 0; i < n; i++) {
        char *t = NULL;
        assert_true(asprintf(&t, "%s%s\"%zu/layer.tar\"", layers, i ? "," : "", i) > 0);
        free(layers);
        layers = t;
    }
    char *tags = NULL;
    if (repo_tag)
        assert_true(asprintf(&tags, "[\"%s\"]", repo_tag) > 0);
    char *man = NULL;
    assert_true(asprintf(&man, "[{\"Config\":\"%s.json\",\"RepoTags\":%s,\"Layers\":[%s]}]",
                         cdigest + 7, tags ? tags : "null", layers) > 0);
    tbuf out = {0};
    struct archive *a = tar_begin(&out, COMP_NONE);
    char bp[128];
    snprintf(bp, sizeof(bp), "%s.json", cdigest + 7);
    tar_add_bytes(a, bp, cfg, strlen(cfg));
    for (size_t i = 0; i < n; i++) {
        snprintf(bp, sizeof(bp), "%zu/layer.tar", i);
        unsigned char *copy = malloc(l[i].data.len);
        memcpy(copy, l[i].data.p, l[i].data.len);
        if ((int)i == corrupt_layer)
            copy[512] ^= 0x55; /* first byte of the first file's data: still a tar */
        tar_add_bytes(a, bp, copy, l[i].data.len);
        free(copy);
    }
    tar_add_bytes(a, "manifest.json", man, strlen(man));
    const char *repos = "{}";
    tar_add_bytes(a, "repositories", repos, strlen(repos));
    tar_end(a);
    write_file(path, out.p, out.len);
    free(out.p);
    free(layers);
    free(tags);
    free(man);
}

/* ---- temp dirs ---------------------------------------------------------------------------- */

typedef struct tenv {
    char dir[64];
    char store_dir[128];
    rt_image_store *store;
} tenv;

static inline int tenv_setup(void **state)
{
    tenv *t = calloc(1, sizeof(*t));
    strcpy(t->dir, "/tmp/test_rt_image.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->store_dir, sizeof(t->store_dir), "%s/store", t->dir);
    mk_err err = {0};
    if (rt_image_store_open(t->store_dir, &t->store, &err) < 0)
        fail_msg("open: %s", err.msg);
    *state = t;
    return 0;
}

static inline int tenv_teardown(void **state)
{
    tenv *t = *state;
    rt_image_store_close(t->store);
    mk_err err = {0};
    mk_rm_rf(t->dir, &err);
    free(t);
    return 0;
}

static inline char *tpath(const tenv *t, const char *name)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", t->dir, name) > 0);
    return p;
}

/* number of entries in a directory, "." and ".." excluded */
static inline int count_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

#endif
