/* The merge of parameter and annotation layers (see sq/kv.h): one pass over the layers with
 * an open-addressing table of the keys seen so far, so a payload of many keys costs linear
 * time, not the square of it; a handful of keys (the common case: a few defaults under a few
 * parameters) are scanned instead, which is faster than hashing them. */
#include <string.h>

#include "sq/kv.h"
#include "sq/util.h"

/* One key of the result: where its value comes from. */
typedef struct slot {
    const msgpack_object *key, *val;
    const msgpack_object *entry; /* the {key, value} entry it came from, or NULL (a map) */
} slot;

typedef struct merger {
    slot *v;
    size_t n;
    int32_t *index; /* open addressing: position in v, -1 when free; NULL: scan v */
    size_t mask;
} merger;

size_t sq_kv_count(const msgpack_object *layer)
{
    if (layer == NULL)
        return 0;
    if (layer->type == MSGPACK_OBJECT_MAP)
        return layer->via.map.size;
    if (layer->type == MSGPACK_OBJECT_ARRAY)
        return layer->via.array.size;
    return 0;
}

static const msgpack_object nil_obj = { .type = MSGPACK_OBJECT_NIL };

#define SMALL 16 /* up to this many entries a scan beats hashing */

static bool same_key(const msgpack_object *a, const msgpack_object *b)
{
    return a->type == MSGPACK_OBJECT_STR && a->via.str.size == b->via.str.size &&
           (b->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, b->via.str.size) == 0);
}

/* Sets key to val (coming from entry), replacing in place a key seen before. */
static void put(merger *m, const msgpack_object *key, const msgpack_object *val,
                const msgpack_object *entry)
{
    size_t h;
    if (key->type != MSGPACK_OBJECT_STR) {
        m->v[m->n++] = (slot){ key, val, entry }; /* never merged */
        return;
    }
    if (m->index == NULL) {
        for (size_t i = 0; i < m->n; i++)
            if (same_key(m->v[i].key, key)) {
                m->v[i].val = val;
                m->v[i].entry = entry;
                return;
            }
        m->v[m->n++] = (slot){ key, val, entry };
        return;
    }
    h = (size_t)sq_hash_bytes(SQ_HASH_INIT, key->via.str.ptr, key->via.str.size) & m->mask;
    for (;; h = (h + 1) & m->mask) {
        int32_t i = m->index[h];
        if (i < 0) {
            m->index[h] = (int32_t)m->n;
            m->v[m->n++] = (slot){ key, val, entry };
            return;
        }
        if (same_key(m->v[i].key, key)) {
            m->v[i].val = val;
            m->v[i].entry = entry;
            return;
        }
    }
}

static void put_layer(merger *m, const msgpack_object *layer)
{
    if (layer == NULL)
        return;
    if (layer->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < layer->via.map.size; i++)
            put(m, &layer->via.map.ptr[i].key, &layer->via.map.ptr[i].val, NULL);
    } else if (layer->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < layer->via.array.size; i++) {
            const msgpack_object *e = &layer->via.array.ptr[i];
            const msgpack_object *k = sq_mp_get(e, "key"), *v = sq_mp_get(e, "value");
            if (k == NULL || k->type != MSGPACK_OBJECT_STR)
                continue;
            put(m, k, v != NULL ? v : &nil_obj, e);
        }
    }
}

/* The merged keys as a map. */
static sq_status as_map(const merger *m, sq_arena_t *ar, msgpack_object *out)
{
    msgpack_object_kv *kv = msgpack_zone_malloc(ar, sizeof *kv * (m->n ? m->n : 1));
    if (kv == NULL)
        return SQ_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++) {
        kv[i].key = *m->v[i].key;
        kv[i].val = *m->v[i].val;
    }
    memset(out, 0, sizeof *out);
    out->type = MSGPACK_OBJECT_MAP;
    out->via.map.size = (uint32_t)m->n;
    out->via.map.ptr = kv;
    return SQ_OK;
}

/* The merged keys as {key, value} entries: an array layer's entry is taken as it is. */
static sq_status as_array(const merger *m, sq_arena_t *ar, msgpack_object *out)
{
    msgpack_object *items = msgpack_zone_malloc(ar, sizeof *items * (m->n ? m->n : 1));
    if (items == NULL)
        return SQ_ERR_NOMEM;
    for (size_t i = 0; i < m->n; i++) {
        msgpack_object_kv *kv;
        if (m->v[i].entry != NULL) {
            items[i] = *m->v[i].entry;
            continue;
        }
        if ((kv = msgpack_zone_malloc(ar, 2 * sizeof *kv)) == NULL)
            return SQ_ERR_NOMEM;
        memset(kv, 0, 2 * sizeof *kv);
        kv[0].key.type = MSGPACK_OBJECT_STR;
        kv[0].key.via.str.ptr = "key";
        kv[0].key.via.str.size = 3;
        kv[0].val = *m->v[i].key;
        kv[1].key.type = MSGPACK_OBJECT_STR;
        kv[1].key.via.str.ptr = "value";
        kv[1].key.via.str.size = 5;
        kv[1].val = *m->v[i].val;
        memset(&items[i], 0, sizeof items[i]);
        items[i].type = MSGPACK_OBJECT_MAP;
        items[i].via.map.size = 2;
        items[i].via.map.ptr = kv;
    }
    memset(out, 0, sizeof *out);
    out->type = MSGPACK_OBJECT_ARRAY;
    out->via.array.size = (uint32_t)m->n;
    out->via.array.ptr = items;
    return SQ_OK;
}

sq_status sq_kv_merge(const msgpack_object *const *layers, size_t n, sq_kv_shape shape,
                      sq_arena_t *ar, msgpack_object *out)
{
    merger m = { 0 };
    size_t total = 0, cap = 8;

    for (size_t i = 0; i < n; i++)
        total += sq_kv_count(layers[i]);
    if (total > INT32_MAX / 2)
        return SQ_ERR_TOO_LARGE;
    while (cap < 2 * total)
        cap *= 2;
    m.mask = cap - 1;
    if ((m.v = msgpack_zone_malloc(ar, sizeof *m.v * (total ? total : 1))) == NULL)
        return SQ_ERR_NOMEM;
    if (total > SMALL) {
        if ((m.index = msgpack_zone_malloc(ar, sizeof *m.index * cap)) == NULL)
            return SQ_ERR_NOMEM;
        memset(m.index, 0xff, sizeof *m.index * cap); /* all -1 */
    }
    for (size_t i = 0; i < n; i++)
        put_layer(&m, layers[i]);
    return shape == SQ_KV_MAP ? as_map(&m, ar, out) : as_array(&m, ar, out);
}
