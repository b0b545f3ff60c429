/* Messages of the API routes (wsk api): one route, the put request, and the query of get and
 * delete. Every string of them packs "" for NULL and reads back "" when absent
 * (SQ_ENC_STR0), so that users of a route never meet NULL. */
#include <stdio.h>
#include "proto_impl.h"

#define S0 SQ_ENC_STR0

static const sq_mp_field route_fields[] = {
    FE(sq_route, "namespace", SQ_F_STR, namespace_, false, S0),
    FE(sq_route, "basepath", SQ_F_STR, basepath, false, S0),
    FE(sq_route, "relpath", SQ_F_STR, relpath, true, S0),
    FE(sq_route, "method", SQ_F_STR, method, true, S0),
    FE(sq_route, "api_name", SQ_F_STR, api_name, false, S0),
    FE(sq_route, "action_ns", SQ_F_STR, action_ns, true, S0),
    FE(sq_route, "action_pkg", SQ_F_STR, action_pkg, false, S0),
    FE(sq_route, "action_name", SQ_F_STR, action_name, true, S0),
    FE(sq_route, "response_type", SQ_F_STR, response_type, true, S0),
    F(sq_route, "updated", SQ_F_INT, updated, false),
};

DEFINE_MESSAGE(sq_route, route_fields)

static const sq_mp_field route_put_fields[] = {
    FE(sq_route_put, "ns", SQ_F_STR, ns, true, S0),
    FE(sq_route_put, "basepath", SQ_F_STR, basepath, true, S0),
    FE(sq_route_put, "api_name", SQ_F_STR, api_name, false, S0),
    F(sq_route_put, "replace", SQ_F_BOOL, replace, false),
    FE(sq_route_put, "routes", SQ_F_ARRAY, routes, true, SQ_ENC_EMPTY),
};

DEFINE_MESSAGE(sq_route_put, route_put_fields)

static const sq_mp_field route_query_fields[] = {
    FE(sq_route_query, "ns", SQ_F_STR, ns, true, S0),
    FE(sq_route_query, "basepath", SQ_F_STR, basepath, false, S0),
    FE(sq_route_query, "relpath", SQ_F_STR, relpath, false, S0),
    FE(sq_route_query, "method", SQ_F_STR, method, false, S0),
};

DEFINE_MESSAGE(sq_route_query, route_query_fields)

/* "items" twice: written from the vector, read as the array (then each element) */
static const sq_mp_field route_list_fields[] = {
    FV(sq_route_list, "items", routes, nroutes, sq_route, route_fields, 0),
    FE(sq_route_list, "items", SQ_F_ARRAY, items_read, true, SQ_ENC_SKIP),
};

DEFINE_MESSAGE_VEC(sq_route_list, route_list_fields, items_read, sq_route, route_fields, routes,
                   nroutes)
