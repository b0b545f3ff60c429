/* The helpers validate.c and validate_action.c share (each described where validate.c
 * defines it). For those two files only. */
#ifndef REG_VALIDATE_INT_H
#define REG_VALIDATE_INT_H

#include "registry.h"

#include "proto/body.h"
#include "sq/util.h"

/* err gets the message (printf), the status is returned (libsq's sq_errf). */
#define bad_st sq_errf
#define bad(err, errlen, ...) bad_st(SQ_ERR_BAD_REQUEST, err, errlen, __VA_ARGS__)

const msgpack_object *given(const msgpack_object *v);
sq_status parse_body(const msgpack_object *entity, const char *what, sq_arena_t *ar,
                     sq_entity_body *body, char *err, size_t errlen);
msgpack_object str_obj(const char *s);
bool utf8_valid(const char *s);
bool base64_valid(const char *s, size_t n);
bool key_is(const msgpack_object *k, const char *s, size_t n);
sq_status parse_bool(const msgpack_object *field, const char *key, bool *has, bool *val, char *err,
                     size_t errlen);
sq_status parse_kv(const msgpack_object *field, const char *key, bool *has, msgpack_object *val,
                   sq_arena_t *ar, char *err, size_t errlen);

#endif
