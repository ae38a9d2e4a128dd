/* Tests for reading CRI logs in chunks: the text equals the whole-log conversion for every
 * chunk size, and the memory a reader holds stays under its bound whatever the log size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "crilog.h"
#include "crilog_write.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000000LL
#define T0  (1700000000LL * SEC)

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_CHECKS 0 /* the sanitizer's allocator does not report through mallinfo2 */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_CHECKS 0
#else
#define HEAP_CHECKS 1
#endif
#else
#define HEAP_CHECKS 1
#endif

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static char path[64];

static int setup(void **state)
{
    strcpy(path, "/tmp/test_rt_crilog_chunks.XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    return unlink(path);
}

static void write_file(const sbuf *b)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->p + off, b->len - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    close(fd);
}

/* A generated log and the text it converts to, built by a model kept apart from the reader:
 * P runs (all shorter than RT_CRILOG_JOIN_MAX) joined per stream, a line where its F record
 * is, runs nothing ends last, malformed file lines skipped. */
typedef struct gen {
    sbuf file, want, want_ts;
} gen;

static void ts_prefix(int64_t ns, sbuf *b)
{
    char ts[48];
    mk_format_rfc3339_nano(ns, ts, sizeof(ts));
    sb_str(b, ts);
    sb_str(b, " ");
}

static void generate(gen *g, int nrec, unsigned seed)
{
    sbuf pend[2] = {{0}};
    int64_t first_ts[2] = {0};
    int last_rec[2] = {-1, -1};
    for (int i = 0; i < nrec; i++) {
        int64_t ts = T0 + (int64_t)i * 1000000;
        char stamp[48], text[400];
        mk_format_rfc3339_nano(ts, stamp, sizeof(stamp));
        unsigned r = (unsigned)rand_r(&seed);
        if (r % 50 == 0) {
            sb_str(&g->file, "not a record at all\n");
            continue;
        }
        int st = (int)(r / 50 % 2);
        bool partial = r / 100 % 4 == 0;
        int n = snprintf(text, sizeof(text), "%c%d:", st ? 'e' : 'o', i);
        int extra = (int)(r / 400 % 300);
        for (int k = 0; k < extra; k++)
            text[n++] = (char)('a' + (i + k) % 26);
        text[n] = '\0';
        char rec[512];
        snprintf(rec, sizeof(rec), "%s %s %c %s\n", stamp, st ? "stderr" : "stdout",
                 partial ? 'P' : 'F', text);
        sb_str(&g->file, rec);
        if (pend[st].len == 0 && last_rec[st] < 0)
            first_ts[st] = ts;
        last_rec[st] = i;
        sb_str(&pend[st], text);
        if (partial)
            continue;
        sb_add(&g->want, pend[st].p, pend[st].len);
        sb_str(&g->want, "\n");
        ts_prefix(first_ts[st], &g->want_ts);
        sb_add(&g->want_ts, pend[st].p, pend[st].len);
        sb_str(&g->want_ts, "\n");
        pend[st].len = 0;
        last_rec[st] = -1;
    }
    int first = last_rec[0] >= 0 && (last_rec[1] < 0 || last_rec[0] < last_rec[1]) ? 0 : 1;
    for (int k = 0; k < 2; k++) {
        int st = k == 0 ? first : 1 - first;
        if (last_rec[st] >= 0) {
            sb_add(&g->want, pend[st].p, pend[st].len);
            ts_prefix(first_ts[st], &g->want_ts);
            sb_add(&g->want_ts, pend[st].p, pend[st].len);
        }
        free(pend[st].p);
    }
}

/* Heap bytes in use (small and mmapped blocks); 0 when it cannot be known. */
static size_t heap_in_use(void)
{
#if HEAP_CHECKS
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

#define HEAP_SLACK (16 * 1024) /* malloc's headers and page rounding of the test's own buffer */

/* Read every chunk of r, checking each and the reader against the bound; returns the joined
 * text. Beyond that text, the heap grows by no more than the reader's bound. */
static char *drain(rt_crilog_reader *r, size_t max, size_t *len)
{
    sbuf all = {0};
    sb_str(&all, "");
    size_t heap_before = heap_in_use() - all.cap;
    const char *d;
    size_t n;
    mk_err err = {0};
    int rc;
    while ((rc = rt_crilog_next(r, &d, &n, &err)) > 0) {
        assert_true(n > 0);
        assert_true(n <= (size_t)RT_CRILOG_OUT_CAP(max));
        assert_true(rt_crilog_footprint(r) <= (size_t)RT_CRILOG_READER_MEM(max));
        if (HEAP_CHECKS)
            assert_true(heap_in_use() - all.cap - heap_before <=
                        (size_t)RT_CRILOG_READER_MEM(max) + HEAP_SLACK);
        sb_add(&all, d, n);
    }
    assert_int_equal(rc, 0);
    *len = all.len;
    return all.p;
}

static char *read_chunked(const rt_crilog_opts *o, size_t max, off_t *end)
{
    rt_crilog_reader *r = NULL;
    mk_err err = {0};
    assert_int_equal(rt_crilog_open(path, o, max, &r, &err), 0);
    size_t len;
    char *got = drain(r, max, &len);
    assert_int_equal(strlen(got), len);
    if (end)
        *end = rt_crilog_offset(r);
    rt_crilog_close(r);
    return got;
}

static const rt_crilog_opts ALL = {.tail_lines = -1, .since_ns = 0, .limit_bytes = -1};

/* Several MB read in small chunks give exactly the model's text, and the offset to follow. */
static void test_big_log_matches_model(void **state)
{
    gen g = {0};
    generate(&g, 40000, 7);
    assert_true(g.file.len > 4 * 1024 * 1024);
    write_file(&g.file);
    size_t sizes[] = {1, 4096, RT_CRILOG_CHUNK, 1 << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        off_t end = -1;
        char *got = read_chunked(&ALL, sizes[i], &end);
        assert_true(strcmp(got, g.want.p) == 0);
        assert_int_equal(end, (off_t)g.file.len);
        free(got);
    }
    rt_crilog_opts o = ALL;
    o.timestamps = true;
    char *got = read_chunked(&o, 4096, NULL);
    assert_true(strcmp(got, g.want_ts.p) == 0);
    free(got);
    free(g.file.p);
    free(g.want.p);
    free(g.want_ts.p);
}

/* tail, since, limit and timestamps give the same text whatever the chunk size. */
static void test_options_any_chunk_size(void **state)
{
    gen g = {0};
    generate(&g, 6000, 99);
    write_file(&g.file);
    int64_t tails[] = {-1, 0, 1, 7, 500, 100000};
    int64_t limits[] = {-1, 0, 1, 333, 50000};
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
        for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
            rt_crilog_opts o = {.tail_lines = tails[t],
                                .since_ns = (l % 2) ? T0 + 3000 * 1000000LL : 0,
                                .limit_bytes = limits[l],
                                .timestamps = t % 2 == 1};
            char *whole;
            size_t n;
            mk_err err = {0};
            assert_int_equal(rt_crilog_read(path, &o, &whole, &n, NULL, &err), 0);
            if (o.limit_bytes >= 0)
                assert_true(n <= (size_t)o.limit_bytes);
            size_t sizes[] = {1, 100, 4096};
            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                char *got = read_chunked(&o, sizes[s], NULL);
                assert_string_equal(got, whole);
                free(got);
            }
            free(whole);
        }
    }
    free(g.file.p);
    free(g.want.p);
    free(g.want_ts.p);
}

/* A line of many MB (no newline for a long time) with the other stream writing in between:
 * memory stays bounded, all of its text comes out in order, once prefixed, and the other
 * stream's lines stay whole. */
static void test_huge_line_bounded(void **state)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    shim_crilog out, err;
    shim_crilog_init(&out, fd, "stdout");
    shim_crilog_init(&err, fd, "stderr");
    sbuf line = {0};
    char piece[1000];
    for (int i = 0; i < 8000; i++) { /* about 8 MB */
        for (size_t k = 0; k < sizeof(piece); k++)
            piece[k] = (char)('a' + (i + (int)k) % 26);
        assert_int_equal(shim_crilog_feed(&out, piece, sizeof(piece)), 0);
        sb_add(&line, piece, sizeof(piece));
        if (i % 1000 == 0)
            assert_int_equal(shim_crilog_feed(&err, "between\n", 8), 0);
    }
    assert_int_equal(shim_crilog_feed(&out, "\nafter\n", 7), 0);
    close(fd);

    rt_crilog_reader *r = NULL;
    mk_err e = {0};
    rt_crilog_opts o = ALL;
    o.timestamps = true;
    assert_int_equal(rt_crilog_open(path, &o, 4096, &r, &e), 0);
    size_t len;
    char *all = drain(r, 4096, &len);
    rt_crilog_close(r);

    /* Each stderr line, whole with its prefix, sits where its record is, which is inside the
     * long line's text once that has outgrown what a reader holds. Taken out, what remains is
     * the long line with one prefix, then "after". */
    const size_t pl = strlen("2023-11-14T22:13:21.000000000Z ");
    sbuf rest = {0};
    sb_str(&rest, "");
    size_t between = 0;
    for (char *p = all; *p;) {
        char *b = strstr(p, "between\n");
        if (!b) {
            sb_str(&rest, p);
            break;
        }
        assert_true((size_t)(b - p) >= pl && b[-1] == ' ' && b[-pl + 4] == '-');
        sb_add(&rest, p, (size_t)(b - pl - p));
        between++;
        p = b + 8;
    }
    assert_int_equal(between, 8);
    assert_true(rest.len == pl + line.len + 1 + pl + 6);
    assert_true(rest.p[pl - 1] == ' ' && rest.p[pl - 2] == 'Z');
    assert_true(memcmp(rest.p + pl, line.p, line.len) == 0);
    assert_true(memcmp(rest.p + pl + line.len, "\n", 1) == 0);
    assert_string_equal(rest.p + pl + line.len + 1 + pl, "after\n");
    free(rest.p);
    free(all);
    free(line.p);
}

/* Following: chunks from an offset, and the offset where the next read starts. */
static void test_open_at_chunks(void **state)
{
    gen g = {0};
    generate(&g, 3000, 5);
    write_file(&g.file);
    size_t half = g.file.len / 2;
    while (g.file.p[half - 1] != '\n')
        half--;
    rt_crilog_reader *r = NULL;
    mk_err err = {0};
    assert_int_equal(rt_crilog_open_at(path, (off_t)half, &ALL, 1000, &r, &err), 0);
    size_t len;
    char *got = drain(r, 1000, &len);
    assert_int_equal(rt_crilog_offset(r), (off_t)g.file.len);
    rt_crilog_close(r);
    char *whole;
    size_t n;
    off_t off = (off_t)half;
    assert_int_equal(rt_crilog_read_from(path, &off, &ALL, &whole, &n, &err), 0);
    assert_string_equal(got, whole);
    assert_int_equal(off, (off_t)g.file.len);
    free(got);
    free(whole);
    /* a missing file: no text, the offset unchanged */
    assert_int_equal(rt_crilog_open_at("/nonexistent/0.log", 77, &ALL, 1000, &r, &err), 0);
    const char *d;
    assert_int_equal(rt_crilog_next(r, &d, &len, &err), 0);
    assert_int_equal(rt_crilog_offset(r), 77);
    rt_crilog_close(r);
    free(g.file.p);
    free(g.want.p);
    free(g.want_ts.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_big_log_matches_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_any_chunk_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_line_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_at_chunks, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
