/* The auth service's tables (auth_subjects, auth_namespaces, auth_keys): every SQL
 * statement of the service lives here. One connection, guarded by a mutex (each NATS route
 * delivers on its own thread). Each operation runs through store_do(): libsqpg's
 * sq_store_run(), inside a transaction when it writes more than one row, with the retry
 * policy of sq/store.h (a lost connection, 40001 or 40P01 runs the work again). Parameters go as text (bytea as binary); results come back in binary format
 * so that the bytea columns need no unescaping: every other column is selected as text
 * (or boolean), whose binary form is the plain bytes. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sq/log.h"
#include "sq/pg.h"
#include "sq/store.h"

sq_status auth_store_open(auth_store_t **out, const char *dsn, const char *schema_dir, int wait_ms)
{
    return sq_store_open(out, dsn, schema_dir, "auth", wait_ms);
}

void auth_store_close(auth_store_t *s)
{
    sq_store_close(s);
}

/* ---- plumbing ---------------------------------------------------------------------------- */

/* Runs one statement, binary results; the result (never NULL-unsafe for PQclear) is the
 * caller's. vals are text unless fmts says otherwise. */
static PGresult *run(auth_store_t *s, const char *sql, int n, const char *const *vals,
                     const int *lens, const int *fmts)
{
    return sq_pg_execv(sq_store_conn(s), "auth", sql, n, vals, lens, fmts, true);
}

/* A statement with text parameters whose result is not needed; false on failure. */
static bool exec_params(auth_store_t *s, const char *sql, int n, const char *const *vals)
{
    PGresult *r = run(s, sql, n, vals, NULL, NULL);
    bool ok = sq_pg_ok(r);
    PQclear(r);
    return ok;
}

static char *col_str(PGresult *r, int row, int col, sq_arena_t *ar)
{
    int n = PQgetlength(r, row, col);
    char *p = msgpack_zone_malloc(ar, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, PQgetvalue(r, row, col), (size_t)n);
    p[n] = '\0';
    return p;
}

/* Column col of every row as a NULL-terminated vector in the arena. */
static sq_status col_strs(PGresult *r, int col, sq_arena_t *ar, char ***out, size_t *n)
{
    int rows = PQntuples(r);
    char **v = msgpack_zone_malloc(ar, sizeof *v * ((size_t)rows + 1));
    if (v == NULL)
        return SQ_ERR_NOMEM;
    for (int i = 0; i < rows; i++)
        if ((v[i] = col_str(r, i, col, ar)) == NULL)
            return SQ_ERR_NOMEM;
    v[rows] = NULL;
    *out = v;
    *n = (size_t)rows;
    return SQ_OK;
}

/* Splits "a/b/c" (names cannot hold '/') into a NULL-terminated vector in the arena. */
static sq_status split_names(const char *joined, sq_arena_t *ar, char ***out, size_t *n)
{
    size_t count = joined[0] ? 1 : 0, len = strlen(joined), i = 0;
    char **v, *copy, *save = NULL, *tok;

    for (const char *p = joined; *p; p++)
        count += *p == '/';
    v = msgpack_zone_malloc(ar, sizeof *v * (count + 1));
    copy = msgpack_zone_malloc(ar, len + 1);
    if (v == NULL || copy == NULL)
        return SQ_ERR_NOMEM;
    memcpy(copy, joined, len + 1);
    for (tok = strtok_r(copy, "/", &save); tok && i < count; tok = strtok_r(NULL, "/", &save))
        v[i++] = tok;
    v[i] = NULL;
    *out = v;
    *n = i;
    return SQ_OK;
}

typedef sq_status (*store_fn)(auth_store_t *s, void *arg);

typedef struct store_call {
    auth_store_t *s;
    store_fn fn;
    void *arg;
} store_call;

static sq_status store_call_fn(PGconn *c, void *arg)
{
    store_call *x = arg;
    return x->fn(x->s, x->arg);
}

/* Runs fn through sq_store_run() (sq/store.h: under the store's mutex, inside BEGIN/COMMIT
 * when tx, with libsqpg's one retry policy). fn must set every output afresh (it may run
 * more than once). */
static sq_status store_do(auth_store_t *s, bool tx, store_fn fn, void *arg)
{
    store_call x = { s, fn, arg };
    return sq_store_run(s, tx, store_call_fn, &x);
}

/* ---- keys -------------------------------------------------------------------------------- */

/* Fills row from columns salt, hash, subject, namespace, blocked, namespaces ("a/b") of
 * result row 0. */
static sq_status read_row(PGresult *r, sq_arena_t *ar, auth_key_row *row)
{
    if (PQgetlength(r, 0, 0) != AUTH_SALT_LEN || PQgetlength(r, 0, 1) != AUTH_HASH_LEN ||
        PQgetlength(r, 0, 4) != 1) {
        sq_error("stored key has a malformed salt or hash");
        return SQ_ERR_DB;
    }
    memcpy(row->salt, PQgetvalue(r, 0, 0), AUTH_SALT_LEN);
    memcpy(row->hash, PQgetvalue(r, 0, 1), AUTH_HASH_LEN);
    row->subject = col_str(r, 0, 2, ar);
    row->namespace_ = col_str(r, 0, 3, ar);
    row->blocked = PQgetvalue(r, 0, 4)[0] != 0;
    if (row->subject == NULL || row->namespace_ == NULL)
        return SQ_ERR_NOMEM;
    return split_names(PQgetvalue(r, 0, 5), ar, &row->namespaces, &row->nnamespaces);
}

static const char SQL_LOOKUP[] =
    "SELECT k.salt, k.hash, k.subject, k.namespace, s.blocked,"
    "       COALESCE((SELECT string_agg(n.name, '/' ORDER BY n.name) FROM auth_namespaces n"
    "                  WHERE n.subject = k.subject), '')"
    "  FROM auth_keys k JOIN auth_subjects s ON s.name = k.subject"
    " WHERE k.uuid = $1::uuid";

struct lookup_args {
    const char *uuid;
    sq_arena_t *ar;
    auth_key_row *row;
};

static sq_status lookup_fn(auth_store_t *s, void *arg)
{
    struct lookup_args *a = arg;
    const char *vals[1] = { a->uuid };
    PGresult *r = run(s, SQL_LOOKUP, 1, vals, NULL, NULL);
    sq_status st = SQ_ERR_DB;

    if (sq_pg_ok(r))
        st = PQntuples(r) == 0 ? SQ_ERR_NOT_FOUND : read_row(r, a->ar, a->row);
    PQclear(r);
    return st;
}

sq_status auth_store_lookup(auth_store_t *s, const char *uuid, sq_arena_t *ar, auth_key_row *row)
{
    return store_do(s, false, lookup_fn, &(struct lookup_args){ uuid, ar, row });
}

/* Inserts a key row (nothing when if_absent and uuid exists); false on failure. A new key
 * is inserted without ON CONFLICT: should a random uuid ever collide, the request fails
 * rather than hand out a key that does not work. */
static bool insert_key(auth_store_t *s, const char *uuid, const char *subject, const char *ns,
                       const unsigned char *salt, const unsigned char *hash, bool if_absent)
{
    const char *vals[5] = { uuid, subject, ns, (const char *)salt, (const char *)hash };
    const int lens[5] = { 0, 0, 0, AUTH_SALT_LEN, AUTH_HASH_LEN };
    const int fmts[5] = { 0, 0, 0, 1, 1 };
    PGresult *r = run(s,
                      if_absent ? "INSERT INTO auth_keys(uuid, subject, namespace, salt, hash)"
                                  " VALUES ($1::uuid, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
                                : "INSERT INTO auth_keys(uuid, subject, namespace, salt, hash)"
                                  " VALUES ($1::uuid, $2, $3, $4, $5)",
                      5, vals, lens, fmts);
    bool ok = sq_pg_ok(r);
    PQclear(r);
    return ok;
}

/* The owner of namespace ns into *owner (NULL when ns does not exist). */
static sq_status ns_owner(auth_store_t *s, const char *ns, sq_arena_t *ar, char **owner)
{
    const char *vals[1] = { ns };
    PGresult *r =
        run(s, "SELECT subject FROM auth_namespaces WHERE name = $1", 1, vals, NULL, NULL);
    sq_status st = SQ_ERR_DB;

    *owner = NULL;
    if (sq_pg_ok(r)) {
        st = SQ_OK;
        if (PQntuples(r) == 1 && (*owner = col_str(r, 0, 0, ar)) == NULL)
            st = SQ_ERR_NOMEM;
    }
    PQclear(r);
    return st;
}

/* Makes subject and its namespace ns exist; *owner is ns's owner afterwards. */
static sq_status ensure_ns(auth_store_t *s, const char *subject, const char *ns, sq_arena_t *ar,
                           char **owner)
{
    const char *sub_vals[1] = { subject };
    const char *ns_vals[2] = { ns, subject };

    if (!exec_params(s, "INSERT INTO auth_subjects(name) VALUES ($1) ON CONFLICT DO NOTHING", 1,
                     sub_vals) ||
        !exec_params(s,
                     "INSERT INTO auth_namespaces(name, subject) VALUES ($1, $2)"
                     " ON CONFLICT DO NOTHING",
                     2, ns_vals))
        return SQ_ERR_DB;
    return ns_owner(s, ns, ar, owner);
}

struct bootstrap_args {
    const char *subject, *ns, *uuid;
    const unsigned char *salt, *hash;
    sq_arena_t *ar;
    auth_key_row *row;
    char *owner;
};

static sq_status bootstrap_fn(auth_store_t *s, void *arg)
{
    struct bootstrap_args *a = arg;
    sq_status st = ensure_ns(s, a->subject, a->ns, a->ar, &a->owner);

    if (st != SQ_OK)
        return st;
    if (a->owner == NULL || strcmp(a->owner, a->subject) != 0)
        return SQ_ERR_CONFLICT;
    if (!insert_key(s, a->uuid, a->subject, a->ns, a->salt, a->hash, true))
        return SQ_ERR_DB;
    st = lookup_fn(s, &(struct lookup_args){ a->uuid, a->ar, a->row });
    if (st == SQ_ERR_NOT_FOUND) {
        sq_error("bootstrap key \"%s\" vanished", a->uuid);
        st = SQ_ERR_DB;
    }
    return st;
}

sq_status auth_store_bootstrap(auth_store_t *s, const char *subject, const char *ns,
                               const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                               const unsigned char hash[AUTH_HASH_LEN], sq_arena_t *ar,
                               auth_key_row *row)
{
    struct bootstrap_args a = { subject, ns, uuid, salt, hash, ar, row, NULL };
    sq_status st = store_do(s, true, bootstrap_fn, &a);
    if (st == SQ_ERR_CONFLICT)
        sq_error("namespace \"%s\" belongs to subject \"%s\", not \"%s\"", ns,
                 a.owner ? a.owner : "?", subject);
    return st;
}

struct ensure_args {
    const char *subject, *ns;
    sq_arena_t *ar;
    char **owner;
};

static sq_status ensure_fn(auth_store_t *s, void *arg)
{
    struct ensure_args *a = arg;
    return ensure_ns(s, a->subject, a->ns, a->ar, a->owner);
}

sq_status auth_store_ensure_ns(auth_store_t *s, const char *subject, const char *ns, sq_arena_t *ar,
                               char **owner)
{
    return store_do(s, true, ensure_fn, &(struct ensure_args){ subject, ns, ar, owner });
}

struct secret_args {
    const char *uuid;
    const unsigned char *salt, *hash;
};

static sq_status secret_fn(auth_store_t *s, void *arg)
{
    struct secret_args *a = arg;
    const char *vals[3] = { a->uuid, (const char *)a->salt, (const char *)a->hash };
    const int lens[3] = { 0, AUTH_SALT_LEN, AUTH_HASH_LEN };
    const int fmts[3] = { 0, 1, 1 };
    PGresult *r = run(s, "UPDATE auth_keys SET salt = $2, hash = $3 WHERE uuid = $1::uuid", 3, vals,
                      lens, fmts);
    sq_status st = SQ_ERR_DB;

    if (sq_pg_ok(r))
        st = strcmp(PQcmdTuples(r), "1") == 0 ? SQ_OK : SQ_ERR_NOT_FOUND;
    PQclear(r);
    return st;
}

sq_status auth_store_set_secret(auth_store_t *s, const char *uuid,
                                const unsigned char salt[AUTH_SALT_LEN],
                                const unsigned char hash[AUTH_HASH_LEN])
{
    return store_do(s, false, secret_fn, &(struct secret_args){ uuid, salt, hash });
}

/* ---- limits ------------------------------------------------------------------------------ */

struct limits_args {
    const char *ns, *set, *reset; /* set, reset NULL: only read */
    sq_arena_t *ar;
    char **json, **owner;
    bool *blocked; /* read only: whether the owner is blocked (NULL: unasked) */
};

static sq_status limits_fn(auth_store_t *s, void *arg)
{
    struct limits_args *a = arg;
    const char *vals[3] = { a->ns, a->set, a->reset };
    PGresult *r;
    sq_status st = SQ_ERR_DB;

    if (a->set == NULL)
        r = run(s,
                "SELECT n.limits::text, n.subject, s.blocked FROM auth_namespaces n"
                " JOIN auth_subjects s ON s.name = n.subject WHERE n.name = $1",
                1, vals, NULL, NULL);
    else
        r = run(s,
                "UPDATE auth_namespaces SET limits = (limits || $2::jsonb) - $3::text[]"
                " WHERE name = $1 RETURNING limits::text, subject",
                3, vals, NULL, NULL);
    if (sq_pg_ok(r)) {
        if (PQntuples(r) == 0)
            st = SQ_ERR_NOT_FOUND;
        else if ((*a->json = col_str(r, 0, 0, a->ar)) == NULL ||
                 (*a->owner = col_str(r, 0, 1, a->ar)) == NULL)
            st = SQ_ERR_NOMEM;
        else {
            if (a->blocked != NULL)
                *a->blocked = a->set == NULL && PQgetvalue(r, 0, 2)[0] != 0; /* binary bool */
            st = SQ_OK;
        }
    }
    PQclear(r);
    return st;
}

sq_status auth_store_limits_get(auth_store_t *s, const char *ns, sq_arena_t *ar, char **json,
                                char **owner)
{
    return store_do(s, false, limits_fn,
                    &(struct limits_args){ ns, NULL, NULL, ar, json, owner, NULL });
}

sq_status auth_store_ns_state(auth_store_t *s, const char *ns, sq_arena_t *ar, char **json,
                              char **owner, bool *blocked)
{
    *blocked = false;
    return store_do(s, false, limits_fn,
                    &(struct limits_args){ ns, NULL, NULL, ar, json, owner, blocked });
}

sq_status auth_store_limits_set(auth_store_t *s, const char *ns, const char *set, const char *reset,
                                sq_arena_t *ar, char **json, char **owner)
{
    return store_do(s, false, limits_fn,
                    &(struct limits_args){ ns, set, reset, ar, json, owner, NULL });
}

/* ---- subjects ----------------------------------------------------------------------------- */

struct user_args {
    const char *subject, *ns, *uuid;
    const unsigned char *salt, *hash;
    bool blocked;
    sq_arena_t *ar;
    char ***names;
    size_t *n;
    auth_user *user;
    char **ns_out;
    char *why;
    size_t whylen;
};

/* true when subject exists */
static sq_status subject_exists(auth_store_t *s, const char *subject, bool *yes, bool *blocked)
{
    const char *vals[1] = { subject };
    PGresult *r = run(s, "SELECT blocked FROM auth_subjects WHERE name = $1", 1, vals, NULL, NULL);
    sq_status st = SQ_ERR_DB;

    if (sq_pg_ok(r)) {
        *yes = PQntuples(r) == 1;
        if (*yes && blocked)
            *blocked = PQgetlength(r, 0, 0) == 1 && PQgetvalue(r, 0, 0)[0] != 0;
        st = SQ_OK;
    }
    PQclear(r);
    return st;
}

static sq_status user_create_fn(auth_store_t *s, void *arg)
{
    struct user_args *a = arg;
    const char *sub_vals[1] = { a->subject };
    const char *ns_vals[2] = { a->ns, a->subject };
    char *owner;
    PGresult *r;
    sq_status st;
    bool made;

    if ((st = ns_owner(s, a->ns, a->ar, &owner)) != SQ_OK)
        return st;
    if (owner != NULL) {
        if (strcmp(owner, a->subject) != 0)
            snprintf(a->why, a->whylen, "namespace \"%s\" already exists", a->ns);
        else if (strcmp(a->ns, a->subject) == 0)
            snprintf(a->why, a->whylen, "subject \"%s\" already exists", a->subject);
        else
            snprintf(a->why, a->whylen, "subject \"%s\" already has namespace \"%s\"", a->subject,
                     a->ns);
        return SQ_ERR_CONFLICT;
    }
    if (!exec_params(s, "INSERT INTO auth_subjects(name) VALUES ($1) ON CONFLICT DO NOTHING", 1,
                     sub_vals))
        return SQ_ERR_DB;
    r = run(s,
            "INSERT INTO auth_namespaces(name, subject) VALUES ($1, $2)"
            " ON CONFLICT DO NOTHING RETURNING name",
            2, ns_vals, NULL, NULL);
    st = sq_pg_ok(r) ? SQ_OK : SQ_ERR_DB;
    made = st == SQ_OK && PQntuples(r) == 1;
    PQclear(r);
    if (st != SQ_OK)
        return st;
    if (!made) { /* made by a concurrent request since we looked */
        snprintf(a->why, a->whylen, "namespace \"%s\" already exists", a->ns);
        return SQ_ERR_CONFLICT;
    }
    return insert_key(s, a->uuid, a->subject, a->ns, a->salt, a->hash, false) ? SQ_OK : SQ_ERR_DB;
}

sq_status auth_store_user_create(auth_store_t *s, const char *subject, const char *ns,
                                 const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                                 const unsigned char hash[AUTH_HASH_LEN], char *why, size_t whylen)
{
    msgpack_zone z;
    sq_status st;
    struct user_args a = { .subject = subject,
                           .ns = ns,
                           .uuid = uuid,
                           .salt = salt,
                           .hash = hash,
                           .ar = &z,
                           .why = why,
                           .whylen = whylen };

    msgpack_zone_init(&z, 512);
    st = store_do(s, true, user_create_fn, &a);
    msgpack_zone_destroy(&z);
    return st;
}

static sq_status user_delete_fn(auth_store_t *s, void *arg)
{
    struct user_args *a = arg;
    const char *vals[1] = { a->subject };
    PGresult *r;
    sq_status st;

    r = run(s, "SELECT name FROM auth_namespaces WHERE subject = $1 ORDER BY name", 1, vals, NULL,
            NULL);
    st = sq_pg_ok(r) ? col_strs(r, 0, a->ar, a->names, a->n) : SQ_ERR_DB;
    PQclear(r);
    if (st != SQ_OK)
        return st;
    /* namespaces and keys go with the subject (ON DELETE CASCADE) */
    r = run(s, "DELETE FROM auth_subjects WHERE name = $1", 1, vals, NULL, NULL);
    if (!sq_pg_ok(r))
        st = SQ_ERR_DB;
    else if (strcmp(PQcmdTuples(r), "1") != 0) {
        snprintf(a->why, a->whylen, "subject \"%s\" does not exist", a->subject);
        st = SQ_ERR_NOT_FOUND;
    }
    PQclear(r);
    return st;
}

sq_status auth_store_user_delete(auth_store_t *s, const char *subject, sq_arena_t *ar, char ***ns,
                                 size_t *nns, char *why, size_t whylen)
{
    return store_do(
        s, true, user_delete_fn,
        &(struct user_args){
            .subject = subject, .ar = ar, .names = ns, .n = nns, .why = why, .whylen = whylen });
}

static sq_status user_get_fn(auth_store_t *s, void *arg)
{
    struct user_args *a = arg;
    const char *vals[1] = { a->subject };
    auth_user *u = a->user;
    PGresult *r;
    sq_status st;
    bool yes = false;
    int rows;

    if ((st = subject_exists(s, a->subject, &yes, &u->blocked)) != SQ_OK)
        return st;
    if (!yes) {
        snprintf(a->why, a->whylen, "subject \"%s\" does not exist", a->subject);
        return SQ_ERR_NOT_FOUND;
    }
    r = run(s,
            "SELECT n.name, (SELECT k.uuid::text FROM auth_keys k"
            "                 WHERE k.subject = n.subject AND k.namespace = n.name"
            "                 ORDER BY k.created DESC, k.uuid LIMIT 1)"
            "  FROM auth_namespaces n WHERE n.subject = $1 ORDER BY n.name",
            1, vals, NULL, NULL);
    if (!sq_pg_ok(r)) {
        PQclear(r);
        return SQ_ERR_DB;
    }
    rows = PQntuples(r);
    st = col_strs(r, 0, a->ar, &u->ns, &u->nns);
    if (st == SQ_OK &&
        (u->uuid = msgpack_zone_malloc(a->ar, sizeof *u->uuid * ((size_t)rows + 1))) == NULL)
        st = SQ_ERR_NOMEM;
    for (int i = 0; st == SQ_OK && i < rows; i++) {
        u->uuid[i] = NULL;
        if (!PQgetisnull(r, i, 1) && (u->uuid[i] = col_str(r, i, 1, a->ar)) == NULL)
            st = SQ_ERR_NOMEM;
    }
    PQclear(r);
    return st;
}

sq_status auth_store_user_get(auth_store_t *s, const char *subject, sq_arena_t *ar, auth_user *out,
                              char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    return store_do(s, true, user_get_fn,
                    &(struct user_args){
                        .subject = subject, .ar = ar, .user = out, .why = why, .whylen = whylen });
}

static sq_status user_list_fn(auth_store_t *s, void *arg)
{
    struct user_args *a = arg;
    PGresult *r = run(s, "SELECT name FROM auth_subjects ORDER BY name", 0, NULL, NULL, NULL);
    sq_status st = sq_pg_ok(r) ? col_strs(r, 0, a->ar, a->names, a->n) : SQ_ERR_DB;
    PQclear(r);
    return st;
}

sq_status auth_store_user_list(auth_store_t *s, sq_arena_t *ar, char ***subjects, size_t *n)
{
    return store_do(s, false, user_list_fn,
                    &(struct user_args){ .ar = ar, .names = subjects, .n = n });
}

static sq_status user_block_fn(auth_store_t *s, void *arg)
{
    struct user_args *a = arg;
    const char *vals[2] = { a->subject, a->blocked ? "true" : "false" };
    PGresult *r = run(s, "UPDATE auth_subjects SET blocked = $2::boolean WHERE name = $1", 2, vals,
                      NULL, NULL);
    sq_status st = SQ_ERR_DB;

    if (sq_pg_ok(r)) {
        st = SQ_OK;
        if (strcmp(PQcmdTuples(r), "1") != 0) {
            snprintf(a->why, a->whylen, "subject \"%s\" does not exist", a->subject);
            st = SQ_ERR_NOT_FOUND;
        }
    }
    PQclear(r);
    return st;
}

sq_status auth_store_user_block(auth_store_t *s, const char *subject, bool blocked, char *why,
                                size_t whylen)
{
    return store_do(s, false, user_block_fn,
                    &(struct user_args){
                        .subject = subject, .blocked = blocked, .why = why, .whylen = whylen });
}

static sq_status key_rotate_fn(auth_store_t *s, void *arg)
{
    struct user_args *a = arg;
    const char *vals[2] = { a->subject, a->ns };
    PGresult *r;
    sq_status st;
    bool yes = false;

    if ((st = subject_exists(s, a->subject, &yes, NULL)) != SQ_OK)
        return st;
    if (!yes) {
        snprintf(a->why, a->whylen, "subject \"%s\" does not exist", a->subject);
        return SQ_ERR_NOT_FOUND;
    }
    if (a->ns == NULL) {
        /* the namespace named like the subject first, then the others by name */
        r = run(s,
                "SELECT name FROM auth_namespaces WHERE subject = $1"
                " ORDER BY (name = $1) DESC, name LIMIT 2",
                1, vals, NULL, NULL);
        if (!sq_pg_ok(r)) {
            PQclear(r);
            return SQ_ERR_DB;
        }
        if (PQntuples(r) == 0) {
            snprintf(a->why, a->whylen, "subject \"%s\" has no namespace", a->subject);
            st = SQ_ERR_NOT_FOUND;
        } else if (PQntuples(r) == 1 || strcmp(PQgetvalue(r, 0, 0), a->subject) == 0) {
            if ((*a->ns_out = col_str(r, 0, 0, a->ar)) == NULL)
                st = SQ_ERR_NOMEM;
        } else {
            snprintf(a->why, a->whylen,
                     "subject \"%s\" has several namespaces: name the one "
                     "whose key to rotate",
                     a->subject);
            st = SQ_ERR_BAD_REQUEST;
        }
        PQclear(r);
        if (st != SQ_OK)
            return st;
    } else {
        r = run(s, "SELECT 1 FROM auth_namespaces WHERE subject = $1 AND name = $2", 2, vals, NULL,
                NULL);
        if (!sq_pg_ok(r)) {
            PQclear(r);
            return SQ_ERR_DB;
        }
        yes = PQntuples(r) == 1;
        PQclear(r);
        if (!yes) {
            snprintf(a->why, a->whylen, "subject \"%s\" has no namespace \"%s\"", a->subject,
                     a->ns);
            return SQ_ERR_NOT_FOUND;
        }
        if ((*a->ns_out = msgpack_zone_malloc(a->ar, strlen(a->ns) + 1)) == NULL)
            return SQ_ERR_NOMEM;
        strcpy(*a->ns_out, a->ns);
    }
    vals[1] = *a->ns_out;
    if (!exec_params(s, "DELETE FROM auth_keys WHERE subject = $1 AND namespace = $2", 2, vals))
        return SQ_ERR_DB;
    return insert_key(s, a->uuid, a->subject, *a->ns_out, a->salt, a->hash, false) ? SQ_OK
                                                                                   : SQ_ERR_DB;
}

sq_status auth_store_key_rotate(auth_store_t *s, const char *subject, const char *ns,
                                const char *uuid, const unsigned char salt[AUTH_SALT_LEN],
                                const unsigned char hash[AUTH_HASH_LEN], sq_arena_t *ar,
                                char **ns_out, char *why, size_t whylen)
{
    *ns_out = NULL;
    return store_do(s, true, key_rotate_fn,
                    &(struct user_args){ .subject = subject,
                                         .ns = ns,
                                         .uuid = uuid,
                                         .salt = salt,
                                         .hash = hash,
                                         .ar = ar,
                                         .ns_out = ns_out,
                                         .why = why,
                                         .whylen = whylen });
}
