/* bench-nats: the physical floor of one hop on the bus. A responder and a requester, each
 * with its own connection (SendAsap on, as every latency-critical Squall connection), on the
 * same nats-server; prints the request/reply round-trip p50/p99/mean in microseconds.
 * Usage: bench-nats [--url U] [-n N] [--size BYTES] */
#include <nats/nats.h>
#include <stdio.h>
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

int main(int argc, char **argv)
{
    const char *url = getenv("SQ_NATS_URL") ? getenv("SQ_NATS_URL") : "nats://127.0.0.1:4222";
    int n = 5000, size = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            url = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = atoi(argv[++i]);
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
