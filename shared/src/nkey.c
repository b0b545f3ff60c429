/* NATS user nkeys: the public key of a seed file (nats.c signs the server's nonce with the
 * seed but must be told the public key) and new seeds for operators (Debian has no `nk`).
 * An nkey is base32 (RFC 4648, no padding) of prefix bytes, a 32-byte ed25519 key and a
 * CRC-16/XMODEM, little endian: a user seed is "SU..." (58 characters), its public key
 * "U..." (56). The ed25519 arithmetic is libsodium's. */
#include "sq/bus.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREFIX_SEED (18 << 3) /* 'S' */
#define PREFIX_USER (20 << 3) /* 'U' */
#define SEED_RAW 36           /* 2 prefix bytes, 32 key bytes, 2 CRC bytes */
#define PUB_RAW 35            /* 1 prefix byte, 32 key bytes, 2 CRC bytes */

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static uint16_t crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

static void b32_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;
    unsigned buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = B32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = B32[(buf << (5 - bits)) & 31];
    out[o] = '\0';
}

/* Decodes exactly outlen bytes from in (len characters); false on any other character. */
static bool b32_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
    size_t o = 0;
    unsigned buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *c = in[i] ? strchr(B32, in[i]) : NULL;
        if (c == NULL)
            return false;
        buf = (buf << 5) | (unsigned)(c - B32);
        bits += 5;
        if (bits >= 8) {
            if (o == outlen)
                return false;
            out[o++] = (unsigned char)(buf >> (bits - 8));
            bits -= 8;
        }
    }
    return o == outlen;
}

static void public_of(const unsigned char key[32], char *pub)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], raw[PUB_RAW];
    uint16_t crc;
    crypto_sign_seed_keypair(pk, sk, key);
    raw[0] = PREFIX_USER;
    memcpy(raw + 1, pk, 32);
    crc = crc16(raw, 33);
    raw[33] = (unsigned char)(crc & 0xff);
    raw[34] = (unsigned char)(crc >> 8);
    b32_encode(raw, sizeof raw, pub);
    sodium_memzero(sk, sizeof sk);
}

sq_status sq_nkey_public(const char *seed, size_t len, char pub[SQ_NKEY_PUB_LEN + 1])
{
    unsigned char raw[SEED_RAW];
    uint16_t crc;
    sq_status st = SQ_ERR_BAD_REQUEST;

    if (len != SQ_NKEY_SEED_LEN || !b32_decode(seed, len, raw, sizeof raw))
        goto out;
    crc = crc16(raw, SEED_RAW - 2);
    if ((raw[0] & 0xf8) != PREFIX_SEED ||
        (unsigned)(((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3)) != PREFIX_USER ||
        raw[SEED_RAW - 2] != (crc & 0xff) || raw[SEED_RAW - 1] != (crc >> 8))
        goto out;
    public_of(raw + 2, pub);
    st = SQ_OK;
out:
    sodium_memzero(raw, sizeof raw);
    return st;
}

sq_status sq_nkey_make(char seed[SQ_NKEY_SEED_LEN + 1], char pub[SQ_NKEY_PUB_LEN + 1])
{
    unsigned char raw[SEED_RAW];
    uint16_t crc;

    if (sodium_init() < 0)
        return SQ_ERR_INTERNAL;
    raw[0] = PREFIX_SEED | (PREFIX_USER >> 5);
    raw[1] = (unsigned char)((PREFIX_USER & 31) << 3);
    randombytes_buf(raw + 2, 32);
    crc = crc16(raw, SEED_RAW - 2);
    raw[SEED_RAW - 2] = (unsigned char)(crc & 0xff);
    raw[SEED_RAW - 1] = (unsigned char)(crc >> 8);
    b32_encode(raw, sizeof raw, seed);
    public_of(raw + 2, pub);
    sodium_memzero(raw, sizeof raw);
    return SQ_OK;
}

sq_status sq_nkey_file_public(const char *path, char pub[SQ_NKEY_PUB_LEN + 1])
{
    char buf[8192];
    ssize_t n;
    sq_status st = SQ_ERR_BAD_REQUEST;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return errno == ENOENT ? SQ_ERR_NOT_FOUND : SQ_ERR_IO;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return SQ_ERR_IO;
    buf[n] = '\0';
    /* the first "SU" + 56 base32 characters: a bare seed or the seed block of a file */
    for (char *p = buf; (p = strstr(p, "SU")) != NULL; p++)
        if (strspn(p, B32) >= SQ_NKEY_SEED_LEN &&
            (st = sq_nkey_public(p, SQ_NKEY_SEED_LEN, pub)) == SQ_OK)
            break;
    sodium_memzero(buf, sizeof buf);
    return st;
}
