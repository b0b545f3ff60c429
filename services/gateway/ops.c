/* The REST API's operations as one table: for each gw_op, how its NATS request is built
 * from the request (path names, query arguments, JSON body) and how the reply of the
 * service becomes the OpenWhisk JSON response. api.c routes, authenticates and sends; the
 * encoders run on whichever thread starts the operation, the replies on the NATS thread. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sq/json.h"
#include "sq/mp.h"
#include "sq/util.h"

/* ---- query arguments ------------------------------------------------------------------- */

static const char *arg(const gw_req *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nargs; i++)
        if (strncmp(r->args[i], name, n) == 0 && r->args[i][n] == '=')
            return r->args[i] + n + 1;
    return NULL;
}

bool gw_arg_true(const gw_req *r, const char *name)
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

/* ---- responses ------------------------------------------------------------------------- */

void gw_respond_json(gw_req *r, int status, json_t *j)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (txt == NULL)
        gw_respond_error(r, 500, "could not encode the response");
    else
        gw_respond(r, status, txt, strlen(txt));
}

void gw_respond_obj(gw_req *r, int status, const msgpack_object *o)
{
    size_t len = 4;
    /* written straight from msgpack: no jansson tree for a record or a list */
    char *txt = o ? sq_mp_to_json_text(o, &len) : strdup("null");
    if (txt == NULL)
        gw_respond_error(r, 500, "could not encode the response");
    else
        gw_respond(r, status, txt, len);
}

/* ---- the body -------------------------------------------------------------------------- */

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

/* ---- encoders: the request of each operation (NULL: r was answered, 400) ---------------- */

static const char *enc_limits(gw_req *r, gw_op_ctx *c)
{
    sq_ns_ref_encode(&(sq_ns_ref){ .ns = r->ns }, c->pk);
    return SQ_SUBJ_AUTH_LIMITS;
}

static const char *enc_list(gw_req *r, gw_op_ctx *c)
{
    char nspkg[sizeof r->ns + sizeof r->pkg + 1];
    sq_reg_list m = { .ns = r->ns,
                      .kind = (char *)r->kind,
                      .limit = 30,
                      .count = r->count,
                      .public_ = gw_arg_true(r, "public"),
                      .shared = r->shared };
    if (r->pkg[0] != '\0') { /* "ns/pkg": the actions of one package */
        snprintf(nspkg, sizeof nspkg, "%s/%s", r->ns, r->pkg);
        m.ns = nspkg;
    }
    if (!arg_int(r, "skip", &m.skip) || !arg_int(r, "limit", &m.limit))
        return NULL;
    sq_reg_list_encode(&m, c->pk);
    return SQ_SUBJ_REG_LIST;
}

static const char *enc_ref(gw_req *r, gw_op_ctx *c)
{
    const char *code = arg(r, "code");
    sq_reg_ref m = { .ns = r->ns,
                     .name = r->name,
                     .kind = (char *)r->kind,
                     .code =
                         r->op == OP_ENTITY_DELETE || code == NULL || strcmp(code, "false") != 0,
                     .force = gw_arg_true(r, "force"),
                     .shared = r->shared };
    sq_reg_ref_encode(&m, c->pk);
    return r->op == OP_ENTITY_GET ? SQ_SUBJ_REG_GET : SQ_SUBJ_REG_DELETE;
}

static const char *enc_put(gw_req *r, gw_op_ctx *c)
{
    msgpack_object obj;
    sq_reg_put m = { .ns = r->ns,
                     .name = r->name,
                     .kind = (char *)r->kind,
                     .subject = r->ident.subject,
                     .overwrite = gw_arg_true(r, "overwrite") };
    if (!body_object(r, c->z, c->body, &obj))
        return NULL;
    m.entity = obj;
    sq_reg_put_encode(&m, c->pk);
    return r->op == OP_ENTITY_PUT ? SQ_SUBJ_REG_PUT : SQ_SUBJ_REG_RULE_STATE;
}

static const char *enc_invoke(gw_req *r, gw_op_ctx *c)
{
    int64_t wait = G.cfg.blocking_wait_ms;
    msgpack_object obj;
    sq_invoke m = { .ns = r->ns,
                    .name = r->name,
                    .subject = r->ident.subject,
                    .caller_ns = r->ident.namespace_,
                    .shared = r->shared };
    if (!body_object(r, c->z, c->body, &obj) || !arg_int(r, "timeout", &wait))
        return NULL;
    if (wait <= 0 || wait > G.cfg.blocking_wait_ms)
        wait = G.cfg.blocking_wait_ms;
    sq_id_new(r->actid);
    r->blocking = gw_arg_true(r, "blocking");
    r->result_only = gw_arg_true(r, "result");
    m.id = r->actid;
    m.key = (char *)c->key;
    m.params = obj;
    m.min_rev = gw_rev_min(r->ns, r->name);
    m.blocking = r->blocking;
    m.wait_ms = wait;
    sq_invoke_encode(&m, c->pk);
    c->timeout_ms = r->blocking ? (int)wait : G.cfg.op_timeout_ms;
    return SQ_SUBJ_SCHED_INVOKE;
}

static const char *enc_fire(gw_req *r, gw_op_ctx *c)
{
    msgpack_object obj;
    sq_fire m = {
        .ns = r->ns, .name = r->name, .subject = r->ident.subject, .caller_ns = r->ident.namespace_
    };
    if (!body_object(r, c->z, c->body, &obj))
        return NULL;
    sq_id_new(r->actid);
    m.id = r->actid;
    m.key = (char *)c->key;
    m.payload = obj;
    sq_fire_encode(&m, c->pk);
    return SQ_SUBJ_TRIGGER_FIRE;
}

static const char *enc_act_list(gw_req *r, gw_op_ctx *c)
{
    const char *name = arg(r, "name");
    sq_act_query m = { .ns = r->ns,
                       .id = "",
                       .name = name ? (char *)name : "",
                       .limit = 30,
                       .docs = gw_arg_true(r, "docs"),
                       .count = r->count };
    if (!arg_int(r, "skip", &m.skip) || !arg_int(r, "limit", &m.limit) ||
        !arg_int(r, "since", &m.since) || !arg_int(r, "upto", &m.upto))
        return NULL;
    sq_act_query_encode(&m, c->pk);
    return SQ_SUBJ_ACT_LIST;
}

static const char *enc_act_get(gw_req *r, gw_op_ctx *c)
{
    sq_act_query m = { .ns = r->ns, .id = r->actid, .name = "" };
    sq_act_query_encode(&m, c->pk);
    return r->op == OP_ACT_LOGS ? SQ_SUBJ_ACT_LOGS : SQ_SUBJ_ACT_GET;
}

/* ---- replies (NATS thread): the service's answer, not an error, becomes r's response ---- */

static void reply_obj(gw_req *r, const msgpack_object *o)
{
    gw_respond_obj(r, 200, o);
}

static void reply_put(gw_req *r, const msgpack_object *o)
{
    if (r->op == OP_ENTITY_PUT && r->kind && strcmp(r->kind, SQ_KIND_ACTION) == 0) {
        msgpack_zone z;
        sq_action a;
        msgpack_zone_init(&z, 1024);
        if (sq_action_from(o, &z, &a, NULL, 0) == SQ_OK && a.rev > 0)
            gw_rev_note(r->ns, r->name, a.rev);
        msgpack_zone_destroy(&z);
    }
    gw_respond_obj(r, 200, o);
}

/* The reply of an invoke, a blocking one's record (true: *a, in z) or {activationId} */
static bool reply_record(const msgpack_object *o, msgpack_zone *z, sq_activation *a)
{
    msgpack_zone_init(z, 1024);
    return sq_activation_from(o, z, a, NULL, 0) == SQ_OK;
}

static void reply_invoke(gw_req *r, const msgpack_object *o)
{
    msgpack_zone z;
    sq_activation a;
    int status = 200;

    if (!reply_record(o, &z, &a)) {
        /* queued: {activationId} */
        json_t *j = json_pack("{s:s}", "activationId", r->actid);
        gw_respond_json(r, 202, j);
    } else {
        if (a.status != SQ_ACT_SUCCESS)
            status = a.status == SQ_ACT_INTERNAL ? 500 : 502;
        gw_respond_obj(r, status, r->result_only ? &a.result : o);
    }
    msgpack_zone_destroy(&z);
}

static void reply_fire(gw_req *r, const msgpack_object *o)
{
    /* no active rule: 204, as OpenWhisk */
    msgpack_zone z;
    sq_act_ref ref;
    msgpack_zone_init(&z, 256);
    if (sq_act_ref_from(o, &z, &ref, NULL, 0) == SQ_OK && ref.rules == 0)
        gw_respond(r, 204, NULL, 0);
    else
        gw_respond_obj(r, 202, o);
    msgpack_zone_destroy(&z);
}

static void reply_list(gw_req *r, const msgpack_object *o)
{
    msgpack_zone z;
    sq_count c;
    sq_items items;
    msgpack_zone_init(&z, 256);
    if (r->count && sq_count_from(o, &z, &c, NULL, 0) == SQ_OK) {
        /* OpenWhisk answers a count as {"<collection>": N} */
        json_t *j = json_object();
        json_object_set_new(j, r->collection, json_integer(c.count));
        gw_respond_json(r, 200, j);
    } else
        gw_respond_obj(r, 200,
                       sq_items_from(o, &z, &items, NULL, 0) == SQ_OK ? &items.items : NULL);
    msgpack_zone_destroy(&z);
}

static void reply_logs(gw_req *r, const msgpack_object *o)
{
    msgpack_zone z;
    sq_act_logs l;
    json_t *j = json_object();
    msgpack_zone_init(&z, 256);
    json_object_set_new(j, "logs",
                        sq_act_logs_from(o, &z, &l, NULL, 0) == SQ_OK ? sq_mp_to_json(&l.logs)
                                                                      : json_array());
    msgpack_zone_destroy(&z);
    gw_respond_json(r, 200, j);
}

static void reply_result(gw_req *r, const msgpack_object *o)
{
    msgpack_zone z;
    sq_activation a;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_object resp;

    sq_proto_buf_init(&sb, &pk);
    if (reply_record(o, &z, &a)) {
        sq_act_response_encode(&a, &pk);
        if (sq_mp_unpack(sb.data, sb.size, &z, &resp) == SQ_OK)
            gw_respond_obj(r, 200, &resp);
        else
            gw_respond_error(r, 500, "could not encode the response");
    } else
        gw_respond_error(r, 502, "A platform service gave a malformed answer.");
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&z);
}

/* ---- the table ------------------------------------------------------------------------- */

static const gw_op_def defs[] = {
    [OP_LIMITS] = { enc_limits, reply_obj, false },
    [OP_ENTITY_LIST] = { enc_list, reply_list, false },
    [OP_ENTITY_GET] = { enc_ref, reply_obj, false },
    [OP_ENTITY_DELETE] = { enc_ref, reply_obj, false },
    [OP_ENTITY_PUT] = { enc_put, reply_put, false },
    [OP_RULE_STATE] = { enc_put, reply_obj, false },
    [OP_INVOKE] = { enc_invoke, reply_invoke, true },
    [OP_FIRE] = { enc_fire, reply_fire, true },
    [OP_ACT_LIST] = { enc_act_list, reply_list, false },
    [OP_ACT_GET] = { enc_act_get, reply_obj, false },
    [OP_ACT_LOGS] = { enc_act_get, reply_logs, false },
    [OP_ACT_RESULT] = { enc_act_get, reply_result, false },
};

const gw_op_def *gw_op_of(gw_op op)
{
    if ((size_t)op >= sizeof defs / sizeof defs[0] || defs[op].encode == NULL)
        return NULL;
    return &defs[op];
}
