/* proto_test's message-specific tests: subject tokens, the records' annotations and causes,
 * the activation event, a record's logs, the documents' optional parts and the views services
 * read through proto/. */
#include "proto_test.h"
#include "proto/subjects.h"

/* ---------------------------------------------------------------- subject tokens */

void test_subj_token(void)
{
    SECTION("sq_subj_token");
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "guest", "guest" },
        { "Guest_01-x", "Guest_01-x" },
        { "a.b", "a%2Eb" },
        { "a b@c", "a%20b%40c" },
        { "*", "%2A" },
        { ">", "%3E" },
        { "a%b", "a%25b" },
        { "\xc3\xa9", "%C3%A9" },
        { "whisk.system", "whisk%2Esystem" },
        { "john@example.com", "john%40example%2Ecom" },
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(out, 'Z', sizeof out);
        int rc = sq_subj_token(cases[i].in, out, sizeof out);
        CHECK(rc == 0, "sq_subj_token(\"%s\") returned %d", cases[i].in, rc);
        if (rc == 0)
            CHECK_STR(out, cases[i].out, cases[i].in);
    }
    CHECK(sq_subj_token("", out, sizeof out) == -1, "an empty token accepted");

    /* every single byte: kept when [A-Za-z0-9_-], else %XX in upper-case hex */
    int bad = 0;
    for (int c = 1; c < 256; c++) {
        char in[2] = { (char)c, 0 }, want[4];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
        if (keep)
            snprintf(want, sizeof want, "%c", c);
        else
            snprintf(want, sizeof want, "%%%02X", c);
        if ((sq_subj_token(in, out, sizeof out) != 0 || strcmp(out, want) != 0) && bad++ < 5)
            CHECK(0, "byte 0x%02x became \"%s\", want \"%s\"", c, out, want);
        if (strpbrk(out, ". *>\t\r\n") != NULL && bad++ < 5)
            CHECK(0, "byte 0x%02x left a subject metacharacter in \"%s\"", c, out);
    }
    CHECK(bad == 0, "%d bytes escaped wrongly", bad);

    /* space: exact fit, one short, and nothing written past outlen */
    {
        static const struct {
            const char *in;
            size_t outlen;
            const char *want; /* NULL: refused (-1) */
        } fits[] = {
            { "abc", 4, "abc" }, { "abc", 3, NULL }, { "a.", 5, "a%2E" },
            { "a.", 4, NULL },   { "a", 0, NULL },
        };
        char small[16];
        for (size_t k = 0; k < sizeof fits / sizeof fits[0]; k++) {
            int rc;
            memset(small, 'Z', sizeof small);
            rc = sq_subj_token(fits[k].in, small, fits[k].outlen);
            if (fits[k].want)
                CHECK(rc == 0 && strcmp(small, fits[k].want) == 0, "\"%s\" into %zu bytes",
                      fits[k].in, fits[k].outlen);
            else
                CHECK(rc == -1, "\"%s\" into %zu bytes accepted", fits[k].in, fits[k].outlen);
            CHECK(small[fits[k].outlen] == 'Z', "\"%s\" into %zu bytes: written past outlen",
                  fits[k].in, fits[k].outlen);
        }
    }
    /* distinct names give distinct tokens (the escaping is injective) */
    {
        char t1[64], t2[64];
        sq_subj_token("a.b", t1, sizeof t1);
        sq_subj_token("a%2Eb", t2, sizeof t2);
        CHECK(strcmp(t1, t2) != 0, "\"a.b\" and \"a%%2Eb\" share the token %s", t1);
    }
    /* the formats build the subjects the design names */
    {
        char tok[64], subj[128];
        sq_subj_token("guest", tok, sizeof tok);
        snprintf(subj, sizeof subj, SQ_SUBJ_ACT_FMT, tok);
        CHECK_STR(subj, "sq.act.guest", "SQ_SUBJ_ACT_FMT");
        snprintf(subj, sizeof subj, SQ_SUBJ_WORK_FMT, "invoker0");
        CHECK_STR(subj, "sq.work.invoker0", "SQ_SUBJ_WORK_FMT");
        snprintf(subj, sizeof subj, SQ_SUBJ_HEALTH_FMT, "registry");
        CHECK_STR(subj, "sq.registry.health", "SQ_SUBJ_HEALTH_FMT");
        CHECK_STR(SQ_SUBJ_AUTH_VERIFY, "sq.auth.verify", "SQ_SUBJ_AUTH_VERIFY");
        CHECK_STR(SQ_SUBJ_SCHED_INVOKE, "sq.sched.invoke", "SQ_SUBJ_SCHED_INVOKE");
    }
}

/* ---------------------------------------------------------------- records and documents */

/* The record's annotations: every combination of what may be absent packs an array whose
 * length is the number of {key, value} maps in it, in OpenWhisk's shapes. */
void test_act_annots(void)
{
    static const sq_limits lim = { .timeout = 1000, .memory = 256, .logs = 10, .concurrency = 1 };
    for (unsigned mask = 0; mask < (1u << 10); mask++) {
        sq_act_annots a = SQ_ACT_ANNOTS_INIT;
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_zone z;
        msgpack_object o;
        size_t want = 2, off = 0;
        a.path = "guest/pkg/a";
        a.kind = "nodejs:20";
        if (mask & 1) {
            a.composition = true;
            a.topmost = mask & 2;
            want++;
        }
        if (mask & 4) {
            a.conductor = true;
            want++;
        }
        if (mask & 8) {
            a.limits = &lim;
            want++;
        }
        if (mask & 16) {
            a.binding = "other/b";
            want++;
        }
        if (mask & 32) {
            a.wait_time = 3;
            want++;
        }
        if (mask & 64) {
            a.init_time = 0;
            want++;
        }
        if (mask & 128) {
            a.timeout = true;
            want++;
        }
        if (mask & 256) {
            a.caused_by = "trigger";
            a.cause = "0123456789abcdef0123456789abcdef";
            want += 2;
        }
        if (mask & 512) {
            a.invoker = "inv-1";
            want++;
        }
        sq_proto_buf_init(&sb, &pk);
        sq_act_annots_encode(&a, &pk);
        msgpack_zone_init(&z, 1024);
        CHECK(msgpack_unpack(sb.data, sb.size, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS &&
                  off == sb.size,
              "annots %#x: does not unpack as exactly one object", mask);
        CHECK(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == want,
              "annots %#x: %u entries, want %zu", mask,
              o.type == MSGPACK_OBJECT_ARRAY ? o.via.array.size : 0, want);
        for (uint32_t i = 0; o.type == MSGPACK_OBJECT_ARRAY && i < o.via.array.size; i++) {
            const msgpack_object *kv = &o.via.array.ptr[i];
            CHECK(kv->type == MSGPACK_OBJECT_MAP && kv->via.map.size == 2 && sq_mp_get(kv, "key") &&
                      sq_mp_get(kv, "value"),
                  "annots %#x: entry %u is not {key, value}", mask, i);
        }
        msgpack_zone_destroy(&z);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* One record of `caused_by`/`cause` through the annotations' and the record's encoders (as
 * every maker of records does: invoker, scheduler's compositions, its lost-work records). */
static void record_of(const char *caused_by, const char *cause, msgpack_zone *z,
                      msgpack_object *rec, msgpack_object *annots)
{
    static const sq_limits lim = { .timeout = 1000, .memory = 256, .logs = 10, .concurrency = 1 };
    sq_act_annots an = SQ_ACT_ANNOTS_INIT;
    sq_activation a;
    msgpack_sbuffer asb, sb;
    msgpack_packer apk, pk;
    an.path = "guest/a";
    an.kind = "nodejs:20";
    an.limits = &lim;
    an.caused_by = caused_by;
    an.cause = cause;
    sq_proto_buf_init(&asb, &apk);
    sq_act_annots_encode(&an, &apk);
    CHECK(sq_mp_unpack(asb.data, asb.size, z, annots) == SQ_OK, "annotations unpack");
    a = (sq_activation){ .id = "0123456789abcdef0123456789abcdef",
                         .namespace_ = "guest",
                         .name = "a",
                         .version = "0.0.1",
                         .subject = "s",
                         .status = SQ_ACT_INTERNAL,
                         .annotations = *annots };
    sq_proto_buf_init(&sb, &pk);
    sq_activation_encode(&a, &pk);
    /* sq_mp_unpack checks the map's count against its bytes */
    CHECK(sq_mp_unpack(sb.data, sb.size, z, rec) == SQ_OK, "record unpack");
    g_bufs[g_nbufs++] = asb;
    g_bufs[g_nbufs++] = sb;
}

static const char *annot_of(const msgpack_object *annots, const char *key)
{
    static char buf[64];
    for (uint32_t i = 0; annots->type == MSGPACK_OBJECT_ARRAY && i < annots->via.array.size; i++) {
        const msgpack_object *e = &annots->via.array.ptr[i], *v = sq_mp_get(e, "value");
        if (sq_mp_str_eq(sq_mp_get(e, "key"), key)) {
            if (v == NULL || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= sizeof buf)
                return "?";
            memcpy(buf, v->via.str.ptr, v->via.str.size);
            buf[v->via.str.size] = '\0';
            return buf;
        }
    }
    return NULL;
}

void test_record_causes(void)
{
    static const char id[] = "00112233445566778899aabbccddeeff";
    msgpack_zone z;
    msgpack_object rec, an;
    const msgpack_object *lim;
    const char *v;

    msgpack_zone_init(&z, 4096);
    /* a sequence's component: causedBy "sequence", cause, and the top-level cause */
    record_of("sequence", id, &z, &rec, &an);
    v = annot_of(&an, "causedBy");
    CHECK(v != NULL && strcmp(v, "sequence") == 0, "component: causedBy %s", v ? v : "absent");
    v = annot_of(&an, "cause");
    CHECK(v != NULL && strcmp(v, id) == 0, "component: cause annotation %s", v ? v : "absent");
    CHECK(sq_mp_str_eq(sq_mp_get(&rec, "cause"), id), "component: no top-level cause");
    /* a rule's action: causedBy "trigger", the cause annotation, no top-level cause */
    record_of("trigger", id, &z, &rec, &an);
    v = annot_of(&an, "causedBy");
    CHECK(v != NULL && strcmp(v, "trigger") == 0, "rule: causedBy %s", v ? v : "absent");
    CHECK(sq_mp_get(&rec, "cause") == NULL, "rule: a top-level cause");
    /* no cause: neither annotation, whatever caused_by says; a cause without a kind is not
     * guessed to be a sequence's */
    record_of("sequence", NULL, &z, &rec, &an);
    CHECK(annot_of(&an, "causedBy") == NULL && annot_of(&an, "cause") == NULL,
          "no cause: causedBy or cause written");
    CHECK(sq_mp_get(&rec, "cause") == NULL, "no cause: a top-level cause");
    record_of(NULL, id, &z, &rec, &an);
    CHECK(annot_of(&an, "causedBy") == NULL, "cause without kind: causedBy guessed");
    CHECK(sq_mp_get(&rec, "cause") == NULL, "cause without kind: a top-level cause");
    /* limits: always the four of them */
    for (uint32_t i = 0; i < an.via.array.size; i++)
        if (sq_mp_str_eq(sq_mp_get(&an.via.array.ptr[i], "key"), "limits")) {
            lim = sq_mp_get(&an.via.array.ptr[i], "value");
            CHECK(lim != NULL && lim->type == MSGPACK_OBJECT_MAP && lim->via.map.size == 4 &&
                      sq_mp_get(lim, "timeout") && sq_mp_get(lim, "memory") &&
                      sq_mp_get(lim, "logs") && sq_mp_get(lim, "concurrency"),
                  "limits is not {timeout, memory, logs, concurrency}");
        }
    msgpack_zone_destroy(&z);
}

/* sq.evt.activation: the record without result, logs and cause; sq_activation_decode reads it */
void test_activation_event(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;
    sq_activation got;
    char err[200];

    sq_proto_buf_init(&sb, &pk);
    sq_activation_event_encode(&s_activation, &pk);
    msgpack_zone_init(&z, 4096);
    CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK, "event: unpack");
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 11, "event: %u keys, want 11",
          o.type == MSGPACK_OBJECT_MAP ? o.via.map.size : 0);
    CHECK(sq_mp_get(&o, "logs") == NULL && sq_mp_get(&o, "cause") == NULL, "event: logs or cause");
    CHECK(sq_mp_get(sq_mp_get(&o, "response"), "result") == NULL, "event: a result");
    CHECK(sq_mp_get(sq_mp_get(&o, "response"), "success") != NULL, "event: no success");
    CHECK(sq_activation_decode(sb.data, sb.size, &z, &got, err, sizeof err) == SQ_OK,
          "event: does not decode: %s", err);
    CHECK_STR(got.id, s_activation.id, "event id");
    CHECK(got.status == s_activation.status && got.nlogs == 0, "event: status or logs");
    /* the count comes from the table: every truncation fails */
    for (size_t n = 0; n < sb.size; n++)
        CHECK(sq_activation_decode(sb.data, n, &z, &got, err, sizeof err) != SQ_OK,
              "event: %zu of %zu bytes decode", n, sb.size);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

/* The logs of a stored record (sq.activations.logs): a whole record gives its logs, an event
 * (no logs) gives nil; a truncated record is refused */
void test_record_logs(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    sq_act_record_logs got;

    msgpack_zone_init(&z, 4096);
    sq_proto_buf_init(&sb, &pk);
    sq_activation_encode(&s_activation, &pk);
    CHECK(sq_act_record_logs_decode(sb.data, sb.size, &z, &got, NULL, 0) == SQ_OK &&
              got.logs.type == MSGPACK_OBJECT_ARRAY &&
              got.logs.via.array.size == s_activation.nlogs,
          "record logs: not the record's %zu lines", s_activation.nlogs);
    for (size_t n = 0; n < sb.size; n++)
        CHECK(sq_act_record_logs_decode(sb.data, n, &z, &got, NULL, 0) != SQ_OK,
              "record logs: %zu of %zu bytes decode", n, sb.size);
    msgpack_sbuffer_destroy(&sb);
    sq_proto_buf_init(&sb, &pk);
    sq_activation_event_encode(&s_activation, &pk);
    CHECK(sq_act_record_logs_decode(sb.data, sb.size, &z, &got, NULL, 0) == SQ_OK &&
              got.logs.type == MSGPACK_OBJECT_NIL,
          "record logs: a record without logs is not nil");
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&z);
}

/* Packs with fn into a fresh buffer and unpacks it (the map counts checked by sq_mp_unpack) */
#define PACKED(call, z, o)                                                                         \
    do {                                                                                           \
        msgpack_sbuffer *sb_ = &g_bufs[g_nbufs++];                                                 \
        msgpack_packer pk_;                                                                        \
        sq_proto_buf_init(sb_, &pk_);                                                              \
        msgpack_packer *pk = &pk_;                                                                 \
        call;                                                                                      \
        CHECK(sq_mp_unpack(sb_->data, sb_->size, (z), (o)) == SQ_OK, "%s: unpack", #call);         \
    } while (0)

/* The documents' optional parts: a package's actions and feeds, a trigger's rules keyed by
 * "ns/rule", the summary's keys, an action's input and the conductor's boxing. */
void test_documents(void)
{
    static const char *const summary_keys[] = { "activationId", "annotations", "duration", "end",
                                                "name",         "namespace",   "publish",  "start",
                                                "statusCode",   "subject",     "version" };
    sq_brief acts[1] = { { .name = "a", .version = "0.0.1", .publish = false } };
    sq_trigger_rule tr[2] = {
        { .key = "guest/r1", .action = { "guest", "a" }, .status = "active" },
        { .key = "guest/r2", .action = { "guest/pkg", "b" }, .status = "inactive" },
    };
    sq_package pkg = s_package;
    sq_trigger trg = s_trigger;
    msgpack_zone z;
    msgpack_object o, num = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 5 };
    const msgpack_object *v;

    msgpack_zone_init(&z, 4096);
    PACKED(sq_package_encode(&s_package, pk), &z, &o);
    CHECK(sq_mp_get(&o, "actions") == NULL && sq_mp_get(&o, "feeds") == NULL,
          "a listed package has actions or feeds");
    pkg.with_contents = true;
    pkg.actions = acts;
    pkg.nactions = 1;
    pkg.binding = (sq_binding_ref){ 0 };
    PACKED(sq_package_encode(&pkg, pk), &z, &o);
    v = sq_mp_get(&o, "actions");
    CHECK(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 1 &&
              sq_mp_str_eq(sq_mp_get(&v->via.array.ptr[0], "name"), "a") &&
              sq_mp_get(&v->via.array.ptr[0], "parameters") != NULL,
          "package actions");
    v = sq_mp_get(&o, "feeds");
    CHECK(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 0, "package feeds: []");
    v = sq_mp_get(&o, "binding");
    CHECK(v && v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0, "a package's binding: {}");

    trg.with_rules = true;
    PACKED(sq_trigger_encode(&trg, pk), &z, &o);
    v = sq_mp_get(&o, "rules");
    CHECK(v && v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 0, "no rules: {}");
    trg.rules = tr;
    trg.nrules = 2;
    PACKED(sq_trigger_encode(&trg, pk), &z, &o);
    v = sq_mp_get(sq_mp_get(&o, "rules"), "guest/r2");
    CHECK(v && v->type == MSGPACK_OBJECT_MAP && v->via.map.size == 2 &&
              sq_mp_str_eq(sq_mp_get(v, "status"), "inactive") &&
              sq_mp_str_eq(sq_mp_get(sq_mp_get(v, "action"), "path"), "guest/pkg"),
          "trigger rules keyed by \"ns/rule\": {action, status}");

    PACKED(sq_activation_summary_encode(&s_activation, pk), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 11, "summary: 11 keys");
    for (uint32_t i = 0; o.type == MSGPACK_OBJECT_MAP && i < o.via.map.size && i < 11; i++)
        CHECK(sq_mp_str_eq(&o.via.map.ptr[i].key, summary_keys[i]), "summary key %u", i);

    PACKED(sq_input_encode(pk, NULL), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 0, "no input: {}");
    PACKED(sq_input_encode(pk, &num), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 0, "a scalar input: {}");
    PACKED(sq_boxed_encode(pk, "value", &num), &z, &o);
    v = sq_mp_get(&o, "value");
    CHECK(o.via.map.size == 1 && v && v->via.u64 == 5, "boxed: {value: 5}");
    PACKED(sq_boxed_encode(pk, "state", &s_trigger_event.payload), &z, &o);
    CHECK(obj_eq(&o, &s_trigger_event.payload), "a map is not boxed");
    msgpack_zone_destroy(&z);
}

/* The views services read through proto/ instead of walking maps: an annotation's value, a
 * trigger's rules, a route list's absent strings, an activation's response alone, and what
 * a conductor's result asks. */
void test_views(void)
{
    msgpack_zone z;
    msgpack_object o, arr = J("[{\"key\":\"a\",\"value\":1},7,{\"key\":\"b\"},{\"key\":5,"
                              "\"value\":2},{\"key\":\"a\",\"value\":3}]");
    const msgpack_object *v;
    char err[256] = "";
    sq_trigger t;
    sq_route_list rl;
    sq_limits l;
    sq_conductor_step cs;

    SECTION("views: annotations, rules, routes, responses, conductor steps");
    msgpack_zone_init(&z, 4096);
    v = sq_kv_value(&arr, "a");
    CHECK(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 1, "kv: the first a");
    v = sq_kv_value(&arr, "b");
    CHECK(v && v->type == MSGPACK_OBJECT_NIL, "kv: an entry without value reads nil");
    CHECK(sq_kv_value(&arr, "c") == NULL, "kv: no such key");
    CHECK(sq_kv_value(&arr, "") == NULL, "kv: the empty key");
    o = J("{\"key\":\"a\",\"value\":1}");
    CHECK(sq_kv_value(&o, "a") == NULL && sq_kv_value(NULL, "a") == NULL, "kv: not an array");

    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\",\"rules\":{\"g/r\":"
          "{\"action\":{\"path\":\"g\",\"name\":\"a\"},\"status\":\"active\"}}}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_OK && t.with_rules && t.nrules == 1 &&
              strcmp(t.rules[0].key, "g/r") == 0 && strcmp(t.rules[0].action.name, "a") == 0 &&
              strcmp(t.rules[0].status, "active") == 0,
          "trigger: its rules are read (%s)", err);
    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\",\"rules\":{\"g/r\":"
          "{\"action\":{\"path\":\"g\",\"name\":\"a\"}}}}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_ERR_DECODE &&
              strstr(err, "status") != NULL,
          "trigger: a rule without status is refused (%s)", err);
    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\",\"rules\":[]}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_ERR_DECODE,
          "trigger: rules that are not a map are refused");
    o = J("{\"namespace\":\"g\",\"name\":\"t\",\"version\":\"0.0.1\"}");
    CHECK(sq_trigger_from(&o, &z, &t, err, sizeof err) == SQ_OK && !t.with_rules && t.nrules == 0,
          "trigger: no rules, with_rules false");
    {
        /* a rules map whose key is not a string */
        static const char raw[] = "\x84\xa9namespace\xa1g\xa4name\xa1t\xa7version\xa5"
                                  "0.0.1\xa5rules\x81\x07\x80";
        CHECK(sq_trigger_decode(raw, sizeof raw - 1, &z, &t, err, sizeof err) == SQ_ERR_DECODE &&
                  strstr(err, "rule") != NULL,
              "trigger: a rule keyed by an int is refused (%s)", err);
    }

    o = J("{\"items\":[{\"relpath\":\"/a\",\"method\":\"get\",\"action_ns\":\"g\","
          "\"action_name\":\"x\",\"response_type\":\"json\"}]}");
    CHECK(sq_route_list_from(&o, &z, &rl, err, sizeof err) == SQ_OK && rl.nroutes == 1 &&
              rl.routes[0].basepath != NULL && rl.routes[0].basepath[0] == '\0' &&
              rl.routes[0].action_pkg != NULL && rl.routes[0].api_name != NULL &&
              strcmp(rl.routes[0].relpath, "/a") == 0,
          "route list: absent strings of a route read \"\" (%s)", err);
    o = J("{\"items\":[{\"relpath\":\"/a\"}]}");
    CHECK(sq_route_list_from(&o, &z, &rl, err, sizeof err) == SQ_ERR_DECODE && rl.nroutes == 0,
          "route list: a route without method is refused");

    PACKED(sq_act_response_encode(&s_activation, pk), &z, &o);
    CHECK(o.type == MSGPACK_OBJECT_MAP && o.via.map.size == 4 &&
              sq_mp_str_eq(&o.via.map.ptr[0].key, "status") &&
              sq_mp_str_eq(sq_mp_get(&o, "status"), sq_act_status_str(s_activation.status)) &&
              sq_mp_get(&o, "statusCode")->via.u64 == (uint64_t)s_activation.status &&
              obj_eq(sq_mp_get(&o, "result"), &s_activation.result),
          "the response alone: {status, statusCode, success, result}");

    o = J("{\"memory\":512}");
    CHECK(sq_limits_from(&o, NULL, &l, NULL, 0) == SQ_OK && l.memory == 512 && l.timeout == 0 &&
              l.concurrency == 0,
          "limits: absent ones read 0");
    o = J("{\"action\":null,\"params\":5}");
    CHECK(sq_conductor_step_from(&o, NULL, &cs, NULL, 0) == SQ_OK &&
              cs.action.type == MSGPACK_OBJECT_NIL && cs.params.via.u64 == 5 &&
              cs.state.type == MSGPACK_OBJECT_NIL,
          "conductor: null action ends, params kept");
    o = J("[1,2]");
    CHECK(sq_conductor_step_from(&o, NULL, &cs, err, sizeof err) == SQ_ERR_DECODE,
          "conductor: a result that is not a map is refused");
    msgpack_zone_destroy(&z);
}
