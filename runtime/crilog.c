/* crilog.c - reading CRI-format container logs (see crilog.h).
 *
 * A logical line is a run of P records of one stream ended by an F record of that stream;
 * stdout and stderr records interleave in the file, so joining is done per stream and a line
 * is output where its F record sits. A P run that nothing ends (the stream closed without a
 * newline) is output at the end of the read without a newline. With timestamps, a line is
 * prefixed with the timestamp of its first record.
 *
 * tail_lines is resolved by reading the file backwards in blocks until enough line ends are
 * seen (and the lines they end have all their records), so a large log is never read whole.
 */
#include "crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK   RT_CRILOG_REC_MAX
#define REC_MAX RT_CRILOG_REC_MAX /* longer file lines are not records; they are skipped */

/* ---- parsing ------------------------------------------------------------------------------ */

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* RFC3339 with optional fraction (1-9 digits) and Z or +hh:mm / -hh:mm. */
static int parse_ts(const char *s, size_t n, int64_t *ns)
{
    int Y, M, D, h, m, sec;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -EINVAL;
    if (!digits(s, 4, &Y) || !digits(s + 5, 2, &M) || !digits(s + 8, 2, &D) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &m) || !digits(s + 17, 2, &sec))
        return -EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return -EINVAL;
    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        size_t nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
            if (nd < 9)
                frac = frac * 10 + (s[i] - '0');
        }
        if (nd == 0)
            return -EINVAL;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int off = 0;
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        off = 0;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
    } else {
        return -EINVAL;
    }
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    int64_t secs = (int64_t)timegm(&tm) - off;
    /* nanoseconds since the epoch fit in 64 bits from 1677 to 2262 only */
    if (secs < INT64_MIN / 1000000000LL + 1 || secs > INT64_MAX / 1000000000LL - 1)
        return -EINVAL;
    *ns = secs * 1000000000LL + frac;
    return 0;
}

int rt_crilog_parse_line(const char *line, size_t len, rt_crilog_line *out)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    const char *end = line + len;
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1 || parse_ts(line, (size_t)(sp1 - line), &out->ts_ns) < 0)
        return -EINVAL;
    const char *st = sp1 + 1;
    const char *sp2 = memchr(st, ' ', (size_t)(end - st));
    if (!sp2 || sp2 - st != 6)
        return -EINVAL;
    if (memcmp(st, "stdout", 6) == 0)
        out->stream = RT_CRILOG_STDOUT;
    else if (memcmp(st, "stderr", 6) == 0)
        out->stream = RT_CRILOG_STDERR;
    else
        return -EINVAL;
    const char *tag = sp2 + 1;
    const char *sp3 = memchr(tag, ' ', (size_t)(end - tag));
    if (!sp3)
        return -EINVAL;
    /* tags are ':'-separated; the first is P or F, later ones are for future use */
    size_t tl = (size_t)(sp3 - tag);
    const char *colon = memchr(tag, ':', tl);
    if (colon)
        tl = (size_t)(colon - tag);
    if (tl != 1 || (tag[0] != 'P' && tag[0] != 'F'))
        return -EINVAL;
    out->partial = tag[0] == 'P';
    out->text = sp3 + 1;
    out->text_len = (size_t)(end - out->text);
    return 0;
}

/* ---- output -------------------------------------------------------------------------------- */

typedef struct pending {
    char *buf;
    size_t len, cap;
    bool active;    /* a P run is open */
    bool spilled;   /* it outgrew RT_CRILOG_JOIN_MAX: its records go out where they sit */
    bool prefixed;  /* spilled: its timestamp prefix has gone out */
    int64_t ts_ns;  /* timestamp of its first record */
    off_t last_off; /* offset of its last record */
} pending;

typedef struct reader {
    const rt_crilog_opts *o;
    off_t cut; /* lines whose last record starts before this are dropped (tail) */
    char *out;
    size_t len, cap, cap_max;
    int64_t remain; /* bytes still allowed; < 0 unlimited */
    bool full;      /* limit reached: stop reading */
    pending pend[2];
} reader;

/* Grow *buf to hold need bytes: doubling, but not beyond limit unless need is (it never is:
 * limit is the most one chunk or one joined run can take). */
static void grow(char **buf, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap * 2 : 4096;
    c = c > limit ? limit : c;
    *cap = c < need ? need : c;
    *buf = xrealloc(*buf, *cap);
}

static void out_append(reader *rd, const char *p, size_t n)
{
    if (rd->full || n == 0)
        return;
    if (rd->remain >= 0 && (int64_t)n >= rd->remain) {
        n = (size_t)rd->remain;
        rd->full = true;
    }
    grow(&rd->out, &rd->cap, rd->len + n + 1, rd->cap_max);
    memcpy(rd->out + rd->len, p, n);
    rd->len += n;
    rd->out[rd->len] = '\0';
    if (rd->remain >= 0)
        rd->remain -= (int64_t)n;
}

static void out_prefix(reader *rd, int64_t ts_ns)
{
    if (!rd->o->timestamps)
        return;
    char ts[48];
    mk_format_rfc3339_nano(ts_ns, ts, sizeof(ts));
    size_t tl = strlen(ts);
    ts[tl++] = ' ';
    out_append(rd, ts, tl);
}

static bool wanted(const reader *rd, int64_t ts_ns, off_t off)
{
    return off >= rd->cut && !(rd->o->since_ns > 0 && ts_ns < rd->o->since_ns);
}

static void emit_line(reader *rd, int64_t ts_ns, const char *a, size_t an, const char *b, size_t bn,
                      bool newline)
{
    if (rd->o->since_ns > 0 && ts_ns < rd->o->since_ns)
        return;
    out_prefix(rd, ts_ns);
    out_append(rd, a, an);
    out_append(rd, b, bn);
    if (newline)
        out_append(rd, "\n", 1);
}

static void pending_reset(pending *p)
{
    p->active = p->spilled = p->prefixed = false;
    p->len = 0;
}

/* A record of a spilled run: its text goes out now (the run's prefix first). */
static void spilled_record(reader *rd, pending *p, const rt_crilog_line *l, off_t off)
{
    if (wanted(rd, p->ts_ns, off)) {
        if (!p->prefixed)
            out_prefix(rd, p->ts_ns);
        p->prefixed = true;
        out_append(rd, l->text, l->text_len);
        if (!l->partial)
            out_append(rd, "\n", 1);
    }
    if (l->partial)
        p->last_off = off;
    else
        pending_reset(p);
}

static void on_partial(reader *rd, pending *p, const rt_crilog_line *l, off_t off)
{
    if (!p->active) {
        p->active = true;
        p->ts_ns = l->ts_ns;
        p->len = 0;
    }
    if (p->len + l->text_len > RT_CRILOG_JOIN_MAX) {
        /* too long to hold: what is joined so far goes out here, the rest as it comes */
        p->spilled = true;
        if (wanted(rd, p->ts_ns, off)) {
            out_prefix(rd, p->ts_ns);
            p->prefixed = true;
            out_append(rd, p->buf, p->len);
        }
        p->len = 0;
        free(p->buf);
        p->buf = NULL;
        p->cap = 0;
        spilled_record(rd, p, l, off);
        return;
    }
    grow(&p->buf, &p->cap, p->len + l->text_len, RT_CRILOG_JOIN_MAX);
    if (l->text_len > 0) /* an empty P record may come before any buffer exists */
        memcpy(p->buf + p->len, l->text, l->text_len);
    p->len += l->text_len;
    p->last_off = off;
}

static void on_record(reader *rd, const char *rec, size_t len, off_t off)
{
    rt_crilog_line l;
    if (rt_crilog_parse_line(rec, len, &l) < 0) {
        mk_debug("skipping malformed CRI log record at offset %lld", (long long)off);
        return;
    }
    pending *p = &rd->pend[l.stream - 1];
    if (p->spilled) {
        spilled_record(rd, p, &l, off);
        return;
    }
    if (l.partial) {
        on_partial(rd, p, &l, off);
        return;
    }
    int64_t ts = p->active ? p->ts_ns : l.ts_ns;
    if (off >= rd->cut)
        emit_line(rd, ts, p->active ? p->buf : "", p->active ? p->len : 0, l.text, l.text_len,
                  true);
    pending_reset(p);
}

/* End of the data: open P runs are lines without a newline, output in file order (a spilled
 * run's text is out already). */
static void flush_pending(reader *rd)
{
    pending *a = &rd->pend[0], *b = &rd->pend[1];
    pending *order[2] = {a, b};
    if (a->active && b->active && b->last_off < a->last_off) {
        order[0] = b;
        order[1] = a;
    }
    for (int i = 0; i < 2; i++) {
        pending *p = order[i];
        if (p->active && !p->spilled && p->last_off >= rd->cut)
            emit_line(rd, p->ts_ns, p->buf, p->len, "", 0, false);
        pending_reset(p);
    }
}

/* ---- forward reading ------------------------------------------------------------------------ */

static ssize_t pread_full(int fd, char *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

struct rt_crilog_reader {
    rt_crilog_opts o;
    reader rd;
    char *path;
    int fd;    /* -1: the file does not exist (an empty log) */
    char *buf; /* RT_CRILOG_REC_MAX bytes: the start of the unconsumed data */
    size_t have;
    off_t pos;     /* file offset of buf[0] */
    bool skipping; /* inside an over-long line: drop up to its newline */
    bool eof, flushed;
    size_t max;
};

/* Feed the complete records in buf to the reader until the chunk is full, then read more of
 * the file if there was no complete record left. */
static int forward_step(rt_crilog_reader *r, mk_err *err)
{
    reader *rd = &r->rd;
    size_t used = 0;
    char *nl;
    while (!rd->full && rd->len < r->max && (nl = memchr(r->buf + used, '\n', r->have - used))) {
        size_t e = (size_t)(nl - r->buf);
        if (!r->skipping)
            on_record(rd, r->buf + used, e - used, r->pos + (off_t)used);
        r->skipping = false;
        used = e + 1;
    }
    memmove(r->buf, r->buf + used, r->have - used);
    r->have -= used;
    r->pos += (off_t)used;
    if (rd->full || rd->len >= r->max)
        return 0;
    if (r->have == RT_CRILOG_REC_MAX) {
        mk_debug("%s: skipping a line longer than %d bytes at offset %lld", r->path,
                 RT_CRILOG_REC_MAX, (long long)r->pos);
        r->skipping = true;
        r->pos += (off_t)r->have;
        r->have = 0;
    }
    ssize_t got =
        pread_full(r->fd, r->buf + r->have, RT_CRILOG_REC_MAX - r->have, r->pos + (off_t)r->have);
    if (got < 0)
        return mk_errf_sys(err, (int)-got, "read %s", r->path);
    r->eof = got == 0;
    r->have += (size_t)got;
    return 0;
}

/* ---- tail ----------------------------------------------------------------------------------- */

typedef struct tail_state {
    int64_t want, count;
    bool later_seen[2]; /* a later record of this stream was already seen */
    bool open[2];       /* a selected line of this stream may have earlier P records */
    off_t start, cut;
} tail_state;

/* One record, visited from the end of the file towards its start. true: done. */
static bool tail_visit(tail_state *t, const char *rec, size_t len, off_t off)
{
    rt_crilog_line l;
    if (rt_crilog_parse_line(rec, len, &l) < 0)
        return false;
    int s = l.stream - 1;
    bool ends_line = !l.partial || !t->later_seen[s];
    t->later_seen[s] = true;
    if (ends_line) {
        t->open[s] = false;
        if (t->count < t->want) {
            t->count++;
            t->open[s] = true;
            t->start = t->cut = off;
        }
    } else if (t->open[s]) {
        t->start = off;
    }
    return t->count == t->want && !t->open[0] && !t->open[1];
}

/* Offset just after the last '\n' in the first `size` bytes (0 if none). */
static int last_newline_end(int fd, off_t size, off_t *end)
{
    char buf[4096];
    while (size > 0) {
        size_t n = size < (off_t)sizeof(buf) ? (size_t)size : sizeof(buf);
        ssize_t r = pread_full(fd, buf, n, size - (off_t)n);
        if (r < 0)
            return (int)r;
        if ((size_t)r < n)
            return -EIO;
        char *nl = memrchr(buf, '\n', n);
        if (nl) {
            *end = size - (off_t)n + (nl - buf) + 1;
            return 0;
        }
        size -= (off_t)n;
    }
    *end = 0;
    return 0;
}

/* Visit records of [0, end) backwards; the data in buf[0..n) ends at a record boundary.
 * Returns the number of leading bytes that do not yet form a whole record. */
static size_t tail_block(tail_state *t, const char *buf, size_t n, off_t base, bool at_bof,
                         bool *done)
{
    size_t rec_end = n; /* exclusive, just after a '\n' */
    while (rec_end > 0) {
        const char *prev = rec_end >= 2 ? memrchr(buf, '\n', rec_end - 1) : NULL;
        if (!prev && !at_bof)
            return rec_end;
        size_t rs = prev ? (size_t)(prev - buf) + 1 : 0;
        if (tail_visit(t, buf + rs, rec_end - rs - 1, base + (off_t)rs)) {
            *done = true;
            return 0;
        }
        rec_end = rs;
    }
    return 0;
}

static int find_tail(int fd, int64_t want, off_t *start, off_t *cut, const char *path, mk_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return mk_errf_sys(err, errno, "stat %s", path);
    off_t end;
    int r = last_newline_end(fd, st.st_size, &end);
    if (r < 0)
        return mk_errf_sys(err, -r, "read %s", path);
    tail_state t = {.want = want, .start = end, .cut = end};
    if (want == 0) {
        *start = *cut = end;
        return 0;
    }
    cleanup_free char *buf = NULL;
    size_t carry = 0;      /* bytes of an unfinished record kept at the front of the next read */
    bool skipping = false; /* the block's tail belongs to an over-long line: drop it */
    off_t pos = end;
    bool done = false;
    while (pos > 0 && !done) {
        size_t blk = pos < BLOCK ? (size_t)pos : BLOCK;
        char *nb = xmalloc(blk + carry);
        if (carry)
            memcpy(nb + blk, buf, carry);
        free(buf);
        buf = nb;
        pos -= (off_t)blk;
        ssize_t got = pread_full(fd, buf, blk, pos);
        if (got < 0)
            return mk_errf_sys(err, (int)-got, "read %s", path);
        if ((size_t)got < blk)
            return mk_errf(err, EIO, "read %s: file shrank while reading", path);
        size_t n = blk + carry;
        if (skipping) {
            char *nl = memrchr(buf, '\n', blk);
            n = nl ? (size_t)(nl - buf) + 1 : 0;
            skipping = nl == NULL;
        }
        carry = tail_block(&t, buf, n, pos, pos == 0, &done);
        if (carry > REC_MAX) {
            carry = 0; /* not a record: skip back to the newline before it */
            skipping = true;
        }
    }
    if (t.count < want) {
        *start = 0;
        *cut = 0;
    } else {
        *start = t.start;
        *cut = t.cut;
    }
    return 0;
}

/* ---- entry points ------------------------------------------------------------------------- */

static int open_log(const char *path, int *fd, mk_err *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd >= 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    return mk_errf_sys(err, errno, "open log %s", path);
}

static rt_crilog_reader *reader_new(const char *path, const rt_crilog_opts *o, size_t max,
                                    bool limit)
{
    rt_crilog_reader *r = xcalloc(1, sizeof(*r));
    r->o = *o;
    r->path = xstrdup(path);
    r->fd = -1;
    r->max = max ? max : 1;
    reader *rd = &r->rd;
    rd->o = &r->o;
    rd->remain = limit && o->limit_bytes >= 0 ? o->limit_bytes : -1;
    rd->full = rd->remain == 0;
    rd->cap_max = RT_CRILOG_OUT_CAP(r->max);
    return r;
}

void rt_crilog_close(rt_crilog_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->rd.out);
    free(r->rd.pend[0].buf);
    free(r->rd.pend[1].buf);
    free(r->buf);
    free(r->path);
    free(r);
}

int rt_crilog_open(const char *path, const rt_crilog_opts *o, size_t max, rt_crilog_reader **out,
                   mk_err *err)
{
    rt_crilog_reader *r = reader_new(path, o, max, true);
    int rc = open_log(path, &r->fd, err);
    if (rc > 0 && o->tail_lines >= 0)
        rc = find_tail(r->fd, o->tail_lines, &r->pos, &r->rd.cut, path, err);
    if (rc < 0) {
        rt_crilog_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int rt_crilog_open_at(const char *path, off_t offset, const rt_crilog_opts *o, size_t max,
                      rt_crilog_reader **out, mk_err *err)
{
    rt_crilog_reader *r = reader_new(path, o, max, false);
    int rc = open_log(path, &r->fd, err);
    if (rc < 0) {
        rt_crilog_close(r);
        return rc;
    }
    r->pos = offset;
    struct stat st;
    if (r->fd >= 0 && fstat(r->fd, &st) == 0 && st.st_size < offset)
        r->pos = 0; /* truncated or replaced: start over */
    *out = r;
    return 0;
}

int rt_crilog_next(rt_crilog_reader *r, const char **data, size_t *len, mk_err *err)
{
    reader *rd = &r->rd;
    rd->len = 0;
    if (r->fd < 0)
        r->eof = true;
    else if (!r->buf)
        r->buf = xmalloc(RT_CRILOG_REC_MAX);
    while (!r->eof && !rd->full && rd->len < r->max) {
        int rc = forward_step(r, err);
        if (rc < 0)
            return rc;
    }
    if ((r->eof || rd->full) && rd->len == 0 && !r->flushed) {
        flush_pending(rd); /* alone in its chunk, so the chunk stays within its bound */
        r->flushed = true;
    }
    if (rd->len == 0)
        return 0;
    *data = rd->out;
    *len = rd->len;
    return 1;
}

off_t rt_crilog_offset(const rt_crilog_reader *r)
{
    return r->pos;
}

size_t rt_crilog_footprint(const rt_crilog_reader *r)
{
    return r->rd.cap + r->rd.pend[0].cap + r->rd.pend[1].cap + (r->buf ? RT_CRILOG_REC_MAX : 0);
}

/* Every chunk of a reader, joined into one string. */
static int read_all(rt_crilog_reader *r, char **out, size_t *out_len, mk_err *err)
{
    char *all = xmalloc(1);
    size_t n = 0;
    const char *d;
    size_t dl;
    int rc;
    while ((rc = rt_crilog_next(r, &d, &dl, err)) > 0) {
        all = xrealloc(all, n + dl + 1);
        memcpy(all + n, d, dl);
        n += dl;
    }
    if (rc < 0) {
        free(all);
        return rc;
    }
    all[n] = '\0';
    *out = all;
    *out_len = n;
    return 0;
}

int rt_crilog_read(const char *path, const rt_crilog_opts *o, char **out, size_t *out_len,
                   off_t *end_offset, mk_err *err)
{
    rt_crilog_reader *r;
    int rc = rt_crilog_open(path, o, RT_CRILOG_CHUNK, &r, err);
    if (rc < 0)
        return rc;
    rc = read_all(r, out, out_len, err);
    if (rc == 0 && end_offset)
        *end_offset = r->fd >= 0 ? r->pos : 0;
    rt_crilog_close(r);
    return rc;
}

int rt_crilog_read_from(const char *path, off_t *offset, const rt_crilog_opts *o, char **out,
                        size_t *out_len, mk_err *err)
{
    rt_crilog_reader *r;
    int rc = rt_crilog_open_at(path, *offset, o, RT_CRILOG_CHUNK, &r, err);
    if (rc < 0)
        return rc;
    rc = read_all(r, out, out_len, err);
    if (rc == 0)
        *offset = rt_crilog_offset(r);
    rt_crilog_close(r);
    return rc;
}
