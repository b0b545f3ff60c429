/* API routes (wsk api): sq.registry.route.{put,get,delete}. A route maps
 * /api/{namespace}{basepath}{relpath} and a method to a web action of the same namespace and
 * a response type; an API is the routes of one basepath. The routes live in registry_routes
 * (schemas/registry/0004_routes.sql); every SQL statement about them is here and runs through
 * reg_store_run() (the store's connection, mutex, namespace lock and retry). A write checks
 * each route (paths, method, response type, the action: it must exist in the namespace and
 * be a web action) before it touches the table, writes in one transaction, and announces
 * itself on sq.evt.entity.<ns>.route before it answers, so that every gateway drops its
 * route table before the writer can call the new route. */
#include "registry.h"

#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

#define ROUTES_MAX      500   /* routes of one namespace */
#define PATH_MAX_LEN    512
#define API_NAME_MAX    256

#define RT_COLS "namespace, basepath, relpath, method, api_name, action_ns, action_pkg, action_name," \
                " response_type, updated"

static const char SQL_RT_DELETE_API[] =
    "DELETE FROM registry_routes WHERE namespace = $1 AND basepath = $2";
static const char SQL_RT_API_NAME[] =
    "SELECT api_name FROM registry_routes WHERE namespace = $1 AND basepath = $2 LIMIT 1";
static const char SQL_RT_UPSERT[] =
    "INSERT INTO registry_routes (" RT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    " ON CONFLICT (namespace, basepath, relpath, method) DO UPDATE SET api_name = EXCLUDED.api_name,"
    " action_ns = EXCLUDED.action_ns, action_pkg = EXCLUDED.action_pkg,"
    " action_name = EXCLUDED.action_name, response_type = EXCLUDED.response_type,"
    " updated = EXCLUDED.updated";
static const char SQL_RT_COUNT_NS[] = "SELECT count(*) FROM registry_routes WHERE namespace = $1";
#define RT_MATCH                                                                            \
    " WHERE namespace = $1 AND ($2 = '' OR basepath = $2 OR api_name = $2)"                 \
    " AND ($3 = '' OR relpath = $3) AND ($4 = '' OR method = $4)"
static const char SQL_RT_SELECT[] =
    "SELECT " RT_COLS " FROM registry_routes" RT_MATCH " ORDER BY basepath, relpath, method";
static const char SQL_RT_DELETE[] = "DELETE FROM registry_routes" RT_MATCH " RETURNING basepath";

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
                snprintf(err, errlen, "The %s '%.80s' cannot have parameters. Only the relative "
                         "path supports path parameters.", what, p);
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
                    snprintf(err, errlen, "The %s '%.80s' holds a character that cannot stand in a "
                             "URL path ('%c').", what, p, isprint((unsigned char)s[k]) ? s[k] : '?');
                    return false;
                }
        }
        if (e == NULL)
            break;
        s = e + 1;
    }
    return true;
}

static bool web_exported(const msgpack_object *annots)
{
    if (annots == NULL || annots->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < annots->via.array.size; i++) {
        const msgpack_object *kv = &annots->via.array.ptr[i];
        const msgpack_object *k = sq_mp_get(kv, "key"), *v = sq_mp_get(kv, "value");
        if (k && sq_mp_str_eq(k, "web-export"))
            return v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
    }
    return false;
}

/* Checks one route of a put into ns (st and err say why not). */
static sq_status route_check(reg_store_t *store, const char *ns, const sq_route *rt,
                             sq_arena_t *ar, char *err, size_t errlen)
{
    sq_action a;
    char aerr[256] = "";
    sq_status st;

    if (!path_ok(rt->relpath, true, true, err, errlen, "relative path"))
        return SQ_ERR_BAD_REQUEST;
    if (!one_of(rt->method, METHODS, sizeof METHODS / sizeof METHODS[0])) {
        snprintf(err, errlen, "'%.20s' is not a valid API verb. Valid values are: GET, PUT, POST, "
                 "DELETE, PATCH, HEAD, OPTIONS.", rt->method);
        return SQ_ERR_BAD_REQUEST;
    }
    if (!one_of(rt->response_type, TYPES, sizeof TYPES / sizeof TYPES[0])) {
        snprintf(err, errlen, "'%.20s' is not a valid response type. Valid values are: http, json, "
                 "html, svg, text.", rt->response_type);
        return SQ_ERR_BAD_REQUEST;
    }
    if (!sq_name_valid(rt->action_ns) || !sq_name_valid(rt->action_name) ||
        (rt->action_pkg[0] && !sq_name_valid(rt->action_pkg))) {
        snprintf(err, errlen, "The action name '/%.80s/%.80s%s%.80s' is not valid.", rt->action_ns,
                 rt->action_pkg, rt->action_pkg[0] ? "/" : "", rt->action_name);
        return SQ_ERR_BAD_REQUEST;
    }
    if (strcmp(rt->action_ns, ns) != 0) {
        snprintf(err, errlen, "The action '/%.80s/%s%s%.80s' is not in namespace '%.80s': a route "
                 "runs an action of its own namespace.", rt->action_ns, rt->action_pkg,
                 rt->action_pkg[0] ? "/" : "", rt->action_name, ns);
        return SQ_ERR_FORBIDDEN;
    }
    st = reg_store_get_action(store, ns, rt->action_pkg[0] ? rt->action_pkg : NULL,
                              rt->action_name, false, false, ar, &a, aerr, sizeof aerr);
    if (st == SQ_ERR_NOT_FOUND || st == SQ_ERR_BAD_REQUEST || st == SQ_ERR_FORBIDDEN) {
        snprintf(err, errlen, "The action '/%.80s/%s%s%.80s' does not exist.", ns,
                 rt->action_pkg, rt->action_pkg[0] ? "/" : "", rt->action_name);
        return SQ_ERR_NOT_FOUND;
    }
    if (st != SQ_OK)
        return st;
    if (!web_exported(&a.annotations)) {
        snprintf(err, errlen, "The action '/%.80s/%s%s%.80s' is not a web action: annotate it "
                 "web-export true (wsk action update --web true).", ns, rt->action_pkg,
                 rt->action_pkg[0] ? "/" : "", rt->action_name);
        return SQ_ERR_BAD_REQUEST;
    }
    return SQ_OK;
}

/* ---- SQL ---------------------------------------------------------------------------------- */

static PGresult *q(PGconn *c, const char *sql, int n, const char *const *vals)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        sq_error("could not run registry route statement: %s", sq_pg_error(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static char *dup_col(const PGresult *r, int row, int col, sq_arena_t *ar)
{
    const char *v = PQgetvalue(r, row, col);
    size_t n = strlen(v);
    char *out = msgpack_zone_malloc(ar, n + 1);
    if (out)
        memcpy(out, v, n + 1);
    return out;
}

/* Reads the routes of a SELECT into the arena. */
static sq_status read_routes(const PGresult *r, sq_arena_t *ar, sq_route **out, size_t *n)
{
    int rows = PQntuples(r);
    sq_route *v = rows ? msgpack_zone_malloc(ar, sizeof *v * (size_t)rows) : NULL;
    if (rows && v == NULL)
        return SQ_ERR_NOMEM;
    for (int i = 0; i < rows; i++) {
        char **cols[] = { &v[i].namespace_, &v[i].basepath, &v[i].relpath, &v[i].method,
                          &v[i].api_name, &v[i].action_ns, &v[i].action_pkg, &v[i].action_name,
                          &v[i].response_type };
        for (int c = 0; c < 9; c++)
            if ((*cols[c] = dup_col(r, i, c, ar)) == NULL)
                return SQ_ERR_NOMEM;
        v[i].updated = strtoll(PQgetvalue(r, i, 9), NULL, 10);
    }
    *out = v;
    *n = (size_t)rows;
    return SQ_OK;
}

typedef struct put_work {
    const sq_route_put *req;
    const sq_route *routes;
    size_t nroutes;
    sq_arena_t *ar;
    sq_route *items;
    size_t nitems;
    char *err;
    size_t errlen;
} put_work;

static sq_status put_fn(struct pg_conn *c, void *arg)
{
    put_work *w = arg;
    const sq_route_put *req = w->req;
    const char *name = req->api_name[0] ? req->api_name : req->basepath;
    char now[24], *kept = NULL;
    PGresult *r;
    sq_status st;

    snprintf(now, sizeof now, "%" PRId64, sq_now_ms());
    if (req->replace) {
        if ((r = q(c, SQL_RT_DELETE_API, 2, (const char *[]){ req->ns, req->basepath })) == NULL)
            return SQ_ERR_DB;
        PQclear(r);
    } else {
        /* the API keeps the name it was given first */
        if ((r = q(c, SQL_RT_API_NAME, 2, (const char *[]){ req->ns, req->basepath })) == NULL)
            return SQ_ERR_DB;
        if (PQntuples(r) == 1 && (kept = dup_col(r, 0, 0, w->ar)) != NULL)
            name = kept;
        PQclear(r);
    }
    for (size_t i = 0; i < w->nroutes; i++) {
        const sq_route *rt = &w->routes[i];
        const char *vals[] = { req->ns, req->basepath, rt->relpath, rt->method, name,
                               rt->action_ns, rt->action_pkg, rt->action_name,
                               rt->response_type, now };
        if ((r = q(c, SQL_RT_UPSERT, 10, vals)) == NULL)
            return SQ_ERR_DB;
        PQclear(r);
    }
    if ((r = q(c, SQL_RT_COUNT_NS, 1, (const char *[]){ req->ns })) == NULL)
        return SQ_ERR_DB;
    if (strtoll(PQgetvalue(r, 0, 0), NULL, 10) > ROUTES_MAX) {
        PQclear(r);
        snprintf(w->err, w->errlen, "A namespace may have at most %d API routes.", ROUTES_MAX);
        return SQ_ERR_BAD_REQUEST;
    }
    PQclear(r);
    if ((r = q(c, SQL_RT_SELECT, 4, (const char *[]){ req->ns, req->basepath, "", "" })) == NULL)
        return SQ_ERR_DB;
    st = read_routes(r, w->ar, &w->items, &w->nitems);
    PQclear(r);
    return st;
}

typedef struct query_work {
    const sq_route_query *req;
    sq_arena_t *ar;
    sq_route *items;
    size_t nitems;
    int64_t count;
    bool del;
} query_work;

static sq_status query_fn(struct pg_conn *c, void *arg)
{
    query_work *w = arg;
    const char *vals[] = { w->req->ns, w->req->basepath, w->req->relpath, w->req->method };
    PGresult *r = q(c, w->del ? SQL_RT_DELETE : SQL_RT_SELECT, 4, vals);
    sq_status st = SQ_OK;

    if (r == NULL)
        return SQ_ERR_DB;
    if (w->del)
        w->count = PQntuples(r);
    else
        st = read_routes(r, w->ar, &w->items, &w->nitems);
    PQclear(r);
    return st;
}

/* ---- handlers -------------------------------------------------------------------------- */

static void respond_items(sq_bus_t *bus, natsMsg *msg, const sq_route *items, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    sq_proto_buf_init(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    sq_mp_pack_str(&pk, "items");
    msgpack_pack_array(&pk, (uint32_t)n);
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
        sq_bus_respond_error(bus, msg, st == SQ_ERR_NOMEM ? SQ_ERR_NOMEM : SQ_ERR_DB, NULL);
}

void reg_on_route_put(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_route_put req;
    sq_route *routes = NULL;
    size_t n = 0;
    char err[512] = "";
    put_work w;
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
        snprintf(err, sizeof err, "An API name is at most %d characters on one line.", API_NAME_MAX);
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, err);
        goto done;
    }
    n = req.routes.via.array.size;
    if (n == 0 || n > ROUTES_MAX) {
        snprintf(err, sizeof err, "An API needs between 1 and %d routes.", ROUTES_MAX);
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, err);
        goto done;
    }
    if ((routes = msgpack_zone_malloc(&z, sizeof *routes * n)) == NULL) {
        respond_failure(bus, msg, SQ_ERR_NOMEM, NULL);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if ((st = sq_route_from(&req.routes.via.array.ptr[i], &z, &routes[i], err, sizeof err)) != SQ_OK) {
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
    w = (put_work){ .req = &req, .routes = routes, .nroutes = n, .ar = &z, .err = err,
                    .errlen = sizeof err };
    if ((st = reg_store_run(ctx->store, req.ns, put_fn, &w)) != SQ_OK) {
        if (st != SQ_ERR_BAD_REQUEST)
            sq_error("could not write the routes of API %s in \"%s\": %s", req.basepath, req.ns,
                     sq_status_str(st));
        respond_failure(bus, msg, st, err);
        goto done;
    }
    reg_publish_event(bus, req.ns, SQ_KIND_ROUTE, req.basepath, "put", "");
    respond_items(bus, msg, w.items, w.nitems);
done:
    msgpack_zone_destroy(&z);
}

static void query_common(sq_bus_t *bus, natsMsg *msg, reg_ctx *ctx, bool del)
{
    msgpack_zone z;
    sq_route_query req;
    char err[512] = "";
    query_work w;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_route_query_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z,
                               &req, err, sizeof err);
    if (st != SQ_OK) {
        respond_failure(bus, msg, SQ_ERR_DECODE, err);
        goto done;
    }
    if (!sq_name_valid(req.ns) || (del && req.basepath[0] == '\0')) {
        respond_failure(bus, msg, SQ_ERR_BAD_REQUEST, del ? "An API base path or API name is required."
                                                          : "The namespace name is not valid.");
        goto done;
    }
    w = (query_work){ .req = &req, .ar = &z, .del = del };
    if ((st = reg_store_run(ctx->store, del ? req.ns : NULL, query_fn, &w)) != SQ_OK) {
        sq_error("could not %s the routes of \"%s\": %s", del ? "delete" : "read", req.ns,
                 sq_status_str(st));
        respond_failure(bus, msg, st, NULL);
        goto done;
    }
    if (!del) {
        respond_items(bus, msg, w.items, w.nitems);
    } else if (w.count == 0) {
        if (req.relpath[0] && req.method[0])
            snprintf(err, sizeof err, "API '%.80s' has no path '%.80s' with operation '%.20s'.",
                     req.basepath, req.relpath, req.method);
        else if (req.relpath[0])
            snprintf(err, sizeof err, "API '%.80s' has no path '%.80s'.", req.basepath, req.relpath);
        else
            snprintf(err, sizeof err, "API '%.80s' does not exist.", req.basepath);
        respond_failure(bus, msg, SQ_ERR_NOT_FOUND, err);
    } else {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        reg_publish_event(bus, req.ns, SQ_KIND_ROUTE, req.basepath, "delete", "");
        sq_proto_buf_init(&sb, &pk);
        msgpack_pack_map(&pk, 1);
        sq_mp_kv_int(&pk, "count", w.count);
        sq_bus_respond(bus, msg, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
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
