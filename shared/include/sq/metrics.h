/* Prometheus metrics of this process: counters, gauges and histograms are registered once
 * (at start; registration takes a lock and may allocate) and then updated with relaxed
 * atomics on hot paths: no lock and no allocation per event. A scrape renders them (with
 * labels service and instance added to every sample) into a family set, which travels
 * as msgpack (sq.<svc>.metrics, see schemas/nats/metrics.reply.schema.json); the gateway
 * merges the answers of every instance into one Prometheus text page (GET /metrics).
 *
 * Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in _total, durations are
 * seconds. labels is the constant label set of one series, without braces, e.g.
 * `status="success"` (NULL or "" for none); the same name with other labels is another
 * series of the same family. Never label by something unbounded (namespace, action). */
#ifndef SQ_METRICS_H
#define SQ_METRICS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sq/status.h"

typedef struct sq_metric sq_metric;

/* Register a series; registering the same name and labels again returns the same series.
 * NULL when the table is full or an argument is malformed (every update accepts NULL and
 * does nothing), with a warning in the log. Thread-safe. */
sq_metric *sq_metric_counter(const char *name, const char *help, const char *labels);
sq_metric *sq_metric_gauge(const char *name, const char *help, const char *labels);
/* bounds: increasing upper bounds (at most 16; +Inf is implied), copied. */
sq_metric *sq_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds, size_t n);
/* A gauge read at scrape time by fn(closure) (runs on the scrape's thread: it may take the
 * lock of what it reads; it must not block on the bus). */
sq_metric *sq_metric_gauge_fn(const char *name, const char *help, const char *labels,
                              double (*fn)(void *closure), void *closure);

/* Hot-path updates: one relaxed atomic each (the histogram: three). */
void sq_metric_add(sq_metric *m, uint64_t n); /* counter */
void sq_metric_inc(sq_metric *m);             /* counter + 1 */
void sq_metric_set(sq_metric *m, int64_t v);  /* gauge */
void sq_metric_move(sq_metric *m, int64_t d); /* gauge += d */
void sq_metric_observe(sq_metric *m, double v);
/* The value of a counter or gauge (tests). */
int64_t sq_metric_value(const sq_metric *m);

/* Latency bounds in seconds, for histograms of durations (1 ms .. 60 s). */
extern const double sq_metric_seconds_bounds[];
extern const size_t sq_metric_seconds_nbounds;

/* A JetStream consumer whose pending counts a scrape reports (sq_jetstream_consumer_pending
 * and _ack_pending, labelled stream and consumer); copied. At most 8. */
void sq_metrics_js_consumer(const char *stream, const char *consumer);
/* The consumers registered so far: the i-th's stream and consumer, false past the end. */
bool sq_metrics_js_consumer_at(size_t i, const char **stream, const char **consumer);

/* A set of metric families under construction (a scrape's answer, or the gateway's merge
 * of many). Not thread-safe: one per scrape. */
typedef struct sq_metrics_set sq_metrics_set;

sq_metrics_set *sq_metrics_set_create(void);
void sq_metrics_set_destroy(sq_metrics_set *s); /* NULL: no-op */
/* Adds one sample line to family name (created with type and help when new; a family's
 * type and help are those of its first sample). labels without braces, may be NULL. The
 * sample's name is name + suffix ("", "_bucket", "_sum", "_count"). */
void sq_metrics_set_sample(sq_metrics_set *s, const char *name, const char *type, const char *help,
                           const char *suffix, const char *labels, double value);
/* Adds every registered series of this process, labelled service and instance. */
void sq_metrics_collect(sq_metrics_set *s, const char *service, const char *instance);
/* The answer on the wire: {v: 1, service, instance, families: [{name, type, help,
 * samples: "<sample lines>"}]}. */
sq_status sq_metrics_encode(const sq_metrics_set *s, const char *service, const char *instance,
                            msgpack_sbuffer *out);
/* Merges one answer (msgpack bytes) into s: SQ_ERR_DECODE (s unchanged) when it is not a
 * well-formed answer (a bad name or type, a sample line of another family, control bytes). */
sq_status sq_metrics_merge(sq_metrics_set *s, const char *buf, size_t len);
/* The Prometheus text exposition (version 0.0.4) of s: one HELP and TYPE per family, then
 * its samples. Returns a malloc'd NUL-terminated string (length in *len), NULL on OOM. */
char *sq_metrics_render(const sq_metrics_set *s, size_t *len);

#endif
