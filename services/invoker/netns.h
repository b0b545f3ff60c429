/* The sandboxes' network: every container gets a network namespace of its own, never the
 * host's.
 *
 * Mode egress (the default, needs root and nft(8) from Debian's nftables): the invoker makes
 * each container's namespace itself (unshare(CLONE_NEWNET) in the calling thread, which
 * then returns to the host's namespace) with a veth pair: "eth0" inside with one /32 from the
 * pool (10.201.0.0/16 by default) and a default route through 169.254.1.1 (a permanent
 * neighbour entry: the host side answers at L2 only and has no address), "sqv<pid>-<n>" on
 * the host with a /32 route to it. The host adds the route with NLM_F_EXCL: the routing table
 * is the allocator, so several invokers on one host never hand out one address twice. The
 * namespace is owned by the host's user namespace: nothing in the sandbox (nobody in a user
 * namespace of its own) has any capability over it, so an action cannot change its address,
 * routes or the interface. One nftables table per invoker ("inet squall_<pid>") applies to
 * every "sqv*" interface:
 *   - input: everything a sandbox sends to the host itself is dropped: every address of the
 *     host (whatever it is now or later), the gateway, the other sandboxes' host sides;
 *   - forward: sandbox to sandbox dropped; port 53 (udp, tcp) of the resolvers allowed (the
 *     non-loopback IPv4 nameservers of /etc/resolv.conf, which the sandbox reads; a resolver
 *     on the host's loopback is out of reach); destinations in the deny list dropped (default
 *     127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 100.64.0.0/10 ::1
 *     fc00::/7 fe80::/10); no IPv6 at all (eth0 has IPv6 disabled); only replies are
 *     forwarded into a sandbox;
 *   - postrouting: the pool is masqueraded behind the host's address on the way out.
 * IPv4 forwarding must be on (net.ipv4.ip_forward): the invoker turns it on when it is off,
 * and then adds a guard table "inet squall_guard" that drops every forwarded packet that
 * neither comes from nor goes to a sandbox, so the host does not become a router for anyone
 * else. The table stays when the invoker stops (forwarding stays on as well).
 *
 * Cost: the namespace and its veth are made when the container is started, that is with the
 * stem cells, before any action is known; the warm path never touches the network. Measured
 * (2 vCPUs under load): ~1 ms per container (p50; netlink by hand: ip(8) took ~32 ms,
 * slirp4netns ~17 ms and a 3 MB process per container), ~50 us to take it away (network:
 * false), ~2 us to close (the kernel then deletes the veth in its own worker, ~60 ms for
 * 100), ~10-30 ms at start (nft). An
 * action with the annotation network: false gets its stem cell's veth removed when it is
 * specialised (loopback only from then on). When a container dies its namespace ends and the
 * kernel deletes its veth with it; at
 * start the invoker deletes the veths and tables of invokers that are gone (by pid).
 *
 * Mode none (SQ_INVOKER_NETWORK=none, or not root, or nft missing, or the rules could not be
 * loaded): bwrap --unshare-net, loopback only. Never the host's network.
 *
 * Threads: create/destroy from one thread; inv_netc_* from any thread. Only libc. */
#ifndef SQ_INVOKER_NETNS_H
#define SQ_INVOKER_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { INV_NET_NONE = 0, INV_NET_EGRESS } inv_net_mode;

typedef struct inv_net inv_net_t;

typedef struct {
    const char *mode; /* "egress" (NULL or "": egress) or "none" */
    const char *deny; /* CIDRs separated by commas or spaces; NULL or "": the default list */
    const char *pool; /* IPv4 CIDR of the sandboxes' addresses, /8 to /30; NULL: 10.201.0.0/16 */
    const char *dns;  /* IPv4 resolvers a sandbox may reach on port 53 although they are in the
                       deny list: "auto" (NULL, ""): the non-loopback IPv4 nameservers of
                       /etc/resolv.conf; "none"; or addresses separated by commas */
    const char *nft;  /* the nft binary; NULL: /usr/sbin/nft */
    int api_port;     /* the platform's public REST API on the host's 127.0.0.1 (the gateway):
                       the one place of the host a sandbox may reach, as 169.254.1.1:api_port
                       (DNAT), so that actions call the API as OpenWhisk's do (feeds, the
                       openwhisk npm package); 0: none */
} inv_net_opts;

/* The address the sandboxes reach the API at (egress mode, api_port set). */
#define INV_NET_API_ADDR "169.254.1.1"

/* The default deny list. */
#define INV_NET_DENY_DEFAULT                                                                       \
    "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,169.254.0.0/16,100.64.0.0/10,::1/128,"    \
    "fc00::/7,fe80::/10"

/* Prepares the network of every container: egress when asked and possible (root, nft, rules
 * loaded), else none. Cleans what dead invokers left. describe receives one line for the
 * start-up log (saying why when egress was asked and is not possible: *fell_back is then
 * true). -1 with a message in err only for a bad setting (mode, deny list, pool) or no
 * memory. The caller frees *out with inv_net_destroy(). */
int inv_net_create(inv_net_t **out, const inv_net_opts *o, bool *fell_back, char *describe,
                   size_t describe_len, char *err, size_t errlen);

/* Removes this invoker's nftables table and its remaining veths. NULL is a no-op. */
void inv_net_destroy(inv_net_t *n);

inv_net_mode inv_net_mode_of(const inv_net_t *n);

/* One container's network. ns_fd -1: none (bwrap --unshare-net). */
typedef struct {
    int ns_fd;        /* the namespace (the child setns()es into it before bwrap) */
    int host_ifindex; /* the host side of the veth, 0 when none */
    char host_if[16];
    uint32_t addr; /* eth0's address (host order), 0 when none */
} inv_netc_t;

/* Sets nc to "no network" (ns_fd -1). */
void inv_netc_reset(inv_netc_t *nc);

/* Makes the namespace of a new container (mode egress; with mode none or n NULL only resets
 * nc). 0, or -1 with a message in err. */
int inv_netc_create(inv_net_t *n, inv_netc_t *nc, char *err, size_t errlen);

/* Makes one namespace ahead, which the next inv_netc_create() takes (~1 ms less on a cold
 * start): called by a start while bwrap runs, so off the start's critical path. At most one
 * waits, idle (a veth and an address of the pool); a failure only leaves none. No-op
 * without mode egress. */
void inv_netc_prepare(inv_net_t *n);

/* Takes the network away (an action with network: false): the host side of the veth goes
 * down (nothing crosses it, the sandbox cannot bring it up); loopback stays. 0 or -1. */
int inv_netc_disable(inv_netc_t *nc);

/* Closes the namespace: once the container's processes are gone the kernel deletes it and
 * its veth (asynchronously, off the caller's thread). */
void inv_netc_destroy(inv_netc_t *nc);

#endif
