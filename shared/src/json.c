/* JSON <-> msgpack conversion with jansson; see json.h. */
#include "sq/json.h"
#include "sq/mp.h"

#include <math.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* depth: how many containers enclose j */
static sq_status to_mp(const json_t *j, msgpack_packer *pk, int depth, int max_depth)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        if (depth + 1 > max_depth)
            return SQ_ERR_BAD_REQUEST;
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach((json_t *)j, k, v) {
            sq_mp_pack_str(pk, k);
            if (to_mp(v, pk, depth + 1, max_depth) != SQ_OK)
                return SQ_ERR_BAD_REQUEST;
        }
        return SQ_OK;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        if (depth + 1 > max_depth)
            return SQ_ERR_BAD_REQUEST;
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach((json_t *)j, i, v)
            if (to_mp(v, pk, depth + 1, max_depth) != SQ_OK)
                return SQ_ERR_BAD_REQUEST;
        return SQ_OK;
    }
    case JSON_STRING:
        sq_mp_pack_strn(pk, json_string_value(j), json_string_length(j));
        return SQ_OK;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(j));
        return SQ_OK;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        return SQ_OK;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return SQ_OK;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return SQ_OK;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        return SQ_OK;
    }
    return SQ_ERR_BAD_REQUEST;
}

sq_status sq_json_to_mp_max(const json_t *j, msgpack_packer *pk, int max_depth)
{
    return to_mp(j, pk, 0, max_depth);
}

sq_status sq_json_to_mp(const json_t *j, msgpack_packer *pk)
{
    return to_mp(j, pk, 0, SQ_MP_MAX_DEPTH);
}

sq_status sq_json_text_to_mp(const char *txt, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(txt, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    sq_status st;

    if (j == NULL) {
        if (err)
            snprintf(err, errlen, "malformed JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return SQ_ERR_BAD_REQUEST;
    }
    st = sq_json_to_mp(j, pk);
    if (st != SQ_OK && err)
        snprintf(err, errlen, "JSON nests deeper than %d levels", SQ_MP_MAX_DEPTH);
    json_decref(j);
    return st;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one
 * (overlong forms, surrogates and code points over U+10FFFF are invalid, as for jansson). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* A map key for jansson: NULL when the n bytes at s are valid UTF-8 (use them as they are),
 * else a malloc'd copy with U+FFFD for every invalid byte (its length in *outlen), so one
 * bad key (a msgpack publisher on sq.fire.>) does not lose the whole value. */
static char *utf8_key(const char *s, size_t n, size_t *outlen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k, o = 0;
    char *out;

    while (i < n && (k = utf8_seq(p + i, n - i)) > 0)
        i += k;
    if (i == n)
        return NULL;
    if ((out = malloc(3 * n + 1)) == NULL)
        return NULL;
    for (i = 0; i < n;) {
        if ((k = utf8_seq(p + i, n - i)) > 0) {
            memcpy(out + o, p + i, k);
            o += k, i += k;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3, i++;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

json_t *sq_mp_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return json_real((double)o->via.u64);
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* JSON has no NaN or infinity */
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR:
    {
        /* not valid UTF-8: JSON cannot carry it, so it becomes null */
        /* msgpack-c leaves ptr NULL for an empty string */
        json_t *s = json_stringn(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
        return s != NULL ? s : json_null();
    }
    case MSGPACK_OBJECT_BIN: {
        size_t n = sodium_base64_encoded_len(o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
        char *b = malloc(n);
        json_t *s;
        if (b == NULL)
            return NULL;
        sodium_bin2base64(b, n, (const unsigned char *)o->via.bin.ptr, o->via.bin.size,
                          sodium_base64_VARIANT_ORIGINAL);
        s = json_string(b);
        free(b);
        return s;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        if (a == NULL)
            return NULL;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_t *v = sq_mp_to_json(&o->via.array.ptr[i]);
            if (v == NULL || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        if (m == NULL)
            return NULL;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            json_t *v = sq_mp_to_json(&o->via.map.ptr[i].val);
            char kb[64];
            int rc;
            if (v == NULL) {
                json_decref(m);
                return NULL;
            }
            if (k->type == MSGPACK_OBJECT_STR) {
                size_t fixed_len = 0;
                char *fixed = utf8_key(k->via.str.ptr, k->via.str.size, &fixed_len);
                if (fixed != NULL)
                    rc = json_object_setn_new(m, fixed, fixed_len, v);
                else
                    rc = json_object_setn_new(m, k->via.str.size ? k->via.str.ptr : "", k->via.str.size, v);
                free(fixed);
            } else {
                if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                    snprintf(kb, sizeof kb, "%llu", (unsigned long long)k->via.u64);
                else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                    snprintf(kb, sizeof kb, "%lld", (long long)k->via.i64);
                else
                    snprintf(kb, sizeof kb, "key%u", i);
                rc = json_object_set_new(m, kb, v);
            }
            if (rc != 0) {
                json_decref(m);
                return NULL;
            }
        }
        return m;
    }
    case MSGPACK_OBJECT_EXT:
        return json_null();
    }
    return json_null();
}

char *sq_mp_to_json_text(const msgpack_object *o, size_t *len)
{
    json_t *j = sq_mp_to_json(o);
    char *s;
    if (j == NULL)
        return NULL;
    s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (s != NULL && len != NULL)
        *len = strlen(s);
    return s;
}
