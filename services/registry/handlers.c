/* The registry's message handlers: sq.registry.{put,get,delete,list,resolve}. Each decodes
 * its request into a per-message arena, checks names and kinds, calls the store, answers
 * with the entity (or map{items}) or a wire error, and after a successful put or delete
 * announces the change on sq.evt.entity.<ns>.action. */
#include "registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "sq/log.h"
#include "sq/util.h"

#define KIND_ACTION "action"

static void respond_action(sq_bus_t *bus, natsMsg *msg, const sq_action *a)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sq_proto_buf_init(&sb, &pk);
    sq_action_encode(a, &pk);
    sq_bus_respond(bus, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* Answers a failed store call: 404, 409 and 400 as they are, anything else as 500. */
static void respond_store_error(sq_bus_t *bus, natsMsg *msg, sq_status st, const char *err)
{
    switch (st) {
    case SQ_ERR_NOT_FOUND:
    case SQ_ERR_CONFLICT:
        sq_bus_respond_error(bus, msg, st, NULL);
        break;
    case SQ_ERR_BAD_REQUEST:
        sq_bus_respond_error(bus, msg, st, "%s", err && *err ? err : sq_status_str(st));
        break;
    default:
        sq_bus_respond_error(bus, msg, st == SQ_ERR_NOMEM ? SQ_ERR_NOMEM : SQ_ERR_DB, NULL);
        break;
    }
}

/* Checks kind, namespace and name of a request; answers the error and returns false. */
static bool check_ref(sq_bus_t *bus, natsMsg *msg, const char *kind, const char *ns,
                      const char *name)
{
    if (strcmp(kind, KIND_ACTION) != 0) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST, "entity kind '%.64s' is not supported",
                             kind);
        return false;
    }
    if (!sq_name_valid(ns) || (name != NULL && !sq_name_valid(name))) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_NAME, NULL);
        return false;
    }
    return true;
}

static void publish_event(sq_bus_t *bus, const char *ns, const char *name, const char *op,
                          const char *version)
{
    char token[3 * 256 + 1], subject[sizeof token + 32];
    msgpack_sbuffer sb;
    msgpack_packer pk;

    if (sq_subj_token(ns, token, sizeof token) != 0) {
        sq_error("could not make a subject token of namespace \"%s\"", ns);
        return;
    }
    snprintf(subject, sizeof subject, SQ_SUBJ_EVT_ENTITY_FMT, token, KIND_ACTION);
    sq_proto_buf_init(&sb, &pk);
    sq_entity_event_encode(&(sq_entity_event){ .ns = (char *)ns, .kind = KIND_ACTION,
                                               .name = (char *)name, .op = (char *)op,
                                               .version = (char *)version },
                           &pk);
    if (sq_bus_publish(bus, subject, sb.data, sb.size) != SQ_OK)
        sq_warn("could not publish %s event of action \"%s/%s\"", op, ns, name);
    msgpack_sbuffer_destroy(&sb);
}

void reg_on_put(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_reg_put req;
    reg_patch patch;
    sq_action a;
    bool created = false;
    char err[512] = "";
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_put_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req,
                           err, sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
        goto done;
    }
    if (!check_ref(bus, msg, req.kind, req.ns, req.name))
        goto done;
    if ((st = reg_patch_parse(&req.entity, &z, &patch, err, sizeof err)) != SQ_OK) {
        respond_store_error(bus, msg, st, err);
        goto done;
    }
    st = reg_store_put(ctx->store, req.ns, req.name, req.overwrite, &patch, &z, &a, &created,
                       err, sizeof err);
    if (st != SQ_OK) {
        if (st != SQ_ERR_CONFLICT && st != SQ_ERR_BAD_REQUEST)
            sq_error("could not store action \"%s/%s\": %s", req.ns, req.name, sq_status_str(st));
        respond_store_error(bus, msg, st, err);
        goto done;
    }
    sq_info("%s action \"%s/%s\" version %s", created ? "created" : "updated", req.ns, req.name,
            a.version);
    respond_action(bus, msg, &a);
    publish_event(bus, req.ns, req.name, "put", a.version);
done:
    msgpack_zone_destroy(&z);
}

/* get and resolve: resolve always carries the code (the scheduler runs it). */
static void get_common(sq_bus_t *bus, natsMsg *msg, reg_ctx *ctx, bool resolve)
{
    msgpack_zone z;
    sq_reg_ref req;
    sq_action a;
    char err[256] = "";
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_ref_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req,
                           err, sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
        goto done;
    }
    if (!check_ref(bus, msg, req.kind, req.ns, req.name))
        goto done;
    st = reg_store_get(ctx->store, req.ns, req.name, resolve || req.code, &z, &a);
    if (st != SQ_OK) {
        if (st != SQ_ERR_NOT_FOUND)
            sq_error("could not read action \"%s/%s\": %s", req.ns, req.name, sq_status_str(st));
        respond_store_error(bus, msg, st, NULL);
        goto done;
    }
    respond_action(bus, msg, &a);
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

void reg_on_delete(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_reg_ref req;
    sq_action a;
    char err[256] = "";
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_ref_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req,
                           err, sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
        goto done;
    }
    if (!check_ref(bus, msg, req.kind, req.ns, req.name))
        goto done;
    st = reg_store_delete(ctx->store, req.ns, req.name, &z, &a);
    if (st != SQ_OK) {
        if (st != SQ_ERR_NOT_FOUND)
            sq_error("could not delete action \"%s/%s\": %s", req.ns, req.name, sq_status_str(st));
        respond_store_error(bus, msg, st, NULL);
        goto done;
    }
    sq_info("deleted action \"%s/%s\" version %s", req.ns, req.name, a.version);
    respond_action(bus, msg, &a);
    publish_event(bus, req.ns, req.name, "delete", a.version);
done:
    msgpack_zone_destroy(&z);
}

void reg_on_list(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    reg_ctx *ctx = closure;
    msgpack_zone z;
    sq_reg_list req;
    sq_action *items;
    size_t n;
    char err[256] = "";
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = sq_reg_list_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req,
                            err, sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
        goto done;
    }
    if (!check_ref(bus, msg, req.kind, req.ns, NULL))
        goto done;
    /* OpenWhisk's listSkipOutOfRange / listLimitOutOfRange */
    if (req.skip < 0) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The value '%" PRId64 "' is not greater than or equal to 0 for actions.",
                             req.skip);
        goto done;
    }
    if (req.limit < 0 || req.limit > REG_LIST_MAX) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The value '%" PRId64 "' is not in the range of 0 to %d for actions.",
                             req.limit, REG_LIST_MAX);
        goto done;
    }
    if (req.limit == 0)
        req.limit = REG_LIST_DEFAULT;
    st = reg_store_list(ctx->store, req.ns, req.skip, req.limit, &z, &items, &n);
    if (st != SQ_OK) {
        sq_error("could not list actions of \"%s\": %s", req.ns, sq_status_str(st));
        respond_store_error(bus, msg, st, NULL);
        goto done;
    }
    sq_proto_buf_init(&sb, &pk);
    msgpack_pack_map(&pk, 1);
    sq_mp_pack_str(&pk, "items");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        sq_action_encode(&items[i], &pk);
    sq_bus_respond(bus, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
done:
    msgpack_zone_destroy(&z);
}
