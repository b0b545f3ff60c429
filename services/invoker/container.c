/* One sandboxed runtime process and its four pipes: spawning it under bubblewrap, the
 * actionloop exchange (a JSON line in on stdin; a JSON line out on fd 3; stdout and stderr
 * read as log lines up to the end-of-activation sentinel), deadlines, log limits, and
 * killing the whole sandbox. Only libc and jansson: it does not depend on libsq, so the
 * invoker's pool and its tests can use it on their own. The exchange is one ppoll() loop
 * over non-blocking pipe ends with no per-run allocation beyond what the result hands back
 * (the result text, and one string per log line). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, ppoll, close_range; the build also defines it */
#endif
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define SENTINEL "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
#define SENT_LEN (sizeof(SENTINEL) - 1)
#define THROWN_KEY "__ow_thrown"

/* A result line longer than this is refused and the container destroyed. OpenWhisk's own
 * result limit (1 MB) is a policy the invoker applies to the text it gets back. */
#define RESULT_MAX ((size_t)16 << 20)
#define BUF_INIT 16384
#define READ_MIN 16384 /* free space we want before each read() */
/* After a pipe hits EOF before its sentinel, how long the others may take to finish. */
#define EOF_GRACE_NS (100 * 1000000LL)
/* How long destroy waits for a killed PID namespace to be empty. */
#define REAP_WAIT_MS 5000
/* uid/gid a root invoker drops to before it runs bwrap; also the uid inside. */
#define SANDBOX_ID 65534

/* Fds the runtime sees. */
enum {
    CHILD_RESULT_FD = 3,
    CHILD_INFO_FD = 4,
    CHILD_PASSWD_FD = 5,
    CHILD_GROUP_FD = 6,
    CHILD_SECCOMP_FD = 7
};
/* RLIMIT_NOFILE inside the sandbox (OpenWhisk's default). */
#define NOFILE_MAX 1024

/* A thread waiting for its activation's line on a concurrent container. */
typedef struct waiter {
    struct waiter *next;
    char id[64];
    char *line; /* the tagged fd 3 line, malloc'd, once done */
    size_t len;
    bool done;
} waiter_t;

enum { S_RES = 0, S_OUT = 1, S_ERR = 2, NSTREAMS = 3 };

typedef struct {
    int fd;    /* our read end (non-blocking); -1 once closed */
    char *buf; /* bytes read and not yet consumed: at most a partial line, or what
                     followed the sentinel (it belongs to the next exchange) */
    size_t len, cap;
    size_t scanned; /* buf[0..scanned) holds no '\n' */
    bool skipping;  /* the current partial line will be dropped (log limit reached): only
                     its tail is kept, to recognise the sentinel */
    bool done;      /* this exchange: sentinel seen / result line complete */
    bool eof;
} stream_t;

struct inv_container {
    pid_t pid;    /* what we forked: bwrap, or node when not sandboxed; pgid leader; -1 once
                     reaped */
    int pidfd;    /* pidfd of pid: readable once it has exited, which ends the container
                     (bwrap exits when its child, the namespace's init, does); -1 if none */
    int ns_pidfd; /* pidfd of the PID namespace's init (bwrap's child); -1 if bare */
    int in_fd;    /* runtime's stdin, non-blocking */
    stream_t s[NSTREAMS];
    bool sandbox;
    bool alive;
    bool initialised; /* init has been tried (it is tried once) */
    bool init_ok;     /* ... and the runtime accepted the code */
    int memory_mb;
    int spin_us;
    char kind[32];
    time_t ts_sec; /* cache for log timestamps: second formatted in ts_prefix */
    char ts_prefix[24];
    inv_cg_t cg;    /* its cgroups (mode none without) */
    bool frozen;    /* its cgroup is frozen (inv_container_freeze) */
    inv_netc_t net; /* its network namespace (ns_fd -1: bwrap makes one with loopback only) */
    bool oom;       /* the last death was an OOM kill */
    /* concurrent containers only (concurrency > 1): */
    int concurrency;
    bool mu_init;
    pthread_mutex_t mu; /* guards alive, reading, waiters, writes to in_fd */
    pthread_cond_t cv;
    bool reading; /* one waiter at a time reads the pipes and hands lines out */
    waiter_t *waiters;
};

/* Per-exchange log collection. */
typedef struct {
    inv_run_result *out;
    size_t limit, used, cap;
    bool nomem;
} collect_t;

static const char MSG_TRUNC[] =
    "Logs were truncated because the total bytes size exceeds the limit of %zu bytes.";
static const char MSG_CRASH_RUN[] =
    "The action did not produce a valid response and exited unexpectedly.";
static const char MSG_CRASH_INIT[] = "The action did not initialize and exited unexpectedly.";
static const char MSG_NOT_DICT[] = "The action did not return a dictionary.";
static const char MSG_BAD_JSON[] = "The action did not produce a valid JSON response.";
static const char MSG_OOM[] = "The action exhausted its memory and was aborted.";

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

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t wall_ms(void)
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

static void set_failure(inv_run_result *out, inv_outcome oc, const char *msg)
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
static void add_log(inv_container_t *c, collect_t *k, int which, const char *text, size_t n,
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

static void finish_logs(inv_container_t *c, collect_t *k)
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
            add_log(c, k, which, line, n, ts);
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

/* Returns bytes read, 0 at EOF, -1 when nothing was there (or on error, then eof is set). */
static ssize_t fill(stream_t *s)
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

static void close_fd(int *fd)
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
static void kill_sandbox(inv_container_t *c)
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
        close_fd(&c->ns_pidfd);
    }
    close_fd(&c->pidfd);
    close_fd(&c->in_fd);
    for (int i = 0; i < NSTREAMS; i++)
        close_fd(&c->s[i].fd);
}

void inv_container_destroy(inv_container_t *c)
{
    if (!c)
        return;
    kill_sandbox(c);
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
                kill_sandbox(c);
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
            kill_sandbox(c);
            return false;
        }
    }
    if (c->pidfd >= 0) {
        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
        if (poll(&p, 1, 0) != 0) {
            kill_sandbox(c);
            return false;
        }
    }
    return true;
}

pid_t inv_container_pid(const inv_container_t *c)
{
    return c ? c->pid : -1;
}

/* ---------------------------------------------------------------- spawning */

/* Moves fd to a number >= 10 so the child's dup2() onto 0..6 cannot clobber a source. */
static int lift_fd(int fd)
{
    if (fd < 0 || fd >= 10)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return nfd;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    p[0] = lift_fd(p[0]);
    p[1] = lift_fd(p[1]);
    return p[0] < 0 || p[1] < 0 ? -1 : 0;
}

/* A pipe already holding n bytes (and closed for writing), for bwrap's --ro-bind-data and
 * --seccomp; n must fit the pipe's buffer (64 KiB). */
static int data_pipe_n(int p[2], const void *data, size_t n)
{
    if (make_pipe(p) < 0)
        return -1;
    if (write(p[1], data, n) != (ssize_t)n)
        return -1;
    close_fd(&p[1]);
    return 0;
}

static int data_pipe(int p[2], const char *data)
{
    return data_pipe_n(p, data, strlen(data));
}

typedef struct {
    const char *argv[96];
    int n;
    char bufs[4][PATH_MAX + 32];
} args_t;

static void arg(args_t *a, const char *s)
{
    if (a->n < (int)(sizeof a->argv / sizeof a->argv[0]) - 1)
        a->argv[a->n++] = s;
}

/* Binds a top-level host directory the way the host has it: a symlink into /usr on
 * merged-/usr systems, a read-only bind otherwise. */
static void top_dir(args_t *a, const char *path, int slot)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        snprintf(a->bufs[slot], sizeof a->bufs[slot], "%s", target);
        arg(a, "--symlink");
        arg(a, a->bufs[slot]);
        arg(a, path);
    } else if (access(path, F_OK) == 0) {
        arg(a, "--ro-bind");
        arg(a, path);
        arg(a, path);
    }
}

/* bwrap's command line. runtime is bound read-only at runtime_box (a directory at /runtime,
 * or the native launcher file at /runtime/launcher); cmd is what runs inside. */
static void build_bwrap_args(args_t *a, const char *bwrap, const char *runtime,
                             const char *runtime_box, const char *const *cmd, int memory_mb,
                             bool seccomp, bool own_netns)
{
    arg(a, bwrap);
    arg(a, "--unshare-user");
    /* Never the host's network: the invoker's namespace (entered before bwrap), or one of
   * bwrap's with loopback only. */
    if (!own_netns)
        arg(a, "--unshare-net");
    arg(a, "--uid");
    arg(a, "65534");
    arg(a, "--gid");
    arg(a, "65534");
    arg(a, "--unshare-pid");
    arg(a, "--unshare-ipc");
    arg(a, "--unshare-uts");
    arg(a, "--unshare-cgroup-try");
    arg(a, "--hostname");
    arg(a, "squall");
    arg(a, "--die-with-parent");
    arg(a, "--new-session");
    arg(a, "--ro-bind");
    arg(a, "/usr");
    arg(a, "/usr");
    top_dir(a, "/bin", 0);
    top_dir(a, "/lib", 1);
    top_dir(a, "/lib64", 2);
    /* Name resolution and TLS for actions that call out; nothing else of the host's /etc. */
    static const char *const etc[] = { "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
                                       "/etc/ssl/certs", "/etc/ssl/openssl.cnf" };
    for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++) {
        arg(a, "--ro-bind-try");
        arg(a, etc[i]);
        arg(a, etc[i]);
    }
    arg(a, "--ro-bind-data");
    arg(a, "5");
    arg(a, "/etc/passwd");
    arg(a, "--ro-bind-data");
    arg(a, "6");
    arg(a, "/etc/group");
    arg(a, "--proc");
    arg(a, "/proc");
    arg(a, "--dev");
    arg(a, "/dev");
    /* /tmp and /action (the unpacked code) share the memory limit: both are charged to the
   * container's cgroup, so each gets half and neither can starve the runtime alone. */
    snprintf(a->bufs[3], sizeof a->bufs[3], "%lld", ((long long)memory_mb << 20) / 2);
    arg(a, "--size");
    arg(a, a->bufs[3]);
    arg(a, "--perms");
    arg(a, "1777");
    arg(a, "--tmpfs");
    arg(a, "/tmp");
    arg(a, "--size");
    arg(a, a->bufs[3]);
    arg(a, "--perms");
    arg(a, "0755");
    arg(a, "--tmpfs");
    arg(a, "/action");
    arg(a, "--ro-bind");
    arg(a, runtime);
    arg(a, runtime_box);
    if (seccomp) {
        arg(a, "--seccomp");
        arg(a, "7");
    }
    arg(a, "--chdir");
    arg(a, "/tmp");
    arg(a, "--clearenv");
    arg(a, "--setenv");
    arg(a, "PATH");
    arg(a, "/usr/bin:/bin");
    arg(a, "--setenv");
    arg(a, "HOME");
    arg(a, "/tmp");
    arg(a, "--setenv");
    arg(a, "LANG");
    arg(a, "C.UTF-8");
    arg(a, "--info-fd");
    arg(a, "4");
    arg(a, "--");
    for (int i = 0; cmd[i]; i++)
        arg(a, cmd[i]);
    a->argv[a->n] = NULL;
}

/* Reads bwrap's --info-fd JSON and returns "child-pid", or -1. Reads to EOF (bwrap closes
 * the fd once it has written everything): closing our end early would kill bwrap with
 * SIGPIPE in the middle of its report. */
static pid_t read_child_pid(int fd, int timeout_ms)
{
    char buf[2048];
    size_t len = 0;
    int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = deadline - mono_ns();
        if (left <= 0)
            return -1;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int r = poll(&pfd, 1, (int)(left / 1000000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf - 1)
            break;
    }
    buf[len] = '\0';
    const char *p = strstr(buf, "\"child-pid\"");
    if (!p || !(p = strchr(p, ':')))
        return -1;
    long v = strtol(p + 1, NULL, 10);
    return v > 0 ? (pid_t)v : -1;
}

int inv_container_start(inv_container_t **out, const inv_container_opts *o, char *err,
                        size_t errlen)
{
    *out = NULL;
    int in[2] = { -1, -1 }, so[2] = { -1, -1 }, se[2] = { -1, -1 }, res[2] = { -1, -1 };
    int info[2] = { -1, -1 }, pw[2] = { -1, -1 }, gr[2] = { -1, -1 }, sc[2] = { -1, -1 };
    inv_container_t *c = NULL;
    args_t *a = NULL;

    if (!o || !o->runtime_dir || !o->kind) {
        set_err(err, errlen, "missing runtime_dir or kind");
        return -1;
    }
    /* Kind -> the interpreter, and the launcher inside and outside the sandbox. */
    const char *lang = NULL, *entry = NULL, *interp = NULL;
    if (strcmp(o->kind, "nodejs:20") == 0 || strcmp(o->kind, "nodejs:default") == 0) {
        lang = "nodejs";
        entry = "launcher.js";
        interp = o->node_path ? o->node_path : "/usr/bin/node";
    } else if (strcmp(o->kind, "python:3") == 0) {
        lang = "python";
        entry = "launcher.py";
        interp = o->python_path ? o->python_path : "/usr/bin/python3";
    } else if (strcmp(o->kind, "native") == 0) {
        if (!o->native_launcher || !*o->native_launcher) {
            set_err(err, errlen, "no native launcher configured");
            return -1;
        }
    } else {
        set_err(err, errlen, "unsupported kind \"%s\"", o->kind);
        return -1;
    }
    const char *bwrap = o->bwrap_path ? o->bwrap_path : "/usr/bin/bwrap";

    a = calloc(1, sizeof *a);
    c = calloc(1, sizeof *c);
    if (!a || !c) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    c->pid = -1;
    c->pidfd = -1;
    c->ns_pidfd = -1;
    c->in_fd = -1;
    for (int i = 0; i < NSTREAMS; i++)
        c->s[i].fd = -1;
    c->sandbox = o->sandbox;
    c->concurrency = 1;
    c->cg.procs_fd[0] = c->cg.procs_fd[1] = c->cg.procs_fd[2] = c->cg.freeze_fd = -1;
    inv_netc_reset(&c->net);
    c->memory_mb = o->memory_mb > 0 ? o->memory_mb : 256;
    c->spin_us = o->spin_us > 0 ? o->spin_us : 0;
    snprintf(c->kind, sizeof c->kind, "%s", o->kind);

    char runtime_sub[PATH_MAX], launcher_host[PATH_MAX], launcher_box[64];
    const char *runtime_box = "/runtime";
    if (lang) {
        if (snprintf(runtime_sub, sizeof runtime_sub, "%s/%s", o->runtime_dir, lang) >=
                (int)sizeof runtime_sub ||
            snprintf(launcher_host, sizeof launcher_host, "%s/%s", runtime_sub, entry) >=
                (int)sizeof launcher_host) {
            set_err(err, errlen, "runtime_dir is too long");
            goto fail;
        }
        snprintf(launcher_box, sizeof launcher_box, "/runtime/%s", entry);
    } else {
        /* native: the launcher is a binary of the build, bound as a file */
        snprintf(runtime_sub, sizeof runtime_sub, "%s", o->native_launcher);
        snprintf(launcher_host, sizeof launcher_host, "%s", o->native_launcher);
        snprintf(launcher_box, sizeof launcher_box, "/runtime/launcher");
        runtime_box = launcher_box;
    }
    if (access(launcher_host, lang ? R_OK : X_OK) != 0) {
        set_err(err, errlen, "could not read launcher \"%s\": %s", launcher_host, strerror(errno));
        goto fail;
    }
    if (interp && access(interp, X_OK) != 0) {
        set_err(err, errlen, "could not execute \"%s\": %s", interp, strerror(errno));
        goto fail;
    }
    if (o->sandbox && access(bwrap, X_OK) != 0) {
        set_err(err, errlen, "could not execute \"%s\": %s", bwrap, strerror(errno));
        goto fail;
    }

    if (make_pipe(in) < 0 || make_pipe(so) < 0 || make_pipe(se) < 0 || make_pipe(res) < 0) {
        set_err(err, errlen, "could not create pipes: %s", strerror(errno));
        goto fail;
    }
    if (o->sandbox) {
        char passwd[128], group[64];
        snprintf(passwd, sizeof passwd, "nobody:x:%d:%d:nobody:/tmp:/usr/sbin/nologin\n",
                 SANDBOX_ID, SANDBOX_ID);
        snprintf(group, sizeof group, "nogroup:x:%d:\n", SANDBOX_ID);
        if (make_pipe(info) < 0 || data_pipe(pw, passwd) < 0 || data_pipe(gr, group) < 0) {
            set_err(err, errlen, "could not create pipes: %s", strerror(errno));
            goto fail;
        }
        size_t bpf_len = 0;
        const void *bpf = inv_sandbox_seccomp(o->sb, &bpf_len);
        if (bpf && data_pipe_n(sc, bpf, bpf_len) < 0) {
            set_err(err, errlen, "could not pass the seccomp filter: %s", strerror(errno));
            goto fail;
        }
        if (inv_cg_create(o->sb, &c->cg, c->memory_mb, err, errlen) != 0)
            goto fail;
        if (inv_netc_create(o->net, &c->net, err, errlen) != 0)
            goto fail;
        const char *cmd[4] = { NULL, NULL, NULL, NULL };
        if (!lang) {
            cmd[0] = launcher_box;
        } else if (strcmp(lang, "python") == 0) {
            cmd[0] = interp;
            cmd[1] = "-B";
            cmd[2] = launcher_box;
        } else {
            cmd[0] = interp;
            cmd[1] = launcher_box;
        }
        build_bwrap_args(a, bwrap, runtime_sub, runtime_box, cmd, c->memory_mb, bpf != NULL,
                         c->net.ns_fd >= 0);
    } else {
        if (interp)
            arg(a, interp);
        if (lang && strcmp(lang, "python") == 0)
            arg(a, "-B");
        arg(a, launcher_host);
        a->argv[a->n] = NULL;
    }
    static char *const envp[] = { "PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL };
    /* A root invoker runs bwrap as nobody: bwrap then builds the sandbox in a user
   * namespace owned by nobody, so nothing in it is root on the host, not even uid 0 without
   * capabilities. */
    bool drop = o->sandbox && geteuid() == 0;

    /* The child runs only async-signal-safe code: everything is prepared above. Signals are
   * blocked across fork() so that no handler of ours runs in the child. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        static const int sigs[] = { SIGPIPE, SIGINT,  SIGQUIT, SIGTERM, SIGHUP,  SIGCHLD,
                                    SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ, SIGTTIN, SIGTTOU };
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            sigaction(sigs[i], &dfl, NULL);
        setpgid(0, 0);
        /* Into the container's network namespace while still root (before any dup2(): the fd
     * may be low). A sandbox that cannot get it does not start. */
        if (c->net.ns_fd >= 0 && syscall(SYS_setns, c->net.ns_fd, CLONE_NEWNET) != 0)
            _exit(125);
        if (dup2(in[0], 0) < 0 || dup2(so[1], 1) < 0 || dup2(se[1], 2) < 0 ||
            dup2(res[1], CHILD_RESULT_FD) < 0)
            _exit(126);
        int keep = CHILD_RESULT_FD;
        if (o->sandbox) {
            if (dup2(info[1], CHILD_INFO_FD) < 0 || dup2(pw[0], CHILD_PASSWD_FD) < 0 ||
                dup2(gr[0], CHILD_GROUP_FD) < 0)
                _exit(126);
            keep = CHILD_GROUP_FD;
            if (sc[0] >= 0) {
                if (dup2(sc[0], CHILD_SECCOMP_FD) < 0)
                    _exit(126);
                keep = CHILD_SECCOMP_FD;
            }
            /* Into the container's cgroups before anything of the sandbox runs (the fds are
       * above 10: still open here). A sandbox that cannot be limited does not start. */
            if (inv_cg_join_child(&c->cg) != 0)
                _exit(125);
            struct rlimit nofile = { NOFILE_MAX, NOFILE_MAX }, core = { 0, 0 };
            setrlimit(RLIMIT_NOFILE, &nofile);
            setrlimit(RLIMIT_CORE, &core);
        }
        /* Every other fd the invoker holds (other containers' pipes, sockets) stays out. */
        if (syscall(SYS_close_range, keep + 1, ~0U, 0) < 0)
            for (int fd = keep + 1; fd < 4096; fd++)
                close(fd);
        if (drop) {
            /* Raw syscalls: glibc's wrappers would try to sync threads that the child lacks. */
            if (syscall(SYS_setgroups, 0, NULL) < 0 ||
                syscall(SYS_setresgid, SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) < 0 ||
                syscall(SYS_setresuid, SANDBOX_ID, SANDBOX_ID, SANDBOX_ID) < 0)
                _exit(126);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(a->argv[0], (char *const *)a->argv, envp);
        _exit(127);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        set_err(err, errlen, "could not fork: %s", strerror(fork_errno));
        goto fail;
    }
    c->pid = pid;
    c->alive = true;
    setpgid(pid, pid); /* also here, so that kill(-pid) is right from now on */
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    close_fd(&in[0]);
    close_fd(&so[1]);
    close_fd(&se[1]);
    close_fd(&res[1]);
    close_fd(&info[1]);
    close_fd(&pw[0]);
    close_fd(&gr[0]);
    close_fd(&sc[0]);
    inv_cg_close_fds(&c->cg);
    c->in_fd = in[1];
    c->s[S_RES].fd = res[0];
    c->s[S_OUT].fd = so[0];
    c->s[S_ERR].fd = se[0];
    in[1] = res[0] = so[0] = se[0] = -1;
    if (fcntl(c->in_fd, F_SETFL, O_NONBLOCK) < 0) {
        set_err(err, errlen, "could not set up pipes: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < NSTREAMS; i++) {
        stream_t *s = &c->s[i];
        s->buf = malloc(BUF_INIT);
        s->cap = BUF_INIT;
        if (!s->buf || fcntl(s->fd, F_SETFL, O_NONBLOCK) < 0) {
            set_err(err, errlen, "could not set up pipes: %s", strerror(errno));
            goto fail;
        }
    }
    if (o->sandbox) {
        /* bwrap reports its child (the init of the new PID namespace) as soon as it exists. */
        pid_t inner = read_child_pid(info[0], 10000);
        close_fd(&info[0]);
        if (inner < 0) {
            set_err(err, errlen, "bwrap did not start the sandbox");
            goto fail;
        }
        c->ns_pidfd = (int)syscall(SYS_pidfd_open, inner, 0);
    }
    free(a);
    *out = c;
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&so[i]);
        close_fd(&se[i]);
        close_fd(&res[i]);
        close_fd(&info[i]);
        close_fd(&pw[i]);
        close_fd(&gr[i]);
        close_fd(&sc[i]);
    }
    free(a);
    inv_container_destroy(c);
    return -1;
}

/* ---------------------------------------------------------------- the exchange */

/* Writes what the runtime's stdin takes of line + '\n'. Returns 0, or -1 when the runtime
 * is gone (EPIPE). SIGPIPE is blocked by the caller. */
static int push_input(inv_container_t *c, const char *line, size_t len, size_t *off)
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

/* Classifies the fd 3 line of an activation and sets out->outcome and out->result. */
static void classify_run(inv_run_result *out, const char *line, size_t n)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        set_failure(out, INV_CRASH, MSG_BAD_JSON);
        return;
    }
    if (!json_is_object(v) && !json_is_array(v)) {
        /* an object, or an array as current OpenWhisk runtimes allow */
        set_failure(out, INV_NOT_OBJECT, MSG_NOT_DICT);
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
        set_failure(out, INV_CRASH, MSG_CRASH_INIT);
    }
    json_decref(v);
    if (!out->result)
        out->outcome = INV_INTERNAL;
}

static inv_outcome exchange(inv_container_t *c, const char *line, size_t len, int timeout_ms,
                            size_t log_limit, bool init, inv_run_result *out)
{
    collect_t k = { .out = out, .limit = log_limit };
    bool timed_out = false, broken = false;
    int64_t now = mono_ns();
    int64_t deadline = now + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;
    int64_t eof_deadline = INT64_MAX;
    int64_t spin_until = now + (int64_t)c->spin_us * 1000;
    size_t off = 0;

    /* A stray result line (someone wrote to fd 3 between activations) must not be taken
   * for this one's: the container is out of step (inv_container_alive() catches what was
   * there at release; this, what came since). Log bytes after the last sentinel stay:
   * they were printed since. */
    c->s[S_RES].len = c->s[S_RES].scanned = 0;
    if (!init && fill(&c->s[S_RES]) != -1) {
        kill_sandbox(c);
        set_failure(out, INV_CRASH, MSG_BAD_JSON);
        out->end_ms = wall_ms();
        return out->outcome;
    }
    for (int i = 0; i < NSTREAMS; i++)
        c->s[i].done = false;

    sigset_t pipeset, oldmask;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask);
    bool epipe = push_input(c, line, len, &off) < 0;
    if (epipe) {
        off = len + 1;
        broken = true;
    }

    /* Log bytes left over from before this exchange are this exchange's. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    for (int i = S_OUT; i <= S_ERR; i++)
        if (c->s[i].len > 0)
            consume_log(c, &k, i, &ts);

    for (;;) {
        if (c->s[S_RES].done && c->s[S_OUT].done && c->s[S_ERR].done && off == len + 1)
            break;
        struct pollfd p[5];
        int who[5], n = 0;
        if (off < len + 1) {
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
        now = mono_ns();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        if (now >= eof_deadline) {
            broken = true;
            break;
        }
        int64_t left = (eof_deadline < deadline ? eof_deadline : deadline) - now;
        if (now < spin_until)
            left = 0; /* still spinning: only look */
        struct timespec tmo = { .tv_sec = left / 1000000000LL, .tv_nsec = left % 1000000000LL };
        int r = ppoll(p, (nfds_t)n, &tmo, NULL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            broken = true;
            break;
        }
        if (r == 0)
            continue;
        bool stamped = false, gone = false;
        for (int j = 0; j < n; j++) {
            if (!p[j].revents)
                continue;
            if (who[j] == -1) {
                if (push_input(c, line, len, &off) < 0) {
                    off = len + 1;
                    epipe = broken = true;
                }
                continue;
            }
            if (who[j] == -2) {
                gone = true;
                continue;
            }
            stream_t *s = &c->s[who[j]];
            ssize_t got = fill(s);
            if (got > 0) {
                if (who[j] == S_RES) {
                    char *nl = memchr(s->buf + s->scanned, '\n', s->len - s->scanned);
                    if (nl)
                        s->done = true;
                    else
                        s->scanned = s->len;
                    if (s->len > RESULT_MAX)
                        s->eof = true; /* handled below as too large */
                } else {
                    if (!stamped) {
                        clock_gettime(CLOCK_REALTIME, &ts);
                        stamped = true;
                    }
                    consume_log(c, &k, who[j], &ts);
                }
            }
            if (s->eof && !s->done && eof_deadline == INT64_MAX)
                eof_deadline = mono_ns() + EOF_GRACE_NS;
        }
        if (gone) {
            /* Everything in the sandbox is dead: take what the pipes still hold, then stop. */
            clock_gettime(CLOCK_REALTIME, &ts);
            for (int i = 0; i < NSTREAMS; i++) {
                stream_t *s = &c->s[i];
                while (!s->done && !s->eof && fill(s) > 0) {
                    if (i == S_RES) {
                        if (memchr(s->buf, '\n', s->len))
                            s->done = true;
                    } else {
                        consume_log(c, &k, i, &ts);
                    }
                }
            }
            broken = true;
            break;
        }
    }
    if (epipe) {
        /* Swallow the SIGPIPE our write raised before the old mask comes back. */
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipeset, NULL, &zero) > 0)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

    stream_t *rs = &c->s[S_RES];
    char *nl = rs->done ? memchr(rs->buf, '\n', rs->len) : NULL;
    if (timed_out) {
        char msg[128];
        snprintf(msg, sizeof msg, "The action exceeded its time limits of %d milliseconds%s",
                 timeout_ms, init ? " during initialization." : ".");
        kill_sandbox(c);
        set_failure(out, INV_TIMEOUT, msg);
    } else if (rs->len > RESULT_MAX && !nl) {
        char msg[160];
        snprintf(
            msg, sizeof msg,
            "The action produced a response that exceeded the allowed length: %zu > %zu bytes.",
            rs->len, RESULT_MAX);
        kill_sandbox(c);
        set_failure(out, INV_CRASH, msg);
    } else if (!nl) {
        kill_sandbox(c);
        if (died_of_oom(c, out))
            set_failure(out, INV_OOM, MSG_OOM);
        else
            set_failure(out, INV_CRASH, init ? MSG_CRASH_INIT : MSG_CRASH_RUN);
    } else {
        if (init)
            classify_init(out, rs->buf, (size_t)(nl - rs->buf));
        else
            classify_run(out, rs->buf, (size_t)(nl - rs->buf));
        /* The protocol is out of step if the runtime died after its answer, if what came on
     * fd 3 was no JSON at all, or if more than one line came (the action wrote there). */
        bool extra = rs->len > (size_t)(nl - rs->buf) + 1;
        if (broken || extra || !c->s[S_OUT].done || !c->s[S_ERR].done || out->outcome == INV_CRASH)
            kill_sandbox(c);
    }
    finish_logs(c, &k);
    if (k.nomem && out->outcome != INV_TIMEOUT && out->outcome != INV_CRASH &&
        out->outcome != INV_OOM)
        set_failure(out, INV_INTERNAL, "out of memory while collecting logs");
    out->end_ms = wall_ms();
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
    out->start_ms = wall_ms();
    const char *code = io ? io->code : NULL, *main_name = io ? io->main_name : NULL;
    if (!c || !c->alive || c->initialised || !code) {
        set_failure(out, INV_INTERNAL,
                    !c || !c->alive  ? "the container is not running"
                    : c->initialised ? "the container is already initialised"
                                     : "no code to initialise");
        out->end_ms = out->start_ms;
        return out->outcome;
    }
    c->initialised = true;
    if (io->no_network && inv_netc_disable(&c->net) != 0) {
        /* the code never runs with a network it was not to have */
        kill_sandbox(c);
        set_failure(out, INV_INTERNAL, "could not take the network away");
        out->end_ms = wall_ms();
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
        set_failure(out, INV_INTERNAL, "could not encode the init message");
        out->end_ms = wall_ms();
        return out->outcome;
    }
    exchange(c, line, strlen(line), timeout_ms, log_limit_bytes, true, out);
    free(line);
    c->init_ok = out->outcome == INV_OK;
    if (!c->init_ok && c->alive)
        kill_sandbox(c); /* as OpenWhisk does: a container whose init failed serves nothing */
    if (c->init_ok && conc > 1) {
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, NULL);
        c->mu_init = true;
        c->concurrency = conc;
    }
    return out->outcome;
}

/* ---------------------------------------------------------------- concurrent containers */

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
        while (fill(s) > 0) {
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
        set_failure(out, INV_CRASH, MSG_BAD_JSON);
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
        add_log(c, &k, json_integer_value(json_array_get(e, 0)) == 2 ? S_ERR : S_OUT, text,
                strlen(text), &ts);
    }
    if (json_is_true(json_object_get(v, "truncated")))
        out->logs_truncated = true;
    if (!json_is_object(result) && !json_is_array(result)) {
        set_failure(out, INV_NOT_OBJECT, MSG_NOT_DICT);
    } else {
        bool thrown = json_is_true(json_object_get(v, "thrown"));
        out->outcome = thrown                                                       ? INV_THROWN
                       : json_is_object(result) && json_object_get(result, "error") ? INV_APP_ERROR
                                                                                    : INV_OK;
        out->result = json_dumps(result, JSON_COMPACT);
        if (!out->result)
            out->outcome = INV_INTERNAL;
    }
    finish_logs(c, &k);
    json_decref(v);
}

static inv_outcome run_concurrent(inv_container_t *c, const char *line, int timeout_ms,
                                  size_t log_limit, inv_run_result *out)
{
    waiter_t w = { 0 };
    if (!input_id(line, w.id, sizeof w.id)) {
        set_failure(out, INV_INTERNAL, "no activation_id in the input of a concurrent container");
        out->end_ms = wall_ms();
        return out->outcome;
    }
    int64_t deadline = mono_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;
    bool timed_out = false;
    size_t len = strlen(line), off = 0;
    sigset_t pipeset, oldmask;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);

    pthread_mutex_lock(&c->mu);
    if (c->alive) {
        w.next = c->waiters;
        c->waiters = &w;
        /* The whole line goes in under the lock, so lines never interleave. */
        pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask);
        while (off < len + 1 && c->alive) {
            if (push_input(c, line, len, &off) < 0)
                break;
            if (off < len + 1) {
                struct pollfd p = { .fd = c->in_fd, .events = POLLOUT };
                int64_t left = deadline - mono_ns();
                if (left <= 0 || poll(&p, 1, (int)(left / 1000000) + 1) == 0) {
                    timed_out = true;
                    break;
                }
            }
        }
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipeset, NULL, &zero) > 0)
            ;
        pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    }
    while (c->alive && !w.done && !timed_out) {
        int64_t now = mono_ns();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        if (!c->reading) {
            c->reading = true;
            pthread_mutex_unlock(&c->mu);
            int64_t wait = deadline - now;
            if (wait > 50 * 1000000LL)
                wait = 50 * 1000000LL; /* look at the list again now and then */
            bool ok = read_round(c, wait);
            pthread_mutex_lock(&c->mu);
            c->reading = false;
            if (!ok) {
                kill_sandbox(c); /* we are the reader: nobody else touches the pipes */
                c->oom = inv_cg_oom_killed(&c->cg);
            }
            pthread_cond_broadcast(&c->cv);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t left = deadline - now;
            if (left > 50 * 1000000LL)
                left = 50 * 1000000LL;
            ts.tv_nsec += (long)(left % 1000000000LL);
            ts.tv_sec += (time_t)(left / 1000000000LL) + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        }
    }
    if (timed_out && c->alive) {
        /* As for a single activation: the container is destroyed; the others in it end as
     * crashed. If someone is reading, only kill (the reader sees it and cleans up). */
        if (c->reading && c->ns_pidfd >= 0)
            syscall(SYS_pidfd_send_signal, c->ns_pidfd, SIGKILL, NULL, 0);
        else if (c->reading && c->pid > 0)
            kill(-c->pid, SIGKILL);
        else
            kill_sandbox(c);
        pthread_cond_broadcast(&c->cv);
    }
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
        set_failure(out, INV_INTERNAL, "out of memory while reading the result");
    } else if (timed_out) {
        char msg[128];
        snprintf(msg, sizeof msg, "The action exceeded its time limits of %d milliseconds.",
                 timeout_ms);
        set_failure(out, INV_TIMEOUT, msg);
    } else if (oom) {
        set_failure(out, INV_OOM, MSG_OOM);
    } else {
        set_failure(out, INV_CRASH, MSG_CRASH_RUN);
    }
    free(w.line);
    out->end_ms = wall_ms();
    return out->outcome;
}

inv_outcome inv_container_run(inv_container_t *c, const char *input_line, int timeout_ms,
                              size_t log_limit_bytes, inv_run_result *out)
{
    memset(out, 0, sizeof *out);
    out->start_ms = wall_ms();
    if (!c || !c->alive || !c->init_ok || !input_line) {
        set_failure(out, INV_INTERNAL,
                    !c || !c->alive ? "the container is not running"
                    : !c->init_ok   ? "the container is not initialised"
                                    : "no input");
        out->end_ms = out->start_ms;
        return out->outcome;
    }
    if (c->concurrency > 1)
        return run_concurrent(c, input_line, timeout_ms, log_limit_bytes, out);
    return exchange(c, input_line, strlen(input_line), timeout_ms, log_limit_bytes, false, out);
}
