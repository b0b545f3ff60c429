/* The registry's PUT bodies as raw views, and their {key, value} entries. See body.h. */
#include <stdio.h>
#include "proto/body.h"
#include "proto_impl.h"

/* a field of a raw view: any type, left out when nil */
#define FA(type, key, member) FE(type, key, SQ_F_ANY, member, false, SQ_ENC_OMIT)

static const sq_mp_field entity_body_fields[] = {
    FA(sq_entity_body, "version", version),
    FA(sq_entity_body, "publish", publish),
    FA(sq_entity_body, "parameters", parameters),
    FA(sq_entity_body, "annotations", annotations),
    FA(sq_entity_body, "exec", exec),
    FA(sq_entity_body, "delAnnotations", del_annotations),
    FA(sq_entity_body, "limits", limits),
    FA(sq_entity_body, "binding", binding),
    FA(sq_entity_body, "status", status),
    FA(sq_entity_body, "trigger", trigger),
    FA(sq_entity_body, "action", action),
};
DEFINE_MESSAGE(sq_entity_body, entity_body_fields)

static const sq_mp_field exec_body_fields[] = {
    FA(sq_exec_body, "kind", kind),     FA(sq_exec_body, "code", code),
    FA(sq_exec_body, "image", image),   FA(sq_exec_body, "main", main),
    FA(sq_exec_body, "binary", binary), FA(sq_exec_body, "components", components),
};
DEFINE_MESSAGE(sq_exec_body, exec_body_fields)

static const sq_mp_field limits_body_fields[] = {
    FA(sq_limits_body, "timeout", timeout),
    FA(sq_limits_body, "memory", memory),
    FA(sq_limits_body, "logs", logs),
    FA(sq_limits_body, "concurrency", concurrency),
};
DEFINE_MESSAGE(sq_limits_body, limits_body_fields)

static const sq_mp_field binding_body_fields[] = {
    FA(sq_binding_body, "namespace", namespace_),
    FA(sq_binding_body, "name", name),
};
DEFINE_MESSAGE(sq_binding_body, binding_body_fields)

static const sq_mp_field kv_entry_fields[] = {
    F(sq_kv_entry, "key", SQ_F_STR, key, true),
    F(sq_kv_entry, "value", SQ_F_ANY, value, true),
};
DEFINE_MESSAGE(sq_kv_entry, kv_entry_fields)
