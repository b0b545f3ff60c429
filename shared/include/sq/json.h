/* JSON <-> msgpack at the edges (the gateway for HTTP, the invoker for runtimes), with
 * jansson. Inside the platform every value travels as msgpack. */
#ifndef SQ_JSON_H
#define SQ_JSON_H

#include <jansson.h>
#include <msgpack.h>
#include "sq/status.h"

/* Packs a JSON value as msgpack. Fails with SQ_ERR_BAD_REQUEST when the value nests deeper
 * than SQ_MP_MAX_DEPTH (a decoder downstream would refuse it). */
sq_status sq_json_to_mp(const json_t *j, msgpack_packer *pk);
/* The same with a tighter bound: a value that a message will carry k levels deep may nest
 * at most SQ_MP_MAX_DEPTH - k levels itself. */
sq_status sq_json_to_mp_max(const json_t *j, msgpack_packer *pk, int max_depth);

/* Parses JSON text (len bytes, need not be NUL-terminated) and packs it. On a syntax error
 * returns SQ_ERR_BAD_REQUEST with jansson's message in err. */
sq_status sq_json_text_to_mp(const char *txt, size_t len, msgpack_packer *pk, char *err,
                             size_t errlen);

/* A new JSON value for a msgpack object (bin as a base64 string, ext as null, non-string
 * map keys stringified, invalid UTF-8 in a key replaced by U+FFFD). Returns NULL on allocation
 * failure. Caller owns the reference. */
json_t *sq_mp_to_json(const msgpack_object *o);

/* A new JSON string of len bytes that need not be valid UTF-8: each invalid sequence
 * becomes U+FFFD (JSON carries UTF-8 only). NULL on allocation failure. */
json_t *sq_json_string_lossy(const char *s, size_t len);

/* Serialises o as compact JSON text; malloc'd, caller frees; NULL on failure. Written
 * directly, without a jansson tree: the same bytes as sq_mp_to_json_text_jansson(). */
char *sq_mp_to_json_text(const msgpack_object *o, size_t *len);
/* json_dumps(sq_mp_to_json(o), JSON_COMPACT | JSON_ENCODE_ANY): the reference the direct
 * writer is checked against (test/fuzz/mp_fuzz.c, test/unit/mp_test.c). */
char *sq_mp_to_json_text_jansson(const msgpack_object *o, size_t *len);

#endif
