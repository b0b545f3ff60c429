/* The SQL of the API routes (registry_routes, schemas/registry/0004_routes.sql), run through
 * reg_store_run(): the store's one connection under its mutex, writes as one transaction
 * under the namespace's lock, with libsqpg's retry policy (sq/store.h). Text parameters and
 * results. */
#include "registry.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/store.h"
#include "sq/util.h"

#define RT_COLS                                                                                    \
    "namespace, basepath, relpath, method, api_name, action_ns, action_pkg, action_name,"          \
    " response_type, updated"

static const char SQL_RT_DELETE_API[] =
    "DELETE FROM registry_routes WHERE namespace = $1 AND basepath = $2";
static const char SQL_RT_API_NAME[] =
    "SELECT api_name FROM registry_routes WHERE namespace = $1 AND basepath = $2 LIMIT 1";
static const char SQL_RT_UPSERT[] =
    "INSERT INTO registry_routes (" RT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (namespace, basepath, relpath, method) DO UPDATE SET api_name = "
    "EXCLUDED.api_name,"
    " action_ns = EXCLUDED.action_ns, action_pkg = EXCLUDED.action_pkg,"
    " action_name = EXCLUDED.action_name, response_type = EXCLUDED.response_type,"
    " updated = EXCLUDED.updated";
static const char SQL_RT_COUNT_NS[] = "SELECT count(*) FROM registry_routes WHERE namespace = $1";
#define RT_MATCH                                                                                   \
    " WHERE namespace = $1 AND ($2 = '' OR basepath = $2 OR api_name = $2)"                        \
    " AND ($3 = '' OR relpath = $3) AND ($4 = '' OR method = $4)"
static const char SQL_RT_SELECT[] =
    "SELECT " RT_COLS " FROM registry_routes" RT_MATCH " ORDER BY basepath, relpath, method";
static const char SQL_RT_DELETE[] = "DELETE FROM registry_routes" RT_MATCH " RETURNING basepath";

/* ---- statements, one transaction each ----------------------------------------------------- */

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *vals)
{
    PGresult *r = sq_pg_execv(c, "registry route", sql, n, vals, NULL, NULL, false);
    if (!sq_pg_ok(r)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static char *dup_col(const PGresult *r, int row, int col, sq_arena_t *ar)
{
    const char *v = PQgetvalue(r, row, col);
    size_t n = strlen(v);
    char *out = msgpack_zone_malloc(ar, n + 1);
    if (out)
        memcpy(out, v, n + 1);
    return out;
}

/* Reads the routes of a SELECT into the arena. */
static sq_status read_routes(const PGresult *r, sq_arena_t *ar, sq_route **out, size_t *n)
{
    int rows = PQntuples(r);
    sq_route *v = rows ? msgpack_zone_malloc(ar, sizeof *v * (size_t)rows) : NULL;
    if (rows && v == NULL)
        return SQ_ERR_NOMEM;
    for (int i = 0; i < rows; i++) {
        char **cols[] = { &v[i].namespace_, &v[i].basepath,    &v[i].relpath,
                          &v[i].method,     &v[i].api_name,    &v[i].action_ns,
                          &v[i].action_pkg, &v[i].action_name, &v[i].response_type };
        for (int c = 0; c < 9; c++)
            if ((*cols[c] = dup_col(r, i, c, ar)) == NULL)
                return SQ_ERR_NOMEM;
        v[i].updated = strtoll(PQgetvalue(r, i, 9), NULL, 10);
    }
    *out = v;
    *n = (size_t)rows;
    return SQ_OK;
}

typedef struct put_work {
    const sq_route_put *req;
    const sq_route *routes;
    size_t nroutes;
    sq_arena_t *ar;
    sq_route *items;
    size_t nitems;
    char *err;
    size_t errlen;
} put_work;

static sq_status put_fn(struct pg_conn *c, void *arg)
{
    put_work *w = arg;
    const sq_route_put *req = w->req;
    const char *name = req->api_name[0] ? req->api_name : req->basepath;
    char now[24], *kept = NULL;
    PGresult *r;
    sq_status st;

    snprintf(now, sizeof now, "%" PRId64, sq_now_ms());
    if (req->replace) {
        if ((r = q(c, SQL_RT_DELETE_API, 2, (const char *[]){ req->ns, req->basepath })) == NULL)
            return SQ_ERR_DB;
        PQclear(r);
    } else {
        /* the API keeps the name it was given first */
        if ((r = q(c, SQL_RT_API_NAME, 2, (const char *[]){ req->ns, req->basepath })) == NULL)
            return SQ_ERR_DB;
        if (PQntuples(r) == 1 && (kept = dup_col(r, 0, 0, w->ar)) != NULL)
            name = kept;
        PQclear(r);
    }
    for (size_t i = 0; i < w->nroutes; i++) {
        const sq_route *rt = &w->routes[i];
        const char *vals[] = {
            req->ns,       req->basepath,  rt->relpath,     rt->method,        name,
            rt->action_ns, rt->action_pkg, rt->action_name, rt->response_type, now
        };
        if ((r = q(c, SQL_RT_UPSERT, 10, vals)) == NULL)
            return SQ_ERR_DB;
        PQclear(r);
    }
    if ((r = q(c, SQL_RT_COUNT_NS, 1, (const char *[]){ req->ns })) == NULL)
        return SQ_ERR_DB;
    if (strtoll(PQgetvalue(r, 0, 0), NULL, 10) > REG_ROUTES_MAX) {
        PQclear(r);
        snprintf(w->err, w->errlen, "A namespace may have at most %d API routes.", REG_ROUTES_MAX);
        return SQ_ERR_BAD_REQUEST;
    }
    PQclear(r);
    if ((r = q(c, SQL_RT_SELECT, 4, (const char *[]){ req->ns, req->basepath, "", "" })) == NULL)
        return SQ_ERR_DB;
    st = read_routes(r, w->ar, &w->items, &w->nitems);
    PQclear(r);
    return st;
}

typedef struct query_work {
    const sq_route_query *req;
    sq_arena_t *ar;
    sq_route *items;
    size_t nitems;
    int64_t count;
    bool del;
} query_work;

static sq_status query_fn(struct pg_conn *c, void *arg)
{
    query_work *w = arg;
    const char *vals[] = { w->req->ns, w->req->basepath, w->req->relpath, w->req->method };
    PGresult *r = q(c, w->del ? SQL_RT_DELETE : SQL_RT_SELECT, 4, vals);
    sq_status st = SQ_OK;

    if (r == NULL)
        return SQ_ERR_DB;
    if (w->del)
        w->count = PQntuples(r);
    else
        st = read_routes(r, w->ar, &w->items, &w->nitems);
    PQclear(r);
    return st;
}

sq_status reg_routes_put(reg_store_t *s, const sq_route_put *req, const sq_route *routes, size_t n,
                         sq_arena_t *ar, sq_route **items, size_t *nitems, char *err, size_t errlen)
{
    put_work w = {
        .req = req, .routes = routes, .nroutes = n, .ar = ar, .err = err, .errlen = errlen
    };
    sq_status st = reg_store_run(s, req->ns, put_fn, &w);
    *items = w.items;
    *nitems = w.nitems;
    return st;
}

sq_status reg_routes_get(reg_store_t *s, const sq_route_query *q, sq_arena_t *ar, sq_route **items,
                         size_t *n)
{
    query_work w = { .req = q, .ar = ar };
    sq_status st = reg_store_run(s, NULL, query_fn, &w);
    *items = w.items;
    *n = w.nitems;
    return st;
}

sq_status reg_routes_delete(reg_store_t *s, const sq_route_query *q, int64_t *count)
{
    query_work w = { .req = q, .del = true };
    sq_status st = reg_store_run(s, q->ns, query_fn, &w);
    *count = w.count;
    return st;
}
