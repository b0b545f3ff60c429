/* rtnetlink by hand for the sandboxes' network (netlink.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "netlink.h"

#include <errno.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/veth.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void inv_nl_init(nlreq_t *r, int type, int flags, const void *hdr, size_t hdrlen)
{
    memset(r, 0, sizeof *r);
    r->h.nlmsg_len = NLMSG_LENGTH(hdrlen);
    r->h.nlmsg_type = (unsigned short)type;
    r->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
    memcpy(NLMSG_DATA(&r->h), hdr, hdrlen);
}

struct rtattr *inv_nl_put(nlreq_t *r, int type, const void *data, size_t len)
{
    size_t at = NLMSG_ALIGN(r->h.nlmsg_len);
    if (at + RTA_SPACE(len) > sizeof *r)
        abort(); /* the messages below are of fixed size: a programming error */
    struct rtattr *a = (struct rtattr *)((char *)r + at);
    a->rta_type = (unsigned short)type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = (unsigned)(at + RTA_SPACE(len));
    return a;
}

void inv_nl_end(nlreq_t *r, struct rtattr *nest)
{
    nest->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)nest);
}

int inv_nl_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends r and waits for its acknowledgement: 0, or -errno. */
int inv_nl_talk(int fd, nlreq_t *r)
{
    static atomic_uint seq;
    r->h.nlmsg_seq = atomic_fetch_add(&seq, 1) + 1;
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
    if (sendto(fd, &r->h, r->h.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -errno;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r->h.nlmsg_seq)
                continue;
            if (h->nlmsg_type == NLMSG_ERROR)
                return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        }
    }
}

int inv_nl_link_up(int fd, int ifindex)
{
    nlreq_t r;
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP, .ifi_change = IFF_UP
    };
    inv_nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
    return inv_nl_talk(fd, &r);
}

int inv_nl_link_del(int fd, const char *name)
{
    nlreq_t r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    inv_nl_init(&r, RTM_DELLINK, 0, &ifi, sizeof ifi);
    inv_nl_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
    return inv_nl_talk(fd, &r);
}

/* The veth pair: name on the host (MAC mac), "eth0" (index 2) in the namespace; both down
 * (up at creation fails: a veth cannot open before its peer is linked). */
int inv_nl_veth_add(int fd, const char *name, const unsigned char mac[6], int ns_fd)
{
    nlreq_t r;
    struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
    inv_nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    inv_nl_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
    inv_nl_put(&r, IFLA_ADDRESS, mac, 6);
    struct rtattr *info = inv_nl_put(&r, IFLA_LINKINFO, NULL, 0);
    inv_nl_put(&r, IFLA_INFO_KIND, "veth", 4);
    struct rtattr *data = inv_nl_put(&r, IFLA_INFO_DATA, NULL, 0);
    struct ifinfomsg peer = { .ifi_family = AF_UNSPEC, .ifi_index = 2 };
    struct rtattr *pa = inv_nl_put(&r, VETH_INFO_PEER, &peer, sizeof peer);
    inv_nl_put(&r, IFLA_IFNAME, "eth0", 5);
    uint32_t nsfd = (uint32_t)ns_fd;
    inv_nl_put(&r, IFLA_NET_NS_FD, &nsfd, sizeof nsfd);
    inv_nl_end(&r, pa);
    inv_nl_end(&r, data);
    inv_nl_end(&r, info);
    return inv_nl_talk(fd, &r);
}

/* addr/32 through ifindex; with excl, fails with -EEXIST when the address is taken. */
int inv_nl_route_add(int fd, uint32_t dst_be, int dst_len, uint32_t gw_be, int ifindex, bool excl)
{
    nlreq_t r;
    struct rtmsg rt = { .rtm_family = AF_INET,
                        .rtm_dst_len = (unsigned char)dst_len,
                        .rtm_table = RT_TABLE_MAIN,
                        .rtm_protocol = RTPROT_STATIC,
                        .rtm_scope = gw_be ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
                        .rtm_type = RTN_UNICAST,
                        .rtm_flags = gw_be ? RTNH_F_ONLINK : 0 };
    inv_nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | (excl ? NLM_F_EXCL : 0), &rt, sizeof rt);
    if (dst_len)
        inv_nl_put(&r, RTA_DST, &dst_be, 4);
    if (gw_be)
        inv_nl_put(&r, RTA_GATEWAY, &gw_be, 4);
    uint32_t oif = (uint32_t)ifindex;
    inv_nl_put(&r, RTA_OIF, &oif, 4);
    return inv_nl_talk(fd, &r);
}

int inv_nl_addr_add(int fd, uint32_t a_be, int ifindex)
{
    nlreq_t r;
    struct ifaddrmsg ifa = { .ifa_family = AF_INET,
                             .ifa_prefixlen = 32,
                             .ifa_scope = RT_SCOPE_UNIVERSE,
                             .ifa_index = (unsigned)ifindex };
    inv_nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
    inv_nl_put(&r, IFA_LOCAL, &a_be, 4);
    inv_nl_put(&r, IFA_ADDRESS, &a_be, 4);
    return inv_nl_talk(fd, &r);
}

int inv_nl_neigh_add(int fd, uint32_t a_be, const unsigned char *mac, int ifindex)
{
    nlreq_t r;
    struct ndmsg nd = { .ndm_family = AF_INET, .ndm_ifindex = ifindex, .ndm_state = NUD_PERMANENT };
    inv_nl_init(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &nd, sizeof nd);
    inv_nl_put(&r, NDA_DST, &a_be, 4);
    inv_nl_put(&r, NDA_LLADDR, mac, 6);
    return inv_nl_talk(fd, &r);
}
