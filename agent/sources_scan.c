/* sources_scan.c - the blocking half of the manifest source: list, filter, stat, read, parse.
 * Runs on the thread pool; touches nothing but the scan it is given. */
#include "sources_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

bool agent_manifest_name_ok(const char *name)
{
    if (!name || !name[0] || name[0] == '.')
        return false;
    /* the extension test alone rules out x.yaml~, x.yaml.swp, x.yaml.bak, x.yaml.tmp */
    return has_suffix(name, ".yaml") || has_suffix(name, ".yml") || has_suffix(name, ".json");
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const src_scan_entry *)a)->name, ((const src_scan_entry *)b)->name);
}

static const src_file_key *prev_key(const src_scan *sc, const char *name)
{
    for (size_t i = 0; i < sc->n_prev; i++)
        if (strcmp(sc->prev[i].name, name) == 0)
            return &sc->prev[i].key;
    return NULL;
}

/* Nanoseconds since the epoch, saturated: anyone can `touch -d 2500-01-01` a manifest, and
 * int64 nanoseconds end in 2262. */
int64_t agent_src_timespec_ns(const struct timespec *ts)
{
    const int64_t sec = 1000000000;
    if (ts->tv_sec >= INT64_MAX / sec)
        return INT64_MAX;
    if (ts->tv_sec <= INT64_MIN / sec)
        return INT64_MIN;
    return (int64_t)ts->tv_sec * sec + ts->tv_nsec;
}

static void key_from_stat(const struct stat *st, src_file_key *k)
{
    k->dev = st->st_dev;
    k->ino = st->st_ino;
    k->size = st->st_size;
    k->mtime_ns = agent_src_timespec_ns(&st->st_mtim);
    k->ctime_ns = agent_src_timespec_ns(&st->st_ctim);
}

static void read_and_parse(src_scan_entry *e)
{
    mk_err err = {0};
    char *buf = NULL;
    size_t len = 0;
    int r = mk_read_file(e->path, AGENT_MANIFEST_MAX_BYTES, &buf, &len, &err);
    if (r == -EFBIG) {
        e->error = xasprintf("%s: larger than %u bytes (10 MiB); not read", e->path,
                             AGENT_MANIFEST_MAX_BYTES);
        return;
    }
    if (r < 0) {
        e->vanished = (r == -ENOENT);
        e->read_failed = true;
        e->error = xasprintf("%s", err.msg);
        return;
    }
    r = podspec_parse(e->path, buf, len, &e->result, &err);
    free(buf);
    if (r < 0)
        e->error = xstrdup(err.msg);
    else
        e->parsed = true;
}

/* Stat one directory entry and decide what to do with it. Returns false to skip it. */
static bool examine(src_scan *sc, int dfd, const char *name, src_scan_entry *e)
{
    struct stat st;
    memset(e, 0, sizeof(*e));
    if (fstatat(dfd, name, &st, 0) < 0 || !S_ISREG(st.st_mode))
        return false; /* gone meanwhile, dangling link, directory, fifo ...: not a manifest */
    e->name = xstrdup(name);
    e->path = xasprintf("%s/%s", sc->dir, name);
    key_from_stat(&st, &e->key);
    if (!agent_manifest_name_ok(name)) {
        e->ignored = true;
        return true;
    }
    const src_file_key *pk = prev_key(sc, name);
    if (pk && memcmp(pk, &e->key, sizeof(*pk)) == 0) {
        e->unchanged = true;
        return true;
    }
    read_and_parse(e);
    return !e->vanished;
}

void agent_src_scan_run(src_scan *sc)
{
    int dfd = open(sc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        sc->dir_errno = errno;
        return;
    }
    struct stat dst;
    if (fstat(dfd, &dst) == 0) {
        sc->dir_dev = dst.st_dev;
        sc->dir_ino = dst.st_ino;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        sc->dir_errno = errno;
        close(dfd);
        return;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* dotfiles (editors' swap and temp files) are never considered */
        if (sc->n_entries == cap) {
            cap = cap ? cap * 2 : 16;
            sc->entries = xrealloc(sc->entries, cap * sizeof(*sc->entries));
        }
        if (examine(sc, dirfd(d), de->d_name, &sc->entries[sc->n_entries]))
            sc->n_entries++;
        else
            agent_src_scan_entry_clear(&sc->entries[sc->n_entries]);
    }
    if (errno)
        sc->dir_errno = errno;
    closedir(d);
    if (sc->n_entries)
        qsort(sc->entries, sc->n_entries, sizeof(*sc->entries), cmp_entry);
}

void agent_src_scan_entry_clear(src_scan_entry *e)
{
    free(e->name);
    free(e->path);
    free(e->error);
    podspec_result_free(&e->result);
    memset(e, 0, sizeof(*e));
}

void agent_src_scan_free(src_scan *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n_entries; i++)
        agent_src_scan_entry_clear(&sc->entries[i]);
    free(sc->entries);
    for (size_t i = 0; i < sc->n_prev; i++)
        free(sc->prev[i].name);
    free(sc->prev);
    free(sc->dir);
    free(sc);
}
