/* Batches: the invokes of one trigger fire's rules, received as one sq_invoke_batch and
 * answered with one sq_invoke_outcomes once every rule's outcome is known.
 *
 * Each rule is admitted and queued as a single non-blocking invoke would be (handlers.c);
 * its flight entry's reply subject is "<the batch's reply>.<rule index>", so every path that
 * answers a non-blocking caller (JetStream's ack, a refusal of the work, a record seen
 * before the ack, a publish never acknowledged) answers the rule through
 * sched_batch_answer(), which files the outcome in the open batch instead of publishing it.
 * The batch answers when its last outcome arrives and its handler has closed it. A rule
 * answered after its batch went (it cannot happen but for a batch swept as overdue) is
 * published on its own subject, where the triggers service ignores it as late.
 *
 * The table of open batches is keyed by the reply subject; its lock is held for a lookup
 * and an outcome's copy, never while publishing. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

#define NBUCKETS 256
#define OVERDUE_MS 120000 /* a batch still open this long is answered with what it has */

struct sched_batch {
    struct sched_batch *next;
    char *reply;    /* the fire's: the outcomes go here */
    size_t n;       /* rules */
    size_t pending; /* outcomes not known yet, + 1 until the handler closes it */
    bool linked;    /* in the table */
    bool closed;    /* its handler is done with it */
    int64_t opened; /* monotonic ms */
    sq_invoke_outcome *out;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sched_batch *buckets[NBUCKETS];
static _Atomic size_t open_count; /* no lookup at all while no batch is open */

static size_t bucket_of(const char *reply, size_t len)
{
    return (size_t)sq_hash_bytes(SQ_HASH_INIT, reply, len) % NBUCKETS;
}

sched_batch *sched_batch_open(const char *reply, size_t n)
{
    sched_batch *b = calloc(1, sizeof *b);
    size_t k;

    if (b == NULL || (b->reply = strdup(reply)) == NULL ||
        (b->out = calloc(n ? n : 1, sizeof *b->out)) == NULL) {
        if (b != NULL)
            free(b->reply);
        free(b);
        return NULL;
    }
    b->n = n;
    b->pending = n + 1;
    b->opened = sched_mono_ms();
    k = bucket_of(reply, strlen(reply));
    pthread_mutex_lock(&lock);
    b->next = buckets[k];
    buckets[k] = b;
    b->linked = true;
    atomic_fetch_add(&open_count, 1);
    pthread_mutex_unlock(&lock);
    return b;
}

/* Unlinks b (lock held). */
static void unlink_batch(sched_batch *b)
{
    sched_batch **pp = &buckets[bucket_of(b->reply, strlen(b->reply))];
    while (*pp != NULL && *pp != b)
        pp = &(*pp)->next;
    if (*pp == b)
        *pp = b->next;
    b->linked = false;
    atomic_fetch_sub(&open_count, 1);
}

/* Publishes b's outcomes to its reply subject and frees it (not in the table any more). */
static void answer(sched *s, sched_batch *b)
{
    sq_invoke_outcomes o = { .rules = b->out, .nrules = b->n };

    for (size_t i = 0; i < b->n; i++)
        if (b->out[i].code == 0 && b->out[i].id == NULL) {
            b->out[i].code = 503;
            b->out[i].error = strdup("the scheduler did not answer in time");
        }
    SQ_PUBLISH(s->bus, b->reply, sq_invoke_outcomes, &o);
    for (size_t i = 0; i < b->n; i++) {
        free(b->out[i].id);
        free(b->out[i].error);
    }
    free(b->out);
    free(b->reply);
    free(b);
}

/* Files rule i's outcome (lock held): the first one stays. Returns whether b is complete
 * (then unlinked: the caller answers it). */
static bool file(sched_batch *b, size_t i, const char *id, int code, const char *message)
{
    sq_invoke_outcome *o;

    if (i >= b->n || (o = &b->out[i])->id != NULL || o->code != 0)
        return false;
    if (code == 0)
        o->id = strdup(id ? id : "");
    else {
        o->code = code;
        o->error = strdup(message ? message : "error");
    }
    if (--b->pending > 0)
        return false;
    if (b->linked)
        unlink_batch(b);
    return true;
}

void sched_batch_set(sched *s, sched_batch *b, size_t i, const char *id, int code,
                     const char *message)
{
    bool done;

    pthread_mutex_lock(&lock);
    done = file(b, i, id, code, message);
    pthread_mutex_unlock(&lock);
    if (done)
        answer(s, b);
}

void sched_batch_close(sched *s, sched_batch *b)
{
    bool done;

    if (b == NULL)
        return;
    pthread_mutex_lock(&lock);
    b->closed = true;
    done = --b->pending == 0;
    if (done && b->linked)
        unlink_batch(b);
    pthread_mutex_unlock(&lock);
    if (done)
        answer(s, b);
}

bool sched_batch_answer(sched *s, const char *subject, const char *id, sq_status st,
                        const char *message)
{
    const char *dot;
    char *end;
    unsigned long i;
    size_t len;
    sched_batch *b;
    bool done = false, found = false;

    if (subject == NULL || atomic_load(&open_count) == 0 || (dot = strrchr(subject, '.')) == NULL)
        return false;
    i = strtoul(dot + 1, &end, 10);
    if (end == dot + 1 || *end != '\0')
        return false;
    len = (size_t)(dot - subject);
    pthread_mutex_lock(&lock);
    for (b = buckets[bucket_of(subject, len)]; b != NULL; b = b->next)
        if (strlen(b->reply) == len && memcmp(b->reply, subject, len) == 0)
            break;
    if (b != NULL) {
        found = true;
        done = file(b, i, id, st == SQ_OK ? 0 : sq_status_http(st),
                    message ? message : sq_status_str(st));
    }
    pthread_mutex_unlock(&lock);
    if (done)
        answer(s, b);
    return found;
}

void sched_batch_sweep(sched *s, int64_t now_ms)
{
    sched_batch *late = NULL;

    if (atomic_load(&open_count) == 0)
        return;
    pthread_mutex_lock(&lock);
    for (size_t k = 0; k < NBUCKETS; k++)
        for (sched_batch **pp = &buckets[k]; *pp != NULL;) {
            sched_batch *b = *pp;
            /* a batch its handler still holds is not overdue */
            if (now_ms - b->opened < OVERDUE_MS || !b->closed) {
                pp = &b->next;
                continue;
            }
            *pp = b->next;
            b->linked = false;
            atomic_fetch_sub(&open_count, 1);
            b->next = late;
            late = b;
        }
    pthread_mutex_unlock(&lock);
    while (late != NULL) {
        sched_batch *b = late;
        late = b->next;
        sq_warn("answered the invokes of a trigger fire after %d s without all of their outcomes",
                OVERDUE_MS / 1000);
        answer(s, b);
    }
}
