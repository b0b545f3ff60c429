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

sq_status reg_config_load(reg_config *cfg)
{
    sq_status st = sq_config_setup(table, sizeof table / sizeof table[0]);
    if (st != SQ_OK)
        return st;
    *cfg = conf;
    return SQ_OK;
}

void reg_config_free(void)
{
    sq_config_free(table, sizeof table / sizeof table[0]);
}
