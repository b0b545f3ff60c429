/* Unit tests of libsq's small generic helpers: the merge of parameter layers in OpenWhisk's
 * order (package < binding < action < invoke; trigger < fire payload), in both shapes, with
 * duplicates, malformed entries and a large payload; the string hash against FNV-1a's
 * published vectors; sq_errf. Layers are built from JSON so the cases read like the API's
 * bodies. */
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "sq/json.h"
#include "sq/kv.h"
#include "sq/mp.h"
#include "sq/util.h"

static msgpack_zone Z;

/* The msgpack object of a JSON text, in Z. */
static msgpack_object obj(const char *json)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_NIL };
    json_error_t e;
    json_t *j = json_loads(json, JSON_DECODE_ANY, &e);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *copy;
    if (j == NULL) {
        fprintf(stderr, "bad JSON in test: %s\n", json);
        return o;
    }
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    sq_json_to_mp(j, &pk);
    json_decref(j);
    copy = msgpack_zone_malloc(&Z, sb.size);
    memcpy(copy, sb.data, sb.size);
    if (sq_mp_unpack(copy, sb.size, &Z, &o) != SQ_OK)
        fprintf(stderr, "could not unpack test JSON %s\n", json);
    msgpack_sbuffer_destroy(&sb);
    return o;
}

/* The compact JSON text of o (sorted keys off: the order is part of what is checked). */
static const char *text(const msgpack_object *o)
{
    static char buf[8192];
    json_t *j = sq_mp_to_json(o);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, sizeof buf, "%s", s ? s : "(null)");
    free(s);
    json_decref(j);
    return buf;
}

static const char *merged(const char *const *json, size_t n, sq_kv_shape shape)
{
    msgpack_object layers[8], out;
    const msgpack_object *p[8];
    for (size_t i = 0; i < n; i++) {
        p[i] = NULL;
        if (json[i] != NULL) {
            layers[i] = obj(json[i]);
            p[i] = &layers[i];
        }
    }
    if (sq_kv_merge(p, n, shape, &Z, &out) != SQ_OK)
        return "(error)";
    return text(&out);
}

#define MERGE(shape, want, ...)                                                                    \
    do {                                                                                           \
        const char *in_[] = { __VA_ARGS__ };                                                       \
        CHECK_STR(merged(in_, sizeof in_ / sizeof in_[0], shape), want, #__VA_ARGS__);             \
    } while (0)

static void openwhisk_order(void)
{
    SECTION("an action's input: package < binding < action < invoke");
    MERGE(SQ_KV_MAP, "{\"a\":\"action\",\"p\":\"package\",\"b\":\"binding\",\"i\":\"invoke\"}",
          "[{\"key\":\"a\",\"value\":\"package\"},{\"key\":\"p\",\"value\":\"package\"}]",
          "[{\"key\":\"a\",\"value\":\"binding\"},{\"key\":\"b\",\"value\":\"binding\"}]",
          "[{\"key\":\"a\",\"value\":\"action\"}]", "{\"i\":\"invoke\"}");
    MERGE(SQ_KV_MAP, "{\"p\":\"package\",\"a\":\"invoke\"}",
          "[{\"key\":\"p\",\"value\":\"package\"},{\"key\":\"a\",\"value\":\"package\"}]",
          "[{\"key\":\"a\",\"value\":\"action\"}]", "{\"a\":\"invoke\"}");
    /* the order is the first appearance: a later layer moves nothing */
    MERGE(SQ_KV_MAP, "{\"x\":1,\"y\":20,\"z\":3}", "{\"x\":1,\"y\":2}", "{\"z\":3,\"y\":20}");
    /* null values override too (OpenWhisk passes them on) */
    MERGE(SQ_KV_MAP, "{\"x\":null}", "[{\"key\":\"x\",\"value\":5}]", "{\"x\":null}");

    SECTION("a trigger's event: trigger parameters < fire payload");
    MERGE(SQ_KV_MAP, "{\"t\":\"trigger\",\"both\":\"payload\",\"p\":true}",
          "[{\"key\":\"t\",\"value\":\"trigger\"},{\"key\":\"both\",\"value\":\"trigger\"}]",
          "{\"both\":\"payload\",\"p\":true}");
    MERGE(SQ_KV_MAP, "{\"t\":1}", "[{\"key\":\"t\",\"value\":1}]", "{}");
    MERGE(SQ_KV_MAP, "{\"t\":1}", "[{\"key\":\"t\",\"value\":1}]", NULL);
    MERGE(SQ_KV_MAP, "{}", "[]", "{}");
    MERGE(SQ_KV_MAP, "{}", NULL, NULL);
    /* a payload that is not an object adds nothing (the callers refuse or pass it on) */
    MERGE(SQ_KV_MAP, "{\"t\":1}", "[{\"key\":\"t\",\"value\":1}]", "\"text\"");
}

static void stored_arrays(void)
{
    SECTION("stored arrays: package < binding as {key, value} entries");
    MERGE(SQ_KV_ARRAY,
          "[{\"key\":\"a\",\"value\":2},{\"key\":\"b\",\"value\":1},{\"key\":\"c\",\"value\":3}]",
          "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":1}]",
          "[{\"key\":\"a\",\"value\":2},{\"key\":\"c\",\"value\":3}]");
    /* a map layer's keys become entries */
    MERGE(SQ_KV_ARRAY, "[{\"key\":\"a\",\"value\":1},{\"key\":\"m\",\"value\":[1]}]",
          "[{\"key\":\"a\",\"value\":1}]", "{\"m\":[1]}");
    MERGE(SQ_KV_ARRAY, "[]", "[]", "[]");
    MERGE(SQ_KV_ARRAY, "[]", NULL);
}

static void malformed(void)
{
    SECTION("duplicates and malformed entries");
    /* the last duplicate of a layer wins, at the first one's place */
    MERGE(SQ_KV_MAP, "{\"a\":3,\"b\":2}",
          "[{\"key\":\"a\",\"value\":1},{\"key\":\"b\",\"value\":2},{\"key\":\"a\",\"value\":3}]");
    /* entries without a string key are skipped; without value they are null */
    MERGE(SQ_KV_MAP, "{\"ok\":1,\"novalue\":null}",
          "[{\"key\":5,\"value\":1},{\"value\":2},7,\"x\",{\"key\":\"ok\",\"value\":1},"
          "{\"key\":\"novalue\"}]");
    /* keys that are prefixes of each other stay apart */
    MERGE(SQ_KV_MAP, "{\"ab\":1,\"a\":2,\"abc\":3}", "{\"ab\":1}", "{\"a\":2,\"abc\":3}");
    MERGE(SQ_KV_MAP, "{\"\":2}", "{\"\":1}", "{\"\":2}");
}

static void large(void)
{
    enum { N = 20000 };
    msgpack_object_kv *kv = msgpack_zone_malloc(&Z, sizeof *kv * N);
    msgpack_object big = { .type = MSGPACK_OBJECT_MAP }, defaults = obj("{\"k7\":\"d\",\"z\":1}"),
                   out;
    const msgpack_object *layers[] = { &defaults, &big };
    char *names = msgpack_zone_malloc(&Z, (size_t)N * 8);
    int64_t t0;

    SECTION("a large payload merges in linear time");
    for (int i = 0; i < N; i++) {
        int len = snprintf(names + 8 * i, 8, "k%d", i);
        memset(&kv[i], 0, sizeof kv[i]);
        kv[i].key.type = MSGPACK_OBJECT_STR;
        kv[i].key.via.str.ptr = names + 8 * i;
        kv[i].key.via.str.size = (uint32_t)len;
        kv[i].val.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        kv[i].val.via.u64 = (uint64_t)i;
    }
    big.via.map.size = N;
    big.via.map.ptr = kv;
    t0 = sq_mono_us();
    CHECK_INT(sq_kv_merge(layers, 2, SQ_KV_MAP, &Z, &out), SQ_OK, "merge");
    /* quadratic would be 4e8 comparisons: seconds; linear is well under one */
    CHECK(sq_mono_us() - t0 < 1000000, "took %lld us", (long long)(sq_mono_us() - t0));
    CHECK_INT(out.via.map.size, N + 1, "size: every key once");
    CHECK(out.via.map.ptr[0].key.via.str.size == 2 &&
              memcmp(out.via.map.ptr[0].key.via.str.ptr, "k7", 2) == 0 &&
              out.via.map.ptr[0].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
              out.via.map.ptr[0].val.via.u64 == 7,
          "k7 overridden by the payload, at the default's place");
    CHECK(out.via.map.ptr[N].val.via.u64 == (uint64_t)(N - 1), "last payload key last");
}

static void hash_and_errf(void)
{
    char err[16];
    SECTION("FNV-1a vectors");
    CHECK(sq_hash_str(SQ_HASH_INIT, "") == 0xcbf29ce484222325ULL, "empty");
    CHECK(sq_hash_str(SQ_HASH_INIT, "a") == 0xaf63dc4c8601ec8cULL, "a");
    CHECK(sq_hash_str(SQ_HASH_INIT, "foobar") == 0x85944171f73967e8ULL, "foobar");
    CHECK(sq_hash_bytes(SQ_HASH_INIT, "foobar", 6) == sq_hash_str(SQ_HASH_INIT, "foobar"),
          "bytes = str");
    CHECK(sq_hash_str(sq_hash_str(SQ_HASH_INIT, "foo"), "bar") ==
              sq_hash_str(SQ_HASH_INIT, "foobar"),
          "incremental");
    CHECK(sq_hash_byte(sq_hash_str(SQ_HASH_INIT, "fooba"), 'r') ==
              sq_hash_str(SQ_HASH_INIT, "foobar"),
          "byte");

    SECTION("sq_errf");
    CHECK_INT(sq_errf(SQ_ERR_BAD_REQUEST, err, sizeof err, "bad %s %d", "thing", 42),
              SQ_ERR_BAD_REQUEST, "status");
    CHECK_STR(err, "bad thing 42", "message");
    CHECK_INT(sq_errf(SQ_ERR_CONFLICT, err, sizeof err, "%s", "a very long message indeed"),
              SQ_ERR_CONFLICT, "status");
    CHECK_STR(err, "a very long mes", "cut short, terminated");
    CHECK_INT(sq_errf(SQ_ERR_NOT_FOUND, NULL, 0, "x"), SQ_ERR_NOT_FOUND, "no buffer");
}

int main(void)
{
    msgpack_zone_init(&Z, 4096);
    openwhisk_order();
    stored_arrays();
    malformed();
    large();
    hash_and_errf();
    msgpack_zone_destroy(&Z);
    return check_done();
}
