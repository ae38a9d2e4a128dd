/* Tests for the shim's CRI log writer: record format, line splitting, buffering, one write
 * per record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crilog_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files live in one directory that the group teardown removes, even after a failed test. */
static char tmpdir[64];

static int group_setup(void **state)
{
    strcpy(tmpdir, "/tmp/test_shim_crilog.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
    return nftw(tmpdir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

#define T0 1700000000123456789LL /* 2023-11-14T22:13:20.123456789Z */
#define TS "2023-11-14T22:13:20.123456789Z"

static int64_t fixed_clock(void)
{
    return T0;
}

/* A file that records are appended to, read back whole. */
typedef struct sink {
    char path[128];
    int fd;
} sink;

static void sink_open(sink *s)
{
    snprintf(s->path, sizeof(s->path), "%s/log.XXXXXX", tmpdir);
    int fd = mkstemp(s->path);
    assert_true(fd >= 0);
    close(fd);
    s->fd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(s->fd >= 0);
}

static char *sink_read(sink *s)
{
    FILE *f = fopen(s->path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void sink_close(sink *s)
{
    close(s->fd);
    unlink(s->path);
}

static void writer(shim_crilog *w, int fd, const char *stream)
{
    shim_crilog_init(w, fd, stream);
    w->clock = fixed_clock;
}

static void test_format_ts(void **state)
{
    char buf[40];
    assert_int_equal(shim_crilog_format_ts(T0, buf, sizeof(buf)), 30);
    assert_string_equal(buf, TS);
    shim_crilog_format_ts(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
    shim_crilog_format_ts(1000000007LL, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:01.000000007Z");
}

static void test_lines(void **state)
{
    sink s;
    sink_open(&s);
    static shim_crilog w;
    writer(&w, s.fd, "stdout");
    assert_int_equal(shim_crilog_feed(&w, "hello\nworld\n\n", 13), 0);
    char *got = sink_read(&s);
    assert_string_equal(got, TS " stdout F hello\n" TS " stdout F world\n" TS " stdout F \n");
    free(got);
    sink_close(&s);
}

static void test_buffering_and_flush(void **state)
{
    sink s;
    sink_open(&s);
    static shim_crilog w;
    writer(&w, s.fd, "stderr");
    assert_int_equal(shim_crilog_feed(&w, "hel", 3), 0);
    char *got = sink_read(&s);
    assert_string_equal(got, ""); /* nothing until the newline */
    free(got);
    assert_int_equal(shim_crilog_feed(&w, "lo\r\nno newline", 14), 0);
    assert_int_equal(shim_crilog_flush(&w), 0);
    assert_int_equal(shim_crilog_flush(&w), 0); /* nothing left: writes nothing */
    got = sink_read(&s);
    assert_string_equal(got, TS " stderr F hello\n" TS " stderr P no newline\n");
    free(got);
    sink_close(&s);
}

static char *repeat(char c, size_t n)
{
    char *p = malloc(n + 1);
    memset(p, c, n);
    p[n] = '\0';
    return p;
}

static void test_long_lines(void **state)
{
    sink s;
    sink_open(&s);
    static shim_crilog w;
    writer(&w, s.fd, "stdout");
    size_t max = SHIM_CRILOG_MAX_LINE;
    char *a = repeat('a', 2 * max + 5);
    assert_int_equal(shim_crilog_feed(&w, a, 2 * max + 5), 0);
    assert_int_equal(shim_crilog_feed(&w, "\n", 1), 0);
    /* exactly the maximum: one F record */
    char *b = repeat('b', max);
    assert_int_equal(shim_crilog_feed(&w, b, max), 0);
    assert_int_equal(shim_crilog_feed(&w, "\n", 1), 0);
    /* the maximum, then one more byte in a later call */
    assert_int_equal(shim_crilog_feed(&w, b, max), 0);
    assert_int_equal(shim_crilog_feed(&w, "x\n", 2), 0);
    char *got = sink_read(&s);
    char *want = NULL;
    size_t wl = 0;
    FILE *m = open_memstream(&want, &wl);
    fprintf(m, TS " stdout P %.*s\n", (int)max, a);
    fprintf(m, TS " stdout P %.*s\n", (int)max, a);
    fprintf(m, TS " stdout F aaaaa\n");
    fprintf(m, TS " stdout F %s\n", b);
    fprintf(m, TS " stdout P %s\n", b);
    fprintf(m, TS " stdout F x\n");
    fclose(m);
    assert_string_equal(got, want);
    free(want);
    free(got);
    free(a);
    free(b);
    sink_close(&s);
}

/* Over a SOCK_SEQPACKET socket every write() is one message: each must be one whole record. */
static void test_one_write_per_record(void **state)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    int sz = 1 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    static shim_crilog out, err;
    writer(&out, sv[0], "stdout");
    writer(&err, sv[0], "stderr");
    assert_int_equal(shim_crilog_feed(&out, "one\ntw", 6), 0);
    assert_int_equal(shim_crilog_feed(&err, "E1\n", 3), 0);
    assert_int_equal(shim_crilog_feed(&out, "o\n", 2), 0);
    char *big = repeat('z', SHIM_CRILOG_MAX_LINE + 1);
    assert_int_equal(shim_crilog_feed(&err, big, SHIM_CRILOG_MAX_LINE + 1), 0);
    assert_int_equal(shim_crilog_flush(&err), 0);
    const char *want[] = {TS " stdout F one\n", TS " stderr F E1\n", TS " stdout F two\n", NULL,
                          TS " stderr P z\n"};
    static char msg[SHIM_CRILOG_MAX_LINE + 100];
    for (size_t i = 0; i < 5; i++) {
        ssize_t n = recv(sv[1], msg, sizeof(msg), MSG_DONTWAIT);
        assert_true(n > 0);
        msg[n] = '\0';
        if (want[i]) {
            assert_string_equal(msg, want[i]);
        } else {
            assert_int_equal((size_t)n, 40 + SHIM_CRILOG_MAX_LINE + 1);
            assert_memory_equal(msg, TS " stderr P zzz", 43);
        }
    }
    assert_true(recv(sv[1], msg, sizeof(msg), MSG_DONTWAIT) < 0);
    free(big);
    close(sv[0]);
    close(sv[1]);
}

static void test_write_error(void **state)
{
    static shim_crilog w;
    writer(&w, -1, "bogus"); /* unknown stream names are written as stdout */
    assert_string_equal(w.stream, "stdout");
    assert_int_equal(shim_crilog_feed(&w, "a\nb\n", 4), -EBADF);
    assert_int_equal(w.len, 0);
    assert_int_equal(shim_crilog_feed(&w, "tail", 4), 0);
    assert_int_equal(shim_crilog_flush(&w), -EBADF);
    assert_int_equal(w.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_ts),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_buffering_and_flush),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_one_write_per_record),
        cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
