/* The in-flight table: every activation this copy admitted, until its record is seen on
 * SQ_ACTIVATIONS (completions.c calls sched_flight_done()). It is what the concurrency
 * limit counts, what each invoker has in hand from this copy (placement shares), and what
 * lets the scheduler keep the platform's promise that every accepted invocation ends in
 * exactly one record when an invoker dies.
 *
 * Lost activations (the sweeper, a few times a second):
 *   - an invoker stopped beating (placement.c declares it dead after the heartbeat TTL) or
 *     restarted (its `started` changed): every blocking activation sent to it (before the
 *     restart) is lost: its caller is answered and it is recorded as "whisk internal
 *     error". A non-blocking one is lost only if the invoker had taken it: JetStream is
 *     asked for the work message at the sequence its publish was acknowledged at; a work
 *     queue deletes a message when the invoker acknowledges (takes) it, so a message still
 *     there was never started and will run when the invoker is back. After a restart, only
 *     work seen taken before the new process started is lost (the new one takes the rest);
 *     `started` is the invoker's wall clock, so hosts need synchronised clocks.
 *   - a blocking activation not finished by its action's time limit plus a grace period is
 *     lost (the invoker dropped it, or a restart went unnoticed).
 *   - a non-blocking activation is "taken" once its invoker's work consumer acknowledged
 *     past its sequence (the consumer's ack floor, polled each second); taken and not
 *     finished by its time limit plus the grace period, it is lost.
 *
 * Which record wins. The lost record is published on SQ_ACTIVATIONS with Nats-Msg-Id = the
 * activation id, exactly like the invoker's. Whichever of the two reaches JetStream first
 * is the record: within the stream's two-minute duplicate window JetStream drops the second
 * (and tells the publisher: a duplicate ack, on which the scheduler neither answers the
 * caller nor counts anything), and after it the activation store keeps the first row per id.
 * So a late real record never replaces an internal error record, and an internal error
 * record never replaces a real one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

#define TAKEN_POLL_MS 1000

typedef struct flight {
    struct flight *next;
    char id[33];
    sched_ns *ns;
    int slot;
    int64_t mem_mb;
    bool blocking;
    bool gone;             /* non-blocking: its work message left the stream (taken) */
    int64_t taken_wall_ms; /* when this copy saw it taken (wall clock) */
    char *reply;           /* where a lost blocking activation is answered; non-blocking: the
                               caller, until JetStream acknowledges the work */
    uint64_t seq;          /* non-blocking: the work's sequence in SQ_WORK; 0 until acked */
    int64_t sent_wall_ms;
    int64_t created_ms;  /* monotonic */
    int64_t deadline_ms; /* monotonic; 0: none yet */
    int64_t timeout_ms;
    sched_flight_info info; /* strings point into strs */
    char strs[];
} flight;

struct sched_flights {
    pthread_mutex_t lock;
    flight **buckets;
    size_t mask;
    size_t count;
    int64_t last_taken_poll;
};

sched_flights *sched_flights_create(void)
{
    sched_flights *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->mask = 4095;
    if ((f->buckets = calloc(f->mask + 1, sizeof *f->buckets)) == NULL) {
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

static void flight_free(flight *x)
{
    if (x == NULL)
        return;
    free(x->reply);
    free(x);
}

void sched_flights_destroy(sched_flights *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i <= f->mask; i++)
        for (flight *x = f->buckets[i], *n; x != NULL; x = n) {
            n = x->next;
            flight_free(x);
        }
    free(f->buckets);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

size_t sched_flight_count(sched_flights *f)
{
    size_t n;
    pthread_mutex_lock(&f->lock);
    n = f->count;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static size_t hash_id(const char *id)
{
    /* ids are random hex: their first 16 characters are hash enough */
    uint64_t h = 0;
    for (int i = 0; i < 16 && id[i]; i++)
        h = h * 31 + (unsigned char)id[i];
    return (size_t)(h ^ (h >> 29));
}

/* The link pointing at id's entry, or at the end of its chain (lock held). */
static flight **slot_of(sched_flights *f, const char *id)
{
    flight **pp = &f->buckets[hash_id(id) & f->mask];
    while (*pp != NULL && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Doubles the buckets when the table is crowded (lock held); keeps the old on failure. */
static void grow(sched_flights *f)
{
    size_t mask = f->mask * 2 + 1;
    flight **b = calloc(mask + 1, sizeof *b);
    if (b == NULL)
        return;
    for (size_t i = 0; i <= f->mask; i++)
        for (flight *x = f->buckets[i], *n; x != NULL; x = n) {
            n = x->next;
            x->next = b[hash_id(x->id) & mask];
            b[hash_id(x->id) & mask] = x;
        }
    free(f->buckets);
    f->buckets = b;
    f->mask = mask;
}

static char *put_str(char **p, const char *s)
{
    char *start = *p;
    size_t n = s ? strlen(s) : 0;
    if (n)
        memcpy(start, s, n);
    start[n] = '\0';
    *p += n + 1;
    return start;
}

sq_status sched_flight_add(sched *s, const sched_flight_info *info, sched_ns *n, int slot,
                           int64_t mem_mb, bool blocking, const char *reply, int64_t deadline_ms)
{
    sched_flights *f = s->flights;
    const char *strs[] = { info->ns,   info->name,  info->version,   info->subject, info->kind,
                           info->path, info->cause, info->caused_by, info->binding };
    size_t need = 0;
    flight *x, **pp;
    char *p;

    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        need += (strs[i] ? strlen(strs[i]) : 0) + 1;
    if (strlen(info->id) >= sizeof x->id)
        return SQ_ERR_BAD_REQUEST;
    if ((x = calloc(1, sizeof *x + need)) == NULL)
        return SQ_ERR_NOMEM;
    if (reply != NULL && *reply != '\0' && (x->reply = strdup(reply)) == NULL) {
        free(x);
        return SQ_ERR_NOMEM;
    }
    strcpy(x->id, info->id);
    x->ns = n;
    x->slot = slot;
    x->mem_mb = mem_mb;
    x->blocking = blocking;
    x->sent_wall_ms = sq_now_ms();
    x->created_ms = sched_mono_ms();
    x->deadline_ms = deadline_ms;
    x->timeout_ms = info->limits.timeout;
    x->info = *info;
    p = x->strs;
    x->info.id = x->id;
    x->info.ns = put_str(&p, info->ns);
    x->info.name = put_str(&p, info->name);
    x->info.version = put_str(&p, info->version);
    x->info.subject = put_str(&p, info->subject);
    x->info.kind = put_str(&p, info->kind);
    x->info.path = put_str(&p, info->path);
    x->info.cause = put_str(&p, info->cause);
    x->info.caused_by = put_str(&p, info->caused_by);
    x->info.binding = put_str(&p, info->binding);

    pthread_mutex_lock(&f->lock);
    pp = slot_of(f, x->id);
    if (*pp != NULL) {
        pthread_mutex_unlock(&f->lock);
        flight_free(x);
        return SQ_ERR_CONFLICT;
    }
    *pp = x;
    if (++f->count > 2 * (f->mask + 1))
        grow(f);
    pthread_mutex_unlock(&f->lock);
    sched_invokers_charge(s->invokers, slot, mem_mb);
    return SQ_OK;
}

char *sched_flight_queued(sched *s, const char *id, uint64_t seq)
{
    sched_flights *f = s->flights;
    char *reply = NULL;
    flight *x;

    pthread_mutex_lock(&f->lock);
    if ((x = *slot_of(f, id)) != NULL) {
        x->seq = seq;
        reply = x->reply;
        x->reply = NULL;
    }
    pthread_mutex_unlock(&f->lock);
    return reply;
}

/* Unlinks and returns id's entry, or NULL. */
static flight *take(sched_flights *f, const char *id)
{
    flight **pp, *x;
    pthread_mutex_lock(&f->lock);
    pp = slot_of(f, id);
    if ((x = *pp) != NULL) {
        *pp = x->next;
        x->next = NULL;
        f->count--;
    }
    pthread_mutex_unlock(&f->lock);
    return x;
}

static void finish(sched *s, flight *x)
{
    sched_release(s->limits, x->ns);
    sched_invokers_charge(s->invokers, x->slot, -x->mem_mb);
    flight_free(x);
}

bool sched_flight_done(sched *s, const char *id)
{
    flight *x = take(s->flights, id);
    if (x == NULL)
        return false;
    if (!x->blocking && x->reply != NULL) {
        /* The record came before JetStream's ack of the work was handled (the ack and the
         * record arrive on different threads): the work was stored, so the caller is
         * answered here; the ack then finds nothing to do. */
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sq_proto_buf_init(&sb, &pk);
        sq_act_ref ref = { .id = x->id, .rules = -1 };
        sq_act_ref_encode(&ref, &pk);
        sq_bus_publish(s->bus, x->reply, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    finish(s, x);
    return true;
}

/* ---- the sweep ----------------------------------------------------------------------------- */

typedef struct lost {
    char id[33];
    const char *why;
} lost;

typedef struct idseq {
    char id[33];
    uint64_t seq;
    int slot;
    int state; /* 0: ask the stream, 1: taken, 2: still queued */
} idseq;

/* A growable array of fixed-size items. */
typedef struct vec {
    void *v;
    size_t n, cap, size;
} vec;

static void *vec_push(vec *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void *v = realloc(a->v, cap * a->size);
        if (v == NULL)
            return NULL;
        a->v = v;
        a->cap = cap;
    }
    return (char *)a->v + a->size * a->n++;
}

static const sched_incident *incident_of(const flight *x, const sched_incident *inc, int ninc)
{
    for (int i = 0; i < ninc; i++)
        if (inc[i].slot == x->slot && (inc[i].since == 0 || x->sent_wall_ms < inc[i].since))
            return &inc[i];
    return NULL;
}

/* Whether the work message at seq is still in SQ_WORK (not taken). On a JetStream error,
 * true: nothing is declared lost on a guess. */
static bool still_queued(sched *s, uint64_t seq)
{
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_GetMsg(&m, s->js, SQ_STREAM_WORK, seq, NULL, &jerr);
    natsMsg_Destroy(m);
    if (st == NATS_OK)
        return true;
    if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
        return false;
    sq_warn("could not look up work message %llu: %s (%d)", (unsigned long long)seq,
            natsStatus_GetText(st), (int)jerr);
    return true;
}

/* The stream sequence up to which the work consumer `durable` has acknowledged everything
 * (0 when it cannot be told), and in *delivered the last one it handed out. */
static uint64_t ack_floor(sched *s, const char *durable, uint64_t *delivered)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    uint64_t floor = 0;
    if (delivered != NULL)
        *delivered = UINT64_MAX;
    if (js_GetConsumerInfo(&ci, s->js, SQ_STREAM_WORK, durable, NULL, &jerr) == NATS_OK &&
        ci != NULL) {
        floor = ci->AckFloor.Stream;
        if (delivered != NULL)
            *delivered = ci->Delivered.Stream;
    }
    jsConsumerInfo_Destroy(ci);
    return floor;
}

/* Records x as lost: the internal error record goes to SQ_ACTIVATIONS and, when it is the
 * first record of the activation, to the caller that waits for it. */
static void record_lost(sched *s, flight *x, const char *why)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool dup = false;

    sq_proto_buf_init(&sb, &pk);
    sched_record_internal(&pk, &x->info, x->sent_wall_ms, why);
    if (sched_record_publish(s, x->id, x->info.ns, sb.data, sb.size, &dup) != SQ_OK) {
        sq_error("could not record lost activation \"%s\"", x->id);
    } else if (dup) {
        sq_debug("activation \"%s\" was recorded meanwhile: its record stands", x->id);
    } else {
        sq_warn("recorded activation \"%s\" of \"%s\" as lost: %s", x->id, x->info.path, why);
        if (x->blocking && x->reply != NULL)
            sq_bus_publish(s->bus, x->reply, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
}

void sched_flight_sweep(sched *s, const sched_incident *inc, int ninc, int64_t now_ms)
{
    sched_flights *f = s->flights;
    vec lostv = { .size = sizeof(lost) }, check = { .size = sizeof(idseq) },
        slots = { .size = sizeof(int) };
    bool poll = now_ms - f->last_taken_poll >= TAKEN_POLL_MS;
    int64_t grace = sched_cfg.lost_grace_ms;

    if (poll)
        f->last_taken_poll = now_ms;
    pthread_mutex_lock(&f->lock);
    for (size_t b = 0; b <= f->mask; b++)
        for (flight *x = f->buckets[b]; x != NULL; x = x->next) {
            const sched_incident *in = x->slot >= 0 ? incident_of(x, inc, ninc) : NULL;
            lost *l = NULL;
            if (in != NULL &&
                (x->blocking || (x->gone && (in->since == 0 || x->taken_wall_ms < in->since)))) {
                if ((l = vec_push(&lostv)) != NULL)
                    l->why =
                        in->since
                            ? "The invoker running the activation restarted before it completed."
                            : "The invoker running the activation stopped before it completed.";
            } else if (in != NULL && in->since == 0 && x->seq != 0 && !x->gone) {
                idseq *c = vec_push(&check);
                if (c != NULL) {
                    strcpy(c->id, x->id);
                    c->seq = x->seq;
                    c->slot = x->slot;
                    c->state = 0;
                }
            } else if (x->deadline_ms != 0 && now_ms >= x->deadline_ms) {
                if ((l = vec_push(&lostv)) != NULL)
                    l->why = "The activation did not complete within its time limit.";
            } else if (!x->blocking && x->seq == 0 && x->reply != NULL &&
                       now_ms - x->created_ms > sched_cfg.publish_timeout_ms + 10000) {
                /* JetStream never acknowledged the work: the caller is told it failed */
                if ((l = vec_push(&lostv)) != NULL)
                    l->why = NULL;
            } else if (poll && !x->blocking && x->seq != 0 && !x->gone && x->slot >= 0) {
                /* which invokers have work of ours that may have been taken meanwhile */
                size_t i;
                for (i = 0; i < slots.n && ((int *)slots.v)[i] != x->slot; i++)
                    ;
                if (i == slots.n) {
                    int *sl = vec_push(&slots);
                    if (sl != NULL)
                        *sl = x->slot;
                }
            }
            if (l != NULL)
                strcpy(l->id, x->id);
        }
    pthread_mutex_unlock(&f->lock);

    /* Non-blocking work on an invoker that stopped: lost only if it had taken it. Work
     * still queued runs when the invoker is back. When it came back during the check, a
     * message missing from the stream may have been taken by the new process: those are
     * left to the deadline of taken work (below), which only the old process's never meet. */
    for (int k = 0; k < ninc; k++) {
        /* what the consumer state tells at once: at or below the ack floor it was taken,
         * beyond the last delivery it was not; in between, the stream is asked */
        uint64_t floor = 0, delivered = UINT64_MAX;
        if (inc[k].since != 0)
            continue;
        for (size_t i = 0; i < check.n; i++)
            if (((idseq *)check.v)[i].slot == inc[k].slot) {
                floor = ack_floor(s, inc[k].durable, &delivered);
                break;
            }
        for (size_t i = 0; i < check.n; i++) {
            idseq *c = &((idseq *)check.v)[i];
            if (c->slot != inc[k].slot)
                continue;
            c->state = c->seq <= floor ? 1 : c->seq > delivered ? 2 : 0;
        }
    }
    for (size_t i = 0; i < check.n; i++) {
        idseq *c = &((idseq *)check.v)[i];
        lost *l;
        if (c->state == 2 || (c->state == 0 && still_queued(s, c->seq)) ||
            sched_invokers_seen_since(s->invokers, c->slot, now_ms))
            continue;
        if ((l = vec_push(&lostv)) != NULL) {
            strcpy(l->id, c->id);
            l->why = "The invoker running the activation stopped before it completed.";
        }
    }

    /* non-blocking work taken by a live invoker: from then on it has its time limit */
    for (size_t i = 0; i < slots.n; i++) {
        char durable[320];
        int slot = ((int *)slots.v)[i];
        uint64_t floor;
        if (!sched_invokers_durable(s->invokers, slot, durable, sizeof durable) ||
            (floor = ack_floor(s, durable, NULL)) == 0)
            continue;
        pthread_mutex_lock(&f->lock);
        for (size_t b = 0; b <= f->mask; b++)
            for (flight *x = f->buckets[b]; x != NULL; x = x->next)
                if (x->slot == slot && !x->blocking && !x->gone && x->seq != 0 && x->seq <= floor) {
                    x->gone = true;
                    x->taken_wall_ms = sq_now_ms();
                    x->deadline_ms = now_ms + x->timeout_ms + grace;
                }
        pthread_mutex_unlock(&f->lock);
    }

    for (size_t i = 0; i < lostv.n; i++) {
        lost *l = &((lost *)lostv.v)[i];
        flight *x = take(f, l->id);
        if (x == NULL)
            continue; /* its record arrived meanwhile */
        if (l->why != NULL) {
            record_lost(s, x, l->why);
        } else {
            sq_error("JetStream did not acknowledge the work of activation \"%s\" in time", x->id);
            sched_error_to(s, x->reply, SQ_ERR_UNAVAILABLE, "could not queue the activation");
        }
        finish(s, x);
    }
    free(lostv.v);
    free(check.v);
    free(slots.v);
}

void sched_flight_moved(sched *s, const char *id, const char *invoker, uint64_t seq)
{
    sched_flights *f = s->flights;
    int slot = sched_invokers_slot(s->invokers, invoker), old = -1;
    int64_t mem = 0;
    flight *x;

    pthread_mutex_lock(&f->lock);
    if ((x = *slot_of(f, id)) != NULL && !x->blocking) {
        old = x->slot;
        mem = x->mem_mb;
        x->slot = slot;
        x->seq = seq;
        x->gone = false;
        x->taken_wall_ms = 0;
        x->deadline_ms = 0;
    }
    pthread_mutex_unlock(&f->lock);
    if (x != NULL && old != slot) {
        sched_invokers_charge(s->invokers, old, -mem);
        sched_invokers_charge(s->invokers, slot, mem);
    }
}
