/* Writes the seed corpora of the proto and mp harnesses: the messages the services send
 * each other, built with the real encoders from values a running stack uses (the guest
 * namespace, a node action, a sequence, a package action, an activation record...).
 * Run by hand after a wire change: fuzz_seeds <dir> writes <dir>/proto/<message>-<n> (the
 * harness's selector byte, then the message) and <dir>/mp/<message>-<n>. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/body.h"
#include "proto/proto.h"
#include "sq/json.h"
#include "../unit/mp_obj.h"

static const char *root;
static int written;

static void write_file(const char *dir, const char *name, int sel, const char *data, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", root, dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    if ((f = fopen(path, "wb")) == NULL) {
        fprintf(stderr, "could not write \"%s\": %s\n", path, strerror(errno));
        exit(1);
    }
    if (sel >= 0)
        fputc(sel, f);
    fwrite(data, 1, len, f);
    fclose(f);
    written++;
}

/* the proto harness's selector of each message (its index in proto_fuzz.c's messages[]) */
enum {
    S_VERIFY,
    S_IDENTITY,
    S_ACTION,
    S_REG_PUT,
    S_REG_REF,
    S_REG_LIST,
    S_ENTITY_EVENT,
    S_NS_REF,
    S_NS_LIMITS,
    S_ADMIN,
    S_INVOKE,
    S_WORK,
    S_HEARTBEAT,
    S_SCHED_BEAT,
    S_SCHED_MOVED,
    S_FIRE,
    S_ACTIVATION,
    S_ACT_QUERY,
    /* the registry's PUT bodies (proto/body.h) */
    S_ENTITY_BODY = 43,
    S_EXEC_BODY,
    S_LIMITS_BODY,
    S_BINDING_BODY,
    S_KV_ENTRY,
    /* the views services read through proto/, appended after sq_kv_entry (47) and after
     * the three entries messages[] holds twice (48-50): sq_limits is at 51 */
    S_LIMITS = 51,
    S_ALARM_CFG,
    S_NATS_CFG,
    S_ROUTE_LIST,
    S_HEALTH,
    S_CONDUCTOR_STEP,
    S_BRIEF,
    S_INVOKE_BATCH, /* 58 */
    S_INVOKE_OUTCOMES
};

static msgpack_zone Z;

/* a msgpack object from JSON text, in Z */
static msgpack_object obj(const char *json)
{
    return obj_json(&Z, json);
}

#define EMIT(sel, name, type, ...)                                                                 \
    do {                                                                                           \
        type m_ = __VA_ARGS__;                                                                     \
        msgpack_sbuffer sb_;                                                                       \
        msgpack_packer pk_;                                                                        \
        sq_proto_buf_init(&sb_, &pk_);                                                             \
        type##_encode(&m_, &pk_);                                                                  \
        write_file("proto", name, sel, sb_.data, sb_.size);                                        \
        write_file("mp", name, -1, sb_.data, sb_.size);                                            \
        msgpack_sbuffer_destroy(&sb_);                                                             \
    } while (0)

#define KEY                                                                                        \
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"                                                        \
    "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
#define ID1 "3f2b7a1c9d8e4f60a1b2c3d4e5f60718"
#define ID2 "c0ffee00c0ffee00c0ffee00c0ffee00"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds <corpus dir>\n");
        return 2;
    }
    root = argv[1];
    mkdir(root, 0755);
    msgpack_zone_init(&Z, 4096);

    sq_action hello = {
        .namespace_ = "guest",
        .name = "hello",
        .version = "0.0.1",
        .exec = { .kind = "nodejs:20",
                  .code = "function main(p) { return { payload: 'Hello, ' + p.name }; }",
                  .components = obj_nil() },
        .parameters = obj("[{\"key\":\"name\",\"value\":\"World\"}]"),
        .annotations = obj("[{\"key\":\"exec\",\"value\":\"nodejs:20\"},{\"key\":\"provide-api-"
                           "key\",\"value\":false}]"),
        .limits = SQ_LIMITS_DEFAULT,
        .publish = false,
        .updated = 1796544000123LL
    };
    sq_action seq = { .namespace_ = "guest",
                      .name = "pipeline",
                      .version = "0.0.3",
                      .exec = { .kind = "sequence",
                                .components = obj("[\"/guest/split\",\"/guest/utils/sort\"]") },
                      .parameters = obj_nil(),
                      .annotations = obj("[{\"key\":\"exec\",\"value\":\"sequence\"}]"),
                      .limits = SQ_LIMITS_DEFAULT,
                      .publish = true,
                      .updated = 1796544000999LL };
    sq_action native = { .namespace_ = "alice/utils",
                         .name = "sort",
                         .version = "1.2.0",
                         .exec = { .kind = "native",
                                   .code = "IyEvYmluL3NoCmVjaG8gJ3t9Jwo=",
                                   .main = "main",
                                   .binary = true,
                                   .components = obj_nil() },
                         .parameters = obj("[]"),
                         .annotations = obj("[]"),
                         .limits = { .timeout = 3000, .memory = 128, .logs = 5, .concurrency = 4 },
                         .updated = 0 };

    EMIT(S_VERIFY, "verify-0", sq_auth_verify, { .key = KEY });
    EMIT(S_VERIFY, "verify-1", sq_auth_verify, { .key = "not-a-key" });
    {
        char *nss[] = { "guest", "guest-team", NULL };
        EMIT(S_IDENTITY, "identity-0", sq_identity,
             { .subject = "guest",
               .namespace_ = "guest",
               .uuid = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502",
               .namespaces = nss,
               .nnamespaces = 2 });
        EMIT(S_IDENTITY, "identity-1", sq_identity,
             { .subject = "alice",
               .namespace_ = "alice",
               .uuid = "0a1b2c3d-0000-4000-8000-000000000001" });
    }
    EMIT(S_ACTION, "action-0", sq_action, hello);
    EMIT(S_ACTION, "action-1", sq_action, seq);
    EMIT(S_ACTION, "action-2", sq_action, native);
    EMIT(S_REG_PUT, "reg_put-0", sq_reg_put,
         { .ns = "guest",
           .name = "hello",
           .kind = SQ_KIND_ACTION,
           .subject = "guest",
           .overwrite = true,
           .entity = obj(
               "{\"exec\":{\"kind\":\"nodejs:default\",\"code\":\"function main(){return {}}\"},"
               "\"parameters\":[{\"key\":\"x\",\"value\":1}],\"limits\":{\"timeout\":1000}}") });
    EMIT(S_REG_PUT, "reg_put-1", sq_reg_put,
         { .ns = "guest",
           .name = "every-minute",
           .kind = SQ_KIND_RULE,
           .subject = "guest",
           .entity = obj("{\"trigger\":\"/guest/tick\",\"action\":\"/guest/hello\"}") });
    EMIT(S_REG_PUT, "reg_put-2", sq_reg_put,
         { .ns = "guest",
           .name = "every-minute",
           .kind = SQ_KIND_RULE,
           .subject = "guest",
           .entity = obj("{\"status\":\"inactive\"}") });
    EMIT(S_ENTITY_BODY, "entity_body-0", sq_entity_body,
         { .exec = obj("{\"kind\":\"nodejs:20\",\"code\":\"function main(){}\"}"),
           .parameters = obj("[{\"key\":\"x\",\"value\":1}]"),
           .limits = obj("{\"timeout\":1000}"),
           .publish = obj("true") });
    EMIT(S_ENTITY_BODY, "entity_body-1", sq_entity_body,
         { .binding = obj("{\"namespace\":\"alice\",\"name\":\"utils\"}"),
           .annotations = obj("[{\"key\":\"a\",\"value\":null}]") });
    EMIT(S_ENTITY_BODY, "entity_body-2", sq_entity_body,
         { .trigger = obj("\"/guest/tick\""),
           .action = obj("\"/guest/hello\""),
           .status = obj("\"active\"") });
    EMIT(S_EXEC_BODY, "exec_body-0", sq_exec_body,
         { .kind = obj("\"sequence\""), .components = obj("[\"/guest/a\",\"b\"]") });
    EMIT(S_EXEC_BODY, "exec_body-1", sq_exec_body,
         { .kind = obj("\"blackbox\""),
           .image = obj("\"openwhisk/dockerskeleton\""),
           .code = obj("\"UEsDBA==\""),
           .binary = obj("true"),
           .main = obj("\"main\"") });
    EMIT(S_LIMITS_BODY, "limits_body-0", sq_limits_body,
         { .timeout = obj("60000"),
           .memory = obj("256.0"),
           .logs = obj("10"),
           .concurrency = obj("1") });
    EMIT(S_BINDING_BODY, "binding_body-0", sq_binding_body,
         { .namespace_ = obj("\"_\""), .name = obj("\"utils\"") });
    EMIT(S_KV_ENTRY, "kv_entry-0", sq_kv_entry, { .key = "web-export", .value = obj("true") });
    EMIT(S_REG_REF, "reg_ref-0", sq_reg_ref,
         { .ns = "guest", .name = "hello", .kind = SQ_KIND_ACTION, .code = true });
    EMIT(S_REG_REF, "reg_ref-1", sq_reg_ref,
         { .ns = "alice", .name = "utils/sort", .kind = SQ_KIND_ACTION, .shared = true });
    EMIT(S_REG_REF, "reg_ref-2", sq_reg_ref,
         { .ns = "guest", .name = "utils", .kind = SQ_KIND_PACKAGE, .force = true });
    EMIT(S_REG_LIST, "reg_list-0", sq_reg_list,
         { .ns = "guest", .kind = SQ_KIND_ACTION, .skip = 0, .limit = 30 });
    EMIT(S_REG_LIST, "reg_list-1", sq_reg_list,
         { .ns = "guest", .kind = SQ_KIND_PACKAGE, .limit = 200, .count = true, .public_ = true });
    EMIT(S_ENTITY_EVENT, "entity_event-0", sq_entity_event,
         { .ns = "guest",
           .kind = SQ_KIND_ACTION,
           .name = "hello",
           .op = "put",
           .version = "0.0.2" });
    EMIT(S_ENTITY_EVENT, "entity_event-1", sq_entity_event,
         { .ns = "guest",
           .kind = SQ_KIND_TRIGGER,
           .name = "tick",
           .op = "delete",
           .version = "0.0.1" });
    EMIT(S_NS_REF, "ns_ref-0", sq_ns_ref, { .ns = "guest" });
    EMIT(S_NS_LIMITS, "ns_limits-0", sq_ns_limits, SQ_NS_LIMITS_DEFAULT);
    EMIT(S_NS_LIMITS, "ns_limits-1", sq_ns_limits,
         { .concurrent = 1000,
           .per_minute = 100000,
           .fires_per_minute = 600,
           .timeout_max = 600000,
           .memory_max = 2048 });
    EMIT(S_ADMIN, "admin-0", sq_admin,
         { .token = "0123456789abcdef0123456789abcdef",
           .op = "user.create",
           .subject = "alice",
           .namespace_ = "alice",
           .limits = obj_nil() });
    EMIT(S_ADMIN, "admin-1", sq_admin,
         { .token = "0123456789abcdef0123456789abcdef",
           .op = "limits.set",
           .namespace_ = "guest",
           .limits = obj("{\"invocationsPerMinute\":100000,\"concurrentInvocations\":500}") });
    EMIT(S_ADMIN, "admin-2", sq_admin, { .token = "x", .op = "user.list", .limits = obj_nil() });
    EMIT(S_INVOKE, "invoke-0", sq_invoke,
         { .id = ID1,
           .ns = "guest",
           .name = "hello",
           .subject = "guest",
           .key = KEY,
           .params = obj("{\"name\":\"Squall\"}"),
           .blocking = true,
           .wait_ms = 60000,
           .caller_ns = "guest" });
    EMIT(S_INVOKE, "invoke-1", sq_invoke,
         { .id = ID2,
           .ns = "alice",
           .name = "utils/sort",
           .subject = "guest",
           .key = KEY,
           .params = obj_nil(),
           .shared = true,
           .wait_ms = 0,
           .caller_ns = "guest",
           .cause = ID1 });
    EMIT(S_WORK, "work-0", sq_work,
         { .id = ID1,
           .subject = "guest",
           .key = KEY,
           .reply = "_INBOX.gw.abc.17",
           .blocking = true,
           .submitted = 1796544000123LL,
           .action = hello,
           .params = obj("{\"name\":\"Squall\"}") });
    EMIT(S_WORK, "work-1", sq_work,
         { .id = ID2,
           .subject = "guest",
           .reply = "",
           .submitted = 1796544000500LL,
           .action = native,
           .params = obj("{\"list\":[3,1,2],\"deep\":{\"a\":[{\"b\":null}]}}"),
           .cause = ID1,
           .caused_by = "sequence" });
    EMIT(S_HEARTBEAT, "heartbeat-0", sq_heartbeat,
         { .id = "invoker0",
           .total_mb = 2048,
           .free_mb = 1792,
           .warm = 2,
           .busy = 1,
           .healthy = true,
           .at = 1796544000123LL,
           .started = 1796543000000LL,
           .actions = obj("{\"guest/hello\":1,\"alice/utils/sort\":2}") });
    EMIT(S_HEARTBEAT, "heartbeat-1", sq_heartbeat,
         { .id = "invoker1",
           .total_mb = 512,
           .free_mb = 0,
           .healthy = false,
           .draining = true,
           .at = 1796544000123LL,
           .actions = obj_nil() });
    EMIT(S_SCHED_BEAT, "sched_beat-0", sq_sched_beat, { .id = "5e1d0c4b", .at = 1796544000123LL });
    EMIT(S_SCHED_MOVED, "sched_moved-0", sq_sched_moved,
         { .id = ID1, .invoker = "invoker1", .seq = 42 });
    EMIT(S_FIRE, "fire-0", sq_fire,
         { .id = ID2,
           .ns = "guest",
           .name = "tick",
           .subject = "guest",
           .key = KEY,
           .caller_ns = "guest",
           .payload = obj("{\"when\":\"2026-12-06T08:00:00Z\"}") });
    EMIT(S_FIRE, "fire-1", sq_fire,
         { .id = ID2, .ns = "guest", .name = "tick", .subject = "guest", .payload = obj_nil() });
    {
        char *logs[] = { "2026-12-06T08:00:00.123Z stdout: hello",
                         "2026-12-06T08:00:00.124Z stderr: warn", NULL };
        EMIT(S_ACTIVATION, "activation-0", sq_activation,
             { .id = ID1,
               .namespace_ = "guest",
               .name = "hello",
               .version = "0.0.1",
               .subject = "guest",
               .start = 1796544000123LL,
               .end = 1796544000150LL,
               .duration = 27,
               .status = SQ_ACT_SUCCESS,
               .result = obj("{\"payload\":\"Hello, Squall\"}"),
               .logs = logs,
               .nlogs = 2,
               .annotations = obj(
                   "[{\"key\":\"path\",\"value\":\"guest/"
                   "hello\"},{\"key\":\"kind\",\"value\":\"nodejs:20\"},"
                   "{\"key\":\"limits\",\"value\":{\"timeout\":60000,\"memory\":256}},"
                   "{\"key\":\"waitTime\",\"value\":3},{\"key\":\"initTime\",\"value\":41}]") });
        EMIT(S_ACTIVATION, "activation-1", sq_activation,
             { .id = ID2,
               .namespace_ = "guest",
               .name = "pipeline",
               .version = "0.0.3",
               .subject = "guest",
               .start = 1796544000123LL,
               .end = 1796544060123LL,
               .duration = 60000,
               .status = SQ_ACT_DEV_ERROR,
               .result = obj(
                   "{\"error\":\"The action exceeded its time limits of 60000 milliseconds.\"}"),
               .logs = logs + 2,
               .nlogs = 0,
               .annotations = obj_nil(),
               .publish = false });
    }
    EMIT(S_ACT_QUERY, "act_query-0", sq_act_query, { .ns = "guest", .id = ID1 });
    EMIT(S_ACT_QUERY, "act_query-1", sq_act_query,
         { .ns = "guest",
           .name = "hello",
           .skip = 10,
           .limit = 50,
           .since = 1796544000000LL,
           .upto = 1796547600000LL,
           .docs = true });
    EMIT(S_ACT_QUERY, "act_query-2", sq_act_query, { .ns = "guest", .count = true });
    EMIT(S_LIMITS, "limits-0", sq_limits, { .timeout = 60000, .memory = 256, .logs = 10 });
    EMIT(S_ALARM_CFG, "alarm_cfg-0", sq_alarm_cfg,
         { .when = { .type = "alarm", .cron = "*/5 * * * *" },
           .trigger_payload = obj("{\"a\":1}") });
    EMIT(S_ALARM_CFG, "alarm_cfg-1", sq_alarm_cfg,
         { .when = { .type = "interval", .minutes = 2, .start_date = 1796544000000LL },
           .paused = true });
    EMIT(S_NATS_CFG, "nats_cfg-0", sq_nats_cfg, { .subject = "ext.guest.orders" });
    {
        sq_route r[1] = { { .relpath = "/books/{isbn}",
                            .method = "get",
                            .action_ns = "guest",
                            .action_name = "getBooks",
                            .response_type = "http" } };
        EMIT(S_ROUTE_LIST, "route_list-0", sq_route_list, { .routes = r, .nroutes = 1 });
    }
    EMIT(
        S_HEALTH, "health-0", sq_health,
        { .ok = true, .service = "registry", .pid = 42, .checks = obj("{\"postgresql\":\"ok\"}") });
    EMIT(S_CONDUCTOR_STEP, "conductor_step-0", sq_conductor_step,
         { .action = obj("\"/guest/next\""), .params = obj("{\"x\":1}"), .state = obj_nil() });
    EMIT(S_BRIEF, "brief-0", sq_brief,
         { .name = "a", .version = "0.0.1", .annotations = obj_nil(), .parameters = obj_nil() });
    {
        sq_batch_rule r[] = { { .id = ID1, .ns = "guest", .name = "a" },
                              { .id = ID2, .ns = "other", .name = "pkg/b", .shared = true } };
        sq_invoke_outcome o[] = { { .id = ID1 }, { .code = 429, .error = "Too many requests." } };
        EMIT(S_INVOKE_BATCH, "invoke_batch-0", sq_invoke_batch,
             { .subject = "guest",
               .key = KEY,
               .caller_ns = "guest",
               .cause = ID2,
               .params = obj("{\"x\":1}"),
               .rules = r,
               .nrules = 2 });
        EMIT(S_INVOKE_OUTCOMES, "invoke_outcomes-0", sq_invoke_outcomes,
             { .rules = o, .nrules = 2 });
    }

    msgpack_zone_destroy(&Z);
    printf("wrote %d files under %s\n", written, root);
    return 0;
}
