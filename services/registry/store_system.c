/* The registry store: the system packages (installed at start-up) and the purge of a
 * deleted namespace. See store_int.h. */
#include "store_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"

/* ---- the system packages ---------------------------------------------------------------- */

typedef struct system_arg {
    const char *pkg;
    const reg_entity_patch *pkg_patch;
    const reg_system_action *actions;
    size_t n;
    sq_arena_t *ar;
    reg_change *changed; /* room for n + deleted + 1 */
    size_t nchanged, cap;
} system_arg;

static bool same_mp(const msgpack_object *a, const msgpack_object *b)
{
    msgpack_sbuffer x, y;
    msgpack_packer pk;
    bool same;
    msgpack_sbuffer_init(&x);
    msgpack_sbuffer_init(&y);
    msgpack_packer_init(&pk, &x, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *a);
    msgpack_packer_init(&pk, &y, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *b);
    same = x.size == y.size && memcmp(x.data, y.data, x.size) == 0;
    msgpack_sbuffer_destroy(&x);
    msgpack_sbuffer_destroy(&y);
    return same;
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void note_change(system_arg *a, const char *kind, const char *op, const char *name,
                        const char *version)
{
    if (a->nchanged < a->cap)
        a->changed[a->nchanged++] = (reg_change){ .kind = kind,
                                                  .op = op,
                                                  .ns = REG_SYSTEM_NS,
                                                  .name = (char *)name,
                                                  .version = (char *)version };
}

static sq_status system_work(reg_store_t *s, void *arg)
{
    system_arg *a = arg;
    reg_package old, pkg;
    PGresult *r;
    sq_status st;
    bool exists;

    a->nchanged = 0;
    st = rs_find_package(s, REG_SYSTEM_NS, a->pkg, true, a->ar, &old);
    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    exists = st == SQ_OK;
    if (exists && old.binding_ns != NULL)
        return SQ_ERR_CONFLICT;
    if ((st = reg_package_apply(exists ? &old : NULL, a->pkg_patch, REG_SYSTEM_NS, a->pkg, a->ar,
                                &pkg, NULL, 0)) != SQ_OK)
        return st;
    if (!exists || old.publish != pkg.publish || !same_mp(&old.parameters, &pkg.parameters) ||
        !same_mp(&old.annotations, &pkg.annotations)) {
        if ((st = rs_write(s, &RS_PACKAGE, exists ? SQL_P_UPDATE : SQL_P_INSERT, NULL, &pkg)) !=
            SQ_OK)
            return st;
        note_change(a, SQ_KIND_PACKAGE, "put", a->pkg, pkg.version);
    }
    for (size_t i = 0; i < a->n; i++) {
        const reg_system_action *x = &a->actions[i];
        sq_action cur, next;
        rs_key key = { REG_SYSTEM_NS, a->pkg, x->name };
        char *path = reg_path_str(REG_SYSTEM_NS, a->pkg, a->ar);
        if (path == NULL)
            return SQ_ERR_NOMEM;
        st = rs_find_action(s, REG_SYSTEM_NS, a->pkg, x->name, true, true, a->ar, &cur);
        if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
            return st;
        exists = st == SQ_OK;
        if ((st = reg_patch_apply(exists ? &cur : NULL, &x->patch, path, x->name, a->ar, &next,
                                  NULL, 0)) != SQ_OK)
            return st;
        if (exists && same_str(cur.exec.kind, next.exec.kind) &&
            same_str(cur.exec.code, next.exec.code) && cur.publish == next.publish &&
            same_mp(&cur.annotations, &next.annotations) &&
            same_mp(&cur.parameters, &next.parameters))
            continue;
        if ((st = rs_write(s, &RS_ACTION, exists ? SQL_A_UPDATE : SQL_A_INSERT, &key, &next)) !=
            SQ_OK)
            return st;
        note_change(a, SQ_KIND_ACTION, "put", reg_path_str(a->pkg, x->name, a->ar), next.version);
    }
    /* actions no longer shipped go */
    if ((r = rs_run2(s, SQL_A_NAMES_PKG, REG_SYSTEM_NS, a->pkg)) == NULL)
        return SQ_ERR_DB;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        bool shipped = false;
        sq_action gone;
        rs_key key = { REG_SYSTEM_NS, a->pkg, name };
        for (size_t j = 0; j < a->n && !shipped; j++)
            shipped = strcmp(a->actions[j].name, name) == 0;
        if (shipped)
            continue;
        if ((st = rs_find(s, &RS_ACTION, SQL_A_DELETE, &key, a->ar, &gone)) != SQ_OK) {
            PQclear(r);
            return st;
        }
        note_change(a, SQ_KIND_ACTION, "delete", reg_path_str(a->pkg, gone.name, a->ar),
                    gone.version);
    }
    PQclear(r);
    return SQ_OK;
}

sq_status reg_store_system_package(reg_store_t *s, const char *pkg,
                                   const reg_entity_patch *pkg_patch,
                                   const reg_system_action *actions, size_t n, sq_arena_t *ar,
                                   reg_change **changed, size_t *nchanged)
{
    size_t cap = n + 64 + 1;
    system_arg a = { pkg, pkg_patch, actions,
                     n,   ar,        msgpack_zone_malloc(ar, sizeof(reg_change) * cap),
                     0,   cap };
    sq_status st;

    *changed = NULL;
    *nchanged = 0;
    if (a.changed == NULL)
        return SQ_ERR_NOMEM;
    if ((st = rs_atomically(s, REG_SYSTEM_NS, system_work, &a)) == SQ_OK) {
        *changed = a.changed;
        *nchanged = a.nchanged;
    }
    return st;
}

/* ---- purge of a deleted namespace ------------------------------------------------------------ */

typedef struct purge_arg {
    const char *ns;
    int64_t at;
    sq_arena_t *ar;
    reg_change *out;
    size_t n, cap;
} purge_arg;

static sq_status purge_one(reg_store_t *s, purge_arg *a, const char *sql, const char *kind,
                           bool packaged)
{
    sq_params p;
    PGresult *r;
    int rows;

    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_int(&p, a->at);
    if ((r = rs_run(s, sql, &p)) == NULL || !sq_pg_ok(r)) {
        PQclear(r);
        return SQ_ERR_DB;
    }
    rows = PQntuples(r);
    if (a->n + (size_t)rows > a->cap) {
        size_t cap = (a->n + (size_t)rows) * 2 + 16;
        reg_change *c = msgpack_zone_malloc(a->ar, cap * sizeof *c);
        if (c == NULL) {
            PQclear(r);
            return SQ_ERR_NOMEM;
        }
        if (a->n > 0)
            memcpy(c, a->out, a->n * sizeof *c);
        a->out = c;
        a->cap = cap;
    }
    for (int i = 0; i < rows; i++) {
        reg_change *c = &a->out[a->n];
        const char *pkg = packaged ? PQgetvalue(r, i, 1) : "";
        c->kind = kind;
        c->op = "delete";
        c->version = "";
        c->name = rs_col_str(r, i, 0, a->ar);
        c->ns = pkg[0] ? reg_path_str(a->ns, pkg, a->ar)
                       : (char *)a->ns; /* "ns/pkg" as events name it */
        if (c->name == NULL || c->ns == NULL) {
            PQclear(r);
            return SQ_ERR_NOMEM;
        }
        a->n++;
    }
    PQclear(r);
    return SQ_OK;
}

static sq_status purge_work(reg_store_t *s, void *arg)
{
    purge_arg *a = arg;
    sq_status st;

    /* routes and rules before triggers and actions: what points at something goes first */
    static const struct {
        const char *table, *returning, *kind;
        bool packaged;
    } order[] = {
        { "registry_routes", "basepath", SQ_KIND_ROUTE, false },
        { "registry_rules", "name", SQ_KIND_RULE, false },
        { "registry_triggers", "name", SQ_KIND_TRIGGER, false },
        { "registry_actions", "name, package", SQ_KIND_ACTION, true },
        { "registry_packages", "name", SQ_KIND_PACKAGE, false },
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "DELETE FROM %s WHERE namespace = $1 AND updated <= $2::int8 RETURNING %s",
                 order[i].table, order[i].returning);
        if ((st = purge_one(s, a, sql, order[i].kind, order[i].packaged)) != SQ_OK)
            return st;
    }
    return SQ_OK;
}

sq_status reg_store_purge_ns(reg_store_t *s, const char *ns, int64_t at, sq_arena_t *ar,
                             reg_change **deleted, size_t *ndeleted)
{
    purge_arg a = { .ns = ns, .at = at, .ar = ar };
    sq_status st = rs_atomically(s, ns, purge_work, &a);
    *deleted = st == SQ_OK ? a.out : NULL;
    *ndeleted = st == SQ_OK ? a.n : 0;
    return st;
}
