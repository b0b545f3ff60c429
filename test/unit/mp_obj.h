/* msgpack objects for tests, made from JSON text or by a packing function: the bytes are
 * copied into a zone the caller keeps, so an object (and the strings in it) lives as long as
 * that zone. Header-only; used by the unit tests and test/fuzz/seeds.c. */
#ifndef SQ_TEST_MP_OBJ_H
#define SQ_TEST_MP_OBJ_H

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq/json.h"
#include "sq/mp.h"

/* Unpacks what fn packs (given arg) from a copy in z into *o. */
static inline sq_status obj_unpack_(msgpack_zone *z, void (*fn)(msgpack_packer *, const void *),
                                    const void *arg, msgpack_object *o)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sq_status st = SQ_ERR_DECODE;
    char *copy;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fn(&pk, arg);
    copy = msgpack_zone_malloc(z, sb.size ? sb.size : 1);
    if (copy != NULL && sb.size > 0) {
        memcpy(copy, sb.data, sb.size);
        st = sq_mp_unpack(copy, sb.size, z, o);
    }
    msgpack_sbuffer_destroy(&sb);
    return st;
}

/* What fn packs (given arg), unpacked from a copy in z; nil when it does not unpack. */
static inline msgpack_object
obj_packed(msgpack_zone *z, void (*fn)(msgpack_packer *pk, const void *arg), const void *arg)
{
    msgpack_object o;
    if (obj_unpack_(z, fn, arg, &o) != SQ_OK)
        o.type = MSGPACK_OBJECT_NIL;
    return o;
}

static inline void obj_pack_json_(msgpack_packer *pk, const void *json)
{
    char err[256];
    if (sq_json_text_to_mp(json, strlen(json), pk, err, sizeof err) != SQ_OK) {
        fprintf(stderr, "test bug: bad JSON %s: %s\n", (const char *)json, err);
        exit(2);
    }
}

/* The object of JSON text, in z; a text that does not convert is a bug of the test: exit 2. */
static inline msgpack_object obj_json(msgpack_zone *z, const char *json)
{
    msgpack_object o;
    if (obj_unpack_(z, obj_pack_json_, json, &o) != SQ_OK) {
        fprintf(stderr, "test bug: JSON %s does not unpack\n", json);
        exit(2);
    }
    return o;
}

/* A nil object. */
static inline msgpack_object obj_nil(void)
{
    msgpack_object o;
    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_NIL;
    return o;
}

#endif
