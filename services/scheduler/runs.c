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
    sq_proto_buf_init(&sb, &pk);
    msgpack_pack_map(&pk, 13);
    sq_mp_kv_str(&pk, "owner", s->self);
    sq_mp_kv_int(&pk, "start", start_ms);
    sq_mp_kv_str(&pk, "ns", info->ns);
    sq_mp_kv_str(&pk, "name", info->name);
    sq_mp_kv_str(&pk, "version", info->version);
    sq_mp_kv_str(&pk, "subject", info->subject);
    sq_mp_kv_str(&pk, "path", info->path);
    sq_mp_kv_int(&pk, "timeout", info->limits.timeout);
    sq_mp_kv_int(&pk, "memory", info->limits.memory);
    sq_mp_kv_int(&pk, "logs", info->limits.logs);
    sq_mp_kv_str(&pk, "cause", info->cause ? info->cause : "");
    sq_mp_kv_str(&pk, "caused_by", info->caused_by ? info->caused_by : "");
    sq_mp_kv_str(&pk, "binding", info->binding ? info->binding : "");
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

/* Records the orphan composition `key` (value v) as lost. */
static void orphan(sched *s, const char *key, const msgpack_object *v)
{
    char *f[9] = { 0 };
    static const char *const names[9] = { "ns",    "name",  "version",   "subject", "path",
                                          "cause", "owner", "caused_by", "binding" };
    msgpack_zone z;
    sched_flight_info info;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    const msgpack_object *o;
    int64_t start = sq_now_ms();
    bool dup = false;

    msgpack_zone_init(&z, 512);
    for (int i = 0; i < 9; i++)
        f[i] = (o = sq_mp_get(v, names[i])) != NULL ? sq_mp_strdup(&z, o) : NULL;
    if ((o = sq_mp_get(v, "start")) != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        start = (int64_t)o->via.u64;
    memset(&info, 0, sizeof info);
    info.id = key;
    info.ns = f[0] ? f[0] : "";
    info.name = f[1] ? f[1] : "";
    info.version = f[2];
    info.subject = f[3];
    info.path = f[4] ? f[4] : "";
    info.cause = f[5];
    /* a note written before caused_by was kept: a topmost composition's cause is a trigger's */
    info.caused_by = f[7] ? f[7] : f[5] && f[5][0] ? "trigger" : "";
    info.binding = f[8];
    info.kind = "sequence";
    info.limits = SQ_LIMITS_DEFAULT;
    if ((o = sq_mp_get(v, "timeout")) != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        info.limits.timeout = (int64_t)o->via.u64;
    if ((o = sq_mp_get(v, "memory")) != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        info.limits.memory = (int64_t)o->via.u64;
    if ((o = sq_mp_get(v, "logs")) != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        info.limits.logs = (int64_t)o->via.u64;
    if (info.ns[0] != '\0' && sq_id_valid(key)) {
        sq_proto_buf_init(&sb, &pk);
        sched_record_internal(&pk, &info, start,
                              "The scheduler running the composition stopped before it completed.");
        if (sched_record_publish(s, key, info.ns, sb.data, sb.size, &dup) == SQ_OK) {
            if (!dup)
                sq_warn(
                    "recorded composition \"%s\" of \"%s\" as lost: its scheduler (\"%s\") stopped",
                    key, info.path, f[6] ? f[6] : "?");
            kvStore_Delete(kv, key);
        }
        msgpack_sbuffer_destroy(&sb);
    } else {
        kvStore_Delete(kv, key);
    }
    msgpack_zone_destroy(&z);
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
        msgpack_object v;
        const msgpack_object *owner, *start;
        if (kvWatcher_Next(&e, w, 2000) != NATS_OK || e == NULL)
            break; /* NULL: every current value has been seen */
        msgpack_zone_init(&z, 512);
        if (sq_mp_unpack(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &z, &v) == SQ_OK &&
            v.type == MSGPACK_OBJECT_MAP && (owner = sq_mp_get(&v, "owner")) != NULL &&
            owner->type == MSGPACK_OBJECT_STR && (start = sq_mp_get(&v, "start")) != NULL &&
            start->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            char *who = sq_mp_strdup(&z, owner);
            if (who != NULL && !sched_peers_alive(s->peers, who, now_ms) &&
                now_wall - (int64_t)start->via.u64 > sched_cfg.heartbeat_ttl_ms + 5000)
                orphan(s, kvEntry_Key(e), &v);
        } else {
            kvStore_Delete(kv, kvEntry_Key(e)); /* not ours to read: gone */
        }
        msgpack_zone_destroy(&z);
        kvEntry_Destroy(e);
    }
    kvWatcher_Destroy(w);
}
