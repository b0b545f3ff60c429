/* The PUT bodies of the registry's entities (the `entity` of sq.registry.put and
 * sq.registry.rulestate, as the REST API's JSON gave it), read as raw views: each known
 * field as it came (any type; nil when absent or null, as spray-json reads null as None),
 * so that the registry checks the types itself and answers with OpenWhisk's messages. A
 * decoder refuses only what is not a map with string keys. Encoders leave nil fields out. */
#ifndef SQ_PROTO_BODY_H
#define SQ_PROTO_BODY_H

#include "proto/proto.h"

/* An entity's body: map{version, publish, parameters, annotations, exec, delAnnotations,
 * limits, binding, status, trigger, action} (actions, packages, triggers, rules, and the
 * {status} of rulestate). */
typedef struct sq_entity_body {
    msgpack_object version, publish, parameters, annotations, exec, del_annotations, limits,
        binding, status, trigger, action;
} sq_entity_body;
void sq_entity_body_encode(const sq_entity_body *m, msgpack_packer *pk);
SQ_DECODER(sq_entity_body);

/* An action's exec: map{kind, code, image, main, binary, components}. */
typedef struct sq_exec_body {
    msgpack_object kind, code, image, main, binary, components;
} sq_exec_body;
void sq_exec_body_encode(const sq_exec_body *m, msgpack_packer *pk);
SQ_DECODER(sq_exec_body);

/* An action's limits: map{timeout, memory, logs, concurrency}. */
typedef struct sq_limits_body {
    msgpack_object timeout, memory, logs, concurrency;
} sq_limits_body;
void sq_limits_body_encode(const sq_limits_body *m, msgpack_packer *pk);
SQ_DECODER(sq_limits_body);

/* A package's binding: map{namespace, name}. */
typedef struct sq_binding_body {
    msgpack_object namespace_, name;
} sq_binding_body;
void sq_binding_body_encode(const sq_binding_body *m, msgpack_packer *pk);
SQ_DECODER(sq_binding_body);

/* One entry of the parameters or annotations of a PUT body: map{key: string, value: any},
 * both required (value may be null): the strict form of proto.h's sq_kv, which reads stored
 * entries and lets value default to nil. */
typedef struct sq_kv_entry {
    char *key;
    msgpack_object value;
} sq_kv_entry;
void sq_kv_entry_encode(const sq_kv_entry *m, msgpack_packer *pk);
SQ_DECODER(sq_kv_entry);

#endif
