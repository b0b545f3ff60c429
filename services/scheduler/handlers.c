/* The scheduler's message handlers: sq.sched.invoke (admission, resolution, parameter
 * merge, placement, forwarding), invoker heartbeats and entity change events.
 *
 * The invoke path on a cache hit makes no round trip and, once the worker's arena and
 * buffer have grown to size, no allocation of its own for a blocking invoke: the request
 * is decoded into the worker's arena, the merged parameters point into the request and the
 * cached action, and the work is encoded into the worker's reusable buffer and handed to
 * nats.c. Errors go back to the caller's reply subject as wire errors; nothing here may
 * crash on what arrives from the network. */
#include <stdio.h>
#include <string.h>

#include "sched.h"
#include "sq/log.h"
#include "sq/util.h"

#define SB_KEEP (4 << 20) /* a worker buffer grown beyond this by a big action is released */

static int64_t mono_ms(void) { return sq_mono_us() / 1000; }

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

/* Asks the registry for the action and caches it. On failure the caller has been answered
 * (a wire error, or the registry's own error as it came) and NULL is returned. */
static sched_entry *resolve(sched_worker *w, natsMsg *msg, const sq_invoke *inv, uint64_t hash,
                            int64_t now_ms)
{
    sq_bus_t *bus = w->s->bus;
    sq_reg_ref ref = { .ns = inv->ns, .name = inv->name, .kind = "action", .code = true };
    uint64_t gen = sched_cache_gen(w->s->cache);
    msgpack_packer pk;
    natsMsg *reply = NULL;
    sched_entry *e = NULL;
    char err[256] = "";
    sq_status st;

    buf_reset(w, &pk);
    sq_reg_ref_encode(&ref, &pk);
    st = sq_bus_request(bus, SQ_SUBJ_REG_RESOLVE, w->sb.data, w->sb.size,
                        sched_cfg.resolve_timeout_ms, &reply);
    if (st != SQ_OK) {
        sq_warn("could not resolve action \"%s/%s\": the registry %s", inv->ns, inv->name,
                st == SQ_ERR_TIMEOUT ? "did not answer in time" : "is not available");
        sq_bus_respond_error(bus, msg, st == SQ_ERR_TIMEOUT ? SQ_ERR_TIMEOUT : SQ_ERR_UNAVAILABLE,
                             st == SQ_ERR_TIMEOUT ? "the registry did not answer in time"
                                                  : "the registry is not available");
        return NULL;
    }
    st = sched_entry_create(&e, inv->ns, inv->name, hash, natsMsg_GetData(reply),
                            (size_t)natsMsg_GetDataLength(reply), err, sizeof err);
    if (st == SQ_ERR_NOT_FOUND) {
        /* the registry's own answer (404, 403...) goes to the caller unchanged */
        sq_bus_respond(bus, msg, natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply));
    } else if (st != SQ_OK) {
        sq_error("could not use the registry's answer for action \"%s/%s\": %s", inv->ns,
                 inv->name, st == SQ_ERR_NOMEM ? "out of memory" : err);
        sq_bus_respond_error(bus, msg, st == SQ_ERR_NOMEM ? SQ_ERR_NOMEM : SQ_ERR_INTERNAL,
                             "could not resolve the action");
    }
    natsMsg_Destroy(reply);
    if (e != NULL)
        sched_cache_put(w->s->cache, e, gen, now_ms, sched_cfg.cache_ttl_ms);
    return e;
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

/* The action's parameters with the invoke's on top, as one map pointing into the request
 * and the entry (both outlive the encode). */
static bool merge_params(sched_worker *w, const sched_entry *e, const msgpack_object *top,
                         msgpack_object *out)
{
    uint32_t ntop = top->type == MSGPACK_OBJECT_MAP ? top->via.map.size : 0, n = 0;
    msgpack_object_kv *kv;

    if (ntop == 0) {
        *out = e->defaults_map;
        return true;
    }
    if (e->ndefaults == 0) {
        *out = *top;
        return true;
    }
    kv = msgpack_zone_malloc(&w->zone, sizeof *kv * ((size_t)ntop + e->ndefaults));
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

/* Queues the encoded work (in w->sb) on SQ_WORK and waits for JetStream's ack. The header
 * Nats-Msg-Id makes a repeated publish of the same activation land once. */
static natsStatus enqueue(sched_worker *w, const char *subject, const char *id)
{
    jsPubOptions po;
    jsPubAck *ack = NULL;
    jsErrCode jerr = 0;
    natsMsg *m = NULL;
    natsStatus s;

    s = natsMsg_Create(&m, subject, NULL, w->sb.data, (int)w->sb.size);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
    if (s == NATS_OK)
        s = jsPubOptions_Init(&po);
    if (s == NATS_OK) {
        po.ExpectStream = SQ_STREAM_WORK;
        po.MaxWait = sched_cfg.publish_timeout_ms;
        s = js_PublishMsg(&ack, sq_bus_js(w->s->bus), m, &po, &jerr);
    }
    natsMsg_Destroy(m);
    jsPubAck_Destroy(ack);
    if (s != NATS_OK)
        sq_error("could not queue activation \"%s\" on \"%s\": %s (%d)", id, subject,
                 natsStatus_GetText(s), (int)jerr);
    return s;
}

/* Answers the caller when the work could not be handed over. */
static void respond_send_error(sq_bus_t *bus, natsMsg *msg, natsStatus s, size_t size, bool queued)
{
    if (s == NATS_MAX_PAYLOAD)
        sq_bus_respond_error(bus, msg, SQ_ERR_TOO_LARGE,
                             "the action and its parameters are too large to send to an invoker (%zu bytes)", size);
    else
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAVAILABLE, queued ? "could not queue the activation"
                                                                  : "could not reach the invoker");
}

void sched_on_invoke(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched_worker *w = closure;
    sched *s = w->s;
    sq_invoke inv;
    sq_work work;
    sched_entry *e;
    sched_target t;
    msgpack_packer pk;
    char err[256] = "";
    const char *reply;
    int64_t now;
    uint64_t hash;
    sq_status st;
    natsStatus ns;

    msgpack_zone_clear(&w->zone);
    st = sq_invoke_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &w->zone,
                          &inv, err, sizeof err);
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

    now = mono_ms();
    hash = sched_key_hash(inv.ns, inv.name);
    e = sched_cache_get(s->cache, hash, inv.ns, inv.name, now);
    if (e == NULL && (e = resolve(w, msg, &inv, hash, now)) == NULL)
        return;

    if (!sched_place(s->invokers, hash, e->action.limits.memory, now, sched_cfg.heartbeat_ttl_ms, &t)) {
        sq_debug("no invoker for activation \"%s\"", inv.id);
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAVAILABLE, "no invokers are available");
        goto done;
    }

    reply = natsMsg_GetReply(msg);
    memset(&work, 0, sizeof work);
    work.id = inv.id;
    work.subject = inv.subject;
    work.key = inv.key;
    work.reply = inv.blocking && reply != NULL ? (char *)reply : "";
    work.blocking = inv.blocking;
    work.submitted = sq_now_ms();
    work.action = e->action;
    if (!merge_params(w, e, &inv.params, &work.params)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_NOMEM, NULL);
        goto done;
    }
    buf_reset(w, &pk);
    sq_work_encode(&work, &pk);

    if (inv.blocking) {
        /* the invoker answers the caller on work.reply; nothing more from here */
        ns = natsConnection_Publish(sq_bus_nc(bus), t.run, w->sb.data, (int)w->sb.size);
        if (ns != NATS_OK) {
            sq_error("could not send activation \"%s\" to \"%s\": %s", inv.id, t.run,
                     natsStatus_GetText(ns));
            respond_send_error(bus, msg, ns, w->sb.size, false);
        } else
            sq_debug("activation \"%s\" of \"%s/%s\" sent to \"%s\"", inv.id, inv.ns, inv.name, t.run);
        goto done;
    }

    if ((ns = enqueue(w, t.work, inv.id)) != NATS_OK) {
        respond_send_error(bus, msg, ns, w->sb.size, true);
        goto done;
    }
    sq_debug("activation \"%s\" of \"%s/%s\" queued on \"%s\"", inv.id, inv.ns, inv.name, t.work);
    buf_reset(w, &pk);
    msgpack_pack_map(&pk, 1);
    sq_mp_kv_str(&pk, "activationId", inv.id);
    sq_bus_respond(bus, msg, w->sb.data, w->sb.size);
done:
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
    if (sq_heartbeat_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &hb,
                            err, sizeof err) == SQ_OK)
        sched_invokers_update(s->invokers, &hb, mono_ms());
    else
        sq_warn("ignored a malformed heartbeat: %s", err);
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
