/* mk_base.c - error convention, allocation, time, file and log helpers. */
#include "mk_base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int verrf(mk_err *err, int code, bool sys, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static int verrf(mk_err *err, int code, bool sys, const char *fmt, va_list ap)
{
    if (code <= 0)
        code = EINVAL;
    if (err) {
        err->code = code;
        int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        if (sys && n >= 0 && (size_t)n < sizeof(err->msg))
            snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(code));
    }
    return -code;
}

int mk_errf(mk_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = verrf(err, code, false, fmt, ap);
    va_end(ap);
    return r;
}

int mk_errf_sys(mk_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = verrf(err, code, true, fmt, ap);
    va_end(ap);
    return r;
}

int mk_err_wrap(mk_err *err, const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    char prefix[MK_ERR_MSG_MAX], old[MK_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t pl = strnlen(prefix, sizeof(err->msg) - 3);
    memcpy(err->msg, prefix, pl);
    memcpy(err->msg + pl, ": ", 2);
    size_t room = sizeof(err->msg) - pl - 3;
    size_t ol = strnlen(old, room);
    memcpy(err->msg + pl + 2, old, ol);
    err->msg[pl + 2 + ol] = '\0';
    if (err->code <= 0)
        err->code = EINVAL;
    return -err->code;
}

void mk_err_clear(mk_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

static void oom(void)
{
    static const char m[] = "mini-kubelet: out of memory\n";
    (void)!write(2, m, sizeof(m) - 1);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        oom();
    return d;
}

char *xstrndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = strndup(s, n);
    if (!d)
        oom();
    return d;
}

char *xasprintf(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom();
    return s;
}

void mk_freep(void *pp)
{
    free(*(void **)pp);
}

void mk_closep(int *fdp)
{
    if (*fdp >= 0) {
        int saved = errno;
        close(*fdp);
        errno = saved;
    }
}

int64_t mk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t mk_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void mk_format_rfc3339_nano(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)(ns % 1000000000LL));
}

void mk_format_rfc3339(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int mk_write_file_atomic(const char *path, const void *data, size_t len, int mode, mk_err *err)
{
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return mk_errf_sys(err, e, "create %s", path);
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return mk_errf_sys(err, e, "write %s", path);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return mk_errf_sys(err, e, "sync %s", path);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return mk_errf_sys(err, e, "rename %s", path);
    }
    free(tmp);
    return 0;
}

int mk_read_file(const char *path, size_t max, char **out, size_t *len, mk_err *err)
{
    /* O_NONBLOCK: a FIFO or a device that never answers (a manifest symlinked to one, say)
     * must fail, not hang the thread reading it. Regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return mk_errf_sys(err, errno, "open %s", path);
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                close(fd);
                free(buf);
                return mk_errf(err, EFBIG, "%s: larger than %zu bytes", path, max);
            }
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            free(buf);
            if (e == EAGAIN)
                return mk_errf(err, e, "read %s: nothing to read without waiting", path);
            return mk_errf_sys(err, e, "read %s", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            close(fd);
            free(buf);
            return mk_errf(err, EFBIG, "%s: larger than %zu bytes", path, max);
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int mk_mkdir_p(const char *path, int mode, mk_err *err)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
            int e = errno;
            int r = mk_errf_sys(err, e, "mkdir %s", p);
            free(p);
            return r;
        }
        *s = '/';
    }
    if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
        int e = errno;
        int r = mk_errf_sys(err, e, "mkdir %s", p);
        free(p);
        return r;
    }
    free(p);
    return 0;
}

static int rm_rf_at(int parent, const char *name, dev_t dev, mk_err *err)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : mk_errf_sys(err, errno, "stat %s", name);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
            return mk_errf_sys(err, errno, "unlink %s", name);
        return 0;
    }
    if (st.st_dev != dev)
        return mk_errf(err, EXDEV, "%s: refusing to cross a mount point", name);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return mk_errf_sys(err, errno, "open %s", name);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return mk_errf_sys(err, errno, "opendir %s", name);
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        r = rm_rf_at(dirfd(d), de->d_name, dev, err);
        if (r < 0)
            break;
    }
    closedir(d);
    if (r < 0)
        return r;
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return mk_errf_sys(err, errno, "rmdir %s", name);
    return 0;
}

int mk_rm_rf(const char *path, mk_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : mk_errf_sys(err, errno, "stat %s", path);
    return rm_rf_at(AT_FDCWD, path, st.st_dev, err);
}

static mk_log_level g_log_level = MK_LOG_INFO; /* process-wide logging threshold */

void mk_log_set_level(mk_log_level lvl)
{
    g_log_level = lvl;
}

int mk_log_parse_level(const char *s, mk_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < MK_ARRAY_LEN(names); i++) {
        if (!strcmp(s, names[i])) {
            *out = (mk_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void mk_log(mk_log_level lvl, const char *fmt, ...)
{
    if (lvl > g_log_level)
        return;
    static const char *tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char ts[48], line[2048];
    mk_format_rfc3339_nano(mk_now_ns(), ts, sizeof(ts));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    for (char *c = line; *c; c++)
        if (*c == '\n')
            *c = ' ';
    fprintf(stderr, "%s %-5s %s\n", ts, tags[lvl], line);
}
