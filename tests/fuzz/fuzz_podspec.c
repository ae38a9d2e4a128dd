/* fuzz_podspec.c - libFuzzer target: podspec_parse on arbitrary bytes, then the JSON encoder
 * and dup on whatever it accepts. */
#include "podspec.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    podspec_result res;
    mk_err err = {0};
    if (podspec_parse("fuzz.yaml", (const char *)data, size, &res, &err) < 0)
        return 0;
    for (size_t i = 0; i < res.n_pods; i++) {
        podspec_pod *copy = podspec_pod_dup(res.pods[i]);
        cJSON *j = podspec_pod_to_json(copy, NULL, NULL, 0);
        char *text = cJSON_PrintUnformatted(j);
        free(text);
        cJSON_Delete(j);
        podspec_pod_free(copy);
    }
    podspec_result_free(&res);
    return 0;
}
