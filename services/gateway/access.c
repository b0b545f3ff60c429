/* The gateway's access log: one line per HTTP request, written through sq_log (so it follows
 * SQ_LOG_FORMAT) when the answer is written or the connection goes away before it. The line
 * holds the method, the path (never the query: arguments may carry anything), the status,
 * the body bytes sent, the time since the request line came (microseconds) and the request
 * id that an error answer carries as "code". Never a header: no key can reach it. On the hot
 * path: one formatted write on the stack, nothing allocated. */
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "sq/log.h"
#include "sq/util.h"

/* Copies path into out (cap bytes) with every byte that could break the line or its parsing
 * (controls, space, quote, backslash, '%', non-ASCII) written as %XX, as it came on the wire;
 * a path too long ends in "...". */
static void escape_path(const char *path, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        bool plain = *p > 0x20 && *p < 0x7f && *p != '"' && *p != '\\' && *p != '%';
        if (o + (plain ? 1 : 3) + 4 > cap) {
            memcpy(out + o, "...", 4);
            return;
        }
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

/* Reads only what the lws thread alone writes (the request line, headers_sent, and
 * resp_off once the headers are sent), so it may run while the NATS thread holds r (the
 * connection closed during the operation). */
void gw_access_log(gw_req *r, int status)
{
    char path[1200];
    gw_method m;

    if (r->logged || !G.cfg.access_log)
        return;
    r->logged = true;
    m = r->head_only ? GW_HEAD : r->method > GW_OTHER ? GW_OTHER : r->method;
    escape_path(r->path, path, sizeof path);
    sq_info("access method=%s path=\"%s\" status=%d bytes=%zu us=%lld id=%016llx",
            gw_method_name(m, false), path, status,
            r->headers_sent && !r->head_only ? r->resp_off : (size_t)0,
            (long long)(sq_mono_us() - r->start_us), (unsigned long long)r->rid);
}

void gw_access_log_refused(int status, uint64_t id)
{
    if (G.cfg.access_log)
        sq_info("access method=- path=\"-\" status=%d bytes=0 us=0 id=%016llx", status,
                (unsigned long long)id);
}
