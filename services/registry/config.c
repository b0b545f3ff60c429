/* The settings of squall-registry, one declarative table (see sq/config.h). */
#include "registry.h"

#include "sq/config.h"

static reg_config conf;

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", conf.nats_url),
    SQ_CFG_STR("pg_dsn", "SQ_PG_DSN", "host=/tmp dbname=squall", conf.pg_dsn),
    SQ_CFG_PATH("schema_dir", "SQ_SCHEMA_DIR", "share/squall/schemas", SQ_SCHEMA_DIR,
                conf.schema_dir),
    SQ_CFG_PATH("system_dir", "SQ_SYSTEM_DIR", "share/squall/system",
                SQ_SOURCE_DIR "/services/registry/system", conf.system_dir),
};

static sq_status setup(void);

sq_status reg_config_load(reg_config *cfg)
{
    sq_status st = setup();
    if (st == SQ_OK)
        *cfg = conf;
    return st;
}

/* static applies to setup() only: reg_config_free() is the one registry.h declares */
static SQ_CONFIG_DEFINE(setup, reg_config_free, table)
