/* Following SQ_TENANCY: the durable announcements of deleted namespaces (sq_tenancy_event)
 * that auth publishes. A service that keeps something of a namespace (the registry its
 * entities, the activation store its records) follows the stream with a durable pull
 * consumer named after it, shared by its copies, so that each announcement is handled once
 * per service, and also when the service was down when the namespace was deleted: the
 * consumer resumes where it stopped. The handler must be idempotent (a redelivery repeats
 * it); it may have the announcement delivered again later (the database was down, or a
 * second pass is due). One thread per follower. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/js.h"
#include "proto_impl.h"
#include "sq/log.h"

#define RETRY_NS (5LL * 1000000000LL)

struct sq_tenancy_follower {
    jsCtx *js;
    natsSubscription *sub;
    char durable[64];
    sq_tenancy_fn fn;
    void *closure;
    pthread_t thread;
    atomic_bool stop;
};

static sq_status ensure_consumer(jsCtx *js, const char *durable)
{
    jsConsumerConfig cc;
    sq_js_durable_config(&cc, durable, "squall: purges of deleted namespaces", SQ_SUBJ_TENANCY_ALL,
                         60000);
    return sq_js_ensure_consumer(js, SQ_STREAM_TENANCY, &cc);
}

/* One announcement: 0 to acknowledge it, else when to have it again (ms) */
static int64_t follow_one(natsMsg *m, void *closure)
{
    sq_tenancy_follower *f = closure;
    msgpack_zone z;
    sq_tenancy_event ev;
    char err[256] = "";
    int64_t again = 0;

    msgpack_zone_init(&z, 512);
    if (sq_tenancy_event_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &z, &ev, err,
                                sizeof err) != SQ_OK)
        sq_warn("ignored a malformed tenancy event: %s",
                err); /* acknowledged: it never gets better */
    else if (ev.namespace_[0] != '\0')
        again = f->fn(&ev, f->closure);
    msgpack_zone_destroy(&z);
    return again >= 0 ? again : RETRY_NS / 1000000;
}

static void *follow_main(void *arg)
{
    sq_tenancy_follower *f = arg;
    sq_pull_loop(f->sub, 8, &f->stop, follow_one, f);
    return NULL;
}

sq_status sq_tenancy_follow(sq_tenancy_follower **out, jsCtx *js, const char *durable,
                            sq_tenancy_fn fn, void *closure)
{
    sq_tenancy_follower *f = calloc(1, sizeof *f);
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;
    sq_status st;

    *out = NULL;
    if (f == NULL)
        return SQ_ERR_NOMEM;
    f->js = js;
    snprintf(f->durable, sizeof f->durable, "%s", durable);
    f->fn = fn;
    f->closure = closure;
    atomic_init(&f->stop, false);
    if ((st = sq_stream_tenancy_await(js)) != SQ_OK ||
        (st = ensure_consumer(js, f->durable)) != SQ_OK) {
        free(f);
        return st;
    }
    jsSubOptions_Init(&so);
    so.Stream = SQ_STREAM_TENANCY;
    so.Consumer = f->durable;
    s = js_PullSubscribe(&f->sub, js, SQ_SUBJ_TENANCY_ALL, f->durable, NULL, &so, &jerr);
    if (s != NATS_OK) {
        sq_error("could not subscribe to consumer \"%s\": %s (%d)", f->durable,
                 natsStatus_GetText(s), (int)jerr);
        free(f);
        return SQ_ERR_UNAVAILABLE;
    }
    if (pthread_create(&f->thread, NULL, follow_main, f) != 0) {
        natsSubscription_Destroy(f->sub);
        free(f);
        return SQ_ERR_INTERNAL;
    }
    *out = f;
    return SQ_OK;
}

void sq_tenancy_unfollow(sq_tenancy_follower *f)
{
    if (f == NULL)
        return;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    /* destroyed without unsubscribing: the durable consumer and its position stay */
    natsSubscription_Destroy(f->sub);
    free(f);
}
