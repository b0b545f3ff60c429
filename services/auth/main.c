/* squall-auth: wiring only. Loads the config, opens PostgreSQL (migrations applied),
 * bootstraps the system namespace and the guest key, serves sq.auth.verify, sq.auth.limits
 * and sq.auth.admin in queue group "auth" and the health subject until SIGTERM, then tears
 * down in reverse order. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>
#include "proto/proto.h"
#include "proto/health.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

#define PG_WAIT_MS 30000

int main(void)
{
    auth_store_t *store = NULL;
    sq_bus_t *bus = NULL;
    auth_ctx ctx;
    int rc = 1;

    if (sq_service_begin("squall-auth") != 0)
        return 1;
    if (auth_config_load() != SQ_OK)
        goto out;
    if (auth_cfg.guest_key[0] != '\0') {
        char uuid[AUTH_UUID_LEN + 1];
        const char *secret;
        if (!auth_key_parse(auth_cfg.guest_key, uuid, &secret)) {
            sq_error("invalid SQ_GUEST_KEY: expected \"uuid:secret\" with a 36-character UUID and "
                     "a 64-character secret of letters and digits");
            goto out;
        }
    }
    auth_stale_init(auth_cfg.stale_max, auth_cfg.stale_ms);
    if (auth_store_open(&store, auth_cfg.pg_dsn, auth_cfg.schema_dir, PG_WAIT_MS) != SQ_OK)
        goto out;
    if (auth_bootstrap_system(store) != SQ_OK)
        goto out;
    if (auth_cfg.guest_key[0] != '\0' &&
        auth_bootstrap_guest(store, auth_cfg.guest_key, auth_cfg.guest_namespace) != SQ_OK)
        goto out;
    if (sq_bus_connect(&bus, &(sq_bus_opts){ .url = auth_cfg.nats_url,
                                             .name = "squall-auth",
                                             .send_asap = true,
                                             .jetstream = true }) != SQ_OK)
        goto out;
    /* deleted namespaces are announced durably there (admin.c) */
    if (sq_stream_tenancy_ensure(sq_bus_js(bus)) != SQ_OK)
        goto out;

    ctx.store = store;
    auth_admin_init(&ctx, auth_cfg.admin_token);
    if (!ctx.admin_enabled)
        sq_warn("no SQ_ADMIN_TOKEN: the admin interface (squall-admin) is disabled");
    else if (strlen(auth_cfg.admin_token) < 32)
        sq_warn("SQ_ADMIN_TOKEN has fewer than 32 characters: use a long random token");
    const sq_bus_route routes[] = {
        { .subject = SQ_SUBJ_AUTH_VERIFY, .queue = "auth", .fn = auth_on_verify, .closure = &ctx },
        { .subject = SQ_SUBJ_AUTH_LIMITS, .queue = "auth", .fn = auth_on_limits, .closure = &ctx },
        { .subject = SQ_SUBJ_AUTH_ADMIN, .queue = "auth", .fn = auth_on_admin, .closure = &ctx },
        /* every copy: a changed subject's keys leave its stale cache */
        { .subject = SQ_SUBJ_EVT_AUTH, .queue = NULL, .fn = auth_on_event, .closure = NULL },
    };
    if (sq_bus_serve(bus, routes, sizeof routes / sizeof routes[0]) != SQ_OK ||
        sq_health_serve(
            bus, "auth", NULL,
            (sq_health_check[]){
                { .name = "postgresql", .pg_dsn = auth_cfg.pg_dsn, .pg_ping = sq_pg_ping },
                { .name = "jetstream", .stream = SQ_STREAM_TENANCY } },
            2) != SQ_OK)
        goto out;
    sq_info("ready");

    sq_service_wait("shutting down");
    rc = 0;
out:
    sq_bus_destroy(bus);
    auth_store_close(store);
    auth_stale_free();
    auth_config_free();
    if (rc == 0)
        sq_info("stopped");
    return rc;
}
