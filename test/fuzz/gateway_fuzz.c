/* Fuzzes the gateway's parsing of a request: the route (URL path -> operation, namespace,
 * entity name, activation id), the query arguments (flags and integers) and the
 * Authorization header, exactly as services/gateway/api.c and ops.c have them: this file
 * includes both, so the harness calls their static route(), arg(), arg_int() and
 * basic_key() without any change to the gateway. Nothing here touches the bus or lws.
 *
 * Input: a method byte (G, P, U, D for GET, POST, PUT, DELETE; anything else), then the request target "path?arg&arg..." (as lws hands them over:
 * the path and each argument url-decoded), then optionally "\n" and the Authorization
 * header. Properties: no crash or leak; a refused route is a 400/404/405 whose body is JSON
 * with an "error" string; an accepted route has a valid namespace and name; a key is only
 * taken from a well-formed Basic header. */
#include "services/gateway/api.c"
#include "services/gateway/ops.c" /* the query arguments' arg(), arg_int() */

#include "fuzz.h"

gw G;

static void check_answer(const gw_req *r)
{
    json_t *j;
    json_error_t je;

    FZ_CHECK(r->answered && r->resp != NULL);
    j = json_loadb(r->resp, r->resp_len, 0, &je);
    FZ_CHECK(j != NULL);
    FZ_CHECK(json_is_string(json_object_get(j, "error")));
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const flags[] = { "count",    "public", "force", "overwrite",
                                         "blocking", "result", "docs",  "code" };
    static const char *const ints[] = { "skip", "limit", "since", "upto", "timeout" };
    gw_req *r;
    const char *p, *end = (const char *)data + size, *nl, *q;
    char target[4096], *save = NULL, *tok;
    size_t n;

    if (size < 1)
        return 0;
    if ((r = calloc(1, sizeof *r)) == NULL)
        return 0;
    r->method = data[0] == 'G'   ? GW_GET
                : data[0] == 'P' ? GW_POST
                : data[0] == 'U' ? GW_PUT
                : data[0] == 'D' ? GW_DELETE
                                 : GW_OTHER;
    p = (const char *)data + 1;
    nl = memchr(p, '\n', (size_t)(end - p));
    n = (size_t)((nl ? nl : end) - p);
    if (n >= sizeof target)
        n = sizeof target - 1;
    memcpy(target, p, n);
    target[n] = '\0'; /* lws strings end at the first NUL */
    if (nl != NULL) {
        size_t an = (size_t)(end - nl - 1);
        if (an >= sizeof r->auth)
            an = sizeof r->auth - 1;
        memcpy(r->auth, nl + 1, an);
        r->auth[an] = '\0';
    }
    q = strchr(target, '?');
    if (q != NULL) {
        target[q - target] = '\0';
        for (tok = strtok_r(target + (q - target) + 1, "&", &save); tok && r->nargs < GW_MAX_ARGS;
             tok = strtok_r(NULL, "&", &save))
            if ((r->args[r->nargs] = strndup(tok, 2047)) != NULL)
                r->nargs++;
    }
    /* req_new() keeps the first sizeof r->path - 1 bytes of the path */
    n = strlen(target);
    if (n >= sizeof r->path)
        n = sizeof r->path - 1;
    memcpy(r->path, target, n);
    r->path[n] = '\0';

    if (!route(r)) {
        FZ_CHECK(r->status == 400 || r->status == 404 || r->status == 405);
        check_answer(r);
    } else {
        FZ_CHECK(!r->answered && r->op != OP_NONE);
        if (r->op != OP_NAMESPACES)
            FZ_CHECK(strcmp(r->ns, "_") == 0 || sq_name_valid(r->ns));
        if (r->op == OP_ENTITY_GET || r->op == OP_ENTITY_PUT || r->op == OP_ENTITY_DELETE ||
            r->op == OP_INVOKE || r->op == OP_FIRE || r->op == OP_RULE_STATE) {
            char name[sizeof r->name], *s2 = NULL;
            int parts = 0;
            snprintf(name, sizeof name, "%s", r->name);
            for (char *t = strtok_r(name, "/", &s2); t; t = strtok_r(NULL, "/", &s2), parts++)
                FZ_CHECK(sq_name_valid(t));
            FZ_CHECK(parts == 1 || (parts == 2 && strcmp(r->kind, SQ_KIND_ACTION) == 0));
        }
        if (r->op == OP_ACT_GET || r->op == OP_ACT_LOGS || r->op == OP_ACT_RESULT)
            FZ_CHECK(sq_id_valid(r->actid));
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
            (void)gw_arg_true(r, flags[i]);
        (void)arg(r, "name");
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
            int64_t v = -1;
            if (!arg_int(r, ints[i], &v)) {
                FZ_CHECK(r->status == 400);
                check_answer(r);
                break;
            }
            FZ_CHECK(v == -1 || v >= 0);
        }
    }
    {
        char key[256];
        if (basic_key(r, key, sizeof key)) {
            FZ_CHECK(strchr(key, ':') != NULL && strlen(key) < sizeof key);
        }
    }
    gw_req_free(r);
    return 0;
}
