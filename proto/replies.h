/* The small replies and views of the wire contract; part of proto/proto.h (include that). */
#ifndef SQ_PROTO_REPLIES_H
#define SQ_PROTO_REPLIES_H

#include "proto/proto.h"

/* ---- small replies (proto/replies.c) --------------------------------------------------- */

/* The answer to an accepted activation: map{activationId, rules?: int}: sq.sched.invoke
 * (queued, non-blocking) and sq.trigger.fire (rules: 0 when no rule is active, else absent). */
typedef struct sq_act_ref {
    char *id;
    int64_t rules; /* < 0: absent (what the decoder gives when it is) */
} sq_act_ref;
void sq_act_ref_encode(const sq_act_ref *m, msgpack_packer *pk);
SQ_DECODER(sq_act_ref);

/* A count: map{count: int} (lists with count, deleted routes) */
typedef struct sq_count {
    int64_t count;
} sq_count;
void sq_count_encode(const sq_count *m, msgpack_packer *pk);
SQ_DECODER(sq_count);

/* A list: map{items: [...]}. sq_items_begin() packs the map and the array's header; the
 * caller packs the n items after it. */
typedef struct sq_items {
    msgpack_object items; /* array */
} sq_items;
void sq_items_begin(msgpack_packer *pk, size_t n);
SQ_DECODER(sq_items);

/* An action's error result, as OpenWhisk's: map{error: str} (records the platform writes) */
typedef struct sq_act_error {
    char *error;
} sq_act_error;
void sq_act_error_encode(const sq_act_error *m, msgpack_packer *pk);
SQ_DECODER(sq_act_error);

/* sq.activations.logs reply: map{logs: [str]} */
typedef struct sq_act_logs {
    msgpack_object logs; /* array; nil packs [] */
} sq_act_logs;
void sq_act_logs_encode(const sq_act_logs *m, msgpack_packer *pk);
SQ_DECODER(sq_act_logs);

/* The response of an activation record alone: map{status, statusCode, success, result}
 * (GET /activations/{id}/result) */
void sq_act_response_encode(const sq_activation *m, msgpack_packer *pk);

/* A list of API routes, the reply of sq.registry.route_get and route_put: map{items:
 * [sq_route]}. The decoder fills routes (in the arena). */
typedef struct sq_route_list {
    sq_route *routes;
    size_t nroutes;
    msgpack_object items_read; /* decoded: the array */
} sq_route_list;
void sq_route_list_encode(const sq_route_list *m, msgpack_packer *pk);
SQ_DECODER(sq_route_list);

/* The answer of sq.<svc>.health (sq/health.h, which packs it in libsq): map{ok: bool,
 * service, pid, instance, host, started: int ms, checks: map{name: "ok" | why}, failed:
 * [str]} */
typedef struct sq_health {
    bool ok;
    char *service, *instance, *host;
    int64_t pid, started;
    msgpack_object checks; /* map; nil packs {} */
    char **failed;
    size_t nfailed;
} sq_health;
void sq_health_encode(const sq_health *m, msgpack_packer *pk);
SQ_DECODER(sq_health);

/* What a conductor action answers (OpenWhisk's conductor protocol): its result, a map
 * {action?: "/ns/[pkg/]name" (nil or absent: the composition ends), params?: any, state?:
 * any}. Nil stands for absent. The decoder refuses a result that is not a map (which asks
 * nothing: the scheduler ends the composition with it). */
typedef struct sq_conductor_step {
    msgpack_object action, params, state;
} sq_conductor_step;
void sq_conductor_step_encode(const sq_conductor_step *m, msgpack_packer *pk);
SQ_DECODER(sq_conductor_step);
/* The logs of a stored activation record (an sq_activation as published): its other keys are
 * ignored; absent logs read as nil. Decoded by the activation store for sq.activations.logs. */
typedef struct sq_act_record_logs {
    msgpack_object logs; /* array, or nil when the record has none */
} sq_act_record_logs;
void sq_act_record_logs_encode(const sq_act_record_logs *m, msgpack_packer *pk);
SQ_DECODER(sq_act_record_logs);

/* An action's input: params as they are when a map or an array, else {} (OpenWhisk: an
 * action invoked without parameters gets an empty object). */
void sq_input_encode(msgpack_packer *pk, const msgpack_object *params);
/* v when it is a map, else map{key: v} (OpenWhisk's conductor boxes params and state that
 * are not objects: {value: v}, {state: s}). */
void sq_boxed_encode(msgpack_packer *pk, const char *key, const msgpack_object *v);

#endif
