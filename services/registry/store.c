/* The registry's tables (registry_actions, registry_packages, registry_triggers,
 * registry_rules): every SQL statement of the service lives here. One connection under a
 * mutex (each NATS route delivers on its own thread). Every write runs as one transaction
 * that first takes a transaction-scoped advisory lock on its namespace, so that copies of
 * the registry serialise their writes to one namespace (no two creations of one name, no
 * action slipping into a package being deleted) and a failed check leaves nothing behind.
 * Every unit of work runs through libsqpg's sq_store_run() with the retry policy of
 * sq/store.h (a lost connection, 40001 or 40P01 runs it again; a COMMIT lost with its
 * connection is not retried: its outcome is unknown). Parameters, annotations and sequence components are msgpack in bytea
 * (sent as binary parameters), action limits jsonb; results come back in binary format so
 * that bytea needs no unescaping. */
#include "registry.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/store.h"

struct reg_store {
    sq_store *db;
    PGconn *conn; /* db's connection (PQreset keeps the object) */
};

/* The first key of the namespace locks (the second is hashtext(namespace)). */
#define NS_LOCK_CLASS 0x52454731 /* "REG1" */

/* ---- statements ------------------------------------------------------------------------ */

/* Actions: the columns in the order read_action() expects; code is "code" or "NULL::text". */
#define A_COLS(code)                                                                               \
    "namespace, package, name, version, kind, " code ", main, is_binary, parameters, "             \
    "annotations, (limits->>'timeout')::int8, (limits->>'memory')::int8, "                         \
    "(limits->>'logs')::int8, (limits->>'concurrency')::int8, publish, updated, components, rev"
enum {
    A_NS,
    A_PKG,
    A_NAME,
    A_VERSION,
    A_KIND,
    A_CODE,
    A_MAIN,
    A_BINARY,
    A_PARAMS,
    A_ANNOTS,
    A_TIMEOUT,
    A_MEMORY,
    A_LOGS,
    A_CONCURRENCY,
    A_PUBLISH,
    A_UPDATED,
    A_COMPONENTS,
    A_REV,
    A_COUNT
};
#define A_ONE " WHERE namespace = $1 AND package = $2 AND name = $3"

static const char SQL_A_GET_CODE[] = "SELECT " A_COLS("code") " FROM registry_actions" A_ONE;
static const char SQL_A_GET_NOCODE[] =
    "SELECT " A_COLS("NULL::text") " FROM registry_actions" A_ONE;
static const char SQL_A_LOCK[] =
    "SELECT " A_COLS("code") " FROM registry_actions" A_ONE " FOR UPDATE";
static const char SQL_A_DELETE[] =
    "DELETE FROM registry_actions" A_ONE " RETURNING " A_COLS("code");
static const char SQL_A_SEQ[] = "SELECT kind, components FROM registry_actions" A_ONE;
static const char SQL_A_INSERT[] =
    "INSERT INTO registry_actions (namespace, package, name, version, kind, code, main,"
    " is_binary, parameters, annotations, limits, publish, updated, components)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
    " jsonb_build_object('timeout', $11::int8, 'memory', $12::int8, 'logs', $13::int8,"
    " 'concurrency', $14::int8), $15, $16, $17)";
static const char SQL_A_UPDATE[] =
    "UPDATE registry_actions SET version = $4, kind = $5, code = $6, main = $7, is_binary = $8,"
    " parameters = $9, annotations = $10,"
    " limits = jsonb_build_object('timeout', $11::int8, 'memory', $12::int8, 'logs', $13::int8,"
    " 'concurrency', $14::int8), publish = $15, updated = $16, components = $17,"
    " rev = nextval('registry_rev')" A_ONE;
static const char SQL_A_LIST_NS[] =
    "SELECT " A_COLS("NULL::text") " FROM registry_actions WHERE namespace = $1"
                                   " ORDER BY updated DESC, package, name LIMIT $2 OFFSET $3";
static const char SQL_A_COUNT_NS[] = "SELECT count(*) FROM registry_actions WHERE namespace = $1";
static const char SQL_A_LIST_PKG[] =
    "SELECT " A_COLS("NULL::text") " FROM registry_actions WHERE namespace = $1 AND package = $2"
                                   " ORDER BY updated DESC, name LIMIT $3 OFFSET $4";
static const char SQL_A_COUNT_PKG[] =
    "SELECT count(*) FROM registry_actions WHERE namespace = $1 AND package = $2";
static const char SQL_A_BRIEFS[] =
    "SELECT name, version, publish, annotations, parameters FROM registry_actions"
    " WHERE namespace = $1 AND package = $2 ORDER BY name";
static const char SQL_A_DELETE_PKG[] =
    "DELETE FROM registry_actions WHERE namespace = $1 AND package = $2 RETURNING name, version";
static const char SQL_A_NAMES_PKG[] =
    "SELECT name FROM registry_actions WHERE namespace = $1 AND package = $2";

/* Packages */
#define P_COLS                                                                                     \
    "namespace, name, version, publish, parameters, annotations, binding_ns, binding_name, "       \
    "updated"
enum { P_NS, P_NAME, P_VERSION, P_PUBLISH, P_PARAMS, P_ANNOTS, P_BNS, P_BNAME, P_UPDATED, P_COUNT };
#define NAME_ONE " WHERE namespace = $1 AND name = $2"

static const char SQL_P_GET[] = "SELECT " P_COLS " FROM registry_packages" NAME_ONE;
static const char SQL_P_LOCK[] = "SELECT " P_COLS " FROM registry_packages" NAME_ONE " FOR UPDATE";
static const char SQL_P_DELETE[] = "DELETE FROM registry_packages" NAME_ONE " RETURNING " P_COLS;
static const char SQL_P_INSERT[] =
    "INSERT INTO registry_packages (" P_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
static const char SQL_P_UPDATE[] =
    "UPDATE registry_packages SET version = $3, publish = $4, parameters = $5, annotations = $6,"
    " binding_ns = $7, binding_name = $8, updated = $9" NAME_ONE;
/* $2: only the shared ones of ns; $3: also the shared ones of every namespace. Shared are
 * published packages, not bindings (OpenWhisk's packages-public view). */
#define P_SHARED "(publish AND binding_name IS NULL)"
#define P_LIST_WHERE                                                                               \
    " WHERE (namespace = $1 AND (NOT $2::bool OR " P_SHARED ")) OR ($3::bool AND " P_SHARED ")"
static const char SQL_P_LIST[] = "SELECT " P_COLS " FROM registry_packages" P_LIST_WHERE
                                 " ORDER BY updated DESC, namespace, name LIMIT $4 OFFSET $5";
static const char SQL_P_COUNT[] = "SELECT count(*) FROM registry_packages" P_LIST_WHERE;

/* Triggers */
#define T_COLS "namespace, name, version, publish, parameters, annotations, updated"
enum { T_NS, T_NAME, T_VERSION, T_PUBLISH, T_PARAMS, T_ANNOTS, T_UPDATED, T_COUNT };

static const char SQL_T_GET[] = "SELECT " T_COLS " FROM registry_triggers" NAME_ONE;
static const char SQL_T_LOCK[] = "SELECT " T_COLS " FROM registry_triggers" NAME_ONE " FOR UPDATE";
static const char SQL_T_DELETE[] = "DELETE FROM registry_triggers" NAME_ONE " RETURNING " T_COLS;
static const char SQL_T_INSERT[] =
    "INSERT INTO registry_triggers (" T_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_T_UPDATE[] =
    "UPDATE registry_triggers SET version = $3, publish = $4, parameters = $5, annotations = $6,"
    " updated = $7" NAME_ONE;
static const char SQL_T_LIST[] = "SELECT " T_COLS " FROM registry_triggers WHERE namespace = $1"
                                 " ORDER BY updated DESC, name LIMIT $2 OFFSET $3";
static const char SQL_T_COUNT[] = "SELECT count(*) FROM registry_triggers WHERE namespace = $1";

/* Rules */
#define R_COLS                                                                                     \
    "namespace, name, version, publish, annotations, status, trigger_ns, trigger_name,"            \
    " action_path, action_name, updated"
enum {
    R_NS,
    R_NAME,
    R_VERSION,
    R_PUBLISH,
    R_ANNOTS,
    R_STATUS,
    R_TNS,
    R_TNAME,
    R_APATH,
    R_ANAME,
    R_UPDATED,
    R_COUNT
};

static const char SQL_R_GET[] = "SELECT " R_COLS " FROM registry_rules" NAME_ONE;
static const char SQL_R_LOCK[] = "SELECT " R_COLS " FROM registry_rules" NAME_ONE " FOR UPDATE";
static const char SQL_R_DELETE[] = "DELETE FROM registry_rules" NAME_ONE " RETURNING " R_COLS;
static const char SQL_R_INSERT[] =
    "INSERT INTO registry_rules (" R_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
static const char SQL_R_UPDATE[] =
    "UPDATE registry_rules SET version = $3, publish = $4, annotations = $5, status = $6,"
    " trigger_ns = $7, trigger_name = $8, action_path = $9, action_name = $10, updated = "
    "$11" NAME_ONE;
static const char SQL_R_STATUS[] = "UPDATE registry_rules SET status = $3" NAME_ONE;
static const char SQL_R_LIST[] = "SELECT " R_COLS " FROM registry_rules WHERE namespace = $1"
                                 " ORDER BY updated DESC, name LIMIT $2 OFFSET $3";
static const char SQL_R_COUNT[] = "SELECT count(*) FROM registry_rules WHERE namespace = $1";
static const char SQL_R_OF_TRIGGER[] =
    "SELECT " R_COLS " FROM registry_rules WHERE trigger_ns = $1 AND trigger_name = $2"
    " ORDER BY namespace, name";
static const char SQL_R_DEACTIVATE[] =
    "UPDATE registry_rules SET status = 'inactive'"
    " WHERE trigger_ns = $1 AND trigger_name = $2 AND status = 'active'"
    " RETURNING namespace, name, version";

/* ---- connection ---------------------------------------------------------------------------- */

sq_status reg_store_open(reg_store_t **out, const char *dsn, const char *schema_dir, int wait_ms)
{
    reg_store_t *s = calloc(1, sizeof *s);
    sq_status st;

    *out = NULL;
    if (s == NULL)
        return SQ_ERR_NOMEM;
    if ((st = sq_store_open(&s->db, dsn, schema_dir, "registry", wait_ms)) != SQ_OK) {
        free(s);
        return st;
    }
    s->conn = sq_store_conn(s->db);
    *out = s;
    return SQ_OK;
}

void reg_store_close(reg_store_t *s)
{
    if (s == NULL)
        return;
    sq_store_close(s->db);
    free(s);
}

/* One statement with binary results. Logs a failure. The caller PQclear()s. */
static PGresult *run(reg_store_t *s, const char *sql, const sq_params *p)
{
    return sq_pg_exec(s->conn, "registry", sql, p, true);
}

/* Runs sql with text parameters a, b (b may be NULL for one) and returns the result or NULL
 * (logged). */
static PGresult *run2(reg_store_t *s, const char *sql, const char *a, const char *b)
{
    sq_params p;
    PGresult *r;
    sq_params_init(&p);
    sq_params_str(&p, a);
    if (b != NULL)
        sq_params_str(&p, b);
    r = run(s, sql, &p);
    if (!sq_pg_ok(r)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

static PGresult *run3(reg_store_t *s, const char *sql, const char *a, const char *b, const char *c)
{
    sq_params p;
    PGresult *r;
    sq_params_init(&p);
    sq_params_str(&p, a);
    sq_params_str(&p, b);
    sq_params_str(&p, c);
    r = run(s, sql, &p);
    if (!sq_pg_ok(r)) {
        PQclear(r);
        return NULL;
    }
    return r;
}

/* What a unit of work runs with the connection: SQ_OK commits, anything else rolls back. */
typedef sq_status (*work_fn)(reg_store_t *s, void *arg);

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
        r = run2(x->s, "SELECT pg_advisory_xact_lock($1::int4, hashtext($2))", cls, x->lock_ns);
        if (r == NULL)
            return SQ_ERR_DB;
        PQclear(r);
    }
    return x->fn(x->s, x->arg);
}

/* Runs fn through sq_store_run() (sq/store.h: under the store's mutex, with libsqpg's one
 * retry policy): inside a transaction holding the lock of namespace lock_ns, or (lock_ns
 * NULL) as plain reads. fn may run more than once: it sets its outputs afresh. */
static sq_status atomically(reg_store_t *s, const char *lock_ns, work_fn fn, void *arg)
{
    work_call x = { s, lock_ns, fn, arg };
    return sq_store_run(s->db, lock_ns != NULL, work_call_fn, &x);
}

/* reg_store_run(): atomically() for SQL that lives in another file of the registry. */
typedef struct run_ext {
    reg_sql_fn fn;
    void *arg;
} run_ext;

static sq_status run_ext_fn(reg_store_t *s, void *arg)
{
    run_ext *x = arg;
    return x->fn(s->conn, x->arg);
}

sq_status reg_store_run(reg_store_t *s, const char *lock_ns, reg_sql_fn fn, void *arg)
{
    run_ext x = { fn, arg };
    return atomically(s, lock_ns, run_ext_fn, &x);
}

static sq_status say(sq_status st, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sq_status say(sq_status st, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
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
 * copy, which lives as long as the arena). SQL NULL gives nil when nullable. */
static sq_status col_mp_array(const PGresult *r, int row, int col, bool nullable, sq_arena_t *ar,
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

static bool is_sequence(const char *kind)
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
    if ((ns = col_str(r, row, A_NS, ar)) == NULL ||
        (a->namespace_ = reg_path_str(ns, *pkg ? pkg : NULL, ar)) == NULL)
        return SQ_ERR_NOMEM;
    a->name = col_str(r, row, A_NAME, ar);
    a->version = col_str(r, row, A_VERSION, ar);
    a->exec.kind = col_str(r, row, A_KIND, ar);
    a->exec.code = col_str(r, row, A_CODE, ar); /* NULL when not selected */
    a->exec.main = col_str(r, row, A_MAIN, ar);
    a->exec.binary = col_bool(r, row, A_BINARY);
    if (a->name == NULL || a->version == NULL || a->exec.kind == NULL ||
        (a->exec.code == NULL && !PQgetisnull(r, row, A_CODE)) ||
        (a->exec.main == NULL && !PQgetisnull(r, row, A_MAIN)))
        return SQ_ERR_NOMEM;
    if (col_mp_array(r, row, A_PARAMS, false, ar, &a->parameters) != SQ_OK ||
        col_mp_array(r, row, A_ANNOTS, false, ar, &a->annotations) != SQ_OK ||
        col_mp_array(r, row, A_COMPONENTS, true, ar, &a->exec.components) != SQ_OK) {
        sq_error("action \"%s/%s\" has malformed stored parameters, annotations or components",
                 a->namespace_, a->name);
        return SQ_ERR_DB;
    }
    if (is_sequence(a->exec.kind))
        a->exec.code = NULL; /* stored as '' */
    a->limits.timeout = col_i64(r, row, A_TIMEOUT, def.timeout);
    a->limits.memory = col_i64(r, row, A_MEMORY, def.memory);
    a->limits.logs = col_i64(r, row, A_LOGS, def.logs);
    a->limits.concurrency = col_i64(r, row, A_CONCURRENCY, def.concurrency);
    a->publish = col_bool(r, row, A_PUBLISH);
    a->updated = col_i64(r, row, A_UPDATED, 0);
    a->rev = col_i64(r, row, A_REV, 0);
    return SQ_OK;
}

static sq_status read_package(const PGresult *r, int row, sq_arena_t *ar, reg_package *p)
{
    memset(p, 0, sizeof *p);
    if (PQnfields(r) != P_COUNT)
        return SQ_ERR_INTERNAL;
    p->namespace_ = col_str(r, row, P_NS, ar);
    p->name = col_str(r, row, P_NAME, ar);
    p->version = col_str(r, row, P_VERSION, ar);
    p->binding_ns = col_str(r, row, P_BNS, ar);
    p->binding_name = col_str(r, row, P_BNAME, ar);
    if (p->namespace_ == NULL || p->name == NULL || p->version == NULL ||
        (p->binding_ns == NULL) != (p->binding_name == NULL))
        return SQ_ERR_NOMEM;
    p->publish = col_bool(r, row, P_PUBLISH);
    p->updated = col_i64(r, row, P_UPDATED, 0);
    if (col_mp_array(r, row, P_PARAMS, false, ar, &p->parameters) != SQ_OK ||
        col_mp_array(r, row, P_ANNOTS, false, ar, &p->annotations) != SQ_OK) {
        sq_error("package \"%s/%s\" has malformed stored parameters or annotations", p->namespace_,
                 p->name);
        return SQ_ERR_DB;
    }
    return SQ_OK;
}

static sq_status read_trigger(const PGresult *r, int row, sq_arena_t *ar, reg_trigger *t)
{
    memset(t, 0, sizeof *t);
    if (PQnfields(r) != T_COUNT)
        return SQ_ERR_INTERNAL;
    t->namespace_ = col_str(r, row, T_NS, ar);
    t->name = col_str(r, row, T_NAME, ar);
    t->version = col_str(r, row, T_VERSION, ar);
    if (t->namespace_ == NULL || t->name == NULL || t->version == NULL)
        return SQ_ERR_NOMEM;
    t->publish = col_bool(r, row, T_PUBLISH);
    t->updated = col_i64(r, row, T_UPDATED, 0);
    if (col_mp_array(r, row, T_PARAMS, false, ar, &t->parameters) != SQ_OK ||
        col_mp_array(r, row, T_ANNOTS, false, ar, &t->annotations) != SQ_OK) {
        sq_error("trigger \"%s/%s\" has malformed stored parameters or annotations", t->namespace_,
                 t->name);
        return SQ_ERR_DB;
    }
    return SQ_OK;
}

static sq_status read_rule(const PGresult *r, int row, sq_arena_t *ar, reg_rule *u)
{
    memset(u, 0, sizeof *u);
    if (PQnfields(r) != R_COUNT)
        return SQ_ERR_INTERNAL;
    u->namespace_ = col_str(r, row, R_NS, ar);
    u->name = col_str(r, row, R_NAME, ar);
    u->version = col_str(r, row, R_VERSION, ar);
    u->status = col_str(r, row, R_STATUS, ar);
    u->trigger_ns = col_str(r, row, R_TNS, ar);
    u->trigger_name = col_str(r, row, R_TNAME, ar);
    u->action_path = col_str(r, row, R_APATH, ar);
    u->action_name = col_str(r, row, R_ANAME, ar);
    if (u->namespace_ == NULL || u->name == NULL || u->version == NULL || u->status == NULL ||
        u->trigger_ns == NULL || u->trigger_name == NULL || u->action_path == NULL ||
        u->action_name == NULL)
        return SQ_ERR_NOMEM;
    u->publish = col_bool(r, row, R_PUBLISH);
    u->updated = col_i64(r, row, R_UPDATED, 0);
    if (col_mp_array(r, row, R_ANNOTS, false, ar, &u->annotations) != SQ_OK) {
        sq_error("rule \"%s/%s\" has malformed stored annotations", u->namespace_, u->name);
        return SQ_ERR_DB;
    }
    return SQ_OK;
}

typedef sq_status (*row_reader)(const PGresult *r, int row, sq_arena_t *ar, void *out);

/* Runs a statement expected to give at most one row and reads it: SQ_ERR_NOT_FOUND when
 * none. */
static sq_status fetch_one(reg_store_t *s, const char *sql, const sq_params *p, row_reader rd,
                           sq_arena_t *ar, void *out)
{
    PGresult *r = run(s, sql, p);
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
static sq_status fetch_all(reg_store_t *s, const char *sql, const sq_params *p, row_reader rd,
                           size_t elem, sq_arena_t *ar, void **items, size_t *n)
{
    PGresult *r = run(s, sql, p);
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
static sq_status fetch_count(reg_store_t *s, const char *sql, const sq_params *p, int64_t skip,
                             int64_t *total)
{
    PGresult *r = run(s, sql, p);
    sq_status st = SQ_ERR_DB;
    if (sq_pg_ok(r) && PQntuples(r) == 1) {
        int64_t c = col_i64(r, 0, 0, 0);
        *total = c > skip ? c - skip : 0;
        st = SQ_OK;
    }
    PQclear(r);
    return st;
}

static sq_status rd_action(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    return read_action(r, row, ar, out);
}
static sq_status rd_package(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    return read_package(r, row, ar, out);
}
static sq_status rd_trigger(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    return read_trigger(r, row, ar, out);
}
static sq_status rd_rule(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    return read_rule(r, row, ar, out);
}

static sq_status rd_brief(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    reg_brief *b = out;
    memset(b, 0, sizeof *b);
    b->name = col_str(r, row, 0, ar);
    b->version = col_str(r, row, 1, ar);
    if (b->name == NULL || b->version == NULL)
        return SQ_ERR_NOMEM;
    b->publish = col_bool(r, row, 2);
    if (col_mp_array(r, row, 3, false, ar, &b->annotations) != SQ_OK ||
        col_mp_array(r, row, 4, false, ar, &b->parameters) != SQ_OK)
        return SQ_ERR_DB;
    return SQ_OK;
}

/* ---- lookups shared by reads and writes --------------------------------------------------- */

static sq_status find_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                             bool code, bool lock, sq_arena_t *ar, sq_action *out)
{
    sq_params p;
    sq_params_init(&p);
    sq_params_str(&p, ns);
    sq_params_str(&p, pkg ? pkg : "");
    sq_params_str(&p, name);
    return fetch_one(s,
                     lock   ? SQL_A_LOCK
                     : code ? SQL_A_GET_CODE
                            : SQL_A_GET_NOCODE,
                     &p, rd_action, ar, out);
}

static sq_status find_by_name(reg_store_t *s, const char *sql, const char *ns, const char *name,
                              row_reader rd, sq_arena_t *ar, void *out)
{
    sq_params p;
    sq_params_init(&p);
    sq_params_str(&p, ns);
    sq_params_str(&p, name);
    return fetch_one(s, sql, &p, rd, ar, out);
}

static sq_status find_package(reg_store_t *s, const char *ns, const char *name, bool lock,
                              sq_arena_t *ar, reg_package *out)
{
    return find_by_name(s, lock ? SQL_P_LOCK : SQL_P_GET, ns, name, rd_package, ar, out);
}

/* Where the actions of package ns/pkg live: the package itself, or for a binding the bound
 * package. *params (when not NULL) gets the package's parameters (bound < binding). With
 * shared (the reader does not own ns) the package must be published; a package reached
 * through a binding must be published unless it sits in the binding's own namespace.
 * pkg NULL (no package): shared is SQ_ERR_FORBIDDEN, else ns itself. */
static sq_status resolve_pkg(reg_store_t *s, const char *ns, const char *pkg, bool shared,
                             sq_arena_t *ar, char **rns, char **rpkg, msgpack_object *params,
                             char *err, size_t errlen)
{
    reg_package p, bound;
    sq_status st;

    *rns = (char *)ns;
    *rpkg = (char *)pkg;
    if (params != NULL)
        params->type = MSGPACK_OBJECT_NIL;
    if (pkg == NULL)
        return shared ? SQ_ERR_FORBIDDEN : SQ_OK;
    if ((st = find_package(s, ns, pkg, false, ar, &p)) != SQ_OK)
        return st;
    if (shared && !p.publish)
        return SQ_ERR_FORBIDDEN;
    if (p.binding_ns == NULL) {
        if (params != NULL)
            *params = p.parameters;
        return SQ_OK;
    }
    if ((st = find_package(s, p.binding_ns, p.binding_name, false, ar, &bound)) != SQ_OK)
        return st == SQ_ERR_NOT_FOUND
                   ? say(st, err, errlen, "The package bound by '%s/%s' does not exist.", ns, pkg)
                   : st;
    if (bound.binding_ns != NULL)
        return say(SQ_ERR_NOT_FOUND, err, errlen, "The package bound by '%s/%s' does not exist.",
                   ns, pkg);
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

/* ---- actions ------------------------------------------------------------------------------ */

static sq_status write_action(reg_store_t *s, const char *sql, const char *ns, const char *pkg,
                              const char *name, const sq_action *a)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    sq_params_str(&p, ns);
    sq_params_str(&p, pkg ? pkg : "");
    sq_params_str(&p, name);
    sq_params_str(&p, a->version);
    sq_params_str(&p, a->exec.kind);
    sq_params_str(&p, a->exec.code ? a->exec.code : "");
    sq_params_str(&p, a->exec.main);
    sq_params_bool(&p, a->exec.binary);
    sq_params_mp(&p, &a->parameters, true);
    sq_params_mp(&p, &a->annotations, true);
    sq_params_int(&p, a->limits.timeout);
    sq_params_int(&p, a->limits.memory);
    sq_params_int(&p, a->limits.logs);
    sq_params_int(&p, a->limits.concurrency);
    sq_params_bool(&p, a->publish);
    sq_params_int(&p, a->updated);
    sq_params_mp(&p, is_sequence(a->exec.kind) ? &a->exec.components : NULL, false);
    r = run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    PQclear(r);
    sq_params_free(&p);
    return st;
}

/* Checking a sequence's components (OpenWhisk's checkSequenceActionLimits). */
typedef struct seq_check {
    const char *ns, *pkg, *name; /* the sequence being written */
    sq_arena_t *ar;
    int atomic, visits;
    char *err;
    size_t errlen;
} seq_check;

#define SEQ_MAX_DEPTH 16
#define SEQ_MAX_VISITS 1000

static sq_status check_components(reg_store_t *s, seq_check *c, const reg_fqn *comps, size_t n,
                                  int depth, bool direct)
{
    static const char missing[] = "Sequence component does not exist.";
    static const char too_long[] = "Too many actions in the sequence.";

    if (depth > SEQ_MAX_DEPTH)
        return say(SQ_ERR_BAD_REQUEST, c->err, c->errlen, too_long);
    for (size_t i = 0; i < n; i++) {
        const reg_fqn *f = &comps[i];
        char *rns, *rpkg;
        msgpack_object comp;
        PGresult *r;
        sq_status st;
        sq_params p;
        bool seq;

        if (++c->visits > SEQ_MAX_VISITS)
            return say(SQ_ERR_BAD_REQUEST, c->err, c->errlen, too_long);
        /* a component in another namespace must be shared with everybody (checked for the
         * sequence's own components; deeper ones were checked when their sequence was made) */
        st = resolve_pkg(s, f->ns, f->pkg, direct && strcmp(f->ns, c->ns) != 0, c->ar, &rns, &rpkg,
                         NULL, NULL, 0);
        if (st == SQ_ERR_NOT_FOUND)
            return say(SQ_ERR_BAD_REQUEST, c->err, c->errlen, missing);
        if (st == SQ_ERR_FORBIDDEN)
            return say(st, c->err, c->errlen,
                       "The supplied authentication is not authorized to access '%s%s%s/%s'.",
                       f->ns, f->pkg ? "/" : "", f->pkg ? f->pkg : "", f->name);
        if (st != SQ_OK)
            return st;
        if (strcmp(rns, c->ns) == 0 && strcmp(rpkg ? rpkg : "", c->pkg ? c->pkg : "") == 0 &&
            strcmp(f->name, c->name) == 0)
            return say(SQ_ERR_BAD_REQUEST, c->err, c->errlen, "Sequence may not refer to itself.");
        sq_params_init(&p);
        sq_params_str(&p, rns);
        sq_params_str(&p, rpkg ? rpkg : "");
        sq_params_str(&p, f->name);
        r = run(s, SQL_A_SEQ, &p);
        if (!sq_pg_ok(r)) {
            PQclear(r);
            return SQ_ERR_DB;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            return say(SQ_ERR_BAD_REQUEST, c->err, c->errlen, missing);
        }
        seq = strcmp(PQgetvalue(r, 0, 0), "sequence") == 0;
        st = seq ? col_mp_array(r, 0, 1, false, c->ar, &comp) : SQ_OK;
        PQclear(r);
        if (st != SQ_OK)
            return st;
        if (!seq) {
            if (++c->atomic > REG_SEQ_MAX)
                return say(SQ_ERR_BAD_REQUEST, c->err, c->errlen, too_long);
            continue;
        }
        /* inline the inner sequence: its components are stored fully qualified */
        reg_fqn *inner = msgpack_zone_malloc(c->ar, sizeof(reg_fqn) * (comp.via.array.size + 1));
        if (inner == NULL)
            return SQ_ERR_NOMEM;
        for (uint32_t j = 0; j < comp.via.array.size; j++) {
            char *str = sq_mp_strdup(c->ar, &comp.via.array.ptr[j]);
            if (str == NULL ||
                reg_fqn_parse(str, rns, c->ar, &inner[j], "sequence component", NULL, 0) != SQ_OK)
                return say(SQ_ERR_BAD_REQUEST, c->err, c->errlen, missing);
        }
        if ((st = check_components(s, c, inner, comp.via.array.size, depth + 1, false)) != SQ_OK)
            return st;
    }
    return SQ_OK;
}

typedef struct put_action_arg {
    const char *ns, *pkg, *name;
    bool overwrite;
    const reg_patch *p;
    sq_arena_t *ar;
    sq_action *out;
    bool *created;
    char *err;
    size_t errlen;
} put_action_arg;

/* The package an action is written into (or deleted from) must exist and not be a binding. */
static sq_status check_home_package(reg_store_t *s, const char *ns, const char *pkg, sq_arena_t *ar,
                                    char *err, size_t errlen)
{
    reg_package p;
    sq_status st;
    if (pkg == NULL)
        return SQ_OK;
    if ((st = find_package(s, ns, pkg, false, ar, &p)) == SQ_ERR_NOT_FOUND)
        return say(st, err, errlen, "The package '%s/%s' does not exist.", ns, pkg);
    if (st != SQ_OK)
        return st;
    if (p.binding_ns != NULL)
        return say(SQ_ERR_BAD_REQUEST, err, errlen, "Operation not permitted on package binding.");
    return SQ_OK;
}

static sq_status put_action_work(reg_store_t *s, void *arg)
{
    put_action_arg *a = arg;
    sq_action old;
    char *path;
    sq_status st;

    if ((st = check_home_package(s, a->ns, a->pkg, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    if (a->p->has_exec && is_sequence(a->p->exec.kind)) {
        seq_check c = { .ns = a->ns,
                        .pkg = a->pkg,
                        .name = a->name,
                        .ar = a->ar,
                        .err = a->err,
                        .errlen = a->errlen };
        if ((st = check_components(s, &c, a->p->components, a->p->ncomponents, 0, true)) != SQ_OK)
            return st;
    }
    if ((path = reg_path_str(a->ns, a->pkg, a->ar)) == NULL)
        return SQ_ERR_NOMEM;
    st = find_action(s, a->ns, a->pkg, a->name, true, true, a->ar, &old);
    if (st == SQ_OK) {
        if (!a->overwrite)
            return SQ_ERR_CONFLICT;
        if ((st = reg_patch_apply(&old, a->p, path, a->name, a->ar, a->out, a->err, a->errlen)) !=
            SQ_OK)
            return st;
        *a->created = false;
        return write_action(s, SQL_A_UPDATE, a->ns, a->pkg, a->name, a->out);
    }
    if (st != SQ_ERR_NOT_FOUND)
        return st;
    if ((st = reg_patch_apply(NULL, a->p, path, a->name, a->ar, a->out, a->err, a->errlen)) !=
        SQ_OK)
        return st;
    *a->created = true;
    return write_action(s, SQL_A_INSERT, a->ns, a->pkg, a->name, a->out);
}

sq_status reg_store_put_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                               bool overwrite, const reg_patch *p, sq_arena_t *ar, sq_action *out,
                               bool *created, char *err, size_t errlen)
{
    put_action_arg a = { ns, pkg, name, overwrite, p, ar, out, created, err, errlen };
    return atomically(s, ns, put_action_work, &a);
}

typedef struct get_action_arg {
    const char *ns, *pkg, *name;
    bool code, shared;
    sq_arena_t *ar;
    sq_action *out;
    char *err;
    size_t errlen;
} get_action_arg;

static sq_status get_action_work(reg_store_t *s, void *arg)
{
    get_action_arg *a = arg;
    msgpack_object pkg_params;
    char *rns, *rpkg;
    sq_status st;

    if ((st = resolve_pkg(s, a->ns, a->pkg, a->shared, a->ar, &rns, &rpkg, &pkg_params, a->err,
                          a->errlen)) != SQ_OK)
        return st;
    if ((st = find_action(s, rns, rpkg, a->name, a->code, false, a->ar, a->out)) != SQ_OK)
        return st;
    if (a->pkg != NULL) {
        /* OpenWhisk's `action inherit packageParameters`: package < binding < action */
        const msgpack_object *layers[2] = { &pkg_params, &a->out->parameters };
        return reg_kv_merge(layers, 2, a->ar, &a->out->parameters);
    }
    return SQ_OK;
}

sq_status reg_store_get_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                               bool code, bool shared, sq_arena_t *ar, sq_action *out, char *err,
                               size_t errlen)
{
    get_action_arg a = { ns, pkg, name, code, shared, ar, out, err, errlen };
    return atomically(s, NULL, get_action_work, &a);
}

typedef struct del_action_arg {
    const char *ns, *pkg, *name;
    sq_arena_t *ar;
    sq_action *out;
    char *err;
    size_t errlen;
} del_action_arg;

static sq_status delete_action_work(reg_store_t *s, void *arg)
{
    del_action_arg *a = arg;
    sq_params p;
    sq_status st;

    if ((st = check_home_package(s, a->ns, a->pkg, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_str(&p, a->pkg ? a->pkg : "");
    sq_params_str(&p, a->name);
    return fetch_one(s, SQL_A_DELETE, &p, rd_action, a->ar, a->out);
}

sq_status reg_store_delete_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                                  sq_arena_t *ar, sq_action *out, char *err, size_t errlen)
{
    del_action_arg a = { ns, pkg, name, ar, out, err, errlen };
    return atomically(s, ns, delete_action_work, &a);
}

typedef struct list_arg {
    const char *ns, *pkg;
    bool shared, public_, count;
    int64_t skip, limit;
    sq_arena_t *ar;
    void **items;
    size_t *n;
    int64_t *total;
    char *err;
    size_t errlen;
} list_arg;

static sq_status list_actions_work(reg_store_t *s, void *arg)
{
    list_arg *a = arg;
    char *rns, *rpkg;
    sq_params p;
    sq_status st;

    if (a->pkg == NULL && a->shared)
        return SQ_ERR_FORBIDDEN;
    if ((st = resolve_pkg(s, a->ns, a->pkg, a->shared, a->ar, &rns, &rpkg, NULL, a->err,
                          a->errlen)) != SQ_OK)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, rns);
    if (rpkg != NULL)
        sq_params_str(&p, rpkg);
    if (a->count)
        return fetch_count(s, rpkg ? SQL_A_COUNT_PKG : SQL_A_COUNT_NS, &p, a->skip, a->total);
    sq_params_int(&p, a->limit);
    sq_params_int(&p, a->skip);
    return fetch_all(s, rpkg ? SQL_A_LIST_PKG : SQL_A_LIST_NS, &p, rd_action, sizeof(sq_action),
                     a->ar, a->items, a->n);
}

sq_status reg_store_list_actions(reg_store_t *s, const char *ns, const char *pkg, bool shared,
                                 int64_t skip, int64_t limit, bool count, sq_arena_t *ar,
                                 sq_action **items, size_t *n, int64_t *total, char *err,
                                 size_t errlen)
{
    list_arg a = { .ns = ns,
                   .pkg = pkg,
                   .shared = shared,
                   .count = count,
                   .skip = skip,
                   .limit = limit,
                   .ar = ar,
                   .items = (void **)items,
                   .n = n,
                   .total = total,
                   .err = err,
                   .errlen = errlen };
    *items = NULL;
    *n = 0;
    return atomically(s, NULL, list_actions_work, &a);
}

/* ---- packages ----------------------------------------------------------------------------- */

static sq_status write_package(reg_store_t *s, const char *sql, const reg_package *pk)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    sq_params_str(&p, pk->namespace_);
    sq_params_str(&p, pk->name);
    sq_params_str(&p, pk->version);
    sq_params_bool(&p, pk->publish);
    sq_params_mp(&p, &pk->parameters, true);
    sq_params_mp(&p, &pk->annotations, true);
    sq_params_str(&p, pk->binding_ns);
    sq_params_str(&p, pk->binding_name);
    sq_params_int(&p, pk->updated);
    r = run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    PQclear(r);
    sq_params_free(&p);
    return st;
}

typedef struct put_entity_arg {
    const char *ns, *name;
    bool overwrite;
    const reg_entity_patch *p;
    sq_arena_t *ar;
    void *out;
    bool *created;
    char *err;
    size_t errlen;
} put_entity_arg;

static sq_status put_package_work(reg_store_t *s, void *arg)
{
    put_entity_arg *a = arg;
    reg_package old, target, *out = a->out;
    sq_status st;
    bool exists;

    st = find_package(s, a->ns, a->name, true, a->ar, &old);
    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    exists = st == SQ_OK;
    if (exists && !a->overwrite)
        return SQ_ERR_CONFLICT;
    if (a->p->has_binding && exists && old.binding_ns == NULL)
        return say(SQ_ERR_CONFLICT, a->err, a->errlen,
                   "Resource is a package and cannot be converted into a binding.");
    if (a->p->has_binding) {
        const reg_fqn *b = &a->p->binding;
        st = find_package(s, b->ns, b->name, false, a->ar, &target);
        if (st == SQ_ERR_NOT_FOUND)
            return say(SQ_ERR_BAD_REQUEST, a->err, a->errlen,
                       "Binding references a package that does not exist.");
        if (st != SQ_OK)
            return st;
        if (strcmp(b->ns, a->ns) != 0 && !target.publish)
            return say(SQ_ERR_FORBIDDEN, a->err, a->errlen,
                       "The supplied authentication is not authorized to access '%s/%s'.", b->ns,
                       b->name);
        if (target.binding_ns != NULL)
            return say(SQ_ERR_BAD_REQUEST, a->err, a->errlen,
                       "Cannot bind to another package binding.");
    }
    if ((st = reg_package_apply(exists ? &old : NULL, a->p, a->ns, a->name, a->ar, out, a->err,
                                a->errlen)) != SQ_OK)
        return st;
    *a->created = !exists;
    return write_package(s, exists ? SQL_P_UPDATE : SQL_P_INSERT, out);
}

sq_status reg_store_put_package(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                                const reg_entity_patch *p, sq_arena_t *ar, reg_package *out,
                                bool *created, char *err, size_t errlen)
{
    put_entity_arg a = { ns, name, overwrite, p, ar, out, created, err, errlen };
    return atomically(s, ns, put_package_work, &a);
}

typedef struct get_package_arg {
    const char *ns, *name;
    bool shared;
    sq_arena_t *ar;
    reg_package *out;
    reg_brief **actions;
    size_t *nactions;
    char *err;
    size_t errlen;
} get_package_arg;

static sq_status get_package_work(reg_store_t *s, void *arg)
{
    get_package_arg *a = arg;
    reg_package bound;
    const char *ans = a->ns, *apkg = a->name;
    sq_params p;
    sq_status st;

    if ((st = find_package(s, a->ns, a->name, false, a->ar, a->out)) != SQ_OK)
        return st;
    if (a->shared && !a->out->publish)
        return SQ_ERR_FORBIDDEN;
    if (a->out->binding_ns != NULL) {
        /* OpenWhisk's mergePackageWithBinding: the binding, with the bound package's
         * parameters under its own, and the bound package's actions. A binding whose
         * package is gone (or no longer shared) shows itself without actions. */
        st = find_package(s, a->out->binding_ns, a->out->binding_name, false, a->ar, &bound);
        if (st == SQ_ERR_NOT_FOUND ||
            (st == SQ_OK &&
             (bound.binding_ns != NULL ||
              (!bound.publish && (a->shared || strcmp(bound.namespace_, a->ns) != 0)))))
            return SQ_OK;
        if (st != SQ_OK)
            return st;
        const msgpack_object *layers[2] = { &bound.parameters, &a->out->parameters };
        if ((st = reg_kv_merge(layers, 2, a->ar, &a->out->parameters)) != SQ_OK)
            return st;
        ans = bound.namespace_;
        apkg = bound.name;
    }
    sq_params_init(&p);
    sq_params_str(&p, ans);
    sq_params_str(&p, apkg);
    return fetch_all(s, SQL_A_BRIEFS, &p, rd_brief, sizeof(reg_brief), a->ar, (void **)a->actions,
                     a->nactions);
}

sq_status reg_store_get_package(reg_store_t *s, const char *ns, const char *name, bool shared,
                                sq_arena_t *ar, reg_package *out, reg_brief **actions,
                                size_t *nactions, char *err, size_t errlen)
{
    get_package_arg a = { ns, name, shared, ar, out, actions, nactions, err, errlen };
    *actions = NULL;
    *nactions = 0;
    return atomically(s, NULL, get_package_work, &a);
}

typedef struct del_package_arg {
    const char *ns, *name;
    bool force;
    sq_arena_t *ar;
    reg_package *out;
    reg_change **deleted;
    size_t *ndeleted;
    char *err;
    size_t errlen;
} del_package_arg;

static sq_status delete_package_work(reg_store_t *s, void *arg)
{
    del_package_arg *a = arg;
    PGresult *r;
    sq_status st;
    int64_t n = 0;

    *a->deleted = NULL;
    *a->ndeleted = 0;
    if ((st = find_package(s, a->ns, a->name, true, a->ar, a->out)) != SQ_OK)
        return st;
    if (a->out->binding_ns == NULL) {
        /* a package may only go when its actions are gone (or go with it: force) */
        sq_params p;
        sq_params_init(&p);
        sq_params_str(&p, a->ns);
        sq_params_str(&p, a->name);
        if ((st = fetch_count(s, SQL_A_COUNT_PKG, &p, 0, &n)) != SQ_OK)
            return st;
        if (n > 0 && !a->force)
            return say(SQ_ERR_CONFLICT, a->err, a->errlen,
                       "Package not empty (contains %" PRId64 " %s)", n,
                       n == 1 ? "entity" : "entities");
        if (n > 0) {
            if ((r = run2(s, SQL_A_DELETE_PKG, a->ns, a->name)) == NULL)
                return SQ_ERR_DB;
            int rows = PQntuples(r);
            reg_change *c = msgpack_zone_malloc(a->ar, sizeof *c * (size_t)(rows ? rows : 1));
            if (c == NULL) {
                PQclear(r);
                return SQ_ERR_NOMEM;
            }
            for (int i = 0; i < rows; i++) {
                char *base = col_str(r, i, 0, a->ar);
                c[i].kind = SQ_KIND_ACTION;
                c[i].op = "delete";
                c[i].ns = (char *)a->ns;
                c[i].version = col_str(r, i, 1, a->ar);
                c[i].name = base ? reg_path_str(a->name, base, a->ar) : NULL;
                if (c[i].name == NULL || c[i].version == NULL) {
                    PQclear(r);
                    return SQ_ERR_NOMEM;
                }
            }
            PQclear(r);
            *a->deleted = c;
            *a->ndeleted = (size_t)rows;
        }
    }
    return find_by_name(s, SQL_P_DELETE, a->ns, a->name, rd_package, a->ar, a->out);
}

sq_status reg_store_delete_package(reg_store_t *s, const char *ns, const char *name, bool force,
                                   sq_arena_t *ar, reg_package *out, reg_change **deleted,
                                   size_t *ndeleted, char *err, size_t errlen)
{
    del_package_arg a = { ns, name, force, ar, out, deleted, ndeleted, err, errlen };
    return atomically(s, ns, delete_package_work, &a);
}

static sq_status list_packages_work(reg_store_t *s, void *arg)
{
    list_arg *a = arg;
    sq_params p;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_bool(&p, a->shared);
    sq_params_bool(&p, a->public_);
    if (a->count)
        return fetch_count(s, SQL_P_COUNT, &p, a->skip, a->total);
    sq_params_int(&p, a->limit);
    sq_params_int(&p, a->skip);
    return fetch_all(s, SQL_P_LIST, &p, rd_package, sizeof(reg_package), a->ar, a->items, a->n);
}

sq_status reg_store_list_packages(reg_store_t *s, const char *ns, bool public_, bool shared,
                                  int64_t skip, int64_t limit, bool count, sq_arena_t *ar,
                                  reg_package **items, size_t *n, int64_t *total)
{
    list_arg a = { .ns = ns,
                   .shared = shared,
                   .public_ = public_,
                   .count = count,
                   .skip = skip,
                   .limit = limit,
                   .ar = ar,
                   .items = (void **)items,
                   .n = n,
                   .total = total };
    *items = NULL;
    *n = 0;
    return atomically(s, NULL, list_packages_work, &a);
}

/* ---- triggers ----------------------------------------------------------------------------- */

static sq_status write_trigger(reg_store_t *s, const char *sql, const reg_trigger *t)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    sq_params_str(&p, t->namespace_);
    sq_params_str(&p, t->name);
    sq_params_str(&p, t->version);
    sq_params_bool(&p, t->publish);
    sq_params_mp(&p, &t->parameters, true);
    sq_params_mp(&p, &t->annotations, true);
    sq_params_int(&p, t->updated);
    r = run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    PQclear(r);
    sq_params_free(&p);
    return st;
}

static sq_status put_trigger_work(reg_store_t *s, void *arg)
{
    put_entity_arg *a = arg;
    reg_trigger old;
    sq_status st = find_by_name(s, SQL_T_LOCK, a->ns, a->name, rd_trigger, a->ar, &old);
    bool exists = st == SQ_OK;

    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    if (exists && !a->overwrite)
        return SQ_ERR_CONFLICT;
    if ((st = reg_trigger_apply(exists ? &old : NULL, a->p, a->ns, a->name, a->ar, a->out)) !=
        SQ_OK)
        return st;
    *a->created = !exists;
    return write_trigger(s, exists ? SQL_T_UPDATE : SQL_T_INSERT, a->out);
}

sq_status reg_store_put_trigger(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                                const reg_entity_patch *p, sq_arena_t *ar, reg_trigger *out,
                                bool *created, char *err, size_t errlen)
{
    put_entity_arg a = { ns, name, overwrite, p, ar, out, created, err, errlen };
    return atomically(s, ns, put_trigger_work, &a);
}

typedef struct get_trigger_arg {
    const char *ns, *name;
    bool with_rules;
    sq_arena_t *ar;
    reg_trigger *out;
    reg_rule **rules;
    size_t *nrules;
} get_trigger_arg;

static sq_status get_trigger_work(reg_store_t *s, void *arg)
{
    get_trigger_arg *a = arg;
    sq_status st = find_by_name(s, SQL_T_GET, a->ns, a->name, rd_trigger, a->ar, a->out);
    sq_params p;

    if (st != SQ_OK || !a->with_rules)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_str(&p, a->name);
    return fetch_all(s, SQL_R_OF_TRIGGER, &p, rd_rule, sizeof(reg_rule), a->ar, (void **)a->rules,
                     a->nrules);
}

sq_status reg_store_get_trigger(reg_store_t *s, const char *ns, const char *name, bool with_rules,
                                sq_arena_t *ar, reg_trigger *out, reg_rule **rules, size_t *nrules)
{
    reg_rule *none = NULL;
    size_t nnone = 0;
    get_trigger_arg a = {
        ns, name, with_rules, ar, out, rules ? rules : &none, nrules ? nrules : &nnone
    };
    *a.rules = NULL;
    *a.nrules = 0;
    return atomically(s, NULL, get_trigger_work, &a);
}

typedef struct del_trigger_arg {
    const char *ns, *name;
    sq_arena_t *ar;
    reg_trigger *out;
    reg_change **changed;
    size_t *nchanged;
} del_trigger_arg;

static sq_status delete_trigger_work(reg_store_t *s, void *arg)
{
    del_trigger_arg *a = arg;
    PGresult *r;
    sq_status st;
    int rows;

    *a->changed = NULL;
    *a->nchanged = 0;
    if ((st = find_by_name(s, SQL_T_DELETE, a->ns, a->name, rd_trigger, a->ar, a->out)) != SQ_OK)
        return st;
    /* the trigger's rules stay, inactive: a trigger made again under the name does not fire
     * them until they are enabled again (OpenWhisk keeps a trigger's rule links in it) */
    if ((r = run2(s, SQL_R_DEACTIVATE, a->ns, a->name)) == NULL)
        return SQ_ERR_DB;
    rows = PQntuples(r);
    if (rows > 0) {
        reg_change *c = msgpack_zone_malloc(a->ar, sizeof *c * (size_t)rows);
        if (c == NULL) {
            PQclear(r);
            return SQ_ERR_NOMEM;
        }
        for (int i = 0; i < rows; i++) {
            c[i].kind = SQ_KIND_RULE;
            c[i].op = "put";
            c[i].ns = col_str(r, i, 0, a->ar);
            c[i].name = col_str(r, i, 1, a->ar);
            c[i].version = col_str(r, i, 2, a->ar);
            if (c[i].ns == NULL || c[i].name == NULL || c[i].version == NULL) {
                PQclear(r);
                return SQ_ERR_NOMEM;
            }
        }
        *a->changed = c;
        *a->nchanged = (size_t)rows;
    }
    PQclear(r);
    return SQ_OK;
}

sq_status reg_store_delete_trigger(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                                   reg_trigger *out, reg_change **changed, size_t *nchanged)
{
    del_trigger_arg a = { ns, name, ar, out, changed, nchanged };
    return atomically(s, ns, delete_trigger_work, &a);
}

static sq_status list_simple_work(reg_store_t *s, list_arg *a, const char *list_sql,
                                  const char *count_sql, row_reader rd, size_t elem)
{
    sq_params p;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    if (a->count)
        return fetch_count(s, count_sql, &p, a->skip, a->total);
    sq_params_int(&p, a->limit);
    sq_params_int(&p, a->skip);
    return fetch_all(s, list_sql, &p, rd, elem, a->ar, a->items, a->n);
}

static sq_status list_triggers_work(reg_store_t *s, void *arg)
{
    return list_simple_work(s, arg, SQL_T_LIST, SQL_T_COUNT, rd_trigger, sizeof(reg_trigger));
}

sq_status reg_store_list_triggers(reg_store_t *s, const char *ns, int64_t skip, int64_t limit,
                                  bool count, sq_arena_t *ar, reg_trigger **items, size_t *n,
                                  int64_t *total)
{
    list_arg a = { .ns = ns,
                   .count = count,
                   .skip = skip,
                   .limit = limit,
                   .ar = ar,
                   .items = (void **)items,
                   .n = n,
                   .total = total };
    *items = NULL;
    *n = 0;
    return atomically(s, NULL, list_triggers_work, &a);
}

/* ---- rules -------------------------------------------------------------------------------- */

static sq_status write_rule(reg_store_t *s, const char *sql, const reg_rule *u)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    sq_params_str(&p, u->namespace_);
    sq_params_str(&p, u->name);
    sq_params_str(&p, u->version);
    sq_params_bool(&p, u->publish);
    sq_params_mp(&p, &u->annotations, true);
    sq_params_str(&p, u->status);
    sq_params_str(&p, u->trigger_ns);
    sq_params_str(&p, u->trigger_name);
    sq_params_str(&p, u->action_path);
    sq_params_str(&p, u->action_name);
    sq_params_int(&p, u->updated);
    r = run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    PQclear(r);
    sq_params_free(&p);
    return st;
}

/* A rule's references, checked as OpenWhisk's checkTriggerAndActionExist does (400 when
 * missing) after its entitlement check (403 for what the namespace may not read). */
static sq_status check_rule_refs(reg_store_t *s, const char *ns, const reg_rule *u, sq_arena_t *ar,
                                 char *err, size_t errlen)
{
    const char *slash = strchr(u->action_path, '/');
    char *ans = (char *)u->action_path, *apkg = NULL, *rns, *rpkg;
    reg_trigger t;
    sq_action act;
    sq_status st;

    if (strcmp(u->trigger_ns, ns) != 0)
        return say(SQ_ERR_FORBIDDEN, err, errlen,
                   "The supplied authentication is not authorized to access '%s/%s'.",
                   u->trigger_ns, u->trigger_name);
    st = find_by_name(s, SQL_T_GET, u->trigger_ns, u->trigger_name, rd_trigger, ar, &t);
    if (st == SQ_ERR_NOT_FOUND)
        return say(SQ_ERR_BAD_REQUEST, err, errlen, "trigger /%s/%s does not exist", u->trigger_ns,
                   u->trigger_name);
    if (st != SQ_OK)
        return st;
    if (slash != NULL) {
        if ((ans = msgpack_zone_malloc(ar, (size_t)(slash - u->action_path) + 1)) == NULL)
            return SQ_ERR_NOMEM;
        memcpy(ans, u->action_path, (size_t)(slash - u->action_path));
        ans[slash - u->action_path] = '\0';
        apkg = (char *)slash + 1;
    }
    st = resolve_pkg(s, ans, apkg, strcmp(ans, ns) != 0, ar, &rns, &rpkg, NULL, NULL, 0);
    if (st == SQ_OK)
        st = find_action(s, rns, rpkg, u->action_name, false, false, ar, &act);
    if (st == SQ_ERR_NOT_FOUND)
        return say(SQ_ERR_BAD_REQUEST, err, errlen, "action /%s/%s does not exist", u->action_path,
                   u->action_name);
    if (st == SQ_ERR_FORBIDDEN)
        return say(st, err, errlen,
                   "The supplied authentication is not authorized to access '%s/%s'.",
                   u->action_path, u->action_name);
    return st;
}

static sq_status put_rule_work(reg_store_t *s, void *arg)
{
    put_entity_arg *a = arg;
    reg_rule old, *out = a->out;
    sq_status st = find_by_name(s, SQL_R_LOCK, a->ns, a->name, rd_rule, a->ar, &old);
    bool exists = st == SQ_OK;

    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    if (exists && !a->overwrite)
        return SQ_ERR_CONFLICT;
    if ((st = reg_rule_apply(exists ? &old : NULL, a->p, a->ns, a->name, a->ar, out, a->err,
                             a->errlen)) != SQ_OK ||
        (st = check_rule_refs(s, a->ns, out, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    *a->created = !exists;
    return write_rule(s, exists ? SQL_R_UPDATE : SQL_R_INSERT, out);
}

sq_status reg_store_put_rule(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                             const reg_entity_patch *p, sq_arena_t *ar, reg_rule *out,
                             bool *created, char *err, size_t errlen)
{
    put_entity_arg a = { ns, name, overwrite, p, ar, out, created, err, errlen };
    return atomically(s, ns, put_rule_work, &a);
}

typedef struct rule_status_arg {
    const char *ns, *name, *status;
    sq_arena_t *ar;
    reg_rule *out;
    char *err;
    size_t errlen;
} rule_status_arg;

static sq_status rule_status_work(reg_store_t *s, void *arg)
{
    rule_status_arg *a = arg;
    reg_trigger t;
    PGresult *r;
    sq_status st;

    if ((st = find_by_name(s, SQL_R_LOCK, a->ns, a->name, rd_rule, a->ar, a->out)) != SQ_OK)
        return st;
    if (strcmp(a->out->status, a->status) == 0)
        return SQ_OK;
    if (strcmp(a->status, REG_RULE_ACTIVE) == 0) {
        st = find_by_name(s, SQL_T_GET, a->out->trigger_ns, a->out->trigger_name, rd_trigger, a->ar,
                          &t);
        if (st == SQ_ERR_NOT_FOUND)
            return say(st, a->err, a->errlen, "Only rules with existing triggers can be activated");
        if (st != SQ_OK)
            return st;
    }
    if ((r = run3(s, SQL_R_STATUS, a->ns, a->name, a->status)) == NULL)
        return SQ_ERR_DB;
    PQclear(r);
    a->out->status = (char *)a->status;
    return SQ_OK;
}

sq_status reg_store_set_rule_status(reg_store_t *s, const char *ns, const char *name,
                                    const char *status, sq_arena_t *ar, reg_rule *out, char *err,
                                    size_t errlen)
{
    rule_status_arg a = { ns, name, status, ar, out, err, errlen };
    return atomically(s, ns, rule_status_work, &a);
}

typedef struct rule_ref_arg {
    const char *sql, *ns, *name;
    sq_arena_t *ar;
    reg_rule *out;
} rule_ref_arg;

static sq_status rule_ref_work(reg_store_t *s, void *arg)
{
    rule_ref_arg *a = arg;
    return find_by_name(s, a->sql, a->ns, a->name, rd_rule, a->ar, a->out);
}

sq_status reg_store_get_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                             reg_rule *out)
{
    rule_ref_arg a = { SQL_R_GET, ns, name, ar, out };
    return atomically(s, NULL, rule_ref_work, &a);
}

sq_status reg_store_delete_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                                reg_rule *out)
{
    rule_ref_arg a = { SQL_R_DELETE, ns, name, ar, out };
    return atomically(s, ns, rule_ref_work, &a);
}

static sq_status list_rules_work(reg_store_t *s, void *arg)
{
    return list_simple_work(s, arg, SQL_R_LIST, SQL_R_COUNT, rd_rule, sizeof(reg_rule));
}

sq_status reg_store_list_rules(reg_store_t *s, const char *ns, int64_t skip, int64_t limit,
                               bool count, sq_arena_t *ar, reg_rule **items, size_t *n,
                               int64_t *total)
{
    list_arg a = { .ns = ns,
                   .count = count,
                   .skip = skip,
                   .limit = limit,
                   .ar = ar,
                   .items = (void **)items,
                   .n = n,
                   .total = total };
    *items = NULL;
    *n = 0;
    return atomically(s, NULL, list_rules_work, &a);
}

/* ---- the system packages ---------------------------------------------------------------- */

typedef struct system_arg {
    const char *pkg;
    const reg_entity_patch *pkg_patch;
    const reg_system_action *actions;
    size_t n;
    sq_arena_t *ar;
    reg_change *changed; /* room for n + deleted + 1 */
    size_t nchanged, cap;
} system_arg;

static bool same_mp(const msgpack_object *a, const msgpack_object *b)
{
    msgpack_sbuffer x, y;
    msgpack_packer pk;
    bool same;
    msgpack_sbuffer_init(&x);
    msgpack_sbuffer_init(&y);
    msgpack_packer_init(&pk, &x, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *a);
    msgpack_packer_init(&pk, &y, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *b);
    same = x.size == y.size && memcmp(x.data, y.data, x.size) == 0;
    msgpack_sbuffer_destroy(&x);
    msgpack_sbuffer_destroy(&y);
    return same;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void note_change(system_arg *a, const char *kind, const char *op, const char *name,
                        const char *version)
{
    if (a->nchanged < a->cap)
        a->changed[a->nchanged++] = (reg_change){ .kind = kind,
                                                  .op = op,
                                                  .ns = REG_SYSTEM_NS,
                                                  .name = (char *)name,
                                                  .version = (char *)version };
}

static sq_status system_work(reg_store_t *s, void *arg)
{
    system_arg *a = arg;
    reg_package old, pkg;
    PGresult *r;
    sq_status st;
    bool exists;

    a->nchanged = 0;
    st = find_package(s, REG_SYSTEM_NS, a->pkg, true, a->ar, &old);
    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    exists = st == SQ_OK;
    if (exists && old.binding_ns != NULL)
        return SQ_ERR_CONFLICT;
    if ((st = reg_package_apply(exists ? &old : NULL, a->pkg_patch, REG_SYSTEM_NS, a->pkg, a->ar,
                                &pkg, NULL, 0)) != SQ_OK)
        return st;
    if (!exists || old.publish != pkg.publish || !same_mp(&old.parameters, &pkg.parameters) ||
        !same_mp(&old.annotations, &pkg.annotations)) {
        if ((st = write_package(s, exists ? SQL_P_UPDATE : SQL_P_INSERT, &pkg)) != SQ_OK)
            return st;
        note_change(a, SQ_KIND_PACKAGE, "put", a->pkg, pkg.version);
    }
    for (size_t i = 0; i < a->n; i++) {
        const reg_system_action *x = &a->actions[i];
        sq_action cur, next;
        char *path = reg_path_str(REG_SYSTEM_NS, a->pkg, a->ar);
        if (path == NULL)
            return SQ_ERR_NOMEM;
        st = find_action(s, REG_SYSTEM_NS, a->pkg, x->name, true, true, a->ar, &cur);
        if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
            return st;
        exists = st == SQ_OK;
        if ((st = reg_patch_apply(exists ? &cur : NULL, &x->patch, path, x->name, a->ar, &next,
                                  NULL, 0)) != SQ_OK)
            return st;
        if (exists && same_str(cur.exec.kind, next.exec.kind) &&
            same_str(cur.exec.code, next.exec.code) && cur.publish == next.publish &&
            same_mp(&cur.annotations, &next.annotations) &&
            same_mp(&cur.parameters, &next.parameters))
            continue;
        if ((st = write_action(s, exists ? SQL_A_UPDATE : SQL_A_INSERT, REG_SYSTEM_NS, a->pkg,
                               x->name, &next)) != SQ_OK)
            return st;
        note_change(a, SQ_KIND_ACTION, "put", reg_path_str(a->pkg, x->name, a->ar), next.version);
    }
    /* actions no longer shipped go */
    if ((r = run2(s, SQL_A_NAMES_PKG, REG_SYSTEM_NS, a->pkg)) == NULL)
        return SQ_ERR_DB;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        bool shipped = false;
        sq_action gone;
        sq_params p;
        for (size_t j = 0; j < a->n && !shipped; j++)
            shipped = strcmp(a->actions[j].name, name) == 0;
        if (shipped)
            continue;
        sq_params_init(&p);
        sq_params_str(&p, REG_SYSTEM_NS);
        sq_params_str(&p, a->pkg);
        sq_params_str(&p, name);
        if ((st = fetch_one(s, SQL_A_DELETE, &p, rd_action, a->ar, &gone)) != SQ_OK) {
            PQclear(r);
            return st;
        }
        note_change(a, SQ_KIND_ACTION, "delete", reg_path_str(a->pkg, gone.name, a->ar),
                    gone.version);
    }
    PQclear(r);
    return SQ_OK;
}

sq_status reg_store_system_package(reg_store_t *s, const char *pkg,
                                   const reg_entity_patch *pkg_patch,
                                   const reg_system_action *actions, size_t n, sq_arena_t *ar,
                                   reg_change **changed, size_t *nchanged)
{
    size_t cap = n + 64 + 1;
    system_arg a = { pkg, pkg_patch, actions,
                     n,   ar,        msgpack_zone_malloc(ar, sizeof(reg_change) * cap),
                     0,   cap };
    sq_status st;

    *changed = NULL;
    *nchanged = 0;
    if (a.changed == NULL)
        return SQ_ERR_NOMEM;
    if ((st = atomically(s, REG_SYSTEM_NS, system_work, &a)) == SQ_OK) {
        *changed = a.changed;
        *nchanged = a.nchanged;
    }
    return st;
}

/* ---- purge of a deleted namespace ------------------------------------------------------------ */

typedef struct purge_arg {
    const char *ns;
    int64_t at;
    sq_arena_t *ar;
    reg_change *out;
    size_t n, cap;
} purge_arg;

static sq_status purge_one(reg_store_t *s, purge_arg *a, const char *sql, const char *kind,
                           bool packaged)
{
    sq_params p;
    PGresult *r;
    int rows;

    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_int(&p, a->at);
    if ((r = run(s, sql, &p)) == NULL || !sq_pg_ok(r)) {
        PQclear(r);
        return SQ_ERR_DB;
    }
    rows = PQntuples(r);
    if (a->n + (size_t)rows > a->cap) {
        size_t cap = (a->n + (size_t)rows) * 2 + 16;
        reg_change *c = msgpack_zone_malloc(a->ar, cap * sizeof *c);
        if (c == NULL) {
            PQclear(r);
            return SQ_ERR_NOMEM;
        }
        if (a->n > 0)
            memcpy(c, a->out, a->n * sizeof *c);
        a->out = c;
        a->cap = cap;
    }
    for (int i = 0; i < rows; i++) {
        reg_change *c = &a->out[a->n];
        const char *pkg = packaged ? PQgetvalue(r, i, 1) : "";
        c->kind = kind;
        c->op = "delete";
        c->version = "";
        c->name = col_str(r, i, 0, a->ar);
        c->ns = pkg[0] ? reg_path_str(a->ns, pkg, a->ar)
                       : (char *)a->ns; /* "ns/pkg" as events name it */
        if (c->name == NULL || c->ns == NULL) {
            PQclear(r);
            return SQ_ERR_NOMEM;
        }
        a->n++;
    }
    PQclear(r);
    return SQ_OK;
}

static sq_status purge_work(reg_store_t *s, void *arg)
{
    purge_arg *a = arg;
    sq_status st;

    /* routes and rules before triggers and actions: what points at something goes first */
    static const struct {
        const char *table, *returning, *kind;
        bool packaged;
    } order[] = {
        { "registry_routes", "basepath", SQ_KIND_ROUTE, false },
        { "registry_rules", "name", SQ_KIND_RULE, false },
        { "registry_triggers", "name", SQ_KIND_TRIGGER, false },
        { "registry_actions", "name, package", SQ_KIND_ACTION, true },
        { "registry_packages", "name", SQ_KIND_PACKAGE, false },
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s WHERE namespace = $1 AND updated <= $2::int8 RETURNING %s",
                 order[i].table, order[i].returning);
        if ((st = purge_one(s, a, sql, order[i].kind, order[i].packaged)) != SQ_OK)
            return st;
    }
    return SQ_OK;
}

sq_status reg_store_purge_ns(reg_store_t *s, const char *ns, int64_t at, sq_arena_t *ar,
                             reg_change **deleted, size_t *ndeleted)
{
    purge_arg a = { .ns = ns, .at = at, .ar = ar };
    sq_status st = atomically(s, ns, purge_work, &a);
    *deleted = st == SQ_OK ? a.out : NULL;
    *ndeleted = st == SQ_OK ? a.n : 0;
    return st;
}
