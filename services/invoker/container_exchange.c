/* The actionloop exchange on a container: a JSON line in on stdin, a JSON line out on fd 3,
 * stdout and stderr read as log lines up to the end-of-activation sentinel, under one
 * deadline; then the outcome, classified the way OpenWhisk reports it. One ppoll() loop over
 * non-blocking pipe ends with no per-run allocation beyond what the result hands back (the
 * result text, and one string per log line). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll; the build also defines it */
#endif
#include "container_int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <jansson.h>

static bool ends_with_sentinel(const char *line, size_t n)
{
    return n >= SENT_LEN && memcmp(line + n - SENT_LEN, SENTINEL, SENT_LEN) == 0;
}

/* Consumes the complete lines of a log stream up to its sentinel. A line that ends with
 * the sentinel (output without a final newline, then the sentinel) keeps its text. */
static void consume_log(inv_container_t *c, collect_t *k, int which, const struct timespec *ts)
{
    stream_t *s = &c->s[which];
    char *line = s->buf, *end = s->buf + s->len, *scan = s->buf + s->scanned, *nl;

    while (!s->done && (nl = memchr(scan, '\n', (size_t)(end - scan))) != NULL) {
        size_t n = (size_t)(nl - line);
        bool last = ends_with_sentinel(line, n);
        if (last)
            n -= SENT_LEN;
        if (s->skipping)
            s->skipping = false; /* its head is gone: the limit was already reached */
        else if (n > 0 || !last)
            ct_add_log(c, k, which, line, n, ts);
        s->done = last;
        line = scan = nl + 1;
    }
    size_t rest = (size_t)(end - line);
    if (line != s->buf && rest > 0)
        memmove(s->buf, line, rest);
    s->len = rest;
    s->scanned = s->done ? 0 : rest;
    /* A partial line that can no longer fit is dropped now, but for the tail that may turn
   * out to hold the sentinel. */
    if (!s->done && rest > SENT_LEN &&
        (k->out->logs_truncated || rest - SENT_LEN > k->limit - k->used)) {
        if (!s->skipping && !k->out->logs_truncated)
            k->out->logs_truncated = true;
        s->skipping = true;
        memmove(s->buf, s->buf + rest - SENT_LEN, SENT_LEN);
        s->len = s->scanned = SENT_LEN;
    }
}

/* After the sandbox died: was it the kernel's OOM killer (or a runtime's own heap limit,
 * which node reports before it aborts)? Logs are the lines collected so far. */
static bool died_of_oom(inv_container_t *c, const inv_run_result *out)
{
    if (inv_cg_oom_killed(&c->cg))
        return c->oom = true;
    for (size_t i = out->nlogs; i > 0 && i + 20 > out->nlogs; i--)
        if (strstr(out->logs[i - 1], "JavaScript heap out of memory"))
            return c->oom = true;
    return false;
}

/* ---------------------------------------------------------------- the exchange */

/* Writes what the runtime's stdin takes of line + '\n'. Returns 0, or -1 when the runtime
 * is gone (EPIPE). SIGPIPE is blocked by the caller. */
int ct_push_input(inv_container_t *c, const char *line, size_t len, size_t *off)
{
    while (*off < len + 1) {
        struct iovec iov[2];
        int n = 0;
        if (*off < len)
            iov[n++] = (struct iovec){ .iov_base = (char *)line + *off, .iov_len = len - *off };
        iov[n++] = (struct iovec){ .iov_base = (char *)"\n", .iov_len = 1 };
        ssize_t w = writev(c->in_fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return -1;
        }
        *off += (size_t)w;
    }
    return 0;
}

int inv_container_warm(inv_container_t *c)
{
    static const char line[] = "{\"warm\":true}";
    size_t off = 0;
    if (c == NULL || !c->alive || c->initialised || strncmp(c->kind, "nodejs", 6) != 0)
        return -1;
    /* an empty pipe takes the whole line at once */
    return ct_push_input(c, line, sizeof line - 1, &off) == 0 && off == sizeof line ? 0 : -1;
}

/* Classifies the fd 3 line of an activation and sets out->outcome and out->result. */
static void classify_run(inv_run_result *out, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        ct_set_failure(out, INV_CRASH, MSG_BAD_JSON);
        return;
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        /* an object, or an array as current OpenWhisk runtimes allow */
        ct_set_failure(out, INV_NOT_OBJECT, MSG_NOT_DICT);
    } else if (json_is_object(v) && json_object_get(v, THROWN_KEY)) {
        json_object_del(v, THROWN_KEY);
        out->outcome = INV_THROWN;
        out->result = json_dumps(v, JSON_COMPACT);
    } else {
        out->outcome = json_is_object(v) && json_object_get(v, "error") ? INV_APP_ERROR : INV_OK;
        out->result = malloc(n + 1);
        if (out->result) {
            memcpy(out->result, line, n);
            out->result[n] = '\0';
        }
    }
    json_decref(v);
    if (!out->result)
        out->outcome = INV_INTERNAL; /* out of memory; result stays NULL */
}

static void classify_init(inv_run_result *out, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, n, 0, &jerr);
    json_t *e = json_is_object(v) ? json_object_get(v, "error") : NULL;
    if (json_is_object(v) && json_is_true(json_object_get(v, "ok")) && !e) {
        out->outcome = INV_OK;
        out->result = strdup("{\"ok\":true}");
    } else if (e) {
        json_t *o = json_pack("{s:O}", "error", e);
        out->outcome = INV_INIT_ERROR;
        out->result = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
    } else {
        ct_set_failure(out, INV_CRASH, MSG_CRASH_INIT);
    }
    json_decref(v);
    if (!out->result)
        out->outcome = INV_INTERNAL;
}

/* One exchange under way: the input being written, the logs collected, the deadlines. */
typedef struct {
    inv_container_t *c;
    const char *line; /* the input, written with a '\n' after it */
    size_t len, off;  /* off: bytes of line + '\n' written so far */
    collect_t k;
    int64_t deadline, eof_deadline, spin_until; /* CLOCK_MONOTONIC ns */
    bool timed_out, broken, epipe;
} xchg_t;

/* Writes what stdin takes of the rest of the input; a runtime that is gone (EPIPE) ends the
 * writing and breaks the exchange. */
static void xchg_write(xchg_t *x)
{
    if (ct_push_input(x->c, x->line, x->len, &x->off) < 0) {
        x->off = x->len + 1;
        x->epipe = x->broken = true;
    }
}

static bool xchg_finished(const xchg_t *x)
{
    const stream_t *s = x->c->s;
    return s[S_RES].done && s[S_OUT].done && s[S_ERR].done && x->off == x->len + 1;
}

/* The pollfds of one round: stdin while input is left, the streams not yet done, the
 * pidfd. who[j] says what p[j] is: -1 stdin, -2 the pidfd, else the stream. */
static int xchg_pollset(const xchg_t *x, struct pollfd p[5], int who[5])
{
    inv_container_t *c = x->c;
    int n = 0;
    if (x->off < x->len + 1) {
        p[n] = (struct pollfd){ .fd = c->in_fd, .events = POLLOUT };
        who[n++] = -1;
    }
    for (int i = 0; i < NSTREAMS; i++) {
        if (!c->s[i].done && !c->s[i].eof) {
            p[n] = (struct pollfd){ .fd = c->s[i].fd, .events = POLLIN };
            who[n++] = i;
        }
    }
    if (c->pidfd >= 0) {
        p[n] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
        who[n++] = -2;
    }
    return n;
}

/* Reads the ready stream i: a '\n' completes the result (which may not grow past
 * RESULT_MAX), log lines are collected, stamped once per round (*stamped). A stream at EOF
 * before it is done starts the grace the others get. */
static void xchg_read(xchg_t *x, int i, struct timespec *ts, bool *stamped)
{
    stream_t *s = &x->c->s[i];
    if (ct_fill(s) > 0) {
        if (i == S_RES) {
            char *nl = memchr(s->buf + s->scanned, '\n', s->len - s->scanned);
            if (nl)
                s->done = true;
            else
                s->scanned = s->len;
            if (s->len > RESULT_MAX)
                s->eof = true; /* handled by xchg_settle() as too large */
        } else {
            if (!*stamped) {
                clock_gettime(CLOCK_REALTIME, ts);
                *stamped = true;
            }
            consume_log(x->c, &x->k, i, ts);
        }
    }
    if (s->eof && !s->done && x->eof_deadline == INT64_MAX)
        x->eof_deadline = ct_mono_ns() + EOF_GRACE_NS;
}

/* Everything in the sandbox is dead: takes what the pipes still hold. */
static void xchg_drain(xchg_t *x)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = 0; i < NSTREAMS; i++) {
        stream_t *s = &x->c->s[i];
        while (!s->done && !s->eof && ct_fill(s) > 0) {
            if (i == S_RES) {
                if (memchr(s->buf, '\n', s->len))
                    s->done = true;
            } else {
                consume_log(x->c, &x->k, i, &ts);
            }
        }
    }
}

/* Waits for one round of events (or only looks while spinning) and handles them. Returns
 * false when the exchange ends early: timed_out or broken is then set. */
static bool xchg_round(xchg_t *x)
{
    struct pollfd p[5];
    int who[5];
    int n = xchg_pollset(x, p, who);
    int64_t now = ct_mono_ns();
    if (now >= x->deadline) {
        x->timed_out = true;
        return false;
    }
    if (now >= x->eof_deadline) {
        x->broken = true;
        return false;
    }
    int64_t left = (x->eof_deadline < x->deadline ? x->eof_deadline : x->deadline) - now;
    if (now < x->spin_until)
        left = 0; /* still spinning: only look */
    struct timespec tmo = { .tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL };
    int r = ppoll(p, (nfds_t)n, &tmo, NULL);
    if (r < 0) {
        if (errno == EINTR)
            return true;
        x->broken = true;
        return false;
    }
    if (r == 0)
        return true;
    struct timespec ts;
    bool stamped = false, gone = false;
    for (int j = 0; j < n; j++) {
        if (!p[j].revents)
            continue;
        if (who[j] == -1)
            xchg_write(x);
        else if (who[j] == -2)
            gone = true;
        else
            xchg_read(x, who[j], &ts, &stamped);
    }
    if (gone) {
        xchg_drain(x);
        x->broken = true;
        return false;
    }
    return true;
}

/* The outcome once the loop has ended: a timeout, a result too large, no result (the OOM
 * killer, or a crash), or the result line classified. The sandbox is killed whenever the
 * protocol cannot go on. */
static void xchg_settle(xchg_t *x, int timeout_ms, bool init, inv_run_result *out)
{
    inv_container_t *c = x->c;
    stream_t *rs = &c->s[S_RES];
    char *nl = rs->done ? memchr(rs->buf, '\n', rs->len) : NULL;
    if (x->timed_out) {
        char msg[128];
        snprintf(msg, sizeof msg, "The action exceeded its time limits of %d milliseconds%s",
                 timeout_ms, init ? " during initialization." : ".");
        ct_kill_sandbox(c);
        ct_set_failure(out, INV_TIMEOUT, msg);
    } else if (rs->len > RESULT_MAX && !nl) {
        char msg[160];
        snprintf(
            msg, sizeof msg,
            "The action produced a response that exceeded the allowed length: %zu > %zu bytes.",
            rs->len, RESULT_MAX);
        ct_kill_sandbox(c);
        ct_set_failure(out, INV_CRASH, msg);
    } else if (!nl) {
        ct_kill_sandbox(c);
        if (died_of_oom(c, out))
            ct_set_failure(out, INV_OOM, MSG_OOM);
        else
            ct_set_failure(out, INV_CRASH, init ? MSG_CRASH_INIT : MSG_CRASH_RUN);
    } else {
        if (init)
            classify_init(out, rs->buf, (size_t)(nl - rs->buf));
        else
            classify_run(out, rs->buf, (size_t)(nl - rs->buf));
        /* The protocol is out of step if the runtime died after its answer, if what came on
         * fd 3 was no JSON at all, or if more than one line came (the action wrote there). */
        bool extra = rs->len > (size_t)(nl - rs->buf) + 1;
        if (x->broken || extra || !c->s[S_OUT].done || !c->s[S_ERR].done ||
            out->outcome == INV_CRASH)
            ct_kill_sandbox(c);
    }
}

/* Sends line (init or an activation) and waits at most timeout_ms for its answer and both
 * log streams' sentinels; fills *out. */
static inv_outcome exchange(inv_container_t *c, const char *line, size_t len, int timeout_ms,
                            size_t log_limit, bool init, inv_run_result *out)
{
    int64_t now = ct_mono_ns();
    xchg_t x = { .c = c,
                 .line = line,
                 .len = len,
                 .k = { .out = out, .limit = log_limit },
                 .deadline = now + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL,
                 .eof_deadline = INT64_MAX,
                 .spin_until = now + (int64_t)c->spin_us * 1000 };

    /* A stray result line (someone wrote to fd 3 between activations) must not be taken
     * for this one's: the container is out of step (inv_container_alive() catches what was
     * there at release; this, what came since). Log bytes after the last sentinel stay:
     * they were printed since. */
    c->s[S_RES].len = c->s[S_RES].scanned = 0;
    if (!init && ct_fill(&c->s[S_RES]) != -1) {
        ct_kill_sandbox(c);
        ct_set_failure(out, INV_CRASH, MSG_BAD_JSON);
        out->end_ms = ct_wall_ms();
        return out->outcome;
    }
    for (int i = 0; i < NSTREAMS; i++)
        c->s[i].done = false;

    sigset_t pipeset, oldmask;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask);
    xchg_write(&x);

    /* Log bytes left over from before this exchange are this exchange's. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = S_OUT; i <= S_ERR; i++)
        if (c->s[i].len > 0)
            consume_log(c, &x.k, i, &ts);

    while (!xchg_finished(&x) && xchg_round(&x))
        ;
    if (x.epipe) {
        /* Swallow the SIGPIPE our write raised before the old mask comes back. */
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipeset, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

    xchg_settle(&x, timeout_ms, init, out);
    ct_finish_logs(c, &x.k);
    if (x.k.nomem && out->outcome != INV_TIMEOUT && out->outcome != INV_CRASH &&
        out->outcome != INV_OOM)
        ct_set_failure(out, INV_INTERNAL, "out of memory while collecting logs");
    out->end_ms = ct_wall_ms();
    return out->outcome;
}

inv_outcome inv_container_init(inv_container_t *c, const char *code, const char *main_name,
                               bool binary, int timeout_ms, size_t log_limit_bytes,
                               inv_run_result *out)
{
    inv_init_opts io = { .code = code, .main_name = main_name, .binary = binary };
    return inv_container_init_ex(c, &io, timeout_ms, log_limit_bytes, out);
}

inv_outcome inv_container_init_ex(inv_container_t *c, const inv_init_opts *io, int timeout_ms,
                                  size_t log_limit_bytes, inv_run_result *out)
{
    memset(out, 0, sizeof *out);
    out->start_ms = ct_wall_ms();
    const char *code = io ? io->code : NULL, *main_name = io ? io->main_name : NULL;
    if (!c || !c->alive || c->initialised || !code) {
        ct_set_failure(out, INV_INTERNAL,
                       !c || !c->alive  ? "the container is not running"
                       : c->initialised ? "the container is already initialised"
                                        : "no code to initialise");
        out->end_ms = out->start_ms;
        return out->outcome;
    }
    c->initialised = true;
    if (io->no_network && inv_netc_disable(&c->net) != 0) {
        /* the code never runs with a network it was not to have */
        ct_kill_sandbox(c);
        ct_set_failure(out, INV_INTERNAL, "could not take the network away");
        out->end_ms = ct_wall_ms();
        return out->outcome;
    }
    if (io->memory_mb > 0 && io->memory_mb != c->memory_mb) {
        /* a stem cell started at another size: the action's limit from now on */
        if (inv_cg_set_memory(&c->cg, io->memory_mb) == 0)
            c->memory_mb = io->memory_mb;
    }
    int conc = io->concurrency > 1 && strncmp(c->kind, "nodejs", 6) == 0 ? io->concurrency : 1;
    json_t *msg = json_pack("{s:{s:s,s:s,s:b}}", "init", "code", code, "main",
                            main_name && *main_name ? main_name : "main", "binary", io->binary);
    if (msg && io->actionloop)
        json_object_set_new(json_object_get(msg, "init"), "actionloop", json_true());
    if (msg && io->env_json) {
        json_t *env = json_loads(io->env_json, 0, NULL);
        if (json_is_object(env))
            json_object_set_new(json_object_get(msg, "init"), "env", env);
        else
            json_decref(env);
    }
    if (msg && conc > 1) {
        json_object_set_new(json_object_get(msg, "init"), "concurrency", json_integer(conc));
        json_object_set_new(json_object_get(msg, "init"), "log_limit",
                            json_integer((json_int_t)log_limit_bytes));
    }
    char *line = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!line) {
        ct_set_failure(out, INV_INTERNAL, "could not encode the init message");
        out->end_ms = ct_wall_ms();
        return out->outcome;
    }
    exchange(c, line, strlen(line), timeout_ms, log_limit_bytes, true, out);
    free(line);
    c->init_ok = out->outcome == INV_OK;
    if (!c->init_ok && c->alive)
        ct_kill_sandbox(c); /* as OpenWhisk does: a container whose init failed serves nothing */
    if (c->init_ok && conc > 1) {
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, NULL);
        c->mu_init = true;
        c->concurrency = conc;
    }
    return out->outcome;
}

inv_outcome inv_container_run(inv_container_t *c, const char *input_line, int timeout_ms,
                              size_t log_limit_bytes, inv_run_result *out)
{
    memset(out, 0, sizeof *out);
    out->start_ms = ct_wall_ms();
    if (!c || !c->alive || !c->init_ok || !input_line) {
        ct_set_failure(out, INV_INTERNAL,
                       !c || !c->alive ? "the container is not running"
                       : !c->init_ok   ? "the container is not initialised"
                                       : "no input");
        out->end_ms = out->start_ms;
        return out->outcome;
    }
    if (c->concurrency > 1)
        return ct_run_concurrent(c, input_line, timeout_ms, log_limit_bytes, out);
    return exchange(c, input_line, strlen(input_line), timeout_ms, log_limit_bytes, false, out);
}
