/* Messages of the API routes (wsk api): one route, the put request, and the query of get and
 * delete. */
#include <stdio.h>
#include "proto_impl.h"

#define S(x) ((x) ? (x) : "")

void sq_route_encode(const sq_route *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 10);
    sq_mp_kv_str(pk, "namespace", S(m->namespace_));
    sq_mp_kv_str(pk, "basepath", S(m->basepath));
    sq_mp_kv_str(pk, "relpath", S(m->relpath));
    sq_mp_kv_str(pk, "method", S(m->method));
    sq_mp_kv_str(pk, "api_name", S(m->api_name));
    sq_mp_kv_str(pk, "action_ns", S(m->action_ns));
    sq_mp_kv_str(pk, "action_pkg", S(m->action_pkg));
    sq_mp_kv_str(pk, "action_name", S(m->action_name));
    sq_mp_kv_str(pk, "response_type", S(m->response_type));
    sq_mp_kv_int(pk, "updated", m->updated);
}

static const sq_mp_field route_fields[] = {
    F(sq_route, "namespace", SQ_F_STR, namespace_, false),
    F(sq_route, "basepath", SQ_F_STR, basepath, false),
    F(sq_route, "relpath", SQ_F_STR, relpath, true),
    F(sq_route, "method", SQ_F_STR, method, true),
    F(sq_route, "api_name", SQ_F_STR, api_name, false),
    F(sq_route, "action_ns", SQ_F_STR, action_ns, true),
    F(sq_route, "action_pkg", SQ_F_STR, action_pkg, false),
    F(sq_route, "action_name", SQ_F_STR, action_name, true),
    F(sq_route, "response_type", SQ_F_STR, response_type, true),
    F(sq_route, "updated", SQ_F_INT, updated, false),
};

sq_status sq_route_from(const msgpack_object *o, sq_arena_t *ar, sq_route *out, char *err,
                        size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(route_fields), ar, out, err, errlen);
    /* absent optional strings read as "" so that users of a route never meet NULL */
    if (st == SQ_OK) {
        char **opt[] = { &out->namespace_, &out->basepath, &out->api_name, &out->action_pkg };
        for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
            if (*opt[i] == NULL)
                *opt[i] = "";
    }
    return st;
}
DEFINE_DECODE(sq_route)

void sq_route_put_encode(const sq_route_put *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    sq_mp_kv_str(pk, "ns", S(m->ns));
    sq_mp_kv_str(pk, "basepath", S(m->basepath));
    sq_mp_kv_str(pk, "api_name", S(m->api_name));
    sq_mp_kv_bool(pk, "replace", m->replace);
    sq_mp_pack_str(pk, "routes");
    if (m->routes.type == MSGPACK_OBJECT_ARRAY)
        msgpack_pack_object(pk, m->routes);
    else
        msgpack_pack_array(pk, 0);
}

static const sq_mp_field route_put_fields[] = {
    F(sq_route_put, "ns", SQ_F_STR, ns, true),
    F(sq_route_put, "basepath", SQ_F_STR, basepath, true),
    F(sq_route_put, "api_name", SQ_F_STR, api_name, false),
    F(sq_route_put, "replace", SQ_F_BOOL, replace, false),
    F(sq_route_put, "routes", SQ_F_ARRAY, routes, true),
};

sq_status sq_route_put_from(const msgpack_object *o, sq_arena_t *ar, sq_route_put *out, char *err,
                            size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    nil(&out->routes);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(route_put_fields), ar, out, err, errlen);
    if (st == SQ_OK && out->api_name == NULL)
        out->api_name = "";
    return st;
}
DEFINE_DECODE(sq_route_put)

void sq_route_query_encode(const sq_route_query *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    sq_mp_kv_str(pk, "ns", S(m->ns));
    sq_mp_kv_str(pk, "basepath", S(m->basepath));
    sq_mp_kv_str(pk, "relpath", S(m->relpath));
    sq_mp_kv_str(pk, "method", S(m->method));
}

static const sq_mp_field route_query_fields[] = {
    F(sq_route_query, "ns", SQ_F_STR, ns, true),
    F(sq_route_query, "basepath", SQ_F_STR, basepath, false),
    F(sq_route_query, "relpath", SQ_F_STR, relpath, false),
    F(sq_route_query, "method", SQ_F_STR, method, false),
};

sq_status sq_route_query_from(const msgpack_object *o, sq_arena_t *ar, sq_route_query *out,
                              char *err, size_t errlen)
{
    sq_status st;
    memset(out, 0, sizeof *out);
    st = sq_mp_decode_map(o, SQ_MP_FIELDS(route_query_fields), ar, out, err, errlen);
    if (st == SQ_OK) {
        char **opt[] = { &out->basepath, &out->relpath, &out->method };
        for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
            if (*opt[i] == NULL)
                *opt[i] = "";
    }
    return st;
}
DEFINE_DECODE(sq_route_query)
