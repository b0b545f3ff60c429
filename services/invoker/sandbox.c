/* The host side of the sandbox: cgroup detection and per-container cgroups (v1 and v2), and
 * the seccomp filter. See sandbox.h for the policy; this file is only the mechanics. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <seccomp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CGROOT "/sys/fs/cgroup"

struct inv_sandbox {
    inv_cg_mode mode;
    char mem_base[1400];  /* the invoker's parent dir of container cgroups (v1 memory, v2) */
    char pids_base[1400]; /* v1 pids ("" when absent) */
    char frz_base[1400];  /* v1 freezer ("" when absent) */
    char leaf[1400];      /* v2: the leaf the invoker moved itself into ("" if none) */
    int pids_max;
    bool by_parent; /* containers join as inv_cg_t.by_parent says (v2 by default) */
    atomic_uint next;
    void *bpf;
    size_t bpf_len;
};

int inv_lift_fd(int fd)
{
    if (fd < 0 || fd >= 10)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return nfd;
}

/* Writes s into dir/file. 0 or -1 (errno set). */
static int write_file(const char *dir, const char *file, const char *s)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)n ? 0 : -1;
}

static int read_file(const char *dir, const char *file, char *buf, size_t len)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = read(fd, buf, len - 1);
    close(fd);
    if (r < 0)
        return -1;
    buf[r] = '\0';
    return 0;
}

/* The value of "key N" in a flat keyed file (memory.events, memory.oom_control), or -1. */
static long long keyed(const char *dir, const char *file, const char *key)
{
    char buf[2048];
    if (read_file(dir, file, buf, sizeof buf) != 0)
        return -1;
    size_t kl = strlen(key);
    for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
            return strtoll(p + kl + 1, NULL, 10);
    }
    return -1;
}

/* Our path in the hierarchy named by controller ("memory", "pids"; "" for v2) from
 * /proc/self/cgroup. 0 or -1. */
static int self_path(const char *controller, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return -1;
    char line[1024];
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        char *a = strchr(line, ':');
        char *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = '\0';
        char *ctrls = a + 1, *path = b + 1;
        path[strcspn(path, "\n")] = '\0';
        bool match = false;
        if (!*controller) {
            match = strncmp(line, "0", 1) == 0 && a == line + 1 && *ctrls == '\0';
        } else {
            for (char *tok = strtok(ctrls, ","); tok; tok = strtok(NULL, ","))
                if (strcmp(tok, controller) == 0)
                    match = true;
        }
        if (match) {
            snprintf(out, len, "%s", strcmp(path, "/") == 0 ? "" : path);
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir that accepts an existing directory. */
static int mkdir_ok(const char *p)
{
    return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Removes what invokers that died without cleaning up left in parent: "squall-*-<pid>"
 * directories whose pid is gone, with their (empty) container cgroups. A directory that
 * still holds processes cannot be removed and stays. */
/* A dead invoker's container cgroup: thawed (a frozen process cannot die), its processes
 * killed, then removed (it empties once they are gone). */
static void release_cg(const char *cg)
{
    static const char *const thaw[][2] = { { "freezer.state", "THAWED" },
                                           { "cgroup.freeze", "0" } };
    char p[1800];
    for (size_t i = 0; i < sizeof thaw / sizeof thaw[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", cg, thaw[i][0]);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, thaw[i][1], strlen(thaw[i][1])) < 0) {
                /* not this hierarchy's file */
            }
            close(fd);
        }
    }
    snprintf(p, sizeof p, "%s/cgroup.procs", cg);
    FILE *f = fopen(p, "re");
    long pid;
    while (f && fscanf(f, "%ld", &pid) == 1)
        if (pid > 1)
            kill((pid_t)pid, SIGKILL);
    if (f)
        fclose(f);
    for (int i = 0; i < 100 && rmdir(cg) != 0 && errno == EBUSY; i++)
        usleep(2000);
}

static void sweep_stale(const char *parent)
{
    DIR *d = opendir(parent);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "squall-", 7) != 0)
            continue;
        const char *dash = strrchr(e->d_name, '-');
        long pid = dash ? strtol(dash + 1, NULL, 10) : 0;
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char dir[1400];
        snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name);
        DIR *sub = opendir(dir);
        struct dirent *c;
        while (sub && (c = readdir(sub)) != NULL) {
            if (c->d_name[0] != 'c' || c->d_name[1] < '0' || c->d_name[1] > '9')
                continue;
            char cg[1700];
            snprintf(cg, sizeof cg, "%s/%s", dir, c->d_name);
            release_cg(cg);
        }
        if (sub)
            closedir(sub);
        rmdir(dir);
    }
    if (d)
        closedir(d);
}

static int setup_v1(inv_sandbox_t *sb, const char *name, char *why, size_t whylen)
{
    char self[1024];
    if (!is_dir(CGROOT "/memory") || self_path("memory", self, sizeof self) != 0) {
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "no v1 memory hierarchy");
        return -1;
    }
    char parent[1100];
    char fself[1024];
    /* a dead invoker's frozen containers first: they must thaw to die */
    if (is_dir(CGROOT "/freezer") && self_path("freezer", fself, sizeof fself) == 0) {
        snprintf(parent, sizeof parent, CGROOT "/freezer%s", fself);
        sweep_stale(parent);
    }
    snprintf(parent, sizeof parent, CGROOT "/memory%s", self);
    sweep_stale(parent);
    snprintf(sb->mem_base, sizeof sb->mem_base, CGROOT "/memory%s/squall-%s-%d", self, name,
             (int)getpid());
    if (mkdir_ok(sb->mem_base) != 0) {
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "cannot create %s: %s", sb->mem_base,
                strerror(errno));
        sb->mem_base[0] = '\0';
        return -1;
    }
    /* children account hierarchically (the default on current kernels; ask anyway) */
    write_file(sb->mem_base, "memory.use_hierarchy", "1");
    if (is_dir(CGROOT "/pids") && self_path("pids", self, sizeof self) == 0) {
        snprintf(parent, sizeof parent, CGROOT "/pids%s", self);
        sweep_stale(parent);
        snprintf(sb->pids_base, sizeof sb->pids_base, CGROOT "/pids%s/squall-%s-%d", self, name,
                 (int)getpid());
        if (mkdir_ok(sb->pids_base) != 0)
            sb->pids_base[0] = '\0';
    }
    if (is_dir(CGROOT "/freezer") && self_path("freezer", self, sizeof self) == 0) {
        snprintf(parent, sizeof parent, CGROOT "/freezer%s", self);
        sweep_stale(parent);
        snprintf(sb->frz_base, sizeof sb->frz_base, CGROOT "/freezer%s/squall-%s-%d", self, name,
                 (int)getpid());
        if (mkdir_ok(sb->frz_base) != 0)
            sb->frz_base[0] = '\0';
    }
    return 0;
}

static bool has_word(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

static int setup_v2(inv_sandbox_t *sb, const char *name, char *why, size_t whylen)
{
    char self[1024], dir[1100], buf[1024];
    if (self_path("", self, sizeof self) != 0) {
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "no v2 entry in /proc/self/cgroup");
        return -1;
    }
    snprintf(dir, sizeof dir, CGROOT "%s", self);
    if (read_file(dir, "cgroup.controllers", buf, sizeof buf) != 0 || !has_word(buf, "memory")) {
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "the memory controller is not delegated to %s", dir);
        return -1;
    }
    bool pids = has_word(buf, "pids");
    const char *enable = pids ? "+memory +pids" : "+memory";
    if (*self) {
        /* No internal processes: move ourselves into a leaf before enabling controllers for
     * the children of our cgroup. */
        snprintf(sb->leaf, sizeof sb->leaf, "%s/invoker", dir);
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        if (mkdir_ok(sb->leaf) != 0 || write_file(sb->leaf, "cgroup.procs", pid) != 0) {
            sq_errf(SQ_ERR_INTERNAL, why, whylen, "cannot move the invoker into %s: %s", sb->leaf,
                    strerror(errno));
            sb->leaf[0] = '\0';
            return -1;
        }
    }
    if (write_file(dir, "cgroup.subtree_control", enable) != 0) {
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "cannot enable %s in %s: %s", enable, dir,
                strerror(errno));
        return -1;
    }
    sweep_stale(dir);
    snprintf(sb->mem_base, sizeof sb->mem_base, "%s/squall-%s-%d", dir, name, (int)getpid());
    if (mkdir_ok(sb->mem_base) != 0 ||
        write_file(sb->mem_base, "cgroup.subtree_control", enable) != 0) {
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "cannot prepare %s: %s", sb->mem_base,
                strerror(errno));
        rmdir(sb->mem_base);
        sb->mem_base[0] = '\0';
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- seccomp */

static const char *const BLOCKED[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "setns",
    "unshare",
    "quotactl",
    "quotactl_fd",
    "acct",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vhangup",
    "sethostname",
    "setdomainname",
    "fanotify_init",
};
static const char *const NOSYS[] = { "io_uring_setup", "io_uring_enter", "io_uring_register",
                                     "clone3" };

static int build_seccomp(inv_sandbox_t *sb, char *err, size_t errlen)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "seccomp_init failed");
        return -1;
    }
    int rc = -1, memfd = -1;
    for (size_t i = 0; i < sizeof BLOCKED / sizeof BLOCKED[0]; i++) {
        int nr = seccomp_syscall_resolve_name(BLOCKED[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not a call of this architecture */
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "seccomp: cannot block %s", BLOCKED[i]);
            goto out;
        }
    }
    for (size_t i = 0; i < sizeof NOSYS / sizeof NOSYS[0]; i++) {
        int nr = seccomp_syscall_resolve_name(NOSYS[i]);
        if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0) != 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "seccomp: cannot block %s", NOSYS[i]);
            goto out;
        }
    }
    /* clone with any namespace flag: one rule per flag (rules on one call are OR-ed). */
    static const uint64_t nsflags[] = { CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
    for (size_t i = 0; i < sizeof nsflags / sizeof nsflags[0]; i++) {
        if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, nsflags[i], nsflags[i])) != 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "seccomp: cannot filter clone flags");
            goto out;
        }
    }
    memfd = (int)syscall(SYS_memfd_create, "squall-seccomp", MFD_CLOEXEC);
    if (memfd < 0 || seccomp_export_bpf(ctx, memfd) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "seccomp: cannot export the filter");
        goto out;
    }
    off_t len = lseek(memfd, 0, SEEK_END);
    if (len <= 0 || len > 65536) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "seccomp: unexpected filter size %lld",
                (long long)len);
        goto out;
    }
    sb->bpf = malloc((size_t)len);
    if (!sb->bpf || pread(memfd, sb->bpf, (size_t)len, 0) != len) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "seccomp: cannot read the filter back");
        free(sb->bpf);
        sb->bpf = NULL;
        goto out;
    }
    sb->bpf_len = (size_t)len;
    rc = 0;
out:
    if (memfd >= 0)
        close(memfd);
    seccomp_release(ctx);
    return rc;
}

/* ---------------------------------------------------------------- the sandbox */

int inv_sandbox_create(inv_sandbox_t **out, const char *name, int pids_max, char *describe,
                       size_t describe_len, char *err, size_t errlen)
{
    *out = NULL;
    inv_sandbox_t *sb = calloc(1, sizeof *sb);
    if (!sb) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "out of memory");
        return -1;
    }
    sb->pids_max = pids_max > 0 ? pids_max : 256;
    atomic_init(&sb->next, 0);
    if (build_seccomp(sb, err, errlen) != 0) {
        free(sb);
        return -1;
    }
    char safe[64];
    snprintf(safe, sizeof safe, "%s", name && *name ? name : "invoker");
    for (char *p = safe; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            *p = '_';
    char why[PATH_MAX + 128] = "";
    if (access(CGROOT "/cgroup.controllers", F_OK) == 0) {
        if (setup_v2(sb, safe, why, sizeof why) == 0)
            sb->mode = INV_CG_V2;
        sb->by_parent = true; /* v1's cheap "tasks" join has no v2 equivalent */
    } else if (setup_v1(sb, safe, why, sizeof why) == 0) {
        sb->mode = INV_CG_V1;
    }
    switch (sb->mode) {
    case INV_CG_V2:
        sq_errf(SQ_ERR_INTERNAL, describe, describe_len,
                "cgroup v2 (unified): per-container memory.max, memory.oom.group, pids.max %d and "
                "cgroup.freeze under %s; seccomp filter of %zu bytes",
                sb->pids_max, sb->mem_base, sb->bpf_len);
        break;
    case INV_CG_V1:
        sq_errf(
            SQ_ERR_INTERNAL, describe, describe_len,
            "cgroup v1: per-container memory.limit_in_bytes under %s, pids.max %d %s%s, freezer "
            "%s%s; seccomp filter of %zu bytes",
            sb->mem_base, sb->pids_max, *sb->pids_base ? "under " : "(no pids hierarchy)",
            sb->pids_base, *sb->frz_base ? "under " : "none (idle containers keep running)",
            sb->frz_base, sb->bpf_len);
        break;
    default:
        sq_errf(
            SQ_ERR_INTERNAL, describe, describe_len,
            "no usable cgroup memory controller (%s): memory limits are only accounted in the "
            "pool, an action can exceed its limit and a kernel OOM kill is reported as a crash; "
            "/tmp stays size-limited; seccomp filter of %zu bytes",
            *why ? why : "none found", sb->bpf_len);
        break;
    }
    *out = sb;
    return 0;
}

void inv_sandbox_destroy(inv_sandbox_t *sb)
{
    if (!sb)
        return;
    if (*sb->mem_base)
        rmdir(sb->mem_base);
    if (*sb->pids_base)
        rmdir(sb->pids_base);
    if (*sb->frz_base)
        rmdir(sb->frz_base);
    free(sb->bpf);
    free(sb);
}

void inv_sandbox_set_attach(inv_sandbox_t *sb, bool by_parent)
{
    if (sb)
        sb->by_parent = by_parent;
}

inv_cg_mode inv_sandbox_cgroup_mode(const inv_sandbox_t *sb)
{
    return sb ? sb->mode : INV_CG_NONE;
}

bool inv_sandbox_can_freeze(const inv_sandbox_t *sb)
{
    char p[1500];
    if (!sb || sb->mode == INV_CG_NONE)
        return false;
    if (sb->mode == INV_CG_V1)
        return *sb->frz_base != '\0';
    snprintf(p, sizeof p, "%s/cgroup.freeze", sb->mem_base);
    return access(p, F_OK) == 0;
}

const char *inv_cg_mode_str(inv_cg_mode m)
{
    return m == INV_CG_V2 ? "v2" : m == INV_CG_V1 ? "v1" : "none";
}

const void *inv_sandbox_seccomp(const inv_sandbox_t *sb, size_t *len)
{
    *len = sb ? sb->bpf_len : 0;
    return sb ? sb->bpf : NULL;
}

/* ---------------------------------------------------------------- per container */

static void cg_reset(inv_cg_t *cg)
{
    cg->mem[0] = cg->pids[0] = cg->frz[0] = '\0';
    cg->procs_fd[0] = cg->procs_fd[1] = cg->procs_fd[2] = -1;
    cg->freeze_fd = -1;
    cg->mode = INV_CG_NONE;
    cg->by_parent = false;
}

/* An fd at 10 or above, so the child's dup2() onto its low fds cannot clobber it. */
static int open_high(const char *dir, const char *file)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || fd >= 10)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return nfd;
}

int inv_cg_set_memory(inv_cg_t *cg, int memory_mb)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)memory_mb << 20);
    if (cg->mode == INV_CG_V2)
        return write_file(cg->mem, "memory.max", v);
    if (cg->mode != INV_CG_V1)
        return 0;
    /* v1: memsw must stay >= limit: raise in the order that keeps that true */
    char cur[64] = "";
    long long now = read_file(cg->mem, "memory.limit_in_bytes", cur, sizeof cur) == 0
                        ? strtoll(cur, NULL, 10)
                        : 0;
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/memory.memsw.limit_in_bytes", cg->mem);
    bool memsw = access(p, F_OK) == 0;
    if (((long long)memory_mb << 20) > now) {
        if (memsw)
            write_file(cg->mem, "memory.memsw.limit_in_bytes", v);
        return write_file(cg->mem, "memory.limit_in_bytes", v);
    }
    int rc = write_file(cg->mem, "memory.limit_in_bytes", v);
    if (memsw)
        write_file(cg->mem, "memory.memsw.limit_in_bytes", v);
    return rc;
}

int inv_cg_create(const inv_sandbox_t *sb, inv_cg_t *cg, int memory_mb, char *err, size_t errlen)
{
    cg_reset(cg);
    if (!sb || sb->mode == INV_CG_NONE)
        return 0;
    unsigned n = atomic_fetch_add(&((inv_sandbox_t *)sb)->next, 1);
    char pm[32];
    snprintf(pm, sizeof pm, "%d", sb->pids_max);
    snprintf(cg->mem, sizeof cg->mem, "%s/c%u", sb->mem_base, n);
    if (mkdir(cg->mem, 0755) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot create cgroup %s: %s", cg->mem,
                strerror(errno));
        cg->mem[0] = '\0';
        return -1;
    }
    cg->mode = sb->mode;
    /* the invoker moves the sandbox in while bwrap sets it up (inv_cg_attach_tree() needs
     * /proc/<pid>/task/<tid>/children); else the child joins before exec, on v1 through
     * "tasks" (see inv_cg_join_child()) */
    cg->by_parent = sb->by_parent && access("/proc/thread-self/children", R_OK) == 0;
    const char *procs = sb->mode == INV_CG_V1 && !cg->by_parent ? "tasks" : "cgroup.procs";
    if (inv_cg_set_memory(cg, memory_mb) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot set the memory limit of %s: %s", cg->mem,
                strerror(errno));
        goto fail;
    }
    if (sb->mode == INV_CG_V2) {
        write_file(cg->mem, "memory.swap.max", "0");
        write_file(cg->mem, "memory.oom.group", "1");
        write_file(cg->mem, "pids.max", pm);
        cg->freeze_fd = open_high(cg->mem, "cgroup.freeze"); /* -1 before Linux 5.2: no freezer */
    } else {
        write_file(cg->mem, "memory.swappiness", "0");
        if (*sb->pids_base) {
            snprintf(cg->pids, sizeof cg->pids, "%s/c%u", sb->pids_base, n);
            if (mkdir(cg->pids, 0755) != 0 || write_file(cg->pids, "pids.max", pm) != 0) {
                sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot prepare cgroup %s: %s", cg->pids,
                        strerror(errno));
                rmdir(cg->pids);
                cg->pids[0] = '\0';
                goto fail;
            }
        }
        if (*sb->frz_base) {
            snprintf(cg->frz, sizeof cg->frz, "%s/c%u", sb->frz_base, n);
            if (mkdir(cg->frz, 0755) != 0 || (cg->procs_fd[2] = open_high(cg->frz, procs)) < 0 ||
                (cg->freeze_fd = open_high(cg->frz, "freezer.state")) < 0) {
                sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot prepare cgroup %s: %s", cg->frz,
                        strerror(errno));
                goto fail;
            }
        }
    }
    cg->procs_fd[0] = open_high(cg->mem, procs);
    if (cg->procs_fd[0] < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot open %s/%s: %s", cg->mem, procs,
                strerror(errno));
        goto fail;
    }
    if (*cg->pids && (cg->procs_fd[1] = open_high(cg->pids, procs)) < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot open %s/%s: %s", cg->pids, procs,
                strerror(errno));
        goto fail;
    }
    return 0;
fail:
    inv_cg_destroy(cg);
    return -1;
}

int inv_cg_join_child(const inv_cg_t *cg)
{
    /* "0": the writer. Into a v1 "tasks" file that moves the writing thread alone (the
     * child has no other) without the global threadgroup lock, whose first taking after a
     * quiet spell waits for an RCU grace period (~11 ms): ~0.05 ms instead. */
    for (int i = 0; i < 3; i++)
        if (cg->procs_fd[i] >= 0 && write(cg->procs_fd[i], "0", 1) != 1)
            return -1;
    return 0;
}

int inv_cg_attach(const inv_cg_t *cg, int pid)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%d", pid);
    for (int i = 0; i < 3; i++)
        if (cg->procs_fd[i] >= 0 && write(cg->procs_fd[i], buf, (size_t)n) != n)
            return -1;
    return 0;
}

int inv_proc_children(int pid, int *pids, int n, int cap)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    struct dirent *e;
    while (n >= 0 && d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/children", pid, e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
        if (fd >= 0)
            close(fd);
        buf[len > 0 ? len : 0] = '\0';
        char *s = buf, *end;
        for (long v; n >= 0 && (v = strtol(s, &end, 10)) > 0; s = end)
            n = n < cap ? (pids[n] = (int)v, n + 1) : -1;
    }
    if (d)
        closedir(d);
    return n;
}

int inv_cg_attach_tree(const inv_cg_t *cg, int root)
{
    int pids[16], n = 1;
    pids[0] = root;
    for (int i = 0; i < n; i++) {
        /* root is in already: moving it again could wait for another grace period */
        if (i > 0 && inv_cg_attach(cg, pids[i]) != 0 && errno != ESRCH)
            return -1;
        if ((n = inv_proc_children(pids[i], pids, n, 16)) < 0) {
            errno = E2BIG;
            return -1;
        }
    }
    return 0;
}

bool inv_cg_can_freeze(const inv_cg_t *cg)
{
    return cg->freeze_fd >= 0;
}

int inv_cg_freeze(const inv_cg_t *cg, bool frozen)
{
    const char *v = cg->mode == INV_CG_V2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
    size_t n = strlen(v);
    if (cg->freeze_fd < 0)
        return -1;
    return pwrite(cg->freeze_fd, v, n, 0) == (ssize_t)n ? 0 : -1;
}

void inv_cg_close_fds(inv_cg_t *cg)
{
    for (int i = 0; i < 3; i++)
        if (cg->procs_fd[i] >= 0) {
            close(cg->procs_fd[i]);
            cg->procs_fd[i] = -1;
        }
}

bool inv_cg_oom_killed(const inv_cg_t *cg)
{
    if (cg->mode == INV_CG_V2)
        return keyed(cg->mem, "memory.events", "oom_kill") > 0;
    if (cg->mode == INV_CG_V1)
        return keyed(cg->mem, "memory.oom_control", "oom_kill") > 0;
    return false;
}

int64_t inv_cg_memory_bytes(const inv_cg_t *cg)
{
    char buf[64];
    const char *f = cg->mode == INV_CG_V2 ? "memory.current" : "memory.usage_in_bytes";
    if (cg->mode == INV_CG_NONE || read_file(cg->mem, f, buf, sizeof buf) != 0)
        return -1;
    return strtoll(buf, NULL, 10);
}

static void rmdir_wait(const char *dir)
{
    /* The last killed processes may take a moment to leave the cgroup. */
    for (int i = 0; i < 200; i++) {
        if (rmdir(dir) == 0 || errno != EBUSY)
            return;
        struct timespec ts = { 0, 5 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

void inv_cg_destroy(inv_cg_t *cg)
{
    inv_cg_close_fds(cg);
    if (cg->freeze_fd >= 0) {
        close(cg->freeze_fd);
        cg->freeze_fd = -1;
    }
    if (*cg->mem)
        rmdir_wait(cg->mem);
    if (*cg->pids)
        rmdir_wait(cg->pids);
    if (*cg->frz)
        rmdir_wait(cg->frz);
    cg_reset(cg);
}
