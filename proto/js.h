/* JetStream helpers of proto/streams.c that speak nats.c's types: the replica count every
 * stream and key-value bucket is made with and raised to. */
#ifndef SQ_PROTO_JS_H
#define SQ_PROTO_JS_H

#include <nats/nats.h>
#include <stdatomic.h>
#include <stdint.h>
#include "sq/status.h"

/* Replicas (SQ_JS_REPLICAS, sq_common.js_replicas; 0 = auto: 3, or 1 when the servers cannot
 * place 3). sq_js_add_stream() is js_AddStream with cfg->Replicas set (and set back to 1 in
 * auto mode when 3 are refused). sq_js_raise_replicas() raises an existing stream's replicas
 * to the setting (auto: only on a clustered server; never lowers; failures logged, not
 * fatal). sq_js_kv_open() opens bucket cfg->Bucket, raising its replicas, or creates it
 * with them (another copy creating it meanwhile is fine). Creating needs the permission
 * $JS.API.STREAM.CREATE.<stream>, raising $JS.API.STREAM.UPDATE.<stream>, which ops/squall's
 * permissions give nobody (an update could re-point a stream's subjects): there the
 * refusal is logged with what the operator can do. */
natsStatus sq_js_add_stream(jsStreamInfo **si, jsCtx *js, jsStreamConfig *cfg, jsErrCode *jerr);
void sq_js_raise_replicas(jsCtx *js, const char *stream);
natsStatus sq_js_kv_open(kvStore **kv, jsCtx *js, kvConfig *cfg);

/* Makes the durable consumer cc->Durable of stream as cc says, or brings one that exists
 * with another configuration (an older release's) to it; where that is refused but the
 * consumer exists, it is kept as it is (a warning). A stream not found is asked for again
 * for up to 5 s: in a cluster, a stream another service has just made reaches every server
 * a moment later. SQ_ERR_UNAVAILABLE, logged, when there is no consumer. */
sq_status sq_js_ensure_consumer(jsCtx *js, const char *stream, jsConsumerConfig *cc);
/* The configuration every durable consumer of ours starts from: all of filter's messages
 * from the first, each acknowledged explicitly within ack_wait_ms, redelivered without a
 * limit. */
void sq_js_durable_config(jsConsumerConfig *cc, const char *durable, const char *description,
                          const char *filter, int64_t ack_wait_ms);

/* The loop of a thread that follows a pull consumer (proto/pull.c): until *stop, fetches up
 * to batch messages of sub at a time (waiting at most SQ_PULL_WAIT_MS; after a failure
 * other than a timeout it pauses 200 ms) and hands each to fn, which returns 0 to
 * acknowledge it, a positive number of ms to have it delivered again after that long, or a
 * negative number to have it delivered again at once. */
#define SQ_PULL_WAIT_MS 500
typedef int64_t (*sq_pull_fn)(natsMsg *m, void *closure);
void sq_pull_loop(natsSubscription *sub, int batch, const atomic_bool *stop, sq_pull_fn fn,
                  void *closure);

#endif
