/* The trigger cache, the entity events that keep it true, the namespace limits and the
 * fires-per-minute windows.
 *
 * A fire needs the trigger and its active rules: one registry read that the cache saves.
 * "A rule enabled or disabled takes effect on the very next fire" holds because the entity
 * events are read from a *synchronous* subscription that every fire drains before it looks
 * at the cache: the registry publishes sq.evt.entity.<ns>.rule before it answers the change,
 * so the event reaches this connection before any fire the caller sends afterwards, and the
 * connection's reader has queued it by the time the fire is delivered. (An asynchronous
 * subscription would hand the event to another thread, which may run after the fire.)
 *
 * Rates: each copy counts the fires of a namespace in fixed one-minute windows, as
 * OpenWhisk's controllers do; N copies behind one queue group share the load, so the limit
 * is enforced per copy (documented). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq/log.h"
#include "sq/util.h"
#include "triggers.h"

#define NBUCKETS 1024

static int64_t mono_ms(void)
{
    return sq_mono_us() / 1000;
}

/* ---- the view's own format ------------------------------------------------------------ */

/* sq_trigger_view of proto/ */
void trg_view_pack(const trg_view *v, msgpack_packer *pk)
{
    sq_trigger_view w = { .ns = v->ns,
                          .name = v->name,
                          .version = v->version,
                          .parameters = v->parameters,
                          .annotations = v->annotations,
                          .rules = v->rules,
                          .nrules = v->nrules };
    sq_trigger_view_encode(&w, pk);
}

bool trg_view_unpack(const char *buf, size_t len, sq_arena_t *ar, trg_view *v)
{
    sq_trigger_view w;

    memset(v, 0, sizeof *v);
    if (sq_trigger_view_decode(buf, len, ar, &w, NULL, 0) != SQ_OK)
        return false;
    v->ns = w.ns;
    v->name = w.name;
    v->version = w.version;
    v->parameters = w.parameters;
    v->annotations = w.annotations;
    v->rules = w.rules;
    v->nrules = w.nrules;
    return true;
}

/* ---- the cache --------------------------------------------------------------------------- */

typedef struct entry {
    struct entry *next;
    char *ns, *name;
    char *data;
    size_t len;
    int64_t expires;
} entry;

struct trg_cache {
    pthread_mutex_t lock;
    pthread_mutex_t sync_lock; /* one drainer of the event subscription at a time */
    natsSubscription *events;
    entry *buckets[NBUCKETS];
    size_t count;
    int max;
    uint64_t gen;
};

static uint64_t hash2(const char *a, const char *b)
{
    return sq_hash_str(sq_hash_byte(sq_hash_str(SQ_HASH_INIT, a), 0xff), b);
}

static void entry_free(entry *e)
{
    if (e == NULL)
        return;
    free(e->ns);
    free(e->name);
    free(e->data);
    free(e);
}

trg_cache *trg_cache_create(natsSubscription *events, int max)
{
    trg_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->sync_lock, NULL);
    c->events = events;
    c->max = max;
    return c;
}

/* Removes entries of ns (and name, unless name is NULL). Lock held; the caller bumps gen. */
static void drop_locked(trg_cache *c, const char *ns, const char *name)
{
    size_t first = 0, last = NBUCKETS;
    if (name != NULL) {
        first = hash2(ns, name) % NBUCKETS;
        last = first + 1;
    }
    for (size_t b = first; b < last; b++) {
        entry **pp = &c->buckets[b];
        while (*pp) {
            entry *e = *pp;
            if (strcmp(e->ns, ns) == 0 && (name == NULL || strcmp(e->name, name) == 0)) {
                *pp = e->next;
                entry_free(e);
                c->count--;
            } else
                pp = &e->next;
        }
    }
}

static void clear_locked(trg_cache *c)
{
    for (size_t b = 0; b < NBUCKETS; b++) {
        entry *e = c->buckets[b];
        while (e) {
            entry *n = e->next;
            entry_free(e);
            e = n;
        }
        c->buckets[b] = NULL;
    }
    c->count = 0;
    c->gen++;
}

void trg_cache_clear(trg_cache *c)
{
    pthread_mutex_lock(&c->lock);
    clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}

void trg_cache_destroy(trg_cache *c)
{
    if (c == NULL)
        return;
    clear_locked(c);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->sync_lock);
    free(c);
}

/* One entity event: a trigger change drops that trigger; a rule change drops every trigger
 * of the rule's namespace (a rule may move from one trigger to another). */
static void apply_event(trg_cache *c, natsMsg *m)
{
    msgpack_zone z;
    sq_entity_event ev;
    char err[128];

    if (!msgpack_zone_init(&z, 512))
        return;
    if (sq_entity_event_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &z, &ev, err,
                               sizeof err) != SQ_OK) {
        sq_warn("ignored a malformed entity event: %s", err);
    } else if (strcmp(ev.kind, SQ_KIND_TRIGGER) == 0 || strcmp(ev.kind, SQ_KIND_RULE) == 0) {
        pthread_mutex_lock(&c->lock);
        drop_locked(c, ev.ns, strcmp(ev.kind, SQ_KIND_TRIGGER) == 0 ? ev.name : NULL);
        c->gen++;
        pthread_mutex_unlock(&c->lock);
    }
    msgpack_zone_destroy(&z);
}

void trg_cache_sync(trg_cache *c)
{
    int msgs = 0, bytes = 0;

    if (c->events == NULL)
        return;
    pthread_mutex_lock(&c->sync_lock);
    for (;;) {
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_GetPending(c->events, &msgs, &bytes);
        if (s == NATS_SLOW_CONSUMER) {
            /* events were dropped: nothing cached can be trusted */
            sq_warn("missed entity events; dropping the trigger cache");
            trg_cache_clear(c);
            continue;
        }
        if (s != NATS_OK || msgs <= 0)
            break;
        s = natsSubscription_NextMsg(&m, c->events, 100);
        if (s == NATS_SLOW_CONSUMER) {
            trg_cache_clear(c);
            continue;
        }
        if (s != NATS_OK)
            break;
        apply_event(c, m);
        natsMsg_Destroy(m);
    }
    pthread_mutex_unlock(&c->sync_lock);
}

uint64_t trg_cache_gen(trg_cache *c)
{
    uint64_t g;
    pthread_mutex_lock(&c->lock);
    g = c->gen;
    pthread_mutex_unlock(&c->lock);
    return g;
}

bool trg_cache_get(trg_cache *c, const char *ns, const char *name, sq_arena_t *ar, trg_view *out)
{
    entry *e;
    char *copy = NULL;
    size_t len = 0;
    int64_t now = mono_ms();

    pthread_mutex_lock(&c->lock);
    for (e = c->buckets[hash2(ns, name) % NBUCKETS]; e; e = e->next)
        if (strcmp(e->ns, ns) == 0 && strcmp(e->name, name) == 0)
            break;
    if (e != NULL && e->expires > now && (copy = msgpack_zone_malloc(ar, e->len)) != NULL) {
        memcpy(copy, e->data, e->len);
        len = e->len;
    }
    pthread_mutex_unlock(&c->lock);
    return copy != NULL && trg_view_unpack(copy, len, ar, out);
}

void trg_cache_put(trg_cache *c, const trg_view *v, uint64_t gen, int ttl_ms)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    entry *e;
    size_t b;

    if (ttl_ms <= 0)
        return;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return;
    sq_proto_buf_init(&sb, &pk);
    trg_view_pack(v, &pk);
    e->data = sb.data; /* the sbuffer's memory is the entry's now */
    e->len = sb.size;
    e->ns = strdup(v->ns);
    e->name = strdup(v->name);
    e->expires = mono_ms() + ttl_ms;
    if (!e->data || !e->ns || !e->name) {
        entry_free(e);
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (gen != c->gen) {
        /* an event came in while the registry was read: what was read may be stale */
        pthread_mutex_unlock(&c->lock);
        entry_free(e);
        return;
    }
    drop_locked(c, v->ns, v->name);
    if (c->count >= (size_t)c->max) {
        clear_locked(c);
        c->gen = gen; /* making room is not a change */
    }
    b = hash2(v->ns, v->name) % NBUCKETS;
    e->next = c->buckets[b];
    c->buckets[b] = e;
    c->count++;
    pthread_mutex_unlock(&c->lock);
}

/* ---- limits and rates ------------------------------------------------------------------- */

typedef struct ns_rate {
    struct ns_rate *next;
    char *ns;
    int64_t limit, limit_expires; /* fires per minute, from auth; mono ms */
    sq_status refused;            /* SQ_OK; SQ_ERR_FORBIDDEN: the subject is blocked;
                                      SQ_ERR_NOT_FOUND: auth knows no such namespace */
    int64_t window, count;        /* the minute (wall clock / 60000) and the fires in it */
} ns_rate;

static struct {
    pthread_mutex_t lock;
    ns_rate *buckets[NBUCKETS];
    uint64_t gen; /* bumped when auth says limits changed */
} R = { .lock = PTHREAD_MUTEX_INITIALIZER };

static ns_rate *rate_find_locked(const char *ns, bool create)
{
    size_t b = hash2(ns, "") % NBUCKETS;
    ns_rate *r;
    for (r = R.buckets[b]; r; r = r->next)
        if (strcmp(r->ns, ns) == 0)
            return r;
    if (!create || (r = calloc(1, sizeof *r)) == NULL)
        return NULL;
    if ((r->ns = strdup(ns)) == NULL) {
        free(r);
        return NULL;
    }
    r->next = R.buckets[b];
    R.buckets[b] = r;
    return r;
}

/* The namespace's fires per minute from auth; the default when auth does not answer.
 * *refused: SQ_ERR_FORBIDDEN when auth says the namespace's subject is blocked,
 * SQ_ERR_NOT_FOUND when auth says the namespace does not exist (deleted), else SQ_OK. */
static int64_t fetch_limit(sq_bus_t *bus, const char *ns, sq_status *refused)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    natsMsg *reply = NULL;
    sq_ns_ref ref = { .ns = (char *)ns };
    int64_t limit = trg_cfg.default_fires_per_minute;

    *refused = SQ_OK;
    sq_proto_buf_init(&sb, &pk);
    sq_ns_ref_encode(&ref, &pk);
    if (sq_bus_request(bus, SQ_SUBJ_AUTH_LIMITS, sb.data, sb.size, trg_cfg.limits_timeout_ms,
                       &reply) == SQ_OK) {
        msgpack_zone z;
        sq_ns_limits l;
        msgpack_object o;
        int code;
        const char *m;
        size_t mlen;
        msgpack_zone_init(&z, 512);
        if (sq_mp_unpack(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), &z, &o) ==
            SQ_OK) {
            if (sq_wire_error_get(&o, &code, &m, &mlen)) {
                if (code == 404)
                    *refused = SQ_ERR_NOT_FOUND;
            } else if (sq_ns_limits_from(&o, &z, &l, NULL, 0) == SQ_OK) {
                if (l.fires_per_minute > 0)
                    limit = l.fires_per_minute;
                if (l.blocked)
                    *refused = SQ_ERR_FORBIDDEN;
            }
        }
        msgpack_zone_destroy(&z);
        natsMsg_Destroy(reply);
    }
    msgpack_sbuffer_destroy(&sb);
    return limit;
}

sq_status trg_rate_admit(sq_bus_t *bus, const char *ns, int64_t *count, int64_t *allowed)
{
    int64_t now = mono_ms(), window = sq_now_ms() / 60000, limit = -1;
    uint64_t gen;
    ns_rate *r;
    sq_status st = SQ_OK, refused = SQ_OK;

    pthread_mutex_lock(&R.lock);
    r = rate_find_locked(ns, true);
    if (r != NULL && r->limit > 0 && r->limit_expires > now) {
        limit = r->limit;
        refused = r->refused;
    }
    gen = R.gen;
    pthread_mutex_unlock(&R.lock);

    if (limit < 0) {
        /* asked outside the lock: auth may be slow */
        limit = fetch_limit(bus, ns, &refused);
        pthread_mutex_lock(&R.lock);
        r = rate_find_locked(ns, true);
        if (r != NULL && gen == R.gen) {
            r->limit = limit;
            r->refused = refused;
            r->limit_expires = now + trg_cfg.limits_ttl_ms;
        }
        pthread_mutex_unlock(&R.lock);
    }
    if (refused != SQ_OK) {
        *count = 0;
        *allowed = 0;
        return refused; /* blocked or deleted: not counted */
    }

    pthread_mutex_lock(&R.lock);
    r = rate_find_locked(ns, true);
    if (r != NULL) {
        if (r->window != window) {
            r->window = window;
            r->count = 0;
        }
        if (r->count >= limit)
            st = SQ_ERR_TOO_MANY;
        else
            r->count++;
        *count = r->count + (st == SQ_OK ? 0 : 1);
    } else
        *count = 0;
    *allowed = limit;
    pthread_mutex_unlock(&R.lock);
    return st;
}

void trg_limits_drop(void)
{
    pthread_mutex_lock(&R.lock);
    for (size_t b = 0; b < NBUCKETS; b++)
        for (ns_rate *r = R.buckets[b]; r; r = r->next)
            r->limit_expires = 0;
    R.gen++;
    pthread_mutex_unlock(&R.lock);
}

void trg_limits_fini(void)
{
    pthread_mutex_lock(&R.lock);
    for (size_t b = 0; b < NBUCKETS; b++) {
        ns_rate *r = R.buckets[b];
        while (r) {
            ns_rate *n = r->next;
            free(r->ns);
            free(r);
            r = n;
        }
        R.buckets[b] = NULL;
    }
    pthread_mutex_unlock(&R.lock);
}

void trg_on_auth_event(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    /* {op: "key"|"block"|"delete"|"limits", ...}: only limits matter here, and dropping
     * them on any auth event is cheap and safe */
    trg_limits_drop();
}
