/* Unit tests of libsq's foundations: the hostile-buffer check and safe unpack of msgpack,
 * the table-driven map decoder, JSON <-> msgpack conversion, entity names against
 * OpenWhisk's regular expression, ids, the status table, the wire error and the config
 * table. Every buffer handed to the code under test is an exact-size heap copy, so under
 * ASan (the test build) a read past the end is a crash, not a silent pass. */
#include "mp_test.h"
#include "sq/log.h"

CHECK_DEFINE_COUNTERS;

/* ---------------------------------------------------------------- helpers */

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

sq_status check_exact(const void *p, size_t len)
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
void build_nested(msgpack_sbuffer *sb, int n, char kind, bool empty_inner)
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
