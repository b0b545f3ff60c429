/* mp_test's table-driven map decoder (sq_mp_decode_map): a record with a field of every type
 * (mp_fields.h), from msgpack bytes and from JSON text. */
#include "mp_test.h"
#define REC_TOP_REQUIRED true
#include "mp_fields.h"

/* ---------------------------------------------------------------- sq_mp_decode_map */

/* Decodes msgpack bytes into r (preset: b = true, i = 77, nest.y = 5). */
static sq_status dec_bytes(const char *bytes, size_t len, msgpack_zone *z, rec *r, char *err,
                           size_t errlen)
{
    msgpack_object o;
    sq_status st;
    memset(r, 0, sizeof *r);
    r->b = true;
    r->i = 77;
    r->nest.y = 5;
    if (err && errlen)
        err[0] = '\0';
    st = sq_mp_unpack(bytes, len, z, &o);
    if (st != SQ_OK)
        return st;
    return sq_mp_decode_map(&o, SQ_MP_FIELDS(rec_fields), z, r, err, errlen);
}

/* The same from JSON text (converted with sq_json_text_to_mp); keeps the bytes alive in sb. */
static sq_status dec_json(const char *json, msgpack_sbuffer *sb, msgpack_zone *z, rec *r, char *err,
                          size_t errlen)
{
    msgpack_packer pk;
    char jerr[256];
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (sq_json_text_to_mp(json, strlen(json), &pk, jerr, sizeof jerr) != SQ_OK) {
        fprintf(stderr, "test bug: bad JSON %s: %s\n", json, jerr);
        return SQ_ERR_INTERNAL;
    }
    return dec_bytes(sb->data, sb->size, z, r, err, errlen);
}

void test_decode_map(void)
{
    SECTION("sq_mp_decode_map");
    msgpack_zone z;
    msgpack_sbuffer sb;
    rec r;
    char err[256];
    sq_status st;

    msgpack_zone_init(&z, 4096);
    st = dec_json(
        "{\"s\":\"str\",\"i\":-5,\"b\":false,\"any\":null,\"map\":{\"a\":1},\"arr\":[1,2],"
        "\"strs\":[\"x\",\"yy\"],\"nest\":{\"x\":\"in\",\"y\":9},\"unknown\":[1,{\"z\":2}]}",
        &sb, &z, &r, err, sizeof err);
    CHECK(st == SQ_OK, "full valid map: %s (%s)", sq_status_name(st), err);
    if (st == SQ_OK) {
        CHECK_STR(r.s, "str", "s");
        CHECK_INT(r.i, -5, "i");
        CHECK(r.b == false, "b: got true, want false");
        CHECK(r.any.type == MSGPACK_OBJECT_NIL, "any: type %d, want nil", (int)r.any.type);
        CHECK(r.map.type == MSGPACK_OBJECT_MAP && r.map.via.map.size == 1, "map: wrong object");
        CHECK(r.arr.type == MSGPACK_OBJECT_ARRAY && r.arr.via.array.size == 2, "arr: wrong object");
        CHECK_INT(r.nstrs, 2, "nstrs");
        if (r.nstrs == 2) {
            CHECK_STR(r.strs[0], "x", "strs[0]");
            CHECK_STR(r.strs[1], "yy", "strs[1]");
            CHECK(r.strs[2] == NULL, "strs is not NULL-terminated");
        }
        CHECK_STR(r.nest.x, "in", "nest.x");
        CHECK_INT(r.nest.y, 9, "nest.y");
    }
    msgpack_sbuffer_destroy(&sb);

    st = dec_json("{\"s\":\"a\",\"i\":1}", &sb, &z, &r, err, sizeof err);
    CHECK(st == SQ_OK, "minimal map: %s (%s)", sq_status_name(st), err);
    CHECK(r.b == true, "absent optional bool did not keep its preset value");
    CHECK_INT(r.nest.y, 5, "absent optional nested map kept its preset");
    CHECK(r.strs == NULL && r.nstrs == 0, "absent STRS field was written");
    msgpack_sbuffer_destroy(&sb);

    /* nil in an optional field means "not given": presets stay; nil in a required one fails */
    st = dec_json("{\"s\":\"a\",\"i\":1,\"b\":null,\"map\":null,\"nest\":null}", &sb, &z, &r, err,
                  sizeof err);
    CHECK(st == SQ_OK, "nil optional fields: %s (%s)", sq_status_name(st), err);
    CHECK(r.b == true && r.nest.y == 5 && r.map.type == MSGPACK_OBJECT_NIL,
          "nil optional fields changed the presets");
    msgpack_sbuffer_destroy(&sb);
    st = dec_json("{\"s\":null,\"i\":1}", &sb, &z, &r, err, sizeof err);
    CHECK(st == SQ_ERR_DECODE, "nil for a required string: got %s", sq_status_name(st));
    msgpack_sbuffer_destroy(&sb);

    st = dec_json("{\"s\":\"a\",\"i\":1,\"nest\":{\"x\":\"q\"}}", &sb, &z, &r, err, sizeof err);
    CHECK(st == SQ_OK && r.nest.y == 5, "nested map without its optional y: %s, y=%lld",
          sq_status_name(st), (long long)r.nest.y);
    msgpack_sbuffer_destroy(&sb);

    st = dec_json("{\"s\":\"\",\"i\":1,\"strs\":[\"\",\"x\"],\"nest\":{\"x\":\"\"}}", &sb, &z, &r,
                  err, sizeof err);
    CHECK(st == SQ_OK, "empty strings: %s (%s)", sq_status_name(st), err);
    if (st == SQ_OK) {
        CHECK_STR(r.s, "", "empty string field");
        CHECK(r.nstrs == 2 && r.strs[0] && r.strs[0][0] == '\0',
              "empty string in an array of strings");
        CHECK_STR(r.nest.x, "", "empty string in a nested map");
    }
    msgpack_sbuffer_destroy(&sb);

    st = dec_json("{\"s\":\"a\",\"i\":1,\"strs\":[]}", &sb, &z, &r, err, sizeof err);
    CHECK(st == SQ_OK && r.nstrs == 0 && r.strs && r.strs[0] == NULL, "empty STRS array: %s",
          sq_status_name(st));
    msgpack_sbuffer_destroy(&sb);

    /* each bad case: JSON, the key the error must name */
    static const struct {
        const char *json, *key, *what;
    } bad[] = {
        { "{\"i\":1}", "s", "missing required string" },
        { "{\"s\":\"a\"}", "i", "missing required int" },
        { "{}", "s", "empty map" },
        { "{\"s\":1,\"i\":1}", "s", "int for a string" },
        { "{\"s\":null,\"i\":1}", "s", "nil for a string" },
        { "{\"s\":{},\"i\":1}", "s", "map for a string" },
        { "{\"s\":[\"a\"],\"i\":1}", "s", "array for a string" },
        { "{\"s\":true,\"i\":1}", "s", "bool for a string" },
        { "{\"s\":\"a\\u0000b\",\"i\":1}", "s", "string with an embedded NUL" },
        { "{\"s\":\"a\",\"i\":\"1\"}", "i", "string for an int" },
        { "{\"s\":\"a\",\"i\":1.5}", "i", "float for an int" },
        { "{\"s\":\"a\",\"i\":true}", "i", "bool for an int" },
        { "{\"s\":\"a\",\"i\":null}", "i", "nil for an int" },
        { "{\"s\":\"a\",\"i\":1,\"b\":1}", "b", "int for a bool" },
        { "{\"s\":\"a\",\"i\":1,\"b\":\"true\"}", "b", "string for a bool" },
        { "{\"s\":\"a\",\"i\":1,\"map\":[]}", "map", "array for a map" },
        { "{\"s\":\"a\",\"i\":1,\"map\":\"m\"}", "map", "string for a map" },
        { "{\"s\":\"a\",\"i\":1,\"arr\":{}}", "arr", "map for an array" },
        { "{\"s\":\"a\",\"i\":1,\"arr\":3}", "arr", "int for an array" },
        { "{\"s\":\"a\",\"i\":1,\"strs\":\"x\"}", "strs", "string for an array of strings" },
        { "{\"s\":\"a\",\"i\":1,\"strs\":[\"x\",1]}", "strs", "int inside an array of strings" },
        { "{\"s\":\"a\",\"i\":1,\"strs\":[\"x\",null]}", "strs", "nil inside an array of strings" },
        { "{\"s\":\"a\",\"i\":1,\"nest\":\"x\"}", "nest", "string for a nested map" },
        { "{\"s\":\"a\",\"i\":1,\"nest\":[]}", "nest", "array for a nested map" },
        { "{\"s\":\"a\",\"i\":1,\"nest\":{}}", "x", "nested map missing its required field" },
        { "{\"s\":\"a\",\"i\":1,\"nest\":{\"x\":2}}", "x", "int for a string in a nested map" },
        { "{\"s\":\"a\",\"i\":1,\"nest\":{\"x\":\"q\",\"y\":\"9\"}}", "y",
          "string for an int in a nested map" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        st = dec_json(bad[i].json, &sb, &z, &r, err, sizeof err);
        CHECK(st == SQ_ERR_DECODE, "%s (%s): got %s, want SQ_ERR_DECODE", bad[i].what, bad[i].json,
              sq_status_name(st));
        snprintf(want, sizeof want, "\"%s\"", bad[i].key);
        CHECK(err[0] != '\0' && strstr(err, want) != NULL,
              "%s: error message \"%s\" does not name %s", bad[i].what, err, want);
        /* the same with no room for a message must not crash */
        msgpack_sbuffer_destroy(&sb);
        st = dec_json(bad[i].json, &sb, &z, &r, NULL, 0);
        CHECK(st == SQ_ERR_DECODE, "%s with err NULL: got %s", bad[i].what, sq_status_name(st));
        msgpack_sbuffer_destroy(&sb);
    }

    /* not a map at all */
    static const sample notmap[] = {
        { B("\x91\x01"), "an array", 0 },
        { B("\xa1"
            "x"),
          "a string", 0 },
        { B("\xc0"), "nil", 0 },
        { B("\x05"), "an int", 0 },
    };
    for (size_t i = 0; i < sizeof notmap / sizeof notmap[0]; i++) {
        st = dec_bytes(notmap[i].bytes, notmap[i].len, &z, &r, err, sizeof err);
        CHECK(st == SQ_ERR_DECODE && err[0], "%s instead of a map: got %s, message \"%s\"",
              notmap[i].what, sq_status_name(st), err);
    }

    /* a non-string key */
    st = dec_bytes(B("\x83\xa1"
                     "s\xa1"
                     "a\xa1"
                     "i\x01\x07\x01"),
                   &z, &r, err, sizeof err);
    CHECK(st == SQ_ERR_DECODE && err[0], "map with an int key: got %s (\"%s\")", sq_status_name(st),
          err);

    /* integers at the edges of int64 */
    {
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        sq_mp_kv_str(&pk, "s", "a");
        sq_mp_pack_str(&pk, "i");
        msgpack_pack_uint64(&pk, UINT64_MAX);
        st = dec_bytes(sb.data, sb.size, &z, &r, err, sizeof err);
        CHECK(st == SQ_ERR_DECODE && strstr(err, "\"i\""),
              "uint64 max for an int64 field: got %s (\"%s\")", sq_status_name(st), err);
        msgpack_sbuffer_destroy(&sb);

        msgpack_sbuffer_init(&sb);
        msgpack_pack_map(&pk, 2);
        sq_mp_kv_str(&pk, "s", "a");
        sq_mp_pack_str(&pk, "i");
        msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX);
        st = dec_bytes(sb.data, sb.size, &z, &r, err, sizeof err);
        CHECK(st == SQ_OK && r.i == INT64_MAX, "INT64_MAX: got %s, %lld", sq_status_name(st),
              (long long)r.i);
        msgpack_sbuffer_destroy(&sb);

        msgpack_sbuffer_init(&sb);
        msgpack_pack_map(&pk, 2);
        sq_mp_kv_str(&pk, "s", "a");
        sq_mp_kv_int(&pk, "i", INT64_MIN);
        st = dec_bytes(sb.data, sb.size, &z, &r, err, sizeof err);
        CHECK(st == SQ_OK && r.i == INT64_MIN, "INT64_MIN: got %s, %lld", sq_status_name(st),
              (long long)r.i);
        msgpack_sbuffer_destroy(&sb);
    }

    /* a tiny error buffer is still NUL-terminated */
    {
        char small[8];
        memset(small, 'Z', sizeof small);
        st = dec_json("{\"i\":1}", &sb, &z, &r, small, 4);
        CHECK(st == SQ_ERR_DECODE && memchr(small, '\0', 4) != NULL && small[4] == 'Z',
              "error buffer of 4 bytes not NUL-terminated within bounds");
        msgpack_sbuffer_destroy(&sb);
    }

    /* helpers */
    {
        msgpack_object o;
        static const char raw[] = "\x82\xa1"
                                  "a\x01\xa2"
                                  "bb\xa3"
                                  "x\x00y";
        char *buf = check_dup_exact_(raw, sizeof raw - 1);
        CHECK(sq_mp_unpack(buf, sizeof raw - 1, &z, &o) == SQ_OK, "helper sample did not unpack");
        CHECK(sq_mp_get(&o, "a") && sq_mp_get(&o, "a")->via.u64 == 1, "sq_mp_get(a)");
        CHECK(sq_mp_get(&o, "b") == NULL, "sq_mp_get matched a prefix of a key");
        CHECK(sq_mp_get(&o, "bbb") == NULL, "sq_mp_get matched a longer key");
        CHECK(sq_mp_get(NULL, "a") == NULL, "sq_mp_get(NULL)");
        CHECK(!sq_mp_str_eq(sq_mp_get(&o, "bb"), "x"),
              "sq_mp_str_eq matched a prefix of a string with NUL");
        CHECK(!sq_mp_str_eq(sq_mp_get(&o, "a"), "a"), "sq_mp_str_eq matched an int");
        CHECK(sq_mp_strdup(&z, sq_mp_get(&o, "bb")) == NULL,
              "sq_mp_strdup copied a string with NUL");
        CHECK(sq_mp_strdup(&z, sq_mp_get(&o, "a")) == NULL, "sq_mp_strdup copied an int");
        free(buf);
    }
    msgpack_zone_destroy(&z);
}
