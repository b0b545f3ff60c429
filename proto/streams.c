/* The JetStream streams of the wire contract, created (or found) by every service that
 * publishes to or consumes from them, so start-up order does not matter. */
#include <nats/nats.h>
#include <string.h>
#include "proto/proto.h"
#include "sq/log.h"

static sq_status ensure(jsCtx *js, const char *name, const char *subject, jsRetentionPolicy ret,
                        int64_t max_age_ns)
{
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[1] = { subject };
    natsStatus s;

    if (js_GetStreamInfo(&si, js, name, NULL, &jerr) == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return SQ_OK;
    }
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Retention = ret;
    cfg.Storage = js_FileStorage;
    cfg.MaxAge = max_age_ns;
    cfg.Duplicates = 120LL * 1000000000LL; /* de-duplicate on Nats-Msg-Id for two minutes */
    s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    if (s == NATS_OK || jerr == JSStreamNameExistErr) {
        jsStreamInfo_Destroy(si);
        return SQ_OK;
    }
    sq_error("could not create stream \"%s\": %s (%d)", name, natsStatus_GetText(s), (int)jerr);
    return SQ_ERR_UNAVAILABLE;
}

sq_status sq_streams_ensure(jsCtx *js)
{
    sq_status st = ensure(js, SQ_STREAM_WORK, SQ_SUBJ_WORK_ALL, js_WorkQueuePolicy, 0);
    if (st == SQ_OK)
        st = ensure(js, SQ_STREAM_ACTIVATIONS, SQ_SUBJ_ACT_ALL, js_LimitsPolicy,
                    7LL * 24 * 3600 * 1000000000LL);
    return st;
}

sq_status sq_stream_tenancy_ensure(jsCtx *js)
{
    return ensure(js, SQ_STREAM_TENANCY, SQ_SUBJ_TENANCY_ALL, js_LimitsPolicy,
                  7LL * 24 * 3600 * 1000000000LL);
}
