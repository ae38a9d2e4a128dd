/* token.c - the API bearer token file and the agent's pid file lock. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

static int random_bytes(unsigned char *buf, size_t n, mk_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return mk_errf_sys(err, errno, "getrandom");
        }
        got += (size_t)r;
    }
    return 0;
}

static int parent_dir(const char *path, mk_err *err)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    cleanup_free char *dir = xstrndup(path, (size_t)(slash - path));
    return mk_mkdir_p(dir, 0755, err);
}

static int token_create(const char *path, char **token, mk_err *err)
{
    unsigned char raw[32];
    int r = random_bytes(raw, sizeof(raw), err);
    if (r < 0)
        return r;
    char hex[sizeof(raw) * 2 + 2];
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    r = parent_dir(path, err);
    if (r < 0)
        return mk_err_wrap(err, "token file %s", path);
    size_t n = strlen(hex);
    hex[n] = '\n';
    r = mk_write_file_atomic(path, hex, n + 1, 0600, err);
    if (r < 0)
        return mk_err_wrap(err, "token file %s", path);
    hex[n] = '\0';
    *token = xstrdup(hex);
    mk_info("created the API token file %s (mode 0600)", path);
    return 0;
}

int agent_token_load(const char *path, char **token, mk_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int r = mk_read_file(path, 4096, &buf, &len, err);
    if (r == -ENOENT)
        return token_create(path, token, err);
    if (r < 0)
        return mk_err_wrap(err, "token file %s", path);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    if (len == 0 || strpbrk(buf, " \t\r\n")) {
        free(buf);
        return mk_errf(err, EINVAL,
                       "token file %s: want one line holding the token (delete the file to have "
                       "a new one made)",
                       path);
    }
    *token = buf;
    return 0;
}

int agent_pidfile_lock(const char *path, mk_err *err)
{
    int r = parent_dir(path, err);
    if (r < 0)
        return r;
    cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return mk_errf_sys(err, errno, "open %s", path);
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR)
            continue;
        if (errno != EWOULDBLOCK)
            return mk_errf_sys(err, errno, "lock %s", path);
        char other[32] = "";
        ssize_t n = pread(fd, other, sizeof(other) - 1, 0);
        other[n > 0 ? n : 0] = '\0';
        other[strcspn(other, "\n")] = '\0';
        return mk_errf(err, EBUSY,
                       "another mini-kubelet (pid %s) is running with this root dir (%s)",
                       other[0] ? other : "?", path);
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        return mk_errf_sys(err, errno, "write %s", path);
    return MK_STEAL_FD(fd);
}
