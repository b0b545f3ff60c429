/* The pure steps of a container's start (services/invoker/container_start.c), without
 * spawning anything: a kind resolved to its launcher and interpreter (and the errors for
 * what cannot run), the command inside and outside the sandbox, and bubblewrap's command
 * line (namespaces, identity, the network, the sizes of /tmp and /action, seccomp, the
 * scrubbed environment, the command last). container_test runs the real thing. */
#include "container_int.h"

#include "check.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The index of opt in a's argv followed by v1 (and v2 unless NULL), or -1. */
static int find_opt(const ct_args_t *a, const char *opt, const char *v1, const char *v2)
{
    for (int i = 0; i + 1 < a->n; i++) {
        if (strcmp(a->argv[i], opt) != 0 || strcmp(a->argv[i + 1], v1) != 0)
            continue;
        if (!v2 || (i + 2 < a->n && strcmp(a->argv[i + 2], v2) == 0))
            return i;
    }
    return -1;
}

static int count(const ct_args_t *a, const char *word)
{
    int n = 0;
    for (int i = 0; i < a->n; i++)
        n += strcmp(a->argv[i], word) == 0;
    return n;
}

static void test_kinds(void)
{
    SECTION("kinds");
    ct_kind_t k;
    const char *cmd[4];
    char err[256];
    inv_container_opts o = { .runtime_dir = "/srv/rt", .kind = "nodejs:20" };

    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), 0, "nodejs:20 resolves");
    CHECK_STR(k.lang, "nodejs", "nodejs lang");
    CHECK_STR(k.interp, "/usr/bin/node", "node by default");
    CHECK_STR(k.runtime_host, "/srv/rt/nodejs", "nodejs runtime bound");
    CHECK_STR(k.runtime_box, "/runtime", "bound at /runtime");
    CHECK_STR(k.launcher_host, "/srv/rt/nodejs/launcher.js", "launcher on the host");
    CHECK_STR(k.launcher_box, "/runtime/launcher.js", "launcher inside");
    ct_kind_cmd(&k, true, cmd);
    CHECK_STR(cmd[0], "/usr/bin/node", "sandboxed node argv[0]");
    CHECK_STR(cmd[1], "/runtime/launcher.js", "sandboxed node argv[1]");
    CHECK(cmd[2] == NULL && cmd[3] == NULL, "node's command has two words");
    ct_kind_cmd(&k, false, cmd);
    CHECK_STR(cmd[1], "/srv/rt/nodejs/launcher.js", "bare node runs the host's launcher");

    o.kind = "nodejs:default";
    o.node_path = "/usr/local/bin/node";
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), 0, "nodejs:default resolves");
    CHECK_STR(k.interp, "/usr/local/bin/node", "node_path is taken");

    o.kind = "python:3";
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), 0, "python:3 resolves");
    CHECK_STR(k.interp, "/usr/bin/python3", "python3 by default");
    CHECK_STR(k.launcher_host, "/srv/rt/python/launcher.py", "python launcher on the host");
    ct_kind_cmd(&k, true, cmd);
    CHECK_STR(cmd[0], "/usr/bin/python3", "sandboxed python argv[0]");
    CHECK_STR(cmd[1], "-B", "python writes no bytecode");
    CHECK_STR(cmd[2], "/runtime/launcher.py", "sandboxed python argv[2]");
    CHECK(cmd[3] == NULL, "python's command has three words");

    o.kind = "native";
    o.native_launcher = "/opt/b/squall-native-launcher";
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), 0, "native resolves");
    CHECK(k.lang == NULL && k.interp == NULL, "native has no language and no interpreter");
    CHECK_STR(k.runtime_host, "/opt/b/squall-native-launcher", "the launcher file is bound");
    CHECK_STR(k.runtime_box, "/runtime/launcher", "at /runtime/launcher");
    ct_kind_cmd(&k, true, cmd);
    CHECK_STR(cmd[0], "/runtime/launcher", "sandboxed native runs the bound file");
    CHECK(cmd[1] == NULL, "native's command is one word");
    ct_kind_cmd(&k, false, cmd);
    CHECK_STR(cmd[0], "/opt/b/squall-native-launcher", "bare native runs the build's file");
}

static void test_kind_errors(void)
{
    SECTION("kind errors");
    ct_kind_t k;
    char err[256];
    inv_container_opts o = { .runtime_dir = "/srv/rt", .kind = "java:8" };

    err[0] = '\0';
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), -1, "an unknown kind is refused");
    CHECK_STR(err, "unsupported kind \"java:8\"", "and said");
    o.kind = "nodejs:18";
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), -1, "nodejs:18 is not nodejs:20");
    o.kind = "native";
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), -1, "native without a launcher");
    CHECK_STR(err, "no native launcher configured", "native without a launcher said");
    o.native_launcher = "";
    CHECK_INT(ct_kind_resolve(&o, &k, NULL, 0), -1, "an empty launcher, err NULL");
    CHECK_INT(ct_kind_resolve(NULL, &k, err, sizeof err), -1, "no options");
    CHECK_STR(err, "missing runtime_dir or kind", "no options said");
    o.kind = NULL;
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), -1, "no kind");

    static char longdir[PATH_MAX + 16];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    o.runtime_dir = longdir;
    o.kind = "python:3";
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), -1, "a runtime_dir too long");
    CHECK_STR(err, "runtime_dir is too long", "too long said");
    longdir[PATH_MAX - 15] = '\0'; /* fits as a directory, not with "/python/launcher.py" */
    CHECK_INT(ct_kind_resolve(&o, &k, err, sizeof err), -1, "the launcher path too long");
}

static void test_bwrap_args(void)
{
    SECTION("bwrap args");
    ct_kind_t k;
    const char *cmd[4];
    inv_container_opts o = { .runtime_dir = "/srv/rt", .kind = "python:3" };
    CHECK_INT(ct_kind_resolve(&o, &k, NULL, 0), 0, "python:3 resolves");
    ct_kind_cmd(&k, true, cmd);

    static ct_args_t a;
    memset(&a, 0, sizeof a);
    ct_bwrap_args(&a, "/usr/bin/bwrap", &k, cmd, 256, true, false, false);
    CHECK_STR(a.argv[0], "/usr/bin/bwrap", "argv[0] is bwrap");
    CHECK(a.argv[a.n] == NULL, "argv is NULL-terminated");
    CHECK(find_opt(&a, "--unshare-net", "--uid", NULL) > 0,
          "a network of bwrap's (loopback only) without one of the container's");
    CHECK(find_opt(&a, "--uid", "65534", NULL) > 0 && find_opt(&a, "--gid", "65534", NULL) > 0,
          "nobody inside");
    static const char *const unshare[] = { "--unshare-user",       "--unshare-pid",
                                           "--unshare-ipc",        "--unshare-uts",
                                           "--unshare-cgroup-try", "--die-with-parent",
                                           "--new-session",        "--clearenv" };
    for (size_t i = 0; i < sizeof unshare / sizeof unshare[0]; i++)
        CHECK_INT(count(&a, unshare[i]), 1, unshare[i]);
    CHECK(find_opt(&a, "--ro-bind", "/usr", "/usr") > 0, "/usr read-only");
    CHECK(find_opt(&a, "--ro-bind", "/srv/rt/python", "/runtime") > 0, "the runtime read-only");
    CHECK(find_opt(&a, "--ro-bind-data", "5", "/etc/passwd") > 0, "passwd from fd 5");
    CHECK(find_opt(&a, "--ro-bind-data", "6", "/etc/group") > 0, "group from fd 6");
    int tmp = find_opt(&a, "--tmpfs", "/tmp", NULL), act = find_opt(&a, "--tmpfs", "/action", NULL);
    CHECK(tmp > 4 && act > 4, "/tmp and /action are tmpfs");
    /* each is half the memory limit: 256 MiB / 2 */
    CHECK(tmp > 4 && find_opt(&a, "--size", "134217728", NULL) == tmp - 4, "/tmp's size");
    CHECK(act > 4 && find_opt(&a, "--perms", "0755", NULL) == act - 2 &&
              strcmp(a.argv[act - 3], "134217728") == 0,
          "/action's size and mode");
    CHECK(find_opt(&a, "--seccomp", "7", NULL) > 0, "the seccomp filter from fd 7");
    CHECK(find_opt(&a, "--setenv", "PATH", "/usr/bin:/bin") > 0, "PATH set");
    CHECK(find_opt(&a, "--info-fd", "4", NULL) > 0, "bwrap reports on fd 4");
    CHECK_INT(count(&a, "--block-fd"), 0, "no --block-fd unless asked");
    CHECK(a.n >= 4 && strcmp(a.argv[a.n - 4], "--") == 0, "the command comes after --");
    CHECK_STR(a.argv[a.n - 3], "/usr/bin/python3", "the command's first word");
    CHECK_STR(a.argv[a.n - 1], "/runtime/launcher.py", "the command's last word");

    memset(&a, 0, sizeof a);
    ct_bwrap_args(&a, "/b/bwrap", &k, cmd, 64, false, true, true);
    CHECK_INT(count(&a, "--unshare-net"), 0, "the container's own namespace: no --unshare-net");
    CHECK_INT(count(&a, "--seccomp"), 0, "no filter, no --seccomp");
    CHECK(find_opt(&a, "--size", "33554432", NULL) > 0, "64 MiB: /tmp of 32 MiB");
    CHECK(find_opt(&a, "--block-fd", "8", NULL) > 0 &&
              find_opt(&a, "--block-fd", "8", NULL) < a.n - 3,
          "block: the sandbox waits on fd 8 before the command");
}

int main(void)
{
    test_kinds();
    test_kind_errors();
    test_bwrap_args();
    return check_done();
}
