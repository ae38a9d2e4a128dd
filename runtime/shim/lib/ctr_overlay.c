/* ctr_overlay.c - build overlayfs mount data strings. */
#include "ctr_overlay.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t size, len;
    bool overflow;
} sbuf;

static void put_c(sbuf *b, char c)
{
    if (b->len + 1 >= b->size) {
        b->overflow = true;
        return;
    }
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}

static void put_s(sbuf *b, const char *s)
{
    while (*s)
        put_c(b, *s++);
}

/* A path with strip removed from its front; NULL if it does not lie below strip. */
static const char *strip_path(const char *path, const char *strip)
{
    size_t sl = strip ? strlen(strip) : 0;
    if (!sl)
        return path;
    if (strncmp(path, strip, sl) != 0 || path[sl] != '/' || !path[sl + 1])
        return NULL;
    return path + sl + 1;
}

static int put_path(sbuf *b, const char *path, const char *strip)
{
    const char *p = strip_path(path, strip);
    if (!p || !*p)
        return -EINVAL;
    for (; *p; p++) {
        if (*p == ',' || *p == ':' || *p == '\\')
            put_c(b, '\\');
        put_c(b, *p);
    }
    return 0;
}

int shim_ctr_overlay_data(char *const *lower, const char *upper, const char *work,
                          const char *strip, char *buf, size_t size)
{
    sbuf b = {buf, size, 0, size == 0};
    if (size)
        buf[0] = 0;
    if (!lower || !lower[0] || (!upper) != (!work))
        return -EINVAL;
    put_s(&b, "lowerdir=");
    for (size_t i = 0; lower[i]; i++) {
        if (i)
            put_c(&b, ':');
        if (put_path(&b, lower[i], strip) < 0)
            return -EINVAL;
    }
    if (upper) {
        put_s(&b, ",upperdir=");
        if (put_path(&b, upper, strip) < 0)
            return -EINVAL;
        put_s(&b, ",workdir=");
        if (put_path(&b, work, strip) < 0)
            return -EINVAL;
    }
    return b.overflow ? -ENAMETOOLONG : (int)b.len;
}

/* Shrinks the common directory (length *n of out) until path lies beneath it. */
static void narrow(char *out, size_t *n, const char *path)
{
    while (*n > 0 && !(strncmp(path, out, *n) == 0 && path[*n] == '/')) {
        do
            (*n)--;
        while (*n > 0 && out[*n] != '/');
        out[*n] = 0;
    }
}

int shim_ctr_common_dir(char *const *lower, const char *upper, const char *work, char *out,
                        size_t size)
{
    if (!lower || !lower[0] || !size)
        return -EINVAL;
    size_t n = strlen(lower[0]);
    if (n >= size)
        return -ENAMETOOLONG;
    memcpy(out, lower[0], n + 1);
    /* the first path itself is not a directory they all lie under: take its parent */
    while (n > 0 && out[n] != '/')
        n--;
    out[n] = 0;
    for (size_t i = 1; lower[i]; i++)
        narrow(out, &n, lower[i]);
    if (upper)
        narrow(out, &n, upper);
    if (work)
        narrow(out, &n, work);
    return (int)n;
}
