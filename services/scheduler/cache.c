/* The scheduler's action cache: resolved actions keyed by the namespace and name they were
 * invoked by, so that the invoke path makes no round trip on a hit. Entries are immutable
 * and reference-counted (a reader keeps using an entry that an invalidation has just
 * dropped); they expire after a TTL in case an entity event was missed, and an
 * invalidation generation keeps a registry answer that raced with a change out of the
 * cache. One mutex guards the table: it is held for a lookup or an unlink, never across I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

struct sched_cache {
    pthread_mutex_t lock;
    sched_entry **buckets;
    size_t mask;
    int count, max;
    atomic_uint_fast64_t gen;
};

uint64_t sched_key_hash(const char *ns, const char *name, bool shared)
{
    uint64_t h = sq_hash_str(sq_hash_byte(sq_hash_str(SQ_HASH_INIT, ns), '/'), name);
    return shared ? sq_hash_byte(h, '!') : h;
}

sched_cache *sched_cache_create(int max)
{
    sched_cache *c = calloc(1, sizeof *c);
    size_t n = 64;
    if (c == NULL)
        return NULL;
    while (n < (size_t)max)
        n <<= 1;
    if ((c->buckets = calloc(n, sizeof *c->buckets)) == NULL) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    c->max = max;
    atomic_init(&c->gen, 0);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void sched_cache_destroy(sched_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        for (sched_entry *e = c->buckets[i], *n; e != NULL; e = n) {
            n = e->next;
            sched_entry_unref(e);
        }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void sched_entry_unref(sched_entry *e)
{
    if (e == NULL || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    msgpack_zone_destroy(&e->zone);
    free(e->buf);
    free(e->ns);
    free(e);
}

static bool same_key(const sched_entry *e, uint64_t hash, const char *ns, const char *name,
                     bool shared)
{
    return e->hash == hash && e->shared == shared && strcmp(e->name, name) == 0 &&
           strcmp(e->ns, ns) == 0;
}

/* Unlinks *pp (lock held) and drops the table's reference. */
static void unlink_at(sched_cache *c, sched_entry **pp)
{
    sched_entry *e = *pp;
    *pp = e->next;
    e->next = NULL;
    c->count--;
    sched_entry_unref(e);
}

sched_entry *sched_cache_get(sched_cache *c, uint64_t hash, const char *ns, const char *name,
                             bool shared, int64_t now_ms)
{
    sched_entry *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (sched_entry **pp = &c->buckets[hash & c->mask]; *pp != NULL; pp = &(*pp)->next) {
        if (!same_key(*pp, hash, ns, name, shared))
            continue;
        if ((*pp)->expires_ms <= now_ms) {
            unlink_at(c, pp);
        } else {
            found = *pp;
            atomic_fetch_add_explicit(&found->refs, 1, memory_order_relaxed);
        }
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* Collects the action's parameters [{key, value}] as key/value pairs, later duplicates
 * winning; entries that are not {key: str, value} are skipped (the registry validates). */
static sq_status collect_defaults(sched_entry *e)
{
    const msgpack_object *p = &e->action.parameters;
    uint32_t n = 0;

    e->defaults = NULL;
    e->ndefaults = 0;
    if (p->type == MSGPACK_OBJECT_ARRAY && p->via.array.size > 0) {
        e->defaults = msgpack_zone_malloc(&e->zone, sizeof(msgpack_object_kv) * p->via.array.size);
        if (e->defaults == NULL)
            return SQ_ERR_NOMEM;
        for (uint32_t i = 0; i < p->via.array.size; i++) {
            sq_kv kv;
            size_t klen;
            uint32_t j;
            /* init: true (OpenWhisk): the invoker gives it to the runtime at initialisation,
             * as an environment variable; it is no argument */
            if (sq_kv_from(&p->via.array.ptr[i], &e->zone, &kv, NULL, 0) != SQ_OK || kv.init)
                continue;
            klen = strlen(kv.key);
            for (j = 0; j < n; j++)
                if (e->defaults[j].key.via.str.size == klen &&
                    memcmp(e->defaults[j].key.via.str.ptr, kv.key, klen) == 0)
                    break;
            e->defaults[j].key.type = MSGPACK_OBJECT_STR;
            e->defaults[j].key.via.str.ptr = kv.key;
            e->defaults[j].key.via.str.size = (uint32_t)klen;
            e->defaults[j].val = kv.value; /* nil when absent */
            if (j == n)
                n++;
        }
    }
    e->ndefaults = n;
    e->defaults_map.type = MSGPACK_OBJECT_MAP;
    e->defaults_map.via.map.size = n;
    e->defaults_map.via.map.ptr = e->defaults;
    return SQ_OK;
}

/* OpenWhisk's rule for boolean annotations (conductor, final, provide-api-key): the
 * annotation is there with a value that is not falsy (zero, null, false, the empty string). */
static bool annotation_truthy(const msgpack_object *annotations, const char *key)
{
    const msgpack_object *v = sq_kv_value(annotations, key);
    if (v == NULL)
        return false;
    switch (v->type) {
    case MSGPACK_OBJECT_NIL: return false;
    case MSGPACK_OBJECT_BOOLEAN: return v->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return v->via.u64 != 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return v->via.f64 != 0.0;
    case MSGPACK_OBJECT_STR: return v->via.str.size > 0;
    default: return true;
    }
}

sq_status sched_entry_create(sched_entry **out, const char *ns, const char *name, bool shared,
                             uint64_t hash, const char *data, size_t len, char *err, size_t errlen)
{
    size_t nslen = strlen(ns), namelen = strlen(name);
    sched_entry *e = calloc(1, sizeof *e);
    msgpack_object o;
    sq_status st;
    int code;
    const char *m;
    size_t mlen;

    *out = NULL;
    if (e == NULL)
        return SQ_ERR_NOMEM;
    atomic_init(&e->refs, 1);
    e->hash = hash;
    e->shared = shared;
    if (!msgpack_zone_init(&e->zone, 4096)) {
        free(e);
        return SQ_ERR_NOMEM;
    }
    e->buf = malloc(len ? len : 1);
    e->ns = malloc(nslen + namelen + 2);
    if (e->buf == NULL || e->ns == NULL) {
        st = SQ_ERR_NOMEM;
        goto fail;
    }
    memcpy(e->buf, data, len);
    e->len = len;
    memcpy(e->ns, ns, nslen + 1);
    e->name = e->ns + nslen + 1;
    memcpy(e->name, name, namelen + 1);

    if ((st = sq_mp_unpack(e->buf, e->len, &e->zone, &o)) != SQ_OK) {
        snprintf(err, errlen, "malformed msgpack");
        goto fail;
    }
    if (sq_wire_error_get(&o, &code, &m, &mlen)) {
        st = SQ_ERR_NOT_FOUND;
        goto fail;
    }
    if ((st = sq_action_from(&o, &e->zone, &e->action, err, errlen)) != SQ_OK)
        goto fail;
    e->sequence = strcmp(e->action.exec.kind, "sequence") == 0;
    if (e->sequence) {
        const msgpack_object *c = &e->action.exec.components;
        if (c->type != MSGPACK_OBJECT_ARRAY) {
            snprintf(err, errlen, "the sequence lists no components");
            st = SQ_ERR_DECODE;
            goto fail;
        }
        for (uint32_t i = 0; i < c->via.array.size; i++)
            if (c->via.array.ptr[i].type != MSGPACK_OBJECT_STR) {
                snprintf(err, errlen, "a component of the sequence is not a name");
                st = SQ_ERR_DECODE;
                goto fail;
            }
    } else if (e->action.exec.code == NULL) {
        snprintf(err, errlen, "the action carries no code");
        st = SQ_ERR_DECODE;
        goto fail;
    } else {
        /* the conductor annotation is ignored on sequences (docs/conductors.md) */
        e->conductor = annotation_truthy(&e->action.annotations, "conductor");
    }
    e->final = annotation_truthy(&e->action.annotations, "final");
    e->provide_key = annotation_truthy(&e->action.annotations, "provide-api-key");
    if ((st = collect_defaults(e)) != SQ_OK)
        goto fail;
    *out = e;
    return SQ_OK;
fail:
    sched_entry_unref(e);
    return st;
}

uint64_t sched_cache_gen(sched_cache *c)
{
    return atomic_load_explicit(&c->gen, memory_order_acquire);
}

/* Makes room for one entry (lock held): expired entries first, else the one that expires
 * soonest. Runs only when the cache is full, which a sane deployment rarely sees. */
static void evict(sched_cache *c, int64_t now_ms)
{
    sched_entry **victim = NULL;
    for (size_t i = 0; i <= c->mask; i++)
        for (sched_entry **pp = &c->buckets[i]; *pp != NULL;) {
            if ((*pp)->expires_ms <= now_ms) {
                unlink_at(c, pp);
                continue;
            }
            if (victim == NULL || (*pp)->expires_ms < (*victim)->expires_ms)
                victim = pp;
            pp = &(*pp)->next;
        }
    if (c->count >= c->max && victim != NULL)
        unlink_at(c, victim);
}

void sched_cache_put(sched_cache *c, sched_entry *e, uint64_t gen, int64_t now_ms, int ttl_ms)
{
    sched_entry **head;
    if (ttl_ms <= 0)
        return;
    pthread_mutex_lock(&c->lock);
    /* Checked under the lock: sched_cache_drop bumps the generation while holding it. */
    if (atomic_load_explicit(&c->gen, memory_order_relaxed) != gen) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    head = &c->buckets[e->hash & c->mask];
    for (sched_entry **pp = head; *pp != NULL; pp = &(*pp)->next)
        if (same_key(*pp, e->hash, e->ns, e->name, e->shared)) {
            unlink_at(c, pp);
            break;
        }
    if (c->count >= c->max)
        evict(c, now_ms);
    e->expires_ms = now_ms + ttl_ms;
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    e->next = *head;
    *head = e;
    c->count++;
    pthread_mutex_unlock(&c->lock);
}

void sched_cache_drop(sched_cache *c, const char *ns, const char *name, bool package)
{
    int dropped = 0;
    pthread_mutex_lock(&c->lock);
    atomic_fetch_add_explicit(&c->gen, 1, memory_order_release);
    if (package) {
        for (size_t i = 0; i <= c->mask; i++)
            for (sched_entry **pp = &c->buckets[i]; *pp != NULL;) {
                if (strchr((*pp)->name, '/') != NULL) {
                    unlink_at(c, pp);
                    dropped++;
                } else
                    pp = &(*pp)->next;
            }
    } else {
        for (int shared = 0; shared < 2; shared++) {
            uint64_t h = sched_key_hash(ns, name, shared);
            for (sched_entry **pp = &c->buckets[h & c->mask]; *pp != NULL; pp = &(*pp)->next)
                if (same_key(*pp, h, ns, name, shared)) {
                    unlink_at(c, pp);
                    dropped++;
                    break;
                }
        }
    }
    pthread_mutex_unlock(&c->lock);
    sq_debug("dropped %d cached action(s) for \"%s/%s\"", dropped, ns, name);
}

sq_status sched_lookup(sched *s, const char *ns, const char *name, bool shared, sched_entry **out,
                       natsMsg **wire, char *err, size_t errlen)
{
    return sched_lookup_rev(s, ns, name, shared, 0, out, wire, err, errlen);
}

sq_status sched_lookup_rev(sched *s, const char *ns, const char *name, bool shared, int64_t min_rev,
                           sched_entry **out, natsMsg **wire, char *err, size_t errlen)
{
    sq_reg_ref ref = {
        .ns = (char *)ns, .name = (char *)name, .kind = "action", .code = true, .shared = shared
    };
    uint64_t hash = sched_key_hash(ns, name, shared), gen;
    int64_t now = sched_mono_ms();
    msgpack_sbuffer sb;
    msgpack_packer pk;
    natsMsg *reply = NULL;
    sched_entry *e;
    sq_status st;

    *out = NULL;
    *wire = NULL;
    sched_entities_apply(s);
    if ((e = sched_cache_get(s->cache, hash, ns, name, shared, now)) != NULL) {
        if (min_rev <= 0 || e->action.rev >= min_rev) {
            *out = e;
            return SQ_OK;
        }
        /* older than what the caller just wrote: its change event is still on the way */
        sched_entry_unref(e);
        sched_cache_drop(s->cache, ns, name, false);
    }
    gen = sched_cache_gen(s->cache);
    sq_proto_buf_init(&sb, &pk);
    sq_reg_ref_encode(&ref, &pk);
    st = sq_bus_request(s->bus, SQ_SUBJ_REG_RESOLVE, sb.data, sb.size, sched_cfg.resolve_timeout_ms,
                        &reply);
    msgpack_sbuffer_destroy(&sb);
    if (st != SQ_OK) {
        snprintf(err, errlen, "%s",
                 st == SQ_ERR_TIMEOUT ? "the registry did not answer in time"
                                      : "the registry is not available");
        sq_warn("could not resolve action \"%s/%s\": %s", ns, name, err);
        return st == SQ_ERR_TIMEOUT ? SQ_ERR_TIMEOUT : SQ_ERR_UNAVAILABLE;
    }
    st = sched_entry_create(&e, ns, name, shared, hash, natsMsg_GetData(reply),
                            (size_t)natsMsg_GetDataLength(reply), err, errlen);
    if (st == SQ_ERR_NOT_FOUND) {
        *wire = reply; /* the registry's own answer (404, 403...) */
        return st;
    }
    natsMsg_Destroy(reply);
    if (st != SQ_OK) {
        sq_error("could not use the registry's answer for action \"%s/%s\": %s", ns, name,
                 st == SQ_ERR_NOMEM ? "out of memory" : err);
        return st == SQ_ERR_NOMEM ? SQ_ERR_NOMEM : SQ_ERR_INTERNAL;
    }
    sched_cache_put(s->cache, e, gen, now, sched_cfg.cache_ttl_ms);
    *out = e;
    return SQ_OK;
}

const char *sched_key_for(const sched_entry *e, const char *caller_ns, const char *key)
{
    const char *owner = e->action.namespace_;
    size_t n = strcspn(owner, "/");

    if (!e->provide_key || key == NULL || caller_ns == NULL)
        return "";
    if (strlen(caller_ns) != n || memcmp(owner, caller_ns, n) != 0)
        return ""; /* code of another namespace never sees the caller's key */
    return key;
}
