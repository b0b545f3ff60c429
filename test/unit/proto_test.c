/* Unit tests of the wire contract (proto/): every message round-trips through its
 * encode/decode pair; every truncated prefix of a valid encoding is rejected; a field of the
 * wrong type, a missing required field and a message that is not a map are rejected with
 * SQ_ERR_DECODE and a message naming the field; thousands of deterministic pseudo-random
 * and mutated buffers never crash a decoder (the test build runs under ASan/UBSan, and
 * every buffer is an exact-size heap copy, so a read past the end aborts); subject tokens
 * are escaped. */
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mp_obj.h"
#include "proto/body.h"
#include "proto/proto.h"
#include "proto/subjects.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

#define B_(s) s, sizeof(s) - 1

/* ---------------------------------------------------------------- values from JSON */

static msgpack_zone g_zone;
static msgpack_sbuffer g_bufs[256];
static int g_nbufs;

/* A msgpack object for JSON text; lives until the end of the program. */
static msgpack_object J(const char *json)
{
    return obj_json(&g_zone, json);
}

static bool obj_eq(const msgpack_object *a, const msgpack_object *b)
{
    return msgpack_object_equal(*a, *b);
}

static char *long_string(size_t n, char c)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(c + (i % 7 == 6 ? -c + '\n' : 0));
    s[n] = '\0';
    return s;
}

/* ---------------------------------------------------------------- message descriptors */

typedef sq_status (*dec_fn)(const char *buf, size_t len, sq_arena_t *ar, void *out, char *err,
                            size_t errlen);
typedef void (*enc_fn)(const void *m, msgpack_packer *pk);
typedef void (*cmp_fn)(const void *want, const void *got, const char *what);

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

/* Field classes for the wrong-type mutations. */
typedef enum {
    C_STR,
    C_INT,
    C_BOOL,
    C_MAP,
    C_ARRAY,
    C_STRS,
    C_MAPNIL,
    C_MAPARR,
    C_MAPARRNIL,
    C_ANY
} fclass;

typedef struct {
    const char *path; /* "exec.kind": keys through nested maps */
    fclass cls;
    bool required;
} fspec;

typedef struct {
    const char *name;
    dec_fn dec;
    enc_fn enc;
    cmp_fn cmp;
    size_t size;
    const void *sample; /* a full, valid message */
    const fspec *fields;
    size_t nfields;
} msgdesc;

/* ---------------------------------------------------------------- samples and comparisons */

static char what_buf[256];
#define WHAT(fmt, ...) (snprintf(what_buf, sizeof what_buf, fmt, __VA_ARGS__), what_buf)

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

/* Samples are filled in at start (they hold msgpack objects). */
static sq_package s_package;
static sq_trigger s_trigger;
static sq_rule s_rule;
static sq_trigger_event s_trigger_event;
static sq_invoke_batch s_invoke_batch;
static const sq_batch_rule s_batch_rules[2] = {
    { .id = "00112233445566778899aabbccddeeff", .ns = "guest", .name = "a" },
    { .id = "ffeeddccbbaa99887766554433221100", .ns = "other", .name = "pkg/b", .shared = true },
};
static const sq_invoke_outcome s_outcome_v[2] = {
    { .id = "00112233445566778899aabbccddeeff", .code = 0 },
    { .code = 404, .error = "The requested resource does not exist." },
};
static const sq_invoke_outcomes s_invoke_outcomes = { .rules = s_outcome_v, .nrules = 2 };
static sq_auth_event s_auth_event;
static sq_admin_key s_admin_key;
static sq_admin_user s_admin_user;
static sq_admin_deleted s_admin_deleted;
static sq_admin_blocked s_admin_blocked;
static sq_admin_subjects s_admin_subjects;
static sq_trigger_view s_trigger_view;
static sq_feed_note s_feed_note;
static sq_feed_message s_feed_message;
static sq_alarm_note s_alarm_note;
static sq_kv s_kv;
static sq_limits s_limits = { .timeout = 1000, .memory = 128, .logs = 1, .concurrency = 2 };
static sq_alarm_cfg s_alarm_cfg;
static sq_nats_cfg s_nats_cfg = { .subject = "ext.guest.orders", .paused = true };
static sq_route_list s_route_list;
static sq_route s_routes[2];
static sq_health s_health;
static char *s_failed[] = { "postgresql", NULL };
static sq_conductor_step s_conductor_step;
static sq_brief s_brief;
static sq_trigger s_trigger_rules;
static const sq_trigger_rule s_trigger_rule_v[2] = {
    { .key = "guest/r1", .action = { "guest", "a" }, .status = "active" },
    { .key = "guest/r2", .action = { "guest/pkg", "b" }, .status = "inactive" },
};
static sq_rule_outcome s_outcomes[2] = {
    { .rule = "guest/r1",
      .action = "guest/a",
      .id = "00112233445566778899aabbccddeeff",
      .status_code = 0,
      .success = true },
    { .rule = "guest/r2", .action = "guest/pkg/b", .error = "no such action", .status_code = 1 },
};
static sq_admin_ns s_nss[2] = { { .name = "guest", .uuid = "4ed2c2a5-8bc2-4bd9-8d2b-1f1f9e3b1c55" },
                                { .name = "guest_dev", .uuid = NULL } };
static sq_view_rule s_view_rules[2] = {
    { "guest/r1", "guest", "a", "guest", "a" },
    { "guest/r2", "guest/pkg", "b", "other", "pkg/b" },
};
static sq_act_ref s_act_ref;
static sq_count s_count;
static sq_act_error s_act_error;
static sq_act_logs s_act_logs;
static sq_act_record_logs s_act_record_logs;
static sq_run_note s_run_note;
static sq_auth_verify s_auth_verify;
static sq_identity s_identity;
static sq_action s_action;
static sq_reg_put s_reg_put;
static sq_reg_ref s_reg_ref;
static sq_reg_list s_reg_list;
static sq_entity_body s_entity_body;
static sq_exec_body s_exec_body;
static sq_limits_body s_limits_body;
static sq_binding_body s_binding_body;
static sq_kv_entry s_kv_entry;
static sq_entity_event s_entity_event;
static sq_route s_route;
static sq_route_put s_route_put;
static sq_route_query s_route_query;
static sq_log_event s_log_event;
static sq_invoke s_invoke;
static sq_work s_work;
static sq_heartbeat s_heartbeat;
static sq_sched_beat s_sched_beat;
static sq_sched_moved s_sched_moved;
static sq_activation s_activation;
static sq_act_query s_act_query;
static sq_ns_ref s_ns_ref;
static sq_ns_limits s_ns_limits;
static sq_admin s_admin;
static sq_fire s_fire;
static sq_tenancy_event s_tenancy_event;
static char *s_namespaces[] = { "guest", "guest_dev", "team@example.com", NULL };
static char *s_logs[] = { "2026-11-23T10:00:00.123Z stdout: hello",
                          "2026-11-23T10:00:00.124Z stderr: w\xc3\xa4rning", NULL };

static void make_samples(void)
{
    s_auth_verify.key = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
                        "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

    s_identity.subject = "guest";
    s_identity.namespace_ = "guest";
    s_identity.uuid = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502";
    s_identity.namespaces = s_namespaces;
    s_identity.nnamespaces = 3;

    s_action.namespace_ = "guest/pkg";
    s_action.name = "hello w\xc3\xb6rld";
    s_action.version = "0.0.12";
    s_action.exec.kind = "nodejs:20";
    s_action.exec.code = "function main(a){return {greeting:'hello '+(a.name||'world')}}";
    s_action.exec.main = "main";
    s_action.exec.binary = false;
    s_action.exec.components = J("[\"/guest/a\",\"/guest/pkg/b\"]");
    s_action.parameters = J("[{\"key\":\"name\",\"value\":\"Ann\"},{\"key\":\"n\",\"value\":{"
                            "\"deep\":[1,2.5,null,true]}}]");
    s_action.annotations = J("[{\"key\":\"exec\",\"value\":\"nodejs:20\"}]");
    s_action.limits = (sq_limits){ .timeout = 200, .memory = 128, .logs = 5, .concurrency = 1 };
    s_action.publish = true;
    s_action.updated = 1795430400123LL;
    s_action.rev = 4711;

    s_reg_put.ns = "guest";
    s_reg_put.name = "hello";
    s_reg_put.kind = "action";
    s_reg_put.subject = "guest";
    s_reg_put.overwrite = true;
    s_reg_put.entity =
        J("{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"x\"},\"limits\":{\"timeout\":1000}}");

    s_reg_ref.ns = "guest";
    s_reg_ref.name = "hello";
    s_reg_ref.kind = "action";
    s_reg_ref.code = false;
    s_reg_ref.force = true;
    s_reg_ref.shared = true;

    s_reg_list.ns = "guest";
    s_reg_list.kind = "action";
    s_reg_list.skip = 5;
    s_reg_list.limit = 200;
    s_reg_list.count = true;
    s_reg_list.public_ = true;
    s_reg_list.shared = false;

    s_entity_event.ns = "guest";
    s_entity_event.kind = "action";
    s_entity_event.name = "hello";
    s_entity_event.op = "put";
    s_entity_event.version = "0.0.2";
    s_log_event.id = "0123456789abcdef0123456789abcdef";
    s_log_event.ns = "guest";
    s_log_event.name = "pkg/hello";
    s_log_event.line = "2026-12-06T08:00:00.123456789Z stdout: hi";

    s_invoke.id = "0123456789abcdef0123456789abcdef";
    s_invoke.ns = "guest";
    s_invoke.name = "pkg/hello";
    s_invoke.subject = "guest";
    s_invoke.key = "uuid:secret";
    s_invoke.params = J("{\"name\":\"\\u00e9\",\"n\":-7,\"list\":[1,{\"a\":null}]}");
    s_invoke.blocking = true;
    s_invoke.wait_ms = 1234;
    s_invoke.shared = true;
    s_invoke.caller_ns = "guest";
    s_invoke.cause = "00112233445566778899aabbccddeeff";
    s_invoke.min_rev = 42;

    s_work.id = "fedcba9876543210fedcba9876543210";
    s_work.subject = "guest";
    s_work.key = "uuid:secret";
    s_work.reply = "_INBOX.abc.def";
    s_work.blocking = true;
    s_work.submitted = 1795430400999LL;
    s_work.action = s_action;
    s_work.params = J("{\"name\":\"Ann\"}");
    s_work.cause = "00112233445566778899aabbccddeeff";
    s_work.caused_by = "trigger";
    s_work.ns = "caller@example.com";
    s_work.binding = "caller@example.com/bound";

    s_heartbeat.id = "invoker0";
    s_heartbeat.total_mb = 2048;
    s_heartbeat.free_mb = 1792;
    s_heartbeat.warm = 3;
    s_heartbeat.busy = 1;
    s_heartbeat.healthy = true;
    s_heartbeat.draining = true;
    s_heartbeat.at = 1795430400000LL;
    s_heartbeat.started = 1795430300000LL;

    s_sched_beat.id = "0123456789abcdef0123456789abcdef";
    s_sched_beat.at = 1795430400001LL;

    s_sched_moved.id = "fedcba9876543210fedcba9876543210";
    s_sched_moved.invoker = "invoker1";
    s_sched_moved.seq = 123456789;

    s_activation.id = "0123456789abcdef0123456789abcdef";
    s_activation.namespace_ = "guest";
    s_activation.name = "hello";
    s_activation.version = "0.0.1";
    s_activation.subject = "guest";
    s_activation.start = 1795430400000LL;
    s_activation.end = 1795430400042LL;
    s_activation.duration = 42;
    s_activation.status = SQ_ACT_APP_ERROR;
    s_activation.result = J("{\"error\":\"x\",\"detail\":[1,2]}");
    s_activation.logs = s_logs;
    s_activation.nlogs = 2;
    s_activation.annotations =
        J("[{\"key\":\"path\",\"value\":\"guest/hello\"},{\"key\":\"waitTime\",\"value\":3},"
          "{\"key\":\"limits\",\"value\":{\"timeout\":60000,\"memory\":256,\"logs\":10}},"
          "{\"key\":\"causedBy\",\"value\":\"sequence\"},"
          "{\"key\":\"cause\",\"value\":\"00112233445566778899aabbccddeeff\"}]");
    s_activation.publish = false;

    s_act_query.ns = "guest";
    s_act_query.id = "0123456789abcdef0123456789abcdef";
    s_act_query.name = "hello";
    s_act_query.skip = 1;
    s_act_query.limit = 10;
    s_act_query.since = 1795430400000LL;
    s_act_query.upto = 1795430500000LL;
    s_act_query.docs = true;
    s_act_query.count = false;

    s_ns_ref.ns = "team@example.com";
    s_ns_limits = (sq_ns_limits){ .concurrent = 7,
                                  .per_minute = 300,
                                  .fires_per_minute = 9,
                                  .timeout_max = 120000,
                                  .memory_max = 256,
                                  .blocked = true };
    s_tenancy_event = (sq_tenancy_event){
        .op = "delete", .subject = "alice", .namespace_ = "alice.team", .at = 1795430400000LL
    };
    s_admin.token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    s_admin.op = "limits.set";
    s_admin.subject = "alice";
    s_admin.namespace_ = "alice";
    s_admin.limits = J("{\"invocationsPerMinute\":300}");
    s_fire.id = "00112233445566778899aabbccddeeff";
    s_fire.ns = "guest";
    s_fire.name = "tick";
    s_fire.subject = "guest";
    s_fire.key = "uuid:secret";
    s_fire.caller_ns = "guest";
    s_fire.payload = J("{\"t\":1,\"s\":[\"a\"]}");
    s_route.namespace_ = "guest";
    s_route.basepath = "/club";
    s_route.relpath = "/books/{isbn}";
    s_route.method = "get";
    s_route.api_name = "Book Club";
    s_route.action_ns = "guest";
    s_route.action_pkg = "lib";
    s_route.action_name = "getBooks";
    s_route.response_type = "http";
    s_route.updated = 1700000000123;
    s_route_put.ns = "guest";
    s_route_put.basepath = "/club";
    s_route_put.api_name = "Book Club";
    s_route_put.replace = true;
    s_route_put.routes = J("[{\"relpath\":\"/books\",\"method\":\"post\",\"action_ns\":\"guest\","
                           "\"action_name\":\"postBooks\",\"response_type\":\"json\"}]");
    s_route_query.ns = "guest";
    s_route_query.basepath = "/club";
    s_route_query.relpath = "/books";
    s_route_query.method = "delete";

    s_act_ref.id = "00112233445566778899aabbccddeeff";
    s_act_ref.rules = 0;
    s_count.count = 1234567890123LL;
    s_act_error.error = "The action did not produce a valid response.";
    s_act_logs.logs = J("[\"2026-11-23T10:00:00.123Z stdout: hello\",\"x\"]");
    s_act_record_logs.logs = s_act_logs.logs;
    s_run_note.owner = "sched-1";
    s_run_note.start = 1764000000000LL;
    s_run_note.ns = "guest";
    s_run_note.name = "seq";
    s_run_note.version = "0.0.2";
    s_run_note.subject = "guest@example.com";
    s_run_note.path = "guest/pkg/seq";
    s_run_note.limits = (sq_limits){ .timeout = 5000, .memory = 384, .logs = 5, .concurrency = 3 };
    s_run_note.cause = "00112233445566778899aabbccddeeff";
    s_run_note.caused_by = "trigger";
    s_run_note.binding = "other/b";

    s_package.namespace_ = "guest";
    s_package.name = "pkg";
    s_package.version = "0.0.3";
    s_package.publish = true;
    s_package.parameters = J("[{\"key\":\"p\",\"value\":1}]");
    s_package.annotations = J("[{\"key\":\"description\",\"value\":\"d\"}]");
    s_package.binding.namespace_ = "other";
    s_package.binding.name = "shared";
    s_package.updated = 1764000000001LL;
    s_trigger.namespace_ = "guest";
    s_trigger.name = "t";
    s_trigger.version = "0.0.1";
    s_trigger.parameters = J("[{\"key\":\"p\",\"value\":\"v\"}]");
    s_trigger.annotations = J("[{\"key\":\"feed\",\"value\":\"/whisk.system/alarms\"}]");
    s_trigger.updated = 7;
    s_rule.namespace_ = "guest";
    s_rule.name = "r";
    s_rule.version = "0.0.2";
    s_rule.annotations = J("[]");
    s_rule.status = "active";
    s_rule.trigger = (sq_path_name){ .path = "guest", .name = "t" };
    s_rule.action = (sq_path_name){ .path = "guest/pkg", .name = "a" };
    s_rule.updated = 9;
    s_trigger_event.ns = "guest";
    s_trigger_event.name = "t";
    s_trigger_event.id = "ffeeddccbbaa99887766554433221100";
    s_trigger_event.payload = J("{\"x\":1}");
    s_trigger_event.at = 1764000000002LL;
    s_trigger_event.rules = s_outcomes;
    s_trigger_event.nrules = 2;
    s_invoke_batch.subject = "guest";
    s_invoke_batch.key = "k";
    s_invoke_batch.caller_ns = "guest";
    s_invoke_batch.cause = "c0ffee00c0ffee00c0ffee00c0ffee00";
    s_invoke_batch.params = J("{\"x\":1}");
    s_invoke_batch.rules = s_batch_rules;
    s_invoke_batch.nrules = 2;
    s_auth_event.op = "block";
    s_auth_event.subject = "guest@example.com";
    s_auth_event.namespace_ = "guest";
    s_auth_event.has_blocked = true;
    s_auth_event.blocked = false;
    s_admin_key.subject = "guest@example.com";
    s_admin_key.namespace_ = "guest";
    s_admin_key.key = "4ed2c2a5-8bc2-4bd9-8d2b-1f1f9e3b1c55:sekret";
    s_admin_user.subject = "guest@example.com";
    s_admin_user.blocked = true;
    s_admin_user.nss = s_nss;
    s_admin_user.nnss = 2;
    s_admin_deleted.subject = "guest@example.com";
    s_admin_deleted.deleted = true;
    s_admin_deleted.namespaces = s_namespaces;
    s_admin_deleted.nnamespaces = 3;
    s_admin_blocked.subject = "guest@example.com";
    s_admin_blocked.blocked = true;
    s_admin_subjects.subjects = s_namespaces;
    s_admin_subjects.nsubjects = 3;
    s_trigger_view.ns = "guest";
    s_trigger_view.name = "t";
    s_trigger_view.version = "0.0.1";
    s_trigger_view.parameters = J("[{\"key\":\"p\",\"value\":\"v\"}]");
    s_trigger_view.annotations = J("[]");
    s_trigger_view.rules = s_view_rules;
    s_trigger_view.nrules = 2;
    s_feed_note.ns = "guest";
    s_feed_note.name = "t";
    s_feed_note.subject = "ext.guest.orders";
    s_feed_message.message = J("\"not json \\u0000 at all\"");
    s_alarm_note.ns = "guest";
    s_alarm_note.name = "t";
    s_alarm_note.when = (sq_alarm_when){ .type = "cron",
                                         .cron = "*/5 * * * *",
                                         .minutes = 0,
                                         .date = 1,
                                         .start_date = 2,
                                         .stop_date = 3,
                                         .created = 4 };
    s_alarm_note.payload = J("{\"a\":[1,2]}");
    s_kv.key = "description";
    s_kv.value = J("{\"nested\":[true,null]}");
    s_entity_body.version = J("\"0.0.1\"");
    s_entity_body.publish = J("true");
    s_entity_body.parameters = J("[{\"key\":\"a\",\"value\":1}]");
    s_entity_body.annotations = J("[{\"key\":\"b\",\"value\":null}]");
    s_entity_body.exec = J("{\"kind\":\"nodejs:20\",\"code\":\"x\"}");
    s_entity_body.del_annotations = J("[\"c\"]");
    s_entity_body.limits = J("{\"timeout\":1000}");
    s_entity_body.binding = J("{\"namespace\":\"guest\",\"name\":\"p\"}");
    s_entity_body.status = J("\"active\"");
    s_entity_body.trigger = J("\"/guest/t\"");
    s_entity_body.action = J("\"/guest/a\"");
    s_exec_body.kind = J("\"sequence\"");
    s_exec_body.code = J("\"x\"");
    s_exec_body.image = J("\"img\"");
    s_exec_body.main = J("\"main\"");
    s_exec_body.binary = J("false");
    s_exec_body.components = J("[\"/guest/a\"]");
    s_limits_body.timeout = J("60000");
    s_limits_body.memory = J("256.0");
    s_limits_body.logs = J("\"10\"");
    s_limits_body.concurrency = J("1");
    s_binding_body.namespace_ = J("\"guest\"");
    s_binding_body.name = J("7");
    s_kv_entry.key = "k";
    s_kv_entry.value = J("null");
    s_kv.init = true;
    s_alarm_cfg = (sq_alarm_cfg){ .when = { .type = "interval",
                                            .cron = "0 * * * *",
                                            .minutes = 5,
                                            .date = 1700000000000,
                                            .start_date = 1700000000001,
                                            .stop_date = 1800000000000,
                                            .created = 1700000000002 },
                                  .paused = true };
    s_alarm_cfg.trigger_payload = J("{\"a\":1}");
    s_routes[0] = s_route;
    s_routes[1] = s_route;
    s_routes[1].method = "post";
    s_routes[1].action_pkg = "";
    s_route_list.routes = s_routes;
    s_route_list.nroutes = 2;
    s_health = (sq_health){ .ok = false,
                            .service = "registry",
                            .pid = 4242,
                            .instance = "host-4242",
                            .host = "host",
                            .started = 1700000000000,
                            .failed = s_failed,
                            .nfailed = 1 };
    s_health.checks = J("{\"postgresql\":\"connection refused\",\"jetstream\":\"ok\"}");
    s_conductor_step.action = J("\"/guest/next\"");
    s_conductor_step.params = J("{\"x\":1}");
    s_conductor_step.state = J("[1,\"two\"]");
    s_brief = (sq_brief){ .name = "a", .version = "0.0.2", .publish = true };
    s_brief.annotations = J("[{\"key\":\"web-export\",\"value\":true}]");
    s_brief.parameters = J("[{\"key\":\"p\",\"value\":1}]");
    s_trigger_rules = s_trigger;
    s_trigger_rules.with_rules = true;
    s_trigger_rules.rules = s_trigger_rule_v;
    s_trigger_rules.nrules = 2;
}

#define MSG(type, short_)                                                                          \
    {                                                                                              \
#type, dec_##type, enc_##type, cmp_##type, sizeof(type), &s_##short_, f_##short_,          \
            sizeof f_##short_ / sizeof f_##short_[0]                                               \
    }

static const msgdesc msgs[] = {
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
#define NMSGS (sizeof msgs / sizeof msgs[0])

/* ---------------------------------------------------------------- encode / decode helpers */

static void encode(const msgdesc *d, const void *m, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    d->enc(m, &pk);
}

/* Decodes an exact heap copy of buf; the copy (referenced by the output) goes to *keep for
 * the caller to free after using out. */
static sq_status decode(const msgdesc *d, const char *buf, size_t len, msgpack_zone *z, void *out,
                        char *err, size_t errlen, char **keep)
{
    char *c = check_dup_exact_(buf, len);
    sq_status st;
    if (err && errlen)
        err[0] = '\0';
    st = d->dec(c, len, z, out, err, errlen);
    if (keep)
        *keep = c;
    else
        free(c);
    return st;
}

/* decode() into a zone that is gone on return: for the status and the message only. */
static sq_status decode_status(const msgdesc *d, const char *buf, size_t len, void *out, char *err,
                               size_t errlen)
{
    msgpack_zone z;
    sq_status st;
    msgpack_zone_init(&z, 4096);
    st = decode(d, buf, len, &z, out, err, errlen, NULL);
    msgpack_zone_destroy(&z);
    return st;
}

/* Round trip m through d: encode, decode, compare. */
static void roundtrip(const msgdesc *d, const void *m, const char *label)
{
    msgpack_sbuffer sb;
    msgpack_zone z;
    char err[256];
    char *keep = NULL;
    void *out = calloc(1, d->size);
    sq_status st;

    encode(d, m, &sb);
    msgpack_zone_init(&z, 4096);
    CHECK(sq_mp_check(sb.data, sb.size) == SQ_OK, "%s (%s): the encoder wrote malformed msgpack",
          d->name, label);
    st = decode(d, sb.data, sb.size, &z, out, err, sizeof err, &keep);
    CHECK(st == SQ_OK, "%s (%s): decoding its own encoding gave %s: %s", d->name, label,
          sq_status_name(st), err);
    if (st == SQ_OK)
        d->cmp(m, out, WHAT("%s (%s) round trip", d->name, label));
    free(keep);
    free(out);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

/* ---------------------------------------------------------------- round trips */

static void test_roundtrips(void)
{
    SECTION("round trips");
    for (size_t i = 0; i < NMSGS; i++)
        roundtrip(&msgs[i], msgs[i].sample, "full sample");

    /* variations */
    {
        sq_action a = s_action;
        a.exec.code = NULL; /* GET ?code=false */
        a.exec.main = NULL;
        a.exec.binary = true;
        a.parameters = obj_nil();
        a.annotations = obj_nil();
        a.publish = false;
        a.updated = 0;
        a.limits = SQ_LIMITS_DEFAULT;
        roundtrip(&msgs[2], &a, "no code, no main, nil parameters");
        char *big = long_string(70000, 'x'); /* str32 on the wire */
        a = s_action;
        a.exec.code = big;
        a.limits = (sq_limits){ .timeout = 300000, .memory = 512, .logs = 10, .concurrency = 1 };
        roundtrip(&msgs[2], &a, "70000-byte code");
        free(big);
    }
    {
        sq_invoke v = s_invoke;
        v.params = obj_nil();
        v.blocking = false;
        v.wait_ms = 0;
        roundtrip(&msgs[7], &v, "nil params, non-blocking");
        v.params = J("{}");
        roundtrip(&msgs[7], &v, "empty params");
    }
    {
        sq_work w = s_work;
        w.key = NULL;
        w.reply = NULL;
        w.blocking = false;
        w.params = J("{}");
        roundtrip(&msgs[8], &w, "no key, no reply");
        w.ns = NULL;
        roundtrip(&msgs[8], &w, "no caller namespace");
    }
    {
        sq_activation a = s_activation;
        static char *none[] = { NULL };
        for (int s = SQ_ACT_SUCCESS; s <= SQ_ACT_INTERNAL; s++) {
            a.status = (sq_act_status)s;
            roundtrip(&msgs[10], &a, WHAT("statusCode %d", s));
        }
        a.logs = none;
        a.nlogs = 0;
        a.result = obj_nil();
        a.annotations = obj_nil();
        a.publish = true;
        roundtrip(&msgs[10], &a, "no logs, nil result");
        {
            /* the top-level cause: written from the annotations of a composition's component */
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_zone z;
            msgpack_object o;
            sq_activation got;
            char err[256];
            const char *annots[3] = {
                "[{\"key\":\"causedBy\",\"value\":\"sequence\"},{\"key\":\"cause\",\"value\":"
                "\"0123456789abcdef0123456789abcdef\"}]",
                "[{\"key\":\"causedBy\",\"value\":\"trigger\"},{\"key\":\"cause\",\"value\":"
                "\"0123456789abcdef0123456789abcdef\"}]",
                "[{\"key\":\"cause\",\"value\":\"0123456789abcdef0123456789abcdef\"}]",
            };
            for (int k = 0; k < 3; k++) {
                sq_activation c = s_activation;
                c.annotations = J(annots[k]);
                c.result = J("[1,{\"a\":2}]");
                msgpack_sbuffer_init(&sb);
                msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                sq_activation_encode(&c, &pk);
                msgpack_zone_init(&z, 2048);
                CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK, "cause %d unpacks", k);
                CHECK((sq_mp_get(&o, "cause") != NULL) == (k == 0),
                      "top-level cause only for a component (%d)", k);
                CHECK(sq_activation_decode(sb.data, sb.size, &z, &got, err, sizeof err) == SQ_OK,
                      "cause %d decodes: %s", k, err);
                if (k == 0)
                    CHECK_STR(got.cause, "0123456789abcdef0123456789abcdef", "decoded cause");
                else
                    CHECK(got.cause == NULL, "no decoded cause (%d)", k);
                CHECK(got.result.type == MSGPACK_OBJECT_ARRAY && got.result.via.array.size == 2,
                      "an array result travels");
                msgpack_zone_destroy(&z);
                msgpack_sbuffer_destroy(&sb);
            }
        }
        a.result = J("[1,\"two\",{\"three\":3}]");
        roundtrip(&msgs[10], &a, "array result");
        a.result = J("\"just a string \\u2603\"");
        roundtrip(&msgs[10], &a, "string result");
    }
    {
        sq_heartbeat h = s_heartbeat;
        h.total_mb = INT64_MAX;
        h.free_mb = INT64_MIN;
        h.at = -1;
        h.healthy = false;
        roundtrip(&msgs[9], &h, "int64 extremes");
    }
    {
        sq_reg_list l = s_reg_list;
        l.skip = 0;
        l.limit = 0;
        roundtrip(&msgs[5], &l, "skip 0 limit 0");
        sq_reg_ref r = s_reg_ref;
        r.code = true;
        roundtrip(&msgs[4], &r, "code true");
        sq_act_query q = s_act_query;
        q.id = NULL;
        q.name = NULL;
        q.docs = false;
        roundtrip(&msgs[11], &q, "no id, no name");
    }
    /* optional string fields left NULL in the struct must still give a decodable message
     * (an encoder cannot fail, so it may not write what its own decoder refuses) */
    {
        sq_reg_put p = s_reg_put;
        p.subject = NULL;
        p.overwrite = false;
        roundtrip(&msgs[3], &p, "subject NULL (optional)");
        sq_entity_event e = s_entity_event;
        e.op = "delete";
        e.version = NULL;
        roundtrip(&msgs[6], &e, "version NULL (optional), delete event");
        sq_invoke v = s_invoke;
        v.key = NULL;
        roundtrip(&msgs[7], &v, "key NULL (optional)");
        sq_log_event le = s_log_event;
        le.line = NULL;
        le.end = true;
        roundtrip(&msgs[18], &le, "log end marker (no line)");
    }

    /* a route query names only its namespace; a route put's routes carry no namespace or
     * base path: what is absent reads as "" (the registry's SQL and the gateway compare
     * strings, never NULL) */
    {
        static const char q_only_ns[] = "\x81"
                                        "\xa2"
                                        "ns"
                                        "\xa5"
                                        "guest";
        static const char r_min[] = "\x85"
                                    "\xa7"
                                    "relpath"
                                    "\xa2"
                                    "/x"
                                    "\xa6"
                                    "method"
                                    "\xa3"
                                    "get"
                                    "\xa9"
                                    "action_ns"
                                    "\xa5"
                                    "guest"
                                    "\xab"
                                    "action_name"
                                    "\xa1"
                                    "a"
                                    "\xad"
                                    "response_type"
                                    "\xa4"
                                    "json";
        msgpack_zone z;
        sq_route_query q;
        sq_route rt;
        char err[256];
        msgpack_zone_init(&z, 1024);
        CHECK(sq_route_query_decode(q_only_ns, sizeof q_only_ns - 1, &z, &q, err, sizeof err) ==
                  SQ_OK,
              "route query with ns only: %s", err);
        CHECK_STR(q.basepath, "", "route query: absent basepath");
        CHECK_STR(q.relpath, "", "route query: absent relpath");
        CHECK_STR(q.method, "", "route query: absent method");
        CHECK(sq_route_decode(r_min, sizeof r_min - 1, &z, &rt, err, sizeof err) == SQ_OK,
              "route with required fields only: %s", err);
        CHECK_STR(rt.namespace_, "", "route: absent namespace");
        CHECK_STR(rt.basepath, "", "route: absent basepath");
        CHECK_STR(rt.action_pkg, "", "route: absent action_pkg");
        CHECK_STR(rt.api_name, "", "route: absent api_name");
        CHECK_STR(rt.relpath, "/x", "route: relpath");
        msgpack_zone_destroy(&z);
    }

    /* sq_act_status_str */
    CHECK_STR(sq_act_status_str(SQ_ACT_SUCCESS), "success", "status 0");
    CHECK_STR(sq_act_status_str(SQ_ACT_APP_ERROR), "application error", "status 1");
    CHECK_STR(sq_act_status_str(SQ_ACT_DEV_ERROR), "action developer error", "status 2");
    CHECK_STR(sq_act_status_str(SQ_ACT_INTERNAL), "whisk internal error", "status 3");
    CHECK_STR(sq_act_status_str((sq_act_status)4), "whisk internal error", "status 4");
    CHECK_STR(sq_act_status_str((sq_act_status)-1), "whisk internal error", "status -1");

    /* the activation's wire shape is OpenWhisk's: response{status, statusCode, success, result} */
    {
        msgpack_sbuffer sb;
        msgpack_zone z;
        msgpack_object o;
        encode(&msgs[10], &s_activation, &sb);
        msgpack_zone_init(&z, 4096);
        CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK,
              "activation encoding does not unpack");
        const msgpack_object *r = sq_mp_get(&o, "response");
        CHECK(r && sq_mp_str_eq(sq_mp_get(r, "status"), "application error"),
              "response.status is not \"application error\"");
        CHECK(r && sq_mp_get(r, "success") &&
                  sq_mp_get(r, "success")->type == MSGPACK_OBJECT_BOOLEAN &&
                  sq_mp_get(r, "success")->via.boolean == false,
              "response.success is not false for an application error");
        CHECK(r && sq_mp_get(r, "statusCode") && sq_mp_get(r, "statusCode")->via.u64 == 1,
              "response.statusCode is not 1");
        CHECK(sq_mp_str_eq(sq_mp_get(&o, "activationId"), s_activation.id),
              "activationId key missing");
        CHECK(sq_mp_get(&o, "logs") && sq_mp_get(&o, "logs")->type == MSGPACK_OBJECT_ARRAY,
              "logs is not an array");
        msgpack_zone_destroy(&z);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* ---------------------------------------------------------------- semantic rejections */

static void test_semantic(void)
{
    SECTION("semantic rejections");
    msgpack_sbuffer sb;
    msgpack_zone z;
    char err[256];
    sq_status st;
    msgpack_zone_init(&z, 4096);
    {
        sq_activation a = s_activation, out;
        a.id = "not-an-id";
        encode(&msgs[10], &a, &sb);
        st = decode(&msgs[10], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE && err[0], "activationId \"not-an-id\": got %s (%s)",
              sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
        a.id = "0123456789ABCDEF0123456789abcdef0";
        encode(&msgs[10], &a, &sb);
        st = decode(&msgs[10], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE, "33-character activationId: got %s", sq_status_name(st));
        msgpack_sbuffer_destroy(&sb);
        a = s_activation;
        a.status = (sq_act_status)4;
        encode(&msgs[10], &a, &sb);
        st = decode(&msgs[10], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE && err[0], "statusCode 4: got %s (%s)", sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
    }
    {
        sq_work w = s_work, out;
        w.action.exec.code = NULL;
        encode(&msgs[8], &w, &sb);
        st = decode(&msgs[8], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE && err[0], "work item without code: got %s (%s)",
              sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
    }
    {
        sq_invoke v = s_invoke, out;
        static const char *const notmaps[] = { "\"s\"", "7", "true" };
        for (size_t i = 0; i < 3; i++) {
            v.params = J(notmaps[i]);
            encode(&msgs[7], &v, &sb);
            st = decode(&msgs[7], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
            CHECK(st == SQ_ERR_DECODE && strstr(err, "params"), "invoke params %s: got %s (%s)",
                  notmaps[i], sq_status_name(st), err);
            msgpack_sbuffer_destroy(&sb);
        }
        /* an array is an action's input as it is (OpenWhisk merges no parameters into it) */
        v.params = J("[1,{\"a\":2}]");
        encode(&msgs[7], &v, &sb);
        st = decode(&msgs[7], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_OK && out.params.type == MSGPACK_OBJECT_ARRAY,
              "invoke params array: got %s (%s)", sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
    }
    {
        /* defaults the decoders document through their structs */
        sq_action out;
        const char raw[] = "\x84\xa9namespace\xa5guest\xa4name\xa1h\xa7version\xa5"
                           "0.0.1\xa4"
                           "exec\x81\xa4kind\xa9nodejs:20";
        st = decode(&msgs[2], raw, sizeof raw - 1, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_OK, "minimal action: %s (%s)", sq_status_name(st), err);
        if (st == SQ_OK) {
            sq_limits d = SQ_LIMITS_DEFAULT;
            CHECK(out.limits.timeout == d.timeout && out.limits.memory == d.memory &&
                      out.limits.logs == d.logs,
                  "action without limits: got %lld/%lld/%lld, want the defaults 60000/256/10",
                  (long long)out.limits.timeout, (long long)out.limits.memory,
                  (long long)out.limits.logs);
            CHECK(out.exec.code == NULL && out.exec.main == NULL, "absent code/main not NULL");
        }
    }
    msgpack_zone_destroy(&z);
}

/* ---------------------------------------------------------------- truncation */

static void test_truncation(void)
{
    SECTION("every truncated prefix is rejected");
    for (size_t i = 0; i < NMSGS; i++) {
        const msgdesc *d = &msgs[i];
        msgpack_sbuffer sb;
        void *out = calloc(1, d->size);
        int bad = 0;
        encode(d, d->sample, &sb);
        for (size_t n = 0; n < sb.size; n++) {
            char err[256];
            sq_status st = decode_status(d, sb.data, n, out, err, sizeof err);
            if ((st != SQ_ERR_DECODE || err[0] == '\0') && bad++ < 3)
                CHECK(0,
                      "%s: prefix of %zu of %zu bytes gave %s (message \"%s\"), want SQ_ERR_DECODE "
                      "with a message",
                      d->name, n, sb.size, sq_status_name(st), err);
        }
        CHECK(bad == 0, "%s: %d of %zu prefixes not rejected", d->name, bad, sb.size);
        /* one trailing byte is rejected too */
        {
            char err[256];
            msgpack_sbuffer_write(&sb, "\xc0", 1);
            CHECK(decode_status(d, sb.data, sb.size, out, err, sizeof err) == SQ_ERR_DECODE,
                  "%s: a trailing nil after the message accepted", d->name);
        }
        msgpack_sbuffer_destroy(&sb);
        free(out);
    }
}

/* ---------------------------------------------------------------- mutations */

enum { M_REPLACE, M_REMOVE, M_INT_KEY, M_NEW_KEY };

static void split_path(const char *path, char keys[4][32], int *n)
{
    *n = 0;
    const char *p = path;
    while (*p && *n < 4) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(keys[*n], 32, "%.*s", (int)l, p);
        (*n)++;
        p += l + (dot ? 1 : 0);
        if (!dot)
            break;
    }
}

/* Packs o with the value at keys[depth..] replaced by repl (or its key removed). Returns
 * whether the path was found. */
static bool pack_mut(msgpack_packer *pk, const msgpack_object *o, char keys[4][32], int nkeys,
                     int depth, int mode, const msgpack_object *repl)
{
    bool found = false;
    if (o->type != MSGPACK_OBJECT_MAP || depth >= nkeys) {
        msgpack_pack_object(pk, *o);
        return false;
    }
    uint32_t n = o->via.map.size, hit = n;
    for (uint32_t i = 0; i < n; i++)
        if (sq_mp_str_eq(&o->via.map.ptr[i].key, keys[depth]))
            hit = i;
    msgpack_pack_map(pk, n - (hit < n && mode == M_REMOVE && depth == nkeys - 1 ? 1 : 0));
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (i != hit) {
            msgpack_pack_object(pk, kv->key);
            msgpack_pack_object(pk, kv->val);
        } else if (depth == nkeys - 1) {
            found = true;
            if (mode == M_REPLACE) {
                msgpack_pack_object(pk, kv->key);
                msgpack_pack_object(pk, *repl);
            }
        } else {
            msgpack_pack_object(pk, kv->key);
            found = pack_mut(pk, &kv->val, keys, nkeys, depth + 1, mode, repl);
        }
    }
    return found;
}

/* Packs orig (a map) with one entry more: {1: 2} (int_key) or an unknown string key. */
static void pack_extra(msgpack_packer *pk, const msgpack_object *orig, bool int_key)
{
    msgpack_pack_map(pk, orig->via.map.size + 1);
    for (uint32_t k = 0; k < orig->via.map.size; k++) {
        msgpack_pack_object(pk, orig->via.map.ptr[k].key);
        msgpack_pack_object(pk, orig->via.map.ptr[k].val);
    }
    if (int_key) {
        msgpack_pack_int(pk, 1);
        msgpack_pack_int(pk, 2);
    } else {
        sq_mp_kv_str(pk, "x_future_field", "later versions may add fields");
    }
}

/* Decodes orig with the value at keys replaced by repl (M_REPLACE), its key removed
 * (M_REMOVE), or with an entry more (M_INT_KEY, M_NEW_KEY: keys unused); *found (if not NULL)
 * says whether the path was in orig. */
static sq_status decode_mut(const msgdesc *d, const msgpack_object *orig, char keys[4][32],
                            int nkeys, int mode, const msgpack_object *repl, bool *found, void *out,
                            char *err, size_t errlen)
{
    msgpack_sbuffer mb;
    msgpack_packer pk;
    sq_status st;
    bool hit = true;
    msgpack_sbuffer_init(&mb);
    msgpack_packer_init(&pk, &mb, msgpack_sbuffer_write);
    if (mode == M_INT_KEY || mode == M_NEW_KEY)
        pack_extra(&pk, orig, mode == M_INT_KEY);
    else
        hit = pack_mut(&pk, orig, keys, nkeys, 0, mode, repl);
    if (found)
        *found = hit;
    st = decode_status(d, mb.data, mb.size, out, err, errlen);
    msgpack_sbuffer_destroy(&mb);
    return st;
}

typedef struct {
    const char *json;
    const char *what;
    unsigned ok; /* which classes accept it: OK(class) | ... */
} candidate;
#define OK(cls) (1u << (cls))

static void test_mutations(void)
{
    SECTION("wrong types and missing fields are rejected");
    /* the classes of field that accept each value (a bit per fclass) */
    const candidate cands[] = {
        { "7", "an int", OK(C_INT) | OK(C_ANY) },
        { "-3", "a negative int", OK(C_INT) | OK(C_ANY) },
        { "1.5", "a float", OK(C_ANY) },
        { "\"x\"", "a string", OK(C_STR) | OK(C_ANY) },
        { "true", "a bool", OK(C_BOOL) | OK(C_ANY) },
        { "null", "nil", OK(C_MAPNIL) | OK(C_MAPARRNIL) | OK(C_ANY) },
        { "{\"k\":\"v\"}", "a map",
          OK(C_MAP) | OK(C_MAPNIL) | OK(C_MAPARR) | OK(C_MAPARRNIL) | OK(C_ANY) },
        { "[1]", "an array of ints", OK(C_ARRAY) | OK(C_MAPARR) | OK(C_MAPARRNIL) | OK(C_ANY) },
        { "[\"s\"]", "an array of strings",
          OK(C_ARRAY) | OK(C_STRS) | OK(C_MAPARR) | OK(C_MAPARRNIL) | OK(C_ANY) },
    };
    const msgpack_object bin = { .type = MSGPACK_OBJECT_BIN, .via.bin = { 3, "abc" } };
    msgpack_object cobj[sizeof cands / sizeof cands[0]];
    for (size_t c = 0; c < sizeof cands / sizeof cands[0]; c++)
        cobj[c] = J(cands[c].json);

    for (size_t i = 0; i < NMSGS; i++) {
        const msgdesc *d = &msgs[i];
        msgpack_sbuffer sb;
        msgpack_zone z0;
        msgpack_object orig;
        void *out = calloc(1, d->size);

        encode(d, d->sample, &sb);
        msgpack_zone_init(&z0, 4096);
        if (sq_mp_unpack(sb.data, sb.size, &z0, &orig) != SQ_OK) {
            CHECK(0, "%s: sample does not unpack", d->name);
            continue;
        }
        for (size_t f = 0; f < d->nfields; f++) {
            const fspec *fs = &d->fields[f];
            char keys[4][32];
            int nkeys;
            split_path(fs->path, keys, &nkeys);

            /* wrong types */
            for (size_t c = 0; c <= sizeof cands / sizeof cands[0]; c++) {
                const msgpack_object *repl = c < sizeof cands / sizeof cands[0] ? &cobj[c] : &bin;
                const char *cw = c < sizeof cands / sizeof cands[0] ? cands[c].what : "a bin";
                bool acceptable = c < sizeof cands / sizeof cands[0]
                                      ? (cands[c].ok & OK(fs->cls)) != 0
                                      : fs->cls == C_ANY;
                /* the contract: nil in an optional field means "not given" */
                if (c < sizeof cands / sizeof cands[0] && !fs->required &&
                    strcmp(cands[c].json, "null") == 0)
                    acceptable = true;
                char err[256];
                bool found;
                sq_status st;
                if (acceptable)
                    continue;
                st = decode_mut(d, &orig, keys, nkeys, M_REPLACE, repl, &found, out, err,
                                sizeof err);
                if (!found) {
                    CHECK(0, "test bug: %s has no field %s in its sample", d->name, fs->path);
                    break;
                }
                CHECK(st == SQ_ERR_DECODE, "%s: %s for \"%s\" gave %s, want SQ_ERR_DECODE", d->name,
                      cw, fs->path, sq_status_name(st));
                if (st == SQ_ERR_DECODE)
                    CHECK(err[0] != '\0', "%s: %s for \"%s\" rejected without a message", d->name,
                          cw, fs->path);
            }

            /* missing */
            {
                char err[256];
                sq_status st =
                    decode_mut(d, &orig, keys, nkeys, M_REMOVE, NULL, NULL, out, err, sizeof err);
                if (fs->required) {
                    char want[40];
                    snprintf(want, sizeof want, "%s", keys[nkeys - 1]);
                    CHECK(st == SQ_ERR_DECODE,
                          "%s: without required \"%s\" gave %s, want SQ_ERR_DECODE", d->name,
                          fs->path, sq_status_name(st));
                    CHECK(st != SQ_ERR_DECODE || strstr(err, want) != NULL ||
                              strstr(err, "code") != NULL,
                          "%s: without \"%s\": message \"%s\" does not name the field", d->name,
                          fs->path, err);
                } else {
                    CHECK(st == SQ_OK, "%s: without optional \"%s\" gave %s (%s), want SQ_OK",
                          d->name, fs->path, sq_status_name(st), err);
                }
            }
        }

        /* not a map; a non-string key; an unknown key is ignored */
        {
            static const struct {
                const char *bytes;
                size_t len;
                const char *what;
            } notmap[] = {
                { B_("\x91\x01"), "an array" },
                { B_("\xa3"
                     "abc"),
                  "a string" },
                { B_("\xc0"), "nil" },
                { B_("\x2a"), "an int" },
                { B_("\x80"), "an empty map" },
            };
            bool any_required = false;
            for (size_t f = 0; f < d->nfields; f++)
                any_required |= d->fields[f].required;
            for (size_t k = 0; k < sizeof notmap / sizeof notmap[0]; k++) {
                char err[256];
                sq_status st;
                if (!any_required && notmap[k].bytes[0] == '\x80')
                    continue; /* every field optional: {} is a valid message */
                st = decode_status(d, notmap[k].bytes, notmap[k].len, out, err, sizeof err);
                CHECK(st == SQ_ERR_DECODE && err[0],
                      "%s: %s instead of the message gave %s (\"%s\")", d->name, notmap[k].what,
                      sq_status_name(st), err);
            }
        }
        {
            char err[256];
            sq_status st =
                decode_mut(d, &orig, NULL, 0, M_INT_KEY, NULL, NULL, out, err, sizeof err);
            CHECK(st == SQ_ERR_DECODE, "%s: an int key accepted (%s)", d->name, sq_status_name(st));
            st = decode_mut(d, &orig, NULL, 0, M_NEW_KEY, NULL, NULL, out, err, sizeof err);
            CHECK(st == SQ_OK, "%s: an unknown key was not ignored (%s: %s)", d->name,
                  sq_status_name(st), err);
        }
        msgpack_zone_destroy(&z0);
        msgpack_sbuffer_destroy(&sb);
        free(out);
    }
}

/* ---------------------------------------------------------------- garbage */

static const char *const known_keys[] = {
    "key",       "subject",  "namespace", "uuid",        "name",       "version",      "exec",
    "kind",      "code",     "main",      "binary",      "parameters", "annotations",  "limits",
    "timeout",   "memory",   "logs",      "concurrency", "publish",    "updated",      "ns",
    "overwrite", "entity",   "skip",      "limit",       "op",         "id",           "params",
    "blocking",  "wait_ms",  "reply",     "submitted",   "action",     "total_mb",     "free_mb",
    "warm",      "busy",     "healthy",   "draining",    "at",         "activationId", "start",
    "end",       "duration", "response",  "statusCode",  "result",     "since",        "upto",
    "docs",      "error",
};
#define NKNOWN (sizeof known_keys / sizeof known_keys[0])

/* A random value: mostly well-formed msgpack with the keys decoders look for and values of
 * random types, so the fuzzing reaches past sq_mp_check into the field decoders. */
static void rand_value(msgpack_packer *pk, uint64_t *rs, int depth)
{
    unsigned k = (unsigned)(check_rand_(rs) % (depth > 3 ? 9 : 12));
    switch (k) {
    case 0: msgpack_pack_nil(pk); break;
    case 1:
        if (check_rand_(rs) & 1)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case 2: msgpack_pack_int64(pk, (int64_t)check_rand_(rs) >> (check_rand_(rs) % 64)); break;
    case 3: msgpack_pack_uint64(pk, check_rand_(rs)); break;
    case 4: msgpack_pack_double(pk, (double)(int64_t)check_rand_(rs) / 7.0); break;
    case 5: sq_mp_pack_str(pk, known_keys[check_rand_(rs) % NKNOWN]); break;
    case 6: sq_mp_pack_str(pk, "0123456789abcdef0123456789abcdef"); break;
    case 7: {
        char s[8];
        size_t n = check_rand_(rs) % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)check_rand_(rs);
        sq_mp_pack_strn(pk, s, n);
        break;
    }
    case 8:
        msgpack_pack_bin(pk, 2);
        msgpack_pack_bin_body(pk, "\x00\x01", 2);
        break;
    case 9:
    case 10: {
        uint32_t n = (uint32_t)(check_rand_(rs) % 6);
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            if (check_rand_(rs) % 16 == 0)
                msgpack_pack_int(pk, (int)i);
            else
                sq_mp_pack_str(pk, known_keys[check_rand_(rs) % NKNOWN]);
            rand_value(pk, rs, depth + 1);
        }
        break;
    }
    default: {
        uint32_t n = (uint32_t)(check_rand_(rs) % 4);
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            rand_value(pk, rs, depth + 1);
        break;
    }
    }
}

static size_t fuzz_accepted; /* buffers some decoder accepted: the fuzzing got past the checks */

static void fuzz_one(const char *buf, size_t len, int *bad, const char *origin, size_t iter)
{
    for (size_t i = 0; i < NMSGS; i++) {
        const msgdesc *d = &msgs[i];
        msgpack_zone z;
        char err[128];
        union {
            char c[1024];
            max_align_t align;
        } out;
        sq_status st;
        if (d->size > sizeof out.c) {
            CHECK(0, "test bug: %s is larger than the fuzz buffer", d->name);
            continue;
        }
        msgpack_zone_init(&z, 1024);
        st = decode(d, buf, len, &z, &out, err, sizeof err, NULL);
        if (st != SQ_OK && st != SQ_ERR_DECODE && (*bad)++ < 5)
            CHECK(0, "%s: %s buffer #%zu (%zu bytes) gave %s", d->name, origin, iter, len,
                  sq_status_name(st));
        fuzz_accepted += st == SQ_OK;
        if (st == SQ_ERR_DECODE && err[0] == '\0' && (*bad)++ < 5)
            CHECK(0, "%s: %s buffer #%zu rejected without a message", d->name, origin, iter);
        msgpack_zone_destroy(&z);
    }
}

static void test_garbage(void)
{
    SECTION("garbage never crashes a decoder");
    uint64_t rs = 0x5eed5eed12345678ULL;
    int bad = 0;
    size_t total = 0;
    unsigned char buf[512];

    /* raw random bytes: 3000 buffers of 0..96 bytes */
    for (size_t it = 0; it < 3000; it++) {
        size_t n = check_rand_(&rs) % 97;
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)check_rand_(&rs);
        /* a third of them start like a map, so the checker goes further */
        if (n > 0 && it % 3 == 0)
            buf[0] = (unsigned char)(0x80 | (check_rand_(&rs) % 16));
        fuzz_one((const char *)buf, n, &bad, "random", it);
        total++;
    }
    /* structured: 3000 random maps with the known keys */
    for (size_t it = 0; it < 3000; it++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        uint32_t n = (uint32_t)(check_rand_(&rs) % 12);
        msgpack_pack_map(&pk, n);
        for (uint32_t i = 0; i < n; i++) {
            sq_mp_pack_str(&pk, known_keys[check_rand_(&rs) % NKNOWN]);
            rand_value(&pk, &rs, 1);
        }
        fuzz_one(sb.data, sb.size, &bad, "structured", it);
        total++;
        msgpack_sbuffer_destroy(&sb);
    }
    /* mutated samples: 250 per message, 1 to 4 byte edits each */
    for (size_t m = 0; m < NMSGS; m++) {
        msgpack_sbuffer sb;
        encode(&msgs[m], msgs[m].sample, &sb);
        for (size_t it = 0; it < 250; it++) {
            char *c = check_dup_exact_(sb.data, sb.size);
            size_t len = sb.size;
            int edits = 1 + (int)(check_rand_(&rs) % 4);
            for (int e = 0; e < edits; e++) {
                size_t at = check_rand_(&rs) % len;
                switch (check_rand_(&rs) % 5) {
                case 0: c[at] = (char)check_rand_(&rs); break;
                case 1: c[at] ^= (char)(1u << (check_rand_(&rs) % 8)); break;
                case 2: c[at] = (char)0xc1; break;
                case 3:
                    c[at] = (char)(0xdc + check_rand_(&rs) % 4);
                    break;                    /* array/map 16/32 headers */
                default: len = at + 1; break; /* truncate */
                }
            }
            fuzz_one(c, len, &bad, msgs[m].name, it);
            total++;
            free(c);
        }
        msgpack_sbuffer_destroy(&sb);
    }
    CHECK(bad == 0, "%d unexpected results over %zu buffers x %zu decoders", bad, total, NMSGS);
    CHECK(fuzz_accepted > 100,
          "only %zu fuzz buffers were accepted by any decoder: the fuzzing does not reach the "
          "field decoders",
          fuzz_accepted);
}

/* ---------------------------------------------------------------- subject tokens */

static void test_subj_token(void)
{
    SECTION("sq_subj_token");
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "guest", "guest" },
        { "Guest_01-x", "Guest_01-x" },
        { "a.b", "a%2Eb" },
        { "a b@c", "a%20b%40c" },
        { "*", "%2A" },
        { ">", "%3E" },
        { "a%b", "a%25b" },
        { "\xc3\xa9", "%C3%A9" },
        { "whisk.system", "whisk%2Esystem" },
        { "john@example.com", "john%40example%2Ecom" },
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(out, 'Z', sizeof out);
        int rc = sq_subj_token(cases[i].in, out, sizeof out);
        CHECK(rc == 0, "sq_subj_token(\"%s\") returned %d", cases[i].in, rc);
        if (rc == 0)
            CHECK_STR(out, cases[i].out, cases[i].in);
    }
    CHECK(sq_subj_token("", out, sizeof out) == -1, "an empty token accepted");

    /* every single byte: kept when [A-Za-z0-9_-], else %XX in upper-case hex */
    int bad = 0;
    for (int c = 1; c < 256; c++) {
        char in[2] = { (char)c, 0 }, want[4];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
        if (keep)
            snprintf(want, sizeof want, "%c", c);
        else
            snprintf(want, sizeof want, "%%%02X", c);
        if ((sq_subj_token(in, out, sizeof out) != 0 || strcmp(out, want) != 0) && bad++ < 5)
            CHECK(0, "byte 0x%02x became \"%s\", want \"%s\"", c, out, want);
        if (strpbrk(out, ". *>\t\r\n") != NULL && bad++ < 5)
            CHECK(0, "byte 0x%02x left a subject metacharacter in \"%s\"", c, out);
    }
    CHECK(bad == 0, "%d bytes escaped wrongly", bad);

    /* space: exact fit, one short, and nothing written past outlen */
    {
        static const struct {
            const char *in;
            size_t outlen;
            const char *want; /* NULL: refused (-1) */
        } fits[] = {
            { "abc", 4, "abc" }, { "abc", 3, NULL }, { "a.", 5, "a%2E" },
            { "a.", 4, NULL },   { "a", 0, NULL },
        };
        char small[16];
        for (size_t k = 0; k < sizeof fits / sizeof fits[0]; k++) {
            int rc;
            memset(small, 'Z', sizeof small);
            rc = sq_subj_token(fits[k].in, small, fits[k].outlen);
            if (fits[k].want)
                CHECK(rc == 0 && strcmp(small, fits[k].want) == 0, "\"%s\" into %zu bytes",
                      fits[k].in, fits[k].outlen);
            else
                CHECK(rc == -1, "\"%s\" into %zu bytes accepted", fits[k].in, fits[k].outlen);
            CHECK(small[fits[k].outlen] == 'Z', "\"%s\" into %zu bytes: written past outlen",
                  fits[k].in, fits[k].outlen);
        }
    }
    /* distinct names give distinct tokens (the escaping is injective) */
    {
        char t1[64], t2[64];
        sq_subj_token("a.b", t1, sizeof t1);
        sq_subj_token("a%2Eb", t2, sizeof t2);
        CHECK(strcmp(t1, t2) != 0, "\"a.b\" and \"a%%2Eb\" share the token %s", t1);
    }
    /* the formats build the subjects the design names */
    {
        char tok[64], subj[128];
        sq_subj_token("guest", tok, sizeof tok);
        snprintf(subj, sizeof subj, SQ_SUBJ_ACT_FMT, tok);
        CHECK_STR(subj, "sq.act.guest", "SQ_SUBJ_ACT_FMT");
        snprintf(subj, sizeof subj, SQ_SUBJ_WORK_FMT, "invoker0");
        CHECK_STR(subj, "sq.work.invoker0", "SQ_SUBJ_WORK_FMT");
        snprintf(subj, sizeof subj, SQ_SUBJ_HEALTH_FMT, "registry");
        CHECK_STR(subj, "sq.registry.health", "SQ_SUBJ_HEALTH_FMT");
        CHECK_STR(SQ_SUBJ_AUTH_VERIFY, "sq.auth.verify", "SQ_SUBJ_AUTH_VERIFY");
        CHECK_STR(SQ_SUBJ_SCHED_INVOKE, "sq.sched.invoke", "SQ_SUBJ_SCHED_INVOKE");
    }
}

/* ---------------------------------------------------------------- main */

/* The record's annotations: every combination of what may be absent packs an array whose
 * length is the number of {key, value} maps in it, in OpenWhisk's shapes. */
static void test_act_annots(void)
{
    static const sq_limits lim = { .timeout = 1000, .memory = 256, .logs = 10, .concurrency = 1 };
    for (unsigned mask = 0; mask < (1u << 10); mask++) {
        sq_act_annots a = SQ_ACT_ANNOTS_INIT;
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_zone z;
        msgpack_object o;
        size_t want = 2, off = 0;
        a.path = "guest/pkg/a";
        a.kind = "nodejs:20";
        if (mask & 1) {
            a.composition = true;
            a.topmost = mask & 2;
            want++;
        }
        if (mask & 4) {
            a.conductor = true;
            want++;
        }
        if (mask & 8) {
            a.limits = &lim;
            want++;
        }
        if (mask & 16) {
            a.binding = "other/b";
            want++;
        }
        if (mask & 32) {
            a.wait_time = 3;
            want++;
        }
        if (mask & 64) {
            a.init_time = 0;
            want++;
        }
        if (mask & 128) {
            a.timeout = true;
            want++;
        }
        if (mask & 256) {
            a.caused_by = "trigger";
            a.cause = "0123456789abcdef0123456789abcdef";
            want += 2;
        }
        if (mask & 512) {
            a.invoker = "inv-1";
            want++;
        }
        sq_proto_buf_init(&sb, &pk);
        sq_act_annots_encode(&a, &pk);
        msgpack_zone_init(&z, 1024);
        CHECK(msgpack_unpack(sb.data, sb.size, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS &&
                  off == sb.size,
              "annots %#x: does not unpack as exactly one object", mask);
        CHECK(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == want,
              "annots %#x: %u entries, want %zu", mask,
              o.type == MSGPACK_OBJECT_ARRAY ? o.via.array.size : 0, want);
        for (uint32_t i = 0; o.type == MSGPACK_OBJECT_ARRAY && i < o.via.array.size; i++) {
            const msgpack_object *kv = &o.via.array.ptr[i];
            CHECK(kv->type == MSGPACK_OBJECT_MAP && kv->via.map.size == 2 && sq_mp_get(kv, "key") &&
                      sq_mp_get(kv, "value"),
                  "annots %#x: entry %u is not {key, value}", mask, i);
        }
        msgpack_zone_destroy(&z);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* One record of `caused_by`/`cause` through the annotations' and the record's encoders (as
 * every maker of records does: invoker, scheduler's compositions, its lost-work records). */
static void record_of(const char *caused_by, const char *cause, msgpack_zone *z,
                      msgpack_object *rec, msgpack_object *annots)
{
    static const sq_limits lim = { .timeout = 1000, .memory = 256, .logs = 10, .concurrency = 1 };
    sq_act_annots an = SQ_ACT_ANNOTS_INIT;
    sq_activation a;
    msgpack_sbuffer asb, sb;
    msgpack_packer apk, pk;
    an.path = "guest/a";
    an.kind = "nodejs:20";
    an.limits = &lim;
    an.caused_by = caused_by;
    an.cause = cause;
    sq_proto_buf_init(&asb, &apk);
    sq_act_annots_encode(&an, &apk);
    CHECK(sq_mp_unpack(asb.data, asb.size, z, annots) == SQ_OK, "annotations unpack");
    a = (sq_activation){ .id = "0123456789abcdef0123456789abcdef",
                         .namespace_ = "guest",
                         .name = "a",
                         .version = "0.0.1",
                         .subject = "s",
                         .status = SQ_ACT_INTERNAL,
                         .annotations = *annots };
    sq_proto_buf_init(&sb, &pk);
    sq_activation_encode(&a, &pk);
    /* sq_mp_unpack checks the map's count against its bytes */
    CHECK(sq_mp_unpack(sb.data, sb.size, z, rec) == SQ_OK, "record unpack");
    g_bufs[g_nbufs++] = asb;
    g_bufs[g_nbufs++] = sb;
}

static const char *annot_of(const msgpack_object *annots, const char *key)
{
    static char buf[64];
    for (uint32_t i = 0; annots->type == MSGPACK_OBJECT_ARRAY && i < annots->via.array.size; i++) {
        const msgpack_object *e = &annots->via.array.ptr[i], *v = sq_mp_get(e, "value");
        if (sq_mp_str_eq(sq_mp_get(e, "key"), key)) {
            if (v == NULL || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= sizeof buf)
                return "?";
            memcpy(buf, v->via.str.ptr, v->via.str.size);
            buf[v->via.str.size] = '\0';
            return buf;
        }
    }
    return NULL;
}

static void test_record_causes(void)
{
    static const char id[] = "00112233445566778899aabbccddeeff";
    msgpack_zone z;
    msgpack_object rec, an;
    const msgpack_object *lim;
    const char *v;

    msgpack_zone_init(&z, 4096);
    /* a sequence's component: causedBy "sequence", cause, and the top-level cause */
    record_of("sequence", id, &z, &rec, &an);
    v = annot_of(&an, "causedBy");
    CHECK(v != NULL && strcmp(v, "sequence") == 0, "component: causedBy %s", v ? v : "absent");
    v = annot_of(&an, "cause");
    CHECK(v != NULL && strcmp(v, id) == 0, "component: cause annotation %s", v ? v : "absent");
    CHECK(sq_mp_str_eq(sq_mp_get(&rec, "cause"), id), "component: no top-level cause");
    /* a rule's action: causedBy "trigger", the cause annotation, no top-level cause */
    record_of("trigger", id, &z, &rec, &an);
    v = annot_of(&an, "causedBy");
    CHECK(v != NULL && strcmp(v, "trigger") == 0, "rule: causedBy %s", v ? v : "absent");
    CHECK(sq_mp_get(&rec, "cause") == NULL, "rule: a top-level cause");
    /* no cause: neither annotation, whatever caused_by says; a cause without a kind is not
     * guessed to be a sequence's */
    record_of("sequence", NULL, &z, &rec, &an);
    CHECK(annot_of(&an, "causedBy") == NULL && annot_of(&an, "cause") == NULL,
          "no cause: causedBy or cause written");
    CHECK(sq_mp_get(&rec, "cause") == NULL, "no cause: a top-level cause");
    record_of(NULL, id, &z, &rec, &an);
    CHECK(annot_of(&an, "causedBy") == NULL, "cause without kind: causedBy guessed");
    CHECK(sq_mp_get(&rec, "cause") == NULL, "cause without kind: a top-level cause");
    /* limits: always the four of them */
    for (uint32_t i = 0; i < an.via.array.size; i++)
        if (sq_mp_str_eq(sq_mp_get(&an.via.array.ptr[i], "key"), "limits")) {
            lim = sq_mp_get(&an.via.array.ptr[i], "value");
            CHECK(lim != NULL && lim->type == MSGPACK_OBJECT_MAP && lim->via.map.size == 4 &&
                      sq_mp_get(lim, "timeout") && sq_mp_get(lim, "memory") &&
                      sq_mp_get(lim, "logs") && sq_mp_get(lim, "concurrency"),
                  "limits is not {timeout, memory, logs, concurrency}");
        }
    msgpack_zone_destroy(&z);
}

/* sq.evt.activation: the record without result, logs and cause; sq_activation_decode reads it */
static void test_activation_event(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;
    sq_activation got;
    char err[200];

    sq_proto_buf_init(&sb, &pk);
    sq_activation_event_encode(&s_activation, &pk);
    msgpack_zone_init(&z, 4096);
    CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK, "event: unpack");
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 11, "event: %u keys, want 11",
          o.type == MSGPACK_OBJECT_MAP ? o.via.map.size : 0);
    CHECK(sq_mp_get(&o, "logs") == NULL && sq_mp_get(&o, "cause") == NULL, "event: logs or cause");
    CHECK(sq_mp_get(sq_mp_get(&o, "response"), "result") == NULL, "event: a result");
    CHECK(sq_mp_get(sq_mp_get(&o, "response"), "success") != NULL, "event: no success");
    CHECK(sq_activation_decode(sb.data, sb.size, &z, &got, err, sizeof err) == SQ_OK,
          "event: does not decode: %s", err);
    CHECK_STR(got.id, s_activation.id, "event id");
    CHECK(got.status == s_activation.status && got.nlogs == 0, "event: status or logs");
    /* the count comes from the table: every truncation fails */
    for (size_t n = 0; n < sb.size; n++)
        CHECK(sq_activation_decode(sb.data, n, &z, &got, err, sizeof err) != SQ_OK,
              "event: %zu of %zu bytes decode", n, sb.size);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

/* The logs of a stored record (sq.activations.logs): a whole record gives its logs, an event
 * (no logs) gives nil; a truncated record is refused */
static void test_record_logs(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    sq_act_record_logs got;

    msgpack_zone_init(&z, 4096);
    sq_proto_buf_init(&sb, &pk);
    sq_activation_encode(&s_activation, &pk);
    CHECK(sq_act_record_logs_decode(sb.data, sb.size, &z, &got, NULL, 0) == SQ_OK &&
              got.logs.type == MSGPACK_OBJECT_ARRAY &&
              got.logs.via.array.size == s_activation.nlogs,
          "record logs: not the record's %zu lines", s_activation.nlogs);
    for (size_t n = 0; n < sb.size; n++)
        CHECK(sq_act_record_logs_decode(sb.data, n, &z, &got, NULL, 0) != SQ_OK,
              "record logs: %zu of %zu bytes decode", n, sb.size);
    msgpack_sbuffer_destroy(&sb);
    sq_proto_buf_init(&sb, &pk);
    sq_activation_event_encode(&s_activation, &pk);
    CHECK(sq_act_record_logs_decode(sb.data, sb.size, &z, &got, NULL, 0) == SQ_OK &&
              got.logs.type == MSGPACK_OBJECT_NIL,
          "record logs: a record without logs is not nil");
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&z);
}

/* Packs with fn into a fresh buffer and unpacks it (the map counts checked by sq_mp_unpack) */
#define PACKED(call, z, o)                                                                         \
    do {                                                                                           \
        msgpack_sbuffer *sb_ = &g_bufs[g_nbufs++];                                                 \
        msgpack_packer pk_;                                                                        \
        sq_proto_buf_init(sb_, &pk_);                                                              \
        msgpack_packer *pk = &pk_;                                                                 \
        call;                                                                                      \
        CHECK(sq_mp_unpack(sb_->data, sb_->size, (z), (o)) == SQ_OK, "%s: unpack", #call);         \
    } while (0)

/* The documents' optional parts: a package's actions and feeds, a trigger's rules keyed by
 * "ns/rule", the summary's keys, an action's input and the conductor's boxing. */
static void test_documents(void)
{
    static const char *const summary_keys[] = { "activationId", "annotations", "duration", "end",
                                                "name",         "namespace",   "publish",  "start",
                                                "statusCode",   "subject",     "version" };
    sq_brief acts[1] = { { .name = "a", .version = "0.0.1", .publish = false } };
    sq_trigger_rule tr[2] = {
        { .key = "guest/r1", .action = { "guest", "a" }, .status = "active" },
        { .key = "guest/r2", .action = { "guest/pkg", "b" }, .status = "inactive" },
    };
    sq_package pkg = s_package;
    sq_trigger trg = s_trigger;
    msgpack_zone z;
    msgpack_object o, num = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 5 };
    const msgpack_object *v;

    msgpack_zone_init(&z, 4096);
    PACKED(sq_package_encode(&s_package, pk), &z, &o);
    CHECK(sq_mp_get(&o, "actions") == NULL && sq_mp_get(&o, "feeds") == NULL,
          "a listed package has actions or feeds");
    pkg.with_contents = true;
    pkg.actions = acts;
    pkg.nactions = 1;
    pkg.binding = (sq_binding_ref){ 0 };
    PACKED(sq_package_encode(&pkg, pk), &z, &o);
    v = sq_mp_get(&o, "actions");
    CHECK(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 1 &&
              sq_mp_str_eq(sq_mp_get(&v->via.array.ptr[0], "name"), "a") &&
              sq_mp_get(&v->via.array.ptr[0], "parameters") != NULL,
          "package actions");
    v = sq_mp_get(&o, "feeds");
    CHECK(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 0, "package feeds: []");
    v = sq_mp_get(&o, "binding");
    CHECK(v && v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0, "a package's binding: {}");

    trg.with_rules = true;
    PACKED(sq_trigger_encode(&trg, pk), &z, &o);
    v = sq_mp_get(&o, "rules");
    CHECK(v && v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0, "no rules: {}");
    trg.rules = tr;
    trg.nrules = 2;
    PACKED(sq_trigger_encode(&trg, pk), &z, &o);
    v = sq_mp_get(sq_mp_get(&o, "rules"), "guest/r2");
    CHECK(v && v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 2 &&
              sq_mp_str_eq(sq_mp_get(v, "status"), "inactive") &&
              sq_mp_str_eq(sq_mp_get(sq_mp_get(v, "action"), "path"), "guest/pkg"),
          "trigger rules keyed by \"ns/rule\": {action, status}");

    PACKED(sq_activation_summary_encode(&s_activation, pk), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 11, "summary: 11 keys");
    for (uint32_t i = 0; o.type == MSGPACK_OBJECT_MAP && i < o.via.map.size && i < 11; i++)
        CHECK(sq_mp_str_eq(&o.via.map.ptr[i].key, summary_keys[i]), "summary key %u", i);

    PACKED(sq_input_encode(pk, NULL), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 0, "no input: {}");
    PACKED(sq_input_encode(pk, &num), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 0, "a scalar input: {}");
    PACKED(sq_boxed_encode(pk, "value", &num), &z, &o);
    v = sq_mp_get(&o, "value");
    CHECK(o.via.map.size == 1 && v && v->via.u64 == 5, "boxed: {value: 5}");
    PACKED(sq_boxed_encode(pk, "state", &s_trigger_event.payload), &z, &o);
    CHECK(obj_eq(&o, &s_trigger_event.payload), "a map is not boxed");
    msgpack_zone_destroy(&z);
}

/* The views services read through proto/ instead of walking maps: an annotation's value, a
 * trigger's rules, a route list's absent strings, an activation's response alone, and what
 * a conductor's result asks. */
static void test_views(void)
{
    msgpack_zone z;
    msgpack_object o, arr = J("[{\"key\":\"a\",\"value\":1},7,{\"key\":\"b\"},{\"key\":5,"
                              "\"value\":2},{\"key\":\"a\",\"value\":3}]");
    const msgpack_object *v;
    char err[256] = "";
    sq_trigger t;
    sq_route_list rl;
    sq_limits l;
    sq_conductor_step cs;

    SECTION("views: annotations, rules, routes, responses, conductor steps");
    msgpack_zone_init(&z, 4096);
    v = sq_kv_value(&arr, "a");
    CHECK(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 1, "kv: the first a");
    v = sq_kv_value(&arr, "b");
    CHECK(v && v->type == MSGPACK_OBJECT_NIL, "kv: an entry without value reads nil");
    CHECK(sq_kv_value(&arr, "c") == NULL, "kv: no such key");
    CHECK(sq_kv_value(&arr, "") == NULL, "kv: the empty key");
    o = J("{\"key\":\"a\",\"value\":1}");
    CHECK(sq_kv_value(&o, "a") == NULL && sq_kv_value(NULL, "a") == NULL, "kv: not an array");

    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\",\"rules\":{\"g/r\":"
          "{\"action\":{\"path\":\"g\",\"name\":\"a\"},\"status\":\"active\"}}}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_OK && t.with_rules && t.nrules == 1 &&
              strcmp(t.rules[0].key, "g/r") == 0 && strcmp(t.rules[0].action.name, "a") == 0 &&
              strcmp(t.rules[0].status, "active") == 0,
          "trigger: its rules are read (%s)", err);
    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\",\"rules\":{\"g/r\":"
          "{\"action\":{\"path\":\"g\",\"name\":\"a\"}}}}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_ERR_DECODE &&
              strstr(err, "status") != NULL,
          "trigger: a rule without status is refused (%s)", err);
    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\",\"rules\":[]}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_ERR_DECODE,
          "trigger: rules that are not a map are refused");
    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\"}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_OK && !t.with_rules && t.nrules == 0,
          "trigger: no rules, with_rules false");
    {
        /* a rules map whose key is not a string */
        static const char raw[] = "\x84\xa9namespace\xa1g\xa4name\xa1t\xa7version\xa5"
                                  "0.0.1\xa5rules\x81\x07\x80";
        CHECK(sq_trigger_decode(raw, sizeof raw - 1, &z, &t, err, sizeof err) == SQ_ERR_DECODE &&
                  strstr(err, "rule") != NULL,
              "trigger: a rule keyed by an int is refused (%s)", err);
    }

    o = J("{\"items\":[{\"relpath\":\"/a\",\"method\":\"get\",\"action_ns\":\"g\","
          "\"action_name\":\"x\",\"response_type\":\"json\"}]}");
    CHECK(sq_route_list_from(&o, &z, &rl, err, sizeof err) == SQ_OK && rl.nroutes == 1 &&
              rl.routes[0].basepath != NULL && rl.routes[0].basepath[0] == '\0' &&
              rl.routes[0].action_pkg != NULL && rl.routes[0].api_name != NULL &&
              strcmp(rl.routes[0].relpath, "/a") == 0,
          "route list: absent strings of a route read \"\" (%s)", err);
    o = J("{\"items\":[{\"relpath\":\"/a\"}]}");
    CHECK(sq_route_list_from(&o, &z, &rl, err, sizeof err) == SQ_ERR_DECODE && rl.nroutes == 0,
          "route list: a route without method is refused");

    PACKED(sq_act_response_encode(&s_activation, pk), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 4 &&
              sq_mp_str_eq(&o.via.map.ptr[0].key, "status") &&
              sq_mp_str_eq(sq_mp_get(&o, "status"), sq_act_status_str(s_activation.status)) &&
              sq_mp_get(&o, "statusCode")->via.u64 == (uint64_t)s_activation.status &&
              obj_eq(sq_mp_get(&o, "result"), &s_activation.result),
          "the response alone: {status, statusCode, success, result}");

    o = J("{\"memory\":512}");
    CHECK(sq_limits_from(&o, NULL, &l, NULL, 0) == SQ_OK && l.memory == 512 && l.timeout == 0 &&
              l.concurrency == 0,
          "limits: absent ones read 0");
    o = J("{\"action\":null,\"params\":5}");
    CHECK(sq_conductor_step_from(&o, NULL, &cs, NULL, 0) == SQ_OK &&
              cs.action.type == MSGPACK_OBJECT_NIL && cs.params.via.u64 == 5 &&
              cs.state.type == MSGPACK_OBJECT_NIL,
          "conductor: null action ends, params kept");
    o = J("[1,2]");
    CHECK(sq_conductor_step_from(&o, NULL, &cs, err, sizeof err) == SQ_ERR_DECODE,
          "conductor: a result that is not a map is refused");
    msgpack_zone_destroy(&z);
}

int main(void)
{
    sq_log_init("proto_test");
    test_act_annots();
    msgpack_zone_init(&g_zone, 65536);
    make_samples();
    test_roundtrips();
    test_semantic();
    test_truncation();
    test_mutations();
    test_garbage();
    test_subj_token();
    test_record_causes();
    test_activation_event();
    test_record_logs();
    test_documents();
    test_views();
    msgpack_zone_destroy(&g_zone);
    for (int i = 0; i < g_nbufs; i++)
        msgpack_sbuffer_destroy(&g_bufs[i]);
    return check_done();
}
