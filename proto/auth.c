/* Messages of the auth service: sq.auth.verify and its reply. */
#include <stdio.h>
#include "proto_impl.h"

void sq_auth_verify_encode(const sq_auth_verify *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 1);
    sq_mp_kv_str(pk, "key", m->key);
}

static const sq_mp_field verify_fields[] = {
    F(sq_auth_verify, "key", SQ_F_STR, key, true),
};

sq_status sq_auth_verify_from(const msgpack_object *o, sq_arena_t *ar, sq_auth_verify *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(verify_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_auth_verify)

void sq_identity_encode(const sq_identity *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    sq_mp_kv_str(pk, "subject", m->subject);
    sq_mp_kv_str(pk, "namespace", m->namespace_);
    sq_mp_kv_str(pk, "uuid", m->uuid);
}

static const sq_mp_field identity_fields[] = {
    F(sq_identity, "subject", SQ_F_STR, subject, true),
    F(sq_identity, "namespace", SQ_F_STR, namespace_, true),
    F(sq_identity, "uuid", SQ_F_STR, uuid, true),
};

sq_status sq_identity_from(const msgpack_object *o, sq_arena_t *ar, sq_identity *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    return sq_mp_decode_map(o, SQ_MP_FIELDS(identity_fields), ar, out, err, errlen);
}
DEFINE_DECODE(sq_identity)
