/* The registry store: packages and bindings. See store_int.h. */
#include "store_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"

/* ---- packages ----------------------------------------------------------------------------- */

static const rs_col PACKAGE_COLS[] = {
    RS_COL(reg_package, P_NS, RS_STR, namespace_),
    RS_COL(reg_package, P_NAME, RS_STR, name),
    RS_COL(reg_package, P_VERSION, RS_STR, version),
    RS_COL(reg_package, P_BNS, RS_STR_NULL, binding_ns),
    RS_COL(reg_package, P_BNAME, RS_STR_NULL, binding_name),
    RS_COL(reg_package, P_PUBLISH, RS_BOOL, publish),
    RS_COL(reg_package, P_UPDATED, RS_I64, updated),
    RS_COL(reg_package, P_PARAMS, RS_MP, parameters),
    RS_COL(reg_package, P_ANNOTS, RS_MP, annotations),
};

static sq_status read_package(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    reg_package *p = out;
    sq_status st = rs_read_doc(r, row, ar, &RS_PACKAGE, out);
    if (st == SQ_OK && (p->binding_ns == NULL) != (p->binding_name == NULL))
        return SQ_ERR_NOMEM;
    return st;
}

/* A put's binding: a package never becomes one; it must point at an existing package that
 * is shared with ns and not a binding itself. */
static sq_status check_binding(reg_store_t *s, put_entity_arg *a, const reg_package *old)
{
    const reg_entity_patch *patch = a->p;
    const reg_fqn *b = &patch->binding;
    reg_package target;
    sq_status st;

    if (!patch->has_binding)
        return SQ_OK;
    if (old != NULL && old->binding_ns == NULL)
        return sq_errf(SQ_ERR_CONFLICT, a->err, a->errlen,
                       "Resource is a package and cannot be converted into a binding.");
    st = rs_find_package(s, b->ns, b->name, false, a->ar, &target);
    if (st == SQ_ERR_NOT_FOUND)
        return sq_errf(SQ_ERR_BAD_REQUEST, a->err, a->errlen,
                       "Binding references a package that does not exist.");
    if (st != SQ_OK)
        return st;
    if (strcmp(b->ns, a->key.ns) != 0 && !target.publish)
        return sq_errf(SQ_ERR_FORBIDDEN, a->err, a->errlen,
                       "The supplied authentication is not authorized to access '%s/%s'.", b->ns,
                       b->name);
    if (target.binding_ns != NULL)
        return sq_errf(SQ_ERR_BAD_REQUEST, a->err, a->errlen,
                       "Cannot bind to another package binding.");
    return SQ_OK;
}

static sq_status apply_package(reg_store_t *s, put_entity_arg *a, const void *old)
{
    sq_status st = check_binding(s, a, old);
    if (st != SQ_OK)
        return st;
    return reg_package_apply(old, a->p, a->key.ns, a->key.name, a->ar, a->out, a->err, a->errlen);
}

typedef struct get_package_arg {
    const char *ns, *name;
    bool shared;
    sq_arena_t *ar;
    reg_package *out;
    reg_brief **actions;
    size_t *nactions;
    char *err;
    size_t errlen;
} get_package_arg;

static sq_status get_package_work(reg_store_t *s, void *arg)
{
    get_package_arg *a = arg;
    reg_package bound;
    const char *ans = a->ns, *apkg = a->name;
    sq_params p;
    sq_status st;

    if ((st = rs_find_package(s, a->ns, a->name, false, a->ar, a->out)) != SQ_OK)
        return st;
    if (a->shared && !a->out->publish)
        return SQ_ERR_FORBIDDEN;
    if (a->out->binding_ns != NULL) {
        /* OpenWhisk's mergePackageWithBinding: the binding, with the bound package's
         * parameters under its own, and the bound package's actions. A binding whose
         * package is gone (or no longer shared) shows itself without actions. */
        st = rs_find_package(s, a->out->binding_ns, a->out->binding_name, false, a->ar, &bound);
        if (st == SQ_ERR_NOT_FOUND ||
            (st == SQ_OK &&
             (bound.binding_ns != NULL ||
              (!bound.publish && (a->shared || strcmp(bound.namespace_, a->ns) != 0)))))
            return SQ_OK;
        if (st != SQ_OK)
            return st;
        const msgpack_object *layers[2] = { &bound.parameters, &a->out->parameters };
        if ((st = reg_kv_merge(layers, 2, a->ar, &a->out->parameters)) != SQ_OK)
            return st;
        ans = bound.namespace_;
        apkg = bound.name;
    }
    sq_params_init(&p);
    sq_params_str(&p, ans);
    sq_params_str(&p, apkg);
    return rs_fetch_all(s, SQL_A_BRIEFS, &p, rs_rd_brief, sizeof(reg_brief), a->ar,
                        (void **)a->actions, a->nactions);
}

sq_status reg_store_get_package(reg_store_t *s, const char *ns, const char *name, bool shared,
                                sq_arena_t *ar, reg_package *out, reg_brief **actions,
                                size_t *nactions, char *err, size_t errlen)
{
    get_package_arg a = { ns, name, shared, ar, out, actions, nactions, err, errlen };
    *actions = NULL;
    *nactions = 0;
    return rs_atomically(s, NULL, get_package_work, &a);
}

typedef struct del_package_arg {
    const char *ns, *name;
    bool force;
    sq_arena_t *ar;
    reg_package *out;
    reg_change **deleted;
    size_t *ndeleted;
    char *err;
    size_t errlen;
} del_package_arg;

static sq_status delete_package_work(reg_store_t *s, void *arg)
{
    del_package_arg *a = arg;
    PGresult *r;
    sq_status st;
    int64_t n = 0;

    *a->deleted = NULL;
    *a->ndeleted = 0;
    if ((st = rs_find_package(s, a->ns, a->name, true, a->ar, a->out)) != SQ_OK)
        return st;
    if (a->out->binding_ns == NULL) {
        /* a package may only go when its actions are gone (or go with it: force) */
        sq_params p;
        sq_params_init(&p);
        sq_params_str(&p, a->ns);
        sq_params_str(&p, a->name);
        if ((st = rs_fetch_count(s, SQL_A_COUNT_PKG, &p, 0, &n)) != SQ_OK)
            return st;
        if (n > 0 && !a->force)
            return sq_errf(SQ_ERR_CONFLICT, a->err, a->errlen,
                           "Package not empty (contains %" PRId64 " %s)", n,
                           n == 1 ? "entity" : "entities");
        if (n > 0) {
            if ((r = rs_run2(s, SQL_A_DELETE_PKG, a->ns, a->name)) == NULL)
                return SQ_ERR_DB;
            int rows = PQntuples(r);
            reg_change *c = msgpack_zone_malloc(a->ar, sizeof *c * (size_t)(rows ? rows : 1));
            if (c == NULL) {
                PQclear(r);
                return SQ_ERR_NOMEM;
            }
            for (int i = 0; i < rows; i++) {
                char *base = rs_col_str(r, i, 0, a->ar);
                c[i].kind = SQ_KIND_ACTION;
                c[i].op = "delete";
                c[i].ns = (char *)a->ns;
                c[i].version = rs_col_str(r, i, 1, a->ar);
                c[i].name = base ? reg_path_str(a->name, base, a->ar) : NULL;
                if (c[i].name == NULL || c[i].version == NULL) {
                    PQclear(r);
                    return SQ_ERR_NOMEM;
                }
            }
            PQclear(r);
            *a->deleted = c;
            *a->ndeleted = (size_t)rows;
        }
    }
    return rs_find_name(s, &RS_PACKAGE, SQL_P_DELETE, a->ns, a->name, a->ar, a->out);
}

sq_status reg_store_delete_package(reg_store_t *s, const char *ns, const char *name, bool force,
                                   sq_arena_t *ar, reg_package *out, reg_change **deleted,
                                   size_t *ndeleted, char *err, size_t errlen)
{
    del_package_arg a = { ns, name, force, ar, out, deleted, ndeleted, err, errlen };
    return rs_atomically(s, ns, delete_package_work, &a);
}

static sq_status list_packages(reg_store_t *s, void *arg)
{
    list_arg *a = arg;
    sq_params p;
    sq_params_init(&p);
    sq_params_str(&p, a->q->ns);
    sq_params_bool(&p, a->q->shared);
    sq_params_bool(&p, a->q->public_);
    return rs_list_page(s, a, &p, SQL_P_LIST, SQL_P_COUNT);
}

const rs_kind RS_PACKAGE = { .sql_get = SQL_P_GET,
                             .sql_lock = SQL_P_LOCK,
                             .sql_delete = SQL_P_DELETE,
                             .sql_insert = SQL_P_INSERT,
                             .sql_update = SQL_P_UPDATE,
                             .what = "package",
                             .read = read_package,
                             .cols = PACKAGE_COLS,
                             .ncols = sizeof PACKAGE_COLS / sizeof PACKAGE_COLS[0],
                             .nfields = P_COUNT,
                             .elem = sizeof(reg_package),
                             .apply = apply_package,
                             .list = list_packages };
