/* Running work: the queue, the worker threads that turn a work item into an activation
 * record, the JetStream fetcher for non-blocking work, and the heartbeat. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "invoker.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/util.h"

static void job_free(inv_job *j)
{
    msgpack_zone_destroy(&j->z);
    free(j->buf);
    free(j);
}

void inv_enqueue(const char *data, size_t len)
{
    char err[256];
    inv_job *j = malloc(sizeof *j);
    if (j == NULL || (j->buf = malloc(len ? len : 1)) == NULL) {
        free(j);
        sq_error("out of memory: dropping a work item");
        return;
    }
    memcpy(j->buf, data, len);
    j->len = len;
    j->next = NULL;
    j->received_ms = sq_now_ms();
    msgpack_zone_init(&j->z, 4096);
    if (sq_work_decode(j->buf, j->len, &j->z, &j->w, err, sizeof err) != SQ_OK) {
        sq_error("dropping malformed work item: %s", err);
        job_free(j);
        return;
    }
    /* keyed by the registry revision too: a re-created action (version 0.0.1 again) or an
     * update never reaches a container that holds older code */
    snprintf(j->key, sizeof j->key, "%s/%s@%s#%lld", j->w.action.namespace_, j->w.action.name,
             j->w.action.version, (long long)j->w.action.rev);
    pthread_mutex_lock(&I.lock);
    if (I.tail)
        I.tail->next = j;
    else
        I.head = j;
    I.tail = j;
    I.queued++;
    if (I.draining)
        pthread_cond_broadcast(&I.work_cv); /* the drain waits on it too */
    else
        pthread_cond_signal(&I.work_cv);
    pthread_mutex_unlock(&I.lock);
}

static sq_act_status status_of(inv_outcome o)
{
    switch (o) {
    case INV_OK: return SQ_ACT_SUCCESS;
    case INV_APP_ERROR: return SQ_ACT_APP_ERROR;
    case INV_INTERNAL: return SQ_ACT_INTERNAL;
    default: return SQ_ACT_DEV_ERROR;
    }
}

/* The actionloop input line for w (malloc'd). */
static char *input_line(const sq_work *w, const char *path)
{
    json_t *j = json_object();
    const msgpack_object *pak = sq_kv_value(&w->action.annotations, "provide-api-key");
    char deadline[32];
    char *txt;

    snprintf(deadline, sizeof deadline, "%lld",
             (long long)(sq_now_ms() + w->action.limits.timeout));
    json_object_set_new(j, "value", sq_mp_to_json(&w->params));
    json_object_set_new(j, "activation_id", json_string(w->id));
    char fq[620];
    snprintf(fq, sizeof fq, "/%s", path); /* OpenWhisk's __OW_ACTION_NAME: "/ns/name" */
    json_object_set_new(j, "action_name", json_string(fq));
    json_object_set_new(j, "deadline", json_string(deadline));
    /* the activation's namespace: the caller's (OpenWhisk's __OW_NAMESPACE) */
    json_object_set_new(j, "namespace",
                        json_string(w->ns && *w->ns ? w->ns : w->action.namespace_));
    json_object_set_new(j, "action_version",
                        json_string(w->action.version ? w->action.version : ""));
    json_object_set_new(j, "transaction_id", json_string(w->id));
    json_object_set_new(j, "api_host",
                        json_string(I.action_api_host[0] ? I.action_api_host : I.cfg.api_host));
    if (w->key && *w->key && !(pak && pak->type == MSGPACK_OBJECT_BOOLEAN && !pak->via.boolean))
        json_object_set_new(j, "api_key", json_string(w->key));
    txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return txt;
}

/* Publishes the record durably on SQ_ACTIVATIONS, de-duplicated by its id (records.c: the
 * worker does not wait for the ack; the record is retried until JetStream takes it). */
static void publish_record(const sq_activation *a, const msgpack_sbuffer *rec)
{
    char tok[300], subj[320];

    if (sq_subj_token(a->namespace_, tok, sizeof tok) != 0)
        return;
    snprintf(subj, sizeof subj, SQ_SUBJ_ACT_FMT, tok);
    inv_records_publish(subj, a->id, rec->data, rec->size);
}

/* The result carried in a record sits two levels down (record, response): it may nest at
 * most SQ_MP_MAX_DEPTH - 2 levels, or no decoder downstream could read the record. */
#define RESULT_MAX_DEPTH (SQ_MP_MAX_DEPTH - 2)

/* Packs the result text as msgpack. False when it cannot be carried: too deep (then
 * *status becomes a developer error: the action's doing) or unreadable (internal error). */
static bool result_to_mp(const char *text, msgpack_packer *pk, sq_act_status *status)
{
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    sq_status st;
    if (j == NULL) {
        *status = SQ_ACT_INTERNAL;
        return false;
    }
    st = sq_json_to_mp_max(j, pk, RESULT_MAX_DEPTH);
    json_decref(j);
    if (st != SQ_OK) {
        *status = SQ_ACT_DEV_ERROR;
        return false;
    }
    return true;
}

/* How much of a refused result the error message quotes (OpenWhisk quotes the whole
 * truncated response; a short head keeps the record well under the limit). */
#define TRUNK_BYTES 256
/* OpenWhisk's words (Messages.truncatedResponse), up to the sizes */
#define LENGTH_MSG "The action produced a response that exceeded the allowed length"

/* A result text longer than the configured limit is refused as OpenWhisk refuses it: an
 * application error saying both sizes, quoting the head of what came back; nothing over
 * the limit goes any further (the reply, the stored record). */
static void refuse_large_result(inv_run_result *r)
{
    size_t max = (size_t)I.cfg.max_result_kb * 1024, len = r->result ? strlen(r->result) : 0;
    char msg[200 + TRUNK_BYTES + 8];
    size_t n, cut = len < TRUNK_BYTES ? len : TRUNK_BYTES;
    json_t *e;

    if (r->outcome == INV_CRASH && len < 200) {
        /* a line past what the container module reads at all (16 MB): it said how much it
         * had read when it gave up, against its own bound; say it against ours */
        json_t *j = json_loads(r->result, 0, NULL);
        const char *m = json_string_value(json_object_get(j, "error")), *at;
        unsigned long long got = 0;
        if (m && strncmp(m, LENGTH_MSG, strlen(LENGTH_MSG)) == 0 &&
            (at = strchr(m + strlen(LENGTH_MSG), ':')) && sscanf(at + 1, "%llu", &got) == 1 &&
            got > max) {
            snprintf(msg, sizeof msg, LENGTH_MSG ": %llu > %zu bytes.", got, max);
            json_decref(j);
            e = json_pack("{s:s}", "error", msg);
            free(r->result);
            r->result = e ? json_dumps(e, JSON_COMPACT) : NULL;
            json_decref(e);
            r->outcome = r->result ? INV_APP_ERROR : INV_INTERNAL;
            return;
        }
        json_decref(j);
    }
    if (len <= max)
        return;
    while (cut > 0 && cut < len && ((unsigned char)r->result[cut] & 0xC0) == 0x80)
        cut--; /* not in the middle of a UTF-8 sequence */
    n = (size_t)snprintf(msg, sizeof msg,
                         LENGTH_MSG ": %zu > %zu bytes. The truncated response was: ", len, max);
    memcpy(msg + n, r->result, cut);
    msg[n + cut] = '\0';
    e = json_pack("{s:s}", "error", msg);
    if (e == NULL) { /* the head was no valid UTF-8: say only the sizes */
        msg[n - strlen(" The truncated response was: ")] = '\0';
        e = json_pack("{s:s}", "error", msg);
    }
    free(r->result);
    r->result = e ? json_dumps(e, JSON_COMPACT) : NULL;
    json_decref(e);
    r->outcome = r->result ? INV_APP_ERROR : INV_INTERNAL;
}

/* Live logs: every line the action writes goes out on sq.evt.log.<ns>.<id> as it is read
 * (bounded by the log limit, as the record's logs are), then an end marker. */
typedef struct {
    char subj[400];
    sq_log_event ev;
} live_log;

static void live_log_send(live_log *l)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    sq_proto_buf_init(&sb, &pk);
    sq_log_event_encode(&l->ev, &pk);
    natsConnection_Publish(sq_bus_nc(I.bus), l->subj, sb.data, (int)sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void live_log_line(void *arg, const char *line)
{
    live_log *l = arg;
    l->ev.line = (char *)line;
    live_log_send(l);
    l->ev.line = NULL;
}

static bool live_log_start(live_log *l, const sq_work *w)
{
    char tok[300];
    /* the activation's namespace: the caller's, where its record goes (and who may read) */
    const char *ns = w->ns && *w->ns ? w->ns : w->action.namespace_;
    if (sq_subj_token(ns, tok, sizeof tok) != 0 || !sq_id_valid(w->id))
        return false;
    snprintf(l->subj, sizeof l->subj, SQ_SUBJ_EVT_LOG_FMT, tok, w->id);
    l->ev = (sq_log_event){ .id = w->id, .ns = (char *)ns, .name = w->action.name };
    inv_log_hook = live_log_line;
    inv_log_hook_arg = l;
    return true;
}

/* The parameters annotated init: true ({key, value, init: true}, as OpenWhisk has them) as a
 * JSON object of strings (other values as their JSON text): the action's environment from
 * its initialisation on. NULL when there are none; malloc'd. */
static char *init_env(const msgpack_object *params)
{
    json_t *env = NULL;
    msgpack_zone z;
    char *txt = NULL;

    if (params == NULL || params->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    msgpack_zone_init(&z, 256);
    for (uint32_t i = 0; i < params->via.array.size; i++) {
        sq_kv kv;
        json_t *jv;
        if (sq_kv_from(&params->via.array.ptr[i], &z, &kv, NULL, 0) != SQ_OK || !kv.init ||
            kv.key[0] == '\0' || strlen(kv.key) >= 256)
            continue;
        if (env == NULL && (env = json_object()) == NULL)
            break;
        if (kv.value.type == MSGPACK_OBJECT_STR) {
            jv = json_stringn(kv.value.via.str.ptr, kv.value.via.str.size);
        } else {
            char *t = sq_mp_to_json_text(&kv.value, NULL);
            jv = t ? json_string(t) : NULL;
            free(t);
        }
        if (jv)
            json_object_set_new(env, kv.key, jv);
    }
    msgpack_zone_destroy(&z);
    if (env != NULL)
        txt = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    return txt;
}

/* What running a work item gave: the init (cold containers only) and the run; res is the one
 * the record reports (the init's when it failed). */
typedef struct {
    inv_run_result init, run;
    inv_run_result *res;
    bool cold;
    int64_t init_ms;
} ran_t;

/* A failure before any container ran: its outcome and result text (then owned by r), at at_ms. */
static void ran_fail(ran_t *r, inv_outcome oc, char *result, int64_t at_ms)
{
    r->run.outcome = oc;
    r->run.result = result;
    r->run.start_ms = r->run.end_ms = at_ms;
}

/* Gives a cold container w's code; r->res becomes the init's result when it failed. */
static void cold_init(inv_slot *slot, const sq_work *w, size_t log_limit, ran_t *r)
{
    const msgpack_object *al = sq_kv_value(&w->action.annotations, "actionloop");
    const msgpack_object *net = sq_kv_value(&w->action.annotations, "network");
    inv_init_opts io = {
        .code = w->action.exec.code,
        .main_name = w->action.exec.main ? w->action.exec.main : "main",
        .binary = w->action.exec.binary,
        .actionloop = al && al->type == MSGPACK_OBJECT_BOOLEAN && al->via.boolean,
        .concurrency = (int)w->action.limits.concurrency,
        .memory_mb = (int)w->action.limits.memory,
        .no_network = net && net->type == MSGPACK_OBJECT_BOOLEAN && !net->via.boolean,
    };
    char *env = init_env(&w->action.parameters);
    io.env_json = env;
    inv_container_init_ex(slot->c, &io, (int)w->action.limits.timeout, log_limit, &r->init);
    free(env);
    r->init_ms = r->init.end_ms - r->init.start_ms;
    if (r->init.outcome != INV_OK)
        r->res = &r->init;
    else
        inv_pool_ready(slot, inv_container_concurrency(slot->c));
}

/* Runs the work item: the kind checked, a container taken from the pool (initialised when
 * cold), the activation run. Fills r; returns the container, for the caller to give back
 * (NULL when none was taken). */
static inv_slot *execute(inv_job *job, const char *path, size_t log_limit, int64_t start_ms,
                         ran_t *r)
{
    const sq_work *w = &job->w;
    char err[512];
    inv_slot *slot;

    r->res = &r->run;
    if (!inv_kind_supported(w->action.exec.kind)) {
        snprintf(err, sizeof err, "{\"error\":\"This invoker does not support the kind '%s'.\"}",
                 w->action.exec.kind);
        ran_fail(r, INV_INIT_ERROR, strdup(err), start_ms);
        return NULL;
    }
    if ((slot = inv_pool_acquire(job, &r->cold, err, sizeof err)) == NULL) {
        json_t *e = json_pack("{s:s}", "error", err);
        ran_fail(r, INV_INTERNAL, json_dumps(e, JSON_COMPACT), start_ms);
        json_decref(e);
        return NULL;
    }
    if (r->cold)
        cold_init(slot, w, log_limit, r);
    if (r->res == &r->run) {
        char *line = input_line(w, path);
        if (line == NULL)
            ran_fail(r, INV_INTERNAL,
                     strdup("{\"error\":\"could not encode the activation input\"}"), sq_now_ms());
        else
            inv_container_run(slot->c, line, (int)w->action.limits.timeout, log_limit, &r->run);
        free(line);
        refuse_large_result(&r->run);
    }
    return slot;
}

/* The record's result: the result text as msgpack (unpacked into az), or an error saying
 * why it cannot be carried (a.status then says whose fault that is). */
static void record_result(sq_activation *a, const inv_run_result *res, msgpack_sbuffer *buf,
                          msgpack_zone *az)
{
    msgpack_packer rpk;
    msgpack_object result_obj;

    msgpack_packer_init(&rpk, buf, msgpack_sbuffer_write);
    if (!result_to_mp(res->result, &rpk, &a->status)) {
        sq_act_error e = { .error = a->status == SQ_ACT_DEV_ERROR
                                        ? "The action's result nests deeper than the platform "
                                          "carries."
                                        : "The action's result could not be read." };
        msgpack_sbuffer_clear(buf);
        sq_act_error_encode(&e, &rpk);
    }
    sq_mp_unpack(buf->data, buf->size, az, &result_obj);
    a->result = result_obj;
}

/* The record's logs: the init's, then the run's (borrowed from r; the array is malloc'd,
 * NULL with no logs when memory ran out). */
static char **record_logs(sq_activation *a, const ran_t *r)
{
    bool ran = r->res == &r->run;
    a->nlogs = r->init.nlogs + (ran ? r->run.nlogs : 0);
    char **logs = calloc(a->nlogs + 1, sizeof *logs);
    if (logs != NULL) {
        size_t k = 0;
        for (size_t i = 0; i < r->init.nlogs; i++)
            logs[k++] = r->init.logs[i];
        for (size_t i = 0; ran && i < r->run.nlogs; i++)
            logs[k++] = r->run.logs[i];
    } else
        a->nlogs = 0;
    a->logs = logs;
    return logs;
}

/* The record's annotations (unpacked into az). */
static void record_annotations(sq_activation *a, const sq_work *w, const char *path,
                               int64_t start_ms, const ran_t *r, msgpack_sbuffer *ann,
                               msgpack_zone *az)
{
    msgpack_packer apk;
    msgpack_object ann_obj;

    msgpack_packer_init(&apk, ann, msgpack_sbuffer_write);
    {
        /* one encoder for every record's annotations (proto/): path, kind, limits, binding,
         * waitTime, initTime (cold), timeout, causedBy and cause (a sequence's component or a
         * rule's action), invoker */
        sq_act_annots an = SQ_ACT_ANNOTS_INIT;
        an.path = path;
        an.kind = w->action.exec.kind;
        an.limits = &w->action.limits;
        an.binding = w->binding && *w->binding ? w->binding : NULL;
        an.wait_time = w->submitted > 0 && start_ms > w->submitted ? start_ms - w->submitted : 0;
        an.init_time = r->cold ? r->init_ms : -1;
        an.timeout = r->res->outcome == INV_TIMEOUT;
        an.caused_by = w->caused_by; /* as the scheduler says; proto/ writes it with a cause */
        an.cause = w->cause;
        an.invoker = I.cfg.id;
        sq_act_annots_encode(&an, &apk);
    }
    sq_mp_unpack(ann->data, ann->size, az, &ann_obj);
    a->annotations = ann_obj;
}

/* The activation record of what ran: stored durably, and to the caller's reply inbox (a
 * blocking invoke). */
static void send_record(const sq_work *w, const char *path, int64_t start_ms, const ran_t *r)
{
    const inv_run_result *res = r->res;
    sq_activation a = { 0 };
    msgpack_sbuffer rec, result_buf, ann;
    msgpack_packer pk;
    msgpack_zone az;
    char **logs;

    msgpack_zone_init(&az, 1024);
    msgpack_sbuffer_init(&rec);
    msgpack_sbuffer_init(&result_buf);
    msgpack_sbuffer_init(&ann);

    a.id = w->id;
    a.namespace_ = w->ns && *w->ns ? w->ns : w->action.namespace_; /* the caller's namespace */
    a.name = w->action.name;
    a.version = w->action.version;
    a.subject = w->subject;
    a.start = r->cold ? r->init.start_ms : res->start_ms;
    a.end = res->end_ms > a.start ? res->end_ms : a.start;
    a.duration = a.end - a.start;
    a.status = status_of(res->outcome);
    a.publish = false;
    record_result(&a, res, &result_buf, &az);
    logs = record_logs(&a, r);
    record_annotations(&a, w, path, start_ms, r, &ann, &az);

    msgpack_packer_init(&pk, &rec, msgpack_sbuffer_write);
    sq_activation_encode(&a, &pk);
    /* the record first, then the caller's answer, on the same connection: nats-server has
     * the record before the answer, so a caller told a result never meets an activation
     * whose record died with this process (a scheduler would record it as lost, and the
     * stored status would not be the one the caller was told) */
    publish_record(&a, &rec);
    if (w->reply && *w->reply)
        natsConnection_Publish(sq_bus_nc(I.bus), w->reply, rec.data, (int)rec.size);
    inv_metrics_record(&a, r->cold);

    free(logs);
    msgpack_sbuffer_destroy(&ann);
    msgpack_sbuffer_destroy(&result_buf);
    msgpack_sbuffer_destroy(&rec);
    msgpack_zone_destroy(&az);
}

/* Runs one work item to its activation record. */
static void handle(inv_job *job)
{
    const sq_work *w = &job->w;
    char path[600];
    ran_t r = { 0 };
    live_log live;

    snprintf(path, sizeof path, "%s/%s", w->action.namespace_, w->action.name);
    size_t log_limit = (size_t)w->action.limits.logs * 1024 * 1024;
    int64_t start_ms = sq_now_ms();
    bool live_on = live_log_start(&live, w);

    inv_slot *slot = execute(job, path, log_limit, start_ms, &r);
    if (live_on) {
        inv_log_hook = NULL;
        live.ev.end = true;
        live_log_send(&live);
    }
    send_record(w, path, start_ms, &r);
    /* The container is given back once the record is out: the caller's answer does not
     * wait for the pool's lock, and under load this worker, looking at the queue next,
     * takes the job waiting for this container itself instead of waking another thread
     * for it (a context switch and a lock hand-off per activation). */
    if (slot != NULL)
        inv_pool_release(slot);
    inv_run_result_free(&r.init);
    inv_run_result_free(&r.run);
}

/* The first queued job that can start now (pool.c: memory, the namespace's share), unlinked;
 * NULL when none. Called locked. */
static inv_job *take_job(void)
{
    inv_job *prev = NULL;
    for (inv_job *j = I.head; j; prev = j, j = j->next) {
        if (!inv_pool_admits(j))
            continue;
        if (prev)
            prev->next = j->next;
        else
            I.head = j->next;
        if (I.tail == j)
            I.tail = prev;
        j->next = NULL;
        inv_pool_starting(j);
        return j;
    }
    return NULL;
}

/* Whether a queued job can start now (called locked). */
static bool any_startable(void)
{
    for (const inv_job *j = I.head; j; j = j->next)
        if (inv_pool_admits(j))
            return true;
    return false;
}

void *inv_worker(void *arg)
{
    for (;;) {
        inv_job *j;
        pthread_mutex_lock(&I.lock);
        while ((j = take_job()) == NULL && !(I.stopping && I.head == NULL))
            pthread_cond_wait(&I.work_cv, &I.lock);
        if (j == NULL) {
            pthread_mutex_unlock(&I.lock);
            break;
        }
        I.queued--;
        I.busy++;
        /* one wake-up per job that can start: a worker woken for one passes it on when
         * another can start too (pool.c wakes one worker when memory or a container comes
         * free) */
        if (any_startable())
            pthread_cond_signal(&I.work_cv);
        pthread_mutex_unlock(&I.lock);

        handle(j);

        pthread_mutex_lock(&I.lock);
        inv_pool_unstart(j); /* it never asked for a container (unsupported kind) */
        job_free(j);
        I.busy--;
        /* the drain waits for the last one; a queued job that fits now (in the container
         * this worker gave back at the end of handle()) is this worker's when it looks
         * again */
        if (I.draining)
            pthread_cond_broadcast(&I.work_cv);
        pthread_mutex_unlock(&I.lock);
    }
    return NULL;
}

/* Pulls non-blocking work from SQ_WORK, acknowledging each message as it is taken (at most
 * once), never more than the workers can start. */
void *inv_fetcher(void *arg)
{
    while (!I.draining) {
        natsMsgList list = { 0 };
        jsErrCode jerr = 0;
        int room;
        natsStatus s;

        pthread_mutex_lock(&I.lock);
        room = I.cfg.workers - I.busy - I.queued;
        pthread_mutex_unlock(&I.lock);
        if (room <= 0) {
            usleep(2000);
            continue;
        }
        s = natsSubscription_Fetch(&list, I.work_sub, room, 250, &jerr);
        if (s != NATS_OK && s != NATS_TIMEOUT) {
            usleep(100 * 1000);
            continue;
        }
        for (int i = 0; i < list.Count; i++) {
            natsMsg *m = list.Msgs[i];
            if (natsMsg_AckSync(m, NULL, &jerr) == NATS_OK)
                inv_enqueue(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
            else
                sq_warn("could not acknowledge a work item; leaving it for redelivery");
        }
        natsMsgList_Destroy(&list);
    }
    return NULL;
}

void *inv_heartbeat(void *arg)
{
    while (!I.stopping) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sq_heartbeat hb = { .id = I.cfg.id,
                            .total_mb = I.cfg.memory_mb,
                            .healthy = true,
                            .at = sq_now_ms(),
                            .started = I.started_ms };

        msgpack_zone z;

        msgpack_zone_init(&z, 1024);
        pthread_mutex_lock(&I.lock);
        /* stem cells are spare capacity: they are given up when an action needs the room */
        hb.free_mb = I.cfg.memory_mb - I.used_mb;
        for (inv_slot *s = I.stems; s; s = s->next)
            hb.free_mb += s->memory_mb;
        hb.warm = I.warm;
        hb.busy = I.busy;
        hb.draining = I.draining;
        inv_pool_actions(&z, &hb.actions); /* copied into z: no lock needed after */
        pthread_mutex_unlock(&I.lock);
        sq_proto_buf_init(&sb, &pk);
        sq_heartbeat_encode(&hb, &pk);
        msgpack_zone_destroy(&z);
        sq_bus_publish(I.bus, SQ_SUBJ_INVOKER_HEARTBEAT, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
        for (int slept = 0; slept < I.cfg.heartbeat_ms && !I.stopping; slept += 50)
            usleep(50 * 1000);
    }
    return NULL;
}
