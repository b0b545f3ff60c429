/* libsqpg's transaction helper (sq_store_run) against the test stack's real PostgreSQL: the
 * retry policy of sq/store.h, with the faults made for real by a second connection. A
 * scratch database of its own (dropped at the end) holds one table t(k primary key, n):
 *   - the store's backend is terminated (pg_terminate_backend) while its transaction is
 *     open, between two inserts: the work runs again on a new connection and commits once;
 *     the first attempt's insert is not there (a second insert of its key would fail);
 *   - a serialization failure (40001) on the first attempt: retried, written once;
 *   - a deadlock (40P01) on every attempt: SQ_STORE_ATTEMPTS attempts, SQ_ERR_UNAVAILABLE,
 *     nothing written;
 *   - a unique violation: not retried, SQ_ERR_DB, nothing written;
 *   - the backend terminated while the database refuses connections: SQ_ERR_UNAVAILABLE at
 *     once, nothing written; once connections are allowed again the next call reconnects;
 *   - a plain read (no transaction) whose backend was terminated: retried, answered;
 *   - statements run prepared: once per backend, again on the backend after a reset, and
 *     again when the session lost them (DEALLOCATE ALL).
 * argv[1]: a superuser DSN of the stack (SQ_PG_ADMIN_DSN of its env file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/check.h"
#include "pg_test.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/store.h"

static PGconn *ctl; /* the second connection: the one that breaks things */
static const char *admin_dsn;
static char db[64];

static bool ctl_exec(const char *sql)
{
    return pg_test_exec(ctl, sql);
}

/* Terminates c's backend and waits until it is gone. */
static bool kill_backend(PGconn *c)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d, 10000)", PQbackendPID(c));
    return ctl_exec(sql);
}

/* The rows of t as "k:n,k:n" in key order. */
static const char *rows(void)
{
    static char out[256];
    /* a connection of its own to the scratch database: what is committed, seen from outside
     * (the first dbname is the whole connection string, the second overrides its database) */
    const char *keys[] = { "dbname", "dbname", NULL };
    const char *vals[] = { admin_dsn, db, NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    PGresult *r;

    r = PQexec(c, "SELECT string_agg(k || ':' || n, ',' ORDER BY k) FROM t");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    else
        snprintf(out, sizeof out, "error: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return out;
}

/* The statements prepared in the store's own session: "N text" (the texts of "SELECT
 * count(*) ..." only, what count_fn runs; this query itself is not prepared). */
static const char *prepared(sq_store *s)
{
    static char out[256];
    PGresult *r =
        PQexec(sq_store_conn(s), "SELECT count(*) || ' ' || coalesce(min(statement), '') FROM "
                                 "pg_prepared_statements WHERE statement LIKE 'SELECT count(*)%'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    else
        snprintf(out, sizeof out, "error: %s", PQerrorMessage(sq_store_conn(s)));
    PQclear(r);
    return out;
}

typedef struct work {
    const char *keys[2]; /* inserted in this order (second may be NULL) */
    int runs;            /* how often the work function ran */
    enum { BREAK_NONE, BREAK_KILL_FIRST, BREAK_40001_FIRST, BREAK_40P01_ALWAYS } fault;
} work;

static bool insert(PGconn *c, const char *k, int n)
{
    sq_params p;
    PGresult *r;
    bool ok;
    sq_params_init(&p);
    sq_params_str(&p, k);
    sq_params_int(&p, n);
    r = sq_pg_exec(c, "test", "INSERT INTO t (k, n) VALUES ($1, $2::int)", &p, false);
    ok = sq_pg_ok(r);
    PQclear(r);
    sq_params_free(&p);
    return ok;
}

static bool raise(PGconn *c, const char *state)
{
    char sql[160];
    PGresult *r;
    bool ok;
    snprintf(sql, sizeof sql, "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '%s'; END $$",
             state);
    r = sq_pg_exec(c, "test", sql, NULL, false);
    ok = sq_pg_ok(r);
    PQclear(r);
    return ok;
}

static sq_status work_fn(PGconn *c, void *arg)
{
    work *w = arg;
    w->runs++;
    if (!insert(c, w->keys[0], w->runs))
        return SQ_ERR_DB;
    if (w->fault == BREAK_KILL_FIRST && w->runs == 1 && !kill_backend(c))
        return SQ_ERR_INTERNAL;
    if (w->fault == BREAK_40001_FIRST && w->runs == 1 && !raise(c, "40001"))
        return SQ_ERR_DB;
    if (w->fault == BREAK_40P01_ALWAYS && !raise(c, "40P01"))
        return SQ_ERR_DB;
    if (w->keys[1] != NULL && !insert(c, w->keys[1], w->runs))
        return SQ_ERR_DB;
    return SQ_OK;
}

static sq_status count_fn(PGconn *c, void *arg)
{
    int *n = arg;
    PGresult *r = sq_pg_exec(c, "test", "SELECT count(*) FROM t", NULL, false);
    sq_status st = SQ_ERR_DB;
    n[1]++;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        n[0] = atoi(PQgetvalue(r, 0, 0));
        st = SQ_OK;
    }
    PQclear(r);
    return st;
}

int main(int argc, char **argv)
{
    sq_store *s = NULL;
    char sql[256];
    sq_status st;

    if (argc != 2 || !*argv[1]) {
        fprintf(stderr, "usage: pg_store_test <superuser DSN of the test stack>\n");
        return 2;
    }
    admin_dsn = argv[1];
    sq_log_init("pg_store_test");
    if (sq_pg_connect(&ctl, admin_dsn, 5000) != SQ_OK)
        return 2;
    snprintf(db, sizeof db, "sqt_store_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (!ctl_exec(sql))
        return 2;
    {
        char dsn[1024];
        snprintf(dsn, sizeof dsn, "%s dbname=%s", admin_dsn, db); /* the last dbname wins */
        CHECK(sq_store_open(&s, dsn, NULL, NULL, 5000) == SQ_OK, "the store opens");
    }
    if (s == NULL)
        goto out;
    {
        PGresult *r = PQexec(sq_store_conn(s), "CREATE TABLE t (k text PRIMARY KEY, n int)");
        CHECK(sq_pg_ok(r), "create the table");
        PQclear(r);
    }

    /* one after the other: each case's rows stay for the next */
    static const struct {
        const char *section, *key1, *key2;
        int fault;
        sq_status want;
        int runs;
        const char *runs_what, *rows, *rows_what;
    } cases[] = {
        { "connection killed inside an open transaction", "a", "b", BREAK_KILL_FIRST, SQ_OK, 2,
          "runs (the first lost with its connection)", "a:2,b:2",
          "each row once, from the second run" },
        { "serialization failure", "c", NULL, BREAK_40001_FIRST, SQ_OK, 2, "runs", "a:2,b:2,c:2",
          "c once, from the second run" },
        { "deadlock on every attempt", "d", NULL, BREAK_40P01_ALWAYS, SQ_ERR_UNAVAILABLE,
          SQ_STORE_ATTEMPTS, "runs: the bound", "a:2,b:2,c:2", "nothing of d" },
        { "unique violation", "e", "a", BREAK_NONE, SQ_ERR_DB, 1, "runs: not retried",
          "a:2,b:2,c:2", "nothing of e" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        work w = { { cases[i].key1, cases[i].key2 }, 0, cases[i].fault };
        SECTION(cases[i].section);
        st = sq_store_run(s, true, work_fn, &w);
        CHECK_STR(sq_status_str(st), sq_status_str(cases[i].want), "status");
        CHECK_INT(w.runs, cases[i].runs, cases[i].runs_what);
        CHECK_STR(rows(), cases[i].rows, cases[i].rows_what);
    }

    SECTION("connection lost and not to be had again");
    {
        work w = { { "f", NULL }, 0, BREAK_NONE };
        snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS false", db);
        CHECK(ctl_exec(sql), "refuse connections");
        CHECK(kill_backend(sq_store_conn(s)), "terminate the store's backend");
        st = sq_store_run(s, true, work_fn, &w);
        CHECK_STR(sq_status_str(st), sq_status_str(SQ_ERR_UNAVAILABLE), "status");
        CHECK_INT(w.runs, 0, "runs: the transaction could not even begin");
        snprintf(sql, sizeof sql, "ALTER DATABASE %s ALLOW_CONNECTIONS true", db);
        CHECK(ctl_exec(sql), "allow connections");
        CHECK_STR(rows(), "a:2,b:2,c:2", "nothing of f");
        st = sq_store_run(s, true, work_fn, &w);
        CHECK_STR(sq_status_str(st), sq_status_str(SQ_OK), "the next call reconnects");
        CHECK_STR(rows(), "a:2,b:2,c:2,f:1", "f once");
    }

    SECTION("plain read on a killed connection");
    {
        int n[2] = { 0, 0 }; /* count, runs */
        CHECK(kill_backend(sq_store_conn(s)), "terminate the store's backend");
        st = sq_store_run(s, false, count_fn, n);
        CHECK_STR(sq_status_str(st), sq_status_str(SQ_OK), "status");
        CHECK_INT(n[0], 4, "count");
        CHECK_INT(n[1], 2, "runs");
    }

    SECTION("statements prepared once per backend");
    {
        int n[2] = { 0, 0 };
        int before = PQbackendPID(sq_store_conn(s));
        CHECK(sq_store_run(s, false, count_fn, n) == SQ_OK, "count");
        CHECK(sq_store_run(s, false, count_fn, n) == SQ_OK, "count again");
        CHECK_STR(prepared(s), "1 SELECT count(*) FROM t", "one prepared statement, its text");
        CHECK(kill_backend(sq_store_conn(s)), "terminate the store's backend");
        n[1] = 0;
        CHECK(sq_store_run(s, false, count_fn, n) == SQ_OK, "count on a new backend");
        CHECK_INT(n[1], 2, "runs (the first lost with its backend)");
        CHECK(PQbackendPID(sq_store_conn(s)) != before, "a new backend");
        CHECK_STR(prepared(s), "1 SELECT count(*) FROM t", "prepared again on the new backend");
        CHECK_INT(n[0], 4, "count");
        /* the session loses its statements, the backend stays (DISCARD ALL, a pooler) */
        PQclear(PQexec(sq_store_conn(s), "DEALLOCATE ALL"));
        CHECK_STR(prepared(s), "0 ", "none left");
        n[1] = 0;
        CHECK(sq_store_run(s, false, count_fn, n) == SQ_OK, "count after DEALLOCATE ALL");
        CHECK_INT(n[1], 1, "runs (prepared again at once, not retried)");
        CHECK_STR(prepared(s), "1 SELECT count(*) FROM t", "prepared again in the same session");
    }

out:
    sq_store_close(s);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    ctl_exec(sql);
    PQfinish(ctl);
    return check_done();
}
