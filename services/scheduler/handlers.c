/* The scheduler's message handlers: sq.sched.invoke (admission, resolution, parameter
 * merge, placement, forwarding), invoker and scheduler heartbeats, entity and auth change
 * events, and JetStream's acknowledgements of queued work.
 *
 * The invoke path on a cache hit makes no round trip of its own: admission counts in
 * memory (limits.c), the in-flight table takes one entry (flight.c), the request is decoded
 * into the worker's arena, the merged parameters point into the request and the cached
 * action, and the work is encoded into the worker's reusable buffer. Blocking work goes to
 * the invoker over core NATS with the caller's reply subject; non-blocking work is
 * published to SQ_WORK asynchronously, and the caller is answered {activationId} from
 * sched_on_pub_ack() once JetStream has stored it, so a worker never waits for a disk.
 * Errors go back to the caller's reply subject as wire errors; nothing here may crash on
 * what arrives from the network. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "sq/config.h"
#include "sq/log.h"
#include "sq/util.h"

#define SB_KEEP (4 << 20) /* a worker buffer grown beyond this by a big action is released */

sq_status sched_worker_init(sched_worker *w, sched *s)
{
    memset(w, 0, sizeof *w);
    w->s = s;
    if (!msgpack_zone_init(&w->zone, 64 * 1024))
        return SQ_ERR_NOMEM;
    msgpack_sbuffer_init(&w->sb);
    return SQ_OK;
}

void sched_worker_fini(sched_worker *w)
{
    msgpack_zone_destroy(&w->zone);
    msgpack_sbuffer_destroy(&w->sb);
}

static void buf_reset(sched_worker *w, msgpack_packer *pk)
{
    if (w->sb.alloc > SB_KEEP) {
        msgpack_sbuffer_destroy(&w->sb);
        msgpack_sbuffer_init(&w->sb);
    }
    w->sb.size = 0;
    msgpack_packer_init(pk, &w->sb, msgpack_sbuffer_write);
}

/* "ns/name" of an action as records show it (its namespace may be "ns/pkg"). */
static void action_path(const sq_action *a, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", a->namespace_, a->name);
}

/* Queues the encoded work (in w->sb) on SQ_WORK without waiting: sched_on_pub_ack()
 * answers the caller. Nats-Msg-Id makes a repeated publish of the same activation land
 * once. */
static natsStatus enqueue(sched_worker *w, const char *subject, const char *id)
{
    jsPubOptions po;
    natsMsg *m = NULL;
    natsStatus st;

    st = natsMsg_Create(&m, subject, NULL, w->sb.data, (int)w->sb.size);
    if (st == NATS_OK)
        st = jsPubOptions_Init(&po);
    if (st == NATS_OK) {
        po.MsgId = id;
        po.ExpectStream = SQ_STREAM_WORK;
        st = js_PublishMsgAsync(w->s->js, &m, &po);
    }
    natsMsg_Destroy(m); /* NULL when the library took it */
    if (st != NATS_OK)
        sq_error("could not queue activation \"%s\" on \"%s\": %s", id, subject,
                 natsStatus_GetText(st));
    return st;
}

/* OpenWhisk's words for it (Messages.systemOverloaded), and why. */
#define SQ_MSG_OVERLOADED                                                                          \
    "System is overloaded, try again later (the queue of accepted work is full)."

/* Whether JetStream refused the work because SQ_WORK is at its byte cap (discard new:
 * "maximum bytes exceeded") or its server's store has no room left. */
static bool work_full(const jsPubAckErr *pae)
{
    return pae != NULL && (pae->ErrCode == JSStreamStoreFailedErr ||
                           pae->ErrCode == JSStorageResourcesExceededErr);
}

static _Atomic int64_t full_said_ms;  /* the last "SQ_WORK is full" warning */
static _Atomic unsigned full_refused; /* refused since */

/* Says how many non-blocking invocations SQ_WORK's cap refused since the last time, once a
 * second at most (an overload refuses thousands a second, each answered, not logged): on a
 * refusal, and from the sweeper, so that the last of a burst is said too. */
void sched_work_full_report(void)
{
    int64_t now = sq_now_ms(), was = atomic_load(&full_said_ms);
    unsigned n;

    if (atomic_load(&full_refused) == 0 || now - was < 1000 ||
        !atomic_compare_exchange_strong(&full_said_ms, &was, now))
        return;
    if ((n = atomic_exchange(&full_refused, 0)) > 0)
        sq_warn("SQ_WORK is full (its byte cap SQ_JS_WORK_MAX_MB is %d MB): %u non-blocking "
                "invocation(s) refused with 503 since the last warning; the invokers run less "
                "than is asked of them",
                sq_common.js_work_max_mb, n);
}

void sched_on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    sched *s = closure;
    const char *id = NULL;
    char *reply;

    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK || id == NULL) {
        natsMsg_Destroy(msg);
        return;
    }
    if (pa != NULL) {
        if ((reply = sched_flight_queued(s, id, pa->Sequence)) != NULL &&
            !sched_batch_answer(s, reply, id, SQ_OK, NULL)) {
            sq_act_ref ref = { .id = (char *)id, .rules = -1 };
            SQ_PUBLISH(s->bus, reply, sq_act_ref, &ref);
        }
        free(reply);
        sq_debug("activation \"%s\" queued at %llu%s", id, (unsigned long long)pa->Sequence,
                 pa->Duplicate ? " (a duplicate)" : "");
    } else if (sched_requeue_offer(s, msg, id, pae)) {
        return; /* published again shortly (requeue.c); msg is its business now */
    } else if (work_full(pae)) {
        atomic_fetch_add(&full_refused, 1);
        sched_work_full_report();
        sched_metrics_overloaded();
        reply = sched_flight_queued(s, id, 0);
        sched_flight_done(s, id);
        sched_error_to(s, reply, SQ_ERR_UNAVAILABLE, SQ_MSG_OVERLOADED);
        free(reply);
    } else {
        sq_error("could not queue activation \"%s\": %s (%d)", id,
                 pae ? natsStatus_GetText(pae->Err) : "no acknowledgement",
                 pae ? (int)pae->ErrCode : 0);
        reply = sched_flight_queued(s, id, 0);
        sched_flight_done(s, id);
        sched_error_to(s, reply, SQ_ERR_UNAVAILABLE, "could not queue the activation");
        free(reply);
    }
    natsMsg_Destroy(msg);
}

/* One sq.sched.invoke request on its way through sched_on_invoke(). */
typedef struct invoke_call {
    sched_worker *w;
    sq_bus_t *bus;
    natsMsg *msg;
    sq_invoke inv;
    sched_entry *e;
    sched_ns *n; /* the admission slot until a flight entry holds it */
    sched_flight_info info;
    msgpack_object params; /* merged */
    const char *reply, *caller_ns, *binding;
    int64_t now;
    sched_batch *batch; /* a rule of a batch (its index idx): its outcome goes there */
    size_t idx;
    char path[600], bbuf[600], rule_reply[300];
} invoke_call;

/* Refuses c's activation: a wire error to the caller, or the rule's outcome in its batch
 * (fmt NULL: the status's own message). */
static void refuse(invoke_call *c, sq_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(invoke_call *c, sq_status st, const char *fmt, ...)
{
    char m[1024];
    va_list ap;

    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
    }
    if (c->batch != NULL)
        sched_batch_set(c->w->s, c->batch, c->idx, NULL, sq_status_http(st),
                        fmt != NULL ? m : sq_status_str(st));
    else if (fmt != NULL)
        sq_bus_respond_error(c->bus, c->msg, st, "%s", m);
    else
        sq_bus_respond_error(c->bus, c->msg, st, NULL);
}

/* Answers the caller when the work could not be handed over. */
static void respond_send_error(invoke_call *c, natsStatus s, size_t size, bool queued)
{
    if (s == NATS_MAX_PAYLOAD)
        refuse(c, SQ_ERR_TOO_LARGE,
               "the action and its parameters are too large to send to an invoker (%zu bytes)",
               size);
    else
        refuse(c, SQ_ERR_UNAVAILABLE, "%s",
               queued ? "could not queue the activation" : "could not reach the invoker");
}

/* Answers the caller with the failure of sched_lookup(): the registry's wire error as it
 * came (a rule of a batch: its code and message), or st. */
static void respond_lookup_error(invoke_call *c, sq_status st, natsMsg *wire, const char *err)
{
    if (wire != NULL && c->batch == NULL) {
        sq_bus_respond(c->bus, c->msg, natsMsg_GetData(wire), (size_t)natsMsg_GetDataLength(wire));
        natsMsg_Destroy(wire);
        return;
    }
    if (wire != NULL) {
        msgpack_object o;
        const char *m = NULL;
        size_t mlen = 0;
        int code = 502;
        size_t len = (size_t)natsMsg_GetDataLength(wire);
        char *copy = msgpack_zone_malloc(&c->w->zone, len + 1);
        if (copy != NULL &&
            (memcpy(copy, natsMsg_GetData(wire), len), sq_mp_unpack(copy, len, &c->w->zone, &o)) ==
                SQ_OK &&
            sq_wire_error_get(&o, &code, &m, &mlen))
            snprintf(copy, len + 1, "%.*s", (int)mlen, m ? m : "");
        sched_batch_set(c->w->s, c->batch, c->idx, NULL, code,
                        m != NULL ? copy : "the registry gave a malformed answer");
        natsMsg_Destroy(wire);
        return;
    }
    switch (st) {
    case SQ_ERR_TIMEOUT:
    case SQ_ERR_UNAVAILABLE: refuse(c, st, "%s", err); break;
    case SQ_ERR_NOMEM: refuse(c, SQ_ERR_NOMEM, NULL); break;
    default: refuse(c, SQ_ERR_INTERNAL, "could not resolve the action");
    }
}

/* Decodes and checks the request into c->inv; answers the caller and returns false when
 * it is refused. */
static bool decode_invoke(invoke_call *c)
{
    char err[512] = "";
    size_t len = (size_t)natsMsg_GetDataLength(c->msg);
    sq_status st;

    msgpack_zone_clear(&c->w->zone);
    st = sq_invoke_decode(natsMsg_GetData(c->msg), len, &c->w->zone, &c->inv, err, sizeof err);
    if (st != SQ_OK) {
        sq_debug("rejected an invoke request: %s", err);
        sq_bus_respond_error(c->bus, c->msg, st, "%s", err[0] ? err : sq_status_str(st));
        return false;
    }
    if (!sq_id_valid(c->inv.id) || c->inv.ns[0] == '\0' || c->inv.name[0] == '\0') {
        sq_bus_respond_error(c->bus, c->msg, SQ_ERR_DECODE, "%s",
                             c->inv.ns[0] && c->inv.name[0]
                                 ? "activation id is not 32 hex characters"
                                 : "empty namespace or action name");
        return false;
    }
    /* the request is the parameters and a few short fields: its size is theirs */
    if (len > (size_t)sched_cfg.max_payload_kb * 1024) {
        sq_bus_respond_error(c->bus, c->msg, SQ_ERR_TOO_LARGE,
                             "Request larger than allowed: %zu > %zu bytes.", len,
                             (size_t)sched_cfg.max_payload_kb * 1024);
        return false;
    }
    c->caller_ns =
        c->inv.caller_ns != NULL && c->inv.caller_ns[0] != '\0' ? c->inv.caller_ns : c->inv.ns;
    c->reply = sq_bus_reply_of(c->msg);
    return true;
}

/* Resolves the action, checks final parameters, admits the activation against the caller's
 * limits and merges the parameters; answers the caller and returns false on a refusal. */
static bool admit_invoke(invoke_call *c)
{
    sched *s = c->w->s;
    natsMsg *wire = NULL;
    char err[512] = "";
    sq_status st;

    if ((st = sched_lookup_rev(s, c->inv.ns, c->inv.name, c->inv.shared, c->inv.min_rev, &c->e,
                               &wire, err, sizeof err)) != SQ_OK) {
        respond_lookup_error(c, st, wire, err);
        return false;
    }
    if (sched_params_overridden(c->e, &c->inv.params)) {
        refuse(c, SQ_ERR_BAD_REQUEST,
               "Request defines parameters that are not allowed (e.g., reserved properties).");
        return false;
    }
    if ((st = sched_admit(s, c->caller_ns, &c->n, err, sizeof err)) != SQ_OK) {
        sq_debug("refused activation \"%s\" of namespace \"%s\": %s", c->inv.id, c->caller_ns, err);
        sched_metrics_refused(st);
        refuse(c, st, "%s", err);
        return false;
    }
    if (!sched_merge_params(&c->w->zone, c->e, &c->inv.params, &c->params)) {
        refuse(c, SQ_ERR_NOMEM, NULL);
        return false;
    }
    action_path(&c->e->action, c->path, sizeof c->path);
    c->binding = sched_binding_of(c->inv.ns, c->inv.name, &c->e->action, c->bbuf, sizeof c->bbuf);
    /* the record goes to the caller's namespace; `path` says whose action ran */
    c->info =
        (sched_flight_info){ .id = c->inv.id,
                             .ns = c->caller_ns,
                             .name = c->e->action.name,
                             .version = c->e->action.version,
                             .subject = c->inv.subject,
                             .kind = c->e->action.exec.kind,
                             .path = c->path,
                             .cause = c->inv.cause != NULL ? c->inv.cause : "",
                             .limits = c->e->action.limits,
                             .caused_by = c->inv.cause != NULL && c->inv.cause[0] ? "trigger" : "",
                             .binding = c->binding };
    c->now = sched_mono_ms();
    return true;
}

/* Adds the flight entry (which then holds the admission slot); answers the caller when it
 * cannot. */
static bool add_flight(invoke_call *c, int slot, int64_t mem_mb, const char *reply,
                       int64_t deadline_ms)
{
    sq_status st = sched_flight_add(c->w->s, &c->info, c->n, slot, mem_mb, c->inv.blocking, reply,
                                    deadline_ms);
    if (st != SQ_OK) {
        if (st == SQ_ERR_CONFLICT)
            refuse(c, SQ_ERR_CONFLICT, "activation id in use");
        else
            refuse(c, SQ_ERR_NOMEM, NULL);
        return false;
    }
    c->n = NULL;
    return true;
}

/* A composition runs here: it is in flight (counted) until its own record is seen. */
static void start_composition(invoke_call *c)
{
    sched *s = c->w->s;
    msgpack_packer pk;
    sq_status st;

    if (!add_flight(c, -1, 0, NULL, 0))
        return;
    st = sched_seq_run(s, &c->inv, c->e, &c->params, c->inv.blocking && c->reply ? c->reply : "",
                       c->caller_ns);
    if (st != SQ_OK) {
        sched_flight_done(s, c->inv.id);
        refuse(c, st, "could not start the composition");
        return;
    }
    if (c->batch != NULL)
        sched_batch_set(s, c->batch, c->idx, c->inv.id, 0, NULL);
    else if (!c->inv.blocking) {
        sq_act_ref ref = { .id = c->inv.id, .rules = -1 };
        buf_reset(c->w, &pk);
        sq_act_ref_encode(&ref, &pk);
        sq_bus_respond(c->bus, c->msg, c->w->sb.data, c->w->sb.size);
    }
}

/* Encodes the work for invoker t into the worker's buffer. */
static void encode_work(invoke_call *c)
{
    const sq_invoke *inv = &c->inv;
    sq_work work;
    msgpack_packer pk;

    memset(&work, 0, sizeof work);
    work.params = c->params;
    work.id = inv->id;
    work.subject = inv->subject;
    work.key = (char *)sched_key_for(c->e, c->caller_ns, inv->key);
    work.ns = (char *)c->caller_ns;
    work.reply = inv->blocking && c->reply != NULL ? (char *)c->reply : "";
    work.blocking = inv->blocking;
    work.submitted = sq_now_ms();
    work.action = c->e->action;
    work.cause =
        inv->cause != NULL ? inv->cause : ""; /* a trigger's rule: the trigger activation */
    work.caused_by = work.cause[0] != '\0' ? "trigger" : "";
    work.binding = (char *)c->binding;
    buf_reset(c->w, &pk);
    sq_work_encode(&work, &pk);
}

/* Places the activation on an invoker and hands the work over: blocking over core NATS
 * (the invoker answers the caller), non-blocking through SQ_WORK (sched_on_pub_ack()
 * answers). */
static void send_to_invoker(invoke_call *c)
{
    sched *s = c->w->s;
    const sq_action *a = &c->e->action;
    sched_target t;
    natsStatus ns;

    if (!sched_place(s->invokers, c->e->hash, a->limits.memory, c->now, sched_cfg.heartbeat_ttl_ms,
                     sched_peers_count(s->peers, c->now), &t)) {
        sq_debug("no invoker for activation \"%s\"", c->inv.id);
        refuse(c, SQ_ERR_UNAVAILABLE, "no invokers are available");
        return;
    }
    encode_work(c);
    if (!add_flight(c, t.slot, a->limits.memory, c->reply,
                    c->inv.blocking ? c->now + a->limits.timeout + sched_cfg.lost_grace_ms : 0))
        return;
    if (c->inv.blocking) {
        /* the invoker answers the caller on work.reply; nothing more from here */
        ns = natsConnection_Publish(sq_bus_nc(c->bus), t.run, c->w->sb.data, (int)c->w->sb.size);
        if (ns != NATS_OK) {
            sq_error("could not send activation \"%s\" to \"%s\": %s", c->inv.id, t.run,
                     natsStatus_GetText(ns));
            sched_flight_done(s, c->inv.id);
            respond_send_error(c, ns, c->w->sb.size, false);
        } else
            sq_debug("activation \"%s\" of \"%s/%s\" sent to \"%s\"", c->inv.id, c->inv.ns,
                     c->inv.name, t.run);
        return;
    }
    if ((ns = enqueue(c->w, t.work, c->inv.id)) != NATS_OK) {
        free(sched_flight_queued(s, c->inv.id, 0)); /* answered here, not as queued */
        sched_flight_done(s, c->inv.id);
        respond_send_error(c, ns, c->w->sb.size, true);
        return;
    }
    sq_debug("activation \"%s\" of \"%s/%s\" queued on \"%s\"", c->inv.id, c->inv.ns, c->inv.name,
             t.work);
}

/* Admits and hands over the activation c (decoded). */
static void run_invoke(invoke_call *c)
{
    if (admit_invoke(c)) {
        if (c->e->sequence || c->e->conductor)
            start_composition(c);
        else
            send_to_invoker(c);
    }
    sched_release(c->w->s->limits, c->n);
    sched_entry_unref(c->e);
}

/* Decodes and checks a batch into *b; answers the whole batch and returns NULL when it is
 * refused, else its reply subject. */
static const char *decode_batch(sched_worker *w, sq_bus_t *bus, natsMsg *msg, sq_invoke_batch *b)
{
    char err[512] = "";
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    const char *reply = sq_bus_reply_of(msg);
    sq_status st;

    msgpack_zone_clear(&w->zone);
    st = sq_invoke_batch_decode(natsMsg_GetData(msg), len, &w->zone, b, err, sizeof err);
    if (st != SQ_OK) {
        sq_debug("rejected a batch of invokes: %s", err);
        sq_bus_respond_error(bus, msg, st, "%s", err[0] ? err : sq_status_str(st));
        return NULL;
    }
    /* the parameters once, as a single invoke may carry them, and a few short fields (at
     * most 1 KB) per rule */
    if (len > (size_t)sched_cfg.max_payload_kb * 1024 + b->nrules * 1024) {
        sq_bus_respond_error(bus, msg, SQ_ERR_TOO_LARGE,
                             "Request larger than allowed: %zu > %zu bytes.", len,
                             (size_t)sched_cfg.max_payload_kb * 1024 + b->nrules * 1024);
        return NULL;
    }
    if (reply == NULL || strlen(reply) > 200) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "a batch of invokes needs a reply subject");
        return NULL;
    }
    return reply;
}

/* A trigger fire's rules (sq_invoke_batch): each rule admitted and handed over as one
 * non-blocking invoke; one answer with every rule's outcome (batch.c). */
static void on_batch(sched_worker *w, sq_bus_t *bus, natsMsg *msg)
{
    sq_invoke_batch b;
    const char *reply = decode_batch(w, bus, msg, &b);
    sched_batch *bt;

    if (reply == NULL)
        return;
    if ((bt = sched_batch_open(reply, b.nrules)) == NULL) {
        sq_bus_respond_error(bus, msg, SQ_ERR_NOMEM, NULL);
        return;
    }
    for (size_t i = 0; i < b.nrules; i++) {
        const sq_batch_rule *r = &b.rules[i];
        invoke_call c = { .w = w, .bus = bus, .msg = msg, .batch = bt, .idx = i };

        c.inv = (sq_invoke){ .id = r->id,
                             .ns = r->ns,
                             .name = r->name,
                             .subject = b.subject,
                             .key = b.key,
                             .params = b.params,
                             .shared = r->shared,
                             .caller_ns = b.caller_ns,
                             .cause = b.cause };
        if (!sq_id_valid(r->id) || r->ns[0] == '\0' || r->name[0] == '\0') {
            refuse(&c, SQ_ERR_DECODE, "%s",
                   r->ns[0] && r->name[0] ? "activation id is not 32 hex characters"
                                          : "empty namespace or action name");
            continue;
        }
        c.caller_ns = b.caller_ns != NULL && b.caller_ns[0] != '\0' ? b.caller_ns : r->ns;
        snprintf(c.rule_reply, sizeof c.rule_reply, "%s.%zu", reply, i);
        c.reply = c.rule_reply;
        run_invoke(&c);
    }
    sched_batch_close(w->s, bt);
}

void sched_on_invoke(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    invoke_call c = { .w = closure, .bus = bus, .msg = msg };
    const char *v = NULL;

    if (natsMsgHeader_Get(msg, SQ_HDR_BATCH, &v) == NATS_OK) {
        on_batch(closure, bus, msg);
        return;
    }
    if (decode_invoke(&c))
        run_invoke(&c);
}

void sched_on_heartbeat(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched *s = closure;
    msgpack_zone z;
    sq_heartbeat hb;
    char err[256] = "";

    if (!msgpack_zone_init(&z, 1024))
        return;
    if (sq_heartbeat_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &hb, err,
                            sizeof err) == SQ_OK)
        sched_invokers_update(s->invokers, &hb, sched_mono_ms());
    else
        sq_warn("ignored a malformed heartbeat: %s", err);
    msgpack_zone_destroy(&z);
}

void sched_on_peer(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched *s = closure;
    msgpack_zone z;
    sq_sched_beat b;

    if (!msgpack_zone_init(&z, 256))
        return;
    if (sq_sched_beat_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &b, NULL,
                             0) == SQ_OK)
        sched_peers_seen(s->peers, b.id, sched_mono_ms());
    msgpack_zone_destroy(&z);
}

/* One entity event: the cache entry of what it names goes. */
static void apply_entity(sched *s, natsMsg *msg)
{
    msgpack_zone z;
    sq_entity_event ev;
    char err[256] = "", full[1024];
    char *slash;

    if (!msgpack_zone_init(&z, 1024))
        return;
    if (sq_entity_event_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &ev,
                               err, sizeof err) != SQ_OK) {
        sq_warn("ignored a malformed entity event: %s", err);
        msgpack_zone_destroy(&z);
        return;
    }
    /* an event may name a packaged action as ns "ns/pkg" + name; invokes name it
     * ns + "pkg/name" */
    if ((slash = strchr(ev.ns, '/')) != NULL) {
        snprintf(full, sizeof full, "%s/%s", slash + 1, ev.name);
        *slash = '\0';
        ev.name = full;
    }
    sched_cache_drop(s->cache, ev.ns, ev.name, strcmp(ev.kind, "package") == 0);
    msgpack_zone_destroy(&z);
}

/* Applies the entity events that have arrived, in order, on the calling thread, before a
 * cache lookup. The registry publishes a change before it answers the write, on the
 * connection whose messages reach this one in order, so an event that came before an
 * invoke is in the subscription by the time the invoke is handled; applied here, it can no
 * longer lose a race with the invoke, as on a delivery thread of its own it could (the
 * writer's own gateway also sends min_rev; this covers a write through another gateway).
 * The sweeper calls it too, so that events do not wait for the next invoke. */
void sched_entities_apply(sched *s)
{
    int pending = 0;

    pthread_mutex_lock(&s->entities_lock);
    while (s->entities != NULL &&
           natsSubscription_GetPending(s->entities, &pending, NULL) == NATS_OK && pending > 0) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, s->entities, 1000) != NATS_OK)
            break;
        apply_entity(s, m);
        natsMsg_Destroy(m);
    }
    pthread_mutex_unlock(&s->entities_lock);
}

void sched_on_auth(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched *s = closure;
    msgpack_zone z;
    sq_auth_event ev;
    char *name = NULL;

    if (!msgpack_zone_init(&z, 512))
        return;
    if (sq_auth_event_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &ev,
                             NULL, 0) == SQ_OK) {
        if (ev.namespace_ != NULL && ev.namespace_[0] != '\0')
            name = ev.namespace_;
        sched_limits_drop(s->limits, name); /* no namespace named: every one */
        sq_debug("dropped the cached limits of %s%s%s", name ? "namespace \"" : "every namespace",
                 name ? name : "", name ? "\"" : "");
    }
    msgpack_zone_destroy(&z);
}
