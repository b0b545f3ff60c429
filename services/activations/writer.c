/* The activation writer: one thread that drains SQ_ACTIVATIONS through the durable pull
 * consumer "activations" (shared by every copy of the service), stores each fetched batch
 * in one statement, and only then acknowledges it. The order is what makes the store
 * lossless and exact: a crash before the commit leaves the batch unacknowledged and
 * JetStream redelivers it after AckWait; a crash between the commit and the acks
 * redelivers records that ON CONFLICT (id) DO NOTHING then ignores. While PostgreSQL is
 * unreachable the batch in hand is negatively acknowledged with a delay and the thread
 * stops fetching until the connection is back. A record that cannot be decoded, or that
 * PostgreSQL refuses as data, is terminated (never redelivered) with a warning. After a
 * commit the new records are announced on sq.evt.activation.<ns> for integrators. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

#define CONSUMER "activations"
#define FETCH_TIMEOUT_MS 200
#define NAK_DELAY_MS 1000
#define BACKOFF_MAX_MS 5000

struct act_writer {
    sq_bus_t *bus;
    PGconn *conn;
    natsSubscription *sub;
    pthread_t thread;
    atomic_bool stop;
    int batch;
    msgpack_zone zone;
    act_row *rows;
    natsMsg **msgs;     /* the message of each row */
    bool *inserted;
    int backoff_ms;
    int64_t fetch_warned_us;
};

/* Sleeps ms, waking early when the writer is told to stop. */
static void nap(act_writer *w, int ms)
{
    for (int slept = 0; slept < ms && !atomic_load(&w->stop); slept += 50)
        usleep(50 * 1000);
}

static void announce(act_writer *w, const act_row *r)
{
    char tok[800], subj[900];
    if (sq_subj_token(r->ns, tok, sizeof tok) != 0)
        return;
    snprintf(subj, sizeof subj, SQ_SUBJ_EVT_ACTIVATION_FMT, tok);
    sq_bus_publish(w->bus, subj, r->record, r->len);
}

static void done(act_writer *w, size_t i)
{
    natsMsg_Ack(w->msgs[i], NULL);
    if (w->inserted[i])
        announce(w, &w->rows[i]);
}

static void retry_later(act_writer *w, size_t from, size_t n, const char *why)
{
    for (size_t i = from; i < n; i++)
        natsMsg_NakWithDelay(w->msgs[i], NAK_DELAY_MS, NULL);
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 250;
    if (w->backoff_ms > BACKOFF_MAX_MS)
        w->backoff_ms = BACKOFF_MAX_MS;
    sq_error("could not store %zu activation(s), retrying: %s", n - from, why);
}

/* Stores rows [0, n) and settles their messages. */
static void store(act_writer *w, size_t n)
{
    char err[512] = "";
    sq_status st = act_store_insert(w->conn, w->rows, n, w->inserted, err, sizeof err);

    if (st == SQ_OK) {
        for (size_t i = 0; i < n; i++)
            done(w, i);
        w->backoff_ms = 0;
        return;
    }
    if (st != SQ_ERR_BAD_REQUEST) {
        retry_later(w, 0, n, err);
        return;
    }
    /* Some row is refused as data: store them one by one to find it, keep the others. */
    for (size_t i = 0; i < n; i++) {
        st = act_store_insert(w->conn, &w->rows[i], 1, &w->inserted[i], err, sizeof err);
        if (st == SQ_OK) {
            done(w, i);
        } else if (st == SQ_ERR_BAD_REQUEST) {
            sq_warn("could not store activation \"%s\", dropped: %s", w->rows[i].id, err);
            natsMsg_Term(w->msgs[i], NULL);
        } else {
            retry_later(w, i, n, err);
            return;
        }
    }
    w->backoff_ms = 0;
}

static void process(act_writer *w, natsMsgList *list)
{
    size_t n = 0;

    msgpack_zone_clear(&w->zone);
    for (int i = 0; i < list->Count; i++) {
        natsMsg *m = list->Msgs[i];
        sq_activation a;
        char err[256] = "", *p;
        sq_status st = sq_activation_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
                                            &w->zone, &a, err, sizeof err);
        if (st == SQ_ERR_NOMEM) {
            natsMsg_NakWithDelay(m, NAK_DELAY_MS, NULL);
            continue;
        }
        if (st != SQ_OK) {
            sq_warn("could not decode activation record on \"%s\", dropped: %s",
                    natsMsg_GetSubject(m), err);
            natsMsg_Term(m, NULL);
            continue;
        }
        for (p = a.id; *p; p++) /* ids are stored in OpenWhisk's lower case */
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
        /* a packaged action's record may say "ns/pkg": it belongs to ns */
        if ((p = strchr(a.namespace_, '/')) != NULL)
            *p = '\0';
        w->rows[n] = (act_row){ .id = a.id, .ns = a.namespace_, .name = a.name, .start = a.start,
                                .end = a.end, .status = (int)a.status,
                                .record = natsMsg_GetData(m), .len = (size_t)natsMsg_GetDataLength(m) };
        w->msgs[n] = m;
        n++;
    }
    if (n > 0)
        store(w, n);
}

static void *run(void *arg)
{
    act_writer *w = arg;

    while (!atomic_load(&w->stop)) {
        natsMsgList list = { 0 };
        jsErrCode jerr = 0;
        natsStatus s;

        if (w->backoff_ms > 0)
            nap(w, w->backoff_ms);
        if (atomic_load(&w->stop))
            break;
        if (sq_pg_ensure(w->conn) != SQ_OK) {
            /* nothing fetched while the database is away: the stream keeps the records */
            w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 250;
            if (w->backoff_ms > BACKOFF_MAX_MS)
                w->backoff_ms = BACKOFF_MAX_MS;
            continue;
        }
        s = natsSubscription_Fetch(&list, w->sub, w->batch, FETCH_TIMEOUT_MS, &jerr);
        if (s == NATS_OK) {
            process(w, &list); /* finished even when stop was asked meanwhile */
        } else if (s != NATS_TIMEOUT) {
            int64_t now = sq_mono_us();
            if (now - w->fetch_warned_us > 10 * 1000000) {
                sq_warn("could not fetch activation records: %s (%d)", natsStatus_GetText(s), (int)jerr);
                w->fetch_warned_us = now;
            }
            nap(w, FETCH_TIMEOUT_MS);
        }
        natsMsgList_Destroy(&list);
    }
    return NULL;
}

/* The durable consumer, created here rather than by js_PullSubscribe: the library deletes
 * a consumer it created when the subscription is drained or unsubscribed. */
static sq_status ensure_consumer(jsCtx *js)
{
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s;

    jsConsumerConfig_Init(&cc);
    cc.Durable = CONSUMER;
    cc.Description = "squall-activations: activation records into PostgreSQL";
    cc.DeliverPolicy = js_DeliverAll;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = (int64_t)act_cfg.ack_wait_ms * 1000000;
    cc.MaxDeliver = -1;
    cc.MaxAckPending = 65536;
    cc.FilterSubject = SQ_SUBJ_ACT_ALL;
    s = js_AddConsumer(&ci, js, SQ_STREAM_ACTIVATIONS, &cc, NULL, &jerr);
    if (s != NATS_OK) {
        /* it exists with another configuration (an older AckWait...): adopt ours */
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        s = js_UpdateConsumer(&ci, js, SQ_STREAM_ACTIVATIONS, &cc, NULL, &jerr);
        if (s != NATS_OK) {
            jsConsumerInfo_Destroy(ci);
            ci = NULL;
            if (js_GetConsumerInfo(&ci, js, SQ_STREAM_ACTIVATIONS, CONSUMER, NULL, &jerr) != NATS_OK) {
                sq_error("could not create consumer \"%s\" on \"%s\": %s (%d)", CONSUMER,
                         SQ_STREAM_ACTIVATIONS, natsStatus_GetText(s), (int)jerr);
                return SQ_ERR_UNAVAILABLE;
            }
            sq_warn("could not update consumer \"%s\", keeping its configuration: %s (%d)",
                    CONSUMER, natsStatus_GetText(s), (int)jerr);
        }
    }
    jsConsumerInfo_Destroy(ci);
    return SQ_OK;
}

sq_status act_writer_start(act_writer **out, sq_bus_t *bus, PGconn *conn)
{
    act_writer *w = calloc(1, sizeof *w);
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;
    sq_status st = SQ_ERR_NOMEM;

    *out = NULL;
    if (w == NULL)
        return SQ_ERR_NOMEM;
    w->bus = bus;
    w->conn = conn;
    w->batch = act_cfg.batch;
    atomic_init(&w->stop, false);
    if (!msgpack_zone_init(&w->zone, 64 * 1024)) {
        free(w);
        return SQ_ERR_NOMEM;
    }
    w->rows = calloc((size_t)w->batch, sizeof *w->rows);
    w->msgs = calloc((size_t)w->batch, sizeof *w->msgs);
    w->inserted = calloc((size_t)w->batch, sizeof *w->inserted);
    if (w->rows == NULL || w->msgs == NULL || w->inserted == NULL)
        goto fail;
    if ((st = ensure_consumer(sq_bus_js(bus))) != SQ_OK)
        goto fail;
    jsSubOptions_Init(&so);
    so.Stream = SQ_STREAM_ACTIVATIONS;
    so.Consumer = CONSUMER;
    s = js_PullSubscribe(&w->sub, sq_bus_js(bus), SQ_SUBJ_ACT_ALL, CONSUMER, NULL, &so, &jerr);
    if (s != NATS_OK) {
        sq_error("could not subscribe to consumer \"%s\": %s (%d)", CONSUMER, natsStatus_GetText(s), (int)jerr);
        st = SQ_ERR_UNAVAILABLE;
        goto fail;
    }
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        sq_error("could not start the writer thread");
        st = SQ_ERR_INTERNAL;
        goto fail;
    }
    *out = w;
    return SQ_OK;
fail:
    natsSubscription_Destroy(w->sub);
    msgpack_zone_destroy(&w->zone);
    free(w->rows);
    free(w->msgs);
    free(w->inserted);
    free(w);
    return st;
}

void act_writer_stop(act_writer *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    /* Destroy without unsubscribing: the durable consumer and its position stay. */
    natsSubscription_Destroy(w->sub);
    msgpack_zone_destroy(&w->zone);
    free(w->rows);
    free(w->msgs);
    free(w->inserted);
    free(w);
}
