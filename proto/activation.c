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
    const msgpack_object *v = sq_kv_value(annotations, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_STR)
        return NULL;
    *n = v->via.str.size;
    return v->via.str.ptr;
}

/* One annotation {key, value}: a string, a bool, an int or the limits map. */
typedef struct annot {
    const char *key;
    enum { A_STR, A_BOOL, A_INT, A_LIMITS } type;
    const char *s;
    int64_t i;
} annot;

static void annot_pack(msgpack_packer *pk, const annot *e, const sq_limits *limits)
{
    msgpack_pack_map(pk, 2);
    sq_mp_kv_str(pk, "key", e->key);
    sq_mp_pack_str(pk, "value");
    switch (e->type) {
    case A_STR: sq_mp_pack_str(pk, e->s); break;
    case A_BOOL:
        if (e->i)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case A_INT: msgpack_pack_int64(pk, e->i); break;
    case A_LIMITS:
        /* always the four of them, whoever makes the record */
        sq_proto_encode_map(pk, sq_limits_fields, SQ_LIMITS_NFIELDS, limits);
        break;
    }
}

void sq_act_annots_encode(const sq_act_annots *a, msgpack_packer *pk)
{
    annot e[16];
    size_t n = 0;
    bool cause = a->cause && *a->cause;
    /* causedBy only with a cause: what caused it, as its maker says ("sequence" for a
     * composition's component, "trigger" for a rule's action); never guessed */
    bool caused_by = cause && a->caused_by && *a->caused_by;

    if (a->composition)
        e[n++] = (annot){ "topmost", A_BOOL, NULL, a->topmost };
    e[n++] = (annot){ "path", A_STR, a->path ? a->path : "", 0 };
    if (a->conductor)
        e[n++] = (annot){ "conductor", A_BOOL, NULL, true };
    e[n++] = (annot){ "kind", A_STR, a->kind ? a->kind : "", 0 };
    if (a->limits)
        e[n++] = (annot){ "limits", A_LIMITS, NULL, 0 };
    if (a->binding)
        e[n++] = (annot){ "binding", A_STR, a->binding, 0 };
    if (a->wait_time >= 0)
        e[n++] = (annot){ "waitTime", A_INT, NULL, a->wait_time };
    if (a->init_time >= 0)
        e[n++] = (annot){ "initTime", A_INT, NULL, a->init_time };
    if (a->timeout)
        e[n++] = (annot){ "timeout", A_BOOL, NULL, true };
    if (caused_by)
        e[n++] = (annot){ "causedBy", A_STR, a->caused_by, 0 };
    if (cause)
        e[n++] = (annot){ "cause", A_STR, a->cause, 0 };
    if (a->invoker)
        e[n++] = (annot){ "invoker", A_STR, a->invoker, 0 };
    /* the count is the number of entries made above, never computed apart */
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        annot_pack(pk, &e[i], a->limits);
}

/* The record on the wire: the struct, and what the response map holds besides. The
 * response's table reads the whole act_wire (its offsets are act_wire's: "response" nests
 * at offset 0). */
typedef struct act_wire {
    sq_activation a;
    int64_t status_code;
    const char *status_str;
    bool success;
} act_wire;
_Static_assert(offsetof(act_wire, a) == 0, "the response's table reads act_wire from its start");

/* status and success: written from statusCode, never read */
#define RESPONSE_HEAD                                                                              \
    FE(act_wire, "status", SQ_F_STR, status_str, false, SQ_ENC_ONLY),                              \
        F(act_wire, "statusCode", SQ_F_INT, status_code, true),                                    \
        FE(act_wire, "success", SQ_F_BOOL, success, false, SQ_ENC_ONLY)

static const sq_mp_field response_fields[] = {
    RESPONSE_HEAD,
    F(act_wire, "result", SQ_F_ANY, a.result, false),
};

/* sq.evt.activation: the response without its result */
static const sq_mp_field event_response_fields[] = {
    RESPONSE_HEAD,
};

#define N(tbl) (sizeof(tbl) / sizeof((tbl)[0]))

/* The record's first fields, in the record's and in its event's table */
#define RECORD_HEAD                                                                                \
    F(act_wire, "activationId", SQ_F_STR, a.id, true),                                             \
        F(act_wire, "namespace", SQ_F_STR, a.namespace_, true),                                    \
        F(act_wire, "name", SQ_F_STR, a.name, true),                                               \
        F(act_wire, "version", SQ_F_STR, a.version, false),                                        \
        F(act_wire, "subject", SQ_F_STR, a.subject, false),                                        \
        F(act_wire, "start", SQ_F_INT, a.start, true), F(act_wire, "end", SQ_F_INT, a.end, true),  \
        F(act_wire, "duration", SQ_F_INT, a.duration, false)

static const sq_mp_field activation_fields[] = {
    RECORD_HEAD,
    FNE(act_wire, "response", a, true, response_fields, N(response_fields), 0),
    FS(act_wire, "logs", a.logs, a.nlogs, false),
    FE(act_wire, "annotations", SQ_F_ARRAY, a.annotations, false, SQ_ENC_EMPTY),
    F(act_wire, "publish", SQ_F_BOOL, a.publish, false),
    FE(act_wire, "cause", SQ_F_STR, a.cause, false, SQ_ENC_OMITE),
};

/* sq.evt.activation: the record without result, logs and cause (sq_activation_event_encode) */
static const sq_mp_field event_fields[] = {
    RECORD_HEAD,
    FNE(act_wire, "response", a, true, event_response_fields, N(event_response_fields), 0),
    FE(act_wire, "annotations", SQ_F_ARRAY, a.annotations, false, SQ_ENC_EMPTY),
    F(act_wire, "publish", SQ_F_BOOL, a.publish, false),
};

/* OpenWhisk's activation summary (a list without docs): the record without logs and
 * response, plus statusCode, keys in its order */
static const sq_mp_field summary_fields[] = {
    F(act_wire, "activationId", SQ_F_STR, a.id, true),
    FE(act_wire, "annotations", SQ_F_ARRAY, a.annotations, false, SQ_ENC_EMPTY),
    F(act_wire, "duration", SQ_F_INT, a.duration, false),
    F(act_wire, "end", SQ_F_INT, a.end, true),
    F(act_wire, "name", SQ_F_STR, a.name, true),
    F(act_wire, "namespace", SQ_F_STR, a.namespace_, true),
    F(act_wire, "publish", SQ_F_BOOL, a.publish, false),
    F(act_wire, "start", SQ_F_INT, a.start, true),
    F(act_wire, "statusCode", SQ_F_INT, status_code, true),
    F(act_wire, "subject", SQ_F_STR, a.subject, false),
    F(act_wire, "version", SQ_F_STR, a.version, false),
};

/* The wire form of m: OpenWhisk's top-level cause (the composition a component belongs to)
 * from the annotations of a record annotated {causedBy: "sequence"}, so every maker of
 * records carries it alike. */
static act_wire to_wire(const sq_activation *m, char *cause_buf, size_t cause_len)
{
    act_wire w = { .a = *m };
    size_t nby = 0, ncause = 0;
    const char *by = annot_strval(&m->annotations, "causedBy", &nby);
    const char *cause = by != NULL && nby == 8 && memcmp(by, "sequence", 8) == 0
                            ? annot_strval(&m->annotations, "cause", &ncause)
                            : NULL;

    w.a.cause = NULL;
    if (cause != NULL && ncause < cause_len) { /* an activation id: 32 characters */
        memcpy(cause_buf, cause, ncause);
        cause_buf[ncause] = '\0';
        w.a.cause = cause_buf;
    }
    w.status_code = m->status;
    w.status_str = sq_act_status_str(m->status);
    w.success = m->status == SQ_ACT_SUCCESS;
    if (w.a.logs == NULL)
        w.a.nlogs = 0;
    return w;
}

/* The record, or one of its views, packed through its field table. */
static void encode_as(const sq_activation *m, msgpack_packer *pk, const sq_mp_field *t, size_t n)
{
    char cause[256];
    act_wire w = to_wire(m, cause, sizeof cause);
    sq_proto_encode_map(pk, t, n, &w);
}

void sq_activation_encode(const sq_activation *m, msgpack_packer *pk)
{
    encode_as(m, pk, SQ_MP_FIELDS(activation_fields));
}

void sq_act_response_encode(const sq_activation *m, msgpack_packer *pk)
{
    encode_as(m, pk, SQ_MP_FIELDS(response_fields));
}

void sq_activation_summary_encode(const sq_activation *m, msgpack_packer *pk)
{
    encode_as(m, pk, SQ_MP_FIELDS(summary_fields));
}

void sq_activation_event_encode(const sq_activation *m, msgpack_packer *pk)
{
    encode_as(m, pk, SQ_MP_FIELDS(event_fields));
}

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

DEFINE_MESSAGE_D(sq_act_query, query_fields, ((sq_act_query){ .id = "", .name = "", .limit = 30 }))
