/* The query routes of squall-activations: sq.activations.get (the record, as stored),
 * sq.activations.logs ({logs}) and sq.activations.list ({items}, newest first; OpenWhisk's
 * summaries unless docs; {count} with count, which docs may not come with). They share the reader's store (sq_store_run(): a connection
 * lost under a query is reset and the query run again, so a PostgreSQL restart costs no
 * failed request when the server is back). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "act.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

#define LIST_DEFAULT 30
#define LIST_MAX 200

typedef enum { Q_GET, Q_LIST, Q_COUNT } qkind;

typedef struct query_args {
    qkind k;
    const sq_act_query *q;
    int64_t limit;
    PGresult **out;
    int64_t *count;
    char err[512];
} query_args;

static sq_status query_fn(PGconn *c, void *arg)
{
    query_args *a = arg;
    return a->k == Q_GET    ? act_store_get(c, a->q->ns, a->q->id, a->out, a->err, sizeof a->err)
           : a->k == Q_LIST ? act_store_list(c, a->q, a->limit, a->out, a->err, sizeof a->err)
                            : act_store_count(c, a->q, a->count, a->err, sizeof a->err);
}

/* Runs one query through sq_store_run() (a plain read with libsqpg's retry policy: a
 * connection lost under it is reset and the query run again): Q_GET and Q_LIST into *out,
 * Q_COUNT into *count. SQ_ERR_UNAVAILABLE when the database cannot be reached. */
static sq_status query(act_reader *rd, qkind k, const sq_act_query *q, int64_t limit,
                       PGresult **out, int64_t *count)
{
    query_args a = { k, q, limit, out, count, "the database is not reachable" };
    sq_status st = sq_store_run(rd->db, false, query_fn, &a);

    if (st != SQ_OK)
        sq_error("could not %s activations of \"%s\": %s",
                 k == Q_GET    ? "read"
                 : k == Q_LIST ? "list"
                               : "count",
                 q->ns, a.err);
    return st;
}

static void respond_db_error(sq_bus_t *bus, natsMsg *msg, sq_status st)
{
    sq_bus_respond_error(bus, msg, st == SQ_ERR_UNAVAILABLE ? SQ_ERR_UNAVAILABLE : SQ_ERR_DB,
                         st == SQ_ERR_UNAVAILABLE ? "the activation store is not available"
                                                  : "could not read activations");
}

/* Decodes the request; answers 400 itself and returns false when it is malformed. */
static bool decode(sq_bus_t *bus, natsMsg *msg, msgpack_zone *z, sq_act_query *q)
{
    char err[256] = "";
    sq_status st = sq_act_query_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), z,
                                       q, err, sizeof err);
    if (st != SQ_OK) {
        sq_bus_respond_error(bus, msg, st, "%s", err[0] ? err : sq_status_str(st));
        return false;
    }
    return true;
}

/* Looks up the record of q->id in q->ns; answers the error itself (400, 404, 503...) and
 * returns NULL when there is nothing to reply with. */
static PGresult *find(act_reader *rd, sq_bus_t *bus, natsMsg *msg, sq_act_query *q)
{
    PGresult *r = NULL;
    sq_status st;

    if (!sq_id_valid(q->id)) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "activation id is not 32 hex characters");
        return NULL;
    }
    for (char *p = q->id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if ((st = query(rd, Q_GET, q, 0, &r, NULL)) != SQ_OK) {
        respond_db_error(bus, msg, st);
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        sq_bus_respond_error(bus, msg, SQ_ERR_NOT_FOUND, NULL);
        return NULL;
    }
    return r;
}

void act_on_get(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    sq_act_query q;
    PGresult *r;

    if (!msgpack_zone_init(&z, 1024))
        return;
    if (decode(bus, msg, &z, &q) && (r = find(closure, bus, msg, &q)) != NULL) {
        sq_bus_respond(bus, msg, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
        PQclear(r);
    }
    msgpack_zone_destroy(&z);
}

void act_on_logs(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    sq_act_query q;
    PGresult *r;
    sq_act_record_logs rec;

    if (!msgpack_zone_init(&z, 4096))
        return;
    if (!decode(bus, msg, &z, &q) || (r = find(closure, bus, msg, &q)) == NULL) {
        msgpack_zone_destroy(&z);
        return;
    }
    if (sq_act_record_logs_decode(PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), &z, &rec, NULL,
                                  0) != SQ_OK) {
        sq_error("stored activation \"%s\" is not readable", q.id);
        sq_bus_respond_error(bus, msg, SQ_ERR_INTERNAL, "the stored activation is not readable");
    } else {
        sq_act_logs reply = { .logs = rec.logs };
        SQ_RESPOND(bus, msg, sq_act_logs, &reply);
    }
    PQclear(r);
    msgpack_zone_destroy(&z);
}

/* The list's name filter, as OpenWhisk's: empty (none), "name" or "pkg/name". */
static bool name_filter_ok(const char *name)
{
    char buf[512], *slash;
    size_t n = strlen(name);
    if (n == 0)
        return true;
    if (n >= sizeof buf)
        return false;
    memcpy(buf, name, n + 1);
    if ((slash = strchr(buf, '/')) != NULL) {
        *slash = '\0';
        if (!sq_name_valid(buf))
            return false;
        return sq_name_valid(slash + 1); /* a second '/' is not a valid name character */
    }
    return sq_name_valid(buf);
}

/* Answers a list request whose parameters are refused (OpenWhisk's messages) and returns
 * false; else the page size in *limit. */
static bool list_request_ok(sq_bus_t *bus, natsMsg *msg, const sq_act_query *q, int64_t *limit)
{
    if (q->count && q->docs) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The parameter 'docs' is not permitted with 'count'.");
        return false;
    }
    *limit = q->limit == 0 ? LIST_DEFAULT : q->limit;
    if (*limit < 0 || *limit > LIST_MAX) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The value '%lld' is not in the range of 0 to %d for activations.",
                             (long long)q->limit, LIST_MAX);
        return false;
    }
    if (q->skip < 0) {
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "The value '%lld' is not greater than or equal to 0 for activations.",
                             (long long)q->skip);
        return false;
    }
    if (!name_filter_ok(q->name)) {
        bool printable = strlen(q->name) <= 200;
        for (const char *c = q->name; printable && *c; c++)
            printable = *c >= 0x20 && *c < 0x7f;
        sq_bus_respond_error(bus, msg, SQ_ERR_BAD_REQUEST,
                             "Parameter may be a 'simple' name or 'package-name/simple' name: %s",
                             printable ? q->name : "(not shown)");
        return false;
    }
    return true;
}

void act_on_list(sq_bus_t *bus, natsMsg *msg, void *closure)
{
    msgpack_zone z;
    sq_act_query q;
    PGresult *r = NULL;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int64_t limit;
    sq_status st;
    int n;

    if (!msgpack_zone_init(&z, 4096))
        return;
    if (!decode(bus, msg, &z, &q))
        goto out;
    if (!list_request_ok(bus, msg, &q, &limit))
        goto out;
    if (q.count) {
        int64_t count = 0;
        if ((st = query(closure, Q_COUNT, &q, 0, &r, &count)) != SQ_OK) {
            respond_db_error(bus, msg, st);
            goto out;
        }
        sq_count c = { .count = count };
        SQ_RESPOND(bus, msg, sq_count, &c);
        goto out;
    }
    if ((st = query(closure, Q_LIST, &q, limit, &r, NULL)) != SQ_OK) {
        respond_db_error(bus, msg, st);
        goto out;
    }
    n = PQntuples(r);
    sq_proto_buf_init(&sb, &pk);
    sq_items_begin(&pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        const char *rec = PQgetvalue(r, i, 0);
        size_t len = (size_t)PQgetlength(r, i, 0);
        sq_activation a;
        if (q.docs) {
            msgpack_sbuffer_write(&sb, rec, len); /* the record as stored */
            continue;
        }
        msgpack_zone_clear(&z);
        if (sq_activation_decode(rec, len, &z, &a, NULL, 0) != SQ_OK) {
            msgpack_pack_nil(&pk); /* cannot happen: records are checked before they are stored */
            continue;
        }
        sq_activation_summary_encode(&a, &pk); /* OpenWhisk's summary */
    }
    if (sb.size > (size_t)natsConnection_GetMaxPayload(sq_bus_nc(bus)))
        sq_bus_respond_error(bus, msg, SQ_ERR_TOO_LARGE,
                             "the activations do not fit in one reply; ask for fewer");
    else
        sq_bus_respond(bus, msg, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
out:
    PQclear(r);
    msgpack_zone_destroy(&z);
}
