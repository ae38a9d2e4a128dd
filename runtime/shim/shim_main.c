/* shim_main.c - mini-kubelet-shim: options, the pod sandbox setup and daemonizing.
 *
 * The process the agent starts forks the real shim and exits once the shim answers (or
 * failed), so the shim is never the agent's child: it survives the agent and is reaped by
 * init. The shim joins the pod cgroup, becomes a child subreaper, unshares the pod's mount,
 * net, ipc and uts namespaces (a pid namespace too with --share-pid, whose pid 1 is a small
 * reaper shown to the pod as /pause, see pod_init.c), sets the hostname, brings lo up, and
 * serves its socket.
 */
#include "pod_init.h"
#include "shim.h"
#include "shim_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 10000

static const char usage_text[] =
    "Usage: mini-kubelet-shim --run-dir DIR --uid UID --ns NS --name NAME [options]\n"
    "\n"
    "The sandbox and monitor of one pod, started by mini-kubelet. It holds the pod's\n"
    "namespaces, starts the containers, records their exits, writes their CRI logs and runs\n"
    "execs. It serves DIR/shim.sock (0600) and writes DIR/shim.pid and DIR/exits/<id>.\n"
    "The starting process returns once the shim answers (exit 0) or failed (exit 1, the\n"
    "reason on stderr); the shim itself keeps running in the background.\n"
    "\n"
    "  --run-dir DIR        directory for the socket, pid file and exit records (must exist)\n"
    "  --uid UID            the pod's uid        (for messages)\n"
    "  --ns NS              the pod's namespace  (for messages)\n"
    "  --name NAME          the pod's name       (for messages; default hostname)\n"
    "  --hostname H         hostname of the pod's UTS namespace (default NAME)\n"
    "  --host-network       stay in the host's network and UTS namespaces\n"
    "  --host-ipc           stay in the host's IPC namespace\n"
    "  --host-pid           containers stay in the host's pid namespace\n"
    "  --share-pid          one pid namespace for the pod, with a reaper (/pause) as pid 1\n"
    "  --cgroup-procs FILE  join this cgroup.procs first (repeatable)\n"
    "  --foreground         do not detach (debugging)\n"
    "  --help, --version\n"
    "\n"
    "SIGTERM or SIGINT: kill every container, reap, remove the socket and pid file, exit 0.\n";

void shim_log(const shim_ctx *ctx, const char *fmt, ...)
{
    char ts[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    /* by hand, not strftime(): that would link the C library's time zone code */
    if (gmtime_r(&now, &tm))
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s shim[%d] pod %s/%s: %s\n", ts, (int)getpid(), ctx->o.ns, ctx->o.name, msg);
}

int64_t shim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t shim_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- options ---- */

enum {
    OPT_RUN_DIR = 256,
    OPT_UID,
    OPT_NS,
    OPT_NAME,
    OPT_HOSTNAME,
    OPT_HOST_NET,
    OPT_HOST_IPC,
    OPT_HOST_PID,
    OPT_SHARE_PID,
    OPT_CGROUP,
    OPT_FG,
    OPT_HELP,
    OPT_VERSION
};

static int add_cgroup(shim_opts *o, size_t *n, const char *path)
{
    char **v = realloc(o->cgroup_procs, (*n + 2) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    v[(*n)++] = (char *)path;
    v[*n] = NULL;
    o->cgroup_procs = v;
    return 0;
}

/* 0: run; 1: exit 0 (help/version printed); -1: usage error (printed). */
static int parse_opts(int argc, char **argv, shim_opts *o)
{
    static const struct option lo[] = {
        {"run-dir", required_argument, 0, OPT_RUN_DIR},
        {"uid", required_argument, 0, OPT_UID},
        {"ns", required_argument, 0, OPT_NS},
        {"name", required_argument, 0, OPT_NAME},
        {"hostname", required_argument, 0, OPT_HOSTNAME},
        {"host-network", no_argument, 0, OPT_HOST_NET},
        {"host-ipc", no_argument, 0, OPT_HOST_IPC},
        {"host-pid", no_argument, 0, OPT_HOST_PID},
        {"share-pid", no_argument, 0, OPT_SHARE_PID},
        {"cgroup-procs", required_argument, 0, OPT_CGROUP},
        {"foreground", no_argument, 0, OPT_FG},
        {"help", no_argument, 0, OPT_HELP},
        {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    size_t ncg = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case OPT_RUN_DIR:
            o->run_dir = optarg;
            break;
        case OPT_UID:
            o->uid = optarg;
            break;
        case OPT_NS:
            o->ns = optarg;
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case OPT_HOSTNAME:
            o->hostname = optarg;
            break;
        case OPT_HOST_NET:
            o->host_network = true;
            break;
        case OPT_HOST_IPC:
            o->host_ipc = true;
            break;
        case OPT_HOST_PID:
            o->host_pid = true;
            break;
        case OPT_SHARE_PID:
            o->share_pid = true;
            break;
        case OPT_CGROUP:
            if (add_cgroup(o, &ncg, optarg) < 0)
                return -1;
            break;
        case OPT_FG:
            o->foreground = true;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return 1;
        case OPT_VERSION:
            printf("mini-kubelet-shim %s (protocol %d)\n", MK_VERSION, SHIM_PROTO_VERSION);
            return 1;
        default:
            fputs("mini-kubelet-shim: see --help\n", stderr);
            return -1;
        }
    }
    if (optind < argc || !o->run_dir || !o->uid || !o->ns || !o->name) {
        fputs("mini-kubelet-shim: --run-dir, --uid, --ns and --name are required (see --help)\n",
              stderr);
        return -1;
    }
    if (!o->hostname)
        o->hostname = o->name;
    if (o->host_pid)
        o->share_pid = false;
    return 0;
}

/* ---- sandbox setup; each step returns 0 or -1 with the reason written to msg ---- */

static int fail(char *msg, size_t len, const char *what, int e)
{
    snprintf(msg, len, "%s: %s", what, strerror(e));
    return -1;
}

static int write_str(const char *path, const char *s)
{
    int fd;
    do {
        fd = open(path, O_WRONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    ssize_t w;
    do {
        w = write(fd, s, strlen(s));
    } while (w < 0 && errno == EINTR);
    int e = w < 0 ? errno : 0;
    close(fd);
    return -e;
}

static int join_cgroups(shim_ctx *ctx, char *msg, size_t len)
{
    for (char **p = ctx->o.cgroup_procs; p && *p; p++) {
        int r = write_str(*p, "0");
        if (r < 0) {
            snprintf(msg, len, "join cgroup %s: %s", *p, strerror(-r));
            return -1;
        }
    }
    return 0;
}

static int lo_up(char *msg, size_t len)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return fail(msg, len, "bring up lo: socket", errno);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);
    return r < 0 ? fail(msg, len, "bring up lo", e) : 0;
}

static int enter_namespaces(shim_ctx *ctx, char *msg, size_t len)
{
    int flags = CLONE_NEWNS;
    if (!ctx->o.host_network)
        flags |= CLONE_NEWNET | CLONE_NEWUTS; /* a host-network pod keeps the host's name too */
    if (!ctx->o.host_ipc)
        flags |= CLONE_NEWIPC;
    if (unshare(flags) < 0)
        return fail(msg, len, "unshare pod namespaces", errno);
    /* nothing mounted in the pod propagates to the host; host unmounts still reach us */
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return fail(msg, len, "make the pod mount namespace a slave of the host", errno);
    if (!ctx->o.host_network) {
        if (sethostname(ctx->o.hostname, strlen(ctx->o.hostname)) < 0)
            return fail(msg, len, "sethostname", errno);
        if (lo_up(msg, len) < 0)
            return -1;
    }
    return 0;
}

static int write_pid_file(shim_ctx *ctx, char *msg, size_t len)
{
    char buf[32], tmp[64];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)ctx->pid);
    snprintf(tmp, sizeof(tmp), "%s.tmp", SHIM_PID_NAME);
    int fd = openat(ctx->run_dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(msg, len, "write shim.pid", errno);
    ssize_t w;
    do {
        w = write(fd, buf, (size_t)n);
    } while (w < 0 && errno == EINTR);
    int e = w != n ? (w < 0 ? errno : EIO) : 0;
    if (close(fd) < 0 && !e)
        e = errno;
    if (!e && renameat(ctx->run_dirfd, tmp, ctx->run_dirfd, SHIM_PID_NAME) < 0)
        e = errno;
    return e ? fail(msg, len, "write shim.pid", e) : 0;
}

static int setup(shim_ctx *ctx, char *msg, size_t len)
{
    ctx->pid = getpid();
    if (join_cgroups(ctx, msg, len) < 0)
        return -1;
    if (chdir("/") < 0)
        return fail(msg, len, "chdir /", errno);
    umask(022);
    ctx->run_dirfd = open(ctx->o.run_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ctx->run_dirfd < 0) {
        snprintf(msg, len, "open run dir %s: %s", ctx->o.run_dir, strerror(errno));
        return -1;
    }
    if (mkdirat(ctx->run_dirfd, SHIM_EXITS_DIR, 0700) < 0 && errno != EEXIST)
        return fail(msg, len, "mkdir exits", errno);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return fail(msg, len, "become a child subreaper", errno);
    ctx->pidns_fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (ctx->pidns_fd < 0)
        return fail(msg, len, "open /proc/self/ns/pid", errno);
    if (enter_namespaces(ctx, msg, len) < 0)
        return -1;
    if (ctx->o.share_pid && shim_pod_init_start(ctx, msg, len) < 0)
        return -1;
    if (shim_loop_init(ctx) < 0) {
        snprintf(msg, len, "serve %s/%s: %s", ctx->o.run_dir, SHIM_SOCK_NAME, strerror(errno));
        return -1;
    }
    return write_pid_file(ctx, msg, len);
}

/* The parent waits for the shim's first word on the pipe: "OK" or the reason it failed. */
static int wait_ready(pid_t child, int fd)
{
    char buf[1024];
    size_t got = 0;
    int64_t deadline = shim_mono_ms() + READY_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - shim_mono_ms();
        struct pollfd pf = {fd, POLLIN, 0};
        int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            kill(child, SIGKILL);
            fputs("mini-kubelet-shim: the sandbox did not come up within 10 s\n", stderr);
            return 1;
        }
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || got + (size_t)n == sizeof(buf) - 1) {
            got += n > 0 ? (size_t)n : 0;
            break;
        }
        got += (size_t)n;
    }
    buf[got] = 0;
    if (strcmp(buf, "OK") == 0)
        return 0;
    if (got == 0) /* it died without a word: it logged why, if it could */
        fputs("mini-kubelet-shim: the sandbox process died during setup\n", stderr);
    return 1;
}

static void tell(int fd, const char *s)
{
    if (fd < 0)
        return;
    ssize_t w;
    do {
        w = write(fd, s, strlen(s));
    } while (w < 0 && errno == EINTR);
    close(fd);
}

static int run_shim(shim_ctx *ctx, int ready_fd)
{
    char msg[1024];
    if (setup(ctx, msg, sizeof(msg)) < 0) {
        shim_log(ctx, "error: %s", msg);
        tell(ready_fd, msg);
        if (ctx->init_pid > 0)
            kill(ctx->init_pid, SIGKILL);
        return 1;
    }
    shim_log(ctx, "sandbox up (pid %d%s%s%s)", (int)ctx->pid,
             ctx->o.host_network ? ", host network" : "", ctx->o.host_ipc ? ", host ipc" : "",
             ctx->o.share_pid ? ", shared pid namespace" : "");
    tell(ready_fd, "OK");
    return shim_loop_run(ctx);
}

int main(int argc, char **argv)
{
    if (shim_pod_init_is_me(argc, argv))
        shim_pod_init_main();
    shim_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.run_dirfd = ctx.pidns_fd = ctx.init_pipe = ctx.epfd = ctx.sigfd = ctx.lfd = -1;
    if (argc > 0) { /* the arguments lie one after the other, each with its NUL */
        ctx.args = argv[0];
        ctx.args_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
    }
    int r = parse_opts(argc, argv, &ctx.o);
    if (r != 0) {
        free(ctx.o.cgroup_procs);
        return r > 0 ? 0 : 2;
    }
    if (ctx.o.foreground)
        return run_shim(&ctx, -1);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
        perror("mini-kubelet-shim: pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("mini-kubelet-shim: fork");
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        exit(run_shim(&ctx, p[1])); /* exit(): leak checkers run in sanitizer builds */
    }
    close(p[1]);
    free(ctx.o.cgroup_procs);
    return wait_ready(pid, p[0]);
}
