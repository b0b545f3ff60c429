/* squall-registry: the internal API of the registry service. It owns the entities users
 * create (actions for now; packages, triggers and rules later) in PostgreSQL, validates
 * them the way OpenWhisk does, answers sq.registry.{put,get,delete,list,resolve} and
 * announces every change on sq.evt.entity.<ns>.<kind>. */
#ifndef SQ_REGISTRY_H
#define SQ_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto/proto.h"
#include "sq/bus.h"
#include "sq/mp.h"
#include "sq/status.h"

/* ---- config.c ------------------------------------------------------------------------- */

typedef struct reg_config {
    char *nats_url;
    char *pg_dsn;
    char *schema_dir;
} reg_config;

/* Resolves the settings (defaults < SQ_CONFIG file < environment) into *cfg and logs them.
 * The strings belong to the config table: reg_config_free(). */
sq_status reg_config_load(reg_config *cfg);
void reg_config_free(void);

/* ---- validate.c: the PUT body and the OpenWhisk update rules -------------------------- */

/* Bounds of the per-action limits, as OpenWhisk's defaults. */
#define REG_TIMEOUT_MIN      100
#define REG_TIMEOUT_MAX      300000
#define REG_MEMORY_MIN       128
#define REG_MEMORY_MAX       512
#define REG_LOGS_MIN         0
#define REG_LOGS_MAX         10
#define REG_CONCURRENCY_MIN  1
#define REG_CONCURRENCY_MAX  500

#define REG_LIST_DEFAULT     30
#define REG_LIST_MAX         200

/* What one PUT body says; has_* tells which fields it gave (JSON null counts as absent, as
 * in OpenWhisk). Everything points into the request's arena. */
typedef struct reg_patch {
    bool has_exec;
    sq_exec exec;                 /* kind and code always set when has_exec */
    bool has_parameters;
    msgpack_object parameters;    /* array of {key, value} maps */
    bool has_annotations;
    msgpack_object annotations;   /* array of {key, value} maps */
    char **del_annotations;       /* keys to drop before merging (OpenWhisk's delAnnotations) */
    size_t ndel;
    bool has_timeout, has_memory, has_logs, has_concurrency;
    sq_limits limits;             /* the fields flagged above, each within bounds */
    bool has_publish;
    bool publish;
} reg_patch;

/* Checks a PUT body (a map) and fills *out. SQ_ERR_BAD_REQUEST with a message for the user
 * in err on anything OpenWhisk would refuse (wrong types, unsupported kind, limits out of
 * range); SQ_ERR_NOMEM. */
sq_status reg_patch_parse(const msgpack_object *entity, sq_arena_t *ar, reg_patch *out,
                          char *err, size_t errlen);

/* The action that results from applying p: to nothing (old NULL: create, version 0.0.1,
 * exec required) or to old (update: given fields replace old ones, limits merge per field,
 * annotations merge per key after delAnnotations, version patch-bumped). Sets namespace_,
 * name and updated = now too. Everything new goes into ar. SQ_ERR_BAD_REQUEST with err. */
sq_status reg_patch_apply(const sq_action *old, const reg_patch *p, const char *ns,
                          const char *name, sq_arena_t *ar, sq_action *out, char *err,
                          size_t errlen);

/* "X.Y.Z" -> "X.Y.(Z+1)" into out (an unparsable version restarts at "0.0.1"). */
void reg_version_bump(const char *v, char *out, size_t outlen);

/* ---- store.c: the only SQL ------------------------------------------------------------- */

typedef struct reg_store reg_store_t;

/* Connects (waiting up to wait_ms), applies the migrations of schema_dir and returns the
 * store; reg_store_close() frees it (NULL is a no-op). Every call below is thread-safe
 * (one connection under a mutex) and retries once on a reset connection when the server
 * dropped it; SQ_ERR_DB when the database fails, with nothing written. */
sq_status reg_store_open(reg_store_t **out, const char *dsn, const char *schema_dir, int wait_ms);
void reg_store_close(reg_store_t *s);

/* Creates or updates action ns/name atomically (the row is locked, or the insert
 * conflicts, so two concurrent puts cannot both create): SQ_ERR_CONFLICT when it exists
 * and !overwrite, errors of reg_patch_apply, else the stored action in *out (with code, in
 * ar) and *created. */
sq_status reg_store_put(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                        const reg_patch *p, sq_arena_t *ar, sq_action *out, bool *created,
                        char *err, size_t errlen);

/* Reads action ns/name into *out (exec.code NULL unless code). SQ_ERR_NOT_FOUND. */
sq_status reg_store_get(reg_store_t *s, const char *ns, const char *name, bool code,
                        sq_arena_t *ar, sq_action *out);

/* Deletes action ns/name and returns it (with code) in *out. SQ_ERR_NOT_FOUND. */
sq_status reg_store_delete(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                           sq_action *out);

/* The actions of ns, newest `updated` first, without code: *items (in ar), *n. */
sq_status reg_store_list(reg_store_t *s, const char *ns, int64_t skip, int64_t limit,
                         sq_arena_t *ar, sq_action **items, size_t *n);

/* ---- handlers.c ------------------------------------------------------------------------ */

typedef struct reg_ctx {
    reg_store_t *store;
} reg_ctx;

/* The message handlers; each runs on its route's delivery thread, closure is the reg_ctx.
 * Replies: an sq_action, map{items}, or a wire error (400, 404, 409, 500). */
void reg_on_put(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_get(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_delete(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_list(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_resolve(sq_bus_t *bus, natsMsg *msg, void *closure);

#endif
