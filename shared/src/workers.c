/* N subscriptions of one subject, one worker each (see sq/workers.h). */
#include <stdlib.h>

#include "sq/log.h"
#include "sq/workers.h"

struct sq_workers {
    sq_bus_t *bus;
    sq_bus_fn fn;
    int n;
    struct sq_worker_sub {
        struct sq_workers *pool;
        void *worker;
        natsSubscription *sub;
    } subs[];
};

static void deliver(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    struct sq_worker_sub *w = closure;
    w->pool->fn(w->pool->bus, msg, w->worker);
    natsMsg_Destroy(msg);
}

sq_status sq_workers_serve(sq_bus_t *b, const char *subject, const char *queue, sq_bus_fn fn,
                           void *workers, size_t size, int n, sq_workers **out)
{
    sq_workers *p;

    *out = NULL;
    if (n < 0 || (p = calloc(1, sizeof *p + sizeof p->subs[0] * (size_t)n)) == NULL)
        return SQ_ERR_NOMEM;
    p->bus = b;
    p->fn = fn;
    for (; p->n < n; p->n++) {
        struct sq_worker_sub *w = &p->subs[p->n];
        natsStatus s;
        w->pool = p;
        w->worker = (char *)workers + size * (size_t)p->n;
        s = natsConnection_QueueSubscribe(&w->sub, sq_bus_nc(b), subject, queue, deliver, w);
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits(w->sub, -1, -1);
        if (s != NATS_OK) {
            sq_error("could not subscribe to \"%s\": %s", subject, natsStatus_GetText(s));
            natsSubscription_Destroy(w->sub);
            w->sub = NULL;
            sq_workers_destroy(p);
            return SQ_ERR_UNAVAILABLE;
        }
    }
    if (natsConnection_Flush(sq_bus_nc(b)) != NATS_OK) {
        sq_workers_destroy(p);
        return SQ_ERR_UNAVAILABLE;
    }
    *out = p;
    return SQ_OK;
}

void sq_workers_drain(sq_workers *p, int timeout_ms)
{
    if (p == NULL)
        return;
    natsSubscription *subs[p->n > 0 ? p->n : 1];
    for (int i = 0; i < p->n; i++)
        subs[i] = p->subs[i].sub;
    sq_bus_drain_subs(subs, p->n, timeout_ms);
}

void sq_workers_destroy(sq_workers *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n; i++) {
        if (p->subs[i].sub != NULL)
            natsSubscription_Unsubscribe(p->subs[i].sub);
        natsSubscription_Destroy(p->subs[i].sub);
    }
    free(p);
}
