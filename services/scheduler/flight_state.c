/* The decisions of an in-flight activation's life (see flight_state.h): which state an
 * event moves it to and what must happen. The table, the locks, the clock and the bus stay
 * in flight.c. */
#include "flight_state.h"

sched_fl sched_fl_new(bool blocking, int slot, int64_t now_ms, int64_t now_wall_ms,
                      int64_t deadline_ms, int64_t timeout_ms)
{
    sched_fl f = {
        .state = slot < 0   ? SCHED_FL_LOCAL
                 : blocking ? SCHED_FL_SENT
                            : SCHED_FL_PUBLISHING,
        .slot = slot,
        .sent_wall_ms = now_wall_ms,
        .created_ms = now_ms,
        .deadline_ms = deadline_ms,
        .timeout_ms = timeout_ms,
    };
    return f;
}

static bool non_blocking(const sched_fl *f)
{
    return f->state == SCHED_FL_PUBLISHING || f->state == SCHED_FL_QUEUED ||
           f->state == SCHED_FL_TAKEN;
}

/* What a sweep decides. The order matters: an invoker's incident before the deadline (the
 * record says why), the deadline before the polls. */
static sched_fl_action sweep(const sched_fl *f, const sched_fl_event *ev,
                             const sched_fl_limits *lim)
{
    bool restarted = ev->incident && ev->incident_since != 0;
    sched_fl_action lost = restarted ? SCHED_FA_LOST_RESTARTED : SCHED_FA_LOST_STOPPED;

    if (ev->incident && f->slot >= 0) {
        /* blocking work in hand is lost either way; taken work is lost when the process
         * that took it is gone (a restart: only work taken before the new one started) */
        if (f->state == SCHED_FL_SENT)
            return lost;
        if (f->state == SCHED_FL_TAKEN && (!restarted || f->taken_wall_ms < ev->incident_since))
            return lost;
        /* queued work of a stopped invoker: lost only if it had been taken meanwhile */
        if (f->state == SCHED_FL_QUEUED && !restarted)
            return SCHED_FA_ASK;
    }
    if (f->deadline_ms != 0 && ev->now_ms >= f->deadline_ms)
        return SCHED_FA_LOST_TIMEOUT;
    if (f->state == SCHED_FL_PUBLISHING && ev->waiting &&
        ev->now_ms - f->created_ms > lim->unacked_after_ms)
        return SCHED_FA_UNACKED;
    if (f->state == SCHED_FL_QUEUED && ev->poll && f->slot >= 0)
        return SCHED_FA_POLL;
    return SCHED_FA_NONE;
}

sched_fl_action sched_fl_step(sched_fl *f, const sched_fl_event *ev, const sched_fl_limits *lim)
{
    switch (ev->kind) {
    case SCHED_FE_ACKED:
        if (f->state != SCHED_FL_PUBLISHING || ev->seq == 0)
            return SCHED_FA_NONE;
        f->state = SCHED_FL_QUEUED;
        f->seq = ev->seq;
        return SCHED_FA_ANSWER;
    case SCHED_FE_FLOOR:
        /* taken: from now on it has its time limit */
        if (f->state != SCHED_FL_QUEUED || f->seq > ev->seq)
            return SCHED_FA_NONE;
        f->state = SCHED_FL_TAKEN;
        f->taken_wall_ms = ev->now_wall_ms;
        f->deadline_ms = ev->now_ms + f->timeout_ms + lim->grace_ms;
        return SCHED_FA_NONE;
    case SCHED_FE_MOVED:
        if (!non_blocking(f))
            return SCHED_FA_NONE;
        f->state = ev->seq != 0 ? SCHED_FL_QUEUED : SCHED_FL_PUBLISHING;
        f->slot = ev->slot;
        f->seq = ev->seq;
        f->taken_wall_ms = 0;
        f->deadline_ms = 0;
        return SCHED_FA_NONE;
    case SCHED_FE_SWEEP: return sweep(f, ev, lim);
    }
    return SCHED_FA_NONE;
}

sched_fl_where sched_fl_where_of(uint64_t seq, uint64_t floor, uint64_t delivered)
{
    if (seq <= floor)
        return SCHED_WHERE_TAKEN;
    if (seq > delivered)
        return SCHED_WHERE_QUEUED;
    return SCHED_WHERE_UNKNOWN;
}

const char *sched_fl_state_name(sched_fl_state s)
{
    switch (s) {
    case SCHED_FL_LOCAL: return "local";
    case SCHED_FL_SENT: return "sent";
    case SCHED_FL_PUBLISHING: return "publishing";
    case SCHED_FL_QUEUED: return "queued";
    case SCHED_FL_TAKEN: return "taken";
    }
    return "?";
}
