/* The registry's rules for an action, without SQL or NATS: what a PUT body may hold (the
 * checks OpenWhisk's WhiskActionPut makes) and how a PUT applies to an existing action
 * (OpenWhisk's update semantics: fields given replace the old ones, fields left out keep
 * their value, limits merge per field, annotations merge per key, the version's patch
 * number goes up). Messages in err are shown to the user by the gateway, so they use
 * JSON's words (object, array) and OpenWhisk's phrasing. */
#include "registry.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "sq/util.h"

static sq_status bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sq_status bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return SQ_ERR_BAD_REQUEST;
}

/* A field of the body, or NULL when absent or JSON null (spray-json reads null as None). */
static const msgpack_object *field(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = sq_mp_get(map, key);
    return v == NULL || v->type == MSGPACK_OBJECT_NIL ? NULL : v;
}

static bool is_supported_kind(const char *kind)
{
    /* python:3, native and sequence come with their runtimes */
    return strcmp(kind, "nodejs:20") == 0 || strcmp(kind, "nodejs:default") == 0;
}

/* True when s is well-formed UTF-8 (PostgreSQL refuses anything else in a text column). */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++, n, min, cp;
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, min = 0x80, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, min = 0x800, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, min = 0x10000, cp = c & 0x07;
        else
            return false;
        for (unsigned i = 0; i < n; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (*p & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

static sq_status parse_exec(const msgpack_object *e, sq_arena_t *ar, sq_exec *out, char *err,
                            size_t errlen)
{
    const msgpack_object *kind, *code, *main_, *binary;

    if (e->type != MSGPACK_OBJECT_MAP)
        return bad(err, errlen, "exec must be an object");
    kind = field(e, "kind");
    if (kind == NULL)
        return bad(err, errlen, "exec.kind is required");
    if ((out->kind = sq_mp_strdup(ar, kind)) == NULL)
        return bad(err, errlen, "exec.kind must be a string");
    if (!is_supported_kind(out->kind))
        return bad(err, errlen, "kind '%.64s' is not supported", out->kind);
    code = field(e, "code");
    if (code == NULL || (out->code = sq_mp_strdup(ar, code)) == NULL)
        return bad(err, errlen, "'code' must be a string defined in 'exec' for '%s' actions",
                   out->kind);
    if (!utf8_valid(out->code))
        return bad(err, errlen, "exec.code must be valid UTF-8 text");
    out->main = NULL;
    if ((main_ = field(e, "main")) != NULL &&
        ((out->main = sq_mp_strdup(ar, main_)) == NULL || !utf8_valid(out->main)))
        return bad(err, errlen, "exec.main must be a string");
    out->binary = false;
    if ((binary = field(e, "binary")) != NULL) {
        if (binary->type != MSGPACK_OBJECT_BOOLEAN)
            return bad(err, errlen, "exec.binary must be a boolean");
        out->binary = binary->via.boolean;
    }
    return SQ_OK;
}

/* The "key" of a {key, value} entry (already checked to be a string). */
static const msgpack_object *kv_key(const msgpack_object *entry)
{
    return sq_mp_get(entry, "key");
}

static bool same_key(const msgpack_object *a, const msgpack_object *b)
{
    return a->via.str.size == b->via.str.size &&
           memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
}

static sq_status check_kv_array(const msgpack_object *a, const char *what, char *err, size_t errlen)
{
    if (a->type != MSGPACK_OBJECT_ARRAY)
        return bad(err, errlen, "%s must be an array of {key, value} objects", what);
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *e = &a->via.array.ptr[i], *k;
        if (e->type != MSGPACK_OBJECT_MAP || (k = sq_mp_get(e, "key")) == NULL ||
            k->type != MSGPACK_OBJECT_STR || memchr(k->via.str.ptr, '\0', k->via.str.size) ||
            sq_mp_get(e, "value") == NULL)
            return bad(err, errlen, "%s must be an array of {key, value} objects", what);
    }
    return SQ_OK;
}

/* One limit: absent/null leaves *has false; otherwise a whole number within [min, max]. */
static sq_status parse_limit(const msgpack_object *limits, const char *key, int64_t min,
                             int64_t max, const char *unit, bool *has, int64_t *val, char *err,
                             size_t errlen)
{
    const msgpack_object *v = field(limits, key);
    int64_t x;

    *has = false;
    if (v == NULL)
        return SQ_OK;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        x = v->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)v->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        x = v->via.i64;
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* JSON 60000.0 arrives as a float: accept it when whole, as OpenWhisk does */
        if (!isfinite(v->via.f64) || v->via.f64 != floor(v->via.f64))
            return bad(err, errlen, "%s limit must be a whole number", key);
        x = v->via.f64 >= 9.2e18 ? INT64_MAX : v->via.f64 <= -9.2e18 ? INT64_MIN : (int64_t)v->via.f64;
        break;
    default:
        return bad(err, errlen, "%s limit must be a whole number", key);
    }
    if (x < min)
        return bad(err, errlen, "%s %" PRId64 "%s below allowed threshold of %" PRId64 "%s", key,
                   x, unit, min, unit);
    if (x > max)
        return bad(err, errlen, "%s %" PRId64 "%s exceeds allowed threshold of %" PRId64 "%s", key,
                   x, unit, max, unit);
    *has = true;
    *val = x;
    return SQ_OK;
}

sq_status reg_patch_parse(const msgpack_object *entity, sq_arena_t *ar, reg_patch *out,
                          char *err, size_t errlen)
{
    const msgpack_object *v;
    sq_status st;

    memset(out, 0, sizeof *out);
    out->limits = SQ_LIMITS_DEFAULT;
    if (entity->type != MSGPACK_OBJECT_MAP)
        return bad(err, errlen, "the action must be an object");

    if ((v = field(entity, "exec")) != NULL) {
        if ((st = parse_exec(v, ar, &out->exec, err, errlen)) != SQ_OK)
            return st;
        out->has_exec = true;
    }
    if ((v = field(entity, "parameters")) != NULL) {
        if ((st = check_kv_array(v, "parameters", err, errlen)) != SQ_OK)
            return st;
        out->has_parameters = true;
        out->parameters = *v;
    }
    if ((v = field(entity, "annotations")) != NULL) {
        if ((st = check_kv_array(v, "annotations", err, errlen)) != SQ_OK)
            return st;
        out->has_annotations = true;
        out->annotations = *v;
    }
    if ((v = field(entity, "delAnnotations")) != NULL) {
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return bad(err, errlen, "delAnnotations must be an array of strings");
        out->del_annotations = msgpack_zone_malloc(ar, sizeof(char *) * (v->via.array.size + 1));
        if (out->del_annotations == NULL)
            return SQ_ERR_NOMEM;
        for (uint32_t i = 0; i < v->via.array.size; i++)
            if ((out->del_annotations[i] = sq_mp_strdup(ar, &v->via.array.ptr[i])) == NULL)
                return bad(err, errlen, "delAnnotations must be an array of strings");
        out->ndel = v->via.array.size;
    }
    if ((v = field(entity, "limits")) != NULL) {
        if (v->type != MSGPACK_OBJECT_MAP)
            return bad(err, errlen, "limits must be an object");
        if ((st = parse_limit(v, "timeout", REG_TIMEOUT_MIN, REG_TIMEOUT_MAX, " milliseconds",
                              &out->has_timeout, &out->limits.timeout, err, errlen)) != SQ_OK ||
            (st = parse_limit(v, "memory", REG_MEMORY_MIN, REG_MEMORY_MAX, " MB",
                              &out->has_memory, &out->limits.memory, err, errlen)) != SQ_OK ||
            (st = parse_limit(v, "logs", REG_LOGS_MIN, REG_LOGS_MAX, " MB", &out->has_logs,
                              &out->limits.logs, err, errlen)) != SQ_OK ||
            (st = parse_limit(v, "concurrency", REG_CONCURRENCY_MIN, REG_CONCURRENCY_MAX, "",
                              &out->has_concurrency, &out->limits.concurrency, err, errlen)) != SQ_OK)
            return st;
    }
    if ((v = field(entity, "publish")) != NULL) {
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return bad(err, errlen, "publish must be a boolean");
        out->has_publish = true;
        out->publish = v->via.boolean;
    }
    return SQ_OK;
}

/* An array of {key, value} entries being built in the arena, one entry per key. */
typedef struct kv_builder {
    msgpack_object *items;
    uint32_t n, cap;
} kv_builder;

static sq_status kv_init(kv_builder *b, size_t cap, sq_arena_t *ar)
{
    b->n = 0;
    b->cap = (uint32_t)cap;
    b->items = msgpack_zone_malloc(ar, sizeof(msgpack_object) * (cap ? cap : 1));
    return b->items ? SQ_OK : SQ_ERR_NOMEM;
}

/* Adds entry, replacing in place an earlier entry with the same key. */
static void kv_set(kv_builder *b, const msgpack_object *entry)
{
    const msgpack_object *k = kv_key(entry);
    for (uint32_t i = 0; i < b->n; i++)
        if (same_key(kv_key(&b->items[i]), k)) {
            b->items[i] = *entry;
            return;
        }
    if (b->n < b->cap)
        b->items[b->n++] = *entry;
}

static void kv_set_all(kv_builder *b, const msgpack_object *a, char *const *skip, size_t nskip)
{
    if (a->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *e = &a->via.array.ptr[i], *k = kv_key(e);
        bool skipped = false;
        if (e->type != MSGPACK_OBJECT_MAP || k == NULL || k->type != MSGPACK_OBJECT_STR)
            continue; /* stored arrays were checked when written; be safe anyway */
        for (size_t j = 0; j < nskip && !skipped; j++)
            skipped = strlen(skip[j]) == k->via.str.size &&
                      memcmp(skip[j], k->via.str.ptr, k->via.str.size) == 0;
        if (!skipped)
            kv_set(b, e);
    }
}

static msgpack_object str_obj(const char *s)
{
    msgpack_object o;
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)strlen(s);
    return o;
}

/* {key: "exec", value: kind}: OpenWhisk tags every action with its kind. */
static sq_status exec_annotation(const char *kind, sq_arena_t *ar, msgpack_object *out)
{
    msgpack_object_kv *kv = msgpack_zone_malloc(ar, 2 * sizeof *kv);
    if (kv == NULL)
        return SQ_ERR_NOMEM;
    kv[0].key = str_obj("key");
    kv[0].val = str_obj("exec");
    kv[1].key = str_obj("value");
    kv[1].val = str_obj(kind);
    out->type = MSGPACK_OBJECT_MAP;
    out->via.map.size = 2;
    out->via.map.ptr = kv;
    return SQ_OK;
}

static size_t array_len(const msgpack_object *a)
{
    return a->type == MSGPACK_OBJECT_ARRAY ? a->via.array.size : 0;
}

static msgpack_object array_obj(const kv_builder *b)
{
    msgpack_object o;
    o.type = MSGPACK_OBJECT_ARRAY;
    o.via.array.size = b->n;
    o.via.array.ptr = b->items;
    return o;
}

void reg_version_bump(const char *v, char *out, size_t outlen)
{
    unsigned long long major, minor, patch;
    int used = -1;
    if (v != NULL && sscanf(v, "%llu.%llu.%llu%n", &major, &minor, &patch, &used) == 3 &&
        used >= 0 && v[used] == '\0' && patch < 999999999ULL)
        snprintf(out, outlen, "%llu.%llu.%llu", major, minor, patch + 1);
    else
        snprintf(out, outlen, "0.0.1");
}

sq_status reg_patch_apply(const sq_action *old, const reg_patch *p, const char *ns,
                          const char *name, sq_arena_t *ar, sq_action *out, char *err,
                          size_t errlen)
{
    static const msgpack_object empty = { .type = MSGPACK_OBJECT_ARRAY };
    const msgpack_object *base_params = old ? &old->parameters : &empty;
    const msgpack_object *base_annots = old ? &old->annotations : &empty;
    kv_builder params, annots;
    msgpack_object exec_kv;
    char version[64];
    sq_status st;

    memset(out, 0, sizeof *out);
    if (old == NULL && !p->has_exec)
        return bad(err, errlen, "exec undefined");
    out->namespace_ = (char *)ns;
    out->name = (char *)name;
    if (old == NULL)
        snprintf(version, sizeof version, "0.0.1");
    else
        reg_version_bump(old->version, version, sizeof version);
    if ((out->version = msgpack_zone_malloc(ar, strlen(version) + 1)) == NULL)
        return SQ_ERR_NOMEM;
    memcpy(out->version, version, strlen(version) + 1);
    out->exec = p->has_exec ? p->exec : old->exec;

    /* parameters: replaced as a whole when given (duplicate keys collapse, last wins) */
    if (p->has_parameters)
        base_params = &p->parameters;
    if ((st = kv_init(&params, array_len(base_params), ar)) != SQ_OK)
        return st;
    kv_set_all(&params, base_params, NULL, 0);
    out->parameters = array_obj(&params);

    /* annotations: old ones minus delAnnotations, then the given ones over them, then the
     * exec kind (OpenWhisk's `annotations ++ execAnnotation(exec)`) */
    if ((st = kv_init(&annots, array_len(base_annots) + array_len(&p->annotations) + 1, ar)) != SQ_OK ||
        (st = exec_annotation(out->exec.kind, ar, &exec_kv)) != SQ_OK)
        return st;
    kv_set_all(&annots, base_annots, p->del_annotations, p->ndel);
    if (p->has_annotations)
        kv_set_all(&annots, &p->annotations, NULL, 0);
    kv_set(&annots, &exec_kv);
    out->annotations = array_obj(&annots);

    out->limits = old ? old->limits : SQ_LIMITS_DEFAULT;
    if (p->has_timeout)
        out->limits.timeout = p->limits.timeout;
    if (p->has_memory)
        out->limits.memory = p->limits.memory;
    if (p->has_logs)
        out->limits.logs = p->limits.logs;
    if (p->has_concurrency)
        out->limits.concurrency = p->limits.concurrency;
    out->publish = p->has_publish ? p->publish : old ? old->publish : false;
    out->updated = sq_now_ms();
    return SQ_OK;
}
