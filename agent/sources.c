/* sources.c - the manifest directory source on the loop: watch, debounce, resync, merge the
 * scan results with what each file last parsed to, and deliver the desired set. */
#include "sources_scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEBOUNCE_MS      5
#define MISSING_RETRY_MS 1000

typedef struct src_file {
    char *name;
    src_file_key key;
    bool ignored;
    podspec_result good; /* the last version that parsed */
    bool has_good;
    bool retry;       /* its read failed: read it again even if it looks unchanged */
    char *error;      /* why the current version is not used, or NULL */
    char *dup_logged; /* the duplicate message last logged, to log each once */
} src_file;

struct agent_sources {
    uv_loop_t *loop;
    char *dir;
    uint64_t resync_ms;
    agent_source_fn fn;
    void *arg;
    uv_timer_t debounce, resync;
    uv_fs_event_t watch;
    bool watching;
    dev_t wdev;
    ino_t wino;
    bool scanning, pending, ready, closing, missing_logged;
    int open_handles;
    uv_work_t work;
    src_scan *scan;
    src_file *files;
    size_t n_files;
    struct agent_manifests view;
    void (*done)(void *arg);
    void *done_arg;
};

const char *agent_manifest_state_name(agent_manifest_state s)
{
    switch (s) {
    case AGENT_MANIFEST_OK:
        return "ok";
    case AGENT_MANIFEST_ERROR:
        return "error";
    case AGENT_MANIFEST_DUPLICATE:
        return "duplicate";
    case AGENT_MANIFEST_IGNORED:
        return "ignored";
    }
    return "unknown";
}

static void file_free(src_file *f)
{
    free(f->name);
    podspec_result_free(&f->good);
    free(f->error);
    free(f->dup_logged);
    memset(f, 0, sizeof(*f));
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void view_clear(struct agent_manifests *v)
{
    for (size_t i = 0; i < v->n_files; i++) {
        agent_manifest_file *m = &v->files[i];
        free(m->file);
        strv_free(m->pods);
        free(m->error);
        strv_free(m->warnings);
    }
    free(v->files);
    v->files = NULL;
    v->n_files = 0;
}

/* ---- scan scheduling ---- */

static void start_scan(agent_sources *s);

static void on_debounce(uv_timer_t *t)
{
    start_scan(t->data);
}

static void on_resync(uv_timer_t *t)
{
    start_scan(t->data);
}

void agent_sources_rescan(agent_sources *s)
{
    if (s->closing)
        return;
    if (s->scanning) {
        s->pending = true;
        return;
    }
    if (!uv_is_active((uv_handle_t *)&s->debounce))
        uv_timer_start(&s->debounce, on_debounce, DEBOUNCE_MS, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    agent_sources *s = h->data;
    if (status < 0) {
        mk_warn("manifest directory %s: watch failed (%s); relying on rescans", s->dir,
                uv_strerror(status));
        uv_fs_event_stop(&s->watch);
        s->watching = false;
    } else if (filename && filename[0] == '.') {
        return; /* editors' temp and swap files */
    }
    mk_debug("manifest directory %s: event on %s", s->dir, filename ? filename : "?");
    agent_sources_rescan(s);
}

static void update_watch(agent_sources *s, const src_scan *sc)
{
    if (sc->dir_errno) {
        if (s->watching)
            uv_fs_event_stop(&s->watch);
        s->watching = false;
        return;
    }
    if (s->watching && s->wdev == sc->dir_dev && s->wino == sc->dir_ino)
        return;
    if (s->watching)
        uv_fs_event_stop(&s->watch);
    int r = uv_fs_event_start(&s->watch, on_fs_event, s->dir, 0);
    s->watching = (r == 0);
    s->wdev = sc->dir_dev;
    s->wino = sc->dir_ino;
    if (r < 0)
        mk_warn("manifest directory %s: cannot watch (%s); rescanning every %llu s", s->dir,
                uv_strerror(r), (unsigned long long)(s->resync_ms / 1000));
}

/* ---- merging a scan into the per-file state ---- */

static src_file *find_old(src_file *old, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (old[i].name && strcmp(old[i].name, name) == 0)
            return &old[i];
    return NULL;
}

static void log_warnings(const podspec_result *r)
{
    for (size_t i = 0; i < r->n_warnings; i++)
        mk_warn("manifest %s", r->warnings[i].msg);
}

static void merge_entry(src_file *nf, src_scan_entry *e, src_file *of)
{
    nf->name = MK_STEAL(e->name);
    nf->key = e->key;
    nf->ignored = e->ignored;
    if (of) {
        nf->dup_logged = MK_STEAL(of->dup_logged);
        if (of->has_good) {
            nf->good = of->good;
            nf->has_good = true;
            memset(&of->good, 0, sizeof(of->good));
        }
    }
    if (e->ignored)
        return;
    if (e->unchanged) {
        if (of)
            nf->error = MK_STEAL(of->error);
        return;
    }
    if (e->parsed) {
        podspec_result_free(&nf->good);
        nf->good = e->result;
        memset(&e->result, 0, sizeof(e->result));
        nf->has_good = true;
        log_warnings(&nf->good);
        return;
    }
    nf->error = MK_STEAL(e->error);
    nf->retry = e->read_failed;
    if (of && of->error && strcmp(of->error, nf->error) == 0)
        return; /* logged already (a read retried with the same outcome) */
    if (nf->has_good && nf->good.n_pods)
        mk_error("manifest %s (the pods of its last good version keep running)", nf->error);
    else
        mk_error("manifest %s", nf->error);
}

static void merge_scan(agent_sources *s, src_scan *sc)
{
    src_file *nfiles = xcalloc(sc->n_entries ? sc->n_entries : 1, sizeof(*nfiles));
    for (size_t i = 0; i < sc->n_entries; i++)
        merge_entry(&nfiles[i], &sc->entries[i],
                    find_old(s->files, s->n_files, sc->entries[i].name));
    for (size_t i = 0; i < s->n_files; i++)
        file_free(&s->files[i]);
    free(s->files);
    s->files = nfiles;
    s->n_files = sc->n_entries;
}

/* ---- the desired set and the per-file view ---- */

typedef struct seen_pod {
    char *key; /* ns/name */
    const char *file;
} seen_pod;

static const seen_pod *seen_find(const seen_pod *seen, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(seen[i].key, key) == 0)
            return &seen[i];
    return NULL;
}

static char **warnings_strv(const podspec_result *r)
{
    if (!r->n_warnings)
        return NULL;
    char **v = xcalloc(r->n_warnings + 1, sizeof(*v));
    for (size_t i = 0; i < r->n_warnings; i++)
        v[i] = xstrdup(r->warnings[i].msg);
    return v;
}

/* Fill one view entry and append the file's accepted pods to the desired set. */
static void build_file(agent_sources *s, src_file *f, agent_manifest_file *m, seen_pod **seen,
                       size_t *n_seen, podspec_pod ***desired, size_t *n_desired)
{
    m->file = xasprintf("%s/%s", s->dir, f->name);
    m->mtime_ns = f->key.mtime_ns;
    m->state =
        f->ignored ? AGENT_MANIFEST_IGNORED : (f->error ? AGENT_MANIFEST_ERROR : AGENT_MANIFEST_OK);
    if (f->ignored)
        m->error = xstrdup("not read: only *.yaml, *.yml and *.json files are manifests");
    else if (f->error)
        m->error = xstrdup(f->error);
    if (!f->has_good)
        return;
    m->warnings = warnings_strv(&f->good);
    m->pods = xcalloc(f->good.n_pods + 1, sizeof(char *));
    char *dup_msg = NULL;
    for (size_t i = 0; i < f->good.n_pods; i++) {
        podspec_pod *p = f->good.pods[i];
        char *key = xasprintf("%s/%s", p->namespace_, p->name);
        const seen_pod *other = seen_find(*seen, *n_seen, key);
        if (other) {
            char *msg = xasprintf("%s: pod %s is already defined in %s; ignored here (the first "
                                  "file by name wins)",
                                  m->file, key, other->file);
            free(dup_msg);
            dup_msg = msg;
            free(key);
            continue;
        }
        m->pods[m->n_pods++] = xstrdup(key);
        *seen = xrealloc(*seen, (*n_seen + 1) * sizeof(**seen));
        (*seen)[(*n_seen)++] = (seen_pod){key, m->file};
        *desired = xrealloc(*desired, (*n_desired + 1) * sizeof(**desired));
        (*desired)[(*n_desired)++] = p;
    }
    if (dup_msg) {
        if (!f->dup_logged || strcmp(f->dup_logged, dup_msg) != 0)
            mk_error("manifest %s", dup_msg);
        free(f->dup_logged);
        f->dup_logged = xstrdup(dup_msg);
        if (m->state == AGENT_MANIFEST_OK) {
            m->state = AGENT_MANIFEST_DUPLICATE;
            m->error = dup_msg;
            dup_msg = NULL;
        }
        free(dup_msg);
    } else {
        free(f->dup_logged);
        f->dup_logged = NULL;
    }
}

static void deliver(agent_sources *s, int dir_errno)
{
    view_clear(&s->view);
    s->view.dir_missing = (dir_errno != 0);
    s->view.files = xcalloc(s->n_files ? s->n_files : 1, sizeof(*s->view.files));
    seen_pod *seen = NULL;
    size_t n_seen = 0, n_desired = 0;
    podspec_pod **desired = NULL;
    for (size_t i = 0; i < s->n_files; i++)
        build_file(s, &s->files[i], &s->view.files[s->view.n_files++], &seen, &n_seen, &desired,
                   &n_desired);
    for (size_t i = 0; i < n_seen; i++)
        free(seen[i].key);
    free(seen);
    s->ready = true;
    s->fn(s->arg, desired, n_desired);
    free(desired);
}

/* ---- the scan on the thread pool ---- */

static void scan_work(uv_work_t *w)
{
    agent_sources *s = w->data;
    agent_src_scan_run(s->scan);
}

static void maybe_finish_close(agent_sources *s);

/* After a scan that delivered nothing: run the next one now if asked, else in a while. */
static void schedule_retry(agent_sources *s)
{
    if (s->pending) {
        s->pending = false;
        agent_sources_rescan(s);
    } else if (!uv_is_active((uv_handle_t *)&s->debounce)) {
        uv_timer_start(&s->debounce, on_debounce, MISSING_RETRY_MS, 0);
    }
}

/* The directory is there but could not be read (EMFILE, EIO, ENOMEM ...): that says nothing
 * about the manifests, so the desired set of the last good scan stays. */
static void keep_last_set(agent_sources *s, int dir_errno)
{
    char *msg = xasprintf("%s: %s", s->dir, strerror(dir_errno));
    if (!s->view.dir_error || strcmp(s->view.dir_error, msg) != 0)
        mk_error("manifest directory %s; the pods of the last good scan keep running (retrying)",
                 msg);
    free(s->view.dir_error);
    s->view.dir_error = msg;
    schedule_retry(s);
}

static void scan_done(uv_work_t *w, int status)
{
    agent_sources *s = w->data;
    src_scan *sc = MK_STEAL(s->scan);
    s->scanning = false;
    if (s->closing || status < 0) {
        agent_src_scan_free(sc);
        maybe_finish_close(s);
        return;
    }
    int dir_errno = sc->dir_errno;
    if (dir_errno && dir_errno != ENOENT && dir_errno != ENOTDIR) {
        agent_src_scan_free(sc);
        keep_last_set(s, dir_errno);
        return;
    }
    if (s->view.dir_error) {
        mk_info("manifest directory %s: readable again", s->dir);
        free(s->view.dir_error);
        s->view.dir_error = NULL;
    }
    if (dir_errno) {
        if (!s->missing_logged)
            mk_warn("manifest directory %s: %s; no manifests until it can be read (retrying)",
                    s->dir, strerror(dir_errno));
        s->missing_logged = true;
        for (size_t i = 0; i < sc->n_entries; i++)
            agent_src_scan_entry_clear(&sc->entries[i]);
        sc->n_entries = 0;
    } else if (s->missing_logged) {
        mk_info("manifest directory %s: readable again", s->dir);
        s->missing_logged = false;
    }
    update_watch(s, sc);
    merge_scan(s, sc);
    agent_src_scan_free(sc);
    deliver(s, dir_errno);
    if (s->closing)
        return;
    if (s->pending || dir_errno)
        schedule_retry(s);
}

static void start_scan(agent_sources *s)
{
    if (s->closing)
        return;
    if (s->scanning) {
        s->pending = true;
        return;
    }
    uv_timer_stop(&s->debounce);
    src_scan *sc = xcalloc(1, sizeof(*sc));
    sc->dir = xstrdup(s->dir);
    sc->prev = xcalloc(s->n_files ? s->n_files : 1, sizeof(*sc->prev));
    for (size_t i = 0; i < s->n_files; i++) {
        sc->prev[i].name = xstrdup(s->files[i].name);
        if (!s->files[i].retry) /* a zero key never matches: the file is read again */
            sc->prev[i].key = s->files[i].key;
    }
    sc->n_prev = s->n_files;
    s->scan = sc;
    s->work.data = s;
    int r = uv_queue_work(s->loop, &s->work, scan_work, scan_done);
    if (r < 0) {
        mk_error("manifest directory %s: cannot queue a scan: %s", s->dir, uv_strerror(r));
        agent_src_scan_free(MK_STEAL(s->scan));
        return;
    }
    s->scanning = true;
}

/* ---- lifetime ---- */

int agent_sources_start(uv_loop_t *loop, const char *dir, int resync_seconds, agent_source_fn fn,
                        void *arg, agent_sources **out, mk_err *err)
{
    agent_sources *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    s->dir = xstrndup(dir, dl);
    s->view.dir = xstrdup(s->dir);
    s->resync_ms = (uint64_t)(resync_seconds > 0 ? resync_seconds : 20) * 1000;
    s->fn = fn;
    s->arg = arg;
    int r = uv_fs_event_init(loop, &s->watch);
    if (r < 0) {
        free(s->view.dir);
        free(s->dir);
        free(s);
        return mk_errf(err, -r, "manifest directory %s: %s", dir, uv_strerror(r));
    }
    uv_timer_init(loop, &s->debounce);
    uv_timer_init(loop, &s->resync);
    s->debounce.data = s->resync.data = s->watch.data = s;
    s->open_handles = 3;
    uv_timer_start(&s->resync, on_resync, s->resync_ms, s->resync_ms);
    start_scan(s);
    *out = s;
    return 0;
}

const struct agent_manifests *agent_sources_manifests(const agent_sources *s)
{
    return &s->view;
}

bool agent_sources_ready(const agent_sources *s)
{
    return s->ready;
}

static void maybe_finish_close(agent_sources *s)
{
    if (!s->closing || s->scanning || s->open_handles > 0)
        return;
    for (size_t i = 0; i < s->n_files; i++)
        file_free(&s->files[i]);
    free(s->files);
    view_clear(&s->view);
    free(s->view.dir);
    free(s->view.dir_error);
    free(s->dir);
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;
    free(s);
    if (done)
        done(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    agent_sources *s = h->data;
    s->open_handles--;
    maybe_finish_close(s);
}

void agent_sources_close(agent_sources *s, void (*done)(void *arg), void *arg)
{
    if (!s || s->closing)
        return;
    s->closing = true;
    s->done = done;
    s->done_arg = arg;
    uv_close((uv_handle_t *)&s->debounce, on_handle_closed);
    uv_close((uv_handle_t *)&s->resync, on_handle_closed);
    uv_close((uv_handle_t *)&s->watch, on_handle_closed);
}
