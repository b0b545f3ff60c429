/* Unit tests of libsq's metrics (sq/metrics.h): counters and histograms under concurrent
 * updates lose nothing, histogram buckets are cumulative with le bounds, malformed names and
 * labels are refused, and the wire round trip (encode one instance's answer, merge several)
 * gives Prometheus text with one HELP and TYPE per family; hostile answers (bad names,
 * samples of another family, control bytes, truncation) are rejected and change nothing. */
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sq/metrics.h"
#include "sq/mp.h"

#define THREADS 4
#define PER_THREAD 100000

static sq_metric *c_hot, *h_hot;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        sq_metric_inc(c_hot);
        sq_metric_observe(h_hot, (i % 4) * 0.5); /* 0, 0.5, 1, 1.5 */
    }
    return NULL;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static char *encode_local(const char *svc, const char *inst, size_t *len)
{
    sq_metrics_set *s = sq_metrics_set_create();
    msgpack_sbuffer sb;
    char *out;
    msgpack_sbuffer_init(&sb);
    sq_metrics_collect(s, svc, inst);
    sq_metrics_encode(s, svc, inst, &sb);
    out = check_dup_exact_(sb.data, sb.size);
    *len = sb.size;
    msgpack_sbuffer_destroy(&sb);
    sq_metrics_set_destroy(s);
    return out;
}

/* A hand-made answer with one family. */
static char *answer(const char *name, const char *type, const char *help, const char *samples,
                    size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *out;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    sq_mp_kv_int(&pk, "v", 1);
    sq_mp_kv_str(&pk, "service", "x");
    sq_mp_kv_str(&pk, "instance", "y");
    sq_mp_pack_str(&pk, "families");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 4);
    sq_mp_kv_str(&pk, "name", name);
    sq_mp_kv_str(&pk, "type", type);
    sq_mp_kv_str(&pk, "help", help);
    sq_mp_kv_str(&pk, "samples", samples);
    out = check_dup_exact_(sb.data, sb.size);
    *len = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return out;
}

static double gauge_seven(void *closure)
{
    (void)closure;
    return 7;
}

int main(void)
{
    pthread_t th[THREADS];
    const double bounds[] = { 0.5, 1 };

    SECTION("registration");
    c_hot = sq_metric_counter("t_hot_total", "a hot counter", "k=\"v\"");
    h_hot = sq_metric_histogram("t_latency_seconds", "a histogram", NULL, bounds, 2);
    CHECK(c_hot != NULL && h_hot != NULL, "registered");
    CHECK(sq_metric_counter("t_hot_total", "a hot counter", "k=\"v\"") == c_hot,
          "the same name and labels give the same series");
    CHECK(sq_metric_counter("t_hot_total", "a hot counter", "k=\"w\"") != c_hot,
          "other labels: another series");
    CHECK(sq_metric_gauge("t_hot_total", "x", "k=\"v\"") == NULL, "same series, other kind: NULL");
    CHECK(sq_metric_counter("9bad", "x", NULL) == NULL, "a name starting with a digit");
    CHECK(sq_metric_counter("bad-name", "x", NULL) == NULL, "a dash in the name");
    CHECK(sq_metric_counter("t_ok", "x", "k=v") == NULL, "an unquoted label value");
    CHECK(sq_metric_counter("t_ok", "x", "k=\"a\\\"b\"") == NULL, "a backslash in a label");
    CHECK(sq_metric_counter("t_ok", "line\nbreak", NULL) == NULL, "a newline in help");
    CHECK(sq_metric_histogram("t_h", "x", NULL, (double[]){ 1, 1 }, 2) == NULL,
          "bounds not increasing");
    sq_metric_inc(NULL); /* NULL-safe */
    sq_metric_observe(NULL, 1);
    sq_metric_gauge_fn("t_fn", "a gauge read at scrape time", NULL, gauge_seven, NULL);
    sq_metric *g = sq_metric_gauge("t_gauge", "a gauge", NULL);
    sq_metric_set(g, 10);
    sq_metric_move(g, -3);
    CHECK_INT(sq_metric_value(g), 7, "gauge after set 10, move -3");

    SECTION("concurrent updates lose nothing");
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(sq_metric_value(c_hot), THREADS * PER_THREAD, "counter");

    SECTION("render");
    {
        sq_metrics_set *s = sq_metrics_set_create();
        size_t len;
        char *text, want[256];
        sq_metrics_collect(s, "svc", "i-1");
        text = sq_metrics_render(s, &len);
        CHECK(text != NULL && strlen(text) == len, "rendered");
        snprintf(want, sizeof want, "t_hot_total{service=\"svc\",instance=\"i-1\",k=\"v\"} %d\n",
                 THREADS * PER_THREAD);
        CHECK(strstr(text, want) != NULL, "counter line %s in:\n%s", want, text);
        /* 0 and 0.5 are <= 0.5: half; <= 1: three quarters; +Inf: all */
        snprintf(want, sizeof want,
                 "t_latency_seconds_bucket{service=\"svc\",instance=\"i-1\",le=\"0.5\"} %d\n",
                 THREADS * PER_THREAD / 2);
        CHECK(strstr(text, want) != NULL, "bucket 0.5: %s", want);
        snprintf(want, sizeof want,
                 "t_latency_seconds_bucket{service=\"svc\",instance=\"i-1\",le=\"1\"} %d\n",
                 THREADS * PER_THREAD * 3 / 4);
        CHECK(strstr(text, want) != NULL, "bucket 1: %s", want);
        snprintf(want, sizeof want,
                 "t_latency_seconds_bucket{service=\"svc\",instance=\"i-1\",le=\"+Inf\"} %d\n",
                 THREADS * PER_THREAD);
        CHECK(strstr(text, want) != NULL, "bucket +Inf: %s", want);
        snprintf(want, sizeof want, "t_latency_seconds_sum{service=\"svc\",instance=\"i-1\"} %d\n",
                 THREADS * PER_THREAD / 4 * 3); /* (0 + 0.5 + 1 + 1.5) per 4 */
        CHECK(strstr(text, want) != NULL, "sum: %s", want);
        CHECK(strstr(text, "t_fn{service=\"svc\",instance=\"i-1\"} 7\n") != NULL, "gauge fn");
        CHECK(strstr(text, "# TYPE t_latency_seconds histogram\n") != NULL, "histogram type");
        CHECK(strstr(text, "# TYPE t_hot_total counter\n") != NULL, "counter type");
        CHECK_INT(count_of(text, "# TYPE t_hot_total "), 1, "one TYPE for two series");
        free(text);
        sq_metrics_set_destroy(s);
    }

    SECTION("merge of two instances");
    {
        size_t la, lb, len;
        char *a = encode_local("svc", "a", &la), *b = encode_local("svc", "b", &lb), *text;
        sq_metrics_set *s = sq_metrics_set_create();
        CHECK_INT(sq_metrics_merge(s, a, la), SQ_OK, "merge a");
        CHECK_INT(sq_metrics_merge(s, b, lb), SQ_OK, "merge b");
        text = sq_metrics_render(s, &len);
        CHECK_INT(count_of(text, "# TYPE t_hot_total counter\n"), 1, "one TYPE per family");
        CHECK_INT(count_of(text, "# HELP t_latency_seconds "), 1, "one HELP per family");
        CHECK_INT(count_of(text, "t_hot_total{"), 4, "2 series x 2 instances");
        CHECK(strstr(text, "instance=\"a\"") && strstr(text, "instance=\"b\""), "both instances");
        /* families stay together: every t_hot_total line follows its TYPE before another */
        {
            const char *p = strstr(text, "# TYPE t_hot_total"), *q = strstr(text, "# TYPE t_l");
            const char *last = p;
            for (const char *x = p; (x = strstr(x + 1, "\nt_hot_total{")) != NULL;)
                last = x;
            CHECK(q == NULL || last < q || p > q, "a family's samples are contiguous");
        }
        free(text);
        for (size_t cut = 0; cut < la; cut += 7)
            CHECK_INT(sq_metrics_merge(s, a, cut), SQ_ERR_DECODE, "a truncated answer");
        free(a);
        free(b);
        sq_metrics_set_destroy(s);
    }

    SECTION("hostile answers are rejected and change nothing");
    {
        static const struct {
            const char *name, *type, *help, *samples, *why;
        } bad[] = {
            { "bad-name", "counter", "h", "bad-name 1\n", "a bad family name" },
            { "fam", "weird", "h", "fam 1\n", "an unknown type" },
            { "fam", "counter", "h", "other 1\n", "a sample of another family" },
            { "fam", "counter", "h", "famous 1\n", "a sample whose name only starts alike" },
            { "fam", "counter", "h", "fam 1", "a sample without its newline" },
            { "fam", "counter", "h", "fam 1\n# TYPE x counter\n", "an injected comment line" },
            { "fam", "counter", "h", "fam{a=\"\r\"} 1\n", "a control byte" },
            { "fam", "counter", "h\nx", "fam 1\n", "a newline in help" },
        };
        sq_metrics_set *s = sq_metrics_set_create();
        size_t len;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char *buf = answer(bad[i].name, bad[i].type, bad[i].help, bad[i].samples, &len);
            CHECK_INT(sq_metrics_merge(s, buf, len), SQ_ERR_DECODE, bad[i].why);
            free(buf);
        }
        char *text = sq_metrics_render(s, &len);
        CHECK_INT(len, 0, "nothing merged");
        free(text);
        char *ok = answer("fam", "counter", "h", "fam_total 1\nfam{a=\"b\"} 2\n", &len);
        CHECK_INT(sq_metrics_merge(s, ok, len), SQ_ERR_DECODE, "fam_total is not fam's suffix");
        free(ok);
        ok = answer("fam", "histogram", "h", "fam_bucket{le=\"+Inf\"} 2\nfam_count 2\n", &len);
        CHECK_INT(sq_metrics_merge(s, ok, len), SQ_OK, "a well-formed answer");
        free(ok);
        sq_metrics_set_destroy(s);
    }
    return check_done();
}
