/* squall-registry: wiring only. Loads the config, opens PostgreSQL (migrations applied),
 * connects to NATS, installs the system packages of /whisk.system, serves
 * sq.registry.{put,get,delete,list,resolve,rulestate} in queue group "registry" and the
 * health subject until SIGTERM, then tears down in reverse order (the bus drains first, so
 * in-flight requests finish before the database closes). */
#include "registry.h"

#include "sq/log.h"
#include "sq/util.h"

#define PG_WAIT_MS 30000

int main(void)
{
    reg_config cfg;
    reg_store_t *store = NULL;
    sq_bus_t *bus = NULL;
    reg_ctx ctx;
    int rc = 1, sig;

    sq_signals_block();
    sq_log_init("squall-registry");
    if (sq_crypto_init() != 0) {
        sq_error("could not initialise libsodium");
        return 1;
    }
    if (reg_config_load(&cfg) != SQ_OK)
        goto out;
    if (reg_store_open(&store, cfg.pg_dsn, cfg.schema_dir, PG_WAIT_MS) != SQ_OK)
        goto out;
    if (sq_bus_connect(&bus, &(sq_bus_opts){ .url = cfg.nats_url, .name = "squall-registry",
                                             .send_asap = true }) != SQ_OK)
        goto out;

    if (reg_system_install(store, cfg.system_dir, bus) != SQ_OK)
        goto out;

    ctx.store = store;
    const sq_bus_route routes[] = {
        { .subject = SQ_SUBJ_REG_PUT, .queue = "registry", .fn = reg_on_put, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_GET, .queue = "registry", .fn = reg_on_get, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_DELETE, .queue = "registry", .fn = reg_on_delete, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_LIST, .queue = "registry", .fn = reg_on_list, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_RESOLVE, .queue = "registry", .fn = reg_on_resolve, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_RULE_STATE, .queue = "registry", .fn = reg_on_rulestate, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_ROUTE_PUT, .queue = "registry", .fn = reg_on_route_put, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_ROUTE_GET, .queue = "registry", .fn = reg_on_route_get, .closure = &ctx },
        { .subject = SQ_SUBJ_REG_ROUTE_DELETE, .queue = "registry", .fn = reg_on_route_delete, .closure = &ctx },
    };
    if (sq_bus_serve(bus, routes, sizeof routes / sizeof routes[0]) != SQ_OK ||
        sq_bus_serve_health(bus, "registry") != SQ_OK)
        goto out;
    sq_info("ready");

    sig = sq_signals_wait();
    sq_info("received signal %d, shutting down", sig);
    rc = 0;
out:
    sq_bus_destroy(bus);
    reg_store_close(store);
    reg_config_free();
    if (rc == 0)
        sq_info("stopped");
    return rc;
}
