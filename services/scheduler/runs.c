/* Compositions in progress, kept where the other copies can see them. A sequence or a
 * conductor action runs in the memory of the copy that admitted it (seq.c); if that copy
 * dies, nobody would ever write the composition's record. So each copy notes every
 * composition it starts in the JetStream key-value bucket SQ_RUNS (key: the activation id;
 * value: what its record needs, and the owner's copy id) and deletes the key once the
 * record is published. Every ten seconds each copy looks at the bucket: a key whose owner
 * has not beaten for the heartbeat TTL (a copy that stopped; a restarted copy has a new id)
 * and that is older than that is recorded as "whisk internal error" (Nats-Msg-Id = the id,
 * so the first record of the activation stands, as everywhere) and deleted. The bucket
 * keeps one message per key (History 1) for at most a day, delete markers included: they
 * are not purged early (kvStore_PurgeDeletes() of this libnats leaks the live entries it
 * walks over), a day of them is a few bytes per composition.
 *
 * The value is private to the scheduler (no other service reads it): a msgpack map {owner,
 * start, ns, name, version, subject, path, timeout, memory, logs, cause}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/js.h"
#include "sched.h"
#include "sq/log.h"

#define BUCKET "SQ_RUNS"
#define SWEEP_EVERY_MS 10000

static kvStore *kv;

sq_status sched_runs_start(sched *s)
{
    kvConfig cfg;
    natsStatus st;

    /* the bus's plain JetStream context: the key-value store wants none of s->js's async acks */
    kvConfig_Init(&cfg);
    cfg.Bucket = BUCKET;
    cfg.Description = "squall-scheduler: compositions in progress";
    cfg.History = 1;
    cfg.TTL = 24LL * 3600 * 1000000000LL;
    cfg.StorageType = js_FileStorage;
    st = sq_js_kv_open(&kv, sq_bus_js(s->bus), &cfg); /* with SQ_JS_REPLICAS */
    if (st != NATS_OK) {
        sq_error("could not open the key-value bucket \"%s\": %s", BUCKET, natsStatus_GetText(st));
        return SQ_ERR_UNAVAILABLE;
    }
    return SQ_OK;
}

void sched_runs_stop(sched *s)
{
    kvStore_Destroy(kv);
    kv = NULL;
}

void sched_run_begin(sched *s, const sched_flight_info *info, int64_t start_ms)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    natsStatus st;

    if (kv == NULL)
        return;
    sq_run_note note = { .owner = s->self,
                         .start = start_ms,
                         .ns = (char *)info->ns,
                         .name = (char *)info->name,
                         .version = (char *)info->version,
                         .subject = (char *)info->subject,
                         .path = (char *)info->path,
                         .limits = info->limits,
                         .cause = (char *)info->cause,
                         .caused_by = (char *)(info->caused_by ? info->caused_by : ""),
                         .binding = (char *)info->binding };
    sq_proto_buf_init(&sb, &pk);
    sq_run_note_encode(&note, &pk);
    if ((st = kvStore_Put(NULL, kv, info->id, sb.data, (int)sb.size)) != NATS_OK)
        sq_warn("could not note composition \"%s\": %s (it is not recorded should this copy stop)",
                info->id, natsStatus_GetText(st));
    msgpack_sbuffer_destroy(&sb);
}

void sched_run_end(sched *s, const char *id)
{
    if (kv != NULL)
        kvStore_Delete(kv, id);
}

/* Records the orphan composition `key` (its note) as lost. */
static void orphan(sched *s, const char *key, const sq_run_note *n)
{
    sched_flight_info info;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sq_run_note note = *n;
    int64_t start = note.start > 0 ? note.start : sq_now_ms();
    bool dup = false;

    memset(&info, 0, sizeof info);
    info.id = key;
    info.ns = note.ns;
    info.name = note.name;
    info.version = note.version;
    info.subject = note.subject;
    info.path = note.path;
    info.cause = note.cause;
    /* a note written before caused_by was kept: a topmost composition's cause is a trigger's */
    info.caused_by = note.caused_by ? note.caused_by : note.cause[0] ? "trigger" : "";
    info.binding = note.binding;
    info.kind = "sequence";
    info.limits = note.limits;
    if (info.ns[0] != '\0' && sq_id_valid(key)) {
        sq_proto_buf_init(&sb, &pk);
        sched_record_internal(&pk, &info, start,
                              "The scheduler running the composition stopped before it completed.");
        if (sched_record_publish(s, key, info.ns, sb.data, sb.size, &dup) == SQ_OK) {
            if (!dup)
                sq_warn(
                    "recorded composition \"%s\" of \"%s\" as lost: its scheduler (\"%s\") stopped",
                    key, info.path, note.owner[0] ? note.owner : "?");
            kvStore_Delete(kv, key);
        }
        msgpack_sbuffer_destroy(&sb);
    } else {
        kvStore_Delete(kv, key);
    }
}

void sched_runs_sweep(sched *s, int64_t now_ms)
{
    static int64_t last;
    kvWatcher *w = NULL;
    kvWatchOptions wo;
    int64_t now_wall = sq_now_ms();

    if (kv == NULL || now_ms - last < SWEEP_EVERY_MS)
        return;
    last = now_ms;
    /* a watcher over the current value of every key (not kvStore_Keys(), which leaks its
     * entries in the libnats of this platform, and would need a Get per key besides) */
    kvWatchOptions_Init(&wo);
    wo.IgnoreDeletes = true;
    if (kvStore_WatchAll(&w, kv, &wo) != NATS_OK)
        return; /* JetStream is away: next time */
    while (!atomic_load(&s->stopping)) {
        kvEntry *e = NULL;
        msgpack_zone z;
        sq_run_note note;
        if (kvWatcher_Next(&e, w, 2000) != NATS_OK || e == NULL)
            break; /* NULL: every current value has been seen */
        msgpack_zone_init(&z, 512);
        if (sq_run_note_decode(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &z, &note, NULL, 0) ==
                SQ_OK &&
            note.owner[0] != '\0' && note.start > 0) {
            if (!sched_peers_alive(s->peers, note.owner, now_ms) &&
                now_wall - note.start > sched_cfg.heartbeat_ttl_ms + 5000)
                orphan(s, kvEntry_Key(e), &note);
        } else {
            kvStore_Delete(kv, kvEntry_Key(e)); /* not ours to read: gone */
        }
        msgpack_zone_destroy(&z);
        kvEntry_Destroy(e);
    }
    kvWatcher_Destroy(w);
}
