/* test_podspec_helpers.h - small helpers shared by the podspec unit tests. */
#ifndef TEST_PODSPEC_HELPERS_H
#define TEST_PODSPEC_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podspec.h"

/* A pod named p with the given lines under `spec:` (two-space indented by the caller). */
#define POD_HDR "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
/* ... and one container c (image nginx) followed by the given container lines. */
#define POD_CTR POD_HDR "  containers:\n  - name: c\n    image: nginx\n"

static inline int parse_text(const char *text, podspec_result *res, mk_err *err)
{
    return podspec_parse("t.yaml", text, strlen(text), res, err);
}

/* Parses text that must hold exactly one valid pod; the caller frees res. */
static inline podspec_pod *parse_one(const char *text, podspec_result *res)
{
    mk_err err = {0};
    int r = parse_text(text, res, &err);
    if (r < 0)
        fail_msg("unexpected error: %s", err.msg);
    assert_int_equal(res->n_pods, 1);
    return res->pods[0];
}

/* Text must fail with -code and exactly this message. */
static inline void expect_error(const char *text, int code, const char *msg)
{
    podspec_result res;
    mk_err err = {0};
    int r = parse_text(text, &res, &err);
    if (r >= 0) {
        podspec_result_free(&res);
        fail_msg("accepted, expected: %s", msg);
    }
    assert_string_equal(err.msg, msg);
    assert_int_equal(r, -code);
    assert_int_equal(res.n_pods, 0);
    assert_null(res.pods);
}

/* Text must fail with a message that contains `part`. */
static inline void expect_error_part(const char *text, int code, const char *part)
{
    podspec_result res;
    mk_err err = {0};
    int r = parse_text(text, &res, &err);
    if (r >= 0) {
        podspec_result_free(&res);
        fail_msg("accepted, expected an error containing: %s", part);
    }
    if (!strstr(err.msg, part))
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, part);
    assert_int_equal(r, -code);
}

#endif
