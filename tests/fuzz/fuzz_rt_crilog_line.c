/* fuzz_rt_crilog_line.c - libFuzzer target: rt_crilog_parse_line on arbitrary bytes (a log
 * file's lines are written from what a container prints, and the file itself may be damaged).
 *
 * An accepted record's text must lie inside the input, after the prefix. */
#include "crilog.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy, exactly as long as the input, so reads past it are caught */
    char *line = xmalloc(size ? size : 1);
    memcpy(line, data, size);
    rt_crilog_line l;
    if (rt_crilog_parse_line(line, size, &l) == 0) {
        if (l.stream != RT_CRILOG_STDOUT && l.stream != RT_CRILOG_STDERR)
            abort();
        if (l.text < line || l.text > line + size || l.text_len > (size_t)(line + size - l.text))
            abort();
    }
    free(line);
    return 0;
}
