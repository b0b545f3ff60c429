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
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "sq/log.h"
#include "sq/util.h"

/* What the handlers need of each kind of entity, by reg_kind. */
typedef struct kind_ops {
    const char *name, *plural;
    size_t elem, patch_size; /* the kind's struct and PUT patch (reg_patch, reg_entity_patch) */
    size_t version_off;      /* offsetof its version (char *) */
} kind_ops;

static const kind_ops KINDS[REG_NKINDS] = {
    [REG_ACTION] = { SQ_KIND_ACTION, "actions", sizeof(sq_action), sizeof(reg_patch),
                     offsetof(sq_action, version) },
    [REG_PACKAGE] = { SQ_KIND_PACKAGE, "packages", sizeof(reg_package), sizeof(reg_entity_patch),
                      offsetof(reg_package, version) },
    [REG_TRIGGER] = { SQ_KIND_TRIGGER, "triggers", sizeof(reg_trigger), sizeof(reg_entity_patch),
                      offsetof(reg_trigger, version) },
    [REG_RULE] = { SQ_KIND_RULE, "rules", sizeof(reg_rule), sizeof(reg_entity_patch),
                   offsetof(reg_rule, version) },
};

/* A PUT body of kind k into its patch. */
static sq_status parse_patch(reg_kind k, const msgpack_object *e, const char *ns, sq_arena_t *ar,
                             void *patch, char *err, size_t errlen)
{
    switch (k) {
    case REG_ACTION: return reg_patch_parse(e, ns, ar, patch, err, errlen);
    case REG_PACKAGE: return reg_package_parse(e, ns, ar, patch, err, errlen);
    case REG_TRIGGER: return reg_trigger_parse(e, ns, ar, patch, err, errlen);
    default: return reg_rule_parse(e, ns, ar, patch, err, errlen);
    }
}

/* Entity e of kind k as a put, a list (and but for a rule a delete) answers it. */
static void encode_entity(reg_kind k, const void *e, msgpack_packer *pk)
{
    switch (k) {
    case REG_ACTION: sq_action_encode(e, pk); break;
    case REG_PACKAGE: reg_package_encode(e, NULL, 0, false, pk); break;
    case REG_TRIGGER: reg_trigger_encode(e, NULL, 0, false, pk); break;
    default: reg_rule_encode(e, NULL, pk); break;
    }
}

#define K_UNKNOWN REG_NKINDS

static reg_kind kind_of(const char *k)
{
    for (int i = 0; i < REG_NKINDS; i++)
        if (strcmp(k, KINDS[i].name) == 0)
            return (reg_kind)i;
    return K_UNKNOWN;
}

static const char *version_of(reg_kind k, const void *e)
{
    return *(char *const *)((const char *)e + KINDS[k].version_off);
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

/* One request being answered: its message, its arena, the error text for the user and the
 * reply under construction (a packer into sb). */
typedef struct call {
    sq_bus_t *bus;
    natsMsg *msg;
    reg_ctx *ctx;
    msgpack_zone z;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    bool answered; /* an error already went back */
    char err[512];
} call;

/* A message's decoder called on the request of c, into req. */
#define DECODE(type, c, req)                                                                       \
    type##_decode(natsMsg_GetData((c)->msg), (size_t)natsMsg_GetDataLength((c)->msg), &(c)->z,     \
                  (req), (c)->err, sizeof(c)->err)

static void call_init(call *c, sq_bus_t *bus, natsMsg *msg, void *closure)
{
    c->bus = bus;
    c->msg = msg;
    c->ctx = closure;
    c->answered = false;
    c->err[0] = '\0';
    msgpack_zone_init(&c->z, 4096);
    sq_proto_buf_init(&c->sb, &c->pk);
}

/* The statuses that are the request's fault (answered as they are, never logged). */
static bool users_fault(sq_status st)
{
    switch (st) {
    case SQ_ERR_NOT_FOUND:
    case SQ_ERR_CONFLICT:
    case SQ_ERR_BAD_REQUEST:
    case SQ_ERR_BAD_NAME:
    case SQ_ERR_FORBIDDEN:
    case SQ_ERR_TOO_LARGE:
    case SQ_ERR_DECODE: return true;
    default: return false;
    }
}

/* Answers a failed store call: the user-facing statuses with their message (the store's,
 * or the default), anything else as reg_wire_failure() says. */
static void respond_error(call *c, sq_status st)
{
    c->answered = true;
    if (!users_fault(st))
        sq_bus_respond_error(c->bus, c->msg, reg_wire_failure(st), NULL);
    else if (c->err[0])
        sq_bus_respond_error(c->bus, c->msg, st, "%s", c->err);
    else
        sq_bus_respond_error(c->bus, c->msg, st, NULL);
}

/* Answers a request that did not decode (st, the decoder's message in err) and returns
 * true; false when st is SQ_OK. */
static bool decode_failed(call *c, sq_status st)
{
    if (st == SQ_OK)
        return false;
    sq_bus_respond_error(c->bus, c->msg, SQ_ERR_DECODE, "%s",
                         c->err[0] ? c->err : sq_status_str(st));
    c->answered = true;
    return true;
}

/* Ends the request: sends the reply when st is SQ_OK, else (unless already answered) answers
 * the failure, logged when it is the registry's (not the user's) fault: "could not <what>
 * <kind> ns/name". */
static void call_end(call *c, sq_status st, const char *what, const char *kind, const char *ns,
                     const char *name)
{
    if (st == SQ_OK && !c->answered) {
        sq_bus_respond(c->bus, c->msg, c->sb.data, c->sb.size);
    } else if (!c->answered) {
        if (!users_fault(st))
            sq_error("could not %s %s \"%s/%s\": %s", what, kind, ns, name ? name : "",
                     sq_status_str(st));
        respond_error(c, st);
    }
    msgpack_sbuffer_destroy(&c->sb);
    msgpack_zone_destroy(&c->z);
}

static bool bad_kind(call *c, const char *kind)
{
    sq_bus_respond_error(c->bus, c->msg, SQ_ERR_BAD_REQUEST, "entity kind '%.64s' is not supported",
                         kind);
    c->answered = true;
    return false;
}

/* Checks a request's target: a known kind, a valid namespace and a valid name ("name", or
 * "pkg/name" for an action). Answers the error itself and returns false otherwise. */
static bool target_ok(call *c, const char *kind_s, const char *ns, const char *name, reg_kind *k,
                      char **pkg, char **base)
{
    sq_status st = SQ_OK;

    if ((*k = kind_of(kind_s)) == K_UNKNOWN)
        return bad_kind(c, kind_s);
    if (!sq_name_valid(ns) ||
        (st = reg_name_split(name, *k == REG_ACTION, &c->z, pkg, base)) != SQ_OK) {
        respond_error(c, st == SQ_ERR_NOMEM ? st : SQ_ERR_BAD_NAME);
        return false;
    }
    return true;
}

/* Decodes a get, resolve or delete request into *req and checks its target (see
 * target_ok); false when the request was answered (*st: the decoder's status). */
static bool ref_request(call *c, sq_reg_ref *req, reg_kind *k, char **pkg, char **base,
                        sq_status *st)
{
    return !decode_failed(c, *st = DECODE(sq_reg_ref, c, req)) &&
           target_ok(c, req->kind, req->ns, req->name, k, pkg, base);
}

/* ---- put ---------------------------------------------------------------------------------- */

/* Parses and stores the entity of a put of kind k and packs it as the answer: whether it was
 * created, and its new version. */
static sq_status put_entity(call *c, const sq_reg_put *req, reg_kind k, char *pkg, char *base,
                            bool *created, const char **version)
{
    const kind_ops *o = &KINDS[k];
    void *patch = msgpack_zone_malloc(&c->z, o->patch_size);
    void *out = msgpack_zone_malloc(&c->z, o->elem);
    sq_status st;

    if (patch == NULL || out == NULL)
        return SQ_ERR_NOMEM;
    if (k == REG_PACKAGE && strcmp(base, "default") == 0)
        return sq_errf(SQ_ERR_BAD_REQUEST, c->err, sizeof c->err,
                       "Package name 'default' is reserved.");
    if ((st = parse_patch(k, &req->entity, req->ns, &c->z, patch, c->err, sizeof c->err)) !=
            SQ_OK ||
        (st = reg_store_put(c->ctx->store, k, req->ns, pkg, base, req->overwrite, patch, &c->z, out,
                            created, c->err, sizeof c->err)) != SQ_OK)
        return st;
    encode_entity(k, out, &c->pk);
    *version = version_of(k, out);
    return SQ_OK;
}

void reg_on_put(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    call c;
    sq_reg_put req = { 0 };
    char *pkg, *base;
    bool created = false;
    const char *version = NULL;
    reg_kind k;
    sq_status st;

    call_init(&c, bus, msg, closure);
    if (decode_failed(&c, st = DECODE(sq_reg_put, &c, &req)) ||
        !target_ok(&c, req.kind, req.ns, req.name, &k, &pkg, &base))
        goto done;
    if ((st = put_entity(&c, &req, k, pkg, base, &created, &version)) == SQ_OK) {
        sq_info("%s %s \"%s/%s\" version %s", created ? "created" : "updated", req.kind, req.ns,
                req.name, version);
        reg_publish_event(bus, req.ns, req.kind, req.name, "put", version);
    }
done:
    call_end(&c, st, "store", req.kind, req.ns, req.name);
}

/* ---- rulestate ---------------------------------------------------------------------------- */

void reg_on_rulestate(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    call c;
    sq_reg_put req = { 0 };
    const char *status;
    reg_rule u;
    sq_status st;

    call_init(&c, bus, msg, closure);
    if (decode_failed(&c, st = DECODE(sq_reg_put, &c, &req)))
        goto done;
    if (kind_of(req.kind) != REG_RULE) {
        bad_kind(&c, req.kind);
        goto done;
    }
    if (!sq_name_valid(req.ns) || !sq_name_valid(req.name)) {
        respond_error(&c, SQ_ERR_BAD_NAME);
        goto done;
    }
    if ((st = reg_rule_status_parse(&req.entity, &status, c.err, sizeof c.err)) != SQ_OK ||
        (st = reg_store_set_rule_status(c.ctx->store, req.ns, req.name, status, &c.z, &u, c.err,
                                        sizeof c.err)) != SQ_OK)
        goto done;
    sq_info("rule \"%s/%s\" is %s", req.ns, req.name, u.status);
    reg_rule_encode(&u, NULL, &c.pk);
    reg_publish_event(bus, req.ns, SQ_KIND_RULE, req.name, "put", u.version);
done:
    call_end(&c, st, "change the status of", "rule", req.ns, req.name);
}

/* ---- get, resolve ------------------------------------------------------------------------- */

/* Reads entity base (pkg/base for an action) of kind k and packs it: resolve always carries
 * the code (the scheduler runs it) and, for a trigger, the trigger's rules (the firing needs
 * them); get shows a trigger's rules when it has any. */
static sq_status get_entity(call *c, const sq_reg_ref *req, reg_kind k, char *pkg, char *base,
                            bool resolve)
{
    reg_store_t *s = c->ctx->store;
    sq_status st = SQ_ERR_BAD_REQUEST;
    union {
        sq_action a;
        reg_package p;
        reg_trigger t;
        reg_rule u;
    } e;
    reg_brief *actions;
    reg_rule *rules;
    size_t n;

    switch (k) {
    case REG_ACTION:
        if ((st = reg_store_get_action(s, req->ns, pkg, base, req->code, req->shared, &c->z, &e.a,
                                       c->err, sizeof c->err)) == SQ_OK)
            sq_action_encode(&e.a, &c->pk);
        break;
    case REG_PACKAGE:
        if ((st = reg_store_get_package(s, req->ns, base, req->shared, &c->z, &e.p, &actions, &n,
                                        c->err, sizeof c->err)) == SQ_OK)
            reg_package_encode(&e.p, actions, n, true, &c->pk);
        break;
    case REG_TRIGGER:
        /* GET shows the rules map as OpenWhisk's trigger document does once a rule links
         * it (a trigger no rule ever named has none); resolve always carries it */
        if ((st = reg_store_get_trigger(s, req->ns, base, true, &c->z, &e.t, &rules, &n)) == SQ_OK)
            reg_trigger_encode(&e.t, rules, n, resolve || n > 0, &c->pk);
        break;
    case REG_RULE:
        if ((st = reg_store_get_rule(s, req->ns, base, &c->z, &e.u)) == SQ_OK)
            reg_rule_encode(&e.u, NULL, &c->pk);
        break;
    default: break;
    }
    return st;
}

static void get_common(sq_bus_t *bus, natsMsg *msg, void *closure, bool resolve)
{
    call c;
    sq_reg_ref req = { 0 };
    char *pkg, *base;
    reg_kind k;
    sq_status st;

    call_init(&c, bus, msg, closure);
    if (!ref_request(&c, &req, &k, &pkg, &base, &st))
        goto done;
    if (resolve && (k == REG_PACKAGE || k == REG_RULE)) {
        bad_kind(&c, req.kind);
        goto done;
    }
    /* shared readers see published packages and their actions, nothing else */
    if (req.shared && (k == REG_TRIGGER || k == REG_RULE || (k == REG_ACTION && pkg == NULL))) {
        respond_error(&c, SQ_ERR_FORBIDDEN);
        goto done;
    }
    st = get_entity(&c, &req, k, pkg, base, resolve);
done:
    call_end(&c, st, "read", req.kind, req.ns, req.name);
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

/* Deletes entity base (pkg/base for an action) of kind k into *e (the kind's struct) and
 * packs it; *changes: what the delete changed besides (a package's actions, a trigger's
 * rules, now inactive). */
static sq_status delete_entity(call *c, const sq_reg_ref *req, reg_kind k, char *pkg, char *base,
                               void *e, reg_change **changes, size_t *n)
{
    reg_store_t *s = c->ctx->store;
    sq_status st = SQ_ERR_BAD_REQUEST;

    switch (k) {
    case REG_ACTION:
        st = reg_store_delete_action(s, req->ns, pkg, base, &c->z, e, c->err, sizeof c->err);
        break;
    case REG_PACKAGE:
        st = reg_store_delete_package(s, req->ns, base, req->force, &c->z, e, changes, n, c->err,
                                      sizeof c->err);
        break;
    case REG_TRIGGER: st = reg_store_delete_trigger(s, req->ns, base, &c->z, e, changes, n); break;
    case REG_RULE:
        /* as OpenWhisk answers: the deleted rule is inactive */
        if ((st = reg_store_delete_rule(s, req->ns, base, &c->z, e)) == SQ_OK)
            reg_rule_encode(e, REG_RULE_INACTIVE, &c->pk);
        return st;
    default: return st;
    }
    if (st == SQ_OK)
        encode_entity(k, e, &c->pk);
    return st;
}

void reg_on_delete(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    call c;
    sq_reg_ref req = { 0 };
    char *pkg, *base;
    reg_change *changes = NULL;
    size_t nchanges = 0;
    void *e;
    reg_kind k;
    sq_status st;

    call_init(&c, bus, msg, closure);
    if (!ref_request(&c, &req, &k, &pkg, &base, &st))
        goto done;
    if (req.shared) { /* the gateway refuses foreign writes first; never delete for them */
        respond_error(&c, SQ_ERR_FORBIDDEN);
        goto done;
    }
    if ((e = msgpack_zone_malloc(&c.z, KINDS[k].elem)) == NULL)
        st = SQ_ERR_NOMEM;
    else if ((st = delete_entity(&c, &req, k, pkg, base, e, &changes, &nchanges)) == SQ_OK) {
        const char *version = version_of(k, e);
        sq_info("deleted %s \"%s/%s\" version %s%s", req.kind, req.ns, req.name, version,
                nchanges && k == REG_PACKAGE ? " and its actions" : "");
        publish_changes(bus, changes, nchanges);
        reg_publish_event(bus, req.ns, req.kind, req.name, "delete", version);
    }
done:
    call_end(&c, st, "delete", req.kind, req.ns, req.name);
}

/* ---- list --------------------------------------------------------------------------------- */

/* Answers a list request whose skip, limit or scope is refused (OpenWhisk's messages) and
 * returns false; sets a limit of 0 to the maximum. */
static bool list_request_ok(call *c, sq_reg_list *req, reg_kind k)
{
    /* OpenWhisk's listSkipOutOfRange / listLimitOutOfRange */
    if (req->skip < 0) {
        sq_bus_respond_error(c->bus, c->msg, SQ_ERR_BAD_REQUEST,
                             "The value '%" PRId64 "' is not greater than or equal to 0 for %s.",
                             req->skip, KINDS[k].plural);
        c->answered = true;
        return false;
    }
    if (req->limit < 0 || req->limit > REG_LIST_MAX) {
        sq_bus_respond_error(c->bus, c->msg, SQ_ERR_BAD_REQUEST,
                             "The value '%" PRId64 "' is not in the range of 0 to %d for %s.",
                             req->limit, REG_LIST_MAX, KINDS[k].plural);
        c->answered = true;
        return false;
    }
    if (req->limit == 0)
        req->limit = REG_LIST_MAX; /* "a value of 0 sets the limit to the maximum" */
    if (req->shared && (k == REG_TRIGGER || k == REG_RULE)) {
        respond_error(c, SQ_ERR_FORBIDDEN);
        return false;
    }
    return true;
}

/* The page of entities of kind k a list asks for (or their count), packed. */
static sq_status list_entities(call *c, const sq_reg_list *req, reg_kind k, const char *ns,
                               const char *pkg)
{
    reg_list_q q = { .ns = ns,
                     .pkg = pkg,
                     .shared = req->shared,
                     .public_ = req->public_,
                     .count = req->count,
                     .skip = req->skip,
                     .limit = req->limit };
    void *items = NULL;
    size_t n = 0;
    int64_t total = 0;
    sq_status st;

    st = reg_store_list(c->ctx->store, k, &q, &c->z, &items, &n, &total, c->err, sizeof c->err);
    if (st != SQ_OK)
        return st;
    if (req->count) {
        sq_count_encode(&(sq_count){ .count = total }, &c->pk);
        return SQ_OK;
    }
    sq_items_begin(&c->pk, n);
    for (size_t i = 0; i < n; i++)
        encode_entity(k, (const char *)items + KINDS[k].elem * i, &c->pk);
    return SQ_OK;
}

void reg_on_list(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    call c;
    sq_reg_list req = { 0 };
    char *ns, *pkg = NULL;
    reg_kind k = K_UNKNOWN;
    sq_status st;

    call_init(&c, bus, msg, closure);
    if (decode_failed(&c, st = DECODE(sq_reg_list, &c, &req)))
        goto done;
    if ((k = kind_of(req.kind)) == K_UNKNOWN) {
        bad_kind(&c, req.kind);
        goto done;
    }
    /* ns is "ns", or "ns/pkg" to list the actions of one package */
    if ((st = reg_name_split(req.ns, k == REG_ACTION, &c.z, &pkg, &ns)) != SQ_OK) {
        respond_error(&c, st == SQ_ERR_NOMEM ? st : SQ_ERR_BAD_NAME);
        goto done;
    }
    if (pkg != NULL) { /* reg_name_split gave "pkg" first and "name" second */
        char *t = pkg;
        pkg = ns;
        ns = t;
    }
    if (list_request_ok(&c, &req, k))
        st = list_entities(&c, &req, k, ns, pkg);
done:
    call_end(&c, st, "list", k == K_UNKNOWN ? "entities" : KINDS[k].plural, req.ns, NULL);
}
