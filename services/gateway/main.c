/* squall-gateway: wiring only. Loads the config, connects to NATS (send asap: every hop of
 * an invoke is latency-critical), subscribes the reply inbox, and runs the lws service
 * thread until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "sq/config.h"
#include "sq/health.h"
#include "sq/log.h"
#include "sq/util.h"

gw G;

static const sq_cfg_entry config[] = {
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
    SQ_CFG_BOOL("access_log", "SQ_GATEWAY_ACCESS_LOG", true, G.cfg.access_log),
    SQ_CFG_PATH("console_dir", "SQ_GATEWAY_CONSOLE_DIR", "share/squall/console",
                SQ_SOURCE_DIR "/services/gateway/console", G.cfg.console_dir),
    SQ_CFG_INT("metrics_ms", "SQ_GATEWAY_METRICS_MS", 0, 3600000, 5000, G.cfg.metrics_ms),
    SQ_CFG_SECRET("metrics_token", "SQ_METRICS_TOKEN", "", G.cfg.metrics_token),
};
#define NCONFIG (sizeof config / sizeof config[0])

/* closure: non-NULL on the invocation inbox */
static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    const char *subj = natsMsg_GetSubject(msg);
    const char *dot = strrchr(subj, '.');
    gw_req *r;

    if (dot != NULL &&
        (r = gw_pending_take_leg(strtoull(dot + 1, NULL, 10), closure != NULL)) != NULL)
        gw_on_reply(r, msg);
    natsMsg_Destroy(msg);
}

/* Keys, subjects or limits changed: verified keys are checked again. */
static void on_auth_event(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    gw_auth_cache_clear();
    gw_web_cache_clear();
    gw_ws_on_auth_event(msg);
}

/* An action or package changed: what web actions know of them is read again. */
static void on_entity_event(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    gw_web_cache_clear();
}

/* An API route changed: every route table is read again. */
static void on_route_event(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    gw_routes_cache_clear();
}

static void *http_thread(void *arg)
{
    gw_http_run();
    return NULL;
}

int main(void)
{
    pthread_t th;
    char rnd[17], subj[160];
    int rc = 1;

    sq_signals_block();
    sq_log_init("squall-gateway");
    if (sq_crypto_init() != 0 || sq_config_load(config, NCONFIG) != SQ_OK)
        return 1;
    sq_config_log(config, NCONFIG);
    pthread_mutex_init(&G.lock, NULL);

    if (sq_bus_connect(&G.bus, &(sq_bus_opts){ .url = G.cfg.nats_url,
                                               .name = "squall-gateway",
                                               .send_asap = true }) != SQ_OK)
        goto out;
    sq_id_new(subj);
    memcpy(rnd, subj, 16);
    rnd[16] = '\0';
    snprintf(G.inbox, sizeof G.inbox, "%s.gw.%s", sq_bus_inbox_prefix(G.bus), rnd);
    snprintf(subj, sizeof subj, "%s.*", G.inbox);
    if (natsConnection_Subscribe(&G.replies, sq_bus_nc(G.bus), subj, on_reply, NULL) != NATS_OK) {
        sq_error("could not subscribe to the reply inbox");
        goto out;
    }
    natsSubscription_SetPendingLimits(G.replies, -1, -1);
    snprintf(G.run_inbox, sizeof G.run_inbox, "%s.run.%s", sq_bus_inbox_prefix(G.bus), rnd);
    snprintf(subj, sizeof subj, "%s.*", G.run_inbox);
    if (natsConnection_Subscribe(&G.run_replies, sq_bus_nc(G.bus), subj, on_reply, &G) != NATS_OK) {
        sq_error("could not subscribe to the invocation reply inbox");
        goto out;
    }
    natsSubscription_SetPendingLimits(G.run_replies, -1, -1);
    sq_bus_route events[] = {
        { .subject = SQ_SUBJ_EVT_AUTH, .queue = NULL, .fn = on_auth_event },
        { .subject = "sq.evt.entity.*.action", .queue = NULL, .fn = on_entity_event },
        { .subject = "sq.evt.entity.*.package", .queue = NULL, .fn = on_entity_event },
        { .subject = "sq.evt.entity.*.route", .queue = NULL, .fn = on_route_event },
    };
    if (sq_bus_serve(G.bus, events, sizeof events / sizeof events[0]) != SQ_OK ||
        sq_health_serve(G.bus, "gateway", NULL, NULL, 0) != SQ_OK || gw_http_start() != 0 ||
        gw_ws_start() != 0)
        goto out;
    if (pthread_create(&th, NULL, http_thread, NULL) != 0)
        goto out;
    gw_ready_start();
    gw_metrics_start();
    sq_info("ready");
    sq_info("received signal %d, shutting down", sq_signals_wait());
    gw_http_stop();
    pthread_join(th, NULL);
    G.stopping = true;
    gw_ready_stop();
    gw_metrics_stop();
    gw_ws_stop();
    rc = 0;
out:
    if (G.replies) {
        natsSubscription_Unsubscribe(G.replies);
        natsSubscription_Destroy(G.replies);
    }
    if (G.run_replies) {
        natsSubscription_Unsubscribe(G.run_replies);
        natsSubscription_Destroy(G.run_replies);
    }
    sq_bus_destroy(G.bus);
    gw_http_destroy();
    gw_web_cache_clear();
    gw_routes_cache_clear();
    sq_config_free(config, NCONFIG);
    nats_Close();
    return rc;
}
