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
#include "sources_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>

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

/* Anyone can give a manifest a time beyond what int64 nanoseconds hold (after 2262; ext4 keeps
 * times up to 2446): the file is still read, and its time saturates instead of overflowing. */
static void test_far_file_times(void **state)
{
    fixture *f = *state;
    put_pod(f, "future.yaml", "future", "busybox");
    put_pod(f, "past.yaml", "past", "nginx");
    const struct {
        const char *name;
        time_t sec;
    } times[] = {{"future.yaml", (time_t)16725225600LL /* 2500-01-01 */},
                 {"past.yaml", (time_t)-30610224000LL /* 1000-01-01 */}};
    for (size_t i = 0; i < 2; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", f->dir, times[i].name);
        struct timespec ts[2] = {{times[i].sec, 5}, {times[i].sec, 5}};
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    }
    start(f, f->dir);
    assert_true(run_until(f, two_pods));
    assert_true(has(f, "default/future@busybox"));
    assert_true(has(f, "default/past@nginx"));
    assert_true(view_file(f, "future.yaml")->mtime_ns == INT64_MAX);
    assert_true(view_file(f, "past.yaml")->mtime_ns < 0); /* file systems clamp to 1901 or so */
    struct timespec near = {1700000000, 7}, far_past = {(time_t)-30610224000LL, 0};
    assert_true(agent_src_timespec_ns(&near) == 1700000000000000007LL);
    assert_true(agent_src_timespec_ns(&far_past) == INT64_MIN);
}

/* ---- running out of file descriptors ---- */

typedef struct fd_hog {
    struct rlimit saved;
    int *fds;
    int n;
} fd_hog;

/* Use up every descriptor but `spare` (the soft limit is lowered to keep this cheap). */
static void hog_fds(fd_hog *h, int spare)
{
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &h->saved), 0);
    int top = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));)
        if (de->d_name[0] != '.' && atoi(de->d_name) > top)
            top = atoi(de->d_name);
    closedir(d);
    struct rlimit low = {(rlim_t)top + 16, h->saved.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    h->fds = xcalloc((size_t)top + 16, sizeof(int));
    h->n = 0;
    int fd;
    while ((fd = fcntl(0, F_DUPFD_CLOEXEC, 0)) >= 0)
        h->fds[h->n++] = fd;
    for (int i = 0; i < spare; i++)
        close(h->fds[--h->n]);
}

static void unhog_fds(fd_hog *h)
{
    while (h->n > 0)
        close(h->fds[--h->n]);
    free(h->fds);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &h->saved), 0);
}

static bool dir_error_set(fixture *f)
{
    return agent_sources_manifests(f->src)->dir_error != NULL;
}

/* Run the loop until cond holds (checked after every loop turn), or 10 s pass. */
static bool turn_until(fixture *f, bool (*cond)(fixture *f))
{
    int64_t deadline = mk_monotonic_ns() + 10 * 1000000000LL;
    while (!cond(f) && mk_monotonic_ns() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    return cond(f);
}

static bool b_failed(fixture *f)
{
    const agent_manifest_file *b = view_file(f, "b.yaml");
    return b && b->state == AGENT_MANIFEST_ERROR;
}

/* Out of fds, the directory cannot be opened: that is no reason to stop every pod. And a file
 * whose read failed is read again once it can be, though it did not change. */
static void test_unreadable_dir_keeps_pods(void **state)
{
    fixture *f = *state;
    put_pod(f, "a.yaml", "a", "busybox");
    start(f, f->dir);
    assert_true(run_until(f, delivered));
    assert_true(has(f, "default/a@busybox"));
    int calls = f->calls;

    /* b.yaml appears (a rename needs no fd) while no fd is left for the scan */
    char *tmp = xasprintf("%s/.b.tmp", f->dir), *b = xasprintf("%s/b.yaml", f->dir);
    char *y = pod_yaml("b", "nginx");
    mk_err err = {0};
    assert_int_equal(mk_write_file_atomic(tmp, y, strlen(y), 0644, &err), 0);
    fd_hog hog;
    hog_fds(&hog, 0);
    int r = rename(tmp, b);
    bool seen = turn_until(f, dir_error_set);
    int calls_while_out = f->calls;
    size_t n_while_out = f->n;
    bool a_kept = has(f, "default/a@busybox");

    /* one fd: the directory opens, b.yaml does not */
    close(hog.fds[--hog.n]);
    agent_sources_rescan(f->src);
    bool b_err = turn_until(f, b_failed);
    unhog_fds(&hog);
    assert_int_equal(r, 0);
    assert_true(seen);
    assert_int_equal(calls_while_out, calls); /* nothing delivered while unreadable */
    assert_int_equal(n_while_out, 1);
    assert_true(a_kept);
    assert_true(b_err);
    assert_null(agent_sources_manifests(f->src)->dir_error);

    /* fds are back: b.yaml (unchanged since) is read again */
    agent_sources_rescan(f->src);
    assert_true(run_until(f, two_pods));
    assert_true(has(f, "default/a@busybox"));
    assert_true(has(f, "default/b@nginx"));
    assert_int_equal(view_file(f, "b.yaml")->state, AGENT_MANIFEST_OK);
    free(y);
    free(b);
    free(tmp);
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
        cmocka_unit_test_setup_teardown(test_far_file_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_dir_keeps_pods, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
