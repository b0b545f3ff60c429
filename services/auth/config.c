/* The settings of squall-auth, one declarative table (see sq/config.h). */
#include "auth.h"

#include "sq/config.h"

auth_config auth_cfg;

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", auth_cfg.nats_url),
    SQ_CFG_STR("pg_dsn", "SQ_PG_DSN", "host=/tmp dbname=squall", auth_cfg.pg_dsn),
    SQ_CFG_PATH("schema_dir", "SQ_SCHEMA_DIR", "share/squall/schemas", SQ_SCHEMA_DIR,
                auth_cfg.schema_dir),
    SQ_CFG_SECRET("guest_key", "SQ_GUEST_KEY", NULL, auth_cfg.guest_key),
    SQ_CFG_STR("guest_namespace", "SQ_GUEST_NAMESPACE", "guest", auth_cfg.guest_namespace),
    /* The shared secret of squall-admin; empty disables sq.auth.admin. */
    SQ_CFG_SECRET("admin_token", "SQ_ADMIN_TOKEN", NULL, auth_cfg.admin_token),
    /* keys verified within stale_ms are still accepted while PostgreSQL is unreachable */
    SQ_CFG_INT("stale_ms", "SQ_AUTH_STALE_MS", 0, 604800000, 3600000, auth_cfg.stale_ms),
    SQ_CFG_INT("stale_max", "SQ_AUTH_STALE_MAX", 0, 10000000, 10000, auth_cfg.stale_max),
};

SQ_CONFIG_DEFINE(auth_config_load, auth_config_free, table)
