/* Records the scheduler writes itself: the "whisk internal error" record of an activation
 * it lost track of (flight.c), and (through sched_record_publish) the records of sequences
 * and conductor actions (seq.c). Records go to SQ_ACTIVATIONS exactly as the invoker's do:
 * subject sq.act.<ns>, header Nats-Msg-Id = the activation id, so that JetStream keeps the
 * first record of an activation and drops any later one (see flight.c). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sched.h"
#include "sq/log.h"

#define PUBLISH_ATTEMPTS 20

sq_status sched_record_publish(sched *s, const char *id, const char *ns, const void *rec,
                               size_t len, bool *dup)
{
    char tok[600], subj[640];
    natsStatus st = NATS_ERR;
    jsErrCode jerr = 0;

    *dup = false;
    if (sq_subj_token(ns, tok, sizeof tok) != 0)
        return SQ_ERR_BAD_REQUEST;
    snprintf(subj, sizeof subj, SQ_SUBJ_ACT_FMT, tok);
    for (int attempt = 0; attempt < PUBLISH_ATTEMPTS && !atomic_load(&s->stopping); attempt++) {
        natsMsg *m = NULL;
        jsPubAck *ack = NULL;
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = id;
        po.MaxWait = sched_cfg.publish_timeout_ms;
        st = natsMsg_Create(&m, subj, NULL, rec, (int)len);
        if (st == NATS_OK)
            st = js_PublishMsg(&ack, s->js, m, &po, &jerr);
        if (st == NATS_OK && ack != NULL)
            *dup = ack->Duplicate;
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(m);
        if (st == NATS_OK)
            return SQ_OK;
        usleep(attempt < 5 ? 100 * 1000 : 500 * 1000);
    }
    sq_error("could not store activation \"%s\": %s (%d)", id, natsStatus_GetText(st), (int)jerr);
    return SQ_ERR_UNAVAILABLE;
}

void sched_error_to(sched *s, const char *subject, sq_status st, const char *message)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    if (subject == NULL || *subject == '\0' || sched_batch_answer(s, subject, NULL, st, message))
        return;
    sq_proto_buf_init(&sb, &pk);
    sq_wire_error_pack(&pk, st, message);
    sq_bus_publish(s->bus, subject, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

void sched_record_internal(msgpack_packer *pk, const sched_flight_info *info, int64_t start_ms,
                           const char *why)
{
    int64_t end = sq_now_ms();
    sq_act_annots an = SQ_ACT_ANNOTS_INIT;
    sq_act_error e = { .error = (char *)why };
    msgpack_sbuffer asb, rsb;
    msgpack_packer apk, rpk;
    msgpack_zone z;
    sq_activation rec;

    if (end < start_ms)
        end = start_ms;
    /* the record as the invoker's (proto/ makes both): path, kind, the four limits, binding,
     * causedBy and cause as the work item had them; the top-level cause follows from them */
    an.path = info->path;
    an.kind = info->kind;
    an.limits = &info->limits;
    an.binding = info->binding != NULL && info->binding[0] ? info->binding : NULL;
    an.caused_by = info->caused_by;
    an.cause = info->cause;
    sq_proto_buf_init(&asb, &apk);
    sq_act_annots_encode(&an, &apk);
    sq_proto_buf_init(&rsb, &rpk);
    sq_act_error_encode(&e, &rpk);
    msgpack_zone_init(&z, 512);
    memset(&rec, 0, sizeof rec);
    if (sq_mp_unpack(asb.data, asb.size, &z, &rec.annotations) != SQ_OK)
        rec.annotations.type = MSGPACK_OBJECT_NIL;
    if (sq_mp_unpack(rsb.data, rsb.size, &z, &rec.result) != SQ_OK)
        rec.result.type = MSGPACK_OBJECT_NIL;
    rec.id = (char *)info->id;
    rec.namespace_ = (char *)info->ns;
    rec.name = (char *)info->name;
    rec.version = (char *)(info->version && *info->version ? info->version : "0.0.1");
    rec.subject = (char *)(info->subject ? info->subject : "");
    rec.start = start_ms;
    rec.end = end;
    rec.duration = end - start_ms;
    rec.status = SQ_ACT_INTERNAL;
    rec.publish = false;
    sq_activation_encode(&rec, pk);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&rsb);
    msgpack_sbuffer_destroy(&asb);
}
