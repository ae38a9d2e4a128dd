/* image_tool.c - see image_tool.h. */
#include "image_tool.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TOOL_NAME "mini-kubelet-image"

/* The tool lives next to this executable. */
static char *tool_path(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return xstrdup(TOOL_NAME);
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    return xasprintf("%.*s/%s", slash ? (int)(slash - buf) : 0, buf, TOOL_NAME);
}

static const char *level_name(mk_log_level l)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    return l <= MK_LOG_DEBUG ? names[l] : "info";
}

int agent_image_tool_exec(const agent_config *cfg, int argc, char **argv)
{
    cleanup_free char *path = tool_path();
    char **args = xcalloc((size_t)argc + 6, sizeof(char *));
    size_t k = 0;
    args[k++] = TOOL_NAME;
    args[k++] = "--root-dir";
    args[k++] = cfg->root_dir;
    args[k++] = "--log-level";
    args[k++] = (char *)level_name(cfg->log_level);
    for (int i = 0; i < argc; i++)
        args[k++] = argv[i];
    execv(path, args);
    fprintf(stderr, "mini-kubelet image: cannot run %s: %s\n", path, strerror(errno));
    free(args);
    return 1;
}

int agent_image_tool_import_dir(const agent_config *cfg, const char *dir, mk_err *err)
{
    cleanup_free char *path = tool_path();
    char *args[] = {TOOL_NAME,
                    "--root-dir",
                    cfg->root_dir,
                    "--log-level",
                    (char *)level_name(cfg->log_level),
                    "import-dir",
                    (char *)dir,
                    NULL};
    pid_t pid;
    int r = posix_spawn(&pid, path, NULL, NULL, args, environ);
    if (r != 0)
        return mk_errf_sys(err, r, "run %s", path);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return mk_errf_sys(err, errno, "wait for %s", path);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        return mk_errf(err, EIO, "%s import-dir %s: killed by signal %d", path, dir,
                       WTERMSIG(status));
    return mk_errf(err, EIO, "%s import-dir %s: exit status %d", path, dir, WEXITSTATUS(status));
}
