/* image_import_dir.c - the airgap directory: archives dropped there are imported once.
 *
 * What was imported is remembered in <dir>/.imported.json, one entry per file name with its
 * size, mtime and the image names it gave. A file is imported again only when its size or
 * mtime changed, or when one of its images is no longer in the store. Archives stay where the
 * user put them. Dotfiles and names ending in .tmp, .part or ~ (copies in progress) are skipped.
 */
#include "image_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CACHE_NAME ".imported.json"

static bool skip_name(const char *n)
{
    size_t len = strlen(n);
    static const char *const suffixes[] = {".tmp", ".part", "~"};
    if (n[0] == '.')
        return true;
    for (size_t i = 0; i < MK_ARRAY_LEN(suffixes); i++) {
        size_t sl = strlen(suffixes[i]);
        if (len >= sl && !strcmp(n + len - sl, suffixes[i]))
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_files(const char *dir, char ***out, size_t *n, mk_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : mk_errf_sys(err, errno, "open image import dir %s", dir);
    char **v = NULL;
    size_t cnt = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (skip_name(de->d_name))
            continue;
        v = xrealloc(v, (cnt + 1) * sizeof(char *));
        v[cnt++] = xstrdup(de->d_name);
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(char *), cmp_str);
    *out = v;
    *n = cnt;
    return 0;
}

/* exact, unlike a double of nanoseconds */
static void format_mtime(const struct stat *st, char *buf, size_t len)
{
    snprintf(buf, len, "%lld.%09ld", (long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
}

/* true when the cache says this exact file was imported and its images are still stored */
static bool already_imported(const cJSON *cache, const cJSON *refs, const char *name,
                             const struct stat *st)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cache, name);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(c, "size");
    const cJSON *mtime = cJSON_GetObjectItemCaseSensitive(c, "mtime");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(c, "images");
    if (!cJSON_IsNumber(size) || !cJSON_IsString(mtime) || !cJSON_IsArray(names))
        return false;
    char mt[48];
    format_mtime(st, mt, sizeof(mt));
    if (size->valuedouble != (double)st->st_size || strcmp(mtime->valuestring, mt) != 0)
        return false;
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        if (!cJSON_IsString(n) || !cJSON_GetObjectItemCaseSensitive(refs, n->valuestring))
            return false;
    }
    return true;
}

static void remember(cJSON *cache, const char *name, const struct stat *st, char **names)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "size", (double)st->st_size);
    char mt[48];
    format_mtime(st, mt, sizeof(mt));
    cJSON_AddStringToObject(c, "mtime", mt);
    cJSON *arr = cJSON_AddArrayToObject(c, "images");
    for (size_t i = 0; names && names[i]; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
    cJSON_DeleteItemFromObjectCaseSensitive(cache, name);
    cJSON_AddItemToObject(cache, name, c);
}

static cJSON *load_cache(const char *path)
{
    cJSON *c = NULL;
    mk_err e = {0};
    if (access(path, F_OK) == 0 && rt_img_read_json(path, &c, &e) < 0)
        mk_warn("image import: %s unreadable, importing everything again: %s", path, e.msg);
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        c = cJSON_CreateObject();
    }
    return c;
}

static int save_cache(const char *path, const cJSON *cache, mk_err *err)
{
    cleanup_free char *txt = cJSON_Print(cache);
    if (!txt)
        abort();
    return mk_write_file_atomic(path, txt, strlen(txt), 0644, err);
}

/* one file: 1 imported, 0 skipped, < 0 failed (logged) */
static int import_one(rt_image_store *s, const char *dir, const char *name, cJSON *cache,
                      const cJSON *refs)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    if (already_imported(cache, refs, name, &st))
        return 0;
    mk_err e = {0};
    char **names = NULL;
    if (rt_image_import(s, path, NULL, &names, &e) < 0) {
        mk_error("image import of %s failed: %s", path, e.msg);
        return -e.code;
    }
    remember(cache, name, &st, names);
    rt_strv_free(names);
    return 1;
}

int rt_image_import_dir(rt_image_store *s, const char *dir, mk_err *err)
{
    char **files = NULL;
    size_t n = 0;
    int r = list_files(dir, &files, &n, err);
    if (r < 0 || n == 0)
        return r;
    cleanup_free char *cache_path = xasprintf("%s/%s", dir, CACHE_NAME);
    cJSON *cache = load_cache(cache_path);
    cJSON *refs = NULL;
    int imported = rt_img_refs_load(s, &refs, err);
    for (size_t i = 0; imported >= 0 && i < n; i++) {
        int one = import_one(s, dir, files[i], cache, refs);
        if (one <= 0)
            continue;
        imported++;
        mk_err e = {0};
        if (save_cache(cache_path, cache, &e) < 0) /* the import itself stands */
            mk_warn("image import: cannot record %s as imported: %s", files[i], e.msg);
    }
    cJSON_Delete(cache);
    cJSON_Delete(refs);
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    return imported;
}
