/* squall-invoker: wiring only. Config, NATS (send asap: the reply to a blocking caller is on
 * the hot path) with JetStream, the pull consumer for this invoker's durable work, the
 * subscription for its blocking work, then the threads: workers, pool keeper, fetcher and
 * heartbeat. SIGTERM drains: no new work is taken, work in hand finishes and is recorded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "invoker.h"
#include "proto/health.h"
#include "sq/log.h"
#include "sq/util.h"

inv I;

static void on_run(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    inv_enqueue(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
}

/* A root invoker runs bwrap as nobody: the runtimes it binds are copied where nobody can
 * read them (the tree may sit in a private home, which is never widened). */
static char staged_dir[4096];

static int runtime_setup(void)
{
    char dir[4096], native[4096], err[512];

    if (!I.cfg.sandbox || geteuid() != 0)
        return 0;
    if (inv_runtime_stage(I.cfg.runtime_dir, I.cfg.native_launcher, dir, sizeof dir, native,
                          sizeof native, err, sizeof err) != 0) {
        sq_error("could not stage the runtimes: %s", err);
        return -1;
    }
    char *d = strdup(dir), *n = strdup(native);
    if (d == NULL || n == NULL) {
        free(d);
        free(n);
        inv_runtime_unstage(dir);
        return -1;
    }
    free(I.cfg.runtime_dir);
    free(I.cfg.native_launcher);
    I.cfg.runtime_dir = d;
    I.cfg.native_launcher = n;
    snprintf(staged_dir, sizeof staged_dir, "%s", dir);
    sq_info("sandbox: runtimes staged in %s (readable by the sandbox user)", dir);
    return 0;
}

/* The port of the API when SQ_API_HOST is http://127.0.0.1:<port> (or localhost): the
 * sandboxes reach it at INV_NET_API_ADDR instead, the only door into the host. 0 otherwise
 * (an API host elsewhere is reached like any outside address). */
static int api_port(void)
{
    const char *h = I.cfg.api_host, *p;
    if (strncmp(h, "http://", 7) != 0)
        return 0;
    h += 7;
    if (strncmp(h, "127.0.0.1:", 10) == 0)
        p = h + 10;
    else if (strncmp(h, "localhost:", 10) == 0)
        p = h + 10;
    else
        return 0;
    return atoi(p);
}

/* Every sandbox's network namespace (netns.h): egress or loopback only, said in the log. */
static int net_setup(void)
{
    char describe[2048], err[512];
    bool fell_back = false;
    inv_net_opts o = { .mode = I.cfg.network,
                       .deny = I.cfg.net_deny,
                       .pool = I.cfg.net_pool,
                       .dns = I.cfg.net_dns,
                       .api_port = api_port() };

    if (inv_net_create(&I.net, &o, &fell_back, describe, sizeof describe, err, sizeof err) != 0) {
        sq_error("could not prepare the sandboxes' network: %s", err);
        return -1;
    }
    if (fell_back)
        sq_warn("sandbox: %s", describe);
    else
        sq_info("sandbox: %s", describe);
    if (inv_net_mode_of(I.net) == INV_NET_EGRESS && o.api_port > 0) {
        /* what actions are told: the API at the sandbox's next hop */
        snprintf(I.action_api_host, sizeof I.action_api_host, "http://%s:%d", INV_NET_API_ADDR,
                 o.api_port);
        sq_info(
            "sandbox: actions reach the API at %s (DNAT to 127.0.0.1:%d, nothing else of the host)",
            I.action_api_host, o.api_port);
    }
    return 0;
}

/* The host side of the sandbox (cgroups v1/v2 or none, seccomp), said in the log. */
static int sandbox_setup(void)
{
    char describe[2048], err[256];

    if (!I.cfg.sandbox)
        return 0;
    if (inv_sandbox_create(&I.sb, I.cfg.id, I.cfg.pids_max, describe, sizeof describe, err,
                           sizeof err) != 0) {
        sq_error("could not prepare the sandbox: %s", err);
        return -1;
    }
    if (inv_sandbox_cgroup_mode(I.sb) == INV_CG_NONE)
        sq_warn("sandbox: %s", describe);
    else
        sq_info("sandbox: %s", describe);
    if (I.cfg.freeze && !inv_sandbox_can_freeze(I.sb)) {
        sq_warn("no cgroup freezer: idle containers keep running between activations");
        I.cfg.freeze = false;
    }
    return runtime_setup() == 0 ? net_setup() : -1;
}

static sq_status subscribe_work(void)
{
    char tok[128], subj[160], durable[160];
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    if (sq_subj_token(I.cfg.id, tok, sizeof tok) != 0)
        return SQ_ERR_BAD_REQUEST;
    snprintf(subj, sizeof subj, SQ_SUBJ_WORK_FMT, tok);
    snprintf(durable, sizeof durable, "invoker-%s", tok);
    inv_metrics_init(durable);
    jsSubOptions_Init(&so);
    so.Stream = SQ_STREAM_WORK;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = 30LL * 1000000000LL;
    so.Config.MaxAckPending = 10000;
    s = js_PullSubscribe(&I.work_sub, sq_bus_js(I.bus), subj, durable, NULL, &so, &jerr);
    if (s != NATS_OK) {
        sq_error("could not subscribe to \"%s\": %s (%d)", subj, natsStatus_GetText(s), (int)jerr);
        return SQ_ERR_UNAVAILABLE;
    }
    return SQ_OK;
}

/* The threads (workers, pool keeper, heartbeat, fetcher), for the drain to join. */
static pthread_t keeper, hb, fetcher, *workers;
static int started;  /* workers running */
static bool threads; /* keeper, heartbeat and fetcher running */

static int start_threads(void)
{
    workers = calloc((size_t)I.cfg.workers, sizeof *workers);
    if (workers == NULL)
        return -1;
    for (; started < I.cfg.workers; started++)
        if (pthread_create(&workers[started], NULL, inv_worker, NULL) != 0)
            return -1;
    pthread_create(&keeper, NULL, inv_pool_keeper, NULL);
    pthread_create(&hb, NULL, inv_heartbeat, NULL);
    pthread_create(&fetcher, NULL, inv_fetcher, NULL);
    threads = true;
    return 0;
}

/* This invoker's blocking work (sq.invoker.<id>.run) and its health. */
static int serve(void)
{
    static char subj[160]; /* served for the process's life */
    char tok[128];

    if (sq_subj_token(I.cfg.id, tok, sizeof tok) != 0)
        return -1;
    snprintf(subj, sizeof subj, SQ_SUBJ_INVOKER_RUN_FMT, tok);
    sq_bus_route routes[] = { { .subject = subj, .queue = NULL, .fn = on_run } };
    if (sq_bus_serve(I.bus, routes, 1) != SQ_OK ||
        sq_health_serve(I.bus, "invoker", I.cfg.id,
                        (sq_health_check[]){ { .name = "jetstream", .stream = SQ_STREAM_WORK } },
                        1) != SQ_OK)
        return -1;
    return 0;
}

/* The drain: announce it, stop taking work, let the work in hand finish; then every thread
 * joined and the pool emptied. */
static void drain(void)
{
    I.draining = true;
    if (threads) {
        pthread_join(fetcher, NULL);
        natsSubscription_Unsubscribe(I.work_sub);
    }
    pthread_mutex_lock(&I.lock);
    while (I.head != NULL || I.busy > 0)
        pthread_cond_wait(&I.work_cv, &I.lock);
    I.stopping = true;
    pthread_cond_broadcast(&I.work_cv);
    pthread_cond_broadcast(&I.pool_cv);
    pthread_cond_broadcast(&I.mem_cv);
    pthread_mutex_unlock(&I.lock);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i], NULL);
    if (threads) {
        pthread_join(keeper, NULL);
        pthread_join(hb, NULL);
    }
    inv_records_stop(); /* every record acknowledged before the drain ends */
    inv_pool_shutdown();
}

int main(void)
{
    int rc = 1;

    if (sq_service_begin("squall-invoker") != 0 || inv_config_load() != SQ_OK)
        return 1;
    I.started_ms = sq_now_ms();
    if (inv_ident_resolve() != 0)
        return 1;
    sq_log_set_instance(I.cfg.id); /* its instance id from here on */
    if (sandbox_setup() != 0)
        return 1;
    if (!I.cfg.sandbox) {
        sq_warn("sandbox disabled: actions run as bare processes without isolation");
        I.cfg.freeze = false;
    }
    pthread_mutex_init(&I.lock, NULL);
    pthread_cond_init(&I.work_cv, NULL);
    pthread_cond_init(&I.pool_cv, NULL);
    pthread_cond_init(&I.mem_cv, NULL);

    if (sq_bus_connect(&I.bus, &(sq_bus_opts){ .url = I.cfg.nats_url,
                                               .name = "squall-invoker",
                                               .send_asap = true,
                                               .jetstream = true }) != SQ_OK ||
        inv_ident_claim() != 0 ||
        sq_streams_ensure(sq_bus_js(I.bus), 0, SQ_STREAMS_WORK | SQ_STREAMS_ACTIVATIONS) != SQ_OK ||
        inv_records_start() != SQ_OK || subscribe_work() != SQ_OK || start_threads() != 0 ||
        serve() != 0)
        goto out;
    I.serving = true;
    sq_info("invoker \"%s\" ready with %d MB and %d workers", I.cfg.id, I.cfg.memory_mb,
            I.cfg.workers);
    sq_service_wait("draining");
    rc = 0;
out:
    drain();
    inv_sandbox_destroy(I.sb);
    inv_net_destroy(I.net);
    if (*staged_dir)
        inv_runtime_unstage(staged_dir);
    natsSubscription_Destroy(I.work_sub);
    inv_ident_close();
    sq_bus_destroy(I.bus);
    free(workers);
    inv_config_free();
    nats_Close();
    sq_info("stopped");
    return rc;
}
