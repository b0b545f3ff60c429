/* The registry's table (registry_actions): every SQL statement of the service lives here.
 * One connection under a mutex (each NATS route delivers on its own thread). A statement
 * or transaction that fails because the connection broke (the server restarted) is
 * retried once on a reset connection; a transaction that fails otherwise is rolled back,
 * so nothing is ever half-written. Parameters and annotations are stored as msgpack in
 * bytea (sent as binary parameters), limits as jsonb; results come back in binary format
 * so that bytea needs no unescaping. */
#include "registry.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"

struct reg_store {
    PGconn *conn;
    pthread_mutex_t lock;
};

/* The columns of an action, in the order read_action() expects; %s is the code column
 * ("code", or "NULL::text" to leave it out). */
#define COLS(code)                                                                          \
    "namespace, package, name, version, kind, " code ", main, is_binary, parameters, "        \
    "annotations, (limits->>'timeout')::int8, (limits->>'memory')::int8, "                 \
    "(limits->>'logs')::int8, (limits->>'concurrency')::int8, publish, updated"
enum { C_NS, C_PKG, C_NAME, C_VERSION, C_KIND, C_CODE, C_MAIN, C_BINARY, C_PARAMS, C_ANNOTS,
       C_TIMEOUT, C_MEMORY, C_LOGS, C_CONCURRENCY, C_PUBLISH, C_UPDATED, C_COUNT };

#define WHERE_ONE " WHERE namespace = $1 AND package = '' AND name = $2"

static const char SQL_GET_CODE[] = "SELECT " COLS("code") " FROM registry_actions" WHERE_ONE;
static const char SQL_GET_NOCODE[] = "SELECT " COLS("NULL::text") " FROM registry_actions" WHERE_ONE;
static const char SQL_LOCK[] = "SELECT " COLS("code") " FROM registry_actions" WHERE_ONE " FOR UPDATE";
static const char SQL_DELETE[] = "DELETE FROM registry_actions" WHERE_ONE " RETURNING " COLS("code");
static const char SQL_LIST[] =
    "SELECT " COLS("NULL::text") " FROM registry_actions WHERE namespace = $1"
    " ORDER BY updated DESC, package, name LIMIT $2 OFFSET $3";
static const char SQL_INSERT[] =
    "INSERT INTO registry_actions (namespace, package, name, version, kind, code, main, is_binary,"
    " parameters, annotations, limits, publish, updated)"
    " VALUES ($1, '', $2, $3, $4, $5, $6, $7, $8, $9,"
    " jsonb_build_object('timeout', $10::int8, 'memory', $11::int8, 'logs', $12::int8,"
    " 'concurrency', $13::int8), $14, $15)"
    " ON CONFLICT DO NOTHING";
static const char SQL_UPDATE[] =
    "UPDATE registry_actions SET version = $3, kind = $4, code = $5, main = $6, is_binary = $7,"
    " parameters = $8, annotations = $9,"
    " limits = jsonb_build_object('timeout', $10::int8, 'memory', $11::int8, 'logs', $12::int8,"
    " 'concurrency', $13::int8), publish = $14, updated = $15" WHERE_ONE;

sq_status reg_store_open(reg_store_t **out, const char *dsn, const char *schema_dir, int wait_ms)
{
    reg_store_t *s = calloc(1, sizeof *s);
    sq_status st;

    *out = NULL;
    if (s == NULL)
        return SQ_ERR_NOMEM;
    pthread_mutex_init(&s->lock, NULL);
    if ((st = sq_pg_connect(&s->conn, dsn, wait_ms)) != SQ_OK)
        goto fail;
    if ((st = sq_pg_migrate(s->conn, schema_dir)) != SQ_OK)
        goto fail;
    *out = s;
    return SQ_OK;
fail:
    reg_store_close(s);
    return st;
}

void reg_store_close(reg_store_t *s)
{
    if (s == NULL)
        return;
    if (s->conn != NULL)
        PQfinish(s->conn);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool broken(reg_store_t *s)
{
    return PQstatus(s->conn) != CONNECTION_OK;
}

static bool res_ok(const PGresult *r)
{
    ExecStatusType t = PQresultStatus(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* One statement: text or binary parameters, binary results. Logs a failure. */
static PGresult *run(reg_store_t *s, const char *sql, int n, const char *const *vals,
                     const int *lens, const int *fmts)
{
    PGresult *r = PQexecParams(s->conn, sql, n, NULL, vals, lens, fmts, 1);
    if (!res_ok(r))
        sq_error("could not run registry statement: %s", PQerrorMessage(s->conn));
    return r;
}

static bool exec_simple(reg_store_t *s, const char *sql)
{
    PGresult *r = run(s, sql, 0, NULL, NULL, NULL);
    bool ok = res_ok(r);
    PQclear(r);
    return ok;
}

/* run() with one retry on a reset connection when the server dropped it. Caller holds
 * the lock and PQclear()s the result (which may be NULL). */
static PGresult *run_retry(reg_store_t *s, const char *sql, int n, const char *const *vals,
                           const int *lens, const int *fmts)
{
    PGresult *r = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (broken(s) && sq_pg_ensure(s->conn) != SQ_OK)
            continue;
        PQclear(r);
        r = run(s, sql, n, vals, lens, fmts);
        if (res_ok(r) || !broken(s))
            break;
    }
    return r;
}

/* ---- reading rows ------------------------------------------------------------------------ */

static char *col_str(const PGresult *r, int row, int col, sq_arena_t *ar)
{
    int n = PQgetlength(r, row, col);
    char *p;
    if (PQgetisnull(r, row, col))
        return NULL;
    if ((p = msgpack_zone_malloc(ar, (size_t)n + 1)) == NULL)
        return NULL;
    memcpy(p, PQgetvalue(r, row, col), (size_t)n);
    p[n] = '\0';
    return p;
}

static int64_t col_i64(const PGresult *r, int row, int col, int64_t def)
{
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return def;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static bool col_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
           PQgetvalue(r, row, col)[0] != 0;
}

/* A msgpack array stored in bytea, copied into the arena (unpacked strings point into the
 * copy, which lives as long as the arena). */
static sq_status col_mp_array(const PGresult *r, int row, int col, sq_arena_t *ar,
                              msgpack_object *out)
{
    int n = PQgetlength(r, row, col);
    char *copy;
    if (PQgetisnull(r, row, col) || n == 0 || (copy = msgpack_zone_malloc(ar, (size_t)n)) == NULL)
        return SQ_ERR_DB;
    memcpy(copy, PQgetvalue(r, row, col), (size_t)n);
    if (sq_mp_unpack(copy, (size_t)n, ar, out) != SQ_OK || out->type != MSGPACK_OBJECT_ARRAY)
        return SQ_ERR_DB;
    return SQ_OK;
}

static sq_status read_action(const PGresult *r, int row, sq_arena_t *ar, sq_action *a)
{
    const char *ns = PQgetvalue(r, row, C_NS), *pkg = PQgetvalue(r, row, C_PKG);
    sq_limits def = SQ_LIMITS_DEFAULT;

    memset(a, 0, sizeof *a);
    if (PQnfields(r) != C_COUNT)
        return SQ_ERR_INTERNAL;
    if (*pkg == '\0') {
        a->namespace_ = col_str(r, row, C_NS, ar);
    } else {
        size_t n = strlen(ns) + 1 + strlen(pkg) + 1;
        if ((a->namespace_ = msgpack_zone_malloc(ar, n)) != NULL)
            snprintf(a->namespace_, n, "%s/%s", ns, pkg);
    }
    a->name = col_str(r, row, C_NAME, ar);
    a->version = col_str(r, row, C_VERSION, ar);
    a->exec.kind = col_str(r, row, C_KIND, ar);
    a->exec.code = col_str(r, row, C_CODE, ar);   /* NULL when not selected */
    a->exec.main = col_str(r, row, C_MAIN, ar);
    a->exec.binary = col_bool(r, row, C_BINARY);
    if (a->namespace_ == NULL || a->name == NULL || a->version == NULL || a->exec.kind == NULL ||
        (a->exec.code == NULL && !PQgetisnull(r, row, C_CODE)) ||
        (a->exec.main == NULL && !PQgetisnull(r, row, C_MAIN)))
        return SQ_ERR_NOMEM;
    if (col_mp_array(r, row, C_PARAMS, ar, &a->parameters) != SQ_OK ||
        col_mp_array(r, row, C_ANNOTS, ar, &a->annotations) != SQ_OK) {
        sq_error("action \"%s/%s\" has malformed stored parameters or annotations", ns, a->name);
        return SQ_ERR_DB;
    }
    a->limits.timeout = col_i64(r, row, C_TIMEOUT, def.timeout);
    a->limits.memory = col_i64(r, row, C_MEMORY, def.memory);
    a->limits.logs = col_i64(r, row, C_LOGS, def.logs);
    a->limits.concurrency = col_i64(r, row, C_CONCURRENCY, def.concurrency);
    a->publish = col_bool(r, row, C_PUBLISH);
    a->updated = col_i64(r, row, C_UPDATED, 0);
    return SQ_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Runs SQL_INSERT or SQL_UPDATE for a; *rows is the number of rows it touched. */
static sq_status write_action(reg_store_t *s, const char *sql, const char *ns, const char *name,
                              const sq_action *a, int *rows)
{
    char limits[4][24], updated[24];
    msgpack_sbuffer params, annots;
    msgpack_packer pk;
    PGresult *r;
    sq_status st;

    msgpack_sbuffer_init(&params);
    msgpack_sbuffer_init(&annots);
    msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, a->parameters);
    msgpack_packer_init(&pk, &annots, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, a->annotations);
    snprintf(limits[0], sizeof limits[0], "%" PRId64, a->limits.timeout);
    snprintf(limits[1], sizeof limits[1], "%" PRId64, a->limits.memory);
    snprintf(limits[2], sizeof limits[2], "%" PRId64, a->limits.logs);
    snprintf(limits[3], sizeof limits[3], "%" PRId64, a->limits.concurrency);
    snprintf(updated, sizeof updated, "%" PRId64, a->updated);

    const char *vals[15] = { ns, name, a->version, a->exec.kind, a->exec.code, a->exec.main,
                             a->exec.binary ? "t" : "f", params.data, annots.data, limits[0],
                             limits[1], limits[2], limits[3], a->publish ? "t" : "f", updated };
    const int lens[15] = { [7] = (int)params.size, [8] = (int)annots.size };
    const int fmts[15] = { [7] = 1, [8] = 1 };

    r = run(s, sql, 15, vals, lens, fmts);
    if (res_ok(r)) {
        *rows = atoi(PQcmdTuples(r));
        st = SQ_OK;
    } else
        st = SQ_ERR_DB;
    PQclear(r);
    msgpack_sbuffer_destroy(&params);
    msgpack_sbuffer_destroy(&annots);
    return st;
}

/* Outcome of one put transaction: done (*st is the answer), failed on the database (worth
 * one more try when the connection dropped), or lost a creation race (try again). */
enum put_outcome { PUT_DONE, PUT_RETRY_DB, PUT_RETRY_RACE };

static enum put_outcome put_tx(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                               const reg_patch *p, sq_arena_t *ar, sq_action *out, bool *created,
                               char *err, size_t errlen, sq_status *st)
{
    const char *vals[2] = { ns, name };
    sq_action old;
    PGresult *r;
    int rows = 0;

    *st = SQ_ERR_DB;
    if (!exec_simple(s, "BEGIN"))
        return PUT_RETRY_DB;
    /* Lock the row when it exists: a concurrent put of the same action waits here. */
    r = run(s, SQL_LOCK, 2, vals, NULL, NULL);
    if (!res_ok(r))
        goto rollback;
    if (PQntuples(r) == 1) {
        if (!overwrite) {
            *st = SQ_ERR_CONFLICT;
            goto rollback;
        }
        if ((*st = read_action(r, 0, ar, &old)) != SQ_OK ||
            (*st = reg_patch_apply(&old, p, ns, name, ar, out, err, errlen)) != SQ_OK)
            goto rollback;
        if ((*st = write_action(s, SQL_UPDATE, ns, name, out, &rows)) != SQ_OK || rows != 1) {
            *st = SQ_ERR_DB;
            goto rollback;
        }
        *created = false;
    } else {
        if ((*st = reg_patch_apply(NULL, p, ns, name, ar, out, err, errlen)) != SQ_OK)
            goto rollback;
        if ((*st = write_action(s, SQL_INSERT, ns, name, out, &rows)) != SQ_OK)
            goto rollback;
        if (rows == 0) {
            /* Another put created it between our SELECT and INSERT (its INSERT committed
             * first, ours waited and did nothing). Without overwrite that is a conflict;
             * with it, run again: the SELECT now finds and locks the row. */
            PQclear(r);
            exec_simple(s, "ROLLBACK");
            if (!overwrite) {
                *st = SQ_ERR_CONFLICT;
                return PUT_DONE;
            }
            return PUT_RETRY_RACE;
        }
        *created = true;
    }
    PQclear(r);
    r = NULL;
    if (!exec_simple(s, "COMMIT")) {
        /* the outcome is unknown when the connection dropped during COMMIT: do not
         * retry (that could bump the version twice), answer 500 */
        *st = SQ_ERR_DB;
        return PUT_DONE;
    }
    *st = SQ_OK;
    return PUT_DONE;
rollback:
    PQclear(r);
    if (!broken(s))
        exec_simple(s, "ROLLBACK");
    /* a database failure on a dropped connection is worth one more try; a verdict
     * (conflict, bad request) is final */
    return *st == SQ_ERR_DB ? PUT_RETRY_DB : PUT_DONE;
}

sq_status reg_store_put(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                        const reg_patch *p, sq_arena_t *ar, sq_action *out, bool *created,
                        char *err, size_t errlen)
{
    sq_status st = SQ_ERR_DB;
    int reconnects = 0;

    pthread_mutex_lock(&s->lock);
    for (int attempt = 0; attempt < 3; attempt++) {
        enum put_outcome o;
        if (broken(s) && (reconnects++ > 0 || sq_pg_ensure(s->conn) != SQ_OK)) {
            st = SQ_ERR_DB;
            break;
        }
        o = put_tx(s, ns, name, overwrite, p, ar, out, created, err, errlen, &st);
        if (o == PUT_DONE)
            break;
        st = SQ_ERR_DB; /* the answer if no attempt is left */
        if (o == PUT_RETRY_DB && !broken(s))
            break; /* a real database error: retrying will not help */
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

sq_status reg_store_get(reg_store_t *s, const char *ns, const char *name, bool code,
                        sq_arena_t *ar, sq_action *out)
{
    const char *vals[2] = { ns, name };
    PGresult *r;
    sq_status st;

    pthread_mutex_lock(&s->lock);
    r = run_retry(s, code ? SQL_GET_CODE : SQL_GET_NOCODE, 2, vals, NULL, NULL);
    if (!res_ok(r))
        st = SQ_ERR_DB;
    else if (PQntuples(r) == 0)
        st = SQ_ERR_NOT_FOUND;
    else
        st = read_action(r, 0, ar, out);
    PQclear(r);
    pthread_mutex_unlock(&s->lock);
    return st;
}

sq_status reg_store_delete(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                           sq_action *out)
{
    const char *vals[2] = { ns, name };
    PGresult *r;
    sq_status st;

    /* One statement: atomic on its own, and safe to retry (a delete that did happen
     * before the connection dropped answers 404 the second time, as a repeated DELETE
     * would). */
    pthread_mutex_lock(&s->lock);
    r = run_retry(s, SQL_DELETE, 2, vals, NULL, NULL);
    if (!res_ok(r))
        st = SQ_ERR_DB;
    else if (PQntuples(r) == 0)
        st = SQ_ERR_NOT_FOUND;
    else
        st = read_action(r, 0, ar, out);
    PQclear(r);
    pthread_mutex_unlock(&s->lock);
    return st;
}

sq_status reg_store_list(reg_store_t *s, const char *ns, int64_t skip, int64_t limit,
                         sq_arena_t *ar, sq_action **items, size_t *n)
{
    char lim[24], off[24];
    const char *vals[3] = { ns, lim, off };
    PGresult *r;
    sq_status st = SQ_OK;

    *items = NULL;
    *n = 0;
    snprintf(lim, sizeof lim, "%" PRId64, limit);
    snprintf(off, sizeof off, "%" PRId64, skip);
    pthread_mutex_lock(&s->lock);
    r = run_retry(s, SQL_LIST, 3, vals, NULL, NULL);
    if (!res_ok(r))
        st = SQ_ERR_DB;
    else if (PQntuples(r) > 0) {
        int rows = PQntuples(r);
        *items = msgpack_zone_malloc(ar, sizeof(sq_action) * (size_t)rows);
        if (*items == NULL)
            st = SQ_ERR_NOMEM;
        for (int i = 0; i < rows && st == SQ_OK; i++)
            st = read_action(r, i, ar, &(*items)[i]);
        if (st == SQ_OK)
            *n = (size_t)rows;
    }
    PQclear(r);
    pthread_mutex_unlock(&s->lock);
    return st;
}
