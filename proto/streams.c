/* The JetStream streams of the wire contract, created (or found) by every service that
 * publishes to or consumes from them, so start-up order does not matter. */
#include <nats/nats.h>
#include <string.h>
#include <unistd.h>
#include "proto/proto.h"
#include "sq/log.h"

#define WAIT_MS 60000

/* Until stream `name` exists (its owner made it), at most WAIT_MS. */
static sq_status await_stream(jsCtx *js, const char *name, const char *owner)
{
    for (int waited = 0;; waited += 250) {
        jsStreamInfo *si = NULL;
        jsErrCode jerr = 0;
        if (js_GetStreamInfo(&si, js, name, NULL, &jerr) == NATS_OK) {
            jsStreamInfo_Destroy(si);
            if (waited > 0)
                sq_info("stream \"%s\" is there", name);
            return SQ_OK;
        }
        if (waited >= WAIT_MS) {
            sq_error("no stream \"%s\" after %d s (the %s service creates it)", name,
                     WAIT_MS / 1000, owner);
            return SQ_ERR_UNAVAILABLE;
        }
        if (waited == 0)
            sq_info("waiting for the %s service to create stream \"%s\"", owner, name);
        usleep(250 * 1000);
    }
}

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

sq_status sq_streams_ensure(jsCtx *js, unsigned create, unsigned wait)
{
    sq_status st = SQ_OK;
    if (create & SQ_STREAMS_WORK)
        st = ensure(js, SQ_STREAM_WORK, SQ_SUBJ_WORK_ALL, js_WorkQueuePolicy, 0);
    if (st == SQ_OK && (create & SQ_STREAMS_ACTIVATIONS))
        st = ensure(js, SQ_STREAM_ACTIVATIONS, SQ_SUBJ_ACT_ALL, js_LimitsPolicy,
                    7LL * 24 * 3600 * 1000000000LL);
    if (st == SQ_OK && (wait & ~create & SQ_STREAMS_WORK))
        st = await_stream(js, SQ_STREAM_WORK, "scheduler");
    if (st == SQ_OK && (wait & ~create & SQ_STREAMS_ACTIVATIONS))
        st = await_stream(js, SQ_STREAM_ACTIVATIONS, "activations");
    return st;
}

sq_status sq_stream_tenancy_await(jsCtx *js)
{
    return await_stream(js, SQ_STREAM_TENANCY, "auth");
}

sq_status sq_stream_tenancy_ensure(jsCtx *js)
{
    return ensure(js, SQ_STREAM_TENANCY, SQ_SUBJ_TENANCY_ALL, js_LimitsPolicy,
                  7LL * 24 * 3600 * 1000000000LL);
}
