/* JSON <-> msgpack conversion with jansson; see json.h. */
#include "sq/json.h"
#include "sq/mp.h"

#include <math.h>
#include <stdbool.h>
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

/* ---- msgpack -> JSON text, written directly -------------------------------------------
 * What the gateway answers with, for every record and list: building a jansson tree costs
 * an allocation per value and per key (a list of 30 records, about 1 500, most of the
 * gateway's CPU for it). The writer below appends to one growing buffer and gives the same
 * bytes as json_dumps(sq_mp_to_json(o), JSON_COMPACT | JSON_ENCODE_ANY); a map it cannot
 * write the same way cheaply (a key that is not valid UTF-8 text, keys that may repeat) is
 * written through jansson. The fuzz harness mp_fuzz compares the two on every input. */

typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} jbuf;

static bool jb_reserve(jbuf *b, size_t n)
{
    size_t cap;
    char *q;
    if (b->failed)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    for (cap = b->cap ? b->cap : 256; cap < b->len + n + 1; cap *= 2)
        ;
    if ((q = realloc(b->p, cap)) == NULL) {
        b->failed = true;
        return false;
    }
    b->p = q;
    b->cap = cap;
    return true;
}

static void jb_put(jbuf *b, const char *s, size_t n)
{
    if (n > 0 && jb_reserve(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

/* s as a JSON string: jansson's escapes (the short ones, \u00XX below U+0020), an invalid
 * UTF-8 sequence as U+FFFD */
static void jb_string(jbuf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0, k;

    if (!jb_reserve(b, len + 2))
        return;
    b->p[b->len++] = '"';
    if (len == 0) { /* msgpack-c leaves ptr NULL for an empty string */
        b->p[b->len++] = '"';
        return;
    }
    while (i < len) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++, run++;
            continue;
        }
        jb_put(b, (const char *)p + i - run, run);
        run = 0;
        if (c >= 0x80) {
            k = utf8_seq(p + i, len - i);
            if (k == 0) {
                jb_put(b, "\xef\xbf\xbd", 3);
                k = 1;
            } else
                jb_put(b, (const char *)p + i, k);
            i += k;
            continue;
        }
        switch (c) {
        case '"': jb_put(b, "\\\"", 2); break;
        case '\\': jb_put(b, "\\\\", 2); break;
        case '\b': jb_put(b, "\\b", 2); break;
        case '\f': jb_put(b, "\\f", 2); break;
        case '\n': jb_put(b, "\\n", 2); break;
        case '\r': jb_put(b, "\\r", 2); break;
        case '\t': jb_put(b, "\\t", 2); break;
        default: {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            jb_put(b, e, 6);
        }
        }
        i++;
    }
    jb_put(b, (const char *)p + i - run, run);
    jb_put(b, "\"", 1);
}

/* jansson's real: %.17g, ".0" when it would read back as an integer, the exponent without
 * '+' or leading zeros */
static void jb_real(jbuf *b, double v)
{
    char t[64];
    int n = snprintf(t, sizeof t, "%.17g", v);
    char *e;
    if (n < 0 || (size_t)n >= sizeof t - 3) {
        b->failed = true;
        return;
    }
    if (strchr(t, '.') == NULL && strchr(t, 'e') == NULL) {
        memcpy(t + n, ".0", 3);
        n += 2;
    }
    if ((e = strchr(t, 'e')) != NULL) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(t + n - end) + 1);
            n -= (int)(end - start);
        }
    }
    jb_put(b, t, (size_t)n);
}

/* a map whose keys are all valid UTF-8 strings, none repeated (checked pairwise up to 32
 * keys; a longer map goes through jansson) */
static bool plain_keys(const msgpack_object_map *m)
{
    if (m->size > 32)
        return false;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        const unsigned char *p = (const unsigned char *)k->via.str.ptr;
        size_t n, l;
        if (k->type != MSGPACK_OBJECT_STR)
            return false;
        for (n = 0; n < k->via.str.size && (l = utf8_seq(p + n, k->via.str.size - n)) != 0; n += l)
            ;
        if (n != k->via.str.size)
            return false;
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *q = &m->ptr[j].key;
            if (q->via.str.size == k->via.str.size &&
                (k->via.str.size == 0 ||
                 memcmp(q->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0))
                return false;
        }
    }
    return true;
}

static void jb_value(jbuf *b, const msgpack_object *o)
{
    char t[32];
    int n;

    switch (o->type) {
    case MSGPACK_OBJECT_NIL: jb_put(b, "null", 4); return;
    case MSGPACK_OBJECT_BOOLEAN:
        o->via.boolean ? jb_put(b, "true", 4) : jb_put(b, "false", 5);
        return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            jb_real(b, (double)o->via.u64);
            return;
        }
        n = snprintf(t, sizeof t, "%lld", (long long)o->via.u64);
        jb_put(b, t, (size_t)n);
        return;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        n = snprintf(t, sizeof t, "%lld", (long long)o->via.i64);
        jb_put(b, t, (size_t)n);
        return;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isfinite(o->via.f64))
            jb_real(b, o->via.f64);
        else
            jb_put(b, "null", 4);
        return;
    case MSGPACK_OBJECT_STR: jb_string(b, o->via.str.ptr, o->via.str.size); return;
    case MSGPACK_OBJECT_BIN: {
        size_t sz = sodium_base64_encoded_len(o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
        if (!jb_reserve(b, sz + 2))
            return;
        b->p[b->len++] = '"';
        sodium_bin2base64(b->p + b->len, sz, (const unsigned char *)o->via.bin.ptr, o->via.bin.size,
                          sodium_base64_VARIANT_ORIGINAL);
        b->len += sz - 1; /* sz counts the NUL */
        b->p[b->len++] = '"';
        return;
    }
    case MSGPACK_OBJECT_ARRAY:
        jb_put(b, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                jb_put(b, ",", 1);
            jb_value(b, &o->via.array.ptr[i]);
        }
        jb_put(b, "]", 1);
        return;
    case MSGPACK_OBJECT_MAP:
        if (!plain_keys(&o->via.map)) {
            json_t *j = sq_mp_to_json(o);
            char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            json_decref(j);
            if (s == NULL)
                b->failed = true;
            else
                jb_put(b, s, strlen(s));
            free(s);
            return;
        }
        jb_put(b, "{", 1);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                jb_put(b, ",", 1);
            jb_string(b, o->via.map.ptr[i].key.via.str.ptr, o->via.map.ptr[i].key.via.str.size);
            jb_put(b, ":", 1);
            jb_value(b, &o->via.map.ptr[i].val);
        }
        jb_put(b, "}", 1);
        return;
    case MSGPACK_OBJECT_EXT: jb_put(b, "null", 4); return;
    }
    jb_put(b, "null", 4);
}

char *sq_mp_to_json_text(const msgpack_object *o, size_t *len)
{
    jbuf b = { 0 };
    jb_value(&b, o);
    if (!jb_reserve(&b, 0)) {
        free(b.p);
        return NULL;
    }
    b.p[b.len] = '\0';
    if (len != NULL)
        *len = b.len;
    return b.p;
}

char *sq_mp_to_json_text_jansson(const msgpack_object *o, size_t *len)
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
