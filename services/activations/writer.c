/* The activation writer: drains SQ_ACTIVATIONS through the durable pull consumer
 * "activations" (shared by every copy of the service), stores each fetched batch in one
 * statement, and only then acknowledges it. The order is what makes the store lossless and
 * exact: a crash before the commit leaves the batch unacknowledged and JetStream redelivers
 * it after AckWait; a crash between the commit and the acks redelivers records that the
 * insert then skips (a record is stored only where its id has none). While PostgreSQL is
 * unreachable the batch in hand is negatively acknowledged with a delay and nothing more is
 * fetched until the connection is back. A record that cannot be decoded, or that PostgreSQL
 * refuses as data, is terminated (never redelivered) with a warning. After a commit the new
 * records are announced on sq.evt.activation.<ns> for integrators, as a summary: the record
 * without logs and without response.result.
 *
 * Two threads make a pipeline: the fetcher pulls and decodes the next batch while the
 * writer inserts the previous one and waits for its commit (PostgreSQL's share of a batch
 * is about half of its time, so overlapping the two nearly doubles what one connection
 * stores). Two batches circulate between them. At a moderate rate the fetcher keeps
 * collecting for a few milliseconds before handing a batch over, so that a commit (which
 * waits for the WAL to reach the disk) covers many records.
 *
 * Two records of one activation in a batch (possible only when they were published more
 * than the stream's two-minute duplicate window apart) keep the first, as the table does.
 * A record whose day is already past the retention is acknowledged and not stored. The
 * writer thread creates the coming days' partitions and drops expired ones every
 * maintain_ms (store.c). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act.h"
#include "proto/js.h"
#include "sq/log.h"
#include "sq/metrics.h"
#include "sq/pg.h"
#include "sq/util.h"

#define CONSUMER "activations"
#define FETCH_TIMEOUT_MS 200
#define NAK_DELAY_MS 1000
#define BACKOFF_MAX_MS 5000
#define ACCUMULATE_MS 15
#define NBATCHES 2

typedef struct batch {
    struct batch *next;
    msgpack_zone zone;
    act_row *rows;
    natsMsg **msgs;    /* the message of each row */
    natsMsg **fetched; /* every message fetched (destroyed when the batch is done) */
    int nfetched;
    size_t n; /* rows */
    bool *inserted;
    char *fate;     /* how each row's message was settled: 'a'ck, 'n'ak, 't'erm */
    natsMsg **dups; /* a later record of a row's activation in the batch (its message) */
    size_t *dup_of; /* the row of each */
    size_t ndups;
} batch;

struct act_writer {
    sq_bus_t *bus;
    act_store store;       /* the writer thread's alone */
    natsSubscription *sub; /* the fetcher thread's alone */
    pthread_t fetcher, writer;
    bool started_fetcher, started_writer;
    atomic_bool stop, fetcher_done, db_down;
    int max; /* rows a batch holds */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    batch *free, *full_head, *full_tail;
    batch all[NBATCHES];
    int *seen;                /* the fetcher's open hash of a batch's ids (-1: empty) */
    size_t nseen;             /* a power of two, at least twice the batch */
    int backoff_ms;           /* the writer's */
    int64_t next_maintain_ms; /* monotonic */
    int64_t fetch_warned_us;
};

/* Sleeps ms, waking early when the writer is told to stop. */
static void nap(act_writer *w, int ms)
{
    for (int slept = 0; slept < ms && !atomic_load(&w->stop); slept += 50)
        usleep(50 * 1000);
}

/* ---- the queue between the threads -------------------------------------------------------- */

static batch *take_free(act_writer *w)
{
    batch *b;
    pthread_mutex_lock(&w->lock);
    while (w->free == NULL && !atomic_load(&w->stop))
        pthread_cond_wait(&w->cv, &w->lock);
    if ((b = w->free) != NULL)
        w->free = b->next;
    pthread_mutex_unlock(&w->lock);
    return b;
}

static void give_free(act_writer *w, batch *b)
{
    for (int i = 0; i < b->nfetched; i++)
        natsMsg_Destroy(b->fetched[i]);
    b->nfetched = 0;
    b->n = 0;
    b->ndups = 0;
    msgpack_zone_clear(&b->zone);
    pthread_mutex_lock(&w->lock);
    b->next = w->free;
    w->free = b;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->lock);
}

static void push_full(act_writer *w, batch *b)
{
    pthread_mutex_lock(&w->lock);
    b->next = NULL;
    if (w->full_tail)
        w->full_tail->next = b;
    else
        w->full_head = b;
    w->full_tail = b;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->lock);
}

/* The next full batch, waiting up to ms; NULL when none came. */
static batch *take_full(act_writer *w, int ms)
{
    struct timespec until;
    batch *b;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&w->lock);
    while (w->full_head == NULL && !atomic_load(&w->fetcher_done) &&
           pthread_cond_timedwait(&w->cv, &w->lock, &until) == 0)
        ;
    if ((b = w->full_head) != NULL) {
        w->full_head = b->next;
        if (w->full_head == NULL)
            w->full_tail = NULL;
    }
    pthread_mutex_unlock(&w->lock);
    return b;
}

/* ---- the writer's side --------------------------------------------------------------------- */

/* sq.evt.activation.<ns>: map{activationId, namespace, name, version, subject, start, end,
 * duration, response: map{status, statusCode, success}, annotations, publish}, the record
 * without its logs and result (sq_activation_decode() reads it). */
static void announce(act_writer *w, const act_row *r)
{
    char tok[800], subj[900];
    const sq_activation *a = r->a;

    if (sq_subj_token(r->ns, tok, sizeof tok) != 0)
        return;
    snprintf(subj, sizeof subj, SQ_SUBJ_EVT_ACTIVATION_FMT, tok);
    SQ_PUBLISH(w->bus, subj, sq_activation_event, a);
}

static sq_metric *m_stored; /* records stored (duplicates and expired ones not) */

static void done(act_writer *w, batch *b, size_t i)
{
    natsMsg_Ack(b->msgs[i], NULL);
    b->fate[i] = 'a';
    if (b->inserted[i]) {
        sq_metric_inc(m_stored);
        announce(w, &b->rows[i]);
    }
}

static void backoff(act_writer *w)
{
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 250;
    if (w->backoff_ms > BACKOFF_MAX_MS)
        w->backoff_ms = BACKOFF_MAX_MS;
}

static void retry_later(act_writer *w, batch *b, size_t from, const char *why)
{
    for (size_t i = from; i < b->n; i++) {
        natsMsg_NakWithDelay(b->msgs[i], NAK_DELAY_MS, NULL);
        b->fate[i] = 'n';
    }
    backoff(w);
    sq_error("could not store %zu activation(s), retrying: %s", b->n - from, why);
}

/* Stores the rows of b and settles their messages. */
static void store(act_writer *w, batch *b)
{
    char err[512] = "";
    sq_status st = act_store_insert(&w->store, b->rows, b->n, b->inserted, err, sizeof err);

    if (st == SQ_OK) {
        for (size_t i = 0; i < b->n; i++)
            done(w, b, i);
        w->backoff_ms = 0;
        return;
    }
    if (st != SQ_ERR_BAD_REQUEST) {
        retry_later(w, b, 0, err);
        return;
    }
    /* Some row is refused as data: store them one by one to find it, keep the others. */
    for (size_t i = 0; i < b->n; i++) {
        st = act_store_insert(&w->store, &b->rows[i], 1, &b->inserted[i], err, sizeof err);
        if (st == SQ_OK) {
            done(w, b, i);
        } else if (st == SQ_ERR_BAD_REQUEST) {
            sq_warn("could not store activation \"%s\", dropped: %s", b->rows[i].id, err);
            natsMsg_Term(b->msgs[i], NULL);
            b->fate[i] = 't';
        } else {
            retry_later(w, b, i, err);
            return;
        }
    }
    w->backoff_ms = 0;
}

/* The later records of a batch's activations settle as the row that stands for them: acked
 * only once that row is stored. Acked at once, a redelivered copy of a row's own message
 * acknowledged it before the insert, and a failed insert's NAK then came too late: the
 * record was gone. */
static void settle_dups(batch *b)
{
    for (size_t k = 0; k < b->ndups; k++) {
        char fate = b->fate[b->dup_of[k]];
        if (fate == 'a')
            natsMsg_Ack(b->dups[k], NULL);
        else if (fate == 't')
            natsMsg_Term(b->dups[k], NULL);
        else
            natsMsg_NakWithDelay(b->dups[k], NAK_DELAY_MS, NULL);
    }
    b->ndups = 0;
}

/* Partitions ahead, expired ones dropped; retried in a minute when the database fails. */
static void maintain(act_writer *w)
{
    char err[512] = "";
    int dropped = 0;
    int64_t now = sq_mono_us() / 1000;

    if (act_store_maintain(&w->store, act_cfg.retention_days, sq_now_ms(), &dropped, err,
                           sizeof err) != SQ_OK) {
        sq_error("could not maintain the activation partitions: %s", err);
        w->next_maintain_ms = now + 60000;
        return;
    }
    if (dropped > 0)
        sq_info("dropped %d day(s) of activations older than %d days", dropped,
                act_cfg.retention_days);
    w->next_maintain_ms = now + act_cfg.maintain_ms;
}

static void *writer_main(void *arg)
{
    act_writer *w = arg;

    for (;;) {
        batch *b;
        if (w->backoff_ms > 0)
            nap(w, w->backoff_ms);
        if (sq_pg_ensure(w->store.conn) != SQ_OK) {
            /* nothing is fetched while the database is away: the stream keeps the records */
            atomic_store(&w->db_down, true);
            backoff(w);
            if ((b = take_full(w, 0)) != NULL) {
                retry_later(w, b, 0, "the database is not reachable");
                settle_dups(b);
                give_free(w, b);
            } else if (atomic_load(&w->fetcher_done)) {
                break;
            }
            continue;
        }
        atomic_store(&w->db_down, false);
        if (sq_mono_us() / 1000 >= w->next_maintain_ms)
            maintain(w);
        if ((b = take_full(w, FETCH_TIMEOUT_MS)) != NULL) {
            store(w, b); /* finished even when stop was asked meanwhile */
            settle_dups(b);
            give_free(w, b);
        } else if (atomic_load(&w->fetcher_done)) {
            break;
        }
    }
    return NULL;
}

/* ---- the fetcher's side -------------------------------------------------------------------- */

/* The row of [0, n) of b that holds id already, -1 when none (open hash, reset per batch;
 * n is remembered for id then). */
static int seen_in_batch(act_writer *w, batch *b, const char *id, size_t n)
{
    size_t mask = w->nseen - 1, h = (size_t)sq_hash_bytes(SQ_HASH_INIT, id, strnlen(id, 16));
    for (h &= mask;; h = (h + 1) & mask) {
        int slot = w->seen[h];
        if (slot < 0) {
            w->seen[h] = (int)n;
            return -1;
        }
        if (strcmp(b->rows[slot].id, id) == 0)
            return slot;
    }
}

/* The name the list's `name` filter matches, as OpenWhisk's activations view keys it: "pkg/name"
 * for an action in a package (from the record's `path` annotation "ns/pkg/name", or an older
 * record's namespace "ns/pkg"), the name otherwise. NULL: out of memory. */
static const char *filter_name(const sq_activation *a, msgpack_zone *z)
{
    const char *pkg = NULL, *slash, *end;
    size_t npkg = 0;
    if ((slash = strchr(a->namespace_, '/')) != NULL) {
        pkg = slash + 1;
        npkg = strlen(pkg);
    } else if (a->annotations.type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < a->annotations.via.array.size; i++) {
            sq_kv kv;
            const msgpack_object *v = &kv.value;
            if (sq_kv_from(&a->annotations.via.array.ptr[i], z, &kv, NULL, 0) != SQ_OK ||
                strcmp(kv.key, "path") != 0 || v->type != MSGPACK_OBJECT_STR)
                continue;
            /* "ns/pkg/name": the middle segment when there are exactly three */
            const char *s = v->via.str.ptr, *e1 = memchr(s, '/', v->via.str.size);
            end = s + v->via.str.size;
            if (e1 != NULL) {
                const char *e2 = memchr(e1 + 1, '/', (size_t)(end - e1 - 1));
                if (e2 != NULL && e2 > e1 + 1 &&
                    memchr(e2 + 1, '/', (size_t)(end - e2 - 1)) == NULL) {
                    pkg = e1 + 1;
                    npkg = (size_t)(e2 - e1 - 1);
                }
            }
            break;
        }
    }
    if (pkg == NULL || npkg == 0)
        return a->name;
    size_t n = strlen(a->name);
    char *out = msgpack_zone_malloc(z, npkg + 1 + n + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, pkg, npkg);
    out[npkg] = '/';
    memcpy(out + npkg + 1, a->name, n + 1);
    return out;
}

/* Decodes the fetched messages of b into its rows. */
static void process(act_writer *w, batch *b)
{
    int64_t oldest =
        act_cfg.retention_days > 0 ? act_day_of(sq_now_ms()) - act_cfg.retention_days : INT64_MIN;

    b->n = 0;
    for (size_t k = 0; k < w->nseen; k++)
        w->seen[k] = -1;
    for (int i = 0; i < b->nfetched; i++) {
        natsMsg *m = b->fetched[i];
        sq_activation *a = msgpack_zone_malloc(&b->zone, sizeof *a);
        char err[256] = "", *p, *ns;
        sq_status st =
            a == NULL ? SQ_ERR_NOMEM
                      : sq_activation_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
                                             &b->zone, a, err, sizeof err);
        if (st == SQ_ERR_NOMEM) {
            natsMsg_NakWithDelay(m, NAK_DELAY_MS, NULL);
            continue;
        }
        if (st != SQ_OK) {
            sq_warn("could not decode activation record on \"%s\", dropped: %s",
                    natsMsg_GetSubject(m), err);
            natsMsg_Term(m, NULL);
            continue;
        }
        for (p = a->id; *p; p++) /* ids are stored in OpenWhisk's lower case */
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
        /* a packaged action's record may say "ns/pkg": it belongs to ns (the event keeps
         * the record's own namespace) */
        ns = a->namespace_;
        if ((p = strchr(ns, '/')) != NULL) {
            if ((ns = msgpack_zone_malloc(&b->zone, (size_t)(p - a->namespace_) + 1)) == NULL) {
                natsMsg_NakWithDelay(m, NAK_DELAY_MS, NULL);
                continue;
            }
            memcpy(ns, a->namespace_, (size_t)(p - a->namespace_));
            ns[p - a->namespace_] = '\0';
        }
        if (act_day_of(a->start) < oldest) {
            sq_warn("activation \"%s\" started more than %d days ago: not stored", a->id,
                    act_cfg.retention_days);
            natsMsg_Ack(m, NULL);
            continue;
        }
        const char *fname = filter_name(a, &b->zone);
        if (fname == NULL) {
            natsMsg_NakWithDelay(m, NAK_DELAY_MS, NULL);
            continue;
        }
        b->rows[b->n] = (act_row){ .id = a->id,
                                   .ns = ns,
                                   .name = fname,
                                   .start = a->start,
                                   .end = a->end,
                                   .status = (int)a->status,
                                   .a = a,
                                   .record = natsMsg_GetData(m),
                                   .len = (size_t)natsMsg_GetDataLength(m) };
        int first = seen_in_batch(w, b, a->id, b->n);
        if (first >= 0) {
            sq_debug("activation \"%s\" twice in one batch: the first record stands", a->id);
            b->dups[b->ndups] = m;
            b->dup_of[b->ndups++] = (size_t)first;
            continue;
        }
        b->fate[b->n] = 0;
        b->msgs[b->n] = m;
        b->n++;
    }
}

/* Fetches into b: what is there, then for a few milliseconds more while b is not full.
 * Returns false when nothing came. */
static bool fill(act_writer *w, batch *b)
{
    int64_t until = 0;
    natsMsgList list = { 0 };
    jsErrCode jerr = 0;
    natsStatus s = natsSubscription_Fetch(&list, w->sub, w->max, FETCH_TIMEOUT_MS, &jerr);

    if (s != NATS_OK) {
        if (s != NATS_TIMEOUT) {
            int64_t now = sq_mono_us();
            if (now - w->fetch_warned_us > 10 * 1000000) {
                sq_warn("could not fetch activation records: %s (%d)", natsStatus_GetText(s),
                        (int)jerr);
                w->fetch_warned_us = now;
            }
            nap(w, FETCH_TIMEOUT_MS);
        }
        natsMsgList_Destroy(&list);
        return false;
    }
    until = sq_mono_us() + ACCUMULATE_MS * 1000;
    for (;;) {
        for (int i = 0; i < list.Count && b->nfetched < w->max; i++)
            b->fetched[b->nfetched++] = list.Msgs[i];
        list.Count = 0; /* the messages are the batch's now: Destroy frees the array only */
        natsMsgList_Destroy(&list);
        if (b->nfetched >= w->max || sq_mono_us() >= until || atomic_load(&w->stop))
            return true;
        /* a timeout of at least 20 ms: the library then lets the server expire the pull
         * request 10 ms before it stops waiting (below 20 ms both expire at once, and on a
         * loaded machine the server fills a request the call has already given up) */
        if (natsSubscription_Fetch(&list, w->sub, w->max - b->nfetched, ACCUMULATE_MS + 10,
                                   &jerr) != NATS_OK) {
            natsMsgList_Destroy(&list);
            return true;
        }
    }
}

static void *fetcher_main(void *arg)
{
    act_writer *w = arg;

    while (!atomic_load(&w->stop)) {
        batch *b;
        if (atomic_load(&w->db_down)) {
            nap(w, 250);
            continue;
        }
        if ((b = take_free(w)) == NULL)
            break;
        if (!fill(w, b)) {
            give_free(w, b);
            continue;
        }
        process(w, b);
        if (b->n == 0)
            give_free(w, b);
        else
            push_full(w, b);
    }
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->fetcher_done, true);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static sq_status ensure_consumer(jsCtx *js)
{
    jsConsumerConfig cc;

    sq_js_durable_config(&cc, CONSUMER, "squall-activations: activation records into PostgreSQL",
                         SQ_SUBJ_ACT_ALL, act_cfg.ack_wait_ms);
    /* What the server hands out unacknowledged is what the pipeline holds (its two batches)
     * and one batch in flight, never a backlog. With 65536 here a backlog (the bench's 100 000
     * records) went out at once into the subscription's queue, where it waited behind the
     * batch being stored while its AckWait ran: where that wait outlasted AckWait (a loaded
     * machine: 174 records/s) the waiting records were redelivered, their copies queued
     * behind the rest, the store spent its time on duplicates and records stayed
     * ack-pending, redelivered, without end. Bounded, a record waits at most three inserts. */
    cc.MaxAckPending = (int64_t)(NBATCHES + 1) * act_cfg.batch;
    return sq_js_ensure_consumer(js, SQ_STREAM_ACTIVATIONS, &cc);
}

static void writer_free(act_writer *w)
{
    for (int i = 0; i < NBATCHES; i++) {
        batch *b = &w->all[i];
        for (int k = 0; k < b->nfetched; k++)
            natsMsg_Destroy(b->fetched[k]);
        msgpack_zone_destroy(&b->zone);
        free(b->rows);
        free(b->msgs);
        free(b->fetched);
        free(b->inserted);
        free(b->fate);
        free(b->dups);
        free(b->dup_of);
    }
    for (int k = 0; k < 7; k++)
        msgpack_sbuffer_destroy(&w->store.arr[k]);
    free(w->seen);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

sq_status act_writer_start(act_writer **out, sq_bus_t *bus, sq_store *db)
{
    act_writer *w = calloc(1, sizeof *w);
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;
    sq_status st = SQ_ERR_NOMEM;

    *out = NULL;
    if (w == NULL)
        return SQ_ERR_NOMEM;
    w->bus = bus;
    w->store.db = db;
    w->store.conn = sq_store_conn(db);
    for (int k = 0; k < 7; k++)
        msgpack_sbuffer_init(&w->store.arr[k]);
    w->max = act_cfg.batch;
    atomic_init(&w->stop, false);
    atomic_init(&w->fetcher_done, false);
    atomic_init(&w->db_down, false);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (w->nseen = 16; w->nseen < (size_t)w->max * 2; w->nseen *= 2)
        ;
    if ((w->seen = calloc(w->nseen, sizeof *w->seen)) == NULL)
        goto fail;
    for (int i = 0; i < NBATCHES; i++) {
        batch *b = &w->all[i];
        if (!msgpack_zone_init(&b->zone, 64 * 1024))
            goto fail;
        b->rows = calloc((size_t)w->max, sizeof *b->rows);
        b->msgs = calloc((size_t)w->max, sizeof *b->msgs);
        b->fetched = calloc((size_t)w->max, sizeof *b->fetched);
        b->inserted = calloc((size_t)w->max, sizeof *b->inserted);
        b->fate = calloc((size_t)w->max, sizeof *b->fate);
        b->dups = calloc((size_t)w->max, sizeof *b->dups);
        b->dup_of = calloc((size_t)w->max, sizeof *b->dup_of);
        if (b->rows == NULL || b->msgs == NULL || b->fetched == NULL || b->inserted == NULL ||
            b->fate == NULL || b->dups == NULL || b->dup_of == NULL)
            goto fail;
        b->next = w->free;
        w->free = b;
    }
    if ((st = ensure_consumer(sq_bus_js(bus))) != SQ_OK)
        goto fail;
    m_stored = sq_metric_counter("sq_activations_stored_total",
                                 "activation records stored in PostgreSQL", NULL);
    sq_metrics_js_consumer(SQ_STREAM_ACTIVATIONS, CONSUMER);
    jsSubOptions_Init(&so);
    so.Stream = SQ_STREAM_ACTIVATIONS;
    so.Consumer = CONSUMER;
    s = js_PullSubscribe(&w->sub, sq_bus_js(bus), SQ_SUBJ_ACT_ALL, CONSUMER, NULL, &so, &jerr);
    if (s != NATS_OK) {
        sq_error("could not subscribe to consumer \"%s\": %s (%d)", CONSUMER, natsStatus_GetText(s),
                 (int)jerr);
        st = SQ_ERR_UNAVAILABLE;
        goto fail;
    }
    if (pthread_create(&w->writer, NULL, writer_main, w) != 0) {
        sq_error("could not start the writer thread");
        st = SQ_ERR_INTERNAL;
        goto fail;
    }
    w->started_writer = true;
    if (pthread_create(&w->fetcher, NULL, fetcher_main, w) != 0) {
        sq_error("could not start the fetcher thread");
        st = SQ_ERR_INTERNAL;
        goto fail;
    }
    w->started_fetcher = true;
    *out = w;
    return SQ_OK;
fail:
    if (w->started_writer) {
        atomic_store(&w->stop, true);
        atomic_store(&w->fetcher_done, true);
        pthread_mutex_lock(&w->lock);
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->writer, NULL);
    }
    natsSubscription_Destroy(w->sub);
    writer_free(w);
    return st;
}

void act_writer_stop(act_writer *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    pthread_mutex_lock(&w->lock);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->fetcher, NULL); /* its batch in hand goes to the writer */
    pthread_join(w->writer, NULL);  /* which stores and acknowledges what it has */
    /* Destroy without unsubscribing: the durable consumer and its position stay. */
    natsSubscription_Destroy(w->sub);
    writer_free(w);
}
