/* PostgreSQL for the services that own tables (auth, registry, activations): connect with
 * retry, and apply the numbered migrations in schemas/ exactly once even when several
 * services start at the same moment (an advisory lock serialises them). */
#ifndef SQ_PG_H
#define SQ_PG_H

#include <libpq-fe.h>
#include "sq/status.h"

/* Connects with conninfo, retrying for up to wait_ms while the server is starting. */
sq_status sq_pg_connect(PGconn **out, const char *conninfo, int wait_ms);

/* Applies, in name order, every `NNNN_*.sql` file of dir not yet recorded in the table
 * sq_schema_migrations, each in its own transaction, all under one advisory lock. */
sq_status sq_pg_migrate(PGconn *conn, const char *dir);

/* Checks the connection and resets it when it is broken (after a server restart). */
sq_status sq_pg_ensure(PGconn *conn);

#endif
