/* The invoker's Prometheus series (sq/metrics.h): activations by status, their run time
 * (the record's start to end: the init of a cold start included), cold starts, and the
 * containers and queue read from the pool at scrape time (under I.lock, never on a hot
 * path). Registered once before the invoker serves; updated by the worker that made the
 * record. */
#include <stdio.h>

#include "invoker.h"
#include "sq/metrics.h"

static sq_metric *by_status[4], *run_seconds, *cold_starts;

enum { C_WARM, C_BUSY, C_FROZEN, C_STEM, C_QUEUED };

static double pool_count(void *closure)
{
    int what = (int)(intptr_t)closure, n = 0;
    pthread_mutex_lock(&I.lock);
    if (what == C_STEM) {
        for (inv_slot *s = I.stems; s; s = s->next)
            n++;
    } else if (what == C_QUEUED) {
        n = I.queued;
    } else {
        for (inv_slot *s = I.pool; s; s = s->next) {
            bool frozen = s->c != NULL && inv_container_frozen(s->c);
            if (what == C_BUSY     ? s->inflight > 0
                : what == C_FROZEN ? frozen
                                   : s->inflight == 0 && !frozen)
                n++;
        }
    }
    pthread_mutex_unlock(&I.lock);
    return n;
}

static double memory_used(void *closure)
{
    int mb;
    (void)closure;
    pthread_mutex_lock(&I.lock);
    mb = I.used_mb;
    pthread_mutex_unlock(&I.lock);
    return (double)mb * 1024 * 1024;
}

void inv_metrics_init(const char *work_durable)
{
    static const char *const status[] = { "success", "application_error", "developer_error",
                                          "internal_error" };
    static const char *const states[] = { "warm", "busy", "frozen", "stem" };
    char labels[64];

    for (int i = 0; i < 4; i++) {
        snprintf(labels, sizeof labels, "status=\"%s\"", status[i]);
        by_status[i] = sq_metric_counter("sq_invoker_activations_total",
                                         "activations this invoker recorded, by status", labels);
    }
    run_seconds =
        sq_metric_histogram("sq_invoker_run_seconds",
                            "an activation's time in its container (init of a cold start included)",
                            NULL, sq_metric_seconds_bounds, sq_metric_seconds_nbounds);
    cold_starts = sq_metric_counter("sq_invoker_cold_starts_total",
                                    "activations that needed a container initialised", NULL);
    for (int i = 0; i < 4; i++) {
        snprintf(labels, sizeof labels, "state=\"%s\"", states[i]);
        sq_metric_gauge_fn("sq_invoker_containers",
                           "containers by state (warm: idle and running; frozen: idle and frozen; "
                           "stem: not yet given to an action)",
                           labels, pool_count, (void *)(intptr_t)i);
    }
    sq_metric_gauge_fn("sq_invoker_queue_depth",
                       "activations taken from the stream, waiting for a worker", NULL, pool_count,
                       (void *)(intptr_t)C_QUEUED);
    sq_metric_gauge_fn("sq_invoker_memory_used_bytes", "memory of every live container", NULL,
                       memory_used, NULL);
    sq_metrics_js_consumer(SQ_STREAM_WORK, work_durable);
}

void inv_metrics_record(const sq_activation *a, bool cold)
{
    if ((int)a->status >= 0 && (int)a->status < 4)
        sq_metric_inc(by_status[a->status]);
    sq_metric_observe(run_seconds, (double)(a->end - a->start) / 1000.0);
    if (cold)
        sq_metric_inc(cold_starts);
}
