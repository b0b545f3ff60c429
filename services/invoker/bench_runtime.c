/* bench_runtime: how long one activation of a trivial Node.js action takes, from the bare
 * floor to a cold sandbox, so that the cost of each layer of container.c stays visible.
 *
 *   bench_runtime [-n 2000] [-c 10] [-s 100] [-r runtime_dir] [-C]
 *
 * -C measures only cold_start_us and cold_start_bare_us (A/B runs of the cold path).
 *
 * Figures, one machine-readable line each (microseconds):
 *   runtime_floor_us   the bare launcher (no sandbox) driven by a minimal blocking loop:
 *                      write the line, read the fd 3 answer and both sentinels
 *   container_bare_us  a warm inv_container_run() on an unsandboxed container
 *   container_warm_us  a warm inv_container_run() under bwrap with the invoker's seccomp
 *                      filter and cgroups (what the invoker does)
 *   container_warm_freeze_us  the same, the container thawed before and frozen after every
 *                      run (cgroup freezer), both inside the timed window
 *   container_thaw_us  a warm run on a container frozen (and settled) before: thaw + run,
 *                      what the first activation after an idle period costs (-n / 4 runs)
 *   container_warm_spin_us  the same with opts.spin_us = -s (busy-poll before sleeping)
 *   cold_stem_us       init + first run on a stem cell already started (the invoker's cold
 *                      start when a stem cell of the kind is ready)
 *   cold_start_us      inv_container_start() + init + first run under bwrap (median of -c):
 *                      a cold start without a stem cell
 *   cold_start_bare_us the same without the sandbox
 *   cold_stem_python_us, cold_start_python_us, cold_stem_native_us: the same for python:3
 *                      and a native shell script
 *   net_setup_us       one container's network namespace, veth, address and routes
 *                      (netns.h, mode egress: made when a stem cell starts, so it is part of
 *                      cold_start_us and not of cold_stem_us); SQ_INVOKER_NETWORK=none
 *                      measures without (bwrap --unshare-net)
 *   cold_stem_nonet_us cold_stem_us for an action with network: false (the stem cell's veth
 *                      is taken down before init)
 *   idle_rss_kb        memory of one idle warm node container, every process of the sandbox
 *                      (both bwrap processes and node) summed: rss counts the node binary's
 *                      pages in every container, pss splits shared pages among their users
 *                      (what one more container really costs); memcg_kb is what its memory
 *                      cgroup is charged, where there is one
 * The action is `function main(a){return a}` and each input carries the six fields an
 * invoker sends. SQ_RUNTIME_DIR (or -r) names the runtimes directory (default: the one
 * beside this source file).
 *
 * On a VM, round trips are dominated by waking a sleeping vCPU (the caller and node on
 * different CPUs): compare with `taskset -c 0 bench_runtime`, which keeps both on one. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CODE "function main(a){return a}"
#define WARMUP 300
#define SENTINEL "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"

static const char LINE[] = "{\"value\":{\"name\":\"bench\",\"n\":1},\"activation_id\":"
                           "\"5a1f0c2e9b7d4e3fa1c0b2d3e4f5a6b7\",\"action_name\":\"/guest/bench\","
                           "\"deadline\":\"1790000000000\",\"namespace\":\"guest\","
                           "\"api_key\":\"23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
                           "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP\","
                           "\"api_host\":\"http://127.0.0.1:3233\"}";

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
    if (n <= 0) {
        printf("%s failed\n", name);
        return;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    int i99 = (int)(n * 0.99);
    if (i99 >= n)
        i99 = n - 1;
    printf("%s p50=%.0f p99=%.0f mean=%.0f n=%d\n", name, v[n / 2], v[i99], sum / n, n);
    fflush(stdout);
}

/* ---------------------------------------------------------------- the floor */

/* Reads from fd until a line equal to (or ending with) want has been read; blocking. */
static int read_until(int fd, char *buf, size_t cap, size_t *len, const char *want)
{
    size_t wl = strlen(want);
    for (;;) {
        if (*len >= wl && memcmp(buf + *len - wl, want, wl) == 0) {
            *len = 0;
            return 0;
        }
        if (*len == cap)
            *len = 0; /* nothing long is expected here */
        ssize_t r = read(fd, buf + *len, cap - *len);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return -1;
        }
        *len += (size_t)r;
    }
}

static int floor_bench(const char *runtime_dir, int n, double *out)
{
    int in[2], so[2], se[2], res[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(so, O_CLOEXEC) || pipe2(se, O_CLOEXEC) ||
        pipe2(res, O_CLOEXEC))
        return -1;
    /* Move everything above 10 so that dup2 onto 0..3 cannot clobber a source. */
    int *fds[] = { &in[0], &in[1], &so[0], &so[1], &se[0], &se[1], &res[0], &res[1] };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        int nfd = fcntl(*fds[i], F_DUPFD_CLOEXEC, 10);
        close(*fds[i]);
        *fds[i] = nfd;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, so[1], 1);
    posix_spawn_file_actions_adddup2(&fa, se[1], 2);
    posix_spawn_file_actions_adddup2(&fa, res[1], 3);
    char launcher[PATH_MAX + 32];
    snprintf(launcher, sizeof launcher, "%s/nodejs/launcher.js", runtime_dir);
    char *argv[] = { "/usr/bin/node", launcher, NULL };
    char *envp[] = { "PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(so[1]);
    close(se[1]);
    close(res[1]);
    if (rc != 0)
        return -1;

    char init[256];
    int il = snprintf(init, sizeof init,
                      "{\"init\":{\"code\":\"%s\",\"main\":\"main\",\"binary\":false}}\n", CODE);
    char rbuf[4096], obuf[4096], ebuf[4096];
    size_t rl = 0, ol = 0, el = 0;
    size_t ll = strlen(LINE);
    char *msg = malloc(ll + 1);
    memcpy(msg, LINE, ll);
    msg[ll] = '\n';
    int got = 0;
    if (write(in[1], init, (size_t)il) != il || read_until(res[0], rbuf, sizeof rbuf, &rl, "\n") ||
        read_until(so[0], obuf, sizeof obuf, &ol, SENTINEL) ||
        read_until(se[0], ebuf, sizeof ebuf, &el, SENTINEL))
        goto done;
    for (int i = 0; i < WARMUP + n; i++) {
        double t0 = now_us();
        if (write(in[1], msg, ll + 1) != (ssize_t)(ll + 1) ||
            read_until(res[0], rbuf, sizeof rbuf, &rl, "\n") ||
            read_until(so[0], obuf, sizeof obuf, &ol, SENTINEL) ||
            read_until(se[0], ebuf, sizeof ebuf, &el, SENTINEL))
            goto done;
        if (i >= WARMUP)
            out[got++] = now_us() - t0;
    }
done:
    free(msg);
    close(in[1]);
    close(so[0]);
    close(se[0]);
    close(res[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return got;
}

/* ---------------------------------------------------------------- through container.c */

static inv_sandbox_t *policy; /* the invoker's cgroups + seccomp, when this host has them */
static inv_net_t *netpol;     /* the invoker's network (egress as root, else none) */
static bool nonet;            /* init with no_network (an action with network: false) */

#ifndef SQ_NATIVE_LAUNCHER
#define SQ_NATIVE_LAUNCHER ""
#endif
static char native_launcher[PATH_MAX] = SQ_NATIVE_LAUNCHER; /* or its staged copy */

/* A started container of kind, not initialised, or NULL (said on stderr). */
static inv_container_t *start_only(const char *runtime_dir, const char *kind, bool sandbox,
                                   int spin_us)
{
    inv_container_opts o = { .runtime_dir = runtime_dir,
                             .kind = kind,
                             .memory_mb = 256,
                             .sandbox = sandbox,
                             .spin_us = spin_us,
                             .sb = sandbox ? policy : NULL,
                             .native_launcher = native_launcher,
                             .net = sandbox ? netpol : NULL };
    inv_container_t *c = NULL;
    char err[256];
    if (inv_container_start(&c, &o, err, sizeof err) != 0) {
        fprintf(stderr, "bench_runtime: could not start a container: %s\n", err);
        return NULL;
    }
    return c;
}

static const char *code_of(const char *kind)
{
    if (strcmp(kind, "python:3") == 0)
        return "def main(a):\n    return a\n";
    if (strcmp(kind, "native") == 0)
        return "#!/bin/sh\necho \"$1\"\n";
    return CODE;
}

/* A started node container with CODE initialised in it, or NULL (said on stderr). */
static inv_container_t *make(const char *runtime_dir, bool sandbox, int spin_us)
{
    inv_container_t *c = start_only(runtime_dir, "nodejs:20", sandbox, spin_us);
    if (!c)
        return NULL;
    inv_run_result r;
    inv_outcome oc = inv_container_init(c, CODE, "main", false, 10000, 1 << 20, &r);
    if (oc != INV_OK)
        fprintf(stderr, "bench_runtime: init failed: %s %s\n", inv_outcome_str(oc), r.result);
    inv_run_result_free(&r);
    if (oc != INV_OK) {
        inv_container_destroy(c);
        return NULL;
    }
    return c;
}

/* freeze 1: thaw before and freeze after every run, inside the timed window (what freezing
 * the container between every two activations would add to the warm path); 2: frozen
 * outside the window and left 2 ms to settle, then thaw + run timed (a warm activation
 * after an idle period, when the pool froze the container). */
static int warm_bench(const char *runtime_dir, bool sandbox, int spin_us, int freeze, int n,
                      double *out)
{
    inv_container_t *c = make(runtime_dir, sandbox, spin_us);
    if (!c)
        return 0;
    int got = 0;
    if (freeze && inv_container_freeze(c, true) != 0) {
        fprintf(stderr, "bench_runtime: this host has no cgroup freezer\n");
        inv_container_destroy(c);
        return 0;
    }
    for (int i = 0; i < WARMUP + n; i++) {
        inv_run_result r;
        if (freeze == 2)
            usleep(2000);
        double t0 = now_us();
        if (freeze)
            inv_container_freeze(c, false);
        inv_outcome oc = inv_container_run(c, LINE, 10000, 1 << 20, &r);
        if (freeze == 1)
            inv_container_freeze(c, true);
        double dt = now_us() - t0;
        if (freeze == 2)
            inv_container_freeze(c, true);
        inv_run_result_free(&r);
        if (oc != INV_OK) {
            fprintf(stderr, "bench_runtime: run failed: %s\n", inv_outcome_str(oc));
            break;
        }
        if (i >= WARMUP)
            out[got++] = dt;
    }
    inv_container_destroy(c);
    return got;
}

/* Init + first run on a started stem cell of kind (what a cold start costs the invoker when
 * the keeper had one ready); with stem false, the start is timed too; with sandbox false,
 * there is no bwrap. */
static int kind_cold_bench(const char *runtime_dir, const char *kind, bool sandbox, bool stem,
                           int n, double *out)
{
    int got = 0;
    for (int i = 0; i < n; i++) {
        double t0 = now_us();
        inv_container_t *c = start_only(runtime_dir, kind, sandbox, 0);
        if (!c)
            break;
        if (stem) {
            inv_container_warm(c); /* as the pool does (nodejs only) */
            usleep(300 * 1000);    /* the stem cell's runtime is up and waiting, as in the pool */
            t0 = now_us();
        }
        inv_run_result r;
        inv_init_opts io = { .code = code_of(kind), .main_name = "main", .no_network = nonet };
        inv_outcome oc = inv_container_init_ex(c, &io, 10000, 1 << 20, &r);
        inv_run_result_free(&r);
        if (oc == INV_OK)
            oc = inv_container_run(c, LINE, 10000, 1 << 20, &r);
        double dt = now_us() - t0;
        if (oc != INV_OK)
            fprintf(stderr, "bench_runtime: %s cold run failed: %s %s\n", kind, inv_outcome_str(oc),
                    r.result);
        inv_run_result_free(&r);
        inv_container_destroy(c);
        if (oc != INV_OK)
            break;
        out[got++] = dt;
    }
    return got;
}

/* inv_netc_create() alone. */
static int net_bench(int n, double *out)
{
    int got = 0;
    for (int i = 0; i < n; i++) {
        inv_netc_t nc;
        char err[256];
        double t0 = now_us();
        if (inv_netc_create(netpol, &nc, err, sizeof err) != 0) {
            fprintf(stderr, "bench_runtime: network setup failed: %s\n", err);
            break;
        }
        out[got++] = now_us() - t0;
        inv_netc_destroy(&nc);
    }
    return got;
}

/* "Rss:" or "Pss:" of /proc/pid/smaps_rollup, in kB. */
static long mem_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    long kb = 0;
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, strlen(key)) == 0)
            kb = atol(line + strlen(key));
    if (f)
        fclose(f);
    return kb;
}

/* Rss (or Pss) of pid and all its descendants. */
static long tree_kb(pid_t root, const char *key)
{
    int pids[64], n = 1;
    pids[0] = root;
    for (int i = 0, m; i < n && (m = inv_proc_children(pids[i], pids, n, 64)) >= 0; i++)
        n = m;
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += mem_kb(pids[i], key);
    return sum;
}

static void rss_bench(const char *runtime_dir)
{
    inv_container_t *c = make(runtime_dir, true, 0);
    if (!c) {
        printf("idle_rss_kb failed\n");
        return;
    }
    for (int i = 0; i < 200; i++) {
        inv_run_result r;
        inv_container_run(c, LINE, 10000, 1 << 20, &r);
        inv_run_result_free(&r);
    }
    usleep(500 * 1000); /* idle */
    long kb = tree_kb(inv_container_pid(c), "Rss:"), pss = tree_kb(inv_container_pid(c), "Pss:");
    int64_t cg = inv_container_memory_bytes(c);
    printf("idle_rss_kb rss=%ld pss=%ld memcg_kb=%lld\n", kb, pss,
           (long long)(cg > 0 ? cg / 1024 : -1));
    fflush(stdout);
    inv_container_destroy(c);
}

/* Start + init + first run of a node container, all timed (a cold start with no stem cell). */
static int cold_bench(const char *runtime_dir, bool sandbox, int n, double *out)
{
    return kind_cold_bench(runtime_dir, "nodejs:20", sandbox, false, n, out);
}

/* The sandbox policy (root only) and the network policy the invoker would use. */
static void setup_policies(void)
{
    char describe[2048], perr[256];
    if (geteuid() == 0 && inv_sandbox_create(&policy, "bench", 256, describe, sizeof describe, perr,
                                             sizeof perr) != 0)
        fprintf(stderr, "bench_runtime: no sandbox policy: %s\n", perr);
    bool fell_back;
    inv_net_opts nopt = { .mode = getenv("SQ_INVOKER_NETWORK") };
    if (inv_net_create(&netpol, &nopt, &fell_back, describe, sizeof describe, perr, sizeof perr) !=
        0)
        fprintf(stderr, "bench_runtime: no network policy: %s\n", perr);
    else
        fprintf(stderr, "bench_runtime: %s\n", describe);
}

/* -C: the cold starts alone, with and without the sandbox. */
static bool run_cold(const char *runtime_dir, int cold, double *v)
{
    int got = cold_bench(runtime_dir, true, cold, v);
    report("cold_start_us", v, got);
    bool ok = got == cold;
    got = cold_bench(runtime_dir, false, cold, v);
    report("cold_start_bare_us", v, got);
    return ok && got == cold;
}

/* Every figure, in the order of the list at the top, with v as scratch (max(n, cold)
 * entries). True when every figure that must succeed did. */
static bool run_all(const char *runtime_dir, int n, int cold, int spin, double *v)
{
    bool ok = true;
    int got = floor_bench(runtime_dir, n, v);
    report("runtime_floor_us", v, got);
    ok &= got == n;
    got = warm_bench(runtime_dir, false, 0, 0, n, v);
    report("container_bare_us", v, got);
    ok &= got == n;
    got = warm_bench(runtime_dir, true, 0, 0, n, v);
    report("container_warm_us", v, got);
    ok &= got == n;
    if (policy && inv_sandbox_cgroup_mode(policy) != INV_CG_NONE) {
        got = warm_bench(runtime_dir, true, 0, 1, n, v);
        report("container_warm_freeze_us", v, got);
        got = warm_bench(runtime_dir, true, 0, 2, n / 4 > 0 ? n / 4 : 1, v);
        report("container_thaw_us", v, got);
    }
    if (spin > 0) {
        got = warm_bench(runtime_dir, true, spin, 0, n, v);
        report("container_warm_spin_us", v, got);
        ok &= got == n;
    }
    got = kind_cold_bench(runtime_dir, "nodejs:20", true, true, cold, v);
    report("cold_stem_us", v, got);
    ok &= got == cold;
    if (inv_net_mode_of(netpol) == INV_NET_EGRESS) {
        got = net_bench(cold, v);
        report("net_setup_us", v, got);
        nonet = true;
        got = kind_cold_bench(runtime_dir, "nodejs:20", true, true, cold, v);
        report("cold_stem_nonet_us", v, got);
        nonet = false;
    }
    got = cold_bench(runtime_dir, true, cold, v);
    report("cold_start_us", v, got);
    ok &= got == cold;
    got = cold_bench(runtime_dir, false, cold, v);
    report("cold_start_bare_us", v, got);
    ok &= got == cold;
    got = kind_cold_bench(runtime_dir, "python:3", true, true, cold, v);
    report("cold_stem_python_us", v, got);
    got = kind_cold_bench(runtime_dir, "python:3", true, false, cold, v);
    report("cold_start_python_us", v, got);
    if (*native_launcher) {
        got = kind_cold_bench(runtime_dir, "native", true, true, cold, v);
        report("cold_stem_native_us", v, got);
    }
    rss_bench(runtime_dir);
    return ok;
}

int main(int argc, char **argv)
{
    int n = 2000, cold = 10, spin = 100;
    bool cold_only = false;
    char runtime_dir[PATH_MAX], perr[256];
    const char *env = getenv("SQ_RUNTIME_DIR");
    if (env && *env) {
        snprintf(runtime_dir, sizeof runtime_dir, "%s", env);
    } else {
        /* <repo>/services/invoker/bench_runtime.c -> <repo>/services/invoker/runtimes */
        const char *slash = strrchr(__FILE__, '/');
        int len = slash ? (int)(slash - __FILE__) : 1;
        snprintf(runtime_dir, sizeof runtime_dir, "%.*s/runtimes", len, slash ? __FILE__ : ".");
    }
    setup_policies();
    int opt;
    while ((opt = getopt(argc, argv, "n:c:s:r:C")) != -1) {
        switch (opt) {
        case 'n': n = atoi(optarg); break;
        case 'c': cold = atoi(optarg); break;
        case 's': spin = atoi(optarg); break;
        case 'r': snprintf(runtime_dir, sizeof runtime_dir, "%s", optarg); break;
        case 'C': cold_only = true; break;
        default:
            fprintf(stderr,
                    "usage: %s [-n runs] [-c cold starts] [-s spin_us] [-r runtime_dir] [-C]\n",
                    argv[0]);
            return 2;
        }
    }
    char staged[PATH_MAX] = "";
    if (geteuid() == 0) {
        /* as the invoker: bwrap runs as nobody, who may not reach the tree */
        if (inv_runtime_stage(runtime_dir, native_launcher, staged, sizeof staged, native_launcher,
                              sizeof native_launcher, perr, sizeof perr) != 0) {
            fprintf(stderr, "bench_runtime: cannot stage the runtimes: %s\n", perr);
            return 1;
        }
        snprintf(runtime_dir, sizeof runtime_dir, "%s", staged);
    }
    if (n < 1 || cold < 1) {
        fprintf(stderr, "bench_runtime: -n and -c must be positive\n");
        return 2;
    }
    double *v = malloc(sizeof *v * (size_t)(n > cold ? n : cold));
    if (!v)
        return 1;
    bool ok = cold_only ? run_cold(runtime_dir, cold, v) : run_all(runtime_dir, n, cold, spin, v);
    free(v);
    inv_sandbox_destroy(policy);
    inv_net_destroy(netpol);
    if (*staged)
        inv_runtime_unstage(staged);
    return ok ? 0 : 1;
}
