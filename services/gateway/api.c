/* REST API v1 on the bus: routes a complete request to its operation, verifies the API key
 * (cached for a few seconds), sends the operation's NATS request, and turns the reply into
 * the OpenWhisk JSON response. Runs partly on the lws thread (gw_dispatch) and partly on the
 * NATS reply thread (gw_on_reply); a request belongs to exactly one of them at a time. */
#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

/* ---- small helpers ------------------------------------------------------------------ */

/* Sends one leg of r on the bus: r goes into the pending table first (the reply may come
 * back before publish returns), then the message. On failure r is answered 503 and true is
 * returned to mean "answered here". */
static bool send_leg(gw_req *r, const char *subject, const msgpack_sbuffer *sb, gw_wait w,
                     int timeout_ms)
{
    r->leg = w == GW_WAIT_AUTH ? GW_LEG_AUTH : r->leg == GW_LEG_AUTH ? GW_LEG_OP : r->leg;
    return gw_send_leg(r, subject, sb, timeout_ms);
}

/* ---- routing ---------------------------------------------------------------------- */

/* Routes a REST path (route.c's table); answers 404/400/405 itself (returns false then). */
static bool route(gw_req *r)
{
    char err[1200];
    int status = gw_route_rest(r, err, sizeof err);
    if (status == 0)
        return true;
    gw_respond_error(r, status, "%s", err);
    return false;
}

/* ---- auth ------------------------------------------------------------------------------ */

/* The key ("uuid:secret") from "Authorization: Basic base64(uuid:secret)", or false. */
bool gw_basic_key(const gw_req *r, char *key, size_t keylen)
{
    const char *b64 = r->auth;
    size_t bin_len = 0;

    if (strncasecmp(b64, "Basic ", 6) != 0)
        return false;
    b64 += 6;
    while (*b64 == ' ')
        b64++;
    if (sodium_base642bin((unsigned char *)key, keylen - 1, b64, strlen(b64), " \t", &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    key[bin_len] = '\0';
    return strlen(key) == bin_len && strchr(key, ':') != NULL;
}

#define basic_key gw_basic_key

static bool start_op(gw_req *r);

/* A CORS preflight of the REST API: answered here, without a key, as OpenWhisk's controller
 * answers it (the browser then sends the real request with its Authorization header). */
static bool preflight(gw_req *r)
{
    const char *acrh = NULL;
    r->op = OP_PREFLIGHT;
    gw_add_cors(r, acrh);
    gw_respond(r, 200, NULL, 0);
    return true;
}

/* Decodes the auth service's reply held in r->ident_raw into r->ident. */
static bool ident_load(gw_req *r)
{
    msgpack_object o;
    if (!r->ident_zone_used) {
        msgpack_zone_init(&r->ident_zone, 512);
        r->ident_zone_used = true;
    }
    return sq_mp_unpack(r->ident_raw, r->ident_len, &r->ident_zone, &o) == SQ_OK &&
           sq_identity_from(&o, &r->ident_zone, &r->ident, NULL, 0) == SQ_OK;
}

#ifndef SQ_BUILD_DATE
#define SQ_BUILD_DATE "unknown"
#endif
#ifndef SQ_BUILD_NO
#define SQ_BUILD_NO "unknown"
#endif

/* GET / (the platform: limits and runtimes, which OpenWhisk clients read) and GET /api/v1
 * (the API version), without a key. The figures are the tables the services enforce. */
static bool info_document(gw_req *r)
{
    json_t *j;
    if (strcmp(r->path, "/api/v1") == 0 || strcmp(r->path, "/api/v1/") == 0) {
        j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "description", "Squall: the OpenWhisk API v1",
                      "api_version", "1.0.0", "api_version_path", "v1", "build", SQ_BUILD_DATE,
                      "buildno", SQ_BUILD_NO);
    } else if (strcmp(r->path, "/") == 0) {
        const sq_ns_limits ns = SQ_NS_LIMITS_DEFAULT;
        size_t n;
        const sq_runtime *rt = sq_runtimes(&n);
        json_t *runtimes = json_object(), *limits;
        for (size_t i = 0; i < n; i++) {
            json_t *fam = json_object_get(runtimes, rt[i].family);
            if (fam == NULL) {
                fam = json_array();
                json_object_set_new(runtimes, rt[i].family, fam);
            }
            json_array_append_new(fam, json_pack("{s:s, s:s, s:b, s:b, s:b, s:b}", "kind",
                                                 rt[i].kind, "image", rt[i].image, "default",
                                                 rt[i].is_default, "deprecated", rt[i].deprecated,
                                                 "attached", 0, "requireMain", 0));
        }
        limits = json_pack(
            "{s:I, s:I, s:I, s:i, s:i, s:i, s:I, s:I, s:i, s:I}", "actions_per_minute",
            (json_int_t)ns.per_minute, "triggers_per_minute", (json_int_t)ns.fires_per_minute,
            "concurrent_actions", (json_int_t)ns.concurrent, "sequence_length", SQ_SEQUENCE_MAX,
            "min_action_duration", SQ_LIMIT_TIMEOUT_MIN, "max_action_duration",
            SQ_LIMIT_TIMEOUT_MAX, "min_action_memory",
            (json_int_t)SQ_LIMIT_MEMORY_MIN * 1024 * 1024, "max_action_memory",
            (json_int_t)SQ_LIMIT_MEMORY_MAX * 1024 * 1024, "min_action_logs", SQ_LIMIT_LOGS_MIN,
            "max_action_logs", (json_int_t)SQ_LIMIT_LOGS_MAX * 1024 * 1024);
        j = json_pack("{s:s, s:[s], s:o, s:o}", "description", "Squall", "api_paths", "/api/v1",
                      "limits", limits, "runtimes", runtimes);
    } else {
        return false;
    }
    gw_respond_json(r, 200, j);
    return true;
}

/* A web action's request: /api/v1/web/..., an API route's path, or one of the
 * /whisk.system/apimgmt calls answered by apimgmt.c. False when r was answered here. */
static bool route_web(gw_req *r)
{
    if (!gw_web_begin(r))
        return false;
    if (!gw_web_path(r->path))
        return gw_routes_route(r); /* an API route */
    if (!gw_web_route(r))
        return false;
    gw_apimgmt_match(r);
    return true;
}

/* Starts a web action's request (after the optional auth), as start_op. */
static bool web_start(gw_req *r)
{
    if (r->apimgmt)
        return gw_apimgmt_start(r);
    if (r->route)
        return gw_routes_start(r);
    return gw_web_start(r);
}

/* Routes r once: a web action, a CORS preflight, an info document or a REST operation.
 * False when r was answered here. */
static bool route_once(gw_req *r)
{
    if (r->routed)
        return true;
    r->routed = true;
    if (gw_web_path(r->path) || gw_routes_path(r->path))
        return route_web(r);
    if (r->method == GW_OPTIONS)
        return !preflight(r);
    if ((r->method == GW_GET || r->method == GW_HEAD) &&
        (info_document(r) || gw_health_route(r) || gw_metrics_route(r)))
        return false;
    if (r->method == GW_HEAD) {
        r->head_only = true;
        r->method = GW_GET;
    }
    return route(r);
}

/* Routes r (once) and checks the form of its key; false when r was answered here. A web
 * action needs no key: without one (or with one that is not even well-formed) *anon is set
 * and the request goes on anonymously (require-whisk-auth decides later). */
static bool precheck(gw_req *r, char *key, size_t keylen, bool *anon)
{
    *anon = false;
    if (!route_once(r))
        return false;
    if (r->op == OP_WEB && (r->auth[0] == '\0' || !basic_key(r, key, keylen))) {
        sodium_memzero(key, keylen);
        *anon = true;
        return true;
    }
    if (r->auth[0] == '\0') {
        gw_respond_error(
            r, 401,
            "The resource requires authentication, which was not supplied with the request");
        return false;
    }
    if (!basic_key(r, key, keylen)) {
        gw_respond_error(r, 401, "The supplied authentication is invalid");
        return false;
    }
    return true;
}

/* Looks the key up in the cache (true: r->ident is loaded) or sends it to the auth service
 * (false: *answered says whether r was answered 503 because the bus failed). */
static bool auth_lookup(gw_req *r, char *key, bool *answered)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    *answered = false;
    if (gw_auth_cache_get(key, r->ident_raw, sizeof r->ident_raw, &r->ident_len)) {
        sodium_memzero(key, 256);
        if (ident_load(r))
            return true;
        memset(&r->ident, 0, sizeof r->ident); /* unreadable: ask again */
    }
    sq_proto_buf_init(&sb, &pk);
    sq_auth_verify_encode(&(sq_auth_verify){ .key = key }, &pk);
    sodium_memzero(key, 256);
    *answered = send_leg(r, SQ_SUBJ_AUTH_VERIFY, &sb, GW_WAIT_AUTH, G.cfg.op_timeout_ms);
    msgpack_sbuffer_destroy(&sb);
    return false;
}

bool gw_dispatch(gw_req *r)
{
    char key[256];
    bool answered, anon;

    if (r->ident.subject != NULL || r->web_anon) /* settled before its body was read */
        return start_op(r);
    if (!precheck(r, key, sizeof key, &anon))
        return true;
    if (anon) {
        r->web_anon = true;
        return start_op(r);
    }
    if (auth_lookup(r, key, &answered))
        return start_op(r);
    return answered;
}

gw_auth_result gw_authenticate(gw_req *r)
{
    char key[256];
    bool answered, anon;

    if (!precheck(r, key, sizeof key, &anon))
        return GW_AUTH_ANSWERED;
    if (anon) {
        r->web_anon = true;
        return GW_AUTH_OK;
    }
    if (auth_lookup(r, key, &answered))
        return GW_AUTH_OK;
    return answered ? GW_AUTH_ANSWERED : GW_AUTH_PENDING;
}

/* True when ns is the key's own namespace. A key belongs to one namespace: the subject's
 * other namespaces (ident.namespaces) have keys of their own and are not opened by it. */
static bool owns(const gw_req *r, const char *ns)
{
    return strcmp(ns, r->ident.namespace_) == 0;
}

/* What a key may do in a namespace not its own: read its published packages and their
 * actions, and invoke those actions (the registry checks what is published). */
static bool shared_allowed(const gw_req *r)
{
    bool in_package = strchr(r->name, '/') != NULL;
    bool action = r->kind != NULL && strcmp(r->kind, SQ_KIND_ACTION) == 0;
    bool package = r->kind != NULL && strcmp(r->kind, SQ_KIND_PACKAGE) == 0;

    return ((r->op == OP_ENTITY_GET || r->op == OP_ENTITY_LIST) && package) ||
           ((r->op == OP_ENTITY_GET || r->op == OP_INVOKE) && action && in_package) ||
           (r->op == OP_ENTITY_LIST && action && r->pkg[0] != '\0');
}

/* Checks the namespace against the identity and sends the operation (ops.c's table).
 * Returns true when r was answered here. */
static bool start_op(gw_req *r)
{
    msgpack_sbuffer sb, body;
    msgpack_packer pk;
    msgpack_zone z;
    char key[256] = "";
    const gw_op_def *def;
    const char *subject;
    gw_op_ctx c = { .pk = &pk, .z = &z, .body = &body, .key = key };
    bool done = true;

    if (r->op == OP_WEB)
        return web_start(r);
    if (strcmp(r->ns, "_") == 0 || r->ns[0] == '\0')
        snprintf(r->ns, sizeof r->ns, "%s", r->ident.namespace_);
    if (r->op == OP_NAMESPACES) {
        /* the namespace the key opens, as OpenWhisk answers */
        json_t *a = json_array();
        json_array_append_new(a, json_string(r->ident.namespace_));
        gw_respond_json(r, 200, a);
        return true;
    }
    if ((def = gw_op_of(r->op)) == NULL) {
        gw_respond_error(r, 404, "The requested resource does not exist.");
        return true;
    }
    if (!owns(r, r->ns)) {
        if (!shared_allowed(r)) {
            gw_respond_error(
                r, 403, "The supplied authentication is not authorized to access '%s'.", r->ns);
            return true;
        }
        r->shared = true;
    }
    r->count = gw_arg_true(r, "count");
    if (def->needs_key)
        basic_key(r, key, sizeof key);
    c.timeout_ms = G.cfg.op_timeout_ms;
    sq_proto_buf_init(&sb, &pk);
    msgpack_sbuffer_init(&body);
    msgpack_zone_init(&z, 2048);
    subject = def->encode(r, &c);
    sodium_memzero(key, sizeof key);
    if (subject != NULL)
        done = send_leg(r, subject, &sb, GW_WAIT_OP, c.timeout_ms);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&sb);
    return done;
}

/* ---- replies (NATS thread) ------------------------------------------------------------- */

/* Returns true when the operation leg went to the bus (r is then not ours any more). */
static bool on_auth_reply(gw_req *r, natsMsg *msg)
{
    char key[256];
    size_t len = (size_t)natsMsg_GetDataLength(msg);

    if (len > sizeof r->ident_raw) {
        gw_respond_error(r, 500, "identity too long");
        return false;
    }
    memcpy(r->ident_raw, natsMsg_GetData(msg), len);
    r->ident_len = len;
    if (!ident_load(r)) {
        memset(&r->ident, 0, sizeof r->ident);
        gw_respond_error(r, 500, "The authentication service gave a malformed answer.");
        return false;
    }
    if (basic_key(r, key, sizeof key))
        gw_auth_cache_put(key, r->ident_raw, r->ident_len);
    sodium_memzero(key, sizeof key);
    if (r->expect_body)
        return false; /* the lws thread reads the body now, then starts the operation */
    return !start_op(r);
}

/* A web action's meta, route or invoke reply (not an error) came: web.c and routes.c take
 * it; r goes back to the lws thread unless it went to the bus again. */
static void on_web_reply(gw_req *r, const msgpack_object *o)
{
    bool in_flight = false;
    if (r->leg == GW_LEG_WEB_META)
        in_flight = gw_web_meta_reply(r, o);
    else if (r->leg == GW_LEG_ROUTES)
        in_flight = gw_routes_reply(r, o);
    else if (r->apimgmt)
        gw_apimgmt_on_reply(r, o);
    else
        gw_web_on_reply(r, o);
    if (!in_flight)
        gw_ready_push(r);
}

/* A wire error {error: {code, message}} answers r; r goes back to the lws thread unless it
 * went to the bus again (a web action whose key does not verify goes on without one). */
static void on_error_reply(gw_req *r, int code, const char *emsg, size_t elen)
{
    bool auth_leg = r->leg == GW_LEG_AUTH;

    if (r->op == OP_WEB && auth_leg && code < 500) {
        /* a key that does not verify: the request goes on without one (its body, if any,
         * is read first, on the lws thread, which then starts it) */
        memset(&r->ident, 0, sizeof r->ident);
        r->web_anon = true;
        if ((r->expect_body && !r->dispatched) || web_start(r))
            gw_ready_push(r);
        return;
    }
    if (r->op == OP_WEB && !auth_leg) {
        gw_web_on_error(r, code, emsg, elen);
    } else {
        if (auth_leg && code >= 500)
            code = 503;
        gw_respond_error(r, code, "%.*s", (int)elen, emsg);
    }
    gw_ready_push(r);
}

void gw_on_reply(gw_req *r, natsMsg *msg)
{
    msgpack_zone z;
    msgpack_object o;
    const char *emsg;
    size_t elen;
    int code;
    const gw_op_def *def;
    size_t len = (size_t)natsMsg_GetDataLength(msg);

    msgpack_zone_init(&z, 4096);
    if (natsMsg_IsNoResponders(msg)) {
        /* nobody serves that subject: the service is down or not deployed */
        gw_respond_error(r, 503, "The platform service for this request is not available.");
    } else if (len == 0 || sq_mp_unpack(natsMsg_GetData(msg), len, &z, &o) != SQ_OK) {
        gw_respond_error(r, 502, "A platform service gave a malformed answer.");
    } else if (sq_wire_error_get(&o, &code, &emsg, &elen)) {
        on_error_reply(r, code, emsg, elen);
        msgpack_zone_destroy(&z);
        return;
    } else if (r->leg == GW_LEG_AUTH) {
        msgpack_zone_destroy(&z);
        if (!on_auth_reply(r, msg))
            gw_ready_push(r);
        return;
    } else if (r->op == OP_WEB) {
        on_web_reply(r, &o);
        msgpack_zone_destroy(&z);
        return;
    } else if ((def = gw_op_of(r->op)) != NULL) {
        def->reply(r, &o);
    } else {
        gw_respond_obj(r, 200, &o);
    }
    msgpack_zone_destroy(&z);
    gw_ready_push(r);
}

void gw_on_timeout(gw_req *r)
{
    if (r->op == OP_WEB && r->leg != GW_LEG_AUTH)
        gw_web_on_timeout(r);
    else if (r->op == OP_INVOKE && r->blocking && r->ident.subject != NULL) {
        /* the activation goes on and will be recorded; the caller polls for it */
        json_t *j = json_pack("{s:s}", "activationId", r->actid);
        gw_respond_json(r, 202, j);
    } else {
        gw_respond_error(r, 503, "The platform did not answer in time.");
    }
    gw_ready_push(r);
}
