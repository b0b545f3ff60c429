/* The pure parts of compositions (see compose.h). */
#include <stdio.h>
#include <string.h>

#include "compose.h"
#include "sq/kv.h"
#include "sq/mp.h"
#include "sq/util.h"

bool sched_parse_fqn(const char *s, size_t len, bool relative, const char *caller_ns, char *ns,
                     size_t nslen, char *name, size_t namelen)
{
    char buf[800], *parts[4];
    int n = 0;
    char *save = NULL, *tok;

    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] != '/' && !relative)
        return false;
    for (tok = strtok_r(buf, "/", &save); tok != NULL && n < 4; tok = strtok_r(NULL, "/", &save))
        parts[n++] = tok;
    if (tok != NULL || n == 0)
        return false;
    if (s[0] == '/') {
        if (n < 2 || n > 3)
            return false;
        snprintf(ns, nslen, "%s", strcmp(parts[0], "_") == 0 ? caller_ns : parts[0]);
        if (n == 2)
            snprintf(name, namelen, "%s", parts[1]);
        else
            snprintf(name, namelen, "%s/%s", parts[1], parts[2]);
    } else {
        if (n > 2)
            return false;
        snprintf(ns, nslen, "%s", caller_ns);
        if (n == 1)
            snprintf(name, namelen, "%s", parts[0]);
        else
            snprintf(name, namelen, "%s/%s", parts[0], parts[1]);
    }
    for (int i = 0; i < n; i++)
        if (!sq_name_valid(parts[i]) && strcmp(parts[i], "_") != 0)
            return false;
    return true;
}

static const msgpack_object *present(const msgpack_object *v)
{
    return v->type != MSGPACK_OBJECT_NIL ? v : NULL;
}

void sched_conductor_parse(const msgpack_object *res, sched_conductor_ask *ask)
{
    /* every field is any object: the decoder allocates nothing */
    if (sq_conductor_step_from(res, NULL, &ask->step, NULL, 0) != SQ_OK)
        memset(&ask->step, 0, sizeof ask->step);
    ask->action = present(&ask->step.action);
    ask->params = present(&ask->step.params);
    ask->state = present(&ask->step.state);
}

bool sched_with_state(const msgpack_sbuffer *state, const msgpack_object *result, msgpack_zone *z,
                      msgpack_object *out)
{
    msgpack_object st = { .type = MSGPACK_OBJECT_NIL };
    const msgpack_object *layers[2] = {
        result->type == MSGPACK_OBJECT_MAP ? result : NULL,
        &st,
    };

    if (state->size == 0 || sq_mp_unpack(state->data, state->size, z, &st) != SQ_OK ||
        st.type != MSGPACK_OBJECT_MAP) {
        st.type = MSGPACK_OBJECT_NIL;
        if (result->type == MSGPACK_OBJECT_MAP) {
            *out = *result;
            return true;
        }
    }
    return sq_kv_merge(layers, 2, SQ_KV_MAP, z, out) == SQ_OK;
}

int64_t sched_record_memory(const sq_activation *a)
{
    const msgpack_object *v = sq_kv_value(&a->annotations, "limits");
    sq_limits l;

    /* integers only: the decoder allocates nothing */
    if (v == NULL || sq_limits_from(v, NULL, &l, NULL, 0) != SQ_OK || l.memory < 0)
        return 0;
    return l.memory;
}
