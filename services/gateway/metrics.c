/* GET /metrics: the Prometheus text of every instance of every service, gathered over NATS.
 *
 * A thread asks sq.<svc>.metrics of every service (the gateway included: every copy of a
 * service answers, each with its own series labelled service and instance) every
 * SQ_GATEWAY_METRICS_MS, collects the answers for up to 1.5 s, merges them family by
 * family (sq_metrics_merge) and keeps the page. /metrics answers from the last page, never
 * waiting on the bus (like /readyz), so a sample is at most one period plus the gathering
 * old; the gateway adds sq_metrics_instances{service} (the answers it got) and
 * sq_metrics_gathered_timestamp_seconds. It gathers once at start and then only while
 * someone reads /metrics (a read in the last IDLE_MS): an idle deployment without a scraper
 * costs the bus and JetStream nothing; the first read after a pause gets the last page (its
 * timestamp says how old) and wakes the thread at once.
 *
 * Who may read it: with SQ_METRICS_TOKEN set, a request carrying `Authorization: Bearer
 * <token>` (from anywhere; any other request gets 401); without it, only peers on loopback
 * (127.0.0.0/8, ::1): a tenant's API key never opens it. The series carry no namespace,
 * action or key: nothing a tenant could learn about another. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "sq/log.h"
#include "sq/metrics.h"
#include "sq/util.h"
#include <sodium.h>

static const char *const SVCS[] = { "gateway", "auth",        "registry", "scheduler",
                                    "invoker", "activations", "triggers" };
#define NSVCS (sizeof SVCS / sizeof SVCS[0])
#define GATHER_MS 1500
#define IDLE_MS (5 * 60 * 1000)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *page; /* the last gathered page (malloc'd), NULL before the first */
static size_t page_len;
static pthread_t th;
static bool started;
static _Atomic int64_t last_read_ms; /* the last GET /metrics (sq_now_ms) */

static void one_round(natsConnection *nc, natsSubscription *sub, const char *inbox, uint64_t round)
{
    sq_metrics_set *set = sq_metrics_set_create();
    int answers[NSVCS] = { 0 };
    char subj[128], reply[256], *text;
    size_t len;
    int64_t deadline;

    if (set == NULL)
        return;
    for (size_t i = 0; i < NSVCS; i++) {
        snprintf(subj, sizeof subj, "sq.%s.metrics", SVCS[i]);
        snprintf(reply, sizeof reply, "%s.%llu.%zu", inbox, (unsigned long long)round, i);
        natsConnection_PublishRequest(nc, subj, reply, NULL, 0);
    }
    natsConnection_Flush(nc);
    deadline = sq_now_ms() + GATHER_MS;
    while (!G.stopping) {
        natsMsg *m = NULL;
        int64_t left = deadline - sq_now_ms();
        unsigned long long r;
        size_t idx;
        const char *s;
        natsStatus ns;

        if (left <= 0)
            break;
        ns = natsSubscription_NextMsg(&m, sub, left);
        if (ns == NATS_NO_RESPONDERS) {
            natsMsg_Destroy(m);
            continue;
        }
        if (ns != NATS_OK)
            break;
        s = natsMsg_GetSubject(m);
        if (strncmp(s, inbox, strlen(inbox)) == 0 &&
            sscanf(s + strlen(inbox), ".%llu.%zu", &r, &idx) == 2 && r == round && idx < NSVCS) {
            if (sq_metrics_merge(set, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m)) ==
                SQ_OK)
                answers[idx]++;
            else
                sq_warn("/metrics: a malformed answer from a copy of \"%s\" was left out",
                        SVCS[idx]);
        }
        natsMsg_Destroy(m);
    }
    for (size_t i = 0; i < NSVCS; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "service=\"%s\"", SVCS[i]);
        sq_metrics_set_sample(set, "sq_metrics_instances", "gauge",
                              "instances whose metrics the gateway gathered, by service", "",
                              labels, answers[i]);
    }
    sq_metrics_set_sample(set, "sq_metrics_gathered_timestamp_seconds", "gauge",
                          "when the gateway finished gathering this page", "", NULL,
                          (double)sq_now_ms() / 1000.0);
    text = sq_metrics_render(set, &len);
    sq_metrics_set_destroy(set);
    if (text == NULL)
        return;
    pthread_mutex_lock(&lock);
    free(page);
    page = text;
    page_len = len;
    pthread_mutex_unlock(&lock);
}

static void *metrics_thread(void *arg)
{
    natsConnection *nc = sq_bus_nc(G.bus);
    natsSubscription *sub = NULL;
    natsInbox *nuid = NULL;
    char inbox[160], wild[180];
    uint64_t round = 0;
    (void)arg;

    if (natsInbox_Create(&nuid) != NATS_OK)
        return NULL;
    snprintf(inbox, sizeof inbox, "%s.metrics.%s", sq_bus_inbox_prefix(G.bus),
             strrchr((const char *)nuid, '.') ? strrchr((const char *)nuid, '.') + 1
                                              : (const char *)nuid);
    natsInbox_Destroy(nuid);
    snprintf(wild, sizeof wild, "%s.>", inbox);
    if (natsConnection_SubscribeSync(&sub, nc, wild) != NATS_OK) {
        sq_warn("/metrics: could not subscribe to its inbox; /metrics will answer 503");
        return NULL;
    }
    natsSubscription_SetPendingLimits(sub, -1, -1);
    while (!G.stopping) {
        int64_t began = sq_now_ms(), next = began + G.cfg.metrics_ms;
        bool idle;
        one_round(nc, sub, inbox, ++round);
        /* idle: nobody read the page lately; wait for a read (checked every 50 ms) */
        do {
            while (!G.stopping && sq_now_ms() < next)
                usleep(50 * 1000);
            next = sq_now_ms() + 50;
            idle = sq_now_ms() - atomic_load(&last_read_ms) > IDLE_MS;
        } while (!G.stopping && idle && atomic_load(&last_read_ms) < began);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return NULL;
}

void gw_metrics_start(void)
{
    if (G.cfg.metrics_ms > 0)
        started = pthread_create(&th, NULL, metrics_thread, NULL) == 0;
}

void gw_metrics_stop(void)
{
    if (started)
        pthread_join(th, NULL);
    started = false;
    free(page);
    page = NULL;
}

static bool loopback_peer(struct lws *wsi)
{
    char ip[64] = "";
    if (wsi == NULL || lws_get_peer_simple(wsi, ip, sizeof ip) == NULL)
        return false;
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

static bool token_ok(const gw_req *r)
{
    const char *tok = G.cfg.metrics_token;
    size_t n = strlen(tok);
    if (strncmp(r->auth, "Bearer ", 7) != 0 || strlen(r->auth + 7) != n)
        return false;
    return sodium_memcmp(r->auth + 7, tok, n) == 0;
}

bool gw_metrics_route(gw_req *r)
{
    char *body;

    if (strcmp(r->path, "/metrics") != 0)
        return false;
    if (r->method == GW_HEAD)
        r->head_only = true;
    if (G.cfg.metrics_token != NULL && G.cfg.metrics_token[0] != '\0' ? !token_ok(r)
                                                                      : !loopback_peer(r->wsi)) {
        gw_respond_error(r, 401,
                         "/metrics needs the metrics token (or, without one set, a "
                         "loopback peer)");
        return true;
    }
    atomic_store(&last_read_ms, sq_now_ms());
    pthread_mutex_lock(&lock);
    body = page ? malloc(page_len + 1) : NULL;
    if (body != NULL)
        memcpy(body, page, page_len + 1);
    pthread_mutex_unlock(&lock);
    if (body == NULL) {
        gw_respond_error(r, 503,
                         G.cfg.metrics_ms > 0 ? "no metrics gathered yet"
                                              : "metrics are off (SQ_GATEWAY_METRICS_MS=0)");
        return true;
    }
    r->resp_ctype = "text/plain; version=0.0.4; charset=utf-8";
    gw_respond(r, 200, body, strlen(body));
    return true;
}
