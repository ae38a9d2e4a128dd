/* container_int.h - the step machinery shared by container start (container*.c) and exec
 * (exec.c). Not used outside those files. libc only.
 *
 * Setup is an ordered table of small steps, each {name, fn}. A step returns 0, or -1 after
 * filling ctx->err; the runner then writes "<name>: <err>\n" to the report fd and _exit(127)s.
 */
#ifndef MK_SHIM_CONTAINER_INT_H
#define MK_SHIM_CONTAINER_INT_H

#include "container.h"
#include "ctr_user.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHIM_EXIT_SETUP 127

typedef struct shim_step_ctx {
    int report_fd;
    const shim_ctr_spec *ctr; /* container start only; NULL for exec */
    int rootfd;               /* O_PATH fd on the container's root once it is known */
    /* the process to exec: shared by container start and exec */
    char *const *argv;
    char **env; /* owned, NULL-terminated (the user step may add HOME) */
    const char *cwd;
    int cwd_fd; /* exec without cwd: the target's cwd (-1 otherwise) */
    const char *user;
    bool ids_set; /* ids already filled (exec: from the target's status) */
    shim_ctr_user ids;
    uint64_t caps;
    bool no_new_privs;
    const void *bpf;
    size_t bpf_len;
    char err[1024];
} shim_step_ctx;

typedef struct shim_step {
    const char *name;
    int (*fn)(shim_step_ctx *c);
} shim_step;

/* Runs steps in order. Returns 0 when all succeeded; on the first failure reports it and
 * _exit(SHIM_EXIT_SETUP)s. */
int shim_steps_run(shim_step_ctx *c, const shim_step *steps, size_t n);

/* Writes "<step>: <msg>\n" to fd (stderr when fd < 0) and _exit(SHIM_EXIT_SETUP)s. */
void shim_step_die(int fd, const char *step, const char *msg) __attribute__((noreturn));

/* Fill c->err: "<formatted>: strerror(err)" / "<formatted>"; both return -1. */
int shim_step_fail(shim_step_ctx *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int shim_step_failx(shim_step_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies env into a fresh, owned vector (c->env). Returns 0 or -ENOMEM. */
int shim_env_init(shim_step_ctx *c, char *const *env);

/* Reads a whole file (at most max bytes) into a malloc'ed NUL-terminated buffer. Returns the
 * length or a negative errno. dirfd/path as openat. */
long shim_read_file(int dirfd, const char *path, size_t max, char **out);

/* Process steps (container_proc.c), in the order they run. */
int shim_step_signals(shim_step_ctx *c);       /* default dispositions, nothing blocked, setsid */
int shim_step_user(shim_step_ctx *c);          /* resolve c->user in /etc/passwd, /etc/group */
int shim_step_cwd(shim_step_ctx *c);           /* chdir (container start creates it if missing) */
int shim_step_seccomp_early(shim_step_ctx *c); /* loads the filter now unless no_new_privs */
int shim_step_caps(shim_step_ctx *c);          /* bounding set, groups, gid, uid, capset, ambient */
int shim_step_nnp(shim_step_ctx *c);           /* PR_SET_NO_NEW_PRIVS when asked */
int shim_step_seccomp_late(shim_step_ctx *c);  /* loads the filter now if no_new_privs */
int shim_step_exec(shim_step_ctx *c);          /* $PATH lookup, fds >= 3 close-on-exec, execve */

/* Filesystem steps (container_fs.c). Before pivot_root: */
int shim_step_proc(shim_step_ctx *c);
int shim_step_sys(shim_step_ctx *c);
int shim_step_dev(shim_step_ctx *c);
int shim_step_pod_files(shim_step_ctx *c);
/* After pivot_root: */
int shim_step_masked(shim_step_ctx *c);
int shim_step_readonly(shim_step_ctx *c);

#endif
