/* crilog.h - reading CRI-format container logs ("<RFC3339Nano> stdout|stderr P|F <text>").
 * The writer lives in the shim (runtime/shim/lib/crilog_write.h). */
#ifndef MK_RT_CRILOG_H
#define MK_RT_CRILOG_H

#include "mk_base.h"

#include <sys/types.h>

typedef enum { RT_CRILOG_STDOUT = 1, RT_CRILOG_STDERR = 2 } rt_crilog_stream;

typedef struct rt_crilog_line {
    int64_t ts_ns;
    rt_crilog_stream stream;
    bool partial;     /* tag P: the next record continues this line */
    const char *text; /* points into the input; no trailing newline */
    size_t text_len;
} rt_crilog_line;

/* Parse one record (without its '\n'). 0 or -EINVAL. */
int rt_crilog_parse_line(const char *line, size_t len, rt_crilog_line *out);

typedef struct rt_crilog_opts {
    int64_t tail_lines;  /* -1: all */
    int64_t since_ns;    /* 0: all; else only records with ts >= since_ns */
    int64_t limit_bytes; /* -1: unlimited; output is cut to this many bytes */
    bool timestamps;     /* prefix each output line with "<RFC3339Nano> " */
} rt_crilog_opts;

/* Read the whole log as user text (CRI prefixes stripped, P records joined) honouring opts.
 * *end_offset receives the offset after the last complete record consumed, for following.
 * A missing file is an empty log.
 *
 * Lines: P records are joined per stream (stdout and stderr interleave in the file) and a line
 * comes out where its F record is. P records that no F record ends by the end of the data
 * (the stream closed without a newline) come out last, without a newline. With timestamps a
 * line is prefixed with its first record's time, "2006-01-02T15:04:05.000000000Z ".
 * tail_lines keeps the lines whose last record is among the last tail_lines line ends in the
 * file (as the kubelet counts file lines; found reading backwards in blocks); since_ns then drops
 * lines older than it; limit_bytes cuts the output, prefixes included. Malformed records and
 * an unfinished last record (no '\n' yet) are skipped. */
int rt_crilog_read(const char *path, const rt_crilog_opts *o, char **out, size_t *out_len,
                   off_t *end_offset, mk_err *err);

/* Read complete records appended since *offset (advanced). tail/limit are not applied. Lines
 * are joined within one call only: P records still open at the end come out without a newline
 * and their continuation comes out in a later call (with its own prefix when timestamps are
 * on). A file shorter than *offset (replaced or truncated) is read from its start. */
int rt_crilog_read_from(const char *path, off_t *offset, const rt_crilog_opts *o, char **out,
                        size_t *out_len, mk_err *err);

#endif
