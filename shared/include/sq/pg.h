/* PostgreSQL for the services that own tables (auth, registry, activations): connect with
 * retry, and apply the service's own numbered migrations in schemas/<service>/ exactly once
 * even when several services start at the same moment (an advisory lock serialises them).
 * Each service connects as its own role, so the tables it creates are its own. */
#ifndef SQ_PG_H
#define SQ_PG_H

#include <libpq-fe.h>
#include "sq/status.h"

/* Connects with conninfo, retrying for up to wait_ms while the server is starting. A
 * connection string that does not parse is refused at once (SQ_ERR_BAD_REQUEST) and not
 * logged: it may hold a password. */
sq_status sq_pg_connect(PGconn **out, const char *conninfo, int wait_ms);

/* Applies, in name order, every `NNNN_*.sql` file of schema_dir/owner not yet recorded in
 * the table <owner>_schema_migrations, each in its own transaction, all under one advisory
 * lock. owner is the service's name (lower-case letters, digits, '_'): "auth", "registry",
 * "activations". */
sq_status sq_pg_migrate(PGconn *conn, const char *schema_dir, const char *owner);

/* conn's last error message (or a server notice's text) on one line, with any password
 * masked: what goes into a log line. The text lives in a thread-local buffer until the
 * thread's next call. */
const char *sq_pg_error(const PGconn *conn);
const char *sq_pg_text(const char *message);

/* Checks the connection and resets it when it is broken (after a server restart). */
sq_status sq_pg_ensure(PGconn *conn);

/* The health check of a PostgreSQL DSN (sq_health_check.pg_ping): "ok" or why not into out,
 * within about 2 s. */
void sq_pg_ping(const char *dsn, char *out, size_t outlen);

#endif
