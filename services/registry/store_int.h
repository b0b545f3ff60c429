/* The registry store's own header, for its files only (store.c: the connection, the unit of
 * work and the row readers; store_actions.c, store_packages.c, store_triggers.c (triggers and
 * rules), store_system.c (the system packages and the purge of a deleted namespace);
 * store_engine.c: what every kind does alike, driven by the kind's rs_kind): the statements,
 * the column orders and the helpers they share. */
#ifndef REG_STORE_INT_H
#define REG_STORE_INT_H

#include "registry.h"

#include <libpq-fe.h>
#include <stddef.h>
#include "sq/store.h"
#include "sq/util.h" /* sq_errf */

/* The first key of the namespace locks (the second is hashtext(namespace)). */
#define NS_LOCK_CLASS 0x52454731 /* "REG1" */

/* ---- statements ------------------------------------------------------------------------ */

/* Actions: the columns in the order read_action() expects; code is "code" or "NULL::text". */
#define A_COLS(code)                                                                               \
    "namespace, package, name, version, kind, " code ", main, is_binary, parameters, "             \
    "annotations, (limits->>'timeout')::int8, (limits->>'memory')::int8, "                         \
    "(limits->>'logs')::int8, (limits->>'concurrency')::int8, publish, updated, components, rev"
enum {
    A_NS,
    A_PKG,
    A_NAME,
    A_VERSION,
    A_KIND,
    A_CODE,
    A_MAIN,
    A_BINARY,
    A_PARAMS,
    A_ANNOTS,
    A_TIMEOUT,
    A_MEMORY,
    A_LOGS,
    A_CONCURRENCY,
    A_PUBLISH,
    A_UPDATED,
    A_COMPONENTS,
    A_REV,
    A_COUNT
};
#define A_ONE " WHERE namespace = $1 AND package = $2 AND name = $3"

static const char SQL_A_GET_CODE[] = "SELECT " A_COLS("code") " FROM registry_actions" A_ONE;
static const char SQL_A_GET_NOCODE[] =
    "SELECT " A_COLS("NULL::text") " FROM registry_actions" A_ONE;
static const char SQL_A_LOCK[] =
    "SELECT " A_COLS("code") " FROM registry_actions" A_ONE " FOR UPDATE";
static const char SQL_A_DELETE[] =
    "DELETE FROM registry_actions" A_ONE " RETURNING " A_COLS("code");
static const char SQL_A_SEQ[] = "SELECT kind, components FROM registry_actions" A_ONE;
static const char SQL_A_INSERT[] =
    "INSERT INTO registry_actions (namespace, package, name, version, kind, code, main,"
    " is_binary, parameters, annotations, limits, publish, updated, components)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
    " jsonb_build_object('timeout', $11::int8, 'memory', $12::int8, 'logs', $13::int8,"
    " 'concurrency', $14::int8), $15, $16, $17) RETURNING rev";
static const char SQL_A_UPDATE[] =
    "UPDATE registry_actions SET version = $4, kind = $5, code = $6, main = $7, is_binary = $8,"
    " parameters = $9, annotations = $10,"
    " limits = jsonb_build_object('timeout', $11::int8, 'memory', $12::int8, 'logs', $13::int8,"
    " 'concurrency', $14::int8), publish = $15, updated = $16, components = $17,"
    " rev = nextval('registry_rev')" A_ONE " RETURNING rev";
static const char SQL_A_LIST_NS[] =
    "SELECT " A_COLS("NULL::text") " FROM registry_actions WHERE namespace = $1"
                                   " ORDER BY updated DESC, package, name LIMIT $2 OFFSET $3";
static const char SQL_A_COUNT_NS[] = "SELECT count(*) FROM registry_actions WHERE namespace = $1";
static const char SQL_A_LIST_PKG[] =
    "SELECT " A_COLS("NULL::text") " FROM registry_actions WHERE namespace = $1 AND package = $2"
                                   " ORDER BY updated DESC, name LIMIT $3 OFFSET $4";
static const char SQL_A_COUNT_PKG[] =
    "SELECT count(*) FROM registry_actions WHERE namespace = $1 AND package = $2";
static const char SQL_A_BRIEFS[] =
    "SELECT name, version, publish, annotations, parameters FROM registry_actions"
    " WHERE namespace = $1 AND package = $2 ORDER BY name";
static const char SQL_A_DELETE_PKG[] =
    "DELETE FROM registry_actions WHERE namespace = $1 AND package = $2 RETURNING name, version";
static const char SQL_A_NAMES_PKG[] =
    "SELECT name FROM registry_actions WHERE namespace = $1 AND package = $2";

/* Packages */
#define P_COLS                                                                                     \
    "namespace, name, version, publish, parameters, annotations, binding_ns, binding_name, "       \
    "updated"
enum { P_NS, P_NAME, P_VERSION, P_PUBLISH, P_PARAMS, P_ANNOTS, P_BNS, P_BNAME, P_UPDATED, P_COUNT };
#define NAME_ONE " WHERE namespace = $1 AND name = $2"

static const char SQL_P_GET[] = "SELECT " P_COLS " FROM registry_packages" NAME_ONE;
static const char SQL_P_LOCK[] = "SELECT " P_COLS " FROM registry_packages" NAME_ONE " FOR UPDATE";
static const char SQL_P_DELETE[] = "DELETE FROM registry_packages" NAME_ONE " RETURNING " P_COLS;
static const char SQL_P_INSERT[] =
    "INSERT INTO registry_packages (" P_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
static const char SQL_P_UPDATE[] =
    "UPDATE registry_packages SET version = $3, publish = $4, parameters = $5, annotations = $6,"
    " binding_ns = $7, binding_name = $8, updated = $9" NAME_ONE;
/* $2: only the shared ones of ns; $3: also the shared ones of every namespace. Shared are
 * published packages, not bindings (OpenWhisk's packages-public view). */
#define P_SHARED "(publish AND binding_name IS NULL)"
#define P_LIST_WHERE                                                                               \
    " WHERE (namespace = $1 AND (NOT $2::bool OR " P_SHARED ")) OR ($3::bool AND " P_SHARED ")"
static const char SQL_P_LIST[] = "SELECT " P_COLS " FROM registry_packages" P_LIST_WHERE
                                 " ORDER BY updated DESC, namespace, name LIMIT $4 OFFSET $5";
static const char SQL_P_COUNT[] = "SELECT count(*) FROM registry_packages" P_LIST_WHERE;

/* Triggers */
#define T_COLS "namespace, name, version, publish, parameters, annotations, updated"
enum { T_NS, T_NAME, T_VERSION, T_PUBLISH, T_PARAMS, T_ANNOTS, T_UPDATED, T_COUNT };

static const char SQL_T_GET[] = "SELECT " T_COLS " FROM registry_triggers" NAME_ONE;
static const char SQL_T_LOCK[] = "SELECT " T_COLS " FROM registry_triggers" NAME_ONE " FOR UPDATE";
static const char SQL_T_DELETE[] = "DELETE FROM registry_triggers" NAME_ONE " RETURNING " T_COLS;
static const char SQL_T_INSERT[] =
    "INSERT INTO registry_triggers (" T_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7)";
static const char SQL_T_UPDATE[] =
    "UPDATE registry_triggers SET version = $3, publish = $4, parameters = $5, annotations = $6,"
    " updated = $7" NAME_ONE;
static const char SQL_T_LIST[] = "SELECT " T_COLS " FROM registry_triggers WHERE namespace = $1"
                                 " ORDER BY updated DESC, name LIMIT $2 OFFSET $3";
static const char SQL_T_COUNT[] = "SELECT count(*) FROM registry_triggers WHERE namespace = $1";

/* Rules */
#define R_COLS                                                                                     \
    "namespace, name, version, publish, annotations, status, trigger_ns, trigger_name,"            \
    " action_path, action_name, updated"
enum {
    R_NS,
    R_NAME,
    R_VERSION,
    R_PUBLISH,
    R_ANNOTS,
    R_STATUS,
    R_TNS,
    R_TNAME,
    R_APATH,
    R_ANAME,
    R_UPDATED,
    R_COUNT
};

static const char SQL_R_GET[] = "SELECT " R_COLS " FROM registry_rules" NAME_ONE;
static const char SQL_R_LOCK[] = "SELECT " R_COLS " FROM registry_rules" NAME_ONE " FOR UPDATE";
static const char SQL_R_DELETE[] = "DELETE FROM registry_rules" NAME_ONE " RETURNING " R_COLS;
static const char SQL_R_INSERT[] =
    "INSERT INTO registry_rules (" R_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
static const char SQL_R_UPDATE[] =
    "UPDATE registry_rules SET version = $3, publish = $4, annotations = $5, status = $6,"
    " trigger_ns = $7, trigger_name = $8, action_path = $9, action_name = $10, updated = "
    "$11" NAME_ONE;
static const char SQL_R_STATUS[] = "UPDATE registry_rules SET status = $3" NAME_ONE;
static const char SQL_R_LIST[] = "SELECT " R_COLS " FROM registry_rules WHERE namespace = $1"
                                 " ORDER BY updated DESC, name LIMIT $2 OFFSET $3";
static const char SQL_R_COUNT[] = "SELECT count(*) FROM registry_rules WHERE namespace = $1";
static const char SQL_R_OF_TRIGGER[] =
    "SELECT " R_COLS " FROM registry_rules WHERE trigger_ns = $1 AND trigger_name = $2"
    " ORDER BY namespace, name";
static const char SQL_R_DEACTIVATE[] =
    "UPDATE registry_rules SET status = 'inactive'"
    " WHERE trigger_ns = $1 AND trigger_name = $2 AND status = 'active'"
    " RETURNING namespace, name, version";

/* ---- shared by the store's files (store.c unless said) -------------------------------------- */

/* What a unit of work runs with the connection: SQ_OK commits, anything else rolls back. */
typedef sq_status (*work_fn)(reg_store_t *s, void *arg);
typedef sq_status (*row_reader)(const PGresult *r, int row, sq_arena_t *ar, void *out);

/* An entity's key: namespace, package (actions only; NULL: none, stored as "") and name. */
typedef struct rs_key {
    const char *ns, *pkg, *name;
} rs_key;

typedef struct rs_kind rs_kind;

/* A list of one kind of entity (reg_store_list). */
typedef struct list_arg {
    const rs_kind *kind;
    const reg_list_q *q;
    sq_arena_t *ar;
    void **items;
    size_t *n;
    int64_t *total;
    char *err;
    size_t errlen;
} list_arg;

/* A put of one entity (reg_store_put). */
typedef struct put_entity_arg {
    const rs_kind *kind;
    rs_key key;
    bool overwrite;
    const void *p; /* reg_patch (actions) or reg_entity_patch */
    sq_arena_t *ar;
    void *out;
    bool *created;
    char *err;
    size_t errlen;
} put_entity_arg;

/* A column of a kind's row and where rs_read_doc() puts it in the kind's struct. */
typedef enum rs_col_type {
    RS_STR,      /* char *, never SQL NULL */
    RS_STR_NULL, /* char *, NULL for SQL NULL */
    RS_BOOL,     /* bool */
    RS_I64,      /* int64_t (0 for SQL NULL) */
    RS_MP        /* msgpack_object: a msgpack array in bytea */
} rs_col_type;
typedef struct rs_col {
    int col;
    rs_col_type type;
    size_t off;
    const char *name;
} rs_col;
#define RS_COL(type, col, kind, member)                                                            \
    {                                                                                              \
        col, kind, offsetof(type, member), #member                                                 \
    }

/* What the store engine (store_engine.c) needs of a kind of entity; one per kind, in its own
 * file (RS_ACTION in store_actions.c, RS_PACKAGE in store_packages.c, RS_TRIGGER and RS_RULE
 * in store_triggers.c). */
struct rs_kind {
    bool keyed_pkg; /* the key has the package column ($2) */
    const char *sql_get, *sql_lock, *sql_delete, *sql_insert, *sql_update;
    const char *sql_list, *sql_count; /* by namespace ($1), LIMIT $2 OFFSET $3 */
    const char *what;                 /* the kind's name in log lines */
    row_reader read;                  /* a row into the kind's struct (rs_read_doc with cols) */
    const rs_col *cols; /* the columns rs_read_doc reads (actions have their own reader) */
    size_t ncols;
    int nfields; /* the columns the kind's SELECTs give */
    size_t elem; /* the size of the kind's struct */
    /* the parameters of sql_insert and sql_update, in their order, for entity e at key k
     * (NULL: cols, in the order of the SELECTs) */
    void (*bind)(sq_params *p, const rs_key *k, const void *e);
    /* a put's checks before the stored entity is looked up (NULL: none) */
    work_fn check;
    /* a put applied to old (NULL: a new entity) into a->out, with the kind's own checks */
    sq_status (*apply)(reg_store_t *s, put_entity_arg *a, const void *old);
    /* the kind's list (a list_arg; NULL: sql_list and sql_count by namespace) */
    work_fn list;
    /* sql_insert and sql_update return the row's new revision (RETURNING rev), which
     * rs_write() stores at this offset of the entity (actions: sq_action.rev) */
    bool returns_rev;
    size_t rev_off;
};
extern const rs_kind RS_ACTION, RS_PACKAGE, RS_TRIGGER, RS_RULE;

/* The helpers, each described where it is defined (store.c; the engine's in
 * store_engine.c). */
PGresult *rs_run(reg_store_t *s, const char *sql, const sq_params *p);
PGresult *rs_run2(reg_store_t *s, const char *sql, const char *a, const char *b);
PGresult *rs_run3(reg_store_t *s, const char *sql, const char *a, const char *b, const char *c);
sq_status rs_atomically(reg_store_t *s, const char *lock_ns, work_fn fn, void *arg);
char *rs_col_str(const PGresult *r, int row, int col, sq_arena_t *ar);
int64_t rs_col_i64(const PGresult *r, int row, int col, int64_t def);
sq_status rs_col_mp_array(const PGresult *r, int row, int col, bool nullable, sq_arena_t *ar,
                          msgpack_object *out);
bool rs_is_sequence(const char *kind);
sq_status rs_fetch_one(reg_store_t *s, const char *sql, const sq_params *p, row_reader rd,
                       sq_arena_t *ar, void *out);
sq_status rs_fetch_all(reg_store_t *s, const char *sql, const sq_params *p, row_reader rd,
                       size_t elem, sq_arena_t *ar, void **items, size_t *n);
sq_status rs_fetch_count(reg_store_t *s, const char *sql, const sq_params *p, int64_t skip,
                         int64_t *total);
sq_status rs_list_page(reg_store_t *s, list_arg *a, sq_params *p, const char *list_sql,
                       const char *count_sql);
sq_status rs_rd_action(const PGresult *r, int row, sq_arena_t *ar, void *out);
sq_status rs_read_doc(const PGresult *r, int row, sq_arena_t *ar, const rs_kind *k, void *out);
sq_status rs_rd_brief(const PGresult *r, int row, sq_arena_t *ar, void *out);
sq_status rs_find(reg_store_t *s, const rs_kind *k, const char *sql, const rs_key *key,
                  sq_arena_t *ar, void *out);
sq_status rs_find_name(reg_store_t *s, const rs_kind *k, const char *sql, const char *ns,
                       const char *name, sq_arena_t *ar, void *out);
sq_status rs_find_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                         bool code, bool lock, sq_arena_t *ar, sq_action *out);
sq_status rs_find_package(reg_store_t *s, const char *ns, const char *name, bool lock,
                          sq_arena_t *ar, reg_package *out);
sq_status rs_resolve_pkg(reg_store_t *s, const char *ns, const char *pkg, bool shared,
                         sq_arena_t *ar, char **rns, char **rpkg, msgpack_object *params, char *err,
                         size_t errlen);
sq_status rs_write(reg_store_t *s, const rs_kind *k, const char *sql, const rs_key *key, void *e);
sq_status rs_one(reg_store_t *s, const rs_kind *k, bool del, const char *ns, const char *name,
                 sq_arena_t *ar, void *out);

#endif
