/* pod_init.c - pid 1 of a pod's shared pid namespace, shown to the pod as /pause.
 *
 * The reaper is forked from the shim, whose command line holds host paths, the pod uid and
 * cgroups, and a forked child keeps it: the kernel reads /proc/<pid>/cmdline from the
 * process's own argv area. Overwriting that area in place cannot shrink it to "/pause" alone
 * and pointing the kernel at another one (PR_SET_MM) needs CAP_SYS_RESOURCE, so the child
 * re-executes the shim's executable through an fd opened before the pid namespace changed:
 * argv {"/pause"}, no environment. The fresh image also drops the shim's heap, which the fork
 * had shared copy-on-write.
 *
 * The reaper's fds: 0-2 on /dev/null and 3, the read end of a pipe the shim holds open. It
 * dies with the shim: PR_SET_PDEATHSIG, set again after the exec (an exec that changes
 * credentials clears it), then a look at the pipe for a shim that died before that.
 */
#include "pod_init.h"
#include "shim_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define ALIVE_FD 3

/* Reap orphans until the shim goes away (SIGKILL by PDEATHSIG, or the pipe check). */
static void __attribute__((noreturn)) reap(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct pollfd pf = {ALIVE_FD, POLLIN, 0};
    if (poll(&pf, 1, 0) != 0) /* the shim already died (or wrote: it never does) */
        _exit(0);
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    signal(SIGCHLD, SIG_DFL);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        sigwaitinfo(&chld, NULL);
    }
}

/* 0-2 onto /dev/null: the shim's log file is a host path the pod need not see. */
static void quiet_stdio(void)
{
    int fd;
    do {
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fd != i)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

bool shim_pod_init_is_me(int argc, char **argv)
{
    return argc == 1 && argv[0] && strcmp(argv[0], SHIM_POD_INIT_ARGV0) == 0 && getpid() == 1;
}

void shim_pod_init_main(void)
{
    prctl(PR_SET_NAME, "pause");
    shim_sys_close_range(ALIVE_FD + 1, ~0U, 0);
    quiet_stdio();
    reap();
}

/* In the forked child: keep only stdio, the pipe (as fd 3) and the executable, then exec. */
static void __attribute__((noreturn)) child(shim_ctx *ctx, int exe, int e, int alive)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int efd = exe >= 0 ? fcntl(exe, F_DUPFD_CLOEXEC, ALIVE_FD + 1) : -1;
    if (exe >= 0 && efd < 0)
        e = errno;
    /* dup2() onto itself keeps FD_CLOEXEC: clear it either way, fd 3 must survive the exec */
    if (dup2(alive, ALIVE_FD) < 0 || fcntl(ALIVE_FD, F_SETFD, 0) < 0)
        _exit(1);
    if (efd > ALIVE_FD + 1)
        shim_sys_close_range(ALIVE_FD + 1, (unsigned)efd - 1, 0);
    shim_sys_close_range(efd > ALIVE_FD ? (unsigned)efd + 1 : ALIVE_FD + 1, ~0U, 0);
    if (efd >= 0) {
        char *argv[] = {SHIM_POD_INIT_ARGV0, NULL};
        char *envp[] = {NULL};
        fexecve(efd, argv, envp);
        e = errno;
        close(efd);
    }
    /* still a working reaper, only with the shim's command line */
    shim_log(ctx, "warning: pod init could not re-execute as %s: %s", SHIM_POD_INIT_ARGV0,
             strerror(e));
    prctl(PR_SET_NAME, "pause");
    quiet_stdio();
    reap();
}

static int fail(char *msg, size_t len, const char *what, int e)
{
    snprintf(msg, len, "%s: %s", what, strerror(e));
    return -1;
}

int shim_pod_init_start(shim_ctx *ctx, char *msg, size_t len)
{
    /* before the pid namespace changes; O_PATH: exec needs no read permission on it */
    int exe;
    do {
        exe = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    } while (exe < 0 && errno == EINTR);
    int exe_err = exe < 0 ? errno : 0;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        if (exe >= 0)
            close(exe);
        return fail(msg, len, "pipe", e);
    }
    const char *what = NULL;
    pid_t pid = -1;
    if (unshare(CLONE_NEWPID) < 0)
        what = "unshare pod pid namespace";
    else if ((pid = fork()) < 0)
        what = "fork pod init";
    else if (pid == 0)
        child(ctx, exe, exe_err, p[0]);
    int e = errno;
    if (exe >= 0)
        close(exe);
    close(p[0]);
    if (what) {
        close(p[1]);
        return fail(msg, len, what, e);
    }
    ctx->init_pipe = p[1];
    ctx->init_pid = pid;
    return 0;
}
