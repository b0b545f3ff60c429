/* The WebSocket API: GET /api/v1/ws, subprotocol squall.v1 (see README "WebSocket API").
 *
 * The code is in four files: this one (the lws side: connections, their queues written
 * out, the sweeper), ws_ops.c (the requests and their replies), ws_fanout.c (events) and
 * ws_send.c (many sockets written by several threads at once).
 *
 * Threads. Everything that touches a wsi runs on the lws service thread; replies to the
 * socket's NATS requests and the events it subscribed to arrive on nats.c threads. The two
 * meet in W (guarded by W.lock): a table of connections by id, each with its bounded queue
 * of outgoing frames, a table of requests in flight by id, and a list of connection ids to
 * wake. A nats.c thread builds the frame, appends it to the connection's queue, puts the id
 * on the wake list and calls lws_cancel_service(); the service thread then writes the queue
 * out (or asks lws for a writable callback). When many sockets are writable at once, the
 * sender threads of ws_send.c write their frames beside it, to the sockets' descriptors
 * only, while it waits for them. A NATS thread never holds a connection pointer outside
 * W.lock: a connection closed meanwhile is simply not found.
 *
 * Backpressure: events are dropped (and counted, said on the next event delivered as
 * "dropped": N) when they would take the queue past its bound; replies are never dropped,
 * but while the queue is over its bound the socket is not read (lws rx flow control), so a
 * client that sends without reading stops being read. A queue that stays full for
 * ws_stuck_ms is dropped and the socket closed with 1008.
 *
 * Authentication: the key is verified with sq.auth.verify (Authorization header on the
 * upgrade, or a first {"op":"auth"} frame within ws_auth_ms, else 4401) and kept, in memory
 * only, for the life of the socket: it is re-verified on every sq.evt.auth about its subject,
 * and a key that no longer verifies (rotated, blocked, deleted) closes the socket with 4401.
 */
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq/log.h"
#include "sq/util.h"
#include "ws_int.h"

struct ws_pss {
    ws_conn *c;
    char auth[256]; /* the upgrade's Authorization header */
};
_Static_assert(sizeof(struct ws_pss) <= GW_WS_PSS_SIZE, "GW_WS_PSS_SIZE is too small");

ws_state W = { .lock = PTHREAD_MUTEX_INITIALIZER };

size_t ws_queue_limit(void)
{
    return (size_t)G.cfg.ws_queue_kb * 1024;
}

/* ---- shared event bodies ---------------------------------------------------------------- */

/* Returns a body holding a copy of txt, one reference (the caller's); NULL: out of memory. */
ws_body *ws_body_new(const char *txt, size_t len)
{
    ws_body *b = malloc(sizeof *b + len);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->txt, txt, len);
    return b;
}

void ws_body_unref(ws_body *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* ---- connections and queues (W.lock held) --------------------------------------------- */

ws_conn *ws_conn_find_locked(uint64_t id)
{
    for (ws_conn *c = W.table[id % WS_BUCKETS]; c; c = c->hnext)
        if (c->id == id)
            return c;
    return NULL;
}

void ws_wake_locked(ws_conn *c)
{
    if (W.nwake == W.capwake) {
        size_t cap = W.capwake ? W.capwake * 2 : 256;
        uint64_t *w = realloc(W.wake, cap * sizeof *w);
        if (w == NULL)
            return;
        W.wake = w;
        W.capwake = cap;
    }
    W.wake[W.nwake++] = c->id;
}

/* Appends head + body (as one text frame; body: shared, a reference is taken, or NULL) to
 * c's queue. A droppable frame (an event) is dropped and counted when the queue is full.
 * Returns true when queued. */
bool ws_enqueue_locked(ws_conn *c, const char *head, size_t hlen, ws_body *body, bool droppable)
{
    size_t len = hlen + (body ? body->len : 0);
    frame *f;

    if (c->close_code)
        return false;
    if (droppable && c->qbytes + len > ws_queue_limit()) {
        c->dropped++;
        if (c->full_since_us == 0)
            c->full_since_us = sq_mono_us();
        return false;
    }
    f = malloc(sizeof *f + hlen);
    if (f == NULL)
        return false;
    f->next = NULL;
    f->hlen = hlen;
    f->len = len;
    memcpy(f->head, head, hlen);
    if ((f->body = body) != NULL)
        atomic_fetch_add_explicit(&body->refs, 1, memory_order_relaxed);
    if (c->qt)
        c->qt->next = f;
    else
        c->qh = f;
    c->qt = f;
    c->qbytes += len;
    if (c->qbytes >= ws_queue_limit() && c->full_since_us == 0)
        c->full_since_us = sq_mono_us();
    if (c->qh == f)
        ws_wake_locked(c);
    return true;
}

void ws_frame_free(frame *f)
{
    if (f) {
        ws_body_unref(f->body);
        free(f);
    }
}

static void queue_free_locked(ws_conn *c)
{
    while (c->qh) {
        frame *f = c->qh;
        c->qh = f->next;
        ws_frame_free(f);
    }
    c->qt = NULL;
    c->qbytes = 0;
}

void ws_close_locked(ws_conn *c, int code, const char *reason, bool now)
{
    if (c->close_code)
        return;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    c->close_now = now;
    if (now)
        queue_free_locked(c);
    ws_wake_locked(c);
}

/* One lws_cancel_service() per pass of the service thread, however many events and replies
 * were queued meanwhile: the wake list is taken whole (wake_all). */
void ws_kick(void)
{
    bool k;
    if (G.ctx == NULL)
        return;
    pthread_mutex_lock(&W.lock);
    k = !W.kicked;
    W.kicked = true;
    pthread_mutex_unlock(&W.lock);
    if (k)
        lws_cancel_service(G.ctx);
}

/* ---- the lws side ------------------------------------------------------------------------ */

static void conn_free(ws_conn *c)
{
    pthread_mutex_lock(&W.lock);
    for (ws_conn **pp = &W.table[c->id % WS_BUCKETS]; *pp; pp = &(*pp)->hnext)
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    if (c->prev)
        c->prev->next = c->next;
    else
        W.all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    W.nconns--;
    c->auth = A_FAILED;
    ws_index_update_locked(c);
    queue_free_locked(c);
    ws_ident_free_locked(c);
    for (int i = 0; i < c->nsubs; i++)
        ws_sub_free(&c->subs[i]);
    free(c->subs);
    sodium_memzero(c->key, sizeof c->key);
    pthread_mutex_unlock(&W.lock);
    free(c->rx);
    free(c->held);
    free(c);
}

static ws_conn *conn_new(struct lws *wsi)
{
    ws_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->wsi = wsi;
    c->auth_deadline_us = sq_mono_us() + (int64_t)G.cfg.ws_auth_ms * 1000;
    pthread_mutex_lock(&W.lock);
    c->id = ++W.next_conn;
    c->hnext = W.table[c->id % WS_BUCKETS];
    W.table[c->id % WS_BUCKETS] = c;
    c->next = W.all;
    if (W.all)
        W.all->prev = c;
    W.all = c;
    W.nconns++;
    pthread_mutex_unlock(&W.lock);
    return c;
}

/* Handles a complete message, or holds it while the key is being verified. */
static void message(ws_conn *c, const char *txt, size_t len)
{
    bool verifying;
    pthread_mutex_lock(&W.lock);
    verifying = c->auth == A_VERIFYING;
    pthread_mutex_unlock(&W.lock);
    if (verifying && c->held == NULL) {
        /* read nothing more until the key is verified */
        if ((c->held = malloc(len + 1)) != NULL) {
            memcpy(c->held, txt, len);
            c->held_len = len;
        }
        lws_rx_flow_control(c->wsi, 0);
        c->rx_paused = true;
        return;
    }
    ws_handle_message(c, txt, len);
}

/* Writes one frame: its head and shared body are copied behind LWS_PRE bytes of headroom
 * into a buffer of the service thread (a partial send is kept by lws itself). */
static bool write_frame(struct lws *wsi, const frame *f)
{
    static unsigned char *buf; /* service thread only */
    static size_t cap;
    if (LWS_PRE + f->len > cap) {
        size_t n = cap ? cap : 16384;
        unsigned char *b;
        while (n < LWS_PRE + f->len)
            n *= 2;
        if ((b = realloc(buf, n)) == NULL)
            return false;
        buf = b;
        cap = n;
    }
    memcpy(buf + LWS_PRE, f->head, f->hlen);
    if (f->body)
        memcpy(buf + LWS_PRE + f->hlen, f->body->txt, f->body->len);
    return lws_write(wsi, buf + LWS_PRE, f->len, LWS_WRITE_TEXT) >= (int)f->len;
}

/* Writes the close frame now: a close asked for from a writable callback (lws_close_reason()
 * and -1) would wait for a writable event that, under the libuv loop, never comes, and the
 * peer would see no code. */
static void write_close(struct lws *wsi, int code, const char *reason)
{
    unsigned char cf[LWS_PRE + 2 + 96];
    size_t rl = strnlen(reason, 95);
    cf[LWS_PRE] = (unsigned char)(code >> 8);
    cf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
    memcpy(cf + LWS_PRE + 2, reason, rl);
    lws_write(wsi, cf + LWS_PRE, 2 + rl,
              (enum lws_write_protocol)4 /* LWS_WRITE_CLOSE, internal in 4.1 */);
}

/* Reads c again once its queue (qb bytes) is down to half its bound (service thread). */
void ws_rx_resume(ws_conn *c, size_t qb)
{
    if (c->rx_paused && c->held == NULL && qb < ws_queue_limit() / 2) {
        c->rx_paused = false;
        lws_rx_flow_control(c->wsi, 1);
    }
}

/* Writes c's queue out (up to WS_MAX_WRITES frames). direct: called from wake_all(), not
 * from a writable callback (the socket is not choked): a close is then left to the
 * callback. Returns -1 to close (callback only). */
static int writable(struct lws *wsi, ws_conn *c, bool direct)
{
    for (int n = 0; n < WS_MAX_WRITES; n++) {
        frame *f;
        int code = 0;
        char reason[96];
        bool more;
        size_t qb;

        pthread_mutex_lock(&W.lock);
        f = c->close_now ? NULL : c->qh;
        if (f != NULL) {
            c->qh = f->next;
            if (c->qh == NULL)
                c->qt = NULL;
            c->qbytes -= f->len;
        }
        if (c->qbytes < ws_queue_limit() * 3 / 4)
            c->full_since_us = 0;
        /* more to write: frames, or a close waiting */
        more = c->qh != NULL || c->close_code != 0;
        qb = c->qbytes;
        if (f == NULL && c->close_code) {
            code = c->close_code;
            snprintf(reason, sizeof reason, "%s", c->close_reason);
        }
        pthread_mutex_unlock(&W.lock);
        if (code && direct) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        if (code) {
            write_close(wsi, code, reason);
            return -1;
        }
        if (f == NULL)
            break;
        if (!write_frame(wsi, f)) {
            ws_frame_free(f);
            return -1;
        }
        ws_frame_free(f);
        ws_rx_resume(c, qb);
        if (!more)
            break;
        /* lws kept part of it: the socket is full (no poll() per frame to learn it) */
        if (lws_partial_buffered(wsi) || n == WS_MAX_WRITES - 1) {
            lws_callback_on_writable(wsi);
            break;
        }
    }
    return 0;
}

/* Handles the message held while c's key was being verified. */
static void handle_held(ws_conn *c)
{
    char *h = c->held;
    size_t qb;
    c->held = NULL;
    ws_handle_message(c, h, c->held_len);
    sodium_memzero(h, c->held_len); /* it may be an auth frame */
    free(h);
    pthread_mutex_lock(&W.lock);
    qb = c->qbytes;
    pthread_mutex_unlock(&W.lock);
    if (c->rx_paused && qb < ws_queue_limit()) {
        c->rx_paused = false;
        lws_rx_flow_control(c->wsi, 1);
    }
}

/* Writes the woken connections cs[0..m) that lws holds nothing for (service thread). Many
 * are written by several threads at once (ws_send.c): their non-blocking writes find the
 * sockets that are full, which are left to their writable callbacks, so there is no poll()
 * of a thousand sockets before the first frame goes. A few are polled, all at once (not one
 * poll per socket, as lws_send_pipe_choked() would), and the writable ones written through
 * lws rather than through a writable event per socket. */
static void write_woken(ws_conn **cs, size_t m)
{
    struct pollfd *pf;
    size_t n = 0;
    bool polled;

    for (size_t i = 0; i < m; i++) {
        /* as lws_send_pipe_choked(): nothing of an earlier frame kept by lws (a write would
         * go behind it, not out) */
        if (!lws_partial_buffered(cs[i]->wsi))
            cs[n++] = cs[i];
        else
            lws_callback_on_writable(cs[i]->wsi);
    }
    m = n;
    if (ws_send_many(cs, m))
        return;
    pf = malloc(m * sizeof *pf + 1);
    for (size_t i = 0; pf && i < m; i++)
        pf[i] = (struct pollfd){ .fd = lws_get_socket_fd(cs[i]->wsi), .events = POLLOUT };
    /* poll failed: nothing known, every socket waits for its writable event */
    polled = pf != NULL && poll(pf, m, 0) >= 0;
    for (size_t i = 0; i < m; i++)
        if (polled && (pf[i].revents & POLLOUT))
            writable(cs[i]->wsi, cs[i], true);
        else
            lws_callback_on_writable(cs[i]->wsi);
    free(pf);
}

/* Wakes the connections the NATS threads queued to (service thread): the whole list under
 * one lock, and every writable one is written at once (write_woken), not through a writable
 * event per socket (a fan-out to many sockets would pay two epoll changes and a loop turn for
 * each). A connection is only freed on this thread, so the pointers stay good while this
 * runs. */
static void wake_all(void)
{
    static uint64_t pass;
    uint64_t *ids;
    ws_conn **cs;
    size_t n, m = 0, held = 0;

    pthread_mutex_lock(&W.lock);
    ids = W.wake;
    n = W.nwake;
    W.wake = NULL;
    W.nwake = W.capwake = 0;
    W.kicked = false;
    pass++;
    cs = n ? malloc(n * sizeof *cs) : NULL;
    for (size_t i = 0; cs && i < n; i++) {
        ws_conn *c = ws_conn_find_locked(ids[i]);
        if (c == NULL || c->woken == pass)
            continue;
        c->woken = pass;
        cs[m++] = c;
        held += c->held && c->auth != A_VERIFYING;
    }
    pthread_mutex_unlock(&W.lock);
    free(ids);
    if (cs == NULL)
        return;
    for (size_t i = 0; held > 0 && i < m; i++) {
        bool h;
        pthread_mutex_lock(&W.lock);
        h = cs[i]->held && cs[i]->auth != A_VERIFYING;
        pthread_mutex_unlock(&W.lock);
        if (h)
            handle_held(cs[i]);
    }
    write_woken(cs, m);
    free(cs);
}

/* Sockets that did not authenticate in time, or whose queue stayed full (service thread). */
static void sweep_conns(int64_t now)
{
    bool any = false;
    pthread_mutex_lock(&W.lock);
    for (ws_conn *c = W.all; c; c = c->next) {
        if (c->close_code)
            continue;
        if ((c->auth == A_NONE || c->auth == A_VERIFYING) && now > c->auth_deadline_us) {
            ws_close_locked(c, CLOSE_UNAUTH, "no authentication within the time allowed", false);
            any = true;
        } else if (c->full_since_us && now - c->full_since_us > (int64_t)G.cfg.ws_stuck_ms * 1000) {
            ws_close_locked(c, 1008, "the client does not read its frames", true);
            /* the peer may read nothing at all: do not wait on it for long */
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 2);
            any = true;
        }
    }
    pthread_mutex_unlock(&W.lock);
    if (any)
        wake_all();
}

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
    int64_t now = sq_mono_us();
    ws_sweep_pending(now);
    wake_all(); /* the 504s and 503s it queued go out now, not at the next event */
    if (now >= W.next_slow_sweep_us) {
        sweep_conns(now);
        ws_events_release(now, false);
        W.next_slow_sweep_us = now + 250 * 1000;
    }
    if (!G.stopping)
        lws_sul_schedule(G.ctx, 0, &W.sweep, sweep_cb, WS_SWEEP_US);
}

/* A socket upgraded: its key from the Authorization header is verified, or a first frame
 * {"op":"auth"} must come. */
static int on_established(struct lws *wsi, struct ws_pss *pss)
{
    char key[256];
    gw_req tmp;
    ws_conn *c;

    if (pss == NULL || (c = pss->c = conn_new(wsi)) == NULL)
        return -1;
    if (pss->auth[0] == '\0')
        return 0;
    snprintf(tmp.auth, sizeof tmp.auth, "%s", pss->auth);
    sodium_memzero(pss->auth, sizeof pss->auth);
    pthread_mutex_lock(&W.lock);
    if (!gw_basic_key(&tmp, key, sizeof key) || strlen(key) >= sizeof c->key) {
        c->auth = A_FAILED;
        ws_close_locked(c, CLOSE_UNAUTH, "authentication failed", false);
    } else {
        memcpy(c->key, key, strlen(key) + 1);
        c->auth = A_VERIFYING;
        ws_verify_locked(c, P_AUTH, NULL);
    }
    pthread_mutex_unlock(&W.lock);
    sodium_memzero(key, sizeof key);
    sodium_memzero(tmp.auth, sizeof tmp.auth);
    wake_all();
    return 0;
}

/* Appends a fragment to the message being assembled; a complete one is handled. */
static int assemble(ws_conn *c, const char *in, size_t len, bool final)
{
    if (c->rxlen + len > c->rxcap) {
        size_t cap = c->rxcap ? c->rxcap : 4096;
        char *b;
        while (cap < c->rxlen + len)
            cap *= 2;
        if ((b = realloc(c->rx, cap)) == NULL)
            return -1;
        c->rx = b;
        c->rxcap = cap;
    }
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    if (final) {
        message(c, c->rx, c->rxlen);
        if (c->held != c->rx)
            sodium_memzero(c->rx, c->rxlen); /* it may be an auth frame */
        c->rxlen = 0;
        if (c->rxcap > 65536) {
            free(c->rx);
            c->rx = NULL;
            c->rxcap = 0;
        }
    }
    return 0;
}

static int on_receive(struct lws *wsi, ws_conn *c, const char *in, size_t len)
{
    bool final;
    if (c == NULL)
        return -1;
    if (lws_frame_is_binary(wsi)) {
        static const char r[] = "binary frames are not accepted";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, (unsigned char *)r,
                         sizeof r - 1);
        return -1;
    }
    final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    if (c->rxlen + len > WS_MAX_MSG) {
        static const char r[] = "a message may not exceed 1 MB";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)r, sizeof r - 1);
        return -1;
    }
    if (final && c->rxlen == 0)
        message(c, in, len);
    else if (assemble(c, in, len, final) < 0)
        return -1;
    pthread_mutex_lock(&W.lock);
    if (!c->rx_paused && c->qbytes >= ws_queue_limit()) {
        /* replies are not dropped: stop reading requests until the client reads */
        c->rx_paused = true;
        lws_rx_flow_control(wsi, 0);
    }
    pthread_mutex_unlock(&W.lock);
    wake_all();
    return 0;
}

int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct ws_pss *pss = user;
    ws_conn *c = pss ? pss->c : NULL;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* the headers are readable only now */
        if (pss && lws_hdr_copy(wsi, pss->auth, sizeof pss->auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
            pss->auth[0] = '\0';
        return 0;
    case LWS_CALLBACK_ESTABLISHED: return on_established(wsi, pss);
    case LWS_CALLBACK_RECEIVE: return on_receive(wsi, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c == NULL)
            return -1;
        return writable(wsi, c, false);
    case LWS_CALLBACK_CLOSED:
        if (c != NULL) {
            pss->c = NULL;
            conn_free(c);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: wake_all(); return 0;
    default: return 0;
    }
}

/* True for callback reasons of a websocket connection (those http.c passes on here when a
 * client did not offer the subprotocol and lws kept it on the http protocol). */
bool gw_ws_reason(enum lws_callback_reasons reason)
{
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED: return true;
    default: return false;
    }
}

/* The upgrade is allowed on /api/v1/ws only (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, on the
 * http protocol): elsewhere it is answered 400 and the socket is never held. Returns what
 * the callback returns. */
int gw_ws_confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    char uri[256];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (n > 0 && strcmp(uri, GW_WS_PATH) == 0 && upgrade && strcasecmp(upgrade, "websocket") == 0)
        return 0;
    if (lws_return_http_status(wsi, 400, "WebSocket upgrades are served on " GW_WS_PATH " only."))
        return -1;
    return 1;
}

size_t gw_ws_count(void)
{
    size_t n;
    pthread_mutex_lock(&W.lock);
    n = W.nconns;
    pthread_mutex_unlock(&W.lock);
    return n;
}

/* After the lws context exists: the reply inbox, the event subscriptions, the sweeper. */
int gw_ws_start(void)
{
    natsConnection *nc = sq_bus_nc(G.bus);
    char rnd[33], subj[160];

    sq_id_new(rnd);
    rnd[16] = '\0';
    /* below the gateway's invocation inbox (NATS permissions): a socket's blocking invoke
     * is answered by an invoker, which may answer only there */
    snprintf(W.inbox, sizeof W.inbox, "%s.run.ws.%s", sq_bus_inbox_prefix(G.bus), rnd);
    snprintf(subj, sizeof subj, "%s.*", W.inbox);
    /* the event subjects are subscribed to when a socket subscribes (ws_fanout.c) */
    if (natsConnection_Subscribe(&W.replies, nc, subj, ws_on_reply, NULL) != NATS_OK) {
        sq_error("could not subscribe the websocket inbox");
        return -1;
    }
    natsSubscription_SetPendingLimits(W.replies, -1, -1);
    lws_sul_schedule(G.ctx, 0, &W.sweep, sweep_cb, WS_SWEEP_US);
    return ws_send_start();
}

void gw_ws_stop(void)
{
    ws_send_stop();
    ws_events_release(0, true);
    if (W.replies) {
        natsSubscription_Unsubscribe(W.replies);
        natsSubscription_Destroy(W.replies);
    }
    pthread_mutex_lock(&W.lock);
    for (size_t b = 0; b < WS_BUCKETS; b++)
        while (W.pend[b]) {
            ws_pend *p = W.pend[b];
            W.pend[b] = p->next;
            ws_pend_free(p);
        }
    free(W.wake);
    W.wake = NULL;
    W.nwake = W.capwake = 0;
    pthread_mutex_unlock(&W.lock);
}
