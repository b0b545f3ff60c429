/* squall-auth: the internal API of the auth service. It owns subjects (users), their
 * namespaces and their API keys in PostgreSQL, and answers sq.auth.verify: a key
 * `uuid:secret` in, the identity {subject, namespace, uuid} or a wire error out. Only a
 * keyed BLAKE2b hash of each secret is stored (see keys.c for why not a password hash). */
#ifndef SQ_AUTH_H
#define SQ_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include "sq/bus.h"
#include "sq/mp.h"
#include "sq/status.h"

/* ---- config.c ------------------------------------------------------------------------- */

typedef struct auth_config {
    char *nats_url;
    char *pg_dsn;
    char *schema_dir;
    char *guest_key;        /* "" when no guest is to be made */
    char *guest_namespace;
} auth_config;

/* Resolves the settings (defaults < SQ_CONFIG file < environment) into *cfg and logs them,
 * the guest key masked. The strings belong to the config table: auth_config_free(). */
sq_status auth_config_load(auth_config *cfg);
void auth_config_free(void);

/* ---- keys.c: key format and hashing ----------------------------------------------------- */

#define AUTH_UUID_LEN    36
#define AUTH_SECRET_LEN  64
#define AUTH_SALT_LEN    16
#define AUTH_HASH_LEN    32

/* Splits an OpenWhisk key `uuid:secret` (a 36-character UUID, ':', 64 letters or digits).
 * On success writes the UUID in lower case to uuid and points *secret into key; returns
 * false when the key does not have that shape. */
bool auth_key_parse(const char *key, char uuid[AUTH_UUID_LEN + 1], const char **secret);

/* hash = BLAKE2b-256 of the secret keyed with salt. */
void auth_key_hash(const unsigned char salt[AUTH_SALT_LEN], const char *secret,
                   unsigned char hash[AUTH_HASH_LEN]);

/* Constant-time check of secret against a stored salt and hash. */
bool auth_key_check(const unsigned char salt[AUTH_SALT_LEN],
                    const unsigned char hash[AUTH_HASH_LEN], const char *secret);

/* Spends the same work as auth_key_check on a key whose uuid is unknown, so that the
 * answer time does not tell which uuids exist. Always false. */
bool auth_key_check_dummy(const char *secret);

/* ---- store.c: the only SQL --------------------------------------------------------------- */

typedef struct auth_store auth_store_t;

/* A key's row joined with its subject. Strings live in the arena given to the lookup. */
typedef struct auth_key_row {
    unsigned char salt[AUTH_SALT_LEN];
    unsigned char hash[AUTH_HASH_LEN];
    char *subject;
    char *namespace_;
    bool blocked;
} auth_key_row;

/* Connects (waiting up to wait_ms for the server), applies the migrations of schema_dir
 * and returns the store; auth_store_close() frees it (NULL is a no-op). */
sq_status auth_store_open(auth_store_t **out, const char *dsn, const char *schema_dir, int wait_ms);
void auth_store_close(auth_store_t *s);

/* Looks up the key uuid (canonical lower-case form). SQ_OK with *row filled,
 * SQ_ERR_NOT_FOUND, or SQ_ERR_DB. Thread-safe. */
sq_status auth_store_lookup(auth_store_t *s, const char *uuid, sq_arena_t *ar, auth_key_row *row);

/* Makes sure subject, namespace (owned by subject) and key uuid exist, creating each one
 * only when absent (INSERT ... ON CONFLICT DO NOTHING, one transaction, so that several
 * copies starting together cannot fail). salt and hash are used only for a new key; the
 * stored row of the key, new or old, is returned in *row. */
sq_status auth_store_bootstrap(auth_store_t *s, const char *subject, const char *ns,
                               const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                               const unsigned char hash[AUTH_HASH_LEN], sq_arena_t *ar,
                               auth_key_row *row);

/* Replaces the salt and hash of key uuid. */
sq_status auth_store_set_secret(auth_store_t *s, const char *uuid,
                                const unsigned char salt[AUTH_SALT_LEN],
                                const unsigned char hash[AUTH_HASH_LEN]);

/* ---- handlers.c ------------------------------------------------------------------------ */

typedef struct auth_ctx {
    auth_store_t *store;
} auth_ctx;

/* sq.auth.verify: sq_auth_verify in, sq_identity or a wire error (400, 401, 403, 500) out.
 * Runs on the route's delivery thread; closure is the auth_ctx. */
void auth_on_verify(sq_bus_t *bus, natsMsg *msg, void *closure);

/* Creates the guest subject, namespace and key from the configured `uuid:secret` unless
 * they exist; a stored key with another secret gets the configured one. SQ_ERR_BAD_REQUEST
 * (logged) when key is not a well-formed key. */
sq_status auth_bootstrap_guest(auth_store_t *s, const char *key, const char *ns);

#endif
