/* The stream sweep: SQ_ACTIVATIONS holds what is in flight, with limits retention
 * (proto/streams.c says why not interest retention): nats-server removes nothing on an
 * acknowledgement, and this sweep is what empties the stream. Every sweep_ms this thread
 * reads the stream's state and every consumer's (the store's durable one, the schedulers'
 * ordered ones) and purges the records below the lowest point all of them are past
 * (act_sweep_below()); a stream made by an older Squall with interest retention is swept
 * the same way (nats-server also leaves records there that every consumer has passed).
 *
 * The store's consumer is past a record only by its own acknowledgement floor: every record
 * there was stored and acknowledged. Its pending count is never taken for that: nats-server
 * (2.9) counts a consumer's pending records in its leader's copy of the stream, and a leader
 * whose copy is still catching up after a node came back says "nothing pending, nothing
 * awaiting acknowledgement" while the stream's leader holds records it has not delivered
 * (measured on 2.9.10: 0 pending, 60 000 records in the stream). Reading that as "past the
 * stream's last record" purges every record the store has not had yet (cluster_kill lost
 * 784 acknowledged activations in CI after the SQ_ACTIVATIONS leader was killed, which this
 * explains). The other consumers are notification readers (a record's loss to them loses
 * nothing: the store has it or will): for them a count of nothing pending and nothing
 * awaiting acknowledgement still counts as past the stream's last sequence read before the
 * consumers were, so that a consumer that gave up on records (max_deliver) lets them go.
 * Nothing is purged unless the store's consumer was seen with a leader, nor while any
 * consumer is without one (nats-server then lists it with its configuration and zeroed
 * figures, not its state). Every copy of the service sweeps; a purge is idempotent. */
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
    int64_t said_ms;  /* monotonic: the last purge said at info level */
};

static bool has_leader(const jsConsumerInfo *ci)
{
    return ci->Cluster == NULL || (ci->Cluster->Leader != NULL && ci->Cluster->Leader[0] != '\0');
}

uint64_t act_sweep_below(const jsConsumerInfoList *cl, uint64_t last, const jsConsumerInfo **store)
{
    uint64_t low = UINT64_MAX;

    *store = NULL;
    for (int i = 0; i < cl->Count; i++) {
        const jsConsumerInfo *ci = cl->List[i];
        uint64_t past = ci->AckFloor.Stream;
        bool is_store = ci->Name != NULL && strcmp(ci->Name, STORE_CONSUMER) == 0;

        if (!has_leader(ci))
            return 0; /* offline or electing: its figures are not its state */
        if (is_store) {
            *store = ci;
            if (past > ci->Delivered.Stream)
                past = ci->Delivered.Stream;
        } else if (ci->NumPending == 0 && ci->NumAckPending == 0 && last > past) {
            past = last;
        }
        if (past < low)
            low = past;
    }
    return *store != NULL && low != UINT64_MAX ? low + 1 : 0;
}

static void sweep(act_sweeper *sw)
{
    jsStreamInfo *si = NULL;
    jsConsumerInfoList *cl = NULL;
    jsErrCode jerr = 0;
    jsOptions o;
    natsStatus s;
    const jsConsumerInfo *store;
    uint64_t below, first, msgs, floor = 0, delivered = 0, pending = 0;
    int64_t ack_pending = 0, now;

    if (js_GetStreamInfo(&si, sw->js, SQ_STREAM_ACTIVATIONS, NULL, &jerr) != NATS_OK)
        return; /* JetStream away: next time */
    first = si->State.FirstSeq;
    msgs = si->State.Msgs;
    below = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    if (msgs == 0 || js_Consumers(&cl, sw->js, SQ_STREAM_ACTIVATIONS, NULL, &jerr) != NATS_OK)
        return;
    below = act_sweep_below(cl, below, &store);
    if (store != NULL) {
        floor = store->AckFloor.Stream;
        delivered = store->Delivered.Stream;
        pending = store->NumPending;
        ack_pending = store->NumAckPending;
    }
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
    /* at a steady load every sweep purges: said at info level once a minute at most */
    now = sq_mono_us() / 1000;
    sq_log(now - sw->said_ms >= 60000 ? SQ_LOG_INFO : SQ_LOG_DEBUG,
           "purged records %llu to %llu of \"%s\" that every consumer was past (at most %lld "
           "so far; the store's consumer: acknowledged to %llu, delivered to %llu, %llu "
           "pending, %lld awaiting acknowledgement)",
           (unsigned long long)first, (unsigned long long)(below - 1), SQ_STREAM_ACTIVATIONS,
           (long long)sw->purged, (unsigned long long)floor, (unsigned long long)delivered,
           (unsigned long long)pending, (long long)ack_pending);
    if (now - sw->said_ms >= 60000)
        sw->said_ms = now;
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
