/* What the files of the container module share (container.c: lifecycle and log collection;
 * container_start.c: spawning; container_exchange.c: the actionloop exchange;
 * container_concurrent.c: concurrent containers): the container's layout, the stream and
 * log buffers, OpenWhisk's messages, and the helpers more than one of them calls. Private
 * to the module (and its unit tests): the invoker sees container.h only. */
#ifndef SQ_INVOKER_CONTAINER_INT_H
#define SQ_INVOKER_CONTAINER_INT_H

#include "container.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

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

/* ---------------------------------------------------------------- container.c */

int64_t ct_mono_ns(void);
int64_t ct_wall_ms(void);
/* Sets out->outcome and replaces out->result with {"error": msg}. */
void ct_set_failure(inv_run_result *out, inv_outcome oc, const char *msg);
/* Keeps one line of the action's output (stream S_OUT or S_ERR) unless the log limit has
 * been reached. */
void ct_add_log(inv_container_t *c, collect_t *k, int which, const char *text, size_t n,
                const struct timespec *ts);
/* Appends the truncation notice when the log limit was reached. */
void ct_finish_logs(inv_container_t *c, collect_t *k);
/* Reads what s's pipe holds: bytes read, 0 at EOF, -1 when nothing was there (or on error,
 * then eof is set). */
ssize_t ct_fill(stream_t *s);
void ct_close_fd(int *fd);
/* Kills everything the container runs and waits until it is gone; idempotent. */
void ct_kill_sandbox(inv_container_t *c);

/* ---------------------------------------------------------------- container_start.c */

/* What a kind runs: its launcher, outside and inside the sandbox, and the interpreter. */
typedef struct {
    const char *lang;             /* "nodejs" or "python" (<runtime_dir>/<lang> is bound at
                                     /runtime); NULL: native (the launcher binary, bound as a
                                     file at /runtime/launcher) */
    const char *interp;           /* the interpreter; NULL: native */
    char runtime_host[PATH_MAX];  /* what is bound read-only into the sandbox ... */
    char runtime_box[64];         /* ... and where */
    char launcher_host[PATH_MAX]; /* the launcher on the host ... */
    char launcher_box[64];        /* ... and inside the sandbox */
} ct_kind_t;

/* Resolves o->kind with o's paths into *k; touches no file. 0, or -1 with a message in err
 * (which may be NULL): no kind, an unsupported one, native without a launcher, a path too
 * long. */
int ct_kind_resolve(const inv_container_opts *o, ct_kind_t *k, char *err, size_t errlen);

/* The command that runs k's launcher, inside the sandbox (its paths there) or bare (the
 * host's): at most 3 words, NULL-terminated in cmd, pointing into k. */
void ct_kind_cmd(const ct_kind_t *k, bool sandbox, const char *cmd[4]);

/* An argv under construction; bufs hold the strings it made itself. */
typedef struct {
    const char *argv[96];
    int n;
    char bufs[4][PATH_MAX + 32];
} ct_args_t;

/* Appends bwrap's command line to a (zeroed): the namespaces (--unshare-net unless
 * own_netns: the child enters the container's namespace itself), nobody inside, the file
 * system (/tmp and /action of memory_mb / 2 each, k's runtime read-only), --seccomp 7 when
 * seccomp, a scrubbed environment, --info-fd 4, --block-fd 8 when block (the sandbox waits
 * for a byte there before it starts cmd), then cmd. Reads the host's /bin, /lib and /lib64
 * (symlinks or directories) and nothing else. */
void ct_bwrap_args(ct_args_t *a, const char *bwrap, const ct_kind_t *k, const char *const *cmd,
                   int memory_mb, bool seccomp, bool own_netns, bool block);

/* ---------------------------------------------------------------- container_exchange.c */

/* Writes what the runtime's stdin takes of line + '\n' from *off on. Returns 0, or -1 when
 * the runtime is gone (EPIPE). SIGPIPE is blocked by the caller. */
int ct_push_input(inv_container_t *c, const char *line, size_t len, size_t *off);

/* ---------------------------------------------------------------- container_concurrent.c */

/* inv_container_run() on a container initialised with concurrency > 1. */
inv_outcome ct_run_concurrent(inv_container_t *c, const char *line, int timeout_ms,
                              size_t log_limit, inv_run_result *out);

#endif
