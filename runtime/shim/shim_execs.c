/* shim_execs.c - EXEC requests: a forked child runs shim_exec_run() with the fds the client
 * sent as its stdio. The reply carries the exec id and pid once execve succeeded; the exit
 * goes to subscribers as EXEC_EXIT (kept for the next subscriber when nobody listens).
 * A command that cannot be started is an ERR reply with exit_code 127 (not found) or 126.
 */
#include "container.h"
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static char *const empty_env[] = {NULL};

static void exec_forget(shim_ctx *ctx, shim_execp *x)
{
    for (shim_execp **pp = &ctx->execs; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    shim_watch_close(ctx, &x->report.w);
    shim_defer_free(ctx, x);
}

static void deliver_exit(shim_ctx *ctx, shim_execp *x)
{
    int sig;
    shim_msg m = {.type = SHIM_EV_EXEC_EXIT};
    m.u.event.exec_id = x->id;
    m.u.event.exit_code = shim_exit_code(x->wstatus, &sig);
    if (shim_broadcast(ctx, &m) == 0) {
        if (ctx->n_pending == SHIM_PENDING_EXECS) { /* keep the newest */
            memmove(ctx->pending, ctx->pending + 1,
                    sizeof(ctx->pending[0]) * (SHIM_PENDING_EXECS - 1));
            ctx->n_pending--;
        }
        ctx->pending[ctx->n_pending++] = (shim_exec_exit){x->id, m.u.event.exit_code};
    }
    exec_forget(ctx, x);
}

bool shim_exec_reaped(shim_ctx *ctx, pid_t pid, int wstatus)
{
    shim_execp *x = ctx->execs;
    while (x && !(x->pid == pid && !x->reaped))
        x = x->next;
    if (!x)
        return false;
    x->reaped = true;
    x->wstatus = wstatus;
    if (x->failed)
        exec_forget(ctx, x);
    else if (x->started)
        deliver_exit(ctx, x);
    /* else the report pipe has not reached EOF yet */
    return true;
}

void shim_exec_on_report(shim_ctx *ctx, shim_execp *x)
{
    if (!shim_report_read(ctx, &x->report))
        return;
    shim_conn *c = x->report.waiter;
    x->report.waiter = NULL;
    if (x->report.len > 0) {
        int code = shim_report_errno(x->report.buf);
        if (c)
            shim_reply_err(ctx, c, code, code == ENOENT ? 127 : 126, "%s", x->report.buf);
        x->failed = true;
        if (x->reaped)
            exec_forget(ctx, x);
    } else {
        if (c)
            shim_reply_ok(ctx, c, x->pid, x->id);
        x->started = true;
        if (x->reaped)
            deliver_exit(ctx, x);
    }
    if (c)
        shim_conn_unbusy(ctx, c);
}

/* In the child: put the client's fds (or /dev/null) on 0, 1, 2. */
static int child_stdio(const int src[3])
{
    int tmp[3];
    for (int i = 0; i < 3; i++) {
        int fd = src[i] >= 0 ? src[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
        /* out of the 0..2 range first, so no dup2 below clobbers a later source */
        tmp[i] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
        if (tmp[i] < 0)
            return -1;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(tmp[i], i) < 0)
            return -1;
    return 0;
}

static void __attribute__((noreturn))
exec_child(shim_ctx *ctx, const shim_ctr *ct, const shim_exec_req *r, const int src[3], int repw)
{
    shim_child_signals(ctx);
    setsid();
    if (child_stdio(src) < 0) {
        const char m[] = "set up stdio: failed\n";
        (void)!write(repw, m, sizeof(m) - 1);
        _exit(126);
    }
    shim_exec_spec spec = {
        .target_pid = ct->rec.pid,
        .argv = r->argv,
        .env = r->env_set ? (r->env ? r->env : empty_env) : NULL,
        .cwd = r->cwd,
        .user = r->user,
        .caps = ct->caps,
        .no_new_privs = ct->no_new_privs,
        .cgroup_procs = ct->cgroup_procs,
    };
    shim_exec_run(&spec, repw);
}

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static const char *exec_invalid(const shim_ctr *ct, const shim_exec_req *r, int nfds, int *code)
{
    *code = EINVAL;
    if (shim_strv_len(r->argv) == 0)
        return "argv is empty";
    if ((r->fd_mask & ~7) || __builtin_popcount((unsigned)r->fd_mask) != nfds)
        return "the fds sent do not match fd_mask";
    *code = ct ? ESRCH : ENOENT;
    if (!ct)
        return "no such container";
    if (ct->phase != CTR_RUNNING || ct->reaped)
        return "the container is not running";
    return NULL;
}

void shim_exec_start(shim_ctx *ctx, shim_conn *c, const shim_exec_req *r, int *fds, int nfds)
{
    shim_ctr *ct = r->id ? shim_ctr_find(ctx, r->id) : NULL;
    int code;
    const char *bad = exec_invalid(ct, r, nfds, &code);
    if (bad) {
        close_fds(fds, nfds);
        shim_reply_err(ctx, c, code, 0, "exec in %s: %s", r->id ? r->id : "?", bad);
        return;
    }
    int src[3] = {-1, -1, -1};
    for (int i = 0, k = 0; i < 3; i++)
        if (r->fd_mask & (1 << i))
            src[i] = fds[k++];
    shim_execp *x = calloc(1, sizeof(*x));
    int rep[2] = {-1, -1};
    if (!x || pipe2(rep, O_CLOEXEC) < 0) {
        int e = x ? errno : ENOMEM;
        free(x);
        close_fds(fds, nfds);
        shim_reply_err(ctx, c, e, 0, "exec in %s: %s", ct->rec.name, strerror(e));
        return;
    }
    pid_t pid = fork();
    if (pid == 0)
        exec_child(ctx, ct, r, src, rep[1]);
    int e = errno;
    close_fds(fds, nfds);
    close(rep[1]);
    x->report.w = (shim_watch){W_EXEC_REPORT, rep[0], x, 0};
    int fl = fcntl(rep[0], F_GETFL);
    if (pid < 0 || fl < 0 || fcntl(rep[0], F_SETFL, fl | O_NONBLOCK) < 0 ||
        shim_watch_add(ctx, &x->report.w, EPOLLIN) < 0) {
        e = pid < 0 ? e : errno;
        if (pid > 0)
            kill(pid, SIGKILL); /* reaped later as an unknown child */
        close(rep[0]);
        free(x);
        shim_reply_err(ctx, c, e, 0, "exec in %s: %s", ct->rec.name, strerror(e));
        return;
    }
    x->id = ++ctx->next_exec_id;
    x->pid = pid;
    x->report.waiter = c;
    x->next = ctx->execs;
    ctx->execs = x;
    shim_conn_busy(ctx, c);
}

void shim_exec_replay(shim_ctx *ctx, shim_conn *c)
{
    for (size_t i = 0; i < ctx->n_pending && c->w.fd >= 0; i++) {
        shim_msg m = {.type = SHIM_EV_EXEC_EXIT};
        m.u.event.exec_id = ctx->pending[i].id;
        m.u.event.exit_code = ctx->pending[i].code;
        shim_send(ctx, c, &m);
    }
    if (c->w.fd >= 0)
        ctx->n_pending = 0;
}

void shim_forget_waiter(shim_ctx *ctx, shim_conn *c)
{
    for (shim_ctr *ct = ctx->ctrs; ct; ct = ct->next)
        if (ct->report.waiter == c)
            ct->report.waiter = NULL;
    for (shim_execp *x = ctx->execs; x; x = x->next)
        if (x->report.waiter == c)
            x->report.waiter = NULL;
}

void shim_exec_free_all(shim_ctx *ctx)
{
    while (ctx->execs)
        exec_forget(ctx, ctx->execs);
}
