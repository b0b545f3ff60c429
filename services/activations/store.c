/* All the SQL of squall-activations, on the `activations` table of schemas/0001_init.sql.
 * A batch goes in as one multi-row INSERT (one statement, so one transaction and one round
 * trip) with the record bound in binary; ON CONFLICT (id) DO NOTHING makes a redelivered
 * record a no-op, and RETURNING tells which rows were new. Reads ask for binary results so
 * that a record comes back as the very bytes that were published. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"

#define COLS 7

/* PostgreSQL's message on one line (it spreads some over several), for one log line. */
static void set_err(char *err, size_t errlen, PGconn *c)
{
    const char *m = PQerrorMessage(c);
    size_t n;
    snprintf(err, errlen, "%s", m && *m ? m : "unknown error");
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    n = strlen(err);
    while (n > 0 && err[n - 1] == ' ')
        err[--n] = '\0';
}

/* A failed statement is the data's fault (class 22 data exception, 23 integrity, 54
 * program limit) only while the connection is fine; anything else may pass. */
static sq_status classify(PGconn *c, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (PQstatus(c) != CONNECTION_OK || state == NULL)
        return SQ_ERR_DB;
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2) || !strncmp(state, "54", 2))
        return SQ_ERR_BAD_REQUEST;
    return SQ_ERR_DB;
}

sq_status act_store_insert(PGconn *c, const act_row *rows, size_t n, bool *inserted,
                           char *err, size_t errlen)
{
    static const char head[] =
        "INSERT INTO activations (id, namespace, name, start_ms, end_ms, status_code, record) VALUES ";
    static const char tail[] = " ON CONFLICT (id) DO NOTHING RETURNING id";
    size_t cap = sizeof head + sizeof tail + n * (COLS * 8 + 4);
    char *sql = malloc(cap);
    const char **vals = calloc(n * COLS, sizeof *vals);
    int *lens = calloc(n * COLS, sizeof *lens);
    int *fmts = calloc(n * COLS, sizeof *fmts);
    char (*nums)[3][24] = calloc(n, sizeof *nums);
    PGresult *r = NULL;
    sq_status st = SQ_ERR_NOMEM;
    size_t off;

    if (sql == NULL || vals == NULL || lens == NULL || fmts == NULL || nums == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    memcpy(sql, head, sizeof head - 1);
    off = sizeof head - 1;
    for (size_t i = 0; i < n; i++) {
        size_t p = i * COLS;
        off += (size_t)snprintf(sql + off, cap - off, "%s($%zu,$%zu,$%zu,$%zu,$%zu,$%zu,$%zu)",
                                i ? "," : "", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7);
        snprintf(nums[i][0], sizeof nums[i][0], "%" PRId64, rows[i].start);
        snprintf(nums[i][1], sizeof nums[i][1], "%" PRId64, rows[i].end);
        snprintf(nums[i][2], sizeof nums[i][2], "%d", rows[i].status);
        vals[p + 0] = rows[i].id;
        vals[p + 1] = rows[i].ns;
        vals[p + 2] = rows[i].name;
        vals[p + 3] = nums[i][0];
        vals[p + 4] = nums[i][1];
        vals[p + 5] = nums[i][2];
        vals[p + 6] = rows[i].record;
        lens[p + 6] = (int)rows[i].len;
        fmts[p + 6] = 1; /* bytea, binary: the bytes as they are */
        inserted[i] = false;
    }
    memcpy(sql + off, tail, sizeof tail);

    r = PQexecParams(c, sql, (int)(n * COLS), NULL, vals, lens, fmts, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(err, errlen, c);
        st = classify(c, r);
        goto out;
    }
    for (int t = 0; t < PQntuples(r); t++) {
        const char *id = PQgetvalue(r, t, 0);
        for (size_t i = 0; i < n; i++)
            if (!inserted[i] && strncmp(rows[i].id, id, 32) == 0) {
                inserted[i] = true;
                break;
            }
    }
    st = SQ_OK;
out:
    PQclear(r);
    free(sql);
    free(vals);
    free(lens);
    free(fmts);
    free(nums);
    return st;
}

static sq_status tuples(PGconn *c, PGresult *r, PGresult **out, char *err, size_t errlen)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(err, errlen, c);
        PQclear(r);
        *out = NULL;
        return SQ_ERR_DB;
    }
    *out = r;
    return SQ_OK;
}

sq_status act_store_get(PGconn *c, const char *ns, const char *id, PGresult **out, char *err,
                        size_t errlen)
{
    const char *vals[2] = { id, ns };
    PGresult *r = PQexecParams(c, "SELECT record FROM activations WHERE id = $1 AND namespace = $2",
                               2, NULL, vals, NULL, NULL, 1);
    return tuples(c, r, out, err, errlen);
}

sq_status act_store_list(PGconn *c, const sq_act_query *q, int64_t limit, PGresult **out,
                         char *err, size_t errlen)
{
    char sql[512], since[24], upto[24];
    const char *vals[4];
    int n = 0, off;

    vals[n++] = q->ns;
    off = snprintf(sql, sizeof sql, "SELECT record FROM activations WHERE namespace = $1");
    if (q->name != NULL && q->name[0] != '\0') {
        vals[n++] = q->name;
        off += snprintf(sql + off, sizeof sql - (size_t)off, " AND name = $%d", n);
    }
    if (q->since > 0) {
        snprintf(since, sizeof since, "%" PRId64, q->since);
        vals[n++] = since;
        off += snprintf(sql + off, sizeof sql - (size_t)off, " AND start_ms >= $%d", n);
    }
    if (q->upto > 0) {
        snprintf(upto, sizeof upto, "%" PRId64, q->upto);
        vals[n++] = upto;
        off += snprintf(sql + off, sizeof sql - (size_t)off, " AND start_ms <= $%d", n);
    }
    snprintf(sql + off, sizeof sql - (size_t)off,
             " ORDER BY start_ms DESC, id DESC LIMIT %" PRId64 " OFFSET %" PRId64, limit, q->skip);
    return tuples(c, PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 1), out, err, errlen);
}
