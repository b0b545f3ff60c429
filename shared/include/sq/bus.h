/* The NATS side of every service: one connection with endless reconnect (SendAsap on the
 * latency-critical ones), queue-group subscriptions from a handler table, requests with a
 * timeout, replies and wire errors, and the health subject. Built on nats.c; JetStream is
 * reached through sq_bus_js(). */
#ifndef SQ_BUS_H
#define SQ_BUS_H

#include <msgpack.h>
#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "sq/status.h"

typedef struct sq_bus sq_bus_t;

typedef struct sq_bus_opts {
    const char *url;  /* comma-separated server URLs */
    const char *name; /* connection name shown by the server */
    const char *user; /* optional */
    const char *pass; /* optional */
    bool send_asap;   /* flush every publish at once: latency-critical connections */
    bool jetstream;   /* also make a JetStream context */
} sq_bus_opts;

/* A message handler. Runs on the subscription's delivery thread (messages of one route are
 * delivered one at a time, in order). msg is destroyed by the bus after fn returns. */
typedef void (*sq_bus_fn)(sq_bus_t *bus, natsMsg *msg, void *closure);

typedef struct sq_bus_route {
    const char *subject;
    const char *queue; /* queue group, so N copies share the load; NULL for none */
    sq_bus_fn fn;
    void *closure;
} sq_bus_route;

/* Connects (waiting up to ~10 s for a first server) and returns the bus in *out. The
 * connection's inbox prefix is sq_nats_inbox_prefix() of its user. */
sq_status sq_bus_connect(sq_bus_t **out, const sq_bus_opts *o);
natsConnection *sq_bus_nc(sq_bus_t *b);
/* The inbox prefix of the connection ("_INBOX_<user>"): reply subjects of hand-made
 * inboxes go below it ("<prefix>.<anything>"), where the user's permissions let it listen. */
const char *sq_bus_inbox_prefix(sq_bus_t *b);
jsCtx *sq_bus_js(sq_bus_t *b);

/* Subscribes every route. The bus keeps the subscriptions until sq_bus_destroy(). */
sq_status sq_bus_serve(sq_bus_t *b, const sq_bus_route *routes, size_t n);
/* Answers requests on `sq.<svc>.health` with {ok: true, service, pid}. */
sq_status sq_bus_serve_health(sq_bus_t *b, const char *svc);

/* Sends a request and waits up to timeout_ms. *reply is the answer, caller destroys it.
 * SQ_ERR_TIMEOUT when nobody answered in time, SQ_ERR_UNAVAILABLE when nobody listens. */
sq_status sq_bus_request(sq_bus_t *b, const char *subject, const void *data, size_t len,
                         int timeout_ms, natsMsg **reply);
/* Where the answer to req goes: its NATS reply subject, else its SQ_HDR_REPLY header when
 * that names an inbox (_INBOX_...). A request answered later or by another service (an
 * invocation) carries its inbox in the header and no NATS reply: nats-server then keeps no
 * allow_responses entry for it at the responder (an entry nobody uses lives 10 minutes, and
 * once a connection has more than 4096, every message delivered to it scans them all). NULL
 * when req has neither. */
#define SQ_HDR_REPLY "Sq-Reply"
const char *sq_bus_reply_of(natsMsg *req);
/* Publishes a request whose answer comes later or from another service: reply (an inbox)
 * in the SQ_HDR_REPLY header, no NATS reply subject. */
natsStatus sq_bus_publish_hdr_reply(natsConnection *nc, const char *subject, const char *reply,
                                    const void *data, size_t len);
/* Publishes data to the reply subject of req (sq_bus_reply_of; nothing when req has none). */
sq_status sq_bus_respond(sq_bus_t *b, natsMsg *req, const void *data, size_t len);
/* Publishes a wire error {error: {code, message}} to the reply subject of req; the code is
 * the HTTP status of st; fmt NULL uses the status's default message. */
sq_status sq_bus_respond_error(sq_bus_t *b, natsMsg *req, sq_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Publishes data to subject. */
sq_status sq_bus_publish(sq_bus_t *b, const char *subject, const void *data, size_t len);

/* url, one or a comma-separated list of seeds (spaces around commas allowed), as the server
 * pool of opts: natsOptions_SetURL takes one URL only (with a list it connects to none),
 * natsOptions_SetServers takes them all. NATS_INVALID_ARG for an empty list. */
natsStatus sq_nats_set_servers(natsOptions *opts, const char *url);
/* url (one or a comma-separated list) with every password replaced by "***"
 * (nats://user:***@host): what a log line may show. Truncates to outlen. */
void sq_nats_url_redact(const char *url, char *out, size_t outlen);
/* The inbox prefix of a NATS user: "_INBOX_<user>" (bytes other than letters, digits, '-'
 * and '_' become '_'), so that the server's permissions can give each user its own replies;
 * "_INBOX" without a user. user NULL or "": the user of url's first nats://user:pass@. */
void sq_nats_inbox_prefix(const char *url, const char *user, char *out, size_t outlen);
/* A command-line tool's connection (squall-admin, squall-health, squall-status): url one or a
 * list of seeds, replies under the inbox prefix of url's user, connect within timeout_ms,
 * no reconnection; name is the client name the server shows. *nc is the caller's to
 * destroy. */
natsStatus sq_nats_tool_connect(natsConnection **nc, const char *url, const char *name,
                                int64_t timeout_ms);
/* The options of the tools that ask the bus (squall-health, squall-status): --url U or
 * --url=U (*url keeps its value when absent: the caller's default), --timeout-ms N or
 * --timeout-ms=N (1 to max_ms), -h or --help, and -- ending them. Returns the index of the
 * first argument left; -1 after --help (usage(stdout) done); -2 on a bad option (said on
 * stderr after prog, then usage(stderr)). */
int sq_tool_options(int argc, char **argv, const char *prog, void (*usage)(FILE *),
                    const char **url, long *timeout_ms, long max_ms);

/* NATS user nkeys (shared/src/nkey.c). A seed is "SU" + 56 base32 characters, a public key
 * "U" + 55. */
#define SQ_NKEY_SEED_LEN 58
#define SQ_NKEY_PUB_LEN 56
/* The public key of the user seed seed[0..len) into pub; SQ_ERR_BAD_REQUEST when seed is not
 * a user seed (wrong length, alphabet, prefix or checksum). */
sq_status sq_nkey_public(const char *seed, size_t len, char pub[SQ_NKEY_PUB_LEN + 1]);
/* The public key of the first user seed in the file at path (a bare seed or the seed block
 * of a .creds/.nk file): SQ_ERR_NOT_FOUND, SQ_ERR_IO, SQ_ERR_BAD_REQUEST (no seed). */
sq_status sq_nkey_file_public(const char *path, char pub[SQ_NKEY_PUB_LEN + 1]);
/* A new random user seed and its public key. */
sq_status sq_nkey_make(char seed[SQ_NKEY_SEED_LEN + 1], char pub[SQ_NKEY_PUB_LEN + 1]);

/* Drains subs (NULL entries skipped) all at once: in-flight handlers finish and nothing new
 * arrives. Returns within about timeout_ms even when the server does not answer. */
void sq_bus_drain_subs(natsSubscription *const *subs, int n, int timeout_ms);

/* Drains the subscriptions (in-flight handlers finish; 5 s at most), then closes. NULL is
 * a no-op. */
void sq_bus_destroy(sq_bus_t *b);

/* The wire error: encodes {error: {code: http(st), message}} into buf. */
void sq_wire_error_pack(msgpack_packer *pk, sq_status st, const char *message);
/* When o is a wire error map, returns true and sets *code and *message (pointing into o;
 * message is not NUL-terminated, its length in *mlen). */
bool sq_wire_error_get(const msgpack_object *o, int *code, const char **message, size_t *mlen);

#endif
