/* The manifest directory source, driven with a temp dir and a real libuv loop: which files are
 * read, the order, duplicates, keep-last-good on parse errors, deletes, a missing directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sources.h"

typedef struct fixture {
    uv_loop_t loop;
    char dir[64];
    agent_sources *src;
    int calls;
    char names[16][128]; /* "ns/name@image" of the last desired set */
    size_t n;
    bool (*until)(struct fixture *f);
    const char *want; /* for the predicates */
    bool closed;
} fixture;

static void on_set(void *arg, podspec_pod *const *pods, size_t n)
{
    fixture *f = arg;
    f->calls++;
    f->n = n < 16 ? n : 16;
    for (size_t i = 0; i < f->n; i++)
        snprintf(f->names[i], sizeof(f->names[i]), "%s/%s@%s", pods[i]->namespace_, pods[i]->name,
                 pods[i]->containers[0].image);
    if (f->until && f->until(f))
        uv_stop(&f->loop);
}

static void on_deadline(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop until the predicate holds after a delivery, or 10 s pass. */
static bool run_until(fixture *f, bool (*pred)(fixture *f))
{
    f->until = pred;
    uv_timer_t deadline;
    uv_timer_init(&f->loop, &deadline);
    uv_timer_start(&deadline, on_deadline, 10000, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    f->until = NULL;
    return pred(f);
}

static void write_file(fixture *f, const char *name, const char *text)
{
    char tmp[256], path[256];
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", f->dir, name);
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(rename(tmp, path), 0);
}

static char *pod_yaml(const char *name, const char *image)
{
    char *s = NULL;
    assert_true(asprintf(&s,
                         "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  containers:\n"
                         "  - name: main\n    image: %s\n",
                         name, image) > 0);
    return s;
}

static void put_pod(fixture *f, const char *file, const char *name, const char *image)
{
    char *y = pod_yaml(name, image);
    write_file(f, file, y);
    free(y);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mk-src-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static void on_closed(void *arg)
{
    ((fixture *)arg)->closed = true;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->src) {
        agent_sources_close(f->src, on_closed, f);
        while (!f->closed)
            uv_run(&f->loop, UV_RUN_ONCE);
    }
    assert_int_equal(uv_loop_close(&f->loop), 0);
    mk_err err = {0};
    mk_rm_rf(f->dir, &err);
    free(f);
    return 0;
}

static void start(fixture *f, const char *dir)
{
    mk_err err = {0};
    assert_int_equal(agent_sources_start(&f->loop, dir, 20, on_set, f, &f->src, &err), 0);
}

static bool has(fixture *f, const char *s)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], s) == 0)
            return true;
    return false;
}

static const agent_manifest_file *view_file(fixture *f, const char *name)
{
    const struct agent_manifests *m = agent_sources_manifests(f->src);
    for (size_t i = 0; i < m->n_files; i++) {
        const char *slash = strrchr(m->files[i].file, '/');
        if (slash && strcmp(slash + 1, name) == 0)
            return &m->files[i];
    }
    return NULL;
}

static bool delivered(fixture *f)
{
    return f->calls > 0;
}

static void test_names(void **state)
{
    (void)state;
    const char *ok[] = {"a.yaml", "b.yml", "c.json", "x.y.yaml", "-.yaml"};
    const char *no[] = {".a.yaml",    "a.yaml~",     "a.yaml.swp", "a.yaml.bak",
                        "a.yaml.tmp", "notes.txt",   "yaml",       "a.YAML",
                        "",           "a.yaml.orig", ".swp"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_true(agent_manifest_name_ok(ok[i]));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (agent_manifest_name_ok(no[i]))
            fail_msg("%s should be ignored", no[i]);
    assert_string_equal(agent_manifest_state_name(AGENT_MANIFEST_DUPLICATE), "duplicate");
}

static void test_reads_only_manifests_sorted(void **state)
{
    fixture *f = *state;
    put_pod(f, "c.json", "pc", "busybox");
    put_pod(f, "a.yaml", "pa", "busybox");
    put_pod(f, "b.yml", "pb", "busybox");
    const char *ghosts[] = {".hidden.yaml", "x.yaml~",    "x.yaml.swp",
                            "x.yaml.bak",   "x.yaml.tmp", "notes.txt"};
    for (size_t i = 0; i < sizeof(ghosts) / sizeof(ghosts[0]); i++)
        put_pod(f, ghosts[i], "ghost", "busybox");
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/sub.yaml", f->dir);
    assert_int_equal(mkdir(sub, 0755), 0); /* a directory with a manifest name */
    start(f, f->dir);
    assert_true(run_until(f, delivered));
    assert_true(agent_sources_ready(f->src));
    assert_int_equal(f->n, 3);
    assert_string_equal(f->names[0], "default/pa@busybox");
    assert_string_equal(f->names[1], "default/pb@busybox");
    assert_string_equal(f->names[2], "default/pc@busybox");
    assert_int_equal(view_file(f, "a.yaml")->state, AGENT_MANIFEST_OK);
    assert_string_equal(view_file(f, "a.yaml")->pods[0], "default/pa");
    assert_int_equal(view_file(f, "notes.txt")->state, AGENT_MANIFEST_IGNORED);
    assert_int_equal(view_file(f, "x.yaml.bak")->state, AGENT_MANIFEST_IGNORED);
    assert_null(view_file(f, ".hidden.yaml"));
    assert_null(view_file(f, "sub.yaml"));
}

static void test_duplicate_first_file_wins(void **state)
{
    fixture *f = *state;
    put_pod(f, "b-dup.yaml", "dup", "second");
    put_pod(f, "a-dup.yaml", "dup", "first");
    start(f, f->dir);
    assert_true(run_until(f, delivered));
    assert_int_equal(f->n, 1);
    assert_string_equal(f->names[0], "default/dup@first");
    const agent_manifest_file *b = view_file(f, "b-dup.yaml");
    assert_int_equal(b->state, AGENT_MANIFEST_DUPLICATE);
    assert_non_null(strstr(b->error, "a-dup.yaml"));
    assert_non_null(strstr(b->error, "b-dup.yaml"));
    assert_non_null(strstr(b->error, "default/dup"));
    assert_int_equal(b->n_pods, 0);
    assert_int_equal(view_file(f, "a-dup.yaml")->state, AGENT_MANIFEST_OK);
}

static bool k_error(fixture *f)
{
    const agent_manifest_file *k = view_file(f, "k.yaml");
    return k && k->state == AGENT_MANIFEST_ERROR;
}

static bool k_v2(fixture *f)
{
    return has(f, "default/k@v2");
}

static bool k_gone(fixture *f)
{
    return f->n == 0 && !view_file(f, "k.yaml");
}

static void test_keep_last_good_then_fix_then_delete(void **state)
{
    fixture *f = *state;
    put_pod(f, "k.yaml", "k", "v1");
    start(f, f->dir);
    assert_true(run_until(f, delivered));
    assert_true(has(f, "default/k@v1"));
    write_file(f, "k.yaml",
               "apiVersion: v1\nkind: Pod\nmetadata:\n  name: k\nspec:\n  containers:\n"
               "  - name: main\n    imagee: v9\n");
    assert_true(run_until(f, k_error)); /* the watch saw it */
    assert_int_equal(f->n, 1);
    assert_true(has(f, "default/k@v1")); /* still the last good version */
    const agent_manifest_file *k = view_file(f, "k.yaml");
    assert_non_null(strstr(k->error, "k.yaml:8:5"));
    assert_non_null(strstr(k->error, "imagee"));
    assert_string_equal(k->pods[0], "default/k");
    put_pod(f, "k.yaml", "k", "v2");
    assert_true(run_until(f, k_v2));
    assert_int_equal(view_file(f, "k.yaml")->state, AGENT_MANIFEST_OK);
    assert_null(view_file(f, "k.yaml")->error);
    char path[128];
    snprintf(path, sizeof(path), "%s/k.yaml", f->dir);
    assert_int_equal(unlink(path), 0);
    assert_true(run_until(f, k_gone));
}

static bool never_good_error(fixture *f)
{
    const agent_manifest_file *b = view_file(f, "bad.yaml");
    return b && b->state == AGENT_MANIFEST_ERROR;
}

static void test_broken_from_the_start(void **state)
{
    fixture *f = *state;
    write_file(f, "bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [\n");
    put_pod(f, "good.yaml", "g", "busybox");
    start(f, f->dir);
    assert_true(run_until(f, never_good_error));
    assert_int_equal(f->n, 1);
    assert_true(has(f, "default/g@busybox"));
    assert_int_equal(view_file(f, "bad.yaml")->n_pods, 0);
    assert_non_null(strstr(view_file(f, "bad.yaml")->error, "bad.yaml:"));
}

static bool got_late(fixture *f)
{
    return has(f, "default/late@busybox");
}

static void test_missing_dir_then_created(void **state)
{
    fixture *f = *state;
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/later", f->dir);
    start(f, dir);
    assert_true(run_until(f, delivered));
    assert_int_equal(f->n, 0);
    assert_true(agent_sources_manifests(f->src)->dir_missing);
    assert_int_equal(mkdir(dir, 0755), 0);
    char file[160];
    snprintf(file, sizeof(file), "%s/late.yaml", dir);
    char *y = pod_yaml("late", "busybox");
    FILE *fp = fopen(file, "w");
    fputs(y, fp);
    fclose(fp);
    free(y);
    assert_true(run_until(f, got_late));
    assert_false(agent_sources_manifests(f->src)->dir_missing);
}

static bool two_pods(fixture *f)
{
    return f->n == 2;
}

static void test_multi_document_file(void **state)
{
    fixture *f = *state;
    char *a = pod_yaml("one", "busybox"), *b = pod_yaml("two", "nginx");
    char *both = NULL;
    assert_true(asprintf(&both, "%s---\n%s", a, b) > 0);
    write_file(f, "multi.yaml", both);
    free(a);
    free(b);
    free(both);
    start(f, f->dir);
    assert_true(run_until(f, two_pods));
    assert_string_equal(f->names[0], "default/one@busybox");
    assert_string_equal(f->names[1], "default/two@nginx");
    assert_int_equal(view_file(f, "multi.yaml")->n_pods, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_reads_only_manifests_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_first_file_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_last_good_then_fix_then_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_from_the_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_dir_then_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_document_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
