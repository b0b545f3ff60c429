/* Serving one subject with N workers: N subscriptions in one queue group, subscription i
 * handing its messages to worker i. nats.c delivers each subscription on a thread of its
 * own, so a worker (its arena, its buffers) is only ever used by one thread at a time and
 * needs no lock, while N requests run at once. The scheduler's sq.sched.invoke and the
 * triggers' sq.trigger.fire and sq.fire.> are served this way. */
#ifndef SQ_WORKERS_H
#define SQ_WORKERS_H

#include <stddef.h>
#include "sq/bus.h"

typedef struct sq_workers sq_workers;

/* Subscribes n times to subject in queue group queue; worker i is the closure
 * (char *)workers + i * size given to fn for the messages of subscription i (fn runs on that
 * subscription's thread; the message is destroyed after it returns). Pending limits are
 * off: a burst is queued, never dropped as a slow consumer. On failure nothing stays
 * subscribed. The workers must outlive sq_workers_destroy(). */
sq_status sq_workers_serve(sq_bus_t *b, const char *subject, const char *queue, sq_bus_fn fn,
                           void *workers, size_t size, int n, sq_workers **out);
/* Stops taking messages: every subscription drains (the messages in hand are handled, the
 * group's other members get the rest), waiting up to timeout_ms for each. NULL: nothing. */
void sq_workers_drain(sq_workers *w, int timeout_ms);
/* Unsubscribes what is left and frees. NULL is a no-op. */
void sq_workers_destroy(sq_workers *w);

#endif
