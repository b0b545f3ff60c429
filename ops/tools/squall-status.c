/*
 * squall-status: every instance of every service seen on the bus, one line each.
 *
 *   squall-status [--url U] [--timeout-ms N] [svc...]
 *
 * Sends one request to `sq.<svc>.health` (empty payload) per service (default: all seven),
 * all at once; every copy of a service answers that subject, so the answers that come
 * within the timeout (default 1000 ms) are every live instance, wherever it runs. Prints
 *
 *   SERVICE      INSTANCE                 HOST             PID      UPTIME    HEALTH
 *   scheduler    vm-1234                  vm               1234     2h03m     ok
 *   auth         vm-1240                  vm               1240     2h03m     failed: postgresql (no answer from the server)
 *   triggers     -                        -                -        -         no answer
 *
 * sorted by service (in the order asked) then instance. Exits 0 when every service had an
 * instance answering and every answer was healthy, 1 otherwise, 2 on a usage error or when
 * NATS cannot be reached. The URL defaults to $SQ_NATS_URL, else nats://127.0.0.1:4222;
 * the ops user may ask every service's health (ops/squall's NATS permissions).
 */
#include <nats/nats.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/bus.h"
#include "proto/health.h"
#include "proto/proto.h"
#include "sq/mp.h"
#include "sq/util.h"

static const char *const ALL[] = { "gateway", "auth",        "registry", "scheduler",
                                   "invoker", "activations", "triggers" };
#define MAX_ROWS 1024

typedef struct row {
    int svc; /* index into the services asked */
    char instance[96], host[128], health[512];
    long long pid, started;
    bool ok;
} row;

static void usage(FILE *f)
{
    fprintf(f, "usage: squall-status [--url U] [--timeout-ms N] [svc...]\n"
               "  every instance answering sq.<svc>.health (default: all services), one line "
               "each\n");
}

/* s into out, control bytes made '?' (a terminal is no place for them); "?" when NULL */
static void copy_str(const char *s, char *out, size_t outlen)
{
    size_t n, i;
    if (s == NULL)
        s = "?";
    n = strlen(s);
    n = n < outlen - 1 ? n : outlen - 1;
    for (i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    out[n] = '\0';
}

/* the failed checks and why: "failed: name (why), ..." */
static void failures(const sq_health *h, char *out, size_t outlen)
{
    size_t off = (size_t)snprintf(out, outlen, "failed:");
    for (size_t i = 0; i < h->nfailed && off < outlen; i++) {
        char name[64], why[256] = "";
        const msgpack_object *w = sq_mp_get(&h->checks, h->failed[i]);
        copy_str(h->failed[i], name, sizeof name);
        if (w != NULL && w->type == MSGPACK_OBJECT_STR) {
            char *tmp = strndup(w->via.str.ptr, w->via.str.size);
            copy_str(tmp, why, sizeof why);
            free(tmp);
        }
        off += (size_t)snprintf(out + off, outlen - off, "%s %s (%s)", i ? "," : "", name, why);
    }
}

/* An answer into r (proto/'s sq_health): false when it is not a health answer. */
static bool decode(const char *data, size_t len, row *r)
{
    msgpack_zone z;
    sq_health h;
    char err[160];
    bool good = false;

    msgpack_zone_init(&z, 1024);
    if (sq_health_decode(data, len, &z, &h, err, sizeof err) != SQ_OK)
        goto out;
    copy_str(h.instance, r->instance, sizeof r->instance);
    copy_str(h.host, r->host, sizeof r->host);
    r->pid = h.pid;
    r->started = h.started;
    r->ok = h.ok;
    if (r->ok)
        snprintf(r->health, sizeof r->health, "ok");
    else
        failures(&h, r->health, sizeof r->health);
    good = true;
out:
    msgpack_zone_destroy(&z);
    return good;
}

static int by_svc_instance(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->svc != y->svc)
        return x->svc - y->svc;
    return strcmp(x->instance, y->instance);
}

static void uptime(long long started_ms, char *out, size_t outlen)
{
    long long s = started_ms > 0 ? (sq_now_ms() - started_ms) / 1000 : -1;
    if (s < 0)
        snprintf(out, outlen, "-");
    else if (s < 60)
        snprintf(out, outlen, "%llds", s);
    else if (s < 3600)
        snprintf(out, outlen, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, outlen, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else
        snprintf(out, outlen, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

/* Service names are [a-z_-]+ (they go into a subject). */
static bool names_ok(const char *const *svcs, int n)
{
    for (int i = 0; i < n; i++)
        for (const char *p = svcs[i]; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || *p == '-' || *p == '_')) {
                fprintf(stderr, "squall-status: bad service name '%s'\n", svcs[i]);
                return false;
            }
    return true;
}

/* The rows of the answers that come on sub (subjects <box>.<service index>, n services)
 * until the deadline; seen[i] counts service i's. */
static void collect(natsSubscription *sub, const char *box, int n, int64_t deadline, row *rows,
                    int *nrows, int *seen)
{
    for (;;) {
        int64_t left = deadline - nats_Now();
        natsMsg *m = NULL;
        const char *subject;
        char *end = NULL;
        long idx;
        natsStatus s;
        if (left <= 0)
            break;
        s = natsSubscription_NextMsg(&m, sub, left);
        if (s == NATS_TIMEOUT)
            break;
        if (s == NATS_NO_RESPONDERS) {
            natsMsg_Destroy(m);
            continue;
        }
        if (s != NATS_OK) {
            fprintf(stderr, "squall-status: %s\n", natsStatus_GetText(s));
            break;
        }
        subject = natsMsg_GetSubject(m);
        if (!natsMsg_IsNoResponders(m) && strlen(subject) > strlen(box) + 1 &&
            (idx = strtol(subject + strlen(box) + 1, &end, 10)) >= 0 && end && *end == '\0' &&
            idx < n && *nrows < MAX_ROWS) {
            row *r = &rows[*nrows];
            r->svc = (int)idx;
            if (decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), r)) {
                (*nrows)++;
                seen[idx]++;
            }
        }
        natsMsg_Destroy(m);
    }
}

/* Prints the table (rows sorted by service); 1 when a service had no answer or an unhealthy
 * one, else 0. */
static int print_table(const char *const *svcs, int n, row *rows, int nrows, const int *seen)
{
    int rc = 0;
    qsort(rows, (size_t)nrows, sizeof *rows, by_svc_instance);
    printf("%-12s %-28s %-20s %-8s %-9s %s\n", "SERVICE", "INSTANCE", "HOST", "PID", "UPTIME",
           "HEALTH");
    for (int i = 0, k = 0; i < n; i++) {
        if (seen[i] == 0) {
            printf("%-12s %-28s %-20s %-8s %-9s %s\n", svcs[i], "-", "-", "-", "-", "no answer");
            rc = 1;
        }
        for (; k < nrows && rows[k].svc == i; k++) {
            char up[32];
            uptime(rows[k].started, up, sizeof up);
            printf("%-12s %-28s %-20s %-8lld %-9s %s\n", svcs[i], rows[k].instance, rows[k].host,
                   rows[k].pid, up, rows[k].health);
            if (!rows[k].ok)
                rc = 1;
        }
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *url = getenv("SQ_NATS_URL");
    long timeout_ms = 1000;
    int first = 1, n;
    const char *const *svcs;

    if (url == NULL || *url == '\0')
        url = "nats://127.0.0.1:4222";
    if ((first = sq_tool_options(argc, argv, "squall-status", usage, &url, &timeout_ms, 600000)) <
        0)
        return first == -1 ? 0 : 2;
    n = argc - first;
    svcs = n > 0 ? (const char *const *)argv + first : ALL;
    if (n <= 0)
        n = (int)(sizeof ALL / sizeof ALL[0]);
    if (!names_ok(svcs, n))
        return 2;

    int64_t deadline = nats_Now() + timeout_ms;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    row *rows = calloc(MAX_ROWS, sizeof *rows);
    int *seen = calloc((size_t)n, sizeof *seen);
    int nrows = 0, rc = 2;
    natsStatus s = rows && seen ? NATS_OK : NATS_NO_MEMORY;
    char shown[512], box[160] = "";

    sq_nats_url_redact(url, shown, sizeof shown); /* for messages: no password */
    if (s == NATS_OK)
        s = sq_nats_tool_connect(&nc, url, "squall-status", timeout_ms);
    if (s != NATS_OK) {
        fprintf(stderr, "squall-status: cannot connect to %s: %s\n", shown, natsStatus_GetText(s));
        goto out;
    }
    /* <box>.<service index> */
    s = sq_health_ask(nc, url, svcs, n, &sub, box, sizeof box);
    if (s != NATS_OK) {
        fprintf(stderr, "squall-status: request failed: %s\n", natsStatus_GetText(s));
        goto out;
    }
    /* every copy answers: collect until the timeout */
    collect(sub, box, n, deadline, rows, &nrows, seen);
    rc = print_table(svcs, n, rows, nrows, seen);
out:
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    free(rows);
    free(seen);
    nats_Close();
    return rc;
}
