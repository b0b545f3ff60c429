/* squall-scheduler: wiring only. Loads the config, connects to NATS (send-asap, with a
 * JetStream context whose publish acks arrive asynchronously), makes sure the streams
 * exist, follows the activation records (completions), listens to invoker and scheduler
 * heartbeats, entity and auth events and its own component replies, waits briefly for a
 * first invoker, starts the sweeper and the composition workers, then serves
 * sq.sched.invoke with `workers` subscriptions in the queue group "scheduler" and answers
 * health until SIGTERM. Shutdown: the invoke subscriptions are drained first (in-hand
 * invocations finish, the group's other copies get the rest), the acks of queued work are
 * awaited, then everything else stops in reverse order. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sched.h"
#include "proto/health.h"
#include "sq/log.h"
#include "sq/util.h"
#include "sq/workers.h"

#define MAX_WORKERS 16
#define SWEEP_MS 250
#define BEAT_MS 1000
#define MAX_INCIDENTS 64

void *sched_sweeper(void *arg)
{
    sched *s = arg;
    int64_t last_beat = 0;
    sched_incident inc[MAX_INCIDENTS];

    while (!atomic_load(&s->stopping)) {
        int64_t now = sched_mono_ms();
        int n;
        if (now - last_beat >= BEAT_MS) {
            static size_t last_count;
            size_t c = sched_flight_count(s->flights);
            if (c != last_count)
                sq_debug("%zu activation(s) in flight", c);
            last_count = c;
        }
        if (now - last_beat >= BEAT_MS) {
            sq_sched_beat b = { .id = s->self, .at = sq_now_ms() };
            SQ_PUBLISH(s->bus, SQ_SUBJ_SCHED_HEARTBEAT, sq_sched_beat, &b);
            last_beat = now;
        }
        n = sched_invokers_incidents(s->invokers, now, sched_cfg.heartbeat_ttl_ms, inc,
                                     MAX_INCIDENTS);
        sched_entities_apply(s);
        sched_work_full_report();
        sched_flight_sweep(s, inc, n, now);
        sched_replace_sweep(s, now);
        sched_runs_sweep(s, now);
        sched_batch_sweep(s, now);
        for (int slept = 0; slept < SWEEP_MS && !atomic_load(&s->stopping); slept += 50) {
            usleep(50 * 1000);
            sched_requeue_due(s, sched_mono_ms());
        }
    }
    return NULL;
}

/* The tables, the NATS connection with its JetStream context (publish acks arrive on
 * sched_on_pub_ack()), and the threads of runs, compositions and completions. */
static bool start(sched *s)
{
    jsOptions jo;
    natsStatus ns;
    sq_bus_opts o = { .name = "squall-scheduler", .send_asap = true, .jetstream = true };

    if (sched_config_load() != SQ_OK)
        return false;
    sq_id_new(s->self);
    snprintf(s->inbox, sizeof s->inbox, "sq.sched.r.%s", s->self);
    if ((s->cache = sched_cache_create(sched_cfg.cache_max)) == NULL ||
        (s->invokers = sched_invokers_create()) == NULL ||
        (s->limits = sched_limits_create()) == NULL ||
        (s->flights = sched_flights_create()) == NULL ||
        (s->peers = sched_peers_create(s->self)) == NULL) {
        sq_error("out of memory");
        return false;
    }
    o.url = sched_cfg.nats_url;
    if (sq_bus_connect(&s->bus, &o) != SQ_OK ||
        sq_streams_ensure(sq_bus_js(s->bus), SQ_STREAMS_WORK, SQ_STREAMS_ACTIVATIONS) != SQ_OK)
        return false;
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = sched_on_pub_ack;
    jo.PublishAsync.AckHandlerClosure = s;
    jo.PublishAsync.MaxPending = 65536;
    jo.Wait = sched_cfg.publish_timeout_ms;
    if ((ns = natsConnection_JetStream(&s->js, sq_bus_nc(s->bus), &jo)) != NATS_OK) {
        sq_error("could not open a JetStream context: %s", natsStatus_GetText(ns));
        return false;
    }
    return sched_runs_start(s) == SQ_OK && sched_seq_start(s) == SQ_OK &&
           sched_completions_start(s) == SQ_OK;
}

/* Every copy sees every heartbeat and every change: no queue group. */
static bool listen_events(sched *s, char *inbox_all, size_t len)
{
    snprintf(inbox_all, len, "%s.*", s->inbox);
    const sq_bus_route routes[] = {
        { .subject = SQ_SUBJ_INVOKER_HEARTBEAT,
          .queue = NULL,
          .fn = sched_on_heartbeat,
          .closure = s },
        { .subject = SQ_SUBJ_SCHED_HEARTBEAT, .queue = NULL, .fn = sched_on_peer, .closure = s },
        { .subject = SQ_SUBJ_EVT_AUTH, .queue = NULL, .fn = sched_on_auth, .closure = s },
        { .subject = inbox_all, .queue = NULL, .fn = sched_on_component, .closure = s },
        { .subject = SQ_SUBJ_SCHED_MOVED, .queue = NULL, .fn = sched_on_moved, .closure = s },
    };
    /* entity changes: applied by the thread that looks the cache up (sched_entities_apply) */
    if (natsConnection_SubscribeSync(&s->entities, sq_bus_nc(s->bus), SQ_SUBJ_EVT_ENTITY_ALL) !=
        NATS_OK) {
        sq_error("could not subscribe to \"%s\"", SQ_SUBJ_EVT_ENTITY_ALL);
        return false;
    }
    natsSubscription_SetPendingLimits(s->entities, -1, -1);
    return sq_bus_serve(s->bus, routes, sizeof routes / sizeof routes[0]) == SQ_OK;
}

/* Invokers beat about once a second: a scheduler that has just started would otherwise
 * answer its first invocations 503 although invokers are up. */
static void await_invokers(sched *s)
{
    for (int waited = 0; waited < sched_cfg.warmup_ms && sched_invokers_count(s->invokers) == 0;
         waited += 20)
        usleep(20 * 1000);
    if (sched_invokers_count(s->invokers) == 0)
        sq_warn("no invoker has announced itself yet");
}

/* Everything start() and main() made, in reverse order; what was not made is NULL. */
static void stop(sched *s, sched_worker *workers, int nworkers)
{
    natsSubscription *entities;

    sched_completions_stop(s);
    sched_seq_stop(s);
    sched_runs_stop(s);
    pthread_mutex_lock(&s->entities_lock);
    entities = s->entities;
    s->entities = NULL;
    pthread_mutex_unlock(&s->entities_lock);
    natsSubscription_Destroy(entities); /* NULL: never made */
    jsCtx_Destroy(s->js);
    sq_bus_destroy(s->bus); /* drains the listeners */
    for (int i = 0; i < nworkers; i++)
        sched_worker_fini(&workers[i]);
    sched_flights_destroy(s->flights);
    sched_peers_destroy(s->peers);
    sched_limits_destroy(s->limits);
    sched_invokers_destroy(s->invokers);
    sched_cache_destroy(s->cache);
    sched_config_free();
}

int main(void)
{
    sched s = { 0 };
    sched_worker workers[MAX_WORKERS];
    sq_workers *invoke = NULL;
    int nworkers = 0, rc = 1;
    bool sweeping = false;
    char inbox_all[80];

    if (sq_service_begin("squall-scheduler") != 0)
        return 1;
    atomic_init(&s.stopping, false);
    pthread_mutex_init(&s.entities_lock, NULL);
    if (!start(&s) || !listen_events(&s, inbox_all, sizeof inbox_all))
        goto out;
    await_invokers(&s);
    if (pthread_create(&s.sweeper, NULL, sched_sweeper, &s) != 0) {
        sq_error("could not start the sweeper thread");
        goto out;
    }
    sweeping = true;

    for (; nworkers < sched_cfg.workers && nworkers < MAX_WORKERS; nworkers++)
        if (sched_worker_init(&workers[nworkers], &s) != SQ_OK) {
            sq_error("out of memory");
            goto out;
        }
    sched_metrics_init(&s);
    if (sq_workers_serve(s.bus, SQ_SUBJ_SCHED_INVOKE, "scheduler", sched_on_invoke, workers,
                         sizeof workers[0], nworkers, &invoke) != SQ_OK ||
        sq_health_serve(s.bus, "scheduler", NULL,
                        (sq_health_check[]){ { .name = "jetstream", .stream = SQ_STREAM_WORK } },
                        1) != SQ_OK)
        goto out;

    sq_info("ready as \"%s\": %d invoke worker(s), %d invoker(s) known", s.self, nworkers,
            sched_invokers_count(s.invokers));
    sq_service_wait("shutting down");
    rc = 0;
out:
    /* no new invocations: the ones in hand finish, the other copies take the rest */
    sq_workers_drain(invoke, 5000);
    if (s.js != NULL) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = sched_cfg.publish_timeout_ms;
        js_PublishAsyncComplete(s.js, &po);
    }
    atomic_store(&s.stopping, true);
    if (sweeping)
        pthread_join(s.sweeper, NULL);
    sched_requeue_drop();
    sq_workers_destroy(invoke);
    stop(&s, workers, nworkers);
    return rc;
}
