/* The registry store: actions (sequences' components checked here too). See store_int.h. */
#include "store_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"

/* ---- actions ------------------------------------------------------------------------------ */

sq_status rs_write_action(reg_store_t *s, const char *sql, const char *ns, const char *pkg,
                          const char *name, const sq_action *a)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    sq_params_str(&p, ns);
    sq_params_str(&p, pkg ? pkg : "");
    sq_params_str(&p, name);
    sq_params_str(&p, a->version);
    sq_params_str(&p, a->exec.kind);
    sq_params_str(&p, a->exec.code ? a->exec.code : "");
    sq_params_str(&p, a->exec.main);
    sq_params_bool(&p, a->exec.binary);
    sq_params_mp(&p, &a->parameters, true);
    sq_params_mp(&p, &a->annotations, true);
    sq_params_int(&p, a->limits.timeout);
    sq_params_int(&p, a->limits.memory);
    sq_params_int(&p, a->limits.logs);
    sq_params_int(&p, a->limits.concurrency);
    sq_params_bool(&p, a->publish);
    sq_params_int(&p, a->updated);
    sq_params_mp(&p, rs_is_sequence(a->exec.kind) ? &a->exec.components : NULL, false);
    r = rs_run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    PQclear(r);
    sq_params_free(&p);
    return st;
}

/* Checking a sequence's components (OpenWhisk's checkSequenceActionLimits). */
typedef struct seq_check {
    const char *ns, *pkg, *name; /* the sequence being written */
    sq_arena_t *ar;
    int atomic, visits;
    char *err;
    size_t errlen;
} seq_check;

#define SEQ_MAX_DEPTH 16
#define SEQ_MAX_VISITS 1000

static sq_status check_components(reg_store_t *s, seq_check *c, const reg_fqn *comps, size_t n,
                                  int depth, bool direct)
{
    static const char missing[] = "Sequence component does not exist.";
    static const char too_long[] = "Too many actions in the sequence.";

    if (depth > SEQ_MAX_DEPTH)
        return sq_errf(SQ_ERR_BAD_REQUEST, c->err, c->errlen, too_long);
    for (size_t i = 0; i < n; i++) {
        const reg_fqn *f = &comps[i];
        char *rns, *rpkg;
        msgpack_object comp;
        PGresult *r;
        sq_status st;
        sq_params p;
        bool seq;

        if (++c->visits > SEQ_MAX_VISITS)
            return sq_errf(SQ_ERR_BAD_REQUEST, c->err, c->errlen, too_long);
        /* a component in another namespace must be shared with everybody (checked for the
         * sequence's own components; deeper ones were checked when their sequence was made) */
        st = rs_resolve_pkg(s, f->ns, f->pkg, direct && strcmp(f->ns, c->ns) != 0, c->ar, &rns,
                            &rpkg, NULL, NULL, 0);
        if (st == SQ_ERR_NOT_FOUND)
            return sq_errf(SQ_ERR_BAD_REQUEST, c->err, c->errlen, missing);
        if (st == SQ_ERR_FORBIDDEN)
            return sq_errf(st, c->err, c->errlen,
                           "The supplied authentication is not authorized to access '%s%s%s/%s'.",
                           f->ns, f->pkg ? "/" : "", f->pkg ? f->pkg : "", f->name);
        if (st != SQ_OK)
            return st;
        if (strcmp(rns, c->ns) == 0 && strcmp(rpkg ? rpkg : "", c->pkg ? c->pkg : "") == 0 &&
            strcmp(f->name, c->name) == 0)
            return sq_errf(SQ_ERR_BAD_REQUEST, c->err, c->errlen,
                           "Sequence may not refer to itself.");
        sq_params_init(&p);
        sq_params_str(&p, rns);
        sq_params_str(&p, rpkg ? rpkg : "");
        sq_params_str(&p, f->name);
        r = rs_run(s, SQL_A_SEQ, &p);
        if (!sq_pg_ok(r)) {
            PQclear(r);
            return SQ_ERR_DB;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            return sq_errf(SQ_ERR_BAD_REQUEST, c->err, c->errlen, missing);
        }
        seq = strcmp(PQgetvalue(r, 0, 0), "sequence") == 0;
        st = seq ? rs_col_mp_array(r, 0, 1, false, c->ar, &comp) : SQ_OK;
        PQclear(r);
        if (st != SQ_OK)
            return st;
        if (!seq) {
            if (++c->atomic > REG_SEQ_MAX)
                return sq_errf(SQ_ERR_BAD_REQUEST, c->err, c->errlen, too_long);
            continue;
        }
        /* inline the inner sequence: its components are stored fully qualified */
        reg_fqn *inner = msgpack_zone_malloc(c->ar, sizeof(reg_fqn) * (comp.via.array.size + 1));
        if (inner == NULL)
            return SQ_ERR_NOMEM;
        for (uint32_t j = 0; j < comp.via.array.size; j++) {
            char *str = sq_mp_strdup(c->ar, &comp.via.array.ptr[j]);
            if (str == NULL ||
                reg_fqn_parse(str, rns, c->ar, &inner[j], "sequence component", NULL, 0) != SQ_OK)
                return sq_errf(SQ_ERR_BAD_REQUEST, c->err, c->errlen, missing);
        }
        if ((st = check_components(s, c, inner, comp.via.array.size, depth + 1, false)) != SQ_OK)
            return st;
    }
    return SQ_OK;
}

typedef struct put_action_arg {
    const char *ns, *pkg, *name;
    bool overwrite;
    const reg_patch *p;
    sq_arena_t *ar;
    sq_action *out;
    bool *created;
    char *err;
    size_t errlen;
} put_action_arg;

/* The package an action is written into (or deleted from) must exist and not be a binding. */
static sq_status check_home_package(reg_store_t *s, const char *ns, const char *pkg, sq_arena_t *ar,
                                    char *err, size_t errlen)
{
    reg_package p;
    sq_status st;
    if (pkg == NULL)
        return SQ_OK;
    if ((st = rs_find_package(s, ns, pkg, false, ar, &p)) == SQ_ERR_NOT_FOUND)
        return sq_errf(st, err, errlen, "The package '%s/%s' does not exist.", ns, pkg);
    if (st != SQ_OK)
        return st;
    if (p.binding_ns != NULL)
        return sq_errf(SQ_ERR_BAD_REQUEST, err, errlen,
                       "Operation not permitted on package binding.");
    return SQ_OK;
}

static sq_status put_action_work(reg_store_t *s, void *arg)
{
    put_action_arg *a = arg;
    sq_action old;
    char *path;
    sq_status st;

    if ((st = check_home_package(s, a->ns, a->pkg, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    if (a->p->has_exec && rs_is_sequence(a->p->exec.kind)) {
        seq_check c = { .ns = a->ns,
                        .pkg = a->pkg,
                        .name = a->name,
                        .ar = a->ar,
                        .err = a->err,
                        .errlen = a->errlen };
        if ((st = check_components(s, &c, a->p->components, a->p->ncomponents, 0, true)) != SQ_OK)
            return st;
    }
    if ((path = reg_path_str(a->ns, a->pkg, a->ar)) == NULL)
        return SQ_ERR_NOMEM;
    st = rs_find_action(s, a->ns, a->pkg, a->name, true, true, a->ar, &old);
    if (st == SQ_OK) {
        if (!a->overwrite)
            return SQ_ERR_CONFLICT;
        if ((st = reg_patch_apply(&old, a->p, path, a->name, a->ar, a->out, a->err, a->errlen)) !=
            SQ_OK)
            return st;
        *a->created = false;
        return rs_write_action(s, SQL_A_UPDATE, a->ns, a->pkg, a->name, a->out);
    }
    if (st != SQ_ERR_NOT_FOUND)
        return st;
    if ((st = reg_patch_apply(NULL, a->p, path, a->name, a->ar, a->out, a->err, a->errlen)) !=
        SQ_OK)
        return st;
    *a->created = true;
    return rs_write_action(s, SQL_A_INSERT, a->ns, a->pkg, a->name, a->out);
}

sq_status reg_store_put_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                               bool overwrite, const reg_patch *p, sq_arena_t *ar, sq_action *out,
                               bool *created, char *err, size_t errlen)
{
    put_action_arg a = { ns, pkg, name, overwrite, p, ar, out, created, err, errlen };
    return rs_atomically(s, ns, put_action_work, &a);
}

typedef struct get_action_arg {
    const char *ns, *pkg, *name;
    bool code, shared;
    sq_arena_t *ar;
    sq_action *out;
    char *err;
    size_t errlen;
} get_action_arg;

static sq_status get_action_work(reg_store_t *s, void *arg)
{
    get_action_arg *a = arg;
    msgpack_object pkg_params;
    char *rns, *rpkg;
    sq_status st;

    if ((st = rs_resolve_pkg(s, a->ns, a->pkg, a->shared, a->ar, &rns, &rpkg, &pkg_params, a->err,
                             a->errlen)) != SQ_OK)
        return st;
    if ((st = rs_find_action(s, rns, rpkg, a->name, a->code, false, a->ar, a->out)) != SQ_OK)
        return st;
    if (a->pkg != NULL) {
        /* OpenWhisk's `action inherit packageParameters`: package < binding < action */
        const msgpack_object *layers[2] = { &pkg_params, &a->out->parameters };
        return reg_kv_merge(layers, 2, a->ar, &a->out->parameters);
    }
    return SQ_OK;
}

sq_status reg_store_get_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                               bool code, bool shared, sq_arena_t *ar, sq_action *out, char *err,
                               size_t errlen)
{
    get_action_arg a = { ns, pkg, name, code, shared, ar, out, err, errlen };
    return rs_atomically(s, NULL, get_action_work, &a);
}

typedef struct del_action_arg {
    const char *ns, *pkg, *name;
    sq_arena_t *ar;
    sq_action *out;
    char *err;
    size_t errlen;
} del_action_arg;

static sq_status delete_action_work(reg_store_t *s, void *arg)
{
    del_action_arg *a = arg;
    sq_params p;
    sq_status st;

    if ((st = check_home_package(s, a->ns, a->pkg, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_str(&p, a->pkg ? a->pkg : "");
    sq_params_str(&p, a->name);
    return rs_fetch_one(s, SQL_A_DELETE, &p, rs_rd_action, a->ar, a->out);
}

sq_status reg_store_delete_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                                  sq_arena_t *ar, sq_action *out, char *err, size_t errlen)
{
    del_action_arg a = { ns, pkg, name, ar, out, err, errlen };
    return rs_atomically(s, ns, delete_action_work, &a);
}

static sq_status list_actions_work(reg_store_t *s, void *arg)
{
    list_arg *a = arg;
    char *rns, *rpkg;
    sq_params p;
    sq_status st;

    if (a->pkg == NULL && a->shared)
        return SQ_ERR_FORBIDDEN;
    if ((st = rs_resolve_pkg(s, a->ns, a->pkg, a->shared, a->ar, &rns, &rpkg, NULL, a->err,
                             a->errlen)) != SQ_OK)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, rns);
    if (rpkg != NULL)
        sq_params_str(&p, rpkg);
    if (a->count)
        return rs_fetch_count(s, rpkg ? SQL_A_COUNT_PKG : SQL_A_COUNT_NS, &p, a->skip, a->total);
    sq_params_int(&p, a->limit);
    sq_params_int(&p, a->skip);
    return rs_fetch_all(s, rpkg ? SQL_A_LIST_PKG : SQL_A_LIST_NS, &p, rs_rd_action,
                        sizeof(sq_action), a->ar, a->items, a->n);
}

sq_status reg_store_list_actions(reg_store_t *s, const char *ns, const char *pkg, bool shared,
                                 int64_t skip, int64_t limit, bool count, sq_arena_t *ar,
                                 sq_action **items, size_t *n, int64_t *total, char *err,
                                 size_t errlen)
{
    list_arg a = { .ns = ns,
                   .pkg = pkg,
                   .shared = shared,
                   .count = count,
                   .skip = skip,
                   .limit = limit,
                   .ar = ar,
                   .items = (void **)items,
                   .n = n,
                   .total = total,
                   .err = err,
                   .errlen = errlen };
    *items = NULL;
    *n = 0;
    return rs_atomically(s, NULL, list_actions_work, &a);
}
