/* Admission: each namespace's limits (from the auth service, cached) and this copy's
 * counters of its concurrent activations and of its invocations in the current minute.
 *
 * Several scheduler copies: a fair split, not shared counters. Each copy enforces its share
 * of every limit, ceil(limit / live copies), counting only what it admitted itself; the
 * copies see each other on sq.sched.heartbeat (peers.c). The gateway's requests reach the
 * copies through one queue group, which spreads a namespace's invocations evenly, so the
 * shares add up to the limit within a few percent. This is what OpenWhisk's controllers do
 * (each enforces limit / cluster size), and it costs the hot path no round trip: shared
 * counters in JetStream KV would put a compare-and-set on the path of every invocation
 * (30 000/s on a single key per namespace, with conflicts to retry) and make admission
 * depend on JetStream being writable. The price: a namespace can be refused a little early
 * when its invocations happen to land unevenly, or a copy that just started (or just saw a
 * peer die) counts from zero for the rest of that minute. The per-minute window is the wall
 * clock's minute, as OpenWhisk's; refused invocations are not counted.
 *
 * Concurrency is released when the activation's record is seen (completions.c), or when
 * the scheduler records it lost (flight.c). Limits come from sq.auth.limits; when the auth
 * service does not answer (or does not know the request), the configured defaults are used
 * and cached too, for at most ten seconds. An sq.evt.auth event drops the namespace's
 * entry (every entry when the event names no namespace). A namespace whose subject is
 * blocked (sq_ns_limits.blocked) is refused with 403. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

#define NBUCKETS 1024
#define FAILED_TTL_MS 10000

struct sched_ns {
    struct sched_ns *next;
    char *name;
    sq_ns_limits lim;
    int64_t lim_expires_ms; /* monotonic; 0: not known */
    uint64_t gen;           /* bumped by every drop, so a fetch that raced one is not kept */
    int64_t minute;         /* wall-clock minute of minute_count */
    int64_t minute_count;
    int64_t inflight;
};

struct sched_limits {
    pthread_mutex_t lock;
    sched_ns *buckets[NBUCKETS];
};

sched_limits *sched_limits_create(void)
{
    sched_limits *l = calloc(1, sizeof *l);
    if (l != NULL)
        pthread_mutex_init(&l->lock, NULL);
    return l;
}

void sched_limits_destroy(sched_limits *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        for (sched_ns *n = l->buckets[i], *next; n != NULL; n = next) {
            next = n->next;
            free(n->name);
            free(n);
        }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static size_t bucket_of(const char *ns)
{
    return sq_hash_str(SQ_HASH_INIT, ns) % NBUCKETS;
}

/* The entry of ns, created when missing (lock held). NULL when out of memory. */
static sched_ns *find(sched_limits *l, const char *ns)
{
    size_t b = bucket_of(ns);
    sched_ns *n;
    for (n = l->buckets[b]; n != NULL; n = n->next)
        if (strcmp(n->name, ns) == 0)
            return n;
    if ((n = calloc(1, sizeof *n)) == NULL || (n->name = strdup(ns)) == NULL) {
        free(n);
        return NULL;
    }
    n->next = l->buckets[b];
    l->buckets[b] = n;
    return n;
}

static sq_ns_limits defaults(void)
{
    sq_ns_limits d = SQ_NS_LIMITS_DEFAULT;
    d.concurrent = sched_cfg.default_concurrent;
    d.per_minute = sched_cfg.default_per_minute;
    return d;
}

/* Asks the auth service for the limits of ns. false (and the defaults) when it did not
 * answer with limits. */
static bool fetch(sched *s, const char *ns, sq_ns_limits *out)
{
    sq_ns_ref ref = { .ns = (char *)ns };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    natsMsg *reply = NULL;
    msgpack_object o;
    const char *m;
    size_t mlen;
    int code;
    bool ok = false;
    sq_status st;

    *out = defaults();
    sq_proto_buf_init(&sb, &pk);
    sq_ns_ref_encode(&ref, &pk);
    st = sq_bus_request(s->bus, SQ_SUBJ_AUTH_LIMITS, sb.data, sb.size, sched_cfg.limits_timeout_ms,
                        &reply);
    msgpack_sbuffer_destroy(&sb);
    if (st != SQ_OK) {
        sq_debug("no limits for namespace \"%s\" from the auth service (%s): using the defaults",
                 ns, st == SQ_ERR_TIMEOUT ? "no answer in time" : "nobody answers");
        return false;
    }
    msgpack_zone_init(&z, 512);
    if (sq_mp_unpack(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), &z, &o) !=
        SQ_OK) {
        sq_warn("malformed limits of namespace \"%s\" from the auth service: using the defaults",
                ns);
    } else if (sq_wire_error_get(&o, &code, &m, &mlen)) {
        sq_debug("no limits for namespace \"%s\" (%d %.*s): using the defaults", ns, code,
                 (int)mlen, m);
    } else if (sq_ns_limits_from(&o, &z, out, NULL, 0) != SQ_OK) {
        sq_warn("malformed limits of namespace \"%s\" from the auth service: using the defaults",
                ns);
        *out = defaults();
    } else {
        sq_ns_limits d = defaults();
        if (out->concurrent <= 0)
            out->concurrent = d.concurrent;
        if (out->per_minute <= 0)
            out->per_minute = d.per_minute;
        ok = true;
    }
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(reply);
    return ok;
}

static int64_t share(int64_t limit, int copies)
{
    return (limit + copies - 1) / copies;
}

sq_status sched_admit(sched *s, const char *ns, sched_ns **out, char *msg, size_t msglen)
{
    sched_limits *l = s->limits;
    int64_t now = sched_mono_ms(), minute = sq_now_ms() / 60000;
    int copies = sched_peers_count(s->peers, now);
    sq_ns_limits lim;
    sched_ns *n;
    uint64_t gen;
    bool known;

    pthread_mutex_lock(&l->lock);
    if ((n = find(l, ns)) == NULL) {
        pthread_mutex_unlock(&l->lock);
        snprintf(msg, msglen, "out of memory");
        return SQ_ERR_NOMEM;
    }
    known = n->lim_expires_ms > now;
    lim = n->lim;
    gen = n->gen;
    pthread_mutex_unlock(&l->lock);

    if (!known) {
        bool ok = fetch(s, ns, &lim);
        int ttl = ok ? sched_cfg.limits_ttl_ms
                     : (sched_cfg.limits_ttl_ms < FAILED_TTL_MS ? sched_cfg.limits_ttl_ms
                                                                : FAILED_TTL_MS);
        pthread_mutex_lock(&l->lock);
        if (n->gen == gen) {
            n->lim = lim;
            n->lim_expires_ms = sched_mono_ms() + ttl;
        }
        pthread_mutex_unlock(&l->lock);
    }

    if (lim.blocked) {
        /* the subject was blocked: nothing of its namespaces runs (rules, sequences...) */
        snprintf(msg, msglen, "The namespace's subject is blocked.");
        return SQ_ERR_FORBIDDEN;
    }
    pthread_mutex_lock(&l->lock);
    if (n->minute != minute) {
        n->minute = minute;
        n->minute_count = 0;
    }
    if (n->minute_count >= share(lim.per_minute, copies)) {
        int64_t count = n->minute_count * copies;
        pthread_mutex_unlock(&l->lock);
        snprintf(msg, msglen, "Too many requests in the last minute (count: %lld, allowed: %lld).",
                 (long long)count, (long long)lim.per_minute);
        return SQ_ERR_TOO_MANY;
    }
    if (n->inflight >= share(lim.concurrent, copies)) {
        int64_t count = n->inflight * copies;
        pthread_mutex_unlock(&l->lock);
        snprintf(msg, msglen,
                 "Too many concurrent requests in flight (count: %lld, allowed: %lld).",
                 (long long)count, (long long)lim.concurrent);
        return SQ_ERR_TOO_MANY;
    }
    n->minute_count++;
    n->inflight++;
    pthread_mutex_unlock(&l->lock);
    *out = n;
    return SQ_OK;
}

void sched_release(sched_limits *l, sched_ns *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&l->lock);
    if (n->inflight > 0)
        n->inflight--;
    pthread_mutex_unlock(&l->lock);
}

void sched_limits_drop(sched_limits *l, const char *ns)
{
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < NBUCKETS; i++)
        for (sched_ns *n = l->buckets[i]; n != NULL; n = n->next)
            if (ns == NULL || strcmp(n->name, ns) == 0) {
                n->lim_expires_ms = 0;
                n->gen++;
            }
    pthread_mutex_unlock(&l->lock);
}
