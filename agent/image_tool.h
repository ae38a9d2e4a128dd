/* image_tool.h - running mini-kubelet-image, the separate process that reads image archives
 * (see runtime/image_tool.c for why it is separate). */
#ifndef MK_AGENT_IMAGE_TOOL_H
#define MK_AGENT_IMAGE_TOOL_H

#include "agent.h"

/* `mini-kubelet image ARGS...`: replace this process with the tool. Returns only on failure,
 * with the exit status to use. */
int agent_image_tool_exec(const agent_config *cfg, int argc, char **argv);

/* Run the tool to import every new archive of <images>/import/ and wait for it. Its log lines
 * go to our stderr. Returns 0, or < 0 with err filled when it could not run or failed. */
int agent_image_tool_import_dir(const agent_config *cfg, const char *dir, mk_err *err);

#endif
