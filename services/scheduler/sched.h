/* squall-scheduler's internal API. The scheduler admits an invocation (sq.sched.invoke)
 * against its namespace's limits, resolves the action through a cache in front of the
 * registry, merges the parameters, places the work on an invoker chosen from the
 * heartbeats, and forwards it: straight to the invoker over core NATS when the caller waits
 * (the invoker answers the caller), or durably through JetStream (SQ_WORK) when it does not
 * (the scheduler answers {activationId} once JetStream has acknowledged the work). It runs
 * sequences and conductor actions itself, as a producer of component activations.
 *
 * Every activation it admits is in its in-flight table until the activation's record is
 * seen on SQ_ACTIVATIONS (a headers-only consumer: the id is the Nats-Msg-Id header), so
 * it knows the concurrency of each namespace and what every invoker has in hand; when an
 * invoker dies or restarts, what it had is answered and recorded as "whisk internal error".
 *
 * Threads: nats.c delivers each subscription on its own thread. The invoke route is
 * subscribed `workers` times in the queue group "scheduler"; each subscription owns one
 * sched_worker (its scratch arena and buffer). Heartbeats, entity and auth events,
 * completions, JetStream publish acks and component replies arrive on nats.c threads of
 * their own; a sweeper thread detects lost activations; sequence workers drive
 * compositions. Every shared table has its own mutex, never held across I/O, and no two
 * of them are ever held at once. */
#ifndef SQ_SCHED_H
#define SQ_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"
#include "sq/bus.h"
#include "sq/mp.h"
#include "sq/util.h"

/* ---- configuration (config.c) ------------------------------------------------------------ */

typedef struct sched_config {
    char *nats_url;
    int heartbeat_ttl_ms; /* an invoker (or a scheduler copy) is alive while its last heartbeat is younger */
    int resolve_timeout_ms; /* how long to wait for sq.registry.resolve */
    int cache_ttl_ms;       /* a resolved action is kept this long at most; 0: no cache */
    int cache_max;          /* most actions kept */
    int workers;            /* concurrent invoke handlers (subscriptions in the group) */
    int warmup_ms;          /* at start, wait this long at most for a first heartbeat */
    int publish_timeout_ms; /* how long to wait for JetStream's ack of queued work */
    int requeue_ms;         /* work SQ_WORK had no leader for is published again this long */
    int limits_ttl_ms;      /* a namespace's limits are kept this long (auth events drop them) */
    int limits_timeout_ms;  /* how long to wait for sq.auth.limits */
    int default_concurrent; /* limits of a namespace when auth does not answer */
    int default_per_minute;
    int max_payload_kb; /* an invoke request larger than this is 413 */
    int lost_grace_ms;  /* an activation is declared lost this long after its time limit */
    int seq_workers;    /* threads that drive sequences and conductor actions */
    int seq_max;        /* most atomic components of one composition */
} sched_config;

extern sched_config sched_cfg;
sq_status sched_config_load(void);
void sched_config_free(void);

typedef struct sched sched;

/* ---- action cache (cache.c) -------------------------------------------------------------- */

/* A resolved action and what the invoke path precomputes from it. Immutable once
 * published in the cache; readers hold a reference (sched_entry_unref() when done). */
typedef struct sched_entry {
    struct sched_entry *next; /* bucket chain, under the cache lock */
    atomic_int refs;
    uint64_t hash;               /* FNV-1a of ns "/" name (+ shared): bucket and home invoker */
    int64_t expires_ms;          /* monotonic */
    char *ns, *name;             /* the key, as invoked */
    bool shared;                 /* resolved for a caller that does not own ns */
    sq_action action;            /* points into zone and buf */
    msgpack_object_kv *defaults; /* the action's parameters as key/value pairs, last wins */
    uint32_t ndefaults;
    msgpack_object defaults_map; /* the same as a map (the merge when nothing is passed) */
    bool sequence;               /* kind "sequence": action.exec.components lists the parts */
    bool conductor;              /* annotation conductor with a value that is not falsy */
    bool final;                  /* annotation final: the defined parameters cannot be overridden */
    bool provide_key;            /* annotation provide-api-key with a value that is not falsy */
    msgpack_zone zone;
    char *buf; /* the registry's reply, which the objects point into */
    size_t len;
} sched_entry;

typedef struct sched_cache sched_cache;

/* Returns a new cache holding at most max entries, or NULL. */
sched_cache *sched_cache_create(int max);
void sched_cache_destroy(sched_cache *c);

/* FNV-1a over ns "/" name, and the shared flag. */
uint64_t sched_key_hash(const char *ns, const char *name, bool shared);

/* Returns a referenced, unexpired entry for ns/name, or NULL. Any thread. */
sched_entry *sched_cache_get(sched_cache *c, uint64_t hash, const char *ns, const char *name,
                             bool shared, int64_t now_ms);

/* The API key that e's code may see when caller_ns invokes it with key: key itself only
 * when the action asked for it (provide-api-key) and lives in caller_ns (not in a package or
 * binding target of another namespace); "" otherwise. Never NULL. */
const char *sched_key_for(const sched_entry *e, const char *caller_ns, const char *key);

/* Builds an entry from the registry's reply (copied). Returns SQ_OK and a referenced entry
 * in *out; SQ_ERR_DECODE with a message in err when the reply is not an action. When the
 * reply is a wire error, returns SQ_ERR_NOT_FOUND and *out stays NULL: the caller forwards
 * the reply as it came. */
sq_status sched_entry_create(sched_entry **out, const char *ns, const char *name, bool shared,
                             uint64_t hash, const char *data, size_t len, char *err, size_t errlen);
void sched_entry_unref(sched_entry *e);

/* Publishes e in the cache (taking a reference of its own), replacing an older entry for
 * the same key, unless an invalidation happened since generation gen was read. */
void sched_cache_put(sched_cache *c, sched_entry *e, uint64_t gen, int64_t now_ms, int ttl_ms);

/* The invalidation generation; read it before asking the registry. */
uint64_t sched_cache_gen(sched_cache *c);

/* Drops ns/name. With package set, drops every cached action inside a package (any
 * namespace: a binding elsewhere may point at the package that changed). */
void sched_cache_drop(sched_cache *c, const char *ns, const char *name, bool package);

/* The action ns/name as the caller may use it (shared: the caller does not own ns): from
 * the cache or the registry. SQ_OK and a referenced entry in *out. Otherwise *out is NULL
 * and either *wire holds the registry's own wire error (404, 403...; the caller destroys
 * it) or the status says what failed, with a message in err. Any thread; may block for
 * the registry's answer. */
sq_status sched_lookup(sched *s, const char *ns, const char *name, bool shared, sched_entry **out,
                       natsMsg **wire, char *err, size_t errlen);
/* The same, refusing a cached entry older than revision min_rev (> 0): the caller has just
 * written the action, and its change event may not have dropped the entry yet. */
sq_status sched_lookup_rev(sched *s, const char *ns, const char *name, bool shared, int64_t min_rev,
                           sched_entry **out, natsMsg **wire, char *err, size_t errlen);

/* ---- namespaces: limits and admission (limits.c) ---------------------------------------- */

/* A namespace's admission state; lives as long as the scheduler once created. */
typedef struct sched_ns sched_ns;
typedef struct sched_limits sched_limits;

sched_limits *sched_limits_create(void);
void sched_limits_destroy(sched_limits *l);

/* Admits one activation of namespace ns against its limits (this copy's fair share of
 * them): SQ_OK and the namespace in *out, its concurrency counted (sched_release() gives
 * it back); or SQ_ERR_TOO_MANY with OpenWhisk's message in msg, SQ_ERR_FORBIDDEN when the
 * namespace's subject is blocked. May ask the auth service for the namespace's limits
 * (cached). Any thread. */
sq_status sched_admit(sched *s, const char *ns, sched_ns **out, char *msg, size_t msglen);
/* Gives back one concurrency slot of n (NULL is a no-op). */
void sched_release(sched_limits *l, sched_ns *n);
/* Forgets the cached limits of ns (NULL: of every namespace). */
void sched_limits_drop(sched_limits *l, const char *ns);

/* ---- scheduler copies (peers.c) -------------------------------------------------------- */

typedef struct sched_peers sched_peers;
sched_peers *sched_peers_create(const char *self);
void sched_peers_destroy(sched_peers *p);
void sched_peers_seen(sched_peers *p, const char *id, int64_t now_ms);
/* Live copies, this one included (at least 1). */
int sched_peers_count(sched_peers *p, int64_t now_ms);
/* Whether copy id is this one or has beaten within the heartbeat TTL. */
bool sched_peers_alive(sched_peers *p, const char *id, int64_t now_ms);

/* ---- invokers (placement.c) ----------------------------------------------------------------- */

typedef struct sched_invokers sched_invokers;

sched_invokers *sched_invokers_create(void);
void sched_invokers_destroy(sched_invokers *iv);

/* Records a heartbeat received at now_ms (monotonic). A changed `started` means the
 * invoker restarted: it is queued as an incident (sched_invokers_incidents()). */
void sched_invokers_update(sched_invokers *iv, const sq_heartbeat *hb, int64_t now_ms);

/* Number of invokers heard of (healthy or not). */
int sched_invokers_count(sched_invokers *iv);

/* The chosen invoker, copied out so that the table lock is not held. slot is the
 * invoker's stable number in this scheduler (never reused for another id). */
typedef struct sched_target {
    int slot;
    char id[100];
    char run[320];  /* sq.invoker.<id>.run */
    char work[320]; /* sq.work.<id> */
} sched_target;

/* Picks an invoker for an action of key hash needing memory_mb: the home invoker (hash over
 * the sorted healthy ids) while this copy's share of its memory (total / live copies) has
 * room beyond what this copy already placed there, else the healthy invoker whose share
 * has the most room; when every share is full, the home invoker anyway (it queues). false
 * when none is healthy. */
bool sched_place(sched_invokers *iv, uint64_t hash, int64_t memory_mb, int64_t now_ms, int ttl_ms,
                 int ncopies, sched_target *out);
/* Adds delta_mb to what this copy has placed on invoker slot. */
void sched_invokers_charge(sched_invokers *iv, int slot, int64_t delta_mb);

/* An invoker that lost its work in hand: it stopped beating (since = 0: everything it had
 * is lost) or it restarted (work sent before wall time `since` is lost). */
typedef struct sched_incident {
    int slot;
    char id[100];
    char durable[320]; /* its work consumer on SQ_WORK */
    int64_t since;
} sched_incident;
/* Moves the incidents seen since the last call into out (at most max); also declares
 * invokers silent for ttl_ms dead. Returns how many. */
int sched_invokers_incidents(sched_invokers *iv, int64_t now_ms, int ttl_ms, sched_incident *out,
                             int max);
/* The invokers dead for at least after_ms (at most max; since is 0). Returns how many. */
int sched_invokers_dead(sched_invokers *iv, int64_t now_ms, int64_t after_ms, sched_incident *out,
                        int max);
/* The slot of invoker id, or -1. */
int sched_invokers_slot(sched_invokers *iv, const char *id);
/* Whether invoker slot has beaten at or after since_ms (monotonic). */
bool sched_invokers_seen_since(sched_invokers *iv, int slot, int64_t since_ms);
/* The work consumer of a live invoker slot ("" when unknown), for the taken-work check. */
bool sched_invokers_durable(sched_invokers *iv, int slot, char *out, size_t outlen);

/* ---- in-flight activations (flight.c) ----------------------------------------------------- */

/* What the scheduler needs to record an activation it lost: who ran what. */
typedef struct sched_flight_info {
    const char *id, *ns, *name, *version, *subject, *kind, *path, *cause;
    sq_limits limits;
    const char *caused_by; /* "sequence" | "trigger" when cause is set; NULL or "" otherwise */
    const char *binding;   /* "ns/binding" when invoked through a binding; NULL or "" */
} sched_flight_info;

typedef struct sched_flights sched_flights;
sched_flights *sched_flights_create(void);
void sched_flights_destroy(sched_flights *f);

/* Adds activation info->id: counted against n (may be NULL), placed on invoker slot (-1:
 * none, a composition run here), blocking or not; reply is where a lost blocking activation
 * is answered (copied; NULL or "" for none); deadline_ms (monotonic, 0: none) is when it is
 * declared lost at the latest. SQ_ERR_CONFLICT when the id is in flight already. */
sq_status sched_flight_add(sched *s, const sched_flight_info *info, sched_ns *n, int slot,
                           int64_t mem_mb, bool blocking, const char *reply, int64_t deadline_ms);
/* Non-blocking work was acknowledged by JetStream at stream sequence seq. Returns the
 * reply subject the caller waits on (malloc'd, the caller frees it) or NULL. */
char *sched_flight_queued(sched *s, const char *id, uint64_t seq);
/* The activation ended (its record was seen): removes it, gives its slot back. Returns
 * whether it was in flight here. Any thread. */
bool sched_flight_done(sched *s, const char *id);
/* Runs on the sweeper thread: takes the activations lost to incidents, deadlines and dead
 * invokers out of the table and records them (see flight.c). */
void sched_flight_sweep(sched *s, const sched_incident *inc, int ninc, int64_t now_ms);
/* Number of activations in flight. */
size_t sched_flight_count(sched_flights *f);
/* Activation id's queued work now waits on invoker `invoker` at stream sequence seq. */
void sched_flight_moved(sched *s, const char *id, const char *invoker, uint64_t seq);

/* ---- a trigger fire's rules in one request (batch.c) ---------------------------------------- */

typedef struct sched_batch sched_batch;
/* Opens the batch of n rules answered on reply (copied); NULL when out of memory. The
 * caller holds it until sched_batch_close(). Rule i's flight entry answers on
 * "<reply>.<i>". */
sched_batch *sched_batch_open(const char *reply, size_t n);
/* Rule i's outcome, known at once (the caller holds b): code 0 queued as id, else the HTTP
 * status of its refusal and message. The first outcome of a rule stays. */
void sched_batch_set(sched *s, sched_batch *b, size_t i, const char *id, int code,
                     const char *message);
/* The handler is done with b: it answers once every outcome is known. NULL: nothing. */
void sched_batch_close(sched *s, sched_batch *b);
/* The answer to a non-blocking caller at subject: st SQ_OK queued as id, else refused with
 * message (NULL: st's own). Returns true when subject is a rule of an open batch, which
 * took it; false when the caller must publish it. Any thread. */
bool sched_batch_answer(sched *s, const char *subject, const char *id, sq_status st,
                        const char *message);
/* Runs on the sweeper thread: answers batches open for too long with what they have. */
void sched_batch_sweep(sched *s, int64_t now_ms);

/* ---- queued work of dead invokers (replace.c) ---------------------------------------------- */

/* Runs on the sweeper thread: moves the work still queued for invokers dead for longer
 * than the grace period to live ones. */
void sched_replace_sweep(sched *s, int64_t now_ms);
void sched_on_moved(sq_bus_t *bus, natsMsg *msg, void *closure); /* closure: sched */

/* ---- records (records.c) ------------------------------------------------------------------ */

/* Publishes the packed record rec of activation id in namespace ns on SQ_ACTIVATIONS with
 * Nats-Msg-Id = id, waiting for JetStream's ack (retried for a while). Sets *dup when
 * JetStream had a record with that id already (the first one stays: the lost-record path
 * uses this to never answer a caller twice). SQ_OK or SQ_ERR_UNAVAILABLE. */
sq_status sched_record_publish(sched *s, const char *id, const char *ns, const void *rec,
                               size_t len, bool *dup);
/* Publishes the wire error {error: {code, message}} of st to subject (nothing when NULL). */
void sched_error_to(sched *s, const char *subject, sq_status st, const char *message);
/* Packs the "whisk internal error" record of a lost activation into pk. */
void sched_record_internal(msgpack_packer *pk, const sched_flight_info *info, int64_t start_ms,
                           const char *why);

/* ---- compositions in progress, for the other copies (runs.c) ------------------------------- */

sq_status sched_runs_start(sched *s);
void sched_runs_stop(sched *s);
/* Notes that composition info->id started (wall ms) under this copy; sched_run_end() when
 * its record is published. Any thread; a JetStream round trip. */
void sched_run_begin(sched *s, const sched_flight_info *info, int64_t start_ms);
void sched_run_end(sched *s, const char *id);
/* Runs on the sweeper thread: records the compositions of copies that stopped. */
void sched_runs_sweep(sched *s, int64_t now_ms);

/* ---- compositions: sequences and conductor actions (seq.c) -------------------------------- */

typedef struct sched_seq sched_seq;
sq_status sched_seq_start(sched *s);
void sched_seq_stop(sched *s);
/* Starts a composition for an admitted invocation (e is the sequence or conductor action;
 * params the merged input, copied). The caller has added the flight entry of inv->id and
 * answered a non-blocking caller. reply: where the final record goes ("" for none). */
sq_status sched_seq_run(sched *s, const sq_invoke *inv, sched_entry *e,
                        const msgpack_object *params, const char *reply, const char *caller_ns);
/* A component's record arrived on the scheduler's own reply subject. */
void sched_on_component(sq_bus_t *bus, natsMsg *msg, void *closure); /* closure: sched */

/* ---- handlers (handlers.c) ------------------------------------------------------------------- */

struct sched {
    sq_bus_t *bus;
    jsCtx *js;      /* JetStream with asynchronous publish acks (non-blocking work) */
    char self[33];  /* this copy's id */
    char inbox[64]; /* prefix of this copy's reply subjects (components) */
    sched_cache *cache;
    sched_invokers *invokers;
    sched_limits *limits;
    sched_peers *peers;
    sched_flights *flights;
    sched_seq *seq;
    natsSubscription *completions;
    natsSubscription *entities; /* sq.evt.entity.>, synchronous: sched_entities_apply() */
    pthread_mutex_t entities_lock;
    pthread_t sweeper;
    atomic_bool stopping;
};

/* Per-subscription scratch of the invoke route: one delivery thread uses it at a time. */
typedef struct sched_worker {
    sched *s;
    msgpack_zone zone;
    msgpack_sbuffer sb;
} sched_worker;

sq_status sched_worker_init(sched_worker *w, sched *s);
void sched_worker_fini(sched_worker *w);

/* ---- an invocation's input (params.c) ------------------------------------------------------ */

/* Whether top overrides a parameter that e defines (a value other than null) while e is
 * annotated final. */
bool sched_params_overridden(const sched_entry *e, const msgpack_object *top);
/* "ns/binding" into buf when action a (resolved from ns and name "pkg/name") was reached
 * through the package binding ns/pkg (its namespace is then the bound package's path, not
 * "ns/pkg"); NULL otherwise. */
const char *sched_binding_of(const char *ns, const char *name, const sq_action *a, char *buf,
                             size_t len);
/* The action's parameters with top on top, as one map pointing into top and e (both must
 * outlive out); extra pairs go into zone. An array top goes as it is. false when out of
 * memory. */
bool sched_merge_params(msgpack_zone *zone, const sched_entry *e, const msgpack_object *top,
                        msgpack_object *out);

void sched_on_invoke(sq_bus_t *bus, natsMsg *msg, void *closure);    /* closure: sched_worker */
void sched_on_heartbeat(sq_bus_t *bus, natsMsg *msg, void *closure); /* closure: sched */
void sched_on_peer(sq_bus_t *bus, natsMsg *msg, void *closure);      /* closure: sched */
void sched_entities_apply(sched *s); /* the entity events arrived so far, before a lookup */
void sched_work_full_report(void);   /* the SQ_WORK refusals not said yet (1/s at most) */
void sched_on_auth(sq_bus_t *bus, natsMsg *msg, void *closure); /* closure: sched */

/* JetStream publish acks of non-blocking work (js options of s->js). */
void sched_on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure);

/* Completions: the headers-only consumer on SQ_ACTIVATIONS (completions.c). */
sq_status sched_completions_start(sched *s);
void sched_completions_stop(sched *s);

/* Work JetStream refused for want of a stream leader (a NATS node lost, an election under
 * way) is published again, same Nats-Msg-Id, until SQ_SCHED_REQUEUE_MS after its first try
 * (requeue.c). offer() takes msg when it returns true; due() runs on the sweeper thread. */
bool sched_requeue_offer(sched *s, natsMsg *msg, const char *id, const jsPubAckErr *pae);
void sched_requeue_due(sched *s, int64_t now_ms);
void sched_requeue_drop(void); /* at exit: what still waits is dropped */

/* The sweeper thread: scheduler heartbeat, incidents, lost activations (main.c starts it). */
void *sched_sweeper(void *arg);

/* Monotonic milliseconds. */
static inline int64_t sched_mono_ms(void)
{
    return sq_mono_us() / 1000;
}

/* ---- metrics.c: the scheduler's Prometheus series ------------------------------------------ */

void sched_metrics_init(sched *s); /* once, before serving */
void sched_metrics_admitted(void);
void sched_metrics_refused(sq_status st); /* what sched_admit() refused with */
void sched_metrics_done(int64_t ms);      /* admission to record, of one activation */
void sched_metrics_lost(void);
void sched_metrics_overloaded(void); /* admitted, then refused: SQ_WORK was full */

#endif
