/* A namespace's limits. The table keeps only the overrides an admin set, as a JSON object
 * (auth_namespaces.limits) keyed by the wire names of sq_ns_limits; what a namespace gets is
 * SQ_NS_LIMITS_DEFAULT overlaid with them, so changing a default in proto/ reaches every
 * namespace that never had that limit set. This file turns the stored object into the
 * effective limits and checks what an admin asks to set. */
#include "auth.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"

static const struct limit_field {
    const char *name;
    size_t off;
    int64_t min, max;
} fields[] = {
    { "concurrentInvocations", offsetof(sq_ns_limits, concurrent), 1, AUTH_LIMIT_INT_MAX },
    { "invocationsPerMinute", offsetof(sq_ns_limits, per_minute), 1, AUTH_LIMIT_INT_MAX },
    { "firesPerMinute", offsetof(sq_ns_limits, fires_per_minute), 1, AUTH_LIMIT_INT_MAX },
    { "actionTimeoutMax", offsetof(sq_ns_limits, timeout_max), AUTH_TIMEOUT_MAX_MIN,
      AUTH_TIMEOUT_MAX_MAX },
    { "actionMemoryMax", offsetof(sq_ns_limits, memory_max), AUTH_MEMORY_MAX_MIN,
      AUTH_MEMORY_MAX_MAX },
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static int64_t *field_of(sq_ns_limits *l, const struct limit_field *f)
{
    return (int64_t *)((char *)l + f->off);
}

void auth_limits_effective(const char *json, const char *ns, sq_ns_limits *out)
{
    json_error_t jerr;
    json_t *o;

    *out = SQ_NS_LIMITS_DEFAULT;
    if (json == NULL || json[0] == '\0')
        return;
    o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        sq_warn("ignoring the stored limits of namespace \"%s\": not a JSON object", ns);
        json_decref(o);
        return;
    }
    for (size_t i = 0; i < NFIELDS; i++) {
        json_t *v = json_object_get(o, fields[i].name);
        if (v == NULL)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < fields[i].min ||
            json_integer_value(v) > fields[i].max) {
            sq_warn(
                "ignoring the stored limit %s of namespace \"%s\": not an integer in %lld..%lld",
                fields[i].name, ns, (long long)fields[i].min, (long long)fields[i].max);
            continue;
        }
        *field_of(out, &fields[i]) = json_integer_value(v);
    }
    json_decref(o);
}

sq_status auth_limits_parse_set(const msgpack_object *map, char **set, char **reset, char *why,
                                size_t whylen)
{
    json_t *sets = NULL;
    char resets[256] = "{";
    bool seen[NFIELDS] = { false };

    *set = *reset = NULL;
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP || map->via.map.size == 0) {
        snprintf(why, whylen, "limits.set needs a map of limits to set");
        return SQ_ERR_BAD_REQUEST;
    }
    if ((sets = json_object()) == NULL)
        return SQ_ERR_NOMEM;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
        const struct limit_field *f = NULL;
        size_t j;
        int64_t n;

        for (j = 0; k->type == MSGPACK_OBJECT_STR && j < NFIELDS; j++)
            if (k->via.str.size == strlen(fields[j].name) &&
                memcmp(k->via.str.ptr, fields[j].name, k->via.str.size) == 0) {
                f = &fields[j];
                break;
            }
        if (f == NULL) {
            if (k->type == MSGPACK_OBJECT_STR)
                snprintf(why, whylen,
                         "unknown limit \"%.*s\" (known: concurrentInvocations, "
                         "invocationsPerMinute, firesPerMinute, actionTimeoutMax, actionMemoryMax)",
                         (int)(k->via.str.size > 64 ? 64 : k->via.str.size), k->via.str.ptr);
            else
                snprintf(why, whylen, "limit names must be strings");
            goto bad;
        }
        if (seen[j]) {
            snprintf(why, whylen, "limit %s given twice", f->name);
            goto bad;
        }
        seen[j] = true;
        if (v->type == MSGPACK_OBJECT_NIL) {
            /* back to the default */
            if (strlen(resets) > 1)
                strcat(resets, ",");
            strcat(resets, f->name);
            continue;
        }
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= (uint64_t)INT64_MAX)
            n = (int64_t)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            n = v->via.i64;
        else {
            snprintf(why, whylen, "limit %s must be an integer", f->name);
            goto bad;
        }
        if (n < f->min || n > f->max) {
            if (f->max == AUTH_LIMIT_INT_MAX)
                snprintf(why, whylen,
                         "limit %s must be a positive integer (at most %lld), not %lld", f->name,
                         (long long)f->max, (long long)n);
            else
                snprintf(why, whylen, "limit %s must be within %lld..%lld, not %lld", f->name,
                         (long long)f->min, (long long)f->max, (long long)n);
            goto bad;
        }
        json_object_set_new(sets, f->name, json_integer(n));
    }
    strcat(resets, "}");
    *set = json_dumps(sets, JSON_COMPACT);
    *reset = strdup(resets);
    json_decref(sets);
    if (*set == NULL || *reset == NULL) {
        free(*set);
        free(*reset);
        *set = *reset = NULL;
        return SQ_ERR_NOMEM;
    }
    return SQ_OK;
bad:
    json_decref(sets);
    return SQ_ERR_BAD_REQUEST;
}
