/* squall-auth: the internal API of the auth service. It owns subjects (users), their
 * namespaces (a subject owns one or more), the API keys of each namespace and each
 * namespace's limits in PostgreSQL, and answers three subjects: sq.auth.verify (a key
 * `uuid:secret` in, the identity out), sq.auth.limits (a namespace's limits) and
 * sq.auth.admin (the operator's interface, used by squall-admin, guarded by a token).
 * Only a keyed BLAKE2b hash of each secret is stored (see keys.c for why not a password
 * hash). Every change made through the admin interface is announced on sq.evt.auth. */
#ifndef SQ_AUTH_H
#define SQ_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include "proto/proto.h"
#include "sq/bus.h"
#include "sq/mp.h"
#include "sq/status.h"

/* The reserved system namespace, owned by the system subject of the same name. It has no
 * key unless an operator makes one (squall-admin key rotate whisk.system). */
#define AUTH_SYSTEM_NS "whisk.system"

/* ---- config.c ------------------------------------------------------------------------- */

typedef struct auth_config {
    char *nats_url;
    char *pg_dsn;
    char *schema_dir;
    char *guest_key; /* "" when no guest is to be made */
    char *guest_namespace;
    char *admin_token; /* "" when the admin interface is disabled */
    int stale_ms;      /* SQ_AUTH_STALE_MS: a verified key is kept this long (stale.c) */
    int stale_max;     /* SQ_AUTH_STALE_MAX: at most this many keys */
} auth_config;

/* Resolves the settings (defaults < SQ_CONFIG file < environment) into auth_cfg and logs
 * them, the guest key and the admin token masked. The strings belong to the config table:
 * auth_config_free(). */
extern auth_config auth_cfg;
sq_status auth_config_load(void);
void auth_config_free(void);

/* ---- keys.c: key format and hashing ----------------------------------------------------- */

#define AUTH_UUID_LEN 36
#define AUTH_SECRET_LEN 64
#define AUTH_KEY_LEN (AUTH_UUID_LEN + 1 + AUTH_SECRET_LEN)
#define AUTH_SALT_LEN 16
#define AUTH_HASH_LEN 32

/* Splits an OpenWhisk key `uuid:secret` (a 36-character UUID, ':', 64 letters or digits).
 * On success writes the UUID in lower case to uuid and points *secret into key; returns
 * false when the key does not have that shape. */
bool auth_key_parse(const char *key, char uuid[AUTH_UUID_LEN + 1], const char **secret);

/* A new random key `uuid:secret` (a version-4 UUID and 64 letters and digits drawn
 * uniformly) in key, its uuid in uuid, a new random salt and the secret's hash. The caller
 * shows key once and stores only uuid, salt and hash. */
void auth_key_new(char key[AUTH_KEY_LEN + 1], char uuid[AUTH_UUID_LEN + 1],
                  unsigned char salt[AUTH_SALT_LEN], unsigned char hash[AUTH_HASH_LEN]);

/* hash = BLAKE2b-256 of the secret keyed with salt. */
void auth_key_hash(const unsigned char salt[AUTH_SALT_LEN], const char *secret,
                   unsigned char hash[AUTH_HASH_LEN]);

/* Constant-time check of secret against a stored salt and hash. */
bool auth_key_check(const unsigned char salt[AUTH_SALT_LEN],
                    const unsigned char hash[AUTH_HASH_LEN], const char *secret);

/* Spends the same work as auth_key_check on a key whose uuid is unknown, so that the
 * answer time does not tell which uuids exist. Always false. */
bool auth_key_check_dummy(const char *secret);

/* ---- limits.c: a namespace's limits as stored (jsonb) and as the admin sets them -------- */

/* Field names and bounds of sq_ns_limits. */
#define AUTH_LIMIT_INT_MAX 2147483647LL
#define AUTH_TIMEOUT_MAX_MIN 100
#define AUTH_TIMEOUT_MAX_MAX 300000
#define AUTH_MEMORY_MAX_MIN 128
#define AUTH_MEMORY_MAX_MAX 512

/* The effective limits of a namespace: SQ_NS_LIMITS_DEFAULT overlaid with the overrides
 * stored as the JSON object text json (NULL or "{}" for none). An override that is not an
 * integer within its bounds (the table was edited by hand) is ignored and logged. */
void auth_limits_effective(const char *json, const char *ns, sq_ns_limits *out);

/* Checks the map of limits an admin wants to set: every key one of the five field names,
 * every value an integer within the field's bounds, or nil to go back to the default. On
 * success writes into *set the JSON object text of the new values (malloc'd, caller frees)
 * and into *reset the PostgreSQL text[] literal of the names to reset (malloc'd, caller
 * frees). SQ_ERR_BAD_REQUEST with a message in why otherwise. */
sq_status auth_limits_parse_set(const msgpack_object *map, char **set, char **reset, char *why,
                                size_t whylen);

/* ---- store.c: the only SQL --------------------------------------------------------------- */

typedef struct sq_store auth_store_t; /* libsq's store (sq/store.h), auth's tables */

/* A key's row joined with its subject. Strings live in the arena given to the lookup. */
typedef struct auth_key_row {
    unsigned char salt[AUTH_SALT_LEN];
    unsigned char hash[AUTH_HASH_LEN];
    char *subject;
    char *namespace_;
    bool blocked;
    char **namespaces; /* every namespace of the subject, by name; NULL-terminated */
    size_t nnamespaces;
} auth_key_row;

/* A subject as user.get shows it. */
typedef struct auth_user {
    bool blocked;
    size_t nns;
    char **ns;   /* namespace names, by name */
    char **uuid; /* the newest key of each namespace, NULL when it has none */
} auth_user;

/* Connects (waiting up to wait_ms for the server), applies the migrations of schema_dir
 * and returns the store; auth_store_close() frees it (NULL is a no-op). */
sq_status auth_store_open(auth_store_t **out, const char *dsn, const char *schema_dir, int wait_ms);
void auth_store_close(auth_store_t *s);

/* Every function below is thread-safe (one connection behind a mutex), retries once on a
 * reset connection when the server went away, and returns SQ_ERR_DB when the database
 * failed. Strings returned live in the arena ar. Outcomes the caller reports to the user
 * (SQ_ERR_NOT_FOUND, SQ_ERR_CONFLICT...) come with a message in why (whylen bytes). */

/* Looks up the key uuid (canonical lower-case form). SQ_OK with *row filled,
 * SQ_ERR_NOT_FOUND, or SQ_ERR_DB. */
sq_status auth_store_lookup(auth_store_t *s, const char *uuid, sq_arena_t *ar, auth_key_row *row);

/* Makes sure subject, namespace (owned by subject) and key uuid exist, creating each one
 * only when absent (INSERT ... ON CONFLICT DO NOTHING, one transaction, so that several
 * copies starting together cannot fail). salt and hash are used only for a new key; the
 * stored row of the key, new or old, is returned in *row. SQ_ERR_CONFLICT when the
 * namespace belongs to another subject. */
sq_status auth_store_bootstrap(auth_store_t *s, const char *subject, const char *ns,
                               const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                               const unsigned char hash[AUTH_HASH_LEN], sq_arena_t *ar,
                               auth_key_row *row);

/* Makes sure subject and its namespace ns exist (no key). *owner: the subject that owns
 * ns afterwards (another one when ns was taken). */
sq_status auth_store_ensure_ns(auth_store_t *s, const char *subject, const char *ns, sq_arena_t *ar,
                               char **owner);

/* Replaces the salt and hash of key uuid. */
sq_status auth_store_set_secret(auth_store_t *s, const char *uuid,
                                const unsigned char salt[AUTH_SALT_LEN],
                                const unsigned char hash[AUTH_HASH_LEN]);

/* The stored limit overrides of ns (JSON object text) and its owner. SQ_ERR_NOT_FOUND. */
sq_status auth_store_limits_get(auth_store_t *s, const char *ns, sq_arena_t *ar, char **json,
                                char **owner);

/* Merges the overrides set (JSON object text) into those of ns and removes the names in
 * reset (text[] literal); returns the stored result and the owner. SQ_ERR_NOT_FOUND. */
sq_status auth_store_limits_set(auth_store_t *s, const char *ns, const char *set, const char *reset,
                                sq_arena_t *ar, char **json, char **owner);

/* user.create: the subject (made when absent), its new namespace ns and a key in it, in one
 * transaction. SQ_ERR_CONFLICT (why says what exists) when ns exists already. */
sq_status auth_store_user_create(auth_store_t *s, const char *subject, const char *ns,
                                 const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                                 const unsigned char hash[AUTH_HASH_LEN], char *why, size_t whylen);

/* user.delete: the subject with its namespaces and keys (cascade); the names of the
 * namespaces it had in *ns (NULL-terminated), their count in *nns. SQ_ERR_NOT_FOUND. */
sq_status auth_store_user_delete(auth_store_t *s, const char *subject, sq_arena_t *ar, char ***ns,
                                 size_t *nns, char *why, size_t whylen);

/* sq.auth.limits: the namespace's stored limits (as auth_store_limits_get) and whether its
 * subject is blocked. SQ_ERR_NOT_FOUND. */
sq_status auth_store_ns_state(auth_store_t *s, const char *ns, sq_arena_t *ar, char **json,
                              char **owner, bool *blocked);

/* user.get. SQ_ERR_NOT_FOUND. */
sq_status auth_store_user_get(auth_store_t *s, const char *subject, sq_arena_t *ar, auth_user *out,
                              char *why, size_t whylen);

/* user.list: every subject by name (NULL-terminated), the count in *n. */
sq_status auth_store_user_list(auth_store_t *s, sq_arena_t *ar, char ***subjects, size_t *n);

/* user.block / user.unblock. SQ_ERR_NOT_FOUND. */
sq_status auth_store_user_block(auth_store_t *s, const char *subject, bool blocked, char *why,
                                size_t whylen);

/* key.rotate: deletes every key of (subject, ns) and stores the new one. ns NULL: the
 * subject's namespace named like the subject, else its only namespace; the namespace used
 * goes to *ns_out. SQ_ERR_NOT_FOUND (no such subject, ns is not the subject's, or it has
 * no namespace), SQ_ERR_BAD_REQUEST (ns NULL and several namespaces to pick from). */
sq_status auth_store_key_rotate(auth_store_t *s, const char *subject, const char *ns,
                                const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                                const unsigned char hash[AUTH_HASH_LEN], sq_arena_t *ar,
                                char **ns_out, char *why, size_t whylen);

/* ---- stale.c: keys verified lately, answered from memory while PostgreSQL is away ------- */

void auth_stale_init(int max_keys, int max_age_ms);
void auth_stale_free(void);
/* After a verification against the database: keeps (or refreshes) the key. */
void auth_stale_put(const char *uuid, const auth_key_row *row);
/* The database refused the key (unknown, wrong secret, blocked): it leaves. */
void auth_stale_drop(const char *uuid);
void auth_stale_drop_subject(const char *subject);
/* The database failed: true and *out (strings in ar) when uuid was verified within the
 * age limit and secret matches its hash (constant time). */
bool auth_stale_verify(const char *uuid, const char *secret, sq_arena_t *ar, sq_identity *out);
/* sq.evt.auth (every copy, no queue group): drops the subject's keys. */
void auth_on_event(sq_bus_t *bus, natsMsg *msg, void *closure);

/* ---- handlers.c, admin.c ----------------------------------------------------------------- */

typedef struct auth_ctx {
    auth_store_t *store;
    bool admin_enabled;                      /* an admin token is configured */
    unsigned char admin_hash[AUTH_HASH_LEN]; /* BLAKE2b-256 of the admin token */
} auth_ctx;

/* Prepares ctx's admin fields from the configured token ("" disables the interface). */
void auth_admin_init(auth_ctx *ctx, const char *token);

/* sq.auth.verify: sq_auth_verify in, sq_identity (with every namespace of the subject) or
 * a wire error (400, 401, 403 blocked, 500) out. Runs on the route's delivery thread;
 * closure is the auth_ctx. */
void auth_on_verify(sq_bus_t *bus, natsMsg *msg, void *closure);

/* sq.auth.limits: sq_ns_ref in, sq_ns_limits or a wire error (400, 404, 500) out. */
void auth_on_limits(sq_bus_t *bus, natsMsg *msg, void *closure);

/* sq.auth.admin: sq_admin in; the op's reply map or a wire error out (400 bad request,
 * 401 wrong token, 403 interface disabled, 404, 409, 500). Publishes sq.evt.auth after
 * every change. See admin.c for each op's request and reply. */
void auth_on_admin(sq_bus_t *bus, natsMsg *msg, void *closure);

/* Creates the guest subject, namespace and key from the configured `uuid:secret` unless
 * they exist; a stored key with another secret gets the configured one. SQ_ERR_BAD_REQUEST
 * (logged) when key is not a well-formed key or ns is not a valid, unreserved name. */
sq_status auth_bootstrap_guest(auth_store_t *s, const char *key, const char *ns);

/* Makes sure the system subject and its namespace whisk.system exist (without a key). */
sq_status auth_bootstrap_system(auth_store_t *s);

#endif
