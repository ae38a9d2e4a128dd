/* container_proc.c - the process half of container setup, shared with exec: signals, user and
 * groups, working directory, seccomp, capabilities, no_new_privs and the final execve.
 *
 * Capabilities follow runc: the bounding set is cut to the requested set, ids change with
 * PR_SET_KEEPCAPS, then effective = permitted = the requested set and inheritable and ambient
 * are empty. execve() then gives root the full set and any other uid an empty one, as the
 * kernel's rules for a file without capabilities say.
 */
#include "container_int.h"
#include "ctr_caps.h"
#include "ctr_path.h"
#include "ctr_resolve.h"
#include "shim_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- runner and errors ---- */

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

void shim_step_die(int fd, const char *step, const char *msg)
{
    char line[1200];
    int n = snprintf(line, sizeof(line), "%s: %s\n", step, msg);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(line)) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    write_all(fd >= 0 ? fd : STDERR_FILENO, line, (size_t)n);
    _exit(SHIM_EXIT_SETUP);
}

int shim_steps_run(shim_step_ctx *c, const shim_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c->err[0] = 0;
        if (steps[i].fn(c) < 0)
            shim_step_die(c->report_fd, steps[i].name, c->err[0] ? c->err : "failed");
    }
    return 0;
}

int shim_step_fail(shim_step_ctx *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(c->err))
        snprintf(c->err + n, sizeof(c->err) - (size_t)n, ": %s", strerror(err));
    return -1;
}

int shim_step_failx(shim_step_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return -1;
}

int shim_env_init(shim_step_ctx *c, char *const *env)
{
    size_t n = 0;
    while (env && env[n])
        n++;
    c->env = calloc(n + 2, sizeof(char *)); /* room for HOME */
    if (!c->env)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        c->env[i] = env[i];
    return 0;
}

long shim_read_file(int dirfd, const char *path, size_t max, char **out)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    long r = buf ? 0 : -ENOMEM;
    while (r == 0) {
        if (len == cap) {
            char *nb = cap < max ? realloc(buf, (cap *= 2) + 1) : NULL;
            if (!nb) {
                r = cap >= max ? -EFBIG : -ENOMEM;
                break;
            }
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = -errno;
        else if (n == 0)
            break;
        else
            len += (size_t)n;
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[len] = 0;
    *out = buf;
    return (long)len;
}

/* ---- signals ---- */

int shim_step_signals(shim_step_ctx *c)
{
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP)
            continue;
        /* glibc reserves a few real-time signals; EINVAL for those is expected */
        if (sigaction(s, &sa, NULL) < 0 && errno != EINVAL)
            return shim_step_fail(c, errno, "reset signal %d", s);
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        return shim_step_fail(c, errno, "unblock signals");
    /* a session of its own, so the shim's process group signals do not reach it; EPERM only
     * means it already leads one */
    if (setsid() < 0 && errno != EPERM)
        return shim_step_fail(c, errno, "setsid");
    umask(022);
    return 0;
}

/* ---- user ---- */

static int set_home(shim_step_ctx *c)
{
    size_t n = 0;
    while (c->env[n]) {
        if (strncmp(c->env[n], "HOME=", 5) == 0)
            return 0;
        n++;
    }
    size_t l = strlen(c->ids.home) + 6;
    char *h = malloc(l);
    if (!h)
        return shim_step_fail(c, ENOMEM, "HOME");
    snprintf(h, l, "HOME=%s", c->ids.home[0] ? c->ids.home : "/");
    c->env[n] = h; /* shim_env_init left a slot */
    c->env[n + 1] = NULL;
    return 0;
}

int shim_step_user(shim_step_ctx *c)
{
    if (c->ids_set && !c->user)
        return set_home(c);
    char *passwd = NULL, *group = NULL;
    long r = shim_read_file(AT_FDCWD, "/etc/passwd", 4 << 20, &passwd);
    if (r < 0 && r != -ENOENT)
        return shim_step_fail(c, (int)-r, "read /etc/passwd");
    r = shim_read_file(AT_FDCWD, "/etc/group", 4 << 20, &group);
    if (r < 0 && r != -ENOENT) {
        free(passwd);
        return shim_step_fail(c, (int)-r, "read /etc/group");
    }
    int rr = shim_ctr_user_resolve(c->user, passwd, group, &c->ids, c->err, sizeof(c->err));
    free(passwd);
    free(group);
    if (rr < 0)
        return -1;
    c->ids_set = true;
    return set_home(c);
}

/* ---- working directory ---- */

int shim_step_cwd(shim_step_ctx *c)
{
    if (!c->cwd || !c->cwd[0]) {
        if (c->cwd_fd >= 0 && fchdir(c->cwd_fd) < 0)
            return shim_step_fail(c, errno, "chdir to the container's working directory");
        return 0;
    }
    if (c->cwd[0] != '/')
        return shim_step_failx(c, "working directory %s: not an absolute path", c->cwd);
    if (!c->ctr) {
        if (chdir(c->cwd) < 0)
            return shim_step_fail(c, errno, "chdir %s", c->cwd);
        return 0;
    }
    /* container start: create it (owned by the user) if the image lacks it, as runc does */
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return shim_step_fail(c, errno, "open /");
    int fd = shim_ctr_mkdir_in_root(root, c->cwd, 0755, c->ids.uid, c->ids.gid);
    close(root);
    if (fd < 0)
        return shim_step_fail(c, -fd, "create working directory %s", c->cwd);
    int r = fchdir(fd);
    int e = errno;
    close(fd);
    if (r < 0)
        return shim_step_fail(c, e, "chdir %s", c->cwd);
    return 0;
}

/* ---- seccomp ---- */

static int load_seccomp(shim_step_ctx *c)
{
    if (!c->bpf || !c->bpf_len)
        return 0;
    size_t n = c->bpf_len / sizeof(shim_sock_filter);
    if (c->bpf_len % sizeof(shim_sock_filter) || n == 0 || n > SHIM_BPF_MAXINSNS)
        return shim_step_failx(c, "invalid BPF program of %zu bytes", c->bpf_len);
    shim_sock_fprog prog = {.len = (unsigned short)n, .filter = (shim_sock_filter *)c->bpf};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) == 0)
        return 0;
    if (errno == EINVAL && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
        return 0;
    return shim_step_fail(c, errno, "load filter");
}

/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it goes before caps drop. */
int shim_step_seccomp_early(shim_step_ctx *c)
{
    return c->no_new_privs ? 0 : load_seccomp(c);
}

/* With no_new_privs, load it last so it filters as little of our own setup as possible. */
int shim_step_seccomp_late(shim_step_ctx *c)
{
    return c->no_new_privs ? load_seccomp(c) : 0;
}

/* ---- capabilities and ids ---- */

static int cap_last(void)
{
    char *t = NULL;
    int last = -1;
    if (shim_read_file(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &t) >= 0)
        last = shim_ctr_cap_last_parse(t);
    free(t);
    if (last >= 0)
        return last;
    /* no /proc/sys: probe the bounding set until the kernel says the number is unknown */
    for (last = 0; last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0; last++)
        ;
    return last;
}

static int drop_bounding(shim_step_ctx *c, uint64_t keep)
{
    int last = cap_last();
    for (int i = 0; i <= last; i++) {
        if (keep & (1ull << i))
            continue;
        if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL) {
            const char *n = shim_ctr_cap_name((unsigned)i);
            return shim_step_fail(c, errno, "drop %s from the bounding set", n ? n : "?");
        }
    }
    return 0;
}

static int set_ids(shim_step_ctx *c)
{
    const shim_ctr_user *u = &c->ids;
    gid_t groups[SHIM_CTR_MAX_GROUPS];
    for (size_t i = 0; i < u->n_groups; i++)
        groups[i] = u->groups[i];
    if (setgroups(u->n_groups, groups) < 0)
        return shim_step_fail(c, errno, "setgroups");
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return shim_step_fail(c, errno, "setgid %u", u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return shim_step_fail(c, errno, "setuid %u", u->uid);
    return 0;
}

static int set_caps(shim_step_ctx *c, uint64_t caps)
{
    shim_cap_header hdr = {.version = SHIM_CAP_VERSION_3, .pid = 0};
    shim_cap_data d[2];
    if (syscall(SYS_capget, &hdr, d) < 0)
        return shim_step_fail(c, errno, "capget");
    uint64_t have = (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
    uint64_t want = caps & have; /* what this process does not hold it cannot grant */
    for (int i = 0; i < 2; i++) {
        d[i].effective = d[i].permitted = (uint32_t)(want >> (32 * i));
        d[i].inheritable = 0;
    }
    if (syscall(SYS_capset, &hdr, d) < 0)
        return shim_step_fail(c, errno, "capset");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return shim_step_fail(c, errno, "clear ambient capabilities");
    return 0;
}

int shim_step_caps(shim_step_ctx *c)
{
    if (drop_bounding(c, c->caps) < 0)
        return -1;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return shim_step_fail(c, errno, "PR_SET_KEEPCAPS");
    if (set_ids(c) < 0)
        return -1;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
        return shim_step_fail(c, errno, "PR_SET_KEEPCAPS");
    return set_caps(c, c->caps);
}

int shim_step_nnp(shim_step_ctx *c)
{
    if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return shim_step_fail(c, errno, "PR_SET_NO_NEW_PRIVS");
    return 0;
}

/* ---- exec ---- */

/* Every fd >= first closes on exec. close_range() does it in one call (Linux 5.11); older
 * kernels get a walk over /proc/self/fd. */
static int cloexec_from(int first)
{
    if (shim_sys_close_range((unsigned)first, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return -1;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd < first || fd == self || e->d_name[0] == '.')
            continue;
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
            int err = errno;
            closedir(d);
            errno = err;
            return -1;
        }
    }
    closedir(d);
    return 0;
}

int shim_step_exec(shim_step_ctx *c)
{
    char path[PATH_MAX];
    if (!c->argv || !c->argv[0])
        return shim_step_failx(c, "no command specified");
    const char *pe = shim_ctr_env_get(c->env, "PATH");
    if (shim_ctr_path_lookup(c->argv[0], pe, path, sizeof(path), c->err, sizeof(c->err)) < 0)
        return -1;
    /* nothing but stdio may reach the program: every inherited fd closes on exec (the report
     * fd included, which is how the parent learns the exec happened) */
    if (cloexec_from(3) < 0)
        return shim_step_fail(c, errno, "mark inherited fds close-on-exec");
    execve(path, c->argv, c->env);
    return shim_step_fail(c, errno, "\"%s\"", c->argv[0]);
}
