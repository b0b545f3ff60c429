/* msgpack helpers: the hostile-buffer check, the safe unpack and the table-driven map
 * decoder behind every proto/ decoder. */
#include "sq/mp.h"

#include <stdio.h>
#include <string.h>

static inline uint32_t be16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}
static inline uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The types 0xc4..0xdf of the msgpack spec: a length (bytes) or a count (array, map: pairs)
 * in `width` big-endian bytes after the type byte, then for ext types one type byte (tag);
 * or a payload of a fixed size. */
enum { MP_BYTES, MP_FIXED, MP_ARRAY, MP_MAP };
static const struct {
    unsigned char kind, width, tag, fixed;
} MP_TYPES[0xe0 - 0xc4] = {
    [0xc4 - 0xc4] = { MP_BYTES, 1, 0, 0 },  /* bin 8 */
    [0xc5 - 0xc4] = { MP_BYTES, 2, 0, 0 },  /* bin 16 */
    [0xc6 - 0xc4] = { MP_BYTES, 4, 0, 0 },  /* bin 32 */
    [0xc7 - 0xc4] = { MP_BYTES, 1, 1, 0 },  /* ext 8 */
    [0xc8 - 0xc4] = { MP_BYTES, 2, 1, 0 },  /* ext 16 */
    [0xc9 - 0xc4] = { MP_BYTES, 4, 1, 0 },  /* ext 32 */
    [0xca - 0xc4] = { MP_FIXED, 0, 0, 4 },  /* float 32 */
    [0xcb - 0xc4] = { MP_FIXED, 0, 0, 8 },  /* float 64 */
    [0xcc - 0xc4] = { MP_FIXED, 0, 0, 1 },  /* uint 8 */
    [0xcd - 0xc4] = { MP_FIXED, 0, 0, 2 },  /* uint 16 */
    [0xce - 0xc4] = { MP_FIXED, 0, 0, 4 },  /* uint 32 */
    [0xcf - 0xc4] = { MP_FIXED, 0, 0, 8 },  /* uint 64 */
    [0xd0 - 0xc4] = { MP_FIXED, 0, 0, 1 },  /* int 8 */
    [0xd1 - 0xc4] = { MP_FIXED, 0, 0, 2 },  /* int 16 */
    [0xd2 - 0xc4] = { MP_FIXED, 0, 0, 4 },  /* int 32 */
    [0xd3 - 0xc4] = { MP_FIXED, 0, 0, 8 },  /* int 64 */
    [0xd4 - 0xc4] = { MP_FIXED, 0, 0, 2 },  /* fixext 1 (type byte + 1) */
    [0xd5 - 0xc4] = { MP_FIXED, 0, 0, 3 },  /* fixext 2 */
    [0xd6 - 0xc4] = { MP_FIXED, 0, 0, 5 },  /* fixext 4 */
    [0xd7 - 0xc4] = { MP_FIXED, 0, 0, 9 },  /* fixext 8 */
    [0xd8 - 0xc4] = { MP_FIXED, 0, 0, 17 }, /* fixext 16 */
    [0xd9 - 0xc4] = { MP_BYTES, 1, 0, 0 },  /* str 8 */
    [0xda - 0xc4] = { MP_BYTES, 2, 0, 0 },  /* str 16 */
    [0xdb - 0xc4] = { MP_BYTES, 4, 0, 0 },  /* str 32 */
    [0xdc - 0xc4] = { MP_ARRAY, 2, 0, 0 },  /* array 16 */
    [0xdd - 0xc4] = { MP_ARRAY, 4, 0, 0 },  /* array 32 */
    [0xde - 0xc4] = { MP_MAP, 2, 0, 0 },    /* map 16 */
    [0xdf - 0xc4] = { MP_MAP, 4, 0, 0 },    /* map 32 */
};

/* One element's header: its length, the payload bytes that follow it, and the elements it
 * contains (a map's keys and values both count). */
typedef struct {
    size_t hdr, skip, count;
    bool container;
} mp_head;

/* Reads the header of the element whose type byte is p[0], avail bytes following it. False
 * when the type is never used (0xc1) or the length field is cut short. */
static bool head_of(const unsigned char *p, size_t avail, mp_head *h)
{
    unsigned b = p[0];
    size_t v;

    *h = (mp_head){ .hdr = 1 };
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return true; /* single byte */
    if (b <= 0x9f) { /* fixmap, fixarray */
        h->count = b <= 0x8f ? 2 * (size_t)(b & 0x0f) : (size_t)(b & 0x0f);
        h->container = true;
        return true;
    }
    if (b <= 0xbf) { /* fixstr */
        h->skip = b & 0x1f;
        return true;
    }
    if (b == 0xc1)
        return false; /* never used */
    if (MP_TYPES[b - 0xc4].kind == MP_FIXED) {
        h->skip = MP_TYPES[b - 0xc4].fixed;
        return true;
    }
    if (avail < MP_TYPES[b - 0xc4].width)
        return false;
    switch (MP_TYPES[b - 0xc4].width) {
    case 1: v = p[1]; break;
    case 2: v = be16(p + 1); break;
    default: v = be32(p + 1); break;
    }
    h->hdr = 1 + (size_t)MP_TYPES[b - 0xc4].width + MP_TYPES[b - 0xc4].tag;
    switch (MP_TYPES[b - 0xc4].kind) {
    case MP_BYTES: h->skip = v; break;
    case MP_ARRAY: h->count = v; break;
    default: h->count = 2 * v; break;
    }
    h->container = MP_TYPES[b - 0xc4].kind != MP_BYTES;
    return true;
}

sq_status sq_mp_check(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t pending[SQ_MP_MAX_DEPTH + 1];
    size_t pos = 0;
    int depth = 0;

    if (buf == NULL || len == 0)
        return SQ_ERR_DECODE;
    pending[0] = 1;
    for (;;) {
        mp_head h;

        while (depth > 0 && pending[depth] == 0)
            depth--;
        if (pending[depth] == 0)
            break;
        pending[depth]--;
        if (pos >= len || !head_of(p + pos, len - pos - 1, &h))
            return SQ_ERR_DECODE;
        if (h.hdr > len - pos || h.skip > len - pos - h.hdr)
            return SQ_ERR_DECODE;
        pos += h.hdr + h.skip;
        if (h.container && depth + 1 > SQ_MP_MAX_DEPTH)
            return SQ_ERR_DECODE;
        if (h.count > 0) {
            /* every element takes at least one byte */
            if (h.count > len - pos)
                return SQ_ERR_DECODE;
            pending[++depth] = h.count;
        }
    }
    return pos == len ? SQ_OK : SQ_ERR_DECODE;
}

sq_status sq_mp_unpack(const char *buf, size_t len, sq_arena_t *ar, msgpack_object *out)
{
    size_t off = 0;
    msgpack_unpack_return r;

    if (sq_mp_check(buf, len) != SQ_OK)
        return SQ_ERR_DECODE;
    r = msgpack_unpack(buf, len, &off, ar, out);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len)
        return r == MSGPACK_UNPACK_NOMEM_ERROR ? SQ_ERR_NOMEM : SQ_ERR_DECODE;
    return SQ_OK;
}

const msgpack_object *sq_mp_get(const msgpack_object *map, const char *key)
{
    size_t klen = strlen(key);
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

bool sq_mp_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

char *sq_mp_strdup(sq_arena_t *ar, const msgpack_object *o)
{
    char *s;
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || memchr(o->via.str.ptr, '\0', o->via.str.size))
        return NULL;
    s = msgpack_zone_malloc(ar, o->via.str.size + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

static sq_status fail(char *err, size_t errlen, const char *what, const char *key)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s \"%s\"", what, key);
    return SQ_ERR_DECODE;
}

/* Decodes v, present and not an optional nil, into its field f of the struct at base. */
static sq_status decode_field(const sq_mp_field *f, const msgpack_object *v, sq_arena_t *ar,
                              char *base, char *err, size_t errlen)
{
    void *dst = base + f->off;

    switch (f->type) {
    case SQ_F_STR: {
        char *s = sq_mp_strdup(ar, v);
        if (s == NULL)
            return fail(err, errlen, "expected a string without NUL for", f->key);
        *(char **)dst = s;
        break;
    }
    case SQ_F_INT:
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (v->via.u64 > INT64_MAX)
                return fail(err, errlen, "integer out of range for", f->key);
            *(int64_t *)dst = (int64_t)v->via.u64;
        } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            *(int64_t *)dst = v->via.i64;
        } else
            return fail(err, errlen, "expected an integer for", f->key);
        break;
    case SQ_F_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return fail(err, errlen, "expected a boolean for", f->key);
        *(bool *)dst = v->via.boolean;
        break;
    case SQ_F_ANY: *(msgpack_object *)dst = *v; break;
    case SQ_F_MAP:
        if (v->type != MSGPACK_OBJECT_MAP)
            return fail(err, errlen, "expected a map for", f->key);
        *(msgpack_object *)dst = *v;
        break;
    case SQ_F_ARRAY:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return fail(err, errlen, "expected an array for", f->key);
        *(msgpack_object *)dst = *v;
        break;
    case SQ_F_STRS: {
        char **vec;
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return fail(err, errlen, "expected an array of strings for", f->key);
        vec = msgpack_zone_malloc(ar, sizeof(char *) * ((size_t)v->via.array.size + 1));
        if (vec == NULL)
            return SQ_ERR_NOMEM;
        for (uint32_t j = 0; j < v->via.array.size; j++)
            if ((vec[j] = sq_mp_strdup(ar, &v->via.array.ptr[j])) == NULL)
                return fail(err, errlen, "expected an array of strings for", f->key);
        vec[v->via.array.size] = NULL;
        *(char ***)dst = vec;
        *(size_t *)(base + f->aux) = v->via.array.size;
        break;
    }
    case SQ_F_NESTED: {
        sq_status st;
        if (v->type != MSGPACK_OBJECT_MAP)
            return fail(err, errlen, "expected a map for", f->key);
        st = sq_mp_decode_map(v, f->sub, f->nsub, ar, dst, err, errlen);
        if (st != SQ_OK)
            return st;
        break;
    }
    }
    return SQ_OK;
}

sq_status sq_mp_decode_map(const msgpack_object *map, const sq_mp_field *fields, size_t n,
                           sq_arena_t *ar, void *out, char *err, size_t errlen)
{
    char *base = out;

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return fail(err, errlen, "expected a map for", fields && n ? fields[0].key : "message");
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (map->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return fail(err, errlen, "non-string key in map of", n ? fields[0].key : "message");

    for (size_t i = 0; i < n; i++) {
        const sq_mp_field *f = &fields[i];
        const msgpack_object *v = sq_mp_get(map, f->key);
        sq_status st;

        if (f->enc & (SQ_ENC_ONLY | SQ_ENC_VEC))
            continue;
        if (v == NULL || (v->type == MSGPACK_OBJECT_NIL && !f->required && f->type != SQ_F_ANY)) {
            /* nil stands for "not given" in an optional field */
            if (v == NULL && f->required)
                return fail(err, errlen, "missing field", f->key);
            continue;
        }
        if ((st = decode_field(f, v, ar, base, err, errlen)) != SQ_OK)
            return st;
    }
    return SQ_OK;
}

void sq_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void sq_mp_pack_str(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        msgpack_pack_nil(pk);
    else
        sq_mp_pack_strn(pk, s, strlen(s));
}

void sq_mp_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    sq_mp_pack_str(pk, key);
    sq_mp_pack_str(pk, val);
}

void sq_mp_kv_int(msgpack_packer *pk, const char *key, int64_t val)
{
    sq_mp_pack_str(pk, key);
    msgpack_pack_int64(pk, val);
}

void sq_mp_kv_bool(msgpack_packer *pk, const char *key, bool val)
{
    sq_mp_pack_str(pk, key);
    if (val)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void sq_mp_pack_obj(msgpack_packer *pk, const msgpack_object *o)
{
    if (o == NULL)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_object(pk, *o);
}

void sq_mp_kv_obj(msgpack_packer *pk, const char *key, const msgpack_object *val)
{
    sq_mp_pack_str(pk, key);
    sq_mp_pack_obj(pk, val);
}
