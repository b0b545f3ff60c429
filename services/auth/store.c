/* The auth service's tables (auth_subjects, auth_namespaces, auth_keys): every SQL
 * statement of the service lives here. One connection, guarded by a mutex (each NATS route
 * delivers on its own thread). A statement that fails because the connection broke (the
 * server restarted) is retried once on a reset connection; results come back in binary
 * format so that the bytea columns need no unescaping. */
#include "auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"

struct auth_store {
    PGconn *conn;
    pthread_mutex_t lock;
};

sq_status auth_store_open(auth_store_t **out, const char *dsn, const char *schema_dir, int wait_ms)
{
    auth_store_t *s = calloc(1, sizeof *s);
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
    auth_store_close(s);
    return st;
}

void auth_store_close(auth_store_t *s)
{
    if (s == NULL)
        return;
    if (s->conn != NULL)
        PQfinish(s->conn);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static bool broken(auth_store_t *s)
{
    return PQstatus(s->conn) != CONNECTION_OK;
}

static bool res_ok(PGresult *r)
{
    ExecStatusType t = PQresultStatus(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

/* Runs one statement, text parameters, binary results; NULL-safe result to PQclear. */
static PGresult *run(auth_store_t *s, const char *sql, int n, const char *const *vals,
                     const int *lens, const int *fmts)
{
    PGresult *r = PQexecParams(s->conn, sql, n, NULL, vals, lens, fmts, 1);
    if (!res_ok(r))
        sq_error("could not run auth statement: %s", PQerrorMessage(s->conn));
    return r;
}

static bool exec_simple(auth_store_t *s, const char *sql)
{
    PGresult *r = run(s, sql, 0, NULL, NULL, NULL);
    bool ok = res_ok(r);
    PQclear(r);
    return ok;
}

static char *col_str(PGresult *r, int row, int col, sq_arena_t *ar)
{
    int n = PQgetlength(r, row, col);
    char *p = msgpack_zone_malloc(ar, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, PQgetvalue(r, row, col), (size_t)n);
    p[n] = '\0';
    return p;
}

/* Fills row from columns salt, hash, subject, namespace, blocked of result row 0. */
static sq_status read_row(PGresult *r, sq_arena_t *ar, auth_key_row *row)
{
    if (PQgetlength(r, 0, 0) != AUTH_SALT_LEN || PQgetlength(r, 0, 1) != AUTH_HASH_LEN ||
        PQgetlength(r, 0, 4) != 1) {
        sq_error("stored key has a malformed salt or hash");
        return SQ_ERR_DB;
    }
    memcpy(row->salt, PQgetvalue(r, 0, 0), AUTH_SALT_LEN);
    memcpy(row->hash, PQgetvalue(r, 0, 1), AUTH_HASH_LEN);
    row->subject = col_str(r, 0, 2, ar);
    row->namespace_ = col_str(r, 0, 3, ar);
    row->blocked = PQgetvalue(r, 0, 4)[0] != 0;
    return row->subject && row->namespace_ ? SQ_OK : SQ_ERR_NOMEM;
}

static const char SQL_LOOKUP[] =
    "SELECT k.salt, k.hash, k.subject, k.namespace, s.blocked"
    "  FROM auth_keys k JOIN auth_subjects s ON s.name = k.subject"
    " WHERE k.uuid = $1::uuid";

sq_status auth_store_lookup(auth_store_t *s, const char *uuid, sq_arena_t *ar, auth_key_row *row)
{
    const char *vals[1] = { uuid };
    PGresult *r = NULL;
    sq_status st = SQ_ERR_DB;

    pthread_mutex_lock(&s->lock);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (broken(s) && sq_pg_ensure(s->conn) != SQ_OK)
            continue;
        PQclear(r);
        r = run(s, SQL_LOOKUP, 1, vals, NULL, NULL);
        if (res_ok(r)) {
            st = PQntuples(r) == 0 ? SQ_ERR_NOT_FOUND : read_row(r, ar, row);
            break;
        }
        if (!broken(s))
            break; /* a real error, not a dropped connection: do not retry */
    }
    PQclear(r);
    pthread_mutex_unlock(&s->lock);
    return st;
}

static sq_status bootstrap_tx(auth_store_t *s, const char *subject, const char *ns,
                              const char *uuid, const unsigned char *salt,
                              const unsigned char *hash, sq_arena_t *ar, auth_key_row *row)
{
    const char *sub_vals[1] = { subject };
    const char *ns_vals[2] = { ns, subject };
    const char *key_vals[5] = { uuid, subject, ns, (const char *)salt, (const char *)hash };
    const int key_lens[5] = { 0, 0, 0, AUTH_SALT_LEN, AUTH_HASH_LEN };
    const int key_fmts[5] = { 0, 0, 0, 1, 1 };
    const char *sel_vals[1] = { uuid };
    PGresult *r;
    sq_status st = SQ_ERR_DB;

    if (!exec_simple(s, "BEGIN"))
        return SQ_ERR_DB;
    r = run(s, "INSERT INTO auth_subjects(name) VALUES ($1) ON CONFLICT DO NOTHING", 1,
            sub_vals, NULL, NULL);
    if (!res_ok(r))
        goto done;
    PQclear(r);
    r = run(s, "INSERT INTO auth_namespaces(name, subject) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            2, ns_vals, NULL, NULL);
    if (!res_ok(r))
        goto done;
    PQclear(r);
    r = run(s, "INSERT INTO auth_keys(uuid, subject, namespace, salt, hash)"
               " VALUES ($1::uuid, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            5, key_vals, key_lens, key_fmts);
    if (!res_ok(r))
        goto done;
    PQclear(r);
    r = run(s, SQL_LOOKUP, 1, sel_vals, NULL, NULL);
    if (!res_ok(r))
        goto done;
    if (PQntuples(r) != 1) {
        sq_error("bootstrap key \"%s\" vanished", uuid);
        goto done;
    }
    st = read_row(r, ar, row);
done:
    PQclear(r);
    if (st == SQ_OK && exec_simple(s, "COMMIT"))
        return SQ_OK;
    if (!broken(s))
        exec_simple(s, "ROLLBACK");
    return st == SQ_OK ? SQ_ERR_DB : st;
}

sq_status auth_store_bootstrap(auth_store_t *s, const char *subject, const char *ns,
                               const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                               const unsigned char hash[AUTH_HASH_LEN], sq_arena_t *ar,
                               auth_key_row *row)
{
    sq_status st = SQ_ERR_DB;

    pthread_mutex_lock(&s->lock);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (broken(s) && sq_pg_ensure(s->conn) != SQ_OK)
            continue;
        st = bootstrap_tx(s, subject, ns, uuid, salt, hash, ar, row);
        if (st == SQ_OK || !broken(s))
            break;
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

sq_status auth_store_set_secret(auth_store_t *s, const char *uuid,
                                const unsigned char salt[AUTH_SALT_LEN],
                                const unsigned char hash[AUTH_HASH_LEN])
{
    const char *vals[3] = { uuid, (const char *)salt, (const char *)hash };
    const int lens[3] = { 0, AUTH_SALT_LEN, AUTH_HASH_LEN };
    const int fmts[3] = { 0, 1, 1 };
    PGresult *r = NULL;
    sq_status st = SQ_ERR_DB;

    pthread_mutex_lock(&s->lock);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (broken(s) && sq_pg_ensure(s->conn) != SQ_OK)
            continue;
        PQclear(r);
        r = run(s, "UPDATE auth_keys SET salt = $2, hash = $3 WHERE uuid = $1::uuid", 3, vals,
                lens, fmts);
        if (res_ok(r)) {
            st = strcmp(PQcmdTuples(r), "1") == 0 ? SQ_OK : SQ_ERR_NOT_FOUND;
            break;
        }
        if (!broken(s))
            break;
    }
    PQclear(r);
    pthread_mutex_unlock(&s->lock);
    return st;
}
