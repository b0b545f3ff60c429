/* Compositions: sequences (kind "sequence", exec.components) and conductor actions
 * (annotation conductor with a value that is not falsy), run by the scheduler, which for
 * them is a producer of activations like the gateway.
 *
 * A composition is a `run`. Its components are ordinary blocking activations sent to
 * invokers with a reply subject of this copy (sq.sched.r.<copy>.<component id>) and
 * cause = the run's id (the invoker annotates their records causedBy "sequence"); they go
 * through the in-flight table like any other, so an invoker that dies answers them here as
 * "whisk internal error", and a component that never answers is answered so after its time
 * limit. A component that is itself a sequence or a conductor action becomes a child run;
 * its record is the component's record for the parent.
 *
 * Sequence: the components run in order, the result of one is the input of the next (the
 * first gets the merged parameters of the invoke), and the first one that does not succeed
 * ends the sequence with its response. Conductor (apache/openwhisk docs/conductors.md): the
 * conductor action runs first on the input; its result either names the next action
 * ({action, params, state}: the action runs on params, then the conductor again on the
 * action's result with the state's fields on top) or ends the composition ({params} or any
 * result without action: the output is params, or the whole result); an error result of the
 * conductor ends it with that response. At most seq_max (50) component activations per
 * topmost composition, and 2 x seq_max + 1 conductor activations: beyond that the
 * composition ends with an application error.
 *
 * The composition's own record has the invoke's activation id, its logs are the ids of the
 * component (and conductor) activations in order, its duration the sum of theirs, its
 * response the last one's (any JSON value: an array result passes on as the next
 * component's input, as in OpenWhisk, with no parameters merged into it); annotations
 * (sq_act_annots_encode): topmost, path, conductor: true for a conductor, kind "sequence",
 * limits (memory: the largest of the components), binding when invoked through a package
 * binding, waitTime (from the invoke's arrival here to the run's start), causedBy and cause
 * for a nested one ("sequence": it also carries OpenWhisk's top-level `cause`) or one a
 * rule invoked ("trigger"). Components get cause = the run's id and the binding they were
 * reached through in their work. It is published on SQ_ACTIVATIONS and, for a waiting
 * caller, sent to the caller.
 *
 * Threads: component replies arrive on one nats.c thread, which only finds the run and
 * queues the record; seq_workers threads do the work (registry lookups included). A run
 * has at most one component outstanding, so only one thread touches it at a time.
 * A composition in progress when this copy stops is recorded as lost by another copy (or
 * this one restarted), from the note runs.c keeps in JetStream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "compose.h"
#include "sched.h"
#include "sq/json.h"
#include "sq/log.h"

#define WAIT_BUCKETS 1024

/* OpenWhisk's messages for a composition that broke down */
#define FAILED(r) ((r)->conductor ? "Activation failure during composition." : "Sequence failed.")

typedef struct run run;

/* What the topmost composition counts for all its nested ones. */
typedef struct root {
    int atomic;    /* component activations */
    int secondary; /* conductor activations */
} root;

struct run {
    run *parent; /* the composition this one is a component of, or NULL */
    root *root;
    sched_entry *e; /* the sequence or conductor action */
    char id[33];
    char cause[33];        /* the parent's id, or the trigger activation's (topmost) */
    const char *caused_by; /* "sequence" (nested), "trigger", or NULL */
    char binding[600];     /* "ns/binding" when reached through a binding; "" otherwise */
    bool topmost, conductor;
    char *reply; /* the waiting caller (topmost only), or NULL */
    char *caller_ns, *subject, *key;
    uint32_t next;           /* sequence: the next component */
    bool awaiting_conductor; /* conductor: the outstanding activation is the conductor's */
    msgpack_sbuffer state;   /* conductor: the packed state map (size 0: none) */
    char **logs;
    size_t nlogs, caplogs;
    int64_t accepted_ms; /* when the scheduler took the composition on */
    int64_t start_ms, duration, max_memory;
    run *wnext;       /* chain of the waiting table */
    char waiting[33]; /* the component activation this run waits for */
};

typedef struct job {
    struct job *next;
    run *r;
    char *data; /* a component's record; NULL: start the run on `input` */
    size_t len;
    msgpack_sbuffer input;
} job;

struct sched_seq {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    job *head, *tail;
    bool stop;
    pthread_t *threads;
    int nthreads;
    run *waiting[WAIT_BUCKETS];
};

/* ---- the waiting table and the queue -------------------------------------------------------- */

static size_t wbucket(const char *id)
{
    return sq_hash_bytes(SQ_HASH_INIT, id, strnlen(id, 12)) % WAIT_BUCKETS;
}

static void wait_for(sched_seq *q, run *r, const char *id)
{
    size_t b = wbucket(id);
    pthread_mutex_lock(&q->lock);
    snprintf(r->waiting, sizeof r->waiting, "%s", id);
    r->wnext = q->waiting[b];
    q->waiting[b] = r;
    pthread_mutex_unlock(&q->lock);
}

/* Unlinks and returns the run waiting for id (lock held), or NULL. */
static run *unwait_locked(sched_seq *q, const char *id)
{
    for (run **pp = &q->waiting[wbucket(id)]; *pp != NULL; pp = &(*pp)->wnext)
        if (strcmp((*pp)->waiting, id) == 0) {
            run *r = *pp;
            *pp = r->wnext;
            r->wnext = NULL;
            r->waiting[0] = '\0';
            return r;
        }
    return NULL;
}

static void push(sched_seq *q, job *j)
{
    pthread_mutex_lock(&q->lock);
    j->next = NULL;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->lock);
}

/* ---- runs ------------------------------------------------------------------------------------ */

static void run_free(run *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nlogs; i++)
        free(r->logs[i]);
    free(r->logs);
    free(r->reply);
    free(r->caller_ns);
    free(r->subject);
    free(r->key);
    msgpack_sbuffer_destroy(&r->state);
    sched_entry_unref(r->e);
    if (r->parent == NULL)
        free(r->root);
    free(r);
}

static run *run_new(run *parent, sched_entry *e, const char *id, const char *caller_ns,
                    const char *subject, const char *key, const char *reply, const char *cause,
                    const char *binding)
{
    run *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    msgpack_sbuffer_init(&r->state);
    r->parent = parent;
    r->root = parent ? parent->root : calloc(1, sizeof *r->root);
    r->topmost = parent == NULL;
    r->conductor = !e->sequence;
    r->awaiting_conductor = r->conductor;
    snprintf(r->id, sizeof r->id, "%s", id);
    if (parent) {
        snprintf(r->cause, sizeof r->cause, "%s", parent->id);
        r->caused_by = "sequence";
    } else if (cause != NULL && cause[0] != '\0') {
        snprintf(r->cause, sizeof r->cause, "%s", cause);
        r->caused_by = "trigger";
    }
    snprintf(r->binding, sizeof r->binding, "%s", binding ? binding : "");
    r->caller_ns = strdup(caller_ns);
    r->subject = strdup(subject ? subject : "");
    r->key = strdup(key ? key : "");
    r->reply = reply && *reply ? strdup(reply) : NULL;
    r->start_ms = r->accepted_ms = sq_now_ms();
    r->max_memory = e->action.limits.memory;
    if (r->root == NULL || r->caller_ns == NULL || r->subject == NULL || r->key == NULL ||
        (reply && *reply && r->reply == NULL)) {
        r->e = NULL;
        run_free(r);
        return NULL;
    }
    atomic_fetch_add(&e->refs, 1);
    r->e = e;
    return r;
}

static bool add_log(run *r, const char *id)
{
    if (r->nlogs == r->caplogs) {
        size_t cap = r->caplogs ? r->caplogs * 2 : 8;
        char **v = realloc(r->logs, cap * sizeof *v);
        if (v == NULL)
            return false;
        r->logs = v;
        r->caplogs = cap;
    }
    if ((r->logs[r->nlogs] = strdup(id)) == NULL)
        return false;
    r->nlogs++;
    return true;
}

static void complete(sched *s, run *r, sq_act_status status, const msgpack_object *result);

/* Ends r with an error response carrying message. */
static void fail(sched *s, run *r, sq_act_status status, const char *message)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;

    sq_act_error e = { .error = (char *)message };

    sq_proto_buf_init(&sb, &pk);
    sq_act_error_encode(&e, &pk);
    msgpack_zone_init(&z, 256);
    if (sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK)
        complete(s, r, status, &o);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

static void step(sched *s, run *r, const msgpack_object *input);
static void component_done(sched *s, run *r, const char *data, size_t len);

/* Writes r's record, answers its caller (or its parent), frees it. */
static void complete(sched *s, run *r, sq_act_status status, const msgpack_object *result)
{
    msgpack_sbuffer sb, asb;
    msgpack_packer pk, apk;
    msgpack_zone z;
    char path[600];
    int64_t end = sq_now_ms();
    bool dup = false;
    const sq_action *a = &r->e->action;
    run *parent = r->parent;
    sq_act_annots an = SQ_ACT_ANNOTS_INIT;
    sq_limits limits = a->limits;
    sq_activation rec;

    memset(&rec, 0, sizeof rec);
    snprintf(path, sizeof path, "%s/%s", a->namespace_, a->name);
    /* the annotations, as OpenWhisk's sequence and conductor records have them */
    an.composition = true;
    an.topmost = r->topmost;
    an.conductor = r->conductor;
    an.path = path;
    an.kind = "sequence";
    limits.memory = r->max_memory;
    an.limits = &limits;
    an.binding = r->binding[0] ? r->binding : NULL;
    an.wait_time = r->start_ms > r->accepted_ms ? r->start_ms - r->accepted_ms : 0;
    an.caused_by = r->caused_by;
    an.cause = r->caused_by ? r->cause : NULL;
    sq_proto_buf_init(&asb, &apk);
    sq_act_annots_encode(&an, &apk);
    msgpack_zone_init(&z, 1024);
    if (sq_mp_unpack(asb.data, asb.size, &z, &rec.annotations) != SQ_OK)
        rec.annotations.type = MSGPACK_OBJECT_NIL;
    rec.id = r->id;
    rec.namespace_ = r->caller_ns; /* the caller's; `path` names the action */
    rec.name = a->name;
    rec.version = a->version;
    rec.subject = r->subject;
    rec.start = r->start_ms;
    rec.end = end > r->start_ms ? end : r->start_ms;
    rec.duration = r->duration;
    rec.status = status;
    rec.result = *result;
    rec.logs = r->logs;
    rec.nlogs = r->nlogs;
    rec.publish = false;
    /* a nested composition's record carries the top-level cause (from its annotations) */
    sq_proto_buf_init(&sb, &pk);
    sq_activation_encode(&rec, &pk);
    msgpack_sbuffer_destroy(&asb);
    msgpack_zone_destroy(&z);

    if (sched_record_publish(s, r->id, r->caller_ns, sb.data, sb.size, &dup) != SQ_OK)
        sq_error("could not record composition \"%s\" of \"%s\"", r->id, path);
    else if (parent == NULL)
        sched_run_end(s, r->id);
    sq_debug("composition \"%s\" of \"%s\" ended: %s, %zu activation(s)", r->id, path,
             sq_act_status_str(status), r->nlogs);
    if (parent == NULL) {
        if (r->reply != NULL && !dup)
            sq_bus_publish(s->bus, r->reply, sb.data, sb.size);
        run_free(r);
    } else {
        /* the parent goes on with this record as its component's */
        char *copy = malloc(sb.size);
        run_free(r);
        if (copy == NULL) {
            fail(s, parent, SQ_ACT_INTERNAL, FAILED(parent));
        } else {
            memcpy(copy, sb.data, sb.size);
            component_done(s, parent, copy, sb.size);
            free(copy);
        }
    }
    msgpack_sbuffer_destroy(&sb);
}

/* Sends one atomic activation of e on input for r; r then waits for its record. */
static void invoke_atomic(sched *s, run *r, sched_entry *e, const msgpack_object *input,
                          const char *binding)
{
    sched_target t;
    sched_flight_info info;
    sq_work work;
    msgpack_zone z;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char id[33], reply[160], path[600];
    int64_t now = sched_mono_ms();
    natsStatus ns;

    if (!sched_place(s->invokers, e->hash, e->action.limits.memory, now, sched_cfg.heartbeat_ttl_ms,
                     sched_peers_count(s->peers, now), &t)) {
        fail(s, r, SQ_ACT_INTERNAL, "No invokers are available.");
        return;
    }
    sq_id_new(id);
    snprintf(reply, sizeof reply, "%s.%s", s->inbox, id);
    snprintf(path, sizeof path, "%s/%s", e->action.namespace_, e->action.name);
    memset(&work, 0, sizeof work);
    msgpack_zone_init(&z, 1024);
    if (!sched_merge_params(&z, e, input, &work.params)) {
        msgpack_zone_destroy(&z);
        fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
        return;
    }
    work.id = id;
    work.subject = r->subject;
    work.key = (char *)sched_key_for(e, r->caller_ns, r->key);
    work.ns = r->caller_ns;
    work.reply = reply;
    work.blocking = true;
    work.submitted = sq_now_ms();
    work.action = e->action;
    work.cause = r->id;
    work.caused_by = "sequence";
    work.binding = (char *)binding;
    sq_proto_buf_init(&sb, &pk);
    sq_work_encode(&work, &pk);
    msgpack_zone_destroy(&z);

    info = (sched_flight_info){ .id = id,
                                .ns = r->caller_ns,
                                .name = e->action.name,
                                .version = e->action.version,
                                .subject = r->subject,
                                .kind = e->action.exec.kind,
                                .path = path,
                                .cause = r->id,
                                .limits = e->action.limits,
                                .caused_by = "sequence",
                                .binding = binding };
    if (e->action.limits.memory > r->max_memory)
        r->max_memory = e->action.limits.memory;
    if (sched_flight_add(s, &info, NULL, t.slot, e->action.limits.memory, true, reply,
                         now + e->action.limits.timeout + sched_cfg.lost_grace_ms) != SQ_OK) {
        msgpack_sbuffer_destroy(&sb);
        fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
        return;
    }
    wait_for(s->seq, r, id);
    ns = natsConnection_Publish(sq_bus_nc(s->bus), t.run, sb.data, (int)sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (ns != NATS_OK) {
        run *w;
        pthread_mutex_lock(&s->seq->lock);
        w = unwait_locked(s->seq, id);
        pthread_mutex_unlock(&s->seq->lock);
        sched_flight_done(s, id);
        if (w != NULL)
            fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
        return;
    }
    sq_debug("component \"%s\" of composition \"%s\" sent to \"%s\"", id, r->id, t.run);
}

/* Runs component e of r on input: an atomic action, or a nested composition. e was
 * resolved from ns and name (to tell a binding). */
static void dispatch(sched *s, run *r, sched_entry *e, const msgpack_object *input, const char *ns,
                     const char *name)
{
    char bbuf[600];
    const char *binding = sched_binding_of(ns, name, &e->action, bbuf, sizeof bbuf);
    if (e->sequence || e->conductor) {
        char id[33];
        run *child;
        sq_id_new(id);
        if ((child = run_new(r, e, id, r->caller_ns, r->subject, r->key, NULL, NULL, binding)) ==
            NULL) {
            fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
            return;
        }
        step(s, child, input);
        return;
    }
    r->root->atomic++;
    invoke_atomic(s, r, e, input, binding);
}

/* The next component of sequence r on input, or the end. */
static void seq_next(sched *s, run *r, const msgpack_object *input, const msgpack_object *last,
                     sq_act_status last_status)
{
    const msgpack_object *comps = &r->e->action.exec.components;
    const msgpack_object *c;
    char ns[300], name[520], err[256];
    sched_entry *e = NULL;
    natsMsg *wire = NULL;
    sq_status st;

    if (r->next >= comps->via.array.size) {
        complete(s, r, last_status, last);
        return;
    }
    if (r->root->atomic >= sched_cfg.seq_max) {
        fail(s, r, SQ_ACT_APP_ERROR, "Too many actions in the sequence.");
        return;
    }
    c = &comps->via.array.ptr[r->next++];
    if (!sched_parse_fqn(c->via.str.ptr, c->via.str.size, false, r->caller_ns, ns, sizeof ns, name,
                         sizeof name)) {
        fail(s, r, SQ_ACT_APP_ERROR, "Sequence component does not exist.");
        return;
    }
    st = sched_lookup(s, ns, name, strcmp(ns, r->caller_ns) != 0, &e, &wire, err, sizeof err);
    natsMsg_Destroy(wire);
    if (st == SQ_ERR_NOT_FOUND) {
        fail(s, r, SQ_ACT_APP_ERROR, "Sequence component does not exist.");
        return;
    }
    if (st != SQ_OK) {
        fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
        return;
    }
    dispatch(s, r, e, input, ns, name);
    sched_entry_unref(e);
}

/* Runs the conductor action of r on input (a secondary activation). */
static void conductor_next(sched *s, run *r, const msgpack_object *input)
{
    if (r->root->secondary >= 2 * sched_cfg.seq_max + 1) {
        fail(s, r, SQ_ACT_APP_ERROR, "Too many actions in the composition.");
        return;
    }
    r->root->secondary++;
    r->awaiting_conductor = true;
    invoke_atomic(s, r, r->e, input, r->binding[0] ? r->binding : NULL);
}

/* Starts r on its input. */
static void step(sched *s, run *r, const msgpack_object *input)
{
    if (r->conductor)
        conductor_next(s, r, input);
    else
        seq_next(s, r, input, input, SQ_ACT_SUCCESS);
}

/* The conductor ended the composition: its output is params (boxed), or the whole result. */
static void conductor_end(sched *s, run *r, const msgpack_object *res, const msgpack_object *params,
                          msgpack_zone *z)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_object out;

    sq_proto_buf_init(&sb, &pk);
    if (params != NULL)
        sq_boxed_encode(&pk, "value", params);
    else
        msgpack_pack_object(&pk, *res);
    if (sq_mp_unpack(sb.data, sb.size, z, &out) == SQ_OK)
        complete(s, r, SQ_ACT_SUCCESS, &out);
    else
        fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
    msgpack_sbuffer_destroy(&sb);
}

/* Ends r: the conductor named no action this scheduler can parse. */
static void conductor_bad_action(sched *s, run *r, const msgpack_object *action)
{
    char msg[1200];
    json_t *j = sq_mp_to_json(action);
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    snprintf(msg, sizeof msg, "Failed to parse action name from json value %s during composition.",
             txt ? txt : "?");
    free(txt);
    fail(s, r, SQ_ACT_APP_ERROR, msg);
}

/* The conductor's result res: the end of r, or its next component. */
static void conductor_continue(sched *s, run *r, const msgpack_object *res, msgpack_zone *z)
{
    sched_conductor_ask ask;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_object input;
    char ns[300], name[520], err[256], msg[1200];
    sched_entry *e = NULL;
    natsMsg *wire = NULL;
    sq_status st;

    sched_conductor_parse(res, &ask);
    if (ask.action == NULL) {
        conductor_end(s, r, res, ask.params, z);
        return;
    }
    if (ask.action->type != MSGPACK_OBJECT_STR ||
        !sched_parse_fqn(ask.action->via.str.ptr, ask.action->via.str.size, true, r->caller_ns, ns,
                         sizeof ns, name, sizeof name)) {
        conductor_bad_action(s, r, ask.action);
        return;
    }
    r->state.size = 0;
    if (ask.state != NULL) {
        msgpack_packer spk;
        msgpack_packer_init(&spk, &r->state, msgpack_sbuffer_write);
        sq_boxed_encode(&spk, "state", ask.state);
    }
    if (r->root->atomic >= sched_cfg.seq_max) {
        fail(s, r, SQ_ACT_APP_ERROR, "Too many actions in the composition.");
        return;
    }
    st = sched_lookup(s, ns, name, strcmp(ns, r->caller_ns) != 0, &e, &wire, err, sizeof err);
    natsMsg_Destroy(wire);
    if (st != SQ_OK) {
        snprintf(msg, sizeof msg, "Failed to resolve action with name '%s/%s' during composition.",
                 ns, name);
        fail(s, r, st == SQ_ERR_NOT_FOUND ? SQ_ACT_APP_ERROR : SQ_ACT_INTERNAL, msg);
        return;
    }
    sq_proto_buf_init(&sb, &pk);
    if (ask.params != NULL)
        sq_boxed_encode(&pk, "value", ask.params);
    else
        sq_input_encode(&pk, NULL);
    r->awaiting_conductor = false;
    if (sq_mp_unpack(sb.data, sb.size, z, &input) == SQ_OK)
        dispatch(s, r, e, &input, ns, name);
    else
        fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
    sched_entry_unref(e);
    msgpack_sbuffer_destroy(&sb);
}

/* The record (data) of r's outstanding component arrived. */
static void component_done(sched *s, run *r, const char *data, size_t len)
{
    msgpack_zone z;
    sq_activation a;
    char err[256];
    msgpack_object empty;

    msgpack_zone_init(&z, 4096);
    if (sq_activation_decode(data, len, &z, &a, err, sizeof err) != SQ_OK) {
        sq_error("malformed component record in composition \"%s\": %s", r->id, err);
        msgpack_zone_destroy(&z);
        fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
        return;
    }
    if (!add_log(r, a.id)) {
        msgpack_zone_destroy(&z);
        fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
        return;
    }
    r->duration += a.duration;
    if (sched_record_memory(&a) > r->max_memory)
        r->max_memory = sched_record_memory(&a);
    memset(&empty, 0, sizeof empty);
    empty.type = MSGPACK_OBJECT_MAP;

    if (!r->conductor) {
        if (a.status != SQ_ACT_SUCCESS)
            complete(s, r, a.status, &a.result);
        else
            seq_next(s, r,
                     a.result.type == MSGPACK_OBJECT_MAP || a.result.type == MSGPACK_OBJECT_ARRAY
                         ? &a.result
                         : &empty,
                     &a.result, a.status);
    } else if (r->awaiting_conductor) {
        if (a.status != SQ_ACT_SUCCESS)
            complete(s, r, a.status, &a.result);
        else
            conductor_continue(s, r, &a.result, &z);
    } else if (a.status == SQ_ACT_INTERNAL) {
        complete(s, r, a.status, &a.result);
    } else {
        msgpack_object input;
        if (sched_with_state(&r->state, &a.result, &z, &input))
            conductor_next(s, r, &input);
        else
            fail(s, r, SQ_ACT_INTERNAL, FAILED(r));
    }
    msgpack_zone_destroy(&z);
}

/* ---- threads and entry points ------------------------------------------------------------------ */

static void *worker(void *arg)
{
    sched *s = arg;
    sched_seq *q = s->seq;
    for (;;) {
        job *j;
        pthread_mutex_lock(&q->lock);
        while (q->head == NULL && !q->stop)
            pthread_cond_wait(&q->cv, &q->lock);
        if (q->head == NULL) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        j = q->head;
        q->head = j->next;
        if (q->head == NULL)
            q->tail = NULL;
        pthread_mutex_unlock(&q->lock);

        if (j->data != NULL) {
            component_done(s, j->r, j->data, j->len);
        } else {
            msgpack_zone z;
            msgpack_object input;
            msgpack_zone_init(&z, 1024);
            /* a topmost run starts when a worker takes it up: the wait before is its
               waitTime */
            j->r->start_ms = sq_now_ms();
            if (sq_mp_unpack(j->input.data, j->input.size, &z, &input) == SQ_OK)
                step(s, j->r, &input);
            else
                fail(s, j->r, SQ_ACT_INTERNAL, FAILED(j->r));
            msgpack_zone_destroy(&z);
        }
        free(j->data);
        msgpack_sbuffer_destroy(&j->input);
        free(j);
    }
}

void sched_on_component(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    sched *s = closure;
    sched_seq *q = s->seq;
    const char *subj = natsMsg_GetSubject(msg), *id = strrchr(subj, '.');
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    job *j;
    run *r;

    if (id == NULL || strlen(id + 1) != 32)
        return;
    id++;
    /* whoever answered, the component is over for the in-flight table */
    sched_flight_done(s, id);
    pthread_mutex_lock(&q->lock);
    r = unwait_locked(q, id);
    pthread_mutex_unlock(&q->lock);
    if (r == NULL)
        return; /* a second answer (the lost-record path and the invoker both answered) */
    if ((j = calloc(1, sizeof *j)) == NULL || (j->data = malloc(len ? len : 1)) == NULL) {
        free(j);
        sq_error("out of memory: composition \"%s\" is abandoned", r->id);
        return;
    }
    msgpack_sbuffer_init(&j->input);
    memcpy(j->data, natsMsg_GetData(msg), len);
    j->len = len;
    j->r = r;
    push(q, j);
}

sq_status sched_seq_run(sched *s, const sq_invoke *inv, sched_entry *e,
                        const msgpack_object *params, const char *reply, const char *caller_ns)
{
    job *j = calloc(1, sizeof *j);
    msgpack_packer pk;
    run *r;

    if (j == NULL)
        return SQ_ERR_NOMEM;
    char bbuf[600];
    const char *binding = sched_binding_of(inv->ns, inv->name, &e->action, bbuf, sizeof bbuf);
    if ((r = run_new(NULL, e, inv->id, caller_ns, inv->subject, inv->key, reply, inv->cause,
                     binding)) == NULL) {
        free(j);
        return SQ_ERR_NOMEM;
    }
    msgpack_sbuffer_init(&j->input);
    msgpack_packer_init(&pk, &j->input, msgpack_sbuffer_write);
    sq_input_encode(&pk, params);
    j->r = r;
    {
        char path[600];
        sched_flight_info info = { .id = inv->id,
                                   .ns = caller_ns,
                                   .name = e->action.name,
                                   .version = e->action.version,
                                   .subject = inv->subject,
                                   .kind = "sequence",
                                   .path = path,
                                   .cause = inv->cause,
                                   .limits = e->action.limits,
                                   .caused_by = r->caused_by,
                                   .binding = binding };
        snprintf(path, sizeof path, "%s/%s", e->action.namespace_, e->action.name);
        sched_run_begin(s, &info, r->start_ms);
    }
    push(s->seq, j);
    return SQ_OK;
}

sq_status sched_seq_start(sched *s)
{
    sched_seq *q = calloc(1, sizeof *q);
    if (q == NULL)
        return SQ_ERR_NOMEM;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cv, NULL);
    s->seq = q;
    if ((q->threads = calloc((size_t)sched_cfg.seq_workers, sizeof *q->threads)) == NULL)
        return SQ_ERR_NOMEM;
    for (; q->nthreads < sched_cfg.seq_workers; q->nthreads++)
        if (pthread_create(&q->threads[q->nthreads], NULL, worker, s) != 0)
            return SQ_ERR_INTERNAL;
    return SQ_OK;
}

void sched_seq_stop(sched *s)
{
    sched_seq *q = s->seq;
    size_t abandoned = 0;
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    for (size_t b = 0; b < WAIT_BUCKETS; b++)
        for (run *r = q->waiting[b], *n; r != NULL; r = n) {
            n = r->wnext;
            /* free the chain up to the topmost run (which owns the root) */
            while (r != NULL) {
                run *p = r->parent;
                run_free(r);
                r = p;
            }
            abandoned++;
        }
    if (abandoned)
        sq_warn("%zu composition(s) in progress abandoned", abandoned);
    for (job *j = q->head, *n; j != NULL; j = n) {
        n = j->next;
        free(j->data);
        msgpack_sbuffer_destroy(&j->input);
        free(j);
    }
    free(q->threads);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->lock);
    free(q);
    s->seq = NULL;
}
