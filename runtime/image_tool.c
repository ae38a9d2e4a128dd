/* image_tool.c - main() of mini-kubelet-image, the process that reads image archives.
 *
 *   mini-kubelet-image [--root-dir DIR] [--log-level L] import|import-dir|ls|inspect ...
 *
 * Unpacking archives needs libarchive and, through it, libxml2, ICU and libstdc++: several
 * megabytes of libraries that a long-running agent would keep mapped for nothing, and parsers
 * of untrusted input that are better kept out of it. So `mini-kubelet image ...` and the
 * agent's start-up import run this small program instead; the agent itself only reads the
 * store (image_store.c).
 */
#include "cli_image.h"
#include "mk_base.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *root = "/";
    int i = 1;
    while (i + 1 < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--root-dir")) {
            root = argv[i + 1];
        } else if (!strcmp(argv[i], "--log-level")) {
            mk_log_level lvl;
            if (mk_log_parse_level(argv[i + 1], &lvl) < 0) {
                fprintf(stderr, "mini-kubelet image: --log-level: unknown level \"%s\"\n",
                        argv[i + 1]);
                return 2;
            }
            mk_log_set_level(lvl);
        } else {
            break;
        }
        i += 2;
    }
    return agent_cli_image(argc - i, argv + i, root);
}
