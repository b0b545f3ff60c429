/* The lws side of the gateway, all on the one service thread: parse the request line,
 * arguments, Authorization header and body; hand complete requests to gw_dispatch();
 * write responses queued by the NATS thread when lws says the socket is writable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    gw_pending_sweep(sq_mono_us());
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

static gw_req *req_new(struct lws *wsi, const char *path)
{
    gw_req *r = calloc(1, sizeof *r);
    char frag[2048];

    if (r == NULL)
        return NULL;
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
    if (gw_web_path(r->path))
        gw_web_capture(wsi, r); /* headers are readable only now */
    pthread_mutex_lock(&G.lock);
    r->id = ++G.next_id;
    pthread_mutex_unlock(&G.lock);
    return r;
}

/* Frees r now when the lws thread owns it, or marks it so whoever holds it frees it. */
static void req_release(gw_req *r)
{
    bool owned;
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
    const char *ctype = r->resp_ctype_own ? r->resp_ctype_own : r->resp_ctype ? r->resp_ctype : "application/json";
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
                      r->resp_off == r->resp_len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)chunk) {
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

static void complete(struct lws *wsi, gw_req *r)
{
    if (r->dispatched)
        return;
    r->dispatched = true;
    /* the answer may take up to a minute (blocking invoke): no lws timeout meanwhile */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    /* a chunked body is refused before it is read: the rest of it is still on the wire, so
     * the connection cannot carry another request */
    r->close_after = r->length_required;
    if (r->length_required) {
        gw_respond_error(r, 411, "A request body must be sent with a Content-Length header.");
        lws_callback_on_writable(wsi);
        return;
    }
    if (r->body_too_large) {
        gw_respond_error(r, 413, "The request content was malformed or too large (limit %zu KB).",
                         gw_body_limit(r) / 1024);
        lws_callback_on_writable(wsi);
        return;
    }
    if (gw_console_path(r->path)) { /* the console's static files */
        gw_console_serve(r);
        lws_callback_on_writable(wsi);
        return;
    }
    if (gw_dispatch(r)) /* answered without the bus */
        lws_callback_on_writable(wsi);
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct pss *pss = user;

    /* websockets: upgrades on /api/v1/ws only; a client that offered no subprotocol stays
     * on this protocol, so its callbacks go to ws.c from here */
    if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE)
        return gw_ws_confirm_upgrade(wsi, (const char *)in);
    if (gw_ws_reason(reason))
        return gw_ws_callback(wsi, reason, user, in, len);

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        char cl[32];
        gw_req *r = req_new(wsi, (const char *)in);
        if (r == NULL)
            return -1;
        pss->req = r;
        if (r->method != GW_GET && r->method != GW_HEAD) {
            /* a body may come with any other method (web actions take PATCH and DELETE) */
            long long n = -1;
            if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
                n = atoll(cl);
            if (n > (long long)gw_body_limit(r)) {
                /* read and drop the body (lws knows its length), then answer 413 on a
                 * connection that stays usable */
                r->body_too_large = true;
                return 0;
            }
            if (n < 0 && (r->method == GW_POST || r->method == GW_PUT || r->method == GW_PATCH) &&
                lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
                /* lws 4.1 does not hand chunked request bodies to the server: say so */
                r->length_required = true;
                complete(wsi, r);
                return 0;
            }
            if (n > 0)
                return 0; /* the body follows */
        }
        complete(wsi, r);
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY: {
        gw_req *r = pss->req;
        if (r == NULL || r->dispatched)
            return 0;
        if (r->body_too_large || r->body_len + len > gw_body_limit(r)) {
            r->body_too_large = true;
            return 0;
        }
        if (r->body_len + len + 1 > r->body_cap) {
            size_t cap = (r->body_len + len + 1) * 2;
            char *b = realloc(r->body, cap);
            if (b == NULL)
                return -1;
            r->body = b;
            r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, in, len);
        r->body_len += len;
        r->body[r->body_len] = '\0';
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (pss->req)
            complete(wsi, pss->req);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        gw_req *r = pss->req;
        bool mine;
        int rc;
        if (r == NULL)
            return 0;
        pthread_mutex_lock(&G.lock);
        mine = r->wait == GW_WAIT_NONE && r->answered;
        pthread_mutex_unlock(&G.lock);
        if (!mine)
            return 0;
        rc = write_response(wsi, r);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        pss->req = NULL;
        if (r->close_after) {
            gw_req_free(r);
            return -1;
        }
        gw_req_free(r);
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->req) {
            req_release(pss->req);
            pss->req = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        gw_req *r = gw_ready_pop_all();
        while (r) {
            gw_req *next = r->next;
            r->next = NULL;
            if (r->closed)
                gw_req_free(r);
            else
                lws_callback_on_writable(r->wsi);
            r = next;
        }
        return 0;
    }
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    { "http", callback_http, sizeof(struct pss) > GW_WS_PSS_SIZE ? sizeof(struct pss) : GW_WS_PSS_SIZE, 0, 0, NULL, 0 },
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
    void *foreign[1] = { &loop };

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    memset(&info, 0, sizeof info);
    info.port = G.cfg.port;
    info.iface = G.cfg.host;
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
    info.max_http_header_data = 4096;
    info.pt_serv_buf_size = 64 * 1024;
    G.ctx = lws_create_context(&info);
    if (G.ctx == NULL) {
        sq_error("could not listen on %s:%d", G.cfg.host, G.cfg.port);
        return -1;
    }
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
