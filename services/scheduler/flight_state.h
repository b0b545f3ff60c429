/* The life of one in-flight activation as a state machine, apart from the table that holds
 * it and from NATS: flight.c feeds it events (JetStream acknowledged the work, the work was
 * taken or moved, a sweep of the table) and carries out the action it returns (answer the
 * caller, record the activation as lost, ask the stream, poll an ack floor). Pure: no
 * clock, no lock, no I/O, so test/unit/sched_test.c drives every transition.
 *
 *   blocking, on an invoker:  SENT ──record──▶ (gone)      lost: invoker stopped/restarted,
 *                                                          or past its deadline
 *   a composition run here:   LOCAL ──record──▶ (gone)     never lost here
 *   non-blocking:             PUBLISHING ──ack(seq)──▶ QUEUED ──floor ≥ seq──▶ TAKEN
 *                             PUBLISHING: unacked too long → the caller is told it failed
 *                             QUEUED: invoker stopped → ASK the stream whether it was taken
 *                             QUEUED/TAKEN ──moved(slot, seq)──▶ QUEUED on another invoker
 *                             TAKEN: lost like SENT (restart: only if taken before it) */
#ifndef SCHED_FLIGHT_STATE_H
#define SCHED_FLIGHT_STATE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum sched_fl_state {
    SCHED_FL_LOCAL,      /* no invoker: a sequence or conductor run by this copy */
    SCHED_FL_SENT,       /* blocking: sent to an invoker, its caller waits for the record */
    SCHED_FL_PUBLISHING, /* non-blocking: published to SQ_WORK, not acknowledged yet */
    SCHED_FL_QUEUED,     /* non-blocking: stored in SQ_WORK at seq, not taken yet */
    SCHED_FL_TAKEN,      /* non-blocking: its invoker's consumer acknowledged past seq */
} sched_fl_state;

/* The state of one activation and the times its transitions depend on. */
typedef struct sched_fl {
    sched_fl_state state;
    int slot;              /* its invoker (-1: none) */
    uint64_t seq;          /* QUEUED, TAKEN: the work's sequence in SQ_WORK */
    int64_t sent_wall_ms;  /* wall clock: when it was sent (restart incidents compare it) */
    int64_t taken_wall_ms; /* wall clock: when this copy saw it taken */
    int64_t created_ms;    /* monotonic */
    int64_t deadline_ms;   /* monotonic; 0: none (yet) */
    int64_t timeout_ms;    /* its action's time limit */
} sched_fl;

typedef enum sched_fl_event_kind {
    SCHED_FE_ACKED, /* JetStream stored the work at seq */
    SCHED_FE_FLOOR, /* its invoker's work consumer acknowledged everything up to seq */
    SCHED_FE_MOVED, /* the queued work now waits at seq for invoker slot */
    SCHED_FE_SWEEP, /* the periodic look at the table */
} sched_fl_event_kind;

typedef struct sched_fl_event {
    sched_fl_event_kind kind;
    int64_t now_ms;      /* monotonic */
    int64_t now_wall_ms; /* wall clock */
    uint64_t seq;        /* ACKED, MOVED: the work's sequence; FLOOR: the ack floor */
    int slot;            /* MOVED: the new invoker */
    /* SWEEP: */
    bool incident;          /* its invoker stopped (incident_since 0) or restarted */
    int64_t incident_since; /* wall clock of the restart; 0: it stopped */
    bool poll;              /* ack floors are polled this round */
    bool waiting;           /* a caller waits for the queueing (PUBLISHING) */
} sched_fl_event;

typedef enum sched_fl_action {
    SCHED_FA_NONE,
    SCHED_FA_ANSWER,         /* ACKED: answer the caller waiting for the queueing */
    SCHED_FA_LOST_STOPPED,   /* record as lost: the invoker stopped */
    SCHED_FA_LOST_RESTARTED, /* record as lost: the invoker restarted */
    SCHED_FA_LOST_TIMEOUT,   /* record as lost: past its time limit and the grace */
    SCHED_FA_UNACKED,        /* JetStream never acknowledged: the caller is told it failed */
    SCHED_FA_ASK,            /* its invoker stopped: was the work taken? (sched_fl_where) */
    SCHED_FA_POLL,           /* its invoker's ack floor should be polled (FLOOR follows) */
} sched_fl_action;

/* The settings the decisions depend on. */
typedef struct sched_fl_limits {
    int64_t grace_ms;         /* added to an action's time limit before it is lost */
    int64_t unacked_after_ms; /* PUBLISHING this long: JetStream never answered */
} sched_fl_limits;

/* A new entry: blocking with slot >= 0 is SENT, slot < 0 LOCAL, else PUBLISHING. */
sched_fl sched_fl_new(bool blocking, int slot, int64_t now_ms, int64_t now_wall_ms,
                      int64_t deadline_ms, int64_t timeout_ms);

/* Applies ev to *f (which it updates) and returns what the caller must do. An action
 * LOST_* or UNACKED means the entry leaves the table; an event that does not apply in the
 * current state (an ack of work already taken, a move of a blocking activation) changes
 * nothing and returns NONE. */
sched_fl_action sched_fl_step(sched_fl *f, const sched_fl_event *ev, const sched_fl_limits *lim);

/* Where an invoker's work consumer says the work at seq is: at or below its ack floor it
 * was taken, beyond the last delivery it was not, in between only the stream can tell. */
typedef enum sched_fl_where {
    SCHED_WHERE_UNKNOWN, /* ask the stream */
    SCHED_WHERE_TAKEN,
    SCHED_WHERE_QUEUED,
} sched_fl_where;
sched_fl_where sched_fl_where_of(uint64_t seq, uint64_t floor, uint64_t delivered);

/* The state's name, for logs and tests. */
const char *sched_fl_state_name(sched_fl_state s);

#endif
