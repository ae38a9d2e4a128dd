/* ctr_path.c - env lookup and $PATH search, as a Go runtime's exec.LookPath would do it. */
#include "ctr_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *shim_ctr_env_get(char *const *env, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], name, nl) == 0 && env[i][nl] == '=')
            return env[i] + nl + 1;
    return NULL;
}

/* 0 if path is a regular file we may execute, else a negative errno. */
static int check_exec(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (!S_ISREG(st.st_mode))
        return -EACCES;
    if (access(path, X_OK) < 0)
        return -errno;
    return 0;
}

int shim_ctr_path_lookup(const char *argv0, const char *path_env, char *out, size_t size, char *err,
                         size_t errlen)
{
    if (!argv0 || !argv0[0]) {
        snprintf(err, errlen, "no command specified");
        return -EINVAL;
    }
    if (strchr(argv0, '/')) {
        if ((size_t)snprintf(out, size, "%s", argv0) >= size) {
            snprintf(err, errlen, "\"%s\": %s", argv0, strerror(ENAMETOOLONG));
            return -ENAMETOOLONG;
        }
        int r = check_exec(out);
        if (r < 0)
            snprintf(err, errlen, "\"%s\": stat %s: %s", argv0, argv0, strerror(-r));
        return r;
    }
    const char *p = path_env ? path_env : SHIM_CTR_DEFAULT_PATH;
    int first_err = 0;
    for (;;) {
        const char *c = strchr(p, ':');
        size_t dl = c ? (size_t)(c - p) : strlen(p);
        int w = snprintf(out, size, "%.*s/%s", (int)(dl ? dl : 1), dl ? p : ".", argv0);
        if (w > 0 && (size_t)w < size) {
            int r = check_exec(out);
            if (r == 0)
                return 0;
            if (r != -ENOENT && r != -ENOTDIR && !first_err)
                first_err = r;
        }
        if (!c)
            break;
        p = c + 1;
    }
    if (first_err) {
        snprintf(err, errlen, "\"%s\": %s", argv0, strerror(-first_err));
        return first_err;
    }
    snprintf(err, errlen, "\"%s\": executable file not found in $PATH", argv0);
    return -ENOENT;
}

int shim_ctr_split_nul(char *buf, size_t len, char **out, size_t max)
{
    size_t n = 0;
    if (!max)
        return -E2BIG;
    if (len)
        buf[len - 1] = 0;
    for (size_t i = 0; i < len;) {
        size_t l = strlen(buf + i);
        if (l) {
            if (n + 1 >= max)
                return -E2BIG;
            out[n++] = buf + i;
        }
        i += l + 1;
    }
    out[n] = NULL;
    return (int)n;
}
