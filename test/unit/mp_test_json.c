/* mp_test's JSON <-> msgpack: JSON text through msgpack and back, msgpack to JSON text (the
 * same bytes as the jansson path), and what neither accepts. */
#include <jansson.h>

#include "mp_test.h"

/* ---------------------------------------------------------------- JSON <-> msgpack */

/* JSON text -> msgpack -> (check, unpack) -> JSON; the result must equal the input. */
static void json_roundtrip(const char *txt, msgpack_object_type want_type)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;
    char err[256] = "";
    json_error_t je;
    json_t *in = json_loads(txt, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je), *out;
    sq_status st;

    if (in == NULL) {
        CHECK(0, "test bug: jansson cannot parse %s", txt);
        return;
    }
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_zone_init(&z, 1024);
    st = sq_json_text_to_mp(txt, strlen(txt), &pk, err, sizeof err);
    CHECK(st == SQ_OK, "sq_json_text_to_mp(%s): %s (%s)", txt, sq_status_name(st), err);
    if (st == SQ_OK) {
        char *c = check_dup_exact_(sb.data, sb.size);
        st = sq_mp_unpack(c, sb.size, &z, &o);
        CHECK(st == SQ_OK, "msgpack of %s does not pass sq_mp_unpack", txt);
        if (st == SQ_OK) {
            char *text;
            CHECK(o.type == want_type, "%s became msgpack type %d, want %d", txt, (int)o.type,
                  (int)want_type);
            out = sq_mp_to_json(&o);
            CHECK(out && json_equal(in, out), "round trip of %s changed it", txt);
            json_decref(out);
            text = sq_mp_to_json_text(&o, NULL);
            out = text ? json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je) : NULL;
            CHECK(out && json_equal(in, out), "sq_mp_to_json_text of %s gave %s", txt,
                  text ? text : "NULL");
            json_decref(out);
            free(text);
        }
        free(c);
    }
    json_decref(in);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

static void nested_json(char *buf, int n)
{
    int o = 0;
    for (int i = 0; i < n; i++)
        buf[o++] = '[';
    buf[o++] = '1';
    for (int i = 0; i < n; i++)
        buf[o++] = ']';
    buf[o] = '\0';
}

/* Converts msgpack o (a small hand-built value) to JSON text: the same bytes as the jansson
 * path (sq_mp_to_json_text_jansson), and, unless want is NULL, the JSON value want. */
static void mp_to_json_is(const char *bytes, size_t len, const char *want, const char *what)
{
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    if (sq_mp_unpack(bytes, len, &z, &o) != SQ_OK) {
        CHECK(0, "test bug: %s does not unpack", what);
    } else {
        size_t n = 0, rn = 0;
        char *t = sq_mp_to_json_text(&o, &n), *ref = sq_mp_to_json_text_jansson(&o, &rn);
        CHECK(t && ref && n == rn && memcmp(t, ref, n) == 0 && strlen(t) == n,
              "%s: direct %s, jansson %s", what, t ? t : "NULL", ref ? ref : "NULL");
        if (want != NULL) {
            /* compared as JSON values, so number formatting does not matter */
            json_error_t je;
            json_t *got = t ? json_loads(t, JSON_DECODE_ANY, &je) : NULL;
            json_t *exp = json_loads(want, JSON_DECODE_ANY, &je);
            CHECK(got && exp && json_equal(got, exp), "%s: JSON %s, want %s", what, t ? t : "NULL",
                  want);
            json_decref(got);
            json_decref(exp);
        }
        free(t);
        free(ref);
    }
    msgpack_zone_destroy(&z);
}

void test_json(void)
{
    SECTION("JSON <-> msgpack");
    json_roundtrip("{}", MSGPACK_OBJECT_MAP);
    json_roundtrip("[]", MSGPACK_OBJECT_ARRAY);
    json_roundtrip("null", MSGPACK_OBJECT_NIL);
    json_roundtrip("true", MSGPACK_OBJECT_BOOLEAN);
    json_roundtrip("false", MSGPACK_OBJECT_BOOLEAN);
    json_roundtrip("0", MSGPACK_OBJECT_POSITIVE_INTEGER);
    json_roundtrip("42", MSGPACK_OBJECT_POSITIVE_INTEGER);
    json_roundtrip("-1", MSGPACK_OBJECT_NEGATIVE_INTEGER);
    json_roundtrip("9007199254740993", MSGPACK_OBJECT_POSITIVE_INTEGER);
    json_roundtrip("9223372036854775807", MSGPACK_OBJECT_POSITIVE_INTEGER);
    json_roundtrip("-9223372036854775808", MSGPACK_OBJECT_NEGATIVE_INTEGER);
    json_roundtrip("1.5", MSGPACK_OBJECT_FLOAT64);
    json_roundtrip("-0.25", MSGPACK_OBJECT_FLOAT64);
    json_roundtrip("1e300", MSGPACK_OBJECT_FLOAT64);
    json_roundtrip("3.141592653589793", MSGPACK_OBJECT_FLOAT64);
    json_roundtrip("\"\"", MSGPACK_OBJECT_STR);
    json_roundtrip("{\"empty\":\"\",\"list\":[\"\",\"\"]}", MSGPACK_OBJECT_MAP);
    json_roundtrip("[\"\"]", MSGPACK_OBJECT_ARRAY); /* the first string read is empty */
    json_roundtrip("{\"\":\"empty key first\"}", MSGPACK_OBJECT_MAP);
    json_roundtrip("\"h\\u00e9llo \\u2713 \\ud83d\\ude00 \xe6\x97\xa5\xe6\x9c\xac\"",
                   MSGPACK_OBJECT_STR);
    json_roundtrip("\"quote \\\" backslash \\\\ newline \\n tab \\t nul \\u0000 end\"",
                   MSGPACK_OBJECT_STR);
    json_roundtrip(
        "{\"greeting\":\"hello world\",\"n\":1,\"f\":2.5,\"ok\":true,\"no\":false,\"nil\":null}",
        MSGPACK_OBJECT_MAP);
    json_roundtrip("{\"a\":{\"b\":{\"c\":[1,[2,[3,{\"d\":\"\\u00fc\"}]]]}},\"e\":[],\"f\":{}}",
                   MSGPACK_OBJECT_MAP);
    json_roundtrip("[1,-1,1.25,\"s\",true,false,null,[],{}]", MSGPACK_OBJECT_ARRAY);
    json_roundtrip("{\"\\u00e9t\\u00e9\":\"\\u00e9\",\"\":\"empty key\"}", MSGPACK_OBJECT_MAP);

    /* the string's bytes are UTF-8 in msgpack */
    {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        CHECK(sq_json_text_to_mp("\"\\u00e9\"", 8, &pk, NULL, 0) == SQ_OK && sb.size == 3 &&
                  memcmp(sb.data, "\xa2\xc3\xa9", 3) == 0,
              "\"\\u00e9\" did not become the fixstr c3 a9");
        msgpack_sbuffer_destroy(&sb);
        /* len is honoured: the text need not be NUL-terminated */
        msgpack_sbuffer_init(&sb);
        CHECK(sq_json_text_to_mp("[1]garbage", 3, &pk, NULL, 0) == SQ_OK && sb.size == 2,
              "sq_json_text_to_mp read past len");
        msgpack_sbuffer_destroy(&sb);
    }

    /* malformed JSON: a 400 and a message */
    static const char *const malformed[] = {
        "",
        " ",
        "{",
        "}",
        "{\"a\":}",
        "{\"a\" 1}",
        "[1,2",
        "nul",
        "tru",
        "{'a':1}",
        "{\"a\":1,}",
        "[1,]",
        "1 2",
        "{\"a\":1}}",
        "\"unterminated",
        "{\"a\":\"\\x\"}",
        "[0x10]",
        "{a:1}",
        "NaN",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        char err[256] = "";
        sq_status st;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        char *c = check_dup_exact_(malformed[i], strlen(malformed[i]));
        st = sq_json_text_to_mp(c, strlen(malformed[i]), &pk, err, sizeof err);
        CHECK(st == SQ_ERR_BAD_REQUEST, "malformed JSON '%s': got %s, want SQ_ERR_BAD_REQUEST",
              malformed[i], sq_status_name(st));
        CHECK(strncmp(err, "malformed JSON", 14) == 0,
              "malformed JSON '%s': message \"%s\" does not start with \"malformed JSON\"",
              malformed[i], err);
        free(c);
        msgpack_sbuffer_destroy(&sb);
    }

    /* nesting: JSON is accepted exactly when the msgpack it stands for passes sq_mp_check */
    for (int n = SQ_MP_MAX_DEPTH - 1; n <= SQ_MP_MAX_DEPTH + 2; n++) {
        char txt[256];
        msgpack_sbuffer sb, ref;
        msgpack_packer pk;
        char err[256] = "";
        sq_status st, want;
        nested_json(txt, n);
        build_nested(&ref, n, 'a', false);
        want = check_exact(ref.data, ref.size) == SQ_OK ? SQ_OK : SQ_ERR_BAD_REQUEST;
        msgpack_sbuffer_destroy(&ref);
        CHECK(want == (n <= SQ_MP_MAX_DEPTH ? SQ_OK : SQ_ERR_BAD_REQUEST),
              "sq_mp_check and SQ_MP_MAX_DEPTH disagree at %d", n);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        st = sq_json_text_to_mp(txt, strlen(txt), &pk, err, sizeof err);
        CHECK(st == want,
              "JSON of %d nested arrays holding a number: got %s, want %s (sq_mp_check %s it; "
              "SQ_MP_MAX_DEPTH=%d)",
              n, sq_status_name(st), sq_status_name(want), want == SQ_OK ? "accepts" : "rejects",
              SQ_MP_MAX_DEPTH);
        if (st != SQ_OK)
            CHECK(err[0] != '\0', "no message for JSON nested %d deep", n);
        msgpack_sbuffer_destroy(&sb);
    }
    {
        static char txt[2 * 10000 + 2];
        msgpack_sbuffer sb;
        msgpack_packer pk;
        nested_json(txt, 10000);
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        CHECK(sq_json_text_to_mp(txt, strlen(txt), &pk, NULL, 0) == SQ_ERR_BAD_REQUEST,
              "JSON nested 10000 deep accepted");
        msgpack_sbuffer_destroy(&sb);
    }

    /* msgpack values JSON has no word for */
    mp_to_json_is(B("\xc4\x03\x01\x02\x03"), "\"AQID\"", "bin as base64");
    mp_to_json_is(B("\xd4\x01\xaa"), "null", "ext as null");
    mp_to_json_is(B("\x82\x07\xa1"
                    "a\xff\xa1"
                    "b"),
                  "{\"7\":\"a\",\"-1\":\"b\"}", "int map keys stringified");
    mp_to_json_is(B("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), "18446744073709551615.0",
                  "uint64 max as a real");
    mp_to_json_is(B("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"), "null", "NaN as null");
    mp_to_json_is(B("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"), "null", "infinity as null");
    mp_to_json_is(B("\xca\x3f\xc0\x00\x00"), "1.5", "float32");
    /* JSON carries UTF-8 only: each invalid sequence becomes U+FFFD, the string stays */
    mp_to_json_is(B("\xa2\xc3\x28"), "\"\xef\xbf\xbd(\"", "invalid UTF-8 string with U+FFFD");
    mp_to_json_is(B("\x91\xa2\xff\xfe"), "[\"\xef\xbf\xbd\xef\xbf\xbd\"]",
                  "invalid UTF-8 inside an array");

    /* the direct writer gives jansson's bytes exactly (every case above checks it too):
     * escapes, reals, keys */
    mp_to_json_is(B("\xa8\x22\x5c\x08\x0c\x0a\x0d\x09\x01"), NULL, "escapes");
    mp_to_json_is(B("\xa3\x7f/\x00"), NULL, "DEL, slash, NUL");
    mp_to_json_is(B("\xa4\xe2\x80\xa8\xc3"), NULL, "U+2028, then a cut sequence");
    mp_to_json_is(B("\xa0"), NULL, "empty string");
    mp_to_json_is(B("\xc4\x00"), NULL, "empty bin");
    mp_to_json_is(B("\x80"), NULL, "empty map");
    mp_to_json_is(B("\x90"), NULL, "empty array");
    mp_to_json_is(B("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"), NULL, "1.0");
    mp_to_json_is(B("\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"), NULL, "0.1");
    mp_to_json_is(B("\xcb\x80\x00\x00\x00\x00\x00\x00\x00"), NULL, "-0.0");
    mp_to_json_is(B("\xcb\x44\x15\xaf\x1d\x78\xb5\x8c\x40"), NULL, "1e20");
    mp_to_json_is(B("\xcb\x3e\xe4\xf8\xb5\x88\xe3\x68\xf1"), NULL, "1e-5");
    mp_to_json_is(B("\xcb\x7f\xef\xff\xff\xff\xff\xff\xff"), NULL, "DBL_MAX");
    mp_to_json_is(B("\xcb\x00\x00\x00\x00\x00\x00\x00\x01"), NULL, "the smallest subnormal");
    mp_to_json_is(B("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), NULL, "uint64 max");
    mp_to_json_is(B("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), NULL, "int64 max");
    mp_to_json_is(B("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), NULL, "int64 min");
    mp_to_json_is(B("\x83\xa1k\x01\xa1j\x02\xa1k\x03"), NULL, "a repeated key");
    mp_to_json_is(B("\x82\x01\xa1x\xa1\x31\xa1y"), NULL, "an int key and its text");
    mp_to_json_is(B("\x82\xa1\xff\x01\xa1\xfe\x02"), NULL, "keys not UTF-8");
    mp_to_json_is(B("\x81\xa0\x81\xa0\x92\xc0\xc3"), NULL, "empty keys, nested");
    {
        /* 40 keys: past the pairwise check */
        char m[3 + 40 * 4];
        size_t n = 0;
        m[n++] = (char)0xde, m[n++] = 0, m[n++] = 40;
        for (int i = 0; i < 40; i++) {
            m[n++] = (char)0xa2, m[n++] = (char)('a' + i / 26), m[n++] = (char)('a' + i % 26);
            m[n++] = (char)i;
        }
        mp_to_json_is(m, n, NULL, "a map of 40 keys");
    }
}
