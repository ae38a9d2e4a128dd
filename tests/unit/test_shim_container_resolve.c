/* Tests for resolving paths inside a container rootfs: symlinks (absolute and relative) and
 * ".." never leave the root, with openat2 and with the userspace walk alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ctr_resolve.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*open_fn)(int rootfd, const char *path, int flags, mode_t mode);

typedef struct fixture {
    char top[64];   /* temp dir holding root/ and outside/ */
    char root[128]; /* the container root */
    int rootfd;
} fixture;

static void mk(const fixture *f, const char *rel, bool dir)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", f->root, rel);
    if (dir) {
        assert_int_equal(mkdir(p, 0755), 0);
    } else {
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
}

static void ln(const fixture *f, const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", f->root, rel);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    snprintf(f->top, sizeof(f->top), "/tmp/test_shim_ctr_resolve.XXXXXX");
    assert_non_null(mkdtemp(f->top));
    snprintf(f->root, sizeof(f->root), "%s/root", f->top);
    assert_int_equal(mkdir(f->root, 0755), 0);
    char outside[256];
    snprintf(outside, sizeof(outside), "%s/outside", f->top);
    assert_int_equal(mkdir(outside, 0755), 0);
    mk(f, "etc", true);
    mk(f, "etc/passwd", false);
    mk(f, "sub", true);
    mk(f, "file", false);
    ln(f, "/etc", "abs");                 /* absolute: means root/etc */
    ln(f, "../../../../../../etc", "up"); /* climbs past the root: clamps at it */
    ln(f, "..", "sub/parent");            /* relative, inside */
    ln(f, "/nonexistent/x", "dangling");
    ln(f, "loop", "loop");
    ln(f, "../outside", "escape"); /* would be the sibling dir on the host */
    ln(f, "/etc/passwd", "pw");
    ln(f, "abs", "chain"); /* a link to a link */
    ln(f, "../run/systemd/resolve/stub-resolv.conf", "etc/dangling-rel");
    ln(f, "../../../../outside/file", "etc/out");
    f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->rootfd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    close(f->rootfd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->top);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* The fd refers to root/<rel>. */
static void same_as(const fixture *f, int fd, const char *rel)
{
    char p[512];
    struct stat a, b;
    snprintf(p, sizeof(p), "%s/%s", f->root, rel);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &a), 0);
    assert_int_equal(stat(p, &b), 0);
    assert_true(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

static void check_resolution(const fixture *f, open_fn op)
{
    int fd;
    fd = op(f->rootfd, "etc/passwd", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "/etc/passwd", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "abs/passwd", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "up/passwd", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "chain/passwd", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "pw", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "../../../etc/./passwd", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "sub/parent/etc//passwd", O_RDONLY, 0);
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = op(f->rootfd, "sub/..", O_PATH | O_DIRECTORY, 0);
    same_as(f, fd, ".");
    close(fd);
    fd = op(f->rootfd, "/", O_PATH | O_DIRECTORY, 0);
    same_as(f, fd, ".");
    close(fd);
    /* the sibling directory on the host is never reached */
    assert_int_equal(op(f->rootfd, "escape", O_PATH | O_DIRECTORY, 0), -ENOENT);
    assert_int_equal(op(f->rootfd, "dangling", O_RDONLY, 0), -ENOENT);
    assert_int_equal(op(f->rootfd, "loop", O_RDONLY, 0), -ELOOP);
    assert_int_equal(op(f->rootfd, "file/x", O_RDONLY, 0), -ENOTDIR);
    assert_int_equal(op(f->rootfd, "nothing", O_RDONLY, 0), -ENOENT);
    /* O_NOFOLLOW on a final symlink does not follow it */
    fd = op(f->rootfd, "pw", O_PATH | O_NOFOLLOW, 0);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    close(fd);
    /* O_CREAT through an escaping link lands inside the root */
    fd = op(f->rootfd, "escape-new", O_RDONLY | O_CREAT, 0600);
    same_as(f, fd, "escape-new");
    close(fd);
}

static void test_openat2(void **state)
{
    check_resolution(*state, shim_ctr_open_in_root);
}

static void test_walk(void **state)
{
    check_resolution(*state, shim_ctr_open_in_root_walk);
}

static void test_mkdir(void **state)
{
    fixture *f = *state;
    char p[512];
    struct stat st;
    int fd = shim_ctr_mkdir_in_root(f->rootfd, "/a/b/c", 0755, (uid_t)-1, (gid_t)-1);
    same_as(f, fd, "a/b/c");
    close(fd);
    /* through an escaping link: created under root/outside, not the host's sibling */
    fd = shim_ctr_mkdir_in_root(f->rootfd, "escape/x", 0755, (uid_t)-1, (gid_t)-1);
    assert_int_equal(fd, -ENOENT); /* escape -> root/outside, absent; mkdir at the link fails */
    fd = shim_ctr_mkdir_in_root(f->rootfd, "abs/new/deeper", 0700, (uid_t)-1, (gid_t)-1);
    same_as(f, fd, "etc/new/deeper");
    close(fd);
    snprintf(p, sizeof(p), "%s/outside/x", f->top);
    assert_int_equal(stat(p, &st), -1);
    /* existing directories are fine; a file in the way is not */
    fd = shim_ctr_mkdir_in_root(f->rootfd, "etc", 0755, (uid_t)-1, (gid_t)-1);
    same_as(f, fd, "etc");
    close(fd);
    assert_int_equal(shim_ctr_mkdir_in_root(f->rootfd, "file/x", 0755, (uid_t)-1, (gid_t)-1),
                     -ENOTDIR);
    /* only the directories it creates get the owner */
    if (geteuid() == 0) {
        fd = shim_ctr_mkdir_in_root(f->rootfd, "etc/owned/by", 0755, 1234, 5678);
        assert_true(fd >= 0);
        close(fd);
        snprintf(p, sizeof(p), "%s/etc/owned/by", f->root);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, 1234);
        assert_int_equal(st.st_gid, 5678);
        snprintf(p, sizeof(p), "%s/etc", f->root);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, 0);
    }
}

static void test_mkfile(void **state)
{
    fixture *f = *state;
    int fd = shim_ctr_mkfile_in_root(f->rootfd, "/etc/hosts");
    same_as(f, fd, "etc/hosts");
    close(fd);
    /* parents are created */
    fd = shim_ctr_mkfile_in_root(f->rootfd, "/dev/termination-log");
    same_as(f, fd, "dev/termination-log");
    close(fd);
    /* an existing file is reused, through links inside the root */
    fd = shim_ctr_mkfile_in_root(f->rootfd, "pw");
    same_as(f, fd, "etc/passwd");
    close(fd);
    fd = shim_ctr_mkfile_in_root(f->rootfd, "abs/resolv.conf");
    same_as(f, fd, "etc/resolv.conf");
    close(fd);
    /* a dangling link whose directory is missing: created inside the root, as runc does */
    fd = shim_ctr_mkfile_in_root(f->rootfd, "/stub");
    same_as(f, fd, "stub");
    close(fd);
    fd = shim_ctr_mkfile_in_root(f->rootfd, "/etc/dangling-rel");
    same_as(f, fd, "run/systemd/resolve/stub-resolv.conf");
    close(fd);
    fd = shim_ctr_mkfile_in_root(f->rootfd, "/dangling");
    same_as(f, fd, "nonexistent/x");
    close(fd);
    /* an escaping dangling link still lands inside */
    fd = shim_ctr_mkfile_in_root(f->rootfd, "/etc/out");
    same_as(f, fd, "outside/file");
    close(fd);
    char host[256];
    struct stat st;
    snprintf(host, sizeof(host), "%s/outside/file", f->top);
    assert_int_equal(stat(host, &st), -1);
    /* a directory is not a file */
    int r = shim_ctr_mkfile_in_root(f->rootfd, "/etc");
    assert_true(r == -EISDIR || r == -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_openat2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkfile, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
