/* main.c - mini-kubelet: the node agent, and its `image` and `down` subcommands. */
#include "agent.h"
#include "config.h"
#include "image_tool.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *self_exe(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

static int bad_usage(const char *prog, const char *msg)
{
    fprintf(stderr, "%s: %s\n", prog, msg);
    return 2;
}

/* `down [FLAGS]`: the flags after the word are parsed like the agent's (--root-dir matters). */
static int run_down(int argc, char **argv, agent_config *cfg, const char *prog)
{
    agent_cmd cmd;
    mk_err err = {0};
    int idx = agent_config_parse(argc, argv, cfg, &cmd, &err);
    if (idx < 0)
        return bad_usage(prog, err.msg);
    if (cmd == AGENT_CMD_HELP) {
        agent_usage(stdout, prog);
        return 0;
    }
    if (idx < argc)
        return bad_usage(prog, "down: unexpected argument (usage: down [--root-dir DIR])");
    agent_config_finish(cfg, NULL);
    mk_log_set_level(cfg->log_level);
    return agent_down(cfg);
}

int main(int argc, char **argv)
{
    const char *prog = "mini-kubelet";
    signal(SIGPIPE, SIG_IGN);
    /* One malloc arena: the thread pool's short jobs would otherwise each grow an arena of
     * their own, and an edge node cares more about resident memory than allocator contention. */
    mallopt(M_ARENA_MAX, 1);
    agent_config cfg;
    agent_config_init(&cfg);
    agent_cmd cmd;
    mk_err err = {0};
    int idx = agent_config_parse(argc, argv, &cfg, &cmd, &err);
    int code = 0;
    cleanup_free char *exe = self_exe();
    if (idx < 0) {
        code = bad_usage(prog, err.msg);
        goto out;
    }
    if (cmd == AGENT_CMD_HELP) {
        agent_usage(stdout, prog);
        goto out;
    }
    if (cmd == AGENT_CMD_VERSION) {
        printf("mini-kubelet %s\n", MK_VERSION);
        goto out;
    }
    mk_log_set_level(cfg.log_level);
    if (idx < argc) {
        const char *sub = argv[idx];
        if (strcmp(sub, "down") == 0) {
            /* defaults are filled after down's own flags: they follow its --root-dir */
            code = run_down(argc - idx, argv + idx, &cfg, prog);
        } else if (strcmp(sub, "image") == 0) {
            agent_config_finish(&cfg, exe);
            code = agent_image_tool_exec(&cfg, argc - idx - 1, argv + idx + 1);
        } else {
            char msg[256];
            snprintf(msg, sizeof(msg), "unknown command \"%s\" (see --help)", sub);
            code = bad_usage(prog, msg);
        }
        goto out;
    }
    agent_config_finish(&cfg, exe);
    code = agent_run(&cfg);
out:
    agent_config_free(&cfg);
    return code;
}
