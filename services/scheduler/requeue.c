/* Work that JetStream refused while SQ_WORK had no leader.
 *
 * When the nats-server that leads SQ_WORK dies, the stream has no leader until the others
 * elect one (a few seconds): a publish then ends in "no responders", a timeout or
 * JSClusterNotAvailErr. Answering 503 at once turned every such second into failed invokes;
 * the work is instead published again every RETRY_MS until it is stored or
 * SQ_SCHED_REQUEUE_MS have passed since its first try. The copy keeps the Nats-Msg-Id, so a
 * first try that was stored after all (its ack lost) is stored once: JetStream answers the
 * retry as a duplicate with the first one's sequence. The caller meanwhile waits, as for
 * any ack; its activation stays PUBLISHING in the flight table (whose own timeout,
 * publish_timeout_ms + 10 s, is longer than the window). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "sched.h"
#include "sq/log.h"

#define RETRY_MS 250
#define FIRST_HDR "Sq-First-Try" /* monotonic ms of the first try, on the copies */

typedef struct entry {
    struct entry *next;
    natsMsg *msg; /* the copy to publish */
    char *id;
    int64_t due_ms;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *head;

/* A refusal that a new stream leader ends; anything else (too large, wrong stream, storage
 * failed, a full stream) is answered as before. */
static bool transient(const jsPubAckErr *pae)
{
    if (pae == NULL)
        return true; /* no acknowledgement at all */
    if (pae->Err == NATS_TIMEOUT || pae->Err == NATS_NO_RESPONDERS)
        return true;
    return pae->ErrCode == JSClusterNotAvailErr || pae->ErrCode == JSClusterNoPeersErr;
}

bool sched_requeue_offer(sched *s, natsMsg *msg, const char *id, const jsPubAckErr *pae)
{
    const char *hdr = NULL;
    int64_t now = sched_mono_ms(), first = now;
    char buf[32];
    natsMsg *copy = NULL;
    entry *e;

    (void)s;
    if (sched_cfg.requeue_ms <= 0 || !transient(pae))
        return false;
    if (natsMsgHeader_Get(msg, FIRST_HDR, &hdr) == NATS_OK && hdr != NULL)
        first = strtoll(hdr, NULL, 10);
    if (now - first >= sched_cfg.requeue_ms)
        return false;
    snprintf(buf, sizeof buf, "%lld", (long long)first);
    if (natsMsg_Create(&copy, natsMsg_GetSubject(msg), NULL, natsMsg_GetData(msg),
                       natsMsg_GetDataLength(msg)) != NATS_OK ||
        natsMsgHeader_Set(copy, FIRST_HDR, buf) != NATS_OK || (e = calloc(1, sizeof *e)) == NULL ||
        (e->id = strdup(id)) == NULL) {
        if (copy != NULL)
            natsMsg_Destroy(copy);
        return false; /* (e leaks only when strdup fails: the process is then done anyway) */
    }
    if (first == now)
        sq_warn("SQ_WORK refused activation \"%s\" (%s): publishing it again for up to %d ms", id,
                pae ? natsStatus_GetText(pae->Err) : "no acknowledgement", sched_cfg.requeue_ms);
    e->msg = copy;
    e->due_ms = now + RETRY_MS;
    pthread_mutex_lock(&lock);
    e->next = head;
    head = e;
    pthread_mutex_unlock(&lock);
    natsMsg_Destroy(msg);
    return true;
}

void sched_requeue_due(sched *s, int64_t now_ms)
{
    entry *due = NULL, **pp;

    pthread_mutex_lock(&lock);
    for (pp = &head; *pp != NULL;) {
        entry *e = *pp;
        if (e->due_ms <= now_ms) {
            *pp = e->next;
            e->next = due;
            due = e;
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&lock);

    while (due != NULL) {
        entry *e = due;
        jsPubOptions po;
        natsStatus st;
        due = e->next;
        jsPubOptions_Init(&po);
        po.MsgId = e->id;
        po.ExpectStream = SQ_STREAM_WORK;
        st = js_PublishMsgAsync(s->js, &e->msg, &po); /* the ack comes to sched_on_pub_ack */
        if (st != NATS_OK) {
            /* not even handed to the library: answered as a refusal now */
            jsPubAckErr pae = { .Msg = e->msg, .Err = st };
            sched_on_pub_ack(s->js, e->msg, NULL, &pae, s);
            e->msg = NULL;
        }
        free(e->id);
        free(e);
    }
}

void sched_requeue_drop(void)
{
    pthread_mutex_lock(&lock);
    while (head != NULL) {
        entry *e = head;
        head = e->next;
        natsMsg_Destroy(e->msg);
        free(e->id);
        free(e);
    }
    pthread_mutex_unlock(&lock);
}
