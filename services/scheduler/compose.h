/* The pure parts of compositions (seq.c): action names as sequences and conductors give
 * them, what a conductor's result asks for, the conductor's state carried into its next
 * input, and the memory a component record reports. No NATS, no clock: seq.c calls them
 * and test/unit/sched_test.c checks them. */
#ifndef SCHED_COMPOSE_H
#define SCHED_COMPOSE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

/* Parses a fully qualified action name ("/ns/name", "/ns/pkg/name"; with `relative`, also
 * "name" and "pkg/name" in the default namespace) into ns and name ("pkg/name"); "_" is
 * the caller's namespace. false for anything else (empty parts, more than three, names
 * OpenWhisk's rule refuses, too long). */
bool sched_parse_fqn(const char *s, size_t len, bool relative, const char *caller_ns, char *ns,
                     size_t nslen, char *name, size_t namelen);

/* What a conductor action's result asks for (apache/openwhisk docs/conductors.md): the next
 * action, its params and the state to keep; each NULL when absent or null (a result that is
 * not a map asks for nothing: the composition ends with it). They point into step (and
 * res). */
typedef struct sched_conductor_ask {
    const msgpack_object *action, *params, *state;
    sq_conductor_step step;
} sched_conductor_ask;
void sched_conductor_parse(const msgpack_object *res, sched_conductor_ask *ask);

/* The conductor's next input: the component's result (when a map) with the state kept in
 * state (a packed map; size 0: none) on top, in z. false when out of memory. */
bool sched_with_state(const msgpack_sbuffer *state, const msgpack_object *result, msgpack_zone *z,
                      msgpack_object *out);

/* The memory limit annotated on a component record (annotation limits.memory), or 0. */
int64_t sched_record_memory(const sq_activation *a);

#endif
