/* sq.auth.admin: the operator's interface to subjects, namespaces, keys and limits, used by
 * squall-admin. Every request carries the admin token, compared in constant time with the
 * configured one (SQ_ADMIN_TOKEN; none configured: the interface is disabled). After every
 * change the service publishes sq.evt.auth (core NATS) so that caches drop what they hold
 * at once: the gateway its verified keys of the subject, the scheduler the namespace's
 * limits. Requests and replies (sq_admin in, a map out; errors as wire errors):
 *
 *   user.create  {subject, namespace?=subject} -> {subject, namespace, key: "uuid:secret"}
 *                a new subject, or a new namespace for an existing one; 409 when the
 *                namespace exists; "whisk.system" is reserved (400)
 *   user.delete  {subject} -> {subject, deleted: true, namespaces: [name]} (keys and
 *                namespaces go with it)
 *   user.get     {subject} -> {subject, blocked, namespaces: [{name, uuid}]} (uuid of the
 *                namespace's key, nil when it has none; never a secret)
 *   user.list    {} -> {subjects: [name]}
 *   user.block, user.unblock {subject} -> {subject, blocked}
 *   key.rotate   {subject, namespace?} -> {subject, namespace, key}: the new key replaces
 *                every key of that namespace
 *   limits.get   {namespace} -> sq_ns_limits
 *   limits.set   {namespace, limits: {name: int | nil (back to the default)}} -> sq_ns_limits
 *
 * Errors: 400 malformed request, unknown op, missing or invalid name, reserved name, bad
 * limit; 401 wrong token; 403 interface disabled; 404 no such subject or namespace; 409
 * exists; 500 database. Events: sq.evt.auth map{op: "key"|"block"|"delete"|"limits",
 * subject, namespace?, blocked? (op "block": the new state, one event per namespace)}; and
 * for every namespace deleted, sq.tenancy.delete.<ns> on the stream SQ_TENANCY
 * (sq_tenancy_event), which the registry and the activation store follow durably to purge
 * the namespace's entities and records. */
#include "auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sq/log.h"
#include "sq/util.h"

typedef struct admin_call {
    auth_ctx *ctx;
    sq_bus_t *bus;
    const sq_admin *req;
    msgpack_zone *z;
    msgpack_packer *pk; /* the reply, when the op succeeds */
    char why[512];      /* the message of a failed op ("" for the status's default) */
} admin_call;

typedef sq_status (*admin_fn)(admin_call *c);

void auth_admin_init(auth_ctx *ctx, const char *token)
{
    ctx->admin_enabled = token != NULL && token[0] != '\0';
    memset(ctx->admin_hash, 0, sizeof ctx->admin_hash);
    if (ctx->admin_enabled)
        crypto_generichash(ctx->admin_hash, AUTH_HASH_LEN, (const unsigned char *)token,
                           strlen(token), NULL, 0);
}

/* Compares the hashes rather than the tokens, so that neither the time nor an early exit
 * on a length mismatch says anything about the configured token. */
static bool token_ok(const auth_ctx *ctx, const char *token)
{
    unsigned char h[AUTH_HASH_LEN];
    crypto_generichash(h, AUTH_HASH_LEN, (const unsigned char *)token, strlen(token), NULL, 0);
    return sodium_memcmp(h, ctx->admin_hash, AUTH_HASH_LEN) == 0;
}

static sq_status fail(admin_call *c, sq_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sq_status fail(admin_call *c, sq_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return st;
}

/* sq.evt.auth {op, subject, namespace?, blocked?}; blocked < 0: absent. */
static void publish_event(admin_call *c, const char *op, const char *subject, const char *ns,
                          int blocked)
{
    sq_auth_event ev = { .op = (char *)op,
                         .subject = (char *)subject,
                         .namespace_ = (char *)ns,
                         .has_blocked = blocked >= 0,
                         .blocked = blocked > 0 };
    msgpack_sbuffer sb;
    msgpack_packer pk;

    sq_proto_buf_init(&sb, &pk);
    sq_auth_event_encode(&ev, &pk);
    if (sq_bus_publish(c->bus, SQ_SUBJ_EVT_AUTH, sb.data, sb.size) != SQ_OK)
        sq_warn("could not publish the %s event of subject \"%s\"", op, subject);
    msgpack_sbuffer_destroy(&sb);
}

/* sq.tenancy.delete.<ns> on SQ_TENANCY: the durable order to purge what namespace ns had up
 * to now (registry entities, activation records). Retried for a few seconds; the id makes a
 * retried publish land once. */
static void publish_purge(admin_call *c, const char *subject, const char *ns, int64_t at)
{
    sq_tenancy_event ev = {
        .op = "delete", .subject = (char *)subject, .namespace_ = (char *)ns, .at = at
    };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char tok[600], subj[640], id[700];
    natsStatus s = NATS_ERR;

    if (sq_subj_token(ns, tok, sizeof tok) != 0)
        return;
    snprintf(subj, sizeof subj, SQ_SUBJ_TENANCY_DELETE_FMT, tok);
    snprintf(id, sizeof id, "%s.%lld", tok, (long long)at);
    sq_proto_buf_init(&sb, &pk);
    sq_tenancy_event_encode(&ev, &pk);
    for (int attempt = 0; attempt < 20; attempt++) {
        natsMsg *m = NULL;
        jsPubAck *ack = NULL;
        jsPubOptions po;
        jsErrCode jerr = 0;
        jsPubOptions_Init(&po);
        po.MsgId = id;
        s = natsMsg_Create(&m, subj, NULL, sb.data, (int)sb.size);
        if (s == NATS_OK)
            s = js_PublishMsg(&ack, sq_bus_js(c->bus), m, &po, &jerr);
        jsPubAck_Destroy(ack);
        natsMsg_Destroy(m);
        if (s == NATS_OK)
            break;
        usleep(250 * 1000);
    }
    if (s != NATS_OK)
        sq_error("could not queue the purge of deleted namespace \"%s\": %s", ns,
                 natsStatus_GetText(s));
    msgpack_sbuffer_destroy(&sb);
}

static void pack_key(admin_call *c, const char *subject, const char *ns, const char *key)
{
    sq_admin_key k = { .subject = (char *)subject, .namespace_ = (char *)ns, .key = (char *)key };
    sq_admin_key_encode(&k, c->pk);
}

/* ---- the ops ---------------------------------------------------------------------------- */

static sq_status op_user_create(admin_call *c)
{
    const char *subject = c->req->subject;
    const char *ns = c->req->namespace_ ? c->req->namespace_ : subject;
    char key[AUTH_KEY_LEN + 1], uuid[AUTH_UUID_LEN + 1];
    unsigned char salt[AUTH_SALT_LEN], hash[AUTH_HASH_LEN];
    sq_status st;

    if (strcmp(subject, AUTH_SYSTEM_NS) == 0 || strcmp(ns, AUTH_SYSTEM_NS) == 0)
        return fail(c, SQ_ERR_BAD_REQUEST, "\"%s\" is reserved", AUTH_SYSTEM_NS);
    auth_key_new(key, uuid, salt, hash);
    st =
        auth_store_user_create(c->ctx->store, subject, ns, uuid, salt, hash, c->why, sizeof c->why);
    sodium_memzero(hash, sizeof hash);
    if (st == SQ_OK) {
        publish_event(c, "key", subject, ns, -1);
        pack_key(c, subject, ns, key);
    }
    sodium_memzero(key, sizeof key);
    return st;
}

static sq_status op_user_delete(admin_call *c)
{
    char **ns = NULL;
    size_t n = 0;
    int64_t at;
    sq_status st;

    if (strcmp(c->req->subject, AUTH_SYSTEM_NS) == 0)
        return fail(c, SQ_ERR_BAD_REQUEST, "subject \"%s\" is reserved", AUTH_SYSTEM_NS);
    st = auth_store_user_delete(c->ctx->store, c->req->subject, c->z, &ns, &n, c->why,
                                sizeof c->why);
    if (st != SQ_OK)
        return st;
    /* one event per namespace, so that the scheduler drops each one's limits; and the
     * durable purge of what each namespace had (a name made again later starts empty) */
    at = sq_now_ms();
    for (size_t i = 0; i < n; i++) {
        publish_event(c, "delete", c->req->subject, ns[i], -1);
        publish_purge(c, c->req->subject, ns[i], at);
    }
    if (n == 0)
        publish_event(c, "delete", c->req->subject, NULL, -1);
    sq_admin_deleted d = {
        .subject = c->req->subject, .deleted = true, .namespaces = ns, .nnamespaces = n
    };
    sq_admin_deleted_encode(&d, c->pk);
    return SQ_OK;
}

static sq_status op_user_get(admin_call *c)
{
    auth_user u;
    sq_status st =
        auth_store_user_get(c->ctx->store, c->req->subject, c->z, &u, c->why, sizeof c->why);
    if (st != SQ_OK)
        return st;
    sq_admin_ns *nss = u.nns > 0 ? msgpack_zone_malloc(c->z, u.nns * sizeof *nss) : NULL;
    if (u.nns > 0 && nss == NULL)
        return SQ_ERR_NOMEM;
    for (size_t i = 0; i < u.nns; i++)
        nss[i] = (sq_admin_ns){ .name = u.ns[i], .uuid = u.uuid[i] }; /* NULL packs nil */
    sq_admin_user d = {
        .subject = c->req->subject, .blocked = u.blocked, .nss = nss, .nnss = u.nns
    };
    sq_admin_user_encode(&d, c->pk);
    return SQ_OK;
}

static sq_status op_user_list(admin_call *c)
{
    char **v = NULL;
    size_t n = 0;
    sq_status st = auth_store_user_list(c->ctx->store, c->z, &v, &n);
    if (st != SQ_OK)
        return st;
    sq_admin_subjects d = { .subjects = v, .nsubjects = n };
    sq_admin_subjects_encode(&d, c->pk);
    return SQ_OK;
}

static sq_status set_blocked(admin_call *c, bool blocked)
{
    auth_user u;
    sq_status st;

    if (strcmp(c->req->subject, AUTH_SYSTEM_NS) == 0)
        return fail(c, SQ_ERR_BAD_REQUEST, "subject \"%s\" is reserved", AUTH_SYSTEM_NS);
    st = auth_store_user_block(c->ctx->store, c->req->subject, blocked, c->why, sizeof c->why);
    if (st != SQ_OK)
        return st;
    /* per namespace, so that each service drops that namespace's cached state (the
     * scheduler and triggers then learn `blocked` from sq.auth.limits) */
    if (auth_store_user_get(c->ctx->store, c->req->subject, c->z, &u, c->why, sizeof c->why) ==
            SQ_OK &&
        u.nns > 0) {
        for (size_t i = 0; i < u.nns; i++)
            publish_event(c, "block", c->req->subject, u.ns[i], blocked);
    } else
        publish_event(c, "block", c->req->subject, NULL, blocked);
    c->why[0] = '\0';
    sq_admin_blocked d = { .subject = c->req->subject, .blocked = blocked };
    sq_admin_blocked_encode(&d, c->pk);
    return SQ_OK;
}

static sq_status op_user_block(admin_call *c)
{
    return set_blocked(c, true);
}
static sq_status op_user_unblock(admin_call *c)
{
    return set_blocked(c, false);
}

static sq_status op_key_rotate(admin_call *c)
{
    char key[AUTH_KEY_LEN + 1], uuid[AUTH_UUID_LEN + 1], *ns = NULL;
    unsigned char salt[AUTH_SALT_LEN], hash[AUTH_HASH_LEN];
    sq_status st;

    auth_key_new(key, uuid, salt, hash);
    st = auth_store_key_rotate(c->ctx->store, c->req->subject, c->req->namespace_, uuid, salt, hash,
                               c->z, &ns, c->why, sizeof c->why);
    sodium_memzero(hash, sizeof hash);
    if (st == SQ_OK) {
        publish_event(c, "key", c->req->subject, ns, -1);
        pack_key(c, c->req->subject, ns, key);
    }
    sodium_memzero(key, sizeof key);
    return st;
}

static sq_status op_limits_get(admin_call *c)
{
    char *json = NULL, *owner = NULL;
    sq_ns_limits lim;
    sq_status st = auth_store_limits_get(c->ctx->store, c->req->namespace_, c->z, &json, &owner);
    if (st == SQ_ERR_NOT_FOUND)
        return fail(c, st, "namespace \"%s\" does not exist", c->req->namespace_);
    if (st != SQ_OK)
        return st;
    auth_limits_effective(json, c->req->namespace_, &lim);
    sq_ns_limits_encode(&lim, c->pk);
    return SQ_OK;
}

static sq_status op_limits_set(admin_call *c)
{
    char *set = NULL, *reset = NULL, *json = NULL, *owner = NULL;
    sq_ns_limits lim;
    sq_status st;

    st = auth_limits_parse_set(&c->req->limits, &set, &reset, c->why, sizeof c->why);
    if (st != SQ_OK)
        return st;
    st = auth_store_limits_set(c->ctx->store, c->req->namespace_, set, reset, c->z, &json, &owner);
    free(set);
    free(reset);
    if (st == SQ_ERR_NOT_FOUND)
        return fail(c, st, "namespace \"%s\" does not exist", c->req->namespace_);
    if (st != SQ_OK)
        return st;
    publish_event(c, "limits", owner, c->req->namespace_, -1);
    auth_limits_effective(json, c->req->namespace_, &lim);
    sq_ns_limits_encode(&lim, c->pk);
    return SQ_OK;
}

/* What each op needs in the request. */
enum { NEED_SUBJECT = 1, NEED_NS = 2, NEED_LIMITS = 4 };

static const struct admin_op {
    const char *name;
    int needs;
    admin_fn fn;
} ops[] = {
    { "user.create", NEED_SUBJECT, op_user_create },
    { "user.delete", NEED_SUBJECT, op_user_delete },
    { "user.get", NEED_SUBJECT, op_user_get },
    { "user.list", 0, op_user_list },
    { "user.block", NEED_SUBJECT, op_user_block },
    { "user.unblock", NEED_SUBJECT, op_user_unblock },
    { "key.rotate", NEED_SUBJECT, op_key_rotate },
    { "limits.get", NEED_NS, op_limits_get },
    { "limits.set", NEED_NS | NEED_LIMITS, op_limits_set },
};

/* Checks what op needs and the names given; SQ_OK or 400 with c->why. */
static sq_status check_request(admin_call *c, const struct admin_op *op)
{
    const sq_admin *r = c->req;

    if ((op->needs & NEED_SUBJECT) && r->subject == NULL)
        return fail(c, SQ_ERR_BAD_REQUEST, "%s needs a subject", op->name);
    if ((op->needs & NEED_NS) && r->namespace_ == NULL)
        return fail(c, SQ_ERR_BAD_REQUEST, "%s needs a namespace", op->name);
    if ((op->needs & NEED_LIMITS) && r->limits.type != MSGPACK_OBJECT_MAP)
        return fail(c, SQ_ERR_BAD_REQUEST, "%s needs a map of limits", op->name);
    if (r->subject != NULL && !sq_name_valid(r->subject))
        return fail(c, SQ_ERR_BAD_NAME, "invalid subject name \"%.256s\"", r->subject);
    if (r->namespace_ != NULL && !sq_name_valid(r->namespace_))
        return fail(c, SQ_ERR_BAD_NAME, "invalid namespace name \"%.256s\"", r->namespace_);
    return SQ_OK;
}

void auth_on_admin(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    auth_ctx *ctx = closure;
    msgpack_zone z;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sq_admin req;
    char err[256] = "";
    const struct admin_op *op = NULL;
    sq_status st;
    admin_call c = { .ctx = ctx, .bus = bus, .req = &req, .z = &z, .pk = &pk };

    msgpack_zone_init(&z, 2048);
    sq_proto_buf_init(&sb, &pk);
    st = sq_admin_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req, err,
                         sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
        goto done;
    }
    if (!ctx->admin_enabled) {
        sq_warn(
            "admin request \"%.64s\" refused: the admin interface is disabled (no SQ_ADMIN_TOKEN)",
            req.op);
        sq_bus_respond_error(bus, msg, SQ_ERR_FORBIDDEN, "admin interface disabled");
        goto done;
    }
    if (!token_ok(ctx, req.token)) {
        sq_warn("admin request \"%.64s\" refused: wrong admin token", req.op);
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAUTHORIZED, "invalid admin token");
        goto done;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(req.op, ops[i].name) == 0)
            op = &ops[i];
    if (op == NULL) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "unknown op \"%.64s\" (known: user.create, user.delete, user.get, "
                             "user.list, user.block, user.unblock, key.rotate, limits.get, "
                             "limits.set)",
                             req.op);
        goto done;
    }
    st = check_request(&c, op);
    if (st == SQ_OK)
        st = op->fn(&c);
    snprintf(err, sizeof err, "%s%s%s%s%s%s", req.subject ? " subject \"" : "",
             req.subject ? req.subject : "", req.subject ? "\"" : "",
             req.namespace_ ? " namespace \"" : "", req.namespace_ ? req.namespace_ : "",
             req.namespace_ ? "\"" : "");
    if (st == SQ_OK) {
        sq_info("admin %s%s: ok", op->name, err);
        sq_bus_respond(bus, msg, sb.data, sb.size);
    } else if (c.why[0] != '\0') {
        sq_info("admin %s%s refused (%d): %s", op->name, err, sq_status_http(st), c.why);
        sq_bus_respond_error(bus, msg, st, "%s", c.why);
    } else {
        sq_error("admin %s%s failed: %s", op->name, err, sq_status_str(st));
        sq_bus_respond_error(bus, msg, st, NULL);
    }
done:
    if (sb.data != NULL)
        sodium_memzero(sb.data, sb.size); /* the reply may hold a new key */
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&z);
}
