/* cni_exec.c - running one CNI plugin: find it on the search path, posix_spawn it with the CNI
 * environment, its config on stdin, and collect stdout and stderr with a deadline.
 *
 * The agent is multi-threaded, so nothing runs between fork and exec: posix_spawn (glibc uses
 * CLONE_VFORK) with every string and fd prepared before. stdin is written into its pipe before
 * the plugin starts (the pipe is grown to hold it), so there is no SIGPIPE to fear and only
 * stdout and stderr need polling. The plugin gets its own process group, so a timeout kills the
 * IPAM plugin it may have started as well. A pidfd tells when the plugin itself exited, so a
 * daemon it left holding the pipes cannot stall the caller.
 */
#include "cni_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define STDERR_KEEP  4096
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int rt_cni_find_plugin(const char *bin_path, const char *type, char **path, mk_err *err)
{
    const char *p = bin_path;
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n > 0) {
            char *cand = xasprintf("%.*s/%s", (int)n, p, type);
            struct stat st;
            if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
                *path = cand;
                return 0;
            }
            free(cand);
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return mk_errf(err, ENOENT,
                   "CNI plugin \"%s\" not found in %s (install the plugin or add its directory "
                   "to the CNI bin path)",
                   type, bin_path);
}

typedef struct buf {
    char *data;
    size_t len, cap, max;
    bool overflow;
} buf;

static void buf_add(buf *b, const char *p, size_t n)
{
    if (b->len + n > b->max) {
        b->overflow = true;
        n = b->max - b->len;
    }
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Read what is there; 1 at EOF, 0 for more later, -errno on error. */
static int drain(int fd, buf *b)
{
    char tmp[8192];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof(tmp));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN ? 0 : -errno;
        if (r == 0)
            return 1;
        buf_add(b, tmp, (size_t)r);
    }
}

typedef struct proc {
    pid_t pid;
    int pidfd;
    int out, errfd; /* read ends, O_NONBLOCK */
} proc;

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* stdin as a pipe that already holds all of `data` (write end closed). */
static int stdin_pipe(const char *data, int *rd, mk_err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return mk_errf_sys(err, errno, "pipe");
    size_t len = strlen(data);
    if (len > 65536 && fcntl(p[1], F_SETPIPE_SZ, (int)len) < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return mk_errf_sys(err, e, "CNI plugin config of %zu bytes does not fit a pipe", len);
    }
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(p[1], data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(p[0]);
            close(p[1]);
            return mk_errf_sys(err, e, "write CNI plugin config");
        }
        off += (size_t)w;
    }
    close(p[1]);
    *rd = p[0];
    return 0;
}

static char **make_env(const rt_cni_call *c)
{
    const char *path = getenv("PATH");
    char **env = xcalloc(9, sizeof(char *));
    size_t n = 0;
    env[n++] = xasprintf("CNI_COMMAND=%s", c->command);
    env[n++] = xasprintf("CNI_CONTAINERID=%s", c->container_id ? c->container_id : "");
    env[n++] = xasprintf("CNI_NETNS=%s", c->netns ? c->netns : "");
    env[n++] = xasprintf("CNI_IFNAME=%s", c->ifname ? c->ifname : "");
    env[n++] = xasprintf("CNI_ARGS=%s", c->args ? c->args : "");
    env[n++] = xasprintf("CNI_PATH=%s", c->bin_path);
    env[n++] = xasprintf("PATH=%s", path && *path ? path : DEFAULT_PATH);
    return env;
}

static int spawn(const char *exe, char **env, int in, proc *pr, mk_err *err)
{
    int o[2] = {-1, -1}, e[2] = {-1, -1};
    if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
        int er = errno;
        close_fd(&o[0]);
        close_fd(&o[1]);
        return mk_errf_sys(err, er, "pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    char *argv[] = {(char *)exe, NULL};
    int r = posix_spawn(&pr->pid, exe, &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(o[1]);
    close(e[1]);
    if (r != 0) {
        close(o[0]);
        close(e[0]);
        return mk_errf_sys(err, r, "start CNI plugin %s", exe);
    }
    pr->out = o[0];
    pr->errfd = e[0];
    fcntl(pr->out, F_SETFL, O_NONBLOCK);
    fcntl(pr->errfd, F_SETFL, O_NONBLOCK);
    pr->pidfd = (int)syscall(SYS_pidfd_open, pr->pid, 0); /* -1: poll the pipes only */
    return 0;
}

/* Collect output until both pipes close or the plugin exits; false on timeout. */
static bool collect(proc *pr, int timeout_ms, buf *out, buf *errb)
{
    int64_t deadline = mk_monotonic_ns() / 1000000 + timeout_ms;
    bool out_open = true, err_open = true, exited = false;
    while ((out_open || err_open) && !exited) {
        int64_t left = deadline - mk_monotonic_ns() / 1000000;
        if (left <= 0)
            return false;
        struct pollfd pf[3] = {{out_open ? pr->out : -1, POLLIN, 0},
                               {err_open ? pr->errfd : -1, POLLIN, 0},
                               {pr->pidfd, POLLIN, 0}};
        int r = poll(pf, 3, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR)
            return false;
        if (r <= 0)
            continue;
        if (pf[0].revents && drain(pr->out, out) != 0)
            out_open = false;
        if (pf[1].revents && drain(pr->errfd, errb) != 0)
            err_open = false;
        exited = pf[2].revents != 0;
    }
    if (out_open)
        drain(pr->out, out); /* what the plugin wrote before it exited */
    if (err_open)
        drain(pr->errfd, errb);
    return true;
}

static int reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return st;
}

/* The last non-empty line of stderr, for messages. */
static void last_line(const buf *b, char *dst, size_t len)
{
    dst[0] = '\0';
    if (!b->data)
        return;
    size_t end = b->len;
    while (end > 0 && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start > 0 && b->data[start - 1] != '\n')
        start--;
    snprintf(dst, len, "%.*s", (int)(end - start), b->data + start);
}

static int judge(const rt_cni_call *c, const char *type, int st, buf *out, buf *errb, char **result,
                 int *cni_code, mk_err *err)
{
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        if (out->overflow)
            return mk_errf(err, EPROTO, "CNI plugin %s %s: result larger than %d bytes", type,
                           c->command, RT_CNI_MAX_JSON);
        *result = out->data ? MK_STEAL(out->data) : xstrdup("");
        return 0;
    }
    char why[512], line[400];
    last_line(errb, line, sizeof(line));
    if (WIFSIGNALED(st))
        snprintf(why, sizeof(why), "killed by signal %d%s%s", WTERMSIG(st), *line ? ": " : "",
                 line);
    else
        snprintf(why, sizeof(why), "exit status %d%s%s", WEXITSTATUS(st), *line ? ": " : "", line);
    return rt_cni_error_parse(out->data, type, c->command, why, cni_code, err);
}

int rt_cni_exec(const rt_cni_call *c, const char *type, const char *stdin_json, char **out,
                int *cni_code, mk_err *err)
{
    *cni_code = 0;
    cleanup_free char *exe = NULL;
    int r = rt_cni_find_plugin(c->bin_path, type, &exe, err);
    if (r < 0)
        return r;
    int in = -1;
    r = stdin_pipe(stdin_json, &in, err);
    if (r < 0)
        return r;
    char **env = make_env(c);
    int64_t t0 = mk_monotonic_ns();
    proc pr = {.pid = -1, .pidfd = -1, .out = -1, .errfd = -1};
    r = spawn(exe, env, in, &pr, err);
    close(in);
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
    if (r < 0)
        return r;
    buf ob = {.max = RT_CNI_MAX_JSON}, eb = {.max = STDERR_KEEP};
    int timeout = c->timeout_ms > 0 ? c->timeout_ms : RT_CNI_TIMEOUT_MS;
    bool done = collect(&pr, timeout, &ob, &eb);
    if (!done) {
        kill(-pr.pid, SIGKILL);
        kill(pr.pid, SIGKILL);
    }
    int st = reap(pr.pid);
    close_fd(&pr.out);
    close_fd(&pr.errfd);
    close_fd(&pr.pidfd);
    if (!done)
        r = mk_errf(err, ETIMEDOUT, "CNI plugin %s %s did not finish within %d ms; killed", type,
                    c->command, timeout);
    else if (st < 0)
        r = mk_errf_sys(err, errno, "wait for CNI plugin %s", type);
    else
        r = judge(c, type, st, &ob, &eb, out, cni_code, err);
    mk_debug("CNI plugin %s %s for %s: %s in %.1f ms", type, c->command, c->container_id,
             r < 0 ? "failed" : "done", (double)(mk_monotonic_ns() - t0) / 1e6);
    free(ob.data);
    free(eb.data);
    return r;
}
