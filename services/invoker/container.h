/* One sandboxed runtime process (a "container") and the pipes the invoker talks to it over.
 *
 * A container is a stem cell when started: a runtime launcher (runtimes/<lang>/launcher.*,
 * or the native launcher binary) running under bubblewrap in its own mount, PID, IPC, UTS
 * (and, where possible, cgroup) namespaces and a user namespace that maps it to nobody, with
 * a read-only /usr, a private size-limited /tmp, a private size-limited /action for the
 * action's code, the launcher bound read-only at /runtime, a scrubbed environment, a
 * network namespace of its own (netns.h: egress through a veth, or loopback only), the
 * seccomp filter and the cgroups of sandbox.h, RLIMIT_NOFILE 1024 and no
 * core dumps. inv_container_init() hands it the action's code once; inv_container_run() then
 * runs one activation at a time on it (OpenWhisk's actionloop: one JSON line in on stdin, one
 * JSON result line out on fd 3, logs on stdout/stderr up to the sentinel
 * XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX on each). The fd 3 conventions are described at the
 * top of runtimes/nodejs/launcher.js; every launcher follows them.
 *
 * Kinds: nodejs:20 / nodejs:default (node runtimes/nodejs/launcher.js), python:3 (python3
 * runtimes/python/launcher.py), native (the squall-native-launcher binary, see
 * runtimes/native/launcher.c: OpenWhisk's blackbox convention, or actionloop when the init
 * asks for it).
 *
 * Concurrency: a container initialised with concurrency > 1 (nodejs only) takes several
 * activations at once through inv_container_run() called from several threads; its launcher
 * then tags every fd 3 line with the activation id and carries that activation's logs in it
 * (see launcher.js), so nothing is shared between activations but the process.
 *
 * Threads: a container is used from one thread at a time, except that inv_container_run()
 * may be called from several threads at once on a concurrent container (above). Different
 * containers may be used from different threads at once; the module has no mutable globals.
 * The sandbox is spawned with --die-with-parent, which the kernel ties to the *thread* that
 * called inv_container_start(): start containers from a thread that outlives them (a pool
 * thread, not a short-lived helper), or the sandbox is killed when that thread exits.
 * Writes to a dead container's stdin fail with EPIPE: the module blocks SIGPIPE in the calling
 * thread around its own writes and swallows the signal, so the process needs no SIGPIPE setup.
 *
 * Errors are reported as an inv_outcome and, for the caller's activation record, a JSON
 * result text with OpenWhisk's messages. After a failed init (any outcome but INV_OK), a
 * timeout or a crash the sandbox is already killed and reaped; INV_INTERNAL from a misuse
 * changes nothing. Whatever the outcome, check inv_container_alive() before reusing a
 * container and destroy it when that is false.
 */
#ifndef SQ_INVOKER_CONTAINER_H
#define SQ_INVOKER_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "netns.h"
#include "sandbox.h"

typedef struct inv_container inv_container_t;

typedef struct {
    const char *runtime_dir;     /* dir holding nodejs/launcher.js and python/launcher.py;
                              <runtime_dir>/<lang> is bound read-only at /runtime */
    const char *kind;            /* "nodejs:20", "nodejs:default", "python:3" or "native" */
    int memory_mb;               /* the memory limit (cgroup, when sb has one); also sizes /tmp and
                              /action (half each: both are charged to the cgroup); <=0: 256 */
    const inv_sandbox_t *sb;     /* cgroups and seccomp; NULL: neither (tests, the floor bench) */
    bool sandbox;                /* true: run under bwrap; false: bare process (the floor benchmark
                              and hosts without bwrap; no isolation at all) */
    const char *bwrap_path;      /* NULL: /usr/bin/bwrap */
    const char *node_path;       /* NULL: /usr/bin/node (must live under /usr when sandboxed) */
    const char *python_path;     /* NULL: /usr/bin/python3 (idem) */
    const char *native_launcher; /* the squall-native-launcher binary (kind native); bound
                              read-only at /runtime/launcher */
    inv_net_t *net;              /* the network (netns.h); NULL or mode none: a namespace with
                              loopback only (bwrap --unshare-net) */
    int spin_us;                 /* busy-poll this long (per exchange) before sleeping in ppoll():
                              trades CPU for latency where waking a sleeping CPU is slow (VMs);
                              0: never spin */
} inv_container_opts;

typedef enum {
    INV_OK = 0,     /* the action returned an object without "error"                      */
    INV_APP_ERROR,  /* it returned an object with "error" (or its Promise rejected):
                      OpenWhisk "application error"                                       */
    INV_THROWN,     /* main threw (or an uncaught exception during the run): developer error */
    INV_NOT_OBJECT, /* it returned something else than a JSON object: developer error        */
    INV_TIMEOUT,    /* it ran past its time limit; the sandbox has been destroyed              */
    INV_CRASH,      /* the runtime died or broke the protocol; the sandbox has been destroyed  */
    INV_OOM,        /* the kernel killed it for its memory limit (or its heap ran out): developer
                      error "The action exhausted its memory and was aborted."; destroyed   */
    INV_INIT_ERROR, /* init was refused (syntax error, no main...): developer error            */
    INV_INTERNAL    /* our side failed (spawn, pipes, misuse): whisk internal error            */
} inv_outcome;

/* Returns a static name for the outcome ("ok", "application error", ...). */
const char *inv_outcome_str(inv_outcome o);

typedef struct {
    inv_outcome outcome;
    char *result; /* malloc'd JSON text: the result object, or {"error": "..."} for every
                            failure (OpenWhisk's wording); NULL only when memory ran out
                            (outcome INV_INTERNAL) */
    char **logs;  /* malloc'd lines "2026-11-23T10:00:00.123456789Z stdout: text" */
    size_t nlogs;
    bool logs_truncated;      /* the last line of logs is the truncation notice */
    int64_t start_ms, end_ms; /* wall clock (ms since the epoch) around the exchange */
} inv_run_result;

/* Live logs: when set, called on the calling thread with every log line kept (as the
 * record will hold it) as soon as it is read, while the exchange runs. Per thread. */
typedef void (*inv_log_hook_fn)(void *arg, const char *line);
extern _Thread_local inv_log_hook_fn inv_log_hook;
extern _Thread_local void *inv_log_hook_arg;

/* Spawns a stem cell for o->kind and returns it in *out. Waits only for bwrap to report
 * the sandbox (a few ms), not for node: the first inv_container_init() absorbs that. On failure returns -1, sets
 * *out to NULL and writes a message to err (which may be NULL). The caller owns the
 * container and frees it with inv_container_destroy(). */
int inv_container_start(inv_container_t **out, const inv_container_opts *o, char *err,
                        size_t errlen);

/* What init tells the launcher besides the code. */
typedef struct {
    const char *code;      /* text, or base64 when binary */
    const char *main_name; /* NULL or "": "main" */
    bool binary;           /* code is base64 (a zip; for native also a bare executable) */
    bool actionloop;       /* native only: the executable speaks actionloop (kept running) */
    int concurrency;       /* > 1: nodejs takes that many activations at once (tagged lines) */
    int memory_mb;         /* > 0: the action's memory limit, applied to the cgroup first (a
                            stem cell started with another size) */
    bool no_network;       /* the action asked for no network: the stem cell's veth is removed
                            before the code arrives (loopback only) */
    const char *env_json;  /* NULL, or a JSON object of string values: the action's parameters
                            annotated init: true, its environment from init on */
} inv_init_opts;

/* inv_container_init() with every option. */
inv_outcome inv_container_init_ex(inv_container_t *c, const inv_init_opts *io, int timeout_ms,
                                  size_t log_limit_bytes, inv_run_result *out);

/* The concurrency the container was initialised with (1 unless concurrent). */
int inv_container_concurrency(const inv_container_t *c);

/* Bytes charged to the container's memory cgroup, or -1 without one. */
int64_t inv_container_memory_bytes(const inv_container_t *c);

/* Gives the stem cell its code (once per container) and waits at most timeout_ms for its
 * answer. Fills *out (the caller frees it with inv_run_result_free()): outcome INV_OK,
 * INV_INIT_ERROR (result {"error": "<why>"}), INV_TIMEOUT, INV_CRASH or INV_INTERNAL; logs
 * hold what the code printed while loading, subject to log_limit_bytes; end_ms - start_ms
 * is OpenWhisk's initTime. On any outcome but INV_OK the sandbox is killed (a misuse
 * excepted). Returns out->outcome. */
inv_outcome inv_container_init(inv_container_t *c, const char *code, const char *main_name,
                               bool binary, int timeout_ms, size_t log_limit_bytes,
                               inv_run_result *out);

/* Runs one activation: input_line is the activation message, one JSON object on one line
 * without the trailing '\n' (see launcher.js); on a concurrent container it must carry a
 * unique "activation_id". Waits at most timeout_ms for the result and
 * for both log streams to end, keeps at most log_limit_bytes of log text (bytes of the
 * action's lines, before formatting) and fills *out, which the caller frees with
 * inv_run_result_free(). Returns out->outcome. */
inv_outcome inv_container_run(inv_container_t *c, const char *input_line, int timeout_ms,
                              size_t log_limit_bytes, inv_run_result *out);

/* Frees what *r holds and zeroes it; r itself is the caller's. NULL is a no-op. */
void inv_run_result_free(inv_run_result *r);

/* True while the sandbox process runs and the protocol is in step. Notices a runtime that
 * died since the last exchange (and then kills and reaps what is left of it). */
bool inv_container_alive(inv_container_t *c);

/* Warms a nodejs stem cell while it waits for its code: one line on its stdin on which the
 * launcher runs its init and activation paths once on throwaway input and answers nothing
 * (V8 compiles a function when it is first called, node's stream reading included: the
 * first init after a long wait took 1.4-1.7 ms, 1.0-1.1 ms once warmed). 0, or -1 when c
 * is no nodejs container waiting for its init. */
int inv_container_warm(inv_container_t *c);

/* Freezes (true) or thaws (false) every process of the sandbox through its cgroup freezer
 * (sandbox.h), so that nothing an action left behind (a timer, a child process) runs
 * between activations. Only between exchanges: the caller thaws before the next
 * inv_container_init() or inv_container_run(). Idempotent; a frozen container is thawed
 * before it is killed. 0, or -1 when the container has no freezer (then it keeps running)
 * or the write failed. Not thread-safe: the caller serialises it with the container's use. */
int inv_container_freeze(inv_container_t *c, bool frozen);

/* True while the container is frozen. */
bool inv_container_frozen(const inv_container_t *c);

/* The pid of the process the invoker spawned (bwrap, or node when not sandboxed): the leader
 * of the container's process group. For diagnostics and tests. */
pid_t inv_container_pid(const inv_container_t *c);

/* Copies what the sandbox binds from the tree (runtime_dir's nodejs/ and python/, and the
 * native launcher) into a new directory /run/squall-runtimes-<pid>-XXXXXX (or under /tmp
 * when /run is not writable), mode 0755, files 0644 (executables 0755), owned by the caller.
 * A root invoker needs it: it runs bwrap as nobody, who may not traverse the directories
 * above the tree (a clone in a home of mode 0700), and nothing of a user's home is widened
 * for it. Removes the copies left by processes that are gone. Fills out_dir (the runtime_dir
 * to use) and out_native (the launcher to use; native_launcher itself when it is missing).
 * 0, or -1 with a message in err. */
int inv_runtime_stage(const char *runtime_dir, const char *native_launcher, char *out_dir,
                      size_t dirlen, char *out_native, size_t nativelen, char *err, size_t errlen);

/* Removes a directory made by inv_runtime_stage(). */
void inv_runtime_unstage(const char *dir);

/* Kills the whole sandbox (its PID namespace, or the process group when not sandboxed),
 * reaps it, closes the pipes and frees c. When it returns, no process of the container is
 * left. NULL is a no-op. */
void inv_container_destroy(inv_container_t *c);

#endif
