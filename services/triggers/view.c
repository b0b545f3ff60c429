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

/* {path, name} -> *path and *name (the strings of ref), path without a leading '/'. */
static bool path_name(const sq_path_name *ref, char **path, char **name)
{
    *path = ref->path;
    *name = ref->name;
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
static bool rules_from_doc(trg_worker *w, const sq_trigger *t, trg_view *v)
{
    size_t cap = 0;
    for (size_t i = 0; i < t->nrules; i++) {
        const sq_trigger_rule *tr = &t->rules[i];
        trg_rule *r;
        if (strcmp(tr->status, "active") != 0)
            continue;
        if ((r = rule_add(&w->zone, v, &cap)) == NULL)
            return false;
        r->rule = tr->key;
        if (!path_name(&tr->action, &r->action_path, &r->action_name) || !rule_fill(&w->zone, r)) {
            v->nrules--;
            sq_warn("ignored rule \"%s\" of trigger \"%s/%s\": no action", tr->key, v->ns, v->name);
        }
    }
    return true;
}

/* The rule of list item it, read on its own when the item is not a whole rule (an older
 * registry lists them without status, trigger or action); false when it cannot be had. */
static bool list_rule(trg_worker *w, const char *ns, const msgpack_object *it, sq_rule *out)
{
    msgpack_packer pk;
    msgpack_object full;
    sq_brief b;
    trg_fail f = { 0 };
    sq_reg_ref ref = { .ns = (char *)ns, .kind = SQ_KIND_RULE };

    if (sq_rule_from(it, &w->zone, out, NULL, 0) == SQ_OK)
        return true;
    if (sq_brief_from(it, &w->zone, &b, NULL, 0) != SQ_OK)
        return false;
    ref.name = b.name;
    trg_worker_buf_reset(w, &pk);
    sq_reg_ref_encode(&ref, &pk);
    return registry_ask(w, SQ_SUBJ_REG_GET, &full, &f) && /* else deleted meanwhile */
           sq_rule_from(&full, &w->zone, out, NULL, 0) == SQ_OK;
}

/* The active rules of v found by listing the rules of its namespace (a registry whose
 * trigger answer carries no `rules` map). */
static bool rules_from_list(trg_worker *w, trg_view *v, trg_fail *f)
{
    size_t cap = 0;
    for (int64_t skip = 0;; skip += LIST_PAGE) {
        msgpack_packer pk;
        msgpack_object o;
        sq_items items;
        sq_reg_list q = { .ns = v->ns, .kind = SQ_KIND_RULE, .skip = skip, .limit = LIST_PAGE };

        trg_worker_buf_reset(w, &pk);
        sq_reg_list_encode(&q, &pk);
        if (!registry_ask(w, SQ_SUBJ_REG_LIST, &o, f))
            return false;
        if (sq_items_from(&o, &w->zone, &items, NULL, 0) != SQ_OK) {
            f->code = 502;
            f->message = "the registry gave a malformed rule list";
            return false;
        }
        for (uint32_t i = 0; i < items.items.via.array.size; i++) {
            char *tpath, *tname;
            sq_rule rule;
            trg_rule *r;

            if (!list_rule(w, v->ns, &items.items.via.array.ptr[i], &rule) ||
                !path_name(&rule.trigger, &tpath, &tname) || strcmp(tpath, v->ns) != 0 ||
                strcmp(tname, v->name) != 0 || strcmp(rule.status, "active") != 0)
                continue;
            if ((r = rule_add(&w->zone, v, &cap)) == NULL)
                return false;
            r->rule = trg_arena_printf(&w->zone, "%s/%s", v->ns, rule.name);
            if (r->rule == NULL || !path_name(&rule.action, &r->action_path, &r->action_name) ||
                !rule_fill(&w->zone, r))
                v->nrules--;
        }
        if (items.items.via.array.size < LIST_PAGE)
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
    sq_trigger t;
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
    if (sq_trigger_from(&o, &w->zone, &t, NULL, 0) != SQ_OK) {
        f->code = 502;
        f->message = "the registry gave a malformed trigger";
        return false;
    }
    memset(v, 0, sizeof *v);
    v->ns = (char *)ns;
    v->name = (char *)name;
    v->version = t.version;
    v->parameters = t.parameters; /* arrays, or nil */
    v->annotations = t.annotations;
    if (t.with_rules) {
        if (!rules_from_doc(w, &t, v)) {
            f->code = 500;
            f->message = "out of memory";
            return false;
        }
    } else if (!rules_from_list(w, v, f))
        return false;
    trg_cache_put(c, v, gen, trg_cfg.cache_ttl_ms);
    return true;
}
