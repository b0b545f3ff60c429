/* A fire worker: its arena (everything one fire decodes, cleared at the next), its reusable
 * output buffer and its inbox (the scheduler's answers to a fire's invokes). One per
 * subscription: nats.c delivers each subscription on its own thread, so a worker is never
 * shared between threads. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sq/log.h"
#include "triggers.h"

#define SB_KEEP (4 << 20) /* a larger output buffer is given back after use */

sq_status trg_worker_init(trg_worker *w, trg_service *s)
{
    char *inbox = NULL;
    char subj[160];
    natsStatus ns;

    memset(w, 0, sizeof *w);
    w->s = s;
    if (!msgpack_zone_init(&w->zone, 64 * 1024))
        return SQ_ERR_NOMEM;
    msgpack_sbuffer_init(&w->sb);
    if (natsInbox_Create(&inbox) != NATS_OK)
        return SQ_ERR_NOMEM;
    /* "_INBOX.<unique>" moved below this user's inbox prefix, where it may listen */
    snprintf(w->inbox, sizeof w->inbox, "%s%s", sq_bus_inbox_prefix(s->bus),
             inbox + strlen("_INBOX"));
    natsInbox_Destroy(inbox);
    snprintf(subj, sizeof subj, "%s.>", w->inbox);
    ns = natsConnection_SubscribeSync(&w->inbox_sub, sq_bus_nc(s->bus), subj);
    if (ns == NATS_OK)
        ns = natsSubscription_SetPendingLimits(w->inbox_sub, -1, -1);
    if (ns != NATS_OK) {
        sq_error("could not subscribe to the worker inbox: %s", natsStatus_GetText(ns));
        return SQ_ERR_UNAVAILABLE;
    }
    return SQ_OK;
}

void trg_worker_fini(trg_worker *w)
{
    natsSubscription_Destroy(w->inbox_sub);
    w->inbox_sub = NULL;
    msgpack_zone_destroy(&w->zone);
    msgpack_sbuffer_destroy(&w->sb);
}

void trg_worker_buf_reset(trg_worker *w, msgpack_packer *pk)
{
    if (w->sb.alloc > SB_KEEP) {
        msgpack_sbuffer_destroy(&w->sb);
        msgpack_sbuffer_init(&w->sb);
    }
    w->sb.size = 0;
    msgpack_packer_init(pk, &w->sb, msgpack_sbuffer_write);
}

char *trg_arena_printf(sq_arena_t *ar, const char *fmt, ...)
{
    va_list ap;
    char tmp[1024];
    char *out;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    if ((size_t)n >= sizeof tmp)
        n = sizeof tmp - 1;
    if ((out = msgpack_zone_malloc(ar, (size_t)n + 1)) == NULL)
        return NULL;
    memcpy(out, tmp, (size_t)n + 1);
    return out;
}
