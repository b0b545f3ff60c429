/* squall-triggers: the internal API of the trigger service. It fires triggers — asked by the
 * gateway on sq.trigger.fire, or by integrators publishing to sq.fire.<ns>.<trigger> — by
 * invoking the action of every active rule of the trigger through the scheduler (non-blocking,
 * in parallel), records the trigger activation on SQ_ACTIVATIONS and announces the fire on
 * sq.evt.trigger.<ns>.<name>. It keeps no database: triggers and rules are read from the
 * registry (cached, and dropped at once on sq.evt.entity.<ns>.{trigger,rule}), limits from
 * auth.
 *
 * The files: config.c (the settings table), cache.c (the trigger cache and the entity events
 * that invalidate it, the namespace limits and the fires-per-minute windows), fire.c (a fire,
 * from request to record; the two fire handlers), main.c (wiring). */
#ifndef SQ_TRIGGERS_H
#define SQ_TRIGGERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "proto/proto.h"
#include "sq/bus.h"
#include "sq/status.h"

/* ---- config.c ------------------------------------------------------------------------- */

typedef struct trg_config {
    char *nats_url;
    int workers;     /* parallel fire subscriptions (each fans out on its own) */
    int max_pending; /* trigger records in flight to JetStream */
    int registry_timeout_ms;
    int invoke_timeout_ms; /* the scheduler's answer to one rule's invoke */
    int cache_ttl_ms;      /* 0: read the trigger and its rules on every fire */
    int cache_max;
    int limits_ttl_ms;
    int limits_timeout_ms;
    int default_fires_per_minute;
    int max_payload_kb;
    bool feeds; /* run the feeds: alarms' timers, NATS subscriptions */
} trg_config;

extern trg_config trg_cfg;

sq_status trg_config_load(void);
void trg_config_free(void);

/* ---- cache.c ---------------------------------------------------------------------------- */

/* An active rule of a trigger, as a fire needs it. action_ns is the action's namespace root,
 * action_name "name" or "pkg/name" (what sq.sched.invoke takes); action_path is "ns" or
 * "ns/pkg" (what a log line shows). */
typedef sq_view_rule
    trg_rule; /* rule "ns/rule", action_path, action_name, invoke_ns, invoke_name */

/* A trigger with its active rules. Strings and params live in the arena it was read into. */
typedef struct trg_view {
    char *ns, *name, *version;
    msgpack_object parameters;  /* [{key, value}] or nil */
    msgpack_object annotations; /* [{key, value}] or nil */
    trg_rule *rules;
    size_t nrules;
} trg_view;

/* Serialises v (the cache's own format) into sb / reads it back into the arena. */
void trg_view_pack(const trg_view *v, msgpack_packer *pk);
bool trg_view_unpack(const char *buf, size_t len, sq_arena_t *ar, trg_view *v);

typedef struct trg_cache trg_cache;

/* The cache of trigger views, keyed by namespace and name. Thread-safe. events is a
 * synchronous subscription to sq.evt.entity.> that the cache drains itself (see
 * trg_cache_sync), so that an entity change published before a fire is seen by that fire. */
trg_cache *trg_cache_create(natsSubscription *events, int max);
void trg_cache_destroy(trg_cache *c);
/* Applies every entity event received so far (drops what they change). Called before each
 * lookup and every few hundred ms by a timer thread. */
void trg_cache_sync(trg_cache *c);
/* The generation, to be read before a registry read: a put with an older generation is
 * dropped (an event came in between). */
uint64_t trg_cache_gen(trg_cache *c);
/* Copies the cached view of ns/name into the arena; false on a miss or an expired entry. */
bool trg_cache_get(trg_cache *c, const char *ns, const char *name, sq_arena_t *ar, trg_view *out);
void trg_cache_put(trg_cache *c, const trg_view *v, uint64_t gen, int ttl_ms);
/* Drops everything (after a reconnect: events may have been missed). */
void trg_cache_clear(trg_cache *c);

/* Fires-per-minute: counts one fire of ns against its limit (asked of auth, cached). Returns
 * SQ_OK, or SQ_ERR_TOO_MANY with the count and the limit in *count / *allowed;
 * SQ_ERR_FORBIDDEN when ns's subject is blocked, SQ_ERR_NOT_FOUND when auth says ns does not
 * exist (both cached like the limit, and dropped by every auth event). */
sq_status trg_rate_admit(sq_bus_t *bus, const char *ns, int64_t *count, int64_t *allowed);
/* Drops the cached limits (an auth event said they changed). */
void trg_limits_drop(void);
void trg_limits_fini(void);

/* ---- fire.c ------------------------------------------------------------------------------- */

typedef struct trg_service {
    sq_bus_t *bus;
    jsCtx *js; /* our own context: asynchronous publishes of trigger records */
    trg_cache *cache;
} trg_service;

/* One fire subscription's state: its arena, buffers, and the inbox that collects the
 * scheduler's answers to the rules' invokes. Used by one delivery thread only. */
typedef struct trg_worker {
    trg_service *s;
    msgpack_zone zone;
    msgpack_sbuffer sb;
    natsSubscription *inbox_sub;
    char inbox[128];
    uint64_t seq;
} trg_worker;

sq_status trg_worker_init(trg_worker *w, trg_service *s);
void trg_worker_fini(trg_worker *w);
/* Empties w's output buffer (giving a very large one back) and points pk at it. */
void trg_worker_buf_reset(trg_worker *w, msgpack_packer *pk);
/* A formatted string in the arena (cut at 1 KiB), or NULL when out of memory. */
char *trg_arena_printf(sq_arena_t *ar, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A failure to answer with: a status and a message (in the worker's arena or static). */
typedef struct trg_fail {
    int code; /* HTTP status; 0: no failure */
    const char *message;
} trg_fail;

/* The trigger ns/name and its rules into v (in w's arena): from the cache, else from the
 * registry (then cached). false with *f set when it cannot be read (the registry's own
 * code and message for its refusals, 503 when it does not answer). Runs on w's thread. */
bool trg_view_load(trg_worker *w, const char *ns, const char *name, trg_view *v, trg_fail *f);

/* Fires f: the trigger and its active rules, the rate, the rules' invokes, the record, the
 * event. Answers msg when it has a reply subject (msg may be NULL). Returns 0, or the HTTP
 * status of the refusal. Runs on w's thread; f points into w's arena or outlives the call. */
int trg_fire(trg_worker *w, natsMsg *msg, const sq_fire *f);

/* A fire's payload from a NATS message: empty (nil), a msgpack map, or a JSON object; into
 * the arena. False with a message in err for anything else. */
bool trg_payload_parse(sq_arena_t *ar, const char *data, size_t len, msgpack_object *o, char *err,
                       size_t errlen);

/* sq.trigger.fire (sq_fire, from the gateway) and sq.fire.<ns>.<trigger> (a JSON or msgpack
 * payload from an integrator); the closure is the trg_worker. */
void trg_on_fire(sq_bus_t *bus, natsMsg *msg, void *closure);
void trg_on_nats_fire(sq_bus_t *bus, natsMsg *msg, void *closure);
/* ---- records.c: trigger records JetStream did not take at once ---------------------------- */

/* JetStream's word that a trigger record was refused or not acknowledged in time: queued for
 * the retry thread (the store de-duplicates by id) unless the refusal is final. */
void trg_on_record_error(jsCtx *js, jsPubAckErr *pae, void *closure);
/* Publishes a record synchronously until JetStream takes it: 50 attempts over about 21 s;
 * false (said) when it never did. */
bool trg_record_publish_sync(jsCtx *js, const char *subj, const char *id, const void *data,
                             int len);
/* The retry thread: started with the JetStream context, stopped after the last async
 * publishes settled (what it holds is still published). */
sq_status trg_records_start(jsCtx *js);
void trg_records_stop(void);
/* sq.evt.auth: drops cached limits. */
void trg_on_auth_event(sq_bus_t *bus, natsMsg *msg, void *closure);

/* ---- alarms.c ------------------------------------------------------------------------------ */

/* The KV key of a trigger, a.<ns>.<name>, with every byte outside [A-Za-z0-9_-] written =XX
 * (KV keys allow '=', not '%'); the timers and the NATS feeds both key by it. 0, or -1 when
 * it does not fit in outlen. */
int trg_kv_key(const char *ns, const char *name, char *out, size_t outlen);

/* JetStream resources of the alarms feed (see alarms.c): the stream that keeps trigger change
 * events for the service, the durable timers, and the per-tick leases. */
#define TRG_STREAM_EVENTS "SQ_TRIGGER_EVENTS"
#define TRG_KV_TIMERS "SQ_ALARMS"
#define TRG_KV_TICKS "SQ_ALARM_TICKS"

/* Creates what is missing (buckets, stream, durable consumer) and starts the threads that
 * keep the timers (watch), fire their ticks (timer) and follow trigger changes (events). */
sq_status trg_alarms_start(trg_service *s);
/* Stops the threads and frees the timers; safe after a failed or no start. */
void trg_alarms_stop(void);

/* ---- natsfeed.c ----------------------------------------------------------------------------- */

#define TRG_KV_NATS_FEEDS "SQ_NATS_FEEDS"

/* Opens the bucket of NATS feeds and starts following it (subscriptions). */
sq_status trg_natsfeed_start(trg_service *s);
void trg_natsfeed_stop(void);
/* Brings the bucket in step with a trigger as the registry answered it (NULL: deleted).
 * False when the bucket could not be written (the event is then redelivered). */
bool trg_natsfeed_sync(const char *ns, const char *name, const sq_trigger *trigger);
/* True when ns may listen to subject: below ext.<ns token>. */
bool trg_natsfeed_subject_ok(const char *ns, const char *subject, char *err, size_t errlen);

#endif
