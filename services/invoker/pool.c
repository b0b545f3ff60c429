/* The container pool: action containers keyed by action (name and version, so an update is
 * never served by an old container), each serving one activation at a time or, for a nodejs
 * action with limits.concurrency > 1, up to that many at once; stem cells per kind started
 * before any request; memory accounting against the invoker's capacity; idle removal.
 * Guarded by I.lock; containers are started and destroyed outside it.
 *
 * Freezing. A container with no activation running (a concurrent one: none at all) is frozen
 * with the cgroup freezer once it has been idle for freeze_ms (SQ_INVOKER_FREEZE_MS, 100 ms)
 * and thawed when an activation takes it, so that nothing an action leaves behind (timers,
 * child processes) runs between activations for longer than that. Not at every release: a
 * thaw + freeze costs about 0.2 ms per activation (bench_runtime container_warm_freeze_us)
 * where the goal is 50 us; with the delay a steady stream of activations pays nothing and
 * only the first activation after a pause pays the thaw (container_thaw_us). Stem cells are
 * frozen STEM_FREEZE_MS after they start (their runtime has booted by then). The freeze and
 * thaw writes are made under I.lock, so they never race with a worker taking the container.
 *
 * Fairness between namespaces (fair_mb, SQ_INVOKER_FAIR_MB, default 256; 0: off). Memory
 * "held" by a namespace is that of its containers running an activation (or being started
 * for one). A worker takes from the queue the first job that can start now (inv_pool_admits):
 *   - a job that a warm container of its action can take always can;
 *   - a namespace that holds nothing may start one container whenever memory is free;
 *   - otherwise it may hold at most its share: while another namespace has work waiting,
 *     max(fair_mb, ceil(total / namespaces holding memory or waiting)); while nobody else
 *     waits, it may grow as long as fair_mb of the invoker stays free of running work (or
 *     up to fair_mb itself): that much is there for a namespace that comes along, which
 *     then starts at once instead of waiting for the long activations of the first;
 *   - and it must fit in the free memory once idle containers and stem cells are counted as
 *     free (they are evicted for it: first those of the namespace holding the most memory,
 *     least recently used first, then stem cells).
 * A job over its share stays queued, behind it the queue goes on: one namespace's excess
 * never keeps a worker blocked, nor evicts others' warm containers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "invoker.h"
#include "sq/log.h"
#include "sq/util.h"

#define STEM_MB 256
#define STEM_FREEZE_MS 5000 /* a stem cell's runtime has booted by then */
#define MAX_NS 256          /* namespaces told apart when counting the active ones */
/* Stem cells ahead of demand: each kind keeps its configured count plus one for every cold
 * start of that kind in the last STEM_RATE_MS (at most STEM_EXTRA_MAX more), started by
 * STEM_THREADS threads at once (a start is mostly waiting on bwrap and the runtime). The
 * configured count is kept even when idle action containers fill the memory: one idle for
 * STEM_EVICT_IDLE_MS is removed for it; for the extra ones, only one idle for
 * STEM_EVICT_EXTRA_IDLE_MS (a cold start would evict it anyway, on its own path). */
#define STEM_THREADS 3
#define STEM_RATE_MS 2000
#define STEM_EXTRA_MAX 6
#define STEM_RING 16 /* > STEM_EXTRA_MAX: the cold starts remembered per kind */
#define STEM_EVICT_IDLE_MS 2000
#define STEM_EVICT_EXTRA_IDLE_MS 30000

/* The kinds with stem cells, and how many of each the config asks for. */
static const char *const STEM_KINDS[] = { "nodejs:20", "python:3", "native" };
#define NSTEM_KINDS (sizeof STEM_KINDS / sizeof STEM_KINDS[0])

static int stem_target(size_t i)
{
    return i == 0 ? I.cfg.prewarm : i == 1 ? I.cfg.prewarm_python : I.cfg.prewarm_native;
}

/* Under I.lock: cold starts per kind (the last STEM_RING), stem cells being started, workers
 * waiting for memory, and when the keeper wakes next (inv_pool_release wakes it earlier
 * only when a container falls due for freezing before that). */
static int64_t cold_at[NSTEM_KINDS][STEM_RING];
static unsigned cold_n[NSTEM_KINDS];
static int stem_starting[NSTEM_KINDS];
static int mem_waiters;
static int64_t keeper_due_ms;

/* The kind a stem cell for kind must have ("nodejs:default" runs on "nodejs:20"). */
static const char *stem_kind(const char *kind)
{
    return strcmp(kind, "nodejs:default") == 0 ? "nodejs:20" : kind;
}

/* The index of kind's stem cells in STEM_KINDS, or -1. */
static int stem_index(const char *kind)
{
    kind = stem_kind(kind);
    for (size_t k = 0; k < NSTEM_KINDS; k++)
        if (strcmp(STEM_KINDS[k], kind) == 0)
            return (int)k;
    return -1;
}

/* A cold start of kind (with a stem cell or not), remembered for the stem count. Locked. */
static void note_cold(const char *kind)
{
    int k = stem_index(kind);
    if (k >= 0)
        cold_at[k][cold_n[k]++ % STEM_RING] = sq_now_ms();
}

/* How many stem cells kind k should have now (called locked). */
static int stem_want(size_t k)
{
    int base = stem_target(k), recent = 0;
    int64_t since = sq_now_ms() - STEM_RATE_MS;
    if (base <= 0)
        return 0; /* stem cells of this kind are turned off */
    for (unsigned i = 0; i < STEM_RING && i < cold_n[k]; i++)
        recent += cold_at[k][i] >= since;
    return base + (recent < STEM_EXTRA_MAX ? recent : STEM_EXTRA_MAX);
}

bool inv_kind_supported(const char *kind)
{
    return strcmp(kind, "nodejs:20") == 0 || strcmp(kind, "nodejs:default") == 0 ||
           strcmp(kind, "python:3") == 0 || strcmp(kind, "native") == 0;
}

static inv_slot *slot_new(const char *kind, int memory_mb, char *err, size_t errlen)
{
    inv_slot *s = calloc(1, sizeof *s);
    inv_container_opts o = { .runtime_dir = I.cfg.runtime_dir,
                             .kind = stem_kind(kind),
                             .memory_mb = memory_mb,
                             .sandbox = I.cfg.sandbox,
                             .sb = I.sb,
                             .native_launcher = I.cfg.native_launcher,
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

/* After memory or a container came free: one worker looks at the queued jobs again, and
 * passes the wake-up on when it finds more that can start (run.c; called locked; nobody to
 * wake when the queue is empty). Not every idle worker: under load most of the queue waits
 * for a container, and each woken worker only took the lock to find nothing: 12 context
 * switches of the invoker per warm invoke at 32 connections. */
static void wake_workers(void)
{
    if (I.head != NULL)
        pthread_cond_signal(&I.work_cv);
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
    pthread_cond_broadcast(&I.pool_cv); /* stem cells may have room now */
    pthread_cond_broadcast(&I.mem_cv);
    wake_workers();
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

/* Memory of every container of ns in the pool: busy (with busy set: and that of its jobs
 * about to get one) or all. Called locked. */
static int ns_mb(const char *ns, bool busy)
{
    int mb = 0;
    for (inv_slot *s = I.pool; s; s = s->next)
        if ((!busy || s->inflight > 0) && strcmp(s->ns, ns) == 0)
            mb += s->memory_mb;
    for (const inv_job *j = I.starting; busy && j; j = j->snext)
        if (strcmp(j->w.action.namespace_, ns) == 0)
            mb += (int)j->w.action.limits.memory;
    return mb;
}

void inv_pool_starting(inv_job *j)
{
    j->starting = true;
    j->snext = I.starting;
    I.starting = j;
}

void inv_pool_unstart(inv_job *j)
{
    if (!j->starting)
        return;
    for (inv_job **pp = &I.starting; *pp; pp = &(*pp)->snext)
        if (*pp == j) {
            *pp = j->snext;
            break;
        }
    j->snext = NULL;
    j->starting = false;
}

/* The idle action container to evict first, unlinked; NULL when none: one of the
 * namespace holding the most memory in the pool, the least recently used of them; idle
 * for at least min_idle_ms. Called locked. */
static inv_slot *take_lru(int64_t min_idle_ms)
{
    inv_slot *best = NULL;
    int best_held = -1;
    int64_t now = sq_now_ms();
    for (inv_slot *s = I.pool; s; s = s->next) {
        if (s->inflight != 0 || now - s->last_used_ms < min_idle_ms)
            continue;
        int held = ns_mb(s->ns, false);
        if (best == NULL || held > best_held ||
            (held == best_held && s->last_used_ms < best->last_used_ms)) {
            best = s;
            best_held = held;
        }
    }
    if (best)
        unlink_slot(&I.pool, best);
    return best;
}

/* Thaws s if it is frozen (called locked, before anyone runs in it). */
static void thaw(inv_slot *s)
{
    if (s->c != NULL && inv_container_frozen(s->c) && inv_container_freeze(s->c, false) != 0)
        sq_warn("could not thaw the container for \"%s\"", s->key);
}

/* Adds ns to the set names[0..*n) unless it is there (up to MAX_NS). */
static void ns_add(const char **names, int *n, const char *ns)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(names[i], ns) == 0)
            return;
    if (*n < MAX_NS)
        names[(*n)++] = ns;
}

bool inv_pool_admits(const inv_job *j)
{
    const char *ns = j->w.action.namespace_, *kind = stem_kind(j->w.action.exec.kind);
    int mb = (int)j->w.action.limits.memory, total = I.cfg.memory_mb, freeable, held;
    bool stem = false;

    for (inv_slot *s = I.pool; s; s = s->next)
        if (s->ready && !s->dead && s->inflight < s->conc && strcmp(s->key, j->key) == 0)
            return true; /* warm: no new memory */
    if (I.stopping || mb > total)
        return true; /* acquire answers (or waits as it always did) */
    held = ns_mb(ns, true);
    if (I.cfg.fair_mb > 0 && held > 0) {
        const char *names[MAX_NS];
        int n = 0, cap;
        for (const inv_job *q = I.head; q; q = q->next)
            if (strcmp(q->w.action.namespace_, ns) != 0)
                ns_add(names, &n, q->w.action.namespace_);
        if (n > 0) {
            /* others wait: the share of each namespace holding memory or waiting */
            for (inv_slot *s = I.pool; s; s = s->next)
                if (s->inflight > 0)
                    ns_add(names, &n, s->ns);
            for (const inv_job *q = I.starting; q; q = q->snext)
                ns_add(names, &n, q->w.action.namespace_);
            ns_add(names, &n, ns);
            cap = (total + n - 1) / n;
            if (held + mb > (cap > I.cfg.fair_mb ? cap : I.cfg.fair_mb))
                return false;
        } else if (held + mb > I.cfg.fair_mb) {
            /* alone: grow while fair_mb stays free of running work */
            int busy = 0;
            for (inv_slot *s = I.pool; s; s = s->next)
                busy += s->inflight > 0 ? s->memory_mb : 0;
            for (const inv_job *q = I.starting; q; q = q->snext)
                busy += (int)q->w.action.limits.memory;
            if (busy + mb > total - I.cfg.fair_mb)
                return false;
        }
    }
    freeable = total - I.used_mb;
    for (inv_slot *s = I.stems; s; s = s->next) {
        freeable += s->memory_mb;
        stem = stem || strcmp(s->kind, kind) == 0;
    }
    for (inv_slot *s = I.pool; s; s = s->next)
        if (s->inflight == 0)
            freeable += s->memory_mb;
    for (const inv_job *q = I.starting; q; q = q->snext)
        freeable -= (int)q->w.action.limits.memory; /* (or they find a warm one) */
    return stem || freeable >= mb;
}

/* A warm container of j's action with room for one more activation, taken (called locked);
 * NULL when none. */
static inv_slot *take_warm(inv_job *j)
{
    for (inv_slot *s = I.pool; s; s = s->next)
        if (s->ready && !s->dead && s->inflight < s->conc && strcmp(s->key, j->key) == 0) {
            s->inflight++;
            thaw(s);
            inv_pool_unstart(j);
            return s;
        }
    return NULL;
}

/* A stem cell of j's kind turned into j's container (called locked); NULL when none. */
static inv_slot *take_stem_for(inv_job *j)
{
    int memory_mb = (int)j->w.action.limits.memory;
    inv_slot *s = take_stem(stem_kind(j->w.action.exec.kind));
    if (s == NULL)
        return NULL;
    thaw(s);
    inv_pool_unstart(j);
    /* a stem cell becomes this action's container; account for its real size */
    I.used_mb += memory_mb - s->memory_mb;
    s->memory_mb = memory_mb;
    snprintf(s->key, sizeof s->key, "%s", j->key);
    snprintf(s->ns, sizeof s->ns, "%s", j->w.action.namespace_);
    s->inflight = 1;
    s->next = I.pool;
    I.pool = s;
    /* replacements are started, by every stem cell thread (a burst of new actions takes
     * them faster than one thread starts them) */
    pthread_cond_broadcast(&I.pool_cv);
    return s;
}

/* Starts a new container for j, its memory reserved (called locked, returns unlocked). A
 * slot marked `starting` keeps the namespace's share of the pool while the container starts
 * outside the lock. NULL with a message in err on failure. */
static inv_slot *start_for(inv_job *j, char *err, size_t errlen)
{
    const char *key = j->key, *ns = j->w.action.namespace_, *kind = j->w.action.exec.kind;
    int memory_mb = (int)j->w.action.limits.memory;
    inv_slot *s, *mine;

    inv_pool_unstart(j);
    mine = calloc(1, sizeof *mine);
    if (mine == NULL) {
        pthread_mutex_unlock(&I.lock);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(mine->key, sizeof mine->key, "%s", key);
    snprintf(mine->ns, sizeof mine->ns, "%s", ns);
    mine->memory_mb = memory_mb;
    mine->inflight = 1;
    mine->starting = true;
    mine->next = I.pool;
    I.pool = mine;
    I.used_mb += memory_mb;
    I.warm++;
    pthread_mutex_unlock(&I.lock);
    s = slot_new(kind, memory_mb, err, errlen);
    pthread_mutex_lock(&I.lock);
    unlink_slot(&I.pool, mine);
    free(mine);
    if (s == NULL) {
        I.used_mb -= memory_mb;
        I.warm--;
        pthread_cond_broadcast(&I.pool_cv);
        pthread_cond_broadcast(&I.mem_cv);
        wake_workers();
        pthread_mutex_unlock(&I.lock);
        return NULL;
    }
    snprintf(s->key, sizeof s->key, "%s", key);
    snprintf(s->ns, sizeof s->ns, "%s", ns);
    s->inflight = 1;
    s->next = I.pool;
    I.pool = s;
    pthread_mutex_unlock(&I.lock);
    return s;
}

inv_slot *inv_pool_acquire(inv_job *j, bool *cold, char *err, size_t errlen)
{
    int memory_mb = (int)j->w.action.limits.memory;
    inv_slot *s, *victim;

    *cold = false;
    pthread_mutex_lock(&I.lock);
    for (;;) {
        if ((s = take_warm(j)) != NULL) {
            pthread_mutex_unlock(&I.lock);
            return s;
        }
        if ((s = take_stem_for(j)) != NULL) {
            *cold = true;
            note_cold(j->w.action.exec.kind);
            pthread_mutex_unlock(&I.lock);
            return s;
        }
        if (I.used_mb + memory_mb <= I.cfg.memory_mb)
            break;
        /* full: evict the least recently used idle container, else a stem cell, else wait */
        if ((victim = take_lru(0)) != NULL || (victim = take_stem(NULL)) != NULL) {
            pthread_mutex_unlock(&I.lock);
            destroy_slot(victim);
            pthread_mutex_lock(&I.lock);
            continue;
        }
        if (I.stopping) {
            inv_pool_unstart(j);
            pthread_mutex_unlock(&I.lock);
            snprintf(err, errlen, "the invoker is shutting down");
            return NULL;
        }
        sq_debug("waiting for memory for \"%s\" (%d of %d MB in use)", j->key, I.used_mb,
                 I.cfg.memory_mb);
        mem_waiters++;
        pthread_cond_wait(&I.mem_cv, &I.lock);
        mem_waiters--;
    }
    /* A place in the pool now, so that the namespace holds this memory from now on. */
    *cold = true;
    note_cold(j->w.action.exec.kind);
    pthread_cond_broadcast(&I.pool_cv); /* a stem cell was missing: more are started */
    return start_for(j, err, errlen);
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
    } else if (s->inflight == 0 && I.cfg.freeze && I.cfg.freeze_ms == 0)
        inv_container_freeze(s->c, true);
    /* not at every release (a wake-up of the keeper and the two stem cell starters per
     * activation under load: 2.3 of the invoker's context switches per invoke at 32
     * connections): the workers waiting for memory, on their own condition (s may be taken
     * or evicted now), and the keeper only when s falls due for freezing before it wakes
     * anyway (freeze_idle) */
    if (mem_waiters > 0 && !gone)
        pthread_cond_broadcast(&I.mem_cv);
    if (s->inflight == 0 && I.cfg.freeze && s->last_used_ms + I.cfg.freeze_ms < keeper_due_ms)
        pthread_cond_broadcast(&I.pool_cv);
    /* no worker is woken for a queued job that fits now: the releasing one looks at the
     * queue next itself (run.c) */
    pthread_mutex_unlock(&I.lock);
    if (gone)
        destroy_slot(s);
}

void inv_pool_actions(msgpack_zone *z, msgpack_object *out)
{
    /* Called locked by the heartbeat: a small array of (path, count) pairs. */
    enum { MAXA = 512 };
    static char paths[MAXA][640];
    static int64_t counts[MAXA];
    int n = 0;

    for (inv_slot *s = I.pool; s; s = s->next) {
        char path[640];
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
    msgpack_object_kv *kv = msgpack_zone_malloc(z, sizeof *kv * (size_t)(n > 0 ? n : 1));
    *out = (msgpack_object){ .type = MSGPACK_OBJECT_NIL };
    if (kv == NULL)
        return;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(paths[i]);
        char *key = msgpack_zone_malloc(z, len + 1);
        if (key == NULL)
            return;
        memcpy(key, paths[i], len + 1);
        kv[i].key = (msgpack_object){ .type = MSGPACK_OBJECT_STR,
                                      .via.str = { .size = (uint32_t)len, .ptr = key } };
        kv[i].val = (msgpack_object){ .type = MSGPACK_OBJECT_POSITIVE_INTEGER,
                                      .via.u64 = (uint64_t)counts[i] };
    }
    *out = (msgpack_object){ .type = MSGPACK_OBJECT_MAP,
                             .via.map = { .size = (uint32_t)n, .ptr = kv } };
}

static int count_kind(const char *kind)
{
    int n = 0;
    for (inv_slot *s = I.stems; s; s = s->next)
        n += strcmp(s->kind, kind) == 0;
    return n;
}

/* Removes the idle containers past their time (called locked; unlocks to destroy them). */
static void expire_idle(void)
{
    int64_t now = sq_now_ms();
    inv_slot *expired = NULL;

    for (inv_slot **pp = &I.pool; *pp;) {
        if ((*pp)->inflight == 0 && now - (*pp)->last_used_ms > I.cfg.idle_ms) {
            inv_slot *s = *pp;
            *pp = s->next;
            s->next = expired;
            expired = s;
        } else
            pp = &(*pp)->next;
    }
    if (expired == NULL)
        return;
    pthread_mutex_unlock(&I.lock);
    while (expired) {
        inv_slot *s = expired;
        expired = s->next;
        sq_debug("removing idle container for \"%s\"", s->key);
        destroy_slot(s);
    }
    pthread_mutex_lock(&I.lock);
}

/* Room for one more stem cell of kind k (called locked; may unlock to remove an idle
 * container, see STEM_EVICT_*). */
static bool stem_room(size_t k)
{
    inv_slot *victim;
    while (I.used_mb + STEM_MB > I.cfg.memory_mb) {
        bool extra = count_kind(STEM_KINDS[k]) + stem_starting[k] >= stem_target(k);
        if ((victim = take_lru(extra ? STEM_EVICT_EXTRA_IDLE_MS : STEM_EVICT_IDLE_MS)) == NULL)
            return false;
        pthread_mutex_unlock(&I.lock);
        destroy_slot(victim);
        pthread_mutex_lock(&I.lock);
        if (I.stopping || I.draining)
            return false;
    }
    return true;
}

/* Starts the stem cells each kind lacks, one at a time per calling thread, while memory
 * allows (called locked; unlocks while one starts). */
static void keep_stems(void)
{
    char err[256];

    for (size_t k = 0; k < NSTEM_KINDS; k++) {
        const char *kind = STEM_KINDS[k];
        while (!I.stopping && !I.draining && count_kind(kind) + stem_starting[k] < stem_want(k) &&
               stem_room(k)) {
            inv_slot *s;
            I.used_mb += STEM_MB;
            I.warm++;
            stem_starting[k]++;
            pthread_mutex_unlock(&I.lock);
            s = slot_new(kind, STEM_MB, err, sizeof err);
            pthread_mutex_lock(&I.lock);
            stem_starting[k]--;
            if (s == NULL) {
                I.used_mb -= STEM_MB;
                I.warm--;
                sq_error("could not start a %s stem cell: %s", kind, err);
                break;
            }
            inv_container_warm(s->c); /* nodejs only: the others answer -1 */
            s->next = I.stems;
            I.stems = s;
            /* what waits for memory may evict it now (its memory was in use, not
             * evictable, while it started) */
            pthread_cond_broadcast(&I.mem_cv);
            wake_workers();
        }
    }
}

/* The other stem cell starters: long-lived threads (a sandbox dies with the thread that
 * started it), woken with the keeper. */
static void *stem_starter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&I.lock);
    while (!I.stopping) {
        keep_stems();
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&I.pool_cv, &I.lock, &ts);
    }
    pthread_mutex_unlock(&I.lock);
    return NULL;
}

/* Freezes what has been idle long enough (called locked). Returns the ms until the next one
 * is due, at most 1000. A container running now may be idle at any moment, and due its
 * delay after: the keeper looks again within that delay rather than be woken by the
 * release (inv_pool_release() wakes it only when it would sleep past the due time: under
 * load, with every container busy at its last walk, that was at every release, and woke the
 * stem starters too: 2.3 of the invoker's context switches per invoke at 32 connections). */
static int64_t freeze_idle(void)
{
    int64_t wait_ms = 1000, now = sq_now_ms();
    for (int list = 0; list < 2; list++)
        for (inv_slot *s = list ? I.stems : I.pool; s; s = s->next) {
            int64_t delay = list ? STEM_FREEZE_MS : I.cfg.freeze_ms;
            int64_t due = s->last_used_ms + delay;
            if (s->dead || s->no_freeze || s->c == NULL)
                continue;
            if (s->inflight > 0) { /* 0: frozen by its release itself */
                if (delay > 0 && delay < wait_ms)
                    wait_ms = delay;
                continue;
            }
            if (inv_container_frozen(s->c))
                continue;
            if (due <= now) {
                if (inv_container_freeze(s->c, true) != 0) {
                    s->no_freeze = true; /* it keeps running; said once */
                    sq_warn("could not freeze the container for \"%s\"", s->key);
                }
            } else if (due - now < wait_ms)
                wait_ms = due - now;
        }
    return wait_ms;
}

/* The idle walks (expire, freeze) run at most this often: with 500 warm containers used in
 * turn, one of them was always about to fall due and the keeper walked both lists under
 * the invoker's lock about once per activation (perf: inv_pool_keeper and
 * inv_container_frozen, 1.4 % of the whole machine). A container is frozen at most this
 * much later than SQ_INVOKER_FREEZE_MS after its last run. */
#define KEEPER_MIN_MS 10

void *inv_pool_keeper(void *arg)
{
    pthread_t starters[STEM_THREADS - 1];
    int nstarters = 0;
    int64_t last_walk = INT64_MIN / 2;

    while (nstarters < STEM_THREADS - 1 &&
           pthread_create(&starters[nstarters], NULL, stem_starter, NULL) == 0)
        nstarters++;
    pthread_mutex_lock(&I.lock);
    while (!I.stopping) {
        int64_t now = sq_now_ms(), wake_ms;
        if (now - last_walk >= KEEPER_MIN_MS) {
            /* expire and freeze what has been idle long enough; sleep until the next one
             * is due, KEEPER_MIN_MS at least */
            expire_idle();
            int64_t due = I.cfg.freeze ? freeze_idle() : 1000;
            last_walk = now;
            keeper_due_ms = now + (due > KEEPER_MIN_MS ? due : KEEPER_MIN_MS);
            wake_ms = keeper_due_ms;
        } else
            wake_ms = last_walk + KEEPER_MIN_MS; /* woken early: the walk when it may run */
        keep_stems();
        int64_t wait_ms = wake_ms - sq_now_ms();
        if (wait_ms < 1)
            wait_ms = 1;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        ts.tv_sec += (time_t)(wait_ms / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&I.pool_cv, &I.lock, &ts);
    }
    pthread_mutex_unlock(&I.lock);
    for (int i = 0; i < nstarters; i++)
        pthread_join(starters[i], NULL);
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
