/* Messages of the registry: the action entity, put/get/delete/resolve/list requests and
 * the entity change event. */
#include <stdio.h>
#include "proto_impl.h"

static void pack_limits(msgpack_packer *pk, const sq_limits *l)
{
    msgpack_pack_map(pk, 4);
    sq_mp_kv_int(pk, "timeout", l->timeout);
    sq_mp_kv_int(pk, "memory", l->memory);
    sq_mp_kv_int(pk, "logs", l->logs);
    sq_mp_kv_int(pk, "concurrency", l->concurrency);
}

static void pack_kv_array(msgpack_packer *pk, const char *key, const msgpack_object *a)
{
    sq_mp_pack_str(pk, key);
    if (a->type == MSGPACK_OBJECT_ARRAY)
        msgpack_pack_object(pk, *a);
    else
        msgpack_pack_array(pk, 0);
}

void sq_action_encode(const sq_action *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 10);
    sq_mp_kv_str(pk, "namespace", m->namespace_);
    sq_mp_kv_str(pk, "name", m->name);
    sq_mp_kv_str(pk, "version", m->version);
    sq_mp_pack_str(pk, "exec");
    msgpack_pack_map(pk, 2 + (m->exec.code != NULL) + (m->exec.main != NULL) +
                             (m->exec.components.type == MSGPACK_OBJECT_ARRAY));
    sq_mp_kv_str(pk, "kind", m->exec.kind);
    if (m->exec.code != NULL)
        sq_mp_kv_str(pk, "code", m->exec.code);
    if (m->exec.main != NULL)
        sq_mp_kv_str(pk, "main", m->exec.main);
    sq_mp_kv_bool(pk, "binary", m->exec.binary);
    if (m->exec.components.type == MSGPACK_OBJECT_ARRAY)
        sq_mp_kv_obj(pk, "components", &m->exec.components);
    pack_kv_array(pk, "parameters", &m->parameters);
    pack_kv_array(pk, "annotations", &m->annotations);
    sq_mp_pack_str(pk, "limits");
    pack_limits(pk, &m->limits);
    sq_mp_kv_bool(pk, "publish", m->publish);
    sq_mp_kv_int(pk, "updated", m->updated);
    sq_mp_kv_int(pk, "rev", m->rev);
}

static const sq_mp_field exec_fields[] = {
    F(sq_exec, "kind", SQ_F_STR, kind, true),
    F(sq_exec, "code", SQ_F_STR, code, false),
    F(sq_exec, "main", SQ_F_STR, main, false),
    F(sq_exec, "binary", SQ_F_BOOL, binary, false),
    F(sq_exec, "components", SQ_F_ARRAY, components, false),
};

static const sq_mp_field limits_fields[] = {
    F(sq_limits, "timeout", SQ_F_INT, timeout, false),
    F(sq_limits, "memory", SQ_F_INT, memory, false),
    F(sq_limits, "logs", SQ_F_INT, logs, false),
    F(sq_limits, "concurrency", SQ_F_INT, concurrency, false),
};

static const sq_mp_field action_fields[] = {
    F(sq_action, "namespace", SQ_F_STR, namespace_, true),
    F(sq_action, "name", SQ_F_STR, name, true),
    F(sq_action, "version", SQ_F_STR, version, true),
    FN(sq_action, "exec", exec, true, exec_fields),
    F(sq_action, "parameters", SQ_F_ARRAY, parameters, false),
    F(sq_action, "annotations", SQ_F_ARRAY, annotations, false),
    FN(sq_action, "limits", limits, false, limits_fields),
    F(sq_action, "publish", SQ_F_BOOL, publish, false),
    F(sq_action, "updated", SQ_F_INT, updated, false),
    F(sq_action, "rev", SQ_F_INT, rev, false),
};

sq_status sq_action_from(const msgpack_object *o, sq_arena_t *ar, sq_action *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    nil(&out->parameters);
    nil(&out->annotations);
    nil(&out->exec.components);
    out->limits = SQ_LIMITS_DEFAULT;
    return sq_mp_decode_map(o, SQ_MP_FIELDS(action_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_action)

void sq_reg_put_encode(const sq_reg_put *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 6);
    sq_mp_kv_str(pk, "ns", m->ns);
    sq_mp_kv_str(pk, "name", m->name);
    sq_mp_kv_str(pk, "kind", m->kind);
    sq_mp_kv_str(pk, "subject", m->subject);
    sq_mp_kv_bool(pk, "overwrite", m->overwrite);
    sq_mp_kv_obj(pk, "entity", &m->entity);
}

static const sq_mp_field put_fields[] = {
    F(sq_reg_put, "ns", SQ_F_STR, ns, true),
    F(sq_reg_put, "name", SQ_F_STR, name, true),
    F(sq_reg_put, "kind", SQ_F_STR, kind, true),
    F(sq_reg_put, "subject", SQ_F_STR, subject, false),
    F(sq_reg_put, "overwrite", SQ_F_BOOL, overwrite, false),
    F(sq_reg_put, "entity", SQ_F_MAP, entity, true),
};

sq_status sq_reg_put_from(const msgpack_object *o, sq_arena_t *ar, sq_reg_put *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(put_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_reg_put)

void sq_reg_ref_encode(const sq_reg_ref *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 6);
    sq_mp_kv_str(pk, "ns", m->ns);
    sq_mp_kv_str(pk, "name", m->name);
    sq_mp_kv_str(pk, "kind", m->kind);
    sq_mp_kv_bool(pk, "code", m->code);
    sq_mp_kv_bool(pk, "force", m->force);
    sq_mp_kv_bool(pk, "shared", m->shared);
}

static const sq_mp_field ref_fields[] = {
    F(sq_reg_ref, "ns", SQ_F_STR, ns, true),
    F(sq_reg_ref, "name", SQ_F_STR, name, true),
    F(sq_reg_ref, "kind", SQ_F_STR, kind, true),
    F(sq_reg_ref, "code", SQ_F_BOOL, code, false),
    F(sq_reg_ref, "force", SQ_F_BOOL, force, false),
    F(sq_reg_ref, "shared", SQ_F_BOOL, shared, false),
};

sq_status sq_reg_ref_from(const msgpack_object *o, sq_arena_t *ar, sq_reg_ref *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->code = true;
    return sq_mp_decode_map(o, SQ_MP_FIELDS(ref_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_reg_ref)

void sq_reg_list_encode(const sq_reg_list *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 7);
    sq_mp_kv_str(pk, "ns", m->ns);
    sq_mp_kv_str(pk, "kind", m->kind);
    sq_mp_kv_int(pk, "skip", m->skip);
    sq_mp_kv_int(pk, "limit", m->limit);
    sq_mp_kv_bool(pk, "count", m->count);
    sq_mp_kv_bool(pk, "public", m->public_);
    sq_mp_kv_bool(pk, "shared", m->shared);
}

static const sq_mp_field list_fields[] = {
    F(sq_reg_list, "ns", SQ_F_STR, ns, true),
    F(sq_reg_list, "kind", SQ_F_STR, kind, true),
    F(sq_reg_list, "skip", SQ_F_INT, skip, false),
    F(sq_reg_list, "limit", SQ_F_INT, limit, false),
    F(sq_reg_list, "count", SQ_F_BOOL, count, false),
    F(sq_reg_list, "public", SQ_F_BOOL, public_, false),
    F(sq_reg_list, "shared", SQ_F_BOOL, shared, false),
};

sq_status sq_reg_list_from(const msgpack_object *o, sq_arena_t *ar, sq_reg_list *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->limit = 30;
    return sq_mp_decode_map(o, SQ_MP_FIELDS(list_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_reg_list)

void sq_entity_event_encode(const sq_entity_event *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    sq_mp_kv_str(pk, "ns", m->ns);
    sq_mp_kv_str(pk, "kind", m->kind);
    sq_mp_kv_str(pk, "name", m->name);
    sq_mp_kv_str(pk, "op", m->op);
    sq_mp_kv_str(pk, "version", m->version);
}

static const sq_mp_field event_fields[] = {
    F(sq_entity_event, "ns", SQ_F_STR, ns, true),
    F(sq_entity_event, "kind", SQ_F_STR, kind, true),
    F(sq_entity_event, "name", SQ_F_STR, name, true),
    F(sq_entity_event, "op", SQ_F_STR, op, true),
    F(sq_entity_event, "version", SQ_F_STR, version, false),
};

sq_status sq_entity_event_from(const msgpack_object *o, sq_arena_t *ar, sq_entity_event *out,
                               char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(event_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_entity_event)

void sq_log_event_encode(const sq_log_event *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, m->line ? 5 : 4);
    sq_mp_kv_str(pk, "activationId", m->id);
    sq_mp_kv_str(pk, "namespace", m->ns);
    sq_mp_kv_str(pk, "name", m->name);
    if (m->line)
        sq_mp_kv_str(pk, "line", m->line);
    sq_mp_kv_bool(pk, "end", m->end);
}

static const sq_mp_field log_event_fields[] = {
    F(sq_log_event, "activationId", SQ_F_STR, id, true),
    F(sq_log_event, "namespace", SQ_F_STR, ns, true),
    F(sq_log_event, "name", SQ_F_STR, name, true),
    F(sq_log_event, "line", SQ_F_STR, line, false),
    F(sq_log_event, "end", SQ_F_BOOL, end, true),
};

sq_status sq_log_event_from(const msgpack_object *o, sq_arena_t *ar, sq_log_event *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(log_event_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_log_event)
