/* Unit tests of the gateway's REST routing (services/gateway/route.c, compiled in) without
 * a stack: path and method to operation, the names it resolves (namespace, package, entity,
 * activation id), the OpenWhisk path forms ("ns%2Fpkg", ".../actions/{pkg}/"), and the
 * refusals: 404 for paths that name nothing, 405 for a method a path does not take, 400
 * for a namespace or entity name that is not valid. */
#include "../../services/gateway/route.c"

#include "check.h"

#define ID "0123456789abcdef0123456789abcdef"
#define BASE "/api/v1/namespaces"

/* Routes method+path on a fresh request into *r; returns the status (0: routed). */
static int route_of(gw_req *r, gw_method m, const char *path, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->method = m;
    snprintf(r->path, sizeof r->path, "%s", path);
    err[0] = '\0';
    return gw_route_rest(r, err, errlen);
}

/* One routed case: what the request resolves to. */
static const struct ok_case {
    gw_method m;
    const char *path;
    gw_op op;
    const char *kind, *ns, *pkg, *name, *actid;
} oks[] = {
    { GW_GET, BASE, OP_NAMESPACES, NULL, "", "", "", "" },
    { GW_GET, BASE "/", OP_NAMESPACES, NULL, "", "", "", "" },
    { GW_GET, BASE "/_/limits", OP_LIMITS, NULL, "_", "", "", "" },
    { GW_GET, BASE "/guest/actions", OP_ENTITY_LIST, SQ_KIND_ACTION, "guest", "", "", "" },
    { GW_GET, BASE "/_/packages", OP_ENTITY_LIST, SQ_KIND_PACKAGE, "_", "", "", "" },
    { GW_GET, BASE "/_/triggers", OP_ENTITY_LIST, SQ_KIND_TRIGGER, "_", "", "", "" },
    { GW_GET, BASE "/_/rules/", OP_ENTITY_LIST, SQ_KIND_RULE, "_", "", "", "" },
    { GW_GET, BASE "/_/actions/hello", OP_ENTITY_GET, SQ_KIND_ACTION, "_", "", "hello", "" },
    { GW_PUT, BASE "/_/actions/hello", OP_ENTITY_PUT, SQ_KIND_ACTION, "_", "", "hello", "" },
    { GW_DELETE, BASE "/_/actions/hello", OP_ENTITY_DELETE, SQ_KIND_ACTION, "_", "", "hello", "" },
    { GW_POST, BASE "/_/actions/hello", OP_INVOKE, SQ_KIND_ACTION, "_", "", "hello", "" },
    { GW_POST, BASE "/_/actions/lib/hello", OP_INVOKE, SQ_KIND_ACTION, "_", "", "lib/hello", "" },
    { GW_GET, BASE "/_/actions/lib/hello", OP_ENTITY_GET, SQ_KIND_ACTION, "_", "", "lib/hello",
      "" },
    /* the package listing: a trailing slash after the package */
    { GW_GET, BASE "/_/actions/lib/", OP_ENTITY_LIST, SQ_KIND_ACTION, "_", "lib", "", "" },
    /* without the slash it is an action */
    { GW_GET, BASE "/_/actions/lib", OP_ENTITY_GET, SQ_KIND_ACTION, "_", "", "lib", "" },
    /* "ns%2Fpkg" (decoded by lws) as the namespace */
    { GW_GET, BASE "/guest/lib/actions", OP_ENTITY_LIST, SQ_KIND_ACTION, "guest", "lib", "", "" },
    { GW_POST, BASE "/guest/lib/actions/hello", OP_INVOKE, SQ_KIND_ACTION, "guest", "lib",
      "lib/hello", "" },
    { GW_PUT, BASE "/_/packages/lib", OP_ENTITY_PUT, SQ_KIND_PACKAGE, "_", "", "lib", "" },
    { GW_POST, BASE "/_/triggers/t", OP_FIRE, SQ_KIND_TRIGGER, "_", "", "t", "" },
    { GW_DELETE, BASE "/_/triggers/t", OP_ENTITY_DELETE, SQ_KIND_TRIGGER, "_", "", "t", "" },
    { GW_POST, BASE "/_/rules/r", OP_RULE_STATE, SQ_KIND_RULE, "_", "", "r", "" },
    { GW_GET, BASE "/_/activations", OP_ACT_LIST, NULL, "_", "", "", "" },
    { GW_GET, BASE "/_/activations/" ID, OP_ACT_GET, NULL, "_", "", "", ID },
    { GW_GET, BASE "/_/activations/" ID "/logs", OP_ACT_LOGS, NULL, "_", "", "", ID },
    { GW_GET, BASE "/_/activations/" ID "/result", OP_ACT_RESULT, NULL, "_", "", "", ID },
    /* names as OpenWhisk allows them: spaces, @, dots, dashes inside */
    { GW_GET, BASE "/user@example.com/actions/my action-1.0", OP_ENTITY_GET, SQ_KIND_ACTION,
      "user@example.com", "", "my action-1.0", "" },
};

/* One refused case: the status and a word the message must contain. */
static const struct bad_case {
    gw_method m;
    const char *path;
    int status;
    const char *says;
} bads[] = {
    /* nothing there */
    { GW_GET, "/", 404, "does not exist" },
    { GW_GET, "/api/v2/namespaces", 404, "does not exist" },
    { GW_GET, "/api/v1/things", 404, "does not exist" },
    { GW_GET, BASE "/_", 404, "does not exist" },
    { GW_GET, BASE "/_/widgets", 404, "does not exist" },
    { GW_GET, BASE "/_/limits/x", 404, "does not exist" },
    { GW_GET, BASE "/_/packages/a/b", 404, "does not exist" },
    { GW_GET, BASE "/_/triggers/a/b", 404, "does not exist" },
    { GW_GET, BASE "/_/actions/a/b/c", 404, "does not exist" },
    { GW_GET, BASE "/guest/lib/actions/pkg2/name", 404, "does not exist" },
    { GW_GET, BASE "/_/activations/not-an-id", 404, "does not exist" },
    { GW_GET, BASE "/_/activations/" ID "/other", 404, "does not exist" },
    { GW_GET, BASE "/_/activations/" ID "/logs/x", 404, "does not exist" },
    { GW_GET, "/a/b/c/d/e/f/g/h/i", 404, "does not exist" }, /* more segments than any route */
    /* a method the path does not take */
    { GW_POST, BASE, 405, "Method not allowed" },
    { GW_DELETE, BASE "/_/limits", 405, "Method not allowed" },
    { GW_POST, BASE "/_/actions", 405, "Method not allowed" },
    { GW_PUT, BASE "/_/activations", 405, "Method not allowed" },
    { GW_DELETE, BASE "/_/activations/" ID, 405, "Method not allowed" },
    { GW_PATCH, BASE "/_/actions/hello", 405, "Method not allowed" },
    { GW_OTHER, BASE "/_/rules/r", 405, "Method not allowed" },
    { GW_POST, BASE "/_/packages/lib", 405, "Method not allowed" }, /* a package is not run */
    /* names that are not valid */
    { GW_GET, BASE "/bad$ns/actions", 400, "namespace name" },
    { GW_GET, BASE "/ bad/actions", 400, "namespace name" },
    { GW_GET, BASE "/_/actions/bad$name", 400, "not a valid entity name" },
    { GW_PUT, BASE "/_/actions/lib/bad*name", 400, "not a valid entity name" },
    { GW_GET, BASE "/_/actions/bad$pkg/", 400, "not a valid entity name" },
    { GW_PATCH, BASE "/_/triggers/bad$name", 400, "not a valid entity name" }, /* 400 first */
};

int main(void)
{
    gw_req *r = calloc(1, sizeof *r);
    char err[1200], what[1400];

    SECTION("routed");
    for (size_t i = 0; i < sizeof oks / sizeof oks[0]; i++) {
        const struct ok_case *c = &oks[i];
        int st = route_of(r, c->m, c->path, err, sizeof err);
        snprintf(what, sizeof what, "%s (method %d)", c->path, (int)c->m);
        CHECK(st == 0, "%s: status %d (%s), want routed", what, st, err);
        CHECK_INT(r->op, c->op, what);
        CHECK(c->kind == NULL ? r->kind == NULL : r->kind && strcmp(r->kind, c->kind) == 0,
              "%s: kind %s, want %s", what, r->kind ? r->kind : "(null)",
              c->kind ? c->kind : "(null)");
        CHECK_STR(r->ns, c->ns, what);
        CHECK_STR(r->pkg, c->pkg, what);
        CHECK_STR(r->name, c->name, what);
        CHECK_STR(r->actid, c->actid, what);
    }

    SECTION("refused");
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const struct bad_case *c = &bads[i];
        int st = route_of(r, c->m, c->path, err, sizeof err);
        snprintf(what, sizeof what, "%s (method %d)", c->path, (int)c->m);
        CHECK_INT(st, c->status, what);
        CHECK(strstr(err, c->says) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err, c->says);
        CHECK_INT(r->op, OP_NONE, what);
    }

    SECTION("the message quotes the name");
    CHECK_INT(route_of(r, GW_GET, BASE "/_/actions/x$y", err, sizeof err), 400, "x$y");
    CHECK(strstr(err, "\"x$y\"") != NULL, "message \"%s\" quotes the name", err);

    SECTION("a path as long as the request allows");
    {
        char path[sizeof r->path];
        size_t n = (size_t)snprintf(path, sizeof path, "%s/_/actions/", BASE);
        memset(path + n, 'a', sizeof path - n - 1);
        path[sizeof path - 1] = '\0';
        /* too long for a name: refused, never truncated into another name */
        CHECK_INT(route_of(r, GW_GET, path, err, sizeof err), 400, "long name");
    }

    SECTION("every method of every entity row");
    {
        static const char *const colls[] = { "actions", "packages", "triggers", "rules" };
        for (size_t i = 0; i < 4; i++)
            for (int m = GW_GET; m <= GW_OTHER; m++) {
                char path[256];
                snprintf(path, sizeof path, "%s/_/%s/e", BASE, colls[i]);
                int st = route_of(r, (gw_method)m, path, err, sizeof err);
                bool allowed = m == GW_GET || m == GW_PUT || m == GW_DELETE ||
                               (m == GW_POST && strcmp(colls[i], "packages") != 0);
                snprintf(what, sizeof what, "%s (method %d)", path, m);
                CHECK_INT(st, allowed ? 0 : 405, what);
            }
    }
    free(r);
    return check_done();
}
