/* test_rt_image_unpack.c - layer unpacking: whiteouts the overlayfs way, entry types and
 * attributes, and layers that try to write outside their directory. */
#include "test_rt_image_util.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static rt_image *import_layers(tenv *t, const tentry *const *layers, size_t n, const char *name)
{
    tlayer l[4];
    for (size_t i = 0; i < n; i++)
        make_layer(layers[i], COMP_GZIP, &l[i]);
    char *cfg = make_config(l, n, "\"Cmd\":[\"sh\"]");
    char *a = tpath(t, "img.tar");
    make_oci_archive(a, l, n, cfg, name, -1, COMP_NONE, NULL);
    mk_err err = {0};
    if (rt_image_import(t->store, a, NULL, NULL, &err) != 0)
        fail_msg("import: %s", err.msg);
    rt_image *img = NULL;
    if (rt_image_lookup(t->store, name, &img, &err) != 0)
        fail_msg("lookup: %s", err.msg);
    free_layers(l, n);
    free(cfg);
    free(a);
    return img;
}

static char *at(const char *dir, const char *rel)
{
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
    return p;
}

static bool exists(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    struct stat st;
    bool r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static const tentry LOWER[] = {
    TFILE("etc/a", "a"), TFILE("etc/b", "b"), TFILE("d/x", "x"), TFILE("d/sub/y", "y"), TEND,
};
static const tentry UPPER[] = {
    TFILE("etc/.wh.a", ""),
    TFILE("d/.wh..wh..opq", ""),
    TFILE("d/new", "n"),
    TEND,
};

/* In a private mount namespace (gone when the child exits): the merged view hides what the
 * upper layer deleted. Returns the child's exit status (0 = as expected). */
static int check_overlay(const tenv *t, const rt_image *img)
{
    char *merged = at(t->dir, "merged"), *upper = at(t->dir, "upper"), *work = at(t->dir, "work");
    assert_int_equal(mkdir(merged, 0755), 0);
    assert_int_equal(mkdir(upper, 0755), 0);
    assert_int_equal(mkdir(work, 0755), 0);
    char *opts = NULL;
    assert_true(asprintf(&opts, "lowerdir=%s:%s,upperdir=%s,workdir=%s", img->layer_dirs[1],
                         img->layer_dirs[0], upper, work) > 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(10);
        if (mount("overlay", merged, "overlay", 0, opts) < 0)
            _exit(11);
        if (exists(merged, "etc/a") || !exists(merged, "etc/b"))
            _exit(12);
        if (exists(merged, "d/x") || exists(merged, "d/sub") || !exists(merged, "d/new"))
            _exit(13);
        _exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    free(merged);
    free(upper);
    free(work);
    free(opts);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

static void test_whiteouts(void **state)
{
    tenv *t = *state;
    if (geteuid() != 0)
        skip(); /* 0/0 devices and trusted.* xattrs need root */
    const tentry *layers[] = {LOWER, UPPER};
    rt_image *img = import_layers(t, layers, 2, "wh:1");
    const char *top = img->layer_dirs[1];
    char *p = at(top, "etc/a");
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    free(p);
    assert_false(exists(top, "etc/.wh.a"));
    assert_false(exists(top, "d/.wh..wh..opq"));
    assert_true(exists(top, "d/new"));
    p = at(top, "d");
    char val[8] = {0};
    assert_int_equal(getxattr(p, "trusted.overlay.opaque", val, sizeof(val)), 1);
    assert_string_equal(val, "y");
    free(p);
    /* the lower layer is untouched */
    assert_true(exists(img->layer_dirs[0], "etc/a"));
    assert_true(exists(img->layer_dirs[0], "d/x"));
    assert_int_equal(check_overlay(t, img), 0);
    rt_image_free(img);
}

static void test_types_and_attributes(void **state)
{
    tenv *t = *state;
    const tentry layer[] = {
        TFILE("srv/file", "data"),
        {.type = T_DIR, .path = "srv", .mode = 0555}, /* after its child: applied last */
        {.type = T_FIFO, .path = "run/fifo"},
        {.type = T_CHR, .path = "dev/null"},
        {.type = T_FILE,
         .path = "x/attr",
         .data = "1",
         .xattr_name = "user.mk",
         .xattr_value = "v"},
        {.type = T_FILE,
         .path = "x/sneaky",
         .data = "1",
         .xattr_name = "trusted.overlay.redirect",
         .xattr_value = "/etc"},
        {.type = T_FILE, .path = "x/suid", .data = "1", .mode = 04755},
        TSYM("x/out", "/etc/passwd"),
        THARD("x/hard-to-symlink", "x/out"),
        TDIR("./"),
        TEND,
    };
    const tentry *layers[] = {layer};
    rt_image *img = import_layers(t, layers, 1, "types:1");
    const char *d = img->layer_dirs[0];
    struct stat st;
    char *p = at(d, "srv");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0555);
    assert_int_equal(st.st_mtime, 1700000000);
    free(p);
    p = at(d, "run/fifo");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    free(p);
    p = at(d, "x/suid");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755);
    free(p);
    /* a hard link to a symlink is a link to the symlink, never to what it points at */
    p = at(d, "x/hard-to-symlink");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(p);
    if (geteuid() == 0) {
        p = at(d, "dev/null");
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(1, 3));
        free(p);
        char v[8] = {0};
        p = at(d, "x/attr");
        assert_int_equal(getxattr(p, "user.mk", v, sizeof(v)), 1);
        free(p);
        p = at(d, "x/sneaky");
        assert_int_equal(getxattr(p, "trusted.overlay.redirect", v, sizeof(v)), -1);
        free(p);
    }
    rt_image_free(img);
}

static void assert_rejected(tenv *t, const tentry *layer, const char *want)
{
    tlayer l;
    make_layer(layer, COMP_NONE, &l);
    char *cfg = make_config(&l, 1, NULL);
    char *a = tpath(t, "evil.tar");
    make_oci_archive(a, &l, 1, cfg, "evil:1", -1, COMP_NONE, NULL);
    mk_err err = {0};
    int r = rt_image_import(t->store, a, NULL, NULL, &err);
    if (r == 0)
        fail_msg("a layer with %s was accepted", layer[0].path);
    if (!strstr(err.msg, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    /* nothing outside, nothing half-done inside */
    assert_false(exists(t->dir, "evil"));
    assert_false(exists(t->dir, "pwned"));
    char *layers = at(t->store_dir, "layers"), *tmp = at(t->store_dir, "tmp");
    assert_int_equal(count_dir(layers), 0);
    assert_int_equal(count_dir(tmp), 0);
    free(layers);
    free(tmp);
    free_layers(&l, 1);
    free(cfg);
    free(a);
}

static void test_path_escapes(void **state)
{
    tenv *t = *state;
    const tentry dotdot[] = {TFILE("../../evil", "x"), TEND};
    assert_rejected(t, dotdot, "\"..\"");
    const tentry inner_dotdot[] = {TFILE("a/../../evil", "x"), TEND};
    assert_rejected(t, inner_dotdot, "\"..\"");
    const tentry abs[] = {TFILE("/evil", "x"), TEND};
    assert_rejected(t, abs, "absolute path");
    /* a symlink planted first, then used as a parent */
    char up[256];
    snprintf(up, sizeof(up), "%s", t->dir);
    const tentry via_link[] = {TSYM("link", up), TFILE("link/pwned", "x"), TEND};
    assert_rejected(t, via_link, "symlink or not a directory");
    const tentry via_rel[] = {TSYM("up", "../../.."), TFILE("up/pwned", "x"), TEND};
    assert_rejected(t, via_rel, "symlink or not a directory");
    const tentry hard[] = {THARD("h", "../../../etc/passwd"), TEND};
    assert_rejected(t, hard, "\"..\"");
    const tentry bad_wh[] = {TFILE(".wh...", ""), TEND};
    assert_rejected(t, bad_wh, "invalid whiteout");
}

int main(void)
{
    mk_log_set_level(MK_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_whiteouts, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_types_and_attributes, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_path_escapes, tenv_setup, tenv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
