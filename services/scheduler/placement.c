/* The invokers this scheduler has heard of, from their heartbeats, and the placement rule.
 * Every scheduler copy sees every heartbeat (no queue group), so all copies agree on the
 * sorted list of healthy invokers and therefore on each action's home invoker, which is
 * what lets a warm container be reused whichever copy admitted the invocation.
 *
 * Capacity: each copy may fill its fair share of an invoker's memory, total / live copies,
 * with what it placed there itself and has not seen finish (own_mb, charged and
 * discharged by flight.c). Without a round trip between the copies this cannot overbook an
 * invoker by more than what the copies admitted within one heartbeat of a change in their
 * number; and overbooking costs queueing, not failure, because an invoker's pool waits for
 * memory rather than exceeding it. When every share is full the work still goes to the
 * home invoker, where it queues (non-blocking work queues in JetStream anyway).
 *
 * Failure: an invoker silent for the heartbeat TTL is declared dead, and one whose heartbeat
 * carries a new `started` time has restarted; both are incidents that flight.c turns into
 * records of the work that was lost. Each invoker keeps a slot number for the life of this
 * process, so in-flight entries can name it cheaply. The table is small and scanned under a
 * mutex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

#define ID_MAX 96 /* longest invoker id accepted; escaped it fits sched_target */
#define FORGET_AFTER_MS (10 * 60 * 1000) /* drop a silent invoker from the table */
#define MAX_INCIDENTS 1024

typedef struct invoker {
    char id[ID_MAX + 1];
    char run[320], work[320], durable[320];
    int slot;
    int64_t seen_ms; /* monotonic time of the last heartbeat */
    int64_t free_mb, total_mb, started;
    int64_t own_mb;  /* memory of what this copy placed here and has not seen finish */
    int64_t dead_ms; /* monotonic time it was declared dead */
    bool healthy, draining, dead;
} invoker;

struct sched_invokers {
    pthread_mutex_t lock;
    invoker *v;
    int n, cap;
    int next_slot;
    sched_incident inc[MAX_INCIDENTS];
    int ninc;
};

sched_invokers *sched_invokers_create(void)
{
    sched_invokers *iv = calloc(1, sizeof *iv);
    if (iv != NULL)
        pthread_mutex_init(&iv->lock, NULL);
    return iv;
}

void sched_invokers_destroy(sched_invokers *iv)
{
    if (iv == NULL)
        return;
    free(iv->v);
    pthread_mutex_destroy(&iv->lock);
    free(iv);
}

int sched_invokers_count(sched_invokers *iv)
{
    int n;
    pthread_mutex_lock(&iv->lock);
    n = iv->n;
    pthread_mutex_unlock(&iv->lock);
    return n;
}

static bool usable(const invoker *x, int64_t now_ms, int ttl_ms)
{
    return x->healthy && !x->draining && !x->dead && now_ms - x->seen_ms < ttl_ms;
}

/* Queues an incident (lock held). */
static void incident(sched_invokers *iv, const invoker *x, int64_t since)
{
    sched_incident *i;
    if (iv->ninc == MAX_INCIDENTS) {
        sq_warn("too many invoker incidents at once: the one of \"%s\" waits for the deadlines",
                x->id);
        return;
    }
    i = &iv->inc[iv->ninc++];
    i->slot = x->slot;
    i->since = since;
    snprintf(i->id, sizeof i->id, "%s", x->id);
    snprintf(i->durable, sizeof i->durable, "%s", x->durable);
}

/* Forgets invokers silent for long (a renamed or retired one) with nothing of ours (lock
 * held). */
static void forget_silent(sched_invokers *iv, int64_t now_ms)
{
    for (int i = 0; i < iv->n;)
        if (now_ms - iv->v[i].seen_ms > FORGET_AFTER_MS && iv->v[i].own_mb <= 0) {
            sq_info("forgot invoker \"%s\": silent for %d s", iv->v[i].id, FORGET_AFTER_MS / 1000);
            memmove(&iv->v[i], &iv->v[i + 1], sizeof(invoker) * (size_t)(iv->n - i - 1));
            iv->n--;
        } else
            i++;
}

void sched_invokers_update(sched_invokers *iv, const sq_heartbeat *hb, int64_t now_ms)
{
    char tok[300];
    int lo = 0, hi, cmp = 1;
    invoker *x;

    if (strlen(hb->id) > ID_MAX || sq_subj_token(hb->id, tok, sizeof tok) != 0) {
        sq_warn("ignored heartbeat of invoker \"%.64s\": unusable id", hb->id);
        return;
    }
    pthread_mutex_lock(&iv->lock);
    forget_silent(iv, now_ms);
    hi = iv->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        cmp = strcmp(hb->id, iv->v[mid].id);
        if (cmp == 0) {
            lo = mid;
            break;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (cmp != 0) {
        if (iv->n == iv->cap) {
            int cap = iv->cap ? iv->cap * 2 : 8;
            invoker *v = realloc(iv->v, sizeof(invoker) * (size_t)cap);
            if (v == NULL) {
                pthread_mutex_unlock(&iv->lock);
                sq_error("could not record invoker \"%s\": out of memory", hb->id);
                return;
            }
            iv->v = v;
            iv->cap = cap;
        }
        memmove(&iv->v[lo + 1], &iv->v[lo], sizeof(invoker) * (size_t)(iv->n - lo));
        iv->n++;
        x = &iv->v[lo];
        memset(x, 0, sizeof *x);
        snprintf(x->id, sizeof x->id, "%s", hb->id);
        snprintf(x->run, sizeof x->run, SQ_SUBJ_INVOKER_RUN_FMT, tok);
        snprintf(x->work, sizeof x->work, SQ_SUBJ_WORK_FMT, tok);
        snprintf(x->durable, sizeof x->durable, "invoker-%s", tok); /* as the invoker names it */
        x->slot = iv->next_slot++;
        x->started = hb->started;
        sq_info("invoker \"%s\" joined (%lld MB, %s)", hb->id, (long long)hb->total_mb,
                hb->healthy && !hb->draining ? "healthy" : "not accepting work");
    } else {
        x = &iv->v[lo];
        if (x->dead) {
            sq_info("invoker \"%s\" is back", hb->id);
            x->dead = false;
        } else if (usable(x, now_ms, sched_cfg.heartbeat_ttl_ms) !=
                   (hb->healthy && !hb->draining)) {
            sq_info("invoker \"%s\" is %s", hb->id,
                    hb->healthy && !hb->draining ? "accepting work"
                    : hb->draining               ? "draining"
                                                 : "unhealthy");
        }
        if (hb->started != 0 && x->started != 0 && hb->started != x->started) {
            sq_warn("invoker \"%s\" restarted: the work it had in hand is lost", hb->id);
            incident(iv, x, hb->started);
        }
        if (hb->started != 0)
            x->started = hb->started;
    }
    x->seen_ms = now_ms;
    x->free_mb = hb->free_mb;
    x->total_mb = hb->total_mb;
    x->healthy = hb->healthy;
    x->draining = hb->draining;
    pthread_mutex_unlock(&iv->lock);
}

int sched_invokers_incidents(sched_invokers *iv, int64_t now_ms, int ttl_ms, sched_incident *out,
                             int max)
{
    int n;
    pthread_mutex_lock(&iv->lock);
    for (int i = 0; i < iv->n; i++) {
        invoker *x = &iv->v[i];
        if (!x->dead && now_ms - x->seen_ms >= ttl_ms) {
            x->dead = true;
            x->dead_ms = now_ms;
            sq_warn(
                "invoker \"%s\" is silent for %lld ms: taken out, the work it had in hand is lost",
                x->id, (long long)(now_ms - x->seen_ms));
            incident(iv, x, 0);
        }
    }
    n = iv->ninc < max ? iv->ninc : max;
    memcpy(out, iv->inc, sizeof *out * (size_t)n);
    memmove(iv->inc, iv->inc + n, sizeof *out * (size_t)(iv->ninc - n));
    iv->ninc -= n;
    pthread_mutex_unlock(&iv->lock);
    return n;
}

bool sched_invokers_durable(sched_invokers *iv, int slot, char *out, size_t outlen)
{
    bool found = false;
    pthread_mutex_lock(&iv->lock);
    for (int i = 0; i < iv->n; i++)
        if (iv->v[i].slot == slot) {
            snprintf(out, outlen, "%s", iv->v[i].durable);
            found = !iv->v[i].dead;
            break;
        }
    pthread_mutex_unlock(&iv->lock);
    return found;
}

void sched_invokers_charge(sched_invokers *iv, int slot, int64_t delta_mb)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&iv->lock);
    for (int i = 0; i < iv->n; i++)
        if (iv->v[i].slot == slot) {
            iv->v[i].own_mb += delta_mb;
            break;
        }
    pthread_mutex_unlock(&iv->lock);
}

bool sched_place(sched_invokers *iv, uint64_t hash, int64_t memory_mb, int64_t now_ms, int ttl_ms,
                 int ncopies, sched_target *out)
{
    const invoker *home = NULL, *roomiest = NULL, *pick;
    int64_t home_room = 0, best_room = 0;
    int healthy = 0, k;

    if (ncopies < 1)
        ncopies = 1;
    pthread_mutex_lock(&iv->lock);
    for (int i = 0; i < iv->n; i++)
        healthy += usable(&iv->v[i], now_ms, ttl_ms);
    if (healthy == 0) {
        pthread_mutex_unlock(&iv->lock);
        return false;
    }
    k = (int)(hash % (uint64_t)healthy);
    for (int i = 0; i < iv->n; i++) {
        const invoker *x = &iv->v[i];
        int64_t room;
        if (!usable(x, now_ms, ttl_ms))
            continue;
        room = x->total_mb / ncopies - x->own_mb;
        if (k-- == 0) {
            home = x;
            home_room = room;
        }
        if (roomiest == NULL || room > best_room) {
            roomiest = x;
            best_room = room;
        }
    }
    pick = home_room >= memory_mb || best_room < memory_mb ? home : roomiest;
    out->slot = pick->slot;
    snprintf(out->id, sizeof out->id, "%s", pick->id);
    memcpy(out->run, pick->run, sizeof out->run);
    memcpy(out->work, pick->work, sizeof out->work);
    pthread_mutex_unlock(&iv->lock);
    return true;
}

bool sched_invokers_seen_since(sched_invokers *iv, int slot, int64_t since_ms)
{
    bool seen = false;
    pthread_mutex_lock(&iv->lock);
    for (int i = 0; i < iv->n; i++)
        if (iv->v[i].slot == slot) {
            seen = iv->v[i].seen_ms >= since_ms;
            break;
        }
    pthread_mutex_unlock(&iv->lock);
    return seen;
}

int sched_invokers_dead(sched_invokers *iv, int64_t now_ms, int64_t after_ms, sched_incident *out,
                        int max)
{
    int n = 0;
    pthread_mutex_lock(&iv->lock);
    for (int i = 0; i < iv->n && n < max; i++) {
        const invoker *x = &iv->v[i];
        if (!x->dead || now_ms - x->dead_ms < after_ms)
            continue;
        out[n].slot = x->slot;
        out[n].since = 0;
        snprintf(out[n].id, sizeof out[n].id, "%s", x->id);
        snprintf(out[n].durable, sizeof out[n].durable, "%s", x->durable);
        n++;
    }
    pthread_mutex_unlock(&iv->lock);
    return n;
}

int sched_invokers_slot(sched_invokers *iv, const char *id)
{
    int slot = -1;
    pthread_mutex_lock(&iv->lock);
    for (int i = 0; i < iv->n; i++)
        if (strcmp(iv->v[i].id, id) == 0) {
            slot = iv->v[i].slot;
            break;
        }
    pthread_mutex_unlock(&iv->lock);
    return slot;
}
