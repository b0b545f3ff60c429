/* The auth service's hot-path handlers (sq.auth.verify, sq.auth.limits) and the bootstrap
 * run at start (the guest subject with its key, the system namespace). The admin
 * interface is in admin.c, the SQL in store.c, the key format and hashing in keys.c. */
#include "auth.h"

#include <string.h>
#include "sq/log.h"
#include "sq/util.h"

#define GUEST_SUBJECT "guest"

static void reply_identity(sq_bus_t *bus, natsMsg *msg, const sq_identity *id)
{
    SQ_RESPOND(bus, msg, sq_identity, id);
}

void auth_on_verify(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    auth_ctx *ctx = closure;
    msgpack_zone z;
    sq_auth_verify req;
    auth_key_row row;
    char uuid[AUTH_UUID_LEN + 1], err[256] = "";
    const char *secret;
    sq_status st;

    msgpack_zone_init(&z, 1024);
    st = sq_auth_verify_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req,
                               err, sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
        goto done;
    }
    if (!auth_key_parse(req.key, uuid, &secret)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAUTHORIZED, NULL);
        goto done;
    }
    st = auth_store_lookup(ctx->store, uuid, &z, &row);
    if (st == SQ_ERR_NOT_FOUND) {
        auth_key_check_dummy(secret);
        auth_stale_drop(uuid);
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAUTHORIZED, NULL);
        goto done;
    }
    if (st != SQ_OK) {
        /* PostgreSQL is unreachable: a key verified lately is still good (stale.c); any
         * other is 503, to be retried, not 401 */
        sq_identity id = { .uuid = uuid };
        if (auth_stale_verify(uuid, secret, &z, &id)) {
            reply_identity(bus, msg, &id);
            goto done;
        }
        sq_error("could not verify key \"%s\": %s", uuid, sq_status_str(st));
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAVAILABLE, "the key store is unavailable");
        goto done;
    }
    if (!auth_key_check(row.salt, row.hash, secret)) {
        auth_stale_drop(uuid);
        sq_bus_respond_error(bus, msg, SQ_ERR_UNAUTHORIZED, NULL);
        goto done;
    }
    /* Only after the secret matched: a wrong key must not learn that the subject is
     * blocked. */
    if (row.blocked) {
        auth_stale_drop(uuid);
        sq_info("key \"%s\" of blocked subject \"%s\" refused", uuid, row.subject);
        sq_bus_respond_error(bus, msg, SQ_ERR_FORBIDDEN, NULL);
        goto done;
    }
    auth_stale_put(uuid, &row);
    reply_identity(bus, msg,
                   &(sq_identity){ .subject = row.subject,
                                   .namespace_ = row.namespace_,
                                   .uuid = uuid,
                                   .namespaces = row.namespaces,
                                   .nnamespaces = row.nnamespaces });
done:
    msgpack_zone_destroy(&z);
}

void auth_on_limits(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    auth_ctx *ctx = closure;
    msgpack_zone z;
    sq_ns_ref req;
    sq_ns_limits lim;
    char err[256] = "", *json = NULL, *owner = NULL;
    bool blocked = false;
    sq_status st;

    msgpack_zone_init(&z, 1024);
    st = sq_ns_ref_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &req, err,
                          sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, SQ_ERR_DECODE, "%s", err[0] ? err : sq_status_str(st));
        goto done;
    }
    if (!sq_name_valid(req.ns)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_NAME, "invalid namespace name \"%.256s\"",
                             req.ns);
        goto done;
    }
    st = auth_store_ns_state(ctx->store, req.ns, &z, &json, &owner, &blocked);
    if (st == SQ_ERR_NOT_FOUND) {
        sq_bus_respond_error(bus, msg, SQ_ERR_NOT_FOUND, "namespace \"%s\" does not exist", req.ns);
        goto done;
    }
    if (st != SQ_OK) {
        sq_error("could not read the limits of namespace \"%s\": %s", req.ns, sq_status_str(st));
        sq_bus_respond_error(bus, msg, SQ_ERR_DB, NULL);
        goto done;
    }
    auth_limits_effective(json, req.ns, &lim);
    lim.blocked = blocked;
    SQ_RESPOND(bus, msg, sq_ns_limits, &lim);
done:
    msgpack_zone_destroy(&z);
}

sq_status auth_bootstrap_guest(auth_store_t *s, const char *key, const char *ns)
{
    unsigned char salt[AUTH_SALT_LEN], hash[AUTH_HASH_LEN];
    char uuid[AUTH_UUID_LEN + 1];
    const char *secret;
    msgpack_zone z;
    auth_key_row row;
    sq_status st;

    if (!auth_key_parse(key, uuid, &secret)) {
        sq_error("invalid guest key in SQ_GUEST_KEY: expected \"uuid:secret\" with a 36-character "
                 "UUID and a 64-character secret of letters and digits");
        return SQ_ERR_BAD_REQUEST;
    }
    if (!sq_name_valid(ns) || strcmp(ns, AUTH_SYSTEM_NS) == 0) {
        sq_error("invalid guest namespace \"%s\"", ns);
        return SQ_ERR_BAD_REQUEST;
    }
    randombytes_buf(salt, sizeof salt);
    auth_key_hash(salt, secret, hash);
    msgpack_zone_init(&z, 1024);
    st = auth_store_bootstrap(s, GUEST_SUBJECT, ns, uuid, salt, hash, &z, &row);
    if (st != SQ_OK) {
        sq_error("could not create the guest subject, namespace and key: %s", sq_status_str(st));
        goto done;
    }
    if (strcmp(row.subject, GUEST_SUBJECT) != 0 || strcmp(row.namespace_, ns) != 0)
        sq_warn("guest key \"%s\" already belongs to subject \"%s\", namespace \"%s\"", uuid,
                row.subject, row.namespace_);
    if (!auth_key_check(row.salt, row.hash, secret)) {
        /* The operator's SQ_GUEST_KEY is authoritative: a stored key with this uuid but
         * another secret gets the configured secret. */
        st = auth_store_set_secret(s, uuid, salt, hash);
        if (st != SQ_OK) {
            sq_error("could not update the secret of guest key \"%s\": %s", uuid,
                     sq_status_str(st));
            goto done;
        }
        sq_info("updated the secret of guest key \"%s\"", uuid);
    }
    sq_info("guest key \"%s\" ready for namespace \"%s\"", uuid, row.namespace_);
done:
    msgpack_zone_destroy(&z);
    sodium_memzero(hash, sizeof hash);
    return st;
}

sq_status auth_bootstrap_system(auth_store_t *s)
{
    msgpack_zone z;
    char *owner = NULL;
    sq_status st;

    msgpack_zone_init(&z, 256);
    st = auth_store_ensure_ns(s, AUTH_SYSTEM_NS, AUTH_SYSTEM_NS, &z, &owner);
    if (st != SQ_OK)
        sq_error("could not create the system namespace \"%s\": %s", AUTH_SYSTEM_NS,
                 sq_status_str(st));
    else if (owner == NULL || strcmp(owner, AUTH_SYSTEM_NS) != 0)
        sq_warn("system namespace \"%s\" belongs to subject \"%s\"", AUTH_SYSTEM_NS,
                owner ? owner : "?");
    else
        sq_info("system namespace \"%s\" ready", AUTH_SYSTEM_NS);
    msgpack_zone_destroy(&z);
    return st;
}
