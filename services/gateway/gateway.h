/* squall-gateway: the HTTP edge. libwebsockets serves REST API v1 on one service thread;
 * every request becomes one or two asynchronous NATS requests (auth verify, then the
 * operation) whose replies arrive on one wildcard inbox subscription (a nats.c thread),
 * are turned into an HTTP response there, and are handed back to the service thread with
 * lws_cancel_service(). No request ever blocks a thread while it waits. */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include "proto/proto.h"
#include "sq/bus.h"

typedef enum {
    GW_GET,
    GW_POST,
    GW_PUT,
    GW_DELETE,
    GW_PATCH,
    GW_HEAD,
    GW_OPTIONS,
    GW_OTHER
} gw_method;

/* A method's name: upper case as on the wire ("OTHER" for the rest), or lower case as
 * OpenWhisk's web actions (__ow_method) and API routes say it ("" for the rest). */
static inline const char *gw_method_name(gw_method m, bool lower)
{
    static const char *const up[] = { "GET",   "POST", "PUT",     "DELETE",
                                      "PATCH", "HEAD", "OPTIONS", "OTHER" };
    static const char *const low[] = { "get",   "post", "put",     "delete",
                                       "patch", "head", "options", "" };
    return ((unsigned)m > GW_OTHER ? (lower ? "" : "OTHER") : lower ? low[m] : up[m]);
}

/* What the request waits for on the bus. */
typedef enum {
    GW_WAIT_NONE = 0, /* owned by the lws thread */
    GW_WAIT_AUTH,     /* sq.auth.verify in flight */
    GW_WAIT_OP,       /* the operation in flight */
    GW_WAIT_READY,    /* response built, queued for the lws thread */
    GW_WAIT_BUSY,     /* taken by the NATS thread (or the sweeper) to act on a reply */
} gw_wait;

/* The operation a route resolved to: decides how its reply becomes HTTP. Entity ops work
 * on the kind in gw_req.kind (action, package, trigger, rule). */
typedef enum {
    OP_NONE,
    OP_NAMESPACES,
    OP_LIMITS,
    OP_ENTITY_LIST,
    OP_ENTITY_GET,
    OP_ENTITY_PUT,
    OP_ENTITY_DELETE,
    OP_RULE_STATE,
    OP_INVOKE,
    OP_FIRE,
    OP_ACT_LIST,
    OP_ACT_GET,
    OP_ACT_LOGS,
    OP_ACT_RESULT,
    OP_PREFLIGHT,
    OP_WEB,
} gw_op;

/* Which of a request's legs a bus reply answers. */
typedef enum { GW_LEG_AUTH = 0, GW_LEG_OP, GW_LEG_WEB_META, GW_LEG_ROUTES, GW_LEG_APIMGMT } gw_leg;

struct gw_web;

#define GW_MAX_ARGS 16

typedef struct gw_req {
    uint64_t id;         /* names the reply subject <inbox>.<id> */
    uint64_t rid;        /* the request's id: error answers' "code", the access log's id */
    int64_t start_us;    /* monotonic: when the request line came */
    bool logged;         /* its access log line is written */
    struct lws *wsi;     /* the connection; only the lws thread touches it */
    bool closed;         /* connection gone: whoever holds the request frees it */
    gw_wait wait;        /* guarded by gw.lock */
    gw_leg leg;          /* the leg in flight */
    int64_t deadline_us; /* monotonic; 0 = none */
    struct gw_req *next; /* pending-table chain or ready queue */

    gw_method method;
    char path[1024];
    char *args[GW_MAX_ARGS]; /* "name=value", url-decoded, malloc'd */
    int nargs;
    char auth[512];
    char ctype[256];    /* the request's Content-Type */
    struct gw_web *web; /* web action requests (web.c); NULL otherwise */
    int apimgmt;        /* routes.c: a /whisk.system/apimgmt call (GW_APIMGMT_*) */
    bool route;         /* routes.c: /api/{ns}/... not matched to a route yet */
    bool via_route;     /* routes.c: the web action runs through an API route */
    uint64_t route_gen; /* routes.c: the route cache's generation when its read left */
    char *body;
    size_t body_len, body_cap;
    bool close_after, dispatched;
    /* A request with a body is authenticated before its body is read (lws thread only):
     * expect_body is set once at the headers; the body is read (rx flow on) only after the
     * key is verified, and body_complete says it all came. */
    bool expect_body, body_complete, routed, rx_paused, draining;
    bool web_anon;                   /* a web action request going on without a (valid) key */
    lws_sorted_usec_list_t body_sul; /* the body's deadline (lws thread) */
    bool body_sul_on;

    /* after auth */
    gw_op op;
    const char *kind;       /* SQ_KIND_* for entity ops */
    const char *collection; /* "actions", "packages", ... (count replies are keyed by it) */
    bool count;             /* list ?count=true */
    bool shared;            /* ns is not the caller's: only published entities */
    char ns[256];
    char pkg[256]; /* a package named apart from the entity (list, ns%2Fpkg) */
    char name[512];
    char actid[33]; /* invoke: the activation id; activation ops: the id asked for */
    bool blocking, result_only;
    sq_identity ident;    /* decoded from ident_raw into ident_zone; subject NULL until verified */
    char ident_raw[2048]; /* the auth service's reply, as cached */
    size_t ident_len;
    msgpack_zone ident_zone;
    bool ident_zone_used;

    /* the response */
    int status;
    char *resp; /* malloc'd JSON */
    size_t resp_len, resp_off;
    bool headers_sent;
    bool head_only;         /* HEAD: headers without the body */
    const char *resp_ctype; /* static; NULL = application/json */
    char *resp_ctype_own;   /* malloc'd content type, when it is not static */
    char *resp_hdrs;        /* malloc'd extra headers: "name\0value\0" pairs */
    size_t resp_hdrs_len;
    bool cors;     /* add the default CORS headers */
    bool answered; /* a response is set (a 204 has no body) */
} gw_req;

typedef struct gw_config {
    char *nats_url;
    char *host;
    int port;
    int max_body_kb;
    int max_action_body_kb;
    int auth_cache_ms;
    int blocking_wait_ms;
    int op_timeout_ms;
    int web_cache_ms;
    char *web_headers;     /* extra request headers web actions see in __ow_headers */
    int header_timeout_s;  /* the request line and headers must come within */
    int body_timeout_ms;   /* a body must come within this ... */
    int body_min_rate_kb;  /* ... plus its length at this many KB/s */
    int accept_pause_ms;   /* accepts paused this long when file descriptors run out */
    int ready_ms;          /* /readyz: services asked for their health this often */
    int ws_queue_kb;       /* a websocket's outgoing queue bound */
    int ws_invoke_wait_ms; /* a blocking invoke over a websocket waits this long */
    int ws_auth_ms;        /* a websocket must authenticate within this */
    int ws_stuck_ms;       /* a websocket whose queue stays full this long is closed */
    int ws_send_threads;   /* threads writing many sockets' frames at once (0: per core) */
    char *console_dir;     /* the console's static files */
    bool access_log;       /* one log line per request (access.c) */
    int metrics_ms;        /* metrics.c: every service asked for its metrics this often */
    char *metrics_token;   /* metrics.c: the bearer token /metrics needs ("": loopback) */
} gw_config;

typedef struct gw {
    gw_config cfg;
    sq_bus_t *bus;
    struct lws_context *ctx;
    char inbox[128]; /* reply subject prefix, "<inbox prefix>.gw.<random>" */
    natsSubscription *replies;
    /* the answers of invocations (from schedulers and invokers, which may publish there and
     * nowhere else of ours): "<inbox prefix>.run.<random>" */
    char run_inbox[128];
    natsSubscription *run_replies;
    pthread_mutex_t lock; /* pending table, ready queue, closed/wait flags */
    gw_req *pending[1024];
    gw_req *ready_head, *ready_tail;
    uint64_t next_id;
    lws_sorted_usec_list_t sweep;
    int listen_fd; /* our own listening socket (EMFILE is handled here) */
    struct lws *listen_wsi;
    lws_sorted_usec_list_t accept_sul;
    int reserve_fd; /* a spare descriptor, given up to refuse a connection */
    volatile bool stopping;
} gw;

extern gw G;

/* config.c: resolves the settings into G.cfg and logs them / frees their strings. */
sq_status gw_config_load(void);
void gw_config_free(void);

/* http.c: the lws side (service thread) */
int gw_http_start(void);
void gw_http_run(void);
void gw_http_stop(void);
void gw_http_destroy(void); /* after the service thread ended */

/* refuse.c: lws's log lines, rate-limited (lws_set_log_level's callback, any thread); a
 * whole JSON error answer written straight to a socket lws does not serve as HTTP (best
 * effort: the connection closes next), returning the answer's id */
void gw_lws_log_emit(int level, const char *line);
uint64_t gw_send_error_raw(int fd, const char *status, const char *msg);
/* listen.c: the listening socket (fd, or -1 logged) and lws's callback for it */
int gw_listen_open(void);
int gw_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

/* api.c: routing and operations */
/* Runs on the lws thread once the request is complete: checks auth (cache or NATS) and
 * starts the operation. Returns true when r was answered at once (its response is set and
 * the lws thread still owns it); false when r went to the bus, after which the caller must
 * not touch r: it comes back through the ready queue. */
bool gw_dispatch(gw_req *r);
/* Lws thread, at the headers of a request with a body: routes it and checks its key before
 * the body is read. Returns GW_AUTH_ANSWERED (r's response is set: 4xx), GW_AUTH_OK (the
 * identity is loaded from the cache: read the body), or GW_AUTH_PENDING (the key went to
 * the auth service; r comes back through the ready queue, answered or with its identity). */
typedef enum { GW_AUTH_ANSWERED, GW_AUTH_OK, GW_AUTH_PENDING } gw_auth_result;
gw_auth_result gw_authenticate(gw_req *r);
/* Runs on the NATS reply thread for the reply to r (taken out of the table). */
void gw_on_reply(gw_req *r, natsMsg *msg);
/* The deadline of r passed before its reply came (lws thread, r taken out of the table). */
void gw_on_timeout(gw_req *r);

/* route.c: resolves r->method and r->path (/api/v1/namespaces/...) to r->op and the names
 * it acts on (ns, pkg, name, actid, kind, collection). Returns 0, or the HTTP status (400,
 * 404, 405) with the message in err. Pure: any thread, nothing but r is touched. */
int gw_route_rest(gw_req *r, char *err, size_t errlen);

/* ops.c: the REST operations as one table (indexed by gw_op) */
typedef struct gw_op_ctx {
    msgpack_packer *pk;    /* the request message goes here */
    msgpack_zone *z;       /* ... and what it points into: the decoded body */
    msgpack_sbuffer *body; /* the body as msgpack */
    const char *key;       /* the caller's key ("uuid:secret"), for the ops that pass it on */
    int timeout_ms;        /* in: the operation timeout; out: the leg's */
} gw_op_ctx;
typedef struct gw_op_def {
    /* Encodes r's request into c->pk and returns its subject, or NULL when r was answered
     * (400: a bad body or argument). */
    const char *(*encode)(gw_req *r, gw_op_ctx *c);
    /* NATS thread: the service's reply (not a wire error) becomes r's response. */
    void (*reply)(gw_req *r, const msgpack_object *o);
    bool needs_key; /* the message carries the caller's key (invoke, fire) */
} gw_op_def;
/* The definition of op, or NULL for the ops answered without the bus. */
const gw_op_def *gw_op_of(gw_op op);
/* A query argument "true" (or 1, yes). */
bool gw_arg_true(const gw_req *r, const char *name);
struct json_t;
/* Sets r's response to status and the JSON j (taken; NULL or unencodable: 500). */
void gw_respond_json(gw_req *r, int status, struct json_t *j);
/* Sets r's response to status and the JSON form of o (NULL: null). */
void gw_respond_obj(gw_req *r, int status, const msgpack_object *o);

/* pending.c: sends one leg of r (which must already say r->leg) on the bus; true when r
 * was answered here (503: the bus failed) */
bool gw_send_leg(gw_req *r, const char *subject, const msgpack_sbuffer *sb, int timeout_ms);
/* api.c: the key ("uuid:secret") of r's Authorization header, or false */
bool gw_basic_key(const gw_req *r, char *key, size_t keylen);

/* web.c: web actions (/api/v1/web/...) */
bool gw_web_path(const char *path); /* /api/v1/web/... (an API route's: gw_routes_path) */
bool gw_web_begin(gw_req *r);       /* OP_WEB and the method, for both; false: answered (405) */
void gw_web_capture(struct lws *wsi, gw_req *r); /* lws thread, at LWS_CALLBACK_HTTP */
bool gw_web_route(gw_req *r); /* /api/v1/web names, after gw_web_begin; false: answered (404) */
bool gw_web_start(gw_req *r); /* after the optional auth: as start_op (not apimgmt, not routes) */
void gw_web_on_reply(gw_req *r, const msgpack_object *o);   /* NATS thread: meta or invoke reply */
bool gw_web_meta_reply(gw_req *r, const msgpack_object *o); /* true: r went to the bus again */
void gw_web_on_error(gw_req *r, int code, const char *msg, size_t len);
void gw_web_on_timeout(gw_req *r);
void gw_web_free(struct gw_web *w);
void gw_web_cache_clear(void);
/* Adds a response header (copied). */
void gw_add_header(gw_req *r, const char *name, const char *value);
void gw_add_cors(gw_req *r, const char *request_headers);

/* An invocation in flight: answered on the run inbox (by invokers and schedulers). */
static inline bool gw_invocation_leg(const gw_req *r)
{
    return r->op == OP_INVOKE || (r->op == OP_WEB && r->leg == GW_LEG_OP);
}
/* routes.c: API routes (wsk api). The /whisk.system/apimgmt web actions the CLI calls
 * (createApi, getApi, deleteApi) are answered here from the registry, and every route is
 * served at /api/{namespace}{basepath}{relpath} as the web action it names. */
struct json_t;
enum { GW_APIMGMT_NONE, GW_APIMGMT_CREATE, GW_APIMGMT_GET, GW_APIMGMT_DELETE };
bool gw_routes_path(const char *path);                    /* /api/{ns}/..., not /api/v1 */
bool gw_routes_route(gw_req *r);                          /* lws thread; false: answered (404) */
void gw_apimgmt_match(gw_req *r);                         /* sets r->apimgmt for its paths */
bool gw_routes_start(gw_req *r);                          /* as gw_web_start, for r->route */
bool gw_routes_reply(gw_req *r, const msgpack_object *o); /* NATS thread; true: in flight */
bool gw_apimgmt_start(gw_req *r);                         /* as gw_web_start, for r->apimgmt */
void gw_apimgmt_on_reply(gw_req *r, const msgpack_object *o);
void gw_routes_cache_clear(void);
/* web.c, for routes.c: the web action a route resolved to (ext "http", "json", ...; path is
 * __ow_path; params, taken, are added to the arguments), and a request header. */
void gw_web_set_target(gw_req *r, const char *ns, const char *name, const char *ext,
                       const char *path, struct json_t *params);
const char *gw_web_header(const gw_req *r, const char *name);

/* pending.c: the registry revision of an action this gateway wrote in the last 30 s (0:
 * none), passed on with its invokes so that a scheduler whose cache has not yet seen the
 * change event resolves it again: whoever writes an action runs the new code at once */
void gw_rev_note(const char *ns, const char *name, int64_t rev);
int64_t gw_rev_min(const char *ns, const char *name);

/* pending.c */
void gw_pending_add(gw_req *r, gw_wait w, int timeout_ms);
gw_req *gw_pending_take(uint64_t id);
/* As gw_pending_take(), only if the request waits on an invocation (invoke true) or on any
 * other leg (false): an answer on the invocation inbox never completes a key's check. */
gw_req *gw_pending_take_leg(uint64_t id, bool invoke);
void gw_ready_push(gw_req *r); /* any thread: hand r back to the lws thread */
gw_req *gw_ready_pop_all(void);
/* Lws thread: takes the overdue requests out of the table, chained by next (each then
 * waits GW_WAIT_BUSY for gw_on_timeout()). */
gw_req *gw_pending_expired(int64_t now_us);
void gw_req_free(gw_req *r); /* http.c, where requests are made */
/* Sets r's response: status and a JSON body (takes ownership of json, malloc'd). */
void gw_respond(gw_req *r, int status, char *json, size_t len);

/* ready.c: GET /healthz (live) and /readyz (every service answers its health); true when
 * r was one of them (answered). gw_ready_start/stop run the thread that asks. */
bool gw_health_route(gw_req *r);
void gw_ready_start(void);
void gw_ready_stop(void);
/* metrics.c: GET /metrics (every instance's Prometheus series, gathered over NATS); true
 * when r was it (answered). gw_metrics_start/stop run the thread that gathers. */
bool gw_metrics_route(gw_req *r);
void gw_metrics_start(void);
void gw_metrics_stop(void);
/* An OpenWhisk error body {"error": msg, "code": id}. */
void gw_respond_error(gw_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error object both APIs answer, {"error": msg, "code": code} (code: stolen; the REST
 * API's request id, the WebSocket API's status), as malloc'd JSON text; NULL: out of memory. */
char *gw_error_vjson(json_t *code, const char *fmt, va_list ap);

/* auth cache (pending.c): a verified key -> the auth service's reply (msgpack), for
 * cfg.auth_cache_ms, dropped as a whole on sq.evt.auth */
bool gw_auth_cache_get(const char *key, char *raw, size_t cap, size_t *len);
void gw_auth_cache_put(const char *key, const char *raw, size_t len);
void gw_auth_cache_clear(void);
/* The body limit for a request (action PUTs may carry large code). */
size_t gw_body_limit(const gw_req *r);

/* ws.c: the WebSocket API (GET /api/v1/ws, subprotocol squall.v1) */
#define GW_WS_PATH "/api/v1/ws"
#define GW_WS_PROTOCOL "squall.v1"
#define GW_WS_PSS_SIZE 320 /* >= sizeof(struct ws_pss) in ws.c */
int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
bool gw_ws_reason(enum lws_callback_reasons reason);
int gw_ws_confirm_upgrade(struct lws *wsi, const char *upgrade);
int gw_ws_start(void);                  /* after gw_http_start() */
void gw_ws_stop(void);                  /* after the service thread ended */
void gw_ws_on_auth_event(natsMsg *msg); /* NATS thread: re-verify the keys of open sockets */
size_t gw_ws_count(void);

/* access.c: the access line of r (once; nothing when SQ_GATEWAY_ACCESS_LOG is off), with
 * status as answered (499: the client went away first); lws thread. */
void gw_access_log(gw_req *r, int status);
/* The access line of a request refused before it became a gw_req (lws's own refusals). */
void gw_access_log_refused(int status, uint64_t id);

/* console.c: the console's static files at /console */
bool gw_console_path(const char *path);
void gw_console_serve(gw_req *r); /* answers r (200 with the file, or 404) */

#endif
