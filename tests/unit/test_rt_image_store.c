/* test_rt_image_store.c - importing OCI and docker archives, lookup, list, idempotence,
 * corrupted archives and the import directory. Archives are built by the test itself. */
#include "test_rt_image_util.h"

static const tentry BASE[] = {
    TDIR("bin"),
    TDIR("etc"),
    TFILE("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
    TFILEM("bin/tool", "#!/bin/sh\necho hi\n", 0755),
    TSYM("bin/alias", "tool"),
    THARD("bin/tool2", "bin/tool"),
    TFILE("etc/motd", "hello\n"),
    TEND,
};
static const tentry TOP[] = {
    TFILE("etc/motd", "changed\n"),
    {.type = T_FILE,
     .path = "app/run.sh",
     .data = "exec /bin/tool\n",
     .mode = 0700,
     .uid = 1000,
     .gid = 1000},
    TEND,
};
#define CONFIG                                                                                     \
    "\"Entrypoint\":[\"/bin/tool\"],\"Cmd\":[\"--flag\"],\"Env\":[\"PATH=/bin\",\"A=1\"],"         \
    "\"WorkingDir\":\"/app\",\"User\":\"1000:1000\""

typedef struct fixture {
    tlayer l[2];
    char *cfg;
    char cdigest[72];
} fixture;

static void fixture_make(fixture *f, int comp0, int comp1)
{
    make_layer(BASE, comp0, &f->l[0]);
    make_layer(TOP, comp1, &f->l[1]);
    f->cfg = make_config(f->l, 2, CONFIG);
    tsha256(f->cfg, strlen(f->cfg), f->cdigest);
}

static void fixture_free(fixture *f)
{
    free_layers(f->l, 2);
    free(f->cfg);
}

static void import_ok(tenv *t, const char *archive, const char *def, const char *want_name)
{
    mk_err err = {0};
    char **names = NULL;
    if (rt_image_import(t->store, archive, def, &names, &err) != 0)
        fail_msg("import %s: %s", archive, err.msg);
    assert_non_null(names);
    assert_string_equal(names[0], want_name);
    assert_null(names[1]);
    rt_strv_free(names);
}

static rt_image *lookup_ok(tenv *t, const char *ref)
{
    mk_err err = {0};
    rt_image *img = NULL;
    if (rt_image_lookup(t->store, ref, &img, &err) != 0)
        fail_msg("lookup %s: %s", ref, err.msg);
    return img;
}

static char *read_small(const char *dir, const char *rel)
{
    char *p = NULL, *buf = NULL;
    assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
    mk_err err = {0};
    if (mk_read_file(p, 1 << 20, &buf, NULL, &err) < 0)
        fail_msg("%s", err.msg);
    free(p);
    return buf;
}

static void check_demo(const rt_image *img, const fixture *f, bool same_blobs)
{
    assert_int_equal(img->n_layers, 2);
    if (same_blobs) /* skopeo rewrites the config */
        assert_string_equal(img->id, f->cdigest);
    assert_string_equal(img->entrypoint[0], "/bin/tool");
    assert_null(img->entrypoint[1]);
    assert_string_equal(img->cmd[0], "--flag");
    assert_string_equal(img->env[1], "A=1");
    assert_string_equal(img->working_dir, "/app");
    assert_string_equal(img->user, "1000:1000");
    if (same_blobs)
        assert_int_equal(img->size_bytes, strlen(f->cfg) + f->l[0].data.len + f->l[1].data.len);
    else
        assert_true(img->size_bytes > (int64_t)strlen(f->cfg));
    char *s = read_small(img->layer_dirs[0], "bin/tool");
    assert_string_equal(s, "#!/bin/sh\necho hi\n");
    free(s);
    s = read_small(img->layer_dirs[1], "etc/motd");
    assert_string_equal(s, "changed\n");
    free(s);
    char *p = NULL;
    struct stat st, st2;
    assert_true(asprintf(&p, "%s/bin/tool", img->layer_dirs[0]) > 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    free(p);
    assert_true(asprintf(&p, "%s/bin/tool2", img->layer_dirs[0]) > 0);
    assert_int_equal(stat(p, &st2), 0);
    assert_int_equal(st.st_ino, st2.st_ino); /* hard link kept */
    free(p);
    char target[64] = {0};
    assert_true(asprintf(&p, "%s/bin/alias", img->layer_dirs[0]) > 0);
    assert_int_equal(readlink(p, target, sizeof(target) - 1), 4);
    assert_string_equal(target, "tool");
    free(p);
    assert_true(asprintf(&p, "%s/app/run.sh", img->layer_dirs[1]) > 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    if (geteuid() == 0)
        assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_mtime, 1700000000);
    free(p);
}

static void test_oci_import_and_lookup(void **state)
{
    tenv *t = *state;
    fixture f;
    fixture_make(&f, COMP_GZIP, COMP_ZSTD);
    char *a = tpath(t, "demo-oci.tar"), mdigest[72];
    make_oci_archive(a, f.l, 2, f.cfg, "docker.io/library/demo:1.0", -1, COMP_NONE, mdigest);
    import_ok(t, a, NULL, "docker.io/library/demo:1.0");

    rt_image *img = lookup_ok(t, "demo:1.0");
    check_demo(img, &f, true);
    assert_string_equal(img->name, "docker.io/library/demo:1.0");
    char *want = NULL;
    assert_true(asprintf(&want, "docker.io/library/demo@%s", mdigest) > 0);
    assert_string_equal(img->repo_digest, want);
    free(want);
    rt_image_free(img);

    /* every reference form */
    char *forms[5];
    assert_true(asprintf(&forms[0], "docker.io/library/demo:1.0") > 0);
    assert_true(asprintf(&forms[1], "demo@%s", mdigest) > 0);
    assert_true(asprintf(&forms[2], "demo:1.0@%s", mdigest) > 0);
    assert_true(asprintf(&forms[3], "%s", f.cdigest) > 0);
    assert_true(asprintf(&forms[4], "%s", f.cdigest + 7) > 0);
    for (size_t i = 0; i < MK_ARRAY_LEN(forms); i++) {
        img = lookup_ok(t, forms[i]);
        assert_string_equal(img->id, f.cdigest);
        rt_image_free(img);
        free(forms[i]);
    }

    mk_err err = {0};
    img = NULL;
    assert_int_equal(rt_image_lookup(t->store, "demo:2.0", &img, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "docker.io/library/demo:2.0 not found"));
    assert_null(img);
    assert_int_equal(rt_image_lookup(t->store, "Demo", &img, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid reference format"));
    char *other = NULL;
    assert_true(asprintf(&other, "other@%s", mdigest) > 0);
    assert_int_equal(rt_image_lookup(t->store, other, &img, &err), -ENOENT);
    free(other);

    rt_image **list = NULL;
    size_t n = 0;
    assert_int_equal(rt_image_list(t->store, &list, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->name, "docker.io/library/demo:1.0");
    rt_image_list_free(list, n);
    free(a);
    fixture_free(&f);
}

static void test_docker_import_shares_layers(void **state)
{
    tenv *t = *state;
    fixture f;
    fixture_make(&f, COMP_NONE, COMP_NONE);
    char *d = tpath(t, "demo-docker.tar"), *o = tpath(t, "demo-oci.tar.gz");
    make_docker_archive(d, f.l, 2, f.cfg, "demo:docker", -1);
    make_oci_archive(o, f.l, 2, f.cfg, "docker.io/library/demo:oci", -1, COMP_GZIP, NULL);
    import_ok(t, d, NULL, "docker.io/library/demo:docker");
    import_ok(t, o, NULL, "docker.io/library/demo:oci");
    rt_image *a = lookup_ok(t, "demo:docker"), *b = lookup_ok(t, "demo:oci");
    check_demo(a, &f, true);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->layer_dirs[0], b->layer_dirs[0]);
    assert_string_equal(a->layer_dirs[1], b->layer_dirs[1]);
    assert_non_null(strstr(a->repo_digest, "docker.io/library/demo@sha256:"));
    /* the manifest made for a docker-archive is stable */
    char *digest = strdup(a->repo_digest);
    rt_image_free(a);
    import_ok(t, d, NULL, "docker.io/library/demo:docker");
    a = lookup_ok(t, "demo:docker");
    assert_string_equal(a->repo_digest, digest);
    free(digest);

    rt_image **list = NULL;
    size_t n = 0;
    mk_err err = {0};
    assert_int_equal(rt_image_list(t->store, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->name, "docker.io/library/demo:docker");
    assert_string_equal(list[1]->name, "docker.io/library/demo:oci");
    rt_image_list_free(list, n);
    rt_image_free(a);
    rt_image_free(b);
    free(d);
    free(o);
    fixture_free(&f);
}

static void test_reimport_is_idempotent(void **state)
{
    tenv *t = *state;
    fixture f;
    fixture_make(&f, COMP_GZIP, COMP_GZIP);
    char *a = tpath(t, "demo.tar");
    make_oci_archive(a, f.l, 2, f.cfg, "demo:1", -1, COMP_NONE, NULL);
    import_ok(t, a, NULL, "docker.io/library/demo:1");
    rt_image *img = lookup_ok(t, "demo:1");
    struct stat l0, l1, refs0, refs1;
    assert_int_equal(stat(img->layer_dirs[0], &l0), 0);
    char *refs = NULL;
    assert_true(asprintf(&refs, "%s/refs.json", t->store_dir) > 0);
    assert_int_equal(stat(refs, &refs0), 0);
    char *before = read_small(t->store_dir, "refs.json");
    char *blobs = NULL;
    assert_true(asprintf(&blobs, "%s/blobs/sha256", t->store_dir) > 0);
    int nblobs = count_dir(blobs);
    assert_int_equal(nblobs, 4); /* manifest, config, 2 layers */

    import_ok(t, a, NULL, "docker.io/library/demo:1");
    assert_int_equal(stat(img->layer_dirs[0], &l1), 0);
    assert_int_equal(l0.st_ino, l1.st_ino); /* not unpacked again */
    assert_int_equal(stat(refs, &refs1), 0);
    char *after = read_small(t->store_dir, "refs.json");
    assert_string_equal(before, after);
    assert_int_equal(count_dir(blobs), nblobs);
    char *tmp = NULL, *layers = NULL;
    assert_true(asprintf(&tmp, "%s/tmp", t->store_dir) > 0);
    assert_true(asprintf(&layers, "%s/layers", t->store_dir) > 0);
    assert_int_equal(count_dir(tmp), 0);
    assert_int_equal(count_dir(layers), 2);
    rt_image_free(img);
    free(refs);
    free(before);
    free(after);
    free(blobs);
    free(tmp);
    free(layers);
    free(a);
    fixture_free(&f);
}

static void assert_store_empty(const tenv *t)
{
    const char *subs[] = {"blobs/sha256", "layers", "tmp"};
    for (size_t i = 0; i < MK_ARRAY_LEN(subs); i++) {
        char *p = NULL;
        assert_true(asprintf(&p, "%s/%s", t->store_dir, subs[i]) > 0);
        if (count_dir(p) != 0)
            fail_msg("%s is not empty after a failed import", p);
        free(p);
    }
    char *refs = NULL;
    assert_true(asprintf(&refs, "%s/refs.json", t->store_dir) > 0);
    assert_int_equal(access(refs, F_OK), -1);
    free(refs);
}

static void import_fails(tenv *t, const char *archive, const char *def, int code, const char *want)
{
    mk_err err = {0};
    char **names = (char **)1;
    int r = rt_image_import(t->store, archive, def, &names, &err);
    if (r == 0)
        fail_msg("import of %s succeeded", archive);
    assert_int_equal(r, -code);
    assert_null(names);
    if (!strstr(err.msg, want))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

static void test_corrupt_oci_layer(void **state)
{
    tenv *t = *state;
    fixture f;
    fixture_make(&f, COMP_GZIP, COMP_GZIP);
    char *a = tpath(t, "bad.tar");
    make_oci_archive(a, f.l, 2, f.cfg, "demo:1", 1, COMP_NONE, NULL);
    import_fails(t, a, NULL, EINVAL, "digest mismatch");
    assert_store_empty(t);
    free(a);
    fixture_free(&f);
}

static void test_corrupt_docker_layer(void **state)
{
    tenv *t = *state;
    fixture f;
    fixture_make(&f, COMP_NONE, COMP_NONE);
    char *a = tpath(t, "bad.tar");
    make_docker_archive(a, f.l, 2, f.cfg, "demo:1", 1);
    import_fails(t, a, NULL, EINVAL, "wrong diff id");
    assert_store_empty(t);
    free(a);
    fixture_free(&f);
}

static void test_not_an_image(void **state)
{
    tenv *t = *state;
    char *a = tpath(t, "junk.tar");
    write_file(a, "this is not a tar archive at all, not even close......", 54);
    import_fails(t, a, NULL, EINVAL, "junk.tar");
    assert_store_empty(t);
    tbuf out = {0};
    struct archive *w = tar_begin(&out, COMP_NONE);
    tar_add_bytes(w, "hello.txt", "hi", 2);
    tar_end(w);
    write_file(a, out.p, out.len);
    free(out.p);
    import_fails(t, a, NULL, EINVAL, "neither an OCI image layout");
    assert_store_empty(t);
    char *missing = tpath(t, "missing.tar");
    import_fails(t, missing, NULL, ENOENT, "missing.tar");
    free(missing);
    free(a);
}

static void test_names(void **state)
{
    tenv *t = *state;
    fixture f;
    fixture_make(&f, COMP_GZIP, COMP_GZIP);
    char *a = tpath(t, "noname.tar");
    make_oci_archive(a, f.l, 2, f.cfg, NULL, -1, COMP_NONE, NULL);
    import_fails(t, a, NULL, EINVAL, "has no name");
    assert_store_empty(t);
    import_ok(t, a, "myimg", "docker.io/library/myimg:latest");
    make_oci_archive(a, f.l, 2, f.cfg, "v2", -1, COMP_NONE, NULL);
    import_ok(t, a, "quay.io/me/myimg", "quay.io/me/myimg:v2");
    import_ok(t, a, NULL, "docker.io/library/v2:latest");
    make_oci_archive(a, f.l, 2, f.cfg, "Bad Name", -1, COMP_NONE, NULL);
    import_fails(t, a, NULL, EINVAL, "invalid reference format");
    make_docker_archive(a, f.l, 2, f.cfg, NULL, -1);
    import_ok(t, a, "x/y:z", "docker.io/x/y:z");
    free(a);
    fixture_free(&f);
}

static void test_import_dir(void **state)
{
    tenv *t = *state;
    fixture f;
    fixture_make(&f, COMP_GZIP, COMP_NONE);
    char *dir = tpath(t, "import");
    assert_int_equal(mkdir(dir, 0755), 0);
    char *a = NULL, *b = NULL, *junk = NULL, *hidden = NULL, *part = NULL;
    assert_true(asprintf(&a, "%s/a.tar", dir) > 0);
    assert_true(asprintf(&b, "%s/b.tar", dir) > 0);
    assert_true(asprintf(&junk, "%s/junk.tar", dir) > 0);
    assert_true(asprintf(&hidden, "%s/.hidden.tar", dir) > 0);
    assert_true(asprintf(&part, "%s/c.tar.part", dir) > 0);
    make_oci_archive(a, f.l, 2, f.cfg, "demo:a", -1, COMP_NONE, NULL);
    make_docker_archive(b, f.l, 2, f.cfg, "demo:b", -1);
    make_docker_archive(hidden, f.l, 2, f.cfg, "demo:hidden", -1);
    make_docker_archive(part, f.l, 2, f.cfg, "demo:part", -1);
    write_file(junk, "junk", 4);
    mk_err err = {0};
    assert_int_equal(rt_image_import_dir(t->store, dir, &err), 2);
    rt_image *img = lookup_ok(t, "demo:a");
    rt_image_free(img);
    img = lookup_ok(t, "demo:b");
    rt_image_free(img);
    assert_int_equal(rt_image_lookup(t->store, "demo:hidden", &img, &err), -ENOENT);
    assert_int_equal(rt_image_lookup(t->store, "demo:part", &img, &err), -ENOENT);
    /* once each */
    assert_int_equal(rt_image_import_dir(t->store, dir, &err), 0);
    /* a changed file is imported again */
    make_oci_archive(a, f.l, 2, f.cfg, "demo:a2", -1, COMP_GZIP, NULL);
    assert_int_equal(rt_image_import_dir(t->store, dir, &err), 1);
    img = lookup_ok(t, "demo:a2");
    rt_image_free(img);
    assert_int_equal(rt_image_import_dir(t->store, dir, &err), 0);
    /* the record survives a new store handle (an agent restart) */
    rt_image_store_close(t->store);
    assert_int_equal(rt_image_store_open(t->store_dir, &t->store, &err), 0);
    assert_int_equal(rt_image_import_dir(t->store, dir, &err), 0);
    /* no directory: nothing to do */
    char *none = tpath(t, "none");
    assert_int_equal(rt_image_import_dir(t->store, none, &err), 0);
    free(none);
    free(a);
    free(b);
    free(junk);
    free(hidden);
    free(part);
    free(dir);
    fixture_free(&f);
}

static int run_cmd(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Archives written by a real tool (skopeo) import too, and skopeo reads ours. */
static void test_skopeo_round_trip(void **state)
{
    tenv *t = *state;
    if (access("/usr/bin/skopeo", X_OK) != 0)
        skip();
    fixture f;
    fixture_make(&f, COMP_GZIP, COMP_GZIP);
    char *oci = tpath(t, "ours.tar"), *dock = tpath(t, "sk-docker.tar"),
         *oci2 = tpath(t, "sk-oci.tar");
    make_oci_archive(oci, f.l, 2, f.cfg, "docker.io/library/sk:0", -1, COMP_NONE, NULL);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "skopeo --insecure-policy copy -q oci-archive:%s docker-archive:%s:docker.io/"
             "library/sk:1 >/dev/null 2>&1",
             oci, dock);
    assert_int_equal(run_cmd(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "skopeo --insecure-policy copy -q docker-archive:%s oci-archive:%s:docker.io/"
             "library/sk:2 >/dev/null 2>&1",
             dock, oci2);
    assert_int_equal(run_cmd(cmd), 0);
    import_ok(t, dock, NULL, "docker.io/library/sk:1");
    import_ok(t, oci2, NULL, "docker.io/library/sk:2");
    rt_image *a = lookup_ok(t, "sk:1"), *b = lookup_ok(t, "sk:2");
    check_demo(a, &f, false);
    check_demo(b, &f, false);
    rt_image_free(a);
    rt_image_free(b);
    free(oci);
    free(dock);
    free(oci2);
    fixture_free(&f);
}

int main(void)
{
    mk_log_set_level(MK_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oci_import_and_lookup, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_docker_import_shares_layers, tenv_setup,
                                        tenv_teardown),
        cmocka_unit_test_setup_teardown(test_reimport_is_idempotent, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_oci_layer, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_docker_layer, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_not_an_image, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_names, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_import_dir, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_skopeo_round_trip, tenv_setup, tenv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
