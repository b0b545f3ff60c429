/* Internal to proto/: the macro that gives every message its `_decode` (buffer) from its
 * `_from` (unpacked object), and offsetof shorthands for the field tables. */
#ifndef SQ_PROTO_IMPL_H
#define SQ_PROTO_IMPL_H

#include <stddef.h>
#include <string.h>
#include "proto/proto.h"
#include "sq/util.h"

#define DEFINE_DECODE(type)                                                                        \
    sq_status type##_decode(const char *buf, size_t len, sq_arena_t *ar, type *out, char *err,     \
                            size_t errlen)                                                         \
    {                                                                                              \
        msgpack_object o;                                                                          \
        sq_status st = sq_mp_unpack(buf, len, ar, &o);                                             \
        if (st != SQ_OK) {                                                                         \
            if (err != NULL && errlen > 0)                                                         \
                snprintf(err, errlen, "malformed msgpack in " #type);                              \
            return st;                                                                             \
        }                                                                                          \
        return type##_from(&o, ar, out, err, errlen);                                              \
    }

/* type's encoder: its table tbl, packed from *m */
#define DEFINE_ENCODE(type, tbl)                                                                   \
    void type##_encode(const type *m, msgpack_packer *pk)                                          \
    {                                                                                              \
        ENCODE(pk, tbl, m);                                                                        \
    }

/* A message whose struct is what its table reads and writes: its encoder, its `_from` (the
 * defaults dflt but what the wire says; absent SQ_ENC_STR0 strings read "") and its
 * `_decode`. DEFINE_MESSAGE: every default zero (nil objects, NULL strings). */
#define DEFINE_MESSAGE_D(type, tbl, dflt)                                                          \
    DEFINE_ENCODE(type, tbl)                                                                       \
    sq_status type##_from(const msgpack_object *o, sq_arena_t *ar, type *out, char *err,           \
                          size_t errlen)                                                           \
    {                                                                                              \
        *out = (dflt);                                                                             \
        return sq_proto_decode_map(o, SQ_MP_FIELDS(tbl), ar, out, err, errlen);                    \
    }                                                                                              \
    DEFINE_DECODE(type)
#define DEFINE_MESSAGE(type, tbl) DEFINE_MESSAGE_D(type, tbl, ((type){ 0 }))

/* A message with one vector of structs (etype, table etbl) in `vec`/`count`: written from
 * the vector (an FV field), read as the array in `read` (an SQ_ENC_SKIP field), whose elements
 * the decoder then decodes into the vector (in the arena). */
#define DEFINE_MESSAGE_VEC(type, tbl, read, etype, etbl, vec, count)                               \
    DEFINE_ENCODE(type, tbl)                                                                       \
    sq_status type##_from(const msgpack_object *o, sq_arena_t *ar, type *out, char *err,           \
                          size_t errlen)                                                           \
    {                                                                                              \
        sq_status st;                                                                              \
        memset(out, 0, sizeof *out);                                                               \
        st = sq_mp_decode_map(o, SQ_MP_FIELDS(tbl), ar, out, err, errlen);                         \
        if (st == SQ_OK)                                                                           \
            st = sq_proto_decode_vec(&out->read, SQ_MP_FIELDS(etbl), ar, sizeof(etype), &out->vec, \
                                     &out->count, err, errlen);                                    \
        return st;                                                                                 \
    }                                                                                              \
    DEFINE_DECODE(type)

#define F(type, key, kind, member, req)                                                            \
    {                                                                                              \
        key, kind, offsetof(type, member), req, NULL, 0, 0, 0, 0                                   \
    }
/* F with SQ_ENC_* flags */
#define FE(type, key, kind, member, req, enc)                                                      \
    {                                                                                              \
        key, kind, offsetof(type, member), req, NULL, 0, 0, enc, 0                                 \
    }
/* a nested map with a table of n fields (declared elsewhere), and SQ_ENC_* flags */
#define FNE(type, key, member, req, tbl, n, enc)                                                   \
    {                                                                                              \
        key, SQ_F_NESTED, offsetof(type, member), req, tbl, n, 0, enc, 0                           \
    }
#define FN(type, key, member, req, tbl)                                                            \
    {                                                                                              \
        key, SQ_F_NESTED, offsetof(type, member), req, tbl, sizeof(tbl) / sizeof((tbl)[0]), 0, 0,  \
            0                                                                                      \
    }
#define FS(type, key, member, count, req)                                                          \
    {                                                                                              \
        key, SQ_F_STRS, offsetof(type, member), req, NULL, 0, offsetof(type, count), 0, 0          \
    }

/* a vector of n-counted (member `count`) elements of etype, each a map of table tbl
 * (SQ_ENC_VEC; | SQ_ENC_KEYED for a map keyed by each element's first field) */
#define FV(type, key, member, count, etype, tbl, enc)                                              \
    {                                                                                              \
        key, SQ_F_NESTED, offsetof(type, member), false, tbl, sizeof(tbl) / sizeof((tbl)[0]),      \
            offsetof(type, count), SQ_ENC_VEC | SQ_ENC_ONLY | (enc), sizeof(etype)                 \
    }

/* Field tables more than one file of proto/ uses (entity.c) */
#define SQ_ACTION_NFIELDS 10
extern const sq_mp_field sq_action_fields[SQ_ACTION_NFIELDS];
#define SQ_LIMITS_NFIELDS 4
extern const sq_mp_field sq_limits_fields[SQ_LIMITS_NFIELDS];

/* Decodes every element of the array arr (nothing when it is not one) with the table into
 * elems (arr's size of esize-byte structs), or, elems NULL, only checks them. */
sq_status sq_proto_decode_each(const msgpack_object *arr, const sq_mp_field *fields, size_t n,
                               sq_arena_t *ar, void *elems, size_t esize, char *err, size_t errlen);

/* sq_proto_decode_each into a vector of arr's size allocated in the arena: *(T **)vec and
 * *count receive it */
sq_status sq_proto_decode_vec(const msgpack_object *arr, const sq_mp_field *fields, size_t n,
                              sq_arena_t *ar, size_t esize, void *vec, size_t *count, char *err,
                              size_t errlen);

/* The map `map` keyed by each element's first field (a string; the SQ_ENC_KEYED shape) into
 * a vector of its size allocated in the arena, each value decoded with the table's other
 * fields: *(T **)vec and *count receive it. Nothing when map is not a map. */
sq_status sq_proto_decode_keyed(const msgpack_object *map, const sq_mp_field *fields, size_t n,
                                sq_arena_t *ar, size_t esize, void *vec, size_t *count, char *err,
                                size_t errlen);

/* A message's encoder: its table, packed from *m */
#define ENCODE(pk, tbl, m) sq_proto_encode_map(pk, SQ_MP_FIELDS(tbl), m)

static inline void nil(msgpack_object *o)
{
    o->type = MSGPACK_OBJECT_NIL;
    o->via.u64 = 0;
}

#endif
