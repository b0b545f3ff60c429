/* Unit tests of the gateway's operation table (services/gateway/ops.c, compiled in, with
 * route.c) without a stack: every operation a route resolves to has an encoder and a reply;
 * each encoder's message decodes (proto/) to what the request asked (names, flags, query
 * arguments, body, the caller's key where it is passed on); bad bodies and arguments are
 * 400 and send nothing; each reply becomes the OpenWhisk status and JSON. What ops.c needs
 * of pending.c (the response setters, the revision notes) is replaced below. */
#include <stdarg.h>

#include "../../services/gateway/ops.c"
#include "../../services/gateway/route.c"

#include "check.h"

gw G;

/* ---- what ops.c needs of pending.c -------------------------------------------------------- */

void gw_respond(gw_req *r, int status, char *json, size_t len)
{
    free(r->resp);
    r->status = status;
    r->resp = json;
    r->resp_len = len;
    r->answered = true;
}

void gw_respond_error(gw_req *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gw_respond_json(r, status, json_pack("{s:s, s:s}", "error", msg, "code", "0"));
}

static char noted[512];
static int64_t noted_rev;

void gw_rev_note(const char *ns, const char *name, int64_t rev)
{
    snprintf(noted, sizeof noted, "%s/%s", ns, name);
    noted_rev = rev;
}

int64_t gw_rev_min(const char *ns, const char *name)
{
    (void)ns, (void)name;
    return 7;
}

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct {
    gw_req *r;
    msgpack_sbuffer sb, body;
    msgpack_packer pk;
    msgpack_zone z;
    gw_op_ctx c;
    const char *subject;
} enc_run;

/* Routes method+path with the query args (NULL-terminated "k=v") and the body, as the
 * caller guest (key "uuid:secret"), and runs the operation's encoder. */
static void encode(enc_run *e, gw_method m, const char *path, const char *const *args,
                   const char *body)
{
    char err[1200];
    gw_req *r = e->r = calloc(1, sizeof *r);

    r->method = m;
    snprintf(r->path, sizeof r->path, "%s", path);
    for (; args && *args; args++)
        r->args[r->nargs++] = strdup(*args);
    if (body) {
        r->body = strdup(body);
        r->body_len = strlen(body);
    }
    CHECK(gw_route_rest(r, err, sizeof err) == 0, "%s routes (%s)", path, err);
    if (strcmp(r->ns, "_") == 0)
        snprintf(r->ns, sizeof r->ns, "guest");
    r->ident.namespace_ = "guest";
    r->ident.subject = "guest-subject";
    r->count = gw_arg_true(r, "count");
    sq_proto_buf_init(&e->sb, &e->pk);
    msgpack_sbuffer_init(&e->body);
    msgpack_zone_init(&e->z, 2048);
    e->c = (gw_op_ctx){ .pk = &e->pk,
                        .z = &e->z,
                        .body = &e->body,
                        .key = "uuid:secret",
                        .timeout_ms = G.cfg.op_timeout_ms };
    CHECK(gw_op_of(r->op) != NULL, "%s: op %d has no definition", path, (int)r->op);
    e->subject = gw_op_of(r->op) ? gw_op_of(r->op)->encode(r, &e->c) : NULL;
}

/* encode(), and the operation sends its message to subject. */
static void encode_to(enc_run *e, const char *subject, gw_method m, const char *path,
                      const char *const *args, const char *body)
{
    encode(e, m, path, args, body);
    CHECK_STR(e->subject, subject, path);
}

/* Whether the message the encoder of e sent decodes (proto/) as type into m, in zone z. */
#define SENT(e, type, m, z, err)                                                                   \
    (type##_decode((e).sb.data, (e).sb.size, z, &(m), err, sizeof err) == SQ_OK)

static void enc_done(enc_run *e)
{
    msgpack_zone_destroy(&e->z);
    msgpack_sbuffer_destroy(&e->body);
    msgpack_sbuffer_destroy(&e->sb);
    for (int i = 0; i < e->r->nargs; i++)
        free(e->r->args[i]);
    free(e->r->body);
    free(e->r->resp);
    free(e->r);
}

/* A reply built from JSON (as the service would send it in msgpack) through the op's reply. */
static void reply(gw_req *r, const char *json)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;
    json_t *j = json_loads(json, 0, NULL);

    sq_proto_buf_init(&sb, &pk);
    msgpack_zone_init(&z, 1024);
    CHECK(j != NULL && sq_json_to_mp_max(j, &pk, 16) == SQ_OK &&
              sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK,
          "reply %s packs", json);
    free(r->resp);
    r->resp = NULL;
    r->resp_len = 0;
    r->answered = false;
    gw_op_of(r->op)->reply(r, &o);
    json_decref(j);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

/* r's response body equals the JSON want (compared as JSON). */
static void check_body(const gw_req *r, const char *want, const char *what)
{
    json_t *g = r->resp ? json_loadb(r->resp, r->resp_len, JSON_DECODE_ANY, NULL) : NULL;
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    CHECK(g && w && json_equal(g, w), "%s: body %.*s, want %s", what, (int)r->resp_len,
          r->resp ? r->resp : "", want);
    json_decref(g);
    json_decref(w);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_table(void)
{
    static const gw_op bus_ops[] = {
        OP_LIMITS, OP_ENTITY_LIST, OP_ENTITY_GET, OP_ENTITY_PUT, OP_ENTITY_DELETE, OP_RULE_STATE,
        OP_INVOKE, OP_FIRE,        OP_ACT_LIST,   OP_ACT_GET,    OP_ACT_LOGS,      OP_ACT_RESULT
    };
    SECTION("every operation of the bus has an encoder and a reply");
    for (size_t i = 0; i < sizeof bus_ops / sizeof bus_ops[0]; i++) {
        const gw_op_def *d = gw_op_of(bus_ops[i]);
        CHECK(d != NULL && d->encode != NULL && d->reply != NULL, "op %d", (int)bus_ops[i]);
    }
    /* and every row of the route table resolves to one of them */
    for (size_t i = 0; i < NROWS; i++)
        for (int m = 0; m <= GW_OTHER; m++)
            CHECK(rows[i].ops[m] == OP_NONE || gw_op_of(rows[i].ops[m]) != NULL,
                  "row %s/%d method %d: op %d has no definition", rows[i].collection, rows[i].names,
                  m, (int)rows[i].ops[m]);
    CHECK(gw_op_of(OP_NONE) == NULL, "OP_NONE has no definition");
    CHECK(gw_op_of(OP_NAMESPACES) == NULL, "OP_NAMESPACES is answered without the bus");
    CHECK(gw_op_of(OP_WEB) == NULL && gw_op_of(OP_PREFLIGHT) == NULL, "web and preflight");
    CHECK(gw_op_of((gw_op)1000) == NULL, "an op out of range");
    CHECK(gw_op_of(OP_INVOKE)->needs_key && gw_op_of(OP_FIRE)->needs_key &&
              !gw_op_of(OP_ENTITY_GET)->needs_key && !gw_op_of(OP_ENTITY_PUT)->needs_key,
          "only invoke and fire pass the caller's key on");
}

static void test_invoke(void)
{
    static const char *const args[] = { "blocking=true", "timeout=5000", "result=true", NULL };
    static const char *const long_wait[] = { "blocking=true", "timeout=99999999", NULL };
    char err[256];
    enc_run e;
    sq_invoke m;
    msgpack_zone z;

    SECTION("invoke");
    encode_to(&e, SQ_SUBJ_SCHED_INVOKE, GW_POST, "/api/v1/namespaces/_/actions/lib/hello", args,
              "{\"a\":1}");
    CHECK_INT(e.c.timeout_ms, 5000, "a blocking invoke's leg waits its timeout");
    CHECK(e.r->blocking && e.r->result_only, "blocking, result");
    CHECK(strlen(e.r->actid) == 32 && sq_id_valid(e.r->actid), "a new activation id");
    msgpack_zone_init(&z, 2048);
    CHECK(SENT(e, sq_invoke, m, &z, err), "decodes: %s", err);
    CHECK_STR(m.id, e.r->actid, "id");
    CHECK_STR(m.ns, "guest", "ns");
    CHECK_STR(m.name, "lib/hello", "name");
    CHECK_STR(m.subject, "guest-subject", "subject");
    CHECK_STR(m.caller_ns, "guest", "caller_ns");
    CHECK_STR(m.key, "uuid:secret", "the caller's key");
    CHECK(m.blocking && !m.shared, "blocking, not shared");
    CHECK_INT(m.wait_ms, 5000, "wait_ms");
    CHECK_INT(m.min_rev, 7, "min_rev from gw_rev_min");
    CHECK(m.params.type == MSGPACK_OBJECT_MAP && m.params.via.map.size == 1, "params {a:1}");
    msgpack_zone_destroy(&z);

    SECTION("invoke replies");
    reply(e.r, "{\"activationId\":\"x\"}");
    CHECK_INT(e.r->status, 202, "queued");
    {
        char want[128];
        snprintf(want, sizeof want, "{\"activationId\":\"%s\"}", e.r->actid);
        check_body(e.r, want, "queued");
    }
    reply(e.r,
          "{\"activationId\":\"0123456789abcdef0123456789abcdef\",\"namespace\":\"guest\",\"name\":"
          "\"a\",\"start\":1,\"end\":2,\"response\":{\"statusCode\":0,\"result\":{\"b\":2}}}");
    CHECK_INT(e.r->status, 200, "success");
    check_body(e.r, "{\"b\":2}", "result only");
    reply(e.r, "{\"activationId\":\"0123456789abcdef0123456789abcdef\",\"namespace\":\"guest\","
               "\"name\":\"a\",\"start\":1,\"end\":2,\"response\":{\"statusCode\":1,\"result\":{"
               "\"error\":\"e\"}}}");
    CHECK_INT(e.r->status, 502, "an application error");
    reply(e.r, "{\"activationId\":\"0123456789abcdef0123456789abcdef\",\"namespace\":\"guest\","
               "\"name\":\"a\",\"start\":1,\"end\":2,\"response\":{\"statusCode\":3,\"result\":{"
               "\"error\":\"e\"}}}");
    CHECK_INT(e.r->status, 500, "an internal error");
    e.r->result_only = false;
    reply(e.r,
          "{\"activationId\":\"0123456789abcdef0123456789abcdef\",\"namespace\":\"guest\",\"name\":"
          "\"a\",\"start\":1,\"end\":2,\"response\":{\"statusCode\":0,\"result\":{}}}");
    check_body(
        e.r,
        "{\"activationId\":\"0123456789abcdef0123456789abcdef\",\"namespace\":\"guest\",\"name\":"
        "\"a\",\"start\":1,\"end\":2,\"response\":{\"statusCode\":0,\"result\":{}}}",
        "the whole record");
    enc_done(&e);

    SECTION("invoke: the wait is capped, a non-blocking leg has the op timeout");
    G.cfg.blocking_wait_ms = 60000;
    encode(&e, GW_POST, "/api/v1/namespaces/_/actions/hello", long_wait, NULL);
    CHECK_INT(e.c.timeout_ms, 60000, "capped at blocking_wait_ms");
    enc_done(&e);
    encode(&e, GW_POST, "/api/v1/namespaces/_/actions/hello", NULL, NULL);
    CHECK_INT(e.c.timeout_ms, G.cfg.op_timeout_ms, "non-blocking");
    CHECK(!e.r->blocking, "not blocking");
    enc_done(&e);
}

static void test_bad_input(void)
{
    static const char *const bad_skip[] = { "skip=-1", NULL };
    static const char *const bad_limit[] = { "limit=12x", NULL };
    static const char *const bad_timeout[] = { "timeout=soon", NULL };
    static const struct {
        gw_method m;
        const char *path;
        const char *const *args;
        const char *body;
        const char *says;
    } cases[] = {
        { GW_POST, "/api/v1/namespaces/_/actions/a", NULL, "[1]", "expected a JSON object" },
        { GW_PUT, "/api/v1/namespaces/_/actions/a", NULL, "{\"a\":", "malformed" },
        { GW_POST, "/api/v1/namespaces/_/triggers/t", NULL, "\"x\"", "malformed" },
        { GW_POST, "/api/v1/namespaces/_/rules/r", NULL, "{", "malformed" },
        { GW_GET, "/api/v1/namespaces/_/actions", bad_skip, NULL, "'skip'" },
        { GW_GET, "/api/v1/namespaces/_/activations", bad_limit, NULL, "'limit'" },
        { GW_POST, "/api/v1/namespaces/_/actions/a", bad_timeout, NULL, "'timeout'" },
    };
    char deep[1200];
    size_t n = 0;

    SECTION("bad bodies and arguments: 400, nothing sent");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enc_run e;
        encode(&e, cases[i].m, cases[i].path, cases[i].args, cases[i].body);
        CHECK(e.subject == NULL, "%s: nothing is sent", cases[i].path);
        CHECK_INT(e.r->status, 400, cases[i].path);
        CHECK(e.r->resp && strstr(e.r->resp, cases[i].says), "%s: %s lacks %s", cases[i].path,
              e.r->resp ? e.r->resp : "(none)", cases[i].says);
        enc_done(&e);
    }
    /* a body deeper than the messages that carry it allow */
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"a\":");
    n += (size_t)snprintf(deep + n, sizeof deep - n, "1");
    for (int i = 0; i < 100 && n + 2 < sizeof deep; i++)
        deep[n++] = '}';
    deep[n] = '\0';
    {
        enc_run e;
        encode(&e, GW_PUT, "/api/v1/namespaces/_/actions/a", NULL, deep);
        CHECK(e.subject == NULL && e.r->status == 400, "a deep body: 400 (got %d)", e.r->status);
        enc_done(&e);
    }
}

static void test_others(void)
{
    static const char *const count[] = { "count=true", "skip=5", "limit=7", NULL };
    static const char *const nocode[] = { "code=false", NULL };
    static const char *const act_args[] = { "name=hello", "since=10", "upto=20", "docs=yes", NULL };
    char err[256];
    msgpack_zone z;
    enc_run e;
    sq_reg_list list;
    sq_reg_ref ref;
    sq_fire fire;
    sq_act_query query;

    msgpack_zone_init(&z, 2048);
    SECTION("list: a package's actions, count");
    encode_to(&e, SQ_SUBJ_REG_LIST, GW_GET, "/api/v1/namespaces/guest/lib/actions", count, NULL);
    CHECK(SENT(e, sq_reg_list, list, &z, err), "%s", err);
    CHECK_STR(list.ns, "guest/lib", "ns/pkg");
    CHECK_STR(list.kind, SQ_KIND_ACTION, "kind");
    CHECK(list.count && list.skip == 5 && list.limit == 7, "count, skip, limit");
    reply(e.r, "{\"count\":3}");
    CHECK_INT(e.r->status, 200, "count");
    check_body(e.r, "{\"actions\":3}", "a count is keyed by the collection");
    e.r->count = false;
    reply(e.r, "{\"items\":[{\"name\":\"a\"}]}");
    check_body(e.r, "[{\"name\":\"a\"}]", "the items");
    enc_done(&e);

    SECTION("get: code=false");
    encode_to(&e, SQ_SUBJ_REG_GET, GW_GET, "/api/v1/namespaces/_/actions/a", nocode, NULL);
    CHECK(SENT(e, sq_reg_ref, ref, &z, err), "%s", err);
    CHECK(!ref.code, "code=false");
    CHECK_STR(ref.name, "a", "name");
    enc_done(&e);
    encode_to(&e, SQ_SUBJ_REG_DELETE, GW_DELETE, "/api/v1/namespaces/_/actions/a", nocode, NULL);
    enc_done(&e);

    SECTION("put: an action's revision is noted");
    encode_to(&e, SQ_SUBJ_REG_PUT, GW_PUT, "/api/v1/namespaces/_/actions/a", NULL, "{\"exec\":{}}");
    reply(e.r, "{\"namespace\":\"guest\",\"name\":\"a\",\"version\":\"0.0.1\",\"exec\":{\"kind\":"
               "\"nodejs:20\"},\"rev\":42}");
    CHECK_STR(noted, "guest/a", "noted");
    CHECK_INT(noted_rev, 42, "rev");
    enc_done(&e);
    encode_to(&e, SQ_SUBJ_REG_RULE_STATE, GW_POST, "/api/v1/namespaces/_/rules/r", NULL,
              "{\"status\":\"active\"}");
    enc_done(&e);

    SECTION("fire");
    encode_to(&e, SQ_SUBJ_TRIGGER_FIRE, GW_POST, "/api/v1/namespaces/_/triggers/t", NULL, NULL);
    CHECK(SENT(e, sq_fire, fire, &z, err), "%s", err);
    CHECK_STR(fire.key, "uuid:secret", "the caller's key");
    CHECK_STR(fire.id, e.r->actid, "id");
    CHECK(fire.payload.type == MSGPACK_OBJECT_MAP && fire.payload.via.map.size == 0,
          "an empty body is {}");
    reply(e.r, "{\"activationId\":\"x\",\"rules\":0}");
    CHECK_INT(e.r->status, 204, "no active rule");
    CHECK(e.r->resp == NULL, "204 has no body");
    reply(e.r, "{\"activationId\":\"x\"}");
    CHECK_INT(e.r->status, 202, "fired");
    enc_done(&e);

    SECTION("activations");
    encode_to(&e, SQ_SUBJ_ACT_LIST, GW_GET, "/api/v1/namespaces/_/activations", act_args, NULL);
    CHECK(SENT(e, sq_act_query, query, &z, err), "%s", err);
    CHECK_STR(query.name, "hello", "name");
    CHECK(query.since == 10 && query.upto == 20 && query.docs && query.limit == 30,
          "since, upto, docs");
    enc_done(&e);
    encode_to(&e, SQ_SUBJ_ACT_LOGS, GW_GET,
              "/api/v1/namespaces/_/activations/0123456789abcdef0123456789abcdef/logs", NULL, NULL);
    reply(e.r, "{\"logs\":[\"a\",\"b\"]}");
    check_body(e.r, "{\"logs\":[\"a\",\"b\"]}", "logs");
    reply(e.r, "{}");
    check_body(e.r, "{\"logs\":[]}", "no logs");
    enc_done(&e);
    encode_to(&e, SQ_SUBJ_ACT_GET, GW_GET,
              "/api/v1/namespaces/_/activations/0123456789abcdef0123456789abcdef/result", NULL,
              NULL);
    reply(e.r,
          "{\"activationId\":\"0123456789abcdef0123456789abcdef\",\"namespace\":\"guest\",\"name\":"
          "\"a\",\"start\":1,\"end\":2,\"response\":{\"status\":\"success\",\"statusCode\":0,"
          "\"success\":true,\"result\":{\"x\":1}}}");
    check_body(e.r,
               "{\"status\":\"success\",\"statusCode\":0,\"success\":true,\"result\":{\"x\":1}}",
               "the response");
    reply(e.r, "{\"response\":{\"result\":{\"x\":1}}}");
    CHECK_INT(e.r->status, 502, "not a record: a malformed answer");
    enc_done(&e);
    encode_to(&e, SQ_SUBJ_AUTH_LIMITS, GW_GET, "/api/v1/namespaces/_/limits", NULL, NULL);
    enc_done(&e);
    msgpack_zone_destroy(&z);
}

int main(void)
{
    G.cfg.op_timeout_ms = 10000;
    G.cfg.blocking_wait_ms = 60000;
    test_table();
    test_invoke();
    test_bad_input();
    test_others();
    return check_done();
}
