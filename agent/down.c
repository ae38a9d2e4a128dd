/* down.c - `mini-kubelet down`: stop every pod of a root dir cleanly, with or without a
 * running agent. A running agent for that root is asked to exit first (SIGTERM) so it does not
 * recreate what is stopped; holding the agent's pid file lock keeps a new one from starting. */
#include "agent.h"

#include "config.h"
#include "network.h"
#include "podfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define SEC        INT64_C(1000000000)
#define POLL_NS    (50 * 1000 * 1000)
#define AGENT_WAIT (60 * SEC)

static void nap(void)
{
    struct timespec ts = {0, POLL_NS};
    nanosleep(&ts, NULL);
}

/* Take the pid file lock, asking a running agent to exit first. Returns the fd or < 0. */
static int take_lock(const char *path, mk_err *err)
{
    int fd = agent_pidfile_lock(path, err);
    if (fd != -EBUSY)
        return fd;
    int raw = open(path, O_RDONLY | O_CLOEXEC);
    char buf[32] = "";
    if (raw >= 0) {
        ssize_t n = read(raw, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(raw);
    }
    long pid = strtol(buf, NULL, 10);
    if (pid > 1) {
        mk_info("asking the running agent (pid %ld) to exit first", pid);
        kill((pid_t)pid, SIGTERM);
    }
    int64_t deadline = mk_monotonic_ns() + AGENT_WAIT;
    while (mk_monotonic_ns() < deadline) {
        nap();
        mk_err_clear(err);
        fd = agent_pidfile_lock(path, err);
        if (fd != -EBUSY)
            return fd;
    }
    return mk_errf(err, ETIMEDOUT, "the agent (pid %ld) did not exit within 60 s", pid);
}

typedef struct down_pod {
    char *uid, *run_dir, *state_dir;
    bool alive, done;
    int64_t deadline;
} down_pod;

static void signal_pod(down_pod *p)
{
    rt_shim_status st = {0};
    mk_err err = {0};
    if (rt_shim_status_get(p->run_dir, &st, &err) < 0) {
        p->done = true;
        return;
    }
    p->alive = true;
    int64_t grace = agent_checkpoint_grace(p->state_dir);
    p->deadline = mk_monotonic_ns() + (grace < 2 ? 2 : grace) * SEC;
    for (size_t i = 0; i < st.n_ctrs; i++)
        if (st.ctrs[i].state == RT_CTR_RUNNING &&
            rt_shim_signal(p->run_dir, st.ctrs[i].id, SIGTERM, &err) < 0)
            mk_debug("down: pod uid %s: %s", p->uid, err.msg);
    rt_shim_status_free(&st);
}

static bool pod_quiet(down_pod *p)
{
    rt_shim_status st = {0};
    mk_err err = {0};
    if (rt_shim_status_get(p->run_dir, &st, &err) < 0)
        return true;
    bool running = false;
    for (size_t i = 0; i < st.n_ctrs; i++)
        running |= st.ctrs[i].state == RT_CTR_RUNNING;
    rt_shim_status_free(&st);
    return !running;
}

static void stop_pods(down_pod *pods, size_t n)
{
    for (size_t i = 0; i < n; i++)
        signal_pod(&pods[i]);
    for (;;) {
        size_t pending = 0;
        for (size_t i = 0; i < n; i++) {
            down_pod *p = &pods[i];
            if (p->done)
                continue;
            if (pod_quiet(p) || mk_monotonic_ns() >= p->deadline) {
                mk_err err = {0};
                if (rt_shim_shutdown(p->run_dir, &err) < 0)
                    mk_debug("down: pod uid %s: shutdown: %s", p->uid, err.msg);
                p->done = true;
                continue;
            }
            pending++;
        }
        if (!pending)
            return;
        nap();
    }
}

/* Processes left in our pod cgroups (found from /proc/<pid>/cgroup). Kills them; returns how
 * many were found. */
static size_t kill_leftovers(const char *subtree)
{
    cleanup_free char *needle = xasprintf("/%s/pod-", subtree);
    size_t found = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        cleanup_free char *path = xasprintf("/proc/%s/cgroup", de->d_name);
        char *buf = NULL;
        size_t len = 0;
        mk_err err = {0};
        if (mk_read_file(path, 1 << 16, &buf, &len, &err) < 0)
            continue;
        if (strstr(buf, needle)) {
            found++;
            kill((pid_t)strtol(de->d_name, NULL, 10), SIGKILL);
        }
        free(buf);
    }
    closedir(d);
    return found;
}

/* rmdir a cgroup directory and everything beneath it, deepest first. Returns how many
 * directories could not be removed (a process that is still exiting keeps its cgroup busy for
 * a moment); `last` says whether to report them. */
static int rmdir_tree(int parent, const char *name, bool last)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 1;
    }
    int failed = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            failed += rmdir_tree(dirfd(d), de->d_name, last);
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
        if (last)
            mk_warn("down: remove cgroup %s: %s", name, strerror(errno));
        failed++;
    }
    return failed;
}

/* Find directories named `subtree` under the cgroup mounts and remove their pod-* children.
 * Returns how many directories are still there. */
static int remove_cgroups_at(int dfd, const char *subtree, int depth, bool last)
{
    int failed = 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_type != DT_DIR || de->d_name[0] == '.')
            continue;
        if (strcmp(de->d_name, subtree) == 0) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            DIR *sd = sub >= 0 ? fdopendir(sub) : NULL;
            struct dirent *pe;
            while (sd && (pe = readdir(sd)) != NULL)
                if (pe->d_type == DT_DIR && strncmp(pe->d_name, "pod-", 4) == 0)
                    failed += rmdir_tree(dirfd(sd), pe->d_name, last);
            if (sd)
                closedir(sd);
            else if (sub >= 0)
                close(sub);
            /* the subtree itself goes too when nothing else lives in it */
            if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != EBUSY &&
                errno != ENOTEMPTY && errno != ENOENT)
                mk_debug("down: remove cgroup %s: %s", de->d_name, strerror(errno));
            continue;
        }
        if (depth < 12) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            if (sub >= 0)
                failed += remove_cgroups_at(sub, subtree, depth + 1, last);
        }
    }
    closedir(d);
    return failed;
}

static void clean_cgroups(const char *subtree)
{
    int64_t deadline = mk_monotonic_ns() + 5 * SEC;
    for (;;) {
        kill_leftovers(subtree);
        bool last = mk_monotonic_ns() >= deadline;
        int fd = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || remove_cgroups_at(fd, subtree, 0, last) == 0 || last)
            return;
        nap();
    }
}

static char **list_names(const char *dir)
{
    char **v = xcalloc(1, sizeof(char *));
    size_t n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return v;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        v = xrealloc(v, (n + 2) * sizeof(char *));
        v[n++] = xstrdup(de->d_name);
        v[n] = NULL;
    }
    closedir(d);
    return v;
}

static void free_pods(down_pod *pods, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(pods[i].uid);
        free(pods[i].run_dir);
        free(pods[i].state_dir);
    }
    free(pods);
}

int agent_down(const agent_config *cfg)
{
    cleanup_free char *run = agent_path(cfg->root_dir, "run/mini-kubelet");
    cleanup_free char *pidfile = agent_path(cfg->root_dir, "run/mini-kubelet/agent.pid");
    struct stat st;
    if (stat(run, &st) < 0 && stat(cfg->pods_state_dir, &st) < 0) {
        mk_info("down: nothing runs under %s", cfg->root_dir);
        return 0;
    }
    mk_err err = {0};
    cleanup_close int lock = take_lock(pidfile, &err);
    if (lock < 0) {
        mk_error("down: %s", err.msg);
        return 1;
    }
    char **uids = list_names(cfg->pods_run_dir);
    size_t n = 0;
    while (uids[n])
        n++;
    down_pod *pods = xcalloc(n ? n : 1, sizeof(*pods));
    for (size_t i = 0; i < n; i++) {
        pods[i].uid = xstrdup(uids[i]);
        pods[i].run_dir = xasprintf("%s/%s", cfg->pods_run_dir, uids[i]);
        pods[i].state_dir = xasprintf("%s/%s", cfg->pods_state_dir, uids[i]);
    }
    stop_pods(pods, n);
    int net_failed = agent_network_detach_all(cfg);
    if (net_failed)
        mk_warn("down: %d network attachment(s) could not be removed; the next agent start "
                "retries",
                net_failed);
    agent_network_release(cfg);
    cleanup_free char *subtree = agent_cgroup_subtree(cfg->root_dir);
    clean_cgroups(subtree);
    size_t stopped = 0;
    for (size_t i = 0; i < n; i++) {
        stopped += pods[i].alive;
        if (mk_rm_rf(pods[i].run_dir, &err) < 0 || mk_rm_rf(pods[i].state_dir, &err) < 0)
            mk_warn("down: %s", err.msg);
    }
    char **states = list_names(cfg->pods_state_dir);
    for (size_t i = 0; states[i]; i++) {
        cleanup_free char *p = xasprintf("%s/%s", cfg->pods_state_dir, states[i]);
        if (mk_rm_rf(p, &err) < 0)
            mk_warn("down: %s", err.msg);
    }
    rt_strv_free(states);
    rt_strv_free(uids);
    free_pods(pods, n);
    mk_info("down: stopped %zu pod(s) under %s", stopped, cfg->root_dir);
    return 0;
}
