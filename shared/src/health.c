/* Health per instance; see health.h. */
#include "sq/health.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CHECKS 4

static struct {
    char svc[64], instance[96], host[128];
    int64_t started;
    sq_health_check checks[MAX_CHECKS];
    size_t n;
} H;

static char instance_buf[96];

static void clean_token(const char *in, char *out, size_t outlen)
{
    size_t k = 0;
    for (; *in && k + 1 < outlen; in++)
        out[k++] = ((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') ||
                    (*in >= '0' && *in <= '9') || *in == '-' || *in == '_')
                       ? *in
                       : '-';
    out[k] = '\0';
}

const char *sq_instance_id(void)
{
    if (instance_buf[0] == '\0') {
        const char *env = getenv("SQ_INSTANCE_ID");
        char host[128] = "";
        if (env != NULL && *env != '\0') {
            clean_token(env, instance_buf, sizeof instance_buf);
        } else {
            char raw[96];
            if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
                snprintf(host, sizeof host, "host");
            host[strcspn(host, ".")] = '\0';
            snprintf(raw, sizeof raw, "%.64s-%d", host, (int)getpid());
            clean_token(raw, instance_buf, sizeof instance_buf);
        }
    }
    return instance_buf;
}

static void check_js(sq_bus_t *b, const char *stream, char *out, size_t outlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    jsOptions o;
    natsStatus s;
    jsCtx *js = sq_bus_js(b);

    if (js == NULL) {
        snprintf(out, outlen, "no JetStream context");
        return;
    }
    jsOptions_Init(&o);
    o.Wait = 1500;
    s = js_GetStreamInfo(&si, js, stream, &o, &jerr);
    if (s == NATS_OK && si != NULL) {
        if (si->Cluster != NULL && (si->Cluster->Leader == NULL || si->Cluster->Leader[0] == '\0'))
            snprintf(out, outlen, "stream %s has no leader", stream);
        else
            snprintf(out, outlen, "ok");
    } else if (s == NATS_TIMEOUT)
        snprintf(out, outlen, "stream %s: no answer from JetStream in time", stream);
    else
        snprintf(out, outlen, "stream %s: %s (%d)", stream, natsStatus_GetText(s), (int)jerr);
    jsStreamInfo_Destroy(si);
}

static void on_health(sq_bus_t *b, natsMsg *msg, void *closure)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char why[MAX_CHECKS][256];
    /* a local bound: the compiler cannot see what the probes (calls) do to H */
    size_t nfailed = 0, n = H.n < MAX_CHECKS ? H.n : MAX_CHECKS;

    for (size_t i = 0; i < n; i++) {
        if (H.checks[i].pg_dsn != NULL && H.checks[i].pg_ping != NULL)
            H.checks[i].pg_ping(H.checks[i].pg_dsn, why[i], sizeof why[i]);
        else if (H.checks[i].pg_dsn != NULL)
            snprintf(why[i], sizeof why[i], "no PostgreSQL probe in this build");
        else if (H.checks[i].stream != NULL)
            check_js(b, H.checks[i].stream, why[i], sizeof why[i]);
        else
            snprintf(why[i], sizeof why[i], "ok");
        if (strcmp(why[i], "ok") != 0)
            nfailed++;
    }
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    sq_mp_kv_bool(&pk, "ok", nfailed == 0);
    sq_mp_kv_str(&pk, "service", H.svc);
    sq_mp_kv_int(&pk, "pid", getpid());
    sq_mp_kv_str(&pk, "instance", H.instance);
    sq_mp_kv_str(&pk, "host", H.host);
    sq_mp_kv_int(&pk, "started", H.started);
    sq_mp_pack_str(&pk, "checks");
    msgpack_pack_map(&pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        sq_mp_kv_str(&pk, H.checks[i].name, why[i]);
    sq_mp_pack_str(&pk, "failed");
    msgpack_pack_array(&pk, (uint32_t)nfailed);
    for (size_t i = 0; i < n; i++)
        if (strcmp(why[i], "ok") != 0)
            sq_mp_pack_str(&pk, H.checks[i].name);
    sq_bus_respond(b, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

sq_status sq_health_serve(sq_bus_t *b, const char *svc, const char *instance,
                          const sq_health_check *checks, size_t n)
{
    char subj[2][256];

    if (n > MAX_CHECKS)
        return SQ_ERR_INTERNAL;
    snprintf(H.svc, sizeof H.svc, "%s", svc);
    clean_token(instance ? instance : sq_instance_id(), H.instance, sizeof H.instance);
    if (gethostname(H.host, sizeof H.host - 1) != 0)
        snprintf(H.host, sizeof H.host, "unknown");
    H.started = sq_now_ms();
    for (size_t i = 0; i < n; i++)
        H.checks[i] = checks[i];
    H.n = n;
    snprintf(subj[0], sizeof subj[0], "sq.%s.health", svc);
    snprintf(subj[1], sizeof subj[1], "sq.%s.health.%s", svc, H.instance);
    sq_bus_route r[2] = {
        { .subject = subj[0], .queue = NULL, .fn = on_health },
        { .subject = subj[1], .queue = NULL, .fn = on_health },
    };
    sq_info("health on %s and %s (instance \"%s\")", subj[0], subj[1], H.instance);
    return sq_bus_serve(b, r, 2);
}
