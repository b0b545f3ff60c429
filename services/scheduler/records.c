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
    if (subject == NULL || *subject == '\0')
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
    bool caused = info->cause != NULL && info->cause[0] != '\0';
    const char *caused_by = !caused                                         ? NULL
                            : info->caused_by != NULL && info->caused_by[0] ? info->caused_by
                                                                            : "sequence";
    /* OpenWhisk's top-level cause: only a composition's component has one */
    bool top_cause = caused && strcmp(caused_by, "sequence") == 0;
    sq_act_annots an = SQ_ACT_ANNOTS_INIT;

    if (end < start_ms)
        end = start_ms;
    msgpack_pack_map(pk, 12 + (top_cause ? 1 : 0));
    sq_mp_kv_str(pk, "activationId", info->id);
    sq_mp_kv_str(pk, "namespace", info->ns);
    sq_mp_kv_str(pk, "name", info->name);
    sq_mp_kv_str(pk, "version", info->version && *info->version ? info->version : "0.0.1");
    sq_mp_kv_str(pk, "subject", info->subject ? info->subject : "");
    sq_mp_kv_int(pk, "start", start_ms);
    sq_mp_kv_int(pk, "end", end);
    sq_mp_kv_int(pk, "duration", end - start_ms);
    sq_mp_pack_str(pk, "response");
    msgpack_pack_map(pk, 4);
    sq_mp_kv_str(pk, "status", sq_act_status_str(SQ_ACT_INTERNAL));
    sq_mp_kv_int(pk, "statusCode", SQ_ACT_INTERNAL);
    sq_mp_kv_bool(pk, "success", false);
    sq_mp_pack_str(pk, "result");
    msgpack_pack_map(pk, 1);
    sq_mp_kv_str(pk, "error", why);
    sq_mp_pack_str(pk, "logs");
    msgpack_pack_array(pk, 0);
    sq_mp_pack_str(pk, "annotations");
    an.path = info->path;
    an.kind = info->kind;
    an.limits = &info->limits;
    an.binding = info->binding != NULL && info->binding[0] ? info->binding : NULL;
    an.caused_by = caused_by;
    an.cause = caused ? info->cause : NULL;
    sq_act_annots_encode(&an, pk);
    sq_mp_kv_bool(pk, "publish", false);
    if (top_cause)
        sq_mp_kv_str(pk, "cause", info->cause);
}
