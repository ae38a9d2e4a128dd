/* shim_loop.c - the shim's single-threaded epoll loop.
 *
 * Every signal the shim cares about arrives through one signalfd. Clients are non-blocking:
 * replies and events that cannot be sent at once wait in a bounded per-connection queue, and
 * a subscriber that falls too far behind is dropped. Objects are never freed while the events
 * of the current epoll batch may still point at them (shim_defer_free).
 */
#include "shim.h"
#include "shim_sock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const int handled_signals[] = {SIGCHLD, SIGTERM, SIGINT,  SIGHUP,
                                      SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2};

void shim_child_signals(const shim_ctx *ctx)
{
    for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
        signal(handled_signals[i], SIG_DFL);
    sigprocmask(SIG_SETMASK, &ctx->oldmask, NULL);
    /* This child's copy of the argument area: the title, then NULs, and a last byte that is
     * not NUL, so that the kernel reads the command line up to the title's NUL only (the
     * setproctitle convention) instead of the whole area. */
    static const char title[] = "mini-kubelet-shim";
    if (ctx->args && ctx->args_len > sizeof(title)) {
        memset(ctx->args, 0, ctx->args_len);
        memcpy(ctx->args, title, sizeof(title));
        ctx->args[ctx->args_len - 1] = ' ';
    }
}

int shim_watch_add(shim_ctx *ctx, shim_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

void shim_watch_close(shim_ctx *ctx, shim_watch *w)
{
    if (w->fd < 0)
        return;
    epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    close(w->fd);
    w->fd = -1;
}

void shim_defer_free(shim_ctx *ctx, void *p)
{
    void **g = realloc(ctx->graveyard, (ctx->n_graveyard + 1) * sizeof(*g));
    if (!g) {
        /* leaking is safer than a use-after-free; the shim is short of memory anyway */
        shim_log(ctx, "warning: out of memory");
        return;
    }
    g[ctx->n_graveyard++] = p;
    ctx->graveyard = g;
}

/* Under AddressSanitizer big buffers stay on the heap, where overruns are caught. */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_ON_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_ON_HEAP 1
#endif
#endif

void *shim_big_alloc(size_t len)
{
#ifdef BIG_ON_HEAP
    return calloc(1, len);
#else
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#endif
}

void shim_big_free(void *p, size_t len)
{
#ifdef BIG_ON_HEAP
    (void)len;
    free(p);
#else
    if (p)
        munmap(p, len);
#endif
}

static void bury(shim_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_graveyard; i++)
        free(ctx->graveyard[i]);
    free(ctx->graveyard);
    ctx->graveyard = NULL;
    ctx->n_graveyard = 0;
}

int shim_loop_init(shim_ctx *ctx)
{
    ctx->rx = shim_big_alloc(SHIM_MSG_MAX);
    ctx->tx = shim_big_alloc(SHIM_MSG_MAX);
    ctx->io = shim_big_alloc(SHIM_MSG_MAX);
    if (!ctx->rx || !ctx->tx || !ctx->io)
        return errno = ENOMEM, -1;
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
        sigaddset(&set, handled_signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, &ctx->oldmask) < 0)
        return -1;
    ctx->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->sigfd < 0 || ctx->epfd < 0)
        return -1;
    ctx->sw = (shim_watch){W_SIGNAL, ctx->sigfd, NULL, 0};
    if (shim_watch_add(ctx, &ctx->sw, EPOLLIN) < 0)
        return -1;

    struct sockaddr_un sa;
    socklen_t salen;
    int dirfd;
    int r = shim_sock_addr(ctx->o.run_dir, &sa, &salen, &dirfd);
    if (r < 0)
        return errno = -r, -1;
    ctx->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ctx->lfd < 0)
        goto fail;
    unlinkat(ctx->run_dirfd, SHIM_SOCK_NAME, 0); /* left by a shim that was killed */
    mode_t old = umask(077);
    r = bind(ctx->lfd, (struct sockaddr *)&sa, salen);
    umask(old);
    if (r < 0 || fchmodat(ctx->run_dirfd, SHIM_SOCK_NAME, 0600, 0) < 0 || listen(ctx->lfd, 64) < 0)
        goto fail;
    if (dirfd >= 0)
        close(dirfd);
    ctx->lw = (shim_watch){W_LISTEN, ctx->lfd, NULL, 0};
    return shim_watch_add(ctx, &ctx->lw, EPOLLIN) < 0 ? -1 : 0;
fail:;
    int e = errno;
    if (dirfd >= 0)
        close(dirfd);
    errno = e;
    return -1;
}

/* ---- connections ---- */

static void conn_set_events(shim_ctx *ctx, shim_conn *c)
{
    uint32_t ev = (c->busy ? 0 : EPOLLIN) | (c->outq ? EPOLLOUT : 0);
    if (ev == c->events || c->w.fd < 0)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = &c->w};
    if (epoll_ctl(ctx->epfd, EPOLL_CTL_MOD, c->w.fd, &e) == 0)
        c->events = ev;
}

static void conn_close(shim_ctx *ctx, shim_conn *c)
{
    if (c->w.fd < 0)
        return;
    shim_forget_waiter(ctx, c);
    shim_watch_close(ctx, &c->w);
    for (shim_pkt *p = c->outq, *n; p; p = n) {
        n = p->next;
        free(p);
    }
    c->outq = NULL;
    for (shim_conn **pp = &ctx->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    ctx->n_conns--;
    shim_defer_free(ctx, c);
}

/* Send what is queued; false if the connection had to be closed. */
static bool conn_flush(shim_ctx *ctx, shim_conn *c)
{
    while (c->outq) {
        shim_pkt *p = c->outq;
        int r = shim_sock_send(c->w.fd, p->data, p->len, NULL, 0, MSG_DONTWAIT);
        if (r == -EAGAIN)
            break;
        if (r < 0) {
            conn_close(ctx, c);
            return false;
        }
        c->outq = p->next;
        c->out_bytes -= p->len;
        free(p);
    }
    if (!c->outq)
        c->outq_tail = &c->outq;
    conn_set_events(ctx, c);
    return true;
}

static void conn_queue(shim_ctx *ctx, shim_conn *c, const void *data, size_t len)
{
    if (c->w.fd < 0)
        return;
    if (!c->outq) {
        int r = shim_sock_send(c->w.fd, data, len, NULL, 0, MSG_DONTWAIT);
        if (r == 0)
            return;
        if (r != -EAGAIN) {
            conn_close(ctx, c);
            return;
        }
    }
    if (c->out_bytes + len > SHIM_OUTQ_MAX) {
        shim_log(ctx, "warning: dropping a client that stopped reading");
        conn_close(ctx, c);
        return;
    }
    shim_pkt *p = malloc(sizeof(*p) + len);
    if (!p) {
        conn_close(ctx, c);
        return;
    }
    p->next = NULL;
    p->len = len;
    memcpy(p->data, data, len);
    *c->outq_tail = p;
    c->outq_tail = &p->next;
    c->out_bytes += len;
    conn_set_events(ctx, c);
}

void shim_send(shim_ctx *ctx, shim_conn *c, const shim_msg *m)
{
    size_t len;
    int r = shim_msg_encode(m, ctx->tx, SHIM_MSG_MAX, &len);
    if (r < 0) {
        shim_msg err = {.type = SHIM_REP_ERR};
        err.u.reply.code = -r;
        err.u.reply.msg = "reply does not fit in one message";
        if (m->type >= SHIM_EV_STARTED || shim_msg_encode(&err, ctx->tx, SHIM_MSG_MAX, &len) < 0)
            return;
    }
    conn_queue(ctx, c, ctx->tx, len);
}

void shim_reply_ok(shim_ctx *ctx, shim_conn *c, pid_t pid, uint64_t exec_id)
{
    shim_msg m = {.type = SHIM_REP_OK};
    m.u.reply.pid = pid;
    m.u.reply.exec_id = exec_id;
    shim_send(ctx, c, &m);
}

void shim_reply_err(shim_ctx *ctx, shim_conn *c, int code, int exit_code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    shim_msg m = {.type = SHIM_REP_ERR};
    m.u.reply.code = code;
    m.u.reply.exit_code = exit_code;
    m.u.reply.msg = msg;
    shim_send(ctx, c, &m);
}

size_t shim_broadcast(shim_ctx *ctx, const shim_msg *m)
{
    size_t len, n = 0;
    if (shim_msg_encode(m, ctx->tx, SHIM_MSG_MAX, &len) < 0)
        return 0;
    for (shim_conn *c = ctx->conns, *next; c; c = next) {
        next = c->next;
        if (!c->subscriber)
            continue;
        conn_queue(ctx, c, ctx->tx, len);
        if (c->w.fd >= 0)
            n++;
    }
    return n;
}

void shim_conn_busy(shim_ctx *ctx, shim_conn *c)
{
    c->busy = true;
    conn_set_events(ctx, c);
}

void shim_conn_unbusy(shim_ctx *ctx, shim_conn *c)
{
    c->busy = false;
    c->last_ms = shim_mono_ms();
    conn_set_events(ctx, c);
}

static void on_accept(shim_ctx *ctx)
{
    for (;;) {
        int fd = accept4(ctx->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                shim_log(ctx, "warning: accept: %s", strerror(errno));
            return;
        }
        shim_conn *c = ctx->n_conns < SHIM_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(fd);
            continue;
        }
        c->w = (shim_watch){W_CONN, fd, c, 0};
        c->outq_tail = &c->outq;
        c->events = EPOLLIN;
        c->last_ms = shim_mono_ms();
        if (shim_watch_add(ctx, &c->w, EPOLLIN) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = ctx->conns;
        ctx->conns = c;
        ctx->n_conns++;
    }
}

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static void dispatch(shim_ctx *ctx, shim_conn *c, const shim_msg *m, int *fds, int nfds)
{
    if (m->type != SHIM_REQ_EXEC)
        close_fds(fds, nfds);
    switch (m->type) {
    case SHIM_REQ_START:
        shim_ctr_start(ctx, c, &m->u.start);
        break;
    case SHIM_REQ_SIGNAL:
        shim_ctr_signal(ctx, c, &m->u.signal);
        break;
    case SHIM_REQ_STATUS:
        shim_ctr_status(ctx, c);
        break;
    case SHIM_REQ_REMOVE:
        shim_ctr_remove(ctx, c, &m->u.remove);
        break;
    case SHIM_REQ_EXEC:
        shim_exec_start(ctx, c, &m->u.exec, fds, nfds);
        break;
    case SHIM_REQ_SHUTDOWN:
        ctx->stopping = true; /* the reply goes out once everything is reaped */
        c->busy = true;
        c->subscriber = false;
        c->awaits_shutdown = true;
        conn_set_events(ctx, c);
        break;
    case SHIM_REQ_SUBSCRIBE:
        c->subscriber = true;
        shim_reply_ok(ctx, c, 0, 0);
        shim_ctr_replay(ctx, c);
        shim_exec_replay(ctx, c);
        break;
    default:
        shim_reply_err(ctx, c, EOPNOTSUPP, 0, "%s is not a request", shim_msg_type_name(m->type));
    }
}

static void on_conn(shim_ctx *ctx, shim_conn *c, uint32_t events)
{
    if ((events & EPOLLOUT) && !conn_flush(ctx, c))
        return;
    while (c->w.fd >= 0 && !c->busy && !ctx->stopping) {
        int fds[SHIM_EXEC_FDS], nfds;
        ssize_t n =
            shim_sock_recv(c->w.fd, ctx->rx, SHIM_MSG_MAX, fds, SHIM_EXEC_FDS, &nfds, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return;
        if (n == 0 || (n < 0 && n != -EMSGSIZE)) {
            conn_close(ctx, c);
            return;
        }
        c->last_ms = shim_mono_ms();
        if (n < 0) {
            shim_reply_err(ctx, c, EMSGSIZE, 0, "request larger than %d bytes", SHIM_MSG_MAX);
            continue;
        }
        shim_msg m;
        int r = shim_msg_decode(ctx->rx, (size_t)n, &m);
        if (r < 0) {
            close_fds(fds, nfds);
            shim_reply_err(ctx, c, -r, 0, "malformed request (protocol version %d expected)",
                           SHIM_PROTO_VERSION);
            continue;
        }
        dispatch(ctx, c, &m, fds, nfds);
        shim_msg_release(&m);
    }
    if (c->w.fd >= 0 && (events & (EPOLLHUP | EPOLLERR)))
        conn_close(ctx, c); /* also when busy: the reply has nobody to go to */
}

/* ---- children and signals ---- */

/* Reap every child that has exited; true once the shim has no children left. */
static bool reap(shim_ctx *ctx)
{
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            return errno == ECHILD;
        if (pid == 0)
            return false;
        if (shim_ctr_reaped(ctx, pid, st) || shim_exec_reaped(ctx, pid, st))
            continue;
        if (pid == ctx->init_pid) {
            if (!ctx->stopping)
                shim_log(ctx, "error: the pod's pid 1 exited; its pid namespace is gone");
            ctx->init_pid = 0;
        }
        /* else an orphan handed to us as subreaper: nothing to record */
    }
}

static void on_signals(shim_ctx *ctx)
{
    struct signalfd_siginfo si[16];
    bool chld = false;
    for (;;) {
        ssize_t n = read(ctx->sigfd, si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
            switch (si[i].ssi_signo) {
            case SIGCHLD:
                chld = true;
                break;
            case SIGTERM:
            case SIGINT:
            case SIGQUIT:
                if (!ctx->stopping)
                    shim_log(ctx, "signal %d: stopping", (int)si[i].ssi_signo);
                ctx->stopping = true;
                break;
            default: /* SIGHUP, SIGPIPE, SIGUSR*: ignored */
                break;
            }
        }
    }
    if (chld)
        reap(ctx);
}

/* SIGKILL every pid in a space-separated list read from fd (parsed by hand: scanf would link
 * the C library's whole number and float scanner into the shim). */
static void kill_listed(int fd)
{
    char buf[256];
    long pid = -1;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            int d = buf[i] - '0';
            if (d >= 0 && d <= 9) { /* LONG_MAX: too long to be a pid */
                pid = pid < 0 ? d : pid < INT_MAX / 10 ? pid * 10 + d : LONG_MAX;
                continue;
            }
            if (pid > 0 && pid <= INT_MAX)
                kill((pid_t)pid, SIGKILL);
            pid = -1;
        }
    }
    if (pid > 0 && pid <= INT_MAX)
        kill((pid_t)pid, SIGKILL);
}

static void kill_children(shim_ctx *ctx)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)ctx->pid);
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0) {
        kill_listed(fd);
        close(fd);
    }
    if (ctx->init_pid > 0)
        kill(ctx->init_pid, SIGKILL);
    for (shim_ctr *c = ctx->ctrs; c; c = c->next)
        if (c->phase != CTR_EXITED && !c->reaped && c->rec.pid > 0)
            kill(c->rec.pid, SIGKILL);
    for (shim_execp *x = ctx->execs; x; x = x->next)
        if (!x->reaped && x->pid > 0)
            kill(x->pid, SIGKILL);
}

static void stop_everything(shim_ctx *ctx)
{
    int64_t deadline = shim_mono_ms() + SHIM_STOP_DEADLINE_MS;
    kill_children(ctx);
    while (!reap(ctx)) {
        int64_t left = deadline - shim_mono_ms();
        if (left <= 0) {
            shim_log(ctx, "warning: children still alive after SIGKILL; exiting anyway");
            break;
        }
        struct pollfd pf = {ctx->sigfd, POLLIN, 0};
        poll(&pf, 1, left > 100 ? 100 : (int)left);
        struct signalfd_siginfo si[16];
        while (read(ctx->sigfd, si, sizeof(si)) > 0)
            ;
        kill_children(ctx); /* orphans reparented to us meanwhile */
    }
    for (shim_ctr *c = ctx->ctrs; c; c = c->next)
        if (c->phase == CTR_STARTING && c->report.waiter) {
            shim_reply_err(ctx, c->report.waiter, ECANCELED, 0,
                           "start %s: the sandbox is shutting down", c->rec.name);
            c->report.waiter = NULL;
        }
    for (shim_conn *c = ctx->conns, *next; c; c = next) {
        next = c->next;
        if (c->awaits_shutdown)
            shim_reply_ok(ctx, c, 0, 0);
    }
}

static void teardown(shim_ctx *ctx)
{
    for (shim_conn *c = ctx->conns, *next; c; c = next) {
        next = c->next;
        if (c->w.fd >= 0)
            conn_flush(ctx, c);
        conn_close(ctx, c);
    }
    unlinkat(ctx->run_dirfd, SHIM_SOCK_NAME, 0);
    unlinkat(ctx->run_dirfd, SHIM_PID_NAME, 0);
    shim_ctr_free_all(ctx);
    shim_exec_free_all(ctx);
    bury(ctx);
    /* back in our own pid namespace threads can be made again (sanitizer leak checks need one) */
    if (ctx->o.share_pid && ctx->pidns_fd >= 0)
        setns(ctx->pidns_fd, CLONE_NEWPID);
    shim_big_free(ctx->rx, SHIM_MSG_MAX);
    shim_big_free(ctx->tx, SHIM_MSG_MAX);
    shim_big_free(ctx->io, SHIM_MSG_MAX);
    free(ctx->o.cgroup_procs);
    int fds[] = {ctx->lfd, ctx->sigfd, ctx->epfd, ctx->run_dirfd, ctx->pidns_fd, ctx->init_pipe};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* epoll timeout: wake up to close request connections that went silent. */
static int idle_timeout(shim_ctx *ctx)
{
    int64_t now = shim_mono_ms(), next = -1;
    for (shim_conn *c = ctx->conns, *n; c; c = n) {
        n = c->next;
        if (c->subscriber || c->busy)
            continue;
        int64_t due = c->last_ms + SHIM_IDLE_CONN_MS;
        if (due <= now) {
            conn_close(ctx, c);
            continue;
        }
        if (next < 0 || due - now < next)
            next = due - now;
    }
    return (int)next;
}

static void handle(shim_ctx *ctx, shim_watch *w, uint32_t events)
{
    if (w->fd < 0)
        return;
    switch (w->kind) {
    case W_LISTEN:
        on_accept(ctx);
        break;
    case W_SIGNAL:
        on_signals(ctx);
        break;
    case W_CONN:
        on_conn(ctx, w->obj, events);
        break;
    case W_PIPE:
        shim_ctr_on_pipe(ctx, w->obj, w->aux);
        break;
    case W_CTR_REPORT:
        shim_ctr_on_report(ctx, w->obj);
        break;
    case W_EXEC_REPORT:
        shim_exec_on_report(ctx, w->obj);
        break;
    }
}

int shim_loop_run(shim_ctx *ctx)
{
    struct epoll_event evs[32];
    while (!ctx->stopping) {
        int n = epoll_wait(ctx->epfd, evs, 32, idle_timeout(ctx));
        if (n < 0 && errno != EINTR) {
            shim_log(ctx, "error: epoll_wait: %s", strerror(errno));
            ctx->stopping = true;
        }
        for (int i = 0; i < n; i++)
            handle(ctx, evs[i].data.ptr, evs[i].events);
        bury(ctx);
    }
    stop_everything(ctx);
    teardown(ctx);
    shim_log(ctx, "stopped");
    return 0;
}
