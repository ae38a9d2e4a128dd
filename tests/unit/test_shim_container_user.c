/* Tests for the container setup's pure helpers: user/group resolution, /proc status parsing,
 * the capability table, overlay mount options and $PATH search. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ctr_caps.h"
#include "ctr_overlay.h"
#include "ctr_path.h"
#include "ctr_user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                             "# a comment line\n"
                             "\n"
                             "broken line without colons\n"
                             "nginx:x:101:102:nginx user:/var/cache/nginx:/sbin/nologin\n"
                             "nohome:x:300:300::::\n"
                             "999:x:1000:1000::/home/numeric:/bin/sh";

static const char group[] = "root:x:0:\n"
                            "daemon:x:1:nginx\n"
                            "adm:x:4:daemon,nginx\n"
                            "nginx:x:102:\n"
                            "www:x:33:other,nginx,third\n"
                            "nginxish:x:50:nginx2\n"
                            "staff:x:50000:";

static shim_ctr_user resolve_ok(const char *spec)
{
    shim_ctr_user u;
    char err[256];
    int r = shim_ctr_user_resolve(spec, passwd, group, &u, err, sizeof(err));
    if (r != 0)
        fail_msg("resolve %s: %d %s", spec, r, err);
    return u;
}

static void expect_groups(const shim_ctr_user *u, const uint32_t *want, size_t n)
{
    assert_int_equal(u->n_groups, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(u->groups[i], want[i]);
}

static void test_user_empty_is_root(void **state)
{
    (void)state;
    shim_ctr_user u = resolve_ok("");
    assert_int_equal(u.uid, 0);
    assert_int_equal(u.gid, 0);
    assert_string_equal(u.home, "/root");
    uint32_t g[] = {0};
    expect_groups(&u, g, 1);
    /* NULL behaves like "" */
    u = resolve_ok(NULL);
    assert_int_equal(u.uid, 0);
}

static void test_user_by_name(void **state)
{
    (void)state;
    shim_ctr_user u = resolve_ok("nginx");
    assert_int_equal(u.uid, 101);
    assert_int_equal(u.gid, 102);
    assert_string_equal(u.home, "/var/cache/nginx");
    /* primary first, then every group listing nginx as a member (not "nginx2") */
    uint32_t g[] = {102, 1, 4, 33};
    expect_groups(&u, g, 4);
}

static void test_user_numeric(void **state)
{
    (void)state;
    /* a uid with a passwd entry takes its gid, home and groups */
    shim_ctr_user u = resolve_ok("101");
    assert_int_equal(u.uid, 101);
    assert_int_equal(u.gid, 102);
    assert_string_equal(u.home, "/var/cache/nginx");
    assert_int_equal(u.n_groups, 4);
    /* a uid without one: gid 0, home / */
    u = resolve_ok("4242");
    assert_int_equal(u.uid, 4242);
    assert_int_equal(u.gid, 0);
    assert_string_equal(u.home, "/");
    uint32_t g[] = {0};
    expect_groups(&u, g, 1);
    /* the largest id accepted */
    u = resolve_ok("2147483647");
    assert_int_equal(u.uid, 2147483647u);
    /* a user literally named "999" wins over uid 999 */
    u = resolve_ok("999");
    assert_int_equal(u.uid, 1000);
    assert_string_equal(u.home, "/home/numeric");
}

static void test_user_with_group(void **state)
{
    (void)state;
    shim_ctr_user u = resolve_ok("nginx:adm");
    assert_int_equal(u.uid, 101);
    assert_int_equal(u.gid, 4);
    /* an explicit group means no supplementary groups from /etc/group */
    assert_int_equal(u.n_groups, 0);
    u = resolve_ok("101:33");
    assert_int_equal(u.uid, 101);
    assert_int_equal(u.gid, 33);
    u = resolve_ok("5000:6000");
    assert_int_equal(u.uid, 5000);
    assert_int_equal(u.gid, 6000);
    u = resolve_ok("5000:staff");
    assert_int_equal(u.gid, 50000);
    u = resolve_ok("nginx:7");
    assert_int_equal(u.gid, 7);
    u = resolve_ok(":adm");
    assert_int_equal(u.uid, 0);
    assert_int_equal(u.gid, 4);
}

static void test_user_empty_fields(void **state)
{
    (void)state;
    shim_ctr_user u = resolve_ok("nohome");
    assert_int_equal(u.uid, 300);
    assert_string_equal(u.home, "/");
}

static void test_user_errors(void **state)
{
    (void)state;
    shim_ctr_user u;
    char err[256];
    assert_int_equal(shim_ctr_user_resolve("nobody", passwd, group, &u, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "unable to find user nobody: no matching entries in passwd file");
    assert_int_equal(shim_ctr_user_resolve("nginx:wheel", passwd, group, &u, err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "unable to find group wheel: no matching entries in group file");
    assert_int_equal(shim_ctr_user_resolve("2147483648", passwd, group, &u, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(shim_ctr_user_resolve("1:99999999999", passwd, group, &u, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(shim_ctr_user_resolve("nginx:", passwd, group, &u, err, sizeof(err)), -EINVAL);
}

static void test_user_missing_files(void **state)
{
    (void)state;
    shim_ctr_user u;
    char err[256];
    /* an image without /etc/passwd: numeric users work, names do not */
    assert_int_equal(shim_ctr_user_resolve("", NULL, NULL, &u, err, sizeof(err)), 0);
    assert_int_equal(u.uid, 0);
    assert_int_equal(shim_ctr_user_resolve("65534:65534", NULL, NULL, &u, err, sizeof(err)), 0);
    assert_int_equal(u.uid, 65534);
    assert_int_equal(u.gid, 65534);
    assert_int_equal(shim_ctr_user_resolve("nginx", NULL, NULL, &u, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "unable to find user nginx: no matching entries in passwd file");
    assert_int_equal(shim_ctr_user_resolve("1:adm", passwd, NULL, &u, err, sizeof(err)), -ENOENT);
}

static void test_user_from_status(void **state)
{
    (void)state;
    const char *st = "Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7\n"
                     "Uid:\t101\t101\t101\t101\nGid:\t102\t102\t102\t102\nFDSize:\t64\n"
                     "Groups:\t1 4 33 \nNStgid:\t7\t1\n";
    shim_ctr_user u;
    assert_int_equal(shim_ctr_user_from_status(st, &u), 0);
    assert_int_equal(u.uid, 101);
    assert_int_equal(u.gid, 102);
    uint32_t g[] = {1, 4, 33};
    expect_groups(&u, g, 3);
    assert_int_equal(
        shim_ctr_user_from_status("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n", &u), 0);
    assert_int_equal(u.n_groups, 0);
    assert_int_equal(shim_ctr_user_from_status("Name:\tx\n", &u), -EINVAL);
}

static void test_caps_names(void **state)
{
    (void)state;
    assert_string_equal(shim_ctr_cap_name(0), "CAP_CHOWN");
    assert_string_equal(shim_ctr_cap_name(21), "CAP_SYS_ADMIN");
    assert_string_equal(shim_ctr_cap_name(40), "CAP_CHECKPOINT_RESTORE");
    assert_null(shim_ctr_cap_name(41));
    assert_int_equal(shim_ctr_cap_from_name("CAP_NET_ADMIN"), 12);
    assert_int_equal(shim_ctr_cap_from_name("NET_ADMIN"), 12);
    assert_int_equal(shim_ctr_cap_from_name("net_admin"), 12);
    assert_int_equal(shim_ctr_cap_from_name("CAP_"), -EINVAL);
    assert_int_equal(shim_ctr_cap_from_name("NET_ADMINX"), -EINVAL);
    assert_int_equal(shim_ctr_cap_from_name(""), -EINVAL);
    /* every name maps back to its number */
    for (unsigned i = 0; i <= SHIM_CTR_CAP_LAST; i++)
        assert_int_equal(shim_ctr_cap_from_name(shim_ctr_cap_name(i)), (int)i);
}

static void test_caps_default(void **state)
{
    (void)state;
    char buf[512];
    uint64_t d = shim_ctr_caps_default();
    size_t n = shim_ctr_caps_format(d, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,CAP_FSETID,CAP_KILL,"
                             "CAP_SETGID,CAP_SETUID,CAP_SETPCAP,CAP_NET_BIND_SERVICE,"
                             "CAP_NET_RAW,CAP_SYS_CHROOT,CAP_MKNOD,CAP_AUDIT_WRITE,CAP_SETFCAP");
    /* the same mask /proc/<pid>/status shows for docker's and containerd's default */
    assert_int_equal(d, 0xa80425fbull);
    /* a short buffer is cut but still terminated, and the needed length is reported */
    char small[10];
    assert_int_equal(shim_ctr_caps_format(d, small, sizeof(small)), n);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(shim_ctr_caps_format(0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
    shim_ctr_caps_format(1ull << 50, buf, sizeof(buf));
    assert_string_equal(buf, "CAP_50");
}

static void test_cap_last_parse(void **state)
{
    (void)state;
    assert_int_equal(shim_ctr_cap_last_parse("40\n"), 40);
    assert_int_equal(shim_ctr_cap_last_parse("37"), 37);
    assert_int_equal(shim_ctr_cap_last_parse(""), -EINVAL);
    assert_int_equal(shim_ctr_cap_last_parse("x"), -EINVAL);
    assert_int_equal(shim_ctr_cap_last_parse("64\n"), -EINVAL);
    assert_int_equal(shim_ctr_cap_last_parse("4 0"), -EINVAL);
}

static void test_overlay_data(void **state)
{
    (void)state;
    char buf[SHIM_CTR_MOUNT_DATA_MAX];
    char *lower[] = {"/l/top", "/l/mid", "/l/base", NULL};
    int n = shim_ctr_overlay_data(lower, "/c/up", "/c/work", NULL, buf, sizeof(buf));
    assert_string_equal(buf, "lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/up,workdir=/c/work");
    assert_int_equal(n, strlen(buf));
    /* separators inside paths are escaped */
    char *odd[] = {"/l/a:b", "/l/c,d", "/l/e\\f", NULL};
    shim_ctr_overlay_data(odd, NULL, NULL, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "lowerdir=/l/a\\:b:/l/c\\,d:/l/e\\\\f");
    /* relative to a shared directory */
    char *deep[] = {"/var/lib/x/layers/1/fs", "/var/lib/x/layers/2/fs", NULL};
    n = shim_ctr_overlay_data(deep, "/var/lib/x/c/up", "/var/lib/x/c/work", "/var/lib/x", buf,
                              sizeof(buf));
    assert_string_equal(buf, "lowerdir=layers/1/fs:layers/2/fs,upperdir=c/up,workdir=c/work");
    /* a path outside the stripped prefix, empty lists, lone upper: invalid */
    assert_int_equal(
        shim_ctr_overlay_data(deep, "/other/up", "/var/lib/x/w", "/var/lib/x", buf, sizeof(buf)),
        -EINVAL);
    char *none[] = {NULL};
    assert_int_equal(shim_ctr_overlay_data(none, NULL, NULL, NULL, buf, sizeof(buf)), -EINVAL);
    assert_int_equal(shim_ctr_overlay_data(lower, "/u", NULL, NULL, buf, sizeof(buf)), -EINVAL);
    /* exactly full and one byte over */
    char tiny[16];
    char *one[] = {"/abcdef", NULL}; /* "lowerdir=/abcdef" is 16 bytes */
    assert_int_equal(shim_ctr_overlay_data(one, NULL, NULL, NULL, tiny, sizeof(tiny)),
                     -ENAMETOOLONG);
    char fits[17];
    assert_int_equal(shim_ctr_overlay_data(one, NULL, NULL, NULL, fits, sizeof(fits)), 16);
}

/* 128 layers with long absolute paths exceed a page; relative to their parent they fit. */
static void test_overlay_many_layers(void **state)
{
    (void)state;
    enum { N = 128 };
    char *lower[N + 1];
    static char names[N][128];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "/var/lib/mini-kubelet/images/layers/sha256-%060d/fs",
                 i);
        lower[i] = names[i];
    }
    lower[N] = NULL;
    const char *up = "/var/lib/mini-kubelet/pods/u/containers/c/upper";
    const char *wk = "/var/lib/mini-kubelet/pods/u/containers/c/work";
    char buf[SHIM_CTR_MOUNT_DATA_MAX], base[256];
    assert_int_equal(shim_ctr_overlay_data(lower, up, wk, NULL, buf, sizeof(buf)), -ENAMETOOLONG);
    int bl = shim_ctr_common_dir(lower, up, wk, base, sizeof(base));
    assert_string_equal(base, "/var/lib/mini-kubelet");
    assert_int_equal(bl, strlen(base));
    /* still too long for a page: 128 * ~80 bytes */
    assert_int_equal(shim_ctr_overlay_data(lower, up, wk, base, buf, sizeof(buf)), -ENAMETOOLONG);
    /* 40 layers do fit relative to the base */
    lower[40] = NULL;
    assert_int_equal(shim_ctr_overlay_data(lower, up, wk, NULL, buf, sizeof(buf)), -ENAMETOOLONG);
    assert_true(shim_ctr_overlay_data(lower, up, wk, base, buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "lowerdir=images/layers/sha256-"));
}

static void test_common_dir(void **state)
{
    (void)state;
    char out[256];
    char *a[] = {"/a/b/c", "/a/b/d", NULL};
    assert_int_equal(shim_ctr_common_dir(a, NULL, NULL, out, sizeof(out)), 4);
    assert_string_equal(out, "/a/b");
    /* a shared string prefix that is not a directory boundary */
    char *b[] = {"/a/bc/x", "/a/bd/y", NULL};
    shim_ctr_common_dir(b, NULL, NULL, out, sizeof(out));
    assert_string_equal(out, "/a");
    char *c[] = {"/x/1", NULL};
    assert_int_equal(shim_ctr_common_dir(c, "/y/up", "/y/w", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* one path is a prefix of another as a string only */
    char *d[] = {"/data/l", "/data/lx/z", NULL};
    shim_ctr_common_dir(d, NULL, NULL, out, sizeof(out));
    assert_string_equal(out, "/data");
    char *e[] = {"/data/one/fs", NULL};
    shim_ctr_common_dir(e, "/data/one/up", "/data/one/w", out, sizeof(out));
    assert_string_equal(out, "/data/one");
}

static void test_env_get(void **state)
{
    (void)state;
    char *env[] = {"PATHX=1", "PATH=/bin", "PATH=/second", "EMPTY=", NULL};
    assert_string_equal(shim_ctr_env_get(env, "PATH"), "/bin");
    assert_string_equal(shim_ctr_env_get(env, "EMPTY"), "");
    assert_null(shim_ctr_env_get(env, "PAT"));
    assert_null(shim_ctr_env_get(NULL, "PATH"));
}

static void test_split_nul(void **state)
{
    (void)state;
    char buf[] = "A=1\0B=2\0\0C=3";
    char *v[8];
    assert_int_equal(shim_ctr_split_nul(buf, sizeof(buf), v, 8), 3);
    assert_string_equal(v[0], "A=1");
    assert_string_equal(v[2], "C=3");
    assert_null(v[3]);
    char buf2[] = "A\0B\0C";
    assert_int_equal(shim_ctr_split_nul(buf2, sizeof(buf2), v, 3), -E2BIG);
    assert_int_equal(shim_ctr_split_nul(buf2, 0, v, 1), 0);
    assert_null(v[0]);
}

static void make_file(const char *dir, const char *name, mode_t mode)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static void test_path_lookup(void **state)
{
    (void)state;
    char tmp[] = "/tmp/test_shim_ctr_path.XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char d1[256], d2[256], sub[256];
    snprintf(d1, sizeof(d1), "%s/d1", tmp);
    snprintf(d2, sizeof(d2), "%s/d2", tmp);
    snprintf(sub, sizeof(sub), "%s/d2/sub", tmp);
    assert_int_equal(mkdir(d1, 0755), 0);
    assert_int_equal(mkdir(d2, 0755), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    make_file(d1, "plain", 0644); /* not executable */
    make_file(d2, "plain", 0755); /* the one to find */
    make_file(d2, "tool", 0755);
    char pathenv[600], out[512], err[256], want[512];
    snprintf(pathenv, sizeof(pathenv), "%s/missing:%s:%s", tmp, d1, d2);

    assert_int_equal(shim_ctr_path_lookup("plain", pathenv, out, sizeof(out), err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/plain", d2);
    assert_string_equal(out, want);
    /* a directory named like the command is skipped */
    assert_int_equal(shim_ctr_path_lookup("sub", pathenv, out, sizeof(out), err, sizeof(err)),
                     -EISDIR);
    assert_int_equal(shim_ctr_path_lookup("nope", pathenv, out, sizeof(out), err, sizeof(err)),
                     -ENOENT);
    assert_string_equal(err, "\"nope\": executable file not found in $PATH");
    /* only a non-executable match: permission denied, as Go's LookPath says */
    snprintf(pathenv, sizeof(pathenv), "%s", d1);
    assert_int_equal(shim_ctr_path_lookup("plain", pathenv, out, sizeof(out), err, sizeof(err)),
                     -EACCES);
    assert_non_null(strstr(err, "Permission denied"));
    /* a name with a slash is taken as is */
    snprintf(want, sizeof(want), "%s/tool", d2);
    assert_int_equal(shim_ctr_path_lookup(want, NULL, out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, want);
    snprintf(want, sizeof(want), "%s/none", d2);
    assert_int_equal(shim_ctr_path_lookup(want, NULL, out, sizeof(out), err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(shim_ctr_path_lookup("", NULL, out, sizeof(out), err, sizeof(err)), -EINVAL);
    /* the default PATH finds sh on this machine */
    assert_int_equal(shim_ctr_path_lookup("sh", NULL, out, sizeof(out), err, sizeof(err)), 0);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_empty_is_root),
        cmocka_unit_test(test_user_by_name),
        cmocka_unit_test(test_user_numeric),
        cmocka_unit_test(test_user_with_group),
        cmocka_unit_test(test_user_empty_fields),
        cmocka_unit_test(test_user_errors),
        cmocka_unit_test(test_user_missing_files),
        cmocka_unit_test(test_user_from_status),
        cmocka_unit_test(test_caps_names),
        cmocka_unit_test(test_caps_default),
        cmocka_unit_test(test_cap_last_parse),
        cmocka_unit_test(test_overlay_data),
        cmocka_unit_test(test_overlay_many_layers),
        cmocka_unit_test(test_common_dir),
        cmocka_unit_test(test_env_get),
        cmocka_unit_test(test_split_nul),
        cmocka_unit_test(test_path_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
