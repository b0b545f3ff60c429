/* NATS helpers; see bus.h. One natsConnection per sq_bus_t; nats.c does the reconnects. */
#include "sq/bus.h"
#include "sq/config.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SUBS 32

struct sq_bus {
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *subs[MAX_SUBS];
    struct route_ctx {
        sq_bus_t *bus;
        sq_bus_route r;
    } ctx[MAX_SUBS];
    int nsubs;
    char svc[64];
    char inbox[96];
    pthread_mutex_t lock;
};

/* Called on nats.c's callback thread, possibly after sq_bus_destroy() freed the bus, so it
 * looks only at the connection (which nats.c keeps alive for its callbacks). */
static void on_disconnected(natsConnection *nc, void *closure)
{
    if (!natsConnection_IsClosed(nc))
        sq_warn("disconnected from NATS, reconnecting");
}

/* With retry-on-failed-connect, a connected callback makes natsConnection_Connect return
 * NATS_NOT_YET_CONNECTED instead of blocking until a server appears (forever, with
 * unlimited reconnects): sq_bus_connect then waits a bounded time itself. */
static void on_connected(natsConnection *nc, void *closure)
{
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    char url[256] = "", shown[256];
    natsConnection_GetConnectedUrl(nc, url, sizeof url); /* with the password in it */
    sq_nats_url_redact(url, shown, sizeof shown);
    sq_info("reconnected to NATS at \"%s\"", shown);
}

void sq_nats_url_redact(const char *url, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return;
    while (url != NULL && *url != '\0' && o + 1 < outlen) {
        /* one URL: [scheme://][user[:pass]@]host..., up to the next comma */
        size_t len = strcspn(url, ","), start = 0;
        const char *scheme = strstr(url, "://");
        const char *at, *colon;
        if (scheme != NULL && (size_t)(scheme - url) < len)
            start = (size_t)(scheme - url) + 3;
        at = NULL; /* the last '@': a password may hold one */
        for (size_t i = start; i < len; i++)
            if (url[i] == '@')
                at = url + i;
        colon = at ? memchr(url + start, ':', (size_t)(at - url) - start) : NULL;
        for (size_t i = 0; i < len && o + 1 < outlen; i++) {
            if (colon != NULL && url + i == colon + 1) {
                for (const char *m = "***"; *m && o + 1 < outlen; m++)
                    out[o++] = *m;
                i = (size_t)(at - url); /* the '@' */
                colon = NULL;
                if (o + 1 >= outlen)
                    break;
            }
            out[o++] = url[i];
        }
        url += len;
        if (*url == ',' && o + 1 < outlen)
            out[o++] = *url++;
    }
    out[o] = '\0';
}

void sq_nats_inbox_prefix(const char *url, const char *user, char *out, size_t outlen)
{
    char name[64];
    size_t n = 0;

    if (user == NULL || *user == '\0') {
        /* nats://user[:pass]@host of the first URL */
        const char *scheme = url ? strstr(url, "://") : NULL;
        const char *u = scheme ? scheme + 3 : url;
        size_t len = u ? strcspn(u, ",/") : 0;
        const char *at = u ? memchr(u, '@', len) : NULL;
        if (at != NULL) {
            n = strcspn(u, ":@");
            user = u;
        }
    } else
        n = strlen(user);
    if (n >= sizeof name)
        n = sizeof name - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)user[i];
        name[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          c == '-' || c == '_'
                      ? (char)c
                      : '_';
    }
    name[n] = '\0';
    snprintf(out, outlen, n > 0 ? "_INBOX_%s" : "_INBOX", name);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    sq_error("NATS asynchronous error: %s", natsStatus_GetText(err));
}

#define MAX_SERVERS 16

natsStatus sq_nats_set_servers(natsOptions *opts, const char *url)
{
    char *copy = strdup(url ? url : ""), *save = NULL;
    const char *servers[MAX_SERVERS];
    int n = 0;
    natsStatus s;

    if (copy == NULL)
        return NATS_NO_MEMORY;
    for (char *t = strtok_r(copy, ",", &save); t != NULL && n < MAX_SERVERS;
         t = strtok_r(NULL, ",", &save)) {
        char *e;
        while (*t == ' ' || *t == '\t')
            t++;
        e = t + strlen(t);
        while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*t != '\0')
            servers[n++] = t;
    }
    s = n > 0 ? natsOptions_SetServers(opts, servers, n) : NATS_INVALID_ARG;
    free(copy);
    return s;
}

natsStatus sq_nats_tool_connect(natsConnection **nc, const char *url, const char *name,
                                int64_t timeout_ms)
{
    natsOptions *opts = NULL;
    char prefix[96];
    natsStatus s;

    sq_nats_inbox_prefix(url, NULL, prefix, sizeof prefix);
    s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = sq_nats_set_servers(opts, url);
    if (s == NATS_OK)
        s = natsOptions_SetCustomInboxPrefix(opts, prefix);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, timeout_ms);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(opts, false);
    if (s == NATS_OK)
        s = natsOptions_SetName(opts, name);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, opts);
    natsOptions_Destroy(opts);
    return s;
}

int sq_tool_options(int argc, char **argv, const char *prog, void (*usage)(FILE *),
                    const char **url, long *timeout_ms, long max_ms)
{
    int first = 1;

    while (first < argc && argv[first][0] == '-') {
        const char *a = argv[first];
        const char *v = first + 1 < argc ? argv[first + 1] : NULL;
        int used = 2;
        char *end = NULL;

        if (strcmp(a, "--") == 0)
            return first + 1;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return -1;
        }
        if (strncmp(a, "--url=", 6) == 0 || strncmp(a, "--timeout-ms=", 13) == 0) {
            v = strchr(a, '=') + 1;
            used = 1;
        }
        if (strncmp(a, "--url", 5) == 0 && (a[5] == '\0' || a[5] == '=') && v != NULL) {
            *url = v;
        } else if (strncmp(a, "--timeout-ms", 12) == 0 && (a[12] == '\0' || a[12] == '=') &&
                   v != NULL) {
            errno = 0;
            *timeout_ms = strtol(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || *timeout_ms <= 0 ||
                *timeout_ms > max_ms) {
                fprintf(stderr, "%s: bad --timeout-ms '%s'\n", prog, v);
                return -2;
            }
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
            usage(stderr);
            return -2;
        }
        first += used;
    }
    return first;
}

/* The credentials and TLS of sq_common (config.h) on opts; *how says which were used (for
 * the log: names only, never a value). o->user/o->pass override SQ_NATS_USER/SQ_NATS_PASS. */
static natsStatus set_auth(natsOptions *opts, const sq_bus_opts *o, char *how, size_t howlen)
{
    const sq_common_cfg *c = &sq_common;
    const char *user = o->user && *o->user ? o->user : c->nats_user;
    const char *pass = o->user && *o->user ? o->pass : c->nats_pass;
    natsStatus s = NATS_OK;

    how[0] = '\0';
    if (user && *user) {
        s = natsOptions_SetUserInfo(opts, user, pass ? pass : "");
        snprintf(how + strlen(how), howlen - strlen(how), " as user \"%s\"", user);
    }
    if (s == NATS_OK && c->nats_token && *c->nats_token) {
        s = natsOptions_SetToken(opts, c->nats_token);
        snprintf(how + strlen(how), howlen - strlen(how), " with a token");
    }
    if (s == NATS_OK && c->nats_nkey && *c->nats_nkey) {
        char pub[SQ_NKEY_PUB_LEN + 1];
        sq_status st = sq_nkey_file_public(c->nats_nkey, pub);
        if (st != SQ_OK) {
            sq_error("could not read a user nkey seed from \"%s\": %s", c->nats_nkey,
                     sq_status_str(st));
            return NATS_INVALID_ARG;
        }
        s = natsOptions_SetNKeyFromSeed(opts, pub, c->nats_nkey);
        snprintf(how + strlen(how), howlen - strlen(how), " with nkey %s", pub);
    }
    if (s == NATS_OK && c->nats_creds && *c->nats_creds) {
        s = natsOptions_SetUserCredentialsFromFiles(opts, c->nats_creds, NULL);
        snprintf(how + strlen(how), howlen - strlen(how), " with credentials \"%s\"",
                 c->nats_creds);
    }
    if (s == NATS_OK && c->nats_tls_ca && *c->nats_tls_ca) {
        s = natsOptions_SetSecure(opts, true);
        if (s == NATS_OK)
            s = natsOptions_LoadCATrustedCertificates(opts, c->nats_tls_ca);
        snprintf(how + strlen(how), howlen - strlen(how), " over TLS (CA \"%s\")", c->nats_tls_ca);
    }
    if (s == NATS_OK && c->nats_tls_cert && *c->nats_tls_cert) {
        s = natsOptions_SetSecure(opts, true);
        if (s == NATS_OK)
            s = natsOptions_LoadCertificatesChain(opts, c->nats_tls_cert,
                                                  c->nats_tls_key ? c->nats_tls_key : "");
        snprintf(how + strlen(how), howlen - strlen(how), " with client certificate \"%s\"",
                 c->nats_tls_cert);
    }
    return s;
}

sq_status sq_bus_connect(sq_bus_t **out, const sq_bus_opts *o)
{
    char how[1024] = "";
    natsOptions *opts = NULL;
    natsStatus s;
    sq_bus_t *b = calloc(1, sizeof *b);

    *out = NULL;
    if (b == NULL)
        return SQ_ERR_NOMEM;
    pthread_mutex_init(&b->lock, NULL);
    if (!sq_common.loaded && sq_config_load(NULL, 0) != SQ_OK) /* a tool: the environment */
        goto fail_early;
    /* No spinning on the library's locks (its default, 2000 tries before sleeping): on two
     * cores shared by a whole stack the lock's holder needs the core the spinner burns. A
     * no-op when the library is already open (a second connection). */
    nats_Open(0);
    s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = sq_nats_set_servers(opts, o->url);
    if (s == NATS_OK && o->name)
        s = natsOptions_SetName(opts, o->name);
    if (s == NATS_OK)
        s = set_auth(opts, o, how, sizeof how);
    sq_nats_inbox_prefix(o->url, o->user && *o->user ? o->user : sq_common.nats_user, b->inbox,
                         sizeof b->inbox);
    if (s == NATS_OK)
        s = natsOptions_SetCustomInboxPrefix(opts, b->inbox);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(opts, 250);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(opts, o->send_asap);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(opts, on_disconnected, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(opts, on_reconnected, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(opts, on_async_error, NULL);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(opts, 64 * 1024 * 1024);
    if (s != NATS_OK) {
        const char *why = nats_GetLastError(NULL); /* which file, which setting */
        sq_error("could not set NATS options: %s", why && *why ? why : natsStatus_GetText(s));
        goto fail;
    }
    /* With retry-on-failed-connect, Connect returns NATS_NOT_YET_CONNECTED when the server
     * is not up yet; wait for it a little so start-up order does not matter. */
    s = natsConnection_Connect(&b->nc, opts);
    if (s == NATS_NOT_YET_CONNECTED) {
        for (int i = 0; i < 100 && !natsConnection_IsClosed(b->nc) &&
                        natsConnection_Status(b->nc) != NATS_CONN_STATUS_CONNECTED;
             i++)
            usleep(100 * 1000);
        s = natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED ? NATS_OK : NATS_NO_SERVER;
    }
    if (s != NATS_OK) {
        char shown[512];
        sq_nats_url_redact(o->url, shown, sizeof shown);
        sq_error("could not connect to NATS at \"%s\"%s: %s", shown, how, natsStatus_GetText(s));
        goto fail;
    }
    if (o->jetstream && (s = natsConnection_JetStream(&b->js, b->nc, NULL)) != NATS_OK) {
        sq_error("could not open a JetStream context: %s", natsStatus_GetText(s));
        goto fail;
    }
    natsOptions_Destroy(opts);
    {
        char shown[512];
        sq_nats_url_redact(o->url, shown, sizeof shown); /* nats://user:secret@host */
        sq_info("connected to NATS at \"%s\"%s (inbox %s.>)%s", shown, how, b->inbox,
                o->send_asap ? " (send asap)" : "");
    }
    *out = b;
    return SQ_OK;
fail:
    natsOptions_Destroy(opts);
fail_early:
    sq_bus_destroy(b);
    return SQ_ERR_UNAVAILABLE;
}

natsConnection *sq_bus_nc(sq_bus_t *b)
{
    return b->nc;
}
jsCtx *sq_bus_js(sq_bus_t *b)
{
    return b->js;
}
const char *sq_bus_inbox_prefix(sq_bus_t *b)
{
    return b->inbox;
}

static void dispatch(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    struct route_ctx *c = closure;
    c->r.fn(c->bus, msg, c->r.closure);
    natsMsg_Destroy(msg);
}

sq_status sq_bus_serve(sq_bus_t *b, const sq_bus_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        natsStatus s;
        struct route_ctx *c;
        pthread_mutex_lock(&b->lock);
        if (b->nsubs == MAX_SUBS) {
            pthread_mutex_unlock(&b->lock);
            sq_error("too many subscriptions");
            return SQ_ERR_INTERNAL;
        }
        c = &b->ctx[b->nsubs];
        c->bus = b;
        c->r = routes[i];
        if (routes[i].queue)
            s = natsConnection_QueueSubscribe(&b->subs[b->nsubs], b->nc, routes[i].subject,
                                              routes[i].queue, dispatch, c);
        else
            s = natsConnection_Subscribe(&b->subs[b->nsubs], b->nc, routes[i].subject, dispatch, c);
        if (s == NATS_OK) {
            /* a burst of requests must not be dropped as a slow consumer */
            natsSubscription_SetPendingLimits(b->subs[b->nsubs], -1, -1);
            b->nsubs++;
        }
        pthread_mutex_unlock(&b->lock);
        if (s != NATS_OK) {
            sq_error("could not subscribe to \"%s\": %s", routes[i].subject, natsStatus_GetText(s));
            return SQ_ERR_UNAVAILABLE;
        }
    }
    return natsConnection_Flush(b->nc) == NATS_OK ? SQ_OK : SQ_ERR_UNAVAILABLE;
}

static void on_health(sq_bus_t *b, natsMsg *msg, void *closure)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    sq_mp_kv_bool(&pk, "ok", true);
    sq_mp_kv_str(&pk, "service", b->svc);
    sq_mp_kv_int(&pk, "pid", getpid());
    sq_bus_respond(b, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

sq_status sq_bus_serve_health(sq_bus_t *b, const char *svc)
{
    char subj[96];
    snprintf(b->svc, sizeof b->svc, "%s", svc);
    snprintf(subj, sizeof subj, "sq.%s.health", svc);
    sq_bus_route r = { .subject = subj, .queue = NULL, .fn = on_health };
    return sq_bus_serve(b, &r, 1);
}

sq_status sq_bus_request(sq_bus_t *b, const char *subject, const void *data, size_t len,
                         int timeout_ms, natsMsg **reply)
{
    natsStatus s = natsConnection_Request(reply, b->nc, subject, data, (int)len, timeout_ms);
    if (s == NATS_OK)
        return SQ_OK;
    *reply = NULL;
    if (s == NATS_TIMEOUT)
        return SQ_ERR_TIMEOUT;
    return SQ_ERR_UNAVAILABLE; /* NATS_NO_RESPONDERS, connection closed... */
}

const char *sq_bus_reply_of(natsMsg *req)
{
    const char *reply = natsMsg_GetReply(req);
    if (reply != NULL && *reply != '\0')
        return reply;
    if (natsMsgHeader_Get(req, SQ_HDR_REPLY, &reply) == NATS_OK && reply != NULL &&
        strncmp(reply, "_INBOX_", 7) == 0)
        return reply;
    return NULL;
}

natsStatus sq_bus_publish_hdr_reply(natsConnection *nc, const char *subject, const char *reply,
                                    const void *data, size_t len)
{
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subject, NULL, data, (int)len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, SQ_HDR_REPLY, reply);
    if (s == NATS_OK)
        s = natsConnection_PublishMsg(nc, m);
    natsMsg_Destroy(m);
    return s;
}

sq_status sq_bus_respond(sq_bus_t *b, natsMsg *req, const void *data, size_t len)
{
    const char *reply = sq_bus_reply_of(req);
    if (reply == NULL || *reply == '\0')
        return SQ_OK;
    return natsConnection_Publish(b->nc, reply, data, (int)len) == NATS_OK ? SQ_OK
                                                                           : SQ_ERR_UNAVAILABLE;
}

sq_status sq_bus_publish(sq_bus_t *b, const char *subject, const void *data, size_t len)
{
    return natsConnection_Publish(b->nc, subject, data, (int)len) == NATS_OK ? SQ_OK
                                                                             : SQ_ERR_UNAVAILABLE;
}

void sq_wire_error_pack(msgpack_packer *pk, sq_status st, const char *message)
{
    msgpack_pack_map(pk, 1);
    sq_mp_pack_str(pk, "error");
    msgpack_pack_map(pk, 2);
    sq_mp_kv_int(pk, "code", sq_status_http(st));
    sq_mp_kv_str(pk, "message", message ? message : sq_status_str(st));
}

bool sq_wire_error_get(const msgpack_object *o, int *code, const char **message, size_t *mlen)
{
    const msgpack_object *e = sq_mp_get(o, "error"), *c, *m;
    if (e == NULL || e->type != MSGPACK_OBJECT_MAP)
        return false;
    c = sq_mp_get(e, "code");
    m = sq_mp_get(e, "message");
    *code = (c && c->type == MSGPACK_OBJECT_POSITIVE_INTEGER && c->via.u64 < 1000) ? (int)c->via.u64
                                                                                   : 500;
    if (m && m->type == MSGPACK_OBJECT_STR) {
        *message = m->via.str.ptr;
        *mlen = m->via.str.size;
    } else {
        *message = "error";
        *mlen = 5;
    }
    return true;
}

sq_status sq_bus_respond_error(sq_bus_t *b, natsMsg *req, sq_status st, const char *fmt, ...)
{
    char msg[1024];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sq_status rc;

    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sq_wire_error_pack(&pk, st, fmt ? msg : NULL);
    rc = sq_bus_respond(b, req, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

void sq_bus_drain_subs(natsSubscription *const *subs, int n, int timeout_ms)
{
    bool started[n > 0 ? n : 1];
    int64_t deadline = sq_now_ms() + timeout_ms;

    /* All at once, each with the drain's own timeout: nats.c's default is 30 s, and a
     * server that stopped answering (frozen, partitioned) never completes one, so waiting
     * for them one after the other kept a service from stopping for minutes. */
    for (int i = 0; i < n; i++)
        started[i] =
            subs[i] != NULL && natsSubscription_DrainTimeout(subs[i], timeout_ms) == NATS_OK;
    for (int i = 0; i < n; i++) {
        int64_t left = deadline - sq_now_ms();
        if (started[i])
            natsSubscription_WaitForDrainCompletion(subs[i], left > 0 ? left : 1);
    }
}

void sq_bus_destroy(sq_bus_t *b)
{
    if (b == NULL)
        return;
    sq_bus_drain_subs(b->subs, b->nsubs, 5000);
    for (int i = 0; i < b->nsubs; i++)
        natsSubscription_Destroy(b->subs[i]);
    jsCtx_Destroy(b->js);
    if (b->nc) {
        natsConnection_FlushTimeout(b->nc, 1000);
        natsConnection_Close(b->nc);
        natsConnection_Destroy(b->nc);
    }
    pthread_mutex_destroy(&b->lock);
    free(b);
}
