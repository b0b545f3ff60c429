/* The lws side of the gateway, all on the one service thread: accept connections on our
 * own listening socket (so that running out of file descriptors pauses accepting instead of
 * spinning), parse the request line, arguments, Authorization header and body; check the
 * key of a request with a body before its body is read; hand complete requests to
 * gw_dispatch(); write responses queued by the NATS thread when lws says the socket is
 * writable. Every refusal is an OpenWhisk JSON error, also the ones lws makes itself. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "gateway.h"
#include "sq/log.h"
#include "sq/util.h"

struct pss {
    gw_req *req;
};

#define SWEEP_US (100 * 1000)

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
    gw_req *expired = gw_pending_expired(sq_mono_us());
    while (expired) {
        gw_req *r = expired;
        expired = r->next;
        r->next = NULL;
        gw_on_timeout(r);
    }
    if (!G.stopping)
        lws_sul_schedule(G.ctx, 0, &G.sweep, sweep_cb, SWEEP_US);
}

static gw_method method_of(struct lws *wsi)
{
    char *uri;
    int len;
    switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
    case LWSHUMETH_GET: return GW_GET;
    case LWSHUMETH_POST: return GW_POST;
    case LWSHUMETH_PUT: return GW_PUT;
    case LWSHUMETH_DELETE: return GW_DELETE;
    case LWSHUMETH_PATCH: return GW_PATCH;
    case LWSHUMETH_HEAD: return GW_HEAD;
    case LWSHUMETH_OPTIONS: return GW_OPTIONS;
    default: return GW_OTHER;
    }
}

/* True when path is the whole request path: lws ends the path it hands over at an
 * unescaped ';' or '&' and keeps the rest as further fragments of the same header. */
static bool path_whole(struct lws *wsi, const char *path)
{
    static const enum lws_token_indexes uris[] = {
        WSI_TOKEN_GET_URI,   WSI_TOKEN_POST_URI,    WSI_TOKEN_PUT_URI,  WSI_TOKEN_DELETE_URI,
        WSI_TOKEN_PATCH_URI, WSI_TOKEN_OPTIONS_URI, WSI_TOKEN_HEAD_URI,
    };
    size_t len = strlen(path);
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        int n = lws_hdr_total_length(wsi, uris[i]);
        if (n > 0)
            return (size_t)n == len && lws_hdr_fragment_length(wsi, uris[i], 1) <= 0;
    }
    return true;
}

static gw_req *req_new(struct lws *wsi, const char *path)
{
    gw_req *r = calloc(1, sizeof *r);
    char frag[2048];

    if (r == NULL)
        return NULL;
    r->start_us = sq_mono_us();
    r->wsi = wsi;
    r->method = method_of(wsi);
    snprintf(r->path, sizeof r->path, "%s", path);
    for (int i = 0; i < GW_MAX_ARGS; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        if ((r->args[r->nargs] = strdup(frag)) != NULL)
            r->nargs++;
    }
    if (lws_hdr_copy(wsi, r->auth, sizeof r->auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        r->auth[0] = '\0';
    if (lws_hdr_copy(wsi, r->ctype, sizeof r->ctype, WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
        r->ctype[0] = '\0';
    if (gw_web_path(r->path) || gw_routes_path(r->path))
        gw_web_capture(wsi, r); /* headers are readable only now */
    pthread_mutex_lock(&G.lock);
    r->id = r->rid = ++G.next_id;
    pthread_mutex_unlock(&G.lock);
    return r;
}

/* Next to req_new(): what a request holds (its web part included) goes with it. */
void gw_req_free(gw_req *r)
{
    if (r == NULL)
        return;
    if (r->body_sul_on)
        lws_sul_schedule(G.ctx, 0, &r->body_sul, NULL, LWS_SET_TIMER_USEC_CANCEL);
    for (int i = 0; i < r->nargs; i++)
        free(r->args[i]);
    if (r->ident_zone_used)
        msgpack_zone_destroy(&r->ident_zone);
    free(r->body);
    free(r->resp);
    free(r->resp_hdrs);
    free(r->resp_ctype_own);
    gw_web_free(r->web);
    free(r);
}

/* Frees r now when the lws thread owns it, or marks it so whoever holds it frees it. */
static void req_release(gw_req *r)
{
    bool owned;
    if (r->body_sul_on) {
        lws_sul_schedule(G.ctx, 0, &r->body_sul, NULL, LWS_SET_TIMER_USEC_CANCEL);
        r->body_sul_on = false;
    }
    pthread_mutex_lock(&G.lock);
    r->closed = true;
    r->wsi = NULL;
    owned = r->wait == GW_WAIT_NONE;
    pthread_mutex_unlock(&G.lock);
    if (owned)
        gw_req_free(r);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    char n[128];
    snprintf(n, sizeof n, "%s:", name);
    return lws_add_http_header_by_name(wsi, (const unsigned char *)n, (const unsigned char *)value,
                                       (int)strlen(value), p, end);
}

static int write_headers(struct lws *wsi, gw_req *r)
{
    size_t cap = LWS_PRE + 2048 + r->resp_hdrs_len * 2;
    unsigned char *buf = malloc(cap), *start, *p, *end;
    const char *ctype = r->resp_ctype_own ? r->resp_ctype_own
                        : r->resp_ctype   ? r->resp_ctype
                                          : "application/json";
    int rc = -1;

    if (buf == NULL)
        return -1;
    start = p = buf + LWS_PRE;
    end = buf + cap - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)r->status, ctype, r->resp_len, &p, end))
        goto out;
    /* the REST API is open to browsers; a web action's CORS headers are its own affair */
    if ((r->web == NULL || r->cors) && add_header(wsi, "access-control-allow-origin", "*", &p, end))
        goto out;
    for (size_t off = 0; off < r->resp_hdrs_len;) {
        const char *name = r->resp_hdrs + off, *value = name + strlen(name) + 1;
        if (add_header(wsi, name, value, &p, end))
            goto out;
        off = (size_t)(value - r->resp_hdrs) + strlen(value) + 1;
    }
    if (r->close_after && add_header(wsi, "connection", "close", &p, end))
        goto out;
    if (r->actid[0] && (r->op == OP_INVOKE || r->op == OP_WEB) &&
        add_header(wsi, "x-openwhisk-activation-id", r->actid, &p, end))
        goto out;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        goto out;
    rc = 0;
out:
    free(buf);
    return rc;
}

static int write_response(struct lws *wsi, gw_req *r)
{
    if (!r->headers_sent) {
        if (write_headers(wsi, r))
            return -1;
        r->headers_sent = true;
        if (r->head_only)
            return 1; /* HEAD: the length is said, the body is not sent */
        if (r->resp_len > 0) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (r->resp_off < r->resp_len) {
        /* lws_write needs LWS_PRE bytes of headroom before the data */
        size_t chunk = r->resp_len - r->resp_off;
        unsigned char *tmp;
        if (chunk > 32768)
            chunk = 32768;
        tmp = malloc(LWS_PRE + chunk);
        if (tmp == NULL)
            return -1;
        memcpy(tmp + LWS_PRE, r->resp + r->resp_off, chunk);
        r->resp_off += chunk;
        if (lws_write(wsi, tmp + LWS_PRE, chunk,
                      r->resp_off == r->resp_len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
            (int)chunk) {
            free(tmp);
            return -1;
        }
        free(tmp);
        if (r->resp_off < r->resp_len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    return 1; /* done */
}

/* Answers r at once and closes the connection after the answer: the rest of the request
 * (its body) is not read. Lws thread, r owned by it. */
static void refuse(struct lws *wsi, gw_req *r, int status, const char *msg)
{
    r->dispatched = true;
    r->close_after = true;
    if (!r->answered)
        gw_respond_error(r, status, "%s", msg ? msg : "");
    /* lws 4.1 gives no writable callback to a connection whose rx is paused: let the rest
     * of the body come (it is dropped) until the answer is written and the connection
     * closes */
    if (r->rx_paused) {
        lws_rx_flow_control(wsi, 1);
        r->rx_paused = false;
    }
    if (r->body_sul_on) {
        lws_sul_schedule(G.ctx, 0, &r->body_sul, NULL, LWS_SET_TIMER_USEC_CANCEL);
        r->body_sul_on = false;
    }
    lws_callback_on_writable(wsi);
}

static void body_deadline(lws_sorted_usec_list_t *sul);

static void body_deadline_arm(gw_req *r, int64_t us)
{
    r->body_sul_on = true;
    lws_sul_schedule(G.ctx, 0, &r->body_sul, body_deadline, us);
}

/* The body did not come in time: 408, and the connection closes. */
static void body_deadline(lws_sorted_usec_list_t *sul)
{
    gw_req *r = lws_container_of(sul, gw_req, body_sul);
    bool mine;

    r->body_sul_on = false;
    if (r->closed || r->body_complete || r->dispatched)
        return;
    pthread_mutex_lock(&G.lock);
    mine = r->wait == GW_WAIT_NONE;
    pthread_mutex_unlock(&G.lock);
    if (!mine) { /* its key is being checked (that has a deadline of its own) */
        body_deadline_arm(r, 100 * 1000);
        return;
    }
    refuse(r->wsi, r, 408, "The request body did not arrive in time.");
}

#define LINGER_US (1000 * 1000)

static void linger_end(lws_sorted_usec_list_t *sul)
{
    gw_req *r = lws_container_of(sul, gw_req, body_sul);
    r->body_sul_on = false;
    if (!r->closed && r->wsi != NULL)
        lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* The answer to a refused request is written, and the rest of the request may still be on
 * its way: closing now, with unread data, would reset the connection and the client could
 * lose the answer. So send FIN, drop whatever still comes for at most LINGER_US, then
 * close (nginx's lingering close). */
static void linger(struct lws *wsi, gw_req *r)
{
    r->draining = true;
    shutdown(lws_get_socket_fd(wsi), SHUT_WR);
    r->body_sul_on = true;
    lws_sul_schedule(G.ctx, 0, &r->body_sul, linger_end, LINGER_US);
}

/* The request is complete (headers, and body if any): start it. */
static void complete(struct lws *wsi, gw_req *r)
{
    if (r->dispatched)
        return;
    r->dispatched = true;
    /* the answer may take up to a minute (blocking invoke): no lws timeout meanwhile */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    if (r->body_sul_on) {
        lws_sul_schedule(G.ctx, 0, &r->body_sul, NULL, LWS_SET_TIMER_USEC_CANCEL);
        r->body_sul_on = false;
    }
    if (gw_console_path(r->path)) { /* the console's static files */
        gw_console_serve(r);
        lws_callback_on_writable(wsi);
        return;
    }
    if (gw_dispatch(r)) /* answered without the bus */
        lws_callback_on_writable(wsi);
}

/* The key of a request with a body is verified: a client that waits for "100 Continue"
 * before it sends the body (curl does for bodies over 1 MB) gets it now instead of
 * waiting out its own timer (lws 4.1 never sends it). Written straight to the socket:
 * nothing else has been written on this request yet. */
static void body_welcome(struct lws *wsi, gw_req *r)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char expect[32];
    ssize_t w;

    if (r->body_complete || lws_hdr_copy(wsi, expect, sizeof expect, WSI_TOKEN_HTTP_EXPECT) <= 0 ||
        strcasecmp(expect, "100-continue") != 0)
        return;
    w = send(lws_get_socket_fd(wsi), cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
}

/* At the headers: refuses what cannot be read safely, and for a request with a body checks
 * its key before reading any more of it. */
static void on_headers(struct lws *wsi, gw_req *r)
{
    char cl[32];
    long long n = -1;
    bool te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    int64_t deadline_us;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
        int len = lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
        bool digits = len > 0;
        for (int i = 0; i < len; i++)
            digits &= isdigit((unsigned char)cl[i]) != 0;
        if (!digits) {
            refuse(wsi, r, len > 0 ? 400 : 413, "The Content-Length header is not a valid length.");
            return;
        }
        n = len > 18 ? (long long)1 << 62 : atoll(cl);
    }
    if (te && n >= 0) {
        /* both: which one frames the body is the classic request smuggling ambiguity */
        refuse(wsi, r, 400, "A request must not carry both Content-Length and Transfer-Encoding.");
        return;
    }
    if (te) {
        /* lws 4.1 does not hand chunked request bodies to the server: say so */
        refuse(wsi, r, 411, "A request body must be sent with a Content-Length header.");
        return;
    }
    if (n > (long long)gw_body_limit(r)) {
        char msg[128];
        snprintf(msg, sizeof msg, "The request content was malformed or too large (limit %zu KB).",
                 gw_body_limit(r) / 1024);
        refuse(wsi, r, 413, msg);
        return;
    }
    if (n <= 0) {
        complete(wsi, r);
        return;
    }
    /* a body follows: nothing more is read until its key is verified */
    r->expect_body = true;
    deadline_us = (int64_t)G.cfg.body_timeout_ms * 1000 +
                  (int64_t)n * 1000000 / ((int64_t)G.cfg.body_min_rate_kb * 1024);
    body_deadline_arm(r, deadline_us);
    switch (gw_authenticate(r)) {
    case GW_AUTH_ANSWERED: refuse(wsi, r, 0, NULL); break;
    case GW_AUTH_OK: /* a cached key: read the body */ body_welcome(wsi, r); break;
    case GW_AUTH_PENDING:
        /* r is on the bus and comes back through the ready queue, on this thread, so the
         * lws-side fields are still ours to set; lws may still hand over what it read with
         * the headers (at most its read buffer), nothing more is read meanwhile */
        lws_rx_flow_control(wsi, 0);
        r->rx_paused = true;
        break;
    }
}

/* LWS_CALLBACK_HTTP: the request line and headers came. */
static int on_http(struct lws *wsi, struct pss *pss, const char *path)
{
    gw_req *r = req_new(wsi, path);
    if (r == NULL)
        return -1;
    pss->req = r;
    if (!path_whole(wsi, path)) {
        /* lws splits the path at an unescaped ';' or '&' and hands over the first part
         * only: "/actions/x;y" must not act on "x" */
        refuse(wsi, r, 400, "The request path must not contain ';' or '&' (escape them).");
        return 0;
    }
    on_headers(wsi, r);
    return 0;
}

/* LWS_CALLBACK_HTTP_BODY (lws thread only): while the key is checked, this gets at most
 * what lws read together with the headers (rx is paused). */
static int on_body(gw_req *r, const void *in, size_t len)
{
    if (r == NULL || r->dispatched || r->body_complete)
        return 0;
    if (r->body_len + len > gw_body_limit(r))
        return -1; /* more than its Content-Length: cannot happen */
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = (r->body_len + len + 1) * 2;
        char *b;
        if (cap > gw_body_limit(r) + 1)
            cap = gw_body_limit(r) + 1;
        if ((b = realloc(r->body, cap)) == NULL)
            return -1;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return 0;
}

/* LWS_CALLBACK_HTTP_BODY_COMPLETION */
static int on_body_done(struct lws *wsi, gw_req *r)
{
    bool mine;
    if (r != NULL && r->draining)
        return -1; /* the refused body is over: close now */
    if (r == NULL || r->dispatched)
        return 0;
    r->body_complete = true;
    pthread_mutex_lock(&G.lock);
    mine = r->wait == GW_WAIT_NONE;
    pthread_mutex_unlock(&G.lock);
    if (mine) /* else its key is still being checked: it starts when that comes back */
        complete(wsi, r);
    return 0;
}

/* LWS_CALLBACK_HTTP_WRITEABLE: writes the answer when there is one and it is ours. */
static int on_writable(struct lws *wsi, struct pss *pss)
{
    gw_req *r = pss->req;
    bool mine;
    int rc;
    if (r == NULL || r->draining)
        return 0;
    pthread_mutex_lock(&G.lock);
    mine = r->wait == GW_WAIT_NONE && r->answered;
    pthread_mutex_unlock(&G.lock);
    if (!mine)
        return 0;
    rc = write_response(wsi, r);
    if (rc <= 0)
        return rc;
    gw_access_log(r, r->status);
    if (r->close_after || (r->expect_body && !r->body_complete)) {
        linger(wsi, r);
        return 0;
    }
    pss->req = NULL;
    gw_req_free(r);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* LWS_CALLBACK_EVENT_WAIT_CANCELLED: requests handed back by the NATS thread. */
static void on_ready(void)
{
    gw_req *r = gw_ready_pop_all();
    while (r) {
        gw_req *next = r->next;
        r->next = NULL;
        if (r->closed) {
            gw_req_free(r);
            r = next;
            continue;
        }
        /* back from the auth service: lws writes nothing to a paused connection */
        if (r->rx_paused) {
            r->rx_paused = false;
            lws_rx_flow_control(r->wsi, 1);
        }
        if (r->answered && r->expect_body && !r->dispatched) {
            /* refused before its body was read (401, 403, 503): close after */
            refuse(r->wsi, r, 0, NULL);
        } else if (!r->answered && r->expect_body && !r->dispatched) {
            /* its key is verified: the body is read now; start if it all came */
            if (r->body_complete)
                complete(r->wsi, r);
            else
                body_welcome(r->wsi, r);
        } else {
            lws_callback_on_writable(r->wsi);
        }
        r = next;
    }
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct pss *pss = user;

    /* websockets: upgrades on /api/v1/ws only; a client that offered no subprotocol stays
     * on this protocol, so its callbacks go to ws.c from here */
    if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE)
        return gw_ws_confirm_upgrade(wsi, (const char *)in);
    if (gw_ws_reason(reason))
        return gw_ws_callback(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_HTTP: return on_http(wsi, pss, (const char *)in);
    case LWS_CALLBACK_RAW_ADOPT:
        /* lws turns a CONNECT request into a raw socket of this protocol, with no timeout
         * at all: answer 400 and close instead */
        gw_access_log_refused(400, gw_send_error_raw(lws_get_socket_fd(wsi), "400 Bad Request",
                                                     "The CONNECT method is not supported."));
        return -1;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* no WebSocket and no h2c here: a JSON 400, then lws closes */
        lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, NULL);
        return -1;
    case LWS_CALLBACK_HTTP_BODY: return on_body(pss->req, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return on_body_done(wsi, pss->req);
    case LWS_CALLBACK_HTTP_WRITEABLE: return on_writable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->req) {
            gw_access_log(pss->req, pss->req->headers_sent ? pss->req->status : 499);
            req_release(pss->req);
            pss->req = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: on_ready(); return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    { "http", callback_http,
      sizeof(struct pss) > GW_WS_PSS_SIZE ? sizeof(struct pss) : GW_WS_PSS_SIZE, 0, 0, NULL, 0 },
    { "gw-listen", gw_listen_callback, 0, 0, 0, NULL, 0 },
    { GW_WS_PROTOCOL, gw_ws_callback, GW_WS_PSS_SIZE, 16384, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* The service loop is libuv's (epoll), owned here and handed to lws as a foreign loop:
 * lws's own poll() loop costs O(open sockets) on every wakeup, and the WebSocket API holds
 * thousands of idle ones. */
static uv_loop_t loop;
static uv_async_t stop_async;
static bool loop_ready;

static void on_stop(uv_async_t *a)
{
    uv_stop(a->loop);
}

int gw_http_start(void)
{
    struct lws_context_creation_info info;
    lws_sock_file_fd_type u;
    struct lws_vhost *vh;
    void *foreign[1] = { &loop };

    lws_set_log_level(LLL_ERR | LLL_WARN, gw_lws_log_emit);
    G.listen_fd = G.reserve_fd = -1;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* we listen ourselves: see listen.c */
    info.protocols = protocols;
    if (uv_loop_init(&loop) != 0 || uv_async_init(&loop, &stop_async, on_stop) != 0) {
        sq_error("could not set up the event loop");
        return -1;
    }
    loop_ready = true;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = foreign;
    info.keepalive_timeout = 60;
    info.timeout_secs = 30;
    /* the request line and headers must be complete this long after they start */
    info.timeout_secs_ah_idle = (unsigned)G.cfg.header_timeout_s;
    info.max_http_header_data = 4096;
    info.pt_serv_buf_size = 64 * 1024;
    G.ctx = lws_create_context(&info);
    if (G.ctx == NULL) {
        sq_error("could not create the lws context");
        return -1;
    }
    vh = lws_get_vhost_by_name(G.ctx, "default");
    if (vh == NULL || (G.listen_fd = gw_listen_open()) < 0)
        return -1;
    u.filefd = (lws_filefd_type)(intptr_t)G.listen_fd;
    G.listen_wsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, "gw-listen", NULL);
    if (G.listen_wsi == NULL) {
        sq_error("could not poll the listening socket");
        return -1;
    }
    G.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    lws_sul_schedule(G.ctx, 0, &G.sweep, sweep_cb, SWEEP_US);
    sq_info("listening on http://%s:%d", G.cfg.host, G.cfg.port);
    return 0;
}

void gw_http_run(void)
{
    if (!G.stopping)
        uv_run(&loop, UV_RUN_DEFAULT);
}

void gw_http_stop(void)
{
    G.stopping = true;
    if (loop_ready)
        uv_async_send(&stop_async);
}

/* After the service thread ended: destroys the context, then lets the loop close what lws
 * and we left open. */
void gw_http_destroy(void)
{
    if (G.ctx) {
        lws_context_destroy(G.ctx);
        G.ctx = NULL;
    }
    if (!loop_ready)
        return;
    uv_close((uv_handle_t *)&stop_async, NULL);
    for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++)
        ;
    uv_loop_close(&loop);
    loop_ready = false;
}
