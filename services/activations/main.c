/* squall-activations: wiring only. Loads the config, connects to PostgreSQL twice (the
 * writer's connection and the queries') and migrates, connects to NATS with JetStream,
 * makes sure the streams exist, starts the writer and serves the query routes in the
 * queue group "activations" (on a second NATS connection) until SIGTERM; then stops fetching, lets the batch in hand be
 * stored and acknowledged, and drains. */
#include <stdio.h>
#include <string.h>

#include "act.h"
#include "proto/health.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

#define PG_WAIT_MS 30000

/* sq.tenancy.delete.<ns>: the namespace's records go (a namespace made again under the same
 * name starts with none). They are purged twice: when the deletion is announced, and once
 * more purge_again_ms (6 minutes) after it, for the records of activations that were still
 * running then (at most actionTimeoutMax, 300 s, plus the scheduler's lost-record grace).
 * Runs on the follower's thread, on the queries' connection. */
typedef struct purge_args {
    const sq_tenancy_event *ev;
    int64_t *n;
    char *err;
    size_t errlen;
} purge_args;

static sq_status purge_fn(PGconn *c, void *arg)
{
    purge_args *a = arg;
    return act_store_purge(c, a->ev->namespace_, a->ev->at, a->n, a->err, a->errlen);
}

static int64_t on_purge(const sq_tenancy_event *ev, void *closure)
{
    act_reader *rd = closure;
    char err[256] = "";
    int64_t n = 0, now = sq_now_ms();
    sq_status st;

    purge_args a = { ev, &n, err, sizeof err };

    st = sq_store_run(rd->db, false, purge_fn, &a);
    if (st != SQ_OK) {
        sq_warn("could not purge the activations of deleted namespace \"%s\" (retried): %s",
                ev->namespace_, err);
        return -1;
    }
    sq_info("purged %lld activation(s) of deleted namespace \"%s\"", (long long)n, ev->namespace_);
    return now < ev->at + act_cfg.purge_again_ms ? ev->at + act_cfg.purge_again_ms - now : 0;
}

int main(void)
{
    act_reader rd = { 0 };
    sq_store *wdb = NULL;
    sq_bus_t *bus = NULL, *qbus = NULL;
    act_writer *w = NULL;
    act_sweeper *sweeper = NULL;
    sq_tenancy_follower *purges = NULL;
    int rc = 1;
    sq_bus_opts o = { .name = "squall-activations", .send_asap = false, .jetstream = true };
    /* The queries answer on a connection of their own that sends each reply at once: on the
     * writer's, buffered so that a batch's acknowledgements leave in a few writes, a reply
     * waited for nats.c's flusher (get and count took 1 ms, a list 2, where a registry read
     * takes 0.5). */
    sq_bus_opts qo = { .name = "squall-activations-queries", .send_asap = true };

    if (sq_service_begin("squall-activations") != 0)
        return 1;
    if (act_config_load() != SQ_OK)
        goto out;
    /* two stores: the writer's (migrations first) and the queries' */
    if (sq_store_open(&wdb, act_cfg.pg_dsn, act_cfg.schema_dir, "activations", PG_WAIT_MS) !=
            SQ_OK ||
        sq_store_open(&rd.db, act_cfg.pg_dsn, NULL, NULL, PG_WAIT_MS) != SQ_OK)
        goto out;
    o.url = qo.url = act_cfg.nats_url;
    if (sq_bus_connect(&bus, &o) != SQ_OK || sq_bus_connect(&qbus, &qo) != SQ_OK ||
        sq_streams_ensure(sq_bus_js(bus), SQ_STREAMS_ACTIVATIONS, 0) != SQ_OK)
        goto out;
    if (act_writer_start(&w, bus, wdb) != SQ_OK ||
        act_sweeper_start(&sweeper, sq_bus_js(bus)) != SQ_OK)
        goto out;
    if (sq_tenancy_follow(&purges, sq_bus_js(bus), "activations", on_purge, &rd) != SQ_OK)
        goto out;

    const sq_bus_route routes[] = {
        { .subject = SQ_SUBJ_ACT_GET, .queue = "activations", .fn = act_on_get, .closure = &rd },
        { .subject = SQ_SUBJ_ACT_LOGS, .queue = "activations", .fn = act_on_logs, .closure = &rd },
        { .subject = SQ_SUBJ_ACT_LIST, .queue = "activations", .fn = act_on_list, .closure = &rd },
    };
    if (sq_bus_serve(qbus, routes, sizeof routes / sizeof routes[0]) != SQ_OK ||
        sq_health_serve(
            bus, "activations", NULL,
            (sq_health_check[]){
                { .name = "postgresql", .pg_dsn = act_cfg.pg_dsn, .pg_ping = sq_pg_ping },
                { .name = "jetstream", .stream = SQ_STREAM_ACTIVATIONS } },
            2) != SQ_OK)
        goto out;

    sq_info("ready: storing activations in batches of %d", act_cfg.batch);
    sq_service_wait("shutting down");
    rc = 0;
out:
    sq_tenancy_unfollow(purges);
    act_sweeper_stop(sweeper);
    sq_bus_destroy(qbus); /* drains the queries */
    act_writer_stop(w);   /* the batch in hand is stored and acknowledged first */
    sq_bus_destroy(bus);  /* flushes the acks */
    sq_store_close(rd.db);
    sq_store_close(wdb);
    act_config_free();
    return rc;
}
