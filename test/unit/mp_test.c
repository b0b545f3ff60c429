/* Unit tests of libsq's foundations: the hostile-buffer check and safe unpack of msgpack,
 * the table-driven map decoder, JSON <-> msgpack conversion, entity names against
 * OpenWhisk's regular expression, ids, the status table, the wire error and the config
 * table. Every buffer handed to the code under test is an exact-size heap copy, so under
 * ASan (the test build) a read past the end is a crash, not a silent pass. */
#include <jansson.h>
#include <msgpack.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#define REC_TOP_REQUIRED true
#include "mp_fields.h"
#include "sq/bus.h"
#include "sq/config.h"
#include "sq/json.h"
#include "sq/log.h"
#include "sq/mp.h"
#include "sq/status.h"
#include "sq/util.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
    const char *bytes;
    size_t len;
    const char *what;
    msgpack_object_type type;
} sample;

#define B(s) s, sizeof(s) - 1

/* One valid encoding of every msgpack type and format family. */
static const sample valid_samples[] = {
    { B("\xc0"), "nil", MSGPACK_OBJECT_NIL },
    { B("\xc2"), "false", MSGPACK_OBJECT_BOOLEAN },
    { B("\xc3"), "true", MSGPACK_OBJECT_BOOLEAN },
    { B("\x00"), "positive fixint 0", MSGPACK_OBJECT_POSITIVE_INTEGER },
    { B("\x7f"), "positive fixint 127", MSGPACK_OBJECT_POSITIVE_INTEGER },
    { B("\xe0"), "negative fixint -32", MSGPACK_OBJECT_NEGATIVE_INTEGER },
    { B("\xff"), "negative fixint -1", MSGPACK_OBJECT_NEGATIVE_INTEGER },
    { B("\xcc\xff"), "uint8", MSGPACK_OBJECT_POSITIVE_INTEGER },
    { B("\xcd\x01\x00"), "uint16", MSGPACK_OBJECT_POSITIVE_INTEGER },
    { B("\xce\x00\x01\x00\x00"), "uint32", MSGPACK_OBJECT_POSITIVE_INTEGER },
    { B("\xcf\x00\x00\x00\x01\x00\x00\x00\x00"), "uint64", MSGPACK_OBJECT_POSITIVE_INTEGER },
    { B("\xd0\x80"), "int8", MSGPACK_OBJECT_NEGATIVE_INTEGER },
    { B("\xd1\xff\x00"), "int16", MSGPACK_OBJECT_NEGATIVE_INTEGER },
    { B("\xd2\x80\x00\x00\x00"), "int32", MSGPACK_OBJECT_NEGATIVE_INTEGER },
    { B("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), "int64", MSGPACK_OBJECT_NEGATIVE_INTEGER },
    { B("\xca\x3f\xc0\x00\x00"), "float32", MSGPACK_OBJECT_FLOAT32 },
    { B("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), "float64", MSGPACK_OBJECT_FLOAT64 },
    { B("\xa0"), "empty fixstr", MSGPACK_OBJECT_STR },
    { B("\xa3"
        "abc"),
      "fixstr", MSGPACK_OBJECT_STR },
    { B("\xa1\xc1"), "fixstr holding the byte 0xc1", MSGPACK_OBJECT_STR },
    { B("\xd9\x03"
        "abc"),
      "str8", MSGPACK_OBJECT_STR },
    { B("\xda\x00\x03"
        "abc"),
      "str16", MSGPACK_OBJECT_STR },
    { B("\xdb\x00\x00\x00\x03"
        "abc"),
      "str32", MSGPACK_OBJECT_STR },
    { B("\xc4\x02\x01\x02"), "bin8", MSGPACK_OBJECT_BIN },
    { B("\xc5\x00\x02\x01\x02"), "bin16", MSGPACK_OBJECT_BIN },
    { B("\xc6\x00\x00\x00\x02\x01\x02"), "bin32", MSGPACK_OBJECT_BIN },
    { B("\xd4\x01\xaa"), "fixext1", MSGPACK_OBJECT_EXT },
    { B("\xd5\x01\xaa\xbb"), "fixext2", MSGPACK_OBJECT_EXT },
    { B("\xd6\x01\xaa\xbb\xcc\xdd"), "fixext4", MSGPACK_OBJECT_EXT },
    { B("\xd7\x01\x01\x02\x03\x04\x05\x06\x07\x08"), "fixext8", MSGPACK_OBJECT_EXT },
    { B("\xd8\x01\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"), "fixext16",
      MSGPACK_OBJECT_EXT },
    { B("\xc7\x02\x05\xaa\xbb"), "ext8", MSGPACK_OBJECT_EXT },
    { B("\xc8\x00\x02\x05\xaa\xbb"), "ext16", MSGPACK_OBJECT_EXT },
    { B("\xc9\x00\x00\x00\x02\x05\xaa\xbb"), "ext32", MSGPACK_OBJECT_EXT },
    { B("\x90"), "empty fixarray", MSGPACK_OBJECT_ARRAY },
    { B("\x92\x01\x02"), "fixarray", MSGPACK_OBJECT_ARRAY },
    { B("\xdc\x00\x02\x01\x02"), "array16", MSGPACK_OBJECT_ARRAY },
    { B("\xdd\x00\x00\x00\x02\x01\x02"), "array32", MSGPACK_OBJECT_ARRAY },
    { B("\x80"), "empty fixmap", MSGPACK_OBJECT_MAP },
    { B("\x81\xa1"
        "k\x01"),
      "fixmap", MSGPACK_OBJECT_MAP },
    { B("\xde\x00\x01\xa1"
        "k\x01"),
      "map16", MSGPACK_OBJECT_MAP },
    { B("\xdf\x00\x00\x00\x01\xa1"
        "k\x01"),
      "map32", MSGPACK_OBJECT_MAP },
    { B("\x82\xa1"
        "a\x93\x01\xc3\x81\xa1"
        "b\xc0\xa1"
        "c\xdc\x00\x01\xa5"
        "hello"),
      "nested map", MSGPACK_OBJECT_MAP },
};
#define NSAMPLES (sizeof valid_samples / sizeof valid_samples[0])

static sq_status check_exact(const void *p, size_t len)
{
    char *c = check_dup_exact_(p, len);
    sq_status st = sq_mp_check(c, len);
    free(c);
    return st;
}

/* sq_mp_unpack on an exact copy; reports whether the arena handed out any memory. */
static sq_status unpack_exact(const void *p, size_t len, bool *zone_used, msgpack_object_type *type)
{
    msgpack_zone z;
    msgpack_object o;
    char *c = check_dup_exact_(p, len);
    sq_status st;
    size_t free_before;
    char *ptr_before;
    void *head_before;

    msgpack_zone_init(&z, 1024);
    free_before = z.chunk_list.free;
    ptr_before = z.chunk_list.ptr;
    head_before = z.chunk_list.head;
    st = sq_mp_unpack(c, len, &z, &o);
    if (zone_used)
        *zone_used = z.chunk_list.free != free_before || z.chunk_list.ptr != ptr_before ||
                     (void *)z.chunk_list.head != head_before;
    if (type && st == SQ_OK)
        *type = o.type;
    msgpack_zone_destroy(&z);
    free(c);
    return st;
}

static void hexdump(char *out, size_t outlen, const void *p, size_t len)
{
    const unsigned char *b = p;
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < len && o + 4 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", b[i]);
    if (len * 2 + 1 > outlen && outlen > 4)
        strcpy(out + outlen - 4, "..");
}

/* The "kitchen sink": a map16 whose values are every valid sample, keyed k0, k1, ... */
static void build_sink(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(sb, "\xde", 1);
    unsigned char n[2] = { (unsigned char)(NSAMPLES >> 8), (unsigned char)NSAMPLES };
    msgpack_sbuffer_write(sb, (const char *)n, 2);
    for (size_t i = 0; i < NSAMPLES; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%zu", i);
        sq_mp_pack_str(&pk, key);
        msgpack_sbuffer_write(sb, valid_samples[i].bytes, valid_samples[i].len);
    }
}

/* ---------------------------------------------------------------- sq_mp_check */

static void test_check_valid(void)
{
    SECTION("sq_mp_check: valid objects of every type");
    for (size_t i = 0; i < NSAMPLES; i++) {
        const sample *s = &valid_samples[i];
        msgpack_object_type t = (msgpack_object_type)-1;
        char hx[128];
        hexdump(hx, sizeof hx, s->bytes, s->len);
        CHECK(check_exact(s->bytes, s->len) == SQ_OK, "sq_mp_check rejected a valid %s (%s)",
              s->what, hx);
        CHECK(unpack_exact(s->bytes, s->len, NULL, &t) == SQ_OK,
              "sq_mp_unpack rejected a valid %s (%s)", s->what, hx);
        CHECK(t == s->type, "sq_mp_unpack of %s gave object type %d, want %d", s->what, (int)t,
              (int)s->type);
    }
    msgpack_sbuffer sb;
    build_sink(&sb);
    CHECK(check_exact(sb.data, sb.size) == SQ_OK,
          "the map holding every sample (%zu bytes) was rejected", sb.size);
    CHECK(unpack_exact(sb.data, sb.size, NULL, NULL) == SQ_OK,
          "sq_mp_unpack rejected the map holding every sample");
    msgpack_sbuffer_destroy(&sb);
}

static void test_check_truncated(void)
{
    SECTION("sq_mp_check: every truncated prefix is rejected");
    msgpack_sbuffer sb;
    build_sink(&sb);
    int bad = 0;
    for (size_t n = 0; n < sb.size; n++) {
        bool used = false;
        sq_status a = check_exact(sb.data, n);
        sq_status b = unpack_exact(sb.data, n, &used, NULL);
        if (a != SQ_ERR_DECODE || b != SQ_ERR_DECODE || used) {
            if (bad++ < 5)
                CHECK(0,
                      "prefix of %zu of %zu bytes: sq_mp_check=%s sq_mp_unpack=%s arena used=%d, "
                      "want SQ_ERR_DECODE twice and no allocation",
                      n, sb.size, sq_status_name(a), sq_status_name(b), (int)used);
        } else {
            CHECK(1, "ok");
        }
    }
    CHECK(bad == 0, "%d of %zu prefixes were not rejected", bad, sb.size);
    /* also every prefix of every single sample */
    for (size_t i = 0; i < NSAMPLES; i++)
        for (size_t n = 0; n < valid_samples[i].len; n++)
            CHECK(check_exact(valid_samples[i].bytes, n) == SQ_ERR_DECODE,
                  "prefix of %zu of %zu bytes of %s accepted", n, valid_samples[i].len,
                  valid_samples[i].what);
    msgpack_sbuffer_destroy(&sb);
}

static void test_check_hostile(void)
{
    SECTION("sq_mp_check: hostile buffers");
    CHECK(sq_mp_check(NULL, 0) == SQ_ERR_DECODE, "NULL buffer accepted");
    CHECK(check_exact("", 0) == SQ_ERR_DECODE, "empty buffer accepted");
    CHECK(unpack_exact("", 0, NULL, NULL) == SQ_ERR_DECODE,
          "sq_mp_unpack accepted an empty buffer");

    /* trailing bytes after one complete object */
    static const sample trailing[] = {
        { B("\xc0\xc0"), "nil nil", 0 },
        { B("\x01\x02"), "two ints", 0 },
        { B("\x81\xa1"
            "k\x01\x00"),
          "map then a byte", 0 },
        { B("\x92\x01\x02\x03"), "array then a byte", 0 },
        { B("\xa1"
            "ab"),
          "fixstr with one byte too many", 0 },
        { B("\x80\x80"), "two empty maps", 0 },
    };
    for (size_t i = 0; i < sizeof trailing / sizeof trailing[0]; i++) {
        CHECK(check_exact(trailing[i].bytes, trailing[i].len) == SQ_ERR_DECODE,
              "trailing bytes accepted: %s", trailing[i].what);
        CHECK(unpack_exact(trailing[i].bytes, trailing[i].len, NULL, NULL) == SQ_ERR_DECODE,
              "sq_mp_unpack accepted trailing bytes: %s", trailing[i].what);
    }
    {
        msgpack_sbuffer sb;
        build_sink(&sb);
        msgpack_sbuffer_write(&sb, "\xc0", 1);
        CHECK(check_exact(sb.data, sb.size) == SQ_ERR_DECODE,
              "kitchen-sink map with one trailing nil accepted");
        msgpack_sbuffer_destroy(&sb);
    }

    /* 0xc1 is never used */
    static const sample reserved[] = {
        { B("\xc1"), "0xc1 alone", 0 },
        { B("\x91\xc1"), "0xc1 in an array", 0 },
        { B("\x81\xc1\x01"), "0xc1 as a map key", 0 },
        { B("\x81\xa1"
            "k\xc1"),
          "0xc1 as a map value", 0 },
        { B("\x93\x01\x02\xc1"), "0xc1 as the last element", 0 },
    };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        CHECK(check_exact(reserved[i].bytes, reserved[i].len) == SQ_ERR_DECODE, "%s accepted",
              reserved[i].what);
        CHECK(unpack_exact(reserved[i].bytes, reserved[i].len, NULL, NULL) == SQ_ERR_DECODE,
              "sq_mp_unpack accepted %s", reserved[i].what);
    }

    /* headers that claim far more than the buffer holds: rejected without allocating (had the
     * unpacker run, ASan would abort on a 96 GB request, or the arena would have grown) */
    static const sample huge[] = {
        { B("\xdd\xff\xff\xff\xff"), "array32 of 2^32-1 elements, no body", 0 },
        { B("\xdd\xff\xff\xff\xff\x01\x02\x03\x04\x05\x06\x07\x08"),
          "array32 of 2^32-1 elements, 8 present", 0 },
        { B("\xdf\xff\xff\xff\xff"), "map32 of 2^32-1 pairs", 0 },
        { B("\xdf\xff\xff\xff\xff\xa1"
            "k\x01"),
          "map32 of 2^32-1 pairs, one present", 0 },
        { B("\xdb\xff\xff\xff\xff"
            "abc"),
          "str32 of 4 GB", 0 },
        { B("\xc6\xff\xff\xff\xff"
            "abc"),
          "bin32 of 4 GB", 0 },
        { B("\xc9\xff\xff\xff\xff\x01"
            "abc"),
          "ext32 of 4 GB", 0 },
        { B("\xdc\xff\xff\x01\x02"), "array16 of 65535, 2 present", 0 },
        { B("\xde\xff\xff\xa1"
            "k\x01"),
          "map16 of 65535, 1 present", 0 },
        { B("\x9f\x01\x02\x03"), "fixarray of 15, 3 present", 0 },
        { B("\x8f\xa1"
            "k\x01"),
          "fixmap of 15, 1 present", 0 },
        { B("\x91\xdd\xff\xff\xff\xff"), "array32 of 2^32-1 nested in an array", 0 },
        { B("\x81\xa1"
            "k\xdd\x00\x00\x10\x00"),
          "array32 of 4096 in a map, none present", 0 },
    };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        bool used = false;
        CHECK(check_exact(huge[i].bytes, huge[i].len) == SQ_ERR_DECODE, "%s accepted",
              huge[i].what);
        CHECK(unpack_exact(huge[i].bytes, huge[i].len, &used, NULL) == SQ_ERR_DECODE,
              "sq_mp_unpack accepted %s", huge[i].what);
        CHECK(!used, "sq_mp_unpack allocated from the arena for %s", huge[i].what);
    }
}

/* n nested containers; kind 'a' arrays, 'm' maps; innermost holds one int, or nothing
 * when empty_inner. */
static void build_nested(msgpack_sbuffer *sb, int n, char kind, bool empty_inner)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (int i = 0; i < n; i++) {
        bool last = i == n - 1;
        if (kind == 'a') {
            msgpack_pack_array(&pk, last && empty_inner ? 0 : 1);
        } else {
            msgpack_pack_map(&pk, last && empty_inner ? 0 : 1);
            if (!(last && empty_inner))
                sq_mp_pack_str(&pk, "k");
        }
    }
    if (!empty_inner)
        msgpack_pack_int(&pk, 1);
}

static void test_check_depth(void)
{
    SECTION("sq_mp_check: nesting depth");
    for (int kind = 0; kind < 2; kind++) {
        char k = kind ? 'm' : 'a';
        const char *kn = kind ? "maps" : "arrays";
        msgpack_sbuffer sb;

        build_nested(&sb, SQ_MP_MAX_DEPTH, k, false);
        CHECK(check_exact(sb.data, sb.size) == SQ_OK, "%d nested %s (the maximum) rejected",
              SQ_MP_MAX_DEPTH, kn);
        CHECK(unpack_exact(sb.data, sb.size, NULL, NULL) == SQ_OK,
              "sq_mp_unpack rejected %d nested %s (the maximum)", SQ_MP_MAX_DEPTH, kn);
        msgpack_sbuffer_destroy(&sb);

        build_nested(&sb, SQ_MP_MAX_DEPTH + 1, k, false);
        CHECK(check_exact(sb.data, sb.size) == SQ_ERR_DECODE,
              "%d nested %s (one past the maximum) accepted", SQ_MP_MAX_DEPTH + 1, kn);
        CHECK(unpack_exact(sb.data, sb.size, NULL, NULL) == SQ_ERR_DECODE,
              "sq_mp_unpack accepted %d nested %s", SQ_MP_MAX_DEPTH + 1, kn);
        msgpack_sbuffer_destroy(&sb);

        build_nested(&sb, SQ_MP_MAX_DEPTH, k, true);
        CHECK(check_exact(sb.data, sb.size) == SQ_OK, "%d nested %s, innermost empty, rejected",
              SQ_MP_MAX_DEPTH, kn);
        msgpack_sbuffer_destroy(&sb);

        /* the contract is "nesting at most SQ_MP_MAX_DEPTH": an empty container one level
         * deeper is still one level too deep */
        build_nested(&sb, SQ_MP_MAX_DEPTH + 1, k, true);
        CHECK(check_exact(sb.data, sb.size) == SQ_ERR_DECODE,
              "%d nested %s whose innermost is empty accepted (nesting deeper than "
              "SQ_MP_MAX_DEPTH=%d)",
              SQ_MP_MAX_DEPTH + 1, kn, SQ_MP_MAX_DEPTH);
        msgpack_sbuffer_destroy(&sb);

        build_nested(&sb, 5000, k, false);
        CHECK(check_exact(sb.data, sb.size) == SQ_ERR_DECODE, "5000 nested %s accepted", kn);
        CHECK(unpack_exact(sb.data, sb.size, NULL, NULL) == SQ_ERR_DECODE,
              "sq_mp_unpack accepted 5000 nested %s", kn);
        msgpack_sbuffer_destroy(&sb);
    }
    /* wide is fine: 10000 siblings at depth 2 */
    {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 10000);
        for (int i = 0; i < 10000; i++) {
            msgpack_pack_array(&pk, 1);
            msgpack_pack_int(&pk, i);
        }
        CHECK(check_exact(sb.data, sb.size) == SQ_OK,
              "an array of 10000 one-element arrays rejected");
        msgpack_sbuffer_destroy(&sb);
    }
}

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

static void test_decode_map(void)
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

static void test_json(void)
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

/* ---------------------------------------------------------------- names */

static regex_t name_re;

static bool name_by_regex(const char *s)
{
    /* OpenWhisk: \A([\w]|[\w][\w@ .-]*[\w@.-]+)\z, at most 256 characters; \w = [A-Za-z0-9_] */
    return strlen(s) <= 256 && strchr(s, '\n') == NULL && regexec(&name_re, s, 0, NULL, 0) == 0;
}

static void test_names(void)
{
    SECTION("sq_name_valid");
    int rc = regcomp(&name_re, "^([A-Za-z0-9_]|[A-Za-z0-9_][A-Za-z0-9_@ .-]*[A-Za-z0-9_@.-]+)$",
                     REG_EXTENDED | REG_NOSUB);
    CHECK(rc == 0, "test bug: regcomp failed");
    if (rc != 0)
        return;

    char n256[258], n257[259];
    memset(n256, 'a', 256);
    n256[256] = '\0';
    memset(n257, 'a', 257);
    n257[257] = '\0';

    static const char *const good[] = {
        "a",
        "Z",
        "_",
        "0",
        "hello",
        "hello_world",
        "hello world",
        "a.b",
        "a-b",
        "a@b",
        "a.",
        "a-",
        "a@",
        "a b c",
        "A1_b2",
        "__init__",
        "x  y",
        "v1.0.0",
        "john@example.com",
        "0-",
        "_.",
        "9 9",
    };
    static const char *const bad[] = {
        "",      " ",    "a ",  " a",   "-x",   ".x",       "@x",        "a/b",
        "/",     "/a",   "a\n", "a\t",  "a\tb", "\xc3\xa9", "a\xc3\xa9", "bad name ",
        "a b/c", "a%20", "a*",  "a?",   "a#b",  "a+b",      "a:b",       "a,b",
        "a'b",   "a\"b", "(a)", "a\\b", "~",    "a\r",      "a b ",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        CHECK(sq_name_valid(good[i]), "good name \"%s\" rejected", good[i]);
        CHECK(name_by_regex(good[i]), "test bug: regex rejects \"%s\"", good[i]);
    }
    CHECK(sq_name_valid(n256), "a name of 256 characters rejected");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!sq_name_valid(bad[i]), "bad name \"%s\" accepted", bad[i]);
        CHECK(!name_by_regex(bad[i]), "test bug: regex accepts \"%s\"", bad[i]);
    }
    CHECK(!sq_name_valid(n257), "a name of 257 characters accepted");
    CHECK(!sq_name_valid(NULL), "NULL accepted");

    /* exhaustively: every string of 1 to 4 characters over an alphabet that exercises each
     * branch of the regex agrees with the regex */
    static const char alpha[] = {
        'a', 'Z', '5', '_', ' ', '-', '.', '@', '/', '*', '\t', (char)0xc3
    };
    enum { NA = sizeof alpha };
    int disagree = 0, total = 0;
    for (int len = 1; len <= 4; len++) {
        int combos = 1;
        for (int i = 0; i < len; i++)
            combos *= NA;
        for (int c = 0; c < combos; c++) {
            char s[5];
            int x = c;
            for (int i = 0; i < len; i++) {
                s[i] = alpha[x % NA];
                x /= NA;
            }
            s[len] = '\0';
            total++;
            if (sq_name_valid(s) != name_by_regex(s) && disagree++ < 5)
                CHECK(0, "\"%s\": sq_name_valid says %d, the regex says %d", s, sq_name_valid(s),
                      name_by_regex(s));
        }
    }
    CHECK(disagree == 0, "sq_name_valid disagrees with the regex on %d of %d strings", disagree,
          total);
    regfree(&name_re);
}

/* ---------------------------------------------------------------- ids */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_ids(void)
{
    SECTION("ids");
    enum { N = 2000 };
    static char ids[N][33];
    int badfmt = 0;
    CHECK(sq_crypto_init() == 0, "sq_crypto_init failed");
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'X', 33);
        sq_id_new(ids[i]);
        bool ok =
            strlen(ids[i]) == 32 && strspn(ids[i], "0123456789abcdef") == 32 && sq_id_valid(ids[i]);
        if (!ok && badfmt++ < 3)
            CHECK(0, "sq_id_new gave \"%.33s\", want 32 lower-case hex characters", ids[i]);
    }
    CHECK(badfmt == 0, "%d of %d ids malformed", badfmt, N);
    qsort(ids, N, 33, cmp_id);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += strcmp(ids[i - 1], ids[i]) == 0;
    CHECK(dups == 0, "%d duplicate ids among %d", dups, N);

    CHECK(sq_id_valid("0123456789abcdef0123456789abcdef"), "a valid id rejected");
    CHECK(!sq_id_valid(""), "empty id accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcde"), "31 characters accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcdef0"), "33 characters accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcdeg"), "a 'g' accepted");
    CHECK(!sq_id_valid("0123456789abcdef-123456789abcdef"), "a '-' accepted");
    CHECK(!sq_id_valid(" 123456789abcdef0123456789abcdef"), "a space accepted");
    CHECK(!sq_id_valid("0123456789abcdef0123456789abcde\n"), "a newline accepted");
    CHECK(!sq_id_valid("../../../../../../../../../../.."), "a path accepted");

    char u[37];
    memset(u, 'X', sizeof u);
    sq_uuid_new(u);
    CHECK(strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-' &&
              u[14] == '4' && strchr("89ab", u[19]) != NULL,
          "sq_uuid_new gave \"%.37s\", want a version-4 UUID", u);
}

/* ---------------------------------------------------------------- status table */

static void test_status(void)
{
    SECTION("status table");
    static const struct {
        sq_status st;
        int http;
        const char *name;
    } want[] = {
        { SQ_OK, 200, "SQ_OK" },
        { SQ_ACCEPTED, 202, "SQ_ACCEPTED" },
        { SQ_ERR_BAD_REQUEST, 400, "SQ_ERR_BAD_REQUEST" },
        { SQ_ERR_DECODE, 400, "SQ_ERR_DECODE" },
        { SQ_ERR_BAD_NAME, 400, "SQ_ERR_BAD_NAME" },
        { SQ_ERR_UNAUTHORIZED, 401, "SQ_ERR_UNAUTHORIZED" },
        { SQ_ERR_FORBIDDEN, 403, "SQ_ERR_FORBIDDEN" },
        { SQ_ERR_NOT_FOUND, 404, "SQ_ERR_NOT_FOUND" },
        { SQ_ERR_METHOD, 405, "SQ_ERR_METHOD" },
        { SQ_ERR_CONFLICT, 409, "SQ_ERR_CONFLICT" },
        { SQ_ERR_TOO_LARGE, 413, "SQ_ERR_TOO_LARGE" },
        { SQ_ERR_TOO_MANY, 429, "SQ_ERR_TOO_MANY" },
        { SQ_ERR_INTERNAL, 500, "SQ_ERR_INTERNAL" },
        { SQ_ERR_NOMEM, 500, "SQ_ERR_NOMEM" },
        { SQ_ERR_IO, 500, "SQ_ERR_IO" },
        { SQ_ERR_DB, 500, "SQ_ERR_DB" },
        { SQ_ERR_ACTION_FAILED, 502, "SQ_ERR_ACTION_FAILED" },
        { SQ_ERR_UNAVAILABLE, 503, "SQ_ERR_UNAVAILABLE" },
        { SQ_ERR_TIMEOUT, 503, "SQ_ERR_TIMEOUT" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_INT(sq_status_http(want[i].st), want[i].http, want[i].name);
        CHECK_STR(sq_status_name(want[i].st), want[i].name, "sq_status_name");
        CHECK(sq_status_str(want[i].st) && sq_status_str(want[i].st)[0], "%s has no message",
              want[i].name);
    }
    CHECK_INT(SQ_STATUS_COUNT_, sizeof want / sizeof want[0],
              "statuses in status.def (this test lists each)");
    for (int a = 0; a < SQ_STATUS_COUNT_; a++)
        for (int b = a + 1; b < SQ_STATUS_COUNT_; b++)
            CHECK(strcmp(sq_status_name(a), sq_status_name(b)) != 0, "duplicate status name %s",
                  sq_status_name(a));
    CHECK_INT(sq_status_http((sq_status)SQ_STATUS_COUNT_), 500, "http of an out-of-range status");
    CHECK_INT(sq_status_http((sq_status)-1), 500, "http of status -1");
    CHECK_STR(sq_status_name((sq_status)999), "SQ_ERR_UNKNOWN", "name of status 999");
    CHECK(sq_status_str((sq_status)999) != NULL, "message of status 999 is NULL");

    CHECK_INT(sq_status_from_http(200), SQ_OK, "from 200");
    CHECK_INT(sq_status_from_http(400), SQ_ERR_BAD_REQUEST, "from 400");
    CHECK_INT(sq_status_from_http(401), SQ_ERR_UNAUTHORIZED, "from 401");
    CHECK_INT(sq_status_from_http(404), SQ_ERR_NOT_FOUND, "from 404");
    CHECK_INT(sq_status_from_http(409), SQ_ERR_CONFLICT, "from 409");
    CHECK_INT(sq_status_from_http(413), SQ_ERR_TOO_LARGE, "from 413");
    CHECK_INT(sq_status_from_http(429), SQ_ERR_TOO_MANY, "from 429");
    CHECK_INT(sq_status_from_http(502), SQ_ERR_ACTION_FAILED, "from 502");
    CHECK_INT(sq_status_from_http(503), SQ_ERR_UNAVAILABLE, "from 503");
    CHECK_INT(sq_status_from_http(599), SQ_ERR_INTERNAL, "from 599");
    CHECK_INT(sq_status_from_http(418), SQ_ERR_BAD_REQUEST, "from 418");
    /* every status survives http -> status -> http */
    for (int s = 0; s < SQ_STATUS_COUNT_; s++)
        CHECK_INT(sq_status_http(sq_status_from_http(sq_status_http(s))), sq_status_http(s),
                  sq_status_name(s));
}

/* ---------------------------------------------------------------- wire error */

static void test_wire_error(void)
{
    SECTION("wire error");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone z;
    msgpack_object o;
    int code = 0;
    const char *m = NULL;
    size_t ml = 0;

    msgpack_zone_init(&z, 1024);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sq_wire_error_pack(&pk, SQ_ERR_NOT_FOUND, "action \"x\" not found");
    CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK, "a packed wire error does not unpack");
    CHECK(sq_wire_error_get(&o, &code, &m, &ml),
          "sq_wire_error_get did not recognise a wire error");
    CHECK_INT(code, 404, "wire error code");
    CHECK(ml == strlen("action \"x\" not found") && memcmp(m, "action \"x\" not found", ml) == 0,
          "wire error message");
    {
        const msgpack_object *e = sq_mp_get(&o, "error");
        CHECK(o.via.map.size == 1 && e && e->type == MSGPACK_OBJECT_MAP && sq_mp_get(e, "code") &&
                  sq_mp_get(e, "code")->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                  sq_mp_get(e, "message") && sq_mp_get(e, "message")->type == MSGPACK_OBJECT_STR,
              "wire error is not map{error: map{code: int, message: str}}");
    }
    msgpack_sbuffer_destroy(&sb);

    msgpack_sbuffer_init(&sb);
    sq_wire_error_pack(&pk, SQ_ERR_DECODE, NULL);
    CHECK(sq_mp_unpack(sb.data, sb.size, &z, &o) == SQ_OK &&
              sq_wire_error_get(&o, &code, &m, &ml) && code == 400 &&
              ml == strlen(sq_status_str(SQ_ERR_DECODE)),
          "wire error with the default message");
    msgpack_sbuffer_destroy(&sb);

    CHECK(sq_mp_unpack(B("\x81\xa2"
                         "ok\xc3"),
                       &z, &o) == SQ_OK &&
              !sq_wire_error_get(&o, &code, &m, &ml),
          "{ok: true} taken for a wire error");
    CHECK(sq_mp_unpack(B("\x81\xa5"
                         "error\xa1"
                         "x"),
                       &z, &o) == SQ_OK &&
              !sq_wire_error_get(&o, &code, &m, &ml),
          "{error: \"x\"} (not a map) taken for a wire error");
    msgpack_zone_destroy(&z);
}

/* ---------------------------------------------------------------- config */

static int c_port;
static bool c_fast;
static char *c_url, *c_key;
static const sq_cfg_entry cfg_table[] = {
    SQ_CFG_INT("port", "SQT_PORT", 1, 65535, 3233, c_port),
    SQ_CFG_BOOL("fast", "SQT_FAST", false, c_fast),
    SQ_CFG_STR("url", "SQT_URL", "nats://default:4222", c_url),
    SQ_CFG_SECRET("key", "SQT_KEY", NULL, c_key),
};
#define NCFG (sizeof cfg_table / sizeof cfg_table[0])

static char cfg_path[256];

static void write_cfg(const char *text)
{
    FILE *f = fopen(cfg_path, "w");
    if (f == NULL) {
        perror(cfg_path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void clear_env(void)
{
    unsetenv("SQ_CONFIG");
    unsetenv("SQT_PORT");
    unsetenv("SQT_FAST");
    unsetenv("SQT_URL");
    unsetenv("SQT_KEY");
}

static sq_status cfg_load(void)
{
    sq_config_free(cfg_table, NCFG);
    c_port = -1;
    c_fast = false;
    return sq_config_load(cfg_table, NCFG);
}

static void test_config(void)
{
    SECTION("config table");
    sq_status st;
    const char *tmp = getenv("TMPDIR");
    int fd;

    snprintf(cfg_path, sizeof cfg_path, "%s/sq_cfg_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(cfg_path);
    CHECK(fd >= 0, "mkstemp %s failed", cfg_path);
    if (fd < 0)
        return;
    close(fd);

    /* defaults */
    clear_env();
    st = cfg_load();
    CHECK(st == SQ_OK, "defaults: %s", sq_status_name(st));
    CHECK_INT(c_port, 3233, "default port");
    CHECK(c_fast == false, "default bool");
    CHECK_STR(c_url, "nats://default:4222", "default string");
    CHECK_STR(c_key, "", "string without a default");

    /* file over defaults; comments, blank lines, spaces and unknown keys */
    write_cfg("# a comment\n\n   port =  4000  \nfast=yes\nurl = nats://file:1\n  # indented "
              "comment\nunknown = 1\n");
    setenv("SQ_CONFIG", cfg_path, 1);
    st = cfg_load();
    CHECK(st == SQ_OK, "file: %s", sq_status_name(st));
    CHECK_INT(c_port, 4000, "port from the file");
    CHECK(c_fast == true, "bool 'yes' from the file");
    CHECK_STR(c_url, "nats://file:1", "string from the file");
    CHECK_STR(c_key, "", "string absent from the file keeps its default");

    /* environment over file */
    setenv("SQT_PORT", "5000", 1);
    setenv("SQT_URL", "nats://env:2", 1);
    setenv("SQT_KEY", "s3cret", 1);
    st = cfg_load();
    CHECK(st == SQ_OK, "env: %s", sq_status_name(st));
    CHECK_INT(c_port, 5000, "port from the environment beats the file");
    CHECK(c_fast == true, "bool from the file survives when the environment does not set it");
    CHECK_STR(c_url, "nats://env:2", "string from the environment beats the file");
    CHECK_STR(c_key, "s3cret", "secret from the environment");
    setenv("SQT_FAST", "off", 1);
    st = cfg_load();
    CHECK(st == SQ_OK && c_fast == false, "SQT_FAST=off over fast=yes in the file: %s, %d",
          sq_status_name(st), c_fast);

    /* bounds are inclusive */
    setenv("SQT_PORT", "1", 1);
    CHECK(cfg_load() == SQ_OK && c_port == 1, "port 1 (the minimum) refused");
    setenv("SQT_PORT", "65535", 1);
    CHECK(cfg_load() == SQ_OK && c_port == 65535, "port 65535 (the maximum) refused");

    /* bad values from the environment */
    static const struct {
        const char *var, *val;
    } bad_env[] = {
        { "SQT_PORT", "0" },
        { "SQT_PORT", "65536" },
        { "SQT_PORT", "-1" },
        { "SQT_PORT", "12x" },
        { "SQT_PORT", "" },
        { "SQT_PORT", "abc" },
        { "SQT_PORT", "99999999999999999999999" },
        { "SQT_PORT", "4000 " },
        { "SQT_FAST", "maybe" },
        { "SQT_FAST", "" },
        { "SQT_FAST", "2" },
    };
    for (size_t i = 0; i < sizeof bad_env / sizeof bad_env[0]; i++) {
        clear_env();
        setenv(bad_env[i].var, bad_env[i].val, 1);
        st = cfg_load();
        CHECK(st == SQ_ERR_BAD_REQUEST, "%s=\"%s\": got %s, want SQ_ERR_BAD_REQUEST",
              bad_env[i].var, bad_env[i].val, sq_status_name(st));
    }

    /* bad files */
    clear_env();
    setenv("SQ_CONFIG", cfg_path, 1);
    write_cfg("port = 99999\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "port = 99999 in the file accepted");
    write_cfg("port = 4000\nthis line has no equals sign\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "a line without '=' accepted");
    write_cfg("fast = perhaps\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "fast = perhaps accepted");
    /* the environment's names as file keys (an /etc/squall/<svc>.conf that is also a
     * systemd EnvironmentFile=), values quoted as such a file may quote them */
    write_cfg("SQT_PORT = 4100\nSQT_URL=\"nats://quoted:3\"\nSQT_KEY = 'single'\nSQT_FAST = on\n");
    st = cfg_load();
    CHECK(st == SQ_OK, "SQ_* keys in the file: %s", sq_status_name(st));
    CHECK_INT(c_port, 4100, "SQT_PORT from the file");
    CHECK_STR(c_url, "nats://quoted:3", "a double-quoted value loses its quotes");
    CHECK_STR(c_key, "single", "a single-quoted value loses its quotes");
    CHECK(c_fast == true, "SQT_FAST = on from the file");
    write_cfg("url = \"unbalanced\nport = 4000\n");
    CHECK(cfg_load() == SQ_OK, "an unbalanced quote");
    CHECK_STR(c_url, "\"unbalanced", "an unbalanced quote is kept as it is");
    write_cfg("SQT_PORT = 99999\n");
    CHECK(cfg_load() == SQ_ERR_BAD_REQUEST, "SQT_PORT = 99999 in the file accepted");
    /* a unit test binary is not in an installed layout: no installed path */
    {
        char out[256] = "untouched";
        CHECK(!sq_installed_path("share/squall/schemas", out, sizeof out),
              "an installed path for a build-tree binary");
        CHECK_STR(out, "untouched", "sq_installed_path wrote on failure");
    }
    setenv("SQ_CONFIG", "/nonexistent/squall/config", 1);
    st = cfg_load();
    CHECK(st == SQ_ERR_IO, "SQ_CONFIG naming a missing file: got %s, want SQ_ERR_IO",
          sq_status_name(st));
    setenv("SQ_CONFIG", "", 1);
    CHECK(cfg_load() == SQ_OK && c_port == 3233, "SQ_CONFIG empty should mean no file");

    sq_config_free(cfg_table, NCFG);
    CHECK(c_url == NULL && c_key == NULL, "sq_config_free left strings behind");
    clear_env();
    unlink(cfg_path);
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    sq_log_init("mp_test");
    test_check_valid();
    test_check_truncated();
    test_check_hostile();
    test_check_depth();
    test_decode_map();
    test_json();
    test_names();
    test_ids();
    test_status();
    test_wire_error();
    test_config();
    return check_done();
}
