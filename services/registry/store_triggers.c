/* The registry store: triggers and rules. See store_int.h. */
#include "store_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"

/* ---- triggers ----------------------------------------------------------------------------- */

static sq_status write_trigger(reg_store_t *s, const char *sql, const reg_trigger *t)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    sq_params_str(&p, t->namespace_);
    sq_params_str(&p, t->name);
    sq_params_str(&p, t->version);
    sq_params_bool(&p, t->publish);
    sq_params_mp(&p, &t->parameters, true);
    sq_params_mp(&p, &t->annotations, true);
    sq_params_int(&p, t->updated);
    r = rs_run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    PQclear(r);
    sq_params_free(&p);
    return st;
}

static sq_status put_trigger_work(reg_store_t *s, void *arg)
{
    put_entity_arg *a = arg;
    reg_trigger old;
    sq_status st = rs_find_by_name(s, SQL_T_LOCK, a->ns, a->name, rs_rd_trigger, a->ar, &old);
    bool exists = st == SQ_OK;

    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    if (exists && !a->overwrite)
        return SQ_ERR_CONFLICT;
    if ((st = reg_trigger_apply(exists ? &old : NULL, a->p, a->ns, a->name, a->ar, a->out)) !=
        SQ_OK)
        return st;
    *a->created = !exists;
    return write_trigger(s, exists ? SQL_T_UPDATE : SQL_T_INSERT, a->out);
}

sq_status reg_store_put_trigger(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                                const reg_entity_patch *p, sq_arena_t *ar, reg_trigger *out,
                                bool *created, char *err, size_t errlen)
{
    put_entity_arg a = { ns, name, overwrite, p, ar, out, created, err, errlen };
    return rs_atomically(s, ns, put_trigger_work, &a);
}

typedef struct get_trigger_arg {
    const char *ns, *name;
    bool with_rules;
    sq_arena_t *ar;
    reg_trigger *out;
    reg_rule **rules;
    size_t *nrules;
} get_trigger_arg;

static sq_status get_trigger_work(reg_store_t *s, void *arg)
{
    get_trigger_arg *a = arg;
    sq_status st = rs_find_by_name(s, SQL_T_GET, a->ns, a->name, rs_rd_trigger, a->ar, a->out);
    sq_params p;

    if (st != SQ_OK || !a->with_rules)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_str(&p, a->name);
    return rs_fetch_all(s, SQL_R_OF_TRIGGER, &p, rs_rd_rule, sizeof(reg_rule), a->ar,
                        (void **)a->rules, a->nrules);
}

sq_status reg_store_get_trigger(reg_store_t *s, const char *ns, const char *name, bool with_rules,
                                sq_arena_t *ar, reg_trigger *out, reg_rule **rules, size_t *nrules)
{
    reg_rule *none = NULL;
    size_t nnone = 0;
    get_trigger_arg a = {
        ns, name, with_rules, ar, out, rules ? rules : &none, nrules ? nrules : &nnone
    };
    *a.rules = NULL;
    *a.nrules = 0;
    return rs_atomically(s, NULL, get_trigger_work, &a);
}

typedef struct del_trigger_arg {
    const char *ns, *name;
    sq_arena_t *ar;
    reg_trigger *out;
    reg_change **changed;
    size_t *nchanged;
} del_trigger_arg;

static sq_status delete_trigger_work(reg_store_t *s, void *arg)
{
    del_trigger_arg *a = arg;
    PGresult *r;
    sq_status st;
    int rows;

    *a->changed = NULL;
    *a->nchanged = 0;
    if ((st = rs_find_by_name(s, SQL_T_DELETE, a->ns, a->name, rs_rd_trigger, a->ar, a->out)) !=
        SQ_OK)
        return st;
    /* the trigger's rules stay, inactive: a trigger made again under the name does not fire
     * them until they are enabled again (OpenWhisk keeps a trigger's rule links in it) */
    if ((r = rs_run2(s, SQL_R_DEACTIVATE, a->ns, a->name)) == NULL)
        return SQ_ERR_DB;
    rows = PQntuples(r);
    if (rows > 0) {
        reg_change *c = msgpack_zone_malloc(a->ar, sizeof *c * (size_t)rows);
        if (c == NULL) {
            PQclear(r);
            return SQ_ERR_NOMEM;
        }
        for (int i = 0; i < rows; i++) {
            c[i].kind = SQ_KIND_RULE;
            c[i].op = "put";
            c[i].ns = rs_col_str(r, i, 0, a->ar);
            c[i].name = rs_col_str(r, i, 1, a->ar);
            c[i].version = rs_col_str(r, i, 2, a->ar);
            if (c[i].ns == NULL || c[i].name == NULL || c[i].version == NULL) {
                PQclear(r);
                return SQ_ERR_NOMEM;
            }
        }
        *a->changed = c;
        *a->nchanged = (size_t)rows;
    }
    PQclear(r);
    return SQ_OK;
}

sq_status reg_store_delete_trigger(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                                   reg_trigger *out, reg_change **changed, size_t *nchanged)
{
    del_trigger_arg a = { ns, name, ar, out, changed, nchanged };
    return rs_atomically(s, ns, delete_trigger_work, &a);
}

static sq_status list_simple_work(reg_store_t *s, list_arg *a, const char *list_sql,
                                  const char *count_sql, row_reader rd, size_t elem)
{
    sq_params p;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    if (a->count)
        return rs_fetch_count(s, count_sql, &p, a->skip, a->total);
    sq_params_int(&p, a->limit);
    sq_params_int(&p, a->skip);
    return rs_fetch_all(s, list_sql, &p, rd, elem, a->ar, a->items, a->n);
}

static sq_status list_triggers_work(reg_store_t *s, void *arg)
{
    return list_simple_work(s, arg, SQL_T_LIST, SQL_T_COUNT, rs_rd_trigger, sizeof(reg_trigger));
}

sq_status reg_store_list_triggers(reg_store_t *s, const char *ns, int64_t skip, int64_t limit,
                                  bool count, sq_arena_t *ar, reg_trigger **items, size_t *n,
                                  int64_t *total)
{
    list_arg a = { .ns = ns,
                   .count = count,
                   .skip = skip,
                   .limit = limit,
                   .ar = ar,
                   .items = (void **)items,
                   .n = n,
                   .total = total };
    *items = NULL;
    *n = 0;
    return rs_atomically(s, NULL, list_triggers_work, &a);
}

/* ---- rules -------------------------------------------------------------------------------- */

static sq_status write_rule(reg_store_t *s, const char *sql, const reg_rule *u)
{
    sq_params p;
    PGresult *r;
    sq_status st;

    sq_params_init(&p);
    sq_params_str(&p, u->namespace_);
    sq_params_str(&p, u->name);
    sq_params_str(&p, u->version);
    sq_params_bool(&p, u->publish);
    sq_params_mp(&p, &u->annotations, true);
    sq_params_str(&p, u->status);
    sq_params_str(&p, u->trigger_ns);
    sq_params_str(&p, u->trigger_name);
    sq_params_str(&p, u->action_path);
    sq_params_str(&p, u->action_name);
    sq_params_int(&p, u->updated);
    r = rs_run(s, sql, &p);
    st = sq_pg_ok(r) && atoi(PQcmdTuples(r)) == 1 ? SQ_OK : SQ_ERR_DB;
    PQclear(r);
    sq_params_free(&p);
    return st;
}

/* A rule's references, checked as OpenWhisk's checkTriggerAndActionExist does (400 when
 * missing) after its entitlement check (403 for what the namespace may not read). */
static sq_status check_rule_refs(reg_store_t *s, const char *ns, const reg_rule *u, sq_arena_t *ar,
                                 char *err, size_t errlen)
{
    const char *slash = strchr(u->action_path, '/');
    char *ans = (char *)u->action_path, *apkg = NULL, *rns, *rpkg;
    reg_trigger t;
    sq_action act;
    sq_status st;

    if (strcmp(u->trigger_ns, ns) != 0)
        return sq_errf(SQ_ERR_FORBIDDEN, err, errlen,
                       "The supplied authentication is not authorized to access '%s/%s'.",
                       u->trigger_ns, u->trigger_name);
    st = rs_find_by_name(s, SQL_T_GET, u->trigger_ns, u->trigger_name, rs_rd_trigger, ar, &t);
    if (st == SQ_ERR_NOT_FOUND)
        return sq_errf(SQ_ERR_BAD_REQUEST, err, errlen, "trigger /%s/%s does not exist",
                       u->trigger_ns, u->trigger_name);
    if (st != SQ_OK)
        return st;
    if (slash != NULL) {
        if ((ans = msgpack_zone_malloc(ar, (size_t)(slash - u->action_path) + 1)) == NULL)
            return SQ_ERR_NOMEM;
        memcpy(ans, u->action_path, (size_t)(slash - u->action_path));
        ans[slash - u->action_path] = '\0';
        apkg = (char *)slash + 1;
    }
    st = rs_resolve_pkg(s, ans, apkg, strcmp(ans, ns) != 0, ar, &rns, &rpkg, NULL, NULL, 0);
    if (st == SQ_OK)
        st = rs_find_action(s, rns, rpkg, u->action_name, false, false, ar, &act);
    if (st == SQ_ERR_NOT_FOUND)
        return sq_errf(SQ_ERR_BAD_REQUEST, err, errlen, "action /%s/%s does not exist",
                       u->action_path, u->action_name);
    if (st == SQ_ERR_FORBIDDEN)
        return sq_errf(st, err, errlen,
                       "The supplied authentication is not authorized to access '%s/%s'.",
                       u->action_path, u->action_name);
    return st;
}

static sq_status put_rule_work(reg_store_t *s, void *arg)
{
    put_entity_arg *a = arg;
    reg_rule old, *out = a->out;
    sq_status st = rs_find_by_name(s, SQL_R_LOCK, a->ns, a->name, rs_rd_rule, a->ar, &old);
    bool exists = st == SQ_OK;

    if (st != SQ_OK && st != SQ_ERR_NOT_FOUND)
        return st;
    if (exists && !a->overwrite)
        return SQ_ERR_CONFLICT;
    if ((st = reg_rule_apply(exists ? &old : NULL, a->p, a->ns, a->name, a->ar, out, a->err,
                             a->errlen)) != SQ_OK ||
        (st = check_rule_refs(s, a->ns, out, a->ar, a->err, a->errlen)) != SQ_OK)
        return st;
    *a->created = !exists;
    return write_rule(s, exists ? SQL_R_UPDATE : SQL_R_INSERT, out);
}

sq_status reg_store_put_rule(reg_store_t *s, const char *ns, const char *name, bool overwrite,
                             const reg_entity_patch *p, sq_arena_t *ar, reg_rule *out,
                             bool *created, char *err, size_t errlen)
{
    put_entity_arg a = { ns, name, overwrite, p, ar, out, created, err, errlen };
    return rs_atomically(s, ns, put_rule_work, &a);
}

typedef struct rule_status_arg {
    const char *ns, *name, *status;
    sq_arena_t *ar;
    reg_rule *out;
    char *err;
    size_t errlen;
} rule_status_arg;

static sq_status rule_status_work(reg_store_t *s, void *arg)
{
    rule_status_arg *a = arg;
    reg_trigger t;
    PGresult *r;
    sq_status st;

    if ((st = rs_find_by_name(s, SQL_R_LOCK, a->ns, a->name, rs_rd_rule, a->ar, a->out)) != SQ_OK)
        return st;
    if (strcmp(a->out->status, a->status) == 0)
        return SQ_OK;
    if (strcmp(a->status, REG_RULE_ACTIVE) == 0) {
        st = rs_find_by_name(s, SQL_T_GET, a->out->trigger_ns, a->out->trigger_name, rs_rd_trigger,
                             a->ar, &t);
        if (st == SQ_ERR_NOT_FOUND)
            return sq_errf(st, a->err, a->errlen,
                           "Only rules with existing triggers can be activated");
        if (st != SQ_OK)
            return st;
    }
    if ((r = rs_run3(s, SQL_R_STATUS, a->ns, a->name, a->status)) == NULL)
        return SQ_ERR_DB;
    PQclear(r);
    a->out->status = (char *)a->status;
    return SQ_OK;
}

sq_status reg_store_set_rule_status(reg_store_t *s, const char *ns, const char *name,
                                    const char *status, sq_arena_t *ar, reg_rule *out, char *err,
                                    size_t errlen)
{
    rule_status_arg a = { ns, name, status, ar, out, err, errlen };
    return rs_atomically(s, ns, rule_status_work, &a);
}

typedef struct rule_ref_arg {
    const char *sql, *ns, *name;
    sq_arena_t *ar;
    reg_rule *out;
} rule_ref_arg;

static sq_status rule_ref_work(reg_store_t *s, void *arg)
{
    rule_ref_arg *a = arg;
    return rs_find_by_name(s, a->sql, a->ns, a->name, rs_rd_rule, a->ar, a->out);
}

sq_status reg_store_get_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                             reg_rule *out)
{
    rule_ref_arg a = { SQL_R_GET, ns, name, ar, out };
    return rs_atomically(s, NULL, rule_ref_work, &a);
}

sq_status reg_store_delete_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                                reg_rule *out)
{
    rule_ref_arg a = { SQL_R_DELETE, ns, name, ar, out };
    return rs_atomically(s, ns, rule_ref_work, &a);
}

static sq_status list_rules_work(reg_store_t *s, void *arg)
{
    return list_simple_work(s, arg, SQL_R_LIST, SQL_R_COUNT, rs_rd_rule, sizeof(reg_rule));
}

sq_status reg_store_list_rules(reg_store_t *s, const char *ns, int64_t skip, int64_t limit,
                               bool count, sq_arena_t *ar, reg_rule **items, size_t *n,
                               int64_t *total)
{
    list_arg a = { .ns = ns,
                   .count = count,
                   .skip = skip,
                   .limit = limit,
                   .ar = ar,
                   .items = (void **)items,
                   .n = n,
                   .total = total };
    *items = NULL;
    *n = 0;
    return rs_atomically(s, NULL, list_rules_work, &a);
}
