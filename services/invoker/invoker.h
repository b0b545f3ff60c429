/* squall-invoker: runs activations in sandboxed runtime containers (container.h). Work comes
 * from two doors: blocking work on core NATS (sq.invoker.<id>.run, the scheduler forwards it
 * with the waiting gateway's reply subject) and durable non-blocking work from JetStream
 * (sq.work.<id>, acknowledged when taken: at most once). Both go into one queue served by a
 * fixed set of long-lived worker threads (the sandbox dies with the thread that started it,
 * so containers are only ever started from threads that live as long as the invoker). */
#ifndef INVOKER_H
#define INVOKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "container.h"
#include "proto/proto.h"
#include "sq/bus.h"

typedef struct inv_config {
    char *nats_url;
    char *id;
    char *runtime_dir;
    char *native_launcher; /* squall-native-launcher binary (kind native) */
    char *api_host;
    int memory_mb;      /* user memory: the pool's capacity */
    int workers;        /* concurrent activations */
    int prewarm;        /* nodejs stem cells kept ready */
    int prewarm_python; /* python:3 stem cells */
    int prewarm_native; /* native stem cells */
    int pids_max;       /* processes per container (pids cgroup) */
    int idle_ms;        /* an idle warm container is removed after this long */
    int heartbeat_ms;
    int max_result_kb; /* a result larger than this is refused (OpenWhisk: 1 MB) */
    bool freeze;       /* freeze idle containers (cgroup freezer) */
    int freeze_ms;     /* ... after this long without work (0: as soon as it is done) */
    int fair_mb;       /* fairness between namespaces (pool.c); 0: off */
    bool sandbox;      /* false only for hosts without bubblewrap: no isolation */
    char *network;     /* "egress" or "none" (netns.h) */
    char *net_deny;    /* destinations a sandbox never reaches (CIDRs) */
    char *net_pool;    /* the sandboxes' addresses */
    char *net_dns;     /* resolvers a sandbox may query (auto, none or addresses) */
    char *state_dir;   /* where a made-up id is kept (ident.c); "" : $STATE_DIRECTORY */
    int id_check_ms;   /* listen this long for another live invoker with our id */
} inv_config;

/* One unit of work: the raw message and its decoded form (w points into buf and z), decoded
 * when it arrives so that the queue can be served by namespace (pool.c, fairness). */
typedef struct inv_job {
    struct inv_job *next;
    char *buf;
    size_t len;
    int64_t received_ms;
    msgpack_zone z;
    sq_work w;
    char key[640];         /* "ns/name@version": the pool's key */
    struct inv_job *snext; /* on I.starting: taken by a worker, no container yet */
    bool starting;
} inv_job;

/* A container in the pool. An action's containers stay on I.pool while they serve (inflight
 * > 0) and while idle; stem cells are on I.stems. */
typedef struct inv_slot {
    struct inv_slot *next;
    inv_container_t *c;
    char key[640]; /* "ns/name@version"; "" for a stem cell */
    char ns[256];  /* the namespace it serves; "" for a stem cell */
    char kind[32];
    int memory_mb;
    int64_t last_used_ms;
    int inflight;   /* activations running in it now */
    int conc;       /* how many it may take at once (limits.concurrency, nodejs) */
    bool ready;     /* initialised: others may join it (concurrent containers) */
    bool dead;      /* its sandbox is gone: destroyed by the last one out */
    bool starting;  /* reserved, its container not started yet (c is NULL) */
    bool no_freeze; /* freezing it failed: it is left running */
} inv_slot;

typedef struct inv {
    inv_config cfg;
    sq_bus_t *bus;
    natsSubscription *work_sub; /* JetStream pull subscription */
    pthread_mutex_t lock;       /* queue, pool, counters */
    pthread_cond_t work_cv;
    pthread_cond_t pool_cv; /* the pool keeper and the stem cell starters (pool.c) */
    pthread_cond_t mem_cv;  /* the workers waiting for memory for a container (pool.c) */
    inv_job *head, *tail;
    inv_job *starting; /* taken from the queue, not yet given a container: their
                                    memory counts as their namespace's (pool.c) */
    int queued, busy;
    inv_slot *pool;           /* action containers, busy or idle */
    inv_slot *stems;          /* stem cells */
    inv_sandbox_t *sb;        /* cgroups and seccomp for every container */
    inv_net_t *net;           /* every container's network namespace (netns.h) */
    char action_api_host[96]; /* __OW_API_HOST as actions reach it; "": cfg.api_host */
    int used_mb;              /* memory of every live container */
    int warm;
    int64_t started_ms; /* when this process started (heartbeat "started") */
    volatile bool draining, stopping;
    volatile bool serving; /* past the id check, taking work (ident.c) */
} inv;

extern inv I;

/* config.c: resolves the settings into I.cfg and logs them / frees their strings. */
sq_status inv_config_load(void);
void inv_config_free(void);

/* pool.c */
/* True for the kinds this invoker runs (nodejs:20, nodejs:default, python:3, native). */
bool inv_kind_supported(const char *kind);
/* A container for the action key of namespace ns: a warm one (or a concurrent one with
 * room), else a stem cell of the kind specialised, else a new one. Thaws it when it was
 * frozen. Sets *cold when it still needs its code (then call inv_pool_ready() after a
 * successful init). Blocks while the pool is full. NULL on failure, with a message in err. */
inv_slot *inv_pool_acquire(inv_job *j, bool *cold, char *err, size_t errlen);
/* Called locked by a worker choosing its next job: true when j can start now without
 * waiting for memory and without taking its namespace past its share (pool.c). */
bool inv_pool_admits(const inv_job *j);
/* Called locked: j (just taken from the queue) holds its memory from now until it gets a
 * container, so that the next admission counts it. */
void inv_pool_starting(inv_job *j);
/* Called locked: j no longer waits for a container (no-op when it got one). */
void inv_pool_unstart(inv_job *j);
/* After its init: s takes up to conc activations at once from now on. */
void inv_pool_ready(inv_slot *s, int conc);
/* One activation is done with s: it stays warm for its key, or is destroyed when its
 * container is dead (once nobody uses it). Wakes no worker: the caller, a worker, looks
 * at the queue next. */
void inv_pool_release(inv_slot *s);
/* Warm containers per action path ("ns/name", versions summed) for the heartbeat, packed
 * as a msgpack map into pk. */
void inv_pool_actions(msgpack_zone *z, msgpack_object *out);
/* Keeper thread: keeps stem cells ready, removes idle containers. */
void *inv_pool_keeper(void *arg);
void inv_pool_shutdown(void);

/* run.c */
void inv_enqueue(const char *data, size_t len);
void *inv_worker(void *arg);
void *inv_fetcher(void *arg);
void *inv_heartbeat(void *arg);

/* records.c: activation records published to SQ_ACTIVATIONS without waiting for the ack
 * (retried off the worker's path until JetStream takes them). start: after the bus is up;
 * publish: from any worker (subject, Nats-Msg-Id, the encoded record, copied); stop: after
 * the workers are joined, waits (at most 60 s) until every record is acknowledged. */
sq_status inv_records_start(void);
void inv_records_publish(const char *subj, const char *id, const char *data, size_t len);
void inv_records_stop(void);

/* ident.c: the id (SQ_INVOKER_ID, else made once: host name + random suffix, kept in the
 * state dir), and the refusal to start when a live invoker already has it. 0 or -1. */
int inv_ident_resolve(void);
int inv_ident_claim(void);
void inv_ident_close(void);

/* metrics.c: the invoker's series (registered once, with the durable name of its SQ_WORK
 * consumer), and one record's share of them (the worker that made it). */
void inv_metrics_init(const char *work_durable);
void inv_metrics_record(const sq_activation *a, bool cold);

#endif
