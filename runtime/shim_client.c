/* shim_client.c - the agent's side of the per-pod shim (see shim_client.h).
 *
 * Requests open a connection each, send one packet and wait for one reply with a deadline, so
 * they are safe from any thread. The watch is a uv_poll_t on a SUBSCRIBE connection.
 */
#include "shim_client.h"
#include "shim_proto.h"
#include "shim_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHORT_TIMEOUT_MS 5000
#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS  15000

/* ---- one request, one reply ---- */

static int shim_connect(const char *run_dir, int *out, mk_err *err)
{
    struct sockaddr_un sa;
    socklen_t len;
    int dirfd;
    int r = shim_sock_addr(run_dir, &sa, &len, &dirfd);
    if (r < 0)
        return mk_errf_sys(err, -r, "shim socket in %s", run_dir);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        if (dirfd >= 0)
            close(dirfd);
        return mk_errf_sys(err, e, "socket");
    }
    do {
        r = connect(fd, (struct sockaddr *)&sa, len);
    } while (r < 0 && errno == EINTR);
    int e = errno;
    if (dirfd >= 0)
        close(dirfd);
    if (r < 0) {
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return mk_errf_sys(err, e, "the pod's shim is not running (connect %s/%s)", run_dir,
                               SHIM_SOCK_NAME);
        return mk_errf_sys(err, e, "connect %s/%s", run_dir, SHIM_SOCK_NAME);
    }
    *out = fd;
    return 0;
}

static int wait_fd(int fd, short ev, int64_t deadline_ms, const char *what, mk_err *err)
{
    for (;;) {
        int64_t left = deadline_ms - mk_monotonic_ns() / 1000000;
        if (left <= 0)
            return mk_errf(err, ETIMEDOUT, "shim did not answer %s in time", what);
        struct pollfd pf = {fd, ev, 0};
        int r = poll(&pf, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return mk_errf_sys(err, errno, "poll");
        if (r > 0)
            return 0;
    }
}

typedef struct exchange {
    int fd;
    uint8_t *buf; /* the reply's strings point into it */
    shim_msg rep;
    int cmd_exit; /* an error reply's exit-code hint (126/127: a command that could not start) */
} exchange;

static void exchange_end(exchange *x)
{
    shim_msg_release(&x->rep);
    free(x->buf);
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    x->buf = NULL;
}

/* Send req (with fds) and receive its reply into x. An ERR reply becomes the error. On success
 * the caller reads x->rep and calls exchange_end(); on failure everything is released. */
static int roundtrip(const char *run_dir, const shim_msg *req, const int *fds, int nfds,
                     int timeout_ms, exchange *x, mk_err *err)
{
    const char *what = shim_msg_type_name(req->type);
    memset(x, 0, sizeof(*x));
    x->fd = -1;
    x->buf = xmalloc(SHIM_MSG_MAX);
    size_t len;
    int r = shim_msg_encode(req, x->buf, SHIM_MSG_MAX, &len);
    if (r < 0) {
        exchange_end(x);
        return mk_errf(err, -r, "%s request too large for one message (limit %d bytes)", what,
                       SHIM_MSG_MAX);
    }
    int64_t deadline = mk_monotonic_ns() / 1000000 + timeout_ms;
    if ((r = shim_connect(run_dir, &x->fd, err)) < 0 ||
        (r = wait_fd(x->fd, POLLOUT, deadline, what, err)) < 0)
        goto fail;
    r = shim_sock_send(x->fd, x->buf, len, fds, nfds, MSG_DONTWAIT);
    if (r < 0) {
        mk_errf_sys(err, -r, "send %s to the shim", what);
        goto fail;
    }
    if ((r = wait_fd(x->fd, POLLIN, deadline, what, err)) < 0)
        goto fail;
    int rfds[SHIM_EXEC_FDS], nr;
    ssize_t n = shim_sock_recv(x->fd, x->buf, SHIM_MSG_MAX, rfds, 0, &nr, MSG_DONTWAIT);
    if (n <= 0) {
        r = mk_errf(err, n == 0 ? EPIPE : (int)-n, "the shim closed the connection during %s",
                    what);
        goto fail;
    }
    r = shim_msg_decode(x->buf, (size_t)n, &x->rep);
    if (r < 0) {
        mk_errf(err, -r, "malformed reply from the shim to %s", what);
        goto fail;
    }
    if (x->rep.type == SHIM_REP_ERR) {
        r = mk_errf(err, x->rep.u.reply.code, "%s",
                    x->rep.u.reply.msg ? x->rep.u.reply.msg : "shim error");
        x->cmd_exit = x->rep.u.reply.exit_code;
        goto fail;
    }
    return 0;
fail:
    exchange_end(x);
    return r < 0 ? r : -EIO;
}

/* A request whose reply is OK with nothing else of interest. */
static int simple(const char *run_dir, const shim_msg *req, int timeout, shim_reply *out,
                  mk_err *err)
{
    exchange x;
    int r = roundtrip(run_dir, req, NULL, 0, timeout, &x, err);
    if (r < 0)
        return r;
    if (x.rep.type != SHIM_REP_OK) {
        exchange_end(&x);
        return mk_errf(err, EPROTO, "unexpected reply to %s", shim_msg_type_name(req->type));
    }
    if (out) {
        *out = x.rep.u.reply;
        out->msg = NULL;
    }
    exchange_end(&x);
    return 0;
}

/* ---- spawn ---- */

static char **spawn_argv(const rt_sandbox_config *cfg)
{
    size_t ncg = 0;
    while (cfg->cgroup_procs && cfg->cgroup_procs[ncg])
        ncg++;
    char **v = xcalloc(16 + 2 * ncg, sizeof(*v));
    size_t n = 0;
    v[n++] = (char *)cfg->shim_path;
    const char *pairs[][2] = {{"--run-dir", cfg->run_dir},
                              {"--uid", cfg->pod_uid},
                              {"--ns", cfg->pod_ns},
                              {"--name", cfg->pod_name},
                              {"--hostname", cfg->hostname}};
    for (size_t i = 0; i < MK_ARRAY_LEN(pairs); i++) {
        if (!pairs[i][1])
            continue;
        v[n++] = (char *)pairs[i][0];
        v[n++] = (char *)pairs[i][1];
    }
    if (cfg->host_network)
        v[n++] = "--host-network";
    if (cfg->host_ipc)
        v[n++] = "--host-ipc";
    if (cfg->host_pid)
        v[n++] = "--host-pid";
    if (cfg->share_pid)
        v[n++] = "--share-pid";
    for (size_t i = 0; i < ncg; i++) {
        v[n++] = "--cgroup-procs";
        v[n++] = cfg->cgroup_procs[i];
    }
    v[n] = NULL;
    return v;
}

/* The last line of shim.log: why the shim did not come up. */
static void last_log_line(const char *log_path, char *out, size_t len)
{
    snprintf(out, len, "no reason logged");
    char *data = NULL;
    size_t n = 0;
    mk_err e;
    if (mk_read_file(log_path, 1 << 20, &data, &n, &e) < 0)
        return;
    while (n > 0 && data[n - 1] == '\n')
        data[--n] = 0;
    char *nl = strrchr(data, '\n');
    const char *line = nl ? nl + 1 : data;
    if (*line)
        snprintf(out, len, "%s", line);
    free(data);
}

static int spawn_detached(const rt_sandbox_config *cfg, const char *log_path, pid_t *pid,
                          mk_err *err)
{
    static char *const envp[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    cleanup_free char **argv = spawn_argv(cfg);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int r = posix_spawn(pid, cfg->shim_path, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r != 0)
        return mk_errf_sys(err, r, "start %s", cfg->shim_path);
    return 0;
}

int rt_shim_spawn(const rt_sandbox_config *cfg, pid_t *shim_pid, mk_err *err)
{
    if (!cfg->shim_path || !cfg->run_dir || !cfg->pod_uid || !cfg->pod_ns || !cfg->pod_name)
        return mk_errf(err, EINVAL,
                       "shim: shim_path, run_dir and the pod's uid/ns/name are required");
    int r = mk_mkdir_p(cfg->run_dir, 0700, err);
    if (r < 0)
        return mk_err_wrap(err, "pod %s/%s", cfg->pod_ns, cfg->pod_name);
    cleanup_free char *log_path = xasprintf("%s/shim.log", cfg->run_dir);
    pid_t pid;
    if ((r = spawn_detached(cfg, log_path, &pid, err)) < 0)
        return mk_err_wrap(err, "pod %s/%s", cfg->pod_ns, cfg->pod_name);
    /* the starter exits once the shim answers or failed; it bounds its own wait */
    int st = 0;
    pid_t w;
    do {
        w = waitpid(pid, &st, 0);
    } while (w < 0 && errno == EINTR);
    if (w == pid && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        char why[512];
        last_log_line(log_path, why, sizeof(why));
        return mk_errf(err, EIO, "pod %s/%s: the sandbox did not start: %s", cfg->pod_ns,
                       cfg->pod_name, why);
    }
    rt_shim_status s;
    if ((r = rt_shim_status_get(cfg->run_dir, &s, err)) < 0)
        return mk_err_wrap(err, "pod %s/%s: the sandbox does not answer", cfg->pod_ns,
                           cfg->pod_name);
    if (shim_pid)
        *shim_pid = s.shim_pid;
    rt_shim_status_free(&s);
    return 0;
}

/* ---- requests ---- */

int rt_shim_start_container(const char *run_dir, const rt_container_config *c, pid_t *pid,
                            mk_err *err)
{
    shim_msg m = {.type = SHIM_REQ_START};
    shim_start_req *s = &m.u.start;
    s->name = c->name;
    s->id = c->id;
    s->attempt = c->attempt;
    s->lower_dirs = c->lower_dirs;
    s->upper_dir = c->upper_dir;
    s->work_dir = c->work_dir;
    s->rootfs_mnt = c->rootfs_mnt;
    s->argv = c->argv;
    s->env = c->env;
    s->cwd = c->cwd;
    s->user = c->user;
    s->caps = c->cap_effective;
    s->no_new_privs = c->no_new_privs;
    s->hosts_file = c->hosts_file;
    s->hostname_file = c->hostname_file;
    s->resolv_file = c->resolv_file;
    s->termination_log = c->termination_log;
    s->termination_path = c->termination_path;
    s->log_path = c->log_path;
    s->cgroup_procs = c->cgroup_procs;
    shim_reply rep;
    int r = simple(run_dir, &m, START_TIMEOUT_MS, &rep, err);
    if (r < 0)
        return r;
    if (pid)
        *pid = rep.pid;
    return 0;
}

int rt_shim_signal(const char *run_dir, const char *container_id, int sig, mk_err *err)
{
    shim_msg m = {.type = SHIM_REQ_SIGNAL};
    m.u.signal.id = container_id;
    m.u.signal.sig = sig;
    return simple(run_dir, &m, SHORT_TIMEOUT_MS, NULL, err);
}

static void record_to_status(const shim_ctr_record *r, rt_ctr_status *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "%s", r->name);
    snprintf(o->id, sizeof(o->id), "%s", r->id);
    o->attempt = r->attempt;
    o->state = r->state == SHIM_CTR_EXITED ? RT_CTR_EXITED : RT_CTR_RUNNING;
    o->pid = r->pid;
    o->exit_code = r->exit_code;
    o->signal = r->signal;
    o->oom_killed = r->oom_killed;
    o->started_ns = r->started_ns;
    o->finished_ns = r->finished_ns;
}

int rt_shim_status_get(const char *run_dir, rt_shim_status *out, mk_err *err)
{
    memset(out, 0, sizeof(*out));
    shim_msg m = {.type = SHIM_REQ_STATUS};
    exchange x;
    int r = roundtrip(run_dir, &m, NULL, 0, SHORT_TIMEOUT_MS, &x, err);
    if (r < 0)
        return r;
    if (x.rep.type != SHIM_REP_STATUS) {
        exchange_end(&x);
        return mk_errf(err, EPROTO, "unexpected reply to STATUS");
    }
    const shim_status *s = &x.rep.u.status;
    out->shim_pid = s->shim_pid;
    out->pod_init_pid = s->init_pid;
    out->n_ctrs = s->ctrs.n;
    out->ctrs = xcalloc(s->ctrs.n ? s->ctrs.n : 1, sizeof(*out->ctrs));
    for (size_t i = 0; i < s->ctrs.n; i++)
        record_to_status(&s->ctrs.v[i], &out->ctrs[i]);
    exchange_end(&x);
    return 0;
}

void rt_shim_status_free(rt_shim_status *s)
{
    if (!s)
        return;
    free(s->ctrs);
    s->ctrs = NULL;
    s->n_ctrs = 0;
}

int rt_shim_remove(const char *run_dir, const char *container_id, mk_err *err)
{
    shim_msg m = {.type = SHIM_REQ_REMOVE};
    m.u.remove.id = container_id;
    return simple(run_dir, &m, SHORT_TIMEOUT_MS, NULL, err);
}

int rt_shim_exec(const char *run_dir, const char *container_id, char *const *argv, char *const *env,
                 int fds[3], uint64_t *exec_id, pid_t *pid, int *cmd_exit, mk_err *err)
{
    if (cmd_exit)
        *cmd_exit = 0;
    shim_msg m = {.type = SHIM_REQ_EXEC};
    m.u.exec.id = container_id;
    m.u.exec.argv = argv;
    m.u.exec.env = env;
    m.u.exec.env_set = env != NULL;
    int send_fds[SHIM_EXEC_FDS], n = 0;
    for (int i = 0; i < SHIM_EXEC_FDS; i++) {
        if (fds && fds[i] >= 0) {
            m.u.exec.fd_mask |= 1 << i;
            send_fds[n++] = fds[i];
        }
    }
    exchange x;
    int r = roundtrip(run_dir, &m, send_fds, n, START_TIMEOUT_MS, &x, err);
    if (r < 0) {
        if (cmd_exit)
            *cmd_exit = x.cmd_exit;
        return r;
    }
    if (x.rep.type != SHIM_REP_OK) {
        exchange_end(&x);
        return mk_errf(err, EPROTO, "unexpected reply to EXEC");
    }
    if (exec_id)
        *exec_id = x.rep.u.reply.exec_id;
    if (pid)
        *pid = x.rep.u.reply.pid;
    exchange_end(&x);
    return 0;
}

int rt_shim_shutdown(const char *run_dir, mk_err *err)
{
    shim_msg m = {.type = SHIM_REQ_SHUTDOWN};
    exchange x;
    int r = roundtrip(run_dir, &m, NULL, 0, STOP_TIMEOUT_MS, &x, err);
    if (r < 0)
        return r;
    /* the shim closes the connection as it exits */
    int64_t deadline = mk_monotonic_ns() / 1000000 + SHORT_TIMEOUT_MS;
    for (;;) {
        r = wait_fd(x.fd, POLLIN, deadline, "SHUTDOWN", err);
        if (r < 0)
            break;
        char b[64];
        ssize_t n = recv(x.fd, b, sizeof(b), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            break;
    }
    exchange_end(&x);
    return r < 0 ? r : 0;
}

/* ---- watch ---- */

struct rt_shim_watch {
    uv_poll_t poll;
    int fd;
    bool closed, gone;
    rt_shim_event_cb cb;
    void *arg;
};

static void watch_closed_cb(uv_handle_t *h)
{
    rt_shim_watch *w = h->data;
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

static void watch_gone(rt_shim_watch *w)
{
    if (w->gone)
        return;
    w->gone = true;
    uv_poll_stop(&w->poll);
    rt_shim_event ev = {.type = RT_SHIM_EV_GONE};
    if (!w->closed)
        w->cb(w->arg, &ev);
}

static void watch_deliver(rt_shim_watch *w, const shim_msg *m)
{
    rt_shim_event ev;
    memset(&ev, 0, sizeof(ev));
    switch (m->type) {
    case SHIM_EV_STARTED:
    case SHIM_EV_EXITED:
        ev.type = m->type == SHIM_EV_STARTED ? RT_SHIM_EV_STARTED : RT_SHIM_EV_EXITED;
        record_to_status(&m->u.event.ctr, &ev.ctr);
        break;
    case SHIM_EV_EXEC_EXIT:
        ev.type = RT_SHIM_EV_EXEC_EXIT;
        ev.exec_id = m->u.event.exec_id;
        ev.exit_code = m->u.event.exit_code;
        break;
    case SHIM_REP_ERR:
        watch_gone(w);
        return;
    default: /* the OK to SUBSCRIBE, or something newer we do not know */
        return;
    }
    w->cb(w->arg, &ev);
}

static void watch_poll_cb(uv_poll_t *h, int status, int events)
{
    rt_shim_watch *w = h->data;
    if (status < 0) {
        watch_gone(w);
        return;
    }
    /* One buffer on the loop's stack serves every watch: a buffer per pod would cost resident
     * memory for each of them. */
    uint8_t buf[SHIM_MSG_MAX];
    while (!w->closed && !w->gone) {
        int fds[1], nfds;
        ssize_t n = shim_sock_recv(w->fd, buf, sizeof(buf), fds, 0, &nfds, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return;
        if (n == -EMSGSIZE)
            continue;
        if (n <= 0) {
            watch_gone(w);
            return;
        }
        shim_msg m;
        if (shim_msg_decode(buf, (size_t)n, &m) < 0)
            continue; /* not ours to crash on; skip it */
        watch_deliver(w, &m);
        shim_msg_release(&m);
    }
}

int rt_shim_watch_start(uv_loop_t *loop, const char *run_dir, rt_shim_event_cb cb, void *arg,
                        rt_shim_watch **out, mk_err *err)
{
    int fd;
    int r = shim_connect(run_dir, &fd, err);
    if (r < 0)
        return r;
    uint8_t req[64];
    size_t len;
    shim_msg m = {.type = SHIM_REQ_SUBSCRIBE};
    if ((r = shim_msg_encode(&m, req, sizeof(req), &len)) < 0 ||
        (r = shim_sock_send(fd, req, len, NULL, 0, 0)) < 0) {
        close(fd);
        return mk_errf_sys(err, -r, "subscribe to the shim in %s", run_dir);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return mk_errf_sys(err, e, "fcntl");
    }
    rt_shim_watch *w = xcalloc(1, sizeof(*w));
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    w->poll.data = w;
    if ((r = uv_poll_init(loop, &w->poll, fd)) < 0) {
        close(fd);
        free(w);
        return mk_errf(err, -r, "watch shim: %s", uv_strerror(r));
    }
    if ((r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, watch_poll_cb)) < 0) {
        w->closed = true;
        uv_close((uv_handle_t *)&w->poll, watch_closed_cb);
        return mk_errf(err, -r, "watch shim: %s", uv_strerror(r));
    }
    *out = w;
    return 0;
}

void rt_shim_watch_close(rt_shim_watch *w)
{
    if (!w || w->closed)
        return;
    w->closed = true;
    uv_poll_stop(&w->poll);
    /* a stopped poll handle no longer uses the fd: hang up now, not a loop turn later */
    close(w->fd);
    w->fd = -1;
    uv_close((uv_handle_t *)&w->poll, watch_closed_cb);
}
