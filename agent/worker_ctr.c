/* worker_ctr.c - containers of an active pod: image lookup, start, exits, restartPolicy with
 * crash-loop backoff, image backoff, and the bookkeeping of the current and previous instance. */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAP(x) (UINT64_C(1) << (x))

/* containerd's default capability set */
static const uint64_t default_caps =
    CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_FSETID) | CAP(CAP_FOWNER) | CAP(CAP_MKNOD) |
    CAP(CAP_NET_RAW) | CAP(CAP_SETGID) | CAP(CAP_SETUID) | CAP(CAP_SETFCAP) | CAP(CAP_SETPCAP) |
    CAP(CAP_NET_BIND_SERVICE) | CAP(CAP_SYS_CHROOT) | CAP(CAP_KILL) | CAP(CAP_AUDIT_WRITE);

#define TERMINATION_MSG_MAX 4096

bool agent_pod_any_running(const agent_pod *pod)
{
    for (size_t i = 0; i < pod->n_ctrs; i++)
        if (pod->ctrs[i].cur.id[0] && pod->ctrs[i].cur.state == RT_CTR_RUNNING)
            return true;
    return false;
}

/* The newest instance went away with its sandbox: exited 137, ContainerStatusUnknown.
 * `unknown`: it is restarted whatever the restartPolicy (the pod is still wanted). */
static void lose_run(agent_ctr *c, bool unknown, int64_t now)
{
    agent_ctr_run *r = &c->cur;
    r->state = RT_CTR_EXITED;
    r->exit_code = 137;
    r->finished_ns = now;
    free(r->reason);
    free(r->message);
    r->reason = xstrdup("ContainerStatusUnknown");
    r->message = xstrdup("The container could not be located when the pod was terminated");
    c->unknown_exit = unknown;
}

/* ---- the start step ---- */

typedef enum { START_OK, START_ERROR, START_NO_IMAGE, START_BAD_IMAGE } start_outcome;

typedef struct start_step {
    agent_ctr *ctr; /* stable: ctrs never move while the pod lives */
    int attempt;
    bool restart;
    int64_t replaced_finished_ns; /* finished time of the instance being replaced */
    char *remove_id;              /* an older instance to forget once this one starts */
    /* out */
    start_outcome outcome;
    bool created; /* got as far as asking the shim to create it */
    char id[65];
    pid_t pid;
    int64_t started_ns;
    char *image_ref, *image_id;
} start_step;

static int random_id(char out[65], mk_err *err)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return mk_errf_sys(err, errno, "getrandom");
        got += (size_t)r;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* Find the image; fill the step's image fields. 0, or the outcome as a negative value. */
static int find_image(pod_op *op, start_step *st, rt_image **img)
{
    const podspec_container *c = st->ctr->spec;
    rt_image_ref ref = {0};
    if (rt_image_ref_parse(c->image, &ref, &op->err) < 0) {
        st->outcome = START_BAD_IMAGE;
        return -1;
    }
    st->image_ref = xstrdup(ref.full);
    rt_image_ref_free(&ref);
    uv_mutex_lock(&op->a->images_lock);
    int r = rt_image_lookup(op->a->images, c->image, img, &op->err);
    uv_mutex_unlock(&op->a->images_lock);
    if (r == -ENOENT) {
        st->outcome = START_NO_IMAGE;
        if (strcmp(c->image_pull_policy, "Never") == 0)
            mk_errf(&op->err, ENOENT,
                    "Container image \"%s\" is not present with pull policy of Never", c->image);
        else
            mk_errf(&op->err, ENOENT,
                    "image \"%s\" is not present locally and registry pulls are not supported "
                    "yet",
                    c->image);
        return -1;
    }
    if (r < 0) {
        st->outcome = START_NO_IMAGE;
        return -1;
    }
    st->image_id = xstrdup((*img)->repo_digest ? (*img)->repo_digest : (*img)->id);
    return 0;
}

static char **lowers_top_first(const rt_image *img)
{
    char **v = xcalloc(img->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < img->n_layers; i++)
        v[i] = img->layer_dirs[img->n_layers - 1 - i];
    return v; /* borrowed strings: free the array only */
}

static int make_dirs(const agent_pod *pod, const char *name, const char *id, char **ctr_dir,
                     mk_err *err)
{
    *ctr_dir = xasprintf("%s/containers/%s", pod->state_dir, id);
    const char *subs[] = {"upper", "work", "rootfs"};
    for (size_t i = 0; i < MK_ARRAY_LEN(subs); i++) {
        cleanup_free char *d = xasprintf("%s/%s", *ctr_dir, subs[i]);
        int r = mk_mkdir_p(d, 0755, err);
        if (r < 0)
            return r;
    }
    cleanup_free char *logs = xasprintf("%s/%s", pod->log_dir, name);
    int r = mk_mkdir_p(logs, 0755, err);
    if (r < 0)
        return r;
    cleanup_free char *tl = xasprintf("%s/termination-log", *ctr_dir);
    int fd = open(tl, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return mk_errf_sys(err, errno, "create %s", tl);
    close(fd);
    return 0;
}

/* Everything after the image was found: dirs, cgroup, process, start. */
static int launch(pod_op *op, start_step *st, const rt_image *img)
{
    agent_pod *pod = op->pod;
    const podspec_container *c = st->ctr->spec;
    char **argv = NULL, **env = NULL;
    cleanup_free char *cwd = NULL, *ctr_dir = NULL, *cg_rel = NULL;
    int r = rt_image_process(img, c, &argv, &env, &cwd, &op->err);
    if (r < 0)
        return r;
    if ((r = random_id(st->id, &op->err)) < 0 ||
        (r = make_dirs(pod, c->name, st->id, &ctr_dir, &op->err)) < 0)
        goto out;
    cg_rel = xasprintf("%s/%s", pod->cgroup_rel, c->name);
    uv_mutex_lock(&op->a->cgroups_lock);
    r = rt_cgroup_create(op->a->cgroups, cg_rel, &op->err);
    char **procs = r < 0 ? NULL : rt_cgroup_procs_files(op->a->cgroups, cg_rel);
    uv_mutex_unlock(&op->a->cgroups_lock);
    if (r < 0)
        goto out;
    cleanup_free char *upper = xasprintf("%s/upper", ctr_dir);
    cleanup_free char *work = xasprintf("%s/work", ctr_dir);
    cleanup_free char *rootfs = xasprintf("%s/rootfs", ctr_dir);
    cleanup_free char *tlog = xasprintf("%s/termination-log", ctr_dir);
    cleanup_free char *hosts = xasprintf("%s/etc-hosts", pod->state_dir);
    cleanup_free char *hostname = xasprintf("%s/hostname", pod->state_dir);
    cleanup_free char *resolv = xasprintf("%s/resolv.conf", pod->state_dir);
    cleanup_free char *log = xasprintf("%s/%s/%d.log", pod->log_dir, c->name, st->attempt);
    cleanup_free char **lowers = lowers_top_first(img);
    rt_container_config cc = {
        .name = c->name,
        .id = st->id,
        .attempt = st->attempt,
        .lower_dirs = lowers,
        .upper_dir = upper,
        .work_dir = work,
        .rootfs_mnt = rootfs,
        .argv = argv,
        .env = env,
        .cwd = cwd,
        .user = img->user ? img->user : "",
        .cap_effective = default_caps,
        /* Set for every container, more strictly than Kubernetes (which sets it only with
         * allowPrivilegeEscalation: false): setuid programs in an image gain nothing. */
        .no_new_privs = true,
        .hosts_file = hosts,
        .hostname_file = hostname,
        .resolv_file = resolv,
        .termination_log = tlog,
        .termination_path = c->termination_message_path,
        .log_path = log,
        .cgroup_procs = procs,
    };
    st->created = true;
    r = rt_shim_start_container(pod->run_dir, &cc, &st->pid, &op->err);
    st->started_ns = mk_now_ns();
    rt_strv_free(procs);
out:
    rt_strv_free(argv);
    rt_strv_free(env);
    return r;
}

static void forget_instance(pod_op *op, const char *id)
{
    mk_err err = {0};
    int r = rt_shim_remove(op->pod->run_dir, id, &err);
    if (r < 0 && r != -ENOENT)
        mk_debug("pod %s/%s: forget instance %.12s: %s", op->pod->spec->namespace_,
                 op->pod->spec->name, id, err.msg);
    cleanup_free char *dir = xasprintf("%s/containers/%s", op->pod->state_dir, id);
    if (mk_rm_rf(dir, &err) < 0)
        mk_warn("pod %s/%s: %s", op->pod->spec->namespace_, op->pod->spec->name, err.msg);
}

static void start_work(pod_op *op)
{
    start_step *st = op->data;
    rt_image *img = NULL;
    if (find_image(op, st, &img) < 0)
        return;
    st->outcome = launch(op, st, img) < 0 ? START_ERROR : START_OK;
    rt_image_free(img);
    if (st->remove_id)
        forget_instance(op, st->remove_id);
}

/* ---- results on the loop ---- */

static void rotate(agent_ctr *c, start_step *st)
{
    if (c->cur.id[0]) {
        agent_ctr_run_clear(&c->prev);
        c->prev = c->cur;
        memset(&c->cur, 0, sizeof(c->cur));
    }
    snprintf(c->cur.id, sizeof(c->cur.id), "%s", st->id);
    c->cur.attempt = st->attempt;
    c->restart_count = st->attempt;
    c->unknown_exit = false;
}

static void image_missing(agent_pod *pod, agent_ctr *c, const pod_op *op, int64_t now)
{
    agent_backoff_policy p = agent_backoff_policy_image(pod->a->cfg.backoff_scale);
    agent_backoff_next(&c->image_backoff, &p, now, now);
    bool first = !c->image_failed_ns;
    c->image_failed_ns = now;
    bool never = strcmp(c->spec->image_pull_policy, "Never") == 0;
    const char *reason = never ? "ErrImageNeverPull" : "ErrImagePull";
    char d[32];
    agent_format_duration(c->image_backoff.period_ns, d, sizeof(d));
    mk_log(first ? MK_LOG_WARN : MK_LOG_DEBUG, "pod %s/%s: container %s: %s: %s (retrying in %s)",
           pod->spec->namespace_, pod->spec->name, c->spec->name, reason, op->err.msg, d);
    agent_ctr_set_waiting(c, reason, op->err.msg);
    /* the image manager's event, then the one of the failed start */
    if (never)
        agent_pod_event(pod, c->spec->name, true, "ErrImageNeverPull",
                        "Container image \"%s\" is not present with pull policy of Never",
                        c->spec->image);
    else
        agent_pod_event(pod, c->spec->name, true, "Failed", "Failed to pull image \"%s\": %s",
                        c->spec->image, op->err.msg);
    agent_pod_event(pod, c->spec->name, true, "Failed", "Error: %s", reason);
}

/* The events of an attempt that found its image: Pulled, then Created and Started, or the
 * failure (after Created when the runtime got as far as creating it). */
static void start_events(agent_pod *pod, agent_ctr *c, const start_step *st, const pod_op *op)
{
    const char *name = c->spec->name;
    agent_pod_event(pod, name, false, "Pulled", "Container image \"%s\" already present on machine",
                    c->spec->image);
    if (st->created)
        agent_pod_event(pod, name, false, "Created", "Created container %s", name);
    if (st->outcome == START_OK)
        agent_pod_event(pod, name, false, "Started", "Started container %s", name);
    else
        agent_pod_event(pod, name, true, "Failed", "Error: %s", op->err.msg);
}

static void start_done(pod_op *op)
{
    start_step *st = op->data;
    agent_pod *pod = op->pod;
    agent_ctr *c = st->ctr;
    int64_t now = mk_now_ns();
    if (st->image_ref) {
        free(c->image_ref);
        c->image_ref = MK_STEAL(st->image_ref);
    }
    if (st->image_id) {
        free(c->image_id);
        c->image_id = MK_STEAL(st->image_id);
    }
    switch (st->outcome) {
    case START_NO_IMAGE:
        image_missing(pod, c, op, now);
        break;
    case START_BAD_IMAGE:
        c->image_invalid = true;
        mk_error("pod %s/%s: container %s: InvalidImageName: %s", pod->spec->namespace_,
                 pod->spec->name, c->spec->name, op->err.msg);
        agent_ctr_set_waiting(c, "InvalidImageName", op->err.msg);
        agent_pod_event(pod, c->spec->name, true, "InspectFailed",
                        "Failed to apply default image tag \"%s\": %s", c->spec->image,
                        op->err.msg);
        agent_pod_event(pod, c->spec->name, true, "Failed", "Error: InvalidImageName");
        break;
    case START_OK:
    case START_ERROR:
        if (st->restart) {
            agent_backoff_policy p = agent_backoff_policy_crashloop(pod->a->cfg.backoff_scale);
            agent_backoff_next(&c->crash_backoff, &p, st->replaced_finished_ns, now);
            c->backoff_ns = c->crash_backoff.period_ns;
        }
        rotate(c, st);
        c->image_failed_ns = 0;
        c->image_backoff.active = false;
        agent_ctr_set_waiting(c, NULL, NULL);
        pod->checkpoint_dirty = true;
        start_events(pod, c, st, op);
        if (st->outcome == START_OK) {
            agent_ctr_started(pod, c, st->pid, st->started_ns);
            mk_info("pod %s/%s: container %s started (pid %d)", pod->spec->namespace_,
                    pod->spec->name, c->spec->name, (int)st->pid);
        } else {
            c->cur.state = RT_CTR_EXITED;
            c->cur.exit_code = 128;
            c->cur.finished_ns = now;
            c->cur.reason = xstrdup("StartError");
            c->cur.message = xstrdup(op->err.msg);
            mk_error("pod %s/%s: container %s failed to start: %s", pod->spec->namespace_,
                     pod->spec->name, c->spec->name, op->err.msg);
        }
        break;
    }
    size_t n_early = pod->n_early;
    pod->n_early = 0;
    for (size_t i = 0; i < n_early; i++)
        agent_ctr_event(pod, &pod->early[i]);
    free(st->image_ref);
    free(st->image_id);
    free(st->remove_id);
    free(st);
    agent_pod_changed(pod);
}

void agent_ctr_started(agent_pod *pod, agent_ctr *c, pid_t pid, int64_t started_ns)
{
    c->started_ever = true;
    if (c->cur.state != RT_CTR_EXITED) { /* the EXITED event may have come first */
        c->cur.state = RT_CTR_RUNNING;
        c->cur.pid = pid;
        c->cur.started_ns = started_ns;
    }
    /* The sandbox went away (its watch reported GONE) while this start was being reported:
     * the instance went with it, and must not stay "running" into the next sandbox. */
    if (!pod->watch && !pod->a->shutting_down && c->cur.state == RT_CTR_RUNNING)
        lose_run(c, pod->phase != AGENT_POD_STOPPING, mk_now_ns());
}

static void start_ctr(agent_pod *pod, agent_ctr *c, bool restart)
{
    start_step *st = xcalloc(1, sizeof(*st));
    st->ctr = c;
    st->restart = restart;
    st->attempt = c->cur.id[0] ? c->restart_count + 1 : c->restart_count;
    st->replaced_finished_ns = c->cur.finished_ns;
    if (c->cur.id[0] && c->prev.id[0])
        st->remove_id = xstrdup(c->prev.id);
    if (!c->cur.id[0] && !c->waiting_reason)
        agent_ctr_set_waiting(c, "ContainerCreating", NULL);
    agent_pod_op(pod, start_work, start_done, st);
}

/* ---- deciding ---- */

static bool should_restart(const agent_pod *pod, const agent_ctr *c)
{
    if (c->unknown_exit)
        return true; /* lost with its sandbox: restarted whatever the policy */
    const char *policy = pod->spec->restart_policy;
    if (strcmp(policy, "Never") == 0)
        return false;
    if (strcmp(policy, "OnFailure") == 0)
        return c->cur.exit_code != 0;
    return true;
}

static void wake_at(int64_t *wake, int64_t t)
{
    if (!*wake || t < *wake)
        *wake = t;
}

/* The image is missing: wait out the image backoff. True while waiting. */
static bool image_wait(agent_pod *pod, agent_ctr *c, int64_t now, int64_t *wake)
{
    if (!c->image_failed_ns)
        return false;
    agent_backoff_policy p = agent_backoff_policy_image(pod->a->cfg.backoff_scale);
    int64_t until = 0;
    const agent_backoff *b = &c->image_backoff;
    if (!agent_backoff_in_backoff(b, &p, b->last_update_ns, now, &until))
        return false;
    /* the kubelet shows ErrImagePull for the failed attempt, then ImagePullBackOff */
    int64_t flip = b->last_update_ns + b->period_ns / 2;
    if (c->waiting_reason && strcmp(c->waiting_reason, "ErrImagePull") == 0) {
        if (now >= flip) {
            cleanup_free char *msg = xasprintf("Back-off pulling image \"%s\"", c->spec->image);
            agent_ctr_set_waiting(c, "ImagePullBackOff", msg);
            agent_pod_event(pod, c->spec->name, false, "BackOff", "%s", msg);
            agent_pod_event(pod, c->spec->name, true, "Failed", "Error: ImagePullBackOff");
            agent_pod_changed(pod);
        } else {
            wake_at(wake, flip);
        }
    }
    wake_at(wake, until);
    return true;
}

bool agent_ctr_step(agent_pod *pod, agent_ctr *c, int64_t now, int64_t *wake)
{
    if (c->image_invalid)
        return false;
    if (!c->cur.id[0]) { /* never ran: start it, whatever the policy */
        if (image_wait(pod, c, now, wake))
            return false;
        start_ctr(pod, c, false);
        return true;
    }
    if (c->cur.state != RT_CTR_EXITED)
        return false;
    if (!should_restart(pod, c)) {
        if (c->waiting_reason) {
            agent_ctr_set_waiting(c, NULL, NULL);
            agent_pod_changed(pod);
        }
        return false;
    }
    agent_backoff_policy p = agent_backoff_policy_crashloop(pod->a->cfg.backoff_scale);
    int64_t until = 0;
    if (agent_backoff_in_backoff(&c->crash_backoff, &p, c->cur.finished_ns, now, &until)) {
        char d[32];
        agent_format_duration(c->crash_backoff.period_ns, d, sizeof(d));
        cleanup_free char *msg =
            xasprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", d, c->spec->name,
                      pod->spec->name, pod->spec->namespace_, pod->uid);
        if (!c->waiting_reason || strcmp(c->waiting_reason, "CrashLoopBackOff") != 0 ||
            strcmp(c->waiting_message, msg) != 0) {
            bool entering =
                !c->waiting_reason || strcmp(c->waiting_reason, "CrashLoopBackOff") != 0;
            agent_ctr_set_waiting(c, "CrashLoopBackOff", msg);
            if (entering)
                agent_pod_event(pod, c->spec->name, true, "BackOff",
                                "Back-off restarting failed container %s in pod %s_%s(%s)",
                                c->spec->name, pod->spec->name, pod->spec->namespace_, pod->uid);
            mk_info("pod %s/%s: container %s: %s", pod->spec->namespace_, pod->spec->name,
                    c->spec->name, msg);
            agent_pod_changed(pod);
        }
        c->backoff_until_ns = until;
        wake_at(wake, until);
        return false;
    }
    if (image_wait(pod, c, now, wake))
        return false;
    start_ctr(pod, c, true);
    return true;
}

/* ---- events ---- */

/* The kubelet keeps the last 4096 bytes of a longer termination message (tail.ReadAtMost). */
static void read_termination_message(const agent_pod *pod, agent_ctr_run *run)
{
    cleanup_free char *path =
        xasprintf("%s/containers/%s/termination-log", pod->state_dir, run->id);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
        return;
    off_t off = st.st_size > TERMINATION_MSG_MAX ? st.st_size - TERMINATION_MSG_MAX : 0;
    char *buf = xmalloc(TERMINATION_MSG_MAX + 1);
    size_t len = 0;
    while (len < TERMINATION_MSG_MAX) {
        ssize_t r = pread(fd, buf + len, TERMINATION_MSG_MAX - len, off + (off_t)len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (len == 0) {
        free(buf);
        return;
    }
    buf[len] = '\0';
    free(run->message);
    run->message = buf;
}

void agent_ctr_event(agent_pod *pod, const rt_shim_event *ev)
{
    agent_ctr *c = agent_pod_ctr(pod, ev->ctr.name);
    if (!c)
        return;
    agent_ctr_run *run = NULL;
    if (strcmp(c->cur.id, ev->ctr.id) == 0)
        run = &c->cur;
    else if (c->prev.id[0] && strcmp(c->prev.id, ev->ctr.id) == 0)
        run = &c->prev;
    if (!run) {
        /* an instance whose start is still being reported back: keep it for then */
        if (pod->busy && pod->n_early < MK_ARRAY_LEN(pod->early))
            pod->early[pod->n_early++] = *ev;
        return;
    }
    if (run->reason && strcmp(run->reason, "StartError") == 0)
        return;
    if (ev->type == RT_SHIM_EV_STARTED) {
        if (run->state != RT_CTR_EXITED) {
            run->state = RT_CTR_RUNNING;
            run->pid = ev->ctr.pid;
            run->started_ns = ev->ctr.started_ns;
        }
        return;
    }
    if (run->state == RT_CTR_EXITED && run->finished_ns == ev->ctr.finished_ns)
        return; /* replayed */
    run->state = RT_CTR_EXITED;
    run->pid = ev->ctr.pid;
    run->exit_code = ev->ctr.exit_code;
    run->signal = ev->ctr.signal;
    run->oom_killed = ev->ctr.oom_killed;
    if (ev->ctr.started_ns)
        run->started_ns = ev->ctr.started_ns;
    run->finished_ns = ev->ctr.finished_ns ? ev->ctr.finished_ns : mk_now_ns();
    read_termination_message(pod, run);
    if (run == &c->cur) {
        if (ev->ctr.signal)
            mk_info("pod %s/%s: container %s exited (killed by signal %d)", pod->spec->namespace_,
                    pod->spec->name, c->spec->name, ev->ctr.signal);
        else
            mk_info("pod %s/%s: container %s exited (code %d)", pod->spec->namespace_,
                    pod->spec->name, c->spec->name, ev->ctr.exit_code);
    }
}

void agent_ctrs_mark_lost(agent_pod *pod)
{
    int64_t now = mk_now_ns();
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        const agent_ctr_run *r = &pod->ctrs[i].cur;
        if (r->id[0] && r->state != RT_CTR_EXITED)
            lose_run(&pod->ctrs[i], pod->phase == AGENT_POD_ACTIVE, now);
    }
}

static void run_from_status(agent_ctr_run *r, const rt_ctr_status *s)
{
    agent_ctr_run_clear(r);
    snprintf(r->id, sizeof(r->id), "%s", s->id);
    r->attempt = s->attempt;
    r->state = s->state;
    r->pid = s->pid;
    r->exit_code = s->exit_code;
    r->signal = s->signal;
    r->oom_killed = s->oom_killed;
    r->started_ns = s->started_ns;
    r->finished_ns = s->finished_ns;
}

void agent_ctrs_from_status(agent_pod *pod, const rt_shim_status *st)
{
    for (size_t i = 0; i < pod->n_ctrs; i++) {
        agent_ctr *c = &pod->ctrs[i];
        const rt_ctr_status *newest = NULL, *second = NULL;
        for (size_t j = 0; j < st->n_ctrs; j++) {
            const rt_ctr_status *s = &st->ctrs[j];
            if (strcmp(s->name, c->spec->name) != 0)
                continue;
            if (!newest || s->attempt > newest->attempt) {
                second = newest;
                newest = s;
            } else if (!second || s->attempt > second->attempt) {
                second = s;
            }
        }
        if (newest) {
            run_from_status(&c->cur, newest);
            c->started_ever = true;
            if (newest->attempt > c->restart_count)
                c->restart_count = newest->attempt;
            if (c->cur.state == RT_CTR_EXITED)
                read_termination_message(pod, &c->cur);
        }
        if (second)
            run_from_status(&c->prev, second);
    }
}
