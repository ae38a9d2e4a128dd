/* image_store.c - the store on disk: open, refs.json, lookup and list. */
#include "image_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

char *rt_img_blob_path(const rt_image_store *s, const char *digest)
{
    return xasprintf("%s/%s", s->blobs_dir, digest + 7);
}

char *rt_img_layer_path(const rt_image_store *s, const char *chain_id)
{
    return xasprintf("%s/%s", s->layers_dir, chain_id + 7);
}

int rt_img_read_json(const char *path, cJSON **out, mk_err *err)
{
    cleanup_free char *buf = NULL;
    size_t len = 0;
    int r = mk_read_file(path, RT_IMG_JSON_MAX, &buf, &len, err);
    if (r < 0)
        return r;
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(buf, len, &end, false);
    if (!*out)
        return mk_errf(err, EINVAL, "%s: invalid JSON near byte %zu", path,
                       end ? (size_t)(end - buf) : (size_t)0);
    return 0;
}

int rt_img_lock(const rt_image_store *s, mk_err *err)
{
    int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return mk_errf_sys(err, errno, "open %s", s->lock_path);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return mk_errf_sys(err, e, "lock %s", s->lock_path);
        }
    }
    return fd;
}

int rt_img_refs_load(const rt_image_store *s, cJSON **out, mk_err *err)
{
    if (access(s->refs_path, F_OK) < 0 && errno == ENOENT) {
        *out = cJSON_CreateObject();
        return 0;
    }
    int r = rt_img_read_json(s->refs_path, out, err);
    if (r < 0)
        return r;
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return mk_errf(err, EINVAL, "%s: not a JSON object", s->refs_path);
    }
    return 0;
}

int rt_img_refs_save(const rt_image_store *s, const cJSON *refs, mk_err *err)
{
    cleanup_free char *txt = cJSON_Print(refs);
    if (!txt)
        abort();
    return mk_write_file_atomic(s->refs_path, txt, strlen(txt), 0644, err);
}

/* Remove staging directories of imports whose process is gone ("import-<pid>-XXXXXX"). */
static void clean_stale_staging(const rt_image_store *s)
{
    DIR *d = opendir(s->tmp_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int pid = 0;
        if (sscanf(de->d_name, "import-%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        cleanup_free char *p = xasprintf("%s/%s", s->tmp_dir, de->d_name);
        mk_err e = {0};
        if (mk_rm_rf(p, &e) < 0)
            mk_warn("image store: cannot remove stale staging dir: %s", e.msg);
    }
    closedir(d);
}

int rt_image_store_open(const char *dir, rt_image_store **out, mk_err *err)
{
    *out = NULL;
    rt_image_store *s = xcalloc(1, sizeof(*s));
    s->dir = xstrdup(dir);
    s->blobs_dir = xasprintf("%s/blobs/sha256", dir);
    s->layers_dir = xasprintf("%s/layers", dir);
    s->tmp_dir = xasprintf("%s/tmp", dir);
    s->refs_path = xasprintf("%s/refs.json", dir);
    s->lock_path = xasprintf("%s/lock", dir);
    const char *dirs[] = {s->blobs_dir, s->layers_dir, s->tmp_dir};
    for (size_t i = 0; i < MK_ARRAY_LEN(dirs); i++) {
        int r = mk_mkdir_p(dirs[i], 0700, err);
        if (r < 0) {
            rt_image_store_close(s);
            return mk_err_wrap(err, "image store %s", dir);
        }
    }
    clean_stale_staging(s);
    *out = s;
    return 0;
}

void rt_image_store_close(rt_image_store *s)
{
    if (!s)
        return;
    free(s->dir);
    free(s->blobs_dir);
    free(s->layers_dir);
    free(s->tmp_dir);
    free(s->refs_path);
    free(s->lock_path);
    free(s);
}

void rt_image_free(rt_image *img)
{
    if (!img)
        return;
    free(img->name);
    free(img->id);
    free(img->repo_digest);
    rt_strv_free(img->layer_dirs);
    rt_strv_free(img->entrypoint);
    rt_strv_free(img->cmd);
    rt_strv_free(img->env);
    free(img->working_dir);
    free(img->user);
    free(img);
}

static int load_config(rt_image *img, const cJSON *cfg, mk_err *err)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cfg, "config");
    if (!cJSON_IsObject(c))
        return 0; /* "config" may be null */
    int r = rt_img_json_strv(cJSON_GetObjectItemCaseSensitive(c, "Entrypoint"), "Entrypoint",
                             &img->entrypoint, err);
    if (r == 0)
        r = rt_img_json_strv(cJSON_GetObjectItemCaseSensitive(c, "Cmd"), "Cmd", &img->cmd, err);
    if (r == 0)
        r = rt_img_json_strv(cJSON_GetObjectItemCaseSensitive(c, "Env"), "Env", &img->env, err);
    if (r < 0)
        return r;
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(c, "WorkingDir");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(c, "User");
    img->working_dir = cJSON_IsString(wd) ? xstrdup(wd->valuestring) : NULL;
    img->user = xstrdup(cJSON_IsString(user) ? user->valuestring : "");
    return 0;
}

static int load_layers(const rt_image_store *s, rt_image *img, const cJSON *cfg, mk_err *err)
{
    const cJSON *diff_ids = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cfg, "rootfs"), "diff_ids");
    size_t n = (size_t)cJSON_GetArraySize(diff_ids);
    img->layer_dirs = xcalloc(n + 1, sizeof(char *));
    char chain[RT_IMG_DIGEST_LEN + 1] = "";
    const cJSON *d;
    cJSON_ArrayForEach(d, diff_ids)
    {
        if (!rt_img_digest_valid(cJSON_GetStringValue(d)))
            return mk_errf(err, EINVAL, "image config: invalid rootfs.diff_ids entry");
        rt_img_chain_id(img->n_layers ? chain : NULL, d->valuestring, chain);
        char *p = rt_img_layer_path(s, chain);
        img->layer_dirs[img->n_layers++] = p;
        struct stat st;
        if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
            return mk_errf(err, ENOENT, "unpacked layer %s is missing: import the image again", p);
    }
    return 0;
}

/* Builds the image whose manifest is `mdigest`; `name` is what it was looked up by. */
/* A descriptor's size: 0 when absent (NaN), negative or beyond int64 (a stored manifest's sizes
 * are checked only when present). */
static int64_t json_size(const cJSON *j)
{
    double d = cJSON_IsNumber(j) ? j->valuedouble : 0;
    return d > 0 && d < 9e18 ? (int64_t)d : 0;
}

static int load_image(const rt_image_store *s, const char *name, const char *repo,
                      const char *mdigest, rt_image **out, mk_err *err)
{
    cleanup_free char *mpath = rt_img_blob_path(s, mdigest);
    cJSON *m = NULL, *cfg = NULL;
    int r = rt_img_read_json(mpath, &m, err);
    if (r < 0)
        return mk_err_wrap(err, "image %s: manifest", name);
    const cJSON *cdesc = cJSON_GetObjectItemCaseSensitive(m, "config");
    const char *cdigest = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cdesc, "digest"));
    if (!rt_img_digest_valid(cdigest)) {
        cJSON_Delete(m);
        return mk_errf(err, EINVAL, "image %s: manifest %s has no valid config digest", name,
                       mdigest);
    }
    rt_image *img = xcalloc(1, sizeof(*img));
    img->name = xstrdup(name);
    img->id = xstrdup(cdigest);
    img->repo_digest = xasprintf("%s@%s", repo, mdigest);
    img->size_bytes = json_size(cJSON_GetObjectItemCaseSensitive(cdesc, "size"));
    const cJSON *l;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(m, "layers"))
    {
        int64_t sz = json_size(cJSON_GetObjectItemCaseSensitive(l, "size"));
        img->size_bytes = sz > INT64_MAX - img->size_bytes ? INT64_MAX : img->size_bytes + sz;
    }
    cleanup_free char *cpath = rt_img_blob_path(s, cdigest);
    r = rt_img_read_json(cpath, &cfg, err);
    if (r == 0)
        r = load_config(img, cfg, err);
    if (r == 0)
        r = load_layers(s, img, cfg, err);
    cJSON_Delete(m);
    cJSON_Delete(cfg);
    if (r < 0) {
        rt_image_free(img);
        return r == -ENOENT ? r : mk_err_wrap(err, "image %s", name);
    }
    *out = img;
    return 0;
}

/* "docker.io/library/nginx" from "docker.io/library/nginx:latest" or "...@sha256:..." */
static char *repo_of(const char *full)
{
    const char *at = strchr(full, '@');
    size_t n = at ? (size_t)(at - full) : strlen(full);
    const char *slash = memrchr(full, '/', n);
    const char *colon = memrchr(full, ':', n);
    if (colon && (!slash || colon > slash))
        n = (size_t)(colon - full);
    return xstrndup(full, n);
}

static int lookup_by_id(rt_image_store *s, const cJSON *refs, const char *id, rt_image **out,
                        mk_err *err)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, refs)
    {
        const char *md = cJSON_GetStringValue(it);
        if (!rt_img_digest_valid(md))
            continue;
        cleanup_free char *repo = repo_of(it->string);
        rt_image *img = NULL;
        if (!strcmp(md, id))
            return load_image(s, it->string, repo, md, out, err);
        mk_err e = {0};
        if (load_image(s, it->string, repo, md, &img, &e) < 0)
            continue;
        if (!strcmp(img->id, id)) {
            *out = img;
            return 0;
        }
        rt_image_free(img);
    }
    return mk_errf(err, ENOENT, "image %s not found in the store", id);
}

int rt_image_lookup(rt_image_store *s, const char *ref, rt_image **out, mk_err *err)
{
    *out = NULL;
    cJSON *refs = NULL;
    int r = rt_img_refs_load(s, &refs, err);
    if (r < 0)
        return r;
    cleanup_free char *id = NULL;
    if (rt_img_digest_valid(ref))
        id = xstrdup(ref);
    else if (rt_img_is_hex64(ref))
        id = xasprintf("sha256:%s", ref);
    if (id) {
        r = lookup_by_id(s, refs, id, out, err);
        cJSON_Delete(refs);
        return r;
    }
    rt_image_ref pr;
    r = rt_image_ref_parse(ref, &pr, err);
    if (r < 0) {
        cJSON_Delete(refs);
        return r;
    }
    cleanup_free char *repo = xasprintf("%s/%s", pr.domain, pr.path);
    const char *md = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(refs, pr.full));
    if (!md && pr.digest) {
        /* by digest: any name of the same repository whose manifest has that digest */
        const cJSON *it;
        cJSON_ArrayForEach(it, refs)
        {
            cleanup_free char *rrepo = repo_of(it->string);
            if (!strcmp(rrepo, repo) && cJSON_IsString(it) && !strcmp(it->valuestring, pr.digest))
                md = it->valuestring;
        }
    }
    if (md && pr.digest && strcmp(md, pr.digest) != 0)
        md = NULL;
    if (!md)
        r = mk_errf(err, ENOENT, "image %s not found in the store", pr.full);
    else if (!rt_img_digest_valid(md))
        r = mk_errf(err, EINVAL, "%s: invalid digest for %s", s->refs_path, pr.full);
    else
        r = load_image(s, pr.full, repo, md, out, err);
    rt_image_ref_free(&pr);
    cJSON_Delete(refs);
    return r;
}

static int cmp_image(const void *a, const void *b)
{
    return strcmp((*(rt_image *const *)a)->name, (*(rt_image *const *)b)->name);
}

int rt_image_list(rt_image_store *s, rt_image ***out, size_t *n, mk_err *err)
{
    *out = NULL;
    *n = 0;
    cJSON *refs = NULL;
    int r = rt_img_refs_load(s, &refs, err);
    if (r < 0)
        return r;
    size_t cap = (size_t)cJSON_GetArraySize(refs), cnt = 0;
    rt_image **v = xcalloc(cap + 1, sizeof(rt_image *));
    const cJSON *it;
    cJSON_ArrayForEach(it, refs)
    {
        const char *md = cJSON_GetStringValue(it);
        cleanup_free char *repo = repo_of(it->string);
        mk_err e = {0};
        if (!rt_img_digest_valid(md) || load_image(s, it->string, repo, md, &v[cnt], &e) < 0) {
            mk_warn("image %s: skipped in the list: %s", it->string,
                    e.msg[0] ? e.msg : "invalid digest in refs.json");
            continue;
        }
        cnt++;
    }
    cJSON_Delete(refs);
    qsort(v, cnt, sizeof(*v), cmp_image);
    *out = v;
    *n = cnt;
    return 0;
}

void rt_image_list_free(rt_image **imgs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rt_image_free(imgs[i]);
    free(imgs);
}
