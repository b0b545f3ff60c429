/* The host side of the sandbox, shared by every container of one invoker: which cgroup
 * controllers it may use (memory and pids, v1 or v2, detected once at start), one cgroup per
 * container under the invoker's own, and the seccomp filter every container runs under.
 *
 * cgroups. At start inv_sandbox_create() reads /proc/self/cgroup and picks:
 *   - v2 (unified hierarchy, /sys/fs/cgroup/cgroup.controllers exists): the invoker's cgroup
 *     must be writable (root, or systemd Delegate=yes). The invoker moves itself into a leaf
 *     "<ours>/invoker" (the no-internal-process rule), enables +memory +pids for the children
 *     and makes "<ours>/squall-<name>/c<N>" per container: memory.max, memory.swap.max = 0,
 *     memory.oom.group = 1, pids.max.
 *   - v1 (a "memory" hierarchy; this is what a hybrid host such as a Debian VM with
 *     systemd's legacy layout has): "<memory hierarchy>/<ours>/squall-<name>/c<N>" with
 *     memory.limit_in_bytes (and memory.memsw.limit_in_bytes where swap is accounted), and
 *     the same under the pids hierarchy with pids.max when it is mounted.
 *   - none: no controller usable (not root, nothing delegated, no cgroupfs). Memory is then
 *     only accounted in the pool: an action can use more than its limit, an OOM kill by the
 *     kernel looks like a crash, and /tmp stays size-limited. The invoker says so at start.
 *   - freezer: between activations a container is frozen (sandbox.h: inv_cg_freeze; the
 *     pool decides when). v2 has it in every cgroup (cgroup.freeze); v1 needs the freezer
 *     hierarchy (CGROOT/freezer): "<freezer>/<ours>/squall-<name>/c<N>" beside the memory
 *     one. Without it (v1 without freezer, or mode none) idle containers keep running.
 * A container's processes join its cgroup before the runtime runs: on v1 the forked child
 * writes "0" into each "tasks" before it runs bwrap; on v2 the invoker moves bwrap's
 * processes in while bwrap builds the sandbox, and bwrap starts the runtime once they are
 * in (--block-fd). Nothing of the runtime or the action ever runs outside.
 *
 * seccomp. One classic-BPF program built with libseccomp at start and handed to bwrap
 * (--seccomp) for every container: default allow, and EPERM for what an action never needs:
 * ptrace and process_vm_*, mount and the new mount API, pivot_root, chroot, kernel modules,
 * kexec, reboot, swapon/off, bpf, perf_event_open, keyctl/add_key/request_key, userfaultfd,
 * open_by_handle_at, setns, unshare, clone with a namespace flag, io_uring (ENOSYS, so
 * runtimes fall back), clone3 (ENOSYS: its flags cannot be inspected; libc falls back to
 * clone), quotactl, acct, syslog, clock setting, iopl/ioperm... Other architectures' system
 * calls (int 0x80 on x86-64) kill the process.
 *
 * Threads: create and destroy from one thread; everything else may be called from any thread
 * (container numbers come from an atomic counter). Only libc and libseccomp: no libsq. */
#ifndef SQ_INVOKER_SANDBOX_H
#define SQ_INVOKER_SANDBOX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sq/util.h" /* sq_errf: every err/errlen of the module */

typedef enum { INV_CG_NONE = 0, INV_CG_V1, INV_CG_V2 } inv_cg_mode;

typedef struct inv_sandbox inv_sandbox_t;

/* One container's cgroups. All paths empty and fds -1 when not in use. */
typedef struct {
    char mem[PATH_MAX];  /* v1 memory cgroup dir, or the v2 cgroup dir */
    char pids[PATH_MAX]; /* v1 pids cgroup dir ("" under v2 or without the controller) */
    char frz[PATH_MAX];  /* v1 freezer cgroup dir ("" under v2 or without the controller) */
    int procs_fd[3];     /* open cgroup.procs (v1 unless by_parent: tasks) files */
    int freeze_fd;       /* open v1 freezer.state or v2 cgroup.freeze; -1 without a freezer */
    inv_cg_mode mode;
    bool by_parent; /* the invoker moves the sandbox in while bwrap sets it up (see
                       inv_cg_attach()) instead of the child joining before exec (v2) */
} inv_cg_t;

/* Detects the cgroup layout, prepares the invoker's cgroup directories (name distinguishes
 * several invokers on one host; the pid is added) and builds the seccomp filter. pids_max
 * <= 0: 256. Never fails for want of cgroups (mode none); fails (-1, message in err) only
 * when out of memory or when libseccomp cannot build the filter. describe receives one line
 * for the start-up log. The caller owns *out and frees it with inv_sandbox_destroy(). */
int inv_sandbox_create(inv_sandbox_t **out, const char *name, int pids_max, char *describe,
                       size_t describe_len, char *err, size_t errlen);

/* Removes the invoker's cgroup directories (containers must be gone). NULL is a no-op. */
void inv_sandbox_destroy(inv_sandbox_t *sb);

inv_cg_mode inv_sandbox_cgroup_mode(const inv_sandbox_t *sb);
/* How containers made from now on join their cgroups: true, moved in by the invoker while
 * bwrap starts (the default on v2); false, the child joins before exec (the default on v1).
 * Both keep every process of the sandbox inside before any of the runtime runs. */
void inv_sandbox_set_attach(inv_sandbox_t *sb, bool by_parent);
/* True when containers get a cgroup freezer (v2, or v1 with the freezer hierarchy). */
bool inv_sandbox_can_freeze(const inv_sandbox_t *sb);

/* "v1", "v2" or "none". */
const char *inv_cg_mode_str(inv_cg_mode m);

/* The seccomp program (struct sock_filter array) and its size in bytes; NULL when none. */
const void *inv_sandbox_seccomp(const inv_sandbox_t *sb, size_t *len);

/* Makes the cgroups of a new container with its memory limit. With mode none (or sb NULL)
 * it only resets cg. Returns 0, or -1 with a message in err (the caller may go on without
 * cgroups: the invoker logs it). */
int inv_cg_create(const inv_sandbox_t *sb, inv_cg_t *cg, int memory_mb, char *err, size_t errlen);

/* Changes the memory limit (a stem cell specialised for an action). 0 or -1. */
int inv_cg_set_memory(inv_cg_t *cg, int memory_mb);

/* True when the kernel's OOM killer has killed a process of this container. */
bool inv_cg_oom_killed(const inv_cg_t *cg);

/* Bytes of memory the container's cgroup is charged for (RSS + page cache + tmpfs), or -1. */
int64_t inv_cg_memory_bytes(const inv_cg_t *cg);

/* In the forked child (one thread), before exec: joins the cgroups (async-signal-safe): v1
 * writes "0" into "tasks", which costs no RCU grace period. 0 or -1. */
int inv_cg_join_child(const inv_cg_t *cg);

/* In the invoker: moves process pid (every thread) into the container's cgroups. The first
 * move of a process after a quiet spell waits for an RCU grace period (~11 ms), so the
 * invoker does it while bwrap sets the sandbox up (cg->by_parent: v2, which lacks v1's
 * cheap "tasks" join), and the sandbox starts the runtime only once everything is in (bwrap
 * --block-fd). 0, or -1 with errno (ESRCH: pid is gone). */
int inv_cg_attach(const inv_cg_t *cg, int pid);

/* Appends the children of every thread of process pid to pids, which holds n of cap: the
 * new n, or -1 when they do not fit. A process that is gone has none. */
int inv_proc_children(int pid, int *pids, int n, int cap);

/* After inv_cg_attach() of root: moves its descendants in, the children of each process once
 * it is in. A child forked after its parent's move is born inside, one forked before is
 * listed in /proc by then (fork and cgroup moves exclude each other), so none is missed. 0,
 * or -1 with errno (E2BIG: more than 16 processes). */
int inv_cg_attach_tree(const inv_cg_t *cg, int root);

/* Closes the cgroup.procs / tasks fds (the parent, after fork). */
void inv_cg_close_fds(inv_cg_t *cg);

/* True when the container's cgroup can be frozen (v2 always; v1 with a freezer hierarchy). */
bool inv_cg_can_freeze(const inv_cg_t *cg);

/* Freezes (true) or thaws (false) every process of the container: one write to the open
 * freezer.state (v1: FROZEN/THAWED) or cgroup.freeze (v2: 1/0). Freezing is asynchronous
 * (the kernel stops the tasks as they come to it); thawing lets them run at once. 0, or -1
 * without a freezer or when the write fails. Async-signal-safe: only write(2). */
int inv_cg_freeze(const inv_cg_t *cg, bool frozen);

/* Removes the container's cgroup directories; waits a little for the last processes to be
 * gone (they are killed before). */
void inv_cg_destroy(inv_cg_t *cg);

/* Moves fd to a number of 10 or above (close-on-exec; the old one is closed), so that a
 * container's child dup2()ing onto 0..7 cannot clobber it. fd itself when it is below 0 or
 * already there; -1 when it could not be moved. */
int inv_lift_fd(int fd);

#endif
