/* The registry's message handlers: sq.registry.{put,get,delete,list,resolve,rulestate}.
 * Each decodes its request into a per-message arena, checks the kind and the names,
 * calls the store, answers with the entity (map{items} or map{count} for lists) or a wire
 * error. A successful write announces every change on sq.evt.entity.<ns>.<kind> (a
 * packaged action is named "pkg/name" in its event) *before* it answers: the events leave
 * on the same connection ahead of the reply, so a cache that drains its events before
 * serving (scheduler, triggers) has seen the change by the time the writer's next request
 * arrives. */
#include "registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "sq/log.h"
#include "sq/util.h"

enum kind { K_ACTION, K_PACKAGE, K_TRIGGER, K_RULE, K_UNKNOWN };

static enum kind kind_of(const char *k)
{
    static const char *const names[] = { SQ_KIND_ACTION, SQ_KIND_PACKAGE, SQ_KIND_TRIGGER,
                                         SQ_KIND_RULE };
    for (int i = 0; i < K_UNKNOWN; i++)
        if (strcmp(k, names[i]) == 0)
            return (enum kind)i;
    return K_UNKNOWN;
}

static const char *plural(enum kind k)
{
    static const char *const names[] = { "actions", "packages", "triggers", "rules", "entities" };
    return names[k];
}

void reg_publish_event(sq_bus_t *bus, const char *ns, const char *kind, const char *name,
                       const char *op, const char *version)
{
    char token[3 * 256 + 1], subject[sizeof token + 32];
    msgpack_sbuffer sb;
    msgpack_packer pk;

    if (sq_subj_token(ns, token, sizeof token) != 0) {
        sq_error("could not make a subject token of namespace \"%s\"", ns);
        return;
    }
    snprintf(subject, sizeof subject, SQ_SUBJ_EVT_ENTITY_FMT, token, kind);
    sq_proto_buf_init(&sb, &pk);
    sq_entity_event_encode(&(sq_entity_event){ .ns = (char *)ns,
                                               .kind = (char *)kind,
                                               .name = (char *)name,
                                               .op = (char *)op,
                                               .version = (char *)version },
                           &pk);
    if (sq_bus_publish(bus, subject, sb.data, sb.size) != SQ_OK)
        sq_warn("could not publish %s event of %s \"%s/%s\"", op, kind, ns, name);
    msgpack_sbuffer_destroy(&sb);
}

static void publish_changes(sq_bus_t *bus, const reg_change *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        reg_publish_event(bus, c[i].ns, c[i].kind, c[i].name, c[i].op, c[i].version);
}

/* The reply under construction: a packer into sb, sent by send(). */
typedef struct reply {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} reply;

static msgpack_packer *reply_start(reply *r)
{
    sq_proto_buf_init(&r->sb, &r->pk);
    return &r->pk;
}

static void reply_send(sq_bus_t *bus, natsMsg *msg, reply *r)
{
    sq_bus_respond(bus, msg, r->sb.data, r->sb.size);
    msgpack_sbuffer_destroy(&r->sb);
}

/* Answers a failed store call: the user-facing statuses with their message (the store's,
 * or the default), anything else as reg_wire_failure() says. */
static void respond_error(sq_bus_t *bus, natsMsg *msg, sq_status st, const char *err)
{
    switch (st) {
    case SQ_ERR_NOT_FOUND:
    case SQ_ERR_CONFLICT:
    case SQ_ERR_BAD_REQUEST:
    case SQ_ERR_BAD_NAME:
    case SQ_ERR_FORBIDDEN:
    case SQ_ERR_TOO_LARGE:
    case SQ_ERR_DECODE:
        if (err != NULL && *err)
            sq_bus_respond_error(bus, msg, st, "%s", err);
        else
            sq_bus_respond_error(bus, msg, st, NULL);
        break;
    default: sq_bus_respond_error(bus, msg, reg_wire_failure(st), NULL); break;
    }
}

/* Answers a request that did not decode (st, the decoder's message in err) and returns
 * true; false when st is SQ_OK. */
static bool decode_failed(sq_bus_t *bus, natsMsg *msg, sq_status st, const char *err)
{
    if (st == SQ_OK)
        return false;
    sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
    return true;
}

/* Logs a failure that is the registry's (not the user's) fault. */
static void log_failure(const char *what, const char *kind, const char *ns, const char *name,
                        sq_status st)
{
    switch (st) {
    case SQ_ERR_NOT_FOUND:
    case SQ_ERR_CONFLICT:
    case SQ_ERR_BAD_REQUEST:
    case SQ_ERR_BAD_NAME:
    case SQ_ERR_FORBIDDEN:
    case SQ_ERR_TOO_LARGE: break;
    default:
        sq_error("could not %s %s \"%s/%s\": %s", what, kind, ns, name ? name : "",
                 sq_status_str(st));
    }
}

static bool bad_kind(sq_bus_t *bus, natsMsg *msg, const char *kind)
{
    sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST, "entity kind '%.64s' is not supported",
                         kind);
    return false;
}

/* Checks a request's target: a known kind, a valid namespace and a valid name ("name", or
 * "pkg/name" for an action). Answers the error itself and returns false otherwise. */
static bool target_ok(sq_bus_t *bus, natsMsg *msg, const char *kind_s, const char *ns,
                      const char *name, sq_arena_t *z, enum kind *k, char **pkg, char **base)
{
    sq_status st = SQ_OK;

    if ((*k = kind_of(kind_s)) == K_UNKNOWN) {
        bad_kind(bus, msg, kind_s);
        return false;
    }
    if (!sq_name_valid(ns) || (st = reg_name_split(name, *k == K_ACTION, z, pkg, base)) != SQ_OK) {
        respond_error(bus, msg, st == SQ_ERR_NOMEM ? st : SQ_ERR_BAD_NAME, NULL);
        return false;
    }
    return true;
}

/* ---- put ---------------------------------------------------------------------------------- */

/* Parses and stores the entity of a put of kind k, its answer started in r: the status,
 * whether it was created, and its new version. */
static sq_status put_entity(reg_ctx *ctx, const sq_reg_put *req, enum kind k, char *pkg, char *base,
                            msgpack_zone *z, reply *r, bool *created, const char **version,
                            char *err, size_t errlen)
{
    reg_patch patch;
    reg_entity_patch ep;
    sq_status st = SQ_ERR_BAD_REQUEST;

    switch (k) {
    case K_ACTION: {
        sq_action a;
        if ((st = reg_patch_parse(&req->entity, req->ns, z, &patch, err, errlen)) != SQ_OK ||
            (st = reg_store_put_action(ctx->store, req->ns, pkg, base, req->overwrite, &patch, z,
                                       &a, created, err, errlen)) != SQ_OK)
            break;
        sq_action_encode(&a, reply_start(r));
        *version = a.version;
        break;
    }
    case K_PACKAGE: {
        reg_package p;
        if (strcmp(base, "default") == 0) {
            st = SQ_ERR_BAD_REQUEST;
            snprintf(err, errlen, "Package name 'default' is reserved.");
            break;
        }
        if ((st = reg_package_parse(&req->entity, req->ns, z, &ep, err, errlen)) != SQ_OK ||
            (st = reg_store_put_package(ctx->store, req->ns, base, req->overwrite, &ep, z, &p,
                                        created, err, errlen)) != SQ_OK)
            break;
        reg_package_encode(&p, NULL, 0, false, reply_start(r));
        *version = p.version;
        break;
    }
    case K_TRIGGER: {
        reg_trigger t;
        if ((st = reg_trigger_parse(&req->entity, req->ns, z, &ep, err, errlen)) != SQ_OK ||
            (st = reg_store_put_trigger(ctx->store, req->ns, base, req->overwrite, &ep, z, &t,
                                        created, err, errlen)) != SQ_OK)
            break;
        reg_trigger_encode(&t, NULL, 0, false, reply_start(r));
        *version = t.version;
        break;
    }
    case K_RULE: {
        reg_rule u;
        if ((st = reg_rule_parse(&req->entity, req->ns, z, &ep, err, errlen)) != SQ_OK ||
            (st = reg_store_put_rule(ctx->store, req->ns, base, req->overwrite, &ep, z, &u, created,
                                     err, errlen)) != SQ_OK)
            break;
        reg_rule_encode(&u, NULL, reply_start(r));
        *version = u.version;
        break;
    }
    default: break;
    }
    return st;
}

void reg_on_put(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_reg_put req;
    char err[512] = "", *pkg, *base;
    bool created = false;
    const char *version = NULL;
    enum kind k;
    reply r;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_put_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req, err,
                           sizeof err);
    if (decode_failed(bus, msg, st, err))
        goto done;
    if (!target_ok(bus, msg, req.kind, req.ns, req.name, &z, &k, &pkg, &base))
        goto done;
    st = put_entity(ctx, &req, k, pkg, base, &z, &r, &created, &version, err, sizeof err);
    if (st != SQ_OK) {
        log_failure("store", req.kind, req.ns, req.name, st);
        respond_error(bus, msg, st, err);
        goto done;
    }
    sq_info("%s %s \"%s/%s\" version %s", created ? "created" : "updated", req.kind, req.ns,
            req.name, version);
    reg_publish_event(bus, req.ns, req.kind, req.name, "put", version);
    reply_send(bus, msg, &r);
done:
    msgpack_zone_destroy(&z);
}

/* ---- rulestate ---------------------------------------------------------------------------- */

void reg_on_rulestate(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_reg_put req;
    const char *status;
    char err[256] = "";
    reg_rule u;
    reply r;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_put_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req, err,
                           sizeof err);
    if (decode_failed(bus, msg, st, err))
        goto done;
    if (kind_of(req.kind) != K_RULE) {
        bad_kind(bus, msg, req.kind);
        goto done;
    }
    if (!sq_name_valid(req.ns) || !sq_name_valid(req.name)) {
        respond_error(bus, msg, SQ_ERR_BAD_NAME, NULL);
        goto done;
    }
    if ((st = reg_rule_status_parse(&req.entity, &status, err, sizeof err)) != SQ_OK ||
        (st = reg_store_set_rule_status(ctx->store, req.ns, req.name, status, &z, &u, err,
                                        sizeof err)) != SQ_OK) {
        log_failure("change the status of", "rule", req.ns, req.name, st);
        respond_error(bus, msg, st, err);
        goto done;
    }
    sq_info("rule \"%s/%s\" is %s", req.ns, req.name, u.status);
    reg_rule_encode(&u, NULL, reply_start(&r));
    reg_publish_event(bus, req.ns, SQ_KIND_RULE, req.name, "put", u.version);
    reply_send(bus, msg, &r);
done:
    msgpack_zone_destroy(&z);
}

/* ---- get, resolve ------------------------------------------------------------------------- */

/* get and resolve: resolve always carries the code (the scheduler runs it) and, for a
 * trigger, the trigger's rules (the firing needs them); get shows a trigger's rules when it
 * has any. */
static void get_common(sq_bus_t *bus, natsMsg *msg, reg_ctx *ctx, bool resolve)
{
    msgpack_zone z;
    sq_reg_ref req;
    char err[512] = "", *pkg, *base;
    enum kind k;
    reply r;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_ref_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req, err,
                           sizeof err);
    if (decode_failed(bus, msg, st, err))
        goto done;
    if (!target_ok(bus, msg, req.kind, req.ns, req.name, &z, &k, &pkg, &base))
        goto done;
    if (resolve && (k == K_PACKAGE || k == K_RULE)) {
        bad_kind(bus, msg, req.kind);
        goto done;
    }
    /* shared readers see published packages and their actions, nothing else */
    if (req.shared && (k == K_TRIGGER || k == K_RULE || (k == K_ACTION && pkg == NULL))) {
        respond_error(bus, msg, SQ_ERR_FORBIDDEN, NULL);
        goto done;
    }
    switch (k) {
    case K_ACTION: {
        sq_action a;
        if ((st = reg_store_get_action(ctx->store, req.ns, pkg, base, req.code, req.shared, &z, &a,
                                       err, sizeof err)) == SQ_OK)
            sq_action_encode(&a, reply_start(&r));
        break;
    }
    case K_PACKAGE: {
        reg_package p;
        reg_brief *actions;
        size_t n;
        if ((st = reg_store_get_package(ctx->store, req.ns, base, req.shared, &z, &p, &actions, &n,
                                        err, sizeof err)) == SQ_OK)
            reg_package_encode(&p, actions, n, true, reply_start(&r));
        break;
    }
    case K_TRIGGER: {
        reg_trigger t;
        reg_rule *rules;
        size_t n;
        /* GET shows the rules map as OpenWhisk's trigger document does once a rule links
         * it (a trigger no rule ever named has none); resolve always carries it */
        if ((st = reg_store_get_trigger(ctx->store, req.ns, base, true, &z, &t, &rules, &n)) ==
            SQ_OK)
            reg_trigger_encode(&t, rules, n, resolve || n > 0, reply_start(&r));
        break;
    }
    case K_RULE: {
        reg_rule u;
        if ((st = reg_store_get_rule(ctx->store, req.ns, base, &z, &u)) == SQ_OK)
            reg_rule_encode(&u, NULL, reply_start(&r));
        break;
    }
    default: break;
    }
    if (st != SQ_OK) {
        log_failure("read", req.kind, req.ns, req.name, st);
        respond_error(bus, msg, st, err);
        goto done;
    }
    reply_send(bus, msg, &r);
done:
    msgpack_zone_destroy(&z);
}

void reg_on_get(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    get_common(bus, msg, closure, false);
}

void reg_on_resolve(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    get_common(bus, msg, closure, true);
}

/* ---- delete ------------------------------------------------------------------------------- */

void reg_on_delete(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_reg_ref req;
    char err[512] = "", *pkg, *base;
    reg_change *changes = NULL;
    size_t nchanges = 0;
    const char *version = NULL;
    enum kind k;
    reply r;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_ref_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req, err,
                           sizeof err);
    if (decode_failed(bus, msg, st, err))
        goto done;
    if (!target_ok(bus, msg, req.kind, req.ns, req.name, &z, &k, &pkg, &base))
        goto done;
    if (req.shared) { /* the gateway refuses foreign writes first; never delete for them */
        respond_error(bus, msg, SQ_ERR_FORBIDDEN, NULL);
        goto done;
    }
    switch (k) {
    case K_ACTION: {
        sq_action a;
        if ((st = reg_store_delete_action(ctx->store, req.ns, pkg, base, &z, &a, err,
                                          sizeof err)) == SQ_OK) {
            sq_action_encode(&a, reply_start(&r));
            version = a.version;
        }
        break;
    }
    case K_PACKAGE: {
        reg_package p;
        if ((st = reg_store_delete_package(ctx->store, req.ns, base, req.force, &z, &p, &changes,
                                           &nchanges, err, sizeof err)) == SQ_OK) {
            reg_package_encode(&p, NULL, 0, false, reply_start(&r));
            version = p.version;
        }
        break;
    }
    case K_TRIGGER: {
        reg_trigger t;
        if ((st = reg_store_delete_trigger(ctx->store, req.ns, base, &z, &t, &changes,
                                           &nchanges)) == SQ_OK) {
            reg_trigger_encode(&t, NULL, 0, false, reply_start(&r));
            version = t.version; /* changes: the trigger's rules, now inactive */
        }
        break;
    }
    case K_RULE: {
        reg_rule u;
        /* as OpenWhisk answers: the deleted rule is inactive */
        if ((st = reg_store_delete_rule(ctx->store, req.ns, base, &z, &u)) == SQ_OK) {
            reg_rule_encode(&u, REG_RULE_INACTIVE, reply_start(&r));
            version = u.version;
        }
        break;
    }
    default: break;
    }
    if (st != SQ_OK) {
        log_failure("delete", req.kind, req.ns, req.name, st);
        respond_error(bus, msg, st, err);
        goto done;
    }
    sq_info("deleted %s \"%s/%s\" version %s%s", req.kind, req.ns, req.name, version,
            nchanges && k == K_PACKAGE ? " and its actions" : "");
    publish_changes(bus, changes, nchanges);
    reg_publish_event(bus, req.ns, req.kind, req.name, "delete", version);
    reply_send(bus, msg, &r);
done:
    msgpack_zone_destroy(&z);
}

/* ---- list --------------------------------------------------------------------------------- */

/* Answers a list request whose skip, limit or scope is refused (OpenWhisk's messages) and
 * returns false; sets a limit of 0 to the maximum. */
static bool list_request_ok(sq_bus_t *bus, natsMsg *msg, sq_reg_list *req, enum kind k)
{
    /* OpenWhisk's listSkipOutOfRange / listLimitOutOfRange */
    if (req->skip < 0) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The value '%" PRId64 "' is not greater than or equal to 0 for %s.",
                             req->skip, plural(k));
        return false;
    }
    if (req->limit < 0 || req->limit > REG_LIST_MAX) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The value '%" PRId64 "' is not in the range of 0 to %d for %s.",
                             req->limit, REG_LIST_MAX, plural(k));
        return false;
    }
    if (req->limit == 0)
        req->limit = REG_LIST_MAX; /* "a value of 0 sets the limit to the maximum" */
    if (req->shared && (k == K_TRIGGER || k == K_RULE)) {
        respond_error(bus, msg, SQ_ERR_FORBIDDEN, NULL);
        return false;
    }
    return true;
}

/* The page of entities of kind k a list asks for (or their count). */
static sq_status list_entities(reg_ctx *ctx, const sq_reg_list *req, enum kind k, const char *ns,
                               const char *pkg, msgpack_zone *z, void **items, size_t *n,
                               int64_t *total, char *err, size_t errlen)
{
    sq_status st = SQ_ERR_BAD_REQUEST;

    switch (k) {
    case K_ACTION:
        st = reg_store_list_actions(ctx->store, ns, pkg, req->shared, req->skip, req->limit,
                                    req->count, z, (sq_action **)items, n, total, err, errlen);
        break;
    case K_PACKAGE:
        st = reg_store_list_packages(ctx->store, ns, req->public_, req->shared, req->skip,
                                     req->limit, req->count, z, (reg_package **)items, n, total);
        break;
    case K_TRIGGER:
        st = reg_store_list_triggers(ctx->store, ns, req->skip, req->limit, req->count, z,
                                     (reg_trigger **)items, n, total);
        break;
    case K_RULE:
        st = reg_store_list_rules(ctx->store, ns, req->skip, req->limit, req->count, z,
                                  (reg_rule **)items, n, total);
        break;
    default: break;
    }
    return st;
}

void reg_on_list(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_reg_list req;
    char err[512] = "", *ns, *pkg = NULL;
    void *items = NULL;
    size_t n = 0;
    int64_t total = 0;
    enum kind k;
    reply r;
    msgpack_packer *pk;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_list_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req, err,
                            sizeof err);
    if (decode_failed(bus, msg, st, err))
        goto done;
    if ((k = kind_of(req.kind)) == K_UNKNOWN) {
        bad_kind(bus, msg, req.kind);
        goto done;
    }
    /* ns is "ns", or "ns/pkg" to list the actions of one package */
    if ((st = reg_name_split(req.ns, k == K_ACTION, &z, &pkg, &ns)) != SQ_OK) {
        respond_error(bus, msg, st == SQ_ERR_NOMEM ? st : SQ_ERR_BAD_NAME, NULL);
        goto done;
    }
    if (pkg != NULL) { /* reg_name_split gave "pkg" first and "name" second */
        char *t = pkg;
        pkg = ns;
        ns = t;
    }
    if (!list_request_ok(bus, msg, &req, k))
        goto done;
    st = list_entities(ctx, &req, k, ns, pkg, &z, &items, &n, &total, err, sizeof err);
    if (st != SQ_OK) {
        log_failure("list", plural(k), req.ns, NULL, st);
        respond_error(bus, msg, st, err);
        goto done;
    }
    pk = reply_start(&r);
    if (req.count) {
        sq_count c = { .count = total };
        sq_count_encode(&c, pk);
    } else {
        sq_items_begin(pk, n);
        for (size_t i = 0; i < n; i++) {
            switch (k) {
            case K_ACTION: sq_action_encode(&((sq_action *)items)[i], pk); break;
            case K_PACKAGE:
                reg_package_encode(&((reg_package *)items)[i], NULL, 0, false, pk);
                break;
            case K_TRIGGER:
                reg_trigger_encode(&((reg_trigger *)items)[i], NULL, 0, false, pk);
                break;
            default: reg_rule_encode(&((reg_rule *)items)[i], NULL, pk); break;
            }
        }
    }
    reply_send(bus, msg, &r);
done:
    msgpack_zone_destroy(&z);
}
