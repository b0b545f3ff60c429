/* The invokers this scheduler has heard of, from their heartbeats, and the placement rule.
 * Every scheduler copy sees every heartbeat (no queue group), so all copies agree on the
 * sorted list of healthy invokers and therefore on each action's home invoker, which is
 * what lets a warm container be reused whichever copy admitted the invocation. The table
 * is kept sorted by id; it is small (one row per invoker) and scanned under a mutex. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"

#define ID_MAX 96   /* longest invoker id accepted; escaped it fits sched_target */
#define FORGET_AFTER_MS (10 * 60 * 1000) /* drop a silent invoker from the table */

typedef struct invoker {
    char id[ID_MAX + 1];
    char run[320], work[320];
    int64_t seen_ms;        /* monotonic time of the last heartbeat */
    int64_t free_mb, total_mb;
    bool healthy, draining;
} invoker;

struct sched_invokers {
    pthread_mutex_t lock;
    invoker *v;
    int n, cap;
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
    return x->healthy && !x->draining && now_ms - x->seen_ms < ttl_ms;
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
    /* forget invokers silent for long (a renamed or retired one) */
    for (int i = 0; i < iv->n;)
        if (now_ms - iv->v[i].seen_ms > FORGET_AFTER_MS) {
            sq_info("forgot invoker \"%s\": silent for %d s", iv->v[i].id, FORGET_AFTER_MS / 1000);
            memmove(&iv->v[i], &iv->v[i + 1], sizeof(invoker) * (size_t)(iv->n - i - 1));
            iv->n--;
        } else
            i++;
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
        sq_info("invoker \"%s\" joined (%lld MB, %s)", hb->id, (long long)hb->total_mb,
                hb->healthy && !hb->draining ? "healthy" : "not accepting work");
    } else {
        x = &iv->v[lo];
        if (usable(x, now_ms, sched_cfg.heartbeat_ttl_ms) != (hb->healthy && !hb->draining))
            sq_info("invoker \"%s\" is %s", hb->id,
                    hb->healthy && !hb->draining ? "accepting work" : hb->draining ? "draining" : "unhealthy");
    }
    x->seen_ms = now_ms;
    x->free_mb = hb->free_mb;
    x->total_mb = hb->total_mb;
    x->healthy = hb->healthy;
    x->draining = hb->draining;
    pthread_mutex_unlock(&iv->lock);
}

bool sched_place(sched_invokers *iv, uint64_t hash, int64_t memory_mb, int64_t now_ms,
                 int ttl_ms, sched_target *out)
{
    const invoker *home = NULL, *roomiest = NULL, *pick;
    int healthy = 0, k;

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
        if (!usable(x, now_ms, ttl_ms))
            continue;
        if (k-- == 0)
            home = x;
        if (roomiest == NULL || x->free_mb > roomiest->free_mb)
            roomiest = x;
    }
    pick = home->free_mb >= memory_mb ? home : roomiest;
    memcpy(out->run, pick->run, sizeof out->run);
    memcpy(out->work, pick->work, sizeof out->work);
    pthread_mutex_unlock(&iv->lock);
    return true;
}
