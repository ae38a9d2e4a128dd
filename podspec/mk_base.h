/* mk_base.h - the one error convention and the small helpers every module shares.
 *
 * Errors: a function that can fail takes `mk_err *err` last. On success it returns >= 0 (or a
 * non-NULL pointer) and leaves *err untouched. On failure it returns a negative errno-style
 * value (or NULL) and fills *err with a message a user can act on, for example
 *   "mypod.yaml:12:7: spec.containers[0].image: required".
 * Callers check every return and may add context in front with mk_err_wrap().
 *
 * Allocation failure is not an error value: the x* helpers abort.
 */
#ifndef MK_BASE_H
#define MK_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define MK_ERR_MSG_MAX 1024

typedef struct mk_err {
    int code;                 /* positive errno value (EINVAL, ENOENT, ...) */
    char msg[MK_ERR_MSG_MAX]; /* human-readable, one line */
} mk_err;

/* Fill err and return -code (code is a positive errno; 0 is turned into EINVAL). */
int mk_errf(mk_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like mk_errf, with ": <strerror(code)>" appended. */
int mk_errf_sys(mk_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prepend "<context>: " to the message; returns -err->code. */
int mk_err_wrap(mk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mk_err_clear(mk_err *err);

/* Allocation helpers: abort on out-of-memory. xstrdup(NULL) returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ownership: cleanup attributes and an explicit steal. */
void mk_freep(void *pp);
void mk_closep(int *fdp);
#define cleanup_free  __attribute__((cleanup(mk_freep)))
#define cleanup_close __attribute__((cleanup(mk_closep)))
#define MK_STEAL(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) _mk_tmp = (p);                                                               \
        (p) = 0;                                                                                   \
        _mk_tmp;                                                                                   \
    })
#define MK_STEAL_FD(fd)                                                                            \
    ({                                                                                             \
        int _mk_fd = (fd);                                                                         \
        (fd) = -1;                                                                                 \
        _mk_fd;                                                                                    \
    })
#define MK_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Time. */
int64_t mk_now_ns(void);       /* CLOCK_REALTIME in ns */
int64_t mk_monotonic_ns(void); /* CLOCK_MONOTONIC in ns */
/* RFC3339 with nanoseconds in UTC: "2026-11-29T04:47:34.123456789Z" (buf >= 40 bytes). */
void mk_format_rfc3339_nano(int64_t ns, char *buf, size_t len);
/* RFC3339 with seconds in UTC, as Kubernetes metav1.Time: "2026-11-29T04:47:34Z". */
void mk_format_rfc3339(int64_t ns, char *buf, size_t len);

/* Files: write atomically (temp in the same dir, fsync, rename). Creates no directories. */
int mk_write_file_atomic(const char *path, const void *data, size_t len, int mode, mk_err *err);
/* Read a whole file (at most max bytes; -EFBIG beyond). *out is NUL-terminated; free() it. */
int mk_read_file(const char *path, size_t max, char **out, size_t *len, mk_err *err);
/* mkdir -p with the given mode for created components. */
int mk_mkdir_p(const char *path, int mode, mk_err *err);
/* rm -rf that never crosses mount points (stays on the starting st_dev). ENOENT is success. */
int mk_rm_rf(const char *path, mk_err *err);

/* Logging: one line each, "LEVEL <message>" to stderr with a timestamp. */
typedef enum { MK_LOG_ERROR = 0, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG } mk_log_level;
void mk_log_set_level(mk_log_level lvl);
int mk_log_parse_level(const char *s, mk_log_level *out); /* "error|warn|info|debug" */
void mk_log(mk_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define mk_error(...) mk_log(MK_LOG_ERROR, __VA_ARGS__)
#define mk_warn(...)  mk_log(MK_LOG_WARN, __VA_ARGS__)
#define mk_info(...)  mk_log(MK_LOG_INFO, __VA_ARGS__)
#define mk_debug(...) mk_log(MK_LOG_DEBUG, __VA_ARGS__)

#endif
