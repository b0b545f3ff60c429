/* Messages of the auth service: sq.auth.verify and its reply. */
#include <stdio.h>
#include "proto_impl.h"

static const sq_mp_field verify_fields[] = {
    F(sq_auth_verify, "key", SQ_F_STR, key, true),
};

void sq_auth_verify_encode(const sq_auth_verify *m, msgpack_packer *pk)
{
    ENCODE(pk, verify_fields, m);
}

sq_status sq_auth_verify_from(const msgpack_object *o, sq_arena_t *ar, sq_auth_verify *out,
                              char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(verify_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_auth_verify)

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

void sq_ns_ref_encode(const sq_ns_ref *m, msgpack_packer *pk)
{
    ENCODE(pk, ns_ref_fields, m);
}

sq_status sq_ns_ref_from(const msgpack_object *o, sq_arena_t *ar, sq_ns_ref *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(ns_ref_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_ns_ref)

static const sq_mp_field ns_limits_fields[] = {
    F(sq_ns_limits, "concurrentInvocations", SQ_F_INT, concurrent, false),
    F(sq_ns_limits, "invocationsPerMinute", SQ_F_INT, per_minute, false),
    F(sq_ns_limits, "firesPerMinute", SQ_F_INT, fires_per_minute, false),
    F(sq_ns_limits, "actionTimeoutMax", SQ_F_INT, timeout_max, false),
    F(sq_ns_limits, "actionMemoryMax", SQ_F_INT, memory_max, false),
    FE(sq_ns_limits, "blocked", SQ_F_BOOL, blocked, false, SQ_ENC_OMIT),
};

void sq_ns_limits_encode(const sq_ns_limits *m, msgpack_packer *pk)
{
    ENCODE(pk, ns_limits_fields, m);
}

sq_status sq_ns_limits_from(const msgpack_object *o, sq_arena_t *ar, sq_ns_limits *out, char *err,
                            size_t errlen)
{
    *out = SQ_NS_LIMITS_DEFAULT;
    return sq_mp_decode_map(o, SQ_MP_FIELDS(ns_limits_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_ns_limits)

static const sq_mp_field admin_fields[] = {
    F(sq_admin, "token", SQ_F_STR, token, true),
    F(sq_admin, "op", SQ_F_STR, op, true),
    F(sq_admin, "subject", SQ_F_STR, subject, false),
    F(sq_admin, "namespace", SQ_F_STR, namespace_, false),
    F(sq_admin, "limits", SQ_F_MAP, limits, false),
};

void sq_admin_encode(const sq_admin *m, msgpack_packer *pk)
{
    ENCODE(pk, admin_fields, m);
}

sq_status sq_admin_from(const msgpack_object *o, sq_arena_t *ar, sq_admin *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof *out);
    nil(&out->limits);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(admin_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_admin)

static const sq_mp_field tenancy_event_fields[] = {
    F(sq_tenancy_event, "op", SQ_F_STR, op, true),
    F(sq_tenancy_event, "subject", SQ_F_STR, subject, false),
    F(sq_tenancy_event, "namespace", SQ_F_STR, namespace_, true),
    F(sq_tenancy_event, "at", SQ_F_INT, at, true),
};

void sq_tenancy_event_encode(const sq_tenancy_event *m, msgpack_packer *pk)
{
    ENCODE(pk, tenancy_event_fields, m);
}

sq_status sq_tenancy_event_from(const msgpack_object *o, sq_arena_t *ar, sq_tenancy_event *out,
                                char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->subject = "";
    return sq_mp_decode_map(o, SQ_MP_FIELDS(tenancy_event_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_tenancy_event)
