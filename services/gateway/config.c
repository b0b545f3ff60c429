/* squall-gateway's settings: one declarative table (see sq/config.h). */
#include "gateway.h"
#include "sq/config.h"

static const sq_cfg_entry table[] = {
    SQ_CFG_STR("nats_url", "SQ_NATS_URL", "nats://127.0.0.1:4222", G.cfg.nats_url),
    SQ_CFG_STR("host", "SQ_GATEWAY_HOST", "127.0.0.1", G.cfg.host),
    SQ_CFG_INT("port", "SQ_GATEWAY_PORT", 1, 65535, 3233, G.cfg.port),
    SQ_CFG_INT("max_body_kb", "SQ_GATEWAY_MAX_BODY_KB", 1, 1 << 20, 1024, G.cfg.max_body_kb),
    /* action code may be 48 MB (base64 for binaries) */
    SQ_CFG_INT("max_action_body_kb", "SQ_GATEWAY_MAX_ACTION_BODY_KB", 1, 1 << 20, 51200,
               G.cfg.max_action_body_kb),
    SQ_CFG_INT("auth_cache_ms", "SQ_GATEWAY_AUTH_CACHE_MS", 0, 600000, 5000, G.cfg.auth_cache_ms),
    SQ_CFG_INT("blocking_wait_ms", "SQ_GATEWAY_BLOCKING_WAIT_MS", 100, 600000, 60000,
               G.cfg.blocking_wait_ms),
    SQ_CFG_INT("op_timeout_ms", "SQ_GATEWAY_OP_TIMEOUT_MS", 100, 600000, 10000,
               G.cfg.op_timeout_ms),
    /* what web actions need of an action (annotations, final parameters), kept this long
     * unless a change event drops it first */
    SQ_CFG_INT("web_cache_ms", "SQ_GATEWAY_WEB_CACHE_MS", 0, 3600000, 60000, G.cfg.web_cache_ms),
    SQ_CFG_INT("ready_ms", "SQ_GATEWAY_READY_MS", 200, 600000, 2000, G.cfg.ready_ms),
    /* request headers outside lws's table of known ones that web actions see in __ow_headers */
    SQ_CFG_STR(
        "web_headers", "SQ_GATEWAY_WEB_HEADERS",
        "x-require-whisk-auth,x-request-id,x-api-key,x-csrf-token,x-correlation-id,x-amz-date,"
        "x-github-event,x-hub-signature,x-hub-signature-256,x-slack-signature,x-forwarded-port",
        G.cfg.web_headers),
    /* a whole request must arrive in time: its headers within header_timeout_s, its body
     * within body_timeout_ms plus its length at body_min_rate_kb KB/s (408 after) */
    SQ_CFG_INT("header_timeout_s", "SQ_GATEWAY_HEADER_TIMEOUT_S", 1, 3600, 10,
               G.cfg.header_timeout_s),
    SQ_CFG_INT("body_timeout_ms", "SQ_GATEWAY_BODY_TIMEOUT_MS", 100, 3600000, 10000,
               G.cfg.body_timeout_ms),
    SQ_CFG_INT("body_min_rate_kb", "SQ_GATEWAY_BODY_MIN_RATE_KB", 1, 1 << 20, 64,
               G.cfg.body_min_rate_kb),
    SQ_CFG_INT("accept_pause_ms", "SQ_GATEWAY_ACCEPT_PAUSE_MS", 1, 10000, 100,
               G.cfg.accept_pause_ms),
    /* the WebSocket API */
    SQ_CFG_INT("ws_queue_kb", "SQ_GATEWAY_WS_QUEUE_KB", 16, 1 << 20, 1024, G.cfg.ws_queue_kb),
    SQ_CFG_INT("ws_invoke_wait_ms", "SQ_GATEWAY_WS_INVOKE_WAIT_MS", 1000, 86400000, 900000,
               G.cfg.ws_invoke_wait_ms),
    SQ_CFG_INT("ws_auth_ms", "SQ_GATEWAY_WS_AUTH_MS", 100, 600000, 5000, G.cfg.ws_auth_ms),
    SQ_CFG_INT("ws_stuck_ms", "SQ_GATEWAY_WS_STUCK_MS", 100, 600000, 10000, G.cfg.ws_stuck_ms),
    /* an event's frames to many sockets written by this many threads (0: one per core, at
     * most 4; the lws service thread is one of them) */
    SQ_CFG_INT("ws_send_threads", "SQ_GATEWAY_WS_SEND_THREADS", 0, 16, 0, G.cfg.ws_send_threads),
    SQ_CFG_BOOL("access_log", "SQ_GATEWAY_ACCESS_LOG", true, G.cfg.access_log),
    SQ_CFG_PATH("console_dir", "SQ_GATEWAY_CONSOLE_DIR", "share/squall/console",
                SQ_SOURCE_DIR "/services/gateway/console", G.cfg.console_dir),
    SQ_CFG_INT("metrics_ms", "SQ_GATEWAY_METRICS_MS", 0, 3600000, 5000, G.cfg.metrics_ms),
    SQ_CFG_SECRET("metrics_token", "SQ_METRICS_TOKEN", "", G.cfg.metrics_token),
};

SQ_CONFIG_DEFINE(gw_config_load, gw_config_free, table)
