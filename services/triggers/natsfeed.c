/* The NATS feed (/whisk.system/nats/subscribe): a trigger fired by every message on a NATS
 * subject its owner names, with the message as the payload (a JSON object or a msgpack map
 * as is; anything else as {message: <text>}).
 *
 * As for alarms (alarms.c), the feed action writes its settings onto the trigger (annotation
 * `nats`: {subject, paused}); trigger changes reach trg_natsfeed_sync() through the trigger
 * event stream, which keeps the JetStream KV bucket SQ_NATS_FEEDS (key a.<ns>.<trigger>:
 * {ns, name, subject}) in step. Every copy of the service watches the bucket and subscribes
 * to each subject in a queue group of its own (one per trigger), so that a message fires the
 * trigger once however many copies run; a paused or deleted trigger's subscription goes.
 *
 * A namespace may only listen below ext.<ns>. (its token escaped like any subject token):
 * the platform's own subjects (sq.>) and other namespaces' are out of reach. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/js.h"
#include "sq/log.h"
#include "sq/util.h"
#include "triggers.h"

typedef struct feed_sub {
    struct feed_sub *next;
    char *key, *subject;
    natsSubscription *sub;
} feed_sub;

/* What a message callback needs; freed when the subscription has delivered its last one. */
typedef struct feed_target {
    char *ns, *name;
} feed_target;

static struct {
    trg_service *s;
    kvStore *kv;
    pthread_mutex_t lock;      /* subs */
    pthread_mutex_t fire_lock; /* the worker */
    feed_sub *subs;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    trg_worker worker;
    bool worker_ok;
} N = { .lock = PTHREAD_MUTEX_INITIALIZER, .fire_lock = PTHREAD_MUTEX_INITIALIZER };

bool trg_natsfeed_subject_ok(const char *ns, const char *subject, char *err, size_t errlen)
{
    char tok[400], prefix[420];
    size_t n = strlen(subject);

    if (sq_subj_token(ns, tok, sizeof tok) != 0) {
        snprintf(err, errlen, "namespace too long");
        return false;
    }
    snprintf(prefix, sizeof prefix, "ext.%s.", tok);
    if (n <= strlen(prefix) || n > 512 || strncmp(subject, prefix, strlen(prefix)) != 0) {
        snprintf(err, errlen, "the subject must start with \"%s\"", prefix);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)subject[i];
        if (c <= ' ' || c == 0x7f ||
            (c == '.' && (subject[i + 1] == '.' || subject[i + 1] == '\0'))) {
            snprintf(err, errlen, "the subject is not a valid NATS subject");
            return false;
        }
    }
    return true;
}

/* ---- messages ---------------------------------------------------------------------------- */

static void on_message(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    feed_target *t = closure;
    const char *data = natsMsg_GetData(msg);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    char id[33], err[300];
    sq_fire f = { .subject = "nats", .key = "" };
    msgpack_object o;
    int code;

    if (atomic_load(&N.stopping) || len > (size_t)trg_cfg.max_payload_kb * 1024) {
        natsMsg_Destroy(msg);
        return;
    }
    pthread_mutex_lock(&N.fire_lock);
    if (!N.worker_ok) {
        pthread_mutex_unlock(&N.fire_lock);
        natsMsg_Destroy(msg);
        return;
    }
    msgpack_zone_clear(&N.worker.zone);
    if (!trg_payload_parse(&N.worker.zone, data, len, &o, err, sizeof err)) {
        /* not a map: {message: text} */
        msgpack_sbuffer sb;
        msgpack_packer pk;
        char *copy;
        sq_feed_message fm = { .message = { .type = MSGPACK_OBJECT_STR,
                                            .via.str = { .size = (uint32_t)len, .ptr = data } } };
        sq_proto_buf_init(&sb, &pk);
        sq_feed_message_encode(&fm, &pk);
        copy = msgpack_zone_malloc(&N.worker.zone, sb.size);
        if (copy == NULL || (memcpy(copy, sb.data, sb.size),
                             sq_mp_unpack(copy, sb.size, &N.worker.zone, &o)) != SQ_OK)
            o.type = MSGPACK_OBJECT_NIL;
        msgpack_sbuffer_destroy(&sb);
    }
    sq_id_new(id);
    f.id = id;
    f.ns = t->ns;
    f.name = t->name;
    f.caller_ns = t->ns;
    f.payload = o;
    code = trg_fire(&N.worker, NULL, &f);
    pthread_mutex_unlock(&N.fire_lock);
    if (code != 0)
        sq_debug("message on \"%s\" did not fire \"%s/%s\" (%d)", natsMsg_GetSubject(msg), t->ns,
                 t->name, code);
    natsMsg_Destroy(msg);
}

static void on_complete(void *closure)
{
    feed_target *t = closure;
    free(t->ns);
    free(t->name);
    free(t);
}

/* ---- the subscriptions follow the bucket ---------------------------------------------------- */

static void sub_free(feed_sub *f)
{
    if (f->sub) {
        natsSubscription_Unsubscribe(f->sub);
        natsSubscription_Destroy(f->sub);
    }
    free(f->key);
    free(f->subject);
    free(f);
}

/* Sets (value != NULL) or removes the subscription of key. */
static void subs_set(const char *key, const char *value, size_t len)
{
    feed_sub **pp, *f = NULL;
    msgpack_zone z;
    char *ns = NULL, *name = NULL, *subject = NULL, queue[300], err[200];

    msgpack_zone_init(&z, 512);
    if (value != NULL) {
        sq_feed_note note = { 0 };
        if (sq_feed_note_decode(value, len, &z, &note, err, sizeof err) == SQ_OK) {
            ns = note.ns;
            name = note.name;
            subject = note.subject;
        }
        if (!ns || !name || !subject || !trg_natsfeed_subject_ok(ns, subject, err, sizeof err)) {
            sq_warn("ignored NATS feed \"%s\"", key);
            subject = NULL;
        }
    }
    pthread_mutex_lock(&N.lock);
    for (pp = &N.subs; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, key) == 0)
            break;
    if (*pp != NULL && subject != NULL && strcmp((*pp)->subject, subject) == 0) {
        pthread_mutex_unlock(&N.lock); /* unchanged */
        msgpack_zone_destroy(&z);
        return;
    }
    if (*pp != NULL) {
        feed_sub *old = *pp;
        *pp = old->next;
        sub_free(old);
        sq_info("NATS feed \"%s\" unsubscribed", key);
    }
    if (subject != NULL && (f = calloc(1, sizeof *f)) != NULL) {
        feed_target *t = calloc(1, sizeof *t);
        natsStatus s = NATS_NO_MEMORY;
        size_t q = 0;
        f->key = strdup(key);
        f->subject = strdup(subject);
        /* one queue group per trigger: every copy subscribes, one fires */
        q = (size_t)snprintf(queue, sizeof queue, "triggers-%s", key);
        for (size_t i = 0; i < q && i < sizeof queue; i++)
            if (queue[i] == '.')
                queue[i] = '_';
        if (t && f->key && f->subject && (t->ns = strdup(ns)) && (t->name = strdup(name))) {
            s = natsConnection_QueueSubscribe(&f->sub, sq_bus_nc(N.s->bus), subject, queue,
                                              on_message, t);
            if (s == NATS_OK)
                natsSubscription_SetOnCompleteCB(f->sub, on_complete, t);
            else
                on_complete(t);
        } else if (t)
            on_complete(t);
        if (s != NATS_OK) {
            sq_warn("could not subscribe NATS feed \"%s\" to \"%s\": %s", key, subject,
                    natsStatus_GetText(s));
            f->sub = NULL;
            sub_free(f);
        } else {
            f->next = N.subs;
            N.subs = f;
            sq_info("NATS feed \"%s\" listens on \"%s\"", key, subject);
        }
    }
    pthread_mutex_unlock(&N.lock);
    msgpack_zone_destroy(&z);
}

static void *watch_main(void *arg)
{
    while (!atomic_load(&N.stopping)) {
        kvWatcher *w = NULL;
        if (kvStore_WatchAll(&w, N.kv, NULL) != NATS_OK) {
            usleep(500 * 1000);
            continue;
        }
        while (!atomic_load(&N.stopping)) {
            kvEntry *e = NULL;
            natsStatus s = kvWatcher_Next(&e, w, 500);
            if (s == NATS_TIMEOUT)
                continue;
            if (s != NATS_OK)
                break;
            if (e == NULL)
                continue;
            if (kvEntry_Operation(e) == kvOp_Put)
                subs_set(kvEntry_Key(e), kvEntry_Value(e), (size_t)kvEntry_ValueLen(e));
            else
                subs_set(kvEntry_Key(e), NULL, 0);
            kvEntry_Destroy(e);
        }
        kvWatcher_Destroy(w);
    }
    return NULL;
}

/* ---- the trigger's side ----------------------------------------------------------------------- */

bool trg_natsfeed_sync(const char *ns, const char *name, const sq_trigger *trigger)
{
    char key[700], err[200];
    const msgpack_object *cfg = NULL;
    sq_nats_cfg nc;
    char *subj = NULL;
    msgpack_zone z;
    bool ok = true;

    if (N.kv == NULL || trg_kv_key(ns, name, key, sizeof key) != 0)
        return true;
    msgpack_zone_init(&z, 256);
    if (trigger != NULL && (cfg = sq_kv_value(&trigger->annotations, "nats")) != NULL &&
        cfg->type == MSGPACK_OBJECT_MAP) {
        if (sq_nats_cfg_from(cfg, &z, &nc, err, sizeof err) != SQ_OK)
            sq_warn("trigger \"%s/%s\" has a bad NATS feed: %s", ns, name, err);
        else if (nc.subject != NULL && !nc.paused) {
            subj = nc.subject;
            if (!trg_natsfeed_subject_ok(ns, subj, err, sizeof err)) {
                sq_warn("trigger \"%s/%s\" has a bad NATS feed: %s", ns, name, err);
                subj = NULL;
            }
        }
    }
    if (subj != NULL) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        uint64_t rev;
        sq_feed_note note = { .ns = (char *)ns, .name = (char *)name, .subject = subj };
        sq_proto_buf_init(&sb, &pk);
        sq_feed_note_encode(&note, &pk);
        ok = kvStore_Put(&rev, N.kv, key, sb.data, (int)sb.size) == NATS_OK;
        msgpack_sbuffer_destroy(&sb);
    } else {
        kvEntry *e = NULL;
        if (kvStore_Get(&e, N.kv, key) == NATS_OK) {
            kvEntry_Destroy(e);
            ok = kvStore_Delete(N.kv, key) == NATS_OK;
        }
    }
    msgpack_zone_destroy(&z);
    return ok;
}

sq_status trg_natsfeed_start(trg_service *s)
{
    jsCtx *js = sq_bus_js(s->bus);
    kvConfig kc;
    natsStatus ns;

    N.s = s;
    kvConfig_Init(&kc);
    kc.Bucket = TRG_KV_NATS_FEEDS;
    kc.History = 1;
    kc.StorageType = js_FileStorage;
    ns = sq_js_kv_open(&N.kv, js, &kc); /* with SQ_JS_REPLICAS */
    if (ns != NATS_OK) {
        sq_error("could not set up the NATS feeds in JetStream: %s", natsStatus_GetText(ns));
        N.kv = NULL;
        return SQ_ERR_UNAVAILABLE;
    }
    if (trg_worker_init(&N.worker, s) != SQ_OK)
        return SQ_ERR_UNAVAILABLE;
    N.worker_ok = true;
    if (pthread_create(&N.thread, NULL, watch_main, NULL) != 0)
        return SQ_ERR_INTERNAL;
    N.started = true;
    return SQ_OK;
}

void trg_natsfeed_stop(void)
{
    atomic_store(&N.stopping, true);
    if (N.started)
        pthread_join(N.thread, NULL);
    N.started = false;
    pthread_mutex_lock(&N.lock);
    while (N.subs) {
        feed_sub *n = N.subs->next;
        sub_free(N.subs);
        N.subs = n;
    }
    pthread_mutex_unlock(&N.lock);
    kvStore_Destroy(N.kv);
    N.kv = NULL;
    pthread_mutex_lock(&N.fire_lock);
    if (N.worker_ok)
        trg_worker_fini(&N.worker);
    N.worker_ok = false;
    pthread_mutex_unlock(&N.fire_lock);
}
