/* Clocks, ids, entity names and signal handling; see util.h. */
#include "sq/util.h"
#include "sq/log.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t sq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sq_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sq_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int sq_crypto_init(void)
{
    return sodium_init() < 0 ? -1 : 0;
}

void sq_id_new(char out[33])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, 33, b, sizeof b);
}

void sq_uuid_new(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

bool sq_id_valid(const char *id)
{
    size_t i;
    for (i = 0; id[i] != '\0'; i++)
        if (!isxdigit((unsigned char)id[i]) || i >= 32)
            return false;
    return i == 32;
}

static bool word(unsigned char c)
{
    return isalnum(c) || c == '_';
}

bool sq_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 256 || !word((unsigned char)name[0]))
        return false;
    if (n == 1)
        return true;
    /* [\w][\w@ .-]*[\w@.-]+ : middle may hold spaces, the last character may not */
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(word(c) || c == '@' || c == '.' || c == '-' || (c == ' ' && i < n - 1)))
            return false;
    }
    return true;
}

/* Appends n bytes of s to out at *o, keeping room for the terminator. */
static void put(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    while (n-- > 0 && *o + 1 < outlen)
        out[(*o)++] = *s++;
}

/* The end of the value that starts at s: a quoted one ('a \'b\' c') or up to a blank, '&'
 * or ';'. */
static const char *value_end(const char *s)
{
    if (*s == '\'') {
        for (s++; *s && *s != '\''; s++)
            if (*s == '\\' && s[1] != '\0')
                s++;
        return *s ? s + 1 : s;
    }
    while (*s && !isspace((unsigned char)*s) && *s != '&' && *s != ';')
        s++;
    return s;
}

void sq_mask_secrets(const char *s, char *out, size_t outlen)
{
    static const char mask[] = "********";
    size_t o = 0;

    if (outlen == 0)
        return;
    for (const char *p = s; *p;) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            /* scheme://user:password@host: the authority ends at the first '/', '?' or blank */
            const char *a = p + 3, *at = NULL, *colon = NULL;
            for (const char *q = a; *q && *q != '/' && *q != '?' && !isspace((unsigned char)*q);
                 q++) {
                if (*q == '@')
                    at = q;
            }
            if (at != NULL)
                colon = memchr(a, ':', (size_t)(at - a));
            if (colon != NULL) {
                put(out, outlen, &o, p, (size_t)(colon + 1 - p));
                put(out, outlen, &o, mask, sizeof mask - 1);
                p = at;
            } else {
                put(out, outlen, &o, p, 3);
                p += 3;
            }
            continue;
        }
        if (isalpha((unsigned char)*p) || *p == '_') {
            /* a word: a keyword when '=' follows (blanks allowed, as libpq allows them) */
            const char *w = p, *q;
            while (isalnum((unsigned char)*p) || *p == '_')
                p++;
            put(out, outlen, &o, w, (size_t)(p - w));
            for (q = p; *q == ' ' || *q == '\t'; q++)
                ;
            if (*q == '=' && p - w >= 8 && strncasecmp(p - 8, "password", 8) == 0) {
                for (q++; *q == ' ' || *q == '\t'; q++)
                    ;
                put(out, outlen, &o, p, (size_t)(q - p));
                put(out, outlen, &o, mask, sizeof mask - 1);
                p = value_end(q);
            }
            continue;
        }
        put(out, outlen, &o, p, 1);
        p++;
    }
    out[o] = '\0';
}

static sigset_t sigs;

void sq_signals_block(void)
{
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sq_signals_wait(void)
{
    int sig = 0;
    sigwait(&sigs, &sig);
    return sig;
}

int sq_service_begin(const char *program)
{
    sq_signals_block();
    sq_log_init(program);
    if (sq_crypto_init() != 0) {
        sq_error("could not initialise libsodium");
        return -1;
    }
    return 0;
}

int sq_service_wait(const char *doing)
{
    int sig = sq_signals_wait();
    sq_info("received signal %d, %s", sig, doing);
    return sig;
}

uint64_t sq_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = sq_hash_byte(h, c[i]);
    return h;
}

uint64_t sq_hash_str(uint64_t h, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        h = sq_hash_byte(h, *c);
    return h;
}

sq_status sq_errf(sq_status st, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || errlen == 0)
        return st;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return st;
}
