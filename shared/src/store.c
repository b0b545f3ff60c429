/* The PostgreSQL store handle, parameters and the transaction helper; see store.h. */
#include "sq/store.h"
#include "sq/log.h"
#include "sq/pg.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sq_store {
    PGconn *conn;
    pthread_mutex_t lock;
};

/* ---- parameters ---------------------------------------------------------------------------- */

void sq_params_init(sq_params *p)
{
    memset(p, 0, sizeof *p);
}

static void add(sq_params *p, const char *val, int len, int fmt)
{
    if (p->n == SQ_PARAMS_MAX) {
        sq_error("too many statement parameters (at most %d)", SQ_PARAMS_MAX);
        abort(); /* a programming error: the statements are fixed */
    }
    p->vals[p->n] = val;
    p->lens[p->n] = len;
    p->fmts[p->n++] = fmt;
}

void sq_params_str(sq_params *p, const char *s)
{
    add(p, s, 0, 0);
}

void sq_params_bool(sq_params *p, bool b)
{
    add(p, b ? "t" : "f", 0, 0);
}

void sq_params_int(sq_params *p, int64_t v)
{
    if (p->nnum == (int)(sizeof p->nums / sizeof p->nums[0])) {
        sq_error("too many integer statement parameters");
        abort();
    }
    snprintf(p->nums[p->nnum], sizeof p->nums[0], "%" PRId64, v);
    add(p, p->nums[p->nnum++], 0, 0);
}

void sq_params_mp(sq_params *p, const msgpack_object *o, bool empty_array)
{
    msgpack_sbuffer *sb;
    msgpack_packer pk;

    if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
        if (!empty_array) {
            add(p, NULL, 0, 0);
            return;
        }
        o = NULL;
    }
    if (p->nbuf == (int)(sizeof p->bufs / sizeof p->bufs[0])) {
        sq_error("too many msgpack statement parameters");
        abort();
    }
    sb = &p->bufs[p->nbuf++];
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (o != NULL)
        msgpack_pack_object(&pk, *o);
    else
        msgpack_pack_array(&pk, 0);
    add(p, sb->data, (int)sb->size, 1);
}

void sq_params_bin(sq_params *p, const void *data, int len)
{
    add(p, data, len, 1);
}

void sq_params_free(sq_params *p)
{
    for (int i = 0; i < p->nbuf; i++)
        msgpack_sbuffer_destroy(&p->bufs[i]);
    p->nbuf = 0;
}

/* ---- statements ---------------------------------------------------------------------------- */

/* The SQLSTATE of the thread's last failed statement: a store's work runs on the calling
 * thread under the store's mutex, so per thread is per attempt. */
static _Thread_local char last_state[6];

bool sq_pg_ok(const PGresult *r)
{
    ExecStatusType t = PQresultStatus(r);
    return t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
}

const char *sq_pg_last_state(void)
{
    return last_state;
}

/* ---- prepared statements ---------------------------------------------------------------
 * Every statement runs as a prepared statement named after a hash of its text, prepared on
 * a connection's backend the first time that backend sees it: PostgreSQL then parses and
 * plans it once instead of on every call (a GET action's SELECT: 65 -> 21 us of the
 * server's time; an activation list on the partitioned table: 171 -> 69 us, pgbench
 * extended vs prepared). Which names a backend holds is kept per connection and backend pid
 * (PQreset() after a lost connection gives a new backend, which holds none). The statements
 * of the services are a fixed set of texts; a connection or name past the table's room runs
 * its statement unprepared, as before. A PREPARE is not undone by a rollback, so a name
 * prepared inside a transaction that fails stays good. */

#define PREP_CONNS 64
#define PREP_NAMES 96

typedef struct prep_conn {
    const PGconn *conn;
    int pid;
    int n;
    uint64_t names[PREP_NAMES];
} prep_conn;

static prep_conn prepared[PREP_CONNS];
static pthread_mutex_t prep_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t stmt_hash(const char *sql)
{
    uint64_t h;
    crypto_generichash((unsigned char *)&h, sizeof h, (const unsigned char *)sql, strlen(sql), NULL,
                       0);
    return h;
}

/* 1: h is prepared on c's backend; 0: it is not and there is room to remember it (*slot,
 * with the lock released); -1: no room, run it unprepared */
static int prep_find(const PGconn *c, uint64_t h, prep_conn **slot)
{
    int pid = PQbackendPID(c), rc = -1;
    prep_conn *free_slot = NULL, *p = NULL;

    pthread_mutex_lock(&prep_lock);
    for (int i = 0; i < PREP_CONNS && p == NULL; i++) {
        if (prepared[i].conn == c)
            p = &prepared[i];
        else if (prepared[i].conn == NULL && free_slot == NULL)
            free_slot = &prepared[i];
    }
    if (p == NULL && free_slot != NULL) {
        p = free_slot;
        p->conn = c;
        p->pid = pid;
        p->n = 0;
    }
    if (p != NULL) {
        if (p->pid != pid) { /* a new backend (reset): it holds no statement */
            p->pid = pid;
            p->n = 0;
        }
        rc = p->n < PREP_NAMES ? 0 : -1;
        for (int i = 0; i < p->n; i++)
            if (p->names[i] == h) {
                rc = 1;
                break;
            }
    }
    pthread_mutex_unlock(&prep_lock);
    *slot = p;
    return rc;
}

static void prep_remember(prep_conn *p, const PGconn *c, uint64_t h)
{
    pthread_mutex_lock(&prep_lock);
    if (p->conn == c && p->pid == PQbackendPID(c) && p->n < PREP_NAMES)
        p->names[p->n++] = h;
    pthread_mutex_unlock(&prep_lock);
}

void sq_pg_forget(const PGconn *c)
{
    pthread_mutex_lock(&prep_lock);
    for (int i = 0; i < PREP_CONNS; i++)
        if (prepared[i].conn == c)
            prepared[i].conn = NULL;
    pthread_mutex_unlock(&prep_lock);
}

static bool state_is(const PGresult *r, const char *state)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s != NULL && strcmp(s, state) == 0;
}

PGresult *sq_pg_run(PGconn *c, const char *sql, int n, const char *const *vals, const int *lens,
                    const int *fmts, int binary)
{
    uint64_t h = stmt_hash(sql);
    char name[24];
    prep_conn *slot;
    int known = prep_find(c, h, &slot);
    PGresult *r;

    if (known < 0)
        return PQexecParams(c, sql, n, NULL, vals, lens, fmts, binary);
    snprintf(name, sizeof name, "sq_%016" PRIx64, h);
    for (int attempt = 0;; attempt++) {
        if (known == 0) {
            r = PQprepare(c, name, sql, n, NULL);
            /* 42P05: prepared before under this name (a reset this table did not see) */
            if (PQresultStatus(r) != PGRES_COMMAND_OK && !state_is(r, "42P05"))
                return r;
            PQclear(r);
            prep_remember(slot, c, h);
        }
        r = PQexecPrepared(c, name, n, vals, lens, fmts, binary);
        /* 26000: the session lost its statements without a new backend (DISCARD ALL, a
         * pooler in front): forget them all and prepare this one again, once */
        if (attempt > 0 || PQresultStatus(r) != PGRES_FATAL_ERROR || !state_is(r, "26000"))
            return r;
        PQclear(r);
        sq_pg_forget(c);
        if ((known = prep_find(c, h, &slot)) < 0)
            return PQexecParams(c, sql, n, NULL, vals, lens, fmts, binary);
    }
}

PGresult *sq_pg_execv(PGconn *c, const char *what, const char *sql, int n, const char *const *vals,
                      const int *lens, const int *fmts, bool binary)
{
    PGresult *r = sq_pg_run(c, sql, n, vals, lens, fmts, binary ? 1 : 0);
    if (!sq_pg_ok(r)) {
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        snprintf(last_state, sizeof last_state, "%s", state ? state : "");
        sq_error("could not run %s statement: %s", what, sq_pg_error(c));
    }
    return r;
}

PGresult *sq_pg_exec(PGconn *c, const char *what, const char *sql, const sq_params *p, bool binary)
{
    return sq_pg_execv(c, what, sql, p ? p->n : 0, p ? p->vals : NULL, p ? p->lens : NULL,
                       p ? p->fmts : NULL, binary);
}

/* ---- the store handle ---------------------------------------------------------------------- */

sq_status sq_store_open(sq_store **out, const char *dsn, const char *schema_dir, const char *owner,
                        int wait_ms)
{
    sq_store *s = calloc(1, sizeof *s);
    sq_status st;

    *out = NULL;
    if (s == NULL)
        return SQ_ERR_NOMEM;
    pthread_mutex_init(&s->lock, NULL);
    if ((st = sq_pg_connect(&s->conn, dsn, wait_ms)) != SQ_OK ||
        (owner != NULL && (st = sq_pg_migrate(s->conn, schema_dir, owner)) != SQ_OK)) {
        sq_store_close(s);
        return st;
    }
    *out = s;
    return SQ_OK;
}

void sq_store_close(sq_store *s)
{
    if (s == NULL)
        return;
    if (s->conn != NULL) {
        sq_pg_forget(s->conn);
        PQfinish(s->conn);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

PGconn *sq_store_conn(sq_store *s)
{
    return s->conn;
}

static bool exec_simple(PGconn *c, const char *sql)
{
    PGresult *r = sq_pg_exec(c, "transaction", sql, NULL, false);
    bool ok = sq_pg_ok(r);
    PQclear(r);
    return ok;
}

/* The session is gone: the connection is bad, or the server said it is ending it (class
 * 08 connection exception; 57P01-57P03 admin/crash shutdown, cannot connect now). */
static bool lost(PGconn *c)
{
    return PQstatus(c) != CONNECTION_OK || !strncmp(last_state, "08", 2) ||
           !strcmp(last_state, "57P01") || !strcmp(last_state, "57P02") ||
           !strcmp(last_state, "57P03");
}

/* The server rolled the transaction back and running it again may succeed. */
static bool conflict(void)
{
    return !strcmp(last_state, "40001") || !strcmp(last_state, "40P01");
}

typedef enum { ATTEMPT_DONE, ATTEMPT_RETRY } attempt_end;

/* One attempt of sq_store_run(): its status in *st, and whether to try again. */
static attempt_end attempt(PGconn *c, bool tx, sq_store_fn fn, void *arg, sq_status *st)
{
    last_state[0] = '\0';
    if (tx && !exec_simple(c, "BEGIN")) {
        *st = SQ_ERR_DB;
        return lost(c) ? ATTEMPT_RETRY : ATTEMPT_DONE;
    }
    *st = fn(c, arg);
    if (tx && *st == SQ_OK && PQtransactionStatus(c) == PQTRANS_INERROR) {
        /* fn went on after a failed statement: COMMIT would only roll back */
        sq_error("a transaction's work ignored a failed statement: rolled back");
        *st = SQ_ERR_DB;
    }
    if (*st == SQ_OK) {
        if (!tx || exec_simple(c, "COMMIT"))
            return ATTEMPT_DONE;
        *st = SQ_ERR_DB;
        if (lost(c)) {
            sq_error("the connection was lost at COMMIT: the outcome is unknown, not retried");
            return ATTEMPT_DONE;
        }
        return conflict() ? ATTEMPT_RETRY : ATTEMPT_DONE;
    }
    if (tx && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    return lost(c) || conflict() ? ATTEMPT_RETRY : ATTEMPT_DONE;
}

sq_status sq_store_run(sq_store *s, bool tx, sq_store_fn fn, void *arg)
{
    sq_status st = SQ_ERR_UNAVAILABLE;

    pthread_mutex_lock(&s->lock);
    for (int n = 1;; n++) {
        if (sq_pg_ensure(s->conn) != SQ_OK) {
            sq_error("PostgreSQL cannot be reached: %s", sq_pg_error(s->conn));
            st = SQ_ERR_UNAVAILABLE;
            break;
        }
        if (attempt(s->conn, tx, fn, arg, &st) == ATTEMPT_DONE)
            break;
        if (n == SQ_STORE_ATTEMPTS) {
            sq_error("gave up after %d attempts (last: %s)", n,
                     last_state[0] ? last_state : "connection lost");
            st = SQ_ERR_UNAVAILABLE;
            break;
        }
        sq_warn("retrying a %s (attempt %d of %d failed: %s)", tx ? "transaction" : "statement", n,
                SQ_STORE_ATTEMPTS, last_state[0] ? last_state : "connection lost");
        if (conflict())
            usleep((useconds_t)(2000 * n)); /* let the other transaction finish */
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}
