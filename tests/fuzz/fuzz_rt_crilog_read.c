/* fuzz_rt_crilog_read.c - libFuzzer target: rt_crilog_read and rt_crilog_read_from over a fuzzed
 * log file with fuzzed options (the API's tailLines, limitBytes, sinceSeconds, timestamps).
 *
 * Input: a 16-byte header, then the file's bytes.
 *   [0]     flags: 1 timestamps, 2 tail, 4 limit, 8 since
 *   [1..2]  tail_lines (when flagged)      [3..4] limit_bytes (when flagged)
 *   [5..12] since_ns (when flagged)        [13..14] where the file is cut for the first
 *                                                   rt_crilog_read_from, before the rest is
 *                                                   appended (as a following reader sees it)
 *   [15]    unused
 * Checks what the options promise: the output never exceeds limit_bytes, offsets stay within
 * the file and at record boundaries, and with no tail or limit a single rt_crilog_read_from
 * from the start gives what rt_crilog_read gives. */
#include "crilog.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[128];

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0])
        return;
    mk_log_set_level(MK_LOG_ERROR);
    strcpy(dir, "/tmp/mk-fuzz-crilog-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/0.log", dir);
    atexit(remove_dir);
}

static void write_file(const uint8_t *p, size_t n, bool append)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd < 0)
        abort();
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            abort();
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* An offset a reader may resume at: the start, or just after a '\n'. */
static bool at_boundary(const uint8_t *file, size_t len, off_t off)
{
    return off == 0 || (off > 0 && (size_t)off <= len && file[off - 1] == '\n');
}

static void check_read_from(const rt_crilog_opts *o, const uint8_t *file, size_t len, size_t cut)
{
    mk_err err = {0};
    char *out = NULL;
    size_t out_len = 0;
    off_t off = 0;
    write_file(file, cut, false);
    if (rt_crilog_read_from(path, &off, o, &out, &out_len, &err) < 0)
        abort();
    if (!at_boundary(file, cut, off) || out[out_len] != '\0')
        abort();
    free(out);
    write_file(file + cut, len - cut, true);
    if (rt_crilog_read_from(path, &off, o, &out, &out_len, &err) < 0)
        abort();
    if (!at_boundary(file, len, off))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR)
        return 0;
    setup();
    uint8_t flags = data[0];
    rt_crilog_opts o = {
        .timestamps = flags & 1,
        .tail_lines = flags & 2 ? (int64_t)le(data + 1, 2) : -1,
        .limit_bytes = flags & 4 ? (int64_t)le(data + 3, 2) : -1,
        .since_ns = flags & 8 ? (int64_t)le(data + 5, 8) : 0,
    };
    const uint8_t *file = data + HDR;
    size_t len = size - HDR;
    size_t cut = len ? (size_t)le(data + 13, 2) % (len + 1) : 0;

    write_file(file, len, false);
    mk_err err = {0};
    char *out = NULL;
    size_t out_len = 0;
    off_t end = -1;
    if (rt_crilog_read(path, &o, &out, &out_len, &end, &err) < 0)
        abort(); /* a readable file always reads */
    if (out[out_len] != '\0' || (o.limit_bytes >= 0 && out_len > (size_t)o.limit_bytes))
        abort();
    if (end < 0 || (size_t)end > len || !at_boundary(file, len, end))
        abort();
    if (o.tail_lines < 0 && o.limit_bytes < 0) {
        char *again = NULL;
        size_t again_len = 0;
        off_t off = 0;
        if (rt_crilog_read_from(path, &off, &o, &again, &again_len, &err) < 0)
            abort();
        if (again_len != out_len || memcmp(again, out, out_len) != 0 || off != end)
            abort();
        free(again);
    }
    free(out);
    check_read_from(&o, file, len, cut);
    return 0;
}
