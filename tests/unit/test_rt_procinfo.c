/* Tests for /proc process info: namespace inodes and docker-top style rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "procinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_ns_inode(void **state)
{
    const char *types[] = {"net", "ipc", "uts", "mnt", "pid", "cgroup", "user"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/ns/%s", types[i]);
        struct stat st;
        if (stat(path, &st) < 0)
            continue; /* kernel without this namespace type */
        uint64_t ino = 0;
        mk_err err = {0};
        assert_int_equal(rt_proc_ns_inode(getpid(), types[i], &ino, &err), 0);
        assert_int_equal(ino, (uint64_t)st.st_ino);
    }
    uint64_t ino;
    mk_err err = {0};
    assert_int_equal(rt_proc_ns_inode(getpid(), "bogus", &ino, &err), -EINVAL);
    assert_int_equal(rt_proc_ns_inode(getpid(), "../../etc", &ino, &err), -EINVAL);
    assert_int_equal(rt_proc_ns_inode(getpid(), NULL, &ino, &err), -EINVAL);
    assert_int_equal(rt_proc_ns_inode(0x3fffffff, "net", &ino, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "namespace net of process"));
}

static bool valid_time(const char *t)
{
    const char *colon = strchr(t, ':');
    if (!colon || colon == t || strlen(colon) != 3)
        return false;
    for (const char *p = t; *p; p++) {
        if (p != colon && (*p < '0' || *p > '9'))
            return false;
    }
    return true;
}

static void test_self(void **state)
{
    rt_proc_info pi;
    mk_err err = {0};
    assert_int_equal(rt_proc_info_get(getpid(), &pi, &err), 0);
    assert_int_equal(pi.pid, getpid());
    assert_int_equal(pi.ppid, getppid());
    assert_int_equal(pi.uid, geteuid());
    struct passwd *pw = getpwuid(geteuid());
    if (pw)
        assert_string_equal(pi.user, pw->pw_name);
    assert_true(valid_time(pi.time));
    assert_non_null(strstr(pi.cmd, "test_rt_procinfo"));
    rt_proc_info_free(&pi);
    assert_null(pi.cmd);
}

/* poll with a deadline until the child's cmdline shows the exec'd program */
static void wait_cmdline(pid_t pid, const char *want)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    for (int64_t end = mk_monotonic_ns() + 10000000000LL; mk_monotonic_ns() < end;) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
        if (fd >= 0)
            close(fd);
        if (n > 0 && (size_t)n >= strlen(want) && memcmp(buf, want, strlen(want)) == 0)
            return;
        sched_yield();
    }
    fail_msg("child never ran %s", want);
}

static void test_child_cmdline(void **state)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[0], 0);
        execl("/bin/sh", "/bin/sh", "-c", "read x", "sh", "two words", (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    wait_cmdline(pid, "/bin/sh");
    rt_proc_info pi;
    mk_err err = {0};
    int r = rt_proc_info_get(pid, &pi, &err);
    close(p[1]);
    int st;
    waitpid(pid, &st, 0);
    assert_int_equal(r, 0);
    assert_string_equal(pi.cmd, "/bin/sh -c read x sh two words");
    assert_int_equal(pi.ppid, getpid());
    assert_string_equal(pi.time, "0:00");
    rt_proc_info_free(&pi);
}

static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *c = strrchr(buf, ')');
    return c && c[1] == ' ' ? c[2] : 0;
}

static void test_zombie_and_gone(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    for (int64_t end = mk_monotonic_ns() + 10000000000LL;
         proc_state(pid) != 'Z' && mk_monotonic_ns() < end;)
        sched_yield();
    rt_proc_info pi;
    mk_err err = {0};
    int r = rt_proc_info_get(pid, &pi, &err);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(r, 0);
    assert_string_equal(pi.cmd, "[test_rt_procinf]"); /* comm is cut to 15 bytes */
    rt_proc_info_free(&pi);
    assert_int_equal(rt_proc_info_get(pid, &pi, &err), -ESRCH);
    assert_non_null(strstr(err.msg, "is gone"));
}

static void test_user_name(void **state)
{
    char path[] = "/tmp/test_rt_procinfo.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "root:x:0:0:root:/root:/bin/bash\n"
                       "broken line\n"
                       "bad:x:12abc:0::/:/bin/sh\n"
                       "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char name[64];
    assert_int_equal(rt_proc_user_name(path, 33, name, sizeof(name)), 0);
    assert_string_equal(name, "www-data");
    assert_int_equal(rt_proc_user_name(path, 65534, name, sizeof(name)), 0);
    assert_string_equal(name, "nobody");
    assert_int_equal(rt_proc_user_name(path, 12, name, sizeof(name)), -ENOENT);
    assert_int_equal(rt_proc_user_name(path, 1000, name, sizeof(name)), -ENOENT);
    char small[4];
    assert_int_equal(rt_proc_user_name(path, 33, small, sizeof(small)), 0);
    assert_string_equal(small, "www");
    unlink(path);
    assert_int_equal(rt_proc_user_name(path, 0, name, sizeof(name)), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ns_inode),      cmocka_unit_test(test_self),
        cmocka_unit_test(test_child_cmdline), cmocka_unit_test(test_zombie_and_gone),
        cmocka_unit_test(test_user_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
