/* bench-ws-fanout: the fan-out of an activation record to many subscribed WebSocket
 * sockets, measured on the server's side of the wire. It opens N sockets on the gateway
 * (Authorization: Basic on the upgrade), subscribes each to the activations of one action,
 * invokes that action (blocking, over the first socket) R times, and takes for every
 * event frame the kernel's receive time of its bytes (SO_TIMESTAMPNS, CLOCK_REALTIME), so
 * that how fast this process reads its sockets does not enter the figure; and it reads them
 * only once a round's fan-out is over (--reader-idle-ms, 100 ms after its invoke; 0 reads
 * them as frames come), as the floor does, so that its reading does not take from the
 * gateway the CPU its senders run on (a core of two, here). The start is the
 * record's announcement on sq.evt.activation.<ns>, seen by this process on NATS. Prints one
 * line: fanout_us p50= p99= first_p50= last_p50= frames= records= missing= read_delay_p50=
 * floor_p50= floor_last= floor_threads= floorpar_p50= floorpar_last= (last_p50: the last
 * socket of a record; read_delay: kernel receive to this process's read; floor: n raw send()s
 * of a frame of the same size in a row from one thread, to n loopback TCP connections of this
 * process, timed the same way; floorpar: the same sends shared by floor_threads threads, as
 * many as the gateway's senders by default (--floor-threads K)).
 * Sends only to the gateway and nats-server given (loopback in the benchmark).
 * With --inflight K (and -n 1): K blocking invokes in flight on one socket for --seconds S
 * instead, a new one as each answer comes: invoke_rps= p50= p99= answers= errors=.
 * Usage: bench-ws-fanout --url NATS_URL --port GATEWAY_PORT --key uuid:secret
 *        [--host 127.0.0.1] [-n 1000] [-r 30] [--action bench-ws] [--reader-idle-ms 100]
 *        [--floor-threads K] [--inflight K --seconds S] */
#include <arpa/inet.h>
#include <errno.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sq/bus.h"
#include "proto/proto.h"
#include "sq/mp.h"

#define BUF 65536
#define MAX_REC 4096

typedef struct {
    int fd;
    size_t len;
    unsigned char buf[BUF];
} wsock;

typedef struct {
    char id[33];
    long long announced_ns; /* CLOCK_REALTIME */
    long long first_ns, last_ns;
    int frames;
} record;

static record recs[MAX_REC];
static int nrecs;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *action = "bench-ws";
static struct {
    int rec;
    long long t_ns;
} * got; /* every event frame: its record, its kernel receive time */
static long long *lat, *delay;
static size_t ngot, nlat, ndelay, cap, frame_bytes;
/* invoke mode: when each request was sent (by its numeric id), the latencies, the errors */
static long long *sent_at, *ilat;
static size_t nsent_cap, nilat;
static int ierrors;
static int floor_threads; /* the parallel floor's senders; 0: as the gateway's default */

static long long realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-ws-fanout: %s: %s\n", what, strerror(errno));
    exit(2);
}

static record *rec_find_locked(const char *id, bool add)
{
    for (int i = 0; i < nrecs; i++)
        if (strcmp(recs[i].id, id) == 0)
            return &recs[i];
    if (!add || nrecs == MAX_REC)
        return NULL;
    memset(&recs[nrecs], 0, sizeof recs[nrecs]);
    snprintf(recs[nrecs].id, sizeof recs[nrecs].id, "%s", id);
    return &recs[nrecs++];
}

/* nats.c thread: the record's announcement */
static void on_announce(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    long long t = realtime_ns();
    msgpack_zone z;
    sq_activation a;
    char err[160];
    msgpack_zone_init(&z, 2048);
    if (sq_activation_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &z, &a, err,
                             sizeof err) == SQ_OK &&
        a.id != NULL && strlen(a.id) == 32 && a.name != NULL && strcmp(a.name, action) == 0) {
        pthread_mutex_lock(&lock);
        record *r = rec_find_locked(a.id, true);
        if (r && r->announced_ns == 0)
            r->announced_ns = t;
        pthread_mutex_unlock(&lock);
    }
    msgpack_zone_destroy(&z);
    natsMsg_Destroy(msg);
}

static void b64(const char *in, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* One masked text frame (a client's frames are masked; the mask may be anything). */
static void send_text(int fd, const char *txt)
{
    unsigned char f[1024];
    size_t n = strlen(txt), h;
    f[0] = 0x81;
    if (n < 126) {
        f[1] = (unsigned char)(0x80 | n);
        h = 2;
    } else {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(n >> 8);
        f[3] = (unsigned char)n;
        h = 4;
    }
    memset(f + h, 0, 4); /* mask 0: the payload goes as it is */
    memcpy(f + h + 4, txt, n);
    if (send(fd, f, h + 4 + n, MSG_NOSIGNAL) != (ssize_t)(h + 4 + n))
        die("send");
}

static int ws_open(const char *host, int port, const char *auth)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    char req[1024];
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        die("socket");
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int n = snprintf(req, sizeof req,
                     "GET /api/v1/ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: squall.v1\r\n"
                     "Authorization: Basic %s\r\n\r\n",
                     host, port, auth);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        die("send upgrade");
    return fd;
}

/* Reads the upgrade's answer (blocking); bytes after it stay in w->buf. */
static void ws_handshake(wsock *w)
{
    char *end;
    while ((end = memmem(w->buf, w->len, "\r\n\r\n", 4)) == NULL) {
        ssize_t r = recv(w->fd, w->buf + w->len, BUF - w->len, 0);
        if (r <= 0)
            die("upgrade answer");
        w->len += (size_t)r;
    }
    if (w->len < 12 || memcmp(w->buf + 9, "101", 3) != 0) {
        fprintf(stderr, "bench-ws-fanout: upgrade refused: %.40s\n", (char *)w->buf);
        exit(2);
    }
    size_t used = (size_t)(end + 4 - (char *)w->buf);
    memmove(w->buf, w->buf + used, w->len - used);
    w->len -= used;
}

/* Takes the complete frames out of w->buf; events of the action count with time t_ns. */
static int frames(wsock *w, long long t_ns, long long read_ns)
{
    size_t off = 0;
    int replies = 0;
    while (w->len - off >= 2) {
        unsigned char *p = w->buf + off;
        size_t plen = p[1] & 0x7f, h = 2;
        if (plen == 126) {
            if (w->len - off < 4)
                break;
            plen = (size_t)p[2] << 8 | p[3];
            h = 4;
        } else if (plen == 127) {
            if (w->len - off < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | p[2 + i];
            h = 10;
        }
        if (w->len - off < h + plen)
            break;
        const char *s = (const char *)p + h;
        if (plen > 6 && memcmp(s, "{\"sub\"", 6) == 0) {
            const char *k = memmem(s, plen, "\"activationId\":\"", 16);
            if (k && k + 16 + 32 <= s + plen) {
                char id[33];
                memcpy(id, k + 16, 32);
                id[32] = '\0';
                pthread_mutex_lock(&lock);
                record *r = rec_find_locked(id, true);
                if (r && ngot < cap) {
                    r->frames++;
                    frame_bytes += h + plen;
                    if (r->first_ns == 0 || t_ns < r->first_ns)
                        r->first_ns = t_ns;
                    if (t_ns > r->last_ns)
                        r->last_ns = t_ns;
                    got[ngot].rec = (int)(r - recs);
                    got[ngot++].t_ns = t_ns;
                    delay[ndelay++] = read_ns - t_ns;
                }
                pthread_mutex_unlock(&lock);
            }
        } else if (plen > 5 && memcmp(s, "{\"id\"", 5) == 0) {
            long id = strtol(s + 6, NULL, 10);
            replies++;
            if (sent_at && id > 0 && (size_t)id < nsent_cap && sent_at[id]) {
                ilat[nilat++] = read_ns - sent_at[id];
                if (memmem(s, plen, "\"ok\":true", 9) == NULL)
                    ierrors++;
            }
        }
        off += h + plen;
    }
    memmove(w->buf, w->buf + off, w->len - off);
    w->len -= off;
    return replies;
}

/* Reads what w has; returns the replies seen, -1 at EOF. */
static int ws_read(wsock *w)
{
    char ctl[256];
    struct iovec iov = { .iov_base = w->buf + w->len, .iov_len = BUF - w->len };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl
    };
    ssize_t r = recvmsg(w->fd, &mh, MSG_DONTWAIT);
    long long t = 0, now = realtime_ns();
    if (r == 0)
        return -1;
    if (r < 0)
        return errno == EAGAIN ? 0 : -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            t = ts.tv_sec * 1000000000LL + ts.tv_nsec;
        }
    w->len += (size_t)r;
    return frames(w, t ? t : now, now);
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static long long pct(long long *v, size_t n, double p)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof *v, cmp);
    size_t i = (size_t)((double)n * p);
    return v[i < n ? i : n - 1];
}

/* The floor's senders: each round, threads take FLOOR_CLAIM connections at a time from next
 * and send them their frame, as the gateway's senders do (ws_send.c). */
#define FLOOR_CLAIM 8
static struct {
    pthread_barrier_t start, end;
    const int *srv;
    int n;
    const unsigned char *buf;
    size_t len;
    atomic_int next;
    bool stop;
} FL;

static void floor_send(void)
{
    for (;;) {
        int i = atomic_fetch_add(&FL.next, FLOOR_CLAIM);
        if (i >= FL.n)
            return;
        for (int k = i; k < FL.n && k < i + FLOOR_CLAIM; k++)
            if (send(FL.srv[k], FL.buf, FL.len, MSG_NOSIGNAL) != (ssize_t)FL.len)
                die("floor send");
    }
}

static void *floor_sender(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_barrier_wait(&FL.start);
        if (FL.stop)
            return NULL;
        floor_send();
        pthread_barrier_wait(&FL.end);
    }
}

/* The floor of the figure on this machine, now: threads (this one and threads - 1 more)
 * sending a frame of len bytes to each of n loopback TCP connections (what the gateway's
 * senders must do at least: one thread is the floor of its service thread alone), timed the
 * same way (kernel receive time minus the moment before the first send). Sets *p50 and
 * *last (the median over rounds of the last connection's time), in ns. */
static void floor_ns(int n, size_t len, int rounds, int threads, long long *p50, long long *last)
{
    pthread_t th[16];
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1, ep = epoll_create1(0);
    int *cli = calloc((size_t)n, sizeof *cli), *srv = calloc((size_t)n, sizeof *srv);
    long long *v = calloc((size_t)n * (size_t)rounds, sizeof *v),
              *lasts = calloc((size_t)rounds, sizeof *lasts);
    unsigned char *buf = malloc(len + 16), rbuf[BUF];
    size_t nv = 0;

    if (lfd < 0 || ep < 0 || !cli || !srv || !v || !lasts || !buf ||
        bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1024) ||
        getsockname(lfd, (struct sockaddr *)&a, &al))
        die("floor socket");
    memset(buf, 'x', len);
    for (int i = 0; i < n; i++) {
        if ((cli[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            connect(cli[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            (srv[i] = accept(lfd, NULL, NULL)) < 0)
            die("floor connect");
        setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(cli[i], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
        /* watched by an epoll instance, as the gateway's sockets are in the rounds (their
         * arrivals cost the same), and read only once the round's sends are over */
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = cli[i] };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cli[i], &ev) != 0)
            die("floor epoll");
    }
    FL.srv = srv;
    FL.n = n;
    FL.buf = buf;
    FL.len = len;
    FL.stop = false;
    threads = threads < 1 ? 1 : threads > 16 ? 16 : threads;
    pthread_barrier_init(&FL.start, NULL, (unsigned)threads);
    pthread_barrier_init(&FL.end, NULL, (unsigned)threads);
    for (int k = 1; k < threads; k++)
        if (pthread_create(&th[k], NULL, floor_sender, NULL) != 0)
            die("floor thread");
    for (int r = 0; r < rounds; r++) {
        long long t0 = realtime_ns(), mx = 0;
        atomic_store(&FL.next, 0);
        if (threads > 1)
            pthread_barrier_wait(&FL.start);
        floor_send();
        if (threads > 1)
            pthread_barrier_wait(&FL.end);
        for (int i = 0; i < n; i++) {
            size_t got = 0;
            long long t = 0;
            while (got < len) {
                char ctl[256];
                struct iovec iov = { .iov_base = rbuf, .iov_len = len - got };
                struct msghdr mh = { .msg_iov = &iov,
                                     .msg_iovlen = 1,
                                     .msg_control = ctl,
                                     .msg_controllen = sizeof ctl };
                ssize_t k = recvmsg(cli[i], &mh, 0);
                if (k <= 0)
                    die("floor recv");
                got += (size_t)k;
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                        struct timespec ts;
                        memcpy(&ts, CMSG_DATA(c), sizeof ts);
                        t = ts.tv_sec * 1000000000LL + ts.tv_nsec;
                    }
            }
            v[nv++] = t - t0;
            if (t - t0 > mx)
                mx = t - t0;
        }
        lasts[r] = mx;
        usleep(20000);
    }
    FL.stop = true;
    if (threads > 1)
        pthread_barrier_wait(&FL.start);
    for (int k = 1; k < threads; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&FL.start);
    pthread_barrier_destroy(&FL.end);
    *p50 = pct(v, nv, 0.5);
    *last = pct(lasts, (size_t)rounds, 0.5);
    for (int i = 0; i < n; i++) {
        close(cli[i]);
        close(srv[i]);
    }
    close(lfd);
    close(ep);
    free(cli);
    free(srv);
    free(v);
    free(lasts);
    free(buf);
}

/* Invoke mode: sends the blocking invoke of the action numbered id on w, its time kept in
 * sent_at[id]. */
static void send_invoke(wsock *w, long id)
{
    char msg[512];
    snprintf(msg, sizeof msg,
             "{\"id\":%ld,\"op\":\"invoke\",\"action\":\"%s\",\"result\":true,"
             "\"params\":{\"n\":2}}",
             id, action);
    sent_at[id] = realtime_ns();
    send_text(w->fd, msg);
}

/* Invoke mode: k blocking invokes in flight on one socket for secs seconds (a new one as
 * each answer comes); prints invoke_rps= p50= p99= errors= (latencies from the send to the
 * read of the answer, in us). */
static void invoke_run(wsock *w, int k, int secs)
{
    long next = 1, done = 0;
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
    long long t0 = realtime_ns(), end = t0 + secs * 1000000000LL;

    nsent_cap = 4000000;
    sent_at = calloc(nsent_cap, sizeof *sent_at);
    ilat = calloc(nsent_cap, sizeof *ilat);
    if (ep < 0 || sent_at == NULL || ilat == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) != 0)
        die("invoke setup");
    for (; next <= k; next++)
        send_invoke(w, next);
    while (realtime_ns() < end || done < next - 1) {
        int n = epoll_wait(ep, &ev, 1, 1000);
        if (n <= 0) {
            if (realtime_ns() > end + 10 * 1000000000LL)
                break;
            continue;
        }
        int got = ws_read(w);
        if (got < 0)
            die("invoke socket closed");
        done += got;
        for (int i = 0; i < got && realtime_ns() < end && (size_t)next < nsent_cap; i++, next++)
            send_invoke(w, next);
    }
    double el = (double)(realtime_ns() - t0) / 1e9;
    printf("invoke_rps=%.0f p50=%lld p99=%lld answers=%zu errors=%d\n", (double)nilat / el,
           pct(ilat, nilat, 0.5) / 1000, pct(ilat, nilat, 0.99) / 1000, nilat, ierrors);
    close(ep);
}

/* Serves the sockets for ms milliseconds. */
static void serve(int ep, long long ms)
{
    long long end = realtime_ns() + ms * 1000000LL;
    struct epoll_event ev[256];
    for (;;) {
        long long left = (end - realtime_ns()) / 1000000LL;
        if (left <= 0)
            return;
        int n = epoll_wait(ep, ev, 256, (int)left);
        for (int i = 0; i < n; i++)
            if (ws_read(ev[i].data.ptr) < 0) {
                fprintf(stderr, "bench-ws-fanout: a socket was closed\n");
                exit(2);
            }
    }
}

/* Opens n sockets in batches of 100 (all upgrades of a batch, then their answers), each
 * subscribed to the action's activations (inflight > 0: pinged instead), waits for every
 * answer, then turns the kernel's receive times on. */
static void open_sockets(wsock *w, int n, const char *host, int port, const char *auth,
                         int inflight)
{
    char msg[512];
    int one = 1;
    for (int i = 0; i < n; i += 100) {
        int m = i + 100 < n ? i + 100 : n;
        for (int j = i; j < m; j++)
            w[j].fd = ws_open(host, port, auth);
        for (int j = i; j < m; j++) {
            ws_handshake(&w[j]);
            if (inflight > 0) /* no events in invoke mode: a ping is the first answer */
                snprintf(msg, sizeof msg, "{\"id\":0,\"op\":\"ping\"}");
            else
                snprintf(msg, sizeof msg,
                         "{\"id\":1,\"op\":\"subscribe\",\"topic\":\"activations\","
                         "\"filter\":{\"name\":\"%s\"}}",
                         action);
            send_text(w[j].fd, msg);
        }
    }
    for (int j = 0; j < n; j++) {
        int got = frames(&w[j], 0, 0);
        while (got == 0) {
            ssize_t r = recv(w[j].fd, w[j].buf + w[j].len, BUF - w[j].len, 0);
            if (r <= 0)
                die("subscribe answer");
            w[j].len += (size_t)r;
            got = frames(&w[j], 0, 0);
        }
        if (setsockopt(w[j].fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
            die("SO_TIMESTAMPNS");
    }
}

static int reader_idle_ms = 100;

/* The rounds: one blocking invoke each through the first socket, the frames of all read. */
static void run_rounds(wsock *w, int n, int rounds)
{
    char msg[512];
    int ep = epoll_create1(0);
    if (ep < 0)
        die("epoll");
    for (int j = 0; j < n; j++) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w[j] };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, w[j].fd, &ev) != 0)
            die("epoll_ctl");
    }
    for (int r = 0; r < rounds; r++) {
        snprintf(msg, sizeof msg,
                 "{\"id\":\"r%d\",\"op\":\"invoke\",\"action\":\"%s\",\"blocking\":true,"
                 "\"params\":{\"n\":%d}}",
                 r, action, r);
        send_text(w[0].fd, msg);
        if (reader_idle_ms > 0) /* the frames wait in the sockets, their receive times taken */
            usleep((useconds_t)reader_idle_ms * 1000);
        serve(ep, 200 - (reader_idle_ms < 150 ? reader_idle_ms : 150));
    }
    serve(ep, 1500);
}

/* Prints the figures of the run (n sockets, rounds rounds); returns how many records were
 * seen. */
static int report(int n, int rounds)
{
    int recorded = 0, missing = 0;
    long long firsts[MAX_REC], lasts[MAX_REC], f50, flast;
    pthread_mutex_lock(&lock);
    /* the announcement may be seen after the first frames: latencies are taken at the end */
    for (size_t i = 0; i < ngot; i++)
        if (recs[got[i].rec].announced_ns)
            lat[nlat++] = got[i].t_ns - recs[got[i].rec].announced_ns;
    for (int i = 0; i < nrecs; i++) {
        if (recs[i].announced_ns == 0 || recs[i].frames == 0)
            continue;
        firsts[recorded] = recs[i].first_ns - recs[i].announced_ns;
        lasts[recorded] = recs[i].last_ns - recs[i].announced_ns;
        missing += n - recs[i].frames;
        recorded++;
    }
    size_t fb = ngot ? frame_bytes / ngot : 700;
    printf("fanout_us p50=%lld p99=%lld first_p50=%lld last_p50=%lld frames=%zu records=%d "
           "missing=%d read_delay_p50=%lld frame_bytes=%zu",
           pct(lat, nlat, 0.5) / 1000, pct(lat, nlat, 0.99) / 1000,
           pct(firsts, (size_t)recorded, 0.5) / 1000, pct(lasts, (size_t)recorded, 0.5) / 1000,
           nlat, recorded, missing, pct(delay, ndelay, 0.5) / 1000, fb);
    pthread_mutex_unlock(&lock);
    floor_ns(n, fb, rounds, 1, &f50, &flast);
    printf(" floor_p50=%lld floor_last=%lld", f50 / 1000, flast / 1000);
    if (floor_threads == 0) { /* as many as the gateway's senders by default */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        floor_threads = cpus > 4 ? 4 : cpus > 1 ? (int)cpus : 1;
    }
    floor_ns(n, fb, rounds, floor_threads, &f50, &flast);
    printf(" floor_threads=%d floorpar_p50=%lld floorpar_last=%lld\n", floor_threads, f50 / 1000,
           flast / 1000);
    return recorded;
}

/* One command-line option: its name and where its value goes (str or num). */
typedef struct {
    const char *name;
    const char **str;
    int *num;
} option;

/* Sets the option called name, if there is one, to value; an unknown name is passed over. */
static void set_option(const option *opts, size_t nopts, const char *name, const char *value)
{
    for (size_t i = 0; i < nopts; i++) {
        if (strcmp(opts[i].name, name) != 0)
            continue;
        if (opts[i].str)
            *opts[i].str = value;
        else
            *opts[i].num = atoi(value);
        return;
    }
}

int main(int argc, char **argv)
{
    const char *url = getenv("SQ_NATS_URL"), *key = NULL, *host = "127.0.0.1";
    int port = 0, n = 1000, rounds = 30, inflight = 0, seconds = 5, recorded;
    char auth[512];
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    wsock *w;

    /* every option takes a value: a string, or a number (atoi) */
    const option opts[] = {
        { "--url", &url, NULL },
        { "--host", &host, NULL },
        { "--key", &key, NULL },
        { "--action", &action, NULL },
        { "--port", NULL, &port },
        { "-n", NULL, &n },
        { "-r", NULL, &rounds },
        { "--inflight", NULL, &inflight },
        { "--seconds", NULL, &seconds },
        { "--reader-idle-ms", NULL, &reader_idle_ms },
        { "--floor-threads", NULL, &floor_threads },
    };
    for (int i = 1; i + 1 < argc; i += 2)
        set_option(opts, sizeof opts / sizeof *opts, argv[i], argv[i + 1]);
    if (url == NULL || key == NULL || port <= 0 || n <= 0 || rounds <= 0 || strlen(key) > 300) {
        fprintf(stderr, "usage: bench-ws-fanout --url NATS --port PORT --key KEY [-n N] [-r R]\n");
        return 2;
    }
    b64(key, auth);
    cap = (size_t)n * (size_t)rounds * 2 + 16;
    got = calloc(cap, sizeof *got);
    lat = calloc((size_t)n * (size_t)rounds * 2 + 16, sizeof *lat);
    delay = calloc((size_t)n * (size_t)rounds * 2 + 16, sizeof *delay);
    w = calloc((size_t)n, sizeof *w);
    if (got == NULL || lat == NULL || delay == NULL || w == NULL)
        die("calloc");

    char prefix[96];
    natsOptions *o = NULL;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url);
    sq_nats_inbox_prefix(url, NULL, prefix, sizeof prefix);
    natsOptions_SetCustomInboxPrefix(o, prefix);
    if (natsConnection_Connect(&nc, o) != NATS_OK ||
        natsConnection_Subscribe(&sub, nc, "sq.evt.activation.>", on_announce, NULL) != NATS_OK ||
        natsConnection_Flush(nc) != NATS_OK) {
        fprintf(stderr, "bench-ws-fanout: could not subscribe on NATS\n");
        return 2;
    }
    natsOptions_Destroy(o);

    open_sockets(w, n, host, port, auth, inflight);
    if (inflight > 0) {
        invoke_run(&w[0], inflight, seconds);
        return 0;
    }
    run_rounds(w, n, rounds);
    recorded = report(n, rounds);
    for (int j = 0; j < n; j++)
        close(w[j].fd);
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    return recorded > 0 ? 0 : 1;
}
