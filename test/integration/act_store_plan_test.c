/* The activation store's insert against the test stack's real PostgreSQL, in a scratch
 * database of its own (the activations schema applied by the store's own migrations,
 * dropped at the end): a day's partition that starts empty and fills in small batches — a
 * new stack, a new day — must be probed through its id index for every batch, never
 * scanned. The insert is planned once per session; a plan made while the partition looked
 * small hashed the whole partition, scanned, for every batch until autovacuum analyzed it
 * (PostgreSQL then took five times the CPU of everything else on the path of a record).
 *   - 300 batches of 8 records into a new partition: at most a handful of sequential scans
 *     of it (none are needed; the count read is the partition's own in pg_stat_user_tables);
 *   - the same batch again stores nothing (the NOT EXISTS still holds), a new one stores all.
 * argv[1]: a superuser DSN of the stack (SQ_PG_ADMIN_DSN of its env file); argv[2]: the
 * schema directory. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act.h"
#include "../unit/check.h"
#include "pg_test.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/store.h"
#include "sq/util.h"

#define BATCHES 300
#define PER_BATCH 8

static PGconn *ctl;

static bool ctl_exec(const char *sql)
{
    return pg_test_exec(ctl, sql);
}

/* One number a query on c gives (-1 on failure). */
static long long one(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        fprintf(stderr, "query failed: %s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    return v;
}

/* n rows starting at ms, ids numbered from first. */
static void make_rows(act_row *rows, char ids[][33], int first, int n, int64_t ms)
{
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], 33, "%032x", first + i);
        rows[i] = (act_row){ .id = ids[i],
                             .ns = "plan_ns",
                             .name = "plan_action",
                             .start = ms,
                             .end = ms + 1,
                             .status = 0,
                             .record = "\x80",
                             .len = 1 };
    }
}

int main(int argc, char **argv)
{
    sq_store *db = NULL;
    act_store st;
    char sql[256], dsn[1024], db_name[64], err[512], part[64];
    act_row rows[PER_BATCH];
    char ids[PER_BATCH][33];
    bool inserted[PER_BATCH];
    int64_t day_ms = 86400000, now = sq_now_ms();
    /* a day of its own, well inside any retention: yesterday, noon */
    int64_t day = now / day_ms - 1, at = day * day_ms + day_ms / 2;
    int stored = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: act_store_plan_test <superuser DSN> <schema dir>\n");
        return 2;
    }
    sq_log_init("act_store_plan_test");
    if (sq_pg_connect(&ctl, argv[1], 5000) != SQ_OK)
        return 2;
    snprintf(db_name, sizeof db_name, "sqt_plan_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db_name);
    if (!ctl_exec(sql))
        return 2;
    snprintf(dsn, sizeof dsn, "%s dbname=%s", argv[1], db_name); /* the last dbname wins */
    CHECK(sq_store_open(&db, dsn, argv[2], "activations", 5000) == SQ_OK,
          "the store opens and migrates");
    if (db == NULL)
        goto out;
    memset(&st, 0, sizeof st);
    st.db = db;
    st.conn = sq_store_conn(db);
    for (int k = 0; k < 7; k++)
        msgpack_sbuffer_init(&st.arr[k]);
    snprintf(part, sizeof part, "activations_d%" PRId64, day);

    SECTION("a new partition filled in small batches");
    for (int b = 0; b < BATCHES; b++) {
        make_rows(rows, ids, b * PER_BATCH, PER_BATCH, at + b);
        if (act_store_insert(&st, rows, PER_BATCH, inserted, err, sizeof err) != SQ_OK) {
            CHECK(false, "batch %d: %s", b, err);
            break;
        }
        for (int i = 0; i < PER_BATCH; i++)
            stored += inserted[i];
    }
    CHECK_INT(stored, BATCHES * PER_BATCH, "records stored");
    {
        /* the store's backend reports its counters at its next transaction's end */
        PGresult *r = PQexec(st.conn, "SELECT pg_stat_force_next_flush()");
        PQclear(r);
        r = PQexec(st.conn, "SELECT 1");
        PQclear(r);
    }
    snprintf(sql, sizeof sql, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = '%s'",
             part);
    {
        /* ctl reads the stats of the scratch database: connect to it */
        PGconn *c = NULL;
        long long scans = -1;
        if (sq_pg_connect(&c, dsn, 5000) == SQ_OK) {
            for (int tries = 0; tries < 20; tries++) {
                scans = one(c, sql);
                if (scans >= 0)
                    break;
                usleep(100 * 1000);
            }
            PQfinish(c);
        }
        CHECK(scans >= 0 && scans <= 5,
              "sequential scans of %s over %d batches: %lld (want at most 5: the id index "
              "serves every probe)",
              part, BATCHES, scans);
    }

    SECTION("the anti-join still holds");
    make_rows(rows, ids, 0, PER_BATCH, at + 7); /* the first batch's ids again */
    CHECK(act_store_insert(&st, rows, PER_BATCH, inserted, err, sizeof err) == SQ_OK, "%s", err);
    stored = 0;
    for (int i = 0; i < PER_BATCH; i++)
        stored += inserted[i];
    CHECK_INT(stored, 0, "records stored again");
    make_rows(rows, ids, BATCHES * PER_BATCH, PER_BATCH, at);
    CHECK(act_store_insert(&st, rows, PER_BATCH, inserted, err, sizeof err) == SQ_OK, "%s", err);
    stored = 0;
    for (int i = 0; i < PER_BATCH; i++)
        stored += inserted[i];
    CHECK_INT(stored, PER_BATCH, "new records stored");

    for (int k = 0; k < 7; k++)
        msgpack_sbuffer_destroy(&st.arr[k]);
    sq_store_close(db);
out:
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db_name);
    ctl_exec(sql);
    PQfinish(ctl);
    return check_done();
}
