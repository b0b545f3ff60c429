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
        json_object_foreach((json_t *)j, k, v)
        {
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
        json_array_foreach((json_t *)j, i, v) if (to_mp(v, pk, depth + 1, max_depth) !=
                                                  SQ_OK) return SQ_ERR_BAD_REQUEST;
        return SQ_OK;
    }
    case JSON_STRING:
        sq_mp_pack_strn(pk, json_string_value(j), json_string_length(j));
        return SQ_OK;
    case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(j)); return SQ_OK;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); return SQ_OK;
    case JSON_TRUE: msgpack_pack_true(pk); return SQ_OK;
    case JSON_FALSE: msgpack_pack_false(pk); return SQ_OK;
    case JSON_NULL: msgpack_pack_nil(pk); return SQ_OK;
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

sq_status sq_json_text_to_mp(const char *txt, size_t len, msgpack_packer *pk, char *err,
                             size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(txt, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    sq_status st;

    if (j == NULL) {
        if (err)
            snprintf(err, errlen, "malformed JSON: %s (line %d, column %d)", je.text, je.line,
                     je.column);
        return SQ_ERR_BAD_REQUEST;
    }
    st = sq_json_to_mp(j, pk);
    if (st != SQ_OK && err)
        snprintf(err, errlen, "JSON nests deeper than %d levels", SQ_MP_MAX_DEPTH);
    json_decref(j);
    return st;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 when it is not one (overlong
 * forms, surrogates and code points past U+10FFFF are not). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        len = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

json_t *sq_json_string_lossy(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, k;
    char *buf;
    json_t *j;

    for (i = 0; i < len && (k = utf8_seq(p + i, len - i)) != 0; i += k)
        ;
    if (i == len) /* valid: the common case, no copy */
        return json_stringn(len ? s : "", len);
    buf = malloc(len * 3 + 1); /* each bad byte becomes 3 */
    if (buf == NULL)
        return NULL;
    for (i = 0; i < len; i += k) {
        k = utf8_seq(p + i, len - i);
        if (k == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3); /* U+FFFD */
            o += 3;
            k = 1;
        } else {
            memcpy(buf + o, p + i, k);
            o += k;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

json_t *sq_mp_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return json_real((double)o->via.u64);
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* JSON has no NaN or infinity */
        return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    case MSGPACK_OBJECT_STR:
        /* JSON carries only UTF-8: an invalid sequence (a log line cut mid-character,
         * binary output) becomes U+FFFD; msgpack-c leaves ptr NULL for an empty string */
        return sq_json_string_lossy(o->via.str.ptr, o->via.str.size);
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
                json_t *ks = sq_json_string_lossy(k->via.str.ptr, k->via.str.size);
                rc = ks == NULL ? (json_decref(v), -1)
                                : json_object_setn_new(m, json_string_value(ks),
                                                       json_string_length(ks), v);
                json_decref(ks);
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
    case MSGPACK_OBJECT_EXT: return json_null();
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
