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

static const rs_col TRIGGER_COLS[] = {
    RS_COL(reg_trigger, T_NS, RS_STR, namespace_),
    RS_COL(reg_trigger, T_NAME, RS_STR, name),
    RS_COL(reg_trigger, T_VERSION, RS_STR, version),
    RS_COL(reg_trigger, T_PUBLISH, RS_BOOL, publish),
    RS_COL(reg_trigger, T_UPDATED, RS_I64, updated),
    RS_COL(reg_trigger, T_PARAMS, RS_MP, parameters),
    RS_COL(reg_trigger, T_ANNOTS, RS_MP, annotations),
};

static const rs_col RULE_COLS[] = {
    RS_COL(reg_rule, R_NS, RS_STR, namespace_),     RS_COL(reg_rule, R_NAME, RS_STR, name),
    RS_COL(reg_rule, R_VERSION, RS_STR, version),   RS_COL(reg_rule, R_STATUS, RS_STR, status),
    RS_COL(reg_rule, R_TNS, RS_STR, trigger_ns),    RS_COL(reg_rule, R_TNAME, RS_STR, trigger_name),
    RS_COL(reg_rule, R_APATH, RS_STR, action_path), RS_COL(reg_rule, R_ANAME, RS_STR, action_name),
    RS_COL(reg_rule, R_PUBLISH, RS_BOOL, publish),  RS_COL(reg_rule, R_UPDATED, RS_I64, updated),
    RS_COL(reg_rule, R_ANNOTS, RS_MP, annotations),
};

static sq_status read_trigger(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    return rs_read_doc(r, row, ar, &RS_TRIGGER, out);
}

static sq_status read_rule(const PGresult *r, int row, sq_arena_t *ar, void *out)
{
    return rs_read_doc(r, row, ar, &RS_RULE, out);
}

static sq_status apply_trigger(reg_store_t *s, put_entity_arg *a, const void *old)
{
    (void)s;
    return reg_trigger_apply(old, a->p, a->key.ns, a->key.name, a->ar, a->out);
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
    sq_status st = rs_find_name(s, &RS_TRIGGER, SQL_T_GET, a->ns, a->name, a->ar, a->out);
    sq_params p;

    if (st != SQ_OK || !a->with_rules)
        return st;
    sq_params_init(&p);
    sq_params_str(&p, a->ns);
    sq_params_str(&p, a->name);
    return rs_fetch_all(s, SQL_R_OF_TRIGGER, &p, read_rule, sizeof(reg_rule), a->ar,
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
    if ((st = rs_find_name(s, &RS_TRIGGER, SQL_T_DELETE, a->ns, a->name, a->ar, a->out)) != SQ_OK)
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

const rs_kind RS_TRIGGER = { .sql_get = SQL_T_GET,
                             .sql_lock = SQL_T_LOCK,
                             .sql_delete = SQL_T_DELETE,
                             .sql_insert = SQL_T_INSERT,
                             .sql_update = SQL_T_UPDATE,
                             .sql_list = SQL_T_LIST,
                             .sql_count = SQL_T_COUNT,
                             .what = "trigger",
                             .read = read_trigger,
                             .cols = TRIGGER_COLS,
                             .ncols = sizeof TRIGGER_COLS / sizeof TRIGGER_COLS[0],
                             .nfields = T_COUNT,
                             .elem = sizeof(reg_trigger),
                             .apply = apply_trigger };

/* ---- rules -------------------------------------------------------------------------------- */

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
    st = rs_find_name(s, &RS_TRIGGER, SQL_T_GET, u->trigger_ns, u->trigger_name, ar, &t);
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

static sq_status apply_rule(reg_store_t *s, put_entity_arg *a, const void *old)
{
    sq_status st =
        reg_rule_apply(old, a->p, a->key.ns, a->key.name, a->ar, a->out, a->err, a->errlen);
    if (st != SQ_OK)
        return st;
    return check_rule_refs(s, a->key.ns, a->out, a->ar, a->err, a->errlen);
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

    if ((st = rs_find_name(s, &RS_RULE, SQL_R_LOCK, a->ns, a->name, a->ar, a->out)) != SQ_OK)
        return st;
    if (strcmp(a->out->status, a->status) == 0)
        return SQ_OK;
    if (strcmp(a->status, REG_RULE_ACTIVE) == 0) {
        st = rs_find_name(s, &RS_TRIGGER, SQL_T_GET, a->out->trigger_ns, a->out->trigger_name,
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

sq_status reg_store_get_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                             reg_rule *out)
{
    return rs_one(s, &RS_RULE, false, ns, name, ar, out);
}

sq_status reg_store_delete_rule(reg_store_t *s, const char *ns, const char *name, sq_arena_t *ar,
                                reg_rule *out)
{
    return rs_one(s, &RS_RULE, true, ns, name, ar, out);
}

const rs_kind RS_RULE = { .sql_get = SQL_R_GET,
                          .sql_lock = SQL_R_LOCK,
                          .sql_delete = SQL_R_DELETE,
                          .sql_insert = SQL_R_INSERT,
                          .sql_update = SQL_R_UPDATE,
                          .sql_list = SQL_R_LIST,
                          .sql_count = SQL_R_COUNT,
                          .what = "rule",
                          .read = read_rule,
                          .cols = RULE_COLS,
                          .ncols = sizeof RULE_COLS / sizeof RULE_COLS[0],
                          .nfields = R_COUNT,
                          .elem = sizeof(reg_rule),
                          .apply = apply_rule };
