/* container.h - what runs inside a freshly cloned container child, and inside an exec child.
 *
 * The shim (shim_main.c and friends) clones a child with CLONE_NEWNS [| CLONE_NEWPID] and calls
 * shim_container_run() in it. The steps run in order; on the first failure the child writes one
 * line "<step>: <error>" to report_fd and _exit(127)s. On success execve() closes report_fd
 * (it is O_CLOEXEC), so the parent reads EOF and knows the container started.
 *
 * libc only: this file is part of the shim.
 */
#ifndef MK_SHIM_CONTAINER_H
#define MK_SHIM_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A resource limit to set before exec (RLIMIT_* number). A hard limit above the current one
 * that cannot be raised (no CAP_SYS_RESOURCE) is clamped to the current one, never an error. */
typedef struct shim_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
} shim_rlimit;

typedef struct shim_ctr_spec {
    const char *name;
    const char *id;
    /* rootfs: overlay with lowerdir = lower_dirs joined by ':' (top layer first) */
    char *const *lower_dirs;
    const char *upper_dir;
    const char *work_dir;
    const char *rootfs_mnt;
    /* process */
    char *const *argv;
    char *const *env;
    const char *cwd;
    const char *user;
    uint64_t caps;
    bool no_new_privs;
    /* bind-mounted files; NULL = skip */
    const char *hosts_file;
    const char *hostname_file;
    const char *resolv_file;
    const char *termination_log;
    const char *termination_path;
    /* cgroup.procs files to join (NULL-terminated; may be NULL) */
    char *const *cgroup_procs;
    /* stdio already dup'ed onto 0/1/2 by the shim before calling */
    /* the child is pid 1 of a new pid namespace (informational: a fresh /proc for whatever pid
     * namespace the child is in is mounted either way) */
    bool new_pid_ns;
    /* seccomp: a raw BPF program (struct sock_filter[], length in bytes); NULL = none */
    const void *seccomp_bpf;
    size_t seccomp_bpf_len;
    /* the pod uses the host's network namespace: bind the host's /sys read-only instead of a
     * fresh sysfs */
    bool host_network;
    /* a directory bound on /dev/shm (the pod's shared one); NULL = a private 64m tmpfs */
    const char *shm_dir;
    /* written to /proc/self/oom_score_adj when set; a refusal (EACCES) is ignored */
    bool set_oom_score_adj;
    int oom_score_adj;
    /* resource limits to apply (may be NULL); others stay as inherited */
    const shim_rlimit *rlimits;
    size_t n_rlimits;
} shim_ctr_spec;

/* In the cloned child. Never returns. */
void shim_container_run(const shim_ctr_spec *spec, int report_fd) __attribute__((noreturn));

typedef struct shim_exec_spec {
    pid_t target_pid; /* the container's main process (host pid as seen by the shim) */
    char *const *argv;
    char *const *env; /* NULL: the container's env (read from /proc/<target>/environ) */
    const char *cwd;  /* NULL: the container's cwd */
    const char *user; /* NULL: the container's uid/gid (from /proc/<target>/status) */
    uint64_t caps;
    bool no_new_privs;
    char *const *cgroup_procs;
    /* seccomp: a raw BPF program (struct sock_filter[], length in bytes); NULL = none */
    const void *seccomp_bpf;
    size_t seccomp_bpf_len;
} shim_exec_spec;

/* In a forked child of the shim (stdio already on 0/1/2): join the target's cgroup and its
 * mnt/pid/net/ipc/uts namespaces (forking once more so the pid namespace applies), chdir,
 * drop capabilities, set uid/gid and execve. Reports failures like shim_container_run(). The
 * process that finally execs is a child of the caller when a pid namespace was entered; the
 * intermediate process waits for it and exits with its status. Never returns. */
void shim_exec_run(const shim_exec_spec *spec, int report_fd) __attribute__((noreturn));

#endif
