/* Health (and metrics) per instance: every copy of a service answers `sq.<svc>.health` (any copy answers
 * first) and `sq.<svc>.health.<instance>` (that copy only), checking the dependencies it
 * uses: PostgreSQL (a ping of its DSN by the pg_ping the service passes: sq_pg_ping of
 * libsqpg, so that libsq itself needs no libpq) and JetStream (the info of a stream it uses, which
 * needs the stream's leader). The answer, msgpack:
 *   {ok: bool (every check passed), service, pid, instance, host, started: ms,
 *    checks: {postgresql: "ok" | why, jetstream: "ok" | why}, failed: [names of failed checks]}
 * (checks and failed are empty for a service without dependencies). */
#ifndef SQ_PROTO_HEALTH_H
#define SQ_PROTO_HEALTH_H

#include <stddef.h>
#include "sq/bus.h"
#include "sq/log.h" /* sq_instance_id */
#include "sq/status.h"

typedef struct sq_health_check {
    const char *name;   /* "postgresql", "jetstream" (the key in checks) */
    const char *pg_dsn; /* PostgreSQL: the service's DSN */
    /* PostgreSQL: pings pg_dsn, "ok" or why not into out (sq_pg_ping) */
    void (*pg_ping)(const char *dsn, char *out, size_t outlen);
    const char *stream; /* JetStream: a stream the service uses (the bus needs .jetstream) */
} sq_health_check;

/* Serves both health subjects on b, and the metrics of this process (metrics.h) on
 * sq.<svc>.metrics (every copy answers) and sq.<svc>.metrics.<instance>. instance NULL: sq_instance_id(). checks (n of them) are
 * copied; their strings must outlive the bus. */
sq_status sq_health_serve(sq_bus_t *b, const char *svc, const char *instance,
                          const sq_health_check *checks, size_t n);

/* For the tools (squall-health, squall-status): asks sq.<svc>.health of svcs[0..n-1] at once
 * on nc (connected to url). The answers come on *sub, subscribed to box.*: box (boxlen bytes,
 * 160 will do) is a new inbox below the inbox prefix of url's user (where it may listen),
 * and the answers to svcs[i] come on box.<i>. *sub is the caller's to destroy. */
natsStatus sq_health_ask(natsConnection *nc, const char *url, const char *const *svcs, int n,
                         natsSubscription **sub, char *box, size_t boxlen);

#endif
