/* The scheduler's Prometheus series (sq/metrics.h): invocations admitted and refused (by
 * the wire status: throttled 429, blocked 403, ...), the end-to-end latency of what it
 * admitted (admission to the record seen on SQ_ACTIVATIONS: queue, placement, init, run
 * and recording), activations it recorded as lost, and at scrape time the activations in
 * flight and the invokers it knows. */
#include <stdio.h>

#include "sched.h"
#include "sq/metrics.h"

static sq_metric *admitted, *refused[3], *overloaded, *latency, *lost;
static sched *S;

static double in_flight(void *closure)
{
    (void)closure;
    return (double)sched_flight_count(S->flights);
}

static double invokers(void *closure)
{
    (void)closure;
    return (double)sched_invokers_count(S->invokers);
}

void sched_metrics_init(sched *s)
{
    S = s;
    admitted = sq_metric_counter("sq_scheduler_invocations_total",
                                 "invocations the scheduler was asked for, by result",
                                 "result=\"admitted\"");
    refused[0] = sq_metric_counter("sq_scheduler_invocations_total",
                                   "invocations the scheduler was asked for, by result",
                                   "result=\"throttled\"");
    refused[1] = sq_metric_counter("sq_scheduler_invocations_total",
                                   "invocations the scheduler was asked for, by result",
                                   "result=\"blocked\"");
    refused[2] = sq_metric_counter("sq_scheduler_invocations_total",
                                   "invocations the scheduler was asked for, by result",
                                   "result=\"refused\"");
    overloaded = sq_metric_counter("sq_scheduler_invocations_total",
                                   "invocations the scheduler was asked for, by result",
                                   "result=\"overloaded\"");
    latency = sq_metric_histogram("sq_scheduler_invoke_seconds",
                                  "admission to the activation's record (end to end)", NULL,
                                  sq_metric_seconds_bounds, sq_metric_seconds_nbounds);
    lost = sq_metric_counter("sq_scheduler_lost_total",
                             "activations the scheduler recorded as lost (whisk internal error)",
                             NULL);
    sq_metric_gauge_fn("sq_scheduler_in_flight", "activations admitted and not yet recorded", NULL,
                       in_flight, NULL);
    sq_metric_gauge_fn("sq_scheduler_invokers", "live invokers this scheduler knows", NULL,
                       invokers, NULL);
}

void sched_metrics_admitted(void)
{
    sq_metric_inc(admitted);
}

void sched_metrics_refused(sq_status st)
{
    sq_metric_inc(refused[st == SQ_ERR_TOO_MANY ? 0 : st == SQ_ERR_FORBIDDEN ? 1 : 2]);
}

void sched_metrics_done(int64_t ms)
{
    sq_metric_observe(latency, (double)ms / 1000.0);
}

void sched_metrics_lost(void)
{
    sq_metric_inc(lost);
}

void sched_metrics_overloaded(void)
{
    sq_metric_inc(overloaded);
}
