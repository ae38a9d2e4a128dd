/* test_rt_fuzz_found.c - inputs the runtime's fuzz targets (tests/fuzz/) found mishandled, each
 * kept as a test of the behaviour it now has: CRI log timestamps outside what 64-bit
 * nanoseconds can hold, empty partial log records, an image config whose diff ids outnumber
 * the manifest's layers, and descriptor sizes that are absent or beyond 64 bits. */
#include "test_rt_image_util.h"

#include "crilog.h"

static void write_text(const char *path, const char *s)
{
    write_file(path, s, strlen(s));
}

/* Nanoseconds since the epoch fit in an int64 from 1677-09-21 to 2262-04-11: times outside are
 * malformed records, not wrapped-around numbers. */
static void test_crilog_timestamp_range(void **state)
{
    rt_crilog_line l;
    const char *ok = "2262-04-11T23:47:15.999999999Z stdout F late";
    assert_int_equal(rt_crilog_parse_line(ok, strlen(ok), &l), 0);
    assert_true(l.ts_ns > 9223372035LL * 1000000000LL);
    const char *old = "1677-09-21T00:12:45Z stdout F early";
    assert_int_equal(rt_crilog_parse_line(old, strlen(old), &l), 0);
    assert_true(l.ts_ns < 0);
    static const char *const bad[] = {
        "9710-01-01T00:01:00z stdout F x",      "2262-04-11T23:47:17Z stdout F x",
        "9999-12-31T23:59:59+23:59 stderr F x", "0000-01-01T00:00:00Z stdout F x",
        "1600-01-01T00:00:00-01:00 stdout P x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rt_crilog_parse_line(bad[i], strlen(bad[i]), &l), -EINVAL);
}

/* An empty P record before any text of its stream: joined as nothing. */
static void test_crilog_empty_partial(void **state)
{
    tenv *t = *state;
    cleanup_free char *path = tpath(t, "0.log");
    write_text(path, "2024-01-02T03:04:05Z stdout P \n"
                     "2024-01-02T03:04:06Z stderr P \n"
                     "2024-01-02T03:04:07Z stdout F x\n"
                     "2024-01-02T03:04:08Z stderr F \n");
    rt_crilog_opts o = {.tail_lines = -1, .limit_bytes = -1};
    char *out = NULL;
    size_t len = 0;
    off_t end = 0;
    mk_err err = {0};
    assert_int_equal(rt_crilog_read(path, &o, &out, &len, &end, &err), 0);
    assert_string_equal(out, "x\n\n");
    assert_int_equal(len, 3);
    free(out);
}

/* A config listing more diff ids than the manifest has layers is refused with both counts (the
 * message was once built from the freed config). */
static void test_import_diff_ids_outnumber_layers(void **state)
{
    tenv *t = *state;
    static const tentry files[] = {TFILE("a", "1"), TEND};
    tlayer l;
    make_layer(files, COMP_NONE, &l);
    cleanup_free char *cfg = make_config(&l, 1, NULL);
    cleanup_free char *archive = tpath(t, "img.tar");
    make_oci_archive(archive, &l, 0, cfg, "demo:1", -1, COMP_NONE, NULL);
    mk_err err = {0};
    assert_int_equal(rt_image_import(t->store, archive, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "lists 1 diff ids for 0 layers"));
    cleanup_free char *tmp = tpath(t, "store/tmp");
    assert_int_equal(count_dir(tmp), 0);
    free_layers(&l, 1);
}

/* An OCI layout with one layer whose manifest's descriptors end with `cfg_size` and
 * `layer_size` (",\"size\":N" or ""). */
static void oci_with_sizes(const char *path, const tlayer *l, const char *cfg, const char *cfg_size,
                           const char *layer_size)
{
    char cdigest[72], mdigest[72], bp[128];
    tsha256(cfg, strlen(cfg), cdigest);
    char *man = NULL, *index = NULL;
    assert_true(asprintf(&man,
                         "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
                         "vnd.oci.image.config.v1+json\",\"digest\":\"%s\"%s},\"layers\":[{"
                         "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                         "\"digest\":\"%s\"%s}]}",
                         cdigest, cfg_size, l->digest, layer_size) > 0);
    tsha256(man, strlen(man), mdigest);
    assert_true(asprintf(&index,
                         "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                         "vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\"}]}",
                         mdigest) > 0);
    tbuf out = {0};
    struct archive *a = tar_begin(&out, COMP_NONE);
    tar_add_bytes(a, "index.json", index, strlen(index));
    snprintf(bp, sizeof(bp), "blobs/sha256/%s", mdigest + 7);
    tar_add_bytes(a, bp, man, strlen(man));
    snprintf(bp, sizeof(bp), "blobs/sha256/%s", cdigest + 7);
    tar_add_bytes(a, bp, cfg, strlen(cfg));
    snprintf(bp, sizeof(bp), "blobs/sha256/%s", l->digest + 7);
    tar_add_bytes(a, bp, l->data.p, l->data.len);
    tar_end(a);
    write_file(path, out.p, out.len);
    free(out.p);
    free(man);
    free(index);
}

/* Sizes are optional in a stored manifest: an image without them is listed with size 0 (the
 * absent size once went through a NaN-to-integer conversion). */
static void test_image_sizes_absent(void **state)
{
    tenv *t = *state;
    static const tentry files[] = {TFILE("a", "1"), TEND};
    tlayer l;
    make_layer(files, COMP_NONE, &l);
    cleanup_free char *cfg = make_config(&l, 1, NULL);
    cleanup_free char *archive = tpath(t, "img.tar");
    oci_with_sizes(archive, &l, cfg, "", "");
    mk_err err = {0};
    if (rt_image_import(t->store, archive, "demo:1", NULL, &err) < 0)
        fail_msg("import: %s", err.msg);
    rt_image *img = NULL;
    if (rt_image_lookup(t->store, "demo:1", &img, &err) < 0)
        fail_msg("lookup: %s", err.msg);
    assert_int_equal(img->size_bytes, 0);
    assert_int_equal(img->n_layers, 1);
    rt_image_free(img);
    free_layers(&l, 1);
}

/* A descriptor size beyond 64 bits (or not whole) is a mismatch, reported as written. */
static void test_image_size_out_of_range(void **state)
{
    tenv *t = *state;
    static const tentry files[] = {TFILE("a", "1"), TEND};
    tlayer l;
    make_layer(files, COMP_NONE, &l);
    cleanup_free char *cfg = make_config(&l, 1, NULL);
    cleanup_free char *archive = tpath(t, "img.tar");
    static const struct {
        const char *cfg_size, *layer_size, *said;
    } cases[] = {
        {",\"size\":1e300", "", "says 1e+300"},
        {"", ",\"size\":-1e300", "says -1e+300"},
        {"", ",\"size\":2048.5", "says 2048.5"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        oci_with_sizes(archive, &l, cfg, cases[i].cfg_size, cases[i].layer_size);
        mk_err err = {0};
        assert_int_equal(rt_image_import(t->store, archive, "demo:1", NULL, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].said))
            fail_msg("unexpected message: %s", err.msg);
    }
    free_layers(&l, 1);
}

int main(void)
{
    mk_log_set_level(MK_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crilog_timestamp_range),
        cmocka_unit_test_setup_teardown(test_crilog_empty_partial, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_import_diff_ids_outnumber_layers, tenv_setup,
                                        tenv_teardown),
        cmocka_unit_test_setup_teardown(test_image_sizes_absent, tenv_setup, tenv_teardown),
        cmocka_unit_test_setup_teardown(test_image_size_out_of_range, tenv_setup, tenv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
