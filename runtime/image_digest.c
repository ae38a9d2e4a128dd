/* image_digest.c - sha256 digests, chain ids, path and string-vector helpers. */
#include "image_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rt_img_hash_init(rt_img_hash *h)
{
    mk_sha256_init(&h->sha);
}

void rt_img_hash_update(rt_img_hash *h, const void *p, size_t n)
{
    mk_sha256_update(&h->sha, p, n);
}

void rt_img_hash_final(rt_img_hash *h, char *out)
{
    unsigned char md[MK_SHA256_LEN];
    mk_sha256_final(&h->sha, md);
    memcpy(out, "sha256:", 7);
    mk_hex(md, MK_SHA256_LEN, out + 7);
}

void rt_img_hash_abort(rt_img_hash *h)
{
    (void)h; /* nothing allocated */
}

void rt_img_sha256(const void *p, size_t n, char *out)
{
    rt_img_hash h;
    rt_img_hash_init(&h);
    rt_img_hash_update(&h, p, n);
    rt_img_hash_final(&h, out);
}

bool rt_img_is_hex64(const char *s)
{
    return podspec_is_hex64(s);
}

bool rt_img_digest_valid(const char *s)
{
    return podspec_is_sha256_digest(s);
}

void rt_img_chain_id(const char *parent_chain, const char *diff_id, char *out)
{
    if (!parent_chain) {
        memcpy(out, diff_id, RT_IMG_DIGEST_LEN + 1);
        return;
    }
    cleanup_free char *s = xasprintf("%s %s", parent_chain, diff_id);
    rt_img_sha256(s, strlen(s), out);
}

int rt_img_json_strv(const cJSON *arr, const char *what, char ***out, mk_err *err)
{
    *out = NULL;
    if (!cJSON_IsArray(arr))
        return 0;
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    char **v = xcalloc(n + 1, sizeof(char *));
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it)) {
            rt_strv_free(v);
            return mk_errf(err, EINVAL, "%s: element %zu is not a string", what, i);
        }
        v[i++] = xstrdup(it->valuestring);
    }
    *out = v;
    return 0;
}

void rt_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

size_t rt_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

char **rt_strv_dup(char *const *v)
{
    if (!v)
        return NULL;
    size_t n = rt_strv_len(v);
    char **d = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        d[i] = xstrdup(v[i]);
    return d;
}

int rt_img_clean_path(const char *in, char *out, size_t outlen, mk_err *err)
{
    if (!in)
        return mk_errf(err, EINVAL, "entry without a name");
    if (in[0] == '/')
        return mk_errf(err, EINVAL, "%s: absolute path", in);
    size_t o = 0;
    for (const char *p = in; *p;) {
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return mk_errf(err, EINVAL, "%s: \"..\" in a path", in);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + n + 2 > outlen)
                return mk_errf(err, ENAMETOOLONG, "%s: path too long", in);
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p = *end ? end + 1 : end;
    }
    out[o] = '\0';
    return 0;
}
