/* The WebSocket API's internals, shared by its four files (see ws.c for the threads and
 * the locking): ws.c the lws side (connections, their queues written out, the sweeper),
 * ws_ops.c the protocol (requests from the client, their replies from the bus), ws_fanout.c
 * the events of the bus fanned out to the subscribed sockets, ws_send.c many sockets'
 * frames written by several threads at once. Not for the rest of the gateway: gateway.h
 * says what it may call. */
#ifndef GW_WS_INT_H
#define GW_WS_INT_H

#include <stdatomic.h>

#include "gateway.h"

#define WS_MAX_MSG (1024 * 1024) /* a bigger message closes the socket with 1009 */
#define WS_MAX_SUBS 100          /* per socket; one more is 429 */
#define WS_MAX_INFLIGHT 1000     /* invokes and fires in flight per socket; more is 429 */
#define WS_BUCKETS 4096
#define WS_NS_BUCKETS 1024 /* namespaces with subscribed sockets */
#define WS_SWEEP_US (100 * 1000)
/* A topic's event subscription is kept this long after its last socket subscription went:
 * a gateway without subscribers receives no events, one whose sockets come and go does not
 * subscribe and unsubscribe each time. */
#define WS_EVENTS_HOLD_US (30 * 1000 * 1000)
#define WS_NTOPICS 3
#define WS_MAX_WRITES 16 /* frames written per writable callback */

#define CLOSE_UNAUTH 4401

typedef enum { T_ACTIVATIONS, T_LOGS, T_ENTITIES } ws_topic;

typedef struct ws_sub {
    int64_t id;
    ws_topic topic;
    char *name;     /* activations: record name; logs: action name (NULL: any) */
    char *status;   /* activations: response.status (NULL: any) */
    char actid[33]; /* logs: one activation ("" : any) */
} ws_sub;

/* The JSON text of one event, built once and shared by the frames of every socket it goes
 * to; freed by the last of them (ws_body_unref). */
typedef struct ws_body {
    atomic_int refs;
    size_t len;
    char txt[];
} ws_body;

/* One outgoing text frame: its own head, then the shared body (NULL: the head is all). */
typedef struct frame {
    struct frame *next;
    ws_body *body;
    size_t hlen;
    size_t len; /* hlen + body's */
    char head[];
} frame;

typedef enum { A_NONE = 0, A_VERIFYING, A_OK, A_FAILED } ws_auth_state;

typedef struct ws_conn {
    uint64_t id;
    struct lws *wsi;             /* service thread only */
    struct ws_conn *hnext;       /* id table chain */
    struct ws_conn *prev, *next; /* every connection */
    int64_t auth_deadline_us;

    /* guarded by W.lock */
    ws_auth_state auth;
    char key[192]; /* "uuid:secret", zeroed on close */
    char *subject;
    char **nss; /* the key's namespaces (nss[0]: its own) */
    size_t nns;
    bool indexed;            /* in the namespace index (authenticated, with a subscription) */
    int counted[WS_NTOPICS]; /* its subscriptions counted in W.topic_n, per topic */
    ws_sub *subs;
    int nsubs;
    int64_t next_sub;
    frame *qh, *qt;
    size_t qbytes;
    uint64_t dropped;
    int64_t full_since_us;
    int inflight;
    int close_code; /* set: close once the queue is written (4401, 1008...) */
    char close_reason[96];
    bool close_now; /* close without writing the queue (1008) */
    uint64_t woken; /* the wake pass that last took it (service thread) */

    /* service thread only */
    bool rx_paused;
    char *rx; /* the message being assembled */
    size_t rxlen, rxcap;
    bool rx_skip; /* rest of a message being refused */
    char *held;   /* a message read while the key was being verified */
    size_t held_len;
} ws_conn;

typedef enum { P_AUTH, P_RECHECK, P_INVOKE, P_FIRE } ws_pkind;

typedef struct ws_pend {
    uint64_t id;
    uint64_t conn;
    ws_pkind kind;
    char *cid; /* the client's request id as JSON text; NULL: no reply */
    bool blocking, result_only;
    char actid[33];
    int64_t deadline_us;
    struct ws_pend *next;
} ws_pend;

/* A namespace's subscribed sockets (the index the events are matched with). */
typedef struct ws_nsent {
    struct ws_nsent *next;
    ws_conn **conns;
    size_t n, cap;
    char ns[];
} ws_nsent;

typedef struct ws_state {
    pthread_mutex_t lock;
    ws_conn *table[WS_BUCKETS];
    ws_conn *all;
    size_t nconns;
    ws_pend *pend[WS_BUCKETS];
    ws_nsent *nsidx[WS_NS_BUCKETS];
    uint64_t *wake; /* connection ids to wake */
    size_t nwake, capwake;
    bool kicked; /* the service thread was woken and has not yet taken the wake list */
    uint64_t next_conn, next_req;
    char inbox[96];
    natsSubscription *replies;
    /* the event subscriptions: one per topic while any socket subscribes to it (and
     * WS_EVENTS_HOLD_US after), none otherwise */
    natsSubscription *evsub[WS_NTOPICS];
    int topic_n[WS_NTOPICS];           /* socket subscriptions of each topic, indexed sockets */
    int64_t topic_idle_us[WS_NTOPICS]; /* when topic_n last fell to 0 */
    bool events_closed;                /* shutting down: no new event subscription */
    lws_sorted_usec_list_t sweep;
    int64_t next_slow_sweep_us;
} ws_state;

extern ws_state W;

/* ws.c: connections and queues (W.lock held unless said) */
size_t ws_queue_limit(void);
ws_conn *ws_conn_find_locked(uint64_t id);
void ws_wake_locked(ws_conn *c);
bool ws_enqueue_locked(ws_conn *c, const char *head, size_t hlen, ws_body *body, bool droppable);
void ws_close_locked(ws_conn *c, int code, const char *reason, bool now);
void ws_kick(void); /* any thread, W.lock not held: wake the service thread (once a pass) */
ws_body *ws_body_new(const char *txt, size_t len);
void ws_frame_free(frame *f);             /* any thread: the frame is no longer in a queue */
void ws_rx_resume(ws_conn *c, size_t qb); /* service thread */
void ws_body_unref(ws_body *b);

/* ws_send.c: many sockets' queues written by several threads at once */
int ws_send_start(void);
void ws_send_stop(void);
/* Service thread: writes the queues of cs (writable, nothing kept by lws) when they are
 * many; false (nothing done): the caller writes them itself. */
bool ws_send_many(ws_conn **cs, size_t n);

/* ws_ops.c: the protocol */
void ws_reply_locked(ws_conn *c, const char *cid, const char *mid, const char *body, size_t blen);
void ws_reply_err_locked(ws_conn *c, const char *cid, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ws_verify_locked(ws_conn *c, ws_pkind kind, const char *cid);
void ws_handle_message(ws_conn *c, const char *txt, size_t len); /* service thread */
void ws_on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
void ws_sweep_pending(int64_t now); /* service thread */
void ws_pend_free(ws_pend *p);
void ws_ident_free_locked(ws_conn *c);
bool ws_parse_path(const char *path, char *ns, size_t nscap, char *name, size_t namecap,
                   bool pkg_ok);
void ws_sub_free(ws_sub *s);

/* ws_fanout.c: events to subscribers */
void ws_index_update_locked(ws_conn *c); /* after c's subscriptions, identity or auth change */
/* Unsubscribes the topics without a socket subscription for WS_EVENTS_HOLD_US (all with
 * everything: at shutdown). Not with W.lock. */
void ws_events_release(int64_t now_us, bool everything);

#endif
