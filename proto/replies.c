/* The small replies every service gives: the id of an accepted activation, a count, a list's
 * items, an action's error result and an activation's logs. */
#include <stdio.h>
#include "proto_impl.h"

/* "rules" twice: read as an int (-1 when absent), written from an object that is nil when
 * the count is not said */
typedef struct act_ref_wire {
    sq_act_ref r;
    msgpack_object rules;
} act_ref_wire;

static const sq_mp_field act_ref_fields[] = {
    F(act_ref_wire, "activationId", SQ_F_STR, r.id, true),
    FE(act_ref_wire, "rules", SQ_F_INT, r.rules, false, SQ_ENC_SKIP),
    FE(act_ref_wire, "rules", SQ_F_ANY, rules, false, SQ_ENC_ONLY | SQ_ENC_OMIT),
};

void sq_act_ref_encode(const sq_act_ref *m, msgpack_packer *pk)
{
    act_ref_wire w = { .r = *m };
    if (m->rules >= 0) {
        w.rules.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        w.rules.via.u64 = (uint64_t)m->rules;
    }
    ENCODE(pk, act_ref_fields, &w);
}

sq_status sq_act_ref_from(const msgpack_object *o, sq_arena_t *ar, sq_act_ref *out, char *err,
                          size_t errlen)
{
    act_ref_wire w;
    sq_status st;
    memset(&w, 0, sizeof w);
    w.r.rules = -1;
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(act_ref_fields), ar, &w, err, errlen);
    *out = w.r;
    return st;
}
DEFINE_DECODE(sq_act_ref)

static const sq_mp_field count_fields[] = {
    F(sq_count, "count", SQ_F_INT, count, true),
};

DEFINE_MESSAGE(sq_count, count_fields)

static const sq_mp_field items_fields[] = {
    F(sq_items, "items", SQ_F_ARRAY, items, true),
};

void sq_items_begin(msgpack_packer *pk, size_t n)
{
    /* the map of items_fields, its one array's elements to follow */
    msgpack_pack_map(pk, sizeof items_fields / sizeof items_fields[0]);
    sq_mp_pack_str(pk, items_fields[0].key);
    msgpack_pack_array(pk, n);
}

sq_status sq_items_from(const msgpack_object *o, sq_arena_t *ar, sq_items *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(items_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_items)

static const sq_mp_field act_error_fields[] = {
    FE(sq_act_error, "error", SQ_F_STR, error, true, SQ_ENC_STR0),
};

DEFINE_MESSAGE(sq_act_error, act_error_fields)

static const sq_mp_field act_logs_fields[] = {
    FE(sq_act_logs, "logs", SQ_F_ARRAY, logs, true, SQ_ENC_EMPTY),
};

DEFINE_MESSAGE(sq_act_logs, act_logs_fields)

static const sq_mp_field act_record_logs_fields[] = {
    FE(sq_act_record_logs, "logs", SQ_F_ARRAY, logs, false, SQ_ENC_EMPTY),
};

DEFINE_MESSAGE_D(sq_act_record_logs, act_record_logs_fields,
                 ((sq_act_record_logs){ .logs.type = MSGPACK_OBJECT_NIL }))

void sq_input_encode(msgpack_packer *pk, const msgpack_object *params)
{
    static const msgpack_object empty = { .type = MSGPACK_OBJECT_MAP };
    if (params == NULL ||
        (params->type != MSGPACK_OBJECT_MAP && params->type != MSGPACK_OBJECT_ARRAY))
        params = &empty;
    msgpack_pack_object(pk, *params);
}

void sq_boxed_encode(msgpack_packer *pk, const char *key, const msgpack_object *v)
{
    /* a table of one field, the value at offset 0 of v */
    const sq_mp_field box[] = { { key, SQ_F_ANY, 0, false, NULL, 0, 0, 0, 0 } };
    if (v->type == MSGPACK_OBJECT_MAP)
        msgpack_pack_object(pk, *v);
    else
        sq_proto_encode_map(pk, box, 1, v);
}

static const sq_mp_field health_fields[] = {
    F(sq_health, "ok", SQ_F_BOOL, ok, true),
    F(sq_health, "service", SQ_F_STR, service, false),
    F(sq_health, "pid", SQ_F_INT, pid, false),
    F(sq_health, "instance", SQ_F_STR, instance, false),
    F(sq_health, "host", SQ_F_STR, host, false),
    F(sq_health, "started", SQ_F_INT, started, false),
    FE(sq_health, "checks", SQ_F_MAP, checks, false, SQ_ENC_EMPTY),
    FS(sq_health, "failed", failed, nfailed, false),
};

DEFINE_MESSAGE(sq_health, health_fields)

static const sq_mp_field conductor_step_fields[] = {
    FE(sq_conductor_step, "action", SQ_F_ANY, action, false, SQ_ENC_OMIT),
    FE(sq_conductor_step, "params", SQ_F_ANY, params, false, SQ_ENC_OMIT),
    FE(sq_conductor_step, "state", SQ_F_ANY, state, false, SQ_ENC_OMIT),
};

DEFINE_MESSAGE(sq_conductor_step, conductor_step_fields)
