/* The runtimes, staged where the sandbox user can read them (see container.h,
 * inv_runtime_stage): the tree may sit in a private directory (a home of mode 0700) that
 * nobody, whom a root invoker runs bwrap as, cannot traverse; bwrap resolves every bind
 * source by path, even one given as an fd. Only libc. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandbox.h"

#define STAGE_PREFIX "squall-runtimes-"

static int copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR) {
                rc = -1;
                break;
            }
            if (w > 0)
                off += w;
        }
        if (rc)
            break;
    }
    int e = errno;
    close(in);
    if (fchmod(out, mode) != 0 || close(out) != 0)
        rc = -1;
    errno = e;
    return rc;
}

/* How deep a runtime's tree is copied (node_modules nests). */
#define STAGE_DEPTH 12

/* Removes dir and what it holds, depth levels deep (what inv_runtime_stage makes). */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
            remove_tree(p, depth - 1);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* The staged copies of processes that are gone. */
static void sweep(const char *base)
{
    DIR *d = opendir(base);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + strlen(STAGE_PREFIX), &end, 10);
        if (*end != '-' || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", base, e->d_name);
        remove_tree(p, STAGE_DEPTH + 1);
    }
    if (d)
        closedir(d);
}

/* Copies the regular files and directories of from (depth levels; symbolic links are
 * followed, other files skipped) into a new directory to. */
static int copy_dir(const char *from, const char *to, int depth)
{
    DIR *d = opendir(from);
    if (!d)
        return -1;
    int rc = mkdir(to, 0755) == 0 && chmod(to, 0755) == 0 ? 0 : -1;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char src[PATH_MAX + 256], dst[PATH_MAX + 256];
        if (snprintf(src, sizeof src, "%s/%s", from, e->d_name) >= (int)sizeof src ||
            snprintf(dst, sizeof dst, "%s/%s", to, e->d_name) >= (int)sizeof dst)
            continue;
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || stat(src, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth > 0)
                rc = copy_dir(src, dst, depth - 1);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        rc = copy_file(src, dst, (st.st_mode & 0111) ? 0755 : 0644);
    }
    int e2 = errno;
    closedir(d);
    errno = e2;
    return rc;
}

int inv_runtime_stage(const char *runtime_dir, const char *native_launcher, char *out_dir,
                      size_t dirlen, char *out_native, size_t nativelen, char *err, size_t errlen)
{
    static const char *const bases[] = { "/run", "/tmp" };
    static const char *const langs[] = { "nodejs", "python" };
    char dir[PATH_MAX] = "";
    for (size_t i = 0; i < sizeof bases / sizeof bases[0] && !*dir; i++) {
        if (access(bases[i], W_OK) != 0)
            continue;
        sweep(bases[i]);
        snprintf(dir, sizeof dir, "%s/" STAGE_PREFIX "%d-XXXXXX", bases[i], (int)getpid());
        if (!mkdtemp(dir))
            dir[0] = '\0';
    }
    if (!*dir) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen,
                "cannot create a runtime directory under /run or /tmp: %s", strerror(errno));
        return -1;
    }
    if (chmod(dir, 0755) != 0)
        goto fail;
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
        char from[PATH_MAX + 16], to[PATH_MAX + 16];
        snprintf(from, sizeof from, "%s/%s", runtime_dir, langs[i]);
        snprintf(to, sizeof to, "%s/%s", dir, langs[i]);
        if (copy_dir(from, to, STAGE_DEPTH) != 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot copy %s to %s: %s", from, to,
                    strerror(errno));
            remove_tree(dir, STAGE_DEPTH + 1);
            return -1;
        }
    }
    /* out_native may be native_launcher itself */
    char nat[PATH_MAX];
    snprintf(nat, sizeof nat, "%s", native_launcher ? native_launcher : "");
    if (*nat && access(nat, X_OK) == 0) {
        char to[PATH_MAX + 32];
        snprintf(to, sizeof to, "%s/native-launcher", dir);
        if (copy_file(nat, to, 0755) != 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot copy %s to %s: %s", nat, to,
                    strerror(errno));
            remove_tree(dir, STAGE_DEPTH + 1);
            return -1;
        }
        snprintf(nat, sizeof nat, "%.*s", (int)sizeof nat - 1, to);
    }
    if (out_native && nativelen)
        snprintf(out_native, nativelen, "%s", nat); /* a missing launcher fails later, by name */
    snprintf(out_dir, dirlen, "%s", dir);
    return 0;
fail:
    sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot prepare %s: %s", dir, strerror(errno));
    remove_tree(dir, STAGE_DEPTH + 1);
    return -1;
}

void inv_runtime_unstage(const char *dir)
{
    if (dir && strstr(dir, "/" STAGE_PREFIX))
        remove_tree(dir, STAGE_DEPTH + 1);
}
