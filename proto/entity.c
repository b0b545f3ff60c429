/* Messages of the registry: the action entity, put/get/delete/resolve/list requests and
 * the entity change event. */
#include <stdio.h>
#include "proto_impl.h"

static const sq_mp_field exec_fields[] = {
    F(sq_exec, "kind", SQ_F_STR, kind, true),
    FE(sq_exec, "code", SQ_F_STR, code, false, SQ_ENC_OMIT),
    FE(sq_exec, "main", SQ_F_STR, main, false, SQ_ENC_OMIT),
    F(sq_exec, "binary", SQ_F_BOOL, binary, false),
    FE(sq_exec, "components", SQ_F_ARRAY, components, false, SQ_ENC_OMIT),
};

const sq_mp_field sq_limits_fields[SQ_LIMITS_NFIELDS] = {
    F(sq_limits, "timeout", SQ_F_INT, timeout, false),
    F(sq_limits, "memory", SQ_F_INT, memory, false),
    F(sq_limits, "logs", SQ_F_INT, logs, false),
    F(sq_limits, "concurrency", SQ_F_INT, concurrency, false),
};

const sq_mp_field sq_action_fields[SQ_ACTION_NFIELDS] = {
    F(sq_action, "namespace", SQ_F_STR, namespace_, true),
    F(sq_action, "name", SQ_F_STR, name, true),
    F(sq_action, "version", SQ_F_STR, version, true),
    FN(sq_action, "exec", exec, true, exec_fields),
    FE(sq_action, "parameters", SQ_F_ARRAY, parameters, false, SQ_ENC_EMPTY),
    FE(sq_action, "annotations", SQ_F_ARRAY, annotations, false, SQ_ENC_EMPTY),
    FNE(sq_action, "limits", limits, false, sq_limits_fields, SQ_LIMITS_NFIELDS, 0),
    F(sq_action, "publish", SQ_F_BOOL, publish, false),
    F(sq_action, "updated", SQ_F_INT, updated, false),
    F(sq_action, "rev", SQ_F_INT, rev, false),
};

void sq_action_encode(const sq_action *m, msgpack_packer *pk)
{
    sq_proto_encode_map(pk, sq_action_fields, SQ_ACTION_NFIELDS, m);
}

sq_status sq_action_from(const msgpack_object *o, sq_arena_t *ar, sq_action *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    nil(&out->parameters);
    nil(&out->annotations);
    nil(&out->exec.components);
    out->limits = SQ_LIMITS_DEFAULT;
    return sq_mp_decode_map(o, sq_action_fields, SQ_ACTION_NFIELDS, ar, out, err, errlen);
}
DEFINE_DECODE(sq_action)

static const sq_mp_field put_fields[] = {
    F(sq_reg_put, "ns", SQ_F_STR, ns, true),
    F(sq_reg_put, "name", SQ_F_STR, name, true),
    F(sq_reg_put, "kind", SQ_F_STR, kind, true),
    F(sq_reg_put, "subject", SQ_F_STR, subject, false),
    F(sq_reg_put, "overwrite", SQ_F_BOOL, overwrite, false),
    F(sq_reg_put, "entity", SQ_F_MAP, entity, true),
};

DEFINE_MESSAGE(sq_reg_put, put_fields)

static const sq_mp_field ref_fields[] = {
    F(sq_reg_ref, "ns", SQ_F_STR, ns, true),
    F(sq_reg_ref, "name", SQ_F_STR, name, true),
    F(sq_reg_ref, "kind", SQ_F_STR, kind, true),
    F(sq_reg_ref, "code", SQ_F_BOOL, code, false),
    F(sq_reg_ref, "force", SQ_F_BOOL, force, false),
    F(sq_reg_ref, "shared", SQ_F_BOOL, shared, false),
};

DEFINE_MESSAGE_D(sq_reg_ref, ref_fields, ((sq_reg_ref){ .code = true }))

static const sq_mp_field list_fields[] = {
    F(sq_reg_list, "ns", SQ_F_STR, ns, true),
    F(sq_reg_list, "kind", SQ_F_STR, kind, true),
    F(sq_reg_list, "skip", SQ_F_INT, skip, false),
    F(sq_reg_list, "limit", SQ_F_INT, limit, false),
    F(sq_reg_list, "count", SQ_F_BOOL, count, false),
    F(sq_reg_list, "public", SQ_F_BOOL, public_, false),
    F(sq_reg_list, "shared", SQ_F_BOOL, shared, false),
};

DEFINE_MESSAGE_D(sq_reg_list, list_fields, ((sq_reg_list){ .limit = 30 }))

static const sq_mp_field event_fields[] = {
    F(sq_entity_event, "ns", SQ_F_STR, ns, true),
    F(sq_entity_event, "kind", SQ_F_STR, kind, true),
    F(sq_entity_event, "name", SQ_F_STR, name, true),
    F(sq_entity_event, "op", SQ_F_STR, op, true),
    F(sq_entity_event, "version", SQ_F_STR, version, false),
};

DEFINE_MESSAGE(sq_entity_event, event_fields)

static const sq_mp_field log_event_fields[] = {
    F(sq_log_event, "activationId", SQ_F_STR, id, true),
    F(sq_log_event, "namespace", SQ_F_STR, ns, true),
    F(sq_log_event, "name", SQ_F_STR, name, true),
    FE(sq_log_event, "line", SQ_F_STR, line, false, SQ_ENC_OMIT),
    F(sq_log_event, "end", SQ_F_BOOL, end, true),
};

DEFINE_MESSAGE(sq_log_event, log_event_fields)

static const sq_mp_field kv_fields[] = {
    F(sq_kv, "key", SQ_F_STR, key, true),
    F(sq_kv, "value", SQ_F_ANY, value, false),
    FE(sq_kv, "init", SQ_F_BOOL, init, false, SQ_ENC_OMIT),
};

DEFINE_MESSAGE(sq_kv, kv_fields)

const msgpack_object *sq_kv_value(const msgpack_object *arr, const char *key)
{
    static const msgpack_object none = { .type = MSGPACK_OBJECT_NIL };
    size_t n = strlen(key);

    if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *k = sq_mp_get(&arr->via.array.ptr[i], kv_fields[0].key), *v;
        if (k == NULL || k->type != MSGPACK_OBJECT_STR || k->via.str.size != n ||
            memcmp(k->via.str.ptr, key, n) != 0)
            continue;
        v = sq_mp_get(&arr->via.array.ptr[i], kv_fields[1].key);
        return v != NULL ? v : &none;
    }
    return NULL;
}

DEFINE_MESSAGE(sq_limits, sq_limits_fields)
