/* squall-registry: wiring only. Loads the config, opens PostgreSQL (migrations applied),
 * connects to NATS, installs the system packages of /whisk.system, serves
 * sq.registry.{put,get,delete,list,resolve,rulestate} in queue group "registry" and the
 * health subject until SIGTERM, then tears down in reverse order (the bus drains first, so
 * in-flight requests finish before the database closes). */
#include "registry.h"

#include <string.h>

#include "proto/health.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

#define PG_WAIT_MS 30000

typedef struct purge_ctx {
    reg_store_t *store;
    sq_bus_t *bus;
} purge_ctx;

/* sq.tenancy.delete.<ns>: the namespace was deleted; its entities go, each announced on
 * sq.evt.entity (so caches drop them and the triggers service stops their feeds). Runs on
 * the follower's thread. */
static int64_t on_purge(const sq_tenancy_event *ev, void *closure)
{
    purge_ctx *pc = closure;
    msgpack_zone z;
    reg_change *c = NULL;
    size_t n = 0;
    sq_status st;

    if (strcmp(ev->namespace_, "whisk.system") == 0)
        return 0; /* reserved: never purged */
    msgpack_zone_init(&z, 4096);
    st = reg_store_purge_ns(pc->store, ev->namespace_, ev->at, &z, &c, &n);
    if (st == SQ_OK) {
        for (size_t i = 0; i < n; i++)
            reg_publish_event(pc->bus, c[i].ns, c[i].kind, c[i].name, c[i].op, c[i].version);
        sq_info("purged %zu entities of deleted namespace \"%s\"", n, ev->namespace_);
    } else
        sq_warn("could not purge deleted namespace \"%s\" (retried): %s", ev->namespace_,
                sq_status_str(st));
    msgpack_zone_destroy(&z);
    return st == SQ_OK ? 0 : -1;
}

/* The registry's subjects in queue group "registry", each handler with ctx, and its health
 * subject (PostgreSQL and the tenancy stream checked). */
static sq_status serve(sq_bus_t *bus, reg_ctx *ctx, const reg_config *cfg)
{
    const sq_bus_route routes[] = {
        { .subject = SQ_SUBJ_REG_PUT, .queue = "registry", .fn = reg_on_put, .closure = ctx },
        { .subject = SQ_SUBJ_REG_GET, .queue = "registry", .fn = reg_on_get, .closure = ctx },
        { .subject = SQ_SUBJ_REG_DELETE, .queue = "registry", .fn = reg_on_delete, .closure = ctx },
        { .subject = SQ_SUBJ_REG_LIST, .queue = "registry", .fn = reg_on_list, .closure = ctx },
        { .subject = SQ_SUBJ_REG_RESOLVE,
          .queue = "registry",
          .fn = reg_on_resolve,
          .closure = ctx },
        { .subject = SQ_SUBJ_REG_RULE_STATE,
          .queue = "registry",
          .fn = reg_on_rulestate,
          .closure = ctx },
        { .subject = SQ_SUBJ_REG_ROUTE_PUT,
          .queue = "registry",
          .fn = reg_on_route_put,
          .closure = ctx },
        { .subject = SQ_SUBJ_REG_ROUTE_GET,
          .queue = "registry",
          .fn = reg_on_route_get,
          .closure = ctx },
        { .subject = SQ_SUBJ_REG_ROUTE_DELETE,
          .queue = "registry",
          .fn = reg_on_route_delete,
          .closure = ctx },
    };
    sq_status st = sq_bus_serve(bus, routes, sizeof routes / sizeof routes[0]);

    if (st != SQ_OK)
        return st;
    return sq_health_serve(
        bus, "registry", NULL,
        (sq_health_check[]){ { .name = "postgresql", .pg_dsn = cfg->pg_dsn, .pg_ping = sq_pg_ping },
                             { .name = "jetstream", .stream = SQ_STREAM_TENANCY } },
        2);
}

int main(void)
{
    reg_store_t *store = NULL;
    sq_bus_t *bus = NULL;
    reg_ctx ctx;
    purge_ctx pc;
    sq_tenancy_follower *purges = NULL;
    int rc = 1;

    if (sq_service_begin("squall-registry") != 0)
        return 1;
    if (reg_config_load() != SQ_OK)
        goto out;
    if (reg_store_open(&store, reg_cfg.pg_dsn, reg_cfg.schema_dir, PG_WAIT_MS) != SQ_OK)
        goto out;
    if (sq_bus_connect(&bus, &(sq_bus_opts){ .url = reg_cfg.nats_url,
                                             .name = "squall-registry",
                                             .send_asap = true,
                                             .jetstream = true }) != SQ_OK)
        goto out;

    if (reg_system_install(store, reg_cfg.system_dir, bus) != SQ_OK)
        goto out;

    ctx.store = store;
    if (serve(bus, &ctx, &reg_cfg) != SQ_OK)
        goto out;
    pc = (purge_ctx){ .store = store, .bus = bus };
    if (sq_tenancy_follow(&purges, sq_bus_js(bus), "registry", on_purge, &pc) != SQ_OK)
        goto out;
    sq_info("ready");

    sq_service_wait("shutting down");
    rc = 0;
out:
    sq_tenancy_unfollow(purges);
    sq_bus_destroy(bus);
    reg_store_close(store);
    reg_config_free();
    if (rc == 0)
        sq_info("stopped");
    return rc;
}
