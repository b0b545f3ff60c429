/* proto_test's round trips (every message, and variations of some) and semantic rejections
 * (values of the right type that the contract refuses). */
#include "proto_test.h"

/* ---------------------------------------------------------------- round trips */

void test_roundtrips(void)
{
    SECTION("round trips");
    for (size_t i = 0; i < NMSGS; i++)
        roundtrip(&msgs[i], msgs[i].sample, "full sample");

    /* variations */
    {
        sq_action a = s_action;
        a.exec.code = NULL; /* GET ?code=false */
        a.exec.main = NULL;
        a.exec.binary = true;
        a.parameters = obj_nil();
        a.annotations = obj_nil();
        a.publish = false;
        a.updated = 0;
        a.limits = SQ_LIMITS_DEFAULT;
        roundtrip(&msgs[2], &a, "no code, no main, nil parameters");
        char *big = long_string(70000, 'x'); /* str32 on the wire */
        a = s_action;
        a.exec.code = big;
        a.limits = (sq_limits){ .timeout = 300000, .memory = 512, .logs = 10, .concurrency = 1 };
        roundtrip(&msgs[2], &a, "70000-byte code");
        free(big);
    }
    {
        sq_invoke v = s_invoke;
        v.params = obj_nil();
        v.blocking = false;
        v.wait_ms = 0;
        roundtrip(&msgs[7], &v, "nil params, non-blocking");
        v.params = J("{}");
        roundtrip(&msgs[7], &v, "empty params");
    }
    {
        sq_work w = s_work;
        w.key = NULL;
        w.reply = NULL;
        w.blocking = false;
        w.params = J("{}");
        roundtrip(&msgs[8], &w, "no key, no reply");
        w.ns = NULL;
        roundtrip(&msgs[8], &w, "no caller namespace");
    }
    {
        sq_activation a = s_activation;
        static char *none[] = { NULL };
        for (int s = SQ_ACT_SUCCESS; s <= SQ_ACT_INTERNAL; s++) {
            a.status = (sq_act_status)s;
            roundtrip(&msgs[10], &a, WHAT("statusCode %d", s));
        }
        a.logs = none;
        a.nlogs = 0;
        a.result = obj_nil();
        a.annotations = obj_nil();
        a.publish = true;
        roundtrip(&msgs[10], &a, "no logs, nil result");
        {
            /* the top-level cause: written from the annotations of a composition's component */
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_zone z;
            msgpack_object o;
            sq_activation got;
            char err[256];
            const char *annots[3] = {
                "[{\"key\":\"causedBy\",\"value\":\"sequence\"},{\"key\":\"cause\",\"value\":"
                "\"0123456789abcdef0123456789abcdef\"}]",
                "[{\"key\":\"causedBy\",\"value\":\"trigger\"},{\"key\":\"cause\",\"value\":"
                "\"0123456789abcdef0123456789abcdef\"}]",
                "[{\"key\":\"cause\",\"value\":\"0123456789abcdef0123456789abcdef\"}]",
            };
            for (int k = 0; k < 3; k++) {
                sq_activation c = s_activation;
                c.annotations = J(annots[k]);
                c.result = J("[1,{\"a\":2}]");
                msgpack_sbuffer_init(&sb);
                msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                sq_activation_encode(&c, &pk);
                msgpack_zone_init(&z, 2048);
                CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK, "cause %d unpacks", k);
                CHECK((sq_mp_get(&o, "cause") != NULL) == (k == 0),
                      "top-level cause only for a component (%d)", k);
                CHECK(sq_activation_decode(sb.data, sb.size, &z, &got, err, sizeof err) == SQ_OK,
                      "cause %d decodes: %s", k, err);
                if (k == 0)
                    CHECK_STR(got.cause, "0123456789abcdef0123456789abcdef", "decoded cause");
                else
                    CHECK(got.cause == NULL, "no decoded cause (%d)", k);
                CHECK(got.result.type == MSGPACK_OBJECT_ARRAY && got.result.via.array.size == 2,
                      "an array result travels");
                msgpack_zone_destroy(&z);
                msgpack_sbuffer_destroy(&sb);
            }
        }
        a.result = J("[1,\"two\",{\"three\":3}]");
        roundtrip(&msgs[10], &a, "array result");
        a.result = J("\"just a string \\u2603\"");
        roundtrip(&msgs[10], &a, "string result");
    }
    {
        sq_heartbeat h = s_heartbeat;
        h.total_mb = INT64_MAX;
        h.free_mb = INT64_MIN;
        h.at = -1;
        h.healthy = false;
        roundtrip(&msgs[9], &h, "int64 extremes");
    }
    {
        sq_reg_list l = s_reg_list;
        l.skip = 0;
        l.limit = 0;
        roundtrip(&msgs[5], &l, "skip 0 limit 0");
        sq_reg_ref r = s_reg_ref;
        r.code = true;
        roundtrip(&msgs[4], &r, "code true");
        sq_act_query q = s_act_query;
        q.id = NULL;
        q.name = NULL;
        q.docs = false;
        roundtrip(&msgs[11], &q, "no id, no name");
    }
    /* optional string fields left NULL in the struct must still give a decodable message
     * (an encoder cannot fail, so it may not write what its own decoder refuses) */
    {
        sq_reg_put p = s_reg_put;
        p.subject = NULL;
        p.overwrite = false;
        roundtrip(&msgs[3], &p, "subject NULL (optional)");
        sq_entity_event e = s_entity_event;
        e.op = "delete";
        e.version = NULL;
        roundtrip(&msgs[6], &e, "version NULL (optional), delete event");
        sq_invoke v = s_invoke;
        v.key = NULL;
        roundtrip(&msgs[7], &v, "key NULL (optional)");
        sq_log_event le = s_log_event;
        le.line = NULL;
        le.end = true;
        roundtrip(&msgs[18], &le, "log end marker (no line)");
    }

    /* a route query names only its namespace; a route put's routes carry no namespace or
     * base path: what is absent reads as "" (the registry's SQL and the gateway compare
     * strings, never NULL) */
    {
        static const char q_only_ns[] = "\x81"
                                        "\xa2"
                                        "ns"
                                        "\xa5"
                                        "guest";
        static const char r_min[] = "\x85"
                                    "\xa7"
                                    "relpath"
                                    "\xa2"
                                    "/x"
                                    "\xa6"
                                    "method"
                                    "\xa3"
                                    "get"
                                    "\xa9"
                                    "action_ns"
                                    "\xa5"
                                    "guest"
                                    "\xab"
                                    "action_name"
                                    "\xa1"
                                    "a"
                                    "\xad"
                                    "response_type"
                                    "\xa4"
                                    "json";
        msgpack_zone z;
        sq_route_query q;
        sq_route rt;
        char err[256];
        msgpack_zone_init(&z, 1024);
        CHECK(sq_route_query_decode(q_only_ns, sizeof q_only_ns - 1, &z, &q, err, sizeof err) ==
                  SQ_OK,
              "route query with ns only: %s", err);
        CHECK_STR(q.basepath, "", "route query: absent basepath");
        CHECK_STR(q.relpath, "", "route query: absent relpath");
        CHECK_STR(q.method, "", "route query: absent method");
        CHECK(sq_route_decode(r_min, sizeof r_min - 1, &z, &rt, err, sizeof err) == SQ_OK,
              "route with required fields only: %s", err);
        CHECK_STR(rt.namespace_, "", "route: absent namespace");
        CHECK_STR(rt.basepath, "", "route: absent basepath");
        CHECK_STR(rt.action_pkg, "", "route: absent action_pkg");
        CHECK_STR(rt.api_name, "", "route: absent api_name");
        CHECK_STR(rt.relpath, "/x", "route: relpath");
        msgpack_zone_destroy(&z);
    }

    /* sq_act_status_str */
    CHECK_STR(sq_act_status_str(SQ_ACT_SUCCESS), "success", "status 0");
    CHECK_STR(sq_act_status_str(SQ_ACT_APP_ERROR), "application error", "status 1");
    CHECK_STR(sq_act_status_str(SQ_ACT_DEV_ERROR), "action developer error", "status 2");
    CHECK_STR(sq_act_status_str(SQ_ACT_INTERNAL), "whisk internal error", "status 3");
    CHECK_STR(sq_act_status_str((sq_act_status)4), "whisk internal error", "status 4");
    CHECK_STR(sq_act_status_str((sq_act_status)-1), "whisk internal error", "status -1");

    /* the activation's wire shape is OpenWhisk's: response{status, statusCode, success, result} */
    {
        msgpack_sbuffer sb;
        msgpack_zone z;
        msgpack_object o;
        encode(&msgs[10], &s_activation, &sb);
        msgpack_zone_init(&z, 4096);
        CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK,
              "activation encoding does not unpack");
        const msgpack_object *r = sq_mp_get(&o, "response");
        CHECK(r && sq_mp_str_eq(sq_mp_get(r, "status"), "application error"),
              "response.status is not \"application error\"");
        CHECK(r && sq_mp_get(r, "success") &&
                  sq_mp_get(r, "success")->type == MSGPACK_OBJECT_BOOLEAN &&
                  sq_mp_get(r, "success")->via.boolean == false,
              "response.success is not false for an application error");
        CHECK(r && sq_mp_get(r, "statusCode") && sq_mp_get(r, "statusCode")->via.u64 == 1,
              "response.statusCode is not 1");
        CHECK(sq_mp_str_eq(sq_mp_get(&o, "activationId"), s_activation.id),
              "activationId key missing");
        CHECK(sq_mp_get(&o, "logs") && sq_mp_get(&o, "logs")->type == MSGPACK_OBJECT_ARRAY,
              "logs is not an array");
        msgpack_zone_destroy(&z);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* ---------------------------------------------------------------- semantic rejections */

void test_semantic(void)
{
    SECTION("semantic rejections");
    msgpack_sbuffer sb;
    msgpack_zone z;
    char err[256];
    sq_status st;
    msgpack_zone_init(&z, 4096);
    {
        sq_activation a = s_activation, out;
        a.id = "not-an-id";
        encode(&msgs[10], &a, &sb);
        st = decode(&msgs[10], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE && err[0], "activationId \"not-an-id\": got %s (%s)",
              sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
        a.id = "0123456789ABCDEF0123456789abcdef0";
        encode(&msgs[10], &a, &sb);
        st = decode(&msgs[10], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE, "33-character activationId: got %s", sq_status_name(st));
        msgpack_sbuffer_destroy(&sb);
        a = s_activation;
        a.status = (sq_act_status)4;
        encode(&msgs[10], &a, &sb);
        st = decode(&msgs[10], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE && err[0], "statusCode 4: got %s (%s)", sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
    }
    {
        sq_work w = s_work, out;
        w.action.exec.code = NULL;
        encode(&msgs[8], &w, &sb);
        st = decode(&msgs[8], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_ERR_DECODE && err[0], "work item without code: got %s (%s)",
              sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
    }
    {
        sq_invoke v = s_invoke, out;
        static const char *const notmaps[] = { "\"s\"", "7", "true" };
        for (size_t i = 0; i < 3; i++) {
            v.params = J(notmaps[i]);
            encode(&msgs[7], &v, &sb);
            st = decode(&msgs[7], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
            CHECK(st == SQ_ERR_DECODE && strstr(err, "params"), "invoke params %s: got %s (%s)",
                  notmaps[i], sq_status_name(st), err);
            msgpack_sbuffer_destroy(&sb);
        }
        /* an array is an action's input as it is (OpenWhisk merges no parameters into it) */
        v.params = J("[1,{\"a\":2}]");
        encode(&msgs[7], &v, &sb);
        st = decode(&msgs[7], sb.data, sb.size, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_OK && out.params.type == MSGPACK_OBJECT_ARRAY,
              "invoke params array: got %s (%s)", sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);
    }
    {
        /* defaults the decoders document through their structs */
        sq_action out;
        const char raw[] = "\x84\xa9namespace\xa5guest\xa4name\xa1h\xa7version\xa5"
                           "0.0.1\xa4"
                           "exec\x81\xa4kind\xa9nodejs:20";
        st = decode(&msgs[2], raw, sizeof raw - 1, &z, &out, err, sizeof err, NULL);
        CHECK(st == SQ_OK, "minimal action: %s (%s)", sq_status_name(st), err);
        if (st == SQ_OK) {
            sq_limits d = SQ_LIMITS_DEFAULT;
            CHECK(out.limits.timeout == d.timeout && out.limits.memory == d.memory &&
                      out.limits.logs == d.logs,
                  "action without limits: got %lld/%lld/%lld, want the defaults 60000/256/10",
                  (long long)out.limits.timeout, (long long)out.limits.memory,
                  (long long)out.limits.logs);
            CHECK(out.exec.code == NULL && out.exec.main == NULL, "absent code/main not NULL");
        }
    }
    msgpack_zone_destroy(&z);
}
