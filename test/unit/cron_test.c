/* The alarms feed's cron expressions (services/triggers/cron.c, compiled in here): what
 * parses, what is refused, and the next tick of a few expressions from fixed instants. */
#include "services/triggers/cron.c"
#include "check.h"

static int64_t at(int y, int mo, int d, int h, int mi, int s)
{
    struct tm t = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s
    };
    return (int64_t)timegm(&t) * 1000;
}

static int64_t next_of(const char *expr, int64_t from)
{
    trg_cron c;
    char err[128];
    CHECK(trg_cron_parse(expr, &c, err, sizeof err), "\"%s\" does not parse: %s", expr, err);
    return trg_cron_next(&c, from);
}

int main(void)
{
    static const char *const good[] = {
        "* * * * *",     "*/5 * * * *", "0 0 * * *", "0 12 * * mon-fri", "15,45 8-18/2 1 jan,jul *",
        "*/2 * * * * *", "0 0 0 1 1 *", "0 0 * * 7", "5/10 * * * *",     "  0   0 * *  *  ",
    };
    static const char *const bad[] = {
        "",
        "* * * *",
        "* * * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "*/0 * * * *",
        "a * * * *",
        "1-0 * * * *",
        "1,,2 * * * *",
        "-1 * * * *",
        "* * * * * 60",
        "1- * * * *",
        "*/x * * * *",
        "0 0 * * funday",
    };
    trg_cron c;
    char err[128];
    int64_t t0 = at(2026, 11, 23, 10, 7, 30);

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK(trg_cron_parse(good[i], &c, err, sizeof err), "\"%s\" should parse: %s", good[i],
              err);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!trg_cron_parse(bad[i], &c, err, sizeof err), "\"%s\" should be refused", bad[i]);
    CHECK(!trg_cron_parse(NULL, &c, err, sizeof err), "NULL should be refused");

    CHECK_INT(next_of("* * * * *", t0), at(2026, 11, 23, 10, 8, 0), "every minute");
    CHECK_INT(next_of("*/5 * * * *", t0), at(2026, 11, 23, 10, 10, 0), "every 5 minutes");
    CHECK_INT(next_of("0 0 * * *", t0), at(2026, 11, 24, 0, 0, 0), "midnight");
    CHECK_INT(next_of("*/2 * * * * *", t0), at(2026, 11, 23, 10, 7, 32), "every 2 seconds");
    CHECK_INT(next_of("*/2 * * * * *", at(2026, 11, 23, 10, 7, 31) + 999),
              at(2026, 11, 23, 10, 7, 32), "2 s, mid-second");
    CHECK_INT(next_of("0 12 * * mon-fri", at(2026, 11, 27, 13, 0, 0)), at(2026, 11, 30, 12, 0, 0),
              "weekdays (Fri -> Mon)");
    CHECK_INT(next_of("0 0 1 1 *", t0), at(2027, 1, 1, 0, 0, 0), "new year");
    CHECK_INT(next_of("0 0 29 2 *", t0), at(2028, 2, 29, 0, 0, 0), "leap day");
    CHECK_INT(next_of("0 0 30 2 *", t0), -1, "never");
    CHECK_INT(next_of("0 0 * * 7", t0), at(2026, 11, 29, 0, 0, 0), "sunday as 7");
    CHECK_INT(next_of("0 0 13 * fri", t0), at(2026, 11, 27, 0, 0, 0), "day 13 or a friday");
    CHECK_INT(next_of("5/20 * * * *", t0), at(2026, 11, 23, 10, 25, 0), "N/STEP");
    CHECK_INT(next_of("59 23 31 12 *", at(2026, 12, 31, 23, 59, 0)), at(2027, 12, 31, 23, 59, 0),
              "exactly on a tick: the next one");
    return check_done();
}
