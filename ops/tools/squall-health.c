/*
 * squall-health: ask each named service for its health over NATS.
 *
 *   squall-health [--url U] [--timeout-ms N] svc...
 *
 * Sends one request to `sq.<svc>.health` (empty payload) per service, all at
 * once, and waits at most the timeout (default 500 ms) for the answers.
 * Exits 0 when every service answered, 1 otherwise (naming the silent ones on
 * stderr), 2 on a usage error or when NATS cannot be reached.
 * The URL defaults to $SQ_NATS_URL, else nats://127.0.0.1:4222.
 */
#include <nats/nats.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/bus.h"
#include "proto/health.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: squall-health [--url U] [--timeout-ms N] svc...\n"
               "  asks sq.<svc>.health for each svc; exit 0 if all answered\n");
}

/* Waits until the deadline for the answers on sub (subjects <box>.<service index>, n
 * services), marking each service's first in answered; returns how many never answered. */
static int await_answers(natsSubscription *sub, const char *box, int n, int64_t deadline,
                         bool *answered)
{
    int remaining = n;
    size_t boxlen = strlen(box) + 1;
    while (remaining > 0) {
        int64_t left = deadline - nats_Now();
        if (left <= 0)
            break;
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, sub, left);
        if (s == NATS_TIMEOUT)
            break;
        if (s == NATS_NO_RESPONDERS)
            continue; /* some service has no subscriber (yet): it stays unanswered */
        if (s != NATS_OK) {
            fprintf(stderr, "squall-health: %s\n", natsStatus_GetText(s));
            break;
        }
        const char *subject = natsMsg_GetSubject(m);
        if (!natsMsg_IsNoResponders(m) && strlen(subject) > boxlen) {
            char *end = NULL;
            long idx = strtol(subject + boxlen, &end, 10);
            if (end && *end == '\0' && idx >= 0 && idx < n && !answered[idx]) {
                answered[idx] = true;
                remaining--;
            }
        }
        natsMsg_Destroy(m);
    }
    return remaining;
}

int main(int argc, char **argv)
{
    const char *url = getenv("SQ_NATS_URL");
    if (url == NULL || *url == '\0')
        url = "nats://127.0.0.1:4222";
    long timeout_ms = 500;
    int first = sq_tool_options(argc, argv, "squall-health", usage, &url, &timeout_ms, LONG_MAX);

    if (first < 0)
        return first == -1 ? 0 : 2;
    int n = argc - first;
    if (n <= 0) {
        usage(stderr);
        return 2;
    }
    const char *const *svcs = (const char *const *)(argv + first);

    int64_t deadline = nats_Now() + timeout_ms;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    bool *answered = calloc((size_t)n, sizeof *answered);
    int rc = 2;
    natsStatus s = answered ? NATS_OK : NATS_NO_MEMORY;

    char shown[512];
    sq_nats_url_redact(url, shown, sizeof shown); /* for messages: no password */
    if (s == NATS_OK)
        s = sq_nats_tool_connect(&nc, url, "squall-health", timeout_ms);
    if (s != NATS_OK) {
        fprintf(stderr, "squall-health: cannot connect to %s: %s\n", shown, natsStatus_GetText(s));
        goto out;
    }

    /* one reply subject per service: <box>.<index> */
    char box[160] = "";
    s = sq_health_ask(nc, url, svcs, n, &sub, box, sizeof box);
    if (s != NATS_OK) {
        fprintf(stderr, "squall-health: request failed: %s\n", natsStatus_GetText(s));
        goto out;
    }

    rc = await_answers(sub, box, n, deadline, answered) == 0 ? 0 : 1;
    for (int i = 0; i < n; i++)
        if (!answered[i])
            fprintf(stderr, "squall-health: %s did not answer within %ld ms\n", svcs[i],
                    timeout_ms);

out:
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    free(answered);
    nats_Close();
    return rc;
}
