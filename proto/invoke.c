/* Messages of the invocation path: the invoke request (gateway -> scheduler), the work
 * item (scheduler -> invoker) and the invoker heartbeat. */
#include <stdio.h>
#include "proto_impl.h"

static const sq_mp_field invoke_fields[] = {
    F(sq_invoke, "id", SQ_F_STR, id, true),
    F(sq_invoke, "ns", SQ_F_STR, ns, true),
    F(sq_invoke, "name", SQ_F_STR, name, true),
    F(sq_invoke, "subject", SQ_F_STR, subject, true),
    F(sq_invoke, "key", SQ_F_STR, key, false),
    FE(sq_invoke, "min_rev", SQ_F_INT, min_rev, false, SQ_ENC_OMIT),
    F(sq_invoke, "params", SQ_F_ANY, params, false),
    F(sq_invoke, "blocking", SQ_F_BOOL, blocking, false),
    F(sq_invoke, "wait_ms", SQ_F_INT, wait_ms, false),
    F(sq_invoke, "shared", SQ_F_BOOL, shared, false),
    F(sq_invoke, "caller_ns", SQ_F_STR, caller_ns, false),
    F(sq_invoke, "cause", SQ_F_STR, cause, false),
};

void sq_invoke_encode(const sq_invoke *m, msgpack_packer *pk)
{
    ENCODE(pk, invoke_fields, m);
}

/* Input of an action: a map or an array (or nil, when nil_ok). */
static sq_status params_check(const msgpack_object *params, bool nil_ok, char *err, size_t errlen)
{
    if (params->type == MSGPACK_OBJECT_MAP || params->type == MSGPACK_OBJECT_ARRAY ||
        (nil_ok && params->type == MSGPACK_OBJECT_NIL))
        return SQ_OK;
    if (err)
        snprintf(err, errlen, "expected a map or an array for \"params\"");
    return SQ_ERR_DECODE;
}

sq_status sq_invoke_from(const msgpack_object *o, sq_arena_t *ar, sq_invoke *out, char *err,
                         size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    nil(&out->params);
    out->wait_ms = 60000;
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(invoke_fields), ar, out, err, errlen);
    return st == SQ_OK ? params_check(&out->params, true, err, errlen) : st;
}
DEFINE_DECODE(sq_invoke)

/* a trigger fire's rules in one request: each rule an sq_invoke of its fields and the
 * batch's; "rules" twice: written from the vector, read as the array it is */
static const sq_mp_field batch_rule_fields[] = {
    F(sq_batch_rule, "id", SQ_F_STR, id, true),
    F(sq_batch_rule, "ns", SQ_F_STR, ns, true),
    F(sq_batch_rule, "name", SQ_F_STR, name, true),
    F(sq_batch_rule, "shared", SQ_F_BOOL, shared, false),
};

static const sq_mp_field invoke_batch_fields[] = {
    F(sq_invoke_batch, "subject", SQ_F_STR, subject, true),
    F(sq_invoke_batch, "key", SQ_F_STR, key, false),
    F(sq_invoke_batch, "params", SQ_F_ANY, params, false),
    F(sq_invoke_batch, "caller_ns", SQ_F_STR, caller_ns, false),
    F(sq_invoke_batch, "cause", SQ_F_STR, cause, false),
    FV(sq_invoke_batch, "rules", rules, nrules, sq_batch_rule, batch_rule_fields, 0),
    FE(sq_invoke_batch, "rules", SQ_F_ARRAY, rules_read, true, SQ_ENC_SKIP),
};

DEFINE_ENCODE(sq_invoke_batch, invoke_batch_fields)

sq_status sq_invoke_batch_from(const msgpack_object *o, sq_arena_t *ar, sq_invoke_batch *out,
                               char *err, size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    nil(&out->params);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(invoke_batch_fields), ar, out, err, errlen);
    if (st == SQ_OK)
        st = params_check(&out->params, true, err, errlen);
    if (st == SQ_OK)
        st = sq_proto_decode_vec(&out->rules_read, SQ_MP_FIELDS(batch_rule_fields), ar,
                                 sizeof(sq_batch_rule), &out->rules, &out->nrules, err, errlen);
    return st;
}
DEFINE_DECODE(sq_invoke_batch)

static const sq_mp_field invoke_outcome_fields[] = {
    FE(sq_invoke_outcome, "activationId", SQ_F_STR, id, false, SQ_ENC_OMIT),
    F(sq_invoke_outcome, "code", SQ_F_INT, code, true),
    FE(sq_invoke_outcome, "error", SQ_F_STR, error, false, SQ_ENC_OMIT),
};

static const sq_mp_field invoke_outcomes_fields[] = {
    FV(sq_invoke_outcomes, "rules", rules, nrules, sq_invoke_outcome, invoke_outcome_fields, 0),
    FE(sq_invoke_outcomes, "rules", SQ_F_ARRAY, rules_read, true, SQ_ENC_SKIP),
};

DEFINE_MESSAGE_VEC(sq_invoke_outcomes, invoke_outcomes_fields, rules_read, sq_invoke_outcome,
                   invoke_outcome_fields, rules, nrules)

typedef struct work_wire {
    sq_work w;
    msgpack_object action;
} work_wire;

#define S0 SQ_ENC_STR0

/* "action" twice: the decoder takes the map (sq_action_from sets its defaults), the encoder
 * writes the struct with the action's own table */
static const sq_mp_field work_fields[] = {
    F(work_wire, "id", SQ_F_STR, w.id, true),
    F(work_wire, "subject", SQ_F_STR, w.subject, true),
    FE(work_wire, "key", SQ_F_STR, w.key, false, S0),
    FE(work_wire, "ns", SQ_F_STR, w.ns, false, S0 | SQ_ENC_OMITE),
    FE(work_wire, "reply", SQ_F_STR, w.reply, false, S0),
    F(work_wire, "blocking", SQ_F_BOOL, w.blocking, false),
    F(work_wire, "submitted", SQ_F_INT, w.submitted, false),
    FE(work_wire, "action", SQ_F_MAP, action, true, SQ_ENC_SKIP),
    FNE(work_wire, "action", w.action, true, sq_action_fields, SQ_ACTION_NFIELDS, SQ_ENC_ONLY),
    F(work_wire, "params", SQ_F_ANY, w.params, true),
    FE(work_wire, "cause", SQ_F_STR, w.cause, false, S0),
    FE(work_wire, "caused_by", SQ_F_STR, w.caused_by, false, S0),
    FE(work_wire, "binding", SQ_F_STR, w.binding, false, S0 | SQ_ENC_OMITE),
};

void sq_work_encode(const sq_work *m, msgpack_packer *pk)
{
    work_wire ww = { .w = *m };
    ENCODE(pk, work_fields, &ww);
}

sq_status sq_work_from(const msgpack_object *o, sq_arena_t *ar, sq_work *out, char *err,
                       size_t errlen)
{
    work_wire ww;
    sq_status st;

    memset(&ww, 0, sizeof ww);
    st = sq_proto_decode_map(o, SQ_MP_FIELDS(work_fields), ar, &ww, err, errlen);
    if (st == SQ_OK)
        st = params_check(&ww.w.params, false, err, errlen);
    if (st == SQ_OK)
        st = sq_action_from(&ww.action, ar, &ww.w.action, err, errlen);
    if (st == SQ_OK && ww.w.action.exec.code == NULL) {
        if (err)
            snprintf(err, errlen, "work item carries no code");
        st = SQ_ERR_DECODE;
    }
    *out = ww.w;
    return st;
}
DEFINE_DECODE(sq_work)

static const sq_mp_field heartbeat_fields[] = {
    F(sq_heartbeat, "id", SQ_F_STR, id, true),
    F(sq_heartbeat, "total_mb", SQ_F_INT, total_mb, true),
    F(sq_heartbeat, "free_mb", SQ_F_INT, free_mb, true),
    F(sq_heartbeat, "warm", SQ_F_INT, warm, false),
    F(sq_heartbeat, "busy", SQ_F_INT, busy, false),
    F(sq_heartbeat, "healthy", SQ_F_BOOL, healthy, false),
    F(sq_heartbeat, "draining", SQ_F_BOOL, draining, false),
    F(sq_heartbeat, "at", SQ_F_INT, at, false),
    F(sq_heartbeat, "started", SQ_F_INT, started, false),
    FE(sq_heartbeat, "actions", SQ_F_MAP, actions, false, SQ_ENC_OMIT),
};

DEFINE_MESSAGE_D(sq_heartbeat, heartbeat_fields, ((sq_heartbeat){ .healthy = true }))

static const sq_mp_field sched_beat_fields[] = {
    F(sq_sched_beat, "id", SQ_F_STR, id, true),
    F(sq_sched_beat, "at", SQ_F_INT, at, false),
};

DEFINE_MESSAGE(sq_sched_beat, sched_beat_fields)

static const sq_mp_field sched_moved_fields[] = {
    F(sq_sched_moved, "id", SQ_F_STR, id, true),
    F(sq_sched_moved, "invoker", SQ_F_STR, invoker, true),
    F(sq_sched_moved, "seq", SQ_F_INT, seq, true),
};

DEFINE_MESSAGE(sq_sched_moved, sched_moved_fields)

static const sq_mp_field fire_fields[] = {
    F(sq_fire, "id", SQ_F_STR, id, true),
    F(sq_fire, "ns", SQ_F_STR, ns, true),
    F(sq_fire, "name", SQ_F_STR, name, true),
    F(sq_fire, "subject", SQ_F_STR, subject, true),
    F(sq_fire, "key", SQ_F_STR, key, false),
    F(sq_fire, "caller_ns", SQ_F_STR, caller_ns, false),
    F(sq_fire, "payload", SQ_F_MAP, payload, false),
};

DEFINE_MESSAGE(sq_fire, fire_fields)

static const sq_mp_field run_note_fields[] = {
    FE(sq_run_note, "owner", SQ_F_STR, owner, false, S0),
    F(sq_run_note, "start", SQ_F_INT, start, false),
    FE(sq_run_note, "ns", SQ_F_STR, ns, false, S0),
    FE(sq_run_note, "name", SQ_F_STR, name, false, S0),
    F(sq_run_note, "version", SQ_F_STR, version, false),
    F(sq_run_note, "subject", SQ_F_STR, subject, false),
    FE(sq_run_note, "path", SQ_F_STR, path, false, S0),
    F(sq_run_note, "timeout", SQ_F_INT, limits.timeout, false),
    F(sq_run_note, "memory", SQ_F_INT, limits.memory, false),
    F(sq_run_note, "logs", SQ_F_INT, limits.logs, false),
    F(sq_run_note, "concurrency", SQ_F_INT, limits.concurrency, false),
    FE(sq_run_note, "cause", SQ_F_STR, cause, false, S0),
    F(sq_run_note, "caused_by", SQ_F_STR, caused_by, false),
    FE(sq_run_note, "binding", SQ_F_STR, binding, false, S0),
};

DEFINE_MESSAGE_D(sq_run_note, run_note_fields, ((sq_run_note){ .limits = SQ_LIMITS_DEFAULT }))
