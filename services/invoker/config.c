/* squall-invoker's settings: one declarative table (see sq/config.h). */
#include "invoker.h"
#include "sq/config.h"

#define DEFAULT_RUNTIME_DIR SQ_SOURCE_DIR "/services/invoker/runtimes"
#ifndef SQ_NATIVE_LAUNCHER
#define SQ_NATIVE_LAUNCHER "squall-native-launcher"
#endif

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", I.cfg.nats_url),
    SQ_CFG_STR("id", "SQ_INVOKER_ID", NULL, I.cfg.id),
    SQ_CFG_STR("state_dir", "SQ_INVOKER_STATE_DIR", NULL, I.cfg.state_dir),
    SQ_CFG_INT("id_check_ms", "SQ_INVOKER_ID_CHECK_MS", 0, 60000, 1500, I.cfg.id_check_ms),
    SQ_CFG_PATH("runtime_dir", "SQ_RUNTIME_DIR", "lib/squall/runtimes", DEFAULT_RUNTIME_DIR,
                I.cfg.runtime_dir),
    SQ_CFG_PATH("native_launcher", "SQ_INVOKER_NATIVE_LAUNCHER",
                "lib/squall/squall-native-launcher", SQ_NATIVE_LAUNCHER, I.cfg.native_launcher),
    SQ_CFG_STR("api_host", "SQ_API_HOST", "http://127.0.0.1:3233", I.cfg.api_host),
    SQ_CFG_INT("memory_mb", "SQ_INVOKER_MEMORY_MB", 128, 1 << 20, 2048, I.cfg.memory_mb),
    SQ_CFG_INT("workers", "SQ_INVOKER_WORKERS", 1, 1024, 32, I.cfg.workers),
    SQ_CFG_INT("prewarm", "SQ_INVOKER_PREWARM", 0, 64, 2, I.cfg.prewarm),
    SQ_CFG_INT("prewarm_python", "SQ_INVOKER_PREWARM_PYTHON", 0, 64, 1, I.cfg.prewarm_python),
    SQ_CFG_INT("prewarm_native", "SQ_INVOKER_PREWARM_NATIVE", 0, 64, 1, I.cfg.prewarm_native),
    SQ_CFG_INT("pids_max", "SQ_INVOKER_PIDS_MAX", 16, 65536, 256, I.cfg.pids_max),
    SQ_CFG_INT("idle_ms", "SQ_INVOKER_IDLE_MS", 1000, 86400000, 600000, I.cfg.idle_ms),
    SQ_CFG_INT("heartbeat_ms", "SQ_INVOKER_HEARTBEAT_MS", 100, 60000, 1000, I.cfg.heartbeat_ms),
    SQ_CFG_INT("max_result_kb", "SQ_INVOKER_MAX_RESULT_KB", 1, 16384, 1024, I.cfg.max_result_kb),
    SQ_CFG_BOOL("freeze", "SQ_INVOKER_FREEZE", true, I.cfg.freeze),
    SQ_CFG_INT("freeze_ms", "SQ_INVOKER_FREEZE_MS", 0, 3600000, 100, I.cfg.freeze_ms),
    SQ_CFG_INT("fair_mb", "SQ_INVOKER_FAIR_MB", 0, 1 << 20, 256, I.cfg.fair_mb),
    SQ_CFG_BOOL("sandbox", "SQ_INVOKER_SANDBOX", true, I.cfg.sandbox),
    SQ_CFG_STR("network", "SQ_INVOKER_NETWORK", "egress", I.cfg.network),
    SQ_CFG_STR("net_deny", "SQ_INVOKER_NET_DENY", INV_NET_DENY_DEFAULT, I.cfg.net_deny),
    SQ_CFG_STR("net_pool", "SQ_INVOKER_NET_POOL", "10.201.0.0/16", I.cfg.net_pool),
    SQ_CFG_STR("net_dns", "SQ_INVOKER_NET_DNS", "auto", I.cfg.net_dns),
};

SQ_CONFIG_DEFINE(inv_config_load, inv_config_free, table)
