/* agent_logs.c - container logs for the API: pick the instance as the kubelet does, read its
 * CRI log in the thread pool, and follow it until the instance stops.
 *
 * Memory: a log is read in passes (the first one with tail/since/limit, then one per change
 * while following), each pass in chunks of LOG_CHUNK bytes: one chunk is read in the thread
 * pool, handed to the client, and only then is the next one read. A stream holds one reader
 * (bounded, see crilog.h) and one chunk at a time, whatever the size of the log. When the
 * client's write() says it is behind, the stream pauses between chunks (changes seen while
 * following are remembered) until agent_api_stream_resume().
 *
 * Lifetime: a stream holds references for its owner (dropped when done() has run or on
 * cancel), for a work item in flight, for each open libuv handle and for each call into the
 * user's callbacks. It is freed when the last reference goes, so cancel is safe at any moment,
 * even while a read runs in the thread pool or from inside write()/done().
 */
#include "agent_api_int.h"
#include "crilog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOW_CHECK_MS 1000 /* forced re-check, as the kubelet's logForceCheckPeriod */
#define CTR_ID_PREFIX   "mini-kubelet://"
#define LOG_CHUNK       RT_CRILOG_CHUNK

typedef struct log_stream {
    agent_api_stream base;
    agent *a;
    char uid[33];
    char *ctr;
    char id[65]; /* the container instance being read */
    char *path;
    rt_crilog_opts opts;        /* first read: tail, since, limit, timestamps */
    rt_crilog_opts follow_opts; /* later reads: since and timestamps only */
    bool follow;
    int64_t limit_left; /* -1: unlimited */
    agent_api_write_fn write;
    agent_api_done_fn done;
    void *arg;

    int refs;
    bool finished; /* done() ran or the stream was cancelled: no more callbacks */
    bool watching;
    bool again;     /* a change was seen while a read was in flight */
    bool last_read; /* the instance has stopped: the read in flight is the final one */
    bool paused;    /* the client is behind: no read until resumed */
    uv_timer_t timer;
    uv_fs_event_t fsev;
    bool fsev_open;

    /* the pass being read; a read of its next chunk may be in flight (thread pool) */
    uv_work_t work;
    bool busy;
    bool initial;         /* the pass is the first one */
    off_t offset;         /* where the next pass starts */
    rt_crilog_reader *rd; /* the pass's reader, NULL between passes */
    const char *chunk;    /* the chunk read, inside rd */
    size_t chunk_len;
    int rc; /* of the read: 1 a chunk, 0 the pass is over, < 0 an error */
    mk_err werr;
} log_stream;

static void read_next(log_stream *s);

static void unref(log_stream *s)
{
    if (--s->refs > 0)
        return;
    rt_crilog_close(s->rd);
    free(s->path);
    free(s->ctr);
    free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    unref(h->data);
}

static void stop_watching(log_stream *s)
{
    if (!s->watching)
        return;
    s->watching = false;
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    if (s->fsev_open)
        uv_close((uv_handle_t *)&s->fsev, on_handle_closed);
    s->fsev_open = false;
}

/* End the stream; calls done() unless cancelled. Drops the owner's reference. */
static void finish(log_stream *s, int status, const mk_err *err)
{
    if (s->finished)
        return;
    s->finished = true;
    stop_watching(s);
    s->refs++;
    s->done(s->arg, status, err);
    s->refs--;
    unref(s);
}

static void log_cancel(agent_api_stream *base)
{
    log_stream *s = (log_stream *)base;
    if (s->finished)
        return;
    s->finished = true;
    stop_watching(s);
    unref(s);
}

/* Hand text to the client, honouring limitBytes. false when the stream has ended. */
static bool emit(log_stream *s, const char *data, size_t len)
{
    if (s->limit_left >= 0 && (int64_t)len > s->limit_left)
        len = (size_t)s->limit_left;
    if (len == 0)
        return true;
    if (s->limit_left >= 0)
        s->limit_left -= (int64_t)len;
    s->refs++;
    int r = s->write(s->arg, data, len);
    bool ended = s->finished;
    unref(s);
    if (ended)
        return false;
    if (r < 0) {
        mk_err e;
        mk_errf(&e, EPIPE, "logs of container %s: the client went away", s->ctr);
        finish(s, -EPIPE, &e);
        return false;
    }
    if (r > 0)
        s->paused = true;
    return true;
}

static bool instance_running(const log_stream *s)
{
    agent_pod *pod = agent_pod_find_uid(s->a, s->uid);
    if (!pod || pod->phase == AGENT_POD_STOPPED)
        return false;
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const agent_ctr *c = &pod->ctrs[i];
        if (strcmp(c->spec->name, s->ctr) == 0)
            return strcmp(c->cur.id, s->id) == 0 && c->cur.state == RT_CTR_RUNNING;
    }
    return false;
}

/* ---- reading in the thread pool ---- */

static void read_work(uv_work_t *w)
{
    log_stream *s = w->data;
    if (!s->rd) {
        if (s->initial)
            s->rc = rt_crilog_open(s->path, &s->opts, LOG_CHUNK, &s->rd, &s->werr);
        else
            s->rc =
                rt_crilog_open_at(s->path, s->offset, &s->follow_opts, LOG_CHUNK, &s->rd, &s->werr);
        if (s->rc < 0)
            return;
    }
    s->rc = rt_crilog_next(s->rd, &s->chunk, &s->chunk_len, &s->werr);
}

static void on_change(log_stream *s)
{
    if (s->finished)
        return;
    if (s->busy || s->paused) {
        s->again = true;
        return;
    }
    read_next(s);
}

static void on_timer(uv_timer_t *t)
{
    on_change(t->data);
}

static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    on_change(h->data);
}

static void start_watching(log_stream *s)
{
    uv_timer_init(s->a->loop, &s->timer);
    s->timer.data = s;
    s->refs++;
    s->watching = true;
    uv_timer_start(&s->timer, on_timer, FOLLOW_CHECK_MS, FOLLOW_CHECK_MS);

    /* The timer alone keeps following correct; the fs event makes it prompt. */
    if (uv_fs_event_init(s->a->loop, &s->fsev) < 0)
        return;
    s->fsev.data = s;
    s->refs++;
    s->fsev_open = true;
    int r = uv_fs_event_start(&s->fsev, on_fs_event, s->path, 0);
    if (r < 0) {
        mk_debug("logs: watching %s: %s; polling every %d ms", s->path, uv_strerror(r),
                 FOLLOW_CHECK_MS);
        uv_close((uv_handle_t *)&s->fsev, on_handle_closed);
        s->fsev_open = false;
    }
}

/* After a read: send the chunk and read the next one, or at the end of a pass decide whether
 * to go on following. */
static void after_read(log_stream *s)
{
    if (s->rc < 0) {
        mk_err e = s->werr;
        finish(s, s->rc, &e);
        return;
    }
    if (s->rc > 0) {
        if (!emit(s, s->chunk, s->chunk_len))
            return;
        if (s->limit_left == 0)
            finish(s, 0, NULL);
        else if (!s->paused)
            read_next(s);
        return;
    }
    s->offset = rt_crilog_offset(s->rd);
    rt_crilog_close(s->rd);
    s->rd = NULL;
    bool was_initial = s->initial;
    s->initial = false;
    if (!s->follow || s->last_read || s->limit_left == 0) {
        finish(s, 0, NULL);
        return;
    }
    if (was_initial)
        start_watching(s);
    if (!instance_running(s)) {
        /* one more read picks up what the instance wrote before it stopped */
        s->last_read = true;
        read_next(s);
    } else if (s->again) {
        s->again = false;
        read_next(s);
    }
}

static void on_read_done(uv_work_t *w, int status)
{
    log_stream *s = w->data;
    s->busy = false;
    if (s->finished) {
        unref(s);
        return;
    }
    if (status < 0) {
        s->rc = status;
        mk_errf(&s->werr, -status, "reading the log of container %s: %s", s->ctr,
                uv_strerror(status));
    }
    after_read(s);
    unref(s);
}

/* Start a read in the thread pool; < 0 (libuv error) if it could not be queued. */
static int queue_read(log_stream *s)
{
    s->chunk = NULL;
    s->chunk_len = 0;
    s->rc = 0;
    s->work.data = s;
    int r = uv_queue_work(s->a->loop, &s->work, read_work, on_read_done);
    if (r < 0)
        return r;
    s->busy = true;
    s->refs++;
    return 0;
}

/* queue_read on the loop: a failure ends the stream. */
static void read_next(log_stream *s)
{
    int r = queue_read(s);
    if (r < 0) {
        mk_err e;
        mk_errf(&e, -r, "reading the log of container %s: %s", s->ctr, uv_strerror(r));
        finish(s, r, &e);
    }
}

static void log_resume(log_stream *s)
{
    if (s->finished || !s->paused)
        return;
    s->paused = false;
    if (!s->busy)
        read_next(s); /* the rest of the pass, or the pass's end */
}

void agent_api_stream_resume(agent_api_stream *base)
{
    if (base && base->cancel == log_cancel) /* exec streams never pause */
        log_resume((log_stream *)base);
}

/* ---- choosing the instance (the kubelet's validateContainerLogStatus) ---- */

static const podspec_container_status *status_of(const podspec_pod_status *st, const char *name)
{
    for (size_t i = 0; i < st->n_container_statuses; i++)
        if (strcmp(st->container_statuses[i].name, name) == 0)
            return &st->container_statuses[i];
    return NULL;
}

static int waiting_error(const podspec_container_status *cs, const char *ctr, const char *pod,
                         mk_err *err)
{
    const char *reason = cs && cs->state.kind == PODSPEC_STATE_WAITING ? cs->state.reason : NULL;
    if (!reason)
        return mk_errf(err, EINVAL,
                       "container \"%s\" in pod \"%s\" is waiting to start - no "
                       "logs yet",
                       ctr, pod);
    if (strcmp(reason, "ErrImagePull") == 0)
        return mk_errf(err, EINVAL,
                       "container \"%s\" in pod \"%s\" is waiting to start: image "
                       "can't be pulled",
                       ctr, pod);
    if (strcmp(reason, "ImagePullBackOff") == 0)
        return mk_errf(err, EINVAL,
                       "container \"%s\" in pod \"%s\" is waiting to start: trying "
                       "and failing to pull image",
                       ctr, pod);
    return mk_errf(err, EINVAL, "container \"%s\" in pod \"%s\" is waiting to start: %s", ctr, pod,
                   reason);
}

static const char *strip_id(const char *cid)
{
    if (cid && strncmp(cid, CTR_ID_PREFIX, strlen(CTR_ID_PREFIX)) == 0)
        return cid + strlen(CTR_ID_PREFIX);
    return cid;
}

/* The container ID whose log is wanted, from the served status. */
static const char *pick_id(const podspec_container_status *cs, bool previous, const char *ctr,
                           const char *pod, mk_err *err)
{
    const podspec_container_state *st = cs ? &cs->state : NULL;
    const podspec_container_state *last = cs ? &cs->last_state : NULL;
    bool last_term = last && last->kind == PODSPEC_STATE_TERMINATED && last->container_id;
    if (previous) {
        if (!last_term)
            mk_errf(err, EINVAL, "previous terminated container \"%s\" in pod \"%s\" not found",
                    ctr, pod);
        return last_term ? last->container_id : NULL;
    }
    if (st && st->kind == PODSPEC_STATE_RUNNING && cs->container_id)
        return cs->container_id;
    if (st && st->kind == PODSPEC_STATE_TERMINATED) {
        if (st->container_id)
            return st->container_id;
        if (last_term)
            return last->container_id;
        mk_errf(err, EINVAL, "container \"%s\" in pod \"%s\" is terminated", ctr, pod);
        return NULL;
    }
    if (last_term)
        return last->container_id;
    waiting_error(cs, ctr, pod, err);
    return NULL;
}

static const agent_ctr_run *run_by_id(const agent_ctr *c, const char *id)
{
    if (c->cur.id[0] && strcmp(c->cur.id, id) == 0)
        return &c->cur;
    if (c->prev.id[0] && strcmp(c->prev.id, id) == 0)
        return &c->prev;
    return NULL;
}

/* The wall-clock start of a sinceSeconds window; 0 (everything) when unset or when the window
 * reaches back before 1970, which also keeps huge values from overflowing. */
static int64_t since_ns(int64_t since_seconds, int64_t now_ns)
{
    if (since_seconds <= 0 || since_seconds >= now_ns / 1000000000LL)
        return 0;
    return now_ns - since_seconds * 1000000000LL;
}

int agent_api_logs(agent *a, const agent_api_log_req *req, agent_api_write_fn write,
                   agent_api_done_fn done, void *arg, agent_api_stream **out, mk_err *err)
{
    agent_pod *pod = agent_api_find_pod(a, req->ns, req->pod, err);
    if (!pod)
        return -err->code;
    agent_ctr *c = agent_api_find_ctr(pod, req->container, err);
    if (!c)
        return -err->code;
    const podspec_container_status *cs = status_of(agent_api_pod_status(pod), req->container);
    const char *cid = pick_id(cs, req->previous, req->container, req->pod, err);
    if (!cid)
        return -err->code;
    const agent_ctr_run *run = run_by_id(c, strip_id(cid));
    if (!run)
        return mk_errf(err, ENOENT,
                       "container \"%s\" in pod \"%s\": the log of instance %s is "
                       "gone",
                       req->container, req->pod, strip_id(cid));

    log_stream *s = xcalloc(1, sizeof(*s));
    s->base.cancel = log_cancel;
    s->a = a;
    snprintf(s->uid, sizeof(s->uid), "%s", pod->uid);
    s->ctr = xstrdup(req->container);
    snprintf(s->id, sizeof(s->id), "%s", run->id);
    s->path = agent_api_log_path(pod, req->container, run->attempt);
    int64_t since = since_ns(req->since_seconds, mk_now_ns());
    s->opts = (rt_crilog_opts){.tail_lines = req->tail_lines,
                               .since_ns = since,
                               .limit_bytes = req->limit_bytes,
                               .timestamps = req->timestamps};
    s->follow_opts = (rt_crilog_opts){
        .tail_lines = -1, .since_ns = since, .limit_bytes = -1, .timestamps = req->timestamps};
    s->follow = req->follow;
    s->limit_left = req->limit_bytes >= 0 ? req->limit_bytes : -1;
    s->write = write;
    s->done = done;
    s->arg = arg;
    s->refs = 1; /* the owner's */
    s->initial = true;
    int r = queue_read(s);
    if (r < 0) {
        unref(s);
        return mk_errf(err, -r, "reading the log of container %s: %s", req->container,
                       uv_strerror(r));
    }
    *out = &s->base;
    return 0;
}
