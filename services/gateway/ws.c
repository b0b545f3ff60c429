/* The WebSocket API: GET /api/v1/ws, subprotocol squall.v1 (see README "WebSocket API").
 *
 * Threads. Everything that touches a wsi runs on the lws service thread; replies to the
 * socket's NATS requests and the events it subscribed to arrive on nats.c threads. The two
 * meet in W (guarded by W.lock): a table of connections by id, each with its bounded queue
 * of outgoing frames, a table of requests in flight by id, and a list of connection ids to
 * wake. A nats.c thread builds the frame, appends it to the connection's queue, puts the id
 * on the wake list and calls lws_cancel_service(); the service thread then asks lws for a
 * writable callback and writes the queue out. A NATS thread never holds a connection
 * pointer outside W.lock: a connection closed meanwhile is simply not found.
 *
 * Backpressure: events are dropped (and counted, said on the next event delivered as
 * "dropped": N) when they would take the queue past its bound; replies are never dropped,
 * but while the queue is over its bound the socket is not read (lws rx flow control), so a
 * client that sends without reading stops being read. A queue that stays full for
 * ws_stuck_ms is dropped and the socket closed with 1008.
 *
 * Authentication: the key is verified with sq.auth.verify (Authorization header on the
 * upgrade, or a first {"op":"auth"} frame within ws_auth_ms, else 4401) and kept, in memory
 * only, for the life of the socket: it is re-verified on every sq.evt.auth about its subject,
 * and a key that no longer verifies (rotated, blocked, deleted) closes the socket with 4401.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

#define WS_MAX_MSG (1024 * 1024) /* a bigger message closes the socket with 1009 */
#define WS_MAX_SUBS 100          /* per socket; one more is 429 */
#define WS_MAX_INFLIGHT 1000     /* invokes and fires in flight per socket; more is 429 */
#define WS_BUCKETS 4096
#define WS_SWEEP_US (100 * 1000)
#define WS_MAX_WRITES 16 /* frames written per writable callback */

#define CLOSE_UNAUTH 4401

typedef enum { T_ACTIVATIONS, T_LOGS, T_ENTITIES } ws_topic;

typedef struct ws_sub {
    int64_t id;
    ws_topic topic;
    char *name;     /* activations: record name; logs: action name (NULL: any) */
    char *status;   /* activations: response.status (NULL: any) */
    char actid[33]; /* logs: one activation ("" : any) */
} ws_sub;

typedef struct frame {
    struct frame *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
} frame;

typedef enum { A_NONE = 0, A_VERIFYING, A_OK, A_FAILED } ws_auth_state;

typedef struct ws_conn {
    uint64_t id;
    struct lws *wsi;             /* service thread only */
    struct ws_conn *hnext;       /* id table chain */
    struct ws_conn *prev, *next; /* every connection */
    int64_t auth_deadline_us;

    /* guarded by W.lock */
    ws_auth_state auth;
    char key[192]; /* "uuid:secret", zeroed on close */
    char *subject;
    char **nss; /* the key's namespaces (nss[0]: its own) */
    size_t nns;
    ws_sub *subs;
    int nsubs;
    int64_t next_sub;
    frame *qh, *qt;
    size_t qbytes;
    uint64_t dropped;
    int64_t full_since_us;
    int inflight;
    int close_code; /* set: close once the queue is written (4401, 1008...) */
    char close_reason[96];
    bool close_now; /* close without writing the queue (1008) */

    /* service thread only */
    bool rx_paused;
    char *rx; /* the message being assembled */
    size_t rxlen, rxcap;
    bool rx_skip; /* rest of a message being refused */
    char *held;   /* a message read while the key was being verified */
    size_t held_len;
} ws_conn;

typedef enum { P_AUTH, P_RECHECK, P_INVOKE, P_FIRE } ws_pkind;

typedef struct ws_pend {
    uint64_t id;
    uint64_t conn;
    ws_pkind kind;
    char *cid; /* the client's request id as JSON text; NULL: no reply */
    bool blocking, result_only;
    char actid[33];
    int64_t deadline_us;
    struct ws_pend *next;
} ws_pend;

struct ws_pss {
    ws_conn *c;
    char auth[256]; /* the upgrade's Authorization header */
};
_Static_assert(sizeof(struct ws_pss) <= GW_WS_PSS_SIZE, "GW_WS_PSS_SIZE is too small");

static struct {
    pthread_mutex_t lock;
    ws_conn *table[WS_BUCKETS];
    ws_conn *all;
    size_t nconns;
    ws_pend *pend[WS_BUCKETS];
    uint64_t *wake; /* connection ids to wake */
    size_t nwake, capwake;
    uint64_t next_conn, next_req;
    char inbox[96];
    natsSubscription *replies, *sub_act, *sub_ent, *sub_log;
    lws_sorted_usec_list_t sweep;
    int64_t next_slow_sweep_us;
} W = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t queue_limit(void)
{
    return (size_t)G.cfg.ws_queue_kb * 1024;
}

/* ---- connections and queues (W.lock held) --------------------------------------------- */

static ws_conn *conn_find_locked(uint64_t id)
{
    for (ws_conn *c = W.table[id % WS_BUCKETS]; c; c = c->hnext)
        if (c->id == id)
            return c;
    return NULL;
}

static void wake_locked(ws_conn *c)
{
    if (W.nwake == W.capwake) {
        size_t cap = W.capwake ? W.capwake * 2 : 256;
        uint64_t *w = realloc(W.wake, cap * sizeof *w);
        if (w == NULL)
            return;
        W.wake = w;
        W.capwake = cap;
    }
    W.wake[W.nwake++] = c->id;
}

/* Appends head+body (as one text frame) to c's queue. A droppable frame (an event) is
 * dropped and counted when the queue is full. Returns true when queued. */
static bool enqueue_locked(ws_conn *c, const char *head, size_t hlen, const char *body, size_t blen,
                           bool droppable)
{
    size_t len = hlen + blen;
    frame *f;

    if (c->close_code)
        return false;
    if (droppable && c->qbytes + len > queue_limit()) {
        c->dropped++;
        if (c->full_since_us == 0)
            c->full_since_us = sq_mono_us();
        return false;
    }
    f = malloc(sizeof *f + LWS_PRE + len);
    if (f == NULL)
        return false;
    f->next = NULL;
    f->len = len;
    memcpy(f->buf + LWS_PRE, head, hlen);
    if (blen)
        memcpy(f->buf + LWS_PRE + hlen, body, blen);
    if (c->qt)
        c->qt->next = f;
    else
        c->qh = f;
    c->qt = f;
    c->qbytes += len;
    if (c->qbytes >= queue_limit() && c->full_since_us == 0)
        c->full_since_us = sq_mono_us();
    if (c->qh == f)
        wake_locked(c);
    return true;
}

static void queue_free_locked(ws_conn *c)
{
    while (c->qh) {
        frame *f = c->qh;
        c->qh = f->next;
        free(f);
    }
    c->qt = NULL;
    c->qbytes = 0;
}

static void close_locked(ws_conn *c, int code, const char *reason, bool now)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    c->close_now = now;
    if (now)
        queue_free_locked(c);
    wake_locked(c);
}

static void kick(void)
{
    if (G.ctx)
        lws_cancel_service(G.ctx);
}

/* ---- replies ------------------------------------------------------------------------- */

/* Queues {"id": cid, <mid>, <body>: the reply to request cid (its id's JSON text, which may
 * be long: a reply echoes it whole). */
static void reply_locked(ws_conn *c, const char *cid, const char *mid, const char *body,
                         size_t blen)
{
    size_t cl = cid ? strlen(cid) : 4, ml = strlen(mid);
    char *head = malloc(cl + ml + 8);
    if (head == NULL)
        return;
    memcpy(head, "{\"id\":", 6);
    memcpy(head + 6, cid ? cid : "null", cl);
    memcpy(head + 6 + cl, mid, ml);
    enqueue_locked(c, head, 6 + cl + ml, body, blen, false);
    free(head);
}

/* Queues {"id": cid, "ok": true, <fields of obj>} (obj: a JSON object or NULL; stolen). */
static void reply_ok_locked(ws_conn *c, const char *cid, json_t *obj)
{
    char *txt = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (txt && strcmp(txt, "{}") != 0) {
        txt[0] = ','; /* {"a":1} -> ,"a":1} */
        reply_locked(c, cid, ",\"ok\":true", txt, strlen(txt));
    } else
        reply_locked(c, cid, ",\"ok\":true", "}", 1);
    free(txt);
}

static void reply_err_locked(ws_conn *c, const char *cid, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_err_locked(ws_conn *c, const char *cid, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    json_t *j;
    char *txt;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j = json_pack("{s:i, s:s}", "code", code, "error", msg);
    txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (txt == NULL)
        return;
    {
        size_t tl = strlen(txt);
        char *body = malloc(tl + 2);
        if (body) {
            memcpy(body, txt, tl);
            body[tl] = '}';
            reply_locked(c, cid, ",\"ok\":false,\"error\":", body, tl + 1);
            free(body);
        }
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

static void pend_free(ws_pend *p)
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
    s = natsConnection_PublishRequest(sq_bus_nc(G.bus), subject, reply, sb->data, (int)sb->size);
    if (s != NATS_OK) {
        pend_take_locked(p->id);
        if (p->cid)
            reply_err_locked(c, p->cid, 503, "The platform is not reachable: %s",
                             natsStatus_GetText(s));
        if (p->kind == P_INVOKE || p->kind == P_FIRE)
            c->inflight--;
        if (p->kind == P_AUTH) {
            c->auth = A_FAILED;
            close_locked(c, 1011, "the platform is not reachable", false);
        }
        pend_free(p);
    }
}

static void verify_locked(ws_conn *c, ws_pkind kind, const char *cid)
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

static void ident_free_locked(ws_conn *c)
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
    ident_free_locked(c);
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

/* A reply on the inbox (nats.c thread). */
static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    const char *subj = natsMsg_GetSubject(msg), *dot = strrchr(subj, '.');
    msgpack_zone z;
    msgpack_object o;
    const char *emsg = NULL;
    size_t elen = 0;
    int code = 0;
    bool decoded;
    ws_pend *p;
    ws_conn *c;

    if (dot == NULL) {
        natsMsg_Destroy(msg);
        return;
    }
    msgpack_zone_init(&z, 4096);
    decoded =
        !natsMsg_IsNoResponders(msg) && natsMsg_GetDataLength(msg) > 0 &&
        sq_mp_unpack(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &o) == SQ_OK;
    if (natsMsg_IsNoResponders(msg)) {
        code = 503;
        emsg = "The platform service for this request is not available.";
        elen = strlen(emsg);
    } else if (!decoded) {
        code = 502;
        emsg = "A platform service gave a malformed answer.";
        elen = strlen(emsg);
    } else if (!sq_wire_error_get(&o, &code, &emsg, &elen))
        code = 0;

    pthread_mutex_lock(&W.lock);
    p = pend_take_locked(strtoull(dot + 1, NULL, 10));
    c = p ? conn_find_locked(p->conn) : NULL;
    if (p == NULL || c == NULL)
        goto out;
    if (p->kind == P_INVOKE || p->kind == P_FIRE)
        c->inflight--;
    switch (p->kind) {
    case P_AUTH:
    case P_RECHECK: {
        sq_identity id;
        if (code == 0 && sq_identity_from(&o, &z, &id, NULL, 0) == SQ_OK && id.namespace_ != NULL) {
            if (p->kind == P_AUTH) {
                if (!ident_set_locked(c, &id)) {
                    c->auth = A_FAILED;
                    close_locked(c, 1011, "out of memory", false);
                    break;
                }
                c->auth = A_OK;
                if (p->cid)
                    reply_ok_locked(c, p->cid, namespaces_json_locked(c));
                else
                    wake_locked(c); /* held frames may now be handled */
            }
        } else if (code == 0 || (code >= 400 && code < 500)) {
            /* the key does not verify (any more): rotated, blocked, deleted */
            if (p->kind == P_AUTH && p->cid)
                reply_err_locked(c, p->cid, 401, "The supplied authentication is invalid");
            c->auth = A_FAILED;
            sodium_memzero(c->key, sizeof c->key);
            close_locked(c, CLOSE_UNAUTH, "authentication failed", false);
        } else if (p->kind == P_AUTH) {
            /* the auth service is unwell: the socket cannot be trusted, nor refused for good */
            if (p->cid)
                reply_err_locked(c, p->cid, 503, "%.*s", (int)elen, emsg);
            c->auth = A_FAILED;
            close_locked(c, 1011, "the authentication service is not available", false);
        }
        break;
    }
    case P_INVOKE:
        if (code != 0) {
            reply_err_locked(c, p->cid, code, "%.*s", (int)elen, emsg);
        } else if (!p->blocking || sq_mp_get(&o, "response") == NULL) {
            reply_ok_locked(c, p->cid, json_pack("{s:s}", "activationId", p->actid));
        } else if (p->result_only) {
            const msgpack_object *resp = sq_mp_get(&o, "response");
            const msgpack_object *res = sq_mp_get(resp, "result");
            json_t *r = res ? sq_mp_to_json(res) : json_object();
            reply_ok_locked(c, p->cid, json_pack("{s:o}", "result", r ? r : json_null()));
        } else {
            json_t *rec = sq_mp_to_json(&o);
            if (!json_is_object(rec)) {
                json_decref(rec);
                reply_err_locked(c, p->cid, 502, "A platform service gave a malformed answer.");
            } else
                reply_ok_locked(c, p->cid, rec);
        }
        break;
    case P_FIRE:
        if (code != 0) {
            reply_err_locked(c, p->cid, code, "%.*s", (int)elen, emsg);
        } else {
            const msgpack_object *rules = sq_mp_get(&o, "rules");
            bool none =
                rules && rules->type == MSGPACK_OBJECT_POSITIVE_INTEGER && rules->via.u64 == 0;
            reply_ok_locked(c, p->cid,
                            none ? json_pack("{s:n}", "activationId")
                                 : json_pack("{s:s}", "activationId", p->actid));
        }
        break;
    }
out:
    pthread_mutex_unlock(&W.lock);
    pend_free(p);
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
    kick();
}

/* Requests past their deadline (service thread). */
static void sweep_pending(int64_t now)
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
            c = conn_find_locked(p->conn);
            if (c != NULL) {
                if (p->kind == P_INVOKE || p->kind == P_FIRE)
                    c->inflight--;
                if (p->kind == P_INVOKE && p->blocking)
                    reply_err_locked(c, p->cid, 504,
                                     "The activation %s did not end within %d ms; its record will "
                                     "be stored when it does.",
                                     p->actid, G.cfg.ws_invoke_wait_ms);
                else if (p->cid)
                    reply_err_locked(c, p->cid, 503, "The platform did not answer in time.");
                if (p->kind == P_AUTH) {
                    c->auth = A_FAILED;
                    close_locked(c, 1011, "the authentication service did not answer", false);
                }
            }
            pend_free(p);
        }
    }
    pthread_mutex_unlock(&W.lock);
}

/* ---- events (nats.c threads) ------------------------------------------------------------ */

/* Queues one event to every matching subscription; body is the JSON text after the head
 * ("\"activation\":{...}}"). W.lock held. */
static void deliver_locked(ws_conn *c, const ws_sub *s, const char *event, const char *body,
                           size_t blen)
{
    char head[160];
    int n;
    if (c->dropped > 0 && c->qbytes + blen + sizeof head <= queue_limit())
        n = snprintf(head, sizeof head, "{\"sub\":%lld,\"event\":\"%s\",\"dropped\":%llu,",
                     (long long)s->id, event, (unsigned long long)c->dropped);
    else
        n = snprintf(head, sizeof head, "{\"sub\":%lld,\"event\":\"%s\",", (long long)s->id, event);
    if (enqueue_locked(c, head, (size_t)n, body, blen, true))
        c->dropped = 0;
}

static const char *str_of(const msgpack_object *o, char *buf, size_t cap)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
        return NULL;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return buf;
}

static void on_activation(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    msgpack_object o;
    char ns[256], name[512], status[64];
    char *json = NULL, *body = NULL;
    size_t jlen = 0, blen;
    bool any = false;

    msgpack_zone_init(&z, 2048);
    if (sq_mp_unpack(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &o) != SQ_OK ||
        o.type != MSGPACK_OBJECT_MAP || str_of(sq_mp_get(&o, "namespace"), ns, sizeof ns) == NULL ||
        str_of(sq_mp_get(&o, "name"), name, sizeof name) == NULL)
        goto out;
    if (str_of(sq_mp_get(sq_mp_get(&o, "response"), "status"), status, sizeof status) == NULL)
        status[0] = '\0';
    pthread_mutex_lock(&W.lock);
    for (ws_conn *c = W.all; c; c = c->next) {
        if (c->nsubs == 0 || c->auth != A_OK || !owns_locked(c, ns))
            continue;
        for (int i = 0; i < c->nsubs; i++) {
            const ws_sub *s = &c->subs[i];
            if (s->topic != T_ACTIVATIONS || (s->name && strcmp(s->name, name) != 0) ||
                (s->status && strcmp(s->status, status) != 0))
                continue;
            if (body == NULL) { /* serialised once, for the first taker */
                if ((json = sq_mp_to_json_text(&o, &jlen)) == NULL ||
                    (body = malloc(jlen + 16)) == NULL)
                    break;
                blen = (size_t)sprintf(body, "\"activation\":%s}", json);
            }
            deliver_locked(c, s, "activation", body, blen);
            any = true;
        }
    }
    pthread_mutex_unlock(&W.lock);
out:
    if (any)
        kick();
    free(json);
    free(body);
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
}

static void on_entity(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    sq_entity_event e;
    char *body = NULL;
    bool any = false;

    msgpack_zone_init(&z, 1024);
    if (sq_entity_event_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &e,
                               NULL, 0) != SQ_OK)
        goto out;
    {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "namespace", e.ns, "kind", e.kind, "name",
                              e.name, "change", e.op);
        char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (txt == NULL)
            goto out;
        body = txt + 1; /* {"namespace":...} -> "namespace":...} */
        pthread_mutex_lock(&W.lock);
        for (ws_conn *c = W.all; c; c = c->next) {
            if (c->nsubs == 0 || c->auth != A_OK || !owns_locked(c, e.ns))
                continue;
            for (int i = 0; i < c->nsubs; i++)
                if (c->subs[i].topic == T_ENTITIES) {
                    deliver_locked(c, &c->subs[i], "entity", body, strlen(body));
                    any = true;
                }
        }
        pthread_mutex_unlock(&W.lock);
        free(txt);
    }
out:
    if (any)
        kick();
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
}

/* The action a logs subscription names matches the event's ns and name: "name",
 * "pkg/name", or "/ns/[pkg/]name". */
static bool action_matches(const char *want, const char *ns, const char *name)
{
    if (want[0] != '/')
        return strcmp(want, name) == 0;
    size_t nl = strlen(ns);
    return strncmp(want + 1, ns, nl) == 0 && want[1 + nl] == '/' &&
           strcmp(want + 2 + nl, name) == 0;
}

static void on_log(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    sq_log_event e;
    char *txt = NULL, *body;
    bool any = false;
    json_t *j;

    msgpack_zone_init(&z, 1024);
    if (sq_log_event_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &e, NULL,
                            0) != SQ_OK ||
        (!e.end && e.line == NULL))
        goto out;
    j = e.end ? json_pack("{s:s, s:s}", "activationId", e.id, "name", e.name)
              : json_pack("{s:s, s:s, s:s}", "activationId", e.id, "name", e.name, "line", e.line);
    txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (txt == NULL)
        goto out;
    body = txt + 1;
    pthread_mutex_lock(&W.lock);
    for (ws_conn *c = W.all; c; c = c->next) {
        if (c->nsubs == 0 || c->auth != A_OK || !owns_locked(c, e.ns))
            continue;
        for (int i = 0; i < c->nsubs; i++) {
            const ws_sub *s = &c->subs[i];
            if (s->topic != T_LOGS || (s->actid[0] && strcmp(s->actid, e.id) != 0) ||
                (s->name && !action_matches(s->name, e.ns, e.name)))
                continue;
            deliver_locked(c, s, e.end ? "end" : "log", body, strlen(body));
            any = true;
        }
    }
    pthread_mutex_unlock(&W.lock);
out:
    if (any)
        kick();
    free(txt);
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
}

void gw_ws_on_auth_event(natsMsg *msg)
{
    msgpack_zone z;
    msgpack_object o;
    char subject[256];
    const char *subj = NULL;

    msgpack_zone_init(&z, 512);
    if (sq_mp_unpack(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &o) == SQ_OK)
        subj = str_of(sq_mp_get(&o, "subject"), subject, sizeof subject);
    pthread_mutex_lock(&W.lock);
    for (ws_conn *c = W.all; c; c = c->next)
        if (c->auth == A_OK && c->close_code == 0 &&
            (subj == NULL || strcmp(subj, c->subject) == 0))
            verify_locked(c, P_RECHECK, NULL);
    pthread_mutex_unlock(&W.lock);
    msgpack_zone_destroy(&z);
    kick();
}

/* ---- requests from the client (service thread) ------------------------------------------------- */

/* "[/ns/][pkg/]name" into ns ("" = the key's) and name; false when malformed. */
static bool parse_path(const char *path, char *ns, size_t nscap, char *name, size_t namecap,
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

static void op_invoke_or_fire(ws_conn *c, const char *cid, json_t *req, bool fire)
{
    const char *path = json_string_value(json_object_get(req, fire ? "trigger" : "action"));
    json_t *params = json_object_get(req, fire ? "params" : "params");
    char ns[256], name[512], actid[33];
    bool blocking = true, result_only = false, shared = false;
    msgpack_sbuffer psb, sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object pobj;
    ws_pend *p;

    if (path == NULL) {
        reply_err_locked(c, cid, 400, "\"%s\" must be a string naming the %s.",
                         fire ? "trigger" : "action", fire ? "trigger" : "action");
        return;
    }
    if (!parse_path(path, ns, sizeof ns, name, sizeof name, !fire)) {
        reply_err_locked(c, cid, 400, "\"%s\" is not a valid %s name.", path,
                         fire ? "trigger" : "action");
        return;
    }
    if (!fire && (!opt_bool(req, "blocking", true, &blocking) ||
                  !opt_bool(req, "result", false, &result_only))) {
        reply_err_locked(c, cid, 400, "\"blocking\" and \"result\" must be booleans.");
        return;
    }
    if (params != NULL && json_is_null(params))
        params = NULL;
    if (params != NULL && !json_is_object(params)) {
        reply_err_locked(c, cid, 400, "\"params\" must be a JSON object.");
        return;
    }
    if (ns[0] == '\0')
        snprintf(ns, sizeof ns, "%s", c->nss[0]);
    if (!owns_locked(c, ns)) {
        /* as over REST: another namespace's actions only inside its (published) packages */
        if (fire || strchr(name, '/') == NULL) {
            reply_err_locked(c, cid, 403,
                             "The supplied authentication is not authorized to access '%s'.", ns);
            return;
        }
        shared = true;
    }
    if (c->inflight >= WS_MAX_INFLIGHT) {
        reply_err_locked(c, cid, 429, "Too many requests in flight on this socket (limit %d).",
                         WS_MAX_INFLIGHT);
        return;
    }
    msgpack_zone_init(&z, 2048);
    msgpack_sbuffer_init(&psb);
    if (!pack_params(params, &psb, &z, &pobj)) {
        reply_err_locked(c, cid, 400, "\"params\" nests too deep.");
        goto out_nosb;
    }
    sq_id_new(actid);
    sq_proto_buf_init(&sb, &pk);
    if (fire)
        sq_fire_encode(&(sq_fire){ .id = actid,
                                   .ns = ns,
                                   .name = name,
                                   .subject = c->subject,
                                   .key = c->key,
                                   .caller_ns = c->nss[0],
                                   .payload = pobj },
                       &pk);
    else
        sq_invoke_encode(&(sq_invoke){ .id = actid,
                                       .ns = ns,
                                       .name = name,
                                       .subject = c->subject,
                                       .key = c->key,
                                       .params = pobj,
                                       .blocking = blocking,
                                       .wait_ms = G.cfg.ws_invoke_wait_ms,
                                       .shared = shared,
                                       .caller_ns = c->nss[0] },
                         &pk);
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->cid = strdup(cid)) == NULL) {
        free(p);
        reply_err_locked(c, cid, 500, "out of memory");
        goto out;
    }
    p->conn = c->id;
    p->kind = fire ? P_FIRE : P_INVOKE;
    p->blocking = !fire && blocking;
    p->result_only = result_only;
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

static void sub_free(ws_sub *s)
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
        reply_err_locked(c, cid, 400,
                         "\"topic\" must be one of \"activations\", \"logs\", \"entities\".");
        return;
    }
    if (strcmp(topic, "activations") == 0) {
        json_t *f = json_object_get(req, "filter"), *name, *status;
        s.topic = T_ACTIVATIONS;
        if (f != NULL && !json_is_null(f)) {
            if (!json_is_object(f)) {
                reply_err_locked(c, cid, 400, "\"filter\" must be an object {name?, status?}.");
                return;
            }
            name = json_object_get(f, "name");
            status = json_object_get(f, "status");
            if ((name && !json_is_null(name) && !json_is_string(name)) ||
                (status && !json_is_null(status) && !json_is_string(status))) {
                reply_err_locked(c, cid, 400,
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
            reply_err_locked(c, cid, 400,
                             "\"activationId\" must be an activation id and \"action\" a string.");
            return;
        }
        if (json_is_string(id))
            snprintf(s.actid, sizeof s.actid, "%s", json_string_value(id));
        if (json_is_string(action)) {
            char ns[256], name[512];
            const char *a = json_string_value(action);
            if (!parse_path(a, ns, sizeof ns, name, sizeof name, true)) {
                reply_err_locked(c, cid, 400, "\"%s\" is not a valid action name.", a);
                return;
            }
            s.name = strdup(a);
        }
    } else if (strcmp(topic, "entities") == 0) {
        s.topic = T_ENTITIES;
    } else {
        reply_err_locked(c, cid, 400,
                         "Unknown topic \"%s\": \"activations\", \"logs\" or \"entities\".", topic);
        return;
    }
    if (c->nsubs >= WS_MAX_SUBS) {
        sub_free(&s);
        reply_err_locked(c, cid, 429, "Too many subscriptions on this socket (limit %d).",
                         WS_MAX_SUBS);
        return;
    }
    subs = realloc(c->subs, (size_t)(c->nsubs + 1) * sizeof *subs);
    if (subs == NULL) {
        sub_free(&s);
        reply_err_locked(c, cid, 500, "out of memory");
        return;
    }
    c->subs = subs;
    s.id = ++c->next_sub;
    c->subs[c->nsubs++] = s;
    reply_ok_locked(c, cid, json_pack("{s:I}", "sub", (json_int_t)s.id));
}

static void op_unsubscribe(ws_conn *c, const char *cid, json_t *req)
{
    json_t *v = json_object_get(req, "sub");
    if (!json_is_integer(v)) {
        reply_err_locked(c, cid, 400, "\"sub\" must be the number a subscribe answered.");
        return;
    }
    for (int i = 0; i < c->nsubs; i++)
        if (c->subs[i].id == json_integer_value(v)) {
            sub_free(&c->subs[i]);
            c->subs[i] = c->subs[--c->nsubs];
            reply_ok_locked(c, cid, NULL);
            return;
        }
    reply_err_locked(c, cid, 404, "No subscription %lld on this socket.",
                     (long long)json_integer_value(v));
}

/* One complete text message (service thread). W.lock taken here. */
static void handle_message(ws_conn *c, const char *txt, size_t len)
{
    json_error_t je;
    json_t *req = json_loadb(txt, len, 0, &je), *id;
    const char *op;
    char *cid = NULL;

    pthread_mutex_lock(&W.lock);
    if (req == NULL || !json_is_object(req)) {
        reply_err_locked(c, NULL, 400,
                         req ? "A request must be a JSON object." : "The frame is not JSON: %s",
                         je.text);
        goto out;
    }
    id = json_object_get(req, "id");
    if (id == NULL || !(json_is_string(id) || json_is_number(id)) ||
        (cid = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
        reply_err_locked(c, NULL, 400, "\"id\" must be a string or a number.");
        goto out;
    }
    op = json_string_value(json_object_get(req, "op"));
    if (op == NULL) {
        reply_err_locked(c, cid, 400, "\"op\" must be a string.");
        goto out;
    }
    if (strcmp(op, "auth") == 0) {
        const char *key = json_string_value(json_object_get(req, "key"));
        if (c->auth != A_NONE) {
            reply_err_locked(c, cid, 400, "This socket is already authenticated.");
        } else if (key == NULL || strchr(key, ':') == NULL || strlen(key) >= sizeof c->key) {
            reply_err_locked(c, cid, 401, "The supplied authentication is invalid");
            c->auth = A_FAILED;
            close_locked(c, CLOSE_UNAUTH, "authentication failed", false);
        } else {
            memcpy(c->key, key, strlen(key) + 1);
            c->auth = A_VERIFYING;
            verify_locked(c, P_AUTH, cid);
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
        reply_err_locked(c, cid, 400, "Unknown op \"%.64s\".", op);
        goto out;
    }
    if (c->auth != A_OK) {
        reply_err_locked(c, cid, 401,
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

/* ---- the lws side ------------------------------------------------------------------------ */

static void conn_free(ws_conn *c)
{
    pthread_mutex_lock(&W.lock);
    for (ws_conn **pp = &W.table[c->id % WS_BUCKETS]; *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    if (c->prev)
        c->prev->next = c->next;
    else
        W.all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    W.nconns--;
    queue_free_locked(c);
    ident_free_locked(c);
    for (int i = 0; i < c->nsubs; i++)
        sub_free(&c->subs[i]);
    free(c->subs);
    sodium_memzero(c->key, sizeof c->key);
    pthread_mutex_unlock(&W.lock);
    free(c->rx);
    free(c->held);
    free(c);
}

static ws_conn *conn_new(struct lws *wsi)
{
    ws_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->wsi = wsi;
    c->auth_deadline_us = sq_mono_us() + (int64_t)G.cfg.ws_auth_ms * 1000;
    pthread_mutex_lock(&W.lock);
    c->id = ++W.next_conn;
    c->hnext = W.table[c->id % WS_BUCKETS];
    W.table[c->id % WS_BUCKETS] = c;
    c->next = W.all;
    if (W.all)
        W.all->prev = c;
    W.all = c;
    W.nconns++;
    pthread_mutex_unlock(&W.lock);
    return c;
}

/* Handles a complete message, or holds it while the key is being verified. */
static void message(ws_conn *c, const char *txt, size_t len)
{
    bool verifying;
    pthread_mutex_lock(&W.lock);
    verifying = c->auth == A_VERIFYING;
    pthread_mutex_unlock(&W.lock);
    if (verifying && c->held == NULL) {
        /* read nothing more until the key is verified */
        if ((c->held = malloc(len + 1)) != NULL) {
            memcpy(c->held, txt, len);
            c->held_len = len;
        }
        lws_rx_flow_control(c->wsi, 0);
        c->rx_paused = true;
        return;
    }
    handle_message(c, txt, len);
}

/* Writes c's queue out (up to WS_MAX_WRITES frames). direct: called from wake_all(), not
 * from a writable callback (the socket is not choked): a close is then left to the
 * callback. Returns -1 to close (callback only). */
static int writable(struct lws *wsi, ws_conn *c, bool direct)
{
    for (int n = 0; n < WS_MAX_WRITES; n++) {
        frame *f;
        int code = 0;
        char reason[96];
        bool drained;
        size_t qb;

        pthread_mutex_lock(&W.lock);
        f = c->close_now ? NULL : c->qh;
        if (f != NULL) {
            c->qh = f->next;
            if (c->qh == NULL)
                c->qt = NULL;
            c->qbytes -= f->len;
        }
        if (c->qbytes < queue_limit() * 3 / 4)
            c->full_since_us = 0;
        drained = c->qh == NULL;
        qb = c->qbytes;
        if (f == NULL && c->close_code) {
            code = c->close_code;
            snprintf(reason, sizeof reason, "%s", c->close_reason);
        }
        pthread_mutex_unlock(&W.lock);
        if (code && direct) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (code) {
            /* the close frame is written here, now: a close asked for from this callback
             * (lws_close_reason() and -1) would wait for a writable event that, under the
             * libuv loop, never comes, and the peer would see no code */
            unsigned char cf[LWS_PRE + 2 + sizeof reason];
            size_t rl = strlen(reason);
            cf[LWS_PRE] = (unsigned char)(code >> 8);
            cf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
            memcpy(cf + LWS_PRE + 2, reason, rl);
            lws_write(wsi, cf + LWS_PRE, 2 + rl,
                      (enum lws_write_protocol)4 /* LWS_WRITE_CLOSE, internal in 4.1 */);
            return -1;
        }
        if (f == NULL)
            break;
        if (lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len) {
            free(f);
            return -1;
        }
        free(f);
        if (c->rx_paused && c->held == NULL && qb < queue_limit() / 2) {
            c->rx_paused = false;
            lws_rx_flow_control(wsi, 1);
        }
        if (drained) {
            /* a close may be waiting */
            pthread_mutex_lock(&W.lock);
            drained = c->close_code == 0;
            pthread_mutex_unlock(&W.lock);
            if (drained)
                break;
        }
        if (lws_send_pipe_choked(wsi)) {
            lws_callback_on_writable(wsi);
            break;
        }
        if (n == WS_MAX_WRITES - 1)
            lws_callback_on_writable(wsi);
    }
    return 0;
}

/* Wakes the connections the NATS threads queued to (service thread). */
static void wake_all(void)
{
    uint64_t *ids;
    size_t n;

    pthread_mutex_lock(&W.lock);
    ids = W.wake;
    n = W.nwake;
    W.wake = NULL;
    W.nwake = W.capwake = 0;
    pthread_mutex_unlock(&W.lock);
    for (size_t i = 0; i < n; i++) {
        ws_conn *c;
        bool handle_held = false;
        pthread_mutex_lock(&W.lock);
        c = conn_find_locked(ids[i]);
        if (c && c->held && c->auth != A_VERIFYING)
            handle_held = true;
        pthread_mutex_unlock(&W.lock);
        if (c == NULL)
            continue;
        if (handle_held) {
            char *h = c->held;
            size_t qb;
            c->held = NULL;
            handle_message(c, h, c->held_len);
            sodium_memzero(h, c->held_len); /* it may be an auth frame */
            free(h);
            pthread_mutex_lock(&W.lock);
            qb = c->qbytes;
            pthread_mutex_unlock(&W.lock);
            if (c->rx_paused && qb < queue_limit()) {
                c->rx_paused = false;
                lws_rx_flow_control(c->wsi, 1);
            }
        }
        /* write at once rather than ask for a writable event per socket (a fan-out to many
         * sockets would pay two epoll changes and a loop turn for each) */
        if (lws_send_pipe_choked(c->wsi))
            lws_callback_on_writable(c->wsi);
        else
            writable(c->wsi, c, true);
    }
    free(ids);
}

/* Sockets that did not authenticate in time, or whose queue stayed full (service thread). */
static void sweep_conns(int64_t now)
{
    bool any = false;
    pthread_mutex_lock(&W.lock);
    for (ws_conn *c = W.all; c; c = c->next) {
        if (c->close_code)
            continue;
        if ((c->auth == A_NONE || c->auth == A_VERIFYING) && now > c->auth_deadline_us) {
            close_locked(c, CLOSE_UNAUTH, "no authentication within the time allowed", false);
            any = true;
        } else if (c->full_since_us && now - c->full_since_us > (int64_t)G.cfg.ws_stuck_ms * 1000) {
            close_locked(c, 1008, "the client does not read its frames", true);
            /* the peer may read nothing at all: do not wait on it for long */
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
            any = true;
        }
    }
    pthread_mutex_unlock(&W.lock);
    if (any)
        wake_all();
}

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
    int64_t now = sq_mono_us();
    sweep_pending(now);
    if (now >= W.next_slow_sweep_us) {
        sweep_conns(now);
        W.next_slow_sweep_us = now + 250 * 1000;
    }
    if (!G.stopping)
        lws_sul_schedule(G.ctx, 0, &W.sweep, sweep_cb, WS_SWEEP_US);
}

int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct ws_pss *pss = user;
    ws_conn *c = pss ? pss->c : NULL;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* the headers are readable only now */
        if (pss && lws_hdr_copy(wsi, pss->auth, sizeof pss->auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
            pss->auth[0] = '\0';
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        char key[256];
        gw_req tmp;
        if (pss == NULL || (c = pss->c = conn_new(wsi)) == NULL)
            return -1;
        if (pss->auth[0] == '\0')
            return 0; /* a first frame {"op":"auth"} must come */
        snprintf(tmp.auth, sizeof tmp.auth, "%s", pss->auth);
        sodium_memzero(pss->auth, sizeof pss->auth);
        pthread_mutex_lock(&W.lock);
        if (!gw_basic_key(&tmp, key, sizeof key) || strlen(key) >= sizeof c->key) {
            c->auth = A_FAILED;
            close_locked(c, CLOSE_UNAUTH, "authentication failed", false);
        } else {
            memcpy(c->key, key, strlen(key) + 1);
            c->auth = A_VERIFYING;
            verify_locked(c, P_AUTH, NULL);
        }
        pthread_mutex_unlock(&W.lock);
        sodium_memzero(key, sizeof key);
        sodium_memzero(tmp.auth, sizeof tmp.auth);
        wake_all();
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        bool final;
        if (c == NULL)
            return -1;
        if (lws_frame_is_binary(wsi)) {
            static const char r[] = "binary frames are not accepted";
            lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, (unsigned char *)r,
                             sizeof r - 1);
            return -1;
        }
        final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
        if (c->rxlen + len > WS_MAX_MSG) {
            static const char r[] = "a message may not exceed 1 MB";
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)r,
                             sizeof r - 1);
            return -1;
        }
        if (final && c->rxlen == 0) {
            message(c, in, len);
        } else {
            if (c->rxlen + len > c->rxcap) {
                size_t cap = c->rxcap ? c->rxcap : 4096;
                char *b;
                while (cap < c->rxlen + len)
                    cap *= 2;
                if ((b = realloc(c->rx, cap)) == NULL)
                    return -1;
                c->rx = b;
                c->rxcap = cap;
            }
            memcpy(c->rx + c->rxlen, in, len);
            c->rxlen += len;
            if (final) {
                message(c, c->rx, c->rxlen);
                if (c->held != c->rx)
                    sodium_memzero(c->rx, c->rxlen); /* it may be an auth frame */
                c->rxlen = 0;
                if (c->rxcap > 65536) {
                    free(c->rx);
                    c->rx = NULL;
                    c->rxcap = 0;
                }
            }
        }
        pthread_mutex_lock(&W.lock);
        if (!c->rx_paused && c->qbytes >= queue_limit()) {
            /* replies are not dropped: stop reading requests until the client reads */
            c->rx_paused = true;
            lws_rx_flow_control(wsi, 0);
        }
        pthread_mutex_unlock(&W.lock);
        wake_all();
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c == NULL)
            return -1;
        return writable(wsi, c, false);
    case LWS_CALLBACK_CLOSED:
        if (c != NULL) {
            pss->c = NULL;
            conn_free(c);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: wake_all(); return 0;
    default: return 0;
    }
}

/* True for callback reasons of a websocket connection (those http.c passes on here when a
 * client did not offer the subprotocol and lws kept it on the http protocol). */
bool gw_ws_reason(enum lws_callback_reasons reason)
{
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED: return true;
    default: return false;
    }
}

/* The upgrade is allowed on /api/v1/ws only (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, on the
 * http protocol): elsewhere it is answered 400 and the socket is never held. Returns what
 * the callback returns. */
int gw_ws_confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    char uri[256];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (n > 0 && strcmp(uri, GW_WS_PATH) == 0 && upgrade && strcasecmp(upgrade, "websocket") == 0)
        return 0;
    if (lws_return_http_status(wsi, 400, "WebSocket upgrades are served on " GW_WS_PATH " only."))
        return -1;
    return 1;
}

size_t gw_ws_count(void)
{
    size_t n;
    pthread_mutex_lock(&W.lock);
    n = W.nconns;
    pthread_mutex_unlock(&W.lock);
    return n;
}

/* After the lws context exists: the reply inbox, the event subscriptions, the sweeper. */
int gw_ws_start(void)
{
    natsConnection *nc = sq_bus_nc(G.bus);
    char rnd[33], subj[160];

    sq_id_new(rnd);
    rnd[16] = '\0';
    /* below the gateway's invocation inbox (NATS permissions): a socket's blocking invoke
     * is answered by an invoker, which may answer only there */
    snprintf(W.inbox, sizeof W.inbox, "%s.run.ws.%s", sq_bus_inbox_prefix(G.bus), rnd);
    snprintf(subj, sizeof subj, "%s.*", W.inbox);
    if (natsConnection_Subscribe(&W.replies, nc, subj, on_reply, NULL) != NATS_OK ||
        natsConnection_Subscribe(&W.sub_act, nc, SQ_SUBJ_EVT_ACTIVATION_ALL, on_activation, NULL) !=
            NATS_OK ||
        natsConnection_Subscribe(&W.sub_ent, nc, SQ_SUBJ_EVT_ENTITY_ALL, on_entity, NULL) !=
            NATS_OK ||
        natsConnection_Subscribe(&W.sub_log, nc, SQ_SUBJ_EVT_LOG_ALL, on_log, NULL) != NATS_OK) {
        sq_error("could not subscribe the websocket inbox and events");
        return -1;
    }
    natsSubscription_SetPendingLimits(W.replies, -1, -1);
    natsSubscription_SetPendingLimits(W.sub_act, 65536, 256 * 1024 * 1024);
    natsSubscription_SetPendingLimits(W.sub_log, 65536, 256 * 1024 * 1024);
    lws_sul_schedule(G.ctx, 0, &W.sweep, sweep_cb, WS_SWEEP_US);
    return 0;
}

void gw_ws_stop(void)
{
    natsSubscription *subs[] = { W.replies, W.sub_act, W.sub_ent, W.sub_log };
    for (size_t i = 0; i < 4; i++)
        if (subs[i]) {
            natsSubscription_Unsubscribe(subs[i]);
            natsSubscription_Destroy(subs[i]);
        }
    pthread_mutex_lock(&W.lock);
    for (size_t b = 0; b < WS_BUCKETS; b++)
        while (W.pend[b]) {
            ws_pend *p = W.pend[b];
            W.pend[b] = p->next;
            pend_free(p);
        }
    free(W.wake);
    W.wake = NULL;
    W.nwake = W.capwake = 0;
    pthread_mutex_unlock(&W.lock);
}
