/* Prometheus metrics: a fixed table of series updated with relaxed atomics, rendered into a
 * family set at scrape time, carried as msgpack and merged by the gateway; see metrics.h. */
#include "sq/metrics.h"
#include "sq/log.h"
#include "sq/mp.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_METRICS 192
#define MAX_BOUNDS 16
#define MAX_JS 8

enum { K_COUNTER, K_GAUGE, K_HIST, K_FN };
static const char *const KIND_TYPE[] = { "counter", "gauge", "histogram", "gauge" };

struct sq_metric {
    char name[96], help[192], labels[192];
    int kind;
    _Atomic int64_t v; /* counter (as unsigned) or gauge */
    double bounds[MAX_BOUNDS];
    size_t nb;
    _Atomic uint64_t buckets[MAX_BOUNDS + 1]; /* not cumulative; [nb] is +Inf */
    _Atomic uint64_t sum_bits;                /* the double sum's bits (CAS) */
    double (*fn)(void *);
    void *closure;
};

static sq_metric table[MAX_METRICS];
static _Atomic size_t nmetrics; /* entries below are complete (release/acquire) */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
    char stream[64], consumer[128];
} js[MAX_JS];
static _Atomic size_t njs;

const double sq_metric_seconds_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,      2.5,   5,    10,    30,   60 };
const size_t sq_metric_seconds_nbounds =
    sizeof sq_metric_seconds_bounds / sizeof sq_metric_seconds_bounds[0];

static bool valid_name(const char *n)
{
    if (n == NULL || *n == '\0' || strlen(n) >= 96)
        return false;
    for (const char *p = n; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p > n && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* Text without control bytes, backslashes in help, or (for help) newlines. */
static bool plain_text(const char *t, size_t max)
{
    size_t n = 0;
    for (; t[n]; n++)
        if ((unsigned char)t[n] < 0x20 || t[n] == 0x7f || t[n] == '\\')
            return false;
    return n < max;
}

/* labels: name="value"(,name="value")*, values without quotes or backslashes. */
static bool valid_labels(const char *l)
{
    const char *p = l;
    if (l == NULL || *l == '\0')
        return true;
    if (strlen(l) >= 192)
        return false;
    for (;;) {
        const char *eq = strchr(p, '=');
        char name[96];
        if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof name || eq[1] != '"')
            return false;
        memcpy(name, p, (size_t)(eq - p));
        name[eq - p] = '\0';
        if (!valid_name(name) || strchr(name, ':') != NULL)
            return false;
        p = eq + 2;
        while (*p && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            p++;
        if (*p != '"')
            return false;
        p++;
        if (*p == '\0')
            return true;
        if (*p != ',')
            return false;
        p++;
    }
}

static sq_metric *reg(int kind, const char *name, const char *help, const char *labels,
                      const double *bounds, size_t nb, double (*fn)(void *), void *closure)
{
    sq_metric *m = NULL;
    size_t n;

    if (labels == NULL)
        labels = "";
    if (help == NULL)
        help = "";
    if (!valid_name(name) || !valid_labels(labels) || !plain_text(help, sizeof m->help) ||
        nb > MAX_BOUNDS) {
        sq_warn("metric \"%s\" not registered: malformed name, labels or help",
                name ? name : "(null)");
        return NULL;
    }
    for (size_t i = 1; i < nb; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return NULL;
    pthread_mutex_lock(&reg_lock);
    n = atomic_load_explicit(&nmetrics, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0 && strcmp(table[i].labels, labels) == 0) {
            m = table[i].kind == kind ? &table[i] : NULL;
            goto out;
        }
    if (n == MAX_METRICS) {
        sq_warn("metric \"%s\" not registered: the table is full (%d)", name, MAX_METRICS);
        goto out;
    }
    m = &table[n];
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->help, sizeof m->help, "%s", help);
    snprintf(m->labels, sizeof m->labels, "%s", labels);
    m->kind = kind;
    for (size_t i = 0; i < nb; i++)
        m->bounds[i] = bounds[i];
    m->nb = nb;
    m->fn = fn;
    m->closure = closure;
    atomic_store_explicit(&nmetrics, n + 1, memory_order_release);
out:
    pthread_mutex_unlock(&reg_lock);
    return m;
}

sq_metric *sq_metric_counter(const char *name, const char *help, const char *labels)
{
    return reg(K_COUNTER, name, help, labels, NULL, 0, NULL, NULL);
}

sq_metric *sq_metric_gauge(const char *name, const char *help, const char *labels)
{
    return reg(K_GAUGE, name, help, labels, NULL, 0, NULL, NULL);
}

sq_metric *sq_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds, size_t n)
{
    return reg(K_HIST, name, help, labels, bounds, n, NULL, NULL);
}

sq_metric *sq_metric_gauge_fn(const char *name, const char *help, const char *labels,
                              double (*fn)(void *closure), void *closure)
{
    return fn ? reg(K_FN, name, help, labels, NULL, 0, fn, closure) : NULL;
}

void sq_metric_add(sq_metric *m, uint64_t n)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->v, (int64_t)n, memory_order_relaxed);
}

void sq_metric_inc(sq_metric *m)
{
    sq_metric_add(m, 1);
}

void sq_metric_set(sq_metric *m, int64_t v)
{
    if (m != NULL)
        atomic_store_explicit(&m->v, v, memory_order_relaxed);
}

void sq_metric_move(sq_metric *m, int64_t d)
{
    if (m != NULL)
        atomic_fetch_add_explicit(&m->v, d, memory_order_relaxed);
}

void sq_metric_observe(sq_metric *m, double v)
{
    size_t i = 0;
    uint64_t old, upd;
    double sum;

    if (m == NULL || m->kind != K_HIST || isnan(v))
        return;
    while (i < m->nb && v > m->bounds[i])
        i++;
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    old = atomic_load_explicit(&m->sum_bits, memory_order_relaxed);
    do {
        memcpy(&sum, &old, sizeof sum);
        sum += v;
        memcpy(&upd, &sum, sizeof upd);
    } while (!atomic_compare_exchange_weak_explicit(&m->sum_bits, &old, upd, memory_order_relaxed,
                                                    memory_order_relaxed));
}

int64_t sq_metric_value(const sq_metric *m)
{
    return m ? atomic_load_explicit(&((sq_metric *)m)->v, memory_order_relaxed) : 0;
}

void sq_metrics_js_consumer(const char *stream, const char *consumer)
{
    size_t n;
    pthread_mutex_lock(&reg_lock);
    n = atomic_load_explicit(&njs, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        if (strcmp(js[i].stream, stream) == 0 && strcmp(js[i].consumer, consumer) == 0)
            goto out;
    if (n < MAX_JS) {
        snprintf(js[n].stream, sizeof js[n].stream, "%s", stream);
        snprintf(js[n].consumer, sizeof js[n].consumer, "%s", consumer);
        atomic_store_explicit(&njs, n + 1, memory_order_release);
    }
out:
    pthread_mutex_unlock(&reg_lock);
}

bool sq_metrics_js_consumer_at(size_t i, const char **stream, const char **consumer)
{
    if (i >= atomic_load_explicit(&njs, memory_order_acquire))
        return false;
    *stream = js[i].stream;
    *consumer = js[i].consumer;
    return true;
}

/* ---------------------------------------------------------------- family sets */

typedef struct family {
    char name[96], type[16], help[192];
    char *samples;
    size_t len, cap;
} family;

struct sq_metrics_set {
    family *f;
    size_t n, cap;
};

sq_metrics_set *sq_metrics_set_create(void)
{
    return calloc(1, sizeof(sq_metrics_set));
}

void sq_metrics_set_destroy(sq_metrics_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->f[i].samples);
    free(s->f);
    free(s);
}

static family *family_get(sq_metrics_set *s, const char *name, const char *type, const char *help)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].name, name) == 0)
            return &s->f[i];
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        family *f = realloc(s->f, cap * sizeof *f);
        if (f == NULL)
            return NULL;
        s->f = f;
        s->cap = cap;
    }
    family *f = &s->f[s->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->type, sizeof f->type, "%s", type);
    snprintf(f->help, sizeof f->help, "%s", help ? help : "");
    return f;
}

static void family_append(family *f, const char *text, size_t len)
{
    if (f->len + len + 1 > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < f->len + len + 1)
            cap *= 2;
        char *p = realloc(f->samples, cap);
        if (p == NULL)
            return;
        f->samples = p;
        f->cap = cap;
    }
    memcpy(f->samples + f->len, text, len);
    f->len += len;
    f->samples[f->len] = '\0';
}

static void fmt_value(char *out, size_t outlen, double v)
{
    if (isnan(v))
        snprintf(out, outlen, "NaN");
    else if (isinf(v))
        snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(out, outlen, "%.0f", v);
    else {
        /* the shortest of the two that reads back as v (0.006, not 0.0060000000000000001) */
        snprintf(out, outlen, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, outlen, "%.17g", v);
    }
}

void sq_metrics_set_sample(sq_metrics_set *s, const char *name, const char *type, const char *help,
                           const char *suffix, const char *labels, double value)
{
    char line[512], val[64];
    int n;
    family *f;

    if (s == NULL || !valid_name(name))
        return;
    f = family_get(s, name, type, help);
    if (f == NULL)
        return;
    fmt_value(val, sizeof val, value);
    if (labels != NULL && *labels != '\0')
        n = snprintf(line, sizeof line, "%s%s{%s} %s\n", name, suffix ? suffix : "", labels, val);
    else
        n = snprintf(line, sizeof line, "%s%s %s\n", name, suffix ? suffix : "", val);
    if (n > 0 && (size_t)n < sizeof line)
        family_append(f, line, (size_t)n);
}

void sq_metrics_collect(sq_metrics_set *s, const char *service, const char *instance)
{
    size_t n = atomic_load_explicit(&nmetrics, memory_order_acquire);
    char base[256], labels[512];

    snprintf(base, sizeof base, "service=\"%s\",instance=\"%s\"", service, instance);
    for (size_t i = 0; i < n; i++) {
        sq_metric *m = &table[i];
        const char *type = KIND_TYPE[m->kind];
        snprintf(labels, sizeof labels, "%s%s%s", base, m->labels[0] ? "," : "", m->labels);
        switch (m->kind) {
        case K_COUNTER:
            sq_metrics_set_sample(
                s, m->name, type, m->help, "", labels,
                (double)(uint64_t)atomic_load_explicit(&m->v, memory_order_relaxed));
            break;
        case K_GAUGE:
            sq_metrics_set_sample(s, m->name, type, m->help, "", labels,
                                  (double)atomic_load_explicit(&m->v, memory_order_relaxed));
            break;
        case K_FN:
            sq_metrics_set_sample(s, m->name, type, m->help, "", labels, m->fn(m->closure));
            break;
        case K_HIST: {
            uint64_t cum = 0, bits;
            double sum;
            char bl[600], le[32];
            for (size_t b = 0; b <= m->nb; b++) {
                cum += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
                if (b < m->nb)
                    snprintf(le, sizeof le, "%g", m->bounds[b]);
                else
                    snprintf(le, sizeof le, "+Inf");
                snprintf(bl, sizeof bl, "%s,le=\"%s\"", labels, le);
                sq_metrics_set_sample(s, m->name, type, m->help, "_bucket", bl, (double)cum);
            }
            bits = atomic_load_explicit(&m->sum_bits, memory_order_relaxed);
            memcpy(&sum, &bits, sizeof sum);
            sq_metrics_set_sample(s, m->name, type, m->help, "_sum", labels, sum);
            sq_metrics_set_sample(s, m->name, type, m->help, "_count", labels, (double)cum);
            break;
        }
        }
    }
}

sq_status sq_metrics_encode(const sq_metrics_set *s, const char *service, const char *instance,
                            msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    sq_mp_kv_int(&pk, "v", 1);
    sq_mp_kv_str(&pk, "service", service);
    sq_mp_kv_str(&pk, "instance", instance);
    sq_mp_pack_str(&pk, "families");
    msgpack_pack_array(&pk, (uint32_t)s->n);
    for (size_t i = 0; i < s->n; i++) {
        const family *f = &s->f[i];
        msgpack_pack_map(&pk, 4);
        sq_mp_kv_str(&pk, "name", f->name);
        sq_mp_kv_str(&pk, "type", f->type);
        sq_mp_kv_str(&pk, "help", f->help);
        sq_mp_pack_str(&pk, "samples");
        sq_mp_pack_strn(&pk, f->samples ? f->samples : "", f->len);
    }
    return SQ_OK;
}

/* A str object copied into out (NUL-terminated), false when not a string, too long or
 * holding a NUL. */
static bool str_of(const msgpack_object *o, char *out, size_t outlen)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= outlen ||
        memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return false;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return true;
}

/* Every line of samples (each ending in '\n') is a sample of family name: the name (plus a
 * histogram suffix), then '{' or ' ', no control bytes. */
static bool valid_samples(const char *name, const char *p, size_t len)
{
    size_t nl = strlen(name);
    const char *end = p + len;
    static const char *const suffixes[] = { "", "_bucket", "_sum", "_count" };

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        bool ok = false;
        if (eol == NULL || (size_t)(eol - p) <= nl || memcmp(p, name, nl) != 0)
            return false;
        for (const char *q = p; q < eol; q++)
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                return false;
        for (size_t i = 0; i < 4 && !ok; i++) {
            size_t sl = strlen(suffixes[i]);
            if ((size_t)(eol - p) > nl + sl && memcmp(p + nl, suffixes[i], sl) == 0 &&
                (p[nl + sl] == '{' || p[nl + sl] == ' '))
                ok = true;
        }
        if (!ok)
            return false;
        p = eol + 1;
    }
    return true;
}

static bool valid_type(const char *t)
{
    return strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 || strcmp(t, "histogram") == 0 ||
           strcmp(t, "untyped") == 0 || strcmp(t, "summary") == 0;
}

sq_status sq_metrics_merge(sq_metrics_set *s, const char *buf, size_t len)
{
    msgpack_zone z;
    msgpack_object o;
    const msgpack_object *v, *fams;
    sq_status st = SQ_ERR_DECODE;

    msgpack_zone_init(&z, 4096);
    if (sq_mp_unpack(buf, len, &z, &o) != SQ_OK || o.type != MSGPACK_OBJECT_MAP)
        goto out;
    v = sq_mp_get(&o, "v");
    fams = sq_mp_get(&o, "families");
    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != 1 ||
        fams == NULL || fams->type != MSGPACK_OBJECT_ARRAY)
        goto out;
    /* check everything first: a bad answer changes nothing */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < fams->via.array.size; i++) {
            const msgpack_object *f = &fams->via.array.ptr[i], *smp;
            char name[96], type[16], help[192];
            family *dst;
            if (f->type != MSGPACK_OBJECT_MAP || !str_of(sq_mp_get(f, "name"), name, sizeof name) ||
                !str_of(sq_mp_get(f, "type"), type, sizeof type) ||
                !str_of(sq_mp_get(f, "help"), help, sizeof help) || !valid_name(name) ||
                !valid_type(type) || !plain_text(help, sizeof help))
                goto out;
            smp = sq_mp_get(f, "samples");
            if (smp == NULL || smp->type != MSGPACK_OBJECT_STR ||
                !valid_samples(name, smp->via.str.ptr, smp->via.str.size))
                goto out;
            if (pass == 0)
                continue;
            dst = family_get(s, name, type, help);
            if (dst != NULL && strcmp(dst->type, type) == 0)
                family_append(dst, smp->via.str.ptr, smp->via.str.size);
        }
    }
    st = SQ_OK;
out:
    msgpack_zone_destroy(&z);
    return st;
}

char *sq_metrics_render(const sq_metrics_set *s, size_t *len)
{
    size_t cap = 1, off = 0;
    char *out;

    for (size_t i = 0; i < s->n; i++)
        cap += s->f[i].len + strlen(s->f[i].help) + 2 * strlen(s->f[i].name) + 40;
    out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        const family *f = &s->f[i];
        if (f->len == 0)
            continue;
        off += (size_t)snprintf(out + off, cap - off, "# HELP %s %s\n# TYPE %s %s\n", f->name,
                                f->help, f->name, f->type);
        memcpy(out + off, f->samples, f->len);
        off += f->len;
    }
    out[off] = '\0';
    if (len)
        *len = off;
    return out;
}
