/* API keys: their shape (OpenWhisk's `uuid:secret`) and how a secret is hashed and checked.
 *
 * Why a keyed BLAKE2b and not a password hash. A password hash (argon2, scrypt, bcrypt) is
 * deliberately slow because passwords are low-entropy: it makes each guess of an offline
 * attacker who stole the table cost tens of milliseconds. Our secrets are not passwords:
 * they are 64 characters drawn at random from 62 (about 380 bits), so no amount of guessing
 * will find one whatever the hash costs, and a fast one-way function is enough. A slow hash
 * would instead make every uncached verify (a gateway start, a cache expiry, a new key)
 * cost tens of milliseconds of CPU on the request path and turn sq.auth.verify into an easy
 * denial of service. So: hash = BLAKE2b-256(secret) keyed with a 16-byte random salt per
 * key (libsodium's crypto_generichash), compared in constant time with sodium_memcmp. */
#include "auth.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include "sq/util.h"

bool auth_key_parse(const char *key, char uuid[AUTH_UUID_LEN + 1], const char **secret)
{
    size_t i;

    if (key == NULL)
        return false;
    for (i = 0; i < AUTH_UUID_LEN; i++) {
        unsigned char c = (unsigned char)key[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!isxdigit(c))
            return false; /* also stops at the NUL of a short key */
        uuid[i] = (char)tolower(c);
    }
    uuid[AUTH_UUID_LEN] = '\0';
    if (key[AUTH_UUID_LEN] != ':')
        return false;
    key += AUTH_UUID_LEN + 1;
    for (i = 0; i < AUTH_SECRET_LEN; i++)
        if (!isalnum((unsigned char)key[i]))
            return false;
    if (key[AUTH_SECRET_LEN] != '\0')
        return false;
    *secret = key;
    return true;
}

void auth_key_new(char key[AUTH_KEY_LEN + 1], char uuid[AUTH_UUID_LEN + 1],
                  unsigned char salt[AUTH_SALT_LEN], unsigned char hash[AUTH_HASH_LEN])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char *secret = key + AUTH_UUID_LEN + 1;

    sq_uuid_new(uuid);
    memcpy(key, uuid, AUTH_UUID_LEN);
    key[AUTH_UUID_LEN] = ':';
    /* randombytes_uniform has no modulo bias: each character carries log2(62) bits */
    for (size_t i = 0; i < AUTH_SECRET_LEN; i++)
        secret[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    secret[AUTH_SECRET_LEN] = '\0';
    randombytes_buf(salt, AUTH_SALT_LEN);
    auth_key_hash(salt, secret, hash);
}

void auth_key_hash(const unsigned char salt[AUTH_SALT_LEN], const char *secret,
                   unsigned char hash[AUTH_HASH_LEN])
{
    crypto_generichash(hash, AUTH_HASH_LEN, (const unsigned char *)secret, AUTH_SECRET_LEN, salt,
                       AUTH_SALT_LEN);
}

bool auth_key_check(const unsigned char salt[AUTH_SALT_LEN],
                    const unsigned char hash[AUTH_HASH_LEN], const char *secret)
{
    unsigned char h[AUTH_HASH_LEN];
    auth_key_hash(salt, secret, h);
    return sodium_memcmp(h, hash, AUTH_HASH_LEN) == 0;
}

static unsigned char dummy_salt[AUTH_SALT_LEN], dummy_hash[AUTH_HASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
    randombytes_buf(dummy_salt, sizeof dummy_salt);
    randombytes_buf(dummy_hash, sizeof dummy_hash);
}

bool auth_key_check_dummy(const char *secret)
{
    /* The same hash and comparison as a real check, against random bytes; the result is
     * thrown away. */
    pthread_once(&dummy_once, dummy_init);
    (void)auth_key_check(dummy_salt, dummy_hash, secret);
    return false;
}
