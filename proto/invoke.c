/* Messages of the invocation path: the invoke request (gateway -> scheduler), the work
 * item (scheduler -> invoker) and the invoker heartbeat. */
#include <stdio.h>
#include "proto_impl.h"

void sq_invoke_encode(const sq_invoke *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 11 + (m->min_rev > 0 ? 1 : 0));
    sq_mp_kv_str(pk, "id", m->id);
    sq_mp_kv_str(pk, "ns", m->ns);
    sq_mp_kv_str(pk, "name", m->name);
    sq_mp_kv_str(pk, "subject", m->subject);
    sq_mp_kv_str(pk, "key", m->key);
    if (m->min_rev > 0)
        sq_mp_kv_int(pk, "min_rev", m->min_rev);
    sq_mp_kv_obj(pk, "params", &m->params);
    sq_mp_kv_bool(pk, "blocking", m->blocking);
    sq_mp_kv_int(pk, "wait_ms", m->wait_ms);
    sq_mp_kv_bool(pk, "shared", m->shared);
    sq_mp_kv_str(pk, "caller_ns", m->caller_ns);
    sq_mp_kv_str(pk, "cause", m->cause);
}

static const sq_mp_field invoke_fields[] = {
    F(sq_invoke, "id", SQ_F_STR, id, true),
    F(sq_invoke, "ns", SQ_F_STR, ns, true),
    F(sq_invoke, "name", SQ_F_STR, name, true),
    F(sq_invoke, "subject", SQ_F_STR, subject, true),
    F(sq_invoke, "key", SQ_F_STR, key, false),
    F(sq_invoke, "params", SQ_F_ANY, params, false),
    F(sq_invoke, "blocking", SQ_F_BOOL, blocking, false),
    F(sq_invoke, "wait_ms", SQ_F_INT, wait_ms, false),
    F(sq_invoke, "shared", SQ_F_BOOL, shared, false),
    F(sq_invoke, "caller_ns", SQ_F_STR, caller_ns, false),
    F(sq_invoke, "cause", SQ_F_STR, cause, false),
    F(sq_invoke, "min_rev", SQ_F_INT, min_rev, false),
};

sq_status sq_invoke_from(const msgpack_object *o, sq_arena_t *ar, sq_invoke *out, char *err,
                         size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    nil(&out->params);
    out->wait_ms = 60000;
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(invoke_fields), ar, out, err, errlen);
    if (st == SQ_OK && out->params.type != MSGPACK_OBJECT_MAP &&
        out->params.type != MSGPACK_OBJECT_ARRAY && out->params.type != MSGPACK_OBJECT_NIL) {
        if (err)
            snprintf(err, errlen, "expected a map or an array for \"params\"");
        return SQ_ERR_DECODE;
    }
    return st;
}
DEFINE_DECODE(sq_invoke)

void sq_work_encode(const sq_work *m, msgpack_packer *pk)
{
    bool ns = m->ns != NULL && m->ns[0] != '\0';
    bool binding = m->binding != NULL && m->binding[0] != '\0';
    msgpack_pack_map(pk, (ns ? 11 : 10) + (binding ? 1 : 0));
    sq_mp_kv_str(pk, "id", m->id);
    sq_mp_kv_str(pk, "subject", m->subject);
    sq_mp_kv_str(pk, "key", m->key ? m->key : "");
    if (ns)
        sq_mp_kv_str(pk, "ns", m->ns);
    sq_mp_kv_str(pk, "reply", m->reply ? m->reply : "");
    sq_mp_kv_bool(pk, "blocking", m->blocking);
    sq_mp_kv_int(pk, "submitted", m->submitted);
    sq_mp_pack_str(pk, "action");
    sq_action_encode(&m->action, pk);
    sq_mp_kv_obj(pk, "params", &m->params);
    sq_mp_kv_str(pk, "cause", m->cause ? m->cause : "");
    sq_mp_kv_str(pk, "caused_by", m->caused_by ? m->caused_by : "");
    if (binding)
        sq_mp_kv_str(pk, "binding", m->binding);
}

typedef struct work_wire {
    sq_work w;
    msgpack_object action;
} work_wire;

static const sq_mp_field work_fields[] = {
    F(work_wire, "id", SQ_F_STR, w.id, true),
    F(work_wire, "subject", SQ_F_STR, w.subject, true),
    F(work_wire, "key", SQ_F_STR, w.key, false),
    F(work_wire, "reply", SQ_F_STR, w.reply, false),
    F(work_wire, "blocking", SQ_F_BOOL, w.blocking, false),
    F(work_wire, "submitted", SQ_F_INT, w.submitted, false),
    F(work_wire, "action", SQ_F_MAP, action, true),
    F(work_wire, "params", SQ_F_ANY, w.params, true),
    F(work_wire, "cause", SQ_F_STR, w.cause, false),
    F(work_wire, "caused_by", SQ_F_STR, w.caused_by, false),
    F(work_wire, "ns", SQ_F_STR, w.ns, false),
    F(work_wire, "binding", SQ_F_STR, w.binding, false),
};

sq_status sq_work_from(const msgpack_object *o, sq_arena_t *ar, sq_work *out, char *err,
                       size_t errlen)
{
    work_wire ww;
    sq_status st;

    memset(&ww, 0, sizeof ww);
    ww.w.key = "";
    ww.w.reply = "";
    ww.w.cause = "";
    ww.w.caused_by = "";
    ww.w.ns = "";
    ww.w.binding = "";
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(work_fields), ar, &ww, err, errlen);
    if (st == SQ_OK && ww.w.params.type != MSGPACK_OBJECT_MAP &&
        ww.w.params.type != MSGPACK_OBJECT_ARRAY) {
        if (err)
            snprintf(err, errlen, "params must be a map or an array");
        st = SQ_ERR_DECODE;
    }
    if (st == SQ_OK)
        st = sq_action_from(&ww.action, ar, &ww.w.action, err, errlen);
    if (st == SQ_OK && ww.w.action.exec.code == NULL) {
        if (err)
            snprintf(err, errlen, "work item carries no code");
        st = SQ_ERR_DECODE;
    }
    *out = ww.w;
    return st;
}
DEFINE_DECODE(sq_work)

void sq_heartbeat_encode(const sq_heartbeat *m, msgpack_packer *pk)
{
    bool actions = m->actions.type == MSGPACK_OBJECT_MAP;
    msgpack_pack_map(pk, actions ? 10 : 9);
    sq_mp_kv_str(pk, "id", m->id);
    sq_mp_kv_int(pk, "total_mb", m->total_mb);
    sq_mp_kv_int(pk, "free_mb", m->free_mb);
    sq_mp_kv_int(pk, "warm", m->warm);
    sq_mp_kv_int(pk, "busy", m->busy);
    sq_mp_kv_bool(pk, "healthy", m->healthy);
    sq_mp_kv_bool(pk, "draining", m->draining);
    sq_mp_kv_int(pk, "at", m->at);
    sq_mp_kv_int(pk, "started", m->started);
    if (actions)
        sq_mp_kv_obj(pk, "actions", &m->actions);
}

static const sq_mp_field heartbeat_fields[] = {
    F(sq_heartbeat, "id", SQ_F_STR, id, true),
    F(sq_heartbeat, "total_mb", SQ_F_INT, total_mb, true),
    F(sq_heartbeat, "free_mb", SQ_F_INT, free_mb, true),
    F(sq_heartbeat, "warm", SQ_F_INT, warm, false),
    F(sq_heartbeat, "busy", SQ_F_INT, busy, false),
    F(sq_heartbeat, "healthy", SQ_F_BOOL, healthy, false),
    F(sq_heartbeat, "draining", SQ_F_BOOL, draining, false),
    F(sq_heartbeat, "at", SQ_F_INT, at, false),
    F(sq_heartbeat, "started", SQ_F_INT, started, false),
    F(sq_heartbeat, "actions", SQ_F_MAP, actions, false),
};

sq_status sq_heartbeat_from(const msgpack_object *o, sq_arena_t *ar, sq_heartbeat *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->healthy = true;
    out->actions.type = MSGPACK_OBJECT_NIL;
    return sq_mp_decode_map(o, SQ_MP_FIELDS(heartbeat_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_heartbeat)

void sq_sched_beat_encode(const sq_sched_beat *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    sq_mp_kv_str(pk, "id", m->id);
    sq_mp_kv_int(pk, "at", m->at);
}

static const sq_mp_field sched_beat_fields[] = {
    F(sq_sched_beat, "id", SQ_F_STR, id, true),
    F(sq_sched_beat, "at", SQ_F_INT, at, false),
};

sq_status sq_sched_beat_from(const msgpack_object *o, sq_arena_t *ar, sq_sched_beat *out, char *err,
                             size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(sched_beat_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_sched_beat)

void sq_sched_moved_encode(const sq_sched_moved *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    sq_mp_kv_str(pk, "id", m->id);
    sq_mp_kv_str(pk, "invoker", m->invoker);
    sq_mp_kv_int(pk, "seq", m->seq);
}

static const sq_mp_field sched_moved_fields[] = {
    F(sq_sched_moved, "id", SQ_F_STR, id, true),
    F(sq_sched_moved, "invoker", SQ_F_STR, invoker, true),
    F(sq_sched_moved, "seq", SQ_F_INT, seq, true),
};

sq_status sq_sched_moved_from(const msgpack_object *o, sq_arena_t *ar, sq_sched_moved *out,
                              char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(sched_moved_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_sched_moved)

void sq_fire_encode(const sq_fire *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 7);
    sq_mp_kv_str(pk, "id", m->id);
    sq_mp_kv_str(pk, "ns", m->ns);
    sq_mp_kv_str(pk, "name", m->name);
    sq_mp_kv_str(pk, "subject", m->subject);
    sq_mp_kv_str(pk, "key", m->key);
    sq_mp_kv_str(pk, "caller_ns", m->caller_ns);
    sq_mp_kv_obj(pk, "payload", &m->payload);
}

static const sq_mp_field fire_fields[] = {
    F(sq_fire, "id", SQ_F_STR, id, true),
    F(sq_fire, "ns", SQ_F_STR, ns, true),
    F(sq_fire, "name", SQ_F_STR, name, true),
    F(sq_fire, "subject", SQ_F_STR, subject, true),
    F(sq_fire, "key", SQ_F_STR, key, false),
    F(sq_fire, "caller_ns", SQ_F_STR, caller_ns, false),
    F(sq_fire, "payload", SQ_F_MAP, payload, false),
};

sq_status sq_fire_from(const msgpack_object *o, sq_arena_t *ar, sq_fire *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    nil(&out->payload);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(fire_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_fire)
