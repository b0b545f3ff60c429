/* The JetStream streams of the wire contract, created (or found) by every service that
 * publishes to or consumes from them, so start-up order does not matter; and the replica
 * count of every stream and bucket (SQ_JS_REPLICAS): applied when one is made, raised on
 * the ones that exist (never lowered: that is an operator's decision). */
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "proto/js.h"
#include "proto/proto.h"
#include "sq/config.h"
#include "sq/log.h"

/* The replicas wanted: SQ_JS_REPLICAS, or 3 in auto mode (0). */
static int replicas_wanted(void)
{
    return sq_common.js_replicas > 0 ? sq_common.js_replicas : 3;
}

/* Auto mode, 3 replicas refused: how long to keep trying before settling for one. A cluster
 * that has just started may not have elected its meta leader or met its peers yet (a stream
 * made R1 then would stay R1); a single server says at once that it is not clustered. */
#define AUTO_RETRY_MS 15000

static bool not_clustered(jsErrCode jerr)
{
    const char *why = nats_GetLastError(NULL);
    return jerr == JSStreamReplicasNotSupportedErr ||
           (why != NULL && strstr(why, "non-clustered") != NULL);
}

natsStatus sq_js_add_stream(jsStreamInfo **si, jsCtx *js, jsStreamConfig *cfg, jsErrCode *jerr)
{
    natsStatus s;
    cfg->Replicas = replicas_wanted();
    for (int waited = 0;; waited += 250) {
        *jerr = 0;
        s = js_AddStream(si, js, cfg, NULL, jerr);
        if (s == NATS_OK || sq_common.js_replicas > 0 || *jerr == JSStreamNameExistErr ||
            cfg->Replicas == 1)
            break;
        bool single = not_clustered(*jerr);
        if (single || waited >= AUTO_RETRY_MS) {
            /* auto: a single server, or fewer than 3 JetStream servers: one replica */
            if (!single)
                sq_warn("stream \"%s\": 3 replicas refused for %d s (%s, %d): made with 1",
                        cfg->Name, AUTO_RETRY_MS / 1000, natsStatus_GetText(s), (int)*jerr);
            cfg->Replicas = 1;
            *jerr = 0;
            s = js_AddStream(si, js, cfg, NULL, jerr);
            break;
        }
        usleep(250 * 1000);
    }
    if (s == NATS_OK)
        sq_info("created stream \"%s\" with %d replica%s", cfg->Name, (int)cfg->Replicas,
                cfg->Replicas == 1 ? "" : "s");
    return s;
}

void sq_js_durable_config(jsConsumerConfig *cc, const char *durable, const char *description,
                          const char *filter, int64_t ack_wait_ms)
{
    jsConsumerConfig_Init(cc);
    cc->Durable = durable;
    cc->Description = description;
    cc->FilterSubject = filter;
    cc->DeliverPolicy = js_DeliverAll;
    cc->AckPolicy = js_AckExplicit;
    cc->AckWait = ack_wait_ms * 1000000;
    cc->MaxDeliver = -1;
}

/* One attempt of sq_js_ensure_consumer: add, else update, else find. */
static natsStatus ensure_consumer_once(jsCtx *js, const char *stream, jsConsumerConfig *cc,
                                       jsErrCode *jerr)
{
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_AddConsumer(&ci, js, stream, cc, NULL, jerr);
    if (s != NATS_OK) {
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        s = js_UpdateConsumer(&ci, js, stream, cc, NULL, jerr);
    }
    if (s != NATS_OK) {
        jsErrCode gerr = 0;
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        if (js_GetConsumerInfo(&ci, js, stream, cc->Durable, NULL, &gerr) == NATS_OK)
            sq_warn("could not update consumer \"%s\", keeping its configuration: %s (%d)",
                    cc->Durable, natsStatus_GetText(s), (int)*jerr);
        else
            *jerr = *jerr != 0 ? *jerr : gerr;
        s = ci != NULL ? NATS_OK : s;
    }
    jsConsumerInfo_Destroy(ci);
    return s;
}

sq_status sq_js_ensure_consumer(jsCtx *js, const char *stream, jsConsumerConfig *cc)
{
    for (int attempt = 0;; attempt++) {
        jsErrCode jerr = 0;
        natsStatus s = ensure_consumer_once(js, stream, cc, &jerr);
        if (s == NATS_OK)
            return SQ_OK;
        if (jerr != JSStreamNotFoundErr || attempt >= 20) {
            sq_error("could not create consumer \"%s\" on \"%s\": %s (%d)", cc->Durable, stream,
                     natsStatus_GetText(s), (int)jerr);
            return SQ_ERR_UNAVAILABLE;
        }
        usleep(250 * 1000);
    }
}

void sq_js_raise_replicas(jsCtx *js, const char *stream)
{
    jsStreamInfo *si = NULL, *up = NULL;
    jsErrCode jerr = 0;
    jsStreamConfig cfg;
    int want = replicas_wanted(), had;
    natsStatus s;

    if (js_GetStreamInfo(&si, js, stream, NULL, &jerr) != NATS_OK)
        return;
    had = (int)si->Config->Replicas;
    /* auto on a server outside any cluster: one replica is all there can be */
    if (had >= want ||
        (sq_common.js_replicas == 0 &&
         (si->Cluster == NULL || si->Cluster->Name == NULL || si->Cluster->Name[0] == '\0'))) {
        jsStreamInfo_Destroy(si);
        return;
    }
    cfg = *si->Config;
    cfg.Replicas = want;
    s = js_UpdateStream(&up, js, &cfg, NULL, &jerr);
    if (s == NATS_OK)
        sq_info("stream \"%s\": replicas raised from %d to %d", stream, had, want);
    else if (sq_common.js_replicas > 0)
        sq_warn("could not raise the replicas of stream \"%s\" from %d to %d: %s (%d); an "
                "operator may: nats stream edit %s --replicas %d",
                stream, had, want, natsStatus_GetText(s), (int)jerr, stream, want);
    else
        sq_info("stream \"%s\" keeps %d replica%s: %s (%d); an operator may: nats stream edit "
                "%s --replicas %d",
                stream, had, had == 1 ? "" : "s", natsStatus_GetText(s), (int)jerr, stream, want);
    jsStreamInfo_Destroy(up);
    jsStreamInfo_Destroy(si);
}

natsStatus sq_js_kv_open(kvStore **kv, jsCtx *js, kvConfig *cfg)
{
    char stream[300];
    natsStatus s;

    snprintf(stream, sizeof stream, "KV_%s", cfg->Bucket);
    if (js_KeyValue(kv, js, cfg->Bucket) == NATS_OK) {
        sq_js_raise_replicas(js, stream);
        return NATS_OK;
    }
    cfg->Replicas = replicas_wanted();
    for (int waited = 0;; waited += 250) {
        bool single;
        s = js_CreateKeyValue(kv, js, cfg);
        if (s == NATS_OK || sq_common.js_replicas > 0 || cfg->Replicas == 1)
            break;
        single = not_clustered(0); /* before another call overwrites the last error */
        if (js_KeyValue(kv, js, cfg->Bucket) == NATS_OK) /* another copy made it */
            return NATS_OK;
        if (single || waited >= AUTO_RETRY_MS) { /* as sq_js_add_stream() */
            if (!single)
                sq_warn("bucket \"%s\": 3 replicas refused for %d s (%s): made with 1", cfg->Bucket,
                        AUTO_RETRY_MS / 1000, natsStatus_GetText(s));
            cfg->Replicas = 1;
            s = js_CreateKeyValue(kv, js, cfg);
            break;
        }
        usleep(250 * 1000);
    }
    if (s == NATS_OK)
        sq_info("created key-value bucket \"%s\" with %d replica%s", cfg->Bucket, cfg->Replicas,
                cfg->Replicas == 1 ? "" : "s");
    else if (js_KeyValue(kv, js, cfg->Bucket) == NATS_OK) /* another copy made it meanwhile */
        s = NATS_OK;
    return s;
}

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

static const char *retention_name(jsRetentionPolicy r)
{
    return r == js_InterestPolicy ? "interest" : r == js_WorkQueuePolicy ? "work-queue" : "limits";
}

/* An existing stream made before its retention or byte cap was what it is now (an older
 * squall, another SQ_JS_ACTIVATIONS_MAX_MB): updated when the server and the permissions
 * allow (nats-server 2.9 does not change a stream's retention; ops/squall's permissions let
 * nobody update a stream), else said once with what the operator can do. */
static void update_limits(jsCtx *js, const char *name, jsRetentionPolicy ret, int64_t max_bytes,
                          jsDiscardPolicy discard)
{
    jsStreamInfo *si = NULL, *up = NULL;
    jsErrCode jerr = 0;
    jsStreamConfig cfg;
    natsStatus s;

    if (js_GetStreamInfo(&si, js, name, NULL, &jerr) != NATS_OK)
        return;
    if (si->Config->Retention == ret && si->Config->MaxBytes == max_bytes &&
        si->Config->Discard == discard) {
        jsStreamInfo_Destroy(si);
        return;
    }
    cfg = *si->Config;
    cfg.Retention = ret;
    cfg.MaxBytes = max_bytes;
    cfg.Discard = discard;
    s = js_UpdateStream(&up, js, &cfg, NULL, &jerr);
    if (s == NATS_OK)
        sq_info("stream \"%s\" updated: %s retention, byte cap %lld MB", name, retention_name(ret),
                (long long)(max_bytes >> 20));
    else
        sq_warn("stream \"%s\" keeps its %s retention and a byte cap of %lld MB (wanted: %s, "
                "%lld MB): %s (%d); once its consumers have caught up, an operator may delete "
                "it to have it made anew",
                name, retention_name(si->Config->Retention),
                (long long)(si->Config->MaxBytes > 0 ? si->Config->MaxBytes >> 20 : -1),
                retention_name(ret), (long long)(max_bytes >> 20), natsStatus_GetText(s),
                (int)jerr);
    jsStreamInfo_Destroy(up);
    jsStreamInfo_Destroy(si);
}

static sq_status ensure(jsCtx *js, const char *name, const char *subject, jsRetentionPolicy ret,
                        int64_t max_age_ns, int64_t max_bytes)
{
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[1] = { subject };
    jsDiscardPolicy discard = max_bytes > 0 ? js_DiscardNew : js_DiscardOld;
    natsStatus s;

    if (js_GetStreamInfo(&si, js, name, NULL, &jerr) == NATS_OK) {
        jsStreamInfo_Destroy(si);
        update_limits(js, name, ret, max_bytes > 0 ? max_bytes : -1, discard);
        sq_js_raise_replicas(js, name);
        return SQ_OK;
    }
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Retention = ret;
    cfg.Storage = js_FileStorage;
    cfg.MaxAge = max_age_ns;
    if (max_bytes > 0) {
        cfg.MaxBytes = max_bytes;
        cfg.Discard = discard; /* a full stream refuses new records: publishers retry */
    }
    cfg.Duplicates = 120LL * 1000000000LL; /* de-duplicate on Nats-Msg-Id for two minutes */
    s = sq_js_add_stream(&si, js, &cfg, &jerr);
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
    /* SQ_WORK holds the accepted non-blocking work no invoker has taken yet, up to a byte
     * cap: a full queue refuses new work (discard new), and the scheduler answers those
     * invokes 503 "System is overloaded" (handlers.c) instead of letting a load beyond
     * the invokers grow the stream without bound */
    if (create & SQ_STREAMS_WORK)
        st = ensure(js, SQ_STREAM_WORK, SQ_SUBJ_WORK_ALL, js_WorkQueuePolicy, 0,
                    (int64_t)sq_common.js_work_max_mb << 20);
    /* SQ_ACTIVATIONS holds what is in flight: limits retention, the activation store's sweep
     * purging what its durable consumer has acknowledged (PostgreSQL has it) and the
     * schedulers' ordered headers-only consumers are past (services/activations/sweep.c); a
     * byte cap refusing new records when reached; seven days at most for a store that stays
     * away. Not interest retention: on nats-server 2.9.10 an acknowledgement applied on a
     * copy that has not caught up yet (a node back from a kill) makes it propose the
     * record's deletion, and the other copies, applying it, failed with "stream store EOF"
     * and reset their state: the stream took no record for minutes (cluster_kill with a
     * burst while the node was away: 4 runs of 5; 0 of 2 with limits retention). */
    if (st == SQ_OK && (create & SQ_STREAMS_ACTIVATIONS))
        st = ensure(js, SQ_STREAM_ACTIVATIONS, SQ_SUBJ_ACT_ALL, js_LimitsPolicy,
                    7LL * 24 * 3600 * 1000000000LL, (int64_t)sq_common.js_act_max_mb << 20);
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
                  7LL * 24 * 3600 * 1000000000LL, 0);
}

sq_status sq_stream_limits_ensure(jsCtx *js, const char *name, const char *subject,
                                  int64_t max_age_ns)
{
    return ensure(js, name, subject, js_LimitsPolicy, max_age_ns, 0);
}
