/* squall-scheduler's settings: one declarative table (see sq/config.h). */
#include "sched.h"
#include "sq/config.h"

sched_config sched_cfg;

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", sched_cfg.nats_url),
    SQ_CFG_INT("heartbeat_ttl_ms", "SQ_SCHED_HEARTBEAT_TTL_MS", 100, 600000, 3000,
               sched_cfg.heartbeat_ttl_ms),
    SQ_CFG_INT("resolve_timeout_ms", "SQ_SCHED_RESOLVE_TIMEOUT_MS", 50, 60000, 5000,
               sched_cfg.resolve_timeout_ms),
    SQ_CFG_INT("cache_ttl_ms", "SQ_SCHED_CACHE_TTL_MS", 0, 86400000, 60000, sched_cfg.cache_ttl_ms),
    SQ_CFG_INT("cache_max", "SQ_SCHED_CACHE_MAX", 16, 1048576, 4096, sched_cfg.cache_max),
    SQ_CFG_INT("workers", "SQ_SCHED_WORKERS", 1, 16, 4, sched_cfg.workers),
    SQ_CFG_INT("warmup_ms", "SQ_SCHED_WARMUP_MS", 0, 60000, 2000, sched_cfg.warmup_ms),
    SQ_CFG_INT("publish_timeout_ms", "SQ_SCHED_PUBLISH_TIMEOUT_MS", 100, 60000, 5000,
               sched_cfg.publish_timeout_ms),
    SQ_CFG_INT("requeue_ms", "SQ_SCHED_REQUEUE_MS", 0, 60000, 6000, sched_cfg.requeue_ms),
    SQ_CFG_INT("limits_ttl_ms", "SQ_SCHED_LIMITS_TTL_MS", 0, 86400000, 60000,
               sched_cfg.limits_ttl_ms),
    SQ_CFG_INT("limits_timeout_ms", "SQ_SCHED_LIMITS_TIMEOUT_MS", 10, 60000, 1000,
               sched_cfg.limits_timeout_ms),
    SQ_CFG_INT("default_concurrent", "SQ_SCHED_DEFAULT_CONCURRENT", 1, 1000000000, 100,
               sched_cfg.default_concurrent),
    SQ_CFG_INT("default_per_minute", "SQ_SCHED_DEFAULT_PER_MINUTE", 1, 1000000000, 120,
               sched_cfg.default_per_minute),
    SQ_CFG_INT("max_payload_kb", "SQ_SCHED_MAX_PAYLOAD_KB", 1, 1048576, 1024,
               sched_cfg.max_payload_kb),
    SQ_CFG_INT("lost_grace_ms", "SQ_SCHED_LOST_GRACE_MS", 1000, 3600000, 30000,
               sched_cfg.lost_grace_ms),
    SQ_CFG_INT("seq_workers", "SQ_SCHED_SEQ_WORKERS", 1, 64, 2, sched_cfg.seq_workers),
    SQ_CFG_INT("seq_max", "SQ_SCHED_SEQ_MAX", 1, 10000, 50, sched_cfg.seq_max),
};

SQ_CONFIG_DEFINE(sched_config_load, sched_config_free, table)
