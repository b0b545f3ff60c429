/* API routes (wsk api), the gateway's half: management. The wsk CLI (and the openwhisk
 * npm client) call the web actions /whisk.system/apimgmt/{createApi,getApi,deleteApi}.
 * Squall answers those paths itself, with the caller's key (required), by asking the
 * registry over the bus (sq.registry.route_{put,get,delete}): no sandboxed action holds bus
 * credentials, and the platform checks what it stores. Answers have the shapes OpenWhisk's
 * routemgmt actions give (its core/routemgmt, read by the CLI's whisk/api.go): {namespace,
 * gwApiUrl, gwApiActivated, tenantId, apidoc: swagger 2.0} for create, {apis: [{id, key,
 * value}]} for get/list, {} for delete. Serving the routes is routes.c's. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

#define SYSTEM_NS "whisk.system"

/* ---- management: /whisk.system/apimgmt/... ------------------------------------------------ */

void gw_apimgmt_match(gw_req *r)
{
    if (strcmp(r->ns, SYSTEM_NS) != 0)
        return;
    if (strcmp(r->name, "apimgmt/createApi") == 0)
        r->apimgmt = GW_APIMGMT_CREATE;
    else if (strcmp(r->name, "apimgmt/getApi") == 0)
        r->apimgmt = GW_APIMGMT_GET;
    else if (strcmp(r->name, "apimgmt/deleteApi") == 0)
        r->apimgmt = GW_APIMGMT_DELETE;
}

static const char *qarg(const gw_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nargs; i++)
        if (strncmp(r->args[i], name, n) == 0 && r->args[i][n] == '=')
            return r->args[i] + n + 1;
    return NULL;
}

static bool owns(const gw_req *r, const char *ns)
{
    if (strcmp(ns, r->ident.namespace_) == 0)
        return true;
    for (size_t i = 0; i < r->ident.nnamespaces; i++)
        if (strcmp(ns, r->ident.namespaces[i]) == 0)
            return true;
    return false;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* A base path as stored: a leading '/', no trailing one (except "/" itself). */
static void norm_basepath(const char *in, char *out, size_t cap)
{
    size_t n;
    snprintf(out, cap, "%s%s", in[0] == '/' ? "" : "/", in);
    n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
}

static bool valid_type(const char *t)
{
    static const char *const types[] = { "http", "json", "html", "svg", "text" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

/* Splits an action reference of an apidoc ("name", "pkg/name", "/ns/name", "/ns/pkg/name")
 * with a default namespace into a route's action_ns, action_pkg and action_name (strings
 * set into route); false with err when it is not one. */
static bool split_action(const char *ns_in, const char *name_in, const char *def_ns, json_t *route,
                         char *err, size_t errlen)
{
    char buf[768], *parts[4], *save = NULL;
    int n = 0;
    const char *ns = ns_in && *ns_in && strcmp(ns_in, "_") != 0 ? ns_in : def_ns;

    snprintf(buf, sizeof buf, "%s", name_in ? name_in : "");
    if (name_in && name_in[0] == '/') { /* fully qualified */
        for (char *s = strtok_r(buf, "/", &save); s && n < 4; s = strtok_r(NULL, "/", &save))
            parts[n++] = s;
        if (n < 2 || n > 3 || strtok_r(NULL, "/", &save) != NULL)
            goto bad;
        ns = strcmp(parts[0], "_") == 0 ? def_ns : parts[0];
        json_object_set_new(route, "action_ns", json_string(ns));
        json_object_set_new(route, "action_pkg", json_string(n == 3 ? parts[1] : ""));
        json_object_set_new(route, "action_name", json_string(parts[n - 1]));
    } else {
        if (ns[0] == '/')
            ns++;
        for (char *s = strtok_r(buf, "/", &save); s && n < 3; s = strtok_r(NULL, "/", &save))
            parts[n++] = s;
        if (n < 1 || n > 2)
            goto bad;
        json_object_set_new(route, "action_ns", json_string(ns));
        json_object_set_new(route, "action_pkg", json_string(n == 2 ? parts[0] : ""));
        json_object_set_new(route, "action_name", json_string(parts[n - 1]));
    }
    return true;
bad:
    snprintf(err, errlen, "'%.100s' is not a valid action name.", name_in ? name_in : "");
    return false;
}

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* An apidoc value that may be an object or JSON text of one; a new reference or NULL. */
static json_t *object_or_text(const json_t *v)
{
    if (json_is_object(v))
        return json_incref((json_t *)v);
    if (json_is_string(v)) {
        json_t *j = json_loads(json_string_value(v), 0, NULL);
        if (json_is_object(j))
            return j;
        json_decref(j);
    }
    return NULL;
}

/* The routes of a swagger document (wsk api create --config-file): every operation of
 * every path must name its action in x-openwhisk {namespace, package, action, url}; the
 * response type is the extension of url (json when it has none). */
static bool swagger_routes(const json_t *sw, const char *def_ns, json_t *routes, char *base,
                           size_t basecap, const char **api_name, char *err, size_t errlen)
{
    const json_t *paths = json_object_get(sw, "paths"), *info = json_object_get(sw, "info");
    const char *bp = jstr(sw, "basePath"), *rel;
    json_t *ops;

    if (bp == NULL || !json_is_object(paths) || !json_is_object(info)) {
        snprintf(err, errlen,
                 "Swagger file is invalid (missing basePath, info, paths, or swagger fields)");
        return false;
    }
    if (bp[0] != '/') {
        snprintf(err, errlen, "Swagger file basePath must start with a leading slash (/)");
        return false;
    }
    norm_basepath(bp, base, basecap);
    *api_name = jstr(info, "title");
    json_object_foreach((json_t *)paths, rel, ops)
    {
        const char *method;
        json_t *op;
        if (!json_is_object(ops)) {
            snprintf(err, errlen, "The path '%.100s' of the swagger is not an object.", rel);
            return false;
        }
        json_object_foreach(ops, method, op)
        {
            const json_t *xo = json_object_get(op, "x-openwhisk");
            const char *url, *dot, *action, *pkg;
            char m[16], type[8] = "json", full[600];
            json_t *route;
            if (strcmp(method, "parameters") == 0)
                continue;
            if (!json_is_object(xo) || (action = jstr(xo, "action")) == NULL || !*action) {
                snprintf(err, errlen,
                         "The operation '%.16s %.100s' names no action "
                         "(x-openwhisk.action): Squall serves only actions.",
                         method, rel);
                return false;
            }
            url = jstr(xo, "url");
            if (url && (dot = strrchr(url, '.')) != NULL && strchr(dot, '/') == NULL &&
                strlen(dot + 1) < sizeof type)
                snprintf(type, sizeof type, "%s", dot + 1);
            snprintf(m, sizeof m, "%s", method);
            lower(m);
            pkg = jstr(xo, "package");
            if (pkg && *pkg)
                snprintf(full, sizeof full, "%s/%s", pkg, action);
            else
                snprintf(full, sizeof full, "%s", action);
            route = json_object();
            json_object_set_new(route, "relpath", json_string(rel));
            json_object_set_new(route, "method", json_string(m));
            json_object_set_new(route, "response_type", json_string(type));
            if (!split_action(jstr(xo, "namespace"), full, def_ns, route, err, errlen)) {
                json_decref(route);
                return false;
            }
            json_array_append_new(routes, route);
        }
    }
    if (json_array_size(routes) == 0) {
        snprintf(err, errlen, "The swagger defines no operation.");
        return false;
    }
    return true;
}

/* Sends a registry request whose body is the JSON object j (converted to msgpack). */
static bool send_json(gw_req *r, const char *subject, json_t *j)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool done;
    sq_proto_buf_init(&sb, &pk);
    if (sq_json_to_mp_max(j, &pk, 8) != SQ_OK) {
        msgpack_sbuffer_destroy(&sb);
        gw_respond_error(r, 400, "The request content was malformed: it nests too deeply.");
        return true;
    }
    r->leg = GW_LEG_APIMGMT; /* a registry request, not an invocation */
    done = gw_send_leg(r, subject, &sb, G.cfg.op_timeout_ms);
    msgpack_sbuffer_destroy(&sb);
    return done;
}

/* The apidoc of a createApi body, as an object (taken by the caller); NULL with r answered
 * (400) when the body or its apidoc is not one. *body holds the parsed body (the caller
 * frees it). */
static json_t *api_doc(gw_req *r, json_t **body)
{
    const json_t *docv;
    json_error_t je;
    json_t *doc;

    if (r->body_len == 0 || (*body = json_loadb(r->body, r->body_len, 0, &je)) == NULL ||
        !json_is_object(*body)) {
        gw_respond_error(r, 400,
                         "The request content was malformed: expected a JSON object "
                         "{\"apidoc\": ...}.");
        return NULL;
    }
    docv = json_object_get(*body, "apidoc");
    if (docv == NULL || json_is_null(docv)) {
        gw_respond_error(r, 400, "apidoc is required.");
        return NULL;
    }
    if ((doc = object_or_text(docv)) == NULL)
        gw_respond_error(r, 400, "apidoc field cannot be parsed. Ensure it is valid JSON.");
    return doc;
}

/* The API's namespace into ns: the caller's, or one it owns; false with r answered. */
static bool api_ns(gw_req *r, const json_t *doc, char *ns, size_t cap)
{
    const char *dn = jstr(doc, "namespace");
    if (dn == NULL || !*dn) {
        gw_respond_error(r, 400, "apidoc is missing the namespace field");
        return false;
    }
    if (dn[0] == '/')
        dn++;
    snprintf(ns, cap, "%s", strcmp(dn, "_") == 0 ? r->ident.namespace_ : dn);
    if (!owns(r, ns)) {
        gw_respond_error(r, 403, "The supplied authentication is not authorized to access '%s'.",
                         ns);
        return false;
    }
    return true;
}

/* The one route of an apidoc without swagger (gatewayBasePath, gatewayPath, gatewayMethod,
 * action) appended to routes, its base path in base; false with r answered (400). */
static bool single_route(gw_req *r, const json_t *doc, const char *type, const char *ns,
                         json_t *routes, char *base, size_t cap)
{
    static const char *const required[] = { "gatewayBasePath", "gatewayPath", "gatewayMethod" };
    const char *bp = jstr(doc, "gatewayBasePath"), *rel = jstr(doc, "gatewayPath");
    const char *method = jstr(doc, "gatewayMethod");
    const json_t *action = json_object_get(doc, "action");
    char m[16], err[512] = "";
    json_t *route;

    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (jstr(doc, required[i]) == NULL || !*jstr(doc, required[i])) {
            gw_respond_error(r, 400, "apidoc is missing the %s field", required[i]);
            return false;
        }
    if (!json_is_object(action)) {
        gw_respond_error(r, 400, "apidoc is missing the action field.");
        return false;
    }
    if (jstr(action, "name") == NULL || !*jstr(action, "name")) {
        gw_respond_error(r, 400, "action is missing the name field.");
        return false;
    }
    if (bp[0] != '/') {
        gw_respond_error(r, 400, "'%.100s' must begin with '/'.", bp);
        return false;
    }
    norm_basepath(bp, base, cap);
    snprintf(m, sizeof m, "%s", method);
    lower(m);
    route = json_object();
    json_object_set_new(route, "relpath", json_string(rel));
    json_object_set_new(route, "method", json_string(m));
    json_object_set_new(route, "response_type", json_string(type));
    if (!split_action(jstr(action, "namespace"), jstr(action, "name"), ns, route, err,
                      sizeof err)) {
        json_decref(route);
        gw_respond_error(r, 400, "%s", err);
        return false;
    }
    json_array_append_new(routes, route);
    return true;
}

/* A route runs an action of its own namespace: false with r answered (403) otherwise. */
static bool routes_own_ns(gw_req *r, const json_t *routes, const char *ns)
{
    size_t i;
    json_t *x;
    json_array_foreach(routes, i, x)
    {
        const char *ans = jstr(x, "action_ns");
        if (ans && strcmp(ans, ns) != 0) {
            gw_respond_error(r, 403,
                             "The action '/%s/%s%s%s' is not in namespace '%s': a route "
                             "runs an action of its own namespace.",
                             ans, jstr(x, "action_pkg"), *jstr(x, "action_pkg") ? "/" : "",
                             jstr(x, "action_name"), ns);
            return false;
        }
    }
    return true;
}

/* createApi: the apidoc's routes (one, or a whole swagger API) to the registry. */
static bool create(gw_req *r)
{
    const char *rt = qarg(r, "responsetype"), *api_name = NULL;
    char type[16], base[600], err[512] = "", ns[256];
    json_t *body = NULL, *doc = NULL, *sw = NULL, *routes = json_array(), *req = NULL;
    const json_t *swv;
    bool done = true, replace = false;

    snprintf(type, sizeof type, "%s", rt && *rt ? rt : "json");
    lower(type);
    if (!valid_type(type)) {
        gw_respond_error(r, 400,
                         "'%.16s' is not a valid response type. Valid values are: http, "
                         "json, html, svg, text.",
                         type);
        goto out;
    }
    if ((doc = api_doc(r, &body)) == NULL || !api_ns(r, doc, ns, sizeof ns))
        goto out;
    swv = json_object_get(doc, "swagger");
    if (swv && !json_is_null(swv)) {
        if (jstr(doc, "gatewayBasePath")) {
            gw_respond_error(r, 400,
                             "swagger and gatewayBasePath are mutually exclusive and cannot "
                             "be specified together.");
            goto out;
        }
        if ((sw = object_or_text(swv)) == NULL) {
            gw_respond_error(r, 400, "swagger field cannot be parsed. Ensure it is valid JSON.");
            goto out;
        }
        if (!swagger_routes(sw, ns, routes, base, sizeof base, &api_name, err, sizeof err)) {
            gw_respond_error(r, 400, "%s", err);
            goto out;
        }
        replace = true; /* OpenWhisk: the swagger is the entire API */
    } else {
        if (!single_route(r, doc, type, ns, routes, base, sizeof base))
            goto out;
        api_name = jstr(doc, "apiName");
    }
    if (!routes_own_ns(r, routes, ns))
        goto out;
    req = json_pack("{s:s, s:s, s:s, s:b, s:O}", "ns", ns, "basepath", base, "api_name",
                    api_name ? api_name : "", "replace", replace, "routes", routes);
    if (req == NULL) {
        gw_respond_error(r, 400, "The request content was malformed: a field is not UTF-8 text.");
        goto out;
    }
    done = send_json(r, SQ_SUBJ_REG_ROUTE_PUT, req);
out:
    json_decref(req);
    json_decref(routes);
    json_decref(sw);
    json_decref(doc);
    json_decref(body);
    return done;
}

bool gw_apimgmt_start(gw_req *r)
{
    const char *bp = qarg(r, "basepath"), *rel = qarg(r, "relpath"), *op = qarg(r, "operation");
    char base[600] = "", m[16] = "";
    json_t *req;
    bool done;

    r->cors = true;
    if (r->ident.subject == NULL) {
        gw_respond_error(
            r, 401,
            "The resource requires authentication, which was not supplied with the request");
        return true;
    }
    if ((r->apimgmt == GW_APIMGMT_CREATE && r->method != GW_POST && r->method != GW_PUT) ||
        (r->apimgmt == GW_APIMGMT_GET && r->method != GW_GET && r->method != GW_HEAD) ||
        (r->apimgmt == GW_APIMGMT_DELETE && r->method != GW_DELETE)) {
        gw_respond_error(r, 405, "Method not allowed.");
        return true;
    }
    if (r->apimgmt == GW_APIMGMT_CREATE)
        return create(r);
    /* get and delete: a base path ("/x") or an API name */
    if (bp && *bp) {
        if (bp[0] == '/')
            norm_basepath(bp, base, sizeof base);
        else
            snprintf(base, sizeof base, "%s", bp);
    }
    if (op) {
        snprintf(m, sizeof m, "%s", op);
        lower(m);
    }
    if (r->apimgmt == GW_APIMGMT_DELETE && base[0] == '\0') {
        gw_respond_error(r, 400, "An API base path or API name is required.");
        return true;
    }
    req = json_pack("{s:s, s:s, s:s, s:s}", "ns", r->ident.namespace_, "basepath", base, "relpath",
                    rel ? rel : "", "method", m);
    if (req == NULL) {
        gw_respond_error(r, 400, "The request arguments are not UTF-8 text.");
        return true;
    }
    done = send_json(
        r, r->apimgmt == GW_APIMGMT_GET ? SQ_SUBJ_REG_ROUTE_GET : SQ_SUBJ_REG_ROUTE_DELETE, req);
    json_decref(req);
    return done;
}

/* ---- answers -------------------------------------------------------------------------- */

/* The public base of this gateway's URLs: http://<Host header>, or the address it listens
 * on. */
static void public_base(const gw_req *r, char *out, size_t cap)
{
    const char *host = gw_web_header(r, "host");
    if (host && *host && strlen(host) < 256 && strpbrk(host, " /\\\"<>") == NULL)
        snprintf(out, cap, "http://%s", host);
    else
        snprintf(out, cap, "http://%s:%d", G.cfg.host, G.cfg.port);
}

/* Percent-encodes s as one URL path segment. */
static void enc_segment(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~@", c))
            out[n++] = (char)c;
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
    }
    out[n] = '\0';
}

/* OpenWhisk's makeOperationId: the method, then every run of [0-9A-Za-z_-] of the path
 * capitalised ("get" "/books/{isbn}" -> "getBooksIsbn"). */
static void operation_id(const char *method, const char *rel, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", method);
    bool start = true;
    for (; *rel && n + 1 < cap; rel++) {
        unsigned char c = (unsigned char)*rel;
        if (isalnum(c) || c == '_' || c == '-') {
            out[n++] = (char)(start ? toupper(c) : tolower(c));
            start = false;
        } else {
            start = true;
        }
    }
    out[n] = '\0';
}

/* The CLI's RetApi of the routes rts[from..to) (one API): {namespace, gwApiUrl,
 * gwApiActivated, tenantId, apidoc}. */
static json_t *ret_api(const gw_req *r, const sq_route *rts, size_t from, size_t to, const char *ns)
{
    char base[300], url[2048], nsenc[800];
    json_t *paths = json_object(), *doc, *api;
    const char *bp = rts[from].basepath, *name = rts[from].api_name;

    public_base(r, base, sizeof base);
    enc_segment(ns, nsenc, sizeof nsenc);
    snprintf(url, sizeof url, "%s/api/%s%s", base, nsenc, strcmp(bp, "/") == 0 ? "" : bp);
    for (size_t i = from; i < to; i++) {
        const char *rel = rts[i].relpath, *method = rts[i].method, *ans = rts[i].action_ns;
        const char *pkg = rts[i].action_pkg, *act = rts[i].action_name;
        const char *type = rts[i].response_type;
        char opid[700], burl[2600], ansenc[800];
        json_t *path, *params = json_array(), *op;
        operation_id(method, rel, opid, sizeof opid);
        enc_segment(ans, ansenc, sizeof ansenc);
        snprintf(burl, sizeof burl, "%s/api/v1/web/%s/%s/%s.%s", base, ansenc,
                 pkg[0] ? pkg : "default", act, type);
        for (const char *p = strchr(rel, '{'); p; p = strchr(p + 1, '{')) {
            const char *e = strchr(p, '}');
            if (e == NULL)
                break;
            json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:s}", "name", p + 1,
                                                    (size_t)(e - p - 1), "in", "path", "required",
                                                    1, "type", "string"));
        }
        op = json_pack("{s:s, s:o, s:{s:s, s:s, s:s, s:s}, s:{s:{s:s}}}", "operationId", opid,
                       "parameters", params, "x-openwhisk", "namespace", ans, "package", pkg,
                       "action", act, "url", burl, "responses", "default", "description",
                       "Default response");
        if ((path = json_object_get(paths, rel)) == NULL) {
            path = json_object();
            json_object_set_new(paths, rel, path);
        }
        json_object_set_new(path, method, op);
    }
    doc = json_pack("{s:s, s:{s:s, s:s}, s:s, s:o}", "swagger", "2.0", "info", "title",
                    name[0] ? name : bp, "version", "1.0.0", "basePath", bp, "paths", paths);
    api = json_pack("{s:s, s:s, s:b, s:s, s:o*}", "namespace", ns, "gwApiUrl", url,
                    "gwApiActivated", 1, "tenantId", ns, "apidoc", doc);
    return api;
}

static void respond(gw_req *r, json_t *j)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (txt == NULL)
        gw_respond_error(r, 500, "could not encode the response");
    else
        gw_respond(r, 200, txt, strlen(txt));
}

/* get / list: one entry per API of the routes rts (ordered by basepath) */
static json_t *apis_of(const gw_req *r, const sq_route *rts, size_t n, const char *ns)
{
    json_t *apis = json_array();
    int64_t skip = 0, limit = 0, seen = 0;

    if (qarg(r, "skip"))
        skip = strtoll(qarg(r, "skip"), NULL, 10);
    if (qarg(r, "limit"))
        limit = strtoll(qarg(r, "limit"), NULL, 10);
    for (size_t i = 0; i < n;) {
        char id[900];
        size_t j = i + 1;
        while (j < n && strcmp(rts[j].basepath, rts[i].basepath) == 0)
            j++;
        if (seen++ >= skip && (limit <= 0 || (int64_t)json_array_size(apis) < limit)) {
            snprintf(id, sizeof id, "API:%s:%s", ns, rts[i].basepath);
            json_array_append_new(apis, json_pack("{s:s, s:s, s:o}", "id", id, "key", id, "value",
                                                  ret_api(r, rts, i, j, ns)));
        }
        i = j;
    }
    return json_pack("{s:o}", "apis", apis);
}

void gw_apimgmt_on_reply(gw_req *r, const msgpack_object *o)
{
    const char *ns = r->ident.namespace_ ? r->ident.namespace_ : "";
    msgpack_zone z;
    sq_route_list l;

    /* the writer's own gateway drops its tables before it answers: the caller's next request
     * sees the change even if the registry's event is still on its way to this gateway */
    if (r->apimgmt != GW_APIMGMT_GET)
        gw_routes_cache_clear();
    if (r->apimgmt == GW_APIMGMT_DELETE) {
        respond(r, json_object());
        return;
    }
    msgpack_zone_init(&z, 2048);
    if (sq_route_list_from(o, &z, &l, NULL, 0) != SQ_OK ||
        (r->apimgmt == GW_APIMGMT_CREATE && l.nroutes == 0))
        gw_respond_error(r, 502, "The registry gave a malformed answer.");
    else if (r->apimgmt == GW_APIMGMT_CREATE)
        respond(r, ret_api(r, l.routes, 0, l.nroutes, l.routes[0].namespace_));
    else
        respond(r, apis_of(r, l.routes, l.nroutes, ns));
    msgpack_zone_destroy(&z);
}
