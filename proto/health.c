/* Health per instance; see health.h. */
#include "proto/health.h"
#include "proto/proto.h"
#include "sq/log.h"
#include "sq/metrics.h"
#include "sq/mp.h"
#include "sq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CHECKS 4

static struct {
    char svc[64], instance[96], host[128];
    int64_t started;
    sq_health_check checks[MAX_CHECKS];
    size_t n;
} H;

static void check_js(sq_bus_t *b, const char *stream, char *out, size_t outlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    jsOptions o;
    natsStatus s;
    jsCtx *js = sq_bus_js(b);

    if (js == NULL) {
        snprintf(out, outlen, "no JetStream context");
        return;
    }
    jsOptions_Init(&o);
    o.Wait = 1500;
    s = js_GetStreamInfo(&si, js, stream, &o, &jerr);
    if (s == NATS_OK && si != NULL) {
        if (si->Cluster != NULL && (si->Cluster->Leader == NULL || si->Cluster->Leader[0] == '\0'))
            snprintf(out, outlen, "stream %s has no leader", stream);
        else
            snprintf(out, outlen, "ok");
    } else if (s == NATS_TIMEOUT)
        snprintf(out, outlen, "stream %s: no answer from JetStream in time", stream);
    else
        snprintf(out, outlen, "stream %s: %s (%d)", stream, natsStatus_GetText(s), (int)jerr);
    jsStreamInfo_Destroy(si);
}

static msgpack_object str_object(const char *s)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_STR };
    o.via.str.ptr = s;
    o.via.str.size = (uint32_t)strlen(s);
    return o;
}

static void on_health(sq_bus_t *b, natsMsg *msg, void *closure)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char why[MAX_CHECKS][256];
    msgpack_object_kv kv[MAX_CHECKS];
    char *failed[MAX_CHECKS];
    /* a local bound: the compiler cannot see what the probes (calls) do to H */
    size_t nfailed = 0, n = H.n < MAX_CHECKS ? H.n : MAX_CHECKS;
    (void)closure;

    for (size_t i = 0; i < n; i++) {
        if (H.checks[i].pg_dsn != NULL && H.checks[i].pg_ping != NULL)
            H.checks[i].pg_ping(H.checks[i].pg_dsn, why[i], sizeof why[i]);
        else if (H.checks[i].pg_dsn != NULL)
            snprintf(why[i], sizeof why[i], "no PostgreSQL probe in this build");
        else if (H.checks[i].stream != NULL)
            check_js(b, H.checks[i].stream, why[i], sizeof why[i]);
        else
            snprintf(why[i], sizeof why[i], "ok");
        kv[i].key = str_object(H.checks[i].name);
        kv[i].val = str_object(why[i]);
        if (strcmp(why[i], "ok") != 0)
            failed[nfailed++] = (char *)H.checks[i].name;
    }
    sq_health answer = { .ok = nfailed == 0,
                         .service = H.svc,
                         .pid = getpid(),
                         .instance = H.instance,
                         .host = H.host,
                         .started = H.started,
                         .checks = { .type = MSGPACK_OBJECT_MAP,
                                     .via.map = { .size = (uint32_t)n, .ptr = kv } },
                         .failed = failed,
                         .nfailed = nfailed };
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sq_health_encode(&answer, &pk);
    sq_bus_respond(b, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* The JetStream pending counts of the registered consumers (one request each, bounded). */
static void js_pending(sq_bus_t *b, sq_metrics_set *set, const char *base)
{
    const char *stream, *consumer;
    jsCtx *js = sq_bus_js(b);
    char labels[512];

    for (size_t i = 0; js != NULL && sq_metrics_js_consumer_at(i, &stream, &consumer); i++) {
        jsConsumerInfo *ci = NULL;
        jsErrCode jerr = 0;
        jsOptions o;
        jsOptions_Init(&o);
        o.Wait = 1000;
        if (js_GetConsumerInfo(&ci, js, stream, consumer, &o, &jerr) != NATS_OK || ci == NULL)
            continue;
        snprintf(labels, sizeof labels, "%s,stream=\"%s\",consumer=\"%s\"", base, stream, consumer);
        sq_metrics_set_sample(set, "sq_jetstream_consumer_pending", "gauge",
                              "messages of the stream not yet delivered to the consumer", "",
                              labels, (double)ci->NumPending);
        sq_metrics_set_sample(set, "sq_jetstream_consumer_ack_pending", "gauge",
                              "messages delivered to the consumer and not yet acknowledged", "",
                              labels, (double)ci->NumAckPending);
        jsConsumerInfo_Destroy(ci);
    }
}

/* sq.<svc>.metrics[.<instance>]: this process's series plus what only the bus knows. */
static void on_metrics(sq_bus_t *b, natsMsg *msg, void *closure)
{
    sq_metrics_set *set = sq_metrics_set_create();
    natsStatistics *stats = NULL;
    msgpack_sbuffer sb;
    char base[256];
    (void)closure;

    if (set == NULL)
        return;
    snprintf(base, sizeof base, "service=\"%s\",instance=\"%s\"", H.svc, H.instance);
    sq_metrics_set_sample(set, "sq_process_start_time_seconds", "gauge",
                          "when the process started serving, seconds since the epoch", "", base,
                          (double)H.started / 1000.0);
    if (natsStatistics_Create(&stats) == NATS_OK &&
        natsConnection_GetStats(sq_bus_nc(b), stats) == NATS_OK) {
        uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0, reconnects = 0;
        natsStatistics_GetCounts(stats, &in_msgs, &in_bytes, &out_msgs, &out_bytes, &reconnects);
        sq_metrics_set_sample(set, "sq_nats_reconnects_total", "counter",
                              "reconnections of the NATS connection", "", base, (double)reconnects);
        sq_metrics_set_sample(set, "sq_nats_in_messages_total", "counter",
                              "messages received on the NATS connection", "", base,
                              (double)in_msgs);
        sq_metrics_set_sample(set, "sq_nats_out_messages_total", "counter",
                              "messages sent on the NATS connection", "", base, (double)out_msgs);
    }
    natsStatistics_Destroy(stats);
    js_pending(b, set, base);
    sq_metrics_collect(set, H.svc, H.instance);
    msgpack_sbuffer_init(&sb);
    if (sq_metrics_encode(set, H.svc, H.instance, &sb) == SQ_OK)
        sq_bus_respond(b, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    sq_metrics_set_destroy(set);
}

sq_status sq_health_serve(sq_bus_t *b, const char *svc, const char *instance,
                          const sq_health_check *checks, size_t n)
{
    char subj[4][256];

    if (n > MAX_CHECKS)
        return SQ_ERR_INTERNAL;
    snprintf(H.svc, sizeof H.svc, "%s", svc);
    sq_instance_token(instance ? instance : sq_instance_id(), H.instance, sizeof H.instance);
    if (gethostname(H.host, sizeof H.host - 1) != 0)
        snprintf(H.host, sizeof H.host, "unknown");
    H.started = sq_now_ms();
    sq_log_set_instance(H.instance);
    for (size_t i = 0; i < n; i++)
        H.checks[i] = checks[i];
    H.n = n;
    snprintf(subj[0], sizeof subj[0], "sq.%s.health", svc);
    snprintf(subj[1], sizeof subj[1], "sq.%s.health.%s", svc, H.instance);
    snprintf(subj[2], sizeof subj[2], "sq.%s.metrics", svc);
    snprintf(subj[3], sizeof subj[3], "sq.%s.metrics.%s", svc, H.instance);
    sq_bus_route r[4] = {
        { .subject = subj[0], .queue = NULL, .fn = on_health },
        { .subject = subj[1], .queue = NULL, .fn = on_health },
        { .subject = subj[2], .queue = NULL, .fn = on_metrics },
        { .subject = subj[3], .queue = NULL, .fn = on_metrics },
    };
    sq_info("health on %s and %s, metrics on %s and %s (instance \"%s\")", subj[0], subj[1],
            subj[2], subj[3], H.instance);
    return sq_bus_serve(b, r, 4);
}

natsStatus sq_health_ask(natsConnection *nc, const char *url, const char *const *svcs, int n,
                         natsSubscription **sub, char *box, size_t boxlen)
{
    natsInbox *inbox = NULL;
    char prefix[96], wildcard[256];
    natsStatus s = natsInbox_Create(&inbox);

    if (s == NATS_OK) {
        sq_nats_inbox_prefix(url, NULL, prefix, sizeof prefix);
        snprintf(box, boxlen, "%s%s", prefix, (const char *)inbox + strlen("_INBOX"));
        snprintf(wildcard, sizeof wildcard, "%s.*", box);
        s = natsConnection_SubscribeSync(sub, nc, wildcard);
    }
    natsInbox_Destroy(inbox);
    if (s == NATS_OK)
        s = natsSubscription_SetPendingLimits(*sub, -1, -1); /* every copy answers */
    for (int i = 0; s == NATS_OK && i < n; i++) {
        char subj[512], reply[300];
        snprintf(subj, sizeof subj, "sq.%s.health", svcs[i]);
        snprintf(reply, sizeof reply, "%s.%d", box, i);
        s = natsConnection_PublishRequest(nc, subj, reply, NULL, 0);
    }
    if (s == NATS_OK)
        s = natsConnection_Flush(nc);
    return s;
}
