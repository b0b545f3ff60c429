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

static const char *arg(const gw_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nargs; i++)
        if (strncmp(r->args[i], name, n) == 0 && r->args[i][n] == '=')
            return r->args[i] + n + 1;
    return NULL;
}

static bool arg_true(const gw_req *r, const char *name)
{
    const char *v = arg(r, name);
    return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0);
}

/* A non-negative integer argument; false (and a 400 on r) when it is not one. */
static bool arg_int(gw_req *r, const char *name, int64_t *out)
{
    const char *v = arg(r, name);
    char *end;
    long long x;
    if (v == NULL || *v == '\0')
        return true;
    x = strtoll(v, &end, 10);
    if (*end != '\0' || x < 0 || !isdigit((unsigned char)*v)) {
        gw_respond_error(r, 400, "The parameter '%s' must be a non-negative integer.", name);
        return false;
    }
    *out = x;
    return true;
}

static void respond_json(gw_req *r, int status, json_t *j)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (txt == NULL)
        gw_respond_error(r, 500, "could not encode the response");
    else
        gw_respond(r, status, txt, strlen(txt));
}

static void respond_obj(gw_req *r, int status, const msgpack_object *o)
{
    json_t *j = o ? sq_mp_to_json(o) : json_null();
    respond_json(r, status, j);
}

/* Sends one leg of r on the bus: r goes into the pending table first (the reply may come
 * back before publish returns), then the message. On failure r is answered 503 and true is
 * returned to mean "answered here". */
static bool send_leg(gw_req *r, const char *subject, const msgpack_sbuffer *sb, gw_wait w,
                     int timeout_ms)
{
    r->leg = w == GW_WAIT_AUTH ? GW_LEG_AUTH : r->leg == GW_LEG_AUTH ? GW_LEG_OP : r->leg;
    return gw_send_leg(r, subject, sb, timeout_ms);
}

bool gw_send_leg(gw_req *r, const char *subject, const msgpack_sbuffer *sb, int timeout_ms)
{
    gw_wait w = r->leg == GW_LEG_AUTH ? GW_WAIT_AUTH : GW_WAIT_OP;
    char reply[160];
    natsStatus s;

    pthread_mutex_lock(&G.lock);
    r->id = ++G.next_id;
    pthread_mutex_unlock(&G.lock);
    /* invocations are answered by invokers and schedulers: an inbox of their own, which can
     * complete nothing but an invocation */
    snprintf(reply, sizeof reply, "%s.%llu",
             w == GW_WAIT_OP && gw_invocation_leg(r) ? G.run_inbox : G.inbox,
             (unsigned long long)r->id);
    gw_pending_add(r, w, timeout_ms);
    s = natsConnection_PublishRequest(sq_bus_nc(G.bus), subject, reply, sb->data, (int)sb->size);
    if (s == NATS_OK)
        return false;
    if (gw_pending_take(r->id) == NULL)
        return false; /* already answered (a reply cannot come without a publish, but be safe) */
    gw_respond_error(r, 503, "The platform is not reachable: %s", natsStatus_GetText(s));
    return true;
}

/* ---- routing ---------------------------------------------------------------------- */

static const struct collection {
    const char *path, *kind;
} collections[] = {
    { "actions", SQ_KIND_ACTION },
    { "packages", SQ_KIND_PACKAGE },
    { "triggers", SQ_KIND_TRIGGER },
    { "rules", SQ_KIND_RULE },
};

/* Splits "/api/v1/namespaces/ns/<collection>/name" into an operation; answers 404/400/405
 * itself (returns false then). */
static bool route(gw_req *r)
{
    char *seg[8];
    int n = 0;
    char path[sizeof r->path];
    char *save = NULL, *tok;
    const struct collection *c = NULL;

    snprintf(path, sizeof path, "%s", r->path);
    for (tok = strtok_r(path, "/", &save); tok && n < 8; tok = strtok_r(NULL, "/", &save))
        seg[n++] = tok;
    if (tok != NULL || n < 3 || strcmp(seg[0], "api") != 0 || strcmp(seg[1], "v1") != 0 ||
        strcmp(seg[2], "namespaces") != 0)
        goto not_found;
    if (n == 3) {
        if (r->method != GW_GET)
            goto bad_method;
        r->op = OP_NAMESPACES;
        return true;
    }
    if (strcmp(seg[3], "_") != 0 && !sq_name_valid(seg[3])) {
        gw_respond_error(r, 400, "The namespace name \"%s\" is not valid.", seg[3]);
        return false;
    }
    snprintf(r->ns, sizeof r->ns, "%s", seg[3]);
    if (n < 5)
        goto not_found;
    /* "ns%2Fpkg" as the namespace (OpenWhisk's router takes it, lws has decoded it): the
     * package's actions */
    if (n >= 6 && strcmp(seg[5], "actions") == 0 && sq_name_valid(seg[4])) {
        bool collection = strcmp(seg[4], "limits") == 0 || strcmp(seg[4], "activations") == 0;
        for (size_t i = 0; i < sizeof collections / sizeof collections[0]; i++)
            collection |= strcmp(seg[4], collections[i].path) == 0;
        if (!collection) {
            snprintf(r->pkg, sizeof r->pkg, "%s", seg[4]);
            for (int i = 4; i + 1 < n; i++)
                seg[i] = seg[i + 1];
            n--;
        }
    }
    if (strcmp(seg[4], "limits") == 0 && n == 5) {
        if (r->method != GW_GET)
            goto bad_method;
        r->op = OP_LIMITS;
        return true;
    }
    if (strcmp(seg[4], "activations") == 0) {
        if (r->method != GW_GET)
            goto bad_method;
        r->collection = "activations";
        if (n == 5) {
            r->op = OP_ACT_LIST;
            return true;
        }
        if (strlen(seg[5]) >= sizeof r->actid || !sq_id_valid(seg[5]))
            goto not_found; /* no activation has such an id */
        memcpy(r->actid, seg[5], 33);
        if (n == 6)
            r->op = OP_ACT_GET;
        else if (n == 7 && strcmp(seg[6], "logs") == 0)
            r->op = OP_ACT_LOGS;
        else if (n == 7 && strcmp(seg[6], "result") == 0)
            r->op = OP_ACT_RESULT;
        else
            goto not_found;
        return true;
    }
    for (size_t i = 0; i < sizeof collections / sizeof collections[0]; i++)
        if (strcmp(seg[4], collections[i].path) == 0)
            c = &collections[i];
    if (c == NULL)
        goto not_found;
    r->kind = c->kind;
    r->collection = c->path;
    if (n == 5) {
        if (r->method != GW_GET)
            goto bad_method;
        r->op = OP_ENTITY_LIST;
        return true;
    }
    /* GET .../actions/{package}/ lists the package's actions */
    if (n == 6 && r->pkg[0] == '\0' && strcmp(c->kind, SQ_KIND_ACTION) == 0 &&
        r->path[strlen(r->path) - 1] == '/' && r->method == GW_GET) {
        if (!sq_name_valid(seg[5])) {
            gw_respond_error(r, 400, "The name \"%s\" is not a valid entity name.", seg[5]);
            return false;
        }
        snprintf(r->pkg, sizeof r->pkg, "%s", seg[5]);
        r->op = OP_ENTITY_LIST;
        return true;
    }
    if (r->pkg[0] != '\0' && n > 6)
        goto not_found; /* ns%2Fpkg/actions/pkg2/name */
    /* an entity name; actions may be package/name */
    if (n > 7 || (n == 7 && strcmp(c->kind, SQ_KIND_ACTION) != 0))
        goto not_found;
    r->name[0] = '\0';
    if (r->pkg[0] != '\0')
        snprintf(r->name, sizeof r->name, "%s/", r->pkg);
    for (int i = 5; i < n; i++) {
        if (!sq_name_valid(seg[i])) {
            gw_respond_error(r, 400, "The name \"%s\" is not a valid entity name.", seg[i]);
            return false;
        }
        if (i > 5)
            strncat(r->name, "/", sizeof r->name - strlen(r->name) - 1);
        strncat(r->name, seg[i], sizeof r->name - strlen(r->name) - 1);
    }
    switch (r->method) {
    case GW_GET: r->op = OP_ENTITY_GET; return true;
    case GW_PUT: r->op = OP_ENTITY_PUT; return true;
    case GW_DELETE: r->op = OP_ENTITY_DELETE; return true;
    case GW_POST:
        if (strcmp(c->kind, SQ_KIND_ACTION) == 0) {
            r->op = OP_INVOKE;
            return true;
        }
        if (strcmp(c->kind, SQ_KIND_RULE) == 0) {
            r->op = OP_RULE_STATE;
            return true;
        }
        r->op = OP_FIRE;
        return true;
    default: goto bad_method;
    }
not_found:
    gw_respond_error(r, 404, "The requested resource does not exist.");
    return false;
bad_method:
    gw_respond_error(r, 405, "Method not allowed.");
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
    respond_json(r, 200, j);
    return true;
}

/* Routes r once: a web action, a CORS preflight, an info document or a REST operation.
 * False when r was answered here. */
static bool route_once(gw_req *r)
{
    if (r->routed)
        return true;
    r->routed = true;
    if (gw_web_path(r->path))
        return gw_web_route(r);
    if (r->method == GW_OPTIONS)
        return !preflight(r);
    if ((r->method == GW_GET || r->method == GW_HEAD) && (info_document(r) || gw_health_route(r)))
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

/* A body's values travel inside other messages: an action parameter value sits five levels
 * down in a registry put (message, entity, parameters, {key, value}, value). */
#define BODY_MAX_DEPTH (SQ_MP_MAX_DEPTH - 5)

/* The request body as a msgpack map in the arena (an empty body is {}); false and a 400
 * on r when it is not a JSON object. */
static bool body_object(gw_req *r, msgpack_zone *z, msgpack_sbuffer *tmp, msgpack_object *out)
{
    msgpack_packer pk;
    char err[256];
    json_error_t je;
    json_t *j;

    msgpack_packer_init(&pk, tmp, msgpack_sbuffer_write);
    if (r->body_len == 0) {
        sq_input_encode(&pk, NULL);
    } else {
        j = json_loadb(r->body, r->body_len, 0, &je);
        if (j == NULL) {
            gw_respond_error(r, 400, "The request content was malformed: %s", je.text);
            return false;
        }
        if (!json_is_object(j)) {
            json_decref(j);
            gw_respond_error(r, 400, "The request content was malformed: expected a JSON object.");
            return false;
        }
        if (sq_json_to_mp_max(j, &pk, BODY_MAX_DEPTH) != SQ_OK) {
            json_decref(j);
            snprintf(err, sizeof err, "JSON nests deeper than %d levels", BODY_MAX_DEPTH);
            gw_respond_error(r, 400, "The request content was malformed: %s.", err);
            return false;
        }
        json_decref(j);
    }
    if (sq_mp_unpack(tmp->data, tmp->size, z, out) != SQ_OK) {
        gw_respond_error(r, 400, "The request content was malformed.");
        return false;
    }
    return true;
}

/* True when ns is the key's own namespace. A key belongs to one namespace: the subject's
 * other namespaces (ident.namespaces) have keys of their own and are not opened by it. */
static bool owns(const gw_req *r, const char *ns)
{
    return strcmp(ns, r->ident.namespace_) == 0;
}

/* Checks the namespace against the identity and sends the operation. Returns true when r
 * was answered here. */
static bool start_op(gw_req *r)
{
    msgpack_sbuffer sb, body;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object obj;
    const char *subject = NULL;
    int timeout = G.cfg.op_timeout_ms;
    bool done = true;

    if (r->op == OP_WEB)
        return gw_web_start(r);
    if (strcmp(r->ns, "_") == 0 || r->ns[0] == '\0')
        snprintf(r->ns, sizeof r->ns, "%s", r->ident.namespace_);
    if (r->op == OP_NAMESPACES) {
        /* the namespace the key opens, as OpenWhisk answers */
        json_t *a = json_array();
        json_array_append_new(a, json_string(r->ident.namespace_));
        respond_json(r, 200, a);
        return true;
    }
    if (!owns(r, r->ns)) {
        /* another namespace: only its published packages and their actions may be read or
         * invoked; the registry checks what is published */
        bool in_package = strchr(r->name, '/') != NULL;
        bool readable = (r->op == OP_ENTITY_GET || r->op == OP_ENTITY_LIST) &&
                        strcmp(r->kind, SQ_KIND_PACKAGE) == 0;
        readable |= (r->op == OP_ENTITY_GET || r->op == OP_INVOKE) &&
                    strcmp(r->kind, SQ_KIND_ACTION) == 0 && in_package;
        readable |=
            r->op == OP_ENTITY_LIST && strcmp(r->kind, SQ_KIND_ACTION) == 0 && r->pkg[0] != '\0';
        if (!readable) {
            gw_respond_error(
                r, 403, "The supplied authentication is not authorized to access '%s'.", r->ns);
            return true;
        }
        r->shared = true;
    }
    r->count = arg_true(r, "count");
    sq_proto_buf_init(&sb, &pk);
    msgpack_sbuffer_init(&body);
    msgpack_zone_init(&z, 2048);
    switch (r->op) {
    case OP_LIMITS:
        sq_ns_ref_encode(&(sq_ns_ref){ .ns = r->ns }, &pk);
        subject = SQ_SUBJ_AUTH_LIMITS;
        break;
    case OP_ENTITY_LIST: {
        char nspkg[sizeof r->ns + sizeof r->pkg + 1];
        sq_reg_list m = { .ns = r->ns,
                          .kind = (char *)r->kind,
                          .limit = 30,
                          .count = r->count,
                          .public_ = arg_true(r, "public"),
                          .shared = r->shared };
        if (r->pkg[0] != '\0') { /* "ns/pkg": the actions of one package */
            snprintf(nspkg, sizeof nspkg, "%s/%s", r->ns, r->pkg);
            m.ns = nspkg;
        }
        if (!arg_int(r, "skip", &m.skip) || !arg_int(r, "limit", &m.limit))
            goto out;
        sq_reg_list_encode(&m, &pk);
        subject = SQ_SUBJ_REG_LIST;
        break;
    }
    case OP_ENTITY_GET:
    case OP_ENTITY_DELETE: {
        const char *code = arg(r, "code");
        sq_reg_ref m = { .ns = r->ns,
                         .name = r->name,
                         .kind = (char *)r->kind,
                         .code = r->op == OP_ENTITY_DELETE || code == NULL ||
                                 strcmp(code, "false") != 0,
                         .force = arg_true(r, "force"),
                         .shared = r->shared };
        sq_reg_ref_encode(&m, &pk);
        subject = r->op == OP_ENTITY_GET ? SQ_SUBJ_REG_GET : SQ_SUBJ_REG_DELETE;
        break;
    }
    case OP_ENTITY_PUT:
    case OP_RULE_STATE: {
        sq_reg_put m = { .ns = r->ns,
                         .name = r->name,
                         .kind = (char *)r->kind,
                         .subject = r->ident.subject,
                         .overwrite = arg_true(r, "overwrite") };
        if (!body_object(r, &z, &body, &obj))
            goto out;
        m.entity = obj;
        sq_reg_put_encode(&m, &pk);
        subject = r->op == OP_ENTITY_PUT ? SQ_SUBJ_REG_PUT : SQ_SUBJ_REG_RULE_STATE;
        break;
    }
    case OP_INVOKE: {
        char key[256] = "";
        int64_t wait = G.cfg.blocking_wait_ms;
        sq_invoke m = { .ns = r->ns,
                        .name = r->name,
                        .subject = r->ident.subject,
                        .caller_ns = r->ident.namespace_,
                        .shared = r->shared };
        if (!body_object(r, &z, &body, &obj) || !arg_int(r, "timeout", &wait))
            goto out;
        if (wait <= 0 || wait > G.cfg.blocking_wait_ms)
            wait = G.cfg.blocking_wait_ms;
        basic_key(r, key, sizeof key);
        sq_id_new(r->actid);
        r->blocking = arg_true(r, "blocking");
        r->result_only = arg_true(r, "result");
        m.id = r->actid;
        m.key = key;
        m.params = obj;
        m.min_rev = gw_rev_min(r->ns, r->name);
        m.blocking = r->blocking;
        m.wait_ms = wait;
        sq_invoke_encode(&m, &pk);
        subject = SQ_SUBJ_SCHED_INVOKE;
        timeout = r->blocking ? (int)wait : G.cfg.op_timeout_ms;
        sodium_memzero(key, sizeof key);
        break;
    }
    case OP_FIRE: {
        char key[256] = "";
        sq_fire m = { .ns = r->ns,
                      .name = r->name,
                      .subject = r->ident.subject,
                      .caller_ns = r->ident.namespace_ };
        if (!body_object(r, &z, &body, &obj))
            goto out;
        basic_key(r, key, sizeof key);
        sq_id_new(r->actid);
        m.id = r->actid;
        m.key = key;
        m.payload = obj;
        sq_fire_encode(&m, &pk);
        subject = SQ_SUBJ_TRIGGER_FIRE;
        sodium_memzero(key, sizeof key);
        break;
    }
    case OP_ACT_LIST: {
        const char *name = arg(r, "name");
        sq_act_query m = { .ns = r->ns,
                           .id = "",
                           .name = name ? (char *)name : "",
                           .limit = 30,
                           .docs = arg_true(r, "docs"),
                           .count = r->count };
        if (!arg_int(r, "skip", &m.skip) || !arg_int(r, "limit", &m.limit) ||
            !arg_int(r, "since", &m.since) || !arg_int(r, "upto", &m.upto))
            goto out;
        sq_act_query_encode(&m, &pk);
        subject = SQ_SUBJ_ACT_LIST;
        break;
    }
    case OP_ACT_GET:
    case OP_ACT_LOGS:
    case OP_ACT_RESULT: {
        sq_act_query m = { .ns = r->ns, .id = r->actid, .name = "" };
        sq_act_query_encode(&m, &pk);
        subject = r->op == OP_ACT_LOGS ? SQ_SUBJ_ACT_LOGS : SQ_SUBJ_ACT_GET;
        break;
    }
    default: gw_respond_error(r, 404, "The requested resource does not exist."); goto out;
    }
    done = send_leg(r, subject, &sb, GW_WAIT_OP, timeout);
out:
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

static void on_invoke_reply(gw_req *r, const msgpack_object *o)
{
    const msgpack_object *resp = sq_mp_get(o, "response");
    const msgpack_object *code;
    int status = 200;

    if (resp == NULL) {
        /* queued: {activationId} */
        json_t *j = json_pack("{s:s}", "activationId", r->actid);
        respond_json(r, 202, j);
        return;
    }
    code = sq_mp_get(resp, "statusCode");
    if (code && code->type == MSGPACK_OBJECT_POSITIVE_INTEGER && code->via.u64 != 0)
        status = code->via.u64 == SQ_ACT_INTERNAL ? 500 : 502;
    if (r->result_only)
        respond_obj(r, status, sq_mp_get(resp, "result"));
    else
        respond_obj(r, status, o);
}

void gw_on_reply(gw_req *r, natsMsg *msg)
{
    msgpack_zone z;
    msgpack_object o;
    const char *emsg;
    size_t elen;
    int code;
    bool auth_leg = r->leg == GW_LEG_AUTH;

    msgpack_zone_init(&z, 4096);
    if (r->op == OP_WEB && !auth_leg && !natsMsg_IsNoResponders(msg) &&
        natsMsg_GetDataLength(msg) > 0 &&
        sq_mp_unpack(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &o) == SQ_OK &&
        !sq_wire_error_get(&o, &code, &emsg, &elen)) {
        bool in_flight = false;
        if (r->leg == GW_LEG_WEB_META)
            in_flight = gw_web_meta_reply(r, &o);
        else if (r->leg == GW_LEG_ROUTES)
            in_flight = gw_routes_reply(r, &o);
        else
            gw_web_on_reply(r, &o);
        msgpack_zone_destroy(&z);
        if (!in_flight)
            gw_ready_push(r);
        return;
    }
    if (natsMsg_IsNoResponders(msg)) {
        /* nobody serves that subject: the service is down or not deployed */
        gw_respond_error(r, 503, "The platform service for this request is not available.");
    } else if (natsMsg_GetDataLength(msg) == 0 ||
               sq_mp_unpack(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &o) !=
                   SQ_OK) {
        gw_respond_error(r, 502, "A platform service gave a malformed answer.");
    } else if (sq_wire_error_get(&o, &code, &emsg, &elen)) {
        if (r->op == OP_WEB && auth_leg && code < 500) {
            /* a key that does not verify: the request goes on without one (its body, if
             * any, is read first, on the lws thread, which then starts it) */
            bool in_flight;
            memset(&r->ident, 0, sizeof r->ident);
            r->web_anon = true;
            msgpack_zone_destroy(&z);
            if (r->expect_body && !r->dispatched) {
                gw_ready_push(r);
                return;
            }
            in_flight = !gw_web_start(r);
            if (!in_flight)
                gw_ready_push(r);
            return;
        }
        if (r->op == OP_WEB && !auth_leg) {
            gw_web_on_error(r, code, emsg, elen);
            msgpack_zone_destroy(&z);
            gw_ready_push(r);
            return;
        }
        if (auth_leg && code >= 500)
            code = 503;
        gw_respond_error(r, code, "%.*s", (int)elen, emsg);
    } else if (auth_leg) {
        bool in_flight;
        msgpack_zone_destroy(&z);
        in_flight = on_auth_reply(r, msg);
        if (!in_flight)
            gw_ready_push(r);
        return;
    } else {
        switch (r->op) {
        case OP_INVOKE: on_invoke_reply(r, &o); break;
        case OP_FIRE: {
            /* no active rule: 204, as OpenWhisk */
            const msgpack_object *rules = sq_mp_get(&o, "rules");
            if (rules && rules->type == MSGPACK_OBJECT_POSITIVE_INTEGER && rules->via.u64 == 0)
                gw_respond(r, 204, NULL, 0);
            else
                respond_obj(r, 202, &o);
            break;
        }
        case OP_ENTITY_LIST:
        case OP_ACT_LIST: {
            const msgpack_object *count = sq_mp_get(&o, "count");
            if (r->count && count != NULL) {
                /* OpenWhisk answers a count as {"<collection>": N} */
                json_t *j = json_object();
                json_object_set_new(j, r->collection, sq_mp_to_json(count));
                respond_json(r, 200, j);
            } else
                respond_obj(r, 200, sq_mp_get(&o, "items"));
            break;
        }
        case OP_ACT_LOGS: {
            const msgpack_object *logs = sq_mp_get(&o, "logs");
            json_t *j = json_object();
            json_object_set_new(j, "logs", logs ? sq_mp_to_json(logs) : json_array());
            respond_json(r, 200, j);
            break;
        }
        case OP_ACT_RESULT: respond_obj(r, 200, sq_mp_get(&o, "response")); break;
        default:
            if (r->op == OP_ENTITY_PUT && r->kind && strcmp(r->kind, SQ_KIND_ACTION) == 0) {
                const msgpack_object *rev = sq_mp_get(&o, "rev");
                if (rev && rev->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                    gw_rev_note(r->ns, r->name, (int64_t)rev->via.u64);
            }
            respond_obj(r, 200, &o);
        }
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
        respond_json(r, 202, j);
    } else {
        gw_respond_error(r, 503, "The platform did not answer in time.");
    }
    gw_ready_push(r);
}
