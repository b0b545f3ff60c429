/* Unit test of the activation store's stream sweep decision (services/activations/sweep.c,
 * act_sweep_below()): below which stream sequence every consumer of SQ_ACTIVATIONS is past
 * the records, from consumer infos as nats-server gives them, without NATS. The case that
 * lost records: a consumer leader on a copy of the stream that is still catching up says
 * "nothing pending, nothing awaiting acknowledgement, delivered 0, acknowledged 0" while the
 * stream's leader holds 60 000 records (measured on nats-server 2.9.10, three nodes, the
 * consumer's leader stepped down onto the node that had just come back). */
#include <stdint.h>
#include <string.h>

#include "act.h"
#include "check.h"

act_config act_cfg; /* sweep.c's sweeper thread reads it; the decision does not */

static jsClusterInfo led = { .Name = "sqc", .Leader = "n1" };
static jsClusterInfo electing = { .Name = "sqc", .Leader = NULL };
static jsClusterInfo empty_leader = { .Name = "sqc", .Leader = "" };

static jsConsumerInfo consumer(const char *name, uint64_t floor, uint64_t delivered,
                               uint64_t pending, int64_t ack_pending, jsClusterInfo *cluster)
{
    jsConsumerInfo ci;
    memset(&ci, 0, sizeof ci);
    ci.Name = (char *)name;
    ci.AckFloor.Stream = floor;
    ci.Delivered.Stream = delivered;
    ci.NumPending = pending;
    ci.NumAckPending = ack_pending;
    ci.Cluster = cluster;
    return ci;
}

static uint64_t below(jsConsumerInfo *cs, int n, uint64_t last, bool *store_seen)
{
    jsConsumerInfo *list[8];
    jsConsumerInfoList cl = { .List = list, .Count = n };
    const jsConsumerInfo *store = NULL;
    for (int i = 0; i < n; i++)
        list[i] = &cs[i];
    uint64_t b = act_sweep_below(&cl, last, &store);
    *store_seen = store != NULL;
    return b;
}

int main(void)
{
    bool seen;

    SECTION("the store's consumer on a lagging copy: nothing purged");
    {
        jsConsumerInfo cs[] = { consumer("activations", 0, 0, 0, 0, &led) };
        CHECK_INT(below(cs, 1, 60000, &seen), 1, "below the first record");
        CHECK(seen, "store seen");
    }
    {
        jsConsumerInfo cs[] = { consumer("activations", 1200, 1500, 0, 0, &led),
                                consumer("sched-ordered", 3000, 3000, 0, 0, &led) };
        CHECK_INT(below(cs, 2, 60000, &seen), 1201,
                  "its acknowledgement floor, not the stream's end");
    }

    SECTION("the store's consumer counts by its acknowledgement floor");
    {
        jsConsumerInfo cs[] = { consumer("activations", 500, 520, 3, 20, &led) };
        CHECK_INT(below(cs, 1, 523, &seen), 501, "floor + 1");
    }
    {
        jsConsumerInfo cs[] = { consumer("activations", 523, 523, 0, 0, NULL) };
        CHECK_INT(below(cs, 1, 523, &seen), 524, "all acknowledged (single server)");
    }
    {
        jsConsumerInfo cs[] = { consumer("activations", 700, 650, 0, 0, NULL) };
        CHECK_INT(below(cs, 1, 900, &seen), 651, "never past what it was delivered");
    }

    SECTION("other consumers: nothing pending counts as past the end");
    {
        jsConsumerInfo cs[] = { consumer("activations", 900, 900, 0, 0, &led),
                                consumer("dead-letter", 100, 400, 0, 0, &led) };
        CHECK_INT(below(cs, 2, 900, &seen), 901, "a consumer that gave up on records");
    }
    {
        jsConsumerInfo cs[] = { consumer("activations", 900, 900, 0, 0, &led),
                                consumer("sched-away", 100, 100, 800, 0, &led) };
        CHECK_INT(below(cs, 2, 900, &seen), 101, "a consumer that has not had them keeps them");
    }

    SECTION("no purge without the store's consumer, or with a consumer without a leader");
    {
        jsConsumerInfo cs[] = { consumer("sched-ordered", 900, 900, 0, 0, &led) };
        CHECK_INT(below(cs, 1, 900, &seen), 0, "store not listed");
        CHECK(!seen, "store not seen");
    }
    {
        jsConsumerInfo cs[] = { consumer(NULL, 0, 0, 0, 0, &electing),
                                consumer("activations", 900, 900, 0, 0, &led) };
        CHECK_INT(below(cs, 2, 900, &seen), 0,
                  "an offline consumer listed with zeroed figures (no name, no leader)");
    }
    {
        jsConsumerInfo cs[] = { consumer("activations", 900, 900, 0, 0, &empty_leader) };
        CHECK_INT(below(cs, 1, 900, &seen), 0, "the store's consumer electing");
    }
    {
        jsConsumerInfo cs[] = { consumer("activations", 900, 900, 0, 0, &led),
                                consumer("sched-ordered", 900, 900, 0, 0, &electing) };
        CHECK_INT(below(cs, 2, 900, &seen), 0, "another consumer electing");
    }
    {
        jsConsumerInfoList cl = { .List = NULL, .Count = 0 };
        const jsConsumerInfo *store = (const jsConsumerInfo *)&cl;
        CHECK_INT(act_sweep_below(&cl, 900, &store), 0, "no consumer");
        CHECK(store == NULL, "store reset");
    }
    return check_done();
}
