/* Logging to stderr, one write per line so lines from several threads never interleave.
 * Text (the default): `<ts> <program>[<instance>] <level>: <msg>[ key=value...]`; with
 * SQ_LOG_FORMAT=json one JSON object per line: {ts, level, service, instance, msg, fields}. */
#include "sq/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static const char *prog = "squall";
static const char *service = "squall"; /* prog without "squall-" */
static sq_log_level min_level = SQ_LOG_INFO;
static bool json;
static const char *const names[] = { "debug", "info", "warning", "error" };
/* the instance id: set once or twice, read by every line; two buffers, one pointer */
static char inst_buf[2][96];
static _Atomic(const char *) inst = "";
static atomic_int inst_next;

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer in the ASan builds of the services (every one calls sq_log_init, so this
 * object is always linked in): libpq's SCRAM client leaves OpenSSL's HMAC and digest
 * objects behind when a connection attempt is cut off mid-exchange (PostgreSQL stopping or
 * starting while a service reconnects; fault_auth_stale met it once in CI). Those are
 * libcrypto's own allocations, which no code of ours makes or frees; the fast unwinder
 * stops inside libcrypto, so its module is the only frame to name. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libcrypto.so\n";
}
#endif

void sq_log_init(const char *program)
{
    const char *lvl = getenv("SQ_LOG_LEVEL"), *fmt = getenv("SQ_LOG_FORMAT");
    prog = program;
    service = strncmp(program, "squall-", 7) == 0 ? program + 7 : program;
    if (lvl != NULL)
        for (int i = 0; i < 4; i++)
            if (strcasecmp(lvl, names[i]) == 0 || (i == 2 && strcasecmp(lvl, "warn") == 0))
                min_level = (sq_log_level)i;
    sq_log_set_instance(sq_instance_id());
    json = fmt != NULL && strcasecmp(fmt, "json") == 0;
    if (fmt != NULL && *fmt != '\0' && !json && strcasecmp(fmt, "text") != 0)
        sq_warn("SQ_LOG_FORMAT \"%s\" is neither \"text\" nor \"json\": logging text", fmt);
}

void sq_log_set_level(sq_log_level lvl)
{
    min_level = lvl;
}

void sq_log_set_instance(const char *instance)
{
    int k = atomic_fetch_add(&inst_next, 1) & 1;
    snprintf(inst_buf[k], sizeof inst_buf[k], "%s", instance ? instance : "");
    atomic_store(&inst, inst_buf[k]);
}

bool sq_log_json(void)
{
    return json;
}

/* Appends s as the inside of a JSON string: quotes, backslashes and control bytes escaped,
 * bytes that are not UTF-8 replaced by U+FFFD, so every line is valid JSON whatever a
 * message quotes. Returns the new offset (never past cap - 1). */
static size_t json_str(char *out, size_t off, size_t cap, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p && off + 8 < cap) {
        unsigned c = *p;
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        bool ok = n > 0 && !(n == 2 && c < 0xc2) && !(n == 4 && c > 0xf4);
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (ok && n == 3) /* no overlong forms, no surrogates */
            ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
        if (ok && n == 4)
            ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
        if (!ok) {
            off += (size_t)snprintf(out + off, cap - off, "\\ufffd");
            p++;
        } else if (c == '"' || c == '\\') {
            out[off++] = '\\';
            out[off++] = (char)c;
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            off += (size_t)snprintf(out + off, cap - off, "\\u%04x", c);
            p++;
        } else {
            memcpy(out + off, p, n);
            off += n;
            p += n;
        }
    }
    return off;
}

/* Appends s to line (LINE_MAX_BYTES), keeping two bytes free for the closing brace and the
 * newline. */
static void put(char *line, size_t *n, const char *s)
{
    size_t len = strlen(s), room = LINE_MAX_BYTES - 2 - *n;
    if (len > room)
        len = room;
    memcpy(line + *n, s, len);
    *n += len;
}

static void vlog(sq_log_level lvl, const sq_log_field *fields, size_t nfields, const char *fmt,
                 va_list ap)
{
    char line[LINE_MAX_BYTES], msg[2048], ts[64];
    const char *id = atomic_load(&inst);
    struct timespec t;
    struct tm tm;
    size_t n = 0;

    clock_gettime(CLOCK_REALTIME, &t);
    gmtime_r(&t.tv_sec, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.tv_nsec / 1000000);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    if (json) {
        put(line, &n, "{\"ts\":\"");
        put(line, &n, ts);
        put(line, &n, "\",\"level\":\"");
        put(line, &n, names[lvl]);
        put(line, &n, "\",\"service\":\"");
        n = json_str(line, n, sizeof line, service);
        put(line, &n, "\",\"instance\":\"");
        n = json_str(line, n, sizeof line, *id ? id : sq_instance_id());
        put(line, &n, "\",\"msg\":\"");
        n = json_str(line, n, sizeof line, msg);
        put(line, &n, "\"");
        for (size_t i = 0; i < nfields; i++) {
            put(line, &n, ",\"");
            n = json_str(line, n, sizeof line, fields[i].key);
            put(line, &n, "\":\"");
            n = json_str(line, n, sizeof line, fields[i].value ? fields[i].value : "");
            put(line, &n, "\"");
        }
        line[n++] = '}'; /* put() leaves room for it and the newline */
    } else {
        put(line, &n, ts);
        put(line, &n, " ");
        put(line, &n, prog);
        put(line, &n, "[");
        put(line, &n, *id ? id : sq_instance_id()); /* before sq_log_init() */
        put(line, &n, "] ");
        put(line, &n, names[lvl]);
        put(line, &n, ": ");
        put(line, &n, msg);
        for (size_t i = 0; i < nfields; i++) {
            put(line, &n, " ");
            put(line, &n, fields[i].key);
            put(line, &n, "=");
            put(line, &n, fields[i].value ? fields[i].value : "");
        }
    }
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nowhere left to report it */
    }
}

void sq_log(sq_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    if (lvl < min_level)
        return;
    va_start(ap, fmt);
    vlog(lvl, NULL, 0, fmt, ap);
    va_end(ap);
}

void sq_log_fields(sq_log_level lvl, const sq_log_field *fields, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (lvl < min_level)
        return;
    va_start(ap, fmt);
    vlog(lvl, fields, n, fmt, ap);
    va_end(ap);
}

static char instance_buf[96];

void sq_instance_token(const char *in, char *out, size_t outlen)
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
            sq_instance_token(env, instance_buf, sizeof instance_buf);
        } else {
            char raw[96];
            if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
                snprintf(host, sizeof host, "host");
            host[strcspn(host, ".")] = '\0';
            snprintf(raw, sizeof raw, "%.64s-%d", host, (int)getpid());
            sq_instance_token(raw, instance_buf, sizeof instance_buf);
        }
    }
    return instance_buf;
}
