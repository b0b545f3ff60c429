/* The gateway's shared state between the lws service thread and the NATS reply thread:
 * the table of requests waiting on the bus (and sending a request's leg into it), the queue
 * of responses ready to write, and the short-lived cache of verified API keys. Everything
 * here is guarded by G.lock. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/util.h"
#include <sodium.h>

#define NBUCKETS (sizeof G.pending / sizeof G.pending[0])

void gw_pending_add(gw_req *r, gw_wait w, int timeout_ms)
{
    pthread_mutex_lock(&G.lock);
    r->wait = w;
    r->deadline_us = timeout_ms > 0 ? sq_mono_us() + (int64_t)timeout_ms * 1000 : 0;
    r->next = G.pending[r->id % NBUCKETS];
    G.pending[r->id % NBUCKETS] = r;
    pthread_mutex_unlock(&G.lock);
}

static gw_req *unlink_locked(uint64_t id)
{
    gw_req **pp = &G.pending[id % NBUCKETS];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            gw_req *r = *pp;
            *pp = r->next;
            r->next = NULL;
            return r;
        }
    return NULL;
}

/* Puts r into the table first (the reply may come back before publish returns), then
 * publishes the leg. */
bool gw_send_leg(gw_req *r, const char *subject, const msgpack_sbuffer *sb, int timeout_ms)
{
    gw_wait w = r->leg == GW_LEG_AUTH ? GW_WAIT_AUTH : GW_WAIT_OP;
    char reply[160];
    natsStatus s;

    pthread_mutex_lock(&G.lock);
    r->id = ++G.next_id;
    pthread_mutex_unlock(&G.lock);
    /* invocations are answered by invokers and schedulers: an inbox of their own, which can
     * complete nothing but an invocation */
    snprintf(reply, sizeof reply, "%s.%llu",
             w == GW_WAIT_OP && gw_invocation_leg(r) ? G.run_inbox : G.inbox,
             (unsigned long long)r->id);
    gw_pending_add(r, w, timeout_ms);
    if (w == GW_WAIT_OP && gw_invocation_leg(r)) /* answered later, by another service */
        s = sq_bus_publish_hdr_reply(sq_bus_nc(G.bus), subject, reply, sb->data, sb->size);
    else
        s = natsConnection_PublishRequest(sq_bus_nc(G.bus), subject, reply, sb->data,
                                          (int)sb->size);
    if (s == NATS_OK)
        return false;
    if (gw_pending_take(r->id) == NULL)
        return false; /* already answered (a reply cannot come without a publish, but be safe) */
    gw_respond_error(r, 503, "The platform is not reachable: %s", natsStatus_GetText(s));
    return true;
}

gw_req *gw_pending_take(uint64_t id)
{
    gw_req *r;
    pthread_mutex_lock(&G.lock);
    r = unlink_locked(id);
    if (r != NULL)
        r->wait = GW_WAIT_BUSY;
    pthread_mutex_unlock(&G.lock);
    return r;
}

gw_req *gw_pending_take_leg(uint64_t id, bool invoke)
{
    gw_req *r;
    pthread_mutex_lock(&G.lock);
    for (r = G.pending[id % NBUCKETS]; r != NULL && r->id != id; r = r->next)
        ;
    if (r != NULL && (r->wait == GW_WAIT_OP && gw_invocation_leg(r)) == invoke) {
        unlink_locked(id);
        r->wait = GW_WAIT_BUSY;
    } else
        r = NULL;
    pthread_mutex_unlock(&G.lock);
    return r;
}

void gw_ready_push(gw_req *r)
{
    pthread_mutex_lock(&G.lock);
    r->wait = GW_WAIT_READY;
    r->next = NULL;
    if (G.ready_tail)
        G.ready_tail->next = r;
    else
        G.ready_head = r;
    G.ready_tail = r;
    pthread_mutex_unlock(&G.lock);
    lws_cancel_service(G.ctx);
}

gw_req *gw_ready_pop_all(void)
{
    gw_req *r;
    pthread_mutex_lock(&G.lock);
    r = G.ready_head;
    G.ready_head = G.ready_tail = NULL;
    for (gw_req *x = r; x; x = x->next)
        x->wait = GW_WAIT_NONE;
    pthread_mutex_unlock(&G.lock);
    return r;
}

gw_req *gw_pending_expired(int64_t now_us)
{
    gw_req *expired = NULL;

    pthread_mutex_lock(&G.lock);
    for (size_t b = 0; b < NBUCKETS; b++) {
        gw_req **pp = &G.pending[b];
        while (*pp) {
            gw_req *r = *pp;
            if (r->deadline_us != 0 && r->deadline_us <= now_us) {
                *pp = r->next;
                r->wait = GW_WAIT_BUSY;
                r->next = expired;
                expired = r;
            } else
                pp = &r->next;
        }
    }
    pthread_mutex_unlock(&G.lock);
    return expired;
}

void gw_add_header(gw_req *r, const char *name, const char *value)
{
    size_t a = strlen(name) + 1, b = strlen(value) + 1;
    char *h = realloc(r->resp_hdrs, r->resp_hdrs_len + a + b);
    if (h == NULL)
        return;
    memcpy(h + r->resp_hdrs_len, name, a);
    memcpy(h + r->resp_hdrs_len + a, value, b);
    r->resp_hdrs = h;
    r->resp_hdrs_len += a + b;
}

void gw_add_cors(gw_req *r, const char *request_headers)
{
    r->cors = true;
    gw_add_header(r, "Access-Control-Allow-Methods",
                  "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH");
    gw_add_header(
        r, "Access-Control-Allow-Headers",
        request_headers && *request_headers
            ? request_headers
            : "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent");
}

void gw_respond(gw_req *r, int status, char *json, size_t len)
{
    free(r->resp);
    r->status = status;
    r->resp = json;
    r->resp_len = len;
    r->resp_off = 0;
    r->answered = true;
}

char *gw_error_vjson(json_t *code, const char *fmt, va_list ap)
{
    char msg[1024], *txt;
    json_t *j;

    vsnprintf(msg, sizeof msg, fmt, ap);
    /* the message may quote the request (a name with %ff in it): JSON wants UTF-8 */
    j = code
            ? json_pack("{s:o, s:o}", "error", sq_json_string_lossy(msg, strlen(msg)), "code", code)
            : NULL;
    txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return txt;
}

void gw_respond_error(gw_req *r, int status, const char *fmt, ...)
{
    char code[24], *txt;
    va_list ap;

    snprintf(code, sizeof code, "%016llx", (unsigned long long)(r->rid ? r->rid : r->id));
    va_start(ap, fmt);
    txt = gw_error_vjson(json_string(code), fmt, ap);
    va_end(ap);
    if (txt == NULL) {
        txt = strdup("{\"error\":\"out of memory\"}");
        status = 500;
    }
    gw_respond(r, status, txt, txt ? strlen(txt) : 0);
}

/* ---- auth cache: small open hash of verified keys -------------------------------------- */

#define CACHE_SLOTS 256

static struct cache_entry {
    char key[160];
    char raw[2048];
    size_t len;
    int64_t expires_us;
} cache[CACHE_SLOTS];

static size_t slot_of(const char *key)
{
    return sq_hash_str(SQ_HASH_INIT, key) % CACHE_SLOTS;
}

bool gw_auth_cache_get(const char *key, char *raw, size_t cap, size_t *len)
{
    struct cache_entry *e = &cache[slot_of(key)];
    char padded[sizeof e->key] = { 0 };
    bool hit = false;

    /* compared in constant time over the whole (zero-padded) slot */
    if (strlen(key) >= sizeof padded)
        return false;
    memcpy(padded, key, strlen(key));
    pthread_mutex_lock(&G.lock);
    if (e->expires_us > sq_mono_us() && e->len <= cap &&
        sodium_memcmp(e->key, padded, sizeof e->key) == 0) {
        memcpy(raw, e->raw, e->len);
        *len = e->len;
        hit = true;
    }
    pthread_mutex_unlock(&G.lock);
    sodium_memzero(padded, sizeof padded);
    return hit;
}

void gw_auth_cache_put(const char *key, const char *raw, size_t len)
{
    struct cache_entry *e = &cache[slot_of(key)];
    if (strlen(key) >= sizeof e->key || len > sizeof e->raw || G.cfg.auth_cache_ms == 0)
        return;
    pthread_mutex_lock(&G.lock);
    memset(e->key, 0, sizeof e->key);
    strcpy(e->key, key);
    memcpy(e->raw, raw, len);
    e->len = len;
    e->expires_us = sq_mono_us() + (int64_t)G.cfg.auth_cache_ms * 1000;
    pthread_mutex_unlock(&G.lock);
}

void gw_auth_cache_clear(void)
{
    pthread_mutex_lock(&G.lock);
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        cache[i].expires_us = 0;
    pthread_mutex_unlock(&G.lock);
}

size_t gw_body_limit(const gw_req *r)
{
    bool action_put = r->method == GW_PUT && strstr(r->path, "/actions/") != NULL;
    return (size_t)(action_put ? G.cfg.max_action_body_kb : G.cfg.max_body_kb) * 1024;
}

/* ---- read your writes: the revision of the actions this gateway just wrote --------------- */

#define REV_SLOTS 1024
#define REV_TTL_MS 30000

static struct {
    pthread_mutex_t lock;
    struct {
        char key[320];
        int64_t rev, expires_ms;
    } slot[REV_SLOTS];
} revs = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t rev_slot(const char *ns, const char *name, char *key, size_t keylen)
{
    snprintf(key, keylen, "%s/%s", ns, name);
    return (size_t)(sq_hash_str(SQ_HASH_INIT, key) % REV_SLOTS);
}

void gw_rev_note(const char *ns, const char *name, int64_t rev)
{
    char key[320];
    size_t i = rev_slot(ns, name, key, sizeof key);
    pthread_mutex_lock(&revs.lock);
    snprintf(revs.slot[i].key, sizeof revs.slot[i].key, "%s", key);
    revs.slot[i].rev = rev;
    revs.slot[i].expires_ms = sq_now_ms() + REV_TTL_MS;
    pthread_mutex_unlock(&revs.lock);
}

int64_t gw_rev_min(const char *ns, const char *name)
{
    char key[320];
    size_t i = rev_slot(ns, name, key, sizeof key);
    int64_t rev = 0;
    pthread_mutex_lock(&revs.lock);
    if (revs.slot[i].expires_ms > sq_now_ms() && strcmp(revs.slot[i].key, key) == 0)
        rev = revs.slot[i].rev;
    pthread_mutex_unlock(&revs.lock);
    return rev;
}
