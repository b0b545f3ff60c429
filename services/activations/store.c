/* All the SQL of squall-activations, on the `activations` table: daily range partitions of
 * start_ms (schemas/activations/0002_partitions.sql).
 *
 * Writes. A batch goes in as one prepared statement that unnests seven arrays bound in
 * binary (ids, namespaces, names, starts, ends, status codes, records): the statement text
 * never changes, so PostgreSQL plans it once per connection, and no value is ever turned
 * into text. It inserts a row only where no record of its id exists (RETURNING tells which
 * rows were new), inside a transaction that first takes an advisory lock shared by every
 * copy of the store: with the id indexed but not unique (a partitioned table cannot have
 * it unique), that lock is what keeps two copies from inserting the same id at once. The
 * partition of each day in the batch is created in the same transaction when this
 * connection has not seen it yet. Transactions run through libsqpg's sq_store_run() (its
 * one retry policy: sq/store.h). Measured on the development VM, this is faster than COPY
 * into a staging table followed by INSERT ... SELECT (two statements and a temporary table
 * per batch) for the batch sizes used here.
 *
 * Retention: act_store_maintain() drops the partitions whose whole day is older than the
 * retention and creates today's and tomorrow's ahead of time. Reads ask for binary results
 * so that a record comes back as the very bytes that were published. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act.h"
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/util.h"

#define DAY_MS ((int64_t)86400000)
#define STORE_LOCK 0x5351414354LL /* any fixed number: every copy of the store agrees on it */

#define INSERT_SQL                                                                                 \
    "INSERT INTO activations (id, namespace, name, start_ms, end_ms, status_code, record) "        \
    "SELECT v.id, v.ns, v.name, v.s, v.e, v.c, v.r FROM unnest($1::uuid[], $2::text[], "           \
    "$3::text[], $4::int8[], $5::int8[], $6::int2[], $7::bytea[]) AS v(id, ns, name, s, e, c, r) " \
    "WHERE NOT EXISTS (SELECT 1 FROM activations a WHERE a.id = v.id) RETURNING id"

/* PostgreSQL type oids of the arrays and their elements */
enum {
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_TEXT = 25,
    OID_UUID = 2950,
    OID_BYTEA_A = 1001,
    OID_INT2_A = 1005,
    OID_TEXT_A = 1009,
    OID_INT8_A = 1016,
    OID_UUID_A = 2951
};

/* PostgreSQL's message on one line (it spreads some over several), passwords masked, for
 * one log line. */
static void set_err(char *err, size_t errlen, PGconn *c)
{
    snprintf(err, errlen, "%s", sq_pg_error(c));
}

static const char *sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* A failed statement is the data's fault (class 22 data exception, 23 integrity, 54
 * program limit) only while the connection is fine; anything else may pass. */
static sq_status classify(PGconn *c, const PGresult *r)
{
    const char *state = sqlstate(r);
    if (PQstatus(c) != CONNECTION_OK || state[0] == '\0')
        return SQ_ERR_DB;
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2) || !strncmp(state, "54", 2))
        return SQ_ERR_BAD_REQUEST;
    return SQ_ERR_DB;
}

static bool command_ok(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        set_err(err, errlen, c);
    PQclear(r);
    return ok;
}

int64_t act_day_of(int64_t ms)
{
    return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

static void partition_name(int64_t day, char *out, size_t outlen)
{
    if (day >= 0)
        snprintf(out, outlen, "activations_d%" PRId64, day);
    else
        snprintf(out, outlen, "activations_dm%" PRId64, -day);
}

static bool known(const act_store *st, int64_t day)
{
    for (int i = 0; i < st->nknown; i++)
        if (st->known[i] == day)
            return true;
    return false;
}

static void remember(act_store *st, int64_t day)
{
    if (known(st, day))
        return;
    if (st->nknown == ACT_KNOWN_DAYS) {
        memmove(st->known, st->known + 1, sizeof st->known[0] * (ACT_KNOWN_DAYS - 1));
        st->nknown--;
    }
    st->known[st->nknown++] = day;
}

/* Creates the partition of day unless it exists (inside the caller's transaction). */
static bool create_partition(act_store *st, int64_t day, char *err, size_t errlen)
{
    char name[64], sql[256];
    partition_name(day, name, sizeof name);
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS %s PARTITION OF activations FOR VALUES FROM (%" PRId64
             ") TO (%" PRId64 ")",
             name, day * DAY_MS, (day + 1) * DAY_MS);
    if (!command_ok(st->conn, sql, err, errlen))
        return false;
    remember(st, day);
    return true;
}

/* A new session (first use, or the connection was reset after a server restart):
 * prepared statements and what it knew of the partitions are gone. */
static bool session(act_store *st, char *err, size_t errlen)
{
    static const Oid types[7] = { OID_UUID_A, OID_TEXT_A, OID_TEXT_A, OID_INT8_A,
                                  OID_INT8_A, OID_INT2_A, OID_BYTEA_A };
    int pid = PQbackendPID(st->conn);
    PGresult *r;

    if (pid == st->pid && pid != 0)
        return true;
    st->nknown = 0;
    r = PQprepare(st->conn, "act_insert", INSERT_SQL, 7, types);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        set_err(err, errlen, st->conn);
        PQclear(r);
        return false;
    }
    PQclear(r);
    st->pid = pid;
    return true;
}

/* ---- binary arrays ------------------------------------------------------------------------- */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The 16 bytes of a 32-hex-digit activation id. */
static bool uuid_of(const char *id, unsigned char out[16])
{
    for (int i = 0; i < 16; i++) {
        int hi = hexval(id[2 * i]), lo = hi < 0 ? -1 : hexval(id[2 * i + 1]);
        if (lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return id[32] == '\0';
}

static void put32(msgpack_sbuffer *b, uint32_t v)
{
    v = htonl(v);
    msgpack_sbuffer_write(b, (const char *)&v, 4);
}

static void array_begin(msgpack_sbuffer *b, uint32_t elem_oid, size_t n)
{
    b->size = 0;
    put32(b, 1); /* dimensions */
    put32(b, 0); /* no nulls */
    put32(b, elem_oid);
    put32(b, (uint32_t)n); /* size of the dimension */
    put32(b, 1);           /* lower bound */
}

static void array_bytes(msgpack_sbuffer *b, const void *p, size_t len)
{
    put32(b, (uint32_t)len);
    msgpack_sbuffer_write(b, p, len);
}

static void array_int(msgpack_sbuffer *b, int64_t v, int width)
{
    unsigned char be[8];
    for (int i = 0; i < width; i++)
        be[i] = (unsigned char)((uint64_t)v >> (8 * (width - 1 - i)));
    array_bytes(b, be, (size_t)width);
}

/* The seven binary arrays of a batch into st->arr, pointed to by vals/lens. */
static sq_status fill_arrays(act_store *st, const act_row *rows, size_t n, const char *vals[7],
                             int lens[7], char *err, size_t errlen)
{
    static const int elem[7] = { OID_UUID, OID_TEXT, OID_TEXT, OID_INT8,
                                 OID_INT8, OID_INT2, OID_BYTEA };

    for (int k = 0; k < 7; k++)
        array_begin(&st->arr[k], (uint32_t)elem[k], n);
    for (size_t i = 0; i < n; i++) {
        unsigned char uuid[16];
        if (!uuid_of(rows[i].id, uuid)) {
            snprintf(err, errlen, "activation id \"%.40s\" is not 32 hex digits", rows[i].id);
            return SQ_ERR_BAD_REQUEST;
        }
        array_bytes(&st->arr[0], uuid, 16);
        array_bytes(&st->arr[1], rows[i].ns, strlen(rows[i].ns));
        array_bytes(&st->arr[2], rows[i].name, strlen(rows[i].name));
        array_int(&st->arr[3], rows[i].start, 8);
        array_int(&st->arr[4], rows[i].end, 8);
        array_int(&st->arr[5], rows[i].status, 2);
        array_bytes(&st->arr[6], rows[i].record, rows[i].len);
    }
    for (int k = 0; k < 7; k++) {
        vals[k] = st->arr[k].data;
        lens[k] = (int)st->arr[k].size;
    }
    return SQ_OK;
}

/* Sets inserted[i] for each row whose id the INSERT returned (16 bytes each). */
static void mark_inserted(const act_store *st, const PGresult *r, size_t n, bool *inserted)
{
    size_t hint = 0;
    for (int t = 0; t < PQntuples(r); t++) {
        const char *id = PQgetvalue(r, t, 0);
        if (PQgetlength(r, t, 0) != 16)
            continue;
        /* row i's 16 bytes in the id array: after the 20-byte header, 20 bytes a row
         * (length, then the value); RETURNING mostly keeps the rows' order, so the search
         * starts where the previous match ended */
        for (size_t k = 0; k < n; k++, hint = (hint + 1) % n)
            if (!inserted[hint] && memcmp(st->arr[0].data + 20 + hint * 20 + 4, id, 16) == 0) {
                inserted[hint] = true;
                break;
            }
    }
}

/* The lock every copy of the store takes first in its transactions. */
static bool store_lock(PGconn *c, char *err, size_t errlen)
{
    /* In the same round trip, for this transaction: the insert's NOT EXISTS probes each
     * partition's id index. The statement is planned once per session, and a plan made while
     * a partition looked small (a new stack, a new day's partition before autovacuum has
     * analyzed it) hashed the whole partition, scanned, for every batch: PostgreSQL spent
     * 160 µs of CPU per record at 2 500 records/s instead of 30 µs for as long as that plan
     * lived. Nothing else these transactions run is better served by a scan or a hash. */
    char lock[256];
    snprintf(lock, sizeof lock,
             "SELECT pg_advisory_xact_lock(%lld), set_config('enable_hashjoin', 'off', true), "
             "set_config('enable_mergejoin', 'off', true), "
             "set_config('enable_seqscan', 'off', true)",
             STORE_LOCK);
    return command_ok(c, lock, err, errlen);
}

typedef struct insert_args {
    act_store *st;
    const act_row *rows;
    size_t n;
    bool *inserted;
    const char *const *vals;
    const int *lens;
    char *err;
    size_t errlen;
    int runs;
    bool no_partition; /* the INSERT failed with 23514: a partition it expected is gone */
} insert_args;

/* One attempt of an insert, inside sq_store_run()'s transaction. */
static sq_status insert_work(PGconn *c, void *arg)
{
    static const int fmts[7] = { 1, 1, 1, 1, 1, 1, 1 };
    insert_args *a = arg;
    act_store *st = a->st;
    PGresult *r;

    for (size_t i = 0; i < a->n; i++)
        a->inserted[i] = false;
    if (a->runs++ > 0)
        st->nknown = 0; /* a failed attempt may have remembered partitions it rolled back */
    if (!session(st, a->err, a->errlen) || !store_lock(c, a->err, a->errlen))
        return SQ_ERR_DB;
    for (size_t i = 0; i < a->n; i++) {
        int64_t day = act_day_of(a->rows[i].start);
        if (!known(st, day) && !create_partition(st, day, a->err, a->errlen))
            return SQ_ERR_DB;
    }
    r = PQexecPrepared(c, "act_insert", 7, a->vals, a->lens, fmts, 1); /* ids back as 16 bytes */
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        sq_status status = classify(c, r);
        set_err(a->err, a->errlen, c);
        a->no_partition = strcmp(sqlstate(r), "23514") == 0;
        PQclear(r);
        return status;
    }
    mark_inserted(st, r, a->n, a->inserted);
    PQclear(r);
    return SQ_OK;
}

sq_status act_store_insert(act_store *st, const act_row *rows, size_t n, bool *inserted, char *err,
                           size_t errlen)
{
    const char *vals[7];
    int lens[7];
    sq_status status;
    insert_args a = { st, rows, n, inserted, vals, lens, err, errlen, 0, false };

    for (size_t i = 0; i < n; i++)
        inserted[i] = false;
    if (n == 0)
        return SQ_OK;
    if ((status = fill_arrays(st, rows, n, vals, lens, err, errlen)) != SQ_OK)
        return status;
    /* libsqpg's retry policy (sq/store.h), and once more after a 23514: another copy dropped
     * a partition this one knew */
    for (int round = 0; round < 2; round++) {
        a.no_partition = false;
        if ((status = sq_store_run(st->db, true, insert_work, &a)) == SQ_OK)
            return SQ_OK;
        if (!a.no_partition)
            break;
        st->nknown = 0;
    }
    for (size_t i = 0; i < n; i++)
        inserted[i] = false;
    if (status == SQ_ERR_UNAVAILABLE) {
        if (err[0] == '\0')
            snprintf(err, errlen, "the database is not reachable");
        return SQ_ERR_DB;
    }
    return status;
}

typedef struct maintain_args {
    act_store *st;
    int retention_days;
    int64_t today;
    int *dropped;
    char *err;
    size_t errlen;
} maintain_args;

/* Drops the partitions of days before a->today - retention_days. */
static bool drop_expired(PGconn *c, maintain_args *a)
{
    act_store *st = a->st;
    PGresult *r =
        PQexec(c, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                  "WHERE i.inhparent = 'activations'::regclass");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(a->err, a->errlen, c);
        PQclear(r);
        return false;
    }
    for (int t = 0; t < PQntuples(r); t++) {
        const char *rel = PQgetvalue(r, t, 0);
        long long d;
        char sql[160];
        if (sscanf(rel, "activations_dm%lld", &d) == 1)
            d = -d;
        else if (sscanf(rel, "activations_d%lld", &d) != 1)
            continue;
        if (d >= a->today - a->retention_days)
            continue;
        /* the day's counts go with its records (0003_counts.sql) */
        snprintf(sql, sizeof sql, "DROP TABLE %s; DELETE FROM activation_counts WHERE day = %lld",
                 rel, d);
        if (!command_ok(c, sql, a->err, a->errlen)) {
            PQclear(r);
            return false;
        }
        for (int i = 0; i < st->nknown; i++)
            if (st->known[i] == d) {
                st->known[i] = st->known[--st->nknown];
                break;
            }
        (*a->dropped)++;
    }
    PQclear(r);
    return true;
}

static sq_status maintain_work(PGconn *c, void *arg)
{
    maintain_args *a = arg;
    act_store *st = a->st;

    *a->dropped = 0;
    if (!session(st, a->err, a->errlen) || !store_lock(c, a->err, a->errlen) ||
        !create_partition(st, a->today, a->err, a->errlen) ||
        !create_partition(st, a->today + 1, a->err, a->errlen))
        return SQ_ERR_DB;
    if (a->retention_days > 0 && !drop_expired(c, a))
        return SQ_ERR_DB;
    return SQ_OK;
}

sq_status act_store_maintain(act_store *st, int retention_days, int64_t now_ms, int *dropped,
                             char *err, size_t errlen)
{
    maintain_args a = { st, retention_days, act_day_of(now_ms), dropped, err, errlen };
    sq_status status = sq_store_run(st->db, true, maintain_work, &a);
    if (status != SQ_OK)
        st->nknown = 0; /* what it created was rolled back */
    return status == SQ_OK ? SQ_OK : SQ_ERR_DB;
}

static sq_status tuples(PGconn *c, PGresult *r, PGresult **out, char *err, size_t errlen)
{
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(err, errlen, c);
        PQclear(r);
        *out = NULL;
        return SQ_ERR_DB;
    }
    *out = r;
    return SQ_OK;
}

sq_status act_store_get(PGconn *c, const char *ns, const char *id, PGresult **out, char *err,
                        size_t errlen)
{
    const char *vals[2] = { id, ns };
    PGresult *r = sq_pg_run(
        c, "SELECT record FROM activations WHERE id = $1::uuid AND namespace = $2 LIMIT 1", 2, vals,
        NULL, NULL, 1);
    return tuples(c, r, out, err, errlen);
}

/* The WHERE clause of a list or count, with its parameters in vals/bufs; returns the
 * number of parameters. */
static int where(const sq_act_query *q, char *sql, size_t cap, int *off, const char **vals,
                 char since[24], char upto[24])
{
    int n = 0;
    vals[n++] = q->ns;
    *off += snprintf(sql + *off, cap - (size_t)*off, " WHERE namespace = $1");
    if (q->name != NULL && q->name[0] != '\0') {
        vals[n++] = q->name;
        *off += snprintf(sql + *off, cap - (size_t)*off, " AND name = $%d", n);
    }
    if (q->since > 0) {
        snprintf(since, 24, "%" PRId64, q->since);
        vals[n++] = since;
        *off += snprintf(sql + *off, cap - (size_t)*off, " AND start_ms >= $%d", n);
    }
    if (q->upto > 0) {
        snprintf(upto, 24, "%" PRId64, q->upto);
        vals[n++] = upto;
        *off += snprintf(sql + *off, cap - (size_t)*off, " AND start_ms <= $%d", n);
    }
    return n;
}

sq_status act_store_list(PGconn *c, const sq_act_query *q, int64_t limit, PGresult **out, char *err,
                         size_t errlen)
{
    char sql[512], since[24], upto[24], lim[24], skip[24];
    const char *vals[6];
    int n, off = snprintf(sql, sizeof sql, "SELECT record FROM activations");

    /* the text depends only on which filters are given (eight shapes, each prepared once) */
    n = where(q, sql, sizeof sql, &off, vals, since, upto);
    snprintf(lim, sizeof lim, "%" PRId64, limit);
    snprintf(skip, sizeof skip, "%" PRId64, q->skip);
    vals[n++] = lim;
    vals[n++] = skip;
    snprintf(sql + off, sizeof sql - (size_t)off,
             " ORDER BY start_ms DESC, id DESC LIMIT $%d::int8 OFFSET $%d::int8", n - 1, n);
    return tuples(c, sq_pg_run(c, sql, n, vals, NULL, NULL, 1), out, err, errlen);
}

/* The bounds of a count: records in [since, upto] (INT64_MIN/MAX when unbounded) are the
 * whole days lo_day < day < hi_day, counted from activation_counts, and the records before
 * lo_end or from hi_start on, counted one by one (the partial days at the ends). */
static void count_bounds(const sq_act_query *q, char b[6][24])
{
    int64_t since = q->since > 0 ? q->since : INT64_MIN, upto = q->upto > 0 ? q->upto : INT64_MAX;
    int64_t lo_day = q->since > 0 ? act_day_of(since) : INT64_MIN / DAY_MS - 1;
    int64_t hi_day = q->upto > 0 ? act_day_of(upto) : INT64_MAX / DAY_MS + 1;
    int64_t lo_end = q->since <= 0                  ? INT64_MIN
                     : lo_day >= INT64_MAX / DAY_MS ? INT64_MAX /* the last day there is */
                                                    : (lo_day + 1) * DAY_MS;
    int64_t hi_start = q->upto > 0 ? hi_day * DAY_MS : INT64_MAX;
    const int64_t v[6] = { since, upto, lo_day, hi_day, lo_end, hi_start };

    for (int i = 0; i < 6; i++)
        snprintf(b[i], 24, "%" PRId64, v[i]);
}

sq_status act_store_count(PGconn *c, const sq_act_query *q, int64_t *count, char *err,
                          size_t errlen)
{
    bool named = q->name != NULL && q->name[0] != '\0';
    char b[6][24], sql[768];
    const char *vals[8] = { q->ns, named ? q->name : "" };
    const char *name_is = named ? " AND name = $2" : " AND $2 = ''";
    PGresult *r;
    sq_status st;

    count_bounds(q, b);
    for (int i = 0; i < 6; i++)
        vals[2 + i] = b[i];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT sum(n) FROM activation_counts WHERE namespace = $1%s AND "
             "day > $5::int8 AND day < $6::int8), 0)::int8 + (SELECT count(*) FROM activations "
             "WHERE namespace = $1%s AND start_ms >= $3::int8 AND start_ms <= $4::int8 AND "
             "(start_ms < $7::int8 OR start_ms >= $8::int8))",
             name_is, name_is);
    st = tuples(c, sq_pg_run(c, sql, 8, vals, NULL, NULL, 0), &r, err, errlen);
    if (st != SQ_OK)
        return st;
    *count = PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return SQ_OK;
}

sq_status act_store_purge(PGconn *c, const char *ns, int64_t at, int64_t *deleted, char *err,
                          size_t errlen)
{
    char atbuf[24];
    const char *vals[2] = { ns, atbuf };
    PGresult *r;
    sq_status st = SQ_OK;

    snprintf(atbuf, sizeof atbuf, "%" PRId64, at);
    r = PQexecParams(c, "DELETE FROM activations WHERE namespace = $1 AND start_ms <= $2::int8", 2,
                     NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        set_err(err, errlen, c);
        st = SQ_ERR_DB;
    } else
        *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return st;
}
