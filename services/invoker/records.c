/* Activation records to SQ_ACTIVATIONS without a worker waiting for JetStream's ack: a
 * worker publishes asynchronously and takes its next work at once; the acks arrive on one
 * thread of the NATS library (on_ack), so one wake-up serves many records instead of one
 * round trip blocking each worker (the synchronous publish was 17 % of the invoker's CPU and
 * a context switch per invoke). A record is never given up on silently: a refused or
 * unanswered publish goes to the retry thread, which publishes it again synchronously,
 * de-duplicated by its Nats-Msg-Id (the activation id), for as long as the synchronous path
 * always did. An ack that never comes (a connection lost with the publish in flight) is
 * found by counting, without a timer per record (the library's per-publish MaxWait costs
 * a timer list entry and a second delivery per record): when more records are pending than
 * were published in the last ACK_WAIT_MS, one of them waits longer than that, and every
 * pending record is taken back from the library and published again synchronously
 * (duplicates are dropped by JetStream); and because the newer records' acks hide one lost
 * record while the load goes on, whatever stayed in flight across two checks ACK_WAIT_MS
 * apart is taken back and published again too. The drain does the same with what is left
 * after its wait. When the library's window of pending publishes is full, the worker itself
 * publishes synchronously (back-pressure). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invoker.h"
#include "sq/log.h"
#include "sq/util.h"

#define ACK_WAIT_MS 10000            /* an unanswered publish counts as lost after this long */
#define CHECK_S (ACK_WAIT_MS / 1000) /* the published counts kept, one a second */
#define MAX_PENDING 65536   /* records in flight at once before workers publish themselves */
#define DRAIN_WAIT_MS 60000 /* the drain waits this long at most for the last acks */

typedef struct retry_item {
    struct retry_item *next;
    natsMsg *m;
} retry_item;

static struct {
    jsCtx *js; /* async publishes, acks to on_ack() */
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* the retry queue got an item / settled while draining / stop */
    retry_item *head;    /* records to publish again (retry thread) */
    int64_t outstanding; /* published, not yet acknowledged or given up */
    int64_t published;   /* ever */
    bool draining;       /* inv_records_stop() waits for outstanding to fall to 0 */
    bool stop;
    bool thread;
    pthread_t retrier;
} R = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Called locked after outstanding fell: wakes the drain when it waits for nothing left. Only
 * then: at one connection every record's ack brings outstanding to 0, and a wake-up of the
 * retry thread (which waits on the same condition) per activation cost a context switch. */
static void settled_check(void)
{
    if (R.outstanding == 0 && R.draining)
        pthread_cond_broadcast(&R.cv);
}

static void outstanding_add(int d)
{
    pthread_mutex_lock(&R.mu);
    R.outstanding += d;
    if (d > 0)
        R.published += d;
    settled_check();
    pthread_mutex_unlock(&R.mu);
}

/* Publishes m (subject, data, Nats-Msg-Id) synchronously until JetStream takes it: 50
 * attempts over about 21 s. Does not take m. */
static void publish_sync(natsMsg *m)
{
    const char *id = NULL;
    natsStatus s = NATS_ERR;

    for (int attempt = 0; attempt < 50; attempt++) {
        jsErrCode jerr = 0;
        jsPubAck *ack = NULL;
        s = js_PublishMsg(&ack, sq_bus_js(I.bus), m, NULL, &jerr);
        jsPubAck_Destroy(ack);
        if (s == NATS_OK)
            return;
        usleep(100 * 1000 * (attempt < 10 ? 1 : 5));
    }
    natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
    sq_error("could not store activation \"%s\": %s", id ? id : "?", natsStatus_GetText(s));
}

/* A copy of m that js_PublishMsg may use (m has been through an async publish). */
static natsMsg *copy_msg(natsMsg *m)
{
    natsMsg *c = NULL;
    const char *id = NULL;
    if (natsMsg_Create(&c, natsMsg_GetSubject(m), NULL, natsMsg_GetData(m),
                       natsMsg_GetDataLength(m)) != NATS_OK)
        return NULL;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != NULL &&
        natsMsgHeader_Set(c, "Nats-Msg-Id", id) == NATS_OK)
        return c;
    natsMsg_Destroy(c);
    return NULL;
}

/* The acks of the async publishes, on the library's thread for them: never blocks. A
 * failure (refused, no stream leader, no answer in ACK_WAIT_MS) hands the message to the
 * retry thread; it stays outstanding until that thread is done with it. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    retry_item *it;

    if (pa == NULL && (it = malloc(sizeof *it)) != NULL) {
        const char *id = NULL;
        natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
        sq_warn("activation \"%s\" not yet stored (%s, %d): publishing it again", id ? id : "?",
                pae ? natsStatus_GetText(pae->Err) : "no acknowledgement",
                pae ? (int)pae->ErrCode : 0);
        it->m = msg;
        pthread_mutex_lock(&R.mu);
        it->next = R.head; /* the order of retries does not matter */
        R.head = it;
        pthread_cond_broadcast(&R.cv);
        pthread_mutex_unlock(&R.mu);
        return; /* the retry thread owns msg now */
    }
    if (pa == NULL) {
        natsMsg *c = copy_msg(msg);
        sq_error("out of memory: publishing a record again on the ack thread");
        if (c != NULL)
            publish_sync(c);
        natsMsg_Destroy(c);
    }
    natsMsg_Destroy(msg);
    outstanding_add(-1);
}

/* Takes every record still pending in the library back and publishes it synchronously.
 * Called unlocked, from the retry thread or the drain; periodic: the sweep of records that
 * stayed outstanding (most were about to be acknowledged: said at debug level only). */
static void rescue_pending(bool periodic)
{
    natsMsgList list = { 0 };
    if (R.js == NULL || js_PublishAsyncGetPendingList(&list, R.js) != NATS_OK)
        return;
    if (periodic)
        sq_debug("%d activation records in flight at the sweep: publishing them again", list.Count);
    else
        sq_warn("%d activation records without an acknowledgement: publishing them again",
                list.Count);
    for (int i = 0; i < list.Count; i++) {
        natsMsg *c = copy_msg(list.Msgs[i]);
        publish_sync(c ? c : list.Msgs[i]);
        natsMsg_Destroy(c);
    }
    pthread_mutex_lock(&R.mu);
    R.outstanding -= list.Count;
    settled_check();
    pthread_mutex_unlock(&R.mu);
    natsMsgList_Destroy(&list);
}

/* Once a second (called locked): 1 when more records are outstanding than were published
 * in the last ACK_WAIT_MS, i.e. some ack is overdue; 2 every ACK_WAIT_MS while records have
 * stayed outstanding since the last such mark; else 0.
 *
 * The count alone misses one lost record while records keep coming: the acks of the newer
 * ones make up for it (found by cluster_kill: a record handed to a nats-server node that was
 * killed before it reached the stream was never published again while the load went on; the
 * scheduler recorded the activation as lost 35 s later, after its caller had been told it
 * succeeded). Hence the sweep: every ACK_WAIT_MS under a steady load, what is in flight is
 * taken back and published again synchronously — a few records, duplicates JetStream drops
 * — so a record lost anywhere on its way is stored within about twice ACK_WAIT_MS. */
static int ack_overdue(int64_t *seen, int *tick, int64_t *last_ms, bool *was_outstanding)
{
    int64_t now = sq_now_ms();
    int overdue;
    if (now - *last_ms < 1000)
        return 0;
    *last_ms = now;
    /* seen[*tick % CHECK_S]: the published count CHECK_S seconds ago, once filled */
    overdue = *tick >= CHECK_S && R.outstanding > R.published - seen[*tick % CHECK_S];
    seen[*tick % CHECK_S] = R.published;
    if (++*tick % CHECK_S == 0) {
        if (!overdue && *was_outstanding && R.outstanding > 0)
            overdue = 2;
        *was_outstanding = R.outstanding > 0;
    }
    return overdue;
}

static void *retrier(void *arg)
{
    int64_t seen[CHECK_S] = { 0 }, last_ms = 0;
    int tick = 0, overdue;
    bool was_outstanding = false;

    (void)arg;
    pthread_mutex_lock(&R.mu);
    for (;;) {
        retry_item *it;
        while (R.head == NULL && !R.stop) {
            struct timespec ts;
            if ((overdue = ack_overdue(seen, &tick, &last_ms, &was_outstanding)) != 0) {
                pthread_mutex_unlock(&R.mu);
                rescue_pending(overdue == 2);
                pthread_mutex_lock(&R.mu);
                continue;
            }
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&R.cv, &R.mu, &ts);
        }
        if ((it = R.head) == NULL)
            break; /* stopping and nothing left */
        R.head = it->next;
        pthread_mutex_unlock(&R.mu);
        natsMsg *c = copy_msg(it->m);
        publish_sync(c ? c : it->m);
        natsMsg_Destroy(c);
        natsMsg_Destroy(it->m);
        free(it);
        pthread_mutex_lock(&R.mu);
        --R.outstanding;
        settled_check();
    }
    pthread_mutex_unlock(&R.mu);
    return NULL;
}

sq_status inv_records_start(void)
{
    jsOptions jo;
    natsStatus s;

    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.MaxPending = MAX_PENDING;
    jo.PublishAsync.StallWait = 1; /* full: the worker publishes synchronously itself */
    if ((s = natsConnection_JetStream(&R.js, sq_bus_nc(I.bus), &jo)) != NATS_OK) {
        sq_error("could not open a JetStream context for records: %s", natsStatus_GetText(s));
        return SQ_ERR_UNAVAILABLE;
    }
    if (pthread_create(&R.retrier, NULL, retrier, NULL) != 0) {
        sq_error("could not start the record retry thread");
        return SQ_ERR_INTERNAL;
    }
    R.thread = true;
    return SQ_OK;
}

void inv_records_publish(const char *subj, const char *id, const char *data, size_t len)
{
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subj, NULL, data, (int)len);

    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        sq_error("could not store activation \"%s\": %s", id, natsStatus_GetText(s));
        return;
    }
    if (R.js != NULL) {
        outstanding_add(1);
        if (js_PublishMsgAsync(R.js, &m, NULL) == NATS_OK)
            return; /* the library owns m; on_ack() settles it */
        outstanding_add(-1);
    }
    publish_sync(m);
    natsMsg_Destroy(m);
}

/* Waits (locked) until no record is outstanding or deadline passes. */
static void wait_settled(int64_t deadline)
{
    while (R.outstanding > 0 && sq_now_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&R.cv, &R.mu, &ts);
    }
}

void inv_records_stop(void)
{
    pthread_mutex_lock(&R.mu);
    R.draining = true;
    wait_settled(sq_now_ms() + ACK_WAIT_MS);
    if (R.outstanding > 0) { /* acks lost: publish what is pending again, then wait more */
        pthread_mutex_unlock(&R.mu);
        rescue_pending(false);
        pthread_mutex_lock(&R.mu);
        wait_settled(sq_now_ms() + DRAIN_WAIT_MS);
    }
    if (R.outstanding > 0)
        sq_error("%lld activation records not acknowledged by JetStream at exit",
                 (long long)R.outstanding);
    R.stop = true;
    pthread_cond_broadcast(&R.cv);
    pthread_mutex_unlock(&R.mu);
    if (R.thread)
        pthread_join(R.retrier, NULL);
    R.thread = false;
    jsCtx_Destroy(R.js);
    R.js = NULL;
}
