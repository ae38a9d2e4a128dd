/* ctr_path.h - environment lookups and $PATH search for the container's argv[0] (libc only). */
#ifndef MK_SHIM_CTR_PATH_H
#define MK_SHIM_CTR_PATH_H

#include <stddef.h>

#define SHIM_CTR_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The value of NAME in a NULL-terminated "NAME=value" list (the first match), or NULL. */
const char *shim_ctr_env_get(char *const *env, const char *name);

/* Resolves argv0 to an executable path in out. A name containing '/' is used as is. Otherwise
 * every directory of path_env (SHIM_CTR_DEFAULT_PATH when NULL; an empty entry means ".") is
 * tried for a regular file with execute permission. Returns 0, or -ENOENT with err set to
 * `"foo": executable file not found in $PATH`, or another negative errno with err set to
 * `"foo": <reason>` (callers prefix "exec: "). */
int shim_ctr_path_lookup(const char *argv0, const char *path_env, char *out, size_t size, char *err,
                         size_t errlen);

/* Splits a NUL-separated buffer (as /proc/<pid>/environ) into a NULL-terminated vector that
 * points into buf; buf[len - 1] must be 0 or is overwritten. Returns the number of strings, or
 * -E2BIG when more than max - 1. */
int shim_ctr_split_nul(char *buf, size_t len, char **out, size_t max);

#endif
