/* Queued work of dead invokers. Non-blocking work waits in SQ_WORK on its invoker's subject
 * until that invoker takes it; if the invoker does not come back, nobody would. So once an
 * invoker has been dead for the grace period (long enough for a restart, and longer than
 * the 30 s its work consumer waits before it hands out again what the dead process had
 * fetched but not taken), each scheduler copy, every few seconds, pulls from the dead
 * invoker's work consumer and moves each message to a live invoker: a new publish to
 * sq.work.<live> (Nats-Msg-Id "<id>@<live>", so a move repeated after a crash lands once),
 * then the acknowledgement of the original. The work consumer hands each message to one
 * puller at a time, so copies never move the same message twice; the copy that admitted
 * the activation learns its new place from sq.sched.moved. The order (publish, then ack)
 * favours the record over at-most-once: a copy that dies between the two leaves the
 * original to be moved again (or run by the invoker if it returns); the new one is already
 * queued, so in that window the activation may run twice, once recorded. */
#include <stdio.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

#define REPLACE_EVERY_MS 5000
#define BATCH 128
#define MAX_BATCHES 64
#define MAX_DEAD 16

/* The invoker's work consumer, as the invoker itself declares it (so that either side may
 * create it and the other binds to it). */
static natsStatus bind_consumer(sched *s, const sched_incident *d, natsSubscription **sub)
{
    char tok[300], subj[320];
    jsSubOptions so;
    jsErrCode jerr = 0;
    if (sq_subj_token(d->id, tok, sizeof tok) != 0)
        return NATS_INVALID_ARG;
    snprintf(subj, sizeof subj, SQ_SUBJ_WORK_FMT, tok);
    jsSubOptions_Init(&so);
    so.Stream = SQ_STREAM_WORK;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = 30LL * 1000000000LL;
    so.Config.MaxAckPending = 10000;
    return js_PullSubscribe(sub, s->js, subj, d->durable, NULL, &so, &jerr);
}

/* Moves one work message; false when it could not (it is given back for later). */
static bool move(sched *s, natsMsg *m, msgpack_zone *z)
{
    sq_work w;
    sched_target t;
    jsPubOptions po;
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    natsMsg *copy = NULL;
    char err[256], msgid[200];
    int64_t now = sched_mono_ms();
    natsStatus st;

    msgpack_zone_clear(z);
    if (sq_work_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), z, &w, err,
                       sizeof err) != SQ_OK) {
        sq_warn("dropped a malformed work message of a dead invoker: %s", err);
        natsMsg_Term(m, NULL);
        return true;
    }
    if (!sched_place(s->invokers, sched_key_hash(w.action.namespace_, w.action.name, false),
                     w.action.limits.memory, now, sched_cfg.heartbeat_ttl_ms,
                     sched_peers_count(s->peers, now), &t))
        return false;
    snprintf(msgid, sizeof msgid, "%s@%s", w.id, t.id);
    jsPubOptions_Init(&po);
    po.MsgId = msgid;
    po.MaxWait = sched_cfg.publish_timeout_ms;
    st = natsMsg_Create(&copy, t.work, NULL, natsMsg_GetData(m), natsMsg_GetDataLength(m));
    if (st == NATS_OK)
        st = js_PublishMsg(&ack, s->js, copy, &po, &jerr);
    natsMsg_Destroy(copy);
    if (st != NATS_OK) {
        jsPubAck_Destroy(ack);
        sq_warn("could not move activation \"%s\" to \"%s\": %s (%d)", w.id, t.id,
                natsStatus_GetText(st), (int)jerr);
        return false;
    }
    if (natsMsg_AckSync(m, NULL, &jerr) == NATS_OK) {
        sq_sched_moved mv = { .id = w.id, .invoker = t.id, .seq = (int64_t)ack->Sequence };
        SQ_PUBLISH(s->bus, SQ_SUBJ_SCHED_MOVED, sq_sched_moved, &mv);
        sq_info("moved activation \"%s\" off a dead invoker to \"%s\"", w.id, t.id);
    }
    jsPubAck_Destroy(ack);
    return true;
}

static void drain(sched *s, const sched_incident *d)
{
    natsSubscription *sub = NULL;
    msgpack_zone z;
    natsStatus st;
    int moved = 0;

    if ((st = bind_consumer(s, d, &sub)) != NATS_OK) {
        sq_debug("could not reach the work of dead invoker \"%s\": %s", d->id,
                 natsStatus_GetText(st));
        return;
    }
    msgpack_zone_init(&z, 4096);
    for (int b = 0; b < MAX_BATCHES && !atomic_load(&s->stopping); b++) {
        natsMsgList list = { 0 };
        jsErrCode jerr = 0;
        bool stuck = false;
        if (natsSubscription_Fetch(&list, sub, BATCH, 200, &jerr) != NATS_OK || list.Count == 0) {
            natsMsgList_Destroy(&list);
            break;
        }
        for (int i = 0; i < list.Count; i++) {
            if (!stuck && move(s, list.Msgs[i], &z))
                moved++;
            else {
                stuck = true; /* no live invoker, or JetStream refused: later */
                natsMsg_Nak(list.Msgs[i], NULL);
            }
        }
        natsMsgList_Destroy(&list);
        if (stuck)
            break;
    }
    msgpack_zone_destroy(&z);
    /* without unsubscribing: the consumer stays for the invoker, should it come back */
    natsSubscription_Destroy(sub);
    if (moved > 0)
        sq_warn("moved %d queued activation(s) off dead invoker \"%s\"", moved, d->id);
}

void sched_replace_sweep(sched *s, int64_t now_ms)
{
    static int64_t last;
    sched_incident dead[MAX_DEAD];
    int n;

    if (now_ms - last < REPLACE_EVERY_MS)
        return;
    last = now_ms;
    n = sched_invokers_dead(s->invokers, now_ms, sched_cfg.lost_grace_ms, dead, MAX_DEAD);
    for (int i = 0; i < n && !atomic_load(&s->stopping); i++)
        drain(s, &dead[i]);
}

void sched_on_moved(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched *s = closure;
    msgpack_zone z;
    sq_sched_moved mv;

    if (!msgpack_zone_init(&z, 512))
        return;
    if (sq_sched_moved_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &mv,
                              NULL, 0) == SQ_OK &&
        mv.seq > 0)
        sched_flight_moved(s, mv.id, mv.invoker, (uint64_t)mv.seq);
    msgpack_zone_destroy(&z);
}
