/* Concurrent containers (initialised with concurrency > 1, nodejs only): several threads run
 * activations on one container at once. Each writes its tagged input line under the
 * container's lock; one of them at a time reads the pipes and hands every fd 3 line to the
 * thread waiting for its activation id (launcher.js tags them and carries each activation's
 * logs inside). */
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
#include <sys/syscall.h>
#include <unistd.h>

#include <jansson.h>

/* The value of the last "activation_id":"..." in an input line we made (run.c puts it after
 * "value", so a nested key of the same name inside the parameters comes first). */
static bool input_id(const char *line, char *id, size_t idlen)
{
    static const char key[] = "\"activation_id\":\"";
    const char *hit = NULL;
    for (const char *p = line; (p = strstr(p, key)); p += sizeof key - 1)
        hit = p;
    if (!hit)
        return false;
    hit += sizeof key - 1;
    const char *end = strchr(hit, '"');
    if (!end || (size_t)(end - hit) >= idlen || end == hit)
        return false;
    memcpy(id, hit, (size_t)(end - hit));
    id[end - hit] = '\0';
    return true;
}

/* Hands a complete tagged line to its waiter (called locked). Lines nobody waits for (a
 * timed-out activation's, or garbage) are dropped. */
static void dispatch_line(inv_container_t *c, const char *line, size_t n)
{
    json_t *v = json_loadb(line, n, 0, NULL);
    const char *id =
        json_is_object(v) ? json_string_value(json_object_get(v, "activation_id")) : NULL;
    for (waiter_t *w = c->waiters; id && w; w = w->next) {
        if (!w->done && strcmp(w->id, id) == 0) {
            w->line = malloc(n + 1);
            if (w->line) {
                memcpy(w->line, line, n);
                w->line[n] = '\0';
                w->len = n;
            }
            w->done = true;
            break;
        }
    }
    json_decref(v);
}

/* One round of reading as the reader (unlocked): waits at most wait_ns for the pipes, hands
 * out complete fd 3 lines, and drops stdout/stderr (a concurrent activation's logs travel
 * in its line; what is printed outside any activation belongs to none). Returns false when
 * the sandbox is gone. */
static bool read_round(inv_container_t *c, int64_t wait_ns)
{
    struct pollfd p[4];
    int n = 0;
    for (int i = 0; i < NSTREAMS; i++)
        p[n++] = (struct pollfd){ .fd = c->s[i].eof ? -1 : c->s[i].fd, .events = POLLIN };
    p[n++] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
    struct timespec tmo = { .tv_sec = wait_ns / 1000000000LL, .tv_nsec = wait_ns % 1000000000LL };
    int r = ppoll(p, (nfds_t)n, &tmo, NULL);
    if (r < 0)
        return errno == EINTR;
    bool gone = p[3].revents != 0;
    for (int i = 0; i < NSTREAMS; i++) {
        if (!p[i].revents)
            continue;
        stream_t *s = &c->s[i];
        while (ct_fill(s) > 0) {
            if (i != S_RES) {
                s->len = s->scanned = 0;
                continue;
            }
            if (s->len > RESULT_MAX * 2) {
                gone = true; /* a line no activation could have sent */
                break;
            }
        }
        if (i == S_RES && s->len > 0) {
            char *start = s->buf, *end = s->buf + s->len, *nl;
            pthread_mutex_lock(&c->mu);
            while ((nl = memchr(start, '\n', (size_t)(end - start))) != NULL) {
                dispatch_line(c, start, (size_t)(nl - start));
                start = nl + 1;
            }
            pthread_mutex_unlock(&c->mu);
            size_t rest = (size_t)(end - start);
            memmove(s->buf, start, rest);
            s->len = s->scanned = rest;
        }
        if (s->eof)
            gone = true;
    }
    return !gone;
}

/* Fills out from a tagged line: {"activation_id", "result": any, "thrown": bool,
 * "logs": [[1|2, ms, text]...], "truncated": bool}. */
static void classify_tagged(inv_container_t *c, const char *line, size_t log_limit,
                            inv_run_result *out)
{
    json_t *v = json_loads(line, 0, NULL);
    json_t *result = json_is_object(v) ? json_object_get(v, "result") : NULL;
    if (!result) {
        ct_set_failure(out, INV_CRASH, MSG_BAD_JSON);
        json_decref(v);
        return;
    }
    collect_t k = { .out = out, .limit = log_limit };
    json_t *logs = json_object_get(v, "logs"), *e;
    size_t i;
    json_array_foreach(logs, i, e)
    {
        const char *text = json_string_value(json_array_get(e, 2));
        if (!text)
            continue;
        json_int_t ms = json_integer_value(json_array_get(e, 1));
        struct timespec ts = { .tv_sec = (time_t)(ms / 1000),
                               .tv_nsec = (long)(ms % 1000) * 1000000 };
        ct_add_log(c, &k, json_integer_value(json_array_get(e, 0)) == 2 ? S_ERR : S_OUT, text,
                   strlen(text), &ts);
    }
    if (json_is_true(json_object_get(v, "truncated")))
        out->logs_truncated = true;
    if (!json_is_object(result) && !json_is_array(result)) {
        ct_set_failure(out, INV_NOT_OBJECT, MSG_NOT_DICT);
    } else {
        bool thrown = json_is_true(json_object_get(v, "thrown"));
        out->outcome = thrown                                                       ? INV_THROWN
                       : json_is_object(result) && json_object_get(result, "error") ? INV_APP_ERROR
                                                                                    : INV_OK;
        out->result = json_dumps(result, JSON_COMPACT);
        if (!out->result)
            out->outcome = INV_INTERNAL;
    }
    ct_finish_logs(c, &k);
    json_decref(v);
}

/* Writes the whole input line (called locked, so that lines never interleave), waiting for
 * stdin to take it until the deadline. Returns false when that passed. */
static bool conc_send(inv_container_t *c, const char *line, int64_t deadline)
{
    size_t len = strlen(line), off = 0;
    bool in_time = true;
    sigset_t pipeset, oldmask;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask);
    while (off < len + 1 && c->alive) {
        if (ct_push_input(c, line, len, &off) < 0)
            break;
        if (off < len + 1) {
            struct pollfd p = { .fd = c->in_fd, .events = POLLOUT };
            int64_t left = deadline - ct_mono_ns();
            if (left <= 0 || poll(&p, 1, (int)(left / 1000000) + 1) == 0) {
                in_time = false;
                break;
            }
        }
    }
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&pipeset, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    return in_time;
}

/* Waits (called locked) until w's line came, the container died or the deadline passed;
 * whoever finds nobody reading reads a round for everyone. Returns false on the deadline. */
static bool conc_wait(inv_container_t *c, const waiter_t *w, int64_t deadline)
{
    while (c->alive && !w->done) {
        int64_t now = ct_mono_ns();
        if (now >= deadline)
            return false;
        int64_t wait = deadline - now;
        if (wait > 50 * 1000000LL)
            wait = 50 * 1000000LL; /* look at the list again now and then */
        if (!c->reading) {
            c->reading = true;
            pthread_mutex_unlock(&c->mu);
            bool ok = read_round(c, wait);
            pthread_mutex_lock(&c->mu);
            c->reading = false;
            if (!ok) {
                ct_kill_sandbox(c); /* we are the reader: nobody else touches the pipes */
                c->oom = inv_cg_oom_killed(&c->cg);
            }
            pthread_cond_broadcast(&c->cv);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(wait % 1000000000LL);
            ts.tv_sec += (time_t)(wait / 1000000000LL) + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
    return true;
}

/* A timed-out activation (called locked): as for a single one, the container is destroyed;
 * the others in it end as crashed. If someone is reading, only kill (the reader sees it and
 * cleans up). */
static void conc_abandon(inv_container_t *c)
{
    if (c->reading && c->ns_pidfd >= 0)
        syscall(SYS_pidfd_send_signal, c->ns_pidfd, SIGKILL, NULL, 0);
    else if (c->reading && c->pid > 0)
        kill(-c->pid, SIGKILL);
    else
        ct_kill_sandbox(c);
    pthread_cond_broadcast(&c->cv);
}

inv_outcome ct_run_concurrent(inv_container_t *c, const char *line, int timeout_ms,
                              size_t log_limit, inv_run_result *out)
{
    waiter_t w = { 0 };
    if (!input_id(line, w.id, sizeof w.id)) {
        ct_set_failure(out, INV_INTERNAL,
                       "no activation_id in the input of a concurrent container");
        out->end_ms = ct_wall_ms();
        return out->outcome;
    }
    int64_t deadline = ct_mono_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;
    bool timed_out = false;

    pthread_mutex_lock(&c->mu);
    if (c->alive) {
        w.next = c->waiters;
        c->waiters = &w;
        timed_out = !conc_send(c, line, deadline);
    }
    if (!timed_out)
        timed_out = !conc_wait(c, &w, deadline);
    if (timed_out && c->alive)
        conc_abandon(c);
    for (waiter_t **pp = &c->waiters; *pp; pp = &(*pp)->next)
        if (*pp == &w) {
            *pp = w.next;
            break;
        }
    bool oom = c->oom;
    if (w.done && w.line)
        classify_tagged(c, w.line, log_limit, out); /* locked: it uses the timestamp cache */
    pthread_mutex_unlock(&c->mu);

    if (w.done && w.line) {
        /* classified above */
    } else if (w.done) {
        ct_set_failure(out, INV_INTERNAL, "out of memory while reading the result");
    } else if (timed_out) {
        char msg[128];
        snprintf(msg, sizeof msg, "The action exceeded its time limits of %d milliseconds.",
                 timeout_ms);
        ct_set_failure(out, INV_TIMEOUT, msg);
    } else if (oom) {
        ct_set_failure(out, INV_OOM, MSG_OOM);
    } else {
        ct_set_failure(out, INV_CRASH, MSG_CRASH_RUN);
    }
    free(w.line);
    out->end_ms = ct_wall_ms();
    return out->outcome;
}
