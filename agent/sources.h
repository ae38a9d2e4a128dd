/* sources.h - the manifest directory source and the per-file state GET /manifests shows.
 *
 * The directory is watched with inotify (uv_fs_event) and rescanned in full every
 * resync_seconds. Only regular files named *.yaml, *.yml or *.json are read (not recursive,
 * sorted by name); dotfiles and editor/backup names (~, .swp, .bak, .tmp) never are. Reading
 * and parsing run on the thread pool. After each scan the callback gets the complete desired
 * set: every pod of every file, where
 *   - a file that stops parsing keeps the pods of its last good version (its error is logged
 *     once per change and shown in the per-file state);
 *   - two definitions of one namespace/name: the first file by name wins, the other file is in
 *     state "duplicate" with an error naming both files.
 * A missing directory is an empty set (retried every second until it appears). A directory
 * that exists but cannot be read now (out of fds, I/O error) changes nothing: the last set
 * stays and the scan is retried; so is a file whose read (not parse) failed.
 */
#ifndef MK_AGENT_SOURCES_H
#define MK_AGENT_SOURCES_H

#include "podspec.h"

#include <uv.h>

#define AGENT_MANIFEST_MAX_BYTES (10u * 1024 * 1024)

typedef enum {
    AGENT_MANIFEST_OK = 0,
    AGENT_MANIFEST_ERROR,     /* does not parse; the last good version's pods (if any) stay */
    AGENT_MANIFEST_DUPLICATE, /* defines a pod another file (earlier by name) already defines */
    AGENT_MANIFEST_IGNORED,   /* not a manifest name (e.g. notes.txt, x.yaml.bak): never read */
} agent_manifest_state;

typedef struct agent_manifest_file {
    char *file; /* absolute path */
    agent_manifest_state state;
    char **pods; /* "namespace/name" of the pods it contributes; NULL-terminated */
    size_t n_pods;
    char *error;     /* "file:line:col: ..." or the duplicate message; NULL when none */
    char **warnings; /* accepted-but-ignored fields; NULL-terminated, may be NULL */
    int64_t mtime_ns;
} agent_manifest_file;

/* Read on the loop thread only; replaced after every scan. */
struct agent_manifests {
    char *dir;
    bool dir_missing;
    char *dir_error; /* the directory exists but could not be read (EMFILE, EIO, ...): the
                        desired set of the last good scan stays; NULL when none */
    agent_manifest_file *files; /* sorted by name */
    size_t n_files;
};

/* "ok", "error", "duplicate", "ignored". */
const char *agent_manifest_state_name(agent_manifest_state s);

/* True for names the source reads: *.yaml, *.yml, *.json, not starting with '.'. */
bool agent_manifest_name_ok(const char *name);

/* The desired set: pods[i] stay valid until the next callback (or close); pods[i]->source_file
 * is the absolute path of the file. Called on the loop after each scan. */
typedef void (*agent_source_fn)(void *arg, podspec_pod *const *pods, size_t n);

typedef struct agent_sources agent_sources;

/* Start watching `dir` and schedule the first scan (run on the loop soon after). */
int agent_sources_start(uv_loop_t *loop, const char *dir, int resync_seconds, agent_source_fn fn,
                        void *arg, agent_sources **out, mk_err *err);
const struct agent_manifests *agent_sources_manifests(const agent_sources *s);
/* True once the first scan has been delivered ("sources ready"). */
bool agent_sources_ready(const agent_sources *s);
/* Ask for a rescan soon (bursts are merged). */
void agent_sources_rescan(agent_sources *s);
/* Stop; no callback runs after this. `done` (may be NULL) runs when everything is freed. */
void agent_sources_close(agent_sources *s, void (*done)(void *arg), void *arg);

#endif
