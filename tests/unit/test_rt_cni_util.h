/* Helpers for the CNI tests: temp dirs, files, fake plugins written as shell scripts. */
#ifndef TEST_RT_CNI_UTIL_H
#define TEST_RT_CNI_UTIL_H

#include "cni_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline char *cni_tmpdir(void)
{
    char *d = xstrdup("/tmp/mk-cni-test-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void cni_rmdir(char *d)
{
    mk_err err = {0};
    if (d)
        assert_int_equal(mk_rm_rf(d, &err), 0);
    free(d);
}

static inline void cni_write(const char *dir, const char *name, const char *text, int mode)
{
    char *p = xasprintf("%s/%s", dir, name);
    mk_err err = {0};
    assert_int_equal(mk_write_file_atomic(p, text, strlen(text), mode, &err), 0);
    free(p);
}

/* The file's text, or NULL when it does not exist. */
static inline char *cni_read(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    char *data = NULL;
    mk_err err = {0};
    if (mk_read_file(p, 1 << 20, &data, NULL, &err) < 0)
        data = NULL;
    free(p);
    return data;
}

static inline bool cni_exists(const char *dir, const char *name)
{
    char *p = xasprintf("%s/%s", dir, name);
    bool ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

#endif
