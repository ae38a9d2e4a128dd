/* Tests for the CRI log reader, fed by the shim's writer and by hand-written files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crilog.h"
#include "crilog_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files live in one directory that the group teardown removes, even after a failed test. */
static char tmpdir[64];

static int group_setup(void **state)
{
    strcpy(tmpdir, "/tmp/test_rt_crilog.XXXXXX");
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

#define SEC 1000000000LL
#define T0  (1700000000LL * SEC) /* 2023-11-14T22:13:20Z */

static int64_t fake_now;
static int64_t tick_clock(void)
{
    fake_now += SEC; /* every record one second later */
    return fake_now;
}

typedef struct logf {
    char path[128];
    int fd;
    shim_crilog out, err;
} logf;

static logf *log_open(void)
{
    logf *l = calloc(1, sizeof(*l));
    snprintf(l->path, sizeof(l->path), "%s/log.XXXXXX", tmpdir);
    int fd = mkstemp(l->path);
    assert_true(fd >= 0);
    close(fd);
    l->fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(l->fd >= 0);
    shim_crilog_init(&l->out, l->fd, "stdout");
    shim_crilog_init(&l->err, l->fd, "stderr");
    l->out.clock = l->err.clock = tick_clock;
    fake_now = T0;
    return l;
}

static void log_close(logf *l)
{
    close(l->fd);
    unlink(l->path);
    free(l);
}

static void put(shim_crilog *w, const char *s)
{
    assert_int_equal(shim_crilog_feed(w, s, strlen(s)), 0);
}

static void raw(logf *l, const char *s)
{
    assert_int_equal(write(l->fd, s, strlen(s)), (ssize_t)strlen(s));
}

static const rt_crilog_opts ALL = {.tail_lines = -1, .since_ns = 0, .limit_bytes = -1};

static char *rd(logf *l, rt_crilog_opts o, off_t *end)
{
    char *out = NULL;
    size_t n = 0;
    mk_err err = {0};
    off_t e = -1;
    assert_int_equal(rt_crilog_read(l->path, &o, &out, &n, &e, &err), 0);
    assert_int_equal(strlen(out), n);
    if (end)
        *end = e;
    return out;
}

static void expect(logf *l, rt_crilog_opts o, const char *want)
{
    char *got = rd(l, o, NULL);
    assert_string_equal(got, want);
    free(got);
}

static void test_parse_line(void **state)
{
    rt_crilog_line x;
    const char *s = "2016-10-06T00:17:09.669794202Z stdout P log content 1";
    assert_int_equal(rt_crilog_parse_line(s, strlen(s), &x), 0);
    assert_int_equal(x.ts_ns, 1475713029669794202LL);
    assert_int_equal(x.stream, RT_CRILOG_STDOUT);
    assert_true(x.partial);
    assert_int_equal(x.text_len, 13);
    assert_memory_equal(x.text, "log content 1", 13);

    s = "2016-10-06T02:17:09.5+02:00 stderr F:future:tags  spaced \n";
    assert_int_equal(rt_crilog_parse_line(s, strlen(s), &x), 0);
    assert_int_equal(x.ts_ns, 1475713029500000000LL);
    assert_int_equal(x.stream, RT_CRILOG_STDERR);
    assert_false(x.partial);
    assert_int_equal(x.text_len, 8);
    assert_memory_equal(x.text, " spaced ", 8);

    s = "2016-10-06T00:17:09Z stdout F ";
    assert_int_equal(rt_crilog_parse_line(s, strlen(s), &x), 0);
    assert_int_equal(x.text_len, 0);

    const char *bad[] = {
        "",
        "garbage",
        "2016-10-06T00:17:09Z stdout F",       /* no space after the tag */
        "2016-10-06T00:17:09Z stdin F x",      /* unknown stream */
        "2016-10-06T00:17:09Z stdout X x",     /* unknown tag */
        "2016-10-06T00:17:09Z stdout FF x",    /* tag too long */
        "2016-13-06T00:17:09Z stdout F x",     /* month 13 */
        "2016-10-06 00:17:09Z stdout F x",     /* space instead of T */
        "2016-10-06T00:17:09.Z stdout F x",    /* empty fraction */
        "2016-10-06T00:17:09 stdout F x",      /* no zone */
        "2016-10-06T00:17:09+0200 stdout F x", /* zone without colon */
        "{\"log\":\"x\",\"stream\":\"stdout\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rt_crilog_parse_line(bad[i], strlen(bad[i]), &x), -EINVAL);
}

static void test_round_trip(void **state)
{
    logf *l = log_open();
    put(&l->out, "first line\nsecond ");
    put(&l->err, "an error\n");
    put(&l->out, "half\n");
    char *big = malloc(SHIM_CRILOG_MAX_LINE * 3 + 11);
    for (size_t i = 0; i < SHIM_CRILOG_MAX_LINE * 3 + 10; i++)
        big[i] = (char)('a' + i % 26);
    big[SHIM_CRILOG_MAX_LINE * 3 + 10] = '\0';
    put(&l->out, big);
    put(&l->err, "interleaved\n");
    put(&l->out, "\n");
    put(&l->out, "last without newline");
    assert_int_equal(shim_crilog_flush(&l->out), 0);
    assert_int_equal(shim_crilog_flush(&l->err), 0);
    char *want = NULL;
    assert_true(asprintf(&want,
                         "first line\nan error\nsecond half\ninterleaved\n%s\n"
                         "last without newline",
                         big) > 0);
    off_t end;
    char *got = rd(l, ALL, &end);
    assert_string_equal(got, want);
    assert_int_equal(end, lseek(l->fd, 0, SEEK_END));
    free(got);
    free(want);
    free(big);
    log_close(l);
}

static void test_missing_file(void **state)
{
    char *out = NULL;
    size_t n = 1;
    off_t end = 7;
    mk_err err = {0};
    assert_int_equal(rt_crilog_read("/nonexistent/x/0.log", &ALL, &out, &n, &end, &err), 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    assert_int_equal(end, 0);
    free(out);
    off_t off = 0;
    assert_int_equal(rt_crilog_read_from("/nonexistent/x/0.log", &off, &ALL, &out, &n, &err), 0);
    assert_int_equal(n, 0);
    free(out);
}

static void test_tail(void **state)
{
    logf *l = log_open();
    put(&l->out, "1\n2\n3\n4\n5\n");
    rt_crilog_opts o = ALL;
    o.tail_lines = 0;
    expect(l, o, "");
    o.tail_lines = 1;
    expect(l, o, "5\n");
    o.tail_lines = 3;
    expect(l, o, "3\n4\n5\n");
    o.tail_lines = 5;
    expect(l, o, "1\n2\n3\n4\n5\n");
    o.tail_lines = 100;
    expect(l, o, "1\n2\n3\n4\n5\n");
    log_close(l);
}

/* A line split into P records is one line for tail, even with the other stream in between. */
static void test_tail_joined_lines(void **state)
{
    logf *l = log_open();
    raw(l, "2023-11-14T22:13:21Z stdout F before\n"
           "2023-11-14T22:13:22Z stdout P x1\n"
           "2023-11-14T22:13:23Z stderr F y\n"
           "2023-11-14T22:13:24Z stdout P x2\n"
           "2023-11-14T22:13:25Z stderr F w\n"
           "2023-11-14T22:13:26Z stdout F x3\n"
           "2023-11-14T22:13:27Z stderr P dangling\n");
    rt_crilog_opts o = ALL;
    expect(l, o, "before\ny\nw\nx1x2x3\ndangling");
    o.tail_lines = 1;
    expect(l, o, "dangling");
    o.tail_lines = 2;
    expect(l, o, "x1x2x3\ndangling");
    o.tail_lines = 3;
    expect(l, o, "w\nx1x2x3\ndangling");
    o.tail_lines = 5;
    expect(l, o, "before\ny\nw\nx1x2x3\ndangling");
    o.timestamps = true;
    o.tail_lines = 2;
    expect(l, o, "2023-11-14T22:13:22.000000000Z x1x2x3\n2023-11-14T22:13:27.000000000Z dangling");
    log_close(l);
}

static void test_since_limit_timestamps(void **state)
{
    logf *l = log_open();
    put(&l->out, "one\ntwo\n"); /* T0+1s, T0+2s */
    put(&l->err, "three\n");    /* T0+3s */
    rt_crilog_opts o = ALL;
    o.since_ns = T0 + 2 * SEC;
    expect(l, o, "two\nthree\n");
    o.since_ns = T0 + 4 * SEC;
    expect(l, o, "");
    o.since_ns = 0;
    o.timestamps = true;
    expect(l, o,
           "2023-11-14T22:13:21.000000000Z one\n2023-11-14T22:13:22.000000000Z two\n"
           "2023-11-14T22:13:23.000000000Z three\n");
    o.limit_bytes = 40;
    expect(l, o, "2023-11-14T22:13:21.000000000Z one\n2023-");
    o.timestamps = false;
    o.limit_bytes = 5;
    off_t end;
    char *got = rd(l, o, &end);
    assert_string_equal(got, "one\nt");
    free(got);
    o.limit_bytes = 0;
    expect(l, o, "");
    o.limit_bytes = 1000;
    o.tail_lines = 2;
    o.since_ns = T0 + 3 * SEC; /* tail first, then since, as the kubelet does */
    expect(l, o, "three\n");
    log_close(l);
}

static void test_malformed_skipped(void **state)
{
    logf *l = log_open();
    raw(l, "garbage line\n"
           "2023-11-14T22:13:21Z stdout F good 1\n"
           "2023-11-14T22:13:21Z stdin F bad stream\n"
           "\n"
           "2023-11-14T22:13:22Z stdout F good 2\n"
           "not a timestamp stdout F x\n"
           "2023-11-14T22:13:23Z stdout F unfinished"); /* being written: not consumed yet */
    off_t end;
    char *got = rd(l, ALL, &end);
    assert_string_equal(got, "good 1\ngood 2\n");
    free(got);
    off_t size = lseek(l->fd, 0, SEEK_END);
    assert_int_equal(end, size - (off_t)strlen("2023-11-14T22:13:23Z stdout F unfinished"));
    rt_crilog_opts o = ALL;
    o.tail_lines = 1;
    expect(l, o, "good 2\n");
    log_close(l);
}

static void test_read_from(void **state)
{
    logf *l = log_open();
    put(&l->out, "a\n");
    off_t off;
    char *got = rd(l, ALL, &off);
    assert_string_equal(got, "a\n");
    free(got);
    char *out;
    size_t n;
    mk_err err = {0};
    rt_crilog_opts o = ALL;
    assert_int_equal(rt_crilog_read_from(l->path, &off, &o, &out, &n, &err), 0);
    assert_int_equal(n, 0);
    free(out);
    put(&l->err, "b\n");
    put(&l->out, "c\n");
    raw(l, "2023-11-14T22:13:30Z stdout F d");
    assert_int_equal(rt_crilog_read_from(l->path, &off, &o, &out, &n, &err), 0);
    assert_string_equal(out, "b\nc\n");
    free(out);
    raw(l, "\n");
    o.timestamps = true;
    o.tail_lines = 0;  /* not applied when following */
    o.limit_bytes = 1; /* not applied when following */
    assert_int_equal(rt_crilog_read_from(l->path, &off, &o, &out, &n, &err), 0);
    assert_string_equal(out, "2023-11-14T22:13:30.000000000Z d\n");
    free(out);
    assert_int_equal(off, lseek(l->fd, 0, SEEK_END));
    /* the file was replaced by a shorter one: start again from its beginning */
    assert_int_equal(ftruncate(l->fd, 0), 0);
    put(&l->out, "new\n");
    o.timestamps = false;
    assert_int_equal(rt_crilog_read_from(l->path, &off, &o, &out, &n, &err), 0);
    assert_string_equal(out, "new\n");
    free(out);
    log_close(l);
}

/* Several MB of log: tail reads backwards across block boundaries. */
#define X                                                                                          \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxx"
static void test_tail_large(void **state)
{
    logf *l = log_open();
    FILE *f = fdopen(dup(l->fd), "a");
    for (int i = 0; i < 100000; i++)
        fprintf(f, "2023-11-14T22:13:21.%09dZ %s F line %d %.*s\n", i, i % 3 ? "stdout" : "stderr",
                i, i % 97, X);
    fclose(f);
    rt_crilog_opts o = ALL;
    o.tail_lines = 2;
    char *got = rd(l, o, NULL);
    char want[512];
    snprintf(want, sizeof(want), "line 99998 %.*s\nline 99999 %.*s\n", 99998 % 97, X, 99999 % 97,
             X);
    assert_string_equal(got, want);
    free(got);
    o.tail_lines = 3000;
    got = rd(l, o, NULL);
    size_t lines = 0;
    for (char *p = got; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3000);
    assert_int_equal(strncmp(got, "line 97000 ", 11), 0);
    free(got);
    log_close(l);
}

/* A file line longer than any record (RT_CRILOG_REC_MAX) is skipped, reading forwards and
 * backwards. */
static void test_overlong_line(void **state)
{
    logf *l = log_open();
    raw(l, "2023-11-14T22:13:21Z stdout F before\n2023-11-14T22:13:22Z stdout F ");
    size_t n = 3 * 1024 * 1024;
    char *junk = malloc(n + 1);
    memset(junk, 'j', n);
    junk[n] = '\0';
    raw(l, junk);
    free(junk);
    raw(l, "\n2023-11-14T22:13:23Z stdout F after\n");
    expect(l, ALL, "before\nafter\n");
    rt_crilog_opts o = ALL;
    o.tail_lines = 1;
    expect(l, o, "after\n");
    o.tail_lines = 2;
    expect(l, o, "before\nafter\n");
    log_close(l);
}

/* Random interleavings of P and F records of both streams. A line is a stream's P run ended by
 * its F record; P runs nothing ends come out last. tail N picks the N lines that end last in
 * the file (as the kubelet counts file lines) and prints them in output order. */
static void test_tail_random(void **state)
{
    unsigned seed = 12345;
    for (int round = 0; round < 40; round++) {
        logf *l = log_open();
        char *lines[200]; /* lines in output order, F-ended ones with their '\n' */
        int end_at[200];  /* index of the record that ends each line */
        size_t nlines = 0;
        char pend[2][2048] = {{0}};
        int last_rec[2] = {-1, -1};
        int nrec = 5 + (int)(rand_r(&seed) % 60);
        for (int i = 0; i < nrec; i++) {
            int st = (int)(rand_r(&seed) % 2);
            bool partial = rand_r(&seed) % 3 == 0;
            char text[32], rec[128];
            snprintf(text, sizeof(text), "%c%d", st ? 'e' : 'o', i);
            snprintf(rec, sizeof(rec), "2023-11-14T22:13:%02dZ %s %c %s\n", i % 60,
                     st ? "stderr" : "stdout", partial ? 'P' : 'F', text);
            raw(l, rec);
            strcat(pend[st], text);
            last_rec[st] = i;
            if (!partial) {
                end_at[nlines] = i;
                assert_true(asprintf(&lines[nlines++], "%s\n", pend[st]) > 0);
                pend[st][0] = '\0';
            }
        }
        int first = last_rec[0] < last_rec[1] ? 0 : 1;
        for (int k = 0; k < 2; k++) {
            int st = k == 0 ? first : 1 - first;
            if (pend[st][0]) {
                end_at[nlines] = last_rec[st];
                lines[nlines++] = strdup(pend[st]);
            }
        }
        for (size_t n = 0; n <= nlines + 1; n++) {
            /* the n-th latest line end */
            int cut = -1;
            if (n > 0 && n <= nlines) {
                int ends[200];
                memcpy(ends, end_at, nlines * sizeof(int));
                for (size_t a = 0; a < n; a++) { /* partial selection sort, descending */
                    for (size_t b = a + 1; b < nlines; b++) {
                        if (ends[b] > ends[a]) {
                            int t = ends[a];
                            ends[a] = ends[b];
                            ends[b] = t;
                        }
                    }
                }
                cut = ends[n - 1];
            }
            char want[8192] = "";
            for (size_t i = 0; i < nlines && n > 0; i++) {
                if (end_at[i] >= cut)
                    strcat(want, lines[i]);
            }
            rt_crilog_opts o = ALL;
            o.tail_lines = (int64_t)n;
            expect(l, o, want);
        }
        for (size_t i = 0; i < nlines; i++)
            free(lines[i]);
        log_close(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_line),        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_missing_file),      cmocka_unit_test(test_tail),
        cmocka_unit_test(test_tail_joined_lines), cmocka_unit_test(test_since_limit_timestamps),
        cmocka_unit_test(test_malformed_skipped), cmocka_unit_test(test_read_from),
        cmocka_unit_test(test_tail_large),        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_tail_random),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
