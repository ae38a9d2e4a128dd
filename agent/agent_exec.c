/* agent_exec.c - run a command to completion in a running container (the kubelet's /run).
 *
 * The request goes to the pod's shim from the thread pool (rt_shim_exec blocks until the shim
 * answers) with the write ends of two pipes; the agent reads the other ends on the loop. The
 * exit code arrives as an EXEC_EXIT event on a watch of the shim that this exec opens for itself
 * before starting the command, so no other part of the agent has to route it. The exec ends when
 * the exit code is known and both pipes reached EOF (or, if a background process keeps a pipe
 * open, a short drain period after the exit).
 *
 * Lifetime: references for the owner (dropped after done() or on cancel), the work item in
 * flight, each open libuv handle and each call into done(); freed when the last goes.
 */
#include "agent_api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXEC_OUTPUT_MAX (16u << 20) /* per stream */
#define EXEC_READ_CHUNK (64u << 10)
#define EXEC_DRAIN_MS   5000 /* after the exit, how long a pipe held by a leftover child may stay */
#define EXEC_EARLY_MAX  16   /* exits of other execs remembered while ours has no id yet */

typedef struct exec_out {
    uv_pipe_t pipe;
    bool open;
    bool eof;
    char *buf;
    size_t len, cap;
} exec_out;

typedef struct exec_stream {
    agent_api_stream base;
    agent *a;
    char *ctr;
    char *cmd; /* argv[0], for messages */
    agent_api_exec_done_fn done;
    void *arg;
    int refs;
    bool finished;

    /* the request, run in the thread pool */
    uv_work_t work;
    char *run_dir;
    char id[65];
    char **argv;
    int wfd[2]; /* write ends for stdout, stderr; closed once sent */
    uint64_t exec_id;
    pid_t pid;
    int rc;
    int cmd_exit; /* 126/127 when the command could not start in the container */
    mk_err werr;
    bool started; /* exec_id is known */

    rt_shim_watch *watch;
    bool shim_gone;
    exec_out out[2]; /* stdout, stderr */
    bool exited;
    int exit_code;
    uv_timer_t drain;
    bool drain_open;
    uint64_t early_id[EXEC_EARLY_MAX];
    int early_code[EXEC_EARLY_MAX];
    size_t n_early;
} exec_stream;

static void unref(exec_stream *s)
{
    if (--s->refs > 0)
        return;
    for (int i = 0; i < 2; i++) {
        free(s->out[i].buf);
        if (s->wfd[i] >= 0)
            close(s->wfd[i]);
    }
    if (s->argv)
        for (char **p = s->argv; *p; p++)
            free(*p);
    free(s->argv);
    free(s->run_dir);
    free(s->ctr);
    free(s->cmd);
    free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    unref(h->data);
}

static void close_out(exec_stream *s, int i)
{
    if (!s->out[i].open)
        return;
    s->out[i].open = false;
    uv_close((uv_handle_t *)&s->out[i].pipe, on_handle_closed);
}

static void teardown(exec_stream *s)
{
    s->finished = true;
    if (s->watch)
        rt_shim_watch_close(MK_STEAL(s->watch));
    close_out(s, 0);
    close_out(s, 1);
    if (s->drain_open) {
        s->drain_open = false;
        uv_close((uv_handle_t *)&s->drain, on_handle_closed);
    }
}

static void fail(exec_stream *s, int status, const mk_err *err)
{
    if (s->finished)
        return;
    teardown(s);
    s->refs++;
    s->done(s->arg, status, -1, NULL, 0, err);
    s->refs--;
    unref(s); /* the owner's */
}

static void exec_cancel(agent_api_stream *base)
{
    exec_stream *s = (exec_stream *)base;
    if (s->finished)
        return;
    teardown(s);
    unref(s);
}

/* stdout bytes followed by stderr bytes, as the kubelet's /run answers. */
static void complete(exec_stream *s)
{
    if (s->finished)
        return;
    size_t n = s->out[0].len + s->out[1].len;
    cleanup_free char *all = xmalloc(n + 1);
    if (s->out[0].len)
        memcpy(all, s->out[0].buf, s->out[0].len);
    if (s->out[1].len)
        memcpy(all + s->out[0].len, s->out[1].buf, s->out[1].len);
    all[n] = '\0';
    teardown(s);
    s->refs++;
    s->done(s->arg, 0, s->exit_code, all, n, NULL);
    s->refs--;
    unref(s);
}

static void on_drain_timeout(uv_timer_t *t)
{
    exec_stream *s = t->data;
    mk_debug("exec %s in container %s: exited; output still open after %d ms, not waiting "
             "for it",
             s->cmd, s->ctr, EXEC_DRAIN_MS);
    complete(s);
}

static void maybe_complete(exec_stream *s)
{
    if (s->finished || !s->exited)
        return;
    if (s->out[0].eof && s->out[1].eof) {
        complete(s);
        return;
    }
    if (!s->drain_open && uv_timer_init(s->a->loop, &s->drain) == 0) {
        s->drain.data = s;
        s->drain_open = true;
        s->refs++;
        uv_timer_start(&s->drain, on_drain_timeout, EXEC_DRAIN_MS, 0);
    }
}

/* ---- output pipes ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    exec_stream *s = h->data;
    exec_out *o = (uv_pipe_t *)h == &s->out[0].pipe ? &s->out[0] : &s->out[1];
    size_t want = o->len + EXEC_READ_CHUNK;
    if (want > EXEC_OUTPUT_MAX + 1)
        want = EXEC_OUTPUT_MAX + 1; /* one byte beyond the cap detects overflow */
    if (o->cap < want) {
        o->buf = xrealloc(o->buf, want);
        o->cap = want;
    }
    *b = uv_buf_init(o->buf + o->len, (unsigned)(o->cap - o->len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    exec_stream *s = st->data;
    int i = (uv_pipe_t *)st == &s->out[0].pipe ? 0 : 1;
    exec_out *o = &s->out[i];
    if (n > 0) {
        o->len += (size_t)n;
        if (o->len > EXEC_OUTPUT_MAX) {
            mk_err e;
            mk_errf(&e, EFBIG,
                    "%s in container %s: output on %s exceeds %u MiB; stopped "
                    "reading",
                    s->cmd, s->ctr, i ? "stderr" : "stdout", EXEC_OUTPUT_MAX >> 20);
            fail(s, -EFBIG, &e);
        }
        return;
    }
    if (n == 0)
        return;
    if (n != UV_EOF)
        mk_warn("exec %s in container %s: reading %s: %s", s->cmd, s->ctr, i ? "stderr" : "stdout",
                uv_strerror((int)n));
    o->eof = true;
    close_out(s, i);
    maybe_complete(s);
}

/* ---- the exit, from the shim ---- */

static void on_exit_code(exec_stream *s, uint64_t exec_id, int code)
{
    if (!s->started) {
        size_t k = s->n_early++ % EXEC_EARLY_MAX;
        s->early_id[k] = exec_id;
        s->early_code[k] = code;
        return;
    }
    if (exec_id != s->exec_id || s->exited)
        return;
    s->exited = true;
    s->exit_code = code;
    maybe_complete(s);
}

/* Without the shim no exit code can come: fail, unless it is known already (or may still be
 * among the exits that arrived before the exec id). */
static void check_gone(exec_stream *s)
{
    if (!s->shim_gone || s->exited || !s->started || s->finished)
        return;
    mk_err e;
    mk_errf(&e, EIO, "%s in container %s: the pod's sandbox went away before the command finished",
            s->cmd, s->ctr);
    fail(s, -EIO, &e);
}

static void on_shim_event(void *arg, const rt_shim_event *ev)
{
    exec_stream *s = arg;
    if (s->finished)
        return;
    if (ev->type == RT_SHIM_EV_EXEC_EXIT) {
        on_exit_code(s, ev->exec_id, ev->exit_code);
    } else if (ev->type == RT_SHIM_EV_GONE) {
        rt_shim_watch_close(MK_STEAL(s->watch));
        s->shim_gone = true;
        check_gone(s);
    }
}

/* ---- the request, in the thread pool ---- */

static void exec_work(uv_work_t *w)
{
    exec_stream *s = w->data;
    int fds[3] = {-1, s->wfd[0], s->wfd[1]};
    s->rc = rt_shim_exec(s->run_dir, s->id, s->argv, NULL, fds, &s->exec_id, &s->pid, &s->cmd_exit,
                         &s->werr);
    for (int i = 0; i < 2; i++) {
        close(s->wfd[i]);
        s->wfd[i] = -1;
    }
}

static void on_exec_sent(uv_work_t *w, int status)
{
    exec_stream *s = w->data;
    if (s->finished) {
        unref(s);
        return;
    }
    if (status >= 0 && s->rc < 0 && s->cmd_exit > 0) {
        /* The command itself could not run in the container (not found, not executable):
         * answer as a shell would, with its reason on stderr and 127 or 126. */
        exec_out *o = &s->out[1];
        free(o->buf);
        o->buf = xasprintf("%s\n", s->werr.msg);
        o->len = strlen(o->buf);
        o->cap = o->len + 1;
        s->exit_code = s->cmd_exit;
        complete(s);
        unref(s);
        return;
    }
    if (status < 0 || s->rc < 0) {
        mk_err e = s->werr;
        int code = status < 0 ? status : s->rc;
        if (status < 0)
            mk_errf(&e, -status, "exec in container %s: %s", s->ctr, uv_strerror(status));
        fail(s, code, &e);
        unref(s);
        return;
    }
    s->started = true;
    mk_debug("exec %s in container %s: pid %d, exec id %llu", s->cmd, s->ctr, (int)s->pid,
             (unsigned long long)s->exec_id);
    size_t n = s->n_early < EXEC_EARLY_MAX ? s->n_early : EXEC_EARLY_MAX;
    for (size_t k = 0; k < n; k++)
        on_exit_code(s, s->early_id[k], s->early_code[k]);
    check_gone(s);
    unref(s);
}

/* ---- setup ---- */

static int open_pipes(exec_stream *s, mk_err *err)
{
    for (int i = 0; i < 2; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return mk_errf_sys(err, errno, "exec in container %s: pipe", s->ctr);
        s->wfd[i] = p[1];
        int r = uv_pipe_init(s->a->loop, &s->out[i].pipe, 0);
        if (r == 0) {
            s->out[i].pipe.data = s;
            s->out[i].open = true;
            s->refs++;
            r = uv_pipe_open(&s->out[i].pipe, p[0]);
        }
        if (r < 0) {
            close(p[0]);
            return mk_errf(err, -r, "exec in container %s: pipe: %s", s->ctr, uv_strerror(r));
        }
        r = uv_read_start((uv_stream_t *)&s->out[i].pipe, on_alloc, on_read);
        if (r < 0)
            return mk_errf(err, -r, "exec in container %s: reading the pipe: %s", s->ctr,
                           uv_strerror(r));
    }
    return 0;
}

static agent_ctr *running_ctr(agent *a, const agent_api_exec_req *req, agent_pod **podp,
                              mk_err *err)
{
    agent_pod *pod = agent_api_find_pod(a, req->ns, req->pod, err);
    if (!pod)
        return NULL;
    agent_ctr *c = agent_api_find_ctr(pod, req->container, err);
    if (!c)
        return NULL;
    if (!c->cur.id[0] || c->cur.state != RT_CTR_RUNNING || !pod->run_dir) {
        mk_errf(err, EINVAL, "container %s is not running", req->container);
        return NULL;
    }
    *podp = pod;
    return c;
}

int agent_api_exec(agent *a, const agent_api_exec_req *req, agent_api_exec_done_fn done, void *arg,
                   agent_api_stream **out, mk_err *err)
{
    if (!req->argv || !req->argv[0] || !req->argv[0][0])
        return mk_errf(err, EINVAL, "exec: a command is required");
    agent_pod *pod = NULL;
    agent_ctr *c = running_ctr(a, req, &pod, err);
    if (!c)
        return -err->code;

    exec_stream *s = xcalloc(1, sizeof(*s));
    s->base.cancel = exec_cancel;
    s->a = a;
    s->ctr = xstrdup(req->container);
    s->cmd = xstrdup(req->argv[0]);
    s->done = done;
    s->arg = arg;
    s->refs = 1;
    s->run_dir = xstrdup(pod->run_dir);
    snprintf(s->id, sizeof(s->id), "%s", c->cur.id);
    s->argv = rt_strv_dup(req->argv);
    s->wfd[0] = s->wfd[1] = -1;

    /* Watch first, so the exit cannot be reported before anyone listens. */
    int r = rt_shim_watch_start(a->loop, pod->run_dir, on_shim_event, s, &s->watch, err);
    if (r >= 0)
        r = open_pipes(s, err);
    if (r >= 0) {
        s->work.data = s;
        int q = uv_queue_work(a->loop, &s->work, exec_work, on_exec_sent);
        if (q < 0)
            r = mk_errf(err, -q, "exec in container %s: %s", s->ctr, uv_strerror(q));
        else
            s->refs++;
    }
    if (r < 0) {
        if (!strstr(err->msg, req->container))
            mk_err_wrap(err, "exec in container %s", req->container);
        teardown(s);
        unref(s);
        return r;
    }
    *out = &s->base;
    return 0;
}
