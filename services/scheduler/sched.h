/* squall-scheduler's internal API. The scheduler admits an invocation (sq.sched.invoke),
 * resolves its action through a cache in front of the registry, merges the parameters,
 * places the work on an invoker chosen from the heartbeats, and forwards it: straight to the
 * invoker over core NATS when the caller waits (the invoker answers the caller), or durably
 * through JetStream (SQ_WORK) when it does not (the scheduler answers {activationId}).
 *
 * Threads: nats.c delivers each subscription on its own thread. The invoke route is
 * subscribed `workers` times in the queue group "scheduler", so that many invocations are
 * handled at once (a registry miss or a JetStream ack does not stall the others); each
 * subscription owns one sched_worker (its scratch arena and buffer). Heartbeats and entity
 * events arrive on two more threads. The cache and the invoker table are shared and locked. */
#ifndef SQ_SCHED_H
#define SQ_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"
#include "sq/bus.h"
#include "sq/mp.h"

/* ---- configuration (config.c) ------------------------------------------------------------ */

typedef struct sched_config {
    char *nats_url;
    int heartbeat_ttl_ms;    /* an invoker is healthy while its last heartbeat is younger */
    int resolve_timeout_ms;  /* how long to wait for sq.registry.resolve */
    int cache_ttl_ms;        /* a resolved action is kept this long at most; 0: no cache */
    int cache_max;           /* most actions kept */
    int workers;             /* concurrent invoke handlers (subscriptions in the group) */
    int warmup_ms;           /* at start, wait this long at most for a first heartbeat */
    int publish_timeout_ms;  /* how long to wait for JetStream's ack of queued work */
} sched_config;

extern sched_config sched_cfg;
sq_status sched_config_load(void);
void sched_config_free(void);

/* ---- action cache (cache.c) -------------------------------------------------------------- */

/* A resolved action and what the invoke path precomputes from it. Immutable once
 * published in the cache; readers hold a reference (sched_entry_unref() when done). */
typedef struct sched_entry {
    struct sched_entry *next;   /* bucket chain, under the cache lock */
    atomic_int refs;
    uint64_t hash;              /* FNV-1a of ns "/" name: bucket and home invoker */
    int64_t expires_ms;         /* monotonic */
    char *ns, *name;            /* the key, as invoked */
    sq_action action;           /* points into zone and buf */
    msgpack_object_kv *defaults; /* the action's parameters as key/value pairs, last wins */
    uint32_t ndefaults;
    msgpack_object defaults_map; /* the same as a map (the merge when nothing is passed) */
    msgpack_zone zone;
    char *buf;                  /* the registry's reply, which the objects point into */
    size_t len;
} sched_entry;

typedef struct sched_cache sched_cache;

/* Returns a new cache holding at most max entries, or NULL. */
sched_cache *sched_cache_create(int max);
void sched_cache_destroy(sched_cache *c);

/* FNV-1a over ns "/" name. */
uint64_t sched_key_hash(const char *ns, const char *name);

/* Returns a referenced, unexpired entry for ns/name, or NULL. Any thread. */
sched_entry *sched_cache_get(sched_cache *c, uint64_t hash, const char *ns, const char *name,
                             int64_t now_ms);

/* Builds an entry from the registry's reply (copied). Returns SQ_OK and a referenced entry
 * in *out; SQ_ERR_DECODE with a message in err when the reply is not an action. When the
 * reply is a wire error, returns SQ_ERR_NOT_FOUND and *out stays NULL: the caller forwards
 * the reply as it came. */
sq_status sched_entry_create(sched_entry **out, const char *ns, const char *name, uint64_t hash,
                             const char *data, size_t len, char *err, size_t errlen);
void sched_entry_unref(sched_entry *e);

/* Publishes e in the cache (taking a reference of its own), replacing an older entry for
 * the same key, unless an invalidation happened since generation gen was read. */
void sched_cache_put(sched_cache *c, sched_entry *e, uint64_t gen, int64_t now_ms, int ttl_ms);

/* The invalidation generation; read it before asking the registry. */
uint64_t sched_cache_gen(sched_cache *c);

/* Drops ns/name. With package set, drops every cached action inside a package (any
 * namespace: a binding elsewhere may point at the package that changed). */
void sched_cache_drop(sched_cache *c, const char *ns, const char *name, bool package);

/* ---- invokers (placement.c) ----------------------------------------------------------------- */

typedef struct sched_invokers sched_invokers;

sched_invokers *sched_invokers_create(void);
void sched_invokers_destroy(sched_invokers *iv);

/* Records a heartbeat received at now_ms (monotonic). */
void sched_invokers_update(sched_invokers *iv, const sq_heartbeat *hb, int64_t now_ms);

/* Number of invokers heard of (healthy or not). */
int sched_invokers_count(sched_invokers *iv);

/* Subjects of the chosen invoker, copied out so that the table lock is not held. */
typedef struct sched_target {
    char run[320];   /* sq.invoker.<id>.run */
    char work[320];  /* sq.work.<id> */
} sched_target;

/* Picks an invoker for an action of key hash needing memory_mb: the home invoker
 * (hash over the sorted healthy ids) unless it has less free memory than that, then the
 * healthy invoker with the most free memory. false when none is healthy. */
bool sched_place(sched_invokers *iv, uint64_t hash, int64_t memory_mb, int64_t now_ms,
                 int ttl_ms, sched_target *out);

/* ---- handlers (handlers.c) ------------------------------------------------------------------- */

typedef struct sched {
    sq_bus_t *bus;
    sched_cache *cache;
    sched_invokers *invokers;
} sched;

/* Per-subscription scratch of the invoke route: one delivery thread uses it at a time. */
typedef struct sched_worker {
    sched *s;
    msgpack_zone zone;
    msgpack_sbuffer sb;
} sched_worker;

sq_status sched_worker_init(sched_worker *w, sched *s);
void sched_worker_fini(sched_worker *w);

void sched_on_invoke(sq_bus_t *bus, natsMsg *msg, void *closure);    /* closure: sched_worker */
void sched_on_heartbeat(sq_bus_t *bus, natsMsg *msg, void *closure); /* closure: sched */
void sched_on_entity(sq_bus_t *bus, natsMsg *msg, void *closure);    /* closure: sched */

#endif
