/* shim_ctr.c - container instances: start, log pipes, reaping, exit records, status.
 *
 * A START forks a child (in a new pid namespace unless the pod shares one or uses the host's)
 * that unshares its mount namespace, puts the log pipes on stdout/stderr and runs
 * shim_container_run(). The reply waits, without blocking the loop, for the child's report
 * pipe: EOF alone means execve succeeded; a line is the step that failed.
 */
#include "container.h"
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#define PUMP_READS_PER_EVENT 4
#define DRAIN_MAX_BYTES      (16 * 1024 * 1024)

bool shim_valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > SHIM_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

int shim_exit_code(int wstatus, int *sig)
{
    *sig = 0;
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) {
        *sig = WTERMSIG(wstatus);
        return 128 + *sig;
    }
    return 255;
}

int shim_report_errno(const char *line)
{
    if (strstr(line, strerror(ENOENT)) || strstr(line, "executable file not found"))
        return ENOENT;
    if (strstr(line, strerror(EACCES)))
        return EACCES;
    if (strstr(line, strerror(EPERM)))
        return EPERM;
    return EIO;
}

shim_ctr *shim_ctr_find(shim_ctx *ctx, const char *id)
{
    for (shim_ctr *c = ctx->ctrs; c; c = c->next)
        if (!c->failed && strcmp(c->rec.id, id) == 0)
            return c;
    return NULL;
}

static char **strv_dup(char *const *v)
{
    size_t n = shim_strv_len(v);
    char **out = calloc(n + 1, sizeof(*out));
    for (size_t i = 0; out && i < n; i++) {
        out[i] = strdup(v[i]);
        if (!out[i]) {
            while (i > 0)
                free(out[--i]);
            free(out);
            return NULL;
        }
    }
    return out;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ---- logs ---- */

static void close_streams(shim_ctx *ctx, shim_ctr *ct)
{
    for (int s = 0; s < 2; s++) {
        shim_watch_close(ctx, &ct->pipe_w[s]);
        if (ct->log[s])
            shim_crilog_flush(ct->log[s]);
        shim_big_free(ct->log[s], sizeof(shim_crilog));
        ct->log[s] = NULL;
    }
    if (ct->log_fd >= 0)
        close(ct->log_fd);
    ct->log_fd = -1;
}

/* Move pipe bytes into the CRI log: a few reads per wakeup (fairness), or until empty. */
static void pump(shim_ctx *ctx, shim_ctr *ct, int s, bool drain)
{
    size_t total = 0;
    for (int i = 0; ct->pipe_w[s].fd >= 0 && (drain || i < PUMP_READS_PER_EVENT); i++) {
        ssize_t n = read(ct->pipe_w[s].fd, ctx->io, SHIM_MSG_MAX);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF: the container closed it; flush a partial line */
            shim_watch_close(ctx, &ct->pipe_w[s]);
            shim_crilog_flush(ct->log[s]);
            return;
        }
        shim_crilog_feed(ct->log[s], (const char *)ctx->io, (size_t)n);
        total += (size_t)n;
        if (total > DRAIN_MAX_BYTES)
            return;
    }
}

void shim_ctr_on_pipe(shim_ctx *ctx, shim_ctr *ct, int stream)
{
    pump(ctx, ct, stream, false);
}

/* ---- exits ---- */

static void write_exit_record(shim_ctx *ctx, const shim_ctr *ct)
{
    const shim_ctr_record *r = &ct->rec;
    char buf[512], path[128], tmp[140];
    int n = snprintf(buf, sizeof(buf),
                     "name=%s\nid=%s\nattempt=%d\npid=%d\nexit_code=%d\nsignal=%d\n"
                     "started_ns=%lld\nfinished_ns=%lld\n",
                     r->name, r->id, (int)r->attempt, (int)r->pid, (int)r->exit_code,
                     (int)r->signal, (long long)r->started_ns, (long long)r->finished_ns);
    snprintf(path, sizeof(path), "%s/%s", SHIM_EXITS_DIR, r->id);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = openat(ctx->run_dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        shim_log(ctx, "warning: exit record %s: %s", path, strerror(errno));
        return;
    }
    ssize_t w;
    do {
        w = write(fd, buf, (size_t)n);
    } while (w < 0 && errno == EINTR);
    bool ok = w == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || renameat(ctx->run_dirfd, tmp, ctx->run_dirfd, path) < 0) {
        shim_log(ctx, "warning: exit record %s: %s", path, strerror(errno));
        unlinkat(ctx->run_dirfd, tmp, 0);
    }
}

static void forget(shim_ctx *ctx, shim_ctr *ct)
{
    for (shim_ctr **pp = &ctx->ctrs; *pp; pp = &(*pp)->next) {
        if (*pp == ct) {
            *pp = ct->next;
            break;
        }
    }
    close_streams(ctx, ct);
    shim_watch_close(ctx, &ct->report.w);
    strv_free(ct->cgroup_procs);
    ct->cgroup_procs = NULL;
    shim_defer_free(ctx, ct);
}

static void finish_exit(shim_ctx *ctx, shim_ctr *ct)
{
    for (int s = 0; s < 2; s++)
        pump(ctx, ct, s, true);
    close_streams(ctx, ct);
    ct->phase = CTR_EXITED;
    ct->rec.state = SHIM_CTR_EXITED;
    write_exit_record(ctx, ct);
    shim_msg m = {.type = SHIM_EV_EXITED};
    m.u.event.ctr = ct->rec;
    ct->delivered = shim_broadcast(ctx, &m) > 0;
    if (ct->rec.signal)
        shim_log(ctx, "container %s (%.12s) killed by signal %d", ct->rec.name, ct->rec.id,
                 (int)ct->rec.signal);
    else
        shim_log(ctx, "container %s (%.12s) exited with code %d", ct->rec.name, ct->rec.id,
                 (int)ct->rec.exit_code);
}

bool shim_ctr_reaped(shim_ctx *ctx, pid_t pid, int wstatus)
{
    shim_ctr *ct = ctx->ctrs;
    while (ct && !(ct->rec.pid == pid && !ct->reaped && ct->phase != CTR_EXITED))
        ct = ct->next;
    if (!ct)
        return false;
    int sig;
    ct->reaped = true;
    ct->wstatus = wstatus;
    ct->rec.finished_ns = shim_now_ns();
    ct->rec.exit_code = shim_exit_code(wstatus, &sig);
    ct->rec.signal = sig;
    if (ct->phase == CTR_RUNNING)
        finish_exit(ctx, ct);
    else if (ct->failed)
        forget(ctx, ct);
    /* else still starting: the report pipe decides once it reaches EOF */
    return true;
}

/* ---- start ---- */

bool shim_report_read(shim_ctx *ctx, shim_report *r)
{
    for (;;) {
        char tmp[256];
        ssize_t n = read(r->w.fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return false;
        if (n <= 0)
            break;
        size_t room = sizeof(r->buf) - 1 - r->len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(r->buf + r->len, tmp, take);
        r->len += take;
    }
    shim_watch_close(ctx, &r->w);
    r->buf[r->len] = 0;
    while (r->len > 0 && (r->buf[r->len - 1] == '\n' || r->buf[r->len - 1] == '\r'))
        r->buf[--r->len] = 0;
    return true;
}

void shim_ctr_on_report(shim_ctx *ctx, shim_ctr *ct)
{
    if (!shim_report_read(ctx, &ct->report))
        return;
    shim_conn *c = ct->report.waiter;
    ct->report.waiter = NULL;
    if (ct->report.len > 0) {
        if (c) {
            shim_reply_err(ctx, c, shim_report_errno(ct->report.buf), 0, "start container %s: %s",
                           ct->rec.name, ct->report.buf);
            shim_conn_unbusy(ctx, c);
        }
        shim_log(ctx, "container %s failed to start: %s", ct->rec.name, ct->report.buf);
        for (int s = 0; s < 2; s++) /* whatever it printed still goes to its log */
            pump(ctx, ct, s, true);
        ct->failed = true;
        if (ct->reaped)
            forget(ctx, ct);
        return;
    }
    ct->phase = CTR_RUNNING;
    if (c) {
        shim_reply_ok(ctx, c, ct->rec.pid, 0);
        shim_conn_unbusy(ctx, c);
    }
    shim_msg m = {.type = SHIM_EV_STARTED};
    m.u.event.ctr = ct->rec;
    shim_broadcast(ctx, &m);
    if (ct->reaped)
        finish_exit(ctx, ct);
}

static void report_line(int fd, const char *what, int e)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%s: %s\n", what, strerror(e));
    if (n > 0 && write(fd, buf, (size_t)n) < 0)
        _exit(127);
}

static void __attribute__((noreturn))
child_run(shim_ctx *ctx, const shim_start_req *r, int outw, int errw, int repw, bool new_pid)
{
    shim_child_signals(ctx);
    setsid();
    if (unshare(CLONE_NEWNS) < 0) {
        report_line(repw, "unshare mount namespace", errno);
        _exit(127);
    }
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul < 0 || dup2(nul, 0) < 0 || dup2(outw, 1) < 0 || dup2(errw, 2) < 0) {
        report_line(repw, "set up stdio", errno);
        _exit(127);
    }
    shim_ctr_spec spec = {
        .name = r->name,
        .id = r->id,
        .lower_dirs = r->lower_dirs,
        .upper_dir = r->upper_dir,
        .work_dir = r->work_dir,
        .rootfs_mnt = r->rootfs_mnt,
        .argv = r->argv,
        .env = r->env,
        .cwd = r->cwd,
        .user = r->user,
        .caps = r->caps,
        .no_new_privs = r->no_new_privs,
        .hosts_file = r->hosts_file,
        .hostname_file = r->hostname_file,
        .resolv_file = r->resolv_file,
        .termination_log = r->termination_log,
        .termination_path = r->termination_path,
        .cgroup_procs = r->cgroup_procs,
        .new_pid_ns = new_pid,
    };
    shim_container_run(&spec, repw);
}

static const char *start_invalid(shim_ctx *ctx, const shim_start_req *r)
{
    if (!r->name || strlen(r->name) > SHIM_NAME_MAX)
        return "a container name of at most 63 bytes is required";
    if (!shim_valid_id(r->id))
        return "the container id must be 1-64 characters of [A-Za-z0-9_-]";
    if (shim_ctr_find(ctx, r->id))
        return "a container with this id already exists";
    if (shim_strv_len(r->argv) == 0)
        return "argv is empty";
    if (shim_strv_len(r->lower_dirs) == 0 || !r->upper_dir || !r->work_dir || !r->rootfs_mnt)
        return "lower_dirs, upper_dir, work_dir and rootfs_mnt are required";
    if (!r->log_path)
        return "log_path is required";
    return NULL;
}

static shim_ctr *ctr_new(const shim_start_req *r)
{
    shim_ctr *ct = calloc(1, sizeof(*ct));
    if (!ct)
        return NULL;
    snprintf(ct->rec.name, sizeof(ct->rec.name), "%s", r->name);
    snprintf(ct->rec.id, sizeof(ct->rec.id), "%s", r->id);
    ct->rec.attempt = r->attempt;
    ct->rec.state = SHIM_CTR_RUNNING;
    ct->caps = r->caps;
    ct->no_new_privs = r->no_new_privs;
    ct->log_fd = -1;
    ct->pipe_w[0] = (shim_watch){W_PIPE, -1, ct, 0};
    ct->pipe_w[1] = (shim_watch){W_PIPE, -1, ct, 1};
    ct->report.w = (shim_watch){W_CTR_REPORT, -1, ct, 0};
    ct->cgroup_procs = strv_dup(r->cgroup_procs);
    ct->log[0] = shim_big_alloc(sizeof(shim_crilog));
    ct->log[1] = shim_big_alloc(sizeof(shim_crilog));
    if (!ct->cgroup_procs || !ct->log[0] || !ct->log[1]) {
        strv_free(ct->cgroup_procs);
        shim_big_free(ct->log[0], sizeof(shim_crilog));
        shim_big_free(ct->log[1], sizeof(shim_crilog));
        free(ct);
        return NULL;
    }
    return ct;
}

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
    p[0] = p[1] = -1;
}

/* Fork the container child; the parent keeps the read ends. Returns the pid or -errno. */
static pid_t fork_container(shim_ctx *ctx, const shim_start_req *r, int out[2], int err[2],
                            int rep[2])
{
    bool new_pid = !ctx->o.host_pid && !ctx->o.share_pid;
    if (new_pid && unshare(CLONE_NEWPID) < 0)
        return -errno;
    pid_t pid = fork();
    int e = errno;
    if (pid == 0)
        child_run(ctx, r, out[1], err[1], rep[1], new_pid);
    if (new_pid && setns(ctx->pidns_fd, CLONE_NEWPID) < 0) {
        /* every later child would land in this container's pid namespace */
        shim_log(ctx, "error: cannot return to the shim's pid namespace: %s", strerror(errno));
        ctx->stopping = true;
    }
    return pid < 0 ? -e : pid;
}

static int start_child(shim_ctx *ctx, shim_ctr *ct, const shim_start_req *r, char *msg, size_t len)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, rep[2] = {-1, -1};
    ct->log_fd = open(r->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (ct->log_fd < 0) {
        int e = errno;
        snprintf(msg, len, "open log %s: %s", r->log_path, strerror(e));
        return -e;
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0) {
        int e = errno;
        close_pair(out);
        close_pair(err);
        snprintf(msg, len, "pipe: %s", strerror(e));
        return -e;
    }
    pid_t pid = fork_container(ctx, r, out, err, rep);
    close(out[1]);
    close(err[1]);
    close(rep[1]);
    if (pid < 0) {
        close(out[0]);
        close(err[0]);
        close(rep[0]);
        snprintf(msg, len, "fork: %s", strerror((int)-pid));
        return (int)pid;
    }
    ct->rec.pid = pid;
    ct->rec.started_ns = shim_now_ns();
    ct->pipe_w[0].fd = out[0];
    ct->pipe_w[1].fd = err[0];
    ct->report.w.fd = rep[0];
    shim_crilog_init(ct->log[0], ct->log_fd, "stdout");
    shim_crilog_init(ct->log[1], ct->log_fd, "stderr");
    int fds[] = {out[0], err[0], rep[0]};
    shim_watch *ws[] = {&ct->pipe_w[0], &ct->pipe_w[1], &ct->report.w};
    for (int i = 0; i < 3; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
            shim_watch_add(ctx, ws[i], EPOLLIN) < 0) {
            /* the child runs; without these we cannot follow it, so stop it */
            snprintf(msg, len, "watch the container's pipes: %s", strerror(errno));
            kill(pid, SIGKILL);
            return -EIO;
        }
    }
    return 0;
}

void shim_ctr_start(shim_ctx *ctx, shim_conn *c, const shim_start_req *r)
{
    const char *bad = start_invalid(ctx, r);
    if (bad) {
        shim_reply_err(ctx, c, EINVAL, 0, "start container %s: %s", r->name ? r->name : "?", bad);
        return;
    }
    shim_ctr *ct = ctr_new(r);
    if (!ct) {
        shim_reply_err(ctx, c, ENOMEM, 0, "start container %s: out of memory", r->name);
        return;
    }
    ct->phase = CTR_STARTING;
    ct->next = ctx->ctrs;
    ctx->ctrs = ct;
    char msg[512];
    int e = start_child(ctx, ct, r, msg, sizeof(msg));
    if (e < 0) {
        shim_reply_err(ctx, c, -e, 0, "start container %s: %s", r->name, msg);
        ct->failed = true;
        if (ct->rec.pid <= 0 || ct->reaped) {
            forget(ctx, ct);
        } else { /* forgotten once reaped */
            close_streams(ctx, ct);
            shim_watch_close(ctx, &ct->report.w);
        }
        return;
    }
    ct->report.waiter = c;
    shim_conn_busy(ctx, c);
}

/* ---- signal, remove, status ---- */

void shim_ctr_signal(shim_ctx *ctx, shim_conn *c, const shim_signal_req *r)
{
    shim_ctr *ct = r->id ? shim_ctr_find(ctx, r->id) : NULL;
    if (r->sig <= 0 || r->sig >= 65)
        shim_reply_err(ctx, c, EINVAL, 0, "signal %d is not valid", (int)r->sig);
    else if (!ct || ct->phase == CTR_EXITED || ct->reaped)
        shim_reply_err(ctx, c, ESRCH, 0, "container %s is not running", r->id ? r->id : "?");
    else if (kill(ct->rec.pid, r->sig) < 0)
        shim_reply_err(ctx, c, errno, 0, "signal %d to container %s (pid %d): %s", (int)r->sig,
                       ct->rec.name, (int)ct->rec.pid, strerror(errno));
    else
        shim_reply_ok(ctx, c, ct->rec.pid, 0);
}

void shim_ctr_remove(shim_ctx *ctx, shim_conn *c, const shim_id_req *r)
{
    shim_ctr *ct = r->id ? shim_ctr_find(ctx, r->id) : NULL;
    if (!ct) {
        shim_reply_err(ctx, c, ENOENT, 0, "no container %s", r->id ? r->id : "?");
        return;
    }
    if (ct->phase != CTR_EXITED) {
        shim_reply_err(ctx, c, EBUSY, 0, "container %s is still running", ct->rec.name);
        return;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", SHIM_EXITS_DIR, ct->rec.id);
    unlinkat(ctx->run_dirfd, path, 0);
    forget(ctx, ct);
    shim_reply_ok(ctx, c, 0, 0);
}

void shim_ctr_status(shim_ctx *ctx, shim_conn *c)
{
    size_t n = 0;
    for (shim_ctr *ct = ctx->ctrs; ct; ct = ct->next)
        n += ct->phase != CTR_STARTING;
    shim_msg m = {.type = SHIM_REP_STATUS};
    m.u.status.shim_pid = ctx->pid;
    m.u.status.init_pid = ctx->init_pid;
    m.u.status.ctrs.v = calloc(n ? n : 1, sizeof(shim_ctr_record));
    if (!m.u.status.ctrs.v) {
        shim_reply_err(ctx, c, ENOMEM, 0, "status: out of memory");
        return;
    }
    /* oldest first: the list is kept newest first */
    size_t i = n;
    for (shim_ctr *ct = ctx->ctrs; ct; ct = ct->next)
        if (ct->phase != CTR_STARTING)
            m.u.status.ctrs.v[--i] = ct->rec;
    m.u.status.ctrs.n = n;
    shim_send(ctx, c, &m);
    free(m.u.status.ctrs.v);
}

void shim_ctr_replay(shim_ctx *ctx, shim_conn *c)
{
    for (shim_ctr *ct = ctx->ctrs; ct && c->w.fd >= 0; ct = ct->next) {
        if (ct->phase != CTR_EXITED || ct->delivered)
            continue;
        shim_msg m = {.type = SHIM_EV_EXITED};
        m.u.event.ctr = ct->rec;
        shim_send(ctx, c, &m);
        ct->delivered = c->w.fd >= 0;
    }
}

void shim_ctr_free_all(shim_ctx *ctx)
{
    while (ctx->ctrs) {
        shim_ctr *ct = ctx->ctrs;
        forget(ctx, ct);
    }
}
