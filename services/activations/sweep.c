/* The stream sweep: SQ_ACTIVATIONS holds what is in flight (interest retention: a record
 * goes once every consumer has it), but a record that every consumer has passed may still
 * stay in the stream, nats-server dropping it only when the last consumer's ack is seen
 * while no other one needs it: such leftovers were measured after long loads, and each one
 * pins a whole message block on disk. Every sweep_ms this thread reads the stream's state
 * and every consumer's (the store's durable one, the schedulers' ordered ones) and purges
 * the records below the lowest point all of them are past, which is what interest
 * retention promises and nothing more:
 *   - a consumer needs nothing at or below its acknowledgement floor (every record there is
 *     acknowledged; for an ack-none consumer: delivered);
 *   - a consumer with nothing pending and nothing awaiting acknowledgement needs nothing up
 *     to the stream's last sequence read before the consumers were (a record published
 *     after that is above it).
 * A consumer made after the reading starts with new records (the schedulers') or is the
 * store's durable one, which was listed. Nothing is purged unless the store's consumer was
 * seen. Every copy of the service sweeps; a purge is idempotent. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "sq/log.h"
#include "sq/metrics.h"
#include "sq/util.h"

#define STORE_CONSUMER "activations" /* writer.c's durable consumer */

struct act_sweeper {
    jsCtx *js;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool stop;
    int64_t purged;   /* records purged so far (logged) */
    sq_metric *swept; /* sq_activations_swept_total: the same, for /metrics */
};

/* The stream sequence below which every consumer of the stream is done, or 0 (unknown, or
 * the store's consumer not among them). last: the stream's last sequence, read first. */
static uint64_t done_below(jsConsumerInfoList *cl, uint64_t last)
{
    uint64_t low = UINT64_MAX;
    bool store = false;

    for (int i = 0; i < cl->Count; i++) {
        jsConsumerInfo *ci = cl->List[i];
        uint64_t past = ci->AckFloor.Stream;
        if (ci->NumPending == 0 && ci->NumAckPending == 0 && last > past)
            past = last;
        if (past < low)
            low = past;
        if (ci->Name != NULL && strcmp(ci->Name, STORE_CONSUMER) == 0)
            store = true;
    }
    return store && low != UINT64_MAX ? low + 1 : 0;
}

static void sweep(act_sweeper *sw)
{
    jsStreamInfo *si = NULL;
    jsConsumerInfoList *cl = NULL;
    jsErrCode jerr = 0;
    jsOptions o;
    natsStatus s;
    uint64_t below, first, msgs;

    if (js_GetStreamInfo(&si, sw->js, SQ_STREAM_ACTIVATIONS, NULL, &jerr) != NATS_OK)
        return; /* JetStream away: next time */
    first = si->State.FirstSeq;
    msgs = si->State.Msgs;
    below = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    if (msgs == 0 || js_Consumers(&cl, sw->js, SQ_STREAM_ACTIVATIONS, NULL, &jerr) != NATS_OK)
        return;
    below = done_below(cl, below);
    jsConsumerInfoList_Destroy(cl);
    if (below <= first)
        return; /* every record there is still needed by some consumer */
    jsOptions_Init(&o);
    o.Stream.Purge.Sequence = below;
    if ((s = js_PurgeStream(sw->js, SQ_STREAM_ACTIVATIONS, &o, &jerr)) != NATS_OK) {
        sq_warn("could not purge the records every consumer of \"%s\" is past (below %llu): %s "
                "(%d)",
                SQ_STREAM_ACTIVATIONS, (unsigned long long)below, natsStatus_GetText(s), (int)jerr);
        return;
    }
    sw->purged += (int64_t)(below - first);
    sq_metric_add(sw->swept, below - first);
    sq_info("purged records %llu to %llu of \"%s\" that every consumer was past (interest "
            "retention had left them; at most %lld so far)",
            (unsigned long long)first, (unsigned long long)(below - 1), SQ_STREAM_ACTIVATIONS,
            (long long)sw->purged);
}

static void *sweeper_main(void *arg)
{
    act_sweeper *sw = arg;
    pthread_mutex_lock(&sw->lock);
    while (!sw->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += act_cfg.sweep_ms / 1000;
        until.tv_nsec += (long)(act_cfg.sweep_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sw->cv, &sw->lock, &until);
        if (sw->stop)
            break;
        pthread_mutex_unlock(&sw->lock);
        sweep(sw);
        pthread_mutex_lock(&sw->lock);
    }
    pthread_mutex_unlock(&sw->lock);
    return NULL;
}

sq_status act_sweeper_start(act_sweeper **out, jsCtx *js)
{
    act_sweeper *sw;

    *out = NULL;
    if (act_cfg.sweep_ms == 0)
        return SQ_OK; /* off */
    if ((sw = calloc(1, sizeof *sw)) == NULL)
        return SQ_ERR_NOMEM;
    sw->js = js;
    sw->swept = sq_metric_counter("sq_activations_swept_total",
                                  "records purged from SQ_ACTIVATIONS by the sweep (every consumer "
                                  "past them; at most: a purge does not count what was gone)",
                                  NULL);
    pthread_mutex_init(&sw->lock, NULL);
    pthread_cond_init(&sw->cv, NULL);
    if (pthread_create(&sw->thread, NULL, sweeper_main, sw) != 0) {
        sq_error("could not start the stream sweep thread");
        pthread_cond_destroy(&sw->cv);
        pthread_mutex_destroy(&sw->lock);
        free(sw);
        return SQ_ERR_INTERNAL;
    }
    *out = sw;
    return SQ_OK;
}

void act_sweeper_stop(act_sweeper *sw)
{
    if (sw == NULL)
        return;
    pthread_mutex_lock(&sw->lock);
    sw->stop = true;
    pthread_cond_signal(&sw->cv);
    pthread_mutex_unlock(&sw->lock);
    pthread_join(sw->thread, NULL);
    pthread_cond_destroy(&sw->cv);
    pthread_mutex_destroy(&sw->lock);
    free(sw);
}
