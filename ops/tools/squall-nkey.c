/* squall-nkey: NATS user nkeys for a deployment, where Debian has no `nk` tool.
 *
 *   squall-nkey gen FILE   writes a new user seed to FILE (0600, not overwritten) and prints
 *                          its public key, for the server's `nkey:` of that user
 *   squall-nkey pub FILE   prints the public key of the seed in FILE
 *
 * A service given SQ_NATS_NKEY=FILE signs the server's nonce with the seed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sq/bus.h"

static int usage(void)
{
    fprintf(stderr, "usage: squall-nkey gen FILE | pub FILE\n");
    return 2;
}

int main(int argc, char **argv)
{
    char seed[SQ_NKEY_SEED_LEN + 1], pub[SQ_NKEY_PUB_LEN + 1];
    sq_status st;

    if (argc != 3)
        return usage();
    if (strcmp(argv[1], "pub") == 0) {
        if ((st = sq_nkey_file_public(argv[2], pub)) != SQ_OK) {
            fprintf(stderr, "squall-nkey: no user seed in \"%s\": %s\n", argv[2],
                    sq_status_str(st));
            return 1;
        }
    } else if (strcmp(argv[1], "gen") == 0) {
        int fd;
        if (sq_nkey_make(seed, pub) != SQ_OK)
            return 1;
        fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            fprintf(stderr, "squall-nkey: could not create \"%s\": %s\n", argv[2], strerror(errno));
            return 1;
        }
        seed[SQ_NKEY_SEED_LEN] = '\n';
        if (write(fd, seed, SQ_NKEY_SEED_LEN + 1) != SQ_NKEY_SEED_LEN + 1 || close(fd) != 0) {
            fprintf(stderr, "squall-nkey: could not write \"%s\"\n", argv[2]);
            unlink(argv[2]);
            return 1;
        }
        memset(seed, 0, sizeof seed);
    } else
        return usage();
    printf("%s\n", pub);
    return 0;
}
