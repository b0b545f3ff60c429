/* proto_test's message descriptors: the encode/decode pair of every message, the comparator
 * that checks a decoded message field by field, the field specs the mutations follow, and the
 * table of them all (msgs). */
#include "proto_test.h"

/* ---------------------------------------------------------------- message descriptors */

#define WRAP(type)                                                                                 \
    static sq_status dec_##type(const char *b, size_t l, sq_arena_t *a, void *o, char *e,          \
                                size_t el)                                                         \
    {                                                                                              \
        return type##_decode(b, l, a, (type *)o, e, el);                                           \
    }                                                                                              \
    static void enc_##type(const void *m, msgpack_packer *pk)                                      \
    {                                                                                              \
        type##_encode((const type *)m, pk);                                                        \
    }

WRAP(sq_auth_verify)
WRAP(sq_identity)
WRAP(sq_action)
WRAP(sq_reg_put)
WRAP(sq_reg_ref)
WRAP(sq_reg_list)
WRAP(sq_entity_body)
WRAP(sq_exec_body)
WRAP(sq_limits_body)
WRAP(sq_binding_body)
WRAP(sq_kv_entry)
WRAP(sq_entity_event)
WRAP(sq_invoke)
WRAP(sq_work)
WRAP(sq_heartbeat)
WRAP(sq_activation)
WRAP(sq_act_query)
WRAP(sq_ns_ref)
WRAP(sq_ns_limits)
WRAP(sq_admin)
WRAP(sq_fire)
WRAP(sq_sched_beat)
WRAP(sq_sched_moved)
WRAP(sq_tenancy_event)
WRAP(sq_route)
WRAP(sq_route_put)
WRAP(sq_route_query)
WRAP(sq_log_event)
WRAP(sq_act_ref)
WRAP(sq_count)
WRAP(sq_act_error)
WRAP(sq_act_logs)
WRAP(sq_act_record_logs)
WRAP(sq_run_note)
WRAP(sq_package)
WRAP(sq_trigger)
WRAP(sq_rule)
WRAP(sq_trigger_event)
WRAP(sq_invoke_batch)
WRAP(sq_invoke_outcomes)
WRAP(sq_auth_event)
WRAP(sq_admin_key)
WRAP(sq_admin_user)
WRAP(sq_admin_deleted)
WRAP(sq_admin_blocked)
WRAP(sq_admin_subjects)
WRAP(sq_trigger_view)
WRAP(sq_feed_note)
WRAP(sq_feed_message)
WRAP(sq_alarm_note)
WRAP(sq_kv)
WRAP(sq_limits)
WRAP(sq_alarm_cfg)
WRAP(sq_nats_cfg)
WRAP(sq_route_list)
WRAP(sq_health)
WRAP(sq_conductor_step)
WRAP(sq_brief)

/* ---------------------------------------------------------------- samples and comparisons */

/* [] as a msgpack object (what a nil array travels as). */
static const msgpack_object *empty_array(void)
{
    static msgpack_object empty;
    if (empty.type != MSGPACK_OBJECT_ARRAY)
        empty = J("[]");
    return &empty;
}

/* "what: field", for a failure's message (the comparators' checks share a line). */
static const char *of(const char *what, const char *field)
{
    static char buf[400];
    snprintf(buf, sizeof buf, "%s: %s", what, field);
    return buf;
}

/* A comparator checks each field of a decoded message (g) against the message encoded (w),
 * and is written as the list of its fields: S a string, I an integer, B a bool, O a msgpack
 * object, OPT a string whose NULL travels as "", NILARR an array whose nil travels as [],
 * EACH(n, ...) the fields of elements 0..n-1 (index i; as many as both have), SUB(f, cmp) a
 * nested struct through its own comparator, NULLTERM(f, n) an array of n with a NULL after
 * them, CALL(fn) fn(w, g, what) for the checks that are not a field's. */
#define CMP(type, fields)                                                                          \
    static void cmp_##type(const void *a, const void *b, const char *what)                         \
    {                                                                                              \
        const type *w = a, *g = b;                                                                 \
        fields                                                                                     \
    }
#define S(f) CHECK_STR(g->f, w->f, of(what, #f));
#define I(f) CHECK_INT(g->f, w->f, of(what, #f));
#define B(f) CHECK((bool)g->f == (bool)w->f, "%s: bool " #f " got %d want %d", what, g->f, w->f);
#define O(f) CHECK(obj_eq(&g->f, &w->f), "%s: object " #f " differs", what);
#define OPT(f) CHECK_STR(g->f, w->f ? w->f : "", of(what, #f));
#define NILARR(f)                                                                                  \
    CHECK(obj_eq(&g->f, w->f.type == MSGPACK_OBJECT_NIL ? empty_array() : &w->f),                  \
          "%s: " #f " differ", what);
#define NULLTERM(f, n)                                                                             \
    CHECK(g->f != NULL && g->f[g->n] == NULL, "%s: " #f " not NULL-terminated", what);
#define CALL(fn) fn(w, g, what);
#define EACH(n, items)                                                                             \
    for (size_t i = 0; i < w->n && i < g->n; i++) {                                                \
        items                                                                                      \
    }
#define SUB(f, cmp)                                                                                \
    {                                                                                              \
        char sub_[300];                                                                            \
        snprintf(sub_, sizeof sub_, "%s." #f, what);                                               \
        cmp(&w->f, &g->f, sub_);                                                                   \
    }

CMP(sq_auth_verify, S(key))
CMP(sq_identity,
    S(subject) S(namespace_) S(uuid) I(nnamespaces) EACH(nnamespaces, S(namespaces[i])))
CMP(sq_limits, I(timeout) I(memory) I(logs) I(concurrency))
CMP(sq_action, S(namespace_) S(name) S(version) S(exec.kind) S(exec.code) S(exec.main)
                   B(exec.binary) NILARR(parameters) NILARR(annotations) SUB(limits, cmp_sq_limits)
                       B(publish) I(updated) I(rev))
CMP(sq_reg_put, S(ns) S(name) S(kind) S(subject) B(overwrite) O(entity))
CMP(sq_reg_ref, S(ns) S(name) S(kind) B(code) B(force) B(shared))
CMP(sq_reg_list, S(ns) S(kind) I(skip) I(limit) B(count) B(public_) B(shared))
CMP(sq_entity_body, O(version) O(publish) O(parameters) O(annotations) O(exec) O(del_annotations)
                        O(limits) O(binding) O(status) O(trigger) O(action))
CMP(sq_exec_body, O(kind) O(code) O(image) O(main) O(binary) O(components))
CMP(sq_limits_body, O(timeout) O(memory) O(logs) O(concurrency))
CMP(sq_binding_body, O(namespace_) O(name))
CMP(sq_kv_entry, S(key) O(value))
CMP(sq_route, S(namespace_) S(basepath) S(relpath) S(method) S(api_name) S(action_ns) S(action_pkg)
                  S(action_name) S(response_type) I(updated))
CMP(sq_route_put, S(ns) S(basepath) S(api_name) B(replace) O(routes))
CMP(sq_route_query, S(ns) S(basepath) S(relpath) S(method))
CMP(sq_entity_event, S(ns) S(kind) S(name) S(op) S(version))
CMP(sq_log_event, S(id) S(ns) S(name) S(line) B(end))
CMP(sq_invoke, S(id) S(ns) S(name) S(subject) S(key) O(params) B(blocking) I(wait_ms) B(shared)
                   S(caller_ns) S(cause) I(min_rev))
/* NULL key, reply, cause, caused_by, ns (the action's namespace) and binding travel as "" */
CMP(sq_work, S(id) S(subject) OPT(key) OPT(reply) B(blocking) I(submitted) O(params) OPT(cause)
                 OPT(caused_by) OPT(ns) OPT(binding) SUB(action, cmp_sq_action))
CMP(sq_heartbeat,
    S(id) I(total_mb) I(free_mb) I(warm) I(busy) I(at) I(started) B(healthy) B(draining))
CMP(sq_sched_beat, S(id) I(at))
CMP(sq_sched_moved, S(id) S(invoker) I(seq))
CMP(sq_activation, S(id) S(namespace_) S(name) S(version) S(subject) I(start) I(end) I(duration)
                       I(status) O(result) I(nlogs) EACH(nlogs, S(logs[i])) NULLTERM(logs, nlogs)
                           NILARR(annotations) B(publish))
CMP(sq_act_query, S(ns) OPT(id) OPT(name) I(skip) I(limit) I(since) I(upto) B(docs) B(count))
CMP(sq_ns_ref, S(ns))
CMP(sq_ns_limits,
    I(concurrent) I(per_minute) I(fires_per_minute) I(timeout_max) I(memory_max) B(blocked))
CMP(sq_tenancy_event, S(op) S(subject) S(namespace_) I(at))
CMP(sq_admin, S(token) S(op) S(subject) S(namespace_) O(limits))
CMP(sq_fire, S(id) S(ns) S(name) S(subject) S(key) S(caller_ns) O(payload))
CMP(sq_act_ref, S(id) I(rules))
CMP(sq_count, I(count))
CMP(sq_act_error, S(error))
CMP(sq_act_logs, O(logs))
CMP(sq_act_record_logs, O(logs))
CMP(sq_run_note, S(owner) S(ns) S(name) S(version) S(subject) S(path) S(cause) S(caused_by)
                     S(binding) I(start) SUB(limits, cmp_sq_limits))
CMP(sq_package, S(namespace_) S(name) S(version) B(publish) O(parameters) O(annotations)
                    S(binding.namespace_) S(binding.name) I(updated))
/* A trigger's limits are {}; its rules come back when there were some (an empty map is not
 * written). */
static void trigger_read(const sq_trigger *w, const sq_trigger *g, const char *what)
{
    CHECK(g->limits.type == MSGPACK_OBJECT_MAP && g->limits.via.map.size == 0,
          "%s: limits is not {}", what);
    CHECK(g->with_rules == (w->with_rules && w->nrules > 0), "%s: with_rules", what);
    CHECK(g->nrules == (w->with_rules ? w->nrules : 0), "%s: nrules %zu", what, g->nrules);
}

CMP(sq_trigger,
    S(namespace_) S(name) S(version) B(publish) O(parameters) O(annotations) CALL(trigger_read)
        I(updated) EACH(nrules, S(rules[i].key) S(rules[i].action.path) S(rules[i].action.name)
                                    S(rules[i].status)))
CMP(sq_rule, S(namespace_) S(name) S(version) B(publish) O(annotations) S(status) S(trigger.path)
                 S(trigger.name) S(action.path) S(action.name) I(updated))
CMP(sq_invoke_batch,
    S(subject) S(key) S(caller_ns) S(cause) O(params) I(nrules)
        EACH(nrules, S(rules[i].id) S(rules[i].ns) S(rules[i].name) B(rules[i].shared)))
CMP(sq_invoke_outcomes, I(nrules) EACH(nrules, S(rules[i].id) S(rules[i].error) I(rules[i].code)))

/* The rules of a trigger event as the decoder read them (rules_read): rule and action, and
 * an error exactly where one was written. */
static void trigger_event_read(const sq_trigger_event *w, const sq_trigger_event *g,
                               const char *what)
{
    CHECK(g->rules_read.type == MSGPACK_OBJECT_ARRAY && g->rules_read.via.array.size == w->nrules,
          "%s: rules", what);
    for (size_t i = 0; i < w->nrules && g->rules_read.via.array.size == w->nrules; i++) {
        const msgpack_object *r = &g->rules_read.via.array.ptr[i];
        CHECK(sq_mp_str_eq(sq_mp_get(r, "rule"), w->rules[i].rule) &&
                  sq_mp_str_eq(sq_mp_get(r, "action"), w->rules[i].action),
              "%s: rule %zu", what, i);
        CHECK((sq_mp_get(r, "error") != NULL) == (w->rules[i].error != NULL), "%s: rule %zu error",
              what, i);
    }
}

CMP(sq_trigger_event,
    S(ns) S(name) S(id) O(payload) I(at) CALL(trigger_event_read) I(nrules)
        EACH(nrules, S(rules[i].rule) S(rules[i].action) S(rules[i].id) S(rules[i].error)
                         I(rules[i].status_code) B(rules[i].success)))
CMP(sq_auth_event, S(op) S(subject) S(namespace_) B(has_blocked) B(blocked))
CMP(sq_admin_key, S(subject) S(namespace_) S(key))

/* The namespaces of an admin user as the decoder read them (nss_read): a name each, and a
 * uuid that is nil where none was written. */
static void admin_user_read(const sq_admin_user *w, const sq_admin_user *g, const char *what)
{
    CHECK(g->nss_read.type == MSGPACK_OBJECT_ARRAY && g->nss_read.via.array.size == w->nnss,
          "%s: namespaces", what);
    for (size_t i = 0; i < w->nnss && g->nss_read.via.array.size == w->nnss; i++) {
        const msgpack_object *n = &g->nss_read.via.array.ptr[i], *u = sq_mp_get(n, "uuid");
        CHECK(sq_mp_str_eq(sq_mp_get(n, "name"), w->nss[i].name), "%s: namespace %zu", what, i);
        CHECK(w->nss[i].uuid ? sq_mp_str_eq(u, w->nss[i].uuid)
                             : u != NULL && u->type == MSGPACK_OBJECT_NIL,
              "%s: uuid %zu", what, i);
    }
}

CMP(sq_admin_user,
    S(subject) B(blocked) CALL(admin_user_read) I(nnss) EACH(nnss, S(nss[i].name) S(nss[i].uuid)))
CMP(sq_admin_deleted, S(subject) B(deleted) I(nnamespaces) EACH(nnamespaces, S(namespaces[i])))
CMP(sq_admin_blocked, S(subject) B(blocked))
CMP(sq_admin_subjects, I(nsubjects) EACH(nsubjects, S(subjects[i])))
CMP(sq_trigger_view,
    S(ns) S(name) S(version) O(parameters) O(annotations) I(nrules)
        EACH(nrules, S(rules[i].rule) S(rules[i].action_path) S(rules[i].action_name)
                         S(rules[i].invoke_ns) S(rules[i].invoke_name)))
CMP(sq_feed_note, S(ns) S(name) S(subject))
CMP(sq_feed_message, O(message))
CMP(sq_alarm_when, S(type) S(cron) I(minutes) I(date) I(start_date) I(stop_date) I(created))
CMP(sq_alarm_note, S(ns) S(name) SUB(when, cmp_sq_alarm_when) O(payload))
CMP(sq_kv, S(key) O(value) B(init))
CMP(sq_alarm_cfg, SUB(when, cmp_sq_alarm_when) O(trigger_payload) B(paused))
CMP(sq_nats_cfg, S(subject) B(paused))
CMP(sq_route_list, I(nroutes) EACH(nroutes, SUB(routes[i], cmp_sq_route)))
CMP(sq_health, B(ok) S(service) S(instance) S(host) I(pid) I(started) O(checks) I(nfailed)
                   EACH(nfailed, S(failed[i])))
CMP(sq_conductor_step, O(action) O(params) O(state))
CMP(sq_brief, S(name) S(version) B(publish) O(annotations) O(parameters))

/* Field specs (the contract as proto.h states it and the decoders enforce it). */
static const fspec f_auth_verify[] = { { "key", C_STR, true } };
static const fspec f_identity[] = {
    { "subject", C_STR, true },
    { "namespace", C_STR, true },
    { "uuid", C_STR, true },
    { "namespaces", C_STRS, false },
};
static const fspec f_action[] = {
    { "namespace", C_STR, true },
    { "name", C_STR, true },
    { "version", C_STR, true },
    { "exec", C_MAP, true },
    { "exec.kind", C_STR, true },
    { "exec.code", C_STR, false },
    { "exec.main", C_STR, false },
    { "exec.binary", C_BOOL, false },
    { "exec.components", C_ARRAY, false },
    { "parameters", C_ARRAY, false },
    { "annotations", C_ARRAY, false },
    { "limits", C_MAP, false },
    { "limits.timeout", C_INT, false },
    { "limits.memory", C_INT, false },
    { "limits.logs", C_INT, false },
    { "limits.concurrency", C_INT, false },
    { "publish", C_BOOL, false },
    { "updated", C_INT, false },
};
static const fspec f_reg_put[] = {
    { "ns", C_STR, true },       { "name", C_STR, true },        { "kind", C_STR, true },
    { "subject", C_STR, false }, { "overwrite", C_BOOL, false }, { "entity", C_MAP, true },
};
static const fspec f_reg_ref[] = {
    { "ns", C_STR, true },     { "name", C_STR, true },    { "kind", C_STR, true },
    { "code", C_BOOL, false }, { "force", C_BOOL, false }, { "shared", C_BOOL, false },
};
static const fspec f_reg_list[] = {
    { "ns", C_STR, true },       { "kind", C_STR, true },    { "skip", C_INT, false },
    { "limit", C_INT, false },   { "count", C_BOOL, false }, { "public", C_BOOL, false },
    { "shared", C_BOOL, false },
};
/* the registry's PUT bodies (proto/body.h): raw views, any type in every field */
static const fspec f_entity_body[] = {
    { "version", C_ANY, false },    { "publish", C_ANY, false },
    { "parameters", C_ANY, false }, { "annotations", C_ANY, false },
    { "exec", C_ANY, false },       { "delAnnotations", C_ANY, false },
    { "limits", C_ANY, false },     { "binding", C_ANY, false },
    { "status", C_ANY, false },     { "trigger", C_ANY, false },
    { "action", C_ANY, false },
};
static const fspec f_exec_body[] = {
    { "kind", C_ANY, false }, { "code", C_ANY, false },   { "image", C_ANY, false },
    { "main", C_ANY, false }, { "binary", C_ANY, false }, { "components", C_ANY, false },
};
static const fspec f_limits_body[] = {
    { "timeout", C_ANY, false },
    { "memory", C_ANY, false },
    { "logs", C_ANY, false },
    { "concurrency", C_ANY, false },
};
static const fspec f_binding_body[] = { { "namespace", C_ANY, false }, { "name", C_ANY, false } };
static const fspec f_kv_entry[] = { { "key", C_STR, true }, { "value", C_ANY, true } };
static const fspec f_entity_event[] = {
    { "ns", C_STR, true }, { "kind", C_STR, true },     { "name", C_STR, true },
    { "op", C_STR, true }, { "version", C_STR, false },
};
static const fspec f_invoke[] = {
    { "id", C_STR, true },         { "ns", C_STR, true },       { "name", C_STR, true },
    { "subject", C_STR, true },    { "key", C_STR, false },     { "params", C_MAPARRNIL, false },
    { "blocking", C_BOOL, false }, { "wait_ms", C_INT, false }, { "shared", C_BOOL, false },
    { "caller_ns", C_STR, false }, { "cause", C_STR, false },
};
static const fspec f_work[] = {
    { "id", C_STR, true },
    { "subject", C_STR, true },
    { "key", C_STR, false },
    { "reply", C_STR, false },
    { "blocking", C_BOOL, false },
    { "submitted", C_INT, false },
    { "action", C_MAP, true },
    { "action.namespace", C_STR, true },
    { "action.name", C_STR, true },
    { "action.version", C_STR, true },
    { "action.exec", C_MAP, true },
    { "action.exec.kind", C_STR, true },
    { "action.exec.code", C_STR, true }, /* a work item must carry the code */
    { "action.limits", C_MAP, false },
    { "action.limits.timeout", C_INT, false },
    { "action.parameters", C_ARRAY, false },
    { "params", C_MAPARR, true },
    { "cause", C_STR, false },
    { "caused_by", C_STR, false },
    { "ns", C_STR, false },
    { "binding", C_STR, false },
};
static const fspec f_heartbeat[] = {
    { "id", C_STR, true },         { "total_mb", C_INT, true }, { "free_mb", C_INT, true },
    { "warm", C_INT, false },      { "busy", C_INT, false },    { "healthy", C_BOOL, false },
    { "draining", C_BOOL, false }, { "at", C_INT, false },      { "started", C_INT, false },
};
static const fspec f_sched_beat[] = { { "id", C_STR, true }, { "at", C_INT, false } };
static const fspec f_sched_moved[] = { { "id", C_STR, true },
                                       { "invoker", C_STR, true },
                                       { "seq", C_INT, true } };
static const fspec f_activation[] = {
    { "activationId", C_STR, true },
    { "namespace", C_STR, true },
    { "name", C_STR, true },
    { "version", C_STR, false },
    { "subject", C_STR, false },
    { "start", C_INT, true },
    { "end", C_INT, true },
    { "duration", C_INT, false },
    { "response", C_MAP, true },
    { "response.statusCode", C_INT, true },
    { "response.result", C_ANY, false },
    { "logs", C_STRS, false },
    { "annotations", C_ARRAY, false },
    { "publish", C_BOOL, false },
    { "cause", C_STR, false },
};
static const fspec f_act_query[] = {
    { "ns", C_STR, true },    { "id", C_STR, false },    { "name", C_STR, false },
    { "skip", C_INT, false }, { "limit", C_INT, false }, { "since", C_INT, false },
    { "upto", C_INT, false }, { "docs", C_BOOL, false }, { "count", C_BOOL, false },
};
static const fspec f_ns_ref[] = { { "ns", C_STR, true } };
static const fspec f_ns_limits[] = {
    { "concurrentInvocations", C_INT, false }, { "invocationsPerMinute", C_INT, false },
    { "firesPerMinute", C_INT, false },        { "actionTimeoutMax", C_INT, false },
    { "actionMemoryMax", C_INT, false },       { "blocked", C_BOOL, false },
};
static const fspec f_tenancy_event[] = {
    { "op", C_STR, true },
    { "subject", C_STR, false },
    { "namespace", C_STR, true },
    { "at", C_INT, true },
};
static const fspec f_admin[] = {
    { "token", C_STR, true },      { "op", C_STR, true },      { "subject", C_STR, false },
    { "namespace", C_STR, false }, { "limits", C_MAP, false },
};
static const fspec f_log_event[] = {
    { "activationId", C_STR, true }, { "namespace", C_STR, true }, { "name", C_STR, true },
    { "line", C_STR, false },        { "end", C_BOOL, true },
};
static const fspec f_fire[] = {
    { "id", C_STR, true },       { "ns", C_STR, true },   { "name", C_STR, true },
    { "subject", C_STR, true },  { "key", C_STR, false }, { "caller_ns", C_STR, false },
    { "payload", C_MAP, false },
};

static const fspec f_route[] = {
    { "namespace", C_STR, false },    { "basepath", C_STR, false },
    { "relpath", C_STR, true },       { "method", C_STR, true },
    { "api_name", C_STR, false },     { "action_ns", C_STR, true },
    { "action_pkg", C_STR, false },   { "action_name", C_STR, true },
    { "response_type", C_STR, true }, { "updated", C_INT, false },
};
static const fspec f_route_put[] = {
    { "ns", C_STR, true },        { "basepath", C_STR, true }, { "api_name", C_STR, false },
    { "replace", C_BOOL, false }, { "routes", C_ARRAY, true },
};
static const fspec f_route_query[] = {
    { "ns", C_STR, true },
    { "basepath", C_STR, false },
    { "relpath", C_STR, false },
    { "method", C_STR, false },
};

static const fspec f_act_ref[] = { { "activationId", C_STR, true }, { "rules", C_INT, false } };
static const fspec f_count[] = { { "count", C_INT, true } };
static const fspec f_act_error[] = { { "error", C_STR, true } };
static const fspec f_act_logs[] = { { "logs", C_ARRAY, true } };
static const fspec f_act_record_logs[] = { { "logs", C_ARRAY, false } };
static const fspec f_run_note[] = {
    { "owner", C_STR, false },     { "start", C_INT, false },       { "ns", C_STR, false },
    { "name", C_STR, false },      { "version", C_STR, false },     { "subject", C_STR, false },
    { "path", C_STR, false },      { "timeout", C_INT, false },     { "memory", C_INT, false },
    { "logs", C_INT, false },      { "concurrency", C_INT, false }, { "cause", C_STR, false },
    { "caused_by", C_STR, false }, { "binding", C_STR, false },
};

static const fspec f_package[] = {
    { "namespace", C_STR, true },     { "name", C_STR, true },
    { "version", C_STR, true },       { "publish", C_BOOL, false },
    { "parameters", C_ARRAY, false }, { "annotations", C_ARRAY, false },
    { "binding", C_MAP, false },      { "binding.namespace", C_STR, false },
    { "binding.name", C_STR, false }, { "updated", C_INT, false },
};
static const fspec f_trigger[] = {
    { "namespace", C_STR, true },     { "name", C_STR, true },
    { "version", C_STR, true },       { "publish", C_BOOL, false },
    { "parameters", C_ARRAY, false }, { "annotations", C_ARRAY, false },
    { "limits", C_MAP, false },       { "updated", C_INT, false },
};
static const fspec f_rule[] = {
    { "namespace", C_STR, true },      { "name", C_STR, true },
    { "version", C_STR, true },        { "publish", C_BOOL, false },
    { "annotations", C_ARRAY, false }, { "status", C_STR, true },
    { "trigger", C_MAP, true },        { "trigger.path", C_STR, true },
    { "trigger.name", C_STR, true },   { "action", C_MAP, true },
    { "action.path", C_STR, true },    { "action.name", C_STR, true },
    { "updated", C_INT, false },
};
static const fspec f_invoke_batch[] = {
    { "subject", C_STR, true },    { "key", C_STR, false },   { "params", C_ANY, false },
    { "caller_ns", C_STR, false }, { "cause", C_STR, false }, { "rules", C_ARRAY, true },
};
static const fspec f_invoke_outcomes[] = {
    { "rules", C_ARRAY, true },
};
static const fspec f_trigger_event[] = {
    { "ns", C_STR, true },       { "name", C_STR, true }, { "activationId", C_STR, false },
    { "payload", C_ANY, false }, { "at", C_INT, true },   { "rules", C_ARRAY, true },
};
static const fspec f_auth_event[] = {
    { "op", C_STR, true },
    { "subject", C_STR, true },
    { "namespace", C_STR, false },
    { "blocked", C_BOOL, false },
};
static const fspec f_admin_key[] = {
    { "subject", C_STR, true },
    { "namespace", C_STR, true },
    { "key", C_STR, true },
};
static const fspec f_admin_user[] = {
    { "subject", C_STR, true },
    { "blocked", C_BOOL, true },
    { "namespaces", C_ARRAY, true },
};
static const fspec f_admin_deleted[] = {
    { "subject", C_STR, true },
    { "deleted", C_BOOL, true },
    { "namespaces", C_STRS, true },
};
static const fspec f_admin_blocked[] = { { "subject", C_STR, true }, { "blocked", C_BOOL, true } };
static const fspec f_admin_subjects[] = { { "subjects", C_STRS, true } };
static const fspec f_trigger_view[] = {
    { "ns", C_STR, true },         { "name", C_STR, true },        { "version", C_STR, true },
    { "parameters", C_ANY, true }, { "annotations", C_ANY, true }, { "rules", C_ARRAY, true },
};
static const fspec f_feed_note[] = {
    { "ns", C_STR, true },
    { "name", C_STR, true },
    { "subject", C_STR, true },
};
static const fspec f_feed_message[] = { { "message", C_STR, true } };
static const fspec f_alarm_note[] = {
    { "ns", C_STR, true },         { "name", C_STR, true },      { "type", C_STR, true },
    { "cron", C_ANY, false },      { "minutes", C_INT, false },  { "date", C_INT, false },
    { "startDate", C_INT, false }, { "stopDate", C_INT, false }, { "payload", C_ANY, false },
    { "created", C_INT, false },
};
static const fspec f_kv[] = {
    { "key", C_STR, true },
    { "value", C_ANY, false },
    { "init", C_BOOL, false },
};
static const fspec f_limits[] = {
    { "timeout", C_INT, false },
    { "memory", C_INT, false },
    { "logs", C_INT, false },
    { "concurrency", C_INT, false },
};
static const fspec f_alarm_cfg[] = {
    { "type", C_STR, true },       { "cron", C_STR, false },
    { "minutes", C_INT, false },   { "date", C_INT, false },
    { "startDate", C_INT, false }, { "stopDate", C_INT, false },
    { "created", C_INT, false },   { "trigger_payload", C_ANY, false },
    { "paused", C_BOOL, false },
};
static const fspec f_nats_cfg[] = { { "subject", C_STR, false }, { "paused", C_BOOL, false } };
static const fspec f_route_list[] = { { "items", C_ARRAY, true } };
static const fspec f_health[] = {
    { "ok", C_BOOL, true },       { "service", C_STR, false }, { "pid", C_INT, false },
    { "instance", C_STR, false }, { "host", C_STR, false },    { "started", C_INT, false },
    { "checks", C_MAP, false },   { "failed", C_STRS, false },
};
static const fspec f_conductor_step[] = {
    { "action", C_ANY, false },
    { "params", C_ANY, false },
    { "state", C_ANY, false },
};
static const fspec f_brief[] = {
    { "name", C_STR, true },          { "version", C_STR, true },
    { "publish", C_BOOL, false },     { "annotations", C_ARRAY, false },
    { "parameters", C_ARRAY, false },
};
static const fspec f_trigger_rules[] = {
    { "namespace", C_STR, true },
    { "name", C_STR, true },
    { "version", C_STR, true },
    { "rules", C_MAP, false },
    { "rules.guest/r1", C_MAP, false },
    { "rules.guest/r1.action", C_MAP, true },
    { "rules.guest/r1.action.path", C_STR, true },
    { "rules.guest/r1.status", C_STR, true },
};

#define MSG(type, short_)                                                                          \
    {                                                                                              \
#type, dec_##type, enc_##type, cmp_##type, sizeof(type), &s_##short_, f_##short_,          \
            sizeof f_##short_ / sizeof f_##short_[0]                                               \
    }

const msgdesc msgs[] = {
    MSG(sq_auth_verify, auth_verify),
    MSG(sq_identity, identity),
    MSG(sq_action, action),
    MSG(sq_reg_put, reg_put),
    MSG(sq_reg_ref, reg_ref),
    MSG(sq_reg_list, reg_list),
    MSG(sq_entity_event, entity_event),
    MSG(sq_invoke, invoke),
    MSG(sq_work, work),
    MSG(sq_heartbeat, heartbeat),
    MSG(sq_activation, activation),
    MSG(sq_act_query, act_query),
    MSG(sq_ns_ref, ns_ref),
    MSG(sq_ns_limits, ns_limits),
    MSG(sq_admin, admin),
    MSG(sq_fire, fire),
    MSG(sq_sched_beat, sched_beat),
    MSG(sq_sched_moved, sched_moved),
    MSG(sq_tenancy_event, tenancy_event),
    MSG(sq_route, route),
    MSG(sq_route_put, route_put),
    MSG(sq_route_query, route_query),
    MSG(sq_log_event, log_event),
    MSG(sq_act_ref, act_ref),
    MSG(sq_count, count),
    MSG(sq_act_error, act_error),
    MSG(sq_act_logs, act_logs),
    MSG(sq_act_record_logs, act_record_logs),
    MSG(sq_run_note, run_note),
    MSG(sq_package, package),
    MSG(sq_trigger, trigger),
    MSG(sq_rule, rule),
    MSG(sq_trigger_event, trigger_event),
    MSG(sq_invoke_batch, invoke_batch),
    MSG(sq_invoke_outcomes, invoke_outcomes),
    MSG(sq_auth_event, auth_event),
    MSG(sq_admin_key, admin_key),
    MSG(sq_admin_user, admin_user),
    MSG(sq_admin_deleted, admin_deleted),
    MSG(sq_admin_blocked, admin_blocked),
    MSG(sq_admin_subjects, admin_subjects),
    MSG(sq_trigger_view, trigger_view),
    MSG(sq_feed_note, feed_note),
    MSG(sq_feed_message, feed_message),
    MSG(sq_alarm_note, alarm_note),
    MSG(sq_kv, kv),
    MSG(sq_entity_body, entity_body),
    MSG(sq_exec_body, exec_body),
    MSG(sq_limits_body, limits_body),
    MSG(sq_binding_body, binding_body),
    MSG(sq_kv_entry, kv_entry),
    MSG(sq_limits, limits),
    MSG(sq_alarm_cfg, alarm_cfg),
    MSG(sq_nats_cfg, nats_cfg),
    MSG(sq_route_list, route_list),
    MSG(sq_health, health),
    MSG(sq_conductor_step, conductor_step),
    MSG(sq_brief, brief),
    { "sq_trigger (with rules)", dec_sq_trigger, enc_sq_trigger, cmp_sq_trigger, sizeof(sq_trigger),
      &s_trigger_rules, f_trigger_rules, sizeof f_trigger_rules / sizeof f_trigger_rules[0] },
};
const size_t nmsgs = sizeof msgs / sizeof msgs[0];
