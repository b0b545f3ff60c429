/* proto_test's hostile input: every truncated prefix of every message is rejected; wrong
 * types, missing fields and maps that are not messages are rejected with a message; random,
 * structured and mutated buffers never crash a decoder. */
#include "proto_test.h"

#define B_(s) s, sizeof(s) - 1

/* ---------------------------------------------------------------- truncation */

void test_truncation(void)
{
    SECTION("every truncated prefix is rejected");
    for (size_t i = 0; i < NMSGS; i++) {
        const msgdesc *d = &msgs[i];
        msgpack_sbuffer sb;
        void *out = calloc(1, d->size);
        int bad = 0;
        encode(d, d->sample, &sb);
        for (size_t n = 0; n < sb.size; n++) {
            char err[256];
            sq_status st = decode_status(d, sb.data, n, out, err, sizeof err);
            if ((st != SQ_ERR_DECODE || err[0] == '\0') && bad++ < 3)
                CHECK(0,
                      "%s: prefix of %zu of %zu bytes gave %s (message \"%s\"), want SQ_ERR_DECODE "
                      "with a message",
                      d->name, n, sb.size, sq_status_name(st), err);
        }
        CHECK(bad == 0, "%s: %d of %zu prefixes not rejected", d->name, bad, sb.size);
        /* one trailing byte is rejected too */
        {
            char err[256];
            msgpack_sbuffer_write(&sb, "\xc0", 1);
            CHECK(decode_status(d, sb.data, sb.size, out, err, sizeof err) == SQ_ERR_DECODE,
                  "%s: a trailing nil after the message accepted", d->name);
        }
        msgpack_sbuffer_destroy(&sb);
        free(out);
    }
}

/* ---------------------------------------------------------------- mutations */

enum { M_REPLACE, M_REMOVE, M_INT_KEY, M_NEW_KEY };

static void split_path(const char *path, char keys[4][32], int *n)
{
    *n = 0;
    const char *p = path;
    while (*p && *n < 4) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(keys[*n], 32, "%.*s", (int)l, p);
        (*n)++;
        p += l + (dot ? 1 : 0);
        if (!dot)
            break;
    }
}

/* Packs o with the value at keys[depth..] replaced by repl (or its key removed). Returns
 * whether the path was found. */
static bool pack_mut(msgpack_packer *pk, const msgpack_object *o, char keys[4][32], int nkeys,
                     int depth, int mode, const msgpack_object *repl)
{
    bool found = false;
    if (o->type != MSGPACK_OBJECT_MAP || depth >= nkeys) {
        msgpack_pack_object(pk, *o);
        return false;
    }
    uint32_t n = o->via.map.size, hit = n;
    for (uint32_t i = 0; i < n; i++)
        if (sq_mp_str_eq(&o->via.map.ptr[i].key, keys[depth]))
            hit = i;
    msgpack_pack_map(pk, n - (hit < n && mode == M_REMOVE && depth == nkeys - 1 ? 1 : 0));
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (i != hit) {
            msgpack_pack_object(pk, kv->key);
            msgpack_pack_object(pk, kv->val);
        } else if (depth == nkeys - 1) {
            found = true;
            if (mode == M_REPLACE) {
                msgpack_pack_object(pk, kv->key);
                msgpack_pack_object(pk, *repl);
            }
        } else {
            msgpack_pack_object(pk, kv->key);
            found = pack_mut(pk, &kv->val, keys, nkeys, depth + 1, mode, repl);
        }
    }
    return found;
}

/* Packs orig (a map) with one entry more: {1: 2} (int_key) or an unknown string key. */
static void pack_extra(msgpack_packer *pk, const msgpack_object *orig, bool int_key)
{
    msgpack_pack_map(pk, orig->via.map.size + 1);
    for (uint32_t k = 0; k < orig->via.map.size; k++) {
        msgpack_pack_object(pk, orig->via.map.ptr[k].key);
        msgpack_pack_object(pk, orig->via.map.ptr[k].val);
    }
    if (int_key) {
        msgpack_pack_int(pk, 1);
        msgpack_pack_int(pk, 2);
    } else {
        sq_mp_kv_str(pk, "x_future_field", "later versions may add fields");
    }
}

/* Decodes orig with the value at keys replaced by repl (M_REPLACE), its key removed
 * (M_REMOVE), or with an entry more (M_INT_KEY, M_NEW_KEY: keys unused); *found (if not NULL)
 * says whether the path was in orig. */
static sq_status decode_mut(const msgdesc *d, const msgpack_object *orig, char keys[4][32],
                            int nkeys, int mode, const msgpack_object *repl, bool *found, void *out,
                            char *err, size_t errlen)
{
    msgpack_sbuffer mb;
    msgpack_packer pk;
    sq_status st;
    bool hit = true;
    msgpack_sbuffer_init(&mb);
    msgpack_packer_init(&pk, &mb, msgpack_sbuffer_write);
    if (mode == M_INT_KEY || mode == M_NEW_KEY)
        pack_extra(&pk, orig, mode == M_INT_KEY);
    else
        hit = pack_mut(&pk, orig, keys, nkeys, 0, mode, repl);
    if (found)
        *found = hit;
    st = decode_status(d, mb.data, mb.size, out, err, errlen);
    msgpack_sbuffer_destroy(&mb);
    return st;
}

typedef struct {
    const char *json;
    const char *what;
    unsigned ok; /* which classes accept it: OK(class) | ... */
} candidate;
#define OK(cls) (1u << (cls))

void test_mutations(void)
{
    SECTION("wrong types and missing fields are rejected");
    /* the classes of field that accept each value (a bit per fclass) */
    const candidate cands[] = {
        { "7", "an int", OK(C_INT) | OK(C_ANY) },
        { "-3", "a negative int", OK(C_INT) | OK(C_ANY) },
        { "1.5", "a float", OK(C_ANY) },
        { "\"x\"", "a string", OK(C_STR) | OK(C_ANY) },
        { "true", "a bool", OK(C_BOOL) | OK(C_ANY) },
        { "null", "nil", OK(C_MAPNIL) | OK(C_MAPARRNIL) | OK(C_ANY) },
        { "{\"k\":\"v\"}", "a map",
          OK(C_MAP) | OK(C_MAPNIL) | OK(C_MAPARR) | OK(C_MAPARRNIL) | OK(C_ANY) },
        { "[1]", "an array of ints", OK(C_ARRAY) | OK(C_MAPARR) | OK(C_MAPARRNIL) | OK(C_ANY) },
        { "[\"s\"]", "an array of strings",
          OK(C_ARRAY) | OK(C_STRS) | OK(C_MAPARR) | OK(C_MAPARRNIL) | OK(C_ANY) },
    };
    const msgpack_object bin = { .type = MSGPACK_OBJECT_BIN, .via.bin = { 3, "abc" } };
    msgpack_object cobj[sizeof cands / sizeof cands[0]];
    for (size_t c = 0; c < sizeof cands / sizeof cands[0]; c++)
        cobj[c] = J(cands[c].json);

    for (size_t i = 0; i < NMSGS; i++) {
        const msgdesc *d = &msgs[i];
        msgpack_sbuffer sb;
        msgpack_zone z0;
        msgpack_object orig;
        void *out = calloc(1, d->size);

        encode(d, d->sample, &sb);
        msgpack_zone_init(&z0, 4096);
        if (sq_mp_unpack(sb.data, sb.size, &z0, &orig) != SQ_OK) {
            CHECK(0, "%s: sample does not unpack", d->name);
            continue;
        }
        for (size_t f = 0; f < d->nfields; f++) {
            const fspec *fs = &d->fields[f];
            char keys[4][32];
            int nkeys;
            split_path(fs->path, keys, &nkeys);

            /* wrong types */
            for (size_t c = 0; c <= sizeof cands / sizeof cands[0]; c++) {
                const msgpack_object *repl = c < sizeof cands / sizeof cands[0] ? &cobj[c] : &bin;
                const char *cw = c < sizeof cands / sizeof cands[0] ? cands[c].what : "a bin";
                bool acceptable = c < sizeof cands / sizeof cands[0]
                                      ? (cands[c].ok & OK(fs->cls)) != 0
                                      : fs->cls == C_ANY;
                /* the contract: nil in an optional field means "not given" */
                if (c < sizeof cands / sizeof cands[0] && !fs->required &&
                    strcmp(cands[c].json, "null") == 0)
                    acceptable = true;
                char err[256];
                bool found;
                sq_status st;
                if (acceptable)
                    continue;
                st = decode_mut(d, &orig, keys, nkeys, M_REPLACE, repl, &found, out, err,
                                sizeof err);
                if (!found) {
                    CHECK(0, "test bug: %s has no field %s in its sample", d->name, fs->path);
                    break;
                }
                CHECK(st == SQ_ERR_DECODE, "%s: %s for \"%s\" gave %s, want SQ_ERR_DECODE", d->name,
                      cw, fs->path, sq_status_name(st));
                if (st == SQ_ERR_DECODE)
                    CHECK(err[0] != '\0', "%s: %s for \"%s\" rejected without a message", d->name,
                          cw, fs->path);
            }

            /* missing */
            {
                char err[256];
                sq_status st =
                    decode_mut(d, &orig, keys, nkeys, M_REMOVE, NULL, NULL, out, err, sizeof err);
                if (fs->required) {
                    char want[40];
                    snprintf(want, sizeof want, "%s", keys[nkeys - 1]);
                    CHECK(st == SQ_ERR_DECODE,
                          "%s: without required \"%s\" gave %s, want SQ_ERR_DECODE", d->name,
                          fs->path, sq_status_name(st));
                    CHECK(st != SQ_ERR_DECODE || strstr(err, want) != NULL ||
                              strstr(err, "code") != NULL,
                          "%s: without \"%s\": message \"%s\" does not name the field", d->name,
                          fs->path, err);
                } else {
                    CHECK(st == SQ_OK, "%s: without optional \"%s\" gave %s (%s), want SQ_OK",
                          d->name, fs->path, sq_status_name(st), err);
                }
            }
        }

        /* not a map; a non-string key; an unknown key is ignored */
        {
            static const struct {
                const char *bytes;
                size_t len;
                const char *what;
            } notmap[] = {
                { B_("\x91\x01"), "an array" },
                { B_("\xa3"
                     "abc"),
                  "a string" },
                { B_("\xc0"), "nil" },
                { B_("\x2a"), "an int" },
                { B_("\x80"), "an empty map" },
            };
            bool any_required = false;
            for (size_t f = 0; f < d->nfields; f++)
                any_required |= d->fields[f].required;
            for (size_t k = 0; k < sizeof notmap / sizeof notmap[0]; k++) {
                char err[256];
                sq_status st;
                if (!any_required && notmap[k].bytes[0] == '\x80')
                    continue; /* every field optional: {} is a valid message */
                st = decode_status(d, notmap[k].bytes, notmap[k].len, out, err, sizeof err);
                CHECK(st == SQ_ERR_DECODE && err[0],
                      "%s: %s instead of the message gave %s (\"%s\")", d->name, notmap[k].what,
                      sq_status_name(st), err);
            }
        }
        {
            char err[256];
            sq_status st =
                decode_mut(d, &orig, NULL, 0, M_INT_KEY, NULL, NULL, out, err, sizeof err);
            CHECK(st == SQ_ERR_DECODE, "%s: an int key accepted (%s)", d->name, sq_status_name(st));
            st = decode_mut(d, &orig, NULL, 0, M_NEW_KEY, NULL, NULL, out, err, sizeof err);
            CHECK(st == SQ_OK, "%s: an unknown key was not ignored (%s: %s)", d->name,
                  sq_status_name(st), err);
        }
        msgpack_zone_destroy(&z0);
        msgpack_sbuffer_destroy(&sb);
        free(out);
    }
}

/* ---------------------------------------------------------------- garbage */

static const char *const known_keys[] = {
    "key",       "subject",  "namespace", "uuid",        "name",       "version",      "exec",
    "kind",      "code",     "main",      "binary",      "parameters", "annotations",  "limits",
    "timeout",   "memory",   "logs",      "concurrency", "publish",    "updated",      "ns",
    "overwrite", "entity",   "skip",      "limit",       "op",         "id",           "params",
    "blocking",  "wait_ms",  "reply",     "submitted",   "action",     "total_mb",     "free_mb",
    "warm",      "busy",     "healthy",   "draining",    "at",         "activationId", "start",
    "end",       "duration", "response",  "statusCode",  "result",     "since",        "upto",
    "docs",      "error",
};
#define NKNOWN (sizeof known_keys / sizeof known_keys[0])

/* A random value: mostly well-formed msgpack with the keys decoders look for and values of
 * random types, so the fuzzing reaches past sq_mp_check into the field decoders. */
static void rand_value(msgpack_packer *pk, uint64_t *rs, int depth)
{
    unsigned k = (unsigned)(check_rand_(rs) % (depth > 3 ? 9 : 12));
    switch (k) {
    case 0: msgpack_pack_nil(pk); break;
    case 1:
        if (check_rand_(rs) & 1)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case 2: msgpack_pack_int64(pk, (int64_t)check_rand_(rs) >> (check_rand_(rs) % 64)); break;
    case 3: msgpack_pack_uint64(pk, check_rand_(rs)); break;
    case 4: msgpack_pack_double(pk, (double)(int64_t)check_rand_(rs) / 7.0); break;
    case 5: sq_mp_pack_str(pk, known_keys[check_rand_(rs) % NKNOWN]); break;
    case 6: sq_mp_pack_str(pk, "0123456789abcdef0123456789abcdef"); break;
    case 7: {
        char s[8];
        size_t n = check_rand_(rs) % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)check_rand_(rs);
        sq_mp_pack_strn(pk, s, n);
        break;
    }
    case 8:
        msgpack_pack_bin(pk, 2);
        msgpack_pack_bin_body(pk, "\x00\x01", 2);
        break;
    case 9:
    case 10: {
        uint32_t n = (uint32_t)(check_rand_(rs) % 6);
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            if (check_rand_(rs) % 16 == 0)
                msgpack_pack_int(pk, (int)i);
            else
                sq_mp_pack_str(pk, known_keys[check_rand_(rs) % NKNOWN]);
            rand_value(pk, rs, depth + 1);
        }
        break;
    }
    default: {
        uint32_t n = (uint32_t)(check_rand_(rs) % 4);
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            rand_value(pk, rs, depth + 1);
        break;
    }
    }
}

static size_t fuzz_accepted; /* buffers some decoder accepted: the fuzzing got past the checks */

static void fuzz_one(const char *buf, size_t len, int *bad, const char *origin, size_t iter)
{
    for (size_t i = 0; i < NMSGS; i++) {
        const msgdesc *d = &msgs[i];
        msgpack_zone z;
        char err[128];
        union {
            char c[1024];
            max_align_t align;
        } out;
        sq_status st;
        if (d->size > sizeof out.c) {
            CHECK(0, "test bug: %s is larger than the fuzz buffer", d->name);
            continue;
        }
        msgpack_zone_init(&z, 1024);
        st = decode(d, buf, len, &z, &out, err, sizeof err, NULL);
        if (st != SQ_OK && st != SQ_ERR_DECODE && (*bad)++ < 5)
            CHECK(0, "%s: %s buffer #%zu (%zu bytes) gave %s", d->name, origin, iter, len,
                  sq_status_name(st));
        fuzz_accepted += st == SQ_OK;
        if (st == SQ_ERR_DECODE && err[0] == '\0' && (*bad)++ < 5)
            CHECK(0, "%s: %s buffer #%zu rejected without a message", d->name, origin, iter);
        msgpack_zone_destroy(&z);
    }
}

void test_garbage(void)
{
    SECTION("garbage never crashes a decoder");
    uint64_t rs = 0x5eed5eed12345678ULL;
    int bad = 0;
    size_t total = 0;
    unsigned char buf[512];

    /* raw random bytes: 3000 buffers of 0..96 bytes */
    for (size_t it = 0; it < 3000; it++) {
        size_t n = check_rand_(&rs) % 97;
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)check_rand_(&rs);
        /* a third of them start like a map, so the checker goes further */
        if (n > 0 && it % 3 == 0)
            buf[0] = (unsigned char)(0x80 | (check_rand_(&rs) % 16));
        fuzz_one((const char *)buf, n, &bad, "random", it);
        total++;
    }
    /* structured: 3000 random maps with the known keys */
    for (size_t it = 0; it < 3000; it++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        uint32_t n = (uint32_t)(check_rand_(&rs) % 12);
        msgpack_pack_map(&pk, n);
        for (uint32_t i = 0; i < n; i++) {
            sq_mp_pack_str(&pk, known_keys[check_rand_(&rs) % NKNOWN]);
            rand_value(&pk, &rs, 1);
        }
        fuzz_one(sb.data, sb.size, &bad, "structured", it);
        total++;
        msgpack_sbuffer_destroy(&sb);
    }
    /* mutated samples: 250 per message, 1 to 4 byte edits each */
    for (size_t m = 0; m < NMSGS; m++) {
        msgpack_sbuffer sb;
        encode(&msgs[m], msgs[m].sample, &sb);
        for (size_t it = 0; it < 250; it++) {
            char *c = check_dup_exact_(sb.data, sb.size);
            size_t len = sb.size;
            int edits = 1 + (int)(check_rand_(&rs) % 4);
            for (int e = 0; e < edits; e++) {
                size_t at = check_rand_(&rs) % len;
                switch (check_rand_(&rs) % 5) {
                case 0: c[at] = (char)check_rand_(&rs); break;
                case 1: c[at] ^= (char)(1u << (check_rand_(&rs) % 8)); break;
                case 2: c[at] = (char)0xc1; break;
                case 3:
                    c[at] = (char)(0xdc + check_rand_(&rs) % 4);
                    break;                    /* array/map 16/32 headers */
                default: len = at + 1; break; /* truncate */
                }
            }
            fuzz_one(c, len, &bad, msgs[m].name, it);
            total++;
            free(c);
        }
        msgpack_sbuffer_destroy(&sb);
    }
    CHECK(bad == 0, "%d unexpected results over %zu buffers x %zu decoders", bad, total, NMSGS);
    CHECK(fuzz_accepted > 100,
          "only %zu fuzz buffers were accepted by any decoder: the fuzzing does not reach the "
          "field decoders",
          fuzz_accepted);
}
