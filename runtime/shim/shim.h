/* shim.h - the shim's internal context, shared by its source files (not used elsewhere).
 *
 * shim_main.c    options, sandbox setup (namespaces, hostname, lo, cgroup), daemonizing
 * shim_loop.c    the epoll loop: signals, the listening socket, connections, dispatch, shutdown
 * shim_ctr.c     container instances: start, log pipes, reaping, exit records, status
 * shim_execs.c   exec requests and their exits
 */
#ifndef MK_SHIM_H
#define MK_SHIM_H

#include "crilog_write.h"
#include "shim_proto.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define SHIM_MAX_CONNS        128
#define SHIM_OUTQ_MAX         (1024 * 1024) /* a client further behind is dropped */
#define SHIM_IDLE_CONN_MS     60000         /* a request connection silent this long is closed */
#define SHIM_REPORT_MAX       1024          /* one failure line from a starting child */
#define SHIM_PENDING_EXECS    256           /* exec exits kept for the next subscriber */
#define SHIM_STOP_DEADLINE_MS 10000

typedef struct shim_opts {
    const char *run_dir;
    const char *uid, *ns, *name, *hostname;
    bool host_network, host_ipc, host_pid, share_pid;
    bool foreground;
    char **cgroup_procs; /* NULL-terminated */
} shim_opts;

enum shim_watch_kind { W_LISTEN = 1, W_SIGNAL, W_CONN, W_PIPE, W_CTR_REPORT, W_EXEC_REPORT };

/* What an epoll event points at. fd < 0: closed, ignore late events. */
typedef struct shim_watch {
    int kind;
    int fd;
    void *obj;
    int aux; /* W_PIPE: 0 stdout, 1 stderr */
} shim_watch;

typedef struct shim_pkt {
    struct shim_pkt *next;
    size_t len;
    uint8_t data[];
} shim_pkt;

typedef struct shim_conn {
    struct shim_conn *next;
    shim_watch w;
    bool subscriber;
    bool busy;            /* a START or EXEC reply is pending: stop reading */
    bool awaits_shutdown; /* gets OK once every child is reaped */
    uint32_t events;
    shim_pkt *outq, **outq_tail;
    size_t out_bytes;
    int64_t last_ms;
} shim_conn;

typedef enum { CTR_STARTING = 1, CTR_RUNNING, CTR_EXITED } shim_ctr_phase;

typedef struct shim_report {
    shim_watch w;
    char buf[SHIM_REPORT_MAX];
    size_t len;
    shim_conn *waiter; /* the connection that wants the reply, or NULL */
} shim_report;

typedef struct shim_ctr {
    struct shim_ctr *next;
    shim_ctr_record rec;
    shim_ctr_phase phase;
    bool reaped;    /* waitpid() returned it; wstatus valid */
    bool failed;    /* its setup failed: forget it once reaped */
    bool delivered; /* its EXITED event reached a subscriber */
    int wstatus;
    shim_report report;
    int log_fd;
    shim_watch pipe_w[2];
    shim_crilog *log[2];
    /* what an exec into this container inherits */
    uint64_t caps;
    bool no_new_privs;
    char **cgroup_procs;
} shim_ctr;

typedef struct shim_execp {
    struct shim_execp *next;
    uint64_t id;
    pid_t pid;
    bool started, failed, reaped;
    int wstatus;
    shim_report report;
} shim_execp;

typedef struct shim_exec_exit {
    uint64_t id;
    int32_t code;
} shim_exec_exit;

typedef struct shim_ctx {
    shim_opts o;
    pid_t pid, init_pid;
    int run_dirfd, pidns_fd, init_pipe;
    int epfd, sigfd, lfd;
    shim_watch lw, sw;
    sigset_t oldmask;
    char *args;      /* the shim's command line in memory (argv[0] .. the last NUL) */
    size_t args_len; /* children overwrite it: their cmdline must not show host paths */
    shim_ctr *ctrs;
    shim_execp *execs;
    shim_conn *conns;
    size_t n_conns;
    uint64_t next_exec_id;
    shim_exec_exit pending[SHIM_PENDING_EXECS];
    size_t n_pending;
    void **graveyard; /* freed after the current batch of events */
    size_t n_graveyard;
    bool stopping;
    uint8_t *rx, *tx, *io; /* SHIM_MSG_MAX each */
} shim_ctx;

/* shim_main.c */
void shim_log(const shim_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t shim_now_ns(void);
int64_t shim_mono_ms(void);

/* shim_loop.c */
int shim_loop_init(shim_ctx *ctx);
int shim_loop_run(shim_ctx *ctx); /* returns the exit code */
int shim_watch_add(shim_ctx *ctx, shim_watch *w, uint32_t events);
void shim_watch_close(shim_ctx *ctx, shim_watch *w);
void shim_defer_free(shim_ctx *ctx, void *p);
/* Buffers of tens of KB straight from mmap: a page costs memory only once written (a malloc
 * chunk that size gets the allocator's bookkeeping written at both ends). NULL if out of
 * memory; shim_big_free(NULL, len) does nothing. */
void *shim_big_alloc(size_t len);
void shim_big_free(void *p, size_t len);
void shim_send(shim_ctx *ctx, shim_conn *c, const shim_msg *m);
void shim_reply_ok(shim_ctx *ctx, shim_conn *c, pid_t pid, uint64_t exec_id);
void shim_reply_err(shim_ctx *ctx, shim_conn *c, int code, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Queue an event to every subscriber; returns how many got it. */
size_t shim_broadcast(shim_ctx *ctx, const shim_msg *m);
/* A START/EXEC reply is pending: stop reading requests until shim_conn_unbusy(). */
void shim_conn_busy(shim_ctx *ctx, shim_conn *c);
void shim_conn_unbusy(shim_ctx *ctx, shim_conn *c);
/* Restore the signal state a child of the shim should start with. */
/* First thing in every forked child: default signal handlers and mask, and a command line
 * that reads "mini-kubelet-shim" (the pod's processes can see it; the shim's own names host
 * paths). */
void shim_child_signals(const shim_ctx *ctx);

/* shim_ctr.c */
void shim_ctr_start(shim_ctx *ctx, shim_conn *c, const shim_start_req *r);
void shim_ctr_signal(shim_ctx *ctx, shim_conn *c, const shim_signal_req *r);
void shim_ctr_remove(shim_ctx *ctx, shim_conn *c, const shim_id_req *r);
void shim_ctr_status(shim_ctx *ctx, shim_conn *c);
void shim_ctr_on_report(shim_ctx *ctx, shim_ctr *ct);
void shim_ctr_on_pipe(shim_ctx *ctx, shim_ctr *ct, int stream);
bool shim_ctr_reaped(shim_ctx *ctx, pid_t pid, int wstatus); /* false: not a container */
void shim_ctr_replay(shim_ctx *ctx, shim_conn *c);
shim_ctr *shim_ctr_find(shim_ctx *ctx, const char *id);
void shim_ctr_free_all(shim_ctx *ctx);
/* Read a starting child's failure line; true at EOF (closed). */
bool shim_report_read(shim_ctx *ctx, shim_report *r);

/* shim_execs.c */
void shim_exec_start(shim_ctx *ctx, shim_conn *c, const shim_exec_req *r, int *fds, int nfds);
void shim_exec_on_report(shim_ctx *ctx, shim_execp *x);
bool shim_exec_reaped(shim_ctx *ctx, pid_t pid, int wstatus);
void shim_exec_replay(shim_ctx *ctx, shim_conn *c);
void shim_exec_free_all(shim_ctx *ctx);
/* A connection is going away: forget it as a waiter. */
void shim_forget_waiter(shim_ctx *ctx, shim_conn *c);
/* exit code as a shell reports it: code, or 128 + signal */
int shim_exit_code(int wstatus, int *sig);
/* errno that best describes a child's failure line */
int shim_report_errno(const char *line);
/* Container ids name files: 1-64 of [A-Za-z0-9_-]. */
bool shim_valid_id(const char *id);

#endif
