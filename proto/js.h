/* JetStream helpers of proto/streams.c that speak nats.c's types: the replica count every
 * stream and key-value bucket is made with and raised to. */
#ifndef SQ_PROTO_JS_H
#define SQ_PROTO_JS_H

#include <nats/nats.h>

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

#endif
