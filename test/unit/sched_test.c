/* Unit tests of the scheduler's decisions, without NATS: the life of an in-flight
 * activation (flight_state.c: every state, every event, the order of the sweep's verdicts,
 * the consumer-state shortcut), and placement (placement.c: the home invoker by hash over
 * the sorted healthy ids, spill to the roomiest share, fair shares between copies, dead and
 * restarted invokers as incidents). Times are made up: the decisions take them as inputs. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "proto/proto.h"
#include "sq/json.h"
#include "sq/mp.h"
#include "services/scheduler/compose.h"
#include "services/scheduler/flight_state.h"
#include "services/scheduler/sched.h"

static const sched_fl_limits LIM = { .grace_ms = 1000, .unacked_after_ms = 15000 };

static sched_fl_action sweep(sched_fl *f, int64_t now, bool incident, int64_t since, bool poll,
                             bool waiting)
{
    sched_fl_event ev = { .kind = SCHED_FE_SWEEP,
                          .now_ms = now,
                          .incident = incident,
                          .incident_since = since,
                          .poll = poll,
                          .waiting = waiting };
    return sched_fl_step(f, &ev, &LIM);
}

static sched_fl_action event(sched_fl *f, sched_fl_event_kind k, int64_t now, int64_t wall,
                             uint64_t seq, int slot)
{
    sched_fl_event ev = { .kind = k, .now_ms = now, .now_wall_ms = wall, .seq = seq, .slot = slot };
    return sched_fl_step(f, &ev, &LIM);
}

static void new_states(void)
{
    SECTION("a new entry's state");
    CHECK_INT(sched_fl_new(true, 2, 0, 0, 100, 60).state, SCHED_FL_SENT, "blocking, placed");
    CHECK_INT(sched_fl_new(false, 2, 0, 0, 0, 60).state, SCHED_FL_PUBLISHING, "non-blocking");
    CHECK_INT(sched_fl_new(true, -1, 0, 0, 0, 60).state, SCHED_FL_LOCAL, "composition, blocking");
    CHECK_INT(sched_fl_new(false, -1, 0, 0, 0, 60).state, SCHED_FL_LOCAL, "composition");
    CHECK_STR(sched_fl_state_name(SCHED_FL_TAKEN), "taken", "name");
}

static void blocking(void)
{
    sched_fl f;
    SECTION("blocking: lost to its invoker or its deadline");
    f = sched_fl_new(true, 1, 1000, 50000, 5000, 3000);
    CHECK_INT(sweep(&f, 1500, false, 0, true, true), SCHED_FA_NONE, "running");
    CHECK_INT(sweep(&f, 1500, true, 0, true, true), SCHED_FA_LOST_STOPPED, "invoker stopped");
    CHECK_INT(sweep(&f, 1500, true, 60000, true, true), SCHED_FA_LOST_RESTARTED,
              "invoker restarted");
    CHECK_INT(sweep(&f, 5000, false, 0, false, true), SCHED_FA_LOST_TIMEOUT, "deadline reached");
    CHECK_INT(sweep(&f, 4999, false, 0, false, true), SCHED_FA_NONE, "1 ms before");
    /* the incident says more than the deadline: it wins */
    CHECK_INT(sweep(&f, 9000, true, 0, false, true), SCHED_FA_LOST_STOPPED, "both: the incident");
    /* it never acknowledged anything, never moves, is never polled */
    CHECK_INT(event(&f, SCHED_FE_ACKED, 1200, 0, 7, 0), SCHED_FA_NONE, "ack ignored");
    CHECK_INT(event(&f, SCHED_FE_MOVED, 1200, 0, 7, 3), SCHED_FA_NONE, "move ignored");
    CHECK_INT(event(&f, SCHED_FE_FLOOR, 1200, 0, 99, 0), SCHED_FA_NONE, "floor ignored");
    CHECK(f.state == SCHED_FL_SENT && f.slot == 1 && f.deadline_ms == 5000, "unchanged");

    SECTION("a composition run here is never lost by the sweep");
    f = sched_fl_new(true, -1, 0, 0, 0, 3000);
    CHECK_INT(sweep(&f, 1 << 30, true, 0, true, true), SCHED_FA_NONE, "local");
}

static void non_blocking(void)
{
    sched_fl f = sched_fl_new(false, 4, 1000, 50000, 0, 3000);

    SECTION("non-blocking: publishing");
    CHECK_INT(sweep(&f, 1000 + 15000, false, 0, true, true), SCHED_FA_NONE, "not yet unacked");
    CHECK_INT(sweep(&f, 1000 + 15001, false, 0, true, true), SCHED_FA_UNACKED, "unacked");
    CHECK_INT(sweep(&f, 1000 + 15001, false, 0, true, false), SCHED_FA_NONE,
              "nobody waits: the record or the deadline decides");
    CHECK_INT(sweep(&f, 2000, true, 0, true, true), SCHED_FA_NONE,
              "an incident before the ack: nothing was stored yet to ask about");
    CHECK_INT(event(&f, SCHED_FE_ACKED, 1100, 0, 0, 0), SCHED_FA_NONE, "refused (seq 0)");
    CHECK_INT(f.state, SCHED_FL_PUBLISHING, "still publishing");
    CHECK_INT(event(&f, SCHED_FE_ACKED, 1100, 0, 42, 0), SCHED_FA_ANSWER, "acked: answer");
    CHECK(f.state == SCHED_FL_QUEUED && f.seq == 42, "queued at 42");
    CHECK_INT(event(&f, SCHED_FE_ACKED, 1100, 0, 43, 0), SCHED_FA_NONE, "a second ack");
    CHECK_INT(f.seq, 42, "seq kept");

    SECTION("non-blocking: queued");
    CHECK_INT(sweep(&f, 1 << 30, false, 0, false, false), SCHED_FA_NONE,
              "queued work has no deadline");
    CHECK_INT(sweep(&f, 3000, false, 0, true, false), SCHED_FA_POLL, "poll round");
    CHECK_INT(sweep(&f, 3000, true, 0, false, false), SCHED_FA_ASK, "invoker stopped: ask");
    CHECK_INT(sweep(&f, 3000, true, 60000, true, false), SCHED_FA_POLL,
              "invoker restarted: the new process takes it");
    CHECK_INT(event(&f, SCHED_FE_FLOOR, 3000, 60000, 41, 0), SCHED_FA_NONE, "floor below");
    CHECK_INT(f.state, SCHED_FL_QUEUED, "still queued");
    CHECK_INT(event(&f, SCHED_FE_FLOOR, 3000, 60000, 42, 0), SCHED_FA_NONE, "floor reached");
    CHECK_INT(f.state, SCHED_FL_TAKEN, "taken");
    CHECK_INT(f.deadline_ms, 3000 + 3000 + 1000, "deadline: time limit + grace from now");
    CHECK_INT(f.taken_wall_ms, 60000, "taken at (wall)");

    SECTION("non-blocking: taken");
    CHECK_INT(sweep(&f, 3500, false, 0, true, false), SCHED_FA_NONE, "running, not polled");
    CHECK_INT(sweep(&f, 7000, false, 0, true, false), SCHED_FA_LOST_TIMEOUT, "deadline");
    CHECK_INT(sweep(&f, 3500, true, 0, false, false), SCHED_FA_LOST_STOPPED, "invoker stopped");
    CHECK_INT(sweep(&f, 3500, true, 60001, false, false), SCHED_FA_LOST_RESTARTED,
              "restarted after it was taken");
    CHECK_INT(sweep(&f, 3500, true, 60000, false, false), SCHED_FA_NONE,
              "restarted before it was taken: the new process has it");
    CHECK_INT(event(&f, SCHED_FE_FLOOR, 5000, 70000, 50, 0), SCHED_FA_NONE, "floor again");
    CHECK_INT(f.deadline_ms, 7000, "deadline not pushed back");

    SECTION("non-blocking: moved to another invoker");
    CHECK_INT(event(&f, SCHED_FE_MOVED, 8000, 0, 77, 9), SCHED_FA_NONE, "moved");
    CHECK(f.state == SCHED_FL_QUEUED && f.slot == 9 && f.seq == 77 && f.deadline_ms == 0 &&
              f.taken_wall_ms == 0,
          "queued again on 9 at 77, no deadline");
    CHECK_INT(sweep(&f, 1 << 30, false, 0, false, false), SCHED_FA_NONE, "no deadline");
}

static void where(void)
{
    SECTION("the consumer state: taken, queued or ask the stream");
    CHECK_INT(sched_fl_where_of(5, 5, 9), SCHED_WHERE_TAKEN, "at the floor");
    CHECK_INT(sched_fl_where_of(4, 5, 9), SCHED_WHERE_TAKEN, "below the floor");
    CHECK_INT(sched_fl_where_of(10, 5, 9), SCHED_WHERE_QUEUED, "beyond the last delivery");
    CHECK_INT(sched_fl_where_of(7, 5, 9), SCHED_WHERE_UNKNOWN, "delivered, not acked");
    CHECK_INT(sched_fl_where_of(7, 0, UINT64_MAX), SCHED_WHERE_UNKNOWN, "no consumer info");
}

/* ---- placement ----------------------------------------------------------------------------- */

static void beat(sched_invokers *iv, const char *id, int64_t total, int64_t started, bool healthy,
                 int64_t now)
{
    sq_heartbeat hb = { .id = (char *)id,
                        .total_mb = total,
                        .free_mb = total,
                        .started = started,
                        .healthy = healthy };
    sched_invokers_update(iv, &hb, now);
}

static const char *place(sched_invokers *iv, uint64_t hash, int64_t mem, int64_t now, int copies)
{
    static sched_target t;
    if (!sched_place(iv, hash, mem, now, 3000, copies, &t))
        return NULL;
    return t.id;
}

static int slot_of(sched_invokers *iv, uint64_t hash, int64_t now)
{
    sched_target t;
    return sched_place(iv, hash, 1, now, 3000, 1, &t) ? t.slot : -1;
}

static void placement(void)
{
    sched_invokers *iv = sched_invokers_create();
    sched_incident inc[8];

    SECTION("placement: none healthy");
    CHECK(place(iv, 1, 128, 0, 1) == NULL, "no invoker");
    beat(iv, "inv-b", 1024, 100, false, 0);
    CHECK(place(iv, 1, 128, 0, 1) == NULL, "only an unhealthy one");

    SECTION("placement: the home invoker is hash mod the sorted healthy ids");
    beat(iv, "inv-b", 1024, 100, true, 0);
    beat(iv, "inv-a", 1024, 100, true, 0);
    beat(iv, "inv-c", 1024, 100, true, 0);
    CHECK_STR(place(iv, 0, 128, 10, 1), "inv-a", "hash 0");
    CHECK_STR(place(iv, 1, 128, 10, 1), "inv-b", "hash 1");
    CHECK_STR(place(iv, 5, 128, 10, 1), "inv-c", "hash 5");

    SECTION("placement: spill to the roomiest share when home is full");
    sched_invokers_charge(iv, slot_of(iv, 0, 10), 1000); /* inv-a nearly full */
    sched_invokers_charge(iv, slot_of(iv, 1, 10), 200);  /* inv-b has 824 */
    CHECK_STR(place(iv, 0, 128, 10, 1), "inv-c", "spilled to the roomiest (inv-c, 1024)");
    CHECK_STR(place(iv, 0, 24, 10, 1), "inv-a", "fits at home");
    sched_invokers_charge(iv, slot_of(iv, 2, 10), 1000); /* inv-c nearly full too */
    CHECK_STR(place(iv, 0, 900, 10, 1), "inv-a", "no share has room: home anyway");
    CHECK_STR(place(iv, 0, 800, 10, 1), "inv-b", "inv-b's share has room");

    SECTION("placement: fair shares between scheduler copies");
    /* two copies: each may fill 512 MB of an invoker; inv-b holds 200 of ours */
    CHECK_STR(place(iv, 1, 300, 10, 2), "inv-b", "312 left of 512");
    CHECK_STR(place(iv, 1, 400, 10, 2), "inv-b", "full everywhere: home");
    sched_invokers_charge(iv, slot_of(iv, 0, 10), -1000);
    CHECK_STR(place(iv, 1, 400, 10, 2), "inv-a", "inv-a has 512 again");

    SECTION("placement: silent and restarted invokers");
    CHECK_INT(sched_invokers_incidents(iv, 10, 3000, inc, 8), 0, "no incident");
    beat(iv, "inv-a", 1024, 100, true, 2000);
    beat(iv, "inv-b", 1024, 500, true, 2000); /* a new process */
    CHECK_INT(sched_invokers_incidents(iv, 2000, 3000, inc, 8), 1, "the restart");
    CHECK(strcmp(inc[0].id, "inv-b") == 0 && inc[0].since == 500, "inv-b since 500");
    CHECK_INT(sched_invokers_incidents(iv, 2000, 3000, inc, 8), 0, "reported once");
    /* inv-c silent past the TTL: dead, an incident, no longer placed on */
    CHECK_INT(sched_invokers_incidents(iv, 4000, 3000, inc, 8), 1, "inv-c declared dead");
    CHECK(strcmp(inc[0].id, "inv-c") == 0 && inc[0].since == 0, "inv-c stopped");
    CHECK_STR(place(iv, 5, 1, 4000, 1), "inv-b", "2 healthy now: hash 5 -> inv-b");
    CHECK_INT(sched_invokers_slot(iv, "inv-c") >= 0, 1, "its slot stays known");
    CHECK_INT(sched_invokers_slot(iv, "nope"), -1, "unknown id");
    {
        char longid[120];
        memset(longid, 'x', sizeof longid - 1);
        longid[sizeof longid - 1] = '\0';
        beat(iv, longid, 1024, 1, true, 4000);
        CHECK_INT(sched_invokers_count(iv), 3, "an id too long is ignored");
    }
    sched_invokers_destroy(iv);
}

/* ---- compositions ------------------------------------------------------------------------- */

static msgpack_zone Z;

static msgpack_object obj(const char *json)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_NIL };
    json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *copy;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (j != NULL)
        sq_json_to_mp(j, &pk);
    json_decref(j);
    copy = msgpack_zone_malloc(&Z, sb.size ? sb.size : 1);
    memcpy(copy, sb.data, sb.size);
    if (sb.size == 0 || sq_mp_unpack(copy, sb.size, &Z, &o) != SQ_OK)
        fprintf(stderr, "bad JSON in test: %s\n", json);
    msgpack_sbuffer_destroy(&sb);
    return o;
}

static const char *text(const msgpack_object *o)
{
    static char buf[1024];
    json_t *j = o ? sq_mp_to_json(o) : NULL;
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, sizeof buf, "%s", s ? s : "NULL");
    free(s);
    json_decref(j);
    return buf;
}

static const char *fqn(const char *s, bool relative)
{
    static char out[900];
    char ns[300], name[520];
    if (!sched_parse_fqn(s, strlen(s), relative, "me", ns, sizeof ns, name, sizeof name))
        return "refused";
    snprintf(out, sizeof out, "%s|%s", ns, name);
    return out;
}

static void compositions(void)
{
    msgpack_sbuffer state;
    msgpack_packer pk;
    msgpack_object res, out;
    sched_conductor_ask ask;

    SECTION("sequence and conductor action names");
    CHECK_STR(fqn("/ns/act", false), "ns|act", "/ns/name");
    CHECK_STR(fqn("/ns/pkg/act", false), "ns|pkg/act", "/ns/pkg/name");
    CHECK_STR(fqn("/_/act", false), "me|act", "_ is the caller's namespace");
    CHECK_STR(fqn("act", false), "refused", "relative, not allowed in a sequence");
    CHECK_STR(fqn("act", true), "me|act", "relative (conductor)");
    CHECK_STR(fqn("pkg/act", true), "me|pkg/act", "relative with a package");
    CHECK_STR(fqn("a/b/c", true), "refused", "relative, three parts");
    CHECK_STR(fqn("/ns", false), "refused", "namespace only");
    CHECK_STR(fqn("/a/b/c/d", false), "refused", "four parts");
    CHECK_STR(fqn("/ns/bad name!", false), "refused", "a name OpenWhisk refuses");
    CHECK_STR(fqn("", true), "refused", "empty");

    SECTION("a conductor's result");
    res = obj("{\"action\":\"/ns/a\",\"params\":{\"x\":1},\"state\":{\"n\":2}}");
    sched_conductor_parse(&res, &ask);
    CHECK(ask.action && ask.params && ask.state, "all three");
    CHECK_STR(text(ask.action), "\"/ns/a\"", "action");
    res = obj("{\"action\":null,\"params\":{\"x\":1}}");
    sched_conductor_parse(&res, &ask);
    CHECK(ask.action == NULL && ask.params != NULL && ask.state == NULL, "null action: the end");
    res = obj("[1,2]");
    sched_conductor_parse(&res, &ask);
    CHECK(ask.action == NULL && ask.params == NULL, "not a map: the end with it");

    SECTION("boxing and the conductor's state");
    msgpack_sbuffer_init(&state);
    msgpack_packer_init(&pk, &state, msgpack_sbuffer_write);
    res = obj("5");
    sq_boxed_encode(&pk, "state", &res);
    res = obj("{\"a\":1,\"state\":0}");
    CHECK(sched_with_state(&state, &res, &Z, &out), "merged");
    CHECK_STR(text(&out), "{\"a\":1,\"state\":5}", "a scalar state is boxed, it wins");
    state.size = 0;
    CHECK(sched_with_state(&state, &res, &Z, &out), "no state");
    CHECK_STR(text(&out), "{\"a\":1,\"state\":0}", "the result as it is");
    res = obj("[1]");
    CHECK(sched_with_state(&state, &res, &Z, &out), "array, no state");
    CHECK_STR(text(&out), "{}", "a result that is no map: {}");
    res = obj("{\"keep\":true,\"n\":1}");
    state.size = 0;
    {
        msgpack_object st = obj("{\"n\":7,\"m\":8}");
        sq_boxed_encode(&pk, "state", &st);
    }
    CHECK(sched_with_state(&state, &res, &Z, &out), "map state");
    CHECK_STR(text(&out), "{\"keep\":true,\"n\":7,\"m\":8}", "state on top of the result");
    msgpack_sbuffer_destroy(&state);

    SECTION("a component record's memory");
    {
        sq_activation a = { 0 };
        a.annotations = obj("[{\"key\":\"kind\",\"value\":\"nodejs:20\"},"
                            "{\"key\":\"limits\",\"value\":{\"memory\":256,\"timeout\":60000}}]");
        CHECK_INT(sched_record_memory(&a), 256, "limits.memory");
        a.annotations = obj("[{\"key\":\"limits\",\"value\":{}}]");
        CHECK_INT(sched_record_memory(&a), 0, "none");
        a.annotations = obj("{}");
        CHECK_INT(sched_record_memory(&a), 0, "not an array");
    }
}

int main(void)
{
    msgpack_zone_init(&Z, 4096);
    sched_cfg.heartbeat_ttl_ms = 3000;
    new_states();
    blocking();
    non_blocking();
    where();
    placement();
    compositions();
    msgpack_zone_destroy(&Z);
    return check_done();
}
