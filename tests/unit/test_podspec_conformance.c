/* test_podspec_conformance.c - every manifest from the Kubernetes documentation examples is
 * either accepted or rejected with "file:line:col: field.path: reason", and never crashes the
 * parser. Files the API server refuses are refused for its reason. Prints a summary. */
#include "test_podspec_helpers.h"

#include <dirent.h>
#include <sys/stat.h>

#define CORPUS MK_CONFORMANCE_DIR "/k8s-website-examples"

typedef struct file_list {
    char **paths;
    size_t n;
} file_list;

static void collect(const char *dir, file_list *out)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "SOURCE.md"))
            continue;
        char *p = xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            collect(p, out);
            free(p);
            continue;
        }
        out->paths = xrealloc(out->paths, (out->n + 1) * sizeof(char *));
        out->paths[out->n++] = p;
    }
    closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "file:L:C: " then "invalid YAML: ..." or "field.path: reason". */
static bool well_formed(const char *file, const char *msg)
{
    size_t n = strlen(file);
    if (strncmp(msg, file, n) != 0 || msg[n] != ':')
        return false;
    const char *s = msg + n + 1;
    size_t d1 = strspn(s, "0123456789");
    if (!d1 || s[d1] != ':')
        return false;
    s += d1 + 1;
    size_t d2 = strspn(s, "0123456789");
    if (!d2 || strncmp(s + d2, ": ", 2) != 0)
        return false;
    s += d2 + 2;
    if (!strncmp(s, "invalid YAML: ", 14))
        return true;
    size_t path = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]/-");
    return path > 0 && strncmp(s + path, ": ", 2) == 0 && s[path + 2] != '\0';
}

typedef struct expectation {
    const char *suffix; /* path relative to the corpus */
    int code;           /* 0 accepted */
    const char *part;   /* must appear in the message */
} expectation;

static const expectation expected[] = {
    {"/pods/inject/envars-file-container.yaml", EINVAL,
     ":9:48: invalid YAML: found unknown escape character"},
    {"/pods/security/seccomp/fields.yaml", EINVAL,
     ": spec.ephemeralContainers: Forbidden: cannot be set on create"},
    {"/configmap/configmaps.yaml", ENOTSUP, ": kind: ConfigMap is not supported yet"},
    {"/pods/inject/secret.yaml", ENOTSUP, ": kind: Secret is not supported yet"},
    /* The API server accepts `<your-private-image>` (the kubelet reports InvalidImageName
     * later); this pod is refused for its imagePullSecrets. */
    {"/pods/private-reg-pod.yaml", ENOTSUP, ":9:3: spec.imagePullSecrets: not supported"},
    /* Requests within their limits: the API server accepts these; the tutorials fail later
     * (OOM kill, or no node large enough). Resources are not supported yet here. */
    {"/pods/resource/memory-request-limit-2.yaml", ENOTSUP,
     ": spec.containers[0].resources: not supported"},
    {"/pods/resource/memory-request-limit-3.yaml", ENOTSUP,
     ": spec.containers[0].resources: not supported"},
    {"/pods/resource/cpu-request-limit-2.yaml", ENOTSUP,
     ": spec.containers[0].resources: not supported"},
    {"/pods/simple-pod.yaml", 0, NULL},
    {"/pods/share-process-namespace.yaml", 0, NULL},
};

static void check_expectation(const char *path, int r, const char *msg)
{
    for (size_t i = 0; i < MK_ARRAY_LEN(expected); i++) {
        const expectation *e = &expected[i];
        size_t n = strlen(path), m = strlen(e->suffix);
        if (n < m || strcmp(path + n - m, e->suffix) != 0)
            continue;
        if (r != -e->code)
            fail_msg("%s: got %d (%s), want %d", path, r, msg, -e->code);
        if (e->part && !strstr(msg, e->part))
            fail_msg("%s: \"%s\" lacks \"%s\"", path, msg, e->part);
    }
}

static void test_corpus(void **state)
{
    file_list files = {0};
    collect(CORPUS, &files);
    qsort(files.paths, files.n, sizeof(char *), cmp_str);
    assert_true(files.n >= 149);
    size_t accepted = 0, pods = 0, unsupported = 0, invalid = 0;
    for (size_t i = 0; i < files.n; i++) {
        const char *path = files.paths[i];
        char *buf = NULL;
        size_t len = 0;
        mk_err err = {0};
        assert_int_equal(mk_read_file(path, 10 << 20, &buf, &len, &err), 0);
        podspec_result res;
        int r = podspec_parse(path, buf, len, &res, &err);
        free(buf);
        if (r == 0) {
            assert_true(res.n_pods >= 1);
            accepted++;
            pods += res.n_pods;
            for (size_t w = 0; w < res.n_warnings; w++)
                if (!well_formed(path, res.warnings[w].msg))
                    fail_msg("badly formed warning: %s", res.warnings[w].msg);
        } else {
            if (r != -EINVAL && r != -ENOTSUP)
                fail_msg("%s: unexpected code %d: %s", path, r, err.msg);
            if (!well_formed(path, err.msg))
                fail_msg("badly formed error: %s", err.msg);
            if (r == -ENOTSUP)
                unsupported++;
            else
                invalid++;
            print_message("%s %s\n", r == -ENOTSUP ? "not supported:" : "invalid:      ",
                          err.msg + strlen(CORPUS) + 1);
        }
        check_expectation(path, r, err.msg);
        podspec_result_free(&res);
    }
    print_message("conformance: %zu files: %zu accepted (%zu pods), %zu not supported, %zu "
                  "invalid\n",
                  files.n, accepted, pods, unsupported, invalid);
    assert_int_equal(accepted + unsupported + invalid, files.n);
    for (size_t i = 0; i < files.n; i++)
        free(files.paths[i]);
    free(files.paths);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
