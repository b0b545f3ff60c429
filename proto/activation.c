/* Messages of the activation store: the activation record and the query request. */
#include <stdio.h>
#include "proto_impl.h"

static const char *const status_names[] = {
    "success",
    "application error",
    "action developer error",
    "whisk internal error",
};

const char *sq_act_status_str(sq_act_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "whisk internal error";
}

/* The annotation `key` of annotations when it is a string, else NULL (len in *n). */
static const char *annot_strval(const msgpack_object *annotations, const char *key, size_t *n)
{
    if (annotations->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    for (uint32_t i = 0; i < annotations->via.array.size; i++) {
        const msgpack_object *e = &annotations->via.array.ptr[i];
        const msgpack_object *k = sq_mp_get(e, "key"), *v = sq_mp_get(e, "value");
        if (k != NULL && k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0) {
            if (v == NULL || v->type != MSGPACK_OBJECT_STR)
                return NULL;
            *n = v->via.str.size;
            return v->via.str.ptr;
        }
    }
    return NULL;
}

void sq_activation_encode(const sq_activation *m, msgpack_packer *pk)
{
    /* OpenWhisk's top-level cause: the composition a component belongs to */
    size_t nby = 0, ncause = 0;
    const char *by = annot_strval(&m->annotations, "causedBy", &nby);
    const char *cause = by != NULL && nby == 8 && memcmp(by, "sequence", 8) == 0
                            ? annot_strval(&m->annotations, "cause", &ncause)
                            : NULL;
    if (cause != NULL && ncause == 0)
        cause = NULL;

    msgpack_pack_map(pk, 12 + (cause != NULL ? 1 : 0));
    sq_mp_kv_str(pk, "activationId", m->id);
    sq_mp_kv_str(pk, "namespace", m->namespace_);
    sq_mp_kv_str(pk, "name", m->name);
    sq_mp_kv_str(pk, "version", m->version);
    sq_mp_kv_str(pk, "subject", m->subject);
    sq_mp_kv_int(pk, "start", m->start);
    sq_mp_kv_int(pk, "end", m->end);
    sq_mp_kv_int(pk, "duration", m->duration);
    sq_mp_pack_str(pk, "response");
    msgpack_pack_map(pk, 4);
    sq_mp_kv_str(pk, "status", sq_act_status_str(m->status));
    sq_mp_kv_int(pk, "statusCode", m->status);
    sq_mp_kv_bool(pk, "success", m->status == SQ_ACT_SUCCESS);
    sq_mp_kv_obj(pk, "result", &m->result);
    sq_mp_pack_str(pk, "logs");
    msgpack_pack_array(pk, m->nlogs);
    for (size_t i = 0; i < m->nlogs; i++)
        sq_mp_pack_str(pk, m->logs[i]);
    sq_mp_pack_str(pk, "annotations");
    if (m->annotations.type == MSGPACK_OBJECT_ARRAY)
        msgpack_pack_object(pk, m->annotations);
    else
        msgpack_pack_array(pk, 0);
    sq_mp_kv_bool(pk, "publish", m->publish);
    if (cause != NULL) {
        sq_mp_pack_str(pk, "cause");
        msgpack_pack_str(pk, ncause);
        msgpack_pack_str_body(pk, cause, ncause);
    }
}

static void annot_str(msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_map(pk, 2);
    sq_mp_kv_str(pk, "key", key);
    sq_mp_kv_str(pk, "value", value);
}

static void annot_bool(msgpack_packer *pk, const char *key, bool value)
{
    msgpack_pack_map(pk, 2);
    sq_mp_kv_str(pk, "key", key);
    sq_mp_kv_bool(pk, "value", value);
}

static void annot_int(msgpack_packer *pk, const char *key, int64_t value)
{
    msgpack_pack_map(pk, 2);
    sq_mp_kv_str(pk, "key", key);
    sq_mp_kv_int(pk, "value", value);
}

void sq_act_annots_encode(const sq_act_annots *a, msgpack_packer *pk)
{
    bool caused_by = a->caused_by && *a->caused_by, cause = a->cause && *a->cause;
    /* counted from the same conditions that write them below */
    uint32_t n = 2 + (a->composition ? 1 : 0) + (a->conductor ? 1 : 0) + (a->limits ? 1 : 0) +
                 (a->binding ? 1 : 0) + (a->wait_time >= 0 ? 1 : 0) + (a->init_time >= 0 ? 1 : 0) +
                 (a->timeout ? 1 : 0) + (caused_by ? 1 : 0) + (cause ? 1 : 0) +
                 (a->invoker ? 1 : 0);

    msgpack_pack_array(pk, n);
    if (a->composition)
        annot_bool(pk, "topmost", a->topmost);
    annot_str(pk, "path", a->path ? a->path : "");
    if (a->conductor)
        annot_bool(pk, "conductor", true);
    annot_str(pk, "kind", a->kind ? a->kind : "");
    if (a->limits) {
        msgpack_pack_map(pk, 2);
        sq_mp_kv_str(pk, "key", "limits");
        sq_mp_pack_str(pk, "value");
        msgpack_pack_map(pk, 4);
        sq_mp_kv_int(pk, "timeout", a->limits->timeout);
        sq_mp_kv_int(pk, "memory", a->limits->memory);
        sq_mp_kv_int(pk, "logs", a->limits->logs);
        sq_mp_kv_int(pk, "concurrency", a->limits->concurrency);
    }
    if (a->binding)
        annot_str(pk, "binding", a->binding);
    if (a->wait_time >= 0)
        annot_int(pk, "waitTime", a->wait_time);
    if (a->init_time >= 0)
        annot_int(pk, "initTime", a->init_time);
    if (a->timeout)
        annot_bool(pk, "timeout", true);
    if (caused_by)
        annot_str(pk, "causedBy", a->caused_by);
    if (cause)
        annot_str(pk, "cause", a->cause);
    if (a->invoker)
        annot_str(pk, "invoker", a->invoker);
}

typedef struct act_wire {
    sq_activation a;
    int64_t status_code;
    msgpack_object response;
} act_wire;

static const sq_mp_field response_fields[] = {
    F(act_wire, "statusCode", SQ_F_INT, status_code, true),
    F(act_wire, "result", SQ_F_ANY, a.result, false),
};

static const sq_mp_field activation_fields[] = {
    F(act_wire, "activationId", SQ_F_STR, a.id, true),
    F(act_wire, "namespace", SQ_F_STR, a.namespace_, true),
    F(act_wire, "name", SQ_F_STR, a.name, true),
    F(act_wire, "version", SQ_F_STR, a.version, false),
    F(act_wire, "subject", SQ_F_STR, a.subject, false),
    F(act_wire, "start", SQ_F_INT, a.start, true),
    F(act_wire, "end", SQ_F_INT, a.end, true),
    F(act_wire, "duration", SQ_F_INT, a.duration, false),
    F(act_wire, "response", SQ_F_MAP, response, true),
    FS(act_wire, "logs", a.logs, a.nlogs, false),
    F(act_wire, "annotations", SQ_F_ARRAY, a.annotations, false),
    F(act_wire, "publish", SQ_F_BOOL, a.publish, false),
    F(act_wire, "cause", SQ_F_STR, a.cause, false),
};

sq_status sq_activation_from(const msgpack_object *o, sq_arena_t *ar, sq_activation *out, char *err,
                             size_t errlen)
{
    act_wire w;
    sq_status st;
    static char *no_logs[1] = { NULL };

    memset(&w, 0, sizeof w);
    nil(&w.a.result);
    nil(&w.a.annotations);
    w.a.version = "0.0.1";
    w.a.subject = "";
    w.a.logs = no_logs;
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(activation_fields), ar, &w, err, errlen);
    if (st == SQ_OK)
        st = sq_mp_decode_map(&w.response, SQ_MP_FIELDS(response_fields), ar, &w, err, errlen);
    if (st == SQ_OK && (w.status_code < 0 || w.status_code > 3)) {
        if (err)
            snprintf(err, errlen, "statusCode out of range");
        st = SQ_ERR_DECODE;
    }
    if (st == SQ_OK && !sq_id_valid(w.a.id)) {
        if (err)
            snprintf(err, errlen, "activationId is not 32 hex characters");
        st = SQ_ERR_DECODE;
    }
    w.a.status = (sq_act_status)w.status_code;
    *out = w.a;
    return st;
}
DEFINE_DECODE(sq_activation)

static const sq_mp_field query_fields[] = {
    F(sq_act_query, "ns", SQ_F_STR, ns, true),
    FE(sq_act_query, "id", SQ_F_STR, id, false, SQ_ENC_STR0),
    FE(sq_act_query, "name", SQ_F_STR, name, false, SQ_ENC_STR0),
    F(sq_act_query, "skip", SQ_F_INT, skip, false),
    F(sq_act_query, "limit", SQ_F_INT, limit, false),
    F(sq_act_query, "since", SQ_F_INT, since, false),
    F(sq_act_query, "upto", SQ_F_INT, upto, false),
    F(sq_act_query, "docs", SQ_F_BOOL, docs, false),
    F(sq_act_query, "count", SQ_F_BOOL, count, false),
};

void sq_act_query_encode(const sq_act_query *m, msgpack_packer *pk)
{
    ENCODE(pk, query_fields, m);
}

sq_status sq_act_query_from(const msgpack_object *o, sq_arena_t *ar, sq_act_query *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->id = "";
    out->name = "";
    out->limit = 30;
    return sq_mp_decode_map(o, SQ_MP_FIELDS(query_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_act_query)
