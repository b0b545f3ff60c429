/* One sandboxed runtime process and its four pipes: its lifecycle (killing the whole sandbox,
 * freezing, liveness) and the collection of its log lines. Spawning is in container_start.c,
 * the actionloop exchange in container_exchange.c, concurrent containers in
 * container_concurrent.c; container_int.h holds what they share. Only libc and jansson: it
 * does not depend on libsq, so the invoker's pool and its tests can use it on their own. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* the build also defines it */
#endif
#include "container_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

const char *inv_outcome_str(inv_outcome o)
{
    switch (o) {
    case INV_OK: return "ok";
    case INV_APP_ERROR: return "application error";
    case INV_THROWN: return "thrown";
    case INV_NOT_OBJECT: return "not an object";
    case INV_TIMEOUT: return "timeout";
    case INV_CRASH: return "crash";
    case INV_OOM: return "memory exhausted";
    case INV_INIT_ERROR: return "init error";
    case INV_INTERNAL: return "internal error";
    }
    return "unknown";
}

int64_t ct_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t ct_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- results and logs */

/* {"error": "<msg>"} as malloc'd text; NULL only when out of memory. */
static char *error_json(const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

void ct_set_failure(inv_run_result *out, inv_outcome oc, const char *msg)
{
    out->outcome = oc;
    free(out->result);
    out->result = error_json(msg);
}

/* Formats "<UTC timestamp> <stream>: <text>" into a new string. */
static char *format_line(inv_container_t *c, const struct timespec *ts, const char *stream,
                         const char *text, size_t n)
{
    if (ts->tv_sec != c->ts_sec || c->ts_prefix[0] == '\0') {
        struct tm tm;
        gmtime_r(&ts->tv_sec, &tm);
        strftime(c->ts_prefix, sizeof c->ts_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        c->ts_sec = ts->tv_sec;
    }
    size_t plen = strlen(c->ts_prefix), slen = strlen(stream);
    /* prefix + ".123456789Z " + stream + ": " + text + NUL */
    char *s = malloc(plen + 12 + slen + 2 + n + 1);
    if (!s)
        return NULL;
    char *p = s;
    memcpy(p, c->ts_prefix, plen);
    p += plen;
    *p++ = '.';
    long ns = ts->tv_nsec;
    for (int i = 8; i >= 0; i--) {
        p[i] = (char)('0' + ns % 10);
        ns /= 10;
    }
    p += 9;
    *p++ = 'Z';
    *p++ = ' ';
    memcpy(p, stream, slen);
    p += slen;
    *p++ = ':';
    *p++ = ' ';
    memcpy(p, text, n);
    p[n] = '\0';
    return s;
}

_Thread_local inv_log_hook_fn inv_log_hook;
_Thread_local void *inv_log_hook_arg;

static void push_line(collect_t *k, char *line)
{
    inv_run_result *out = k->out;
    if (!line) {
        k->nomem = true;
        return;
    }
    if (out->nlogs == k->cap) {
        size_t ncap = k->cap ? k->cap * 2 : 16;
        char **nl = realloc(out->logs, ncap * sizeof *nl);
        if (!nl) {
            free(line);
            k->nomem = true;
            return;
        }
        out->logs = nl;
        k->cap = ncap;
    }
    out->logs[out->nlogs++] = line;
    if (inv_log_hook)
        inv_log_hook(inv_log_hook_arg, line);
}

/* Keeps one line of the action's output unless the log limit has been reached. */
void ct_add_log(inv_container_t *c, collect_t *k, int which, const char *text, size_t n,
                const struct timespec *ts)
{
    if (k->out->logs_truncated)
        return;
    if (n > k->limit - k->used) {
        k->out->logs_truncated = true;
        return;
    }
    k->used += n;
    push_line(k, format_line(c, ts, which == S_OUT ? "stdout" : "stderr", text, n));
}

void ct_finish_logs(inv_container_t *c, collect_t *k)
{
    if (!k->out->logs_truncated)
        return;
    char msg[160];
    int n = snprintf(msg, sizeof msg, MSG_TRUNC, k->limit);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    push_line(k, format_line(c, &ts, "stderr", msg, (size_t)n));
}

void inv_run_result_free(inv_run_result *r)
{
    if (!r)
        return;
    free(r->result);
    for (size_t i = 0; i < r->nlogs; i++)
        free(r->logs[i]);
    free(r->logs);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- streams */

ssize_t ct_fill(stream_t *s)
{
    if (s->cap - s->len < READ_MIN) {
        size_t ncap = s->cap * 2;
        while (ncap - s->len < READ_MIN)
            ncap *= 2;
        char *nb = realloc(s->buf, ncap);
        if (!nb) {
            s->eof = true;
            return -1;
        }
        s->buf = nb;
        s->cap = ncap;
    }
    for (;;) {
        ssize_t r = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (r > 0) {
            s->len += (size_t)r;
            return r;
        }
        if (r == 0) {
            s->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            s->eof = true;
        return -1;
    }
}

/* ---------------------------------------------------------------- killing */

void ct_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
        ;
}

/* Kills everything the container runs and waits until it is gone; idempotent.
 * Sandboxed, the PID namespace's init is killed first: the kernel then kills every other
 * process of the namespace, and bwrap outside, its parent, reaps it and exits. Killing the
 * outer bwrap first instead would leave that init to the host's init as a zombie. */
void ct_kill_sandbox(inv_container_t *c)
{
    /* A task frozen by the v1 freezer does not even die of SIGKILL until it is thawed. */
    if (c->frozen && inv_cg_freeze(&c->cg, false) == 0)
        c->frozen = false;
    c->alive = false;
    if (c->ns_pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, c->ns_pidfd, SIGKILL, NULL, 0);
        if (c->pidfd >= 0)
            wait_readable(c->pidfd, REAP_WAIT_MS);
    }
    if (c->pid > 0) {
        kill(-c->pid, SIGKILL); /* not sandboxed: node and whatever it started, or a stuck bwrap */
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid = -1;
    }
    if (c->ns_pidfd >= 0) {
        /* Readable once the namespace's init has exited, which it does only after the kernel
     * has killed and reaped every other process of the namespace. */
        wait_readable(c->ns_pidfd, REAP_WAIT_MS);
        ct_close_fd(&c->ns_pidfd);
    }
    ct_close_fd(&c->pidfd);
    ct_close_fd(&c->in_fd);
    for (int i = 0; i < NSTREAMS; i++)
        ct_close_fd(&c->s[i].fd);
}

void inv_container_destroy(inv_container_t *c)
{
    if (!c)
        return;
    ct_kill_sandbox(c);
    inv_cg_destroy(&c->cg);
    inv_netc_destroy(&c->net);
    for (int i = 0; i < NSTREAMS; i++)
        free(c->s[i].buf);
    if (c->mu_init) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(c);
}

int inv_container_freeze(inv_container_t *c, bool frozen)
{
    if (!c || !c->alive || !inv_cg_can_freeze(&c->cg))
        return -1;
    if (c->frozen == frozen)
        return 0;
    if (inv_cg_freeze(&c->cg, frozen) != 0)
        return -1;
    c->frozen = frozen;
    return 0;
}

bool inv_container_frozen(const inv_container_t *c)
{
    return c && c->frozen;
}

int inv_container_concurrency(const inv_container_t *c)
{
    return c && c->concurrency > 1 ? c->concurrency : 1;
}

int64_t inv_container_memory_bytes(const inv_container_t *c)
{
    return c ? inv_cg_memory_bytes(&c->cg) : -1;
}

bool inv_container_alive(inv_container_t *c)
{
    if (!c || !c->alive)
        return false;
    if (c->concurrency > 1) {
        /* Other threads may be reading its pipes: only they tear it down. */
        pthread_mutex_lock(&c->mu);
        if (c->alive && !c->reading && !c->waiters && c->pidfd >= 0) {
            struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
            if (poll(&p, 1, 0) != 0)
                ct_kill_sandbox(c);
        }
        bool alive = c->alive;
        pthread_mutex_unlock(&c->mu);
        return alive;
    }
    /* Bytes on fd 3 between activations (the action wrote there itself): the protocol is out
   * of step, and the next result line could be a stale one. */
    if (c->s[S_RES].fd >= 0 && c->init_ok) {
        struct pollfd r = { .fd = c->s[S_RES].fd, .events = POLLIN };
        if (poll(&r, 1, 0) > 0) {
            ct_kill_sandbox(c);
            return false;
        }
    }
    if (c->pidfd >= 0) {
        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
        if (poll(&p, 1, 0) != 0) {
            ct_kill_sandbox(c);
            return false;
        }
    }
    return true;
}

pid_t inv_container_pid(const inv_container_t *c)
{
    return c ? c->pid : -1;
}
