/* Cron expressions for the alarms feed, in UTC: five fields (minute hour day-of-month month
 * day-of-week) or six with seconds first, as the OpenWhisk alarms package accepts. A field is
 * a comma-separated list of `*`, `N`, `N-M`, each optionally `/STEP`; months and weekdays
 * may be named (jan..dec, sun..sat); weekday 7 is Sunday. When both day fields are
 * restricted a day matches either (Vixie cron). No I/O: the unit test compiles it alone. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                      "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

/* A number or a name at *p (advanced); -1 when neither. */
static int value(const char **p, int field)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        *p = s;
        return (int)v;
    }
    if (field == 4 || field == 5) {
        const char *const *names = field == 4 ? months : days;
        int n = field == 4 ? 12 : 7;
        for (int i = 0; i < n; i++)
            if (strncasecmp(s, names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
                *p = s + 3;
                return field == 4 ? i + 1 : i;
            }
    }
    return -1;
}

/* Fields: 0 sec, 1 min, 2 hour, 3 day of month, 4 month, 5 day of week. */
static const int lo[] = { 0, 0, 0, 1, 1, 0 }, hi[] = { 59, 59, 23, 31, 12, 7 };

static bool parse_field(const char *s, size_t len, int field, uint64_t *bits, bool *star, char *err,
                        size_t errlen)
{
    char buf[128];
    const char *p;

    if (len == 0 || len >= sizeof buf)
        goto bad;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    *star = strcmp(buf, "*") == 0 || strcmp(buf, "?") == 0;
    p = buf;
    for (;;) {
        int a, b, step = 1;
        bool ranged = true;
        if (*p == '*' || *p == '?') {
            a = lo[field];
            b = hi[field];
            p++;
        } else {
            if ((a = value(&p, field)) < 0)
                goto bad;
            b = a;
            ranged = false;
            if (*p == '-') {
                p++;
                ranged = true;
                if ((b = value(&p, field)) < 0)
                    goto bad;
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p) || (step = value(&p, -1)) <= 0)
                goto bad;
            if (!ranged)
                b = hi[field]; /* "N/STEP": from N to the end */
        }
        if (a < lo[field] || b > hi[field] || a > b)
            goto bad;
        for (int v = a; v <= b; v += step)
            *bits |= 1ULL << (field == 5 && v == 7 ? 0 : v);
        if (*p == '\0')
            break;
        if (*p++ != ',')
            goto bad;
    }
    return true;
bad:
    if (err)
        snprintf(err, errlen, "invalid cron field %d \"%.*s\"", field, (int)(len > 64 ? 64 : len),
                 s);
    return false;
}

bool trg_cron_parse(const char *expr, trg_cron *c, char *err, size_t errlen)
{
    const char *f[7];
    size_t n[7];
    int nf = 0;
    const char *p = expr;
    bool star;

    memset(c, 0, sizeof *c);
    if (expr == NULL) {
        if (err)
            snprintf(err, errlen, "no cron expression");
        return false;
    }
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (nf == 6) {
            nf = 7;
            break;
        }
        f[nf] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        n[nf] = (size_t)(p - f[nf]);
        nf++;
    }
    if (nf != 5 && nf != 6) {
        if (err)
            snprintf(err, errlen, "a cron expression has 5 or 6 fields, not %d", nf > 6 ? 7 : nf);
        return false;
    }
    c->seconds = nf == 6;
    if (c->seconds) {
        if (!parse_field(f[0], n[0], 0, &c->sec, &star, err, errlen))
            return false;
    } else
        c->sec = 1; /* second 0 */
    for (int i = 0; i < 5; i++) {
        int k = i + (nf == 6);
        uint64_t *dst = i == 0   ? &c->min
                        : i == 1 ? &c->hour
                        : i == 2 ? &c->dom
                        : i == 3 ? &c->mon
                                 : &c->dow;
        if (!parse_field(f[k], n[k], i + 1, dst, &star, err, errlen))
            return false;
        if (i == 2)
            c->dom_star = star;
        if (i == 4)
            c->dow_star = star;
    }
    return true;
}

static bool day_ok(const trg_cron *c, const struct tm *t)
{
    bool dom = c->dom >> t->tm_mday & 1, dow = c->dow >> t->tm_wday & 1;
    if (c->dom_star || c->dow_star)
        return dom && dow;
    return dom || dow;
}

int64_t trg_cron_next(const trg_cron *c, int64_t after_ms)
{
    time_t s = (time_t)(after_ms / 1000) + 1;
    struct tm t;

    if (!c->seconds && s % 60 != 0)
        s += 60 - s % 60;
    gmtime_r(&s, &t);
    for (int i = 0; i < 200000; i++) {
        if (t.tm_year > 1900 + 200)
            return -1;
        if (!(c->mon >> (t.tm_mon + 1) & 1)) {
            t.tm_mon++, t.tm_mday = 1, t.tm_hour = 0, t.tm_min = 0, t.tm_sec = 0;
        } else if (!day_ok(c, &t)) {
            t.tm_mday++, t.tm_hour = 0, t.tm_min = 0, t.tm_sec = 0;
        } else if (!(c->hour >> t.tm_hour & 1)) {
            t.tm_hour++, t.tm_min = 0, t.tm_sec = 0;
        } else if (!(c->min >> t.tm_min & 1)) {
            t.tm_min++, t.tm_sec = 0;
        } else if (!(c->sec >> t.tm_sec & 1)) {
            t.tm_sec++;
        } else
            return (int64_t)timegm(&t) * 1000;
        s = timegm(&t); /* normalises the overflowed field and the weekday */
        gmtime_r(&s, &t);
    }
    return -1;
}
