/* msgpack helpers: a safe unpack for buffers from the network, a table-driven map decoder
 * used by every proto/ decoder, and small pack helpers. The "arena" of a decoded message is
 * a msgpack_zone: everything a decoder returns points into it (or into the buffer) and is
 * freed with it in one go, like h2o's request pool. */
#ifndef SQ_MP_H
#define SQ_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sq/status.h"

typedef msgpack_zone sq_arena_t;

/* Deepest nesting of maps/arrays accepted from the wire. */
#define SQ_MP_MAX_DEPTH 30 /* msgpack-c's unpacker stops at 32 (MSGPACK_EMBED_STACK_SIZE) */

/* Walks buf without allocating and checks that it holds exactly one well-formed msgpack
 * object: no truncation, no trailing bytes, nesting at most SQ_MP_MAX_DEPTH, and no
 * container that claims more elements than bytes remain (so a 5-byte hostile buffer cannot
 * make the unpacker allocate gigabytes). Returns SQ_OK or SQ_ERR_DECODE. */
sq_status sq_mp_check(const char *buf, size_t len);

/* sq_mp_check, then unpacks into the arena. *out points into the arena (and buf: strings
 * and bins reference buf, which must outlive the arena's use). */
sq_status sq_mp_unpack(const char *buf, size_t len, sq_arena_t *ar, msgpack_object *out);

/* Field types a map decoder knows. */
typedef enum {
    SQ_F_STR,    /* char *, NUL-terminated copy in the arena; embedded NULs rejected */
    SQ_F_INT,    /* int64_t; positive or negative integer */
    SQ_F_BOOL,   /* bool */
    SQ_F_ANY,    /* msgpack_object (any type, nil allowed) */
    SQ_F_MAP,    /* msgpack_object that must be a map */
    SQ_F_ARRAY,  /* msgpack_object that must be an array */
    SQ_F_STRS,   /* char ** (NULL-terminated vector in the arena) from an array of strings;
                     the count goes to the size_t field at offset `aux` */
    SQ_F_NESTED, /* a nested map decoded with the table in `sub` into the struct at `off` */
} sq_mp_ftype;

typedef struct sq_mp_field {
    const char *key;
    sq_mp_ftype type;
    size_t off; /* offsetof the field in the output struct */
    bool required;
    const struct sq_mp_field *sub; /* SQ_F_NESTED: table of the nested map */
    size_t nsub;
    size_t aux;   /* SQ_F_STRS: offsetof the count */
    unsigned enc; /* SQ_ENC_* flags: how proto/'s table encoder writes the field (0: always) */
    size_t esize; /* SQ_ENC_VEC: the size of one element */
} sq_mp_field;

/* How the table-driven map encoder (proto/encode.c) writes a field; the decoder ignores them.
 * Default (0): always written; a NULL string packs nil, a nil object packs nil. */
#define SQ_ENC_OMIT 1u  /* left out when absent: NULL string, 0, false, nil, NULL vector */
#define SQ_ENC_OMITE 2u /* left out when NULL or "" (strings) */
#define SQ_ENC_STR0 4u  /* a NULL string packs "" (and proto/'s decoders read absent as "") */
#define SQ_ENC_EMPTY 8u /* a nil SQ_F_MAP/SQ_F_ARRAY packs an empty map/array */
#define SQ_ENC_SKIP 16u /* decoded only, never written */
#define SQ_ENC_ONLY 32u /* written only; sq_mp_decode_map ignores it (read some other way) */
/* SQ_F_NESTED written from a vector: the field is a pointer to `aux`-counted (size_t) structs
 * of esize bytes, each packed with the table `sub`, as an array; with SQ_ENC_KEYED as a map
 * keyed by each element's first field (a string), its value the map of the others. Written
 * only (SQ_ENC_ONLY is implied). */
#define SQ_ENC_VEC 64u
#define SQ_ENC_KEYED 128u

#define SQ_MP_FIELDS(tbl) (tbl), (sizeof(tbl) / sizeof((tbl)[0]))

/* Decodes a msgpack map into out using the field table. Absent (or nil) optional fields
 * keep the value out already holds (so callers set defaults first); unknown keys are ignored (later
 * versions may add fields); a present field of the wrong type, a missing required field or
 * a non-string key is SQ_ERR_DECODE, with a message in err (may be NULL). */
sq_status sq_mp_decode_map(const msgpack_object *map, const sq_mp_field *fields, size_t n,
                           sq_arena_t *ar, void *out, char *err, size_t errlen);

/* The value for key in map, or NULL. */
const msgpack_object *sq_mp_get(const msgpack_object *map, const char *key);
/* True when o is a string equal to s. */
bool sq_mp_str_eq(const msgpack_object *o, const char *s);
/* A NUL-terminated copy of string o in the arena, or NULL (not a string, NUL inside, no memory). */
char *sq_mp_strdup(sq_arena_t *ar, const msgpack_object *o);

/* Pack helpers: the nul-terminated string s (NULL packs nil), and key/value pairs. */
void sq_mp_pack_str(msgpack_packer *pk, const char *s);
void sq_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void sq_mp_kv_str(msgpack_packer *pk, const char *key, const char *val);
void sq_mp_kv_int(msgpack_packer *pk, const char *key, int64_t val);
void sq_mp_kv_bool(msgpack_packer *pk, const char *key, bool val);
/* Packs val, or nil when val is NULL. */
void sq_mp_kv_obj(msgpack_packer *pk, const char *key, const msgpack_object *val);
/* Packs an object; NULL packs nil. */
void sq_mp_pack_obj(msgpack_packer *pk, const msgpack_object *o);

#endif
