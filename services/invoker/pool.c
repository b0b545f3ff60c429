/* The container pool: warm containers keyed by action (name and version, so an update is
 * never served by an old container), stem cells per kind started before any request, and
 * memory accounting against the invoker's capacity. Guarded by I.lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invoker.h"
#include "sq/log.h"
#include "sq/util.h"

#define STEM_KIND "nodejs:20"
#define STEM_MB 256

static inv_slot *slot_new(const char *kind, int memory_mb, char *err, size_t errlen)
{
    inv_slot *s = calloc(1, sizeof *s);
    inv_container_opts o = { .runtime_dir = I.cfg.runtime_dir, .kind = kind, .memory_mb = memory_mb,
                             .sandbox = I.cfg.sandbox };
    if (s == NULL)
        return NULL;
    if (inv_container_start(&s->c, &o, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    s->memory_mb = memory_mb;
    s->last_used_ms = sq_now_ms();
    return s;
}

void inv_pool_destroy_slot(inv_slot *s)
{
    if (s == NULL)
        return;
    inv_container_destroy(s->c);
    pthread_mutex_lock(&I.lock);
    I.used_mb -= s->memory_mb;
    I.warm--;
    pthread_cond_broadcast(&I.pool_cv);
    pthread_mutex_unlock(&I.lock);
    free(s);
}

static inv_slot *take(inv_slot **list, const char *key, const char *kind)
{
    for (inv_slot **pp = list; *pp; pp = &(*pp)->next) {
        inv_slot *s = *pp;
        if ((key && strcmp(s->key, key) == 0) || (kind && !key && strcmp(s->kind, kind) == 0)) {
            *pp = s->next;
            s->next = NULL;
            return s;
        }
    }
    return NULL;
}

/* The least recently used idle container, unlinked; NULL when none. Called locked. */
static inv_slot *take_lru(void)
{
    inv_slot **best = NULL;
    for (inv_slot **pp = &I.idle; *pp; pp = &(*pp)->next)
        if (best == NULL || (*pp)->last_used_ms < (*best)->last_used_ms)
            best = pp;
    if (best == NULL)
        return NULL;
    inv_slot *s = *best;
    *best = s->next;
    s->next = NULL;
    return s;
}

static bool is_node(const char *kind)
{
    return strcmp(kind, "nodejs:20") == 0 || strcmp(kind, "nodejs:default") == 0;
}

inv_slot *inv_pool_acquire(const char *key, const char *kind, int memory_mb, bool *cold, char *err, size_t errlen)
{
    inv_slot *s, *victim;

    *cold = false;
    pthread_mutex_lock(&I.lock);
    for (;;) {
        if ((s = take(&I.idle, key, NULL)) != NULL) {
            pthread_mutex_unlock(&I.lock);
            return s;
        }
        if (is_node(kind) && (s = take(&I.stems, NULL, STEM_KIND)) != NULL) {
            *cold = true;
            /* a stem cell becomes this action's container; account for its real size */
            I.used_mb += memory_mb - s->memory_mb;
            s->memory_mb = memory_mb;
            snprintf(s->key, sizeof s->key, "%s", key);
            pthread_cond_signal(&I.pool_cv); /* the keeper starts a replacement */
            pthread_mutex_unlock(&I.lock);
            return s;
        }
        if (I.used_mb + memory_mb <= I.cfg.memory_mb)
            break;
        /* full: evict the least recently used idle container, else wait for one */
        if ((victim = take_lru()) != NULL || (victim = take(&I.stems, NULL, STEM_KIND)) != NULL) {
            pthread_mutex_unlock(&I.lock);
            inv_pool_destroy_slot(victim);
            pthread_mutex_lock(&I.lock);
            continue;
        }
        if (I.stopping) {
            pthread_mutex_unlock(&I.lock);
            snprintf(err, errlen, "the invoker is shutting down");
            return NULL;
        }
        pthread_cond_wait(&I.pool_cv, &I.lock);
    }
    I.used_mb += memory_mb;
    I.warm++;
    pthread_mutex_unlock(&I.lock);
    *cold = true;
    s = slot_new(kind, memory_mb, err, errlen);
    if (s == NULL) {
        pthread_mutex_lock(&I.lock);
        I.used_mb -= memory_mb;
        I.warm--;
        pthread_cond_broadcast(&I.pool_cv);
        pthread_mutex_unlock(&I.lock);
        return NULL;
    }
    snprintf(s->key, sizeof s->key, "%s", key);
    return s;
}

void inv_pool_release(inv_slot *s)
{
    if (!inv_container_alive(s->c) || I.stopping) {
        inv_pool_destroy_slot(s);
        return;
    }
    s->last_used_ms = sq_now_ms();
    pthread_mutex_lock(&I.lock);
    s->next = I.idle;
    I.idle = s;
    pthread_cond_broadcast(&I.pool_cv);
    pthread_mutex_unlock(&I.lock);
}

static int count(const inv_slot *l)
{
    int n = 0;
    for (; l; l = l->next)
        n++;
    return n;
}

void *inv_pool_keeper(void *arg)
{
    char err[256];

    pthread_mutex_lock(&I.lock);
    while (!I.stopping) {
        int64_t now = sq_now_ms();
        inv_slot *expired = NULL;

        /* idle containers past their time */
        for (inv_slot **pp = &I.idle; *pp;) {
            if (now - (*pp)->last_used_ms > I.cfg.idle_ms) {
                inv_slot *s = *pp;
                *pp = s->next;
                s->next = expired;
                expired = s;
            } else
                pp = &(*pp)->next;
        }
        if (expired) {
            pthread_mutex_unlock(&I.lock);
            while (expired) {
                inv_slot *s = expired;
                expired = s->next;
                sq_debug("removing idle container for \"%s\"", s->key);
                inv_pool_destroy_slot(s);
            }
            pthread_mutex_lock(&I.lock);
        }
        /* stem cells, while memory allows */
        while (!I.stopping && !I.draining && count(I.stems) < I.cfg.prewarm &&
               I.used_mb + STEM_MB <= I.cfg.memory_mb) {
            inv_slot *s;
            I.used_mb += STEM_MB;
            I.warm++;
            pthread_mutex_unlock(&I.lock);
            s = slot_new(STEM_KIND, STEM_MB, err, sizeof err);
            pthread_mutex_lock(&I.lock);
            if (s == NULL) {
                I.used_mb -= STEM_MB;
                I.warm--;
                sq_error("could not start a stem cell: %s", err);
                break;
            }
            s->next = I.stems;
            I.stems = s;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&I.pool_cv, &I.lock, &ts);
    }
    pthread_mutex_unlock(&I.lock);
    return NULL;
}

void inv_pool_shutdown(void)
{
    inv_slot *all[2];
    pthread_mutex_lock(&I.lock);
    all[0] = I.idle;
    all[1] = I.stems;
    I.idle = I.stems = NULL;
    pthread_mutex_unlock(&I.lock);
    for (int i = 0; i < 2; i++)
        while (all[i]) {
            inv_slot *s = all[i];
            all[i] = s->next;
            inv_pool_destroy_slot(s);
        }
}
