/* squall-activations' settings: one declarative table (see sq/config.h). */
#include "act.h"
#include "sq/config.h"

act_config act_cfg;

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", act_cfg.nats_url),
    SQ_CFG_SECRET("pg_dsn", "SQ_PG_DSN", "host=/tmp dbname=squall", act_cfg.pg_dsn),
    SQ_CFG_PATH("schema_dir", "SQ_SCHEMA_DIR", "share/squall/schemas", SQ_SCHEMA_DIR,
                act_cfg.schema_dir),
    SQ_CFG_INT("batch", "SQ_ACT_BATCH", 1, 4096, 1024, act_cfg.batch),
    SQ_CFG_INT("ack_wait_ms", "SQ_ACT_ACK_WAIT_MS", 1000, 600000, 30000, act_cfg.ack_wait_ms),
    SQ_CFG_INT("retention_days", "SQ_ACT_RETENTION_DAYS", 0, 36500, 7, act_cfg.retention_days),
    SQ_CFG_INT("maintain_ms", "SQ_ACT_MAINTAIN_MS", 1000, 86400000, 3600000, act_cfg.maintain_ms),
    SQ_CFG_INT("purge_again_ms", "SQ_ACT_PURGE_AGAIN_MS", 1000, 86400000, 360000,
               act_cfg.purge_again_ms),
    SQ_CFG_INT("sweep_ms", "SQ_ACT_SWEEP_MS", 100, 600000, 2000, act_cfg.sweep_ms),
};

SQ_CONFIG_DEFINE(act_config_load, act_config_free, table)
