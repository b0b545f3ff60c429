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

/* The parameters of SQL_A_INSERT and SQL_A_UPDATE. */
static void bind_action(sq_params *p, const rs_key *k, const void *e)
{
    const sq_action *a = e;
    sq_params_str(p, k->ns);
    sq_params_str(p, k->pkg ? k->pkg : "");
    sq_params_str(p, k->name);
    sq_params_str(p, a->version);
    sq_params_str(p, a->exec.kind);
    sq_params_str(p, a->exec.code ? a->exec.code : "");
    sq_params_str(p, a->exec.main);
    sq_params_bool(p, a->exec.binary);
    sq_params_mp(p, &a->parameters, true);
    sq_params_mp(p, &a->annotations, true);
    sq_params_int(p, a->limits.timeout);
    sq_params_int(p, a->limits.memory);
    sq_params_int(p, a->limits.logs);
    sq_params_int(p, a->limits.concurrency);
    sq_params_bool(p, a->publish);
    sq_params_int(p, a->updated);
    sq_params_mp(p, rs_is_sequence(a->exec.kind) ? &a->exec.components : NULL, false);
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

/* A put's checks before the action is looked up: its package, a sequence's components. */
static sq_status check_action(reg_store_t *s, void *arg)
{
    put_entity_arg *a = arg;
    const reg_patch *patch = a->p;
    sq_status st;

    if ((st = check_home_package(s, a->key.ns, a->key.pkg, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    if (patch->has_exec && rs_is_sequence(patch->exec.kind)) {
        seq_check c = { .ns = a->key.ns,
                        .pkg = a->key.pkg,
                        .name = a->key.name,
                        .ar = a->ar,
                        .err = a->err,
                        .errlen = a->errlen };
        return check_components(s, &c, patch->components, patch->ncomponents, 0, true);
    }
    return SQ_OK;
}

static sq_status apply_action(reg_store_t *s, put_entity_arg *a, const void *old)
{
    char *path = reg_path_str(a->key.ns, a->key.pkg, a->ar);
    (void)s;
    if (path == NULL)
        return SQ_ERR_NOMEM;
    return reg_patch_apply(old, a->p, path, a->key.name, a->ar, a->out, a->err, a->errlen);
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
    rs_key key = { a->ns, a->pkg, a->name };
    sq_status st;

    if ((st = check_home_package(s, a->ns, a->pkg, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    return rs_find(s, &RS_ACTION, SQL_A_DELETE, &key, a->ar, a->out);
}

sq_status reg_store_delete_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                                  sq_arena_t *ar, sq_action *out, char *err, size_t errlen)
{
    del_action_arg a = { ns, pkg, name, ar, out, err, errlen };
    return rs_atomically(s, ns, delete_action_work, &a);
}

static sq_status list_actions(reg_store_t *s, void *arg)
{
    list_arg *a = arg;
    const reg_list_q *q = a->q;
    char *rns, *rpkg;
    sq_params p;
    sq_status st;

    if (q->pkg == NULL && q->shared)
        return SQ_ERR_FORBIDDEN;
    if ((st = rs_resolve_pkg(s, q->ns, q->pkg, q->shared, a->ar, &rns, &rpkg, NULL, a->err,
                             a->errlen)) != SQ_OK)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, rns);
    if (rpkg != NULL)
        sq_params_str(&p, rpkg);
    return rs_list_page(s, a, &p, rpkg ? SQL_A_LIST_PKG : SQL_A_LIST_NS,
                        rpkg ? SQL_A_COUNT_PKG : SQL_A_COUNT_NS);
}

const rs_kind RS_ACTION = { .keyed_pkg = true,
                            .sql_get = SQL_A_GET_NOCODE,
                            .sql_lock = SQL_A_LOCK,
                            .sql_delete = SQL_A_DELETE,
                            .sql_insert = SQL_A_INSERT,
                            .sql_update = SQL_A_UPDATE,
                            .what = "action",
                            .read = rs_rd_action,
                            .nfields = A_COUNT,
                            .elem = sizeof(sq_action),
                            .bind = bind_action,
                            .check = check_action,
                            .apply = apply_action,
                            .list = list_actions,
                            .returns_rev = true,
                            .rev_off = offsetof(sq_action, rev) };
