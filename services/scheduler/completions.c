/* Completions: how this copy learns that an activation it admitted has ended, without any
 * help from the invoker. An ordered, headers-only JetStream consumer on SQ_ACTIVATIONS
 * (starting with new records) delivers, for every record stored, only its headers: the
 * Nats-Msg-Id header is the activation id. A record is delivered once however often it was
 * published (JetStream drops duplicates before consumers see them), it costs a few dozen
 * bytes whatever the size of the record, and an ordered consumer recreates itself after a
 * reconnect from where it was. The slot of the activation is then given back
 * (sched_flight_done): concurrency is counted from "admitted" to "recorded", which for
 * non-blocking work includes its time in the queue, as OpenWhisk counts it.
 *
 * The alternative, the invoker telling the scheduler that a slot is free, would need a
 * message per activation from every invoker to the copy that admitted it, and still could
 * not cover records written by someone else (a lost activation, a sequence). */
#include <stdio.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

static void on_record(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    sched *s = closure;
    const char *id = NULL;
    const char *ack = natsMsg_GetReply(msg);
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != NULL)
        sched_flight_done(s, id);
    /* An empty answer to the delivery (its $JS.ACK subject; the consumer acks nothing and the
     * server drops it) uses up the allow_responses entry nats-server keeps for it: unused,
     * it would stay 10 minutes, and past 4096 of them every message delivered to this
     * connection scans them all. */
    if (ack != NULL && *ack != '\0')
        natsConnection_Publish(nc, ack, NULL, 0);
    natsMsg_Destroy(msg);
}

sq_status sched_completions_start(sched *s)
{
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus st;

    jsSubOptions_Init(&so);
    so.Stream = SQ_STREAM_ACTIVATIONS;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverNew;
    so.Config.HeadersOnly = true;
    st = js_Subscribe(&s->completions, s->js, SQ_SUBJ_ACT_ALL, on_record, s, NULL, &so, &jerr);
    if (st != NATS_OK) {
        sq_error("could not follow the activation records: %s (%d)", natsStatus_GetText(st),
                 (int)jerr);
        return SQ_ERR_UNAVAILABLE;
    }
    natsSubscription_SetPendingLimits(s->completions, -1, -1);
    return SQ_OK;
}

void sched_completions_stop(sched *s)
{
    if (s->completions == NULL)
        return;
    natsSubscription_Unsubscribe(s->completions);
    natsSubscription_Destroy(s->completions);
    s->completions = NULL;
}
