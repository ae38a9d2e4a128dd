/* fuzz_rt_image_ref.c - libFuzzer target: rt_image_ref_parse on arbitrary text (image names come
 * from manifests, archives' annotations and RepoTags, and API clients).
 *
 * Beyond not crashing, what it accepts must be normalized for good: parsing the normalized
 * name again gives the same parts. */
#include "image.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = xstrndup((const char *)data, size); /* a C string: cut at the first NUL */
    rt_image_ref ref, again;
    mk_err err = {0};
    if (rt_image_ref_parse(s, &ref, &err) < 0) {
        if (!err.msg[0])
            abort(); /* every refusal says why */
        free(s);
        return 0;
    }
    if (!ref.domain || !ref.path || !ref.full || (!ref.tag && !ref.digest))
        abort();
    if (rt_image_ref_parse(ref.full, &again, &err) < 0)
        abort(); /* a normalized name must parse */
    if (!same(ref.domain, again.domain) || !same(ref.path, again.path) ||
        !same(ref.tag, again.tag) || !same(ref.digest, again.digest) || !same(ref.full, again.full))
        abort();
    rt_image_ref_free(&again);
    rt_image_ref_free(&ref);
    free(s);
    return 0;
}
