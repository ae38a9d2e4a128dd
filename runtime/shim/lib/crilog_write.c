/* crilog_write.c - CRI log records from container output (see crilog_write.h). libc only. */
#include "crilog_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t realtime_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

size_t shim_crilog_format_ts(int64_t ns, char *buf, size_t len)
{
    int64_t sec = ns / 1000000000LL;
    int64_t frac = ns % 1000000000LL;
    if (frac < 0) {
        frac += 1000000000LL;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        /* outside what four year digits can show: write the epoch, keep the record */
        t = 0;
        frac = 0;
        gmtime_r(&t, &tm);
    }
    int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : (len ? len - 1 : 0);
}

void shim_crilog_init(shim_crilog *w, int fd, const char *stream)
{
    w->fd = fd;
    w->len = 0;
    w->clock = realtime_ns;
    strcpy(w->stream, stream && strcmp(stream, "stderr") == 0 ? "stderr" : "stdout");
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Write the buffered text as one record with the given tag and empty the buffer. */
static int emit(shim_crilog *w, char tag)
{
    char hdr[SHIM_CRILOG_HDR_LEN + 8];
    char ts[40];
    size_t tl = shim_crilog_format_ts(w->clock(), ts, sizeof(ts));
    int hl = snprintf(hdr, sizeof(hdr), "%.*s %s %c ", (int)tl, ts, w->stream, tag);
    if (hl < 0 || hl > SHIM_CRILOG_HDR_LEN)
        hl = snprintf(hdr, sizeof(hdr), "1970-01-01T00:00:00.000000000Z %s %c ", w->stream, tag);
    char *start = w->rec + SHIM_CRILOG_HDR_LEN - hl;
    memcpy(start, hdr, (size_t)hl);
    w->rec[SHIM_CRILOG_HDR_LEN + w->len] = '\n';
    size_t total = (size_t)hl + w->len + 1;
    w->len = 0;
    return write_all(w->fd, start, total);
}

/* Append text that contains no newline, cutting P records when a line outgrows the maximum. */
static int append(shim_crilog *w, const char *p, size_t n, int rc)
{
    while (n > 0) {
        size_t space = SHIM_CRILOG_MAX_LINE - w->len;
        if (n <= space) {
            memcpy(w->rec + SHIM_CRILOG_HDR_LEN + w->len, p, n);
            w->len += n;
            break;
        }
        memcpy(w->rec + SHIM_CRILOG_HDR_LEN + w->len, p, space);
        w->len += space;
        p += space;
        n -= space;
        int r = emit(w, 'P');
        if (r < 0 && rc == 0)
            rc = r;
    }
    return rc;
}

int shim_crilog_feed(shim_crilog *w, const char *data, size_t n)
{
    int rc = 0;
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t seg = nl ? (size_t)(nl - data) : n;
        rc = append(w, data, seg, rc);
        if (!nl)
            break;
        if (w->len > 0 && w->rec[SHIM_CRILOG_HDR_LEN + w->len - 1] == '\r')
            w->len--;
        int r = emit(w, 'F');
        if (r < 0 && rc == 0)
            rc = r;
        data += seg + 1;
        n -= seg + 1;
    }
    return rc;
}

int shim_crilog_flush(shim_crilog *w)
{
    if (w->len == 0)
        return 0;
    return emit(w, 'P');
}
