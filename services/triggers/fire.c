/* A fire, from request to record: the trigger and its active rules (cache or registry), the
 * namespace's fires per minute, one non-blocking invoke per active rule sent to the scheduler
 * all at once and collected on the worker's inbox, the answer to the caller, the trigger
 * activation on SQ_ACTIVATIONS and the event on sq.evt.trigger.<ns>.<name>.
 *
 * Everything a fire decodes goes into the worker's arena, cleared at the start of the next
 * fire. Nothing here may crash on what arrives from the network; every refusal is a wire
 * error with the HTTP status the gateway returns. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sq/json.h"
#include "sq/log.h"
#include "sq/util.h"
#include "triggers.h"

#define SB_KEEP (4 << 20)
#define LIST_PAGE 200

sq_status trg_worker_init(trg_worker *w, trg_service *s)
{
    char *inbox = NULL;
    char subj[160];
    natsStatus ns;

    memset(w, 0, sizeof *w);
    w->s = s;
    if (!msgpack_zone_init(&w->zone, 64 * 1024))
        return SQ_ERR_NOMEM;
    msgpack_sbuffer_init(&w->sb);
    if (natsInbox_Create(&inbox) != NATS_OK)
        return SQ_ERR_NOMEM;
    /* "_INBOX.<unique>" moved below this user's inbox prefix, where it may listen */
    snprintf(w->inbox, sizeof w->inbox, "%s%s", sq_bus_inbox_prefix(s->bus),
             inbox + strlen("_INBOX"));
    natsInbox_Destroy(inbox);
    snprintf(subj, sizeof subj, "%s.>", w->inbox);
    ns = natsConnection_SubscribeSync(&w->inbox_sub, sq_bus_nc(s->bus), subj);
    if (ns == NATS_OK)
        ns = natsSubscription_SetPendingLimits(w->inbox_sub, -1, -1);
    if (ns != NATS_OK) {
        sq_error("could not subscribe to the worker inbox: %s", natsStatus_GetText(ns));
        return SQ_ERR_UNAVAILABLE;
    }
    return SQ_OK;
}

void trg_worker_fini(trg_worker *w)
{
    natsSubscription_Destroy(w->inbox_sub);
    w->inbox_sub = NULL;
    msgpack_zone_destroy(&w->zone);
    msgpack_sbuffer_destroy(&w->sb);
}

static void buf_reset(trg_worker *w, msgpack_packer *pk)
{
    if (w->sb.alloc > SB_KEEP) {
        msgpack_sbuffer_destroy(&w->sb);
        msgpack_sbuffer_init(&w->sb);
    }
    w->sb.size = 0;
    msgpack_packer_init(pk, &w->sb, msgpack_sbuffer_write);
}

/* A failure to answer with: a status and a message (in the worker's arena or static). */
typedef struct fail {
    int code; /* HTTP status; 0: no failure */
    const char *message;
} fail;

static sq_status status_of_code(int code)
{
    switch (code) {
    case 400: return SQ_ERR_BAD_REQUEST;
    case 401: return SQ_ERR_UNAUTHORIZED;
    case 403: return SQ_ERR_FORBIDDEN;
    case 404: return SQ_ERR_NOT_FOUND;
    case 409: return SQ_ERR_CONFLICT;
    case 413: return SQ_ERR_TOO_LARGE;
    case 429: return SQ_ERR_TOO_MANY;
    case 502: return SQ_ERR_ACTION_FAILED;
    case 503: return SQ_ERR_UNAVAILABLE;
    default: return SQ_ERR_INTERNAL;
    }
}

static char *arena_printf(sq_arena_t *ar, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *arena_printf(sq_arena_t *ar, const char *fmt, ...)
{
    va_list ap;
    char tmp[1024];
    char *out;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n >= sizeof tmp)
        n = sizeof tmp - 1;
    if ((out = msgpack_zone_malloc(ar, (size_t)n + 1)) == NULL)
        return NULL;
    memcpy(out, tmp, (size_t)n + 1);
    return out;
}

/* ---- reading the trigger and its rules ---------------------------------------------------- */

/* Asks the registry; *o is the unpacked answer in the arena (the reply's bytes are copied
 * there). A wire error becomes *f (the registry's code and message). */
static bool registry_ask(trg_worker *w, const char *subject, msgpack_object *o, fail *f)
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
    buf_reset(w, &pk);
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
        f->message = arena_printf(&w->zone, "%.*s", (int)elen, emsg);
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
    r->invoke_ns = arena_printf(ar, "%.*s", (int)(slash - r->action_path), r->action_path);
    r->invoke_name = arena_printf(ar, "%s/%s", slash + 1, r->action_name);
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
static bool rules_from_list(trg_worker *w, trg_view *v, fail *f)
{
    size_t cap = 0;
    for (int64_t skip = 0;; skip += LIST_PAGE) {
        msgpack_packer pk;
        msgpack_object o;
        const msgpack_object *items;
        sq_reg_list q = { .ns = v->ns, .kind = SQ_KIND_RULE, .skip = skip, .limit = LIST_PAGE };

        buf_reset(w, &pk);
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
                fail f2 = { 0 };
                buf_reset(w, &pk);
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
            r->rule = arena_printf(&w->zone, "%s/%s", v->ns, rname);
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
static bool load_view(trg_worker *w, const char *ns, const char *name, trg_view *v, fail *f)
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
    buf_reset(w, &pk);
    sq_reg_ref_encode(&ref, &pk);
    if (!registry_ask(w, SQ_SUBJ_REG_RESOLVE, &o, f)) {
        if (f->code != 400)
            return false;
        memset(f, 0, sizeof *f);
        buf_reset(w, &pk);
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

/* ---- one fire ------------------------------------------------------------------------------ */

static bool key_in(const msgpack_object *map, const msgpack_object *key)
{
    if (map->type != MSGPACK_OBJECT_MAP || key->type != MSGPACK_OBJECT_STR)
        return false;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key->via.str.size &&
            memcmp(k->via.str.ptr, key->via.str.ptr, k->via.str.size) == 0)
            return true;
    }
    return false;
}

/* The trigger's parameters with the payload on top, as one map in the arena. */
static bool merge(sq_arena_t *ar, const msgpack_object *params, const msgpack_object *payload,
                  msgpack_object *out)
{
    uint32_t np = params->type == MSGPACK_OBJECT_ARRAY ? params->via.array.size : 0;
    uint32_t nt = payload->type == MSGPACK_OBJECT_MAP ? payload->via.map.size : 0, n = 0;
    msgpack_object_kv *kv = msgpack_zone_malloc(ar, sizeof *kv * ((size_t)np + nt + 1));

    if (kv == NULL)
        return false;
    for (uint32_t i = 0; i < np; i++) {
        const msgpack_object *e = &params->via.array.ptr[i];
        const msgpack_object *k = sq_mp_get(e, "key"), *val = sq_mp_get(e, "value");
        bool dup = false;
        if (k == NULL || k->type != MSGPACK_OBJECT_STR || key_in(payload, k))
            continue;
        for (uint32_t j = 0; j < n; j++)
            if (kv[j].key.via.str.size == k->via.str.size &&
                memcmp(kv[j].key.via.str.ptr, k->via.str.ptr, k->via.str.size) == 0)
                dup = true;
        if (dup)
            continue;
        kv[n].key = *k;
        if (val)
            kv[n].val = *val;
        else
            kv[n].val.type = MSGPACK_OBJECT_NIL;
        n++;
    }
    for (uint32_t i = 0; i < nt; i++)
        kv[n++] = payload->via.map.ptr[i];
    memset(out, 0, sizeof *out);
    out->type = MSGPACK_OBJECT_MAP;
    out->via.map.size = n;
    out->via.map.ptr = kv;
    return true;
}

/* The outcome of one rule's invoke. */
typedef struct outcome {
    bool answered;
    int code; /* 0: queued; else the HTTP status of the refusal */
    const char *message;
    char id[33];
} outcome;

/* Sends every rule's invoke at once, then collects the scheduler's answers on the inbox. */
static void fan_out(trg_worker *w, const sq_fire *f, const trg_view *v,
                    const msgpack_object *params, const char *caller_ns, outcome *out)
{
    natsConnection *nc = sq_bus_nc(w->s->bus);
    msgpack_packer pk;
    char reply[192];
    size_t pending = 0;
    int64_t deadline;
    uint64_t seq = ++w->seq;

    for (size_t i = 0; i < v->nrules; i++) {
        const trg_rule *r = &v->rules[i];
        sq_invoke inv = { .ns = r->invoke_ns,
                          .name = r->invoke_name,
                          .subject = f->subject,
                          .key = f->key ? f->key : "",
                          .params = *params,
                          .blocking = false,
                          .wait_ms = 0,
                          .shared = strcmp(r->invoke_ns, v->ns) != 0,
                          .caller_ns = (char *)caller_ns,
                          .cause = f->id };
        natsStatus s;

        memset(&out[i], 0, sizeof out[i]);
        sq_id_new(out[i].id);
        inv.id = out[i].id;
        buf_reset(w, &pk);
        sq_invoke_encode(&inv, &pk);
        snprintf(reply, sizeof reply, "%s.%llu.%zu", w->inbox, (unsigned long long)seq, i);
        s = natsConnection_PublishRequest(nc, SQ_SUBJ_SCHED_INVOKE, reply, w->sb.data,
                                          (int)w->sb.size);
        if (s != NATS_OK) {
            out[i].answered = true;
            out[i].code = s == NATS_MAX_PAYLOAD ? 413 : 503;
            out[i].message = s == NATS_MAX_PAYLOAD ? "the payload is too large to invoke the action"
                                                   : "could not reach the scheduler";
            continue;
        }
        pending++;
    }
    deadline = sq_mono_us() / 1000 + trg_cfg.invoke_timeout_ms;
    while (pending > 0) {
        int64_t left = deadline - sq_mono_us() / 1000;
        natsMsg *m = NULL;
        const char *subj;
        unsigned long long got_seq;
        size_t idx;
        msgpack_object o;
        const char *emsg;
        size_t elen;
        int code;

        if (left <= 0 || natsSubscription_NextMsg(&m, w->inbox_sub, left) != NATS_OK)
            break;
        subj = natsMsg_GetSubject(m) + strlen(w->inbox);
        if (sscanf(subj, ".%llu.%zu", &got_seq, &idx) != 2 || got_seq != seq || idx >= v->nrules ||
            out[idx].answered) {
            natsMsg_Destroy(m); /* a late answer to an earlier fire */
            continue;
        }
        out[idx].answered = true;
        pending--;
        if (natsMsg_GetDataLength(m) == 0) {
            /* a no-responders status */
            out[idx].code = 503;
            out[idx].message = "the scheduler is not available";
        } else {
            char *copy = msgpack_zone_malloc(&w->zone, (size_t)natsMsg_GetDataLength(m));
            if (copy)
                memcpy(copy, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
            if (copy == NULL ||
                sq_mp_unpack(copy, (size_t)natsMsg_GetDataLength(m), &w->zone, &o) != SQ_OK) {
                out[idx].code = 502;
                out[idx].message = "the scheduler gave a malformed answer";
            } else if (sq_wire_error_get(&o, &code, &emsg, &elen)) {
                out[idx].code = code;
                out[idx].message = arena_printf(&w->zone, "%.*s", (int)elen, emsg);
            }
        }
        natsMsg_Destroy(m);
    }
    for (size_t i = 0; i < v->nrules; i++)
        if (!out[i].answered) {
            out[i].code = 503;
            out[i].message = "the scheduler did not answer in time";
        }
}

/* OpenWhisk's statusCode of a rule's outcome: 0 queued, 1 refused for a reason of the
 * user's (4xx: the action is missing, a limit...), 3 the platform's. */
static int rule_status(const outcome *o)
{
    return o->code == 0 ? SQ_ACT_SUCCESS : o->code < 500 ? SQ_ACT_APP_ERROR : SQ_ACT_INTERNAL;
}

/* The log line of one rule, as OpenWhisk writes it (malloc'd). */
static char *log_line(const trg_rule *r, const outcome *o)
{
    char action[600];
    json_t *j;
    char *txt;

    snprintf(action, sizeof action, "%s/%s", r->action_path, r->action_name);
    if (o->code == 0)
        j = json_pack("{s:i,s:b,s:s,s:s,s:s}", "statusCode", 0, "success", 1, "activationId", o->id,
                      "rule", r->rule, "action", action);
    else
        j = json_pack("{s:i,s:b,s:s,s:s,s:s}", "statusCode", rule_status(o), "success", 0, "rule",
                      r->rule, "action", action, "error",
                      o->message ? o->message : "unknown error");
    if (j == NULL)
        return NULL;
    txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return txt;
}

/* Publishes the record (in w->sb) on SQ_ACTIVATIONS, de-duplicated by its id:
 * asynchronously (trg_on_record_error resends what JetStream refused or did not ack in
 * time); synchronously with retries, as the invoker does, when too many are in flight. */
static void publish_record(trg_worker *w, const char *ns, const char *id)
{
    char tok[300], subj[320];
    natsStatus s = NATS_ERR;
    natsMsg *m = NULL;
    jsPubOptions po;

    if (sq_subj_token(ns, tok, sizeof tok) != 0)
        return;
    snprintf(subj, sizeof subj, SQ_SUBJ_ACT_FMT, tok);
    jsPubOptions_Init(&po);
    po.MaxWait = 5000;
    s = natsMsg_Create(&m, subj, NULL, w->sb.data, (int)w->sb.size);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (s == NATS_OK)
        s = js_PublishMsgAsync(w->s->js, &m, &po);
    natsMsg_Destroy(m); /* no-op when the library took it */
    if (s == NATS_OK)
        return;
    for (int attempt = 0; attempt < 50; attempt++) {
        jsErrCode jerr = 0;
        jsPubAck *ack = NULL;
        m = NULL;
        s = natsMsg_Create(&m, subj, NULL, w->sb.data, (int)w->sb.size);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        if (s == NATS_OK)
            s = js_PublishMsg(&ack, w->s->js, m, &po, &jerr);
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(m);
        if (s == NATS_OK)
            return;
        usleep(100 * 1000 * (attempt < 10 ? 1 : 5));
    }
    sq_error("could not store trigger activation \"%s\": %s", id, natsStatus_GetText(s));
}

void trg_on_record_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    jsPubOptions po;
    const char *id = NULL;
    natsStatus s;

    natsMsgHeader_Get(pae->Msg, "Nats-Msg-Id", &id);
    if (pae->ErrCode != 0 && pae->Err != NATS_TIMEOUT) {
        /* refused for good (no stream, message too large...): resending cannot help */
        sq_error("could not store trigger activation \"%s\": %s (%d)", id ? id : "?",
                 pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err), (int)pae->ErrCode);
        return;
    }
    sq_warn("resending trigger activation \"%s\": %s", id ? id : "?", natsStatus_GetText(pae->Err));
    jsPubOptions_Init(&po);
    po.MaxWait = 5000;
    s = js_PublishMsgAsync(js, &pae->Msg, &po); /* de-duplicated by Nats-Msg-Id */
    if (s != NATS_OK)
        sq_error("could not store trigger activation \"%s\": %s", id ? id : "?",
                 natsStatus_GetText(s));
}

static void publish_event(trg_worker *w, const sq_fire *f, const trg_view *v,
                          const msgpack_object *payload, const outcome *out, bool recorded)
{
    char nstok[300], ntok[600], subj[960];
    msgpack_packer pk;
    sq_trigger_event ev = {
        .ns = v->ns, .name = v->name, .id = recorded ? f->id : NULL, .at = sq_now_ms()
    };
    sq_rule_outcome *ro = NULL;
    char *actions = NULL;
    size_t need = 0, off = 0;

    if (sq_subj_token(v->ns, nstok, sizeof nstok) != 0 ||
        sq_subj_token(v->name, ntok, sizeof ntok) != 0)
        return;
    snprintf(subj, sizeof subj, SQ_SUBJ_EVT_TRIGGER_FMT, nstok, ntok);
    if (payload != NULL)
        ev.payload = *payload; /* else nil (zeroed) */
    for (size_t i = 0; i < v->nrules; i++)
        need += strlen(v->rules[i].action_path) + strlen(v->rules[i].action_name) + 2;
    if (v->nrules > 0 &&
        ((ro = calloc(v->nrules, sizeof *ro)) == NULL || (actions = malloc(need)) == NULL)) {
        free(ro);
        return;
    }
    for (size_t i = 0; i < v->nrules; i++) {
        ro[i].rule = v->rules[i].rule;
        ro[i].action = actions + off;
        off += (size_t)sprintf(ro[i].action, "%s/%s", v->rules[i].action_path,
                               v->rules[i].action_name) +
               1;
        ro[i].id = out[i].code == 0 ? (char *)out[i].id : NULL;
        ro[i].status_code = rule_status(&out[i]);
        ro[i].success = out[i].code == 0;
        if (out[i].code != 0)
            ro[i].error = (char *)(out[i].message ? out[i].message : "unknown error");
    }
    ev.rules = ro;
    ev.nrules = v->nrules;
    buf_reset(w, &pk);
    sq_trigger_event_encode(&ev, &pk);
    free(actions);
    free(ro);
    sq_bus_publish(w->s->bus, subj, w->sb.data, w->sb.size);
}

/* How deep o nests (a scalar is 0), stopping at limit. */
static int depth(const msgpack_object *o, int limit)
{
    int d = 0;
    if (limit <= 0)
        return 1;
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size && d < limit; i++) {
            int k = depth(&o->via.map.ptr[i].val, limit - 1);
            if (k > d)
                d = k;
        }
        return d + 1;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size && d < limit; i++) {
            int k = depth(&o->via.array.ptr[i], limit - 1);
            if (k > d)
                d = k;
        }
        return d + 1;
    }
    return 0;
}

/* The payload is carried as a record's result, two levels down (record, response): it may
 * nest at most this deep or no decoder downstream could read the record. */
#define PAYLOAD_MAX_DEPTH (SQ_MP_MAX_DEPTH - 2)

int trg_fire(trg_worker *w, natsMsg *msg, const sq_fire *f)
{
    sq_bus_t *bus = w->s->bus;
    trg_view v;
    fail fl = { 0 };
    msgpack_object params;
    msgpack_packer pk;
    outcome *out = NULL;
    char **logs = NULL;
    int64_t count, allowed;
    int64_t fired_at = sq_now_ms();
    sq_status st;

    if (!sq_id_valid(f->id) || f->ns[0] == '\0' || !sq_name_valid(f->name)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST, "%s",
                             !sq_id_valid(f->id) ? "activation id is not 32 hex characters"
                                                 : "empty namespace or invalid trigger name");
        return 400;
    }
    if (depth(&f->payload, PAYLOAD_MAX_DEPTH + 1) > PAYLOAD_MAX_DEPTH) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The payload nests deeper than %d levels.", PAYLOAD_MAX_DEPTH);
        return 400;
    }
    if (!load_view(w, f->ns, f->name, &v, &fl)) {
        sq_bus_respond_error(bus, msg, status_of_code(fl.code), "%s",
                             fl.message ? fl.message : "error");
        return fl.code ? fl.code : 500;
    }
    if ((st = trg_rate_admit(bus, f->ns, &count, &allowed)) == SQ_ERR_FORBIDDEN ||
        st == SQ_ERR_NOT_FOUND) {
        /* a blocked subject's triggers do not fire (alarms and feeds included: their fires
         * are dropped until it is unblocked); a deleted namespace's never again */
        sq_bus_respond_error(bus, msg, st, "%s",
                             st == SQ_ERR_FORBIDDEN ? "The namespace's subject is blocked."
                                                    : "The namespace does not exist.");
        return st == SQ_ERR_FORBIDDEN ? 403 : 404;
    }
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_TOO_MANY,
                             "Too many requests in the last minute (count: %lld, allowed: %lld).",
                             (long long)count, (long long)allowed);
        return 429;
    }
    if (!merge(&w->zone, &v.parameters, &f->payload, &params)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_NOMEM, NULL);
        return 500;
    }
    out = msgpack_zone_malloc(&w->zone, sizeof *out * (v.nrules ? v.nrules : 1));
    if (out == NULL) {
        sq_bus_respond_error(bus, msg, SQ_ERR_NOMEM, NULL);
        return 500;
    }
    /* The answer first, as OpenWhisk's controller does: the fire is accepted once its
     * trigger, rules and rate are settled; the rules run, and the record is written, after. */
    buf_reset(w, &pk);
    {
        sq_act_ref ref = { .id = f->id, .rules = v.nrules == 0 ? 0 : -1 };
        sq_act_ref_encode(&ref, &pk);
    }
    sq_bus_respond(bus, msg, w->sb.data, w->sb.size);
    if (v.nrules > 0)
        fan_out(w, f, &v, &params, v.ns, out); /* the rules' owner invokes (and is recorded) */

    if (v.nrules > 0) {
        /* the trigger activation; as OpenWhisk, none when no rule is active. Its result is
         * the fired payload as given ({} for none): the trigger's parameters are merged
         * only into what the rules' actions get */
        sq_activation a = { .id = f->id,
                            .namespace_ = v.ns,
                            .name = v.name,
                            .version = v.version,
                            .subject = f->subject,
                            .status = SQ_ACT_SUCCESS,
                            .result = f->payload,
                            .publish = false };
        if (f->payload.type != MSGPACK_OBJECT_MAP) {
            memset(&a.result, 0, sizeof a.result);
            a.result.type = MSGPACK_OBJECT_MAP;
        }
        size_t k = 0;
        a.start = fired_at; /* the record spans the fire until every rule was handed over */
        a.end = sq_now_ms();
        a.duration = a.end - a.start;
        a.annotations.type = MSGPACK_OBJECT_NIL;
        logs = calloc(v.nrules + 1, sizeof *logs);
        for (size_t i = 0; logs && i < v.nrules; i++)
            if ((logs[k] = log_line(&v.rules[i], &out[i])) != NULL)
                k++;
        a.logs = logs;
        a.nlogs = logs ? k : 0;
        buf_reset(w, &pk);
        sq_activation_encode(&a, &pk);
        publish_record(w, v.ns, f->id);
        for (size_t i = 0; logs && i < k; i++)
            free(logs[i]);
        free(logs);
    }
    publish_event(w, f, &v, &params, out, v.nrules > 0);
    sq_debug("fired trigger \"%s/%s\" (%zu rule(s)), activation \"%s\"", v.ns, v.name, v.nrules,
             f->id);
    return 0;
}

void trg_on_fire(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    trg_worker *w = closure;
    sq_fire f;
    char err[256] = "";
    sq_status st;

    msgpack_zone_clear(&w->zone);
    if ((size_t)natsMsg_GetDataLength(msg) > (size_t)trg_cfg.max_payload_kb * 1024 + 65536) {
        sq_bus_respond_error(bus, msg, SQ_ERR_TOO_LARGE, NULL);
        return;
    }
    st = sq_fire_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &w->zone, &f, err,
                        sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, st, "%s", err[0] ? err : sq_status_str(st));
        return;
    }
    trg_fire(w, msg, &f);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Undoes sq_subj_token(): %XX back to the byte. NULL when malformed or when it decodes to
 * a NUL. */
static char *untoken(sq_arena_t *ar, const char *s, size_t n)
{
    char *out = msgpack_zone_malloc(ar, n + 1);
    size_t o = 0;
    if (out == NULL || n == 0)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0 ||
                (hi | lo) == 0)
                return NULL;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else
            out[o++] = s[i];
    }
    out[o] = '\0';
    return out;
}

bool trg_payload_parse(sq_arena_t *ar, const char *data, size_t len, msgpack_object *o, char *err,
                       size_t errlen)
{
    if (len == 0) {
        o->type = MSGPACK_OBJECT_NIL;
        return true;
    }
    if ((unsigned char)data[0] >= 0x80 &&
        ((unsigned char)data[0] <= 0x8f || (unsigned char)data[0] == 0xde ||
         (unsigned char)data[0] == 0xdf)) {
        /* a msgpack map (JSON text never starts with these bytes) */
        char *copy = msgpack_zone_malloc(ar, len);
        if (copy == NULL || (memcpy(copy, data, len), sq_mp_unpack(copy, len, ar, o)) != SQ_OK) {
            snprintf(err, errlen, "the payload is not a well-formed msgpack map");
            return false;
        }
    } else {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        char jerr[200] = "";
        char *copy;
        sq_proto_buf_init(&sb, &pk);
        if (sq_json_text_to_mp(data, len, &pk, jerr, sizeof jerr) != SQ_OK) {
            msgpack_sbuffer_destroy(&sb);
            snprintf(err, errlen, "the payload is neither a msgpack map nor JSON: %s", jerr);
            return false;
        }
        copy = msgpack_zone_malloc(ar, sb.size);
        if (copy == NULL ||
            (memcpy(copy, sb.data, sb.size), sq_mp_unpack(copy, sb.size, ar, o)) != SQ_OK) {
            msgpack_sbuffer_destroy(&sb);
            snprintf(err, errlen, "out of memory");
            return false;
        }
        msgpack_sbuffer_destroy(&sb);
    }
    if (o->type != MSGPACK_OBJECT_MAP && o->type != MSGPACK_OBJECT_NIL) {
        snprintf(err, errlen, "the payload must be a JSON object or a msgpack map");
        return false;
    }
    for (uint32_t i = 0; o->type == MSGPACK_OBJECT_MAP && i < o->via.map.size; i++)
        if (o->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR) {
            snprintf(err, errlen, "the payload's keys must be strings");
            return false;
        }
    return true;
}

void trg_on_nats_fire(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    trg_worker *w = closure;
    const char *subj = natsMsg_GetSubject(msg), *p, *dot;
    const char *data = natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    char id[33];
    sq_fire f = { .subject = "nats", .key = "" };
    msgpack_object o;
    char err[300];

    msgpack_zone_clear(&w->zone);
    /* sq.fire.<ns>.<trigger> */
    p = subj + strlen("sq.fire.");
    dot = strchr(p, '.');
    if (strncmp(subj, "sq.fire.", 8) != 0 || dot == NULL || strchr(dot + 1, '.') != NULL ||
        (f.ns = untoken(&w->zone, p, (size_t)(dot - p))) == NULL ||
        (f.name = untoken(&w->zone, dot + 1, strlen(dot + 1))) == NULL) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "the subject must be sq.fire.<namespace>.<trigger>");
        return;
    }
    if (len > (size_t)trg_cfg.max_payload_kb * 1024) {
        sq_bus_respond_error(bus, msg, SQ_ERR_TOO_LARGE, "The payload is larger than %d KB.",
                             trg_cfg.max_payload_kb);
        return;
    }
    if (!trg_payload_parse(&w->zone, data, len, &o, err, sizeof err)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST, "%s", err);
        return;
    }
    f.payload = o;
    sq_id_new(id);
    f.id = id;
    f.caller_ns = f.ns;
    trg_fire(w, msg, &f);
}
