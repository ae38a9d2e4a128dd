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

/* ---- incremental reading, in bounded memory ----
 *
 * The same conversion as rt_crilog_read / rt_crilog_read_from, handed out in chunks so that
 * serving a log of any size holds a bounded amount of memory: a reader holds at most
 * RT_CRILOG_READER_MEM(max) bytes of buffers, whatever the file size.
 *
 * The one difference from the whole-file functions is for a P run (one line split into P
 * records) longer than RT_CRILOG_JOIN_MAX: it is not held until its F record, but its text so
 * far comes out where the run outgrows that size and the rest comes out record by record where
 * each record sits (as the kubelet outputs every P record), prefixed once with the run's
 * time. Such a run that starts before the first line tail_lines selects loses the records
 * before that line's end is known. Records longer than RT_CRILOG_REC_MAX are skipped. */

#define RT_CRILOG_REC_MAX  (32 * 1024) /* longest file line taken as a record */
#define RT_CRILOG_JOIN_MAX (64 * 1024) /* longest P run held to be joined, per stream */
#define RT_CRILOG_CHUNK    (32 * 1024) /* a good `max` for rt_crilog_next */
/* Bytes of buffers a reader holds at most with chunks of `max` bytes. */
#define RT_CRILOG_OUT_CAP(max)                                                                     \
    (((max) + RT_CRILOG_JOIN_MAX + RT_CRILOG_REC_MAX > 2 * RT_CRILOG_JOIN_MAX                      \
          ? (max) + RT_CRILOG_JOIN_MAX + RT_CRILOG_REC_MAX                                         \
          : 2 * RT_CRILOG_JOIN_MAX) +                                                              \
     256)
#define RT_CRILOG_READER_MEM(max)                                                                  \
    (RT_CRILOG_OUT_CAP(max) + RT_CRILOG_REC_MAX + 2 * RT_CRILOG_JOIN_MAX)

typedef struct rt_crilog_reader rt_crilog_reader;

/* A reader for the whole log, as rt_crilog_read: tail_lines is resolved here (reading
 * backwards), limit_bytes applies to the text of all chunks. max (> 0) is the chunk size: a
 * chunk ends after the line or record that takes it to max bytes or more. */
int rt_crilog_open(const char *path, const rt_crilog_opts *o, size_t max, rt_crilog_reader **out,
                   mk_err *err);
/* A reader for the records after `offset`, as rt_crilog_read_from (no tail, no limit; a file
 * shorter than offset is read from its start). */
int rt_crilog_open_at(const char *path, off_t offset, const rt_crilog_opts *o, size_t max,
                      rt_crilog_reader **out, mk_err *err);
/* The next chunk: 1 with data and len set (valid until the next call or rt_crilog_close, never
 * empty), 0 when all the text has been handed out, or < 0 with err. Reads up to the end of
 * the file as it is when the reader gets there. */
int rt_crilog_next(rt_crilog_reader *r, const char **data, size_t *len, mk_err *err);
/* The offset after the last complete record consumed: where following goes on, once
 * rt_crilog_next has returned 0. */
off_t rt_crilog_offset(const rt_crilog_reader *r);
/* Bytes of buffers the reader holds now (for tests of the bound). */
size_t rt_crilog_footprint(const rt_crilog_reader *r);
void rt_crilog_close(rt_crilog_reader *r);

#endif
