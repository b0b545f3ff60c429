/* Logging to stderr, one write per line so lines from several threads never interleave. */
#include "sq/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "squall";
static sq_log_level min_level = SQ_LOG_INFO;
static const char *const names[] = { "debug", "info", "warning", "error" };

void sq_log_init(const char *program)
{
    const char *lvl = getenv("SQ_LOG_LEVEL");
    prog = program;
    if (lvl != NULL)
        for (int i = 0; i < 4; i++)
            if (strcasecmp(lvl, names[i]) == 0 || (i == 2 && strcasecmp(lvl, "warn") == 0))
                min_level = (sq_log_level)i;
}

void sq_log_set_level(sq_log_level lvl)
{
    min_level = lvl;
}

void sq_log(sq_log_level lvl, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n, m;

    if (lvl < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line,
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, prog,
                 names[lvl]);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}
