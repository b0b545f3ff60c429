/* squall-activations' internal API. The service owns the `activations` table: a writer
 * thread drains the JetStream stream SQ_ACTIVATIONS through the durable pull consumer
 * "activations" and stores each batch in one statement before acknowledging it (so a
 * record survives the store or PostgreSQL being down, and is stored once however often it
 * is delivered), keeps the daily partitions (retention) and announces every new record on
 * sq.evt.activation.<ns>; the query routes sq.activations.{get,logs,list} read the table
 * through a second connection guarded by a mutex.
 *
 * Threads: the writer (a fetcher thread and a writer thread, see writer.c) owns its PGconn
 * alone; the three query routes are delivered on three nats.c threads and share the
 * reader's PGconn under its lock. */
#ifndef SQ_ACT_H
#define SQ_ACT_H

#include <libpq-fe.h>
#include "sq/store.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"
#include "sq/bus.h"

/* ---- configuration (config.c) ------------------------------------------------------------ */

typedef struct act_config {
    char *nats_url;
    char *pg_dsn;
    char *schema_dir;
    int batch;          /* most records fetched and stored at once */
    int ack_wait_ms;    /* the consumer's AckWait: a batch not acked by then is redelivered */
    int retention_days; /* records whose day is older than this are dropped; 0 keeps all */
    int maintain_ms;    /* how often partitions are created ahead and expired ones dropped */
    int purge_again_ms; /* a deleted namespace's records are purged again this long after the
                           deletion (records of activations still running then) */
    int sweep_ms;       /* how often SQ_ACTIVATIONS is swept (sweep.c) */
} act_config;

extern act_config act_cfg;
sq_status act_config_load(void);
void act_config_free(void);

/* ---- store (store.c): all the SQL of the service ------------------------------------------- */

/* One activation to store; the strings and the record point into the writer's arena and
 * the fetched message. */
typedef struct act_row {
    const char *id; /* 32 lower-case hex */
    const char *ns; /* the namespace the record belongs to (no package part) */
    const char *name;
    int64_t start, end;
    int status;
    const char *record; /* the msgpack record as published */
    size_t len;
    const sq_activation *a; /* the record decoded (for the event) */
} act_row;

/* The writer's side of the store: its connection and what it knows of that session. */
#define ACT_KNOWN_DAYS 64
typedef struct act_store {
    sq_store *db; /* the writer's own store: its transactions go through sq_store_run() */
    PGconn *conn; /* db's connection (PQreset keeps the object) */
    int pid;      /* backend of the session the statement was prepared in */
    int64_t known[ACT_KNOWN_DAYS]; /* days whose partition this session has seen */
    int nknown;
    msgpack_sbuffer arr[7]; /* the batch's columns as binary arrays */
} act_store;

/* The UTC day (days since the epoch) of a time in ms. */
int64_t act_day_of(int64_t ms);

/* Inserts the rows that have no record of their id yet, in one transaction, creating the
 * partitions of their days when needed; sets inserted[i] for each row stored now. SQ_OK;
 * SQ_ERR_BAD_REQUEST when PostgreSQL refused the data (a row it cannot store: retrying
 * will not help); SQ_ERR_DB when the database failed or is unreachable (retry later). err
 * gets PostgreSQL's message. Ids within rows must be distinct. */
sq_status act_store_insert(act_store *st, const act_row *rows, size_t n, bool *inserted, char *err,
                           size_t errlen);

/* Creates the partitions of today and tomorrow and drops those of days older than
 * retention_days (0: none); *dropped counts them. SQ_OK or SQ_ERR_DB. */
sq_status act_store_maintain(act_store *st, int retention_days, int64_t now_ms, int *dropped,
                             char *err, size_t errlen);

/* The stored record of activation id in namespace ns: *out is a binary-format result with
 * zero or one row whose column 0 is the record; the caller PQclear()s it. SQ_ERR_DB on
 * failure, with PostgreSQL's message in err. */
sq_status act_store_get(PGconn *c, const char *ns, const char *id, PGresult **out, char *err,
                        size_t errlen);

/* Records of q->ns, newest first, filtered and paged as q says (already validated);
 * column 0 of each row is the record, binary. Errors as act_store_get. */
sq_status act_store_list(PGconn *c, const sq_act_query *q, int64_t limit, PGresult **out, char *err,
                         size_t errlen);

/* The number of records of q->ns that q's name/since/upto select. Errors as act_store_get. */
sq_status act_store_count(PGconn *c, const sq_act_query *q, int64_t *count, char *err,
                          size_t errlen);

/* Deletes the records of namespace ns that started at or before `at` (ms): the purge of a
 * deleted namespace. *deleted counts them. SQ_OK or SQ_ERR_DB (PostgreSQL's message in err). */
sq_status act_store_purge(PGconn *c, const char *ns, int64_t at, int64_t *deleted, char *err,
                          size_t errlen);

/* ---- stream sweep (sweep.c): purges the records every consumer of SQ_ACTIVATIONS is past */

typedef struct act_sweeper act_sweeper;
sq_status act_sweeper_start(act_sweeper **out, jsCtx *js);
void act_sweeper_stop(act_sweeper *sw); /* NULL is a no-op */

/* The stream sequence below which every consumer in cl is past the records (0: nothing may
 * be purged); last: the stream's last sequence, read before cl. *store: the store's durable
 * consumer in cl, or NULL (then 0). The store's consumer counts by its acknowledgement floor
 * alone (sweep.c says why). */
uint64_t act_sweep_below(const jsConsumerInfoList *cl, uint64_t last, const jsConsumerInfo **store);

/* ---- writer (writer.c) ------------------------------------------------------------------- */

typedef struct act_writer act_writer;

/* Creates (or updates) the durable consumer, binds a pull subscription to it and starts the
 * fetcher and writer threads; db is the writer thread's alone from then on. */
sq_status act_writer_start(act_writer **out, sq_bus_t *bus, sq_store *db);
/* Stops fetching, lets the batch in hand be stored and acknowledged, joins the thread and
 * frees the writer (the durable consumer stays). NULL is a no-op. */
void act_writer_stop(act_writer *w);

/* ---- queries (handlers.c) ---------------------------------------------------------------- */

/* The queries' store: its own connection, used through sq_store_run() (sq/store.h). */
typedef struct act_reader {
    sq_store *db;
} act_reader;

void act_on_get(sq_bus_t *bus, natsMsg *msg, void *closure); /* closure: act_reader */
void act_on_logs(sq_bus_t *bus, natsMsg *msg, void *closure);
void act_on_list(sq_bus_t *bus, natsMsg *msg, void *closure);

#endif
