/* Trigger activation records that JetStream did not take at once. fire.c publishes each
 * record asynchronously; a publish refused for now (no responders while SQ_ACTIVATIONS
 * elects a leader, no acknowledgement within MaxWait) comes back to trg_on_record_error on
 * the library's thread, which hands the message to the retry thread here: it publishes it
 * again synchronously, de-duplicated by its Nats-Msg-Id, pausing between attempts, for as
 * long as fire.c's own synchronous path does (trg_record_publish_sync).
 *
 * Resent at once from the library's thread, as before, a refused record went round that
 * thread as fast as "no responders" came back: cluster_kill's runs logged up to 18 000
 * resends of one record and 160 000 in all while a killed node's stream found its new
 * leader, two cores' worth of work during the failover the other services needed them for.
 * Now each such record is said once, and given up (an error) only after its attempts. */
#include <stdlib.h>
#include <unistd.h>

#include "sq/log.h"
#include "triggers.h"

#define ATTEMPTS 50 /* 10 at 100 ms, then 500 ms: about 21 s */

typedef struct item {
    struct item *next;
    natsMsg *m;
} item;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item *head, *tail;
    jsCtx *js;
    bool stop, started;
    pthread_t thread;
} Q = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

bool trg_record_publish_sync(jsCtx *js, const char *subj, const char *id, const void *data, int len)
{
    natsStatus s = NATS_ERR;

    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        jsErrCode jerr = 0;
        jsPubAck *ack = NULL;
        natsMsg *m = NULL;
        jsPubOptions po;

        jsPubOptions_Init(&po);
        po.MaxWait = 5000;
        s = natsMsg_Create(&m, subj, NULL, data, len);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        if (s == NATS_OK)
            s = js_PublishMsg(&ack, js, m, &po, &jerr);
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(m);
        if (s == NATS_OK)
            return true;
        usleep(100 * 1000 * (attempt < 10 ? 1 : 5));
    }
    sq_error("could not store trigger activation \"%s\": %s", id, natsStatus_GetText(s));
    return false;
}

static void *retrier(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&Q.mu);
    for (;;) {
        item *it;
        while (Q.head == NULL && !Q.stop)
            pthread_cond_wait(&Q.cv, &Q.mu);
        if ((it = Q.head) == NULL)
            break; /* stopping, nothing left */
        if ((Q.head = it->next) == NULL)
            Q.tail = NULL;
        pthread_mutex_unlock(&Q.mu);
        const char *id = NULL;
        natsMsgHeader_Get(it->m, "Nats-Msg-Id", &id);
        trg_record_publish_sync(Q.js, natsMsg_GetSubject(it->m), id ? id : "",
                                natsMsg_GetData(it->m), natsMsg_GetDataLength(it->m));
        natsMsg_Destroy(it->m);
        free(it);
        pthread_mutex_lock(&Q.mu);
    }
    pthread_mutex_unlock(&Q.mu);
    return NULL;
}

sq_status trg_records_start(jsCtx *js)
{
    Q.js = js;
    Q.stop = false;
    if (pthread_create(&Q.thread, NULL, retrier, NULL) != 0) {
        sq_error("could not start the record retry thread");
        return SQ_ERR_INTERNAL;
    }
    Q.started = true;
    return SQ_OK;
}

void trg_records_stop(void)
{
    if (!Q.started)
        return;
    pthread_mutex_lock(&Q.mu);
    Q.stop = true; /* what is queued is still published */
    pthread_cond_broadcast(&Q.cv);
    pthread_mutex_unlock(&Q.mu);
    pthread_join(Q.thread, NULL);
    Q.started = false;
}

void trg_on_record_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    const char *id = NULL;
    item *it;

    (void)js;
    (void)closure;
    natsMsgHeader_Get(pae->Msg, "Nats-Msg-Id", &id);
    if (pae->ErrCode != 0 && pae->Err != NATS_TIMEOUT) {
        /* refused for good (no stream, message too large...): resending cannot help */
        sq_error("could not store trigger activation \"%s\": %s (%d)", id ? id : "?",
                 pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err), (int)pae->ErrCode);
        return;
    }
    if (!Q.started || (it = malloc(sizeof *it)) == NULL) {
        sq_error("could not store trigger activation \"%s\": %s, and no retry", id ? id : "?",
                 natsStatus_GetText(pae->Err));
        return;
    }
    sq_warn("trigger activation \"%s\" not yet stored (%s): publishing it again", id ? id : "?",
            natsStatus_GetText(pae->Err));
    it->m = pae->Msg;
    it->next = NULL;
    pae->Msg = NULL; /* ours now: the library does not destroy it */
    pthread_mutex_lock(&Q.mu);
    if (Q.tail != NULL)
        Q.tail->next = it;
    else
        Q.head = it;
    Q.tail = it;
    pthread_cond_signal(&Q.cv);
    pthread_mutex_unlock(&Q.mu);
}
