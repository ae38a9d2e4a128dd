/* standalone_driver.c - runs a fuzz target without libFuzzer: every file under the directories
 * given (recursively), each also truncated at several points and with bytes flipped, so the
 * target is exercised by ctest in every build. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_INPUT (1 << 20)

static int read_all(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    uint8_t *buf = malloc(DRIVER_MAX_INPUT);
    size_t n = 0;
    while (buf && n < DRIVER_MAX_INPUT) {
        ssize_t r = read(fd, buf + n, DRIVER_MAX_INPUT - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf)
        return -ENOMEM;
    *out = buf;
    *len = n;
    return 0;
}

/* The input, then prefixes, then copies with single bytes replaced by YAML punctuation. */
static void run_mutations(const uint8_t *data, size_t len, unsigned *seed)
{
    static const uint8_t punct[] = ":-[]{},&*!|>'\"#%@` \t\n\\";
    LLVMFuzzerTestOneInput(data, len);
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    for (size_t cut = len / 7; len && cut < len; cut += len / 7 + 1)
        LLVMFuzzerTestOneInput(data, cut);
    for (int round = 0; len && round < 24; round++) {
        memcpy(copy, data, len);
        for (int k = 0; k < 3; k++)
            copy[(size_t)rand_r(seed) % len] = punct[(size_t)rand_r(seed) % (sizeof(punct) - 1)];
        LLVMFuzzerTestOneInput(copy, len);
    }
    free(copy);
}

static int walk(const char *path, unsigned *seed, size_t *count)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode)) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (read_all(path, &data, &len) < 0)
            return -1;
        run_mutations(data, len, seed);
        free(data);
        (*count)++;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *de;
    int r = 0;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char child[4096];
        snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
        r = walk(child, seed, count);
    }
    closedir(d);
    return r;
}

int main(int argc, char **argv)
{
    unsigned seed = 1;
    size_t count = 0;
    for (int i = 1; i < argc; i++)
        if (walk(argv[i], &seed, &count) < 0)
            return 1;
    printf("ran %zu inputs (with mutations)\n", count);
    return count ? 0 : 1;
}
