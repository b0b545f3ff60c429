/* The WebSocket API's events: activation records, log lines and entity changes arrive on
 * nats.c threads (sq.evt.>) and go to the sockets whose subscriptions match. The JSON text
 * of an event is built once and shared, refcounted, by the frames of every socket it goes
 * to; the sockets are found through an index by namespace (only authenticated sockets with
 * at least one subscription are in it), so an event costs nothing for the idle sockets of
 * the gateway nor for those of other namespaces. The sockets that want an event are taken
 * first (their ids), then its text is built without the lock, then its frames are queued
 * WS_CHUNK sockets at a time, the service thread woken after each chunk: it writes the
 * first sockets out (ws.c) while the next are queued, on the other core. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"
#include "ws_int.h"

/* ---- the index by namespace (W.lock held) -------------------------------------------- */

static size_t ns_hash(const char *ns)
{
    size_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)ns; *p; p++)
        h = h * 33 + *p;
    return h % WS_NS_BUCKETS;
}

static ws_nsent *ns_find_locked(const char *ns, bool add)
{
    ws_nsent **pp = &W.nsidx[ns_hash(ns)], *e;
    for (e = *pp; e; e = e->next)
        if (strcmp(e->ns, ns) == 0)
            return e;
    if (!add || (e = calloc(1, sizeof *e + strlen(ns) + 1)) == NULL)
        return NULL;
    strcpy(e->ns, ns);
    e->next = *pp;
    *pp = e;
    return e;
}

static void ns_remove_locked(const char *ns, ws_conn *c)
{
    ws_nsent **pp = &W.nsidx[ns_hash(ns)];
    for (; *pp; pp = &(*pp)->next) {
        ws_nsent *e = *pp;
        if (strcmp(e->ns, ns) != 0)
            continue;
        for (size_t i = 0; i < e->n; i++)
            if (e->conns[i] == c) {
                e->conns[i] = e->conns[--e->n];
                break;
            }
        if (e->n == 0) {
            *pp = e->next;
            free(e->conns);
            free(e);
        }
        return;
    }
}

static bool ns_add_locked(const char *ns, ws_conn *c)
{
    ws_nsent *e = ns_find_locked(ns, true);
    if (e == NULL)
        return false;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        ws_conn **v = realloc(e->conns, cap * sizeof *v);
        if (v == NULL) {
            if (e->n == 0)
                ns_remove_locked(ns, c);
            return false;
        }
        e->conns = v;
        e->cap = cap;
    }
    e->conns[e->n++] = c;
    return true;
}

static void on_event_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
static void index_set_locked(ws_conn *c, bool want);
static const char *const TOPIC_SUBJECT[WS_NTOPICS] = {
    [T_ACTIVATIONS] = SQ_SUBJ_EVT_ACTIVATION_ALL,
    [T_LOGS] = SQ_SUBJ_EVT_LOG_ALL,
    [T_ENTITIES] = SQ_SUBJ_EVT_ENTITY_ALL,
};

/* Counts c's subscriptions per topic into W.topic_n (none unless indexed) and subscribes
 * the gateway to a topic's events when its first socket subscription comes. A failed
 * subscribe is logged; the topic is tried again at its next socket subscription. */
static void count_topics_locked(ws_conn *c)
{
    int n[WS_NTOPICS] = { 0 };
    for (int i = 0; c->indexed && i < c->nsubs; i++)
        n[c->subs[i].topic]++;
    for (int t = 0; t < WS_NTOPICS; t++) {
        int before = W.topic_n[t];
        W.topic_n[t] += n[t] - c->counted[t];
        c->counted[t] = n[t];
        if (before > 0 && W.topic_n[t] == 0)
            W.topic_idle_us[t] = sq_mono_us();
        if (W.topic_n[t] > 0 && W.evsub[t] == NULL && !W.events_closed) {
            natsSubscription *s = NULL;
            if (natsConnection_Subscribe(&s, sq_bus_nc(G.bus), TOPIC_SUBJECT[t], on_event_msg,
                                         (void *)(intptr_t)t) != NATS_OK) {
                sq_warn("could not subscribe to %s: %s", TOPIC_SUBJECT[t], nats_GetLastError(NULL));
                continue;
            }
            if (t != T_ENTITIES)
                natsSubscription_SetPendingLimits(s, 65536, 256 * 1024 * 1024);
            W.evsub[t] = s;
        }
    }
}

void ws_events_release(int64_t now_us, bool everything)
{
    natsSubscription *drop[WS_NTOPICS] = { NULL };
    pthread_mutex_lock(&W.lock);
    W.events_closed = W.events_closed || everything;
    for (int t = 0; t < WS_NTOPICS; t++)
        if (W.evsub[t] != NULL &&
            (everything ||
             (W.topic_n[t] == 0 && now_us - W.topic_idle_us[t] >= WS_EVENTS_HOLD_US))) {
            drop[t] = W.evsub[t];
            W.evsub[t] = NULL;
        }
    pthread_mutex_unlock(&W.lock);
    for (int t = 0; t < WS_NTOPICS; t++)
        if (drop[t] != NULL) {
            natsSubscription_Unsubscribe(drop[t]);
            natsSubscription_Destroy(drop[t]);
        }
}

void ws_index_update_locked(ws_conn *c)
{
    bool want = c->auth == A_OK && c->nsubs > 0;
    if (want != c->indexed)
        index_set_locked(c, want);
    count_topics_locked(c);
}

/* Adds c to (want) or removes it from the namespace index. */
static void index_set_locked(ws_conn *c, bool want)
{
    if (want) {
        for (size_t i = 0; i < c->nns; i++)
            if (!ns_add_locked(c->nss[i], c)) {
                while (i-- > 0)
                    ns_remove_locked(c->nss[i], c);
                return; /* out of memory: the socket gets no events */
            }
    } else
        for (size_t i = 0; i < c->nns; i++)
            ns_remove_locked(c->nss[i], c);
    c->indexed = want;
}

/* ---- events (nats.c threads) ---------------------------------------------------------- */

#define WS_CHUNK 64 /* sockets queued to per hold of the lock */

static void deliver_locked(ws_conn *c, const ws_sub *s, const char *event, ws_body *body);

/* What an event is matched with. */
typedef struct {
    ws_topic topic;
    const char *ns, *name; /* the record's or the log line's action */
    const char *status;    /* activations: response.status */
    const char *id;        /* logs: the activation */
} ws_evt;

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

static bool sub_matches(const ws_sub *s, const ws_evt *ev)
{
    if (s->topic != ev->topic)
        return false;
    switch (ev->topic) {
    case T_ACTIVATIONS:
        return (s->name == NULL || strcmp(s->name, ev->name) == 0) &&
               (s->status == NULL || strcmp(s->status, ev->status) == 0);
    case T_LOGS:
        return (s->actid[0] == '\0' || strcmp(s->actid, ev->id) == 0) &&
               (s->name == NULL || action_matches(s->name, ev->ns, ev->name));
    case T_ENTITIES: return true;
    }
    return false;
}

/* The ids of ev->ns's sockets with a matching subscription (*out: malloc'd, the caller
 * frees it); their count. A snapshot: the event's text is then built, and its frames
 * queued, without holding the lock the whole time. */
static size_t takers(const ws_evt *ev, uint64_t **out)
{
    size_t n = 0;
    ws_nsent *e;

    *out = NULL;
    pthread_mutex_lock(&W.lock);
    if ((e = ns_find_locked(ev->ns, false)) != NULL && (*out = malloc(e->n * sizeof **out)))
        for (size_t k = 0; k < e->n; k++) {
            const ws_conn *c = e->conns[k];
            for (int i = 0; i < c->nsubs; i++)
                if (sub_matches(&c->subs[i], ev)) {
                    (*out)[n++] = c->id;
                    break;
                }
        }
    pthread_mutex_unlock(&W.lock);
    return n;
}

/* Queues body to every matching subscription of the sockets ids, WS_CHUNK sockets per hold
 * of the lock, waking the service thread after each chunk: it writes the first sockets out
 * while the next are queued (a socket closed meanwhile is not found; one is never found
 * twice: ids are not reused). */
static void fan_out(const uint64_t *ids, size_t n, const ws_evt *ev, const char *event,
                    ws_body *body)
{
    for (size_t i = 0; i < n; i += WS_CHUNK) {
        bool any = false;
        pthread_mutex_lock(&W.lock);
        for (size_t k = i; k < n && k < i + WS_CHUNK; k++) {
            ws_conn *c = ws_conn_find_locked(ids[k]);
            for (int j = 0; c != NULL && c->indexed && j < c->nsubs; j++)
                if (sub_matches(&c->subs[j], ev)) {
                    deliver_locked(c, &c->subs[j], event, body);
                    any = true;
                }
        }
        pthread_mutex_unlock(&W.lock);
        if (any)
            ws_kick();
    }
}

/* Queues one event to one subscription; body is the JSON text after the head
 * ("\"activation\":{...}}"). W.lock held. */
static void deliver_locked(ws_conn *c, const ws_sub *s, const char *event, ws_body *body)
{
    char head[160];
    int n;
    if (c->dropped > 0 && c->qbytes + body->len + sizeof head <= ws_queue_limit())
        n = snprintf(head, sizeof head, "{\"sub\":%lld,\"event\":\"%s\",\"dropped\":%llu,",
                     (long long)s->id, event, (unsigned long long)c->dropped);
    else
        n = snprintf(head, sizeof head, "{\"sub\":%lld,\"event\":\"%s\",", (long long)s->id, event);
    if (ws_enqueue_locked(c, head, (size_t)n, body, true))
        c->dropped = 0;
}

/* The body of an event from a JSON object: {"a":1} -> "a":1} (j: released here). */
static ws_body *body_of_object(json_t *j)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    ws_body *b = txt ? ws_body_new(txt + 1, strlen(txt + 1)) : NULL;
    free(txt);
    json_decref(j);
    return b;
}

/* One published event, decoded: what its kind's read() fills and render() turns into the
 * body every taker gets. */
typedef struct {
    msgpack_object o;
    union {
        sq_activation act;
        sq_entity_event entity;
        sq_log_event log;
    } u;
} ws_msg;

/* A topic's events: read() decodes a message and says what it is matched with (false: not
 * an event, dropped); render() makes the body, once, and names the event. */
typedef struct {
    ws_topic topic;
    size_t zone;
    bool (*read)(const char *data, size_t len, msgpack_zone *z, ws_msg *m, ws_evt *ev);
    ws_body *(*render)(const ws_msg *m, const char **event);
} ws_kind;

static bool read_activation(const char *data, size_t len, msgpack_zone *z, ws_msg *m, ws_evt *ev)
{
    if (sq_mp_unpack(data, len, z, &m->o) != SQ_OK ||
        sq_activation_from(&m->o, z, &m->u.act, NULL, 0) != SQ_OK)
        return false;
    ev->ns = m->u.act.namespace_;
    ev->name = m->u.act.name;
    ev->status = sq_act_status_str(m->u.act.status);
    return true;
}

/* the record's JSON text, serialised from its msgpack once for every socket */
static ws_body *render_activation(const ws_msg *m, const char **event)
{
    size_t jlen = 0;
    char *json = sq_mp_to_json_text(&m->o, &jlen), *txt;
    ws_body *b = NULL;
    *event = "activation";
    if (json != NULL && (txt = malloc(jlen + 16)) != NULL) {
        int n = snprintf(txt, jlen + 16, "\"activation\":%s}", json);
        b = ws_body_new(txt, (size_t)n);
        free(txt);
    }
    free(json);
    return b;
}

static bool read_entity(const char *data, size_t len, msgpack_zone *z, ws_msg *m, ws_evt *ev)
{
    if (sq_entity_event_decode(data, len, z, &m->u.entity, NULL, 0) != SQ_OK)
        return false;
    ev->ns = m->u.entity.ns;
    return true;
}

static ws_body *render_entity(const ws_msg *m, const char **event)
{
    const sq_entity_event *e = &m->u.entity;
    *event = "entity";
    return body_of_object(json_pack("{s:s, s:s, s:s, s:s}", "namespace", e->ns, "kind", e->kind,
                                    "name", e->name, "change", e->op));
}

static bool read_log(const char *data, size_t len, msgpack_zone *z, ws_msg *m, ws_evt *ev)
{
    const sq_log_event *e = &m->u.log;
    if (sq_log_event_decode(data, len, z, &m->u.log, NULL, 0) != SQ_OK ||
        (!e->end && e->line == NULL))
        return false;
    ev->ns = e->ns;
    ev->name = e->name;
    ev->id = e->id;
    return true;
}

static ws_body *render_log(const ws_msg *m, const char **event)
{
    const sq_log_event *e = &m->u.log;
    *event = e->end ? "end" : "log";
    return body_of_object(e->end ? json_pack("{s:s, s:s}", "activationId", e->id, "name", e->name)
                                 : json_pack("{s:s, s:s, s:s}", "activationId", e->id, "name",
                                             e->name, "line", e->line));
}

static const ws_kind K_ACTIVATION = { T_ACTIVATIONS, 2048, read_activation, render_activation };
static const ws_kind K_ENTITY = { T_ENTITIES, 1024, read_entity, render_entity };
static const ws_kind K_LOG = { T_LOGS, 1024, read_log, render_log };

/* One event to every socket subscribed to it: decoded, matched, rendered once if anyone
 * wants it, queued. */
static void on_event(natsMsg *msg, const ws_kind *k)
{
    msgpack_zone z;
    ws_msg m;
    ws_evt ev = { .topic = k->topic };
    const char *event = NULL;
    ws_body *body;
    uint64_t *ids = NULL;
    size_t n;

    msgpack_zone_init(&z, k->zone);
    if (k->read(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &m, &ev) &&
        (n = takers(&ev, &ids)) > 0 && (body = k->render(&m, &event)) != NULL) {
        fan_out(ids, n, &ev, event, body);
        ws_body_unref(body);
    }
    free(ids);
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
}

/* The callback of the event subscriptions; closure: the topic. */
static void on_event_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    static const ws_kind *const kinds[WS_NTOPICS] = {
        [T_ACTIVATIONS] = &K_ACTIVATION,
        [T_LOGS] = &K_LOG,
        [T_ENTITIES] = &K_ENTITY,
    };
    on_event(msg, kinds[(intptr_t)closure]);
}

void gw_ws_on_auth_event(natsMsg *msg)
{
    msgpack_zone z;
    sq_auth_event e;
    const char *subj = NULL;

    msgpack_zone_init(&z, 512);
    /* an event it cannot read: every socket's key is verified again */
    if (sq_auth_event_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &e, NULL,
                             0) == SQ_OK)
        subj = e.subject;
    pthread_mutex_lock(&W.lock);
    for (ws_conn *c = W.all; c; c = c->next)
        if (c->auth == A_OK && c->close_code == 0 &&
            (subj == NULL || strcmp(subj, c->subject) == 0))
            ws_verify_locked(c, P_RECHECK, NULL);
    pthread_mutex_unlock(&W.lock);
    msgpack_zone_destroy(&z);
    ws_kick();
}
