/* The REST API's routes as one table: a path /api/v1/namespaces/{ns}/{collection}[/...] and
 * a method resolve to an operation (gw_op) and the names it acts on. Pure: no bus, no lws,
 * no response; test/unit/gateway_route_test.c drives it. The namespace root and the two
 * OpenWhisk path forms that are not one segment per name (the "ns%2Fpkg" namespace and the
 * package listing ".../actions/{pkg}/") are the only cases outside the table. */
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "sq/util.h"

/* One row: the collection segment, how many name segments follow it (0: the collection,
 * 1: an entity, 2: an action inside a package / an activation's part), an optional last
 * segment (logs, result), and the operation of each method (OP_NONE: 405). */
typedef struct {
    const char *collection;
    const char *kind; /* SQ_KIND_* of entity ops; NULL for the others */
    int names;
    const char *tail;
    gw_op ops[GW_OTHER + 1];
} route_row;

#define ENTITY_OPS(post)                                                                           \
    {                                                                                              \
        [GW_GET] = OP_ENTITY_GET, [GW_PUT] = OP_ENTITY_PUT, [GW_DELETE] = OP_ENTITY_DELETE,        \
        [GW_POST] = (post)                                                                         \
    }

static const route_row rows[] = {
    { "limits", NULL, 0, NULL, { [GW_GET] = OP_LIMITS } },
    { "activations", NULL, 0, NULL, { [GW_GET] = OP_ACT_LIST } },
    { "activations", NULL, 1, NULL, { [GW_GET] = OP_ACT_GET } },
    { "activations", NULL, 1, "logs", { [GW_GET] = OP_ACT_LOGS } },
    { "activations", NULL, 1, "result", { [GW_GET] = OP_ACT_RESULT } },
    { "actions", SQ_KIND_ACTION, 0, NULL, { [GW_GET] = OP_ENTITY_LIST } },
    { "actions", SQ_KIND_ACTION, 1, NULL, ENTITY_OPS(OP_INVOKE) },
    { "actions", SQ_KIND_ACTION, 2, NULL, ENTITY_OPS(OP_INVOKE) },
    { "packages", SQ_KIND_PACKAGE, 0, NULL, { [GW_GET] = OP_ENTITY_LIST } },
    { "packages", SQ_KIND_PACKAGE, 1, NULL, ENTITY_OPS(OP_NONE) },
    { "triggers", SQ_KIND_TRIGGER, 0, NULL, { [GW_GET] = OP_ENTITY_LIST } },
    { "triggers", SQ_KIND_TRIGGER, 1, NULL, ENTITY_OPS(OP_FIRE) },
    { "rules", SQ_KIND_RULE, 0, NULL, { [GW_GET] = OP_ENTITY_LIST } },
    { "rules", SQ_KIND_RULE, 1, NULL, ENTITY_OPS(OP_RULE_STATE) },
};

#define NROWS (sizeof rows / sizeof rows[0])
#define MAX_SEGS 8

static bool is_collection(const char *s)
{
    for (size_t i = 0; i < NROWS; i++)
        if (strcmp(rows[i].collection, s) == 0)
            return true;
    return false;
}

static int fail(char *err, size_t errlen, int status, const char *fmt, const char *name)
{
    snprintf(err, errlen, fmt, name);
    return status;
}

/* Splits path at '/' into seg (at most MAX_SEGS; -1 when there are more). */
static int split(char *path, char **seg)
{
    char *save = NULL, *tok;
    int n = 0;
    for (tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGS)
            return -1;
        seg[n++] = tok;
    }
    return n;
}

/* Fills the names of r from the row's segments; 0 or 400. */
static int take_names(gw_req *r, const route_row *row, char **seg, int n, char *err, size_t errlen)
{
    if (row->kind == NULL) { /* an activation id */
        if (strlen(seg[5]) >= sizeof r->actid || !sq_id_valid(seg[5]))
            return fail(err, errlen, 404, "%s", "The requested resource does not exist.");
        memcpy(r->actid, seg[5], strlen(seg[5]) + 1);
        return 0;
    }
    r->name[0] = '\0';
    if (r->pkg[0] != '\0')
        snprintf(r->name, sizeof r->name, "%s/", r->pkg);
    for (int i = 5; i < n; i++) {
        if (!sq_name_valid(seg[i]))
            return fail(err, errlen, 400, "The name \"%s\" is not a valid entity name.", seg[i]);
        if (i > 5)
            strncat(r->name, "/", sizeof r->name - strlen(r->name) - 1);
        strncat(r->name, seg[i], sizeof r->name - strlen(r->name) - 1);
    }
    return 0;
}

int gw_route_rest(gw_req *r, char *err, size_t errlen)
{
    char path[sizeof r->path], *seg[MAX_SEGS];
    const route_row *row = NULL;
    int n, names;
    gw_method m = r->method > GW_OTHER ? GW_OTHER : r->method;

    snprintf(path, sizeof path, "%s", r->path);
    n = split(path, seg);
    if (n < 3 || strcmp(seg[0], "api") != 0 || strcmp(seg[1], "v1") != 0 ||
        strcmp(seg[2], "namespaces") != 0)
        return fail(err, errlen, 404, "%s", "The requested resource does not exist.");
    if (n == 3) {
        if (m != GW_GET)
            return fail(err, errlen, 405, "%s", "Method not allowed.");
        r->op = OP_NAMESPACES;
        return 0;
    }
    if (strcmp(seg[3], "_") != 0 && !sq_name_valid(seg[3]))
        return fail(err, errlen, 400, "The namespace name \"%s\" is not valid.", seg[3]);
    snprintf(r->ns, sizeof r->ns, "%s", seg[3]);
    if (n < 5)
        return fail(err, errlen, 404, "%s", "The requested resource does not exist.");
    /* "ns%2Fpkg" as the namespace (OpenWhisk's router takes it, lws has decoded it): the
     * package's actions; no name may then follow a package of its own */
    if (n >= 6 && strcmp(seg[5], "actions") == 0 && sq_name_valid(seg[4]) &&
        !is_collection(seg[4])) {
        snprintf(r->pkg, sizeof r->pkg, "%s", seg[4]);
        for (int i = 4; i + 1 < n; i++)
            seg[i] = seg[i + 1];
        n--;
        if (n > 6)
            return fail(err, errlen, 404, "%s", "The requested resource does not exist.");
    }
    /* GET .../actions/{package}/ lists the package's actions */
    if (n == 6 && r->pkg[0] == '\0' && strcmp(seg[4], "actions") == 0 &&
        r->path[strlen(r->path) - 1] == '/' && m == GW_GET) {
        if (!sq_name_valid(seg[5]))
            return fail(err, errlen, 400, "The name \"%s\" is not a valid entity name.", seg[5]);
        snprintf(r->pkg, sizeof r->pkg, "%s", seg[5]);
        r->kind = SQ_KIND_ACTION;
        r->collection = "actions";
        r->op = OP_ENTITY_LIST;
        return 0;
    }
    for (size_t i = 0; i < NROWS && row == NULL; i++) {
        const route_row *x = &rows[i];
        names = n - 5 - (x->tail ? 1 : 0);
        if (strcmp(x->collection, seg[4]) == 0 && names == x->names &&
            (x->tail == NULL || strcmp(x->tail, seg[n - 1]) == 0))
            row = x;
    }
    if (row == NULL)
        return fail(err, errlen, 404, "%s", "The requested resource does not exist.");
    /* an activation's method is checked before its id, an entity's name before the method
     * (400 before 405) */
    if (row->kind == NULL && row->ops[m] == OP_NONE)
        return fail(err, errlen, 405, "%s", "Method not allowed.");
    if (row->names > 0) {
        int st = take_names(r, row, seg, row->tail ? n - 1 : n, err, errlen);
        if (st != 0)
            return st;
    }
    if (row->ops[m] == OP_NONE)
        return fail(err, errlen, 405, "%s", "Method not allowed.");
    r->kind = row->kind;
    r->collection = row->collection;
    r->op = row->ops[m];
    return 0;
}
