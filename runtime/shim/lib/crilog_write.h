/* crilog_write.h - turns a container's stdout/stderr bytes into CRI log records.
 *
 * Record: "<RFC3339Nano UTC, 9 digits> <stream> <F|P> <text>\n". A line that ends in '\n'
 * becomes an F record (a '\r' before the '\n' is dropped); a line longer than
 * SHIM_CRILOG_MAX_LINE is cut into P records of that size followed by the F record for the
 * rest; bytes without a newline wait in the writer until the newline comes, and at end of
 * stream shim_crilog_flush() writes them as a P record (what containerd does).
 *
 * Every record goes out in one write(2), so the stdout and stderr writers may share one
 * O_APPEND file without their records interleaving. libc only.
 */
#ifndef SHIM_CRILOG_WRITE_H
#define SHIM_CRILOG_WRITE_H

#include <stddef.h>
#include <stdint.h>

#define SHIM_CRILOG_MAX_LINE 16384 /* containerd's default max container log line size */
/* "2026-11-29T04:47:34.123456789Z stdout F " */
#define SHIM_CRILOG_HDR_LEN 40

typedef struct shim_crilog {
    int fd;
    char stream[8];         /* "stdout" or "stderr" */
    size_t len;             /* bytes of text waiting in rec after the header */
    int64_t (*clock)(void); /* CLOCK_REALTIME in ns; replaceable for tests */
    /* header, up to SHIM_CRILOG_MAX_LINE bytes of text, '\n' */
    char rec[SHIM_CRILOG_HDR_LEN + SHIM_CRILOG_MAX_LINE + 1];
} shim_crilog;

/* stream: "stdout" or "stderr" (anything else is written as "stdout"). fd is not owned. */
void shim_crilog_init(shim_crilog *w, int fd, const char *stream);

/* Consume n bytes of container output, writing every record that is complete. All n bytes are
 * always consumed; returns 0, or -errno of the first failed write (the record is lost, later
 * ones are still attempted). */
int shim_crilog_feed(shim_crilog *w, const char *data, size_t n);

/* End of stream: write buffered text without a newline as a P record. 0 or -errno. */
int shim_crilog_flush(shim_crilog *w);

/* Format ns since the epoch as "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" (30 chars + NUL; buf >= 31).
 * Returns the length written. */
size_t shim_crilog_format_ts(int64_t ns, char *buf, size_t len);

#endif
