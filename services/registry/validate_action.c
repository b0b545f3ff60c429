/* The registry's rules for an action's PUT body (OpenWhisk's WhiskActionPut): exec of
 * every kind (code, binary code, images, sequences and their components), limits (only the
 * keys Squall honours, each in its range), and reg_patch_parse() which reads the whole body.
 * Without SQL or NATS; the rest of the rules are in validate.c. */
#include "validate_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/util.h"

/* ---- actions ------------------------------------------------------------------------------ */

/* openwhisk/dockerskeleton, with or without a registry prefix or a tag */
static bool is_skeleton_image(const char *img)
{
    static const char name[] = "openwhisk/dockerskeleton";
    const char *slash = strrchr(img, '/'), *colon = strrchr(img, ':');
    size_t n = colon && slash && colon > slash ? (size_t)(colon - img) : strlen(img);
    size_t k = sizeof name - 1;
    return n >= k && strncmp(img + n - k, name, k) == 0 && (n == k || img[n - k - 1] == '/');
}

/* OpenWhisk's Exec.isBinaryCode: non-empty, a multiple of 4 long, and only the base64
 * alphabet (padding at the end). */
static bool looks_binary(const char *code, size_t n)
{
    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)code[i];
        if (!(isalnum(c) || c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return false;
    }
    return true;
}

static sq_status parse_components(const sq_exec_body *e, const char *ns, sq_arena_t *ar,
                                  reg_patch *out, char *err, size_t errlen)
{
    const msgpack_object *c = given(&e->components);
    msgpack_object *strs;
    uint32_t n;
    sq_status st;

    if (c == NULL || (c->type == MSGPACK_OBJECT_ARRAY && c->via.array.size == 0))
        return bad(err, errlen, "No component specified for the sequence.");
    if (c->type != MSGPACK_OBJECT_ARRAY)
        return bad(err, errlen, "exec.components must be an array of action names");
    n = c->via.array.size;
    if (n > REG_SEQ_MAX)
        return bad(err, errlen, "Too many actions in the sequence.");
    out->components = msgpack_zone_malloc(ar, sizeof(reg_fqn) * n);
    strs = msgpack_zone_malloc(ar, sizeof(msgpack_object) * n);
    if (out->components == NULL || strs == NULL)
        return SQ_ERR_NOMEM;
    for (uint32_t i = 0; i < n; i++) {
        char *s = sq_mp_strdup(ar, &c->via.array.ptr[i]), *full;
        if (s == NULL)
            return bad(err, errlen, "exec.components must be an array of action names");
        if ((st = reg_fqn_parse(s, ns, ar, &out->components[i], "sequence component", err,
                                errlen)) != SQ_OK)
            return st;
        if ((full = reg_fqn_str(&out->components[i], ar)) == NULL)
            return SQ_ERR_NOMEM;
        strs[i] = str_obj(full);
    }
    out->ncomponents = n;
    out->exec.components.type = MSGPACK_OBJECT_ARRAY;
    out->exec.components.via.array.size = n;
    out->exec.components.via.array.ptr = strs;
    return SQ_OK;
}

static sq_status parse_exec(const msgpack_object *e, const char *ns, sq_arena_t *ar, reg_patch *out,
                            char *err, size_t errlen)
{
    const msgpack_object *kind, *code, *main_, *binary;
    sq_exec *x = &out->exec;
    sq_exec_body xb;

    memset(x, 0, sizeof *x);
    x->components.type = MSGPACK_OBJECT_NIL;
    if (e->type != MSGPACK_OBJECT_MAP || sq_exec_body_from(e, ar, &xb, NULL, 0) != SQ_OK)
        return bad(err, errlen, "exec must be an object");
    kind = given(&xb.kind);
    if (kind == NULL)
        return bad(err, errlen, "exec.kind is required");
    if ((x->kind = sq_mp_strdup(ar, kind)) == NULL)
        return bad(err, errlen, "exec.kind must be a string");
    if (strcmp(x->kind, "sequence") == 0)
        return parse_components(&xb, ns, ar, out, err, errlen); /* code, main: ignored */
    if (strcmp(x->kind, "blackbox") == 0) {
        /* what `wsk action create --native` sends: the skeleton image with a zip holding
         * an executable "exec", which is what the native runtime runs; no other image */
        const msgpack_object *image = given(&xb.image);
        char *img = image ? sq_mp_strdup(ar, image) : NULL;
        if (img == NULL || !is_skeleton_image(img))
            return bad(err, errlen,
                       "Squall does not run container images ('%.128s'): create the action with "
                       "kind 'native' and an executable (or a zip holding 'exec') as its code",
                       img ? img : "no image");
        if (given(&xb.code) == NULL)
            return bad(err, errlen,
                       "a blackbox action on the skeleton image needs its code: "
                       "an executable, or a zip holding 'exec'");
        x->kind = "native";
    } else {
        /* "family:default" is stored as the kind it stands for, as OpenWhisk does */
        const char *k = sq_kind_resolve(x->kind);
        if (k == NULL)
            return bad(err, errlen, "kind '%.64s' is not supported", x->kind);
        x->kind = (char *)k;
    }

    code = given(&xb.code);
    if (code == NULL || code->type != MSGPACK_OBJECT_STR)
        return bad(err, errlen, "'code' must be a string defined in 'exec' for '%s' actions",
                   x->kind);
    if (code->via.str.size > REG_CODE_MAX)
        return bad_st(SQ_ERR_TOO_LARGE, err, errlen,
                      "exec.code larger than allowed: %" PRIu32 " > %ld bytes.", code->via.str.size,
                      REG_CODE_MAX);
    if ((x->code = sq_mp_strdup(ar, code)) == NULL)
        return bad(err, errlen, "exec.code must not contain NUL characters");
    if (!utf8_valid(x->code))
        return bad(err, errlen, "exec.code must be valid UTF-8 text");
    if ((main_ = given(&xb.main)) != NULL &&
        ((x->main = sq_mp_strdup(ar, main_)) == NULL || !utf8_valid(x->main)))
        return bad(err, errlen, "exec.main must be a string");
    if ((binary = given(&xb.binary)) != NULL) {
        if (binary->type != MSGPACK_OBJECT_BOOLEAN)
            return bad(err, errlen, "exec.binary must be a boolean");
        x->binary = binary->via.boolean;
    } else {
        /* no flag: OpenWhisk decides by the code itself (Exec.isBinaryCode), so that a base64
         * zip sent without "binary" is a zip */
        x->binary = looks_binary(x->code, code->via.str.size);
    }
    if (x->binary && !base64_valid(x->code, code->via.str.size))
        return bad(err, errlen, "exec.code must be base64 when exec.binary is true");
    return SQ_OK;
}

/* One limit: absent/null leaves *has false; otherwise a whole number within [min, max]. */
static sq_status parse_limit(const msgpack_object *field, const char *key, int64_t min, int64_t max,
                             const char *unit, bool *has, int64_t *val, char *err, size_t errlen)
{
    const msgpack_object *v = given(field);
    int64_t x;

    *has = false;
    if (v == NULL)
        return SQ_OK;
    switch (v->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        x = v->via.u64 > INT64_MAX ? INT64_MAX : (int64_t)v->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: x = v->via.i64; break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* JSON 60000.0 arrives as a float: accept it when whole, as OpenWhisk does */
        if (!isfinite(v->via.f64) || v->via.f64 != floor(v->via.f64))
            return bad(err, errlen, "%s limit must be a whole number", key);
        x = v->via.f64 >= 9.2e18    ? INT64_MAX
            : v->via.f64 <= -9.2e18 ? INT64_MIN
                                    : (int64_t)v->via.f64;
        break;
    default: return bad(err, errlen, "%s limit must be a whole number", key);
    }
    if (x < min)
        return bad(err, errlen, "%s %" PRId64 "%s below allowed threshold of %" PRId64 "%s", key, x,
                   unit, min, unit);
    if (x > max)
        return bad(err, errlen, "%s %" PRId64 "%s exceeds allowed threshold of %" PRId64 "%s", key,
                   x, unit, max, unit);
    *has = true;
    *val = x;
    return SQ_OK;
}

/* An action's limits may only name what Squall honours: a key it would drop (OpenWhisk's
 * instances, a typo) is refused rather than silently ignored; null there gives nothing. */
static sq_status check_limit_keys(const msgpack_object *limits, char *err, size_t errlen)
{
    static const char *const known[] = { "timeout", "memory", "logs", "concurrency" };
    for (uint32_t i = 0; i < limits->via.map.size; i++) {
        const msgpack_object *k = &limits->via.map.ptr[i].key;
        bool ok = false;
        if (k->type != MSGPACK_OBJECT_STR)
            return bad(err, errlen, "limits keys must be strings");
        if (limits->via.map.ptr[i].val.type == MSGPACK_OBJECT_NIL)
            continue;
        for (size_t j = 0; j < sizeof known / sizeof known[0] && !ok; j++)
            ok = key_is(k, known[j], strlen(known[j]));
        if (!ok) {
            char name[65];
            size_t n = k->via.str.size > 64 ? 64 : k->via.str.size;
            for (size_t j = 0; j < n; j++) {
                unsigned char c = (unsigned char)k->via.str.ptr[j];
                name[j] = isalnum(c) || c == '_' || c == '-' ? (char)c : '?';
            }
            name[n] = '\0';
            return bad(err, errlen,
                       "limits.%s is not supported (known limits: timeout, memory, logs, "
                       "concurrency)",
                       name);
        }
    }
    return SQ_OK;
}

sq_status reg_patch_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                          reg_patch *out, char *err, size_t errlen)
{
    const msgpack_object *v;
    sq_entity_body body;
    sq_status st;

    memset(out, 0, sizeof *out);
    out->exec.components.type = MSGPACK_OBJECT_NIL;
    out->limits = SQ_LIMITS_DEFAULT;
    if ((st = parse_body(entity, "action", ar, &body, err, errlen)) != SQ_OK)
        return st;
    if ((v = given(&body.version)) != NULL && v->type != MSGPACK_OBJECT_STR)
        return bad(err, errlen, "version must be a string");
    if ((v = given(&body.exec)) != NULL) {
        if ((st = parse_exec(v, ns, ar, out, err, errlen)) != SQ_OK)
            return st;
        out->has_exec = true;
    }
    if ((st = parse_kv(&body.parameters, "parameters", &out->has_parameters, &out->parameters, ar,
                       err, errlen)) != SQ_OK ||
        (st = parse_kv(&body.annotations, "annotations", &out->has_annotations, &out->annotations,
                       ar, err, errlen)) != SQ_OK)
        return st;
    if ((v = given(&body.del_annotations)) != NULL) {
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
    if ((v = given(&body.limits)) != NULL) {
        sq_limits_body lb;
        if (v->type != MSGPACK_OBJECT_MAP)
            return bad(err, errlen, "limits must be an object");
        if ((st = check_limit_keys(v, err, errlen)) != SQ_OK)
            return st;
        if (sq_limits_body_from(v, ar, &lb, NULL, 0) != SQ_OK)
            return bad(err, errlen, "limits must be an object");
        if ((st = parse_limit(&lb.timeout, "timeout", REG_TIMEOUT_MIN, REG_TIMEOUT_MAX,
                              " milliseconds", &out->has_timeout, &out->limits.timeout, err,
                              errlen)) != SQ_OK ||
            (st = parse_limit(&lb.memory, "memory", REG_MEMORY_MIN, REG_MEMORY_MAX, " MB",
                              &out->has_memory, &out->limits.memory, err, errlen)) != SQ_OK ||
            (st = parse_limit(&lb.logs, "logs", REG_LOGS_MIN, REG_LOGS_MAX, " MB", &out->has_logs,
                              &out->limits.logs, err, errlen)) != SQ_OK ||
            (st = parse_limit(&lb.concurrency, "concurrency", REG_CONCURRENCY_MIN,
                              REG_CONCURRENCY_MAX, "", &out->has_concurrency,
                              &out->limits.concurrency, err, errlen)) != SQ_OK)
            return st;
    }
    return parse_bool(&body.publish, "publish", &out->has_publish, &out->publish, err, errlen);
}
