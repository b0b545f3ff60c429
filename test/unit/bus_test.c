/* The NATS URL helpers of shared/src/bus.c: passwords never shown, inbox prefixes per user;
 * the nkeys of shared/src/nkey.c agree with nats.c's own seed decoding. */
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "sq/bus.h"

/* base32 of a public nkey back to its 32 key bytes (1 prefix byte, 2 CRC bytes around). */
static int pub_raw(const char *pub, unsigned char key[32])
{
    static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char raw[35];
    unsigned buf = 0;
    int bits = 0;
    size_t o = 0;
    for (const char *p = pub; *p; p++) {
        const char *c = strchr(B32, *p);
        if (c == NULL)
            return -1;
        buf = (buf << 5) | (unsigned)(c - B32);
        if ((bits += 5) >= 8) {
            if (o < sizeof raw)
                raw[o++] = (unsigned char)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    if (o != sizeof raw)
        return -1;
    memcpy(key, raw + 1, 32);
    return 0;
}

static void nkeys(void)
{
    char seed[SQ_NKEY_SEED_LEN + 1], pub[SQ_NKEY_PUB_LEN + 1], pub2[SQ_NKEY_PUB_LEN + 1];
    unsigned char *sig = NULL, key[32];
    int siglen = 0;
    char path[] = "/tmp/sq_nkey_testXXXXXX";
    int fd;

    CHECK(sq_nkey_make(seed, pub) == SQ_OK, "make");
    CHECK(strlen(seed) == SQ_NKEY_SEED_LEN && strncmp(seed, "SU", 2) == 0, "seed %.2s", seed);
    CHECK(strlen(pub) == SQ_NKEY_PUB_LEN && pub[0] == 'U', "public %s", pub);
    CHECK(sq_nkey_public(seed, strlen(seed), pub2) == SQ_OK && strcmp(pub, pub2) == 0,
          "public of the seed");
    /* nats.c decodes the seed itself to sign: our public key must verify its signature */
    natsStatus ns = nats_Open(-1);
    if (ns == NATS_OK)
        ns = nats_Sign(seed, "nonce-123", &sig, &siglen);
    CHECK(ns == NATS_OK && siglen == 64, "nats_Sign: %s (%d)", natsStatus_GetText(ns), siglen);
    CHECK(pub_raw(pub, key) == 0, "decode public");
    CHECK(sig != NULL &&
              crypto_sign_verify_detached(sig, (const unsigned char *)"nonce-123", 9, key) == 0,
          "signature of nats.c verifies with our public key");
    free(sig);
    /* hostile seeds */
    seed[10] = seed[10] == 'A' ? 'B' : 'A';
    CHECK(sq_nkey_public(seed, strlen(seed), pub2) == SQ_ERR_BAD_REQUEST, "bad checksum");
    CHECK(sq_nkey_public("SU", 2, pub2) == SQ_ERR_BAD_REQUEST, "short");
    CHECK(sq_nkey_public("SU!AMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU", 58, pub2) ==
              SQ_ERR_BAD_REQUEST,
          "alphabet");
    /* from a file: the first seed in it */
    CHECK(sq_nkey_make(seed, pub) == SQ_OK, "make");
    fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) {
        dprintf(fd, "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n", seed);
        close(fd);
        CHECK(sq_nkey_file_public(path, pub2) == SQ_OK && strcmp(pub, pub2) == 0, "file");
        unlink(path);
    }
    CHECK(sq_nkey_file_public("/nonexistent/seed", pub2) == SQ_ERR_NOT_FOUND, "no file");
    nats_Close();
}

static void redact(const char *url, const char *want)
{
    char out[256];
    sq_nats_url_redact(url, out, sizeof out);
    CHECK_STR(out, want, url);
}

static void prefix(const char *url, const char *user, const char *want)
{
    char out[96];
    sq_nats_inbox_prefix(url, user, out, sizeof out);
    CHECK_STR(out, want, url);
}

int main(void)
{
    char small[12];

    SECTION("redact");
    redact("nats://ops:s3cr3t@127.0.0.1:4222", "nats://ops:***@127.0.0.1:4222");
    redact("nats://127.0.0.1:4222", "nats://127.0.0.1:4222");
    redact("nats://user@127.0.0.1:4222", "nats://user@127.0.0.1:4222");
    redact("nats://a:p1@h1:1,nats://b:p2@h2:2", "nats://a:***@h1:1,nats://b:***@h2:2");
    redact("a:pw@host", "a:***@host");
    redact("nats://a:@h", "nats://a:***@h");
    redact("nats://a:p:q@h", "nats://a:***@h");
    redact("nats://a:p@ss@h:1", "nats://a:***@h:1");
    redact("", "");
    sq_nats_url_redact("nats://ops:secretsecret@h", small, sizeof small);
    CHECK(strstr(small, "secret") == NULL, "truncated: %s", small);
    CHECK_INT(strlen(small), sizeof small - 1, "truncated length");

    SECTION("inbox prefix");
    prefix("nats://gateway:pw@127.0.0.1:4222", NULL, "_INBOX_gateway");
    prefix("nats://127.0.0.1:4222", NULL, "_INBOX");
    prefix("nats://127.0.0.1:4222", "ops", "_INBOX_ops");
    prefix("nats://x:pw@h", "", "_INBOX_x");
    prefix("nats://a.b*c>:pw@h", NULL, "_INBOX_a_b_c_");
    prefix("nats://h1:4222,nats://u:p@h2", NULL, "_INBOX");
    prefix(NULL, NULL, "_INBOX");

    SECTION("nkeys");
    nkeys();
    return check_done();
}
