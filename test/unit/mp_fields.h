/* A record with a field of every sq_mp_field type (a nested one too) and its decode table:
 * what the tests of sq_mp_decode_map (test/unit/mp_test.c) and the mp fuzz harness
 * (test/fuzz/mp_fuzz.c) decode into. Header-only; include it once per program, after
 * defining REC_TOP_REQUIRED. */
#ifndef SQ_TEST_MP_FIELDS_H
#define SQ_TEST_MP_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sq/mp.h"

#ifndef REC_TOP_REQUIRED
#error "define REC_TOP_REQUIRED (true or false) before including mp_fields.h"
#endif

typedef struct nest_rec {
    char *x;
    int64_t y;
} nest_rec;

typedef struct rec {
    char *s;
    int64_t i;
    bool b;
    msgpack_object any, map, arr;
    char **strs;
    size_t nstrs;
    nest_rec nest;
} rec;

/* nest: x required, y optional */
static const sq_mp_field nest_fields[] = {
    { "x", SQ_F_STR, offsetof(nest_rec, x), true, NULL, 0, 0, 0, 0 },
    { "y", SQ_F_INT, offsetof(nest_rec, y), false, NULL, 0, 0, 0, 0 },
};

/* rec: "s" and "i" required where the includer defines REC_TOP_REQUIRED true (the unit test),
 * every field optional where it defines it false (the fuzz harness: more inputs decode) */
static const sq_mp_field rec_fields[] = {
    { "s", SQ_F_STR, offsetof(rec, s), REC_TOP_REQUIRED, NULL, 0, 0, 0, 0 },
    { "i", SQ_F_INT, offsetof(rec, i), REC_TOP_REQUIRED, NULL, 0, 0, 0, 0 },
    { "b", SQ_F_BOOL, offsetof(rec, b), false, NULL, 0, 0, 0, 0 },
    { "any", SQ_F_ANY, offsetof(rec, any), false, NULL, 0, 0, 0, 0 },
    { "map", SQ_F_MAP, offsetof(rec, map), false, NULL, 0, 0, 0, 0 },
    { "arr", SQ_F_ARRAY, offsetof(rec, arr), false, NULL, 0, 0, 0, 0 },
    { "strs", SQ_F_STRS, offsetof(rec, strs), false, NULL, 0, offsetof(rec, nstrs), 0, 0 },
    { "nest", SQ_F_NESTED, offsetof(rec, nest), false, nest_fields, 2, 0, 0, 0 },
};

#endif
