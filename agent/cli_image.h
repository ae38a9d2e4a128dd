/* cli_image.h - `mini-kubelet image ...`: import archives into the store and list images. */
#ifndef MK_AGENT_CLI_IMAGE_H
#define MK_AGENT_CLI_IMAGE_H

/* argv starts after the word "image" (argv[0] is the subcommand; a leading "image" is skipped).
 * Uses the store under <root_dir>/var/lib/mini-kubelet/images. Errors go to stderr, results to
 * stdout. Returns the process exit status: 0 success, 1 failure, 2 usage error. */
int agent_cli_image(int argc, char **argv, const char *root_dir);

#endif
