/* An invocation's input: the action's parameters under the invoke's (OpenWhisk's order,
 * merged by sq_kv_merge), whether a final action's parameters are overridden, and the
 * binding an action was reached through. Shared by the invoke path (handlers.c) and the
 * compositions (seq.c), which is why it is a file of its own: neither depends on the other
 * for it. */
#include <stdio.h>
#include <string.h>

#include "sched.h"
#include "sq/kv.h"

static bool has_key(const msgpack_object *map, const msgpack_object *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key->via.str.size &&
            memcmp(k->via.str.ptr, key->via.str.ptr, k->via.str.size) == 0)
            return true;
    }
    return false;
}

bool sched_params_overridden(const sched_entry *e, const msgpack_object *top)
{
    if (!e->final || top->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < e->ndefaults; i++)
        if (e->defaults[i].val.type != MSGPACK_OBJECT_NIL && has_key(top, &e->defaults[i].key))
            return true;
    return false;
}

const char *sched_binding_of(const char *ns, const char *name, const sq_action *a, char *buf,
                             size_t len)
{
    const char *slash = strchr(name, '/');
    int n;
    if (slash == NULL || a->namespace_ == NULL)
        return NULL;
    n = snprintf(buf, len, "%s/%.*s", ns, (int)(slash - name), name);
    if (n < 0 || (size_t)n >= len || strcmp(buf, a->namespace_) == 0)
        return NULL;
    return buf;
}

bool sched_merge_params(msgpack_zone *zone, const sched_entry *e, const msgpack_object *top,
                        msgpack_object *out)
{
    const msgpack_object *layers[] = { &e->defaults_map, top };

    /* an array (a sequence passing a component's array result on) goes as it is: OpenWhisk
     * merges no parameters into it */
    if (top->type == MSGPACK_OBJECT_ARRAY) {
        *out = *top;
        return true;
    }
    if (sq_kv_count(top) == 0 || top->type != MSGPACK_OBJECT_MAP) {
        *out = e->defaults_map;
        return true;
    }
    if (e->ndefaults == 0) {
        *out = *top;
        return true;
    }
    return sq_kv_merge(layers, 2, SQ_KV_MAP, zone, out) == SQ_OK;
}
