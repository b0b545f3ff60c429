/* API routes (wsk api): sq.registry.route_{put,get,delete}. A route maps
 * /api/{namespace}{basepath}{relpath} and a method to a web action of the same namespace and
 * a response type; an API is the routes of one basepath. The routes live in registry_routes
 * (schemas/registry/0004_routes.sql, its SQL in routes_store.c). A write checks
 * each route (paths, method, response type, the action: it must exist in the namespace and
 * be a web action) before it touches the table, writes in one transaction, and announces
 * itself on sq.evt.entity.<ns>.route before it answers, so that every gateway drops its
 * route table before the writer can call the new route. */
#include "registry.h"

#include "proto/body.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/util.h"

#define PATH_MAX_LEN 512
#define API_NAME_MAX 256

static const char *const METHODS[] = { "get", "put", "post", "delete", "patch", "head", "options" };
static const char *const TYPES[] = { "http", "json", "html", "svg", "text" };

/* ---- checks --------------------------------------------------------------------------- */

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

/* A character that may stand in a literal path segment (RFC 3986 pchar, without '%' so that
 * what is stored is what lws hands over decoded). */
static bool pchar(unsigned char c)
{
    return isalnum(c) || strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

/* "/" or "/seg[/seg...]" of literal segments; params allows whole-segment "{name}" path
 * parameters (distinct, [A-Za-z0-9_-], not __ow_*). */
static bool path_ok(const char *p, bool params, bool root_ok, char *err, size_t errlen,
                    const char *what)
{
    size_t n = strlen(p);
    char names[16][64];
    int nnames = 0;

    if (n == 0 || p[0] != '/' || n > PATH_MAX_LEN) {
        snprintf(err, errlen, "The %s '%.80s' must begin with '/' and be at most %d characters.",
                 what, p, PATH_MAX_LEN);
        return false;
    }
    if (n == 1) {
        if (!root_ok)
            snprintf(err, errlen, "The %s '/' names nothing.", what);
        return root_ok;
    }
    for (const char *s = p + 1;;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0) {
            snprintf(err, errlen, "The %s '%.80s' has an empty segment.", what, p);
            return false;
        }
        if (s[0] == '{') {
            size_t k;
            if (!params) {
                snprintf(err, errlen,
                         "The %s '%.80s' cannot have parameters. Only the relative "
                         "path supports path parameters.",
                         what, p);
                return false;
            }
            if (len < 3 || s[len - 1] != '}' || len - 2 >= sizeof names[0] ||
                strncmp(s + 1, "__ow_", 5) == 0 || nnames == 16) {
                snprintf(err, errlen, "The path parameter '%.*s' of '%.80s' is not valid.",
                         (int)(len > 64 ? 64 : len), s, p);
                return false;
            }
            for (k = 1; k + 1 < len; k++)
                if (!(isalnum((unsigned char)s[k]) || s[k] == '_' || s[k] == '-'))
                    break;
            if (k + 1 != len) {
                snprintf(err, errlen, "The path parameter '%.*s' of '%.80s' is not valid.",
                         (int)(len > 64 ? 64 : len), s, p);
                return false;
            }
            memcpy(names[nnames], s + 1, len - 2);
            names[nnames][len - 2] = '\0';
            for (int i = 0; i < nnames; i++)
                if (strcmp(names[i], names[nnames]) == 0) {
                    snprintf(err, errlen, "The path parameter '%s' appears twice in '%.80s'.",
                             names[i], p);
                    return false;
                }
            nnames++;
        } else {
            for (size_t k = 0; k < len; k++)
                if (!pchar((unsigned char)s[k])) {
                    snprintf(err, errlen,
                             "The %s '%.80s' holds a character that cannot stand in a "
                             "URL path ('%c').",
                             what, p, isprint((unsigned char)s[k]) ? s[k] : '?');
                    return false;
                }
        }
        if (e == NULL)
            break;
        s = e + 1;
    }
    return true;
}

static bool web_exported(const msgpack_object *annots, sq_arena_t *ar)
{
    if (annots == NULL || annots->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < annots->via.array.size; i++) {
        sq_kv e;
        if (sq_kv_from(&annots->via.array.ptr[i], ar, &e, NULL, 0) == SQ_OK &&
            strcmp(e.key, "web-export") == 0)
            return e.value.type == MSGPACK_OBJECT_BOOLEAN && e.value.via.boolean;
    }
    return false;
}

/* Checks one route of a put into ns (st and err say why not). */
static sq_status route_check(reg_store_t *store, const char *ns, const sq_route *rt, sq_arena_t *ar,
                             char *err, size_t errlen)
{
    sq_action a;
    char aerr[256] = "";
    sq_status st;

    if (!path_ok(rt->relpath, true, true, err, errlen, "relative path"))
        return SQ_ERR_BAD_REQUEST;
    if (!one_of(rt->method, METHODS, sizeof METHODS / sizeof METHODS[0])) {
        snprintf(err, errlen,
                 "'%.20s' is not a valid API verb. Valid values are: GET, PUT, POST, "
                 "DELETE, PATCH, HEAD, OPTIONS.",
                 rt->method);
        return SQ_ERR_BAD_REQUEST;
    }
    if (!one_of(rt->response_type, TYPES, sizeof TYPES / sizeof TYPES[0])) {
        snprintf(err, errlen,
                 "'%.20s' is not a valid response type. Valid values are: http, json, "
                 "html, svg, text.",
                 rt->response_type);
        return SQ_ERR_BAD_REQUEST;
    }
    if (!sq_name_valid(rt->action_ns) || !sq_name_valid(rt->action_name) ||
        (rt->action_pkg[0] && !sq_name_valid(rt->action_pkg))) {
        snprintf(err, errlen, "The action name '/%.80s/%.80s%s%.80s' is not valid.", rt->action_ns,
                 rt->action_pkg, rt->action_pkg[0] ? "/" : "", rt->action_name);
        return SQ_ERR_BAD_REQUEST;
    }
    if (strcmp(rt->action_ns, ns) != 0) {
        snprintf(err, errlen,
                 "The action '/%.80s/%s%s%.80s' is not in namespace '%.80s': a route "
                 "runs an action of its own namespace.",
                 rt->action_ns, rt->action_pkg, rt->action_pkg[0] ? "/" : "", rt->action_name, ns);
        return SQ_ERR_FORBIDDEN;
    }
    st = reg_store_get_action(store, ns, rt->action_pkg[0] ? rt->action_pkg : NULL, rt->action_name,
                              false, false, ar, &a, aerr, sizeof aerr);
    if (st == SQ_ERR_NOT_FOUND || st == SQ_ERR_BAD_REQUEST || st == SQ_ERR_FORBIDDEN) {
        snprintf(err, errlen, "The action '/%.80s/%s%s%.80s' does not exist.", ns, rt->action_pkg,
                 rt->action_pkg[0] ? "/" : "", rt->action_name);
        return SQ_ERR_NOT_FOUND;
    }
    if (st != SQ_OK)
        return st;
    if (!web_exported(&a.annotations, ar)) {
        snprintf(err, errlen,
                 "The action '/%.80s/%s%s%.80s' is not a web action: annotate it "
                 "web-export true (wsk action update --web true).",
                 ns, rt->action_pkg, rt->action_pkg[0] ? "/" : "", rt->action_name);
        return SQ_ERR_BAD_REQUEST;
    }
    return SQ_OK;
}

/* ---- handlers -------------------------------------------------------------------------- */

static void respond_items(sq_bus_t *bus, natsMsg *msg, const sq_route *items, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    sq_proto_buf_init(&sb, &pk);
    sq_items_begin(&pk, n);
    for (size_t i = 0; i < n; i++)
        sq_route_encode(&items[i], &pk);
    sq_bus_respond(bus, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void respond_failure(sq_bus_t *bus, natsMsg *msg, sq_status st, const char *err)
{
    if (st == SQ_ERR_BAD_REQUEST || st == SQ_ERR_NOT_FOUND || st == SQ_ERR_FORBIDDEN ||
        st == SQ_ERR_DECODE)
        sq_bus_respond_error(bus, msg, st, "%s", err && *err ? err : sq_status_str(st));
    else
        sq_bus_respond_error(bus, msg, reg_wire_failure(st), NULL);
}

void reg_on_route_put(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_route_put req;
    sq_route *routes = NULL;
    size_t n = 0;
    char err[512] = "";
    sq_route *items = NULL;
    size_t nitems = 0;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_route_put_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req,
                             err, sizeof err);
    if (st != SQ_OK) {
        respond_failure(bus, msg, SQ_ERR_DECODE, err);
        goto done;
    }
    if (!sq_name_valid(req.ns)) {
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, "The namespace name is not valid.");
        goto done;
    }
    if (!path_ok(req.basepath, false, true, err, sizeof err, "base path")) {
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, err);
        goto done;
    }
    if (strlen(req.api_name) > API_NAME_MAX || strpbrk(req.api_name, "\r\n")) {
        snprintf(err, sizeof err, "An API name is at most %d characters on one line.",
                 API_NAME_MAX);
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, err);
        goto done;
    }
    n = req.routes.via.array.size;
    if (n == 0 || n > REG_ROUTES_MAX) {
        snprintf(err, sizeof err, "An API needs between 1 and %d routes.", REG_ROUTES_MAX);
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, err);
        goto done;
    }
    if ((routes = msgpack_zone_malloc(&z, sizeof *routes * n)) == NULL) {
        respond_failure(bus, msg, SQ_ERR_NOMEM, NULL);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if ((st = sq_route_from(&req.routes.via.array.ptr[i], &z, &routes[i], err, sizeof err)) !=
            SQ_OK) {
            respond_failure(bus, msg, SQ_ERR_DECODE, err);
            goto done;
        }
        if ((st = route_check(ctx->store, req.ns, &routes[i], &z, err, sizeof err)) != SQ_OK) {
            respond_failure(bus, msg, st, err);
            goto done;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(routes[i].relpath, routes[j].relpath) == 0 &&
                strcmp(routes[i].method, routes[j].method) == 0) {
                snprintf(err, sizeof err, "The path '%.80s' has the operation '%s' twice.",
                         routes[i].relpath, routes[i].method);
                respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, err);
                goto done;
            }
    }
    if ((st = reg_routes_put(ctx->store, &req, routes, n, &z, &items, &nitems, err, sizeof err)) !=
        SQ_OK) {
        if (st != SQ_ERR_BAD_REQUEST)
            sq_error("could not write the routes of API %s in \"%s\": %s", req.basepath, req.ns,
                     sq_status_str(st));
        respond_failure(bus, msg, st, err);
        goto done;
    }
    reg_publish_event(bus, req.ns, SQ_KIND_ROUTE, req.basepath, "put", "");
    respond_items(bus, msg, items, nitems);
done:
    msgpack_zone_destroy(&z);
}

static void query_common(sq_bus_t *bus, natsMsg *msg, reg_ctx *ctx, bool del)
{
    msgpack_zone z;
    sq_route_query req;
    char err[512] = "";
    sq_route *items = NULL;
    size_t nitems = 0;
    int64_t count = 0;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_route_query_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req,
                               err, sizeof err);
    if (st != SQ_OK) {
        respond_failure(bus, msg, SQ_ERR_DECODE, err);
        goto done;
    }
    if (!sq_name_valid(req.ns) || (del && req.basepath[0] == '\0')) {
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST,
                        del ? "An API base path or API name is required."
                            : "The namespace name is not valid.");
        goto done;
    }
    st = del ? reg_routes_delete(ctx->store, &req, &count)
             : reg_routes_get(ctx->store, &req, &z, &items, &nitems);
    if (st != SQ_OK) {
        sq_error("could not %s the routes of \"%s\": %s", del ? "delete" : "read", req.ns,
                 sq_status_str(st));
        respond_failure(bus, msg, st, NULL);
        goto done;
    }
    if (!del) {
        respond_items(bus, msg, items, nitems);
    } else if (count == 0) {
        if (req.relpath[0] && req.method[0])
            snprintf(err, sizeof err, "API '%.80s' has no path '%.80s' with operation '%.20s'.",
                     req.basepath, req.relpath, req.method);
        else if (req.relpath[0])
            snprintf(err, sizeof err, "API '%.80s' has no path '%.80s'.", req.basepath,
                     req.relpath);
        else
            snprintf(err, sizeof err, "API '%.80s' does not exist.", req.basepath);
        respond_failure(bus, msg, SQ_ERR_NOT_FOUND, err);
    } else {
        reg_publish_event(bus, req.ns, SQ_KIND_ROUTE, req.basepath, "delete", "");
        sq_count c = { .count = count };
        SQ_RESPOND(bus, msg, sq_count, &c);
    }
done:
    msgpack_zone_destroy(&z);
}

void reg_on_route_get(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    query_common(bus, msg, closure, false);
}

void reg_on_route_delete(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    query_common(bus, msg, closure, true);
}
