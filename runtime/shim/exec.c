/* exec.c - run a command inside a running container: its cgroup, its namespaces, its root,
 * then the same process steps as a container start (user, cwd, seccomp, caps, exec).
 *
 * Joining a pid namespace only applies to children, so after setns the process forks once.
 * The intermediate stays outside the container's cgroup, forwards the usual termination
 * signals to the command and exits with its status (128 + signal when it was killed); the
 * command gets SIGKILL if the intermediate dies first.
 */
#include "container_int.h"
#include "ctr_path.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXEC_MAX_CGROUPS 16
#define EXEC_ENV_MAX     4096

static const struct {
    const char *name;
    int type;
} ns_order[] = {
    /* mnt last: once in it the target's /proc paths are no longer ours to open */
    {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"net", CLONE_NEWNET},
    {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
};
#define N_NS (sizeof(ns_order) / sizeof(ns_order[0]))

typedef struct exec_ctx {
    shim_step_ctx c; /* first: the steps see only this */
    const shim_exec_spec *spec;
    int ns[N_NS];
    int root;
    int cgroups[EXEC_MAX_CGROUPS];
    size_t n_cgroups;
    char *environ_buf;
    int alive; /* read end of a pipe the intermediate holds open while it lives */
} exec_ctx;

static exec_ctx *X(shim_step_ctx *c)
{
    return (exec_ctx *)c;
}

static int open_proc(shim_step_ctx *c, const char *what, int flags)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/%s", (int)X(c)->spec->target_pid, what);
    int fd = open(p, flags | O_CLOEXEC);
    if (fd < 0)
        shim_step_fail(c, errno, "open %s", p);
    return fd;
}

/* The target's environment, as the container's default for the command. */
static int read_environ(shim_step_ctx *c)
{
    exec_ctx *x = X(c);
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/environ", (int)x->spec->target_pid);
    long n = shim_read_file(AT_FDCWD, p, 1 << 20, &x->environ_buf);
    if (n < 0)
        return shim_step_fail(c, (int)-n, "read %s", p);
    char **v = calloc(EXEC_ENV_MAX, sizeof(char *));
    if (!v)
        return shim_step_fail(c, ENOMEM, "environment");
    int r = shim_ctr_split_nul(x->environ_buf, (size_t)n + 1, v, EXEC_ENV_MAX);
    if (r >= 0)
        r = shim_env_init(c, v);
    free(v);
    if (r < 0)
        return shim_step_fail(c, -r, "environment of %s", p);
    return 0;
}

static int read_status(shim_step_ctx *c)
{
    char p[64], *text = NULL;
    snprintf(p, sizeof(p), "/proc/%d/status", (int)X(c)->spec->target_pid);
    long n = shim_read_file(AT_FDCWD, p, 1 << 20, &text);
    if (n < 0)
        return shim_step_fail(c, (int)-n, "read %s", p);
    int r = shim_ctr_user_from_status(text, &c->ids);
    free(text);
    if (r < 0)
        return shim_step_failx(c, "%s: no Uid/Gid lines", p);
    c->ids_set = true;
    return 0;
}

/* Everything that names a host path is opened before the first setns. */
static int step_open(shim_step_ctx *c)
{
    exec_ctx *x = X(c);
    for (char *const *p = x->spec->cgroup_procs; p && *p; p++) {
        if (x->n_cgroups == EXEC_MAX_CGROUPS)
            return shim_step_failx(c, "more than %d cgroup files", EXEC_MAX_CGROUPS);
        int fd = open(*p, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return shim_step_fail(c, errno, "open %s", *p);
        x->cgroups[x->n_cgroups++] = fd;
    }
    for (size_t i = 0; i < N_NS; i++) {
        char what[16];
        snprintf(what, sizeof(what), "ns/%s", ns_order[i].name);
        if ((x->ns[i] = open_proc(c, what, O_RDONLY)) < 0)
            return -1;
    }
    if ((x->root = open_proc(c, "root", O_PATH | O_DIRECTORY)) < 0)
        return -1;
    if ((!c->cwd || !c->cwd[0]) && (c->cwd_fd = open_proc(c, "cwd", O_PATH | O_DIRECTORY)) < 0)
        return -1;
    if (!x->spec->env && read_environ(c) < 0)
        return -1;
    if (x->spec->env && shim_env_init(c, x->spec->env) < 0)
        return shim_step_fail(c, ENOMEM, "environment");
    if (!x->spec->user && read_status(c) < 0)
        return -1;
    return 0;
}

static int step_setns(shim_step_ctx *c)
{
    exec_ctx *x = X(c);
    for (size_t i = 0; i < N_NS; i++) {
        if (setns(x->ns[i], ns_order[i].type) < 0)
            return shim_step_fail(c, errno, "join the %s namespace of pid %d", ns_order[i].name,
                                  (int)x->spec->target_pid);
        close(x->ns[i]);
        x->ns[i] = -1;
    }
    /* the target's root, exactly (setns put us at the namespace's root, which pivot_root
     * made the container's, but a chroot inside the container would differ) */
    if (fchdir(x->root) < 0 || chroot(".") < 0)
        return shim_step_fail(c, errno, "enter the container's root");
    close(x->root);
    x->root = -1;
    if (chdir("/") < 0)
        return shim_step_fail(c, errno, "chdir /");
    return 0;
}

static int step_cgroup(shim_step_ctx *c)
{
    exec_ctx *x = X(c);
    for (size_t i = 0; i < x->n_cgroups; i++) {
        ssize_t w;
        do
            w = write(x->cgroups[i], "0", 1);
        while (w < 0 && errno == EINTR);
        if (w != 1)
            return shim_step_fail(c, w < 0 ? errno : EIO, "join the container's cgroup (%s)",
                                  x->spec->cgroup_procs[i]);
        close(x->cgroups[i]);
    }
    x->n_cgroups = 0;
    return 0;
}

/* Last before exec: credentials changes clear the parent-death signal, so set it after. */
static int step_pdeathsig(shim_step_ctx *c)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return shim_step_fail(c, errno, "PR_SET_PDEATHSIG");
    struct pollfd p = {.fd = X(c)->alive, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return shim_step_fail(c, errno, "poll");
    if (p.revents & (POLLHUP | POLLERR))
        return shim_step_failx(c, "the exec session ended before the command started");
    return 0;
}

static const shim_step parent_steps[] = {
    {"namespaces", step_open},
    {"namespaces", step_setns},
};

static const shim_step child_steps[] = {
    {"cgroup", step_cgroup},
    {"signals", shim_step_signals},
    {"user", shim_step_user},
    {"cwd", shim_step_cwd},
    {"seccomp", shim_step_seccomp_early},
    {"capabilities", shim_step_caps},
    {"no_new_privs", shim_step_nnp},
    {"seccomp", shim_step_seccomp_late},
    {"exec", step_pdeathsig},
    {"exec", shim_step_exec},
};

/* The intermediate: forward signals, reap the command, exit as it did. */
static void __attribute__((noreturn)) wait_child(pid_t child, const sigset_t *set)
{
    for (;;) {
        int st;
        pid_t w = waitpid(child, &st, WNOHANG);
        if (w == child) {
            if (WIFEXITED(st))
                _exit(WEXITSTATUS(st));
            _exit(128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
        }
        if (w < 0 && errno != EINTR)
            _exit(SHIM_EXIT_SETUP);
        siginfo_t si;
        int s = sigwaitinfo(set, &si);
        if (s > 0 && s != SIGCHLD)
            kill(child, s);
    }
}

void shim_exec_run(const shim_exec_spec *spec, int report_fd)
{
    exec_ctx x = {
        .c =
            {
                .report_fd = report_fd,
                .rootfd = -1,
                .argv = spec->argv,
                .cwd = spec->cwd,
                .cwd_fd = -1,
                .user = spec->user,
                .caps = spec->caps,
                .no_new_privs = spec->no_new_privs,
                .bpf = spec->seccomp_bpf,
                .bpf_len = spec->seccomp_bpf_len,
            },
        .spec = spec,
        .root = -1,
        .alive = -1,
    };
    for (size_t i = 0; i < N_NS; i++)
        x.ns[i] = -1;
    static const int fwd[] = {SIGCHLD, SIGTERM, SIGINT,   SIGHUP, SIGQUIT,
                              SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
        sigaddset(&set, fwd[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        shim_step_die(report_fd, "signals", strerror(errno));
    shim_steps_run(&x.c, parent_steps, sizeof(parent_steps) / sizeof(parent_steps[0]));
    int alive[2];
    if (pipe2(alive, O_CLOEXEC) < 0)
        shim_step_die(report_fd, "fork", strerror(errno));
    pid_t child = fork();
    if (child < 0)
        shim_step_die(report_fd, "fork", strerror(errno));
    if (child == 0) {
        close(alive[1]);
        x.alive = alive[0];
        shim_steps_run(&x.c, child_steps, sizeof(child_steps) / sizeof(child_steps[0]));
        _exit(SHIM_EXIT_SETUP);
    }
    /* the command reports its own setup errors; the shim reads EOF once it execs */
    if (report_fd >= 0)
        close(report_fd);
    close(alive[0]);
    for (size_t i = 0; i < x.n_cgroups; i++)
        close(x.cgroups[i]);
    wait_child(child, &set);
}
