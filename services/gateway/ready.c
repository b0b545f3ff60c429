/* GET /healthz and GET /readyz, without a key.
 *
 * /healthz: the gateway is alive (its event loop answers): 200 {ok, service, instance}.
 * /readyz: every service the REST API needs is reachable. A thread asks
 * sq.<svc>.health of auth, registry, scheduler, invoker, activations and triggers every
 * SQ_GATEWAY_READY_MS (every 500 ms while one is missing; all at once, answers collected for up to 1 s: every copy of a
 * service answers); /readyz answers from the last round, never waiting on the bus:
 * 200 when each service had at least one copy answering ok, else 503 with `failed`
 * (services without a healthy copy); `services` lists each copy's answer (instance,
 * checks, failed). A round older than three periods counts as no answer. */
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "proto/health.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

static const char *const SVCS[] = { "auth",    "registry",    "scheduler",
                                    "invoker", "activations", "triggers" };
#define NSVCS (sizeof SVCS / sizeof SVCS[0])

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *snapshot;    /* {services: {svc: [answer...]}, failed: [...], ok} */
static int64_t snapshot_at; /* ms */
static pthread_t th;
static bool started;

static bool one_round(natsConnection *nc, natsSubscription *sub, const char *inbox, uint64_t round)
{
    json_t *services = json_object(), *failed = json_array();
    bool healthy[NSVCS] = { false };
    char subj[128], reply[256];
    int64_t deadline;

    for (size_t i = 0; i < NSVCS; i++) {
        json_object_set_new(services, SVCS[i], json_array());
        snprintf(subj, sizeof subj, "sq.%s.health", SVCS[i]);
        snprintf(reply, sizeof reply, "%s.%llu.%zu", inbox, (unsigned long long)round, i);
        natsConnection_PublishRequest(nc, subj, reply, NULL, 0);
    }
    natsConnection_Flush(nc);
    deadline = sq_now_ms() + 1000;
    for (;;) {
        natsMsg *m = NULL;
        int64_t left = deadline - sq_now_ms();
        bool all = true;
        for (size_t i = 0; i < NSVCS; i++)
            all = all && healthy[i];
        if (all || left <= 0 || G.stopping)
            break;
        natsStatus ns = natsSubscription_NextMsg(&m, sub, left);
        /* a service without any copy: the server says so at once (a status message) */
        if (ns == NATS_NO_RESPONDERS) {
            natsMsg_Destroy(m);
            continue;
        }
        if (ns != NATS_OK)
            break;
        {
            const char *s = natsMsg_GetSubject(m);
            unsigned long long r;
            size_t idx;
            msgpack_zone z;
            msgpack_object o;
            sq_health h;
            if (strncmp(s, inbox, strlen(inbox)) == 0 &&
                sscanf(s + strlen(inbox), ".%llu.%zu", &r, &idx) == 2 && r == round &&
                idx < NSVCS) {
                msgpack_zone_init(&z, 1024);
                if (sq_mp_unpack(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &z, &o) ==
                        SQ_OK &&
                    o.type == MSGPACK_OBJECT_MAP) {
                    json_array_append_new(json_object_get(services, SVCS[idx]), sq_mp_to_json(&o));
                    if (sq_health_from(&o, &z, &h, NULL, 0) == SQ_OK && h.ok)
                        healthy[idx] = true;
                }
                msgpack_zone_destroy(&z);
            }
        }
        natsMsg_Destroy(m);
    }
    for (size_t i = 0; i < NSVCS; i++)
        if (!healthy[i])
            json_array_append_new(failed, json_string(SVCS[i]));
    pthread_mutex_lock(&lock);
    json_decref(snapshot);
    snapshot = json_pack("{s:b, s:o, s:o}", "ok", json_array_size(failed) == 0, "failed", failed,
                         "services", services);
    snapshot_at = sq_now_ms();
    pthread_mutex_unlock(&lock);
    return json_array_size(failed) == 0;
}

static void *ready_thread(void *arg)
{
    natsConnection *nc = sq_bus_nc(G.bus);
    natsSubscription *sub = NULL;
    natsInbox *nuid = NULL;
    char inbox[160], wild[180];
    uint64_t round = 0;

    if (natsInbox_Create(&nuid) != NATS_OK)
        return NULL;
    /* below this user's inbox prefix, the only place it may listen (NATS permissions) */
    snprintf(inbox, sizeof inbox, "%s.ready.%s", sq_bus_inbox_prefix(G.bus),
             strrchr((const char *)nuid, '.') ? strrchr((const char *)nuid, '.') + 1
                                              : (const char *)nuid);
    natsInbox_Destroy(nuid);
    snprintf(wild, sizeof wild, "%s.>", inbox);
    if (natsConnection_SubscribeSync(&sub, nc, wild) != NATS_OK) {
        sq_warn("/readyz: could not subscribe to its inbox; /readyz will answer 503");
        return NULL;
    }
    natsSubscription_SetPendingLimits(sub, -1, -1);
    while (!G.stopping) {
        int64_t next = sq_now_ms() + G.cfg.ready_ms;
        /* while not ready, ask again sooner: /readyz turns 200 soon after the last one is up */
        if (!one_round(nc, sub, inbox, ++round) && G.cfg.ready_ms > 500)
            next = sq_now_ms() + 500;
        while (!G.stopping && sq_now_ms() < next)
            usleep(50 * 1000);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return NULL;
}

void gw_ready_start(void)
{
    started = pthread_create(&th, NULL, ready_thread, NULL) == 0;
}

void gw_ready_stop(void)
{
    if (started)
        pthread_join(th, NULL);
    started = false;
    json_decref(snapshot);
    snapshot = NULL;
}

static void respond(gw_req *r, int status, json_t *j)
{
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (txt == NULL)
        gw_respond_error(r, 500, "could not encode the response");
    else
        gw_respond(r, status, txt, strlen(txt));
}

bool gw_health_route(gw_req *r)
{
    if (strcmp(r->path, "/healthz") != 0 && strcmp(r->path, "/readyz") != 0)
        return false;
    if (r->method == GW_HEAD)
        r->head_only = true;
    if (strcmp(r->path, "/healthz") == 0) {
        respond(r, 200,
                json_pack("{s:b, s:s, s:s}", "ok", 1, "service", "gateway", "instance",
                          sq_instance_id()));
        return true;
    }
    if (strcmp(r->path, "/readyz") == 0) {
        json_t *j;
        bool fresh;
        pthread_mutex_lock(&lock);
        fresh = snapshot != NULL && sq_now_ms() - snapshot_at <= 3LL * G.cfg.ready_ms + 1000;
        j = snapshot ? json_deep_copy(snapshot) : NULL;
        pthread_mutex_unlock(&lock);
        if (j == NULL || !fresh) {
            json_decref(j);
            respond(r, 503,
                    json_pack("{s:b, s:s}", "ok", 0, "error",
                              "no recent health round (starting, or NATS is unreachable)"));
            return true;
        }
        respond(r, json_is_true(json_object_get(j, "ok")) ? 200 : 503, j);
        return true;
    }
    return false;
}
