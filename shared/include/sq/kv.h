/* Parameter and annotation layers: OpenWhisk keeps parameters and annotations as arrays of
 * {key, value} entries (stored entities) and receives them as maps (an invoke's or a fire's
 * payload). Several layers merge into one, each later layer overriding the keys of earlier
 * ones: package < binding < action < invoke for an action's input, trigger < fire payload
 * for a trigger's event. One merge serves the registry (stored arrays), the scheduler
 * (defaults under the invoke's parameters) and triggers (a trigger's parameters under the
 * payload), so the three cannot drift apart. */
#ifndef SQ_KV_H
#define SQ_KV_H

#include <stddef.h>
#include "sq/mp.h"
#include "sq/status.h"

/* The shape of a merged result. */
typedef enum {
    SQ_KV_MAP,   /* map {key: value} */
    SQ_KV_ARRAY, /* array [{key, value}] (entries taken from a map layer are built anew) */
} sq_kv_shape;

/* Merges layers[0..n) into *out in the arena, later layers overriding earlier ones key by
 * key. A layer may be a map, an array of {key, value} entries, NULL or anything else (taken
 * as empty). Each key appears once, at the position of its first appearance, with the value
 * of its last: {a:1, b:2} then {b:3, c:4} gives {a:1, b:3, c:4}. Inside one layer the last
 * duplicate wins too. An array entry without a string "key" is skipped; one without
 * "value" gives nil. A map's non-string keys are kept as they are (never merged). Keys and
 * values point into the layers (which must outlive *out); only the arrays of the result
 * are allocated. Linear in the total number of entries. SQ_ERR_NOMEM when the arena is
 * exhausted, else SQ_OK. */
sq_status sq_kv_merge(const msgpack_object *const *layers, size_t n, sq_kv_shape shape,
                      sq_arena_t *ar, msgpack_object *out);

/* The number of entries a layer contributes (map size, array length, else 0). */
size_t sq_kv_count(const msgpack_object *layer);

#endif
