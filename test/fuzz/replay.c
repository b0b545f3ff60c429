/* main() of a harness in the normal build: feeds LLVMFuzzerTestOneInput every file of the
 * directories (or files) named on the command line, so the corpus and every crash ever found
 * (test/fuzz/regress/<harness>/) run under the normal build's sanitizers as a unit test.
 * Fails when a path cannot be read or when no input at all was replayed. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL) {
        fprintf(stderr, "replay: could not open \"%s\": %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 4096);
            if (b == NULL)
                abort();
            buf = b;
        }
        got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    /* an exact-size copy, so ASan sees a read one past the input */
    {
        uint8_t *exact = malloc(n ? n : 1);
        if (exact == NULL)
            abort();
        memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        DIR *d;
        struct dirent *e;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no \"%s\": %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]) != 0)
                return 1;
            files++;
            continue;
        }
        if ((d = opendir(argv[i])) == NULL) {
            fprintf(stderr, "replay: could not open \"%s\": %s\n", argv[i], strerror(errno));
            return 1;
        }
        while ((e = readdir(d)) != NULL) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            if (replay_file(path) != 0) {
                closedir(d);
                return 1;
            }
            files++;
        }
        closedir(d);
    }
    printf("replayed %d inputs\n", files);
    return files > 0 ? 0 : 1;
}
