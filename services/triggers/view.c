/* A trigger and its rules as a fire needs them (a trg_view): from the cache, or read from
 * the registry (sq.registry.resolve answers the trigger with its rules in one read; an
 * older registry is asked for the trigger and its rules are found by listing) and then
 * cached. */
#include <stdio.h>
#include <string.h>

#include "sq/log.h"
#include "triggers.h"

#define LIST_PAGE 200

/* Asks the registry; *o is the unpacked answer in the arena (the reply's bytes are copied
 * there). A wire error becomes *f (the registry's code and message). */
static bool registry_ask(trg_worker *w, const char *subject, msgpack_object *o, trg_fail *f)
{
    msgpack_packer pk;
    natsMsg *reply = NULL;
    const char *emsg;
    size_t elen;
    int code;
    char *copy;
    size_t len;
    sq_status st;

    st = sq_bus_request(w->s->bus, subject, w->sb.data, w->sb.size, trg_cfg.registry_timeout_ms,
                        &reply);
    trg_worker_buf_reset(w, &pk);
    if (st != SQ_OK) {
        f->code = 503;
        f->message = st == SQ_ERR_TIMEOUT ? "the registry did not answer in time"
                                          : "the registry is not available";
        return false;
    }
    len = (size_t)natsMsg_GetDataLength(reply);
    copy = msgpack_zone_malloc(&w->zone, len ? len : 1);
    if (copy)
        memcpy(copy, natsMsg_GetData(reply), len);
    natsMsg_Destroy(reply);
    if (copy == NULL || sq_mp_unpack(copy, len, &w->zone, o) != SQ_OK ||
        o->type != MSGPACK_OBJECT_MAP) {
        f->code = 502;
        f->message = "the registry gave a malformed answer";
        return false;
    }
    if (sq_wire_error_get(o, &code, &emsg, &elen)) {
        f->code = code;
        f->message = trg_arena_printf(&w->zone, "%.*s", (int)elen, emsg);
        return false;
    }
    return true;
}

/* {path, name} -> "path" and "name" strings in the arena, path without a leading '/'. */
static bool path_name(sq_arena_t *ar, const msgpack_object *ref, char **path, char **name)
{
    if (ref == NULL || ref->type != MSGPACK_OBJECT_MAP)
        return false;
    *path = sq_mp_strdup(ar, sq_mp_get(ref, "path"));
    *name = sq_mp_strdup(ar, sq_mp_get(ref, "name"));
    if (*path == NULL || *name == NULL || **name == '\0')
        return false;
    while (**path == '/')
        (*path)++;
    return **path != '\0';
}

/* Fills the invoke names of r from its action path and name. */
static bool rule_fill(sq_arena_t *ar, trg_rule *r)
{
    const char *slash = strchr(r->action_path, '/');
    if (slash == NULL) {
        r->invoke_ns = r->action_path;
        r->invoke_name = r->action_name;
        return true;
    }
    r->invoke_ns = trg_arena_printf(ar, "%.*s", (int)(slash - r->action_path), r->action_path);
    r->invoke_name = trg_arena_printf(ar, "%s/%s", slash + 1, r->action_name);
    return r->invoke_ns && r->invoke_name;
}

/* Room for one more rule in v (grown in the arena). */
static trg_rule *rule_add(sq_arena_t *ar, trg_view *v, size_t *cap)
{
    if (v->nrules == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        trg_rule *n = msgpack_zone_malloc(ar, sizeof *n * ncap);
        if (n == NULL)
            return NULL;
        if (v->nrules)
            memcpy(n, v->rules, sizeof *n * v->nrules);
        v->rules = n;
        *cap = ncap;
    }
    return &v->rules[v->nrules++];
}

/* The active rules from the trigger's own `rules` map (OpenWhisk's trigger shape:
 * {"ns/rule": {action: {path, name}, status}}). */
static bool rules_from_map(trg_worker *w, const msgpack_object *rules, trg_view *v)
{
    size_t cap = 0;
    for (uint32_t i = 0; i < rules->via.map.size; i++) {
        const msgpack_object_kv *kv = &rules->via.map.ptr[i];
        trg_rule *r;
        char *rule = sq_mp_strdup(&w->zone, &kv->key);
        if (rule == NULL || kv->val.type != MSGPACK_OBJECT_MAP)
            continue;
        if (!sq_mp_str_eq(sq_mp_get(&kv->val, "status"), "active"))
            continue;
        if ((r = rule_add(&w->zone, v, &cap)) == NULL)
            return false;
        r->rule = rule;
        if (!path_name(&w->zone, sq_mp_get(&kv->val, "action"), &r->action_path, &r->action_name) ||
            !rule_fill(&w->zone, r)) {
            v->nrules--;
            sq_warn("ignored rule \"%s\" of trigger \"%s/%s\": no action", rule, v->ns, v->name);
        }
    }
    return true;
}

/* The active rules of v found by listing the rules of its namespace (a registry whose
 * trigger answer carries no `rules` map). A list item without status, trigger or action is
 * read on its own. */
static bool rules_from_list(trg_worker *w, trg_view *v, trg_fail *f)
{
    size_t cap = 0;
    for (int64_t skip = 0;; skip += LIST_PAGE) {
        msgpack_packer pk;
        msgpack_object o;
        const msgpack_object *items;
        sq_reg_list q = { .ns = v->ns, .kind = SQ_KIND_RULE, .skip = skip, .limit = LIST_PAGE };

        trg_worker_buf_reset(w, &pk);
        sq_reg_list_encode(&q, &pk);
        if (!registry_ask(w, SQ_SUBJ_REG_LIST, &o, f))
            return false;
        items = sq_mp_get(&o, "items");
        if (items == NULL || items->type != MSGPACK_OBJECT_ARRAY) {
            f->code = 502;
            f->message = "the registry gave a malformed rule list";
            return false;
        }
        for (uint32_t i = 0; i < items->via.array.size; i++) {
            msgpack_object it = items->via.array.ptr[i], full;
            char *tpath, *tname, *rname;
            trg_rule *r;

            if (it.type != MSGPACK_OBJECT_MAP ||
                (rname = sq_mp_strdup(&w->zone, sq_mp_get(&it, "name"))) == NULL)
                continue;
            if (sq_mp_get(&it, "status") == NULL || sq_mp_get(&it, "trigger") == NULL ||
                sq_mp_get(&it, "action") == NULL) {
                sq_reg_ref ref = { .ns = v->ns, .name = rname, .kind = SQ_KIND_RULE };
                trg_fail f2 = { 0 };
                trg_worker_buf_reset(w, &pk);
                sq_reg_ref_encode(&ref, &pk);
                if (!registry_ask(w, SQ_SUBJ_REG_GET, &full, &f2))
                    continue; /* deleted meanwhile */
                it = full;
            }
            if (!path_name(&w->zone, sq_mp_get(&it, "trigger"), &tpath, &tname) ||
                strcmp(tpath, v->ns) != 0 || strcmp(tname, v->name) != 0 ||
                !sq_mp_str_eq(sq_mp_get(&it, "status"), "active"))
                continue;
            if ((r = rule_add(&w->zone, v, &cap)) == NULL)
                return false;
            r->rule = trg_arena_printf(&w->zone, "%s/%s", v->ns, rname);
            if (r->rule == NULL ||
                !path_name(&w->zone, sq_mp_get(&it, "action"), &r->action_path, &r->action_name) ||
                !rule_fill(&w->zone, r))
                v->nrules--;
        }
        if (items->via.array.size < LIST_PAGE)
            return true;
    }
}

/* The trigger ns/name with its active rules, from the cache or the registry
 * (sq.registry.resolve of a trigger: the trigger with its `rules` map). */
bool trg_view_load(trg_worker *w, const char *ns, const char *name, trg_view *v, trg_fail *f)
{
    trg_cache *c = w->s->cache;
    msgpack_packer pk;
    msgpack_object o;
    const msgpack_object *rules, *p, *a;
    sq_reg_ref ref = { .ns = (char *)ns, .name = (char *)name, .kind = SQ_KIND_TRIGGER };
    uint64_t gen;

    trg_cache_sync(c);
    if (trg_cache_get(c, ns, name, &w->zone, v))
        return true;
    gen = trg_cache_gen(c);
    /* resolve answers the trigger with its rules in one read; a registry without it (400)
     * is asked for the trigger, and the rules are found by listing */
    trg_worker_buf_reset(w, &pk);
    sq_reg_ref_encode(&ref, &pk);
    if (!registry_ask(w, SQ_SUBJ_REG_RESOLVE, &o, f)) {
        if (f->code != 400)
            return false;
        memset(f, 0, sizeof *f);
        trg_worker_buf_reset(w, &pk);
        sq_reg_ref_encode(&ref, &pk);
        if (!registry_ask(w, SQ_SUBJ_REG_GET, &o, f))
            return false;
    }
    memset(v, 0, sizeof *v);
    v->ns = (char *)ns;
    v->name = (char *)name;
    v->version = sq_mp_strdup(&w->zone, sq_mp_get(&o, "version"));
    if (v->version == NULL)
        v->version = "0.0.1";
    p = sq_mp_get(&o, "parameters");
    a = sq_mp_get(&o, "annotations");
    v->parameters.type = MSGPACK_OBJECT_NIL;
    v->annotations.type = MSGPACK_OBJECT_NIL;
    if (p && p->type == MSGPACK_OBJECT_ARRAY)
        v->parameters = *p;
    if (a && a->type == MSGPACK_OBJECT_ARRAY)
        v->annotations = *a;
    rules = sq_mp_get(&o, "rules");
    if (rules != NULL && rules->type == MSGPACK_OBJECT_MAP) {
        if (!rules_from_map(w, rules, v)) {
            f->code = 500;
            f->message = "out of memory";
            return false;
        }
    } else if (!rules_from_list(w, v, f))
        return false;
    trg_cache_put(c, v, gen, trg_cfg.cache_ttl_ms);
    return true;
}
