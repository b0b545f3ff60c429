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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
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

static bool has_key(const msgpack_object *map, const msgpack_object *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key->via.str.size &&
            memcmp(k->via.str.ptr, key->via.str.ptr, k->via.str.size) == 0)
            return true;
    }
    return false;
}

bool sched_params_overridden(const sched_entry *e, const msgpack_object *top)
{
    if (!e->final || top->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < e->ndefaults; i++)
        if (e->defaults[i].val.type != MSGPACK_OBJECT_NIL && has_key(top, &e->defaults[i].key))
            return true;
    return false;
}

const char *sched_binding_of(const char *ns, const char *name, const sq_action *a, char *buf,
                             size_t len)
{
    const char *slash = strchr(name, '/');
    int n;
    if (slash == NULL || a->namespace_ == NULL)
        return NULL;
    n = snprintf(buf, len, "%s/%.*s", ns, (int)(slash - name), name);
    if (n < 0 || (size_t)n >= len || strcmp(buf, a->namespace_) == 0)
        return NULL;
    return buf;
}

bool sched_merge_params(msgpack_zone *zone, const sched_entry *e, const msgpack_object *top,
                        msgpack_object *out)
{
    uint32_t ntop = top->type == MSGPACK_OBJECT_MAP ? top->via.map.size : 0, n = 0;
    msgpack_object_kv *kv;

    /* an array (a sequence passing a component's array result on) goes as it is: OpenWhisk
     * merges no parameters into it */
    if (top->type == MSGPACK_OBJECT_ARRAY) {
        *out = *top;
        return true;
    }
    if (ntop == 0) {
        *out = e->defaults_map;
        return true;
    }
    if (e->ndefaults == 0) {
        *out = *top;
        return true;
    }
    kv = msgpack_zone_malloc(zone, sizeof *kv * ((size_t)ntop + e->ndefaults));
    if (kv == NULL)
        return false;
    for (uint32_t i = 0; i < e->ndefaults; i++)
        if (!has_key(top, &e->defaults[i].key))
            kv[n++] = e->defaults[i];
    memcpy(&kv[n], top->via.map.ptr, sizeof *kv * ntop);
    n += ntop;
    memset(out, 0, sizeof *out);
    out->type = MSGPACK_OBJECT_MAP;
    out->via.map.size = n;
    out->via.map.ptr = kv;
    return true;
}

/* Answers the caller when the work could not be handed over. */
static void respond_send_error(sq_bus_t *bus, natsMsg *msg, natsStatus s, size_t size, bool queued)
{
    if (s == NATS_MAX_PAYLOAD)
        sq_bus_respond_error(
            bus, msg, SQ_ERR_TOO_LARGE,
            "the action and its parameters are too large to send to an invoker (%zu bytes)", size);
    else
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAVAILABLE,
                             queued ? "could not queue the activation"
                                    : "could not reach the invoker");
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
        if ((reply = sched_flight_queued(s, id, pa->Sequence)) != NULL) {
            msgpack_sbuffer sb;
            msgpack_packer pk;
            sq_act_ref ref = { .id = (char *)id, .rules = -1 };
            sq_proto_buf_init(&sb, &pk);
            sq_act_ref_encode(&ref, &pk);
            sq_bus_publish(s->bus, reply, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
            free(reply);
        }
        sq_debug("activation \"%s\" queued at %llu%s", id, (unsigned long long)pa->Sequence,
                 pa->Duplicate ? " (a duplicate)" : "");
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

/* Answers the caller with the failure of sched_lookup(). */
static void respond_lookup_error(sq_bus_t *bus, natsMsg *msg, sq_status st, natsMsg *wire,
                                 const char *err)
{
    if (wire != NULL) {
        sq_bus_respond(bus, msg, natsMsg_GetData(wire), (size_t)natsMsg_GetDataLength(wire));
        natsMsg_Destroy(wire);
        return;
    }
    switch (st) {
    case SQ_ERR_TIMEOUT:
    case SQ_ERR_UNAVAILABLE: sq_bus_respond_error(bus, msg, st, "%s", err); break;
    case SQ_ERR_NOMEM: sq_bus_respond_error(bus, msg, SQ_ERR_NOMEM, NULL); break;
    default: sq_bus_respond_error(bus, msg, SQ_ERR_INTERNAL, "could not resolve the action");
    }
}

void sched_on_invoke(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched_worker *w = closure;
    sched *s = w->s;
    sq_invoke inv;
    sq_work work;
    sched_entry *e = NULL;
    sched_target t;
    sched_ns *n = NULL;
    sched_flight_info info;
    msgpack_packer pk;
    natsMsg *wire = NULL;
    char err[512] = "", path[600], bbuf[600];
    const char *reply, *caller_ns, *binding;
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    int64_t now;
    sq_status st;
    natsStatus ns;

    msgpack_zone_clear(&w->zone);
    st = sq_invoke_decode(natsMsg_GetData(msg), len, &w->zone, &inv, err, sizeof err);
    if (st != SQ_OK) {
        sq_debug("rejected an invoke request: %s", err);
        sq_bus_respond_error(bus, msg, st, "%s", err[0] ? err : sq_status_str(st));
        return;
    }
    if (!sq_id_valid(inv.id) || inv.ns[0] == '\0' || inv.name[0] == '\0') {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s",
                             inv.ns[0] && inv.name[0] ? "activation id is not 32 hex characters"
                                                      : "empty namespace or action name");
        return;
    }
    /* the request is the parameters and a few short fields: its size is theirs */
    if (len > (size_t)sched_cfg.max_payload_kb * 1024) {
        sq_bus_respond_error(bus, msg, SQ_ERR_TOO_LARGE,
                             "Request larger than allowed: %zu > %zu bytes.", len,
                             (size_t)sched_cfg.max_payload_kb * 1024);
        return;
    }
    caller_ns = inv.caller_ns != NULL && inv.caller_ns[0] != '\0' ? inv.caller_ns : inv.ns;
    reply = natsMsg_GetReply(msg);

    if ((st = sched_lookup_rev(s, inv.ns, inv.name, inv.shared, inv.min_rev, &e, &wire, err,
                               sizeof err)) != SQ_OK) {
        respond_lookup_error(bus, msg, st, wire, err);
        return;
    }
    if (sched_params_overridden(e, &inv.params)) {
        sq_bus_respond_error(
            bus, msg, SQ_ERR_BAD_REQUEST,
            "Request defines parameters that are not allowed (e.g., reserved properties).");
        goto done;
    }
    if ((st = sched_admit(s, caller_ns, &n, err, sizeof err)) != SQ_OK) {
        sq_debug("refused activation \"%s\" of namespace \"%s\": %s", inv.id, caller_ns, err);
        sq_bus_respond_error(bus, msg, st, "%s", err);
        goto done;
    }

    memset(&work, 0, sizeof work);
    if (!sched_merge_params(&w->zone, e, &inv.params, &work.params)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_NOMEM, NULL);
        goto done;
    }
    action_path(&e->action, path, sizeof path);
    binding = sched_binding_of(inv.ns, inv.name, &e->action, bbuf, sizeof bbuf);
    /* the record goes to the caller's namespace; `path` says whose action ran */
    info = (sched_flight_info){ .id = inv.id,
                                .ns = caller_ns,
                                .name = e->action.name,
                                .version = e->action.version,
                                .subject = inv.subject,
                                .kind = e->action.exec.kind,
                                .path = path,
                                .cause = inv.cause != NULL ? inv.cause : "",
                                .limits = e->action.limits,
                                .caused_by = inv.cause != NULL && inv.cause[0] ? "trigger" : "",
                                .binding = binding };
    now = sched_mono_ms();

    if (e->sequence || e->conductor) {
        /* a composition runs here: it is in flight (counted) until its own record is seen */
        st = sched_flight_add(s, &info, n, -1, 0, inv.blocking, NULL, 0);
        if (st != SQ_OK) {
            sq_bus_respond_error(bus, msg, st == SQ_ERR_CONFLICT ? SQ_ERR_CONFLICT : SQ_ERR_NOMEM,
                                 st == SQ_ERR_CONFLICT ? "activation id in use" : NULL);
            goto done;
        }
        n = NULL; /* the flight entry holds the slot now */
        st = sched_seq_run(s, &inv, e, &work.params, inv.blocking && reply ? reply : "", caller_ns);
        if (st != SQ_OK) {
            sched_flight_done(s, inv.id);
            sq_bus_respond_error(bus, msg, st, "could not start the composition");
            goto done;
        }
        if (!inv.blocking) {
            sq_act_ref ref = { .id = inv.id, .rules = -1 };
            buf_reset(w, &pk);
            sq_act_ref_encode(&ref, &pk);
            sq_bus_respond(bus, msg, w->sb.data, w->sb.size);
        }
        goto done;
    }

    if (!sched_place(s->invokers, e->hash, e->action.limits.memory, now, sched_cfg.heartbeat_ttl_ms,
                     sched_peers_count(s->peers, now), &t)) {
        sq_debug("no invoker for activation \"%s\"", inv.id);
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAVAILABLE, "no invokers are available");
        goto done;
    }

    work.id = inv.id;
    work.subject = inv.subject;
    work.key = (char *)sched_key_for(e, caller_ns, inv.key);
    work.ns = (char *)caller_ns;
    work.reply = inv.blocking && reply != NULL ? (char *)reply : "";
    work.blocking = inv.blocking;
    work.submitted = sq_now_ms();
    work.action = e->action;
    work.cause = inv.cause != NULL ? inv.cause : ""; /* a trigger's rule: the trigger activation */
    work.caused_by = work.cause[0] != '\0' ? "trigger" : "";
    work.binding = (char *)binding;
    buf_reset(w, &pk);
    sq_work_encode(&work, &pk);

    st = sched_flight_add(s, &info, n, t.slot, e->action.limits.memory, inv.blocking, reply,
                          inv.blocking ? now + e->action.limits.timeout + sched_cfg.lost_grace_ms
                                       : 0);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, st == SQ_ERR_CONFLICT ? SQ_ERR_CONFLICT : SQ_ERR_NOMEM,
                             st == SQ_ERR_CONFLICT ? "activation id in use" : NULL);
        goto done;
    }
    n = NULL; /* the flight entry holds the slot now */

    if (inv.blocking) {
        /* the invoker answers the caller on work.reply; nothing more from here */
        ns = natsConnection_Publish(sq_bus_nc(bus), t.run, w->sb.data, (int)w->sb.size);
        if (ns != NATS_OK) {
            sq_error("could not send activation \"%s\" to \"%s\": %s", inv.id, t.run,
                     natsStatus_GetText(ns));
            sched_flight_done(s, inv.id);
            respond_send_error(bus, msg, ns, w->sb.size, false);
        } else
            sq_debug("activation \"%s\" of \"%s/%s\" sent to \"%s\"", inv.id, inv.ns, inv.name,
                     t.run);
        goto done;
    }
    if ((ns = enqueue(w, t.work, inv.id)) != NATS_OK) {
        sched_flight_done(s, inv.id);
        respond_send_error(bus, msg, ns, w->sb.size, true);
        goto done;
    }
    sq_debug("activation \"%s\" of \"%s/%s\" queued on \"%s\"", inv.id, inv.ns, inv.name, t.work);
done:
    sched_release(s->limits, n);
    sched_entry_unref(e);
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

void sched_on_entity(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched *s = closure;
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
