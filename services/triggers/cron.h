/* Cron expressions of the alarms feed (see cron.c). */
#ifndef SQ_TRIGGERS_CRON_H
#define SQ_TRIGGERS_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One bit per allowed value of each field. */
typedef struct trg_cron {
    uint64_t sec, min, hour, dom, mon, dow;
    bool seconds; /* six fields */
    bool dom_star, dow_star;
} trg_cron;

/* Parses expr into *c; false with a message in err when it is not a valid expression. */
bool trg_cron_parse(const char *expr, trg_cron *c, char *err, size_t errlen);
/* The first tick strictly after after_ms (ms since the epoch, UTC), or -1 when none within
 * two centuries (say "0 0 30 2 *"). */
int64_t trg_cron_next(const trg_cron *c, int64_t after_ms);

#endif
