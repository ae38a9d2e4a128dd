/* image_import.c - import OCI layout and docker-archive files into the store.
 *
 * An import is a transaction: stage the archive (image_archive.c), plan every image in it from
 * its index/manifest/config, verifying every digest, unpack the layers the store lacks into the
 * staging directory, and only then, under the store lock, move blobs and layers into place and
 * write refs.json. A failure at any step leaves the store as it was.
 *
 * OCI layout: index.json lists manifests (nested indexes are followed to the linux/<host arch>
 * entry). Names come from the descriptor annotations io.containerd.image.name (a full
 * reference) or org.opencontainers.image.ref.name; a bare ref.name such as "latest" is a tag for
 * `default_name` when one is given, anything else is parsed as a reference.
 * docker-archive: manifest.json lists Config, RepoTags and Layers; the store keeps a Docker
 * schema 2 manifest made from them, so the image gets a stable repo digest.
 */
#include "image_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MT_OCI_INDEX    "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST  "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIF "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CFG   "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#elif defined(__arm__)
#define HOST_ARCH "arm"
#elif defined(__i386__)
#define HOST_ARCH "386"
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_ARCH "riscv64"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ARCH "ppc64le"
#elif defined(__s390x__)
#define HOST_ARCH "s390x"
#else
#define HOST_ARCH "unknown"
#endif

typedef struct plan_layer {
    const rt_img_entry *blob;
    char diff_id[RT_IMG_DIGEST_LEN + 1];
    char chain[RT_IMG_DIGEST_LEN + 1];
    char *staged; /* unpacked by this import into the staging dir; NULL when not needed */
} plan_layer;

typedef struct plan_image {
    char **names;
    size_t n_names;
    const rt_img_entry *manifest; /* OCI: the manifest blob in the archive */
    char *made_manifest;          /* docker-archive: the manifest made for it */
    char manifest_digest[RT_IMG_DIGEST_LEN + 1];
    const rt_img_entry *config;
    plan_layer *layers;
    size_t n_layers;
} plan_image;

typedef struct plan {
    const rt_image_store *s;
    rt_img_archive a;
    const char *default_name;
    plan_image *img;
    size_t n;
} plan;

static const char *jstr(const cJSON *o, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static plan_image *add_image(plan *p)
{
    p->img = xrealloc(p->img, (p->n + 1) * sizeof(*p->img));
    plan_image *pi = &p->img[p->n++];
    memset(pi, 0, sizeof(*pi));
    return pi;
}

static int add_name(plan *p, plan_image *pi, const char *raw, mk_err *err)
{
    rt_image_ref ref;
    int r = rt_image_ref_parse(raw, &ref, err);
    if (r < 0)
        return mk_err_wrap(err, "%s: image name", p->a.name);
    pi->names = xrealloc(pi->names, (pi->n_names + 1) * sizeof(char *));
    pi->names[pi->n_names++] = MK_STEAL(ref.full);
    rt_image_ref_free(&ref);
    return 0;
}

static int add_default_name(plan *p, plan_image *pi, const char *tag, mk_err *err)
{
    if (!p->default_name)
        return mk_errf(err, EINVAL, "%s: the image has no name: give one to import it", p->a.name);
    if (!tag)
        return add_name(p, pi, p->default_name, err);
    rt_image_ref ref;
    int r = rt_image_ref_parse(p->default_name, &ref, err);
    if (r < 0)
        return r;
    cleanup_free char *n = xasprintf("%s/%s:%s", ref.domain, ref.path, tag);
    rt_image_ref_free(&ref);
    return add_name(p, pi, n, err);
}

static int read_entry_json(plan *p, const rt_img_entry *e, cJSON **out, mk_err *err)
{
    int r = rt_img_read_json(e->file, out, err);
    return r < 0 ? mk_errf(err, -r, "%s: %s: not valid JSON", p->a.name, e->path) : 0;
}

/* The blob a descriptor points at, with its digest and size checked. */
static int desc_blob(plan *p, const cJSON *desc, const rt_img_entry **out, mk_err *err)
{
    const char *digest = jstr(desc, "digest");
    if (!rt_img_digest_valid(digest))
        return mk_errf(err, EINVAL, "%s: descriptor with an invalid or unsupported digest \"%s\"",
                       p->a.name, digest ? digest : "");
    cleanup_free char *path = xasprintf("blobs/sha256/%s", digest + 7);
    const rt_img_entry *e = rt_img_archive_find(&p->a, path);
    if (!e)
        return mk_errf(err, ENOENT, "%s: blob %s is missing from the archive", p->a.name, digest);
    if (strcmp(e->digest, digest) != 0)
        return mk_errf(err, EINVAL, "%s: blob %s: digest mismatch (its content hashes to %s)",
                       p->a.name, digest, e->digest);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(desc, "size");
    /* compared as doubles: any value, however large or fractional, is a fair mismatch */
    if (cJSON_IsNumber(size) && size->valuedouble != (double)e->size)
        return mk_errf(err, EINVAL, "%s: blob %s: size %lld, the descriptor says %.15g", p->a.name,
                       digest, (long long)e->size, size->valuedouble);
    *out = e;
    return 0;
}

/* Reads the config, checks it against the layer blobs and computes chain ids. */
static int plan_config(plan *p, plan_image *pi, const rt_img_entry **blobs, size_t n, mk_err *err)
{
    cJSON *cfg = NULL;
    int r = read_entry_json(p, pi->config, &cfg, err);
    if (r < 0)
        return r;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cfg, "rootfs"), "diff_ids");
    int n_ids = cJSON_GetArraySize(ids);
    if ((size_t)n_ids != n) {
        cJSON_Delete(cfg); /* ids belongs to cfg: counted before */
        return mk_errf(err, EINVAL, "%s: image config %s lists %d diff ids for %zu layers",
                       p->a.name, pi->config->digest, n_ids, n);
    }
    pi->layers = xcalloc(n + 1, sizeof(plan_layer));
    pi->n_layers = n;
    for (size_t i = 0; i < n; i++) {
        const char *id = cJSON_GetStringValue(cJSON_GetArrayItem(ids, (int)i));
        if (!rt_img_digest_valid(id)) {
            cJSON_Delete(cfg);
            return mk_errf(err, EINVAL, "%s: image config: invalid diff id %zu", p->a.name, i);
        }
        pi->layers[i].blob = blobs[i];
        memcpy(pi->layers[i].diff_id, id, RT_IMG_DIGEST_LEN + 1);
        rt_img_chain_id(i ? pi->layers[i - 1].chain : NULL, id, pi->layers[i].chain);
    }
    cJSON_Delete(cfg);
    return 0;
}

static bool layer_type_ok(const char *mt)
{
    static const char *const ok[] = {
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    };
    for (size_t i = 0; mt && i < MK_ARRAY_LEN(ok); i++)
        if (!strcmp(mt, ok[i]))
            return true;
    return false;
}

/* One OCI (or Docker schema 2) image manifest. `names_desc` carries the name annotations. */
static int oci_image(plan *p, const cJSON *mdesc, const cJSON *names_desc, mk_err *err)
{
    const rt_img_entry *me;
    int r = desc_blob(p, mdesc, &me, err);
    if (r < 0)
        return r;
    cJSON *m = NULL;
    if ((r = read_entry_json(p, me, &m, err)) < 0)
        return r;
    const cJSON *cdesc = cJSON_GetObjectItemCaseSensitive(m, "config");
    const char *cmt = jstr(cdesc, "mediaType");
    if (cmt && strcmp(cmt, MT_OCI_CONFIG) != 0 && strcmp(cmt, MT_DOCKER_CFG) != 0) {
        mk_info("%s: manifest %s is not an image (config type %s): skipped", p->a.name, me->digest,
                cmt);
        cJSON_Delete(m);
        return 0;
    }
    plan_image *pi = add_image(p);
    pi->manifest = me;
    memcpy(pi->manifest_digest, me->digest, sizeof(pi->manifest_digest));
    r = desc_blob(p, cdesc, &pi->config, err);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(m, "layers");
    size_t n = (size_t)cJSON_GetArraySize(layers), i = 0;
    const rt_img_entry **blobs = xcalloc(n + 1, sizeof(*blobs));
    const cJSON *l;
    cJSON_ArrayForEach(l, layers)
    {
        if (r < 0)
            break;
        if (!layer_type_ok(jstr(l, "mediaType")))
            r = mk_errf(err, EINVAL, "%s: layer %zu: unsupported media type \"%s\"", p->a.name, i,
                        jstr(l, "mediaType") ? jstr(l, "mediaType") : "");
        else
            r = desc_blob(p, l, &blobs[i++], err);
    }
    if (r == 0)
        r = plan_config(p, pi, blobs, n, err);
    free(blobs);
    cJSON_Delete(m);
    if (r < 0)
        return r;
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(names_desc, "annotations");
    const char *full = jstr(ann, "io.containerd.image.name");
    const char *refname = jstr(ann, "org.opencontainers.image.ref.name");
    if (full)
        return add_name(p, pi, full, err);
    if (refname && p->default_name && !strpbrk(refname, "/:@"))
        return add_default_name(p, pi, refname, err);
    if (refname)
        return add_name(p, pi, refname, err);
    return add_default_name(p, pi, NULL, err);
}

static bool platform_ok(const cJSON *desc)
{
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(desc, "platform");
    const char *kind =
        jstr(cJSON_GetObjectItemCaseSensitive(desc, "annotations"), "vnd.docker.reference.type");
    if (kind && !strcmp(kind, "attestation-manifest"))
        return false;
    if (!pl)
        return true;
    const char *os = jstr(pl, "os"), *arch = jstr(pl, "architecture");
    return os && arch && !strcmp(os, "linux") && !strcmp(arch, HOST_ARCH);
}

/* A nested index (multi-platform image): the first manifest for this platform. */
static int oci_nested(plan *p, const cJSON *idesc, mk_err *err)
{
    const rt_img_entry *ie;
    cJSON *idx = NULL;
    int r = desc_blob(p, idesc, &ie, err);
    if (r == 0)
        r = read_entry_json(p, ie, &idx, err);
    if (r < 0)
        return r;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(idx, "manifests"))
    {
        const char *mt = jstr(d, "mediaType");
        if (platform_ok(d) && mt &&
            (!strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIF))) {
            r = oci_image(p, d, idesc, err);
            cJSON_Delete(idx);
            return r;
        }
    }
    cJSON_Delete(idx);
    return mk_errf(err, ENOENT, "%s: index %s has no image for linux/%s", p->a.name, ie->digest,
                   HOST_ARCH);
}

static int oci_plan(plan *p, const rt_img_entry *index, mk_err *err)
{
    cJSON *idx = NULL;
    int r = read_entry_json(p, index, &idx, err);
    if (r < 0)
        return r;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(idx, "manifests"))
    {
        const char *mt = jstr(d, "mediaType");
        if (!platform_ok(d) || !mt)
            continue;
        if (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST))
            r = oci_nested(p, d, err);
        else if (!strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIF))
            r = oci_image(p, d, d, err);
        if (r < 0)
            break;
    }
    cJSON_Delete(idx);
    if (r == 0 && p->n == 0)
        r = mk_errf(err, ENOENT, "%s: index.json lists no image for linux/%s", p->a.name,
                    HOST_ARCH);
    return r;
}

/* ---- docker-archive ----------------------------------------------------------------------- */

/* A file named after its digest ("<hex>.json", "blobs/sha256/<hex>") must match it. */
static int check_named_digest(plan *p, const rt_img_entry *e, mk_err *err)
{
    const char *base = strrchr(e->path, '/') ? strrchr(e->path, '/') + 1 : e->path;
    char hex[65];
    size_t n = strcspn(base, ".");
    if (n != 64)
        return 0;
    memcpy(hex, base, 64);
    hex[64] = '\0';
    if (!rt_img_is_hex64(hex) || !strcmp(e->digest + 7, hex))
        return 0;
    return mk_errf(err, EINVAL, "%s: %s: digest mismatch (its content hashes to %s)", p->a.name,
                   e->path, e->digest);
}

static const char *layer_media_type(const rt_img_entry *e)
{
    unsigned char m[4] = {0};
    int fd = open(e->file, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, m, sizeof(m)) < 0)
            memset(m, 0, sizeof(m));
        close(fd);
    }
    if (m[0] == 0x1f && m[1] == 0x8b)
        return MT_DOCKER_LAYER ".gzip";
    if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        return MT_DOCKER_LAYER ".zstd";
    return MT_DOCKER_LAYER;
}

static cJSON *descriptor(const char *mt, const rt_img_entry *e)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "mediaType", mt);
    cJSON_AddNumberToObject(d, "size", (double)e->size);
    cJSON_AddStringToObject(d, "digest", e->digest);
    return d;
}

static void make_manifest(plan_image *pi)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "schemaVersion", 2);
    cJSON_AddStringToObject(m, "mediaType", MT_DOCKER_MANIF);
    cJSON_AddItemToObject(m, "config", descriptor(MT_DOCKER_CFG, pi->config));
    cJSON *layers = cJSON_AddArrayToObject(m, "layers");
    for (size_t i = 0; i < pi->n_layers; i++)
        cJSON_AddItemToArray(layers,
                             descriptor(layer_media_type(pi->layers[i].blob), pi->layers[i].blob));
    pi->made_manifest = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    rt_img_sha256(pi->made_manifest, strlen(pi->made_manifest), pi->manifest_digest);
}

static const rt_img_entry *docker_file(plan *p, const cJSON *item, const char *what, mk_err *err)
{
    const char *path = cJSON_GetStringValue(item);
    const rt_img_entry *e = path ? rt_img_archive_find(&p->a, path) : NULL;
    if (!e)
        mk_errf(err, ENOENT, "%s: manifest.json: %s \"%s\" is missing from the archive", p->a.name,
                what, path ? path : "");
    else if (check_named_digest(p, e, err) < 0)
        return NULL;
    return e;
}

static int docker_image(plan *p, const cJSON *item, mk_err *err)
{
    plan_image *pi = add_image(p);
    pi->config = docker_file(p, cJSON_GetObjectItemCaseSensitive(item, "Config"), "Config", err);
    if (!pi->config)
        return -err->code;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(item, "Layers");
    size_t n = (size_t)cJSON_GetArraySize(layers), i = 0;
    const rt_img_entry **blobs = xcalloc(n + 1, sizeof(*blobs));
    const cJSON *l;
    int r = 0;
    cJSON_ArrayForEach(l, layers)
    {
        if (!(blobs[i++] = docker_file(p, l, "layer", err))) {
            r = -err->code;
            break;
        }
    }
    if (r == 0)
        r = plan_config(p, pi, blobs, n, err);
    free(blobs);
    if (r < 0)
        return r;
    make_manifest(pi);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(item, "RepoTags"), *t;
    cJSON_ArrayForEach(t, tags)
    {
        if (cJSON_IsString(t) && (r = add_name(p, pi, t->valuestring, err)) < 0)
            return r;
    }
    return pi->n_names ? 0 : add_default_name(p, pi, NULL, err);
}

static int docker_plan(plan *p, const rt_img_entry *manifest, mk_err *err)
{
    cJSON *m = NULL;
    int r = read_entry_json(p, manifest, &m, err);
    if (r < 0)
        return r;
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0)
        r = mk_errf(err, EINVAL, "%s: manifest.json: expected a non-empty array", p->a.name);
    const cJSON *item;
    cJSON_ArrayForEach(item, m)
    {
        if (r < 0)
            break;
        r = docker_image(p, item, err);
    }
    cJSON_Delete(m);
    return r;
}

/* ---- unpack and commit -------------------------------------------------------------------- */

static bool layer_present(const plan *p, const plan_layer *l)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->img[i].n_layers; j++)
            if (p->img[i].layers[j].staged && !strcmp(p->img[i].layers[j].chain, l->chain))
                return true;
    cleanup_free char *dir = rt_img_layer_path(p->s, l->chain);
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int unpack_layers(plan *p, mk_err *err)
{
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->img[i].n_layers; j++) {
            plan_layer *l = &p->img[i].layers[j];
            if (layer_present(p, l))
                continue;
            char *dest = xasprintf("%s/layer-%s", p->a.stage, l->chain + 7);
            int r = rt_img_unpack_layer(l->blob->file, l->diff_id, dest, err);
            if (r < 0) {
                free(dest);
                return mk_err_wrap(err, "%s: layer %zu (%s)", p->a.name, j, l->blob->digest);
            }
            l->staged = dest;
        }
    }
    return 0;
}

/* Everything staged reaches the disk before anything refers to it. */
static int sync_stage(plan *p, mk_err *err)
{
    int fd = open(p->a.stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return mk_errf_sys(err, errno, "open %s", p->a.stage);
    int r = syncfs(fd) < 0 ? mk_errf_sys(err, errno, "sync %s", p->a.stage) : 0;
    close(fd);
    return r;
}

static int commit_image(plan *p, plan_image *pi, cJSON *refs, mk_err *err)
{
    int r = rt_img_archive_commit_blob(p->s, pi->config, err);
    for (size_t i = 0; r == 0 && i < pi->n_layers; i++)
        r = rt_img_archive_commit_blob(p->s, pi->layers[i].blob, err);
    if (r == 0 && pi->manifest)
        r = rt_img_archive_commit_blob(p->s, pi->manifest, err);
    if (r == 0 && pi->made_manifest) {
        cleanup_free char *mp = rt_img_blob_path(p->s, pi->manifest_digest);
        if (access(mp, F_OK) < 0)
            r = mk_write_file_atomic(mp, pi->made_manifest, strlen(pi->made_manifest), 0600, err);
    }
    for (size_t i = 0; r == 0 && i < pi->n_layers; i++) {
        plan_layer *l = &pi->layers[i];
        if (!l->staged)
            continue;
        cleanup_free char *dst = rt_img_layer_path(p->s, l->chain);
        if (rename(l->staged, dst) < 0 && errno != EEXIST && errno != ENOTEMPTY)
            r = mk_errf_sys(err, errno, "store layer %s", l->chain);
    }
    for (size_t i = 0; r == 0 && i < pi->n_names; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(refs, pi->names[i]);
        cJSON_AddStringToObject(refs, pi->names[i], pi->manifest_digest);
    }
    return r;
}

static int commit(plan *p, mk_err *err)
{
    int r = sync_stage(p, err);
    if (r < 0)
        return r;
    int lock = rt_img_lock(p->s, err);
    if (lock < 0)
        return lock;
    cJSON *refs = NULL;
    r = rt_img_refs_load(p->s, &refs, err);
    for (size_t i = 0; r == 0 && i < p->n; i++)
        r = commit_image(p, &p->img[i], refs, err);
    if (r == 0)
        r = rt_img_refs_save(p->s, refs, err);
    cJSON_Delete(refs);
    close(lock);
    return r;
}

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        plan_image *pi = &p->img[i];
        for (size_t j = 0; j < pi->n_names; j++)
            free(pi->names[j]);
        free(pi->names);
        free(pi->made_manifest);
        for (size_t j = 0; j < pi->n_layers; j++)
            free(pi->layers[j].staged);
        free(pi->layers);
    }
    free(p->img);
    rt_img_archive_free(&p->a);
}

static char **collect_names(const plan *p)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->img[i].n_names;
    char **v = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->img[i].n_names; j++)
            v[k++] = xstrdup(p->img[i].names[j]);
    return v;
}

int rt_image_import(rt_image_store *s, const char *archive, const char *default_name,
                    char ***names_out, mk_err *err)
{
    if (names_out)
        *names_out = NULL;
    plan p = {.s = s, .default_name = default_name};
    int r = rt_img_archive_stage(s, archive, &p.a, err);
    if (r == 0) {
        const rt_img_entry *index = rt_img_archive_find(&p.a, "index.json");
        const rt_img_entry *manifest = rt_img_archive_find(&p.a, "manifest.json");
        if (index && (rt_img_archive_find(&p.a, "oci-layout") || !manifest))
            r = oci_plan(&p, index, err);
        else if (manifest)
            r = docker_plan(&p, manifest, err);
        else
            r = mk_errf(err, EINVAL,
                        "%s: neither an OCI image layout (index.json) nor a docker-archive "
                        "(manifest.json)",
                        archive);
    }
    if (r == 0)
        r = unpack_layers(&p, err);
    if (r == 0)
        r = commit(&p, err);
    if (r == 0) {
        for (size_t i = 0; i < p.n; i++)
            for (size_t j = 0; j < p.img[i].n_names; j++)
                mk_info("image %s imported from %s (%s)", p.img[i].names[j], archive,
                        p.img[i].manifest_digest);
        if (names_out)
            *names_out = collect_names(&p);
    }
    plan_free(&p);
    return r;
}
