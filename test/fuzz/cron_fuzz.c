/* Fuzzes the alarms feed's cron parser (services/triggers/cron.c), which reads a cron
 * expression straight from a user's trigger parameters. Properties: parsing never reads
 * past the string; an accepted expression yields ticks that are strictly after the time
 * asked for, match every field of the expression, and skip no earlier matching time. */
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "services/triggers/cron.h"

static bool matches(const trg_cron *c, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm t;
    bool dom, dow, day;

    if (ms % 1000 != 0 || gmtime_r(&s, &t) == NULL)
        return false;
    dom = c->dom >> t.tm_mday & 1;
    dow = c->dow >> t.tm_wday & 1;
    day = c->dom_star || c->dow_star ? dom && dow : dom || dow;
    return (c->sec >> t.tm_sec & 1) && (c->min >> t.tm_min & 1) && (c->hour >> t.tm_hour & 1) &&
           (c->mon >> (t.tm_mon + 1) & 1) && day;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* expressions come from JSON strings: NUL-terminated, short */
    char expr[512], err[256] = "";
    trg_cron c;
    /* 2026-12-06 08:00:00.123 UTC, and the end of February of a leap year */
    static const int64_t starts[] = { 1796544000123LL, 1835395199000LL };

    if (size >= sizeof expr)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    if (!trg_cron_parse(expr, &c, err, sizeof err)) {
        FZ_CHECK(err[0] != '\0' && strlen(err) < sizeof err);
        return 0;
    }
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        int64_t t = starts[i];
        for (int k = 0; k < 3; k++) {
            int64_t next = trg_cron_next(&c, t);
            if (next < 0)
                break; /* never fires (say "0 0 30 2 *") */
            FZ_CHECK(next > t);
            if (!matches(&c, next))
                fprintf(stderr, "\"%s\": tick %lld does not match\n", expr, (long long)next);
            FZ_CHECK(matches(&c, next));
            {
                /* and no tick was skipped: every candidate between is refused (checked when
                 * the gap is short enough to walk) */
                int64_t stepms = c.seconds ? 1000 : 60000, first = (t / stepms + 1) * stepms;
                if ((next - first) / stepms <= 1440)
                    for (int64_t u = first; u < next; u += stepms)
                        FZ_CHECK(!matches(&c, u));
            }
            t = next;
        }
    }
    return 0;
}
