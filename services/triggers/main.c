/* squall-triggers: wiring only. Loads the config, connects to NATS (send-asap, with
 * JetStream), makes sure the streams exist, opens the synchronous entity-event subscription
 * the trigger cache drains, serves sq.trigger.fire and sq.fire.> with `workers` subscriptions
 * in the queue group "triggers", listens to auth events (limits), answers health, starts the
 * feeds (alarms.c: timers; natsfeed.c: subscriptions), and keeps a small thread that drains entity events between
 * fires and drops the cache after a reconnect. */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "proto/health.h"
#include "sq/log.h"
#include "sq/util.h"
#include "sq/workers.h"
#include "triggers.h"

#define MAX_WORKERS 32 /* the bound of the `workers` setting */

static atomic_bool stopping;

static void *timer_main(void *arg)
{
    trg_service *s = arg;
    uint64_t reconnects = 0;

    while (!atomic_load(&stopping)) {
        natsStatistics *st = NULL;
        uint64_t rc = 0;
        if (natsStatistics_Create(&st) == NATS_OK &&
            natsConnection_GetStats(sq_bus_nc(s->bus), st) == NATS_OK &&
            natsStatistics_GetCounts(st, NULL, NULL, NULL, NULL, &rc) == NATS_OK &&
            rc != reconnects) {
            /* entity events may have been missed while disconnected */
            reconnects = rc;
            trg_cache_clear(s->cache);
        }
        natsStatistics_Destroy(st);
        trg_cache_sync(s->cache);
        usleep(200 * 1000);
    }
    return NULL;
}

/* The NATS connection with JetStream (records are published asynchronously), then the
 * synchronous entity-event subscription the cache drains: nothing may be cached before
 * events are heard. */
static bool start(trg_service *s, natsSubscription **events)
{
    sq_bus_opts o = { .name = "squall-triggers", .send_asap = true, .jetstream = true };
    natsStatus ns;
    jsOptions jo;

    if (trg_config_load() != SQ_OK)
        return false;
    o.url = trg_cfg.nats_url;
    if (sq_bus_connect(&s->bus, &o) != SQ_OK ||
        sq_streams_ensure(sq_bus_js(s->bus), 0, SQ_STREAMS_ACTIVATIONS) != SQ_OK)
        return false;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = trg_cfg.max_pending;
    jo.PublishAsync.ErrHandler = trg_on_record_error;
    if ((ns = natsConnection_JetStream(&s->js, sq_bus_nc(s->bus), &jo)) != NATS_OK) {
        sq_error("could not open a JetStream context: %s", natsStatus_GetText(ns));
        return false;
    }
    if (trg_records_start(s->js) != SQ_OK)
        return false;
    ns = natsConnection_SubscribeSync(events, sq_bus_nc(s->bus), SQ_SUBJ_EVT_ENTITY_ALL);
    if (ns == NATS_OK)
        ns = natsSubscription_SetPendingLimits(*events, 1 << 20, 256 << 20);
    if (ns != NATS_OK) {
        sq_error("could not subscribe to entity events: %s", natsStatus_GetText(ns));
        return false;
    }
    if ((s->cache = trg_cache_create(*events, trg_cfg.cache_max)) == NULL) {
        sq_error("out of memory");
        return false;
    }
    return true;
}

/* n workers for each fire subject; *made is how many of each were initialised. */
static bool serve_fires(trg_service *s, trg_worker *fire, trg_worker *nats, int n, int *made,
                        sq_workers **fire_subs, sq_workers **nats_subs)
{
    for (*made = 0; *made < n; (*made)++) {
        if (trg_worker_init(&fire[*made], s) != SQ_OK) {
            trg_worker_fini(&fire[*made]);
            return false;
        }
        if (trg_worker_init(&nats[*made], s) != SQ_OK) {
            trg_worker_fini(&nats[*made]);
            trg_worker_fini(&fire[*made]);
            return false;
        }
    }
    return sq_workers_serve(s->bus, SQ_SUBJ_TRIGGER_FIRE, "triggers", trg_on_fire, fire,
                            sizeof fire[0], n, fire_subs) == SQ_OK &&
           sq_workers_serve(s->bus, SQ_SUBJ_FIRE_ALL, "triggers", trg_on_nats_fire, nats,
                            sizeof nats[0], n, nats_subs) == SQ_OK;
}

int main(void)
{
    trg_service s = { 0 };
    /* one worker (arena, buffers) per subscription: nats.c delivers each subscription on a
     * thread of its own, so two subscriptions must never share a worker's arena */
    trg_worker fire[MAX_WORKERS], nats[MAX_WORKERS];
    sq_workers *fire_subs = NULL, *nats_subs = NULL;
    natsSubscription *events = NULL;
    pthread_t timer;
    bool timer_started = false;
    int nworkers = 0, rc = 1;

    if (sq_service_begin("squall-triggers") != 0)
        return 1;
    if (!start(&s, &events))
        goto out;
    if (pthread_create(&timer, NULL, timer_main, &s) != 0) {
        sq_error("could not start the timer thread");
        goto out;
    }
    timer_started = true;

    const sq_bus_route listen[] = {
        { .subject = SQ_SUBJ_EVT_AUTH, .queue = NULL, .fn = trg_on_auth_event, .closure = &s },
    };
    if (sq_bus_serve(s.bus, listen, sizeof listen / sizeof listen[0]) != SQ_OK ||
        !serve_fires(&s, fire, nats, trg_cfg.workers < MAX_WORKERS ? trg_cfg.workers : MAX_WORKERS,
                     &nworkers, &fire_subs, &nats_subs) ||
        sq_health_serve(s.bus, "triggers", NULL,
                        (sq_health_check[]){ { .name = "jetstream", .stream = TRG_STREAM_EVENTS } },
                        1) != SQ_OK)
        goto out;

    if (trg_cfg.feeds && (trg_natsfeed_start(&s) != SQ_OK || trg_alarms_start(&s) != SQ_OK))
        goto out;

    sq_info("ready: %d fire worker(s)%s", nworkers, trg_cfg.feeds ? ", feeds (alarms, nats)" : "");
    sq_service_wait("shutting down");
    rc = 0;
out:
    trg_alarms_stop();
    trg_natsfeed_stop();
    atomic_store(&stopping, true);
    if (timer_started)
        pthread_join(timer, NULL);
    /* fires in hand are finished */
    sq_workers_drain(fire_subs, 5000);
    sq_workers_drain(nats_subs, 5000);
    if (s.js != NULL) {
        /* records still waiting for JetStream's ack */
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 5000;
        if (js_PublishAsyncComplete(s.js, &po) != NATS_OK)
            sq_warn("some trigger records were not acknowledged before shutdown");
    }
    trg_records_stop(); /* the records refused meanwhile, published again */
    sq_workers_destroy(fire_subs);
    sq_workers_destroy(nats_subs);
    sq_bus_destroy(s.bus);
    jsCtx_Destroy(s.js);
    for (int i = 0; i < nworkers; i++) {
        trg_worker_fini(&fire[i]);
        trg_worker_fini(&nats[i]);
    }
    natsSubscription_Destroy(events);
    trg_cache_destroy(s.cache);
    trg_limits_fini();
    trg_config_free();
    return rc;
}
