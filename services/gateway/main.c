/* squall-gateway: wiring only. Loads the config, connects to NATS (send asap: every hop of
 * an invoke is latency-critical), subscribes the reply inbox, and runs the lws service
 * thread until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "proto/health.h"
#include "sq/log.h"
#include "sq/util.h"

gw G;

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

    if (sq_service_begin("squall-gateway") != 0 || gw_config_load() != SQ_OK)
        return 1;
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
    sq_service_wait("shutting down");
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
    gw_config_free();
    nats_Close();
    return rc;
}
