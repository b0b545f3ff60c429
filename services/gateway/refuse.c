/* The answers and log lines that do not go through a request: lws's own refusals (a JSON
 * error instead of its HTML page), a JSON error written straight to a socket lws does not
 * serve as HTTP (a CONNECT request, a connection refused for want of descriptors), and
 * lws's own log lines, rate-limited. Service thread, except the log callback (any thread). */
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

/* ---- lws's own log lines: at most LOG_BURST per LOG_WINDOW_US -------------------------- */

#define LOG_WINDOW_US (10 * 1000 * 1000)
#define LOG_BURST 20

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t log_window;
static int log_lines, log_dropped;

void gw_lws_log_emit(int level, const char *line)
{
    char buf[512];
    size_t n;
    int dropped = 0;
    int64_t now = sq_mono_us();

    pthread_mutex_lock(&log_lock);
    if (now - log_window > LOG_WINDOW_US) {
        dropped = log_dropped;
        log_window = now;
        log_lines = log_dropped = 0;
    }
    if (++log_lines > LOG_BURST) {
        log_dropped++;
        pthread_mutex_unlock(&log_lock);
        return;
    }
    pthread_mutex_unlock(&log_lock);
    if (dropped > 0)
        sq_warn("libwebsockets: %d log lines suppressed", dropped);
    snprintf(buf, sizeof buf, "%s", line);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (level & LLL_ERR)
        sq_error("libwebsockets: %s", buf);
    else
        sq_warn("libwebsockets: %s", buf);
}

/* ---- refusals made by lws itself --------------------------------------------------------- */

/* lws answers some requests on its own before the gateway sees them (a path that is not
 * absolute or climbs above the root with "..", an unknown Upgrade) with an HTML page. This
 * definition replaces lws's (libwebsockets.so calls it through its PLT; the executable
 * exports it) and answers {"error", "code"} in JSON instead, then lws closes. */
int lws_return_http_status(struct lws *wsi, unsigned int code, const char *html_body)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof buf - 1;
    char body[256];
    const char *msg;
    uint64_t id;
    int n;

    (void)html_body;
    switch (code) {
    case HTTP_STATUS_FORBIDDEN:
    case HTTP_STATUS_BAD_REQUEST:
        msg = "The request is malformed.";
        code = 400;
        break;
    case HTTP_STATUS_NOT_FOUND: msg = "The requested resource does not exist."; break;
    case HTTP_STATUS_METHOD_NOT_ALLOWED: msg = "Method not allowed."; break;
    case HTTP_STATUS_REQ_ENTITY_TOO_LARGE:
        msg = "The request content was malformed or too large.";
        break;
    default:
        msg = code >= 500 ? "The server could not answer the request." : "The request was refused.";
        break;
    }
    pthread_mutex_lock(&G.lock);
    id = ++G.next_id;
    pthread_mutex_unlock(&G.lock);
    n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"code\":\"%016llx\"}", msg,
                 (unsigned long long)id);
    gw_access_log_refused((int)code, id);
    if (lws_add_http_common_headers(wsi, code, "application/json", (lws_filepos_t)n, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                    (const unsigned char *)"close", 5, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || end - p < n)
        return 1;
    memcpy(p, body, (size_t)n);
    p += n;
    return lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP) != (int)(p - start);
}

uint64_t gw_send_error_raw(int fd, const char *status, const char *msg)
{
    char body[256], buf[512];
    uint64_t id;
    int n, m;
    ssize_t w;

    pthread_mutex_lock(&G.lock);
    id = ++G.next_id;
    pthread_mutex_unlock(&G.lock);
    n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"code\":\"%016llx\"}", msg,
                 (unsigned long long)id);
    m = snprintf(buf, sizeof buf,
                 "HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                 "connection: close\r\n\r\n%s",
                 status, n, body);
    w = send(fd, buf, (size_t)m, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    return id;
}
