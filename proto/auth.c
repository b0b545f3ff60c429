/* Messages of the auth service: sq.auth.verify and its reply. */
#include <stdio.h>
#include "proto_impl.h"

static const sq_mp_field verify_fields[] = {
    F(sq_auth_verify, "key", SQ_F_STR, key, true),
};

DEFINE_MESSAGE(sq_auth_verify, verify_fields)

static const sq_mp_field identity_fields[] = {
    F(sq_identity, "subject", SQ_F_STR, subject, true),
    F(sq_identity, "namespace", SQ_F_STR, namespace_, true),
    F(sq_identity, "uuid", SQ_F_STR, uuid, true),
    FS(sq_identity, "namespaces", namespaces, nnamespaces, false),
};

void sq_identity_encode(const sq_identity *m, msgpack_packer *pk)
{
    sq_identity w = *m;
    if (w.namespaces == NULL) {
        /* a subject always has the key's namespace */
        w.namespaces = &w.namespace_;
        w.nnamespaces = 1;
    }
    ENCODE(pk, identity_fields, &w);
}

sq_status sq_identity_from(const msgpack_object *o, sq_arena_t *ar, sq_identity *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(identity_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_identity)

static const sq_mp_field ns_ref_fields[] = {
    F(sq_ns_ref, "ns", SQ_F_STR, ns, true),
};

DEFINE_MESSAGE(sq_ns_ref, ns_ref_fields)

static const sq_mp_field ns_limits_fields[] = {
    F(sq_ns_limits, "concurrentInvocations", SQ_F_INT, concurrent, false),
    F(sq_ns_limits, "invocationsPerMinute", SQ_F_INT, per_minute, false),
    F(sq_ns_limits, "firesPerMinute", SQ_F_INT, fires_per_minute, false),
    F(sq_ns_limits, "actionTimeoutMax", SQ_F_INT, timeout_max, false),
    F(sq_ns_limits, "actionMemoryMax", SQ_F_INT, memory_max, false),
    FE(sq_ns_limits, "blocked", SQ_F_BOOL, blocked, false, SQ_ENC_OMIT),
};

DEFINE_MESSAGE_D(sq_ns_limits, ns_limits_fields, SQ_NS_LIMITS_DEFAULT)

static const sq_mp_field admin_fields[] = {
    F(sq_admin, "token", SQ_F_STR, token, true),
    F(sq_admin, "op", SQ_F_STR, op, true),
    F(sq_admin, "subject", SQ_F_STR, subject, false),
    F(sq_admin, "namespace", SQ_F_STR, namespace_, false),
    F(sq_admin, "limits", SQ_F_MAP, limits, false),
};

DEFINE_MESSAGE(sq_admin, admin_fields)

static const sq_mp_field tenancy_event_fields[] = {
    F(sq_tenancy_event, "op", SQ_F_STR, op, true),
    F(sq_tenancy_event, "subject", SQ_F_STR, subject, false),
    F(sq_tenancy_event, "namespace", SQ_F_STR, namespace_, true),
    F(sq_tenancy_event, "at", SQ_F_INT, at, true),
};

DEFINE_MESSAGE_D(sq_tenancy_event, tenancy_event_fields, ((sq_tenancy_event){ .subject = "" }))

/* "blocked" twice: read as a bool, written from an object that is nil when absent */
typedef struct auth_event_wire {
    sq_auth_event e;
    msgpack_object blocked;
} auth_event_wire;

static const sq_mp_field auth_event_fields[] = {
    F(auth_event_wire, "op", SQ_F_STR, e.op, true),
    F(auth_event_wire, "subject", SQ_F_STR, e.subject, true),
    FE(auth_event_wire, "namespace", SQ_F_STR, e.namespace_, false, SQ_ENC_OMIT),
    FE(auth_event_wire, "blocked", SQ_F_BOOL, e.blocked, false, SQ_ENC_SKIP),
    FE(auth_event_wire, "blocked", SQ_F_ANY, blocked, false, SQ_ENC_ONLY | SQ_ENC_OMIT),
};

void sq_auth_event_encode(const sq_auth_event *m, msgpack_packer *pk)
{
    auth_event_wire w = { .e = *m };
    if (m->has_blocked) {
        w.blocked.type = MSGPACK_OBJECT_BOOLEAN;
        w.blocked.via.boolean = m->blocked;
    }
    ENCODE(pk, auth_event_fields, &w);
}

sq_status sq_auth_event_from(const msgpack_object *o, sq_arena_t *ar, sq_auth_event *out, char *err,
                             size_t errlen)
{
    auth_event_wire w;
    sq_status st;
    memset(&w, 0, sizeof w);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(auth_event_fields), ar, &w, err, errlen);
    w.e.has_blocked = st == SQ_OK && sq_mp_get(o, "blocked") != NULL &&
                      sq_mp_get(o, "blocked")->type == MSGPACK_OBJECT_BOOLEAN;
    *out = w.e;
    return st;
}
DEFINE_DECODE(sq_auth_event)

static const sq_mp_field admin_key_fields[] = {
    F(sq_admin_key, "subject", SQ_F_STR, subject, true),
    F(sq_admin_key, "namespace", SQ_F_STR, namespace_, true),
    F(sq_admin_key, "key", SQ_F_STR, key, true),
};

DEFINE_MESSAGE(sq_admin_key, admin_key_fields)

static const sq_mp_field admin_ns_fields[] = {
    F(sq_admin_ns, "name", SQ_F_STR, name, true),
    F(sq_admin_ns, "uuid", SQ_F_STR, uuid, false),
};

static const sq_mp_field admin_user_fields[] = {
    F(sq_admin_user, "subject", SQ_F_STR, subject, true),
    F(sq_admin_user, "blocked", SQ_F_BOOL, blocked, true),
    FV(sq_admin_user, "namespaces", nss, nnss, sq_admin_ns, admin_ns_fields, 0),
    FE(sq_admin_user, "namespaces", SQ_F_ARRAY, nss_read, true, SQ_ENC_SKIP),
};

DEFINE_MESSAGE_VEC(sq_admin_user, admin_user_fields, nss_read, sq_admin_ns, admin_ns_fields, nss,
                   nnss)

static const sq_mp_field admin_deleted_fields[] = {
    F(sq_admin_deleted, "subject", SQ_F_STR, subject, true),
    F(sq_admin_deleted, "deleted", SQ_F_BOOL, deleted, true),
    FS(sq_admin_deleted, "namespaces", namespaces, nnamespaces, true),
};

DEFINE_MESSAGE(sq_admin_deleted, admin_deleted_fields)

static const sq_mp_field admin_blocked_fields[] = {
    F(sq_admin_blocked, "subject", SQ_F_STR, subject, true),
    F(sq_admin_blocked, "blocked", SQ_F_BOOL, blocked, true),
};

DEFINE_MESSAGE(sq_admin_blocked, admin_blocked_fields)

static const sq_mp_field admin_subjects_fields[] = {
    FS(sq_admin_subjects, "subjects", subjects, nsubjects, true),
};

DEFINE_MESSAGE(sq_admin_subjects, admin_subjects_fields)
