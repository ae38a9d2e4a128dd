/* sources_scan.h - one scan of the manifest directory (internal to the manifest source). */
#ifndef MK_AGENT_SOURCES_SCAN_H
#define MK_AGENT_SOURCES_SCAN_H

#include "sources.h"

#include <sys/types.h>
#include <time.h>

/* What makes a file "unchanged" since the last scan (then it is not read again). */
typedef struct src_file_key {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns, ctime_ns;
} src_file_key;

typedef struct src_prev {
    char *name;
    src_file_key key;
} src_prev;

typedef struct src_scan_entry {
    char *name, *path;
    src_file_key key;
    bool ignored;   /* not a manifest name: listed, never read */
    bool unchanged; /* same key as last time: keep what we have */
    bool parsed;    /* result holds the parse */
    bool vanished;
    bool read_failed; /* reading (not parsing) failed: try again at the next scan */
    podspec_result result;
    char *error; /* read or parse error */
} src_scan_entry;

typedef struct src_scan {
    /* in */
    char *dir;
    src_prev *prev;
    size_t n_prev;
    /* out */
    int dir_errno; /* 0, or why the directory could not be read (ENOENT: missing) */
    dev_t dir_dev;
    ino_t dir_ino;
    src_scan_entry *entries; /* sorted by name */
    size_t n_entries;
} src_scan;

void agent_src_scan_run(src_scan *sc);
/* A file time in nanoseconds since the epoch, saturated at the int64 limits. */
int64_t agent_src_timespec_ns(const struct timespec *ts);
void agent_src_scan_entry_clear(src_scan_entry *e);
void agent_src_scan_free(src_scan *sc);

#endif
