/* squall-registry: the internal API of the registry service. It owns the entities users
 * create — actions (plain, packaged and sequences), packages and package bindings,
 * triggers and rules — in PostgreSQL, validates them the way OpenWhisk does, answers
 * sq.registry.{put,get,delete,list,resolve,rulestate}, installs the system packages of
 * /whisk.system at start, and announces every change on sq.evt.entity.<ns>.<kind>.
 *
 * The files: validate.c (what a PUT body may hold and how it applies to what is stored;
 * names; no SQL, no NATS: the unit test compiles it alone), entities.c (the msgpack shape
 * of packages, triggers and rules), store.c (every SQL statement; each write is one
 * transaction under a per-namespace lock), system.c (the /whisk.system bootstrap),
 * handlers.c (the NATS side). */
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
    char *system_dir; /* SQ_SYSTEM_DIR: <dir>/<package>/<action>.js -> /whisk.system/... */
} reg_config;

/* Resolves the settings (defaults < SQ_CONFIG file < environment) into reg_cfg and logs
 * them. The strings belong to the config table: reg_config_free(). */
extern reg_config reg_cfg;
sq_status reg_config_load(void);
void reg_config_free(void);

/* ---- entities ------------------------------------------------------------------------- */

#define REG_SYSTEM_NS "whisk.system"

/* Bounds of the per-action limits, as OpenWhisk's defaults. */
#define REG_TIMEOUT_MIN SQ_LIMIT_TIMEOUT_MIN
#define REG_TIMEOUT_MAX SQ_LIMIT_TIMEOUT_MAX
#define REG_MEMORY_MIN SQ_LIMIT_MEMORY_MIN
#define REG_MEMORY_MAX SQ_LIMIT_MEMORY_MAX
#define REG_LOGS_MIN SQ_LIMIT_LOGS_MIN
#define REG_LOGS_MAX SQ_LIMIT_LOGS_MAX
#define REG_CONCURRENCY_MIN SQ_LIMIT_CONCURRENCY_MIN
#define REG_CONCURRENCY_MAX SQ_LIMIT_CONCURRENCY_MAX

#define REG_CODE_MAX (48L * 1024 * 1024) /* exec.code, bytes (base64 text if binary) */
#define REG_SEQ_MAX SQ_SEQUENCE_MAX      /* atomic actions in a sequence, inlined */

#define REG_LIST_DEFAULT 30
#define REG_LIST_MAX 200

#define REG_RULE_ACTIVE "active"
#define REG_RULE_INACTIVE "inactive"

/* A fully qualified entity name /ns[/pkg]/name; pkg NULL when the entity is in no package. */
typedef struct reg_fqn {
    char *ns, *pkg, *name;
} reg_fqn;

/* A package or a package binding (binding_ns/binding_name set), as stored. Arrays are msgpack
 * arrays of {key, value}. */
typedef struct reg_package {
    char *namespace_, *name, *version;
    bool publish;
    msgpack_object parameters, annotations;
    char *binding_ns, *binding_name; /* both NULL for a package */
    int64_t updated;
} reg_package;

/* A trigger as stored (its limits are always {}). */
typedef struct reg_trigger {
    char *namespace_, *name, *version;
    bool publish;
    msgpack_object parameters, annotations;
    int64_t updated;
} reg_trigger;

/* A rule as stored: trigger /trigger_ns/trigger_name, action /action_path/action_name where
 * action_path is "ns" or "ns/pkg". status is REG_RULE_ACTIVE or REG_RULE_INACTIVE. */
typedef struct reg_rule {
    char *namespace_, *name, *version;
    bool publish;
    msgpack_object annotations;
    char *status;
    char *trigger_ns, *trigger_name, *action_path, *action_name;
    int64_t updated;
} reg_rule;

/* The short form of an action listed inside a package (OpenWhisk's PackageAction). */
typedef struct reg_brief {
    char *name, *version;
    bool publish;
    msgpack_object annotations, parameters;
} reg_brief;

/* ---- validate.c: names, PUT bodies, OpenWhisk's update rules ----------------------------- */

/* Splits a request name: "name" (*pkg NULL) or "pkg/name" when allow_pkg; both parts must
 * pass sq_name_valid. SQ_ERR_BAD_NAME otherwise (a second '/', a package where none may be). */
sq_status reg_name_split(const char *name, bool allow_pkg, sq_arena_t *ar, char **pkg, char **base);

/* Parses an entity reference the way OpenWhisk's clients write one: "name" and "pkg/name"
 * are relative to default_ns; "/ns/name", "/ns/pkg/name" and "ns/pkg/name" are absolute;
 * the namespace "_" means default_ns. Every part must pass sq_name_valid. SQ_ERR_BAD_REQUEST
 * with a message naming `what` ("trigger", "sequence component"...). */
sq_status reg_fqn_parse(const char *s, const char *default_ns, sq_arena_t *ar, reg_fqn *out,
                        const char *what, char *err, size_t errlen);

/* "/ns/name" or "/ns/pkg/name", in the arena (NULL: no memory). */
char *reg_fqn_str(const reg_fqn *f, sq_arena_t *ar);
/* "ns" or "ns/pkg", in the arena (NULL: no memory). */
char *reg_path_str(const char *ns, const char *pkg, sq_arena_t *ar);

/* What an action PUT body says; has_* tells which fields it gave (JSON null counts as
 * absent, as in OpenWhisk). Everything points into the request's arena. */
typedef struct reg_patch {
    bool has_exec;
    sq_exec exec;        /* kind set; code set unless a sequence; components (an
                                     array of "/ns[/pkg]/name" strings) for a sequence */
    reg_fqn *components; /* the parsed components of a sequence */
    size_t ncomponents;
    bool has_parameters;
    msgpack_object parameters; /* array of {key, value} maps */
    bool has_annotations;
    msgpack_object annotations; /* array of {key, value} maps */
    char **del_annotations;     /* keys to drop from the kept annotations (delAnnotations) */
    size_t ndel;
    bool has_timeout, has_memory, has_logs, has_concurrency;
    sq_limits limits; /* the fields flagged above, each within bounds */
    bool has_publish;
    bool publish;
} reg_patch;

/* Checks an action PUT body (a map) and fills *out; ns resolves "_" and relative names of
 * sequence components. SQ_ERR_BAD_REQUEST with a message for the user in err on anything
 * OpenWhisk would refuse (wrong types, unsupported kind, limits out of range, bad base64,
 * bad components); SQ_ERR_TOO_LARGE for code over REG_CODE_MAX; SQ_ERR_NOMEM. */
sq_status reg_patch_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                          reg_patch *out, char *err, size_t errlen);

/* The action that results from applying p: to nothing (old NULL: create, version 0.0.1,
 * exec required) or to old (update: fields given replace the old ones — parameters as a
 * whole —, limits merge per field, annotations merge: the old ones minus delAnnotations,
 * then the given ones over them; parameters left out are kept, but not those of a sequence
 * that becomes code; the version's patch number goes up). The annotation {exec: kind} is
 * always set. path is "ns" or "ns/pkg"; updated = now. Everything new goes into ar.
 * SQ_ERR_BAD_REQUEST with err. */
sq_status reg_patch_apply(const sq_action *old, const reg_patch *p, const char *path,
                          const char *name, sq_arena_t *ar, sq_action *out, char *err,
                          size_t errlen);

/* What a package, trigger or rule PUT body says. */
typedef struct reg_entity_patch {
    bool has_parameters, has_annotations, has_publish;
    msgpack_object parameters, annotations;
    bool publish;
    /* packages: binding {namespace, name} (an empty object is no binding) */
    bool has_binding;
    reg_fqn binding; /* pkg NULL */
    /* rules: trigger and action references, resolved against the put's namespace */
    bool has_trigger, has_action;
    reg_fqn trigger, action;
} reg_entity_patch;

/* Check a PUT body of a package / trigger / rule (ns resolves "_" and relative names).
 * SQ_ERR_BAD_REQUEST with err; SQ_ERR_NOMEM. */
sq_status reg_package_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                            reg_entity_patch *out, char *err, size_t errlen);
sq_status reg_trigger_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                            reg_entity_patch *out, char *err, size_t errlen);
sq_status reg_rule_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                         reg_entity_patch *out, char *err, size_t errlen);
/* The body of sq.registry.rulestate: {status: "active"|"inactive"} -> *status (static). */
sq_status reg_rule_status_parse(const msgpack_object *entity, const char **status, char *err,
                                size_t errlen);

/* Apply a patch to old (NULL: create) as OpenWhisk does: given fields replace, others are
 * kept, version 0.0.1 or patch-bumped, updated = now. Packages: the annotation
 * {binding: {namespace, name}} is set for a binding (and a user's "binding" annotation
 * dropped); the binding itself is p's (or old's). Rules: a new rule needs a trigger and an
 * action (SQ_ERR_BAD_REQUEST), starts active; an update keeps its status. */
sq_status reg_package_apply(const reg_package *old, const reg_entity_patch *p, const char *ns,
                            const char *name, sq_arena_t *ar, reg_package *out, char *err,
                            size_t errlen);
sq_status reg_trigger_apply(const reg_trigger *old, const reg_entity_patch *p, const char *ns,
                            const char *name, sq_arena_t *ar, reg_trigger *out);
sq_status reg_rule_apply(const reg_rule *old, const reg_entity_patch *p, const char *ns,
                         const char *name, sq_arena_t *ar, reg_rule *out, char *err, size_t errlen);

/* Merges arrays of {key, value} (nil and non-arrays count as empty) into one array in the
 * arena, one entry per key: a later array's entry replaces an earlier one in place. */
sq_status reg_kv_merge(const msgpack_object *const *arrays, size_t n, sq_arena_t *ar,
                       msgpack_object *out);
/* True when the {key, value} array a has an entry with this key. */
bool reg_kv_has(const msgpack_object *a, const char *key);

/* "X.Y.Z" -> "X.Y.(Z+1)" into out (an unparsable version restarts at "0.0.1"). */
void reg_version_bump(const char *v, char *out, size_t outlen);

/* ---- entities.c: the shapes the REST API shows -------------------------------------------- */

/* A package: map{namespace, name, version, publish, parameters, annotations, binding: {} or
 * {namespace, name}, updated}, plus actions: [brief] and feeds: [brief] (actions annotated
 * "feed") when with_contents. */
void reg_package_encode(const reg_package *p, const reg_brief *actions, size_t nactions,
                        bool with_contents, msgpack_packer *pk);
/* A trigger: map{namespace, name, version, publish, parameters, annotations, limits: {},
 * updated}, plus rules: map{"ns/rule": {action: {path, name}, status}} when rules != NULL. */
void reg_trigger_encode(const reg_trigger *t, const reg_rule *rules, size_t nrules, bool with_rules,
                        msgpack_packer *pk);
/* A rule: map{namespace, name, version, publish, annotations, status, trigger: {path, name},
 * action: {path, name}, updated}; status_override replaces the stored status when set. */
void reg_rule_encode(const reg_rule *r, const char *status_override, msgpack_packer *pk);

/* ---- store.c: the only SQL ------------------------------------------------------------- */

typedef struct sq_store reg_store_t; /* libsq's store (sq/store.h), the registry's tables */

/* Connects (waiting up to wait_ms), applies the migrations of schema_dir and returns the
 * store; reg_store_close() frees it (NULL is a no-op). Every call below is thread-safe
 * (one connection under a mutex) and retries once on a reset connection when the server
 * dropped it; SQ_ERR_DB when the database fails. Every write is one transaction that first
 * takes a lock on its namespace (so copies of the registry never race on one namespace):
 * it either happens entirely or not at all. Errors meant for the user come with a message
 * in err (when err is not NULL): SQ_ERR_NOT_FOUND, SQ_ERR_CONFLICT, SQ_ERR_BAD_REQUEST,
 * SQ_ERR_FORBIDDEN. */
sq_status reg_store_open(reg_store_t **out, const char *dsn, const char *schema_dir, int wait_ms);
void reg_store_close(reg_store_t *s);

/* One deleted or changed entity, for the change events a write causes besides its own. */
typedef struct reg_change {
    const char *kind; /* SQ_KIND_* */
    const char *op;   /* "put" or "delete" */
    char *ns, *name, *version;
} reg_change;

/* Deletes every entity of namespace ns last written at or before `at` (ms): the purge of a
 * deleted namespace (sq.tenancy.delete), which leaves what a namespace made again under the
 * same name has written since. *deleted lists them, for their change events. */
sq_status reg_store_purge_ns(reg_store_t *s, const char *ns, int64_t at, sq_arena_t *ar,
                             reg_change **deleted, size_t *ndeleted);

/* The kinds of entity, in the order of the store's and the handlers' tables. */
typedef enum reg_kind { REG_ACTION, REG_PACKAGE, REG_TRIGGER, REG_RULE, REG_NKINDS } reg_kind;

/* Creates or updates entity ns[/pkg]/name of kind k (pkg: actions only, else NULL) from
 * patch (a reg_patch for an action, else a reg_entity_patch) into *out (sq_action,
 * reg_package, reg_trigger or reg_rule). SQ_ERR_CONFLICT when it exists and !overwrite.
 * An action: its package must exist and not be a binding (404, 400); a sequence's
 * components must exist (400), be readable (403 for a private foreign one), not lead back
 * to the sequence (400) and inline to at most REG_SEQ_MAX atomic actions (400); *out has
 * its code. A package: a binding must point at an existing package (400) that is not a
 * binding (400) and is published or in ns (403); a package never becomes a binding (409).
 * A rule: the trigger must exist in ns (400; a foreign one is 403) and the action must exist
 * (400; through a binding; a foreign one must be in a published package, else 403); an
 * update keeps the status. */
sq_status reg_store_put(reg_store_t *s, reg_kind k, const char *ns, const char *pkg,
                        const char *name, bool overwrite, const void *patch, sq_arena_t *ar,
                        void *out, bool *created, char *err, size_t errlen);

/* What a list asks for: the entities of ns (actions: all, packaged ones too) or of ns/pkg
 * (actions only; a binding lists the bound package's); public (packages): and the published
 * packages of every namespace; shared: only published packages of ns (actions: only ns/pkg
 * of a published package); count: only the number after skip. */
typedef struct reg_list_q {
    const char *ns, *pkg;
    bool shared, public_, count;
    int64_t skip, limit;
} reg_list_q;

/* The page of entities of kind k (newest first; actions without code; bindings are never
 * listed as published) in *items (an array of the kind's structs), or with q->count only
 * *total. */
sq_status reg_store_list(reg_store_t *s, reg_kind k, const reg_list_q *q, sq_arena_t *ar,
                         void **items, size_t *n, int64_t *total, char *err, size_t errlen);

/* Reads action ns[/pkg]/name for get and resolve: through a binding to the bound package's
 * action; for a packaged action the parameters are merged package < binding < action and
 * the namespace is the path of the (bound) package. shared: only actions in published
 * packages may be read (SQ_ERR_FORBIDDEN otherwise). exec.code NULL unless code. */
sq_status reg_store_get_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                               bool code, bool shared, sq_arena_t *ar, sq_action *out, char *err,
                               size_t errlen);

/* Deletes action ns[/pkg]/name (not through a binding: 400) and returns it with code. */
sq_status reg_store_delete_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                                  sq_arena_t *ar, sq_action *out, char *err, size_t errlen);

/* Packages. get: the package (a binding with the bound package's parameters under its own)
 * and the actions of the (bound) package. delete: a package with actions is SQ_ERR_CONFLICT
 * unless force, which deletes them too (listed in *deleted). shared: only published ones. */
sq_status reg_store_get_package(reg_store_t *s, const char *ns, const char *name, bool shared,
                                sq_arena_t *ar, reg_package *out, reg_brief **actions,
                                size_t *nactions, char *err, size_t errlen);
sq_status reg_store_delete_package(reg_store_t *s, const char *ns, const char *name, bool force,
                                   sq_arena_t *ar, reg_package *out, reg_change **deleted,
                                   size_t *ndeleted, char *err, size_t errlen);

/* Triggers. delete also deactivates the rules of the trigger (listed in *changed), as
 * OpenWhisk loses a trigger's rule links with the trigger. get_rules: the rules whose
 * trigger this is (for resolve). */
sq_status reg_store_get_trigger(reg_store_t *s, const char *ns, const char *name, bool with_rules,
                                sq_arena_t *ar, reg_trigger *out, reg_rule **rules, size_t *nrules);
sq_status reg_store_delete_trigger(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                                   reg_trigger *out, reg_change **changed, size_t *nchanged);

/* Rules. set_status: SQ_ERR_NOT_FOUND for a missing rule or trigger. */
sq_status reg_store_set_rule_status(reg_store_t *s, const char *ns, const char *name,
                                    const char *status, sq_arena_t *ar, reg_rule *out, char *err,
                                    size_t errlen);
sq_status reg_store_get_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                             reg_rule *out);
sq_status reg_store_delete_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                                reg_rule *out);

/* One action of a system package: its name and the PUT that makes it. */
typedef struct reg_system_action {
    char *name;
    reg_patch patch;
} reg_system_action;

/* Makes /whisk.system/<pkg> (pkg_patch applied) hold exactly these actions: creates what is
 * missing, updates (version bump) what differs, deletes actions no longer shipped, leaves
 * alone what is the same. Safe when several registries start at once (namespace lock).
 * What changed goes to *changed (in ar) for the events. */
sq_status reg_store_system_package(reg_store_t *s, const char *pkg,
                                   const reg_entity_patch *pkg_patch,
                                   const reg_system_action *actions, size_t n, sq_arena_t *ar,
                                   reg_change **changed, size_t *nchanged);

/* For the registry's other SQL files (routes.c): runs fn with the store's connection under
 * its mutex, as one transaction holding the lock of namespace lock_ns (NULL: plain reads,
 * no transaction); SQ_OK commits, anything else rolls back; retried once on a reset
 * connection. fn must not call the store again. */
struct pg_conn;
typedef sq_status (*reg_sql_fn)(struct pg_conn *conn, void *arg);
sq_status reg_store_run(reg_store_t *s, const char *lock_ns, reg_sql_fn fn, void *arg);

/* ---- system.c ------------------------------------------------------------------------- */

/* Installs every package directory of dir (<dir>/<pkg>/<action>.js, nodejs:20) into
 * /whisk.system, published, and announces what changed on bus (may be NULL). A missing dir
 * is logged and skipped; a package that fails to install is an error. */
sq_status reg_system_install(reg_store_t *s, const char *dir, sq_bus_t *bus);

/* ---- handlers.c ------------------------------------------------------------------------ */

typedef struct reg_ctx {
    reg_store_t *store;
} reg_ctx;

/* Publishes sq.evt.entity.<ns>.<kind> {ns, kind, name, op, version}; logs a failure. */
void reg_publish_event(sq_bus_t *bus, const char *ns, const char *kind, const char *name,
                       const char *op, const char *version);

/* The status a failure that is the registry's own (not the request's) goes out as, without
 * the store's message: SQ_ERR_UNAVAILABLE (503: the database cannot be reached, nothing was
 * done, try again) and SQ_ERR_NOMEM as themselves, anything else SQ_ERR_DB (500). */
static inline sq_status reg_wire_failure(sq_status st)
{
    return st == SQ_ERR_NOMEM || st == SQ_ERR_UNAVAILABLE ? st : SQ_ERR_DB;
}

/* The message handlers; each runs on its route's delivery thread, closure is the reg_ctx.
 * Replies: the entity, map{items}, map{count}, or a wire error (400, 403, 404, 409, 413,
 * 500, 503). */
void reg_on_put(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_get(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_delete(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_list(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_resolve(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_rulestate(sq_bus_t *bus, natsMsg *msg, void *closure);

/* ---- routes.c: API routes (wsk api), sq.registry.route_{put,get,delete} ---------------- */

#define REG_ROUTES_MAX 500 /* API routes of one namespace */

/* routes_store.c. put: in one transaction, replace (req->replace: drop the API's routes
 * first) or upsert the n routes (already checked) into API req->ns + req->basepath, named
 * req->api_name (else the name the API has, else its base path); more than REG_ROUTES_MAX
 * routes in the namespace is SQ_ERR_BAD_REQUEST (err) and nothing is written. *items: the
 * API's routes after the change, in ar. get: the routes matching q ("" matches anything,
 * basepath also an API's name), ordered by basepath, relpath, method. delete: those routes
 * of q (basepath required), *count of them. */
sq_status reg_routes_put(reg_store_t *s, const sq_route_put *req, const sq_route *routes, size_t n,
                         sq_arena_t *ar, sq_route **items, size_t *nitems, char *err,
                         size_t errlen);
sq_status reg_routes_get(reg_store_t *s, const sq_route_query *q, sq_arena_t *ar, sq_route **items,
                         size_t *n);
sq_status reg_routes_delete(reg_store_t *s, const sq_route_query *q, int64_t *count);

void reg_on_route_put(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_route_get(sq_bus_t *bus, natsMsg *msg, void *closure);
void reg_on_route_delete(sq_bus_t *bus, natsMsg *msg, void *closure);

#endif
