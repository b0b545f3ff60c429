/* The sandboxes' network (see netns.h for the policy): rtnetlink (netlink.c) for the per-container
 * namespace and veth, nft(8) once at start for the rules. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "netns.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "netlink.h"
#include "sandbox.h"

#define GW_ADDR "169.254.1.1" /* the sandbox's next hop: the host side, at L2 only */
#define IF_PREFIX "sqv"
#define MAX_TRIES 256 /* addresses tried (taken by another invoker) before giving up */

static const unsigned char HOST_MAC[6] = { 0xee, 0xee, 0xee, 0xee, 0xee, 0xee };

struct inv_net {
    inv_net_mode mode;
    int host_ns;        /* the host's network namespace (the calling threads come back) */
    uint32_t pool_base; /* host order */
    uint32_t pool_size;
    atomic_uint next_addr; /* offset in the pool of the next address to try */
    atomic_uint next_if;   /* numbers the veths */
    char table[32];        /* "squall_<pid>" once loaded */
    char nft[256];
    int api_port;               /* DNAT 169.254.1.1:api_port -> 127.0.0.1:api_port; 0: none */
    pthread_mutex_t spare_lock; /* guards the two below */
    int spare_state;            /* 0 none, 1 being made, 2 ready in spare */
    inv_netc_t spare;           /* a namespace made ahead (inv_netc_prepare()) */
};

/* ---------------------------------------------------------------- settings */

typedef struct {
    int family; /* AF_INET, AF_INET6 */
    unsigned char addr[16];
    int len;
} cidr_t;

/* "a.b.c.d/n" or "x::y/n" (a bare address is a host). 0 or -1. */
static int parse_cidr(const char *s, cidr_t *c)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    int len = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1 || v < 0)
            return -1;
        len = (int)v;
    }
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        c->len = len < 0 ? 32 : len;
        return c->len <= 32 ? 0 : -1;
    }
    if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        c->len = len < 0 ? 128 : len;
        return c->len <= 128 ? 0 : -1;
    }
    return -1;
}

/* Appends the deny list's elements of family to out as nft set elements ("a/n, b/n"), with
 * the host bits cleared (nft refuses them otherwise). Returns the count, -1 on a bad entry
 * (err says which) or when out is too small. */
static int deny_elements(const char *list, int family, char *out, size_t outlen, char *err,
                         size_t errlen)
{
    char copy[4096];
    if (strlen(list) >= sizeof copy) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "the deny list is too long");
        return -1;
    }
    strcpy(copy, list);
    int count = 0;
    size_t used = strlen(out);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", \t\n", &save); tok; tok = strtok_r(NULL, ", \t\n", &save)) {
        cidr_t c;
        if (parse_cidr(tok, &c) != 0) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen,
                    "bad network \"%s\" in the deny list (want a.b.c.d/n or x::y/n)", tok);
            return -1;
        }
        if (c.family != family)
            continue;
        int bytes = family == AF_INET ? 4 : 16;
        for (int i = 0; i < bytes; i++) {
            int keep = c.len - i * 8;
            if (keep <= 0)
                c.addr[i] = 0;
            else if (keep < 8)
                c.addr[i] &= (unsigned char)(0xff << (8 - keep));
        }
        char a[INET6_ADDRSTRLEN];
        inet_ntop(family, c.addr, a, sizeof a);
        int w = snprintf(out + used, outlen - used, "%s%s/%d", count ? ", " : "", a, c.len);
        if (w < 0 || (size_t)w >= outlen - used) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "the deny list is too long");
            return -1;
        }
        used += (size_t)w;
        count++;
    }
    return count;
}

/* The IPv4 resolvers the sandboxes may query on port 53 despite the deny list, as nft set
 * elements: "auto" (or NULL/""): the non-loopback IPv4 nameservers of /etc/resolv.conf
 * (which the sandbox has, read-only); "none": none; else a list of addresses. Returns the
 * count, -1 on a bad address. */
static int dns_elements(const char *dns, char *out, size_t outlen, char *err, size_t errlen)
{
    char list[1024] = "";
    out[0] = '\0';
    if (dns && strcmp(dns, "none") == 0)
        return 0;
    if (!dns || !*dns || strcmp(dns, "auto") == 0) {
        FILE *f = fopen("/etc/resolv.conf", "re");
        char line[256], a[64];
        size_t used = 0;
        while (f && fgets(line, sizeof line, f)) {
            struct in_addr ia;
            if (sscanf(line, " nameserver %63s", a) == 1 && inet_pton(AF_INET, a, &ia) == 1 &&
                (ntohl(ia.s_addr) >> 24) != 127 && used + strlen(a) + 2 < sizeof list)
                used +=
                    (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? "," : "", a);
        }
        if (f)
            fclose(f);
    } else {
        snprintf(list, sizeof list, "%s", dns);
    }
    int count = 0;
    size_t used = 0;
    char *save = NULL;
    for (char *tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        struct in_addr ia;
        if (inet_pton(AF_INET, tok, &ia) != 1) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen,
                    "bad DNS server \"%s\" (want auto, none or IPv4 addresses)", tok);
            return -1;
        }
        int w = snprintf(out + used, outlen - used, "%s%s", count ? ", " : "", tok);
        if (w < 0 || (size_t)w >= outlen - used) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "too many DNS servers");
            return -1;
        }
        used += (size_t)w;
        count++;
    }
    return count;
}

/* ---------------------------------------------------------------- nft and leftovers */

/* Runs nft with script on its stdin (or "list tables" into out). 0 when it exits 0. */
static int run_nft(const char *nft, const char *script, char *out, size_t outlen)
{
    int in[2], o[2] = { -1, -1 };
    if (pipe2(in, O_CLOEXEC) != 0)
        return -1;
    if (out && pipe2(o, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(out ? o[1] : devnull, 1);
        if (!out)
            dup2(devnull, 2);
        if (out)
            execl(nft, nft, "list", "tables", (char *)NULL);
        else
            execl(nft, nft, "-f", "-", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    if (out)
        close(o[1]);
    if (pid < 0) {
        close(in[1]);
        if (out)
            close(o[0]);
        return -1;
    }
    if (script) {
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        size_t len = strlen(script), off = 0;
        while (off < len) {
            ssize_t w = write(in[1], script + off, len - off);
            if (w <= 0 && errno != EINTR)
                break;
            if (w > 0)
                off += (size_t)w;
        }
        close(in[1]);
        struct timespec zero = { 0, 0 };
        sigtimedwait(&pipe_set, NULL, &zero);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    } else {
        close(in[1]);
    }
    if (out) {
        size_t used = 0;
        ssize_t n;
        while (used + 1 < outlen && (n = read(o[0], out + used, outlen - 1 - used)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                break;
            used += (size_t)n;
        }
        out[used] = '\0';
        close(o[0]);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static bool pid_gone(long pid)
{
    return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Deletes the veths and tables of invokers that are gone ("sqv<hex pid>-*",
 * "inet squall_<pid>"). */
static void sweep_leftovers(const char *nft)
{
    DIR *d = opendir("/sys/class/net");
    struct dirent *e;
    int fd = inv_nl_open();
    while (d && fd >= 0 && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, IF_PREFIX, strlen(IF_PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + strlen(IF_PREFIX), &end, 16);
        if (*end == '-' && pid_gone(pid))
            inv_nl_link_del(fd, e->d_name);
    }
    if (d)
        closedir(d);
    if (fd >= 0)
        close(fd);
    char tables[8192];
    if (run_nft(nft, NULL, tables, sizeof tables) != 0)
        return;
    char script[8192] = "";
    size_t used = 0;
    char *save = NULL;
    for (char *line = strtok_r(tables, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        long pid = 0;
        if (sscanf(line, "table inet squall_%ld", &pid) == 1 && pid_gone(pid) && used < 7900)
            used += (size_t)snprintf(script + used, sizeof script - used,
                                     "delete table inet squall_%ld\n", pid);
    }
    if (used)
        run_nft(nft, script, NULL, 0);
}

/* ---------------------------------------------------------------- the network */

static int ip_forward_on(const char *nft, bool *flipped)
{
    *flipped = false;
    int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char c = 0;
    int rc = 0;
    if (read(fd, &c, 1) != 1)
        rc = -1;
    else if (c != '1') {
        static const char guard[] =
            "add table inet squall_guard\n"
            "add chain inet squall_guard forward { type filter hook forward priority filter - 5; "
            "policy accept; }\n"
            "flush chain inet squall_guard forward\n"
            "add rule inet squall_guard forward iifname != \"" IF_PREFIX
            "*\" oifname != \"" IF_PREFIX "*\" drop\n";
        /* the guard first: nothing else is forwarded once forwarding is on */
        if (run_nft(nft, guard, NULL, 0) != 0 || pwrite(fd, "1\n", 2, 0) != 2)
            rc = -1;
        else
            *flipped = true;
    }
    close(fd);
    return rc;
}

/* The settings checked: the mode, the pool, the deny list and the resolvers as nft set
 * elements. */
typedef struct {
    const char *mode, *deny;
    cidr_t pool;
    char deny4[4096], deny6[4096], dns4[1100];
    int n4, n6, nd; /* elements in each */
} net_conf_t;

static int net_conf(const inv_net_opts *o, net_conf_t *cf, char *err, size_t errlen)
{
    cf->mode = o && o->mode && *o->mode ? o->mode : "egress";
    cf->deny = o && o->deny && *o->deny ? o->deny : INV_NET_DENY_DEFAULT;
    const char *pool = o && o->pool && *o->pool ? o->pool : "10.201.0.0/16";
    if (strcmp(cf->mode, "egress") != 0 && strcmp(cf->mode, "none") != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "network mode \"%s\": want egress or none", cf->mode);
        return -1;
    }
    if (parse_cidr(pool, &cf->pool) != 0 || cf->pool.family != AF_INET || cf->pool.len < 8 ||
        cf->pool.len > 30) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen,
                "network pool \"%s\": want an IPv4 network a.b.c.d/n with n from 8 to 30", pool);
        return -1;
    }
    cf->deny4[0] = cf->deny6[0] = cf->dns4[0] = '\0';
    cf->n4 = deny_elements(cf->deny, AF_INET, cf->deny4, sizeof cf->deny4, err, errlen);
    cf->n6 = cf->n4 < 0
                 ? -1
                 : deny_elements(cf->deny, AF_INET6, cf->deny6, sizeof cf->deny6, err, errlen);
    cf->nd =
        cf->n6 < 0 ? -1 : dns_elements(o ? o->dns : NULL, cf->dns4, sizeof cf->dns4, err, errlen);
    return cf->n4 < 0 || cf->n6 < 0 || cf->nd < 0 ? -1 : 0;
}

/* Why this host cannot give the sandboxes egress (why stays empty when it can): root, nft,
 * network namespaces. Opens n->host_ns. */
static void egress_check(inv_net_t *n, char *why, size_t whylen)
{
    if (geteuid() != 0)
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "the invoker does not run as root");
    else if (access(n->nft, X_OK) != 0)
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "%s is missing (Debian package nftables)", n->nft);
    else if ((n->host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "cannot open the host's network namespace: %s",
                strerror(errno));
    else if (unshare(CLONE_NEWNET) != 0)
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "cannot create network namespaces: %s",
                strerror(errno));
    else if (setns(n->host_ns, CLONE_NEWNET) != 0)
        abort(); /* this thread would go on in an empty namespace */
}

/* This invoker's table (see netns.h) into script (16384 bytes). */
static void nft_script(const inv_net_t *n, const net_conf_t *cf, char *script, size_t len)
{
    char poolstr[40];
    struct in_addr pa = { htonl(n->pool_base) };
    snprintf(poolstr, sizeof poolstr, "%s/%d", inet_ntoa(pa), cf->pool.len);
    char el4[4200] = "", el6[4200] = "", eld[1200] = "";
    if (cf->n4)
        snprintf(el4, sizeof el4, "elements = { %s }", cf->deny4);
    if (cf->n6)
        snprintf(el6, sizeof el6, "elements = { %s }", cf->deny6);
    if (cf->nd)
        snprintf(eld, sizeof eld, "elements = { %s }", cf->dns4);
    char api_pre[512] = "", api_in[256] = "", mine[32];
    /* this invoker's veths: the API door must not be shut by another invoker's table (every
     * table's input chain sees every packet), so the door rules name only ours */
    snprintf(mine, sizeof mine, IF_PREFIX "%x-*", (unsigned)getpid());
    if (n->api_port) {
        /* the one door into the host: the public REST API, reached at the sandbox's next hop */
        snprintf(api_pre, sizeof api_pre,
                 " chain pre { type nat hook prerouting priority dstnat; policy accept;\n"
                 "  iifname \"%s\" ip daddr " GW_ADDR " tcp dport %d dnat ip to 127.0.0.1:%d\n }\n",
                 mine, n->api_port, n->api_port);
        snprintf(api_in, sizeof api_in,
                 "  iifname \"%s\" ip daddr 127.0.0.1 tcp dport %d ct status dnat accept\n", mine,
                 n->api_port);
    }
    snprintf(script, len,
             "table inet %1$s {\n"
             " set deny4 { type ipv4_addr; flags interval; auto-merge; %2$s }\n"
             " set deny6 { type ipv6_addr; flags interval; auto-merge; %3$s }\n"
             " set dns4 { type ipv4_addr; %5$s }\n"
             " chain input { type filter hook input priority filter - 10; policy accept;\n"
             "%6$s"
             "  iifname \"%8$s\" drop\n }\n"
             "%7$s"
             " chain output { type filter hook output priority filter - 10; policy accept;\n"
             "  oifname \"" IF_PREFIX "*\" ct state established,related accept\n"
             "  oifname \"" IF_PREFIX "*\" drop\n }\n"
             " chain forward { type filter hook forward priority filter - 10; policy accept;\n"
             "  iifname \"" IF_PREFIX "*\" oifname \"" IF_PREFIX "*\" drop\n"
             "  iifname \"" IF_PREFIX "*\" ip saddr != %4$s drop\n"
             "  iifname \"" IF_PREFIX "*\" ip daddr @dns4 meta l4proto { udp, tcp } th dport 53 "
             "accept\n"
             "  iifname \"" IF_PREFIX "*\" ip daddr @deny4 drop\n"
             "  iifname \"" IF_PREFIX "*\" ip6 daddr @deny6 drop\n"
             "  iifname \"" IF_PREFIX "*\" meta nfproto != ipv4 drop\n"
             "  oifname \"" IF_PREFIX "*\" ct state established,related accept\n"
             "  oifname \"" IF_PREFIX "*\" drop\n }\n"
             " chain post { type nat hook postrouting priority srcnat; policy accept;\n"
             "  ip saddr %4$s oifname != \"" IF_PREFIX "*\" masquerade\n }\n"
             "}\n",
             n->table, el4, el6, poolstr, eld, api_in, api_pre, mine);
}

/* Loads this invoker's table and turns forwarding on (*flipped: it was off); on failure says
 * why (and removes the table). -1 only when memory ran out. */
static int egress_load(inv_net_t *n, const net_conf_t *cf, bool *flipped, char *why, size_t whylen)
{
    sweep_leftovers(n->nft);
    char *script = malloc(16384);
    if (!script)
        return -1;
    snprintf(n->table, sizeof n->table, "squall_%d", (int)getpid());
    nft_script(n, cf, script, 16384);
    if (run_nft(n->nft, script, NULL, 0) != 0)
        sq_errf(SQ_ERR_INTERNAL, why, whylen,
                "%s could not load the rules (no nf_tables or nat in the kernel?)", n->nft);
    free(script);
    if (!*why && ip_forward_on(n->nft, flipped) != 0)
        sq_errf(SQ_ERR_INTERNAL, why, whylen, "cannot turn on net.ipv4.ip_forward");
    if (*why && n->table[0]) {
        char del[64];
        snprintf(del, sizeof del, "delete table inet %s\n", n->table);
        run_nft(n->nft, del, NULL, 0);
        n->table[0] = '\0';
    }
    return 0;
}

int inv_net_create(inv_net_t **out, const inv_net_opts *o, bool *fell_back, char *describe,
                   size_t describe_len, char *err, size_t errlen)
{
    *out = NULL;
    *fell_back = false;
    net_conf_t *cf = malloc(sizeof *cf); /* 9 KB: off the stack of whoever calls */
    inv_net_t *n = calloc(1, sizeof *n);
    if (n) {
        n->host_ns = -1;
        pthread_mutex_init(&n->spare_lock, NULL);
    }
    if (!cf || !n) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "out of memory");
        goto fail;
    }
    if (net_conf(o, cf, err, errlen) != 0)
        goto fail;
    uint32_t base;
    memcpy(&base, cf->pool.addr, 4);
    n->pool_size = 1u << (32 - cf->pool.len);
    n->pool_base = ntohl(base) & ~(n->pool_size - 1);
    atomic_init(&n->next_addr, (unsigned)getpid() * 977u);
    atomic_init(&n->next_if, 0);
    snprintf(n->nft, sizeof n->nft, "%s", o && o->nft && *o->nft ? o->nft : "/usr/sbin/nft");
    n->api_port = o && o->api_port > 0 && o->api_port < 65536 ? o->api_port : 0;

    if (strcmp(cf->mode, "none") == 0) {
        sq_errf(
            SQ_ERR_INTERNAL, describe, describe_len,
            "network none (SQ_INVOKER_NETWORK=none): every sandbox has its own network namespace "
            "with loopback only");
        goto done;
    }
    char why[512] = "";
    bool flipped = false;
    egress_check(n, why, sizeof why);
    if (!*why && egress_load(n, cf, &flipped, why, sizeof why) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "out of memory");
        goto fail;
    }
    if (*why) {
        *fell_back = true;
        sq_errf(
            SQ_ERR_INTERNAL, describe, describe_len,
            "network egress is not possible (%s): falling back to none, every sandbox has its own "
            "network namespace with loopback only",
            why);
        goto done;
    }
    n->mode = INV_NET_EGRESS;
    struct in_addr pa = { htonl(n->pool_base) };
    sq_errf(SQ_ERR_INTERNAL, describe, describe_len,
            "network egress: a namespace and a veth per container (addresses from %s/%d), nftables "
            "table inet %s: no access to the host, to other sandboxes or to %d+%d denied networks "
            "(%s); DNS (port 53) allowed to %s; IPv4 only, masqueraded%s",
            inet_ntoa(pa), cf->pool.len, n->table, cf->n4, cf->n6, cf->deny,
            cf->nd ? cf->dns4 : "no server",
            flipped ? "; net.ipv4.ip_forward turned on, with table inet squall_guard dropping "
                      "every other forwarded packet"
                    : "");
done:
    free(cf);
    *out = n;
    return 0;
fail:
    free(cf);
    inv_net_destroy(n);
    return -1;
}

void inv_net_destroy(inv_net_t *n)
{
    if (!n)
        return;
    if (n->spare_state == 2)
        inv_netc_destroy(&n->spare); /* its veth goes with the others below */
    if (n->table[0]) {
        /* our veths that are still there (their containers should be gone) */
        char prefix[24];
        snprintf(prefix, sizeof prefix, IF_PREFIX "%x-", (unsigned)getpid());
        DIR *d = opendir("/sys/class/net");
        struct dirent *e;
        int fd = inv_nl_open();
        while (d && fd >= 0 && (e = readdir(d)) != NULL)
            if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
                inv_nl_link_del(fd, e->d_name);
        if (d)
            closedir(d);
        if (fd >= 0)
            close(fd);
        char del[64];
        snprintf(del, sizeof del, "delete table inet %s\n", n->table);
        run_nft(n->nft, del, NULL, 0);
    }
    if (n->host_ns >= 0)
        close(n->host_ns);
    pthread_mutex_destroy(&n->spare_lock);
    free(n);
}

inv_net_mode inv_net_mode_of(const inv_net_t *n)
{
    return n ? n->mode : INV_NET_NONE;
}

/* ---------------------------------------------------------------- per container */

void inv_netc_reset(inv_netc_t *nc)
{
    nc->ns_fd = -1;
    nc->host_ifindex = 0;
    nc->host_if[0] = '\0';
    nc->addr = 0;
}

static void write_sysctl(const char *path, const char *v)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, v, strlen(v)) < 0) {
            /* without IPv6 in the kernel there is nothing to disable */
        }
        close(fd);
    }
}

/* A new network namespace for the container: made by this thread, which keeps its fd (nc)
 * and a netlink socket bound inside (*in_fd), then comes back to the host's. */
static int netc_unshare(inv_net_t *n, inv_netc_t *nc, int *in_fd, char *err, size_t errlen)
{
    if (unshare(CLONE_NEWNET) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot create a network namespace: %s",
                strerror(errno));
        return -1;
    }
    nc->ns_fd = inv_lift_fd(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    int e = errno;
    /* IPv6 off for the interfaces to come (eth0); loopback keeps ::1 */
    write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    *in_fd = inv_nl_open();
    if (setns(n->host_ns, CLONE_NEWNET) != 0)
        abort(); /* this thread would go on in a sandbox's namespace: never */
    if (nc->ns_fd < 0 || *in_fd < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot open the new network namespace: %s",
                strerror(nc->ns_fd < 0 ? e : errno));
        return -1;
    }
    return 0;
}

/* The veth pair, its host side up (and routing to loopback when the API's door is open). */
static int netc_veth(inv_net_t *n, inv_netc_t *nc, int host_fd, char *err, size_t errlen)
{
    int e;
    snprintf(nc->host_if, sizeof nc->host_if, IF_PREFIX "%x-%x", (unsigned)getpid(),
             atomic_fetch_add(&n->next_if, 1) & 0xfffff);
    if ((e = inv_nl_veth_add(host_fd, nc->host_if, HOST_MAC, nc->ns_fd)) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot create the veth %s: %s", nc->host_if,
                strerror(-e));
        nc->host_if[0] = '\0';
        return -1;
    }
    nc->host_ifindex = (int)if_nametoindex(nc->host_if);
    if (n->api_port) {
        /* the API's DNAT to 127.0.0.1 needs loopback routing on this interface (only) */
        char path[96];
        snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", nc->host_if);
        write_sysctl(path, "1");
    }
    if (nc->host_ifindex <= 0 || (e = inv_nl_link_up(host_fd, nc->host_ifindex)) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot bring the veth %s up: %s", nc->host_if,
                nc->host_ifindex <= 0 ? "it vanished" : strerror(-e));
        return -1;
    }
    return 0;
}

/* An address: the first whose /32 route nobody (no other invoker) has; the route is ours. */
static int netc_address(inv_net_t *n, inv_netc_t *nc, int host_fd, char *err, size_t errlen)
{
    for (int i = 0; i < MAX_TRIES; i++) {
        uint32_t off = atomic_fetch_add(&n->next_addr, 1) % n->pool_size;
        if (off == 0 || off == n->pool_size - 1)
            continue;
        uint32_t a = n->pool_base + off;
        int e = inv_nl_route_add(host_fd, htonl(a), 32, 0, nc->host_ifindex, true);
        if (e == 0) {
            nc->addr = a;
            return 0;
        }
        if (e != -EEXIST) {
            sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot route to the sandbox: %s", strerror(-e));
            return -1;
        }
    }
    sq_errf(SQ_ERR_INTERNAL, err, errlen, "no free address in the sandbox network pool");
    return -1;
}

/* Inside: lo and eth0 up, the address, the gateway's permanent neighbour, the default route. */
static int netc_inside(const inv_netc_t *nc, int in_fd, char *err, size_t errlen)
{
    uint32_t gw;
    int e;
    inet_pton(AF_INET, GW_ADDR, &gw);
    if ((e = inv_nl_link_up(in_fd, 1)) != 0 || (e = inv_nl_link_up(in_fd, 2)) != 0 ||
        (e = inv_nl_addr_add(in_fd, htonl(nc->addr), 2)) != 0 ||
        (e = inv_nl_neigh_add(in_fd, gw, HOST_MAC, 2)) != 0 ||
        (e = inv_nl_route_add(in_fd, 0, 0, gw, 2, false)) != 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "cannot configure the sandbox's network: %s",
                strerror(-e));
        return -1;
    }
    return 0;
}

static int netc_make(inv_net_t *n, inv_netc_t *nc, char *err, size_t errlen)
{
    int in_fd = -1, host_fd = -1, rc = -1;

    if (netc_unshare(n, nc, &in_fd, err, errlen) != 0)
        goto out;
    host_fd = inv_nl_open();
    if (host_fd < 0) {
        sq_errf(SQ_ERR_INTERNAL, err, errlen, "netlink: %s", strerror(errno));
        goto out;
    }
    if (netc_veth(n, nc, host_fd, err, errlen) != 0 ||
        netc_address(n, nc, host_fd, err, errlen) != 0 || netc_inside(nc, in_fd, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    if (in_fd >= 0)
        close(in_fd);
    if (host_fd >= 0)
        close(host_fd);
    if (rc != 0) {
        if (nc->host_if[0]) {
            int fd = inv_nl_open();
            if (fd >= 0) {
                inv_nl_link_del(fd, nc->host_if);
                close(fd);
            }
        }
        inv_netc_destroy(nc);
    }
    return rc;
}

int inv_netc_create(inv_net_t *n, inv_netc_t *nc, char *err, size_t errlen)
{
    inv_netc_reset(nc);
    if (!n || n->mode != INV_NET_EGRESS)
        return 0;
    pthread_mutex_lock(&n->spare_lock);
    bool spare = n->spare_state == 2;
    if (spare) {
        *nc = n->spare;
        n->spare_state = 0;
    }
    pthread_mutex_unlock(&n->spare_lock);
    return spare ? 0 : netc_make(n, nc, err, errlen);
}

void inv_netc_prepare(inv_net_t *n)
{
    if (!n || n->mode != INV_NET_EGRESS)
        return;
    pthread_mutex_lock(&n->spare_lock);
    bool make = n->spare_state == 0;
    if (make)
        n->spare_state = 1;
    pthread_mutex_unlock(&n->spare_lock);
    if (!make)
        return;
    inv_netc_t nc;
    char err[256];
    inv_netc_reset(&nc);
    bool ok = netc_make(n, &nc, err, sizeof err) == 0;
    pthread_mutex_lock(&n->spare_lock);
    n->spare = nc;
    n->spare_state = ok ? 2 : 0;
    pthread_mutex_unlock(&n->spare_lock);
}

int inv_netc_disable(inv_netc_t *nc)
{
    if (!nc->host_ifindex)
        return 0;
    /* The host side down: the veth forwards nothing any more, the route to the sandbox goes,
   * and nothing inside can bring it up (it is not in the sandbox's namespace). Deleting the
   * veth instead costs ~10 ms (the kernel waits for a grace period): that is left to the
   * namespace's end. */
    nlreq_t r;
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC, .ifi_index = nc->host_ifindex, .ifi_flags = 0, .ifi_change = IFF_UP
    };
    inv_nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
    int fd = inv_nl_open();
    int e = fd < 0 ? -errno : inv_nl_talk(fd, &r);
    if (fd >= 0)
        close(fd);
    if (e != 0 && e != -ENODEV)
        return -1;
    nc->host_ifindex = 0;
    nc->addr = 0;
    return 0;
}

void inv_netc_destroy(inv_netc_t *nc)
{
    /* Closing the last reference ends the namespace once its processes are gone (they are
   * killed before): the kernel then deletes the veth, both ends, and with it the route, in
   * its own worker. Deleting it here would cost ~30 ms on the thread that evicts. */
    if (nc->ns_fd >= 0)
        close(nc->ns_fd);
    inv_netc_reset(nc);
}
