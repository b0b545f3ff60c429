/* The registry's rules for entities, without SQL or NATS: names and references, what a PUT
 * body of each kind may hold (the checks OpenWhisk's WhiskActionPut, WhiskPackagePut,
 * WhiskTriggerPut and WhiskRulePut deserialisers make) and how a PUT applies to what is
 * stored (OpenWhisk's update semantics: fields given replace the old ones — parameters as a
 * whole, and annotations of packages, triggers and rules —, an action's annotations merge
 * into its old ones, fields left out keep their value, action limits merge per field, the
 * version's patch number goes up). Messages in err are shown to the user by the gateway,
 * so they use JSON's words (object, array) and OpenWhisk's phrasing. An action's PUT body
 * is checked in validate_action.c; validate_int.h has the helpers the two files share. */
#include "validate_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/kv.h"
#include "sq/util.h"

/* A field of a body's raw view (proto/body.h), or NULL when absent or JSON null. */
const msgpack_object *given(const msgpack_object *v)
{
    return v->type == MSGPACK_OBJECT_NIL ? NULL : v;
}

static char *arena_strndup(sq_arena_t *ar, const char *s, size_t n)
{
    char *p = msgpack_zone_malloc(ar, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static char *arena_strdup(sq_arena_t *ar, const char *s)
{
    return arena_strndup(ar, s, strlen(s));
}

msgpack_object str_obj(const char *s)
{
    msgpack_object o;
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)strlen(s);
    return o;
}

/* ---- names -------------------------------------------------------------------------------- */

sq_status reg_name_split(const char *name, bool allow_pkg, sq_arena_t *ar, char **pkg, char **base)
{
    const char *slash = strchr(name, '/');

    *pkg = NULL;
    *base = (char *)name;
    if (slash != NULL) {
        if (!allow_pkg || strchr(slash + 1, '/') != NULL)
            return SQ_ERR_BAD_NAME;
        if ((*pkg = arena_strndup(ar, name, (size_t)(slash - name))) == NULL)
            return SQ_ERR_NOMEM;
        *base = (char *)slash + 1;
        if (!sq_name_valid(*pkg))
            return SQ_ERR_BAD_NAME;
    }
    return sq_name_valid(*base) ? SQ_OK : SQ_ERR_BAD_NAME;
}

sq_status reg_fqn_parse(const char *s, const char *default_ns, sq_arena_t *ar, reg_fqn *out,
                        const char *what, char *err, size_t errlen)
{
    const char *p = s, *parts[3];
    size_t lens[3], n = 0;
    bool absolute = s[0] == '/';

    memset(out, 0, sizeof *out);
    if (absolute)
        p++;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 3)
            goto invalid;
        parts[n] = p;
        lens[n++] = len;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    /* "/ns/name", "/ns/pkg/name"; relative "name", "pkg/name"; "ns/pkg/name" (the npm
     * client's grammar, names.js) */
    if (absolute && n < 2)
        goto invalid;
    if (n == 3 || absolute) {
        if ((out->ns = arena_strndup(ar, parts[0], lens[0])) == NULL)
            return SQ_ERR_NOMEM;
        if (n == 3 && (out->pkg = arena_strndup(ar, parts[1], lens[1])) == NULL)
            return SQ_ERR_NOMEM;
    } else {
        out->ns = (char *)default_ns;
        if (n == 2 && (out->pkg = arena_strndup(ar, parts[0], lens[0])) == NULL)
            return SQ_ERR_NOMEM;
    }
    if ((out->name = arena_strndup(ar, parts[n - 1], lens[n - 1])) == NULL)
        return SQ_ERR_NOMEM;
    if (strcmp(out->ns, "_") == 0)
        out->ns = (char *)default_ns;
    if (!sq_name_valid(out->ns) || (out->pkg && !sq_name_valid(out->pkg)) ||
        !sq_name_valid(out->name))
        goto invalid;
    return SQ_OK;
invalid:
    memset(out, 0, sizeof *out);
    return bad(err, errlen,
               "The %s name '%.256s' is not valid: expected [/namespace/][package/]name.", what, s);
}

char *reg_path_str(const char *ns, const char *pkg, sq_arena_t *ar)
{
    size_t n = strlen(ns) + (pkg ? strlen(pkg) + 1 : 0) + 1;
    char *p = msgpack_zone_malloc(ar, n);
    if (p != NULL)
        snprintf(p, n, pkg ? "%s/%s" : "%s", ns, pkg);
    return p;
}

char *reg_fqn_str(const reg_fqn *f, sq_arena_t *ar)
{
    size_t n = strlen(f->ns) + (f->pkg ? strlen(f->pkg) + 1 : 0) + strlen(f->name) + 3;
    char *p = msgpack_zone_malloc(ar, n);
    if (p == NULL)
        return NULL;
    if (f->pkg)
        snprintf(p, n, "/%s/%s/%s", f->ns, f->pkg, f->name);
    else
        snprintf(p, n, "/%s/%s", f->ns, f->name);
    return p;
}

/* ---- common fields ------------------------------------------------------------------------ */

/* True when s is well-formed UTF-8 (PostgreSQL refuses anything else in a text column). */
bool utf8_valid(const char *s)
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

/* True when s (n bytes) is standard base64 (padded or not; whitespace ignored). */
bool base64_valid(const char *s, size_t n)
{
    static const int variants[] = { sodium_base64_VARIANT_ORIGINAL,
                                    sodium_base64_VARIANT_ORIGINAL_NO_PADDING };
    size_t cap = n / 4 * 3 + 3, len;
    unsigned char *bin = malloc(cap);
    bool ok = false;

    if (bin == NULL)
        return false;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0] && !ok; i++)
        ok = sodium_base642bin(bin, cap, s, n, " \t\r\n", &len, NULL, variants[i]) == 0;
    free(bin);
    return ok;
}

static sq_status check_kv_array(const msgpack_object *a, const char *what, sq_arena_t *ar,
                                char *err, size_t errlen)
{
    if (a->type != MSGPACK_OBJECT_ARRAY)
        return bad(err, errlen, "%s must be an array of {key, value} objects", what);
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        sq_kv_entry e;
        if (sq_kv_entry_from(&a->via.array.ptr[i], ar, &e, NULL, 0) != SQ_OK)
            return bad(err, errlen, "%s must be an array of {key, value} objects", what);
    }
    return SQ_OK;
}

sq_status parse_bool(const msgpack_object *field, const char *key, bool *has, bool *val, char *err,
                     size_t errlen)
{
    const msgpack_object *v = given(field);
    if (v == NULL)
        return SQ_OK;
    if (v->type != MSGPACK_OBJECT_BOOLEAN)
        return bad(err, errlen, "%s must be a boolean", key);
    *has = true;
    *val = v->via.boolean;
    return SQ_OK;
}

sq_status parse_kv(const msgpack_object *field, const char *key, bool *has, msgpack_object *val,
                   sq_arena_t *ar, char *err, size_t errlen)
{
    const msgpack_object *v = given(field);
    sq_status st;
    if (v == NULL)
        return SQ_OK;
    if ((st = check_kv_array(v, key, ar, err, errlen)) != SQ_OK)
        return st;
    *has = true;
    *val = *v;
    return SQ_OK;
}

/* A PUT body's raw view (proto/body.h): "the <what> must be an object" when it is none. */
sq_status parse_body(const msgpack_object *entity, const char *what, sq_arena_t *ar,
                     sq_entity_body *body, char *err, size_t errlen)
{
    if (entity->type != MSGPACK_OBJECT_MAP ||
        sq_entity_body_from(entity, ar, body, NULL, 0) != SQ_OK)
        return bad(err, errlen, "the %s must be an object", what);
    return SQ_OK;
}

/* The fields every kind shares: version (checked, then ignored: the registry numbers
 * versions), publish, annotations and (unless a rule) parameters; *body: the body's view. */
static sq_status parse_common(const msgpack_object *entity, const char *what, bool with_params,
                              sq_arena_t *ar, sq_entity_body *body, reg_entity_patch *out,
                              char *err, size_t errlen)
{
    const msgpack_object *v;
    sq_status st;

    if ((st = parse_body(entity, what, ar, body, err, errlen)) != SQ_OK)
        return st;
    if ((v = given(&body->version)) != NULL && v->type != MSGPACK_OBJECT_STR)
        return bad(err, errlen, "version must be a string");
    if ((st = parse_bool(&body->publish, "publish", &out->has_publish, &out->publish, err,
                         errlen)) != SQ_OK ||
        (st = parse_kv(&body->annotations, "annotations", &out->has_annotations, &out->annotations,
                       ar, err, errlen)) != SQ_OK)
        return st;
    if (with_params && (st = parse_kv(&body->parameters, "parameters", &out->has_parameters,
                                      &out->parameters, ar, err, errlen)) != SQ_OK)
        return st;
    return SQ_OK;
}

/* ---- {key, value} arrays ------------------------------------------------------------------ */

bool key_is(const msgpack_object *k, const char *s, size_t n)
{
    return k != NULL && k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, s, n) == 0;
}

/* The entries of array a (anything else: none) whose key is none of skip[0..nskip), in the
 * arena; an entry that is no {key, value} goes too. */
static sq_status kv_without(const msgpack_object *a, char *const *skip, size_t nskip,
                            sq_arena_t *ar, msgpack_object *out)
{
    uint32_t n = 0, size = a != NULL && a->type == MSGPACK_OBJECT_ARRAY ? a->via.array.size : 0;
    msgpack_object *items = msgpack_zone_malloc(ar, sizeof *items * (size ? size : 1));

    if (items == NULL)
        return SQ_ERR_NOMEM;
    for (uint32_t i = 0; i < size; i++) {
        sq_kv e;
        bool skipped = false;
        if (sq_kv_from(&a->via.array.ptr[i], ar, &e, NULL, 0) != SQ_OK)
            continue;
        for (size_t j = 0; j < nskip && !skipped; j++)
            skipped = strcmp(e.key, skip[j]) == 0;
        if (!skipped)
            items[n++] = a->via.array.ptr[i];
    }
    out->type = MSGPACK_OBJECT_ARRAY;
    out->via.array.size = n;
    out->via.array.ptr = items;
    return SQ_OK;
}

/* The array of the one entry *e. */
static msgpack_object one_entry(msgpack_object *e)
{
    msgpack_object o;
    o.type = MSGPACK_OBJECT_ARRAY;
    o.via.array.size = 1;
    o.via.array.ptr = e;
    return o;
}

sq_status reg_kv_merge(const msgpack_object *const *arrays, size_t n, sq_arena_t *ar,
                       msgpack_object *out)
{
    return sq_kv_merge(arrays, n, SQ_KV_ARRAY, ar, out);
}

bool reg_kv_has(const msgpack_object *a, const char *key)
{
    msgpack_zone z;
    bool has = false;

    if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY)
        return false;
    msgpack_zone_init(&z, 256);
    for (uint32_t i = 0; i < a->via.array.size && !has; i++) {
        sq_kv e;
        has = sq_kv_from(&a->via.array.ptr[i], &z, &e, NULL, 0) == SQ_OK && strcmp(e.key, key) == 0;
    }
    msgpack_zone_destroy(&z);
    return has;
}

/* {key: key, value: value} in the arena. */
static sq_status kv_entry(const char *key, msgpack_object value, sq_arena_t *ar,
                          msgpack_object *out)
{
    msgpack_object_kv *kv = msgpack_zone_malloc(ar, 2 * sizeof *kv);
    if (kv == NULL)
        return SQ_ERR_NOMEM;
    kv[0].key = str_obj("key");
    kv[0].val = str_obj(key);
    kv[1].key = str_obj("value");
    kv[1].val = value;
    out->type = MSGPACK_OBJECT_MAP;
    out->via.map.size = 2;
    out->via.map.ptr = kv;
    return SQ_OK;
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

/* The version of an entity after a put: 0.0.1 when new, else old's bumped. */
static char *next_version(const char *old, sq_arena_t *ar)
{
    char v[64];
    if (old == NULL)
        snprintf(v, sizeof v, "0.0.1");
    else
        reg_version_bump(old, v, sizeof v);
    return arena_strdup(ar, v);
}

static const msgpack_object empty_array = { .type = MSGPACK_OBJECT_ARRAY };

sq_status reg_patch_apply(const sq_action *old, const reg_patch *p, const char *path,
                          const char *name, sq_arena_t *ar, sq_action *out, char *err,
                          size_t errlen)
{
    const msgpack_object *base_annots;
    msgpack_object exec_kv, exec_arr, pak, pak_arr, kept;
    sq_status st;

    memset(out, 0, sizeof *out);
    if (old == NULL && !p->has_exec)
        return bad(err, errlen, "exec undefined");
    out->namespace_ = (char *)path;
    out->name = (char *)name;
    if ((out->version = next_version(old ? old->version : NULL, ar)) == NULL)
        return SQ_ERR_NOMEM;
    out->exec = p->has_exec ? p->exec : old->exec;

    /* parameters, as OpenWhisk's updateWhiskAction: replaced as a whole when given
     * (duplicate keys collapse, last wins); left out, the old ones are kept, except when a
     * sequence becomes an action of code (a sequence's parameters do not leak into it).
     * OpenWhisk also drops the parameters given to a sequence (it keeps only its own
     * `_actions` there); Squall keeps the replace-when-given rule for sequences. */
    bool was_sequence =
        old != NULL && old->exec.kind != NULL && strcmp(old->exec.kind, "sequence") == 0;
    bool is_seq = p->has_exec && p->exec.kind != NULL && strcmp(p->exec.kind, "sequence") == 0;
    const msgpack_object *base_params = p->has_parameters                        ? &p->parameters
                                        : old == NULL                            ? &empty_array
                                        : was_sequence && p->has_exec && !is_seq ? &empty_array
                                                                                 : &old->parameters;
    if ((st = sq_kv_merge(&base_params, 1, SQ_KV_ARRAY, ar, &out->parameters)) != SQ_OK)
        return st;

    /* annotations, as OpenWhisk's updateWhiskAction: the old ones minus delAnnotations,
     * then the given ones over them (a given key replaces its value, the others stay); on
     * create the given ones and provide-api-key: false unless given; then the exec kind
     * (OpenWhisk's `annotations ++ execAnnotation(exec)`) */
    const msgpack_object *given_annots = p->has_annotations ? &p->annotations : &empty_array;
    base_annots = old ? &old->annotations : &empty_array;
    if ((st = kv_without(base_annots, p->del_annotations, p->ndel, ar, &kept)) != SQ_OK ||
        (st = kv_entry("exec", str_obj(out->exec.kind), ar, &exec_kv)) != SQ_OK)
        return st;
    exec_arr = one_entry(&exec_kv);
    const msgpack_object *layers[4] = { &kept, given_annots, &exec_arr, NULL };
    if (old == NULL && !reg_kv_has(given_annots, "provide-api-key")) {
        /* as OpenWhisk: a new action gets no API key unless it asks for one */
        msgpack_object no = { .type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = false };
        if ((st = kv_entry("provide-api-key", no, ar, &pak)) != SQ_OK)
            return st;
        pak_arr = one_entry(&pak);
        layers[2] = &pak_arr;
        layers[3] = &exec_arr;
    }
    if ((st = sq_kv_merge(layers, layers[3] ? 4 : 3, SQ_KV_ARRAY, ar, &out->annotations)) != SQ_OK)
        return st;

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

/* ---- packages, triggers, rules ----------------------------------------------------------- */

/* A string field that must name an entity: a string of at most 1024 bytes, or absent. */
static sq_status parse_ref_str(const msgpack_object *field, const char *key, sq_arena_t *ar,
                               char **out, char *err, size_t errlen)
{
    const msgpack_object *v = given(field);
    *out = NULL;
    if (v == NULL)
        return SQ_OK;
    if (v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 || v->via.str.size > 1024 ||
        (*out = sq_mp_strdup(ar, v)) == NULL)
        return bad(err, errlen, "%s must be a non-empty string", key);
    return SQ_OK;
}

sq_status reg_package_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                            reg_entity_patch *out, char *err, size_t errlen)
{
    const msgpack_object *b;
    sq_entity_body body;
    sq_binding_body bb;
    char *bns = NULL, *bname = NULL;
    sq_status st;

    memset(out, 0, sizeof *out);
    if ((st = parse_common(entity, "package", true, ar, &body, out, err, errlen)) != SQ_OK)
        return st;
    if ((b = given(&body.binding)) == NULL)
        return SQ_OK;
    if (b->type != MSGPACK_OBJECT_MAP)
        return bad(err, errlen, "binding must be an object {namespace, name}");
    if (b->via.map.size == 0)
        return SQ_OK; /* {} is no binding, as OpenWhisk reads it */
    if (sq_binding_body_from(b, ar, &bb, NULL, 0) != SQ_OK ||
        (st = parse_ref_str(&bb.namespace_, "namespace", ar, &bns, err, errlen)) != SQ_OK ||
        (st = parse_ref_str(&bb.name, "name", ar, &bname, err, errlen)) != SQ_OK)
        return bad(err, errlen, "binding must be an object {namespace, name} of strings");
    if (bname == NULL)
        return bad(err, errlen, "binding.name is required");
    if (bns != NULL && bns[0] == '/')
        bns++;
    if (bns == NULL || bns[0] == '\0' || strcmp(bns, "_") == 0)
        bns = (char *)ns;
    if (!sq_name_valid(bns) || !sq_name_valid(bname))
        return bad(err, errlen, "The binding '%.256s/%.256s' is not a valid package name.", bns,
                   bname);
    out->has_binding = true;
    out->binding.ns = bns;
    out->binding.name = bname;
    return SQ_OK;
}

sq_status reg_trigger_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                            reg_entity_patch *out, char *err, size_t errlen)
{
    const msgpack_object *v;
    sq_entity_body body;
    sq_status st;

    memset(out, 0, sizeof *out);
    if ((st = parse_common(entity, "trigger", true, ar, &body, out, err, errlen)) != SQ_OK)
        return st;
    /* OpenWhisk's trigger limits are an empty object; anything else there is ignored */
    if ((v = given(&body.limits)) != NULL && v->type != MSGPACK_OBJECT_MAP)
        return bad(err, errlen, "limits must be an object");
    return SQ_OK;
}

sq_status reg_rule_parse(const msgpack_object *entity, const char *ns, sq_arena_t *ar,
                         reg_entity_patch *out, char *err, size_t errlen)
{
    const msgpack_object *v;
    sq_entity_body body;
    char *trigger, *action;
    sq_status st;

    memset(out, 0, sizeof *out);
    if ((st = parse_common(entity, "rule", false, ar, &body, out, err, errlen)) != SQ_OK)
        return st;
    /* status is managed by the registry (sq.registry.rulestate): checked, not applied */
    if ((v = given(&body.status)) != NULL &&
        !(sq_mp_str_eq(v, REG_RULE_ACTIVE) || sq_mp_str_eq(v, REG_RULE_INACTIVE) ||
          sq_mp_str_eq(v, "")))
        return bad(err, errlen, "status must be 'active' or 'inactive'");
    if ((st = parse_ref_str(&body.trigger, "trigger", ar, &trigger, err, errlen)) != SQ_OK ||
        (st = parse_ref_str(&body.action, "action", ar, &action, err, errlen)) != SQ_OK)
        return st;
    if (trigger != NULL) {
        if ((st = reg_fqn_parse(trigger, ns, ar, &out->trigger, "trigger", err, errlen)) != SQ_OK)
            return st;
        if (out->trigger.pkg != NULL)
            return bad(err, errlen,
                       "The trigger name '%.256s' is not valid: triggers are not in packages.",
                       trigger);
        out->has_trigger = true;
    }
    if (action != NULL) {
        if ((st = reg_fqn_parse(action, ns, ar, &out->action, "action", err, errlen)) != SQ_OK)
            return st;
        out->has_action = true;
    }
    return SQ_OK;
}

sq_status reg_rule_status_parse(const msgpack_object *entity, const char **status, char *err,
                                size_t errlen)
{
    sq_entity_body body;
    const msgpack_object *v = NULL;
    msgpack_zone z; /* the raw view's fields point into entity: nothing outlives z */

    msgpack_zone_init(&z, 256);
    if (entity->type == MSGPACK_OBJECT_MAP &&
        sq_entity_body_from(entity, &z, &body, NULL, 0) == SQ_OK)
        v = given(&body.status);
    if (v != NULL && sq_mp_str_eq(v, REG_RULE_ACTIVE))
        *status = REG_RULE_ACTIVE;
    else if (v != NULL && sq_mp_str_eq(v, REG_RULE_INACTIVE))
        *status = REG_RULE_INACTIVE;
    else
        v = NULL;
    msgpack_zone_destroy(&z);
    return v != NULL ? SQ_OK : bad(err, errlen, "status must be 'active' or 'inactive'");
}

/* params/annotations of a put: given ones replace, else old's (else empty); collapsed. */
static sq_status replace_kv(bool has, const msgpack_object *given, const msgpack_object *old,
                            const char *drop, sq_arena_t *ar, msgpack_object *out)
{
    const msgpack_object *base = has ? given : old ? old : &empty_array;
    char *skip[1] = { (char *)drop };
    msgpack_object kept;
    const msgpack_object *layer = &kept;
    sq_status st;
    if ((st = kv_without(base, skip, drop ? 1 : 0, ar, &kept)) != SQ_OK)
        return st;
    return sq_kv_merge(&layer, 1, SQ_KV_ARRAY, ar, out);
}

sq_status reg_package_apply(const reg_package *old, const reg_entity_patch *p, const char *ns,
                            const char *name, sq_arena_t *ar, reg_package *out, char *err,
                            size_t errlen)
{
    msgpack_object_kv *bkv;
    msgpack_object bval, entry;
    sq_status st;

    memset(out, 0, sizeof *out);
    if (old != NULL && old->binding_ns == NULL && p->has_binding)
        return bad_st(SQ_ERR_CONFLICT, err, errlen,
                      "Resource is a package and cannot be converted into a binding.");
    out->namespace_ = (char *)ns;
    out->name = (char *)name;
    if ((out->version = next_version(old ? old->version : NULL, ar)) == NULL)
        return SQ_ERR_NOMEM;
    if (p->has_binding) {
        out->binding_ns = p->binding.ns;
        out->binding_name = p->binding.name;
    } else if (old != NULL) {
        out->binding_ns = old->binding_ns;
        out->binding_name = old->binding_name;
    }
    if ((st = replace_kv(p->has_parameters, &p->parameters, old ? &old->parameters : NULL, NULL, ar,
                         &out->parameters)) != SQ_OK ||
        (st = replace_kv(p->has_annotations, &p->annotations, old ? &old->annotations : NULL,
                         "binding", ar, &out->annotations)) != SQ_OK)
        return st;
    if (out->binding_ns != NULL) {
        /* OpenWhisk's binding annotation, for clients that only see package lists */
        if ((bkv = msgpack_zone_malloc(ar, 2 * sizeof *bkv)) == NULL)
            return SQ_ERR_NOMEM;
        bkv[0].key = str_obj("namespace");
        bkv[0].val = str_obj(out->binding_ns);
        bkv[1].key = str_obj("name");
        bkv[1].val = str_obj(out->binding_name);
        bval.type = MSGPACK_OBJECT_MAP;
        bval.via.map.size = 2;
        bval.via.map.ptr = bkv;
        if ((st = kv_entry("binding", bval, ar, &entry)) != SQ_OK)
            return st;
        out->annotations.via.array.ptr[out->annotations.via.array.size++] = entry;
    }
    out->publish = p->has_publish ? p->publish : old ? old->publish : false;
    out->updated = sq_now_ms();
    return SQ_OK;
}

sq_status reg_trigger_apply(const reg_trigger *old, const reg_entity_patch *p, const char *ns,
                            const char *name, sq_arena_t *ar, reg_trigger *out)
{
    sq_status st;

    memset(out, 0, sizeof *out);
    out->namespace_ = (char *)ns;
    out->name = (char *)name;
    if ((out->version = next_version(old ? old->version : NULL, ar)) == NULL)
        return SQ_ERR_NOMEM;
    if ((st = replace_kv(p->has_parameters, &p->parameters, old ? &old->parameters : NULL, NULL, ar,
                         &out->parameters)) != SQ_OK ||
        (st = replace_kv(p->has_annotations, &p->annotations, old ? &old->annotations : NULL, NULL,
                         ar, &out->annotations)) != SQ_OK)
        return st;
    out->publish = p->has_publish ? p->publish : old ? old->publish : false;
    out->updated = sq_now_ms();
    return SQ_OK;
}

sq_status reg_rule_apply(const reg_rule *old, const reg_entity_patch *p, const char *ns,
                         const char *name, sq_arena_t *ar, reg_rule *out, char *err, size_t errlen)
{
    sq_status st;

    memset(out, 0, sizeof *out);
    if (old == NULL && !(p->has_trigger && p->has_action))
        return bad(err, errlen, "rule requires a valid trigger and a valid action");
    out->namespace_ = (char *)ns;
    out->name = (char *)name;
    if ((out->version = next_version(old ? old->version : NULL, ar)) == NULL)
        return SQ_ERR_NOMEM;
    if ((st = replace_kv(p->has_annotations, &p->annotations, old ? &old->annotations : NULL, NULL,
                         ar, &out->annotations)) != SQ_OK)
        return st;
    out->status = old ? old->status : REG_RULE_ACTIVE;
    if (p->has_trigger) {
        out->trigger_ns = p->trigger.ns;
        out->trigger_name = p->trigger.name;
    } else {
        out->trigger_ns = old->trigger_ns;
        out->trigger_name = old->trigger_name;
    }
    if (p->has_action) {
        if ((out->action_path = reg_path_str(p->action.ns, p->action.pkg, ar)) == NULL)
            return SQ_ERR_NOMEM;
        out->action_name = p->action.name;
    } else {
        out->action_path = old->action_path;
        out->action_name = old->action_name;
    }
    out->publish = p->has_publish ? p->publish : old ? old->publish : false;
    out->updated = sq_now_ms();
    return SQ_OK;
}
