/* shim_client.h - the agent's side of the per-pod shim: spawn it, talk to it, watch it.
 *
 * One shim per pod (runtime/shim/): it holds the pod's namespaces, clones the containers, is
 * their parent and reaper, writes their CRI logs and runs execs. It outlives the agent.
 * Its unix socket is <run_dir>/shim.sock; the wire format is runtime/shim/lib/shim_proto.h.
 *
 * The request functions are synchronous (connect, send, wait for the reply with a timeout) and
 * thread-safe: the agent calls them from its thread pool. The watch is asynchronous, on the
 * agent's libuv loop.
 */
#ifndef MK_RT_SHIM_CLIENT_H
#define MK_RT_SHIM_CLIENT_H

#include "mk_base.h"

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct rt_sandbox_config {
    const char *shim_path; /* the mini-kubelet-shim executable */
    const char *run_dir;   /* <root>/run/mini-kubelet/pods/<uid>: socket, pid file, exit records */
    const char *pod_uid;
    const char *pod_ns;
    const char *pod_name;
    const char *hostname; /* set in the new UTS namespace */
    bool host_network;    /* skip CLONE_NEWNET */
    bool host_ipc;        /* skip CLONE_NEWIPC */
    bool host_pid;        /* containers get no new pid namespace */
    bool share_pid;       /* shareProcessNamespace: one pod pid ns, the shim's reaper is pid 1 */
    char *const *cgroup_procs; /* cgroup.procs files the shim joins (pod cgroup); may be NULL */
} rt_sandbox_config;

/* fork+exec the shim detached (new session, stdio to /dev/null or its own log), wait until its
 * socket answers (timeout ~5 s). The shim survives the agent. */
int rt_shim_spawn(const rt_sandbox_config *cfg, pid_t *shim_pid, mk_err *err);

typedef struct rt_container_config {
    const char *name; /* container name in the pod */
    const char *id;   /* 64 hex: unique per container instance (one per restart) */
    int attempt;      /* restart count; informational */
    /* rootfs: overlay of lower dirs (top layer FIRST, as overlayfs's lowerdir= wants) */
    char *const *lower_dirs;
    const char *upper_dir; /* per-container, on the same fs as work_dir */
    const char *work_dir;
    const char *rootfs_mnt; /* an empty directory the overlay is mounted on, inside the
                               container's mount namespace only */
    /* process */
    char *const *argv;
    char *const *env; /* "K=V" */
    const char *cwd;
    const char *user;       /* image/pod user: "", "uid", "uid:gid", "name", "name:group"; resolved
                               inside the container's /etc/passwd and /etc/group */
    uint64_t cap_effective; /* bitmask of CAP_*: effective = permitted = bounding = inheritable */
    bool no_new_privs;
    /* files bind-mounted into the rootfs (read-only where the kubelet does so); may be NULL */
    const char *hosts_file;       /* -> /etc/hosts */
    const char *hostname_file;    /* -> /etc/hostname */
    const char *resolv_file;      /* -> /etc/resolv.conf */
    const char *termination_log;  /* host file -> termination message path (may be NULL) */
    const char *termination_path; /* in-container path, e.g. /dev/termination-log */
    /* logs and cgroup */
    const char *log_path;       /* CRI log file, opened O_APPEND|O_CREAT by the shim */
    char *const *cgroup_procs;  /* joined by the child before execve; may be NULL */
    uint64_t oom_score_adj_set; /* reserved */
} rt_container_config;

/* Start one container: the shim clones it (CLONE_NEWNS [+CLONE_NEWPID]), sets it up and execs.
 * Returns once execve succeeded (the child reports failure before exec over a CLOEXEC pipe,
 * with the step that failed: "mount overlay: ...", "execve /bin/x: No such file ..."). */
int rt_shim_start_container(const char *run_dir, const rt_container_config *c, pid_t *pid,
                            mk_err *err);

/* Send a signal to a container's main process (by container id). ESRCH if not running. */
int rt_shim_signal(const char *run_dir, const char *container_id, int sig, mk_err *err);

typedef enum { RT_CTR_RUNNING = 1, RT_CTR_EXITED = 2 } rt_ctr_state;

typedef struct rt_ctr_status {
    char name[64];
    char id[65];
    int attempt;
    rt_ctr_state state;
    pid_t pid;       /* host pid */
    int exit_code;   /* when exited: code, or 128+signal */
    int signal;      /* when killed by a signal */
    bool oom_killed; /* best effort */
    int64_t started_ns, finished_ns;
} rt_ctr_status;

typedef struct rt_shim_status {
    pid_t shim_pid;
    pid_t pod_init_pid;  /* reaper pid-1 with shareProcessNamespace, else 0 */
    rt_ctr_status *ctrs; /* every container instance the shim still remembers */
    size_t n_ctrs;
} rt_shim_status;

int rt_shim_status_get(const char *run_dir, rt_shim_status *out, mk_err *err);
void rt_shim_status_free(rt_shim_status *s);

/* Forget an exited container instance (after its successor started, or at GC). */
int rt_shim_remove(const char *run_dir, const char *container_id, mk_err *err);

/* Run a command inside a running container: its mount/pid namespaces (and the pod's
 * net/ipc/uts), cgroup, capabilities, user and env. stdin/stdout/stderr are the fds given
 * (sent with SCM_RIGHTS; -1 = /dev/null). Returns the exec's host pid; its exit arrives as an
 * RT_SHIM_EV_EXEC_EXIT event carrying *exec_id.
 * When the command itself could not start in the container (not found, not executable), the
 * return is < 0 and *cmd_exit (optional) is the exit code a shell would give: 127 or 126. For
 * every other failure (no shim, no such container, ...) *cmd_exit is 0. */
int rt_shim_exec(const char *run_dir, const char *container_id, char *const *argv, char *const *env,
                 int fds[3], uint64_t *exec_id, pid_t *pid, int *cmd_exit, mk_err *err);

/* Kill every container (SIGKILL), reap, and exit the shim. */
int rt_shim_shutdown(const char *run_dir, mk_err *err);

/* ---- events, on the loop ---- */

typedef enum {
    RT_SHIM_EV_STARTED = 1, /* a container instance started (ctr filled) */
    RT_SHIM_EV_EXITED,      /* a container instance exited (ctr filled) */
    RT_SHIM_EV_EXEC_EXIT,   /* an exec finished (exec_id, exit_code) */
    RT_SHIM_EV_GONE,        /* the shim's socket closed: the shim died or exited */
} rt_shim_event_type;

typedef struct rt_shim_event {
    rt_shim_event_type type;
    rt_ctr_status ctr;
    uint64_t exec_id;
    int exit_code;
} rt_shim_event;

typedef void (*rt_shim_event_cb)(void *arg, const rt_shim_event *ev);
typedef struct rt_shim_watch rt_shim_watch;

/* Connect to the shim's socket and subscribe. After subscribing, the shim first replays an
 * EXITED event for every container that exited while nobody watched, then reports live ones.
 * GONE is delivered once when the connection ends; the watch must then be closed. */
int rt_shim_watch_start(uv_loop_t *loop, const char *run_dir, rt_shim_event_cb cb, void *arg,
                        rt_shim_watch **out, mk_err *err);
/* Close (callbacks stop immediately; memory is freed after the handle closes). */
void rt_shim_watch_close(rt_shim_watch *w);

#endif
