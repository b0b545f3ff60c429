/* Spawning a container: the kind resolved to its launcher and interpreter, the pipes, the
 * bubblewrap command line, the child's exec (namespaces, cgroups, fds, limits, the drop to
 * nobody), and the adoption of our pipe ends once it runs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, close_range; the build also defines it */
#endif
#include "container_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* uid/gid a root invoker drops to before it runs bwrap; also the uid inside. */
#define SANDBOX_ID 65534

/* Fds the runtime sees. */
enum {
    CHILD_RESULT_FD = 3,
    CHILD_INFO_FD = 4,
    CHILD_PASSWD_FD = 5,
    CHILD_GROUP_FD = 6,
    CHILD_SECCOMP_FD = 7,
    CHILD_BLOCK_FD = 8
};
/* RLIMIT_NOFILE inside the sandbox (OpenWhisk's default). */
#define NOFILE_MAX 1024

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    p[0] = inv_lift_fd(p[0]);
    p[1] = inv_lift_fd(p[1]);
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
    ct_close_fd(&p[1]);
    return 0;
}

static int data_pipe(int p[2], const char *data)
{
    return data_pipe_n(p, data, strlen(data));
}

/* ---------------------------------------------------------------- kind resolution */

int ct_kind_resolve(const inv_container_opts *o, ct_kind_t *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    if (!o || !o->runtime_dir || !o->kind) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "missing runtime_dir or kind");
        return -1;
    }
    const char *entry = NULL;
    if (strcmp(o->kind, "nodejs:20") == 0 || strcmp(o->kind, "nodejs:default") == 0) {
        k->lang = "nodejs";
        entry = "launcher.js";
        k->interp = o->node_path ? o->node_path : "/usr/bin/node";
    } else if (strcmp(o->kind, "python:3") == 0) {
        k->lang = "python";
        entry = "launcher.py";
        k->interp = o->python_path ? o->python_path : "/usr/bin/python3";
    } else if (strcmp(o->kind, "native") == 0) {
        if (!o->native_launcher || !*o->native_launcher) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "no native launcher configured");
            return -1;
        }
    } else {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "unsupported kind \"%s\"", o->kind);
        return -1;
    }
    if (k->lang) {
        if (snprintf(k->runtime_host, sizeof k->runtime_host, "%s/%s", o->runtime_dir, k->lang) >=
                (int)sizeof k->runtime_host ||
            snprintf(k->launcher_host, sizeof k->launcher_host, "%s/%s", k->runtime_host, entry) >=
                (int)sizeof k->launcher_host) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "runtime_dir is too long");
            return -1;
        }
        snprintf(k->runtime_box, sizeof k->runtime_box, "/runtime");
        snprintf(k->launcher_box, sizeof k->launcher_box, "/runtime/%s", entry);
    } else {
        /* native: the launcher is a binary of the build, bound as a file */
        snprintf(k->runtime_host, sizeof k->runtime_host, "%s", o->native_launcher);
        snprintf(k->launcher_host, sizeof k->launcher_host, "%s", o->native_launcher);
        snprintf(k->launcher_box, sizeof k->launcher_box, "/runtime/launcher");
        snprintf(k->runtime_box, sizeof k->runtime_box, "%s", k->launcher_box);
    }
    return 0;
}

void ct_kind_cmd(const ct_kind_t *k, bool sandbox, const char *cmd[4])
{
    int n = 0;
    if (k->interp)
        cmd[n++] = k->interp;
    if (k->lang && strcmp(k->lang, "python") == 0)
        cmd[n++] = "-B";
    cmd[n++] = sandbox ? k->launcher_box : k->launcher_host;
    while (n < 4)
        cmd[n++] = NULL;
}

/* ---------------------------------------------------------------- bwrap's command line */

static void arg(ct_args_t *a, const char *s)
{
    if (a->n < (int)(sizeof a->argv / sizeof a->argv[0]) - 1)
        a->argv[a->n++] = s;
}

static void args2(ct_args_t *a, const char *opt, const char *value)
{
    arg(a, opt);
    arg(a, value);
}

static void args3(ct_args_t *a, const char *opt, const char *v1, const char *v2)
{
    arg(a, opt);
    arg(a, v1);
    arg(a, v2);
}

/* Binds a top-level host directory the way the host has it: a symlink into /usr on
 * merged-/usr systems, a read-only bind otherwise. */
static void top_dir(ct_args_t *a, const char *path, int slot)
{
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        snprintf(a->bufs[slot], sizeof a->bufs[slot], "%s", target);
        args3(a, "--symlink", a->bufs[slot], path);
    } else if (access(path, F_OK) == 0) {
        args3(a, "--ro-bind", path, path);
    }
}

/* The namespaces and the identity inside: everything unshared, nobody. */
static void bwrap_namespaces(ct_args_t *a, bool own_netns)
{
    arg(a, "--unshare-user");
    /* Never the host's network: the invoker's namespace (entered before bwrap), or one of
     * bwrap's with loopback only. */
    if (!own_netns)
        arg(a, "--unshare-net");
    args2(a, "--uid", "65534");
    args2(a, "--gid", "65534");
    arg(a, "--unshare-pid");
    arg(a, "--unshare-ipc");
    arg(a, "--unshare-uts");
    arg(a, "--unshare-cgroup-try");
    args2(a, "--hostname", "squall");
    arg(a, "--die-with-parent");
    arg(a, "--new-session");
}

/* The file system: the host's /usr read-only, a few files of /etc, /proc, /dev, the private
 * /tmp and /action, and the runtime. */
static void bwrap_filesystem(ct_args_t *a, const ct_kind_t *k, int memory_mb)
{
    args3(a, "--ro-bind", "/usr", "/usr");
    top_dir(a, "/bin", 0);
    top_dir(a, "/lib", 1);
    top_dir(a, "/lib64", 2);
    /* Name resolution and TLS for actions that call out; nothing else of the host's /etc. */
    static const char *const etc[] = { "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
                                       "/etc/ssl/certs", "/etc/ssl/openssl.cnf" };
    for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++)
        args3(a, "--ro-bind-try", etc[i], etc[i]);
    args3(a, "--ro-bind-data", "5", "/etc/passwd");
    args3(a, "--ro-bind-data", "6", "/etc/group");
    args2(a, "--proc", "/proc");
    args2(a, "--dev", "/dev");
    /* /tmp and /action (the unpacked code) share the memory limit: both are charged to the
     * container's cgroup, so each gets half and neither can starve the runtime alone. */
    snprintf(a->bufs[3], sizeof a->bufs[3], "%lld", ((long long)memory_mb << 20) / 2);
    args2(a, "--size", a->bufs[3]);
    args2(a, "--perms", "1777");
    args2(a, "--tmpfs", "/tmp");
    args2(a, "--size", a->bufs[3]);
    args2(a, "--perms", "0755");
    args2(a, "--tmpfs", "/action");
    args3(a, "--ro-bind", k->runtime_host, k->runtime_box);
}

void ct_bwrap_args(ct_args_t *a, const char *bwrap, const ct_kind_t *k, const char *const *cmd,
                   int memory_mb, bool seccomp, bool own_netns, bool block)
{
    arg(a, bwrap);
    bwrap_namespaces(a, own_netns);
    bwrap_filesystem(a, k, memory_mb);
    if (seccomp)
        args2(a, "--seccomp", "7");
    args2(a, "--chdir", "/tmp");
    arg(a, "--clearenv");
    args3(a, "--setenv", "PATH", "/usr/bin:/bin");
    args3(a, "--setenv", "HOME", "/tmp");
    args3(a, "--setenv", "LANG", "C.UTF-8");
    args2(a, "--info-fd", "4");
    if (block)
        args2(a, "--block-fd", "8");
    arg(a, "--");
    for (int i = 0; cmd[i]; i++)
        arg(a, cmd[i]);
    a->argv[a->n] = NULL;
}

/* ---------------------------------------------------------------- spawning */

/* The pipe ends a start holds until the child runs; adopt_pipes() then keeps ours. -1: none. */
typedef struct {
    int in[2], so[2], se[2], res[2];  /* the runtime's stdin, stdout, stderr and fd 3 */
    int blk[2];                       /* cg.by_parent: bwrap's --block-fd */
    int info[2], pw[2], gr[2], sc[2]; /* sandboxed only: bwrap's --info-fd, /etc/passwd,
                                          /etc/group and the seccomp filter */
} pipes_t;

static void pipes_close(pipes_t *p)
{
    for (int i = 0; i < 2; i++) {
        ct_close_fd(&p->in[i]);
        ct_close_fd(&p->so[i]);
        ct_close_fd(&p->se[i]);
        ct_close_fd(&p->res[i]);
        ct_close_fd(&p->info[i]);
        ct_close_fd(&p->pw[i]);
        ct_close_fd(&p->gr[i]);
        ct_close_fd(&p->sc[i]);
        ct_close_fd(&p->blk[i]);
    }
}

/* The four pipes of the exchange, and when sandboxed those bwrap reads at start (passwd and
 * group files, the seccomp filter: *seccomp tells whether there is one). */
static int open_pipes(pipes_t *p, const inv_container_opts *o, bool *seccomp, char *err,
                      size_t errlen)
{
    *seccomp = false;
    if (make_pipe(p->in) < 0 || make_pipe(p->so) < 0 || make_pipe(p->se) < 0 ||
        make_pipe(p->res) < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not create pipes: %s", strerror(errno));
        return -1;
    }
    if (!o->sandbox)
        return 0;
    char passwd[128], group[64];
    snprintf(passwd, sizeof passwd, "nobody:x:%d:%d:nobody:/tmp:/usr/sbin/nologin\n", SANDBOX_ID,
             SANDBOX_ID);
    snprintf(group, sizeof group, "nogroup:x:%d:\n", SANDBOX_ID);
    if (make_pipe(p->info) < 0 || data_pipe(p->pw, passwd) < 0 || data_pipe(p->gr, group) < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not create pipes: %s", strerror(errno));
        return -1;
    }
    size_t bpf_len = 0;
    const void *bpf = inv_sandbox_seccomp(o->sb, &bpf_len);
    if (bpf && data_pipe_n(p->sc, bpf, bpf_len) < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not pass the seccomp filter: %s",
                strerror(errno));
        return -1;
    }
    *seccomp = bpf != NULL;
    return 0;
}

/* A container with nothing open yet, or NULL when memory ran out. */
static inv_container_t *container_new(const inv_container_opts *o)
{
    inv_container_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
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
    return c;
}

/* What the start needs from the host: the launcher, the interpreter, bwrap. */
static int check_host(const ct_kind_t *k, const char *bwrap, bool sandbox, char *err, size_t errlen)
{
    if (access(k->launcher_host, k->lang ? R_OK : X_OK) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not read launcher \"%s\": %s",
                k->launcher_host, strerror(errno));
        return -1;
    }
    if (k->interp && access(k->interp, X_OK) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not execute \"%s\": %s", k->interp,
                strerror(errno));
        return -1;
    }
    if (sandbox && access(bwrap, X_OK) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not execute \"%s\": %s", bwrap,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* The child, between fork() and execve(): only async-signal-safe code, everything is
 * prepared. Default signal dispositions, its own process group, the container's network
 * namespace, the pipes on fds 0..7, its cgroups and limits, no other fd of the invoker, and
 * (drop) nobody's identity. Exits 125 (namespace, cgroups), 126 (fds, identity) or 127
 * (exec). */
static _Noreturn void child_exec(const inv_container_t *c, const pipes_t *p, const ct_args_t *a,
                                 bool drop)
{
    static char *const envp[] = { "PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8", NULL };
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
    if (dup2(p->in[0], 0) < 0 || dup2(p->so[1], 1) < 0 || dup2(p->se[1], 2) < 0 ||
        dup2(p->res[1], CHILD_RESULT_FD) < 0)
        _exit(126);
    int keep = CHILD_RESULT_FD;
    if (c->sandbox) {
        if (dup2(p->info[1], CHILD_INFO_FD) < 0 || dup2(p->pw[0], CHILD_PASSWD_FD) < 0 ||
            dup2(p->gr[0], CHILD_GROUP_FD) < 0)
            _exit(126);
        keep = CHILD_GROUP_FD;
        if (p->sc[0] >= 0) {
            if (dup2(p->sc[0], CHILD_SECCOMP_FD) < 0)
                _exit(126);
            keep = CHILD_SECCOMP_FD;
        }
        if (p->blk[0] >= 0) {
            if (dup2(p->blk[0], CHILD_BLOCK_FD) < 0)
                _exit(126);
            keep = CHILD_BLOCK_FD;
        }
        /* Into the container's cgroups before anything of the sandbox runs (the fds are
         * above 10: still open here), unless the invoker moves it in (attach_sandbox()). A
         * sandbox that cannot be limited does not start. */
        if (!c->cg.by_parent && inv_cg_join_child(&c->cg) != 0)
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

/* Forks the child with every signal blocked (no handler of ours runs in it). Returns its pid,
 * or -1 with errno set. */
static pid_t spawn(const inv_container_t *c, const pipes_t *p, const ct_args_t *a, bool drop)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(c, p, a, drop);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = fork_errno;
    return pid;
}

/* After the fork: closes the child's ends and keeps ours, non-blocking, with their buffers. */
static int adopt_pipes(inv_container_t *c, pipes_t *p, char *err, size_t errlen)
{
    ct_close_fd(&p->in[0]);
    ct_close_fd(&p->so[1]);
    ct_close_fd(&p->se[1]);
    ct_close_fd(&p->res[1]);
    ct_close_fd(&p->info[1]);
    ct_close_fd(&p->pw[0]);
    ct_close_fd(&p->gr[0]);
    ct_close_fd(&p->sc[0]);
    ct_close_fd(&p->blk[0]);
    if (!c->cg.by_parent)
        inv_cg_close_fds(&c->cg);
    c->in_fd = p->in[1];
    c->s[S_RES].fd = p->res[0];
    c->s[S_OUT].fd = p->so[0];
    c->s[S_ERR].fd = p->se[0];
    p->in[1] = p->res[0] = p->so[0] = p->se[0] = -1;
    if (fcntl(c->in_fd, F_SETFL, O_NONBLOCK) < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not set up pipes: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < NSTREAMS; i++) {
        stream_t *s = &c->s[i];
        s->buf = malloc(BUF_INIT);
        s->cap = BUF_INIT;
        if (!s->buf || fcntl(s->fd, F_SETFL, O_NONBLOCK) < 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not set up pipes: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Reads bwrap's --info-fd JSON and returns "child-pid", or -1. Reads to EOF (bwrap closes
 * the fd once it has written everything): closing our end early would kill bwrap with
 * SIGPIPE in the middle of its report. */
static pid_t read_child_pid(int fd, int timeout_ms)
{
    char buf[2048];
    size_t len = 0;
    int64_t deadline = ct_mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left = deadline - ct_mono_ns();
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

/* cg.by_parent: every process of the sandbox into its cgroups (the bwrap child was moved
 * while bwrap started, inv_cg_attach_tree() takes in what it forked meanwhile), then the
 * byte on --block-fd that lets bwrap start the runtime, born inside.
 *
 * INVARIANT: nothing but bwrap (ours) runs before the move: the runtime is forked only after
 * this byte, inside the cgroups, so all its memory is charged there; and the action's code
 * comes with /init, sent only after inv_container_start() has returned, i.e. after this has
 * succeeded. No tenant code ever runs outside the container's cgroups (container_test:
 * limits, attach_tree). */
static int attach_sandbox(inv_container_t *c, int *block_fd, char *err, size_t errlen)
{
    if (inv_cg_attach_tree(&c->cg, c->pid) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot move the sandbox into its cgroups: %s",
                strerror(errno));
        return -1;
    }
    inv_cg_close_fds(&c->cg);
    if (write(*block_fd, "g", 1) != 1) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not release the sandbox: %s", strerror(errno));
        return -1;
    }
    ct_close_fd(block_fd);
    return 0;
}

/* A sandbox's bwrap forked: cg.by_parent, its cgroup moves (the slow first one, an RCU grace
 * period, while bwrap builds the sandbox); the pid of bwrap's child; the next start's network
 * namespace made meanwhile (by_parent: once the runtime is released, not to delay it). */
static int sandbox_started(inv_container_t *c, inv_net_t *net, pipes_t *p, char *err, size_t errlen)
{
    if (c->cg.by_parent && inv_cg_attach(&c->cg, c->pid) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot move the sandbox into its cgroups: %s",
                strerror(errno));
        return -1;
    }
    if (!c->cg.by_parent)
        inv_netc_prepare(net);
    /* bwrap reports its child (the init of the new PID namespace) as soon as it exists. */
    pid_t inner = read_child_pid(p->info[0], 10000);
    ct_close_fd(&p->info[0]);
    if (inner < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "bwrap did not start the sandbox");
        return -1;
    }
    c->ns_pidfd = (int)syscall(SYS_pidfd_open, inner, 0);
    if (c->cg.by_parent) {
        if (attach_sandbox(c, &p->blk[1], err, errlen) != 0)
            return -1;
        inv_netc_prepare(net);
    }
    return 0;
}

int inv_container_start(inv_container_t **out, const inv_container_opts *o, char *err,
                        size_t errlen)
{
    *out = NULL;
    pipes_t p = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 },
                  { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } };
    inv_container_t *c = NULL;
    ct_args_t *a = NULL;
    ct_kind_t k;
    const char *cmd[4];
    bool seccomp;

    if (ct_kind_resolve(o, &k, err, errlen) != 0)
        return -1;
    const char *bwrap = o->bwrap_path ? o->bwrap_path : "/usr/bin/bwrap";
    a = calloc(1, sizeof *a);
    c = container_new(o);
    if (!a || !c) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "out of memory");
        goto fail;
    }
    if (check_host(&k, bwrap, o->sandbox, err, errlen) != 0 ||
        open_pipes(&p, o, &seccomp, err, errlen) != 0)
        goto fail;
    ct_kind_cmd(&k, o->sandbox, cmd);
    if (o->sandbox) {
        if (inv_cg_create(o->sb, &c->cg, c->memory_mb, err, errlen) != 0 ||
            inv_netc_create(o->net, &c->net, err, errlen) != 0)
            goto fail;
        if (c->cg.by_parent && make_pipe(p.blk) < 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not create pipes: %s", strerror(errno));
            goto fail;
        }
        ct_bwrap_args(a, bwrap, &k, cmd, c->memory_mb, seccomp, c->net.ns_fd >= 0, c->cg.by_parent);
    } else {
        for (int i = 0; cmd[i]; i++)
            arg(a, cmd[i]);
        a->argv[a->n] = NULL;
    }
    /* A root invoker runs bwrap as nobody: bwrap then builds the sandbox in a user
     * namespace owned by nobody, so nothing in it is root on the host, not even uid 0 without
     * capabilities. */
    pid_t pid = spawn(c, &p, a, o->sandbox && geteuid() == 0);
    if (pid < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "could not fork: %s", strerror(errno));
        goto fail;
    }
    c->pid = pid;
    c->alive = true;
    setpgid(pid, pid); /* also here, so that kill(-pid) is right from now on */
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (adopt_pipes(c, &p, err, errlen) != 0 ||
        (o->sandbox && sandbox_started(c, o->net, &p, err, errlen) != 0))
        goto fail;
    free(a);
    *out = c;
    return 0;

fail:
    inv_container_destroy(c); /* first: the end of --block-fd lets bwrap go on */
    pipes_close(&p);
    free(a);
    return -1;
}
