/* The settings of squall-registry, one declarative table (see sq/config.h). */
#include "registry.h"

#include "sq/config.h"

reg_config reg_cfg;

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", reg_cfg.nats_url),
    SQ_CFG_STR("pg_dsn", "SQ_PG_DSN", "host=/tmp dbname=squall", reg_cfg.pg_dsn),
    SQ_CFG_PATH("schema_dir", "SQ_SCHEMA_DIR", "share/squall/schemas", SQ_SCHEMA_DIR,
                reg_cfg.schema_dir),
    SQ_CFG_PATH("system_dir", "SQ_SYSTEM_DIR", "share/squall/system",
                SQ_SOURCE_DIR "/services/registry/system", reg_cfg.system_dir),
};

SQ_CONFIG_DEFINE(reg_config_load, reg_config_free, table)
