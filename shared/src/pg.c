/* PostgreSQL connection and migrations; see pg.h. */
#include "sq/pg.h"
#include "sq/log.h"
#include "sq/metrics.h"
#include "sq/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Any fixed number: all services agree on it. */
#define MIGRATION_LOCK 0x5351414c4cLL

/* Server notices ("relation ... already exists, skipping") go to the debug log, in our
 * format, rather than raw to stderr. */
static void on_notice(void *arg, const char *message)
{
    sq_debug("postgresql: %s", sq_pg_text(message));
}

const char *sq_pg_text(const char *message)
{
    static _Thread_local char buf[1024];
    char *e;

    sq_mask_secrets(message ? message : "", buf, sizeof buf);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
    e = buf + strlen(buf);
    while (e > buf && e[-1] == ' ')
        *--e = '\0';
    return *buf ? buf : "unknown error";
}

/* Metrics (sq/metrics.h): registered at the first connect, so a service using PostgreSQL
 * shows them at 0 from the start. */
static sq_metric *m_errors, *m_reconnects[2];
static pthread_once_t m_once = PTHREAD_ONCE_INIT;

static void metrics_register(void)
{
    m_errors = sq_metric_counter("sq_postgresql_errors_total",
                                 "errors PostgreSQL reported (each one logged)", NULL);
    m_reconnects[0] =
        sq_metric_counter("sq_postgresql_reconnects_total",
                          "reconnections after a lost connection, by result", "result=\"ok\"");
    m_reconnects[1] =
        sq_metric_counter("sq_postgresql_reconnects_total",
                          "reconnections after a lost connection, by result", "result=\"failed\"");
}

const char *sq_pg_error(const PGconn *conn)
{
    pthread_once(&m_once, metrics_register);
    sq_metric_inc(m_errors);
    return sq_pg_text(conn ? PQerrorMessage(conn) : NULL);
}

/* The database conninfo names is missing: when the role may (CREATEDB or superuser), create
 * it over a connection to the database `postgres` with the same hosts, user and password
 * (libpq's multi-host and target_session_attrs included, so on the primary). Off with
 * SQ_PG_CREATE_DB=false. true when it exists now. */
static bool create_database(const char *conninfo)
{
    const char *off = getenv("SQ_PG_CREATE_DB");
    const char *keys[] = { "dbname", "dbname", NULL };
    const char *vals[] = { conninfo, "postgres", NULL };
    char *dbname = NULL, *perr = NULL;
    PQconninfoOption *opts;
    PGconn *c;
    PGresult *r;
    bool ok = false;

    if (off != NULL &&
        (!strcmp(off, "false") || !strcmp(off, "0") || !strcmp(off, "no") || !strcmp(off, "off")))
        return false;
    if ((opts = PQconninfoParse(conninfo, &perr)) == NULL) {
        PQfreemem(perr);
        return false;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "dbname") && o->val && *o->val)
            dbname = strdup(o->val);
    PQconninfoFree(opts);
    if (dbname == NULL || !strcmp(dbname, "postgres")) {
        free(dbname);
        return false;
    }
    /* the first dbname is the whole connection string, expanded; the second overrides */
    c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        sq_warn("database \"%s\" is missing and the maintenance database \"postgres\" cannot be "
                "reached "
                "to create it: %s",
                dbname, sq_pg_error(c));
        goto done;
    }
    r = PQexec(c, "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user");
    ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!ok) {
        sq_warn("database \"%s\" is missing and role \"%s\" may not create it (no CREATEDB): "
                "create it as the operator (docs/DEPLOY.md)",
                dbname, PQuser(c));
        goto done;
    }
    {
        char *ident = PQescapeIdentifier(c, dbname, strlen(dbname));
        char sql[512];
        if (ident == NULL ||
            (size_t)snprintf(sql, sizeof sql, "CREATE DATABASE %s", ident) >= sizeof sql) {
            PQfreemem(ident);
            ok = false;
            goto done;
        }
        PQfreemem(ident);
        r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            sq_info("created database \"%s\" (it was missing; role \"%s\" has CREATEDB)", dbname,
                    PQuser(c));
        else {
            const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            /* 42P04 duplicate_database: another copy made it meanwhile */
            ok = code != NULL && !strcmp(code, "42P04");
            if (!ok)
                sq_error("could not create database \"%s\": %s", dbname, sq_pg_error(c));
        }
        PQclear(r);
    }
done:
    PQfinish(c);
    free(dbname);
    return ok;
}

sq_status sq_pg_connect(PGconn **out, const char *conninfo, int wait_ms)
{
    bool tried_create = false;

    pthread_once(&m_once, metrics_register);
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);

    /* libpq's parse errors quote the string around the fault, which may be a password */
    *out = NULL;
    if (opts == NULL) {
        sq_error(
            "could not parse the PostgreSQL connection string (not shown: it may hold a password)");
        PQfreemem(perr);
        return SQ_ERR_BAD_REQUEST;
    }
    PQconninfoFree(opts);
    for (int waited = 0;; waited += 200) {
        PGconn *c = PQconnectdb(conninfo);
        if (PQstatus(c) == CONNECTION_OK) {
            const char *su = PQparameterStatus(c, "is_superuser");
            PQsetNoticeProcessor(c, on_notice, NULL);
            if (su != NULL && strcmp(su, "on") == 0)
                sq_warn("connected to PostgreSQL as superuser \"%s\": a service should use a role "
                        "that owns its own tables only",
                        PQuser(c));
            *out = c;
            return SQ_OK;
        }
        if (!tried_create && strstr(PQerrorMessage(c), "does not exist") != NULL &&
            strstr(PQerrorMessage(c), "database") != NULL) {
            tried_create = true;
            if (create_database(conninfo)) {
                PQfinish(c);
                continue;
            }
        }
        if (waited >= wait_ms) {
            sq_error("could not connect to PostgreSQL: %s", sq_pg_error(c));
            PQfinish(c);
            *out = NULL;
            return SQ_ERR_DB;
        }
        PQfinish(c);
        usleep(200 * 1000);
    }
}

/* PQreset reconnects with the connection's own options: with several hosts (host=a,b
 * target_session_attrs=read-write) it tries them in order and keeps the first writable one,
 * so after a failover the promoted standby is found. */
sq_status sq_pg_ensure(PGconn *conn)
{
    if (PQstatus(conn) == CONNECTION_OK)
        return SQ_OK;
    PQreset(conn);
    pthread_once(&m_once, metrics_register);
    sq_metric_inc(m_reconnects[PQstatus(conn) == CONNECTION_OK ? 0 : 1]);
    if (PQstatus(conn) == CONNECTION_OK) {
        sq_info("reconnected to PostgreSQL");
        return SQ_OK;
    }
    return SQ_ERR_DB;
}

void sq_pg_ping(const char *dsn, char *out, size_t outlen)
{
    /* the first dbname is the whole connection string; connect_timeout bounds a host that
     * does not answer at all */
    const char *keys[] = { "dbname", "connect_timeout", NULL };
    const char *vals[] = { dsn, "2", NULL };
    switch (PQpingParams(keys, vals, 1)) {
    case PQPING_OK: snprintf(out, outlen, "ok"); break;
    case PQPING_REJECT:
        snprintf(out, outlen, "the server refuses connections (starting up or shutting down)");
        break;
    case PQPING_NO_RESPONSE: snprintf(out, outlen, "no answer from the server"); break;
    default: snprintf(out, outlen, "the connection string is not usable"); break;
    }
}

static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        sq_error("could not run migration statement: %s", sq_pg_error(c));
    PQclear(r);
    return ok;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_migration(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && d->d_name[0] >= '0' && d->d_name[0] <= '9' &&
           strcmp(d->d_name + n - 4, ".sql") == 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else
            buf[n] = '\0';
    }
    fclose(f);
    return buf;
}

/* An owner names a directory and a table: lower-case letters, digits and '_' only. */
static bool owner_valid(const char *owner)
{
    size_t n = strlen(owner);
    if (n == 0 || n > 40 || !islower((unsigned char)owner[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)owner[i]) && !isdigit((unsigned char)owner[i]) &&
            owner[i] != '_')
            return false;
    return true;
}

/* The statements of owner's bookkeeping table. */
typedef struct migration_sql {
    char create[256], done[160], record[160];
} migration_sql;

/* Applies migration dir/name in its own transaction unless it is recorded already. */
static sq_status apply_one(PGconn *conn, const migration_sql *q, const char *dir, const char *owner,
                           const char *name)
{
    const char *params[1] = { name };
    char path[4096 + 256];
    char *sql;
    PGresult *r;
    int done;
    sq_status st = SQ_OK;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!exec_ok(conn, "BEGIN"))
        return SQ_ERR_DB;
    r = PQexecParams(conn, q->done, 1, NULL, params, NULL, NULL, 0);
    done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
    if (done) {
        exec_ok(conn, "COMMIT");
        return SQ_OK;
    }
    if ((sql = slurp(path)) == NULL) {
        sq_error("could not read migration \"%s\"", path);
        exec_ok(conn, "ROLLBACK");
        return SQ_ERR_IO;
    }
    if (!exec_ok(conn, sql)) {
        sq_error("migration \"%s/%s\" failed", owner, name);
        exec_ok(conn, "ROLLBACK");
        st = SQ_ERR_DB;
    } else {
        r = PQexecParams(conn, q->record, 1, NULL, params, NULL, NULL, 0);
        done = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        /* COMMIT of a failed transaction "succeeds" as a rollback: check the insert */
        if (done && exec_ok(conn, "COMMIT"))
            sq_info("applied migration \"%s/%s\"", owner, name);
        else {
            sq_error("could not record migration \"%s/%s\": %s", owner, name, sq_pg_error(conn));
            exec_ok(conn, "ROLLBACK");
            st = SQ_ERR_DB;
        }
    }
    free(sql);
    return st;
}

sq_status sq_pg_migrate(PGconn *conn, const char *schema_dir, const char *owner)
{
    struct dirent **list = NULL;
    sq_status st = SQ_OK;
    migration_sql q;
    char lock[128], dir[4096];
    int n;

    if (!owner_valid(owner)) {
        sq_error("invalid migration owner \"%s\"", owner);
        return SQ_ERR_INTERNAL;
    }
    snprintf(dir, sizeof dir, "%s/%s", schema_dir, owner);
    snprintf(q.create, sizeof q.create,
             "CREATE TABLE IF NOT EXISTS %s_schema_migrations ("
             " name text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
             owner);
    snprintf(q.done, sizeof q.done, "SELECT 1 FROM %s_schema_migrations WHERE name = $1", owner);
    snprintf(q.record, sizeof q.record, "INSERT INTO %s_schema_migrations(name) VALUES ($1)",
             owner);
    if ((n = scandir(dir, &list, is_migration, by_name)) < 0) {
        sq_error("could not read schema directory \"%s\": %s", dir, strerror(errno));
        return SQ_ERR_IO;
    }
    /* One session-level lock around the whole run: services starting together wait for
     * the first one and then find every migration recorded. */
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%lld)", MIGRATION_LOCK);
    if (!exec_ok(conn, lock) || !exec_ok(conn, q.create))
        st = SQ_ERR_DB;
    for (int i = 0; i < n && st == SQ_OK; i++)
        st = apply_one(conn, &q, dir, owner, list[i]->d_name);
    snprintf(lock, sizeof lock, "SELECT pg_advisory_unlock(%lld)", MIGRATION_LOCK);
    exec_ok(conn, lock);
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    return st;
}
