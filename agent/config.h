/* config.h - command line flags, defaults, derived paths, the API token and the pid file. */
#ifndef MK_AGENT_CONFIG_H
#define MK_AGENT_CONFIG_H

#include "agent.h"

#include <stdio.h>

/* What the command line asks for. */
typedef enum {
    AGENT_CMD_RUN = 0, /* run the agent */
    AGENT_CMD_HELP,    /* --help was printed: exit 0 */
    AGENT_CMD_VERSION, /* --version was printed: exit 0 */
} agent_cmd;

/* Zero the config and set the non-path defaults (log level info, backoff scale 1, resync 20). */
void agent_config_init(agent_config *cfg);

/* Parse the agent's flags (argv[0] is the program). Fills every default and the derived paths.
 * Stops at the first non-flag argument (a subcommand) and returns its index (argc if none).
 * May run again on the same cfg (e.g. for a subcommand's flags); later values win.
 * On a bad flag returns < 0 with err set (the caller prints it and exits 2). */
int agent_config_parse(int argc, char **argv, agent_config *cfg, agent_cmd *cmd, mk_err *err);
void agent_config_free(agent_config *cfg);

/* Fill the defaults that depend on root_dir (and the derived paths) for fields still NULL.
 * `self_exe` locates the shim next to the agent (may be NULL: then "mini-kubelet-shim"). */
void agent_config_finish(agent_config *cfg, const char *self_exe);

/* "<root>/<rel>" without a doubled slash ("/" + "run" -> "/run"). */
char *agent_path(const char *root, const char *rel);

/* The cgroup subtree for a root dir: "mini-kubelet" for "/", else
 * "mini-kubelet-<first 8 hex of sha256(root_dir)>". */
char *agent_cgroup_subtree(const char *root_dir);

/* Usage text (every flag and subcommand). */
void agent_usage(FILE *f, const char *prog);

/* Load the bearer token from `path`, or create it (32 random bytes as hex, mode 0600, written
 * atomically, parent directories made). */
int agent_token_load(const char *path, char **token, mk_err *err);

/* The pid file <root>/run/mini-kubelet/agent.pid, held with an exclusive flock while an agent
 * runs for that root. Returns the locked fd (O_CLOEXEC); -EBUSY with the other pid in the
 * message when another agent holds it. */
int agent_pidfile_lock(const char *path, mk_err *err);

#endif
