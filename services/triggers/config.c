/* squall-triggers' settings: one declarative table (see sq/config.h). */
#include "sq/config.h"
#include "triggers.h"

trg_config trg_cfg;

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", trg_cfg.nats_url),
    SQ_CFG_INT("workers", "SQ_TRIGGERS_WORKERS", 1, 32, 14, trg_cfg.workers),
    SQ_CFG_INT("max_pending", "SQ_TRIGGERS_MAX_PENDING", 16, 1048576, 65536, trg_cfg.max_pending),
    SQ_CFG_INT("registry_timeout_ms", "SQ_TRIGGERS_REGISTRY_TIMEOUT_MS", 50, 60000, 5000,
               trg_cfg.registry_timeout_ms),
    SQ_CFG_INT("invoke_timeout_ms", "SQ_TRIGGERS_INVOKE_TIMEOUT_MS", 50, 60000, 5000,
               trg_cfg.invoke_timeout_ms),
    SQ_CFG_INT("cache_ttl_ms", "SQ_TRIGGERS_CACHE_TTL_MS", 0, 86400000, 60000,
               trg_cfg.cache_ttl_ms),
    SQ_CFG_INT("cache_max", "SQ_TRIGGERS_CACHE_MAX", 16, 1048576, 8192, trg_cfg.cache_max),
    SQ_CFG_INT("limits_ttl_ms", "SQ_TRIGGERS_LIMITS_TTL_MS", 0, 86400000, 60000,
               trg_cfg.limits_ttl_ms),
    SQ_CFG_INT("limits_timeout_ms", "SQ_TRIGGERS_LIMITS_TIMEOUT_MS", 10, 60000, 1000,
               trg_cfg.limits_timeout_ms),
    SQ_CFG_INT("default_fires_per_minute", "SQ_TRIGGERS_DEFAULT_FIRES_PER_MINUTE", 1, 1000000000,
               60, trg_cfg.default_fires_per_minute),
    SQ_CFG_INT("max_payload_kb", "SQ_TRIGGERS_MAX_PAYLOAD_KB", 1, 1048576, 1024,
               trg_cfg.max_payload_kb),
    SQ_CFG_BOOL("feeds", "SQ_TRIGGERS_FEEDS", true, trg_cfg.feeds),
};

SQ_CONFIG_DEFINE(trg_config_load, trg_config_free, table)
