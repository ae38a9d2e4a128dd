/* pod_init.h - pid 1 of a pod's shared pid namespace: a reaper that shows itself as /pause.
 *
 * The shim forks the reaper right after it unshares the pid namespace; the child re-executes
 * the shim's own executable with argv {"/pause"} and an empty environment, so what a
 * container sees of it (/proc/1/cmdline, comm, environ, memory) holds no host path, pod uid
 * or cgroup. main() recognizes that image first thing (shim_pod_init_is_me).
 */
#ifndef SHIM_POD_INIT_H
#define SHIM_POD_INIT_H

#include "shim.h"

#include <stdbool.h>
#include <stddef.h>

/* argv[0] of the reaper, and the whole of its command line */
#define SHIM_POD_INIT_ARGV0 "/pause"

/* Unshare the pid namespace and fork its pid 1: ctx->init_pid is the reaper, ctx->init_pipe
 * the write end of a pipe whose closing (the shim's exit or death) ends it. 0, or -1 with the
 * reason in msg. */
int shim_pod_init_start(shim_ctx *ctx, char *msg, size_t len);

/* Whether this process is the re-executed reaper: argv is exactly {"/pause"} and it is pid 1
 * of its namespace. Anything else (a person typing the name) runs the shim as usual. */
bool shim_pod_init_is_me(int argc, char **argv);

/* The reaper itself: never returns. */
void shim_pod_init_main(void) __attribute__((noreturn));

#endif
