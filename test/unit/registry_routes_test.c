/* Unit tests of the registry's checks of API routes (services/registry/routes.c, compiled
 * in) without a database or a bus: base paths and relative paths (segments, characters,
 * path parameters), verbs, response types, action names, the namespace rule, and what the
 * store says of the action (missing, not a web action, web-export not boolean true). The
 * store is replaced by a table of actions below; nothing else of the registry is linked. */
#include "../../services/registry/routes.c"

#include "check.h"
#include "sq/log.h"

/* ---- what routes.c needs of the rest of the registry -------------------------------------- */

/* The actions "the store" holds, with their web-export annotation. */
static struct {
    const char *pkg, *name;
    int web; /* 1: web-export true, 0: none, 2: web-export "true" (a string: not a web action) */
} ACTIONS[] = {
    { NULL, "web", 1 },
    { NULL, "plain", 0 },
    { "lib", "inpkg", 1 },
    { NULL, "strweb", 2 },
};

sq_status reg_store_get_action(reg_store_t *s, const char *ns, const char *pkg, const char *name,
                               bool code, bool shared, sq_arena_t *ar, sq_action *out, char *err,
                               size_t errlen)
{
    (void)s, (void)ns, (void)code, (void)shared, (void)err, (void)errlen;
    for (size_t i = 0; i < sizeof ACTIONS / sizeof ACTIONS[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_object o;
        if (strcmp(ACTIONS[i].name, name) != 0 || (ACTIONS[i].pkg == NULL) != (pkg == NULL) ||
            (pkg && strcmp(ACTIONS[i].pkg, pkg) != 0))
            continue;
        memset(out, 0, sizeof *out);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, ACTIONS[i].web ? 1 : 0);
        if (ACTIONS[i].web) {
            msgpack_pack_map(&pk, 2);
            sq_mp_kv_str(&pk, "key", "web-export");
            sq_mp_pack_str(&pk, "value");
            if (ACTIONS[i].web == 1)
                msgpack_pack_true(&pk);
            else
                sq_mp_pack_str(&pk, "true");
        }
        /* unpacked from a copy in the arena: the object lives as long as the request */
        {
            char *copy = msgpack_zone_malloc(ar, sb.size);
            sq_status st = copy ? SQ_OK : SQ_ERR_NOMEM;
            if (copy) {
                memcpy(copy, sb.data, sb.size);
                st = sq_mp_unpack(copy, sb.size, ar, &o);
            }
            msgpack_sbuffer_destroy(&sb);
            if (st != SQ_OK)
                return st;
        }
        out->annotations = o;
        return SQ_OK;
    }
    return SQ_ERR_NOT_FOUND;
}

sq_status reg_routes_put(reg_store_t *s, const sq_route_put *req, const sq_route *routes, size_t n,
                         sq_arena_t *ar, sq_route **items, size_t *nitems, char *err, size_t errlen)
{
    (void)s, (void)req, (void)routes, (void)n, (void)ar, (void)err, (void)errlen;
    *items = NULL;
    *nitems = 0;
    return SQ_ERR_DB;
}

sq_status reg_routes_get(reg_store_t *s, const sq_route_query *q, sq_arena_t *ar, sq_route **items,
                         size_t *n)
{
    (void)s, (void)q, (void)ar;
    *items = NULL;
    *n = 0;
    return SQ_ERR_DB;
}

sq_status reg_routes_delete(reg_store_t *s, const sq_route_query *q, int64_t *count)
{
    (void)s, (void)q;
    *count = 0;
    return SQ_ERR_DB;
}

void reg_publish_event(sq_bus_t *bus, const char *ns, const char *kind, const char *name,
                       const char *op, const char *version)
{
    (void)bus, (void)ns, (void)kind, (void)name, (void)op, (void)version;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_paths(void)
{
    static const struct {
        const char *path;
        bool params, root_ok, ok;
    } cases[] = {
        { "/", false, true, true },
        { "/", true, false, false },
        { "/club", false, true, true },
        { "/club/books", false, true, true },
        { "/a-b_c.d~e!$&'()*+,;=:@", false, true, true },
        { "club", false, true, false }, /* no leading slash */
        { "", true, true, false },
        { "/club/", false, true, false }, /* empty segment */
        { "//club", true, true, false },
        { "/a b", true, true, false },   /* a space */
        { "/a%20b", true, true, false }, /* '%': what lws hands over is decoded */
        { "/a?b", true, true, false },
        { "/a#b", true, true, false },
        { "/a\\b", true, true, false },
        { "/{id}", false, true, false }, /* base paths have no parameters */
        { "/books/{isbn}", true, true, true },
        { "/{a}/x/{b-2_c}", true, true, true },
        { "/{a}/{a}", true, true, false }, /* twice */
        { "/{}", true, true, false },
        { "/{a", true, true, false },
        { "/x{a}", true, true, false }, /* not a whole segment */
        { "/{a}x", true, true, false },
        { "/{a.b}", true, true, false },
        { "/{__ow_path}", true, true, false }, /* reserved */
    };
    char err[512];
    SECTION("paths");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        bool ok =
            path_ok(cases[i].path, cases[i].params, cases[i].root_ok, err, sizeof err, "path");
        CHECK(ok == cases[i].ok, "path_ok(\"%s\", params %d) = %d, want %d (%s)", cases[i].path,
              cases[i].params, ok, cases[i].ok, err);
        if (!ok)
            CHECK(err[0] != '\0', "path_ok(\"%s\") refused without a message", cases[i].path);
    }
    {
        char longp[PATH_MAX_LEN + 2];
        memset(longp, 'a', sizeof longp);
        longp[0] = '/';
        longp[sizeof longp - 1] = '\0';
        CHECK(!path_ok(longp, true, true, err, sizeof err, "path"), "a path over %d characters",
              PATH_MAX_LEN);
        longp[PATH_MAX_LEN] = '\0';
        CHECK(path_ok(longp, true, true, err, sizeof err, "path"), "a path of %d characters: %s",
              PATH_MAX_LEN, err);
    }
}

static sq_route R(const char *rel, const char *method, const char *ans, const char *pkg,
                  const char *name, const char *type)
{
    sq_route r = { .namespace_ = "",
                   .basepath = "",
                   .relpath = (char *)rel,
                   .method = (char *)method,
                   .api_name = "",
                   .action_ns = (char *)ans,
                   .action_pkg = (char *)pkg,
                   .action_name = (char *)name,
                   .response_type = (char *)type };
    return r;
}

static void test_route_check(void)
{
    msgpack_zone z;
    char err[512];
    struct {
        sq_route r;
        sq_status want;
        const char *msg;
    } v[] = {
        { R("/books/{isbn}", "get", "guest", "", "web", "http"), SQ_OK, NULL },
        { R("/", "options", "guest", "lib", "inpkg", "json"), SQ_OK, NULL },
        { R("/x", "fetch", "guest", "", "web", "json"), SQ_ERR_BAD_REQUEST,
          "not a valid API verb" },
        { R("/x", "GET", "guest", "", "web", "json"), SQ_ERR_BAD_REQUEST, "not a valid API verb" },
        { R("/x", "get", "guest", "", "web", "xml"), SQ_ERR_BAD_REQUEST, "response type" },
        { R("x", "get", "guest", "", "web", "json"), SQ_ERR_BAD_REQUEST, "must begin with '/'" },
        { R("/x", "get", "other", "", "web", "json"), SQ_ERR_FORBIDDEN, "own namespace" },
        { R("/x", "get", "guest", "", "nosuch", "json"), SQ_ERR_NOT_FOUND, "does not exist" },
        { R("/x", "get", "guest", "nopkg", "web", "json"), SQ_ERR_NOT_FOUND, "does not exist" },
        { R("/x", "get", "guest", "", "plain", "json"), SQ_ERR_BAD_REQUEST, "not a web action" },
        { R("/x", "get", "guest", "", "strweb", "json"), SQ_ERR_BAD_REQUEST, "not a web action" },
        { R("/x", "get", "guest", "", "a/b", "json"), SQ_ERR_BAD_REQUEST, "not valid" },
        { R("/x", "get", "guest", "", "", "json"), SQ_ERR_BAD_REQUEST, "not valid" },
        { R("/x", "get", "", "", "web", "json"), SQ_ERR_BAD_REQUEST, "not valid" },
    };
    SECTION("route_check");
    msgpack_zone_init(&z, 4096);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        err[0] = '\0';
        sq_status st = route_check(NULL, "guest", &v[i].r, &z, err, sizeof err);
        CHECK(st == v[i].want, "route %s %s -> /%s/%s/%s: %s, want %s (%s)", v[i].r.method,
              v[i].r.relpath, v[i].r.action_ns, v[i].r.action_pkg, v[i].r.action_name,
              sq_status_name(st), sq_status_name(v[i].want), err);
        if (v[i].msg)
            CHECK(strstr(err, v[i].msg) != NULL, "route %s %s: message \"%s\" lacks \"%s\"",
                  v[i].r.method, v[i].r.relpath, err, v[i].msg);
    }
    msgpack_zone_destroy(&z);
}

/* A failure that is the registry's own: a database out of reach is 503 (try again), not 500;
 * nothing else of the store's statuses leaks to the wire. */
static void test_wire_failure(void)
{
    CHECK(sq_status_http(reg_wire_failure(SQ_ERR_UNAVAILABLE)) == 503, "unavailable is not 503");
    CHECK(reg_wire_failure(SQ_ERR_NOMEM) == SQ_ERR_NOMEM, "out of memory is not itself");
    CHECK(reg_wire_failure(SQ_ERR_DB) == SQ_ERR_DB, "a database error is not SQ_ERR_DB");
    CHECK(reg_wire_failure(SQ_ERR_INTERNAL) == SQ_ERR_DB, "an internal error is not SQ_ERR_DB");
    CHECK(sq_status_http(reg_wire_failure(SQ_ERR_IO)) == 500, "an I/O error is not 500");
}

int main(void)
{
    sq_log_init("registry_routes_test");
    test_paths();
    test_route_check();
    test_wire_failure();
    return check_done();
}
