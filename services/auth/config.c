/* The settings of squall-auth, one declarative table (see sq/config.h). */
#include "auth.h"

#include "sq/config.h"

static auth_config conf;

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", conf.nats_url),
    SQ_CFG_STR("pg_dsn", "SQ_PG_DSN", "host=/tmp dbname=squall", conf.pg_dsn),
    SQ_CFG_PATH("schema_dir", "SQ_SCHEMA_DIR", "share/squall/schemas", SQ_SCHEMA_DIR,
                conf.schema_dir),
    SQ_CFG_SECRET("guest_key", "SQ_GUEST_KEY", NULL, conf.guest_key),
    SQ_CFG_STR("guest_namespace", "SQ_GUEST_NAMESPACE", "guest", conf.guest_namespace),
    /* The shared secret of squall-admin; empty disables sq.auth.admin. */
    SQ_CFG_SECRET("admin_token", "SQ_ADMIN_TOKEN", NULL, conf.admin_token),
    /* keys verified within stale_ms are still accepted while PostgreSQL is unreachable */
    SQ_CFG_INT("stale_ms", "SQ_AUTH_STALE_MS", 0, 604800000, 3600000, conf.stale_ms),
    SQ_CFG_INT("stale_max", "SQ_AUTH_STALE_MAX", 0, 10000000, 10000, conf.stale_max),
};

static sq_status setup(void);

sq_status auth_config_load(auth_config *cfg)
{
    sq_status st = setup();
    if (st == SQ_OK)
        *cfg = conf;
    return st;
}

/* static applies to setup() only: auth_config_free() is the one auth.h declares */
static SQ_CONFIG_DEFINE(setup, auth_config_free, table)
