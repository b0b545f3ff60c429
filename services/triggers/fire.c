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
#include "sq/kv.h"
#include "sq/log.h"
#include "sq/util.h"
#include "triggers.h"

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

/* ---- one fire ------------------------------------------------------------------------------ */

/* The trigger's parameters with the payload on top, as one map in the arena. */
static bool merge(sq_arena_t *ar, const msgpack_object *params, const msgpack_object *payload,
                  msgpack_object *out)
{
    const msgpack_object *layers[] = { params, payload };
    return sq_kv_merge(layers, 2, SQ_KV_MAP, ar, out) == SQ_OK;
}

/* The outcome of one rule's invoke. */
typedef struct outcome {
    bool answered;
    int code; /* 0: queued; else the HTTP status of the refusal */
    const char *message;
    char id[33];
} outcome;

/* Every rule answered in out with code and message. */
static void answer_all(const trg_view *v, outcome *out, int code, const char *message)
{
    for (size_t i = 0; i < v->nrules; i++)
        if (!out[i].answered) {
            out[i].answered = true;
            out[i].code = code;
            out[i].message = message;
        }
}

/* Sends every rule's invoke in one request (sq_invoke_batch), its answer on w's inbox
 * (<inbox>.<seq>); false when it could not be sent (every rule is answered in out then). */
static bool send_batch(trg_worker *w, const sq_fire *f, const trg_view *v,
                       const msgpack_object *params, const char *caller_ns, uint64_t seq,
                       outcome *out)
{
    sq_batch_rule *rules = msgpack_zone_malloc(&w->zone, v->nrules * sizeof *rules);
    sq_invoke_batch b = { .subject = f->subject,
                          .key = f->key ? f->key : "",
                          .params = *params,
                          .caller_ns = (char *)caller_ns,
                          .cause = f->id,
                          .rules = rules,
                          .nrules = v->nrules };
    msgpack_packer pk;
    natsMsg *m = NULL;
    natsStatus s;
    char reply[192];

    if (rules == NULL) {
        answer_all(v, out, 500, "out of memory");
        return false;
    }
    for (size_t i = 0; i < v->nrules; i++) {
        const trg_rule *r = &v->rules[i];
        memset(&out[i], 0, sizeof out[i]);
        sq_id_new(out[i].id);
        rules[i] = (sq_batch_rule){ .id = out[i].id,
                                    .ns = r->invoke_ns,
                                    .name = r->invoke_name,
                                    .shared = strcmp(r->invoke_ns, v->ns) != 0 };
    }
    trg_worker_buf_reset(w, &pk);
    sq_invoke_batch_encode(&b, &pk);
    snprintf(reply, sizeof reply, "%s.%llu", w->inbox, (unsigned long long)seq);
    s = natsMsg_Create(&m, SQ_SUBJ_SCHED_INVOKE, NULL, w->sb.data, (int)w->sb.size);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, SQ_HDR_REPLY, reply);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, SQ_HDR_BATCH, "1");
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(sq_bus_nc(w->s->bus), m);
    natsMsg_Destroy(m);
    if (s != NATS_OK)
        answer_all(v, out, s == NATS_MAX_PAYLOAD ? 413 : 503,
                   s == NATS_MAX_PAYLOAD ? "the payload is too large to invoke the action"
                                         : "could not reach the scheduler");
    return s == NATS_OK;
}

/* The scheduler's answer m to the batch, into out: each rule queued or its refusal. */
static void read_answer(trg_worker *w, natsMsg *m, const trg_view *v, outcome *out)
{
    size_t len = (size_t)natsMsg_GetDataLength(m), elen;
    msgpack_object ans;
    sq_invoke_outcomes oc;
    const char *emsg;
    char *copy;
    int code;

    if (len == 0) {
        /* a no-responders status */
        answer_all(v, out, 503, "the scheduler is not available");
        return;
    }
    copy = msgpack_zone_malloc(&w->zone, len);
    if (copy)
        memcpy(copy, natsMsg_GetData(m), len);
    if (copy == NULL || sq_mp_unpack(copy, len, &w->zone, &ans) != SQ_OK) {
        answer_all(v, out, 502, "the scheduler gave a malformed answer");
        return;
    }
    if (sq_wire_error_get(&ans, &code, &emsg, &elen)) {
        answer_all(v, out, code, trg_arena_printf(&w->zone, "%.*s", (int)elen, emsg));
        return;
    }
    if (sq_invoke_outcomes_from(&ans, &w->zone, &oc, NULL, 0) == SQ_OK)
        for (size_t i = 0; i < v->nrules && i < oc.nrules; i++) {
            out[i].answered = true;
            out[i].code = (int)oc.rules[i].code;
            out[i].message = oc.rules[i].error;
        }
    answer_all(v, out, 502, "the scheduler gave a malformed answer");
}

/* Sends every rule's invoke in one request, then waits for the scheduler's one answer on
 * the inbox. */
static void fan_out(trg_worker *w, const sq_fire *f, const trg_view *v,
                    const msgpack_object *params, const char *caller_ns, outcome *out)
{
    uint64_t seq = ++w->seq;
    int64_t deadline = sq_mono_us() / 1000 + trg_cfg.invoke_timeout_ms;
    size_t plen = strlen(w->inbox);

    if (!send_batch(w, f, v, params, caller_ns, seq, out))
        return;
    for (;;) {
        int64_t left = deadline - sq_mono_us() / 1000;
        natsMsg *m = NULL;
        const char *subj;
        char *end;

        if (left <= 0 || natsSubscription_NextMsg(&m, w->inbox_sub, left) != NATS_OK)
            break;
        subj = natsMsg_GetSubject(m) + plen;
        /* "<inbox>.<seq>": anything else is a late answer to an earlier fire */
        if (subj[0] == '.' && strtoull(subj + 1, &end, 10) == seq && end != subj + 1 &&
            *end == '\0') {
            read_answer(w, m, v, out);
            natsMsg_Destroy(m);
            return;
        }
        natsMsg_Destroy(m);
    }
    answer_all(v, out, 503, "the scheduler did not answer in time");
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
 * asynchronously (trg_on_record_error hands what JetStream refused or did not ack in time to
 * records.c's retry thread); synchronously with retries, as the invoker does, when too many
 * are in flight. */
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
    trg_record_publish_sync(w->s->js, subj, id, w->sb.data, (int)w->sb.size);
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
    trg_worker_buf_reset(w, &pk);
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

/* Refuses a fire that cannot be valid (answering msg): its status, or 0. */
static int check_fire(sq_bus_t *bus, natsMsg *msg, const sq_fire *f)
{
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
    return 0;
}

/* Counts the fire against ns's fires per minute (answering msg when refused): the status of
 * the refusal, or 0. */
static int admit_fire(sq_bus_t *bus, natsMsg *msg, const char *ns)
{
    int64_t count, allowed;
    sq_status st = trg_rate_admit(bus, ns, &count, &allowed);

    if (st == SQ_ERR_FORBIDDEN || st == SQ_ERR_NOT_FOUND) {
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
    return 0;
}

/* The answer to the caller: {activationId} ({activationId, rules: 0} when no rule is
 * active). */
static void answer_fire(trg_worker *w, natsMsg *msg, const sq_fire *f, size_t nrules)
{
    msgpack_packer pk;

    sq_act_ref ref = { .id = f->id, .rules = nrules == 0 ? 0 : -1 };

    trg_worker_buf_reset(w, &pk);
    sq_act_ref_encode(&ref, &pk);
    sq_bus_respond(w->s->bus, msg, w->sb.data, w->sb.size);
}

/* The trigger activation; as OpenWhisk, none when no rule is active. Its result is the
 * fired payload as given ({} for none): the trigger's parameters are merged only into what
 * the rules' actions get. */
static void record_fire(trg_worker *w, const sq_fire *f, const trg_view *v, const outcome *out,
                        int64_t fired_at)
{
    msgpack_packer pk;
    char **logs = NULL;
    sq_activation a = { .id = f->id,
                        .namespace_ = v->ns,
                        .name = v->name,
                        .version = v->version,
                        .subject = f->subject,
                        .status = SQ_ACT_SUCCESS,
                        .result = f->payload,
                        .publish = false };
    size_t k = 0;

    if (f->payload.type != MSGPACK_OBJECT_MAP) {
        memset(&a.result, 0, sizeof a.result);
        a.result.type = MSGPACK_OBJECT_MAP;
    }
    a.start = fired_at; /* the record spans the fire until every rule was handed over */
    a.end = sq_now_ms();
    a.duration = a.end - a.start;
    a.annotations.type = MSGPACK_OBJECT_NIL;
    logs = calloc(v->nrules + 1, sizeof *logs);
    for (size_t i = 0; logs && i < v->nrules; i++)
        if ((logs[k] = log_line(&v->rules[i], &out[i])) != NULL)
            k++;
    a.logs = logs;
    a.nlogs = logs ? k : 0;
    trg_worker_buf_reset(w, &pk);
    sq_activation_encode(&a, &pk);
    publish_record(w, v->ns, f->id);
    for (size_t i = 0; logs && i < k; i++)
        free(logs[i]);
    free(logs);
}

int trg_fire(trg_worker *w, natsMsg *msg, const sq_fire *f)
{
    sq_bus_t *bus = w->s->bus;
    trg_view v;
    trg_fail fl = { 0 };
    msgpack_object params;
    outcome *out = NULL;
    int64_t fired_at = sq_now_ms();
    int code;

    if ((code = check_fire(bus, msg, f)) != 0)
        return code;
    if (!trg_view_load(w, f->ns, f->name, &v, &fl)) {
        sq_bus_respond_error(bus, msg, status_of_code(fl.code), "%s",
                             fl.message ? fl.message : "error");
        return fl.code ? fl.code : 500;
    }
    if ((code = admit_fire(bus, msg, f->ns)) != 0)
        return code;
    if (!merge(&w->zone, &v.parameters, &f->payload, &params) ||
        (out = msgpack_zone_malloc(&w->zone, sizeof *out * (v.nrules ? v.nrules : 1))) == NULL) {
        sq_bus_respond_error(bus, msg, SQ_ERR_NOMEM, NULL);
        return 500;
    }
    /* The answer first, as OpenWhisk's controller does: the fire is accepted once its
     * trigger, rules and rate are settled; the rules run, and the record is written, after. */
    answer_fire(w, msg, f, v.nrules);
    if (v.nrules > 0) {
        fan_out(w, f, &v, &params, v.ns, out); /* the rules' owner invokes (and is recorded) */
        record_fire(w, f, &v, out, fired_at);
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
