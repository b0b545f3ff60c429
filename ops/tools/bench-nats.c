/* bench-nats: the physical floors of the bus.
 *
 * Default: one hop and back. A responder and a requester, each with its own connection
 * (SendAsap on, as every latency-critical Squall connection), on the same nats-server; prints
 * the request/reply round-trip p50/p99/mean in microseconds.
 *
 * --inflight K --seconds S: the same two connections with K requests always outstanding (a
 * reply sends the next request): request/reply round trips per second, the floor of a load
 * of K connections.
 *
 * --js --inflight K --seconds S: JetStream's floor: asynchronous publishes of BYTES to a
 * file-stored stream of its own (made, then deleted), each with a Nats-Msg-Id (duplicate
 * detection on, as SQ_WORK and SQ_ACTIVATIONS), at most K waiting for their ack: acks per
 * second. The user needs the right to make streams: ops/bench.sh runs it on a nats-server
 * of its own.
 *
 * Usage: bench-nats [--url U] [-n N] [--size BYTES] [--inflight K --seconds S [--js]] */
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sq/bus.h"

static void echo(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg),
                           natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static natsConnection *connect_asap(const char *url)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    char prefix[96], shown[512];
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url);
    natsOptions_SetSendAsap(o, true);
    sq_nats_inbox_prefix(url, NULL, prefix, sizeof prefix); /* where this user may listen */
    natsOptions_SetCustomInboxPrefix(o, prefix);
    if (natsConnection_Connect(&nc, o) != NATS_OK) {
        sq_nats_url_redact(url, shown, sizeof shown);
        fprintf(stderr, "bench-nats: could not connect to %s\n", shown);
        exit(2);
    }
    natsOptions_Destroy(o);
    return nc;
}

/* ---- --inflight: round trips per second with K outstanding */
static natsConnection *rt_cli;
static const char *rt_payload;
static int rt_size;
static atomic_llong rt_done;
static atomic_bool rt_running;

/* each outstanding request has its own reply subject (<inbox>.<slot>): a user allowed to
 * answer one response per request (allow_responses) answers one per distinct reply subject */
static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    char reply[320];
    snprintf(reply, sizeof reply, "%s", natsMsg_GetSubject(msg));
    atomic_fetch_add(&rt_done, 1);
    natsMsg_Destroy(msg);
    if (atomic_load(&rt_running))
        natsConnection_PublishRequest(rt_cli, "bench.floor.echo", reply, rt_payload, rt_size);
}

static int throughput_rr(const char *url, int k, int secs, const char *payload, int size)
{
    natsConnection *srv = connect_asap(url);
    natsSubscription *echo_sub = NULL, *reply_sub = NULL;
    char inbox[256], wild[300], reply[320];
    long long t0, n0;

    rt_cli = connect_asap(url);
    natsConnection_Subscribe(&echo_sub, srv, "bench.floor.echo", echo, NULL);
    natsConnection_Flush(srv);
    char prefix[96];
    sq_nats_inbox_prefix(url, NULL, prefix, sizeof prefix); /* where this user may listen */
    snprintf(inbox, sizeof inbox, "%s.floor%d", prefix, (int)getpid());
    rt_payload = payload, rt_size = size;
    snprintf(wild, sizeof wild, "%s.*", inbox);
    natsConnection_Subscribe(&reply_sub, rt_cli, wild, on_reply, NULL);
    natsConnection_Flush(rt_cli);
    atomic_store(&rt_running, true);
    for (int i = 0; i < k; i++) {
        snprintf(reply, sizeof reply, "%s.%d", inbox, i);
        natsConnection_PublishRequest(rt_cli, "bench.floor.echo", reply, payload, size);
    }
    sleep(1); /* warm up */
    n0 = atomic_load(&rt_done), t0 = now_us();
    sleep((unsigned)secs);
    long long n = atomic_load(&rt_done) - n0, us = now_us() - t0;
    atomic_store(&rt_running, false);
    usleep(200000);
    printf("nats_rr_rps rps=%lld inflight=%d seconds=%d n=%lld\n", n * 1000000 / (us > 0 ? us : 1),
           k, secs, n);
    natsSubscription_Destroy(reply_sub);
    natsSubscription_Destroy(echo_sub);
    natsConnection_Destroy(rt_cli);
    natsConnection_Destroy(srv);
    return n > 0 ? 0 : 1;
}

/* ---- --js: acknowledged JetStream publishes per second with at most K waiting */
static atomic_llong js_acked, js_failed;

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    if (pae != NULL)
        atomic_fetch_add(&js_failed, 1);
    else
        atomic_fetch_add(&js_acked, 1);
    natsMsg_Destroy(msg);
}

static int throughput_js(const char *url, int k, int secs, const char *payload, int size)
{
    natsConnection *nc = connect_asap(url);
    jsCtx *js = NULL;
    jsOptions jo;
    jsStreamConfig cfg;
    jsErrCode jerr = 0;
    char stream[64], subj[80], id[48];
    const char *subjects[1] = { subj };
    long long seq = 0, t0 = 0, n0 = 0, end;

    snprintf(stream, sizeof stream, "BENCH_FLOOR_%d", (int)getpid());
    snprintf(subj, sizeof subj, "bench.floor.js.%d", (int)getpid());
    jsOptions_Init(&jo);
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.MaxPending = k;
    if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK) {
        fprintf(stderr, "bench-nats: no JetStream context\n");
        return 1;
    }
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = 120LL * 1000000000LL; /* two minutes, as the platform's streams */
    if (js_AddStream(NULL, js, &cfg, NULL, &jerr) != NATS_OK) {
        fprintf(stderr, "bench-nats: could not make stream %s (%d): %s\n", stream, (int)jerr,
                nats_GetLastError(NULL));
        return 1;
    }
    end = now_us() + 1000000; /* warm up */
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 1)
            n0 = atomic_load(&js_acked), t0 = now_us(), end = t0 + secs * 1000000LL;
        while (now_us() < end) {
            jsPubOptions po;
            jsPubOptions_Init(&po);
            snprintf(id, sizeof id, "%d-%lld", (int)getpid(), ++seq);
            po.MsgId = id;
            po.MaxWait = 200; /* the stall while K wait for their ack */
            js_PublishAsync(js, subj, payload, size, &po);
        }
    }
    long long n = atomic_load(&js_acked) - n0, us = now_us() - t0;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 10000;
    js_PublishAsyncComplete(js, &po);
    printf("nats_js_rps rps=%lld inflight=%d seconds=%d n=%lld failed=%lld bytes=%d\n",
           n * 1000000 / (us > 0 ? us : 1), k, secs, n, (long long)atomic_load(&js_failed), size);
    js_DeleteStream(js, stream, NULL, NULL);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return n > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *url = getenv("SQ_NATS_URL") ? getenv("SQ_NATS_URL") : "nats://127.0.0.1:4222";
    int n = 5000, size = 128, inflight = 0, secs = 5;
    bool use_js = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--inflight") && i + 1 < argc)
            inflight = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            secs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--js"))
            use_js = true;
    }
    if (size < 1 || size > 1 << 20 || secs < 1 || inflight < 0) {
        fprintf(stderr, "bench-nats: usage: bench-nats [--url U] [-n N] [--size BYTES] "
                        "[--inflight K --seconds S [--js]]\n");
        return 2;
    }
    if (inflight > 0 || use_js) {
        char *p = malloc((size_t)size);
        memset(p, 'x', (size_t)size);
        int rc = use_js ? throughput_js(url, inflight > 0 ? inflight : 32, secs, p, size)
                        : throughput_rr(url, inflight, secs, p, size);
        free(p);
        return rc;
    }
    if (n < 10)
        n = 10;
    natsConnection *srv = connect_asap(url), *cli = connect_asap(url);
    natsSubscription *sub = NULL;
    natsConnection_Subscribe(&sub, srv, "bench.floor.echo", echo, NULL);
    natsConnection_Flush(srv);
    char *payload = calloc(1, (size_t)size + 1);
    memset(payload, 'x', (size_t)size);
    long long *t = malloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n / 10; i++) { /* warm up */
        natsMsg *r = NULL;
        natsConnection_Request(&r, cli, "bench.floor.echo", payload, size, 1000);
        natsMsg_Destroy(r);
    }
    for (int i = 0; i < n; i++) {
        natsMsg *r = NULL;
        long long a = now_us();
        if (natsConnection_Request(&r, cli, "bench.floor.echo", payload, size, 1000) != NATS_OK) {
            fprintf(stderr, "bench-nats: request failed\n");
            return 1;
        }
        t[i] = now_us() - a;
        natsMsg_Destroy(r);
    }
    long long sum = 0;
    for (int i = 0; i < n; i++)
        sum += t[i];
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("nats_floor_us p50=%lld p99=%lld mean=%lld n=%d\n", t[n / 2], t[n * 99 / 100], sum / n,
           n);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(cli);
    natsConnection_Destroy(srv);
    free(t);
    free(payload);
    return 0;
}
