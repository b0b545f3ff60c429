/* squall-scheduler: wiring only. Loads the config, connects to NATS (send-asap, with
 * JetStream), makes sure the streams exist, listens to heartbeats and entity events, waits
 * briefly for a first invoker, then serves sq.sched.invoke with `workers` subscriptions in
 * the queue group "scheduler" and answers health until SIGTERM. */
#include <stdio.h>
#include <unistd.h>

#include "sched.h"
#include "sq/log.h"
#include "sq/util.h"

#define MAX_WORKERS 16

int main(void)
{
    sched s = { 0 };
    sched_worker workers[MAX_WORKERS];
    sq_bus_route invoke[MAX_WORKERS];
    int nworkers = 0, rc = 1, sig;
    sq_bus_opts o = { .name = "squall-scheduler", .send_asap = true, .jetstream = true };

    sq_signals_block();
    sq_log_init("squall-scheduler");
    if (sq_crypto_init() != 0) {
        sq_error("could not initialise libsodium");
        return 1;
    }
    if (sched_config_load() != SQ_OK)
        goto out;
    if ((s.cache = sched_cache_create(sched_cfg.cache_max)) == NULL ||
        (s.invokers = sched_invokers_create()) == NULL) {
        sq_error("out of memory");
        goto out;
    }
    o.url = sched_cfg.nats_url;
    if (sq_bus_connect(&s.bus, &o) != SQ_OK || sq_streams_ensure(sq_bus_js(s.bus)) != SQ_OK)
        goto out;

    /* every copy sees every heartbeat and every change: no queue group */
    const sq_bus_route listen[] = {
        { .subject = SQ_SUBJ_INVOKER_HEARTBEAT, .queue = NULL, .fn = sched_on_heartbeat, .closure = &s },
        { .subject = SQ_SUBJ_EVT_ENTITY_ALL, .queue = NULL, .fn = sched_on_entity, .closure = &s },
    };
    if (sq_bus_serve(s.bus, listen, sizeof listen / sizeof listen[0]) != SQ_OK)
        goto out;

    /* Invokers beat about once a second: a scheduler that has just started would otherwise
     * answer its first invocations 503 although invokers are up. */
    for (int waited = 0; waited < sched_cfg.warmup_ms && sched_invokers_count(s.invokers) == 0; waited += 20)
        usleep(20 * 1000);
    if (sched_invokers_count(s.invokers) == 0)
        sq_warn("no invoker has announced itself yet");

    for (; nworkers < sched_cfg.workers && nworkers < MAX_WORKERS; nworkers++) {
        if (sched_worker_init(&workers[nworkers], &s) != SQ_OK) {
            sq_error("out of memory");
            goto out;
        }
        invoke[nworkers] = (sq_bus_route){ .subject = SQ_SUBJ_SCHED_INVOKE, .queue = "scheduler",
                                           .fn = sched_on_invoke, .closure = &workers[nworkers] };
    }
    if (sq_bus_serve(s.bus, invoke, (size_t)nworkers) != SQ_OK ||
        sq_bus_serve_health(s.bus, "scheduler") != SQ_OK)
        goto out;

    sq_info("ready: %d invoke worker(s), %d invoker(s) known", nworkers, sched_invokers_count(s.invokers));
    sig = sq_signals_wait();
    sq_info("received signal %d, shutting down", sig);
    rc = 0;
out:
    sq_bus_destroy(s.bus); /* drains: invocations in hand are finished */
    for (int i = 0; i < nworkers; i++)
        sched_worker_fini(&workers[i]);
    sched_invokers_destroy(s.invokers);
    sched_cache_destroy(s.cache);
    sched_config_free();
    return rc;
}
