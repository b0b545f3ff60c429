/* The container pool: action containers keyed by action (name and version, so an update is
 * never served by an old container), each serving one activation at a time or, for a nodejs
 * action with limits.concurrency > 1, up to that many at once; stem cells per kind started
 * before any request; memory accounting against the invoker's capacity; idle removal.
 * Guarded by I.lock; containers are started and destroyed outside it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invoker.h"
#include "sq/log.h"
#include "sq/util.h"

#define STEM_MB 256

/* The kinds with stem cells, and how many of each the config asks for. */
static const char *const STEM_KINDS[] = { "nodejs:20", "python:3", "native" };
#define NSTEM_KINDS (sizeof STEM_KINDS / sizeof STEM_KINDS[0])

static int stem_target(size_t i)
{
    return i == 0 ? I.cfg.prewarm : i == 1 ? I.cfg.prewarm_python : I.cfg.prewarm_native;
}

/* The kind a stem cell for kind must have ("nodejs:default" runs on "nodejs:20"). */
static const char *stem_kind(const char *kind)
{
    return strcmp(kind, "nodejs:default") == 0 ? "nodejs:20" : kind;
}

bool inv_kind_supported(const char *kind)
{
    return strcmp(kind, "nodejs:20") == 0 || strcmp(kind, "nodejs:default") == 0 ||
           strcmp(kind, "python:3") == 0 || strcmp(kind, "native") == 0;
}

static inv_slot *slot_new(const char *kind, int memory_mb, char *err, size_t errlen)
{
    inv_slot *s = calloc(1, sizeof *s);
    inv_container_opts o = { .runtime_dir = I.cfg.runtime_dir, .kind = stem_kind(kind), .memory_mb = memory_mb,
                             .sandbox = I.cfg.sandbox, .sb = I.sb, .native_launcher = I.cfg.native_launcher,
                             .net = I.net };
    if (s == NULL)
        return NULL;
    if (inv_container_start(&s->c, &o, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    snprintf(s->kind, sizeof s->kind, "%s", stem_kind(kind));
    s->memory_mb = memory_mb;
    s->conc = 1;
    s->last_used_ms = sq_now_ms();
    return s;
}

/* Destroys s (already unlinked) and gives its memory back. */
static void destroy_slot(inv_slot *s)
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

static void unlink_slot(inv_slot **list, inv_slot *s)
{
    for (inv_slot **pp = list; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            s->next = NULL;
            return;
        }
}

/* A stem cell of kind, unlinked; NULL when none. Called locked. */
static inv_slot *take_stem(const char *kind)
{
    for (inv_slot **pp = &I.stems; *pp; pp = &(*pp)->next)
        if (kind == NULL || strcmp((*pp)->kind, kind) == 0) {
            inv_slot *s = *pp;
            *pp = s->next;
            s->next = NULL;
            return s;
        }
    return NULL;
}

/* The least recently used idle action container, unlinked; NULL when none. Called locked. */
static inv_slot *take_lru(void)
{
    inv_slot *best = NULL;
    for (inv_slot *s = I.pool; s; s = s->next)
        if (s->inflight == 0 && (best == NULL || s->last_used_ms < best->last_used_ms))
            best = s;
    if (best)
        unlink_slot(&I.pool, best);
    return best;
}

inv_slot *inv_pool_acquire(const char *key, const char *kind, int memory_mb, bool *cold, char *err, size_t errlen)
{
    inv_slot *s, *victim;

    *cold = false;
    pthread_mutex_lock(&I.lock);
    for (;;) {
        for (s = I.pool; s; s = s->next)
            if (s->ready && !s->dead && s->inflight < s->conc && strcmp(s->key, key) == 0) {
                s->inflight++;
                pthread_mutex_unlock(&I.lock);
                return s;
            }
        if ((s = take_stem(stem_kind(kind))) != NULL) {
            *cold = true;
            /* a stem cell becomes this action's container; account for its real size */
            I.used_mb += memory_mb - s->memory_mb;
            s->memory_mb = memory_mb;
            snprintf(s->key, sizeof s->key, "%s", key);
            s->inflight = 1;
            s->next = I.pool;
            I.pool = s;
            pthread_cond_signal(&I.pool_cv); /* the keeper starts a replacement */
            pthread_mutex_unlock(&I.lock);
            return s;
        }
        if (I.used_mb + memory_mb <= I.cfg.memory_mb)
            break;
        /* full: evict the least recently used idle container, else a stem cell, else wait */
        if ((victim = take_lru()) != NULL || (victim = take_stem(NULL)) != NULL) {
            pthread_mutex_unlock(&I.lock);
            destroy_slot(victim);
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
    s->inflight = 1;
    pthread_mutex_lock(&I.lock);
    s->next = I.pool;
    I.pool = s;
    pthread_mutex_unlock(&I.lock);
    return s;
}

void inv_pool_ready(inv_slot *s, int conc)
{
    pthread_mutex_lock(&I.lock);
    s->conc = conc > 1 ? conc : 1;
    s->ready = true;
    pthread_mutex_unlock(&I.lock);
}

void inv_pool_release(inv_slot *s)
{
    /* Alone with it (or, concurrent, alive() is safe from any thread): look before locking,
     * as a dead sandbox takes a moment to reap. */
    bool alive = inv_container_alive(s->c);
    bool gone = false;

    pthread_mutex_lock(&I.lock);
    s->inflight--;
    s->last_used_ms = sq_now_ms();
    if (!alive || I.stopping)
        s->dead = true;
    if (s->dead && s->inflight == 0) {
        unlink_slot(&I.pool, s);
        gone = true;
    }
    pthread_cond_broadcast(&I.pool_cv);
    pthread_mutex_unlock(&I.lock);
    if (gone)
        destroy_slot(s);
}

void inv_pool_pack_actions(msgpack_packer *pk)
{
    /* Called locked by the heartbeat: a small array of (path, count) pairs. */
    enum { MAXA = 512 };
    static char paths[MAXA][600];
    static int64_t counts[MAXA];
    int n = 0;

    for (inv_slot *s = I.pool; s; s = s->next) {
        char path[600];
        snprintf(path, sizeof path, "%s", s->key);
        char *at = strrchr(path, '@');
        if (at)
            *at = '\0';
        int i;
        for (i = 0; i < n && strcmp(paths[i], path) != 0; i++)
            ;
        if (i == n) {
            if (n == MAXA)
                continue;
            snprintf(paths[n], sizeof paths[n], "%s", path);
            counts[n++] = 0;
        }
        counts[i]++;
    }
    msgpack_pack_map(pk, (uint32_t)n);
    for (int i = 0; i < n; i++)
        sq_mp_kv_int(pk, paths[i], counts[i]);
}

static int count_kind(const char *kind)
{
    int n = 0;
    for (inv_slot *s = I.stems; s; s = s->next)
        n += strcmp(s->kind, kind) == 0;
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
        for (inv_slot **pp = &I.pool; *pp;) {
            if ((*pp)->inflight == 0 && now - (*pp)->last_used_ms > I.cfg.idle_ms) {
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
                destroy_slot(s);
            }
            pthread_mutex_lock(&I.lock);
        }
        /* stem cells of each kind, while memory allows */
        for (size_t k = 0; k < NSTEM_KINDS; k++) {
            const char *kind = STEM_KINDS[k];
            while (!I.stopping && !I.draining && count_kind(kind) < stem_target(k) &&
                   I.used_mb + STEM_MB <= I.cfg.memory_mb) {
                inv_slot *s;
                I.used_mb += STEM_MB;
                I.warm++;
                pthread_mutex_unlock(&I.lock);
                s = slot_new(kind, STEM_MB, err, sizeof err);
                pthread_mutex_lock(&I.lock);
                if (s == NULL) {
                    I.used_mb -= STEM_MB;
                    I.warm--;
                    sq_error("could not start a %s stem cell: %s", kind, err);
                    break;
                }
                s->next = I.stems;
                I.stems = s;
            }
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
    all[0] = I.pool;
    all[1] = I.stems;
    I.pool = I.stems = NULL;
    pthread_mutex_unlock(&I.lock);
    for (int i = 0; i < 2; i++)
        while (all[i]) {
            inv_slot *s = all[i];
            all[i] = s->next;
            destroy_slot(s);
        }
}
