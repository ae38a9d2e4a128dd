/* shim_proto.h - the wire format between the agent and a pod's shim (libc only).
 *
 * Transport: a unix SOCK_SEQPACKET socket, <run_dir>/shim.sock (0600). One packet is one
 * message; fds travel with a packet as SCM_RIGHTS (only EXEC carries them).
 *
 * A message is a 12-byte header followed by fields:
 *
 *   u32 magic "MKS1" | u16 version | u16 type | u32 total length (header included)
 *   field: u16 tag | u16 zero | u32 length | value
 *
 * All integers are little-endian. A string value carries its terminating NUL and no other NUL;
 * a list of strings is its tag repeated once per item, in order; an integer is 8 bytes; a bool
 * is 1 byte (0 or 1); a container record is a nested field sequence. The total length must
 * equal the packet length and may not exceed SHIM_MSG_MAX. Tags a decoder does not know are
 * skipped (newer peers may add fields); anything else malformed is -EBADMSG.
 *
 * Conversation: every request gets exactly one reply (OK, ERR or STATUS) on the same
 * connection. A SUBSCRIBE connection then receives events (STARTED, EXITED, EXEC_EXIT) until it
 * closes. Clients normally use one connection per request.
 */
#ifndef MK_SHIM_PROTO_H
#define MK_SHIM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHIM_PROTO_MAGIC   0x31534b4du /* "MKS1" as little-endian bytes */
#define SHIM_PROTO_VERSION 1
#define SHIM_HDR_LEN       12
#define SHIM_MSG_MAX       (64 * 1024)
#define SHIM_STRV_MAX      4096 /* items in one string list */
#define SHIM_CTRS_MAX      1024 /* records in one STATUS reply */
#define SHIM_EXEC_FDS      3    /* stdin, stdout, stderr */
#define SHIM_NAME_MAX      63
#define SHIM_ID_MAX        64
#define SHIM_SOCK_NAME     "shim.sock"
#define SHIM_PID_NAME      "shim.pid"
#define SHIM_EXITS_DIR     "exits"

typedef enum shim_msg_type {
    /* requests (agent -> shim) */
    SHIM_REQ_START = 1, /* shim_start_req -> OK{pid} | ERR */
    SHIM_REQ_SIGNAL,    /* shim_signal_req -> OK | ERR(ESRCH) */
    SHIM_REQ_STATUS,    /* no fields -> STATUS */
    SHIM_REQ_REMOVE,    /* shim_id_req -> OK | ERR(EBUSY, ENOENT) */
    SHIM_REQ_EXEC,      /* shim_exec_req + fds -> OK{pid, exec_id} | ERR{exit_code 126/127} */
    SHIM_REQ_SHUTDOWN,  /* no fields -> OK, then the shim exits */
    SHIM_REQ_SUBSCRIBE, /* no fields -> OK, then events */
    /* replies (shim -> agent) */
    SHIM_REP_OK = 64,
    SHIM_REP_ERR,
    SHIM_REP_STATUS,
    /* events (shim -> subscribers) */
    SHIM_EV_STARTED = 128, /* event.ctr */
    SHIM_EV_EXITED,        /* event.ctr */
    SHIM_EV_EXEC_EXIT,     /* event.exec_id, event.exit_code */
} shim_msg_type;

typedef enum { SHIM_CTR_RUNNING = 1, SHIM_CTR_EXITED = 2 } shim_ctr_state;

/* One container instance as the shim remembers it. */
typedef struct shim_ctr_record {
    char name[SHIM_NAME_MAX + 1];
    char id[SHIM_ID_MAX + 1];
    int32_t attempt;
    int32_t state;     /* shim_ctr_state */
    int32_t pid;       /* host pid */
    int32_t exit_code; /* exited: code, or 128+signal */
    int32_t signal;    /* exited by this signal, else 0 */
    bool oom_killed;
    int64_t started_ns, finished_ns; /* CLOCK_REALTIME */
} shim_ctr_record;

typedef struct shim_ctr_list {
    shim_ctr_record *v;
    size_t n;
} shim_ctr_list;

/* String lists are NULL-terminated arrays; NULL means an empty list. */
typedef struct shim_start_req {
    const char *name, *id;
    int32_t attempt;
    char *const *lower_dirs; /* top layer first */
    const char *upper_dir, *work_dir, *rootfs_mnt;
    char *const *argv, *const *env;
    const char *cwd, *user;
    uint64_t caps;
    bool no_new_privs;
    const char *hosts_file, *hostname_file, *resolv_file;
    const char *termination_log, *termination_path;
    const char *log_path;
    char *const *cgroup_procs;
} shim_start_req;

typedef struct shim_signal_req {
    const char *id;
    int32_t sig;
} shim_signal_req;

typedef struct shim_id_req {
    const char *id;
} shim_id_req;

typedef struct shim_exec_req {
    const char *id; /* target container instance */
    char *const *argv;
    char *const *env; /* used when env_set, else the container's environment */
    bool env_set;
    const char *cwd, *user; /* NULL: the container's */
    int32_t fd_mask;        /* bit i: fd i (0 stdin, 1 stdout, 2 stderr) rides along, in order */
} shim_exec_req;

typedef struct shim_reply {
    int32_t code;      /* ERR: positive errno */
    const char *msg;   /* ERR: one line */
    int32_t exit_code; /* ERR of an EXEC that failed to start: 126 or 127, like docker */
    int32_t pid;       /* OK of START/EXEC */
    uint64_t exec_id;  /* OK of EXEC */
} shim_reply;

typedef struct shim_status {
    int32_t shim_pid;
    int32_t init_pid; /* the pod's pid-1 reaper (shared pid namespace), else 0 */
    shim_ctr_list ctrs;
} shim_status;

typedef struct shim_event {
    shim_ctr_record ctr; /* STARTED, EXITED */
    uint64_t exec_id;    /* EXEC_EXIT */
    int32_t exit_code;   /* EXEC_EXIT */
} shim_event;

typedef struct shim_msg {
    uint16_t type; /* shim_msg_type */
    union {
        shim_start_req start;
        shim_signal_req signal;
        shim_id_req remove;
        shim_exec_req exec;
        shim_reply reply; /* OK and ERR */
        shim_status status;
        shim_event event;
    } u;
} shim_msg;

/* Encode m into buf. 0 and *len on success; -EMSGSIZE if it does not fit in min(cap,
 * SHIM_MSG_MAX); -EINVAL for an unknown type or an over-long record name/id. */
int shim_msg_encode(const shim_msg *m, void *buf, size_t cap, size_t *len);

/* Decode one message. On success (0) the strings in *m point into buf, which must outlive *m,
 * and shim_msg_release() frees the lists. On failure (-EBADMSG, -EPROTONOSUPPORT for another
 * version) nothing is left to release. */
int shim_msg_decode(const void *buf, size_t len, shim_msg *m);
void shim_msg_release(shim_msg *m);

/* "START", "EXITED", ... or "?" */
const char *shim_msg_type_name(int type);

/* Number of entries in a NULL-terminated list (NULL counts as empty). */
size_t shim_strv_len(char *const *v);

#endif
