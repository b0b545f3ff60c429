/* The few rtnetlink requests the sandboxes' network makes (netns.c), written by hand: links
 * up and deleted, a veth pair with one end in a namespace, a route, an address, a permanent
 * neighbour. Private to the invoker's container module. Every request waits for its
 * acknowledgement and returns 0 or -errno. */
#ifndef SQ_INVOKER_NETLINK_H
#define SQ_INVOKER_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

typedef struct {
    struct nlmsghdr h;
    char buf[1024];
} nlreq_t;

/* A request of type (RTM_*) with NLM_F_REQUEST | NLM_F_ACK | flags and its fixed header. */
void inv_nl_init(nlreq_t *r, int type, int flags, const void *hdr, size_t hdrlen);
/* Appends an attribute (data may be NULL with len 0: a nest, closed by inv_nl_end()). */
struct rtattr *inv_nl_put(nlreq_t *r, int type, const void *data, size_t len);
void inv_nl_end(nlreq_t *r, struct rtattr *nest);
/* A NETLINK_ROUTE socket bound in the calling thread's network namespace, or -1. */
int inv_nl_open(void);
/* Sends r and waits for its acknowledgement: 0, or -errno. */
int inv_nl_talk(int fd, nlreq_t *r);

int inv_nl_link_up(int fd, int ifindex);
int inv_nl_link_del(int fd, const char *name);
/* The veth pair: name on the host (MAC mac), "eth0" (index 2) in the namespace ns_fd; both
 * down (up at creation fails: a veth cannot open before its peer is linked). */
int inv_nl_veth_add(int fd, const char *name, const unsigned char mac[6], int ns_fd);
/* dst/dst_len (through gw_be when not 0) via ifindex; with excl, fails with -EEXIST when the
 * route exists. Addresses in network order. */
int inv_nl_route_add(int fd, uint32_t dst_be, int dst_len, uint32_t gw_be, int ifindex, bool excl);
int inv_nl_addr_add(int fd, uint32_t a_be, int ifindex);
int inv_nl_neigh_add(int fd, uint32_t a_be, const unsigned char *mac, int ifindex);

#endif
