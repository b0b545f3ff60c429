/* The PostgreSQL plumbing of the services that own tables (auth, registry, activations): one
 * store handle (a connection under a mutex), one parameter builder, one statement runner and
 * one transaction helper with the one retry policy of the project.
 *
 * The retry policy of sq_store_run():
 *   - a connection found broken before an attempt is reset once (PQreset, which follows a
 *     multi-host DSN to the new primary); when that fails the call ends at once with
 *     SQ_ERR_UNAVAILABLE (503: nothing was done, the client may try again later; no waiting
 *     under the mutex);
 *   - an attempt that failed because the connection was lost (the server restarted or the
 *     backend was terminated: PQstatus bad, SQLSTATE class 08 or 57P0x), or on a
 *     serialization failure (40001) or a deadlock (40P01), was rolled back by the server and
 *     is run again from the start, at most SQ_STORE_ATTEMPTS times in all; when every attempt
 *     failed so, SQ_ERR_UNAVAILABLE;
 *   - a COMMIT that failed because the connection was lost is NOT retried: its outcome is
 *     unknown (it may have committed), so the call ends with SQ_ERR_DB (500); a COMMIT
 *     refused with 40001/40P01 was rolled back and is retried;
 *   - any other failure ends the call with what the work function returned (nothing is
 *     retried: a unique violation stays one).
 * A work function may therefore run several times: it must set every output afresh on each
 * run and keep nothing from a failed run. Inside a transaction nothing of a failed attempt
 * is ever kept (ROLLBACK, or the server's own rollback of a lost session). */
#ifndef SQ_STORE_H
#define SQ_STORE_H

#include <libpq-fe.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include "sq/status.h"

/* Attempts of one sq_store_run() call (the first included). */
#define SQ_STORE_ATTEMPTS 3

/* ---- parameters ---------------------------------------------------------------------------- */

#define SQ_PARAMS_MAX 20
/* Statement parameters built on the stack: text, or binary (bytea: msgpack or raw bytes). */
typedef struct sq_params {
    const char *vals[SQ_PARAMS_MAX];
    int lens[SQ_PARAMS_MAX], fmts[SQ_PARAMS_MAX];
    int n, nnum, nbuf;
    char nums[8][24];
    msgpack_sbuffer bufs[4];
} sq_params;

void sq_params_init(sq_params *p);
/* s NULL is SQL NULL. */
void sq_params_str(sq_params *p, const char *s);
void sq_params_bool(sq_params *p, bool b);
void sq_params_int(sq_params *p, int64_t v);
/* A msgpack object as binary bytea; nil (or NULL) is SQL NULL unless empty_array (then an
 * empty msgpack array). */
void sq_params_mp(sq_params *p, const msgpack_object *o, bool empty_array);
/* len bytes as a binary parameter (not copied: they must outlive the statement). */
void sq_params_bin(sq_params *p, const void *data, int len);
void sq_params_free(sq_params *p);

/* ---- statements ---------------------------------------------------------------------------- */

/* Runs sql with p (NULL: none), results binary when binary. A failure is logged as "could
 * not run <what> statement: <message>" and its SQLSTATE kept for sq_store_run()'s retry
 * decision. The result (an error result on failure) is the caller's to PQclear(). */
PGresult *sq_pg_exec(PGconn *c, const char *what, const char *sql, const sq_params *p, bool binary);
/* The same with raw arrays (vals text unless fmts says binary). */
PGresult *sq_pg_execv(PGconn *c, const char *what, const char *sql, int n, const char *const *vals,
                      const int *lens, const int *fmts, bool binary);
/* What both run a statement with: PQexecParams()'s arguments, but as a statement prepared on
 * c's backend the first time it meets this text (named after a hash of it), so PostgreSQL
 * plans it once. Nothing logged; the result is the caller's to PQclear(). The texts must be
 * a fixed set (values go in parameters): each distinct text is one prepared statement per
 * connection, and past 96 of them a connection runs new ones unprepared. */
PGresult *sq_pg_run(PGconn *c, const char *sql, int n, const char *const *vals, const int *lens,
                    const int *fmts, int binary);
/* Forgets what was prepared on c: call before PQfinish(c). */
void sq_pg_forget(const PGconn *c);
/* true for PGRES_COMMAND_OK and PGRES_TUPLES_OK. */
bool sq_pg_ok(const PGresult *r);
/* The SQLSTATE of this thread's last failed sq_pg_exec() ("" when none since the attempt
 * began). */
const char *sq_pg_last_state(void);

/* ---- the store handle ---------------------------------------------------------------------- */

typedef struct sq_store sq_store;

/* Connects (sq_pg_connect: retrying up to wait_ms) and, when owner is not NULL, applies the
 * migrations of schema_dir/owner (sq_pg_migrate). */
sq_status sq_store_open(sq_store **out, const char *dsn, const char *schema_dir, const char *owner,
                        int wait_ms);
void sq_store_close(sq_store *s);

/* The work of one sq_store_run(): statements on c. SQ_OK commits; anything else rolls
 * back. */
typedef sq_status (*sq_store_fn)(PGconn *c, void *arg);

/* Runs fn under the store's mutex, inside BEGIN/COMMIT when tx (else as plain statements),
 * with the retry policy above. */
sq_status sq_store_run(sq_store *s, bool tx, sq_store_fn fn, void *arg);

/* The connection, for what runs outside sq_store_run() before the store is shared (start-up)
 * or under the caller's own serialisation. */
PGconn *sq_store_conn(sq_store *s);

#endif
