/* The alarms feed: timers that fire triggers on a cron schedule, every N minutes, or once.
 *
 * How a timer comes to be. The feed actions of /whisk.system/alarms (alarm, interval, once)
 * run like any action, without NATS credentials; on CREATE they check their parameters and
 * write them into the trigger itself, as its annotation `alarm` (through the REST API, with
 * the authKey OpenWhisk hands every feed action), and on DELETE they take it away. Every
 * change of a trigger is announced on sq.evt.entity.<ns>.trigger; a JetStream stream keeps
 * those events (SQ_TRIGGER_EVENTS), so that none is lost while no triggers service runs, and
 * the copies of the service share them through one durable consumer. For each, the trigger
 * is read back from the registry and its timer written to, or deleted from, the JetStream KV
 * bucket SQ_ALARMS (key a.<ns>.<trigger>): the durable list of timers, which survives
 * restarts of everything.
 *
 * How a tick fires once across N copies. Every copy watches SQ_ALARMS and keeps every timer
 * in memory with its next tick. At a tick each copy tries to create the key
 * <timer>.<tick ms> in the bucket SQ_ALARM_TICKS (one hour TTL): the KV create is a compare-
 * and-set on "no such key", so exactly one copy wins the tick and fires; the others skip it.
 * A copy that dies (kill -9) loses nothing: the others win the following ticks.
 *
 * Times are UTC, in ms since the epoch (the feed actions turn dates into numbers). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
#include "proto/js.h"
#include "sq/log.h"
#include "sq/metrics.h"
#include "sq/util.h"
#include "triggers.h"

enum { ALARM_CRON, ALARM_INTERVAL, ALARM_ONCE };
static const char *const type_names[] = { "alarm", "interval", "once" };

typedef struct trg_timer {
    struct trg_timer *next;
    char *key, *ns, *name;
    int type;
    trg_cron cron;
    int64_t interval_ms, at_ms, start_ms, stop_ms, created_ms;
    char *payload; /* msgpack map (or nil) */
    size_t payload_len;
    int64_t next_ms; /* -1: nothing more to fire */
} trg_timer;

static struct {
    trg_service *s;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    trg_timer *list;
    kvStore *timers, *ticks;
    natsSubscription *events;
    pthread_t watch_thread, timer_thread, event_thread;
    int nthreads;
    atomic_bool stopping;
    trg_worker worker; /* fires from the timer thread */
    bool worker_ok;
} A = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* ---- keys and values ------------------------------------------------------------------------ */

/* The timer's next tick strictly after now; -1 when there is none. */
static int64_t next_tick(const trg_timer *a, int64_t now)
{
    int64_t from = now, t;
    if (a->start_ms > 0 && a->start_ms - 1 > from)
        from = a->start_ms - 1;
    switch (a->type) {
    case ALARM_CRON: t = trg_cron_next(&a->cron, from); break;
    case ALARM_INTERVAL: {
        int64_t base = a->start_ms > 0 ? a->start_ms : a->created_ms;
        if (from < base)
            t = base;
        else
            t = base + ((from - base) / a->interval_ms + 1) * a->interval_ms;
        break;
    }
    default: t = a->at_ms > now ? a->at_ms : -1;
    }
    if (t >= 0 && a->stop_ms > 0 && t > a->stop_ms)
        return -1;
    return t;
}

/* Checks a timer's settings (from the `alarm` annotation of a trigger, or a stored value)
 * into *a. The strings of *a are not set. */
static bool alarm_parse(const sq_alarm_when *cfg, trg_timer *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (strcmp(cfg->type, "alarm") == 0 || strcmp(cfg->type, "cron") == 0)
        a->type = ALARM_CRON;
    else if (strcmp(cfg->type, "interval") == 0)
        a->type = ALARM_INTERVAL;
    else if (strcmp(cfg->type, "once") == 0)
        a->type = ALARM_ONCE;
    else {
        snprintf(err, errlen, "unknown alarm type");
        return false;
    }
    a->start_ms = cfg->start_date;
    a->stop_ms = cfg->stop_date;
    a->at_ms = cfg->date;
    a->created_ms = cfg->created;
    if (a->type == ALARM_CRON) {
        if (cfg->cron == NULL || strlen(cfg->cron) >= 256) {
            snprintf(err, errlen, "an alarm needs a cron expression");
            return false;
        }
        if (!trg_cron_parse(cfg->cron, &a->cron, err, errlen))
            return false;
    } else if (a->type == ALARM_INTERVAL) {
        if (cfg->minutes <= 0 || cfg->minutes > 10 * 365 * 24 * 60) {
            snprintf(err, errlen, "an interval needs minutes > 0");
            return false;
        }
        a->interval_ms = cfg->minutes * 60000;
    } else if (a->at_ms <= 0) {
        snprintf(err, errlen, "a once alarm needs a date");
        return false;
    }
    return true;
}

static void alarm_free(trg_timer *a)
{
    if (a == NULL)
        return;
    free(a->key);
    free(a->ns);
    free(a->name);
    free(a->payload);
    free(a);
}

/* ---- the stored timers: the watch ------------------------------------------------------ */

/* Replaces (or, value NULL, removes) the timer at key. */
static void timers_set(const char *key, const char *value, size_t len)
{
    trg_timer *n = NULL, **pp;
    msgpack_zone z;
    sq_alarm_note note;
    char err[200] = "";

    if (value != NULL) {
        msgpack_zone_init(&z, 1024);
        n = calloc(1, sizeof *n);
        if (n && sq_alarm_note_decode(value, len, &z, &note, err, sizeof err) == SQ_OK &&
            alarm_parse(&note.when, n, err, sizeof err)) {
            msgpack_sbuffer sb;
            msgpack_packer pk;
            n->ns = strdup(note.ns);
            n->name = strdup(note.name);
            n->key = strdup(key);
            sq_proto_buf_init(&sb, &pk);
            sq_mp_pack_obj(&pk, note.payload.type == MSGPACK_OBJECT_MAP ? &note.payload : NULL);
            n->payload = sb.data;
            n->payload_len = sb.size;
            if (!n->ns || !n->name || !n->key || !n->payload) {
                alarm_free(n);
                n = NULL;
            } else
                n->next_ms = next_tick(n, sq_now_ms());
        } else {
            sq_warn("ignored stored timer \"%s\": %s", key, err[0] ? err : "unreadable");
            free(n);
            n = NULL;
        }
        msgpack_zone_destroy(&z);
    }
    pthread_mutex_lock(&A.lock);
    for (pp = &A.list; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, key) == 0) {
            trg_timer *old = *pp;
            *pp = old->next;
            alarm_free(old);
            break;
        }
    if (n != NULL) {
        n->next = A.list;
        A.list = n;
    }
    pthread_cond_broadcast(&A.cv);
    pthread_mutex_unlock(&A.lock);
    if (n != NULL)
        sq_info("timer \"%s\" (%s of \"%s/%s\"): next tick %lld", key, type_names[n->type], n->ns,
                n->name, (long long)n->next_ms);
    else if (value == NULL)
        sq_info("timer \"%s\" removed", key);
}

static void *watch_main(void *arg)
{
    while (!atomic_load(&A.stopping)) {
        kvWatcher *w = NULL;
        natsStatus s = kvStore_WatchAll(&w, A.timers, NULL);
        if (s != NATS_OK) {
            sq_warn("could not watch the timers: %s", natsStatus_GetText(s));
            usleep(500 * 1000);
            continue;
        }
        while (!atomic_load(&A.stopping)) {
            kvEntry *e = NULL;
            s = kvWatcher_Next(&e, w, 500);
            if (s == NATS_TIMEOUT)
                continue;
            if (s != NATS_OK)
                break;
            if (e == NULL)
                continue; /* the initial values are in */
            if (kvEntry_Operation(e) == kvOp_Put)
                timers_set(kvEntry_Key(e), kvEntry_Value(e), (size_t)kvEntry_ValueLen(e));
            else
                timers_set(kvEntry_Key(e), NULL, 0);
            kvEntry_Destroy(e);
        }
        kvWatcher_Destroy(w);
    }
    return NULL;
}

/* ---- ticks --------------------------------------------------------------------------------- */

static void fire_tick(const char *key, const char *ns, const char *name, const char *payload,
                      size_t plen, int64_t tick, bool last)
{
    char lease[600], id[33];
    uint64_t rev = 0;
    natsStatus s;
    sq_fire f = { 0 };
    msgpack_object o;
    char *copy;
    int code;

    snprintf(lease, sizeof lease, "%s.%lld", key, (long long)tick);
    s = kvStore_Create(&rev, A.ticks, lease, "1", 1);
    if (s != NATS_OK) {
        if (s != NATS_ERR) /* NATS_ERR: "wrong last sequence", another copy has the tick */
            sq_debug("tick \"%s\" not taken: %s", lease, natsStatus_GetText(s));
        return;
    }
    msgpack_zone_clear(&A.worker.zone);
    copy = msgpack_zone_malloc(&A.worker.zone, plen ? plen : 1);
    if (copy == NULL)
        return;
    memcpy(copy, payload, plen);
    if (sq_mp_unpack(copy, plen, &A.worker.zone, &o) != SQ_OK)
        o.type = MSGPACK_OBJECT_NIL;
    sq_id_new(id);
    f.id = id;
    f.ns = (char *)ns;
    f.name = (char *)name;
    f.subject = (char *)ns;
    f.key = "";
    f.caller_ns = (char *)ns;
    f.payload = o;
    code = trg_fire(&A.worker, NULL, &f);
    if (code != 0 && code != 404 && code != 403) /* 403: the subject is blocked, the timer stays */
        sq_warn("alarm of trigger \"%s/%s\" at %lld: the fire was refused (%d)", ns, name,
                (long long)tick, code);
    sq_debug("alarm \"%s\" fired %lld ms after its tick", key, (long long)(sq_now_ms() - tick));
    if (code == 404 || last) {
        /* the trigger is gone, or nothing is left to fire: the timer goes */
        kvStore_Delete(A.timers, key);
    }
}

static void *timer_main(void *arg)
{
    pthread_mutex_lock(&A.lock);
    while (!atomic_load(&A.stopping)) {
        int64_t now = sq_now_ms(), soonest = now + 1000;
        trg_timer *due = NULL;
        for (trg_timer *a = A.list; a; a = a->next) {
            if (a->next_ms < 0)
                continue;
            if (a->next_ms <= now) {
                due = a;
                break;
            }
            if (a->next_ms < soonest)
                soonest = a->next_ms;
        }
        if (due != NULL) {
            int64_t tick = due->next_ms;
            char *key = strdup(due->key), *ns = strdup(due->ns), *name = strdup(due->name);
            char *payload = malloc(due->payload_len ? due->payload_len : 1);
            size_t plen = due->payload_len;
            bool last;
            if (payload)
                memcpy(payload, due->payload, plen);
            due->next_ms = next_tick(due, tick);
            last = due->next_ms < 0;
            pthread_mutex_unlock(&A.lock);
            if (key && ns && name && payload) {
                if (sq_now_ms() - tick > 60000)
                    sq_warn("skipping a tick of \"%s\" a minute late", key);
                else
                    fire_tick(key, ns, name, payload, plen, tick, last);
            }
            free(key);
            free(ns);
            free(name);
            free(payload);
            pthread_mutex_lock(&A.lock);
            continue;
        }
        {
            struct timespec ts = { .tv_sec = soonest / 1000,
                                   .tv_nsec = (soonest % 1000) * 1000000L };
            pthread_cond_timedwait(&A.cv, &A.lock, &ts);
        }
    }
    pthread_mutex_unlock(&A.lock);
    return NULL;
}

/* ---- trigger events: keeping SQ_ALARMS in step with the triggers ------------------------------ */

/* The stored value of the timer of trigger t (its `alarm` annotation with ns, name, the
 * payload and when) packed into pk; false when t has no alarm, a bad one, or a paused one. */
static bool alarm_value(const char *ns, const char *name, const sq_trigger *t, sq_arena_t *z,
                        msgpack_packer *pk)
{
    const msgpack_object *v = sq_kv_value(&t->annotations, "alarm");
    char err[200] = "";
    sq_alarm_cfg cfg;
    trg_timer a;
    sq_alarm_note note = { .ns = (char *)ns, .name = (char *)name };

    if (v == NULL || v->type != MSGPACK_OBJECT_MAP)
        return false;
    if (sq_alarm_cfg_from(v, z, &cfg, err, sizeof err) == SQ_OK)
        note.when = cfg.when;
    if (err[0] != '\0' || !alarm_parse(&note.when, &a, err, sizeof err)) {
        sq_warn("trigger \"%s/%s\" has a bad alarm: %s", ns, name, err);
        return false;
    }
    if (cfg.paused)
        return false;
    note.when.type = (char *)type_names[a.type];
    note.when.minutes = a.interval_ms / 60000;
    note.when.created = a.created_ms > 0 ? a.created_ms : sq_now_ms();
    if (cfg.trigger_payload.type == MSGPACK_OBJECT_MAP)
        note.payload = cfg.trigger_payload; /* else nil */
    sq_alarm_note_encode(&note, pk);
    return true;
}

/* Reads ns/name from the registry and writes or deletes its timer. False when the registry
 * could not be asked (the event is then redelivered). */
static bool sync_trigger(const char *ns, const char *name)
{
    char key[700];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;
    natsMsg *reply = NULL;
    sq_reg_ref ref = { .ns = (char *)ns, .name = (char *)name, .kind = SQ_KIND_TRIGGER };
    sq_trigger t;
    int code;
    const char *emsg;
    size_t elen;
    bool ok = true, keep = false;

    if (trg_kv_key(ns, name, key, sizeof key) != 0)
        return true;
    sq_proto_buf_init(&sb, &pk);
    sq_reg_ref_encode(&ref, &pk);
    if (sq_bus_request(A.s->bus, SQ_SUBJ_REG_GET, sb.data, sb.size, trg_cfg.registry_timeout_ms,
                       &reply) != SQ_OK) {
        msgpack_sbuffer_destroy(&sb);
        return false;
    }
    msgpack_sbuffer_clear(&sb);
    msgpack_zone_init(&z, 2048);
    if (sq_mp_unpack(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), &z, &o) !=
        SQ_OK) {
        ok = true; /* nothing to learn from it */
    } else if (sq_wire_error_get(&o, &code, &emsg, &elen)) {
        ok = code < 500; /* 404: the trigger is gone; the timer goes too */
        if (code == 404 && !trg_natsfeed_sync(ns, name, NULL))
            ok = false;
    } else if (sq_trigger_from(&o, &z, &t, NULL, 0) != SQ_OK) {
        sq_warn("the registry gave a malformed trigger \"%s/%s\"", ns, name);
    } else if (!trg_natsfeed_sync(ns, name, &t)) {
        ok = false;
    } else {
        keep = alarm_value(ns, name, &t, &z, &pk);
    }
    if (keep) {
        uint64_t rev;
        natsStatus s = kvStore_Put(&rev, A.timers, key, sb.data, (int)sb.size);
        if (s != NATS_OK) {
            sq_warn("could not store the timer of \"%s/%s\": %s", ns, name, natsStatus_GetText(s));
            ok = false;
        }
    } else if (ok) {
        kvEntry *e = NULL;
        if (kvStore_Get(&e, A.timers, key) == NATS_OK) {
            kvEntry_Destroy(e);
            kvStore_Delete(A.timers, key);
        }
    }
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(reply);
    msgpack_sbuffer_destroy(&sb);
    return ok;
}

/* One trigger event: 0 when done with it, -1 to have it again */
static int64_t on_event(natsMsg *m, void *closure)
{
    msgpack_zone z;
    sq_entity_event ev;
    bool done = true;

    (void)closure;
    msgpack_zone_init(&z, 512);
    if (sq_entity_event_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &z, &ev, NULL,
                               0) == SQ_OK &&
        strcmp(ev.kind, SQ_KIND_TRIGGER) == 0) {
        if (strcmp(ev.op, "delete") == 0) {
            char key[700];
            kvEntry *e = NULL;
            done = trg_natsfeed_sync(ev.ns, ev.name, NULL);
            if (trg_kv_key(ev.ns, ev.name, key, sizeof key) == 0 &&
                kvStore_Get(&e, A.timers, key) == NATS_OK) {
                kvEntry_Destroy(e);
                kvStore_Delete(A.timers, key);
            }
        } else
            done = sync_trigger(ev.ns, ev.name);
    }
    msgpack_zone_destroy(&z);
    return done ? 0 : -1;
}

static void *event_main(void *arg)
{
    (void)arg;
    sq_pull_loop(A.events, 32, &A.stopping, on_event, NULL);
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------------------- */

static natsStatus bucket(jsCtx *js, const char *name, int64_t ttl_ms, kvStore **out)
{
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = name;
    kc.History = 1;
    kc.TTL = ttl_ms * 1000000; /* nanoseconds */
    kc.StorageType = js_FileStorage;
    return sq_js_kv_open(out, js, &kc); /* with SQ_JS_REPLICAS; another copy may make it too */
}

sq_status trg_alarms_start(trg_service *s)
{
    jsCtx *js = sq_bus_js(s->bus);
    jsOptions jo;
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus ns;

    A.s = s;
    if ((ns = bucket(js, TRG_KV_TIMERS, 0, &A.timers)) != NATS_OK ||
        (ns = bucket(js, TRG_KV_TICKS, 3600 * 1000, &A.ticks)) != NATS_OK) {
        sq_error("could not set up the alarm timers in JetStream: %s", natsStatus_GetText(ns));
        return SQ_ERR_UNAVAILABLE;
    }
    /* the trigger events, a day at most (made with SQ_JS_REPLICAS; another copy may make it) */
    if (sq_stream_limits_ensure(js, TRG_STREAM_EVENTS, "sq.evt.entity.*.trigger",
                                24LL * 3600 * 1000000000LL) != SQ_OK)
        return SQ_ERR_UNAVAILABLE;
    jsOptions_Init(&jo);
    jsSubOptions_Init(&so);
    so.Stream = TRG_STREAM_EVENTS;
    so.Config.AckWait = 30000LL * 1000000LL;
    sq_metrics_js_consumer(TRG_STREAM_EVENTS, "triggers-alarms");
    ns = js_PullSubscribe(&A.events, js, "sq.evt.entity.*.trigger", "triggers-alarms", &jo, &so,
                          &jerr);
    if (ns != NATS_OK) {
        sq_error("could not consume trigger events: %s (%d)", natsStatus_GetText(ns), (int)jerr);
        return SQ_ERR_UNAVAILABLE;
    }
    if (trg_worker_init(&A.worker, s) != SQ_OK)
        return SQ_ERR_UNAVAILABLE;
    A.worker_ok = true;
    if (pthread_create(&A.watch_thread, NULL, watch_main, NULL) != 0)
        return SQ_ERR_INTERNAL;
    A.nthreads = 1;
    if (pthread_create(&A.timer_thread, NULL, timer_main, NULL) != 0)
        return SQ_ERR_INTERNAL;
    A.nthreads = 2;
    if (pthread_create(&A.event_thread, NULL, event_main, NULL) != 0)
        return SQ_ERR_INTERNAL;
    A.nthreads = 3;
    return SQ_OK;
}

void trg_alarms_stop(void)
{
    atomic_store(&A.stopping, true);
    pthread_mutex_lock(&A.lock);
    pthread_cond_broadcast(&A.cv);
    pthread_mutex_unlock(&A.lock);
    if (A.nthreads > 0)
        pthread_join(A.watch_thread, NULL);
    if (A.nthreads > 1)
        pthread_join(A.timer_thread, NULL);
    if (A.nthreads > 2)
        pthread_join(A.event_thread, NULL);
    A.nthreads = 0;
    natsSubscription_Destroy(A.events);
    A.events = NULL;
    kvStore_Destroy(A.timers);
    kvStore_Destroy(A.ticks);
    A.timers = A.ticks = NULL;
    if (A.worker_ok)
        trg_worker_fini(&A.worker);
    A.worker_ok = false;
    pthread_mutex_lock(&A.lock);
    while (A.list) {
        trg_timer *n = A.list->next;
        alarm_free(A.list);
        A.list = n;
    }
    pthread_mutex_unlock(&A.lock);
}
