/* The wire contract: one struct and one encode/decode pair per message. Every payload is a
 * msgpack map with string keys; the wire format of each message is written above its
 * struct. Decoders take a buffer from the network, check it (sq_mp_check) before unpacking,
 * reject wrong types and missing fields with SQ_ERR_DECODE and a message in err, and put
 * everything they return into the arena (or point into the buffer, which must outlive the
 * arena). Encoders write into a packer and cannot fail except on memory. */
#ifndef SQ_PROTO_H
#define SQ_PROTO_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include "sq/mp.h"
#include "proto/subjects.h"

#define SQ_DECODER(type)                                                                           \
    sq_status type##_decode(const char *buf, size_t len, sq_arena_t *ar, type *out, char *err,     \
                            size_t errlen);                                                        \
    sq_status type##_from(const msgpack_object *o, sq_arena_t *ar, type *out, char *err,           \
                          size_t errlen)

/* ---- auth ------------------------------------------------------------------------------ */

/* sq.auth.verify request: map{key: str "uuid:secret"} */
typedef struct sq_auth_verify {
    char *key;
} sq_auth_verify;
void sq_auth_verify_encode(const sq_auth_verify *m, msgpack_packer *pk);
SQ_DECODER(sq_auth_verify);

/* sq.auth.verify reply: map{subject: str, namespace: str, uuid: str, namespaces: [str]} */
typedef struct sq_identity {
    char *subject;
    char *namespace_;  /* the namespace the key belongs to (what "_" means) */
    char *uuid;        /* the key's uuid (never the secret) */
    char **namespaces; /* every namespace of the subject (NULL-terminated); may be absent */
    size_t nnamespaces;
} sq_identity;
void sq_identity_encode(const sq_identity *m, msgpack_packer *pk);
SQ_DECODER(sq_identity);

/* ---- entities ---------------------------------------------------------------------------- */

/* limits: map{timeout: int ms, memory: int MB, logs: int MB, concurrency: int} */
typedef struct sq_limits {
    int64_t timeout, memory, logs, concurrency;
} sq_limits;
#define SQ_LIMITS_DEFAULT                                                                          \
    ((sq_limits){ .timeout = 60000, .memory = 256, .logs = 10, .concurrency = 1 })

/* Bounds of the per-action limits (OpenWhisk's defaults), and of sequences. The registry
 * enforces them; the gateway's info document (GET /) shows them. */
#define SQ_LIMIT_TIMEOUT_MIN 100 /* ms */
#define SQ_LIMIT_TIMEOUT_MAX 300000
#define SQ_LIMIT_MEMORY_MIN 128 /* MB */
#define SQ_LIMIT_MEMORY_MAX 512
#define SQ_LIMIT_LOGS_MIN 0 /* MB */
#define SQ_LIMIT_LOGS_MAX 10
#define SQ_LIMIT_CONCURRENCY_MIN 1
#define SQ_LIMIT_CONCURRENCY_MAX 500
#define SQ_SEQUENCE_MAX 50 /* atomic actions in a sequence, inlined */

/* The runtimes: one table for the registry (which kinds it accepts, and what
 * "family:default" means), the gateway (GET / lists them) and the invoker. */
typedef struct sq_runtime {
    const char *family, *kind;
    bool is_default, deprecated;
    const char *image; /* what an OpenWhisk client expects to read there */
} sq_runtime;
/* The table; *n receives its length. */
const sq_runtime *sq_runtimes(size_t *n);
/* The concrete kind for kind ("nodejs:20" for "nodejs:default"), or NULL when no runtime
 * has it. "sequence" is not a runtime. */
const char *sq_kind_resolve(const char *kind);

/* exec: map{kind: str, code?: str, main?: str, binary: bool, components?: [str]} */
typedef struct sq_exec {
    char *kind;
    char *code; /* NULL when left out (GET ?code=false) and for sequences */
    char *main; /* NULL: the runtime's default ("main") */
    bool binary;
    msgpack_object components; /* kind "sequence": array of fully qualified action names
                                  ("/ns/name" or "/ns/pkg/name"); nil otherwise */
} sq_exec;

/* An action as the REST API shows it: map{namespace, name, version, exec, parameters:
 * [{key, value}], annotations: [{key, value}], limits, publish: bool, updated: int ms}.
 * namespace is "ns" or "ns/package". */
typedef struct sq_action {
    char *namespace_;
    char *name;
    char *version;
    sq_exec exec;
    msgpack_object parameters;  /* array; nil when absent */
    msgpack_object annotations; /* array; nil when absent */
    sq_limits limits;
    bool publish;
    int64_t updated;
    int64_t rev; /* the registry's revision: new at every write, never reused */
} sq_action;
void sq_action_encode(const sq_action *m, msgpack_packer *pk);
SQ_DECODER(sq_action);

/* One entry of parameters and annotations: map{key: str, value: any, init?: true}. init
 * (parameters, OpenWhisk's): the invoker gives it to the runtime at initialisation, as an
 * environment variable; it is no argument. */
typedef struct sq_kv {
    char *key;
    msgpack_object value;
    bool init;
} sq_kv;
void sq_kv_encode(const sq_kv *m, msgpack_packer *pk);
SQ_DECODER(sq_kv);
/* The value of the first entry {key, value} of the array arr whose key is key (pointing
 * into arr; a nil object when the entry has no value), or NULL: no such entry, or arr is
 * not an array. Entries that are not {key: str, ...} maps are passed over. */
const msgpack_object *sq_kv_value(const msgpack_object *arr, const char *key);

/* limits alone (an annotation's value): the decoder leaves absent limits 0 */
void sq_limits_encode(const sq_limits *m, msgpack_packer *pk);
SQ_DECODER(sq_limits);

/* Entity kinds of the registry, as carried in `kind` fields and in sq.evt.entity.<ns>.<kind>. */
#define SQ_KIND_ACTION "action"
#define SQ_KIND_PACKAGE "package"
#define SQ_KIND_TRIGGER "trigger"
#define SQ_KIND_RULE "rule"

/* The documents of packages, triggers and rules (proto/docs.c), as the REST API shows
 * them (OpenWhisk's shapes). {path, name}: a FullyQualifiedEntityName. */
typedef struct sq_path_name {
    char *path, *name;
} sq_path_name;

/* a package's binding: map{namespace, name}, or {} (both NULL) for a package */
typedef struct sq_binding_ref {
    char *namespace_, *name;
} sq_binding_ref;

/* an action inside a package (PackageAction): map{name, version, publish, annotations,
 * parameters} */
typedef struct sq_brief {
    char *name, *version;
    bool publish;
    msgpack_object annotations, parameters; /* arrays; nil packs [] */
} sq_brief;
void sq_brief_encode(const sq_brief *m, msgpack_packer *pk);
SQ_DECODER(sq_brief);

/* package: map{namespace, name, version, publish, parameters, annotations, binding, updated,
 * actions?: [sq_brief], feeds?: [sq_brief]} (actions and feeds with with_contents: the GET
 * of one package). The decoder reads all but actions and feeds. */
typedef struct sq_package {
    char *namespace_, *name, *version;
    bool publish;
    msgpack_object parameters, annotations; /* arrays of {key, value}; nil packs [] */
    sq_binding_ref binding;
    int64_t updated;
    bool with_contents;
    const sq_brief *actions, *feeds;
    size_t nactions, nfeeds;
} sq_package;
void sq_package_encode(const sq_package *m, msgpack_packer *pk);
SQ_DECODER(sq_package);

/* a rule of a trigger document: "ns/rule": map{action: {path, name}, status} */
typedef struct sq_trigger_rule {
    char *key; /* "ns/rule" */
    sq_path_name action;
    char *status;
} sq_trigger_rule;

/* trigger: map{namespace, name, version, publish, parameters, annotations, limits: {},
 * updated, rules?: map{"ns/rule": ...}} (rules with with_rules). The decoder reads the rules
 * too when they are there (with_rules then true). */
typedef struct sq_trigger {
    char *namespace_, *name, *version;
    bool publish;
    msgpack_object parameters, annotations, limits; /* limits: nil packs {} */
    int64_t updated;
    bool with_rules; /* decoded: true when the document has its rules (then read too) */
    const sq_trigger_rule *rules;
    size_t nrules;
    msgpack_object rules_read; /* decoded: the rules map as it came (nil when absent) */
} sq_trigger;
void sq_trigger_encode(const sq_trigger *m, msgpack_packer *pk);
SQ_DECODER(sq_trigger);

/* rule: map{namespace, name, version, publish, annotations, status: "active"|"inactive",
 * trigger: {path, name}, action: {path, name} (path "ns" or "ns/pkg"), updated} */
typedef struct sq_rule {
    char *namespace_, *name, *version;
    bool publish;
    msgpack_object annotations;
    char *status;
    sq_path_name trigger, action;
    int64_t updated;
} sq_rule;
void sq_rule_encode(const sq_rule *m, msgpack_packer *pk);
SQ_DECODER(sq_rule);

/* sq.evt.trigger.<ns>.<name>, after a fire: map{ns, name, activationId (the trigger
 * activation's; nil when none was recorded), payload, at: int ms, rules: [map{rule, action:
 * "path/name", activationId (nil when the invoke was refused), statusCode, success,
 * error?: str (when refused)}]} */
typedef struct sq_rule_outcome {
    char *rule, *action, *id, *error;
    int64_t status_code;
    bool success;
} sq_rule_outcome;
typedef struct sq_trigger_event {
    char *ns, *name, *id;
    msgpack_object payload;
    int64_t at;
    const sq_rule_outcome *rules; /* the decoder fills them too (in the arena) */
    size_t nrules;
    msgpack_object rules_read; /* decoded: the array as it came */
} sq_trigger_event;
void sq_trigger_event_encode(const sq_trigger_event *m, msgpack_packer *pk);
SQ_DECODER(sq_trigger_event);

/* sq.registry.put request: map{ns, name, kind, overwrite: bool, subject, entity: map (the PUT
 * body as JSON gave it)}; reply: the stored entity as the REST API shows it, or a wire error.
 * name is "name" or, for an action in a package, "pkg/name". The same message on
 * sq.registry.rulestate changes a rule's status: entity {status: "active"|"inactive"}. */
typedef struct sq_reg_put {
    char *ns, *name, *kind, *subject;
    bool overwrite;
    msgpack_object entity;
} sq_reg_put;
void sq_reg_put_encode(const sq_reg_put *m, msgpack_packer *pk);
SQ_DECODER(sq_reg_put);

/* sq.registry.{get,delete,resolve} request: map{ns, name, kind, code: bool, force: bool,
 * shared: bool}; reply: the entity (delete: the deleted one) or a wire error.
 * shared: the caller does not own ns, so only what is published (a public package and its
 * actions) may be read or resolved; anything else is 403. force: delete a non-empty package.
 * resolve (kind "action") answers an sq_action whose parameters are already merged
 * (package < binding < action) and whose namespace is "ns/pkg" for a packaged action. */
typedef struct sq_reg_ref {
    char *ns, *name, *kind;
    bool code, force, shared;
} sq_reg_ref;
void sq_reg_ref_encode(const sq_reg_ref *m, msgpack_packer *pk);
SQ_DECODER(sq_reg_ref);

/* sq.registry.list request: map{ns, kind, skip: int, limit: int, count: bool, public: bool,
 * shared: bool}; reply: map{items: [entity without code]}, or map{count: int} with count.
 * public (packages): also list the published packages of other namespaces. shared: the
 * caller does not own ns: only published entities are listed. */
typedef struct sq_reg_list {
    char *ns, *kind;
    int64_t skip, limit;
    bool count, public_, shared;
} sq_reg_list;
void sq_reg_list_encode(const sq_reg_list *m, msgpack_packer *pk);
SQ_DECODER(sq_reg_list);

/* sq.evt.entity.<ns>.<kind>: map{ns, kind, name, op: "put"|"delete", version} */
typedef struct sq_entity_event {
    char *ns, *kind, *name, *op, *version;
} sq_entity_event;
void sq_entity_event_encode(const sq_entity_event *m, msgpack_packer *pk);
SQ_DECODER(sq_entity_event);

/* API routes (wsk api): the gateway serves /api/{namespace}{basepath}{relpath} for method
 * by running the web action action_ns/[action_pkg/]action_name with the extension
 * response_type ("http", "json", "html", "svg", "text"). method is lower case; relpath may
 * hold path parameters as whole segments ("/books/{isbn}"); basepath is "/" or "/a[/b]";
 * api_name names the API (every route of a basepath carries the same). In an
 * sq_route_put, namespace and basepath of the routes are the put's (absent or ""). */
#define SQ_KIND_ROUTE "route"
typedef struct sq_route {
    char *namespace_, *basepath, *relpath, *method, *api_name;
    char *action_ns, *action_pkg, *action_name, *response_type;
    int64_t updated;
} sq_route;
void sq_route_encode(const sq_route *m, msgpack_packer *pk);
SQ_DECODER(sq_route);

/* sq.registry.route_put request: map{ns, basepath, api_name, replace: bool, routes: [sq_route]};
 * adds (or replaces, same relpath and method) the routes in the API ns+basepath, or with
 * replace makes the API hold exactly these routes. Every action must exist in ns and be a
 * web action. Reply: map{items: [sq_route]} (the API's routes after the change) or a wire
 * error (400 bad route, 403 action of another namespace, 404 no such action). */
typedef struct sq_route_put {
    char *ns, *basepath, *api_name;
    bool replace;
    msgpack_object routes;
} sq_route_put;
void sq_route_put_encode(const sq_route_put *m, msgpack_packer *pk);
SQ_DECODER(sq_route_put);

/* sq.registry.route_get / sq.registry.route_delete request: map{ns, basepath, relpath,
 * method} ("" = any; basepath also matches an API's name). get replies map{items:
 * [sq_route]} ordered by basepath, relpath, method; delete replies map{count} or 404 when
 * nothing matched. */
typedef struct sq_route_query {
    char *ns, *basepath, *relpath, *method;
} sq_route_query;
void sq_route_query_encode(const sq_route_query *m, msgpack_packer *pk);
SQ_DECODER(sq_route_query);

/* sq.evt.log.<ns>.<activationId>: map{activationId, namespace, name, line?: str, end: bool}.
 * One message per log line an action writes while it runs ("<time> stdout: text", as the
 * record's logs; at most the action's log limit), then one with end true and no line after
 * the action ended. namespace and name: the action's (name may be "pkg/name"). */
typedef struct sq_log_event {
    char *id, *ns, *name;
    char *line; /* NULL in the end marker */
    bool end;
} sq_log_event;
void sq_log_event_encode(const sq_log_event *m, msgpack_packer *pk);
SQ_DECODER(sq_log_event);

/* sq.auth.limits request: map{ns} -> sq_ns_limits, or a wire error (404 unknown namespace) */
typedef struct sq_ns_ref {
    char *ns;
} sq_ns_ref;
void sq_ns_ref_encode(const sq_ns_ref *m, msgpack_packer *pk);
SQ_DECODER(sq_ns_ref);

/* A namespace's limits, as GET /namespaces/{ns}/limits shows them: map{concurrentInvocations,
 * invocationsPerMinute, firesPerMinute, actionTimeoutMax (ms), actionMemoryMax (MB),
 * blocked?: true}. blocked (only sent when true): the namespace's subject is blocked, so
 * nothing of it may run (the scheduler refuses its invocations, triggers its fires). */
typedef struct sq_ns_limits {
    int64_t concurrent, per_minute, fires_per_minute, timeout_max, memory_max;
    bool blocked;
} sq_ns_limits;
#define SQ_NS_LIMITS_DEFAULT                                                                       \
    ((sq_ns_limits){ .concurrent = 100,                                                            \
                     .per_minute = 120,                                                            \
                     .fires_per_minute = 60,                                                       \
                     .timeout_max = 300000,                                                        \
                     .memory_max = 512 })
void sq_ns_limits_encode(const sq_ns_limits *m, msgpack_packer *pk);
SQ_DECODER(sq_ns_limits);

/* sq.auth.admin request (squall-admin -> auth): map{token, op, subject?, namespace?, limits?:
 * map (sq_ns_limits fields to set)}. op: "user.create", "user.delete", "user.get",
 * "user.list", "user.block", "user.unblock", "key.rotate", "limits.get", "limits.set".
 * A wrong token is 401. Replies are maps shaped for printing as JSON. */
typedef struct sq_admin {
    char *token, *op, *subject, *namespace_;
    msgpack_object limits; /* map; nil when absent */
} sq_admin;
void sq_admin_encode(const sq_admin *m, msgpack_packer *pk);
SQ_DECODER(sq_admin);

/* Replies of sq.auth.admin (proto/auth.c). user.create and key.rotate: map{subject,
 * namespace, key} (the new key: the only place it is ever shown). */
typedef struct sq_admin_key {
    char *subject, *namespace_, *key;
} sq_admin_key;
void sq_admin_key_encode(const sq_admin_key *m, msgpack_packer *pk);
SQ_DECODER(sq_admin_key);

/* user.get: map{subject, blocked: bool, namespaces: [map{name, uuid (nil: no key)}]} */
typedef struct sq_admin_ns {
    char *name, *uuid;
} sq_admin_ns;
typedef struct sq_admin_user {
    char *subject;
    bool blocked;
    const sq_admin_ns *nss; /* the decoder fills them too (in the arena) */
    size_t nnss;
    msgpack_object nss_read; /* decoded: the array as it came */
} sq_admin_user;
void sq_admin_user_encode(const sq_admin_user *m, msgpack_packer *pk);
SQ_DECODER(sq_admin_user);

/* user.delete: map{subject, deleted: true, namespaces: [str]} */
typedef struct sq_admin_deleted {
    char *subject;
    bool deleted;
    char **namespaces;
    size_t nnamespaces;
} sq_admin_deleted;
void sq_admin_deleted_encode(const sq_admin_deleted *m, msgpack_packer *pk);
SQ_DECODER(sq_admin_deleted);

/* user.block, user.unblock: map{subject, blocked: bool} */
typedef struct sq_admin_blocked {
    char *subject;
    bool blocked;
} sq_admin_blocked;
void sq_admin_blocked_encode(const sq_admin_blocked *m, msgpack_packer *pk);
SQ_DECODER(sq_admin_blocked);

/* user.list: map{subjects: [str]} */
typedef struct sq_admin_subjects {
    char **subjects;
    size_t nsubjects;
} sq_admin_subjects;
void sq_admin_subjects_encode(const sq_admin_subjects *m, msgpack_packer *pk);
SQ_DECODER(sq_admin_subjects);

/* sq.evt.auth: map{op: "key"|"block"|"delete"|"limits", subject, namespace?, blocked?} after
 * every change of keys, subjects or limits, so caches (gateway keys, scheduler and triggers
 * limits) drop them. A block or unblock is announced once per namespace of the subject.
 *
 * sq.tenancy.delete.<ns> (JetStream stream SQ_TENANCY, 7 days, Nats-Msg-Id = "<ns>.<at>"):
 * map{op: "delete", subject, namespace, at: int ms}, published by auth when a namespace is
 * deleted. Each service that keeps something of a namespace (registry: entities;
 * activations: records) follows it with a durable consumer of its own, so the purge happens
 * even when the service was down at the time; it removes what the namespace had up to `at`
 * (a namespace made again afterwards starts empty and keeps what it makes). */
typedef struct sq_auth_event {
    char *op, *subject, *namespace_; /* namespace_ NULL: absent */
    bool has_blocked;                /* blocked is said (block and unblock) */
    bool blocked;
} sq_auth_event;
void sq_auth_event_encode(const sq_auth_event *m, msgpack_packer *pk);
SQ_DECODER(sq_auth_event);

typedef struct sq_tenancy_event {
    char *op, *subject, *namespace_;
    int64_t at;
} sq_tenancy_event;
void sq_tenancy_event_encode(const sq_tenancy_event *m, msgpack_packer *pk);
SQ_DECODER(sq_tenancy_event);

/* ---- invocation ---------------------------------------------------------------------- */

/* sq.sched.invoke request: map{id: 32-hex, ns: action namespace, name: action name (may be
 * "pkg/name"), subject: caller, key: caller's API key (handed on as __OW_API_KEY only to an
 * action of caller_ns annotated provide-api-key: true, see sq_work), params: map or array,
 * blocking: bool, wait_ms: int (blocking wait before 202), shared: bool, caller_ns: str,
 * cause?: str}. Replies go to the request's reply subject: a wire error; map{activationId}
 * when queued (non-blocking); or, from the invoker, the activation record (sq_activation)
 * when blocking. cause: the id of the activation that caused this one (the trigger
 * activation, for the invoke of a rule's action); the scheduler passes it on as sq_work.cause. */
typedef struct sq_invoke {
    char *id, *ns, *name, *subject, *key;
    msgpack_object params; /* map; an array (the action's input as it is, no parameters
                                merged, as OpenWhisk); nil when absent */
    bool blocking;
    int64_t wait_ms;
    bool shared;     /* the caller does not own ns (see sq_reg_ref) */
    char *caller_ns; /* the caller's namespace (for limits and records); may be absent */
    char *cause;     /* the causing activation's id; NULL (nil on the wire) for none */
    int64_t min_rev; /* > 0: the action's registry revision is at least this (the caller
                        just wrote it: read your writes); 0 (absent): any */
} sq_invoke;
void sq_invoke_encode(const sq_invoke *m, msgpack_packer *pk);
SQ_DECODER(sq_invoke);

/* The invokes of a trigger fire's rules as one sq.sched.invoke request (header SQ_HDR_BATCH):
 * map{subject, key, params, caller_ns, cause, rules: [map{id, ns, name, shared}]}, each rule
 * a non-blocking sq_invoke of those fields. One answer on the request's reply subject: a
 * wire error (the whole batch refused), or sq_invoke_outcomes with one entry per rule, in
 * order. */
typedef struct sq_batch_rule {
    char *id, *ns, *name;
    bool shared;
} sq_batch_rule;
typedef struct sq_invoke_batch {
    char *subject, *key, *caller_ns, *cause;
    msgpack_object params;
    const sq_batch_rule *rules; /* the decoder fills them too (in the arena) */
    size_t nrules;
    msgpack_object rules_read; /* decoded: the array as it came */
} sq_invoke_batch;
void sq_invoke_batch_encode(const sq_invoke_batch *m, msgpack_packer *pk);
SQ_DECODER(sq_invoke_batch);

/* The answer to an sq_invoke_batch: map{rules: [map{activationId?, code, error?}]}: code 0
 * queued as activationId, else the HTTP status of the rule's refusal and its message. */
typedef struct sq_invoke_outcome {
    char *id, *error;
    int64_t code;
} sq_invoke_outcome;
typedef struct sq_invoke_outcomes {
    const sq_invoke_outcome *rules; /* the decoder fills them too (in the arena) */
    size_t nrules;
    msgpack_object rules_read;
} sq_invoke_outcomes;
void sq_invoke_outcomes_encode(const sq_invoke_outcomes *m, msgpack_packer *pk);
SQ_DECODER(sq_invoke_outcomes);

/* Work for an invoker, sq.invoker.<id>.run (blocking, core NATS) or sq.work.<id>
 * (JetStream): map{id, subject, key, reply: str ("" when nobody waits), blocking: bool,
 * submitted: int ms, action: sq_action (with code), params: map (merged), cause: str,
 * caused_by: str, ns?: str}. key: the caller's API key, only when the action asked for it
 * (annotation provide-api-key true) and lives in the caller's own namespace; "" otherwise.
 * ns: the caller's namespace, where the record is stored (OpenWhisk records an activation
 * in the invoker's namespace, the action's path in its `path` annotation). cause: the id of the activation that caused this one ("" when none): the
 * sequence or conductor it is a component of, or the trigger activation whose rule invoked
 * it; caused_by says which ("sequence" or "trigger"). The invoker annotates the record
 * {causedBy: caused_by} and {cause: the id}. binding?: "ns/binding" when the action was
 * reached through a package binding (the record is annotated {binding: it}). params may be
 * an array (a component of a sequence given its predecessor's array result). */
typedef struct sq_work {
    char *id, *subject, *key, *reply, *cause, *caused_by;
    char *ns; /* the namespace the record goes to: the caller's ("" on the
                                wire or absent: the action's own) */
    bool blocking;
    int64_t submitted;
    sq_action action;
    msgpack_object params; /* a map; an array when a sequence passes a component's array
                                result on (OpenWhisk: no parameters are merged into it) */
    char *binding;         /* "ns/binding" when the action was invoked through a package
                                binding (the record's `binding` annotation); NULL or "" (absent
                                on the wire) otherwise */
} sq_work;
void sq_work_encode(const sq_work *m, msgpack_packer *pk);
SQ_DECODER(sq_work);

/* sq.invoker.heartbeat: map{id, total_mb, free_mb, warm: int, busy: int, healthy: bool,
 * draining: bool, at: int ms, started: int ms, actions?: map{"ns/name": int}}. started: when
 * this invoker process started (0: not told); a scheduler that sees it change knows the
 * invoker restarted and lost the work it had in hand. actions: the invoker's containers per
 * action path ("ns/name" or "ns/pkg/name", busy or idle, stem cells excluded), so a scheduler
 * may prefer an invoker that has one warm; left out when nil. */
typedef struct sq_heartbeat {
    char *id;
    int64_t total_mb, free_mb, warm, busy, at, started;
    bool healthy, draining;
    msgpack_object actions; /* map; nil when absent */
} sq_heartbeat;
void sq_heartbeat_encode(const sq_heartbeat *m, msgpack_packer *pk);
SQ_DECODER(sq_heartbeat);

/* sq.sched.heartbeat, from every scheduler copy about once a second: map{id: str (random
 * per process), at: int ms}. Each copy counts the live copies to take its fair share of
 * every namespace limit and of every invoker's capacity. */
typedef struct sq_sched_beat {
    char *id;
    int64_t at;
} sq_sched_beat;
void sq_sched_beat_encode(const sq_sched_beat *m, msgpack_packer *pk);
SQ_DECODER(sq_sched_beat);

/* sq.sched.moved, from the scheduler copy that moved queued work off a dead invoker to a
 * live one: map{id: activation id, invoker: the new invoker's id, seq: int (the work's
 * sequence in SQ_WORK)}. The copy that admitted the activation follows it there. */
typedef struct sq_sched_moved {
    char *id, *invoker;
    int64_t seq;
} sq_sched_moved;
void sq_sched_moved_encode(const sq_sched_moved *m, msgpack_packer *pk);
SQ_DECODER(sq_sched_moved);

/* The scheduler's note of a composition in progress (key-value bucket, key: its activation
 * id), so another copy records it as lost should this one stop: map{owner, start: int ms, ns,
 * name, version, subject, path, timeout, memory, logs, concurrency (the action's limits),
 * cause, caused_by, binding}. caused_by absent: a note written before it was kept. */
typedef struct sq_run_note {
    char *owner, *ns, *name, *version, *subject, *path, *cause, *caused_by, *binding;
    int64_t start;
    sq_limits limits;
} sq_run_note;
void sq_run_note_encode(const sq_run_note *m, msgpack_packer *pk);
SQ_DECODER(sq_run_note);

/* sq.trigger.fire request (gateway -> triggers): map{id: the trigger activation's 32-hex id,
 * ns, name, subject, key, caller_ns, payload: map}. Reply: map{activationId} when at least one
 * active rule fired (HTTP 202), map{activationId, rules: 0} when none is active (HTTP 204),
 * or a wire error (404 unknown trigger, 429 fires per minute...). Integrators may also
 * publish a payload (JSON or msgpack map) to sq.fire.<ns>.<trigger> (SQ_SUBJ_FIRE_FMT). */
typedef struct sq_fire {
    char *id, *ns, *name, *subject, *key, *caller_ns;
    msgpack_object payload; /* map; nil when absent */
} sq_fire;
void sq_fire_encode(const sq_fire *m, msgpack_packer *pk);
SQ_DECODER(sq_fire);

/* ---- the triggers service's own (proto/feeds.c) ------------------------------------------- */

/* Its cache's view of a trigger with its active rules: map{ns, name, version, parameters,
 * annotations, rules: [map{rule ("ns/rule"), action_path, action_name, invoke_ns,
 * invoke_name}]}. The decoder fills rules (in the arena). */
typedef struct sq_view_rule {
    char *rule; /* "ns/rule" */
    char *action_path, *action_name, *invoke_ns, *invoke_name;
} sq_view_rule;
typedef struct sq_trigger_view {
    char *ns, *name, *version;
    msgpack_object parameters;  /* [{key, value}] or nil */
    msgpack_object annotations; /* [{key, value}] or nil */
    sq_view_rule *rules;
    size_t nrules;
    msgpack_object rules_read; /* decoded: the array */
} sq_trigger_view;
void sq_trigger_view_encode(const sq_trigger_view *m, msgpack_packer *pk);
SQ_DECODER(sq_trigger_view);

/* A NATS feed in its key-value bucket: map{ns, name, subject} */
typedef struct sq_feed_note {
    char *ns, *name, *subject;
} sq_feed_note;
void sq_feed_note_encode(const sq_feed_note *m, msgpack_packer *pk);
SQ_DECODER(sq_feed_note);

/* The payload of a NATS feed's message that is not a map: map{message: str} (the bytes as
 * they came; a msgpack string object, so they may hold any byte) */
typedef struct sq_feed_message {
    msgpack_object message;
} sq_feed_message;
void sq_feed_message_encode(const sq_feed_message *m, msgpack_packer *pk);
SQ_DECODER(sq_feed_message);

/* An alarm in its key-value bucket: map{ns, name, type, cron (str or nil), minutes, date,
 * startDate, stopDate (int ms), payload (map or nil), created (int ms)}. alarms.c checks it
 * with the checker of the alarm annotation (the same keys). */
/* When an alarm fires: type, cron, minutes, date, startDate, stopDate, created */
typedef struct sq_alarm_when {
    char *type;
    char *cron; /* NULL: nil (absent in an sq_alarm_cfg) */
    int64_t minutes, date, start_date, stop_date, created;
} sq_alarm_when;
typedef struct sq_alarm_note {
    char *ns, *name;
    sq_alarm_when when;
    msgpack_object payload;
} sq_alarm_note;
void sq_alarm_note_encode(const sq_alarm_note *m, msgpack_packer *pk);
SQ_DECODER(sq_alarm_note);

/* A trigger's annotation `alarm`, as the alarms feed actions write it: map{type: "alarm" |
 * "cron" | "interval" | "once", cron?: str, minutes?, date?, startDate?, stopDate?,
 * created? (int ms), trigger_payload?: map, paused?: bool} */
typedef struct sq_alarm_cfg {
    sq_alarm_when when;
    msgpack_object trigger_payload; /* nil when absent */
    bool paused;
} sq_alarm_cfg;
void sq_alarm_cfg_encode(const sq_alarm_cfg *m, msgpack_packer *pk);
SQ_DECODER(sq_alarm_cfg);

/* A trigger's annotation `nats`, as the NATS feed action writes it: map{subject?: str,
 * paused?: bool} */
typedef struct sq_nats_cfg {
    char *subject;
    bool paused;
} sq_nats_cfg;
void sq_nats_cfg_encode(const sq_nats_cfg *m, msgpack_packer *pk);
SQ_DECODER(sq_nats_cfg);

/* ---- activations ------------------------------------------------------------------- */

/* response.statusCode values, as OpenWhisk numbers them */
typedef enum sq_act_status {
    SQ_ACT_SUCCESS = 0,
    SQ_ACT_APP_ERROR = 1,
    SQ_ACT_DEV_ERROR = 2,
    SQ_ACT_INTERNAL = 3,
} sq_act_status;
/* "success", "application error", "action developer error", "whisk internal error" */
const char *sq_act_status_str(sq_act_status s);

/* An activation record as the REST API shows it: map{activationId, namespace, name,
 * version, subject, start: int ms, end: int ms, duration: int ms, response: map{status: str,
 * statusCode: int, success: bool, result: any}, logs: [str], annotations: [{key, value}],
 * publish: bool, cause?: str}. Published on SQ_ACTIVATIONS (sq.act.<ns>) and sent to a
 * blocking caller. cause (OpenWhisk's top-level field): the id of the sequence or conductor
 * this activation is a component of; sq_activation_encode writes it from the annotations of
 * a record annotated {causedBy: "sequence"} (its {cause} annotation), so every maker of
 * records (the invoker's for atomic components, the scheduler's for nested compositions)
 * carries it alike; the decoder reads it (NULL when absent). */
typedef struct sq_activation {
    char *id, *namespace_, *name, *version, *subject;
    int64_t start, end, duration;
    sq_act_status status;
    msgpack_object result; /* any; usually a map */
    char **logs;
    size_t nlogs;
    msgpack_object annotations; /* array; nil when absent */
    bool publish;
    char *cause; /* decoded only (see above); the encoder does not read it */
} sq_activation;
void sq_activation_encode(const sq_activation *m, msgpack_packer *pk);
SQ_DECODER(sq_activation);

/* sq.evt.activation.<ns>, after a record is stored: the record without response.result,
 * logs and cause (map{activationId, namespace, name, version, subject, start, end, duration,
 * response: map{status, statusCode, success}, annotations, publish}); sq_activation_decode
 * reads it (result nil, no logs). */
void sq_activation_event_encode(const sq_activation *m, msgpack_packer *pk);

/* OpenWhisk's activation summary, an item of sq.activations.list without docs:
 * map{activationId, annotations, duration, end, name, namespace, publish, start, statusCode,
 * subject, version} */
void sq_activation_summary_encode(const sq_activation *m, msgpack_packer *pk);

/* The annotations of an activation record, as OpenWhisk writes them: one encoder for every
 * service that makes a record (invoker, scheduler for sequences and lost work), so their
 * shapes cannot drift. Packs [{key, value}, ...] in this order, leaving out what is absent:
 * topmost (compositions), path, conductor, kind, limits {timeout, memory, logs, concurrency},
 * binding, waitTime, initTime, timeout, causedBy, cause, invoker. causedBy is written only
 * with a cause, as its maker says ("sequence": a composition's component, whose record also
 * gets the top-level cause; "trigger": a rule's action), never guessed; limits always has the
 * four of them. The array's count is the number of entries made, never computed apart. */
typedef struct sq_act_annots {
    const char *path;        /* "ns[/pkg]/name" of what ran; required */
    const char *kind;        /* exec kind; "sequence" for compositions; required */
    const sq_limits *limits; /* NULL: absent */
    bool composition;        /* a sequence or conductor: topmost is written */
    bool topmost, conductor;
    const char *binding;   /* "ns/binding" when invoked through a binding; NULL: absent */
    int64_t wait_time;     /* ms; < 0: absent */
    int64_t init_time;     /* ms; < 0: absent (a warm start) */
    bool timeout;          /* the action ran out of time */
    const char *caused_by; /* "sequence" | "trigger"; NULL or "" (or no cause): absent */
    const char *cause;     /* the causing activation's id; NULL or "": absent */
    const char *invoker;   /* the invoker that ran it; NULL: absent */
} sq_act_annots;
#define SQ_ACT_ANNOTS_INIT ((sq_act_annots){ .wait_time = -1, .init_time = -1 })
void sq_act_annots_encode(const sq_act_annots *a, msgpack_packer *pk);

/* sq.activations.{get,logs,list} request: map{ns, id?, name?, skip, limit, since, upto,
 * docs: bool, count: bool}. get -> the record; logs -> map{logs: [str]}; list ->
 * map{items: [record]}, newest first, logs and result left out unless docs; with count ->
 * map{count: int} (count with docs is 400). */
typedef struct sq_act_query {
    char *ns, *id, *name;
    int64_t skip, limit, since, upto;
    bool docs, count;
} sq_act_query;
void sq_act_query_encode(const sq_act_query *m, msgpack_packer *pk);
SQ_DECODER(sq_act_query);

/* ---- helpers ---------------------------------------------------------------------------- */

/* The JetStream streams SQ_WORK (work-queue retention, sq.work.>) and SQ_ACTIVATIONS
 * (sq.act.>: limits retention, the activation store's sweep purging a record once the store
 * and the schedulers have it; a byte cap, SQ_JS_ACTIVATIONS_MAX_MB, past which new records are
 * refused and their publishers retry; seven days at most). Publishers set the header Nats-Msg-Id to the activation id, so a retried
 * publish is stored once. Each stream has one owner, the only NATS user allowed to create
 * it (ops/squall's permissions): SQ_WORK the scheduler, SQ_ACTIVATIONS the activations
 * service. sq_streams_ensure() creates the streams in `create` unless they exist, and waits
 * (up to a minute, so start-up order does not matter) for the ones in `wait` that their
 * owner has not made yet. */
#define SQ_STREAMS_WORK 1u
#define SQ_STREAMS_ACTIVATIONS 2u
typedef struct __jsCtx jsCtx;
sq_status sq_streams_ensure(jsCtx *js, unsigned create, unsigned wait);
/* Creates the stream SQ_TENANCY (sq.tenancy.>, seven days) unless it exists: auth, its
 * owner, does; its followers wait for it (at most a minute). */
sq_status sq_stream_tenancy_ensure(jsCtx *js);
/* Creates the stream name (limits retention on subject, records kept max_age_ns) unless it
 * exists, the way the ones above are made: a service's own stream (the triggers' events).
 * SQ_ERR_UNAVAILABLE, logged, when it could not. */
sq_status sq_stream_limits_ensure(jsCtx *js, const char *name, const char *subject,
                                  int64_t max_age_ns);
sq_status sq_stream_tenancy_await(jsCtx *js);

/* Follows SQ_TENANCY with the durable pull consumer `durable` (proto/tenancy.c): fn runs on
 * the follower's thread for every deleted namespace, also for those deleted while the
 * service was down. fn returns 0 to acknowledge the event, a negative number to have it
 * delivered again 5 s later (it failed), or a positive number of ms to have it delivered
 * again after that long (a second pass). fn must be idempotent. sq_tenancy_unfollow()
 * stops the thread (NULL is a no-op). */
typedef int64_t (*sq_tenancy_fn)(const sq_tenancy_event *ev, void *closure);
typedef struct sq_tenancy_follower sq_tenancy_follower;
sq_status sq_tenancy_follow(sq_tenancy_follower **out, jsCtx *js, const char *durable,
                            sq_tenancy_fn fn, void *closure);
void sq_tenancy_unfollow(sq_tenancy_follower *f);

/* The table-driven map encoder (proto/encode.c): packs the struct `in` as a map of the
 * fields of the table its decoder reads (sq_mp_field), in table order, leaving out what the
 * fields' SQ_ENC_* flags say; the map's count is computed from the same table. */
void sq_proto_encode_map(msgpack_packer *pk, const sq_mp_field *fields, size_t n, const void *in);
/* The number of entries sq_proto_encode_map writes for `in`. */
uint32_t sq_proto_count(const sq_mp_field *fields, size_t n, const void *in);
/* sq_mp_decode_map, then absent SQ_ENC_STR0 strings read as "". */
sq_status sq_proto_decode_map(const msgpack_object *o, const sq_mp_field *fields, size_t n,
                              sq_arena_t *ar, void *out, char *err, size_t errlen);

/* A packer writing into sb; both initialised. */
void sq_proto_buf_init(msgpack_sbuffer *sb, msgpack_packer *pk);

/* One message sent: SQ_RESPOND(bus, req, sq_count, &c) packs c with sq_count_encode and
 * answers req with it; SQ_PUBLISH(bus, subject, type, m) publishes it (sq/bus.h). */
#define SQ_SEND_(send, bus, to, type, m)                                                           \
    do {                                                                                           \
        msgpack_sbuffer sb_;                                                                       \
        msgpack_packer pk_;                                                                        \
        sq_proto_buf_init(&sb_, &pk_);                                                             \
        type##_encode((m), &pk_);                                                                  \
        send((bus), (to), sb_.data, sb_.size);                                                     \
        msgpack_sbuffer_destroy(&sb_);                                                             \
    } while (0)
#define SQ_RESPOND(bus, req, type, m) SQ_SEND_(sq_bus_respond, bus, req, type, m)
#define SQ_PUBLISH(bus, subject, type, m) SQ_SEND_(sq_bus_publish, bus, subject, type, m)

/* the small replies and views (proto/replies.c and others) */
#include "proto/replies.h"

#endif
