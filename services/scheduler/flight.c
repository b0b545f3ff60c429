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
 * record never replaces a real one.
 *
 * Each entry's state (local, sent, publishing, queued, taken) and what an event or a sweep
 * does to it are decided by flight_state.c, which knows nothing of NATS or locks; this file
 * keeps the table, asks JetStream and carries the decisions out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flight_state.h"
#include "sched.h"
#include "sq/log.h"

#define TAKEN_POLL_MS 1000

typedef struct flight {
    struct flight *next;
    char id[33];
    sched_ns *ns;
    int64_t mem_mb;
    sched_fl fl;            /* its state, its invoker (fl.slot) and the times that decide */
    char *reply;            /* SENT: where a lost activation is answered; PUBLISHING: the caller,
                    until JetStream acknowledges the work */
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
    return (size_t)sq_hash_bytes(SQ_HASH_INIT, id, strnlen(id, 16));
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
    x->mem_mb = mem_mb;
    x->fl = sched_fl_new(blocking, slot, sched_mono_ms(), sq_now_ms(), deadline_ms,
                         info->limits.timeout);
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
    sched_metrics_admitted();
    return SQ_OK;
}

char *sched_flight_queued(sched *s, const char *id, uint64_t seq)
{
    sched_flights *f = s->flights;
    sched_fl_event ev = { .kind = SCHED_FE_ACKED, .seq = seq };
    char *reply = NULL;
    flight *x;

    pthread_mutex_lock(&f->lock);
    if ((x = *slot_of(f, id)) != NULL && x->fl.state != SCHED_FL_SENT) {
        /* seq 0 (JetStream refused the work): the caller is answered with the failure */
        sched_fl_step(&x->fl, &ev, NULL);
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
    sched_invokers_charge(s->invokers, x->fl.slot, -x->mem_mb);
    flight_free(x);
}

bool sched_flight_done(sched *s, const char *id)
{
    flight *x = take(s->flights, id);
    if (x == NULL)
        return false;
    sched_metrics_done(sched_mono_ms() - x->fl.created_ms);
    if (x->fl.state == SCHED_FL_PUBLISHING && x->reply != NULL &&
        !sched_batch_answer(s, x->reply, x->id, SQ_OK, NULL)) {
        /* The record came before JetStream's ack of the work was handled (the ack and the
         * record arrive on different threads): the work was stored, so the caller is
         * answered here; the ack then finds nothing to do. */
        sq_act_ref ref = { .id = x->id, .rules = -1 };
        SQ_PUBLISH(s->bus, x->reply, sq_act_ref, &ref);
    }
    finish(s, x);
    return true;
}

/* ---- the sweep ----------------------------------------------------------------------------- */

/* An activation the sweep takes out of the table: what happened to it. */
typedef struct lost {
    char id[33];
    sched_fl_action why; /* LOST_* or UNACKED */
} lost;

/* Queued work of a stopped invoker, to be looked up: was it taken? */
typedef struct idseq {
    char id[33];
    uint64_t seq;
    int slot;
    sched_fl_where where;
} idseq;

/* A growable array of fixed-size items. */
typedef struct vec {
    void *v;
    size_t n, cap, size;
} vec;

/* What one sweep collected under the lock, handled after it. */
typedef struct sweep_state {
    vec lost;  /* lost */
    vec check; /* idseq */
    vec slots; /* int: invokers whose ack floors are polled */
} sweep_state;

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
        if (inc[i].slot == x->fl.slot && (inc[i].since == 0 || x->fl.sent_wall_ms < inc[i].since))
            return &inc[i];
    return NULL;
}

static const sched_fl_limits *limits(void)
{
    static sched_fl_limits lim;
    lim.grace_ms = sched_cfg.lost_grace_ms;
    lim.unacked_after_ms = sched_cfg.publish_timeout_ms + 10000;
    return &lim;
}

static const char *why_text(sched_fl_action why)
{
    switch (why) {
    case SCHED_FA_LOST_RESTARTED:
        return "The invoker running the activation restarted before it completed.";
    case SCHED_FA_LOST_STOPPED:
        return "The invoker running the activation stopped before it completed.";
    case SCHED_FA_LOST_TIMEOUT: return "The activation did not complete within its time limit.";
    default: return NULL;
    }
}

static void push_lost(sweep_state *w, const char *id, sched_fl_action why)
{
    lost *l = vec_push(&w->lost);
    if (l != NULL) {
        strcpy(l->id, id);
        l->why = why;
    }
}

/* Carries out what the state machine decided for x in a sweep (lock held). */
static void collect(sweep_state *w, const flight *x, sched_fl_action a)
{
    switch (a) {
    case SCHED_FA_LOST_STOPPED:
    case SCHED_FA_LOST_RESTARTED:
    case SCHED_FA_LOST_TIMEOUT:
    case SCHED_FA_UNACKED: push_lost(w, x->id, a); break;
    case SCHED_FA_ASK: {
        idseq *c = vec_push(&w->check);
        if (c != NULL) {
            strcpy(c->id, x->id);
            c->seq = x->fl.seq;
            c->slot = x->fl.slot;
            c->where = SCHED_WHERE_UNKNOWN;
        }
        break;
    }
    case SCHED_FA_POLL: {
        /* which invokers have work of ours that may have been taken meanwhile */
        size_t i;
        for (i = 0; i < w->slots.n && ((int *)w->slots.v)[i] != x->fl.slot; i++)
            ;
        if (i == w->slots.n) {
            int *sl = vec_push(&w->slots);
            if (sl != NULL)
                *sl = x->fl.slot;
        }
        break;
    }
    default: break;
    }
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
    sched_record_internal(&pk, &x->info, x->fl.sent_wall_ms, why);
    if (sched_record_publish(s, x->id, x->info.ns, sb.data, sb.size, &dup) != SQ_OK) {
        sq_error("could not record lost activation \"%s\"", x->id);
    } else if (dup) {
        sq_debug("activation \"%s\" was recorded meanwhile: its record stands", x->id);
    } else {
        sq_warn("recorded activation \"%s\" of \"%s\" as lost: %s", x->id, x->info.path, why);
        sched_metrics_lost();
        if (x->fl.state == SCHED_FL_SENT && x->reply != NULL)
            sq_bus_publish(s->bus, x->reply, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* Asks the state machine about every entry (lock taken here). */
static void scan(sched *s, sweep_state *w, const sched_incident *inc, int ninc, int64_t now_ms,
                 bool poll)
{
    sched_flights *f = s->flights;
    const sched_fl_limits *lim = limits();

    pthread_mutex_lock(&f->lock);
    for (size_t b = 0; b <= f->mask; b++)
        for (flight *x = f->buckets[b]; x != NULL; x = x->next) {
            const sched_incident *in = x->fl.slot >= 0 ? incident_of(x, inc, ninc) : NULL;
            sched_fl_event ev = { .kind = SCHED_FE_SWEEP,
                                  .now_ms = now_ms,
                                  .incident = in != NULL,
                                  .incident_since = in ? in->since : 0,
                                  .poll = poll,
                                  .waiting = x->reply != NULL };
            collect(w, x, sched_fl_step(&x->fl, &ev, lim));
        }
    pthread_mutex_unlock(&f->lock);
}

/* Non-blocking work on an invoker that stopped: lost only if it had taken it. Work still
 * queued runs when the invoker is back. When it came back during the check, a message
 * missing from the stream may have been taken by the new process: those are left to the
 * deadline of taken work, which only the old process's never meet. */
static void resolve_checks(sched *s, sweep_state *w, const sched_incident *inc, int ninc,
                           int64_t now_ms)
{
    idseq *check = w->check.v;

    for (int k = 0; k < ninc; k++) {
        /* what the consumer state tells at once; in between, the stream is asked */
        uint64_t floor = 0, delivered = UINT64_MAX;
        if (inc[k].since != 0)
            continue;
        for (size_t i = 0; i < w->check.n; i++)
            if (check[i].slot == inc[k].slot) {
                floor = ack_floor(s, inc[k].durable, &delivered);
                break;
            }
        for (size_t i = 0; i < w->check.n; i++)
            if (check[i].slot == inc[k].slot)
                check[i].where = sched_fl_where_of(check[i].seq, floor, delivered);
    }
    for (size_t i = 0; i < w->check.n; i++) {
        idseq *c = &check[i];
        if (c->where == SCHED_WHERE_QUEUED ||
            (c->where == SCHED_WHERE_UNKNOWN && still_queued(s, c->seq)) ||
            sched_invokers_seen_since(s->invokers, c->slot, now_ms))
            continue;
        push_lost(w, c->id, SCHED_FA_LOST_STOPPED);
    }
}

/* Non-blocking work taken by a live invoker: from then on it has its time limit. */
static void poll_floors(sched *s, sweep_state *w, int64_t now_ms)
{
    sched_flights *f = s->flights;
    const sched_fl_limits *lim = limits();

    for (size_t i = 0; i < w->slots.n; i++) {
        char durable[320];
        int slot = ((int *)w->slots.v)[i];
        sched_fl_event ev = { .kind = SCHED_FE_FLOOR, .now_ms = now_ms };
        if (!sched_invokers_durable(s->invokers, slot, durable, sizeof durable) ||
            (ev.seq = ack_floor(s, durable, NULL)) == 0)
            continue;
        ev.now_wall_ms = sq_now_ms();
        pthread_mutex_lock(&f->lock);
        for (size_t b = 0; b <= f->mask; b++)
            for (flight *x = f->buckets[b]; x != NULL; x = x->next)
                if (x->fl.slot == slot)
                    sched_fl_step(&x->fl, &ev, lim);
        pthread_mutex_unlock(&f->lock);
    }
}

/* Takes the lost activations out of the table and records them. */
static void finish_lost(sched *s, sweep_state *w)
{
    for (size_t i = 0; i < w->lost.n; i++) {
        lost *l = &((lost *)w->lost.v)[i];
        flight *x = take(s->flights, l->id);
        if (x == NULL)
            continue; /* its record arrived meanwhile */
        if (l->why != SCHED_FA_UNACKED) {
            record_lost(s, x, why_text(l->why));
        } else {
            sq_error("JetStream did not acknowledge the work of activation \"%s\" in time", x->id);
            sched_error_to(s, x->reply, SQ_ERR_UNAVAILABLE, "could not queue the activation");
        }
        finish(s, x);
    }
}

void sched_flight_sweep(sched *s, const sched_incident *inc, int ninc, int64_t now_ms)
{
    sched_flights *f = s->flights;
    sweep_state w = { .lost = { .size = sizeof(lost) },
                      .check = { .size = sizeof(idseq) },
                      .slots = { .size = sizeof(int) } };
    bool poll = now_ms - f->last_taken_poll >= TAKEN_POLL_MS;

    if (poll)
        f->last_taken_poll = now_ms;
    scan(s, &w, inc, ninc, now_ms, poll);
    resolve_checks(s, &w, inc, ninc, now_ms);
    poll_floors(s, &w, now_ms);
    finish_lost(s, &w);
    free(w.lost.v);
    free(w.check.v);
    free(w.slots.v);
}

void sched_flight_moved(sched *s, const char *id, const char *invoker, uint64_t seq)
{
    sched_flights *f = s->flights;
    int slot = sched_invokers_slot(s->invokers, invoker), old = -1;
    sched_fl_event ev = { .kind = SCHED_FE_MOVED, .seq = seq, .slot = slot };
    int64_t mem = 0;
    flight *x;

    pthread_mutex_lock(&f->lock);
    if ((x = *slot_of(f, id)) != NULL) {
        old = x->fl.slot;
        mem = x->mem_mb;
        sched_fl_step(&x->fl, &ev, NULL);
        if (x->fl.slot != slot)
            x = NULL; /* not moved: a blocking activation or one run here */
    }
    pthread_mutex_unlock(&f->lock);
    if (x != NULL && old != slot) {
        sched_invokers_charge(s->invokers, old, -mem);
        sched_invokers_charge(s->invokers, slot, mem);
    }
}
