/* Unit tests of the wire contract (proto/): every message round-trips through its
 * encode/decode pair; every truncated prefix of a valid encoding is rejected; a field of the
 * wrong type, a missing required field and a message that is not a map are rejected with
 * SQ_ERR_DECODE and a message naming the field; thousands of deterministic pseudo-random
 * and mutated buffers never crash a decoder (the test build runs under ASan/UBSan, and
 * every buffer is an exact-size heap copy, so a read past the end aborts); subject tokens
 * are escaped. */
#include "proto_test.h"
#include "sq/log.h"

CHECK_DEFINE_COUNTERS;

/* ---------------------------------------------------------------- values from JSON */

msgpack_zone g_zone;
msgpack_sbuffer g_bufs[256];
int g_nbufs;

/* A msgpack object for JSON text; lives until the end of the program. */
msgpack_object J(const char *json)
{
    return obj_json(&g_zone, json);
}

bool obj_eq(const msgpack_object *a, const msgpack_object *b)
{
    return msgpack_object_equal(*a, *b);
}

char *long_string(size_t n, char c)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(c + (i % 7 == 6 ? -c + '\n' : 0));
    s[n] = '\0';
    return s;
}

/* ---------------------------------------------------------------- samples */

/* Samples are filled in at start (they hold msgpack objects). */
sq_package s_package;
sq_trigger s_trigger;
sq_rule s_rule;
sq_trigger_event s_trigger_event;
sq_invoke_batch s_invoke_batch;
static const sq_batch_rule s_batch_rules[2] = {
    { .id = "00112233445566778899aabbccddeeff", .ns = "guest", .name = "a" },
    { .id = "ffeeddccbbaa99887766554433221100", .ns = "other", .name = "pkg/b", .shared = true },
};
static const sq_invoke_outcome s_outcome_v[2] = {
    { .id = "00112233445566778899aabbccddeeff", .code = 0 },
    { .code = 404, .error = "The requested resource does not exist." },
};
const sq_invoke_outcomes s_invoke_outcomes = { .rules = s_outcome_v, .nrules = 2 };
sq_auth_event s_auth_event;
sq_admin_key s_admin_key;
sq_admin_user s_admin_user;
sq_admin_deleted s_admin_deleted;
sq_admin_blocked s_admin_blocked;
sq_admin_subjects s_admin_subjects;
sq_trigger_view s_trigger_view;
sq_feed_note s_feed_note;
sq_feed_message s_feed_message;
sq_alarm_note s_alarm_note;
sq_kv s_kv;
sq_limits s_limits = { .timeout = 1000, .memory = 128, .logs = 1, .concurrency = 2 };
sq_alarm_cfg s_alarm_cfg;
sq_nats_cfg s_nats_cfg = { .subject = "ext.guest.orders", .paused = true };
sq_route_list s_route_list;
static sq_route s_routes[2];
sq_health s_health;
static char *s_failed[] = { "postgresql", NULL };
sq_conductor_step s_conductor_step;
sq_brief s_brief;
sq_trigger s_trigger_rules;
static const sq_trigger_rule s_trigger_rule_v[2] = {
    { .key = "guest/r1", .action = { "guest", "a" }, .status = "active" },
    { .key = "guest/r2", .action = { "guest/pkg", "b" }, .status = "inactive" },
};
static sq_rule_outcome s_outcomes[2] = {
    { .rule = "guest/r1",
      .action = "guest/a",
      .id = "00112233445566778899aabbccddeeff",
      .status_code = 0,
      .success = true },
    { .rule = "guest/r2", .action = "guest/pkg/b", .error = "no such action", .status_code = 1 },
};
static sq_admin_ns s_nss[2] = { { .name = "guest", .uuid = "4ed2c2a5-8bc2-4bd9-8d2b-1f1f9e3b1c55" },
                                { .name = "guest_dev", .uuid = NULL } };
static sq_view_rule s_view_rules[2] = {
    { "guest/r1", "guest", "a", "guest", "a" },
    { "guest/r2", "guest/pkg", "b", "other", "pkg/b" },
};
sq_act_ref s_act_ref;
sq_count s_count;
sq_act_error s_act_error;
sq_act_logs s_act_logs;
sq_act_record_logs s_act_record_logs;
sq_run_note s_run_note;
sq_auth_verify s_auth_verify;
sq_identity s_identity;
sq_action s_action;
sq_reg_put s_reg_put;
sq_reg_ref s_reg_ref;
sq_reg_list s_reg_list;
sq_entity_body s_entity_body;
sq_exec_body s_exec_body;
sq_limits_body s_limits_body;
sq_binding_body s_binding_body;
sq_kv_entry s_kv_entry;
sq_entity_event s_entity_event;
sq_route s_route;
sq_route_put s_route_put;
sq_route_query s_route_query;
sq_log_event s_log_event;
sq_invoke s_invoke;
sq_work s_work;
sq_heartbeat s_heartbeat;
sq_sched_beat s_sched_beat;
sq_sched_moved s_sched_moved;
sq_activation s_activation;
sq_act_query s_act_query;
sq_ns_ref s_ns_ref;
sq_ns_limits s_ns_limits;
sq_admin s_admin;
sq_fire s_fire;
sq_tenancy_event s_tenancy_event;
static char *s_namespaces[] = { "guest", "guest_dev", "team@example.com", NULL };
static char *s_logs[] = { "2026-11-23T10:00:00.123Z stdout: hello",
                          "2026-11-23T10:00:00.124Z stderr: w\xc3\xa4rning", NULL };

void make_samples(void)
{
    s_auth_verify.key = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
                        "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

    s_identity.subject = "guest";
    s_identity.namespace_ = "guest";
    s_identity.uuid = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502";
    s_identity.namespaces = s_namespaces;
    s_identity.nnamespaces = 3;

    s_action.namespace_ = "guest/pkg";
    s_action.name = "hello w\xc3\xb6rld";
    s_action.version = "0.0.12";
    s_action.exec.kind = "nodejs:20";
    s_action.exec.code = "function main(a){return {greeting:'hello '+(a.name||'world')}}";
    s_action.exec.main = "main";
    s_action.exec.binary = false;
    s_action.exec.components = J("[\"/guest/a\",\"/guest/pkg/b\"]");
    s_action.parameters = J("[{\"key\":\"name\",\"value\":\"Ann\"},{\"key\":\"n\",\"value\":{"
                            "\"deep\":[1,2.5,null,true]}}]");
    s_action.annotations = J("[{\"key\":\"exec\",\"value\":\"nodejs:20\"}]");
    s_action.limits = (sq_limits){ .timeout = 200, .memory = 128, .logs = 5, .concurrency = 1 };
    s_action.publish = true;
    s_action.updated = 1795430400123LL;
    s_action.rev = 4711;

    s_reg_put.ns = "guest";
    s_reg_put.name = "hello";
    s_reg_put.kind = "action";
    s_reg_put.subject = "guest";
    s_reg_put.overwrite = true;
    s_reg_put.entity =
        J("{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"x\"},\"limits\":{\"timeout\":1000}}");

    s_reg_ref.ns = "guest";
    s_reg_ref.name = "hello";
    s_reg_ref.kind = "action";
    s_reg_ref.code = false;
    s_reg_ref.force = true;
    s_reg_ref.shared = true;

    s_reg_list.ns = "guest";
    s_reg_list.kind = "action";
    s_reg_list.skip = 5;
    s_reg_list.limit = 200;
    s_reg_list.count = true;
    s_reg_list.public_ = true;
    s_reg_list.shared = false;

    s_entity_event.ns = "guest";
    s_entity_event.kind = "action";
    s_entity_event.name = "hello";
    s_entity_event.op = "put";
    s_entity_event.version = "0.0.2";
    s_log_event.id = "0123456789abcdef0123456789abcdef";
    s_log_event.ns = "guest";
    s_log_event.name = "pkg/hello";
    s_log_event.line = "2026-12-06T08:00:00.123456789Z stdout: hi";

    s_invoke.id = "0123456789abcdef0123456789abcdef";
    s_invoke.ns = "guest";
    s_invoke.name = "pkg/hello";
    s_invoke.subject = "guest";
    s_invoke.key = "uuid:secret";
    s_invoke.params = J("{\"name\":\"\\u00e9\",\"n\":-7,\"list\":[1,{\"a\":null}]}");
    s_invoke.blocking = true;
    s_invoke.wait_ms = 1234;
    s_invoke.shared = true;
    s_invoke.caller_ns = "guest";
    s_invoke.cause = "00112233445566778899aabbccddeeff";
    s_invoke.min_rev = 42;

    s_work.id = "fedcba9876543210fedcba9876543210";
    s_work.subject = "guest";
    s_work.key = "uuid:secret";
    s_work.reply = "_INBOX.abc.def";
    s_work.blocking = true;
    s_work.submitted = 1795430400999LL;
    s_work.action = s_action;
    s_work.params = J("{\"name\":\"Ann\"}");
    s_work.cause = "00112233445566778899aabbccddeeff";
    s_work.caused_by = "trigger";
    s_work.ns = "caller@example.com";
    s_work.binding = "caller@example.com/bound";

    s_heartbeat.id = "invoker0";
    s_heartbeat.total_mb = 2048;
    s_heartbeat.free_mb = 1792;
    s_heartbeat.warm = 3;
    s_heartbeat.busy = 1;
    s_heartbeat.healthy = true;
    s_heartbeat.draining = true;
    s_heartbeat.at = 1795430400000LL;
    s_heartbeat.started = 1795430300000LL;

    s_sched_beat.id = "0123456789abcdef0123456789abcdef";
    s_sched_beat.at = 1795430400001LL;

    s_sched_moved.id = "fedcba9876543210fedcba9876543210";
    s_sched_moved.invoker = "invoker1";
    s_sched_moved.seq = 123456789;

    s_activation.id = "0123456789abcdef0123456789abcdef";
    s_activation.namespace_ = "guest";
    s_activation.name = "hello";
    s_activation.version = "0.0.1";
    s_activation.subject = "guest";
    s_activation.start = 1795430400000LL;
    s_activation.end = 1795430400042LL;
    s_activation.duration = 42;
    s_activation.status = SQ_ACT_APP_ERROR;
    s_activation.result = J("{\"error\":\"x\",\"detail\":[1,2]}");
    s_activation.logs = s_logs;
    s_activation.nlogs = 2;
    s_activation.annotations =
        J("[{\"key\":\"path\",\"value\":\"guest/hello\"},{\"key\":\"waitTime\",\"value\":3},"
          "{\"key\":\"limits\",\"value\":{\"timeout\":60000,\"memory\":256,\"logs\":10}},"
          "{\"key\":\"causedBy\",\"value\":\"sequence\"},"
          "{\"key\":\"cause\",\"value\":\"00112233445566778899aabbccddeeff\"}]");
    s_activation.publish = false;

    s_act_query.ns = "guest";
    s_act_query.id = "0123456789abcdef0123456789abcdef";
    s_act_query.name = "hello";
    s_act_query.skip = 1;
    s_act_query.limit = 10;
    s_act_query.since = 1795430400000LL;
    s_act_query.upto = 1795430500000LL;
    s_act_query.docs = true;
    s_act_query.count = false;

    s_ns_ref.ns = "team@example.com";
    s_ns_limits = (sq_ns_limits){ .concurrent = 7,
                                  .per_minute = 300,
                                  .fires_per_minute = 9,
                                  .timeout_max = 120000,
                                  .memory_max = 256,
                                  .blocked = true };
    s_tenancy_event = (sq_tenancy_event){
        .op = "delete", .subject = "alice", .namespace_ = "alice.team", .at = 1795430400000LL
    };
    s_admin.token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    s_admin.op = "limits.set";
    s_admin.subject = "alice";
    s_admin.namespace_ = "alice";
    s_admin.limits = J("{\"invocationsPerMinute\":300}");
    s_fire.id = "00112233445566778899aabbccddeeff";
    s_fire.ns = "guest";
    s_fire.name = "tick";
    s_fire.subject = "guest";
    s_fire.key = "uuid:secret";
    s_fire.caller_ns = "guest";
    s_fire.payload = J("{\"t\":1,\"s\":[\"a\"]}");
    s_route.namespace_ = "guest";
    s_route.basepath = "/club";
    s_route.relpath = "/books/{isbn}";
    s_route.method = "get";
    s_route.api_name = "Book Club";
    s_route.action_ns = "guest";
    s_route.action_pkg = "lib";
    s_route.action_name = "getBooks";
    s_route.response_type = "http";
    s_route.updated = 1700000000123;
    s_route_put.ns = "guest";
    s_route_put.basepath = "/club";
    s_route_put.api_name = "Book Club";
    s_route_put.replace = true;
    s_route_put.routes = J("[{\"relpath\":\"/books\",\"method\":\"post\",\"action_ns\":\"guest\","
                           "\"action_name\":\"postBooks\",\"response_type\":\"json\"}]");
    s_route_query.ns = "guest";
    s_route_query.basepath = "/club";
    s_route_query.relpath = "/books";
    s_route_query.method = "delete";

    s_act_ref.id = "00112233445566778899aabbccddeeff";
    s_act_ref.rules = 0;
    s_count.count = 1234567890123LL;
    s_act_error.error = "The action did not produce a valid response.";
    s_act_logs.logs = J("[\"2026-11-23T10:00:00.123Z stdout: hello\",\"x\"]");
    s_act_record_logs.logs = s_act_logs.logs;
    s_run_note.owner = "sched-1";
    s_run_note.start = 1764000000000LL;
    s_run_note.ns = "guest";
    s_run_note.name = "seq";
    s_run_note.version = "0.0.2";
    s_run_note.subject = "guest@example.com";
    s_run_note.path = "guest/pkg/seq";
    s_run_note.limits = (sq_limits){ .timeout = 5000, .memory = 384, .logs = 5, .concurrency = 3 };
    s_run_note.cause = "00112233445566778899aabbccddeeff";
    s_run_note.caused_by = "trigger";
    s_run_note.binding = "other/b";

    s_package.namespace_ = "guest";
    s_package.name = "pkg";
    s_package.version = "0.0.3";
    s_package.publish = true;
    s_package.parameters = J("[{\"key\":\"p\",\"value\":1}]");
    s_package.annotations = J("[{\"key\":\"description\",\"value\":\"d\"}]");
    s_package.binding.namespace_ = "other";
    s_package.binding.name = "shared";
    s_package.updated = 1764000000001LL;
    s_trigger.namespace_ = "guest";
    s_trigger.name = "t";
    s_trigger.version = "0.0.1";
    s_trigger.parameters = J("[{\"key\":\"p\",\"value\":\"v\"}]");
    s_trigger.annotations = J("[{\"key\":\"feed\",\"value\":\"/whisk.system/alarms\"}]");
    s_trigger.updated = 7;
    s_rule.namespace_ = "guest";
    s_rule.name = "r";
    s_rule.version = "0.0.2";
    s_rule.annotations = J("[]");
    s_rule.status = "active";
    s_rule.trigger = (sq_path_name){ .path = "guest", .name = "t" };
    s_rule.action = (sq_path_name){ .path = "guest/pkg", .name = "a" };
    s_rule.updated = 9;
    s_trigger_event.ns = "guest";
    s_trigger_event.name = "t";
    s_trigger_event.id = "ffeeddccbbaa99887766554433221100";
    s_trigger_event.payload = J("{\"x\":1}");
    s_trigger_event.at = 1764000000002LL;
    s_trigger_event.rules = s_outcomes;
    s_trigger_event.nrules = 2;
    s_invoke_batch.subject = "guest";
    s_invoke_batch.key = "k";
    s_invoke_batch.caller_ns = "guest";
    s_invoke_batch.cause = "c0ffee00c0ffee00c0ffee00c0ffee00";
    s_invoke_batch.params = J("{\"x\":1}");
    s_invoke_batch.rules = s_batch_rules;
    s_invoke_batch.nrules = 2;
    s_auth_event.op = "block";
    s_auth_event.subject = "guest@example.com";
    s_auth_event.namespace_ = "guest";
    s_auth_event.has_blocked = true;
    s_auth_event.blocked = false;
    s_admin_key.subject = "guest@example.com";
    s_admin_key.namespace_ = "guest";
    s_admin_key.key = "4ed2c2a5-8bc2-4bd9-8d2b-1f1f9e3b1c55:sekret";
    s_admin_user.subject = "guest@example.com";
    s_admin_user.blocked = true;
    s_admin_user.nss = s_nss;
    s_admin_user.nnss = 2;
    s_admin_deleted.subject = "guest@example.com";
    s_admin_deleted.deleted = true;
    s_admin_deleted.namespaces = s_namespaces;
    s_admin_deleted.nnamespaces = 3;
    s_admin_blocked.subject = "guest@example.com";
    s_admin_blocked.blocked = true;
    s_admin_subjects.subjects = s_namespaces;
    s_admin_subjects.nsubjects = 3;
    s_trigger_view.ns = "guest";
    s_trigger_view.name = "t";
    s_trigger_view.version = "0.0.1";
    s_trigger_view.parameters = J("[{\"key\":\"p\",\"value\":\"v\"}]");
    s_trigger_view.annotations = J("[]");
    s_trigger_view.rules = s_view_rules;
    s_trigger_view.nrules = 2;
    s_feed_note.ns = "guest";
    s_feed_note.name = "t";
    s_feed_note.subject = "ext.guest.orders";
    s_feed_message.message = J("\"not json \\u0000 at all\"");
    s_alarm_note.ns = "guest";
    s_alarm_note.name = "t";
    s_alarm_note.when = (sq_alarm_when){ .type = "cron",
                                         .cron = "*/5 * * * *",
                                         .minutes = 0,
                                         .date = 1,
                                         .start_date = 2,
                                         .stop_date = 3,
                                         .created = 4 };
    s_alarm_note.payload = J("{\"a\":[1,2]}");
    s_kv.key = "description";
    s_kv.value = J("{\"nested\":[true,null]}");
    s_entity_body.version = J("\"0.0.1\"");
    s_entity_body.publish = J("true");
    s_entity_body.parameters = J("[{\"key\":\"a\",\"value\":1}]");
    s_entity_body.annotations = J("[{\"key\":\"b\",\"value\":null}]");
    s_entity_body.exec = J("{\"kind\":\"nodejs:20\",\"code\":\"x\"}");
    s_entity_body.del_annotations = J("[\"c\"]");
    s_entity_body.limits = J("{\"timeout\":1000}");
    s_entity_body.binding = J("{\"namespace\":\"guest\",\"name\":\"p\"}");
    s_entity_body.status = J("\"active\"");
    s_entity_body.trigger = J("\"/guest/t\"");
    s_entity_body.action = J("\"/guest/a\"");
    s_exec_body.kind = J("\"sequence\"");
    s_exec_body.code = J("\"x\"");
    s_exec_body.image = J("\"img\"");
    s_exec_body.main = J("\"main\"");
    s_exec_body.binary = J("false");
    s_exec_body.components = J("[\"/guest/a\"]");
    s_limits_body.timeout = J("60000");
    s_limits_body.memory = J("256.0");
    s_limits_body.logs = J("\"10\"");
    s_limits_body.concurrency = J("1");
    s_binding_body.namespace_ = J("\"guest\"");
    s_binding_body.name = J("7");
    s_kv_entry.key = "k";
    s_kv_entry.value = J("null");
    s_kv.init = true;
    s_alarm_cfg = (sq_alarm_cfg){ .when = { .type = "interval",
                                            .cron = "0 * * * *",
                                            .minutes = 5,
                                            .date = 1700000000000,
                                            .start_date = 1700000000001,
                                            .stop_date = 1800000000000,
                                            .created = 1700000000002 },
                                  .paused = true };
    s_alarm_cfg.trigger_payload = J("{\"a\":1}");
    s_routes[0] = s_route;
    s_routes[1] = s_route;
    s_routes[1].method = "post";
    s_routes[1].action_pkg = "";
    s_route_list.routes = s_routes;
    s_route_list.nroutes = 2;
    s_health = (sq_health){ .ok = false,
                            .service = "registry",
                            .pid = 4242,
                            .instance = "host-4242",
                            .host = "host",
                            .started = 1700000000000,
                            .failed = s_failed,
                            .nfailed = 1 };
    s_health.checks = J("{\"postgresql\":\"connection refused\",\"jetstream\":\"ok\"}");
    s_conductor_step.action = J("\"/guest/next\"");
    s_conductor_step.params = J("{\"x\":1}");
    s_conductor_step.state = J("[1,\"two\"]");
    s_brief = (sq_brief){ .name = "a", .version = "0.0.2", .publish = true };
    s_brief.annotations = J("[{\"key\":\"web-export\",\"value\":true}]");
    s_brief.parameters = J("[{\"key\":\"p\",\"value\":1}]");
    s_trigger_rules = s_trigger;
    s_trigger_rules.with_rules = true;
    s_trigger_rules.rules = s_trigger_rule_v;
    s_trigger_rules.nrules = 2;
}

char what_buf[256];

/* ---------------------------------------------------------------- encode / decode helpers */

void encode(const msgdesc *d, const void *m, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    d->enc(m, &pk);
}

/* Decodes an exact heap copy of buf; the copy (referenced by the output) goes to *keep for
 * the caller to free after using out. */
sq_status decode(const msgdesc *d, const char *buf, size_t len, msgpack_zone *z, void *out,
                 char *err, size_t errlen, char **keep)
{
    char *c = check_dup_exact_(buf, len);
    sq_status st;
    if (err && errlen)
        err[0] = '\0';
    st = d->dec(c, len, z, out, err, errlen);
    if (keep)
        *keep = c;
    else
        free(c);
    return st;
}

/* decode() into a zone that is gone on return: for the status and the message only. */
sq_status decode_status(const msgdesc *d, const char *buf, size_t len, void *out, char *err,
                        size_t errlen)
{
    msgpack_zone z;
    sq_status st;
    msgpack_zone_init(&z, 4096);
    st = decode(d, buf, len, &z, out, err, errlen, NULL);
    msgpack_zone_destroy(&z);
    return st;
}

/* Round trip m through d: encode, decode, compare. */
void roundtrip(const msgdesc *d, const void *m, const char *label)
{
    msgpack_sbuffer sb;
    msgpack_zone z;
    char err[256];
    char *keep = NULL;
    void *out = calloc(1, d->size);
    sq_status st;

    encode(d, m, &sb);
    msgpack_zone_init(&z, 4096);
    CHECK(sq_mp_check(sb.data, sb.size) == SQ_OK, "%s (%s): the encoder wrote malformed msgpack",
          d->name, label);
    st = decode(d, sb.data, sb.size, &z, out, err, sizeof err, &keep);
    CHECK(st == SQ_OK, "%s (%s): decoding its own encoding gave %s: %s", d->name, label,
          sq_status_name(st), err);
    if (st == SQ_OK)
        d->cmp(m, out, WHAT("%s (%s) round trip", d->name, label));
    free(keep);
    free(out);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    sq_log_init("proto_test");
    test_act_annots();
    msgpack_zone_init(&g_zone, 65536);
    make_samples();
    test_roundtrips();
    test_semantic();
    test_truncation();
    test_mutations();
    test_garbage();
    test_subj_token();
    test_record_causes();
    test_activation_event();
    test_record_logs();
    test_documents();
    test_views();
    msgpack_zone_destroy(&g_zone);
    for (int i = 0; i < g_nbufs; i++)
        msgpack_sbuffer_destroy(&g_bufs[i]);
    return check_done();
}
