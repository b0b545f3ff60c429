/* The sandboxes' network (services/invoker/netns.h) against the real kernel: settings,
 * the per-container namespace (address, route, neighbour, IPv6 off, the calling thread back
 * in the host's namespace), network: false, the address allocator honouring routes someone
 * else holds, the leftovers of a dead invoker swept at start, and the cleanup. Egress needs
 * root and nft; without them the test checks the fallback to loopback only. No packet is
 * sent anywhere. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "netns.h"
#include "check.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool link_exists(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "/sys/class/net/%s", name);
    return access(p, F_OK) == 0;
}

static long link_flags(const char *name)
{
    char p[128], buf[32] = "";
    snprintf(p, sizeof p, "/sys/class/net/%s/flags", name);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    return strtol(buf, NULL, 16);
}

static ino_t my_netns(void)
{
    struct stat st;
    return stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

/* In a child inside nc's namespace: eth0's address, the default route through 169.254.1.1,
 * IPv6 off on eth0, loopback up. Returns a bit mask of what is right (15 = all). */
static int inside(const inv_netc_t *nc)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setns(nc->ns_fd, CLONE_NEWNET) != 0)
            _exit(0);
        int ok = 0;
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
        if (s >= 0 && ioctl(s, SIOCGIFADDR, &ifr) == 0 &&
            ntohl(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr) == nc->addr)
            ok |= 1;
        FILE *f = fopen("/proc/net/route", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "eth0\t00000000\t0101FEA9", 22) == 0)
                ok |= 2;
        if (f)
            fclose(f);
        f = fopen("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "r");
        if (!f || (fgets(line, sizeof line, f) && line[0] == '1'))
            ok |= 4; /* no IPv6 in the kernel counts as off */
        if (f)
            fclose(f);
        memset(&ifr, 0, sizeof ifr);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
        if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP))
            ok |= 8;
        _exit(ok);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_settings(void)
{
    static const inv_net_opts bad[] = {
        { .mode = "bogus" },       { .deny = "10.0.0.0/33" }, { .deny = "10.0.0.0/8,nonsense" },
        { .pool = "10.0.0.0/31" }, { .pool = "fd00::/64" },   { .pool = "10.0.0.0/7" },
        { .dns = "1.2.3" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        inv_net_t *n = (inv_net_t *)1;
        bool fb;
        char d[1024], e[256] = "";
        CHECK(inv_net_create(&n, &bad[i], &fb, d, sizeof d, e, sizeof e) == -1 && n == NULL && *e,
              "bad setting %zu accepted", i);
    }
    inv_net_t *n = NULL;
    bool fb = true;
    char d[1024], e[256];
    inv_net_opts none = { .mode = "none" };
    CHECK(inv_net_create(&n, &none, &fb, d, sizeof d, e, sizeof e) == 0 && !fb &&
              inv_net_mode_of(n) == INV_NET_NONE && strstr(d, "loopback only"),
          "mode none: %s", d);
    inv_netc_t nc;
    CHECK(inv_netc_create(n, &nc, e, sizeof e) == 0 && nc.ns_fd == -1,
          "mode none made a namespace");
    inv_netc_destroy(&nc);
    inv_net_destroy(n);
}

static void test_fallback_not_root(void)
{
    inv_net_t *n = NULL;
    bool fb = false;
    char d[1024], e[256];
    CHECK(inv_net_create(&n, NULL, &fb, d, sizeof d, e, sizeof e) == 0 && fb &&
              inv_net_mode_of(n) == INV_NET_NONE && strstr(d, "loopback only"),
          "not root: no fallback: %s", d);
    inv_net_destroy(n);
}

/* A pid that is not running (a child that has been reaped). */
static pid_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

static void test_egress(void)
{
    /* leftovers of a dead invoker: a veth and a table */
    pid_t dead = dead_pid();
    char stale[32];
    snprintf(stale, sizeof stale, "sqv%x-7", (unsigned)dead);
    sh("ip link add %s type veth peer name sqtstale%d 2>/dev/null", stale, (int)getpid() % 1000);
    sh("nft add table inet squall_%d", (int)dead);
    CHECK(link_exists(stale), "could not make the stale veth %s", stale);

    inv_net_t *n = NULL;
    bool fb = true;
    char d[2048], e[256];
    ino_t host = my_netns();
    CHECK(inv_net_create(&n, NULL, &fb, d, sizeof d, e, sizeof e) == 0 && !fb &&
              inv_net_mode_of(n) == INV_NET_EGRESS,
          "egress as root: %s %s", d, e);
    if (inv_net_mode_of(n) != INV_NET_EGRESS) {
        inv_net_destroy(n);
        return;
    }
    CHECK(!link_exists(stale), "the stale veth %s of a dead invoker is still there", stale);
    CHECK(sh("nft list tables | grep -qx 'table inet squall_%d'", (int)dead) != 0,
          "the stale table of a dead invoker is still there");
    CHECK(sh("nft list tables | grep -qx 'table inet squall_%d'", (int)getpid()) == 0,
          "our table is not loaded");
    CHECK(sh("nft list table inet squall_%d | grep -q '169.254.0.0/16'", (int)getpid()) == 0,
          "the deny list lacks 169.254.0.0/16");
    /* the resolvers of resolv.conf (auto), before the deny list */
    CHECK(
        sh("awk '$1 == \"nameserver\" && $2 ~ /^[0-9.]+$/ && $2 !~ /^127\\./ {print $2}' "
           "/etc/resolv.conf | while read a; do nft list set inet squall_%d dns4 | grep -q \"$a\" "
           "|| exit 1; done",
           (int)getpid()) == 0,
        "a nameserver of /etc/resolv.conf is not in the dns4 set");

    inv_netc_t nc[3];
    for (int i = 0; i < 3; i++) {
        CHECK(inv_netc_create(n, &nc[i], e, sizeof e) == 0, "netc_create: %s", e);
        CHECK(my_netns() == host, "the calling thread stayed in a sandbox's namespace");
        CHECK(nc[i].ns_fd >= 10 && nc[i].addr && link_exists(nc[i].host_if),
              "container %d: fd %d addr %u if %s", i, nc[i].ns_fd, nc[i].addr, nc[i].host_if);
        CHECK(inside(&nc[i]) == 15, "container %d: inside is %d, want 15 (addr|route|no v6|lo)", i,
              inside(&nc[i]));
    }
    CHECK(nc[0].addr != nc[1].addr && nc[1].addr != nc[2].addr && nc[0].addr != nc[2].addr,
          "two containers got one address");
    struct in_addr a = { htonl(nc[0].addr) };
    CHECK(sh("ip route show %s/32 | grep -q 'dev %s'", inet_ntoa(a), nc[0].host_if) == 0,
          "no host route to the sandbox");

    /* network: false */
    char if1[16];
    snprintf(if1, sizeof if1, "%s", nc[1].host_if);
    CHECK(inv_netc_disable(&nc[1]) == 0, "disable failed");
    long fl = link_flags(if1);
    CHECK(fl >= 0 && !(fl & IFF_UP), "after disable the host side is still up (flags %lx)", fl);
    CHECK(inside(&nc[1]) & 8, "after disable loopback is down");

    /* destroy: the kernel deletes the veth with the namespace */
    char names[3][16];
    for (int i = 0; i < 3; i++) {
        snprintf(names[i], sizeof names[i], "%s", nc[i].host_if[0] ? nc[i].host_if : if1);
        inv_netc_destroy(&nc[i]);
    }
    bool gone = false;
    for (int t = 0; t < 100 && !gone; t++) {
        gone = !link_exists(names[0]) && !link_exists(names[1]) && !link_exists(names[2]);
        if (!gone)
            usleep(50 * 1000);
    }
    CHECK(gone, "veths left 5 s after their namespaces were closed");
    inv_net_destroy(n);
    CHECK(sh("nft list tables | grep -qx 'table inet squall_%d'", (int)getpid()) != 0,
          "our table stays after destroy");

    /* the allocator: a /30 holds two addresses; someone else holds the first by a route */
    inv_net_opts small = { .pool = "10.201.252.0/30", .dns = "none" };
    CHECK(inv_net_create(&n, &small, &fb, d, sizeof d, e, sizeof e) == 0 &&
              inv_net_mode_of(n) == INV_NET_EGRESS,
          "small pool: %s %s", d, e);
    sh("ip route add 10.201.252.1/32 dev lo");
    inv_netc_t x, y;
    CHECK(inv_netc_create(n, &x, e, sizeof e) == 0 && x.addr == 0x0AC9FC02,
          "want 10.201.252.2 (the .1 is taken), got %08x: %s", x.addr, e);
    CHECK(inv_netc_create(n, &y, e, sizeof e) == -1 && strstr(e, "no free address") &&
              y.ns_fd == -1 && my_netns() == host,
          "a full pool: %s", e);
    sh("ip route del 10.201.252.1/32 dev lo");
    inv_netc_destroy(&x);
    inv_net_destroy(n);
}

int main(void)
{
    test_settings();
    if (geteuid() != 0 || access("/usr/sbin/nft", X_OK) != 0) {
        fprintf(stderr, "not root or no nft: checking the fallback only\n");
        test_fallback_not_root();
    } else {
        test_egress();
    }
    return check_done();
}
