/* Flags, defaults, derived paths, cgroup subtree names, the token file and pod UIDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "worker.h"

static int parse(agent_config *cfg, agent_cmd *cmd, mk_err *err, int argc, char **argv)
{
    agent_config_init(cfg);
    return agent_config_parse(argc, argv, cfg, cmd, err);
}

static void test_defaults(void **state)
{
    (void)state;
    agent_config cfg;
    agent_cmd cmd;
    mk_err err = {0};
    char *argv[] = {"mini-kubelet", NULL};
    assert_int_equal(parse(&cfg, &cmd, &err, 1, argv), 1);
    assert_int_equal(cmd, AGENT_CMD_RUN);
    agent_config_finish(&cfg, "/opt/mk/bin/mini-kubelet");
    assert_string_equal(cfg.root_dir, "/");
    assert_string_equal(cfg.manifest_dir, "/etc/mini-kubelet/manifests");
    assert_string_equal(cfg.listen_addr, "127.0.0.1:10250");
    assert_string_equal(cfg.socket_path, "/run/mini-kubelet/api.sock");
    assert_string_equal(cfg.token_file, "/etc/mini-kubelet/token");
    assert_string_equal(cfg.shim_path, "/opt/mk/bin/mini-kubelet-shim");
    assert_string_equal(cfg.images_dir, "/var/lib/mini-kubelet/images");
    assert_string_equal(cfg.pods_state_dir, "/var/lib/mini-kubelet/pods");
    assert_string_equal(cfg.pods_run_dir, "/run/mini-kubelet/pods");
    assert_string_equal(cfg.pods_log_dir, "/var/log/pods");
    assert_null(cfg.cgroup_root);
    assert_null(cfg.tls_cert_file);
    assert_int_equal(cfg.log_level, MK_LOG_INFO);
    assert_true(cfg.backoff_scale == 1.0);
    assert_int_equal(cfg.resync_seconds, 20);
    assert_non_null(cfg.node_name);
    for (const char *p = cfg.node_name; *p; p++)
        assert_false(*p >= 'A' && *p <= 'Z');
    agent_config_free(&cfg);
}

static void test_flags_and_root_prefix(void **state)
{
    (void)state;
    agent_config cfg;
    agent_cmd cmd;
    mk_err err = {0};
    char *argv[] = {"mini-kubelet",
                    "--root-dir=/tmp/r/",
                    "--listen",
                    "",
                    "--node-name",
                    "edge-1",
                    "--log-level",
                    "debug",
                    "--backoff-scale",
                    "0.05",
                    "--cgroup-root",
                    "/mk",
                    "--shim",
                    "/x/shim",
                    "down",
                    "--root-dir",
                    "/other",
                    NULL};
    int idx = parse(&cfg, &cmd, &err, 17, argv);
    assert_int_equal(idx, 14);
    assert_string_equal(argv[idx], "down");
    agent_config_finish(&cfg, NULL);
    assert_string_equal(cfg.manifest_dir, "/tmp/r/etc/mini-kubelet/manifests");
    assert_string_equal(cfg.socket_path, "/tmp/r/run/mini-kubelet/api.sock");
    assert_string_equal(cfg.token_file, "/tmp/r/etc/mini-kubelet/token");
    assert_string_equal(cfg.pods_log_dir, "/tmp/r/var/log/pods");
    assert_string_equal(cfg.listen_addr, "");
    assert_string_equal(cfg.node_name, "edge-1");
    assert_string_equal(cfg.cgroup_root, "/mk");
    assert_string_equal(cfg.shim_path, "/x/shim");
    assert_int_equal(cfg.log_level, MK_LOG_DEBUG);
    assert_true(cfg.backoff_scale == 0.05);
    /* the subcommand's own flags parse onto the same config */
    int idx2 = agent_config_parse(3, argv + idx, &cfg, &cmd, &err);
    assert_int_equal(idx2, 3);
    agent_config_finish(&cfg, NULL);
    assert_string_equal(cfg.root_dir, "/other");
    assert_string_equal(cfg.pods_run_dir, "/other/run/mini-kubelet/pods");
    agent_config_free(&cfg);
}

static void expect_bad(char **argv, int argc, const char *needle)
{
    agent_config cfg;
    agent_cmd cmd;
    mk_err err = {0};
    assert_true(parse(&cfg, &cmd, &err, argc, argv) < 0);
    if (!strstr(err.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
    agent_config_free(&cfg);
}

static void test_bad_flags(void **state)
{
    (void)state;
    char *a1[] = {"mk", "--bogus", NULL};
    expect_bad(a1, 2, "--bogus");
    char *a2[] = {"mk", "--root-dir", NULL};
    expect_bad(a2, 2, "--root-dir needs a value");
    char *a3[] = {"mk", "--backoff-scale", "0", NULL};
    expect_bad(a3, 3, "--backoff-scale");
    char *a4[] = {"mk", "--backoff-scale", "abc", NULL};
    expect_bad(a4, 3, "--backoff-scale");
    char *a5[] = {"mk", "--log-level", "loud", NULL};
    expect_bad(a5, 3, "--log-level");
    char *a6[] = {"mk", "--root-dir", "", NULL};
    expect_bad(a6, 3, "--root-dir");
    char *a7[] = {"mk", "--node-name", "Bad_Name", NULL};
    expect_bad(a7, 3, "--node-name");
    char *a8[] = {"mk", "-x", NULL};
    expect_bad(a8, 2, "-x");
}

static void test_help_and_version(void **state)
{
    (void)state;
    agent_config cfg;
    agent_cmd cmd;
    mk_err err = {0};
    char *a1[] = {"mk", "--help", NULL};
    assert_true(parse(&cfg, &cmd, &err, 2, a1) >= 0);
    assert_int_equal(cmd, AGENT_CMD_HELP);
    agent_config_free(&cfg);
    char *a2[] = {"mk", "--version", NULL};
    assert_true(parse(&cfg, &cmd, &err, 2, a2) >= 0);
    assert_int_equal(cmd, AGENT_CMD_VERSION);
    agent_config_free(&cfg);
    /* --help names every flag and subcommand */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    agent_usage(f, "mini-kubelet");
    fclose(f);
    const char *words[] = {"--root-dir",    "--manifest-dir", "--listen",        "--socket",
                           "--node-name",   "--token-file",   "--tls-cert-file", "--tls-key-file",
                           "--cgroup-root", "--shim",         "--log-level",     "--backoff-scale",
                           "--help",        "--version",      "image import",    "image ls",
                           "down"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (!strstr(text, words[i]))
            fail_msg("--help lacks %s", words[i]);
    free(text);
}

static void test_paths_and_subtree(void **state)
{
    (void)state;
    char *p = agent_path("/", "run/x");
    assert_string_equal(p, "/run/x");
    free(p);
    p = agent_path("/a/b//", "/run");
    assert_string_equal(p, "/a/b/run");
    free(p);
    char *s = agent_cgroup_subtree("/");
    assert_string_equal(s, "mini-kubelet");
    free(s);
    char *s1 = agent_cgroup_subtree("/tmp/r1");
    char *s2 = agent_cgroup_subtree("/tmp/r2");
    char *s1b = agent_cgroup_subtree("/tmp/r1");
    assert_int_equal(strlen(s1), strlen("mini-kubelet-") + 8);
    assert_string_equal(s1, s1b);
    assert_string_not_equal(s1, s2);
    free(s1);
    free(s2);
    free(s1b);
}

static void test_token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/mk-token-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = agent_path(dir, "etc/mini-kubelet/token");
    char *t1 = NULL, *t2 = NULL;
    mk_err err = {0};
    assert_int_equal(agent_token_load(path, &t1, &err), 0);
    assert_int_equal(strlen(t1), 64);
    assert_int_equal(strspn(t1, "0123456789abcdef"), 64);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(agent_token_load(path, &t2, &err), 0);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    assert_int_equal(mk_rm_rf(dir, &err), 0);
    free(path);
}

static void test_pidfile_lock(void **state)
{
    (void)state;
    char dir[] = "/tmp/mk-pid-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = agent_path(dir, "run/mini-kubelet/agent.pid");
    mk_err err = {0};
    int fd = agent_pidfile_lock(path, &err);
    assert_true(fd >= 0);
    assert_int_equal(agent_pidfile_lock(path, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "another mini-kubelet"));
    close(fd);
    fd = agent_pidfile_lock(path, &err);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(mk_rm_rf(dir, &err), 0);
    free(path);
}

static podspec_pod *one_pod(const char *yaml)
{
    podspec_result r = {0};
    mk_err err = {0};
    if (podspec_parse("/m/p.yaml", yaml, strlen(yaml), &r, &err) < 0)
        fail_msg("parse: %s", err.msg);
    podspec_pod *p = podspec_pod_dup(r.pods[0]);
    podspec_result_free(&r);
    return p;
}

static void test_uid_derivation(void **state)
{
    (void)state;
    const char *y1 = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n"
                     "  - name: c\n    image: busybox\n";
    const char *y2 = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n"
                     "  - name: c\n    image: nginx\n";
    const char *y3 = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  uid: my-fixed-uid\n"
                     "spec:\n  containers:\n  - name: c\n    image: busybox\n";
    podspec_pod *p1 = one_pod(y1), *p1b = one_pod(y1), *p2 = one_pod(y2), *p3 = one_pod(y3);
    char u1[33], u1b[33], u2[33], u1n[33], u1f[33], u3[33];
    agent_pod_uid(p1, "node", "/m/p.yaml", u1);
    agent_pod_uid(p1b, "node", "/m/p.yaml", u1b);
    agent_pod_uid(p2, "node", "/m/p.yaml", u2);
    agent_pod_uid(p1, "other", "/m/p.yaml", u1n);
    agent_pod_uid(p1, "node", "/m/q.yaml", u1f);
    agent_pod_uid(p3, "node", "/m/p.yaml", u3);
    assert_int_equal(strlen(u1), 32);
    assert_int_equal(strspn(u1, "0123456789abcdef"), 32);
    assert_string_equal(u1, u1b);     /* stable */
    assert_string_not_equal(u1, u2);  /* content */
    assert_string_not_equal(u1, u1n); /* node */
    assert_string_not_equal(u1, u1f); /* file */
    assert_string_equal(u3, "my-fixed-uid");
    podspec_pod_free(p1);
    podspec_pod_free(p1b);
    podspec_pod_free(p2);
    podspec_pod_free(p3);
}

static void test_hostnames(void **state)
{
    (void)state;
    podspec_pod p = {0};
    p.name = "web";
    p.namespace_ = "prod";
    char *h = NULL, *f = NULL;
    agent_pod_hostnames(&p, &h, &f);
    assert_string_equal(h, "web");
    assert_null(f);
    free(h);
    p.hostname = "front";
    p.subdomain = "svc1";
    agent_pod_hostnames(&p, &h, &f);
    assert_string_equal(h, "front");
    assert_string_equal(f, "front.svc1.prod.svc.cluster.local");
    free(h);
    free(f);
    char long_name[100];
    memset(long_name, 'a', 99);
    long_name[99] = '\0';
    long_name[62] = '-';
    p.hostname = long_name;
    p.subdomain = NULL;
    agent_pod_hostnames(&p, &h, &f);
    assert_int_equal(strlen(h), 62); /* truncated to 63, trailing '-' trimmed */
    free(h);
}

/* Relative path flags are taken from the current directory and kept absolute. */
static void test_relative_paths(void **state)
{
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    agent_config cfg;
    agent_cmd cmd;
    mk_err err = {0};
    char *argv[] = {"mk",         "--root-dir", "./build/run-root", "--manifest-dir",
                    "examples/m", "--socket",   "s.sock",           NULL};
    assert_int_equal(parse(&cfg, &cmd, &err, 7, argv), 7);
    agent_config_finish(&cfg, NULL);
    char *want = xasprintf("%s/build/run-root", cwd);
    assert_string_equal(cfg.root_dir, want);
    free(want);
    want = xasprintf("%s/examples/m", cwd);
    assert_string_equal(cfg.manifest_dir, want);
    free(want);
    want = xasprintf("%s/s.sock", cwd);
    assert_string_equal(cfg.socket_path, want);
    free(want);
    agent_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_flags_and_root_prefix),
        cmocka_unit_test(test_bad_flags),         cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_paths_and_subtree), cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_pidfile_lock),      cmocka_unit_test(test_uid_derivation),
        cmocka_unit_test(test_hostnames),         cmocka_unit_test(test_relative_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
