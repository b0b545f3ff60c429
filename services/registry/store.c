/* The registry's tables (registry_actions, registry_packages, registry_triggers,
 * registry_rules): every SQL statement of the service lives in the store's files (the
 * statements in store_int.h; per entity store_actions.c, store_packages.c,
 * store_triggers.c, store_system.c; this file: the connection, the unit of work, the row
 * readers and the lookups they share). One connection under a mutex (each NATS route
 * delivers on its own thread). Every write runs as one transaction that first takes a
 * transaction-scoped advisory lock on its namespace, so that copies of the registry
 * serialise their writes to one namespace (no two creations of one name, no action slipping
 * into a package being deleted) and a failed check leaves nothing behind. Every unit of
 * work runs through libsqpg's sq_store_run() with the retry policy of sq/store.h (a lost
 * connection, 40001 or 40P01 runs it again; a COMMIT lost with its connection is not
 * retried: its outcome is unknown). Parameters, annotations and sequence components are
 * msgpack in bytea (sent as binary parameters), action limits jsonb; results come back in
 * binary format so that bytea needs no unescaping. */
#include "store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"

/* ---- connection ---------------------------------------------------------------------------- */

sq_status reg_store_open(reg_store_t **out, const char *dsn, const char *schema_dir, int wait_ms)
{
    return sq_store_open(out, dsn, schema_dir, "registry", wait_ms);
}

void reg_store_close(reg_store_t *s)
{
    sq_store_close(s);
}

/* One statement with binary results. Logs a failure. The caller PQclear()s. */
PGresult *rs_run(reg_store_t *s, const char *sql, const sq_params *p)
{
    return sq_pg_exec(sq_store_conn(s), "registry", sql, p, true);
}

/* Runs sql with text parameters a, b (b may be NULL for one) and returns the result or NULL
 * (logged). */
PGresult *rs_run2(reg_store_t *s, const char *sql, const char *a, const char *b)
{
    sq_params p;
    PGresult *r;
    sq_params_init(&p);
    sq_params_str(&p, a);
    if (b != NULL)
        sq_params_str(&p, b);
    r = rs_run(s, sql, &p);
    if (!sq_pg_ok(r)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

PGresult *rs_run3(reg_store_t *s, const char *sql, const char *a, const char *b, const char *c)
{
    sq_params p;
    PGresult *r;
    sq_params_init(&p);
    sq_params_str(&p, a);
    sq_params_str(&p, b);
    sq_params_str(&p, c);
    r = rs_run(s, sql, &p);
    if (!sq_pg_ok(r)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

typedef struct work_call {
    reg_store_t *s;
    const char *lock_ns;
    work_fn fn;
    void *arg;
} work_call;

/* Inside the transaction: the namespace's lock first (see the top of this file). */
static sq_status work_call_fn(PGconn *c, void *arg)
{
    work_call *x = arg;
    if (x->lock_ns != NULL) {
        char cls[16];
        PGresult *r;
        snprintf(cls, sizeof cls, "%d", NS_LOCK_CLASS);
        r = rs_run2(x->s, "SELECT pg_advisory_xact_lock($1::int4, hashtext($2))", cls, x->lock_ns);
        if (r == NULL)
            return SQ_ERR_DB;
        PQclear(r);
    }
    return x->fn(x->s, x->arg);
}

/* Runs fn through sq_store_run() (sq/store.h: under the store's mutex, with libsqpg's one
 * retry policy): inside a transaction holding the lock of namespace lock_ns, or (lock_ns
 * NULL) as plain reads. fn may run more than once: it sets its outputs afresh. */
sq_status rs_atomically(reg_store_t *s, const char *lock_ns, work_fn fn, void *arg)
{
    work_call x = { s, lock_ns, fn, arg };
    return sq_store_run(s, lock_ns != NULL, work_call_fn, &x);
}

/* reg_store_run(): rs_atomically() for SQL that lives in another file of the registry. */
typedef struct run_ext {
    reg_sql_fn fn;
    void *arg;
} run_ext;

static sq_status run_ext_fn(reg_store_t *s, void *arg)
{
    run_ext *x = arg;
    return x->fn(sq_store_conn(s), x->arg);
}

sq_status reg_store_run(reg_store_t *s, const char *lock_ns, reg_sql_fn fn, void *arg)
{
    run_ext x = { fn, arg };
    return rs_atomically(s, lock_ns, run_ext_fn, &x);
}

/* ---- reading rows ------------------------------------------------------------------------ */

char *rs_col_str(const PGresult *r, int row, int col, sq_arena_t *ar)
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

/* Column col of row, an int8 in binary format (results are binary); def when NULL. */
int64_t rs_col_i64(const PGresult *r, int row, int col, int64_t def)
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
 * copy, which lives as long as the arena). SQL NULL gives nil when nullable. */
sq_status rs_col_mp_array(const PGresult *r, int row, int col, bool nullable, sq_arena_t *ar,
                          msgpack_object *out)
{
    int n = PQgetlength(r, row, col);
    char *copy;
    if (PQgetisnull(r, row, col) && nullable) {
        out->type = MSGPACK_OBJECT_NIL;
        return SQ_OK;
    }
    if (PQgetisnull(r, row, col) || n == 0 || (copy = msgpack_zone_malloc(ar, (size_t)n)) == NULL)
        return SQ_ERR_DB;
    memcpy(copy, PQgetvalue(r, row, col), (size_t)n);
    if (sq_mp_unpack(copy, (size_t)n, ar, out) != SQ_OK || out->type != MSGPACK_OBJECT_ARRAY)
        return SQ_ERR_DB;
    return SQ_OK;
}

bool rs_is_sequence(const char *kind)
{
    return kind != NULL && strcmp(kind, "sequence") == 0;
}

static sq_status read_action(const PGresult *r, int row, sq_arena_t *ar, sq_action *a)
{
    const char *pkg = PQgetvalue(r, row, A_PKG);
    sq_limits def = SQ_LIMITS_DEFAULT;
    char *ns;

    memset(a, 0, sizeof *a);
    if (PQnfields(r) != A_COUNT)
        return SQ_ERR_INTERNAL;
    if ((ns = rs_col_str(r, row, A_NS, ar)) == NULL ||
        (a->namespace_ = reg_path_str(ns, *pkg ? pkg : NULL, ar)) == NULL)
        return SQ_ERR_NOMEM;
    a->name = rs_col_str(r, row, A_NAME, ar);
    a->version = rs_col_str(r, row, A_VERSION, ar);
    a->exec.kind = rs_col_str(r, row, A_KIND, ar);
    a->exec.code = rs_col_str(r, row, A_CODE, ar); /* NULL when not selected */
    a->exec.main = rs_col_str(r, row, A_MAIN, ar);
    a->exec.binary = col_bool(r, row, A_BINARY);
    if (a->name == NULL || a->version == NULL || a->exec.kind == NULL ||
        (a->exec.code == NULL && !PQgetisnull(r, row, A_CODE)) ||
        (a->exec.main == NULL && !PQgetisnull(r, row, A_MAIN)))
        return SQ_ERR_NOMEM;
    if (rs_col_mp_array(r, row, A_PARAMS, false, ar, &a->parameters) != SQ_OK ||
        rs_col_mp_array(r, row, A_ANNOTS, false, ar, &a->annotations) != SQ_OK ||
        rs_col_mp_array(r, row, A_COMPONENTS, true, ar, &a->exec.components) != SQ_OK) {
        sq_error("action \"%s/%s\" has malformed stored parameters, annotations or components",
                 a->namespace_, a->name);
        return SQ_ERR_DB;
    }
    if (rs_is_sequence(a->exec.kind))
        a->exec.code = NULL; /* stored as '' */
    a->limits.timeout = rs_col_i64(r, row, A_TIMEOUT, def.timeout);
    a->limits.memory = rs_col_i64(r, row, A_MEMORY, def.memory);
    a->limits.logs = rs_col_i64(r, row, A_LOGS, def.logs);
    a->limits.concurrency = rs_col_i64(r, row, A_CONCURRENCY, def.concurrency);
    a->publish = col_bool(r, row, A_PUBLISH);
    a->updated = rs_col_i64(r, row, A_UPDATED, 0);
    a->rev = rs_col_i64(r, row, A_REV, 0);
    return SQ_OK;
}

/* Reads a row of kind k's columns (k->cols) into out (a struct of k->elem bytes): strings
 * into the arena, msgpack arrays unpacked (logged and SQ_ERR_DB when malformed; the first
 * two columns are then the namespace and the name). */
sq_status rs_read_doc(const PGresult *r, int row, sq_arena_t *ar, const rs_kind *k, void *out)
{
    char *base = out;

    memset(out, 0, k->elem);
    if (PQnfields(r) != k->nfields)
        return SQ_ERR_INTERNAL;
    for (size_t i = 0; i < k->ncols; i++) {
        const rs_col *c = &k->cols[i];
        void *dst = base + c->off;
        switch (c->type) {
        case RS_STR:
        case RS_STR_NULL:
            *(char **)dst = rs_col_str(r, row, c->col, ar);
            if (*(char **)dst == NULL && (c->type == RS_STR || !PQgetisnull(r, row, c->col)))
                return SQ_ERR_NOMEM;
            break;
        case RS_BOOL: *(bool *)dst = col_bool(r, row, c->col); break;
        case RS_I64: *(int64_t *)dst = rs_col_i64(r, row, c->col, 0); break;
        case RS_MP: break;
        }
    }
    for (size_t i = 0; i < k->ncols; i++) {
        const rs_col *c = &k->cols[i];
        if (c->type == RS_MP && rs_col_mp_array(r, row, c->col, false, ar,
                                                (msgpack_object *)(base + c->off)) != SQ_OK) {
            sq_error("%s \"%s/%s\" has malformed stored %s", k->what,
                     *(char **)(base + k->cols[0].off), *(char **)(base + k->cols[1].off), c->name);
            return SQ_ERR_DB;
        }
    }
    return SQ_OK;
}

/* Runs a statement expected to give at most one row and reads it: SQ_ERR_NOT_FOUND when
 * none. */
sq_status rs_fetch_one(reg_store_t *s, const char *sql, const sq_params *p, row_reader rd,
                       sq_arena_t *ar, void *out)
{
    PGresult *r = rs_run(s, sql, p);
    sq_status st;
    if (!sq_pg_ok(r))
        st = SQ_ERR_DB;
    else if (PQntuples(r) == 0)
        st = SQ_ERR_NOT_FOUND;
    else
        st = rd(r, 0, ar, out);
    PQclear(r);
    return st;
}

/* Reads every row of a statement into a new array of elem-sized items. */
sq_status rs_fetch_all(reg_store_t *s, const char *sql, const sq_params *p, row_reader rd,
                       size_t elem, sq_arena_t *ar, void **items, size_t *n)
{
    PGresult *r = rs_run(s, sql, p);
    sq_status st = SQ_OK;
    int rows;

    *items = NULL;
    *n = 0;
    if (!sq_pg_ok(r)) {
        PQclear(r);
        return SQ_ERR_DB;
    }
    rows = PQntuples(r);
    if (rows > 0) {
        char *buf = msgpack_zone_malloc(ar, elem * (size_t)rows);
        if (buf == NULL)
            st = SQ_ERR_NOMEM;
        for (int i = 0; i < rows && st == SQ_OK; i++)
            st = rd(r, i, ar, buf + elem * (size_t)i);
        if (st == SQ_OK) {
            *items = buf;
            *n = (size_t)rows;
        }
    }
    PQclear(r);
    return st;
}

/* The count(*) of a statement, minus skip (never below 0). */
sq_status rs_fetch_count(reg_store_t *s, const char *sql, const sq_params *p, int64_t skip,
                         int64_t *total)
{
    PGresult *r = rs_run(s, sql, p);
    sq_status st = SQ_ERR_DB;
    if (sq_pg_ok(r) && PQntuples(r) == 1) {
        int64_t c = rs_col_i64(r, 0, 0, 0);
        *total = c > skip ? c - skip : 0;
        st = SQ_OK;
    }
    PQclear(r);
    return st;
}

sq_status rs_rd_action(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    return read_action(r, row, ar, out);
}
sq_status rs_rd_brief(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    reg_brief *b = out;
    memset(b, 0, sizeof *b);
    b->name = rs_col_str(r, row, 0, ar);
    b->version = rs_col_str(r, row, 1, ar);
    if (b->name == NULL || b->version == NULL)
        return SQ_ERR_NOMEM;
    b->publish = col_bool(r, row, 2);
    if (rs_col_mp_array(r, row, 3, false, ar, &b->annotations) != SQ_OK ||
        rs_col_mp_array(r, row, 4, false, ar, &b->parameters) != SQ_OK)
        return SQ_ERR_DB;
    return SQ_OK;
}

/* ---- lookups shared by reads and writes --------------------------------------------------- */

sq_status rs_find_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                         bool code, bool lock, sq_arena_t *ar, sq_action *out)
{
    rs_key key = { ns, pkg, name };
    return rs_find(s, &RS_ACTION,
                   lock   ? SQL_A_LOCK
                   : code ? SQL_A_GET_CODE
                          : SQL_A_GET_NOCODE,
                   &key, ar, out);
}

sq_status rs_find_package(reg_store_t *s, const char *ns, const char *name, bool lock,
                          sq_arena_t *ar, reg_package *out)
{
    return rs_find_name(s, &RS_PACKAGE, lock ? SQL_P_LOCK : SQL_P_GET, ns, name, ar, out);
}

/* Where the actions of package ns/pkg live: the package itself, or for a binding the bound
 * package. *params (when not NULL) gets the package's parameters (bound < binding). With
 * shared (the reader does not own ns) the package must be published; a package reached
 * through a binding must be published unless it sits in the binding's own namespace.
 * pkg NULL (no package): shared is SQ_ERR_FORBIDDEN, else ns itself. */
sq_status rs_resolve_pkg(reg_store_t *s, const char *ns, const char *pkg, bool shared,
                         sq_arena_t *ar, char **rns, char **rpkg, msgpack_object *params, char *err,
                         size_t errlen)
{
    reg_package p, bound;
    sq_status st;

    *rns = (char *)ns;
    *rpkg = (char *)pkg;
    if (params != NULL)
        params->type = MSGPACK_OBJECT_NIL;
    if (pkg == NULL)
        return shared ? SQ_ERR_FORBIDDEN : SQ_OK;
    if ((st = rs_find_package(s, ns, pkg, false, ar, &p)) != SQ_OK)
        return st;
    if (shared && !p.publish)
        return SQ_ERR_FORBIDDEN;
    if (p.binding_ns == NULL) {
        if (params != NULL)
            *params = p.parameters;
        return SQ_OK;
    }
    if ((st = rs_find_package(s, p.binding_ns, p.binding_name, false, ar, &bound)) != SQ_OK)
        return st == SQ_ERR_NOT_FOUND
                   ? sq_errf(st, err, errlen, "The package bound by '%s/%s' does not exist.", ns,
                             pkg)
                   : st;
    if (bound.binding_ns != NULL)
        return sq_errf(SQ_ERR_NOT_FOUND, err, errlen,
                       "The package bound by '%s/%s' does not exist.", ns, pkg);
    if (!bound.publish && (shared || strcmp(p.binding_ns, ns) != 0))
        return SQ_ERR_FORBIDDEN;
    *rns = bound.namespace_;
    *rpkg = bound.name;
    if (params != NULL) {
        const msgpack_object *layers[2] = { &bound.parameters, &p.parameters };
        return reg_kv_merge(layers, 2, ar, params);
    }
    return SQ_OK;
}
