/* The registry store's engine: what every kind of entity does the same way, driven by the
 * kind's descriptor (rs_kind, store_int.h): the key's parameters, the lookup of one entity,
 * its write, the put (OpenWhisk's: 409 when it exists and the put does not overwrite; the
 * kind's own checks and merge in its `check` and `apply`), the read or delete of one by its
 * key, and the lists. Each runs as one unit of work (rs_atomically); writes under the lock
 * of their namespace. */
#include "store_int.h"

#include <stdlib.h>
#include "sq/pg.h"

static const rs_kind *const KINDS[REG_NKINDS] = { &RS_ACTION, &RS_PACKAGE, &RS_TRIGGER, &RS_RULE };

static void bind_key(sq_params *p, const rs_kind *k, const rs_key *key)
{
    sq_params_str(p, key->ns);
    if (k->keyed_pkg)
        sq_params_str(p, key->pkg ? key->pkg : "");
    sq_params_str(p, key->name);
}

/* Runs sql (parameters: the key) and reads its one row into out: SQ_ERR_NOT_FOUND when
 * none. */
sq_status rs_find(reg_store_t *s, const rs_kind *k, const char *sql, const rs_key *key,
                  sq_arena_t *ar, void *out)
{
    sq_params p;
    sq_params_init(&p);
    bind_key(&p, k, key);
    return rs_fetch_one(s, sql, &p, k->read, ar, out);
}

/* rs_find for a kind without a package in its key. */
sq_status rs_find_name(reg_store_t *s, const rs_kind *k, const char *sql, const char *ns,
                       const char *name, sq_arena_t *ar, void *out)
{
    rs_key key = { ns, NULL, name };
    return rs_find(s, k, sql, &key, ar, out);
}

/* The parameters of a kind's insert and update from its column table: every column in the
 * order of the kind's SELECTs (which is that of its INSERT and UPDATE). */
static void bind_doc(sq_params *p, const rs_kind *k, const void *e)
{
    const char *base = e;
    for (int col = 0; col < k->nfields; col++)
        for (size_t i = 0; i < k->ncols; i++) {
            const rs_col *c = &k->cols[i];
            const void *v = base + c->off;
            if (c->col != col)
                continue;
            switch (c->type) {
            case RS_STR:
            case RS_STR_NULL: sq_params_str(p, *(char *const *)v); break;
            case RS_BOOL: sq_params_bool(p, *(const bool *)v); break;
            case RS_I64: sq_params_int(p, *(const int64_t *)v); break;
            case RS_MP: sq_params_mp(p, v, true); break;
            }
        }
}

/* Writes entity e (at key, for the kinds whose rows name it by the key) with sql, the
 * kind's insert or update: SQ_ERR_DB unless it wrote exactly one row. A kind whose writes
 * return the new revision gets it in e: the put's answer carries it, so the writer's next
 * invoke can ask the scheduler for at least that revision (read your writes). */
sq_status rs_write(reg_store_t *s, const rs_kind *k, const char *sql, const rs_key *key, void *e)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    if (k->bind != NULL)
        k->bind(&p, key, e);
    else
        bind_doc(&p, k, e);
    r = rs_run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    if (st == SQ_OK && k->returns_rev && PQntuples(r) == 1 && PQnfields(r) == 1)
        *(int64_t *)((char *)e + k->rev_off) = rs_col_i64(r, 0, 0, 0);
    PQclear(r);
    sq_params_free(&p);
    return st;
}

static sq_status put_work(reg_store_t *s, void *arg)
{
    put_entity_arg *a = arg;
    const rs_kind *k = a->kind;
    void *old = msgpack_zone_malloc(a->ar, k->elem);
    sq_status st;
    bool exists;

    if (old == NULL)
        return SQ_ERR_NOMEM;
    if (k->check != NULL && (st = k->check(s, a)) != SQ_OK)
        return st;
    st = rs_find(s, k, k->sql_lock, &a->key, a->ar, old);
    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    exists = st == SQ_OK;
    if (exists && !a->overwrite)
        return SQ_ERR_CONFLICT;
    if ((st = k->apply(s, a, exists ? old : NULL)) != SQ_OK)
        return st;
    *a->created = !exists;
    return rs_write(s, k, exists ? k->sql_update : k->sql_insert, &a->key, a->out);
}

sq_status reg_store_put(reg_store_t *s, reg_kind k, const char *ns, const char *pkg,
                        const char *name, bool overwrite, const void *patch, sq_arena_t *ar,
                        void *out, bool *created, char *err, size_t errlen)
{
    put_entity_arg a = { .kind = KINDS[k],
                         .key = { ns, pkg, name },
                         .overwrite = overwrite,
                         .p = patch,
                         .ar = ar,
                         .out = out,
                         .created = created,
                         .err = err,
                         .errlen = errlen };
    return rs_atomically(s, ns, put_work, &a);
}

typedef struct one_arg {
    const rs_kind *kind;
    const char *sql;
    rs_key key;
    sq_arena_t *ar;
    void *out;
} one_arg;

static sq_status one_work(reg_store_t *s, void *arg)
{
    one_arg *a = arg;
    return rs_find(s, a->kind, a->sql, &a->key, a->ar, a->out);
}

/* Reads (del: deletes, under the namespace's lock) entity ns/name of kind k into out. */
sq_status rs_one(reg_store_t *s, const rs_kind *k, bool del, const char *ns, const char *name,
                 sq_arena_t *ar, void *out)
{
    one_arg a = { k, del ? k->sql_delete : k->sql_get, { ns, NULL, name }, ar, out };
    return rs_atomically(s, del ? ns : NULL, one_work, &a);
}

/* The page (list_sql, parameters p then LIMIT and OFFSET) or the count (count_sql,
 * parameters p) a list asks for. */
sq_status rs_list_page(reg_store_t *s, list_arg *a, sq_params *p, const char *list_sql,
                       const char *count_sql)
{
    if (a->q->count)
        return rs_fetch_count(s, count_sql, p, a->q->skip, a->total);
    sq_params_int(p, a->q->limit);
    sq_params_int(p, a->q->skip);
    return rs_fetch_all(s, list_sql, p, a->kind->read, a->kind->elem, a->ar, a->items, a->n);
}

static sq_status list_by_ns(reg_store_t *s, void *arg)
{
    list_arg *a = arg;
    sq_params p;
    sq_params_init(&p);
    sq_params_str(&p, a->q->ns);
    return rs_list_page(s, a, &p, a->kind->sql_list, a->kind->sql_count);
}

sq_status reg_store_list(reg_store_t *s, reg_kind k, const reg_list_q *q, sq_arena_t *ar,
                         void **items, size_t *n, int64_t *total, char *err, size_t errlen)
{
    list_arg a = { KINDS[k], q, ar, items, n, total, err, errlen };
    *items = NULL;
    *n = 0;
    return rs_atomically(s, NULL, KINDS[k]->list ? KINDS[k]->list : list_by_ns, &a);
}
