/* The WebSocket API's frames written by several threads at once. One event fanned out to a
 * thousand sockets is a thousand send()s, and on loopback each costs the receiver's TCP
 * work as well: on the one lws service thread they took 4 ms in a row. So when a pass of
 * the service thread (wake_all in ws.c) wakes many sockets, it takes their queued frames
 * (one hold of W.lock), lets ws_send_threads threads (itself and a pool) write them with
 * plain non-blocking sendmsg() calls, each socket written by one thread only, its frames in
 * order, waits for them, and then, alone again, does what only lws may do: the unsent rest
 * of a frame handed to lws (lws_write raw, which keeps what the socket does not take), the
 * frames not written (a full socket: EAGAIN) put back at the head of their queues, writable
 * callbacks asked for. The sockets are not polled first: their writes say which are full,
 * and a poll() of a thousand sockets took ~0.5 ms before the first frame went out.
 *
 * Why writing around lws is safe: the sockets taken have nothing of lws's kept for them
 * (lws_partial_buffered), no extension is negotiated (a server frame is then
 * a fixed header and the text, as lws would write it), and lws writes nothing on any
 * socket while the service thread waits for the writers (pongs and closes are written on
 * that thread): each socket's bytes go out in order, whole frames, exactly once. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sq/log.h"
#include "ws_int.h"

#define WS_PAR_MIN 32  /* fewer sockets than this are written by the service thread alone */
#define WS_PAR_CLAIM 8 /* sockets a thread takes at a time */
#define WS_MAX_SENDERS 16

/* One socket's share of a pass. */
typedef struct {
    ws_conn *c;
    struct lws *wsi;
    int fd;
    frame *fs;  /* the frames taken from its queue, in order; after the pass, those left */
    size_t off; /* bytes of fs (its first frame) written */
    bool failed;
} out_item;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t go, done;
    pthread_t th[WS_MAX_SENDERS];
    int nth;
    uint64_t gen; /* passes handed out */
    bool open;    /* the current pass still takes writers */
    int active;   /* pool threads inside the current pass */
    bool stop;
    out_item *items;
    size_t n;
    atomic_size_t next;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER,
        .go = PTHREAD_COND_INITIALIZER,
        .done = PTHREAD_COND_INITIALIZER };

/* A server text frame's header (no mask, no extension) for a payload of len bytes. */
static size_t frame_header(unsigned char *h, size_t len)
{
    h[0] = 0x81; /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Writes its frames in order until one does not go out whole (any thread). */
static void send_item(out_item *it)
{
    while (it->fs != NULL) {
        frame *f = it->fs;
        unsigned char h[10];
        size_t hl = frame_header(h, f->len);
        struct iovec iov[3] = { { h, hl }, { f->head, f->hlen }, { NULL, 0 } };
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
        ssize_t k;

        if (f->body != NULL) {
            iov[2] = (struct iovec){ f->body->txt, f->body->len };
            mh.msg_iovlen = 3;
        }
        do
            k = sendmsg(it->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (k < 0 && errno == EINTR);
        if (k < 0) {
            it->failed = errno != EAGAIN && errno != EWOULDBLOCK;
            return;
        }
        if ((size_t)k < hl + f->len) {
            it->off = (size_t)k;
            return;
        }
        it->fs = f->next;
        ws_frame_free(f);
    }
}

static void run_items(void)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&P.next, WS_PAR_CLAIM, memory_order_relaxed);
        if (i >= P.n)
            return;
        for (size_t k = i; k < P.n && k < i + WS_PAR_CLAIM; k++)
            send_item(&P.items[k]);
    }
}

static void *sender(void *arg)
{
    uint64_t seen = 0;
    (void)arg;
    pthread_mutex_lock(&P.lock);
    for (;;) {
        while (!P.stop && (P.gen == seen || !P.open))
            pthread_cond_wait(&P.go, &P.lock);
        if (P.stop)
            break;
        seen = P.gen;
        P.active++;
        pthread_mutex_unlock(&P.lock);
        run_items();
        pthread_mutex_lock(&P.lock);
        if (--P.active == 0)
            pthread_cond_signal(&P.done);
    }
    pthread_mutex_unlock(&P.lock);
    return NULL;
}

/* Takes up to WS_MAX_WRITES frames of each socket's queue into its item (W.lock held); a
 * socket with nothing to write, or closing, gets no frames. */
static void take_locked(out_item *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ws_conn *c = it[i].c;
        frame **tail = &it[i].fs;
        if (c->close_now || c->close_code)
            continue;
        for (int k = 0; k < WS_MAX_WRITES && c->qh != NULL; k++) {
            frame *f = c->qh;
            c->qh = f->next;
            c->qbytes -= f->len;
            f->next = NULL;
            *tail = f;
            tail = &f->next;
        }
        if (c->qh == NULL)
            c->qt = NULL;
    }
}

/* After the pass (service thread, alone): the rest of a frame cut short goes to lws, the
 * frames left go back to the head of the queue, and the socket asks for a writable
 * callback when there is more (or a close) to write. */
static void finish(out_item *it)
{
    ws_conn *c = it->c;
    bool more;
    size_t qb;

    if (it->failed) {
        while (it->fs) {
            frame *f = it->fs;
            it->fs = f->next;
            ws_frame_free(f);
        }
        lws_set_timeout(it->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return;
    }
    if (it->fs != NULL && it->off > 0) {
        frame *f = it->fs;
        unsigned char h[10], *rest;
        size_t hl = frame_header(h, f->len), total = hl + f->len;
        it->fs = f->next;
        if ((rest = malloc(total)) == NULL) {
            lws_set_timeout(it->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        } else {
            memcpy(rest, h, hl);
            memcpy(rest + hl, f->head, f->hlen);
            if (f->body)
                memcpy(rest + hl + f->hlen, f->body->txt, f->body->len);
            /* lws keeps what the socket does not take and writes it before anything else */
            lws_write(it->wsi, rest + it->off, total - it->off, LWS_WRITE_RAW);
            free(rest);
        }
        ws_frame_free(f);
    }
    pthread_mutex_lock(&W.lock);
    if (it->fs != NULL) {
        frame *last = it->fs;
        while (last->next)
            last = last->next;
        if (c->close_now) { /* closed meanwhile: nothing more is written */
            while (it->fs) {
                frame *f = it->fs;
                it->fs = f->next;
                ws_frame_free(f);
            }
        } else {
            for (frame *f = it->fs; f; f = f->next)
                c->qbytes += f->len;
            last->next = c->qh;
            if (c->qh == NULL)
                c->qt = last;
            c->qh = it->fs;
        }
    }
    if (c->qbytes < ws_queue_limit() * 3 / 4)
        c->full_since_us = 0;
    more = c->qh != NULL || c->close_code != 0;
    qb = c->qbytes;
    pthread_mutex_unlock(&W.lock);
    ws_rx_resume(c, qb);
    if (more || lws_partial_buffered(it->wsi))
        lws_callback_on_writable(it->wsi);
}

bool ws_send_many(ws_conn **cs, size_t n)
{
    out_item *it;

    if (P.nth == 0 || n < WS_PAR_MIN || (it = calloc(n, sizeof *it)) == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        it[i].c = cs[i];
        it[i].wsi = cs[i]->wsi;
        it[i].fd = lws_get_socket_fd(cs[i]->wsi);
    }
    pthread_mutex_lock(&W.lock);
    take_locked(it, n);
    pthread_mutex_unlock(&W.lock);

    pthread_mutex_lock(&P.lock);
    P.items = it;
    P.n = n;
    atomic_store_explicit(&P.next, 0, memory_order_relaxed);
    P.gen++;
    P.open = true;
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.lock);
    run_items();
    /* every item is taken: wait for the pool threads still writing theirs */
    pthread_mutex_lock(&P.lock);
    P.open = false;
    while (P.active > 0)
        pthread_cond_wait(&P.done, &P.lock);
    P.items = NULL;
    P.n = 0;
    pthread_mutex_unlock(&P.lock);

    for (size_t i = 0; i < n; i++)
        finish(&it[i]);
    free(it);
    return true;
}

int ws_send_start(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int want = G.cfg.ws_send_threads;
    if (want == 0)
        want = cpus > 4 ? 4 : cpus > 1 ? (int)cpus : 1;
    if (want > WS_MAX_SENDERS)
        want = WS_MAX_SENDERS;
    /* the service thread is one of them */
    for (P.nth = 0; P.nth < want - 1; P.nth++) {
        int err = pthread_create(&P.th[P.nth], NULL, sender, NULL);
        if (err != 0) {
            sq_warn("could not start a websocket sender thread: %s", strerror(err));
            break;
        }
    }
    return 0;
}

void ws_send_stop(void)
{
    pthread_mutex_lock(&P.lock);
    P.stop = true;
    pthread_cond_broadcast(&P.go);
    pthread_mutex_unlock(&P.lock);
    for (int i = 0; i < P.nth; i++)
        pthread_join(P.th[i], NULL);
    P.nth = 0;
}
