/* The WebSocket API's protocol: the requests a client sends (one JSON object a text frame,
 * parsed and answered on the lws service thread), the NATS requests they become (auth
 * verify, invoke, fire) and the replies of those, which arrive on the socket's gateway's
 * inbox (a nats.c thread) and are queued to the socket as {"id", "ok", ...}. A request in
 * flight is a ws_pend in W.pend, found by the number at the end of its reply subject; the
 * sweeper answers it 504/503 when its deadline passes. */
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"
#include "ws_int.h"

/* ---- replies ------------------------------------------------------------------------- */

/* Queues {"id": cid, <mid>, <body>: the reply to request cid (its id's JSON text, which may
 * be long: a reply echoes it whole). */
void ws_reply_locked(ws_conn *c, const char *cid, const char *mid, const char *body, size_t blen)
{
    size_t cl = cid ? strlen(cid) : 4, ml = strlen(mid);
    char *head = malloc(cl + ml + blen + 8);
    if (head == NULL)
        return;
    memcpy(head, "{\"id\":", 6);
    memcpy(head + 6, cid ? cid : "null", cl);
    memcpy(head + 6 + cl, mid, ml);
    if (blen)
        memcpy(head + 6 + cl + ml, body, blen);
    ws_enqueue_locked(c, head, 6 + cl + ml + blen, NULL, false);
    free(head);
}

/* Queues {"id": cid, "ok": true, <fields of obj>} (obj: a JSON object or NULL; stolen). */
static void reply_ok_locked(ws_conn *c, const char *cid, json_t *obj)
{
    char *txt = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (txt && strcmp(txt, "{}") != 0) {
        txt[0] = ','; /* {"a":1} -> ,"a":1} */
        ws_reply_locked(c, cid, ",\"ok\":true", txt, strlen(txt));
    } else
        ws_reply_locked(c, cid, ",\"ok\":true", "}", 1);
    free(txt);
}

void ws_reply_err_locked(ws_conn *c, const char *cid, int code, const char *fmt, ...)
{
    va_list ap;
    char *txt, *body;
    size_t tl;

    va_start(ap, fmt);
    txt = gw_error_vjson(json_integer(code), fmt, ap); /* REST's builder, the status as code */
    va_end(ap);
    if (txt == NULL)
        return;
    tl = strlen(txt);
    if ((body = realloc(txt, tl + 2)) != NULL) {
        txt = body;
        txt[tl] = '}'; /* the reply's own */
        ws_reply_locked(c, cid, ",\"ok\":false,\"error\":", txt, tl + 1);
    }
    free(txt);
}

/* ---- requests on the bus ----------------------------------------------------------------- */

static void pend_add_locked(ws_pend *p)
{
    p->id = ++W.next_req;
    p->next = W.pend[p->id % WS_BUCKETS];
    W.pend[p->id % WS_BUCKETS] = p;
}

static ws_pend *pend_take_locked(uint64_t id)
{
    for (ws_pend **pp = &W.pend[id % WS_BUCKETS]; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            ws_pend *p = *pp;
            *pp = p->next;
            return p;
        }
    return NULL;
}

void ws_pend_free(ws_pend *p)
{
    if (p) {
        free(p->cid);
        free(p);
    }
}

/* Sends sb on subject with a reply to p (which the table takes). W.lock held. On failure
 * p is answered 503 and freed. */
static void send_locked(ws_conn *c, ws_pend *p, const char *subject, const msgpack_sbuffer *sb,
                        int timeout_ms)
{
    char reply[160];
    natsStatus s;

    p->deadline_us = sq_mono_us() + (int64_t)timeout_ms * 1000;
    pend_add_locked(p);
    snprintf(reply, sizeof reply, "%s.%llu", W.inbox, (unsigned long long)p->id);
    if (strcmp(subject, SQ_SUBJ_SCHED_INVOKE) == 0) /* answered later, by another service */
        s = sq_bus_publish_hdr_reply(sq_bus_nc(G.bus), subject, reply, sb->data, sb->size);
    else
        s = natsConnection_PublishRequest(sq_bus_nc(G.bus), subject, reply, sb->data,
                                          (int)sb->size);
    if (s != NATS_OK) {
        pend_take_locked(p->id);
        if (p->cid)
            ws_reply_err_locked(c, p->cid, 503, "The platform is not reachable: %s",
                                natsStatus_GetText(s));
        if (p->kind == P_INVOKE || p->kind == P_FIRE)
            c->inflight--;
        if (p->kind == P_AUTH) {
            c->auth = A_FAILED;
            ws_close_locked(c, 1011, "the platform is not reachable", false);
        }
        ws_pend_free(p);
    }
}

void ws_verify_locked(ws_conn *c, ws_pkind kind, const char *cid)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ws_pend *p = calloc(1, sizeof *p);

    if (p == NULL)
        return;
    p->conn = c->id;
    p->kind = kind;
    p->cid = cid ? strdup(cid) : NULL;
    sq_proto_buf_init(&sb, &pk);
    sq_auth_verify_encode(&(sq_auth_verify){ .key = c->key }, &pk);
    send_locked(c, p, SQ_SUBJ_AUTH_VERIFY, &sb, G.cfg.op_timeout_ms);
    sodium_memzero(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

void ws_ident_free_locked(ws_conn *c)
{
    free(c->subject);
    c->subject = NULL;
    for (size_t i = 0; i < c->nns; i++)
        free(c->nss[i]);
    free(c->nss);
    c->nss = NULL;
    c->nns = 0;
}

static bool ident_set_locked(ws_conn *c, const sq_identity *id)
{
    size_t n = 1;
    ws_ident_free_locked(c);
    c->nss = calloc(id->nnamespaces + 1, sizeof *c->nss);
    c->subject = strdup(id->subject ? id->subject : "");
    if (c->nss == NULL || c->subject == NULL)
        return false;
    c->nss[0] = strdup(id->namespace_);
    for (size_t i = 0; i < id->nnamespaces; i++)
        if (strcmp(id->namespaces[i], id->namespace_) != 0)
            c->nss[n++] = strdup(id->namespaces[i]);
    c->nns = n;
    for (size_t i = 0; i < n; i++)
        if (c->nss[i] == NULL)
            return false;
    return true;
}

static bool owns_locked(const ws_conn *c, const char *ns)
{
    for (size_t i = 0; i < c->nns; i++)
        if (strcmp(c->nss[i], ns) == 0)
            return true;
    return false;
}

static json_t *namespaces_json_locked(const ws_conn *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->nns; i++)
        json_array_append_new(a, json_string(c->nss[i]));
    return json_pack("{s:o}", "namespaces", a);
}

/* Queues {"id": cid, "ok": true, <fields of the JSON object txt>} (txt: an object's text). */
static void reply_ok_text_locked(ws_conn *c, const char *cid, char *txt, size_t len)
{
    if (len > 2) {
        txt[0] = ','; /* {"a":1} -> ,"a":1} */
        ws_reply_locked(c, cid, ",\"ok\":true", txt, len);
    } else
        ws_reply_locked(c, cid, ",\"ok\":true", "}", 1);
}

/* The verdict on a socket's key (a first auth, or a recheck after an auth event). */
static void reply_auth_locked(ws_conn *c, const ws_pend *p, const msgpack_object *o,
                              msgpack_zone *z, int code, const char *emsg, size_t elen)
{
    sq_identity id;
    if (code == 0 && sq_identity_from(o, z, &id, NULL, 0) == SQ_OK && id.namespace_ != NULL) {
        if (p->kind != P_AUTH)
            return;
        if (!ident_set_locked(c, &id)) {
            c->auth = A_FAILED;
            ws_close_locked(c, 1011, "out of memory", false);
            return;
        }
        c->auth = A_OK;
        if (p->cid)
            reply_ok_locked(c, p->cid, namespaces_json_locked(c));
        else
            ws_wake_locked(c); /* held frames may now be handled */
    } else if (code == 0 || (code >= 400 && code < 500)) {
        /* the key does not verify (any more): rotated, blocked, deleted */
        if (p->kind == P_AUTH && p->cid)
            ws_reply_err_locked(c, p->cid, 401, "The supplied authentication is invalid");
        c->auth = A_FAILED;
        sodium_memzero(c->key, sizeof c->key);
        ws_close_locked(c, CLOSE_UNAUTH, "authentication failed", false);
    } else if (p->kind == P_AUTH) {
        /* the auth service is unwell: the socket cannot be trusted, nor refused for good */
        if (p->cid)
            ws_reply_err_locked(c, p->cid, 503, "%.*s", (int)elen, emsg);
        c->auth = A_FAILED;
        ws_close_locked(c, 1011, "the authentication service is not available", false);
    }
    ws_index_update_locked(c);
}

/* An invoke's answer: the record (or its result) when blocking, else the activation id. */
static void reply_invoke_locked(ws_conn *c, const ws_pend *p, const msgpack_object *o)
{
    msgpack_zone z;
    sq_activation a;
    char *txt, *wrap;
    size_t len = 0;

    msgpack_zone_init(&z, 1024);
    /* not a record (a non-blocking invoke's {activationId}): the id */
    if (!p->blocking || sq_activation_from(o, &z, &a, NULL, 0) != SQ_OK) {
        reply_ok_locked(c, p->cid, json_pack("{s:s}", "activationId", p->actid));
    } else if (p->result_only) {
        txt = a.result.type != MSGPACK_OBJECT_NIL ? sq_mp_to_json_text(&a.result, &len) : NULL;
        if ((wrap = malloc(len + 16)) != NULL) {
            int n = snprintf(wrap, len + 16, "{\"result\":%s}", txt ? txt : "{}");
            reply_ok_text_locked(c, p->cid, wrap, (size_t)n);
        }
        free(wrap);
        free(txt);
    } else {
        /* the record's JSON text straight from its msgpack (no JSON tree in between) */
        txt = sq_mp_to_json_text(o, &len);
        if (txt == NULL || len < 2 || txt[0] != '{')
            ws_reply_err_locked(c, p->cid, 502, "A platform service gave a malformed answer.");
        else
            reply_ok_text_locked(c, p->cid, txt, len);
        free(txt);
    }
    msgpack_zone_destroy(&z);
}

/* A fire's answer: rules 0 when no rule is active (then no activation id). */
static void reply_fire_locked(ws_conn *c, const ws_pend *p, const msgpack_object *o)
{
    msgpack_zone z;
    sq_act_ref ref;
    bool none;

    msgpack_zone_init(&z, 256);
    none = sq_act_ref_from(o, &z, &ref, NULL, 0) == SQ_OK && ref.rules == 0;
    msgpack_zone_destroy(&z);
    reply_ok_locked(c, p->cid,
                    none ? json_pack("{s:n}", "activationId")
                         : json_pack("{s:s}", "activationId", p->actid));
}

/* A reply on the inbox (nats.c thread). */
void ws_on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    const char *subj = natsMsg_GetSubject(msg), *dot = strrchr(subj, '.');
    msgpack_zone z;
    msgpack_object o;
    const char *emsg = NULL;
    size_t elen = 0;
    int code = 0;
    ws_pend *p;
    ws_conn *c;

    if (dot == NULL) {
        natsMsg_Destroy(msg);
        return;
    }
    msgpack_zone_init(&z, 4096);
    if (natsMsg_IsNoResponders(msg)) {
        code = 503;
        emsg = "The platform service for this request is not available.";
        elen = strlen(emsg);
    } else if (natsMsg_GetDataLength(msg) <= 0 ||
               sq_mp_unpack(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &o) !=
                   SQ_OK) {
        code = 502;
        emsg = "A platform service gave a malformed answer.";
        elen = strlen(emsg);
    } else if (!sq_wire_error_get(&o, &code, &emsg, &elen))
        code = 0;

    pthread_mutex_lock(&W.lock);
    p = pend_take_locked(strtoull(dot + 1, NULL, 10));
    c = p ? ws_conn_find_locked(p->conn) : NULL;
    if (p == NULL || c == NULL)
        goto out;
    if (p->kind == P_INVOKE || p->kind == P_FIRE)
        c->inflight--;
    if (p->kind == P_AUTH || p->kind == P_RECHECK)
        reply_auth_locked(c, p, &o, &z, code, emsg, elen);
    else if (code != 0)
        ws_reply_err_locked(c, p->cid, code, "%.*s", (int)elen, emsg);
    else if (p->kind == P_INVOKE)
        reply_invoke_locked(c, p, &o);
    else
        reply_fire_locked(c, p, &o);
out:
    pthread_mutex_unlock(&W.lock);
    ws_pend_free(p);
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
    ws_kick();
}

/* Requests past their deadline (service thread). */
void ws_sweep_pending(int64_t now)
{
    pthread_mutex_lock(&W.lock);
    for (size_t b = 0; b < WS_BUCKETS; b++) {
        ws_pend **pp = &W.pend[b];
        while (*pp) {
            ws_pend *p = *pp;
            ws_conn *c;
            if (p->deadline_us > now) {
                pp = &p->next;
                continue;
            }
            *pp = p->next;
            c = ws_conn_find_locked(p->conn);
            if (c != NULL) {
                if (p->kind == P_INVOKE || p->kind == P_FIRE)
                    c->inflight--;
                if (p->kind == P_INVOKE && p->blocking)
                    ws_reply_err_locked(
                        c, p->cid, 504,
                        "The activation %s did not end within %d ms; its record will "
                        "be stored when it does.",
                        p->actid, G.cfg.ws_invoke_wait_ms);
                else if (p->cid)
                    ws_reply_err_locked(c, p->cid, 503, "The platform did not answer in time.");
                if (p->kind == P_AUTH) {
                    c->auth = A_FAILED;
                    ws_close_locked(c, 1011, "the authentication service did not answer", false);
                }
            }
            ws_pend_free(p);
        }
    }
    pthread_mutex_unlock(&W.lock);
}
/* ---- requests from the client (service thread) ------------------------------------------------- */

/* "[/ns/][pkg/]name" into ns ("" = the key's) and name; false when malformed. */
bool ws_parse_path(const char *path, char *ns, size_t nscap, char *name, size_t namecap,
                   bool pkg_ok)
{
    char buf[1024], *seg[4], *save = NULL, *tok;
    int n = 0;
    bool abs = path[0] == '/';

    if (strlen(path) >= sizeof buf || path[0] == '\0')
        return false;
    snprintf(buf, sizeof buf, "%s", path);
    for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == 4)
            return false;
        seg[n++] = tok;
    }
    ns[0] = '\0';
    if (abs) {
        if (n < 2)
            return false;
        if (strcmp(seg[0], "_") != 0) {
            if (!sq_name_valid(seg[0]))
                return false;
            snprintf(ns, nscap, "%s", seg[0]);
        }
        for (int i = 1; i < n; i++)
            seg[i - 1] = seg[i];
        n--;
    }
    if (n < 1 || n > (pkg_ok ? 2 : 1))
        return false;
    for (int i = 0; i < n; i++)
        if (!sq_name_valid(seg[i]))
            return false;
    if (n == 2)
        snprintf(name, namecap, "%s/%s", seg[0], seg[1]);
    else
        snprintf(name, namecap, "%s", seg[0]);
    return true;
}

/* Params: absent or an object; packed as a msgpack map into sb. */
static bool pack_params(json_t *params, msgpack_sbuffer *sb, msgpack_zone *z, msgpack_object *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (params == NULL)
        sq_input_encode(&pk, NULL);
    else if (!json_is_object(params) ||
             sq_json_to_mp_max(params, &pk, SQ_MP_MAX_DEPTH - 5) != SQ_OK)
        return false;
    return sq_mp_unpack(sb->data, sb->size, z, out) == SQ_OK;
}

static bool opt_bool(json_t *req, const char *k, bool dflt, bool *out)
{
    json_t *v = json_object_get(req, k);
    if (v == NULL || json_is_null(v)) {
        *out = dflt;
        return true;
    }
    if (!json_is_boolean(v))
        return false;
    *out = json_is_true(v);
    return true;
}

/* What an invoke or fire names, checked. */
typedef struct {
    char ns[256], name[512];
    bool blocking, result_only, shared;
    json_t *params; /* an object or NULL */
} ws_target;

/* Checks an invoke's or fire's fields into t; false: answered with an error. */
static bool target_of(ws_conn *c, const char *cid, json_t *req, bool fire, ws_target *t)
{
    const char *what = fire ? "trigger" : "action";
    const char *path = json_string_value(json_object_get(req, what));

    t->params = json_object_get(req, "params");
    t->blocking = true;
    t->result_only = t->shared = false;
    if (path == NULL) {
        ws_reply_err_locked(c, cid, 400, "\"%s\" must be a string naming the %s.", what, what);
        return false;
    }
    if (!ws_parse_path(path, t->ns, sizeof t->ns, t->name, sizeof t->name, !fire)) {
        ws_reply_err_locked(c, cid, 400, "\"%s\" is not a valid %s name.", path, what);
        return false;
    }
    if (!fire && (!opt_bool(req, "blocking", true, &t->blocking) ||
                  !opt_bool(req, "result", false, &t->result_only))) {
        ws_reply_err_locked(c, cid, 400, "\"blocking\" and \"result\" must be booleans.");
        return false;
    }
    if (t->params != NULL && json_is_null(t->params))
        t->params = NULL;
    if (t->params != NULL && !json_is_object(t->params)) {
        ws_reply_err_locked(c, cid, 400, "\"params\" must be a JSON object.");
        return false;
    }
    if (t->ns[0] == '\0')
        snprintf(t->ns, sizeof t->ns, "%s", c->nss[0]);
    if (!owns_locked(c, t->ns)) {
        /* as over REST: another namespace's actions only inside its (published) packages */
        if (fire || strchr(t->name, '/') == NULL) {
            ws_reply_err_locked(c, cid, 403,
                                "The supplied authentication is not authorized to access '%s'.",
                                t->ns);
            return false;
        }
        t->shared = true;
    }
    if (c->inflight >= WS_MAX_INFLIGHT) {
        ws_reply_err_locked(c, cid, 429, "Too many requests in flight on this socket (limit %d).",
                            WS_MAX_INFLIGHT);
        return false;
    }
    return true;
}

static void op_invoke_or_fire(ws_conn *c, const char *cid, json_t *req, bool fire)
{
    char actid[33];
    ws_target t;
    msgpack_sbuffer psb, sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object pobj;
    ws_pend *p;

    if (!target_of(c, cid, req, fire, &t))
        return;
    msgpack_zone_init(&z, 2048);
    msgpack_sbuffer_init(&psb);
    if (!pack_params(t.params, &psb, &z, &pobj)) {
        ws_reply_err_locked(c, cid, 400, "\"params\" nests too deep.");
        goto out_nosb;
    }
    sq_id_new(actid);
    sq_proto_buf_init(&sb, &pk);
    if (fire)
        sq_fire_encode(&(sq_fire){ .id = actid,
                                   .ns = t.ns,
                                   .name = t.name,
                                   .subject = c->subject,
                                   .key = c->key,
                                   .caller_ns = c->nss[0],
                                   .payload = pobj },
                       &pk);
    else
        sq_invoke_encode(&(sq_invoke){ .id = actid,
                                       .ns = t.ns,
                                       .name = t.name,
                                       .subject = c->subject,
                                       .key = c->key,
                                       .params = pobj,
                                       .blocking = t.blocking,
                                       .wait_ms = G.cfg.ws_invoke_wait_ms,
                                       .shared = t.shared,
                                       .caller_ns = c->nss[0] },
                         &pk);
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->cid = strdup(cid)) == NULL) {
        free(p);
        ws_reply_err_locked(c, cid, 500, "out of memory");
        goto out;
    }
    p->conn = c->id;
    p->kind = fire ? P_FIRE : P_INVOKE;
    p->blocking = !fire && t.blocking;
    p->result_only = t.result_only;
    memcpy(p->actid, actid, sizeof actid);
    c->inflight++;
    send_locked(c, p, fire ? SQ_SUBJ_TRIGGER_FIRE : SQ_SUBJ_SCHED_INVOKE, &sb,
                p->blocking ? G.cfg.ws_invoke_wait_ms : G.cfg.op_timeout_ms);
out:
    sodium_memzero(sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
out_nosb:
    msgpack_sbuffer_destroy(&psb);
    msgpack_zone_destroy(&z);
}

void ws_sub_free(ws_sub *s)
{
    free(s->name);
    free(s->status);
}

static void op_subscribe(ws_conn *c, const char *cid, json_t *req)
{
    const char *topic = json_string_value(json_object_get(req, "topic"));
    ws_sub s = { 0 };
    ws_sub *subs;

    if (topic == NULL) {
        ws_reply_err_locked(c, cid, 400,
                            "\"topic\" must be one of \"activations\", \"logs\", \"entities\".");
        return;
    }
    if (strcmp(topic, "activations") == 0) {
        json_t *f = json_object_get(req, "filter"), *name, *status;
        s.topic = T_ACTIVATIONS;
        if (f != NULL && !json_is_null(f)) {
            if (!json_is_object(f)) {
                ws_reply_err_locked(c, cid, 400, "\"filter\" must be an object {name?, status?}.");
                return;
            }
            name = json_object_get(f, "name");
            status = json_object_get(f, "status");
            if ((name && !json_is_null(name) && !json_is_string(name)) ||
                (status && !json_is_null(status) && !json_is_string(status))) {
                ws_reply_err_locked(c, cid, 400,
                                    "\"filter.name\" and \"filter.status\" must be strings.");
                return;
            }
            if (json_is_string(name))
                s.name = strdup(json_string_value(name));
            if (json_is_string(status))
                s.status = strdup(json_string_value(status));
        }
    } else if (strcmp(topic, "logs") == 0) {
        json_t *id = json_object_get(req, "activationId"), *action = json_object_get(req, "action");
        s.topic = T_LOGS;
        if ((id && !json_is_null(id) &&
             (!json_is_string(id) || !sq_id_valid(json_string_value(id)))) ||
            (action && !json_is_null(action) && !json_is_string(action))) {
            ws_reply_err_locked(
                c, cid, 400, "\"activationId\" must be an activation id and \"action\" a string.");
            return;
        }
        if (json_is_string(id))
            snprintf(s.actid, sizeof s.actid, "%s", json_string_value(id));
        if (json_is_string(action)) {
            char ns[256], name[512];
            const char *a = json_string_value(action);
            if (!ws_parse_path(a, ns, sizeof ns, name, sizeof name, true)) {
                ws_reply_err_locked(c, cid, 400, "\"%s\" is not a valid action name.", a);
                return;
            }
            s.name = strdup(a);
        }
    } else if (strcmp(topic, "entities") == 0) {
        s.topic = T_ENTITIES;
    } else {
        ws_reply_err_locked(
            c, cid, 400, "Unknown topic \"%s\": \"activations\", \"logs\" or \"entities\".", topic);
        return;
    }
    if (c->nsubs >= WS_MAX_SUBS) {
        ws_sub_free(&s);
        ws_reply_err_locked(c, cid, 429, "Too many subscriptions on this socket (limit %d).",
                            WS_MAX_SUBS);
        return;
    }
    subs = realloc(c->subs, (size_t)(c->nsubs + 1) * sizeof *subs);
    if (subs == NULL) {
        ws_sub_free(&s);
        ws_reply_err_locked(c, cid, 500, "out of memory");
        return;
    }
    c->subs = subs;
    s.id = ++c->next_sub;
    c->subs[c->nsubs++] = s;
    ws_index_update_locked(c);
    reply_ok_locked(c, cid, json_pack("{s:I}", "sub", (json_int_t)s.id));
}

static void op_unsubscribe(ws_conn *c, const char *cid, json_t *req)
{
    json_t *v = json_object_get(req, "sub");
    if (!json_is_integer(v)) {
        ws_reply_err_locked(c, cid, 400, "\"sub\" must be the number a subscribe answered.");
        return;
    }
    for (int i = 0; i < c->nsubs; i++)
        if (c->subs[i].id == json_integer_value(v)) {
            ws_sub_free(&c->subs[i]);
            c->subs[i] = c->subs[--c->nsubs];
            ws_index_update_locked(c);
            reply_ok_locked(c, cid, NULL);
            return;
        }
    ws_reply_err_locked(c, cid, 404, "No subscription %lld on this socket.",
                        (long long)json_integer_value(v));
}

/* One complete text message (service thread). W.lock taken here. */
void ws_handle_message(ws_conn *c, const char *txt, size_t len)
{
    json_error_t je;
    json_t *req = json_loadb(txt, len, 0, &je), *id;
    const char *op;
    char *cid = NULL;

    pthread_mutex_lock(&W.lock);
    if (req == NULL || !json_is_object(req)) {
        ws_reply_err_locked(c, NULL, 400,
                            req ? "A request must be a JSON object." : "The frame is not JSON: %s",
                            je.text);
        goto out;
    }
    id = json_object_get(req, "id");
    if (id == NULL || !(json_is_string(id) || json_is_number(id)) ||
        (cid = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
        ws_reply_err_locked(c, NULL, 400, "\"id\" must be a string or a number.");
        goto out;
    }
    op = json_string_value(json_object_get(req, "op"));
    if (op == NULL) {
        ws_reply_err_locked(c, cid, 400, "\"op\" must be a string.");
        goto out;
    }
    if (strcmp(op, "auth") == 0) {
        const char *key = json_string_value(json_object_get(req, "key"));
        if (c->auth != A_NONE) {
            ws_reply_err_locked(c, cid, 400, "This socket is already authenticated.");
        } else if (key == NULL || strchr(key, ':') == NULL || strlen(key) >= sizeof c->key) {
            ws_reply_err_locked(c, cid, 401, "The supplied authentication is invalid");
            c->auth = A_FAILED;
            ws_close_locked(c, CLOSE_UNAUTH, "authentication failed", false);
        } else {
            memcpy(c->key, key, strlen(key) + 1);
            c->auth = A_VERIFYING;
            ws_verify_locked(c, P_AUTH, cid);
        }
        /* the key's copy in the parsed frame */
        json_t *k = json_object_get(req, "key");
        if (json_is_string(k))
            sodium_memzero((void *)json_string_value(k), strlen(json_string_value(k)));
        goto out;
    }
    if (strcmp(op, "ping") == 0) {
        reply_ok_locked(c, cid, json_pack("{s:b}", "pong", 1));
        goto out;
    }
    if (strcmp(op, "invoke") != 0 && strcmp(op, "fire") != 0 && strcmp(op, "subscribe") != 0 &&
        strcmp(op, "unsubscribe") != 0) {
        ws_reply_err_locked(c, cid, 400, "Unknown op \"%.64s\".", op);
        goto out;
    }
    if (c->auth != A_OK) {
        ws_reply_err_locked(c, cid, 401,
                            "Authenticate first: {\"op\":\"auth\",\"key\":\"uuid:secret\"}.");
        goto out;
    }
    if (strcmp(op, "invoke") == 0)
        op_invoke_or_fire(c, cid, req, false);
    else if (strcmp(op, "fire") == 0)
        op_invoke_or_fire(c, cid, req, true);
    else if (strcmp(op, "subscribe") == 0)
        op_subscribe(c, cid, req);
    else
        op_unsubscribe(c, cid, req);
out:
    pthread_mutex_unlock(&W.lock);
    free(cid);
    json_decref(req);
}
