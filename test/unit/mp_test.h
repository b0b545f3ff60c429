/* What the files of mp_test share (mp_test.c: sq_mp_check and sq_mp_unpack on hostile buffers,
 * and main; mp_test_decode.c: the table-driven map decoder; mp_test_json.c: JSON <-> msgpack;
 * mp_test_util.c: names, ids, the status table, the wire error and the config table): the
 * counters and the helpers. */
#ifndef SQ_TEST_MP_TEST_H
#define SQ_TEST_MP_TEST_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CHECK and its counters (check.h), shared by the files; mp_test.c defines them */
#define CHECK_SHARED_COUNTERS
#include "check.h"

#include "sq/json.h"
#include "sq/mp.h"
#include "sq/status.h"
#include "sq/util.h"

typedef struct {
    const char *bytes;
    size_t len;
    const char *what;
    msgpack_object_type type;
} sample;

#define B(s) s, sizeof(s) - 1

sq_status check_exact(const void *p, size_t len);
void build_nested(msgpack_sbuffer *sb, int n, char kind, bool empty_inner);

/* mp_test_decode.c */
void test_decode_map(void);
/* mp_test_json.c */
void test_json(void);
/* mp_test_util.c */
void test_names(void);
void test_ids(void);
void test_status(void);
void test_wire_error(void);
void test_config(void);

#endif
