/* Accepting connections on the gateway's own listening socket (lws polls it as a raw file
 * and we accept), so that running out of file descriptors pauses accepting for a while
 * instead of spinning on a listening socket that stays readable. Service thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway.h"
#include "sq/log.h"
#include "sq/util.h"

/* the starvation warning: at most one per window */
#define LOG_WINDOW_US (10 * 1000 * 1000)

static struct {
    int64_t window;  /* start of the current log window */
    unsigned failed; /* accepts that failed since the last log line */
} starve;

static void accept_resume(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    if (G.listen_wsi != NULL && !G.stopping)
        lws_rx_flow_control(G.listen_wsi, 1);
}

/* accept() failed for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM): the pending
 * connection stays readable on the listening socket, so retrying at once would spin. Give
 * the spare descriptor up to answer one waiting client 503, stop polling the listening
 * socket for accept_pause_ms, and log at most once per LOG_WINDOW_US. */
static void accept_starved(int err)
{
    int64_t now = sq_mono_us();
    int fd;

    starve.failed++;
    if (now - starve.window >= LOG_WINDOW_US) {
        sq_warn("could not accept a connection: %s (%u failed accepts since the last report); "
                "accepting paused for %d ms at a time",
                strerror(err), starve.failed, G.cfg.accept_pause_ms);
        starve.window = now;
        starve.failed = 0;
    }
    if (G.reserve_fd >= 0) {
        close(G.reserve_fd);
        G.reserve_fd = -1;
        fd = accept4(G.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            gw_send_error_raw(fd, "503 Service Unavailable",
                              "The server is too busy to accept the connection.");
            shutdown(fd, SHUT_WR);
            close(fd);
        }
        G.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    lws_rx_flow_control(G.listen_wsi, 0);
    lws_sul_schedule(G.ctx, 0, &G.accept_sul, accept_resume,
                     (lws_usec_t)G.cfg.accept_pause_ms * 1000);
}

/* The listening socket is readable: accept what waits (a bounded batch, so one busy
 * listener cannot starve the connections already open) and hand it to lws as HTTP. */
int gw_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    for (int i = 0; i < 64; i++) {
        int one = 1;
        int fd = accept4(G.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_starved(errno);
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                sq_warn("could not accept a connection: %s", strerror(errno));
            return 0;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* on failure lws closes fd itself */
        lws_adopt_socket_vhost(lws_get_vhost(wsi), fd);
    }
    return 0;
}

int gw_listen_open(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)G.cfg.port) };
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int one = 1, fd;

    if (inet_pton(AF_INET, G.cfg.host, &sa.sin_addr) != 1) {
        if (getaddrinfo(G.cfg.host, NULL, &hints, &ai) != 0 || ai == NULL) {
            sq_error("could not resolve the gateway host \"%s\" to an IPv4 address", G.cfg.host);
            return -1;
        }
        sa.sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        freeaddrinfo(ai);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
        sq_error("could not listen on %s:%d: %s", G.cfg.host, G.cfg.port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
