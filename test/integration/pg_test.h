/* What the C integration tests against the stack's PostgreSQL share: a statement on their
 * control connection (the superuser one that makes scratch databases and breaks things),
 * its failure printed. Header-only; each test is one program that includes it once. */
#ifndef SQ_TEST_PG_TEST_H
#define SQ_TEST_PG_TEST_H

#include <stdbool.h>
#include <stdio.h>

#include "sq/pg.h"
#include "sq/store.h"

/* Runs sql on c; false (and the statement and PostgreSQL's message on stderr) on failure. */
static bool pg_test_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    bool ok = sq_pg_ok(r);
    if (!ok)
        fprintf(stderr, "control statement failed: %s: %s\n", sql, PQerrorMessage(c));
    PQclear(r);
    return ok;
}

#endif
