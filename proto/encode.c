/* The table-driven map encoder: writes a struct as a msgpack map from the same field table
 * (sq_mp_field) its decoder reads, so the keys, their types and the map's count come from one
 * place. A field's `enc` flags (SQ_ENC_*) say when it is left out and how absent values
 * pack; the count is computed from the table and the struct, never by hand. */
#include <stdio.h>
#include "proto_impl.h"

static bool present(const sq_mp_field *f, const char *base)
{
    const void *p = base + f->off;
    if (f->enc & SQ_ENC_SKIP)
        return false;
    if (!(f->enc & (SQ_ENC_OMIT | SQ_ENC_OMITE)))
        return true;
    switch (f->type) {
    case SQ_F_STR: {
        const char *s = *(char *const *)p;
        return s != NULL && (*s != '\0' || !(f->enc & SQ_ENC_OMITE));
    }
    case SQ_F_INT: return *(const int64_t *)p != 0;
    case SQ_F_BOOL: return *(const bool *)p;
    case SQ_F_ANY:
    case SQ_F_MAP:
    case SQ_F_ARRAY: return ((const msgpack_object *)p)->type != MSGPACK_OBJECT_NIL;
    case SQ_F_STRS: return *(char **const *)p != NULL;
    case SQ_F_NESTED: return !(f->enc & SQ_ENC_VEC) || *(const size_t *)(base + f->aux) > 0;
    }
    return true;
}

uint32_t sq_proto_count(const sq_mp_field *fields, size_t n, const void *in)
{
    uint32_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += present(&fields[i], in) ? 1 : 0;
    return count;
}

static void pack_value(msgpack_packer *pk, const sq_mp_field *f, const char *base);

/* An SQ_ENC_VEC field: its elements as an array of maps, or (SQ_ENC_KEYED) a map keyed by
 * each element's first field */
static void pack_vec(msgpack_packer *pk, const sq_mp_field *f, const char *base)
{
    const char *v = *(const char *const *)(base + f->off);
    size_t n = v != NULL ? *(const size_t *)(base + f->aux) : 0;
    bool keyed = (f->enc & SQ_ENC_KEYED) && f->nsub > 0;

    if (keyed)
        msgpack_pack_map(pk, n);
    else
        msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const char *e = v + i * f->esize;
        if (keyed) {
            pack_value(pk, &f->sub[0], e);
            sq_proto_encode_map(pk, f->sub + 1, f->nsub - 1, e);
        } else {
            sq_proto_encode_map(pk, f->sub, f->nsub, e);
        }
    }
}

static void pack_value(msgpack_packer *pk, const sq_mp_field *f, const char *base)
{
    const void *p = base + f->off;
    switch (f->type) {
    case SQ_F_STR: {
        const char *s = *(char *const *)p;
        sq_mp_pack_str(pk, s == NULL && (f->enc & SQ_ENC_STR0) ? "" : s);
        break;
    }
    case SQ_F_INT: msgpack_pack_int64(pk, *(const int64_t *)p); break;
    case SQ_F_BOOL:
        if (*(const bool *)p)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case SQ_F_ANY:
    case SQ_F_MAP:
    case SQ_F_ARRAY: {
        const msgpack_object *o = p;
        if (o->type != MSGPACK_OBJECT_NIL || !(f->enc & SQ_ENC_EMPTY))
            msgpack_pack_object(pk, *o);
        else if (f->type == SQ_F_ARRAY)
            msgpack_pack_array(pk, 0);
        else
            msgpack_pack_map(pk, 0);
        break;
    }
    case SQ_F_STRS: {
        char *const *v = *(char **const *)p;
        size_t nv = v != NULL ? *(const size_t *)(base + f->aux) : 0;
        msgpack_pack_array(pk, nv);
        for (size_t i = 0; i < nv; i++)
            sq_mp_pack_str(pk, v[i]);
        break;
    }
    case SQ_F_NESTED:
        if (f->enc & SQ_ENC_VEC)
            pack_vec(pk, f, base);
        else
            sq_proto_encode_map(pk, f->sub, f->nsub, p);
        break;
    }
}

void sq_proto_encode_map(msgpack_packer *pk, const sq_mp_field *fields, size_t n, const void *in)
{
    msgpack_pack_map(pk, sq_proto_count(fields, n, in));
    for (size_t i = 0; i < n; i++) {
        if (!present(&fields[i], in))
            continue;
        sq_mp_pack_str(pk, fields[i].key);
        pack_value(pk, &fields[i], in);
    }
}

sq_status sq_proto_decode_map(const msgpack_object *o, const sq_mp_field *fields, size_t n,
                              sq_arena_t *ar, void *out, char *err, size_t errlen)
{
    sq_status st = sq_mp_decode_map(o, fields, n, ar, out, err, errlen);
    /* what the encoder packs as "" for NULL reads back as "", so users never meet NULL */
    for (size_t i = 0; st == SQ_OK && i < n; i++) {
        char **s = (char **)((char *)out + fields[i].off);
        if (fields[i].type == SQ_F_STR && (fields[i].enc & SQ_ENC_STR0) && *s == NULL)
            *s = "";
    }
    return st;
}

sq_status sq_proto_decode_vec(const msgpack_object *arr, const sq_mp_field *fields, size_t n,
                              sq_arena_t *ar, size_t esize, void *vec, size_t *count, char *err,
                              size_t errlen)
{
    size_t k = arr->type == MSGPACK_OBJECT_ARRAY ? arr->via.array.size : 0;
    void *elems = msgpack_zone_malloc(ar, esize * (k ? k : 1));
    sq_status st;

    if (elems == NULL)
        return SQ_ERR_NOMEM;
    st = sq_proto_decode_each(arr, fields, n, ar, elems, esize, err, errlen);
    *(void **)vec = elems;
    *count = st == SQ_OK ? k : 0;
    return st;
}

sq_status sq_proto_decode_each(const msgpack_object *arr, const sq_mp_field *fields, size_t n,
                               sq_arena_t *ar, void *elems, size_t esize, char *err, size_t errlen)
{
    char *scratch = NULL;
    sq_status st = SQ_OK;

    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return SQ_OK; /* absent: the table's decoder said whether that may be */
    if (elems == NULL && (scratch = msgpack_zone_malloc(ar, esize)) == NULL)
        return SQ_ERR_NOMEM;
    for (uint32_t i = 0; st == SQ_OK && i < arr->via.array.size; i++) {
        char *e = elems != NULL ? (char *)elems + i * esize : scratch;
        memset(e, 0, esize);
        st = sq_proto_decode_map(&arr->via.array.ptr[i], fields, n, ar, e, err, errlen);
    }
    return st;
}

sq_status sq_proto_decode_keyed(const msgpack_object *map, const sq_mp_field *fields, size_t n,
                                sq_arena_t *ar, size_t esize, void *vec, size_t *count, char *err,
                                size_t errlen)
{
    size_t k = map->type == MSGPACK_OBJECT_MAP ? map->via.map.size : 0;
    char *elems = msgpack_zone_malloc(ar, esize * (k ? k : 1));
    sq_status st = SQ_OK;

    *count = 0;
    if (elems == NULL)
        return SQ_ERR_NOMEM;
    for (size_t i = 0; st == SQ_OK && i < k; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        char *e = elems + i * esize;
        memset(e, 0, esize);
        /* the key is the element's first field, a string */
        if ((*(char **)(e + fields[0].off) = sq_mp_strdup(ar, &kv->key)) == NULL) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "expected a string key for %s", fields[0].key);
            st = SQ_ERR_DECODE;
        } else
            st = sq_proto_decode_map(&kv->val, fields + 1, n - 1, ar, e, err, errlen);
    }
    *(void **)vec = elems;
    *count = st == SQ_OK ? k : 0;
    return st;
}
